"""
Translation between new-style events and the legacy ``torsion.python.log``
event dictionaries, so that observers of either kind see every event.

Legacy events carry ``message`` (a tuple of objects to join), ``isError``,
``failure``, ``why``, ``system``, ``time`` and optionally ``format`` (a
``%``-style format applied to the event).  New-style events carry
``log_format`` and the other ``log_*`` fields.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from ._format import formatEvent
from ._interfaces import ILogObserver, LogEvent
from ._levels import LogLevel
from ._stdlib import fromStdlibLogLevel

__all__ = ["LegacyLogObserverWrapper", "publishToNewObserver"]


class _StringifiableFromEvent:
    """
    Renders a new-style event when a legacy ``%(log_legacy)s`` format asks.
    """

    def __init__(self, event: LogEvent) -> None:
        self._event = event

    def __str__(self) -> str:
        return formatEvent(self._event)

    def __repr__(self) -> str:
        return repr(str(self))


@implementer(ILogObserver)
class LegacyLogObserverWrapper:
    """
    Lets a legacy observer (one that expects ``message``, ``isError``,
    ``system``, ``time``...) receive new-style events.

    The legacy observer gets a copy of the event with the legacy keys added;
    the original event is not modified.
    """

    def __init__(self, legacyObserver: Callable[[dict[str, Any]], None]) -> None:
        """
        :param legacyObserver: a callable taking a legacy event dictionary.
        """
        self.legacyObserver = legacyObserver

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.legacyObserver!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, LegacyLogObserverWrapper):
            return bool(self.legacyObserver == other.legacyObserver)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.legacyObserver)

    def __call__(self, event: LogEvent) -> None:
        """
        Translate ``event`` and pass it to the legacy observer.

        :param event: a new-style (or already legacy) event.
        """
        legacy = dict(event)
        fromLegacy = "message" in event
        legacy.setdefault("message", ())
        if "time" not in legacy:
            legacy["time"] = event.get("log_time")
        if "system" not in legacy:
            legacy["system"] = event.get("log_system", "-")
        if (
            "format" not in legacy
            and not legacy["message"]
            and event.get("log_format") is not None
        ):
            legacy["format"] = "%(log_legacy)s"
            legacy["log_legacy"] = _StringifiableFromEvent(dict(event))
        if "log_failure" in event:
            legacy.setdefault("failure", event["log_failure"])
            legacy["isError"] = 1
            if "why" not in legacy:
                legacy["why"] = formatEvent(event) or None
        elif "isError" not in legacy:
            level = event.get("log_level")
            legacy["isError"] = int(
                isinstance(level, LogLevel) and level >= LogLevel.error
            )
        if (
            not fromLegacy
            and "logLevel" not in legacy
            and isinstance(event.get("log_level"), LogLevel)
        ):
            legacy["logLevel"] = {
                LogLevel.debug: logging.DEBUG,
                LogLevel.info: logging.INFO,
                LogLevel.warn: logging.WARNING,
                LogLevel.error: logging.ERROR,
                LogLevel.critical: logging.CRITICAL,
            }[event["log_level"]]
        self.legacyObserver(legacy)


def publishToNewObserver(
    observer: Callable[[LogEvent], None],
    eventDict: dict[str, Any],
    textFromEventDict: Callable[[dict[str, Any]], str | None],
) -> None:
    """
    Add the new-style fields to a legacy event and give it to a new-style
    observer.

    :param observer: the new-style observer (normally the global publisher).
    :param eventDict: the legacy event; modified in place.
    :param textFromEventDict: renders a legacy event as text.
    """
    if "log_time" not in eventDict:
        eventDict["log_time"] = eventDict.get("time")
    isError = bool(eventDict.get("isError"))
    failure = eventDict.get("failure")
    if "log_failure" not in eventDict and isError and failure is not None:
        eventDict["log_failure"] = failure
    if "log_format" not in eventDict:
        if isError and failure is not None and not eventDict.get("message"):
            # The traceback travels as log_failure; text observers add it.
            text: str | None = eventDict.get("why") or "Unhandled Error"
        else:
            text = textFromEventDict(eventDict)
        if text is not None:
            eventDict["log_text"] = text
            eventDict["log_format"] = "{log_text}"
    if "log_level" not in eventDict:
        if "logLevel" in eventDict:
            try:
                level = fromStdlibLogLevel(int(eventDict["logLevel"]))
            except (TypeError, ValueError):
                level = LogLevel.info
        elif isError:
            level = LogLevel.critical
        else:
            level = LogLevel.info
        eventDict["log_level"] = level
    if "log_system" not in eventDict and "system" in eventDict:
        eventDict["log_system"] = eventDict["system"]
    eventDict.setdefault("log_namespace", "log_legacy")
    eventDict.setdefault("log_source", None)
    eventDict.setdefault("log_logger", None)
    observer(eventDict)
