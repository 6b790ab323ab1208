"""
Tests for torsion.application.strports.
"""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest
from reactormixins import runUntil

from torsion.application import internet, strports
from torsion.internet.address import IPv4Address
from torsion.internet.protocol import Factory
from torsion.internet.testing import MemoryReactorClock
from torsion.protocols.wire import Echo


def echoOnce(family: int, address: Any, reactor: Any) -> bytes:
    client = socket.socket(family, socket.SOCK_STREAM)
    client.setblocking(False)
    try:
        client.connect(address)
    except BlockingIOError:
        pass
    from torsion.internet.defer import Deferred

    received: list[bytes] = []
    done: Deferred[None] = Deferred()

    def poll() -> None:
        try:
            if not received:
                client.send(b"ping")
                received.append(b"")
            data = client.recv(10)
            received.append(data)
            done.callback(None)
        except (BlockingIOError, OSError):
            reactor.callLater(0.001, poll)

    reactor.callLater(0, poll)
    runUntil(reactor, done)
    client.close()
    return b"".join(received)


def test_serviceIsEndpointService() -> None:
    reactor = MemoryReactorClock()
    factory = Factory.forProtocol(Echo)
    s = strports.service("tcp:8080:interface=127.0.0.1", factory, reactor=reactor)
    assert isinstance(s, internet.StreamServerEndpointService)
    assert s.factory is factory
    assert s.name == "tcp:8080:interface=127.0.0.1"
    s.privilegedStartService()
    assert reactor.tcpServers[0][:2] == (8080, factory)
    assert reactor.tcpServers[0][3] == "127.0.0.1"


def test_serviceOverRealTCP(reactor: Any) -> None:
    s = strports.service(
        "tcp:0:interface=127.0.0.1", Factory.forProtocol(Echo), reactor=reactor
    )
    s.startService()
    port = runUntil(reactor, s.whenListening())
    host = port.getHost()
    assert isinstance(host, IPv4Address)
    address = ("127.0.0.1", host.port)
    assert echoOnce(socket.AF_INET, address, reactor) == b"ping"
    runUntil(reactor, s.stopService())


def test_serviceOverUnix(reactor: Any, tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    s = strports.service(f"unix:{path}", Factory.forProtocol(Echo), reactor=reactor)
    s.startService()
    runUntil(reactor, s.whenListening())
    assert echoOnce(socket.AF_UNIX, str(path), reactor) == b"ping"
    runUntil(reactor, s.stopService())


def test_listen(reactor: Any) -> None:
    port = runUntil(
        reactor,
        strports.listen(
            "tcp:0:interface=127.0.0.1", Factory.forProtocol(Echo), reactor=reactor
        ),
    )
    host = port.getHost()
    assert isinstance(host, IPv4Address)
    address = ("127.0.0.1", host.port)
    assert echoOnce(socket.AF_INET, address, reactor) == b"ping"
    runUntil(reactor, port.stopListening())


@pytest.mark.parametrize(
    "description", ["nosuchtype:80", "tcp:notaport", "tcp:80:bogus=1", ""]
)
def test_badDescriptions(description: str) -> None:
    with pytest.raises(ValueError):
        strports.service(description, Factory(), reactor=MemoryReactorClock())


def test_describeAddress() -> None:
    from torsion.internet.address import IPv4Address, IPv6Address, UNIXAddress

    assert (
        internet.describeAddress(IPv4Address("TCP", "127.0.0.1", 80))
        == "tcp:127.0.0.1:80"
    )
    assert internet.describeAddress(IPv6Address("TCP", "::1", 80)) == "tcp6:[::1]:80"
    assert internet.describeAddress(UNIXAddress("/run/a.sock")) == "unix:/run/a.sock"
    assert internet.describeAddress(UNIXAddress(b"/run/b")) == "unix:/run/b"
