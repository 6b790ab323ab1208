"""
HTTP server throughput and memory: torsion-web beside twisted.web (26.10)
and aiohttp, in the same run, each server in its own process.

Scenarios (``wrk -t1 -c50 -d5s``, the server pinned to CPU 0 and wrk to CPU 1
when the machine has two or more):

- ``hello``: a ``Resource`` answering 13 bytes (``Hello, world!``) to every
  GET; aiohttp runs the same handler as a ``web.Application`` route.
- ``static``: a 1 MiB file served by ``static.File`` (aiohttp: a
  ``FileResponse`` route).
- ``idle``: memory per idle keep-alive connection: 2,000 connections each
  make one request and stay open; the server's RSS growth is divided by the
  number of connections.

Run with the benchmark environment (Twisted and aiohttp installed)::

    /work/benchvenv/bin/python packages/web/benchmarks/bench_server.py

Anchors that cannot be imported are left out and their ratios shown as "-".
"""

from __future__ import annotations

import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HELLO = b"Hello, world!"
STATIC_SIZE = 1024 * 1024
IDLE_CONNECTIONS = 2000
WRK_ARGS = ["-t1", "-c50", "-d5s"]


def _raiseFileLimit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _announce(port: int) -> None:
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()


def _rss() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


# ---------------------------------------------------------------------------
# Servers (``bench_server.py serve IMPL SCENARIO DIR``): each prints
# ``PORT n`` and serves until killed; on SIGUSR1 it prints ``RSS n``.


def _rssOnSignal() -> None:
    import signal

    def report(signum: int, frame: object) -> None:
        sys.stdout.write(f"RSS {_rss()}\n")
        sys.stdout.flush()

    signal.signal(signal.SIGUSR1, report)


def serveTorsion(scenario: str, directory: str) -> None:
    from torsion.internet import epollreactor

    reactor = epollreactor.EPollReactor()
    from torsion.web import resource as wresource
    from torsion.web import server, static

    class Hello(wresource.Resource):
        isLeaf = True

        def render_GET(self, request):  # type: ignore[no-untyped-def]
            return HELLO

    root = static.File(directory) if scenario == "static" else Hello()
    site = server.Site(root, reactor=reactor)
    site.log = lambda request: None  # type: ignore[method-assign]
    port = reactor.listenTCP(0, site, backlog=1024, interface="127.0.0.1")
    _rssOnSignal()
    _announce(port.getHost().port)
    reactor.run(installSignalHandlers=False)


def serveTwisted(scenario: str, directory: str) -> None:
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import reactor
    from twisted.web import resource as tresource
    from twisted.web import server, static

    class Hello(tresource.Resource):
        isLeaf = True

        def render_GET(self, request):  # type: ignore[no-untyped-def]
            return HELLO

    root = static.File(directory) if scenario == "static" else Hello()
    site = server.Site(root)
    site.log = lambda request: None
    port = reactor.listenTCP(0, site, backlog=1024, interface="127.0.0.1")
    _rssOnSignal()
    _announce(port.getHost().port)
    reactor.run(installSignalHandlers=False)


def serveAiohttp(scenario: str, directory: str) -> None:
    import asyncio

    from aiohttp import web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(body=HELLO)

    async def bigFile(request: web.Request) -> web.FileResponse:
        return web.FileResponse(os.path.join(directory, "big.bin"))

    async def main() -> None:
        app = web.Application()
        if scenario == "static":
            app.router.add_get("/big.bin", bigFile)
        else:
            app.router.add_get("/", hello)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        server = site._server
        assert server is not None
        _rssOnSignal()
        _announce(server.sockets[0].getsockname()[1])
        await asyncio.Event().wait()

    asyncio.run(main())


# ---------------------------------------------------------------------------
# Driver


def _pin(cpu: int) -> list[str]:
    if (os.cpu_count() or 1) >= 2 and shutil.which("taskset"):
        return ["taskset", "-c", str(cpu)]
    return []


def _start(
    impl: str, scenario: str, directory: str
) -> tuple[subprocess.Popen[str], int]:
    server = subprocess.Popen(
        [*_pin(0), sys.executable, __file__, "serve", impl, scenario, directory],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("PORT "):
        server.kill()
        raise RuntimeError(f"{impl} did not start: {line!r}")
    return server, int(line.split()[1])


def _stop(server: subprocess.Popen[str]) -> None:
    server.kill()
    server.wait()


def _wrk(url: str) -> float:
    out = subprocess.run(
        [*_pin(1), "wrk", *WRK_ARGS, url],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError(f"wrk saw errors against {url}:\n{out}")
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not match:
        raise RuntimeError(f"no rate in wrk output:\n{out}")
    return float(match.group(1))


def _throughput(impl: str, scenario: str, directory: str) -> float:
    server, port = _start(impl, scenario, directory)
    try:
        path = "/big.bin" if scenario == "static" else "/"
        # A short warm-up run, then the measured one.
        subprocess.run(
            [*_pin(1), "wrk", "-t1", "-c50", "-d1s", f"http://127.0.0.1:{port}{path}"],
            capture_output=True,
            check=True,
            timeout=30,
        )
        return _wrk(f"http://127.0.0.1:{port}{path}")
    finally:
        _stop(server)


def _readRSS(server: subprocess.Popen[str]) -> int:
    import signal

    assert server.stdout is not None
    server.send_signal(signal.SIGUSR1)
    line = server.stdout.readline()
    if not line.startswith("RSS "):
        raise RuntimeError(f"no RSS report: {line!r}")
    return int(line.split()[1])


def _idleMemory(impl: str, directory: str) -> float:
    server, port = _start(impl, "hello", directory)
    sockets: list[socket.socket] = []
    try:
        # Warm the server up (imports, first-request caches) before measuring.
        for _ in range(20):
            _oneRequest(port, sockets, keep=False)
        before = _readRSS(server)
        for _ in range(IDLE_CONNECTIONS):
            _oneRequest(port, sockets, keep=True)
        after = _readRSS(server)
        return (after - before) / IDLE_CONNECTIONS
    finally:
        for s in sockets:
            s.close()
        _stop(server)


def _oneRequest(port: int, sockets: list[socket.socket], keep: bool) -> None:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    received = b""
    while HELLO not in received:
        chunk = s.recv(4096)
        if not chunk:
            raise RuntimeError("server closed a keep-alive connection")
        received += chunk
    if keep:
        sockets.append(s)
    else:
        s.close()


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def main() -> None:
    _raiseFileLimit()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is needed: apt-get install wrk")
    impls = [("torsion-web", "torsion")]
    if _available("twisted.web"):
        impls.append(("twisted.web", "twisted"))
    if _available("aiohttp"):
        impls.append(("aiohttp", "aiohttp"))
    directory = tempfile.mkdtemp()
    try:
        with open(os.path.join(directory, "big.bin"), "wb") as f:
            f.write(os.urandom(STATIC_SIZE))
        print(f"wrk {' '.join(WRK_ARGS)}; server on CPU 0, wrk on CPU 1")
        print(f"{'scenario':<8} {'server':<13} {'result':>18}")
        results: dict[tuple[str, str], float] = {}
        for scenario in ("hello", "static"):
            for label, impl in impls:
                rate = _throughput(impl, scenario, directory)
                results[scenario, label] = rate
                print(f"{scenario:<8} {label:<13} {rate:>12,.0f} req/s")
        for label, impl in impls:
            perConnection = _idleMemory(impl, directory)
            results["idle", label] = perConnection
            print(f"{'idle':<8} {label:<13} {perConnection / 1024:>11,.1f} KiB/conn")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
    print()
    goals = (("hello", "higher"), ("static", "higher"), ("idle", "lower"))
    for scenario, better in goals:
        ours = results[scenario, "torsion-web"]
        cells = []
        for label, _ in impls[1:]:
            theirs = results[scenario, label]
            cells.append(f"torsion/{label} {ours / theirs:.2f}x")
        print(f"{scenario:<8} ({better} is better)  " + "   ".join(cells))
    load = os.getloadavg()[0]
    print(f"\n(measured {time.strftime('%Y-%m-%d %H:%M')}, load average {load:.1f})")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        _raiseFileLimit()
        impl, scenario, directory = sys.argv[2], sys.argv[3], sys.argv[4]
        {"torsion": serveTorsion, "twisted": serveTwisted, "aiohttp": serveAiohttp}[
            impl
        ](scenario, directory)
    else:
        main()
