"""
TCP echo benchmark: torsion against Twisted, asyncio, uvloop and a minimal
pure-Python epoll floor.

Each server runs in its own process, driven by one load-generator process:

- ping-pong: 50 connections each sending 64 bytes and waiting for the echo
  before sending again; messages per second.
- bulk: 4 connections writing 64 KiB chunks (8 in flight each) and reading
  the echo; megabytes per second echoed.
- idle memory: the server's resident memory growth per connection with
  2,000 idle connections open.
- 10k: 10,000 concurrent connections opened, each served one ping-pong.

Run with ``/work/benchvenv/bin/python bench_tcp.py`` (Twisted and uvloop
are measured only if importable).  Prints a table with ratios torsion/anchor.
"""

from __future__ import annotations

import argparse
import errno
import os
import resource
import select
import socket
import subprocess
import sys
import time
from typing import Any

PING_CONNECTIONS = 50
PING_SIZE = 64
PING_SECONDS = 4.0
BULK_CONNECTIONS = 4
BULK_CHUNK = 64 * 1024
BULK_IN_FLIGHT = 16
BULK_SECONDS = 3.0
IDLE_CONNECTIONS = 2000
MANY_CONNECTIONS = 10_000
BACKLOG = 4096
SKIP_MANY = False


def raiseFileLimit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# -- servers ------------------------------------------------------------------


def serveTorsion(port: int) -> None:
    from torsion.internet import epollreactor

    epollreactor.install()
    from torsion.internet import protocol, reactor

    class Echo(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    factory = protocol.Factory.forProtocol(Echo)
    factory.noisy = False
    reactor.listenTCP(port, factory, backlog=BACKLOG, interface="127.0.0.1")
    ready()
    reactor.run()


def serveTwisted(port: int) -> None:
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import protocol, reactor

    class Echo(protocol.Protocol):
        def dataReceived(self, data: bytes) -> None:
            self.transport.write(data)

    factory = protocol.Factory.forProtocol(Echo)
    factory.noisy = False
    reactor.listenTCP(port, factory, backlog=BACKLOG, interface="127.0.0.1")
    ready()
    reactor.run()


def _serveAsyncio(port: int) -> None:
    import asyncio

    class Echo(asyncio.Protocol):
        def connection_made(self, transport: Any) -> None:
            self.transport = transport

        def data_received(self, data: bytes) -> None:
            self.transport.write(data)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        await loop.create_server(Echo, "127.0.0.1", port, backlog=BACKLOG)
        ready()
        await asyncio.Event().wait()

    asyncio.run(main())


def serveAsyncio(port: int) -> None:
    _serveAsyncio(port)


def serveUvloop(port: int) -> None:
    import asyncio

    import uvloop

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    _serveAsyncio(port)


def serveFloor(port: int) -> None:
    """
    The least a Python echo server can do: one epoll loop, recv and send,
    buffering only what the kernel refuses.
    """
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(BACKLOG)
    listener.setblocking(False)
    ep = select.epoll()
    lfd = listener.fileno()
    ep.register(lfd, select.EPOLLIN)
    socks: dict[int, socket.socket] = {}
    pending: dict[int, bytes] = {}
    ready()
    IN, OUT = select.EPOLLIN, select.EPOLLOUT
    while True:
        for fd, ev in ep.poll():
            if fd == lfd:
                while True:
                    try:
                        s, _ = listener.accept()
                    except BlockingIOError:
                        break
                    s.setblocking(False)
                    socks[s.fileno()] = s
                    ep.register(s.fileno(), IN)
                continue
            s = socks[fd]
            try:
                if ev & OUT:
                    data = pending.pop(fd)
                    n = s.send(data)
                    if n < len(data):
                        pending[fd] = data[n:]
                    else:
                        ep.modify(fd, IN)
                    continue
                data = s.recv(65536)
                if data:
                    try:
                        n = s.send(data)
                    except BlockingIOError:
                        n = 0
                    if n < len(data):
                        pending[fd] = data[n:]
                        ep.modify(fd, OUT)
                    continue
            except ConnectionError:
                pass
            ep.unregister(fd)
            del socks[fd]
            pending.pop(fd, None)
            s.close()


SERVERS = {
    "torsion": serveTorsion,
    "twisted": serveTwisted,
    "asyncio": serveAsyncio,
    "uvloop": serveUvloop,
    "floor": serveFloor,
}


def ready() -> None:
    sys.stdout.write("ready\n")
    sys.stdout.flush()


# -- load generator ------------------------------------------------------------


def _connectMany(port: int, count: int) -> list[socket.socket]:
    socks = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks.append(s)
    return socks


def clientPingPong(port: int) -> None:
    socks = _connectMany(port, PING_CONNECTIONS)
    ep = select.epoll()
    byFd = {}
    got = {}
    payload = b"p" * PING_SIZE
    for s in socks:
        ep.register(s.fileno(), select.EPOLLIN)
        byFd[s.fileno()] = s
        got[s.fileno()] = 0
        s.send(payload)
    count = 0
    deadline = time.perf_counter() + PING_SECONDS
    start = time.perf_counter()
    while True:
        for fd, _ in ep.poll(1):
            s = byFd[fd]
            n = len(s.recv(65536))
            got[fd] += n
            if got[fd] >= PING_SIZE:
                got[fd] = 0
                count += 1
                s.send(payload)
        now = time.perf_counter()
        if now >= deadline:
            break
    print(count / (now - start))
    for s in socks:
        s.close()


def clientBulk(port: int) -> None:
    socks = _connectMany(port, BULK_CONNECTIONS)
    ep = select.epoll()
    chunks = [b"b" * BULK_CHUNK] * 4
    window = BULK_CHUNK * BULK_IN_FLIGHT
    sink = bytearray(4 << 20)
    IN, OUT = select.EPOLLIN, select.EPOLLOUT
    state = {}

    def topUp(fd: int) -> None:
        entry = state[fd]
        s = entry[0]
        while entry[1] - entry[2] < window:
            try:
                # Several 64 KiB chunks per system call, so the load
                # generator stays cheaper than the servers it measures.
                entry[1] += s.sendmsg(chunks)
            except BlockingIOError:
                if not entry[3]:
                    entry[3] = True
                    ep.modify(fd, IN | OUT)
                return
        if entry[3]:
            entry[3] = False
            ep.modify(fd, IN)

    for s in socks:
        fd = s.fileno()
        state[fd] = [s, 0, 0, False]  # socket, sent, received, want-write
        ep.register(fd, IN)
        topUp(fd)
    received = 0
    start = time.perf_counter()
    deadline = start + BULK_SECONDS
    while True:
        for fd, ev in ep.poll(1):
            entry = state[fd]
            if ev & IN:
                n = entry[0].recv_into(sink)
                entry[2] += n
                received += n
            topUp(fd)
        now = time.perf_counter()
        if now >= deadline:
            break
    print(received / (now - start) / 1e6)
    for s in socks:
        s.close()


def clientIdle(port: int) -> None:
    raiseFileLimit()
    socks = _connectMany(port, IDLE_CONNECTIONS)
    # Make sure every connection was accepted and is being served.
    for s in socks:
        s.setblocking(True)
        s.sendall(b"i")
        s.recv(1)
    print("open", flush=True)
    sys.stdin.readline()
    for s in socks:
        s.close()


def clientMany(port: int) -> None:
    raiseFileLimit()
    start = time.perf_counter()
    socks = []
    ep = select.epoll()
    for _ in range(MANY_CONNECTIONS):
        s = socket.socket()
        s.setblocking(False)
        err = s.connect_ex(("127.0.0.1", port))
        if err not in (0, errno.EINPROGRESS):
            raise OSError(err, os.strerror(err))
        socks.append(s)
        ep.register(s.fileno(), select.EPOLLOUT)
    sent = set()
    served = 0
    byFd = {s.fileno(): s for s in socks}
    deadline = time.perf_counter() + 60
    while served < MANY_CONNECTIONS and time.perf_counter() < deadline:
        for fd, _ in ep.poll(1):
            s = byFd[fd]
            if fd not in sent:
                if s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                    ep.unregister(fd)
                    continue
                s.send(b"x")
                sent.add(fd)
                ep.modify(fd, select.EPOLLIN)
            elif s.recv(10):
                served += 1
                ep.unregister(fd)
    print(served, time.perf_counter() - start)
    for s in socks:
        s.close()


CLIENTS = {
    "pingpong": clientPingPong,
    "bulk": clientBulk,
    "idle": clientIdle,
    "many": clientMany,
}


# -- harness -------------------------------------------------------------------


def available(name: str) -> bool:
    modules = {"twisted": "twisted", "uvloop": "uvloop"}
    if name not in modules:
        return True
    try:
        __import__(modules[name])
    except ImportError:
        return False
    return True


def freePort() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port: int = s.getsockname()[1]
    s.close()
    return port


def rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def cpuSeconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # utime and stime, in clock ticks.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def runClient(kind: str, port: int) -> list[str]:
    out = subprocess.run(
        [sys.executable, __file__, "--client", kind, str(port)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return out.stdout.split()


def measure(name: str) -> dict[str, float]:
    port = freePort()
    server = subprocess.Popen(
        [sys.executable, __file__, "--server", name, str(port)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != "ready":
            raise RuntimeError(f"{name} server did not start")
        results: dict[str, float] = {}
        cpu = cpuSeconds(server.pid)
        results["pingpong"] = float(runClient("pingpong", port)[0])
        # Messages per CPU-second of the server: robust on a busy machine.
        used = cpuSeconds(server.pid) - cpu
        results["pingpongCPU"] = results["pingpong"] * PING_SECONDS / max(used, 1e-9)
        cpu = cpuSeconds(server.pid)
        results["bulk"] = float(runClient("bulk", port)[0])
        used = cpuSeconds(server.pid) - cpu
        results["bulkCPU"] = results["bulk"] * BULK_SECONDS / max(used, 1e-9)
        before = rss(server.pid)
        idle = subprocess.Popen(
            [sys.executable, __file__, "--client", "idle", str(port)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert idle.stdout is not None and idle.stdin is not None
        idle.stdout.readline()
        results["idle"] = (rss(server.pid) - before) / IDLE_CONNECTIONS
        idle.stdin.write("\n")
        idle.stdin.flush()
        idle.wait()
        if SKIP_MANY:
            results["many"] = results["manySeconds"] = float("nan")
            return results
        served, seconds = runClient("many", port)
        results["many"] = float(served)
        results["manySeconds"] = float(seconds)
        return results
    finally:
        server.kill()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--server")
    parser.add_argument("--client")
    parser.add_argument("--only", help="comma-separated server names to run")
    parser.add_argument("--skip-many", action="store_true", help="skip the 10k test")
    parser.add_argument("port", nargs="?", type=int)
    args = parser.parse_args()
    if args.server:
        raiseFileLimit()
        SERVERS[args.server](args.port)
        return
    if args.client:
        CLIENTS[args.client](args.port)
        return
    names = [n for n in SERVERS if available(n)]
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    global SKIP_MANY
    SKIP_MANY = args.skip_many
    results = {}
    for name in names:
        results[name] = measure(name)
        r = results[name]
        print(
            f"{name:8} ping-pong {r['pingpong']:>10,.0f} msg/s  "
            f"bulk {r['bulk']:>8,.1f} MB/s  "
            f"({r['pingpongCPU']:,.0f} msg/CPU-s, {r['bulkCPU']:,.0f} MB/CPU-s)  "
            f"idle {r['idle'] / 1024:>6.2f} KiB/conn  "
            f"10k served {r['many']:.0f} in {r['manySeconds']:.2f}s",
            flush=True,
        )
    if "torsion" not in results:
        return
    mine = results["torsion"]
    print()
    print(
        f"{'torsion / anchor':18} {'ping-pong':>10} {'bulk':>8} "
        f"{'ping/CPU-s':>11} {'bulk/CPU-s':>11} {'idle mem':>9}"
    )
    for name in names:
        if name == "torsion":
            continue
        other = results[name]
        idle = mine["idle"] / other["idle"] if other["idle"] > 0 else float("nan")
        print(
            f"{name:18} {mine['pingpong'] / other['pingpong']:>9.2f}x "
            f"{mine['bulk'] / other['bulk']:>7.2f}x "
            f"{mine['pingpongCPU'] / other['pingpongCPU']:>10.2f}x "
            f"{mine['bulkCPU'] / other['bulkCPU']:>10.2f}x "
            f"{idle:>8.2f}x"
        )


if __name__ == "__main__":
    main()
