"""
HTTP proxying: a reverse proxy resource and a forward proxy server.

``ReverseProxyResource(host, port, path)`` forwards every request reaching
it (and, through its children, every request below it) to an upstream HTTP
server, and relays the answer::

    from torsion.internet import reactor
    from torsion.web import proxy, server

    root = proxy.ReverseProxyResource("127.0.0.1", 8000, b"")
    reactor.listenTCP(8080, server.Site(root))
    reactor.run()

A request for ``/a/b?x=1`` below a resource made with path ``b"/app"`` is
sent upstream as ``/app/a/b?x=1``.  Headers are passed on except the
hop-by-hop ones (``Connection`` and the fields it names, ``Keep-Alive``,
``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade`` and ``Proxy-*``);
``Host`` becomes the upstream's, and ``X-Forwarded-For`` (appended to),
``X-Forwarded-Proto`` and ``X-Forwarded-Host`` tell the upstream about the
original request.  The request body is sent upstream in pieces and the
response body relayed as it arrives, paced by the slower side: while the
client does not read, the upstream connection is not read either.

When the upstream cannot be reached or sends something that is not HTTP,
the client gets ``502 Bad Gateway``; when it does not answer within
``timeout`` seconds, ``504 Gateway Timeout``.  Upstream responses are parsed
with the same limits as requests (``torsion.web._parser``).

``Proxy`` is an ``HTTPChannel`` for a forward proxy: clients send requests
with absolute targets (``GET http://example.com/ HTTP/1.1``), and
``ProxyRequest`` fetches them.  ``CONNECT`` is not supported (501).
"""

from __future__ import annotations

from typing import IO, Any
from urllib.parse import quote as _quote
from urllib.parse import urlsplit

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.interfaces import IPushProducer
from torsion.internet.protocol import ClientFactory, Protocol, connectionDone
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web import _parser
from torsion.web.http_headers import Headers
from torsion.web.resource import NOT_DONE_YET, Resource

__all__ = [
    "DEFAULT_TIMEOUT",
    "HOP_BY_HOP_HEADERS",
    "Proxy",
    "ProxyClient",
    "ProxyClientFactory",
    "ProxyRequest",
    "ReverseProxyResource",
]

_log = Logger(namespace="torsion.web.proxy")

#: Seconds to wait for the upstream to accept the connection, and then for
#: the head of its response, before answering ``504 Gateway Timeout``.
DEFAULT_TIMEOUT = 60.0

#: Header fields that concern one connection only and are never forwarded
#: (RFC 9110 §7.6.1), besides those named by ``Connection`` and any
#: ``Proxy-*`` field.
HOP_BY_HOP_HEADERS = frozenset(
    [
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"proxy-connection",
        b"proxy-authenticate",
        b"proxy-authorization",
    ]
)

#: How many bytes of the request body are sent upstream at a time.
_BODY_PIECE = 65536


def _hopByHop(headers: Headers) -> set[bytes]:
    names = set(HOP_BY_HOP_HEADERS)
    for value in headers.getRawHeaders(b"connection", []):
        for token in value.split(b","):
            token = token.strip().lower()
            if token:
                names.add(token)
    return names


def _endToEnd(headers: Headers, drop: frozenset[bytes] = frozenset()) -> Headers:
    """
    A copy of ``headers`` without hop-by-hop fields, nor those in ``drop``.
    """
    skip = _hopByHop(headers) | drop
    kept = Headers()
    for name, values in headers.getAllRawHeaders():
        lower = name.lower()
        if lower in skip or lower.startswith(b"proxy-"):
            continue
        kept.setRawHeaders(lower, list(values))
    return kept


def _errorPage(request: Any, code: int, reason: bytes, detail: str) -> None:
    from html import escape

    body = (
        f"<html><head><title>{code} {reason.decode('ascii')}</title></head>"
        f"<body><h1>{reason.decode('ascii')}</h1><p>{escape(detail)}</p>"
        "</body></html>"
    ).encode()
    request.setResponseCode(code, reason)
    request.responseHeaders.setRawHeaders(
        b"content-type", [b"text/html; charset=utf-8"]
    )
    request.responseHeaders.setRawHeaders(b"content-length", [b"%d" % len(body)])
    request.write(body)
    request.finish()


def _bodyLength(content: IO[bytes] | None) -> int:
    if content is None:
        return 0
    try:
        here = content.tell()
        end = content.seek(0, 2)
        content.seek(here)
        return end - here
    except (OSError, ValueError, AttributeError):
        return 0


@implementer(IPushProducer)
class _BodySender:
    """
    Writes a request body from a file to the upstream transport, a piece at
    a time, pausing while the transport's buffer is full.
    """

    def __init__(self, content: IO[bytes], remaining: int, transport: Any) -> None:
        self.content = content
        self.remaining = remaining
        self.transport = transport
        self.paused = False
        self.done = False

    def start(self) -> None:
        self.transport.registerProducer(self, True)
        self._send()

    def _send(self) -> None:
        while not self.paused and not self.done:
            piece = self.content.read(min(_BODY_PIECE, self.remaining))
            if not piece:
                self._finish()
                return
            self.remaining -= len(piece)
            # A full transport calls pauseProducing from within write.
            self.transport.write(piece)
            if self.remaining <= 0:
                self._finish()

    def _finish(self) -> None:
        if not self.done:
            self.done = True
            self.transport.unregisterProducer()

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        self._send()

    def stopProducing(self) -> None:
        self.done = True


class ProxyClient(Protocol):
    """
    Sends one request to the upstream server and relays its response to
    ``father``, the request being proxied.

    :ivar command: the method, bytes.
    :ivar rest: the request target sent upstream, bytes.
    :ivar version: the client's HTTP version, bytes (the upstream request
        is always HTTP/1.1 with ``Connection: close``).
    :ivar headers: the headers to send, a ``dict`` of bytes or a
        ``Headers``.
    :ivar data: the body, bytes or a binary file read from its current
        position.
    :ivar father: the ``IRequest`` the response goes to.
    """

    _finished = False
    _registered = False
    _timeoutCall: Any = None

    def __init__(
        self,
        command: bytes,
        rest: bytes,
        version: bytes,
        headers: Any,
        data: bytes | IO[bytes] | None,
        father: Any,
    ) -> None:
        self.command = command
        self.rest = rest
        self.version = version
        self.headers = headers
        self.data = data
        self.father = father
        self._buffer = b""
        self._head: _parser.ResponseHead | None = None
        self._decoder: Any = None
        self.limits = _parser.DEFAULT_LIMITS

    # -- sending the request -------------------------------------------------

    def _requestHeaders(self, bodyLength: int) -> list[tuple[bytes, bytes]]:
        if isinstance(self.headers, Headers):
            source = self.headers
        else:
            source = Headers()
            for name, value in dict(self.headers).items():
                source.setRawHeaders(name, [value])
        headers = _endToEnd(source, frozenset([b"content-length", b"expect", b"host"]))
        fields: list[tuple[bytes, bytes]] = []
        host = source.getRawHeaders(b"host")
        if host:
            fields.append((b"Host", host[-1]))
        for name, values in headers.getAllRawHeaders():
            for value in values:
                fields.append((name, value))
        if bodyLength or self.command in (b"POST", b"PUT", b"PATCH"):
            fields.append((b"Content-Length", b"%d" % bodyLength))
        fields.append((b"Connection", b"close"))
        return fields

    def connectionMade(self) -> None:
        """
        Send the request, then the body; start waiting for the response.
        """
        factory = getattr(self, "factory", None)
        self.limits = getattr(factory, "limits", None) or _parser.DEFAULT_LIMITS
        data = self.data
        content: IO[bytes] | None
        if isinstance(data, bytes | bytearray):
            content = None
            length = len(data)
        else:
            content = data
            length = _bodyLength(content)
        try:
            head = _parser.formatRequestHead(
                self.command, self.rest, self._requestHeaders(length)
            )
        except ValueError as e:
            self._fail(502, b"Bad Gateway", f"cannot forward this request: {e}")
            self.transport.abortConnection()
            return
        self.transport.write(head)
        if content is None:
            if data:
                self.transport.write(bytes(data))  # type: ignore[arg-type]
        elif length:
            _BodySender(content, length, self.transport).start()
        timeout = getattr(factory, "timeout", None)
        reactor = getattr(factory, "reactor", None)
        if timeout is not None and reactor is not None:
            self._timeoutCall = reactor.callLater(timeout, self._timedOut)
        self.father.notifyFinish().addErrback(self._fatherGone)

    # -- receiving the response ----------------------------------------------

    def dataReceived(self, data: bytes) -> None:
        """
        Parse the response and relay it.

        :param data: bytes from the upstream.
        """
        if self._finished:
            return
        try:
            self._receive(data)
        except _parser.HTTPParseError as e:
            self._malformed(str(e))

    def _receive(self, data: bytes) -> None:
        while data and not self._finished:
            if self._decoder is None:
                searchFrom = max(0, len(self._buffer) - 3)
                self._buffer += data
                data = b""
                parsed = _parser.parseResponseHead(
                    self._buffer, self.limits, searchFrom
                )
                if parsed is None:
                    return
                head, end = parsed
                data, self._buffer = self._buffer[end:], b""
                if head.status < 200:
                    if head.status == 101:
                        raise _parser.HTTPParseError(
                            502, "the upstream switched protocols unasked"
                        )
                    continue
                self._cancelTimeout()
                length = _parser.responseBodyLength(head, self.command, self.limits)
                self._head = head
                self._decoder = _parser.bodyDecoder(length, self.limits)
                self._relayHead(head)
                if length == 0:
                    self._complete()
                    return
                continue
            piece, _ = self._decoder.feed(data)
            data = b""
            if piece:
                self.handleResponsePart(piece)
            if self._decoder.done:
                self._complete()
            elif piece and not self._registered and not self._finished:
                # While the client is not reading, do not read from the
                # upstream either.  Registering after the first piece keeps
                # the head and the start of the body in one segment
                # (registering sends a pending head at once, alone).
                self._registered = True
                self.father.registerProducer(self.transport, True)

    def _relayHead(self, head: _parser.ResponseHead) -> None:
        self.handleStatus(
            b"HTTP/1.%d" % head.version[1], b"%d" % head.status, head.reason
        )
        received = Headers._fromParsed(head.fields)
        for name, values in _endToEnd(received).getAllRawHeaders():
            for value in values:
                self.handleHeader(name, value)
        self.handleEndHeaders()

    def _complete(self) -> None:
        self.handleResponseEnd()
        self.transport.loseConnection()

    # -- the hooks (as in Twisted's ProxyClient) ------------------------------

    def handleStatus(self, version: bytes, code: bytes, message: bytes) -> None:
        """
        Pass the upstream's status to the client.

        :param version: the upstream's HTTP version.
        :param code: the status code, as ASCII digits.
        :param message: the reason phrase.
        """
        self.father.setResponseCode(int(code), message)

    def handleHeader(self, key: bytes, value: bytes) -> None:
        """
        Pass one end-to-end response header to the client.

        :param key: the name.
        :param value: the value.
        """
        self.father.responseHeaders.addRawHeader(key, value)

    def handleEndHeaders(self) -> None:
        """
        Called once every header has been handled.
        """

    def handleResponsePart(self, buffer: bytes) -> None:
        """
        Pass a piece of the body to the client.

        :param buffer: body bytes.
        """
        self.father.write(buffer)

    def handleResponseEnd(self) -> None:
        """
        The whole response was relayed: finish the client's request.
        """
        if self._finished:
            return
        self._finished = True
        self._cancelTimeout()
        self.father.unregisterProducer()
        self.father.finish()

    # -- things going wrong ----------------------------------------------------

    def _cancelTimeout(self) -> None:
        call, self._timeoutCall = self._timeoutCall, None
        if call is not None and call.active():
            call.cancel()

    def _fail(self, code: int, reason: bytes, detail: str) -> None:
        if self._finished:
            return
        self._finished = True
        self._cancelTimeout()
        self.father.unregisterProducer()
        if self._head is None:
            _errorPage(self.father, code, reason, detail)
        else:
            # Part of the response is on its way: all that can be done is
            # to cut it short so the client sees it is incomplete.
            loseConnection = getattr(self.father, "loseConnection", None)
            if loseConnection is not None:
                loseConnection()
            else:
                self.father.channel.transport.loseConnection()

    def _malformed(self, why: str) -> None:
        _log.warn("Upstream sent a malformed response: {why}", why=why)
        self._fail(
            502, b"Bad Gateway", f"The upstream server's response was invalid: {why}"
        )
        self.transport.abortConnection()

    def _timedOut(self) -> None:
        self._timeoutCall = None
        self._fail(
            504, b"Gateway Timeout", "The upstream server did not answer in time."
        )
        self.transport.abortConnection()

    def _fatherGone(self, reason: Failure) -> None:
        # The client went away: stop talking to the upstream.
        self._finished = True
        self._cancelTimeout()
        self.transport.abortConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        The upstream connection closed: a body delimited by the close ends
        here; anything else unfinished is a broken response.

        :param reason: why it closed.
        """
        self._cancelTimeout()
        if self._finished:
            return
        decoder = self._decoder
        if isinstance(decoder, _parser.UntilCloseDecoder):
            decoder.close()
            self.handleResponseEnd()
            return
        self._fail(
            502, b"Bad Gateway", "The upstream server closed the connection early."
        )


class ProxyClientFactory(ClientFactory):
    """
    Makes the ``ProxyClient`` for one proxied request, and answers the
    client when the upstream cannot be reached: ``504`` after a connection
    timeout, ``502`` otherwise.

    :ivar timeout: seconds to wait for the response head (``None``: no
        limit).
    :ivar reactor: the reactor timing it.
    :ivar limits: the ``ParserLimits`` upstream responses must respect.
    """

    protocol = ProxyClient  # type: ignore[assignment]
    timeout: float | None = DEFAULT_TIMEOUT
    reactor: Any = None
    limits: _parser.ParserLimits = _parser.DEFAULT_LIMITS

    def __init__(
        self,
        command: bytes,
        rest: bytes,
        version: bytes,
        headers: Any,
        data: bytes | IO[bytes] | None,
        father: Any,
    ) -> None:
        """
        :param command: the method.
        :param rest: the request target to send upstream.
        :param version: the client's HTTP version.
        :param headers: the headers to send.
        :param data: the body, bytes or a binary file.
        :param father: the request the response goes to.
        """
        self.command = command
        self.rest = rest
        self.version = version
        self.headers = headers
        self.data = data
        self.father = father
        self.fatherGone = False
        father.notifyFinish().addErrback(self._fatherLost)

    def _fatherLost(self, reason: Failure) -> None:
        self.fatherGone = True

    def buildProtocol(self, addr: Any) -> ProxyClient:
        """
        :param addr: the upstream's address.
        :return: the ``ProxyClient``.
        """
        p = self.protocol(
            self.command, self.rest, self.version, self.headers, self.data, self.father
        )
        p.factory = self
        return p

    def clientConnectionFailed(self, connector: Any, reason: Failure) -> None:
        """
        Answer ``504`` if connecting timed out, ``502`` otherwise.

        :param connector: the connector.
        :param reason: why connecting failed.
        """
        if self.fatherGone:
            return
        if reason.check(error.TimeoutError):
            _errorPage(
                self.father,
                504,
                b"Gateway Timeout",
                "The upstream server could not be reached in time.",
            )
        else:
            _errorPage(
                self.father,
                502,
                b"Bad Gateway",
                f"The upstream server could not be reached: {reason.getErrorMessage()}",
            )


def _forwardedHeaders(request: Any) -> Headers:
    """
    The request's headers plus the ``X-Forwarded-*`` fields for this hop.
    """
    headers: Headers = request.requestHeaders.copy()
    client = request.getClientAddress()
    clientHost = getattr(client, "host", None)
    if clientHost:
        previous = headers.getRawHeaders(b"x-forwarded-for")
        chain = b", ".join(previous) + b", " if previous else b""
        headers.setRawHeaders(
            b"x-forwarded-for", [chain + str(clientHost).encode("ascii", "replace")]
        )
    headers.setRawHeaders(
        b"x-forwarded-proto", [b"https" if request.isSecure() else b"http"]
    )
    originalHost = request.requestHeaders.getRawHeaders(b"host")
    if originalHost:
        headers.setRawHeaders(b"x-forwarded-host", [originalHost[-1]])
    else:
        headers.removeHeader(b"x-forwarded-host")
    return headers


class ReverseProxyResource(Resource):
    """
    Forwards requests to an upstream HTTP server.

    :ivar host: the upstream's host name or address.
    :ivar port: its port.
    :ivar path: the upstream path this resource stands for, bytes
        (``b""`` for the root).
    :ivar timeout: seconds to wait for the upstream to accept the
        connection and then for the head of its response (``504``).
    """

    proxyClientFactoryClass = ProxyClientFactory

    def __init__(
        self,
        host: str,
        port: int,
        path: bytes,
        reactor: Any = None,
        timeout: float | None = DEFAULT_TIMEOUT,
    ) -> None:
        """
        :param host: the upstream's host name or address.
        :param port: its port.
        :param path: the upstream path this resource maps to, such as
            ``b"/app"`` or ``b""``.
        :param reactor: the reactor to connect with; the global one by
            default.
        :param timeout: seconds before answering ``504``; ``None`` waits
            forever.
        """
        super().__init__()
        if reactor is None:
            from torsion.internet import reactor as global_reactor

            reactor = global_reactor
        self.host = host
        self.port = port
        self.path = path
        self.reactor = reactor
        self.timeout = timeout

    def getChild(self, path: bytes, request: Any) -> ReverseProxyResource:
        """
        :param path: the next path segment (already percent-decoded).
        :param request: the request.
        :return: a proxy for the upstream path one segment deeper, of the
            same class and with the same ``proxyClientFactoryClass``.
        """
        child = type(self)(
            self.host,
            self.port,
            self.path + b"/" + _quote(path, safe=b"").encode("ascii"),
            self.reactor,
            self.timeout,
        )
        child.proxyClientFactoryClass = self.proxyClientFactoryClass
        return child

    def _hostHeader(self) -> bytes:
        host = self.host if ":" not in self.host else f"[{self.host}]"
        if self.port == 80:
            return host.encode("idna" if not host.isascii() else "ascii")
        return f"{host}:{self.port}".encode("ascii", "replace")

    def render(self, request: Any) -> Any:
        """
        Send ``request`` upstream.

        :param request: the request.
        :return: ``NOT_DONE_YET``.
        """
        headers = _forwardedHeaders(request)
        headers.setRawHeaders(b"host", [self._hostHeader()])
        query = request.uri.partition(b"?")[2] if b"?" in request.uri else b""
        rest = (self.path or b"/") + (b"?" + query if query else b"")
        content = request.content
        if content is not None and hasattr(content, "seek"):
            content.seek(0)
        factory = self.proxyClientFactoryClass(
            request.method, rest, request.clientproto, headers, content, request
        )
        factory.timeout = self.timeout
        factory.reactor = self.reactor
        kwargs: dict[str, Any] = {}
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        self.reactor.connectTCP(self.host, self.port, factory, **kwargs)
        return NOT_DONE_YET


def _httpBase(name: str) -> Any:
    # torsion.web.http imports the server machinery; reached lazily so that
    # the reverse proxy alone stays light to import.
    import importlib

    try:
        http = importlib.import_module("torsion.web.http")
    except ImportError:  # pragma: no cover - only while http is missing
        return object
    return getattr(http, name)


class ProxyRequest(_httpBase("Request")):  # type: ignore[misc]
    """
    A request to a forward proxy: its target is an absolute URL
    (``http://host[:port]/path``), fetched from that host and relayed.

    :ivar protocols: scheme to the factory class used for it.
    :ivar ports: scheme to its default port.
    """

    protocols: dict[bytes, type[ProxyClientFactory]] = {b"http": ProxyClientFactory}
    ports: dict[bytes, int] = {b"http": 80}
    timeout: float | None = DEFAULT_TIMEOUT

    def __init__(
        self, channel: Any, *args: Any, reactor: Any = None, **kwargs: Any
    ) -> None:
        """
        :param channel: the ``Proxy`` channel.
        :param reactor: the reactor to connect with; the global one by
            default.
        """
        super().__init__(channel, *args, **kwargs)
        if reactor is None:
            from torsion.internet import reactor as global_reactor

            reactor = global_reactor
        self.reactor = reactor

    def process(self) -> None:
        """
        Connect to the host the target names and send it the request.
        """
        if self.method == b"CONNECT":
            _errorPage(self, 501, b"Not Implemented", "CONNECT is not supported.")
            return
        target = self.uri.decode("iso-8859-1")
        try:
            parts = urlsplit(target)
            port = parts.port
        except ValueError:
            parts, port = urlsplit(""), None
        scheme = parts.scheme.lower().encode("ascii", "replace")
        host = parts.hostname
        if scheme not in self.protocols or not host:
            _errorPage(
                self,
                400,
                b"Bad Request",
                "A proxy request needs an absolute http:// target.",
            )
            return
        if port is None:
            port = self.ports[scheme]
        rest = (parts.path or "/") + ("?" + parts.query if parts.query else "")
        headers = _forwardedHeaders(self)
        netloc = parts.netloc.rpartition("@")[2]
        headers.setRawHeaders(b"host", [netloc.encode("iso-8859-1")])
        content = self.content
        if content is not None and hasattr(content, "seek"):
            content.seek(0)
        factory = self.protocols[scheme](
            self.method,
            rest.encode("iso-8859-1"),
            self.clientproto,
            headers,
            content,
            self,
        )
        factory.timeout = self.timeout
        factory.reactor = self.reactor
        kwargs: dict[str, Any] = {}
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        self.reactor.connectTCP(host, port, factory, **kwargs)


class Proxy(_httpBase("HTTPChannel")):  # type: ignore[misc]
    """
    An HTTP channel for a forward proxy: every request is a
    ``ProxyRequest``.  Serve it with ``HTTPFactory.forProtocol(Proxy)`` or a
    factory whose ``protocol`` is ``Proxy``.
    """

    requestFactory = ProxyRequest

    def connectionMade(self) -> None:
        """
        Set up the connection, keeping ``ProxyRequest`` as the request
        factory even when served by a plain ``HTTPFactory`` (whose own
        ``requestFactory`` would otherwise be used).
        """
        super().connectionMade()
        self.requestFactory = type(self).requestFactory
