"""
The parts of a reactor that do not depend on how it waits for events:
scheduled calls (``DelayedCall``), system event triggers, thread integration
and name resolution.  ``posixbase.PosixReactorBase`` adds descriptors and
sockets on top.
"""

from __future__ import annotations

import builtins
import heapq
import socket
import threading
import time as _time
import traceback
from collections import deque
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from torsion.internet import defer, error
from torsion.internet.interfaces import (
    IDelayedCall,
    IHostnameResolver,
    IReactorCore,
    IReactorFromThreads,
    IReactorPluggableNameResolver,
    IReactorPluggableResolver,
    IReactorThreads,
    IReactorTime,
    IReactorWakeable,
    IResolverSimple,
)
from torsion.python import log
from torsion.python.failure import Failure

if TYPE_CHECKING:
    from torsion.python.threadpool import ThreadPool


def runtimeSeconds() -> float:
    """
    The clock reactors schedule calls on: a monotonic clock, unaffected by
    changes to the system time.

    :return: seconds since an arbitrary fixed point.
    """
    return _time.monotonic()


@implementer(IDelayedCall)
class DelayedCall:
    """
    A call scheduled to run at a given time, returned by ``callLater``.

    Reactors and ``Clock`` create these; users keep them to ``cancel``,
    ``reset`` or ``delay`` the call.

    :cvar debug: when ``True``, every new call records the stack that created
        it (``creator``), shown in its ``repr``; useful to find who scheduled a
        call left pending at the end of a test.
    :ivar time: the due time, excluding a pending postponement.
    :ivar func: what will be called.
    :ivar args: its positional arguments.
    :ivar kw: its keyword arguments.
    :ivar cancelled: true once cancelled.
    :ivar called: true once run.
    :ivar delayed_time: how far the call was postponed by ``reset``/``delay``
        without the scheduler having been told yet.
    """

    debug: bool = False
    _repr: str | None = None
    # The serial number of this call's live entry in a reactor's timer heap,
    # or None when it has none; entries with another serial are stale.
    _heapSerial: int | None = None
    creator: list[str] | None = None

    def __init__(
        self,
        time: float,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kw: dict[str, Any],
        cancel: Callable[[DelayedCall], Any],
        reset: Callable[[DelayedCall], Any],
        seconds: Callable[[], float] = runtimeSeconds,
    ) -> None:
        """
        :param time: when to run, on the ``seconds`` clock.
        :param func: what to call.
        :param args: positional arguments for ``func``.
        :param kw: keyword arguments for ``func``.
        :param cancel: called with this object when it is cancelled, so the
            scheduler can forget it.
        :param reset: called with this object when it is moved earlier, so
            the scheduler can reorder it.
        :param seconds: the clock ``time`` is measured on.
        """
        self.time = time
        self.func = func
        self.args = args
        self.kw = kw
        self.resetter = reset
        self.canceller = cancel
        self.seconds = seconds
        self.cancelled = 0
        self.called = 0
        self.delayed_time = 0.0
        if self.debug:
            self.creator = traceback.format_stack()[:-2]

    def getTime(self) -> float:
        """
        :return: when the call is due, on the reactor's ``seconds`` clock.
        """
        return self.time + self.delayed_time

    def cancel(self) -> None:
        """
        Prevent the call from running.

        :raises torsion.internet.error.AlreadyCancelled: if already cancelled.
        :raises torsion.internet.error.AlreadyCalled: if it already ran.
        """
        if self.cancelled:
            raise error.AlreadyCancelled()
        if self.called:
            raise error.AlreadyCalled()
        if self.debug:
            self._repr = repr(self)
        self.cancelled = 1
        self.canceller(self)
        # Drop references so a cancelled call does not keep its arguments
        # alive while it waits to be discarded by the scheduler.
        del self.func, self.args, self.kw

    def reset(self, secondsFromNow: float) -> None:
        """
        Make the call due ``secondsFromNow`` seconds from now.

        :param secondsFromNow: the new delay.
        :raises torsion.internet.error.AlreadyCancelled: if cancelled.
        :raises torsion.internet.error.AlreadyCalled: if it already ran.
        """
        if self.cancelled:
            raise error.AlreadyCancelled()
        if self.called:
            raise error.AlreadyCalled()
        newTime = self.seconds() + secondsFromNow
        if newTime < self.time:
            self.delayed_time = 0.0
            self.time = newTime
            self.resetter(self)
        else:
            # Later: the scheduler notices when the old due time comes.
            self.delayed_time = newTime - self.time

    def delay(self, secondsLater: float) -> None:
        """
        Postpone the call by ``secondsLater`` seconds (negative brings it
        forward).

        :param secondsLater: seconds to add to the due time.
        :raises torsion.internet.error.AlreadyCancelled: if cancelled.
        :raises torsion.internet.error.AlreadyCalled: if it already ran.
        """
        if self.cancelled:
            raise error.AlreadyCancelled()
        if self.called:
            raise error.AlreadyCalled()
        self.delayed_time += secondsLater
        if self.delayed_time < 0:
            self.activate_delay()
            self.resetter(self)

    def activate_delay(self) -> None:
        """
        Fold a pending postponement into ``time``; used by schedulers.
        """
        self.time += self.delayed_time
        self.delayed_time = 0.0

    def active(self) -> bool:
        """
        :return: ``True`` until the call runs or is cancelled.
        """
        return not (self.cancelled or self.called)

    def __le__(self, other: DelayedCall) -> bool:
        return self.getTime() <= other.getTime()

    def __lt__(self, other: DelayedCall) -> bool:
        return self.getTime() < other.getTime()

    def __repr__(self) -> str:
        if self._repr is not None:
            return self._repr
        func = getattr(self, "func", None)
        if func is not None:
            name = getattr(func, "__qualname__", None) or repr(func)
            args = ", ".join(
                [repr(a) for a in self.args]
                + [f"{k}={v!r}" for k, v in self.kw.items()]
            )
            what = f"{name}({args})"
        else:
            what = "<cancelled>"
        state = (
            "called" if self.called else "cancelled" if self.cancelled else "pending"
        )
        due = self.getTime() - self.seconds()
        text = f"<DelayedCall 0x{id(self):x} [{due:.6g}s] {state} {what}"
        if self.creator is not None:
            text += "\n\ntraceback at creation:\n\n" + "    ".join(self.creator)
        return text + ">"

    __str__ = __repr__


_PHASES = ("before", "during", "after")

#: Compact the timer heap once this many of its entries are dead (cancelled
#: or superseded) and they make up more than half of it.
TIMER_COMPACTION_THRESHOLD = 64

#: The default maximum size of the reactor's thread pool.
DEFAULT_THREADPOOL_MAX = 10


class _ThreePhaseEvent:
    """
    The triggers of one system event ("startup", "shutdown", ...), run phase
    by phase; a Deferred returned by a "before" or "during" trigger holds
    back the next phase.
    """

    def __init__(self) -> None:
        self.triggers: dict[
            str, list[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]
        ] = {
            "before": [],
            "during": [],
            "after": [],
        }
        # "BASE" when idle, else the phase being run or waited on.
        self.state = "BASE"
        self._pending: list[
            tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]
        ] = []

    def addTrigger(
        self,
        phase: str,
        callable: Callable[..., Any],
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]:
        if phase not in self.triggers:
            raise KeyError(f"invalid phase {phase!r}; expected one of {_PHASES}")
        entry = (callable, args, kwargs)
        self.triggers[phase].append(entry)
        return (phase, callable, args, kwargs)

    def removeTrigger(
        self, handle: tuple[str, Callable[..., Any], tuple[Any, ...], dict[str, Any]]
    ) -> None:
        phase, callable, args, kwargs = handle
        triggers = self.triggers.get(phase)
        if triggers is None:
            raise KeyError(phase)
        for i, entry in enumerate(triggers):
            if entry[0] is callable and entry[1] is args and entry[2] is kwargs:
                # While a phase runs, its list is being iterated: blank the
                # slot rather than shifting the others.
                if self.state == phase:
                    triggers[i] = (_noop, (), {})
                else:
                    del triggers[i]
                return
        raise ValueError(f"{handle!r} is not a registered trigger")

    def fire(self) -> None:
        if self.state != "BASE":
            return
        self._runPhase("before", "during")

    def _runPhase(self, phase: str, nextPhase: str | None) -> None:
        self.state = phase
        waiting: list[defer.Deferred[Any]] = []
        triggers = self.triggers[phase]
        i = 0
        while i < len(triggers):
            callable, args, kwargs = triggers[i]
            i += 1
            try:
                result = callable(*args, **kwargs)
            except Exception:
                log.err(Failure(), f"Error in system event trigger {callable!r}")
            else:
                if isinstance(result, defer.Deferred):
                    waiting.append(result)
        self.triggers[phase] = [t for t in triggers if t[0] is not _noop]
        if phase == "after":
            self.triggers["after"] = []
            self.state = "BASE"
            return
        if phase == "before":
            self.triggers["before"] = []
        else:
            self.triggers["during"] = []
        assert nextPhase is not None
        following = "after" if nextPhase == "during" else None
        if waiting:
            defer.DeferredList(waiting, consumeErrors=True).addCallback(
                lambda _: self._runPhase(nextPhase, following)
            )
        else:
            self._runPhase(nextPhase, following)


def _noop() -> None:
    pass


def _isIPAddress(name: str) -> bool:
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, name.split("%", 1)[0])
        except (OSError, ValueError):
            continue
        return True
    return False


@implementer(
    IReactorCore,
    IReactorTime,
    IReactorThreads,
    IReactorFromThreads,
    IReactorWakeable,
    IReactorPluggableResolver,
    IReactorPluggableNameResolver,
)
class ReactorBase:
    """
    The reactor's main loop, scheduled calls, system events and threads,
    independent of how events are waited for.

    A subclass supplies ``doIteration(timeout)`` (wait up to ``timeout``
    seconds, ``None`` meaning forever, and dispatch what happened) and
    ``wakeUp()``.  ``PosixReactorBase`` does this for the select, poll and
    epoll reactors.

    :ivar running: ``True`` while the main loop runs (after the "startup"
        event's "during" phase).
    :ivar threadpool: the thread pool, ``None`` until first used.
    :ivar nameResolver: the ``IHostnameResolver`` used for host names.
    :ivar resolver: the legacy ``IResolverSimple`` used by ``resolve``.
    """

    _installSignalHandlersRequested = False

    def __init__(self) -> None:
        self.running = False
        self._started = False
        self._stopped = True
        self._justStopped = False
        self._startedBefore = False
        self._timerHeap: list[tuple[float, int, DelayedCall]] = []
        self._newTimedCalls: list[DelayedCall] = []
        self._newCancelled = 0
        self._timerSerial = 0
        self._deadTimers = 0
        self.threadCallQueue: deque[
            tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]
        ] = deque()
        self._eventTriggers: dict[str, _ThreePhaseEvent] = {}
        self.threadpool: ThreadPool | None = None
        self._threadpoolShutdownID: Any = None
        self._threadpoolStartupID: Any = None
        self._reactorThread: threading.Thread | None = None
        from torsion.internet._resolver import GAIResolver, _ComplexResolverSimplifier

        self.nameResolver: IHostnameResolver = GAIResolver(self)
        self.resolver: IResolverSimple = _ComplexResolverSimplifier(self.nameResolver)
        self.addSystemEventTrigger("during", "startup", self._reallyStartRunning)
        self.addSystemEventTrigger("during", "shutdown", self.crash)
        self.addSystemEventTrigger("during", "shutdown", self.disconnectAll)

    # -- subclass responsibilities -------------------------------------

    def doIteration(self, delay: float | None) -> None:
        """
        Wait up to ``delay`` seconds for events and dispatch them; provided
        by subclasses.

        :param delay: the longest wait, ``None`` for no limit.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement doIteration")

    def wakeUp(self) -> None:
        """
        Make a wait in ``doIteration`` return soon; provided by subclasses.
        Safe to call from any thread.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement wakeUp")

    def disconnectAll(self) -> None:
        """
        Close every connection and port; runs during shutdown.  Provided by
        subclasses that manage descriptors.
        """

    def _handleSignals(self) -> None:
        """
        Install signal handlers; subclasses override.  Called at startup when
        ``run(installSignalHandlers=True)``.
        """

    def _uninstallHandler(self) -> None:
        """
        Restore the signal handlers ``_handleSignals`` replaced.
        """

    # -- time ----------------------------------------------------------

    def seconds(self) -> float:
        """
        :return: the time on the reactor's monotonic clock, in seconds.
        """
        return _time.monotonic()

    def callLater(
        self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> DelayedCall:
        """
        Call ``callable(*args, **kw)`` after ``delay`` seconds.

        A call with the same due time as another runs after it; a call
        scheduled while the reactor is running calls runs no earlier than the
        next iteration, so I/O is never starved by a chain of zero delays.

        :param delay: seconds to wait, at least ``0``.
        :param callable: what to call.
        :return: a ``DelayedCall`` to cancel, reset or delay the call.
        :raises ValueError: if ``delay`` is negative.
        """
        if delay < 0:
            raise ValueError(f"callLater delay must be >= 0, not {delay!r}")
        if not builtins.callable(callable):
            raise TypeError(f"callLater needs a callable, not {callable!r}")
        dc = DelayedCall(
            self.seconds() + delay,
            callable,
            args,
            kw,
            self._cancelCallLater,
            self._moveCallLaterSooner,
            seconds=self.seconds,
        )
        self._newTimedCalls.append(dc)
        return dc

    def _pushTimer(self, dc: DelayedCall) -> None:
        self._timerSerial += 1
        serial = self._timerSerial
        dc._heapSerial = serial
        heapq.heappush(self._timerHeap, (dc.time, serial, dc))

    def _moveCallLaterSooner(self, dc: DelayedCall) -> None:
        if getattr(dc, "_heapSerial", None) is not None:
            # Its old heap entry is now stale; a fresh one goes in.
            self._deadTimers += 1
            self._pushTimer(dc)
            self._maybeCompact()

    def _cancelCallLater(self, dc: DelayedCall) -> None:
        if getattr(dc, "_heapSerial", None) is not None:
            self._deadTimers += 1
            self._maybeCompact()
        else:
            # Not in the heap yet: it is skipped when the new calls are
            # moved there, and dropped early if cancelled ones pile up.
            self._newCancelled += 1
            new = self._newTimedCalls
            if (
                self._newCancelled > TIMER_COMPACTION_THRESHOLD
                and self._newCancelled > (len(new) >> 1)
            ):
                self._newTimedCalls = [c for c in new if not c.cancelled]
                self._newCancelled = 0

    def _maybeCompact(self) -> None:
        dead = self._deadTimers
        if dead > TIMER_COMPACTION_THRESHOLD and dead > (len(self._timerHeap) >> 1):
            self._timerHeap = [
                entry
                for entry in self._timerHeap
                if not entry[2].cancelled and entry[1] == entry[2]._heapSerial
            ]
            heapq.heapify(self._timerHeap)
            self._deadTimers = 0

    def _insertNewDelayedCalls(self) -> None:
        new = self._newTimedCalls
        if new:
            self._newTimedCalls = []
            self._newCancelled = 0
            for dc in new:
                if not dc.cancelled:
                    self._pushTimer(dc)

    def getDelayedCalls(self) -> list[DelayedCall]:
        """
        :return: every scheduled call not yet run or cancelled.
        """
        result = [
            entry[2]
            for entry in self._timerHeap
            if not entry[2].cancelled
            and not entry[2].called
            and entry[1] == entry[2]._heapSerial
        ]
        result.extend(dc for dc in self._newTimedCalls if not dc.cancelled)
        return result

    def timeout(self) -> float | None:
        """
        :return: how long the next wait may last: ``0`` if work is queued,
            the time to the next scheduled call, or ``None`` for no limit.
        """
        if self.threadCallQueue:
            return 0.0
        self._insertNewDelayedCalls()
        heap = self._timerHeap
        while heap:
            t, serial, dc = heap[0]
            if dc.cancelled or serial != dc._heapSerial:
                heapq.heappop(heap)
                self._deadTimers -= 1
                continue
            return max(0.0, t - self.seconds())
        return None

    def runUntilCurrent(self) -> None:
        """
        Run the calls handed over from other threads and every scheduled call
        that is due.
        """
        queue = self.threadCallQueue
        if queue:
            # Only what is queued now: work queued by these calls waits for
            # the next iteration.
            for _ in range(len(queue)):
                f, a, kw = queue.popleft()
                try:
                    f(*a, **kw)
                except Exception:
                    log.err(Failure(), f"Unhandled error in call from thread {f!r}")
        self._insertNewDelayedCalls()
        heap = self._timerHeap
        if heap:
            now = self.seconds()
            pop = heapq.heappop
            while heap and heap[0][0] <= now:
                _t, serial, dc = pop(heap)
                if dc.cancelled or serial != dc._heapSerial:
                    self._deadTimers -= 1
                    continue
                if dc.delayed_time > 0:
                    dc.activate_delay()
                    self._pushTimer(dc)
                    continue
                dc._heapSerial = None
                dc.called = 1
                try:
                    dc.func(*dc.args, **dc.kw)
                except Exception:
                    log.err(Failure(), f"Unhandled error in delayed call {dc!r}")
        if self._justStopped:
            self._justStopped = False
            self.fireSystemEvent("shutdown")

    # -- running -------------------------------------------------------

    def run(self, installSignalHandlers: bool = True) -> None:
        """
        Run the main loop until ``stop`` (or ``crash``) is called.

        :param installSignalHandlers: stop cleanly on SIGINT and SIGTERM and
            reap children on SIGCHLD; only possible in the main thread.
        :raises torsion.internet.error.ReactorAlreadyRunning: if running.
        :raises torsion.internet.error.ReactorNotRestartable: after ``stop``.
        """
        self.startRunning(installSignalHandlers=installSignalHandlers)
        self.mainLoop()

    def startRunning(self, installSignalHandlers: bool = True) -> None:
        """
        Fire the "startup" event; ``run`` calls this before ``mainLoop``.

        :param installSignalHandlers: see ``run``.
        """
        if self._started:
            raise error.ReactorAlreadyRunning()
        if self._startedBefore:
            raise error.ReactorNotRestartable()
        self._started = True
        self._stopped = False
        self._reactorThread = threading.current_thread()
        self._installSignalHandlersRequested = installSignalHandlers
        self.fireSystemEvent("startup")

    def _reallyStartRunning(self) -> None:
        self.running = True
        if self._installSignalHandlersRequested:
            self._handleSignals()

    def mainLoop(self) -> None:
        """
        Iterate until the reactor stops or crashes.  An exception escaping an
        iteration is logged and the loop goes on.
        """
        while self._started:
            try:
                while self._started:
                    self.runUntilCurrent()
                    t = self.timeout() if self.running else 0.0
                    if not self._started:
                        break
                    self.doIteration(t)
            except Exception:
                log.err(Failure(), "Unexpected error in main loop.")
            else:
                break
        self._uninstallHandler()

    def stop(self) -> None:
        """
        Stop the reactor: run the "shutdown" event's triggers (closing
        connections and the thread pool) and then leave ``run``.

        :raises torsion.internet.error.ReactorNotRunning: if not running.
        """
        if self._stopped:
            raise error.ReactorNotRunning("Can't stop reactor that isn't running.")
        self._stopped = True
        self._justStopped = True
        self._startedBefore = True
        self.wakeUp()

    def crash(self) -> None:
        """
        Leave ``run`` at once without running shutdown triggers.  The reactor
        may be run again afterwards.
        """
        self._started = False
        self.running = False
        self.addSystemEventTrigger("during", "startup", self._reallyStartRunning)

    def iterate(self, delay: float = 0) -> None:
        """
        Run due calls, then wait up to ``delay`` seconds for events and handle
        them.

        :param delay: the longest wait.
        """
        self.runUntilCurrent()
        self.doIteration(delay)

    # -- system events -------------------------------------------------

    def fireSystemEvent(self, eventType: str) -> None:
        """
        Run every phase of ``eventType``'s triggers.

        :param eventType: the event's name.
        """
        event = self._eventTriggers.get(eventType)
        if event is not None:
            event.fire()

    def addSystemEventTrigger(
        self,
        phase: str,
        eventType: str,
        callable: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """
        Call ``callable(*args, **kwargs)`` in ``phase`` of ``eventType``.

        :param phase: ``"before"``, ``"during"`` or ``"after"``.
        :param eventType: such as ``"startup"`` or ``"shutdown"``.
        :param callable: what to call; a Deferred it returns (in the first two
            phases) holds back the next phase.
        :return: an id for ``removeSystemEventTrigger``.
        :raises KeyError: for an unknown phase.
        """
        if not builtins.callable(callable):
            raise TypeError(f"{callable!r} is not callable")
        if phase not in _PHASES:
            raise KeyError(f"invalid phase {phase!r}; expected one of {_PHASES}")
        event = self._eventTriggers.get(eventType)
        if event is None:
            event = self._eventTriggers[eventType] = _ThreePhaseEvent()
        return (eventType, event.addTrigger(phase, callable, args, kwargs))

    def removeSystemEventTrigger(self, triggerID: Any) -> None:
        """
        Unregister a trigger.

        :param triggerID: the id ``addSystemEventTrigger`` returned.
        :raises ValueError: if it is not a registered trigger.
        """
        try:
            eventType, handle = triggerID
            event = self._eventTriggers[eventType]
            event.removeTrigger(handle)
        except (KeyError, TypeError) as e:
            raise ValueError(f"{triggerID!r} is not a registered trigger") from e

    def callWhenRunning(
        self, callable: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        """
        Call ``callable`` once the reactor runs, or at once if it already does.

        :param callable: what to call.
        :return: a trigger id if the call was deferred, else ``None``.
        """
        if self.running:
            callable(*args, **kwargs)
            return None
        return self.addSystemEventTrigger("after", "startup", callable, *args, **kwargs)

    # -- threads -------------------------------------------------------

    def callFromThread(
        self, callable: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """
        Run ``callable(*args, **kwargs)`` in the reactor thread at its next
        iteration.  Safe from any thread and from signal handlers.

        :param callable: what to call.
        """
        self.threadCallQueue.append((callable, args, kwargs))
        self.wakeUp()

    def _initThreadPool(self) -> ThreadPool:
        from torsion.python.threadpool import ThreadPool

        pool = ThreadPool(0, DEFAULT_THREADPOOL_MAX, "reactor")
        self.threadpool = pool
        self._threadpoolStartupID = self.callWhenRunning(pool.start)
        self._threadpoolShutdownID = self.addSystemEventTrigger(
            "during", "shutdown", self._stopThreadPool
        )
        return pool

    def _stopThreadPool(self) -> None:
        """
        Stop the thread pool (waiting for running work); runs during
        shutdown.
        """
        pool = self.threadpool
        if pool is None:
            return
        self.threadpool = None
        if self._threadpoolStartupID is not None:
            try:
                self.removeSystemEventTrigger(self._threadpoolStartupID)
            except ValueError:
                pass
            self._threadpoolStartupID = None
        if self._threadpoolShutdownID is not None:
            try:
                self.removeSystemEventTrigger(self._threadpoolShutdownID)
            except ValueError:
                pass
            self._threadpoolShutdownID = None
        pool.stop()

    def getThreadPool(self) -> ThreadPool:
        """
        :return: the reactor's ``ThreadPool``, created on first use; it
            starts when the reactor runs and stops at shutdown.
        """
        if self.threadpool is None:
            return self._initThreadPool()
        return self.threadpool

    def callInThread(
        self, callable: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> None:
        """
        Run ``callable(*args, **kwargs)`` in the reactor's thread pool.

        :param callable: what to call.
        """
        self.getThreadPool().callInThread(callable, *args, **kwargs)

    def suggestThreadPoolSize(self, size: int) -> None:
        """
        Set the most threads the reactor's pool runs at once.

        :param size: the new maximum, at least 1.
        """
        self.getThreadPool().adjustPoolsize(maxthreads=size)

    # -- name resolution -----------------------------------------------

    def installResolver(self, resolver: IResolverSimple) -> IResolverSimple:
        """
        Use ``resolver`` for ``resolve`` and, through an adapter, for host
        names given to ``connectTCP``.

        :param resolver: an ``IResolverSimple``.
        :return: the previous resolver.
        """
        from torsion.internet._resolver import _SimpleResolverComplexifier

        old = self.resolver
        self.resolver = resolver
        self.nameResolver = _SimpleResolverComplexifier(resolver)
        return old

    def installNameResolver(self, resolver: IHostnameResolver) -> IHostnameResolver:
        """
        Use ``resolver`` for every host name the reactor looks up.

        :param resolver: an ``IHostnameResolver``.
        :return: the previous name resolver.
        """
        from torsion.internet._resolver import _ComplexResolverSimplifier

        old = self.nameResolver
        self.nameResolver = resolver
        self.resolver = _ComplexResolverSimplifier(resolver)
        return old

    def resolve(
        self, name: str, timeout: Sequence[int] = (1, 3, 11, 45)
    ) -> defer.Deferred[str]:
        """
        Look up one IPv4 address for ``name``.

        :param name: a host name or an IPv4 address.
        :param timeout: retry timeouts passed to the resolver.
        :return: a ``Deferred`` firing with the address ``str``, or failing
            with ``DNSLookupError``.
        """
        if not name:
            return defer.succeed("0.0.0.0")
        if _isIPAddress(name):
            return defer.succeed(name)
        result: defer.Deferred[str] = self.resolver.getHostByName(name, timeout)
        return result

    def _inReactorThread(self) -> bool:
        return (
            self._reactorThread is None
            or self._reactorThread is threading.current_thread()
        )


def _logPrefixOf(obj: object) -> str:
    try:
        prefix = getattr(obj, "logPrefix")()  # noqa: B009
    except Exception:
        prefix = None
    return prefix if isinstance(prefix, str) else type(obj).__name__


__all__ = ["DelayedCall", "ReactorBase", "runtimeSeconds"]
