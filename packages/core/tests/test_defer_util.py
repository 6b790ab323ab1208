"""
Tests for DeferredList, gatherResults, race, DeferredLock,
DeferredSemaphore and DeferredQueue.
"""

from __future__ import annotations

from typing import Any

import pytest

from torsion.internet.defer import (
    CancelledError,
    Deferred,
    DeferredList,
    DeferredLock,
    DeferredQueue,
    DeferredSemaphore,
    FailureGroup,
    FirstError,
    QueueOverflow,
    QueueUnderflow,
    ensureDeferred,
    fail,
    gatherResults,
    race,
    succeed,
)
from torsion.python.failure import Failure


def results(d: Deferred[Any]) -> list[Any]:
    out: list[Any] = []
    d.addBoth(out.append)
    return out


# -- DeferredList --------------------------------------------------------------------


def test_deferred_list_all_results_in_order() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    out = results(DeferredList([a, b]))
    b.callback(2)
    assert out == []
    a.callback(1)
    assert out == [[(True, 1), (True, 2)]]


def test_deferred_list_with_failure() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    out = results(DeferredList([a, b]))
    a.errback(KeyError("a"))
    b.callback(2)
    [[(ok1, f), (ok2, v)]] = out
    assert not ok1 and isinstance(f, Failure) and f.type is KeyError
    assert ok2 and v == 2
    # not consumed: the original still carries its failure
    assert isinstance(results(a)[0], Failure)


def test_deferred_list_consume_errors() -> None:
    a: Deferred[int] = Deferred()
    dl = DeferredList([a], consumeErrors=True)
    a.errback(KeyError("a"))
    assert results(a) == [None]
    assert results(dl)[0][0][0] is False


def test_deferred_list_empty() -> None:
    assert results(DeferredList([])) == [[]]


def test_deferred_list_empty_fire_on_one_callback_never_fires() -> None:
    dl = DeferredList([], fireOnOneCallback=True)
    assert not dl.called


def test_deferred_list_fire_on_one_callback() -> None:
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    out = results(DeferredList([a, b], fireOnOneCallback=True))
    b.callback("second")
    assert out == [("second", 1)]
    a.callback("first")
    assert len(out) == 1


def test_deferred_list_fire_on_one_errback() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    out = results(DeferredList([a, b], fireOnOneErrback=True, consumeErrors=True))
    b.errback(ValueError("b"))
    assert out[0].type is FirstError
    err = out[0].value
    assert err.index == 1 and err.subFailure.type is ValueError
    assert "FirstError[#1" in repr(err) and "FirstError[#1" in str(err)
    a.callback(1)
    assert len(out) == 1


def test_deferred_list_already_fired() -> None:
    out = results(DeferredList([succeed(1), succeed(2)]))
    assert out == [[(True, 1), (True, 2)]]


def test_deferred_list_cancel_cancels_members() -> None:
    cancelled: list[int] = []
    a: Deferred[int] = Deferred(lambda d: cancelled.append(1))
    b: Deferred[int] = Deferred(lambda d: cancelled.append(2))
    dl = DeferredList([a, b], consumeErrors=True)
    out = results(dl)
    dl.cancel()
    assert cancelled == [1, 2]
    [pairs] = out
    assert [ok for ok, _ in pairs] == [False, False]
    assert all(f.type is CancelledError for _, f in pairs)


def test_deferred_list_counts() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    dl = DeferredList([a, b])
    a.callback(1)
    assert dl.finishedCount == 1
    assert dl.resultList == [(True, 1), None]
    b.callback(2)


# -- gatherResults ---------------------------------------------------------------------


def test_gather_results() -> None:
    a: Deferred[int] = Deferred()
    out = results(gatherResults([a, succeed(2)]))
    a.callback(1)
    assert out == [[1, 2]]


def test_gather_results_failure() -> None:
    a: Deferred[int] = Deferred()
    out = results(gatherResults([a, fail(KeyError("g"))], consumeErrors=True))
    assert out[0].type is FirstError
    assert out[0].value.subFailure.type is KeyError
    a.callback(1)


def test_gather_results_empty() -> None:
    assert results(gatherResults([])) == [[]]


# -- race ------------------------------------------------------------------------------


def test_race_first_success_wins_and_cancels_others() -> None:
    cancelled: list[str] = []
    a: Deferred[str] = Deferred(lambda d: cancelled.append("a"))
    b: Deferred[str] = Deferred(lambda d: cancelled.append("b"))
    c: Deferred[str] = Deferred(lambda d: cancelled.append("c"))
    out = results(race([a, b, c]))
    b.callback("bee")
    assert out == [(1, "bee")]
    assert cancelled == ["a", "c"]


def test_race_failures_ignored_until_all_fail() -> None:
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    out = results(race([a, b]))
    a.errback(KeyError("a"))
    assert out == []
    b.callback("b wins")
    assert out == [(1, "b wins")]


def test_race_all_fail() -> None:
    a: Deferred[str] = Deferred()
    b: Deferred[str] = Deferred()
    out = results(race([a, b]))
    a.errback(KeyError("a"))
    b.errback(ValueError("b"))
    assert out[0].type is FailureGroup
    assert [f.type for f in out[0].value.failures] == [KeyError, ValueError]


def test_race_empty() -> None:
    out = results(race([]))
    assert out[0].type is FailureGroup


def test_race_cancel_cancels_all() -> None:
    cancelled: list[str] = []
    a: Deferred[str] = Deferred(lambda d: cancelled.append("a"))
    b: Deferred[str] = Deferred(lambda d: cancelled.append("b"))
    r = race([a, b])
    out = results(r)
    r.cancel()
    assert cancelled == ["a", "b"]
    assert out[0].type is CancelledError


def test_race_already_fired() -> None:
    assert results(race([succeed(1), Deferred()])) == [(0, 1)]


# -- DeferredLock ----------------------------------------------------------------------


def test_lock_acquire_release() -> None:
    lock = DeferredLock()
    first = results(lock.acquire())
    assert first == [lock] and lock.locked
    second = results(lock.acquire())
    assert second == []
    lock.release()
    assert second == [lock] and lock.locked
    lock.release()
    assert not lock.locked


def test_lock_release_unlocked() -> None:
    with pytest.raises(AssertionError):
        DeferredLock().release()


def test_lock_cancel_waiting_acquire() -> None:
    lock = DeferredLock()
    lock.acquire()
    waiting = lock.acquire()
    out = results(waiting)
    waiting.cancel()
    assert out[0].type is CancelledError
    assert lock.waiting == []
    lock.release()
    assert not lock.locked


def test_lock_run() -> None:
    lock = DeferredLock()
    gate: Deferred[str] = Deferred()
    out1 = results(lock.run(lambda: gate))
    order: list[str] = []

    def second(x: str) -> str:
        order.append(x)
        return x

    out2 = results(lock.run(second, "second"))
    assert order == [] and lock.locked
    gate.callback("first")
    assert out1 == ["first"] and out2 == ["second"]
    assert not lock.locked


def test_lock_run_releases_on_error() -> None:
    lock = DeferredLock()

    def boom() -> None:
        raise KeyError("x")

    out = results(lock.run(boom))
    assert out[0].type is KeyError
    assert not lock.locked


def test_lock_async_with() -> None:
    lock = DeferredLock()
    inside: list[bool] = []

    async def user() -> None:
        async with lock:
            inside.append(lock.locked)

    lock.acquire()
    d = ensureDeferred(user())
    assert inside == []
    lock.release()
    assert inside == [True]
    assert results(d) == [None]
    assert not lock.locked


def test_lock_async_with_releases_on_exception() -> None:
    lock = DeferredLock()

    async def user() -> None:
        async with lock:
            raise ValueError("in block")

    out = results(ensureDeferred(user()))
    assert out[0].type is ValueError
    assert not lock.locked


# -- DeferredSemaphore ----------------------------------------------------------------


def test_semaphore_tokens() -> None:
    sem = DeferredSemaphore(2)
    a = results(sem.acquire())
    b = results(sem.acquire())
    c = results(sem.acquire())
    assert a == [sem] and b == [sem] and c == []
    assert sem.tokens == 0
    sem.release()
    assert c == [sem]
    sem.release()
    sem.release()
    assert sem.tokens == 2


def test_semaphore_bad_tokens() -> None:
    with pytest.raises(ValueError):
        DeferredSemaphore(0)


def test_semaphore_over_release() -> None:
    with pytest.raises(AssertionError):
        DeferredSemaphore(1).release()


def test_semaphore_run_limits_concurrency() -> None:
    sem = DeferredSemaphore(2)
    gates: list[Deferred[int]] = [Deferred() for _ in range(4)]
    running: list[int] = []

    def job(i: int) -> Deferred[int]:
        running.append(i)
        return gates[i]

    outs = [results(sem.run(job, i)) for i in range(4)]
    assert running == [0, 1]
    gates[0].callback(0)
    assert running == [0, 1, 2]
    for i in (1, 2, 3):
        gates[i].callback(i)
    assert outs == [[0], [1], [2], [3]]
    assert sem.tokens == 2


def test_semaphore_cancel_waiting() -> None:
    sem = DeferredSemaphore(1)
    sem.acquire()
    w = sem.acquire()
    w.cancel()
    assert sem.waiting == []
    results(w)


def test_semaphore_async_with() -> None:
    sem = DeferredSemaphore(1)

    async def user() -> int:
        async with sem:
            return sem.tokens

    assert results(ensureDeferred(user())) == [0]
    assert sem.tokens == 1


# -- DeferredQueue --------------------------------------------------------------------


def test_queue_put_then_get() -> None:
    q: DeferredQueue[int] = DeferredQueue()
    q.put(1)
    q.put(2)
    assert results(q.get()) == [1]
    assert results(q.get()) == [2]


def test_queue_get_then_put() -> None:
    q: DeferredQueue[str] = DeferredQueue()
    a = results(q.get())
    b = results(q.get())
    q.put("x")
    assert a == ["x"] and b == []
    q.put("y")
    assert b == ["y"]


def test_queue_size_boundary() -> None:
    q: DeferredQueue[int] = DeferredQueue(size=2)
    q.put(1)
    q.put(2)
    with pytest.raises(QueueOverflow):
        q.put(3)
    assert q.pending == [1, 2]


def test_queue_size_zero() -> None:
    q: DeferredQueue[int] = DeferredQueue(size=0)
    with pytest.raises(QueueOverflow):
        q.put(1)
    d = q.get()
    q.put(1)  # a waiting getter takes it directly
    assert results(d) == [1]


def test_queue_backlog_boundary() -> None:
    q: DeferredQueue[int] = DeferredQueue(backlog=1)
    q.get()
    with pytest.raises(QueueUnderflow):
        q.get()
    assert len(q.waiting) == 1


def test_queue_cancel_get() -> None:
    q: DeferredQueue[int] = DeferredQueue(backlog=1)
    d = q.get()
    d.cancel()
    assert q.waiting == []
    results(d)
    q.get()  # room again
    q.put(5)
