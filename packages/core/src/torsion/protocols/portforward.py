"""
A TCP port forwarder: every connection accepted is relayed, both ways, to
a fixed host and port.

::

    reactor.listenTCP(8080, ProxyFactory("example.com", 80, reactor=reactor))

Flow control runs both ways: each side's transport is registered as the
producer of the other side's, so when one peer reads slowly, reading from
the other peer pauses until the backlog drains.
"""

from __future__ import annotations

from typing import Any

from torsion.internet import protocol
from torsion.internet.interfaces import IAddress, IConnector
from torsion.python.failure import Failure

__all__ = ["Proxy", "ProxyClient", "ProxyClientFactory", "ProxyFactory", "ProxyServer"]


def _globalReactor() -> Any:
    # Only reached when no reactor was given: the outermost layer's choice.
    from torsion.internet import reactor

    return reactor


class Proxy(protocol.Protocol):
    """
    One side of a relayed connection: what it receives is written to its
    ``peer``; when it is lost, its peer is closed too.

    :ivar peer: the ``Proxy`` on the other side, or None before it exists
        and after this side is gone.
    """

    peer: Proxy | None = None

    def setPeer(self, peer: Proxy) -> None:
        """
        :param peer: the other side of the relay.
        """
        self.peer = peer

    def dataReceived(self, data: bytes) -> None:
        """
        Relay received bytes to the peer.

        :param data: the bytes received.
        """
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)

    def connectionLost(self, reason: Failure = protocol.connectionDone) -> None:
        """
        Close the peer once what it still has to send is written.

        :param reason: why this side was lost.
        """
        peer, self.peer = self.peer, None
        if peer is not None and peer.transport is not None:
            peer.transport.loseConnection()


class ProxyClient(Proxy):
    """
    The outgoing side: connects to the destination on behalf of a
    ``ProxyServer``.
    """

    def connectionMade(self) -> None:
        """
        Pair with the server side, wire flow control both ways and resume
        reading from the original client.
        """
        peer = self.peer
        if peer is None or peer.transport is None:
            self.transport.loseConnection()
            return
        peer.setPeer(self)
        # A full outgoing buffer on one side pauses reading on the other.
        self.transport.registerProducer(peer.transport, True)
        peer.transport.registerProducer(self.transport, True)
        peer.transport.resumeProducing()


class ProxyClientFactory(protocol.ClientFactory):
    """
    Builds the ``ProxyClient`` for one ``ProxyServer``; closes that server
    connection if the destination cannot be reached.
    """

    protocol = ProxyClient
    server: Proxy | None = None

    def setServer(self, server: Proxy) -> None:
        """
        :param server: the accepted connection to relay for.
        """
        self.server = server

    def buildProtocol(self, addr: IAddress) -> Proxy | None:
        """
        :param addr: the destination's address.
        :return: a ``ProxyClient`` paired with the server side.
        """
        client = self.protocol()
        assert isinstance(client, Proxy)
        if self.server is not None:
            client.setPeer(self.server)
        return client

    def clientConnectionFailed(self, connector: IConnector, reason: Failure) -> None:
        """
        Close the original client's connection.

        :param connector: the failed connector.
        :param reason: why it failed.
        """
        if self.server is not None and self.server.transport is not None:
            self.server.transport.loseConnection()


class ProxyServer(Proxy):
    """
    The accepted side: stops reading from the client until the destination
    connection is up, then relays.

    :ivar clientProtocolFactory: the factory class for the outgoing side.
    :ivar reactor: the reactor used to connect; the factory's by default.
    """

    clientProtocolFactory: type[ProxyClientFactory] = ProxyClientFactory
    reactor: Any = None

    def connectionMade(self) -> None:
        """
        Pause reading and connect to the factory's destination.
        """
        self.transport.pauseProducing()
        client = self.clientProtocolFactory()
        client.setServer(self)
        reactor = self.reactor
        factory: Any = self.factory
        if reactor is None:
            reactor = getattr(factory, "reactor", None) or _globalReactor()
        reactor.connectTCP(factory.host, factory.port, client)


class ProxyFactory(protocol.Factory):
    """
    Builds a ``ProxyServer`` for each accepted connection, relaying it to
    ``host``:``port``.

    :ivar host: the destination host name or address.
    :ivar port: the destination port.
    :ivar reactor: the reactor used to connect; the global one if None.
    """

    protocol = ProxyServer

    def __init__(self, host: str, port: int, reactor: Any = None) -> None:
        """
        :param host: the destination host name or address.
        :param port: the destination port.
        :param reactor: the reactor used to connect; the global one (looked
            up when a connection arrives) if None.
        :raises TypeError: if ``host`` is not a ``str`` or ``port`` not an int.
        """
        if not isinstance(host, str):
            raise TypeError(f"host must be str, not {type(host).__name__}")
        if not isinstance(port, int) or isinstance(port, bool):
            raise TypeError(f"port must be int, not {type(port).__name__}")
        self.host = host
        self.port = port
        self.reactor = reactor
