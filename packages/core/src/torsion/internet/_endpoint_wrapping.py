"""
The factory and protocol wrappers that turn a reactor's ``connect*`` calls
into a ``Deferred`` firing with the connected protocol.
"""

from __future__ import annotations

from typing import Any

from zope.interface import directlyProvides, providedBy

from torsion.internet import error
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import (
    IAddress,
    IConnector,
    IFileDescriptorReceiver,
    IHalfCloseableProtocol,
    IProtocol,
    IProtocolFactory,
)
from torsion.internet.protocol import ClientFactory, Protocol, connectionDone
from torsion.python.failure import Failure

__all__ = ["_WrappingFactory", "_WrappingProtocol"]


class _WrappingProtocol(Protocol):
    """
    Stands between the transport and the user's protocol, so the endpoint
    learns when the connection is made; every event is passed straight on.
    """

    def __init__(
        self, connectedDeferred: Deferred[IProtocol], wrappedProtocol: IProtocol
    ) -> None:
        self._connectedDeferred = connectedDeferred
        self._wrappedProtocol = wrappedProtocol
        # Transports look for optional capabilities (half-close, descriptor
        # passing) on the protocol they hold, which is this wrapper.
        extra = [
            iface
            for iface in (IHalfCloseableProtocol, IFileDescriptorReceiver)
            if iface.providedBy(wrappedProtocol)
        ]
        if extra:
            directlyProvides(self, providedBy(self), *extra)

    def logPrefix(self) -> str:
        """
        :return: the wrapped protocol's log prefix.
        """
        prefix = getattr(self._wrappedProtocol, "logPrefix", None)
        if prefix is not None:
            return str(prefix())
        return self._wrappedProtocol.__class__.__name__

    def connectionMade(self) -> None:
        """
        Connect the user's protocol to the transport, then fire the
        endpoint's ``Deferred`` with it.
        """
        if self._connectedDeferred.called:
            # The attempt was cancelled after the connection was accepted
            # but before it was reported: nobody wants it any more.
            self.transport.loseConnection()
            return
        self._wrappedProtocol.makeConnection(self.transport)
        self._connectedDeferred.callback(self._wrappedProtocol)

    def dataReceived(self, data: bytes) -> None:
        """
        Pass ``data`` on.
        """
        self._wrappedProtocol.dataReceived(data)

    def fileDescriptorReceived(self, descriptor: int) -> None:
        """
        Pass a received descriptor on.
        """
        self._wrappedProtocol.fileDescriptorReceived(descriptor)  # type: ignore[attr-defined]

    def readConnectionLost(self) -> None:
        """
        Pass the half-close on.
        """
        self._wrappedProtocol.readConnectionLost()  # type: ignore[attr-defined]

    def writeConnectionLost(self) -> None:
        """
        Pass the half-close on.
        """
        self._wrappedProtocol.writeConnectionLost()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Pass the loss on.
        """
        self._wrappedProtocol.connectionLost(reason)


class _WrappingFactory(ClientFactory):
    """
    Wraps the user's factory for one outgoing connection; ``_onConnection``
    fires with the user's protocol once connected, or fails with why not.
    Cancelling ``_onConnection`` abandons the attempt.
    """

    protocol = _WrappingProtocol  # type: ignore[assignment]

    def __init__(self, wrappedFactory: IProtocolFactory) -> None:
        self._wrappedFactory = wrappedFactory
        self._connector: IConnector | None = None
        self._onConnection: Deferred[Any] = Deferred(self._cancel)

    def _cancel(self, deferred: Deferred[Any]) -> None:
        connector = self._connector
        if connector is None:
            deferred.errback(error.ConnectingCancelledError(None))
            return
        deferred.errback(error.ConnectingCancelledError(connector.getDestination()))
        try:
            connector.stopConnecting()
        except error.NotConnectingError:
            pass

    def startedConnecting(self, connector: IConnector) -> None:
        """
        Remember the connector, to stop it if the attempt is cancelled.
        """
        self._connector = connector

    def doStart(self) -> None:
        """
        Start the wrapped factory.
        """
        self._wrappedFactory.doStart()

    def doStop(self) -> None:
        """
        Stop the wrapped factory.
        """
        self._wrappedFactory.doStop()

    def buildProtocol(self, addr: IAddress) -> Protocol | None:
        """
        Build the user's protocol and wrap it.

        If the user's factory raises or returns ``None``, the connection is
        refused and ``_onConnection`` fails (with the exception, or
        ``NoProtocol``). After cancellation the connection is refused.
        """
        if self._onConnection.called:
            return None
        try:
            built = self._wrappedFactory.buildProtocol(addr)
            if built is None:
                raise error.NoProtocol()
        except BaseException:
            self._onConnection.errback(Failure())
            return None
        return _WrappingProtocol(self._onConnection, built)

    def clientConnectionFailed(self, connector: IConnector, reason: Failure) -> None:
        """
        Fail ``_onConnection`` with ``reason`` (unless it already fired).
        """
        if not self._onConnection.called:
            self._onConnection.errback(reason)
