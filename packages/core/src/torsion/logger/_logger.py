"""
The ``Logger``: the object code uses to emit log events.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from ._failure import captureFailure
from ._interfaces import LogEvent
from ._levels import InvalidLogLevelError, LogLevel

__all__ = ["Logger", "Operation"]


class Operation:
    """
    The outcome of a block run under ``Logger.failuresHandled``.

    :ivar succeeded: ``True`` once the block finished without an exception.
    :ivar failed: ``True`` once the block raised (the exception was logged).
    :ivar failure: the ``Failure`` that was logged, or ``None``.
    """

    def __init__(self) -> None:
        self.succeeded = False
        self.failed = False
        self.failure: Any = None


class Logger:
    """
    Emit structured log events.

    An event is a dictionary: a PEP 3101 format string (``log_format``) plus
    the fields it refers to, and the fields the logger adds itself
    (``log_level``, ``log_namespace``, ``log_source``, ``log_time``,
    ``log_logger``, and ``log_failure`` for errors)::

        log = Logger()
        log.info("Accepted {count} connections from {peer}", count=3, peer=p)

    Format strings are rendered only when an observer wants text, and the
    raw fields stay available to observers that want data.

    Used as a class attribute, a ``Logger`` binds to the class or instance it
    is read from: its ``log_source`` becomes that object and its namespace
    the class's dotted name.
    """

    def __init__(
        self,
        namespace: str | None = None,
        source: object = None,
        observer: Callable[[LogEvent], None] | None = None,
    ) -> None:
        """
        :param namespace: a dotted name classifying the events, used for
            filtering; by default, the name of the module creating the
            logger.
        :param source: the object the events are about, recorded as
            ``log_source``.
        :param observer: where events go; by default the global publisher,
            ``globalLogPublisher``.
        """
        self._namespaceGiven = namespace is not None
        if namespace is None:
            try:
                namespace = sys._getframe(1).f_globals.get("__name__", "<unknown>")
            except ValueError:
                namespace = "<unknown>"
        self.namespace: str = namespace
        self.source = source
        self._observer = observer

    @property
    def observer(self) -> Callable[[LogEvent], None]:
        """
        The observer that receives this logger's events.
        """
        if self._observer is None:
            from ._global import globalLogPublisher

            return globalLogPublisher
        return self._observer

    def __get__(self, instance: object, owner: type | None = None) -> Logger:
        if owner is None:
            owner = type(instance)
        source: object = owner if instance is None else instance
        namespace = (
            self.namespace
            if self._namespaceGiven
            else f"{owner.__module__}.{owner.__qualname__}"
        )
        return self.__class__(namespace, source, observer=self._observer)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.namespace!r}>"

    def emit(self, level: LogLevel, format: str | None = None, **kwargs: Any) -> None:
        """
        Emit an event at ``level``.

        :param level: how important the event is.
        :param format: a PEP 3101 format string describing the event in terms
            of its fields, such as ``"Lost {count} packets"``; ``None`` for an
            event that carries only data.
        :param kwargs: the event's fields.
        """
        if not isinstance(level, LogLevel):
            self.failure(
                "Got invalid log level {invalidLevel!r} in {logger}.emit().",
                captureFailure(InvalidLogLevelError(level)),
                invalidLevel=level,
                logger=self,
            )
            return
        event: LogEvent = kwargs
        event.update(
            log_logger=self,
            log_level=level,
            log_namespace=self.namespace,
            log_source=self.source,
            log_format=format,
            log_time=time.time(),
        )
        observer = self.observer
        if "log_trace" in event:
            event["log_trace"].append((self, observer))
        observer(event)

    def failure(
        self,
        format: str,
        failure: Any = None,
        level: LogLevel = LogLevel.critical,
        **kwargs: Any,
    ) -> None:
        """
        Emit an event describing an error, carrying a ``Failure``.

        Call it from an ``except`` block to record the exception being
        handled, or pass the ``Failure`` explicitly (for example from an
        errback)::

            try:
                frobnicate()
            except Exception:
                log.failure("While frobnicating {thing}", thing=thing)

        :param format: a format string describing what was being attempted.
        :param failure: the ``Failure`` to record; by default, one wrapping
            the exception currently being handled.
        :param level: the event's level, critical by default.
        :param kwargs: more fields for the event.
        """
        if failure is None:
            failure = captureFailure()
        self.emit(level, format, log_failure=failure, **kwargs)

    def debug(self, format: str | None = None, **kwargs: Any) -> None:
        """
        Emit an event at the ``debug`` level.

        :param format: the event's format string.
        :param kwargs: the event's fields.
        """
        self.emit(LogLevel.debug, format, **kwargs)

    def info(self, format: str | None = None, **kwargs: Any) -> None:
        """
        Emit an event at the ``info`` level.

        :param format: the event's format string.
        :param kwargs: the event's fields.
        """
        self.emit(LogLevel.info, format, **kwargs)

    def warn(self, format: str | None = None, **kwargs: Any) -> None:
        """
        Emit an event at the ``warn`` level.

        :param format: the event's format string.
        :param kwargs: the event's fields.
        """
        self.emit(LogLevel.warn, format, **kwargs)

    def error(self, format: str | None = None, **kwargs: Any) -> None:
        """
        Emit an event at the ``error`` level.

        :param format: the event's format string.
        :param kwargs: the event's fields.
        """
        self.emit(LogLevel.error, format, **kwargs)

    def critical(self, format: str | None = None, **kwargs: Any) -> None:
        """
        Emit an event at the ``critical`` level.

        :param format: the event's format string.
        :param kwargs: the event's fields.
        """
        self.emit(LogLevel.critical, format, **kwargs)

    @contextmanager
    def failuresHandled(
        self, format: str, level: LogLevel = LogLevel.critical, **kwargs: Any
    ) -> Iterator[Operation]:
        """
        Run a block, logging (and stopping) any exception it raises.

        The context manager gives an ``Operation`` telling what happened::

            with log.failuresHandled("Could not save {name}", name=n) as op:
                save(n)
            if op.succeeded:
                notify(n)

        Exceptions that are not ``Exception`` subclasses (``KeyboardInterrupt``,
        ``SystemExit``) are not caught.

        :param format: the format string of the event logged on failure.
        :param level: that event's level, critical by default.
        :param kwargs: more fields for that event.
        :return: a context manager giving an ``Operation``.
        """
        operation = Operation()
        try:
            yield operation
        except Exception:
            operation.failed = True
            operation.failure = captureFailure()
            self.failure(format, operation.failure, level, **kwargs)
        else:
            operation.succeeded = True

    @contextmanager
    def failureHandler(
        self, format: str, level: LogLevel = LogLevel.critical, **kwargs: Any
    ) -> Iterator[None]:
        """
        Like ``failuresHandled``, for a block whose outcome the caller does
        not need to know.

        :param format: the format string of the event logged on failure.
        :param level: that event's level, critical by default.
        :param kwargs: more fields for that event.
        :return: a context manager.
        """
        with self.failuresHandled(format, level, **kwargs):
            yield
