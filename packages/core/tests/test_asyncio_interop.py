"""
asyncio and torsion in one program: the end-to-end example
``docs/examples/asyncio_and_torsion.py`` is run, and the same exchange is
made in-process on a fresh asyncio reactor.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

from reactormixins import cleanUpReactor, runUntil

from torsion.internet import asyncioreactor, protocol
from torsion.internet.defer import Deferred

EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "asyncio_and_torsion.py"

#: A guard against a hung example, not a measure of anything.
EXAMPLE_TIMEOUT = 120


def test_exampleRuns() -> None:
    """
    The example's asyncio client is answered by the torsion server, its
    torsion client by the asyncio server, and it exits cleanly.
    """
    done = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        capture_output=True,
        text=True,
        timeout=EXAMPLE_TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "asyncio client got from the torsion server: hello from asyncio",
        "torsion client got from the asyncio server: HELLO FROM TORSION",
    ]


class Echo(protocol.Protocol):
    def dataReceived(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


def test_asyncioStreamsAgainstTorsionServer() -> None:
    """
    On a fresh asyncio reactor, an asyncio streams client (an ordinary
    task) exchanges data with a torsion echo server on the same loop.
    """
    loop = asyncio.new_event_loop()
    reactor: Any = asyncioreactor.makeReactor(loop)
    try:
        port = reactor.listenTCP(
            0, protocol.Factory.forProtocol(Echo), interface="127.0.0.1"
        )

        async def client() -> bytes:
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", port.getHost().port
            )
            writer.write(b"x" * 100000)
            await writer.drain()
            data = await reader.readexactly(100000)
            writer.close()
            await writer.wait_closed()
            return data

        result: Deferred[bytes] = Deferred()

        def start() -> None:
            task = loop.create_task(client())
            Deferred.fromFuture(task).chainDeferred(result)

        reactor.callWhenRunning(start)
        assert runUntil(reactor, result) == b"x" * 100000
        runUntil(reactor, port.stopListening())
    finally:
        cleanUpReactor(reactor)
        loop.close()
