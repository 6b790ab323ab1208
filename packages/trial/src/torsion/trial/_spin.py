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
import linecache
import signal
import sys
import threading
import time
import types
from typing import Any

__all__ = ["getReactor", "iterateReactor", "waitForDeferred"]

# Frames of this module are left out of reported tracebacks.
__unittest = True

_started: set[int] = set()


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


class CallTracker:
    """
    Remembers where each delayed call scheduled through a reactor's
    ``callLater`` was created, so that a leftover call can be reported with
    the code that scheduled it.

    It wraps the reactor instance's ``callLater`` while installed and
    records a compact stack (file, line, function) per call: much cheaper
    than core's ``DelayedCall.debug``, which formats the whole stack of
    every call.
    """

    #: The most frames recorded per call.
    MAX_FRAMES = 30

    def __init__(self, reactor: Any) -> None:
        self.reactor = reactor
        self.stacks: dict[int, tuple[Any, list[tuple[str, int, str]]]] = {}
        self.installed = False

    def install(self) -> None:
        """
        Start recording; a reactor that cannot be wrapped is left alone.
        """
        if self.installed:
            return
        original = self.reactor.callLater
        stacks = self.stacks
        limit = self.MAX_FRAMES

        def callLater(delay: float, f: Any, *args: Any, **kwargs: Any) -> Any:
            call = original(delay, f, *args, **kwargs)
            stack: list[tuple[str, int, str]] = []
            frame: types.FrameType | None = sys._getframe(1)
            # Stop at the test machinery's frames: the test is what matters.
            while frame is not None and len(stack) < limit:
                if frame.f_globals.get("__unittest"):
                    break
                code = frame.f_code
                stack.append((code.co_filename, frame.f_lineno, code.co_name))
                frame = frame.f_back
            stacks[id(call)] = (call, stack)
            return call

        try:
            self.reactor.callLater = callLater
        except (AttributeError, TypeError):
            return
        self.installed = True

    def uninstall(self) -> None:
        """
        Stop recording and forget what was recorded.
        """
        if self.installed:
            try:
                del self.reactor.callLater
            except AttributeError:
                pass
            self.installed = False
        self.stacks.clear()

    def describe(self, call: Any) -> str:
        """
        :param call: a delayed call.
        :return: its ``repr`` and, when known, where it was scheduled.
        """
        text = repr(call)
        entry = self.stacks.get(id(call))
        if entry is None or entry[0] is not call or not entry[1]:
            return text
        lines = [text, "scheduled at (most recent call last):"]
        for filename, lineno, name in reversed(entry[1]):
            lines.append(f'  File "{filename}", line {lineno}, in {name}')
            source = linecache.getline(filename, lineno).strip()
            if source:
                lines.append(f"    {source}")
        return "\n".join(lines)


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


def _untracedCallLater(reactor: Any, delay: float, f: Any) -> Any:
    """
    Schedule torsion-trial's own timeout call without recording its
    creation stack (that is for the test's calls, and costs time).
    """
    try:
        from torsion.internet.base import DelayedCall
    except ImportError:
        return reactor.callLater(delay, f)
    saved = DelayedCall.__dict__.get("debug", False)
    DelayedCall.debug = False
    try:
        return reactor.callLater(delay, f)
    finally:
        DelayedCall.debug = saved


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

    timer = _untracedCallLater(reactor, timeout, onTimeout)
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
