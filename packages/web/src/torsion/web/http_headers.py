"""
``Headers``: an ordered, case-insensitive collection of HTTP header fields,
shared by the server and the client.

Names and values may be given as ``bytes`` or ``str``.  They are kept as
``bytes`` (``str`` is encoded as UTF-8 for values, ASCII for names) and read
back in the type of the name you ask with: ``getRawHeaders(b"host")`` gives
``bytes`` values, ``getRawHeaders("host")`` gives ``str`` values (decoded as
UTF-8, falling back to ISO-8859-1 for bytes that are not UTF-8).

Header injection cannot happen through this class: a name that is not an
RFC 9110 token, or a value containing CR, LF or NUL, raises ``ValueError``
when it is stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import AnyStr, TypeVar, overload

__all__ = ["Headers", "InvalidHeaderError", "canonicalName"]

_T = TypeVar("_T")

#: RFC 9110 §5.6.2 ``token``.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
#: What a stored value must never contain.
_FORBIDDEN_IN_VALUE = re.compile(rb"[\r\n\x00]")

#: Names whose usual spelling is not plain Title-Case.
_SPECIAL_CASES: dict[bytes, bytes] = {
    b"content-md5": b"Content-MD5",
    b"dnt": b"DNT",
    b"etag": b"ETag",
    b"p3p": b"P3P",
    b"te": b"TE",
    b"www-authenticate": b"WWW-Authenticate",
    b"x-xss-protection": b"X-XSS-Protection",
    b"sec-websocket-key": b"Sec-WebSocket-Key",
    b"sec-websocket-accept": b"Sec-WebSocket-Accept",
    b"sec-websocket-version": b"Sec-WebSocket-Version",
    b"sec-websocket-protocol": b"Sec-WebSocket-Protocol",
    b"sec-websocket-extensions": b"Sec-WebSocket-Extensions",
}


class InvalidHeaderError(ValueError):
    """
    A header name or value that may not be sent: a name that is not a token,
    or a value containing CR, LF or NUL.
    """


def canonicalName(name: bytes) -> bytes:
    """
    :param name: a header name in any case.
    :return: its conventional spelling, such as ``b"Content-Type"``.
    """
    lower = name.lower()
    special = _SPECIAL_CASES.get(lower)
    if special is not None:
        return special
    return b"-".join(part.capitalize() for part in lower.split(b"-"))


#: Lower-case name -> canonical spelling, for the serialisers (bounded).
_canonicalCache: dict[bytes, bytes] = {}


def _canonicalCached(name: bytes) -> bytes:
    """
    ``canonicalName`` for a lower-case name, remembered for the first
    thousand names met (a peer cannot grow the cache without bound).
    """
    spelled = _canonicalCache.get(name)
    if spelled is None:
        spelled = canonicalName(name)
        if len(_canonicalCache) < 1000:
            _canonicalCache[name] = spelled
    return spelled


def _encodeName(name: str | bytes) -> bytes:
    raw = name.encode("ascii", "strict") if isinstance(name, str) else name
    if not isinstance(raw, bytes):
        raise TypeError(f"header name must be bytes or str, not {type(name).__name__}")
    if not _TOKEN.match(raw):
        raise InvalidHeaderError(f"invalid header name: {raw!r}")
    return raw.lower()


def _encodeValue(value: str | bytes) -> bytes:
    if isinstance(value, str):
        raw = value.encode("utf-8")
    elif isinstance(value, bytes):
        raw = value
    else:
        raise TypeError(
            f"header value must be bytes or str, not {type(value).__name__}"
        )
    if _FORBIDDEN_IN_VALUE.search(raw):
        raise InvalidHeaderError(f"header value contains CR, LF or NUL: {raw!r}")
    return raw


def _decodeValue(value: bytes) -> str:
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("iso-8859-1")


class Headers:
    """
    HTTP header fields: each name (case-insensitive) maps to the list of its
    values in the order they were added.

    :param rawHeaders: initial fields, a mapping of name to a sequence of
        values.
    """

    __slots__ = ("_raw",)

    def __init__(
        self,
        rawHeaders: Mapping[str | bytes, Sequence[str | bytes]] | None = None,
    ) -> None:
        # lower-cased name -> values; dict order is first-insertion order.
        self._raw: dict[bytes, list[bytes]] = {}
        if rawHeaders is not None:
            for name, values in rawHeaders.items():
                self.setRawHeaders(name, values)

    @classmethod
    def _fromParsed(cls, fields: Iterable[tuple[bytes, bytes]]) -> Headers:
        """
        Build from fields the HTTP parser has already validated (lower-case
        names, values free of CR/LF/NUL), without checking them again.
        """
        headers = cls()
        raw = headers._raw
        for name, value in fields:
            existing = raw.get(name)
            if existing is None:
                raw[name] = [value]
            else:
                existing.append(value)
        return headers

    def __repr__(self) -> str:
        return f"Headers({ {canonicalName(k): v for k, v in self._raw.items()}!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return self._raw == other._raw

    def __hash__(self) -> int:  # mutable
        raise TypeError("unhashable type: 'Headers'")

    def __len__(self) -> int:
        return len(self._raw)

    def copy(self) -> Headers:
        """
        :return: an independent copy.
        """
        new = Headers()
        new._raw = {name: list(values) for name, values in self._raw.items()}
        return new

    def hasHeader(self, name: str | bytes) -> bool:
        """
        :return: whether ``name`` has at least one value.
        """
        return _encodeName(name) in self._raw

    def removeHeader(self, name: str | bytes) -> None:
        """
        Remove every value of ``name`` (nothing happens if it has none).
        """
        self._raw.pop(_encodeName(name), None)

    def setRawHeaders(self, name: str | bytes, values: Sequence[str | bytes]) -> None:
        """
        Replace every value of ``name`` with ``values``.

        :raises InvalidHeaderError: for a bad name or value.
        :raises TypeError: if ``values`` is a single string, not a sequence.
        """
        if isinstance(values, (str, bytes)):
            raise TypeError("setRawHeaders takes a sequence of values, not one value")
        key = _encodeName(name)
        encoded = [_encodeValue(v) for v in values]
        if encoded:
            self._raw[key] = encoded
        else:
            self._raw.pop(key, None)

    def addRawHeader(self, name: str | bytes, value: str | bytes) -> None:
        """
        Add one more value for ``name`` after any it already has.

        :raises InvalidHeaderError: for a bad name or value.
        """
        key = _encodeName(name)
        encoded = _encodeValue(value)
        existing = self._raw.get(key)
        if existing is None:
            self._raw[key] = [encoded]
        else:
            existing.append(encoded)

    @overload
    def getRawHeaders(self, name: AnyStr) -> list[AnyStr] | None: ...

    @overload
    def getRawHeaders(self, name: AnyStr, default: _T) -> list[AnyStr] | _T: ...

    def getRawHeaders(self, name: str | bytes, default: object = None) -> object:
        """
        :param name: the header name, ``bytes`` or ``str``.
        :param default: returned when ``name`` has no value.
        :return: a new list of the values, ``bytes`` or ``str`` like ``name``.
        """
        values = self._raw.get(_encodeName(name))
        if values is None:
            return default
        if isinstance(name, str):
            return [_decodeValue(v) for v in values]
        return list(values)

    def getRawHeader(
        self, name: AnyStr, default: AnyStr | None = None
    ) -> AnyStr | None:
        """
        :return: the last value of ``name`` (in the type of ``name``), or
            ``default``.
        """
        values = self.getRawHeaders(name)
        if not values:
            return default
        return values[-1]

    def getAllRawHeaders(self) -> Iterator[tuple[bytes, list[bytes]]]:
        """
        :return: ``(canonical name, values)`` pairs, as ``bytes``, in the order
            the names were first added.
        """
        for name, values in list(self._raw.items()):
            yield canonicalName(name), list(values)

    def _items(self) -> Iterator[tuple[bytes, bytes]]:
        """
        Every ``(lower-case name, value)`` field in order, without copying;
        for serialisers.
        """
        for name, values in self._raw.items():
            for value in values:
                yield name, value
