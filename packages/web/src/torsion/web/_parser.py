"""
A sans-I/O HTTP/1.x codec shared by the server (``torsion.web.http``), the
client (``torsion.web._newclient``) and the proxy.  Nothing here touches a
reactor or a transport: bytes go in, parsed heads and body pieces come out;
heads go in, bytes come out.  The same limits and the same strict grammar
apply to both roles.

Reading a message
-----------------

1. Keep the received bytes in a buffer and call ``parseRequestHead(buffer)``
   (server) or ``parseResponseHead(buffer)`` (client) after every read.  It
   returns ``None`` while the head is incomplete (after checking that what is
   buffered is still within the limits, so a head is bounded before it ends),
   or ``(head, end)`` where ``buffer[end:]`` is what follows the head.  Pass
   ``searchFrom`` (the previous buffer length minus 3) to avoid scanning the
   same bytes again when a head trickles in.
2. Decide how the body is delimited: ``requestBodyLength(head)`` or
   ``responseBodyLength(head, requestMethod)``.  Each returns a length
   (``0`` means no body), ``CHUNKED`` or (responses only) ``UNTIL_CLOSE``.
3. ``bodyDecoder(length, limits)`` gives a ``ContentLengthDecoder``,
   ``ChunkedDecoder`` or ``UntilCloseDecoder``.  ``decoder.feed(data)``
   returns ``(body, leftover)``: the body bytes found in ``data`` and, once
   ``decoder.done`` is true, the bytes after the body (the next pipelined
   message).  ``UntilCloseDecoder`` is done when the caller calls
   ``close()`` at the end of the connection.  ``ChunkedDecoder.trailers``
   holds trailer fields once done.

Every error made by the peer raises ``HTTPParseError``, whose ``status`` is
the status a server answers with (400, 413, 414, 431, 501 or 505) before
closing the connection.  A client treats any ``HTTPParseError`` as a broken
response and discards the connection.

Grammar decisions (RFC 9112, strict):

- Lines end with CRLF.  A bare LF or a bare CR anywhere in a head is an error
  (never a terminator), so no two parsers can disagree on where a field ends.
- Empty lines (CRLF) before a request line are skipped, as RFC 9112 §2.2
  allows; they count towards the head size limit.
- Field names are tokens followed directly by ``:`` (no space before the
  colon); obs-fold continuation lines are rejected; values may not contain
  control characters other than HTAB; only SP and HTAB are stripped around a
  value.  Names are returned lower-cased; values as received.
- The request line is ``method SP target SP HTTP/1.x`` with exactly single
  spaces; the method is a token and the target has no control characters or
  spaces.  ``HTTP/1.0`` and ``HTTP/1.1`` are accepted, any other version
  answers 505.
- ``Host`` (checked by the server, ``validHost``) is RFC 3986's
  ``host [ ":" port ]``: a reg-name (which covers IPv4 addresses), a
  bracketed IPv6 or IPvFuture literal, and a port of digits only.  An empty
  value is valid (RFC 9112 §3.2 has a client send it when the target URI
  has no authority); a port without a host (``:80``) is not.
- Content-Length is ``[0-9]+`` with at most ``maxContentLengthDigits``
  digits; repeated identical values (in several fields or as a list) fold to
  one, different values are an error.  A request with both Content-Length and
  Transfer-Encoding, or with Transfer-Encoding in HTTP/1.0, is an error (400);
  a transfer coding other than a single ``chunked`` answers 501 (unknown or
  unsupported coding) or 400 (``chunked`` not last, or repeated).
- Chunk sizes are 1 to 16 hex digits with no sign, prefix or space; a chunk
  extension may follow after ``;`` and may not contain control characters;
  the chunk-size line is bounded by ``maxChunkLineLength``.  Trailer fields
  follow the header grammar and limits.

Writing a message
-----------------

``formatRequestHead`` and ``formatResponseHead`` build a head from validated
parts and raise ``LocalProtocolError`` (a ``ValueError``) for a method,
target, reason, name or value that would break the framing (CR, LF, NUL, a
non-token name, ...).  ``formatChunk(data)`` frames one chunk and
``LAST_CHUNK`` ends a chunked body.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final, NamedTuple

__all__ = [
    "CHUNKED",
    "DEFAULT_LIMITS",
    "LAST_CHUNK",
    "UNTIL_CLOSE",
    "BodyDecoder",
    "ChunkedDecoder",
    "ContentLengthDecoder",
    "HTTPParseError",
    "LocalProtocolError",
    "ParserLimits",
    "RequestHead",
    "ResponseHead",
    "UntilCloseDecoder",
    "bodyDecoder",
    "formatChunk",
    "formatRequestHead",
    "formatResponseHead",
    "parseRequestHead",
    "parseResponseHead",
    "requestBodyLength",
    "responseBodyLength",
    "validHost",
]

#: Body framing: the body is a sequence of chunks.
CHUNKED: Final = -1
#: Body framing (responses only): the body ends when the connection closes.
UNTIL_CLOSE: Final = -2

#: The bytes ending a chunked body that has no trailers.
LAST_CHUNK: Final = b"0\r\n\r\n"


class HTTPParseError(Exception):
    """
    The peer sent something that is not valid HTTP/1.x, or that exceeds a
    limit.

    :ivar status: the status code a server answers with (400, 413, 414, 431,
        501 or 505).
    :ivar message: a short description of what was wrong.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        return f"{self.status}: {self.message}"


class LocalProtocolError(ValueError):
    """
    This program asked to send something that would not be valid HTTP (for
    example a header value containing CR or LF).
    """


@dataclass(frozen=True, slots=True)
class ParserLimits:
    """
    Bounds on what a peer can make the parser hold.  The defaults follow
    SECURITY.md.

    :ivar maxLineLength: longest request line or status line (414 for a
        request line).
    :ivar maxFieldSize: longest single header or trailer field line (431).
    :ivar maxHeadSize: longest whole head: request line, fields, every CRLF
        and the blank line ending it (431).
    :ivar maxFields: most header (or trailer) fields (431).
    :ivar maxChunkLineLength: longest chunk-size line, extensions included
        (400).
    :ivar maxContentLengthDigits: most digits in a Content-Length value (400).
    """

    maxLineLength: int = 8192
    maxFieldSize: int = 8192
    maxHeadSize: int = 16384
    maxFields: int = 500
    maxChunkLineLength: int = 1024
    maxContentLengthDigits: int = 19


#: The limits used when none are given.
DEFAULT_LIMITS: Final = ParserLimits()


class RequestHead(NamedTuple):
    """
    A parsed request line and its header fields.

    :ivar method: the method, such as ``b"GET"`` (case kept).
    :ivar target: the request target as sent, such as ``b"/a?b=c"``.
    :ivar version: ``(major, minor)``, ``(1, 0)`` or ``(1, 1)``.
    :ivar fields: ``(lower-case name, value)`` pairs in the order received.
    """

    method: bytes
    target: bytes
    version: tuple[int, int]
    fields: list[tuple[bytes, bytes]]


class ResponseHead(NamedTuple):
    """
    A parsed status line and its header fields.

    :ivar version: ``(major, minor)``.
    :ivar status: the status code, an ``int`` from 100 to 999.
    :ivar reason: the reason phrase (may be empty).
    :ivar fields: ``(lower-case name, value)`` pairs in the order received.
    """

    version: tuple[int, int]
    status: int
    reason: bytes
    fields: list[tuple[bytes, bytes]]


_TOKEN_CHARS = rb"!#$%&'*+\-.^_`|~0-9A-Za-z"
_TOKEN = re.compile(rb"[" + _TOKEN_CHARS + rb"]+\Z")
_REQUEST_LINE = re.compile(
    rb"([" + _TOKEN_CHARS + rb"]+) ([^\x00-\x20\x7f]+) HTTP/([0-9])\.([0-9])\Z"
)
_LOOSE_REQUEST_LINE = re.compile(rb"[^ ]+ [^ ]+ HTTP/([0-9]+)\.([0-9]+)\Z")
_STATUS_LINE = re.compile(
    rb"HTTP/([0-9])\.([0-9]) ([0-9]{3})(?: ([^\x00-\x08\x0a-\x1f\x7f]*))?\Z"
)
# One match per field line: the name, the value without the SP/HTAB around it.
_FIELD = re.compile(
    rb"([" + _TOKEN_CHARS + rb"]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*\Z"
)
_FAST_REQUEST_LINE = re.compile(
    rb"([" + _TOKEN_CHARS + rb"]+) ([^\x00-\x20\x7f]+) HTTP/1\.([01])\Z"
)
_FIELD_BLOCK = re.compile(
    rb"(?:[" + _TOKEN_CHARS + rb"]+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*"
)
_FIELD_ALL = re.compile(
    rb"([" + _TOKEN_CHARS + rb"]+):[ \t]*([^\x00-\x08\x0a-\x1f\x7f]*?)[ \t]*\r\n"
)
# A whole request head (request line, fields, blank line) in the common
# shape, validated by one match: the fields' grammar is then known to hold.
_FAST_HEAD = re.compile(
    rb"([" + _TOKEN_CHARS + rb"]+) ([^\x00-\x20\x7f]+) HTTP/1\.([01])\r\n"
    rb"((?:[" + _TOKEN_CHARS + rb"]+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*)\r\n"
)
_V10: Final = (1, 0)
_V11: Final = (1, 1)
_CHUNK_LINE = re.compile(
    rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[^\x00-\x08\x0a-\x1f\x7f]*)?\Z"
)
_DIGITS = re.compile(rb"[0-9]+\Z")
_BAD_TARGET = re.compile(rb"[\x00-\x20\x7f]")
_BAD_VALUE = re.compile(rb"[\x00\r\n]")
_BAD_REASON = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")
# RFC 3986 section 3.2.2: a reg-name (unreserved, sub-delims and
# pct-encoded octets; IPv4 addresses are reg-names too) or an IP-literal in
# brackets, whose contents ``validHost`` checks further; then an optional
# port of digits.
_UNRESERVED_SUBDELIMS = rb"A-Za-z0-9\-._~!$&'()*+,;="
_REG_CHARS = rb"[" + _UNRESERVED_SUBDELIMS + rb"]"
_PCT = rb"%[0-9A-Fa-f]{2}"
# The reg-name is written as runs of plain characters between escapes
# (rather than one alternation per character) to keep the match fast.
_HOST = re.compile(
    rb"(?:" + _REG_CHARS + rb"+(?:" + _PCT + _REG_CHARS + rb"*)*"
    rb"|(?:" + _PCT + _REG_CHARS + rb"*)+"
    rb"|\[([" + _UNRESERVED_SUBDELIMS + rb":]+)\])(?::[0-9]*)?"
)
_IPV_FUTURE = re.compile(rb"[vV][0-9A-Fa-f]+\.[" + _UNRESERVED_SUBDELIMS + rb":]+")

_KNOWN_CODINGS: Final = frozenset(
    {b"chunked", b"gzip", b"x-gzip", b"deflate", b"compress", b"x-compress"}
)


def validHost(value: bytes) -> bool:
    """
    Whether ``value`` is a valid ``Host`` field value (RFC 9112 §3.2):
    ``uri-host [ ":" port ]`` as RFC 3986 defines them, or empty.

    :param value: the field value, without surrounding whitespace.
    :return: ``True`` for ``b"example.com"``, ``b"127.0.0.1:8080"``,
        ``b"[::1]:443"`` or ``b""``; ``False`` for a value with a space,
        ``@``, ``/``, a non-numeric port, an unclosed or invalid IP literal,
        or a port without a host.
    """
    if not value:
        return True
    m = _HOST.fullmatch(value)
    if m is None:
        return False
    literal = m[1]
    if literal is None:
        return True
    if literal[:1] in (b"v", b"V"):
        return _IPV_FUTURE.fullmatch(literal) is not None
    try:
        ipaddress.IPv6Address(literal.decode("ascii"))
    except ValueError:
        return False
    return True


def _checkIncomplete(
    data: bytes, start: int, limits: ParserLimits, isRequest: bool, searchFrom: int
) -> None:
    """
    Bound a head that has not ended yet.  Bytes before ``searchFrom`` were
    checked by an earlier call, so a trickling head costs linear time.
    """
    region = max(start, searchFrom)
    if region > start and data[region - 1 : region + 1] == b"\r\n":
        region -= 1
    crlf = data.count(b"\r\n", region)
    if data.count(b"\n", region) != crlf or data.count(b"\r", region, -1) != crlf:
        # A bare LF or CR can never become part of a valid head: answer now
        # rather than wait for a blank line that may never come.
        raise HTTPParseError(400, "bare CR or LF in the message head")
    # Bytes that may still turn out to be the start of a CRLF do not count
    # yet, so exactly-at-the-limit heads are accepted however they arrive.
    firstEnd = data.find(b"\r\n", start)
    if firstEnd < 0:
        if len(data) - start - 1 > limits.maxLineLength:
            if isRequest:
                raise HTTPParseError(414, "request line too long")
            raise HTTPParseError(400, "status line too long")
        return
    if firstEnd - start > limits.maxLineLength:
        if isRequest:
            raise HTTPParseError(414, "request line too long")
        raise HTTPParseError(400, "status line too long")
    if len(data) >= limits.maxHeadSize:
        raise HTTPParseError(431, "head too large")
    lastLine = len(data) - data.rfind(b"\n") - 1
    if lastLine - 1 > limits.maxFieldSize:
        raise HTTPParseError(431, "header field too long")


def _skipEmptyLines(data: bytes) -> int:
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    return start


def _parseFields(lines: list[bytes], limits: ParserLimits) -> list[tuple[bytes, bytes]]:
    if len(lines) > limits.maxFields:
        raise HTTPParseError(431, "too many header fields")
    fields = []
    maxField = limits.maxFieldSize
    match = _FIELD.match
    for line in lines:
        m = match(line)
        if m is None:
            raise HTTPParseError(400, _describeBadField(line))
        if len(line) > maxField:
            raise HTTPParseError(431, "header field too long")
        fields.append((m[1].lower(), m[2]))
    return fields


def _describeBadField(line: bytes) -> str:
    if line[:1] in (b" ", b"\t"):
        return "obsolete line folding is not allowed"
    colon = line.find(b":")
    if colon < 0:
        return "header field without a colon"
    name = line[:colon]
    if name[-1:] in (b" ", b"\t"):
        return "whitespace before the colon of a header field"
    if not _TOKEN.match(name):
        return "invalid header field name"
    return "invalid character in a header field value"


def _splitHead(head: bytes) -> list[bytes]:
    lines = head.split(b"\r\n")
    # Each CR and each LF must belong to a CRLF between two lines.
    n = len(lines) - 1
    if head.count(b"\n") != n or head.count(b"\r") != n:
        raise HTTPParseError(400, "bare CR or LF in the message head")
    return lines


def parseRequestHead(
    data: bytes, limits: ParserLimits = DEFAULT_LIMITS, searchFrom: int = 0
) -> tuple[RequestHead, int] | None:
    """
    Parse a request head at the start of ``data``.

    :param data: the bytes received so far on this connection, starting
        where the request starts.
    :param limits: the limits to enforce.
    :param searchFrom: where to start looking for the blank line ending the
        head (an optimisation for heads arriving in pieces; 0 is always
        correct).
    :return: ``None`` if the head is not complete yet, else ``(head, end)``
        where ``data[end:]`` follows the head.
    :raises HTTPParseError: if the head is invalid or too large, even when
        incomplete.
    """
    start = 0
    if data.startswith(b"\r\n"):
        start = _skipEmptyLines(data)
    end = data.find(b"\r\n\r\n", max(start, searchFrom))
    if end < 0:
        _checkIncomplete(data, start, limits, True, searchFrom)
        return None
    if end + 4 > limits.maxHeadSize:
        # A request line alone over its limit is reported as such.
        first = data.find(b"\r\n", start)
        if first - start > limits.maxLineLength:
            raise HTTPParseError(414, "request line too long")
        raise HTTPParseError(431, "request head too large")
    # The common case in a few C-level calls: a valid request line, then
    # fields validated as one block and extracted by one findall.  Anything
    # else takes the line-by-line path below, which finds the exact error.
    lineEnd = data.find(b"\r\n", start)
    if lineEnd - start <= limits.maxLineLength:
        m = _FAST_REQUEST_LINE.match(data, start, lineEnd)
        if m is not None:
            version = (1, 1) if m[3] == b"1" else (1, 0)
            if lineEnd == end:
                return RequestHead(m[1], m[2], version, []), end + 4
            block = data[lineEnd + 2 : end + 2]
            if len(block) <= limits.maxFieldSize + 2 and _FIELD_BLOCK.fullmatch(block):
                fields = [(n.lower(), v) for n, v in _FIELD_ALL.findall(block)]
                if len(fields) <= limits.maxFields:
                    return RequestHead(m[1], m[2], version, fields), end + 4
    lines = _splitHead(data[start:end])
    requestLine = lines[0]
    if len(requestLine) > limits.maxLineLength:
        raise HTTPParseError(414, "request line too long")
    m = _REQUEST_LINE.match(requestLine)
    if m is None:
        loose = _LOOSE_REQUEST_LINE.match(requestLine)
        if loose is not None and (loose[1], loose[2]) not in (
            (b"1", b"0"),
            (b"1", b"1"),
        ):
            raise HTTPParseError(505, "HTTP version not supported")
        raise HTTPParseError(400, "invalid request line")
    minor = m[4]
    if m[3] != b"1" or minor not in (b"0", b"1"):
        raise HTTPParseError(505, "HTTP version not supported")
    fields = _parseFields(lines[1:], limits) if len(lines) > 1 else []
    return (
        RequestHead(m[1], m[2], (1, 1) if minor == b"1" else (1, 0), fields),
        end + 4,
    )


def _parseServerHead(
    data: bytes, limits: ParserLimits, searchFrom: int
) -> tuple[bytes, bytes, tuple[int, int], dict[bytes, list[bytes]], int] | None:
    """
    ``parseRequestHead`` for the server: the same grammar, limits and
    errors, but the fields come back as the dictionary ``Headers`` keeps
    (lower-case name to the list of its values, in order), built once.

    :return: ``None`` while incomplete, else ``(method, target, version,
        fields, end)``.
    """
    start = 0
    if data.startswith(b"\r\n"):
        start = _skipEmptyLines(data)
    end = data.find(b"\r\n\r\n", start if start > searchFrom else searchFrom)
    lineEnd = data.find(b"\r\n", start)
    if (
        end >= 0
        and end + 4 <= limits.maxHeadSize
        and lineEnd - start <= limits.maxLineLength
    ):
        m = _FAST_HEAD.fullmatch(data, start, end + 4)
        if m is not None:
            method, target, minor, block = m.groups()
            version = _V11 if minor == b"1" else _V10
            raw: dict[bytes, list[bytes]] = {}
            if block:
                lines = block[:-2].split(b"\r\n")
                if len(lines) > limits.maxFields:
                    raise HTTPParseError(431, "too many header fields")
                maxField = limits.maxFieldSize
                if len(block) > maxField + 2 and max(map(len, lines)) > maxField:
                    raise HTTPParseError(431, "header field too long")
                get = raw.get
                for line in lines:
                    name, _, value = line.partition(b":")
                    name = name.lower()
                    value = value.strip(b" \t")
                    values = get(name)
                    if values is None:
                        raw[name] = [value]
                    else:
                        values.append(value)
            return method, target, version, raw, end + 4
    # Anything else (incomplete, oversized or invalid) takes the general
    # path, which finds the exact error.
    result = parseRequestHead(data, limits, searchFrom)
    if result is None:
        return None
    head, end = result
    raw = {}
    for name, value in head.fields:
        values = raw.get(name)
        if values is None:
            raw[name] = [value]
        else:
            values.append(value)
    return head.method, head.target, head.version, raw, end


def parseResponseHead(
    data: bytes, limits: ParserLimits = DEFAULT_LIMITS, searchFrom: int = 0
) -> tuple[ResponseHead, int] | None:
    """
    Parse a response head at the start of ``data``.  An interim (1xx)
    response is returned like any other; the caller then parses the next
    head.

    :param data: the bytes received so far, starting where the response
        starts.
    :param limits: the limits to enforce.
    :param searchFrom: where to start looking for the blank line ending the
        head (0 is always correct).
    :return: ``None`` if the head is not complete yet, else ``(head, end)``.
    :raises HTTPParseError: if the head is invalid or too large.
    """
    end = data.find(b"\r\n\r\n", searchFrom)
    if end < 0:
        _checkIncomplete(data, 0, limits, False, searchFrom)
        return None
    if end + 4 > limits.maxHeadSize:
        raise HTTPParseError(431, "response head too large")
    lines = _splitHead(data[:end])
    statusLine = lines[0]
    if len(statusLine) > limits.maxLineLength:
        raise HTTPParseError(400, "status line too long")
    m = _STATUS_LINE.match(statusLine)
    if m is None:
        raise HTTPParseError(400, "invalid status line")
    if m[1] != b"1":
        raise HTTPParseError(505, "HTTP version not supported")
    fields = _parseFields(lines[1:], limits) if len(lines) > 1 else []
    return (
        ResponseHead((1, int(m[2])), int(m[3]), m[4] or b"", fields),
        end + 4,
    )


def _contentLength(values: list[bytes], limits: ParserLimits) -> int:
    result = -1
    maxDigits = limits.maxContentLengthDigits
    for value in values:
        for part in value.split(b","):
            part = part.strip(b" \t")
            if not _DIGITS.match(part) or len(part) > maxDigits:
                raise HTTPParseError(400, "invalid Content-Length")
            n = int(part)
            if result >= 0 and n != result:
                raise HTTPParseError(400, "conflicting Content-Length values")
            result = n
    return result


def _codings(values: list[bytes]) -> list[bytes]:
    codings = []
    for value in values:
        for part in value.split(b","):
            coding = part.strip(b" \t").lower()
            if not coding:
                continue
            # Transfer-coding parameters are not supported by any coding we
            # know; the name is what decides.
            name = coding.split(b";", 1)[0].rstrip(b" \t")
            if not _TOKEN.match(name):
                raise HTTPParseError(400, "invalid Transfer-Encoding")
            codings.append(name)
    return codings


def _framingFields(
    fields: list[tuple[bytes, bytes]],
) -> tuple[list[bytes], list[bytes]]:
    lengths: list[bytes] = []
    encodings: list[bytes] = []
    for name, value in fields:
        if name == b"content-length":
            lengths.append(value)
        elif name == b"transfer-encoding":
            encodings.append(value)
    return lengths, encodings


def requestBodyLength(head: RequestHead, limits: ParserLimits = DEFAULT_LIMITS) -> int:
    """
    Decide how a request's body is delimited (RFC 9112 §6.3).

    :param head: the parsed request head.
    :param limits: the limits to enforce (``maxContentLengthDigits``).
    :return: the body length (0 when there is no body) or ``CHUNKED``.
    :raises HTTPParseError: 400 for Content-Length together with
        Transfer-Encoding, Transfer-Encoding in HTTP/1.0, a bad or
        conflicting Content-Length, or ``chunked`` not being the single final
        coding; 501 for a transfer coding this codec does not decode.
    """
    lengths, encodings = _framingFields(head.fields)
    if encodings:
        if lengths:
            raise HTTPParseError(
                400, "both Content-Length and Transfer-Encoding are present"
            )
        if head.version < (1, 1):
            raise HTTPParseError(400, "Transfer-Encoding in an HTTP/1.0 request")
        codings = _codings(encodings)
        if codings == [b"chunked"]:
            return CHUNKED
        for coding in codings:
            if coding not in _KNOWN_CODINGS:
                raise HTTPParseError(501, "unknown transfer coding")
        if codings and codings[-1] == b"chunked" and codings.count(b"chunked") == 1:
            raise HTTPParseError(501, "unsupported transfer coding")
        raise HTTPParseError(400, "chunked must be the single final transfer coding")
    if lengths:
        return _contentLength(lengths, limits)
    return 0


def responseBodyLength(
    head: ResponseHead, requestMethod: bytes, limits: ParserLimits = DEFAULT_LIMITS
) -> int:
    """
    Decide how a response's body is delimited (RFC 9112 §6.3).

    :param head: the parsed response head.
    :param requestMethod: the method of the request it answers.
    :param limits: the limits to enforce.
    :return: the body length (0 for no body: HEAD, 1xx, 204, 304, and a
        successful CONNECT), ``CHUNKED`` or ``UNTIL_CLOSE``.
    :raises HTTPParseError: for both Content-Length and Transfer-Encoding, or a
        bad or conflicting Content-Length.
    """
    status = head.status
    if (
        requestMethod == b"HEAD"
        or status < 200
        or status in (204, 304)
        or (requestMethod == b"CONNECT" and status < 300)
    ):
        return 0
    lengths, encodings = _framingFields(head.fields)
    if encodings:
        if lengths:
            raise HTTPParseError(
                400, "both Content-Length and Transfer-Encoding are present"
            )
        codings = _codings(encodings)
        if codings == [b"chunked"]:
            return CHUNKED
        if b"chunked" in codings:
            raise HTTPParseError(400, "unsupported transfer coding")
        return UNTIL_CLOSE
    if lengths:
        return _contentLength(lengths, limits)
    return UNTIL_CLOSE


class ContentLengthDecoder:
    """
    A body of known length.

    :ivar remaining: body bytes still expected.
    :ivar done: whether the whole body has been received.
    """

    __slots__ = ("done", "remaining", "trailers")

    def __init__(self, length: int) -> None:
        self.remaining = length
        self.done = length == 0
        self.trailers: list[tuple[bytes, bytes]] = []

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """
        :param data: bytes received.
        :return: ``(body bytes, bytes after the body)``.
        """
        remaining = self.remaining
        if len(data) < remaining:
            self.remaining = remaining - len(data)
            return data, b""
        self.remaining = 0
        self.done = True
        if len(data) == remaining:
            return data, b""
        return data[:remaining], data[remaining:]


class UntilCloseDecoder:
    """
    A response body that ends when the connection closes.

    :ivar done: whether ``close`` was called.
    """

    __slots__ = ("done", "trailers")

    def __init__(self) -> None:
        self.done = False
        self.trailers: list[tuple[bytes, bytes]] = []

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """
        :param data: bytes received.
        :return: ``(data, b"")``.
        """
        return data, b""

    def close(self) -> None:
        """
        The connection closed: the body is complete.
        """
        self.done = True


_SIZE, _DATA, _DATA_END, _TRAILERS, _DONE = range(5)


class ChunkedDecoder:
    """
    A chunked body (RFC 9112 §7.1).

    :ivar done: whether the last chunk and the trailer section were received.
    :ivar trailers: the trailer fields, ``(lower-case name, value)``, once
        done.
    """

    __slots__ = ("_buffer", "_limits", "_remaining", "_state", "done", "trailers")

    def __init__(self, limits: ParserLimits = DEFAULT_LIMITS) -> None:
        self._limits = limits
        self._state = _SIZE
        self._buffer = b""
        self._remaining = 0
        self.done = False
        self.trailers: list[tuple[bytes, bytes]] = []

    def feed(self, data: bytes) -> tuple[bytes, bytes]:
        """
        :param data: bytes received.
        :return: ``(body bytes, bytes after the body)``; the second part is
            empty until ``done``.
        :raises HTTPParseError: (400) for bad chunk framing or trailers, or a
            chunk-size line or trailer section over the limits.
        """
        if self._buffer:
            data = self._buffer + data
            self._buffer = b""
        pieces: list[bytes] = []
        pos = 0
        size = len(data)
        limits = self._limits
        while pos < size:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, size - pos)
                pieces.append(data[pos : pos + take])
                pos += take
                self._remaining -= take
                if self._remaining == 0:
                    self._state = _DATA_END
            elif state == _SIZE:
                eol = data.find(b"\r\n", pos, pos + limits.maxChunkLineLength + 2)
                if eol < 0:
                    rest = data[pos:]
                    if (
                        len(rest.removesuffix(b"\r")) > limits.maxChunkLineLength
                        or b"\n" in rest
                    ):
                        raise HTTPParseError(400, "invalid chunk-size line")
                    self._buffer = rest
                    break
                m = _CHUNK_LINE.match(data, pos, eol)
                if m is None:
                    raise HTTPParseError(400, "invalid chunk-size line")
                pos = eol + 2
                self._remaining = int(m[1], 16)
                self._state = _DATA if self._remaining else _TRAILERS
            elif state == _DATA_END:
                if size - pos < 2:
                    if data[pos:] != b"\r":
                        raise HTTPParseError(400, "chunk data not followed by CRLF")
                    self._buffer = data[pos:]
                    break
                if data[pos : pos + 2] != b"\r\n":
                    raise HTTPParseError(400, "chunk data not followed by CRLF")
                pos += 2
                self._state = _SIZE
            elif state == _TRAILERS:
                if data.startswith(b"\r\n", pos):
                    pos += 2
                    self._finish(b"")
                    break
                end = data.find(b"\r\n\r\n", pos)
                if end < 0:
                    rest = data[pos:]
                    if len(rest) > limits.maxHeadSize:
                        raise HTTPParseError(431, "trailer section too large")
                    if len(rest) - rest.rfind(b"\n") - 1 > limits.maxFieldSize:
                        raise HTTPParseError(431, "trailer field too long")
                    self._buffer = rest
                    break
                if end - pos > limits.maxHeadSize:
                    raise HTTPParseError(431, "trailer section too large")
                self._finish(data[pos:end])
                pos = end + 4
                break
            else:  # _DONE: the caller gets the rest back.
                break
        body = pieces[0] if len(pieces) == 1 else b"".join(pieces)
        if self.done:
            return body, data[pos:]
        return body, b""

    def _finish(self, trailerBlock: bytes) -> None:
        if trailerBlock:
            self.trailers = _parseFields(_splitHead(trailerBlock), self._limits)
        self._state = _DONE
        self.done = True


#: Any body decoder: ``feed(data) -> (body, leftover)``, ``done``,
#: ``trailers``.
BodyDecoder = ContentLengthDecoder | ChunkedDecoder | UntilCloseDecoder


def bodyDecoder(length: int, limits: ParserLimits = DEFAULT_LIMITS) -> BodyDecoder:
    """
    :param length: what ``requestBodyLength`` or ``responseBodyLength``
        returned.
    :param limits: the limits a chunked decoder enforces.
    :return: the decoder for that framing.
    """
    if length >= 0:
        return ContentLengthDecoder(length)
    if length == CHUNKED:
        return ChunkedDecoder(limits)
    return UntilCloseDecoder()


def _formatFields(parts: list[bytes], headers: Iterable[tuple[bytes, bytes]]) -> None:
    for name, value in headers:
        if not isinstance(name, bytes) or not isinstance(value, bytes):
            raise LocalProtocolError(
                f"header names and values must be bytes: {name!r}: {value!r}"
            )
        if not _TOKEN.match(name):
            raise LocalProtocolError(f"invalid header name: {name!r}")
        if _BAD_VALUE.search(value):
            raise LocalProtocolError(
                f"header value contains CR, LF or NUL: {name!r}: {value!r}"
            )
        parts.append(name + b": " + value + b"\r\n")


def formatRequestHead(
    method: bytes,
    target: bytes,
    headers: Iterable[tuple[bytes, bytes]],
    version: bytes = b"HTTP/1.1",
) -> bytes:
    """
    Serialise a request head.

    :param method: a token such as ``b"GET"``.
    :param target: the request target, such as ``b"/a?b=1"``; no spaces or
        control characters.
    :param headers: ``(name, value)`` pairs, sent in that order.
    :param version: ``b"HTTP/1.1"`` or ``b"HTTP/1.0"``.
    :return: the head, ending with the blank line.
    :raises LocalProtocolError: for any part that would break the framing.
    """
    if not isinstance(method, bytes) or not _TOKEN.match(method):
        raise LocalProtocolError(f"invalid method: {method!r}")
    if not isinstance(target, bytes) or not target or _BAD_TARGET.search(target):
        raise LocalProtocolError(f"invalid request target: {target!r}")
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise LocalProtocolError(f"invalid version: {version!r}")
    parts = [method + b" " + target + b" " + version + b"\r\n"]
    _formatFields(parts, headers)
    parts.append(b"\r\n")
    return b"".join(parts)


def formatResponseHead(
    version: bytes,
    code: int,
    reason: bytes,
    headers: Iterable[tuple[bytes, bytes]],
) -> bytes:
    """
    Serialise a response head.

    :param version: ``b"HTTP/1.1"`` or ``b"HTTP/1.0"``.
    :param code: the status code, 100 to 999.
    :param reason: the reason phrase (may be empty).
    :param headers: ``(name, value)`` pairs, sent in that order.
    :return: the head, ending with the blank line.
    :raises LocalProtocolError: for any part that would break the framing.
    """
    if version not in (b"HTTP/1.1", b"HTTP/1.0"):
        raise LocalProtocolError(f"invalid version: {version!r}")
    if type(code) is not int or not 100 <= code <= 999:
        raise LocalProtocolError(f"invalid status code: {code!r}")
    if not isinstance(reason, bytes) or _BAD_REASON.search(reason):
        raise LocalProtocolError(f"invalid reason phrase: {reason!r}")
    parts = [b"%s %d %s\r\n" % (version, code, reason)]
    _formatFields(parts, headers)
    parts.append(b"\r\n")
    return b"".join(parts)


def formatChunk(data: bytes) -> bytes:
    """
    :param data: one non-empty piece of a chunked body (an empty piece would
        end the body; use ``LAST_CHUNK`` for that).
    :return: the chunk as sent.
    :raises LocalProtocolError: if ``data`` is empty.
    """
    if not data:
        raise LocalProtocolError("an empty chunk would end the body")
    return b"%x\r\n%s\r\n" % (len(data), data)
