"""
Helpers shared by torsion-trial's test cases, runner and pytest plugin:
warning suppression specifications, attribute lookup along the
method/class/module chain, and the reactor cleanliness checks.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import Any

__all__ = [
    "DEFAULT_TIMEOUT_DURATION",
    "DirtyReactorAggregateError",
    "acquireAttribute",
    "suppress",
]

#: The number of seconds a test may wait for its Deferreds before it fails
#: with a timeout, unless its method, class or module sets ``timeout``.
DEFAULT_TIMEOUT_DURATION: float = 120.0

#: How long (seconds of reactor iteration) the cleanliness check waits for
#: connections that are already closing before calling them leftovers.
CLEANUP_GRACE_PERIOD: float = 0.1

#: How long (seconds) the cleanliness check waits for threads started by a
#: test to finish on their own before calling them leftovers.
THREAD_GRACE_PERIOD: float = 0.5

_MISSING = object()


class suppress:  # noqa: N801 -- Twisted-compatible lower-case name
    """
    A specification of warnings to silence while a test runs.

    Give a list of these as the ``suppress`` attribute of a test method,
    class or module; each one's keyword arguments are passed to
    ``warnings.filterwarnings`` (``category``, ``message``, ``module``,
    ``lineno``) with the action ``"ignore"``::

        suppress = [util.suppress(category=DeprecationWarning)]

    :param action: the ``warnings`` filter action, ``"ignore"`` unless told.
    :param kwargs: the other ``warnings.filterwarnings`` arguments.
    """

    def __init__(self, action: str = "ignore", **kwargs: Any) -> None:
        self.action = action
        self.kwargs = kwargs

    def apply(self) -> None:
        """
        Install this filter in the current ``warnings`` filter list.
        """
        warnings.filterwarnings(self.action, **self.kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in sorted(self.kwargs.items()))
        return f"suppress(action={self.action!r}, {args})"


def acquireAttribute(
    objects: Iterable[object], attr: str, default: Any = _MISSING
) -> Any:
    """
    Return the first value of ``attr`` found on ``objects``, in order.

    torsion-trial uses it to look up ``skip``, ``todo``, ``timeout`` and
    ``suppress`` on a test method, then its instance (and so its class),
    then its module.

    :param objects: where to look, most specific first.
    :param attr: the attribute name.
    :param default: what to return when no object has the attribute.
    :return: the attribute's value.
    :raises AttributeError: if no object has it and no default was given.
    """
    for obj in objects:
        value = getattr(obj, attr, _MISSING)
        if value is not _MISSING:
            return value
    if default is _MISSING:
        raise AttributeError(f"attribute {attr!r} not found in {objects!r}")
    return default


class DirtyReactorAggregateError(Exception):
    """
    A test left things behind in the reactor: pending delayed calls, readers
    or writers (open sockets, listening ports) or threads it started.

    torsion-trial fails the test with this error and then cleans up (cancels
    the calls, disconnects the selectables) so that the next test starts
    with a clean reactor.

    :ivar delayedCalls: descriptions of the leftover delayed calls, each
        with where it was scheduled.
    :ivar selectables: descriptions of the leftover readers and writers.
    :ivar threads: descriptions of the leftover threads.
    """

    def __init__(
        self,
        delayedCalls: Sequence[str] = (),
        selectables: Sequence[str] = (),
        threads: Sequence[str] = (),
    ) -> None:
        super().__init__(list(delayedCalls), list(selectables), list(threads))
        self.delayedCalls = list(delayedCalls)
        self.selectables = list(selectables)
        self.threads = list(threads)

    def __str__(self) -> str:
        parts = ["Reactor was unclean."]
        if self.delayedCalls:
            parts.append("DelayedCalls (each with where it was scheduled):")
            parts.extend(self.delayedCalls)
        if self.selectables:
            parts.append("Selectables:")
            parts.extend(self.selectables)
        if self.threads:
            parts.append("Threads:")
            parts.extend(self.threads)
        return "\n".join(parts)


def _reactorThreads(reactor: object) -> set[threading.Thread]:
    """
    The threads the reactor itself owns (its thread pool), which a test may
    legitimately leave running.
    """
    pool = getattr(reactor, "threadpool", None)
    owned: set[threading.Thread] = set()
    if pool is not None:
        owned.update(getattr(pool, "threads", ()) or ())
    return owned


def _iterateOnce(reactor: Any, delay: float = 0.0) -> None:
    """
    Give the reactor one turn of its loop without running it forever.
    """
    from torsion.trial._spin import iterateReactor

    iterateReactor(reactor, delay)


def _waker(reactor: Any) -> object | None:
    return getattr(reactor, "waker", None) or getattr(reactor, "_waker", None)


def _selectables(reactor: Any) -> list[Any]:
    getReaders = getattr(reactor, "getReaders", None)
    getWriters = getattr(reactor, "getWriters", None)
    if getReaders is None or getWriters is None:
        return []
    waker = _waker(reactor)
    internal = getattr(reactor, "_internalReaders", ())
    seen: list[Any] = []
    for sel in list(getReaders()) + list(getWriters()):
        if sel is waker or sel in internal or any(sel is s for s in seen):
            continue
        # Internal selectables a reactor may register for itself (wakers,
        # signal pipes) mark themselves so they are never reported.
        if getattr(sel, "_torsionInternalSelectable", False):
            continue
        seen.append(sel)
    return seen


def _pendingCalls(reactor: Any) -> list[Any]:
    getDelayedCalls = getattr(reactor, "getDelayedCalls", None)
    if getDelayedCalls is None:
        return []
    calls = []
    for dc in getDelayedCalls():
        active = getattr(dc, "active", None)
        if active is None or active():
            calls.append(dc)
    return calls


def _disconnect(sel: Any) -> None:
    """
    Close a leftover selectable the test forgot, as best we can.
    """
    for name in ("stopListening", "abortConnection", "loseConnection"):
        method = getattr(sel, name, None)
        if method is None:
            continue
        try:
            result = method()
        except Exception:
            continue
        # stopListening may return a Deferred; nobody waits on it here.
        if result is not None and hasattr(result, "addErrback"):
            result.addErrback(lambda f: None)
        break


def checkReactorClean(
    reactor: Any,
    threadsBefore: Iterable[threading.Thread] = (),
    describeCall: Callable[[Any], str] = repr,
) -> DirtyReactorAggregateError | None:
    """
    Check that a test left the reactor as it found it, clean up what it left,
    and describe the leftovers.

    Pending delayed calls are cancelled; readers and writers still registered
    after a short grace period (connections closing get a few reactor turns)
    are disconnected and removed; threads started by the test that are still
    alive after a short wait are reported (threads cannot be stopped).

    :param reactor: the reactor the test used.
    :param threadsBefore: the threads alive before the test started.
    :param describeCall: how to describe a leftover delayed call.
    :return: the error describing the leftovers, or ``None`` when clean.
    """
    selectables = _selectables(reactor)
    if selectables:
        # Connections that are already closing usually finish within a turn
        # or two of the loop; only what is still there afterwards is a leak.
        deadline = time.monotonic() + CLEANUP_GRACE_PERIOD
        while selectables and time.monotonic() < deadline:
            _iterateOnce(reactor, 0.01)
            selectables = _selectables(reactor)

    calls = _pendingCalls(reactor)
    callDescriptions = []
    for dc in calls:
        callDescriptions.append(describeCall(dc))
        try:
            dc.cancel()
        except Exception:
            pass

    selDescriptions = []
    if selectables:
        for sel in selectables:
            selDescriptions.append(repr(sel))
            _disconnect(sel)
        # Give disconnections a turn, then forcibly unregister what is left.
        _iterateOnce(reactor, 0.0)
        for sel in _selectables(reactor):
            for name in ("removeReader", "removeWriter"):
                try:
                    getattr(reactor, name)(sel)
                except Exception:
                    pass
            sock = getattr(sel, "socket", None)
            if sock is not None:
                try:
                    sock.close()
                except Exception:
                    pass

    threadDescriptions = []
    before = set(threadsBefore)
    owned = _reactorThreads(reactor)
    leftover = [
        t
        for t in threading.enumerate()
        if t not in before and t not in owned and t is not threading.current_thread()
    ]
    if leftover:
        deadline = time.monotonic() + THREAD_GRACE_PERIOD
        for t in leftover:
            t.join(max(0.0, deadline - time.monotonic()))
        owned = _reactorThreads(reactor)
        for t in leftover:
            if t.is_alive() and t not in owned:
                threadDescriptions.append(repr(t))

    if callDescriptions or selDescriptions or threadDescriptions:
        return DirtyReactorAggregateError(
            callDescriptions, selDescriptions, threadDescriptions
        )
    return None


_freezeSurvivors = False


def freezeSurvivorsAfterCollection(enabled: bool) -> None:
    """
    Make ``collectGarbage`` move what survives a collection into the
    permanent generation, so that the next test's collection only examines
    what that test allocated (the runner turns this on: without it each
    collection walks every object of the run, and a long run slows down as
    it goes).

    :param enabled: whether to freeze survivors.
    """
    global _freezeSurvivors
    _freezeSurvivors = enabled


def collectGarbage(freeze: bool = True) -> None:
    """
    Run the garbage collector so that Deferreds dropped with an unhandled
    failure log their error while the test that dropped them is current.

    :param freeze: freeze the survivors if that is turned on (only between
        tests: an object frozen in the middle of a test would never be
        collected when the test drops it).
    """
    global frozeSurvivors
    gc.collect()
    if freeze and _freezeSurvivors:
        gc.freeze()
        frozeSurvivors = True


#: Whether ``collectGarbage`` has frozen anything (``gc.unfreeze()`` gives
#: frozen objects back to the collector).
frozeSurvivors = False


def runWithWarningsSuppressed(
    suppressedWarnings: Iterable[tuple[Sequence[Any], dict[str, Any]] | suppress],
    f: Callable[..., Any],
    *args: Any,
    **kwargs: Any,
) -> Any:
    """
    Call ``f(*args, **kwargs)`` with some warnings filtered out.

    :param suppressedWarnings: ``suppress`` objects, or ``(args, kwargs)``
        pairs for ``warnings.filterwarnings``.
    :param f: the callable.
    :return: what ``f`` returns.
    """
    with warnings.catch_warnings():
        for spec in suppressedWarnings:
            if isinstance(spec, suppress):
                spec.apply()
            else:
                a, kw = spec
                warnings.filterwarnings(*a, **kw)
        return f(*args, **kwargs)


def _fullyQualifiedName(obj: object) -> str:
    module = getattr(obj, "__module__", None) or ""
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", repr(obj))
    return f"{module}.{name}" if module else str(name)


def _moduleOf(obj: object) -> object | None:
    return sys.modules.get(getattr(obj, "__module__", "") or "")
