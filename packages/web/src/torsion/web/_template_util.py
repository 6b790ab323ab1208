"""
XML template loaders: ``XMLString`` and ``XMLFile`` parse a template with
the standard library's expat parser into tags, slots and comments.

Everything here is re-exported from ``torsion.web.template``.

Templates are trusted code, but they still never make the parser read a
file or expand a user-defined entity: a DOCTYPE with an internal subset
(where entities are declared) is refused, external entities and external
DTDs are never fetched, and a reference to an undeclared entity is an error.
"""

from __future__ import annotations

import os
from typing import Any
from xml.parsers import expat

from zope.interface import implementer

from torsion.web._stan import CDATA, VOID_ELEMENTS, Comment, Tag, slot
from torsion.web.iweb import ITemplateLoader

__all__ = [
    "TEMPLATE_NAMESPACE",
    "TemplateParseError",
    "XMLFile",
    "XMLString",
]

#: The XML namespace of template directives (``t:render``, ``t:slot``,
#: ``t:attr``, ``t:transparent``); the same URI as Twisted's, so Twisted
#: templates load unchanged.
TEMPLATE_NAMESPACE = "http://twistedmatrix.com/ns/twisted.web.template/0.1"

_XML_NAMESPACE = "http://www.w3.org/XML/1998/namespace"


class TemplateParseError(ValueError):
    """
    A template is not well-formed XML, uses the template namespace wrongly,
    or declares entities or an internal DTD subset (refused).

    :ivar filename: the template's file name (``"<xmlstring>"`` for an
        ``XMLString``).
    :ivar lineNumber: the line of the problem, from 1.
    :ivar columnNumber: the column of the problem, from 0.
    """

    def __init__(
        self, message: str, filename: str, lineNumber: int, columnNumber: int
    ) -> None:
        """
        :param message: what is wrong.
        :param filename: the template's file name.
        :param lineNumber: the line of the problem.
        :param columnNumber: the column of the problem.
        """
        super().__init__(
            f"{filename}, line {lineNumber}, column {columnNumber}: {message}"
        )
        self.filename = filename
        self.lineNumber = lineNumber
        self.columnNumber = columnNumber


class _Refused(Exception):
    """
    Raised inside the expat handlers; turned into ``TemplateParseError``.
    """


class _Attr:
    """
    A ``<t:attr name="...">`` being read: its children become the value of
    the enclosing tag's attribute.
    """

    def __init__(self, name: str, value: Tag, owner: Tag) -> None:
        self.name = name
        self.value = value
        self.owner = owner


class _TemplateBuilder:
    """
    The expat handlers that build a template's nodes.
    """

    def __init__(self, parser: Any, filename: str) -> None:
        self.parser = parser
        self.filename = filename
        self.document: list[Any] = []
        # What the current node's children are appended to.
        self.children: list[Any] = self.document
        # Entries: (node, enclosing children list); node is a Tag, slot or
        # _Attr.
        self.open: list[tuple[Any, list[Any]]] = []
        self.namespaceDeclarations: list[tuple[str | None, str]] = []
        self.inCDATA = False
        self.cdata: list[str] = []

    # -- refusing DTDs and entities ------------------------------------------

    def startDoctype(
        self,
        doctypeName: str,
        systemId: str | None,
        publicId: str | None,
        hasInternalSubset: int,
    ) -> None:
        if hasInternalSubset:
            raise _Refused(
                "DOCTYPE declarations with an internal subset (entity or"
                " element declarations) are not allowed in templates"
            )

    def entityDeclaration(self, *args: object) -> None:
        raise _Refused("entity declarations are not allowed in templates")

    def externalEntity(self, *args: object) -> int:
        raise _Refused("external entities are not allowed in templates")

    def skippedEntity(self, name: str, isParameterEntity: int) -> None:
        raise _Refused(f"undefined entity &{name};")

    # -- building ----------------------------------------------------------

    def _location(self) -> tuple[str, int, int]:
        return (
            self.filename,
            self.parser.CurrentLineNumber,
            self.parser.CurrentColumnNumber,
        )

    def startNamespace(self, prefix: str | None, uri: str | None) -> None:
        if uri != TEMPLATE_NAMESPACE:
            self.namespaceDeclarations.append((prefix, uri or ""))

    def startElement(self, name: str, attributes: dict[str, str]) -> None:
        filename, line, column = self._location()
        parts = name.split(" ")
        if len(parts) == 1:
            uri, local, prefix = None, parts[0], None
        elif len(parts) == 2:
            uri, local, prefix = parts[0], parts[1], None
        else:
            uri, local, prefix = parts
        if uri == TEMPLATE_NAMESPACE:
            self.namespaceDeclarations = []
            self._startDirective(local, attributes, filename, line, column)
            return
        tagName = f"{prefix}:{local}" if prefix else local
        tag = Tag(tagName, filename=filename, lineNumber=line, columnNumber=column)
        for nsPrefix, nsURI in self.namespaceDeclarations:
            tag.attributes["xmlns:" + nsPrefix if nsPrefix else "xmlns"] = nsURI
        self.namespaceDeclarations = []
        for key, value in attributes.items():
            keyParts = key.split(" ")
            if len(keyParts) == 1:
                tag.attributes[key] = value
                continue
            if keyParts[0] == TEMPLATE_NAMESPACE:
                if keyParts[1] != "render":
                    raise _Refused(f"unknown template attribute t:{keyParts[1]}")
                tag.render = value
                continue
            if keyParts[0] == _XML_NAMESPACE:
                tag.attributes["xml:" + keyParts[1]] = value
            elif len(keyParts) == 3:
                tag.attributes[f"{keyParts[2]}:{keyParts[1]}"] = value
            else:
                tag.attributes[keyParts[1]] = value
        self.children.append(tag)
        self.open.append((tag, self.children))
        self.children = tag.children

    def _startDirective(
        self,
        local: str,
        attributes: dict[str, str],
        filename: str,
        line: int,
        column: int,
    ) -> None:
        node: Any
        # Directive attributes are unqualified (``name``, ``default``);
        # ``t:render`` may also be qualified.
        plain: dict[str, str] = {}
        for key, value in attributes.items():
            keyParts = key.split(" ")
            if len(keyParts) == 1:
                plain[key] = value
            elif keyParts[0] == TEMPLATE_NAMESPACE and keyParts[1] == "render":
                plain["render"] = value
            else:
                raise _Refused(f"unknown attribute {keyParts[1]!r} on t:{local}")
        attributes = plain
        if local == "transparent":
            node = Tag("", filename=filename, lineNumber=line, columnNumber=column)
            for key, value in attributes.items():
                if key == "render":
                    node.render = value
                else:
                    raise _Refused(f"unknown attribute {key!r} on t:transparent")
            self.children.append(node)
            self.open.append((node, self.children))
            self.children = node.children
        elif local == "slot":
            name = attributes.get("name")
            if name is None:
                raise _Refused("t:slot needs a name attribute")
            for key in attributes:
                if key not in ("name", "default"):
                    raise _Refused(f"unknown attribute {key!r} on t:slot")
            node = slot(
                name,
                default=attributes.get("default"),
                filename=filename,
                lineNumber=line,
                columnNumber=column,
            )
            self.children.append(node)
            self.open.append((node, self.children))
            self.children = node.children
        elif local == "attr":
            name = attributes.get("name")
            if name is None:
                raise _Refused("t:attr needs a name attribute")
            if not self.open or not isinstance(self.open[-1][0], Tag):
                raise _Refused("t:attr must be directly inside an element")
            owner = self.open[-1][0]
            attrValue = Tag("", filename=filename, lineNumber=line, columnNumber=column)
            node = _Attr(name, attrValue, owner)
            self.open.append((node, self.children))
            self.children = attrValue.children
        else:
            raise _Refused(f"unknown template element t:{local}")

    def endElement(self, name: str) -> None:
        node, enclosing = self.open.pop()
        self.children = enclosing
        if isinstance(node, _Attr):
            node.owner.attributes[node.name] = node.value
        elif isinstance(node, slot):
            if any(not (isinstance(c, str) and c.isspace()) for c in node.children):
                raise _Refused("t:slot cannot have content; use its default attribute")
            node.children = []
        elif node.tagName in VOID_ELEMENTS and node.children:
            if any(not (isinstance(c, str) and c.isspace()) for c in node.children):
                raise _Refused(
                    f"<{node.tagName}> is a void element and cannot have content"
                )
            node.children = []

    def characterData(self, data: str) -> None:
        if self.inCDATA:
            self.cdata.append(data)
            return
        children = self.children
        if children and type(children[-1]) is str:
            children[-1] += data
        else:
            children.append(data)

    def comment(self, data: str) -> None:
        self.children.append(Comment(data))

    def startCDATA(self) -> None:
        self.inCDATA = True
        self.cdata = []

    def endCDATA(self) -> None:
        self.inCDATA = False
        self.children.append(CDATA("".join(self.cdata)))
        self.cdata = []


def _parseTemplate(
    data: bytes, filename: str, encoding: str | None = None
) -> list[Any]:
    """
    Parse a template document into its top-level nodes.

    :param encoding: the document's encoding, overriding its XML
        declaration; by default the declaration's (or UTF-8).
    :raises TemplateParseError: if it is malformed or refused.
    """
    parser = expat.ParserCreate(encoding, namespace_separator=" ")
    parser.namespace_prefixes = True
    parser.buffer_text = True
    # Never read parameter entities or the external DTD subset.
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    builder = _TemplateBuilder(parser, filename)
    parser.StartDoctypeDeclHandler = builder.startDoctype
    parser.EntityDeclHandler = builder.entityDeclaration
    parser.UnparsedEntityDeclHandler = builder.entityDeclaration
    parser.ExternalEntityRefHandler = builder.externalEntity
    parser.SkippedEntityHandler = builder.skippedEntity
    parser.StartNamespaceDeclHandler = builder.startNamespace
    parser.StartElementHandler = builder.startElement
    parser.EndElementHandler = builder.endElement
    parser.CharacterDataHandler = builder.characterData
    parser.CommentHandler = builder.comment
    parser.StartCdataSectionHandler = builder.startCDATA
    parser.EndCdataSectionHandler = builder.endCDATA
    try:
        parser.Parse(data, True)
    except _Refused as e:
        raise TemplateParseError(
            str(e), filename, parser.CurrentLineNumber, parser.CurrentColumnNumber
        ) from None
    except expat.ExpatError as e:
        raise TemplateParseError(
            expat.errors.messages[e.code] if e.code else str(e),
            filename,
            e.lineno,
            e.offset,
        ) from None
    return builder.document


@implementer(ITemplateLoader)
class XMLString:
    """
    A template given as a string of XML, parsed once, when the loader is
    made.

    Directives live in the namespace ``TEMPLATE_NAMESPACE``, usually bound
    to the prefix ``t``: ``t:render="name"`` on an element calls the
    element's renderer ``name``; ``<t:slot name="x" default="..."/>`` is a
    slot; ``<t:attr name="href">...</t:attr>`` sets an attribute of the
    enclosing element from content (slots included);
    ``<t:transparent>`` groups children without writing a tag.
    """

    def __init__(self, s: str | bytes) -> None:
        """
        :param s: the template, as text, or as bytes whose encoding the
            XML declaration gives (UTF-8 by default).
        :raises TemplateParseError: if the template is malformed or
            declares entities.
        """
        if isinstance(s, str):
            # Text is already decoded: an encoding its XML declaration
            # names no longer applies.
            self._loaded = _parseTemplate(s.encode("utf-8"), "<xmlstring>", "utf-8")
        else:
            self._loaded = _parseTemplate(s, "<xmlstring>")

    def load(self) -> list[Any]:
        """
        :return: the template's top-level nodes.
        """
        return list(self._loaded)


@implementer(ITemplateLoader)
class XMLFile:
    """
    A template read from a file, parsed the first time it is loaded.

    :ivar path: the file's path.
    """

    def __init__(self, path: str | os.PathLike[str] | Any) -> None:
        """
        :param path: the file: a ``str`` or ``os.PathLike`` path, or a
            ``FilePath``-like object with a ``path`` attribute.
        :raises TypeError: if ``path`` is none of these.
        """
        if isinstance(path, (str, os.PathLike)):
            self.path = os.fspath(path)
        elif isinstance(getattr(path, "path", None), (str, bytes)):
            self.path = os.fsdecode(path.path)
        else:
            raise TypeError(f"XMLFile needs a path, not {path!r}")
        if isinstance(self.path, bytes):
            self.path = os.fsdecode(self.path)
        self._loaded: list[Any] | None = None

    def load(self) -> list[Any]:
        """
        :return: the template's top-level nodes.
        :raises OSError: if the file cannot be read.
        :raises TemplateParseError: if the template is malformed or
            declares entities.
        """
        if self._loaded is None:
            with open(self.path, "rb") as f:
                data = f.read()
            self._loaded = _parseTemplate(data, self.path)
        return list(self._loaded)

    def __repr__(self) -> str:
        return f"XMLFile({self.path!r})"
