"""
Tests for Unix datagram sockets: ``reactor.listenUNIXDatagram`` and
``reactor.connectUNIXDatagram``.
"""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
from typing import Any

import pytest
from reactormixins import runUntil
from zope.interface.verify import verifyObject

from torsion.internet import error
from torsion.internet.address import UNIXAddress
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IListeningPort,
    IUNIXDatagramConnectedTransport,
    IUNIXDatagramTransport,
)
from torsion.internet.protocol import ConnectedDatagramProtocol, DatagramProtocol
from torsion.python.failure import Failure


@pytest.fixture
def sockdir() -> Any:
    # Socket paths are limited to about 100 bytes: keep them short.
    path = tempfile.mkdtemp(prefix="tdg", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


class Recorder(DatagramProtocol):
    noisy = False

    def __init__(self) -> None:
        self.received: list[tuple[bytes, Any]] = []
        self.stopped = 0
        self._waiting: list[tuple[int, Deferred[Any]]] = []

    def stopProtocol(self) -> None:
        self.stopped += 1

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        self.received.append((data, addr))
        self._check()

    def _check(self) -> None:
        for entry in list(self._waiting):
            if len(self.received) >= entry[0]:
                self._waiting.remove(entry)
                entry[1].callback(self.received)

    def waitFor(self, count: int) -> Deferred[Any]:
        d: Deferred[Any] = Deferred()
        self._waiting.append((count, d))
        self._check()
        return d


class Echo(Recorder):
    def datagramReceived(self, data: bytes, addr: Any) -> None:
        self.transport.write(data.upper(), addr)
        super().datagramReceived(data, addr)


class Client(ConnectedDatagramProtocol):
    noisy = False

    def __init__(self) -> None:
        self.received: list[bytes] = []
        self.failed: Deferred[None] = Deferred()
        self.reason: Failure | None = None
        self.got: Deferred[bytes] = Deferred()

    def datagramReceived(self, data: bytes, addr: Any = None) -> None:
        self.received.append(data)
        if not self.got.called:
            self.got.callback(data)

    def connectionFailed(self, failure: Failure) -> None:
        self.reason = failure
        self.failed.callback(None)


def test_listenAndReceive(reactor: Any, sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    proto = Recorder()
    port = reactor.listenUNIXDatagram(path, proto)
    try:
        assert verifyObject(IUNIXDatagramTransport, port)
        assert verifyObject(IListeningPort, port)
        assert port.getHost() == UNIXAddress(path)
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        senderPath = os.path.join(sockdir, "c")
        sender.bind(senderPath)
        try:
            sender.sendto(b"one", path)
            sender.sendto(b"two", path)
            received = runUntil(reactor, proto.waitFor(2))
        finally:
            sender.close()
        assert received == [(b"one", senderPath), (b"two", senderPath)]
    finally:
        runUntil(reactor, port.stopListening())
    assert proto.stopped == 1
    assert not os.path.exists(path)


def test_mode(reactor: Any, sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    port = reactor.listenUNIXDatagram(path, Recorder(), mode=0o600)
    try:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    finally:
        runUntil(reactor, port.stopListening())


def test_connectedRoundTrip(reactor: Any, sockdir: str) -> None:
    serverPath = os.path.join(sockdir, "s")
    clientPath = os.path.join(sockdir, "c")
    server = Echo()
    serverPort = reactor.listenUNIXDatagram(serverPath, server)
    client = Client()
    clientPort = reactor.connectUNIXDatagram(serverPath, client, bindAddress=clientPath)
    try:
        assert verifyObject(IUNIXDatagramConnectedTransport, clientPort)
        assert clientPort.getPeer() == UNIXAddress(serverPath)
        assert clientPort.getHost() == UNIXAddress(clientPath)
        clientPort.write(b"ping")
        assert runUntil(reactor, client.got) == b"PING"
        assert server.received == [(b"ping", clientPath)]
        with pytest.raises(TypeError):
            clientPort.write("text")
    finally:
        runUntil(reactor, clientPort.stopListening())
        runUntil(reactor, serverPort.stopListening())
    assert not os.path.exists(clientPath)


def test_connectToMissingPath(reactor: Any, sockdir: str) -> None:
    client = Client()
    port = reactor.connectUNIXDatagram(os.path.join(sockdir, "nobody"), client)
    runUntil(reactor, client.failed)
    assert client.reason is not None
    assert client.reason.check(error.ConnectError)
    assert not port.connected
    assert port.fileno() == -1


def test_abstractNamespace(reactor: Any) -> None:
    name = f"\0torsion-test-{os.getpid()}-{id(reactor)}"
    proto = Recorder()
    port = reactor.listenUNIXDatagram(name, proto)
    try:
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sender.sendto(b"abstract", name)
            [(data, _)] = runUntil(reactor, proto.waitFor(1))
        finally:
            sender.close()
        assert data == b"abstract"
    finally:
        runUntil(reactor, port.stopListening())


def test_writeErrors(reactor: Any, sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    port = reactor.listenUNIXDatagram(path, Recorder())
    try:
        with pytest.raises(TypeError):
            port.write("text", path)
        with pytest.raises(ValueError):
            port.write(b"x")
        with pytest.raises(OSError):
            port.write(b"x", os.path.join(sockdir, "missing"))
    finally:
        runUntil(reactor, port.stopListening())


def test_pathInUse(reactor: Any, sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    port = reactor.listenUNIXDatagram(path, Recorder())
    try:
        with pytest.raises(error.CannotListenError):
            reactor.listenUNIXDatagram(path, Recorder())
    finally:
        runUntil(reactor, port.stopListening())


def test_stopLeavesForeignFileAlone(reactor: Any, sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    port = reactor.listenUNIXDatagram(path, Recorder())
    os.unlink(path)
    with open(path, "w") as f:
        f.write("someone else's file")
    runUntil(reactor, port.stopListening())
    assert os.path.exists(path)


def test_maxPacketSize(reactor: Any, sockdir: str) -> None:
    path = os.path.join(sockdir, "s")
    proto = Recorder()
    port = reactor.listenUNIXDatagram(path, proto, maxPacketSize=4)
    try:
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sender.sendto(b"abcd", path)
            sender.sendto(b"abcdef", path)
            received = runUntil(reactor, proto.waitFor(2))
        finally:
            sender.close()
        assert [data for data, _ in received] == [b"abcd", b"abcd"]
    finally:
        runUntil(reactor, port.stopListening())
