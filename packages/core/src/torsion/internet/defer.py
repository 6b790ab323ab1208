"""
Deferreds: results that are not ready yet.

A ``Deferred`` stands for the outcome of an operation that has not finished.
Code that wants the outcome attaches callbacks (run with the result) and
errbacks (run with a ``Failure`` if the operation failed); the code doing the
operation later fires the Deferred with ``callback(result)`` or
``errback(failure)``.  Each callback's return value becomes the input of the
next, so a Deferred carries a chain of processing steps::

    d = getPage(url)
    d.addCallback(parseHTML)
    d.addErrback(logAndReturnDefault)

Deferreds are also awaitable: an ``async def`` function driven by
``ensureDeferred`` (or a generator decorated with ``inlineCallbacks``) can
``await`` (``yield``) a Deferred and get its result, or its exception raised
in place.
"""

from __future__ import annotations

import asyncio
import functools
import sys
import traceback
import types
from collections.abc import (
    Callable,
    Coroutine,
    Generator,
    Iterable,
    Sequence,
)
from typing import (
    TYPE_CHECKING,
    Any,
    Concatenate,
    Generic,
    Literal,
    NoReturn,
    ParamSpec,
    Protocol,
    TypeVar,
    cast,
    overload,
)

from torsion.python.failure import Failure, _hideFramesOf

if TYPE_CHECKING:
    from typing import Self

__all__ = [
    "AlreadyCalledError",
    "AlreadyTryingToLockError",
    "CancelledError",
    "Deferred",
    "DeferredList",
    "DeferredLock",
    "DeferredQueue",
    "DeferredSemaphore",
    "FailureGroup",
    "FirstError",
    "NotACoroutineError",
    "QueueOverflow",
    "QueueUnderflow",
    "TimeoutError",
    "ensureDeferred",
    "fail",
    "gatherResults",
    "getDebugging",
    "inlineCallbacks",
    "logError",
    "maybeDeferred",
    "passthru",
    "race",
    "returnValue",
    "setDebugging",
    "succeed",
]

_T = TypeVar("_T")
_SelfResultT = TypeVar("_SelfResultT")
_NextResultT = TypeVar("_NextResultT")
_P = ParamSpec("_P")


# -- errors -------------------------------------------------------------------


class AlreadyCalledError(Exception):
    """
    ``callback`` or ``errback`` was called on a Deferred that has already
    been fired.  With ``setDebugging(True)`` the message tells where the
    Deferred was created and where it was first fired.
    """


class CancelledError(Exception):
    """
    The operation a Deferred stood for was cancelled with
    ``Deferred.cancel()``.
    """


class TimeoutError(Exception):
    """
    A Deferred given a deadline with ``Deferred.addTimeout`` did not fire in
    time.  ``args`` are ``(timeout, "Deferred")``.
    """


class NotACoroutineError(TypeError):
    """
    ``ensureDeferred`` was given something that is neither a coroutine, a
    generator-based coroutine nor a Deferred.
    """


class FirstError(Exception):
    """
    The first failure among a ``DeferredList`` created with
    ``fireOnOneErrback=True`` (and so of ``gatherResults``).

    :ivar subFailure: the ``Failure`` that occurred.
    :ivar index: the position, in the list given, of the Deferred that
        failed.
    """

    def __init__(self, failure: Failure, index: int) -> None:
        """
        :param failure: the failure that occurred.
        :param index: the position of the Deferred that produced it.
        """
        super().__init__(failure, index)
        self.subFailure = failure
        self.index = index

    def __repr__(self) -> str:
        return f"FirstError[#{self.index}, {self.subFailure!r}]"

    def __str__(self) -> str:
        return f"FirstError[#{self.index}, {self.subFailure}]"


class FailureGroup(Exception):
    """
    Every Deferred given to ``race`` failed.

    :ivar failures: the ``Failure`` of each Deferred, in the order given.
    """

    def __init__(self, failures: Sequence[Failure]) -> None:
        """
        :param failures: one ``Failure`` per Deferred, in order.
        """
        super().__init__(failures)
        self.failures = list(failures)


class QueueOverflow(Exception):
    """
    ``DeferredQueue.put`` was called on a queue already holding ``size``
    objects.
    """


class QueueUnderflow(Exception):
    """
    ``DeferredQueue.get`` was called while ``backlog`` callers were already
    waiting.
    """


class AlreadyTryingToLockError(Exception):
    """
    Kept for compatibility; raised by nothing in torsion.
    """


# -- debugging ------------------------------------------------------------------


def setDebugging(on: bool) -> None:
    """
    Turn Deferred debugging on or off.

    With debugging on, every new Deferred records the stack at its creation
    and at its first firing; ``AlreadyCalledError`` and the report of an
    unhandled failure then include both.  It costs time: use it while
    hunting a bug, not in production.

    :param on: ``True`` to turn debugging on.
    """
    Deferred.debug = bool(on)


def getDebugging() -> bool:
    """
    :return: whether Deferred debugging is on (see ``setDebugging``).
    """
    return Deferred.debug


class _DebugInfo:
    """
    What is known about a Deferred for diagnostics; it also reports a
    failure nobody handled when it is garbage collected along with its
    Deferred.

    Kept apart from the Deferred so that the Deferred itself needs no
    ``__del__`` (it is only allocated in debug mode or when a chain ends in
    a failure).
    """

    __slots__ = ("creator", "failResult", "invoker")

    def __init__(self) -> None:
        self.creator: list[str] | None = None
        self.invoker: list[str] | None = None
        self.failResult: Failure | None = None

    def describe(self) -> str:
        parts = []
        if self.creator is not None:
            parts.append(" C: Deferred was created:\n C:" + " C:".join(self.creator))
        if self.invoker is not None:
            parts.append(" I: First Invoker was:\n I:" + " I:".join(self.invoker))
        return "\n".join(parts)

    def __del__(self) -> None:
        failure = self.failResult
        if failure is None:
            return
        self.failResult = None
        _logUnhandled(failure, self.describe())


def _logUnhandled(failure: Failure, debugInfo: str) -> None:
    """
    Report a failure left at the end of a garbage-collected Deferred.
    """
    try:
        from torsion.logger import Logger

        extra: dict[str, Any] = {"debugInfo": debugInfo} if debugInfo else {}
        Logger(namespace="torsion.internet.defer").failure(
            "Unhandled error in Deferred:", failure=failure, **extra
        )
    except BaseException:
        # Logging itself is broken (or the interpreter is shutting down):
        # still tell someone.
        try:
            sys.stderr.write(
                "Unhandled error in Deferred:\n" + failure.getTraceback() + debugInfo
            )
        except BaseException:
            pass


# -- the Deferred ------------------------------------------------------------------


def _passthrough(result: _T) -> _T:
    return result


def passthru(arg: _T) -> _T:
    """
    Return ``arg`` unchanged: a callback or errback that does nothing.

    :param arg: anything.
    :return: ``arg``.
    """
    return arg


def logError(err: Failure) -> Failure:
    """
    Log a failure and pass it on; usable as an errback
    (``d.addErrback(logError)``) at the end of a chain whose errors
    should be recorded but not handled.

    :param err: the failure.
    :return: ``err``, so the chain stays on the error path.
    """
    from torsion.logger import Logger

    Logger(namespace="torsion.internet.defer").failure(
        "Error in Deferred:", failure=err
    )
    return err


def _continueChain(result: object) -> NoReturn:
    # Never called: the callback loop recognises it as "hand the result to
    # the Deferred waiting on this one".
    raise AssertionError("_continueChain is a marker, not a callback")


_NO_KWARGS: dict[str, Any] = {}


class Deferred(Generic[_SelfResultT]):
    """
    A result that will arrive later, with the chain of callbacks and
    errbacks that will process it.

    Add processing steps with ``addCallback``, ``addErrback``,
    ``addCallbacks`` and ``addBoth``; fire it once, with ``callback`` or
    ``errback``.  Steps added after firing run at once.

    A callback that raises, or returns a ``Failure``, sends the chain down
    the errback path; an errback that returns a normal value sends it back
    to the callback path.  A step that returns another Deferred pauses this
    chain until that one has a result, which then continues down this
    chain; this nests to any depth without recursion.

    ``Deferred[T]`` is generic in the type of its result.

    :ivar called: whether ``callback`` or ``errback`` has been called.
    :ivar paused: how many times the Deferred is paused (by ``pause`` or
        while waiting for a Deferred returned by a callback); callbacks do
        not run while it is above zero.
    :ivar result: the current result, once called (missing before).
    :ivar callbacks: the pending processing steps; internal, do not modify.
    :cvar debug: whether debugging is on; see ``setDebugging``.
    """

    __slots__ = (
        "__weakref__",
        "_canceller",
        "_debugInfo",
        "_runningCallbacks",
        "_suppressAlreadyCalled",
        "callbacks",
        "called",
        "paused",
        "result",
    )

    debug = False

    called: bool
    paused: int
    result: Any
    callbacks: list[tuple[Any, ...]]
    _canceller: Callable[[Deferred[Any]], None] | None
    _debugInfo: _DebugInfo | None
    _runningCallbacks: bool
    _suppressAlreadyCalled: bool

    def __init__(
        self, canceller: Callable[[Deferred[Any]], None] | None = None
    ) -> None:
        """
        :param canceller: called with this Deferred when ``cancel()`` is
            called before it has fired; it should stop the operation and
            may fire the Deferred itself.  If it does not (or if there is no
            canceller), ``cancel()`` errbacks with ``CancelledError``.
        """
        self.callbacks = []
        self.called = False
        self.paused = 0
        self._canceller = canceller
        self._debugInfo = None
        self._runningCallbacks = False
        # ``_suppressAlreadyCalled`` stays unset until ``cancel`` needs it:
        # one store fewer on the hottest path.
        if Deferred.debug:
            info = self._debugInfo = _DebugInfo()
            info.creator = traceback.format_stack()[:-1]

    # -- adding steps ------------------------------------------------------

    @overload
    def addCallback(
        self,
        callback: Callable[Concatenate[_SelfResultT, _P], Deferred[_NextResultT]],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_NextResultT]: ...

    @overload
    def addCallback(
        self,
        callback: Callable[Concatenate[_SelfResultT, _P], Failure | _NextResultT],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_NextResultT]: ...

    def addCallback(self, callback: Any, /, *args: Any, **kwargs: Any) -> Any:
        """
        Add a step run with the result when the chain is on the success
        path: ``callback(result, *args, **kwargs)``.  Failures pass it by.

        :param callback: the function to run.
        :param args: extra positional arguments for ``callback``.
        :param kwargs: extra keyword arguments for ``callback``.
        :return: this Deferred, with its result type now that of
            ``callback``.
        :raises TypeError: if ``callback`` is not callable.
        """
        if not callable(callback):
            raise TypeError(f"addCallback needs a callable, not {callback!r}")
        self.callbacks.append((callback, args, kwargs, _passthrough, (), _NO_KWARGS))
        if self.called:
            self._runCallbacks()
        return self

    @overload
    def addErrback(
        self,
        errback: Callable[Concatenate[Failure, _P], Deferred[_NextResultT]],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_SelfResultT | _NextResultT]: ...

    @overload
    def addErrback(
        self,
        errback: Callable[Concatenate[Failure, _P], Failure | _NextResultT],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_SelfResultT | _NextResultT]: ...

    def addErrback(self, errback: Any, /, *args: Any, **kwargs: Any) -> Any:
        """
        Add a step run with the ``Failure`` when the chain is on the error
        path: ``errback(failure, *args, **kwargs)``.  Results pass it by.

        Returning a value (rather than raising, or returning a
        ``Failure``) recovers: the next step gets that value as a result.

        :param errback: the function to run.
        :param args: extra positional arguments for ``errback``.
        :param kwargs: extra keyword arguments for ``errback``.
        :return: this Deferred.
        :raises TypeError: if ``errback`` is not callable.
        """
        if not callable(errback):
            raise TypeError(f"addErrback needs a callable, not {errback!r}")
        self.callbacks.append((_passthrough, (), _NO_KWARGS, errback, args, kwargs))
        if self.called:
            self._runCallbacks()
        return self

    @overload
    def addBoth(
        self,
        callback: Callable[
            Concatenate[_SelfResultT | Failure, _P], Deferred[_NextResultT]
        ],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_NextResultT]: ...

    @overload
    def addBoth(
        self,
        callback: Callable[
            Concatenate[_SelfResultT | Failure, _P], Failure | _NextResultT
        ],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_NextResultT]: ...

    def addBoth(self, callback: Any, /, *args: Any, **kwargs: Any) -> Any:
        """
        Add a step run whatever the path: with the result or with the
        ``Failure`` (``finally``, in Deferred form).

        :param callback: the function to run.
        :param args: extra positional arguments for ``callback``.
        :param kwargs: extra keyword arguments for ``callback``.
        :return: this Deferred.
        :raises TypeError: if ``callback`` is not callable.
        """
        if not callable(callback):
            raise TypeError(f"addBoth needs a callable, not {callback!r}")
        self.callbacks.append((callback, args, kwargs, callback, args, kwargs))
        if self.called:
            self._runCallbacks()
        return self

    def addCallbacks(
        self,
        callback: Callable[..., Any],
        errback: Callable[..., Any] | None = None,
        callbackArgs: tuple[Any, ...] = (),
        callbackKeywords: dict[str, Any] | None = None,
        errbackArgs: tuple[Any, ...] = (),
        errbackKeywords: dict[str, Any] | None = None,
    ) -> Deferred[Any]:
        """
        Add one step with a callback and an errback: exactly one of them
        runs, depending on the path the chain is on.  (Unlike
        ``addCallback(f).addErrback(g)``, ``g`` does not see errors raised
        by ``f``.)

        :param callback: run with the result on the success path.
        :param errback: run with the ``Failure`` on the error path; by
            default failures pass through.
        :param callbackArgs: extra positional arguments for ``callback``.
        :param callbackKeywords: extra keyword arguments for ``callback``.
        :param errbackArgs: extra positional arguments for ``errback``.
        :param errbackKeywords: extra keyword arguments for ``errback``.
        :return: this Deferred.
        :raises TypeError: if ``callback`` or ``errback`` is not callable.
        """
        if not callable(callback):
            raise TypeError(f"addCallbacks needs a callable, not {callback!r}")
        if errback is None:
            errback = _passthrough
        elif not callable(errback):
            raise TypeError(f"addCallbacks needs a callable errback, not {errback!r}")
        self.callbacks.append(
            (
                callback,
                tuple(callbackArgs),
                callbackKeywords or _NO_KWARGS,
                errback,
                tuple(errbackArgs),
                errbackKeywords or _NO_KWARGS,
            )
        )
        if self.called:
            self._runCallbacks()
        return self

    def addTimeout(
        self,
        timeout: float,
        clock: _Clock,
        onTimeoutCancel: Callable[[Any, float], Any] | None = None,
    ) -> Deferred[_SelfResultT]:
        """
        Cancel this Deferred if it has not fired within ``timeout`` seconds.

        On timeout the Deferred is cancelled (so its canceller stops the
        operation) and the resulting ``CancelledError`` becomes a
        ``TimeoutError``.  If it fires in time the timer is stopped.

        :param timeout: seconds to wait.
        :param clock: provides ``callLater`` (a reactor, or a ``Clock`` in
            tests).
        :param onTimeoutCancel: if given, called on timeout as
            ``onTimeoutCancel(result, timeout)`` instead of the conversion
            to ``TimeoutError``; its return value becomes the result.
        :return: this Deferred.
        """
        timedOut = False

        def timeItOut() -> None:
            nonlocal timedOut
            timedOut = True
            self.cancel()

        delayedCall = clock.callLater(timeout, timeItOut)

        def convertCancelled(result: object) -> object:
            if timedOut:
                if onTimeoutCancel is not None:
                    return onTimeoutCancel(result, timeout)
                if isinstance(result, Failure) and result.check(CancelledError):
                    raise TimeoutError(timeout, "Deferred")
            return result

        def stopTimer(result: object) -> object:
            if delayedCall.active():
                delayedCall.cancel()
            return result

        self.addBoth(convertCancelled)
        self.addBoth(stopTimer)
        return self

    def chainDeferred(self, d: Deferred[_SelfResultT]) -> Deferred[None]:
        """
        Fire ``d`` with this Deferred's result (or failure) when it arrives.

        This Deferred's result becomes ``None`` afterwards; to keep a value
        flowing down both, return a Deferred from a callback instead.

        :param d: the Deferred to fire.
        :return: this Deferred.
        """
        return self.addCallbacks(d.callback, d.errback)

    # -- firing ------------------------------------------------------------------

    def callback(self, result: _SelfResultT | Failure) -> None:
        """
        Fire the Deferred with a result, running the callbacks added so
        far.

        :param result: the result; a ``Failure`` takes the error path.
        :raises AlreadyCalledError: if the Deferred has already fired.
        :raises TypeError: if ``result`` is a Deferred (return a Deferred
            from a callback, or use ``chainDeferred``, instead).
        """
        if isinstance(result, Deferred):
            raise TypeError(
                "Deferred.callback() was given a Deferred; a Deferred cannot "
                "be the result of another.  Chain them instead (return it from "
                "a callback, or use chainDeferred)."
            )
        self._fire(result)

    def errback(self, fail: Failure | BaseException | None = None) -> None:
        """
        Fire the Deferred with an error, running the errbacks added so far.

        :param fail: a ``Failure`` or an exception; by default, the
            exception currently being handled.
        :raises AlreadyCalledError: if the Deferred has already fired.
        :raises NoCurrentExceptionError: if ``fail`` is not given outside an
            ``except`` block.
        """
        if fail is None:
            fail = Failure(captureVars=Deferred.debug)
        elif not isinstance(fail, Failure):
            fail = Failure(fail)
        self._fire(fail)

    def _fire(self, result: object) -> None:
        if self.called:
            if getattr(self, "_suppressAlreadyCalled", False):
                self._suppressAlreadyCalled = False
                return
            message = "Deferred has already been called"
            if self._debugInfo is not None and Deferred.debug:
                message += ":\n" + self._debugInfo.describe()
            raise AlreadyCalledError(message)
        if Deferred.debug:
            if self._debugInfo is None:
                self._debugInfo = _DebugInfo()
            self._debugInfo.invoker = traceback.format_stack()[:-2]
        self.called = True
        self.result = result
        if self.callbacks or isinstance(result, Failure):
            self._runCallbacks()

    def pause(self) -> None:
        """
        Stop running callbacks until a matching ``unpause``.
        """
        self.paused += 1

    def unpause(self) -> None:
        """
        Undo one ``pause``; callbacks run again once every pause is undone.
        """
        self.paused -= 1
        if self.paused:
            return
        if self.called:
            self._runCallbacks()

    def cancel(self) -> None:
        """
        Give up on the operation.

        If the Deferred has not fired, its canceller (if any) is called;
        if it still has not fired then, it errbacks with
        ``CancelledError``.  (Without a canceller the operation will fire
        the Deferred eventually anyway; that one late firing is ignored.)
        If it has fired but is waiting on another Deferred returned by a
        callback, that one is cancelled.  Otherwise it does nothing.
        """
        if not self.called:
            canceller = self._canceller
            if canceller is not None:
                canceller(self)
            else:
                self._suppressAlreadyCalled = True
            if not self.called:
                self.errback(Failure(CancelledError()))
        else:
            result = self.result
            if isinstance(result, Deferred):
                result.cancel()

    # -- the callback loop -----------------------------------------------------

    def _runCallbacks(self) -> None:
        # One loop drives this Deferred and every Deferred waiting on it:
        # when a step returns an unfired Deferred, the current one pauses
        # and leaves a marker step on the inner one; when the inner one
        # reaches the marker, the outer one is pushed on ``chain`` and
        # continues here instead of in a nested call.
        if self._runningCallbacks:
            return
        chain: list[Deferred[Any]] = [self]
        while chain:
            current = chain[-1]
            if current.paused:
                chain.pop()
                continue
            info = current._debugInfo
            if info is not None:
                info.failResult = None
            finished = True
            while current.callbacks:
                steps = current.callbacks
                current.callbacks = []
                current._runningCallbacks = True
                result = current.result
                index = 0
                for step in steps:
                    index += 1
                    if isinstance(result, Failure):
                        _, _, _, function, args, kwargs = step
                    else:
                        function, args, kwargs, _, _, _ = step
                    if function is _passthrough:
                        continue
                    if function is _continueChain:
                        # ``args`` is the Deferred waiting on this one.
                        current.result = None
                        args.result = result
                        args.paused -= 1
                        chain.append(args)
                        finished = False
                        break
                    try:
                        if kwargs:
                            result = function(result, *args, **kwargs)
                        elif args:
                            result = function(result, *args)
                        else:
                            result = function(result)
                    except BaseException:
                        caught = Failure(captureVars=Deferred.debug)
                        if isinstance(result, Failure):
                            caught._inheritFrom(result)
                        result = caught
                    else:
                        if isinstance(result, Deferred):
                            inner = result
                            if inner is current:
                                result = Failure(
                                    TypeError(
                                        f"Callback {function!r} returned the "
                                        "Deferred it was added to; its chain "
                                        "can never continue"
                                    )
                                )
                            elif (
                                inner.called
                                and not inner.paused
                                and not inner._runningCallbacks
                                and not inner.callbacks
                            ):
                                # Already has its final result: take it.
                                result = inner.result
                                inner.result = None
                                if inner._debugInfo is not None:
                                    inner._debugInfo.failResult = None
                            else:
                                current.result = inner
                                current.paused += 1
                                inner.callbacks.append(
                                    (_continueChain, current, None) * 2
                                )
                                finished = False
                                break
                    current.result = result
                current._runningCallbacks = False
                if not finished:
                    if index < len(steps):
                        current.callbacks[:0] = steps[index:]
                    break
            if finished:
                chain.pop()
                result = current.result
                if isinstance(result, Failure):
                    # Nobody handled it (yet): break the frame reference
                    # cycles now and report it if the Deferred is dropped.
                    result.cleanFailure()
                    if info is None:
                        info = current._debugInfo = _DebugInfo()
                    info.failResult = result

    # -- coroutines and futures ------------------------------------------------

    def __await__(self) -> Generator[Any, Any, _SelfResultT]:
        """
        ``await d`` inside a coroutine run by ``ensureDeferred`` (or by
        ``Deferred.fromCoroutine``) suspends the coroutine until ``d`` fires,
        then gives its result or raises its failure's exception.  The
        Deferred's own result becomes ``None``.  (To await a Deferred from
        asyncio code, use ``asFuture``.)
        """
        result: _SelfResultT
        if self.called and not self.paused and not self._runningCallbacks:
            result = self.result
            if not isinstance(result, Failure) and not self.callbacks:
                # Already has a plain result: no need to suspend.
                self.result = None
                return result
        # The driver sends the result back, or throws the failure in.
        result = yield self
        return result

    __iter__ = __await__

    @classmethod
    def fromCoroutine(
        cls,
        coro: Coroutine[Deferred[Any], Any, _T] | Generator[Deferred[Any], Any, _T],
    ) -> Deferred[_T]:
        """
        Run a coroutine, giving a Deferred for its outcome.

        The coroutine may ``await`` Deferreds.  Cancelling the returned
        Deferred cancels the Deferred the coroutine is waiting on, whose
        ``CancelledError`` is raised inside the coroutine.

        :param coro: a coroutine object (from calling an ``async def``
            function) or a generator-based coroutine.
        :return: a Deferred that fires with the coroutine's return value, or
            fails with the exception it raised.
        :raises NotACoroutineError: if ``coro`` is not a coroutine.
        """
        if not isinstance(coro, (types.CoroutineType, types.GeneratorType)):
            raise NotACoroutineError(f"{coro!r} is not a coroutine")
        return _startCoroutine(coro, False)

    @classmethod
    def fromFuture(cls, future: asyncio.Future[_T]) -> Deferred[_T]:
        """
        Adapt an asyncio ``Future`` (or ``Task``) to a Deferred.

        Cancelling the Deferred cancels the future; a cancelled future
        fails the Deferred with ``CancelledError``.

        :param future: the future to follow.
        :return: a Deferred that fires when the future completes.
        """

        def cancelFuture(d: Deferred[_T]) -> None:
            future.cancel()

        d: Deferred[_T] = Deferred(cancelFuture)

        def adapt(done: asyncio.Future[_T]) -> None:
            if d.called:
                # The Deferred was cancelled before the future finished.
                return
            if done.cancelled():
                d.errback(Failure(CancelledError()))
                return
            exception = done.exception()
            if exception is not None:
                d.errback(Failure(exception))
            else:
                d.callback(done.result())

        future = asyncio.ensure_future(future)
        future.add_done_callback(adapt)
        return d

    def asFuture(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[_SelfResultT]:
        """
        Adapt this Deferred to an asyncio ``Future`` of ``loop``.

        The Deferred's result (or failure's exception) completes the
        future, and the Deferred's result becomes ``None``; cancelling the
        future cancels the Deferred.

        :param loop: the event loop the future belongs to.
        :return: the future.
        """
        future: asyncio.Future[_SelfResultT] = loop.create_future()

        def settle(result: object) -> None:
            if future.cancelled():
                return None
            if isinstance(result, Failure):
                future.set_exception(result.value)
            else:
                future.set_result(cast(_SelfResultT, result))
            return None

        def cancelDeferred(done: asyncio.Future[_SelfResultT]) -> None:
            if done.cancelled():
                self.cancel()

        self.addBoth(settle)
        future.add_done_callback(cancelDeferred)
        return future

    # -- misc --------------------------------------------------------------------

    def __repr__(self) -> str:
        cname = type(self).__qualname__
        if self.called and isinstance(self.result, Deferred):
            other = id(self.result)
            return f"<{cname} at {id(self):#x} waiting on Deferred at {other:#x}>"
        if self.called:
            return f"<{cname} at {id(self):#x} current result: {self.result!r}>"
        return f"<{cname} at {id(self):#x}>"

    __str__ = __repr__


class _Clock(Protocol):
    def callLater(
        self, delay: float, callable: Callable[..., Any], /, *args: Any, **kw: Any
    ) -> _DelayedCall: ...


class _DelayedCall(Protocol):
    def active(self) -> bool: ...

    def cancel(self) -> None: ...


# -- simple constructors ------------------------------------------------------------


_newDeferred = object.__new__


def succeed(result: _T) -> Deferred[_T]:
    """
    :param result: the result.
    :return: a Deferred already fired with ``result``.
    """
    if Deferred.debug:
        d: Deferred[_T] = Deferred()
    else:
        # Skipping __init__ saves a Python call on a very common path.
        d = _newDeferred(Deferred)
        d.callbacks = []
        d.paused = 0
        d._canceller = None
        d._debugInfo = None
        d._runningCallbacks = False
    d.called = True
    d.result = result
    return d


def fail(result: Failure | BaseException | None = None) -> Deferred[Any]:
    """
    :param result: a ``Failure`` or exception; by default the exception
        being handled.
    :return: a Deferred already failed with ``result``.
    """
    d: Deferred[Any] = Deferred()
    d.errback(result)
    return d


@overload
def maybeDeferred(
    f: Callable[_P, Deferred[_T]], /, *args: _P.args, **kwargs: _P.kwargs
) -> Deferred[_T]: ...


@overload
def maybeDeferred(
    f: Callable[_P, Coroutine[Deferred[Any], Any, _T]],
    /,
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> Deferred[_T]: ...


@overload
def maybeDeferred(
    f: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
) -> Deferred[_T]: ...


def maybeDeferred(f: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Deferred[Any]:
    """
    Call ``f(*args, **kwargs)`` and give its outcome as a Deferred, whether
    it returns a plain value, a Deferred, a coroutine, or raises.

    :param f: the function to call.
    :param args: its positional arguments.
    :param kwargs: its keyword arguments.
    :return: a Deferred for the outcome: ``f``'s own Deferred if it returned
        one, a Deferred running its coroutine if it returned a coroutine,
        otherwise one already fired with its result or failure.
    """
    try:
        result = f(*args, **kwargs)
    except BaseException:
        return fail(Failure(captureVars=Deferred.debug))
    if isinstance(result, Deferred):
        return result
    if isinstance(result, Failure):
        return fail(result)
    if isinstance(result, types.CoroutineType):
        return _startCoroutine(result, False)
    return succeed(result)


# -- coroutines -----------------------------------------------------------------


class _DefGen_Return(BaseException):  # noqa: N801 - historical name
    def __init__(self, value: object) -> None:
        self.value = value


def returnValue(val: object) -> NoReturn:
    """
    Return ``val`` from an ``inlineCallbacks`` generator (legacy spelling;
    a plain ``return val`` does the same and is preferred).

    :param val: the result of the generator's Deferred.
    """
    raise _DefGen_Return(val)


_NOT_YET: Any = object()


def _returnValueOutcome(e: _DefGen_Return, legacy: bool) -> object:
    if legacy:
        return e.value
    return Failure(
        TypeError("returnValue() used outside an inlineCallbacks generator; use return")
    )


class _CoroutineRunner:
    """
    Drives one coroutine (or ``inlineCallbacks`` generator), feeding it the
    results of the Deferreds it waits on.  Called with the outcome Deferred
    when that is cancelled.
    """

    __slots__ = ("coro", "deferred", "legacy", "waitingOn")

    def __init__(
        self, coro: Coroutine[Any, Any, Any] | Generator[Any, Any, Any], legacy: bool
    ) -> None:
        self.coro = coro
        self.legacy = legacy
        self.waitingOn: Deferred[Any] | None = None
        self.deferred: Deferred[Any] = Deferred(self)

    def __call__(self, d: Deferred[Any]) -> None:
        # The canceller of ``self.deferred``.
        waitingOn = self.waitingOn
        if waitingOn is not None:
            # If the coroutine swallows the CancelledError and carries on,
            # the Deferred is failed anyway; its eventual outcome is dropped.
            d._suppressAlreadyCalled = True
            waitingOn.cancel()

    def step(self, result: object, yielded: object = _NOT_YET) -> None:
        # Run the coroutine until it waits on a Deferred with no result yet,
        # or finishes.  ``yielded``, if given, is what it yielded last, not
        # yet handled.  Also the callback that resumes the coroutine (its
        # ``None`` return becomes the awaited Deferred's result).  Kept as a
        # single frame per nesting level, so that deeply nested coroutines
        # use as little stack as possible.
        self.waitingOn = None
        coro = self.coro
        send = coro.send
        outcome: object
        while True:
            if yielded is _NOT_YET:
                try:
                    if isinstance(result, Failure):
                        yielded = result.throwExceptionIntoGenerator(coro)
                    else:
                        yielded = send(result)
                except StopIteration as e:
                    outcome = e.value
                    break
                except _DefGen_Return as e:
                    outcome = _returnValueOutcome(e, self.legacy)
                    break
                except BaseException:
                    caught = Failure(captureVars=Deferred.debug)
                    if isinstance(result, Failure):
                        caught._inheritFrom(result)
                    outcome = caught
                    break
            awaited = yielded
            yielded = _NOT_YET
            if isinstance(awaited, Deferred):
                if (
                    awaited.called
                    and not awaited.paused
                    and not awaited._runningCallbacks
                    and not awaited.callbacks
                ):
                    result = awaited.result
                    awaited.result = None
                    info = awaited._debugInfo
                    if info is not None:
                        info.failResult = None
                    continue
                self.waitingOn = awaited
                awaited.addBoth(self.step)
                return
            if self.legacy:
                # inlineCallbacks sends back anything that is not a Deferred.
                result = awaited
                continue
            result = Failure(
                TypeError(
                    f"A coroutine run by torsion awaited {awaited!r}; only "
                    "Deferreds can be awaited here (wrap asyncio futures with "
                    "Deferred.fromFuture)"
                )
            )
        deferred = self.deferred
        if deferred.called:
            # Cancelled while running, and the coroutine carried on anyway.
            deferred._suppressAlreadyCalled = False
            return
        if isinstance(outcome, Deferred):
            # ``return someDeferred``: its result becomes ours.
            outcome.chainDeferred(deferred)
            return
        if Deferred.debug:
            deferred._fire(outcome)
            return
        deferred.called = True
        deferred.result = outcome
        if deferred.callbacks or isinstance(outcome, Failure):
            deferred._runCallbacks()


_COROUTINE_TYPES = (types.CoroutineType, types.GeneratorType)


def _startCoroutine(
    coro: Coroutine[Any, Any, Any] | Generator[Any, Any, Any], legacy: bool
) -> Deferred[Any]:
    # Most coroutines started here finish without waiting on anything:
    # give those an already-fired Deferred without setting up a driver.
    outcome: object
    try:
        yielded = coro.send(None)
    except StopIteration as e:
        outcome = e.value
    except _DefGen_Return as e:
        outcome = _returnValueOutcome(e, legacy)
    except BaseException:
        outcome = Failure(captureVars=Deferred.debug)
    else:
        runner = _CoroutineRunner(coro, legacy)
        runner.step(None, yielded)
        return runner.deferred
    if isinstance(outcome, Failure):
        return fail(outcome)
    if isinstance(outcome, Deferred):
        d: Deferred[Any] = Deferred()
        outcome.chainDeferred(d)
        return d
    return succeed(outcome)


def ensureDeferred(
    coro: Coroutine[Any, Any, _T] | Generator[Any, Any, _T] | Deferred[_T],
) -> Deferred[_T]:
    """
    Run a coroutine and give a Deferred for its outcome (a Deferred given
    is returned unchanged).

    :param coro: a coroutine object, a generator-based coroutine, or a
        Deferred.
    :return: a Deferred for the coroutine's return value or exception.
    :raises NotACoroutineError: for anything else.
    """
    if isinstance(coro, _COROUTINE_TYPES):
        return _startCoroutine(coro, False)
    if isinstance(coro, Deferred):
        return coro
    raise NotACoroutineError(f"{coro!r} is not a coroutine or a Deferred")


def inlineCallbacks(
    f: Callable[_P, Generator[Any, Any, _T]],
) -> Callable[_P, Deferred[_T]]:
    """
    Decorate a generator function so that it can ``yield`` Deferreds and
    receive their results (or have their exceptions raised in place); it
    then returns a Deferred for its ``return`` value.

    Example::

        @inlineCallbacks
        def fetchTwo(client):
            first = yield client.get("a")
            second = yield client.get("b")
            return first + second

    Values yielded that are not Deferreds are sent straight back.
    Cancelling the returned Deferred cancels the Deferred the generator is
    waiting on.  ``async def`` with ``ensureDeferred`` is the modern
    equivalent.

    :param f: a generator function.
    :return: a function returning a Deferred.
    :raises TypeError: (from the returned function) if ``f`` does not
        return a generator.
    """

    @functools.wraps(f)
    def unwindGenerator(*args: _P.args, **kwargs: _P.kwargs) -> Deferred[_T]:
        try:
            gen = f(*args, **kwargs)
        except _DefGen_Return:
            raise TypeError(
                f"inlineCallbacks requires {f!r} to produce a generator; "
                "it called returnValue() instead of yielding"
            )
        if not isinstance(gen, types.GeneratorType):
            raise TypeError(
                f"inlineCallbacks requires {f!r} to produce a generator; "
                f"instead it returned {gen!r}"
            )
        return _startCoroutine(gen, True)

    return unwindGenerator


# -- DeferredList and friends ------------------------------------------------------


class DeferredList(Deferred[list[tuple[bool, Any]]]):
    """
    A Deferred for a whole list of Deferreds.

    By default it fires, once every Deferred has fired, with a list of
    ``(success, result)`` pairs in the order given: ``(True, result)`` or
    ``(False, failure)``.

    :ivar resultList: the pairs collected so far (``None`` where a
        Deferred has not fired).
    :ivar finishedCount: how many Deferreds have fired.
    :ivar fireOnOneCallback: see ``__init__``.
    :ivar fireOnOneErrback: see ``__init__``.
    :ivar consumeErrors: see ``__init__``.
    """

    def __init__(
        self,
        deferredList: Iterable[Deferred[Any]],
        fireOnOneCallback: bool = False,
        fireOnOneErrback: bool = False,
        consumeErrors: bool = False,
    ) -> None:
        """
        :param deferredList: the Deferreds to watch.
        :param fireOnOneCallback: fire as soon as one of them succeeds,
            with ``(result, index)``.
        :param fireOnOneErrback: fail as soon as one of them fails, with a
            ``FirstError``.
        :param consumeErrors: once a failure is recorded here, replace it
            with ``None`` in the original Deferred's chain, so that it is
            not also reported as unhandled.
        """
        self._deferredList = list(deferredList)
        self.resultList: list[tuple[bool, Any] | None] = [None] * len(
            self._deferredList
        )
        self.finishedCount = 0
        self.fireOnOneCallback = fireOnOneCallback
        self.fireOnOneErrback = fireOnOneErrback
        self.consumeErrors = consumeErrors
        super().__init__(self._cancelList)
        if not self._deferredList and not fireOnOneCallback:
            self.callback([])
            return
        for index, deferred in enumerate(self._deferredList):
            deferred.addCallbacks(
                self._cbDeferred,
                self._cbDeferred,
                callbackArgs=(index, True),
                errbackArgs=(index, False),
            )

    def _cbDeferred(self, result: object, index: int, succeeded: bool) -> object:
        self.resultList[index] = (succeeded, result)
        self.finishedCount += 1
        if not self.called:
            if succeeded and self.fireOnOneCallback:
                self.callback(cast(Any, (result, index)))
            elif not succeeded and self.fireOnOneErrback:
                self.errback(Failure(FirstError(cast(Failure, result), index)))
            elif self.finishedCount == len(self.resultList):
                self.callback(cast(list[tuple[bool, Any]], self.resultList))
        if not succeeded and self.consumeErrors:
            return None
        return result

    def _cancelList(self, d: Deferred[Any]) -> None:
        for deferred in self._deferredList:
            deferred.cancel()


def gatherResults(
    deferredList: Iterable[Deferred[_T]], consumeErrors: bool = False
) -> Deferred[list[_T]]:
    """
    Wait for all of a list of Deferreds, and give their results as a list.

    :param deferredList: the Deferreds.
    :param consumeErrors: as for ``DeferredList``: keep failures from also
        being reported as unhandled in the original Deferreds.
    :return: a Deferred firing with the list of results in order, or
        failing with ``FirstError`` (whose ``subFailure`` is the failure)
        as soon as one of them fails.
    """
    d = DeferredList(deferredList, fireOnOneErrback=True, consumeErrors=consumeErrors)
    return d.addCallback(lambda pairs: [result for _, result in pairs])


def race(ds: Sequence[Deferred[_T]]) -> Deferred[tuple[int, _T]]:
    """
    Wait for the first of several Deferreds to succeed.

    When one succeeds, the others are cancelled.  Failures are ignored
    until all have failed.  Cancelling the returned Deferred cancels them
    all.

    :param ds: the Deferreds.
    :return: a Deferred firing with ``(index, result)`` of the first
        success, or failing with ``FailureGroup`` holding every failure
        when all fail.
    """
    pending = list(ds)
    failures: list[Failure | None] = [None] * len(pending)
    remaining = len(pending)
    winner: Deferred[tuple[int, _T]]
    finished = False

    def cancelAll(d: Deferred[Any]) -> None:
        nonlocal finished
        finished = True
        for each in pending:
            each.cancel()
        if not d.called:
            d.errback(Failure(CancelledError()))

    winner = Deferred(cancelAll)

    def succeeded(result: _T, index: int) -> None:
        nonlocal finished
        if finished:
            return None
        finished = True
        for other, each in enumerate(pending):
            if other != index:
                each.cancel()
        winner.callback((index, result))
        return None

    def failed(failure: Failure, index: int) -> None:
        nonlocal remaining
        failures[index] = failure
        remaining -= 1
        if remaining == 0 and not finished and not winner.called:
            winner.errback(
                Failure(FailureGroup([f for f in failures if f is not None]))
            )
        return None

    if not pending:
        winner.errback(Failure(FailureGroup([])))
        return winner
    for index, each in enumerate(pending):
        each.addCallbacks(
            succeeded, failed, callbackArgs=(index,), errbackArgs=(index,)
        )
    return winner


# -- locks, semaphores, queues --------------------------------------------------------


class _ConcurrencyPrimitive:
    """
    Shared behaviour of ``DeferredLock`` and ``DeferredSemaphore``.
    """

    def __init__(self) -> None:
        self.waiting: list[Deferred[Any]] = []

    def acquire(self) -> Deferred[Self]:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def _cancelAcquire(self, d: Deferred[Any]) -> None:
        self.waiting.remove(d)

    def run(
        self,
        f: Callable[_P, Deferred[_T] | Coroutine[Any, Any, _T] | _T],
        /,
        *args: _P.args,
        **kwargs: _P.kwargs,
    ) -> Deferred[_T]:
        """
        Acquire, call ``f(*args, **kwargs)``, and release when its outcome
        (possibly a Deferred) is known.

        :param f: the function to run while holding the primitive.
        :param args: its positional arguments.
        :param kwargs: its keyword arguments.
        :return: a Deferred for ``f``'s outcome.
        """

        def execute(ignoredSelf: object) -> Deferred[_T]:
            d: Deferred[_T] = maybeDeferred(f, *args, **kwargs)  # type: ignore[arg-type]

            def releaseAfter(result: object) -> object:
                self.release()
                return result

            d.addBoth(releaseAfter)
            return d

        return self.acquire().addCallback(execute)

    async def __aenter__(self) -> Self:
        await self.acquire()
        return self

    async def __aexit__(
        self,
        excType: type[BaseException] | None,
        excValue: BaseException | None,
        excTraceback: types.TracebackType | None,
    ) -> Literal[False]:
        self.release()
        return False


class DeferredLock(_ConcurrencyPrimitive):
    """
    A lock for code running on the reactor: ``acquire()`` gives a Deferred
    that fires (with the lock) when the lock is yours.

    Also an asynchronous context manager::

        async with lock:
            ...

    :ivar locked: whether the lock is held.
    """

    def __init__(self) -> None:
        super().__init__()
        self.locked = False

    def acquire(self) -> Deferred[Self]:
        """
        :return: a Deferred firing with this lock once it is acquired.
            Cancelling it before then gives up the wait.
        """
        d: Deferred[Self] = Deferred(self._cancelAcquire)
        if self.locked:
            self.waiting.append(d)
        else:
            self.locked = True
            d.callback(self)
        return d

    def release(self) -> None:
        """
        Release the lock, handing it to the next waiter if there is one.

        :raises AssertionError: if the lock is not held.
        """
        if not self.locked:
            raise AssertionError("release() of an unlocked DeferredLock")
        self.locked = False
        if self.waiting:
            self.locked = True
            self.waiting.pop(0).callback(self)


class DeferredSemaphore(_ConcurrencyPrimitive):
    """
    A semaphore for code running on the reactor: at most ``tokens`` holders
    at once; ``acquire()`` gives a Deferred that fires when a token is
    yours.

    :ivar tokens: tokens available now.
    :ivar limit: the total number of tokens.
    """

    def __init__(self, tokens: int) -> None:
        """
        :param tokens: how many holders may hold it at once (at least 1).
        :raises ValueError: if ``tokens`` is less than 1.
        """
        if tokens < 1:
            raise ValueError(f"DeferredSemaphore needs at least 1 token, not {tokens}")
        super().__init__()
        self.tokens = tokens
        self.limit = tokens

    def acquire(self) -> Deferred[Self]:
        """
        :return: a Deferred firing with this semaphore once a token is
            acquired.  Cancelling it before then gives up the wait.
        """
        d: Deferred[Self] = Deferred(self._cancelAcquire)
        if self.tokens <= 0:
            self.waiting.append(d)
        else:
            self.tokens -= 1
            d.callback(self)
        return d

    def release(self) -> None:
        """
        Give back a token, handing it to the next waiter if there is one.

        :raises AssertionError: if more tokens are released than acquired.
        """
        if self.tokens >= self.limit:
            raise AssertionError("release() of a DeferredSemaphore with no holder")
        self.tokens += 1
        if self.waiting:
            self.tokens -= 1
            self.waiting.pop(0).callback(self)


class DeferredQueue(Generic[_T]):
    """
    A queue whose ``get`` gives a Deferred firing with the next object put.

    :ivar size: the most objects held waiting for a ``get``; ``None`` for
        no limit.
    :ivar backlog: the most ``get`` calls waiting for an object; ``None``
        for no limit.
    :ivar pending: the objects waiting for a ``get``.
    :ivar waiting: the Deferreds of ``get`` calls waiting for an object.
    """

    def __init__(self, size: int | None = None, backlog: int | None = None) -> None:
        """
        :param size: the most objects held at once; ``None`` for no limit.
        :param backlog: the most waiting ``get`` calls; ``None`` for no
            limit.
        """
        self.size = size
        self.backlog = backlog
        self.pending: list[_T] = []
        self.waiting: list[Deferred[_T]] = []

    def _cancelGet(self, d: Deferred[_T]) -> None:
        self.waiting.remove(d)

    def put(self, obj: _T) -> None:
        """
        Add an object, giving it to the oldest waiting ``get`` if any.

        :param obj: the object.
        :raises QueueOverflow: if the queue already holds ``size`` objects.
        """
        if self.waiting:
            self.waiting.pop(0).callback(obj)
        elif self.size is None or len(self.pending) < self.size:
            self.pending.append(obj)
        else:
            raise QueueOverflow(f"DeferredQueue is full ({self.size} objects)")

    def get(self) -> Deferred[_T]:
        """
        :return: a Deferred firing with the next object: at once if one is
            waiting, else when one is put.  Cancelling it gives up the wait.
        :raises QueueUnderflow: if ``backlog`` calls are already waiting.
        """
        if self.pending:
            return succeed(self.pending.pop(0))
        if self.backlog is not None and len(self.waiting) >= self.backlog:
            raise QueueUnderflow(
                f"DeferredQueue has {self.backlog} waiting get() calls already"
            )
        d: Deferred[_T] = Deferred(self._cancelGet)
        self.waiting.append(d)
        return d


_hideFramesOf(
    Deferred._runCallbacks,
    Deferred.__await__,
    Deferred._fire,
    Deferred.callback,
    Deferred.errback,
    Deferred.addCallback,
    Deferred.addErrback,
    Deferred.addBoth,
    Deferred.addCallbacks,
    Deferred.unpause,
    _CoroutineRunner.step,
    _startCoroutine,
    maybeDeferred,
)
