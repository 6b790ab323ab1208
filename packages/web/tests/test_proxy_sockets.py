"""
``torsion.web.proxy`` over real sockets: the forward proxy (``Proxy``) and
the reverse proxy (``ReverseProxyResource``) in front of Python's own
``http.server`` (a foreign upstream) and of a torsion ``Site``, fetched with
``requests``.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from peerhelpers import deadPort, serving
from webhelpers import inThread, listen

from torsion.web import http, proxy

BIG = 32 * 1024 * 1024


class _Upstream(BaseHTTPRequestHandler):
    """
    ``GET /headers`` answers the request line and headers as JSON; ``POST``
    answers the body's length and SHA-256; ``GET /big`` streams ``BIG``
    bytes with a Content-Length.
    """

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _json(self, value: Any) -> None:
        body = json.dumps(value).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close, X-Upstream-Hop")
        self.send_header("X-Upstream-Hop", "dropped")
        self.send_header("X-Upstream", "kept")
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path == "/big":
            self.send_response(200)
            self.send_header("Content-Length", str(BIG))
            self.end_headers()
            block = b"0123456789abcdef" * 4096
            for _ in range(BIG // len(block)):
                self.wfile.write(block)
            return
        self._json(
            {
                "path": self.path,
                "headers": [[k.lower(), v] for k, v in self.headers.items()],
            }
        )

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        data = self.rfile.read(length)
        self._json({"length": len(data), "sha256": hashlib.sha256(data).hexdigest()})


class ForeignUpstream:
    """
    Python's ``http.server`` serving ``_Upstream`` in a thread.
    """

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Upstream)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(
            target=self.server.serve_forever, args=(0.05,), daemon=True
        )
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


@pytest.fixture
def upstream() -> Iterator[ForeignUpstream]:
    server = ForeignUpstream()
    try:
        yield server
    finally:
        server.stop()


def headerDict(answer: dict[str, Any]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in answer["headers"]:
        result.setdefault(name, []).append(value)
    return result


def forwardProxyFactory(reactor: Any) -> http.HTTPFactory:
    factory = http.HTTPFactory(reactor=reactor)
    factory.protocol = proxy.Proxy
    return factory


async def test_forwardProxyGET(reactor: Any, upstream: ForeignUpstream) -> None:
    """
    A client configured with the proxy fetches through it: the target's
    path and query reach the upstream, with ``Host`` and ``X-Forwarded-For``;
    hop-by-hop response headers are dropped.
    """
    async with serving(reactor, forwardProxyFactory(reactor)) as proxyPort:
        response = await inThread(
            requests.get,
            f"http://127.0.0.1:{upstream.port}/headers?a=1",
            proxies={"http": f"http://127.0.0.1:{proxyPort}"},
            headers={"X-Test": "yes"},
            timeout=30,
        )
    assert response.status_code == 200
    answer = response.json()
    assert answer["path"] == "/headers?a=1"
    sent = headerDict(answer)
    assert sent["host"] == [f"127.0.0.1:{upstream.port}"]
    assert sent["x-test"] == ["yes"]
    assert sent["x-forwarded-for"] == ["127.0.0.1"]
    assert "proxy-connection" not in sent
    assert response.headers["X-Upstream"] == "kept"
    assert "X-Upstream-Hop" not in response.headers


async def test_forwardProxyRefusesRelativeTarget(reactor: Any) -> None:
    """
    A request with an origin-form target (not meant for a proxy) is 400;
    ``CONNECT`` is 501.
    """
    async with serving(reactor, forwardProxyFactory(reactor)) as proxyPort:
        url = f"http://127.0.0.1:{proxyPort}/"
        plain = await inThread(requests.get, url, timeout=30)

        def connect() -> bytes:
            with socket.create_connection(("127.0.0.1", proxyPort)) as s:
                s.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n")
                return s.recv(1024)

        connected = await inThread(connect)
    assert plain.status_code == 400
    assert connected.startswith(b"HTTP/1.1 501 ")


async def test_forwardProxyUpstreamRefused(reactor: Any) -> None:
    """
    An unreachable target is 502.
    """
    async with serving(reactor, forwardProxyFactory(reactor)) as proxyPort:
        response = await inThread(
            requests.get,
            f"http://127.0.0.1:{deadPort()}/",
            proxies={"http": f"http://127.0.0.1:{proxyPort}"},
            timeout=30,
        )
    assert response.status_code == 502


def reverseProxySite(reactor: Any, upstreamPort: int, **kwargs: Any) -> Any:
    from torsion.web.resource import Resource
    from torsion.web.server import Site

    root = Resource()
    root.putChild(
        b"proxied",
        proxy.ReverseProxyResource("127.0.0.1", upstreamPort, b"", reactor, **kwargs),
    )
    return Site(root, reactor=reactor)


async def test_reverseProxyHeaders(reactor: Any, upstream: ForeignUpstream) -> None:
    """
    Through the reverse proxy, the upstream sees its own ``Host``, the
    client's headers, and ``X-Forwarded-For/-Proto/-Host``; the client sees
    the upstream's end-to-end headers only.
    """
    async with serving(reactor, reverseProxySite(reactor, upstream.port)) as number:
        front = f"127.0.0.1:{number}"
        response = await inThread(
            requests.get,
            f"http://{front}/proxied/headers?q=%20x",
            headers={"X-Forwarded-For": "192.0.2.1", "Cookie": "c=1"},
            timeout=30,
        )
    assert response.status_code == 200
    answer = response.json()
    assert answer["path"] == "/headers?q=%20x"
    sent = headerDict(answer)
    assert sent["host"] == [f"127.0.0.1:{upstream.port}"]
    assert sent["cookie"] == ["c=1"]
    assert sent["x-forwarded-for"] == ["192.0.2.1, 127.0.0.1"]
    assert sent["x-forwarded-proto"] == ["http"]
    assert sent["x-forwarded-host"] == [front]
    assert response.headers["X-Upstream"] == "kept"
    assert "X-Upstream-Hop" not in response.headers


async def test_reverseProxyPOST(reactor: Any, upstream: ForeignUpstream) -> None:
    """
    A request body goes upstream whole.
    """
    payload = bytes(range(256)) * 2000
    async with serving(reactor, reverseProxySite(reactor, upstream.port)) as number:
        response = await inThread(
            requests.post,
            f"http://127.0.0.1:{number}/proxied/upload",
            data=payload,
            timeout=30,
        )
    assert response.json() == {
        "length": len(payload),
        "sha256": hashlib.sha256(payload).hexdigest(),
    }


async def test_reverseProxyTorsionUpstream(reactor: Any) -> None:
    """
    In front of a torsion ``Site``: children map to upstream paths, a
    chunked upstream body is relayed, status codes pass through.
    """
    from torsion.web.resource import Resource
    from torsion.web.server import NOT_DONE_YET, Site

    class Echo(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> Any:
            if request.path.endswith(b"/missing"):
                request.setResponseCode(404)
                return b"no such thing"
            request.setHeader(b"content-type", b"text/plain")
            # Two writes without a length: the upstream sends it chunked.
            request.write(b"path=" + request.path + b" ")
            request.write(b"host=" + (request.getHeader(b"host") or b"") + b" ")
            request.write(b"xff=" + (request.getHeader(b"x-forwarded-for") or b""))
            request.finish()
            return NOT_DONE_YET

    upstreamPort = listen(reactor, Site(Echo(), reactor=reactor))
    port = listen(reactor, reverseProxySite(reactor, upstreamPort.getHost().port))
    try:
        base = f"http://127.0.0.1:{port.getHost().port}/proxied"
        upstreamNumber = upstreamPort.getHost().port
        found = await inThread(requests.get, base + "/a/b%20c/", timeout=30)
        missing = await inThread(requests.get, base + "/missing", timeout=30)
    finally:
        await port.stopListening()
        await upstreamPort.stopListening()
    assert found.status_code == 200
    assert found.text == (
        f"path=/a/b%20c/ host=127.0.0.1:{upstreamNumber} xff=127.0.0.1"
    )
    assert missing.status_code == 404
    assert missing.text == "no such thing"


async def test_reverseProxyRefused(reactor: Any) -> None:
    """
    An upstream port where nothing listens: 502.
    """
    async with serving(reactor, reverseProxySite(reactor, deadPort())) as number:
        response = await inThread(
            requests.get, f"http://127.0.0.1:{number}/proxied/", timeout=30
        )
    assert response.status_code == 502
    assert "Bad Gateway" in response.text


async def test_reverseProxyTimeout(reactor: Any) -> None:
    """
    An upstream that accepts the connection but never answers: 504 once
    the timeout passes.
    """
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    try:
        site = reverseProxySite(reactor, silent.getsockname()[1], timeout=0.5)
        async with serving(reactor, site) as number:
            response = await inThread(
                requests.get, f"http://127.0.0.1:{number}/proxied/", timeout=30
            )
    finally:
        silent.close()
    assert response.status_code == 504
    assert "Gateway Timeout" in response.text


async def test_reverseProxyStreamsWithBackPressure(
    reactor: Any, upstream: ForeignUpstream
) -> None:
    """
    A large upstream body is relayed as it arrives; while the client does
    not read, the proxy stops reading the upstream (it pauses long before
    the whole body has come through), and the body arrives intact once the
    client reads again.
    """
    from torsion.internet.defer import Deferred

    paused: Deferred[int] = Deferred()
    relayed = [0]

    class CountingClient(proxy.ProxyClient):
        def connectionMade(self) -> None:
            original = self.transport.pauseProducing

            def pauseProducing() -> None:
                if not paused.called:
                    paused.callback(relayed[0])
                original()

            self.transport.pauseProducing = pauseProducing
            super().connectionMade()

        def handleResponsePart(self, buffer: bytes) -> None:
            relayed[0] += len(buffer)
            super().handleResponsePart(buffer)

    class CountingFactory(proxy.ProxyClientFactory):
        protocol = CountingClient

    site = reverseProxySite(reactor, upstream.port)
    site.resource.getStaticEntity(b"proxied").proxyClientFactoryClass = CountingFactory
    port = listen(reactor, site)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    try:
        await inThread(client.connect, ("127.0.0.1", port.getHost().port))
        client.sendall(
            b"GET /proxied/big HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        relayedAtPause = await paused

        def readAll() -> bytes:
            chunks: list[bytes] = []
            while True:
                data = client.recv(1 << 20)
                if not data:
                    return b"".join(chunks)
                chunks.append(data)

        received = await inThread(readAll)
    finally:
        client.close()
        await port.stopListening()
    assert relayedAtPause < BIG // 2
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert len(body) == BIG
    assert body == b"0123456789abcdef" * (BIG // 16)
