"""
Tests for torsion.internet.ssl's certificate and option handling.

The handshakes here are real TLS handshakes between two OpenSSL connections
whose bytes are moved in memory, so they exercise exactly the contexts and
verification a network connection would use, without the reactor.
"""

from __future__ import annotations

import datetime
from typing import Any

import pytest

ssl = pytest.importorskip("torsion.internet.ssl", reason="needs torsion-core[tls]")

from OpenSSL import SSL  # noqa: E402
from zope.interface.verify import verifyObject  # noqa: E402

from torsion.internet.interfaces import (  # noqa: E402
    IOpenSSLClientConnectionCreator,
    IOpenSSLServerConnectionCreator,
)


class FakeTLSProtocol:
    """Stands where the TLS protocol would: the connection's app data."""


def pump(client: SSL.Connection, server: SSL.Connection) -> None:
    """
    Run a handshake to completion, moving bytes between the two sides.
    Raises the SSL.Error of whichever side failed first.
    """
    client.set_connect_state()
    server.set_accept_state()
    finished: set[int] = set()
    for _ in range(100):
        for conn in (client, server):
            if id(conn) in finished:
                continue
            try:
                conn.do_handshake()
                finished.add(id(conn))
            except SSL.WantReadError:
                pass
        moved = False
        for src, dst in ((client, server), (server, client)):
            try:
                data = src.bio_read(65536)
            except SSL.WantReadError:
                data = b""
            if data:
                dst.bio_write(data)
                moved = True
        if len(finished) == 2 and not moved:
            # TLS 1.3: make sure post-handshake messages are consumed.
            for conn in (client, server):
                try:
                    conn.recv(1)
                except (SSL.WantReadError, SSL.ZeroReturnError):
                    pass
            return
    raise AssertionError("handshake did not finish")


@pytest.fixture(scope="module")
def pki() -> dict[str, Any]:
    ca = ssl.KeyPair.generate("ec").selfSignedCert(1, isCA=True, commonName="Test CA")
    server = ca.issue("server.example", hostnames=["server.example", "127.0.0.1"])
    other = ca.issue("other.example", hostnames=["other.example"])
    client = ca.issue("client-user")
    past = datetime.datetime.now(datetime.UTC) - datetime.timedelta(days=30)
    expired = ca.issue(
        "server.example",
        hostnames=["server.example"],
        notBefore=past,
        secondsToExpiry=24 * 3600,
    )
    selfSigned = ssl.generateSelfSigned(["server.example"])
    return {
        "ca": ca,
        "server": server,
        "other": other,
        "client": client,
        "expired": expired,
        "selfSigned": selfSigned,
    }


def peerCN(conn: SSL.Connection) -> str:
    cert = conn.get_peer_certificate(as_cryptography=True)
    assert cert is not None
    return ssl.Certificate(cert).getSubject().CN  # type: ignore[no-any-return]


def connect(
    clientOptions: Any, serverOptions: Any
) -> tuple[SSL.Connection, SSL.Connection]:
    c = clientOptions.clientConnectionForTLS(FakeTLSProtocol())
    s = serverOptions.serverConnectionForTLS(FakeTLSProtocol())
    pump(c, s)
    return c, s


def trust(pki: dict[str, Any]) -> Any:
    return ssl.trustRootFromCertificates([pki["ca"]])


class TestCertificates:
    def test_pemRoundTrip(self, pki: dict[str, Any]) -> None:
        server = pki["server"]
        again = ssl.PrivateCertificate.loadPEM(server.dumpPEM())
        assert again == server
        assert again.privateKey.matches(server.getPublicKey())
        plain = ssl.Certificate.loadPEM(server.dumpPEM().decode())
        assert plain.getSubject().commonName == "server.example"
        assert plain.getIssuer().CN == "Test CA"
        assert plain.hostnames() == ["server.example", "127.0.0.1"]
        assert ssl.Certificate.load(plain.dump()) == plain
        assert plain.digest().count(b":") == 31

    def test_keyMismatchRefused(self, pki: dict[str, Any]) -> None:
        with pytest.raises(ssl.VerificationError):
            ssl.PrivateCertificate.fromCertificateAndKeyPair(
                pki["server"], pki["other"].privateKey
            )

    def test_keyPairs(self) -> None:
        for kind in ["rsa", "ec", "ed25519"]:
            k = ssl.KeyPair.generate(kind)
            again = ssl.KeyPair.loadPEM(k.dumpPEM())
            assert again.matches(k)
            assert ssl.KeyPair.load(k.dump()).keyHash() == k.keyHash()
        with pytest.raises(ValueError):
            ssl.KeyPair.generate("rsa", 1024)

    def test_certificateRequest(self, pki: dict[str, Any]) -> None:
        key = ssl.KeyPair.generate("ec")
        req = key.certificateRequest(ssl.DN(commonName="req.example", O="torsion"))
        loaded = ssl.CertificateRequest.load(req.dump())
        assert loaded.getSubject() == {
            "commonName": "req.example",
            "organizationName": "torsion",
        }
        cert = pki["ca"].privateKey.signRequestObject(
            pki["ca"].getSubject(), loaded, 77
        )
        assert cert.serialNumber() == 77
        assert cert.getPublicKey().matches(key)
        assert key.newCertificate(cert.dump()).privateKey is key

    def test_distinguishedName(self) -> None:
        dn = ssl.DistinguishedName(CN=b"x", countryName="DE")
        assert dn.commonName == "x" and dn.C == "DE"
        assert "commonName: x" in dn.inspect()
        with pytest.raises(AttributeError):
            ssl.DistinguishedName(bogus="1")

    def test_interfaces(self, pki: dict[str, Any]) -> None:
        opts = pki["server"].options()
        assert verifyObject(IOpenSSLServerConnectionCreator, opts)
        assert verifyObject(
            IOpenSSLClientConnectionCreator, ssl.optionsForClientTLS("x")
        )


class TestClientVerification:
    def test_verifiedConnection(self, pki: dict[str, Any]) -> None:
        c, s = connect(
            ssl.optionsForClientTLS("server.example", trust(pki)),
            pki["server"].options(),
        )
        assert c.get_protocol_version_name() == "TLSv1.3"
        c.send(b"hello")
        s.bio_write(c.bio_read(65536))
        assert s.recv(5) == b"hello"

    def test_ipAddressVerified(self, pki: dict[str, Any]) -> None:
        connect(
            ssl.optionsForClientTLS("127.0.0.1", trust(pki)), pki["server"].options()
        )

    def test_wrongHostname(self, pki: dict[str, Any]) -> None:
        c = ssl.optionsForClientTLS("evil.example", trust(pki)).clientConnectionForTLS(
            None
        )
        s = pki["server"].options().serverConnectionForTLS(None)
        with pytest.raises(SSL.Error):
            pump(c, s)
        assert "not valid for 'evil.example'" in str(c.verificationError)
        assert "server.example" in str(c.verificationError)

    def test_untrustedSelfSigned(self, pki: dict[str, Any]) -> None:
        c = ssl.optionsForClientTLS(
            "server.example", trust(pki)
        ).clientConnectionForTLS(None)
        s = pki["selfSigned"].options().serverConnectionForTLS(None)
        with pytest.raises(SSL.Error):
            pump(c, s)
        assert "self-signed certificate" in str(c.verificationError)

    def test_expired(self, pki: dict[str, Any]) -> None:
        c = ssl.optionsForClientTLS(
            "server.example", trust(pki)
        ).clientConnectionForTLS(None)
        s = pki["expired"].options().serverConnectionForTLS(None)
        with pytest.raises(SSL.Error):
            pump(c, s)
        assert "expired" in str(c.verificationError)

    def test_platformTrustRefusesPrivateCA(self, pki: dict[str, Any]) -> None:
        c = ssl.optionsForClientTLS("server.example").clientConnectionForTLS(None)
        s = pki["server"].options().serverConnectionForTLS(None)
        with pytest.raises(SSL.Error):
            pump(c, s)
        assert c.verificationError is not None

    def test_bytesHostnameRefused(self) -> None:
        with pytest.raises(TypeError, match="as text"):
            ssl.optionsForClientTLS(b"example.com")


class TestServerOptions:
    def test_minimumVersionTLS12(self, pki: dict[str, Any]) -> None:
        client = ssl.CertificateOptions(
            trustRoot=trust(pki),
            insecurelyLowerMinimumTo=ssl.TLSVersion.TLSv1_0,
            lowerMaximumSecurityTo=ssl.TLSVersion.TLSv1_1,
        )
        c = client.clientConnectionForTLS(None)
        s = pki["server"].options().serverConnectionForTLS(None)
        with pytest.raises(SSL.Error):
            pump(c, s)

    def test_tls12Works(self, pki: dict[str, Any]) -> None:
        client = ssl.optionsForClientTLS(
            "server.example",
            trust(pki),
            extraCertificateOptions={"lowerMaximumSecurityTo": ssl.TLSVersion.TLSv1_2},
        )
        c, _ = connect(client, pki["server"].options())
        assert c.get_protocol_version_name() == "TLSv1.2"

    def test_versionRangeChecked(self) -> None:
        with pytest.raises(ValueError):
            ssl.CertificateOptions(lowerMaximumSecurityTo=ssl.TLSVersion.TLSv1_1)
        with pytest.raises(TypeError):
            ssl.CertificateOptions(
                raiseMinimumTo=ssl.TLSVersion.TLSv1_3,
                insecurelyLowerMinimumTo=ssl.TLSVersion.TLSv1_0,
            )

    def test_clientCertificateRequired(self, pki: dict[str, Any]) -> None:
        serverOpts = pki["server"].options(pki["ca"])
        withCert = ssl.optionsForClientTLS(
            "server.example", trust(pki), clientCertificate=pki["client"]
        )
        _, s = connect(withCert, serverOpts)
        assert peerCN(s) == "client-user"
        without = ssl.optionsForClientTLS("server.example", trust(pki))
        c2 = without.clientConnectionForTLS(None)
        s2 = serverOpts.serverConnectionForTLS(None)
        with pytest.raises(SSL.Error):
            pump(c2, s2)
            s2.recv(1)

    def test_sni(self, pki: dict[str, Any]) -> None:
        serverOpts = ssl.CertificateOptions(
            privateKey=pki["server"].privateKey,
            certificate=pki["server"],
            sniCertificates={"other.example": pki["other"]},
        )
        c, _ = connect(ssl.optionsForClientTLS("other.example", trust(pki)), serverOpts)
        assert peerCN(c) == "other.example"
        c, _ = connect(
            ssl.optionsForClientTLS("server.example", trust(pki)), serverOpts
        )
        assert peerCN(c) == "server.example"

    def test_sniWildcard(self, pki: dict[str, Any]) -> None:
        wild = pki["ca"].issue("*.wild.example", hostnames=["*.wild.example"])
        serverOpts = ssl.CertificateOptions(sniCertificates={"*.wild.example": wild})
        c, _ = connect(
            ssl.optionsForClientTLS("a.wild.example", trust(pki)), serverOpts
        )
        assert peerCN(c) == "*.wild.example"

    def test_alpn(self, pki: dict[str, Any]) -> None:
        serverOpts = ssl.CertificateOptions(
            privateKey=pki["server"].privateKey,
            certificate=pki["server"],
            acceptableProtocols=[b"h2", b"http/1.1"],
        )
        c, _ = connect(
            ssl.optionsForClientTLS(
                "server.example", trust(pki), acceptableProtocols=[b"http/1.1", b"h2"]
            ),
            serverOpts,
        )
        assert c.get_alpn_proto_negotiated() == b"h2"

    def test_alpnNoOverlapIsFatal(self, pki: dict[str, Any]) -> None:
        # TLS-10: strict, never a silent fallback to another protocol.
        serverOpts = ssl.CertificateOptions(
            privateKey=pki["server"].privateKey,
            certificate=pki["server"],
            acceptableProtocols=[b"http/1.1"],
        )
        c = ssl.optionsForClientTLS(
            "server.example", trust(pki), acceptableProtocols=[b"h2"]
        ).clientConnectionForTLS(None)
        s = serverOpts.serverConnectionForTLS(None)
        with pytest.raises(SSL.Error):
            pump(c, s)

    def test_renegotiationRefused(self, pki: dict[str, Any]) -> None:
        # TLS-3: a TLS 1.2 client that asks to renegotiate is refused.  The
        # client here is plain OpenSSL, without torsion's own refusal.
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_max_proto_version(SSL.TLS1_2_VERSION)
        c = SSL.Connection(ctx, None)
        s = pki["server"].options().serverConnectionForTLS(None)
        pump(c, s)
        c.renegotiate()
        try:
            c.do_handshake()
        except SSL.WantReadError:
            pass
        s.bio_write(c.bio_read(65536))
        with pytest.raises(SSL.Error):
            s.recv(100)
        assert s.total_renegotiations() == 0

    def test_privateKeyWithoutCertificate(self, pki: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            ssl.CertificateOptions(privateKey=pki["server"].privateKey)

    def test_defaultOpenSSLContextFactory(
        self, pki: dict[str, Any], tmp_path: Any
    ) -> None:
        keyFile = tmp_path / "key.pem"
        certFile = tmp_path / "cert.pem"
        keyFile.write_bytes(pki["server"].privateKey.dumpPEM())
        certFile.write_bytes(
            pki["server"].dump(ssl.FILETYPE_PEM) + pki["ca"].dump(ssl.FILETYPE_PEM)
        )
        factory = ssl.DefaultOpenSSLContextFactory(str(keyFile), str(certFile))
        s = SSL.Connection(factory.getContext(), None)
        c = ssl.optionsForClientTLS(
            "server.example", trust(pki)
        ).clientConnectionForTLS(None)
        pump(c, s)
        assert len(c.get_peer_cert_chain()) == 2


def test_missingExtraNamesThePipLine() -> None:
    """
    Without pyOpenSSL, importing torsion.internet.ssl says how to get it.
    """
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['OpenSSL'] = None\n"
        "try:\n"
        "    import torsion.internet.ssl\n"
        "except ImportError as e:\n"
        "    print(e)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert "python3 -m pip install 'torsion-core[tls]'" in out
