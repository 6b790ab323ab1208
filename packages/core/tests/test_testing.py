"""
Tests for torsion.internet.testing: the in-memory transports, reactors and
wiring helpers other tests are built on.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from zope.interface.verify import verifyClass, verifyObject

from torsion.internet import error
from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IConnector,
    IConsumer,
    IListeningPort,
    IProtocol,
    IPullProducer,
    IPushProducer,
    IReactorCore,
    IReactorFDSet,
    IReactorSocket,
    IReactorSSL,
    IReactorTCP,
    IReactorTime,
    IReactorUDP,
    IReactorUNIX,
    ITCPTransport,
    ITransport,
)
from torsion.internet.protocol import ClientFactory, Factory, Protocol, connectionDone
from torsion.internet.task import Clock
from torsion.internet.testing import (
    MAX_FLUSH_ROUNDS,
    AccumulatingProtocol,
    EventLoggingObserver,
    IOPump,
    MemoryReactor,
    MemoryReactorClock,
    NonStreamingProducer,
    RaisingMemoryReactor,
    StringTransport,
    StringTransportWithDisconnection,
    connect,
    connectedServerAndClient,
    waitUntilAllDisconnected,
)
from torsion.logger import ILogObserver, Logger, LogPublisher
from torsion.python.failure import Failure

# ---------------------------------------------------------------------------
# StringTransport
# ---------------------------------------------------------------------------


def _producerState(transport: StringTransport) -> str:
    """
    The transport's state read afresh: mypy would keep the value narrowed by
    an earlier comparison across the calls that change it.
    """
    return transport.producerState


class TestStringTransport:
    def test_interfaces(self) -> None:
        transport = StringTransport()
        for iface in (ITransport, ITCPTransport, IConsumer, IPushProducer):
            assert verifyObject(iface, transport)

    def test_writeAndValue(self) -> None:
        transport = StringTransport()
        transport.write(b"hello ")
        transport.writeSequence([b"wor", b"ld"])
        # Any bytes-like object is accepted, as by a real transport.
        transport.write(bytearray(b"!"))  # type: ignore[arg-type]
        assert transport.value() == b"hello world!"
        assert transport.io.getvalue() == b"hello world!"

    def test_clear(self) -> None:
        transport = StringTransport()
        transport.write(b"abc")
        transport.clear()
        assert transport.value() == b""
        transport.write(b"d")
        assert transport.value() == b"d"

    def test_writeStrRejected(self) -> None:
        transport = StringTransport()
        with pytest.raises(TypeError, match="str"):
            transport.write("text")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            transport.write(12)  # type: ignore[arg-type]
        assert transport.value() == b""

    def test_writeSequenceStrRejectedAtomically(self) -> None:
        transport = StringTransport()
        with pytest.raises(TypeError, match="str"):
            transport.writeSequence([b"ok", "bad"])  # type: ignore[list-item]
        assert transport.value() == b""

    def test_defaultAddresses(self) -> None:
        transport = StringTransport()
        assert transport.getHost() == IPv4Address("TCP", "10.0.0.1", 12345)
        assert transport.getPeer() == IPv4Address("TCP", "192.168.1.1", 54321)

    def test_givenAddresses(self) -> None:
        host = UNIXAddress("/tmp/a")
        peer = IPv6Address("TCP", "::1", 80)
        transport = StringTransport(hostAddress=host, peerAddress=peer)
        assert transport.getHost() is host
        assert transport.getPeer() is peer

    def test_loseConnection(self) -> None:
        transport = StringTransport()
        assert not transport.disconnecting
        transport.loseConnection()
        assert transport.disconnecting
        assert not transport.aborted

    def test_abortConnection(self) -> None:
        transport = StringTransport()
        transport.abortConnection()
        assert transport.disconnecting
        assert transport.aborted

    def test_loseWriteConnection(self) -> None:
        transport = StringTransport()
        transport.loseWriteConnection()
        assert transport.writeDisconnected
        assert not transport.disconnecting

    def test_tcpOptions(self) -> None:
        transport = StringTransport()
        assert not transport.getTcpNoDelay()
        assert not transport.getTcpKeepAlive()
        transport.setTcpNoDelay(True)
        transport.setTcpKeepAlive(True)
        assert transport.getTcpNoDelay()
        assert transport.getTcpKeepAlive()

    def test_registerProducer(self) -> None:
        transport = StringTransport()
        producer = object()
        transport.registerProducer(producer, True)  # type: ignore[arg-type]
        assert transport.producer is producer
        assert transport.streaming is True
        with pytest.raises(RuntimeError, match="already registered"):
            transport.registerProducer(object(), False)  # type: ignore[arg-type]
        transport.unregisterProducer()
        assert transport.producer is None
        assert transport.streaming is None
        with pytest.raises(RuntimeError, match="none is registered"):
            transport.unregisterProducer()

    def test_producerState(self) -> None:
        transport = StringTransport()
        assert _producerState(transport) == "producing"
        transport.pauseProducing()
        assert _producerState(transport) == "paused"
        transport.resumeProducing()
        assert _producerState(transport) == "producing"
        transport.stopProducing()
        assert _producerState(transport) == "stopped"
        with pytest.raises(RuntimeError, match="stopped"):
            transport.resumeProducing()

    def test_pauseAfterLoseConnection(self) -> None:
        transport = StringTransport()
        transport.loseConnection()
        with pytest.raises(RuntimeError, match="loseConnection"):
            transport.pauseProducing()

    def test_protocolOverStringTransport(self) -> None:
        class Echo(Protocol):
            def dataReceived(self, data: bytes) -> None:
                self.transport.write(data)

        protocol = Echo()
        transport = StringTransport()
        protocol.makeConnection(transport)
        protocol.dataReceived(b"ping")
        assert transport.value() == b"ping"


class TestStringTransportWithDisconnection:
    def test_loseConnectionNotifiesOnce(self) -> None:
        protocol = AccumulatingProtocol()
        transport = StringTransportWithDisconnection()
        transport.protocol = protocol
        protocol.makeConnection(transport)
        transport.loseConnection()
        assert protocol.closed
        assert protocol.closedReason is not None
        assert protocol.closedReason.check(error.ConnectionDone)
        assert not transport.connected
        protocol.closed = False
        transport.loseConnection()
        assert not protocol.closed


# ---------------------------------------------------------------------------
# AccumulatingProtocol, NonStreamingProducer
# ---------------------------------------------------------------------------


class TestAccumulatingProtocol:
    def test_interface(self) -> None:
        assert verifyObject(IProtocol, AccumulatingProtocol())

    def test_lifecycle(self) -> None:
        factory = Factory.forProtocol(AccumulatingProtocol)
        made: Deferred[AccumulatingProtocol] = Deferred()
        factory.protocolConnectionMade = made
        protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
        assert isinstance(protocol, AccumulatingProtocol)
        closed: Deferred[None] = Deferred()
        protocol.closedDeferred = closed
        results: list[object] = []
        made.addCallback(results.append)
        closed.addCallback(results.append)

        protocol.makeConnection(StringTransport())
        assert protocol.made
        assert results == [protocol]
        assert factory.protocolConnectionMade is None
        protocol.dataReceived(b"ab")
        protocol.dataReceived(b"c")
        assert protocol.data == b"abc"
        reason = Failure(error.ConnectionLost())
        protocol.connectionLost(reason)
        assert protocol.closed
        assert protocol.closedReason is reason
        assert results == [protocol, None]


class TestNonStreamingProducer:
    def test_producesThenUnregisters(self) -> None:
        transport = StringTransport()
        producer = NonStreamingProducer(transport)
        assert verifyObject(IPullProducer, producer)
        transport.registerProducer(producer, False)
        for _ in range(NonStreamingProducer.COUNT):
            producer.resumeProducing()
        assert transport.value() == b"123456789"
        assert not producer.result.called
        producer.resumeProducing()
        assert transport.producer is None
        assert producer.result.called
        assert producer.counter == NonStreamingProducer.COUNT + 1
        with pytest.raises(RuntimeError):
            producer.resumeProducing()

    def test_stop(self) -> None:
        producer = NonStreamingProducer(StringTransport())
        producer.stopProducing()
        assert producer.stopped
        assert producer.result.called


# ---------------------------------------------------------------------------
# MemoryReactor
# ---------------------------------------------------------------------------


class TestMemoryReactor:
    def test_interfaces(self) -> None:
        reactor = MemoryReactor()
        for iface in (
            IReactorCore,
            IReactorTCP,
            IReactorSSL,
            IReactorUNIX,
            IReactorUDP,
            IReactorSocket,
            IReactorFDSet,
        ):
            assert verifyObject(iface, reactor)

    def test_clockInterfaces(self) -> None:
        reactor = MemoryReactorClock()
        assert verifyObject(IReactorTime, reactor)
        assert verifyObject(IReactorTCP, reactor)
        calls: list[int] = []
        reactor.callLater(1, calls.append, 1)
        reactor.advance(1)
        assert calls == [1]

    def test_listenTCP(self) -> None:
        reactor = MemoryReactor()
        factory = Factory()
        port = reactor.listenTCP(8080, factory, backlog=7, interface="127.0.0.1")
        assert verifyObject(IListeningPort, port)
        assert reactor.tcpServers == [(8080, factory, 7, "127.0.0.1")]
        assert port.getHost() == IPv4Address("TCP", "127.0.0.1", 8080)
        port6 = reactor.listenTCP(0, factory, interface="::1")
        assert port6.getHost() == IPv6Address("TCP", "::1", 0)
        assert reactor.listenTCP(1, factory).getHost() == IPv4Address(
            "TCP", "0.0.0.0", 1
        )

    def test_connectTCP(self) -> None:
        reactor = MemoryReactor()
        started: list[Any] = []

        class F(ClientFactory):
            def startedConnecting(self, connector: Any) -> None:
                started.append(connector)

        factory = F()
        connector = reactor.connectTCP("1.2.3.4", 80, factory, 5, ("0.0.0.0", 0))
        assert verifyObject(IConnector, connector)
        assert reactor.tcpClients == [("1.2.3.4", 80, factory, 5, ("0.0.0.0", 0))]
        assert started == [connector]
        assert reactor.connectors == [connector]
        assert connector.getDestination() == IPv4Address("TCP", "1.2.3.4", 80)
        v6 = reactor.connectTCP("::1", 80, factory)
        assert v6.getDestination() == IPv6Address("TCP", "::1", 80)

    def test_connectorStopConnecting(self) -> None:
        reactor = MemoryReactor()
        connector = reactor.connectTCP("1.2.3.4", 80, ClientFactory())
        connector.stopConnecting()
        assert connector.stoppedConnecting  # type: ignore[attr-defined]
        with pytest.raises(error.NotConnectingError):
            connector.stopConnecting()
        connector.connect()
        assert connector.connectionAttempts == 1  # type: ignore[attr-defined]
        connector.disconnect()
        assert connector._disconnected  # type: ignore[attr-defined]

    def test_ssl(self) -> None:
        reactor = MemoryReactor()
        factory = Factory()
        ctx = object()
        reactor.listenSSL(443, factory, ctx, 10, "127.0.0.1")
        reactor.connectSSL("example.com", 443, factory, ctx, 3, None)
        assert reactor.sslServers == [(443, factory, ctx, 10, "127.0.0.1")]
        assert reactor.sslClients == [("example.com", 443, factory, ctx, 3, None)]

    def test_unix(self) -> None:
        reactor = MemoryReactor()
        factory = Factory()
        port = reactor.listenUNIX("/tmp/s", factory, 5, 0o600, True)
        connector = reactor.connectUNIX("/tmp/s", factory, 3, True)
        assert reactor.unixServers == [("/tmp/s", factory, 5, 0o600, True)]
        assert reactor.unixClients == [("/tmp/s", factory, 3, True)]
        assert port.getHost() == UNIXAddress("/tmp/s")
        assert connector.getDestination() == UNIXAddress("/tmp/s")

    def test_udp(self) -> None:
        reactor = MemoryReactor()
        protocol = object()
        reactor.listenUDP(53, protocol, "127.0.0.1", 512)
        assert reactor.udpServers == [(53, protocol, "127.0.0.1", 512)]

    def test_adopt(self) -> None:
        reactor = MemoryReactor()
        factory = Factory()
        reactor.adoptStreamPort(3, socket.AF_INET, factory)
        reactor.adoptStreamConnection(4, socket.AF_INET6, factory)
        reactor.adoptDatagramPort(5, socket.AF_INET, factory, 100)
        assert reactor.adoptedPorts == [(3, socket.AF_INET, factory)]
        assert reactor.adoptedStreamConnections == [(4, socket.AF_INET6, factory)]
        assert reactor.adoptedDatagramPorts == [(5, socket.AF_INET, factory, 100)]

    def test_runCallsWhenRunningHooks(self) -> None:
        reactor = MemoryReactor()
        seen: list[bool] = []
        reactor.callWhenRunning(lambda: seen.append(reactor.running))
        assert not reactor.hasRun
        reactor.run()
        assert seen == [True]
        assert reactor.hasRun
        assert reactor.hasStopped
        assert not reactor.running

    def test_crash(self) -> None:
        reactor = MemoryReactor()
        reactor.crash()
        assert reactor.hasCrashed

    def test_triggers(self) -> None:
        reactor = MemoryReactor()
        order: list[str] = []
        reactor.addSystemEventTrigger("after", "shutdown", order.append, "after")
        reactor.addSystemEventTrigger("before", "shutdown", order.append, "before")
        tid = reactor.addSystemEventTrigger("during", "shutdown", order.append, "x")
        assert reactor.triggers["before"]["shutdown"] == [
            (order.append, ("before",), {})
        ]
        reactor.removeSystemEventTrigger(tid)
        with pytest.raises(ValueError):
            reactor.removeSystemEventTrigger(tid)
        with pytest.raises(ValueError):
            reactor.addSystemEventTrigger("middle", "shutdown", order.append)
        reactor.fireSystemEvent("shutdown")
        assert order == ["before", "after"]

    def test_resolve(self) -> None:
        reactor = MemoryReactor()
        results: list[object] = []
        reactor.resolve("127.0.0.1").addBoth(results.append)
        reactor.resolve("example.com").addBoth(results.append)
        assert results[0] == "127.0.0.1"
        assert isinstance(results[1], Failure)
        assert results[1].check(error.DNSLookupError)

    def test_fdSet(self) -> None:
        reactor = MemoryReactor()
        a, b = object(), object()
        reactor.addReader(a)  # type: ignore[arg-type]
        reactor.addWriter(a)  # type: ignore[arg-type]
        reactor.addWriter(b)  # type: ignore[arg-type]
        assert reactor.getReaders() == [a]
        assert set(reactor.getWriters()) == {a, b}
        reactor.removeWriter(b)  # type: ignore[arg-type]
        assert reactor.getWriters() == [a]
        assert sorted(map(id, reactor.removeAll())) == [id(a)]
        assert reactor.getReaders() == []
        assert reactor.getWriters() == []
        reactor.removeReader(a)  # type: ignore[arg-type]

    def test_iterateDoesNothing(self) -> None:
        MemoryReactor().iterate(0)


class TestRaisingMemoryReactor:
    def test_raises(self) -> None:
        listen = error.CannotListenError("", 80, OSError("in use"))
        conn = error.ConnectionRefusedError()
        reactor = RaisingMemoryReactor(listen, conn)
        factory = Factory()
        listens: tuple[Callable[[], object], ...] = (
            lambda: reactor.listenTCP(80, factory),
            lambda: reactor.listenSSL(80, factory, None),
            lambda: reactor.listenUNIX("/x", factory),
            lambda: reactor.listenUDP(80, factory),
            lambda: reactor.adoptStreamPort(3, socket.AF_INET, factory),
        )
        for call in listens:
            with pytest.raises(error.CannotListenError):
                call()
        connects: tuple[Callable[[], object], ...] = (
            lambda: reactor.connectTCP("h", 80, factory),
            lambda: reactor.connectSSL("h", 80, factory, None),
            lambda: reactor.connectUNIX("/x", factory),
        )
        for call in connects:
            with pytest.raises(error.ConnectionRefusedError):
                call()

    def test_defaults(self) -> None:
        reactor = RaisingMemoryReactor()
        with pytest.raises(error.CannotListenError):
            reactor.listenTCP(1, Factory())
        with pytest.raises(error.ConnectError):
            reactor.connectTCP("h", 1, Factory())
        assert verifyClass(IReactorTCP, RaisingMemoryReactor)


# ---------------------------------------------------------------------------
# IOPump and friends
# ---------------------------------------------------------------------------


class Greeter(Protocol):
    """
    Server: greets on connect, upper-cases lines, closes on b"bye".
    """

    def __init__(self) -> None:
        self.received = b""
        self.lost: Failure | None = None

    def connectionMade(self) -> None:
        self.transport.write(b"hello\n")

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if b"bye" in data:
            self.transport.write(b"ok bye\n")
            self.transport.loseConnection()
        else:
            self.transport.write(data.upper())

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost = reason


class Collector(Protocol):
    def __init__(self) -> None:
        self.received = b""
        self.lost: Failure | None = None

    def dataReceived(self, data: bytes) -> None:
        self.received += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.lost = reason


class TestIOPump:
    def test_greetingDelivered(self) -> None:
        client, _server, pump = connectedServerAndClient(Greeter, Collector)
        assert isinstance(pump, IOPump)
        assert client.received == b"hello\n"

    def test_noGreet(self) -> None:
        client, _server, pump = connectedServerAndClient(
            Greeter, Collector, greet=False
        )
        assert client.received == b""
        assert pump.pump()
        assert client.received == b"hello\n"
        assert not pump.pump()

    def test_exchange(self) -> None:
        client, server, pump = connectedServerAndClient(Greeter, Collector)
        client.transport.write(b"abc")
        assert server.received == b""
        pump.flush()
        assert server.received == b"abc"
        assert client.received == b"hello\nABC"

    def test_addresses(self) -> None:
        client, server, _pump = connectedServerAndClient(Greeter, Collector)
        assert client.transport.getPeer() == server.transport.getHost()
        assert server.transport.getPeer() == client.transport.getHost()

    def test_loseConnectionAfterDelivery(self) -> None:
        client, server, pump = connectedServerAndClient(Greeter, Collector)
        client.transport.write(b"bye")
        pump.flush()
        assert client.received == b"hello\nok bye\n"
        assert client.lost is not None and client.lost.check(error.ConnectionDone)
        assert server.lost is not None and server.lost.check(error.ConnectionDone)
        assert pump.disconnected
        assert not pump.pump()

    def test_abortDropsPendingBytes(self) -> None:
        client, server, pump = connectedServerAndClient(Greeter, Collector)
        client.transport.write(b"never delivered")
        client.transport.abortConnection()
        pump.flush()
        assert server.received == b""
        assert client.lost is not None and client.lost.check(error.ConnectionLost)
        assert server.lost is not None and server.lost.check(error.ConnectionLost)

    def test_connectWithExplicitTransports(self) -> None:
        server, client = Greeter(), Collector()
        st, ct = StringTransport(), StringTransport()
        pump = connect(server, st, client, ct, debug=False, greet=True)
        assert server.transport is st
        assert client.transport is ct
        assert client.received == b"hello\n"
        assert isinstance(pump, IOPump)

    def test_debugPrints(self, capsys: pytest.CaptureFixture[str]) -> None:
        connectedServerAndClient(Greeter, Collector, debug=True)
        assert "S -> C b'hello\\n'" in capsys.readouterr().out

    def test_pullProducerDriven(self) -> None:
        server, client = Collector(), Collector()
        st, ct = StringTransport(), StringTransport()
        pump = connect(server, st, client, ct)
        producer = NonStreamingProducer(ct)
        ct.registerProducer(producer, False)
        pump.flush()
        assert server.received == b"123456789"
        assert producer.result.called

    def test_endlessConversationBounded(self) -> None:
        class PingPong(Protocol):
            def connectionMade(self) -> None:
                self.transport.write(b"x")

            def dataReceived(self, data: bytes) -> None:
                self.transport.write(data)

        _client, _server, pump = connectedServerAndClient(
            PingPong, PingPong, greet=False
        )
        with pytest.raises(RuntimeError, match=str(MAX_FLUSH_ROUNDS)):
            pump.flush()


# ---------------------------------------------------------------------------
# EventLoggingObserver, waitUntilAllDisconnected
# ---------------------------------------------------------------------------


class _Cleanups:
    def __init__(self) -> None:
        self.cleanups: list[Any] = []

    def addCleanup(self, f: Any, *a: Any, **kw: Any) -> None:
        self.cleanups.append((f, a, kw))

    def run(self) -> None:
        for f, a, kw in self.cleanups:
            f(*a, **kw)


class Countdown(Protocol):
    """
    Bounces a counter with its peer until it reaches zero.
    """

    start = 0

    def connectionMade(self) -> None:
        if self.start:
            self.transport.write(b"%d," % self.start)

    def dataReceived(self, data: bytes) -> None:
        n = int(data.rstrip(b",")) - 1
        if n > 0:
            self.transport.write(b"%d," % n)


class Starter(Countdown):
    start = 6


def _roundsNeeded() -> int:
    _client, _server, pump = connectedServerAndClient(Countdown, Starter, greet=False)
    rounds = 0
    while pump.pump():
        rounds += 1
    return rounds


class TestFlushLimit:
    def test_boundary(self, monkeypatch: pytest.MonkeyPatch) -> None:
        from torsion.internet.testing import _iosim

        rounds = _roundsNeeded()
        assert rounds > 1
        # flush needs one more pump than the busy ones, to see the wire idle.
        monkeypatch.setattr(_iosim, "MAX_FLUSH_ROUNDS", rounds + 1)
        connectedServerAndClient(Countdown, Starter)
        monkeypatch.setattr(_iosim, "MAX_FLUSH_ROUNDS", rounds)
        with pytest.raises(RuntimeError, match="still talking"):
            connectedServerAndClient(Countdown, Starter)


class TestEventLoggingObserver:
    def test_interface(self) -> None:
        assert verifyObject(ILogObserver, EventLoggingObserver())

    def test_capturesAndCleansUp(self) -> None:
        publisher = LogPublisher()
        holder = _Cleanups()
        observer = EventLoggingObserver.createWithCleanup(holder, publisher)
        log = Logger(observer=publisher)
        log.info("hello {who}", who="world")
        assert len(observer) == 1
        assert observer[0]["who"] == "world"
        assert [e["log_format"] for e in observer] == ["hello {who}"]
        observer.reset()
        assert len(observer) == 0
        holder.run()
        log.info("after")
        assert len(observer) == 0


class TestWaitUntilAllDisconnected:
    def test_firesWhenAllDisconnected(self) -> None:
        clock = Clock()
        protocols = [Protocol(), Protocol()]
        transports = [StringTransportWithDisconnection() for _ in protocols]
        for p, t in zip(protocols, transports, strict=True):
            t.protocol = p
            p.makeConnection(t)
        d = waitUntilAllDisconnected(clock, protocols)
        fired: list[object] = []
        d.addCallback(fired.append)
        clock.advance(0.01)
        assert fired == []
        transports[0].loseConnection()
        clock.advance(0.01)
        assert fired == []
        transports[1].loseConnection()
        clock.advance(0.01)
        assert len(fired) == 1
        assert clock.getDelayedCalls() == []
