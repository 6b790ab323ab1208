"""
UDP datagrams per second: torsion against Twisted's epoll reactor and plain
asyncio, in the same run.

Two scenarios, 64-byte datagrams over 127.0.0.1, every server in its own
process and every load generator in its own process:

- ``receive``: two sender processes flood the server's port; the server
  counts what it reads over a fixed window (its receive capacity).
- ``echo``: two client processes keep 64 datagrams each in flight against an
  echo server and count the replies (read + write per datagram).
- ``drain``: in one process, 2,000 datagrams are queued on the port's socket
  and the port's ``doRead`` is timed draining them, beside a bare
  ``recvfrom`` loop (the floor: one system call per datagram, which no
  pure-Python reactor can go below).

Run with the benchmark environment, where Twisted is installed::

    /work/benchvenv/bin/python packages/core/benchmarks/bench_udp.py

Twisted rows are skipped (and their ratios shown as "-") when Twisted cannot
be imported.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

WARMUP = 0.5
WINDOW = 2.0
PAYLOAD = b"x" * 64
SENDERS = 1
IN_FLIGHT = 64

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


def serveAsyncio(mode: str) -> None:
    import asyncio

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


# ---------------------------------------------------------------------------
# Load generators (``bench_udp.py load MODE PORT``)


def load(mode: str, port: int) -> None:
    skt = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    skt.connect(("127.0.0.1", port))
    send = skt.send
    if mode == "receive":
        while True:
            try:
                for _ in range(1000):
                    send(PAYLOAD)
            except OSError:
                # The server went away (ECONNREFUSED) or the buffer is full.
                try:
                    skt.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                except OSError:
                    return
    skt.settimeout(0.2)
    recv = skt.recv
    while True:
        try:
            for _ in range(IN_FLIGHT):
                send(PAYLOAD)
            while True:
                recv(2048)
                send(PAYLOAD)
        except TimeoutError:
            # Datagrams were lost: refill the window.
            continue
        except OSError:
            return


# ---------------------------------------------------------------------------
# The read path alone (``bench_udp.py drain IMPL``)

DRAIN_BATCH = 2000
DRAIN_ROUNDS = 150


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
    loaders = [
        subprocess.Popen([sys.executable, __file__, "load", mode, port])
        for _ in range(SENDERS)
    ]
    try:
        result = server.stdout.readline()
        server.wait(timeout=30)
    finally:
        for loader in loaders:
            loader.kill()
            loader.wait()
        if server.poll() is None:
            server.kill()
            server.wait()
    if not result.startswith("RATE "):
        raise RuntimeError(f"server {impl} reported {result!r}")
    wall, cpu = result.split()[1:3]
    return float(wall), float(cpu)


def _twistedAvailable() -> bool:
    try:
        import twisted  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> None:
    implementations: list[tuple[str, list[str]]] = [
        ("torsion (epoll)", ["torsion", "epoll"]),
        ("torsion (asyncio reactor)", ["torsion", "asyncio"]),
        ("asyncio", ["asyncio"]),
    ]
    if _twistedAvailable():
        implementations.insert(2, ("Twisted (epoll)", ["twisted"]))
    print(f"UDP, 64-byte datagrams, {SENDERS} load process(es), {WINDOW:.0f} s windows")
    print(
        "datagrams/s: wall-clock rate; per CPU-s: datagrams per second of the"
        " server's own CPU time (robust when the machine is busy)"
    )
    print(f"{'scenario':<9} {'server':<27} {'datagrams/s':>12} {'per CPU-s':>12}")
    ratios: list[str] = []
    for mode in ("receive", "echo"):
        rates: dict[str, tuple[float, float]] = {}
        for label, impl in implementations:
            rates[label] = _measure(impl, mode)
            wall, cpu = rates[label]
            print(f"{mode:<9} {label:<27} {wall:>12,.0f} {cpu:>12,.0f}")
        for column, name in ((0, "wall"), (1, "per CPU-s")):
            ours = rates["torsion (epoll)"][column]
            twisted = rates.get("Twisted (epoll)")
            versusTwisted = f"{ours / twisted[column]:.2f}x" if twisted else "-"
            versusAsyncio = ours / rates["asyncio"][column]
            ratios.append(
                f"{mode:<9} {name:<10} torsion/Twisted {versusTwisted:>6}"
                f"   torsion/asyncio {versusAsyncio:.2f}x"
            )
    drainers = [("torsion (epoll)", "torsion"), ("recvfrom floor", "floor")]
    if _twistedAvailable():
        drainers.insert(1, ("Twisted (epoll)", "twisted"))
    drained = {label: _drainRate(which) for label, which in drainers}
    for label, rate in drained.items():
        print(f"{'drain':<9} {label:<27} {rate:>12,.0f} {'':>12}")
    ours = drained["torsion (epoll)"]
    twisted = drained.get("Twisted (epoll)")
    ratios.append(
        f"{'drain':<9} {'CPU':<10} torsion/Twisted "
        f"{(f'{ours / twisted:.2f}x' if twisted else '-'):>6}"
        f"   torsion/floor {ours / drained['recvfrom floor']:.2f}x"
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
        else:
            serveAsyncio(mode)
    elif len(sys.argv) > 1 and sys.argv[1] == "drain":
        drain(sys.argv[2])
    elif len(sys.argv) > 1 and sys.argv[1] == "load":
        load(sys.argv[2], int(sys.argv[3]))
    else:
        os.environ.setdefault("PYTHONHASHSEED", "0")
        main()
