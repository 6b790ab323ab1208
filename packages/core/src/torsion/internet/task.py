"""
Scheduling helpers built on a reactor's clock.

* ``Clock``: a fake ``IReactorTime`` whose time only moves when a test says so.
* ``LoopingCall``: call a function every ``interval`` seconds, without drift.
* ``deferLater``: a ``Deferred`` that fires after a delay.
* ``Cooperator`` / ``cooperate`` / ``coiterate``: run many iterators a slice
  at a time so long jobs share the reactor thread.
* ``react``: run the reactor around one ``main`` function and exit with its
  outcome.
"""

from __future__ import annotations

import bisect
import importlib
import math
import sys
import time
from collections.abc import Callable, Coroutine, Iterator, Sequence
from typing import Any, NoReturn, TypeVar

from zope.interface import implementer

from torsion.internet.base import DelayedCall
from torsion.internet.defer import Deferred, maybeDeferred
from torsion.internet.error import ReactorNotRunning
from torsion.internet.interfaces import IDelayedCall, IReactorTime
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "Clock",
    "CooperativeTask",
    "Cooperator",
    "LoopingCall",
    "NotPaused",
    "SchedulerError",
    "SchedulerStopped",
    "TaskDone",
    "TaskFailed",
    "TaskFinished",
    "TaskStopped",
    "coiterate",
    "cooperate",
    "deferLater",
    "react",
]

_T = TypeVar("_T")
_log = Logger()

#: Fraction of an interval within which a point in time counts as being on
#: the ``start + n * interval`` grid: float arithmetic never lands on it
#: exactly, and a tick a hair off must neither be skipped nor doubled.
_INTERVAL_FUZZ = 1e-6

#: Fraction of an interval by which ``LoopingCall`` schedules each call
#: early, so that float rounding cannot leave a call due a hair after the
#: clock reaches the grid point it belongs to.
_SCHEDULE_EARLY = 1e-7


# ---------------------------------------------------------------------------
# Clock
# ---------------------------------------------------------------------------


def _callTime(call: DelayedCall) -> float:
    return call.time


@implementer(IReactorTime)
class Clock:
    """
    A deterministic ``IReactorTime`` for tests: time starts at ``0.0`` and only
    moves forward when ``advance`` or ``pump`` is called.

    Calls due at the same time run in the order they were scheduled. A call
    scheduled (or reset) while ``advance`` is running executes within that
    same ``advance`` if it is already due. An exception raised by a scheduled
    call propagates out of ``advance``, so a test sees it at once.

    :ivar rightNow: the current fake time, in seconds.
    :ivar calls: the pending ``IDelayedCall`` providers, earliest first.
    """

    rightNow: float = 0.0

    #: Most calls one ``advance`` runs before giving up: a call that keeps
    #: rescheduling itself with no delay would otherwise never let
    #: ``advance`` return.
    maxCallsPerAdvance: int = 100_000

    def __init__(self) -> None:
        self.calls: list[DelayedCall] = []

    def seconds(self) -> float:
        """
        Return the current fake time.

        :return: ``rightNow``, in seconds.
        """
        return self.rightNow

    def _sortCalls(self) -> None:
        # Ordered by ``time`` (a postponement not yet folded in is handled
        # when the call reaches the front). list.sort is stable, so calls
        # due at the same moment keep the order they were scheduled in.
        self.calls.sort(key=_callTime)

    def _insert(self, call: DelayedCall) -> None:
        # insort_right puts a call after those due at the same time.
        bisect.insort_right(self.calls, call, key=_callTime)

    def _cancelCall(self, call: DelayedCall) -> None:
        self.calls.remove(call)

    def _resetCall(self, call: DelayedCall) -> None:
        self.calls.remove(call)
        self._insert(call)

    def callLater(
        self, delay: float, callable: Callable[..., Any], *args: object, **kw: object
    ) -> IDelayedCall:
        """
        Schedule ``callable(*args, **kw)`` to run ``delay`` fake seconds from
        now.

        :param delay: seconds from now; must not be negative.
        :param callable: what to call.
        :return: an ``IDelayedCall`` that can cancel, delay or reset the call.
        :raises ValueError: if ``delay`` is negative or not a finite number.
        """
        if not math.isfinite(delay) or delay < 0:
            raise ValueError(f"callLater delay must be a finite number >= 0: {delay!r}")
        call = DelayedCall(
            self.seconds() + delay,
            callable,
            args,
            kw,
            self._cancelCall,
            self._resetCall,
            seconds=self.seconds,
        )
        self._insert(call)
        return call

    def getDelayedCalls(self) -> Sequence[IDelayedCall]:
        """
        Return the calls scheduled and not yet run or cancelled.

        :return: a list of ``IDelayedCall`` providers, earliest first.
        """
        return sorted(self.calls, key=lambda call: call.getTime())

    def advance(self, amount: float) -> None:
        """
        Move time forward by ``amount`` seconds and run every call that is
        due, in order of their scheduled time.

        :param amount: seconds to move forward; must not be negative.
        :raises ValueError: if ``amount`` is negative.
        :raises RuntimeError: if more than ``maxCallsPerAdvance`` calls come
            due in this one advance (a call rescheduling itself with no
            delay, for instance).
        """
        if amount < 0:
            raise ValueError(f"Clock cannot move backwards: advance({amount!r})")
        self.rightNow += amount
        now = self.rightNow
        calls = self.calls
        ran = 0
        while calls and calls[0].time <= now:
            call = calls.pop(0)
            if call.delayed_time:
                # Postponed by reset() or delay(): move it to its new place.
                call.activate_delay()
                self._insert(call)
                continue
            if ran >= self.maxCallsPerAdvance:
                calls.insert(0, call)
                raise RuntimeError(
                    f"Clock.advance ran {ran} calls without running out of due "
                    "calls (maxCallsPerAdvance); is a call rescheduling itself "
                    "with no delay?"
                )
            ran += 1
            call.called = 1
            call.func(*call.args, **call.kw)

    def pump(self, timings: Sequence[float]) -> None:
        """
        Advance the clock once for each amount in ``timings``.

        :param timings: the successive amounts of seconds to advance by.
        """
        for amount in timings:
            self.advance(amount)


# ---------------------------------------------------------------------------
# LoopingCall
# ---------------------------------------------------------------------------


def _globalReactor() -> Any:
    # ``torsion.internet.reactor`` names the installed reactor object, not a
    # module; importing it installs the default reactor if none is.
    return importlib.import_module("torsion.internet.reactor")


def _globalReactorTime() -> IReactorTime:
    reactor: IReactorTime = _globalReactor()
    return reactor


class LoopingCall:
    """
    Call a function repeatedly, every ``interval`` seconds.

    Calls are scheduled at ``start time + n * interval``, so time spent in the
    function or late wake-ups never accumulate into drift; intervals that
    pass entirely while the function runs (or while the reactor is busy) are
    skipped rather than run back to back.

    If the function returns a ``Deferred``, the next call is scheduled only
    after it fires. If the function raises (or its ``Deferred`` fails) the
    loop stops and the ``Deferred`` returned by ``start`` errbacks with that
    failure.

    :ivar f: the function to call.
    :ivar a: positional arguments for ``f``.
    :ivar kw: keyword arguments for ``f``.
    :ivar clock: the ``IReactorTime`` used for scheduling; defaults to the
        global reactor, looked up when ``start`` is first called. Set it
        before ``start`` (tests set it to a ``Clock``).
    :ivar running: ``True`` between ``start`` and the loop ending.
    :ivar interval: seconds between calls, or ``None`` before ``start``.
    :ivar call: the pending ``IDelayedCall``, or ``None`` when no call is
        scheduled (not running, or waiting for the function's ``Deferred``).
    :ivar starttime: clock time at which ``start`` (or ``reset``) happened.
    """

    call: IDelayedCall | None = None
    running: bool = False
    interval: float | None = None
    starttime: float | None = None

    def __init__(self, f: Callable[..., object], *a: object, **kw: object) -> None:
        self.f = f
        self.a = a
        self.kw = kw
        self._clock: IReactorTime | None = None
        self._deferred: Deferred[LoopingCall] | None = None
        self._runAtStart = False
        self._lastCallTime: float | None = None

    @property
    def clock(self) -> IReactorTime:
        """
        The ``IReactorTime`` this loop schedules its calls on.
        """
        if self._clock is None:
            self._clock = _globalReactorTime()
        return self._clock

    @clock.setter
    def clock(self, value: IReactorTime) -> None:
        self._clock = value

    @classmethod
    def withCount(cls, countCallable: Callable[[int], object]) -> LoopingCall:
        """
        Make a ``LoopingCall`` that passes ``countCallable`` the number of
        intervals that elapsed since its previous call.

        The count is ``1`` when the loop keeps up; it is larger when
        intervals were skipped because the reactor (or the function) was
        slow, so a caller can catch up on work it missed.

        :param countCallable: called with a positive ``int`` each time.
        :return: a ``LoopingCall`` not yet started.
        """
        loop = cls(lambda: None)

        def counted() -> object:
            now = loop.clock.seconds()
            interval = loop.interval
            if not interval:
                count = 1
            else:
                previous = loop._lastCallTime
                if previous is None:
                    # The first call counts as one interval whether it runs
                    # at the start or one interval later.
                    thisIndex = loop._intervalIndex(now)
                    previousIndex = -1 if loop._runAtStart else 0
                    count = max(1, thisIndex - previousIndex)
                else:
                    count = loop._intervalIndex(now) - loop._intervalIndex(previous)
            loop._lastCallTime = now
            return countCallable(count)

        loop.f = counted
        return loop

    def _intervalIndex(self, when: float) -> int:
        """
        Return how many whole intervals separate ``when`` from the start.
        """
        assert self.interval and self.starttime is not None
        quotient = (when - self.starttime) / self.interval
        nearest = round(quotient)
        if abs(quotient - nearest) < _INTERVAL_FUZZ:
            return int(nearest)
        return math.floor(quotient)

    def start(self, interval: float, now: bool = True) -> Deferred[LoopingCall]:
        """
        Start calling the function every ``interval`` seconds.

        :param interval: seconds between calls; ``0`` means "as often as the
            reactor allows".
        :param now: call the function at once (``True``) or only after the
            first interval has elapsed (``False``).
        :return: a ``Deferred`` that fires with this ``LoopingCall`` once
            ``stop`` is called, or errbacks with the function's failure.
        :raises RuntimeError: if the loop is already running.
        :raises ValueError: if ``interval`` is negative.
        """
        if self.running:
            raise RuntimeError("Tried to start an already running LoopingCall.")
        if interval < 0:
            raise ValueError(f"LoopingCall interval must be >= 0: {interval!r}")
        self.running = True
        deferred: Deferred[LoopingCall] = Deferred()
        self._deferred = deferred
        self.starttime = self.clock.seconds()
        self.interval = interval
        self._runAtStart = now
        self._lastCallTime = None
        if now:
            self()
        else:
            self._scheduleFrom(self.starttime)
        return deferred

    def stop(self) -> None:
        """
        Stop the loop. The ``Deferred`` returned by ``start`` fires with this
        ``LoopingCall`` now, or, if the function's own ``Deferred`` is still
        pending, as soon as that fires.

        :raises RuntimeError: if the loop is not running.
        """
        if not self.running:
            raise RuntimeError("Tried to stop a LoopingCall that was not running.")
        self.running = False
        if self.call is not None:
            self.call.cancel()
            self.call = None
            self._finish(self)

    def reset(self) -> None:
        """
        Restart the interval timer from now: the next call happens one full
        interval from the current time.

        :raises RuntimeError: if the loop is not running or is waiting for
            the function's ``Deferred``.
        """
        if not self.running:
            raise RuntimeError("Tried to reset a LoopingCall that was not running.")
        if self.call is None:
            raise RuntimeError(
                "Cannot reset a LoopingCall while its function's Deferred is pending."
            )
        self.call.cancel()
        self.call = None
        self.starttime = self.clock.seconds()
        self._lastCallTime = self.starttime
        self._scheduleFrom(self.starttime)

    def _finish(self, result: LoopingCall | Failure) -> None:
        deferred, self._deferred = self._deferred, None
        if deferred is None:
            return
        if isinstance(result, Failure):
            deferred.errback(result)
        else:
            deferred.callback(result)

    def __call__(self) -> None:
        """
        Run one iteration; called by the clock, not by users.
        """
        self.call = None
        result = maybeDeferred(self.f, *self.a, **self.kw)

        def succeeded(ignored: object) -> None:
            if self.running:
                self._scheduleFrom(self.clock.seconds())
            else:
                self._finish(self)

        def failed(failure: Failure) -> None:
            self.running = False
            self._finish(failure)

        result.addCallbacks(succeeded, failed)

    def _scheduleFrom(self, when: float) -> None:
        assert self.interval is not None and self.starttime is not None
        if self.interval == 0:
            self.call = self.clock.callLater(0, self)
            return
        nextTime = self.starttime + (self._intervalIndex(when) + 1) * self.interval
        delay = nextTime - when - self.interval * _SCHEDULE_EARLY
        self.call = self.clock.callLater(max(0.0, delay), self)

    def __repr__(self) -> str:
        name = getattr(self.f, "__qualname__", None) or repr(self.f)
        return f"<LoopingCall {name} interval={self.interval!r} running={self.running}>"


# ---------------------------------------------------------------------------
# deferLater
# ---------------------------------------------------------------------------


def deferLater(
    clock: IReactorTime,
    delay: float,
    callable: Callable[..., _T] | None = None,
    *args: object,
    **kw: object,
) -> Deferred[Any]:
    """
    Return a ``Deferred`` that fires after ``delay`` seconds.

    With a ``callable``, the ``Deferred`` fires with ``callable(*args, **kw)``
    (or fails with what it raises); without, it fires with ``None``.
    Cancelling the ``Deferred`` before then cancels the scheduled call, and
    the ``Deferred`` fails with ``CancelledError``.

    :param clock: the ``IReactorTime`` to schedule on (a reactor or a
        ``Clock``).
    :param delay: seconds to wait.
    :param callable: optional function whose result the ``Deferred`` carries.
    :return: a cancellable ``Deferred``.
    """

    def cancel(deferred: Deferred[Any]) -> None:
        delayedCall.cancel()

    deferred: Deferred[Any] = Deferred(cancel)
    if callable is not None:
        call = callable
        deferred.addCallback(lambda ignored: call(*args, **kw))
    delayedCall = clock.callLater(delay, deferred.callback, None)
    return deferred


# ---------------------------------------------------------------------------
# Cooperator
# ---------------------------------------------------------------------------


class SchedulerError(Exception):
    """
    A ``Cooperator`` or ``CooperativeTask`` was used in a way its state does
    not allow.
    """


class SchedulerStopped(SchedulerError):
    """
    The ``Cooperator`` running a task was stopped before the task finished.
    """


class TaskDone(Exception):
    """
    The task has already completed; base of the completion reasons.
    """


class TaskFinished(TaskDone):
    """
    The task's iterator was exhausted.
    """


class TaskStopped(TaskDone):
    """
    The task was stopped with ``CooperativeTask.stop``.
    """


class TaskFailed(TaskDone):
    """
    The task's iterator raised an exception, or a ``Deferred`` it yielded
    failed.
    """


class NotPaused(SchedulerError):
    """
    ``resume`` was called on a task that was not paused.
    """


class _Timer:
    """
    Termination predicate for one ``Cooperator`` tick: true once the time
    slice has been used up.
    """

    #: Seconds of work per tick before yielding back to the reactor.
    SLICE = 0.01

    def __init__(self) -> None:
        self._end = time.monotonic() + self.SLICE

    def __call__(self) -> bool:
        return time.monotonic() >= self._end


def _defaultScheduler(work: Callable[[], None]) -> IDelayedCall:
    # A zero delay still lets the reactor service I/O between ticks.
    return _globalReactorTime().callLater(0.0, work)


class CooperativeTask:
    """
    A running iteration under a ``Cooperator``: each time the cooperator
    gives it a turn, one value is taken from its iterator. Create it with
    ``Cooperator.cooperate`` (or the module-level ``cooperate``).

    If the iterator yields a ``Deferred``, the task pauses until that
    ``Deferred`` fires; if it fails, the task fails.
    """

    def __init__(self, iterator: Iterator[object], cooperator: Cooperator) -> None:
        self._iterator = iterator
        self._cooperator = cooperator
        self._deferreds: list[Deferred[Any]] = []
        self._pauseCount = 0
        self._completionState: TaskDone | SchedulerStopped | None = None
        self._completionResult: Iterator[object] | Failure | None = None
        if cooperator._stopped:
            stopped = SchedulerStopped()
            self._completionState = stopped
            self._completionResult = Failure(stopped)
        else:
            cooperator._addTask(self)

    def whenDone(self) -> Deferred[Iterator[object]]:
        """
        Return a new ``Deferred`` that fires when this task completes.

        :return: a ``Deferred`` firing with the iterator when it is
            exhausted, or failing with ``TaskStopped`` (if ``stop`` was
            called), ``SchedulerStopped`` (if the cooperator was stopped), or
            the iterator's own exception.
        """
        deferred: Deferred[Iterator[object]] = Deferred()
        if self._completionState is None:
            self._deferreds.append(deferred)
        else:
            self._fire(deferred)
        return deferred

    def _fire(self, deferred: Deferred[Any]) -> None:
        result = self._completionResult
        if isinstance(result, Failure):
            deferred.errback(result)
        else:
            deferred.callback(result)

    def pause(self) -> None:
        """
        Stop giving this task turns until ``resume`` is called as many times
        as ``pause`` was.

        :raises TaskDone: (a subclass of it) if the task already completed.
        """
        self._checkNotDone()
        self._pauseCount += 1
        if self._pauseCount == 1:
            self._cooperator._removeTask(self)

    def resume(self) -> None:
        """
        Undo one ``pause``.

        :raises NotPaused: if the task is not paused.
        """
        if self._pauseCount == 0:
            raise NotPaused()
        self._pauseCount -= 1
        if self._pauseCount == 0 and self._completionState is None:
            self._cooperator._addTask(self)

    def stop(self) -> None:
        """
        Stop the task for good; ``whenDone`` Deferreds fail with
        ``TaskStopped``.

        :raises TaskDone: (a subclass of it) if the task already completed.
        """
        self._checkNotDone()
        stopped = TaskStopped()
        self._completeWith(stopped, Failure(stopped))

    def _checkNotDone(self) -> None:
        if self._completionState is not None:
            raise self._completionState

    def _completeWith(
        self,
        state: TaskDone | SchedulerStopped,
        result: Iterator[object] | Failure,
    ) -> None:
        self._completionState = state
        self._completionResult = result
        if not self._pauseCount:
            self._cooperator._removeTask(self)
        deferreds, self._deferreds = self._deferreds, []
        for deferred in deferreds:
            self._fire(deferred)

    def _oneWorkUnit(self) -> None:
        try:
            result = next(self._iterator)
        except StopIteration:
            self._completeWith(TaskFinished(), self._iterator)
        except BaseException:
            self._completeWith(TaskFailed(), Failure())
        else:
            if isinstance(result, Deferred):
                self.pause()

                def failed(failure: Failure) -> None:
                    self._completeWith(TaskFailed(), failure)

                result.addCallbacks(lambda ignored: self.resume(), failed)


class Cooperator:
    """
    Run many iterators a little at a time, so that long jobs share the
    reactor thread with I/O.

    On each tick the cooperator takes one value from each task in turn
    (round robin) until ``terminationPredicateFactory()`` says the tick's
    time slice is used up, then asks ``scheduler`` to run the next tick.

    :param terminationPredicateFactory: called at the start of each tick;
        returns a no-argument callable that is true once the tick should end.
        The default gives each tick 0.01 s.
    :param scheduler: called with a no-argument function to run the next
        tick; returns something with ``cancel()`` (an ``IDelayedCall``). The
        default uses ``callLater(0, ...)`` on the global reactor.
    :param started: whether ticks run at once; if ``False`` nothing runs
        until ``start`` is called.
    """

    def __init__(
        self,
        terminationPredicateFactory: Callable[[], Callable[[], bool]] = _Timer,
        scheduler: Callable[[Callable[[], None]], IDelayedCall] = _defaultScheduler,
        started: bool = True,
    ) -> None:
        self._tasks: list[CooperativeTask] = []
        self._roundRobin: Iterator[CooperativeTask] = iter(())
        self._terminationPredicateFactory = terminationPredicateFactory
        self._scheduler = scheduler
        self._delayedCall: IDelayedCall | None = None
        self._stopped = False
        self._started = started

    @property
    def running(self) -> bool:
        """
        ``True`` when the cooperator has been started and not stopped.
        """
        return self._started and not self._stopped

    def coiterate(
        self,
        iterator: Iterator[object],
        doneDeferred: Deferred[Iterator[object]] | None = None,
    ) -> Deferred[Iterator[object]]:
        """
        Run ``iterator`` under this cooperator and return a ``Deferred`` for
        its completion.

        :param iterator: the work, one step per ``next()``.
        :param doneDeferred: an existing ``Deferred`` to fire instead of a
            new one.
        :return: a ``Deferred`` that fires with ``iterator`` once it is
            exhausted, or fails like ``CooperativeTask.whenDone``.
        """
        if doneDeferred is None:
            doneDeferred = Deferred()
        self.cooperate(iterator).whenDone().chainDeferred(doneDeferred)
        return doneDeferred

    def cooperate(self, iterator: Iterator[object]) -> CooperativeTask:
        """
        Start running ``iterator`` under this cooperator.

        :param iterator: the work, one step per ``next()``.
        :return: the ``CooperativeTask`` controlling it.
        """
        return CooperativeTask(iterator, self)

    def _addTask(self, task: CooperativeTask) -> None:
        self._tasks.append(task)
        self._reschedule()

    def _removeTask(self, task: CooperativeTask) -> None:
        if task in self._tasks:
            self._tasks.remove(task)
        if not self._tasks and self._delayedCall is not None:
            self._delayedCall.cancel()
            self._delayedCall = None

    def _tasksForThisTick(self) -> Iterator[CooperativeTask]:
        terminator = self._terminationPredicateFactory()
        while self._tasks:
            for task in self._roundRobin:
                # A task may complete or pause during another's turn.
                if task not in self._tasks:
                    continue
                yield task
                if terminator():
                    return
            self._roundRobin = iter(list(self._tasks))

    def _tick(self) -> None:
        self._delayedCall = None
        for task in self._tasksForThisTick():
            task._oneWorkUnit()
        self._reschedule()

    def _reschedule(self) -> None:
        if not self.running:
            return
        if self._tasks and self._delayedCall is None:
            self._delayedCall = self._scheduler(self._tick)

    def start(self) -> None:
        """
        Begin running ticks (for a cooperator created with
        ``started=False``), or resume after ``stop``.
        """
        self._stopped = False
        self._started = True
        self._reschedule()

    def stop(self) -> None:
        """
        Stop the cooperator: every task it is running completes with
        ``SchedulerStopped``, and tasks added later fail the same way until
        ``start`` is called again.
        """
        self._stopped = True
        for task in list(self._tasks):
            stopped = SchedulerStopped()
            task._completeWith(stopped, Failure(stopped))
        self._tasks = []
        self._roundRobin = iter(())
        if self._delayedCall is not None:
            self._delayedCall.cancel()
            self._delayedCall = None


_theCooperator = Cooperator()


def cooperate(iterator: Iterator[object]) -> CooperativeTask:
    """
    Run ``iterator`` under the global ``Cooperator`` (driven by the global
    reactor).

    :param iterator: the work, one step per ``next()``.
    :return: the ``CooperativeTask`` controlling it.
    """
    return _theCooperator.cooperate(iterator)


def coiterate(iterator: Iterator[object]) -> Deferred[Iterator[object]]:
    """
    Run ``iterator`` under the global ``Cooperator`` and return a
    ``Deferred`` for its completion.

    :param iterator: the work, one step per ``next()``.
    :return: a ``Deferred`` firing with ``iterator`` once it is exhausted.
    """
    return _theCooperator.coiterate(iterator)


# ---------------------------------------------------------------------------
# react
# ---------------------------------------------------------------------------


def _asDeferred(result: object) -> Deferred[Any]:
    if isinstance(result, Deferred):
        return result
    if isinstance(result, Coroutine):
        return Deferred.fromCoroutine(result)
    raise TypeError(
        "react's main function must return a Deferred or a coroutine, "
        f"not {type(result).__name__}"
    )


def react(
    main: Callable[..., Deferred[Any] | Coroutine[Any, Any, Any]],
    argv: Sequence[object] = (),
    _reactor: Any = None,
) -> NoReturn:
    """
    Run ``main(reactor, *argv)`` inside a running reactor, stop the reactor
    once the ``Deferred`` (or coroutine) it returns completes, and exit the
    process.

    The exit status is ``0`` on success, the code of a ``SystemExit`` that
    ``main`` raised (or its ``Deferred`` failed with), or ``1`` for any other
    failure, whose traceback is logged. If the reactor is stopped by
    something else first, the status reflects whatever ``main`` produced by
    then (``0`` if it is still pending).

    :param main: called with the reactor and ``argv``; returns a
        ``Deferred`` or a coroutine.
    :param argv: extra positional arguments for ``main``.
    :param _reactor: the reactor to run; the global one by default (for
        tests).
    :raises SystemExit: always, with the status above.
    """
    reactor = _globalReactor() if _reactor is None else _reactor
    exitCode: list[Any] = [0]
    shuttingDown: list[bool] = []
    reactor.addSystemEventTrigger("before", "shutdown", shuttingDown.append, True)

    def record(result: object) -> None:
        if isinstance(result, Failure):
            exit = result.check(SystemExit) and result.value
            if isinstance(exit, SystemExit):
                exitCode[0] = exit.code
            else:
                _log.failure("main function encountered error", result)
                exitCode[0] = 1

    def stopReactor() -> None:
        try:
            reactor.stop()
        except ReactorNotRunning:
            pass

    def finished(result: object) -> None:
        record(result)
        if not shuttingDown:
            reactor.callWhenRunning(stopReactor)

    try:
        finishedDeferred = _asDeferred(main(reactor, *argv))
    except BaseException:
        finishedDeferred = Deferred()
        finishedDeferred.errback(Failure())
    finishedDeferred.addBoth(finished)
    reactor.run()
    sys.exit(exitCode[0])
