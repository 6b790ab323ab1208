"""
HTTP client throughput: torsion-web's ``Agent`` beside Twisted's ``Agent``
(26.10), in the same run, against the same server.

The server is a small asyncio HTTP/1.1 server in its own process (fixed
13-byte answers, keep-alive).  Each client runs in its own process too,
with a persistent ``HTTPConnectionPool`` and ``N`` requests in flight at
once over ``N`` connections, and reads every body with ``readBody``.
Requests per second are printed, with the ratio torsion/Twisted.

Run with the benchmark environment (Twisted installed)::

    /work/benchvenv/bin/python packages/web/benchmarks/bench_client.py

Twisted's column is left out ("-") when it cannot be imported.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from typing import Any

REQUESTS = 5000
CONCURRENCY = (1, 8, 32)
BODY = b"Hello, world!"


# -- the server -----------------------------------------------------------------


class _Server(asyncio.Protocol):
    answer = (
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n\r\n%s"
        % (len(BODY), BODY)
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")
        if count:
            self.buffer = self.buffer[self.buffer.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(self.answer * count)  # type: ignore[attr-defined]


def serve() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Server, "127.0.0.1", 0)
        print(server.sockets[0].getsockname()[1], flush=True)
        await asyncio.Event().wait()

    asyncio.run(main())


# -- the clients ----------------------------------------------------------------


def runClient(kind: str, port: int, concurrency: int) -> float:
    import importlib

    root = "torsion" if kind == "torsion" else "twisted"
    defer: Any = importlib.import_module(f"{root}.internet.defer")
    reactor: Any = importlib.import_module(f"{root}.internet.reactor")
    web: Any = importlib.import_module(f"{root}.web.client")
    Agent, HTTPConnectionPool, readBody = (
        web.Agent,
        web.HTTPConnectionPool,
        web.readBody,
    )
    pool = HTTPConnectionPool(reactor)
    pool.maxPersistentPerHost = concurrency
    agent = Agent(reactor, pool=pool)
    url = b"http://127.0.0.1:%d/" % port
    result: list[float] = []

    async def worker(count: int) -> None:
        for _ in range(count):
            response = await agent.request(b"GET", url)
            body = await readBody(response)
            assert body == BODY, body

    async def main() -> None:
        # Warm up: open the connections.
        await defer.gatherResults(
            [defer.ensureDeferred(worker(20)) for _ in range(concurrency)]
        )
        start = time.perf_counter()
        each = REQUESTS // concurrency
        await defer.gatherResults(
            [defer.ensureDeferred(worker(each)) for _ in range(concurrency)]
        )
        result.append(each * concurrency / (time.perf_counter() - start))
        await pool.closeCachedConnections()

    def run() -> None:
        d = defer.ensureDeferred(main())
        d.addErrback(lambda f: f.printTraceback())
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(run)
    reactor.run()
    return result[0] if result else float("nan")


def _measure(kind: str, port: int, concurrency: int) -> float | None:
    proc = subprocess.run(
        [sys.executable, __file__, "--client", kind, str(port), str(concurrency)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode != 0:
        if "ModuleNotFoundError" in proc.stderr or "ImportError" in proc.stderr:
            return None
        raise RuntimeError(f"{kind} client failed:\n{proc.stderr}")
    return float(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        print(f"{REQUESTS} GET requests, 13-byte bodies, asyncio server")
        print(
            f"{'in flight':>10} {'torsion req/s':>14} "
            f"{'Twisted req/s':>14} {'ratio':>7}"
        )
        for concurrency in CONCURRENCY:
            ours = _measure("torsion", port, concurrency)
            theirs = _measure("twisted", port, concurrency)
            ratio = f"{ours / theirs:.2f}" if ours and theirs else "-"
            print(
                f"{concurrency:>10} {ours or 0:>14.0f} "
                f"{(f'{theirs:.0f}' if theirs else '-'):>14} {ratio:>7}"
            )
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve()
    elif sys.argv[1:2] == ["--client"]:
        os.environ.setdefault("PYTHONHASHSEED", "0")
        print(runClient(sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))
    else:
        main()
