"""
Tests for the basic callback/errback machinery of ``torsion.internet.defer``.
"""

from __future__ import annotations

from typing import Any, cast

import pytest

from torsion.internet import defer
from torsion.internet.defer import (
    AlreadyCalledError,
    Deferred,
    fail,
    maybeDeferred,
    succeed,
)
from torsion.python.failure import Failure


def results(d: Deferred[Any]) -> list[Any]:
    out: list[Any] = []
    d.addBoth(out.append)
    return out


def test_callback_runs_with_result() -> None:
    d: Deferred[int] = Deferred()
    out = results(d)
    assert out == []
    d.callback(3)
    assert out == [3]
    assert d.called


def test_chain_passes_results_along() -> None:
    d: Deferred[int] = Deferred()
    d.addCallback(lambda x: x + 1).addCallback(lambda x: x * 10)
    out = results(d)
    d.callback(1)
    assert out == [20]


def test_extra_args_and_kwargs() -> None:
    d: Deferred[int] = Deferred()
    seen: list[Any] = []

    def cb(result: int, a: int, *, b: int) -> int:
        seen.append((result, a, b))
        return result

    def eb(f: Failure, a: int, *, b: int) -> None:
        seen.append((f.type, a, b))

    d.addCallback(cb, 1, b=2)
    d.addCallback(lambda r: 1 / 0)
    d.addErrback(eb, 3, b=4)
    d.callback(0)
    assert seen == [(0, 1, 2), (ZeroDivisionError, 3, 4)]


def test_add_callbacks_args() -> None:
    d: Deferred[int] = Deferred()
    seen: list[Any] = []
    d.addCallbacks(
        lambda r, a, b: seen.append((r, a, b)),
        lambda f: seen.append("eb"),
        callbackArgs=(1,),
        callbackKeywords={"b": 2},
    )
    d.callback(0)
    assert seen == [(0, 1, 2)]


def test_add_callbacks_errback_args() -> None:
    d: Deferred[int] = Deferred()
    seen: list[Any] = []
    d.addCallbacks(
        lambda r: seen.append("cb"),
        lambda f, a, b: seen.append((f.type, a, b)),
        errbackArgs=(1,),
        errbackKeywords={"b": 2},
    )
    d.errback(ValueError())
    assert seen == [(ValueError, 1, 2)]


def test_add_callbacks_errback_does_not_see_callback_error() -> None:
    d: Deferred[int] = Deferred()
    seen: list[Any] = []

    def boom(r: object) -> None:
        raise KeyError("cb")

    d.addCallbacks(boom, lambda f: seen.append("same-step errback"))
    d.addErrback(lambda f: seen.append(f.type))
    d.callback(0)
    assert seen == [KeyError]


def test_add_callbacks_without_errback_passes_failure() -> None:
    d: Deferred[int] = Deferred()
    d.addCallbacks(lambda r: "no")
    out = results(d)
    d.errback(ValueError("x"))
    assert isinstance(out[0], Failure)


def test_exception_switches_to_errback() -> None:
    d: Deferred[int] = Deferred()
    seen: list[Any] = []

    def boom(r: int) -> int:
        raise ValueError("bad")

    d.addCallback(boom)
    d.addCallback(lambda r: seen.append("skipped"))
    d.addErrback(lambda f: seen.append(f.getErrorMessage()))
    d.callback(1)
    assert seen == ["bad"]


def test_returning_failure_switches_to_errback() -> None:
    d: Deferred[int] = Deferred()
    d.addCallback(lambda r: Failure(KeyError("k")))
    out = results(d)
    d.callback(1)
    assert isinstance(out[0], Failure) and out[0].type is KeyError


def test_errback_value_switches_back() -> None:
    d: Deferred[int] = Deferred()
    d.addErrback(lambda f: "recovered")
    # The errback replaced the int result with a str.
    d.addCallback(lambda r: cast(str, r) + "!")
    out = results(d)
    d.errback(ValueError())
    assert out == ["recovered!"]


def test_errback_reraising_stays_on_error_path() -> None:
    d: Deferred[int] = Deferred()
    d.addErrback(lambda f: f.trap(KeyError))
    out = results(d)
    d.errback(ValueError("v"))
    assert isinstance(out[0], Failure) and out[0].type is ValueError


def test_errback_trap_recovers() -> None:
    d: Deferred[int] = Deferred()
    d.addErrback(lambda f: f.trap(ValueError) and "trapped")
    out = results(d)
    d.errback(ValueError("v"))
    assert out == ["trapped"]


def test_add_both_sees_both() -> None:
    seen: list[Any] = []
    d1: Deferred[int] = Deferred()
    d1.addBoth(seen.append)
    d1.callback(1)
    d2: Deferred[int] = Deferred()
    d2.addBoth(seen.append)
    d2.errback(KeyError())
    assert seen[0] == 1 and isinstance(seen[1], Failure)


def test_firing_before_adding_callbacks() -> None:
    d: Deferred[int] = Deferred()
    d.callback(5)
    assert d.result == 5
    assert results(d.addCallback(lambda x: x * 2)) == [10]


def test_callbacks_added_during_run_go_last() -> None:
    d: Deferred[int] = Deferred()
    order: list[str] = []

    def first(r: int) -> int:
        order.append("first")
        d.addCallback(lambda r: order.append("added-inside"))
        return r

    def second(r: int) -> int:
        order.append("second")
        return r

    d.addCallback(first)
    d.addCallback(second)
    d.callback(0)
    assert order == ["first", "second", "added-inside"]


def test_already_called() -> None:
    d: Deferred[int] = Deferred()
    d.callback(1)
    with pytest.raises(AlreadyCalledError):
        d.callback(2)
    with pytest.raises(AlreadyCalledError):
        d.errback(ValueError())


def test_errback_without_argument_captures_current_exception() -> None:
    d: Deferred[int] = Deferred()
    out = results(d)
    try:
        raise KeyError("current")
    except KeyError:
        d.errback()
    assert out[0].type is KeyError


def test_errback_with_exception_wraps_it() -> None:
    d: Deferred[int] = Deferred()
    out = results(d)
    exc = ValueError("w")
    d.errback(exc)
    assert out[0].value is exc


def test_succeed_and_fail() -> None:
    assert results(succeed("s")) == ["s"]
    f = results(fail(ValueError("f")))[0]
    assert isinstance(f, Failure) and f.getErrorMessage() == "f"
    exc = KeyError("k")
    assert results(fail(Failure(exc)))[0].value is exc


def test_fail_without_argument_uses_current_exception() -> None:
    try:
        raise KeyError("now")
    except KeyError:
        d = fail()
    assert results(d)[0].type is KeyError


def test_maybe_deferred_value() -> None:
    assert results(maybeDeferred(lambda a, b: a + b, 1, b=2)) == [3]


def test_maybe_deferred_exception() -> None:
    def boom() -> None:
        raise ValueError("mb")

    out = results(maybeDeferred(boom))
    assert out[0].type is ValueError


def test_maybe_deferred_returns_deferred_as_is() -> None:
    inner: Deferred[int] = Deferred()
    assert maybeDeferred(lambda: inner) is inner


def test_maybe_deferred_failure_result() -> None:
    out = results(maybeDeferred(lambda: Failure(KeyError("x"))))
    assert out[0].type is KeyError


def test_maybe_deferred_coroutine() -> None:
    async def coro(x: int) -> int:
        return x * 2

    assert results(maybeDeferred(coro, 4)) == [8]


def test_non_callable_callbacks_refused() -> None:
    d: Deferred[int] = Deferred()
    with pytest.raises(TypeError):
        d.addCallback(1)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        d.addErrback("x")  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        d.addBoth(None)  # type: ignore[call-overload]
    with pytest.raises(TypeError):
        d.addCallbacks(lambda r: r, 5)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        d.addCallbacks(5)  # type: ignore[arg-type]
    assert d.callbacks == []


def test_callback_with_deferred_refused() -> None:
    d: Deferred[Any] = Deferred()
    with pytest.raises(TypeError, match="Deferred"):
        d.callback(Deferred())
    assert not d.called


def test_module_exports() -> None:
    for name in defer.__all__:
        assert getattr(defer, name) is not None
