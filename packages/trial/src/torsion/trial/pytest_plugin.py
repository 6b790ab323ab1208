"""
The pytest plugin of torsion-trial, registered through the ``pytest11`` entry
point so that trial test cases run under plain ``pytest``.

- ``torsion.trial.unittest.TestCase`` classes are collected as ``unittest``
  cases; their own ``run`` waits for Deferreds and coroutines, applies
  timeouts, checks the reactor is left clean and fails tests that logged
  errors, exactly as under the ``torsion-trial`` runner.
- Plain ``async def`` test functions and plain test functions returning a
  Deferred run on the global torsion reactor, with the same timeout (a
  ``timeout`` attribute on the function or module), cleanliness and
  logged-error checks.
- A ``reactor`` fixture gives the global torsion reactor.

The plugin stays out of the way of tests that do not use it: it imports
nothing from torsion until a test needs it, and it leaves alone every test
below a ``conftest.py`` that overrides the ``reactor`` fixture or implements
``pytest_pyfunc_call`` itself (torsion-core's own tests, for example).
"""

from __future__ import annotations

import inspect
import sys
import threading
from collections.abc import Callable, Generator
from typing import Any

import pytest

__all__ = ["reactor"]


@pytest.fixture(name="reactor")
def reactor() -> Any:
    """
    The global torsion reactor (the default one is installed on first use).
    Tests returning Deferreds or written ``async def`` are driven on it.
    """
    from torsion.trial._spin import getReactor

    return getReactor()


_ourFixture = reactor


def pytest_configure(config: pytest.Config) -> None:
    """
    Let trial test cases freeze what survives their garbage collection, so
    that each one's collection (which catches unhandled Deferred failures)
    examines only what that test allocated; without it every collection
    walks the whole pytest process. Nothing happens until a trial test runs.
    """
    from torsion.trial import util

    util.freezeSurvivorsAfterCollection(True)


def pytest_unconfigure(config: pytest.Config) -> None:
    """
    Give frozen objects back to the garbage collector.
    """
    import gc

    from torsion.trial import util

    util.freezeSurvivorsAfterCollection(False)
    if util.frozeSurvivors:
        util.frozeSurvivors = False
        gc.unfreeze()


_conftestHooks: dict[int, bool] = {}


def _otherConftestDrives(item: pytest.Function) -> bool:
    """
    Whether a ``conftest.py`` that applies to ``item`` implements
    ``pytest_pyfunc_call`` itself: then that conftest owns how its tests are
    called and this plugin stays out.
    """
    hook = item.ihook.pytest_pyfunc_call
    key = id(hook)
    cached = _conftestHooks.get(key)
    if cached is None:
        cached = False
        for impl in hook.get_hookimpls():
            filename = getattr(impl.plugin, "__file__", "") or ""
            if filename.endswith("conftest.py"):
                cached = True
                break
        _conftestHooks[key] = cached
    return cached


def _reactorOverridden(item: pytest.Function) -> bool:
    defs = item._fixtureinfo.name2fixturedefs.get("reactor")
    if not defs:
        return False
    return getattr(defs[-1].func, "__wrapped__", defs[-1].func) not in (
        _ourFixture,
        getattr(_ourFixture, "__wrapped__", None),
    ) and not getattr(defs[-1].func, "__module__", "").startswith("torsion.trial")


def _drive(
    item: pytest.Function,
    func: Callable[..., Any],
    result: Any,
    threadsBefore: list[threading.Thread],
    tracker: Any,
) -> None:
    """
    Wait for the Deferred or coroutine a test function returned, then check
    the reactor and the log, raising what went wrong.
    """
    from torsion.trial import util
    from torsion.trial._logcapture import LoggedErrorObserver
    from torsion.trial._spin import getReactor, waitForDeferred
    from torsion.trial.unittest import (
        _deferredFromAwaitable,
        _isDeferred,
        _timeoutErrorClass,
    )

    coro = result if inspect.iscoroutine(result) else None
    d = result if _isDeferred(result) else _deferredFromAwaitable(result)
    func = getattr(func, "__func__", func)
    timeout = float(
        util.acquireAttribute([func, sys.modules.get(func.__module__)], "timeout", None)
        or util.DEFAULT_TIMEOUT_DURATION
    )
    observer = LoggedErrorObserver()
    observer.start()
    try:
        r = getReactor()
        waited = waitForDeferred(r, d, timeout)
        describe = tracker.describe if tracker is not None else repr
        dirty = util.checkReactorClean(r, threadsBefore, describe)
        util.collectGarbage()
    finally:
        observer.stop()
    if not waited.finished:
        what = repr(d) + (f" (running {coro!r})" if coro is not None else "")
        raise _timeoutErrorClass()(
            f"{item.nodeid} timed out after {waited.elapsed:.3f} seconds "
            f"(timeout {timeout:g}), waiting on {what}"
        )
    failure = waited.result
    if hasattr(failure, "raiseException") and hasattr(failure, "check"):
        failure.raiseException()
    if dirty is not None:
        raise dirty
    if observer.errors:
        first = observer.errors[0]
        raise AssertionError(
            f"{len(observer.errors)} error(s) logged during {item.nodeid}; the first:\n"
            + str(first.getTraceback())
        )


def _wrap(
    item: pytest.Function, testfunction: Callable[..., Any]
) -> Callable[..., Any]:
    def callTest(**kwargs: Any) -> Any:
        threadsBefore = threading.enumerate()
        tracker = None
        # Only where the reactor is already in use: a plain test must not
        # install a reactor as a side effect of this plugin.
        if (
            inspect.iscoroutinefunction(testfunction)
            or "torsion.internet.reactor" in sys.modules
        ):
            from torsion.trial._spin import CallTracker, getReactor

            tracker = CallTracker(getReactor())
            tracker.install()
        try:
            result = testfunction(**kwargs)
            if result is None:
                return None
            from torsion.trial.unittest import _isDeferred

            if _isDeferred(result) or inspect.iscoroutine(result):
                _drive(item, testfunction, result, threadsBefore, tracker)
                return None
            return result
        finally:
            if tracker is not None:
                tracker.uninstall()

    return callTest


@pytest.hookimpl(wrapper=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> Generator[None, object, object]:
    """
    Let pytest call the test through a wrapper that drives a returned
    Deferred or coroutine on the torsion reactor.
    """
    original = pyfuncitem.obj
    if (
        not callable(original)
        or _otherConftestDrives(pyfuncitem)
        or _reactorOverridden(pyfuncitem)
        or not (
            inspect.iscoroutinefunction(original)
            or "torsion.internet.defer" in sys.modules
        )
    ):
        return (yield)
    pyfuncitem.obj = _wrap(pyfuncitem, original)
    try:
        return (yield)
    finally:
        pyfuncitem.obj = original
