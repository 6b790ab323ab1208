"""
Tests for ``torsion.protocols.wire``: the RFC 862-868 services.
"""

from __future__ import annotations

import calendar
import struct
from typing import Any

import pytest
from reactormixins import runUntil
from zope.interface.verify import verifyObject

from torsion.internet import interfaces, protocol
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.protocols import loopback, wire
from torsion.python.failure import Failure


def connected(proto: Any) -> StringTransport:
    transport = StringTransport()
    proto.makeConnection(transport)
    return transport


class Collector(protocol.Protocol):
    """
    A client that keeps what it receives, and can close after ``limit``
    bytes.
    """

    def __init__(self, send: bytes = b"", limit: int | None = None) -> None:
        self.send = send
        self.limit = limit
        self.data = b""
        self.lost: Failure | None = None

    def connectionMade(self) -> None:
        if self.send:
            self.transport.write(self.send)
            if self.limit is None:
                self.transport.loseConnection()

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        if self.limit is not None and len(self.data) >= self.limit:
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.lost = reason


@pytest.mark.parametrize(
    "cls",
    [
        wire.Echo,
        wire.Discard,
        wire.Chargen,
        wire.QOTD,
        wire.Daytime,
        wire.Time,
        wire.Who,
    ],
)
def test_providesIProtocol(cls: type[Any]) -> None:
    assert verifyObject(interfaces.IProtocol, cls())


def test_echo() -> None:
    proto = wire.Echo()
    transport = connected(proto)
    proto.dataReceived(b"hello")
    proto.dataReceived(b"\x00\xff")
    assert transport.value() == b"hello\x00\xff"


def test_echoInMemory() -> None:
    client = Collector(send=b"ping")
    client.limit = 4
    loopback.loopbackAsync(wire.Echo(), client)
    assert client.data == b"ping"


def test_echoOverTCP(reactor: Any) -> None:
    client = Collector(send=b"x" * 100000, limit=100000)
    d = loopback.loopbackTCP(wire.Echo(), client, reactor=reactor, noisy=False)
    runUntil(reactor, d)
    assert client.data == b"x" * 100000


def test_discard() -> None:
    proto = wire.Discard()
    transport = connected(proto)
    proto.dataReceived(b"anything")
    assert transport.value() == b""


def test_chargenLines() -> None:
    proto = wire.Chargen()
    transport = connected(proto)
    assert verifyObject(interfaces.IPullProducer, proto)
    assert transport.producer is proto
    assert transport.streaming is False
    # Nothing is written until the transport asks.
    assert transport.value() == b""
    proto.resumeProducing()
    proto.resumeProducing()
    lines = transport.value().split(b"\r\n")
    assert lines[-1] == b""
    lines = lines[:-1]
    assert len(lines) == 2 * 95
    assert all(len(line) == 72 for line in lines)
    assert lines[0] == bytes(range(32, 104))
    assert lines[1] == bytes(range(33, 105))
    assert lines[94] == b"~" + bytes(range(32, 103))
    assert lines[95] == lines[0]
    proto.dataReceived(b"ignored")
    proto.pauseProducing()
    proto.stopProducing()


def test_chargenStopsWhenPeerStopsReading() -> None:
    class SlowReader(Collector):
        def dataReceived(self, data: bytes) -> None:
            self.data += data
            self.transport.pauseProducing()

    client = SlowReader()
    server = wire.Chargen()
    loopback.loopbackAsync(server, client)
    # The client took one batch and stopped reading: at most one more batch
    # is waiting, none is produced beyond it.
    assert client.data == server.noise
    client.transport.resumeProducing()
    assert client.data == server.noise * 2
    client.transport.loseConnection()
    assert client.lost is not None


def test_chargenUntilPeerCloses() -> None:
    client = Collector(limit=50000)
    server = wire.Chargen()
    done: list[object] = []
    loopback.loopbackAsync(server, client).addBoth(done.append)
    assert done == [None]
    assert 50000 <= len(client.data) < 50000 + len(server.noise)


def test_chargenOverTCP(reactor: Any) -> None:
    client = Collector(limit=300000)
    server = wire.Chargen()
    d = loopback.loopbackTCP(server, client, reactor=reactor, noisy=False)
    runUntil(reactor, d)
    assert len(client.data) >= 300000
    assert client.data.startswith(server.noise)


def test_qotd() -> None:
    proto = wire.QOTD()
    transport = connected(proto)
    assert transport.value() == proto.getQuote()
    assert transport.value().endswith(b"\r\n")
    assert transport.disconnecting

    class Custom(wire.QOTD):
        def getQuote(self) -> bytes:
            return b"Now is better than never.\r\n"

    transport = connected(Custom())
    assert transport.value() == b"Now is better than never.\r\n"


def test_daytime() -> None:
    clock = Clock()
    clock.advance(calendar.timegm((1982, 2, 22, 17, 37, 43, 0, 0, 0)))
    proto = wire.Daytime()
    proto.clock = clock
    transport = connected(proto)
    assert transport.value() == b"Monday, February 22, 1982 17:37:43-UTC\r\n"
    assert transport.disconnecting


def test_daytimeSystemClock() -> None:
    transport = connected(wire.Daytime())
    assert transport.value().endswith(b"-UTC\r\n")


def test_time() -> None:
    clock = Clock()
    proto = wire.Time()
    proto.clock = clock
    transport = connected(proto)
    # 1970-01-01 is 2208988800 seconds after 1900-01-01 (RFC 868).
    assert transport.value() == struct.pack("!I", 2208988800)
    assert transport.disconnecting

    clock.advance(calendar.timegm((2036, 2, 7, 6, 28, 16, 0, 0, 0)))
    proto = wire.Time()
    proto.clock = clock
    # The 32-bit count wraps to zero at 2036-02-07 06:28:16 UTC.
    assert connected(proto).value() == b"\x00\x00\x00\x00"


def test_timeOverTCP(reactor: Any) -> None:
    client = Collector()
    d = loopback.loopbackTCP(wire.Time(), client, reactor=reactor, noisy=False)
    runUntil(reactor, d)
    (value,) = struct.unpack("!I", client.data)
    assert value > 3900000000


def test_who() -> None:
    transport = connected(wire.Who())
    assert transport.value() == b""
    assert transport.disconnecting

    class Some(wire.Who):
        def getUsers(self) -> list[bytes]:
            return [b"alice", b"bob"]

    transport = connected(Some())
    assert transport.value() == b"alice\r\nbob\r\n"
