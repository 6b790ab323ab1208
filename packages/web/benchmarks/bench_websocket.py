"""
WebSocket echo throughput: torsion.web.websocket against the ``websockets``
library's asyncio server and, when importable (Twisted 25.5+ with
``wsproto``), twisted.web.websocket.

Each server runs in its own process; the load comes from the same client,
in another process: small text messages, masked as a browser would send
them, kept in flight (pipelined) on one connection, then spread over
several connections.  No compression on either side, so the framing and
the event loop are what is measured.

Run: ``python packages/web/benchmarks/bench_websocket.py`` (about 30 s), or
with ``/work/benchvenv/bin/python`` to include Twisted (about 45 s).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import subprocess
import sys
import time

MESSAGE = b"hello websocket!"  # 16 bytes
MASK = b"\x11\x22\x33\x44"
FRAME = (
    bytes((0x81, 0x80 | len(MESSAGE)))
    + MASK
    + bytes(b ^ MASK[i % 4] for i, b in enumerate(MESSAGE))
)
DURATION = 4.0


# Servers


def serveTorsion() -> None:
    from torsion.internet import reactor
    from torsion.web.resource import Resource
    from torsion.web.server import Site
    from torsion.web.websocket import (
        WebSocketProtocol,
        WebSocketResource,
        WebSocketTransport,
    )

    class Echo(WebSocketProtocol):
        def negotiationStarted(self, transport: WebSocketTransport) -> None:
            self.transport = transport

        def textMessageReceived(self, data: str) -> None:
            self.transport.sendTextMessage(data)

    root = Resource()
    root.putChild(b"echo", WebSocketResource(Echo, compression=None))
    site = Site(root)
    site.noisy = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    print(port.getHost().port, flush=True)
    reactor.run()


def serveWebsockets() -> None:
    from websockets.asyncio.server import serve
    from websockets.exceptions import ConnectionClosed

    async def echo(ws: object) -> None:
        try:
            async for message in ws:  # type: ignore[attr-defined]
                await ws.send(message)  # type: ignore[attr-defined]
        except ConnectionClosed:
            # The load generator drops its connections when time is up.
            pass

    async def main() -> None:
        async with serve(echo, "127.0.0.1", 0, compression=None) as server:
            print(next(iter(server.sockets)).getsockname()[1], flush=True)
            await asyncio.Future()

    asyncio.run(main())


def serveTwisted() -> None:
    from twisted.internet import reactor
    from twisted.web.resource import Resource
    from twisted.web.server import Site
    from twisted.web.websocket import WebSocketResource

    class Echo:
        def negotiationStarted(self, transport: object) -> None:
            self.transport = transport

        def negotiationFinished(self) -> None:
            pass

        def textMessageReceived(self, data: str) -> None:
            self.transport.sendTextMessage(data)  # type: ignore[attr-defined]

        def bytesMessageReceived(self, data: bytes) -> None:
            self.transport.sendBytesMessage(data)  # type: ignore[attr-defined]

        def pongReceived(self, payload: bytes) -> None:
            pass

        def connectionLost(self, reason: object) -> None:
            pass

    class Factory:
        def buildProtocol(self, request: object) -> Echo:
            return Echo()

    root = Resource()
    root.putChild(b"echo", WebSocketResource(Factory()))  # type: ignore[arg-type]
    site = Site(root)
    site.noisy = False
    port = reactor.listenTCP(0, site, interface="127.0.0.1")  # type: ignore[attr-defined]
    print(port.getHost().port, flush=True)
    reactor.run()  # type: ignore[attr-defined]


def twistedAvailable() -> bool:
    try:
        import twisted.web.websocket  # noqa: F401
    except ImportError:
        return False
    return True


# The load generator


async def oneConnection(port: int, window: int, deadline: float) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16))
    writer.write(
        b"GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Key: " + key + b"\r\n"
        b"Sec-WebSocket-Version: 13\r\n\r\n"
    )
    head = await reader.readuntil(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 101"):
        raise SystemExit(f"handshake refused: {head!r}")
    writer.write(FRAME * window)
    received = 0
    buffer = b""
    while True:
        data = await reader.read(65536)
        if not data:
            raise SystemExit("the server closed the connection")
        buffer += data
        count = 0
        offset = 0
        # Every echo is an unmasked 16-byte text frame: 18 bytes.
        while len(buffer) - offset >= 2 + len(MESSAGE):
            offset += 2 + (buffer[offset + 1] & 0x7F)
            count += 1
        buffer = buffer[offset:]
        received += count
        if time.perf_counter() >= deadline:
            break
        writer.write(FRAME * count)
    writer.close()
    return received


async def load(port: int, connections: int, window: int) -> float:
    start = time.perf_counter()
    deadline = start + DURATION
    counts = await asyncio.gather(
        *(oneConnection(port, window, deadline) for _ in range(connections))
    )
    return sum(counts) / (time.perf_counter() - start)


def runClient(port: int, connections: int, window: int) -> float:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--client",
            str(port),
            str(connections),
            str(window),
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return float(out.stdout)


def measure(server: str, connections: int, window: int) -> float:
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", server],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        return runClient(port, connections, window)
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve")
    parser.add_argument("--client", nargs=3, type=int)
    args = parser.parse_args()
    if args.serve == "torsion":
        serveTorsion()
        return
    if args.serve == "websockets":
        serveWebsockets()
        return
    if args.serve == "twisted":
        serveTwisted()
        return
    if args.client:
        port, connections, window = args.client
        print(asyncio.run(load(port, connections, window)))
        return
    scenarios = [
        ("1 connection, 1 in flight", 1, 1),
        ("1 connection, 100 in flight", 1, 100),
        ("8 connections, 10 in flight each", 8, 10),
    ]
    withTwisted = twistedAvailable()
    print(f"WebSocket echo, 16-byte text messages, {DURATION:.0f} s per run")
    header = f"{'scenario':34} {'torsion':>9} {'websockets':>11} {'ratio':>6}"
    if withTwisted:
        header += f" {'twisted':>9} {'ratio':>6}"
    print(header + "   (messages/s)")
    for name, connections, window in scenarios:
        torsion = measure("torsion", connections, window)
        anchor = measure("websockets", connections, window)
        line = f"{name:34} {torsion:9.0f} {anchor:11.0f} {torsion / anchor:6.2f}"
        if withTwisted:
            twisted = measure("twisted", connections, window)
            line += f" {twisted:9.0f} {torsion / twisted:6.2f}"
        print(line)
    if not withTwisted:
        print(
            "(twisted.web.websocket not importable: run with /work/benchvenv/bin/python"
        )
        print(" for Twisted's numbers as well)")


if __name__ == "__main__":
    main()
