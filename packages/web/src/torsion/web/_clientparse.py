"""
The client's reading of a response, as events, over torsion-web's shared
sans-I/O parser (``torsion.web._parser``): no second HTTP grammar lives
here, only the client role's bookkeeping (interim responses, framing chosen
from the request method, keep-alive, bytes left after the response).
"""

from __future__ import annotations

from typing import Any

from torsion.web import _parser
from torsion.web._parser import HTTPParseError

__all__ = [
    "MAX_HEADERS",
    "MAX_HEAD_SIZE",
    "EndOfResponse",
    "InformationalResponse",
    "ResponseBodyData",
    "ResponseHead",
    "ResponseParseError",
    "ResponseReader",
]

#: Largest response head accepted, in bytes (as for requests).
MAX_HEAD_SIZE = _parser.DEFAULT_LIMITS.maxHeadSize
#: Most header fields accepted in a response (as for requests).
MAX_HEADERS = _parser.DEFAULT_LIMITS.maxFields

#: A malformed or over-limit response (the shared parser's error).
ResponseParseError = HTTPParseError


# The events are plain slotted classes, not frozen dataclasses: a few are
# made for every response, and a frozen dataclass is several times slower to
# construct.


class InformationalResponse:
    __slots__ = ("code",)

    def __init__(self, code: int) -> None:
        self.code = code


class ResponseHead:
    __slots__ = ("code", "fields", "keepAlive", "length", "phrase", "version")

    def __init__(
        self,
        version: tuple[bytes, int, int],
        code: int,
        phrase: bytes,
        fields: list[tuple[bytes, bytes]],
        length: int | None,
        keepAlive: bool,
    ) -> None:
        self.version = version
        self.code = code
        self.phrase = phrase
        self.fields = fields
        #: the body length when known (0 for no body), else ``None``.
        self.length = length
        self.keepAlive = keepAlive


class ResponseBodyData:
    __slots__ = ("data",)

    def __init__(self, data: bytes) -> None:
        self.data = data


class EndOfResponse:
    __slots__ = ("untilClose",)

    def __init__(self, untilClose: bool) -> None:
        #: the body ended with the connection (no length was given).
        self.untilClose = untilClose


#: The decoder of a response whose body arrived with its head: nothing more
#: to decode.
_FINISHED = _parser.ContentLengthDecoder(0)

_limitsCache: dict[tuple[int, int], _parser.ParserLimits] = {}


def _limitsFor(maxHeadSize: int, maxHeaders: int) -> _parser.ParserLimits:
    limits = _limitsCache.get((maxHeadSize, maxHeaders))
    if limits is None:
        limits = _parser.ParserLimits(
            maxHeadSize=maxHeadSize,
            maxFields=maxHeaders,
            maxFieldSize=min(_parser.DEFAULT_LIMITS.maxFieldSize, maxHeadSize),
        )
        if len(_limitsCache) < 64:
            _limitsCache[(maxHeadSize, maxHeaders)] = limits
    return limits


def _connectionTokens(fields: list[tuple[bytes, bytes]]) -> set[bytes]:
    tokens: set[bytes] = set()
    for name, value in fields:
        if name == b"connection":
            tokens.update(t.strip(b" \t").lower() for t in value.split(b","))
    return tokens


class ResponseReader:
    """
    Reads one response (after any interim 1xx responses) to a request made
    with ``method``.

    :param method: the request's method (``HEAD`` responses have no body).
    :param maxHeadSize: the largest head accepted.
    :param maxHeaders: the most header fields accepted.
    """

    def __init__(
        self,
        method: bytes,
        maxHeadSize: int = MAX_HEAD_SIZE,
        maxHeaders: int = MAX_HEADERS,
    ) -> None:
        self._method = method
        self._limits = _limitsFor(maxHeadSize, maxHeaders)
        self._buffer = b""
        self._decoder: Any = None
        self._done = False
        self._leftover = b""

    def feed(self, data: bytes) -> list[Any]:
        """
        :param data: bytes received.
        :return: the events they complete.
        :raises HTTPParseError: for a malformed or over-limit response.
        """
        if self._done:
            self._leftover += data
            return []
        events: list[Any] = []
        if self._decoder is None:
            searchFrom = max(0, len(self._buffer) - 3)
            data = self._buffer + data
            self._buffer = b""
            while True:
                parsed = _parser.parseResponseHead(data, self._limits, searchFrom)
                if parsed is None:
                    self._buffer = data
                    return events
                head, end = parsed
                data = data[end:]
                searchFrom = 0
                if head.status < 200 and head.status != 101:
                    events.append(InformationalResponse(head.status))
                    continue
                length = _parser.responseBodyLength(head, self._method, self._limits)
                tokens = _connectionTokens(head.fields)
                if head.version >= (1, 1):
                    keepAlive = b"close" not in tokens
                else:
                    keepAlive = b"keep-alive" in tokens
                if length == _parser.UNTIL_CLOSE or head.status == 101:
                    keepAlive = False
                events.append(
                    ResponseHead(
                        (b"HTTP", head.version[0], head.version[1]),
                        head.status,
                        head.reason,
                        head.fields,
                        length if length >= 0 else None,
                        keepAlive,
                    )
                )
                if head.status == 101:
                    # What follows belongs to another protocol.
                    self._decoder = _parser.UntilCloseDecoder()
                elif 0 <= length <= len(data):
                    # The usual case: the whole body came with the head.
                    self._decoder = _FINISHED
                    if length:
                        events.append(ResponseBodyData(data[:length]))
                    self._done = True
                    self._leftover = data[length:]
                    events.append(EndOfResponse(False))
                    return events
                else:
                    self._decoder = _parser.bodyDecoder(length, self._limits)
                break
        if data or self._decoder.done:
            body, rest = self._decoder.feed(data) if data else (b"", b"")
            if body:
                events.append(ResponseBodyData(body))
            if self._decoder.done:
                self._done = True
                self._leftover = rest
                events.append(EndOfResponse(False))
        return events

    def feedEOF(self) -> list[Any]:
        """
        The connection closed.

        :return: the end of an until-close body, or nothing (the response
            is then incomplete).
        """
        decoder = self._decoder
        if (
            not self._done
            and isinstance(decoder, _parser.UntilCloseDecoder)
            and not decoder.done
        ):
            decoder.close()
            self._done = True
            return [EndOfResponse(True)]
        return []

    def hasLeftover(self) -> bool:
        """
        :return: whether bytes arrived after the response ended (a server
            that sent more than one response to one request).
        """
        return bool(self._leftover)
