"""
WSGI and reverse-proxy throughput: torsion-web beside twisted.web (26.10)
in the same run, each server in its own process, measured with
``wrk -t1 -c32 -d5s``.

Scenarios:

- ``wsgi``: a plain WSGI application answering 13 bytes, behind
  ``WSGIResource`` with the reactor's thread pool.
- ``proxy``: ``ReverseProxyResource`` in front of one upstream (a torsion
  ``Site`` answering 13 bytes, shared by both proxies), one upstream
  connection per request as both implementations do.

Run with the benchmark environment (Twisted installed)::

    /work/benchvenv/bin/python packages/web/benchmarks/bench_deploy.py

Twisted is left out (ratio "-") when it cannot be imported.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from typing import Any

HELLO = b"Hello, world!"
WRK_ARGS = ["-t1", "-c32", "-d5s"]


def _announce(port: int) -> None:
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()


def _hello(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
    startResponse("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [HELLO]


def serveTorsion(scenario: str, upstreamPort: int) -> None:
    from torsion.internet import epollreactor

    reactor = epollreactor.EPollReactor()
    from torsion.web import proxy, resource, server, wsgi

    root: Any
    if scenario == "wsgi":
        root = wsgi.WSGIResource(reactor, reactor.getThreadPool(), _hello)
    elif scenario == "proxy":
        root = proxy.ReverseProxyResource("127.0.0.1", upstreamPort, b"", reactor)
    else:

        class Hello(resource.Resource):
            isLeaf = True

            def render_GET(self, request: Any) -> bytes:
                return HELLO

        root = Hello()
    port = reactor.listenTCP(
        0, server.Site(root, reactor=reactor), interface="127.0.0.1"
    )
    _announce(port.getHost().port)
    reactor.run()


def serveTwisted(scenario: str, upstreamPort: int) -> None:
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import reactor
    from twisted.web import proxy, server, wsgi

    root: Any
    if scenario == "wsgi":
        root = wsgi.WSGIResource(reactor, reactor.getThreadPool(), _hello)
    else:
        root = proxy.ReverseProxyResource("127.0.0.1", upstreamPort, b"")
    port = reactor.listenTCP(0, server.Site(root), interface="127.0.0.1")
    _announce(port.getHost().port)
    reactor.run()


def _start(
    impl: str, scenario: str, upstreamPort: int
) -> tuple[subprocess.Popen[str], int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "serve", impl, scenario, str(upstreamPort)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.match(r"PORT (\d+)", line)
    if match is None:
        process.kill()
        raise RuntimeError(f"{impl} {scenario} did not start: {line!r}")
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) >= 2:
        os.sched_setaffinity(process.pid, {0})
    return process, int(match.group(1))


def _wrk(port: int) -> float:
    argv = ["wrk", *WRK_ARGS, f"http://127.0.0.1:{port}/"]
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        argv = ["taskset", "-c", "1", *argv]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=60).stdout
    match = re.search(r"Requests/sec:\s*([\d.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if match is None or errors is not None:
        raise RuntimeError(f"wrk failed or saw errors:\n{out}")
    return float(match.group(1))


def _measure(impl: str, scenario: str, upstreamPort: int) -> float:
    process, port = _start(impl, scenario, upstreamPort)
    try:
        # A short run first so both implementations are measured warm.
        subprocess.run(
            ["wrk", "-t1", "-c8", "-d1s", f"http://127.0.0.1:{port}/"],
            capture_output=True,
            timeout=30,
        )
        return _wrk(port)
    finally:
        process.kill()
        process.wait()


def main() -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    try:
        import twisted.web  # noqa: F401

        haveTwisted = True
    except ImportError:
        haveTwisted = False
    upstream, upstreamPort = _start("torsion", "upstream", 0)
    rows = []
    try:
        for scenario in ("wsgi", "proxy"):
            ours = _measure("torsion", scenario, upstreamPort)
            theirs = (
                _measure("twisted", scenario, upstreamPort) if haveTwisted else None
            )
            rows.append((scenario, ours, theirs))
    finally:
        upstream.kill()
        upstream.wait()
    print(f"{'scenario':<10}{'torsion req/s':>16}{'twisted req/s':>16}{'ratio':>8}")
    for scenario, ours, theirs in rows:
        ratio = f"{ours / theirs:.2f}" if theirs else "-"
        theirsText = f"{theirs:.0f}" if theirs else "-"
        print(f"{scenario:<10}{ours:>16.0f}{theirsText:>16}{ratio:>8}")


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "serve":
        impl, scenario, upstream = sys.argv[2], sys.argv[3], int(sys.argv[4])
        (serveTorsion if impl == "torsion" else serveTwisted)(scenario, upstream)
    else:
        main()
