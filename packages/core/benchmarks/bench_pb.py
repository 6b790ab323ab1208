"""
Perspective Broker throughput: banana encode + decode of a typical PB
message, and complete remote calls (``callRemote`` to ``remote_add`` and
back to the caller's Deferred) between a client and a server joined by
in-memory transports, 500 calls in flight per batch.

Anchor, measured in the same run: Twisted's banana and PB (when Twisted is
importable, e.g. with ``/work/benchvenv/bin/python``), with the same
messages and the same transports.

Run: ``python bench_pb.py``.  Each figure is the best of several
interleaved rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from _pipes import connect

from torsion.spread import banana as torsion_banana
from torsion.spread import pb as torsion_pb

try:
    from twisted.spread import banana as twisted_banana
    from twisted.spread import pb as twisted_pb
except ImportError:  # pragma: no cover - depends on the environment
    twisted_banana = None
    twisted_pb = None

ROUNDS = 3
MESSAGES = 5_000
BATCH = 500
BATCHES = 4

MESSAGE = [
    b"message",
    17,
    3,
    b"add",
    1,
    [[b"list", 123456, -7, 2.5, b"payload" * 8], [b"dictionary", [b"k", 1]]],
]


def bananaRate(encode: Callable[[Any], bytes], decode: Callable[[bytes], Any]) -> float:
    start = time.perf_counter()
    for _ in range(MESSAGES):
        decode(encode(MESSAGE))
    return MESSAGES / (time.perf_counter() - start)


def callRate(pbModule: Any) -> float:
    class Adder(pbModule.Root):  # type: ignore[misc, name-defined]
        def remote_add(self, a: int, b: int) -> int:
            return a + b

    serverFactory = pbModule.PBServerFactory(Adder())
    clientFactory = pbModule.PBClientFactory()
    server = serverFactory.buildProtocol(None)
    client = clientFactory.buildProtocol(None)
    pump = connect(server, client)
    roots: list[Any] = []
    clientFactory.getRootObject().addCallback(roots.append)
    pump()
    root = roots[0]
    done: list[int] = []
    start = time.perf_counter()
    for _ in range(BATCHES):
        for i in range(BATCH):
            root.callRemote("add", i, 1).addCallback(done.append)
        pump()
    elapsed = time.perf_counter() - start
    assert len(done) == BATCH * BATCHES, len(done)
    return len(done) / elapsed


def main() -> None:
    rows: list[tuple[str, float, float | None]] = []
    tBanana = 0.0
    aBanana: float | None = None
    tCalls = 0.0
    aCalls: float | None = None
    vocab = torsion_banana.PB_VOCABULARY
    for _ in range(ROUNDS):
        tBanana = max(
            tBanana,
            bananaRate(
                lambda m: torsion_banana.encode(m, vocab),
                lambda d: torsion_banana.decode(d, vocab),
            ),
        )
        tCalls = max(tCalls, callRate(torsion_pb))
        if twisted_banana is not None:
            aBanana = max(
                aBanana or 0.0,
                bananaRate(twisted_banana.encode, twisted_banana.decode),
            )
            aCalls = max(aCalls or 0.0, callRate(twisted_pb))
    rows.append(("banana encode+decode (msg/s)", tBanana, aBanana))
    rows.append(("PB callRemote round trips (/s)", tCalls, aCalls))
    print(f"{'measure':34} {'torsion':>12} {'twisted':>12} {'ratio':>7}")
    for name, mine, anchor in rows:
        if anchor:
            print(f"{name:34} {mine:12,.0f} {anchor:12,.0f} {mine / anchor:7.2f}")
        else:
            print(f"{name:34} {mine:12,.0f} {'n/a':>12} {'':>7}")


if __name__ == "__main__":
    main()
