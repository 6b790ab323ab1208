"""
Benchmark torsion's Deferred against Twisted's Deferred and asyncio.

Run with the bench environment, where Twisted is installed::

    /work/benchvenv/bin/python packages/core/benchmarks/bench_defer.py

Without Twisted the torsion (and asyncio) columns are still printed.
Ratios are anchor time / torsion time, so above 1.0 means torsion is faster.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

from torsion.internet import defer as tdefer

try:
    from twisted.internet import defer as wdefer
except ImportError:  # pragma: no cover - depends on the environment
    wdefer = None

REPEATS = 7


def timeOnce(fn: Callable[[int], None], n: int) -> float:
    """
    CPU time per operation, in microseconds, of one run.  CPU time rather
    than wall time: it is not inflated by other processes on a busy machine.
    """
    gc.collect()
    start = time.process_time()
    fn(n)
    return (time.process_time() - start) / n * 1e6


def compare(fns: list[Callable[[int], None] | None], n: int) -> list[float | None]:
    """
    Best time per operation of each function, runs interleaved so that a
    burst of load on the machine hits all of them alike.
    """
    best: list[float | None] = [None] * len(fns)
    for _ in range(REPEATS):
        for i, fn in enumerate(fns):
            if fn is None:
                continue
            t = timeOnce(fn, n)
            current = best[i]
            best[i] = t if current is None else min(current, t)
    return best


def identity(x: Any) -> Any:
    return x


# -- callback chain -----------------------------------------------------------------


def makeChain(mod: Any) -> Callable[[int], None]:
    Deferred = mod.Deferred

    def run(n: int) -> None:
        for i in range(n):
            d = Deferred()
            add = d.addCallback
            for _ in range(10):
                add(identity)
            d.callback(i)

    return run


def makeErrChain(mod: Any) -> Callable[[int], None]:
    Deferred = mod.Deferred

    def trapIt(f: Any) -> int:
        f.trap(ValueError)
        return 0

    def boom(x: Any) -> Any:
        raise ValueError(x)

    def run(n: int) -> None:
        for i in range(n):
            d = Deferred()
            d.addCallback(boom)
            for _ in range(5):
                d.addCallback(identity)
            d.addErrback(trapIt)
            d.callback(i)

    return run


def makeNested(mod: Any) -> Callable[[int], None]:
    Deferred = mod.Deferred

    def run(n: int) -> None:
        for i in range(n):
            inner = Deferred()
            outer = Deferred()
            outer.addCallback(lambda _, inner=inner: inner)
            outer.addCallback(identity)
            outer.callback(None)
            inner.callback(i)

    return run


# -- coroutines ------------------------------------------------------------------------


def makeInline(mod: Any) -> Callable[[int], None]:
    succeed = mod.succeed

    @mod.inlineCallbacks
    def gen(i: int) -> Any:
        total = 0
        for _ in range(10):
            total += yield succeed(i)
        return total

    def run(n: int) -> None:
        for i in range(n):
            gen(i)

    return run


def makeAwait(mod: Any) -> Callable[[int], None]:
    succeed = mod.succeed
    ensureDeferred = mod.ensureDeferred

    async def coro(i: int) -> int:
        total = 0
        for _ in range(10):
            total += await succeed(i)
        return total

    def run(n: int) -> None:
        for i in range(n):
            ensureDeferred(coro(i))

    return run


def makeAwaitPending(mod: Any) -> Callable[[int], None]:
    Deferred = mod.Deferred
    ensureDeferred = mod.ensureDeferred

    async def coro(ds: list[Any]) -> int:
        total = 0
        for d in ds:
            total += await d
        return total

    def run(n: int) -> None:
        for _ in range(n):
            ds = [Deferred() for _ in range(10)]
            ensureDeferred(coro(ds))
            for i, d in enumerate(ds):
                d.callback(i)

    return run


def asyncioAwait(n: int) -> None:
    loop = asyncio.new_event_loop()
    try:
        done = [loop.create_future() for _ in range(10)]
        for i, f in enumerate(done):
            f.set_result(i)

        async def coro() -> int:
            total = 0
            for f in done:
                total += await f
            return total

        for _ in range(n):
            c = coro()
            try:
                c.send(None)
            except StopIteration:
                pass
    finally:
        loop.close()


# -- deep chain ------------------------------------------------------------------------


def deepChain(mod: Any, depth: int, traced: bool) -> float:
    """
    Build and fire a chain of ``depth`` Deferreds, each callback returning
    the next.  Returns the CPU time in seconds, or (``traced``) the peak traced
    memory in MiB.
    """
    Deferred = mod.Deferred
    gc.collect()
    if traced:
        tracemalloc.start()
    start = time.process_time()
    ds = [Deferred() for _ in range(depth)]
    for i in range(depth - 1):
        ds[i].addCallback(lambda _, nxt=ds[i + 1]: nxt)
    for d in ds[:-1]:
        d.callback(None)
    out: list[Any] = []
    ds[0].addCallback(out.append)
    ds[-1].callback("done")
    elapsed = time.process_time() - start
    assert out == ["done"], out
    if traced:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        return peak / 2**20
    return elapsed


def main() -> None:
    print(f"Python {sys.version.split()[0]}; CPU time per operation, best of {REPEATS}")
    if wdefer is None:
        print("Twisted not importable: torsion only")
    rows: list[tuple[str, float, float | None, float | None]] = []
    cases: list[tuple[str, Callable[[Any], Callable[[int], None]], int]] = [
        ("chain: create, 10 callbacks, fire", makeChain, 20000),
        ("error chain: raise, 5 skipped, trap", makeErrChain, 10000),
        ("nested: callback returns Deferred", makeNested, 20000),
        ("inlineCallbacks: 10 yields (fired)", makeInline, 10000),
        ("ensureDeferred: 10 awaits (fired)", makeAwait, 10000),
        ("ensureDeferred: 10 awaits (pending)", makeAwaitPending, 5000),
    ]
    for name, factory, n in cases:
        fns: list[Callable[[int], None] | None] = [
            factory(tdefer),
            factory(wdefer) if wdefer is not None else None,
            asyncioAwait if factory is makeAwait else None,
        ]
        t, w, a = compare(fns, n)
        assert t is not None
        rows.append((name, t, w, a))
    print()
    print(
        f"{'benchmark':40} {'torsion us':>11} {'twisted us':>11} {'ratio tw/to':>11}"
        f" {'asyncio us':>11} {'ratio as/to':>11}"
    )
    for name, t, w, a in rows:
        ws = f"{w:11.2f}" if w is not None else f"{'-':>11}"
        wr = f"{w / t:11.2f}" if w is not None else f"{'-':>11}"
        as_ = f"{a:11.2f}" if a is not None else f"{'-':>11}"
        ar = f"{a / t:11.2f}" if a is not None else f"{'-':>11}"
        print(f"{name:40} {t:11.2f} {ws} {wr} {as_} {ar}")
    print()
    depth = 100_000
    mods = [("torsion", tdefer)] + ([("twisted", wdefer)] if wdefer else [])
    results: dict[str, tuple[float, float]] = {}
    for label, mod in mods:
        try:
            seconds = min(deepChain(mod, depth, False) for _ in range(3))
            mib = deepChain(mod, depth, True)
        except RecursionError:
            print(f"{depth}-deep chain {label}: RecursionError")
            continue
        results[label] = (seconds, mib)
        print(f"{depth}-deep chain {label:8} {seconds:7.3f} s   peak {mib:7.1f} MiB")
    if len(results) == 2:
        (tt, tm), (wt, wm) = results["torsion"], results["twisted"]
        print(f"deep chain ratios tw/to: time {wt / tt:.2f}, memory {wm / tm:.2f}")


if __name__ == "__main__":
    main()
