"""
``HostnameEndpoint``: connect to a host name the way RFC 8305 ("Happy
Eyeballs") recommends.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet._endpoint_streams import TCP4ClientEndpoint, _checkPort
from torsion.internet.address import HostnameAddress, IPv4Address, IPv6Address
from torsion.internet.defer import Deferred, fail, succeed
from torsion.internet.interfaces import (
    IAddress,
    IDelayedCall,
    IHostResolution,
    IProtocolFactory,
    IResolutionReceiver,
    IStreamClientEndpoint,
)
from torsion.python.failure import Failure

__all__ = ["HostnameEndpoint"]

#: RFC 8305 section 5 recommends 250 ms; this keeps Twisted's 0.3 s default.
DEFAULT_ATTEMPT_DELAY = 0.3

#: Longest host name accepted, in octets once IDNA-encoded (RFC 1035 2.3.4
#: allows 255 on the wire, i.e. 253 in text without the trailing dot).
MAX_HOSTNAME_LENGTH = 253


def _literalAddress(host: str, port: int) -> IPv4Address | IPv6Address | None:
    try:
        parsed = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address):
        return IPv6Address("TCP", host, port)
    return IPv4Address("TCP", host, port)


@implementer(IResolutionReceiver)
class _AddressCollector:
    """
    Gathers the addresses of one resolution into a ``Deferred``.
    """

    def __init__(self) -> None:
        self.addresses: list[IAddress] = []
        self.deferred: Deferred[list[IAddress]] = Deferred(self._cancel)
        self._resolution: IHostResolution | None = None

    def _cancel(self, deferred: Deferred[list[IAddress]]) -> None:
        if self._resolution is not None:
            self._resolution.cancel()

    def resolutionBegan(self, resolutionInProgress: IHostResolution) -> None:
        self._resolution = resolutionInProgress

    def addressResolved(self, address: IAddress) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        if not self.deferred.called:
            self.deferred.callback(self.addresses)


def _resolve(
    reactor: Any,
    host: str,
    port: int,
    addressTypes: Sequence[type[IAddress]] | None = None,
) -> Deferred[list[IAddress]]:
    """
    Resolve ``host`` with the reactor's ``nameResolver`` (or, lacking one,
    its ``resolve``), failing with ``DNSLookupError`` if nothing is found.
    """
    literal = _literalAddress(host, port)
    if literal is not None:
        return succeed([literal])
    resolver = getattr(reactor, "nameResolver", None)
    if resolver is None:
        return reactor.resolve(host).addCallback(  # type: ignore[no-any-return]
            lambda ip: [IPv4Address("TCP", ip, port)]
        )
    collector = _AddressCollector()
    try:
        resolver.resolveHostName(collector, host, port, addressTypes, "TCP")
    except BaseException:
        return fail()

    def check(addresses: list[IAddress]) -> list[IAddress]:
        if not addresses:
            raise error.DNSLookupError(f"no results for hostname lookup: {host}")
        return addresses

    return collector.deferred.addCallback(check)


def _interleave(addresses: Sequence[IAddress]) -> list[IAddress]:
    """
    Order addresses by alternating families, starting with the family of
    the resolver's first choice (RFC 8305 section 4).
    """
    if not addresses:
        return []
    firstFamily = type(addresses[0])
    first = [a for a in addresses if type(a) is firstFamily]
    other = [a for a in addresses if type(a) is not firstFamily]
    ordered: list[IAddress] = []
    for i in range(max(len(first), len(other))):
        ordered.extend(group[i] for group in (first, other) if i < len(group))
    return ordered


class _Race:
    """
    One ``HostnameEndpoint.connect`` call: resolve, then start connection
    attempts ``attemptDelay`` apart (or as soon as the previous one fails),
    keep the first that connects and cancel the rest.
    """

    def __init__(self, endpoint: HostnameEndpoint, factory: IProtocolFactory) -> None:
        self._endpoint = endpoint
        self._factory = factory
        self.result: Deferred[Any] = Deferred(self._cancel)
        self._resolving: Deferred[list[IAddress]] | None = None
        self._queue: list[IAddress] = []
        self._pending: list[Deferred[Any]] = []
        self._delayed: IDelayedCall | None = None
        self._lastFailure: Failure | None = None
        self._done = False

    def start(self) -> Deferred[Any]:
        resolving = _resolve(
            self._endpoint._reactor, self._endpoint._hostText, self._endpoint._port
        )
        self._resolving = resolving
        resolving.addCallbacks(self._resolved, self._resolutionFailed)
        return self.result

    def _resolved(self, addresses: list[IAddress]) -> None:
        self._resolving = None
        if self._done:
            return
        self._queue = _interleave(addresses)
        self._startNext()

    def _resolutionFailed(self, failure: Failure) -> None:
        self._resolving = None
        if self._done:
            return
        self._done = True
        if failure.check(error.DNSLookupError):
            self.result.errback(failure)
        else:
            self.result.errback(
                Failure(
                    error.DNSLookupError(
                        f"hostname lookup failed for {self._endpoint._hostText}: "
                        f"{failure.getErrorMessage()}"
                    )
                )
            )

    def _cancelDelayed(self) -> None:
        if self._delayed is not None:
            if self._delayed.active():
                self._delayed.cancel()
            self._delayed = None

    def _startNext(self) -> None:
        self._cancelDelayed()
        if self._done:
            return
        if not self._queue:
            if not self._pending:
                self._giveUp()
            return
        address = self._queue.pop(0)
        endpoint = self._endpoint
        attempt = TCP4ClientEndpoint(
            endpoint._reactor,
            address.host,  # type: ignore[attr-defined]
            endpoint._port,
            endpoint._timeout,
            endpoint._bindAddress,
        ).connect(self._factory)
        self._pending.append(attempt)
        if self._queue and not self._done:
            self._delayed = endpoint._reactor.callLater(
                endpoint._attemptDelay, self._startNext
            )
        attempt.addCallbacks(
            self._succeeded,
            self._failed,
            callbackArgs=(attempt,),
            errbackArgs=(attempt,),
        )

    def _succeeded(self, protocol: Any, attempt: Deferred[Any]) -> None:
        if attempt in self._pending:
            self._pending.remove(attempt)
        if self._done:
            # Lost the race (or the whole connect was cancelled meanwhile).
            transport = getattr(protocol, "transport", None)
            if transport is not None:
                transport.loseConnection()
            return
        self._done = True
        self._cancelDelayed()
        for other in list(self._pending):
            other.cancel()
        self.result.callback(protocol)

    def _failed(self, failure: Failure, attempt: Deferred[Any]) -> None:
        if attempt in self._pending:
            self._pending.remove(attempt)
        if self._done:
            return
        self._lastFailure = failure
        if self._queue:
            self._startNext()
        elif not self._pending:
            self._giveUp()

    def _giveUp(self) -> None:
        self._done = True
        self._cancelDelayed()
        failure = self._lastFailure
        if failure is None:
            failure = Failure(
                error.DNSLookupError(
                    f"no results for hostname lookup: {self._endpoint._hostText}"
                )
            )
        self.result.errback(failure)

    def _cancel(self, deferred: Deferred[Any]) -> None:
        self._done = True
        self._cancelDelayed()
        if self._resolving is not None:
            self._resolving.cancel()
        for attempt in list(self._pending):
            attempt.cancel()
        deferred.errback(
            error.ConnectingCancelledError(
                HostnameAddress(self._endpoint._hostBytes, self._endpoint._port)
            )
        )


def _normaliseHost(host: str | bytes) -> str:
    if isinstance(host, bytes):
        try:
            host = host.decode("ascii")
        except UnicodeDecodeError:
            raise ValueError(f"host name bytes must be ASCII: {host!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host:
        raise ValueError("host name must not be empty")
    if _literalAddress(host, 0) is not None:
        return host
    if any(ch.isspace() or ord(ch) < 0x20 or ch == "\x7f" for ch in host):
        raise ValueError(
            f"host name contains whitespace or control characters: {host!r}"
        )
    try:
        encoded = host.encode("idna").decode("ascii")
    except UnicodeError as e:
        raise ValueError(f"invalid host name {host!r}: {e}")
    if len(encoded.rstrip(".")) > MAX_HOSTNAME_LENGTH:
        raise ValueError(
            f"host name longer than {MAX_HOSTNAME_LENGTH} characters: {host[:40]!r}..."
        )
    return encoded


@implementer(IStreamClientEndpoint)
class HostnameEndpoint:
    """
    Connects to a host name over TCP, IPv6 or IPv4, whichever answers first.

    The name is resolved with the reactor's ``nameResolver``; the addresses
    are tried alternating between families (starting with the resolver's
    first choice), a new attempt starting every ``attemptDelay`` seconds or
    as soon as the previous one fails (RFC 8305). The first connection made
    wins; the other attempts are cancelled. An IP address literal is used as
    is, without resolution.

    :param reactor: an ``IReactorTCP`` and ``IReactorTime`` provider, with a
        ``nameResolver`` (``IReactorPluggableNameResolver``).
    :param host: a host name (``str``, or ASCII ``bytes``; international
        names are IDNA-encoded) or an IP address.
    :param port: the port number, 1 to 65535.
    :param timeout: seconds each attempt may take.
    :param bindAddress: a local ``(host, port)`` each attempt binds first.
    :param attemptDelay: seconds between starting successive attempts.
    :raises ValueError: for an empty or malformed host name, or a port out
        of range.
    """

    def __init__(
        self,
        reactor: Any,
        host: str | bytes,
        port: int,
        timeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
        attemptDelay: float = DEFAULT_ATTEMPT_DELAY,
    ) -> None:
        self._reactor = reactor
        self._hostText = _normaliseHost(host)
        self._hostBytes = self._hostText.encode("ascii")
        self._port = _checkPort(port, allowZero=False)
        self._timeout = timeout
        self._bindAddress = bindAddress
        self._attemptDelay = attemptDelay
        if not attemptDelay >= 0:
            raise ValueError(f"attemptDelay must be >= 0: {attemptDelay!r}")

    def connect(self, protocolFactory: IProtocolFactory) -> Deferred[Any]:
        """
        Resolve the host and connect to the first address that answers.

        :param protocolFactory: builds the protocol for the winning
            connection (and for no other).
        :return: a ``Deferred`` firing with the connected protocol; failing
            with ``DNSLookupError`` if the name has no address, or with the
            error of the last attempt if none connected. Cancelling it stops
            resolution and every attempt (``ConnectingCancelledError``).
        """
        return _Race(self, protocolFactory).start()

    def __repr__(self) -> str:
        host = f"[{self._hostText}]" if ":" in self._hostText else self._hostText
        return f"<HostnameEndpoint {host}:{self._port}>"
