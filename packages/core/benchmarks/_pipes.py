"""
An in-memory connection for the benchmarks of protocols (AMP, PB): two
``Pipe`` transports that hold what is written until pumped, so a benchmark
measures the protocol, not sockets.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class _Address:
    host = "127.0.0.1"
    port = 1
    type = "TCP"


class Pipe:
    """A transport that keeps what is written until ``deliver``."""

    disconnecting = False

    def __init__(self) -> None:
        self.buffer: list[bytes] = []
        self.peer: Any = None

    def write(self, data: bytes) -> None:
        self.buffer.append(data)

    def writeSequence(self, data: list[bytes]) -> None:
        self.buffer.extend(data)

    def deliver(self) -> bool:
        if not self.buffer:
            return False
        data = b"".join(self.buffer)
        self.buffer = []
        self.peer.dataReceived(data)
        return True

    def loseConnection(self) -> None:
        self.disconnecting = True

    def getPeer(self) -> _Address:
        return _Address()

    def getHost(self) -> _Address:
        return _Address()

    def registerProducer(self, producer: object, streaming: bool) -> None:
        pass

    def unregisterProducer(self) -> None:
        pass


def connect(server: Any, client: Any) -> Callable[[], None]:
    toServer, toClient = Pipe(), Pipe()
    toServer.peer, toClient.peer = server, client
    server.makeConnection(toClient)
    client.makeConnection(toServer)

    def pump() -> None:
        while toServer.deliver() | toClient.deliver():
            pass

    pump()
    return pump
