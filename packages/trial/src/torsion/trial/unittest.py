"""
Test cases for code built on torsion.

``SynchronousTestCase`` is a ``unittest.TestCase`` with extra assertions and
helpers (Deferred inspection, warnings, monkey-patching, temporary paths,
logged-error checks) and no reactor. ``TestCase`` adds the reactor: a test
method, ``setUp``, ``tearDown`` or cleanup may return a Deferred or be
``async def``, and the test waits (turning the reactor) until it fires; a
per-test timeout bounds the wait, and the test fails if it leaves the reactor
dirty (pending calls, open sockets, threads).

Both run under the ``torsion-trial`` runner, under ``pytest`` (through the
torsion-trial plugin) and under the standard library's ``unittest`` runner.
"""

from __future__ import annotations

import inspect
import os
import sys
import tempfile
import threading
import types
import unittest as pyunit
import warnings
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from typing import Any, TypeVar

from torsion.trial import _spin, util
from torsion.trial._logcapture import LoggedErrorObserver

# Frames of this module are left out of reported tracebacks.
__unittest = True

__all__ = [
    "FailTest",
    "SkipTest",
    "SynchronousTestCase",
    "TestCase",
    "TestSuite",
    "Todo",
    "makeTodo",
]

_T = TypeVar("_T")
ExcInfo = tuple[type[BaseException], BaseException, types.TracebackType | None]

#: Raise this (or call ``self.skipTest(reason)``) to skip the running test.
SkipTest = pyunit.SkipTest

#: A plain ``unittest`` suite; torsion-trial's runner accepts it as is.
TestSuite = pyunit.TestSuite


class FailTest(AssertionError):
    """
    Raised by the assertions of ``SynchronousTestCase`` when a test fails.
    """


class Todo:
    """
    A test expected to fail: the reason, and the exception types it is
    expected to fail with (any, when ``errors`` is ``None``).

    :ivar reason: why the test is expected to fail.
    :ivar errors: the expected exception types, or ``None`` for any.
    """

    def __init__(
        self, reason: str, errors: Sequence[type[BaseException]] | None = None
    ) -> None:
        self.reason = reason
        self.errors = tuple(errors) if errors is not None else None

    def expected(self, exc: BaseException) -> bool:
        """
        Whether failing with ``exc`` is the expected failure.

        :param exc: the exception the test failed with.
        :return: ``True`` if it matches the expected types.
        """
        if self.errors is None:
            return True
        return isinstance(exc, self.errors)

    def __repr__(self) -> str:
        return f"<Todo reason={self.reason!r} errors={self.errors!r}>"

    def __str__(self) -> str:
        return self.reason


def makeTodo(value: object) -> Todo:
    """
    Turn the value of a ``todo`` attribute into a ``Todo``.

    :param value: a reason string, a ``(exceptionType, reason)`` or
        ``((exceptionType, ...), reason)`` tuple, or a ``Todo``.
    :return: the ``Todo``.
    :raises TypeError: for any other value.
    """
    if isinstance(value, Todo):
        return value
    if isinstance(value, str):
        return Todo(reason=value)
    if isinstance(value, tuple) and len(value) == 2:
        errors, reason = value
        if isinstance(errors, type):
            errors = (errors,)
        return Todo(reason=str(reason), errors=tuple(errors))
    raise TypeError(
        f"todo must be a string or an (errors, reason) tuple, not {value!r}"
    )


_deferredClass: Any = None


def _deferredType() -> Any:
    global _deferredClass
    if _deferredClass is None:
        try:
            from torsion.internet.defer import Deferred
        except ImportError:
            return None
        _deferredClass = Deferred
    return _deferredClass


def _isDeferred(value: object) -> bool:
    cls = _deferredType()
    return cls is not None and isinstance(value, cls)


def _isFailure(value: object) -> bool:
    return (
        hasattr(value, "value") and hasattr(value, "check") and hasattr(value, "type")
    )


class FailureExcInfo(tuple):  # type: ignore[type-arg]
    """
    An ``exc_info`` tuple that also carries the ``Failure`` it came from, so
    that reports can show the failure's own traceback when the exception
    object no longer has one.
    """

    failure: Any = None


def _excInfoOf(failureOrExc: Any) -> ExcInfo:
    """
    An ``exc_info`` tuple for a ``Failure`` or an exception, keeping the real
    traceback so that reports show where it happened.
    """
    exc = failureOrExc.value if _isFailure(failureOrExc) else failureOrExc
    tb = exc.__traceback__
    if tb is None and _isFailure(failureOrExc):
        getTb = getattr(failureOrExc, "getTracebackObject", None)
        if getTb is not None:
            try:
                candidate = getTb()
            except Exception:
                candidate = None
            if isinstance(candidate, types.TracebackType):
                tb = candidate
    if tb is None:
        # Result objects such as pytest's need a real traceback object.
        tb = _makeError(exc)[2]
    if _isFailure(failureOrExc):
        info = FailureExcInfo((type(exc), exc, tb))
        info.failure = failureOrExc
        return info
    return (type(exc), exc, tb)


def _makeError(exc: BaseException) -> ExcInfo:
    try:
        raise exc
    except BaseException as e:
        return (type(e), e, e.__traceback__)


def _timeoutErrorClass() -> type[Exception]:
    try:
        from torsion.internet import defer
    except ImportError:
        return TimeoutError
    cls = getattr(defer, "TimeoutError", None)
    if isinstance(cls, type) and issubclass(cls, Exception):
        return cls
    return TimeoutError


_tempRoot: str | None = None


def setTempRoot(path: str | None) -> None:
    """
    Set the directory under which ``mktemp`` makes its paths (the runner sets
    its ``_trial_temp`` directory; otherwise a fresh temporary directory is
    made on first use).

    :param path: the directory, or ``None`` to go back to the default.
    """
    global _tempRoot
    _tempRoot = os.path.abspath(path) if path is not None else None


def _getTempRoot() -> str:
    global _tempRoot
    if _tempRoot is None:
        _tempRoot = tempfile.mkdtemp(prefix="torsion-trial-")
    return _tempRoot


class _Patch:
    """
    One attribute replaced by ``SynchronousTestCase.patch``; ``restore()``
    puts the original back (it is called for you after the test).
    """

    _absent = object()

    def __init__(self, obj: object, attribute: str, value: object) -> None:
        self.obj = obj
        self.attribute = attribute
        self.original = getattr(obj, attribute, self._absent)
        self._restored = False
        setattr(obj, attribute, value)

    def restore(self) -> None:
        """
        Put the original attribute back (only the first call does anything).
        """
        if self._restored:
            return
        self._restored = True
        if self.original is self._absent:
            try:
                delattr(self.obj, self.attribute)
            except AttributeError:
                pass
        else:
            setattr(self.obj, self.attribute, self.original)


class _Outcome:
    """
    What happened while a test ran: errors and failures (``exc_info``
    tuples, with whether each is a failure), and a skip reason.
    """

    def __init__(self) -> None:
        self.problems: list[tuple[bool, ExcInfo]] = []
        self.skipReason: str | None = None


def _codeLines(func: Callable[..., Any]) -> tuple[str, set[int]]:
    func = getattr(func, "__func__", func)
    code = func.__code__
    lines = {line for _, _, line in code.co_lines() if line is not None}
    lines.add(code.co_firstlineno)
    return os.path.normcase(os.path.abspath(code.co_filename)), lines


class SynchronousTestCase(pyunit.TestCase):
    """
    A ``unittest.TestCase`` for code that needs no reactor.

    Beyond the standard library's, it reads ``skip``, ``todo``, ``suppress``
    and ``timeout`` attributes from the test method, its class or its module;
    fails a test during which an error was logged (unless the test called
    ``flushLoggedErrors``); and offers Deferred inspection
    (``successResultOf``, ``failureResultOf``, ``assertNoResult``), warning
    checks (``assertWarns``, ``flushWarnings``), ``patch`` and ``mktemp``.
    """

    failureException = FailTest

    def __init__(self, methodName: str = "runTest") -> None:
        super().__init__(methodName)
        self._trialCleanups: list[
            tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]
        ] = []
        self._observer: LoggedErrorObserver | None = None
        self._warnings: list[warnings.WarningMessage] = []
        self._mktempCount = 0

    # -- attribute lookup ------------------------------------------------

    def _testMethod(self) -> Any:
        return getattr(self, self._testMethodName, None)

    def _lookupChain(self) -> list[object]:
        method = self._testMethod()
        chain: list[object] = []
        if method is not None:
            chain.append(getattr(method, "__func__", method))
        chain.append(self)
        module = sys.modules.get(type(self).__module__)
        if module is not None:
            chain.append(module)
        return chain

    def getSkip(self) -> str | None:
        """
        Return the reason this test is skipped, or ``None`` if it runs.

        :return: the ``skip`` attribute of the method, class or module (or a
            standard ``unittest.skip`` decoration).
        """
        method = self._testMethod()
        for obj in (method, type(self)):
            if obj is not None and getattr(obj, "__unittest_skip__", False):
                return str(getattr(obj, "__unittest_skip_why__", "") or "skipped")
        value = util.acquireAttribute(self._lookupChain(), "skip", None)
        if value is None or value is False:
            return None
        if value is True:
            return "skipped"
        return str(value)

    def getTodo(self) -> Todo | None:
        """
        Return the ``Todo`` for this test, or ``None`` if it should pass.

        :return: from the ``todo`` attribute of the method, class or module.
        """
        value = util.acquireAttribute(self._lookupChain(), "todo", None)
        if value is None:
            method = self._testMethod()
            if method is not None and getattr(
                method, "__unittest_expecting_failure__", False
            ):
                return Todo("expected failure")
            return None
        return makeTodo(value)

    def getSuppress(self) -> list[util.suppress]:
        """
        Return the warning suppressions for this test.

        :return: from the ``suppress`` attribute of the method, class or
            module.
        """
        return list(util.acquireAttribute(self._lookupChain(), "suppress", []) or [])

    def getTimeout(self) -> float:
        """
        Return how many seconds this test may wait for its Deferreds.

        :return: the ``timeout`` attribute of the method, class or module,
            else ``DEFAULT_TIMEOUT_DURATION``.
        """
        value = util.acquireAttribute(self._lookupChain(), "timeout", None)
        if value is None:
            return util.DEFAULT_TIMEOUT_DURATION
        return float(value)

    # -- running ---------------------------------------------------------

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.run(*args, **kwargs)

    def run(self, result: Any = None) -> Any:
        """
        Run this test and report its outcome to ``result``.

        :param result: a ``unittest.TestResult`` or any object with its
            methods (torsion-trial's reporters, pytest's adapter); a new
            ``unittest.TestResult`` when omitted.
        :return: the result object.
        """
        if result is None:
            result = self.defaultTestResult()
        result.startTest(self)
        try:
            self._runAndReport(result)
        except KeyboardInterrupt:
            result.addError(self, sys.exc_info())
            raise
        finally:
            result.stopTest(self)
        return result

    def debug(self) -> None:
        """
        Run the test without a result, letting its first problem propagate.
        """
        result = pyunit.TestResult()
        self.run(result)
        for _, err in result.errors + result.failures:
            raise AssertionError(err)

    def _runAndReport(self, result: Any) -> None:
        skip = self.getSkip()
        if skip is not None:
            result.addSkip(self, skip)
            return
        try:
            todo = self.getTodo()
        except TypeError as e:
            result.addError(self, _makeError(e))
            return
        outcome = _Outcome()
        self._observer = LoggedErrorObserver()
        self._observer.start()
        self._warnings = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                self._warnings = caught
                warnings.simplefilter("always")
                for spec in self.getSuppress():
                    spec.apply()
                self._runFixturesAndTest(outcome)
                util.collectGarbage()
                pending = list(self._warnings)
        finally:
            self._observer.stop()
        for failure in self._observer.errors:
            outcome.problems.append((False, _excInfoOf(failure)))
        self._observer.errors = []
        for w in pending:
            try:
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            except Exception as e:
                outcome.problems.append((False, _makeError(e)))
        self._report(result, outcome, todo)

    def _report(self, result: Any, outcome: _Outcome, todo: Todo | None) -> None:
        if outcome.skipReason is not None and not outcome.problems:
            result.addSkip(self, outcome.skipReason)
            return
        if outcome.problems:
            if todo is not None and all(
                todo.expected(err[1]) for _, err in outcome.problems
            ):
                _addExpectedFailure(result, self, outcome.problems[0][1], todo)
                return
            for isFailure, err in outcome.problems:
                if isFailure:
                    result.addFailure(self, err)
                else:
                    result.addError(self, err)
            return
        if todo is not None:
            _addUnexpectedSuccess(result, self, todo)
            return
        result.addSuccess(self)

    def _record(self, outcome: _Outcome, problem: Any) -> None:
        """
        Record an exception or a ``Failure`` from one of the test's phases.
        """
        exc = problem.value if _isFailure(problem) else problem
        if isinstance(exc, SkipTest):
            outcome.skipReason = str(exc) or "skipped"
            return
        info = _excInfoOf(problem)
        outcome.problems.append((isinstance(exc, self.failureException), info))

    def _runPhase(
        self,
        outcome: _Outcome,
        phase: str,
        f: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        """
        Run one of setUp, the test method, tearDown or a cleanup, recording
        what went wrong.

        :return: whether it completed without error.
        """
        try:
            value = f(*args, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:
            self._record(outcome, e)
            return False
        return self._settle(outcome, phase, value)

    def _settle(self, outcome: _Outcome, phase: str, value: object) -> bool:
        """
        Deal with what a phase returned; a synchronous test case accepts only
        Deferreds that have already fired.
        """
        if inspect.iscoroutine(value):
            value.close()
            self._record(
                outcome,
                TypeError(
                    f"{self.id()}: {phase} is a coroutine function; "
                    "use torsion.trial.unittest.TestCase to run async tests"
                ),
            )
            return False
        if _isDeferred(value):
            captured: list[object] = []
            value.addBoth(captured.append)  # type: ignore[attr-defined]
            if not captured:
                self._record(
                    outcome,
                    TypeError(
                        f"{self.id()}: {phase} returned a Deferred that has not "
                        "fired; use torsion.trial.unittest.TestCase to wait for it"
                    ),
                )
                return False
            if _isFailure(captured[0]):
                self._record(outcome, captured[0])
                return False
        return True

    def _runFixturesAndTest(self, outcome: _Outcome) -> None:
        method = self._testMethod()
        if method is None:
            self._record(
                outcome, AttributeError(f"no test method {self._testMethodName!r}")
            )
            return
        if self._runPhase(outcome, "setUp", self.setUp) and outcome.skipReason is None:
            self._runPhase(outcome, "test method", method)
            self._runPhase(outcome, "tearDown", self.tearDown)
        self._runCleanups(outcome)
        self._afterTest(outcome)

    def _runCleanups(self, outcome: _Outcome) -> None:
        # The standard library's own cleanups (registered by helpers such as
        # enterContext) run too, after ours.
        while self._trialCleanups:
            f, args, kwargs = self._trialCleanups.pop()
            self._runPhase(
                outcome, f"cleanup {util._fullyQualifiedName(f)}", f, *args, **kwargs
            )
        while self._cleanups:  # type: ignore[attr-defined]
            f, args, kwargs = self._cleanups.pop()  # type: ignore[attr-defined]
            self._runPhase(outcome, "cleanup", f, *args, **kwargs)

    def _afterTest(self, outcome: _Outcome) -> None:
        """
        Checks made after the test and its cleanups; ``TestCase`` adds the
        reactor cleanliness check.
        """

    def doCleanups(self) -> bool:  # type: ignore[override]
        """
        Run the registered cleanups now (they otherwise run after
        ``tearDown``); a cleanup's error is raised.

        :return: ``True``.
        """
        outcome = _Outcome()
        self._runCleanups(outcome)
        if outcome.problems:
            raise outcome.problems[0][1][1]
        return True

    def addCleanup(
        self, function: Callable[..., Any], /, *args: Any, **kwargs: Any
    ) -> None:
        """
        Call ``function(*args, **kwargs)`` after ``tearDown``; cleanups run
        last-added first, even when ``setUp`` failed. In ``TestCase`` a
        cleanup may return a Deferred (or be ``async def``), which is waited
        for.

        :param function: the cleanup.
        """
        self._trialCleanups.append((function, args, kwargs))

    # -- logged errors and warnings --------------------------------------

    def flushLoggedErrors(self, *errorTypes: type[BaseException]) -> list[Any]:
        """
        Take the errors logged so far during this test out of the record, so
        that they do not fail it.

        :param errorTypes: only flush failures of these exception types (all
            when none is given).
        :return: the flushed ``Failure`` objects.
        """
        if self._observer is None:
            return []
        util.collectGarbage(freeze=False)
        return self._observer.flush(*errorTypes)

    def flushWarnings(
        self, offendingFunctions: Iterable[Callable[..., Any]] | None = None
    ) -> list[dict[str, Any]]:
        """
        Take the warnings emitted so far during this test out of the record
        (unflushed warnings are re-emitted after the test) and return them.

        :param offendingFunctions: only flush warnings whose reported
            location is inside one of these functions (the caller a
            ``stacklevel`` points at).
        :return: one dict per warning, with ``message`` (the text),
            ``category``, ``filename`` and ``lineno``.
        """
        matchers = (
            [_codeLines(f) for f in offendingFunctions]
            if offendingFunctions is not None
            else None
        )
        flushed: list[dict[str, Any]] = []
        kept: list[warnings.WarningMessage] = []
        for w in self._warnings:
            if matchers is not None:
                filename = os.path.normcase(os.path.abspath(w.filename))
                if not any(
                    filename == f and w.lineno in lines for f, lines in matchers
                ):
                    kept.append(w)
                    continue
            flushed.append(
                {
                    "message": str(w.message),
                    "category": w.category,
                    "filename": w.filename,
                    "lineno": w.lineno,
                }
            )
        self._warnings[:] = kept
        return flushed

    def assertWarns(  # type: ignore[override]
        self,
        category: type[Warning],
        message: str | None = None,
        filename: str | None = None,
        f: Callable[..., _T] | None = None,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """
        Call ``f(*args, **kwargs)`` and check that it emitted a warning of
        ``category`` with the text ``message``, reported at ``filename``.

        Called with only a category it behaves as the standard library's
        context manager.

        :param category: the expected warning class.
        :param message: the expected warning text.
        :param filename: the file the warning should be attributed to.
        :param f: the callable to run.
        :return: what ``f`` returned.
        :raises FailTest: if no such warning was emitted.
        """
        if f is None:
            return super().assertWarns(
                category, *(a for a in (message, filename) if a is not None), **kwargs
            )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            value = f(*args, **kwargs)
        if not caught:
            self.fail(f"no warnings emitted by {f!r}")
        first = caught[0]
        if not issubclass(first.category, category):
            self.fail(f"warning category {first.category!r} is not {category!r}")
        if message is not None and str(first.message) != message:
            self.fail(f"warning message {str(first.message)!r} is not {message!r}")
        if filename is not None:

            def norm(p: str) -> str:
                p = os.path.normcase(os.path.abspath(p))
                return p[:-1] if p.endswith((".pyc", ".pyo")) else p

            if norm(first.filename) != norm(filename):
                self.fail(f"warning attributed to {first.filename!r}, not {filename!r}")
        return value

    def runWithWarningsSuppressed(
        self,
        suppressedWarnings: Iterable[Any],
        f: Callable[..., _T],
        *args: Any,
        **kwargs: Any,
    ) -> _T:
        """
        Call ``f(*args, **kwargs)`` with the given warnings filtered out.

        :param suppressedWarnings: ``util.suppress`` objects or
            ``(args, kwargs)`` pairs for ``warnings.filterwarnings``.
        :param f: the callable.
        :return: what ``f`` returns.
        """
        return util.runWithWarningsSuppressed(suppressedWarnings, f, *args, **kwargs)  # type: ignore[no-any-return]

    # -- helpers ---------------------------------------------------------

    def patch(self, obj: object, attribute: str, value: object) -> _Patch:
        """
        Replace ``obj.attribute`` with ``value`` for the rest of the test; the
        original is put back after the test.

        :param obj: the object (module, class, instance) to patch.
        :param attribute: the attribute name.
        :param value: the replacement.
        :return: the patch, whose ``restore()`` undoes it earlier.
        """
        patch = _Patch(obj, attribute, value)
        self.addCleanup(patch.restore)
        return patch

    def mktemp(self) -> str:
        """
        Return a new path, unique to this test and this call, under the run's
        temporary directory. Its parent directory exists; the path itself
        does not.

        :return: the absolute path.
        """
        parts = self.id().split(".")
        self._mktempCount += 1
        base = os.path.join(_getTempRoot(), *parts)
        os.makedirs(base, exist_ok=True)
        parent = tempfile.mkdtemp(dir=base)
        return os.path.join(parent, "temp")

    # -- Deferred inspection ---------------------------------------------

    def _peek(self, d: Any) -> list[object]:
        captured: list[object] = []

        def capture(result: object) -> object:
            captured.append(result)
            return result

        d.addBoth(capture)
        return captured

    def successResultOf(self, deferred: Any) -> Any:
        """
        Return the result of a Deferred that has already succeeded.

        :param deferred: the Deferred.
        :return: its result.
        :raises FailTest: if it has no result yet or failed (a failure is
            consumed).
        """
        captured = self._peek(deferred)
        if not captured:
            self.fail(
                f"Success result expected on {deferred!r}, found no result instead"
            )
        result = captured[0]
        if _isFailure(result):
            deferred.addErrback(lambda f: None)
            self.fail(
                f"Success result expected on {deferred!r}, "
                "found failure result instead:\n"
                f"{_describeFailure(result)}"
            )
        return result

    def failureResultOf(
        self, deferred: Any, *expectedExceptionTypes: type[BaseException]
    ) -> Any:
        """
        Return the ``Failure`` of a Deferred that has already failed, and
        consume it.

        :param deferred: the Deferred.
        :param expectedExceptionTypes: if given, the failure must be one of
            these.
        :return: the ``Failure``.
        :raises FailTest: if it has no result, succeeded, or failed with
            another type.
        """
        captured = self._peek(deferred)
        if not captured:
            self.fail(
                f"Failure result expected on {deferred!r}, found no result instead"
            )
        result = captured[0]
        if not _isFailure(result):
            self.fail(
                f"Failure result expected on {deferred!r}, "
                f"found success result ({result!r}) instead"
            )
        deferred.addErrback(lambda f: None)
        if expectedExceptionTypes and not result.check(*expectedExceptionTypes):  # type: ignore[attr-defined]
            names = " or ".join(
                util._fullyQualifiedName(t) for t in expectedExceptionTypes
            )
            self.fail(
                f"Failure of type ({names}) expected on {deferred!r}, found type "
                f"{util._fullyQualifiedName(result.type)} instead:\n"  # type: ignore[attr-defined]
                f"{_describeFailure(result)}"
            )
        return result

    def assertNoResult(self, deferred: Any) -> None:
        """
        Check that a Deferred has not fired yet.

        :param deferred: the Deferred.
        :raises FailTest: if it has a result (a failure is consumed).
        """
        captured = self._peek(deferred)
        if captured:
            if _isFailure(captured[0]):
                deferred.addErrback(lambda f: None)
            self.fail(
                f"No result expected on {deferred!r}, found {captured[0]!r} instead"
            )

    def assertFailure(
        self, deferred: Any, *expectedFailures: type[BaseException]
    ) -> Any:
        """
        Return a Deferred that succeeds with the exception when ``deferred``
        fails with one of ``expectedFailures``, and fails otherwise. Return it
        from a ``TestCase`` test.

        :param deferred: the Deferred to watch.
        :param expectedFailures: the acceptable exception types.
        :return: the new Deferred.
        """

        def succeeded(result: object) -> None:
            raise self.failureException(
                f"did not catch an error, instead got {result!r}"
            )

        def failed(failure: Any) -> Any:
            if failure.check(*expectedFailures):
                return failure.value
            names = ", ".join(util._fullyQualifiedName(t) for t in expectedFailures)
            raise self.failureException(
                f"Expected: ({names}). Got:\n{_describeFailure(failure)}"
            )

        return deferred.addCallbacks(succeeded, failed)

    # -- extra assertions ------------------------------------------------

    def assertRaises(  # type: ignore[override]
        self, exception: Any, f: Any = None, *args: Any, **kwargs: Any
    ) -> Any:
        """
        Check that ``f(*args, **kwargs)`` raises ``exception`` and return the
        exception; without ``f``, a context manager as in the standard
        library.

        :param exception: the exception class (or tuple of classes).
        :param f: the callable.
        :return: the raised exception.
        :raises FailTest: if nothing or something else was raised.
        """
        if f is None:
            return super().assertRaises(exception, **kwargs)
        try:
            result = f(*args, **kwargs)
        except exception as e:
            return e
        except BaseException as e:
            raise self.failureException(
                f"{exception!r} raised instead of {type(e).__name__}: {e}"
            ) from e
        raise self.failureException(f"{exception!r} not raised ({result!r} returned)")

    def assertIdentical(
        self, first: object, second: object, msg: str | None = None
    ) -> object:
        """
        Check that ``first is second``.

        :return: ``first``.
        :raises FailTest: otherwise.
        """
        if first is not second:
            raise self.failureException(msg or f"{first!r} is not {second!r}")
        return first

    def assertNotIdentical(
        self, first: object, second: object, msg: str | None = None
    ) -> object:
        """
        Check that ``first is not second``.

        :return: ``first``.
        :raises FailTest: otherwise.
        """
        if first is second:
            raise self.failureException(msg or f"{first!r} is {second!r}")
        return first

    def assertApproximates(
        self, first: float, second: float, tolerance: float, msg: str | None = None
    ) -> float:
        """
        Check that ``first`` and ``second`` differ by at most ``tolerance``.

        :return: ``first``.
        :raises FailTest: otherwise.
        """
        if abs(first - second) > tolerance:
            raise self.failureException(msg or f"{first!r} ~== {second!r}")
        return first

    def assertSubstring(
        self, substring: Any, astring: Any, msg: str | None = None
    ) -> None:
        """
        Check that ``substring`` occurs in ``astring``.

        :raises FailTest: otherwise.
        """
        if astring.find(substring) == -1:
            raise self.failureException(
                msg or f"{substring!r} not found in {astring!r}"
            )

    def assertNotSubstring(
        self, substring: Any, astring: Any, msg: str | None = None
    ) -> None:
        """
        Check that ``substring`` does not occur in ``astring``.

        :raises FailTest: otherwise.
        """
        if astring.find(substring) != -1:
            raise self.failureException(msg or f"{substring!r} found in {astring!r}")

    def assertTrue(self, condition: object, msg: Any = None) -> Any:
        """
        Check that ``condition`` is true.

        :return: ``condition``.
        :raises FailTest: otherwise.
        """
        if not condition:
            raise self.failureException(msg or f"{condition!r} is not true")
        return condition

    def assertFalse(self, condition: object, msg: Any = None) -> Any:
        """
        Check that ``condition`` is false.

        :return: ``condition``.
        :raises FailTest: otherwise.
        """
        if condition:
            raise self.failureException(msg or f"{condition!r} is not false")
        return condition

    # Twisted-era spellings, kept for familiarity.
    assert_ = assertTrue  # type: ignore[assignment]
    failUnless = assertTrue  # type: ignore[assignment]
    failIf = assertFalse  # type: ignore[assignment]
    assertEquals = pyunit.TestCase.assertEqual
    assertNotEquals = pyunit.TestCase.assertNotEqual
    failUnlessEqual = pyunit.TestCase.assertEqual
    failIfEqual = pyunit.TestCase.assertNotEqual
    failUnlessIdentical = assertIdentical
    failIfIdentical = assertNotIdentical
    failUnlessRaises = assertRaises  # type: ignore[assignment]
    failUnlessSubstring = assertSubstring
    failIfSubstring = assertNotSubstring
    failUnlessApproximates = assertApproximates
    failUnlessFailure = assertFailure
    assertIn = pyunit.TestCase.assertIn
    failUnlessIn = pyunit.TestCase.assertIn
    failIfIn = pyunit.TestCase.assertNotIn


def _describeFailure(failure: Any) -> str:
    getTraceback = getattr(failure, "getTraceback", None)
    if getTraceback is not None:
        try:
            return str(getTraceback())
        except Exception:
            pass
    return repr(getattr(failure, "value", failure))


def _acceptsExtra(method: Callable[..., Any], count: int) -> bool:
    try:
        sig = inspect.signature(method)
    except (TypeError, ValueError):
        return False
    params = list(sig.parameters.values())
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    positional = [
        p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) >= count


def _addExpectedFailure(result: Any, test: Any, err: ExcInfo, todo: Todo) -> None:
    method = getattr(result, "addExpectedFailure", None)
    if method is None:
        result.addSuccess(test)
    elif _acceptsExtra(method, 3):
        method(test, err, todo)
    else:
        method(test, err)


def _addUnexpectedSuccess(result: Any, test: Any, todo: Todo) -> None:
    method = getattr(result, "addUnexpectedSuccess", None)
    if method is None:
        result.addFailure(
            test, _makeError(FailTest(f"unexpected success: {todo.reason}"))
        )
    elif _acceptsExtra(method, 2):
        method(test, todo)
    else:
        method(test)


class TestCase(SynchronousTestCase):
    """
    A test case for asynchronous code, run with the global reactor.

    The test method, ``setUp``, ``tearDown`` and cleanups may return a
    Deferred or be ``async def``; the test waits, turning the reactor, until
    each fires. Each wait is bounded by the test's ``timeout`` (seconds; from
    the method, class or module, default ``util.DEFAULT_TIMEOUT_DURATION``):
    past it the Deferred is cancelled and the test errors with the elapsed
    time and what it was waiting on.

    After the test and its cleanups, the reactor must be clean: pending
    delayed calls, registered readers or writers (sockets, ports) and
    threads the test started fail it with ``util.DirtyReactorAggregateError``
    and are cleaned up.
    """

    def __init__(self, methodName: str = "runTest") -> None:
        super().__init__(methodName)
        self._threadsBefore: list[threading.Thread] = []
        self._callTracker: _spin.CallTracker | None = None

    def _runFixturesAndTest(self, outcome: _Outcome) -> None:
        self._threadsBefore = threading.enumerate()
        self._callTracker = _spin.CallTracker(_spin.getReactor())
        self._callTracker.install()
        try:
            super()._runFixturesAndTest(outcome)
        finally:
            self._callTracker.uninstall()
            self._threadsBefore = []

    def _settle(self, outcome: _Outcome, phase: str, value: object) -> bool:
        if inspect.iscoroutine(value) or (
            not _isDeferred(value) and inspect.isawaitable(value)
        ):
            value = _deferredFromAwaitable(value)
        if not _isDeferred(value):
            return True
        reactor = _spin.getReactor()
        timeout = self.getTimeout()
        waited = _spin.waitForDeferred(reactor, value, timeout)
        if not waited.finished:
            what = waited.description
            coro = getattr(self, "_trialCoroutine", None)
            if coro is not None:
                what = f"{what} (running {coro!r})"
            self._record(
                outcome,
                _timeoutErrorClass()(
                    f"{self.id()} ({phase}) timed out after {waited.elapsed:.3f} "
                    f"seconds (timeout {timeout:g}), waiting on {what}"
                ),
            )
            return False
        if _isFailure(waited.result):
            self._record(outcome, waited.result)
            return False
        return True

    def _runPhase(
        self,
        outcome: _Outcome,
        phase: str,
        f: Callable[..., Any],
        *args: Any,
        **kwargs: Any,
    ) -> bool:
        self._trialCoroutine = None
        try:
            value = f(*args, **kwargs)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as e:
            self._record(outcome, e)
            return False
        if inspect.iscoroutine(value):
            self._trialCoroutine = value
        try:
            return self._settle(outcome, phase, value)
        finally:
            self._trialCoroutine = None

    def _afterTest(self, outcome: _Outcome) -> None:
        tracker = self._callTracker
        if tracker is None:
            return
        dirty = util.checkReactorClean(
            tracker.reactor, self._threadsBefore, tracker.describe
        )
        if dirty is not None:
            outcome.problems.append((False, _makeError(dirty)))


def _deferredFromAwaitable(value: Awaitable[Any]) -> Any:
    from torsion.internet import defer

    if not inspect.iscoroutine(value):

        async def wrap() -> Any:
            return await value

        value = wrap()
    coro: Coroutine[Any, Any, Any] = value
    ensure = getattr(defer, "ensureDeferred", None)
    if ensure is not None:
        return ensure(coro)
    return defer.Deferred.fromCoroutine(coro)
