"""
Benchmarks for the small standard protocols, torsion against Twisted (when
importable; run with ``/work/benchvenv/bin/python bench_smallprotocols.py``):

- portforward bulk: 4 connections pushing 64 KiB chunks through a port
  forwarder to an echo server and reading the echo; megabytes per second.
- SOCKS4 connects: connections per second opened through a SOCKS4 proxy,
  each doing one 64-byte echo round trip.
- PROXY header parsing: v1 and v2 headers parsed per second (pure code).

The forwarder and the proxy run in their own process (epoll reactor); the
echo server is a minimal selectors loop in another process, identical for
every implementation; the load comes from this process.  Prints a table
with ratios torsion/Twisted.
"""

from __future__ import annotations

import os
import selectors
import socket
import struct
import subprocess
import sys
import time
from typing import Any

BULK_CONNECTIONS = 4
BULK_CHUNK = 64 * 1024
BULK_SECONDS = 3.0
CONNECT_SECONDS = 3.0
CONNECT_PARALLEL = 20
PARSE_SECONDS = 1.5


def _twistedAvailable() -> bool:
    try:
        import twisted  # noqa: F401
    except ImportError:
        return False
    return True


# -- processes -----------------------------------------------------------------


def serveEcho(port: int) -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(1024)
    listener.setblocking(False)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ)
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            sock: Any = key.fileobj
            if sock is listener:
                try:
                    conn, _ = listener.accept()
                except BlockingIOError:
                    continue
                conn.setblocking(True)
                conn.settimeout(None)
                selector.register(conn, selectors.EVENT_READ)
                continue
            try:
                data = sock.recv(262144)
            except ConnectionError:
                data = b""
            if not data:
                selector.unregister(sock)
                sock.close()
                continue
            try:
                sock.sendall(data)
            except OSError:
                # The client went away mid-echo (end of a bulk run).
                selector.unregister(sock)
                sock.close()


def serveProxy(kind: str, which: str, port: int, echoPort: int) -> None:
    if kind == "torsion":
        from torsion.internet import epollreactor

        epollreactor.install()
        from torsion.internet import reactor
        from torsion.protocols import portforward, socks

        if which == "forward":
            factory: Any = portforward.ProxyFactory("127.0.0.1", echoPort, reactor)
        else:
            factory = socks.SOCKSv4Factory(reactor=reactor)
    else:
        from twisted.internet import epollreactor as tepoll

        tepoll.install()
        from twisted.internet import reactor  # type: ignore[no-redef]
        from twisted.protocols import portforward as tforward
        from twisted.protocols import socks as tsocks

        if which == "forward":
            factory = tforward.ProxyFactory("127.0.0.1", echoPort)
        else:
            factory = tsocks.SOCKSv4Factory(None)
    reactor.listenTCP(port, factory, backlog=1024, interface="127.0.0.1")
    reactor.callWhenRunning(lambda: print("ready", flush=True))
    reactor.run()


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def start(*args: str) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        raise RuntimeError(f"{args} did not start")
    return process


# -- load ----------------------------------------------------------------------


def bulk(port: int) -> float:
    selector = selectors.DefaultSelector()
    chunk = b"x" * BULK_CHUNK
    socks_ = []
    for _ in range(BULK_CONNECTIONS):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(False)
        socks_.append(s)
        selector.register(s, selectors.EVENT_READ | selectors.EVENT_WRITE)
    outstanding = dict.fromkeys(socks_, 0)
    received = 0
    deadline = time.perf_counter() + BULK_SECONDS
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        for key, events in selector.select(0.5):
            s = key.fileobj  # type: ignore[assignment]
            if events & selectors.EVENT_READ:
                data = s.recv(262144)
                received += len(data)
                outstanding[s] -= len(data)
            if events & selectors.EVENT_WRITE and outstanding[s] < 8 * BULK_CHUNK:
                try:
                    sent = s.send(chunk)
                except BlockingIOError:
                    sent = 0
                outstanding[s] += sent
    elapsed = time.perf_counter() - began
    for s in socks_:
        s.close()
    return received / elapsed / 1e6


def socksConnects(port: int, echoPort: int) -> float:
    request = struct.pack("!BBH", 4, 1, echoPort) + bytes([127, 0, 0, 1]) + b"\0"
    count = 0
    deadline = time.perf_counter() + CONNECT_SECONDS
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        batch = [
            socket.create_connection(("127.0.0.1", port))
            for _ in range(CONNECT_PARALLEL)
        ]
        for s in batch:
            s.sendall(request)
        for s in batch:
            reply = b""
            while len(reply) < 8:
                reply += s.recv(8 - len(reply))
            assert reply[1] == 0x5A, reply
            s.sendall(b"p" * 64)
            got = b""
            while len(got) < 64:
                got += s.recv(64 - len(got))
            s.close()
            count += 1
    return count / (time.perf_counter() - began)


V1_HEADER = b"PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n"
V2_HEADER = (
    b"\r\n\r\n\x00\r\nQUIT\n\x21\x11\x00\x0c"
    + bytes([192, 0, 2, 1, 198, 51, 100, 7])
    + struct.pack("!HH", 56324, 443)
)


def parseRate(kind: str, version: int) -> float:
    parserType: Any
    if kind == "torsion":
        from torsion.protocols import haproxy

        parserType = haproxy.V1Parser if version == 1 else haproxy.V2Parser
    else:
        from twisted.protocols.haproxy import _v1parser, _v2parser

        parserType = _v1parser.V1Parser if version == 1 else _v2parser.V2Parser
    header = V1_HEADER if version == 1 else V2_HEADER
    count = 0
    deadline = time.perf_counter() + PARSE_SECONDS
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        for _ in range(1000):
            info, _ = parserType().feed(header)
            assert info is not None
        count += 1000
    return count / (time.perf_counter() - began)


def main() -> None:
    kinds = ["torsion"] + (["twisted"] if _twistedAvailable() else [])
    echoPort = freePort()
    echo = start("echo", str(echoPort))
    results: dict[str, dict[str, float]] = {k: {} for k in kinds}
    try:
        for kind in kinds:
            for which in ("forward", "socks"):
                port = freePort()
                server = start("proxy", kind, which, str(port), str(echoPort))
                try:
                    if which == "forward":
                        results[kind]["portforward bulk (MB/s)"] = bulk(port)
                    else:
                        results[kind]["SOCKS4 connects (/s)"] = socksConnects(
                            port, echoPort
                        )
                finally:
                    server.terminate()
                    server.wait()
            results[kind]["PROXY v1 parses (/s)"] = parseRate(kind, 1)
            results[kind]["PROXY v2 parses (/s)"] = parseRate(kind, 2)
    finally:
        echo.terminate()
        echo.wait()
    names = list(results["torsion"])
    header = f"{'measure':<26}" + "".join(f"{k:>14}" for k in kinds)
    if "twisted" in results:
        header += f"{'torsion/twisted':>17}"
    print(header)
    for name in names:
        row = f"{name:<26}" + "".join(f"{results[k][name]:>14.1f}" for k in kinds)
        if "twisted" in results:
            row += f"{results['torsion'][name] / results['twisted'][name]:>17.2f}"
        print(row)
    if "twisted" not in results:
        print("(Twisted not importable: run with /work/benchvenv/bin/python)")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "echo":
        serveEcho(int(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "proxy":
        serveProxy(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        main()
