"""
``Failure``: an exception together with the traceback that explains it.

A ``Failure`` is what travels down a Deferred's errback chain.  It can be
created inside an ``except`` block (``Failure()`` captures the exception
being handled) or from an exception object (``Failure(exc)``).  It keeps the
traceback so that the error can be reported where it is finally handled,
which may be long after, and far from, the place it happened.

Example::

    try:
        1 / 0
    except ZeroDivisionError:
        f = Failure()
    f.check(ZeroDivisionError)   # -> ZeroDivisionError
    print(f.getTraceback())
"""

from __future__ import annotations

import builtins
import pickle
import sys
import traceback
from collections.abc import Coroutine, Generator
from types import TracebackType
from typing import IO, Any, Literal, NoReturn, TypeVar

__all__ = [
    "DefaultDetail",
    "Detail",
    "Failure",
    "NoCurrentExceptionError",
    "UnpicklableException",
]

_YieldT = TypeVar("_YieldT")

Detail = Literal["default", "brief", "verbose"]
"""The amount of detail ``Failure.getTraceback`` can be asked for."""

DefaultDetail: Detail = "default"
"""The detail level used when none is given."""


class UnpicklableException(Exception):
    """
    Stands in, in a ``Failure`` that was pickled, for an exception that
    could not be pickled itself.  Its message is the original class's
    qualified name and message; the failure's ``parents`` still list the
    original class names.
    """


class NoCurrentExceptionError(Exception):
    """
    ``Failure()`` was called with no exception argument outside of an
    ``except`` block, so there is no exception to capture.
    """


# Frames of the Deferred and coroutine machinery say nothing about where an
# error came from; they are left out of rendered tracebacks so that a failure
# raised deep inside chained coroutines reads as the chain of user functions.
_hiddenFrames: set[tuple[str, str]] = set()


def _hideFramesOf(*functions: Any) -> None:
    """
    Leave frames of the given functions out of rendered tracebacks.

    For torsion's own plumbing (the callback loop, coroutine drivers); not
    meant for applications.

    :param functions: plain functions whose frames should not be shown.
    """
    for function in functions:
        code = function.__code__
        _hiddenFrames.add((code.co_filename, code.co_name))


def _filterStack(te: traceback.TracebackException) -> None:
    """
    Remove hidden frames from ``te`` and from every exception chained to it.
    """
    if not _hiddenFrames:
        return
    seen: set[int] = set()
    pending = [te]
    while pending:
        current = pending.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        stack = current.stack
        kept = [
            frame
            for frame in stack
            if (frame.filename, frame.name) not in _hiddenFrames
        ]
        if len(kept) != len(stack):
            current.stack = traceback.StackSummary.from_list(kept)
        for related in (current.__cause__, current.__context__):
            if related is not None:
                pending.append(related)
        pending.extend(getattr(current, "exceptions", None) or ())


def _qualifiedName(cls: builtins.type[object]) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _safeStr(value: object) -> str:
    try:
        return str(value)
    except BaseException as e:
        return f"<unprintable {type(value).__name__} object (str() raised {e!r})>"


def _dropTracebacks(value: BaseException) -> None:
    """
    Forget the traceback of ``value`` and of every exception chained to it,
    so that the frames (and their locals) can be freed.
    """
    seen: set[int] = set()
    pending: list[BaseException] = [value]
    while pending:
        exc = pending.pop()
        if id(exc) in seen:
            continue
        seen.add(id(exc))
        exc.__traceback__ = None
        if exc.__cause__ is not None:
            pending.append(exc.__cause__)
        if exc.__context__ is not None:
            pending.append(exc.__context__)
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)


class Failure(BaseException):
    """
    An exception and its traceback, captured so they can be examined,
    reported or re-raised later.

    ``Failure()`` inside an ``except`` block captures the exception being
    handled.  ``Failure(exc)`` wraps ``exc`` (using ``exc.__traceback__`` if
    it has one).  ``Failure(exc_value, exc_type, exc_tb)`` gives all three
    parts explicitly.

    ``Failure`` derives from ``BaseException`` so that a failure may itself be
    raised; ``Failure()`` in the ``except`` block that catches it gives back
    an equivalent failure, not a failure wrapping a failure.

    A ``Failure`` can be pickled: the frames are left behind but the
    rendered traceback travels with it.

    :ivar value: the exception instance.
    :ivar type: the exception's class.
    :ivar tb: the traceback object, or ``None`` once ``cleanFailure`` has run
        (or if there never was one).
    :ivar captureVars: whether local variables of each frame were recorded
        for verbose tracebacks.
    """

    value: BaseException
    type: builtins.type[BaseException]
    tb: TracebackType | None
    captureVars: bool
    # Traceback summary kept once the live traceback has been dropped.
    _summary: traceback.TracebackException | None = None
    # Class names of an exception that could not be pickled as itself.
    _parents: list[str] | None = None
    # With ``captureVars``: a summary that also records local variables.
    _localsSummary: traceback.TracebackException | None = None
    # Tracebacks rendered before pickling, keyed by detail level.
    _rendered: dict[str, str] | None = None
    # The summary of an earlier, cleaned failure of the same exception that
    # was raised again: its frames continue this one's.
    _earlier: traceback.TracebackException | None = None

    def __init__(
        self,
        exc_value: BaseException | object | None = None,
        exc_type: builtins.type[BaseException] | None = None,
        exc_tb: TracebackType | None = None,
        captureVars: bool = False,
    ) -> None:
        """
        :param exc_value: the exception to wrap; ``None`` to capture the
            exception currently being handled.  If it is not an exception
            but ``exc_type`` is given, ``exc_type(exc_value)`` is used.
        :param exc_type: the exception's class; defaults to
            ``type(exc_value)``.
        :param exc_tb: the traceback; defaults to ``exc_value.__traceback__``.
        :param captureVars: record the local variables of every frame so
            that ``getTraceback(detail="verbose")`` can show them.
        :raises NoCurrentExceptionError: if ``exc_value`` is ``None`` and no
            exception is being handled.
        :raises TypeError: if ``exc_value`` is neither an exception nor
            usable with ``exc_type``.
        """
        # BaseException.__init__ is not called: the state that matters lives
        # in our own attributes, not in ``args``.
        if exc_value is None:
            exc_type, exc_value, exc_tb = sys.exc_info()
            if exc_value is None:
                raise NoCurrentExceptionError(
                    "Failure() called with no exception argument outside an "
                    "except block"
                )
        if isinstance(exc_value, Failure):
            self.__dict__.update(exc_value.__dict__)
            return
        if not isinstance(exc_value, BaseException):
            if exc_type is None:
                raise TypeError(
                    f"Failure() needs an exception, not {type(exc_value).__name__} "
                    f"{exc_value!r}"
                )
            exc_value = exc_type(exc_value)
        self.value = exc_value
        self.type = exc_type if exc_type is not None else type(exc_value)
        self.tb = exc_tb if exc_tb is not None else exc_value.__traceback__
        self.captureVars = captureVars
        if captureVars and self.tb is not None:
            self._localsSummary = self._summarize(captureLocals=True, lookupLines=True)

    # -- examining -------------------------------------------------------

    @property
    def parents(self) -> list[str]:
        """
        Fully qualified names of the exception's class and all its bases,
        most derived first.
        """
        if self._parents is not None:
            return list(self._parents)
        return [_qualifiedName(cls) for cls in self.type.__mro__]

    def check(
        self, *errorTypes: builtins.type[BaseException] | str
    ) -> builtins.type[BaseException] | str | None:
        """
        Find which of ``errorTypes`` this failure is an instance of.

        :param errorTypes: exception classes, or their fully qualified
            names (``"builtins.ValueError"``).
        :return: the first of ``errorTypes`` that matches, or ``None``.
        """
        failureType = self.type
        for errorType in errorTypes:
            if isinstance(errorType, str):
                if errorType in self.parents:
                    return errorType
            elif issubclass(failureType, errorType):
                return errorType
        return None

    def trap(
        self, *errorTypes: builtins.type[BaseException] | str
    ) -> builtins.type[BaseException] | str:
        """
        Let this failure through only if it is one of ``errorTypes``.

        Typical in an errback: ``failure.trap(ConnectionLost)`` handles that
        error and passes any other one on down the errback chain.

        :param errorTypes: exception classes or fully qualified names.
        :return: the first of ``errorTypes`` that matches.
        :raises BaseException: the failure's own exception, with its
            original traceback, if none of ``errorTypes`` matches.
        """
        error = self.check(*errorTypes)
        if error is None:
            self.raiseException()
        return error

    def getErrorMessage(self) -> str:
        """
        :return: the exception's message, ``str(self.value)``.
        """
        if isinstance(self.value, Failure):
            return self.value.getErrorMessage()
        return _safeStr(self.value)

    def raiseException(self) -> NoReturn:
        """
        Raise the wrapped exception again, with its original traceback.
        """
        raise self.value.with_traceback(self.tb)

    def throwExceptionIntoGenerator(
        self, g: Generator[_YieldT, Any, Any] | Coroutine[_YieldT, Any, Any]
    ) -> _YieldT:
        """
        Raise the wrapped exception, with its traceback, inside the
        generator or coroutine ``g`` at the point where it is suspended.

        :param g: a suspended generator or coroutine.
        :return: whatever ``g`` yields next.
        :raises StopIteration: if ``g`` returns.
        """
        return g.throw(self.value.with_traceback(self.tb))

    def getTracebackObject(self) -> TracebackType | None:
        """
        :return: the live traceback object, or ``None`` if there is none
            (never was, or ``cleanFailure`` dropped it).
        """
        return self.tb

    @property
    def frames(self) -> list[tuple[str, str, int]]:
        """
        The frames of the traceback, outermost first, as
        ``(functionName, fileName, lineNumber)`` tuples.  Still available
        after ``cleanFailure``.
        """
        summary = self._currentSummary(captureLocals=False, lookupLines=False)
        return [(f.name, f.filename, f.lineno or 0) for f in summary.stack]

    # -- memory ------------------------------------------------------------

    def cleanFailure(self) -> None:
        """
        Drop references to stack frames (and hence to every local variable
        they hold) so that keeping this failure does not keep them alive.

        The traceback is summarised first: ``getTraceback`` still works,
        but ``tb`` becomes ``None`` and ``raiseException`` raises without
        the original traceback.
        """
        if self.tb is None and self._summary is not None:
            return
        if self._summary is None:
            self._summary = self._summarize(captureLocals=False, lookupLines=False)
        self.tb = None
        _dropTracebacks(self.value)

    def _summarize(
        self, captureLocals: bool, lookupLines: bool
    ) -> traceback.TracebackException:
        te: traceback.TracebackException
        try:
            te = traceback.TracebackException(
                self.type,
                self.value,
                self.tb,
                lookup_lines=lookupLines,
                capture_locals=captureLocals,
            )
        except Exception:
            if not captureLocals:
                raise
            # A repr() of some local blew up; do without locals.
            te = traceback.TracebackException(
                self.type, self.value, self.tb, lookup_lines=lookupLines
            )
        _filterStack(te)
        earlier = self._earlier
        if earlier is not None:
            te.stack = traceback.StackSummary.from_list(
                list(te.stack) + list(earlier.stack)
            )
            if self.value.__traceback__ is None:
                # The chained exceptions lost their frames too; the earlier
                # summary still has them.
                te.__cause__ = earlier.__cause__
                te.__context__ = earlier.__context__
                te.__suppress_context__ = earlier.__suppress_context__
                if hasattr(earlier, "exceptions"):
                    te.exceptions = earlier.exceptions
        return te

    def _inheritFrom(self, previous: Failure) -> None:
        """
        Record that this failure is ``previous`` raised again after
        ``previous`` dropped its frames, so that the traceback shows both
        parts.
        """
        if (
            self.value is previous.value
            and previous.tb is None
            and previous._summary is not None
        ):
            self._earlier = previous._summary

    def _currentSummary(
        self, captureLocals: bool, lookupLines: bool
    ) -> traceback.TracebackException:
        if captureLocals:
            if self._localsSummary is not None:
                return self._localsSummary
            if self.tb is not None:
                return self._summarize(True, lookupLines)
        if self._summary is not None:
            return self._summary
        return self._summarize(False, lookupLines)

    # -- reporting ---------------------------------------------------------

    def getTraceback(
        self, elideFrameworkCode: bool = False, detail: Detail = DefaultDetail
    ) -> str:
        """
        Render the traceback as text.

        Chained exceptions (``raise ... from ...`` and exceptions raised
        while handling another) and the members of an ``ExceptionGroup`` are
        included.  Frames of torsion's Deferred and coroutine machinery are
        left out.

        :param elideFrameworkCode: accepted for compatibility; framework
            frames are always left out.
        :param detail: ``"default"``: the usual Python traceback;
            ``"brief"``: one line per frame; ``"verbose"``: the usual
            traceback plus each frame's local variables (when they could be
            recorded: the traceback is still live or ``captureVars`` was
            set).
        :return: the rendered traceback, ending with a newline.
        :raises ValueError: for an unknown ``detail``.
        """
        if detail not in ("default", "brief", "verbose"):
            raise ValueError(
                f"detail must be 'default', 'brief' or 'verbose', not {detail!r}"
            )
        if self._rendered is not None and self._summary is None:
            return self._rendered.get(detail) or self._rendered["default"]
        if detail == "brief":
            return self._renderBrief()
        summary = self._currentSummary(
            captureLocals=detail == "verbose", lookupLines=True
        )
        text = "".join(summary.format())
        if not summary.stack:
            text = "Traceback (failure with no frames):\n" + text
        return text

    def _renderBrief(self) -> str:
        summary = self._currentSummary(captureLocals=False, lookupLines=False)
        lines = [
            f"Traceback (brief): {_qualifiedName(self.type)}: "
            f"{self.getErrorMessage()}\n"
        ]
        lines.extend(
            f"  {frame.filename}:{frame.lineno}:{frame.name}\n"
            for frame in summary.stack
        )
        return "".join(lines)

    def printTraceback(
        self,
        file: IO[str] | None = None,
        elideFrameworkCode: bool = False,
        detail: Detail = DefaultDetail,
    ) -> None:
        """
        Write the traceback to ``file``.

        :param file: where to write; ``sys.stderr`` when ``None``.
        :param elideFrameworkCode: accepted for compatibility.
        :param detail: as for ``getTraceback``.
        """
        if file is None:
            file = sys.stderr
        file.write(self.getTraceback(elideFrameworkCode, detail))

    def printBriefTraceback(
        self, file: IO[str] | None = None, elideFrameworkCode: bool = False
    ) -> None:
        """
        Write the brief, one-line-per-frame traceback to ``file``.

        :param file: where to write; ``sys.stderr`` when ``None``.
        :param elideFrameworkCode: accepted for compatibility.
        """
        self.printTraceback(file, elideFrameworkCode, detail="brief")

    def printDetailedTraceback(
        self, file: IO[str] | None = None, elideFrameworkCode: bool = False
    ) -> None:
        """
        Write the verbose traceback, with local variables, to ``file``.

        :param file: where to write; ``sys.stderr`` when ``None``.
        :param elideFrameworkCode: accepted for compatibility.
        """
        self.printTraceback(file, elideFrameworkCode, detail="verbose")

    # -- dunder --------------------------------------------------------------

    def __repr__(self) -> str:
        return (
            f"<{_qualifiedName(type(self))} "
            f"{_qualifiedName(self.type)}: {self.getErrorMessage()}>"
        )

    def __str__(self) -> str:
        return f"[Failure instance: {self.getTraceback(detail='brief').rstrip()}]"

    def __reduce__(self) -> tuple[Any, ...]:
        state = dict(self.__dict__)
        details: tuple[Detail, ...] = ("default", "brief")
        if self._localsSummary is not None:
            details += ("verbose",)
        state["_rendered"] = {
            detail: self.getTraceback(detail=detail) for detail in details
        }
        state["tb"] = None
        try:
            pickle.dumps((self.value, self.type))
        except Exception:
            # Send a stand-in that keeps the message and the class names, so
            # that ``check("module.Name")`` still works on the other side.
            state["_parents"] = self.parents
            state["value"] = UnpicklableException(
                f"{_qualifiedName(self.type)}: {self.getErrorMessage()}"
            )
            state["type"] = UnpicklableException
        state["_summary"] = None
        state["_localsSummary"] = None
        state["_earlier"] = None
        return (_newFailure, (), state)

    def __setstate__(self, state: dict[str, Any] | None) -> None:
        if state:
            self.__dict__.update(state)


def _newFailure() -> Failure:
    # Unpickling restores the state afterwards; skip __init__, which would
    # try to capture a current exception.
    return Failure.__new__(Failure)


_hideFramesOf(Failure.raiseException, Failure.throwExceptionIntoGenerator, Failure.trap)
