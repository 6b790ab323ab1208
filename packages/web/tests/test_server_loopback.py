"""
``Site`` over real loopback sockets with real clients: ``requests``,
``http.client`` and curl (gzip with ``--compressed``, sessions across
requests, asynchronous rendering, HTTP authentication with Basic and
Digest).
"""

from __future__ import annotations

import gzip
import http.client
from typing import Any

import requests
from requests.auth import HTTPBasicAuth, HTTPDigestAuth
from webhelpers import inThread, listen, requireCommand, runPeer
from zope.interface import Interface, implementer

from torsion.cred.checkers import InMemoryUsernamePasswordDatabase
from torsion.cred.portal import IRealm, Portal
from torsion.internet import task
from torsion.trial import unittest
from torsion.web.guard import (
    BasicCredentialFactory,
    DigestCredentialFactory,
    HTTPAuthSessionWrapper,
)
from torsion.web.iweb import IRequest, IResource
from torsion.web.resource import NOT_DONE_YET, EncodingResourceWrapper, Resource
from torsion.web.server import GzipEncoderFactory, Site
from torsion.web.util import Redirect

BIG = b"".join(b"line %d of a compressible body\n" % i for i in range(2000))


class Text(Resource):
    isLeaf = True

    def __init__(self, body: bytes) -> None:
        Resource.__init__(self)
        self.body = body

    def render_GET(self, request: IRequest) -> bytes:
        request.setHeader(b"content-type", b"text/plain")
        return self.body


class Later(Resource):
    """
    Answers after a reactor turn, from an ``async def``.
    """

    isLeaf = True

    def __init__(self, reactor: Any) -> None:
        Resource.__init__(self)
        self.reactor = reactor

    async def render_GET(self, request: IRequest) -> bytes:
        await task.deferLater(self.reactor, 0, lambda: None)
        return b"async:" + b"/".join(request.postpath)

    def render_POST(self, request: IRequest) -> bytes:
        assert request.content is not None
        body: bytes = request.content.read()
        return b"posted:" + body + b":" + b",".join(request.args.get(b"a", []))


class Streamed(Resource):
    isLeaf = True

    def __init__(self, reactor: Any) -> None:
        Resource.__init__(self)
        self.reactor = reactor

    def render_GET(self, request: IRequest) -> int:
        request.setHeader(b"content-type", b"text/plain")
        request.write(b"first ")

        def later() -> None:
            request.write(b"second")
            request.finish()

        self.reactor.callLater(0, later)
        return NOT_DONE_YET


class Counter(Resource):
    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        # The test keeps its own attribute on the session object.
        session: Any = request.getSession()
        session.count = getattr(session, "count", 0) + 1
        return b"%d" % session.count


class Broken(Resource):
    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        raise RuntimeError("<b>boom</b>")


def makeRoot(reactor: Any) -> Resource:
    root = Resource()
    root.putChild(b"text", Text(b"plain text"))
    root.putChild(b"big", EncodingResourceWrapper(Text(BIG), [GzipEncoderFactory()]))
    root.putChild(b"later", Later(reactor))
    root.putChild(b"stream", Streamed(reactor))
    root.putChild(b"count", Counter())
    root.putChild(b"broken", Broken())
    root.putChild(b"redirect", Redirect(b"/text"))
    return root


async def serve(reactor: Any, root: IResource) -> tuple[Any, str, Site]:
    site = Site(root, reactor=reactor)
    site.log = lambda request: None  # type: ignore[method-assign]
    port = listen(reactor, site)
    return port, f"http://127.0.0.1:{port.getHost().port}", site


async def test_requestsBasics(reactor: Any) -> None:
    port, base, _site = await serve(reactor, makeRoot(reactor))
    try:

        def client() -> list[Any]:
            with requests.Session() as s:
                return [
                    s.get(base + "/text"),
                    s.head(base + "/text"),
                    s.get(base + "/later/a/b"),
                    s.post(base + "/later", data={"a": "1"}),
                    s.delete(base + "/text"),
                    s.get(base + "/stream"),
                    s.get(base + "/nowhere"),
                    s.get(base + "/redirect"),
                ]

        text, head, later, post, delete, stream, missing, redirect = await inThread(
            client
        )
    finally:
        await port.stopListening()
    assert (text.status_code, text.content) == (200, b"plain text")
    assert text.headers["Content-Length"] == "10"
    assert head.status_code == 200
    assert head.headers["Content-Length"] == "10"
    assert head.content == b""
    assert later.content == b"async:a/b"
    assert post.content == b"posted:a=1:1"
    assert delete.status_code == 405
    assert delete.headers["Allow"] == "GET, HEAD"
    assert stream.content == b"first second"
    assert missing.status_code == 404
    assert redirect.status_code == 200
    assert redirect.content == b"plain text"
    assert redirect.history[0].status_code == 302


class FailureOverSocketTests(unittest.TestCase):
    async def test_failureOverSocket(self) -> None:
        from torsion.internet import reactor

        port, base, _ = await serve(reactor, makeRoot(reactor))
        try:
            response = await inThread(requests.get, base + "/broken")
        finally:
            await port.stopListening()
        assert response.status_code == 500
        assert b"boom" not in response.content
        assert b"Processing Failed" in response.content
        # The traceback went to the log (and only there).
        [failure] = self.flushLoggedErrors(RuntimeError)
        assert "<b>boom</b>" in failure.getErrorMessage()


async def test_gzipRequests(reactor: Any) -> None:
    port, base, _site = await serve(reactor, makeRoot(reactor))
    try:
        response = await inThread(requests.get, base + "/big", stream=True)
        raw = response.raw.read(decode_content=False)
        decoded = await inThread(requests.get, base + "/big")
    finally:
        await port.stopListening()
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert len(raw) < len(BIG) / 5
    assert gzip.decompress(raw) == BIG
    assert decoded.content == BIG


async def test_gzipCurlCompressed(reactor: Any) -> None:
    curl = requireCommand("curl")
    port, base, _site = await serve(reactor, makeRoot(reactor))
    try:
        compressed = await runPeer(
            [curl, "-sS", "--compressed", "-D", "-", base + "/big"]
        )
        plain = await runPeer([curl, "-sS", "-D", "-", base + "/big"])
    finally:
        await port.stopListening()
    assert compressed.returncode == 0, compressed.stderr
    head, _, body = compressed.stdout.partition(b"\r\n\r\n")
    assert b"content-encoding: gzip" in head.lower()
    assert body == BIG
    head, _, body = plain.stdout.partition(b"\r\n\r\n")
    assert b"content-encoding" not in head.lower()
    assert body == BIG


async def test_sessionAcrossRequests(reactor: Any) -> None:
    port, base, site = await serve(reactor, makeRoot(reactor))
    try:

        def client() -> tuple[list[bytes], list[bytes], Any]:
            with requests.Session() as s:
                first = [s.get(base + "/count").content for _ in range(3)]
                cookie = s.cookies.get("TORSION_SESSION")
            with requests.Session() as other:
                second = [other.get(base + "/count").content for _ in range(2)]
            return first, second, cookie

        first, second, cookie = await inThread(client)
    finally:
        await port.stopListening()
        for session in list(site.sessions.values()):
            session.expire()
    assert first == [b"1", b"2", b"3"]
    assert second == [b"1", b"2"]
    assert cookie is not None and len(cookie) == 64


async def test_httpClientKeepAlive(reactor: Any) -> None:
    port, _base, _site = await serve(reactor, makeRoot(reactor))
    portNumber = port.getHost().port
    try:

        def client() -> list[tuple[int, bytes]]:
            connection = http.client.HTTPConnection("127.0.0.1", portNumber)
            results = []
            try:
                for path in ("/text", "/later/x", "/stream", "/text"):
                    connection.request("GET", path)
                    response = connection.getresponse()
                    results.append((response.status, response.read()))
            finally:
                connection.close()
            return results

        results = await inThread(client)
    finally:
        await port.stopListening()
    assert results == [
        (200, b"plain text"),
        (200, b"async:x"),
        (200, b"first second"),
        (200, b"plain text"),
    ]


# -- guard ------------------------------------------------------------------


class Private(Resource):
    isLeaf = True

    def __init__(self, avatarId: bytes) -> None:
        Resource.__init__(self)
        self.avatarId = avatarId

    def render_GET(self, request: IRequest) -> bytes:
        return b"hello " + self.avatarId + b" at /" + b"/".join(request.postpath)


@implementer(IRealm)
class Realm:
    def requestAvatar(
        self, avatarId: Any, mind: object, *interfaces: type[Interface]
    ) -> Any:
        return IResource, Private(avatarId), lambda: None


def guarded() -> Resource:
    portal = Portal(Realm(), [InMemoryUsernamePasswordDatabase(alice=b"s3cret")])
    root = Resource()
    root.putChild(
        b"basic",
        HTTPAuthSessionWrapper(portal, [BasicCredentialFactory(b"basic realm")]),
    )
    root.putChild(
        b"digest",
        HTTPAuthSessionWrapper(portal, [DigestCredentialFactory(b"md5", b"dr")]),
    )
    root.putChild(
        b"sha",
        HTTPAuthSessionWrapper(portal, [DigestCredentialFactory(b"sha-256", b"dr")]),
    )
    return root


async def test_guardRequests(reactor: Any) -> None:
    port, base, _site = await serve(reactor, guarded())
    try:

        def client() -> list[Any]:
            return [
                requests.get(base + "/basic/x"),
                requests.get(base + "/basic/x", auth=HTTPBasicAuth("alice", "s3cret")),
                requests.get(base + "/basic/x", auth=HTTPBasicAuth("alice", "wrong")),
                requests.get(
                    base + "/digest/a/b?q=1", auth=HTTPDigestAuth("alice", "s3cret")
                ),
                requests.get(base + "/digest/a", auth=HTTPDigestAuth("alice", "bad")),
            ]

        def reuse() -> list[int]:
            # One nonce for several requests: the client counts them (nc).
            auth = HTTPDigestAuth("alice", "s3cret")
            with requests.Session() as s:
                return [s.get(base + "/sha/p", auth=auth).status_code for _ in range(4)]

        none, basic, wrongBasic, digest, wrongDigest = await inThread(client)
        reused = await inThread(reuse)
    finally:
        await port.stopListening()
    assert none.status_code == 401
    assert none.headers["WWW-Authenticate"].startswith('Basic realm="basic realm"')
    assert (basic.status_code, basic.content) == (200, b"hello alice at /x")
    assert wrongBasic.status_code == 401
    assert (digest.status_code, digest.content) == (200, b"hello alice at /a/b")
    assert wrongDigest.status_code == 401
    assert reused == [200, 200, 200, 200]


async def test_guardCurlDigest(reactor: Any) -> None:
    curl = requireCommand("curl")
    port, base, _site = await serve(reactor, guarded())
    try:
        good = await runPeer(
            [curl, "-sS", "--digest", "-u", "alice:s3cret", base + "/digest/page"]
        )
        sha = await runPeer(
            [curl, "-sS", "--digest", "-u", "alice:s3cret", base + "/sha/page"]
        )
        bad = await runPeer(
            [
                curl,
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--digest",
                "-u",
                "alice:nope",
                base + "/digest/page",
            ]
        )
        basic = await runPeer(
            [curl, "-sS", "--basic", "-u", "alice:s3cret", base + "/basic/"]
        )
    finally:
        await port.stopListening()
    assert good.stdout == b"hello alice at /page", good.stderr
    assert sha.stdout == b"hello alice at /page", sha.stderr
    assert bad.stdout == b"401"
    assert basic.stdout == b"hello alice at /"
