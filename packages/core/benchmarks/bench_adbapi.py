"""
Benchmark: queries per second through a thread-backed DB-API pool.

Runs ``QUERIES`` small sqlite3 queries (a file database), ``CONCURRENCY`` in
flight at a time, through torsion's ``adbapi.ConnectionPool``, Twisted's (if
importable: run with ``/work/benchvenv/bin/python``) and, as an asyncio
anchor, ``loop.run_in_executor`` with one connection per thread.  Prints
queries/s and the ratio torsion/anchor (above 1 means torsion is faster).

    python bench_adbapi.py
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

QUERIES = 5000
CONCURRENCY = 16
POOL_SIZE = 5
ROUNDS = 3


def prepare(path: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)")
    conn.executemany(
        "INSERT OR REPLACE INTO t VALUES (?, ?)", [(i, f"v{i}") for i in range(100)]
    )
    conn.commit()
    conn.close()


def runPool(reactor: Any, pool: Any) -> float:
    """
    Drive ``QUERIES`` queries through ``pool`` on ``reactor``; return the
    elapsed seconds.
    """
    remaining = [QUERIES]
    inFlight = [0]
    start = [0.0]
    elapsed = [0.0]

    def launch() -> None:
        while remaining[0] > 0 and inFlight[0] < CONCURRENCY:
            remaining[0] -= 1
            inFlight[0] += 1
            d = pool.runQuery("SELECT v FROM t WHERE k = ?", (remaining[0] % 100,))
            d.addCallback(done)

    def done(rows: list[Any]) -> None:
        assert len(rows) == 1
        inFlight[0] -= 1
        if remaining[0] == 0 and inFlight[0] == 0:
            elapsed[0] = time.perf_counter() - start[0]
            reactor.stop()
        else:
            launch()

    def begin() -> None:
        start[0] = time.perf_counter()
        launch()

    reactor.callWhenRunning(begin)
    reactor.run(installSignalHandlers=False)
    return elapsed[0]


def benchTorsion(path: str) -> float:
    from torsion.enterprise import adbapi
    from torsion.internet.main import makeReactor

    reactor = makeReactor("epoll")
    pool = adbapi.ConnectionPool(
        "sqlite3",
        path,
        check_same_thread=False,
        cp_min=POOL_SIZE,
        cp_max=POOL_SIZE,
        cp_reactor=reactor,
    )
    try:
        return runPool(reactor, pool)
    finally:
        reactor._releaseResources()


def benchTwisted(path: str) -> float | None:
    try:
        from twisted.enterprise import adbapi
        from twisted.internet import epollreactor
    except ImportError:
        return None
    reactor = epollreactor.EPollReactor()
    pool = adbapi.ConnectionPool(
        "sqlite3",
        path,
        check_same_thread=False,
        cp_min=POOL_SIZE,
        cp_max=POOL_SIZE,
        cp_reactor=reactor,
    )
    return runPool(reactor, pool)


def benchAsyncio(path: str) -> float:
    local = threading.local()

    def query(k: int) -> list[Any]:
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = sqlite3.connect(path)
        cursor = conn.cursor()
        cursor.execute("SELECT v FROM t WHERE k = ?", (k,))
        rows = cursor.fetchall()
        cursor.close()
        conn.commit()
        return rows

    async def main() -> float:
        loop = asyncio.get_running_loop()
        executor = concurrent.futures.ThreadPoolExecutor(POOL_SIZE)
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> None:
            async with semaphore:
                rows = await loop.run_in_executor(executor, query, i % 100)
                assert len(rows) == 1

        start = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(QUERIES)))
        elapsed = time.perf_counter() - start
        executor.shutdown()
        return elapsed

    return asyncio.run(main())


def best(f: Callable[[str], float | None], path: str) -> float | None:
    times = [f(path) for _ in range(ROUNDS)]
    if times[0] is None:
        return None
    return min(t for t in times if t is not None)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.db")
        prepare(path)
        torsion = best(benchTorsion, path)
        assert torsion is not None
        twisted = best(benchTwisted, path)
        asyncioTime = best(benchAsyncio, path)
    print(
        f"sqlite3 queries, {QUERIES} queries, {CONCURRENCY} in flight, "
        f"{POOL_SIZE} threads (best of {ROUNDS})"
    )
    print(f"{'implementation':<28}{'queries/s':>12}{'torsion/anchor':>16}")
    print(f"{'torsion adbapi':<28}{QUERIES / torsion:>12.0f}{'':>16}")
    for name, t in (
        ("Twisted adbapi", twisted),
        ("asyncio run_in_executor", asyncioTime),
    ):
        if t is None:
            print(f"{name:<28}{'n/a':>12}{'(not importable)':>16}")
        else:
            print(f"{name:<28}{QUERIES / t:>12.0f}{t / torsion:>16.2f}")


if __name__ == "__main__":
    main()
