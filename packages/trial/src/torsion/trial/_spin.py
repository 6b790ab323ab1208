"""
Driving the reactor from a test: turn its loop until a Deferred fires or a
timeout passes, without ``reactor.run()`` blocking for good.

Two strategies, chosen per reactor:

- *iterate*: reactors with ``runUntilCurrent``, ``timeout`` and
  ``doIteration`` (the poll-style reactors) are turned one loop iteration
  at a time, which is cheap and needs no restart;
- *run/crash*: other reactors (the asyncio one, whose loop belongs to
  asyncio) are run with ``reactor.run()`` and stopped with
  ``reactor.crash()`` as soon as the awaited Deferred fires or the timeout
  call runs.
"""

from __future__ import annotations

import importlib
import signal
import threading
import time
from typing import Any

__all__ = ["getReactor", "iterateReactor", "waitForDeferred"]

# Frames of this module are left out of reported tracebacks.
__unittest = True

_started: set[int] = set()
_debugEnabled = False


def getReactor() -> Any:
    """
    Return the installed global reactor, installing the default one if none
    is installed yet.
    """
    return importlib.import_module("torsion.internet.reactor")


def _usesIteration(reactor: Any) -> bool:
    if getattr(reactor, "_asyncioEventloop", None) is not None:
        return False
    return all(
        callable(getattr(reactor, name, None))
        for name in ("runUntilCurrent", "doIteration", "timeout")
    )


def enableDelayedCallDebugging() -> None:
    """
    Ask core's ``DelayedCall`` to remember where each call was scheduled,
    so that a dirty-reactor report can say where a leftover came from.
    """
    global _debugEnabled
    if _debugEnabled:
        return
    _debugEnabled = True
    try:
        from torsion.internet import base
    except ImportError:
        return
    delayedCall = getattr(base, "DelayedCall", None)
    if delayedCall is not None:
        delayedCall.debug = True


class _KeepInterruptHandlers:
    """
    Keep the caller's SIGINT and SIGTERM handlers across a reactor start, so
    that Ctrl-C still interrupts a test run (the reactor's own handlers would
    only stop the reactor) while its other handlers (SIGCHLD) stay.
    """

    def __enter__(self) -> None:
        self.saved: dict[int, Any] = {}
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self.saved[sig] = signal.getsignal(sig)
            except (ValueError, OSError):
                pass

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.saved.items():
            try:
                if signal.getsignal(sig) is not handler:
                    signal.signal(sig, handler)
            except (ValueError, OSError, TypeError):
                pass


def _inMainThread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _run(reactor: Any) -> None:
    with _KeepInterruptHandlers():
        try:
            reactor.run(installSignalHandlers=_inMainThread())
        except TypeError:
            reactor.run()


def _ensureStarted(reactor: Any) -> None:
    """
    For an iterated reactor: start it once (its "startup" triggers run:
    thread pool, signal handling) without entering its main loop; from then
    on it counts as running and we turn its loop ourselves.
    """
    if id(reactor) in _started:
        return
    _started.add(id(reactor))
    if getattr(reactor, "running", False) or not _usesIteration(reactor):
        return
    startRunning = getattr(reactor, "startRunning", None)
    if startRunning is None:
        return
    with _KeepInterruptHandlers():
        try:
            startRunning(installSignalHandlers=_inMainThread())
        except TypeError:
            startRunning()


def iterateReactor(reactor: Any, delay: float = 0.0) -> None:
    """
    Run one iteration of the reactor's loop, waiting at most ``delay``
    seconds for something to happen.

    :param reactor: the reactor.
    :param delay: the longest wait for I/O, in seconds.
    """
    _ensureStarted(reactor)
    if _usesIteration(reactor):
        reactor.runUntilCurrent()
        t = reactor.timeout()
        if t is None or t > delay:
            t = delay
        reactor.doIteration(max(0.0, t))
        reactor.runUntilCurrent()
        return
    iterate = getattr(reactor, "iterate", None)
    if iterate is not None and getattr(reactor, "_asyncioEventloop", None) is None:
        iterate(delay)
        return
    reactor.callLater(delay, reactor.crash)
    _run(reactor)


class WaitResult:
    """
    The outcome of waiting for a Deferred.

    :ivar finished: whether the Deferred fired before the timeout.
    :ivar result: its result (a value or a ``Failure``) when it fired.
    :ivar elapsed: how long the wait took, in seconds.
    """

    __slots__ = ("description", "elapsed", "finished", "result")

    def __init__(
        self, finished: bool, result: object, elapsed: float, description: str = ""
    ) -> None:
        self.finished = finished
        self.result = result
        self.elapsed = elapsed
        self.description = description


def waitForDeferred(reactor: Any, d: Any, timeout: float) -> WaitResult:
    """
    Turn the reactor until ``d`` fires or ``timeout`` seconds have passed.

    On timeout ``d`` is cancelled, and what it would deliver afterwards is
    discarded.

    :param reactor: the reactor that drives whatever ``d`` waits on.
    :param d: the Deferred.
    :param timeout: the longest wait, in seconds.
    :return: how the wait ended.
    """
    results: list[object] = []
    timedOut: list[bool] = []
    description: list[str] = []
    iterating = _usesIteration(reactor)
    start = time.monotonic()

    def finished(result: object) -> None:
        if not timedOut and not results:
            results.append(result)
            if not iterating and getattr(reactor, "running", False):
                reactor.crash()

    d.addBoth(finished)
    if results:
        return WaitResult(True, results[0], time.monotonic() - start)

    _ensureStarted(reactor)

    def onTimeout() -> None:
        if results:
            return
        description.append(repr(d))
        timedOut.append(True)
        if not iterating and getattr(reactor, "running", False):
            reactor.crash()

    timer = reactor.callLater(timeout, onTimeout)
    try:
        if iterating:
            runUntilCurrent = reactor.runUntilCurrent
            doIteration = reactor.doIteration
            nextTimeout = reactor.timeout
            while True:
                runUntilCurrent()
                if results or timedOut:
                    break
                t = nextTimeout()
                doIteration(0.0 if t is None or t < 0 else t)
        else:
            while not results and not timedOut:
                _run(reactor)
    finally:
        if timer.active():
            timer.cancel()
    elapsed = time.monotonic() - start
    if results:
        return WaitResult(True, results[0], elapsed)
    try:
        d.cancel()
    except Exception:
        pass
    return WaitResult(False, None, elapsed, description[0] if description else repr(d))
