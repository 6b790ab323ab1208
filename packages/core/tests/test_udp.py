"""
Tests for UDP ports: ``reactor.listenUDP`` and ``torsion.internet.udp``.
"""

from __future__ import annotations

import errno
import socket
import sys
from typing import Any

import pytest
from reactormixins import runUntil
from zope.interface.verify import verifyObject

from torsion.internet import _mmsg, error, udp
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IListeningPort,
    IReadDescriptor,
    ISystemHandle,
    IUDPTransport,
)
from torsion.internet.protocol import DatagramProtocol


class Recorder(DatagramProtocol):
    """
    Records datagrams; ``waitFor(n)`` gives a Deferred fired once ``n``
    datagrams have arrived.
    """

    noisy = False

    def __init__(self) -> None:
        self.received: list[tuple[bytes, Any]] = []
        self.started = 0
        self.stopped = 0
        self._waiting: list[tuple[int, Deferred[list[tuple[bytes, Any]]]]] = []
        self.refused: Deferred[None] = Deferred()

    def startProtocol(self) -> None:
        self.started += 1

    def stopProtocol(self) -> None:
        self.stopped += 1

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        self.received.append((data, addr))
        for entry in list(self._waiting):
            count, d = entry
            if len(self.received) >= count:
                self._waiting.remove(entry)
                d.callback(self.received)

    def connectionRefused(self) -> None:
        if not self.refused.called:
            self.refused.callback(None)

    def waitFor(self, count: int) -> Deferred[list[tuple[bytes, Any]]]:
        d: Deferred[list[tuple[bytes, Any]]] = Deferred()
        if len(self.received) >= count:
            d.callback(self.received)
        else:
            self._waiting.append((count, d))
        return d


class Echo(Recorder):
    def datagramReceived(self, data: bytes, addr: Any) -> None:
        self.transport.write(data, addr)
        super().datagramReceived(data, addr)


@pytest.fixture(autouse=True, params=["recvmmsg", "recvfrom"])
def readPath(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """
    Every test runs twice: reading batches with ``recvmmsg`` (where the
    platform has it) and one datagram per ``recvfrom``.
    """
    monkeypatch.setattr(udp.Port, "batchReads", request.param == "recvmmsg")
    return str(request.param)


@pytest.fixture
def plainSocket() -> Any:
    skt = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    skt.bind(("127.0.0.1", 0))
    yield skt
    skt.close()


def _listen(reactor: Any, proto: Any, interface: str = "127.0.0.1", **kw: Any) -> Any:
    return reactor.listenUDP(0, proto, interface=interface, **kw)


def _deliver(
    reactor: Any, port: Any, proto: Recorder, sender: socket.socket, *datagrams: bytes
) -> list[tuple[bytes, Any]]:
    """
    Send ``datagrams`` from ``sender`` to ``port`` and wait until ``proto``
    has them all.

    :return: everything ``proto`` received so far.
    """
    dest = (port.getHost().host, port.getHost().port)
    for datagram in datagrams:
        sender.sendto(datagram, dest)
    return runUntil(reactor, proto.waitFor(len(proto.received) + len(datagrams)))


def test_interfaces(reactor: Any) -> None:
    port = _listen(reactor, Recorder())
    try:
        assert verifyObject(IUDPTransport, port)
        assert verifyObject(IListeningPort, port)
        assert verifyObject(ISystemHandle, port)
        assert verifyObject(IReadDescriptor, port)
    finally:
        runUntil(reactor, port.stopListening())


def test_startAndStopProtocol(reactor: Any) -> None:
    proto = Recorder()
    port = _listen(reactor, proto)
    assert proto.started == 1
    assert proto.transport is port
    host = port.getHost()
    assert isinstance(host, IPv4Address)
    assert host.type == "UDP"
    assert host.host == "127.0.0.1"
    assert host.port > 0
    fd = port.fileno()
    assert fd >= 0
    assert runUntil(reactor, port.stopListening()) is None
    assert proto.stopped == 1
    assert proto.transport is None
    assert port.fileno() == -1
    with pytest.raises(OSError):
        socket.socket(fileno=fd).close()


def test_stopListeningTwice(reactor: Any) -> None:
    port = _listen(reactor, Recorder())
    first = port.stopListening()
    second = port.stopListening()
    runUntil(reactor, first)
    runUntil(reactor, second)
    assert runUntil(reactor, port.stopListening()) is None


def test_echo(reactor: Any) -> None:
    server = Echo()
    client = Recorder()
    serverPort = _listen(reactor, server)
    clientPort = _listen(reactor, client)
    try:
        serverAddr = ("127.0.0.1", serverPort.getHost().port)
        clientPort.write(b"hello", serverAddr)
        clientPort.write(b"world", serverAddr)
        received = runUntil(reactor, client.waitFor(2))
        assert [data for data, _ in received] == [b"hello", b"world"]
        assert received[0][1] == serverAddr
        assert server.received[0][1] == ("127.0.0.1", clientPort.getHost().port)
    finally:
        runUntil(reactor, serverPort.stopListening())
        runUntil(reactor, clientPort.stopListening())


def test_receiveFromPlainSocket(reactor: Any, plainSocket: socket.socket) -> None:
    proto = Recorder()
    port = _listen(reactor, proto)
    try:
        for i in range(100):
            plainSocket.sendto(b"%d" % i, ("127.0.0.1", port.getHost().port))
        received = runUntil(reactor, proto.waitFor(100))
        assert [data for data, _ in received] == [b"%d" % i for i in range(100)]
        assert {addr for _, addr in received} == {plainSocket.getsockname()}
    finally:
        runUntil(reactor, port.stopListening())


def test_readsAtMostMaxDatagramsPerRead(
    reactor: Any, plainSocket: socket.socket
) -> None:
    proto = Recorder()
    port = _listen(reactor, proto)
    port.maxDatagramsPerRead = 3
    try:
        for i in range(7):
            plainSocket.sendto(b"%d" % i, ("127.0.0.1", port.getHost().port))
        # Loopback delivery is complete once sendto returns.
        port.doRead()
        assert len(proto.received) == 3
        port.doRead()
        assert len(proto.received) == 6
        port.doRead()
        assert len(proto.received) == 7
        port.doRead()
        assert len(proto.received) == 7
    finally:
        runUntil(reactor, port.stopListening())


def test_defaultMaxDatagramsPerRead() -> None:
    assert udp.MAX_DATAGRAMS_PER_READ == udp.Port.maxDatagramsPerRead == 256


def test_maxPacketSizeBoundary(reactor: Any, plainSocket: socket.socket) -> None:
    proto = Recorder()
    port = _listen(reactor, proto, maxPacketSize=10)
    try:
        dest = ("127.0.0.1", port.getHost().port)
        plainSocket.sendto(b"x" * 10, dest)
        plainSocket.sendto(b"y" * 11, dest)
        received = runUntil(reactor, proto.waitFor(2))
        assert [data for data, _ in received] == [b"x" * 10, b"y" * 10]
    finally:
        runUntil(reactor, port.stopListening())


def test_invalidMaxPacketSize(reactor: Any) -> None:
    with pytest.raises(ValueError):
        reactor.listenUDP(0, Recorder(), interface="127.0.0.1", maxPacketSize=0)


def test_writeStrRaises(reactor: Any) -> None:
    port = _listen(reactor, Recorder())
    try:
        with pytest.raises(TypeError, match="str"):
            port.write("text", ("127.0.0.1", 9))
    finally:
        runUntil(reactor, port.stopListening())


@pytest.mark.parametrize("host", ["localhost", "example.com", "::1", "1.2.3"])
def test_writeNonLiteralOrWrongFamily(reactor: Any, host: str) -> None:
    port = _listen(reactor, Recorder())
    try:
        with pytest.raises(udp.InvalidAddressError):
            port.write(b"x", (host, 9))
    finally:
        runUntil(reactor, port.stopListening())


def test_writeWithoutAddressUnconnected(reactor: Any) -> None:
    port = _listen(reactor, Recorder())
    try:
        with pytest.raises(ValueError):
            port.write(b"x")
    finally:
        runUntil(reactor, port.stopListening())


def test_tooLongDatagram(reactor: Any) -> None:
    port = _listen(reactor, Recorder())
    try:
        with pytest.raises(error.MessageLengthError):
            port.write(b"x" * 70000, ("127.0.0.1", 9))
    finally:
        runUntil(reactor, port.stopListening())


def test_writeAfterStopIsIgnored(reactor: Any) -> None:
    port = _listen(reactor, Recorder())
    runUntil(reactor, port.stopListening())
    port.write(b"x", ("127.0.0.1", 9))


def test_connectedPort(reactor: Any, plainSocket: socket.socket) -> None:
    server = Echo()
    client = Recorder()
    serverPort = _listen(reactor, server)
    clientPort = _listen(reactor, client)
    try:
        serverNumber = serverPort.getHost().port
        clientPort.connect("127.0.0.1", serverNumber)
        clientPort.write(b"one")
        clientPort.write(b"two", ("127.0.0.1", serverNumber))
        with pytest.raises(ValueError):
            clientPort.write(b"x", ("127.0.0.1", serverNumber + 1))
        # A stranger's datagram is discarded by the connected socket.
        plainSocket.sendto(b"stranger", ("127.0.0.1", clientPort.getHost().port))
        received = runUntil(reactor, client.waitFor(2))
        assert [data for data, _ in received] == [b"one", b"two"]
        with pytest.raises(RuntimeError):
            clientPort.connect("127.0.0.1", serverNumber)
    finally:
        runUntil(reactor, serverPort.stopListening())
        runUntil(reactor, clientPort.stopListening())


def test_connectNeedsIPLiteral(reactor: Any) -> None:
    port = _listen(reactor, Recorder())
    try:
        with pytest.raises(udp.InvalidAddressError):
            port.connect("localhost", 9)
    finally:
        runUntil(reactor, port.stopListening())


def test_connectionRefused(reactor: Any) -> None:
    # Find a port nobody listens on.
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    probe.bind(("127.0.0.1", 0))
    deadPort = probe.getsockname()[1]
    probe.close()
    proto = Recorder()
    port = _listen(reactor, proto)
    try:
        port.connect("127.0.0.1", deadPort)
        port.write(b"anyone?")
        runUntil(reactor, proto.refused)
        # A refusal does not close the port.
        assert port.connected
        assert port.fileno() >= 0
        assert proto.stopped == 0
    finally:
        runUntil(reactor, port.stopListening())


def test_ipv6Echo(reactor: Any) -> None:
    server = Echo()
    client = Recorder()
    serverPort = reactor.listenUDP(0, server, interface="::1")
    clientPort = reactor.listenUDP(0, client, interface="::1")
    try:
        host = serverPort.getHost()
        assert isinstance(host, IPv6Address)
        assert host.type == "UDP"
        clientPort.write(b"six", ("::1", host.port))
        [(data, addr)] = runUntil(reactor, client.waitFor(1))
        assert data == b"six"
        assert addr == ("::1", host.port)
        with pytest.raises(udp.InvalidAddressError):
            clientPort.write(b"x", ("127.0.0.1", host.port))
    finally:
        runUntil(reactor, serverPort.stopListening())
        runUntil(reactor, clientPort.stopListening())


def test_interfaceMustBeLiteral(reactor: Any) -> None:
    with pytest.raises(udp.InvalidAddressError):
        reactor.listenUDP(0, Recorder(), interface="localhost")


def test_cannotListenOnBusyPort(reactor: Any) -> None:
    port = _listen(reactor, Recorder())
    try:
        with pytest.raises(error.CannotListenError):
            reactor.listenUDP(port.getHost().port, Recorder(), interface="127.0.0.1")
    finally:
        runUntil(reactor, port.stopListening())


def test_broadcastAllowed(reactor: Any) -> None:
    port = _listen(reactor, Recorder())
    try:
        assert port.getBroadcastAllowed() is False
        port.setBroadcastAllowed(True)
        assert port.getBroadcastAllowed() is True
        port.setBroadcastAllowed(False)
        assert port.getBroadcastAllowed() is False
    finally:
        runUntil(reactor, port.stopListening())


def test_protocolErrorIsLoggedAndPortSurvives(
    reactor: Any, plainSocket: socket.socket
) -> None:
    from torsion.logger import globalLogPublisher

    class Fragile(Recorder):
        def datagramReceived(self, data: bytes, addr: Any) -> None:
            super().datagramReceived(data, addr)
            if data == b"bad":
                raise ZeroDivisionError("protocol bug")

    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    proto = Fragile()
    port = _listen(reactor, proto)
    try:
        received = _deliver(reactor, port, proto, plainSocket, b"bad", b"good")
        assert [data for data, _ in received] == [b"bad", b"good"]
    finally:
        globalLogPublisher.removeObserver(events.append)
        runUntil(reactor, port.stopListening())
    failures = [e["log_failure"] for e in events if "log_failure" in e]
    assert [f.type for f in failures] == [ZeroDivisionError]


def test_stopListeningFromDatagramReceived(
    reactor: Any, plainSocket: socket.socket
) -> None:
    stopped: list[Deferred[None]] = []

    class StopOnFirst(Recorder):
        def datagramReceived(self, data: bytes, addr: Any) -> None:
            super().datagramReceived(data, addr)
            stopped.append(self.transport.stopListening())

    proto = StopOnFirst()
    port = _listen(reactor, proto)
    dest = ("127.0.0.1", port.getHost().port)
    plainSocket.sendto(b"1", dest)
    plainSocket.sendto(b"2", dest)
    runUntil(reactor, proto.waitFor(1))
    runUntil(reactor, stopped[0])
    assert [data for data, _ in proto.received] == [b"1"]
    assert proto.stopped == 1


def test_oneProtocolCannotListenTwice(reactor: Any) -> None:
    proto = Recorder()
    port = _listen(reactor, proto)
    try:
        with pytest.raises(RuntimeError):
            _listen(reactor, proto)
    finally:
        runUntil(reactor, port.stopListening())


def test_adoptDatagramPort(reactor: Any, plainSocket: socket.socket) -> None:
    skt = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    skt.bind(("127.0.0.1", 0))
    number = skt.getsockname()[1]
    proto = Recorder()
    try:
        port = reactor.adoptDatagramPort(skt.fileno(), socket.AF_INET, proto)
    finally:
        # The reactor duplicated the descriptor; ours is ours to close.
        skt.close()
    try:
        assert port.getHost().port == number
        plainSocket.sendto(b"adopted", ("127.0.0.1", number))
        [(data, _)] = runUntil(reactor, proto.waitFor(1))
        assert data == b"adopted"
    finally:
        runUntil(reactor, port.stopListening())


def test_validatedHostsCacheIsBounded(reactor: Any) -> None:
    port = _listen(reactor, Recorder())
    try:
        limit = udp._CHECKED_HOSTS_LIMIT
        for i in range(limit + 10):
            port.write(b"x", (f"127.0.{i // 250}.{i % 250 + 1}", 9))
        assert 0 < len(port._checkedHosts) <= limit
        # A remembered host still has its datagram checked for type.
        with pytest.raises(TypeError):
            port.write("text", ("127.0.0.1", 9))
    finally:
        runUntil(reactor, port.stopListening())


def test_failedStartClosesSocket(reactor: Any) -> None:
    class Refuses(Recorder):
        def startProtocol(self) -> None:
            raise RuntimeError("not today")

    import gc
    import os

    gc.collect()
    before = set(os.listdir("/proc/self/fd"))
    with pytest.raises(RuntimeError, match="not today"):
        _listen(reactor, Refuses())
    # Closed at once, not left for the garbage collector.
    assert set(os.listdir("/proc/self/fd")) == before


def test_recvmmsgAvailableOnLinux() -> None:
    receiver = _mmsg.receiverFor(socket.AF_INET, 8192)
    if sys.platform.startswith("linux"):
        assert receiver is not None
        assert receiver.count == _mmsg.BATCH
        # One set of buffers per thread, family and size.
        assert _mmsg.receiverFor(socket.AF_INET, 8192) is receiver
        assert _mmsg.receiverFor(socket.AF_INET6, 8192) is not receiver
        large = _mmsg.receiverFor(socket.AF_INET, 65536)
        assert large is not None
        assert large.count == 16
    else:
        assert receiver is None


def test_readsAcrossBatches(reactor: Any, plainSocket: socket.socket) -> None:
    """
    A read spanning more datagrams than one ``recvmmsg`` batch still stops at
    ``maxDatagramsPerRead`` and loses nothing.
    """
    proto = Recorder()
    port = _listen(reactor, proto)
    port.maxDatagramsPerRead = 40
    try:
        dest = ("127.0.0.1", port.getHost().port)
        for i in range(50):
            plainSocket.sendto(b"%d" % i, dest)
        port.doRead()
        assert [data for data, _ in proto.received] == [b"%d" % i for i in range(40)]
        port.doRead()
        assert [data for data, _ in proto.received] == [b"%d" % i for i in range(50)]
    finally:
        runUntil(reactor, port.stopListening())


def test_sourcesOfInterleavedSenders(reactor: Any) -> None:
    """
    Datagrams from several senders, interleaved, each arrive with their own
    sender's address, in each sender's order.
    """
    senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(5)]
    proto = Recorder()
    port = _listen(reactor, proto)
    try:
        dest = ("127.0.0.1", port.getHost().port)
        for skt in senders:
            skt.bind(("127.0.0.1", 0))
        for i in range(40):
            for n, skt in enumerate(senders):
                skt.sendto(b"%d:%d" % (n, i), dest)
        received = runUntil(reactor, proto.waitFor(200))
        for n, skt in enumerate(senders):
            mine = [data for data, addr in received if addr == skt.getsockname()]
            assert mine == [b"%d:%d" % (n, i) for i in range(40)]
    finally:
        for skt in senders:
            skt.close()
        runUntil(reactor, port.stopListening())


def test_sourceAddressCacheIsBounded(
    reactor: Any, monkeypatch: pytest.MonkeyPatch, readPath: str
) -> None:
    """
    The decoded source addresses kept by the batched reader are bounded; a
    source met again after the cache was emptied is decoded afresh.
    """
    monkeypatch.setattr(_mmsg, "ADDRESS_CACHE_LIMIT", 3)
    senders = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(8)]
    proto = Recorder()
    port = _listen(reactor, proto, maxPacketSize=777)
    try:
        dest = ("127.0.0.1", port.getHost().port)
        for skt in senders:
            skt.bind(("127.0.0.1", 0))
        for round in range(2):
            for skt in senders:
                skt.sendto(b"hi", dest)
            runUntil(reactor, proto.waitFor(8 * (round + 1)))
        expected = [skt.getsockname() for skt in senders] * 2
        assert [addr for _, addr in proto.received] == expected
        if readPath == "recvmmsg" and sys.platform.startswith("linux"):
            receiver = _mmsg.receiverFor(socket.AF_INET, 777)
            assert receiver is not None
            assert 0 < len(receiver._addresses) <= 3
    finally:
        for skt in senders:
            skt.close()
        runUntil(reactor, port.stopListening())


def test_emptyDatagram(reactor: Any, plainSocket: socket.socket) -> None:
    proto = Recorder()
    port = _listen(reactor, proto)
    try:
        received = _deliver(reactor, port, proto, plainSocket, b"", b"after")
        assert received == [
            (b"", plainSocket.getsockname()),
            (b"after", plainSocket.getsockname()),
        ]
    finally:
        runUntil(reactor, port.stopListening())


def test_ipv6SourcesFromSeveralPorts(reactor: Any) -> None:
    senders = [socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) for _ in range(3)]
    proto = Recorder()
    port = reactor.listenUDP(0, proto, interface="::1")
    try:
        dest = ("::1", port.getHost().port)
        for skt in senders:
            skt.bind(("::1", 0))
        for i in range(3):
            for skt in senders:
                skt.sendto(b"%d" % i, dest)
        received = runUntil(reactor, proto.waitFor(9))
        for skt in senders:
            mine = [data for data, addr in received if addr == skt.getsockname()[:2]]
            assert mine == [b"0", b"1", b"2"]
    finally:
        for skt in senders:
            skt.close()
        runUntil(reactor, port.stopListening())


def test_forbiddenRecvmmsgFallsBackToRecvfrom(
    reactor: Any, plainSocket: socket.socket, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    Where ``recvmmsg`` exists but cannot be used (a seccomp sandbox answers
    ``ENOSYS`` or ``EPERM``), ports switch to ``recvfrom`` for good, and no
    datagram is lost on the way.
    """
    calls: list[tuple[Any, ...]] = []

    def forbidden(*args: Any) -> int:
        calls.append(args)
        return -1

    monkeypatch.setattr(udp.Port, "batchReads", True)
    monkeypatch.setattr(_mmsg, "_recvmmsg", forbidden)
    monkeypatch.setattr(_mmsg, "_getErrno", lambda: errno.ENOSYS)
    proto = Recorder()
    port = _listen(reactor, proto)
    try:
        received = _deliver(reactor, port, proto, plainSocket, b"a", b"b", b"c")
        assert [data for data, _ in received] == [b"a", b"b", b"c"]
        assert len(calls) == 1
        assert _mmsg.receiverFor(socket.AF_INET, 8192) is None
    finally:
        runUntil(reactor, port.stopListening())


def test_ipv4MappedSources(reactor: Any, plainSocket: socket.socket) -> None:
    """
    A dual-stack IPv6 port reports an IPv4 sender as an IPv4-mapped address,
    whichever way it reads.
    """
    proto = Recorder()
    port = reactor.listenUDP(0, proto, interface="::")
    try:
        if port.getHandle().getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY):
            pytest.skip("this machine makes IPv6 sockets IPv6-only (bindv6only=1)")
        plainSocket.sendto(b"four", ("127.0.0.1", port.getHost().port))
        [(data, addr)] = runUntil(reactor, proto.waitFor(1))
        assert data == b"four"
        assert addr == ("::ffff:127.0.0.1", plainSocket.getsockname()[1])
    finally:
        runUntil(reactor, port.stopListening())
