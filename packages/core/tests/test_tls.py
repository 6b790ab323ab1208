"""
Tests for torsion.protocols.tls: the TLS layer over in-memory transports.

Two ``TLSMemoryBIOProtocol`` instances talk real TLS to each other through
``torsion.internet.testing``'s ``IOPump``; time is a ``Clock``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

ssl = pytest.importorskip("torsion.internet.ssl", reason="needs torsion-core[tls]")

from OpenSSL import SSL  # noqa: E402
from zope.interface import implementer  # noqa: E402
from zope.interface.verify import verifyObject  # noqa: E402

from torsion.internet import interfaces  # noqa: E402
from torsion.internet.error import ConnectionDone, ConnectionLost  # noqa: E402
from torsion.internet.protocol import Factory, Protocol  # noqa: E402
from torsion.internet.task import Clock  # noqa: E402
from torsion.internet.testing import (  # noqa: E402
    EventLoggingObserver,
    IOPump,
    StringTransport,
    connect,
)
from torsion.logger import globalLogPublisher  # noqa: E402
from torsion.protocols import tls  # noqa: E402
from torsion.python.failure import Failure  # noqa: E402


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    ca = ssl.KeyPair.generate("ec").selfSignedCert(1, isCA=True, commonName="Test CA")
    server = ca.issue("server.example", hostnames=["server.example"])
    return {"ca": ca, "server": server}


@pytest.fixture
def logged() -> Iterator[EventLoggingObserver]:
    observer = EventLoggingObserver()
    globalLogPublisher.addObserver(observer)
    yield observer
    globalLogPublisher.removeObserver(observer)


class Recorder(Protocol):
    """Records everything that happens to it."""

    def __init__(self, greeting: bytes = b"") -> None:
        self.greeting = greeting
        self.received: list[bytes] = []
        self.reason: Failure | None = None
        self.made = False

    def connectionMade(self) -> None:
        self.made = True
        if self.greeting:
            self.transport.write(self.greeting)

    def dataReceived(self, data: bytes) -> None:
        self.received.append(data)

    def connectionLost(self, reason: Failure = ConnectionDone) -> None:  # type: ignore[assignment]
        self.reason = reason

    @property
    def data(self) -> bytes:
        return b"".join(self.received)


@implementer(tls.IHandshakeListener)
class Listener(Recorder):
    handshakes = 0

    def handshakeCompleted(self) -> None:
        self.handshakes += 1
        self.alpn = self.transport.negotiatedProtocol


def tlsPair(
    pki: dict[str, Any],
    client: Protocol,
    server: Protocol,
    clientOptions: Any = None,
    serverOptions: Any = None,
    clock: Clock | None = None,
    greet: bool = True,
) -> tuple[tls.TLSMemoryBIOProtocol, tls.TLSMemoryBIOProtocol, IOPump]:
    clock = clock or Clock()
    if clientOptions is None:
        clientOptions = ssl.optionsForClientTLS(
            "server.example", ssl.trustRootFromCertificates([pki["ca"]])
        )
    if serverOptions is None:
        serverOptions = pki["server"].options()
    cf = tls.TLSMemoryBIOFactory(
        clientOptions, True, Factory.forProtocol(lambda: client), clock=clock
    )
    sf = tls.TLSMemoryBIOFactory(
        serverOptions, False, Factory.forProtocol(lambda: server), clock=clock
    )
    c = cf.buildProtocol(None)
    s = sf.buildProtocol(None)
    assert c is not None and s is not None
    pump = connect(s, StringTransport(), c, StringTransport(), greet=greet)
    return c, s, pump


def test_interfaces(pki: dict[str, Any]) -> None:
    c, s, _ = tlsPair(pki, Recorder(), Recorder())
    for iface in (
        interfaces.ISSLTransport,
        interfaces.INegotiated,
        interfaces.IPushProducer,
        interfaces.IConsumer,
        interfaces.ISystemHandle,
    ):
        assert verifyObject(iface, c)
        assert verifyObject(iface, s)


def test_exchange(pki: dict[str, Any]) -> None:
    client, server = Recorder(b"hello from client"), Recorder(b"hello from server")
    c, _s, pump = tlsPair(pki, client, server)
    assert client.made and server.made
    assert server.data == b"hello from client"
    assert client.data == b"hello from server"
    c.write(b"more")
    c.writeSequence([b" and ", b"more"])
    pump.flush()
    assert server.data == b"hello from clientmore and more"


def test_writeBeforeHandshakeIsBuffered(pki: dict[str, Any]) -> None:
    client, server = Recorder(b"early"), Recorder()
    _c, _s, pump = tlsPair(pki, client, server, greet=False)
    # Nothing decrypted can have been sent yet: only the ClientHello.
    assert server.data == b""
    pump.flush()
    assert server.data == b"early"


def test_largeTransfer(pki: dict[str, Any]) -> None:
    client, server = Recorder(), Recorder()
    c, _s, pump = tlsPair(pki, client, server)
    payload = bytes(range(256)) * 4096 * 4  # 4 MiB
    c.write(payload)
    pump.flush()
    assert server.data == payload


def test_cleanClose(pki: dict[str, Any]) -> None:
    client, server = Recorder(), Recorder()
    c, _s, pump = tlsPair(pki, client, server)
    c.write(b"last words")
    c.loseConnection()
    c.write(b"ignored after loseConnection")
    pump.flush()
    assert server.data == b"last words"
    assert client.reason is not None and client.reason.check(ConnectionDone)
    assert server.reason is not None and server.reason.check(ConnectionDone)


def test_truncationReportedDistinctly(pki: dict[str, Any]) -> None:
    # TLS-8: the peer closes TCP without close_notify.
    client, server = Recorder(), Recorder()
    c, _s, pump = tlsPair(pki, client, server)
    c.transport.loseConnection()  # beneath TLS: no close_notify
    pump.flush()
    assert server.reason is not None
    assert server.reason.check(tls.TruncatedTLSConnection)
    assert server.reason.check(ConnectionLost)
    assert not server.reason.check(ConnectionDone)


def test_verificationFailure(pki: dict[str, Any], logged: EventLoggingObserver) -> None:
    wrongName = ssl.optionsForClientTLS(
        "evil.example", ssl.trustRootFromCertificates([pki["ca"]])
    )
    client, server = Recorder(b"secret"), Recorder()
    _c, _s, pump = tlsPair(pki, client, server, clientOptions=wrongName)
    pump.flush()
    assert client.reason is not None
    assert client.reason.check(ssl.VerificationError)
    assert "evil.example" in client.reason.getErrorMessage()
    assert server.data == b""
    assert server.reason is not None and not server.reason.check(ConnectionDone)


def test_plaintextToTLSPort(pki: dict[str, Any], logged: EventLoggingObserver) -> None:
    # TLS-5: fail fast, one log line, no traceback.
    server = Recorder()
    sf = tls.TLSMemoryBIOFactory(
        pki["server"].options(),
        False,
        Factory.forProtocol(lambda: server),
        clock=Clock(),
    )
    s = sf.buildProtocol(None)
    assert s is not None
    transport = StringTransport()
    s.makeConnection(transport)
    s.dataReceived(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert transport.disconnecting
    s.connectionLost(Failure(ConnectionDone()))
    assert server.reason is not None and server.reason.check(SSL.Error)
    tlsEvents = [e for e in logged if "TLS connection" in e.get("log_format", "")]
    assert len(tlsEvents) == 1
    assert "log_failure" not in tlsEvents[0]


def test_handshakeTimeout(pki: dict[str, Any]) -> None:
    # TLS-7: a client that says nothing is dropped after the timeout.
    clock = Clock()
    server = Recorder()
    sf = tls.TLSMemoryBIOFactory(
        pki["server"].options(), False, Factory.forProtocol(lambda: server), clock=clock
    )
    s = sf.buildProtocol(None)
    assert s is not None
    transport = StringTransport()
    s.makeConnection(transport)
    clock.advance(tls.HANDSHAKE_TIMEOUT - 1)
    assert not transport.aborted
    clock.advance(1)
    assert transport.aborted
    s.connectionLost(Failure(ConnectionLost()))
    assert server.reason is not None and server.reason.check(tls.TLSHandshakeTimeout)
    assert not clock.getDelayedCalls()


def test_timeoutCancelledByHandshake(pki: dict[str, Any]) -> None:
    clock = Clock()
    tlsPair(pki, Recorder(), Recorder(), clock=clock)
    assert not clock.getDelayedCalls()


def test_alpnAndHandshakeListener(pki: dict[str, Any]) -> None:
    serverOptions = ssl.CertificateOptions(
        privateKey=pki["server"].privateKey,
        certificate=pki["server"],
        acceptableProtocols=[b"h2", b"http/1.1"],
    )
    clientOptions = ssl.optionsForClientTLS(
        "server.example",
        ssl.trustRootFromCertificates([pki["ca"]]),
        acceptableProtocols=[b"http/1.1"],
    )
    client, server = Listener(), Listener()
    c, _s, _pump = tlsPair(pki, client, server, clientOptions, serverOptions)
    assert client.handshakes == server.handshakes == 1
    assert client.alpn == server.alpn == b"http/1.1"
    assert c.negotiatedProtocol == b"http/1.1"


def test_peerCertificate(pki: dict[str, Any]) -> None:
    c, s, _ = tlsPair(pki, Recorder(), Recorder())
    cert = c.getPeerCertificate()
    assert cert is not None
    assert cert.getSubject().commonName == "server.example"
    assert ssl.Certificate.peerFromTransport(c) == cert
    assert s.getPeerCertificate() is None


def test_whenHandshakeDone(pki: dict[str, Any]) -> None:
    client, server = Recorder(), Recorder()
    c, _s, pump = tlsPair(pki, client, server, greet=False)
    results: list[Any] = []
    c.whenHandshakeDone().addBoth(results.append)
    assert results == []
    pump.flush()
    assert results == [None]
    done: list[Any] = []
    c.whenHandshakeDone().addBoth(done.append)
    assert done == [None]


def test_strWriteRefused(pki: dict[str, Any]) -> None:
    c, _, _ = tlsPair(pki, Recorder(), Recorder())
    with pytest.raises(TypeError, match="bytes"):
        c.write("text")  # type: ignore[arg-type]


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


def test_streamingProducerHeldUntilHandshake(pki: dict[str, Any]) -> None:
    client, server = Recorder(), Recorder()
    c, _s, pump = tlsPair(pki, client, server, greet=False)
    producer = Producer()
    c.registerProducer(producer, True)
    assert producer.state == "paused"
    pump.flush()
    assert producer.state == "producing"
    c.loseConnection()
    pump.flush()
    # The close waits for the producer to be unregistered.
    assert server.reason is None
    c.unregisterProducer()
    pump.flush()
    assert server.reason is not None and server.reason.check(ConnectionDone)


def test_doubleRegisterRefused(pki: dict[str, Any]) -> None:
    c, _, _ = tlsPair(pki, Recorder(), Recorder())
    c.registerProducer(Producer(), True)
    with pytest.raises(RuntimeError):
        c.registerProducer(Producer(), True)


def test_startTLSOverExistingConnection(pki: dict[str, Any]) -> None:
    """
    ``startTLSOver`` turns a plaintext connection into a TLS one, the way
    STARTTLS does: the application protocol keeps its object.
    """
    client, server = Recorder(), Recorder()
    ct, st = StringTransport(), StringTransport()
    client.makeConnection(ct)
    server.makeConnection(st)
    c = tls.startTLSOver(
        ct,
        ct,
        ssl.optionsForClientTLS(
            "server.example", ssl.trustRootFromCertificates([pki["ca"]])
        ),
        True,
        client,
        clock=Clock(),
    )
    s = tls.startTLSOver(st, st, pki["server"].options(), False, server, clock=Clock())
    pump = IOPump(c, s, ct, st)
    pump.flush()
    c.write(b"over TLS now")
    pump.flush()
    assert server.data == b"over TLS now"
