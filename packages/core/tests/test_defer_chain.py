"""
Tests for Deferreds returned from callbacks, pausing, chaining,
cancellation and timeouts.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from torsion.internet.defer import (
    CancelledError,
    Deferred,
    TimeoutError,
    fail,
    succeed,
)
from torsion.internet.task import Clock
from torsion.python.failure import Failure


def results(d: Deferred[Any]) -> list[Any]:
    out: list[Any] = []
    d.addBoth(out.append)
    return out


# -- Deferreds returned from callbacks -------------------------------------------


def test_callback_returning_unfired_deferred_pauses_chain() -> None:
    inner: Deferred[str] = Deferred()
    outer: Deferred[None] = Deferred()
    chained = outer.addCallback(lambda _: inner)
    out = results(chained.addCallback(lambda r: r + "!"))
    outer.callback(None)
    assert out == []
    assert outer.paused
    assert "waiting on Deferred" in repr(outer)
    inner.callback("inner")
    assert out == ["inner!"]
    assert not outer.paused
    assert inner.result is None


def test_callback_returning_fired_deferred_continues_at_once() -> None:
    outer: Deferred[None] = Deferred()
    outer.addCallback(lambda _: succeed(7))
    out = results(outer)
    outer.callback(None)
    assert out == [7]


def test_inner_failure_flows_into_outer_errbacks() -> None:
    inner: Deferred[int] = Deferred()
    outer: Deferred[None] = Deferred()
    outer.addCallback(lambda _: inner)
    out = results(outer)
    outer.callback(None)
    inner.errback(KeyError("inner"))
    assert isinstance(out[0], Failure) and out[0].type is KeyError


def test_errback_returning_deferred() -> None:
    outer: Deferred[int] = Deferred()
    outer.addErrback(lambda f: succeed("recovered"))
    out = results(outer)
    outer.errback(ValueError())
    assert out == ["recovered"]


def test_callback_returning_fired_failing_deferred() -> None:
    outer: Deferred[None] = Deferred()
    outer.addCallback(lambda _: fail(KeyError("k")))
    out = results(outer)
    outer.callback(None)
    assert out[0].type is KeyError


def test_callback_returning_its_own_deferred_fails() -> None:
    d: Deferred[Any] = Deferred()
    d.addCallback(lambda _: d)
    out = results(d)
    d.callback(None)
    assert isinstance(out[0], Failure) and out[0].type is TypeError


def test_nested_three_levels() -> None:
    a: Deferred[None] = Deferred()
    b: Deferred[None] = Deferred()
    c: Deferred[int] = Deferred()
    b.addCallback(lambda _: c)
    a.addCallback(lambda _: b)
    out = results(a)
    a.callback(None)
    b.callback(None)
    assert out == []
    c.callback(3)
    assert out == [3]


DEPTH = 100_000


def test_deep_chain_fired_in_order_no_recursion_error() -> None:
    ds: list[Deferred[Any]] = [Deferred() for _ in range(DEPTH)]
    for here, nxt in itertools.pairwise(ds):
        here.addCallback(lambda _, n: n, nxt)
    for d in ds[:-1]:
        d.callback(None)
    out = results(ds[0])
    ds[-1].callback("bottom")
    assert out == ["bottom"]


def test_deep_chain_fired_in_reverse_no_recursion_error() -> None:
    ds: list[Deferred[Any]] = [Deferred() for _ in range(DEPTH)]
    for here, nxt in itertools.pairwise(ds):
        here.addCallback(lambda _, n: n, nxt)
    ds[-1].addCallback(lambda _: "bottom")
    for d in reversed(ds[1:]):
        d.callback(None)
    out = results(ds[0])
    ds[0].callback(None)
    assert out == ["bottom"]


def test_deep_chain_failure_propagates() -> None:
    ds: list[Deferred[Any]] = [Deferred() for _ in range(DEPTH)]
    for here, nxt in itertools.pairwise(ds):
        here.addCallback(lambda _, n: n, nxt)
    for d in ds[:-1]:
        d.callback(None)
    out = results(ds[0])
    ds[-1].errback(ValueError("deep"))
    assert out[0].getErrorMessage() == "deep"


def test_deep_chain_of_waiting_outers() -> None:
    # Each Deferred is returned by a callback on the previous one *before*
    # either has fired.
    ds: list[Deferred[Any]] = [Deferred() for _ in range(DEPTH)]
    for here, nxt in itertools.pairwise(ds):
        here.addCallback(lambda _, n: n, nxt)
    ds[0].callback(None)
    for d in ds[1:-1]:
        d.callback(None)
    out = results(ds[0])
    ds[-1].callback(1)
    assert out == [1]


def test_callbacks_added_to_inner_after_chaining_run() -> None:
    inner: Deferred[int] = Deferred()
    outer: Deferred[None] = Deferred()
    outer.addCallback(lambda _: inner)
    outer.callback(None)
    out = results(outer)
    inner.callback(5)
    assert out == [5]
    # the inner's result was handed on
    assert results(inner) == [None]


# -- pause / unpause ----------------------------------------------------------------


def test_pause_and_unpause() -> None:
    d: Deferred[int] = Deferred()
    d.pause()
    out = results(d)
    d.callback(1)
    assert out == []
    d.pause()
    d.unpause()
    assert out == []
    d.unpause()
    assert out == [1]


def test_unpause_before_firing() -> None:
    d: Deferred[int] = Deferred()
    d.pause()
    d.unpause()
    out = results(d)
    d.callback(2)
    assert out == [2]


# -- chainDeferred ----------------------------------------------------------------


def test_chain_deferred_result() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    a.chainDeferred(b)
    out = results(b)
    a.callback(4)
    assert out == [4]
    assert a.result is None


def test_chain_deferred_failure() -> None:
    a: Deferred[int] = Deferred()
    b: Deferred[int] = Deferred()
    a.chainDeferred(b)
    out = results(b)
    a.errback(KeyError())
    assert out[0].type is KeyError
    assert a.result is None


# -- cancellation ----------------------------------------------------------------


def test_cancel_without_canceller() -> None:
    d: Deferred[int] = Deferred()
    out = results(d)
    d.cancel()
    assert out[0].type is CancelledError
    # the operation finishing later is silently ignored, once
    d.callback(1)
    assert len(out) == 1


def test_cancel_with_canceller_that_does_not_fire() -> None:
    cancelled: list[Deferred[Any]] = []
    d: Deferred[int] = Deferred(cancelled.append)
    out = results(d)
    d.cancel()
    assert cancelled == [d]
    assert out[0].type is CancelledError


def test_cancel_with_canceller_that_fires() -> None:
    d: Deferred[str] = Deferred(lambda d: d.callback("instead"))
    out = results(d)
    d.cancel()
    assert out == ["instead"]


def test_cancel_fired_deferred_does_nothing() -> None:
    d: Deferred[int] = succeed(1)
    d.cancel()
    assert d.result == 1


def test_cancel_twice() -> None:
    d: Deferred[int] = Deferred()
    out = results(d)
    d.cancel()
    d.cancel()
    assert len(out) == 1


def test_cancel_outer_cancels_inner() -> None:
    innerCancelled: list[bool] = []
    inner: Deferred[int] = Deferred(lambda d: innerCancelled.append(True))
    outer: Deferred[None] = Deferred()
    outer.addCallback(lambda _: inner)
    out = results(outer)
    outer.callback(None)
    outer.cancel()
    assert innerCancelled == [True]
    assert out[0].type is CancelledError


# -- addTimeout --------------------------------------------------------------------


def test_timeout_fires() -> None:
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(10, clock)
    out = results(d)
    clock.advance(9)
    assert out == []
    clock.advance(1)
    assert isinstance(out[0], Failure)
    assert out[0].type is TimeoutError
    assert out[0].value.args == (10, "Deferred")


def test_timeout_not_reached() -> None:
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(10, clock)
    out = results(d)
    d.callback(3)
    assert out == [3]
    assert clock.getDelayedCalls() == []
    clock.advance(20)
    assert out == [3]


def test_timeout_not_reached_failure_passes() -> None:
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(10, clock)
    out = results(d)
    d.errback(CancelledError())
    # a CancelledError not caused by the timeout is left alone
    assert out[0].type is CancelledError
    assert clock.getDelayedCalls() == []


def test_timeout_calls_canceller() -> None:
    clock = Clock()
    stopped: list[bool] = []
    d: Deferred[int] = Deferred(lambda d: stopped.append(True))
    d.addTimeout(1, clock)
    out = results(d)
    clock.advance(1)
    assert stopped == [True]
    assert out[0].type is TimeoutError


def test_timeout_canceller_fires_with_value() -> None:
    clock = Clock()
    d: Deferred[str] = Deferred(lambda d: d.callback("partial"))
    d.addTimeout(1, clock)
    out = results(d)
    clock.advance(1)
    assert out == ["partial"]


def test_timeout_custom_on_timeout_cancel() -> None:
    clock = Clock()
    seen: list[Any] = []

    def onTimeout(result: Any, timeout: float) -> str:
        seen.append((type(result), timeout))
        return "timed out nicely"

    d: Deferred[str] = Deferred()
    d.addTimeout(5, clock, onTimeoutCancel=onTimeout)
    out = results(d)
    clock.advance(5)
    assert out == ["timed out nicely"]
    assert seen == [(Failure, 5)]


def test_timeout_error_is_catchable_in_errback() -> None:
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(1, clock)
    d.addErrback(lambda f: f.trap(TimeoutError) and "handled")
    out = results(d)
    clock.advance(1)
    assert out == ["handled"]


def test_timeout_returns_self() -> None:
    d: Deferred[int] = Deferred()
    assert d.addTimeout(1, Clock()) is d
    d.callback(1)


def test_cancel_propagates_through_timeout() -> None:
    clock = Clock()
    d: Deferred[int] = Deferred()
    d.addTimeout(5, clock)
    out = results(d)
    d.cancel()
    assert out[0].type is CancelledError
    assert clock.getDelayedCalls() == []


@pytest.mark.parametrize("bad", [1, "x", None])
def test_add_timeout_needs_clock(bad: Any) -> None:
    with pytest.raises(AttributeError):
        Deferred().addTimeout(1, bad)


def _raiseDeep() -> None:
    raise ValueError("original site")


def test_failure_reraised_by_trap_keeps_original_frames() -> None:
    d: Deferred[None] = Deferred()
    d.addCallback(lambda _: _raiseDeep())
    d.callback(None)
    # The chain ended in a failure, which dropped its frames; an errback
    # added later that passes it on still reports where it came from.
    d.addErrback(lambda f: f.trap(KeyError))
    out = results(d)
    assert out[0].type is ValueError
    assert "_raiseDeep" in out[0].getTraceback()
