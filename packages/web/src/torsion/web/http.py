"""
The HTTP/1.x server protocol: ``HTTPChannel`` (one per connection),
``Request`` (one per request) and ``HTTPFactory`` (configuration and the
access log); status code constants, HTTP dates and cookie/form parsing.

Most applications use ``torsion.web.server.Site``, which builds on these.

Request lifecycle
-----------------

For every request head it parses, the channel creates
``factory.requestFactory(channel)`` and then calls, in order:

1. ``request.requestHeaders`` is set (a ``Headers``);
2. ``request.gotLength(length)``: the body length, or ``None`` for a chunked
   body; the request prepares ``request.content`` (memory, or a temporary
   file above ``Request.spoolThreshold`` bytes);
3. ``request.handleContentChunk(data)`` for each piece of the body;
4. ``request.requestReceived(method, target, version)``: the request parses
   ``args`` (query string and form bodies) and calls ``process()``.

``process()`` writes the response with ``setResponseCode``, ``setHeader``,
``write`` and ``finish``.  The base ``Request.process`` answers 404;
``torsion.web.server.Request`` overrides it to render resources.

Requests on one connection are handled one at a time, strictly in order:
bytes of pipelined requests are held (and reading paused once
``maxPipelinedRequests`` heads or 64 KiB wait) until the current response
finishes.

Writing through a channel
-------------------------

A request talks to its channel only through ``_IRequestChannel`` (below), so
the same ``Request`` serves HTTP/1.x (``HTTPChannel``) and HTTP/2 streams
(``torsion.web._http2``).  The HTTP/1.x channel does the framing
(Content-Length, chunked, or close-delimited; keep-alive); the request only
supplies the status, the headers and the body bytes.

Limits
------

``HTTPFactory`` takes the limits as keyword arguments (and keeps them as
attributes of the same names): ``maxRequestLineLength`` (8 KiB, 414),
``maxHeaderSize`` (whole head, 16 KiB, 431), ``maxHeaderFieldSize`` (8 KiB,
431), ``maxHeaders`` (500, 431), ``maxRequestBody`` (1 MiB, 413; ``None``
for no limit), ``maxPipelinedRequests`` (16), ``maxRequestsPerConnection``
(1000), ``maxConnectionLifetime`` (1 h), ``maxFormFields`` (1000, 400),
and the timers ``timeout`` (idle keep-alive, 75 s), ``headerTimeout`` (the
whole head, 60 s), ``bodyTimeout`` (idle while reading a body, 60 s),
``sendTimeout`` (a response producer paused because the client stopped
reading, 60 s) and ``abortTimeout`` (15 s after a close stalls).

Switching protocols
-------------------

After writing a ``101 Switching Protocols`` response head, a resource calls
``request.channel._switchProtocol(protocol)``: the channel stops parsing
HTTP, connects ``protocol`` to the transport (``makeConnection``), hands it
the bytes already received after the request's head, and from then on
forwards every ``dataReceived`` and ``connectionLost`` to it.  HTTP/2 is
reached the same way, through ALPN (``h2``) on TLS connections, and the h2c
upgrade or the HTTP/2 connection preface ("prior knowledge") on cleartext
ones, when the ``h2`` package is installed.
"""

from __future__ import annotations

import base64
import binascii
import io
import tempfile
import time
from collections.abc import Callable
from time import time as _time
from typing import IO, Any, Final

from zope.interface import Attribute, Interface, implementer, provider

from torsion.internet import interfaces
from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionDone
from torsion.internet.protocol import Protocol, ServerFactory, connectionDone
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web import _httputil, _parser, iweb
from torsion.web._httputil import *  # noqa: F403
from torsion.web._httputil import (
    NOT_FOUND,
    NOT_MODIFIED,
    OK,
    PRECONDITION_FAILED,
    RESPONSES,
    datetimeToLogString,
    datetimeToString,
    parseCookies,
    parseMultipart,
    parseQueryString,
    stringToDatetime,
)
from torsion.web._parser import _V11, _parseServerHead
from torsion.web._parser import validHost as _validHost
from torsion.web._version import __version__
from torsion.web.http_headers import Headers
from torsion.web.http_headers import _canonicalCached as _canonical

__all__ = [
    "CACHED",
    "HTTPChannel",
    "HTTPFactory",
    "Request",
    "combinedLogFormatter",
    "proxiedLogFormatter",
]
__all__ += _httputil.__all__


class _CachedType:
    def __repr__(self) -> str:
        return "CACHED"


#: Returned by ``setLastModified`` and ``setETag`` when the client's cached
#: copy is current (the response is then a bodiless 304 or 412).
CACHED: Final = _CachedType()

#: The ``Server`` header sent unless the response sets one.
SERVER_VERSION: Final = b"torsion-web/" + __version__.encode("ascii")

_accessLog = Logger(namespace="torsion.web.access")
_log = Logger(namespace="torsion.web.http")

_newHeaders = object.__new__
_statusLines: dict[tuple[int, bytes], bytes] = {}
# Header names (as given) already validated as tokens -> lower-case form.
_validNames: dict[bytes, bytes] = {}


# (code, reason, content type) -> (the Date value they were made with, the
# head up to the Content-Length value, the head after it).
_bareHeads: dict[tuple[int, bytes, bytes], tuple[bytes, bytes, bytes]] = {}

# Lower-case header name -> b"Canonical-Name: ".
_fieldPrefixes: dict[bytes, bytes] = {}


def _fieldPrefix(name: bytes) -> bytes:
    prefix = _canonical(name) + b": "
    if len(_fieldPrefixes) < 1000:
        _fieldPrefixes[name] = prefix
    return prefix


class _DateCache:
    """
    The current HTTP date and log date, computed once per second.
    """

    second = -1
    nextSecond = 0.0
    httpDate = b""
    logDate = ""

    def update(self, now: float) -> None:
        second = int(now)
        if second != self.second:
            self.second = second
            self.nextSecond = second + 1.0
            self.httpDate = datetimeToString(second)
            self.logDate = datetimeToLogString(second)


_dates = _DateCache()
_logDates = _DateCache()


def _currentDate() -> bytes:
    _dates.update(time.time())
    return _dates.httpDate


class _IRequestChannel(Interface):
    """
    What a ``Request`` uses of its channel.  ``HTTPChannel`` provides it for
    HTTP/1.x; an HTTP/2 stream provides it for one stream.

    The channel drives the request with ``requestHeaders``, ``gotLength``,
    ``handleContentChunk``, ``requestReceived`` and, when the peer goes
    away first, ``connectionLost(reason)``.  The request answers through:

    - ``writeHeaders(version, code, reason, headers)`` once (before the first
      body byte or at ``finish``), with a ``Headers`` already holding
      ``Date``, ``Server``, ``Set-Cookie`` and, when known,
      ``Content-Length``; the channel adds its own framing fields;
    - ``write(data)`` for body bytes (never for HEAD, 1xx, 204 or 304
      responses; an empty ``write`` only flushes the head);
    - ``requestDone(request)`` at ``finish``.
    """

    transport = Attribute(
        "The connection's transport (or the stream standing for it); the "
        "request exposes it as ``request.transport``."
    )
    factory = Attribute("The factory (``HTTPFactory`` or ``Site``), or ``None``.")

    def writeHeaders(version: bytes, code: int, reason: bytes, headers: Any) -> None:
        """
        Send the response's status line and header fields.
        """

    def write(data: bytes) -> None:
        """
        Send response body bytes.
        """

    def requestDone(request: Any) -> None:
        """
        The response to ``request`` is complete.
        """

    def getPeer() -> Any:
        """
        :return: the client's address.
        """

    def getHost() -> Any:
        """
        :return: the server's address.
        """

    def isSecure() -> bool:
        """
        :return: whether the connection is encrypted (TLS).
        """

    def loseConnection() -> None:
        """
        Close the connection (or, for HTTP/2, reset the stream).
        """

    def registerProducer(producer: Any, streaming: bool) -> None:
        """
        Let ``producer`` feed the response with flow control.
        """

    def unregisterProducer() -> None:
        """
        Forget the producer.
        """


_BODYLESS_CODES: Final = frozenset({204, 304})
_BASIC = b"basic "


@implementer(interfaces.IConsumer)
class Request:
    """
    One HTTP request and its response.

    :param channel: the channel (``_IRequestChannel``) the request came from.
    :param queued: ignored; accepted for compatibility.

    :ivar method: the method, ``bytes``.
    :ivar uri: the request target as received, ``bytes``.
    :ivar path: ``uri`` without its query string.
    :ivar args: query string and form fields, ``{bytes: [bytes, ...]}``.
    :ivar content: the body, a file positioned at its start.
    :ivar clientproto: the request's version, such as ``b"HTTP/1.1"``.
    :ivar code: the response status code.
    :ivar code_message: the response reason phrase.
    :ivar requestHeaders: the request's ``Headers``.
    :ivar responseHeaders: the response's ``Headers``.
    :ivar cookies: ``Set-Cookie`` values to send (see ``addCookie``).
    :ivar sentLength: body bytes written so far.
    :ivar startedWriting: whether the response head was sent.
    :ivar finished: whether ``finish`` was called.
    :ivar channel: the channel.
    :ivar transport: the channel's transport.
    :ivar spoolThreshold: bodies longer than this many bytes are kept in a
        temporary file instead of memory.
    """

    spoolThreshold: int = 100 * 1024

    method: bytes = b"GET"
    uri: bytes = b""
    path: bytes = b""
    clientproto: bytes = b"HTTP/1.0"
    code: int = OK
    code_message: bytes = b"OK"
    sentLength: int = 0
    startedWriting: bool = False
    finished: bool = False
    etag: bytes | None = None
    lastModified: float | None = None
    content: IO[bytes] | None = None
    _disconnected: bool = False
    _forceSSL: bool = False
    _host: Any = None
    _bodyless: bool = False
    _receivedCookies: dict[bytes, bytes] | None = None
    _producer: Any = None

    def __init__(self, channel: Any, queued: object = None) -> None:
        self.channel = channel
        self.transport = getattr(channel, "transport", None)
        # Built without ``Headers.__init__`` (one call less per request).
        headers = self.requestHeaders = _newHeaders(Headers)
        headers._raw = {}
        headers = self.responseHeaders = _newHeaders(Headers)
        headers._raw = {}
        self.cookies: list[bytes] = []
        self.args: dict[bytes, list[bytes]] = {}
        self.prepath: list[bytes] = []
        self.postpath: list[bytes] = []
        self.notifications: list[Deferred[None]] = []

    def __repr__(self) -> str:
        return (
            f"<{type(self).__name__} at 0x{id(self):x} method={self.method!r} "
            f"uri={self.uri!r} clientproto={self.clientproto!r}>"
        )

    # -- receiving ---------------------------------------------------------

    def gotLength(self, length: int | None) -> None:
        """
        Called by the channel with the body length (``None`` when unknown,
        as for a chunked body) before any body byte; prepares ``content``.

        :param length: the length or ``None``.
        """
        if length is not None and length > self.spoolThreshold:
            self.content = tempfile.TemporaryFile()  # noqa: SIM115
        else:
            self.content = io.BytesIO()

    def handleContentChunk(self, data: bytes) -> None:
        """
        Called by the channel with each piece of the body.

        :param data: body bytes.
        """
        content = self.content
        if content is None:
            content = self.content = io.BytesIO()
        content.write(data)
        if type(content) is io.BytesIO and content.tell() > self.spoolThreshold:
            spool = tempfile.TemporaryFile()  # noqa: SIM115
            spool.write(content.getvalue())
            self.content = spool

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        """
        Called by the channel when the whole request (head and body) has
        arrived: sets ``method``, ``uri``, ``path``, ``clientproto`` and
        ``args``, then calls ``process``.  A malformed form body or too many
        fields answers 400.

        :param command: the method.
        :param path: the request target.
        :param version: the version, such as ``b"HTTP/1.1"``.
        """
        content = self.content
        if content is None:
            content = self.content = io.BytesIO()
        else:
            content.seek(0)
        self.method = command
        self.uri = path
        self.clientproto = version
        self._bodyless = command == b"HEAD"
        if path[:1] != b"/":
            path = self._absoluteForm(path)
        query = path.find(b"?")
        ctypes = self.requestHeaders._raw.get(b"content-type")
        try:
            if query < 0:
                self.path = path
                if ctypes is not None:
                    maxFields = getattr(self.channel, "maxFormFields", 1000)
                    self._parseBody(ctypes[-1], content, maxFields)
            else:
                maxFields = getattr(self.channel, "maxFormFields", 1000)
                self.path = path[:query]
                self.args = parseQueryString(path[query + 1 :], maxFields)
                if ctypes is not None:
                    self._parseBody(ctypes[-1], content, maxFields)
        except ValueError as e:
            self._badRequest(str(e))
            return
        self.process()

    def _absoluteForm(self, target: bytes) -> bytes:
        """
        Read an absolute-form target (``http://host/path?query``, RFC 9112
        §3.2.2): its host replaces the ``Host`` field, as the RFC asks of an
        origin server, and its path and query become the request's.

        :return: the origin-form part of ``target`` (``target`` itself when
            it is not an http or https URI).
        """
        scheme, sep, rest = target.partition(b"://")
        if not sep or scheme.lower() not in (b"http", b"https"):
            return target
        end = len(rest)
        for delimiter in (b"/", b"?", b"#"):
            found = rest.find(delimiter)
            if 0 <= found < end:
                end = found
        authority = rest[:end].rpartition(b"@")[2]
        if authority and _validHost(authority):
            self.requestHeaders.setRawHeaders(b"host", [authority])
        origin = rest[end:].partition(b"#")[0]
        if not origin.startswith(b"/"):
            origin = b"/" + origin
        return origin

    def _parseBody(self, ctype: bytes, content: IO[bytes], maxFields: int) -> None:
        mimeType = ctype.split(b";", 1)[0].strip().lower()
        if mimeType == b"application/x-www-form-urlencoded":
            form = parseQueryString(content.read(), maxFields)
        elif mimeType == b"multipart/form-data":
            form = parseMultipart(content, ctype, maxFields)
        else:
            return
        content.seek(0)
        args = self.args
        for name, values in form.items():
            args.setdefault(name, []).extend(values)

    def _badRequest(self, why: str) -> None:
        body = b"<html><body><h1>Bad Request</h1><p>%s</p></body></html>" % (
            _htmlEscape(why).encode("utf-8")
        )
        self.setResponseCode(400)
        self.setHeader(b"content-type", b"text/html; charset=utf-8")
        self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()

    def process(self) -> None:
        """
        Answer the request.  Override this; the base version answers
        ``404 Not Found``.
        """
        body = b"<html><body><h1>Not Found</h1></body></html>"
        self.setResponseCode(NOT_FOUND)
        self.setHeader(b"content-type", b"text/html")
        self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()

    # -- request data ------------------------------------------------------

    def getHeader(self, key: bytes | str) -> Any:
        """
        :param key: a request header name.
        :return: its last value (``bytes`` or ``str`` like ``key``), or
            ``None``.
        """
        values = self.requestHeaders.getRawHeaders(key)
        if values:
            return values[-1]
        return None

    def getAllHeaders(self) -> dict[bytes, bytes]:
        """
        :return: every request header, lower-case name to last value.
        """
        return {name: values[-1] for name, values in self.requestHeaders._raw.items()}

    @property
    def received_cookies(self) -> dict[bytes, bytes]:
        """
        The cookies the client sent, ``{name: value}`` as ``bytes``.
        """
        cookies = self._receivedCookies
        if cookies is None:
            cookies = self._receivedCookies = parseCookies(
                self.requestHeaders._raw.get(b"cookie", [])
            )
        return cookies

    @received_cookies.setter
    def received_cookies(self, value: dict[bytes, bytes]) -> None:
        self._receivedCookies = value

    def getCookie(self, key: bytes) -> bytes | None:
        """
        :param key: a cookie name.
        :return: the value the client sent, or ``None``.
        """
        return self.received_cookies.get(key)

    def getUser(self) -> bytes:
        """
        :return: the user name from HTTP Basic ``Authorization``, or ``b""``.
        """
        return self._basicAuth()[0]

    def getPassword(self) -> bytes:
        """
        :return: the password from HTTP Basic ``Authorization``, or ``b""``.
        """
        return self._basicAuth()[1]

    def _basicAuth(self) -> tuple[bytes, bytes]:
        value = self.requestHeaders.getRawHeader(b"authorization")
        if not value or value[:6].lower() != _BASIC:
            return b"", b""
        try:
            decoded = base64.b64decode(value[6:].strip(), validate=True)
        except (binascii.Error, ValueError):
            return b"", b""
        user, _, password = decoded.partition(b":")
        return user, password

    def getClientAddress(self) -> Any:
        """
        :return: the client's address (an ``IAddress``).
        """
        return self.channel.getPeer()

    @property
    def host(self) -> Any:
        """
        The server's address (same as ``getHost()``).
        """
        return self.getHost()

    @host.setter
    def host(self, address: Any) -> None:
        self._host = address

    @property
    def client(self) -> Any:
        """
        The client's address (same as ``getClientAddress()``).
        """
        return self.channel.getPeer()

    def getHost(self) -> Any:
        """
        :return: the server's address (an ``IAddress``), as changed by
            ``setHost`` if it was called.
        """
        if self._host is not None:
            return self._host
        return self.channel.getHost()

    def setHost(self, host: bytes, port: int, ssl: bool = False) -> None:
        """
        Pretend the request came to another host, port and scheme (for
        servers behind a reverse proxy): changes ``getHost``, ``isSecure``,
        and the ``Host`` header.

        :param host: the host name.
        :param port: the port.
        :param ssl: whether the scheme is https.
        """
        from torsion.internet.address import IPv4Address

        self._forceSSL = bool(ssl)
        default = 443 if ssl else 80
        hostHeader = host if port == default else host + b":%d" % port
        self.requestHeaders.setRawHeaders(b"host", [hostHeader])
        self._host = IPv4Address("TCP", host.decode("ascii", "replace"), port)

    def getRequestHostname(self) -> bytes:
        """
        :return: the host name the client asked for (the ``Host`` header
            without its port), or the server's own address.
        """
        hosts = self.requestHeaders._raw.get(b"host")
        # An empty Host (RFC 9112 section 3.2) names no host: the server's
        # own address stands in, as for a request without Host.
        if hosts and hosts[-1]:
            host = hosts[-1]
            if host.startswith(b"["):
                return host.split(b"]", 1)[0] + b"]"
            return host.split(b":", 1)[0]
        address = self.getHost()
        hostText = getattr(address, "host", "")
        return hostText.encode("ascii", "replace") if isinstance(hostText, str) else b""

    def isSecure(self) -> bool:
        """
        :return: whether the request came over TLS (or ``setHost`` said so).
        """
        if self._forceSSL:
            return True
        return bool(self.channel.isSecure())

    # -- response ----------------------------------------------------------

    def setResponseCode(self, code: int, message: bytes | None = None) -> None:
        """
        Set the response status.

        :param code: the status code, an ``int``.
        :param message: the reason phrase; the standard one by default.
        :raises TypeError: if ``code`` is not an ``int``.
        :raises ValueError: if ``message`` contains CR, LF or NUL.
        """
        if not isinstance(code, int) or isinstance(code, bool):
            raise TypeError(f"HTTP response code must be int, not {code!r}")
        self.code = code
        if message is None:
            message = RESPONSES.get(code, b"Unknown Status")
        elif isinstance(message, str):
            message = message.encode("utf-8")
        if b"\r" in message or b"\n" in message or b"\x00" in message:
            raise ValueError(f"reason phrase contains CR, LF or NUL: {message!r}")
        self.code_message = message

    def setHeader(self, name: bytes | str, value: bytes | str) -> None:
        """
        Set a response header, replacing any value it had.

        :raises ValueError: for a name that is not a token or a value with
            CR, LF or NUL.
        """
        # The common case (bytes name seen before, clean bytes value) skips
        # the general validation in ``Headers``.
        lower = _validNames.get(name) if type(name) is bytes else None
        if (
            lower is not None
            and type(value) is bytes
            and b"\r" not in value
            and b"\n" not in value
            and b"\x00" not in value
        ):
            self.responseHeaders._raw[lower] = [value]
            return
        self.responseHeaders.setRawHeaders(name, [value])
        if type(name) is bytes and len(_validNames) < 1000:
            _validNames[name] = name.lower()

    def addCookie(
        self,
        k: bytes | str,
        v: bytes | str,
        expires: bytes | str | None = None,
        domain: bytes | str | None = None,
        path: bytes | str | None = None,
        max_age: bytes | str | int | None = None,
        comment: bytes | str | None = None,
        secure: bool | None = None,
        httpOnly: bool = False,
        sameSite: str | bytes | None = None,
    ) -> None:
        """
        Add a ``Set-Cookie`` header to the response.

        :param k: the cookie name.
        :param v: its value.
        :param expires: an HTTP date after which it expires.
        :param domain: the ``Domain`` attribute.
        :param path: the ``Path`` attribute.
        :param max_age: the ``Max-Age`` attribute (seconds).
        :param comment: the ``Comment`` attribute.
        :param secure: add ``Secure``.
        :param httpOnly: add ``HttpOnly``.
        :param sameSite: ``"lax"``, ``"strict"`` or ``"none"``.
        :raises ValueError: if a part contains ``;``, CR or LF, or
            ``sameSite`` is another value.
        """

        def part(value: bytes | str | int) -> bytes:
            if isinstance(value, int):
                return b"%d" % value
            raw = value.encode("utf-8") if isinstance(value, str) else value
            if any(c in raw for c in (b";", b"\r", b"\n", b"\x00")):
                raise ValueError(f"cookie part contains ';', CR, LF or NUL: {raw!r}")
            return raw

        pieces = [part(k) + b"=" + part(v)]
        if expires is not None:
            pieces.append(b"Expires=" + part(expires))
        if domain is not None:
            pieces.append(b"Domain=" + part(domain))
        if path is not None:
            pieces.append(b"Path=" + part(path))
        if max_age is not None:
            pieces.append(b"Max-Age=" + part(max_age))
        if comment is not None:
            pieces.append(b"Comment=" + part(comment))
        if secure:
            pieces.append(b"Secure")
        if httpOnly:
            pieces.append(b"HttpOnly")
        if sameSite is not None:
            same = (
                sameSite.lower()
                if isinstance(sameSite, str)
                else sameSite.decode("ascii", "replace").lower()
            )
            if same not in ("lax", "strict", "none"):
                raise ValueError(f"sameSite must be lax, strict or none: {sameSite!r}")
            pieces.append(b"SameSite=" + same.capitalize().encode("ascii"))
        self.cookies.append(b"; ".join(pieces))

    def redirect(self, url: bytes | str) -> None:
        """
        Make the response a ``302 Found`` to ``url``.

        :raises ValueError: if ``url`` contains CR, LF or NUL.
        """
        self.setResponseCode(302)
        self.setHeader(b"location", url)

    def setLastModified(self, when: float) -> object:
        """
        Set ``Last-Modified`` (keeping the latest time given) and check the
        request's ``If-Modified-Since``.

        :param when: seconds since the epoch.
        :return: ``CACHED`` when the client's copy is current (the response
            is then a 304 without body), else ``None``.
        """
        when = int(when)
        if self.lastModified is None or self.lastModified < when:
            self.lastModified = when
        self.setHeader(b"last-modified", datetimeToString(self.lastModified))
        since = self.requestHeaders.getRawHeader(b"if-modified-since")
        if since and self.method in (b"GET", b"HEAD"):
            try:
                sinceTime = stringToDatetime(since.split(b";", 1)[0])
            except ValueError:
                return None
            if sinceTime >= when:
                self.setResponseCode(NOT_MODIFIED)
                return CACHED
        return None

    def setETag(self, etag: bytes) -> object:
        """
        Set ``ETag`` and check the request's ``If-None-Match``.

        :param etag: the entity tag (with its quotes).
        :return: ``CACHED`` when it matches (304 for GET and HEAD, 412
            otherwise), else ``None``.
        """
        if etag:
            self.etag = etag
            self.setHeader(b"etag", etag)
        match = self.requestHeaders.getRawHeader(b"if-none-match")
        if match:
            tags = [tag.strip() for tag in match.split(b",")]
            if etag in tags or b"*" in tags:
                if self.method in (b"GET", b"HEAD"):
                    self.setResponseCode(NOT_MODIFIED)
                else:
                    self.setResponseCode(PRECONDITION_FAILED)
                return CACHED
        return None

    def _sendHead(self, finishing: bool) -> None:
        self.startedWriting = True
        code = self.code
        raw = self.responseHeaders._raw
        if code < 200 or code in _BODYLESS_CODES:
            self._bodyless = True
        if b"date" not in raw:
            dates = _dates
            now = _time()
            if now >= dates.nextSecond:
                dates.update(now)
            raw[b"date"] = [dates.httpDate]
        if b"server" not in raw:
            raw[b"server"] = [SERVER_VERSION]
        if (
            finishing
            and not self._bodyless
            and b"content-length" not in raw
            and b"transfer-encoding" not in raw
        ):
            raw[b"content-length"] = [b"0"]
        if self.cookies:
            raw.setdefault(b"set-cookie", []).extend(self.cookies)
        self.channel.writeHeaders(
            b"HTTP/1.1", code, self.code_message, self.responseHeaders
        )

    def _respondWhole(self, body: bytes) -> None:
        """
        Send the whole response at once: the head (``responseHeaders``
        already holds ``Content-Length: len(body)``) and ``body``, then end
        it, as ``write(body)`` and ``finish()`` would, in one transport
        write.  Only for a channel with ``_writeWhole``, a request not yet
        started, finished or disconnected, not ``HEAD``, and a status that
        has a body.
        """
        self.startedWriting = True
        raw = self.responseHeaders._raw
        if b"date" not in raw:
            dates = _dates
            now = _time()
            if now >= dates.nextSecond:
                dates.update(now)
            raw[b"date"] = [dates.httpDate]
        if b"server" not in raw:
            raw[b"server"] = [SERVER_VERSION]
        if self.cookies:
            raw.setdefault(b"set-cookie", []).extend(self.cookies)
        self.sentLength += len(body)
        channel = self.channel
        channel._writeWhole(self.code, self.code_message, raw, body)
        self.finished = True
        channel.requestDone(self)
        if self.notifications:
            self._notify(None)

    def _respondBare(self, body: bytes, contentType: bytes) -> None:
        """
        ``_respondWhole`` for a response whose only header fields are
        Content-Length (already set), ``contentType``, Date and Server.
        """
        self.startedWriting = True
        raw = self.responseHeaders._raw
        raw[b"content-type"] = [contentType]
        dates = _dates
        now = _time()
        if now >= dates.nextSecond:
            dates.update(now)
        raw[b"date"] = [dates.httpDate]
        raw[b"server"] = [SERVER_VERSION]
        self.sentLength += len(body)
        channel = self.channel
        channel._writeBare(self.code, self.code_message, contentType, raw, body)
        self.finished = True
        channel.requestDone(self)
        if self.notifications:
            self._notify(None)

    def write(self, data: bytes) -> None:
        """
        Write response body bytes; the first call sends the status line and
        headers.  For a HEAD request (and 1xx, 204 and 304 responses) the
        bytes are not sent.

        :param data: the bytes.
        :raises TypeError: if ``data`` is not ``bytes``.
        :raises RuntimeError: after ``finish``.
        """
        if type(data) is not bytes:
            if not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"Request.write takes bytes, not {type(data).__name__}")
            data = bytes(data)
        if self.finished:
            raise RuntimeError(
                "Request.write called on a request after Request.finish was called"
            )
        if self._disconnected:
            return
        first = not self.startedWriting
        if first:
            self._sendHead(False)
        if self._bodyless:
            if first:
                self.channel.write(b"")
            return
        self.sentLength += len(data)
        if data or first:
            self.channel.write(data)

    def writeSequence(self, data: Any) -> None:
        """
        Write several pieces of the body.

        :param data: an iterable of bytes.
        """
        for piece in data:
            self.write(piece)

    def finish(self) -> None:
        """
        End the response.  After the client disconnected, this does nothing.

        :raises RuntimeError: if called twice.
        """
        if self._disconnected:
            return
        if self.finished:
            raise RuntimeError(
                "Request.finish called twice on the same request; "
                "use Request.notifyFinish to learn when a response ends"
            )
        if not self.startedWriting:
            self._sendHead(True)
        self.finished = True
        self.channel.requestDone(self)
        if self.notifications:
            self._notify(None)

    def _notify(self, reason: Failure | None) -> None:
        notifications = self.notifications
        if notifications:
            self.notifications = []
            for d in notifications:
                if reason is None:
                    d.callback(None)
                else:
                    d.errback(reason)

    def notifyFinish(self) -> Deferred[None]:
        """
        :return: a Deferred firing with ``None`` when the response has been
            sent, or failing with the reason (``ConnectionLost``,
            ``ConnectionDone``) if the connection closes first.
        """
        d: Deferred[None] = Deferred()
        if self.finished:
            d.callback(None)
        elif self._disconnected:
            d.errback(Failure(ConnectionDone("connection closed before the response")))
        else:
            self.notifications.append(d)
        return d

    def connectionLost(self, reason: Failure) -> None:
        """
        Called by the channel when the connection closes before the
        response finished.

        :param reason: why.
        """
        self._disconnected = True
        self._notify(reason)

    def loseConnection(self) -> None:
        """
        Close the connection (after what was written is sent).
        """
        self.channel.loseConnection()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Feed the response from ``producer``: it is paused while the client is
        slow (push producer) or asked for data as the client reads (pull
        producer).

        :param producer: an ``IPushProducer`` or ``IPullProducer``.
        :param streaming: whether it is a push producer.
        :raises ValueError: if a producer is already registered.
        """
        if self._producer is not None:
            raise ValueError(
                f"registering producer {producer!r} before the previous one "
                f"({self._producer!r}) was unregistered"
            )
        if self._disconnected:
            producer.stopProducing()
            return
        self._producer = producer
        if not self.startedWriting:
            # Framing is decided by the head: send it before the producer
            # writes through the transport.
            self._sendHead(False)
            self.channel.write(b"")
        self.channel.registerProducer(producer, streaming)

    def unregisterProducer(self) -> None:
        """
        Forget the producer.
        """
        if self._producer is None:
            return
        self._producer = None
        self.channel.unregisterProducer()


def _htmlEscape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tokens(values: list[bytes]) -> list[bytes]:
    return [t.strip(b" \t").lower() for value in values for t in value.split(b",")]


_SPECIAL_FIELDS: Final = frozenset(
    {b"content-length", b"transfer-encoding", b"connection", b"expect", b"upgrade"}
)
_METHODS: Final = {
    m: m for m in (b"GET", b"HEAD", b"POST", b"PUT", b"DELETE", b"OPTIONS", b"PATCH")
}

# Channel states.
_HEAD, _BODY, _WAIT, _CLOSED, _SWITCHED = range(5)
_PIPELINE_BYTES: Final = 64 * 1024
_H2_PREFACE: Final = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def _loadHTTP2() -> Any:
    """
    :return: the ``H2Connection`` class, or ``None`` when HTTP/2 support
        (the ``h2`` package) is not available.
    """
    try:
        from torsion.web._http2 import H2Connection
    except ImportError:
        return None
    return H2Connection


def _negotiatedH2(transport: Any) -> bool:
    """
    :return: whether TLS negotiated ``h2`` through ALPN on ``transport``.
    """
    try:
        return getattr(transport, "negotiatedProtocol", None) == b"h2"
    except Exception:
        return False


def _headFrom(
    method: bytes,
    target: bytes,
    version: tuple[int, int],
    raw: dict[bytes, list[bytes]],
) -> _parser.RequestHead:
    # The parser's head, for the rarer paths that want one (framing fields,
    # h2c upgrade): fields grouped by name, each name's values in order.
    fields = [(name, value) for name, values in raw.items() for value in values]
    return _parser.RequestHead(method, target, version, fields)


def _isH2CUpgrade(head: _parser.RequestHead) -> bytes | None:
    """
    :return: the ``HTTP2-Settings`` value when ``head`` asks for an h2c
        upgrade (RFC 7540 §3.2), else ``None``.
    """
    if head.version != (1, 1):
        return None
    upgrade = settings = None
    connection: list[bytes] = []
    for name, value in head.fields:
        if name == b"upgrade":
            upgrade = value
        elif name == b"http2-settings":
            if settings is not None:
                return None
            settings = value
        elif name == b"connection":
            connection.extend(t.strip().lower() for t in value.split(b","))
    if upgrade is None or settings is None:
        return None
    if b"h2c" not in [t.strip().lower() for t in upgrade.split(b",")]:
        return None
    if b"upgrade" not in connection or b"http2-settings" not in connection:
        return None
    return settings


@implementer(_IRequestChannel, interfaces.IPushProducer)
class HTTPChannel(Protocol):
    """
    An HTTP/1.x server connection.  Build it with ``HTTPFactory`` (or
    ``Site``); its limits and timers come from the factory's attributes (or
    these class defaults when used without one).

    :ivar requestFactory: what builds a request from the channel (taken from
        the factory when it has one).
    """

    requestFactory: Callable[..., Any] = Request
    maxRequestLineLength: int = 8192
    maxHeaderSize: int = 16384
    maxHeaderFieldSize: int = 8192
    maxHeaders: int = 500
    maxRequestBody: int | None = 1024 * 1024
    maxPipelinedRequests: int = 16
    maxRequestsPerConnection: int = 1000
    maxConnectionLifetime: float | None = 3600
    maxFormFields: int = 1000
    timeOut: float | None = 75
    headerTimeout: float | None = 60
    bodyTimeout: float | None = 60
    abortTimeout: float | None = 15
    sendTimeout: float | None = 60
    lingerTimeout: float | None = 2
    h2cUpgrade: bool = True

    _state = _HEAD
    _method = b"GET"
    _target = b"/"
    _version = b"HTTP/1.1"
    _request: Any = None
    _decoder: Any = None
    _bodyReceived = 0
    _persistent = True
    _chunked = False
    _remaining: int | None = None
    _head: bytes | None = None
    _paused = False
    _requestCount = 0
    _switchedTo: Any = None
    _firstData = True
    _timer: Any = None
    _deadline: float | None = None
    _timerKind = 0
    _inLoop = False
    _searchFrom = 0
    _validatedHost: bytes | None = None
    _abortCall: Any = None
    _lingerCall: Any = None
    _lostConnection = False
    _producer: Any = None
    _sendTimer: Any = None
    _closeAfter: float | None = None
    # Defaults live on the class: an idle connection then keeps few
    # instance attributes (memory per connection).
    _buffer = b""
    _waiting: list[bytes] | tuple[()] = ()
    _waitingBytes = 0
    _waitingHeads = 0
    _limits = _parser.DEFAULT_LIMITS
    _reactor: Any = None

    # -- setup ---------------------------------------------------------------

    def connectionMade(self) -> None:
        """
        Take the limits from the factory and start the idle timer.
        """
        factory = self.factory
        if factory is not None:
            cls = type(self)
            instance = self.__dict__
            for name in _FACTORY_SETTINGS:
                value = getattr(factory, name, _MISSING)
                if value is _MISSING:
                    continue
                # Only what differs from the class default is stored on the
                # connection (memory per idle connection).
                default = getattr(cls, name, _MISSING)
                if name in instance or (value is not default and value != default):
                    setattr(self, name, value)
            limits = factory._parserLimits()
            if limits != self._limits:
                self._limits = limits
            self._reactor = factory._reactor
        else:
            self._limits = _parser.ParserLimits(
                maxLineLength=self.maxRequestLineLength,
                maxFieldSize=self.maxHeaderFieldSize,
                maxHeadSize=self.maxHeaderSize,
                maxFields=self.maxHeaders,
            )
        if self._reactor is None:
            from torsion.internet import reactor

            self._reactor = reactor
        # A response often ends with a small separate write (the last
        # chunk): do not let Nagle's algorithm hold it for an ACK.
        setNoDelay = getattr(self.transport, "setTcpNoDelay", None)
        if setNoDelay is not None:
            try:
                setNoDelay(True)
            except Exception:
                pass
        if self.maxConnectionLifetime is not None:
            self._closeAfter = self._reactor.seconds() + self.maxConnectionLifetime
        self._setDeadline(1, self.timeOut)

    @property
    def site(self) -> Any:
        """
        The factory (a ``Site`` or ``HTTPFactory``) that built this channel,
        unless another was set.
        """
        site = self.__dict__.get("_site")
        return site if site is not None else self.factory

    @site.setter
    def site(self, site: Any) -> None:
        self.__dict__["_site"] = site

    # -- timers ------------------------------------------------------------

    def _setDeadline(self, kind: int, delay: float | None) -> None:
        # One DelayedCall is kept and re-armed lazily: moving a deadline
        # later costs a float store, not a heap operation per request.
        self._timerKind = kind
        if delay is None or kind == 0:
            self._deadline = None
            return
        reactor = self._reactor
        deadline = reactor.seconds() + delay
        self._deadline = deadline
        timer = self._timer
        if timer is None or not timer.active():
            self._timer = reactor.callLater(delay, self._checkDeadline)
        elif timer.getTime() > deadline:
            timer.reset(delay)

    def _checkDeadline(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None or self._state in (_CLOSED, _SWITCHED):
            return
        now = self._reactor.seconds()
        if now < deadline:
            self._timer = self._reactor.callLater(deadline - now, self._checkDeadline)
            return
        self._deadline = None
        kind = self._timerKind
        if kind == 2 and not self._buffer and self._request is None:
            kind = 1
        if kind == 1:
            self._closeConnection()
        else:
            self._respondError(408, "the request took too long to arrive")

    def _cancelTimer(self) -> None:
        timer = self._timer
        self._timer = None
        self._deadline = None
        if timer is not None and timer.active():
            timer.cancel()

    # -- receiving -----------------------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        """
        Parse requests from ``data``; answer errors with their status and
        close the connection.
        """
        if self._switchedTo is not None:
            self._switchedTo.dataReceived(data)
            return
        if self._firstData:
            self._firstData = False
            if _negotiatedH2(self.transport):
                h2 = _loadHTTP2()
                if h2 is not None:
                    self._switchProtocol(h2(self.factory, self._reactor), data)
                    return
        state = self._state
        if state == _CLOSED:
            return
        if state == _WAIT:
            # Held as a list until the current response finishes, so bytes
            # trickling in meanwhile cost linear time.
            waiting = self._waiting
            if waiting:
                waiting.append(data)
            else:
                self._waiting = [data]
            self._waitingBytes += len(data)
            self._waitingHeads += data.count(b"\r\n\r\n")
            if not self._paused and (
                self._waitingBytes + len(self._buffer) > _PIPELINE_BYTES
                or self._waitingHeads >= self.maxPipelinedRequests
            ):
                self._paused = True
                self._pauseTransport()
            return
        buffer = self._buffer
        self._buffer = buffer + data if buffer else data
        if not self._inLoop:
            self._process()

    def _takeWaiting(self) -> None:
        if self._waiting:
            self._buffer += b"".join(self._waiting)
            self._waiting = ()
        self._waitingBytes = 0
        self._waitingHeads = self._buffer.count(b"\r\n\r\n")

    def _pauseTransport(self) -> None:
        try:
            self.transport.pauseProducing()
        except Exception:
            pass

    def _resumeTransport(self) -> None:
        try:
            self.transport.resumeProducing()
        except Exception:
            pass

    def _process(self) -> None:
        self._inLoop = True
        try:
            while True:
                state = self._state
                if state == _HEAD:
                    buffer = self._buffer
                    if not buffer:
                        break
                    if (
                        self._requestCount == 0
                        and buffer[:3] == b"PRI"
                        and self._priorKnowledge(buffer)
                    ):
                        break
                    result = _parseServerHead(buffer, self._limits, self._searchFrom)
                    if result is None:
                        self._searchFrom = max(0, len(buffer) - 3)
                        if self._timerKind != 2:
                            self._setDeadline(2, self.headerTimeout)
                        break
                    end = result[4]
                    if self._searchFrom:
                        self._searchFrom = 0
                    self._buffer = buffer[end:] if end < len(buffer) else b""
                    self._headReceived(result[0], result[1], result[2], result[3])
                elif state == _BODY:
                    buffer = self._buffer
                    if not buffer:
                        break
                    self._buffer = b""
                    self._bodyData(buffer)
                else:
                    break
        except _parser.HTTPParseError as e:
            self._respondError(e.status, e.message)
        except Exception:
            _log.failure("Unexpected error in the HTTP channel; closing it")
            self._respondError(500, "internal error")
        finally:
            self._inLoop = False

    def _priorKnowledge(self, buffer: bytes) -> bool:
        """
        Handle a cleartext connection opening with the HTTP/2 preface.

        :return: whether the channel must stop parsing (the preface is
            incomplete, or the connection was handed to HTTP/2).
        """
        if len(buffer) < len(_H2_PREFACE):
            return _H2_PREFACE.startswith(buffer)
        if not buffer.startswith(_H2_PREFACE) or not self.h2cUpgrade:
            return False
        h2 = _loadHTTP2()
        if h2 is None:
            return False
        self._buffer = b""
        self._switchProtocol(h2(self.factory, self._reactor), buffer)
        return True

    def _headReceived(
        self,
        method: bytes,
        target: bytes,
        version: tuple[int, int],
        raw: dict[bytes, list[bytes]],
    ) -> None:
        headers = _newHeaders(Headers)
        headers._raw = raw
        # RFC 9112 section 3.2: an HTTP/1.1 request names its host exactly
        # once, with a valid value; anything else is ambiguous to us and to
        # whatever proxy or cache sits in front.
        hosts = raw.get(b"host")
        if hosts is None:
            if version == _V11:
                raise _parser.HTTPParseError(
                    400, "an HTTP/1.1 request needs a Host header field"
                )
        elif len(hosts) > 1:
            raise _parser.HTTPParseError(400, "more than one Host header field")
        elif hosts[0] != self._validatedHost:
            # A keep-alive connection repeats the same Host: check it once.
            if not _validHost(hosts[0]):
                raise _parser.HTTPParseError(400, "invalid Host header field")
            self._validatedHost = hosts[0]
        persistent = version == _V11
        length = 0
        # One C-level test for the usual request: none of the fields below.
        if not _SPECIAL_FIELDS.isdisjoint(raw):
            if b"content-length" in raw or b"transfer-encoding" in raw:
                length = _parser.requestBodyLength(
                    _headFrom(method, target, version, raw), self._limits
                )
            connection = raw.get(b"connection")
            if connection is not None:
                tokens = _tokens(connection)
                if b"close" in tokens:
                    persistent = False
                elif b"keep-alive" in tokens:
                    persistent = True
            if length:
                maxBody = self.maxRequestBody
                if length > 0 and maxBody is not None and length > maxBody:
                    self._requestCount += 1
                    raise _parser.HTTPParseError(413, "request body too large")
            if b"expect" in raw and version == _V11:
                if raw[b"expect"][-1].lower() != b"100-continue":
                    self._requestCount += 1
                    raise _parser.HTTPParseError(417, "unsupported expectation")
                if length != 0 and not self._buffer:
                    self.transport.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            if length == 0 and b"upgrade" in raw and self.h2cUpgrade:
                head = _headFrom(method, target, version, raw)
                settings = _isH2CUpgrade(head)
                if settings is not None:
                    h2 = _loadHTTP2()
                    if h2 is not None:
                        self._requestCount += 1
                        self._upgradeH2C(h2, head, settings)
                        return
        count = self._requestCount = self._requestCount + 1
        if count >= self.maxRequestsPerConnection or (
            self._closeAfter is not None and self._reactor.seconds() >= self._closeAfter
        ):
            persistent = False
        self._persistent = persistent
        request = self.requestFactory(self)
        request.requestHeaders = headers
        self._request = request
        # The usual methods as shared constants: a connection keeps its
        # last method, and that should not cost an object per connection.
        self._method = _METHODS.get(method, method)
        self._target = target
        self._version = b"HTTP/1.1" if version == _V11 else b"HTTP/1.0"
        if length == 0:
            request.gotLength(0)
            self._dispatch()
        else:
            request.gotLength(None if length == _parser.CHUNKED else length)
            self._decoder = _parser.bodyDecoder(length, self._limits)
            self._bodyReceived = 0
            self._state = _BODY
            self._setDeadline(3, self.bodyTimeout)

    def _bodyData(self, data: bytes) -> None:
        decoder = self._decoder
        body, rest = decoder.feed(data)
        if body:
            received = self._bodyReceived + len(body)
            self._bodyReceived = received
            maxBody = self.maxRequestBody
            if maxBody is not None and received > maxBody:
                raise _parser.HTTPParseError(413, "request body too large")
            self._request.handleContentChunk(body)
        if decoder.done:
            self._decoder = None
            self._buffer = rest
            self._dispatch()
        else:
            self._setDeadline(3, self.bodyTimeout)

    def _dispatch(self) -> None:
        self._state = _WAIT
        # No timer while the application works; the armed DelayedCall, if
        # any, finds no deadline and lapses.
        self._timerKind = 0
        self._deadline = None
        request = self._request
        target = self._target
        self._target = b"/"
        try:
            request.requestReceived(self._method, target, self._version)
        except Exception:
            _log.failure(
                "Unhandled error while processing {request!r}", request=request
            )
            if self._request is request and self._state == _WAIT:
                if request.startedWriting:
                    self._closeConnection()
                else:
                    self._request = None
                    self._respondError(500, "internal server error")

    # -- the request's channel ---------------------------------------------

    def writeHeaders(
        self, version: bytes, code: int, reason: bytes, headers: Any
    ) -> None:
        """
        Prepare the response head; it is sent with the first body bytes (or
        at the end of the response).  Adds the framing fields: chunked
        transfer coding for an HTTP/1.1 response of unknown length, and
        ``Connection: close`` or ``keep-alive`` as needed.

        :param version: ignored; the response is ``HTTP/1.1``.
        :param code: the status code.
        :param reason: the reason phrase.
        :param headers: a ``Headers`` or a list of ``(name, value)`` pairs.
        """
        if isinstance(headers, Headers):
            raw = headers._raw
        else:
            raw = {}
            for name, value in headers:
                raw.setdefault(name.lower(), []).append(value)
        self._head = self._headBytes(code, reason, raw)

    def _writeWhole(
        self, code: int, reason: bytes, raw: dict[bytes, list[bytes]], body: bytes
    ) -> None:
        """
        Send a whole response in one write: its head (``raw`` holds a single
        ``Content-Length`` equal to ``len(body)``) and its body.  The request
        calls ``requestDone`` next, as after ``writeHeaders`` and ``write``.
        """
        # What ``_headBytes`` decides, for a response known to have a body
        # of exactly its single Content-Length: only Connection is left.
        connection = raw.get(b"connection")
        if connection is not None:
            if any(b"close" in value.lower() for value in connection):
                self._persistent = False
        elif not self._persistent:
            raw[b"connection"] = [b"close"]
        elif self._version == b"HTTP/1.0":
            raw[b"connection"] = [b"keep-alive"]
        statusLine = _statusLines.get((code, reason))
        if statusLine is None:
            statusLine = self._statusLine(code, reason)
        prefixes = _fieldPrefixes
        lines = [statusLine]
        for name, values in raw.items():
            prefix = prefixes.get(name) or _fieldPrefix(name)
            if len(values) == 1:
                lines.append(prefix + values[0])
            else:
                lines.extend([prefix + value for value in values])
        lines.append(b"")
        lines.append(body)
        if self._state != _CLOSED:
            self.transport.write(b"\r\n".join(lines))

    def _writeBare(
        self,
        code: int,
        reason: bytes,
        contentType: bytes,
        raw: dict[bytes, list[bytes]],
        body: bytes,
    ) -> None:
        """
        ``_writeWhole`` for a head of exactly Content-Length, Content-Type,
        Date and Server (in that order, as in ``raw``): the bytes around the
        length are made once a second.
        """
        if not self._persistent or self._version != b"HTTP/1.1":
            # A Connection field is needed.
            self._writeWhole(code, reason, raw, body)
            return
        key = (code, reason, contentType)
        cached = _bareHeads.get(key)
        date = _dates.httpDate
        if cached is None or cached[0] is not date:
            statusLine = _statusLines.get((code, reason))
            if statusLine is None:
                statusLine = self._statusLine(code, reason)
            cached = (
                date,
                statusLine + b"\r\nContent-Length: ",
                b"\r\nContent-Type: %s\r\nDate: %s\r\nServer: %s\r\n\r\n"
                % (contentType, date, SERVER_VERSION),
            )
            if len(_bareHeads) < 100 or key in _bareHeads:
                _bareHeads[key] = cached
        if self._state != _CLOSED:
            self.transport.write(
                b"".join((cached[1], raw[b"content-length"][0], cached[2], body))
            )

    @staticmethod
    def _statusLine(code: int, reason: bytes) -> bytes:
        statusLine = b"HTTP/1.1 %d %s" % (code, reason)
        if len(_statusLines) < 200:
            _statusLines[(code, reason)] = statusLine
        return statusLine

    def _headBytes(
        self, code: int, reason: bytes, raw: dict[bytes, list[bytes]]
    ) -> bytes:
        persistent = self._persistent
        self._remaining = None
        if not (self._method == b"HEAD" or code < 200 or code in _BODYLESS_CODES):
            lengths = raw.get(b"content-length")
            if lengths is not None:
                value = lengths[-1]
                if len(lengths) == 1 and value.isdigit() and len(value) < 20:
                    self._remaining = int(value)
                else:
                    persistent = False
            elif b"transfer-encoding" in raw:
                persistent = False
            elif self._version == b"HTTP/1.1":
                self._chunked = True
                raw[b"transfer-encoding"] = [b"chunked"]
            else:
                persistent = False
        connection = raw.get(b"connection")
        if connection is not None:
            if any(b"close" in value.lower() for value in connection):
                persistent = False
        elif code >= 200:
            if not persistent:
                raw[b"connection"] = [b"close"]
            elif self._version == b"HTTP/1.0":
                raw[b"connection"] = [b"keep-alive"]
        if code >= 200:
            self._persistent = persistent
        statusLine = _statusLines.get((code, reason))
        if statusLine is None:
            statusLine = self._statusLine(code, reason)
        prefixes = _fieldPrefixes
        return b"\r\n".join(
            [
                statusLine,
                *[
                    (prefixes.get(name) or _fieldPrefix(name)) + value
                    for name, values in raw.items()
                    for value in values
                ],
                b"",
                b"",
            ]
        )

    def write(self, data: bytes) -> None:
        """
        Send response body bytes (framed as chunks when the response is
        chunked), preceded by the head if it is still pending.

        :param data: the bytes; empty to flush the head only.
        """
        remaining = self._remaining
        if remaining is not None:
            if len(data) > remaining:
                # Bytes beyond the declared Content-Length would be read
                # as the next response: drop them and end the connection.
                _log.warn(
                    "Response body longer than its Content-Length; "
                    "{extra} bytes dropped",
                    extra=len(data) - remaining,
                )
                data = data[:remaining]
                self._persistent = False
            self._remaining = remaining - len(data)
        elif self._chunked and data:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        head = self._head
        if head is not None:
            self._head = None
            data = head + data
        if data and self._state != _CLOSED:
            self.transport.write(data)

    def writeSequence(self, data: Any) -> None:
        """
        Send several pieces of the body.

        :param data: an iterable of bytes.
        """
        for piece in data:
            self.write(piece)

    def requestDone(self, request: Any) -> None:
        """
        The current response is complete: send its end, log it, then read
        the next request or close the connection.

        :param request: the finished request.
        """
        if request is not self._request:
            return
        tail = _parser.LAST_CHUNK if self._chunked else b""
        if self._remaining:
            # Shorter than its Content-Length: only closing tells the client.
            self._persistent = False
        self._remaining = None
        head = self._head
        if head is not None:
            self._head = None
            tail = head + tail
        if tail and self._state != _CLOSED:
            self.transport.write(tail)
        if self._chunked:
            self._chunked = False
        self._request = None
        factory = self.factory
        if factory is not None:
            try:
                factory.log(request)
            except Exception:
                _log.failure("Error writing the access log")
        if self._state in (_CLOSED, _SWITCHED):
            return
        if self._state == _BODY:
            # Answered before its body was read: the rest of the body cannot
            # be told from the next request without reading it; close, but
            # let the client finish sending first.
            self._closeLingering()
            return
        if not self._persistent:
            self._closeConnection()
            return
        self._state = _HEAD
        if self._waiting or self._waitingHeads:
            self._takeWaiting()
        self._setDeadline(1, self.timeOut)
        if self._paused:
            self._paused = False
            self._resumeTransport()
        if self._buffer and not self._inLoop:
            self._process()

    def getPeer(self) -> Any:
        """
        :return: the client's address.
        """
        return self.transport.getPeer()

    def getHost(self) -> Any:
        """
        :return: the server's address.
        """
        return self.transport.getHost()

    def isSecure(self) -> bool:
        """
        :return: whether the transport is TLS.
        """
        return interfaces.ISSLTransport.providedBy(self.transport)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Let ``producer`` write the response through the transport, with the
        transport's flow control.  A push producer paused by the transport
        for ``sendTimeout`` seconds (the client stopped reading) aborts the
        connection.
        """
        self._producer = producer
        if streaming:
            producer = _StallWatch(self, producer)
        self.transport.registerProducer(producer, streaming)

    def _sendStalled(self) -> None:
        if self.sendTimeout is None or self._lostConnection:
            return
        timer = self._sendTimer
        if timer is None or not timer.active():
            self._sendTimer = self._reactor.callLater(
                self.sendTimeout, self._sendTimedOut
            )

    def _sendResumed(self) -> None:
        timer = self._sendTimer
        self._sendTimer = None
        if timer is not None and timer.active():
            timer.cancel()

    def _sendTimedOut(self) -> None:
        self._sendTimer = None
        _log.info(
            "Aborting a connection whose client stopped reading for {seconds} s",
            seconds=self.sendTimeout,
        )
        self._state = _CLOSED
        abort = getattr(self.transport, "abortConnection", None)
        if abort is not None:
            abort()
        else:
            self.transport.loseConnection()

    def unregisterProducer(self) -> None:
        """
        Forget the producer.
        """
        if self._producer is None:
            return
        self._producer = None
        self._sendResumed()
        self.transport.unregisterProducer()

    def loseConnection(self) -> None:
        """
        Close the connection after what was written is sent; abort it if
        that stalls for ``abortTimeout`` seconds.
        """
        self._closeConnection()

    def pauseProducing(self) -> None:
        """
        Stop reading from the transport.
        """
        self._pauseTransport()

    def resumeProducing(self) -> None:
        """
        Read from the transport again.
        """
        self._resumeTransport()

    def stopProducing(self) -> None:
        """
        Close the connection.
        """
        self._closeConnection()

    # -- closing -------------------------------------------------------------

    def _closeConnection(self) -> None:
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        self._buffer = b""
        self._waiting = ()
        self._cancelTimer()
        transport = self.transport
        if self._paused:
            self._paused = False
            self._resumeTransport()
        transport.loseConnection()
        if self.abortTimeout is not None and not self._lostConnection:
            self._abortCall = self._reactor.callLater(self.abortTimeout, self._abort)

    def _closeLingering(self) -> None:
        """
        Close after answering a request whose body was not (all) read: the
        client may still be sending it, and closing a socket with unread
        input makes the kernel reset the connection, which can destroy the
        answer before the client reads it (RFC 9112 section 9.6).  So our
        side is shut down first and what still arrives is read and dropped
        for ``lingerTimeout`` seconds before the connection is closed.
        """
        transport = self.transport
        halfClose = getattr(transport, "loseWriteConnection", None)
        if self.lingerTimeout is None or halfClose is None or self._lostConnection:
            self._closeConnection()
            return
        if self._state == _CLOSED:
            return
        self._state = _CLOSED
        self._buffer = b""
        self._waiting = ()
        self._cancelTimer()
        if self._paused:
            self._paused = False
            self._resumeTransport()
        halfClose()
        self._lingerCall = self._reactor.callLater(self.lingerTimeout, self._lingerOver)

    def _lingerOver(self) -> None:
        self._lingerCall = None
        if self._lostConnection:
            return
        self.transport.loseConnection()
        if self.abortTimeout is not None:
            self._abortCall = self._reactor.callLater(self.abortTimeout, self._abort)

    def _abort(self) -> None:
        self._abortCall = None
        if not self._lostConnection:
            abort = getattr(self.transport, "abortConnection", None)
            if abort is not None:
                abort()

    def _respondError(self, status: int, message: str) -> None:
        if self._state == _CLOSED:
            return
        phrase = RESPONSES.get(status, b"Error")
        body = (
            b"<html><head><title>%d %s</title></head>"
            b"<body><h1>%s</h1><p>%s</p></body></html>"
            % (
                status,
                phrase,
                phrase,
                _htmlEscape(message).encode("utf-8"),
            )
        )
        request = self._request
        self._request = None
        self._head = None
        if request is None or not request.startedWriting:
            self.transport.write(
                b"HTTP/1.1 %d %s\r\nContent-Type: text/html; charset=utf-8\r\n"
                b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                % (status, phrase, len(body), body)
            )
        if status == 413:
            # The client may still be sending the body it was refused.
            self._closeLingering()
        else:
            self._closeConnection()
        if request is not None and not request.finished:
            request.connectionLost(
                Failure(ConnectionDone(f"the request was refused: {message}"))
            )

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        The connection closed: tell an unfinished request and stop timers.
        """
        if self._switchedTo is not None:
            self._switchedTo.connectionLost(reason)
            return
        self._lostConnection = True
        self._state = _CLOSED
        self._buffer = b""
        self._cancelTimer()
        self._sendResumed()
        if self._abortCall is not None and self._abortCall.active():
            self._abortCall.cancel()
        self._abortCall = None
        if self._lingerCall is not None and self._lingerCall.active():
            self._lingerCall.cancel()
        self._lingerCall = None
        request = self._request
        self._request = None
        if request is not None and not request.finished:
            request.connectionLost(reason)

    # -- protocol switching ------------------------------------------------

    def _switchProtocol(
        self,
        protocol: Any,
        data: bytes | None = None,
        beforeData: Callable[[], None] | None = None,
    ) -> None:
        """
        Hand this connection to ``protocol``, for example after a
        ``101 Switching Protocols`` response head was written.

        Any pending response head is sent first.  The channel stops parsing
        HTTP, calls ``protocol.makeConnection(transport)``, then
        ``beforeData()`` if given, then ``protocol.dataReceived`` with the
        bytes already received after the current request's head (and
        ``data`` if given); later ``dataReceived`` and ``connectionLost``
        calls are forwarded to ``protocol``.  The current request, if any,
        is considered finished.

        :param protocol: an ``IProtocol``.
        :param data: bytes to deliver in addition to those buffered.
        :param beforeData: called after ``makeConnection`` and before any
            data is delivered.
        """
        head = self._head
        if head is not None:
            self._head = None
            self.transport.write(head)
        self._takeWaiting()
        leftover = self._buffer
        if data:
            leftover += data
        self._buffer = b""
        self._state = _SWITCHED
        self._cancelTimer()
        request = self._request
        self._request = None
        if request is not None and not request.finished:
            request.finished = True
            request._notify(None)
        self._switchedTo = protocol
        if self._paused:
            self._paused = False
            self._resumeTransport()
        protocol.makeConnection(self.transport)
        if beforeData is not None:
            beforeData()
        if leftover:
            protocol.dataReceived(leftover)

    def _upgradeH2C(self, h2: Any, head: _parser.RequestHead, settings: bytes) -> None:
        self.transport.write(
            b"HTTP/1.1 101 Switching Protocols\r\n"
            b"Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
        )
        connection = h2(self.factory, self._reactor)
        self._switchProtocol(
            connection,
            beforeData=lambda: connection.upgradeFrom(
                settings, head.method, head.target, head.fields
            ),
        )


@implementer(interfaces.IPushProducer)
class _StallWatch:
    """
    Stands for a response's push producer towards the transport, so the
    channel knows when the client stops reading.
    """

    def __init__(self, channel: HTTPChannel, producer: Any) -> None:
        self._channel = channel
        self._producer = producer

    def pauseProducing(self) -> None:
        self._channel._sendStalled()
        self._producer.pauseProducing()

    def resumeProducing(self) -> None:
        self._channel._sendResumed()
        self._producer.resumeProducing()

    def stopProducing(self) -> None:
        self._channel._sendResumed()
        self._producer.stopProducing()


_MISSING = object()
_FACTORY_SETTINGS: Final = (
    "requestFactory",
    "maxRequestLineLength",
    "maxHeaderSize",
    "maxHeaderFieldSize",
    "maxHeaders",
    "maxRequestBody",
    "maxPipelinedRequests",
    "maxRequestsPerConnection",
    "maxConnectionLifetime",
    "maxFormFields",
    "timeOut",
    "headerTimeout",
    "bodyTimeout",
    "abortTimeout",
    "sendTimeout",
    "lingerTimeout",
    "h2cUpgrade",
)


_LOG_ESCAPES = {c: f"\\x{c:02x}" for c in range(256) if c < 0x20 or c >= 0x7F}
_LOG_ESCAPES[ord('"')] = '\\"'
_LOG_ESCAPES[ord("\\")] = "\\\\"


def _logText(value: bytes | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return value.translate(_LOG_ESCAPES)


@provider(iweb.IAccessLogFormatter)
def combinedLogFormatter(timestamp: str, request: Any) -> str:
    """
    Format an access log line in the combined log format::

        127.0.0.1 - - [21/Nov/2026:02:00:00 +0000] "GET / HTTP/1.1" 200 12 "-" "curl/8"

    :param timestamp: the bracketed time of the request.
    :param request: the finished request.
    :return: the line, without a newline.
    """
    address = request.getClientAddress()
    host = getattr(address, "host", None) or "-"
    return _formatLine(host, timestamp, request)


def _formatLine(host: str, timestamp: str, request: Any) -> str:
    headers = request.requestHeaders
    referrer = headers.getRawHeader(b"referer")
    agent = headers.getRawHeader(b"user-agent")
    line = " ".join(
        _logText(part) for part in (request.method, request.uri, request.clientproto)
    )
    length = request.sentLength or "-"
    return (
        f'{_logText(host)} - - {timestamp} "{line}" {request.code} {length} '
        f'"{_logText(referrer)}" "{_logText(agent)}"'
    )


@provider(iweb.IAccessLogFormatter)
def proxiedLogFormatter(timestamp: str, request: Any) -> str:
    """
    Like ``combinedLogFormatter``, but the client address is the last one in
    ``X-Forwarded-For`` (for servers behind a reverse proxy).

    :param timestamp: the bracketed time of the request.
    :param request: the finished request.
    :return: the line, without a newline.
    """
    forwarded = request.requestHeaders.getRawHeader(b"x-forwarded-for")
    host = forwarded.split(b",")[-1].strip().decode("latin-1") if forwarded else "-"
    return _formatLine(host, timestamp, request)


class HTTPFactory(ServerFactory):
    """
    Builds an ``HTTPChannel`` per connection and writes the access log.

    :param logPath: a file to append access log lines to; without one, each
        line is emitted as an event in the log namespace
        ``torsion.web.access`` (field ``line``).
    :param timeout: keep-alive idle time between requests, seconds
        (``None``: no limit).
    :param logFormatter: makes a line from ``(timestamp, request)``;
        ``combinedLogFormatter`` by default.
    :param reactor: the reactor for timers; the global one by default.
    :param maxRequestLineLength: longest request line (414).
    :param maxHeaderSize: longest whole request head (431).
    :param maxHeaderFieldSize: longest header field (431).
    :param maxHeaders: most header fields (431).
    :param maxRequestBody: largest request body (413), ``None`` for no limit.
    :param maxPipelinedRequests: pipelined requests held before reading
        pauses.
    :param maxRequestsPerConnection: requests served on one connection
        before it is closed.
    :param maxConnectionLifetime: seconds after which a connection is
        closed once its current response ends (``None``: no limit).
    :param maxFormFields: most query or form fields (400).
    :param headerTimeout: seconds for a whole request head to arrive.
    :param bodyTimeout: seconds of silence allowed while reading a body.
    :param abortTimeout: seconds to wait for a closing connection before
        aborting it.
    :param sendTimeout: seconds a response producer may stay paused because
        the client stopped reading before the connection is aborted.
    :param lingerTimeout: after answering a request whose body was not read
        (413, or a resource that answered early), seconds to keep reading
        and dropping what the client still sends before closing, so the
        answer is not lost to a connection reset (``None``: close at once).
    :param h2cUpgrade: allow cleartext HTTP/2 when the ``h2`` package is
        installed: the ``Upgrade: h2c`` request, and connections opening
        with the HTTP/2 preface ("prior knowledge").
    """

    protocol = HTTPChannel
    requestFactory: Callable[..., Any] = Request
    logPath: str | None = None
    #: Where access-log dates come from (seconds since the epoch); tests
    #: may replace it.
    wallClock: Callable[[], float] = staticmethod(time.time)

    def __init__(
        self,
        logPath: str | None = None,
        timeout: float | None = 75,
        logFormatter: Callable[[str, Any], str] | None = None,
        reactor: Any = None,
        *,
        maxRequestLineLength: int = 8192,
        maxHeaderSize: int = 16384,
        maxHeaderFieldSize: int = 8192,
        maxHeaders: int = 500,
        maxRequestBody: int | None = 1024 * 1024,
        maxPipelinedRequests: int = 16,
        maxRequestsPerConnection: int = 1000,
        maxConnectionLifetime: float | None = 3600,
        maxFormFields: int = 1000,
        headerTimeout: float | None = 60,
        bodyTimeout: float | None = 60,
        abortTimeout: float | None = 15,
        sendTimeout: float | None = 60,
        lingerTimeout: float | None = 2,
        h2cUpgrade: bool = True,
    ) -> None:
        if reactor is None:
            from torsion.internet import reactor as _reactor

            reactor = _reactor
        self._reactor = reactor
        self.logPath = logPath
        self.timeOut = timeout
        self._logFormatter = logFormatter or combinedLogFormatter
        self._logFile: IO[str] | None = None
        self.maxRequestLineLength = maxRequestLineLength
        self.maxHeaderSize = maxHeaderSize
        self.maxHeaderFieldSize = maxHeaderFieldSize
        self.maxHeaders = maxHeaders
        self.maxRequestBody = maxRequestBody
        self.maxPipelinedRequests = maxPipelinedRequests
        self.maxRequestsPerConnection = maxRequestsPerConnection
        self.maxConnectionLifetime = maxConnectionLifetime
        self.maxFormFields = maxFormFields
        self.headerTimeout = headerTimeout
        self.bodyTimeout = bodyTimeout
        self.abortTimeout = abortTimeout
        self.sendTimeout = sendTimeout
        self.lingerTimeout = lingerTimeout
        self.h2cUpgrade = h2cUpgrade
        self._limitsCache: tuple[tuple[int, ...], _parser.ParserLimits] | None = None

    def _parserLimits(self) -> _parser.ParserLimits:
        key = (
            self.maxRequestLineLength,
            self.maxHeaderFieldSize,
            self.maxHeaderSize,
            self.maxHeaders,
        )
        cached = self._limitsCache
        if cached is None or cached[0] != key:
            cached = self._limitsCache = (
                key,
                _parser.ParserLimits(
                    maxLineLength=key[0],
                    maxFieldSize=key[1],
                    maxHeadSize=key[2],
                    maxFields=key[3],
                ),
            )
        return cached[1]

    def buildProtocol(self, addr: Any) -> Any:
        """
        :return: a new channel for a connection from ``addr``.
        """
        channel = self.protocol()
        channel.factory = self
        return channel

    def startFactory(self) -> None:
        """
        Open the access log file, if any.
        """
        if self.logPath is not None and self._logFile is None:
            self._logFile = open(self.logPath, "a", encoding="utf-8")  # noqa: SIM115

    def stopFactory(self) -> None:
        """
        Close the access log file, if any.
        """
        if self._logFile is not None:
            self._logFile.close()
            self._logFile = None

    @property
    def _logDateTime(self) -> str:
        """
        The current wall-clock time, bracketed for a log line; computed once
        a second.  (The reactor's clock is monotonic, not a date.)
        """
        _logDates.update(self.wallClock())
        return _logDates.logDate

    def log(self, request: Any) -> None:
        """
        Write the access log line for a finished request.

        :param request: the request.
        """
        line = self._logFormatter(self._logDateTime, request)
        if self._logFile is not None:
            self._logFile.write(line + "\n")
            self._logFile.flush()
        else:
            _accessLog.info("{line}", line=line)
