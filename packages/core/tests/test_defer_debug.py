"""
Tests for the reporting of unhandled failures and for debugging mode.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from torsion.internet import defer
from torsion.internet.defer import (
    AlreadyCalledError,
    Deferred,
    ensureDeferred,
    fail,
    getDebugging,
    setDebugging,
)
from torsion.logger import LogEvent, globalLogPublisher
from torsion.python.failure import Failure


@pytest.fixture
def logged() -> Iterator[list[LogEvent]]:
    gc.collect()
    events: list[LogEvent] = []

    def observer(event: LogEvent) -> None:
        if event.get("log_namespace") == "torsion.internet.defer":
            events.append(event)

    globalLogPublisher.addObserver(observer)
    try:
        yield events
    finally:
        globalLogPublisher.removeObserver(observer)


@pytest.fixture
def debugging() -> Iterator[None]:
    setDebugging(True)
    try:
        yield
    finally:
        setDebugging(False)


def _failing() -> None:
    raise ValueError("nobody handles me")


def test_unhandled_failure_logged_on_collection(logged: list[LogEvent]) -> None:
    d: Deferred[None] = Deferred()
    d.addCallback(lambda _: _failing())
    d.callback(None)
    assert logged == []
    del d
    gc.collect()
    assert len(logged) == 1
    event = logged[0]
    failure = event["log_failure"]
    assert isinstance(failure, Failure)
    assert failure.type is ValueError
    assert "_failing" in failure.getTraceback()
    assert "Unhandled error in Deferred" in event["log_format"]


def test_handled_failure_not_logged(logged: list[LogEvent]) -> None:
    d = fail(ValueError("handled"))
    d.addErrback(lambda f: None)
    del d
    gc.collect()
    assert logged == []


def test_failure_handled_later_not_logged(logged: list[LogEvent]) -> None:
    d: Deferred[None] = Deferred()
    d.errback(ValueError("later"))
    d.addErrback(lambda f: None)
    del d
    gc.collect()
    assert logged == []


def test_failure_passed_to_another_deferred_logged_once(
    logged: list[LogEvent],
) -> None:
    inner: Deferred[None] = Deferred()
    outer: Deferred[None] = Deferred()
    outer.addCallback(lambda _, i: i, inner)
    outer.callback(None)
    inner.errback(KeyError("moved"))
    del inner, outer
    gc.collect()
    assert len(logged) == 1
    assert logged[0]["log_failure"].type is KeyError


def test_awaited_failure_not_logged_twice(logged: list[LogEvent]) -> None:
    async def f() -> None:
        try:
            await fail(KeyError("awaited"))
        except KeyError:
            pass

    d = ensureDeferred(f())
    del d
    gc.collect()
    assert logged == []


def test_coroutine_failure_unhandled_logged(logged: list[LogEvent]) -> None:
    async def f() -> None:
        raise KeyError("coroutine")

    ensureDeferred(f())
    gc.collect()
    assert len(logged) == 1


def test_chain_end_failure_frames_released() -> None:
    # At the end of a chain the failure is cleaned: it keeps no frames.
    d = fail(ValueError("x"))
    try:
        _failing()
    except ValueError:
        d2 = fail()
    assert d2.result.tb is None
    assert "_failing" in d2.result.getTraceback()
    d.addErrback(lambda f: None)
    d2.addErrback(lambda f: None)


def test_debugging_flag() -> None:
    assert getDebugging() is False
    setDebugging(True)
    try:
        assert getDebugging() is True
        assert Deferred.debug is True
    finally:
        setDebugging(False)
    assert getDebugging() is False


def _createHere() -> Deferred[int]:
    return Deferred()


def _fireHere(d: Deferred[int]) -> None:
    d.callback(1)


def test_already_called_names_creator_and_invoker(debugging: None) -> None:
    d = _createHere()
    _fireHere(d)
    with pytest.raises(AlreadyCalledError) as info:
        d.callback(2)
    message = str(info.value)
    assert "_createHere" in message
    assert "_fireHere" in message


def test_already_called_without_debugging_is_short() -> None:
    d = _createHere()
    _fireHere(d)
    with pytest.raises(AlreadyCalledError) as info:
        d.callback(2)
    assert "_createHere" not in str(info.value)


def test_unhandled_report_includes_debug_info(
    logged: list[LogEvent], debugging: None
) -> None:
    d = _createHere()
    d.errback(ValueError("dbg"))
    del d
    gc.collect()
    assert len(logged) == 1
    assert "_createHere" in logged[0]["debugInfo"]


def test_succeed_in_debug_mode_records_creator(debugging: None) -> None:
    d = defer.succeed(1)
    with pytest.raises(AlreadyCalledError) as info:
        d.callback(2)
    assert "test_succeed_in_debug_mode_records_creator" in str(info.value)


def test_debug_failures_capture_vars(debugging: None) -> None:
    def withLocal(_: Any) -> None:
        secretLocal = "captured"  # noqa: F841
        raise KeyError("v")

    d: Deferred[None] = Deferred()
    d.addCallback(withLocal)
    d.callback(None)
    out: list[Failure] = []
    d.addErrback(out.append)
    assert "captured" in out[0].getTraceback(detail="verbose")


def test_log_error_logs_and_passes_failure_on(logged: list[LogEvent]) -> None:
    d = fail(KeyError("logged"))
    d.addErrback(defer.logError)
    out: list[Any] = []
    d.addErrback(out.append)
    assert out[0].type is KeyError
    assert len(logged) == 1
    assert logged[0]["log_failure"] is out[0]


def test_passthru() -> None:
    marker = object()
    assert defer.passthru(marker) is marker
    assert succeed_through_passthru() == [5]


def succeed_through_passthru() -> list[Any]:
    out: list[Any] = []
    defer.succeed(5).addCallbacks(defer.passthru, defer.passthru).addBoth(out.append)
    return out


def test_unhandled_report_falls_back_to_stderr(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from torsion.logger import Logger

    def broken(self: Logger, *args: Any, **kwargs: Any) -> None:
        raise RuntimeError("logging is broken")

    monkeypatch.setattr(Logger, "failure", broken)
    d = fail(ValueError("still reported"))
    del d
    gc.collect()
    err = capsys.readouterr().err
    assert "Unhandled error in Deferred" in err
    assert "ValueError: still reported" in err
