"""
torsion.web.websocket against real peers over loopback: the ``websockets``
library as a client of a torsion ``Site`` and as a server for torsion's
``WebSocketClientEndpoint`` (text, binary, fragmented, large messages,
ping, close codes, permessage-deflate both ways, TLS), torsion against
itself, and headless Chromium.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from peerhelpers import chromiumCommand
from webhelpers import inThread, listen, requireCommand, runPeer
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosedError, InvalidStatus
from websockets.sync.client import connect
from websockets.typing import Origin, Subprotocol

from torsion.internet.defer import Deferred
from torsion.python.failure import Failure
from torsion.web.resource import Resource
from torsion.web.server import Site
from torsion.web.static import Data
from torsion.web.websocket import (
    ConnectionRejected,
    DeflateOptions,
    WebSocketClientEndpoint,
    WebSocketClientFactory,
    WebSocketConnectionClosed,
    WebSocketProtocol,
    WebSocketResource,
    WebSocketServerFactory,
    WebSocketTransport,
)


class Collector(WebSocketProtocol):
    """
    Collects what arrives; ``waitMessages(n)`` and ``lost`` let a test wait.
    """

    echo = False

    def __init__(self) -> None:
        self.transport: WebSocketTransport | None = None
        self.messages: list[str | bytes] = []
        self.pongs: list[bytes] = []
        # Fires with the exception wrapped by connectionLost's reason.
        self.lost: Deferred[BaseException] = Deferred()
        self._waiting: list[tuple[int, Deferred[list[str | bytes]]]] = []
        self._pongWaiters: list[Deferred[bytes]] = []

    def negotiationStarted(self, transport: WebSocketTransport) -> None:
        self.transport = transport

    def _got(self, message: str | bytes) -> None:
        self.messages.append(message)
        if self.echo and message == "please close":
            assert self.transport is not None
            self.transport.loseConnection(4002, "server bye")
        elif self.echo:
            assert self.transport is not None
            if isinstance(message, str):
                self.transport.sendTextMessage(message)
            else:
                self.transport.sendBytesMessage(message)
        still = []
        for n, d in self._waiting:
            if len(self.messages) >= n:
                d.callback(list(self.messages))
            else:
                still.append((n, d))
        self._waiting = still

    def textMessageReceived(self, data: str) -> None:
        self._got(data)

    def bytesMessageReceived(self, data: bytes) -> None:
        self._got(data)

    def pongReceived(self, payload: bytes) -> None:
        self.pongs.append(payload)
        waiters, self._pongWaiters = self._pongWaiters, []
        for d in waiters:
            d.callback(payload)

    def waitMessages(self, n: int) -> Deferred[list[str | bytes]]:
        d: Deferred[list[str | bytes]] = Deferred()
        if len(self.messages) >= n:
            d.callback(list(self.messages))
        else:
            self._waiting.append((n, d))
        return d

    def waitPong(self) -> Deferred[bytes]:
        d: Deferred[bytes] = Deferred()
        self._pongWaiters.append(d)
        return d

    def connectionLost(self, reason: Failure) -> None:
        self.lost.callback(reason.value)


class EchoServerFactory(WebSocketServerFactory):
    def __init__(self) -> None:
        super().__init__()
        self.built: list[Collector] = []

    def buildProtocol(self, request: Any) -> WebSocketProtocol:
        proto = Collector()
        proto.echo = True
        self.built.append(proto)
        return proto


def makeSite(**resourceOptions: Any) -> tuple[Site, EchoServerFactory]:
    factory = EchoServerFactory()
    root = Resource()
    root.putChild(b"echo", WebSocketResource(factory, **resourceOptions))
    return Site(root), factory


# torsion server, websockets client


async def test_websocketsClientAgainstTorsionServer(reactor: Any) -> None:
    site, factory = makeSite(subprotocols=["chat"])
    port = listen(reactor, site)
    url = f"ws://127.0.0.1:{port.getHost().port}/echo"

    def client() -> dict[str, Any]:
        out: dict[str, Any] = {}
        with connect(
            url,
            subprotocols=[Subprotocol("other"), Subprotocol("chat")],
            max_size=None,
        ) as ws:
            out["subprotocol"] = ws.subprotocol
            assert ws.response is not None
            out["extensions"] = ws.response.headers.get("Sec-WebSocket-Extensions")
            ws.send("héllo")
            out["text"] = ws.recv()
            ws.send(b"\x00\xff")
            out["bytes"] = ws.recv()
            ws.send(["frag", "mented ", "☃"])
            out["fragmented"] = ws.recv()
            big = bytes(range(256)) * 4096 * 2
            ws.send(big)
            out["big"] = ws.recv() == big
            pong = ws.ping(b"ping!")
            out["pong"] = pong.wait(10)
            ws.close(4001, "client bye")
        return out

    try:
        out = await inThread(client)
        reason = await factory.built[0].lost
    finally:
        await port.stopListening()
    assert out.pop("extensions").startswith("permessage-deflate")
    assert out == {
        "subprotocol": "chat",
        "text": "héllo",
        "bytes": b"\x00\xff",
        "fragmented": "fragmented ☃",
        "big": True,
        "pong": True,
    }
    assert isinstance(reason, WebSocketConnectionClosed)
    assert (reason.code, reason.reason) == (4001, "client bye")


async def test_websocketsClientWithoutCompression(reactor: Any) -> None:
    site, factory = makeSite()
    port = listen(reactor, site)
    url = f"ws://127.0.0.1:{port.getHost().port}/echo"

    def client() -> tuple[Any, str | bytes]:
        with connect(url, compression=None) as ws:
            ws.send("plain")
            assert ws.response is not None
            return ws.response.headers.get("Sec-WebSocket-Extensions"), ws.recv()

    try:
        extensions, echoed = await inThread(client)
        await factory.built[0].lost
    finally:
        await port.stopListening()
    assert extensions is None
    assert echoed == "plain"


async def test_serverClosesWithCode(reactor: Any) -> None:
    site, factory = makeSite()
    port = listen(reactor, site)
    url = f"ws://127.0.0.1:{port.getHost().port}/echo"

    def client() -> tuple[int | None, str | None]:
        with connect(url) as ws:
            ws.send("please close")
            try:
                ws.recv(timeout=30)
            except Exception:
                pass
            rcvd = ws.protocol.close_rcvd
            return (rcvd.code, rcvd.reason) if rcvd else (None, None)

    try:
        code = await inThread(client)
        reason = await factory.built[0].lost
    finally:
        await port.stopListening()
    assert code == (4002, "server bye")
    assert isinstance(reason, WebSocketConnectionClosed)


async def test_messageTooBigForServer(reactor: Any) -> None:
    site, factory = makeSite(maxMessageSize=1000)
    port = listen(reactor, site)
    url = f"ws://127.0.0.1:{port.getHost().port}/echo"

    def client() -> tuple[str | bytes, int | None]:
        with connect(url, compression=None) as ws:
            ws.send(b"x" * 1000)
            first = ws.recv()
            ws.send(b"x" * 1001)
            try:
                ws.recv(timeout=30)
            except ConnectionClosedError as e:
                return first, e.rcvd.code if e.rcvd else None
            return first, None

    try:
        first, code = await inThread(client)
        await factory.built[0].lost
    finally:
        await port.stopListening()
    assert first == b"x" * 1000
    assert code == 1009


async def test_compressionBombFromClient(reactor: Any) -> None:
    """
    A small compressed message that inflates past the limit closes 1009.
    """
    site, factory = makeSite(maxMessageSize=64 * 1024)
    port = listen(reactor, site)
    url = f"ws://127.0.0.1:{port.getHost().port}/echo"

    def client() -> int | None:
        with connect(url) as ws:
            ws.send(b"\x00" * (4 * 1024 * 1024))
            try:
                ws.recv(timeout=30)
            except ConnectionClosedError as e:
                return e.rcvd.code if e.rcvd else None
        return None

    try:
        code = await inThread(client)
        await factory.built[0].lost
    finally:
        await port.stopListening()
    assert code == 1009


async def test_originRefused(reactor: Any) -> None:
    site, factory = makeSite(allowedOrigins=["https://good.example"])
    port = listen(reactor, site)
    url = f"ws://127.0.0.1:{port.getHost().port}/echo"

    def client(origin: str) -> int | str:
        try:
            with connect(url, origin=Origin(origin)) as ws:
                ws.send("x")
                return str(ws.recv())
        except InvalidStatus as e:
            status: int = e.response.status_code
            return status

    try:
        bad = await inThread(client, "https://evil.example")
        good = await inThread(client, "https://good.example")
        await factory.built[0].lost
    finally:
        await port.stopListening()
    assert bad == 403
    assert good == "x"
    assert len(factory.built) == 1


# websockets server, torsion client


class AsyncioServer:
    """
    The ``websockets`` asyncio server, in its own thread and event loop.
    """

    def __init__(self, sslContext: ssl.SSLContext | None = None) -> None:
        self.sslContext = sslContext
        self.port = 0
        self.closeCodes: list[tuple[int | None, str | None]] = []
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handler(self, ws: Any) -> None:
        path = ws.request.path
        try:
            if path == "/echo":
                async for message in ws:
                    await ws.send(message)
            elif path == "/fragments":
                await ws.send(["frag", "mented"])
                await ws.send([b"\x01", b"\x02"])
                await ws.send(b"z" * (3 * 1024 * 1024))
                await ws.wait_closed()
            elif path == "/close":
                await ws.close(4003, "bye from asyncio")
        finally:
            rcvd = ws.protocol.close_rcvd
            self.closeCodes.append((rcvd.code, rcvd.reason) if rcvd else (None, None))

    def _processRequest(self, connection: Any, request: Any) -> Any:
        if request.path == "/forbidden":
            return connection.respond(403, "no\n")
        return None

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)

        async def main() -> None:
            self._stop = asyncio.Event()
            async with serve(
                self._handler,
                "127.0.0.1",
                0,
                ssl=self.sslContext,
                max_size=None,
                process_request=self._processRequest,
            ) as server:
                self.port = next(iter(server.sockets)).getsockname()[1]
                self._ready.set()
                await self._stop.wait()

        self._loop.run_until_complete(main())
        self._loop.close()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(30)

    def stop(self) -> None:
        """
        Stop serving; returns once every handler has finished.
        """
        if not self._thread.is_alive():
            return
        assert self._stop is not None
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture
def asyncioServer() -> Iterator[AsyncioServer]:
    server = AsyncioServer()
    server.start()
    yield server
    server.stop()


async def connectTo(reactor: Any, url: str, **kwargs: Any) -> Collector:
    endpoint = WebSocketClientEndpoint.new(reactor, url, **kwargs)
    proto = await endpoint.connect(WebSocketClientFactory(Collector))
    assert isinstance(proto, Collector)
    return proto


async def test_torsionClientAgainstWebsockets(
    reactor: Any, asyncioServer: AsyncioServer
) -> None:
    proto = await connectTo(reactor, f"ws://127.0.0.1:{asyncioServer.port}/echo")
    assert proto.transport is not None
    assert proto.transport.extensions.startswith(b"permessage-deflate")
    proto.transport.sendTextMessage("héllo")
    proto.transport.sendBytesMessage(b"\x00\x01")
    big = bytes(range(256)) * 8192
    proto.transport.sendBytesMessage(big)
    messages = await proto.waitMessages(3)
    assert messages == ["héllo", b"\x00\x01", big]
    pong = proto.waitPong()
    proto.transport.ping(b"are you there")
    assert await pong == b"are you there"
    proto.transport.loseConnection(4004, "client done")
    reason = await proto.lost
    assert isinstance(reason, WebSocketConnectionClosed)
    assert reason.code == 4004
    asyncioServer.stop()
    assert asyncioServer.closeCodes == [(4004, "client done")]


async def test_torsionClientWithoutCompression(
    reactor: Any, asyncioServer: AsyncioServer
) -> None:
    proto = await connectTo(
        reactor, f"ws://127.0.0.1:{asyncioServer.port}/echo", compression=None
    )
    assert proto.transport is not None
    assert proto.transport.extensions == b""
    proto.transport.sendTextMessage("plain")
    assert await proto.waitMessages(1) == ["plain"]
    proto.transport.loseConnection()
    await proto.lost


async def test_torsionClientNoContextTakeover(
    reactor: Any, asyncioServer: AsyncioServer
) -> None:
    options = DeflateOptions(serverNoContextTakeover=True, clientNoContextTakeover=True)
    proto = await connectTo(
        reactor, f"ws://127.0.0.1:{asyncioServer.port}/echo", compression=options
    )
    assert proto.transport is not None
    assert b"server_no_context_takeover" in proto.transport.extensions
    for i in range(3):
        proto.transport.sendTextMessage("again and again " * 20 + str(i))
    messages = await proto.waitMessages(3)
    assert messages[2] == "again and again " * 20 + "2"
    proto.transport.loseConnection()
    await proto.lost


async def test_torsionClientReceivesFragmentsAndLarge(
    reactor: Any, asyncioServer: AsyncioServer
) -> None:
    proto = await connectTo(reactor, f"ws://127.0.0.1:{asyncioServer.port}/fragments")
    messages = await proto.waitMessages(3)
    assert messages[:2] == ["fragmented", b"\x01\x02"]
    assert messages[2] == b"z" * (3 * 1024 * 1024)
    assert proto.transport is not None
    proto.transport.loseConnection()
    await proto.lost


async def test_torsionClientSeesServerClose(
    reactor: Any, asyncioServer: AsyncioServer
) -> None:
    proto = await connectTo(reactor, f"ws://127.0.0.1:{asyncioServer.port}/close")
    reason = await proto.lost
    assert isinstance(reason, WebSocketConnectionClosed)
    assert (reason.code, reason.reason) == (4003, "bye from asyncio")


async def test_torsionClientRefused(reactor: Any, asyncioServer: AsyncioServer) -> None:
    endpoint = WebSocketClientEndpoint.new(
        reactor, f"ws://127.0.0.1:{asyncioServer.port}/forbidden"
    )
    with pytest.raises(ConnectionRejected, match="403") as info:
        await endpoint.connect(WebSocketClientFactory(Collector))
    assert info.value.response.code == 403


async def test_torsionClientOverTLS(reactor: Any, tmp_path: Any) -> None:
    from torsion.internet._sslverify import (
        generateSelfSigned,
        optionsForClientTLS,
        trustRootFromCertificates,
    )

    cert = generateSelfSigned(["localhost"])
    pem = tmp_path / "server.pem"
    pem.write_bytes(cert.dumpPEM())
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(pem))
    server = AsyncioServer(context)
    server.start()
    try:
        options = optionsForClientTLS(
            "localhost", trustRoot=trustRootFromCertificates([cert])
        )
        proto = await connectTo(
            reactor, f"wss://localhost:{server.port}/echo", tlsOptions=options
        )
        assert proto.transport is not None
        proto.transport.sendTextMessage("secret")
        assert await proto.waitMessages(1) == ["secret"]
        proto.transport.loseConnection()
        await proto.lost
    finally:
        server.stop()


# torsion against torsion


async def test_torsionClientAgainstTorsionServer(reactor: Any) -> None:
    site, factory = makeSite()
    port = listen(reactor, site)
    try:
        proto = await connectTo(reactor, f"ws://127.0.0.1:{port.getHost().port}/echo")
        assert proto.transport is not None
        proto.transport.sendTextMessage("round trip")
        proto.transport.sendBytesMessage(b"\x00" * 100000)
        messages = await proto.waitMessages(2)
        assert messages == ["round trip", b"\x00" * 100000]
        proto.transport.loseConnection(3001, "done")
        clientReason = await proto.lost
        serverReason = await factory.built[0].lost
    finally:
        await port.stopListening()
    assert isinstance(clientReason, WebSocketConnectionClosed)
    assert isinstance(serverReason, WebSocketConnectionClosed)
    assert serverReason.code == 3001


async def test_plainGetToWebSocketResource(reactor: Any) -> None:
    site, _ = makeSite()
    port = listen(reactor, site)
    try:
        endpointURL = f"http://127.0.0.1:{port.getHost().port}/echo"
        import urllib.error
        import urllib.request

        def fetch() -> int:
            try:
                urllib.request.urlopen(endpointURL, timeout=30)
            except urllib.error.HTTPError as e:
                return e.code
            return 200

        assert await inThread(fetch) == 426
    finally:
        await port.stopListening()


# Chromium

PAGE = b"""<!DOCTYPE html>
<html><body><div id="out">waiting</div>
<script>
const ws = new WebSocket("ws://" + location.host + "/echo");
ws.onopen = () => ws.send("echo from chromium \\u2603");
ws.onmessage = (e) => {
  document.getElementById("out").textContent = "got:" + e.data;
  ws.send("done");
};
ws.onerror = () => { document.getElementById("out").textContent = "error"; };
</script>
<img src="/gate" alt="">
</body></html>
"""


class Gate(Resource):
    """
    Holds the page's load event open (an image that loads late) until the
    WebSocket exchange is over, so ``--dump-dom`` sees its result.
    """

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Any] = []
        self.opened = False

    def render_GET(self, request: Any) -> Any:
        if self.opened:
            return b""
        self.requests.append(request)
        return 1  # NOT_DONE_YET

    def open(self) -> None:
        self.opened = True
        for request in self.requests:
            if not request.finished:
                request.finish()
        self.requests = []


async def test_chromium(reactor: Any, tmp_path: Any) -> None:
    chromium = requireCommand("chromium")
    gate = Gate()

    class BrowserEcho(Collector):
        echo = True

        def textMessageReceived(self, data: str) -> None:
            if data == "done":
                gate.open()
                assert self.transport is not None
                self.transport.loseConnection()
            else:
                super().textMessageReceived(data)

    factory = WebSocketServerFactory(BrowserEcho)
    root = Resource()
    root.putChild(b"", Data(PAGE, "text/html; charset=utf-8"))
    root.putChild(b"gate", gate)
    root.putChild(b"echo", WebSocketResource(factory))
    port = listen(reactor, Site(root))
    try:
        result = await runPeer(
            chromiumCommand(
                chromium,
                tmp_path,
                "--dump-dom",
                f"http://127.0.0.1:{port.getHost().port}/",
            ),
            timeout=90,
        )
    finally:
        gate.open()
        await port.stopListening()
    assert "got:echo from chromium \u2603" in result.stdout.decode("utf-8")


# Flow control over a real socket


async def test_producerPausedWhileClientDoesNotRead(reactor: Any) -> None:
    """
    A producer attached to the transport is paused when the client stops
    reading, so the server's buffered output stays bounded, and resumed
    when the client reads again.
    """
    import socket

    from zope.interface import implementer

    from torsion.internet.interfaces import IPushProducer

    chunk = b"\xab" * 65536
    total = 400  # 25 MiB in all
    paused = threading.Event()
    events: list[str] = []
    done: Deferred[None] = Deferred()

    @implementer(IPushProducer)
    class Flood:
        def __init__(self, transport: WebSocketTransport) -> None:
            self.transport = transport
            self.sent = 0
            self.paused = False

        def pauseProducing(self) -> None:
            self.paused = True
            events.append(f"paused after {self.sent}")
            paused.set()

        def resumeProducing(self) -> None:
            self.paused = False
            events.append("resumed")
            while not self.paused and self.sent < total:
                self.transport.sendBytesMessage(chunk)
                self.sent += 1
            if self.sent == total and not done.called:
                self.transport.detachProducer()
                self.transport.loseConnection()
                done.callback(None)

        def stopProducing(self) -> None:
            self.paused = True

    class Streamer(WebSocketProtocol):
        def negotiationStarted(self, transport: WebSocketTransport) -> None:
            self.transport = transport

        def negotiationFinished(self) -> None:
            self.producer = Flood(self.transport)
            self.transport.attachProducer(self.producer)
            self.producer.resumeProducing()

    root = Resource()
    root.putChild(b"flood", WebSocketResource(Streamer, compression=None))
    port = listen(reactor, Site(root))
    portNumber = port.getHost().port

    def client() -> int:
        sock = socket.create_connection(("127.0.0.1", portNumber), timeout=30)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(
            b"GET /flood HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            b"Sec-WebSocket-Version: 13\r\n\r\n"
        )
        if not paused.wait(30):
            raise AssertionError("the producer was never paused")
        received = 0
        while received < total * len(chunk):
            data = sock.recv(1 << 20)
            if not data:
                break
            received += len(data)
        sock.close()
        return received

    try:
        received = await inThread(client)
        await done
    finally:
        await port.stopListening()
    assert received > total * len(chunk)
    pausedAt = int(events[1].split()[-1])
    # Paused long before everything was produced: output stayed bounded.
    assert pausedAt < total // 2
    assert "resumed" in events[2:]


async def test_torsionOverTLSBothSides(reactor: Any) -> None:
    """
    ``wss://`` from torsion's client to a torsion ``Site`` listening with
    TLS: the switch works the same over a TLS transport.
    """
    from torsion.internet._sslverify import (
        generateSelfSigned,
        optionsForClientTLS,
        trustRootFromCertificates,
    )

    cert = generateSelfSigned(["localhost"])
    site, factory = makeSite()
    port = reactor.listenSSL(0, site, cert.options(), interface="127.0.0.1")
    try:
        options = optionsForClientTLS(
            "localhost", trustRoot=trustRootFromCertificates([cert])
        )
        proto = await connectTo(
            reactor, f"wss://localhost:{port.getHost().port}/echo", tlsOptions=options
        )
        assert proto.transport is not None
        proto.transport.sendBytesMessage(b"over tls" * 1000)
        assert await proto.waitMessages(1) == [b"over tls" * 1000]
        proto.transport.loseConnection()
        await proto.lost
        await factory.built[0].lost
    finally:
        await port.stopListening()
