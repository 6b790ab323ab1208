"""
``Agent``, its connection pool, its HTTPS policy and ``ProxyAgent``;
re-exported by ``torsion.web.client``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.internet import defer
from torsion.internet.defer import Deferred, fail, succeed
from torsion.internet.interfaces import IStreamClientEndpoint
from torsion.internet.protocol import Factory, Protocol, connectionDone
from torsion.python.failure import Failure
from torsion.web import _parser
from torsion.web._clientbase import (
    URI,
    SchemeNotSupported,
    _ensureValidURI,
    _globalReactor,
    _replayable,
    _toHeaders,
)
from torsion.web._newclient import (
    HTTP11ClientProtocol,
    Request,
    RequestNotSent,
    Response,
    ResponseNeverReceived,
    _isIdempotent,
    _validateMethod,
)
from torsion.web.http_headers import Headers
from torsion.web.iweb import (
    IAgent,
    IAgentEndpointFactory,
    IPolicyForHTTPS,
    IResponse,
)

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
        # One idle timer per kept connection, left running while the
        # connection is in use and pushed back when it fires early: cheaper
        # than a new timer and a cancellation for every request.
        self._timeouts: dict[HTTP11ClientProtocol, Any] = {}
        self._idleSince: dict[HTTP11ClientProtocol, float] = {}

    def getConnection(self, key: Any, endpoint: Any) -> Deferred[Any]:
        """
        :param key: identifies the destination (connections are reused only
            for the same key).
        :param endpoint: the endpoint to connect with when no idle
            connection is available.
        :return: a Deferred firing with a connection (an object with a
            ``request(request)`` method).
        """
        connection = self._idleConnection(key, endpoint)
        if connection is not None:
            return succeed(connection)
        return self._newConnection(key, endpoint)

    def _idleConnection(self, key: Any, endpoint: Any) -> Any:
        """
        :return: an idle connection for ``key`` taken out of the pool (wrapped
            to retry when ``retryAutomatically``), or ``None``.
        """
        connections = self._connections.get(key)
        while connections:
            # The most recently used connection is the least likely to have
            # been closed by the server meanwhile.
            connection = connections.pop()
            if not connections:
                del self._connections[key]
            if connection.state == "QUIESCENT":
                self._idleSince.pop(connection, None)
                if self.retryAutomatically:
                    return _RetryingConnection(
                        connection, lambda: self._newConnection(key, endpoint)
                    )
                return connection
            self._cancelTimeout(connection)
            connections = self._connections.get(key)
        return None

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
        if connection._onConnectionLost is None:
            connection._onConnectionLost = lambda c: self._removeConnection(key, c)
        self._idleSince[connection] = self._reactor.seconds()
        if connection not in self._timeouts:
            self._timeouts[connection] = self._reactor.callLater(
                self.cachedConnectionTimeout, self._expire, key, connection
            )

    def _cancelTimeout(self, connection: HTTP11ClientProtocol) -> None:
        self._idleSince.pop(connection, None)
        timeout = self._timeouts.pop(connection, None)
        if timeout is not None and timeout.active():
            timeout.cancel()

    def _expire(self, key: Any, connection: HTTP11ClientProtocol) -> None:
        self._timeouts.pop(connection, None)
        since = self._idleSince.get(connection)
        if since is None:
            # In use: a new timer starts when it comes back to the pool.
            return
        remaining = since + self.cachedConnectionTimeout - self._reactor.seconds()
        if remaining > 0:
            self._timeouts[connection] = self._reactor.callLater(
                remaining, self._expire, key, connection
            )
            return
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
        raw = headers._raw
        if b"host" not in raw:
            # The host comes from a URI already checked for control bytes.
            raw[b"host"] = [parsedURI._hostHeader()]
        # Validate before connecting, so nothing is sent for a bad request.
        request = Request._construct(
            method, target, headers, bodyProducer, self._pool.persistent, parsedURI
        )
        pool = self._pool
        if type(pool).getConnection is HTTPConnectionPool.getConnection:
            # A kept connection is used at once, without a Deferred for it.
            connection = pool._idleConnection(key, endpoint)
            if connection is not None:
                result: Deferred[IResponse] = connection.request(request)
                return result
            d = pool._newConnection(key, endpoint)
        else:
            d = pool.getConnection(key, endpoint)
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
