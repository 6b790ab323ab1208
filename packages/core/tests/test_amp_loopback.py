"""
Tests for torsion.protocols.amp over real sockets: TCP on 127.0.0.1, Unix
sockets (with descriptor passing) and ``StartTLS`` with a test CA.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from reactormixins import runUntil

from torsion.internet import interfaces
from torsion.internet.defer import Deferred, DeferredList
from torsion.internet.error import ConnectionClosed
from torsion.internet.protocol import ClientCreator, Factory, connectionDone
from torsion.protocols import amp
from torsion.python.failure import Failure


class Sum(amp.Command):
    arguments = [(b"a", amp.Integer()), (b"b", amp.Integer())]
    response = [(b"total", amp.Integer())]


class Blob(amp.Command):
    arguments = [(b"data", amp.String())]
    response = [(b"size", amp.Integer()), (b"tail", amp.String())]


class ReadFrom(amp.Command):
    arguments = [(b"fd", amp.Descriptor())]
    response = [(b"data", amp.String())]


class Node(amp.AMP):
    """An AMP peer that records its connection's life."""

    def __init__(self, **kw: Any) -> None:
        amp.AMP.__init__(self, **kw)
        self.made: Deferred[Node] = Deferred()
        self.lost: Deferred[None] = Deferred()
        self.reason: Failure | None = None
        self.sums = 0

    def connectionMade(self) -> None:
        self.made.callback(self)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        amp.AMP.connectionLost(self, reason)
        self.reason = reason
        self.lost.callback(None)

    @Sum.responder
    def sum(self, a: int, b: int) -> dict[str, int] | Deferred[dict[str, int]]:
        self.sums += 1
        return {"total": a + b}

    @Blob.responder
    def blob(self, data: bytes) -> dict[str, Any]:
        return {"size": len(data), "tail": data[-10:]}

    @ReadFrom.responder
    def readFrom(self, fd: int) -> dict[str, bytes]:
        try:
            return {"data": os.read(fd, 100)}
        finally:
            os.close(fd)


class ServerFactory(Factory):
    def __init__(self, reactor: Any, protocolClass: type[Node] = Node) -> None:
        self.reactor = reactor
        self.protocolClass = protocolClass
        self.built: list[Node] = []
        self.connected: Deferred[Node] = Deferred()

    def buildProtocol(self, addr: Any) -> Node:
        p = self.protocolClass(clock=self.reactor)
        self.built.append(p)
        if len(self.built) == 1:
            p.made.chainDeferred(self.connected)
        return p


def ask(peer: amp.AMP, command: type[amp.Command], **kw: Any) -> Deferred[Any]:
    """``peer.callRemote(command, **kw)``: a command that expects an answer."""
    d = peer.callRemote(command, **kw)
    assert d is not None
    return d


def close(reactor: Any, port: Any, *protos: Node) -> None:
    for p in protos:
        if p.transport is not None:
            p.transport.loseConnection()
    runUntil(reactor, DeferredList([p.lost for p in protos]))
    runUntil(reactor, port.stopListening())


def tcpPair(reactor: Any, serverClass: type[Node] = Node) -> tuple[Any, Node, Node]:
    factory = ServerFactory(reactor, serverClass)
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    creator = ClientCreator(reactor, Node, clock=reactor)
    client = runUntil(reactor, creator.connectTCP("127.0.0.1", port.getHost().port))
    server = runUntil(reactor, factory.connected)
    return port, server, client


def test_tcpLoopback(reactor: Any) -> None:
    port, server, client = tcpPair(reactor)
    assert runUntil(reactor, ask(client, Sum, a=20, b=22)) == {"total": 42}
    assert runUntil(reactor, ask(server, Sum, a=1, b=2)) == {"total": 3}
    close(reactor, port, client, server)


def test_tcpManyLargeBoxes(reactor: Any) -> None:
    """
    Many full-size values in flight at once arrive intact, however TCP cuts
    them.
    """
    port, server, client = tcpPair(reactor)
    payloads = [bytes([i]) * 65535 for i in range(40)]
    ds = [ask(client, Blob, data=p) for p in payloads]
    results = runUntil(reactor, DeferredList(ds, fireOnOneErrback=True))
    assert [r[1] for r in results] == [
        {"size": 65535, "tail": p[-10:]} for p in payloads
    ]
    close(reactor, port, client, server)


def test_tcpPendingCallsFailOnClose(reactor: Any) -> None:
    class Silent(Node):
        @Sum.responder
        def sum(self, a: int, b: int) -> Deferred[dict[str, int]]:
            return Deferred()

    port, server, client = tcpPair(reactor, Silent)
    d = ask(client, Sum, a=1, b=1)
    assert d is not None
    server.transport.loseConnection()
    with pytest.raises(Exception) as raised:
        runUntil(reactor, d)
    assert isinstance(raised.value, ConnectionClosed)
    runUntil(reactor, client.lost)
    runUntil(reactor, port.stopListening())


def test_tcpOverlongKeyClosesConnection(reactor: Any) -> None:
    port, server, client = tcpPair(reactor)
    d = ask(server, Sum, a=1, b=1)
    # The client sends a 256-byte key: the server closes, and its pending
    # call fails with the reason.
    client.transport.write(b"\x01\x00" + b"k" * 256)
    with pytest.raises(amp.TooLong):
        runUntil(reactor, d)
    runUntil(reactor, DeferredList([client.lost, server.lost]))
    runUntil(reactor, port.stopListening())


@pytest.fixture
def path(tmp_path: Path) -> str:
    return str(tmp_path / "amp.sock")


def unixPair(reactor: Any, path: str) -> tuple[Any, Node, Node]:
    factory = ServerFactory(reactor)
    port = reactor.listenUNIX(path, factory)
    creator = ClientCreator(reactor, Node, clock=reactor)
    client = runUntil(reactor, creator.connectUNIX(path))
    server = runUntil(reactor, factory.connected)
    return port, server, client


def test_unixLoopback(reactor: Any, path: str) -> None:
    port, server, client = unixPair(reactor, path)
    assert runUntil(reactor, ask(client, Sum, a=2, b=2)) == {"total": 4}
    close(reactor, port, client, server)


def test_descriptorPassing(reactor: Any, path: str) -> None:
    port, server, client = unixPair(reactor, path)
    r, w = os.pipe()
    try:
        os.write(w, b"through the socket")
        os.close(w)
        w = -1
        d = ask(client, ReadFrom, fd=r)
        assert runUntil(reactor, d) == {"data": b"through the socket"}
        # The sender keeps its own descriptor.
        os.fstat(r)
    finally:
        os.close(r)
        if w != -1:
            os.close(w)
    assert server._descriptors == {}
    close(reactor, port, client, server)


def test_descriptorNeedsCapableTransport(reactor: Any) -> None:
    port, server, client = tcpPair(reactor)
    r, w = os.pipe()
    try:
        with pytest.raises(TypeError):
            ask(client, ReadFrom, fd=r)
    finally:
        os.close(r)
        os.close(w)
    close(reactor, port, client, server)


# -- StartTLS -------------------------------------------------------------------------

ssl = pytest.importorskip("torsion.internet.ssl", reason="needs torsion-core[tls]")


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    ca = ssl.KeyPair.generate("ec").selfSignedCert(1, isCA=True, commonName="AMP CA")
    other = ssl.KeyPair.generate("ec").selfSignedCert(
        2, isCA=True, commonName="Other CA"
    )
    return {
        "ca": ca,
        "other": other,
        "server": ca.issue("server.example", hostnames=["server.example"]),
        "client": ca.issue("client.example", hostnames=["client.example"]),
    }


class TLSNode(Node):
    certificate: Any = None
    authorities: Any = None

    @amp.StartTLS.responder
    def startTLS(self) -> dict[str, Any]:
        return {
            "tls_localCertificate": self.certificate,
            "tls_verifyAuthorities": self.authorities,
        }


def tlsServerClass(pki: dict[str, Any], requireClient: bool = False) -> type[Node]:
    class Server(TLSNode):
        certificate = pki["server"]
        authorities = [pki["ca"]] if requireClient else None

    return Server


def test_startTLS(reactor: Any, pki: dict[str, Any]) -> None:
    port, server, client = tcpPair(reactor, tlsServerClass(pki))
    assert not interfaces.ISSLTransport.providedBy(client.transport)
    d = ask(client, amp.StartTLS, tls_verifyAuthorities=[pki["ca"]])
    # Sent before the answer: held, then carried over TLS.
    early = ask(client, Sum, a=1, b=2)
    assert runUntil(reactor, d) == {}
    assert runUntil(reactor, early) == {"total": 3}
    assert interfaces.ISSLTransport.providedBy(client.transport)
    assert interfaces.ISSLTransport.providedBy(server.transport)
    assert runUntil(reactor, ask(client, Sum, a=5, b=5)) == {"total": 10}
    assert runUntil(reactor, ask(server, Sum, a=6, b=6)) == {"total": 12}
    assert client.peerCertificate == pki["server"]
    again = ask(client, amp.StartTLS, tls_verifyAuthorities=[pki["ca"]])
    with pytest.raises(amp.OnlyOneTLS):
        runUntil(reactor, again)
    close(reactor, port, client, server)


def test_startTLSClientCertificate(reactor: Any, pki: dict[str, Any]) -> None:
    port, server, client = tcpPair(reactor, tlsServerClass(pki, requireClient=True))
    d = ask(
        client,
        amp.StartTLS,
        tls_localCertificate=pki["client"],
        tls_verifyAuthorities=[pki["ca"]],
    )
    runUntil(reactor, d)
    assert runUntil(reactor, ask(client, Sum, a=1, b=1)) == {"total": 2}
    assert server.peerCertificate == pki["client"]
    close(reactor, port, client, server)


def test_startTLSUntrustedServer(reactor: Any, pki: dict[str, Any]) -> None:
    """
    A server certificate from an authority the client does not trust ends
    the connection; the calls made meanwhile fail.
    """
    port, server, client = tcpPair(reactor, tlsServerClass(pki))
    d = ask(client, amp.StartTLS, tls_verifyAuthorities=[pki["other"]])
    runUntil(reactor, d)
    after = ask(client, Sum, a=1, b=1)
    with pytest.raises(Exception) as raised:
        runUntil(reactor, after)
    assert not isinstance(raised.value, AssertionError)
    runUntil(reactor, DeferredList([client.lost, server.lost]))
    runUntil(reactor, port.stopListening())


def test_startTLSWithoutResponder(reactor: Any, pki: dict[str, Any]) -> None:
    port, server, client = tcpPair(reactor)
    d = ask(client, amp.StartTLS, tls_verifyAuthorities=[pki["ca"]])
    with pytest.raises(amp.UnhandledCommand):
        runUntil(reactor, d)
    # Still plaintext, still working.
    assert runUntil(reactor, ask(client, Sum, a=1, b=1)) == {"total": 2}
    assert not interfaces.ISSLTransport.providedBy(client.transport)
    close(reactor, port, client, server)


def test_startTLSPlaintextInjectionRejected(reactor: Any, pki: dict[str, Any]) -> None:
    """
    Plaintext boxes sent right behind StartTLS, in the same segment, are
    never answered as boxes (SECURITY.md LINE-7): the server feeds them to
    TLS, which fails, and the connection closes.
    """
    port, server, client = tcpPair(reactor, tlsServerClass(pki))
    startTLS = amp.AmpBox(_command=b"StartTLS", _ask=b"1").serialize()
    injected = amp.AmpBox(_command=b"Sum", _ask=b"2", a=b"1", b=b"1").serialize()
    raw: list[bytes] = []
    client.dataReceived = raw.append  # type: ignore[method-assign, assignment]
    client.transport.write(startTLS + injected)
    runUntil(reactor, DeferredList([client.lost, server.lost]))
    assert b"total" not in b"".join(raw)
    assert server.sums == 0
    runUntil(reactor, port.stopListening())
