"""
The legacy logging API: ``msg``, ``err``, ``startLogging`` and observers that
receive plain event dictionaries.

New code should prefer ``torsion.logger.Logger``.  Both APIs share one global
publisher, so an observer added here sees events emitted through
``torsion.logger`` (translated into legacy form: ``message``, ``isError``,
``failure``, ``why``, ``system``, ``time``), and observers of
``torsion.logger`` see events from ``msg`` and ``err``::

        from torsion.python import log

    log.startLogging(sys.stdout)
    log.msg("Server started on port", 8080)
    try:
        1 / 0
    except ZeroDivisionError:
        log.err(None, "while dividing")
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Callable
from datetime import datetime
from typing import IO, Any, TypeVar

from zope.interface import Interface

from torsion.logger import (
    ILogObserver,
    LegacyLogObserverWrapper,
    LoggingFile,
    LogLevel,
    formatEvent,
    globalLogBeginner,
    globalLogPublisher,
    publishToNewObserver,
)
from torsion.logger import (
    Logger as _NewLogger,
)
from torsion.logger import (
    LogPublisher as _NewLogPublisher,
)
from torsion.logger import formatTime as _formatTime
from torsion.logger._failure import captureFailure, isFailure
from torsion.python import context
from torsion.python.reflect import safe_repr, safe_str

__all__ = [
    "FileLogObserver",
    "ILogContext",
    "ILogObserver",
    "LogPublisher",
    "Logger",
    "PythonLoggingObserver",
    "addObserver",
    "callWithContext",
    "callWithLogger",
    "deferr",
    "err",
    "logerr",
    "logfile",
    "msg",
    "removeObserver",
    "showwarning",
    "startLogging",
    "startLoggingWithObserver",
    "textFromEventDict",
    "theLogPublisher",
]

_T = TypeVar("_T")

EventDict = dict[str, Any]
LegacyObserver = Callable[[EventDict], None]


class ILogContext(Interface):
    """
    The key, in ``torsion.python.context``, of the mapping whose items
    (such as ``system``) every legacy log event starts from.
    """


def _currentLogContext() -> dict[str, Any]:
    current = context.get(ILogContext)
    if current is None:
        return {"system": "-"}
    return dict(current)


def callWithContext(
    ctx: dict[str, Any], func: Callable[..., _T], *args: Any, **kw: Any
) -> _T:
    """
    Call ``func`` so that every legacy event logged during the call gets the
    items of ``ctx`` (unless the call to ``msg`` overrides them).

    :param ctx: event items, such as ``{"system": "my-protocol"}``.
    :param func: the callable.
    :param args: its positional arguments.
    :param kw: its keyword arguments.
    :return: what ``func`` returns.
    """
    newContext = _currentLogContext()
    newContext.update(ctx)
    return context.call({ILogContext: newContext}, func, *args, **kw)


class Logger:
    """
    Something that names the ``system`` of the events logged on its behalf
    (see ``callWithLogger``).
    """

    def logPrefix(self) -> str:
        """
        :return: the ``system`` of events logged on behalf of this object.
        """
        return "-"


def callWithLogger(
    logger: Any, func: Callable[..., _T], *args: Any, **kw: Any
) -> _T | None:
    """
    Call ``func`` with ``logger.logPrefix()`` as the ``system`` of events it
    logs, logging (rather than raising) any exception it raises.

    This is how the reactor runs protocol code: an exception in one
    connection's callback is logged and the reactor carries on.

    :param logger: an object with a ``logPrefix`` method.
    :param func: the callable.
    :param args: its positional arguments.
    :param kw: its keyword arguments.
    :return: what ``func`` returns, or ``None`` if it raised.
    """
    try:
        prefix = str(logger.logPrefix())
    except Exception:
        prefix = "(buggy logPrefix method)"
        err(system=prefix)
    try:
        return callWithContext({"system": prefix}, func, *args, **kw)
    except Exception:
        err(system=prefix)
        return None


def textFromEventDict(eventDict: EventDict) -> str | None:
    """
    Render a legacy event as text.

    In order of preference: the ``message`` items joined by spaces; for an
    error carrying a failure, ``why`` (or ``"Unhandled Error"``) followed by
    the traceback; the ``%``-style ``format`` applied to the event; the
    new-style ``log_format``.

    :param eventDict: the event.
    :return: the text, or ``None`` if the event has none.
    """
    message = eventDict.get("message") or ()
    if message:
        return " ".join(safe_str(part) for part in message)
    if eventDict.get("isError") and "failure" in eventDict:
        why = eventDict.get("why")
        text = safe_str(why) if why else "Unhandled Error"
        try:
            traceback = eventDict["failure"].getTraceback()
        except Exception as e:
            traceback = f"(unable to obtain traceback: {safe_repr(e)})\n"
        return f"{text}\n{traceback}".rstrip("\n")
    if "format" in eventDict:
        try:
            return str(eventDict["format"] % eventDict)
        except Exception as e:
            return (
                "Invalid format string or unformattable object in log message: "
                f"{safe_repr(eventDict['format'])}, {safe_repr(e)}"
            )
    if eventDict.get("log_format") is not None:
        return formatEvent(eventDict) or None
    return None


class LogPublisher:
    """
    The legacy publisher: a front end on a new-style publisher (by default
    the global one) that accepts legacy observers and legacy events.
    """

    def __init__(
        self,
        observerPublisher: _NewLogPublisher | None = None,
        publishPublisher: Callable[[EventDict], None] | None = None,
    ) -> None:
        """
        :param observerPublisher: where observers are added; by default
            ``torsion.logger.globalLogPublisher``.
        :param publishPublisher: where events go; by default the same
            publisher.
        """
        if observerPublisher is None:
            observerPublisher = globalLogPublisher
        self._observerPublisher = observerPublisher
        self._publishPublisher: Callable[[EventDict], None] = (
            publishPublisher if publishPublisher is not None else observerPublisher
        )

    @property
    def observers(self) -> list[LegacyObserver]:
        """
        The legacy observers added through this publisher.
        """
        return [
            observer.legacyObserver
            for observer in self._observerPublisher.observers
            if isinstance(observer, LegacyLogObserverWrapper)
        ]

    def addObserver(self, other: LegacyObserver) -> None:
        """
        Add a legacy observer: a callable taking a legacy event dictionary.

        :param other: the observer.
        """
        self._observerPublisher.addObserver(LegacyLogObserverWrapper(other))

    def removeObserver(self, other: LegacyObserver) -> None:
        """
        Remove a legacy observer; removing an absent one does nothing.

        :param other: the observer.
        """
        self._observerPublisher.removeObserver(LegacyLogObserverWrapper(other))

    def msg(self, *message: Any, **kw: Any) -> None:
        """
        Log a legacy event.

        :param message: objects whose ``str`` forms, joined by spaces, are
            the text.
        :param kw: more event items: ``isError``, ``failure``, ``why``,
            ``system``, ``format``, ``logLevel`` (a ``logging`` level) or any
            data.
        """
        event = _currentLogContext()
        event.update(kw)
        event["message"] = message
        event["time"] = time.time()
        event.setdefault("isError", 0)
        publishToNewObserver(self._publishPublisher, event, textFromEventDict)

    def showwarning(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: IO[Any] | None = None,
        line: str | None = None,
    ) -> None:
        """
        Log a warning; a drop-in replacement for ``warnings.showwarning``.

        :param message: the warning.
        :param category: its class.
        :param filename: the file that issued it.
        :param lineno: the line that issued it.
        :param file: a file to write to instead of logging.
        :param line: the source line.
        """
        text = warnings.formatwarning(message, category, filename, lineno, line)
        if file is None:
            self.msg(
                text.rstrip("\n"),
                category=f"{category.__module__}.{category.__qualname__}",
                filename=filename,
                lineno=lineno,
            )
        else:
            file.write(text)


theLogPublisher = LogPublisher()
"""The legacy publisher used by the module-level functions."""


def msg(*message: Any, **kw: Any) -> None:
    """
    Log a legacy event through ``theLogPublisher``.

    :param message: objects whose ``str`` forms, joined by spaces, are the
        text.
    :param kw: more event items (see ``LogPublisher.msg``).
    """
    theLogPublisher.msg(*message, **kw)


def addObserver(observer: LegacyObserver) -> None:
    """
    Add a legacy observer to ``theLogPublisher``.

    :param observer: a callable taking a legacy event dictionary.
    """
    theLogPublisher.addObserver(observer)


def removeObserver(observer: LegacyObserver) -> None:
    """
    Remove a legacy observer from ``theLogPublisher``.

    :param observer: the observer.
    """
    theLogPublisher.removeObserver(observer)


def showwarning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: IO[Any] | None = None,
    line: str | None = None,
) -> None:
    """
    Log a warning through ``theLogPublisher``.

    :param message: the warning.
    :param category: its class.
    :param filename: the file that issued it.
    :param lineno: the line that issued it.
    :param file: a file to write to instead of logging.
    :param line: the source line.
    """
    theLogPublisher.showwarning(message, category, filename, lineno, file, line)


def err(_stuff: Any = None, _why: str | None = None, **kw: Any) -> None:
    """
    Log an error.

    :param _stuff: what went wrong: ``None`` for the exception being
        handled, a ``Failure``, an exception, or any other object (logged by
        its ``repr``).
    :param _why: what was being attempted, shown before the traceback.
    :param kw: more event items.
    :raises torsion.python.failure.NoCurrentExceptionError: if ``_stuff``
        is ``None`` outside an ``except`` block.
    """
    if _stuff is None:
        _stuff = captureFailure()
    if isFailure(_stuff):
        msg(failure=_stuff, why=_why, isError=1, **kw)
    elif isinstance(_stuff, BaseException):
        msg(failure=captureFailure(_stuff), why=_why, isError=1, **kw)
    else:
        msg(repr(_stuff), why=_why, isError=1, **kw)


deferr = err
"""Another name for ``err``."""

logfile = LoggingFile(_NewLogger(namespace="stdout"), LogLevel.info)
"""A file whose lines are logged as info events (namespace ``stdout``)."""

logerr = LoggingFile(_NewLogger(namespace="stderr"), LogLevel.error)
"""A file whose lines are logged as error events (namespace ``stderr``)."""


class FileLogObserver:
    """
    A legacy observer writing one line per event (continuation lines
    indented with a tab) to a text file::

        2026-11-20 23:30:00+0000 [HTTPChannel,0,127.0.0.1] GET /

    :ivar timeFormat: a ``strftime`` format for timestamps, or ``None`` for
        the default ``"%Y-%m-%d %H:%M:%S%z"``.
    """

    timeFormat: str | None = None

    def __init__(self, f: IO[Any]) -> None:
        """
        :param f: the text file.
        """
        self.write = f.write
        self.flush = getattr(f, "flush", lambda: None)

    def getTimezoneOffset(self, when: float) -> int:
        """
        :param when: a POSIX timestamp.
        :return: the local time zone's offset from UTC at that time, in
            seconds west of UTC (positive west of Greenwich).
        """
        offset = datetime.fromtimestamp(when).astimezone().utcoffset()
        return -int(offset.total_seconds()) if offset is not None else 0

    def formatTime(self, when: float | None) -> str:
        """
        :param when: a POSIX timestamp.
        :return: the time in local time, formatted with ``timeFormat``.
        """
        return _formatTime(when, self.timeFormat or "%Y-%m-%d %H:%M:%S%z")

    def emit(self, eventDict: EventDict) -> None:
        """
        Write an event.

        :param eventDict: a legacy event.
        """
        text = textFromEventDict(eventDict)
        if text is None:
            return
        system = safe_str(eventDict.get("system", "-"))
        line = f"{self.formatTime(eventDict.get('time'))} [{system}] "
        self.write(line + text.replace("\n", "\n\t") + "\n")
        self.flush()

    __call__ = emit

    def start(self) -> None:
        """
        Start receiving events from ``theLogPublisher``.
        """
        addObserver(self.emit)

    def stop(self) -> None:
        """
        Stop receiving events.
        """
        removeObserver(self.emit)


class PythonLoggingObserver:
    """
    A legacy observer that passes events to the standard library's
    ``logging`` (at the event's ``logLevel``, or ERROR for errors and INFO
    otherwise).
    """

    def __init__(self, loggerName: str = "torsion") -> None:
        """
        :param loggerName: the ``logging`` logger to use.
        """
        self._logger = logging.getLogger(loggerName)

    def emit(self, eventDict: EventDict) -> None:
        """
        Log an event through ``logging``.

        :param eventDict: a legacy event.
        """
        if eventDict.get("log_stdlib_record") is not None:
            return
        if "logLevel" in eventDict:
            level = int(eventDict["logLevel"])
        elif eventDict.get("isError"):
            level = logging.ERROR
        else:
            level = logging.INFO
        text = textFromEventDict(eventDict)
        if text is None:
            return
        self._logger.log(level, "%s", text, extra={"torsion_log_event": True})

    __call__ = emit

    def start(self) -> None:
        """
        Start receiving events from ``theLogPublisher``.
        """
        addObserver(self.emit)

    def stop(self) -> None:
        """
        Stop receiving events.
        """
        removeObserver(self.emit)


def startLoggingWithObserver(observer: LegacyObserver, setStdout: bool = True) -> None:
    """
    Begin logging to a legacy observer (see
    ``torsion.logger.globalLogBeginner``).

    :param observer: a callable taking a legacy event dictionary.
    :param setStdout: also send ``print`` output and ``sys.stderr`` writes
        to the log.
    """
    globalLogBeginner.beginLoggingTo(
        [LegacyLogObserverWrapper(observer)], redirectStandardIO=bool(setStdout)
    )
    msg("Log opened.")


def startLogging(
    file: IO[Any], *args: Any, setStdout: bool = True, **kw: Any
) -> FileLogObserver | None:
    """
    Begin logging to a text file with a ``FileLogObserver``.

    Events logged before this call are written too.  Passing a file that is
    itself a redirected standard stream (a ``LoggingFile``) does nothing, as
    it would loop.

    :param file: the text file, such as ``sys.stdout``.
    :param args: ignored; accepted for compatibility.
    :param setStdout: also send ``print`` output and ``sys.stderr`` writes
        to the log.
    :param kw: ignored; accepted for compatibility.
    :return: the observer, or ``None`` if nothing was started.
    """
    if isinstance(file, LoggingFile):
        return None
    observer = FileLogObserver(file)
    startLoggingWithObserver(observer.emit, setStdout)
    return observer
