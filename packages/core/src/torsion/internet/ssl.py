"""
TLS for torsion, on pyOpenSSL.

Servers present a ``PrivateCertificate`` through ``CertificateOptions``::

    from torsion.internet import ssl

    cert = ssl.PrivateCertificate.loadPEM(open("server.pem").read())
    reactor.listenSSL(8443, factory, cert.options())

Clients verify the server's chain and name with ``optionsForClientTLS``::

    reactor.connectSSL("example.com", 443, factory,
                       ssl.optionsForClientTLS("example.com"))

This module needs torsion-core's ``tls`` extra:
``python3 -m pip install 'torsion-core[tls]'``.
"""

from __future__ import annotations

try:
    import OpenSSL.SSL  # noqa: F401
    import service_identity  # noqa: F401
except ImportError as e:  # pragma: no cover - depends on the environment
    raise ImportError(
        "TLS support needs pyOpenSSL and service-identity, which come with "
        "torsion-core's 'tls' extra: python3 -m pip install 'torsion-core[tls]'"
        f" ({e})"
    ) from e

from typing import Any

from OpenSSL import SSL

from torsion.internet._sslverify import (
    DN,
    FILETYPE_ASN1,
    FILETYPE_PEM,
    Certificate,
    CertificateOptions,
    CertificateRequest,
    ClientTLSOptions,
    DiffieHellmanParameters,
    DistinguishedName,
    IOpenSSLTrustRoot,
    KeyPair,
    PrivateCertificate,
    PublicKey,
    TLSVersion,
    VerificationError,
    VerifyingConnection,
    generateSelfSigned,
    optionsForClientTLS,
    platformTrust,
    trustRootFromCertificates,
)

__all__ = [
    "DN",
    "FILETYPE_ASN1",
    "FILETYPE_PEM",
    "Certificate",
    "CertificateOptions",
    "CertificateRequest",
    "ClientTLSOptions",
    "ContextFactory",
    "DefaultOpenSSLContextFactory",
    "DiffieHellmanParameters",
    "DistinguishedName",
    "IOpenSSLTrustRoot",
    "KeyPair",
    "PrivateCertificate",
    "PublicKey",
    "TLSVersion",
    "VerificationError",
    "VerifyingConnection",
    "generateSelfSigned",
    "optionsForClientTLS",
    "platformTrust",
    "supported",
    "trustRootFromCertificates",
]

supported = True
"""TLS is available (importing this module fails otherwise)."""


class ContextFactory:
    """
    The oldest way to configure TLS: an object whose ``getContext()``
    returns an OpenSSL context.  Prefer ``CertificateOptions``.
    """

    isClient = 0

    def getContext(self) -> SSL.Context:
        """
        :return: the OpenSSL context to use.
        """
        raise NotImplementedError


class DefaultOpenSSLContextFactory(ContextFactory):
    """
    A server context from a PEM private key file and a PEM certificate file,
    with torsion's defaults (TLS 1.2 or later, modern ciphers).

    :param privateKeyFileName: the path of the private key.
    :param certificateFileName: the path of the certificate (with any
        intermediate certificates after it).
    """

    def __init__(self, privateKeyFileName: str, certificateFileName: str, **kw: Any):
        with open(privateKeyFileName, "rb") as f:
            key = KeyPair.loadPEM(f.read())
        with open(certificateFileName, "rb") as f:
            pem = f.read()
        certs = _splitPEMCertificates(pem)
        if not certs:
            raise ValueError(f"No certificate found in {certificateFileName}")
        self._options = CertificateOptions(
            privateKey=key,
            certificate=certs[0],
            extraCertChain=certs[1:] or None,
            **kw,
        )

    def getContext(self) -> SSL.Context:
        """
        :return: the OpenSSL context.
        """
        return self._options.getContext()


def _splitPEMCertificates(pem: bytes) -> list[Certificate]:
    marker = b"-----END CERTIFICATE-----"
    out: list[Certificate] = []
    for part in pem.split(marker)[:-1]:
        start = part.find(b"-----BEGIN CERTIFICATE-----")
        if start != -1:
            out.append(Certificate.loadPEM(part[start:] + marker + b"\n"))
    return out


def __getattr__(name: str) -> Any:
    # The endpoint parsers import the endpoint machinery, which imports the
    # reactor-facing modules; load them only when a description needs them.
    if name == "_serverEndpointParser":
        from torsion.internet._sslendpoints import serverEndpointParser

        return serverEndpointParser
    if name == "_clientEndpointParser":
        from torsion.internet._sslendpoints import clientEndpointParser

        return clientEndpointParser
    raise AttributeError(name)
