"""
Wire two protocols together in memory and move bytes between them on demand.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from torsion.internet import error
from torsion.internet.address import IPv4Address
from torsion.internet.interfaces import IProtocol, IPullProducer
from torsion.internet.testing._transport import StringTransport
from torsion.python.failure import Failure

__all__ = ["IOPump", "connect", "connectedServerAndClient"]

_ClientT = TypeVar("_ClientT", bound=IProtocol)
_ServerT = TypeVar("_ServerT", bound=IProtocol)

#: Upper bound on ``IOPump.flush`` rounds, so two protocols that answer each
#: other forever make the test fail instead of hanging.
MAX_FLUSH_ROUNDS = 10_000


class IOPump:
    """
    Moves bytes between two protocols connected over two
    ``StringTransport`` instances, deterministically and only when asked.

    Each ``pump`` delivers what the client wrote to the server, then what
    the server wrote to the client. When one side has called
    ``loseConnection`` and everything it wrote has been delivered, both
    protocols get ``connectionLost`` (``ConnectionDone``); after
    ``abortConnection`` undelivered bytes are dropped and both get
    ``ConnectionLost``. A registered pull producer gets ``resumeProducing``
    once per pump.

    :param client: the client-side protocol.
    :param server: the server-side protocol.
    :param clientTransport: the client's transport.
    :param serverTransport: the server's transport.
    :param debug: print every chunk delivered.

    :ivar disconnected: ``True`` once ``connectionLost`` has been delivered.
    """

    def __init__(
        self,
        client: IProtocol,
        server: IProtocol,
        clientTransport: StringTransport,
        serverTransport: StringTransport,
        debug: bool = False,
    ) -> None:
        self.client = client
        self.server = server
        self.clientIO = clientTransport
        self.serverIO = serverTransport
        self.debug = debug
        self.disconnected = False

    def flush(self) -> None:
        """
        Pump until neither side has anything left to deliver.

        :raises RuntimeError: if the two sides are still exchanging bytes
            after ``MAX_FLUSH_ROUNDS`` pumps.
        """
        for _ in range(MAX_FLUSH_ROUNDS):
            if not self.pump():
                return
        raise RuntimeError(
            f"IOPump.flush: protocols still talking after {MAX_FLUSH_ROUNDS} rounds"
        )

    def pump(self) -> bool:
        """
        Deliver pending bytes once in each direction.

        :return: ``True`` if anything happened (bytes moved or the connection
            closed), ``False`` if the wire was idle.
        """
        if self.disconnected:
            return False
        for transport in (self.clientIO, self.serverIO):
            producer = transport.producer
            if (
                producer is not None
                and not transport.streaming
                and IPullProducer.providedBy(producer)
            ):
                producer.resumeProducing()
        if self.clientIO.aborted or self.serverIO.aborted:
            self._lose(error.ConnectionLost("Connection aborted."))
            return True
        moved = self._deliver(self.clientIO, self.server, "C -> S")
        moved = self._deliver(self.serverIO, self.client, "S -> C") or moved
        if (self.clientIO.disconnecting and not self.clientIO.value()) or (
            self.serverIO.disconnecting and not self.serverIO.value()
        ):
            self._lose(error.ConnectionDone("Connection closed cleanly."))
            return True
        return moved

    def _deliver(
        self, transport: StringTransport, receiver: IProtocol, label: str
    ) -> bool:
        data = transport.value()
        if not data:
            return False
        transport.clear()
        if self.debug:
            print(f"{label} {data!r}")
        receiver.dataReceived(data)
        return True

    def _lose(self, reason: Exception) -> None:
        self.disconnected = True
        self.clientIO.clear()
        self.serverIO.clear()
        for transport in (self.clientIO, self.serverIO):
            transport.disconnecting = True
        if self.debug:
            print(f"connection lost: {reason!r}")
        self.client.connectionLost(Failure(reason))
        self.server.connectionLost(Failure(reason))


def connect(
    serverProtocol: IProtocol,
    serverTransport: StringTransport,
    clientProtocol: IProtocol,
    clientTransport: StringTransport,
    debug: bool = False,
    greet: bool = True,
) -> IOPump:
    """
    Connect two protocols over two in-memory transports.

    The server's ``makeConnection`` runs first, then the client's.

    :param serverProtocol: the server-side protocol.
    :param serverTransport: the transport the server writes to.
    :param clientProtocol: the client-side protocol.
    :param clientTransport: the transport the client writes to.
    :param debug: print every chunk delivered.
    :param greet: flush once at once, so greetings written in
        ``connectionMade`` are delivered before this returns.
    :return: the ``IOPump`` that moves bytes between them.
    """
    serverProtocol.makeConnection(serverTransport)
    clientProtocol.makeConnection(clientTransport)
    pump = IOPump(
        clientProtocol, serverProtocol, clientTransport, serverTransport, debug
    )
    if greet:
        pump.flush()
    return pump


def _makeClientTransport() -> StringTransport:
    return StringTransport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 54321),
        peerAddress=IPv4Address("TCP", "127.0.0.1", 8080),
    )


def _makeServerTransport() -> StringTransport:
    return StringTransport(
        hostAddress=IPv4Address("TCP", "127.0.0.1", 8080),
        peerAddress=IPv4Address("TCP", "127.0.0.1", 54321),
    )


def connectedServerAndClient(
    ServerClass: Callable[[], _ServerT],
    ClientClass: Callable[[], _ClientT],
    clientTransportFactory: Callable[[], StringTransport] = _makeClientTransport,
    serverTransportFactory: Callable[[], StringTransport] = _makeServerTransport,
    debug: bool = False,
    greet: bool = True,
) -> tuple[_ClientT, _ServerT, IOPump]:
    """
    Build a server and a client protocol and connect them in memory.

    By default the client's transport reports ``127.0.0.1:54321`` as its
    host and ``127.0.0.1:8080`` as its peer, and the server's the reverse.

    :param ServerClass: called with no arguments to make the server protocol.
    :param ClientClass: called with no arguments to make the client protocol.
    :param clientTransportFactory: makes the client's transport.
    :param serverTransportFactory: makes the server's transport.
    :param debug: print every chunk delivered.
    :param greet: deliver ``connectionMade`` greetings before returning.
    :return: ``(client, server, pump)``.
    """
    server = ServerClass()
    client = ClientClass()
    pump = connect(
        server,
        serverTransportFactory(),
        client,
        clientTransportFactory(),
        debug=debug,
        greet=greet,
    )
    return client, server, pump
