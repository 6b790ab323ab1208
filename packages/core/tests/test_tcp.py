"""
Tests for TCP: ``listenTCP``, ``connectTCP`` and their transports, over real
loopback sockets, for every reactor.
"""

from __future__ import annotations

import errno
import os
import socket
import struct
import subprocess
import sys
from typing import Any

import pytest
from reactormixins import REACTOR_NAMES, FakeResolver, LogCapture, runUntil
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.internet import abstract, error, interfaces, protocol, tcp
from torsion.internet.address import HostnameAddress, IPv4Address, IPv6Address
from torsion.internet.defer import Deferred
from torsion.python.failure import Failure


class Recorder(protocol.Protocol):
    """
    Records a connection's events; Deferreds fire as they happen.
    """

    def __init__(self) -> None:
        self.received = bytearray()
        self.made: Deferred[Recorder] = Deferred()
        self.lost: Deferred[None] = Deferred()
        self.reason: Failure | None = None
        self._waiting: list[tuple[int, Deferred[bytes]]] = []

    def connectionMade(self) -> None:
        self.made.callback(self)

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        for entry in list(self._waiting):
            if len(self.received) >= entry[0]:
                self._waiting.remove(entry)
                entry[1].callback(bytes(self.received))

    def waitForBytes(self, n: int) -> Deferred[bytes]:
        d: Deferred[bytes] = Deferred()
        if len(self.received) >= n:
            d.callback(bytes(self.received))
        else:
            self._waiting.append((n, d))
        return d

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        self.reason = reason
        self.lost.callback(None)


class Echo(Recorder):
    def dataReceived(self, data: bytes) -> None:
        Recorder.dataReceived(self, data)
        self.transport.write(data)


class RecordingFactory(protocol.ClientFactory):
    """
    Builds ``protocolClass`` and remembers every protocol and outcome.
    """

    noisy = False

    def __init__(self, protocolClass: type[Recorder] = Recorder) -> None:
        self.protocolClass = protocolClass
        self.built: list[Recorder] = []
        self.connected: Deferred[Recorder] = Deferred()
        self.failed: Deferred[None] = Deferred()
        self.lostConnection: Deferred[None] = Deferred()
        self.failReason: Failure | None = None
        self.lostReason: Failure | None = None
        self.started = 0
        self.stopped = 0
        self.startedConnectingCalls = 0

    def buildProtocol(self, addr: Any) -> Recorder:
        p = self.protocolClass()
        p.factory = self
        self.built.append(p)
        p.made.addCallback(
            lambda _: None if self.connected.called else self.connected.callback(p)
        )
        return p

    def startFactory(self) -> None:
        self.started += 1

    def stopFactory(self) -> None:
        self.stopped += 1

    def startedConnecting(self, connector: Any) -> None:
        self.startedConnectingCalls += 1

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.failReason = reason
        self.failed.callback(None)

    def clientConnectionLost(self, connector: Any, reason: Failure) -> None:
        self.lostReason = reason
        self.lostConnection.callback(None)


def listen(
    reactor: Any, protocolClass: type[Recorder] = Echo, interface: str = "127.0.0.1"
) -> tuple[Any, RecordingFactory]:
    factory = RecordingFactory(protocolClass)
    return reactor.listenTCP(0, factory, interface=interface), factory


def connect(
    reactor: Any, port: Any, protocolClass: type[Recorder] = Recorder, **kw: Any
) -> tuple[Any, RecordingFactory]:
    factory = RecordingFactory(protocolClass)
    host = port.getHost()
    return reactor.connectTCP(host.host, host.port, factory, **kw), factory


def connectedPair(
    reactor: Any,
    serverClass: type[Recorder] = Recorder,
    clientClass: type[Recorder] = Recorder,
) -> tuple[Any, Recorder, Recorder]:
    port, serverFactory = listen(reactor, serverClass)
    _, clientFactory = connect(reactor, port, clientClass)
    client = runUntil(reactor, clientFactory.connected)
    server = runUntil(reactor, serverFactory.connected)
    return port, server, client


def lostReason(reactor: Any, proto: Recorder) -> Failure:
    """
    Run until ``proto`` loses its connection.

    :return: the reason given to its ``connectionLost``.
    """
    runUntil(reactor, proto.lost)
    assert proto.reason is not None
    return proto.reason


def failReason(reactor: Any, factory: RecordingFactory) -> Failure:
    """
    Run until ``factory`` hears its connection attempt failed.

    :return: the reason given to ``clientConnectionFailed``.
    """
    runUntil(reactor, factory.failed)
    assert factory.failReason is not None
    return factory.failReason


def closedPort() -> int:
    """
    :return: a port number nothing listens on right now.
    """
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


# -- interfaces -------------------------------------------------------------


def test_interfaces(reactor: Any) -> None:
    port, server, client = connectedPair(reactor)
    assert verifyObject(interfaces.IListeningPort, port)
    assert verifyObject(interfaces.ISystemHandle, port)
    for transport in (server.transport, client.transport):
        assert verifyObject(interfaces.ITCPTransport, transport)
        assert verifyObject(interfaces.ISystemHandle, transport)
        assert verifyObject(interfaces.IPushProducer, transport)
        assert verifyObject(interfaces.IConsumer, transport)
        assert verifyObject(interfaces.IReadWriteDescriptor, transport)
    assert verifyObject(interfaces.IProtocol, server)
    connector = reactor.connectTCP("127.0.0.1", port.getHost().port, RecordingFactory())
    assert verifyObject(interfaces.IConnector, connector)
    connector.disconnect()


# -- listening ----------------------------------------------------------------


def test_listenPicksFreePort(reactor: Any) -> None:
    port, _ = listen(reactor)
    host = port.getHost()
    assert isinstance(host, IPv4Address)
    assert host == IPv4Address("TCP", "127.0.0.1", host.port)
    assert host.port != 0
    assert isinstance(port.getHandle(), socket.socket)


def test_cannotListen(reactor: Any) -> None:
    port, _ = listen(reactor)
    with pytest.raises(error.CannotListenError) as info:
        reactor.listenTCP(
            port.getHost().port, RecordingFactory(), interface="127.0.0.1"
        )
    assert info.value.port == port.getHost().port
    assert "127.0.0.1" in str(info.value)


def test_factoryStartedOnceForTwoPorts(reactor: Any) -> None:
    factory = RecordingFactory()
    p1 = reactor.listenTCP(0, factory, interface="127.0.0.1")
    p2 = reactor.listenTCP(0, factory, interface="127.0.0.1")
    assert (factory.started, factory.numPorts) == (1, 2)
    runUntil(reactor, p1.stopListening())
    assert factory.stopped == 0
    runUntil(reactor, p2.stopListening())
    assert (factory.started, factory.stopped, factory.numPorts) == (1, 1, 0)


def test_stopListeningClosesSocket(reactor: Any) -> None:
    port, _ = listen(reactor)
    number = port.getHost().port
    d = port.stopListening()
    assert isinstance(d, Deferred)
    runUntil(reactor, d)
    probe = socket.socket()
    try:
        assert probe.connect_ex(("127.0.0.1", number)) == errno.ECONNREFUSED
    finally:
        probe.close()
    # A second stop is harmless.
    runUntil(reactor, port.stopListening())


def test_ipv6(reactor: Any) -> None:
    if not socket.has_ipv6:
        pytest.fail("IPv6 is required by this test suite")
    port, _ = listen(reactor, Echo, interface="::1")
    host = port.getHost()
    assert isinstance(host, IPv6Address) and host.host == "::1"
    _, clientFactory = connect(reactor, port)
    client = runUntil(reactor, clientFactory.connected)
    assert isinstance(client.transport.getPeer(), IPv6Address)
    client.transport.write(b"over six")
    assert runUntil(reactor, client.waitForBytes(8)) == b"over six"
    client.transport.loseConnection()
    lostReason(reactor, client)


# -- data -------------------------------------------------------------------


def test_echo(reactor: Any) -> None:
    _, server, client = connectedPair(reactor, Echo)
    client.transport.write(b"hello, ")
    client.transport.writeSequence([b"wor", b"ld"])
    assert runUntil(reactor, client.waitForBytes(12)) == b"hello, world"
    assert server.factory.built == [server]
    assert client.transport.getPeer() == server.transport.getHost()
    assert client.transport.getHost() == server.transport.getPeer()


def test_writeStrRaises(reactor: Any) -> None:
    _, _, client = connectedPair(reactor)
    with pytest.raises(TypeError, match=r"write\(\) takes bytes, not str"):
        client.transport.write("text")
    with pytest.raises(TypeError, match="writeSequence"):
        client.transport.writeSequence([b"ok", "text"])


def test_largeWriteThenLoseConnection(reactor: Any) -> None:
    payload = os.urandom(1024) * 4096  # 4 MiB: far more than the socket takes
    _, server, client = connectedPair(reactor)
    server.transport.write(payload)
    assert server.transport.getBufferSize() > 0
    server.transport.loseConnection()
    server.transport.write(b"ignored after loseConnection")
    reason = lostReason(reactor, client)
    assert reason.check(error.ConnectionDone)
    assert bytes(client.received) == payload
    assert server.reason is not None and server.reason.check(error.ConnectionDone)


def test_writeBufferedWithoutQuadraticCopies(reactor: Any) -> None:
    _, server, client = connectedPair(reactor)
    client.transport.pauseProducing()
    pieces = [bytes([i % 256]) * 1000 for i in range(3000)]
    for piece in pieces:
        server.transport.write(piece)
    client.transport.resumeProducing()
    assert runUntil(reactor, client.waitForBytes(3_000_000)) == b"".join(pieces)


def test_abortConnection(reactor: Any) -> None:
    _, server, client = connectedPair(reactor)
    client.transport.pauseProducing()
    server.transport.write(b"x" * (8 << 20))
    server.transport.abortConnection()
    server.transport.abortConnection()
    reason = lostReason(reactor, server)
    assert reason.check(error.ConnectionAborted)
    client.transport.resumeProducing()
    lostReason(reactor, client)
    assert len(client.received) < 8 << 20


def test_peerResetIsConnectionLost(reactor: Any) -> None:
    port, serverFactory = listen(reactor, Recorder)
    raw = socket.create_connection(("127.0.0.1", port.getHost().port))
    server = runUntil(reactor, serverFactory.connected)
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
    reason = lostReason(reactor, server)
    assert reason.check(error.ConnectionLost)


def test_peerResetMidWrite(reactor: Any) -> None:
    port, serverFactory = listen(reactor, Recorder)
    raw = socket.create_connection(("127.0.0.1", port.getHost().port))
    server = runUntil(reactor, serverFactory.connected)
    server.transport.write(b"y" * (8 << 20))
    assert server.transport.getBufferSize() > 0
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    raw.close()
    reason = lostReason(reactor, server)
    assert reason.check(error.ConnectionLost)


def test_cleanCloseIsConnectionDone(reactor: Any) -> None:
    _, server, client = connectedPair(reactor)
    client.transport.loseConnection()
    assert lostReason(reactor, server).check(error.ConnectionDone)
    assert lostReason(reactor, client).check(error.ConnectionDone)
    runUntil(reactor, client.factory.lostConnection)
    assert client.factory.lostReason.check(error.ConnectionDone)


class Exploding(Recorder):
    def dataReceived(self, data: bytes) -> None:
        Recorder.dataReceived(self, data)
        if b"boom" in data:
            raise ZeroDivisionError("protocol bug")


def test_protocolErrorClosesOnlyThatConnection(reactor: Any) -> None:
    port, serverFactory = listen(reactor, Exploding)
    _, f1 = connect(reactor, port)
    _, f2 = connect(reactor, port)
    c1 = runUntil(reactor, f1.connected)
    c2 = runUntil(reactor, f2.connected)
    with LogCapture() as logged:
        c1.transport.write(b"boom")
        lostReason(reactor, c1)
    assert [f.type for f in logged.errors] == [ZeroDivisionError]
    assert "protocol bug" in logged.errors[0].getTraceback()
    exploded = serverFactory.built[0]
    assert exploded.reason is not None and exploded.reason.check(ZeroDivisionError)
    c2.transport.write(b"still here")
    assert runUntil(reactor, serverFactory.built[1].waitForBytes(10)) == b"still here"


class BadConnectionMade(Recorder):
    def connectionMade(self) -> None:
        raise RuntimeError("connectionMade failed")


def test_connectionMadeErrorLoggedAndClosed(reactor: Any) -> None:
    port, _ = listen(reactor, BadConnectionMade)
    with LogCapture() as logged:
        _, clientFactory = connect(reactor, port)
        client = runUntil(reactor, clientFactory.connected)
        lostReason(reactor, client)
    assert [f.type for f in logged.errors] == [RuntimeError]


@implementer(interfaces.IHalfCloseableProtocol)
class HalfCloser(Recorder):
    def __init__(self) -> None:
        Recorder.__init__(self)
        self.readLost: Deferred[None] = Deferred()
        self.writeLost: Deferred[None] = Deferred()

    def readConnectionLost(self) -> None:
        self.transport.write(b"reply after EOF")
        self.transport.loseConnection()
        self.readLost.callback(None)

    def writeConnectionLost(self) -> None:
        self.writeLost.callback(None)


def test_halfClose(reactor: Any) -> None:
    _, server, client = connectedPair(reactor, HalfCloser, HalfCloser)
    assert isinstance(client, HalfCloser) and isinstance(server, HalfCloser)
    client.transport.write(b"request")
    client.transport.loseWriteConnection()
    runUntil(reactor, client.writeLost)
    runUntil(reactor, server.readLost)
    assert bytes(server.received) == b"request"
    assert runUntil(reactor, client.waitForBytes(15)) == b"reply after EOF"
    lostReason(reactor, server)


def test_noHalfCloseWithoutInterface(reactor: Any) -> None:
    _, server, client = connectedPair(reactor)
    client.transport.loseWriteConnection()
    assert lostReason(reactor, server).check(error.ConnectionDone)


def test_socketOptions(reactor: Any) -> None:
    _, server, _client = connectedPair(reactor)
    t = server.transport
    t.setTcpNoDelay(True)
    assert t.getTcpNoDelay() is True
    t.setTcpNoDelay(False)
    assert t.getTcpNoDelay() is False
    t.setTcpKeepAlive(True)
    assert t.getTcpKeepAlive() is True
    t.setTcpKeepAlive(False)
    assert t.getTcpKeepAlive() is False


# -- connecting ---------------------------------------------------------------


def test_connectionRefused(reactor: Any) -> None:
    factory = RecordingFactory()
    connector = reactor.connectTCP("127.0.0.1", closedPort(), factory)
    reason = failReason(reactor, factory)
    assert reason.check(error.ConnectionRefusedError)
    assert factory.startedConnectingCalls == 1
    assert connector.state == "disconnected"
    assert factory.numPorts == 0


def test_connectTimeout(reactor: Any) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        # A listen queue of one: further connection attempts hang.
        for _ in range(2):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(listener.getsockname())
            fillers.append(s)
        factory = RecordingFactory()
        reactor.connectTCP(*listener.getsockname(), factory, timeout=0.2)
        assert failReason(reactor, factory).check(error.TimeoutError)
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_unresolvableHost(reactor: Any) -> None:
    reactor.installNameResolver(FakeResolver({}))
    factory = RecordingFactory()
    reactor.connectTCP("no-such-host.invalid", 80, factory)
    reason = failReason(reactor, factory)
    assert reason.check(error.DNSLookupError)


def test_connectByHostName(reactor: Any) -> None:
    resolver = FakeResolver({"echo.test": ["127.0.0.1"]})
    reactor.installNameResolver(resolver)
    port, _ = listen(reactor, Echo)
    factory = RecordingFactory()
    connector = reactor.connectTCP("echo.test", port.getHost().port, factory)
    assert connector.getDestination() == HostnameAddress(
        b"echo.test", port.getHost().port
    )
    client = runUntil(reactor, factory.connected)
    assert resolver.asked == ["echo.test"]
    client.transport.write(b"named")
    assert runUntil(reactor, client.waitForBytes(5)) == b"named"


def test_connectByHostNameWithDefaultResolver(reactor: Any) -> None:
    port, _ = listen(reactor, Echo)
    factory = RecordingFactory()
    reactor.connectTCP("localhost", port.getHost().port, factory)
    # localhost may resolve to ::1 first, where nothing listens.
    first = Deferred[Any]()
    factory.connected.addBoth(lambda r: first.callback(r) if not first.called else None)
    factory.failed.addBoth(
        lambda r: first.callback(factory.failReason) if not first.called else None
    )
    outcome = runUntil(reactor, first)
    if isinstance(outcome, Failure):
        assert outcome.check(error.ConnectionRefusedError)
    else:
        assert isinstance(outcome, Recorder)


def test_bindAddress(reactor: Any) -> None:
    port, _ = listen(reactor)
    _, factory = connect(reactor, port, bindAddress=("127.0.0.1", 0))
    client = runUntil(reactor, factory.connected)
    assert client.transport.getHost().host == "127.0.0.1"


def test_bindAddressInUse(reactor: Any) -> None:
    port, _ = listen(reactor)
    factory = RecordingFactory()
    reactor.connectTCP(
        "127.0.0.1",
        port.getHost().port,
        factory,
        bindAddress=("127.0.0.1", port.getHost().port),
    )
    assert failReason(reactor, factory).check(error.ConnectBindError)


def test_stopConnecting(reactor: Any) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = []
    try:
        for _ in range(2):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(listener.getsockname())
            fillers.append(s)
        factory = RecordingFactory()
        connector = reactor.connectTCP(*listener.getsockname(), factory)
        assert connector.state == "connecting"
        connector.stopConnecting()
        assert failReason(reactor, factory).check(error.UserError)
        with pytest.raises(error.NotConnectingError):
            connector.stopConnecting()
    finally:
        for s in fillers:
            s.close()
        listener.close()


def test_reconnectWithConnector(reactor: Any) -> None:
    port, _ = listen(reactor, Echo)
    factory = RecordingFactory()
    connector = reactor.connectTCP("127.0.0.1", port.getHost().port, factory)
    first = runUntil(reactor, factory.connected)
    assert connector.getDestination() == IPv4Address(
        "TCP", "127.0.0.1", port.getHost().port
    )
    with pytest.raises(RuntimeError):
        connector.connect()
    connector.disconnect()
    runUntil(reactor, factory.lostConnection)
    # The factory was stopped when the connection ended, and starts again.
    assert (factory.started, factory.stopped) == (1, 1)
    factory.connected = Deferred()
    factory.lostConnection = Deferred()
    connector.connect()
    second = runUntil(reactor, factory.connected)
    assert second is not first
    assert (factory.started, factory.stopped) == (2, 1)


def test_clientCreator(reactor: Any) -> None:
    port, _ = listen(reactor, Echo)
    creator = protocol.ClientCreator(reactor, Recorder)
    client = runUntil(reactor, creator.connectTCP("127.0.0.1", port.getHost().port))
    assert isinstance(client, Recorder)
    client.transport.write(b"cc")
    assert runUntil(reactor, client.waitForBytes(2)) == b"cc"
    with pytest.raises(error.ConnectionRefusedError):
        runUntil(reactor, creator.connectTCP("127.0.0.1", closedPort()))


def test_manyConnections(reactor: Any) -> None:
    port, serverFactory = listen(reactor, Echo)
    clients = []
    for _ in range(200):
        _, f = connect(reactor, port)
        clients.append(f)
    protocols = [runUntil(reactor, f.connected) for f in clients]
    for i, p in enumerate(protocols):
        p.transport.write(b"%d;" % i)
    for i, p in enumerate(protocols):
        expected = b"%d;" % i
        assert runUntil(reactor, p.waitForBytes(len(expected))) == expected
    assert len(serverFactory.built) == 200


# -- accepting -------------------------------------------------------------


def test_acceptBacksOffWhenOutOfDescriptors(reactor: Any) -> None:
    port, serverFactory = listen(reactor, Recorder)
    port.acceptBackoffDelay = 0.05
    realAccept = port._accept
    failures = [OSError(errno.EMFILE, "Too many open files")]

    def accept() -> Any:
        if failures:
            raise failures.pop()
        return realAccept()

    port._accept = accept
    with LogCapture() as logged:
        _, clientFactory = connect(reactor, port)
        runUntil(reactor, clientFactory.connected)
        paused = Deferred[bool]()
        reactor.callLater(0.01, lambda: paused.callback(port in reactor.getReaders()))
        assert runUntil(reactor, paused) is False
        server = runUntil(reactor, serverFactory.connected)
    assert isinstance(server, Recorder)
    assert port in reactor.getReaders()
    assert any(
        "cannot accept" in " ".join(map(str, e.get("message", ())))
        for e in logged.events
    )


def test_refusedByFactory(reactor: Any) -> None:
    class Refusing(protocol.ServerFactory):
        noisy = False

        def buildProtocol(self, addr: Any) -> None:
            return None

    port = reactor.listenTCP(0, Refusing(), interface="127.0.0.1")
    _, factory = connect(reactor, port)
    client = runUntil(reactor, factory.connected)
    assert lostReason(reactor, client).check(error.ConnectionDone)


# -- producers and consumers -------------------------------------------------


@implementer(interfaces.IPushProducer)
class PushProducer:
    def __init__(self, transport: Any, chunk: bytes, total: int) -> None:
        self.transport = transport
        self.chunk = chunk
        self.remaining = total
        self.paused = False
        self.pauses = 0
        self.maxBuffered = 0
        self.stopped = False
        self.finished: Deferred[None] = Deferred()

    def pauseProducing(self) -> None:
        self.paused = True
        self.pauses += 1

    def resumeProducing(self) -> None:
        self.paused = False
        while not self.paused and self.remaining > 0:
            self.transport.write(self.chunk)
            self.remaining -= len(self.chunk)
            self.maxBuffered = max(self.maxBuffered, self.transport.getBufferSize())
        if self.remaining <= 0 and not self.finished.called:
            self.transport.unregisterProducer()
            self.finished.callback(None)

    def stopProducing(self) -> None:
        self.stopped = True


def test_streamingProducerFlowControl(reactor: Any) -> None:
    _, server, client = connectedPair(reactor)
    client.transport.pauseProducing()
    producer = PushProducer(server.transport, b"z" * 16384, 4 << 20)
    server.transport.registerProducer(producer, True)
    with pytest.raises(RuntimeError):
        server.transport.registerProducer(producer, True)
    producer.resumeProducing()
    assert producer.paused and producer.pauses == 1
    assert producer.maxBuffered <= abstract.HIGH_WATER_MARK + 16384
    client.transport.resumeProducing()
    runUntil(reactor, producer.finished)
    assert producer.maxBuffered <= abstract.HIGH_WATER_MARK + 16384
    assert runUntil(reactor, client.waitForBytes(4 << 20)) == b"z" * (4 << 20)


def test_highWaterMarkBoundary(reactor: Any) -> None:
    _, server, client = connectedPair(reactor)
    client.transport.pauseProducing()
    t = server.transport
    # Fill the kernel's buffers first, so what follows stays in ours.
    while t.getBufferSize() == 0:
        t.write(b"f" * 65536)
    producer = PushProducer(t, b"", 0)
    t.highWaterMark = t.getBufferSize() + 10
    t.registerProducer(producer, True)
    t.write(b"a" * 10)
    assert producer.pauses == 0
    t.write(b"a")
    assert producer.pauses == 1
    t.unregisterProducer()


@implementer(interfaces.IPullProducer)
class PullProducer:
    def __init__(self, transport: Any, chunks: int) -> None:
        self.transport = transport
        self.left = chunks
        self.asked = 0
        self.done: Deferred[None] = Deferred()

    def resumeProducing(self) -> None:
        self.asked += 1
        if self.left:
            self.left -= 1
            self.transport.write(b"p" * 100_000)
        else:
            self.transport.unregisterProducer()
            self.done.callback(None)

    def stopProducing(self) -> None:
        pass


def test_pullProducer(reactor: Any) -> None:
    _, server, client = connectedPair(reactor)
    producer = PullProducer(server.transport, 50)
    server.transport.registerProducer(producer, False)
    runUntil(reactor, producer.done)
    assert producer.asked == 51
    assert runUntil(reactor, client.waitForBytes(5_000_000)) == b"p" * 5_000_000


def test_producerStoppedWhenConnectionLost(reactor: Any) -> None:
    _, server, client = connectedPair(reactor)
    producer = PushProducer(server.transport, b"q", 1)
    server.transport.registerProducer(producer, True)
    client.transport.loseConnection()
    lostReason(reactor, server)
    assert producer.stopped


def test_transportIsPushProducer(reactor: Any) -> None:
    _, server, client = connectedPair(reactor)
    server.transport.pauseProducing()
    client.transport.write(b"held back")
    check = Deferred[bytes]()
    reactor.callLater(0.05, lambda: check.callback(bytes(server.received)))
    assert runUntil(reactor, check) == b""
    server.transport.resumeProducing()
    assert runUntil(reactor, server.waitForBytes(9)) == b"held back"
    server.transport.stopProducing()
    assert lostReason(reactor, client).check(error.ConnectionDone)


@pytest.mark.parametrize("name", REACTOR_NAMES)
def test_proxyFlowControl(name: str) -> None:
    # 1 GiB for the default reactor, less for the others to keep time down.
    total = (1 << 30) if name == REACTOR_NAMES[0] else (128 << 20)
    script = os.path.join(os.path.dirname(__file__), "_proxystream.py")
    result = subprocess.run(
        [sys.executable, script, name, str(total)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    delivered, rssGrowth, maxBuffered = map(int, result.stdout.split())
    assert delivered >= total
    assert maxBuffered <= abstract.HIGH_WATER_MARK + tcp.MAX_READ_SIZE
    assert rssGrowth < 32 << 20


# -- adopting sockets -------------------------------------------------------


def test_adoptStreamPort(reactor: Any) -> None:
    raw = socket.socket()
    raw.bind(("127.0.0.1", 0))
    raw.listen(5)
    raw.setblocking(False)
    factory = RecordingFactory(Echo)
    try:
        port = reactor.adoptStreamPort(raw.fileno(), socket.AF_INET, factory)
    finally:
        raw.close()
    assert port.getHost().port == port.getHandle().getsockname()[1]
    _, clientFactory = connect(reactor, port)
    client = runUntil(reactor, clientFactory.connected)
    client.transport.write(b"adopted")
    assert runUntil(reactor, client.waitForBytes(7)) == b"adopted"


def test_adoptStreamConnection(reactor: Any) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    other = socket.create_connection(listener.getsockname())
    mine, _ = listener.accept()
    listener.close()
    factory = RecordingFactory(Echo)
    try:
        reactor.adoptStreamConnection(mine.fileno(), socket.AF_INET, factory)
    finally:
        mine.close()
    server = runUntil(reactor, factory.connected)
    other.sendall(b"ping")
    runUntil(reactor, server.waitForBytes(4))
    assert other.recv(4) == b"ping"
    other.close()
    lostReason(reactor, server)


def test_adoptUnsupportedFamily(reactor: Any) -> None:
    with pytest.raises(error.UnsupportedAddressFamily):
        reactor.adoptStreamPort(0, 12345, RecordingFactory())
