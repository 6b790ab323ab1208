"""
Elements: renderable objects that combine a template with renderer
methods; and ``renderElement``, which answers an HTTP request with one.

Everything here is re-exported from ``torsion.web.template``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from zope.interface import implementer

from torsion.internet.defer import Deferred
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web._flatten import flatten
from torsion.web._stan import Flattenable, Tag
from torsion.web.iweb import IRenderable, IRequest, ITemplateLoader

__all__ = [
    "Element",
    "MissingRenderMethod",
    "MissingTemplateLoader",
    "TagLoader",
    "renderElement",
    "renderer",
]

_log = Logger()

_F = TypeVar("_F", bound=Callable[..., Any])

# The attribute ``renderer`` sets on a function to expose it to templates.
_EXPOSED = "_torsionTemplateRenderer"

#: Written to the client when rendering fails part-way (the details go to
#: the log, never to the client).
RENDER_ERROR_MESSAGE = (
    b'<div style="color:#a00;font-weight:bold">'
    b"An error occurred while rendering the response.</div>"
)


class MissingRenderMethod(Exception):
    """
    A template names a renderer the element does not have (or has, but not
    decorated with ``renderer``).

    :ivar element: the element.
    :ivar renderName: the renderer's name.
    """

    def __init__(self, element: object, renderName: str) -> None:
        """
        :param element: the element the renderer was looked up on.
        :param renderName: the name the template asked for.
        """
        super().__init__(element, renderName)
        self.element = element
        self.renderName = renderName

    def __str__(self) -> str:
        return (
            f"{type(self.element).__name__} has no renderer {self.renderName!r}"
            " (renderer methods must be decorated with @renderer)"
        )

    __repr__ = __str__


class MissingTemplateLoader(Exception):
    """
    An element was rendered without a ``loader``.

    :ivar element: the element.
    """

    def __init__(self, element: object) -> None:
        """
        :param element: the element that has no loader.
        """
        super().__init__(element)
        self.element = element

    def __str__(self) -> str:
        return f"{type(self.element).__name__} has no template loader"

    __repr__ = __str__


def renderer(function: _F) -> _F:
    """
    Expose a method of an ``Element`` subclass to its template, where
    ``t:render="name"`` calls it.

    The method is called with the request and a copy of the tag that named
    it; what it returns (any flattenable content, including Deferreds and
    coroutines: it may be ``async def``, or a generator) replaces the tag::

        class Greeting(Element):
            loader = XMLString(
                '<p xmlns:t="http://twistedmatrix.com/ns/twisted.web.template/0.1"'
                ' t:render="greet" />'
            )

            @renderer
            def greet(self, request, tag):
                return tag("Hello")

    :param function: the method.
    :return: the same method, marked as a renderer.
    """
    setattr(function, _EXPOSED, True)
    return function


@implementer(IRenderable)
class Element:
    """
    Renderable content with a template: subclass it, set ``loader`` (a class
    attribute, or the constructor's argument), and write ``renderer``
    methods for the template's ``t:render`` attributes.

    :ivar loader: the template loader (``XMLString``, ``XMLFile``,
        ``TagLoader``), or ``None``.
    """

    loader: ITemplateLoader | None = None

    def __init__(self, loader: ITemplateLoader | None = None) -> None:
        """
        :param loader: the template; by default the class's ``loader``.
        """
        if loader is not None:
            self.loader = loader

    def lookupRenderMethod(
        self, name: str
    ) -> Callable[[IRequest | None, Tag], Flattenable]:
        """
        Find the renderer a template names.

        :param name: the name given in ``t:render``.
        :return: the bound renderer method.
        :raises MissingRenderMethod: if there is no method of that name
            decorated with ``renderer``.
        """
        method = getattr(self, name, None)
        if method is None or not getattr(method, _EXPOSED, False):
            raise MissingRenderMethod(self, name)
        return method  # type: ignore[no-any-return]

    def render(self, request: IRequest | None) -> Flattenable:
        """
        Load the template.

        :param request: the request being answered.
        :return: the template's nodes, to be flattened.
        :raises MissingTemplateLoader: if the element has no ``loader``.
        """
        loader = self.loader
        if loader is None:
            raise MissingTemplateLoader(self)
        return loader.load()


@implementer(ITemplateLoader)
class TagLoader:
    """
    A template loader for a document built in Python.

    :ivar tag: the document.
    """

    def __init__(self, tag: Flattenable) -> None:
        """
        :param tag: the document (usually a ``Tag``).
        """
        self.tag = tag

    def load(self) -> list[Any]:
        """
        :return: the document, as a one-element list.
        """
        return [self.tag]


def renderElement(
    request: IRequest,
    element: Flattenable,
    doctype: bytes | None = b"<!DOCTYPE html>",
    _failElement: Flattenable | None = None,
) -> int:
    """
    Answer a request with an element, typically from a resource's
    ``render_GET``::

        def render_GET(self, request):
            return renderElement(request, Page())

    The doctype and the flattened element are written to the request as
    they are produced, then the request is finished.  The content type is
    set to ``text/html; charset=utf-8`` unless already set.  If flattening
    fails, the error (with its traceback) is logged and a short message is
    written in its place: the traceback never reaches the client.  If the
    client goes away first, flattening stops (the Deferred it waits on is
    cancelled) and the request is left alone.

    :param request: the request to answer.
    :param element: what to render (an ``Element`` or any flattenable).
    :param doctype: written first, followed by a newline; ``None`` for none.
    :param _failElement: written instead of the default message if
        rendering fails.
    :return: ``NOT_DONE_YET``, for ``render_GET`` to return.
    """
    if not request.responseHeaders.hasHeader(b"content-type"):
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
    if doctype is not None:
        request.write(doctype)
        request.write(b"\n")

    # Set when the client goes away: flattening stops, nothing more is
    # written and the request is not finished.
    gone: list[Failure] = []

    def failed(failure: Failure) -> Any:
        if gone:
            return None
        _log.failure(
            "An error occurred while rendering the response.",
            failure=failure,
        )
        if _failElement is None:
            request.write(RENDER_ERROR_MESSAGE)
            return None

        def failElementFailed(failure: Failure) -> None:
            _log.failure("The error element could not be rendered.", failure=failure)
            if not gone:
                request.write(RENDER_ERROR_MESSAGE)

        return flatten(request, _failElement, request.write).addErrback(
            failElementFailed
        )

    def finish(_: object) -> None:
        if not gone:
            request.finish()

    def finishFailed(failure: Failure) -> None:
        _log.failure("Could not finish the response.", failure=failure)

    def clientGone(reason: Failure) -> None:
        gone.append(reason)
        d.cancel()

    d = flatten(request, element, request.write)
    d.addErrback(failed)
    d.addCallback(finish)
    d.addErrback(finishFailed)
    finished = request.notifyFinish()
    if isinstance(finished, Deferred):
        finished.addErrback(clientGone)
    return _notDoneYet()


def _notDoneYet() -> int:
    # Imported late: the resource layer may itself use templates.
    try:
        from torsion.web.resource import NOT_DONE_YET
    except ImportError:
        return 1
    return int(NOT_DONE_YET)
