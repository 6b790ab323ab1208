"""
TLS endpoints: ``ssl:``/``tls:`` descriptions, ``SSL4ServerEndpoint``,
``SSL4ClientEndpoint`` and ``wrapClientTLS`` over TCP and Unix sockets.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

ssl = pytest.importorskip("torsion.internet.ssl", reason="needs torsion-core[tls]")

from reactormixins import runUntil  # noqa: E402

from torsion.internet import defer, endpoints  # noqa: E402
from torsion.internet.protocol import Factory, Protocol  # noqa: E402
from torsion.python.failure import Failure  # noqa: E402


class Echo(Protocol):
    def dataReceived(self, data: bytes) -> None:
        self.transport.write(data)


class Client(Protocol):
    def __init__(self) -> None:
        self.received = b""
        self.done: defer.Deferred[list[Any]] = defer.Deferred()

    def connectionMade(self) -> None:
        self.transport.write(b"hello endpoints")

    def dataReceived(self, data: bytes) -> None:
        self.received += data
        if len(self.received) >= 15:
            self.peer = self.transport.getPeerCertificate()
            self.transport.loseConnection()

    def connectionLost(self, reason: Failure) -> None:  # type: ignore[override]
        self.done.callback([reason])


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    d: Path = tmp_path_factory.mktemp("tlsfiles")
    ca = ssl.KeyPair.generate("ec").selfSignedCert(1, isCA=True, commonName="CA")
    server = ca.issue("localhost", hostnames=["localhost", "127.0.0.1", "::1"])
    client = ca.issue("client")
    out = {}
    for name, data in {
        "ca": ca.dump(ssl.FILETYPE_PEM),
        "cert": server.dump(ssl.FILETYPE_PEM),
        "key": server.privateKey.dumpPEM(),
        "both": server.dumpPEM(),
        "clientboth": client.dumpPEM(),
    }.items():
        (d / f"{name}.pem").write_bytes(data)
        out[name] = str(d / f"{name}.pem")
    return out


def q(path: str) -> str:
    return endpoints.quoteStringArgument(path)


def exchange(reactor: Any, serverDesc: str, clientDesc: str) -> tuple[bytes, Any]:
    port = runUntil(
        reactor,
        endpoints.serverFromString(reactor, serverDesc).listen(
            Factory.forProtocol(Echo)
        ),
    )
    client = Client()
    desc = clientDesc.format(port=port.getHost().port)
    runUntil(
        reactor,
        endpoints.clientFromString(reactor, desc).connect(
            Factory.forProtocol(lambda: client)
        ),
    )
    [_reason] = runUntil(reactor, client.done)
    runUntil(reactor, defer.maybeDeferred(port.stopListening))
    return client.received, client


def test_sslServerTLSClientStrings(reactor: Any, files: dict[str, str]) -> None:
    received, client = exchange(
        reactor,
        f"ssl:0:privateKey={q(files['key'])}:certKey={q(files['cert'])}:interface=127.0.0.1",
        "tls:127.0.0.1:{port}:trustRoots=" + q(files["ca"]),
    )
    assert received == b"hello endpoints"
    assert client.peer.getSubject().commonName == "localhost"


def test_combinedPEMAndHostname(reactor: Any, files: dict[str, str]) -> None:
    received, _ = exchange(
        reactor,
        f"ssl:0:privateKey={q(files['both'])}:interface=127.0.0.1",
        "tls:localhost:{port}:trustRoots=" + q(files["ca"]),
    )
    assert received == b"hello endpoints"


def test_clientCertificates(reactor: Any, files: dict[str, str]) -> None:
    received, _ = exchange(
        reactor,
        f"ssl:0:privateKey={q(files['both'])}:caCertsDir={q(files['ca'])}:interface=127.0.0.1",
        "tls:127.0.0.1:{port}:trustRoots="
        + q(files["ca"])
        + ":certificate="
        + q(files["clientboth"]),
    )
    assert received == b"hello endpoints"


def test_tlsClientVerifiesByDefault(reactor: Any, files: dict[str, str]) -> None:
    # No trustRoots: the system's authorities, which do not know our CA.
    port = runUntil(
        reactor,
        endpoints.serverFromString(
            reactor, f"ssl:0:privateKey={q(files['both'])}:interface=127.0.0.1"
        ).listen(Factory.forProtocol(Echo)),
    )
    client = Client()
    endpoint = endpoints.clientFromString(
        reactor, f"tls:127.0.0.1:{port.getHost().port}"
    )
    runUntil(reactor, endpoint.connect(Factory.forProtocol(lambda: client)))
    [reason] = runUntil(reactor, client.done)
    assert reason.check(ssl.VerificationError)
    assert client.received == b""
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


def test_wrapClientTLSOverUnixSocket(
    reactor: Any, files: dict[str, str], tmp_path: Path
) -> None:
    from torsion.protocols.tls import TLSMemoryBIOFactory

    path = str(tmp_path / "tls.sock")
    certificate = ssl.PrivateCertificate.loadPEM(Path(files["both"]).read_bytes())
    port = reactor.listenUNIX(
        path,
        TLSMemoryBIOFactory(
            certificate.options(), False, Factory.forProtocol(Echo), clock=reactor
        ),
    )
    client = Client()
    ca = ssl.Certificate.loadPEM(Path(files["ca"]).read_bytes())
    endpoint = endpoints.wrapClientTLS(
        ssl.optionsForClientTLS("localhost", ssl.trustRootFromCertificates([ca])),
        endpoints.UNIXClientEndpoint(reactor, path),
    )
    proto = runUntil(reactor, endpoint.connect(Factory.forProtocol(lambda: client)))
    assert proto is client
    runUntil(reactor, client.done)
    assert client.received == b"hello endpoints"
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


def test_ssl4Endpoints(reactor: Any, files: dict[str, str]) -> None:
    certificate = ssl.PrivateCertificate.loadPEM(Path(files["both"]).read_bytes())
    ca = ssl.Certificate.loadPEM(Path(files["ca"]).read_bytes())
    server = endpoints.SSL4ServerEndpoint(
        reactor, 0, certificate.options(), interface="127.0.0.1"
    )
    port = runUntil(reactor, server.listen(Factory.forProtocol(Echo)))
    client = Client()
    endpoint = endpoints.SSL4ClientEndpoint(
        reactor,
        "127.0.0.1",
        port.getHost().port,
        ssl.optionsForClientTLS("127.0.0.1", ssl.trustRootFromCertificates([ca])),
    )
    runUntil(reactor, endpoint.connect(Factory.forProtocol(lambda: client)))
    runUntil(reactor, client.done)
    assert client.received == b"hello endpoints"
    runUntil(reactor, defer.maybeDeferred(port.stopListening))


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("ssl:443", "privateKey"),
        ("ssl:privateKey=/nonexistent.pem", "needs a port"),
        ("ssl:443:privateKey=/nonexistent.pem", "cannot read private key"),
        ("ssl:x:privateKey={key}:certKey={cert}", "port must be an integer"),
        ("ssl:443:privateKey={key}:certKey={cert}:bogus=1", "unknown arguments"),
    ],
)
def test_badServerDescriptions(
    files: dict[str, str], description: str, message: str
) -> None:
    from torsion.internet.testing import MemoryReactor

    desc = description.format(key=q(files["key"]), cert=q(files["cert"]))
    with pytest.raises(ValueError, match=message):
        endpoints.serverFromString(MemoryReactor(), desc)


@pytest.mark.parametrize(
    ("description", "message"),
    [
        ("tls:example.com", "host and a port"),
        ("tls:example.com:443:trustRoots=/nonexistent", "cannot read certificate"),
        ("tls:example.com:443:frobnicate=1", "unknown arguments"),
    ],
)
def test_badClientDescriptions(description: str, message: str) -> None:
    from torsion.internet.testing import MemoryReactor

    with pytest.raises(ValueError, match=message):
        endpoints.clientFromString(MemoryReactor(), description)
