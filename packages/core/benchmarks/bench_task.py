"""
Benchmark torsion.internet.task, torsion.internet.testing and endpoint
description parsing against Twisted's equivalents.

Run with the bench environment, where Twisted is installed::

    /work/benchvenv/bin/python packages/core/benchmarks/bench_task.py

Without Twisted only the torsion column is printed. Times are CPU
microseconds per operation (best of several interleaved runs); the ratio is
torsion time / Twisted time, so below 1.0 means torsion is faster.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Iterator
from typing import Any

from torsion.internet import endpoints as tendpoints
from torsion.internet import protocol as tprotocol
from torsion.internet import task as ttask
from torsion.internet import testing as ttesting

try:
    from twisted.internet import endpoints as wendpoints
    from twisted.internet import protocol as wprotocol
    from twisted.internet import task as wtask
    from twisted.internet import testing as wtesting
    from twisted.test import iosim as wiosim
except ImportError:  # pragma: no cover - depends on the environment
    wtask = wtesting = wendpoints = wprotocol = wiosim = None

REPEATS = 5


def timeOnce(fn: Callable[[int], None], n: int) -> float:
    gc.collect()
    start = time.process_time()
    fn(n)
    return (time.process_time() - start) / n * 1e6


def compare(fns: list[Callable[[int], None] | None], n: int) -> list[float | None]:
    best: list[float | None] = [None] * len(fns)
    for _ in range(REPEATS):
        for i, fn in enumerate(fns):
            if fn is None:
                continue
            t = timeOnce(fn, n)
            current = best[i]
            best[i] = t if current is None else min(current, t)
    return best


# -- scenarios, each written once and run against both libraries ----------


def clockSchedule(task: Any) -> Callable[[int], None]:
    """
    Schedule n calls at spread-out times, then advance past all of them.
    """

    def run(n: int) -> None:
        clock = task.Clock()
        noop = int
        for i in range(n):
            clock.callLater(i % 100, noop)
        clock.advance(100)

    return run


def loopingCall(task: Any) -> Callable[[int], None]:
    """
    n ticks of a LoopingCall driven by a Clock.
    """

    def run(n: int) -> None:
        clock = task.Clock()
        count = [0]

        def tick() -> None:
            count[0] += 1

        loop = task.LoopingCall(tick)
        loop.clock = clock
        loop.start(1.0)
        for _ in range(n - 1):
            clock.advance(1.0)
        loop.stop()
        assert count[0] == n

    return run


def cooperator(task: Any) -> Callable[[int], None]:
    """
    n steps of one cooperative task (ten per tick), ticks driven by a Clock.
    """

    def run(n: int) -> None:
        clock = task.Clock()

        def perTick() -> Callable[[], bool]:
            left = [10]

            def done() -> bool:
                left[0] -= 1
                return left[0] <= 0

            return done

        coop = task.Cooperator(perTick, lambda work: clock.callLater(1, work))

        def steps() -> Iterator[None]:
            for _ in range(n):
                yield None

        finished: list[Any] = []
        coop.coiterate(steps()).addBoth(finished.append)
        while not finished:
            clock.advance(1)

    return run


def stringTransport(testing: Any, prot: Any) -> Callable[[int], None]:
    """
    n small writes through a protocol into a StringTransport.
    """

    def run(n: int) -> None:
        p = prot.Protocol()
        t = testing.StringTransport()
        p.makeConnection(t)
        data = b"x" * 32
        for _ in range(n):
            p.transport.write(data)
        assert len(t.value()) == 32 * n

    return run


def pumpEcho(connected: Any, prot: Any) -> Callable[[int], None]:
    """
    n round trips between two protocols connected in memory.
    """

    def run(n: int) -> None:
        class Echo(prot.Protocol):
            def dataReceived(self, data: bytes) -> None:
                self.transport.write(data)

        class Counter(prot.Protocol):
            received = 0

            def dataReceived(self, data: bytes) -> None:
                self.received += len(data)

        client, _server, pump = connected(Echo, Counter)
        for _ in range(n):
            client.transport.write(b"ping")
            pump.flush()
        assert client.received == 4 * n

    return run


def parseServer(endpoints: Any, reactor: Any) -> Callable[[int], None]:
    """
    n serverFromString calls on a typical description.
    """

    def run(n: int) -> None:
        for _ in range(n):
            endpoints.serverFromString(reactor, "tcp:8080:interface=127.0.0.1")

    return run


def main() -> None:
    twisted = wtask is not None
    rows: list[tuple[str, int, Callable[[int], None], Callable[[int], None] | None]] = [
        (
            # Kept small: Twisted's Clock re-sorts every pending call on each
            # callLater, which is quadratic in the number pending.
            "Clock.callLater+advance",
            2_000,
            clockSchedule(ttask),
            clockSchedule(wtask) if twisted else None,
        ),
        (
            "LoopingCall tick (Clock)",
            20_000,
            loopingCall(ttask),
            loopingCall(wtask) if twisted else None,
        ),
        (
            "Cooperator step",
            50_000,
            cooperator(ttask),
            cooperator(wtask) if twisted else None,
        ),
        (
            "StringTransport.write",
            200_000,
            stringTransport(ttesting, tprotocol),
            stringTransport(wtesting, wprotocol) if twisted else None,
        ),
        (
            "in-memory echo round trip",
            20_000,
            pumpEcho(ttesting.connectedServerAndClient, tprotocol),
            pumpEcho(lambda s, c: wiosim.connectedServerAndClient(s, c), wprotocol)
            if twisted
            else None,
        ),
        (
            "serverFromString tcp",
            20_000,
            parseServer(tendpoints, ttesting.MemoryReactor()),
            parseServer(wendpoints, wtesting.MemoryReactor()) if twisted else None,
        ),
    ]
    print(f"{'scenario':<28}{'torsion us/op':>15}{'Twisted us/op':>15}{'ratio':>9}")
    for name, n, ours, theirs in rows:
        t, w = compare([ours, theirs], n)
        assert t is not None
        if w is None:
            print(f"{name:<28}{t:>15.3f}{'-':>15}{'-':>9}")
        else:
            print(f"{name:<28}{t:>15.3f}{w:>15.3f}{t / w:>9.2f}", flush=True)
    print("ratio = torsion / Twisted (below 1.0: torsion faster)")


if __name__ == "__main__":
    main()
