"""
Tests for ``torsion.web.resource``: traversal, ``render`` dispatch, error
pages and the encoding wrapper, driven through ``DummyRequest``.
"""

from __future__ import annotations

from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.internet.defer import Deferred, succeed
from torsion.web.iweb import IRequest, IResource
from torsion.web.resource import (
    NOT_DONE_YET,
    EncodingResourceWrapper,
    ErrorPage,
    ForbiddenResource,
    NoResource,
    Resource,
    UnsupportedMethod,
    getChildForRequest,
)
from torsion.web.testing import DummyRequest, render


class Leaf(Resource):
    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        return b"leaf:" + b"/".join(request.postpath)


class Named(Resource):
    def __init__(self, name: bytes) -> None:
        Resource.__init__(self)
        self.name = name

    def render_GET(self, request: IRequest) -> bytes:
        return self.name


class Dynamic(Resource):
    def getChild(self, path: bytes, request: IRequest) -> IResource:
        return Named(b"dynamic:" + path)


def test_verifyObject() -> None:
    verifyObject(IResource, Resource())
    verifyObject(IResource, NoResource())
    verifyObject(IResource, ErrorPage(400, "x", "y"))
    verifyObject(IResource, EncodingResourceWrapper(Resource(), []))


def test_traversalPutChild() -> None:
    root = Resource()
    a = Named(b"a")
    b = Named(b"b")
    root.putChild(b"a", a)
    a.putChild(b"b", b)
    request = DummyRequest([b"a", b"b"])
    assert getChildForRequest(root, request) is b
    assert request.prepath == [b"a", b"b"]
    assert request.postpath == []


def test_traversalRootOnly() -> None:
    root = Resource()
    request = DummyRequest([])
    assert getChildForRequest(root, request) is root
    assert request.prepath == []


def test_traversalTrailingSlash() -> None:
    root = Resource()
    a = Named(b"a")
    index = Named(b"index")
    root.putChild(b"a", a)
    a.putChild(b"", index)
    request = DummyRequest([b"a", b""])
    assert getChildForRequest(root, request) is index


def test_traversalStopsAtLeaf() -> None:
    root = Resource()
    leaf = Leaf()
    root.putChild(b"l", leaf)
    request = DummyRequest([b"l", b"x", b"y"])
    assert getChildForRequest(root, request) is leaf
    assert request.prepath == [b"l"]
    assert request.postpath == [b"x", b"y"]


async def test_leafRendersRestOfPath() -> None:
    root = Resource()
    root.putChild(b"l", Leaf())
    request = DummyRequest([b"l", b"x", b"y"])
    body = await render(getChildForRequest(root, request), request)
    assert body == b"leaf:x/y"


def test_getChildDynamic() -> None:
    root = Dynamic()
    static = Named(b"static")
    root.putChild(b"s", static)
    request = DummyRequest([b"s"])
    assert getChildForRequest(root, request) is static
    request = DummyRequest([b"other"])
    child = getChildForRequest(root, request)
    assert isinstance(child, Named)
    assert child.name == b"dynamic:other"


def test_getChildDefaultIsNoResource() -> None:
    request = DummyRequest([b"missing"])
    child = getChildForRequest(Resource(), request)
    assert isinstance(child, NoResource)


async def test_noResourceBelowIsStill404() -> None:
    request = DummyRequest([b"missing", b"deeper", b"still"])
    child = getChildForRequest(Resource(), request)
    await render(child, request)
    assert request.code == 404


def test_putChildStrRejected() -> None:
    with pytest.raises(TypeError, match=r"bytes.*encode"):
        Resource().putChild("name", Resource())  # type: ignore[arg-type]


def test_putChildWithoutInit() -> None:
    class Lazy(Resource):
        def __init__(self) -> None:
            pass

    r = Lazy()
    child = Named(b"c")
    r.putChild(b"c", child)
    assert r.getChildWithDefault(b"c", DummyRequest([])) is child


def test_staticEntities() -> None:
    r = Resource()
    c = Resource()
    r.putChild(b"c", c)
    assert r.listStaticNames() == [b"c"]
    assert r.listStaticEntities() == [(b"c", c)]
    assert r.getStaticEntity(b"c") is c
    r.delEntity(b"c")
    assert r.getStaticEntity(b"c") is None


async def test_renderDispatch() -> None:
    class Methods(Resource):
        def render_GET(self, request: IRequest) -> bytes:
            return b"get"

        def render_POST(self, request: IRequest) -> bytes:
            return b"post"

    request = DummyRequest([])
    assert await render(Methods(), request) == b"get"
    request = DummyRequest([])
    request.method = b"POST"
    assert await render(Methods(), request) == b"post"


async def test_headUsesGet() -> None:
    request = DummyRequest([])
    request.method = b"HEAD"
    body = await render(Named(b"hello"), request)
    assert body == b""
    assert request.responseHeaders.getRawHeaders(b"content-length") == [b"5"]


async def test_unsupportedMethod405() -> None:
    request = DummyRequest([])
    request.method = b"DELETE"
    await render(Named(b"x"), request)
    assert request.code == 405
    assert request.responseHeaders.getRawHeaders(b"allow") == [b"GET, HEAD"]


def test_unsupportedMethodException() -> None:
    class PostOnly(Resource):
        def render_POST(self, request: IRequest) -> bytes:
            return b""

    request = DummyRequest([])
    with pytest.raises(UnsupportedMethod) as info:
        PostOnly().render(request)
    assert list(info.value.allowedMethods) == [b"POST"]
    assert "POST" in str(info.value)
    request.method = b"HEAD"
    with pytest.raises(UnsupportedMethod):
        PostOnly().render(request)


def test_unsupportedMethodNeedsSequence() -> None:
    with pytest.raises(TypeError):
        UnsupportedMethod(b"GET")  # type: ignore[arg-type]


def test_oddMethodNames() -> None:
    r = Named(b"x")
    for method in (b"__class__", b"GET X", b"\xff", b""):
        request = DummyRequest([])
        request.method = method
        with pytest.raises(UnsupportedMethod):
            r.render(request)


def test_explicitAllowedMethods() -> None:
    class Explicit(Resource):
        allowedMethods = (b"GET", b"OPTIONS")

    request = DummyRequest([])
    with pytest.raises(UnsupportedMethod) as info:
        Explicit().render(request)
    assert list(info.value.allowedMethods) == [b"GET", b"OPTIONS"]


async def test_deferredRendering() -> None:
    d: Deferred[bytes] = Deferred()

    class Later(Resource):
        def render_GET(self, request: IRequest) -> Deferred[bytes]:
            return d

    request = DummyRequest([])
    result = render(Later(), request)
    assert request.written == []
    d.callback(b"later")
    assert await result == b"later"
    assert request.finished == 1


async def test_asyncRendering() -> None:
    class Async(Resource):
        async def render_GET(self, request: IRequest) -> bytes:
            return await succeed(b"async")

    request = DummyRequest([])
    assert await render(Async(), request) == b"async"


async def test_asyncFailure() -> None:
    class Broken(Resource):
        async def render_GET(self, request: IRequest) -> bytes:
            raise ValueError("broken")

    request = DummyRequest([])
    await render(Broken(), request)
    assert request.code == 500
    assert request.failures[0].check(ValueError)


async def test_notDoneYet() -> None:
    class Manual(Resource):
        def render_GET(self, request: IRequest) -> Any:
            self.request = request
            request.write(b"part1,")
            return NOT_DONE_YET

    r = Manual()
    request = DummyRequest([])
    result = render(r, request)
    assert request.written == [b"part1,"]
    request.write(b"part2")
    request.finish()
    assert await result == b"part1,part2"


async def test_renderNotBytesFails() -> None:
    class Wrong(Resource):
        def render_GET(self, request: IRequest) -> Any:
            return "text"

    request = DummyRequest([])
    await render(Wrong(), request)
    assert request.code == 500
    assert request.failures[0].check(TypeError)


async def test_errorPageEscapes() -> None:
    page = ErrorPage(418, "<b>brief</b>", "<script>alert(1)</script>")
    request = DummyRequest([])
    body = await render(page, request)
    assert request.code == 418
    assert b"<script>" not in body
    assert b"&lt;script&gt;" in body
    assert b"&lt;b&gt;brief&lt;/b&gt;" in body
    assert request.responseHeaders.getRawHeaders(b"content-type") == [
        b"text/html; charset=utf-8"
    ]


async def test_noResourceAndForbidden() -> None:
    request = DummyRequest([])
    await render(NoResource("gone"), request)
    assert request.code == 404
    request = DummyRequest([])
    request.method = b"POST"
    body = await render(ForbiddenResource(), request)
    assert request.code == 403
    assert b"Forbidden" in body
    assert ErrorPage(400, "a", "b").getChild(b"x", request).code == 400  # type: ignore[attr-defined]


def test_encodingWrapperTraversal() -> None:
    class Factory:
        def encoderForRequest(self, request: IRequest) -> object:
            return "encoder"

    root = Resource()
    leaf = Leaf()
    root.putChild(b"l", leaf)
    wrapped = EncodingResourceWrapper(root, [Factory()])
    request = DummyRequest([b"l", b"more"])
    child = getChildForRequest(wrapped, request)
    assert isinstance(child, EncodingResourceWrapper)
    assert child.original is leaf
    assert child.isLeaf
    assert request.postpath == [b"more"]
    child.render(request)
    assert request._encoder == "encoder"  # type: ignore[attr-defined]


def test_methodNameCacheBounded() -> None:
    from torsion.web import resource

    r = Named(b"x")
    for i in range(resource._MAX_RENDER_NAMES * 3):
        request = DummyRequest([])
        request.method = b"M%d" % i
        with pytest.raises(UnsupportedMethod):
            r.render(request)
    assert len(resource._RENDER_NAMES) <= resource._MAX_RENDER_NAMES
    request = DummyRequest([])
    assert r.render(request) == b"x"
