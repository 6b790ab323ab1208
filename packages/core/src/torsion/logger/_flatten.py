"""
Rendering format strings, and "flattening" an event so that it can still be
rendered after its fields have been serialised (to JSON, for example).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from ._interfaces import LogEvent

__all__ = ["extractField", "flattenEvent"]


class _CallingFormatter(string.Formatter):
    """
    A PEP 3101 formatter that also accepts a trailing ``()`` on a field name,
    calling the object found: ``"{request.getClientAddress()}"``.
    """

    def get_field(
        self, field_name: str, args: Any, kwargs: Mapping[str, Any]
    ) -> tuple[Any, Any]:
        call = field_name.endswith("()")
        if call:
            field_name = field_name[:-2]
        obj, used = super().get_field(field_name, args, kwargs)
        if call:
            obj = obj()
        return obj, used


_formatter = _CallingFormatter()


def formatWithCall(formatString: str, mapping: Mapping[str, Any]) -> str:
    """
    Render a format string whose fields come from ``mapping``, allowing
    ``{name()}`` to call a field.

    :param formatString: a PEP 3101 format string with named fields only.
    :param mapping: the field values.
    :return: the rendered text.
    :raises Exception: whatever rendering raises (a missing key, a bad
        format spec, a failing call).
    """
    return _formatter.vformat(formatString, (), mapping)


def _flatKey(fieldName: str, formatSpec: str | None, conversion: str | None) -> str:
    return f"{fieldName}!{conversion or ''}:{formatSpec or ''}"


def _renderField(
    fieldName: str, formatSpec: str, conversion: str | None, event: Mapping[str, Any]
) -> str:
    obj, _ = _formatter.get_field(fieldName, (), event)
    obj = _formatter.convert_field(obj, conversion)
    spec = _formatter.vformat(formatSpec, (), event) if formatSpec else ""
    return str(_formatter.format_field(obj, spec))


def flattenEvent(event: LogEvent) -> None:
    """
    Render every field of the event's format string and store the texts in
    the event under ``log_flattened``.

    After flattening, ``formatEvent`` renders the event correctly even when
    the objects its fields referred to are gone (for instance after a trip
    through JSON).  Fields that fail to render are left out; formatting will
    then report them.

    :param event: the event to modify in place.
    """
    fmt = event.get("log_format")
    if fmt is None:
        return
    if isinstance(fmt, bytes):
        fmt = fmt.decode("utf-8", "replace")
    if not isinstance(fmt, str):
        return
    flattened: dict[str, Any] = dict(event.get("log_flattened") or {})
    try:
        parsed = list(_formatter.parse(fmt))
    except ValueError:
        return
    for _literal, fieldName, formatSpec, conversion in parsed:
        if fieldName is None:
            continue
        key = _flatKey(fieldName, formatSpec, conversion)
        if key in flattened:
            continue
        try:
            flattened[key] = _renderField(
                fieldName, formatSpec or "", conversion, event
            )
        except Exception:
            continue
        bare = fieldName[:-2] if fieldName.endswith("()") else fieldName
        rootKey = _flatKey(bare, None, None)
        if rootKey not in flattened:
            try:
                value, _ = _formatter.get_field(bare, (), event)
            except Exception:
                continue
            if value is None or isinstance(value, (str, int, float, bool)):
                flattened[rootKey] = value
    event["log_flattened"] = flattened


def formatFlattened(event: Mapping[str, Any]) -> str:
    """
    Render a flattened event, using stored field texts where present.

    :param event: an event with a ``log_flattened`` field.
    :return: the rendered text.
    :raises Exception: if a field is neither stored nor renderable.
    """
    fmt = event.get("log_format")
    if fmt is None:
        return ""
    if isinstance(fmt, bytes):
        fmt = fmt.decode("utf-8")
    flattened: Mapping[str, Any] = event["log_flattened"]
    parts: list[str] = []
    for literal, fieldName, formatSpec, conversion in _formatter.parse(fmt):
        parts.append(literal)
        if fieldName is None:
            continue
        key = _flatKey(fieldName, formatSpec, conversion)
        if key in flattened:
            parts.append(str(flattened[key]))
        else:
            parts.append(_renderField(fieldName, formatSpec or "", conversion, event))
    return "".join(parts)


def extractField(field: str, event: Mapping[str, Any]) -> Any:
    """
    Return the value a format-string field expression names in an event.

    ``field`` uses format-string syntax: ``"peer.host"`` or
    ``"headers[host]"``.  This works on a live event and, for simple values,
    on one that has been flattened and serialised.

    :param field: the field expression, without braces.
    :param event: the event.
    :return: the value.
    :raises KeyError: if the event has no such field.
    """
    try:
        value, _ = _formatter.get_field(field, (), event)
        return value
    except (KeyError, AttributeError, IndexError, TypeError) as e:
        flattened = event.get("log_flattened") or {}
        key = _flatKey(field, None, None)
        if key in flattened:
            return flattened[key]
        raise KeyError(field) from e
