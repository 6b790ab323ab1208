"""
torsion-trial's pytest plugin, exercised with pytest's ``pytester``: trial
test cases keep their semantics under pytest, plain ``async def`` tests and
tests returning Deferreds run on the torsion reactor, and tests that do not
use the plugin are left alone.
"""

from types import SimpleNamespace

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def standaloneRuns(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Each inner pytest run is a session of its own: when this suite runs
    under pytest-xdist, the worker's environment must not tell the inner run
    (and plugins such as pytest-benchmark) that it is an xdist worker.
    """
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)


def test_outcomes(pytester: pytest.Pytester, suites: SimpleNamespace) -> None:
    """
    Every outcome of the sample suite is reported as such by pytest:
    timeouts, a dirty reactor and logged errors fail their tests.
    """
    pytester.makepyfile(test_outcomes=suites.outcomes.read_text())
    result = pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=5, skipped=1, xfailed=1)
    result.stdout.fnmatch_lines(
        [
            "PASSED test_outcomes.py::Outcomes::test_pass",
            "FAILED test_outcomes.py::Outcomes::test_dirty - *",
            "FAILED test_outcomes.py::Outcomes::test_error - *",
            "FAILED test_outcomes.py::Outcomes::test_fail - *",
            "FAILED test_outcomes.py::Outcomes::test_logged - *",
            "FAILED test_outcomes.py::Outcomes::test_timeout - *",
        ],
        consecutive=False,
    )
    for text in (
        "E *torsion.trial.util.DirtyReactorAggregateError: Reactor was unclean.",
        "E *RuntimeError: error text 5678",
        "E *torsion.trial.unittest.FailTest: failure text 1234",
        "E *ValueError: logged text 9012",
        "E *torsion.internet.defer.TimeoutError: *test_timeout* timed out after *",
    ):
        result.stdout.fnmatch_lines([text])
    result.stdout.fnmatch_lines(["*SKIPPED*skip reason text*"])
    result.stdout.fnmatch_lines(["*XFAIL*test_todo*todo reason text*"])


def test_asyncAndDeferredFunctions(pytester: pytest.Pytester) -> None:
    """
    Plain ``async def`` tests and plain tests returning a Deferred run on
    the torsion reactor; the ``reactor`` fixture is the global reactor.
    """
    pytester.makepyfile(
        """
        from torsion.internet import defer, task

        async def test_async(reactor):
            from torsion.internet import reactor as globalReactor
            assert reactor is globalReactor
            value = await task.deferLater(reactor, 0.01, lambda: 7)
            assert value == 7

        def test_deferred(reactor):
            d = defer.Deferred()
            reactor.callLater(0.01, d.callback, 3)
            return d.addCallback(lambda v: v == 3 or 1 / 0)

        async def test_asyncFails(reactor):
            await task.deferLater(reactor, 0, lambda: None)
            raise KeyError("async failure 1357")

        def test_deferredFails(reactor):
            d = defer.Deferred()
            reactor.callLater(0, d.errback, ValueError("deferred failure 2468"))
            return d

        async def test_asyncTimeout(reactor):
            await defer.Deferred()
        test_asyncTimeout.timeout = 0.1

        async def test_asyncDirty(reactor):
            reactor.callLater(3600, lambda: None)

        def test_plain():
            assert 1 + 1 == 2
        """
    )
    result = pytester.runpytest_subprocess("-rA", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, failed=4)
    result.stdout.fnmatch_lines(
        [
            "PASSED test_asyncAndDeferredFunctions.py::test_async",
            "PASSED test_asyncAndDeferredFunctions.py::test_deferred",
            "PASSED test_asyncAndDeferredFunctions.py::test_plain",
        ],
        consecutive=False,
    )
    result.stdout.fnmatch_lines(
        [
            "FAILED *::test_asyncFails - *",
            "FAILED *::test_deferredFails - *",
            "FAILED *::test_asyncTimeout - *",
            "FAILED *::test_asyncDirty - *",
        ],
        consecutive=False,
    )
    for text in (
        "E *KeyError: 'async failure 1357'",
        "E *ValueError: deferred failure 2468",
        "E **test_asyncTimeout timed out after * waiting on *coroutine*",
        "E *torsion.trial.util.DirtyReactorAggregateError: Reactor was unclean.",
    ):
        result.stdout.fnmatch_lines([text])


def test_inertUnderOwnConftest(pytester: pytest.Pytester) -> None:
    """
    Below a conftest that provides its own ``reactor`` fixture and calls its
    own tests, the plugin neither replaces the fixture nor drives the tests.
    """
    pytester.makeconftest(
        """
        import inspect
        import pytest

        CALLS = []

        @pytest.fixture
        def reactor():
            return "conftest reactor"

        @pytest.hookimpl(tryfirst=True)
        def pytest_pyfunc_call(pyfuncitem):
            if inspect.iscoroutinefunction(pyfuncitem.obj):
                CALLS.append(pyfuncitem.name)
                coro = pyfuncitem.obj(**{
                    name: pyfuncitem.funcargs[name]
                    for name in pyfuncitem._fixtureinfo.argnames
                })
                try:
                    coro.send(None)
                except StopIteration:
                    return True
                raise AssertionError("expected the coroutine to finish")
        """
    )
    pytester.makepyfile(
        """
        import conftest

        def test_fixture(reactor):
            assert reactor == "conftest reactor"

        async def test_ownAsync(reactor):
            assert reactor == "conftest reactor"

        def test_calledByConftest():
            assert conftest.CALLS == ["test_ownAsync"]
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_synchronousHelpers(pytester: pytest.Pytester) -> None:
    """
    ``SynchronousTestCase`` helpers work under pytest: patch is undone,
    logged errors can be flushed, warnings flushed.
    """
    pytester.makepyfile(
        """
        import os
        import warnings
        from torsion.python import log
        from torsion.trial import unittest

        ORIGINAL = os.sep

        class Helpers(unittest.SynchronousTestCase):
            def test_a_patch(self):
                self.patch(os, "sep", "!")
                self.assertEqual(os.sep, "!")

            def test_b_patchUndone(self):
                self.assertEqual(os.sep, ORIGINAL)

            def test_flushed(self):
                log.err(ZeroDivisionError("flushed"))
                self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

            def test_warning(self):
                warnings.warn("careful", DeprecationWarning)
                [w] = self.flushWarnings([Helpers.test_warning])
                self.assertEqual(w["message"], "careful")
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-W", "error")
    result.assert_outcomes(passed=4)
