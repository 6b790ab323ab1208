"""
Tests for ``torsion.web.vhost``: name-based virtual hosts and the reverse
proxy helper.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from peerhelpers import exchange
from webhelpers import inThread, listen
from zope.interface.verify import verifyObject

from torsion.web.iweb import IRequest, IResource
from torsion.web.resource import Resource, getChildForRequest
from torsion.web.server import Site
from torsion.web.static import File
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


class Describe(Resource):
    """
    Answers with JSON describing how the request looks to the application.
    """

    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        return json.dumps(
            {
                "uri": request.uri.decode(),
                "path": request.path.decode(),
                "prePathURL": request.prePathURL().decode(),
                "URLPath": str(request.URLPath()),
                "args": {
                    k.decode(): [v.decode() for v in vs]
                    for k, vs in sorted(request.args.items())
                },
                "secure": request.isSecure(),
                "postpath": [segment.decode() for segment in request.postpath],
            }
        ).encode()


def _get(port: int, target: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    """
    One request through a real socket.

    :return: the status line, the header fields (lower-case names) and the
        body.
    """
    answer = exchange(
        port,
        b"GET " + target + b" HTTP/1.1\r\nHost: backend\r\nConnection: close\r\n\r\n",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    fields = {}
    for line in lines:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    return status, fields, body


@pytest.fixture
def monsterSite(tmp_path: Path) -> Site:
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "page.txt").write_bytes(b"page")
    root = Resource()
    root.putChild(b"vhost", VHostMonsterResource())
    root.putChild(b"dir", File(str(tmp_path / "dir")))
    root.putChild(b"where", Describe())
    return Site(root)


async def test_vhostMonsterDirectoryRedirectIsPublic(
    reactor: Any, monsterSite: Site
) -> None:
    """
    ``static.File`` redirects a directory without its slash to the public
    path, not to the backend's ``/vhost/...`` one; the query string is
    kept, and the redirected-to URL serves the directory's files.
    """
    port = listen(reactor, monsterSite)
    number = port.getHost().port
    try:
        status, fields, _ = await inThread(
            _get, number, b"/vhost/https/example.com:443/dir"
        )
        assert status.startswith(b"HTTP/1.1 301 ")
        assert fields[b"location"] == b"/dir/"
        status, fields, _ = await inThread(
            _get, number, b"/vhost/https/example.com:443/dir?sort=name"
        )
        assert status.startswith(b"HTTP/1.1 301 ")
        assert fields[b"location"] == b"/dir/?sort=name"
        status, _, body = await inThread(
            _get, number, b"/vhost/https/example.com:443/dir/page.txt"
        )
        assert status.startswith(b"HTTP/1.1 200 ")
        assert body == b"page"
    finally:
        await port.stopListening()


async def test_vhostMonsterPublicURL(reactor: Any, monsterSite: Site) -> None:
    """
    ``uri``, ``path``, ``prePathURL()`` and ``URLPath()`` are the public
    ones; the query string and percent-encoding survive.
    """
    port = listen(reactor, monsterSite)
    number = port.getHost().port
    try:
        _, _, body = await inThread(
            _get, number, b"/vhost/https/example.com:443/where/a%20b?q=1&r=2"
        )
        assert json.loads(body) == {
            "uri": "/where/a%20b?q=1&r=2",
            "path": "/where/a%20b",
            "prePathURL": "https://example.com/where",
            "URLPath": "https://example.com/where",
            "args": {"q": ["1"], "r": ["2"]},
            "secure": True,
            "postpath": ["a b"],
        }
        _, _, body = await inThread(_get, number, b"/vhost/http/example.com:8080/where")
        answer = json.loads(body)
        assert (answer["uri"], answer["prePathURL"], answer["secure"]) == (
            "/where",
            "http://example.com:8080/where",
            False,
        )
    finally:
        await port.stopListening()


async def test_vhostMonsterIPv6Host(reactor: Any, monsterSite: Site) -> None:
    """
    A bracketed IPv6 literal with a port names the public host.
    """
    port = listen(reactor, monsterSite)
    number = port.getHost().port
    try:
        _, _, body = await inThread(
            _get, number, b"/vhost/https/[::1]:8443/where/x?y=z"
        )
        answer = json.loads(body)
        assert answer["uri"] == "/where/x?y=z"
        assert answer["prePathURL"] == "https://[::1]:8443/where"
        assert answer["URLPath"] == "https://[::1]:8443/where"
        status, fields, _ = await inThread(_get, number, b"/vhost/https/[::1]:8443/dir")
        assert status.startswith(b"HTTP/1.1 301 ")
        assert fields[b"location"] == b"/dir/"
    finally:
        await port.stopListening()


async def test_vhostMonsterMountedBelowRoot() -> None:
    """
    Mounted deeper than the root, the monster still makes the public path
    start at the site's root (where traversal starts again), so ``uri``
    and ``prePathURL`` agree with the resource served.
    """
    root = Resource()
    below = Resource()
    root.putChild(b"proxied", below)
    below.putChild(b"vhost", VHostMonsterResource())
    root.putChild(b"app", WhereAmI())
    request = DummyRequest(
        [b"proxied", b"vhost", b"http", b"pub.example", b"app", b"x"]
    )
    request.setQuery(b"k=v")
    request.site = FakeSite(root)
    body = await render(getChildForRequest(root, request), request)
    assert body == b"http://pub.example/app x"
    assert request.uri == b"/app/x?k=v"
    assert request.path == b"/app/x"
