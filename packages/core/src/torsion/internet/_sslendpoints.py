"""
TLS endpoints: ``SSL4ServerEndpoint``, ``SSL4ClientEndpoint``,
``wrapClientTLS`` and the ``ssl:``/``tls:`` endpoint description parsers.

Re-exported by ``torsion.internet.endpoints`` (the classes) and reached by
``serverFromString``/``clientFromString`` through ``torsion.internet.ssl``.
"""

from __future__ import annotations

import os
from typing import Any

from zope.interface import implementer

from torsion.internet._endpoint_hostname import HostnameEndpoint
from torsion.internet._endpoint_streams import TCP4ClientEndpoint
from torsion.internet._sslverify import (
    Certificate,
    CertificateOptions,
    DiffieHellmanParameters,
    KeyPair,
    PrivateCertificate,
    optionsForClientTLS,
    platformTrust,
    trustRootFromCertificates,
)
from torsion.internet.defer import Deferred, maybeDeferred
from torsion.internet.interfaces import (
    IListeningPort,
    IProtocolFactory,
    IStreamClientEndpoint,
    IStreamClientEndpointStringParserWithReactor,
    IStreamServerEndpoint,
    IStreamServerEndpointStringParser,
)
from torsion.protocols.tls import TLSMemoryBIOFactory

__all__ = ["SSL4ClientEndpoint", "SSL4ServerEndpoint", "wrapClientTLS"]

_PEM_CERTIFICATE_END = b"-----END CERTIFICATE-----"


def _certificatesIn(pem: bytes) -> list[Certificate]:
    certificates = []
    for part in pem.split(_PEM_CERTIFICATE_END)[:-1]:
        start = part.find(b"-----BEGIN CERTIFICATE-----")
        if start != -1:
            certificates.append(
                Certificate.loadPEM(part[start:] + _PEM_CERTIFICATE_END + b"\n")
            )
    return certificates


def _readFile(prefix: str, what: str, path: str) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError as e:
        raise ValueError(f"{prefix}: cannot read {what} {path!r}: {e.strerror}")


def _certificatesFrom(prefix: str, path: str) -> list[Certificate]:
    """
    Every certificate in a PEM file, or in the ``.pem``/``.crt`` files of a
    directory.
    """
    if os.path.isdir(path):
        found: list[Certificate] = []
        for name in sorted(os.listdir(path)):
            if name.endswith((".pem", ".crt")):
                found.extend(
                    _certificatesIn(
                        _readFile(prefix, "certificate", os.path.join(path, name))
                    )
                )
    else:
        found = _certificatesIn(_readFile(prefix, "certificate", path))
    if not found:
        raise ValueError(f"{prefix}: no certificate found in {path!r}")
    return found


@implementer(IStreamServerEndpoint)
class SSL4ServerEndpoint:
    """
    Accepts TLS connections on an IPv4 TCP port.

    :param reactor: an ``IReactorSSL`` provider.
    :param port: the port; ``0`` picks a free one.
    :param sslContextFactory: the server's TLS configuration.
    :param backlog: the listen queue length.
    :param interface: the address to bind (``""`` for all).
    """

    def __init__(
        self,
        reactor: Any,
        port: int,
        sslContextFactory: Any,
        backlog: int = 50,
        interface: str = "",
    ) -> None:
        self._reactor = reactor
        self._port = port
        self._sslContextFactory = sslContextFactory
        self._backlog = backlog
        self._interface = interface

    def listen(self, protocolFactory: IProtocolFactory) -> Deferred[IListeningPort]:
        """
        :param protocolFactory: builds the application protocol per connection.
        :return: a Deferred firing with the listening port.
        """
        return maybeDeferred(
            self._reactor.listenSSL,
            self._port,
            protocolFactory,
            self._sslContextFactory,
            backlog=self._backlog,
            interface=self._interface,
        )


@implementer(IStreamClientEndpoint)
class _WrapperEndpoint:
    def __init__(self, connectionCreator: Any, wrappedEndpoint: Any) -> None:
        self._connectionCreator = connectionCreator
        self._wrappedEndpoint = wrappedEndpoint

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[Any]:
        clock = getattr(self._wrappedEndpoint, "_reactor", None)
        tlsFactory = TLSMemoryBIOFactory(
            self._connectionCreator, True, protocolFactory, clock=clock
        )
        d: Deferred[Any] = self._wrappedEndpoint.connect(tlsFactory)
        return d.addCallback(lambda tlsProtocol: tlsProtocol.wrappedProtocol)

    def __repr__(self) -> str:
        return f"<TLS over {self._wrappedEndpoint!r}>"


def wrapClientTLS(
    connectionCreator: Any, wrappedEndpoint: Any
) -> IStreamClientEndpoint:
    """
    Speak TLS over any client endpoint.

    :param connectionCreator: the client's TLS configuration; use
        ``optionsForClientTLS(hostname)`` so the server is verified.
    :param wrappedEndpoint: the endpoint to connect through (TCP, Unix,
        a process's pipes, ...).
    :return: an endpoint whose ``connect`` Deferred fires with the
        application protocol once the underlying connection is made.
    """
    return _WrapperEndpoint(connectionCreator, wrappedEndpoint)


@implementer(IStreamClientEndpoint)
class SSL4ClientEndpoint:
    """
    Connects over TCP to an IPv4 host and speaks TLS.

    :param reactor: an ``IReactorTCP`` provider.
    :param host: the IPv4 address or host name.
    :param port: the port.
    :param sslContextFactory: the client's TLS configuration.
    :param timeout: seconds to wait for the TCP connection.
    :param bindAddress: a local ``(host, port)`` to bind first.
    """

    def __init__(
        self,
        reactor: Any,
        host: str,
        port: int,
        sslContextFactory: Any,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
    ) -> None:
        self._wrapped = wrapClientTLS(
            sslContextFactory,
            TCP4ClientEndpoint(reactor, host, port, timeout, bindAddress),
        )

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[Any]:
        """
        :param protocolFactory: builds the application protocol.
        :return: a Deferred firing with it once connected.
        """
        d: Deferred[Any] = self._wrapped.connect(protocolFactory)
        return d


def _int(prefix: str, name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{prefix}: {name} must be an integer, not {value!r}")


@implementer(IStreamServerEndpointStringParser)
class _SSLServerParser:
    """
    ``ssl:PORT:privateKey=KEY.pem[:certKey=CERT.pem][:extraCertChain=CHAIN.pem]
    [:caCertsDir=DIR][:dhParameters=DH.pem][:interface=ADDR][:backlog=N]``.

    ``privateKey`` may hold the certificate too, in which case ``certKey`` is
    not needed; ``caCertsDir`` (a directory or a file of PEM certificates)
    makes the server require client certificates issued by those
    authorities.
    """

    prefix = "ssl"

    def parseStreamServer(
        self, reactor: Any, *args: str, **kwargs: str
    ) -> IStreamServerEndpoint:
        if len(args) > 1:
            raise ValueError(f"ssl: unexpected arguments {args[1:]!r}")
        port = args[0] if args else kwargs.pop("port", None)
        if port is None:
            raise ValueError("ssl: needs a port, e.g. ssl:8443:privateKey=server.pem")
        privateKey = kwargs.pop("privateKey", None)
        if privateKey is None:
            raise ValueError("ssl: needs privateKey=PATH (a PEM private key)")
        certKey = kwargs.pop("certKey", privateKey)
        extraCertChain = kwargs.pop("extraCertChain", None)
        caCertsDir = kwargs.pop("caCertsDir", None)
        dhParameters = kwargs.pop("dhParameters", None)
        interface = kwargs.pop("interface", "")
        backlog = _int("ssl", "backlog", kwargs.pop("backlog", "50"))
        if kwargs:
            raise ValueError(f"ssl: unknown arguments {sorted(kwargs)!r}")
        key = KeyPair.loadPEM(_readFile("ssl", "private key", privateKey))
        certs = _certificatesIn(_readFile("ssl", "certificate", certKey))
        if not certs:
            raise ValueError(f"ssl: no certificate found in {certKey!r}")
        certificate = PrivateCertificate.fromCertificateAndKeyPair(certs[0], key)
        chain = certs[1:]
        if extraCertChain is not None:
            chain += _certificatesFrom("ssl", extraCertChain)
        options = CertificateOptions(
            privateKey=key,
            certificate=certificate,
            extraCertChain=chain or None,
            trustRoot=(
                trustRootFromCertificates(_certificatesFrom("ssl", caCertsDir))
                if caCertsDir
                else None
            ),
            verify=caCertsDir is not None,
            dhParameters=(
                DiffieHellmanParameters.fromFile(dhParameters) if dhParameters else None
            ),
        )
        return SSL4ServerEndpoint(
            reactor, _int("ssl", "port", port), options, backlog, interface
        )


@implementer(IStreamClientEndpointStringParserWithReactor)
class _TLSClientParser:
    """
    ``tls:HOST:PORT[:timeout=S][:bindAddress=ADDR][:certificate=CLIENT.pem]
    [:privateKey=KEY.pem][:trustRoots=CA.pem|DIR]``: connects to HOST
    (happy eyeballs over its IPv4 and IPv6 addresses) and verifies that the
    server's certificate chains to ``trustRoots`` (the system's authorities
    by default) and was issued for HOST.
    """

    prefix = "tls"

    def parseStreamClient(
        self, reactor: Any, *args: str, **kwargs: str
    ) -> IStreamClientEndpoint:
        positional = list(args)
        host = kwargs.pop("host", None) or (positional.pop(0) if positional else None)
        port = kwargs.pop("port", None) or (positional.pop(0) if positional else None)
        if positional:
            raise ValueError(f"tls: unexpected arguments {positional!r}")
        if not host or port is None:
            raise ValueError("tls: needs a host and a port, e.g. tls:example.com:443")
        timeout = float(kwargs.pop("timeout", "30"))
        bindAddress = kwargs.pop("bindAddress", None)
        certificate = kwargs.pop("certificate", None)
        privateKey = kwargs.pop("privateKey", certificate)
        trustRoots = kwargs.pop("trustRoots", None) or kwargs.pop("caCertsDir", None)
        if kwargs:
            raise ValueError(f"tls: unknown arguments {sorted(kwargs)!r}")
        clientCertificate = None
        if certificate is not None:
            assert privateKey is not None
            certs = _certificatesIn(_readFile("tls", "certificate", certificate))
            if not certs:
                raise ValueError(f"tls: no certificate found in {certificate!r}")
            clientCertificate = PrivateCertificate.fromCertificateAndKeyPair(
                certs[0], KeyPair.loadPEM(_readFile("tls", "private key", privateKey))
            )
        trustRoot = (
            trustRootFromCertificates(_certificatesFrom("tls", trustRoots))
            if trustRoots
            else platformTrust()
        )
        options = optionsForClientTLS(
            host, trustRoot=trustRoot, clientCertificate=clientCertificate
        )
        endpoint = HostnameEndpoint(
            reactor,
            host,
            _int("tls", "port", port),
            timeout=timeout,
            bindAddress=(bindAddress, 0) if bindAddress else None,
        )
        return wrapClientTLS(options, endpoint)


serverEndpointParser = _SSLServerParser()
clientEndpointParser = _TLSClientParser()
