"""
What the HTTP client's modules share: ``URI`` and small helpers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from torsion.web.http_headers import Headers


def _globalReactor() -> Any:
    from torsion.internet import reactor

    return reactor


# -- URIs -----------------------------------------------------------------------


class URI:
    """
    An absolute HTTP or HTTPS URI, split into the parts a client needs.

    :param scheme: ``b"http"`` or ``b"https"``.
    :param netloc: the authority as written, such as ``b"example.com:8080"``.
    :param host: the host name or address (IPv6 without brackets).
    :param port: the port (the scheme's default when not written).
    :param path: the path, ``b"/"`` when empty.
    :param params: the path parameters (after ``;``).
    :param query: the query string (after ``?``).
    :param fragment: the fragment (after ``#``), never sent.
    """

    def __init__(
        self,
        scheme: bytes,
        netloc: bytes,
        host: bytes,
        port: int,
        path: bytes,
        params: bytes,
        query: bytes,
        fragment: bytes,
    ) -> None:
        self.scheme = scheme
        self.netloc = netloc
        self.host = host
        self.port = port
        self.path = path
        self.params = params
        self.query = query
        self.fragment = fragment

    @classmethod
    def fromBytes(cls, uri: bytes, defaultPort: int | None = None) -> URI:
        """
        Parse an absolute URI.

        :param uri: such as ``b"https://example.com:8443/a?b=c"``.
        :param defaultPort: the port when none is written (80 for http and
            443 for https when ``None``).
        :return: the parsed URI.
        :raises ValueError: for a URI without a scheme or host, with
            whitespace or control characters, or with a bad port.
        """
        if isinstance(uri, str):
            raise TypeError("URI.fromBytes needs bytes; encode the URI first")
        uri = uri.strip()
        if any(c <= 0x20 or c == 0x7F for c in uri):
            raise ValueError(f"URI contains whitespace or control characters: {uri!r}")
        parts = urlsplit(uri)
        scheme = parts.scheme.lower()
        if not scheme or not parts.netloc:
            raise ValueError(f"not an absolute URI: {uri!r}")
        netloc = parts.netloc
        if b"@" in netloc:
            netloc = netloc.rsplit(b"@", 1)[1]
        host = parts.hostname or b""
        if not host:
            raise ValueError(f"URI without a host: {uri!r}")
        try:
            port = parts.port
        except ValueError:
            raise ValueError(f"invalid port in URI: {uri!r}") from None
        if port is None:
            if defaultPort is not None:
                port = defaultPort
            else:
                port = 443 if scheme == b"https" else 80
        path, _, params = parts.path.partition(b";")
        return cls(
            scheme,
            netloc,
            host,
            port,
            path or b"/",
            params,
            parts.query,
            parts.fragment,
        )

    def toBytes(self) -> bytes:
        """
        :return: the URI as bytes (without the fragment's loss: it is kept).
        """
        result = self.scheme + b"://" + self.netloc + self.originForm
        if self.fragment:
            result += b"#" + self.fragment
        return result

    @property
    def originForm(self) -> bytes:
        """
        The request target for this URI: the path with its parameters and
        query.
        """
        target = self.path
        if self.params:
            target += b";" + self.params
        if self.query:
            target += b"?" + self.query
        return target

    def _origin(self) -> tuple[bytes, bytes, int]:
        return (self.scheme, self.host.lower(), self.port)

    def _hostHeader(self) -> bytes:
        host = self.host
        if b":" in host:
            host = b"[" + host + b"]"
        default = 443 if self.scheme == b"https" else 80
        if self.port == default:
            return host
        return host + b":%d" % self.port

    def __repr__(self) -> str:
        return f"URI.fromBytes({self.toBytes()!r})"


#: Parts of recently requested URIs: a client usually asks the same few URLs
#: again and again, and parsing one costs more than the rest of the request's
#: bookkeeping.  Only valid http/https URIs are kept, each as the arguments
#: for a fresh ``URI`` (callers may change the one they get).
_uriCache: dict[bytes, tuple[Any, ...]] = {}
_URI_CACHE_SIZE = 256


def _ensureValidURI(uri: bytes) -> URI:
    parts = _uriCache.get(uri) if type(uri) is bytes else None
    if parts is not None:
        return URI(*parts)
    parsed = _parseValidURI(uri)
    if len(_uriCache) >= _URI_CACHE_SIZE:
        _uriCache.clear()
    _uriCache[uri] = (
        parsed.scheme,
        parsed.netloc,
        parsed.host,
        parsed.port,
        parsed.path,
        parsed.params,
        parsed.query,
        parsed.fragment,
    )
    return parsed


def _parseValidURI(uri: bytes) -> URI:
    if not isinstance(uri, bytes):
        raise TypeError(f"the URI must be bytes, not {type(uri).__name__}")
    scheme = urlsplit(uri.strip()).scheme.lower()
    if scheme and scheme not in (b"http", b"https"):
        raise SchemeNotSupported(f"unsupported scheme: {scheme!r}")
    parsed = URI.fromBytes(uri)
    if parsed.scheme not in (b"http", b"https"):
        raise SchemeNotSupported(f"unsupported scheme: {parsed.scheme!r}")
    return parsed


class SchemeNotSupported(ValueError):
    """
    The URI's scheme is neither ``http`` nor ``https``.
    """


def _toHeaders(headers: Any) -> Headers:
    if headers is None:
        return Headers()
    if isinstance(headers, Headers):
        return headers.copy()
    if isinstance(headers, Mapping):
        result = Headers()
        for name, value in headers.items():
            if isinstance(value, (bytes, str)):
                result.addRawHeader(name, value)
            else:
                result.setRawHeaders(name, list(value))
        return result
    raise TypeError(f"headers must be a Headers or a mapping, not {headers!r}")


def _replayable(producer: Any) -> Any:
    """
    :return: a producer sending the same body again, or ``None`` if
        ``producer`` cannot.
    """
    if producer is None:
        return None
    again = getattr(producer, "_replay", None)
    return again() if again is not None else None
