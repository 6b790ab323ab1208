"""
``torsion.web.http`` over real loopback sockets, with real clients: curl,
``http.client``, ``requests`` and raw sockets.
"""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

import requests
from webhelpers import inThread, listen, requireCommand, runPeer

from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionDone, ConnectionLost
from torsion.python.failure import Failure
from torsion.web import http as torsionhttp


class ArgsRequest(torsionhttp.Request):
    """
    Answers with JSON describing the request; ``/hold`` writes a first part
    and waits, recording the request in ``held``.
    """

    held: list[Deferred[ArgsRequest]] = []

    def process(self) -> None:
        if self.path == b"/hold":
            self.write(b"first part")
            ArgsRequest.held.pop(0).callback(self)
            return
        peer = self.getClientAddress()
        body = json.dumps(
            {
                "method": self.method.decode(),
                "path": self.path.decode(),
                "port": peer.port,
                "args": {
                    k.decode(): [v.decode("latin-1") for v in vs]
                    for k, vs in sorted(self.args.items())
                },
            }
        ).encode()
        self.setHeader(b"content-type", b"application/json")
        self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()


class TrackingFactory(torsionhttp.HTTPFactory):
    """
    An ``HTTPFactory`` that can wait until all its connections closed, so a
    test leaves the reactor clean.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requestFactory = ArgsRequest
        self.open: set[Any] = set()
        self.waiting: list[Deferred[None]] = []

    def buildProtocol(self, addr: Any) -> Any:
        channel = super().buildProtocol(addr)
        factory = self
        original = channel.connectionLost

        def connectionLost(reason: Failure) -> None:
            original(reason)
            factory.open.discard(channel)
            if not factory.open:
                waiting, factory.waiting = factory.waiting, []
                for d in waiting:
                    d.callback(None)

        channel.connectionLost = connectionLost
        self.open.add(channel)
        return channel

    def log(self, request: Any) -> None:
        pass

    def allClosed(self) -> Deferred[None]:
        d: Deferred[None] = Deferred()
        if self.open:
            self.waiting.append(d)
        else:
            d.callback(None)
        return d


async def test_curlSequentialRequestsOneConnection(reactor: Any) -> None:
    curl = requireCommand("curl")
    factory = TrackingFactory()
    port = listen(reactor, factory)
    try:
        base = f"http://127.0.0.1:{port.getHost().port}"
        result = await runPeer(
            [curl, "--http1.1", "-s", f"{base}/one", f"{base}/two", f"{base}/three"]
        )
        assert result.returncode == 0, result.stderr
        decoder = json.JSONDecoder()
        text = result.stdout.decode()
        answers = []
        while text:
            value, end = decoder.raw_decode(text)
            answers.append(value)
            text = text[end:]
        assert [a["path"] for a in answers] == ["/one", "/two", "/three"]
        assert len({a["port"] for a in answers}) == 1
        await factory.allClosed()
    finally:
        await port.stopListening()


def _keepAlive(port: int) -> list[tuple[int, bytes, str | None]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    results = []
    try:
        for i in range(5):
            connection.request("GET", f"/item?i={i}")
            response = connection.getresponse()
            results.append(
                (response.status, response.read(), response.getheader("Server"))
            )
        connection.request("HEAD", "/head")
        response = connection.getresponse()
        results.append((response.status, response.read(), None))
    finally:
        connection.close()
    return results


async def test_httpClientKeepAlive(reactor: Any) -> None:
    factory = TrackingFactory()
    port = listen(reactor, factory)
    try:
        results = await inThread(_keepAlive, port.getHost().port)
        bodies = [json.loads(body) for _, body, _ in results[:5]]
        assert [b["args"] for b in bodies] == [{"i": [str(i)]} for i in range(5)]
        assert len({b["port"] for b in bodies}) == 1
        assert all(status == 200 for status, _, _ in results)
        assert results[0][2] == torsionhttp.SERVER_VERSION.decode()
        assert results[5][1] == b""
        await factory.allClosed()
    finally:
        await port.stopListening()


async def test_requestsFormAndMultipart(reactor: Any) -> None:
    factory = TrackingFactory()
    port = listen(reactor, factory)
    try:
        url = f"http://127.0.0.1:{port.getHost().port}/submit?q=1"

        def post() -> tuple[Any, Any]:
            with requests.Session() as session:
                form = session.post(url, data={"a": "1", "b": "x y"}, timeout=30)
                files = session.post(
                    url,
                    data={"field": "value"},
                    files={"upload": ("f.bin", b"\x00binary\xff" * 1000)},
                    timeout=30,
                )
                return form.json(), files.json()

        form, files = await inThread(post)
        assert form["method"] == "POST"
        assert form["args"] == {"a": ["1"], "b": ["x y"], "q": ["1"]}
        assert files["args"]["field"] == ["value"]
        assert files["args"]["q"] == ["1"]
        assert files["args"]["upload"] == [(b"\x00binary\xff" * 1000).decode("latin-1")]
        await factory.allClosed()
    finally:
        await port.stopListening()


def _disconnectMidResponse(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while b"first part" not in received:
            data = sock.recv(65536)
            if not data:
                break
            received += data
    return received


async def test_clientDisconnectsMidResponse(reactor: Any) -> None:
    factory = TrackingFactory()
    port = listen(reactor, factory)
    try:
        held: Deferred[ArgsRequest] = Deferred()
        ArgsRequest.held = [held]
        client = inThread(_disconnectMidResponse, port.getHost().port)
        request = await held
        finished = request.notifyFinish()
        received = await client
        assert b"first part" in received
        try:
            await finished
        except Exception as e:
            failure = Failure(e)
        else:
            raise AssertionError("notifyFinish fired although the client left")
        assert failure.check(ConnectionLost, ConnectionDone)
        # Writing and finishing after the client left do nothing.
        request.write(b"late")
        request.finish()
        await factory.allClosed()
    finally:
        await port.stopListening()


def _slowloris(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        return _readUntilClosed(sock)


async def test_slowlorisClosedByHeaderTimeout(reactor: Any) -> None:
    factory = TrackingFactory(headerTimeout=0.3)
    port = listen(reactor, factory)
    try:
        received = await inThread(_slowloris, port.getHost().port)
        assert received.startswith(b"HTTP/1.1 408 ")
        await factory.allClosed()
    finally:
        await port.stopListening()


def _uploadTooLarge(port: int, size: int) -> bytes:
    """
    Send a request head and a ``size``-byte body the server refuses, the
    whole body, and only then read the answer (as naive clients do).
    """
    with socket.create_connection(("127.0.0.1", port)) as s:
        s.sendall(
            b"POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size
        )
        chunk = b"x" * 65536
        for _ in range(size // len(chunk)):
            s.sendall(chunk)
        return _readUntilClosed(s)


def _readUntilClosed(sock: socket.socket) -> bytes:
    """
    :return: everything ``sock`` receives until the server closes it.
    """
    received = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return received
        received += chunk


async def test_refusedUploadStillGetsItsAnswer(reactor: Any) -> None:
    """
    HTTP-19 over a real socket: a client that sends its whole 8 MiB body
    before reading still reads the 413; the server drains the refused body
    instead of resetting the connection under the client.
    """
    factory = TrackingFactory(reactor=reactor, maxRequestBody=1024)
    port = listen(reactor, factory)
    try:
        answer = await inThread(_uploadTooLarge, port.getHost().port, 8 * 1024 * 1024)
        assert answer.startswith(b"HTTP/1.1 413 ")
        await factory.allClosed()
    finally:
        await port.stopListening()


def _exchange(port: int, data: bytes) -> bytes:
    """
    Send ``data`` on a new connection and read until the server closes it.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(data)
        return _readUntilClosed(sock)


async def test_hostRequiredInHTTP11(reactor: Any) -> None:
    """
    RFC 9112 §3.2 over a real socket: an HTTP/1.1 request without Host is
    answered 400 and the server closes the connection (``_exchange``
    returns only once it has); HTTP/1.0 without Host and an absolute-form
    target with Host are served.
    """
    factory = TrackingFactory()
    port = listen(reactor, factory)
    number = port.getHost().port
    try:
        missing = await inThread(_exchange, number, b"GET /a HTTP/1.1\r\n\r\n")
        assert missing.startswith(b"HTTP/1.1 400 ")
        assert b"\r\nConnection: close\r\n" in missing
        assert b"Host" in missing.split(b"\r\n\r\n", 1)[1]
        invalid = await inThread(
            _exchange, number, b"GET /a HTTP/1.1\r\nHost: a b\r\n\r\n"
        )
        assert invalid.startswith(b"HTTP/1.1 400 ")
        old = await inThread(_exchange, number, b"GET /old HTTP/1.0\r\n\r\n")
        assert old.startswith(b"HTTP/1.1 200 ")
        assert json.loads(old.split(b"\r\n\r\n", 1)[1])["path"] == "/old"
        absolute = await inThread(
            _exchange,
            number,
            b"GET http://a.example/abs?k=v HTTP/1.1\r\nHost: a.example\r\n"
            b"Connection: close\r\n\r\n",
        )
        assert absolute.startswith(b"HTTP/1.1 200 ")
        answer = json.loads(absolute.split(b"\r\n\r\n", 1)[1])
        assert (answer["path"], answer["args"]) == ("/abs", {"k": ["v"]})
        await factory.allClosed()
    finally:
        await port.stopListening()
