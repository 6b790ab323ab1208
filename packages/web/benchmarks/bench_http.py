"""
The HTTP/1.1 server protocol alone, in process: a keep-alive GET with four
header fields fed to a channel over an in-memory transport, answered by a
minimal request class with a 13-byte body.  No sockets, no reactor: this
measures parsing, the request object and response serialisation.

Anchors (when importable): twisted.web.http's HTTPChannel with the same
request class shape, and h11 (parse + serialise only, the floor of a
sans-I/O Python implementation).  Run with the benchmark environment::

    /work/benchvenv/bin/python packages/web/benchmarks/bench_http.py

CPU time (``time.process_time``) is measured, best of seven interleaved
rounds, so a busy machine disturbs the ratios less.
"""

from __future__ import annotations

import time
from collections.abc import Callable

REQUEST = (
    b"GET /hello HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: wrk\r\n"
    b"Accept: */*\r\nAccept-Encoding: gzip\r\n\r\n"
)
BODY = b"Hello, world!"
N = 20000


def measure(runs: dict[str, Callable[[int], None]]) -> dict[str, float]:
    """
    Best of seven rounds each, the implementations interleaved so that a
    change in the machine's load affects them alike.
    """
    for run in runs.values():
        run(500)
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(7):
        for name, run in runs.items():
            start = time.process_time()
            run(N)
            best[name] = min(best[name], time.process_time() - start)
    return {name: N / seconds for name, seconds in best.items()}


def torsionChannel() -> Callable[[int], None]:
    from torsion.internet.testing import MemoryReactorClock, StringTransport
    from torsion.web import http

    class Hello(http.Request):
        def process(self) -> None:
            self.setHeader(b"content-type", b"text/plain")
            self.setHeader(b"content-length", b"13")
            self.write(BODY)
            self.finish()

    factory = http.HTTPFactory(reactor=MemoryReactorClock())
    factory.requestFactory = Hello
    factory.maxRequestsPerConnection = 10**9
    factory.log = lambda request: None  # type: ignore[method-assign]
    channel = factory.buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)

    def run(n: int) -> None:
        for _ in range(n):
            channel.dataReceived(REQUEST)
            transport.clear()

    return run


def twistedChannel() -> Callable[[int], None] | None:
    try:
        from twisted.internet.testing import StringTransport
        from twisted.web import http
    except ImportError:
        return None

    class Hello(http.Request):
        def process(self) -> None:
            self.setHeader(b"content-type", b"text/plain")
            self.setHeader(b"content-length", b"13")
            self.write(BODY)
            self.finish()

    factory = http.HTTPFactory(timeout=None)
    factory.log = lambda request: None
    channel = http.HTTPChannel()
    channel.factory = factory
    channel.requestFactory = Hello
    transport = StringTransport()
    channel.makeConnection(transport)

    def run(n: int) -> None:
        for _ in range(n):
            channel.dataReceived(REQUEST)
            transport.clear()

    return run


def h11Floor() -> Callable[[int], None] | None:
    try:
        import h11
    except ImportError:
        return None

    def run(n: int) -> None:
        for _ in range(n):
            conn = h11.Connection(h11.SERVER)
            conn.receive_data(REQUEST)
            conn.next_event()
            conn.next_event()
            conn.send(
                h11.Response(
                    status_code=200,
                    headers=[("Content-Type", "text/plain"), ("Content-Length", "13")],
                )
            )
            conn.send(h11.Data(data=BODY))
            conn.send(h11.EndOfMessage())

    return run


def main() -> None:
    runs = {"torsion-web": torsionChannel()}
    for name, make in [("twisted.web", twistedChannel), ("h11 (codec only)", h11Floor)]:
        run = make()
        if run is not None:
            runs[name] = run
    results = measure(runs)
    ours = results["torsion-web"]
    print(f"{'implementation':<18} {'requests/CPU-s':>15} {'torsion ratio':>14}")
    for name in ("torsion-web", "twisted.web", "h11 (codec only)"):
        value = results.get(name)
        if value is None:
            print(f"{name:<18} {'-':>15} {'-':>14}")
        else:
            print(f"{name:<18} {value:>15,.0f} {ours / value:>13.2f}x")


if __name__ == "__main__":
    main()
