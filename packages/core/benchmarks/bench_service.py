"""
Service tree and ClientService costs: starting and stopping a
``MultiService`` of many children, and driving a ``ClientService`` through
connect / lose / reconnect cycles on a ``Clock`` with an in-memory endpoint.

Anchor, measured in the same run: Twisted's ``twisted.application.service``
and ``ClientService`` (when Twisted is importable, e.g. with
``/work/benchvenv/bin/python``).

Run: ``python bench_service.py``.  Each figure is the best of several
interleaved rounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from torsion.application import internet as t_internet
from torsion.application import service as t_service
from torsion.internet import defer as t_defer
from torsion.internet import protocol as t_protocol
from torsion.internet import task as t_task

try:
    from twisted.application import internet as tw_internet
    from twisted.application import service as tw_service
    from twisted.internet import defer as tw_defer
    from twisted.internet import protocol as tw_protocol
    from twisted.internet import task as tw_task
except ImportError:  # pragma: no cover - depends on the environment
    tw_service = None

CHILDREN = 2000
CYCLES = 5000
ROUNDS = 7


def treeCycle(service: Any) -> Callable[[], None]:
    def run() -> None:
        top = service.MultiService()
        for index in range(CHILDREN):
            child = service.Service()
            child.setName(f"child-{index}")
            child.setServiceParent(top)
        top.privilegedStartService()
        top.startService()
        top.stopService()

    return run


class _Transport:
    def __init__(self) -> None:
        self.protocol: Any = None
        self.connected = True

    def loseConnection(self) -> None:
        if self.connected:
            self.connected = False
            self.protocol.connectionLost(ConnectionError("gone"))

    def write(self, data: bytes) -> None:
        pass

    def getPeer(self) -> None:
        return None

    def getHost(self) -> None:
        return None


def clientCycle(
    internet: Any, defer: Any, protocol: Any, task: Any
) -> Callable[[], None]:
    transports: list[_Transport] = []

    class Endpoint:
        def connect(self, factory: Any) -> Any:
            built = factory.buildProtocol(None)
            transport = _Transport()
            transport.protocol = built
            built.makeConnection(transport)
            transports.append(transport)
            return defer.succeed(built)

    def run() -> None:
        clock = task.Clock()
        keeper = internet.ClientService(
            Endpoint(),
            protocol.Factory.forProtocol(protocol.Protocol),
            retryPolicy=lambda attempt: 0.0,
            clock=clock,
        )
        keeper.startService()
        for _ in range(CYCLES):
            transports[-1].loseConnection()
            clock.advance(0)
        keeper.stopService()
        transports.clear()

    return run


def best(function: Callable[[], None]) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def main() -> None:
    cases: dict[str, dict[str, Callable[[], None]]] = {
        f"MultiService of {CHILDREN}: build+start+stop": {
            "torsion": treeCycle(t_service)
        },
        f"ClientService: {CYCLES} lose/reconnect cycles": {
            "torsion": clientCycle(t_internet, t_defer, t_protocol, t_task)
        },
    }
    if tw_service is not None:
        names = list(cases)
        cases[names[0]]["twisted"] = treeCycle(tw_service)
        cases[names[1]]["twisted"] = clientCycle(
            tw_internet, tw_defer, tw_protocol, tw_task
        )
    print(f"{'case':48} {'torsion ms':>11} {'twisted ms':>11} {'ratio':>7}")
    for name, runners in cases.items():
        times: dict[str, float] = {}
        for _ in range(ROUNDS):
            for label, runner in runners.items():
                elapsed = best(runner)
                times[label] = min(times.get(label, elapsed), elapsed)
        ours = times["torsion"] * 1000
        theirs = times.get("twisted")
        if theirs is None:
            print(f"{name:48} {ours:11.2f} {'-':>11} {'-':>7}")
        else:
            print(
                f"{name:48} {ours:11.2f} {theirs * 1000:11.2f} "
                f"{times['torsion'] / theirs:7.2f}"
            )
    print("ratio = torsion / twisted (lower is better)")


if __name__ == "__main__":
    main()
