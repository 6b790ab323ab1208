"""
TLS configuration on pyOpenSSL: keys, certificates, trust roots, and the
context factories that turn them into OpenSSL contexts and connections.

Public names are re-exported by ``torsion.internet.ssl``; import them from
there.
"""

from __future__ import annotations

import datetime
import enum
import ipaddress
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from OpenSSL import SSL, crypto
from zope.interface import Interface, implementer

from torsion.internet.interfaces import (
    IOpenSSLClientConnectionCreator,
    IOpenSSLServerConnectionCreator,
)

__all__ = [
    "DN",
    "Certificate",
    "CertificateOptions",
    "CertificateRequest",
    "ClientTLSOptions",
    "DiffieHellmanParameters",
    "DistinguishedName",
    "IOpenSSLTrustRoot",
    "KeyPair",
    "PrivateCertificate",
    "PublicKey",
    "TLSVersion",
    "VerificationError",
    "optionsForClientTLS",
    "platformTrust",
    "trustRootFromCertificates",
]

FILETYPE_PEM = crypto.FILETYPE_PEM
FILETYPE_ASN1 = crypto.FILETYPE_ASN1

# Forward secrecy and AEAD only, for TLS 1.2; TLS 1.3 suites are OpenSSL's
# defaults, which are all modern.
DEFAULT_CIPHERS = (
    "ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:"
    "!aNULL:!eNULL:!MD5:!DSS:!RC4:!3DES:!SHA1"
)

CHAIN_VERIFY_DEPTH = 9
"""How many intermediate certificates a verified chain may hold."""


class VerificationError(Exception):
    """
    The peer's certificate could not be verified: an untrusted or expired
    chain, or a certificate issued for another host name.
    """


class TLSVersion(enum.Enum):
    """
    TLS protocol versions, for ``CertificateOptions``'s minimum and maximum.
    """

    SSLv3 = "SSLv3"
    TLSv1_0 = "TLSv1.0"
    TLSv1_1 = "TLSv1.1"
    TLSv1_2 = "TLSv1.2"
    TLSv1_3 = "TLSv1.3"


_OPENSSL_VERSIONS = {
    TLSVersion.SSLv3: SSL.SSL3_VERSION,
    TLSVersion.TLSv1_0: SSL.TLS1_VERSION,
    TLSVersion.TLSv1_1: SSL.TLS1_1_VERSION,
    TLSVersion.TLSv1_2: SSL.TLS1_2_VERSION,
    TLSVersion.TLSv1_3: SSL.TLS1_3_VERSION,
}

_VERSION_ORDER = list(TLSVersion)


_DN_ATTRIBUTES: dict[str, x509.ObjectIdentifier] = {
    "commonName": NameOID.COMMON_NAME,
    "organizationName": NameOID.ORGANIZATION_NAME,
    "organizationalUnitName": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "localityName": NameOID.LOCALITY_NAME,
    "stateOrProvinceName": NameOID.STATE_OR_PROVINCE_NAME,
    "countryName": NameOID.COUNTRY_NAME,
    "emailAddress": NameOID.EMAIL_ADDRESS,
}
_DN_SHORT = {
    "CN": "commonName",
    "O": "organizationName",
    "OU": "organizationalUnitName",
    "L": "localityName",
    "ST": "stateOrProvinceName",
    "C": "countryName",
}


class DistinguishedName(dict[str, str]):
    """
    The name of a certificate's subject or issuer: ``commonName``,
    ``organizationName``, ``organizationalUnitName``, ``localityName``,
    ``stateOrProvinceName``, ``countryName`` and ``emailAddress``, also
    reachable as attributes and by the short names ``CN``, ``O``, ``OU``,
    ``L``, ``ST`` and ``C``.

    Values are text; bytes given are decoded as UTF-8.
    """

    def __init__(self, **kw: str | bytes) -> None:
        super().__init__()
        for k, v in kw.items():
            self[k] = v

    @staticmethod
    def _key(name: str) -> str:
        name = _DN_SHORT.get(name, name)
        if name not in _DN_ATTRIBUTES:
            raise AttributeError(f"{name!r} is not a distinguished name attribute")
        return name

    def __setitem__(self, name: str, value: str | bytes) -> None:
        if isinstance(value, bytes):
            value = value.decode("utf-8")
        super().__setitem__(self._key(name), value)

    def __getattr__(self, name: str) -> str | None:
        try:
            return self.get(self._key(name))
        except AttributeError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: str | bytes) -> None:
        self[name] = value

    def toX509Name(self) -> x509.Name:
        """
        :return: this name as a ``cryptography`` ``x509.Name``.
        """
        return x509.Name(
            [x509.NameAttribute(_DN_ATTRIBUTES[k], v) for k, v in self.items()]
        )

    @classmethod
    def fromX509Name(cls, name: x509.Name) -> DistinguishedName:
        """
        :param name: a ``cryptography`` ``x509.Name``.
        :return: the attributes of it this class knows.
        """
        byOid = {oid: attr for attr, oid in _DN_ATTRIBUTES.items()}
        dn = cls()
        for attribute in name:
            key = byOid.get(attribute.oid)
            if key is not None:
                value = attribute.value
                dn[key] = value if isinstance(value, str) else value.decode("utf-8")
        return dn

    def inspect(self) -> str:
        """
        :return: the name's attributes, one a line, for display.
        """
        return "\n".join(f"{k}: {v}" for k, v in sorted(self.items()))


DN = DistinguishedName


def _loadCertificate(data: bytes, format: int = FILETYPE_PEM) -> x509.Certificate:
    if format == FILETYPE_PEM:
        return x509.load_pem_x509_certificate(data)
    return x509.load_der_x509_certificate(data)


def _dumpCertificate(cert: x509.Certificate, format: int = FILETYPE_PEM) -> bytes:
    encoding = (
        serialization.Encoding.PEM
        if format == FILETYPE_PEM
        else serialization.Encoding.DER
    )
    return cert.public_bytes(encoding)


class PublicKey:
    """
    A public key (RSA, EC or Ed25519).

    :param original: a ``cryptography`` public key.
    """

    def __init__(self, original: Any) -> None:
        self.original = original

    def _der(self) -> bytes:
        return self.original.public_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )

    def matches(self, otherKey: PublicKey) -> bool:
        """
        :param otherKey: another public key.
        :return: whether the two are the same key.
        """
        return self._der() == otherKey._der()

    def keyHash(self) -> str:
        """
        :return: a hex SHA-256 fingerprint of the key.
        """
        digest = hashes.Hash(hashes.SHA256())
        digest.update(self._der())
        return digest.finalize().hex()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.keyHash()[:16]}>"


class Certificate:
    """
    An X.509 certificate.

    :param original: a ``cryptography`` ``x509.Certificate``.
    """

    def __init__(self, original: x509.Certificate) -> None:
        self.original = original

    @classmethod
    def load(cls, requestData: bytes, format: int = FILETYPE_ASN1) -> Certificate:
        """
        :param requestData: the certificate, DER (the default) or PEM encoded.
        :param format: ``FILETYPE_ASN1`` or ``FILETYPE_PEM``.
        :return: the certificate.
        """
        return cls(_loadCertificate(requestData, format))

    @classmethod
    def loadPEM(cls, data: bytes | str) -> Certificate:
        """
        :param data: a PEM-encoded certificate.
        :return: the certificate.
        """
        if isinstance(data, str):
            data = data.encode("ascii")
        return cls.load(data, FILETYPE_PEM)

    @classmethod
    def peerFromTransport(cls, transport: Any) -> Certificate:
        """
        :param transport: a connected TLS transport.
        :return: the certificate its peer presented.
        :raises VerificationError: when the peer presented none.
        """
        cert = transport.getPeerCertificate()
        if cert is None:
            raise VerificationError("The peer presented no certificate")
        if isinstance(cert, Certificate):
            return cls(cert.original)
        return cls(cert.to_cryptography() if hasattr(cert, "to_cryptography") else cert)

    def dump(self, format: int = FILETYPE_ASN1) -> bytes:
        """
        :param format: ``FILETYPE_PEM`` or ``FILETYPE_ASN1`` (the default).
        :return: the encoded certificate.
        """
        return _dumpCertificate(self.original, format)

    def dumpPEM(self) -> bytes:
        """
        :return: the PEM-encoded certificate.
        """
        return self.dump(FILETYPE_PEM)

    def getSubject(self) -> DistinguishedName:
        """
        :return: the name the certificate was issued to.
        """
        return DistinguishedName.fromX509Name(self.original.subject)

    def getIssuer(self) -> DistinguishedName:
        """
        :return: the name of the certificate's issuer.
        """
        return DistinguishedName.fromX509Name(self.original.issuer)

    def serialNumber(self) -> int:
        """
        :return: the certificate's serial number.
        """
        return self.original.serial_number

    def digest(self, method: str = "sha256") -> bytes:
        """
        :param method: a hash name: ``sha256``, ``sha384``, ``sha512`` or ``sha1``.
        :return: the fingerprint of the certificate, colon-separated hex.
        """
        algorithms = {
            "sha256": hashes.SHA256(),
            "sha384": hashes.SHA384(),
            "sha512": hashes.SHA512(),
            "sha1": hashes.SHA1(),
        }
        raw = self.original.fingerprint(algorithms[method])
        return ":".join(f"{b:02X}" for b in raw).encode("ascii")

    def getPublicKey(self) -> PublicKey:
        """
        :return: the certificate's public key.
        """
        return PublicKey(self.original.public_key())

    def hostnames(self) -> list[str]:
        """
        :return: the DNS names and IP addresses in the certificate's
            subjectAltName extension.
        """
        try:
            ext = self.original.extensions.get_extension_for_class(
                x509.SubjectAlternativeName
            )
        except x509.ExtensionNotFound:
            return []
        names: list[str] = list(ext.value.get_values_for_type(x509.DNSName))
        names.extend(str(ip) for ip in ext.value.get_values_for_type(x509.IPAddress))
        return names

    def options(self, *authorities: Certificate) -> CertificateOptions:
        """
        Client options that trust this certificate (and ``authorities``) as
        roots.

        :return: ``CertificateOptions`` with that trust root.
        """
        return CertificateOptions(
            trustRoot=trustRootFromCertificates([self, *authorities])
        )

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Certificate):
            return self.dump() == other.dump()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.dump())

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} Subject={self.getSubject().get('commonName')} "
            f"Issuer={self.getIssuer().get('commonName')}>"
        )


class CertificateRequest:
    """
    A certificate signing request.

    :param original: a ``cryptography`` ``x509.CertificateSigningRequest``.
    """

    def __init__(self, original: x509.CertificateSigningRequest) -> None:
        self.original = original

    @classmethod
    def load(
        cls, requestData: bytes, requestFormat: int = FILETYPE_ASN1
    ) -> CertificateRequest:
        """
        :param requestData: the encoded request.
        :param requestFormat: ``FILETYPE_PEM`` or ``FILETYPE_ASN1``.
        :return: the request.
        :raises VerificationError: when its signature is invalid.
        """
        if requestFormat == FILETYPE_PEM:
            req = x509.load_pem_x509_csr(requestData)
        else:
            req = x509.load_der_x509_csr(requestData)
        if not req.is_signature_valid:
            raise VerificationError("The certificate request's signature is invalid")
        return cls(req)

    def dump(self, format: int = FILETYPE_ASN1) -> bytes:
        """
        :param format: ``FILETYPE_PEM`` or ``FILETYPE_ASN1``.
        :return: the encoded request.
        """
        encoding = (
            serialization.Encoding.PEM
            if format == FILETYPE_PEM
            else serialization.Encoding.DER
        )
        return self.original.public_bytes(encoding)

    def getSubject(self) -> DistinguishedName:
        """
        :return: the name the request asks a certificate for.
        """
        return DistinguishedName.fromX509Name(self.original.subject)


def _subjectAltNames(hostnames: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for name in hostnames:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            names.append(x509.DNSName(name))
    return names


class KeyPair(PublicKey):
    """
    A private key and its public half.

    :param original: a ``cryptography`` private key.
    """

    @classmethod
    def generate(cls, kind: str = "rsa", size: int = 2048) -> KeyPair:
        """
        Make a new key.

        :param kind: ``"rsa"``, ``"ec"`` (P-256) or ``"ed25519"``.
        :param size: the RSA modulus size in bits.
        :return: the new key pair.
        """
        if kind == "rsa":
            if size < 2048:
                raise ValueError("RSA keys shorter than 2048 bits are not safe")
            return cls(rsa.generate_private_key(public_exponent=65537, key_size=size))
        if kind == "ec":
            return cls(ec.generate_private_key(ec.SECP256R1()))
        if kind == "ed25519":
            return cls(ed25519.Ed25519PrivateKey.generate())
        raise ValueError(f"Unknown key kind {kind!r}")

    @classmethod
    def load(cls, data: bytes, format: int = FILETYPE_ASN1) -> KeyPair:
        """
        :param data: the encoded private key.
        :param format: ``FILETYPE_PEM`` or ``FILETYPE_ASN1``.
        :return: the key pair.
        """
        if format == FILETYPE_PEM:
            return cls(serialization.load_pem_private_key(data, password=None))
        return cls(serialization.load_der_private_key(data, password=None))

    @classmethod
    def loadPEM(cls, data: bytes | str) -> KeyPair:
        """
        :param data: a PEM-encoded private key (unencrypted).
        :return: the key pair.
        """
        if isinstance(data, str):
            data = data.encode("ascii")
        return cls.load(data, FILETYPE_PEM)

    def _public(self) -> Any:
        return self.original.public_key()

    def _der(self) -> bytes:
        return self._public().public_bytes(  # type: ignore[no-any-return]
            serialization.Encoding.DER,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )

    def dump(self, format: int = FILETYPE_ASN1) -> bytes:
        """
        :param format: ``FILETYPE_PEM`` or ``FILETYPE_ASN1``.
        :return: the encoded private key (PKCS#8, unencrypted).
        """
        encoding = (
            serialization.Encoding.PEM
            if format == FILETYPE_PEM
            else serialization.Encoding.DER
        )
        return self.original.private_bytes(  # type: ignore[no-any-return]
            encoding,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def dumpPEM(self) -> bytes:
        """
        :return: the PEM-encoded private key.
        """
        return self.dump(FILETYPE_PEM)

    def _signatureHash(self) -> hashes.SHA256 | None:
        if isinstance(self.original, ed25519.Ed25519PrivateKey):
            return None
        return hashes.SHA256()

    def certificateRequest(
        self, distinguishedName: DistinguishedName
    ) -> CertificateRequest:
        """
        :param distinguishedName: the subject to ask a certificate for.
        :return: a signing request for this key.
        """
        req = (
            x509.CertificateSigningRequestBuilder()
            .subject_name(distinguishedName.toX509Name())
            .sign(self.original, self._signatureHash())
        )
        return CertificateRequest(req)

    def issue(
        self,
        issuer: DistinguishedName,
        subject: DistinguishedName,
        publicKey: PublicKey,
        serialNumber: int | None = None,
        hostnames: Sequence[str] = (),
        secondsToExpiry: int = 365 * 24 * 60 * 60,
        isCA: bool = False,
        notBefore: datetime.datetime | None = None,
    ) -> Certificate:
        """
        Sign a certificate for ``publicKey`` with this key.

        :param issuer: the issuer's name (this key's certificate subject).
        :param subject: the name to issue the certificate to.
        :param publicKey: the key the certificate is for.
        :param serialNumber: the serial number (random when ``None``).
        :param hostnames: DNS names and IP addresses for subjectAltName.
        :param secondsToExpiry: validity after ``notBefore``.
        :param isCA: whether the certificate may sign others.
        :param notBefore: start of validity (now, less a minute, by default).
        :return: the certificate.
        """
        if notBefore is None:
            notBefore = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
                minutes=1
            )
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject.toX509Name())
            .issuer_name(issuer.toX509Name())
            .public_key(
                publicKey._public()
                if isinstance(publicKey, KeyPair)
                else publicKey.original
            )
            .serial_number(serialNumber or secrets.randbits(63) + 1)
            .not_valid_before(notBefore)
            .not_valid_after(notBefore + datetime.timedelta(seconds=secondsToExpiry))
            .add_extension(
                x509.BasicConstraints(ca=isCA, path_length=None), critical=True
            )
        )
        if isCA:
            builder = builder.add_extension(
                x509.KeyUsage(
                    digital_signature=True,
                    content_commitment=False,
                    key_encipherment=False,
                    data_encipherment=False,
                    key_agreement=False,
                    key_cert_sign=True,
                    crl_sign=True,
                    encipher_only=False,
                    decipher_only=False,
                ),
                critical=True,
            )
        else:
            builder = builder.add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        if hostnames:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(_subjectAltNames(hostnames)), critical=False
            )
        return Certificate(builder.sign(self.original, self._signatureHash()))

    def signRequestObject(
        self,
        issuerDistinguishedName: DistinguishedName,
        requestObject: CertificateRequest,
        serialNumber: int,
        secondsToExpiry: int = 365 * 24 * 60 * 60,
        digestAlgorithm: str = "sha256",
    ) -> Certificate:
        """
        Sign a certificate request with this key.

        :param issuerDistinguishedName: this key's certificate subject.
        :param requestObject: the request.
        :param serialNumber: the new certificate's serial number.
        :param secondsToExpiry: how long the certificate is valid.
        :param digestAlgorithm: kept for compatibility; SHA-256 is used.
        :return: the certificate.
        """
        return self.issue(
            issuerDistinguishedName,
            requestObject.getSubject(),
            PublicKey(requestObject.original.public_key()),
            serialNumber=serialNumber,
            secondsToExpiry=secondsToExpiry,
        )

    def selfSignedCert(
        self,
        serialNumber: int,
        hostnames: Sequence[str] = (),
        isCA: bool = False,
        **kw: str,
    ) -> PrivateCertificate:
        """
        Make a certificate for this key, signed by itself.

        :param serialNumber: the serial number.
        :param hostnames: DNS names and IP addresses for subjectAltName.
        :param isCA: whether the certificate may sign others.
        :param kw: the subject's name, e.g. ``commonName="example.com"``.
        :return: the certificate with this key.
        """
        dn = DistinguishedName(**kw)
        cert = self.issue(dn, dn, self, serialNumber, hostnames=hostnames, isCA=isCA)
        return PrivateCertificate.fromCertificateAndKeyPair(cert, self)

    def newCertificate(
        self, newCertData: bytes, format: int = FILETYPE_ASN1
    ) -> PrivateCertificate:
        """
        :param newCertData: an encoded certificate for this key.
        :param format: its encoding.
        :return: that certificate with this key.
        """
        return PrivateCertificate.load(newCertData, self, format)


class PrivateCertificate(Certificate):
    """
    A certificate together with its private key: what a server (or a client
    authenticating with a certificate) presents.
    """

    privateKey: KeyPair

    def _setPrivateKey(self, privateKey: KeyPair) -> PrivateCertificate:
        if not privateKey.matches(self.getPublicKey()):
            raise VerificationError("The private key does not match the certificate")
        self.privateKey = privateKey
        return self

    @classmethod
    def load(  # type: ignore[override]
        cls, data: bytes, privateKey: KeyPair, format: int = FILETYPE_ASN1
    ) -> PrivateCertificate:
        """
        :param data: the encoded certificate.
        :param privateKey: its private key.
        :param format: the certificate's encoding.
        :return: the private certificate.
        """
        return cls(_loadCertificate(data, format))._setPrivateKey(privateKey)

    @classmethod
    def loadPEM(cls, data: bytes | str) -> PrivateCertificate:
        """
        :param data: PEM text holding both the certificate and its key.
        :return: the private certificate.
        """
        if isinstance(data, str):
            data = data.encode("ascii")
        return cls.load(data, KeyPair.loadPEM(data), FILETYPE_PEM)

    @classmethod
    def fromCertificateAndKeyPair(
        cls, certificateInstance: Certificate, privateKey: KeyPair
    ) -> PrivateCertificate:
        """
        :param certificateInstance: the certificate.
        :param privateKey: its private key.
        :return: the private certificate.
        """
        return cls(certificateInstance.original)._setPrivateKey(privateKey)

    def dumpPEM(self) -> bytes:
        """
        :return: the certificate then its private key, PEM-encoded.
        """
        return self.dump(FILETYPE_PEM) + self.privateKey.dumpPEM()

    def issue(
        self,
        subject: DistinguishedName | str,
        keyPair: KeyPair | None = None,
        hostnames: Sequence[str] = (),
        serialNumber: int | None = None,
        secondsToExpiry: int = 365 * 24 * 60 * 60,
        isCA: bool = False,
        notBefore: datetime.datetime | None = None,
    ) -> PrivateCertificate:
        """
        Issue a certificate signed by this (CA) certificate.

        :param subject: the new certificate's subject (a string is its
            common name).
        :param keyPair: the new certificate's key (a new EC key when None).
        :param hostnames: DNS names and IP addresses for subjectAltName.
        :param serialNumber: the serial number (random when None).
        :param secondsToExpiry: validity.
        :param isCA: whether the new certificate may sign others.
        :param notBefore: start of validity.
        :return: the new certificate with its key.
        """
        if isinstance(subject, str):
            subject = DistinguishedName(commonName=subject)
        if keyPair is None:
            keyPair = KeyPair.generate("ec")
        cert = self.privateKey.issue(
            self.getSubject(),
            subject,
            keyPair,
            serialNumber,
            hostnames=hostnames,
            secondsToExpiry=secondsToExpiry,
            isCA=isCA,
            notBefore=notBefore,
        )
        return PrivateCertificate.fromCertificateAndKeyPair(cert, keyPair)

    def options(self, *authorities: Certificate) -> CertificateOptions:
        """
        Server options presenting this certificate; when ``authorities`` are
        given, clients must present a certificate issued by one of them.

        :return: ``CertificateOptions``.
        """
        if authorities:
            return CertificateOptions(
                privateKey=self.privateKey,
                certificate=self,
                verify=True,
                trustRoot=trustRootFromCertificates(authorities),
            )
        return CertificateOptions(privateKey=self.privateKey, certificate=self)


def generateSelfSigned(
    hostnames: Sequence[str] = ("localhost", "127.0.0.1", "::1"),
    secondsToExpiry: int = 365 * 24 * 60 * 60,
) -> PrivateCertificate:
    """
    Make a self-signed certificate for quick starts and tests (``--self-signed``).

    :param hostnames: the names it is valid for; the first is its common name.
    :param secondsToExpiry: how long it is valid.
    :return: the certificate with a new EC key.
    """
    key = KeyPair.generate("ec")
    dn = DistinguishedName(commonName=hostnames[0] if hostnames else "localhost")
    cert = key.issue(dn, dn, key, hostnames=hostnames, secondsToExpiry=secondsToExpiry)
    return PrivateCertificate.fromCertificateAndKeyPair(cert, key)


class IOpenSSLTrustRoot(Interface):
    """
    A set of certificate authorities a TLS connection trusts.
    """

    def _addCACertsToContext(context: SSL.Context) -> None:
        """
        Make ``context`` trust these authorities.

        :param context: an OpenSSL context.
        """


@implementer(IOpenSSLTrustRoot)
class _CertificateTrustRoot:
    def __init__(self, certificates: Sequence[Certificate]) -> None:
        self._certificates = list(certificates)

    def _addCACertsToContext(self, context: SSL.Context) -> None:
        store = context.get_cert_store()
        assert store is not None
        for cert in self._certificates:
            store.add_cert(crypto.X509.from_cryptography(cert.original))


@implementer(IOpenSSLTrustRoot)
class _PlatformTrustRoot:
    def _addCACertsToContext(self, context: SSL.Context) -> None:
        context.set_default_verify_paths()


def trustRootFromCertificates(certificates: Iterable[Certificate]) -> IOpenSSLTrustRoot:
    """
    :param certificates: the certificate authorities to trust.
    :return: a trust root for ``CertificateOptions`` or ``optionsForClientTLS``.
    """
    certs = list(certificates)
    for c in certs:
        if not isinstance(c, Certificate):
            raise TypeError(f"trustRootFromCertificates needs Certificates, not {c!r}")
    return _CertificateTrustRoot(certs)


def platformTrust() -> IOpenSSLTrustRoot:
    """
    :return: the operating system's certificate authorities (OpenSSL's
        default verify paths; on Debian, ``/etc/ssl/certs``).
    """
    return _PlatformTrustRoot()


class DiffieHellmanParameters:
    """
    Finite-field Diffie-Hellman parameters for DHE cipher suites.

    :param path: a PEM file of parameters (``openssl dhparam``).
    """

    def __init__(self, path: str) -> None:
        self._dhFile = path

    @classmethod
    def fromFile(cls, filePath: Any) -> DiffieHellmanParameters:
        """
        :param filePath: a path (or object with ``path``) of a PEM file.
        :return: the parameters.
        """
        return cls(getattr(filePath, "path", filePath))


_X509_ERRORS = {
    2: "unable to get issuer certificate",
    7: "certificate signature failure",
    9: "certificate is not yet valid",
    10: "certificate has expired",
    18: "self-signed certificate",
    19: "self-signed certificate in certificate chain",
    20: "unable to get local issuer certificate",
    21: "unable to verify the first certificate",
    24: "invalid CA certificate",
    26: "unsupported certificate purpose",
}


@implementer(IOpenSSLServerConnectionCreator, IOpenSSLClientConnectionCreator)
class CertificateOptions:
    """
    Everything about a TLS endpoint's configuration; makes the OpenSSL
    context every connection uses.

    :param privateKey: the key to present (a ``KeyPair``).
    :param certificate: the certificate to present.
    :param verify: whether to require and verify the peer's certificate
        (servers: client certificates; clients: always verified through
        ``optionsForClientTLS``).
    :param caCerts: certificate authorities to trust (a list of
        ``Certificate``), as an alternative to ``trustRoot``.
    :param verifyDepth: the longest chain accepted.
    :param requireCertificate: with ``verify`` on a server, refuse clients
        that present no certificate.
    :param enableSessions: allow session resumption with a cache.
    :param enableSessionTickets: allow RFC 5077 session tickets.
    :param extraCertChain: intermediate certificates to send with ours.
    :param acceptableCiphers: an OpenSSL cipher string for TLS 1.2.
    :param dhParameters: ``DiffieHellmanParameters`` for DHE suites.
    :param trustRoot: an ``IOpenSSLTrustRoot`` (``platformTrust()``,
        ``trustRootFromCertificates``) to verify the peer against.
    :param acceptableProtocols: ALPN protocols, most preferred first.
    :param raiseMinimumTo: a minimum version above the default TLS 1.2.
    :param insecurelyLowerMinimumTo: a minimum version below TLS 1.2.
    :param lowerMaximumSecurityTo: a maximum version.
    :param sniCertificates: server name to ``PrivateCertificate``: a server
        presents the certificate for the name the client asked for (a
        ``*.example.com`` key matches one label), and ``certificate`` for
        any other name.
    """

    DEFAULT_MINIMUM = TLSVersion.TLSv1_2

    def __init__(
        self,
        privateKey: KeyPair | None = None,
        certificate: Certificate | None = None,
        method: Any = None,
        verify: bool = False,
        caCerts: Sequence[Certificate] | None = None,
        verifyDepth: int = CHAIN_VERIFY_DEPTH,
        requireCertificate: bool = True,
        verifyOnce: bool = True,
        enableSingleUseKeys: bool = True,
        enableSessions: bool = False,
        fixBrokenPeers: bool = False,
        enableSessionTickets: bool = False,
        extraCertChain: Sequence[Certificate] | None = None,
        acceptableCiphers: str | None = None,
        dhParameters: DiffieHellmanParameters | None = None,
        trustRoot: IOpenSSLTrustRoot | None = None,
        acceptableProtocols: Sequence[bytes] | None = None,
        raiseMinimumTo: TLSVersion | None = None,
        insecurelyLowerMinimumTo: TLSVersion | None = None,
        lowerMaximumSecurityTo: TLSVersion | None = None,
        sniCertificates: Mapping[str, PrivateCertificate] | None = None,
    ) -> None:
        if (privateKey is None) != (certificate is None):
            raise ValueError("Specify neither or both of privateKey and certificate")
        if method is not None:
            raise TypeError(
                "method= is not supported: use raiseMinimumTo, "
                "insecurelyLowerMinimumTo and lowerMaximumSecurityTo"
            )
        if raiseMinimumTo is not None and insecurelyLowerMinimumTo is not None:
            raise TypeError(
                "raiseMinimumTo and insecurelyLowerMinimumTo are mutually exclusive"
            )
        if caCerts is not None:
            if trustRoot is not None:
                raise TypeError("Specify caCerts or trustRoot, not both")
            trustRoot = trustRootFromCertificates(caCerts)
        if extraCertChain and certificate is None:
            raise ValueError("extraCertChain needs a certificate")
        self.privateKey = privateKey
        self.certificate = certificate
        self.verify = verify or (trustRoot is not None and certificate is not None)
        self.trustRoot = trustRoot
        self.verifyDepth = verifyDepth
        self.requireCertificate = requireCertificate
        self.enableSessions = enableSessions
        self.enableSessionTickets = enableSessionTickets
        self.extraCertChain = list(extraCertChain or ())
        self.cipherString = acceptableCiphers or DEFAULT_CIPHERS
        self.dhParameters = dhParameters
        self.acceptableProtocols = list(acceptableProtocols or ())
        for proto in self.acceptableProtocols:
            if not isinstance(proto, bytes) or not 0 < len(proto) < 256:
                raise ValueError(f"Invalid ALPN protocol name {proto!r}")
        minimum = self.DEFAULT_MINIMUM
        if raiseMinimumTo is not None:
            minimum = max(minimum, raiseMinimumTo, key=_VERSION_ORDER.index)
        if insecurelyLowerMinimumTo is not None:
            minimum = insecurelyLowerMinimumTo
        self.minimumVersion = minimum
        self.maximumVersion = lowerMaximumSecurityTo
        if self.maximumVersion is not None and _VERSION_ORDER.index(
            self.maximumVersion
        ) < _VERSION_ORDER.index(minimum):
            raise ValueError("The maximum TLS version is below the minimum")
        self.sniCertificates = dict(sniCertificates or {})
        self._context: SSL.Context | None = None
        self._sniContexts: dict[str, SSL.Context] = {}

    def _makeContext(
        self,
        certificate: PrivateCertificate | Certificate | None,
        privateKey: KeyPair | None,
    ) -> SSL.Context:
        ctx = SSL.Context(SSL.TLS_METHOD)
        ctx.set_min_proto_version(_OPENSSL_VERSIONS[self.minimumVersion])
        if self.maximumVersion is not None:
            ctx.set_max_proto_version(_OPENSSL_VERSIONS[self.maximumVersion])
        options = (
            SSL.OP_NO_COMPRESSION
            | SSL.OP_CIPHER_SERVER_PREFERENCE
            | SSL.OP_SINGLE_DH_USE
            | SSL.OP_SINGLE_ECDH_USE
            | SSL.OP_NO_RENEGOTIATION
        )
        if not self.enableSessionTickets:
            options |= SSL.OP_NO_TICKET
        ctx.set_options(options)
        ctx.set_cipher_list(self.cipherString.encode("ascii"))
        if certificate is not None and privateKey is not None:
            ctx.use_certificate(certificate.original)
            ctx.use_privatekey(privateKey.original)
            for extra in self.extraCertChain:
                ctx.add_extra_chain_cert(extra.original)
            ctx.check_privatekey()
        if self.dhParameters is not None:
            ctx.load_tmp_dh(self.dhParameters._dhFile.encode("utf-8"))
        if self.trustRoot is not None:
            self.trustRoot._addCACertsToContext(ctx)
        if self.verify:
            mode = SSL.VERIFY_PEER
            if self.requireCertificate:
                mode |= SSL.VERIFY_FAIL_IF_NO_PEER_CERT
            ctx.set_verify(mode, _acceptPreverified)
            ctx.set_verify_depth(self.verifyDepth)
            if certificate is not None and isinstance(
                self.trustRoot, _CertificateTrustRoot
            ):
                # A server asking for client certificates names the
                # authorities it accepts, so clients pick the right one.
                for authority in self.trustRoot._certificates:
                    ctx.add_client_ca(authority.original)
        if certificate is not None:
            # Needed by OpenSSL for session resumption with client
            # verification; unique per certificate.
            ctx.set_session_id(certificate.digest()[:32])
        if self.enableSessions:
            ctx.set_session_cache_mode(SSL.SESS_CACHE_SERVER)
        else:
            ctx.set_session_cache_mode(SSL.SESS_CACHE_OFF)
        if self.acceptableProtocols:
            ctx.set_alpn_protos(self.acceptableProtocols)
            ctx.set_alpn_select_callback(self._selectALPN)
        return ctx

    def _selectALPN(self, connection: SSL.Connection, offered: list[bytes]) -> Any:
        for proto in self.acceptableProtocols:
            if proto in offered:
                return proto
        # RFC 7301 section 3.2: a fatal no_application_protocol alert rather
        # than silently speaking a protocol the client did not ask for.
        # pyOpenSSL sends that alert when this callback raises.
        raise SSL.Error(
            [
                (
                    "torsion",
                    "ALPN",
                    f"no application protocol in common: the client offered "
                    f"{offered!r}, this server speaks {self.acceptableProtocols!r}",
                )
            ]
        )

    def _contextForName(self, name: str) -> SSL.Context | None:
        name = name.lower().rstrip(".")
        if name in self._sniContexts:
            return self._sniContexts[name]
        cert = self.sniCertificates.get(name)
        if cert is None and "." in name:
            cert = self.sniCertificates.get("*." + name.split(".", 1)[1])
        if cert is None:
            return None
        ctx = self._makeContext(cert, cert.privateKey)
        self._sniContexts[name] = ctx
        return ctx

    def _serverNameCallback(self, connection: SSL.Connection) -> None:
        raw = connection.get_servername()
        if not raw:
            return
        try:
            name = raw.decode("idna")
        except UnicodeError:
            return
        ctx = self._contextForName(name)
        if ctx is not None:
            connection.set_context(ctx)

    def getContext(self) -> SSL.Context:
        """
        :return: the OpenSSL context (made once, then reused).
        """
        if self._context is None:
            certificate = self.certificate
            privateKey = self.privateKey
            if certificate is None and self.sniCertificates:
                # With only SNI certificates, the first is the default.
                default = next(iter(self.sniCertificates.values()))
                certificate, privateKey = default, default.privateKey
            self._context = self._makeContext(certificate, privateKey)
            if self.sniCertificates:
                self._context.set_tlsext_servername_callback(self._serverNameCallback)
        return self._context

    def serverConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        """
        :param tlsProtocol: the TLS protocol the connection is for.
        :return: a new server-side OpenSSL connection.
        """
        conn = SSL.Connection(self.getContext(), None)
        conn.set_app_data(tlsProtocol)
        return conn

    def clientConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        """
        A client connection that verifies nothing about the server's name;
        use ``optionsForClientTLS`` to make verifying clients.

        :param tlsProtocol: the TLS protocol the connection is for.
        :return: a new client-side OpenSSL connection.
        """
        conn = SSL.Connection(self.getContext(), None)
        conn.set_app_data(tlsProtocol)
        return conn


def _acceptPreverified(
    connection: SSL.Connection, x509: Any, errno: int, depth: int, ok: int
) -> bool:
    return bool(ok)


class VerifyingConnection(SSL.Connection):
    """
    An OpenSSL client connection that records why verification failed, so
    the TLS protocol can report a ``VerificationError`` with the reason
    rather than OpenSSL's generic handshake error.
    """

    verificationError: VerificationError | None = None


@implementer(IOpenSSLClientConnectionCreator)
class ClientTLSOptions:
    """
    Makes client connections that verify the server's certificate chain
    against a trust root and its name against ``hostname`` (DNS names and IP
    addresses, through service-identity).  Made by ``optionsForClientTLS``.

    :param hostname: the name the server must prove it is.
    :param options: the ``CertificateOptions`` holding the trust root,
        client certificate and ALPN protocols.
    """

    def __init__(self, hostname: str, options: CertificateOptions) -> None:
        self._hostname = hostname
        self._options = options
        self._isIP = _isIPAddress(hostname)
        self._sniName = None if self._isIP else hostname.encode("idna")
        ctx = options.getContext()
        ctx.set_verify(SSL.VERIFY_PEER, self._verify)
        ctx.set_verify_depth(options.verifyDepth)

    def _verify(
        self,
        connection: SSL.Connection,
        cert: crypto.X509,
        errno: int,
        depth: int,
        ok: int,
    ) -> bool:
        if not ok:
            reason = _X509_ERRORS.get(errno, f"X.509 verification error {errno}")
            subject = cert.to_cryptography().subject.rfc4514_string()
            self._record(
                connection,
                VerificationError(
                    f"Certificate verification failed for {self._hostname}: "
                    f"{reason} (depth {depth}, subject {subject})"
                ),
            )
            return False
        if depth == 0:
            from service_identity import CertificateError
            from service_identity import VerificationError as SIError
            from service_identity.cryptography import (
                verify_certificate_hostname,
                verify_certificate_ip_address,
            )

            try:
                if self._isIP:
                    verify_certificate_ip_address(
                        cert.to_cryptography(), self._hostname
                    )
                else:
                    verify_certificate_hostname(cert.to_cryptography(), self._hostname)
            except (SIError, CertificateError) as e:
                names = Certificate(cert.to_cryptography()).hostnames()
                self._record(
                    connection,
                    VerificationError(
                        f"Certificate is not valid for {self._hostname!r} "
                        f"(valid for: {', '.join(names) or 'no names'}): {e}"
                    ),
                )
                return False
        return True

    @staticmethod
    def _record(connection: SSL.Connection, error: VerificationError) -> None:
        if (
            isinstance(connection, VerifyingConnection)
            and connection.verificationError is None
        ):
            connection.verificationError = error

    def clientConnectionForTLS(self, tlsProtocol: Any) -> SSL.Connection:
        """
        :param tlsProtocol: the TLS protocol the connection is for.
        :return: a new client-side OpenSSL connection, set up to send SNI
            and verify the server.
        """
        conn = VerifyingConnection(self._options.getContext(), None)
        conn.set_app_data(tlsProtocol)
        if self._sniName is not None:
            conn.set_tlsext_host_name(self._sniName)
        return conn


def _isIPAddress(name: str) -> bool:
    try:
        ipaddress.ip_address(name.strip("[]"))
    except ValueError:
        return False
    return True


def optionsForClientTLS(
    hostname: str,
    trustRoot: IOpenSSLTrustRoot | None = None,
    clientCertificate: PrivateCertificate | None = None,
    acceptableProtocols: Sequence[bytes] | None = None,
    *,
    extraCertificateOptions: Mapping[str, Any] | None = None,
) -> ClientTLSOptions:
    """
    Options for a TLS client that verifies the server: its certificate chain
    against ``trustRoot`` and its name against ``hostname``.  A failure ends
    the connection with a ``VerificationError`` saying why.

    :param hostname: the server's DNS name or IP address, as text.
    :param trustRoot: the authorities to trust (the platform's by default).
    :param clientCertificate: a certificate to authenticate with, if the
        server asks for one.
    :param acceptableProtocols: ALPN protocols, most preferred first.
    :param extraCertificateOptions: more ``CertificateOptions`` arguments.
    :return: a connection creator for ``connectSSL``, ``startTLS``,
        ``TLSMemoryBIOFactory`` or a ``tls:`` endpoint.
    """
    if isinstance(hostname, bytes):
        raise TypeError(
            "optionsForClientTLS takes the host name as text, e.g. "
            f"{hostname.decode('ascii', 'replace')!r}"
        )
    extra = dict(extraCertificateOptions or {})
    for forbidden in ("privateKey", "certificate", "trustRoot", "verify", "caCerts"):
        if forbidden in extra:
            raise TypeError(f"extraCertificateOptions may not set {forbidden!r}")
    if trustRoot is None:
        trustRoot = platformTrust()
    if clientCertificate is not None:
        extra["privateKey"] = clientCertificate.privateKey
        extra["certificate"] = clientCertificate
    options = CertificateOptions(
        trustRoot=trustRoot, acceptableProtocols=acceptableProtocols, **extra
    )
    return ClientTLSOptions(hostname, options)
