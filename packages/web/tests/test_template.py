"""
Tests for XML templates (XMLString, XMLFile), Element, renderer, TagLoader
and renderElement.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_flatten import flat
from zope.interface.verify import verifyObject

from torsion.internet.defer import Deferred, succeed
from torsion.python.failure import Failure
from torsion.trial.unittest import TestCase
from torsion.web import template
from torsion.web.iweb import IRenderable, ITemplateLoader
from torsion.web.template import (
    CDATA,
    TEMPLATE_NAMESPACE,
    Comment,
    Element,
    FlattenerError,
    MissingRenderMethod,
    MissingTemplateLoader,
    Tag,
    TagLoader,
    TemplateParseError,
    XMLFile,
    XMLString,
    flattenString,
    renderElement,
    renderer,
    slot,
    tags,
)
from torsion.web.testing import DummyRequest

NS = TEMPLATE_NAMESPACE


def render(xml: str, **slots: Any) -> bytes:
    """
    Flatten a template document, its slots filled.
    """
    return flat(tags.transparent(XMLString(xml).load()).fillSlots(**slots))


# -- loading --------------------------------------------------------------------


def test_namespaceIsTwistedsURI() -> None:
    assert NS == "http://twistedmatrix.com/ns/twisted.web.template/0.1"


def test_loadersProvideITemplateLoader(tmp_path: Path) -> None:
    path = tmp_path / "t.xml"
    path.write_text("<p />")
    for loader in (XMLString("<p />"), XMLFile(path), TagLoader(tags.p())):
        verifyObject(ITemplateLoader, loader)


def test_xmlStringLoad() -> None:
    [tag] = XMLString('<p class="c">hi <b>there</b></p>').load()
    assert isinstance(tag, Tag)
    assert tag.tagName == "p"
    assert tag.attributes == {"class": "c"}
    assert tag.children[0] == "hi "
    assert flat(tag) == b'<p class="c">hi <b>there</b></p>'


def test_xmlStringBytesAndText() -> None:
    assert flat(XMLString("<p>caf\xe9</p>").load()) == "<p>caf\xe9</p>".encode()
    assert flat(XMLString("<p>caf\xe9</p>".encode()).load()) == (
        "<p>caf\xe9</p>".encode()
    )
    latin = '<?xml version="1.0" encoding="iso-8859-1"?><p>caf\xe9</p>'
    assert flat(XMLString(latin.encode("latin-1")).load()) == (
        "<p>caf\xe9</p>".encode()
    )


def test_loadGivesAFreshList() -> None:
    loader = XMLString("<p />")
    first = loader.load()
    first.append("junk")
    assert len(loader.load()) == 1


def test_locationsKept() -> None:
    [html] = XMLString(
        f'<html xmlns:t="{NS}">\n  <body>\n    <t:slot name="x" />\n  </body>\n</html>'
    ).load()
    body = html.children[1]
    assert (body.filename, body.lineNumber, body.columnNumber) == ("<xmlstring>", 2, 2)
    theSlot = body.children[1]
    assert isinstance(theSlot, slot)
    assert (theSlot.lineNumber, theSlot.columnNumber) == (3, 4)


def test_entitiesAndCharacterReferences() -> None:
    assert render("<p>&amp;&lt;&#160;&#x41;</p>") == "<p>&amp;&lt;\xa0A</p>".encode()


def test_commentsAndCDATAKept() -> None:
    nodes = XMLString("<div><!-- note --><![CDATA[a<b]]></div>").load()
    [div] = nodes
    assert isinstance(div.children[0], Comment)
    assert isinstance(div.children[1], CDATA)
    assert flat(nodes) == b"<div><!-- note --><![CDATA[a<b]]></div>"


def test_topLevelComment() -> None:
    assert render("<!-- top --><p />") == b"<!-- top --><p></p>"


def test_otherNamespacesKept() -> None:
    xml = (
        f'<html xmlns="http://www.w3.org/1999/xhtml" xmlns:t="{NS}"'
        ' xmlns:svg="http://www.w3.org/2000/svg" xml:lang="en">'
        '<svg:svg><svg:rect x="1" /></svg:svg></html>'
    )
    assert render(xml) == (
        b'<html xmlns="http://www.w3.org/1999/xhtml"'
        b' xmlns:svg="http://www.w3.org/2000/svg" xml:lang="en">'
        b'<svg:svg><svg:rect x="1"></svg:rect></svg:svg></html>'
    )


def test_voidElementsInTemplates() -> None:
    assert render("<p><br></br><img src='a' /></p>") == b'<p><br /><img src="a" /></p>'
    assert render("<p><br>\n  </br></p>") == b"<p><br /></p>"


def test_voidElementWithContentRefused() -> None:
    with pytest.raises(TemplateParseError, match="void element"):
        XMLString("<p><br>text</br></p>")


def test_slotDirective() -> None:
    xml = f'<p xmlns:t="{NS}">Hi <t:slot name="who" />!</p>'
    assert render(xml, who="<bob>") == b"<p>Hi &lt;bob&gt;!</p>"


def test_slotDefault() -> None:
    xml = f'<p xmlns:t="{NS}"><t:slot name="who" default="you" /></p>'
    assert render(xml) == b"<p>you</p>"
    assert render(xml, who="me") == b"<p>me</p>"


def test_slotNeedsName() -> None:
    with pytest.raises(TemplateParseError, match="name"):
        XMLString(f'<p xmlns:t="{NS}"><t:slot /></p>')


def test_slotCannotHaveContent() -> None:
    with pytest.raises(TemplateParseError, match="content"):
        XMLString(f'<p xmlns:t="{NS}"><t:slot name="x">body</t:slot></p>')


def test_attrDirective() -> None:
    xml = (
        f'<a xmlns:t="{NS}" class="c"><t:attr name="href">/u/<t:slot name="id" />'
        "</t:attr>link</a>"
    )
    assert render(xml, id='1"2') == b'<a class="c" href="/u/1&quot;2">link</a>'


def test_attrNeedsAnElement() -> None:
    with pytest.raises(TemplateParseError, match="inside an element"):
        XMLString(f'<t:attr xmlns:t="{NS}" name="x">v</t:attr>')


def test_transparentDirective() -> None:
    xml = f'<div xmlns:t="{NS}"><t:transparent>a<b>c</b></t:transparent></div>'
    assert render(xml) == b"<div>a<b>c</b></div>"


def test_unknownDirectiveRefused() -> None:
    with pytest.raises(TemplateParseError, match="t:frobnicate"):
        XMLString(f'<div xmlns:t="{NS}"><t:frobnicate /></div>')
    with pytest.raises(TemplateParseError, match="t:bogus"):
        XMLString(f'<div xmlns:t="{NS}" t:bogus="x" />')


def test_malformedXMLNamesTheLocation() -> None:
    with pytest.raises(TemplateParseError) as info:
        XMLString("<div>\n  <p>\n</div>")
    error = info.value
    assert (error.filename, error.lineNumber) == ("<xmlstring>", 3)
    assert "<xmlstring>, line 3" in str(error)


def test_xmlFile(tmp_path: Path) -> None:
    path = tmp_path / "page.xml"
    path.write_text(f'<p xmlns:t="{NS}"><t:slot name="x" /></p>')
    for argument in (path, str(path)):
        loader = XMLFile(argument)
        assert flat(tags.transparent(loader.load()).fillSlots(x="y")) == b"<p>y</p>"


def test_xmlFileFilePathLike(tmp_path: Path) -> None:
    path = tmp_path / "page.xml"
    path.write_text("<p>fp</p>")

    class FilePathLike:
        def __init__(self, path: str) -> None:
            self.path = path

    assert flat(XMLFile(FilePathLike(str(path))).load()) == b"<p>fp</p>"
    with pytest.raises(TypeError):
        XMLFile(42)


def test_xmlFileReadOnceAndErrorsNameTheFile(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text("<p>")
    with pytest.raises(TemplateParseError) as info:
        XMLFile(path).load()
    assert info.value.filename == str(path)
    good = tmp_path / "good.xml"
    good.write_text("<p />")
    loader = XMLFile(good)
    loader.load()
    good.unlink()
    assert flat(loader.load()) == b"<p></p>"


def test_xmlFileMissing(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        XMLFile(tmp_path / "absent.xml").load()


# -- no DTDs, no entities ---------------------------------------------------------


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""


def test_billionLaughsRefused() -> None:
    with pytest.raises(TemplateParseError, match="internal subset") as info:
        XMLString(BILLION_LAUGHS)
    assert info.value.lineNumber == 2


def test_externalEntityNotRead(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    xml = f'<!DOCTYPE p [<!ENTITY xxe SYSTEM "file://{secret}">]><p>&xxe;</p>'
    with pytest.raises(TemplateParseError) as info:
        XMLString(xml)
    assert "TOP SECRET" not in str(info.value)
    assert "internal subset" in str(info.value)


def test_externalDTDNotRead(tmp_path: Path) -> None:
    dtd = tmp_path / "evil.dtd"
    dtd.write_text('<!ENTITY leak "TOP SECRET">')
    xml = f'<!DOCTYPE p SYSTEM "file://{dtd}"><p>&leak;</p>'
    # Were the DTD read, ``&leak;`` would expand to its text.
    with pytest.raises(TemplateParseError, match="undefined entity"):
        XMLString(xml)
    # A DOCTYPE with only an external identifier is allowed (and dropped),
    # its DTD never fetched.
    assert render(f'<!DOCTYPE p SYSTEM "file://{dtd}"><p>ok</p>') == b"<p>ok</p>"


def test_undefinedEntity() -> None:
    with pytest.raises(TemplateParseError, match="undefined entity"):
        XMLString("<p>&nbsp;</p>")


def test_plainDoctypeAllowed() -> None:
    assert render("<!DOCTYPE html><p>x</p>") == b"<p>x</p>"


# -- Element ---------------------------------------------------------------------


class Rows(Element):
    loader: ITemplateLoader | None = XMLString(
        f'<table xmlns:t="{NS}"><tr t:render="rows"><td><t:slot name="n" /></td>'
        '<td><a><t:attr name="href">/item/<t:slot name="n" /></t:attr>'
        '<t:slot name="label" /></a></td></tr></table>'
    )

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.data = rows

    @renderer
    def rows(self, request: object, tag: Tag) -> Any:
        for n, label in self.data:
            yield tag.clone().fillSlots(n=n, label=label)

    def notARenderer(self, request: object, tag: Tag) -> Any:
        return "secret"


def test_elementProvidesIRenderable() -> None:
    verifyObject(IRenderable, Rows([]))


def test_elementRendersRows() -> None:
    assert flat(Rows([("1", "one"), ("2", "<two>")])) == (
        b'<table><tr><td>1</td><td><a href="/item/1">one</a></td></tr>'
        b'<tr><td>2</td><td><a href="/item/2">&lt;two&gt;</a></td></tr></table>'
    )


def test_elementRenderedTwiceIsTheSame() -> None:
    element = Rows([("1", "one")])
    assert flat(element) == flat(element)


def test_lookupOnlyExposedMethods() -> None:
    element = Rows([])
    assert element.lookupRenderMethod("rows") is not None
    with pytest.raises(MissingRenderMethod) as info:
        element.lookupRenderMethod("notARenderer")
    assert "Rows" in str(info.value) and "notARenderer" in str(info.value)
    with pytest.raises(MissingRenderMethod):
        element.lookupRenderMethod("absent")


def test_missingRendererInTemplate() -> None:
    element = Element(XMLString(f'<p xmlns:t="{NS}" t:render="nope" />'))
    results: list[object] = []
    flattenString(None, element).addBoth(results.append)
    [failure] = results
    assert isinstance(failure, Failure)
    error = failure.value
    assert isinstance(error, FlattenerError)
    assert isinstance(error.exception, MissingRenderMethod)
    assert "line 1, column 0" in str(error)


def test_missingTemplateLoader() -> None:
    with pytest.raises(MissingTemplateLoader, match="Element"):
        Element().render(None)


def test_loaderArgumentOverridesClassAttribute() -> None:
    assert flat(Rows([])) == b"<table></table>"
    element = Rows([])
    element.loader = TagLoader(tags.p("replaced"))
    assert flat(element) == b"<p>replaced</p>"
    assert flat(Element(TagLoader(tags.i("x")))) == b"<i>x</i>"


def test_asyncRenderer() -> None:
    d: Deferred[str] = Deferred()

    class Async(Element):
        loader = XMLString(f'<p xmlns:t="{NS}"><b t:render="later" /></p>')

        @renderer
        async def later(self, request: object, tag: Tag) -> Tag:
            return tag(await d)

    results: list[object] = []
    flattenString(None, Async()).addBoth(results.append)
    assert results == []
    d.callback("done")
    assert results == [b"<p><b>done</b></p>"]


def test_rendererOnTransparentAndDeferredResult() -> None:
    class E(Element):
        loader = XMLString(
            f'<ul xmlns:t="{NS}"><t:transparent t:render="items" /></ul>'
        )

        @renderer
        def items(self, request: object, tag: Tag) -> Any:
            return succeed([tags.li("a"), tags.li("b")])

    assert flat(E()) == b"<ul><li>a</li><li>b</li></ul>"


def test_nestedElements() -> None:
    class Inner(Element):
        loader = XMLString(f'<i xmlns:t="{NS}" t:render="me" />')

        @renderer
        def me(self, request: object, tag: Tag) -> Tag:
            return tag("inner")

    class Outer(Element):
        loader = XMLString(
            f'<div xmlns:t="{NS}"><t:transparent t:render="child" /></div>'
        )

        @renderer
        def child(self, request: object, tag: Tag) -> Any:
            return Inner()

    assert flat(Outer()) == b"<div><i>inner</i></div>"


def test_publicNamesExported() -> None:
    for name in template.__all__:
        assert getattr(template, name) is not None
        if name[0].isupper() and name not in ("TEMPLATE_NAMESPACE",):
            assert getattr(template, name).__doc__ or name == "Flattenable"


# -- renderElement ---------------------------------------------------------------


class Page(Element):
    loader = XMLString(f'<html xmlns:t="{NS}"><body t:render="body" /></html>')

    def __init__(self, content: Any) -> None:
        super().__init__()
        self.content = content

    @renderer
    def body(self, request: object, tag: Tag) -> Any:
        return tag(self.content)


class RenderElementTests(TestCase):
    def test_writesDoctypeAndDocumentAndFinishes(self) -> None:
        request = DummyRequest([])
        result = renderElement(request, Page("hello <you>"))
        self.assertEqual(result, 1)  # NOT_DONE_YET
        self.assertEqual(
            b"".join(request.written),
            b"<!DOCTYPE html>\n<html><body>hello &lt;you&gt;</body></html>",
        )
        self.assertEqual(request.finished, 1)
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"content-type"),
            [b"text/html; charset=utf-8"],
        )

    def test_keepsContentTypeAndCustomDoctype(self) -> None:
        request = DummyRequest([])
        request.setHeader(b"content-type", b"application/xhtml+xml")
        renderElement(request, tags.p("x"), doctype=None)
        self.assertEqual(b"".join(request.written), b"<p>x</p>")
        self.assertEqual(
            request.responseHeaders.getRawHeaders(b"content-type"),
            [b"application/xhtml+xml"],
        )

    def test_writesAsProduced(self) -> None:
        request = DummyRequest([])
        d: Deferred[str] = Deferred()
        renderElement(request, Page(["start", d, "end"]))
        self.assertEqual(
            b"".join(request.written), b"<!DOCTYPE html>\n<html><body>start"
        )
        self.assertEqual(request.finished, 0)
        d.callback(" middle ")
        self.assertEqual(
            b"".join(request.written),
            b"<!DOCTYPE html>\n<html><body>start middle end</body></html>",
        )
        self.assertEqual(request.finished, 1)

    def test_failureLoggedNotShown(self) -> None:
        request = DummyRequest([])
        renderElement(request, Page([ValueError("secret detail")]))
        written = b"".join(request.written)
        self.assertIn(b"An error occurred while rendering the response.", written)
        self.assertNotIn(b"secret detail", written)
        self.assertNotIn(b"Traceback", written)
        self.assertEqual(request.finished, 1)
        errors = self.flushLoggedErrors(FlattenerError)
        self.assertEqual(len(errors), 1)

    def test_failElement(self) -> None:
        request = DummyRequest([])
        renderElement(request, Page(None), _failElement=tags.p("sorry"))
        self.assertTrue(b"".join(request.written).endswith(b"<p>sorry</p>"))
        self.assertEqual(request.finished, 1)
        self.assertEqual(len(self.flushLoggedErrors(FlattenerError)), 1)

    def test_failElementFailingToo(self) -> None:
        request = DummyRequest([])
        renderElement(
            request,
            Page(None),
            _failElement=tags.p(None),  # type: ignore[arg-type]
        )
        self.assertIn(
            b"An error occurred while rendering the response.",
            b"".join(request.written),
        )
        self.assertEqual(request.finished, 1)
        self.assertEqual(len(self.flushLoggedErrors(FlattenerError)), 2)

    def test_clientGoneStopsRendering(self) -> None:
        request = DummyRequest([])
        cancelled: list[object] = []
        d: Deferred[str] = Deferred(cancelled.append)
        renderElement(request, Page(["start", d, "never"]))
        request.loseConnection()
        self.assertEqual(cancelled, [d])
        self.assertEqual(
            b"".join(request.written), b"<!DOCTYPE html>\n<html><body>start"
        )
        self.assertEqual(request.finished, 0)
        self.assertEqual(self.flushLoggedErrors(), [])


# -- the parser's only error is TemplateParseError -------------------------------------


@given(st.binary(max_size=200))
@settings(max_examples=200, deadline=None)
def test_randomBytesOnlyParseErrors(data: bytes) -> None:
    try:
        XMLString(data)
    except TemplateParseError:
        pass


_markupPieces = st.sampled_from(
    [
        "<p>",
        "</p>",
        "<br/>",
        f'<t:slot xmlns:t="{NS}" name="s"/>',
        f'<t:attr xmlns:t="{NS}" name="a">',
        "</t:attr>",
        "<!--c-->",
        "<![CDATA[x]]>",
        "&amp;",
        "&bogus;",
        "<!DOCTYPE p>",
        "<!DOCTYPE p [<!ENTITY e 'x'>]>",
        "text",
        "<",
        '"',
    ]
)


@given(st.lists(_markupPieces, max_size=12))
@settings(max_examples=200, deadline=None)
def test_randomMarkupOnlyParseErrors(pieces: list[str]) -> None:
    try:
        loader = XMLString("".join(pieces))
    except TemplateParseError:
        return
    results: list[object] = []
    flattenString(None, tags.transparent(loader.load()).fillSlots(s="v")).addBoth(
        results.append
    )
    assert isinstance(results[0], bytes)


def test_xmlStringTextIgnoresDeclaredEncoding() -> None:
    text = '<?xml version="1.0" encoding="iso-8859-1"?><p>caf\xe9 \u2603</p>'
    assert flat(XMLString(text).load()) == "<p>caf\xe9 \u2603</p>".encode()
