"""
Benchmark torsion.logger against Twisted's twisted.logger (when importable)
and the standard library's logging.

Scenarios:

- filtered: a debug event dropped by a level filter (the cost of a log call
  nobody wants);
- text: an info event with two fields written as classic text to a StringIO;
- json: the same event written as a JSON line.

Run with ``python bench_logger.py`` (``/work/benchvenv/bin/python`` to include
Twisted).  Prints microseconds per event and the ratio torsion/anchor (lower
is better for torsion).
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable

N = 5_000
REPEAT = 3


def best(fn: Callable[[], None], n: int = N) -> float:
    times = []
    for _ in range(REPEAT):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) / n * 1e6


def torsionScenarios() -> dict[str, float]:
    from torsion.logger import (
        FilteringLogObserver,
        Logger,
        LogLevel,
        LogLevelFilterPredicate,
        LogPublisher,
        jsonFileLogObserver,
        textFileLogObserver,
    )

    results = {}
    sink = LogPublisher()
    filtered = Logger(
        namespace="bench",
        observer=FilteringLogObserver(
            sink.__call__, [LogLevelFilterPredicate(LogLevel.info)]
        ),
    )

    def runFiltered() -> None:
        for i in range(N):
            filtered.debug("debug {i} {name}", i=i, name="x")

    results["filtered"] = best(runFiltered)

    out = io.StringIO()
    text = Logger(namespace="bench", observer=textFileLogObserver(out))

    def runText() -> None:
        out.seek(0)
        out.truncate()
        for i in range(N):
            text.info("request {i} from {name}", i=i, name="127.0.0.1")

    results["text"] = best(runText)

    jsonOut = io.StringIO()
    js = Logger(namespace="bench", observer=jsonFileLogObserver(jsonOut))

    def runJSON() -> None:
        jsonOut.seek(0)
        jsonOut.truncate()
        for i in range(N):
            js.info("request {i} from {name}", i=i, name="127.0.0.1")

    results["json"] = best(runJSON)
    return results


def twistedScenarios() -> dict[str, float] | None:
    try:
        from twisted.logger import (
            FilteringLogObserver,
            Logger,
            LogLevel,
            LogLevelFilterPredicate,
            LogPublisher,
            jsonFileLogObserver,
            textFileLogObserver,
        )
    except ImportError:
        return None
    results = {}
    sink = LogPublisher()
    filtered = Logger(
        namespace="bench",
        observer=FilteringLogObserver(sink, [LogLevelFilterPredicate(LogLevel.info)]),
    )

    def runFiltered() -> None:
        for i in range(N):
            filtered.debug("debug {i} {name}", i=i, name="x")

    results["filtered"] = best(runFiltered)
    out = io.StringIO()
    text = Logger(namespace="bench", observer=textFileLogObserver(out))

    def runText() -> None:
        out.seek(0)
        out.truncate()
        for i in range(N):
            text.info("request {i} from {name}", i=i, name="127.0.0.1")

    results["text"] = best(runText)
    jsonOut = io.StringIO()
    js = Logger(namespace="bench", observer=jsonFileLogObserver(jsonOut))

    def runJSON() -> None:
        jsonOut.seek(0)
        jsonOut.truncate()
        for i in range(N):
            js.info("request {i} from {name}", i=i, name="127.0.0.1")

    results["json"] = best(runJSON)
    return results


def stdlibScenarios() -> dict[str, float]:
    results = {}
    logger = logging.getLogger("bench.stdlib")
    logger.propagate = False
    logger.setLevel(logging.INFO)
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(
        logging.Formatter("%(asctime)s [%(name)s#%(levelname)s] %(message)s")
    )
    logger.addHandler(handler)

    def runFiltered() -> None:
        for i in range(N):
            logger.debug("debug %s %s", i, "x")

    results["filtered"] = best(runFiltered)

    def runText() -> None:
        out.seek(0)
        out.truncate()
        for i in range(N):
            logger.info("request %s from %s", i, "127.0.0.1")

    results["text"] = best(runText)
    logger.removeHandler(handler)
    return results


def main() -> None:
    torsion = torsionScenarios()
    twisted = twistedScenarios()
    stdlib = stdlibScenarios()
    print(f"{N} events per run, best of {REPEAT}; microseconds per event")
    header = (
        f"{'scenario':<10} {'torsion':>9} {'twisted':>9} {'t/tw':>6} "
        f"{'stdlib':>9} {'t/std':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, value in torsion.items():
        tw = twisted.get(name) if twisted else None
        st = stdlib.get(name)
        twText = f"{tw:9.2f} {value / tw:6.2f}" if tw else f"{'-':>9} {'-':>6}"
        stText = f"{st:9.2f} {value / st:6.2f}" if st else f"{'-':>9} {'-':>6}"
        print(f"{name:<10} {value:9.2f} {twText} {stText}")
    if twisted is None:
        print("(Twisted not importable: run with /work/benchvenv/bin/python)")


if __name__ == "__main__":
    main()
