"""
Turning events into text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from torsion.python.reflect import safe_repr

from ._flatten import formatFlattened, formatWithCall

__all__ = [
    "eventAsText",
    "formatEvent",
    "formatEventAsClassicLogText",
    "formatTime",
    "formatUnformattableEvent",
    "timeFormatRFC3339",
]

_lastTime: tuple[tuple[int, str], str] | None = None

timeFormatRFC3339 = "%Y-%m-%dT%H:%M:%S%z"
"""The default ``strftime`` format for timestamps: ``2026-11-20T23:30:00+0000``."""


def formatEvent(event: Mapping[str, Any]) -> str:
    """
    Render an event's ``log_format`` with its fields.

    Never raises: an event that cannot be rendered (a missing field, a
    format string of the wrong type, a field whose ``__format__`` raises)
    gives a text starting with ``"Unable to format event"`` that shows the
    event and the error.

    :param event: the event.
    :return: the text; empty when the event has no ``log_format``.
    """
    try:
        if "log_flattened" in event:
            return formatFlattened(event)
        fmt = event.get("log_format")
        if fmt is None:
            return ""
        if isinstance(fmt, bytes):
            fmt = fmt.decode("utf-8")
        elif not isinstance(fmt, str):
            raise TypeError(f"Log format must be str, not {fmt!r}")
        return formatWithCall(fmt, event)
    except Exception as e:
        return formatUnformattableEvent(event, e)


def formatUnformattableEvent(event: Mapping[str, Any], error: BaseException) -> str:
    """
    Describe an event that could not be rendered.

    :param event: the event.
    :param error: what went wrong while rendering it.
    :return: a text starting with ``"Unable to format event"``.
    """
    try:
        return f"Unable to format event {event!r}: {error}"
    except Exception:
        # The event's repr itself failed: show what can be shown.
        try:
            items = ", ".join(
                f"{safe_repr(key)} = {safe_repr(value)}" for key, value in event.items()
            )
        except Exception:
            items = "<unreadable event>"
        return (
            f"Unable to format event {{{items}}}: MESSAGE LOST: "
            f"unformattable object logged: {safe_repr(error)}"
        )


def formatTime(
    when: float | None,
    timeFormat: str | None = timeFormatRFC3339,
    default: str = "-",
) -> str:
    """
    Render a POSIX timestamp in the local time zone.

    :param when: seconds since the epoch, or ``None``.
    :param timeFormat: a ``strftime`` format; ``None`` to always give
        ``default``.
    :param default: the text for a missing time or format.
    :return: the rendered time.
    """
    global _lastTime
    if timeFormat is None or when is None:
        return default
    # Consecutive events mostly fall in the same second: remember the last
    # rendering (formats with sub-second fields are not cached).
    cacheable = "%f" not in timeFormat
    if cacheable:
        try:
            key = (math.floor(when), timeFormat)
        except (OverflowError, ValueError, TypeError):
            return default
        cached = _lastTime
        if cached is not None and cached[0] == key:
            return cached[1]
    try:
        text = datetime.fromtimestamp(when).astimezone().strftime(timeFormat)
    except (OverflowError, OSError, ValueError, TypeError):
        return default
    if cacheable:
        _lastTime = (key, text)
    return text


def _formatSystem(event: Mapping[str, Any]) -> str:
    system = event.get("log_system")
    if system is not None:
        return str(system)
    namespace = event.get("log_namespace", "-")
    level = event.get("log_level")
    levelName = getattr(level, "name", "-")
    return f"{namespace}#{levelName}"


def _formatTraceback(failure: Any) -> str:
    try:
        return str(failure.getTraceback()).rstrip("\n")
    except Exception as e:
        return f"(UNABLE TO OBTAIN TRACEBACK FROM EVENT): {safe_repr(e)}"


def eventAsText(
    event: Mapping[str, Any],
    includeTraceback: bool = True,
    includeTimestamp: bool = True,
    includeSystem: bool = True,
    formatTime: Callable[[float | None], str] = formatTime,
) -> str:
    """
    Render an event as one text, optionally with a timestamp, the system
    (``[namespace#level]`` or ``log_system``) and the failure's traceback.

    :param event: the event.
    :param includeTraceback: append the traceback of ``log_failure``.
    :param includeTimestamp: start with the formatted ``log_time``.
    :param includeSystem: add ``[system]`` before the text.
    :param formatTime: renders ``log_time``.
    :return: the text; empty when the event has nothing to say.
    """
    text = formatEvent(event)
    if includeTraceback and "log_failure" in event:
        tb = _formatTraceback(event["log_failure"])
        text = f"{text}\n{tb}" if text else tb
    if not text:
        return text
    prefix = ""
    if includeTimestamp:
        prefix += formatTime(event.get("log_time")) + " "
    if includeSystem:
        prefix += f"[{_formatSystem(event)}] "
    return prefix + text


def formatEventAsClassicLogText(
    event: Mapping[str, Any],
    formatTime: Callable[[float | None], str] = formatTime,
) -> str | None:
    """
    Render an event as one entry of a classic text log file::

        2026-11-20T23:30:00+0000 [my.module#info] Hello, world

    Continuation lines (of a multi-line text or a traceback) are indented
    with a tab so that each entry starts at the beginning of a line.

    :param event: the event.
    :param formatTime: renders ``log_time``.
    :return: the entry, ending with a newline; ``None`` if the event has no
        text.
    """
    text = eventAsText(event, formatTime=formatTime)
    if not text:
        return None
    return text.replace("\n", "\n\t") + "\n"
