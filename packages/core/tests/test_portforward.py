"""
Tests for ``torsion.protocols.portforward``: the relay's wiring over
in-memory transports and a real forward over loopback.
"""

from __future__ import annotations

import hashlib
import socket
from typing import Any

import pytest
from reactormixins import runUntil

from torsion.internet import error, protocol, threads
from torsion.internet.address import IPv4Address
from torsion.internet.testing import MemoryReactorClock, StringTransport
from torsion.protocols.portforward import (
    ProxyClient,
    ProxyClientFactory,
    ProxyFactory,
    ProxyServer,
)
from torsion.python.failure import Failure


def test_factoryArguments() -> None:
    factory = ProxyFactory("example.com", 80)
    assert (factory.host, factory.port) == ("example.com", 80)
    with pytest.raises(TypeError):
        ProxyFactory(b"example.com", 80)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ProxyFactory("example.com", "80")  # type: ignore[arg-type]


def startRelay() -> tuple[
    ProxyServer, StringTransport, ProxyClient, StringTransport, MemoryReactorClock
]:
    reactor = MemoryReactorClock()
    factory = ProxyFactory("192.0.2.9", 8080, reactor=reactor)
    server = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 4000))
    assert isinstance(server, ProxyServer)
    serverTransport = StringTransport()
    server.makeConnection(serverTransport)
    # Nothing is read from the client until the destination answers.
    assert serverTransport.producerState == "paused"
    host, port, clientFactory, _, _ = reactor.tcpClients[0]
    assert (host, port) == ("192.0.2.9", 8080)
    client = clientFactory.buildProtocol(IPv4Address("TCP", host, port))
    assert isinstance(client, ProxyClient)
    clientTransport = StringTransport()
    client.makeConnection(clientTransport)
    return server, serverTransport, client, clientTransport, reactor


def test_relaysBothWays() -> None:
    server, serverTransport, client, clientTransport, _ = startRelay()
    assert serverTransport.producerState == "producing"
    server.dataReceived(b"request")
    assert clientTransport.value() == b"request"
    client.dataReceived(b"response")
    assert serverTransport.value() == b"response"


def test_flowControlBothWays() -> None:
    """
    Each side's transport produces for the other: when one side's transport
    asks its producer to pause (its buffer is full), reading stops on the
    other side, and resumes with it.
    """
    _, serverTransport, _, clientTransport, _ = startRelay()
    assert clientTransport.producer is serverTransport
    assert serverTransport.producer is clientTransport
    assert clientTransport.streaming and serverTransport.streaming
    towardsServer: Any = clientTransport.producer
    towardsClient: Any = serverTransport.producer
    towardsServer.pauseProducing()
    assert state(serverTransport) == "paused"
    towardsServer.resumeProducing()
    assert state(serverTransport) == "producing"
    towardsClient.pauseProducing()
    assert state(clientTransport) == "paused"


def state(transport: StringTransport) -> str:
    return transport.producerState


def test_closingOneSideClosesTheOther() -> None:
    server, serverTransport, client, clientTransport, _ = startRelay()
    client.connectionLost(Failure(error.ConnectionDone()))
    assert serverTransport.disconnecting
    server, serverTransport, client, clientTransport, _ = startRelay()
    server.connectionLost(Failure(error.ConnectionLost()))
    assert clientTransport.disconnecting


def test_unreachableDestinationClosesClient() -> None:
    reactor = MemoryReactorClock()
    server = ProxyFactory("192.0.2.9", 1, reactor=reactor).buildProtocol(
        IPv4Address("TCP", "127.0.0.1", 4000)
    )
    assert server is not None
    transport = StringTransport()
    server.makeConnection(transport)
    factory = reactor.tcpClients[0][2]
    assert isinstance(factory, ProxyClientFactory)
    factory.clientConnectionFailed(
        reactor.connectors[0], Failure(error.ConnectionRefusedError())
    )
    assert transport.disconnecting


class Echo(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


def exchange(port: int, payload: bytes) -> bytes:
    """
    Blocking client (runs in a thread): send, then read until the
    forwarder closes.
    """
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        try:
            s.sendall(payload)
        except OSError:
            return received
        while True:
            try:
                chunk = s.recv(65536)
            except ConnectionResetError:
                return received
            if not chunk:
                return received
            received += chunk


def test_forwardOverLoopback(reactor: Any) -> None:
    echo = reactor.listenTCP(
        0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1"
    )
    forwarder = reactor.listenTCP(
        0,
        ProxyFactory("127.0.0.1", echo.getHost().port, reactor=reactor),
        interface="127.0.0.1",
    )
    # Several megabytes: larger than socket buffers and the transports'
    # high-water marks, so the relay pauses and resumes along the way.
    payload = hashlib.sha256(b"seed").digest() * (4 * 1024 * 1024 // 32)
    try:
        got = runUntil(
            reactor,
            threads.deferToThreadPool(
                reactor,
                reactor.getThreadPool(),
                echoUntilComplete,
                forwarder.getHost().port,
                payload,
            ),
            60,
        )
        assert len(got) == len(payload)
        assert got == payload
    finally:
        echo.stopListening()
        forwarder.stopListening()


def echoUntilComplete(port: int, payload: bytes) -> bytes:
    """
    Send ``payload`` while reading the echo, until all of it came back.
    """
    import threading

    received = bytearray()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        sender = threading.Thread(target=s.sendall, args=(payload,))
        sender.start()
        while len(received) < len(payload):
            chunk = s.recv(65536)
            if not chunk:
                break
            received += chunk
        sender.join()
    return bytes(received)


def test_forwardToClosedPortClosesClient(reactor: Any) -> None:
    closed = reactor.listenTCP(0, protocol.Factory(), interface="127.0.0.1")
    deadPort = closed.getHost().port
    runUntil(reactor, closed.stopListening())
    forwarder = reactor.listenTCP(
        0, ProxyFactory("127.0.0.1", deadPort, reactor=reactor), interface="127.0.0.1"
    )
    try:
        got = runUntil(
            reactor,
            threads.deferToThreadPool(
                reactor,
                reactor.getThreadPool(),
                exchange,
                forwarder.getHost().port,
                b"hello",
            ),
        )
        assert got == b""
    finally:
        forwarder.stopListening()


def test_interfaces() -> None:
    from zope.interface.verify import verifyObject

    from torsion.internet.interfaces import IProtocol, IProtocolFactory

    assert verifyObject(IProtocolFactory, ProxyFactory("h", 1))
    assert verifyObject(IProtocolFactory, ProxyClientFactory())
    assert verifyObject(IProtocol, ProxyServer())
    assert verifyObject(IProtocol, ProxyClient())
