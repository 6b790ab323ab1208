"""
Host name resolution for the reactor.

``GAIResolver`` is the default ``IHostnameResolver``: it calls the system's
``getaddrinfo`` in the reactor's thread pool, so a slow DNS server never blocks
the reactor.  Install another with ``reactor.installNameResolver`` (for
example a resolver from torsion-names).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet import defer, error
from torsion.internet.address import IPv4Address, IPv6Address
from torsion.internet.interfaces import (
    IAddress,
    IHostnameResolver,
    IHostResolution,
    IResolutionReceiver,
    IResolverSimple,
)
from torsion.python.failure import Failure

_socktypes = {"TCP": socket.SOCK_STREAM, "UDP": socket.SOCK_DGRAM}

_GAIResult = list[tuple[Any, Any, Any, str, Any]]


@implementer(IHostResolution)
class HostResolution:
    """
    One resolution in progress.

    :ivar name: the host name being resolved.
    :ivar cancelled: ``True`` once ``cancel`` was called.
    """

    def __init__(self, name: str) -> None:
        """
        :param name: the host name.
        """
        self.name = name
        self.cancelled = False

    def cancel(self) -> None:
        """
        Deliver no addresses: the receiver only hears ``resolutionComplete``.
        """
        self.cancelled = True


def _familiesFor(addressTypes: Sequence[type[IAddress]] | None) -> int:
    if not addressTypes:
        return socket.AF_UNSPEC
    v4 = IPv4Address in addressTypes
    v6 = IPv6Address in addressTypes
    if v4 and not v6:
        return socket.AF_INET
    if v6 and not v4:
        return socket.AF_INET6
    return socket.AF_UNSPEC


@implementer(IHostnameResolver)
class GAIResolver:
    """
    Resolves host names with ``socket.getaddrinfo`` in a thread.

    :ivar reactor: the reactor results are delivered in.
    """

    def __init__(
        self,
        reactor: Any,
        getThreadPool: Callable[[], Any] | None = None,
        getaddrinfo: Callable[..., _GAIResult] = socket.getaddrinfo,
    ) -> None:
        """
        :param reactor: the reactor; its ``callInThread`` and
            ``callFromThread`` carry the work.
        :param getThreadPool: returns the pool to run ``getaddrinfo`` in;
            defaults to the reactor's.
        :param getaddrinfo: the lookup function, replaceable in tests.
        """
        self.reactor = reactor
        self._getThreadPool = getThreadPool
        self._getaddrinfo = getaddrinfo

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> IResolutionReceiver:
        """
        Resolve ``hostName``; the receiver hears about each address, then
        ``resolutionComplete`` (no address means the name was not found).

        :param resolutionReceiver: told about the results.
        :param hostName: the name.
        :param portNumber: the port put into each address.
        :param addressTypes: ``IPv4Address`` and/or ``IPv6Address``; ``None``
            means both.
        :param transportSemantics: ``"TCP"`` or ``"UDP"``.
        :return: ``resolutionReceiver``.
        """
        resolution = HostResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        family = _familiesFor(addressTypes)
        socktype = _socktypes.get(transportSemantics, socket.SOCK_STREAM)
        reactor = self.reactor

        def lookup() -> None:
            try:
                result: _GAIResult | None = self._getaddrinfo(
                    hostName, portNumber, family, socktype
                )
            except (OSError, UnicodeError):
                result = None
            reactor.callFromThread(deliver, result)

        def deliver(result: _GAIResult | None) -> None:
            if result and not resolution.cancelled:
                seen: set[IAddress] = set()
                for fam, _type, _proto, _canon, sockaddr in result:
                    address: IAddress
                    if fam == socket.AF_INET:
                        address = IPv4Address(
                            transportSemantics, sockaddr[0], sockaddr[1]
                        )
                    elif fam == socket.AF_INET6:
                        address = IPv6Address(
                            transportSemantics,
                            sockaddr[0],
                            sockaddr[1],
                            sockaddr[2],
                            sockaddr[3],
                        )
                    else:
                        continue
                    if address not in seen:
                        seen.add(address)
                        resolutionReceiver.addressResolved(address)
            resolutionReceiver.resolutionComplete()

        if self._getThreadPool is not None:
            self._getThreadPool().callInThread(lookup)
        else:
            reactor.callInThread(lookup)
        return resolutionReceiver


@implementer(IResolutionReceiver)
class _FirstAddress:
    def __init__(self, name: str, deferred: defer.Deferred[str]) -> None:
        self.name = name
        self.deferred = deferred
        self.addresses: list[IAddress] = []

    def resolutionBegan(self, resolutionInProgress: IHostResolution) -> None:
        pass

    def addressResolved(self, address: IAddress) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        for address in self.addresses:
            if isinstance(address, IPv4Address):
                self.deferred.callback(address.host)
                return
        self.deferred.errback(
            Failure(error.DNSLookupError(f"address {self.name!r} not found"))
        )


@implementer(IResolverSimple)
class _ComplexResolverSimplifier:
    """
    Presents an ``IHostnameResolver`` as a legacy ``IResolverSimple``.
    """

    def __init__(self, nameResolver: IHostnameResolver) -> None:
        self._nameResolver = nameResolver

    def getHostByName(
        self, name: str, timeout: Sequence[int] = ()
    ) -> defer.Deferred[str]:
        """
        :param name: the host name.
        :param timeout: ignored.
        :return: a ``Deferred`` of the first IPv4 address.
        """
        d: defer.Deferred[str] = defer.Deferred()
        self._nameResolver.resolveHostName(
            _FirstAddress(name, d), name, 0, [IPv4Address]
        )
        return d


@implementer(IHostnameResolver)
class _SimpleResolverComplexifier:
    """
    Presents a legacy ``IResolverSimple`` as an ``IHostnameResolver``.
    """

    def __init__(self, simpleResolver: IResolverSimple) -> None:
        self._simpleResolver = simpleResolver

    def resolveHostName(
        self,
        resolutionReceiver: IResolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes: Sequence[type[IAddress]] | None = None,
        transportSemantics: str = "TCP",
    ) -> IResolutionReceiver:
        """
        Resolve through the simple resolver (IPv4 only).

        :param resolutionReceiver: told about the result.
        :param hostName: the name.
        :param portNumber: the port put into the address.
        :param addressTypes: ignored beyond IPv4.
        :param transportSemantics: ``"TCP"`` or ``"UDP"``.
        :return: ``resolutionReceiver``.
        """
        resolution = HostResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)

        def found(address: str) -> None:
            if not resolution.cancelled:
                resolutionReceiver.addressResolved(
                    IPv4Address(transportSemantics, address, portNumber)
                )

        def notFound(reason: Failure) -> None:
            if not reason.check(error.DNSLookupError):
                from torsion.python import log

                log.err(reason, f"while resolving {hostName!r}")

        d = self._simpleResolver.getHostByName(hostName)
        d.addCallbacks(found, notFound)
        d.addBoth(lambda _: resolutionReceiver.resolutionComplete())
        return resolutionReceiver


__all__ = ["GAIResolver", "HostResolution"]
