"""
asyncio and torsion in one program, one thread, one event loop.

A torsion echo server and an asyncio (stdlib streams) shouting server run
side by side on the asyncio reactor; an asyncio client talks to the torsion
server and a torsion client talks to the asyncio server.  Run it with::

    python asyncio_and_torsion.py

It prints what each client got back and exits with status 0 (1 if
anything failed).

The reactor runs the loop (``reactor.run()``); the asyncio side is an
ordinary asyncio task, and each side awaits the other's results: asyncio
code awaits a ``Deferred`` with ``asFuture(loop)``, torsion code waits for
an asyncio task with ``Deferred.fromFuture``.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from torsion.internet import asyncioreactor, protocol
from torsion.internet.defer import Deferred


class Echo(protocol.Protocol):
    """
    A torsion server protocol: sends back whatever it receives.
    """

    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


class OneLineClient(protocol.Protocol):
    """
    A torsion client protocol: sends a line, fires ``answer`` with the
    first line that comes back, and hangs up.
    """

    def __init__(self, line: bytes, answer: Deferred[bytes]) -> None:
        self.line = line
        self.answer = answer
        self.buffer = b""

    def connectionMade(self) -> None:
        assert self.transport is not None
        self.transport.write(self.line + b"\n")

    def dataReceived(self, data: bytes) -> None:
        self.buffer += data
        if b"\n" in self.buffer and not self.answer.called:
            reply, _, _ = self.buffer.partition(b"\n")
            assert self.transport is not None
            self.transport.loseConnection()
            self.answer.callback(reply)


async def shout(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """
    An asyncio server handler: answers each line in capitals.
    """
    line = await reader.readline()
    writer.write(line.upper())
    await writer.drain()
    writer.close()
    await writer.wait_closed()


async def main(reactor: Any) -> None:
    """
    Serve and talk both ways, then close both servers.

    :param reactor: the running asyncio reactor.
    """
    loop = asyncio.get_running_loop()

    # A torsion server and an asyncio server.
    port = reactor.listenTCP(
        0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1"
    )
    server = await asyncio.start_server(shout, "127.0.0.1", 0)
    asyncioPort = server.sockets[0].getsockname()[1]

    # An asyncio client of the torsion server.
    reader, writer = await asyncio.open_connection("127.0.0.1", port.getHost().port)
    writer.write(b"hello from asyncio\n")
    await writer.drain()
    echoed = await reader.readline()
    writer.close()
    await writer.wait_closed()
    print(f"asyncio client got from the torsion server: {echoed.strip().decode()}")

    # A torsion client of the asyncio server; its Deferred is awaited as a
    # future of this loop.
    answer: Deferred[bytes] = Deferred()
    client = protocol.ClientFactory()
    client.buildProtocol = lambda addr: OneLineClient(  # type: ignore[method-assign]
        b"hello from torsion", answer
    )
    reactor.connectTCP("127.0.0.1", asyncioPort, client)
    shouted = await answer.asFuture(loop)
    print(f"torsion client got from the asyncio server: {shouted.decode()}")

    await port.stopListening().asFuture(loop)
    server.close()
    await server.wait_closed()


def run() -> int:
    """
    Install the asyncio reactor, run ``main`` as an asyncio task and stop
    the reactor when it ends.

    :return: the exit status.
    """
    reactor: Any = asyncioreactor.install()
    status: list[int] = []

    def start() -> None:
        task = asyncio.ensure_future(main(reactor))
        finished = Deferred.fromFuture(task)

        def failed(failure: Any) -> None:
            print(f"failed: {failure.getErrorMessage()}", file=sys.stderr)
            status.append(1)

        finished.addErrback(failed)
        finished.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    return status[0] if status else 0


if __name__ == "__main__":
    sys.exit(run())
