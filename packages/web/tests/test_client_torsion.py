"""
``torsion.web.client`` against torsion's own server (``torsion.web.server``)
over loopback: keep-alive, uploads, redirects and gzip, end to end.
"""

from __future__ import annotations

import io
import json
from typing import Any

from webhelpers import listen

from torsion.web import client
from torsion.web.client import (
    Agent,
    ContentDecoderAgent,
    FileBodyProducer,
    GzipDecoder,
    HTTPConnectionPool,
    RedirectAgent,
    readBody,
)
from torsion.web.http_headers import Headers
from torsion.web.resource import EncodingResourceWrapper, Resource
from torsion.web.server import GzipEncoderFactory, Site
from torsion.web.util import redirectTo


class Echo(Resource):
    isLeaf = True

    def render(self, request: Any) -> bytes:
        body = request.content.read()
        request.setHeader(b"content-type", b"application/json")
        return json.dumps(
            {
                "method": request.method.decode(),
                "uri": request.uri.decode(),
                "body": body.decode("latin-1"),
                "port": request.getClientAddress().port,
                "authorization": (request.getHeader(b"authorization") or b"").decode(),
            }
        ).encode()


class Redirecting(Resource):
    isLeaf = True

    def __init__(self, target: bytes) -> None:
        Resource.__init__(self)
        self.target = target

    def render_GET(self, request: Any) -> bytes:
        return redirectTo(self.target, request)


class Large(Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"content-type", b"text/plain")
        return b"torsion " * 20000


def makeSite(redirectTarget: bytes = b"/echo") -> Site:
    root = Resource()
    root.putChild(b"echo", Echo())
    root.putChild(b"redirect", Redirecting(redirectTarget))
    root.putChild(b"large", EncodingResourceWrapper(Large(), [GzipEncoderFactory()]))
    return Site(root)


async def test_keepAliveAndUpload(reactor: Any) -> None:
    port = listen(reactor, makeSite())
    pool = HTTPConnectionPool(reactor)
    try:
        agent = Agent(reactor, pool=pool)
        base = b"http://127.0.0.1:%d" % port.getHost().port
        answers = []
        for i in range(3):
            response = await agent.request(
                b"POST",
                base + b"/echo?n=%d" % i,
                Headers({b"content-type": [b"text/plain"]}),
                FileBodyProducer(io.BytesIO(b"body %d" % i)),
            )
            assert response.code == 200
            answers.append(json.loads(await readBody(response)))
        assert [a["body"] for a in answers] == ["body 0", "body 1", "body 2"]
        assert len({a["port"] for a in answers}) == 1

        class Unseekable:
            def __init__(self) -> None:
                self.pieces = [b"a" * 5000, b"b" * 5000]

            def read(self, n: int) -> bytes:
                return self.pieces.pop(0) if self.pieces else b""

        response = await agent.request(
            b"PUT", base + b"/echo", None, FileBodyProducer(Unseekable())
        )
        answer = json.loads(await readBody(response))
        assert answer["body"] == "a" * 5000 + "b" * 5000
        assert answer["port"] == answers[0]["port"]
    finally:
        await pool.closeCachedConnections()
        await port.stopListening()


async def test_crossOriginRedirectAndGzip(reactor: Any) -> None:
    target = listen(reactor, makeSite())
    targetURL = b"http://127.0.0.1:%d/echo" % target.getHost().port
    origin = listen(reactor, makeSite(targetURL))
    pool = HTTPConnectionPool(reactor)
    try:
        agent = RedirectAgent(
            ContentDecoderAgent(Agent(reactor, pool=pool), [(b"gzip", GzipDecoder)])
        )
        base = b"http://127.0.0.1:%d" % origin.getHost().port
        response = await agent.request(
            b"GET",
            base + b"/redirect",
            Headers({b"authorization": [b"Bearer secret"]}),
        )
        answer = json.loads(await readBody(response))
        assert answer["uri"] == "/echo"
        assert answer["authorization"] == ""
        assert response.previousResponse.code == 302

        response = await agent.request(b"GET", base + b"/large")
        assert await readBody(response) == b"torsion " * 20000
        assert response.previousResponse is None
    finally:
        await pool.closeCachedConnections()
        await target.stopListening()
        await origin.stopListening()


async def test_shortAPI(reactor: Any) -> None:
    port = listen(reactor, makeSite())
    try:
        base = f"http://127.0.0.1:{port.getHost().port}"
        response = await client.post(base + "/echo", json={"x": 1}, timeout=10)
        assert json.loads((await response.json())["body"]) == {"x": 1}
        response = await client.get(base + "/large", timeout=10)
        assert await response.text() == "torsion " * 20000
        response = await client.get(base + "/redirect")
        assert (await response.json())["uri"] == "/echo"
    finally:
        await client.closeDefaultPool(reactor)
        await port.stopListening()


async def test_throughTorsionForwardProxy(reactor: Any) -> None:
    from torsion.internet.endpoints import TCP4ClientEndpoint
    from torsion.web import http, proxy
    from torsion.web.client import ProxyAgent

    origin = listen(reactor, makeSite())
    factory = http.HTTPFactory(reactor=reactor)
    factory.protocol = proxy.Proxy
    forward = listen(reactor, factory)
    pool = HTTPConnectionPool(reactor)
    try:
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", forward.getHost().port)
        agent = ProxyAgent(endpoint, reactor, pool=pool)
        target = b"http://127.0.0.1:%d/echo?via=torsion" % origin.getHost().port
        response = await agent.request(
            b"POST", target, None, FileBodyProducer(io.BytesIO(b"proxied"))
        )
        answer = json.loads(await readBody(response))
        assert (answer["uri"], answer["body"]) == ("/echo?via=torsion", "proxied")
    finally:
        await pool.closeCachedConnections()
        await forward.stopListening()
        await origin.stopListening()


async def test_usingEndpointFactory(reactor: Any) -> None:
    from torsion.internet.endpoints import TCP4ClientEndpoint

    port = listen(reactor, makeSite())
    asked: list[Any] = []

    class ToLocalServer:
        def endpointForURI(self, uri: Any) -> Any:
            asked.append((uri.scheme, uri.host, uri.port))
            return TCP4ClientEndpoint(reactor, "127.0.0.1", port.getHost().port)

    pool = HTTPConnectionPool(reactor)
    try:
        agent = Agent.usingEndpointFactory(reactor, ToLocalServer(), pool)
        for _ in range(2):
            response = await agent.request(b"GET", b"http://service.invalid/echo")
            answer = json.loads(await readBody(response))
            assert answer["uri"] == "/echo"
        # The second request reused the first connection: one endpoint made.
        assert asked == [(b"http", b"service.invalid", 80)]
    finally:
        await pool.closeCachedConnections()
        await port.stopListening()
