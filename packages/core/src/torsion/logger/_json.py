"""
Writing events as JSON and reading them back.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from torsion.python.reflect import safe_repr

from ._failure import _failureClass, isFailure
from ._file import FileLogObserver
from ._flatten import flattenEvent
from ._interfaces import LogEvent
from ._levels import InvalidLogLevelError, LogLevel
from ._logger import Logger

__all__ = [
    "MAX_JSON_RECORD_SIZE",
    "eventAsJSON",
    "eventFromJSON",
    "eventsFromJSONLogFile",
    "jsonFileLogObserver",
]

MAX_JSON_RECORD_SIZE = 16 * 1024 * 1024
"""The largest record, in bytes, ``eventsFromJSONLogFile`` accepts by default."""

_TYPE_KEY = "__torsion_type__"

_log = Logger()


def _failureAsJSON(failure: Any) -> dict[str, Any]:
    exceptionType = failure.type
    return {
        _TYPE_KEY: "Failure",
        "module": getattr(exceptionType, "__module__", "builtins"),
        "qualname": getattr(exceptionType, "__qualname__", "Exception"),
        "message": failure.getErrorMessage(),
        "traceback": failure.getTraceback(),
        "brief": failure.getTraceback(detail="brief"),
    }


def _failureFromJSON(data: dict[str, Any]) -> Any:
    failureClass = _failureClass()
    qualname = str(data.get("qualname", "Exception"))
    # The original exception class may not be importable by the reader, so
    # a stand-in class of the same name carries the message.
    standIn: type[Exception] = type(
        qualname.rpartition(".")[2] or "Exception",
        (Exception,),
        {"__module__": str(data.get("module", "builtins")), "__qualname__": qualname},
    )
    value = standIn(str(data.get("message", "")))
    traceback = str(data.get("traceback", ""))
    failure = failureClass.__new__(failureClass)
    # Failure's own unpickling protocol: a failure without frames that
    # renders the traceback text it was given.
    failure.__setstate__(
        {
            "value": value,
            "type": standIn,
            "tb": None,
            "captureVars": False,
            "_summary": None,
            "_rendered": {
                "default": traceback,
                "brief": str(data.get("brief", traceback)),
            },
        }
    )
    return failure


def _saveHook(obj: object) -> Any:
    if isinstance(obj, LogLevel):
        return {_TYPE_KEY: "LogLevel", "name": obj.name}
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "backslashreplace")
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    if isFailure(obj):
        try:
            return _failureAsJSON(obj)
        except Exception:
            pass
    return {"unpersistable": True, "repr": safe_repr(obj)}


def _loadHook(data: dict[str, Any]) -> Any:
    kind = data.get(_TYPE_KEY)
    if kind == "LogLevel":
        try:
            return LogLevel.levelWithName(str(data.get("name")))
        except InvalidLogLevelError:
            return data
    if kind == "Failure":
        try:
            return _failureFromJSON(data)
        except Exception:
            return data
    return data


def eventAsJSON(event: LogEvent) -> str:
    """
    Serialise an event as one line of JSON.

    The event is flattened first (see ``flattenEvent``), so its text can be
    rendered after reading it back even though fields holding arbitrary
    objects cannot be serialised: those become
    ``{"unpersistable": true, "repr": ...}``.  A ``Failure`` keeps its class
    name, message and traceback text; a ``LogLevel`` is restored as itself.

    :param event: the event.
    :return: JSON text without newlines.
    """
    flat = dict(event)
    flattenEvent(flat)
    try:
        return json.dumps(flat, default=_saveHook, skipkeys=True)
    except (ValueError, TypeError, RecursionError):
        # A circular or otherwise broken field: save the others.
        safe: dict[str, Any] = {}
        for key, value in flat.items():
            if not isinstance(key, str):
                continue
            try:
                json.dumps(value, default=_saveHook, skipkeys=True)
            except (ValueError, TypeError, RecursionError):
                value = {"unpersistable": True, "repr": safe_repr(value)}
            safe[key] = value
        return json.dumps(safe, default=_saveHook, skipkeys=True)


def eventFromJSON(eventText: str) -> LogEvent:
    """
    Read an event written by ``eventAsJSON``.

    :param eventText: the JSON text.
    :return: the event.
    :raises ValueError: if the text is not JSON or not a JSON object.
    """
    event = json.loads(eventText, object_hook=_loadHook)
    if not isinstance(event, dict):
        raise ValueError(f"A log event must be a JSON object, not {eventText!r}")
    return event


def jsonFileLogObserver(
    outFile: IO[Any], recordSeparator: str = "\x1e"
) -> FileLogObserver:
    """
    Make an observer writing each event as one line of JSON.

    By default each line starts with an ASCII record separator (RFC 7464
    JSON text sequences), which lets a reader detect a truncated last
    record; pass ``recordSeparator=""`` for plain JSON lines.

    :param outFile: a text file.
    :param recordSeparator: written before each record.
    :return: the observer.
    """
    return FileLogObserver(
        outFile, lambda event: f"{recordSeparator}{eventAsJSON(event)}\n"
    )


def eventsFromJSONLogFile(
    inFile: IO[Any],
    recordSeparator: str | None = None,
    bufferSize: int = 4096,
    maxRecordSize: int = MAX_JSON_RECORD_SIZE,
) -> Iterator[LogEvent]:
    """
    Read the events of a file written by ``jsonFileLogObserver``.

    Records that cannot be read (invalid UTF-8, invalid JSON, not an object,
    truncated, or longer than ``maxRecordSize`` bytes) are skipped, each with
    a warning logged in namespace ``torsion.logger._json``; reading never
    stops at a bad record.

    :param inFile: a text or binary file.
    :param recordSeparator: the separator the file was written with; by
        default, ``"\\x1e"`` if the file starts with one, else newlines.
    :param bufferSize: how much to read at a time.
    :param maxRecordSize: the largest record accepted, in bytes.
    :return: an iterator of events.
    """
    separator = None if recordSeparator is None else recordSeparator.encode("utf-8")

    def chunks() -> Iterator[bytes]:
        while True:
            data = inFile.read(bufferSize)
            if not data:
                return
            yield data.encode("utf-8") if isinstance(data, str) else data

    buffer = b""
    discarding = False
    for chunk in chunks():
        if separator is None:
            separator = b"\x1e" if chunk.startswith(b"\x1e") else b"\n"
        buffer += chunk
        *records, buffer = buffer.split(separator)
        for record in records:
            if discarding:
                discarding = False
                continue
            event = _parseRecord(record, separator)
            if event is not None:
                yield event
        if len(buffer) > maxRecordSize:
            if not discarding:
                _log.warn(
                    "Skipping a JSON log record longer than {maxRecordSize} bytes",
                    maxRecordSize=maxRecordSize,
                )
            discarding = True
            buffer = b""
    if buffer and not discarding and separator is not None:
        event = _parseRecord(buffer, separator, last=True)
        if event is not None:
            yield event


def _parseRecord(
    record: bytes, separator: bytes, last: bool = False
) -> LogEvent | None:
    if not record.strip():
        return None
    if separator == b"\x1e" and not record.endswith(b"\n"):
        _log.warn(
            "Unable to read truncated JSON record: {record!r}", record=record[:200]
        )
        return None
    try:
        text = record.decode("utf-8")
    except UnicodeDecodeError:
        _log.warn(
            "Unable to decode UTF-8 for JSON record: {record!r}", record=record[:200]
        )
        return None
    try:
        return eventFromJSON(text)
    except ValueError:
        _log.warn("Unable to read JSON record: {record!r}", record=record[:200])
        return None
