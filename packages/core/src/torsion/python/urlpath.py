"""
``URLPath``: an immutable URL that knows how to build the URLs around it
(a child, a sibling, its parent, where a relative link leads).

All parts are kept as ``bytes``, still percent-encoded::

    >>> here = URLPath.fromString("http://example.com/a/b?x=1")
    >>> str(here.child(b"c"))
    'http://example.com/a/b/c'
    >>> str(here.sibling(b"c"))
    'http://example.com/a/c'
    >>> str(here.parent())
    'http://example.com/'
    >>> str(here.click("../d?y=2"))
    'http://example.com/d?y=2'
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, unquote_to_bytes, urljoin, urlsplit, urlunsplit

__all__ = ["URLPath"]


def _bytes(value: bytes | str, name: str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    if isinstance(value, bytes):
        return value
    raise TypeError(f"{name} must be bytes or str, not {type(value).__name__}")


class URLPath:
    """
    A URL split into its parts.

    :param scheme: such as ``b"http"``.
    :param netloc: host and optional port, such as ``b"example.com:8080"``.
    :param path: the path, starting with ``/`` (``b"/"`` when empty).
    :param query: the query string, without ``?``.
    :param fragment: the fragment, without ``#``.

    :ivar scheme: the scheme, ``bytes``.
    :ivar netloc: the network location, ``bytes``.
    :ivar path: the path, ``bytes``, percent-encoded.
    :ivar query: the query string, ``bytes``.
    :ivar fragment: the fragment, ``bytes``.
    """

    __slots__ = ("fragment", "netloc", "path", "query", "scheme")

    def __init__(
        self,
        scheme: bytes = b"",
        netloc: bytes = b"localhost",
        path: bytes = b"",
        query: bytes = b"",
        fragment: bytes = b"",
    ) -> None:
        self.scheme = _bytes(scheme, "scheme") or b"http"
        self.netloc = _bytes(netloc, "netloc")
        self.path = _bytes(path, "path") or b"/"
        self.query = _bytes(query, "query")
        self.fragment = _bytes(fragment, "fragment")

    # -- constructors --------------------------------------------------------

    @classmethod
    def fromString(cls, url: str) -> URLPath:
        """
        :param url: an absolute URL, as ``str``; characters that may not
            appear in a URL are percent-encoded (UTF-8).
        :return: its ``URLPath``.
        :raises ValueError: if ``url`` is not a ``str``.
        """
        if not isinstance(url, str):
            raise ValueError(f"URLPath.fromString takes a str, not {url!r}")
        safe = quote(url, safe="!#$%&'()*+,/:;=?@[]~")
        return cls.fromBytes(safe.encode("ascii"))

    @classmethod
    def fromBytes(cls, url: bytes) -> URLPath:
        """
        :param url: an absolute URL, as ``bytes``.
        :return: its ``URLPath``.
        :raises ValueError: if ``url`` is not ``bytes``.
        """
        if not isinstance(url, bytes):
            raise ValueError(f"URLPath.fromBytes takes bytes, not {url!r}")
        scheme, netloc, path, query, fragment = urlsplit(url)
        return cls(scheme, netloc, path, query, fragment)

    @classmethod
    def fromRequest(cls, request: Any) -> URLPath:
        """
        :param request: an HTTP request (``torsion.web`` ``IRequest``).
        :return: the URL of the resource serving it, the request's
            ``prePathURL()``; for a request without one, the URL built from
            ``isSecure()``, ``getRequestHostname()``, ``getHost().port`` and
            ``uri``.
        """
        prePathURL = getattr(request, "prePathURL", None)
        if prePathURL is not None:
            return cls.fromBytes(prePathURL())
        secure = request.isSecure()
        scheme = b"https" if secure else b"http"
        host = request.getRequestHostname()
        port = request.getHost().port
        if port != (443 if secure else 80):
            host += b":%d" % port
        return cls.fromBytes(scheme + b"://" + host + request.uri)

    # -- derived URLs ----------------------------------------------------------

    def pathList(self, unquote: bool = False, copy: bool = True) -> list[bytes]:
        """
        :param unquote: percent-decode each segment.
        :param copy: ignored; a new list is always returned.
        :return: the path split on ``/``; an absolute path's list starts
            with ``b""``.
        """
        segments = self.path.split(b"/")
        if unquote:
            return [unquote_to_bytes(segment) for segment in segments]
        return segments

    def _withPath(self, segments: list[bytes], keepQuery: bool) -> URLPath:
        return URLPath(
            self.scheme,
            self.netloc,
            b"/".join(segments),
            self.query if keepQuery else b"",
            b"",
        )

    def sibling(self, path: bytes, keepQuery: bool = False) -> URLPath:
        """
        :param path: a path segment (no ``/``).
        :param keepQuery: keep the query string.
        :return: this URL with its last segment replaced by ``path``.
        """
        segments = self.pathList()
        segments[-1] = path
        return self._withPath(segments, keepQuery)

    def child(self, path: bytes, keepQuery: bool = False) -> URLPath:
        """
        :param path: a path segment (no ``/``).
        :param keepQuery: keep the query string.
        :return: this URL with ``path`` appended as a segment (replacing an
            empty last segment: ``/a/`` gives ``/a/path``).
        """
        segments = self.pathList()
        if segments[-1] == b"":
            segments[-1] = path
        else:
            segments.append(path)
        return self._withPath(segments, keepQuery)

    def parent(self, keepQuery: bool = False) -> URLPath:
        """
        :param keepQuery: keep the query string.
        :return: the URL of the directory above this one (``/a/b/c`` gives
            ``/a/``).
        """
        segments = [*self.pathList()[:-2], b""]
        if segments == [b""]:
            segments = [b"", b""]
        return self._withPath(segments, keepQuery)

    def here(self, keepQuery: bool = False) -> URLPath:
        """
        :param keepQuery: keep the query string.
        :return: the URL of the directory this URL is in (``/a/b`` gives
            ``/a/``; ``/a/`` stays ``/a/``).
        """
        segments = self.pathList()
        if segments[-1] != b"":
            segments[-1] = b""
        return self._withPath(segments, keepQuery)

    def click(self, st: bytes | str) -> URLPath:
        """
        :param st: a link, absolute or relative (RFC 3986 reference).
        :return: where a browser on this URL would go when following it.
        """
        reference = st.decode("utf-8") if isinstance(st, bytes) else st
        return URLPath.fromString(urljoin(str(self), reference))

    # -- protocol --------------------------------------------------------------

    def _parts(self) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        return (self.scheme, self.netloc, self.path, self.query, self.fragment)

    def __str__(self) -> str:
        return urlunsplit(self._parts()).decode("ascii", "backslashreplace")

    def __bytes__(self) -> bytes:
        return urlunsplit(self._parts())

    def __repr__(self) -> str:
        return (
            f"URLPath(scheme={self.scheme!r}, netloc={self.netloc!r}, "
            f"path={self.path!r}, query={self.query!r}, "
            f"fragment={self.fragment!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, URLPath):
            return NotImplemented
        return self._parts() == other._parts()

    def __hash__(self) -> int:
        return hash(self._parts())
