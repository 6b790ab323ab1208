"""
Bridges between torsion's logging and the standard library's ``logging``.
"""

from __future__ import annotations

import logging
from typing import Any

from zope.interface import implementer

from ._failure import captureFailure
from ._format import formatEvent
from ._interfaces import ILogObserver, LogEvent
from ._levels import LogLevel

__all__ = [
    "STDLibLogHandler",
    "STDLibLogObserver",
    "fromStdlibLogLevel",
    "toStdlibLogLevelMapping",
]

toStdlibLogLevelMapping: dict[LogLevel, int] = {
    LogLevel.debug: logging.DEBUG,
    LogLevel.info: logging.INFO,
    LogLevel.warn: logging.WARNING,
    LogLevel.error: logging.ERROR,
    LogLevel.critical: logging.CRITICAL,
}
"""The standard library level used for each ``LogLevel``."""

# Marks records made from torsion events, and events made from records, so
# that installing both bridges does not send events round in a loop.
_FROM_TORSION = "torsion_log_event"
_FROM_STDLIB = "log_stdlib_record"


def fromStdlibLogLevel(level: int) -> LogLevel:
    """
    Return the ``LogLevel`` for a standard library level number.

    Custom numeric levels map to the closest level at or below them.

    :param level: a ``logging`` level such as ``logging.WARNING``.
    :return: the matching ``LogLevel``.
    """
    if level >= logging.CRITICAL:
        return LogLevel.critical
    if level >= logging.ERROR:
        return LogLevel.error
    if level >= logging.WARNING:
        return LogLevel.warn
    if level >= logging.INFO:
        return LogLevel.info
    return LogLevel.debug


class _EventText:
    """
    Renders an event only if a ``logging`` handler asks for the message.
    """

    def __init__(self, event: LogEvent) -> None:
        self._event = event

    def __str__(self) -> str:
        return formatEvent(self._event)


@implementer(ILogObserver)
class STDLibLogObserver:
    """
    An observer that hands events to a standard library ``logging.Logger``.

    Levels map through ``toStdlibLogLevelMapping``; an event's
    ``log_failure`` becomes the record's ``exc_info``.  Events that came from
    the standard library (through ``STDLibLogHandler``) are ignored.
    """

    def __init__(self, name: str = "torsion", stackDepth: int = 2) -> None:
        """
        :param name: the name of the ``logging`` logger to use.
        :param stackDepth: kept for compatibility; records carry the
            location of this observer, since the code that emitted the event
            is not on the stack in any useful way.
        """
        self.logger = logging.getLogger(name)
        self.stackDepth = stackDepth

    def __call__(self, event: LogEvent) -> None:
        """
        Log ``event`` through the standard library.

        :param event: the event.
        """
        if event.get(_FROM_STDLIB) is not None:
            return
        level = toStdlibLogLevelMapping.get(event.get("log_level"), logging.INFO)  # type: ignore[arg-type]
        excInfo: Any = None
        failure = event.get("log_failure")
        if failure is not None:
            try:
                excInfo = (failure.type, failure.value, failure.getTracebackObject())
            except AttributeError:
                excInfo = None
        self.logger.log(
            level, _EventText(event), exc_info=excInfo, extra={_FROM_TORSION: True}
        )


class STDLibLogHandler(logging.Handler):
    """
    A standard library ``logging.Handler`` that forwards records into
    torsion's logging, so that libraries using ``logging`` show up in the
    same log as torsion's own events::

        logging.getLogger().addHandler(STDLibLogHandler())

    Each record becomes an event with ``log_namespace`` set to the record's
    logger name, the mapped ``log_level``, the record's creation time,
    ``log_text`` holding its message (rendered by format ``"{log_text}"``)
    and ``log_failure`` when it carries exception information.  Records
    produced by ``STDLibLogObserver`` are not forwarded back.
    """

    def __init__(
        self,
        observer: Any = None,
        level: int = logging.NOTSET,
    ) -> None:
        """
        :param observer: receives the events; by default the global
            publisher, ``globalLogPublisher``.
        :param level: the handler's minimum ``logging`` level.
        """
        super().__init__(level)
        self._observer = observer

    def emit(self, record: logging.LogRecord) -> None:
        """
        Forward ``record`` as an event.

        :param record: the standard library log record.
        """
        if getattr(record, _FROM_TORSION, False):
            return
        try:
            text = record.getMessage()
        except Exception as e:
            text = f"Unable to format log record {record.msg!r} % {record.args!r}: {e}"
        event: LogEvent = {
            "log_level": fromStdlibLogLevel(record.levelno),
            "log_namespace": record.name,
            "log_format": "{log_text}",
            "log_text": text,
            "log_time": record.created,
            "log_source": None,
            "log_logger": None,
            _FROM_STDLIB: record,
        }
        if record.exc_info and record.exc_info[1] is not None:
            try:
                event["log_failure"] = captureFailure(record.exc_info[1])
            except Exception:
                pass
        observer = self._observer
        if observer is None:
            from ._global import globalLogPublisher

            observer = globalLogPublisher
        try:
            observer(event)
        except Exception:
            self.handleError(record)
