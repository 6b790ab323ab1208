"""
Tests for ``torsion.web.vhost``: name-based virtual hosts and the reverse
proxy helper.
"""

from __future__ import annotations

import pytest
from zope.interface.verify import verifyObject

from torsion.web.iweb import IRequest, IResource
from torsion.web.resource import Resource, getChildForRequest
from torsion.web.testing import DummyRequest, render
from torsion.web.vhost import NameVirtualHost, VHostMonsterResource, hostWithoutPort


class Text(Resource):
    def __init__(self, text: bytes) -> None:
        Resource.__init__(self)
        self.text = text

    def render_GET(self, request: IRequest) -> bytes:
        return self.text


class Leaf(Resource):
    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        return b"leaf:" + b"/".join(request.postpath)


class WhereAmI(Resource):
    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        return request.prePathURL() + b" " + b"/".join(request.postpath)


def makeVHost() -> NameVirtualHost:
    vhost = NameVirtualHost()
    com = Text(b"com-root")
    com.putChild(b"page", Text(b"com-page"))
    org = Text(b"org-root")
    org.putChild(b"page", Text(b"org-page"))
    vhost.addHost(b"example.com", com)
    vhost.addHost(b"Example.ORG", org)
    return vhost


def requestFor(host: bytes | None, segments: list[bytes]) -> DummyRequest:
    request = DummyRequest(segments)
    if host is not None:
        request.requestHeaders.setRawHeaders(b"host", [host])
    return request


def test_verifyObject() -> None:
    verifyObject(IResource, NameVirtualHost())
    verifyObject(IResource, VHostMonsterResource())


@pytest.mark.parametrize(
    "host, expected",
    [
        (b"example.com", b"com-page"),
        (b"EXAMPLE.com:8080", b"com-page"),
        (b"example.org", b"org-page"),
        (b"example.org.", b"org-page"),
    ],
)
async def test_chooseByHost(host: bytes, expected: bytes) -> None:
    vhost = makeVHost()
    request = requestFor(host, [b"page"])
    assert await render(getChildForRequest(vhost, request), request) == expected


async def test_rootOfHost() -> None:
    vhost = makeVHost()
    request = requestFor(b"example.org", [])
    assert await render(getChildForRequest(vhost, request), request) == b"org-root"


async def test_unknownHost404() -> None:
    vhost = makeVHost()
    for host in (b"other.net", None):
        request = requestFor(host, [b"page"])
        await render(getChildForRequest(vhost, request), request)
        assert request.code == 404


async def test_default() -> None:
    vhost = makeVHost()
    vhost.default = Text(b"default")
    request = requestFor(b"other.net", [])
    assert await render(getChildForRequest(vhost, request), request) == b"default"


async def test_removeHost() -> None:
    vhost = makeVHost()
    vhost.removeHost(b"example.com:80")
    request = requestFor(b"example.com", [b"page"])
    await render(getChildForRequest(vhost, request), request)
    assert request.code == 404
    with pytest.raises(KeyError):
        vhost.removeHost(b"example.com")


def test_addHostNeedsBytes() -> None:
    with pytest.raises(TypeError):
        NameVirtualHost().addHost("example.com", Resource())  # type: ignore[arg-type]


async def test_leafHostGetsWholePath() -> None:
    vhost = NameVirtualHost()
    vhost.addHost(b"leaf.example", Leaf())
    request = requestFor(b"leaf.example", [b"a", b"b"])
    assert await render(getChildForRequest(vhost, request), request) == b"leaf:a/b"


def test_hostWithoutPort() -> None:
    assert hostWithoutPort(b"[::1]:8080") == b"[::1]"
    assert hostWithoutPort(b"[::1]") == b"[::1]"
    assert hostWithoutPort(b"Host:1") == b"host"
    assert hostWithoutPort(b"host") == b"host"


class FakeSite:
    def __init__(self, resource: IResource) -> None:
        self.resource = resource


@pytest.mark.parametrize(
    "segments, expected",
    [
        (
            [b"vhost", b"https", b"public.example:8443", b"app", b"x"],
            b"https://public.example:8443/app x",
        ),
        (
            [b"vhost", b"https", b"public.example", b"app"],
            b"https://public.example/app ",
        ),
        (
            [b"vhost", b"http", b"public.example:80", b"app", b"x", b"y"],
            b"http://public.example/app x/y",
        ),
    ],
)
async def test_vhostMonster(segments: list[bytes], expected: bytes) -> None:
    root = Resource()
    root.putChild(b"vhost", VHostMonsterResource())
    root.putChild(b"app", WhereAmI())
    request = DummyRequest(segments)
    request.site = FakeSite(root)
    body = await render(getChildForRequest(root, request), request)
    assert body == expected
    assert request.isSecure() == (segments[1] == b"https")


@pytest.mark.parametrize(
    "segments",
    [
        [b"vhost", b"ftp", b"h"],
        [b"vhost", b"http", b"h:notaport"],
        [b"vhost", b"http", b"h:70000"],
        [b"vhost", b"http", b":80"],
        [b"vhost", b"http", b"[::1"],
    ],
)
async def test_vhostMonsterBadInput(segments: list[bytes]) -> None:
    root = Resource()
    root.putChild(b"vhost", VHostMonsterResource())
    request = DummyRequest(segments)
    request.site = FakeSite(root)
    await render(getChildForRequest(root, request), request)
    assert request.code == 404
