"""
AMP throughput: boxes encoded and decoded per second, and complete typed
calls (``callRemote`` to the responder and back to the caller's Deferred)
per second between two AMP peers joined by in-memory transports, 1000 calls
in flight per batch.

Anchor, measured in the same run: Twisted's AMP (when Twisted is importable,
e.g. with ``/work/benchvenv/bin/python``), with the same commands and the
same transports.

Run: ``python bench_amp.py``.  Each figure is the best of several
interleaved rounds, which keeps a noisy shared machine from favouring one
side.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from _pipes import connect

from torsion.protocols import amp as torsion_amp

try:
    from twisted.protocols import amp as twisted_amp
except ImportError:  # pragma: no cover - depends on the environment
    twisted_amp = None

ROUNDS = 5
BOXES = 20_000
BATCH = 1000
BATCHES = 10


def makeLibrary(amp: Any) -> dict[str, Any]:
    class Sum(amp.Command):
        arguments = [(b"a", amp.Integer()), (b"b", amp.Integer())]
        response = [(b"total", amp.Integer())]

    class Server(amp.AMP):
        @Sum.responder
        def sum(self, a: int, b: int) -> dict[str, int]:
            return {"total": a + b}

    box = amp.AmpBox(
        {
            b"_command": b"Store",
            b"_ask": b"1f",
            b"key": b"user:1234",
            b"value": b"v" * 64,
            b"ttl": b"3600",
        }
    )
    return {"Sum": Sum, "Server": Server, "box": box}


def codec(amp: Any) -> Callable[[], float]:
    box = makeLibrary(amp)["box"]

    def run() -> float:
        start = time.perf_counter()
        data = b"".join([box.serialize() for _ in range(BOXES)])
        parsed = amp.parseString(data)
        elapsed = time.perf_counter() - start
        assert len(parsed) == BOXES
        return BOXES / elapsed

    return run


def calls(amp: Any) -> Callable[[], float]:
    lib = makeLibrary(amp)
    Sum = lib["Sum"]

    def run() -> float:
        client, server = amp.AMP(), lib["Server"]()
        pump = connect(server, client)
        got: list[Any] = []
        start = time.perf_counter()
        for _ in range(BATCHES):
            for i in range(BATCH):
                client.callRemote(Sum, a=i, b=1).addCallback(got.append)
            pump()
        elapsed = time.perf_counter() - start
        assert len(got) == BATCH * BATCHES
        return BATCH * BATCHES / elapsed

    return run


def best(runs: dict[str, Callable[[], float]]) -> dict[str, float]:
    results = dict.fromkeys(runs, 0.0)
    for _ in range(ROUNDS):
        for name, run in runs.items():
            results[name] = max(results[name], run())
    return results


def main() -> None:
    rows = []
    for label, factory in [("box encode+decode /s", codec), ("calls /s", calls)]:
        runs = {"torsion": factory(torsion_amp)}
        if twisted_amp is not None:
            runs["twisted"] = factory(twisted_amp)
        rows.append((label, best(runs)))
    print(f"{'benchmark':<24}{'torsion':>12}{'twisted':>12}{'ratio':>8}")
    for label, r in rows:
        tw = r.get("twisted")
        ratio = f"{r['torsion'] / tw:.2f}" if tw else "-"
        twText = f"{tw:,.0f}" if tw else "-"
        print(f"{label:<24}{r['torsion']:>12,.0f}{twText:>12}{ratio:>8}")


if __name__ == "__main__":
    main()
