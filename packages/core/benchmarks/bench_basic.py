"""
Framing throughput: lines per second through ``LineReceiver`` and strings per
second through ``Int32StringReceiver``, for 100-byte messages delivered in
64 KiB reads.

Anchors, measured in the same run: Twisted's matching receivers (when
Twisted is importable, e.g. with ``/work/benchvenv/bin/python``) and a
minimal pure-Python floor (a bare split loop with no limits, pausing or
reentrancy) that no full receiver can beat by much.

Run: ``python bench_basic.py``.  Each figure is the best of several
interleaved rounds, which keeps a noisy shared machine from favouring one
side.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from typing import Any

from torsion.protocols import basic as torsion_basic

try:
    from twisted.protocols import basic as twisted_basic
except ImportError:  # pragma: no cover - depends on the environment
    twisted_basic = None

MESSAGE_SIZE = 100
MESSAGES = 100_000
READ_SIZE = 65536
ROUNDS = 20


class Transport:
    disconnecting = False

    def write(self, data: bytes) -> None:
        pass

    def loseConnection(self) -> None:
        self.disconnecting = True

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass


def reads(stream: bytes) -> list[bytes]:
    return [stream[i : i + READ_SIZE] for i in range(0, len(stream), READ_SIZE)]


LINE_READS = reads((b"l" * (MESSAGE_SIZE - 2) + b"\r\n") * MESSAGES)
STRING_READS = reads((struct.pack("!I", MESSAGE_SIZE - 4) + b"s" * 96) * MESSAGES)
LARGE_SIZE = 4 * 2**20
LARGE_MESSAGES = 8
LARGE_READS = reads(
    (struct.pack("!I", LARGE_SIZE) + b"L" * LARGE_SIZE) * LARGE_MESSAGES
)


def lineReceiver(base: type[Any]) -> Callable[[], Any]:
    class Counting(base):  # type: ignore[misc, valid-type]
        count = 0

        def lineReceived(self, line: bytes) -> None:
            self.count += 1

    return Counting


def stringReceiver(base: type[Any], maxLength: int = 99999) -> Callable[[], Any]:
    class Counting(base):  # type: ignore[misc, valid-type]
        MAX_LENGTH = maxLength
        count = 0

        def stringReceived(self, string: bytes) -> None:
            self.count += 1

    return Counting


class FloorLines:
    """
    The least a line parser can do: split, keep the tail, call per line.
    """

    count = 0
    _buffer = b""

    def dataReceived(self, data: bytes) -> None:
        lines = (self._buffer + data).split(b"\r\n")
        self._buffer = lines.pop()
        for line in lines:
            self.lineReceived(line)

    def lineReceived(self, line: bytes) -> None:
        self.count += 1


class FloorStrings:
    """
    The least a length-prefix parser can do: unpack, slice, call.
    """

    count = 0
    _buffer = b""
    _unpack = struct.Struct("!I").unpack_from

    def dataReceived(self, data: bytes) -> None:
        buffer = self._buffer + data
        offset = 0
        size = len(buffer)
        unpack = self._unpack
        while offset + 4 <= size:
            end = offset + 4 + unpack(buffer, offset)[0]
            if end > size:
                break
            self.stringReceived(buffer[offset + 4 : end])
            offset = end
        self._buffer = buffer[offset:]

    def stringReceived(self, string: bytes) -> None:
        self.count += 1


def once(
    factory: Callable[[], Any], chunks: list[bytes], messages: int = MESSAGES
) -> float:
    proto = factory()
    proto.transport = Transport()
    start = time.perf_counter()
    for chunk in chunks:
        proto.dataReceived(chunk)
    elapsed = time.perf_counter() - start
    if proto.count != messages:
        raise AssertionError(f"{factory!r} parsed {proto.count} of {messages}")
    return elapsed


def measure(
    contenders: dict[str, Callable[[], Any]],
    chunks: list[bytes],
    messages: int = MESSAGES,
    rounds: int = ROUNDS,
) -> dict[str, float]:
    best = dict.fromkeys(contenders, float("inf"))
    for _ in range(rounds):
        for name, factory in contenders.items():
            best[name] = min(best[name], once(factory, chunks, messages))
    return {name: messages / seconds for name, seconds in best.items()}


def report(title: str, rates: dict[str, float], size: int = MESSAGE_SIZE) -> None:
    print(f"\n{title} ({size}-byte messages, {READ_SIZE // 1024} KiB reads)")
    print(f"{'implementation':<14} {'msgs/s':>12} {'torsion/x':>10}")
    ours = rates["torsion"]
    for name, rate in rates.items():
        print(f"{name:<14} {rate:>12,.0f} {ours / rate:>10.2f}")


def main() -> None:
    lines: dict[str, Callable[[], Any]] = {
        "torsion": lineReceiver(torsion_basic.LineReceiver),
        "torsion-only": lineReceiver(torsion_basic.LineOnlyReceiver),
    }
    strings: dict[str, Callable[[], Any]] = {
        "torsion": stringReceiver(torsion_basic.Int32StringReceiver),
    }
    if twisted_basic is not None:
        lines["twisted"] = lineReceiver(twisted_basic.LineReceiver)
        lines["twisted-only"] = lineReceiver(twisted_basic.LineOnlyReceiver)
        strings["twisted"] = stringReceiver(twisted_basic.Int32StringReceiver)
    else:
        print("Twisted is not importable: run with /work/benchvenv/bin/python")
    lines["floor"] = FloorLines
    strings["floor"] = FloorStrings
    report("LineReceiver: lines/s", measure(lines, LINE_READS))
    report("Int32StringReceiver: strings/s", measure(strings, STRING_READS))
    large: dict[str, Callable[[], Any]] = {
        "torsion": stringReceiver(torsion_basic.Int32StringReceiver, LARGE_SIZE),
    }
    if twisted_basic is not None:
        large["twisted"] = stringReceiver(twisted_basic.Int32StringReceiver, LARGE_SIZE)
    report(
        "Int32StringReceiver, large strings: strings/s",
        measure(large, LARGE_READS, LARGE_MESSAGES, rounds=3),
        LARGE_SIZE,
    )


if __name__ == "__main__":
    main()
