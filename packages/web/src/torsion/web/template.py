"""
HTML templating: build documents from tags in Python or from XML templates,
fill slots, call renderer methods, and flatten the result into bytes,
waiting for Deferreds and coroutines anywhere in the document.

A page in Python::

    from torsion.web.template import tags, flattenString

    page = tags.html(tags.body(tags.p(class_="greeting")("Hello, ", name)))
    d = flattenString(None, page)  # fires with b'<html><body><p ...'

A page from a template, with an ``Element``::

    from torsion.web.template import Element, XMLString, renderer

    class Greeting(Element):
        loader = XMLString(
            '<p xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1">'
            'Hello, <t:slot name="name" /></p>'
        )

Text is always escaped for where it is written; ``raw`` is the only way to
write markup unescaped.
"""

from torsion.web._element import (
    Element,
    MissingRenderMethod,
    MissingTemplateLoader,
    TagLoader,
    renderElement,
    renderer,
)
from torsion.web._flatten import (
    FlattenerError,
    UnfilledSlot,
    UnsupportedType,
    flatten,
    flattenString,
)
from torsion.web._stan import (
    CDATA,
    VALID_HTML_TAG_NAMES,
    VOID_ELEMENTS,
    CharRef,
    Comment,
    Flattenable,
    Tag,
    raw,
    slot,
    tags,
)
from torsion.web._template_util import (
    TEMPLATE_NAMESPACE,
    TemplateParseError,
    XMLFile,
    XMLString,
)

__all__ = [
    "CDATA",
    "TEMPLATE_NAMESPACE",
    "VALID_HTML_TAG_NAMES",
    "VOID_ELEMENTS",
    "CharRef",
    "Comment",
    "Element",
    "Flattenable",
    "FlattenerError",
    "MissingRenderMethod",
    "MissingTemplateLoader",
    "Tag",
    "TagLoader",
    "TemplateParseError",
    "UnfilledSlot",
    "UnsupportedType",
    "XMLFile",
    "XMLString",
    "flatten",
    "flattenString",
    "raw",
    "renderElement",
    "renderer",
    "slot",
    "tags",
]
