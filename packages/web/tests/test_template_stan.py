"""
Tests for the document model of torsion.web.template: Tag, slot, tags and
the content constructors.
"""

from __future__ import annotations

import pytest

from torsion.web.template import (
    CDATA,
    VALID_HTML_TAG_NAMES,
    VOID_ELEMENTS,
    CharRef,
    Comment,
    Tag,
    raw,
    slot,
    tags,
)


def test_callAddsChildrenAndAttributes() -> None:
    tag = tags.div("a", "b", id="main")
    assert tag.tagName == "div"
    assert tag.children == ["a", "b"]
    assert tag.attributes == {"id": "main"}


def test_callReturnsTheTagSoCallsChain() -> None:
    tag = tags.p(class_="x")
    assert tag("more") is tag
    assert tag.children == ["more"]


def test_trailingUnderscoreDropped() -> None:
    tag = tags.label(class_="c", for_="f")
    assert tag.attributes == {"class": "c", "for": "f"}


def test_renderKeywordSetsRenderer() -> None:
    tag = tags.ul(render="items")
    assert tag.render == "items"
    assert "render" not in tag.attributes


def test_renderKeywordMustBeAName() -> None:
    with pytest.raises(TypeError):
        tags.ul(render=42)  # type: ignore[arg-type]


def test_fillSlotsAccumulates() -> None:
    tag = tags.div().fillSlots(a="1").fillSlots(b="2")
    assert tag.slotData == {"a": "1", "b": "2"}


def test_clearRemovesChildren() -> None:
    tag = tags.div("a", tags.p("b"))
    assert tag.clear() is tag
    assert tag.children == []


def test_deepCloneIsIndependent() -> None:
    inner = tags.span(slot("x"), class_="a")
    original = tags.div(inner, title=tags.b("t"), render="r").fillSlots(y="1")
    copy = original.clone()
    assert copy is not original
    assert copy.render == "r"
    assert copy.slotData == {"y": "1"}
    copyInner = copy.children[0]
    assert isinstance(copyInner, Tag)
    assert copyInner is not inner
    assert copyInner.attributes == {"class": "a"}
    copyInner("added")
    copyInner.attributes["class"] = "b"
    copy.fillSlots(z="2")
    assert inner.children == [inner.children[0]]
    assert inner.attributes == {"class": "a"}
    assert original.slotData == {"y": "1"}
    assert copyInner.children[0] is not inner.children[0]
    assert copy.attributes["title"] is not original.attributes["title"]


def test_shallowCloneSharesChildren() -> None:
    inner = tags.span()
    original = tags.div(inner)
    copy = original.clone(deep=False)
    assert copy.children == [inner]
    assert copy.children[0] is inner
    copy("more")
    assert original.children == [inner]


def test_cloneOfDeepTreeDoesNotRecurse() -> None:
    root = tags.div()
    tag = root
    for _ in range(5000):
        child = tags.div()
        tag(child)
        tag = child
    copy = root.clone()
    depth = 0
    node = copy
    while node.children:
        descendant = node.children[0]
        assert isinstance(descendant, Tag)
        node = descendant
        depth += 1
    assert depth == 5000


def test_tagsHasEveryHTMLElement() -> None:
    for name in ("div", "a", "table", "template", "search", "dialog", "wbr"):
        assert name in VALID_HTML_TAG_NAMES
        assert getattr(tags, name).tagName == name
    assert len(VALID_HTML_TAG_NAMES) > 100


def test_tagsGivesANewTagEachTime() -> None:
    assert tags.div is not tags.div


def test_tagsKeywordNamesTakeAnUnderscore() -> None:
    assert tags.del_.tagName == "del"


def test_tagsTransparent() -> None:
    assert tags.transparent.tagName == ""


def test_tagsUnknownElement() -> None:
    with pytest.raises(AttributeError, match="blink"):
        tags.blink  # noqa: B018 - the attribute access is the test


def test_voidElementRefusesChildren() -> None:
    for name in VOID_ELEMENTS:
        with pytest.raises(ValueError, match="void element"):
            getattr(tags, name)("child")
    with pytest.raises(ValueError, match="void element"):
        Tag("img", children=["x"])


def test_voidElementTakesAttributes() -> None:
    assert tags.img(src="/a.png").attributes == {"src": "/a.png"}


def test_slotFields() -> None:
    s = slot("name", default="d", filename="f.xml", lineNumber=3, columnNumber=4)
    assert (s.name, s.default, s.filename, s.lineNumber, s.columnNumber) == (
        "name",
        "d",
        "f.xml",
        3,
        4,
    )
    assert "name" in repr(s)


def test_contentConstructors() -> None:
    assert Comment("c").data == "c"
    assert CDATA("d").data == "d"
    assert CharRef(160).ordinal == 160
    assert raw("<b>").data == "<b>"
    assert raw(b"<b>").data == b"<b>"
    with pytest.raises(TypeError):
        raw(3)  # type: ignore[arg-type]


def test_reprs() -> None:
    assert repr(tags.p("x", class_="c", render="r")) == (
        "Tag('p', attributes={'class': 'c'}, children=['x'], render='r')"
    )
    assert repr(Comment("c")) == "Comment('c')"
    assert repr(CDATA("c")) == "CDATA('c')"
    assert repr(CharRef(1)) == "CharRef(1)"
    assert repr(raw("r")) == "raw('r')"


def test_bytesTagNameDecoded() -> None:
    assert Tag(b"div").tagName == "div"
