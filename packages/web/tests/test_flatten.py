"""
Tests for flatten and flattenString: escaping by context, every kind of
content, Deferreds and coroutines, errors and where they happened, deep
documents.
"""

from __future__ import annotations

from collections.abc import Generator
from html.parser import HTMLParser
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.internet.defer import Deferred, fail, succeed
from torsion.python.failure import Failure
from torsion.web.iweb import IRenderable, IRequest
from torsion.web.template import (
    CDATA,
    CharRef,
    Comment,
    FlattenerError,
    Tag,
    UnfilledSlot,
    UnsupportedType,
    XMLString,
    flatten,
    flattenString,
    raw,
    renderer,
    slot,
    tags,
)

NS = "http://twistedmatrix.com/ns/twisted.web.template/0.1"


def flat(root: Any) -> bytes:
    """
    Flatten synchronous content, returning the bytes.
    """
    results: list[object] = []
    flattenString(None, root).addBoth(results.append)
    assert len(results) == 1, "flattening did not finish synchronously"
    result = results[0]
    if isinstance(result, Failure):
        result.raiseException()
    assert isinstance(result, bytes)
    return result


def flatError(root: Any) -> FlattenerError:
    """
    Flatten content that must fail, returning the FlattenerError.
    """
    results: list[object] = []
    flattenString(None, root).addBoth(results.append)
    assert len(results) == 1
    failure = results[0]
    assert isinstance(failure, Failure)
    assert isinstance(failure.value, FlattenerError)
    return failure.value


# -- escaping -------------------------------------------------------------


def test_textEscaped() -> None:
    assert flat("a & b < c > d \"e\" 'f'") == (b"a &amp; b &lt; c &gt; d \"e\" 'f'")


def test_textEncodedAsUTF8() -> None:
    assert flat("caf\xe9 \u2603") == "caf\xe9 \u2603".encode()


def test_bytesEscaped() -> None:
    assert flat(b"<x>&") == b"&lt;x&gt;&amp;"


def test_bytesMustBeUTF8() -> None:
    error = flatError(tags.p(b"\xff\xfe"))
    assert isinstance(error.exception, UnicodeDecodeError)


def test_attributeEscaped() -> None:
    assert flat(tags.a(href='/?a=1&b="<2>"')) == (
        b'<a href="/?a=1&amp;b=&quot;&lt;2&gt;&quot;"></a>'
    )


def test_bytesAttributeNamesAndValues() -> None:
    tag = Tag("a", attributes={b"href": b"/x&y"})  # type: ignore[dict-item]
    assert flat(tag) == b'<a href="/x&amp;y"></a>'


def test_commentMadeSafe() -> None:
    assert flat(Comment("a--b")) == b"<!--a- -b-->"
    assert flat(Comment("--->")) == b"<!--- - ->-->"
    assert flat(Comment("ends-")) == b"<!--ends- -->"
    assert flat(Comment(">x")) == b"<!-- >x-->"
    for text in ("-->", "--!>", "<!--", "x---y", "-", "<!-"):
        output = flat(Comment(text))
        body = output[len(b"<!--") : -len(b"-->")]
        assert b"--" not in body
        assert not body.endswith(b"-")


def test_cdataSplitsItsEnd() -> None:
    assert flat(CDATA("a]]>b")) == b"<![CDATA[a]]]]><![CDATA[>b]]>"
    assert flat(CDATA("<&>")) == b"<![CDATA[<&>]]>"


def test_charRef() -> None:
    assert flat(tags.p(CharRef(160), CharRef(0x2603))) == b"<p>&#160;&#9731;</p>"


def test_rawNotEscaped() -> None:
    assert flat(tags.div(raw("<b>x</b>"), raw(b"&amp;"))) == (
        b"<div><b>x</b>&amp;</div>"
    )


def test_rawInsideAttributeIsEscaped() -> None:
    assert flat(tags.a(title=raw("<b>"))) == b'<a title="&lt;b&gt;"></a>'


# -- tags -----------------------------------------------------------------


def test_emptyElement() -> None:
    assert flat(tags.div()) == b"<div></div>"


def test_voidElement() -> None:
    assert flat(tags.br) == b"<br />"
    assert flat(tags.img(src="/a.png")) == b'<img src="/a.png" />'


def test_voidElementWithSneakedChildrenFails() -> None:
    tag = tags.br
    tag.children.append("x")
    error = flatError(tags.div(tag))
    assert isinstance(error.exception, ValueError)
    assert "void" in str(error)


def test_transparentWritesOnlyChildren() -> None:
    assert flat(tags.transparent("a", tags.b("c"))) == b"a<b>c</b>"


def test_attributeOrderKept() -> None:
    assert flat(tags.p(b="1", a="2", c="3")) == b'<p b="1" a="2" c="3"></p>'


def test_sequencesAndGenerators() -> None:
    def gen() -> Generator[Any, None, None]:
        yield "x"
        yield tags.i("y")

    assert flat(["a", ("b", ["c"]), gen()]) == b"abcx<i>y</i>"


def test_nestedDocument() -> None:
    page = tags.html(
        tags.head(tags.title("T")),
        tags.body(tags.ul([tags.li(str(i)) for i in range(3)])),
    )
    assert flat(page) == (
        b"<html><head><title>T</title></head>"
        b"<body><ul><li>0</li><li>1</li><li>2</li></ul></body></html>"
    )


def test_deepNestingDoesNotRecurse() -> None:
    root: Any = "leaf"
    for _ in range(10000):
        root = tags.div(root)
    output = flat(root)
    assert output == b"<div>" * 10000 + b"leaf" + b"</div>" * 10000


def test_deepNestingErrorMessageStaysShort() -> None:
    root: Any = slot("missing")
    for _ in range(10000):
        root = tags.div(root)
    error = flatError(root)
    assert len(error.roots) == 10001
    assert len(str(error).splitlines()) < 60
    assert "more" in str(error)


# -- slots ------------------------------------------------------------------


def test_slotFilled() -> None:
    tag = tags.p(slot("who")).fillSlots(who="<you>")
    assert flat(tag) == b"<p>&lt;you&gt;</p>"


def test_slotInnermostFillingWins() -> None:
    doc = tags.div(tags.p(slot("x")).fillSlots(x="inner"), slot("x")).fillSlots(
        x="outer"
    )
    assert flat(doc) == b"<div><p>inner</p>outer</div>"


def test_slotDefault() -> None:
    assert flat(tags.p(slot("x", default="d"))) == b"<p>d</p>"
    assert flat(tags.p(slot("x", default="d")).fillSlots(x="v")) == b"<p>v</p>"


def test_slotUnfilled() -> None:
    error = flatError(tags.div(tags.p(slot("nope"))))
    assert isinstance(error.exception, UnfilledSlot)
    assert "nope" in str(error)
    assert [r.tagName for r in error.roots if isinstance(r, Tag)] == ["div", "p"]


def test_slotFilledWithContent() -> None:
    doc = tags.p(slot("x")).fillSlots(x=[tags.b("bold"), " ", succeed("later")])
    assert flat(doc) == b"<p><b>bold</b> later</p>"


def test_slotInAttribute() -> None:
    doc = tags.a(href=slot("url"))("link").fillSlots(url='/x?a=1&b="2"')
    assert flat(doc) == b'<a href="/x?a=1&amp;b=&quot;2&quot;">link</a>'


def test_tagInAttributeIsEscapedText() -> None:
    assert flat(tags.p(title=tags.b("x"))) == b'<p title="&lt;b&gt;x&lt;/b&gt;"></p>'


def test_transparentInAttribute() -> None:
    doc = tags.a(href=tags.transparent("/u/", slot("id")))().fillSlots(id="1&2")
    assert flat(doc) == b'<a href="/u/1&amp;2"></a>'


def test_deferredInAttribute() -> None:
    d: Deferred[str] = Deferred()
    results: list[object] = []
    flattenString(None, tags.a(href=d)("x")).addBoth(results.append)
    assert results == []
    d.callback('"quoted"')
    assert results == [b'<a href="&quot;quoted&quot;">x</a>']


# -- Deferreds and coroutines ----------------------------------------------------


def test_firedDeferred() -> None:
    assert flat(tags.p(succeed("x"), succeed(tags.b("y")))) == b"<p>x<b>y</b></p>"


def test_pendingDeferredWritesWhatCameBefore() -> None:
    d: Deferred[Any] = Deferred()
    written: list[bytes] = []
    done: list[object] = []
    flatten(None, tags.p("before", d, "after"), written.append).addBoth(done.append)
    assert b"".join(written) == b"<p>before"
    assert done == []
    d.callback(tags.i("middle"))
    assert b"".join(written) == b"<p>before<i>middle</i>after</p>"
    assert done == [None]


def test_failedDeferred() -> None:
    error = flatError(tags.div(fail(KeyError("gone"))))
    assert isinstance(error.exception, KeyError)


def test_deferredFailingLater() -> None:
    d: Deferred[Any] = Deferred()
    results: list[object] = []
    flattenString(None, tags.ul(tags.li(d))).addBoth(results.append)
    d.errback(RuntimeError("late"))
    [failure] = results
    assert isinstance(failure, Failure)
    error = failure.value
    assert isinstance(error, FlattenerError)
    assert isinstance(error.exception, RuntimeError)
    assert "<ul>" in str(error) and "<li>" in str(error)


def test_deferredResultFlattened() -> None:
    d: Deferred[Any] = Deferred()
    results: list[object] = []
    flattenString(None, d).addBoth(results.append)
    d.callback(["a", succeed("b")])
    assert results == [b"ab"]


def test_coroutine() -> None:
    async def content() -> Any:
        return tags.b("from a coroutine")

    assert flat(tags.p(content())) == b"<p><b>from a coroutine</b></p>"


def test_coroutineAwaitingDeferred() -> None:
    d: Deferred[str] = Deferred()

    async def content() -> str:
        value = await d
        return value.upper()

    results: list[object] = []
    flattenString(None, tags.p(content())).addBoth(results.append)
    assert results == []
    d.callback("late")
    assert results == [b"<p>LATE</p>"]


def test_cancelCancelsWhatIsAwaited() -> None:
    cancelled: list[Deferred[Any]] = []
    d: Deferred[Any] = Deferred(cancelled.append)
    results: list[object] = []
    flatten(None, tags.p(d), lambda data: None).addBoth(results.append).cancel()
    assert cancelled == [d]
    [failure] = results
    assert isinstance(failure, Failure)


# -- unsupported content and errors ---------------------------------------------


@pytest.mark.parametrize("value", [None, 42, 1.5, object(), {"a": 1}])
def test_unsupportedType(value: object) -> None:
    error = flatError(tags.div(tags.p(value)))  # type: ignore[arg-type]
    assert isinstance(error.exception, UnsupportedType)
    assert isinstance(error.__cause__, UnsupportedType)
    assert "not flattenable" in str(error)


def test_errorInRendererNamesTemplateLocation() -> None:
    from torsion.web.template import Element

    class Broken(Element):
        loader = XMLString(
            f'<html xmlns:t="{NS}">\n  <body>\n    <p t:render="explode" />\n'
            "  </body>\n</html>"
        )

        @renderer
        def explode(self, request: object, tag: Tag) -> Any:
            raise ZeroDivisionError("kaboom")

    error = flatError(Broken())
    assert isinstance(error.exception, ZeroDivisionError)
    message = str(error)
    assert '<p t:render="explode">' in message
    assert 'File "<xmlstring>", line 3, column 4' in message
    assert "<html>" in message and "<body>" in message
    assert "Broken (rendered)" in message
    assert "explode" in message
    assert "ZeroDivisionError: kaboom" in message


def test_rendererOutsideAnyElement() -> None:
    error = flatError(tags.p(render="x"))
    assert isinstance(error.exception, ValueError)
    assert "renderer 'x'" in str(error)


def test_partialOutputWrittenBeforeError() -> None:
    written: list[bytes] = []
    results: list[object] = []
    flatten(None, ["fine", None], written.append).addBoth(results.append)
    assert b"".join(written) == b"fine"
    [failure] = results
    assert isinstance(failure, Failure)


# -- renderables ----------------------------------------------------------------


@implementer(IRenderable)
class Renderable:
    def __init__(self, content: Any) -> None:
        self.content = content

    def lookupRenderMethod(self, name: str) -> Any:
        def method(request: IRequest | None, tag: Tag) -> Any:
            return tag(f"rendered by {name}")

        return method

    def render(self, request: IRequest | None) -> Any:
        return self.content


def test_renderable() -> None:
    thing = Renderable(tags.p(render="one"))
    verifyObject(IRenderable, thing)
    assert flat(tags.div(thing)) == b"<div><p>rendered by one</p></div>"


def test_nearestRenderableLooksUpRenderers() -> None:
    outer = Renderable(tags.div(Renderable(tags.i(render="inner")), tags.b(render="o")))
    assert flat(outer) == (b"<div><i>rendered by inner</i><b>rendered by o</b></div>")


def test_requestPassedToRenderers() -> None:
    seen: list[object] = []

    @implementer(IRenderable)
    class Spy:
        def lookupRenderMethod(self, name: str) -> Any:
            def method(request: object, tag: Tag) -> Any:
                seen.append(request)
                return "x"

            return method

        def render(self, request: IRequest | None) -> Any:
            seen.append(request)
            return tags.p(render="r")

    marker: Any = object()
    results: list[object] = []
    flattenString(marker, Spy()).addBoth(results.append)
    assert results == [b"x"]
    assert seen == [marker, marker]


def test_rendererGetsACopy() -> None:
    template = tags.p(render="r")("original")
    modified: list[Tag] = []

    @implementer(IRenderable)
    class Mutator:
        def lookupRenderMethod(self, name: str) -> Any:
            def method(request: object, tag: Tag) -> Any:
                modified.append(tag)
                return tag("added")

            return method

        def render(self, request: IRequest | None) -> Any:
            return template

    assert flat(Mutator()) == b"<p>originaladded</p>"
    assert flat(Mutator()) == b"<p>originaladded</p>"
    assert template.children == ["original"]
    assert modified[0] is not template


def test_largeOutputWrittenInPieces() -> None:
    written: list[bytes] = []
    doc = [tags.p(str(i)) for i in range(20000)]
    flatten(None, doc, written.append)
    assert 1 < len(written) < 200
    assert b"".join(written) == b"".join(b"<p>%d</p>" % i for i in range(20000))


# -- user data cannot inject markup ------------------------------------------------


class _Events(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[Any, ...]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("start", tag, attrs))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.events.append(("startend", tag, attrs))

    def handle_endtag(self, tag: str) -> None:
        self.events.append(("end", tag))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def handle_comment(self, data: str) -> None:
        self.events.append(("comment", data))

    def handle_decl(self, decl: str) -> None:
        self.events.append(("decl", decl))

    def handle_pi(self, data: str) -> None:
        self.events.append(("pi", data))

    def unknown_decl(self, data: str) -> None:
        self.events.append(("unknown", data))


def _parse(document: bytes) -> _Events:
    parser = _Events()
    parser.feed(document.decode("utf-8"))
    parser.close()
    return parser


# Text that can be encoded: no lone surrogates.
_userText = st.text(alphabet=st.characters(codec="utf-8"))


@given(_userText)
@settings(max_examples=200, deadline=None)
def test_textCannotInjectMarkup(text: str) -> None:
    parsed = _parse(flat(tags.p(text)))
    assert parsed.events == [("start", "p", []), ("end", "p")]
    assert "".join(parsed.text) == text


@given(_userText)
@settings(max_examples=200, deadline=None)
def test_attributeCannotInjectMarkup(text: str) -> None:
    parsed = _parse(flat(tags.a(title=text)("x")))
    assert parsed.events == [("start", "a", [("title", text)]), ("end", "a")]
    assert "".join(parsed.text) == "x"


@given(_userText)
@settings(max_examples=200, deadline=None)
def test_slotInAttributeCannotInjectMarkup(text: str) -> None:
    doc = tags.a(href=tags.transparent("/u/", slot("id")))("x").fillSlots(id=text)
    parsed = _parse(flat(doc))
    assert parsed.events == [("start", "a", [("href", "/u/" + text)]), ("end", "a")]


@given(_userText)
@settings(max_examples=200, deadline=None)
def test_commentCannotEndEarly(text: str) -> None:
    parsed = _parse(flat(tags.div(Comment(text), "after")))
    assert [e[0] for e in parsed.events] == ["start", "comment", "end"]
    assert "".join(parsed.text) == "after"


@pytest.mark.parametrize(
    "name", ['onclick="x"', "a b", "a>", "x/", "", "a=b", "a\x00", "<a", "a'"]
)
def test_attributeNameCannotInjectMarkup(name: str) -> None:
    for value in ("v", slot("s", default="v")):
        error = flatError(tags.div(Tag("p", attributes={name: value})))
        assert isinstance(error.exception, ValueError)
        assert "invalid attribute name" in str(error)
        assert "<p>" in str(error)


@pytest.mark.parametrize("name", ['p onclick="x"', "p>", "<p", "a\n"])
def test_tagNameCannotInjectMarkup(name: str) -> None:
    for tag in (Tag(name), Tag(name, attributes={"a": slot("s", default="v")})):
        error = flatError(tag)
        assert isinstance(error.exception, ValueError)
        assert "invalid tag name" in str(error)


def test_namespacedNamesAllowed() -> None:
    tag = Tag("svg:rect", attributes={"xlink:href": "#a", "data-x": "1"})
    assert flat(tag) == b'<svg:rect xlink:href="#a" data-x="1"></svg:rect>'


def test_writeFailing() -> None:
    def write(data: bytes) -> None:
        raise OSError("connection gone")

    results: list[object] = []
    flatten(None, tags.p("x"), write).addBoth(results.append)
    [failure] = results
    assert isinstance(failure, Failure)
    assert isinstance(failure.value, FlattenerError)
    assert isinstance(failure.value.exception, OSError)


def test_writeFailingAfterDeferred() -> None:
    d: Deferred[str] = Deferred()
    calls: list[bytes] = []

    def write(data: bytes) -> None:
        calls.append(data)
        if len(calls) > 1:
            raise OSError("connection gone")

    results: list[object] = []
    flatten(None, tags.p("x", d), write).addBoth(results.append)
    d.callback("y")
    [failure] = results
    assert isinstance(failure, Failure)
    assert isinstance(failure.value, FlattenerError)
    assert isinstance(failure.value.exception, OSError)
    assert calls == [b"<p>x", b"y</p>"]
