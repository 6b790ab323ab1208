"""
Tests for Unix domain stream sockets: ``listenUNIX``, ``connectUNIX``, the
abstract namespace, lock files, descriptor passing and peer credentials.
"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from reactormixins import runUntil
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.internet import error, interfaces, protocol
from torsion.internet.address import UNIXAddress
from torsion.internet.defer import Deferred
from torsion.python.failure import Failure


class Recorder(protocol.Protocol):
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


@implementer(interfaces.IFileDescriptorReceiver)
class DescriptorReceiver(Recorder):
    def __init__(self) -> None:
        Recorder.__init__(self)
        self.descriptors: list[int] = []

    def fileDescriptorReceived(self, descriptor: int) -> None:
        self.descriptors.append(descriptor)


class Factory(protocol.ClientFactory):
    noisy = False

    def __init__(self, protocolClass: type[Recorder] = Recorder) -> None:
        self.protocolClass = protocolClass
        self.built: list[Recorder] = []
        self.connected: Deferred[Recorder] = Deferred()
        self.failed: Deferred[None] = Deferred()
        self.failReason: Failure | None = None

    def buildProtocol(self, addr: Any) -> Recorder:
        p = self.protocolClass()
        p.factory = self
        self.built.append(p)
        if not self.connected.called:
            p.made.chainDeferred(self.connected)
        return p

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        self.failReason = reason
        self.failed.callback(None)


def failReason(reactor: Any, factory: Factory) -> Failure:
    runUntil(reactor, factory.failed)
    assert factory.failReason is not None
    return factory.failReason


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "sock")


def pair(
    reactor: Any,
    address: str,
    serverClass: type[Recorder] = Recorder,
    clientClass: type[Recorder] = Recorder,
) -> tuple[Any, Recorder, Recorder]:
    serverFactory = Factory(serverClass)
    port = reactor.listenUNIX(address, serverFactory)
    clientFactory = Factory(clientClass)
    reactor.connectUNIX(address, clientFactory)
    client = runUntil(reactor, clientFactory.connected)
    server = runUntil(reactor, serverFactory.connected)
    return port, server, client


def test_interfaces(reactor: Any, path: str) -> None:
    port, server, client = pair(reactor, path)
    assert verifyObject(interfaces.IListeningPort, port)
    for t in (server.transport, client.transport):
        assert verifyObject(interfaces.IUNIXTransport, t)
        assert verifyObject(interfaces.ISystemHandle, t)
        assert verifyObject(interfaces.IPushProducer, t)
        assert verifyObject(interfaces.IConsumer, t)
    connector = reactor.connectUNIX(path, Factory())
    assert verifyObject(interfaces.IConnector, connector)
    connector.disconnect()


def test_echoAndAddresses(reactor: Any, path: str) -> None:
    port, server, client = pair(reactor, path, Echo)
    client.transport.write(b"unix echo")
    assert runUntil(reactor, client.waitForBytes(9)) == b"unix echo"
    assert port.getHost() == UNIXAddress(path.encode())
    assert client.transport.getPeer() == UNIXAddress(path.encode())
    assert server.transport.getHost() == UNIXAddress(path.encode())
    assert server.transport.getPeer() == UNIXAddress(None)
    client.transport.loseConnection()
    runUntil(reactor, server.lost)
    assert server.reason is not None and server.reason.check(error.ConnectionDone)


def test_modeAndCleanup(reactor: Any, path: str) -> None:
    port = reactor.listenUNIX(path, Factory(), mode=0o600)
    assert stat.S_ISSOCK(os.stat(path).st_mode)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    runUntil(reactor, port.stopListening())
    assert not os.path.exists(path)


def test_abstractNamespace(reactor: Any) -> None:
    name = f"\0torsion-test-{os.getpid()}-{id(reactor)}"
    port, _server, client = pair(reactor, name, Echo)
    client.transport.write(b"abstract")
    assert runUntil(reactor, client.waitForBytes(8)) == b"abstract"
    assert port.getHost() == UNIXAddress(name.encode())
    # No file appears anywhere for an abstract socket.
    assert not os.path.exists(name[1:])


def test_existingFileWithoutWantPID(reactor: Any, path: str) -> None:
    Path(path).write_text("not a socket")
    with pytest.raises(error.CannotListenError):
        reactor.listenUNIX(path, Factory())


def test_wantPIDLockFile(reactor: Any, path: str) -> None:
    port = reactor.listenUNIX(path, Factory(), wantPID=True)
    assert Path(path + ".lock").read_text() == str(os.getpid())
    # A live process (this one) holds the lock: a second listener is refused.
    with pytest.raises(error.CannotListenError, match="locked by process"):
        reactor.listenUNIX(path, Factory(), wantPID=True)
    runUntil(reactor, port.stopListening())
    assert not os.path.exists(path + ".lock")
    assert not os.path.exists(path)


def test_wantPIDReplacesStaleSocket(reactor: Any, path: str) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    Path(path + ".lock").write_text(dead.stdout.strip())
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    port = reactor.listenUNIX(path, Factory(Echo), wantPID=True)
    assert Path(path + ".lock").read_text() == str(os.getpid())
    factory = Factory()
    reactor.connectUNIX(path, factory, checkPID=True)
    client = runUntil(reactor, factory.connected)
    client.transport.write(b"new listener")
    assert runUntil(reactor, client.waitForBytes(12)) == b"new listener"
    runUntil(reactor, port.stopListening())


def test_checkPID(reactor: Any, path: str) -> None:
    reactor.listenUNIX(path, Factory(Echo))
    factory = Factory()
    reactor.connectUNIX(path, factory, checkPID=True)
    assert failReason(reactor, factory).check(error.BadFileError)
    other = Path(path).parent / "locked"
    reactor.listenUNIX(str(other), Factory(Echo), wantPID=True)
    good = Factory()
    reactor.connectUNIX(str(other), good, checkPID=True)
    assert isinstance(runUntil(reactor, good.connected), Recorder)


def test_connectToMissingPath(reactor: Any, path: str) -> None:
    factory = Factory()
    reactor.connectUNIX(path, factory)
    assert failReason(reactor, factory).check(error.ConnectError)


def test_connectionRefused(reactor: Any, path: str) -> None:
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(path)
    stale.close()
    factory = Factory()
    reactor.connectUNIX(path, factory)
    assert failReason(reactor, factory).check(error.ConnectionRefusedError)


def test_sendFileDescriptor(reactor: Any, path: str) -> None:
    _port, server, client = pair(reactor, path, DescriptorReceiver)
    assert isinstance(server, DescriptorReceiver)
    r, w = os.pipe()
    try:
        client.transport.sendFileDescriptor(r)
        client.transport.write(b"here is a pipe")
        runUntil(reactor, server.waitForBytes(14))
        assert len(server.descriptors) == 1
        received = server.descriptors[0]
        assert received != r
        os.write(w, b"through the pipe")
        assert os.read(received, 100) == b"through the pipe"
        os.close(received)
    finally:
        os.close(r)
        os.close(w)


def test_severalDescriptors(reactor: Any, path: str) -> None:
    _port, server, client = pair(reactor, path, DescriptorReceiver)
    assert isinstance(server, DescriptorReceiver)
    pipes = [os.pipe() for _ in range(3)]
    try:
        for r, _w in pipes:
            client.transport.sendFileDescriptor(r)
        client.transport.write(b"abc")
        runUntil(reactor, server.waitForBytes(3))
        assert len(server.descriptors) == 3
        for (_, w), received in zip(pipes, server.descriptors, strict=True):
            os.write(w, b"!")
            assert os.read(received, 1) == b"!"
            os.close(received)
    finally:
        for r, w in pipes:
            os.close(r)
            os.close(w)


def test_descriptorsClosedForOrdinaryProtocol(reactor: Any, path: str) -> None:
    _port, server, client = pair(reactor, path)
    r, w = os.pipe()
    try:
        client.transport.sendFileDescriptor(r)
        client.transport.write(b"x")
        runUntil(reactor, server.waitForBytes(1))
        # The fixture fails the test if the received copy was left open.
    finally:
        os.close(r)
        os.close(w)


def test_peerCredentials(reactor: Any, path: str) -> None:
    _port, server, client = pair(reactor, path)
    expected = (os.getpid(), os.getuid(), os.getgid())
    assert server.transport.getPeerCredentials() == expected
    assert client.transport.getPeerCredentials() == expected


def test_adoptStreamPort(reactor: Any, path: str) -> None:
    raw = socket.socket(socket.AF_UNIX)
    raw.bind(path)
    raw.listen(5)
    factory = Factory(Echo)
    try:
        port = reactor.adoptStreamPort(raw.fileno(), socket.AF_UNIX, factory)
    finally:
        raw.close()
    client = Factory()
    reactor.connectUNIX(path, client)
    proto = runUntil(reactor, client.connected)
    proto.transport.write(b"adopted")
    assert runUntil(reactor, proto.waitForBytes(7)) == b"adopted"
    runUntil(reactor, port.stopListening())
    # The adopted socket's file belongs to whoever created it.
    assert os.path.exists(path)


def test_adoptStreamConnection(reactor: Any) -> None:
    mine, other = socket.socketpair()
    factory = Factory(Echo)
    try:
        reactor.adoptStreamConnection(mine.fileno(), socket.AF_UNIX, factory)
    finally:
        mine.close()
    server = runUntil(reactor, factory.connected)
    other.sendall(b"pair")
    runUntil(reactor, server.waitForBytes(4))
    assert other.recv(4) == b"pair"
    other.close()
    runUntil(reactor, server.lost)
