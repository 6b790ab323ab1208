"""
Tests for ``torsion.protocols.loopback``: in-memory and TCP loopback.
"""

from __future__ import annotations

import io
import sys
from typing import Any

import pytest
from reactormixins import runUntil
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.internet import error, interfaces, protocol
from torsion.protocols import basic, loopback
from torsion.python.failure import Failure


class Recorder(protocol.Protocol):
    def __init__(self) -> None:
        self.chunks: list[bytes] = []
        self.lost: Failure | None = None

    @property
    def data(self) -> bytes:
        return b"".join(self.chunks)

    def dataReceived(self, data: bytes) -> None:
        self.chunks.append(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.lost = reason


class EchoLines(basic.LineReceiver):
    lost: Failure | None = None

    def lineReceived(self, line: bytes) -> None:
        if line == b"QUIT":
            self.transport.loseConnection()
        else:
            self.sendLine(line.upper())

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.lost = reason


class Talker(basic.LineReceiver):
    def __init__(self, lines: list[bytes]) -> None:
        self.toSend = lines
        self.received: list[bytes] = []
        self.lost: Failure | None = None

    def connectionMade(self) -> None:
        for line in self.toSend:
            self.sendLine(line)
        self.sendLine(b"QUIT")

    def lineReceived(self, line: bytes) -> None:
        self.received.append(line)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.lost = reason


def result(d: Any) -> list[object]:
    outcome: list[object] = []
    d.addBoth(outcome.append)
    return outcome


def test_loopbackAsyncConversation() -> None:
    server = EchoLines()
    client = Talker([b"hello", b"world"])
    done = result(loopback.loopbackAsync(server, client))
    assert done == [None]
    assert client.received == [b"HELLO", b"WORLD"]
    assert server.lost is not None and server.lost.check(error.ConnectionDone)
    assert client.lost is not None and client.lost.check(error.ConnectionDone)


def test_loopbackTransportInterfaces() -> None:
    server = Recorder()
    client = Recorder()
    loopback.loopbackAsync(server, client)
    transport = server.transport
    assert verifyObject(interfaces.ITransport, transport)
    assert verifyObject(interfaces.IConsumer, transport)
    assert verifyObject(interfaces.IPushProducer, transport)
    assert verifyObject(interfaces.IAddress, transport.getPeer())
    assert verifyObject(interfaces.IAddress, transport.getHost())
    with pytest.raises(TypeError):
        transport.write("text")
    with pytest.raises(TypeError):
        transport.writeSequence([b"a", "b"])
    assert client.chunks == []
    transport.loseConnection()


def test_deferredWaitsForDisconnect() -> None:
    server = Recorder()
    client = Recorder()
    done = result(loopback.loopbackAsync(server, client))
    assert done == []
    server.transport.write(b"later")
    assert client.data == b"later"
    client.transport.write(b"reply")
    assert server.data == b"reply"
    client.transport.loseConnection()
    assert done == [None]
    # Nothing moves after the end.
    server.transport.write(b"gone")
    assert client.data == b"later"


def test_identityAndCollapsingPolicies() -> None:
    class Burst(protocol.Protocol):
        def connectionMade(self) -> None:
            for part in (b"a", b"b", b"c"):
                self.transport.write(part)
            self.transport.writeSequence([b"d", b"e"])
            self.transport.loseConnection()

    client = Recorder()
    loopback.loopbackAsync(Burst(), client)
    assert client.chunks == [b"a", b"b", b"c", b"de"]

    client = Recorder()
    loopback.loopbackAsync(Burst(), client, loopback.collapsingPumpPolicy)
    # Written before the client was connected, so delivered as one burst.
    assert client.chunks == [b"abcde"]


def test_customPumpPolicy() -> None:
    seen: list[bytes] = []

    def bytewise(queue: loopback.LoopbackQueue, target: Any) -> None:
        while queue:
            chunk = queue.get()
            assert chunk is not None
            for byte in chunk:
                seen.append(bytes([byte]))
                target.dataReceived(bytes([byte]))

    server = EchoLines()
    client = Talker([b"hi"])
    loopback.loopbackAsync(server, client, bytewise)
    assert client.received == [b"HI"]
    assert b"".join(seen) == b"hi\r\nQUIT\r\nHI\r\n"


def test_abortConnection() -> None:
    server = Recorder()
    client = Recorder()
    client.transport = None
    done = result(loopback.loopbackAsync(server, client))
    client.transport.pauseProducing()
    server.transport.write(b"never delivered")
    server.transport.abortConnection()
    assert done == [None]
    assert client.data == b""
    assert client.lost is not None and client.lost.check(error.ConnectionAborted)


def test_pingPongDoesNotRecurse() -> None:
    class Ping(protocol.Protocol):
        count = 0
        depths: list[int] = []

        def connectionMade(self) -> None:
            self.transport.write(b"x")

        def dataReceived(self, data: bytes) -> None:
            self.count += 1
            frame, depth = sys._getframe(), 0
            while frame is not None:
                depth += 1
                frame = frame.f_back  # type: ignore[assignment]
            self.depths.append(depth)
            if self.count < 5000:
                self.transport.write(data)
            else:
                self.transport.loseConnection()

    class Pong(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    ping = Ping()
    ping.depths = []
    done = result(loopback.loopbackAsync(Pong(), ping))
    assert done == [None]
    assert ping.count == 5000
    assert max(ping.depths) == min(ping.depths)


def test_pullProducer() -> None:
    content = bytes(range(256)) * 300

    class Sender(protocol.Protocol):
        def connectionMade(self) -> None:
            d = basic.FileSender().beginFileTransfer(
                io.BytesIO(content), self.transport
            )
            d.addCallback(lambda _: self.transport.loseConnection())

    client = Recorder()
    done = result(loopback.loopbackAsync(Sender(), client))
    assert done == [None]
    assert client.data == content
    assert len(client.chunks) == -(-len(content) // basic.FileSender.CHUNK_SIZE)


@implementer(interfaces.IPushProducer)
class Pusher:
    """
    Writes a chunk per ``produce`` call unless paused.
    """

    def __init__(self, transport: Any) -> None:
        self.transport = transport
        self.paused = False
        self.stopped = False
        self.written = 0

    def produce(self) -> None:
        if not self.paused and not self.stopped:
            self.transport.write(b"p" * 8192)
            self.written += 8192

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False

    def stopProducing(self) -> None:
        self.stopped = True


def test_pushProducerPausedWhilePeerStopsReading() -> None:
    server = Recorder()
    client = Recorder()
    done = result(loopback.loopbackAsync(server, client))
    pusher = Pusher(server.transport)
    server.transport.registerProducer(pusher, True)
    pusher.produce()
    assert client.data == b"p" * 8192
    client.transport.pauseProducing()
    for _ in range(100):
        pusher.produce()
    assert pusher.paused
    # Bounded: the producer stopped once the backlog reached the high mark.
    backlog = pusher.written - len(client.data)
    assert backlog <= loopback._LoopbackTransport.HIGH_WATER + 8192
    client.transport.resumeProducing()
    assert not pusher.paused
    assert len(client.data) == pusher.written
    server.transport.loseConnection()
    assert done == [None]
    assert pusher.stopped


def test_stopProducingClosesConnection() -> None:
    server = Recorder()
    client = Recorder()
    done = result(loopback.loopbackAsync(server, client))
    client.transport.stopProducing()
    assert done == [None]


def test_registerProducerTwice() -> None:
    server = Recorder()
    loopback.loopbackAsync(server, Recorder())
    server.transport.registerProducer(Pusher(server.transport), True)
    with pytest.raises(RuntimeError):
        server.transport.registerProducer(Pusher(server.transport), True)


# Over real TCP


def test_loopbackTCP(reactor: Any) -> None:
    server = EchoLines()
    client = Talker([b"over", b"tcp"])
    d = loopback.loopbackTCP(server, client, reactor=reactor, noisy=False)
    assert runUntil(reactor, d) is None
    assert client.received == [b"OVER", b"TCP"]
    assert client.lost is not None
    assert server.lost is not None
    assert client.transport.getPeer().host == "127.0.0.1"


def test_loopbackTCPLargeTransfer(reactor: Any) -> None:
    content = bytes(range(256)) * 4000

    class Sender(protocol.Protocol):
        def connectionMade(self) -> None:
            self.transport.write(content)
            self.transport.loseConnection()

    client = Recorder()
    d = loopback.loopbackTCP(Sender(), client, reactor=reactor)
    runUntil(reactor, d)
    assert client.data == content


def test_loopbackTCPPullProducer(reactor: Any) -> None:
    content = bytes(range(256)) * 4000

    class Sender(protocol.Protocol):
        def connectionMade(self) -> None:
            sender = basic.FileSender()
            d = sender.beginFileTransfer(io.BytesIO(content), self.transport)
            d.addCallback(lambda _: self.transport.loseConnection())

    client = Recorder()
    d = loopback.loopbackTCP(Sender(), client, reactor=reactor)
    runUntil(reactor, d, timeout=5)
    assert client.data == content
