"""
UDP datagrams per second: torsion beside Twisted's epoll reactor, asyncio,
uvloop and a minimal pure-Python epoll loop (the floor), in the same run.

64-byte datagrams over 127.0.0.1; every server runs in its own process and
has one load process of its own:

- ``receive``: the load process floods the server's port; the server counts
  what it reads over a fixed window.  The load process sends with UDP
  segmentation offload, 64 datagrams per system call, so that it outpaces
  every server here: the figure is the server's receive capacity, not the
  sender's (with one ``send`` per datagram, a Python sender tops out below
  what torsion reads, and every server looks alike).
- ``echo``: the load process keeps 64 datagrams in flight against an echo
  server (sending with the same offload, collecting replies with
  ``recvmmsg``) and the server counts what it answers: a read and a write
  per datagram.
- ``drain``: in one process, 2,000 datagrams are queued on the port's socket
  and the port's ``doRead`` is timed draining them, beside a bare
  ``recvfrom`` loop.

The floor is the least a Python server can do with the ``socket`` module:
one ``recvfrom`` (and, for echo, one ``sendto``) per datagram from an epoll
loop.  torsion reads batches with ``recvmmsg`` on Linux, so it can pass it.

Run with the benchmark environment, where Twisted and uvloop are installed::

    /work/benchvenv/bin/python packages/core/benchmarks/bench_udp.py

Rows whose library is missing are skipped, and their ratios shown as "-".
"""

from __future__ import annotations

import errno
import os
import select
import socket
import statistics
import subprocess
import sys
import time

WARMUP = 0.5
WINDOW = 2.0
ROUNDS = 3
PAYLOAD = b"x" * 64
IN_FLIGHT = 64
# recvmmsg returns once at least one datagram is in (after blocking for it).
_MSG_WAITFORONE = 0x10000
# The socket option (level SOL_UDP) giving the segment size of a UDP GSO send.
_UDP_SEGMENT = 103
# A load process stops when the server has gone away.
_FATAL = frozenset({errno.ECONNREFUSED, errno.EBADF, errno.ENOTCONN})
# What sendmsg says when the kernel has no UDP segmentation offload.
_NO_OFFLOAD = frozenset({errno.EINVAL, errno.ENOPROTOOPT, errno.EOPNOTSUPP, errno.EIO})

# ---------------------------------------------------------------------------
# Servers (each runs in its own process: ``bench_udp.py serve IMPL MODE``)


def _report(count: int, elapsed: float, cpu: float) -> None:
    sys.stdout.write(f"RATE {count / elapsed:.1f} {count / cpu:.1f}\n")
    sys.stdout.flush()


class _Meter:
    """
    Counts datagrams; measures from ``WARMUP`` after the first to
    ``WARMUP + WINDOW`` after it.
    """

    def __init__(self, later, stop) -> None:  # type: ignore[no-untyped-def]
        self.count = 0
        self.later = later
        self.stop = stop
        self.started = False
        self.mark = 0
        self.markTime = 0.0
        self.markCPU = 0.0

    def tick(self) -> None:
        self.count += 1
        if not self.started:
            self.started = True
            self.later(WARMUP, self._begin)

    def _begin(self) -> None:
        self.mark = self.count
        self.markTime = time.perf_counter()
        self.markCPU = time.process_time()
        self.later(WINDOW, self._end)

    def _end(self) -> None:
        _report(
            self.count - self.mark,
            time.perf_counter() - self.markTime,
            time.process_time() - self.markCPU,
        )
        self.stop()


def _announce(port: int) -> None:
    sys.stdout.write(f"PORT {port}\n")
    sys.stdout.flush()


def serveTorsion(mode: str, reactorName: str) -> None:
    from torsion.internet.main import makeReactor
    from torsion.internet.protocol import DatagramProtocol

    if reactorName == "uvloop":
        import asyncio

        import uvloop

        from torsion.internet.asyncioreactor import AsyncioSelectorReactor

        loop = uvloop.new_event_loop()
        asyncio.set_event_loop(loop)
        reactor = AsyncioSelectorReactor(loop)
    else:
        reactor = makeReactor(reactorName)

    class Server(DatagramProtocol):
        noisy = False

        def __init__(self) -> None:
            self.meter = _Meter(reactor.callLater, reactor.stop)

        def datagramReceived(self, data: bytes, addr: tuple[str, int]) -> None:
            if mode == "echo":
                self.transport.write(data, addr)
            self.meter.tick()

    port = reactor.listenUDP(0, Server(), interface="127.0.0.1")
    _announce(port.getHost().port)
    reactor.run(installSignalHandlers=False)


def serveTwisted(mode: str) -> None:
    from twisted.internet import epollreactor

    epollreactor.install()
    from twisted.internet import reactor
    from twisted.internet.protocol import DatagramProtocol

    class Server(DatagramProtocol):
        noisy = False

        def __init__(self) -> None:
            self.meter = _Meter(reactor.callLater, reactor.stop)

        def datagramReceived(self, data, addr):  # type: ignore[no-untyped-def]
            if mode == "echo":
                self.transport.write(data, addr)
            self.meter.tick()

    port = reactor.listenUDP(0, Server(), interface="127.0.0.1")
    _announce(port.getHost().port)
    reactor.run(installSignalHandlers=False)


def serveAsyncio(mode: str, useUvloop: bool = False) -> None:
    import asyncio

    if useUvloop:
        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())

    async def main() -> None:
        loop = asyncio.get_running_loop()
        done = loop.create_future()

        class Server(asyncio.DatagramProtocol):
            def __init__(self) -> None:
                self.meter = _Meter(loop.call_later, lambda: done.set_result(None))

            def connection_made(self, transport) -> None:  # type: ignore[no-untyped-def]
                self.transport = transport

            def datagram_received(self, data, addr) -> None:  # type: ignore[no-untyped-def]
                if mode == "echo":
                    self.transport.sendto(data, addr)
                self.meter.tick()

        transport, _ = await loop.create_datagram_endpoint(
            Server, local_addr=("127.0.0.1", 0)
        )
        _announce(transport.get_extra_info("sockname")[1])
        await done
        transport.close()

    asyncio.run(main())


def serveFloor(mode: str) -> None:
    """
    The least a Python server does with the ``socket`` module: an epoll loop
    and one ``recvfrom`` (and ``sendto``) per datagram.
    """
    skt = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    skt.bind(("127.0.0.1", 0))
    skt.setblocking(False)
    poller = select.epoll()
    poller.register(skt.fileno(), select.EPOLLIN)
    timers: list[tuple[float, object]] = []
    finished = []

    def later(delay: float, f: object) -> None:
        timers.append((time.monotonic() + delay, f))

    meter = _Meter(later, lambda: finished.append(True))
    tick = meter.tick
    recvfrom = skt.recvfrom
    sendto = skt.sendto
    echo = mode == "echo"
    _announce(skt.getsockname()[1])
    while not finished:
        if timers:
            now = time.monotonic()
            for entry in [t for t in timers if t[0] <= now]:
                timers.remove(entry)
                entry[1]()  # type: ignore[operator]
        poller.poll(0.01)
        for _ in range(256):
            try:
                data, addr = recvfrom(8192)
            except BlockingIOError:
                break
            if echo:
                sendto(data, addr)
            tick()


# ---------------------------------------------------------------------------
# Load generators (``bench_udp.py load MODE PORT``)


class _Sender:
    """
    Sends bursts of 64-byte datagrams on a connected socket with UDP
    segmentation offload (Linux 4.18+): one ``sendmsg`` hands the kernel a
    whole burst, which it splits into separate datagrams before they reach
    the server's socket.  Per datagram this costs the load process far less
    than one ``send`` each, so a single load process outpaces the server it
    measures.  Without the offload it falls back to one ``send`` per
    datagram (and says so).
    """

    def __init__(self, skt: socket.socket) -> None:
        self._skt = skt
        self._segment = [
            (socket.SOL_UDP, _UDP_SEGMENT, len(PAYLOAD).to_bytes(2, sys.byteorder))
        ]
        self._offload = True

    def send(self, count: int) -> None:
        """
        Send ``count`` datagrams (at most 64).

        :raises OSError: if the server has gone away.
        """
        if self._offload:
            try:
                self._skt.sendmsg([PAYLOAD * count], self._segment)
                return
            except OSError as e:
                if e.errno in _FATAL:
                    raise
                if e.errno not in _NO_OFFLOAD:
                    return
                self._offload = False
                sys.stderr.write("no UDP segmentation offload: sending one by one\n")
        send = self._skt.send
        for _ in range(count):
            try:
                send(PAYLOAD)
            except OSError as e:
                if e.errno in _FATAL:
                    raise


class _Replies:
    """
    ``recvmmsg`` on a connected blocking socket: waits for a reply, then
    takes every waiting one (up to ``IN_FLIGHT``) in the same call.
    """

    def __init__(self, skt: socket.socket) -> None:
        import ctypes

        from torsion.internet._mmsg import structures

        IOVec, MMsgHdr = structures()
        self._fd = skt.fileno()
        self._buffer = ctypes.create_string_buffer(IN_FLIGHT * 2048)
        base = ctypes.addressof(self._buffer)
        self._iovecs = (IOVec * IN_FLIGHT)()
        self._headers = (MMsgHdr * IN_FLIGHT)()
        for i in range(IN_FLIGHT):
            self._iovecs[i].iov_base = base + i * 2048
            self._iovecs[i].iov_len = 2048
            header = self._headers[i].msg_hdr
            header.msg_iov = ctypes.addressof(self._iovecs[i])
            header.msg_iovlen = 1
        self._recvmmsg = ctypes.CDLL(None, use_errno=True).recvmmsg
        self._getErrno = ctypes.get_errno

    def receive(self) -> int:
        """
        :return: how many replies arrived; ``0`` after a timeout.
        :raises OSError: if the server has gone away.
        """
        got = int(
            self._recvmmsg(self._fd, self._headers, IN_FLIGHT, _MSG_WAITFORONE, None)
        )
        if got < 0:
            code = int(self._getErrno())
            if code in _FATAL:
                raise OSError(code, os.strerror(code))
            return 0
        return got


def load(mode: str, port: int) -> None:
    """
    Load the server on ``port``: flood it (``receive``) or keep
    ``IN_FLIGHT`` datagrams in flight against it (``echo``).  Returns when
    the server has gone away.
    """
    skt = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    skt.connect(("127.0.0.1", port))
    sender = _Sender(skt)
    try:
        if mode == "receive":
            while True:
                sender.send(IN_FLIGHT)
        # Lost datagrams are replaced when a wait for replies times out.
        skt.settimeout(0.2)
        replies = _Replies(skt)
        inFlight = 0
        while True:
            sender.send(IN_FLIGHT - inFlight)
            inFlight = IN_FLIGHT
            got = replies.receive()
            inFlight = inFlight - got if got else 0
    except OSError:
        return


# ---------------------------------------------------------------------------
# The read path alone (``bench_udp.py drain IMPL``)

DRAIN_BATCH = 2000
DRAIN_ROUNDS = 100


def drain(which: str) -> None:
    """
    Print the datagrams per second the read path of ``which`` (``torsion``,
    ``twisted`` or ``floor``) drains from a socket filled beforehand.
    """
    count = [0]
    if which == "floor":
        receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        receiver.bind(("127.0.0.1", 0))
        receiver.setblocking(False)
        recvfrom = receiver.recvfrom

        def doRead() -> None:
            for _ in range(256):
                try:
                    recvfrom(8192)
                except BlockingIOError:
                    return
                count[0] += 1

    else:
        if which == "torsion":
            from torsion.internet.main import makeReactor
            from torsion.internet.protocol import DatagramProtocol

            reactor = makeReactor("epoll")
        else:
            from twisted.internet import epollreactor
            from twisted.internet.protocol import DatagramProtocol

            reactor = epollreactor.EPollReactor()

        class Counter(DatagramProtocol):
            noisy = False

            def datagramReceived(self, data, addr):  # type: ignore[no-untyped-def]
                count[0] += 1

        port = reactor.listenUDP(0, Counter(), interface="127.0.0.1")
        receiver = port.socket
        doRead = port.doRead
    receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender.connect(receiver.getsockname())
    elapsed = 0.0
    for _ in range(DRAIN_ROUNDS):
        for _ in range(DRAIN_BATCH):
            sender.send(PAYLOAD)
        before = count[0]
        started = time.perf_counter()
        while count[0] - before < DRAIN_BATCH:
            doRead()
        elapsed += time.perf_counter() - started
    rate = DRAIN_ROUNDS * DRAIN_BATCH / elapsed
    sys.stdout.write(f"RATE {rate:.1f} {rate:.1f}\n")


def _drainRate(which: str) -> float:
    out = subprocess.run(
        [sys.executable, __file__, "drain", which],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout
    return float(out.split()[1])


# ---------------------------------------------------------------------------
# Driver


def _measure(impl: list[str], mode: str) -> tuple[float, float]:
    server = subprocess.Popen(
        [sys.executable, __file__, "serve", mode, *impl],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdout is not None
    line = server.stdout.readline()
    if not line.startswith("PORT "):
        server.kill()
        raise RuntimeError(f"server {impl} did not start: {line!r}")
    port = line.split()[1]
    loader = subprocess.Popen([sys.executable, __file__, "load", mode, port])
    try:
        result = server.stdout.readline()
        server.wait(timeout=30)
    finally:
        loader.kill()
        loader.wait()
        if server.poll() is None:
            server.kill()
            server.wait()
    if not result.startswith("RATE "):
        raise RuntimeError(f"server {impl} reported {result!r}")
    wall, cpu = result.split()[1:3]
    return float(wall), float(cpu)


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def _ratio(ours: float, other: tuple[float, float] | float | None, column: int) -> str:
    if other is None:
        return "-"
    theirs = other if isinstance(other, float) else other[column]
    return f"{ours / theirs:.2f}x"


def main() -> None:
    implementations: list[tuple[str, list[str]]] = [
        ("torsion (epoll)", ["torsion", "epoll"]),
        ("torsion (asyncio reactor)", ["torsion", "asyncio"]),
    ]
    if _available("uvloop"):
        implementations.append(("torsion (uvloop reactor)", ["torsion", "uvloop"]))
    if _available("twisted"):
        implementations.append(("Twisted (epoll)", ["twisted"]))
    implementations.append(("asyncio", ["asyncio"]))
    if _available("uvloop"):
        implementations.append(("uvloop", ["uvloop"]))
    implementations.append(("floor (epoll + recvfrom)", ["floor"]))
    print(
        f"UDP, 64-byte datagrams, one load process per server, {WINDOW:.0f} s windows"
    )
    print(
        "datagrams/s: wall-clock rate; per CPU-s: datagrams per second of the"
        " server's own CPU time (robust when the machine is busy)"
    )
    print(
        f"each figure is the median of {ROUNDS} runs, taken in turns so that a"
        " change in the machine's load touches every server alike"
    )
    print(f"{'scenario':<9} {'server':<27} {'datagrams/s':>12} {'per CPU-s':>12}")
    ratios: list[str] = []
    for mode in ("receive", "echo"):
        runs: dict[str, list[tuple[float, float]]] = {}
        for _ in range(ROUNDS):
            for label, impl in implementations:
                runs.setdefault(label, []).append(_measure(impl, mode))
        rates = {
            label: (
                statistics.median(wall for wall, _ in results),
                statistics.median(cpu for _, cpu in results),
            )
            for label, results in runs.items()
        }
        for label, (wall, cpu) in rates.items():
            print(f"{mode:<9} {label:<27} {wall:>12,.0f} {cpu:>12,.0f}", flush=True)
        for column, name in ((0, "wall"), (1, "per CPU-s")):
            ours = rates["torsion (epoll)"][column]
            versus = {
                "Twisted": rates.get("Twisted (epoll)"),
                "asyncio": rates["asyncio"],
                "uvloop": rates.get("uvloop"),
                "floor": rates["floor (epoll + recvfrom)"],
            }
            ratios.append(
                f"{mode:<9} {name:<10}"
                + "".join(
                    f"  torsion/{other} {_ratio(ours, theirs, column):>6}"
                    for other, theirs in versus.items()
                )
            )
    drainers = [("torsion (epoll)", "torsion"), ("recvfrom floor", "floor")]
    if _available("twisted"):
        drainers.insert(1, ("Twisted (epoll)", "twisted"))
    drainRuns: dict[str, list[float]] = {}
    for _ in range(ROUNDS):
        for label, which in drainers:
            drainRuns.setdefault(label, []).append(_drainRate(which))
    drained = {label: statistics.median(r) for label, r in drainRuns.items()}
    for label, rate in drained.items():
        print(f"{'drain':<9} {label:<27} {rate:>12,.0f} {'':>12}")
    ours = drained["torsion (epoll)"]
    ratios.append(
        f"{'drain':<9} {'CPU':<10}"
        f" torsion/Twisted {_ratio(ours, drained.get('Twisted (epoll)'), 0):>6}"
        f"  torsion/floor {_ratio(ours, drained['recvfrom floor'], 0):>6}"
    )
    print()
    print("\n".join(ratios))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        mode, which = sys.argv[2], sys.argv[3]
        if which == "torsion":
            serveTorsion(mode, sys.argv[4])
        elif which == "twisted":
            serveTwisted(mode)
        elif which == "floor":
            serveFloor(mode)
        else:
            serveAsyncio(mode, useUvloop=which == "uvloop")
    elif len(sys.argv) > 1 and sys.argv[1] == "drain":
        drain(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "load":
        load(sys.argv[2], int(sys.argv[3]))
    else:
        os.environ.setdefault("PYTHONHASHSEED", "0")
        main()
