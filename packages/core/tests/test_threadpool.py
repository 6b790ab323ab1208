"""
Tests for ``torsion.python.threadpool`` and ``torsion.python.context``.
"""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import pytest

from torsion.python import context
from torsion.python.threadpool import ThreadPool

# Generous bound for waiting on an Event set by a worker: it only guards
# against a hang, it does not time anything.
_WAIT = 30


@pytest.fixture
def pool() -> Any:
    tp = ThreadPool(0, 4, name="test")
    yield tp
    tp.stop()


def _waitAll(events: list[threading.Event]) -> None:
    for event in events:
        assert event.wait(_WAIT), "a worker never ran"


def test_defaults() -> None:
    tp = ThreadPool()
    assert (tp.min, tp.max) == (5, 20)
    assert not tp.started
    assert tp.workers == 0


@pytest.mark.parametrize(
    ("minthreads", "maxthreads"), [(-1, 5), (0, 0), (6, 5), (3, -2)]
)
def test_invalidSizes(minthreads: int, maxthreads: int) -> None:
    with pytest.raises(ValueError):
        ThreadPool(minthreads, maxthreads)


def test_boundarySizes() -> None:
    tp = ThreadPool(0, 1)
    assert (tp.min, tp.max) == (0, 1)
    tp = ThreadPool(3, 3)
    assert (tp.min, tp.max) == (3, 3)


def test_startCreatesMinThreads() -> None:
    tp = ThreadPool(3, 5)
    tp.start()
    try:
        assert tp.started
        assert tp.workers == 3
        assert all(t.name.startswith("PoolThread-") for t in tp.threads)
    finally:
        tp.stop()
    assert tp.joined
    assert tp.workers == 0
    assert tp.threads == []


def test_workQueuedBeforeStartRunsAfterStart(pool: ThreadPool) -> None:
    done = threading.Event()
    ran: list[str] = []

    def work() -> None:
        ran.append(threading.current_thread().name)
        done.set()

    pool.callInThread(work)
    assert ran == []
    pool.start()
    _waitAll([done])
    assert ran and ran[0] != threading.current_thread().name


def test_runsInAnotherThreadWithArguments(pool: ThreadPool) -> None:
    pool.start()
    results: list[Any] = []
    done = threading.Event()

    def work(a: int, b: int, *, c: int) -> None:
        results.append((a, b, c, threading.get_ident()))
        done.set()

    pool.callInThread(work, 1, 2, c=3)
    _waitAll([done])
    a, b, c, ident = results[0]
    assert (a, b, c) == (1, 2, 3)
    assert ident != threading.get_ident()


def test_callInThreadWithCallbackSuccess(pool: ThreadPool) -> None:
    pool.start()
    got: list[tuple[bool, Any]] = []
    done = threading.Event()

    def onResult(success: bool, result: Any) -> None:
        got.append((success, result))
        done.set()

    pool.callInThreadWithCallback(onResult, lambda x: x * 2, 21)
    _waitAll([done])
    assert got == [(True, 42)]


def test_callInThreadWithCallbackFailure(pool: ThreadPool) -> None:
    pool.start()
    got: list[tuple[bool, Any]] = []
    done = threading.Event()

    def onResult(success: bool, result: Any) -> None:
        got.append((success, result))
        done.set()

    def boom() -> None:
        raise ZeroDivisionError("nope")

    pool.callInThreadWithCallback(onResult, boom)
    _waitAll([done])
    [(success, failure)] = got
    assert success is False
    exc = getattr(failure, "value", failure)
    assert isinstance(exc, ZeroDivisionError)


@pytest.fixture
def logged() -> Any:
    from torsion.logger import globalLogPublisher

    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    yield events
    globalLogPublisher.removeObserver(events.append)


def test_raisingWorkDoesNotKillThePool(logged: list[dict[str, Any]]) -> None:
    tp = ThreadPool(1, 1)
    tp.start()
    try:
        done = threading.Event()
        idents: list[int] = []

        def boom() -> None:
            idents.append(threading.get_ident())
            raise RuntimeError("worker error")

        def fine() -> None:
            idents.append(threading.get_ident())
            done.set()

        tp.callInThread(boom)
        tp.callInThread(fine)
        _waitAll([done])
        # The same single worker survived the exception and ran the next item.
        assert len(idents) == 2
        assert idents[0] == idents[1]
        assert tp.workers == 1
    finally:
        tp.stop()
    errors = [e for e in logged if "log_failure" in e]
    assert len(errors) == 1
    assert isinstance(errors[0]["log_failure"].value, RuntimeError)


def test_raisingResultCallbackDoesNotKillThePool(
    logged: list[dict[str, Any]],
) -> None:
    tp = ThreadPool(1, 1)
    tp.start()
    try:
        done = threading.Event()

        def badCallback(success: bool, result: Any) -> None:
            raise ValueError("callback error")

        tp.callInThreadWithCallback(badCallback, lambda: 1)
        tp.callInThread(done.set)
        _waitAll([done])
    finally:
        tp.stop()
    errors = [e["log_failure"].value for e in logged if "log_failure" in e]
    assert [type(e) for e in errors] == [ValueError]


def test_growsOnDemandUpToMax() -> None:
    tp = ThreadPool(0, 3)
    tp.start()
    release = threading.Event()
    entered = [threading.Event() for _ in range(3)]
    try:
        assert tp.workers == 0
        for event in entered:

            def block(event: threading.Event = event) -> None:
                event.set()
                release.wait(_WAIT)

            tp.callInThread(block)
        # All three block at once, so three threads must exist.
        _waitAll(entered)
        assert tp.workers == 3
        extra = threading.Event()
        tp.callInThread(extra.set)
        # No fourth thread: max is 3, the extra item waits in the queue.
        assert tp.workers == 3
        assert not extra.is_set()
        release.set()
        _waitAll([extra])
    finally:
        release.set()
        tp.stop()


def test_adjustPoolsize() -> None:
    tp = ThreadPool(1, 2)
    tp.start()
    try:
        tp.adjustPoolsize(minthreads=4, maxthreads=6)
        assert (tp.min, tp.max) == (4, 6)
        assert tp.workers == 4
        tp.adjustPoolsize(maxthreads=4)
        assert tp.max == 4
        with pytest.raises(ValueError):
            tp.adjustPoolsize(minthreads=5)
        with pytest.raises(ValueError):
            tp.adjustPoolsize(minthreads=-1)
        assert (tp.min, tp.max) == (4, 4)
    finally:
        tp.stop()
    assert tp.workers == 0


def test_adjustPoolsizeShrinks() -> None:
    tp = ThreadPool(4, 4)
    tp.start()
    try:
        threads = list(tp.threads)
        tp.adjustPoolsize(minthreads=1, maxthreads=1)
        done = threading.Event()
        ran: list[threading.Thread] = []

        def work() -> None:
            ran.append(threading.current_thread())
            done.set()

        # The retirement markers are queued ahead of this item, so by the time
        # it runs the three other workers have taken theirs and are exiting.
        tp.callInThread(work)
        _waitAll([done])
        for thread in threads:
            if thread is not ran[0]:
                thread.join()
        assert tp.workers == 1
        assert tp.threads == ran
    finally:
        tp.stop()


def test_adjustBeforeStart() -> None:
    tp = ThreadPool(0, 1)
    tp.adjustPoolsize(2, 3)
    assert tp.workers == 0
    tp.start()
    try:
        assert tp.workers == 2
    finally:
        tp.stop()


def test_stopRunsQueuedWorkThenJoins() -> None:
    tp = ThreadPool(1, 1)
    ran: list[int] = []
    for i in range(50):
        tp.callInThread(ran.append, i)
    tp.start()
    tp.stop()
    assert ran == list(range(50))
    assert all(not t.is_alive() for t in tp.threads)
    assert tp.workers == 0


def test_workAfterStopIsDropped() -> None:
    tp = ThreadPool(1, 1)
    tp.start()
    tp.stop()
    ran: list[int] = []
    tp.callInThread(ran.append, 1)
    assert tp.workers == 0
    assert ran == []


def test_restartAfterStop() -> None:
    tp = ThreadPool(2, 2)
    tp.start()
    tp.stop()
    tp.start()
    try:
        assert tp.workers == 2
        done = threading.Event()
        tp.callInThread(done.set)
        _waitAll([done])
    finally:
        tp.stop()


def test_nonCallableRejected(pool: ThreadPool) -> None:
    with pytest.raises(TypeError):
        pool.callInThread("not callable")  # type: ignore[arg-type]


def test_contextVarsAndContextPropagate(pool: ThreadPool) -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    var.set("caller")
    seen: list[Any] = []
    done = threading.Event()

    def work() -> None:
        seen.append((var.get(), context.get("key")))
        done.set()

    context.call({"key": "value"}, pool.callInThread, work)
    pool.start()
    _waitAll([done])
    assert seen == [("caller", "value")]


def test_dumpStats(pool: ThreadPool, logged: list[dict[str, Any]]) -> None:
    pool.start()
    pool.dumpStats()
    from torsion.logger import formatEvent

    [text] = [formatEvent(e) for e in logged]
    assert "'test'" in text and "max=4" in text


def test_contextCallAndGet() -> None:
    assert context.get("a") is None
    assert context.get("a", 5) == 5

    def inner() -> Any:
        return (context.get("a"), context.get("b"))

    def outer() -> Any:
        return context.call({"b": 2}, inner)

    assert context.call({"a": 1}, outer) == (1, 2)
    assert context.call({"a": 1}, lambda: context.call({"a": 3}, inner)) == (3, None)
    assert context.get("a") is None


def test_contextIsPerThread() -> None:
    seen: list[Any] = []

    def other() -> None:
        seen.append(context.get("a"))

    def inMain() -> None:
        thread = threading.Thread(target=other)
        thread.start()
        thread.join()

    context.call({"a": 1}, inMain)
    assert seen == [None]


def test_contextRestoredAfterException() -> None:
    def boom() -> None:
        raise KeyError("x")

    with pytest.raises(KeyError):
        context.call({"a": 1}, boom)
    assert context.get("a") is None
