"""
The global log publisher and the object that starts logging for a program.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Iterable
from typing import IO, Any

from ._buffer import LimitedHistoryLogObserver
from ._file import FileLogObserver
from ._filter import FilteringLogObserver, LogLevelFilterPredicate
from ._format import eventAsText
from ._interfaces import LogEvent
from ._io import LoggingFile
from ._levels import LogLevel
from ._logger import Logger
from ._observer import LogPublisher

__all__ = [
    "DEFAULT_INITIAL_BUFFER_SIZE",
    "LogBeginner",
    "globalLogBeginner",
    "globalLogPublisher",
]

DEFAULT_INITIAL_BUFFER_SIZE = 2**16
"""How many events are kept, before logging begins, to replay afterwards."""

Observer = Callable[[LogEvent], None]


def _earlyErrorText(event: LogEvent) -> str | None:
    text = eventAsText(event, includeTimestamp=False)
    return text + "\n" if text else None


class LogBeginner:
    """
    Start a program's logging: pick where events go, once, near startup.

    Until ``beginLoggingTo`` is called, events are kept in a bounded buffer
    (the oldest are dropped once it is full) and critical events are also
    written to the error stream, so that a program that never configures
    logging still shows its fatal errors.  ``beginLoggingTo`` then adds the
    chosen observers and replays the buffered events to them.
    """

    def __init__(
        self,
        publisher: LogPublisher,
        errorStream: IO[Any],
        stdio: Any,
        warningsModule: Any,
        initialBufferSize: int | None = None,
    ) -> None:
        """
        :param publisher: the publisher to configure.
        :param errorStream: where critical events go before logging begins.
        :param stdio: an object with ``stdout`` and ``stderr`` attributes to
            replace when standard I/O is redirected (normally ``sys``).
        :param warningsModule: an object with a ``showwarning`` attribute
            to route through the log (normally ``warnings``).
        :param initialBufferSize: how many early events to keep; by default
            ``DEFAULT_INITIAL_BUFFER_SIZE``.
        """
        if initialBufferSize is None:
            initialBufferSize = DEFAULT_INITIAL_BUFFER_SIZE
        self._publisher = publisher
        self._log = Logger(
            namespace="torsion.logger.globalLogBeginner", observer=publisher
        )
        self._initialBuffer = LimitedHistoryLogObserver(initialBufferSize)
        self._temporaryObserver: Observer | None = LogPublisher(
            self._initialBuffer,
            FilteringLogObserver(
                FileLogObserver(errorStream, _earlyErrorText),
                [LogLevelFilterPredicate(defaultLogLevel=LogLevel.critical)],
            ),
        )
        self._stdio = stdio
        self._warningsModule = warningsModule
        self._oldShowwarning: Any = None
        self._previousBegin: tuple[str, int] | None = None
        publisher.addObserver(self._temporaryObserver)

    def beginLoggingTo(
        self,
        observers: Iterable[Observer],
        discardBuffer: bool = False,
        redirectStandardIO: bool = True,
    ) -> None:
        """
        Send all events, from now on and buffered so far, to ``observers``.

        Calling it a second time adds the new observers too, and logs a
        warning naming both call sites: a program should choose its log
        destination in one place.

        :param observers: the observers to add to the global publisher.
        :param discardBuffer: drop the events buffered so far instead of
            replaying them.
        :param redirectStandardIO: replace ``sys.stdout`` and ``sys.stderr``
            with ``LoggingFile`` objects (at levels info and error) and route
            ``warnings`` to the log.
        """
        caller = sys._getframe(1)
        callSite = (caller.f_code.co_filename, caller.f_lineno)
        observers = list(observers)
        for observer in observers:
            self._publisher.addObserver(observer)
        if self._temporaryObserver is not None:
            self._publisher.removeObserver(self._temporaryObserver)
            self._temporaryObserver = None
            if not discardBuffer:
                for observer in observers:
                    self._initialBuffer.replayTo(observer)
            # The buffer is never needed again; free it.
            self._initialBuffer = LimitedHistoryLogObserver(1)
        if self._previousBegin is not None:
            self._log.warn(
                "Warning: primary log target selected twice at "
                "<{fileNow}:{lineNow}> - previously selected at "
                "<{fileThen}:{lineThen}>.  Remove one of the calls to "
                "beginLoggingTo.",
                fileNow=callSite[0],
                lineNow=callSite[1],
                fileThen=self._previousBegin[0],
                lineThen=self._previousBegin[1],
            )
        else:
            self._previousBegin = callSite
        if redirectStandardIO:
            self._redirectStandardIO()

    def _redirectStandardIO(self) -> None:
        for name, level in (("stdout", LogLevel.info), ("stderr", LogLevel.error)):
            current = getattr(self._stdio, name, None)
            if isinstance(current, LoggingFile):
                continue
            encoding = getattr(current, "encoding", None) or "utf-8"
            setattr(
                self._stdio,
                name,
                LoggingFile(
                    Logger(namespace=name, observer=self._publisher),
                    level,
                    encoding=encoding,
                ),
            )
        if self._oldShowwarning is None:
            self._oldShowwarning = self._warningsModule.showwarning
            self._warningsModule.showwarning = self.showwarning

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
        Log a warning, as a replacement for ``warnings.showwarning``.

        A warning explicitly sent to a file is written there as usual.

        :param message: the warning.
        :param category: its class.
        :param filename: the file that issued it.
        :param lineno: the line that issued it.
        :param file: a file to write to instead of logging.
        :param line: the source line.
        """
        if file is None:
            self._log.warn(
                "{filename}:{lineno}: {category}: {warning}",
                warning=message,
                category=f"{category.__module__}.{category.__qualname__}",
                filename=filename,
                lineno=lineno,
            )
        else:
            file.write(
                warnings.formatwarning(message, category, filename, lineno, line)
            )


class _CurrentStandardError:
    """
    Writes to whatever ``sys.stderr`` is at the time of writing, so that
    early errors reach a stream replaced after import (by a test runner,
    for instance).
    """

    def write(self, text: str) -> None:
        sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


globalLogPublisher = LogPublisher()
"""The publisher every ``Logger`` sends its events to by default."""

globalLogBeginner = LogBeginner(
    globalLogPublisher,
    _CurrentStandardError(),  # type: ignore[arg-type]
    sys,
    warnings,
)
"""Call ``globalLogBeginner.beginLoggingTo([...])`` once to start logging."""
