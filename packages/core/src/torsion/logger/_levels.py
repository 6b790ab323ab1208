"""
Log levels.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator

__all__ = ["InvalidLogLevelError", "LogLevel"]


class InvalidLogLevelError(Exception):
    """
    Someone named or passed a log level that does not exist.
    """

    def __init__(self, level: object) -> None:
        super().__init__(f"Invalid log level: {level!r}")
        self.level = level


class LogLevel(enum.Enum):
    """
    How important a log event is, from least (``debug``) to most
    (``critical``) severe.

    Levels compare by severity, so ``LogLevel.warn < LogLevel.error``.
    """

    debug = 0
    """Information useful while developing or diagnosing a problem."""

    info = 1
    """Routine information about the normal operation of a program."""

    warn = 2
    """Something unexpected happened, but the program carries on normally."""

    error = 3
    """Something failed; the program can continue, but something is lost."""

    critical = 4
    """Something failed badly; the program may not be able to continue."""

    @classmethod
    def levelWithName(cls, name: str) -> LogLevel:
        """
        Find the level called ``name``.

        :param name: a level name, such as ``"info"``.
        :return: the level of that name.
        :raises InvalidLogLevelError: if no level has that name.
        """
        try:
            return cls[name]
        except KeyError:
            raise InvalidLogLevelError(name) from None

    @classmethod
    def iterconstants(cls) -> Iterator[LogLevel]:
        """
        Iterate over all levels, least severe first.

        :return: an iterator of levels.
        """
        return iter(cls)

    def __repr__(self) -> str:
        return f"<LogLevel={self.name}>"

    # A plain attribute: comparing levels is on the hot path of filtering,
    # and Enum's ``value`` is a comparatively slow descriptor.
    _severity: int

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, LogLevel):
            return NotImplemented
        return self._severity < other._severity

    def __le__(self, other: object) -> bool:
        if not isinstance(other, LogLevel):
            return NotImplemented
        return self._severity <= other._severity

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, LogLevel):
            return NotImplemented
        return self._severity > other._severity

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, LogLevel):
            return NotImplemented
        return self._severity >= other._severity


for _level in LogLevel:
    _level._severity = _level.value
del _level
