"""
Tests for ``torsion.python.failure``.
"""

from __future__ import annotations

import gc
import io
import pickle
import weakref
from collections.abc import Generator

import pytest

from torsion.python.failure import (
    Failure,
    NoCurrentExceptionError,
    UnpicklableException,
)


class Marker:
    """Something to find (or not) among a frame's locals."""


def _raiser(message: str = "boom") -> None:
    raise ValueError(message)


def _capture(exc: Exception | None = None) -> Failure:
    try:
        if exc is None:
            _raiser()
        else:
            raise exc
    except BaseException:
        return Failure()
    raise AssertionError("not reached")


def test_captures_current_exception() -> None:
    f = _capture()
    assert f.type is ValueError
    assert isinstance(f.value, ValueError)
    assert f.tb is not None
    assert f.getErrorMessage() == "boom"


def test_no_current_exception() -> None:
    with pytest.raises(NoCurrentExceptionError):
        Failure()


def test_wraps_exception_instance() -> None:
    exc = KeyError("k")
    f = Failure(exc)
    assert f.value is exc
    assert f.type is KeyError
    assert f.tb is None


def test_wraps_raised_exception_uses_its_traceback() -> None:
    try:
        _raiser("x")
    except ValueError as e:
        exc = e
    f = Failure(exc)
    assert f.tb is exc.__traceback__
    assert "_raiser" in f.getTraceback()


def test_positional_value_type_traceback() -> None:
    try:
        _raiser()
    except ValueError as e:
        f = Failure(e, ValueError, e.__traceback__)
    assert f.type is ValueError and f.tb is not None


def test_value_not_an_exception_with_type() -> None:
    f = Failure("message", RuntimeError)
    assert isinstance(f.value, RuntimeError)
    assert f.getErrorMessage() == "message"


def test_value_not_an_exception_without_type() -> None:
    with pytest.raises(TypeError):
        Failure(42)


def test_failure_of_failure_is_equivalent() -> None:
    f = _capture()
    g = Failure(f)
    assert g.value is f.value and g.type is f.type


def test_failure_is_raisable_and_unwraps() -> None:
    f = _capture()
    assert isinstance(f, BaseException)
    try:
        raise f
    except BaseException:
        g = Failure()
    assert g.value is f.value
    assert g.type is ValueError


def test_check() -> None:
    f = _capture()
    assert f.check(KeyError) is None
    assert f.check(KeyError, ValueError) is ValueError
    assert f.check(Exception) is Exception
    assert f.check("builtins.ValueError") == "builtins.ValueError"
    assert f.check("builtins.KeyError") is None


def test_trap_matches() -> None:
    f = _capture()
    assert f.trap(TypeError, ValueError) is ValueError


def test_trap_reraises_original_exception() -> None:
    f = _capture()
    with pytest.raises(ValueError) as info:
        f.trap(KeyError)
    assert info.value is f.value


def test_raise_exception_keeps_traceback() -> None:
    f = _capture()
    with pytest.raises(ValueError) as info:
        f.raiseException()
    names = [entry.name for entry in info.traceback]
    assert "_raiser" in names


def test_parents() -> None:
    f = _capture()
    assert f.parents[0] == "builtins.ValueError"
    assert "builtins.Exception" in f.parents


def test_get_traceback_default() -> None:
    f = _capture()
    text = f.getTraceback()
    assert text.startswith("Traceback (most recent call last):")
    assert "in _raiser" in text
    assert "raise ValueError(message)" in text
    assert text.rstrip().endswith("ValueError: boom")


def test_get_traceback_brief() -> None:
    f = _capture()
    text = f.getTraceback(detail="brief")
    assert text.startswith("Traceback (brief): builtins.ValueError: boom")
    assert ":_raiser" in text


def test_get_traceback_verbose_shows_locals() -> None:
    def withLocal() -> None:
        someLocalName = "visible-value"  # noqa: F841
        raise RuntimeError("v")

    try:
        withLocal()
    except RuntimeError:
        f = Failure()
    text = f.getTraceback(detail="verbose")
    assert "someLocalName" in text
    assert "visible-value" in text


def test_capture_vars_survive_clean() -> None:
    def withLocal() -> None:
        someLocalName = "kept-value"  # noqa: F841
        raise RuntimeError("v")

    try:
        withLocal()
    except RuntimeError:
        f = Failure(captureVars=True)
    f.cleanFailure()
    assert "kept-value" in f.getTraceback(detail="verbose")


def test_bad_detail() -> None:
    with pytest.raises(ValueError):
        _capture().getTraceback(detail="loud")  # type: ignore[arg-type]


def test_no_frames() -> None:
    text = Failure(ValueError("nf")).getTraceback()
    assert "failure with no frames" in text
    assert "ValueError: nf" in text


def test_print_traceback() -> None:
    f = _capture()
    out = io.StringIO()
    f.printTraceback(out)
    assert out.getvalue() == f.getTraceback()
    out = io.StringIO()
    f.printBriefTraceback(out)
    assert out.getvalue() == f.getTraceback(detail="brief")
    out = io.StringIO()
    f.printDetailedTraceback(out)
    assert "_raiser" in out.getvalue()


def test_chained_exceptions_shown() -> None:
    try:
        try:
            _raiser("first")
        except ValueError as e:
            raise KeyError("second") from e
    except KeyError:
        f = Failure()
    text = f.getTraceback()
    assert "ValueError: first" in text
    assert "direct cause" in text
    assert "KeyError: 'second'" in text


def test_implicit_context_shown() -> None:
    try:
        try:
            _raiser("first")
        except ValueError:
            raise KeyError("second")
    except KeyError:
        f = Failure()
    assert "During handling of the above exception" in f.getTraceback()


def test_exception_group_shown() -> None:
    try:
        raise ExceptionGroup("several", [ValueError("one"), KeyError("two")])
    except ExceptionGroup:
        f = Failure()
    text = f.getTraceback()
    assert "ExceptionGroup: several" in text
    assert "ValueError: one" in text
    assert "KeyError: 'two'" in text


def test_clean_failure_drops_frames() -> None:
    refs: list[weakref.ref[Marker]] = []

    def holder() -> None:
        marker = Marker()
        refs.append(weakref.ref(marker))
        _raiser("clean")

    try:
        holder()
    except ValueError:
        f = Failure()
    [markerRef] = refs
    gc.collect()
    assert markerRef() is not None
    before = f.getTraceback()
    f.cleanFailure()
    gc.collect()
    assert markerRef() is None
    assert f.tb is None
    assert f.getTracebackObject() is None
    assert f.getTraceback() == before
    assert [name for name, _, _ in f.frames][-2:] == ["holder", "_raiser"]
    with pytest.raises(ValueError):
        f.raiseException()


def test_clean_failure_twice() -> None:
    f = _capture()
    f.cleanFailure()
    text = f.getTraceback()
    f.cleanFailure()
    assert f.getTraceback() == text


def test_get_traceback_object() -> None:
    f = _capture()
    assert f.getTracebackObject() is f.tb


def test_frames() -> None:
    f = _capture()
    names = [name for name, _, _ in f.frames]
    assert names[-1] == "_raiser"


def test_pickle_roundtrip() -> None:
    f = _capture()
    text = f.getTraceback()
    brief = f.getTraceback(detail="brief")
    g = pickle.loads(pickle.dumps(f))
    assert isinstance(g, Failure)
    assert g.type is ValueError
    assert g.getErrorMessage() == "boom"
    assert g.tb is None
    assert g.check(ValueError) is ValueError
    assert g.getTraceback() == text
    assert g.getTraceback(detail="brief") == brief
    # pickling did not change the original
    assert f.tb is not None


def test_pickle_after_clean() -> None:
    f = _capture()
    f.cleanFailure()
    g = pickle.loads(pickle.dumps(f))
    assert "_raiser" in g.getTraceback()


def test_throw_into_generator() -> None:
    seen: list[ValueError] = []

    def gen() -> Generator[int, None, None]:
        try:
            yield 1
        except ValueError as e:
            seen.append(e)
            yield 2

    g = gen()
    next(g)
    f = _capture()
    assert f.throwExceptionIntoGenerator(g) == 2
    assert seen == [f.value]


def test_repr_and_str() -> None:
    f = _capture()
    assert "builtins.ValueError" in repr(f)
    assert str(f).startswith("[Failure instance: Traceback (brief)")


def test_unprintable_message() -> None:
    class Bad(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    msg = Failure(Bad()).getErrorMessage()
    assert "unprintable" in msg


def test_capture_vars_default_traceback_has_no_locals() -> None:
    def withLocal() -> None:
        hiddenLocal = "not-in-default"  # noqa: F841
        raise RuntimeError("v")

    try:
        withLocal()
    except RuntimeError:
        f = Failure(captureVars=True)
    assert "not-in-default" not in f.getTraceback()
    assert "not-in-default" in f.getTraceback(detail="verbose")
    f.cleanFailure()
    assert "not-in-default" not in f.getTraceback()
    g = pickle.loads(pickle.dumps(f))
    assert "not-in-default" in g.getTraceback(detail="verbose")
    assert "not-in-default" not in g.getTraceback()


def test_str_after_pickle_keeps_frames() -> None:
    g = pickle.loads(pickle.dumps(_capture()))
    assert "_raiser" in str(g)


class HoldsALock(Exception):
    def __init__(self) -> None:
        super().__init__("holds a lock")
        import threading

        self.lock = threading.Lock()


def test_pickle_unpicklable_exception() -> None:
    f = _capture(HoldsALock())
    g = pickle.loads(pickle.dumps(f))
    assert g.check(UnpicklableException) is UnpicklableException
    assert g.check(f"{__name__}.HoldsALock")
    assert "holds a lock" in g.getErrorMessage()
    assert "HoldsALock" in g.getTraceback()
