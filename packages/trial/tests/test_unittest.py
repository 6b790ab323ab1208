"""
``torsion.trial.unittest``: test cases run in-process against a plain
``unittest.TestResult``-compatible reporter, and their helpers.
"""

import io
import os
import sys
import threading
import types
import warnings
from typing import NoReturn, cast

import pytest

from torsion.internet import defer
from torsion.python import log
from torsion.trial import reporter, unittest, util


def run(
    case_class: type[unittest.SynchronousTestCase], *names: str
) -> reporter.Reporter:
    """
    Run the named tests of a class and return the reporter.
    """
    result = reporter.Reporter(stream=io.StringIO())
    for name in names:
        case_class(name).run(result)
    return result


def only(result: reporter.Reporter) -> str:
    """
    The single status the reporter counted.
    """
    statuses = [s for s, n in result.counts.items() if n]
    assert len(statuses) == 1, result.counts
    return statuses[0]


# -- outcomes ----------------------------------------------------------


def test_skipAttributes() -> None:
    """
    ``skip`` on the method or the class, ``SkipTest`` raised in setUp or the
    test, and ``unittest.skip`` all skip.
    """

    class Skips(unittest.SynchronousTestCase):
        def test_method(self) -> None:
            raise AssertionError("must not run")

        test_method.__dict__["skip"] = "method reason"

        def test_raised(self) -> None:
            self.skipTest("raised reason")

    class SkipClass(unittest.SynchronousTestCase):
        skip = "class reason"

        def test_it(self) -> None:
            raise AssertionError("must not run")

    class SkipInSetUp(unittest.SynchronousTestCase):
        def setUp(self) -> None:
            raise unittest.SkipTest("setUp reason")

        def test_it(self) -> None:
            raise AssertionError("must not run")

    result = run(Skips, "test_method", "test_raised")
    assert [r for _, r in result.skips] == ["method reason", "raised reason"]
    result = run(SkipClass, "test_it")
    assert [r for _, r in result.skips] == ["class reason"]
    result = run(SkipInSetUp, "test_it")
    assert [r for _, r in result.skips] == ["setUp reason"]


def test_skipModuleAttribute() -> None:
    """
    ``skip`` on the test's module skips every test in it.
    """
    module = types.ModuleType("skipped_module_for_trial")
    module.__dict__["skip"] = "module reason"
    sys.modules[module.__name__] = module
    try:

        class InModule(unittest.SynchronousTestCase):
            def test_it(self) -> None:
                raise AssertionError("must not run")

        InModule.__module__ = module.__name__
        result = run(InModule, "test_it")
        assert [r for _, r in result.skips] == ["module reason"]
    finally:
        del sys.modules[module.__name__]


def test_todoWithErrorTypes() -> None:
    """
    A ``todo`` naming exception types expects only those: another error is
    a real error.
    """

    class Todos(unittest.SynchronousTestCase):
        def test_expected(self) -> None:
            raise KeyError("x")

        test_expected.__dict__["todo"] = (KeyError, "known bug")

        def test_other(self) -> None:
            raise ValueError("x")

        test_other.__dict__["todo"] = ((KeyError, IndexError), "known bug")

    assert only(run(Todos, "test_expected")) == "TODO"
    result = run(Todos, "test_other")
    assert only(result) == "ERROR"
    assert result.errors[0][1][0] is ValueError


def test_badTodo() -> None:
    class BadTodo(unittest.SynchronousTestCase):
        todo = 42

        def test_it(self) -> None:
            pass

    result = run(BadTodo, "test_it")
    assert only(result) == "ERROR"
    assert result.errors[0][1][0] is TypeError


def test_errorsInTearDownAndCleanups() -> None:
    """
    A failing test whose tearDown and cleanup also fail reports all three;
    cleanups run even when setUp fails, last-added first.
    """
    order: list[str] = []

    class Many(unittest.SynchronousTestCase):
        def setUp(self) -> None:
            self.addCleanup(order.append, "first added")
            self.addCleanup(order.append, "second added")

        def test_it(self) -> None:
            self.addCleanup(lambda: 1 / 0)
            self.fail("in test")

        def tearDown(self) -> None:
            raise KeyError("in tearDown")

    class SetUpFails(unittest.SynchronousTestCase):
        def setUp(self) -> None:
            self.addCleanup(order.append, "cleanup after failed setUp")
            raise RuntimeError("in setUp")

        def test_it(self) -> None:
            order.append("test ran")

        def tearDown(self) -> None:
            order.append("tearDown ran")

    result = run(Many, "test_it")
    assert only(result) == "ERROR"
    assert [e[0] for _, e in result.failures] == [unittest.FailTest]
    assert [e[0] for _, e in result.errors] == [KeyError, ZeroDivisionError]
    assert order == ["second added", "first added"]
    order.clear()
    result = run(SetUpFails, "test_it")
    assert order == ["cleanup after failed setUp"]
    assert [e[0] for _, e in result.errors] == [RuntimeError]


def test_loggedErrorFailsTest() -> None:
    """
    An error logged during a test fails it, unless flushed.
    """

    class Logs(unittest.SynchronousTestCase):
        def test_logged(self) -> None:
            log.err(ValueError("logged"))

        def test_flushed(self) -> None:
            log.err(ValueError("logged"))
            log.err(KeyError("logged"))
            self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)
            self.assertEqual(len(self.flushLoggedErrors()), 1)

        def test_unhandledDeferred(self) -> None:
            defer.fail(ZeroDivisionError("dropped"))

    result = run(Logs, "test_logged")
    assert only(result) == "ERROR"
    assert result.errors[0][1][0] is ValueError
    assert only(run(Logs, "test_flushed")) == "OK"
    result = run(Logs, "test_unhandledDeferred")
    assert only(result) == "ERROR"
    assert result.errors[0][1][0] is ZeroDivisionError


def test_synchronousRejectsAsync() -> None:
    """
    ``SynchronousTestCase`` refuses ``async def`` tests and unfired
    Deferreds, saying to use ``TestCase``; fired Deferreds are accepted.
    """

    class Sync(unittest.SynchronousTestCase):
        async def test_async(self) -> None:
            pass

        def test_unfired(self) -> defer.Deferred[None]:
            return defer.Deferred()

        def test_fired(self) -> defer.Deferred[None]:
            return defer.succeed(None)

        def test_firedFailure(self) -> defer.Deferred[None]:
            return defer.fail(KeyError("k"))

    result = run(Sync, "test_async", "test_unfired")
    assert len(result.errors) == 2
    for _, err in result.errors:
        assert "use torsion.trial.unittest.TestCase" in str(err[1])
    assert only(run(Sync, "test_fired")) == "OK"
    assert run(Sync, "test_firedFailure").errors[0][1][0] is KeyError


# -- TestCase and the reactor ----------------------------------------------


def test_asyncFixtures() -> None:
    """
    setUp, the test, tearDown and cleanups may be ``async def`` or return
    Deferreds; each is waited for in order.
    """
    from torsion.internet import interfaces, reactor, task

    clock = cast(interfaces.IReactorTime, reactor)
    order: list[str] = []

    class Async(unittest.TestCase):
        # Trial waits for what setUp and tearDown return; the standard
        # library's TestCase declares them returning None.
        async def setUp(self) -> None:  # type: ignore[override]
            await task.deferLater(clock, 0, order.append, "setUp")
            self.addCleanup(self.cleanup)

        def cleanup(self) -> defer.Deferred[None]:
            return task.deferLater(clock, 0, order.append, "cleanup")

        async def test_it(self) -> None:
            await task.deferLater(clock, 0.01, order.append, "test")

        def tearDown(self) -> defer.Deferred[None]:  # type: ignore[override]
            return task.deferLater(clock, 0, order.append, "tearDown")

    assert only(run(Async, "test_it")) == "OK"
    assert order == ["setUp", "test", "tearDown", "cleanup"]


def test_timeoutAttributes() -> None:
    """
    ``timeout`` on the class applies to its tests; the error names the
    elapsed time and what the test was waiting on; cleanups still run.
    """
    cleaned: list[bool] = []

    class Slow(unittest.TestCase):
        timeout = 0.05

        async def test_it(self) -> None:
            self.addCleanup(cleaned.append, True)
            await defer.Deferred()

    result = run(Slow, "test_it")
    assert only(result) == "ERROR"
    err = result.errors[0][1]
    assert issubclass(err[0], defer.TimeoutError)
    message = str(err[1])
    assert "timed out after 0.0" in message
    assert "coroutine" in message and "test_it" in message
    assert cleaned == [True]


def test_timeoutDefault() -> None:
    """
    Without a ``timeout`` attribute the default applies.
    """

    class Plain(unittest.TestCase):
        def test_it(self) -> None:
            pass

    assert Plain("test_it").getTimeout() == util.DEFAULT_TIMEOUT_DURATION == 120.0


def test_dirtyDelayedCallCleaned() -> None:
    """
    A leftover delayed call fails the test, names where it was scheduled,
    and is cancelled so the next test starts clean.
    """
    from torsion.internet import reactor

    class Dirty(unittest.TestCase):
        def test_dirty(self) -> None:
            self.call = reactor.callLater(3600, lambda: None)

        def test_clean(self) -> None:
            pass

    case = Dirty("test_dirty")
    result = reporter.Reporter(stream=io.StringIO())
    case.run(result)
    assert only(result) == "ERROR"
    err = result.errors[0][1][1]
    assert isinstance(err, util.DirtyReactorAggregateError)
    assert len(err.delayedCalls) == 1
    assert "test_dirty" in err.delayedCalls[0]
    assert not case.call.active()
    assert only(run(Dirty, "test_clean")) == "OK"


def test_dirtyListeningPortCleaned() -> None:
    """
    A listening port left open fails the test and is closed.
    """
    from torsion.internet import protocol, reactor

    class Port(unittest.TestCase):
        def test_leak(self) -> None:
            self.port = reactor.listenTCP(0, protocol.Factory(), interface="127.0.0.1")

    case = Port("test_leak")
    result = reporter.Reporter(stream=io.StringIO())
    case.run(result)
    assert only(result) == "ERROR"
    err = result.errors[0][1][1]
    assert isinstance(err, util.DirtyReactorAggregateError)
    assert len(err.selectables) == 1
    assert case.port not in reactor.getReaders()


def test_closedPortIsClean() -> None:
    """
    A port closed by the test (a Deferred awaited) leaves the reactor clean.
    """
    from torsion.internet import interfaces, protocol, reactor

    tcp = cast(interfaces.IReactorTCP, reactor)

    class Port(unittest.TestCase):
        def test_closed(self) -> defer.Deferred[None]:
            port = tcp.listenTCP(0, protocol.Factory(), interface="127.0.0.1")
            stopped = port.stopListening()
            assert isinstance(stopped, defer.Deferred)
            return stopped

    assert only(run(Port, "test_closed")) == "OK"


def test_dirtyThread() -> None:
    """
    A thread started by the test and still running after it fails the test.
    """
    release = threading.Event()

    class Threads(unittest.TestCase):
        def test_leak(self) -> None:
            threading.Thread(target=release.wait, name="leaky-thread").start()

    try:
        result = run(Threads, "test_leak")
    finally:
        release.set()
    assert only(result) == "ERROR"
    err = result.errors[0][1][1]
    assert "leaky-thread" in err.threads[0]


def test_deferToThreadIsClean() -> None:
    """
    The reactor's own thread pool does not count as a leftover.
    """
    from torsion.internet import threads

    class Pool(unittest.TestCase):
        def test_it(self) -> defer.Deferred[None]:
            return threads.deferToThread(lambda: 5).addCallback(self.assertEqual, 5)

    assert only(run(Pool, "test_it")) == "OK"


def test_failedDeferredTraceback() -> None:
    """
    A test whose Deferred fails reports the failure's traceback.
    """

    def broken(_: None) -> NoReturn:
        raise LookupError("deep inside")

    class Fails(unittest.TestCase):
        def test_it(self) -> defer.Deferred[NoReturn]:
            return defer.succeed(None).addCallback(broken)

    stream = io.StringIO()
    result = reporter.TextReporter(stream=stream)
    Fails("test_it").run(result)
    result.done()
    output = stream.getvalue()
    assert "LookupError: deep inside" in output
    assert "in broken" in output


# -- helpers and assertions --------------------------------------------------


class Helpers(unittest.SynchronousTestCase):
    """
    Not collected by pytest (a SynchronousTestCase would be); instances are
    used directly as assertion holders.
    """

    __test__ = False

    def runTest(self) -> None:
        pass


def test_successResultOf() -> None:
    case = Helpers()
    assert case.successResultOf(defer.succeed(3)) == 3
    with pytest.raises(unittest.FailTest, match="no result"):
        case.successResultOf(defer.Deferred())
    d = defer.fail(KeyError("k"))
    with pytest.raises(unittest.FailTest, match="KeyError"):
        case.successResultOf(d)
    d = defer.succeed(4)
    case.successResultOf(d)
    assert case.successResultOf(d) == 4


def test_failureResultOf() -> None:
    case = Helpers()
    failure = case.failureResultOf(defer.fail(KeyError("k")), KeyError)
    assert failure.check(KeyError)
    with pytest.raises(unittest.FailTest, match="KeyError"):
        case.failureResultOf(defer.fail(KeyError("k")), ValueError)
    with pytest.raises(unittest.FailTest, match="success result"):
        case.failureResultOf(defer.succeed(1))
    with pytest.raises(unittest.FailTest, match="no result"):
        case.failureResultOf(defer.Deferred())


def test_assertNoResult() -> None:
    case = Helpers()
    d: defer.Deferred[int] = defer.Deferred()
    case.assertNoResult(d)
    d.callback(8)
    assert case.successResultOf(d) == 8
    with pytest.raises(unittest.FailTest, match="8"):
        case.assertNoResult(d)


def test_assertFailure() -> None:
    case = Helpers()
    d = case.assertFailure(defer.fail(KeyError("k")), KeyError)
    assert isinstance(case.successResultOf(d), KeyError)
    d = case.assertFailure(defer.succeed(1), KeyError)
    assert case.failureResultOf(d, unittest.FailTest)
    d = case.assertFailure(defer.fail(ValueError("v")), KeyError)
    assert case.failureResultOf(d, unittest.FailTest)


def test_assertions() -> None:
    case = Helpers()
    obj = object()
    assert case.assertIdentical(obj, obj) is obj
    with pytest.raises(unittest.FailTest):
        case.assertIdentical(obj, object())
    with pytest.raises(unittest.FailTest):
        case.assertNotIdentical(obj, obj)
    assert case.assertApproximates(1.0, 1.05, 0.1) == 1.0
    with pytest.raises(unittest.FailTest):
        case.assertApproximates(1.0, 1.5, 0.1)
    case.assertSubstring("b", "abc")
    with pytest.raises(unittest.FailTest):
        case.assertSubstring("x", "abc")
    case.assertNotSubstring("x", "abc")
    with pytest.raises(unittest.FailTest):
        case.assertNotSubstring(b"b", b"abc")
    case.assertIsInstance(1, int)
    assert case.assertTrue(5) == 5
    assert case.failUnless(5) == 5
    assert case.assert_(5) == 5
    with pytest.raises(unittest.FailTest):
        case.failIf(1)
    case.failUnlessEqual(1, 1)
    with pytest.raises(unittest.FailTest):
        case.failIfEqual(1, 1)
    case.failUnlessSubstring("a", "a")
    assert case.failUnlessIdentical(obj, obj) is obj


def test_assertRaises() -> None:
    """
    Called with a callable, ``assertRaises`` returns the exception; without,
    it is the standard context manager.
    """
    case = Helpers()
    e = case.assertRaises(KeyError, {}.__getitem__, "x")
    assert isinstance(e, KeyError)
    with pytest.raises(unittest.FailTest, match="not raised"):
        case.assertRaises(KeyError, lambda: 1)
    with pytest.raises(unittest.FailTest, match="ValueError"):
        case.assertRaises(KeyError, int, "x")
    with case.assertRaises(ZeroDivisionError):
        _ = 1 / 0
    assert isinstance(case.failUnlessRaises(KeyError, {}.pop, "x"), KeyError)


def deprecatedCall() -> str:
    warnings.warn("old thing", DeprecationWarning, stacklevel=2)
    return "value"


def test_assertWarns() -> None:
    """
    ``assertWarns`` checks category, text and the file the warning is
    attributed to (here the lambda calling the deprecated function).
    """
    case = Helpers()

    def call() -> str:
        return deprecatedCall()

    result = case.assertWarns(DeprecationWarning, "old thing", __file__, call)
    assert result == "value"
    with pytest.raises(unittest.FailTest, match="message"):
        case.assertWarns(DeprecationWarning, "other", __file__, call)
    with pytest.raises(unittest.FailTest, match="category"):
        case.assertWarns(UserWarning, "old thing", __file__, call)
    with pytest.raises(unittest.FailTest, match="attributed"):
        case.assertWarns(
            DeprecationWarning, "old thing", "elsewhere.py", deprecatedCall
        )
    with pytest.raises(unittest.FailTest, match="no warnings"):
        case.assertWarns(DeprecationWarning, "old thing", __file__, lambda: None)


def test_flushWarnings() -> None:
    """
    Warnings are recorded per test; ``flushWarnings`` filters by offending
    function; unflushed warnings are re-emitted after the test.
    """

    class Warns(unittest.SynchronousTestCase):
        def test_flushed(self) -> None:
            deprecatedCall()
            warnings.warn("mine", UserWarning, stacklevel=1)
            flushed = self.flushWarnings([Warns.test_flushed])
            self.assertEqual(
                [(w["message"], w["category"]) for w in flushed],
                [("old thing", DeprecationWarning), ("mine", UserWarning)],
            )
            self.assertEqual(self.flushWarnings(), [])

        def test_unflushed(self) -> None:
            warnings.warn("left over 777", UserWarning, stacklevel=1)

        def test_otherFunction(self) -> None:
            deprecatedCall()
            self.assertEqual(self.flushWarnings([test_flushWarnings]), [])
            self.assertEqual(len(self.flushWarnings()), 1)

    assert only(run(Warns, "test_flushed", "test_otherFunction")) == "OK"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(Warns, "test_unflushed")
    assert [str(w.message) for w in caught] == ["left over 777"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = run(Warns, "test_unflushed")
    assert only(result) == "ERROR"


def test_suppress() -> None:
    """
    ``suppress`` silences matching warnings during the test.
    """

    class Suppressed(unittest.SynchronousTestCase):
        suppress = [util.suppress(category=UserWarning, message="quiet.*")]

        def test_it(self) -> None:
            warnings.warn("quiet please", UserWarning, stacklevel=1)
            warnings.warn("loud", UserWarning, stacklevel=1)
            self.assertEqual([w["message"] for w in self.flushWarnings()], ["loud"])

    assert only(run(Suppressed, "test_it")) == "OK"
    case = Helpers()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = case.runWithWarningsSuppressed(
            [util.suppress(category=DeprecationWarning)], deprecatedCall
        )
    assert value == "value"
    assert caught == []


def test_patch() -> None:
    """
    ``patch`` replaces an attribute for the test and restores it after.
    """
    target = types.SimpleNamespace(value=1)

    class Patches(unittest.SynchronousTestCase):
        def test_it(self) -> None:
            self.patch(target, "value", 2)
            self.patch(target, "added", 3)
            self.assertEqual((target.value, target.added), (2, 3))

    assert only(run(Patches, "test_it")) == "OK"
    assert target.value == 1
    assert not hasattr(target, "added")


def test_mktemp() -> None:
    """
    ``mktemp`` gives a new path each call, whose parent exists.
    """
    paths = [Helpers().mktemp() for _ in range(3)]
    assert len(set(paths)) == 3
    for path in paths:
        assert os.path.isabs(path)
        assert os.path.isdir(os.path.dirname(path))
        assert not os.path.exists(path)


def test_dirtyReactorErrorText() -> None:
    err = util.DirtyReactorAggregateError(["call A"], ["port B"], ["thread C"])
    text = str(err)
    assert "call A" in text and "port B" in text and "thread C" in text


def test_acquireAttribute() -> None:
    a = types.SimpleNamespace(x=1)
    b = types.SimpleNamespace(x=2, y=3)
    assert util.acquireAttribute([a, b], "x") == 1
    assert util.acquireAttribute([a, b], "y") == 3
    assert util.acquireAttribute([a, b], "z", None) is None
    with pytest.raises(AttributeError):
        util.acquireAttribute([a, b], "z")
