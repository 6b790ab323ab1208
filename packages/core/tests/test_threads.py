"""
Tests for ``torsion.internet.threads`` and the reactor's thread integration.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from reactormixins import runUntil

from torsion.internet import threads
from torsion.internet.defer import Deferred, fail, succeed
from torsion.python.threadpool import ThreadPool


@pytest.fixture
def pool() -> Iterator[ThreadPool]:
    tp = ThreadPool(0, 4, name="test-threads")
    tp.start()
    yield tp
    tp.stop()


def test_deferToThreadPoolResultInReactorThread(reactor: Any, pool: ThreadPool) -> None:
    reactorThread = threading.current_thread()
    ran: list[threading.Thread] = []
    calledBack: list[threading.Thread] = []

    def work(a: int, b: int = 0) -> int:
        ran.append(threading.current_thread())
        return a + b

    d = threads.deferToThreadPool(reactor, pool, work, 40, b=2)

    def check(result: int) -> int:
        calledBack.append(threading.current_thread())
        return result

    d.addCallback(check)
    assert runUntil(reactor, d) == 42
    assert ran[0] is not reactorThread
    assert calledBack == [reactorThread]


def test_deferToThreadPoolFailure(reactor: Any, pool: ThreadPool) -> None:
    reactorThread = threading.current_thread()
    erredIn: list[threading.Thread] = []

    def work() -> None:
        raise KeyError("in a thread")

    d = threads.deferToThreadPool(reactor, pool, work)

    def record(failure: Any) -> Any:
        erredIn.append(threading.current_thread())
        return failure

    d.addErrback(record)
    with pytest.raises(KeyError, match="in a thread"):
        runUntil(reactor, d)
    assert erredIn == [reactorThread]


def test_deferToThreadUsesGlobalReactor(reactor: Any, monkeypatch: Any) -> None:
    monkeypatch.setitem(sys.modules, "torsion.internet.reactor", reactor)
    reactorThread = threading.current_thread()
    workers: list[threading.Thread] = []

    def work() -> str:
        workers.append(threading.current_thread())
        return "done"

    assert runUntil(reactor, threads.deferToThread(work)) == "done"
    assert workers[0] is not reactorThread
    assert workers[0] in reactor.getThreadPool().threads


def test_reactorCallInThreadAndCallFromThread(reactor: Any) -> None:
    reactorThread = threading.current_thread()
    d: Deferred[tuple[threading.Thread, threading.Thread]] = Deferred()

    def inThread() -> None:
        worker = threading.current_thread()
        reactor.callFromThread(lambda: d.callback((worker, threading.current_thread())))

    reactor.callInThread(inThread)
    worker, backIn = runUntil(reactor, d)
    assert worker is not reactorThread
    assert backIn is reactorThread


def _inPool(reactor: Any, pool: ThreadPool, f: Any) -> Any:
    return runUntil(reactor, threads.deferToThreadPool(reactor, pool, f))


def test_blockingCallFromThreadPlainResult(reactor: Any, pool: ThreadPool) -> None:
    reactorThread = threading.current_thread()
    ranIn: list[threading.Thread] = []

    def inReactor(x: int) -> int:
        ranIn.append(threading.current_thread())
        return x * 3

    result = _inPool(
        reactor, pool, lambda: threads.blockingCallFromThread(reactor, inReactor, 5)
    )
    assert result == 15
    assert ranIn == [reactorThread]


def test_blockingCallFromThreadWaitsForDeferred(reactor: Any, pool: ThreadPool) -> None:
    def inReactor() -> Deferred[str]:
        d: Deferred[str] = Deferred()
        reactor.callLater(0.01, d.callback, "later")
        return d

    result = _inPool(
        reactor, pool, lambda: threads.blockingCallFromThread(reactor, inReactor)
    )
    assert result == "later"


def test_blockingCallFromThreadFiredDeferred(reactor: Any, pool: ThreadPool) -> None:
    result = _inPool(
        reactor,
        pool,
        lambda: threads.blockingCallFromThread(reactor, succeed, "now"),
    )
    assert result == "now"


def test_blockingCallFromThreadReraisesException(
    reactor: Any, pool: ThreadPool
) -> None:
    def inReactor() -> None:
        raise ValueError("raised in the reactor thread")

    def worker() -> str:
        try:
            threads.blockingCallFromThread(reactor, inReactor)
        except ValueError as e:
            return f"caught {e}"
        return "not raised"

    assert _inPool(reactor, pool, worker) == "caught raised in the reactor thread"


def test_blockingCallFromThreadReraisesFailedDeferred(
    reactor: Any, pool: ThreadPool
) -> None:
    def worker() -> str:
        try:
            threads.blockingCallFromThread(reactor, fail, ZeroDivisionError("dz"))
        except ZeroDivisionError as e:
            return f"caught {e}"
        return "not raised"

    assert _inPool(reactor, pool, worker) == "caught dz"


def test_callMultipleInThread(reactor: Any) -> None:
    calls: list[tuple[str, threading.Thread]] = []
    done: Deferred[None] = Deferred()

    def record(name: str, *, suffix: str = "") -> None:
        calls.append((name + suffix, threading.current_thread()))

    threads.callMultipleInThread(
        [
            (record, ("a",), {}),
            (record, ("b",), {"suffix": "!"}),
            (reactor.callFromThread, (done.callback, None), {}),
        ],
        reactor,
    )
    runUntil(reactor, done)
    assert [name for name, _ in calls] == ["a", "b!"]
    assert calls[0][1] is calls[1][1]
    assert calls[0][1] is not threading.current_thread()


def test_suggestThreadPoolSize(reactor: Any) -> None:
    reactor.suggestThreadPoolSize(3)
    assert reactor.getThreadPool().max == 3


def test_blockingCallFromThreadInReactorThreadRefused(reactor: Any) -> None:
    d: Deferred[str] = Deferred()

    def inReactor() -> None:
        try:
            threads.blockingCallFromThread(reactor, lambda: None)
        except RuntimeError as e:
            d.callback(str(e))

    reactor.callLater(0, inReactor)
    assert "reactor thread" in runUntil(reactor, d)
