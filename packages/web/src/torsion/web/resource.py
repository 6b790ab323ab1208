"""
The resource tree: ``Resource`` objects find children for path segments and
render the requests that stop at them.

A site is a tree of resources.  For ``GET /a/b`` the server starts at the
root and asks it for the child ``b"a"``, then asks that child for
``b"b"``, and renders whatever it ends on::

    from torsion.web.resource import Resource

    class Hello(Resource):
        isLeaf = True

        def render_GET(self, request):
            request.setHeader(b"content-type", b"text/plain; charset=utf-8")
            return b"hello\\n"

    root = Resource()
    root.putChild(b"hello", Hello())

``render`` dispatches to ``render_<METHOD>`` (``render_GET``,
``render_POST``, ...).  Such a method returns the body as ``bytes``,
``server.NOT_DONE_YET`` when it writes and finishes the response itself
later, a ``Deferred`` firing with the body, or it may be an ``async def``.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from zope.interface import implementer

from torsion.web.iweb import IRequest, IResource

__all__ = [
    "NOT_DONE_YET",
    "EncodingResourceWrapper",
    "ErrorPage",
    "ForbiddenResource",
    "IResource",
    "NoResource",
    "Resource",
    "UnsupportedMethod",
    "getChildForRequest",
]

#: Returned by a ``render`` method that will write and ``finish`` the
#: response later, by itself.  ``torsion.web.server.NOT_DONE_YET`` is the
#: same object.
NOT_DONE_YET: int = 1


class UnsupportedMethod(Exception):
    """
    Raised by ``Resource.render`` when the resource has no ``render_``
    method for the request's method; the server answers 405 with an
    ``Allow`` header listing ``allowedMethods``.

    :ivar allowedMethods: the methods the resource does support, a sequence
        of bytes such as ``(b"GET", b"HEAD")``.
    """

    allowedMethods: Sequence[bytes]

    def __init__(self, allowedMethods: Sequence[bytes], *args: object) -> None:
        """
        :param allowedMethods: the methods the resource supports.
        """
        if not isinstance(allowedMethods, (list, tuple)):
            raise TypeError(
                "UnsupportedMethod needs a list or tuple of allowed methods,"
                f" not {type(allowedMethods).__name__}"
            )
        Exception.__init__(self, allowedMethods, *args)
        self.allowedMethods = allowedMethods

    def __str__(self) -> str:
        names = ", ".join(m.decode("ascii", "replace") for m in self.allowedMethods)
        return f"Expected one of: {names}"


def _computeAllowedMethods(resource: object) -> list[bytes]:
    """
    :return: the methods ``resource`` has a ``render_<METHOD>`` for, sorted;
        ``HEAD`` is included when ``GET`` is (it is answered by
        ``render_GET`` unless overridden).
    """
    methods: set[bytes] = set()
    for name in dir(resource):
        if name.startswith("render_") and name != "render_HEAD":
            method = name[len("render_") :]
            if method and callable(getattr(resource, name, None)):
                methods.add(method.encode("ascii", "replace"))
    hasOwnHead = any(
        "render_HEAD" in klass.__dict__
        for klass in type(resource).__mro__
        if klass is not Resource
    )
    if b"GET" in methods or hasOwnHead:
        methods.add(b"HEAD")
    return sorted(methods)


#: Method -> ``render_`` attribute name ("" for a method no attribute may
#: answer), for the methods seen so far; bounded by ``_MAX_RENDER_NAMES``.
_RENDER_NAMES: dict[object, str] = {}
_MAX_RENDER_NAMES = 64


def _renderName(method: object) -> str:
    if isinstance(method, bytes):
        name = method.decode("ascii", "replace")
    else:
        name = str(method)
    if name.isidentifier() and not name.startswith("_"):
        attribute = "render_" + name
    else:
        attribute = ""
    # Methods are chosen by clients: remember only a bounded number.
    if len(_RENDER_NAMES) < _MAX_RENDER_NAMES:
        _RENDER_NAMES[method] = attribute
    return attribute


@implementer(IResource)
class Resource:
    """
    A node of the resource tree.  Subclass it and define ``render_GET``,
    ``render_POST``, ... to answer requests, ``getChild`` to make children
    on demand, or add fixed children with ``putChild``.

    :ivar isLeaf: when true, traversal stops here and this resource renders
        every path below it itself (the rest of the path is left in
        ``request.postpath``).
    :ivar children: the children added with ``putChild``, a dict of path
        segment (bytes) to resource.
    """

    isLeaf: bool = False

    #: The methods this resource answers, for the ``Allow`` header of a 405.
    #: ``None`` (the default) means: computed from the ``render_*`` methods.
    allowedMethods: Sequence[bytes] | None = None

    def __init__(self) -> None:
        """
        Make a resource with no children.
        """
        self.children: dict[bytes, IResource] = {}

    def listStaticNames(self) -> list[bytes]:
        """
        :return: the path segments of the children added with ``putChild``.
        """
        return list(self.children.keys())

    def listStaticEntities(self) -> list[tuple[bytes, IResource]]:
        """
        :return: ``(segment, child)`` pairs for the children added with
            ``putChild``.
        """
        return list(self.children.items())

    def getStaticEntity(self, name: bytes) -> IResource | None:
        """
        :return: the child added with ``putChild`` for ``name``, or
            ``None``.
        """
        return self.children.get(name)

    def delEntity(self, name: bytes) -> None:
        """
        Remove the child added with ``putChild`` for ``name``.

        :raises KeyError: if there is none.
        """
        del self.children[name]

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        """
        Make the child for path segment ``path`` when no static child was
        added for it.  Override this for dynamic children; the default
        answers with a 404 ``NoResource``.

        :param path: the path segment, bytes, already percent-decoded (an
            empty segment, ``b""``, stands for a trailing slash).
        :param request: the request being traversed.
        :return: the child resource.
        """
        return NoResource()

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:
        """
        :param path: the path segment.
        :param request: the request being traversed.
        :return: the static child for ``path`` if there is one, else
            ``getChild(path, request)``.
        """
        children = self.__dict__.get("children")
        if children is not None and path in children:
            child: IResource = children[path]
            return child
        return self.getChild(path, request)

    def putChild(self, path: bytes, child: IResource) -> None:
        """
        Add a static child for the path segment ``path``.

        :param path: one path segment (no slashes), bytes; ``b""`` is the
            child for a trailing slash.
        :param child: the child resource.
        :raises TypeError: if ``path`` is not bytes.
        """
        if not isinstance(path, bytes):
            hint = (
                f": write putChild({path!r}.encode(), ...)"
                if isinstance(path, str)
                else ""
            )
            raise TypeError(
                "putChild needs the path segment as bytes, not"
                f" {type(path).__name__}{hint}"
            )
        if "children" not in self.__dict__:
            # A subclass that forgot to call Resource.__init__.
            self.children = {}
        self.children[path] = child
        server = getattr(self, "server", None)
        if server is not None and getattr(child, "server", None) is None:
            try:
                child.server = server  # type: ignore[attr-defined]
            except AttributeError:
                pass

    def render(self, request: IRequest) -> Any:
        """
        Render ``request`` by calling ``render_<METHOD>(request)`` (``HEAD``
        uses ``render_GET`` unless ``render_HEAD`` is defined).

        :param request: the request.
        :return: what the ``render_`` method returned: bytes,
            ``NOT_DONE_YET``, a ``Deferred`` or a coroutine.
        :raises UnsupportedMethod: if there is no ``render_`` method for the
            request's method.
        """
        method = request.method
        attribute = _RENDER_NAMES.get(method)
        if attribute is None:
            attribute = _renderName(method)
        handler: Callable[[IRequest], Any] | None = None
        if attribute:
            handler = getattr(self, attribute, None)
        if handler is None:
            allowed = self.allowedMethods
            if allowed is None:
                allowed = _computeAllowedMethods(self)
            raise UnsupportedMethod(list(allowed))
        return handler(request)

    def render_HEAD(self, request: IRequest) -> Any:
        """
        Answer ``HEAD`` as ``GET`` would; the server sends the headers
        (including the ``Content-Length`` of the body ``GET`` would give)
        and drops the body.

        :raises UnsupportedMethod: if there is no ``render_GET``.
        """
        renderGet = getattr(self, "render_GET", None)
        if renderGet is None:
            allowed = self.allowedMethods
            if allowed is None:
                allowed = _computeAllowedMethods(self)
            raise UnsupportedMethod(list(allowed))
        return renderGet(request)


def getChildForRequest(resource: IResource, request: IRequest) -> IResource:
    """
    Traverse from ``resource`` along ``request.postpath``: each segment is
    moved from ``postpath`` to ``prepath`` and looked up with
    ``getChildWithDefault``, until the path is used up or a resource with
    ``isLeaf`` set is reached.

    :param resource: where to start, usually the site's root.
    :param request: the request; its ``prepath`` and ``postpath`` change.
    :return: the resource that renders the request.
    """
    while request.postpath and not resource.isLeaf:
        segment = request.postpath.pop(0)
        request.prepath.append(segment)
        resource = resource.getChildWithDefault(segment, request)
    return resource


_ERROR_TEMPLATE = (
    "<!DOCTYPE html>\n<html>\n<head><title>{code} - {brief}</title></head>\n"
    "<body>\n<h1>{brief}</h1>\n<p>{detail}</p>\n</body>\n</html>\n"
)


class ErrorPage(Resource):
    """
    A resource that answers every request, and every path below it, with
    an HTML error page.

    :ivar code: the status code.
    :ivar brief: a short title, such as ``"No Such Resource"``.
    :ivar detail: a longer explanation.
    """

    def __init__(self, status: int, brief: str, detail: str) -> None:
        """
        :param status: the status code to answer with.
        :param brief: a short title (plain text; it is HTML-escaped).
        :param detail: a longer explanation (plain text; it is HTML-escaped).
        """
        Resource.__init__(self)
        self.code = status
        self.brief = brief
        self.detail = detail

    def render(self, request: IRequest) -> bytes:
        """
        :return: the HTML page, after setting the status and a
            ``text/html; charset=utf-8`` content type.
        """
        request.setResponseCode(self.code)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        page = _ERROR_TEMPLATE.format(
            code=self.code,
            brief=html.escape(str(self.brief)),
            detail=html.escape(str(self.detail)),
        )
        return page.encode("utf-8")

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        """
        :return: this page, for any path below it.
        """
        return self


class NoResource(ErrorPage):
    """
    A 404 page.
    """

    def __init__(self, message: str = "Sorry. No luck finding that resource.") -> None:
        """
        :param message: the explanation shown on the page.
        """
        ErrorPage.__init__(self, 404, "No Such Resource", message)


class ForbiddenResource(ErrorPage):
    """
    A 403 page.
    """

    def __init__(self, message: str = "Sorry, resource is forbidden.") -> None:
        """
        :param message: the explanation shown on the page.
        """
        ErrorPage.__init__(self, 403, "Forbidden Resource", message)


class EncodingResourceWrapper(Resource):
    """
    Wraps a resource so that its responses are content-encoded (compressed)
    when the client accepts it, for example::

        from torsion.web.server import GzipEncoderFactory
        wrapped = EncodingResourceWrapper(resource, [GzipEncoderFactory()])

    Each encoder factory is asked in turn (``encoderForRequest(request)``);
    the first that returns an encoder handles the response body.

    :ivar original: the wrapped resource.
    """

    def __init__(self, original: IResource, encoders: Sequence[Any]) -> None:
        """
        :param original: the resource to wrap.
        :param encoders: encoder factories, such as ``GzipEncoderFactory()``.
        """
        Resource.__init__(self)
        self.original = original
        self._encoders = list(encoders)

    @property
    def isLeaf(self) -> bool:  # type: ignore[override]
        """
        The wrapped resource's ``isLeaf``.
        """
        return bool(self.original.isLeaf)

    def _setEncoder(self, request: IRequest) -> None:
        if getattr(request, "_encoder", None) is not None:
            return
        for factory in self._encoders:
            encoder = factory.encoderForRequest(request)
            if encoder is not None:
                request._encoder = encoder  # type: ignore[attr-defined]
                return

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:
        """
        :return: the wrapped resource's child, itself wrapped with the same
            encoders.
        """
        child = self.original.getChildWithDefault(path, request)
        if isinstance(child, EncodingResourceWrapper):
            return child
        return EncodingResourceWrapper(child, self._encoders)

    def putChild(self, path: bytes, child: IResource) -> None:
        """
        Add a child to the wrapped resource.
        """
        self.original.putChild(path, child)

    def render(self, request: IRequest) -> Any:
        """
        Choose an encoder for the request, then render the wrapped resource.
        """
        self._setEncoder(request)
        return self.original.render(request)
