"""
Wrapping a factory so its protocols see the real client's address behind a
proxy that speaks the PROXY protocol.
"""

from __future__ import annotations

from typing import Any

from zope.interface import directlyProvides, providedBy

from torsion.internet import interfaces, protocol
from torsion.logger import Logger
from torsion.protocols.haproxy._exceptions import InvalidProxyHeader
from torsion.protocols.haproxy._info import ProxyInfo
from torsion.protocols.haproxy._v1parser import V1_SIGNATURE, V1Parser
from torsion.protocols.haproxy._v2parser import V2_SIGNATURE, V2Parser
from torsion.protocols.policies import ProtocolWrapper, WrappingFactory
from torsion.python.failure import Failure

__all__ = ["HEADER_TIMEOUT", "HAProxyProtocolWrapper", "HAProxyWrappingFactory"]

HEADER_TIMEOUT = 30.0
"""Seconds a connection may take to send its PROXY header before it is dropped."""

_log = Logger(namespace="torsion.protocols.haproxy")


class HAProxyProtocolWrapper(ProtocolWrapper):
    """
    Reads a PROXY protocol header (version 1 or 2, detected from the first
    bytes) before anything else on the connection; then connects the
    wrapped protocol, whose transport's ``getPeer()`` and ``getHost()``
    return the addresses the header gave.

    The wrapped protocol's ``connectionMade`` runs only once the header is
    complete; bytes after the header are delivered to it.  A malformed or
    over-long header closes the connection and the wrapped protocol never
    sees it.

    :ivar info: the parsed ``ProxyInfo``, None until the header is read.
    """

    info: ProxyInfo | None = None

    def __init__(self, factory: WrappingFactory, wrappedProtocol: Any) -> None:
        """
        :param factory: the ``HAProxyWrappingFactory`` that built this.
        :param wrappedProtocol: the protocol to hand the connection to.
        """
        super().__init__(factory, wrappedProtocol)
        self._parser: V1Parser | V2Parser | None = None
        self._pending = b""
        self._failed = False
        self._headerTimeout: Any = None

    def makeConnection(self, transport: Any) -> None:
        """
        Take the transport; the wrapped protocol is connected later, once
        the header is read.

        :param transport: the real transport.
        """
        directlyProvides(self, providedBy(transport))
        protocol.Protocol.makeConnection(self, transport)
        self.factory.registerProtocol(self)
        timeout = getattr(self.factory, "headerTimeout", None)
        if timeout is not None:
            self._headerTimeout = self.factory._clock().callLater(
                timeout, self._headerTimedOut
            )

    def _headerTimedOut(self) -> None:
        self._headerTimeout = None
        if self.info is None and not self._failed:
            self._failed = True
            _log.info("closing connection: no PROXY header within the timeout")
            self.transport.abortConnection()

    def _cancelHeaderTimeout(self) -> None:
        if self._headerTimeout is not None:
            if self._headerTimeout.active():
                self._headerTimeout.cancel()
            self._headerTimeout = None

    def dataReceived(self, data: bytes) -> None:
        """
        Parse the header, then pass everything after it to the wrapped
        protocol.

        :param data: the bytes received.
        """
        if self.info is not None:
            self.wrappedProtocol.dataReceived(data)
            return
        if self._failed:
            return
        try:
            info, rest = self._feed(data)
        except InvalidProxyHeader as e:
            self._cancelHeaderTimeout()
            self._failed = True
            _log.info("closing connection: {error}", error=str(e))
            self.transport.loseConnection()
            return
        if info is None:
            return
        self._cancelHeaderTimeout()
        self.info = info
        self.wrappedProtocol.makeConnection(self)
        if rest and not self.disconnecting:
            self.wrappedProtocol.dataReceived(rest)

    def _feed(self, data: bytes) -> tuple[ProxyInfo | None, bytes | None]:
        if self._parser is None:
            self._pending += data
            head = self._pending
            if V1_SIGNATURE.startswith(head[: len(V1_SIGNATURE)]) and not (
                V2_SIGNATURE.startswith(head[: len(V2_SIGNATURE)])
            ):
                self._parser = V1Parser()
            elif V2_SIGNATURE.startswith(head[: len(V2_SIGNATURE)]) and not (
                V1_SIGNATURE.startswith(head[: len(V1_SIGNATURE)])
            ):
                self._parser = V2Parser()
            elif not V1_SIGNATURE.startswith(
                head[: len(V1_SIGNATURE)]
            ) and not V2_SIGNATURE.startswith(head[: len(V2_SIGNATURE)]):
                raise InvalidProxyHeader("connection did not start with a PROXY header")
            else:
                # Only the empty string is a prefix of both signatures.
                return None, None
            data, self._pending = self._pending, b""
        return self._parser.feed(data)

    def getPeer(self) -> interfaces.IAddress:
        """
        :return: the original client's address from the header, or the
            real transport's peer when the header did not give one.
        """
        if self.info is not None and self.info.source is not None:
            return self.info.source
        return super().getPeer()

    def getHost(self) -> interfaces.IAddress:
        """
        :return: the address the original client connected to, from the
            header, or the real transport's host when it did not give one.
        """
        if self.info is not None and self.info.destination is not None:
            return self.info.destination
        return super().getHost()

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        """
        Tell the factory, and the wrapped protocol if it was connected.

        :param reason: why the connection was lost.
        """
        self.connected = False
        self._cancelHeaderTimeout()
        self.factory.unregisterProtocol(self)
        if self.info is not None:
            self.wrappedProtocol.connectionLost(reason)


class HAProxyWrappingFactory(WrappingFactory):
    """
    Wraps a server factory so every connection starts by reading a PROXY
    protocol header (versions 1 and 2 both accepted), and its protocols
    see the original client's address through ``transport.getPeer()``.

    Listen with it only behind a proxy you trust: the header is believed.

    ::

        reactor.listenTCP(8080, HAProxyWrappingFactory(MyFactory()))

    :param wrappedFactory: the factory of the real protocol.
    :param headerTimeout: seconds a connection may take to send its header
        before it is dropped (``None``: no limit).
    :param clock: the ``IReactorTime`` for that timeout (the global reactor
        when ``None``).
    """

    protocol = HAProxyProtocolWrapper

    def __init__(
        self,
        wrappedFactory: Any,
        headerTimeout: float | None = HEADER_TIMEOUT,
        clock: Any = None,
    ) -> None:
        super().__init__(wrappedFactory)
        self.headerTimeout = headerTimeout
        self._clockOverride = clock

    def _clock(self) -> Any:
        if self._clockOverride is not None:
            return self._clockOverride
        import torsion.internet.reactor

        return torsion.internet.reactor

    def logPrefix(self) -> str:
        """
        :return: the wrapped factory's log prefix, marked as behind a proxy.
        """
        return f"{super().logPrefix()} (PROXY)"
