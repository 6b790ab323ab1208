"""
The HTTP client.

``Agent`` makes HTTP and HTTPS requests and keeps connections in an
``HTTPConnectionPool``; wrappers add behaviour: ``RedirectAgent`` follows
redirects, ``ContentDecoderAgent`` decompresses, ``CookieAgent`` keeps
cookies, ``ProxyAgent`` goes through an HTTP proxy.  Bodies are sent by an
``IBodyProducer`` (``FileBodyProducer``) and read with ``readBody``::

    from torsion.internet import reactor
    from torsion.web.client import Agent, readBody

    async def main():
        agent = Agent(reactor)
        response = await agent.request(b"GET", b"https://example.com/")
        body = await readBody(response, maxSize=10_000_000)

For everyday use the short API (``get``, ``post``, ``request``, ...) does all
of that in one call, in the shape of the ``treq`` library::

    from torsion.web import client

    async def main():
        response = await client.get("https://example.com/", params={"q": "x"})
        print(response.code, await response.text())
"""

from __future__ import annotations

import json as _json
import os
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from http import cookiejar
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

from zope.interface import implementer

from torsion.internet import defer
from torsion.internet.defer import Deferred, fail, succeed
from torsion.internet.interfaces import IStreamClientEndpoint
from torsion.internet.protocol import Factory, Protocol, connectionDone
from torsion.internet.task import NotPaused, TaskDone
from torsion.python.failure import Failure
from torsion.web import _parser
from torsion.web._newclient import (
    HTTP11ClientProtocol,
    PotentialDataLoss,
    Request,
    RequestGenerationFailed,
    RequestNotSent,
    RequestTransmissionFailed,
    Response,
    ResponseDone,
    ResponseFailed,
    ResponseNeverReceived,
    _isIdempotent,
    _validateMethod,
)
from torsion.web.http_headers import Headers
from torsion.web.iweb import (
    UNKNOWN_LENGTH,
    IAgent,
    IAgentEndpointFactory,
    IBodyProducer,
    IPolicyForHTTPS,
    IResponse,
)

__all__ = [
    "URI",
    "Agent",
    "BrowserLikePolicyForHTTPS",
    "BrowserLikeRedirectAgent",
    "ClientResponse",
    "ContentDecoderAgent",
    "CookieAgent",
    "DecompressionTooLarge",
    "FileBodyProducer",
    "GzipDecoder",
    "HTTPConnectionPool",
    "InfiniteRedirection",
    "PartialDownloadError",
    "PotentialDataLoss",
    "ProxyAgent",
    "RedirectAgent",
    "RedirectBodyNotReplayable",
    "RedirectWithNoLocation",
    "RequestGenerationFailed",
    "RequestNotSent",
    "RequestTransmissionFailed",
    "ResponseDone",
    "ResponseFailed",
    "ResponseNeverReceived",
    "ResponseTooLarge",
    "SchemeNotSupported",
    "TunnelError",
    "closeDefaultPool",
    "delete",
    "get",
    "head",
    "patch",
    "post",
    "put",
    "readBody",
    "request",
]


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


def _ensureValidURI(uri: bytes) -> URI:
    if not isinstance(uri, bytes):
        raise TypeError(f"the URI must be bytes, not {type(uri).__name__}")
    parsed = URI.fromBytes(uri)
    if parsed.scheme not in (b"http", b"https"):
        raise SchemeNotSupported(f"unsupported scheme: {parsed.scheme!r}")
    return parsed


class SchemeNotSupported(ValueError):
    """
    The URI's scheme is neither ``http`` nor ``https``.
    """


# -- HTTPS policy ---------------------------------------------------------------


@implementer(IPolicyForHTTPS)
class BrowserLikePolicyForHTTPS:
    """
    Verify HTTPS servers as a browser does: the certificate chain must lead
    to a trusted authority and name the host.

    :param trustRoot: the authorities to trust (an ``IOpenSSLTrustRoot``,
        such as ``torsion.internet.ssl.trustRootFromCertificates([ca])``);
        the platform's by default.
    """

    def __init__(self, trustRoot: Any = None) -> None:
        self._trustRoot = trustRoot

    def creatorForNetloc(self, hostname: bytes, port: int) -> Any:
        """
        :param hostname: the server's host name (bytes).
        :param port: its port.
        :return: a TLS connection creator verifying that server.
        """
        from torsion.internet.ssl import optionsForClientTLS

        name = hostname.decode("idna") if isinstance(hostname, bytes) else hostname
        return optionsForClientTLS(name, trustRoot=self._trustRoot)


# -- connection pool ------------------------------------------------------------


class _HTTP11ClientFactory(Factory):
    def __init__(
        self,
        quiescentCallback: Callable[[HTTP11ClientProtocol], object],
        clock: Any,
    ) -> None:
        self._quiescentCallback = quiescentCallback
        self._clock = clock

    def buildProtocol(self, addr: Any) -> HTTP11ClientProtocol:
        return HTTP11ClientProtocol(self._quiescentCallback, self._clock)


class HTTPConnectionPool:
    """
    Keeps idle HTTP connections open to reuse them for later requests.

    :param reactor: the reactor (for the idle timeouts).
    :param persistent: whether to keep connections at all; when false every
        request uses a new connection and asks the server to close it.

    :ivar maxPersistentPerHost: the most idle connections kept per host
        (the oldest is closed to make room).
    :ivar cachedConnectionTimeout: seconds an idle connection is kept.
    :ivar retryAutomatically: whether an idempotent request without a body
        (or with a replayable body) sent on a reused connection is retried
        once on a new connection when the server had closed the old one
        before answering.
    """

    maxPersistentPerHost = 2
    cachedConnectionTimeout: float = 240
    retryAutomatically = True

    def __init__(self, reactor: Any, persistent: bool = True) -> None:
        self._reactor = reactor
        self.persistent = persistent
        self._connections: dict[Any, list[HTTP11ClientProtocol]] = {}
        self._timeouts: dict[HTTP11ClientProtocol, Any] = {}

    def getConnection(self, key: Any, endpoint: Any) -> Deferred[Any]:
        """
        :param key: identifies the destination (connections are reused only
            for the same key).
        :param endpoint: the endpoint to connect with when no idle
            connection is available.
        :return: a Deferred firing with a connection (an object with a
            ``request(request)`` method).
        """
        connections = self._connections.get(key)
        while connections:
            connection = connections.pop(0)
            if not connections:
                del self._connections[key]
            timeout = self._timeouts.pop(connection, None)
            if timeout is not None and timeout.active():
                timeout.cancel()
            if connection.state == "QUIESCENT":
                if self.retryAutomatically:
                    return succeed(
                        _RetryingConnection(
                            connection, lambda: self._newConnection(key, endpoint)
                        )
                    )
                return succeed(connection)
            connections = self._connections.get(key)
        return self._newConnection(key, endpoint)

    def _newConnection(self, key: Any, endpoint: Any) -> Deferred[Any]:
        def quiescent(connection: HTTP11ClientProtocol) -> None:
            self._putConnection(key, connection)

        factory = _HTTP11ClientFactory(quiescent, self._reactor)
        d: Deferred[Any] = endpoint.connect(factory)
        return d

    def _putConnection(self, key: Any, connection: HTTP11ClientProtocol) -> None:
        if not self.persistent:
            connection.transport.loseConnection()
            return
        connections = self._connections.setdefault(key, [])
        if len(connections) >= self.maxPersistentPerHost:
            oldest = connections.pop(0)
            self._cancelTimeout(oldest)
            oldest.transport.loseConnection()
        connections.append(connection)
        connection._onConnectionLost = lambda c: self._removeConnection(key, c)
        self._timeouts[connection] = self._reactor.callLater(
            self.cachedConnectionTimeout, self._expire, key, connection
        )

    def _cancelTimeout(self, connection: HTTP11ClientProtocol) -> None:
        timeout = self._timeouts.pop(connection, None)
        if timeout is not None and timeout.active():
            timeout.cancel()

    def _expire(self, key: Any, connection: HTTP11ClientProtocol) -> None:
        self._timeouts.pop(connection, None)
        self._removeConnection(key, connection)
        connection.transport.loseConnection()

    def _removeConnection(self, key: Any, connection: HTTP11ClientProtocol) -> None:
        connection._onConnectionLost = None
        self._cancelTimeout(connection)
        connections = self._connections.get(key)
        if connections and connection in connections:
            connections.remove(connection)
            if not connections:
                del self._connections[key]

    def closeCachedConnections(self) -> Deferred[None]:
        """
        Close every idle connection.

        :return: a Deferred firing once they have all closed.
        """
        waiting = []
        for connections in list(self._connections.values()):
            for connection in list(connections):
                self._cancelTimeout(connection)
                connection._onConnectionLost = None
                waiting.append(connection._closeIdle())
        self._connections.clear()
        return defer.gatherResults(waiting).addCallback(lambda _: None)


def _replayable(producer: Any) -> Any:
    """
    :return: a producer sending the same body again, or ``None`` if
        ``producer`` cannot.
    """
    if producer is None:
        return None
    again = getattr(producer, "_replay", None)
    return again() if again is not None else None


class _RetryingConnection:
    """
    A reused connection: a request failing because the server had closed it
    before answering is sent again, once, on a new connection.
    """

    def __init__(
        self,
        connection: HTTP11ClientProtocol,
        newConnection: Callable[[], Deferred[Any]],
    ) -> None:
        self._connection = connection
        self._newConnection = newConnection

    @property
    def state(self) -> str:
        return self._connection.state

    def _shouldRetry(self, request: Request, reason: Failure) -> Request | None:
        if not _isIdempotent(request.method):
            return None
        if not reason.check(RequestNotSent, ResponseNeverReceived):
            return None
        if isinstance(reason.value, ResponseNeverReceived) and any(
            r.check(defer.CancelledError) for r in reason.value.reasons
        ):
            return None
        if request.bodyProducer is None:
            return request
        again = _replayable(request.bodyProducer)
        if again is None:
            return None
        retry = Request._construct(
            request.method,
            request.uri,
            request.headers,
            again,
            request.persistent,
            request._parsedURI,
        )
        return retry

    def request(self, request: Request) -> Deferred[Response]:
        d = self._connection.request(request)

        def failed(reason: Failure) -> Any:
            retry = self._shouldRetry(request, reason)
            if retry is None:
                return reason
            return self._newConnection().addCallback(lambda c: c.request(retry))

        return d.addErrback(failed)


# -- Agent ----------------------------------------------------------------------


@implementer(IAgentEndpointFactory)
class _StandardEndpointFactory:
    def __init__(
        self,
        reactor: Any,
        contextFactory: Any,
        connectTimeout: float | None,
        bindAddress: Any,
    ) -> None:
        self._reactor = reactor
        self._policy = contextFactory
        self._connectTimeout = connectTimeout
        self._bindAddress = bindAddress

    def endpointForURI(self, uri: Any) -> Any:
        from torsion.internet.endpoints import HostnameEndpoint

        kwargs: dict[str, Any] = {}
        if self._connectTimeout is not None:
            kwargs["timeout"] = self._connectTimeout
        if self._bindAddress is not None:
            kwargs["bindAddress"] = self._bindAddress
        endpoint = HostnameEndpoint(self._reactor, uri.host, uri.port, **kwargs)
        if uri.scheme == b"https":
            from torsion.internet.endpoints import wrapClientTLS

            creator = self._policy.creatorForNetloc(uri.host, uri.port)
            return wrapClientTLS(creator, endpoint)
        if uri.scheme == b"http":
            return endpoint
        raise SchemeNotSupported(f"unsupported scheme: {uri.scheme!r}")


@implementer(IStreamClientEndpoint)
class _EndpointForURI:
    def __init__(self, endpointFactory: Any, uri: URI) -> None:
        self._endpointFactory = endpointFactory
        self._uri = uri

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        try:
            endpoint = self._endpointFactory.endpointForURI(self._uri)
        except Exception:
            return fail()
        d: Deferred[Any] = endpoint.connect(protocolFactory)
        return d


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


class _AgentBase:
    def __init__(self, reactor: Any, pool: HTTPConnectionPool | None) -> None:
        if reactor is None:
            reactor = _globalReactor()
        self._reactor = reactor
        if pool is None:
            pool = HTTPConnectionPool(reactor, persistent=False)
        self._pool = pool

    def _requestWithEndpoint(
        self,
        key: Any,
        endpoint: Any,
        method: bytes,
        parsedURI: URI,
        headers: Headers,
        bodyProducer: Any,
        target: bytes,
    ) -> Deferred[IResponse]:
        if not headers.hasHeader(b"host"):
            headers.addRawHeader(b"host", parsedURI._hostHeader())
        # Validate before connecting, so nothing is sent for a bad request.
        request = Request._construct(
            method, target, headers, bodyProducer, self._pool.persistent, parsedURI
        )
        d = self._pool.getConnection(key, endpoint)
        return d.addCallback(lambda connection: connection.request(request))


@implementer(IAgent)
class Agent(_AgentBase):
    """
    Makes HTTP and HTTPS requests.

    :param reactor: the reactor to connect with.
    :param contextFactory: the ``IPolicyForHTTPS`` deciding how HTTPS
        servers are verified (``BrowserLikePolicyForHTTPS()``: the platform's
        authorities and the host name).
    :param connectTimeout: seconds a connection attempt may take.
    :param bindAddress: a local ``(host, port)`` to connect from.
    :param pool: an ``HTTPConnectionPool`` to keep connections in; by
        default a non-persistent one (a new connection per request).
    """

    def __init__(
        self,
        reactor: Any,
        contextFactory: Any = None,
        connectTimeout: float | None = None,
        bindAddress: Any = None,
        pool: HTTPConnectionPool | None = None,
    ) -> None:
        if contextFactory is None:
            contextFactory = BrowserLikePolicyForHTTPS()
        _AgentBase.__init__(self, reactor, pool)
        self._endpointFactory: Any = _StandardEndpointFactory(
            self._reactor, contextFactory, connectTimeout, bindAddress
        )

    @classmethod
    def usingEndpointFactory(
        cls,
        reactor: Any,
        endpointFactory: Any,
        pool: HTTPConnectionPool | None = None,
    ) -> Agent:
        """
        An agent that connects through the endpoints ``endpointFactory``
        chooses (an ``IAgentEndpointFactory``; for Unix sockets, SOCKS, ...).

        :param reactor: the reactor.
        :param endpointFactory: gives the endpoint for each ``URI``.
        :param pool: the connection pool.
        :return: the agent.
        """
        agent = cls(reactor, pool=pool)
        agent._endpointFactory = endpointFactory
        return agent

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Any = None,
        bodyProducer: Any = None,
    ) -> Deferred[IResponse]:
        """
        Send a request.

        :param method: the method, such as ``b"GET"``.
        :param uri: the absolute URI, such as ``b"https://example.com/"``.
        :param headers: header fields to send (``Host`` is added).
        :param bodyProducer: an ``IBodyProducer`` for the body; its
            ``length`` may be ``UNKNOWN_LENGTH`` (sent chunked).  Set
            ``Expect: 100-continue`` in ``headers`` to wait for the server's
            go-ahead before sending it.
        :return: a Deferred firing with the ``IResponse`` once its head has
            arrived.
        :raises ValueError: (immediately) for a method that is not a token,
            a URI with whitespace or control characters, or an unsupported
            scheme.
        """
        _validateMethod(method)
        parsedURI = _ensureValidURI(uri)
        # The endpoint (and for HTTPS its TLS context) is only made when a
        # new connection is needed, not for every request on a kept one.
        endpoint = _EndpointForURI(self._endpointFactory, parsedURI)
        key = (parsedURI.scheme, parsedURI.host, parsedURI.port)
        return self._requestWithEndpoint(
            key,
            endpoint,
            method,
            parsedURI,
            _toHeaders(headers),
            bodyProducer,
            parsedURI.originForm,
        )


# -- proxies --------------------------------------------------------------------


class TunnelError(Exception):
    """
    The proxy refused to open a ``CONNECT`` tunnel.

    :ivar code: the proxy's status code (``None`` if its answer was
        unreadable).
    """

    def __init__(self, message: str, code: int | None = None) -> None:
        Exception.__init__(self, message)
        self.code = code


class _TunnelProtocol(Protocol):
    """
    Opens a ``CONNECT`` tunnel through a proxy, starts TLS in it, then
    carries the application protocol.
    """

    def __init__(
        self,
        authority: bytes,
        creator: Any,
        factory: Any,
        result: Deferred[Any] | None,
        proxyHeaders: Headers | None,
    ) -> None:
        self._authority = authority
        self._creator = creator
        self._factory = factory
        self._result = result
        self._buffer = b""
        self._app: Any = None
        self._proxyHeaders = proxyHeaders

    def connectionMade(self) -> None:
        fields = [(b"Host", self._authority)]
        if self._proxyHeaders is not None:
            fields += list(self._proxyHeaders._items())
        self.transport.write(
            _parser.formatRequestHead(b"CONNECT", self._authority, fields)
        )

    def dataReceived(self, data: bytes) -> None:
        if self._app is not None:
            self._app.dataReceived(data)
            return
        self._buffer += data
        try:
            parsed = _parser.parseResponseHead(self._buffer)
        except _parser.HTTPParseError as e:
            self._refuse(TunnelError(f"unreadable answer to CONNECT: {e}"))
            return
        if parsed is None:
            return
        head, end = parsed
        if not 200 <= head.status < 300:
            self._refuse(
                TunnelError(
                    f"the proxy refused the tunnel: {head.status} "
                    f"{head.reason.decode('latin-1')}",
                    head.status,
                )
            )
            return
        if end != len(self._buffer):
            self._refuse(TunnelError("the proxy sent data before TLS started"))
            return
        self._buffer = b""
        self.transport.startTLS(self._creator)
        self._app = self._factory.buildProtocol(self.transport.getPeer())
        self._app.makeConnection(self.transport)
        result, self._result = self._result, None
        if result is not None:
            result.callback(self._app)

    def _refuse(self, error: Exception) -> None:
        result, self._result = self._result, None
        self.transport.abortConnection()
        if result is not None:
            result.errback(error)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._app is not None:
            self._app.connectionLost(reason)
        result, self._result = self._result, None
        if result is not None:
            result.errback(reason)


@implementer(IStreamClientEndpoint)
class _TunnelEndpoint:
    def __init__(
        self,
        proxyEndpoint: Any,
        authority: bytes,
        creator: Any,
        proxyHeaders: Headers | None,
    ) -> None:
        self._proxyEndpoint = proxyEndpoint
        self._authority = authority
        self._creator = creator
        self._proxyHeaders = proxyHeaders

    def connect(self, protocolFactory: Any) -> Deferred[Any]:
        result: Deferred[Any] = Deferred(lambda d: connecting.cancel())
        tunnel = _TunnelProtocol(
            self._authority, self._creator, protocolFactory, result, self._proxyHeaders
        )
        connecting = self._proxyEndpoint.connect(Factory.forProtocol(lambda: tunnel))

        def failed(reason: Failure) -> None:
            if not result.called:
                result.errback(reason)

        connecting.addErrback(failed)
        return result


@implementer(IAgent)
class ProxyAgent(_AgentBase):
    """
    Makes requests through an HTTP proxy: ``http`` URIs are sent to the
    proxy in absolute form; for ``https`` URIs a ``CONNECT`` tunnel is opened
    through the proxy and TLS (verified as by ``Agent``) runs inside it.

    :param endpoint: the endpoint connecting to the proxy.
    :param reactor: the reactor (the global one when ``None``).
    :param pool: the connection pool.
    :param contextFactory: the ``IPolicyForHTTPS`` for tunnelled HTTPS.
    :param proxyHeaders: extra header fields sent to the proxy only (such as
        ``Proxy-Authorization``).
    """

    def __init__(
        self,
        endpoint: Any,
        reactor: Any = None,
        pool: HTTPConnectionPool | None = None,
        contextFactory: Any = None,
        proxyHeaders: Headers | None = None,
    ) -> None:
        _AgentBase.__init__(self, reactor, pool)
        self._proxyEndpoint = endpoint
        self._policy = contextFactory or BrowserLikePolicyForHTTPS()
        self._proxyHeaders = proxyHeaders

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Any = None,
        bodyProducer: Any = None,
    ) -> Deferred[IResponse]:
        """
        Send a request through the proxy.  See ``Agent.request``.

        :param method: the method.
        :param uri: the absolute URI.
        :param headers: header fields.
        :param bodyProducer: the body.
        :return: a Deferred ``IResponse``.
        """
        _validateMethod(method)
        parsedURI = _ensureValidURI(uri)
        sendHeaders = _toHeaders(headers)
        if parsedURI.scheme == b"https":
            authority = parsedURI.host
            if b":" in authority:
                authority = b"[" + authority + b"]"
            authority += b":%d" % parsedURI.port
            creator = self._policy.creatorForNetloc(parsedURI.host, parsedURI.port)
            endpoint: Any = _TunnelEndpoint(
                self._proxyEndpoint, authority, creator, self._proxyHeaders
            )
            key: Any = ("https-tunnel", self._proxyEndpoint, parsedURI._origin())
            target = parsedURI.originForm
        else:
            endpoint = self._proxyEndpoint
            key = ("http-proxy", self._proxyEndpoint)
            target = parsedURI.scheme + b"://" + parsedURI.netloc + parsedURI.originForm
            if self._proxyHeaders is not None:
                for name, value in self._proxyHeaders._items():
                    sendHeaders.addRawHeader(name, value)
        return self._requestWithEndpoint(
            key, endpoint, method, parsedURI, sendHeaders, bodyProducer, target
        )


# -- redirects ------------------------------------------------------------------


class RedirectWithNoLocation(Exception):
    """
    A redirect response without a ``Location`` header.

    :ivar uri: the URI that answered.
    """

    def __init__(self, code: int, message: str, uri: bytes) -> None:
        Exception.__init__(self, code, message, uri)
        self.code = code
        self.uri = uri

    def __str__(self) -> str:
        return f"{self.code} redirect from {self.uri!r} has no Location header"


class InfiniteRedirection(Exception):
    """
    More redirects than the agent's ``redirectLimit``.

    :ivar location: where the last redirect pointed.
    """

    def __init__(self, code: int, message: str, location: bytes) -> None:
        Exception.__init__(self, code, message, location)
        self.code = code
        self.location = location

    def __str__(self) -> str:
        return f"too many redirects (last {self.code} to {self.location!r})"


class RedirectBodyNotReplayable(Exception):
    """
    A 307 or 308 redirect of a request whose body producer cannot send its
    body a second time.
    """


#: Headers holding credentials, never sent to another origin on a redirect.
_SENSITIVE_HEADERS = (b"authorization", b"cookie", b"proxy-authorization")


#: The most bytes of a redirect's own body read (and dropped) so that its
#: connection can be reused; past this the connection is closed instead.
MAX_DISCARDED_BODY = 1024 * 1024


class _DiscardBody(Protocol):
    """
    Reads and drops a body; ``done`` fires when it has ended either way.
    """

    def __init__(self) -> None:
        self.done: Deferred[None] = Deferred()
        self._size = 0

    def dataReceived(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > MAX_DISCARDED_BODY:
            self.transport.stopProducing()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.done.called:
            self.done.callback(None)


def _discard(response: Any) -> Deferred[None]:
    discarder = _DiscardBody()
    response.deliverBody(discarder)
    return discarder.done


@implementer(IAgent)
class RedirectAgent:
    """
    Follows redirects: 301, 302, 307 and 308 with the same method (307 and
    308 send the body again, which needs a producer that can replay it, such
    as ``FileBodyProducer`` over a seekable file; otherwise the request fails
    with ``ResponseFailed`` wrapping ``RedirectBodyNotReplayable``), 303 with
    ``GET`` and no body.  A redirect of a method other than GET and HEAD
    with 301 or 302 is not followed (the response is returned), unlike
    ``BrowserLikeRedirectAgent``.

    Credentials (``Authorization``, ``Cookie``, ``Proxy-Authorization``)
    are dropped when a redirect leads to another origin (scheme, host or
    port), so a server cannot harvest them by redirecting.

    :param agent: the agent to send each request with.
    :param redirectLimit: the most redirects followed before failing with
        ``ResponseFailed`` wrapping ``InfiniteRedirection``.
    """

    _sameMethodCodes = (301, 302, 307, 308)
    _seeOtherCodes = (303,)

    def __init__(self, agent: Any, redirectLimit: int = 20) -> None:
        self._agent = agent
        self._redirectLimit = redirectLimit

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Any = None,
        bodyProducer: Any = None,
    ) -> Deferred[IResponse]:
        """
        Send a request, following redirects.  See ``Agent.request``.

        :param method: the method.
        :param uri: the absolute URI.
        :param headers: header fields.
        :param bodyProducer: the body.
        :return: a Deferred with the final ``IResponse``; its
            ``previousResponse`` chain holds the redirects.
        """
        headers = _toHeaders(headers)
        d: Deferred[IResponse] = self._agent.request(method, uri, headers, bodyProducer)
        return d.addCallback(
            self._handleResponse, method, uri, headers, bodyProducer, 0
        )

    def _sameMethodRedirect(self, method: bytes, code: int) -> bool:
        if code in (307, 308):
            return True
        return method in (b"GET", b"HEAD")

    def _handleResponse(
        self,
        response: Any,
        method: bytes,
        uri: bytes,
        headers: Headers,
        bodyProducer: Any,
        count: int,
    ) -> Any:
        code = response.code
        newBody: Any = None
        if code in self._seeOtherCodes:
            newMethod = b"HEAD" if method == b"HEAD" else b"GET"
        elif code in self._sameMethodCodes:
            if self._sameMethodRedirect(method, code):
                newMethod = method
                if bodyProducer is not None:
                    newBody = _replayable(bodyProducer)
                    if newBody is None:
                        return self._fail(
                            response,
                            RedirectBodyNotReplayable(
                                f"{code} redirect of a {method!r} request whose "
                                "body cannot be sent again"
                            ),
                        )
            elif code in (301, 302) and self._postAsGet(method):
                newMethod = b"GET"
            else:
                return response
        else:
            return response
        locations = response.headers.getRawHeaders(b"location")
        if not locations:
            return self._fail(response, RedirectWithNoLocation(code, "", uri))
        location = urljoin(uri, locations[0].strip())
        if count >= self._redirectLimit:
            return self._fail(response, InfiniteRedirection(code, "", location))
        try:
            newURI = _ensureValidURI(_encodeLocation(location))
        except ValueError as e:
            return self._fail(response, e)
        newHeaders = headers.copy()
        if newURI._origin() != URI.fromBytes(uri)._origin():
            for name in _SENSITIVE_HEADERS:
                newHeaders.removeHeader(name)
        newHeaders.removeHeader(b"host")
        if newBody is None and bodyProducer is not None:
            for name in (b"content-type", b"content-encoding"):
                newHeaders.removeHeader(name)
        target = newURI.toBytes().split(b"#", 1)[0]

        def follow(_: object) -> Deferred[Any]:
            d: Deferred[Any] = self._agent.request(
                newMethod, target, newHeaders, newBody
            )

            def setPrevious(newResponse: Any) -> Any:
                newResponse.setPreviousResponse(response)
                return newResponse

            d.addCallback(setPrevious)
            return d.addCallback(
                self._handleResponse,
                newMethod,
                target,
                newHeaders,
                newBody,
                count + 1,
            )

        # The redirect's own body is read and dropped first, so that its
        # connection is back in the pool for the next request.
        return _discard(response).addCallback(follow)

    def _fail(self, response: Any, error: Exception) -> Deferred[Any]:
        def failed(_: object) -> Failure:
            return Failure(ResponseFailed([Failure(error)], response))

        return _discard(response).addCallback(failed)

    def _postAsGet(self, method: bytes) -> bool:
        return False


def _encodeLocation(location: bytes) -> bytes:
    # A Location may carry raw non-ASCII or spaces; percent-encode them
    # rather than refuse the redirect or send them raw.
    return quote(location, safe=b"!#$%&'()*+,/:;=?@[]~").encode("ascii")


@implementer(IAgent)
class BrowserLikeRedirectAgent(RedirectAgent):
    """
    A ``RedirectAgent`` that turns a ``POST`` (or any method other than GET
    and HEAD) redirected by 301 or 302 into a ``GET`` without a body, as
    browsers do.

    :param agent: the agent to send each request with.
    :param redirectLimit: the most redirects followed.
    """

    def _postAsGet(self, method: bytes) -> bool:
        return True


# -- content decoding -----------------------------------------------------------


class DecompressionTooLarge(Exception):
    """
    A compressed body expanded beyond the decoder's ``maxSize``.
    """


#: The most bytes a compressed body may expand to by default (100 MiB).
DEFAULT_MAX_DECOMPRESSED_SIZE = 100 * 1024 * 1024


class _DecodingProtocol(Protocol):
    def __init__(self, protocol: Any, maxSize: int) -> None:
        self._protocol = protocol
        self._maxSize = maxSize
        self._size = 0
        # wbits 47: gzip or zlib header, detected.
        self._decompress = zlib.decompressobj(47)
        self._failed = False

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport
        self._protocol.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        if self._failed:
            return
        try:
            out = self._decompress.decompress(data, self._maxSize - self._size + 1)
            while out:
                self._size += len(out)
                if self._size > self._maxSize:
                    raise DecompressionTooLarge(
                        f"the decompressed body exceeds {self._maxSize} bytes"
                    )
                self._protocol.dataReceived(out)
                if not self._decompress.unconsumed_tail:
                    break
                out = self._decompress.decompress(
                    self._decompress.unconsumed_tail, self._maxSize - self._size + 1
                )
        except (zlib.error, DecompressionTooLarge):
            self._fail(Failure())

    def _fail(self, reason: Failure) -> None:
        self._failed = True
        protocol, self._protocol = self._protocol, None
        self.transport.stopProducing()
        if protocol is not None:
            protocol.connectionLost(Failure(ResponseFailed([reason])))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._failed or self._protocol is None:
            return
        if reason.check(ResponseDone):
            try:
                rest = self._decompress.flush()
                if rest:
                    self._size += len(rest)
                    if self._size > self._maxSize:
                        raise DecompressionTooLarge(
                            f"the decompressed body exceeds {self._maxSize} bytes"
                        )
                    self._protocol.dataReceived(rest)
            except (zlib.error, DecompressionTooLarge):
                protocol, self._protocol = self._protocol, None
                protocol.connectionLost(Failure(ResponseFailed([Failure()])))
                return
        self._protocol.connectionLost(reason)


@implementer(IResponse)
class GzipDecoder:
    """
    A response whose gzip-encoded body is delivered decompressed.  A body
    that expands beyond ``maxSize`` bytes (a "gzip bomb") or is not valid
    gzip ends with ``ResponseFailed`` wrapping ``DecompressionTooLarge`` or
    ``zlib.error``, and the connection is closed.

    :param response: the encoded response.
    :param maxSize: the most bytes the body may expand to; use
        ``functools.partial(GzipDecoder, maxSize=...)`` in
        ``ContentDecoderAgent`` to change it.
    """

    def __init__(
        self, response: Any, maxSize: int = DEFAULT_MAX_DECOMPRESSED_SIZE
    ) -> None:
        self.original = response
        self._maxSize = maxSize
        self.length: int | str = UNKNOWN_LENGTH
        self.previousResponse: Any = getattr(response, "previousResponse", None)

    def __getattr__(self, name: str) -> Any:
        # version, code, phrase, headers, request: the original's.
        return getattr(self.original, name)

    def setPreviousResponse(self, response: Any) -> None:
        """
        :param response: the response that redirected to this one.
        """
        self.previousResponse = response
        self.original.setPreviousResponse(response)

    def deliverBody(self, protocol: Any) -> None:
        """
        Deliver the decompressed body to ``protocol``.

        :param protocol: an ``IProtocol``.
        """
        self.original.deliverBody(_DecodingProtocol(protocol, self._maxSize))


@implementer(IAgent)
class ContentDecoderAgent:
    """
    Asks for compressed responses (``Accept-Encoding``) and decodes them.

    :param agent: the agent to send requests with.
    :param decoders: ``(coding name, decoder factory)`` pairs, such as
        ``[(b"gzip", GzipDecoder)]``; a factory takes the response and
        returns an ``IResponse`` delivering the decoded body.
    """

    def __init__(
        self, agent: Any, decoders: Sequence[tuple[bytes, Callable[[Any], Any]]]
    ) -> None:
        self._agent = agent
        self._decoders = dict(decoders)
        self._supported = b",".join(name for name, _ in decoders)

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Any = None,
        bodyProducer: Any = None,
    ) -> Deferred[IResponse]:
        """
        Send a request asking for the supported codings.  See
        ``Agent.request``.

        :param method: the method.
        :param uri: the absolute URI.
        :param headers: header fields.
        :param bodyProducer: the body.
        :return: a Deferred ``IResponse`` whose body is decoded.
        """
        headers = _toHeaders(headers)
        headers.setRawHeaders(b"accept-encoding", [self._supported])
        d: Deferred[IResponse] = self._agent.request(method, uri, headers, bodyProducer)
        return d.addCallback(self._decode)

    def _decode(self, response: Any) -> Any:
        values = response.headers.getRawHeaders(b"content-encoding") or []
        codings = [
            c.strip().lower() for v in values for c in v.split(b",") if c.strip()
        ]
        applied: list[bytes] = []
        while codings:
            decoder = self._decoders.get(codings[-1])
            if decoder is None:
                break
            applied.append(codings.pop())
            response = decoder(response)
        if applied:
            headers = response.headers.copy()
            if codings:
                headers.setRawHeaders(b"content-encoding", [b",".join(codings)])
            else:
                headers.removeHeader(b"content-encoding")
            _replaceHeaders(response, headers)
        return response


def _replaceHeaders(response: Any, headers: Headers) -> None:
    target = response
    while isinstance(target, GzipDecoder):
        target.__dict__["headers"] = headers
        target = target.original
    target.headers = headers


# -- cookies --------------------------------------------------------------------


class _CookieRequest:
    """
    What ``http.cookiejar`` needs to see of a request (its urllib view).
    """

    def __init__(self, uri: bytes, headers: Headers) -> None:
        self._uri = uri.decode("ascii")
        self._parts = urlsplit(self._uri)
        self._headers = headers
        self.unverifiable = False
        self.type = self._parts.scheme

    def get_full_url(self) -> str:
        return self._uri

    def get_host(self) -> str:
        return self._parts.netloc

    def get_type(self) -> str:
        return self._parts.scheme

    @property
    def host(self) -> str:
        return self._parts.netloc

    def get_origin_req_host(self) -> str:
        return self._parts.hostname or ""

    origin_req_host = property(get_origin_req_host)

    def is_unverifiable(self) -> bool:
        return False

    def has_header(self, name: str) -> bool:
        return self._headers.hasHeader(name)

    def get_header(self, name: str, default: str | None = None) -> str | None:
        values = self._headers.getRawHeaders(name)
        return values[0] if values else default

    def header_items(self) -> list[tuple[str, str]]:
        return [
            (n.decode("latin-1"), v.decode("latin-1"))
            for n, vs in self._headers.getAllRawHeaders()
            for v in vs
        ]

    def add_unredirected_header(self, name: str, value: str) -> None:
        self._headers.addRawHeader(name, value)


class _CookieResponse:
    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def info(self) -> _CookieResponse:
        return self

    def get_all(self, name: str, default: Any = None) -> Any:
        values = self._headers.getRawHeaders(name.encode("ascii"))
        if not values:
            return default
        return [v.decode("latin-1") for v in values]


@implementer(IAgent)
class CookieAgent:
    """
    Sends the cookies ``cookieJar`` holds for each request's URI, and
    stores the cookies responses set.

    :param agent: the agent to send requests with.
    :param cookieJar: an ``http.cookiejar.CookieJar``.
    """

    def __init__(self, agent: Any, cookieJar: cookiejar.CookieJar) -> None:
        self._agent = agent
        self.cookieJar = cookieJar

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Any = None,
        bodyProducer: Any = None,
    ) -> Deferred[IResponse]:
        """
        Send a request with the jar's cookies.  See ``Agent.request``.

        :param method: the method.
        :param uri: the absolute URI.
        :param headers: header fields (a ``Cookie`` given here is kept and
            the jar's cookies are not added).
        :param bodyProducer: the body.
        :return: a Deferred ``IResponse``.
        """
        headers = _toHeaders(headers)
        cookieRequest = _CookieRequest(uri, headers)
        if not headers.hasHeader(b"cookie"):
            self.cookieJar.add_cookie_header(cookieRequest)  # type: ignore[arg-type]
        d: Deferred[IResponse] = self._agent.request(method, uri, headers, bodyProducer)

        def store(response: Any) -> Any:
            self.cookieJar.extract_cookies(
                _CookieResponse(response.headers),  # type: ignore[arg-type]
                cookieRequest,  # type: ignore[arg-type]
            )
            return response

        return d.addCallback(store)


# -- bodies ---------------------------------------------------------------------


class ResponseTooLarge(Exception):
    """
    A body longer than the maximum the reader accepts; the connection was
    closed.

    :ivar maxSize: that maximum.
    """

    def __init__(self, maxSize: int) -> None:
        Exception.__init__(self, f"the response body exceeds {maxSize} bytes")
        self.maxSize = maxSize


class PartialDownloadError(Exception):
    """
    The body ended with the connection and no length was given
    (``PotentialDataLoss``): it may be incomplete.

    :ivar response: the bytes received.
    """

    def __init__(self, status: bytes, message: str, response: bytes) -> None:
        Exception.__init__(self, status, message, response)
        self.status = status
        self.response = response


class _BodyCollector(Protocol):
    def __init__(
        self, status: int, result: Deferred[bytes], maxSize: int | None
    ) -> None:
        self._status = status
        self._result: Deferred[bytes] | None = result
        self._maxSize = maxSize
        self._pieces: list[bytes] = []
        self._size = 0

    def dataReceived(self, data: bytes) -> None:
        if self._result is None:
            return
        self._size += len(data)
        if self._maxSize is not None and self._size > self._maxSize:
            self._tooLarge()
            return
        self._pieces.append(data)

    def _tooLarge(self) -> None:
        result, self._result = self._result, None
        self._pieces = []
        if result is None:
            return
        assert self._maxSize is not None
        self.transport.stopProducing()
        result.errback(ResponseTooLarge(self._maxSize))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        result, self._result = self._result, None
        if result is None:
            return
        body = b"".join(self._pieces)
        if reason.check(ResponseDone):
            result.callback(body)
        elif reason.check(PotentialDataLoss):
            result.errback(
                PartialDownloadError(
                    str(self._status).encode("ascii"),
                    "the body may be incomplete (no length was given)",
                    body,
                )
            )
        else:
            result.errback(reason)


def readBody(response: Any, maxSize: int | None = None) -> Deferred[bytes]:
    """
    Read a response's whole body.

    :param response: an ``IResponse``.
    :param maxSize: the most bytes accepted; past it the read fails with
        ``ResponseTooLarge`` and the connection is closed.  ``None`` means no
        limit: give one for any server you do not control.
    :return: a Deferred with the body, or failing with ``ResponseFailed``,
        ``ResponseTooLarge`` or ``PartialDownloadError`` (body ended with the
        connection without a length; its ``response`` holds the bytes).
    """
    result: Deferred[bytes] = Deferred(
        lambda d: (
            collector.transport.stopProducing()
            if collector.transport is not None
            else None
        )
    )
    collector = _BodyCollector(response.code, result, maxSize)
    response.deliverBody(collector)
    length = getattr(response, "length", UNKNOWN_LENGTH)
    if (
        maxSize is not None
        and isinstance(length, int)
        and length > maxSize
        and not result.called
    ):
        # The server announced more than we accept: no need to read it.
        collector._tooLarge()
    return result


@implementer(IBodyProducer)
class FileBodyProducer:
    """
    Sends a file (or any binary file-like object) as a request body, a
    piece at a time, from the reactor's cooperator.

    The length is found by seeking to the end (and back) when the file is
    seekable; otherwise it is ``UNKNOWN_LENGTH`` and the body is sent
    chunked.  A seekable file's body can be sent again (for a retry or a
    307/308 redirect): it is read again from where it started.

    :param inputFile: the file, opened in binary mode (any object with a
        ``read(size)`` method returning bytes).
    :param cooperator: the ``torsion.internet.task.Cooperator`` to run on
        (the global one when ``None``).
    :param readSize: bytes read per step.
    """

    def __init__(
        self,
        inputFile: Any,
        cooperator: Any = None,
        readSize: int = 65536,
    ) -> None:
        self._inputFile = inputFile
        self._cooperator = cooperator
        self._readSize = readSize
        self._task: Any = None
        self._start: int | None = None
        self.length: int | str = self._determineLength(inputFile)

    def _determineLength(self, inputFile: Any) -> int | str:
        try:
            seekable = inputFile.seekable()
        except AttributeError:
            seekable = hasattr(inputFile, "seek") and hasattr(inputFile, "tell")
        except ValueError:
            return UNKNOWN_LENGTH
        if not seekable:
            return UNKNOWN_LENGTH
        try:
            start = inputFile.tell()
            end = inputFile.seek(0, os.SEEK_END)
            inputFile.seek(start, os.SEEK_SET)
        except (OSError, ValueError):
            return UNKNOWN_LENGTH
        self._start = start
        length: int = end - start
        return length

    def _replay(self) -> FileBodyProducer | None:
        if self._start is None:
            return None
        self._inputFile.seek(self._start, os.SEEK_SET)
        return FileBodyProducer(self._inputFile, self._cooperator, self._readSize)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        """
        Start writing the file to ``consumer``.

        :param consumer: an ``IConsumer``.
        :return: a Deferred firing when the whole file has been written.
        """
        cooperator = self._cooperator
        if cooperator is None:
            from torsion.internet import task

            self._task = task.cooperate(self._writeLoop(consumer))
        else:
            self._task = cooperator.cooperate(self._writeLoop(consumer))
        result: Deferred[None] = Deferred()
        done = self._task.whenDone()

        def finished(_: object) -> None:
            result.callback(None)

        def failed(reason: Failure) -> None:
            from torsion.internet.task import TaskStopped

            if reason.check(TaskStopped):
                return
            result.errback(reason)

        done.addCallbacks(finished, failed)
        return result

    def _writeLoop(self, consumer: Any) -> Iterator[None]:
        while True:
            data = self._inputFile.read(self._readSize)
            if not data:
                self._close()
                return
            consumer.write(data)
            yield None

    def _close(self) -> None:
        # A file that can be read again is left open for a replay (retry or
        # redirect); a stream is closed once read to its end.
        close = getattr(self._inputFile, "close", None)
        if self._start is None and close is not None:
            close()

    def pauseProducing(self) -> None:
        """
        Stop reading until ``resumeProducing``.
        """
        if self._task is not None:
            try:
                self._task.pause()
            except TaskDone:
                pass

    def resumeProducing(self) -> None:
        """
        Read again.
        """
        if self._task is not None:
            try:
                self._task.resume()
            except (TaskDone, NotPaused):
                pass

    def stopProducing(self) -> None:
        """
        Stop for good; the Deferred ``startProducing`` returned never fires.
        """
        if self._task is not None:
            try:
                self._task.stop()
            except TaskDone:
                pass


@implementer(IBodyProducer)
class _BytesProducer:
    """
    A body held in memory (the short API's ``data`` and ``json``).
    """

    def __init__(self, body: bytes) -> None:
        self._body = body
        self.length = len(body)

    def startProducing(self, consumer: Any) -> Deferred[None]:
        consumer.write(self._body)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass

    def _replay(self) -> _BytesProducer:
        return _BytesProducer(self._body)


# -- the short API --------------------------------------------------------------

#: The most body bytes the short API reads by default (10 MiB).
DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024

_defaultPools: dict[int, tuple[Any, HTTPConnectionPool]] = {}


def _defaultPool(reactor: Any) -> HTTPConnectionPool:
    entry = _defaultPools.get(id(reactor))
    if entry is None or entry[0] is not reactor:
        pool = HTTPConnectionPool(reactor, persistent=True)
        entry = (reactor, pool)
        _defaultPools[id(reactor)] = entry
    return entry[1]


def closeDefaultPool(reactor: Any = None) -> Deferred[None]:
    """
    Close the idle connections the short API keeps for ``reactor``.

    :param reactor: the reactor (the global one when ``None``).
    :return: a Deferred firing when they have closed.
    """
    if reactor is None:
        reactor = _globalReactor()
    entry = _defaultPools.pop(id(reactor), None)
    if entry is None:
        return succeed(None)
    return entry[1].closeCachedConnections()


class ClientResponse:
    """
    A response from the short API (``get``, ``post``, ``request``, ...).
    The body is read once, on the first call to ``content``, ``text`` or
    ``json``, and kept.

    :ivar code: the status code.
    :ivar phrase: the reason phrase.
    :ivar headers: the response ``Headers``.
    :ivar original: the underlying ``IResponse``.
    """

    def __init__(
        self,
        original: Any,
        maxBodySize: int | None,
        reactor: Any,
        deadline: float | None,
    ) -> None:
        self.original = original
        self.code: int = original.code
        self.phrase: bytes = original.phrase
        self.headers: Headers = original.headers
        self._maxBodySize = maxBodySize
        self._reactor = reactor
        self._deadline = deadline
        self._body: Deferred[bytes] | None = None
        self._result: bytes | Failure | None = None
        self._waiting: list[Deferred[bytes]] = []

    @property
    def previousResponse(self) -> Any:
        """
        The ``IResponse`` that redirected to this one, or ``None``.
        """
        return self.original.previousResponse

    @property
    def length(self) -> Any:
        """
        The body length, or ``UNKNOWN_LENGTH``.
        """
        return self.original.length

    def __repr__(self) -> str:
        return f"<ClientResponse {self.code}>"

    def content(self) -> Deferred[bytes]:
        """
        :return: a Deferred with the body bytes (failing with
            ``ResponseTooLarge`` beyond ``maxBodySize``, or ``TimeoutError``
            when the request's ``timeout`` passes).
        """
        if self._result is not None:
            if isinstance(self._result, Failure):
                return fail(self._result)
            return succeed(self._result)
        waiter: Deferred[bytes] = Deferred()
        self._waiting.append(waiter)
        if self._body is None:
            self._body = readBody(self.original, self._maxBodySize)
            if self._deadline is not None:
                remaining = max(0.0, self._deadline - self._reactor.seconds())
                self._body.addTimeout(remaining, self._reactor)
            self._body.addBoth(self._gotBody)
        return waiter

    def _gotBody(self, result: Any) -> None:
        if isinstance(result, Failure) and result.check(PartialDownloadError):
            # Without a length the end of the connection is the end of the
            # body; that is how such servers mean it.
            partial: Any = result.value
            result = partial.response
        self._result = result
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(result)

    def text(self, encoding: str | None = None) -> Deferred[str]:
        """
        :param encoding: the text encoding (the ``charset`` of the
            ``Content-Type``, else UTF-8, when ``None``).
        :return: a Deferred with the body as text.
        """
        if encoding is None:
            encoding = _charset(self.headers) or "utf-8"
        chosen = encoding
        return self.content().addCallback(lambda body: body.decode(chosen, "replace"))

    def json(self, **kwargs: Any) -> Deferred[Any]:
        """
        :param kwargs: passed to ``json.loads``.
        :return: a Deferred with the body parsed as JSON.
        """
        return self.content().addCallback(lambda body: _json.loads(body, **kwargs))


def _charset(headers: Headers) -> str | None:
    value = headers.getRawHeaders(b"content-type")
    if not value:
        return None
    for param in value[0].split(b";")[1:]:
        name, _, v = param.strip().partition(b"=")
        if name.strip().lower() == b"charset":
            charset = v.strip().strip(b'"').decode("ascii", "replace")
            try:
                import codecs

                codecs.lookup(charset)
            except LookupError:
                return None
            return charset
    return None


def _addParams(url: str, params: Any) -> str:
    if not params:
        return url
    if isinstance(params, Mapping):
        items: list[tuple[Any, Any]] = []
        for k, v in params.items():
            if isinstance(v, (list, tuple)):
                items += [(k, x) for x in v]
            else:
                items.append((k, v))
    else:
        items = list(params)
    query = urlencode(items)
    base, hashmark, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    return base + joiner + query + hashmark + fragment


def request(
    method: str | bytes,
    url: str | bytes,
    *,
    params: Any = None,
    headers: Any = None,
    json: Any = None,
    data: Any = None,
    timeout: float | None = None,
    agent: Any = None,
    reactor: Any = None,
    allowRedirects: bool = True,
    maxBodySize: int | None = DEFAULT_MAX_BODY_SIZE,
) -> Deferred[ClientResponse]:
    """
    Make a request in one call, in the shape of the ``treq`` library:
    redirects are followed, gzip is decoded, connections are kept in a
    shared pool per reactor (close it with ``closeDefaultPool``).

    :param method: the method, such as ``"GET"``.
    :param url: the absolute URL.
    :param params: query parameters to add: a mapping (a list value adds
        the name once per item) or ``(name, value)`` pairs.
    :param headers: a ``Headers`` or a mapping of names to a value or a
        list of values.
    :param json: an object sent as JSON (``Content-Type: application/json``).
    :param data: the body: bytes, a mapping or pairs (sent form-encoded),
        a binary file, or an ``IBodyProducer``.
    :param timeout: seconds for the whole request, reading the body
        included; past it the Deferreds fail with ``TimeoutError`` and the
        connection is closed.
    :param agent: the ``IAgent`` to send with, instead of the default one.
    :param reactor: the reactor (the global one when ``None``).
    :param allowRedirects: whether to follow redirects.
    :param maxBodySize: the most body bytes ``content``/``text``/``json``
        read (``ResponseTooLarge`` beyond; ``None`` for no limit).
    :return: a Deferred ``ClientResponse``.
    :raises ValueError: for a bad method, URL or header (nothing is sent).
    """
    if reactor is None:
        reactor = _globalReactor()
    methodBytes = method.encode("ascii") if isinstance(method, str) else method
    methodBytes = methodBytes.upper()
    urlText = url.decode("ascii") if isinstance(url, bytes) else url
    urlText = _addParams(urlText, params)
    try:
        urlBytes = urlText.encode("ascii")
    except UnicodeEncodeError:
        parts = urlsplit(urlText)
        netloc = parts.netloc.encode("idna").decode("ascii")
        rest = quote(urlText.split(parts.netloc, 1)[1], safe="/?#&=;:%+@!$'()*,~")
        urlBytes = f"{parts.scheme}://{netloc}{rest}".encode("ascii")
    sendHeaders = _toHeaders(headers)
    body: Any = None
    if json is not None:
        if data is not None:
            raise ValueError("give either json or data, not both")
        body = _BytesProducer(_json.dumps(json, separators=(",", ":")).encode())
        if not sendHeaders.hasHeader(b"content-type"):
            sendHeaders.setRawHeaders(b"content-type", [b"application/json"])
    elif data is not None:
        if isinstance(data, (bytes, bytearray)):
            body = _BytesProducer(bytes(data))
        elif isinstance(data, str):
            raise TypeError("data must be bytes, not str: encode it first")
        elif isinstance(data, (Mapping, list, tuple)):
            items = list(data.items()) if isinstance(data, Mapping) else list(data)
            body = _BytesProducer(urlencode(items).encode("ascii"))
            if not sendHeaders.hasHeader(b"content-type"):
                sendHeaders.setRawHeaders(
                    b"content-type", [b"application/x-www-form-urlencoded"]
                )
        elif IBodyProducer.providedBy(data):
            body = data
        elif hasattr(data, "read"):
            body = FileBodyProducer(data)
        else:
            raise TypeError(f"unsupported data: {type(data).__name__}")
    if agent is None:
        agent = Agent(reactor, pool=_defaultPool(reactor))
        agent = ContentDecoderAgent(agent, [(b"gzip", GzipDecoder)])
        if allowRedirects:
            agent = RedirectAgent(agent)
    elif allowRedirects and not isinstance(agent, RedirectAgent):
        agent = RedirectAgent(agent)
    deadline = None if timeout is None else reactor.seconds() + timeout
    d: Deferred[Any] = agent.request(methodBytes, urlBytes, sendHeaders, body)
    if timeout is not None:
        d.addTimeout(timeout, reactor)
    return d.addCallback(
        lambda response: ClientResponse(response, maxBodySize, reactor, deadline)
    )


def get(url: str | bytes, **kwargs: Any) -> Deferred[ClientResponse]:
    """
    ``request("GET", url, **kwargs)``.

    :param url: the URL.
    :param kwargs: as for ``request``.
    :return: a Deferred ``ClientResponse``.
    """
    return request("GET", url, **kwargs)


def post(url: str | bytes, **kwargs: Any) -> Deferred[ClientResponse]:
    """
    ``request("POST", url, **kwargs)``.

    :param url: the URL.
    :param kwargs: as for ``request``.
    :return: a Deferred ``ClientResponse``.
    """
    return request("POST", url, **kwargs)


def put(url: str | bytes, **kwargs: Any) -> Deferred[ClientResponse]:
    """
    ``request("PUT", url, **kwargs)``.

    :param url: the URL.
    :param kwargs: as for ``request``.
    :return: a Deferred ``ClientResponse``.
    """
    return request("PUT", url, **kwargs)


def patch(url: str | bytes, **kwargs: Any) -> Deferred[ClientResponse]:
    """
    ``request("PATCH", url, **kwargs)``.

    :param url: the URL.
    :param kwargs: as for ``request``.
    :return: a Deferred ``ClientResponse``.
    """
    return request("PATCH", url, **kwargs)


def delete(url: str | bytes, **kwargs: Any) -> Deferred[ClientResponse]:
    """
    ``request("DELETE", url, **kwargs)``.

    :param url: the URL.
    :param kwargs: as for ``request``.
    :return: a Deferred ``ClientResponse``.
    """
    return request("DELETE", url, **kwargs)


def head(url: str | bytes, **kwargs: Any) -> Deferred[ClientResponse]:
    """
    ``request("HEAD", url, **kwargs)``.

    :param url: the URL.
    :param kwargs: as for ``request``.
    :return: a Deferred ``ClientResponse``.
    """
    return request("HEAD", url, **kwargs)
