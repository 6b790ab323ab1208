"""
TLS over real loopback sockets: torsion against itself on every reactor, and
against real peers (openssl s_client and s_server, curl).
"""

from __future__ import annotations

import datetime
import os
import select
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, cast

import pytest

ssl = pytest.importorskip("torsion.internet.ssl", reason="needs torsion-core[tls]")

from OpenSSL import SSL  # noqa: E402
from peers import freePort, requireCommand  # noqa: E402
from reactormixins import makeReactor, runUntil  # noqa: E402

from torsion.internet import defer, threads  # noqa: E402
from torsion.internet.error import ConnectionDone  # noqa: E402
from torsion.internet.protocol import (  # noqa: E402
    ClientFactory,
    Factory,
    Protocol,
    connectionDone,
)
from torsion.protocols.basic import LineReceiver  # noqa: E402
from torsion.protocols.tls import TLSHandshakeTimeout, TLSMemoryBIOFactory  # noqa: E402
from torsion.python.failure import Failure  # noqa: E402


class PKI:
    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self.ca = ssl.KeyPair.generate("ec").selfSignedCert(
            1, isCA=True, commonName="Test CA"
        )
        self.server = self.ca.issue("localhost", hostnames=["localhost", "127.0.0.1"])
        past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=10)
        self.expired = self.ca.issue(
            "localhost",
            hostnames=["localhost", "127.0.0.1"],
            notBefore=past,
            secondsToExpiry=3600,
        )
        self.selfSigned = ssl.generateSelfSigned(["localhost", "127.0.0.1"])
        self.caFile = self.write("ca.pem", self.ca.dump(ssl.FILETYPE_PEM))
        self.files: dict[str, tuple[str, str]] = {}
        for name in ("server", "expired", "selfSigned"):
            cert = getattr(self, name)
            self.files[name] = (
                self.write(f"{name}.crt", cert.dump(ssl.FILETYPE_PEM)),
                self.write(f"{name}.key", cert.privateKey.dumpPEM()),
            )

    def write(self, name: str, data: bytes) -> str:
        path = self.dir / name
        path.write_bytes(data)
        return str(path)

    def clientOptions(self, hostname: str = "127.0.0.1", **kw: Any) -> Any:
        return ssl.optionsForClientTLS(
            hostname, ssl.trustRootFromCertificates([self.ca]), **kw
        )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return PKI(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def oneReactor() -> Iterator[Any]:
    """The default reactor kind only: real-peer tests need not run on every one."""
    from reactormixins import cleanUpReactor

    r = makeReactor("epoll" if hasattr(select, "epoll") else "poll")
    yield r
    cleanUpReactor(r)


class Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


class Collector(Protocol):
    """Sends ``toSend``, collects everything until the connection ends."""

    def __init__(self, toSend: bytes, closeAfter: int | None = None) -> None:
        self.toSend = toSend
        self.closeAfter = closeAfter
        self.received = b""
        self.done: defer.Deferred[tuple[bytes, Failure]] = defer.Deferred()

    def connectionMade(self) -> None:
        if self.toSend:
            self.transport.write(self.toSend)

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if self.closeAfter is not None and len(self.received) >= self.closeAfter:
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.done.callback((self.received, reason))


class TrackingFactory(Factory):
    """Keeps the server protocols, so a test can wait for their end."""

    def __init__(self, protocolClass: Any) -> None:
        self.protocolClass = protocolClass
        self.built = 0
        self._ended: dict[int, defer.Deferred[list[Failure]]] = {}

    def endedAt(self, index: int) -> defer.Deferred[list[Failure]]:
        """
        A Deferred firing with ``[reason]`` when the ``index``-th server
        protocol (counting from 0) loses its connection; it may not exist
        yet.  The reason is wrapped: a Failure given to callback() would
        errback.
        """
        if index not in self._ended:
            self._ended[index] = defer.Deferred()
        return self._ended[index]

    def buildProtocol(self, addr: Any) -> Protocol:
        p = self.protocolClass()
        d = self.endedAt(self.built)
        self.built += 1
        original = p.connectionLost

        def lost(reason: Failure = connectionDone) -> None:
            original(reason)
            d.callback([reason])

        p.connectionLost = lost
        p.factory = self
        return cast(Protocol, p)


def clientFactory(protocol: Protocol) -> ClientFactory:
    f = ClientFactory()
    f.buildProtocol = lambda addr: protocol  # type: ignore[method-assign]
    return f


def test_listenSSLAndConnectSSL(reactor: Any, pki: PKI) -> None:
    server = TrackingFactory(Echo)
    port = reactor.listenSSL(0, server, pki.server.options(), interface="127.0.0.1")
    client = Collector(b"ping over TLS", closeAfter=13)
    reactor.connectSSL(
        "127.0.0.1", port.getHost().port, clientFactory(client), pki.clientOptions()
    )
    data, reason = runUntil(reactor, client.done)
    assert data == b"ping over TLS"
    assert reason.check(ConnectionDone)
    [serverReason] = runUntil(reactor, server.endedAt(0))
    assert serverReason.check(ConnectionDone)
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


def test_connectSSLVerificationFailure(reactor: Any, pki: PKI) -> None:
    server = TrackingFactory(Echo)
    port = reactor.listenSSL(0, server, pki.server.options(), interface="127.0.0.1")
    client = Collector(b"never sent")
    reactor.connectSSL(
        "127.0.0.1",
        port.getHost().port,
        clientFactory(client),
        pki.clientOptions("example.org"),
    )
    data, reason = runUntil(reactor, client.done)
    assert data == b""
    assert reason.check(ssl.VerificationError)
    assert "example.org" in reason.getErrorMessage()
    runUntil(reactor, server.endedAt(0))
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


class StartTLSServer(LineReceiver):
    options: Any = None

    def lineReceived(self, line: bytes) -> None:
        if line == b"STARTTLS":
            self.sendLine(b"GO AHEAD")
            self.transport.startTLS(self.options)
        else:
            self.sendLine(b"echo " + line)


class StartTLSClient(LineReceiver):
    def __init__(self, options: Any) -> None:
        self.options = options
        self.lines: list[bytes] = []
        self.peer: Any = None
        self.done: defer.Deferred[list[Failure]] = defer.Deferred()

    def connectionMade(self) -> None:
        self.sendLine(b"STARTTLS")

    def lineReceived(self, line: bytes) -> None:
        self.lines.append(line)
        if line == b"GO AHEAD":
            self.transport.startTLS(self.options)
            self.sendLine(b"secret")
        else:
            self.peer = self.transport.getPeerCertificate()
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.done.callback([reason])


def test_startTLS(reactor: Any, pki: PKI) -> None:
    StartTLSServer.options = pki.server.options()
    server = TrackingFactory(StartTLSServer)
    port = reactor.listenTCP(0, server, interface="127.0.0.1")
    client = StartTLSClient(pki.clientOptions())
    reactor.connectTCP("127.0.0.1", port.getHost().port, clientFactory(client))
    [reason] = runUntil(reactor, client.done)
    assert client.lines == [b"GO AHEAD", b"echo secret"]
    assert client.peer is not None
    assert client.peer.getSubject().commonName == "localhost"
    assert reason.check(ConnectionDone)
    assert runUntil(reactor, server.endedAt(0))[0].check(ConnectionDone)
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


def test_startTLSTwiceRefused(reactor: Any, pki: PKI) -> None:
    port = reactor.listenTCP(0, TrackingFactory(Echo), interface="127.0.0.1")
    client = Collector(b"")
    reactor.connectTCP("127.0.0.1", port.getHost().port, clientFactory(client))
    made: defer.Deferred[None] = defer.Deferred()
    client.connectionMade = lambda: made.callback(None)  # type: ignore[method-assign]
    runUntil(reactor, made)
    client.transport.startTLS(pki.clientOptions())
    with pytest.raises(RuntimeError, match="already"):
        client.transport.startTLS(pki.clientOptions())
    client.transport.abortConnection()
    runUntil(reactor, client.done)
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


def test_plaintextToTLSPort(reactor: Any, pki: PKI) -> None:
    server = TrackingFactory(Echo)
    port = reactor.listenSSL(0, server, pki.server.options(), interface="127.0.0.1")
    client = Collector(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    reactor.connectTCP("127.0.0.1", port.getHost().port, clientFactory(client))
    data, _ = runUntil(reactor, client.done)
    assert b"HTTP" not in data
    [serverReason] = runUntil(reactor, server.endedAt(0))
    assert serverReason.check(SSL.Error)
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


def test_handshakeTimeoutOnRealSocket(oneReactor: Any, pki: PKI) -> None:
    reactor = oneReactor
    server = TrackingFactory(Echo)
    tlsFactory = TLSMemoryBIOFactory(
        pki.server.options(), False, server, handshakeTimeout=0.2, clock=reactor
    )
    port = reactor.listenTCP(0, tlsFactory, interface="127.0.0.1")
    client = Collector(b"")  # connects and says nothing
    reactor.connectTCP("127.0.0.1", port.getHost().port, clientFactory(client))
    assert runUntil(reactor, server.endedAt(0))[0].check(TLSHandshakeTimeout)
    runUntil(reactor, client.done)
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


# -- real peers -----------------------------------------------------------------


class Replier(LineReceiver):
    """Answers one line with what it heard and the TLS version, then closes."""

    delimiter = b"\n"

    def lineReceived(self, line: bytes) -> None:
        version = self.transport.getHandle().get_protocol_version_name()
        self.sendLine(
            b"you said: " + line.rstrip(b"\r") + b" (" + version.encode() + b")"
        )
        self.transport.loseConnection()


def runInThread(reactor: Any, f: Any, *args: Any, **kw: Any) -> Any:
    return runUntil(
        reactor,
        threads.deferToThreadPool(reactor, reactor.getThreadPool(), f, *args, **kw),
        timeout=60,
    )


@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_opensslClientAgainstTorsionServer(
    oneReactor: Any, pki: PKI, version: str
) -> None:
    openssl = requireCommand("openssl")
    reactor = oneReactor
    port = reactor.listenSSL(
        0, Factory.forProtocol(Replier), pki.server.options(), interface="127.0.0.1"
    )
    result = runInThread(
        reactor,
        subprocess.run,
        [
            openssl,
            "s_client",
            "-connect",
            f"127.0.0.1:{port.getHost().port}",
            "-CAfile",
            pki.caFile,
            "-verify_return_error",
            "-servername",
            "localhost",
            version,
            "-quiet",
        ],
        input=b"hello openssl\n",
        capture_output=True,
        timeout=30,
    )
    expected = b"TLSv1.2" if version == "-tls1_2" else b"TLSv1.3"
    assert b"you said: hello openssl (" + expected + b")" in result.stdout, (
        result.stderr
    )
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_opensslOldVersionsRefused(oneReactor: Any, pki: PKI, version: str) -> None:
    # TLS-4: clients offering only TLS 1.0/1.1 are refused.
    openssl = requireCommand("openssl")
    reactor = oneReactor
    port = reactor.listenSSL(
        0, Factory.forProtocol(Replier), pki.server.options(), interface="127.0.0.1"
    )
    result = runInThread(
        reactor,
        subprocess.run,
        [
            openssl,
            "s_client",
            "-connect",
            f"127.0.0.1:{port.getHost().port}",
            "-CAfile",
            pki.caFile,
            version,
            "-cipher",
            "DEFAULT:@SECLEVEL=0",
            "-quiet",
        ],
        input=b"hello\n",
        capture_output=True,
        timeout=30,
    )
    assert result.returncode != 0
    assert b"you said" not in result.stdout
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


class HTTPResponder(Protocol):
    def dataReceived(self, data: bytes) -> None:
        if b"\r\n\r\n" in data:
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\n"
                b"hello, curl!\n"
            )
            self.transport.loseConnection()


@pytest.mark.parametrize("tlsMax", ["1.2", "1.3"])
def test_curlAgainstTorsionServer(oneReactor: Any, pki: PKI, tlsMax: str) -> None:
    curl = requireCommand("curl")
    reactor = oneReactor
    port = reactor.listenSSL(
        0,
        Factory.forProtocol(HTTPResponder),
        pki.server.options(),
        interface="127.0.0.1",
    )
    result = runInThread(
        reactor,
        subprocess.run,
        [
            curl,
            "-sS",
            "--cacert",
            pki.caFile,
            "--tls-max",
            tlsMax,
            f"https://127.0.0.1:{port.getHost().port}/",
        ],
        capture_output=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == b"hello, curl!\n"
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


@contextmanager
def opensslServer(pki: PKI, which: str) -> Iterator[int]:
    openssl = requireCommand("openssl")
    certFile, keyFile = pki.files[which]
    port = freePort()
    proc = subprocess.Popen(
        [
            openssl,
            "s_server",
            "-accept",
            f"127.0.0.1:{port}",
            "-cert",
            certFile,
            "-key",
            keyFile,
            "-www",
            "-naccept",
            "1",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        # s_server prints ACCEPT once it listens.
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline() if ready else b""
        while line and b"ACCEPT" not in line:
            line = proc.stdout.readline()
        assert b"ACCEPT" in line, "openssl s_server did not start"
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stdout is not None:
            proc.stdout.close()


def test_torsionClientAgainstOpensslServer(oneReactor: Any, pki: PKI) -> None:
    reactor = oneReactor
    with opensslServer(pki, "server") as port:
        client = Collector(b"GET / HTTP/1.0\r\n\r\n")
        reactor.connectSSL(
            "127.0.0.1", port, clientFactory(client), pki.clientOptions("localhost")
        )
        data, _reason = runUntil(reactor, client.done, timeout=30)
    assert data.startswith(b"HTTP/1.0 200 ok"), data[:200]
    assert b"Ciphers supported" in data


@pytest.mark.parametrize(
    ("which", "hostname", "message"),
    [
        ("server", "wrong.example", "not valid for 'wrong.example'"),
        ("selfSigned", "localhost", "self-signed certificate"),
        ("expired", "localhost", "certificate has expired"),
    ],
)
def test_torsionClientRefuses(
    oneReactor: Any, pki: PKI, which: str, hostname: str, message: str
) -> None:
    # TLS-1: each failure is a VerificationError that says why.
    reactor = oneReactor
    with opensslServer(pki, which) as port:
        client = Collector(b"GET / HTTP/1.0\r\n\r\n")
        reactor.connectSSL(
            "127.0.0.1", port, clientFactory(client), pki.clientOptions(hostname)
        )
        data, reason = runUntil(reactor, client.done, timeout=30)
    assert data == b""
    assert reason.check(ssl.VerificationError)
    assert message in reason.getErrorMessage()


def test_pemFilesUsableByOpenssl(pki: PKI) -> None:
    openssl = requireCommand("openssl")
    certFile, _ = pki.files["server"]
    result = subprocess.run(
        [openssl, "verify", "-CAfile", pki.caFile, certFile],
        capture_output=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert os.path.getsize(pki.caFile) > 0
