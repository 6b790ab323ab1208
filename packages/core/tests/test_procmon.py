"""
Tests for torsion.runner.procmon.ProcessMonitor: the restart and kill
timing on a fake reactor with a Clock, then real children on a fresh
reactor.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import pytest
from reactormixins import runUntil
from zope.interface.verify import verifyObject

from torsion.application.service import IService
from torsion.internet import error
from torsion.internet.defer import Deferred
from torsion.internet.task import Clock
from torsion.logger import globalLogPublisher
from torsion.python.failure import Failure
from torsion.runner.procmon import MAX_LOGGED_LINE, LoggingProtocol, ProcessMonitor


class FakeProcess:
    def __init__(self, reactor: FakeReactor, protocol: Any, pid: int) -> None:
        self.reactor = reactor
        self.protocol = protocol
        self.pid: int | None = pid
        self.signals: list[str] = []
        self.stdinClosed = False

    def signalProcess(self, signalID: str) -> None:
        if self.pid is None:
            raise error.ProcessExitedAlready()
        self.signals.append(signalID)

    def closeStdin(self) -> None:
        self.stdinClosed = True

    def end(self, status: int = 0) -> None:
        self.pid = None
        reason: Exception = (
            error.ProcessDone(status)
            if status == 0
            else error.ProcessTerminated(status)
        )
        self.protocol.processEnded(Failure(reason))


class FakeReactor(Clock):
    def __init__(self) -> None:
        super().__init__()
        self.spawned: list[tuple[str, list[str], dict[str, Any], FakeProcess]] = []
        self.failNext = False

    def spawnProcess(
        self, protocol: Any, executable: str, args: list[str], **kwargs: Any
    ) -> FakeProcess:
        if self.failNext:
            self.failNext = False
            raise OSError("cannot fork")
        process = FakeProcess(self, protocol, 1000 + len(self.spawned))
        protocol.makeConnection(process)
        self.spawned.append((executable, args, kwargs, process))
        return process

    def latest(self, name: str) -> FakeProcess:
        return [p for _, a, _, p in self.spawned if a[-1] == name][-1]

    def count(self, name: str) -> int:
        return sum(1 for _, a, _, _ in self.spawned if a[-1] == name)


@pytest.fixture
def fake() -> tuple[ProcessMonitor, FakeReactor]:
    reactor = FakeReactor()
    monitor = ProcessMonitor(reactor=reactor)
    return monitor, reactor


@pytest.fixture
def events() -> Iterator[list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(seen.append)
    yield seen
    globalLogPublisher.removeObserver(seen.append)


def test_isAService(fake: tuple[ProcessMonitor, FakeReactor]) -> None:
    monitor, _ = fake
    verifyObject(IService, monitor)


def test_startsOnlyWhenRunning(fake: tuple[ProcessMonitor, FakeReactor]) -> None:
    monitor, reactor = fake
    monitor.addProcess("a", ["/bin/prog", "a"], env={"X": "1"}, cwd="/tmp")
    assert reactor.spawned == []
    monitor.startService()
    executable, args, kwargs, process = reactor.spawned[0]
    assert (executable, args) == ("/bin/prog", ["/bin/prog", "a"])
    assert kwargs["env"] == {"X": "1"}
    assert kwargs["path"] == "/tmp"
    assert process.stdinClosed
    monitor.addProcess("b", ["/bin/prog", "b"])
    assert reactor.count("b") == 1
    assert sorted(monitor.protocols) == ["a", "b"]


def test_addProcessErrors(fake: tuple[ProcessMonitor, FakeReactor]) -> None:
    monitor, _ = fake
    monitor.addProcess("a", ["/bin/true"])
    with pytest.raises(KeyError):
        monitor.addProcess("a", ["/bin/true"])
    with pytest.raises(ValueError):
        monitor.addProcess("empty", [])
    with pytest.raises(KeyError):
        monitor.stopProcess("nope")
    with pytest.raises(KeyError):
        monitor.removeProcess("nope")


def test_restartAfterMinDelay(fake: tuple[ProcessMonitor, FakeReactor]) -> None:
    monitor, reactor = fake
    monitor.minRestartDelay = 2
    monitor.addProcess("a", ["/bin/prog", "a"])
    monitor.startService()
    reactor.advance(10)  # a healthy run
    reactor.latest("a").end(1)
    reactor.advance(1.9)
    assert reactor.count("a") == 1
    reactor.advance(0.1)
    assert reactor.count("a") == 2


def test_quickDeathsBackOff(fake: tuple[ProcessMonitor, FakeReactor]) -> None:
    monitor, reactor = fake
    monitor.threshold = 5
    monitor.minRestartDelay = 1
    monitor.maxRestartDelay = 4
    monitor.addProcess("a", ["/bin/prog", "a"])
    monitor.startService()
    delays = []
    for _ in range(5):
        reactor.latest("a").end(1)
        before = reactor.count("a")
        waited = 0.0
        while reactor.count("a") == before:
            reactor.advance(0.5)
            waited += 0.5
        delays.append(waited)
    assert delays == [1, 2, 4, 4, 4]
    # A healthy run resets the delay.
    reactor.advance(5)
    reactor.latest("a").end(0)
    reactor.advance(1)
    assert reactor.count("a") == 7


def test_stopProcessTermThenKill(fake: tuple[ProcessMonitor, FakeReactor]) -> None:
    monitor, reactor = fake
    monitor.killTime = 3
    monitor.addProcess("a", ["/bin/prog", "a"])
    monitor.startService()
    process = reactor.latest("a")
    ended = monitor.stopProcess("a")
    assert process.signals == ["TERM"]
    reactor.advance(2.9)
    assert process.signals == ["TERM"]
    reactor.advance(0.1)
    assert process.signals == ["TERM", "KILL"]
    assert not ended.called
    process.end(9)
    assert ended.called


def test_noKillWhenItExits(fake: tuple[ProcessMonitor, FakeReactor]) -> None:
    monitor, reactor = fake
    monitor.addProcess("a", ["/bin/prog", "a"])
    monitor.startService()
    process = reactor.latest("a")
    monitor.stopProcess("a")
    process.end(0)
    reactor.advance(100)
    assert process.signals == ["TERM"]


def test_stopServiceStopsAllWithoutRestart(
    fake: tuple[ProcessMonitor, FakeReactor],
) -> None:
    monitor, reactor = fake
    monitor.addProcess("a", ["/bin/prog", "a"])
    monitor.addProcess("b", ["/bin/prog", "b"])
    monitor.startService()
    reactor.latest("b").end(1)  # b is waiting to restart
    stopped = monitor.stopService()
    assert not stopped.called
    reactor.latest("a").end(0)
    assert stopped.called
    reactor.advance(1000)
    assert (reactor.count("a"), reactor.count("b")) == (1, 1)
    assert not reactor.getDelayedCalls()


def test_stopServiceWithNothingRunning(
    fake: tuple[ProcessMonitor, FakeReactor],
) -> None:
    monitor, _ = fake
    monitor.startService()
    assert monitor.stopService().called


def test_removeProcess(fake: tuple[ProcessMonitor, FakeReactor]) -> None:
    monitor, reactor = fake
    monitor.addProcess("a", ["/bin/prog", "a"])
    monitor.startService()
    removed = monitor.removeProcess("a")
    reactor.latest("a").end(0)
    assert removed.called
    reactor.advance(1000)
    assert reactor.count("a") == 1
    assert "a" not in monitor.processes


def test_restartAll(fake: tuple[ProcessMonitor, FakeReactor]) -> None:
    monitor, reactor = fake
    monitor.addProcess("a", ["/bin/prog", "a"])
    monitor.addProcess("b", ["/bin/prog", "b"])
    monitor.startService()
    reactor.advance(10)
    first = {name: reactor.latest(name) for name in "ab"}
    monitor.restartAll()
    assert first["a"].signals == ["TERM"] and first["b"].signals == ["TERM"]
    for process in first.values():
        process.end(0)
    reactor.advance(monitor.minRestartDelay)
    assert (reactor.count("a"), reactor.count("b")) == (2, 2)


def test_signalAll(fake: tuple[ProcessMonitor, FakeReactor]) -> None:
    monitor, reactor = fake
    monitor.addProcess("a", ["/bin/prog", "a"])
    monitor.startService()
    monitor.signalAll("HUP")
    assert reactor.latest("a").signals == ["HUP"]


def test_spawnFailureRetried(fake: tuple[ProcessMonitor, FakeReactor]) -> None:
    monitor, reactor = fake
    monitor.addProcess("a", ["/bin/prog", "a"])
    reactor.failNext = True
    monitor.startService()
    assert reactor.count("a") == 0
    reactor.advance(monitor.minRestartDelay)
    assert reactor.count("a") == 1


def test_outputLoggedByLine(
    fake: tuple[ProcessMonitor, FakeReactor], events: list[dict[str, Any]]
) -> None:
    monitor, _ = fake
    protocol = LoggingProtocol(monitor, "web")
    protocol.childDataReceived(1, b"first line\nsec")
    protocol.childDataReceived(1, b"ond line\r\n")
    protocol.childDataReceived(2, b"an error\n")
    protocol.childDataReceived(1, b"no newline at the end")
    monitor.processes["web"] = None  # type: ignore[assignment]
    protocol.processEnded(Failure(error.ProcessDone(0)))
    lines = [(e["name"], e["line"], e["stream"]) for e in events if "line" in e]
    assert lines == [
        ("web", "first line", "stdout"),
        ("web", "second line", "stdout"),
        ("web", "an error", "stderr"),
        ("web", "no newline at the end", "stdout"),
    ]


def test_longLinesSplit(
    fake: tuple[ProcessMonitor, FakeReactor], events: list[dict[str, Any]]
) -> None:
    monitor, _ = fake
    protocol = LoggingProtocol(monitor, "chatty")
    protocol.childDataReceived(1, b"a" * (MAX_LOGGED_LINE - 1))
    assert not [e for e in events if "line" in e]
    protocol.childDataReceived(1, b"b")
    pieces = [e["line"] for e in events if "line" in e]
    assert pieces == ["a" * (MAX_LOGGED_LINE - 1) + "b"]
    protocol.childDataReceived(1, b"c" * (2 * MAX_LOGGED_LINE + 5))
    pieces = [e["line"] for e in events if "line" in e][1:]
    assert [len(p) for p in pieces] == [MAX_LOGGED_LINE, MAX_LOGGED_LINE]
    assert protocol._pending[1] == b"c" * 5


# -- real children ----------------------------------------------------------


def waitForEvent(
    reactor: Any, events: list[dict[str, Any]], predicate: Any
) -> dict[str, Any]:
    found: Deferred[dict[str, Any]] = Deferred()

    def observe(event: dict[str, Any]) -> None:
        if not found.called and predicate(event):
            found.callback(event)

    for event in list(events):
        observe(event)
    globalLogPublisher.addObserver(observe)
    try:
        return runUntil(reactor, found, timeout=30)
    finally:
        globalLogPublisher.removeObserver(observe)


def test_realChildRestarted(reactor: Any, events: list[dict[str, Any]]) -> None:
    monitor = ProcessMonitor(reactor=reactor)
    monitor.minRestartDelay = 0.01
    monitor.addProcess(
        "hello",
        [sys.executable, "-c", "print('hello from the child')"],
    )
    monitor.startService()
    waitForEvent(reactor, events, lambda e: e.get("line") == "hello from the child")
    waitForEvent(
        reactor,
        events,
        lambda e: (
            e.get("log_format", "").startswith("Started")
            and len(
                [x for x in events if x.get("log_format", "").startswith("Started")]
            )
            >= 2
        ),
    )
    runUntil(reactor, monitor.stopService(), timeout=30)
    started = [e for e in events if e.get("log_format", "").startswith("Started")]
    assert len({e["pid"] for e in started}) == len(started) >= 2


def test_realChildKilledAfterKillTime(
    reactor: Any, events: list[dict[str, Any]]
) -> None:
    monitor = ProcessMonitor(reactor=reactor)
    monitor.killTime = 0.2
    script = (
        "import signal, sys, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('stubborn', flush=True)\n"
        "while True: time.sleep(60)\n"
    )
    monitor.addProcess("stubborn", [sys.executable, "-c", script])
    monitor.startService()
    waitForEvent(reactor, events, lambda e: e.get("line") == "stubborn")
    runUntil(reactor, monitor.stopService(), timeout=30)
    assert monitor.protocols == {}
    assert any("SIGKILL" in e.get("log_format", "") for e in events)
