"""
Tests for the reactor core shared by every reactor: running and stopping,
scheduled calls, system events, threads, signals and descriptor sets.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
from typing import Any

import pytest
from reactormixins import (
    REACTOR_NAMES,
    LogCapture,
    cleanUpReactor,
    makeReactor,
    runUntil,
)
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.internet import base, error, interfaces
from torsion.internet.defer import Deferred
from torsion.python.failure import Failure


def test_providesInterfaces(reactor: Any) -> None:
    for iface in (
        interfaces.IReactorCore,
        interfaces.IReactorTime,
        interfaces.IReactorFDSet,
        interfaces.IReactorTCP,
        interfaces.IReactorUNIX,
        interfaces.IReactorUNIXDatagram,
        interfaces.IReactorUDP,
        interfaces.IReactorMulticast,
        interfaces.IReactorSocket,
        interfaces.IReactorProcess,
        interfaces.IReactorThreads,
        interfaces.IReactorFromThreads,
        interfaces.IReactorWakeable,
        interfaces.IReactorPluggableResolver,
        interfaces.IReactorPluggableNameResolver,
    ):
        assert verifyObject(iface, reactor)


def test_availableReactors() -> None:
    assert {"epoll", "poll", "select"} <= set(REACTOR_NAMES)


# -- running and stopping ---------------------------------------------------


def test_runAndStop(reactor: Any) -> None:
    events: list[str] = []
    reactor.callWhenRunning(events.append, "running")
    reactor.callWhenRunning(lambda: events.append(f"flag={reactor.running}"))
    reactor.callLater(0, reactor.stop)
    reactor.addSystemEventTrigger("before", "shutdown", events.append, "before")
    reactor.addSystemEventTrigger("during", "shutdown", events.append, "during")
    reactor.addSystemEventTrigger("after", "shutdown", events.append, "after")
    reactor.run(installSignalHandlers=False)
    assert events == ["running", "flag=True", "before", "during", "after"]
    assert not reactor.running


def test_stopWhenNotRunning(reactor: Any) -> None:
    with pytest.raises(error.ReactorNotRunning):
        reactor.stop()


def test_notRestartable(reactor: Any) -> None:
    reactor.callWhenRunning(reactor.stop)
    reactor.run(installSignalHandlers=False)
    with pytest.raises(error.ReactorNotRestartable):
        reactor.run(installSignalHandlers=False)


def test_alreadyRunning(reactor: Any) -> None:
    caught: list[BaseException] = []

    def nested() -> None:
        try:
            reactor.run(installSignalHandlers=False)
        except error.ReactorAlreadyRunning as e:
            caught.append(e)
        reactor.stop()

    reactor.callWhenRunning(nested)
    reactor.run(installSignalHandlers=False)
    assert len(caught) == 1


def test_crashThenRunAgain(reactor: Any) -> None:
    runs: list[int] = []
    reactor.callLater(0, reactor.crash)
    reactor.run(installSignalHandlers=False)
    runs.append(1)
    reactor.callLater(0, reactor.crash)
    reactor.run(installSignalHandlers=False)
    runs.append(2)
    assert runs == [1, 2]


def test_callWhenRunningWhileRunning(reactor: Any) -> None:
    d: Deferred[str] = Deferred()
    reactor.callLater(0, lambda: reactor.callWhenRunning(d.callback, "now"))
    assert runUntil(reactor, d) == "now"


def test_iterateRunsDueCalls(reactor: Any) -> None:
    called: list[int] = []
    reactor.callLater(0, called.append, 1)
    reactor.iterate(0)
    reactor.iterate(0)
    assert called == [1]


def test_mainLoopSurvivesErrors(reactor: Any) -> None:
    def boom() -> None:
        raise ZeroDivisionError("in a delayed call")

    d: Deferred[None] = Deferred()
    reactor.callLater(0, boom)
    reactor.callLater(0.01, d.callback, None)
    with LogCapture() as logged:
        runUntil(reactor, d)
    assert [f.type for f in logged.errors] == [ZeroDivisionError]


# -- delayed calls ----------------------------------------------------------


def test_callLaterOrderAndArguments(reactor: Any) -> None:
    calls: list[Any] = []
    d: Deferred[None] = Deferred()
    reactor.callLater(0.02, calls.append, "second")
    reactor.callLater(0, calls.append, "first")
    reactor.callLater(0.02, lambda **kw: calls.append(kw), third=3)
    reactor.callLater(0.05, d.callback, None)
    runUntil(reactor, d)
    assert calls == ["first", "second", {"third": 3}]


def test_delayedCallInterface(reactor: Any) -> None:
    dc = reactor.callLater(10, lambda: None)
    assert verifyObject(interfaces.IDelayedCall, dc)
    assert dc.active()
    assert dc.getTime() == pytest.approx(reactor.seconds() + 10, abs=1)
    assert dc in reactor.getDelayedCalls()
    dc.cancel()
    assert not dc.active()
    assert dc not in reactor.getDelayedCalls()
    with pytest.raises(error.AlreadyCancelled):
        dc.cancel()
    with pytest.raises(error.AlreadyCancelled):
        dc.reset(1)
    with pytest.raises(error.AlreadyCancelled):
        dc.delay(1)


def test_alreadyCalled(reactor: Any) -> None:
    d: Deferred[None] = Deferred()
    dc = reactor.callLater(0, d.callback, None)
    runUntil(reactor, d)
    assert dc.called and not dc.active()
    with pytest.raises(error.AlreadyCalled):
        dc.cancel()
    with pytest.raises(error.AlreadyCalled):
        dc.reset(1)


def test_negativeDelay(reactor: Any) -> None:
    with pytest.raises(ValueError, match="delay"):
        reactor.callLater(-1, lambda: None)


def test_resetEarlierAndLater(reactor: Any) -> None:
    order: list[str] = []
    d: Deferred[None] = Deferred()
    late = reactor.callLater(100, order.append, "reset-earlier")
    early = reactor.callLater(0.01, order.append, "reset-later")
    late.reset(0.02)
    early.reset(0.04)
    reactor.callLater(0.06, d.callback, None)
    runUntil(reactor, d)
    assert order == ["reset-earlier", "reset-later"]


def test_delay(reactor: Any) -> None:
    order: list[str] = []
    d: Deferred[None] = Deferred()
    a = reactor.callLater(0.01, order.append, "a")
    reactor.callLater(0.02, order.append, "b")
    a.delay(0.02)
    before = a.getTime()
    reactor.callLater(0.06, d.callback, None)
    runUntil(reactor, d)
    assert order == ["b", "a"]
    assert before == pytest.approx(reactor.seconds(), abs=1)


def test_zeroDelayChainDoesNotStarveIO(reactor: Any) -> None:
    # A call that keeps rescheduling itself with delay 0 must let the
    # reactor wait for I/O between rounds.
    count = [0]

    def spin() -> None:
        count[0] += 1
        if not reader.done.called:
            reactor.callLater(0, spin)

    reader = PipeReader()
    try:
        reactor.addReader(reader)
        os.write(reader.w, b"x")
        reactor.callLater(0, spin)
        runUntil(reactor, reader.done)
        assert reader.reads == [b"x"]
        assert count[0] >= 1
        reactor.removeReader(reader)
    finally:
        reader.close()


def test_debugCreatorInRepr(reactor: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(base.DelayedCall, "debug", True)
    dc = reactor.callLater(1, lambda: None)
    assert "test_debugCreatorInRepr" in repr(dc)
    dc.cancel()
    assert "traceback at creation" in repr(dc)


@pytest.fixture
def oneReactor() -> Any:
    """
    A fresh reactor of the default kind, for tests of the shared timer
    code that are too slow to repeat for every reactor.
    """
    r = makeReactor(REACTOR_NAMES[0])
    yield r
    cleanUpReactor(r)


def test_manyTimersWithCancels(oneReactor: Any) -> None:
    reactor = oneReactor
    calls = [reactor.callLater(1000 + i % 100, lambda: None) for i in range(100_000)]
    reactor.timeout()
    for dc in calls[:90_000]:
        dc.cancel()
    # Cancelled calls do not pile up: the heap is compacted.
    assert len(reactor._timerHeap) < 2 * 10_000 + base.TIMER_COMPACTION_THRESHOLD + 1
    assert len(reactor.getDelayedCalls()) == 10_000
    for i in range(5000):
        calls[90_000 + i].reset(2000)
    assert len(reactor._timerHeap) < 3 * 10_000
    for dc in calls[90_000:]:
        dc.cancel()
    assert reactor.getDelayedCalls() == []


def test_cancelBeforeFirstIteration(oneReactor: Any) -> None:
    reactor = oneReactor
    calls = [reactor.callLater(5, lambda: None) for i in range(100_000)]
    for dc in calls[:99_999]:
        dc.cancel()
    assert reactor.getDelayedCalls() == [calls[-1]]
    assert len(reactor._newTimedCalls) < 2 * base.TIMER_COMPACTION_THRESHOLD + 2
    calls[-1].cancel()


def test_compactionBoundary(reactor: Any) -> None:
    threshold = base.TIMER_COMPACTION_THRESHOLD
    keep = [reactor.callLater(100, lambda: None) for _ in range(threshold)]
    doomed = [reactor.callLater(100, lambda: None) for _ in range(threshold + 1)]
    reactor.timeout()
    for dc in doomed[:threshold]:
        dc.cancel()
    # At the threshold nothing is compacted yet...
    assert len(reactor._timerHeap) == 2 * threshold + 1
    doomed[threshold].cancel()
    # ...one more cancellation triggers it.
    assert len(reactor._timerHeap) == threshold
    for dc in keep:
        dc.cancel()


# -- system events ----------------------------------------------------------


def test_triggerDeferredDelaysNextPhase(reactor: Any) -> None:
    events: list[str] = []
    gate: Deferred[None] = Deferred()

    def openGate() -> None:
        events.append("gate")
        gate.callback(None)

    def before() -> Deferred[None]:
        events.append("before")
        reactor.callLater(0.01, openGate)
        return gate

    reactor.addSystemEventTrigger("before", "custom", before)
    reactor.addSystemEventTrigger("during", "custom", events.append, "during")
    done: Deferred[None] = Deferred()
    reactor.addSystemEventTrigger("after", "custom", done.callback, None)
    reactor.callLater(0, reactor.fireSystemEvent, "custom")
    runUntil(reactor, done)
    assert events == ["before", "gate", "during"]


def test_removeTrigger(reactor: Any) -> None:
    events: list[str] = []
    handle = reactor.addSystemEventTrigger("during", "custom", events.append, "no")
    reactor.addSystemEventTrigger("during", "custom", events.append, "yes")
    reactor.removeSystemEventTrigger(handle)
    reactor.fireSystemEvent("custom")
    assert events == ["yes"]
    with pytest.raises(ValueError):
        reactor.removeSystemEventTrigger(handle)
    with pytest.raises(ValueError):
        reactor.removeSystemEventTrigger("nonsense")


def test_badPhase(reactor: Any) -> None:
    with pytest.raises(KeyError):
        reactor.addSystemEventTrigger("sometime", "shutdown", lambda: None)


def test_triggerErrorLoggedOthersRun(reactor: Any) -> None:
    events: list[str] = []

    def bad() -> None:
        raise RuntimeError("bad trigger")

    reactor.addSystemEventTrigger("during", "custom", bad)
    reactor.addSystemEventTrigger("during", "custom", events.append, "ran")
    with LogCapture() as logged:
        reactor.fireSystemEvent("custom")
    assert events == ["ran"]
    assert [f.type for f in logged.errors] == [RuntimeError]


# -- threads ----------------------------------------------------------------


def test_callFromThreadWakesReactor(reactor: Any) -> None:
    d: Deferred[str] = Deferred()

    def fromThread() -> None:
        reactor.callFromThread(d.callback, threading.current_thread().name)

    # Nothing else is scheduled: the reactor waits until the thread wakes it.
    reactor.callWhenRunning(
        lambda: threading.Thread(target=fromThread, name="helper").start()
    )
    assert runUntil(reactor, d) == "helper"


def test_callFromThreadStop(reactor: Any) -> None:
    reactor.callWhenRunning(
        lambda: threading.Thread(
            target=reactor.callFromThread, args=(reactor.stop,)
        ).start()
    )
    reactor.run(installSignalHandlers=False)
    assert not reactor.running


def test_callInThreadAndPoolLifecycle(reactor: Any) -> None:
    d: Deferred[str] = Deferred()

    def work() -> None:
        reactor.callFromThread(d.callback, threading.current_thread().name)

    reactor.callInThread(work)
    name = runUntil(reactor, d)
    assert name != threading.current_thread().name
    pool = reactor.getThreadPool()
    assert pool.started
    reactor.suggestThreadPoolSize(3)
    assert pool.max == 3
    reactor.callLater(0, reactor.stop)
    reactor.run(installSignalHandlers=False)
    # The pool is stopped during shutdown.
    assert not pool.started
    assert reactor.threadpool is None


def test_wakeUpFromThread(reactor: Any) -> None:
    d: Deferred[None] = Deferred()
    flag: list[int] = []

    def poke() -> None:
        flag.append(1)
        reactor.wakeUp()

    def check() -> None:
        if flag:
            d.callback(None)
        else:
            reactor.callLater(0.001, check)

    reactor.callWhenRunning(lambda: threading.Thread(target=poke).start())
    reactor.callWhenRunning(check)
    runUntil(reactor, d)


# -- signals ----------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_stopSignals(reactor: Any, signum: int) -> None:
    original = signal.getsignal(signum)
    events: list[str] = []
    reactor.addSystemEventTrigger("before", "shutdown", events.append, "shutdown")
    reactor.callWhenRunning(os.kill, os.getpid(), signum)
    guard = reactor.callLater(10, reactor.crash)
    with LogCapture():
        reactor.run(installSignalHandlers=True)
    assert guard.active()
    guard.cancel()
    assert events == ["shutdown"]
    assert signal.getsignal(signum) == original


def test_childReaperRunsOnSIGCHLD(reactor: Any) -> None:
    pid = [0]
    reaped: list[int] = []

    def reaper() -> None:
        if pid[0]:
            got, status = os.waitpid(pid[0], os.WNOHANG)
            if got:
                reaped.append(os.waitstatus_to_exitcode(status))
                reactor.stop()

    def start() -> None:
        reactor._registerChildReaper(reaper)
        pid[0] = os.posix_spawn("/bin/sh", ["sh", "-c", "exit 3"], os.environ)

    reactor.callWhenRunning(start)
    guard = reactor.callLater(10, reactor.crash)
    reactor.run(installSignalHandlers=True)
    assert guard.active()
    guard.cancel()
    assert reaped == [3]
    reactor._unregisterChildReaper(reaper)


# -- descriptor sets --------------------------------------------------------


@implementer(interfaces.IReadWriteDescriptor)
class PipeReader:
    """
    A reader over a pipe that records what happens to it.
    """

    def __init__(self, result: object = None, raises: bool = False) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        self.reads: list[bytes] = []
        self.lost: list[Failure] = []
        self.result = result
        self.raises = raises
        self.done: Deferred[None] = Deferred()

    def fileno(self) -> int:
        return self.r

    def logPrefix(self) -> str:
        return "PipeReader"

    def doRead(self) -> object:
        self.reads.append(os.read(self.r, 100))
        if not self.done.called:
            self.done.callback(None)
        if self.raises:
            raise ValueError("doRead blew up")
        return self.result

    def doWrite(self) -> object:
        if not self.done.called:
            self.done.callback(None)
        return None

    def connectionLost(self, reason: Failure) -> None:
        self.lost.append(reason)

    def close(self) -> None:
        os.close(self.r)
        os.close(self.w)


def test_addRemoveReader(reactor: Any) -> None:
    reader = PipeReader()
    try:
        assert verifyObject(interfaces.IReadDescriptor, reader)
        reactor.addReader(reader)
        assert reader in reactor.getReaders()
        os.write(reader.w, b"ping")
        runUntil(reactor, reader.done)
        assert reader.reads == [b"ping"]
        reactor.removeReader(reader)
        assert reader not in reactor.getReaders()
        assert reader.lost == []
    finally:
        reader.close()


def test_addRemoveWriter(reactor: Any) -> None:
    writer = PipeReader()
    try:
        # The write end of a pipe is writable at once.
        writer.r, writer.w = writer.w, writer.r
        reactor.addWriter(writer)
        assert writer in reactor.getWriters()
        runUntil(reactor, writer.done)
        reactor.removeWriter(writer)
        assert writer not in reactor.getWriters()
    finally:
        writer.close()


def test_readerReturningReasonIsDisconnected(reactor: Any) -> None:
    reader = PipeReader(result=error.ConnectionDone("finished"))
    try:
        reactor.addReader(reader)
        os.write(reader.w, b"x")
        runUntil(reactor, reader.done)
        reactor.iterate(0)
        assert reader not in reactor.getReaders()
        assert len(reader.lost) == 1
        assert reader.lost[0].check(error.ConnectionDone)
    finally:
        reader.close()


def test_readerRaisingIsLoggedAndDisconnected(reactor: Any) -> None:
    reader = PipeReader(raises=True)
    try:
        reactor.addReader(reader)
        os.write(reader.w, b"x")
        with LogCapture() as logged:
            runUntil(reactor, reader.done)
            reactor.iterate(0)
        assert reader not in reactor.getReaders()
        assert reader.lost[0].check(ValueError)
        assert [f.type for f in logged.errors] == [ValueError]
    finally:
        reader.close()


def test_removeAll(reactor: Any) -> None:
    a, b = PipeReader(), PipeReader()
    try:
        reactor.addReader(a)
        reactor.addWriter(b)
        removed = reactor.removeAll()
        assert set(map(id, removed)) == {id(a), id(b)}
        assert reactor.getReaders() == [] and reactor.getWriters() == []
    finally:
        a.close()
        b.close()


# -- resolution -------------------------------------------------------------


def test_resolveAddressLiteral(reactor: Any) -> None:
    assert runUntil(reactor, reactor.resolve("127.0.0.1")) == "127.0.0.1"


def test_resolveLocalhost(reactor: Any) -> None:
    assert runUntil(reactor, reactor.resolve("localhost")).startswith("127.")


def test_resolveUnknown(reactor: Any) -> None:
    from reactormixins import FakeResolver

    reactor.installNameResolver(FakeResolver({}))
    with pytest.raises(error.DNSLookupError):
        runUntil(reactor, reactor.resolve("nowhere.invalid"))


def test_installResolver(reactor: Any) -> None:
    from torsion.internet.defer import succeed

    class Simple:
        def getHostByName(self, name: str, timeout: object = ()) -> Deferred[str]:
            return succeed("10.1.2.3")

    reactor.installResolver(Simple())
    assert runUntil(reactor, reactor.resolve("example.test")) == "10.1.2.3"
    assert verifyObject(interfaces.IHostnameResolver, reactor.nameResolver)


def test_gaiResolverInterface(reactor: Any) -> None:
    assert verifyObject(interfaces.IHostnameResolver, reactor.nameResolver)
    assert verifyObject(interfaces.IResolverSimple, reactor.resolver)


# -- installing the global reactor -----------------------------------------


def _runPython(code: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_defaultIsEpoll() -> None:
    out = _runPython(
        "from torsion.internet import reactor; print(type(reactor).__name__)"
    )
    assert out == "EPollReactor"


@pytest.mark.parametrize(
    ("name", "cls"), [("poll", "PollReactor"), ("select", "SelectReactor")]
)
def test_installByName(name: str, cls: str) -> None:
    out = _runPython(
        f"from torsion.internet import main; main.installReactorByName({name!r});"
        "from torsion.internet import reactor; print(type(reactor).__name__)"
    )
    assert out == cls


def test_installTwice() -> None:
    out = _runPython(
        "from torsion.internet import main, error\n"
        "main.installReactorByName('poll')\n"
        "try:\n    main.installReactorByName('select')\n"
        "except error.ReactorAlreadyInstalledError:\n    print('refused')\n"
    )
    assert out == "refused"


def test_unknownReactorName() -> None:
    from torsion.internet import main

    with pytest.raises(error.UnsupportedReactor, match="unknown reactor"):
        main.makeReactor("no-such-reactor")


def test_keyboardInterruptPropagates(reactor: Any) -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt()

    reactor.callLater(0, interrupt)
    with pytest.raises(KeyboardInterrupt):
        reactor.run(installSignalHandlers=False)


@implementer(interfaces.IResolutionReceiver)
class _Receiver:
    def __init__(self) -> None:
        self.addresses: list[Any] = []
        self.began: list[Any] = []
        self.done: Deferred[None] = Deferred()

    def resolutionBegan(self, resolution: Any) -> None:
        self.began.append(resolution)

    def addressResolved(self, address: Any) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        self.done.callback(None)


def test_gaiResolverDeliversEachAddressOnce(reactor: Any) -> None:
    from torsion.internet._resolver import GAIResolver
    from torsion.internet.address import IPv4Address, IPv6Address

    calls: list[tuple[Any, ...]] = []

    def fakeGetaddrinfo(*args: Any) -> list[Any]:
        calls.append(args)
        return [
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", 80)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", 80)),
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("fe80::1", 80, 0, 2)),
        ]

    resolver = GAIResolver(reactor, getaddrinfo=fakeGetaddrinfo)
    receiver = _Receiver()
    assert resolver.resolveHostName(receiver, "example.test", 80) is receiver
    runUntil(reactor, receiver.done)
    assert verifyObject(interfaces.IHostResolution, receiver.began[0])
    assert receiver.began[0].name == "example.test"
    assert receiver.addresses == [
        IPv4Address("TCP", "10.0.0.1", 80),
        IPv6Address("TCP", "fe80::1", 80, 0, 2),
    ]
    assert calls[0][:2] == ("example.test", 80)


def test_gaiResolverFailure(reactor: Any) -> None:
    from torsion.internet._resolver import GAIResolver

    def failing(*args: Any) -> list[Any]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    reactor.installNameResolver(GAIResolver(reactor, getaddrinfo=failing))
    with pytest.raises(error.DNSLookupError):
        runUntil(reactor, reactor.resolve("nowhere.test"))
