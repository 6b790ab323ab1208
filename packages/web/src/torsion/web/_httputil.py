"""
Status codes, HTTP dates, and the parsing of query strings, form bodies and
cookies; re-exported by ``torsion.web.http``.
"""

from __future__ import annotations

import calendar
import email.parser
import email.policy
import time
import urllib.parse
from typing import IO, Final

__all__ = [
    "ACCEPTED",
    "ALREADY_REPORTED",
    "BAD_GATEWAY",
    "BAD_REQUEST",
    "CONFLICT",
    "CONTINUE",
    "CREATED",
    "EARLY_HINTS",
    "EXPECTATION_FAILED",
    "FAILED_DEPENDENCY",
    "FORBIDDEN",
    "FOUND",
    "GATEWAY_TIMEOUT",
    "GONE",
    "HTTP_VERSION_NOT_SUPPORTED",
    "IM_A_TEAPOT",
    "IM_USED",
    "INSUFFICIENT_STORAGE_SPACE",
    "INTERNAL_SERVER_ERROR",
    "LENGTH_REQUIRED",
    "LOCKED",
    "LOOP_DETECTED",
    "MISDIRECTED_REQUEST",
    "MOVED_PERMANENTLY",
    "MULTIPLE_CHOICE",
    "MULTI_STATUS",
    "NETWORK_AUTHENTICATION_REQUIRED",
    "NON_AUTHORITATIVE_INFORMATION",
    "NOT_ACCEPTABLE",
    "NOT_ALLOWED",
    "NOT_EXTENDED",
    "NOT_FOUND",
    "NOT_IMPLEMENTED",
    "NOT_MODIFIED",
    "NO_CONTENT",
    "OK",
    "PARTIAL_CONTENT",
    "PAYMENT_REQUIRED",
    "PERMANENT_REDIRECT",
    "PRECONDITION_FAILED",
    "PRECONDITION_REQUIRED",
    "PROCESSING",
    "PROXY_AUTH_REQUIRED",
    "REQUESTED_RANGE_NOT_SATISFIABLE",
    "REQUEST_ENTITY_TOO_LARGE",
    "REQUEST_HEADER_FIELDS_TOO_LARGE",
    "REQUEST_TIMEOUT",
    "REQUEST_URI_TOO_LONG",
    "RESET_CONTENT",
    "RESPONSES",
    "SEE_OTHER",
    "SERVICE_UNAVAILABLE",
    "SWITCHING",
    "TEMPORARY_REDIRECT",
    "TOO_EARLY",
    "TOO_MANY_REQUESTS",
    "UNAUTHORIZED",
    "UNAVAILABLE_FOR_LEGAL_REASONS",
    "UNPROCESSABLE_CONTENT",
    "UNSUPPORTED_MEDIA_TYPE",
    "UPGRADE_REQUIRED",
    "USE_PROXY",
    "VARIANT_ALSO_NEGOTIATES",
    "datetimeToLogString",
    "datetimeToString",
    "parseCookies",
    "parseMultipart",
    "parseQueryString",
    "stringToDatetime",
]

CONTINUE: Final = 100
SWITCHING: Final = 101
PROCESSING: Final = 102
EARLY_HINTS: Final = 103

OK: Final = 200
CREATED: Final = 201
ACCEPTED: Final = 202
NON_AUTHORITATIVE_INFORMATION: Final = 203
NO_CONTENT: Final = 204
RESET_CONTENT: Final = 205
PARTIAL_CONTENT: Final = 206
MULTI_STATUS: Final = 207
ALREADY_REPORTED: Final = 208
IM_USED: Final = 226

MULTIPLE_CHOICE: Final = 300
MOVED_PERMANENTLY: Final = 301
FOUND: Final = 302
SEE_OTHER: Final = 303
NOT_MODIFIED: Final = 304
USE_PROXY: Final = 305
TEMPORARY_REDIRECT: Final = 307
PERMANENT_REDIRECT: Final = 308

BAD_REQUEST: Final = 400
UNAUTHORIZED: Final = 401
PAYMENT_REQUIRED: Final = 402
FORBIDDEN: Final = 403
NOT_FOUND: Final = 404
NOT_ALLOWED: Final = 405
NOT_ACCEPTABLE: Final = 406
PROXY_AUTH_REQUIRED: Final = 407
REQUEST_TIMEOUT: Final = 408
CONFLICT: Final = 409
GONE: Final = 410
LENGTH_REQUIRED: Final = 411
PRECONDITION_FAILED: Final = 412
REQUEST_ENTITY_TOO_LARGE: Final = 413
REQUEST_URI_TOO_LONG: Final = 414
UNSUPPORTED_MEDIA_TYPE: Final = 415
REQUESTED_RANGE_NOT_SATISFIABLE: Final = 416
EXPECTATION_FAILED: Final = 417
IM_A_TEAPOT: Final = 418
MISDIRECTED_REQUEST: Final = 421
UNPROCESSABLE_CONTENT: Final = 422
LOCKED: Final = 423
FAILED_DEPENDENCY: Final = 424
TOO_EARLY: Final = 425
UPGRADE_REQUIRED: Final = 426
PRECONDITION_REQUIRED: Final = 428
TOO_MANY_REQUESTS: Final = 429
REQUEST_HEADER_FIELDS_TOO_LARGE: Final = 431
UNAVAILABLE_FOR_LEGAL_REASONS: Final = 451

INTERNAL_SERVER_ERROR: Final = 500
NOT_IMPLEMENTED: Final = 501
BAD_GATEWAY: Final = 502
SERVICE_UNAVAILABLE: Final = 503
GATEWAY_TIMEOUT: Final = 504
HTTP_VERSION_NOT_SUPPORTED: Final = 505
VARIANT_ALSO_NEGOTIATES: Final = 506
INSUFFICIENT_STORAGE_SPACE: Final = 507
LOOP_DETECTED: Final = 508
NOT_EXTENDED: Final = 510
NETWORK_AUTHENTICATION_REQUIRED: Final = 511

#: Status code to reason phrase (bytes).
RESPONSES: Final[dict[int, bytes]] = {
    CONTINUE: b"Continue",
    SWITCHING: b"Switching Protocols",
    PROCESSING: b"Processing",
    EARLY_HINTS: b"Early Hints",
    OK: b"OK",
    CREATED: b"Created",
    ACCEPTED: b"Accepted",
    NON_AUTHORITATIVE_INFORMATION: b"Non-Authoritative Information",
    NO_CONTENT: b"No Content",
    RESET_CONTENT: b"Reset Content",
    PARTIAL_CONTENT: b"Partial Content",
    MULTI_STATUS: b"Multi-Status",
    ALREADY_REPORTED: b"Already Reported",
    IM_USED: b"IM Used",
    MULTIPLE_CHOICE: b"Multiple Choices",
    MOVED_PERMANENTLY: b"Moved Permanently",
    FOUND: b"Found",
    SEE_OTHER: b"See Other",
    NOT_MODIFIED: b"Not Modified",
    USE_PROXY: b"Use Proxy",
    TEMPORARY_REDIRECT: b"Temporary Redirect",
    PERMANENT_REDIRECT: b"Permanent Redirect",
    BAD_REQUEST: b"Bad Request",
    UNAUTHORIZED: b"Unauthorized",
    PAYMENT_REQUIRED: b"Payment Required",
    FORBIDDEN: b"Forbidden",
    NOT_FOUND: b"Not Found",
    NOT_ALLOWED: b"Method Not Allowed",
    NOT_ACCEPTABLE: b"Not Acceptable",
    PROXY_AUTH_REQUIRED: b"Proxy Authentication Required",
    REQUEST_TIMEOUT: b"Request Timeout",
    CONFLICT: b"Conflict",
    GONE: b"Gone",
    LENGTH_REQUIRED: b"Length Required",
    PRECONDITION_FAILED: b"Precondition Failed",
    REQUEST_ENTITY_TOO_LARGE: b"Content Too Large",
    REQUEST_URI_TOO_LONG: b"URI Too Long",
    UNSUPPORTED_MEDIA_TYPE: b"Unsupported Media Type",
    REQUESTED_RANGE_NOT_SATISFIABLE: b"Range Not Satisfiable",
    EXPECTATION_FAILED: b"Expectation Failed",
    IM_A_TEAPOT: b"I'm a teapot",
    MISDIRECTED_REQUEST: b"Misdirected Request",
    UNPROCESSABLE_CONTENT: b"Unprocessable Content",
    LOCKED: b"Locked",
    FAILED_DEPENDENCY: b"Failed Dependency",
    TOO_EARLY: b"Too Early",
    UPGRADE_REQUIRED: b"Upgrade Required",
    PRECONDITION_REQUIRED: b"Precondition Required",
    TOO_MANY_REQUESTS: b"Too Many Requests",
    REQUEST_HEADER_FIELDS_TOO_LARGE: b"Request Header Fields Too Large",
    UNAVAILABLE_FOR_LEGAL_REASONS: b"Unavailable For Legal Reasons",
    INTERNAL_SERVER_ERROR: b"Internal Server Error",
    NOT_IMPLEMENTED: b"Not Implemented",
    BAD_GATEWAY: b"Bad Gateway",
    SERVICE_UNAVAILABLE: b"Service Unavailable",
    GATEWAY_TIMEOUT: b"Gateway Timeout",
    HTTP_VERSION_NOT_SUPPORTED: b"HTTP Version Not Supported",
    VARIANT_ALSO_NEGOTIATES: b"Variant Also Negotiates",
    INSUFFICIENT_STORAGE_SPACE: b"Insufficient Storage",
    LOOP_DETECTED: b"Loop Detected",
    NOT_EXTENDED: b"Not Extended",
    NETWORK_AUTHENTICATION_REQUIRED: b"Network Authentication Required",
}

_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
_MONTHS = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
]
_MONTH_NUMBERS = {name.lower(): i + 1 for i, name in enumerate(_MONTHS)}


def datetimeToString(msSinceEpoch: float | None = None) -> bytes:
    """
    Format a time as an HTTP date (RFC 9110 IMF-fixdate), such as
    ``b"Sun, 06 Nov 1994 08:49:37 GMT"``.

    :param msSinceEpoch: seconds since the epoch (the name is kept for
        compatibility); now when ``None``.
    :return: the date as ``bytes``.
    """
    if msSinceEpoch is None:
        msSinceEpoch = time.time()
    t = time.gmtime(msSinceEpoch)
    return (
        f"{_WEEKDAYS[t.tm_wday]}, {t.tm_mday:02d} {_MONTHS[t.tm_mon - 1]} "
        f"{t.tm_year:04d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} GMT"
    ).encode("ascii")


def datetimeToLogString(msSinceEpoch: float | None = None) -> str:
    """
    Format a time for an access log line, such as
    ``"[06/Nov/1994:08:49:37 +0000]"``.

    :param msSinceEpoch: seconds since the epoch; now when ``None``.
    :return: the bracketed date.
    """
    if msSinceEpoch is None:
        msSinceEpoch = time.time()
    t = time.gmtime(msSinceEpoch)
    return (
        f"[{t.tm_mday:02d}/{_MONTHS[t.tm_mon - 1]}/{t.tm_year:04d}:"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d} +0000]"
    )


def _clock(text: str) -> tuple[int, int, int]:
    parts = text.split(":")
    if len(parts) != 3 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(f"invalid time of day: {text!r}")
    hour, minute, second = (int(p) for p in parts)
    return hour, minute, second


def stringToDatetime(dateString: bytes | str) -> int:
    """
    Parse an HTTP date in any of the three forms RFC 9110 §5.6.7 asks a
    recipient to accept: IMF-fixdate (``Sun, 06 Nov 1994 08:49:37 GMT``),
    RFC 850 (``Sunday, 06-Nov-94 08:49:37 GMT``) and asctime
    (``Sun Nov  6 08:49:37 1994``).

    :param dateString: the date.
    :return: seconds since the epoch.
    :raises ValueError: if it is not a date in one of those forms.
    """
    text = (
        dateString.decode("ascii", "replace")
        if isinstance(dateString, bytes)
        else dateString
    )
    parts = text.split()
    try:
        if len(parts) == 6 and parts[0].endswith(","):
            day, month, year = int(parts[1]), parts[2], int(parts[3])
            clock = parts[4]
            if parts[5].upper() != "GMT" or len(parts[3]) != 4:
                raise ValueError
        elif len(parts) == 4 and parts[0].endswith(","):
            dayText, month, yearText = parts[1].split("-")
            day, year = int(dayText), int(yearText)
            if len(yearText) == 2:
                # RFC 9110: a two-digit year more than 50 years in the future
                # means the past century.
                thisYear = time.gmtime().tm_year
                year += thisYear - thisYear % 100
                if year > thisYear + 50:
                    year -= 100
            clock = parts[2]
            if parts[3].upper() != "GMT":
                raise ValueError
        elif len(parts) == 5:
            month, day, clock, year = parts[1], int(parts[2]), parts[3], int(parts[4])
        else:
            raise ValueError
        monthNumber = _MONTH_NUMBERS[month.lower()]
        hour, minute, second = _clock(clock)
        if not (1 <= day <= 31 and hour < 24 and minute < 60 and second < 61):
            raise ValueError
    except (ValueError, KeyError, IndexError):
        raise ValueError(f"invalid HTTP date: {text!r}")
    return calendar.timegm((year, monthNumber, day, hour, minute, second, 0, 0, 0))


def parseQueryString(
    qs: bytes, maxFields: int | None = None
) -> dict[bytes, list[bytes]]:
    """
    Parse ``application/x-www-form-urlencoded`` data, keeping blank values.
    Fields are separated by ``&``; ``+`` means a space; percent-escapes are
    decoded to bytes (any bytes: no text decoding happens).

    :param qs: the query string or form body.
    :param maxFields: the most fields accepted, or ``None`` for no limit.
    :return: a mapping of each name to its values, all ``bytes``.
    :raises ValueError: when there are more than ``maxFields`` fields.
    """
    result: dict[bytes, list[bytes]] = {}
    if not qs:
        return result
    pieces = qs.split(b"&")
    if (
        maxFields is not None
        and len(pieces) > maxFields
        and sum(1 for piece in pieces if piece) > maxFields
    ):
        raise ValueError(f"more than {maxFields} form fields")
    unquote = urllib.parse.unquote_to_bytes
    for piece in pieces:
        if not piece:
            continue
        name, _, value = piece.partition(b"=")
        if b"+" in name:
            name = name.replace(b"+", b" ")
        if b"+" in value:
            value = value.replace(b"+", b" ")
        if b"%" in name:
            name = unquote(name)
        if b"%" in value:
            value = unquote(value)
        values = result.get(name)
        if values is None:
            result[name] = [value]
        else:
            values.append(value)
    return result


def parseMultipart(
    body: IO[bytes], contentType: bytes, maxFields: int | None = None
) -> dict[bytes, list[bytes]]:
    """
    Parse a ``multipart/form-data`` body.  Each part with a ``name`` becomes a
    field; a file's content is its value, as ``bytes`` (like any other field).

    The body is parsed in memory, so callers bound it first (the server
    refuses bodies over ``maxRequestBody`` before they are read).

    :param body: the body, positioned at its start.
    :param contentType: the request's ``Content-Type`` (with the boundary).
    :param maxFields: the most parts accepted, or ``None`` for no limit.
    :return: a mapping of each field name to its values.
    :raises ValueError: for a malformed body or too many parts.
    """
    data = body.read()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
        b"Content-Type: " + contentType + b"\r\nMIME-Version: 1.0\r\n\r\n" + data
    )
    if not message.is_multipart():
        raise ValueError("multipart body without valid boundary")
    result: dict[bytes, list[bytes]] = {}
    count = 0
    for part in message.iter_parts():
        count += 1
        if maxFields is not None and count > maxFields:
            raise ValueError("too many form fields")
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        if not isinstance(payload, bytes):
            payload = b""
        result.setdefault(name.encode("utf-8", "surrogateescape"), []).append(payload)
    for defect in message.defects:
        if type(defect).__name__ in (
            "StartBoundaryNotFoundDefect",
            "CloseBoundaryNotFoundDefect",
            "NoBoundaryInMultipartDefect",
        ):
            raise ValueError(f"malformed multipart body: {type(defect).__name__}")
    return result


def parseCookies(headerValues: list[bytes]) -> dict[bytes, bytes]:
    """
    Parse ``Cookie`` request header values.

    :param headerValues: the values of every ``Cookie`` field.
    :return: a mapping of cookie name to value (``bytes``); pieces without
        ``=`` are ignored.
    """
    cookies: dict[bytes, bytes] = {}
    for value in headerValues:
        for piece in value.split(b";"):
            name, sep, cookie = piece.partition(b"=")
            if sep:
                name = name.strip(b" \t")
                if name:
                    cookies[name] = cookie.strip(b" \t")
    return cookies
