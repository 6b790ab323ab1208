"""
Tests for ``torsion.protocols.policies``: wrapping, timeouts, throttling,
connection limits and traffic logging.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from reactormixins import runUntil
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.internet import error, interfaces, protocol
from torsion.internet.address import IPv4Address
from torsion.internet.defer import Deferred
from torsion.internet.task import Clock
from torsion.internet.testing import (
    AccumulatingProtocol,
    StringTransport,
    StringTransportWithDisconnection,
)
from torsion.logger import Logger
from torsion.protocols import policies
from torsion.python.failure import Failure

PEER = IPv4Address("TCP", "192.0.2.7", 40000)


class Recorder(protocol.Protocol):
    """
    Records what happens to it; echoes nothing.
    """

    def __init__(self) -> None:
        self.data = b""
        self.made = False
        self.lost: Failure | None = None

    def connectionMade(self) -> None:
        self.made = True

    def dataReceived(self, data: bytes) -> None:
        self.data += data

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.lost = reason


class RecorderFactory(protocol.ClientFactory):
    protocol = Recorder

    def __init__(self) -> None:
        self.events: list[str] = []

    def startFactory(self) -> None:
        self.events.append("start")

    def stopFactory(self) -> None:
        self.events.append("stop")

    def startedConnecting(self, connector: Any) -> None:
        self.events.append("connecting")

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        self.events.append("failed")

    def clientConnectionLost(self, connector: Any, reason: Any) -> None:
        self.events.append("lost")


def connectWrapper(
    factory: Any, peer: IPv4Address = PEER
) -> tuple[Any, StringTransportWithDisconnection]:
    """
    Build a protocol from ``factory`` and connect it to an in-memory
    transport whose ``loseConnection`` ends the connection at once.
    """
    wrapper = factory.buildProtocol(peer)
    assert wrapper is not None
    transport = StringTransportWithDisconnection(peerAddress=peer)
    transport.protocol = wrapper
    wrapper.makeConnection(transport)
    return wrapper, transport


def lose(wrapper: Any) -> None:
    wrapper.connectionLost(Failure(error.ConnectionDone()))


# ProtocolWrapper and WrappingFactory


def test_wrappingFactoryInterfaces() -> None:
    factory = policies.WrappingFactory(RecorderFactory())
    assert verifyObject(interfaces.IProtocolFactory, factory)
    wrapper, _transport = connectWrapper(factory)
    assert verifyObject(interfaces.IProtocol, wrapper)
    # The wrapper is the wrapped protocol's transport and provides what the
    # real transport provides.
    assert verifyObject(interfaces.ITCPTransport, wrapper)
    assert wrapper.wrappedProtocol.transport is wrapper


def test_wrapperPassesTrafficBothWays() -> None:
    factory = policies.WrappingFactory(RecorderFactory())
    wrapper, transport = connectWrapper(factory)
    inner = wrapper.wrappedProtocol
    assert inner.made
    assert factory.protocols == {wrapper: 1}
    wrapper.dataReceived(b"in")
    assert inner.data == b"in"
    inner.transport.write(b"out")
    inner.transport.writeSequence([b"1", b"2"])
    assert transport.value() == b"out12"
    assert inner.transport.getPeer() == PEER
    assert inner.transport.getHost() == transport.getHost()
    # Attributes the wrapper lacks come from the real transport.
    assert inner.transport.producerState == "producing"


def test_wrapperRejectsStr() -> None:
    wrapper, transport = connectWrapper(policies.WrappingFactory(RecorderFactory()))
    with pytest.raises(TypeError):
        wrapper.write("text")
    with pytest.raises(TypeError):
        wrapper.writeSequence([b"ok", "text"])
    assert transport.value() == b""


def test_wrapperConnectionLost() -> None:
    factory = policies.WrappingFactory(RecorderFactory())
    wrapper, _transport = connectWrapper(factory)
    inner = wrapper.wrappedProtocol
    inner.transport.loseConnection()
    assert wrapper.disconnecting
    assert factory.protocols == {}
    assert inner.lost is not None
    assert inner.lost.check(error.ConnectionDone)


def test_wrapperAbortConnection() -> None:
    wrapper, transport = connectWrapper(policies.WrappingFactory(RecorderFactory()))
    wrapper.wrappedProtocol.transport.abortConnection()
    assert transport.aborted


def test_wrapperProducerRegistration() -> None:
    wrapper, transport = connectWrapper(policies.WrappingFactory(RecorderFactory()))
    producer = object()
    wrapper.registerProducer(producer, True)
    assert transport.producer is producer
    assert transport.streaming
    wrapper.stopConsuming()
    assert transport.producer is None
    assert transport.disconnecting


def test_wrappedFactoryRefuses() -> None:
    class Refusing(RecorderFactory):
        def buildProtocol(self, addr: Any) -> None:
            return None

    assert policies.WrappingFactory(Refusing()).buildProtocol(PEER) is None


def test_wrappingFactoryForwardsEvents() -> None:
    inner = RecorderFactory()
    factory = policies.WrappingFactory(inner)
    factory.doStart()
    factory.startedConnecting(None)  # type: ignore[arg-type]
    factory.clientConnectionFailed(None, Failure(error.ConnectionRefusedError()))  # type: ignore[arg-type]
    factory.clientConnectionLost(None, Failure(error.ConnectionDone()))  # type: ignore[arg-type]
    factory.doStop()
    assert inner.events == ["start", "connecting", "failed", "lost", "stop"]
    assert "(wrapped)" in factory.logPrefix()


# TimeoutMixin


class Idle(Recorder, policies.TimeoutMixin):
    timedOut = 0

    def connectionMade(self) -> None:
        self.setTimeout(10)

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        Recorder.dataReceived(self, data)


def test_timeoutMixinClosesIdleConnection() -> None:
    clock = Clock()
    proto = Idle()
    proto.callLater = clock.callLater
    transport = StringTransport()
    proto.makeConnection(transport)
    clock.advance(9)
    proto.dataReceived(b"x")
    clock.advance(9)
    assert not transport.disconnecting
    clock.advance(1)
    assert transport.disconnecting
    assert clock.getDelayedCalls() == []


def test_timeoutMixinSetTimeoutReturnsPrevious() -> None:
    clock = Clock()
    proto = Idle()
    proto.callLater = clock.callLater
    transport = StringTransport()
    proto.makeConnection(transport)
    assert proto.setTimeout(20) == 10
    clock.advance(15)
    assert not transport.disconnecting
    assert proto.setTimeout(None) == 20
    assert clock.getDelayedCalls() == []
    clock.advance(100)
    assert not transport.disconnecting
    # Resetting with no timer running does nothing.
    proto.resetTimeout()
    assert proto.setTimeout(5) is None
    clock.advance(5)
    assert transport.disconnecting


def test_timeoutConnectionOverridable() -> None:
    class Counting(Idle):
        def timeoutConnection(self) -> None:
            self.timedOut += 1

    clock = Clock()
    proto = Counting()
    proto.callLater = clock.callLater
    transport = StringTransport()
    proto.makeConnection(transport)
    clock.advance(10)
    assert proto.timedOut == 1
    assert not transport.disconnecting


# TimeoutFactory


def timeoutFactory(period: float = 5) -> tuple[policies.TimeoutFactory, Clock]:
    clock = Clock()
    factory = policies.TimeoutFactory(RecorderFactory(), timeoutPeriod=period)
    factory.callLater = clock.callLater
    return factory, clock


def test_timeoutFactoryClosesIdle() -> None:
    factory, clock = timeoutFactory(5)
    wrapper, transport = connectWrapper(factory)
    clock.advance(4)
    wrapper.dataReceived(b"activity")
    clock.advance(4)
    wrapper.wrappedProtocol.transport.write(b"reply")
    clock.advance(4)
    wrapper.wrappedProtocol.transport.writeSequence([b"more"])
    clock.advance(4)
    assert not transport.disconnecting
    clock.advance(1)
    assert transport.disconnecting
    assert wrapper.wrappedProtocol.lost is not None
    assert factory.protocols == {}


def test_timeoutFactoryCancelsOnLoss() -> None:
    factory, clock = timeoutFactory(5)
    _wrapper, transport = connectWrapper(factory)
    transport.loseConnection()
    assert clock.getDelayedCalls() == []


def test_timeoutProtocolSetTimeout() -> None:
    factory, clock = timeoutFactory(5)
    wrapper, transport = connectWrapper(factory)
    wrapper.setTimeout(None)
    assert clock.getDelayedCalls() == []
    wrapper.setTimeout(1)
    clock.advance(1)
    assert transport.disconnecting


# ThrottlingFactory


def throttling(**kwargs: Any) -> tuple[policies.ThrottlingFactory, Clock]:
    clock = Clock()
    factory = policies.ThrottlingFactory(RecorderFactory(), **kwargs)
    factory.callLater = clock.callLater
    return factory, clock


def test_throttlingMaxConnections() -> None:
    factory, _clock = throttling(maxConnectionCount=2)
    first, _ = connectWrapper(factory)
    connectWrapper(factory)
    assert factory.buildProtocol(PEER) is None
    assert factory.connectionCount == 2
    lose(first)
    assert factory.connectionCount == 1
    assert factory.buildProtocol(PEER) is not None


def test_throttlingReads() -> None:
    factory, clock = throttling(readLimit=10)
    wrapper, transport = connectWrapper(factory)
    wrapper.dataReceived(b"x" * 25)
    assert wrapper.wrappedProtocol.data == b"x" * 25
    assert transport.producerState == "producing"
    clock.advance(1)
    # 25 bytes at 10/s: reading pauses for the 1.5 s of excess.
    assert str(transport.producerState) == "paused"
    clock.advance(1.4)
    assert str(transport.producerState) == "paused"
    clock.advance(0.1)
    assert str(transport.producerState) == "producing"


def test_throttlingUnderLimitNeverPauses() -> None:
    factory, clock = throttling(readLimit=100, writeLimit=100)
    wrapper, transport = connectWrapper(factory)
    for _ in range(5):
        wrapper.dataReceived(b"y" * 100)
        wrapper.write(b"z" * 100)
        clock.advance(1)
        assert transport.producerState == "producing"


@implementer(interfaces.IPushProducer)
class Producer:
    def __init__(self) -> None:
        self.state = "producing"

    def pauseProducing(self) -> None:
        self.state = "paused"

    def resumeProducing(self) -> None:
        self.state = "producing"

    def stopProducing(self) -> None:
        self.state = "stopped"


def test_throttlingWrites() -> None:
    factory, clock = throttling(writeLimit=10)
    wrapper, transport = connectWrapper(factory)
    producer = Producer()
    wrapper.wrappedProtocol.transport.registerProducer(producer, True)
    assert transport.producer is producer
    wrapper.wrappedProtocol.transport.writeSequence([b"a" * 15, b"b" * 15])
    clock.advance(1)
    assert producer.state == "paused"
    clock.advance(2)
    assert producer.state == "producing"
    wrapper.unregisterProducer()
    assert transport.producer is None


def test_throttlingStopsTimersWhenIdle() -> None:
    factory, clock = throttling(readLimit=10, writeLimit=10)
    wrapper, transport = connectWrapper(factory)
    wrapper.dataReceived(b"x" * 50)
    clock.advance(1)
    assert clock.getDelayedCalls() != []
    transport.loseConnection()
    assert factory.connectionCount == 0
    assert clock.getDelayedCalls() == []


def test_throttlingRejectsBadLimits() -> None:
    with pytest.raises(ValueError, match="readLimit"):
        policies.ThrottlingFactory(RecorderFactory(), readLimit=0)
    with pytest.raises(ValueError, match="writeLimit"):
        policies.ThrottlingFactory(RecorderFactory(), writeLimit=-1)


# LimitTotalConnectionsFactory


class Busy(protocol.Protocol):
    def connectionMade(self) -> None:
        self.transport.write(b"busy\r\n")
        self.transport.loseConnection()


def test_limitTotalConnections() -> None:
    factory = policies.LimitTotalConnectionsFactory()
    factory.protocol = Recorder
    factory.connectionLimit = 2
    first, _ = connectWrapper(factory)
    _second, _ = connectWrapper(factory)
    assert isinstance(first.wrappedProtocol, Recorder)
    assert first.wrappedProtocol.factory is factory
    assert factory.buildProtocol(PEER) is None
    lose(first)
    assert factory.connectionCount == 1
    assert factory.buildProtocol(PEER) is not None


def test_limitTotalConnectionsOverflow() -> None:
    factory = policies.LimitTotalConnectionsFactory()
    factory.protocol = Recorder
    factory.connectionLimit = 1
    factory.overflowProtocol = Busy
    connectWrapper(factory)
    overflow, transport = connectWrapper(factory)
    assert isinstance(overflow.wrappedProtocol, Busy)
    assert transport.value() == b"busy\r\n"
    # The overflow connection closed at once and was counted out again.
    assert factory.connectionCount == 1


def test_limitTotalConnectionsNoLimit() -> None:
    factory = policies.LimitTotalConnectionsFactory()
    factory.protocol = Recorder
    for _ in range(50):
        connectWrapper(factory)
    assert factory.connectionCount == 50


# LimitConnectionsByPeer


def test_limitConnectionsByPeer() -> None:
    factory = policies.LimitConnectionsByPeer(RecorderFactory(), 2)
    factory.startFactory()
    one = IPv4Address("TCP", "192.0.2.1", 1000)
    other = IPv4Address("TCP", "192.0.2.2", 1000)
    first, _ = connectWrapper(factory, one)
    connectWrapper(factory, IPv4Address("TCP", "192.0.2.1", 1001))
    assert factory.buildProtocol(IPv4Address("TCP", "192.0.2.1", 1002)) is None
    connectWrapper(factory, other)
    lose(first)
    assert factory.peerConnections == {"192.0.2.1": 1, "192.0.2.2": 1}
    assert factory.buildProtocol(one) is not None


def test_limitConnectionsByPeerDefault() -> None:
    factory = policies.LimitConnectionsByPeer(RecorderFactory())
    for _ in range(factory.maxConnectionsPerPeer):
        connectWrapper(factory)
    assert factory.buildProtocol(PEER) is None


# TrafficLoggingFactory


def test_trafficLogging(tmp_path: Path) -> None:
    prefix = str(tmp_path / "traffic")
    factory = policies.TrafficLoggingFactory(RecorderFactory(), prefix)
    wrapper, transport = connectWrapper(factory)
    wrapper.dataReceived(b"hello")
    wrapper.wrappedProtocol.transport.write(b"hi")
    wrapper.wrappedProtocol.transport.writeSequence([b"a", b"b"])
    wrapper.wrappedProtocol.transport.loseConnection()
    assert transport.value() == b"hiab"
    log = (tmp_path / "traffic-1").read_text().splitlines()
    assert log[:4] == [
        "C 1: b'hello'",
        "S 1: b'hi'",
        "SV 1: [b'a', b'b']",
        "LoseConnection 1",
    ]
    assert log[4].startswith("ConnectionLost 1: ")
    assert "closed cleanly" in log[4]
    connectWrapper(factory)
    assert (tmp_path / "traffic-2").exists()
    factory.resetCounter()
    connectWrapper(factory)
    assert (tmp_path / "traffic-1").read_text() == ""


def test_trafficLoggingLengthLimit(tmp_path: Path) -> None:
    prefix = str(tmp_path / "t")
    factory = policies.TrafficLoggingFactory(RecorderFactory(), prefix, 10)
    wrapper, _transport = connectWrapper(factory)
    wrapper.dataReceived(b"x" * 100)
    assert (tmp_path / "t-1").read_text() == "C 1: b'xxxxx...\n"


# SpewingFactory


def test_spewing() -> None:
    events: list[dict[str, Any]] = []
    factory = policies.SpewingFactory(RecorderFactory())
    wrapper, transport = connectWrapper(factory)
    wrapper.log = Logger(observer=events.append)
    wrapper.dataReceived(b"ping")
    wrapper.wrappedProtocol.transport.write(b"pong")
    assert [e["data"] for e in events] == [b"ping", b"pong"]
    assert wrapper.wrappedProtocol.data == b"ping"
    assert transport.value() == b"pong"


def test_accumulatingProtocolThroughWrapper() -> None:
    factory = policies.WrappingFactory(
        protocol.Factory.forProtocol(AccumulatingProtocol)
    )
    wrapper, _transport = connectWrapper(factory)
    wrapper.dataReceived(b"abc")
    assert wrapper.wrappedProtocol.data == b"abc"


# Over real TCP


class Client(protocol.Protocol):
    """
    Sends ``greeting`` on connect; fires ``closed`` with what it received
    when the connection ends.
    """

    def __init__(self, greeting: bytes = b"") -> None:
        self.greeting = greeting
        self.received = b""
        self.closed: Deferred[bytes] = Deferred()

    def connectionMade(self) -> None:
        if self.greeting:
            self.transport.write(self.greeting)

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.closed.callback(self.received)


def connectClient(reactor: Any, port: Any, client: Client) -> None:
    factory = protocol.ClientFactory()
    factory.protocol = lambda: client
    reactor.connectTCP("127.0.0.1", port.getHost().port, factory)


class EchoQuit(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)
        if data.endswith(b"QUIT"):
            self.transport.loseConnection()


def test_wrappingFactoryOverTCP(reactor: Any) -> None:
    factory = policies.WrappingFactory(protocol.Factory.forProtocol(EchoQuit))
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        client = Client(b"hello QUIT")
        connectClient(reactor, port, client)
        assert runUntil(reactor, client.closed) == b"hello QUIT"
        assert factory.protocols == {}
    finally:
        runUntil(reactor, port.stopListening())


def test_timeoutFactoryOverTCP(reactor: Any) -> None:
    """
    A client that connects and sends nothing is disconnected by the
    server's idle timeout (SECURITY.md LINE-11).
    """
    factory = policies.TimeoutFactory(
        protocol.Factory.forProtocol(EchoQuit), timeoutPeriod=0.05
    )
    factory.callLater = reactor.callLater
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        client = Client()
        connectClient(reactor, port, client)
        assert runUntil(reactor, client.closed) == b""
    finally:
        runUntil(reactor, port.stopListening())


def test_limitConnectionsByPeerOverTCP(reactor: Any) -> None:
    factory = policies.LimitConnectionsByPeer(protocol.Factory.forProtocol(EchoQuit), 1)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        first = Client(b"one")
        connectClient(reactor, port, first)
        echoed: Deferred[None] = Deferred()
        first.dataReceived = lambda data: echoed.callback(None)  # type: ignore[method-assign]
        runUntil(reactor, echoed)
        # The second connection from the same host is refused at once.
        second = Client(b"two")
        connectClient(reactor, port, second)
        assert runUntil(reactor, second.closed) == b""
        first.transport.write(b"QUIT")
        runUntil(reactor, first.closed)
        assert factory.peerConnections == {}
    finally:
        runUntil(reactor, port.stopListening())


def test_throttlingMaxConnectionsOverTCP(reactor: Any) -> None:
    factory = policies.ThrottlingFactory(
        protocol.Factory.forProtocol(EchoQuit), maxConnectionCount=1
    )
    factory.callLater = reactor.callLater
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        first = Client(b"one")
        connectClient(reactor, port, first)
        echoed: Deferred[None] = Deferred()
        first.dataReceived = lambda data: echoed.callback(None)  # type: ignore[method-assign]
        runUntil(reactor, echoed)
        second = Client(b"two")
        connectClient(reactor, port, second)
        assert runUntil(reactor, second.closed) == b""
        first.transport.write(b"QUIT")
        runUntil(reactor, first.closed)
        assert factory.connectionCount == 0
    finally:
        runUntil(reactor, port.stopListening())
