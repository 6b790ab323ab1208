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
from webhelpers import inThread, listen

from torsion.web import http, proxy

BIG = 8 * 1024 * 1024


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
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
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
    port = listen(reactor, forwardProxyFactory(reactor))
    try:
        proxyURL = f"http://127.0.0.1:{port.getHost().port}"
        response = await inThread(
            requests.get,
            f"http://127.0.0.1:{upstream.port}/headers?a=1",
            proxies={"http": proxyURL},
            headers={"X-Test": "yes"},
            timeout=30,
        )
    finally:
        await port.stopListening()
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
    port = listen(reactor, forwardProxyFactory(reactor))
    try:
        url = f"http://127.0.0.1:{port.getHost().port}/"
        plain = await inThread(requests.get, url, timeout=30)

        def connect() -> bytes:
            with socket.create_connection(("127.0.0.1", port.getHost().port)) as s:
                s.sendall(b"CONNECT example.com:443 HTTP/1.1\r\nHost: x\r\n\r\n")
                return s.recv(1024)

        connected = await inThread(connect)
    finally:
        await port.stopListening()
    assert plain.status_code == 400
    assert connected.startswith(b"HTTP/1.1 501 ")


async def test_forwardProxyUpstreamRefused(reactor: Any) -> None:
    """
    An unreachable target is 502.
    """
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    deadPort = closed.getsockname()[1]
    closed.close()
    port = listen(reactor, forwardProxyFactory(reactor))
    try:
        response = await inThread(
            requests.get,
            f"http://127.0.0.1:{deadPort}/",
            proxies={"http": f"http://127.0.0.1:{port.getHost().port}"},
            timeout=30,
        )
    finally:
        await port.stopListening()
    assert response.status_code == 502
