"""
Tests for awaiting Deferreds: ``ensureDeferred``, ``Deferred.fromCoroutine``,
``inlineCallbacks`` and the asyncio bridges.
"""

from __future__ import annotations

import asyncio
from collections.abc import Generator
from typing import Any

import pytest

from torsion.internet.defer import (
    CancelledError,
    Deferred,
    NotACoroutineError,
    ensureDeferred,
    fail,
    inlineCallbacks,
    returnValue,
    succeed,
)
from torsion.python.failure import Failure


def results(d: Deferred[Any]) -> list[Any]:
    out: list[Any] = []
    d.addBoth(out.append)
    return out


# -- async def ------------------------------------------------------------------


def test_ensure_deferred_plain_return() -> None:
    async def f() -> int:
        return 3

    assert results(ensureDeferred(f())) == [3]


def test_await_fired_and_pending() -> None:
    pending: Deferred[int] = Deferred()

    async def f() -> int:
        a = await succeed(1)
        b = await pending
        return a + b

    d = ensureDeferred(f())
    out = results(d)
    assert out == []
    pending.callback(2)
    assert out == [3]
    assert pending.result is None


def test_await_failure_raises_in_coroutine() -> None:
    async def f() -> str:
        try:
            await fail(KeyError("k"))
        except KeyError as e:
            return f"caught {e.args[0]}"
        return "not caught"

    assert results(ensureDeferred(f())) == ["caught k"]


def test_await_pending_failure() -> None:
    pending: Deferred[int] = Deferred()

    async def f() -> int:
        return await pending

    out = results(ensureDeferred(f()))
    pending.errback(ValueError("later"))
    assert out[0].type is ValueError


def test_coroutine_exception_fails_deferred() -> None:
    async def f() -> None:
        raise RuntimeError("inside")

    out = results(ensureDeferred(f()))
    assert out[0].type is RuntimeError
    assert out[0].getErrorMessage() == "inside"


def test_from_coroutine() -> None:
    async def f() -> str:
        return "fc"

    assert results(Deferred.fromCoroutine(f())) == ["fc"]


def test_from_coroutine_rejects_other() -> None:
    with pytest.raises(NotACoroutineError):
        Deferred.fromCoroutine(5)  # type: ignore[arg-type]


def test_ensure_deferred_passes_deferred_through() -> None:
    d: Deferred[int] = Deferred()
    assert ensureDeferred(d) is d


def test_ensure_deferred_rejects_other() -> None:
    with pytest.raises(NotACoroutineError):
        ensureDeferred(lambda: None)  # type: ignore[arg-type]


def test_await_nested_coroutines() -> None:
    gate: Deferred[int] = Deferred()

    async def inner() -> int:
        return (await gate) * 2

    async def outer() -> int:
        return (await ensureDeferred(inner())) + 1

    out = results(ensureDeferred(outer()))
    gate.callback(5)
    assert out == [11]


def test_awaiting_non_deferred_is_an_error() -> None:
    class Odd:
        def __await__(self) -> Generator[Any, None, None]:
            yield "not a deferred"

    async def f() -> None:
        await Odd()

    out = results(ensureDeferred(f()))
    assert out[0].type is TypeError
    assert "only Deferreds" in out[0].getErrorMessage()


def test_coroutine_returning_deferred() -> None:
    inner: Deferred[int] = Deferred()

    async def f() -> Any:
        return inner

    out = results(ensureDeferred(f()))
    inner.callback(9)
    assert out == [9]


def test_many_awaits_of_fired_deferreds_no_recursion() -> None:
    async def f() -> int:
        total = 0
        for i in range(20_000):
            total += await succeed(i)
        return total

    assert results(ensureDeferred(f())) == [sum(range(20_000))]


def test_many_awaits_of_pending_fired_synchronously() -> None:
    async def f() -> int:
        total = 0
        for i in range(5_000):
            d: Deferred[int] = Deferred()
            d.pause()
            d.callback(i)
            d.addCallback(lambda x: x)
            d.unpause()
            total += await d
        return total

    assert results(ensureDeferred(f())) == [sum(range(5_000))]


# -- cancellation ----------------------------------------------------------------


def test_cancel_propagates_into_awaited() -> None:
    innerCancelled: list[bool] = []
    inner: Deferred[int] = Deferred(lambda d: innerCancelled.append(True))
    seen: list[str] = []

    async def f() -> int:
        try:
            return await inner
        except CancelledError:
            seen.append("cancelled inside")
            raise

    d = ensureDeferred(f())
    out = results(d)
    d.cancel()
    assert innerCancelled == [True]
    assert seen == ["cancelled inside"]
    assert out[0].type is CancelledError


def test_cancel_swallowed_by_coroutine() -> None:
    inner: Deferred[int] = Deferred()
    later: Deferred[int] = Deferred()

    async def f() -> int:
        try:
            return await inner
        except CancelledError:
            return await later

    d = ensureDeferred(f())
    out = results(d)
    d.cancel()
    # The Deferred is failed even though the coroutine carries on ...
    assert out[0].type is CancelledError
    # ... and its eventual outcome is dropped quietly.
    later.callback(1)
    assert len(out) == 1


def test_cancel_finished_coroutine_does_nothing() -> None:
    async def f() -> int:
        return 1

    d = ensureDeferred(f())
    d.cancel()
    assert d.result == 1


# -- tracebacks -------------------------------------------------------------------


async def level3(gate: Deferred[None]) -> None:
    await gate
    raise ValueError("deep down")


async def level2(gate: Deferred[None]) -> None:
    await ensureDeferred(level3(gate))


async def level1(gate: Deferred[None]) -> None:
    await ensureDeferred(level2(gate))


def test_traceback_shows_chain_of_awaiting_functions_pending() -> None:
    gate: Deferred[None] = Deferred()
    out = results(ensureDeferred(level1(gate)))
    gate.callback(None)
    text = out[0].getTraceback()
    assert "ValueError: deep down" in text
    positions = [text.index(f"in {name}") for name in ("level1", "level2", "level3")]
    assert positions == sorted(positions)
    assert "_runCallbacks" not in text
    assert "step" not in text


def test_traceback_shows_chain_of_awaiting_functions_fired() -> None:
    out = results(ensureDeferred(level1(succeed(None))))
    text = out[0].getTraceback()
    positions = [text.index(f"in {name}") for name in ("level1", "level2", "level3")]
    assert positions == sorted(positions)


def test_traceback_of_failure_created_before_awaiting() -> None:
    # The inner Deferred fails (and has its frames cleaned) before anyone
    # awaits it: the traceback still goes all the way down.
    async def outer() -> None:
        d = ensureDeferred(level3(succeed(None)))
        await d

    out = results(ensureDeferred(outer()))
    text = out[0].getTraceback()
    assert "in outer" in text
    assert "in level3" in text
    assert text.index("in outer") < text.index("in level3")


@inlineCallbacks
def gen3(gate: Deferred[None]) -> Generator[Any, Any, None]:
    yield gate
    raise KeyError("gen deep")


@inlineCallbacks
def gen2(gate: Deferred[None]) -> Generator[Any, Any, None]:
    yield gen3(gate)


def test_inline_callbacks_traceback() -> None:
    gate: Deferred[None] = Deferred()
    out = results(gen2(gate))
    gate.callback(None)
    text = out[0].getTraceback()
    assert text.index("in gen2") < text.index("in gen3")
    assert "_runCallbacks" not in text


# -- inlineCallbacks --------------------------------------------------------------


def test_inline_callbacks_return() -> None:
    @inlineCallbacks
    def f(x: int) -> Generator[Any, Any, int]:
        a: int = yield succeed(x)
        b: int = yield x  # a plain value comes straight back
        return a + b

    assert results(f(2)) == [4]


def test_inline_callbacks_return_value_legacy() -> None:
    @inlineCallbacks
    def f() -> Generator[Any, Any, None]:
        yield succeed(None)
        returnValue("legacy")

    assert results(f()) == ["legacy"]


def test_inline_callbacks_pending_and_error() -> None:
    gate: Deferred[int] = Deferred()

    @inlineCallbacks
    def f() -> Generator[Any, Any, str]:
        try:
            yield gate
        except ValueError as e:
            return f"handled {e}"
        return "no error"

    out = results(f())
    assert out == []
    gate.errback(ValueError("g"))
    assert out == ["handled g"]


def test_inline_callbacks_exception() -> None:
    @inlineCallbacks
    def f() -> Generator[Any, Any, None]:
        yield succeed(1)
        raise IndexError("ix")

    assert results(f())[0].type is IndexError


def test_inline_callbacks_requires_generator() -> None:
    @inlineCallbacks  # type: ignore[arg-type]
    def notGen() -> int:
        return 1

    with pytest.raises(TypeError, match="generator"):
        notGen()


def test_inline_callbacks_return_value_before_yield() -> None:
    @inlineCallbacks  # type: ignore[arg-type]
    def notGen() -> None:
        returnValue(1)

    with pytest.raises(TypeError, match="generator"):
        notGen()


def test_return_value_in_coroutine_is_an_error() -> None:
    async def f() -> None:
        returnValue(1)

    out = results(ensureDeferred(f()))
    assert out[0].type is TypeError


def test_inline_callbacks_cancel() -> None:
    cancelled: list[bool] = []
    inner: Deferred[int] = Deferred(lambda d: cancelled.append(True))

    @inlineCallbacks
    def f() -> Generator[Any, Any, int]:
        result: int = yield inner
        return result

    d = f()
    out = results(d)
    d.cancel()
    assert cancelled == [True]
    assert out[0].type is CancelledError


def test_inline_callbacks_keeps_metadata() -> None:
    @inlineCallbacks
    def documented() -> Generator[Any, Any, None]:
        """Doc."""
        yield None

    assert documented.__name__ == "documented"
    assert documented.__doc__ == "Doc."


def test_inline_callbacks_many_fired_yields() -> None:
    @inlineCallbacks
    def f() -> Generator[Any, Any, int]:
        total = 0
        for i in range(20_000):
            total += yield succeed(i)
        return total

    assert results(f()) == [sum(range(20_000))]


# -- asyncio bridges ----------------------------------------------------------------


def test_from_future_result() -> None:
    loop = asyncio.new_event_loop()
    try:
        future: asyncio.Future[int] = loop.create_future()
        d = Deferred.fromFuture(future)
        out = results(d)
        future.set_result(5)
        assert out == []
        loop.run_until_complete(asyncio.sleep(0))
        assert out == [5]
    finally:
        loop.close()


def test_from_future_exception() -> None:
    loop = asyncio.new_event_loop()
    try:
        future: asyncio.Future[int] = loop.create_future()
        out = results(Deferred.fromFuture(future))
        future.set_exception(KeyError("f"))
        loop.run_until_complete(asyncio.sleep(0))
        assert out[0].type is KeyError
    finally:
        loop.close()


def test_from_future_cancelled_future() -> None:
    loop = asyncio.new_event_loop()
    try:
        future: asyncio.Future[int] = loop.create_future()
        out = results(Deferred.fromFuture(future))
        future.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        assert out[0].type is CancelledError
    finally:
        loop.close()


def test_from_future_cancel_deferred_cancels_future() -> None:
    loop = asyncio.new_event_loop()
    try:
        future: asyncio.Future[int] = loop.create_future()
        d = Deferred.fromFuture(future)
        out = results(d)
        d.cancel()
        assert future.cancelled()
        loop.run_until_complete(asyncio.sleep(0))
        assert len(out) == 1 and out[0].type is CancelledError
    finally:
        loop.close()


def test_as_future_result() -> None:
    loop = asyncio.new_event_loop()
    try:
        d: Deferred[int] = Deferred()
        future = d.asFuture(loop)

        async def waiter() -> int:
            loop.call_soon(d.callback, 8)
            return await future

        assert loop.run_until_complete(waiter()) == 8
        assert d.result is None
    finally:
        loop.close()


def test_as_future_failure() -> None:
    loop = asyncio.new_event_loop()
    try:
        d: Deferred[int] = Deferred()
        future = d.asFuture(loop)
        d.errback(ZeroDivisionError("z"))
        with pytest.raises(ZeroDivisionError):
            loop.run_until_complete(future)
        assert d.result is None
    finally:
        loop.close()


def test_as_future_cancel_cancels_deferred() -> None:
    loop = asyncio.new_event_loop()
    try:
        cancelled: list[bool] = []
        d: Deferred[int] = Deferred(lambda d: cancelled.append(True))
        future = d.asFuture(loop)
        future.cancel()
        loop.run_until_complete(asyncio.sleep(0))
        assert cancelled == [True]
        assert d.called and d.result is None
    finally:
        loop.close()


def test_failure_from_coroutine_is_failure() -> None:
    async def f() -> None:
        raise ValueError()

    assert isinstance(results(ensureDeferred(f()))[0], Failure)


def test_nested_ensure_deferred_levels() -> None:
    # Each level awaits the Deferred of the next coroutine; the innermost
    # waits on a gate fired from outside.
    gate: Deferred[int] = Deferred()

    async def level(k: int) -> int:
        if k == 0:
            return await gate
        return 1 + await ensureDeferred(level(k - 1))

    out = results(ensureDeferred(level(150)))
    gate.callback(0)
    assert out == [150]
