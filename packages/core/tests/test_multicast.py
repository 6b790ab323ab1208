"""
Tests for IP multicast: ``reactor.listenMulticast`` and
``torsion.internet.udp.MulticastPort``.

Multicast really flows here: over the loopback interface, with the group
joined on 127.0.0.1, the outgoing interface set to 127.0.0.1 and loopback
mode on.
"""

from __future__ import annotations

import itertools
import os
import socket
from typing import Any

import pytest
from reactormixins import runUntil
from zope.interface.verify import verifyObject

from torsion.internet import error
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IMulticastTransport, IUDPTransport
from torsion.internet.protocol import DatagramProtocol

LOOPBACK = "127.0.0.1"

# A distinct administratively scoped group per test, so tests running side
# by side never hear each other.
_groups = itertools.count(1)


def _group() -> str:
    n = (os.getpid() * 7 + next(_groups)) % 65000 + 1
    return f"239.255.{n // 256}.{n % 256}"


class Recorder(DatagramProtocol):
    noisy = False

    def __init__(self) -> None:
        self.received: list[tuple[bytes, Any]] = []
        self._waiting: list[tuple[int, Deferred[list[tuple[bytes, Any]]]]] = []

    def datagramReceived(self, data: bytes, addr: Any) -> None:
        self.received.append((data, addr))
        for entry in list(self._waiting):
            if len(self.received) >= entry[0]:
                self._waiting.remove(entry)
                entry[1].callback(self.received)

    def waitFor(self, count: int) -> Deferred[list[tuple[bytes, Any]]]:
        d: Deferred[list[tuple[bytes, Any]]] = Deferred()
        if len(self.received) >= count:
            d.callback(self.received)
        else:
            self._waiting.append((count, d))
        return d


def _sender(reactor: Any) -> tuple[Any, Recorder]:
    proto = Recorder()
    port = reactor.listenMulticast(0, proto, interface=LOOPBACK)
    runUntil(reactor, port.setOutgoingInterface(LOOPBACK))
    port.setLoopbackMode(True)
    return port, proto


@pytest.fixture
def ports(reactor: Any) -> Any:
    opened: list[Any] = []
    yield opened
    for port in opened:
        runUntil(reactor, port.stopListening())


def test_interfaces(reactor: Any, ports: list[Any]) -> None:
    port = reactor.listenMulticast(0, Recorder())
    ports.append(port)
    assert verifyObject(IMulticastTransport, port)
    assert verifyObject(IUDPTransport, port)


def test_joinReceiveLeave(reactor: Any, ports: list[Any]) -> None:
    group = _group()
    receiverProto = Recorder()
    receiver = reactor.listenMulticast(0, receiverProto)
    ports.append(receiver)
    sender, _ = _sender(reactor)
    ports.append(sender)
    number = receiver.getHost().port

    assert runUntil(reactor, receiver.joinGroup(group, LOOPBACK)) is None
    sender.write(b"to the group", (group, number))
    [(data, addr)] = runUntil(reactor, receiverProto.waitFor(1))
    assert data == b"to the group"
    assert addr == (LOOPBACK, sender.getHost().port)

    assert runUntil(reactor, receiver.leaveGroup(group, LOOPBACK)) is None
    sender.write(b"after leaving", (group, number))
    # Loopback delivers in order: once the unicast marker arrives, the group
    # datagram sent before it would have arrived too had we still been in.
    sender.write(b"marker", (LOOPBACK, number))
    received = runUntil(reactor, receiverProto.waitFor(2))
    assert [d for d, _ in received] == [b"to the group", b"marker"]


def test_loopbackMode(reactor: Any, ports: list[Any]) -> None:
    # Sending out of the loopback interface itself delivers to local members
    # whatever this setting says, so only the option is observable here.
    port = reactor.listenMulticast(0, Recorder())
    ports.append(port)
    assert port.getLoopbackMode() is True
    port.setLoopbackMode(False)
    assert port.getLoopbackMode() is False
    port.setLoopbackMode(True)
    assert port.getLoopbackMode() is True


def test_listenMultiple(reactor: Any, ports: list[Any]) -> None:
    group = _group()
    first, second = Recorder(), Recorder()
    a = reactor.listenMulticast(0, first, listenMultiple=True)
    ports.append(a)
    number = a.getHost().port
    b = reactor.listenMulticast(number, second, listenMultiple=True)
    ports.append(b)
    runUntil(reactor, a.joinGroup(group, LOOPBACK))
    runUntil(reactor, b.joinGroup(group, LOOPBACK))
    sender, _ = _sender(reactor)
    ports.append(sender)
    sender.write(b"everyone", (group, number))
    assert [d for d, _ in runUntil(reactor, first.waitFor(1))] == [b"everyone"]
    assert [d for d, _ in runUntil(reactor, second.waitFor(1))] == [b"everyone"]


def test_samePortWithoutListenMultipleFails(reactor: Any, ports: list[Any]) -> None:
    a = reactor.listenMulticast(0, Recorder())
    ports.append(a)
    with pytest.raises(error.CannotListenError):
        reactor.listenMulticast(a.getHost().port, Recorder())


def test_ttl(reactor: Any, ports: list[Any]) -> None:
    port = reactor.listenMulticast(0, Recorder())
    ports.append(port)
    assert port.getTTL() == 1
    port.setTTL(0)
    assert port.getTTL() == 0
    port.setTTL(255)
    assert port.getTTL() == 255
    with pytest.raises(ValueError):
        port.setTTL(256)
    with pytest.raises(ValueError):
        port.setTTL(-1)
    assert port.getTTL() == 255


def test_outgoingInterface(reactor: Any, ports: list[Any]) -> None:
    port = reactor.listenMulticast(0, Recorder())
    ports.append(port)
    assert port.getOutgoingInterface() == "0.0.0.0"
    runUntil(reactor, port.setOutgoingInterface(LOOPBACK))
    assert port.getOutgoingInterface() == LOOPBACK
    with pytest.raises(ValueError):
        runUntil(reactor, port.setOutgoingInterface("localhost"))


@pytest.mark.parametrize(
    ("group", "interface"),
    [(LOOPBACK, ""), ("not-an-address", ""), ("239.1.2.3", "no-such-interface")],
)
def test_joinErrors(reactor: Any, ports: list[Any], group: str, interface: str) -> None:
    port = reactor.listenMulticast(0, Recorder())
    ports.append(port)
    with pytest.raises(error.MulticastJoinError):
        runUntil(reactor, port.joinGroup(group, interface))


def test_leaveGroupNotJoined(reactor: Any, ports: list[Any]) -> None:
    port = reactor.listenMulticast(0, Recorder())
    ports.append(port)
    with pytest.raises(error.MulticastJoinError):
        runUntil(reactor, port.leaveGroup(_group(), LOOPBACK))


def test_ipv6Options(reactor: Any, ports: list[Any]) -> None:
    port = reactor.listenMulticast(0, Recorder(), interface="::")
    ports.append(port)
    port.setTTL(5)
    assert port.getTTL() == 5
    port.setLoopbackMode(False)
    assert port.getLoopbackMode() is False
    index = socket.if_nametoindex("lo")
    runUntil(reactor, port.setOutgoingInterface("lo"))
    assert port.getOutgoingInterface() == str(index)
    assert runUntil(reactor, port.joinGroup("ff02::1:ff00:1234", "lo")) is None
    assert runUntil(reactor, port.leaveGroup("ff02::1:ff00:1234", "lo")) is None
    with pytest.raises(error.MulticastJoinError):
        runUntil(reactor, port.joinGroup("239.1.2.3"))
