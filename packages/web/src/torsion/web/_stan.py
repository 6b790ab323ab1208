"""
The document model of ``torsion.web.template``: tags, slots, comments, CDATA
sections, character references and trusted markup.

Everything here is re-exported from ``torsion.web.template``; import it from
there.
"""

from __future__ import annotations

from collections.abc import Coroutine, Generator
from typing import TYPE_CHECKING, Any, Union

from torsion.web.iweb import IRenderable

if TYPE_CHECKING:
    from torsion.internet.defer import Deferred

__all__ = [
    "CDATA",
    "VALID_HTML_TAG_NAMES",
    "VOID_ELEMENTS",
    "CharRef",
    "Comment",
    "Flattenable",
    "Tag",
    "raw",
    "slot",
    "tags",
]

# Elements that HTML defines as having no content and no end tag: they are
# written as ``<br />`` and refuse children.
VOID_ELEMENTS: frozenset[str] = frozenset(
    {
        "area",
        "base",
        "br",
        "col",
        "embed",
        "hr",
        "img",
        "input",
        "link",
        "meta",
        "source",
        "track",
        "wbr",
    }
)


class slot:  # noqa: N801 - the public name is lower case, like the Twisted one
    """
    A named hole in a document, filled by ``Tag.fillSlots`` on an enclosing
    tag (the innermost filling wins).

    :ivar name: the slot's name.
    :ivar default: what to render when no enclosing tag fills the slot; with
        ``None``, an unfilled slot is an error (``UnfilledSlot``).
    :ivar filename: the template file the slot came from, if any.
    :ivar lineNumber: the line of the template it came from, if any.
    :ivar columnNumber: the column of the template it came from, if any.
    """

    __slots__ = (
        "children",
        "columnNumber",
        "default",
        "filename",
        "lineNumber",
        "name",
    )

    def __init__(
        self,
        name: str,
        default: Flattenable | None = None,
        filename: str | None = None,
        lineNumber: int | None = None,
        columnNumber: int | None = None,
    ) -> None:
        """
        :param name: the slot's name.
        :param default: the content used when the slot is not filled.
        :param filename: the template file it came from.
        :param lineNumber: the template line it came from.
        :param columnNumber: the template column it came from.
        """
        self.name = name
        self.default = default
        self.filename = filename
        self.lineNumber = lineNumber
        self.columnNumber = columnNumber
        self.children: list[Flattenable] = []

    def __repr__(self) -> str:
        return f"slot({self.name!r})"


class Tag:
    """
    An element of a document: a name, attributes and children.

    Build them with ``torsion.web.template.tags`` (``tags.a(href="/")("home")``)
    or load them from an XML template.  A tag whose ``tagName`` is empty is
    transparent: only its children are written.

    :ivar tagName: the element's name, ``""`` for a transparent tag.
    :ivar attributes: the element's attributes; values may be any flattenable
        content (strings, slots, tags, Deferreds, ...), which is written
        escaped for an attribute value.
    :ivar children: the element's content.
    :ivar render: the name of the renderer method that replaces this tag when
        it is written, or ``None``.
    :ivar slotData: the slots filled on this tag, or ``None``.
    :ivar filename: the template file the tag came from, if any.
    :ivar lineNumber: the template line the tag came from, if any.
    :ivar columnNumber: the template column the tag came from, if any.
    """

    __slots__ = (
        "attributes",
        "children",
        "columnNumber",
        "filename",
        "lineNumber",
        "render",
        "slotData",
        "tagName",
    )

    def __init__(
        self,
        tagName: str | bytes,
        attributes: dict[str, Flattenable] | None = None,
        children: list[Flattenable] | None = None,
        render: str | None = None,
        filename: str | None = None,
        lineNumber: int | None = None,
        columnNumber: int | None = None,
    ) -> None:
        """
        :param tagName: the element's name (``""`` for a transparent tag);
            bytes are decoded as UTF-8.
        :param attributes: its attributes.
        :param children: its content.
        :param render: the name of the renderer that replaces it.
        :param filename: the template file it came from.
        :param lineNumber: the template line it came from.
        :param columnNumber: the template column it came from.
        :raises ValueError: if a void element (``br``, ``img``, ...) is given
            children.
        """
        if isinstance(tagName, bytes):
            tagName = tagName.decode("utf-8")
        self.tagName = tagName
        self.attributes: dict[str, Flattenable] = (
            {} if attributes is None else attributes
        )
        if children is None:
            children = []
        elif children and tagName in VOID_ELEMENTS:
            raise ValueError(f"<{tagName}> is a void element and cannot have children")
        self.children: list[Flattenable] = children
        self.render = render
        self.slotData: dict[str, Flattenable] | None = None
        self.filename = filename
        self.lineNumber = lineNumber
        self.columnNumber = columnNumber

    def __call__(self, *children: Flattenable, **attributes: Flattenable) -> Tag:
        """
        Add children and attributes to this tag.

        A keyword's trailing underscore is dropped, so that Python keywords
        can be attribute names: ``tags.p(class_="note")`` gives
        ``<p class="note">``.  The keyword ``render`` names the tag's
        renderer instead of setting an attribute.

        :param children: content appended to the tag's children.
        :param attributes: attributes to set.
        :return: this tag, so that calls chain.
        :raises ValueError: if children are added to a void element.
        """
        if children:
            if self.tagName in VOID_ELEMENTS:
                raise ValueError(
                    f"<{self.tagName}> is a void element and cannot have children"
                )
            self.children.extend(children)
        if attributes:
            render = attributes.pop("render", None)
            if render is not None:
                if not isinstance(render, str):
                    raise TypeError(f"render must be a renderer name, not {render!r}")
                self.render = render
            for key, value in attributes.items():
                if key.endswith("_"):
                    key = key[:-1]
                self.attributes[key] = value
        return self

    def fillSlots(self, **slots: Flattenable) -> Tag:
        """
        Fill slots found anywhere inside this tag.

        :param slots: slot names and the content to put in them.
        :return: this tag.
        """
        if self.slotData is None:
            self.slotData = {}
        self.slotData.update(slots)
        return self

    def clone(self, deep: bool = True) -> Tag:
        """
        Copy this tag, typically to fill the copy's slots once per row.

        :param deep: when true (the default), tags and slots among the
            children (at any depth) and inside attribute values are copied
            too; when false, the copy shares its children with this tag.
        :return: the copy.
        """
        copy = self._copyHead()
        if not deep:
            copy.attributes = dict(self.attributes)
            copy.children = list(self.children)
            return copy
        # An explicit work list rather than recursion: templates may nest
        # deeper than Python's recursion limit.
        pending: list[tuple[Tag, Tag]] = [(self, copy)]
        while pending:
            source, target = pending.pop()
            attributes = source.attributes
            if attributes:
                target.attributes = {
                    key: _shallowClone(value, pending)
                    for key, value in attributes.items()
                }
            else:
                target.attributes = {}
            target.children = [
                _shallowClone(child, pending) for child in source.children
            ]
        return copy

    def _copyHead(self) -> Tag:
        # A copy of everything but the attributes and children, which the
        # caller fills in.
        copy = Tag.__new__(Tag)
        copy.tagName = self.tagName
        copy.render = self.render
        copy.filename = self.filename
        copy.lineNumber = self.lineNumber
        copy.columnNumber = self.columnNumber
        copy.slotData = None if self.slotData is None else dict(self.slotData)
        return copy

    def clear(self) -> Tag:
        """
        Remove all children.

        :return: this tag.
        """
        self.children = []
        return self

    def __repr__(self) -> str:
        parts = [repr(self.tagName)]
        if self.attributes:
            parts.append(f"attributes={self.attributes!r}")
        if self.children:
            parts.append(f"children={self.children!r}")
        if self.render is not None:
            parts.append(f"render={self.render!r}")
        return f"Tag({', '.join(parts)})"


def _shallowClone(value: Any, pending: list[tuple[Tag, Tag]]) -> Any:
    """
    Copy one node for ``Tag.clone``; a tag's own contents are queued on
    ``pending`` to be copied later.
    """
    if type(value) is Tag or isinstance(value, Tag):
        copy = value._copyHead()
        pending.append((value, copy))
        return copy
    if isinstance(value, slot):
        copy_slot = slot(
            value.name,
            value.default,
            value.filename,
            value.lineNumber,
            value.columnNumber,
        )
        if isinstance(value.default, Tag):
            copy_slot.default = value.default.clone()
        return copy_slot
    if isinstance(value, list):
        return [_shallowClone(item, pending) for item in value]
    if isinstance(value, tuple):
        return tuple(_shallowClone(item, pending) for item in value)
    return value


class _TextNode:
    """
    A node holding text that the flattener writes inside its own markup.

    :ivar data: the text.
    """

    __slots__ = ("data",)

    def __init__(self, data: str) -> None:
        """
        :param data: the text.
        """
        self.data = data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.data!r})"


class Comment(_TextNode):
    """
    An HTML comment, ``<!--...-->``.  Its text is made safe: ``--`` can
    never end the comment early.

    :ivar data: the comment's text.
    """

    __slots__ = ()


class CDATA(_TextNode):
    """
    A CDATA section, ``<![CDATA[...]]>``; a ``]]>`` in its text is split so
    that the section cannot end early.

    :ivar data: the section's text.
    """

    __slots__ = ()


class CharRef:
    """
    A numeric character reference such as ``&#160;``.

    :ivar ordinal: the character's code point.
    """

    __slots__ = ("ordinal",)

    def __init__(self, ordinal: int) -> None:
        """
        :param ordinal: the character's code point.
        """
        self.ordinal = ordinal

    def __repr__(self) -> str:
        return f"CharRef({self.ordinal!r})"


class raw:  # noqa: N801 - lower case, like the other content constructors
    """
    Trusted markup, written exactly as given, without escaping.

    Never wrap data that came from a user: ``raw`` is how markup produced
    elsewhere (a sanitiser, a Markdown renderer you trust) enters a page.
    Inside an attribute value, the markup is escaped like everything else
    there.

    :ivar data: the markup.
    """

    __slots__ = ("data",)

    def __init__(self, data: str | bytes) -> None:
        """
        :param data: the markup, as text or UTF-8 bytes.
        :raises TypeError: if ``data`` is neither ``str`` nor ``bytes``.
        """
        if not isinstance(data, (str, bytes)):
            raise TypeError(f"raw() takes str or bytes, not {type(data).__name__}")
        self.data = data

    def __repr__(self) -> str:
        return f"raw({self.data!r})"


#: What ``flatten`` accepts: text, UTF-8 bytes, tags, slots, comments, CDATA,
#: character references, trusted markup, sequences and generators of those,
#: Deferreds and coroutines giving those, and ``IRenderable`` providers.
Flattenable = Union[
    str,
    bytes,
    Tag,
    slot,
    Comment,
    CDATA,
    CharRef,
    raw,
    list[Any],
    tuple[Any, ...],
    Generator[Any, Any, Any],
    "Deferred[Any]",
    Coroutine[Any, Any, Any],
    IRenderable,
]


#: Every element name of the HTML Living Standard, each available as an
#: attribute of ``tags``.
VALID_HTML_TAG_NAMES: frozenset[str] = frozenset(
    [
        "a",
        "abbr",
        "address",
        "area",
        "article",
        "aside",
        "audio",
        "b",
        "base",
        "bdi",
        "bdo",
        "blockquote",
        "body",
        "br",
        "button",
        "canvas",
        "caption",
        "cite",
        "code",
        "col",
        "colgroup",
        "data",
        "datalist",
        "dd",
        "del",
        "details",
        "dfn",
        "dialog",
        "div",
        "dl",
        "dt",
        "em",
        "embed",
        "fieldset",
        "figcaption",
        "figure",
        "footer",
        "form",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "head",
        "header",
        "hgroup",
        "hr",
        "html",
        "i",
        "iframe",
        "img",
        "input",
        "ins",
        "kbd",
        "label",
        "legend",
        "li",
        "link",
        "main",
        "map",
        "mark",
        "math",
        "menu",
        "meta",
        "meter",
        "nav",
        "noscript",
        "object",
        "ol",
        "optgroup",
        "option",
        "output",
        "p",
        "picture",
        "pre",
        "progress",
        "q",
        "rp",
        "rt",
        "ruby",
        "s",
        "samp",
        "script",
        "search",
        "section",
        "select",
        "slot",
        "small",
        "source",
        "span",
        "strong",
        "style",
        "sub",
        "summary",
        "sup",
        "svg",
        "table",
        "tbody",
        "td",
        "template",
        "textarea",
        "tfoot",
        "th",
        "thead",
        "time",
        "title",
        "tr",
        "track",
        "u",
        "ul",
        "var",
        "video",
        "wbr",
    ]
)


class _TagFactory:
    """
    The type of ``tags``: each attribute access gives a new, empty ``Tag``.
    """

    def __getattr__(self, name: str) -> Tag:
        if name == "transparent":
            return Tag("")
        # ``tags.del_`` for names that are Python keywords.
        tagName = name[:-1] if name.endswith("_") else name
        if tagName not in VALID_HTML_TAG_NAMES:
            raise AttributeError(f"unknown HTML element {name!r}")
        return Tag(tagName)

    def __dir__(self) -> list[str]:
        return sorted(VALID_HTML_TAG_NAMES | {"transparent"})


#: Makes tags: ``tags.div``, ``tags.a(href="/")("home")``, one attribute per
#: HTML element; ``tags.transparent`` is a tag that writes only its children
#: (``t:transparent`` in a template).  Names that are Python keywords take a
#: trailing underscore: ``tags.del_``.
tags = _TagFactory()
