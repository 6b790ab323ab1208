"""
Tests for torsion.internet.task: Clock, LoopingCall, deferLater, Cooperator
and react.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from zope.interface.verify import verifyObject

from torsion.internet import error, task
from torsion.internet.defer import CancelledError, Deferred, fail, succeed
from torsion.internet.interfaces import IDelayedCall, IReactorTime
from torsion.internet.task import Clock, LoopingCall
from torsion.internet.testing import EventLoggingObserver, MemoryReactor
from torsion.logger import globalLogPublisher
from torsion.python.failure import Failure


def resultOf(d: Deferred[Any]) -> Any:
    """
    Return the result ``d`` has already fired with (failing the test if it
    has not fired or failed).
    """
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    result = results[0]
    if isinstance(result, Failure):
        result.raiseException()
    return result


def failureOf(d: Deferred[Any], *errorTypes: type[BaseException]) -> Failure:
    """
    Return the failure ``d`` has already failed with, checking its type.
    """
    results: list[Any] = []
    d.addBoth(results.append)
    assert results, f"{d!r} has not fired"
    assert isinstance(results[0], Failure), f"{d!r} succeeded with {results[0]!r}"
    if errorTypes:
        assert results[0].check(*errorTypes), results[0]
    return results[0]


def assertNoResult(d: Deferred[Any]) -> None:
    results: list[Any] = []

    def record(result: object) -> object:
        results.append(result)
        return result

    d.addBoth(record)
    assert not results, f"{d!r} unexpectedly fired with {results[0]!r}"


# ---------------------------------------------------------------------------
# Clock
# ---------------------------------------------------------------------------


class TestClock:
    def test_providesIReactorTime(self) -> None:
        clock = Clock()
        assert verifyObject(IReactorTime, clock)
        assert verifyObject(IDelayedCall, clock.callLater(1, lambda: None))

    def test_startsAtZero(self) -> None:
        assert Clock().seconds() == 0.0

    def test_advanceMovesTime(self) -> None:
        clock = Clock()
        clock.advance(2.5)
        clock.advance(0.5)
        assert clock.seconds() == 3.0
        assert clock.rightNow == 3.0

    def test_callRunsWhenDue(self) -> None:
        clock = Clock()
        calls: list[tuple[Any, ...]] = []
        clock.callLater(2, lambda *a, **kw: calls.append((a, kw)), 1, x=2)
        clock.advance(1.999)
        assert calls == []
        clock.advance(0.001)
        assert calls == [((1,), {"x": 2})]
        assert clock.getDelayedCalls() == []

    def test_sameTimeRunsInSchedulingOrder(self) -> None:
        clock = Clock()
        order: list[int] = []
        for i in range(10):
            clock.callLater(1, order.append, i)
        clock.advance(1)
        assert order == list(range(10))

    def test_earlierCallRunsFirst(self) -> None:
        clock = Clock()
        order: list[str] = []
        clock.callLater(3, order.append, "c")
        clock.callLater(1, order.append, "a")
        clock.callLater(2, order.append, "b")
        clock.advance(10)
        assert order == ["a", "b", "c"]

    def test_callScheduledDuringAdvanceRunsIfDue(self) -> None:
        clock = Clock()
        order: list[str] = []

        def first() -> None:
            order.append("first")
            clock.callLater(0, order.append, "now")
            clock.callLater(1, order.append, "too late")

        clock.callLater(1, first)
        clock.advance(3)
        # Time is already 3 when ``first`` runs: the zero-delay call is due,
        # the other one is due at 4.
        assert order == ["first", "now"]
        assert len(clock.getDelayedCalls()) == 1

    def test_resetDuringAdvance(self) -> None:
        clock = Clock()
        order: list[str] = []
        b = clock.callLater(5, order.append, "b")
        c = clock.callLater(2, order.append, "c")

        def a() -> None:
            order.append("a")
            b.reset(0)  # now due: runs in this advance
            c.reset(10)  # postponed: does not

        clock.callLater(1, a)
        clock.advance(3)
        assert order == ["a", "b"]
        assert clock.getDelayedCalls() == [c]
        assert c.getTime() == 13
        clock.advance(9.5)
        assert order == ["a", "b"]
        clock.advance(0.5)
        assert order == ["a", "b", "c"]

    def test_seesCurrentTimeInsideCall(self) -> None:
        clock = Clock()
        seen: list[float] = []
        clock.callLater(1, lambda: seen.append(clock.seconds()))
        clock.advance(5)
        # The clock jumps straight to the end of the advance.
        assert seen == [5.0]

    def test_cancel(self) -> None:
        clock = Clock()
        calls: list[int] = []
        call = clock.callLater(1, calls.append, 1)
        assert call.active()
        call.cancel()
        assert not call.active()
        assert clock.getDelayedCalls() == []
        clock.advance(2)
        assert calls == []
        with pytest.raises(error.AlreadyCancelled):
            call.cancel()

    def test_cancelAfterCall(self) -> None:
        clock = Clock()
        call = clock.callLater(1, lambda: None)
        clock.advance(1)
        assert not call.active()
        with pytest.raises(error.AlreadyCalled):
            call.cancel()

    def test_resetEarlier(self) -> None:
        clock = Clock()
        calls: list[float] = []
        call = clock.callLater(10, lambda: calls.append(clock.seconds()))
        clock.callLater(5, lambda: calls.append(-1))
        call.reset(1)
        assert call.getTime() == 1
        clock.advance(1)
        assert calls == [1.0]

    def test_resetLater(self) -> None:
        clock = Clock()
        calls: list[float] = []
        call = clock.callLater(1, lambda: calls.append(clock.seconds()))
        call.reset(5)
        clock.advance(4)
        assert calls == []
        clock.advance(1)
        assert calls == [5.0]

    def test_delay(self) -> None:
        clock = Clock()
        calls: list[int] = []
        call = clock.callLater(1, calls.append, 1)
        call.delay(2)
        assert call.getTime() == 3
        clock.advance(2)
        assert calls == []
        clock.advance(1)
        assert calls == [1]

    def test_pump(self) -> None:
        clock = Clock()
        times: list[float] = []
        for t in (1, 2, 3):
            clock.callLater(t, lambda: times.append(clock.seconds()))
        clock.pump([1, 1, 1])
        assert times == [1.0, 2.0, 3.0]

    def test_negativeDelayRejected(self) -> None:
        with pytest.raises(ValueError, match="delay"):
            Clock().callLater(-1, lambda: None)

    def test_nanDelayRejected(self) -> None:
        with pytest.raises(ValueError):
            Clock().callLater(float("nan"), lambda: None)

    def test_advanceBackwardsRejected(self) -> None:
        with pytest.raises(ValueError, match="backwards"):
            Clock().advance(-1)

    def test_exceptionPropagatesFromAdvance(self) -> None:
        clock = Clock()

        def boom() -> None:
            raise ZeroDivisionError()

        clock.callLater(1, boom)
        with pytest.raises(ZeroDivisionError):
            clock.advance(1)
        assert clock.getDelayedCalls() == []

    def test_runawayAdvanceStops(self) -> None:
        clock = Clock()
        clock.maxCallsPerAdvance = 50
        count = [0]

        def again() -> None:
            count[0] += 1
            clock.callLater(0, again)

        clock.callLater(0, again)
        with pytest.raises(RuntimeError, match="maxCallsPerAdvance"):
            clock.advance(0)
        assert count[0] == 50

    def test_maxCallsPerAdvanceBoundary(self) -> None:
        clock = Clock()
        clock.maxCallsPerAdvance = 50
        for _ in range(50):
            clock.callLater(1, lambda: None)
        clock.advance(1)
        assert clock.getDelayedCalls() == []

    def test_getDelayedCallsIsACopy(self) -> None:
        clock = Clock()
        call = clock.callLater(1, lambda: None)
        calls = clock.getDelayedCalls()
        assert list(calls) == [call]
        call.cancel()
        assert list(calls) == [call]
        assert clock.getDelayedCalls() == []

    @given(st.lists(st.integers(min_value=0, max_value=20), max_size=30))
    def test_orderIsByTimeThenScheduling(self, delays: list[int]) -> None:
        clock = Clock()
        order: list[int] = []
        for i, delay in enumerate(delays):
            clock.callLater(delay, order.append, i)
        clock.advance(21)
        expected = sorted(range(len(delays)), key=lambda i: (delays[i], i))
        assert order == expected


# ---------------------------------------------------------------------------
# LoopingCall
# ---------------------------------------------------------------------------


def _loop(
    f: Callable[..., object], *a: object, **kw: object
) -> tuple[LoopingCall, Clock]:
    clock = Clock()
    loop = LoopingCall(f, *a, **kw)
    loop.clock = clock
    return loop, clock


class TestLoopingCall:
    def test_callsImmediatelyThenEveryInterval(self) -> None:
        times: list[float] = []
        loop, clock = _loop(lambda: times.append(clock.seconds()))
        loop.start(1.0)
        assert times == [0.0]
        clock.pump([1, 1, 1])
        assert times == [0.0, 1.0, 2.0, 3.0]
        assert loop.running

    def test_argumentsPassed(self) -> None:
        calls: list[tuple[Any, ...]] = []
        loop, _clock = _loop(lambda *a, **kw: calls.append((a, kw)), 1, 2, k=3)
        loop.start(1)
        assert calls == [((1, 2), {"k": 3})]
        assert loop.f is not None
        assert loop.a == (1, 2)
        assert loop.kw == {"k": 3}

    def test_notNow(self) -> None:
        times: list[float] = []
        loop, clock = _loop(lambda: times.append(clock.seconds()))
        loop.start(2.0, now=False)
        assert times == []
        clock.advance(2)
        assert times == [2.0]

    def test_noDrift(self) -> None:
        # Late wake-ups (advancing by odd amounts) never push later calls
        # off the start + n * interval grid.
        times: list[float] = []
        loop, clock = _loop(lambda: times.append(clock.seconds()))
        loop.start(1.0)
        clock.pump([1.3, 0.7, 0.9, 0.1, 1.05, 0.95])
        # Calls happen at 0, 1.3 (for the tick at 1), 2.0, 3.0 (reached by
        # 2.9+0.1), 4.05 (for 4), 5.0.
        assert times == [0.0, 1.3, 2.0, 3.0, 4.05, 5.0]
        assert loop.call is not None
        assert loop.call.getTime() == pytest.approx(6.0)

    def test_floatIntervalsStayOnGrid(self) -> None:
        count = [0]
        loop, clock = _loop(lambda: count.__setitem__(0, count[0] + 1))
        loop.start(0.1)
        # Grid points such as 0.3 are not exact in binary floating point; a
        # call landing a hair before or after one still counts for it, so no
        # tick is skipped or doubled.
        for i in range(1, 1001):
            clock.advance(i / 10 - clock.seconds())
        assert count[0] == 1001

    def test_skippedIntervalsNotReplayed(self) -> None:
        times: list[float] = []
        loop, clock = _loop(lambda: times.append(clock.seconds()))
        loop.start(1.0)
        clock.advance(10.5)
        assert times == [0.0, 10.5]
        assert loop.call is not None
        assert loop.call.getTime() == pytest.approx(11.0)

    def test_withCountCountsSkippedIntervals(self) -> None:
        counts: list[int] = []
        clock = Clock()
        loop = LoopingCall.withCount(counts.append)
        loop.clock = clock
        loop.start(1.0)
        assert counts == [1]
        clock.advance(1)
        assert counts == [1, 1]
        clock.advance(5)
        assert counts == [1, 1, 5]
        clock.advance(1.5)
        assert counts == [1, 1, 5, 1]
        clock.advance(0.5)
        assert counts == [1, 1, 5, 1, 1]

    def test_withCountNotNow(self) -> None:
        counts: list[int] = []
        clock = Clock()
        loop = LoopingCall.withCount(counts.append)
        loop.clock = clock
        loop.start(1.0, now=False)
        clock.advance(1)
        assert counts == [1]
        clock.advance(3)
        assert counts == [1, 3]

    def test_withCountZeroInterval(self) -> None:
        counts: list[int] = []

        def count(n: int) -> None:
            counts.append(n)
            if len(counts) == 3:
                loop.stop()

        clock = Clock()
        loop = LoopingCall.withCount(count)
        loop.clock = clock
        loop.start(0)
        clock.advance(0)
        assert counts == [1, 1, 1]

    def test_stopFiresDeferredWithLoop(self) -> None:
        loop, clock = _loop(lambda: None)
        d = loop.start(1)
        assertNoResult(d)
        loop.stop()
        assert resultOf(d) is loop
        assert not loop.running
        assert clock.getDelayedCalls() == []

    def test_stopFromInsideFunction(self) -> None:
        calls: list[int] = []

        def f() -> None:
            calls.append(1)
            if len(calls) == 3:
                loop.stop()

        loop, clock = _loop(f)
        d = loop.start(1)
        clock.pump([1] * 5)
        assert calls == [1, 1, 1]
        assert resultOf(d) is loop
        assert clock.getDelayedCalls() == []

    def test_stopWhenNotRunning(self) -> None:
        loop, _clock = _loop(lambda: None)
        with pytest.raises(RuntimeError, match="not running"):
            loop.stop()

    def test_startTwice(self) -> None:
        loop, _clock = _loop(lambda: None)
        loop.start(1)
        with pytest.raises(RuntimeError, match="already running"):
            loop.start(1)

    def test_negativeInterval(self) -> None:
        loop, _clock = _loop(lambda: None)
        with pytest.raises(ValueError, match="interval"):
            loop.start(-1)
        assert not loop.running

    def test_failureStopsLoopAndErrbacks(self) -> None:
        calls: list[int] = []

        def f() -> None:
            calls.append(1)
            if len(calls) == 2:
                raise ZeroDivisionError("boom")

        loop, clock = _loop(f)
        d = loop.start(1)
        clock.pump([1, 1, 1])
        assert calls == [1, 1]
        failureOf(d, ZeroDivisionError)
        assert not loop.running
        assert clock.getDelayedCalls() == []

    def test_failureOnFirstCall(self) -> None:
        loop, _clock = _loop(lambda: 1 / 0)
        d = loop.start(1)
        failureOf(d, ZeroDivisionError)
        assert not loop.running

    def test_waitsForDeferred(self) -> None:
        pending: list[Deferred[None]] = []
        times: list[float] = []

        def f() -> Deferred[None]:
            times.append(clock.seconds())
            d: Deferred[None] = Deferred()
            pending.append(d)
            return d

        loop, clock = _loop(f)
        loop.start(1)
        clock.advance(5)
        assert times == [0.0]
        assert loop.call is None
        pending[0].callback(None)
        # Scheduled on the grid after the time the Deferred fired.
        assert loop.call is not None
        assert loop.call.getTime() == pytest.approx(6.0)
        clock.advance(1)
        assert times == [0.0, 6.0]

    def test_failedDeferredStopsLoop(self) -> None:
        loop, _clock = _loop(lambda: fail(ValueError("nope")))
        d = loop.start(1)
        failureOf(d, ValueError)
        assert not loop.running

    def test_stopWhileDeferredPending(self) -> None:
        pending: Deferred[None] = Deferred()
        loop, clock = _loop(lambda: pending)
        d = loop.start(1)
        loop.stop()
        assertNoResult(d)
        pending.callback(None)
        assert resultOf(d) is loop
        assert clock.getDelayedCalls() == []

    def test_reset(self) -> None:
        times: list[float] = []
        loop, clock = _loop(lambda: times.append(clock.seconds()))
        loop.start(2)
        clock.advance(1.5)
        loop.reset()
        clock.advance(1.5)
        assert times == [0.0]
        clock.advance(0.5)
        assert times == [0.0, 3.5]
        clock.advance(2)
        assert times == [0.0, 3.5, 5.5]

    def test_resetNotRunning(self) -> None:
        loop, _clock = _loop(lambda: None)
        with pytest.raises(RuntimeError):
            loop.reset()

    def test_zeroInterval(self) -> None:
        count = [0]

        def f() -> None:
            count[0] += 1
            if count[0] == 5:
                loop.stop()

        loop, clock = _loop(f)
        d = loop.start(0)
        assert count[0] == 1
        assert loop.call is not None
        assert loop.call.getTime() == 0
        clock.advance(0)
        assert count[0] == 5
        assert resultOf(d) is loop

    def test_restartAfterStop(self) -> None:
        times: list[float] = []
        loop, clock = _loop(lambda: times.append(clock.seconds()))
        loop.start(1)
        loop.stop()
        clock.advance(10)
        d = loop.start(2)
        clock.advance(2)
        assert times == [0.0, 10.0, 12.0]
        loop.stop()
        assert resultOf(d) is loop

    def test_attributes(self) -> None:
        loop, clock = _loop(lambda: None)
        assert loop.interval is None
        assert not loop.running
        loop.start(3)
        assert loop.interval == 3
        assert loop.running
        assert loop.call is not None
        assert loop.clock is clock
        assert "LoopingCall" in repr(loop)

    def test_defaultClockIsGlobalReactor(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # Stand in for the installed global reactor, so that no real one is
        # installed in the test process.
        fake = Clock()
        monkeypatch.setitem(sys.modules, "torsion.internet.reactor", fake)
        loop = LoopingCall(lambda: None)
        assert loop.clock is fake
        loop.start(1)
        assert len(fake.getDelayedCalls()) == 1
        loop.stop()


# ---------------------------------------------------------------------------
# deferLater
# ---------------------------------------------------------------------------


class TestDeferLater:
    def test_firesWithResult(self) -> None:
        clock = Clock()
        d = task.deferLater(clock, 3, lambda a, b: a + b, 1, b=2)
        clock.advance(2.9)
        assertNoResult(d)
        clock.advance(0.1)
        assert resultOf(d) == 3

    def test_noCallable(self) -> None:
        clock = Clock()
        d = task.deferLater(clock, 1)
        clock.advance(1)
        assert resultOf(d) is None

    def test_exceptionBecomesFailure(self) -> None:
        clock = Clock()
        d = task.deferLater(clock, 1, lambda: 1 / 0)
        clock.advance(1)
        failureOf(d, ZeroDivisionError)

    def test_cancel(self) -> None:
        clock = Clock()
        called: list[int] = []
        d = task.deferLater(clock, 1, called.append, 1)
        d.cancel()
        failureOf(d, CancelledError)
        assert clock.getDelayedCalls() == []
        clock.advance(2)
        assert called == []


# ---------------------------------------------------------------------------
# Cooperator
# ---------------------------------------------------------------------------


class _Scheduler:
    """
    A scheduler that keeps the next tick until the test runs it.
    """

    def __init__(self) -> None:
        self.clock = Clock()

    def __call__(self, work: Callable[[], None]) -> IDelayedCall:
        call = self.clock.callLater(1, work)
        return call

    def pending(self) -> int:
        return len(self.clock.getDelayedCalls())

    def tick(self) -> None:
        # Each tick is one second apart, so a tick scheduled by this one
        # waits for the next call.
        self.clock.advance(1)


def _steps(n: int) -> Callable[[], Callable[[], bool]]:
    """
    A termination predicate factory allowing ``n`` steps per tick.
    """

    def factory() -> Callable[[], bool]:
        remaining = [n]

        def done() -> bool:
            remaining[0] -= 1
            return remaining[0] <= 0

        return done

    return factory


def _cooperator(perTick: int = 1) -> tuple[task.Cooperator, _Scheduler]:
    scheduler = _Scheduler()
    return task.Cooperator(_steps(perTick), scheduler), scheduler


def _recorder(name: str, log: list[str], n: int) -> Iterator[None]:
    for i in range(n):
        log.append(f"{name}{i}")
        yield None


class TestCooperator:
    def test_coiterateRunsToCompletion(self) -> None:
        coop, sched = _cooperator()
        log: list[str] = []
        it = _recorder("a", log, 3)
        d = coop.coiterate(it)
        for _ in range(5):
            sched.tick()
        assert log == ["a0", "a1", "a2"]
        assert resultOf(d) is it
        assert sched.pending() == 0

    def test_roundRobin(self) -> None:
        coop, sched = _cooperator(perTick=100)
        log: list[str] = []
        coop.cooperate(_recorder("a", log, 3))
        coop.cooperate(_recorder("b", log, 2))
        sched.tick()
        assert log == ["a0", "b0", "a1", "b1", "a2"]

    def test_timeSliceLimitsWorkPerTick(self) -> None:
        coop, sched = _cooperator(perTick=2)
        log: list[str] = []
        coop.cooperate(_recorder("a", log, 10))
        sched.tick()
        assert log == ["a0", "a1"]
        sched.tick()
        assert log == ["a0", "a1", "a2", "a3"]

    def test_stopTask(self) -> None:
        coop, sched = _cooperator()
        log: list[str] = []
        t = coop.cooperate(_recorder("a", log, 10))
        d = t.whenDone()
        sched.tick()
        t.stop()
        sched.tick()
        assert log == ["a0"]
        failureOf(d, task.TaskStopped)
        with pytest.raises(task.TaskStopped):
            t.stop()
        with pytest.raises(task.TaskDone):
            t.pause()

    def test_whenDoneAfterCompletion(self) -> None:
        coop, sched = _cooperator()
        it = iter([1])
        t = coop.cooperate(it)
        sched.tick()
        sched.tick()
        assert resultOf(t.whenDone()) is it
        with pytest.raises(task.TaskFinished):
            t.stop()

    def test_pauseResume(self) -> None:
        coop, sched = _cooperator()
        log: list[str] = []
        t = coop.cooperate(_recorder("a", log, 3))
        t.pause()
        t.pause()
        sched.tick()
        assert log == []
        t.resume()
        sched.tick()
        assert log == []
        t.resume()
        sched.tick()
        assert log == ["a0"]
        with pytest.raises(task.NotPaused):
            t.resume()

    def test_failingIterator(self) -> None:
        coop, sched = _cooperator()

        def bad() -> Iterator[None]:
            yield None
            raise ValueError("broken")

        d = coop.coiterate(bad())
        sched.tick()
        sched.tick()
        failureOf(d, ValueError)

    def test_yieldedDeferredPausesTask(self) -> None:
        coop, sched = _cooperator(perTick=100)
        log: list[str] = []
        gate: Deferred[None] = Deferred()

        def work() -> Iterator[object]:
            log.append("before")
            yield gate
            log.append("after")

        d = coop.coiterate(work())
        sched.tick()
        sched.tick()
        assert log == ["before"]
        assertNoResult(d)
        gate.callback(None)
        sched.tick()
        sched.tick()
        assert log == ["before", "after"]
        resultOf(d)

    def test_yieldedDeferredFails(self) -> None:
        coop, sched = _cooperator()

        def work() -> Iterator[object]:
            yield fail(KeyError("k"))

        d = coop.coiterate(work())
        sched.tick()
        failureOf(d, KeyError)

    def test_stopCooperator(self) -> None:
        coop, sched = _cooperator()
        d1 = coop.coiterate(iter(range(100)))
        d2 = coop.coiterate(iter(range(100)))
        sched.tick()
        coop.stop()
        assert not coop.running
        failureOf(d1, task.SchedulerStopped)
        failureOf(d2, task.SchedulerStopped)
        assert sched.pending() == 0
        failureOf(coop.coiterate(iter(range(3))), task.SchedulerStopped)

    def test_notStarted(self) -> None:
        scheduler = _Scheduler()
        coop = task.Cooperator(_steps(10), scheduler, started=False)
        log: list[str] = []
        d = coop.coiterate(_recorder("a", log, 2))
        assert scheduler.pending() == 0
        assert not coop.running
        coop.start()
        assert coop.running
        scheduler.tick()
        scheduler.tick()
        assert log == ["a0", "a1"]
        resultOf(d)

    def test_noTickScheduledWithoutTasks(self) -> None:
        coop, sched = _cooperator()
        t = coop.cooperate(iter(range(5)))
        assert sched.pending() == 1
        t.pause()
        assert sched.pending() == 0
        t.resume()
        assert sched.pending() == 1

    def test_coiterateChainsIntoGivenDeferred(self) -> None:
        coop, sched = _cooperator()
        done: Deferred[Iterator[object]] = Deferred()
        it = iter([1])
        assert coop.coiterate(it, done) is done
        sched.tick()
        sched.tick()
        assert resultOf(done) is it

    def test_defaultTimerSlice(self, monkeypatch: pytest.MonkeyPatch) -> None:
        now = [100.0]
        # The clock task reads (its module's ``time``).
        monkeypatch.setattr(time, "monotonic", lambda: now[0])
        predicate = task._Timer()
        assert not predicate()
        now[0] = 100.0 + task._Timer.SLICE / 2
        assert not predicate()
        now[0] = 100.0 + task._Timer.SLICE
        assert predicate()

    def test_globalFunctionsUseDefaultScheduler(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        fake = Clock()
        monkeypatch.setitem(sys.modules, "torsion.internet.reactor", fake)
        monkeypatch.setattr(task, "_theCooperator", task.Cooperator())
        log: list[str] = []
        d = task.coiterate(_recorder("g", log, 2))
        t = task.cooperate(_recorder("h", log, 1))
        assert len(fake.getDelayedCalls()) == 1
        for _ in range(3):
            fake.advance(0)
        assert sorted(log) == ["g0", "g1", "h0"]
        resultOf(d)
        resultOf(t.whenDone())


# ---------------------------------------------------------------------------
# react
# ---------------------------------------------------------------------------


class _FakeReactor(MemoryReactor):
    """
    A MemoryReactor that, like a real reactor, fires shutdown triggers when
    stopped from inside ``run``.
    """

    def stop(self) -> None:
        if not self.running:
            raise error.ReactorNotRunning()
        self.fireSystemEvent("shutdown")
        super().stop()

    def run(self) -> None:
        self.running = True
        self.hasRun = True
        for callable, args, kwargs in self.whenRunningHooks:
            callable(*args, **kwargs)
        if self.running:
            self.running = False


def _react(
    main: Callable[..., Any], argv: tuple[Any, ...] = ()
) -> tuple[int | str | None, _FakeReactor]:
    reactor = _FakeReactor()
    with pytest.raises(SystemExit) as info:
        task.react(main, argv, _reactor=reactor)
    return info.value.code, reactor


class TestReact:
    def test_success(self) -> None:
        code, reactor = _react(lambda r: succeed(None))
        assert code == 0
        assert reactor.hasRun
        assert reactor.hasStopped

    def test_argvPassed(self) -> None:
        seen: list[Any] = []

        def main(reactor: Any, *argv: Any) -> Deferred[None]:
            seen.append((reactor, argv))
            return succeed(None)

        _code, reactor = _react(main, ("a", "b"))
        assert seen == [(reactor, ("a", "b"))]

    def test_failureExitsOneAndLogs(self) -> None:
        class Cleanup:
            def __init__(self) -> None:
                self.cleanups: list[Any] = []

            def addCleanup(self, f: Any, *a: Any, **kw: Any) -> None:
                self.cleanups.append((f, a, kw))

        holder = Cleanup()
        events = EventLoggingObserver.createWithCleanup(holder, globalLogPublisher)
        try:
            code, _reactor = _react(lambda r: fail(ZeroDivisionError("bad")))
        finally:
            for f, a, kw in holder.cleanups:
                f(*a, **kw)
        assert code == 1
        logged = [e for e in events if "log_failure" in e]
        assert len(logged) == 1
        assert logged[0]["log_failure"].check(ZeroDivisionError)

    def test_systemExitCode(self) -> None:
        def main(reactor: Any) -> Deferred[None]:
            raise SystemExit(7)

        code, _reactor = _react(main)
        assert code == 7

    def test_systemExitInDeferred(self) -> None:
        code, _reactor = _react(lambda r: fail(SystemExit(3)))
        assert code == 3

    def test_synchronousException(self) -> None:
        def main(reactor: Any) -> Deferred[None]:
            raise KeyError("x")

        code, _reactor = _react(main)
        assert code == 1

    def test_coroutine(self) -> None:
        async def main(reactor: Any) -> None:
            await succeed(None)

        code, _reactor = _react(main)
        assert code == 0

    def test_coroutineFailure(self) -> None:
        async def main(reactor: Any) -> None:
            raise SystemExit(4)

        code, _reactor = _react(main)
        assert code == 4

    def test_laterResult(self) -> None:
        pending: Deferred[None] = Deferred()

        def main(reactor: Any) -> Deferred[None]:
            reactor.callWhenRunning(pending.callback, None)
            return pending

        code, reactor = _react(main)
        assert code == 0
        assert reactor.hasStopped

    def test_reactorStoppedElsewhere(self) -> None:
        # If something else stops the reactor first, react does not try to
        # stop it again.
        pending: Deferred[None] = Deferred()

        def main(reactor: Any) -> Deferred[None]:
            def stopThenFinish() -> None:
                reactor.stop()
                pending.callback(None)

            reactor.callWhenRunning(stopThenFinish)
            return pending

        code, _reactor = _react(main)
        assert code == 0

    def test_wrongReturnType(self) -> None:
        code, _reactor = _react(lambda r: 42)
        assert code == 1


def _runScript(body: str) -> subprocess.CompletedProcess[str]:
    script = textwrap.dedent(body)
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
    )


class TestReactProcess:
    """
    ``react`` with the real global reactor, in a child process, checking the
    exit status a shell would see.
    """

    def test_exitZero(self) -> None:
        result = _runScript(
            """
            from torsion.internet import task
            def main(reactor):
                return task.deferLater(reactor, 0.01, lambda: None)
            task.react(main)
            """
        )
        assert result.returncode == 0, result.stderr

    def test_exitOneWithTraceback(self) -> None:
        result = _runScript(
            """
            import sys
            from torsion.logger import globalLogBeginner, textFileLogObserver
            globalLogBeginner.beginLoggingTo([textFileLogObserver(sys.stderr)])
            from torsion.internet import task
            def main(reactor):
                def boom():
                    raise RuntimeError("the-error-text")
                return task.deferLater(reactor, 0, boom)
            task.react(main)
            """
        )
        assert result.returncode == 1
        assert "the-error-text" in result.stderr
        assert "Traceback" in result.stderr

    def test_exitCodeFromSystemExit(self) -> None:
        result = _runScript(
            """
            from torsion.internet import task
            async def main(reactor, code):
                await task.deferLater(reactor, 0, lambda: None)
                raise SystemExit(int(code))
            task.react(main, ["42"])
            """
        )
        assert result.returncode == 42, result.stderr
