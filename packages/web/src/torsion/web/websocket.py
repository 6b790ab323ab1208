"""
WebSockets (RFC 6455), server and client, with ``permessage-deflate``
(RFC 7692).

Server: put a ``WebSocketResource`` anywhere in a resource tree.  For each
valid opening handshake it asks its factory for a ``WebSocketProtocol``,
answers ``101 Switching Protocols`` and from then on speaks WebSocket on the
connection::

    class Echo(WebSocketProtocol):
        def negotiationStarted(self, transport):
            self.transport = transport

        def textMessageReceived(self, data):
            self.transport.sendTextMessage(data)

    root.putChild(b"ws", WebSocketResource(WebSocketServerFactory(Echo)))

Client: ``WebSocketClientEndpoint.new(reactor, "ws://host/path")`` and
``connect(factory)``, whose Deferred fires with the connected protocol.

Both sides share ``WebSocketTransport``: send text or binary messages,
ping, close with a status code, and attach a push producer for flow
control.  Limits (message and frame size, close timeout, keepalive) are
constructor arguments with named defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from zope.interface import implementer

from torsion.internet.defer import Deferred
from torsion.internet.error import ConnectionDone, ConnectionLost
from torsion.internet.interfaces import IAddress, IDelayedCall, IPushProducer
from torsion.internet.protocol import Protocol
from torsion.python.failure import Failure
from torsion.web._wscodec import (
    CLOSE_ABNORMAL,
    CLOSE_INTERNAL_ERROR,
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_MAX_MESSAGE_SIZE,
    BytesMessage,
    CloseFrame,
    DeflateParameters,
    Ping,
    Pong,
    TextMessage,
    WebSocketCodec,
    WebSocketEvent,
    WebSocketProtocolError,
)
from torsion.web._wshandshake import (
    DeflateOptions,
    HandshakeError,
    ResponseHeadParser,
    acceptFor,
    clientAcceptDeflate,
    clientOffer,
    isValidKey,
    newKey,
    parseExtensions,
    parseTokens,
    serverAcceptDeflate,
)
from torsion.web.http_headers import Headers
from torsion.web.iweb import IRequest, IResource

__all__ = [
    "DEFAULT_CLOSE_TIMEOUT",
    "DEFAULT_MAX_FRAME_SIZE",
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_PING_INTERVAL",
    "DEFAULT_PING_TIMEOUT",
    "STATUSES",
    "ConnectionRejected",
    "DeflateOptions",
    "HandshakeError",
    "WebSocketClientEndpoint",
    "WebSocketClientFactory",
    "WebSocketConnectionClosed",
    "WebSocketConnectionLost",
    "WebSocketProtocol",
    "WebSocketProtocolError",
    "WebSocketResource",
    "WebSocketServerFactory",
    "WebSocketTransport",
]

#: Seconds to wait for the peer's answer to our close frame (and, on the
#: client, for the server to close the TCP connection) before dropping it.
DEFAULT_CLOSE_TIMEOUT = 10.0
#: Seconds a keepalive ping waits for its pong before the connection is
#: declared dead.
DEFAULT_PING_TIMEOUT = 20.0
#: Seconds between the server's keepalive pings (``WebSocketResource``), so
#: a peer that vanished without closing is noticed and its connection freed.
DEFAULT_PING_INTERVAL = 60.0
_DEFAULT_DEFLATE = DeflateOptions()

#: Seconds a client waits for the server's handshake answer.
DEFAULT_HANDSHAKE_TIMEOUT = 30.0


class STATUSES:
    """
    Close status codes (RFC 6455 section 7.4.1), for ``loseConnection``.
    """

    NORMAL_CLOSURE = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS_RECEIVED = 1005
    ABNORMAL_CLOSURE = 1006
    INVALID_PAYLOAD = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    MANDATORY_EXTENSION = 1010
    INTERNAL_ERROR = 1011


class ConnectionRejected(HandshakeError):
    """
    A WebSocket connection was refused with an HTTP answer instead of
    ``101 Switching Protocols``.

    On the server, raise it from a factory's ``buildProtocol`` (or from the
    protocol's ``negotiationStarted``) to refuse a handshake: the client
    gets the HTTP ``code`` with ``message`` as the body.  On the client,
    ``WebSocketClientEndpoint.connect`` fails with it when the server
    answers the handshake with anything but ``101``.

    :param message: the explanation (the body of the server's answer).
    :param code: the HTTP status (403 by default when refusing).
    :param response: on the client, the server's answer: its ``code``,
        ``phrase`` and ``headers`` (``get(b"name")`` gives a header's
        values).
    """

    def __init__(
        self,
        message: str = "WebSocket connection rejected",
        code: int = 403,
        response: Any = None,
    ) -> None:
        super().__init__(message, code)
        self.message = message
        self.code = code
        self.response = response

    def __str__(self) -> str:
        return self.message


class WebSocketConnectionClosed(ConnectionDone):
    """
    The WebSocket closing handshake completed.

    The ``reason`` given to ``connectionLost`` wraps one of these after a
    clean close.

    :ivar code: the close status received from the peer (1005 if its close
        frame carried none).
    :ivar reason: the close reason text received.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class WebSocketConnectionLost(ConnectionLost):
    """
    The WebSocket connection ended without a completed closing handshake.

    The peer vanished, or one side failed the connection for a protocol
    error.

    :ivar code: 1006 when no close frame was exchanged, otherwise the code
        of the close frame that was sent or received.
    :ivar reason: an explanation.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


class WebSocketProtocol:
    """
    Receives the events of one WebSocket connection.  Subclass it and
    override what you need; the defaults do nothing.
    """

    def negotiationStarted(self, transport: WebSocketTransport) -> None:
        """
        The opening handshake began; keep ``transport`` to talk to the peer.
        Messages sent before ``negotiationFinished`` are queued and sent as
        soon as the connection is open.  A server-side protocol may raise
        ``ConnectionRejected`` here to refuse the connection.

        :param transport: this connection's ``WebSocketTransport``.
        """

    def negotiationFinished(self) -> None:
        """
        The handshake completed: the connection is open in both directions.
        """

    def textMessageReceived(self, data: str) -> None:
        """
        A whole text message arrived (fragments already joined).

        :param data: its text.
        """

    def bytesMessageReceived(self, data: bytes) -> None:
        """
        A whole binary message arrived (fragments already joined).

        :param data: its payload.
        """

    def pongReceived(self, payload: bytes) -> None:
        """
        A pong arrived (pings are answered automatically).

        :param payload: its application data.
        """

    def connectionLost(self, reason: Failure) -> None:
        """
        The connection is gone.

        :param reason: wraps ``WebSocketConnectionClosed`` after a clean
            closing handshake (with the peer's ``code``), else
            ``WebSocketConnectionLost``.
        """


class _ProtocolFactory:
    """
    What the server and client factories share: ``protocol`` (the class
    attribute, or the constructor's argument) builds each protocol, which
    is told its factory.
    """

    protocol: Callable[[], WebSocketProtocol] | None = None

    def __init__(self, protocol: Callable[[], WebSocketProtocol] | None = None) -> None:
        if protocol is not None:
            self.protocol = protocol

    def _newProtocol(self) -> WebSocketProtocol:
        if self.protocol is None:
            raise NotImplementedError("set protocol or override buildProtocol")
        proto = self.protocol()
        proto.factory = self  # type: ignore[attr-defined]
        return proto


class WebSocketServerFactory(_ProtocolFactory):
    """
    Builds a ``WebSocketProtocol`` for each accepted handshake.

    :param protocol: a ``WebSocketProtocol`` subclass (or any callable
        without arguments returning a protocol); overrides the class
        attribute of the same name.
    """

    def buildProtocol(self, request: IRequest) -> WebSocketProtocol:
        """
        :param request: the HTTP request carrying the handshake (its headers,
            path, peer, session are there to decide with).
        :return: the protocol for this connection; the built protocol gets
            ``factory`` and ``request`` attributes.
        :raises ConnectionRejected: to refuse the connection.
        """
        proto = self._newProtocol()
        proto.request = request  # type: ignore[attr-defined]
        return proto


class WebSocketClientFactory(_ProtocolFactory):
    """
    Builds the ``WebSocketProtocol`` of a client connection.

    :param protocol: a ``WebSocketProtocol`` subclass (or any callable
        without arguments returning a protocol).
    """

    def buildProtocol(self, uri: str) -> WebSocketProtocol:
        """
        :param uri: the URL being connected to.
        :return: the protocol for this connection.
        """
        return self._newProtocol()


_OPEN, _CLOSING, _CLOSED = "open", "closing", "closed"


@implementer(IPushProducer)
class _OutputFlow:
    """
    Registered with the underlying connection on behalf of a
    ``WebSocketTransport`` (whose own public methods stay those a
    WebSocket user needs).
    """

    def __init__(self, ws: WebSocketTransport) -> None:
        self._ws = ws

    def pauseProducing(self) -> None:
        self._ws._pauseOutput()

    def resumeProducing(self) -> None:
        self._ws._resumeOutput()

    def stopProducing(self) -> None:
        self._ws._stopOutput()


_DONE = Failure(ConnectionDone())


class WebSocketTransport(Protocol):
    """
    One WebSocket connection, as its ``WebSocketProtocol`` sees it: send
    messages, ping, close.  It is also the protocol of the underlying byte
    connection (TCP or TLS); users do not build it themselves.

    :ivar subprotocol: the negotiated subprotocol, or ``None``.
    :ivar extensions: the negotiated ``Sec-WebSocket-Extensions`` value
        (bytes; empty when none).
    :ivar closeCode: the close code received from the peer, or ``None``.
    :ivar closeReason: the close reason received from the peer.
    """

    def __init__(
        self,
        protocol: WebSocketProtocol,
        isClient: bool,
        *,
        deflate: DeflateParameters | None = None,
        maxMessageSize: int = DEFAULT_MAX_MESSAGE_SIZE,
        maxFrameSize: int = DEFAULT_MAX_FRAME_SIZE,
        closeTimeout: float = DEFAULT_CLOSE_TIMEOUT,
        pingInterval: float | None = None,
        pingTimeout: float = DEFAULT_PING_TIMEOUT,
        subprotocol: str | None = None,
        extensions: bytes = b"",
        reactor: Any = None,
    ) -> None:
        if reactor is None:
            from torsion.internet import reactor as _reactor

            reactor = _reactor
        self._reactor = reactor
        self._protocol = protocol
        self._isClient = isClient
        self._codec = WebSocketCodec(
            isClient,
            maxMessageSize=maxMessageSize,
            maxFrameSize=maxFrameSize,
            deflate=deflate,
        )
        self._closeTimeout = closeTimeout
        self._pingInterval = pingInterval
        self._pingTimeout = pingTimeout
        self.subprotocol = subprotocol
        self.extensions = extensions
        self.closeCode: int | None = None
        self.closeReason = ""
        self._state = _OPEN
        self._opened = False
        self._pending: list[bytes] = []
        self._batch: list[bytes] | None = None
        self._userProducer: IPushProducer | None = None
        self._outputPaused = False
        self._closeSent: int | None = None
        self._failure: WebSocketProtocolError | None = None
        self._closeTimer: IDelayedCall | None = None
        self._pingTimer: IDelayedCall | None = None
        self._pongTimer: IDelayedCall | None = None
        self._lost = False
        self._pingCounter = 0

    # Sending

    def _send(self, data: bytes) -> None:
        if self._batch is not None:
            self._batch.append(data)
        elif self._opened:
            self.transport.write(data)
        else:
            self._pending.append(data)

    def sendTextMessage(self, text: str) -> None:
        """
        Send a text message (dropped once the connection is closing).

        :param text: the message.
        :raises TypeError: if ``text`` is not a ``str``.
        """
        if not isinstance(text, str):
            raise TypeError(f"sendTextMessage takes str, not {type(text).__name__}")
        if self._state is _OPEN:
            self._send(self._codec.buildMessage(text.encode("utf-8"), True))

    def sendBytesMessage(self, data: bytes) -> None:
        """
        Send a binary message (dropped once the connection is closing).

        :param data: the message.
        :raises TypeError: if ``data`` is not bytes-like.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(f"sendBytesMessage takes bytes, not {type(data).__name__}")
        if self._state is _OPEN:
            self._send(self._codec.buildMessage(bytes(data), False))

    def ping(self, payload: bytes = b"") -> None:
        """
        Send a ping; the answer arrives in the protocol's ``pongReceived``.

        :param payload: at most 125 bytes.
        :raises ValueError: if ``payload`` is longer.
        """
        if self._state is _OPEN:
            self._send(self._codec.buildPing(payload))

    def loseConnection(
        self, code: int = STATUSES.NORMAL_CLOSURE, reason: str = ""
    ) -> None:
        """
        Start the closing handshake: send a close frame with ``code`` and
        wait (at most the close timeout) for the peer's.

        :param code: the close status (1000, 1001, 3000-4999, ...).
        :param reason: optional text (truncated to fit 123 bytes of UTF-8).
        :raises ValueError: if ``code`` may not be sent.
        """
        frame = self._codec.buildClose(code, reason)
        if self._state is not _OPEN:
            return
        self._state = _CLOSING
        self._closeSent = code
        self._send(frame)
        self._stopKeepalive()
        self._closeTimer = self._reactor.callLater(
            self._closeTimeout, self._closeTimedOut
        )

    def attachProducer(self, producer: IPushProducer) -> None:
        """
        Register a push producer: it is paused while the underlying
        connection's send buffer is full and resumed when it drains.

        :param producer: an ``IPushProducer`` (it sends messages through
            this transport).
        :raises RuntimeError: if a producer is already attached.
        """
        if self._userProducer is not None:
            raise RuntimeError(
                f"cannot attach {producer!r}: {self._userProducer!r} is attached"
            )
        self._userProducer = producer
        if self._outputPaused:
            producer.pauseProducing()

    def detachProducer(self) -> None:
        """
        Detach the producer attached with ``attachProducer``.
        """
        self._userProducer = None

    # Flow control: the underlying connection pauses us when its send
    # buffer is full.  Reading from the peer stops then too, so a peer that
    # sends (pings, messages to echo) without reading what we answer is
    # slowed down by TCP instead of filling our memory.

    def _pauseOutput(self) -> None:
        self._outputPaused = True
        self.transport.pauseProducing()
        if self._userProducer is not None:
            self._userProducer.pauseProducing()

    def _resumeOutput(self) -> None:
        self._outputPaused = False
        self.transport.resumeProducing()
        if self._userProducer is not None:
            self._userProducer.resumeProducing()

    def _stopOutput(self) -> None:
        producer, self._userProducer = self._userProducer, None
        if producer is not None:
            producer.stopProducing()

    def getPeer(self) -> IAddress:
        """
        :return: the address of the remote end of the underlying connection.
        """
        address: IAddress = self.transport.getPeer()
        return address

    def getHost(self) -> IAddress:
        """
        :return: the address of the local end of the underlying connection.
        """
        address: IAddress = self.transport.getHost()
        return address

    # Underlying connection events

    def connectionMade(self) -> None:
        """
        The byte connection carries WebSocket frames from now on: flush what
        was queued, start the keepalive, tell the protocol.
        """
        self._opened = True
        if self._pending:
            pending, self._pending = self._pending, []
            self.transport.writeSequence(pending)
        self.transport.registerProducer(_OutputFlow(self), True)
        if self._state is _OPEN:
            self._scheduleKeepalive()
        self._protocol.negotiationFinished()

    def dataReceived(self, data: bytes) -> None:
        """
        Frames from the peer: decode them and dispatch their events.

        :param data: bytes received.
        """
        if self._state is _CLOSED:
            return
        error: WebSocketProtocolError | None = None
        try:
            events = self._codec.receiveData(data)
        except WebSocketProtocolError as e:
            error = e
            events = e.events
        # Frames sent while these events are handled (echoes, pongs) go out
        # in one write: one system call instead of one per message.
        batch: list[bytes] = []
        self._batch = batch
        try:
            self._dispatch(events)
        finally:
            self._batch = None
            if batch:
                self.transport.write(b"".join(batch))
        if error is not None and self._state is not _CLOSED:
            self._fail(error)

    def _dispatch(self, events: list[WebSocketEvent]) -> None:
        for event in events:
            if self._state is _CLOSED:
                return
            if isinstance(event, TextMessage):
                self._protocol.textMessageReceived(event.data)
            elif isinstance(event, BytesMessage):
                self._protocol.bytesMessageReceived(event.data)
            elif isinstance(event, Ping):
                if self._state is _OPEN:
                    self._send(self._codec.buildPong(event.payload))
            elif isinstance(event, Pong):
                if self._pongTimer is not None:
                    self._pongTimer.cancel()
                    self._pongTimer = None
                    self._scheduleKeepalive()
                self._protocol.pongReceived(event.payload)
            else:
                self._closeReceived(event)

    def _flush(self) -> None:
        batch = self._batch
        if batch:
            self.transport.write(b"".join(batch))
            del batch[:]

    def _closeReceived(self, frame: CloseFrame) -> None:
        self.closeCode = frame.code
        self.closeReason = frame.reason
        if self._state is _OPEN:
            # Echo the peer's code, as RFC 6455 section 5.5.1 suggests.
            self._send(self._codec.buildClose(frame.code))
            self._closeSent = frame.code
        self._state = _CLOSED
        self._stopKeepalive()
        if self._closeTimer is not None:
            self._closeTimer.cancel()
            self._closeTimer = None
        if self._isClient:
            # The server closes the TCP connection first (section 7.1.1);
            # do it ourselves only if it does not.
            self._closeTimer = self._reactor.callLater(
                self._closeTimeout, self._closeTimedOut
            )
        else:
            self._flush()
            self.transport.loseConnection()

    def _fail(self, error: WebSocketProtocolError) -> None:
        self._failure = error
        if self._state is _OPEN:
            self._send(self._codec.buildClose(error.code, error.reason))
            self._closeSent = error.code
        self._state = _CLOSED
        self._stopKeepalive()
        if self._closeTimer is not None:
            self._closeTimer.cancel()
            self._closeTimer = None
        self._flush()
        self.transport.loseConnection()

    def _closeTimedOut(self) -> None:
        self._closeTimer = None
        self._state = _CLOSED
        self.transport.abortConnection()

    # Keepalive

    def _scheduleKeepalive(self) -> None:
        if self._pingInterval is not None and self._pingTimer is None:
            self._pingTimer = self._reactor.callLater(
                self._pingInterval, self._keepalive
            )

    def _keepalive(self) -> None:
        self._pingTimer = None
        if self._state is not _OPEN:
            return
        self._pingCounter += 1
        self._send(self._codec.buildPing(b"keepalive %d" % self._pingCounter))
        self._pongTimer = self._reactor.callLater(
            self._pingTimeout, self._keepaliveTimedOut
        )

    def _keepaliveTimedOut(self) -> None:
        self._pongTimer = None
        self._fail(
            WebSocketProtocolError(CLOSE_INTERNAL_ERROR, "keepalive ping timeout")
        )

    def _stopKeepalive(self) -> None:
        for name in ("_pingTimer", "_pongTimer"):
            timer = getattr(self, name)
            if timer is not None:
                timer.cancel()
                setattr(self, name, None)

    def connectionLost(self, reason: Failure = _DONE) -> None:
        """
        The byte connection is gone: cancel the timers and tell the
        protocol how the WebSocket ended.

        :param reason: why the byte connection ended.
        """
        if self._lost:
            return
        self._lost = True
        self._state = _CLOSED
        self._stopKeepalive()
        if self._closeTimer is not None:
            self._closeTimer.cancel()
            self._closeTimer = None
        if self._failure is not None:
            outcome: Exception = WebSocketConnectionLost(
                self._failure.code, str(self._failure)
            )
        elif self.closeCode is not None and self._closeSent is not None:
            outcome = WebSocketConnectionClosed(self.closeCode, self.closeReason)
        else:
            code = self._closeSent if self._closeSent is not None else CLOSE_ABNORMAL
            outcome = WebSocketConnectionLost(
                code, f"connection lost without a closing handshake ({reason.value})"
            )
        self._protocol.connectionLost(Failure(outcome))


def _newTransport(
    protocol: WebSocketProtocol,
    isClient: bool,
    options: WebSocketResource | WebSocketClientEndpoint,
    deflate: DeflateParameters | None,
    subprotocol: str | None,
    extensions: bytes,
    reactor: Any,
) -> WebSocketTransport:
    # The connection's limits and timers are those of the resource (server)
    # or endpoint (client) it was opened through.
    return WebSocketTransport(
        protocol,
        isClient,
        deflate=deflate,
        maxMessageSize=options.maxMessageSize,
        maxFrameSize=options.maxFrameSize,
        closeTimeout=options.closeTimeout,
        pingInterval=options.pingInterval,
        pingTimeout=options.pingTimeout,
        subprotocol=subprotocol,
        extensions=extensions,
        reactor=reactor,
    )


def _headerValues(request: IRequest, name: bytes) -> list[bytes]:
    return list(request.requestHeaders.getRawHeaders(name) or [])


def _simpleError(
    request: IRequest, code: int, message: str, headers: Mapping[bytes, bytes] = {}
) -> bytes:
    request.setResponseCode(code)
    request.setHeader(b"content-type", b"text/plain; charset=utf-8")
    for name, value in headers.items():
        request.setHeader(name, value)
    return message.encode("utf-8") + b"\n"


def _switchProtocols(request: IRequest, transport: WebSocketTransport) -> None:
    """
    Send the ``101`` head and hand the request's connection to
    ``transport`` (the HTTP/1.1 channel's protocol switch).
    """
    channel = getattr(request, "channel", None)
    switch = getattr(channel, "_switchProtocol", None)
    if switch is None:
        raise RuntimeError(
            "this request's connection cannot switch protocols: WebSocket needs"
            " torsion.web's HTTP/1.1 server (HTTPChannel._switchProtocol)"
        )
    # An empty write sends the (bodyless) 101 head before the switch.
    request.write(b"")
    switch(transport)


@implementer(IResource)
class WebSocketResource:
    """
    A leaf resource accepting WebSocket connections (RFC 6455 section 4.2).

    It checks the opening handshake (``GET``, HTTP/1.1, ``Upgrade:
    websocket``, ``Connection: upgrade``, ``Sec-WebSocket-Version: 13``,
    a valid ``Sec-WebSocket-Key``, the ``Origin`` when ``allowedOrigins``
    is set), negotiates a subprotocol and ``permessage-deflate``, asks the
    factory for a protocol and answers ``101``.  A failed check answers
    400 (426 for a missing upgrade or another version, 403 for a refused
    origin, 405 for another method).

    :param factory: a ``WebSocketServerFactory`` (anything with
        ``buildProtocol(request)``), or a callable without arguments
        returning a ``WebSocketProtocol`` (e.g. the protocol class).
    :param subprotocols: the subprotocols this server speaks, best first;
        the first one the client also offered is chosen.
    :param allowedOrigins: when not ``None``, the ``Origin`` values
        accepted (exact strings such as ``"https://example.com"``; include
        ``None`` to admit clients that send no ``Origin``).
    :param compression: the ``permessage-deflate`` policy, or ``None`` to
        never negotiate compression.
    :param maxMessageSize: largest message accepted (after decompression);
        a bigger one closes the connection with 1009.
    :param maxFrameSize: largest frame accepted.
    :param closeTimeout: seconds to wait for the client's close frame.
    :param pingInterval: seconds between keepalive pings
        (``DEFAULT_PING_INTERVAL``), ``None`` for none: a client that stops
        answering is disconnected ``pingTimeout`` seconds after a ping.
    :param pingTimeout: seconds a keepalive ping waits for its pong before
        the connection is closed with 1011.
    :param reactor: the reactor for timers; the global one by default.
    """

    isLeaf = True

    def __init__(
        self,
        factory: Any,
        *,
        subprotocols: Sequence[str] = (),
        allowedOrigins: Collection[str | None] | None = None,
        compression: DeflateOptions | None = _DEFAULT_DEFLATE,
        maxMessageSize: int = DEFAULT_MAX_MESSAGE_SIZE,
        maxFrameSize: int = DEFAULT_MAX_FRAME_SIZE,
        closeTimeout: float = DEFAULT_CLOSE_TIMEOUT,
        pingInterval: float | None = DEFAULT_PING_INTERVAL,
        pingTimeout: float = DEFAULT_PING_TIMEOUT,
        reactor: Any = None,
    ) -> None:
        self.factory = factory
        self.subprotocols = list(subprotocols)
        self.allowedOrigins = allowedOrigins
        self.compression = compression
        self.maxMessageSize = maxMessageSize
        self.maxFrameSize = maxFrameSize
        self.closeTimeout = closeTimeout
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.reactor = reactor

    def getChildWithDefault(self, name: bytes, request: IRequest) -> IResource:
        """
        :return: this resource: it handles every path below it.
        """
        return self

    def putChild(self, path: bytes, child: IResource) -> None:
        """
        :raises NotImplementedError: a WebSocket endpoint has no children.
        """
        raise NotImplementedError("a WebSocketResource has no children")

    def _buildProtocol(self, request: IRequest) -> WebSocketProtocol:
        build = getattr(self.factory, "buildProtocol", None)
        if build is not None:
            return build(request)  # type: ignore[no-any-return]
        return self.factory()  # type: ignore[no-any-return]

    def render(self, request: IRequest) -> bytes | int:
        """
        Check the handshake and switch the connection to WebSocket.

        :param request: the upgrade request.
        :return: an error body, or ``NOT_DONE_YET`` after a switch.
        """
        from torsion.web.resource import NOT_DONE_YET

        if request.method != b"GET":
            return _simpleError(
                request, 405, "WebSocket handshakes use GET", {b"allow": b"GET"}
            )
        if request.clientproto != b"HTTP/1.1":
            return _simpleError(request, 400, "WebSocket handshakes need HTTP/1.1")
        upgrade = [t.lower() for t in parseTokens(_headerValues(request, b"upgrade"))]
        if b"websocket" not in upgrade:
            return _simpleError(
                request,
                426,
                "this resource only speaks WebSocket",
                {b"upgrade": b"websocket", b"connection": b"Upgrade"},
            )
        connection = [
            t.lower() for t in parseTokens(_headerValues(request, b"connection"))
        ]
        if b"upgrade" not in connection:
            return _simpleError(
                request, 400, "Connection header lacks the upgrade token"
            )
        versions = parseTokens(_headerValues(request, b"sec-websocket-version"))
        if versions != [b"13"]:
            return _simpleError(
                request,
                426,
                "unsupported WebSocket version",
                {b"sec-websocket-version": b"13"},
            )
        keys = _headerValues(request, b"sec-websocket-key")
        if len(keys) != 1 or not isValidKey(keys[0].strip()):
            return _simpleError(request, 400, "missing or invalid Sec-WebSocket-Key")
        key = keys[0].strip()
        if self.allowedOrigins is not None:
            origins = _headerValues(request, b"origin")
            origin = origins[0].decode("latin-1") if len(origins) == 1 else None
            if len(origins) > 1 or origin not in self.allowedOrigins:
                return _simpleError(request, 403, "origin not allowed")
        offered = [
            t.decode("latin-1")
            for t in parseTokens(_headerValues(request, b"sec-websocket-protocol"))
        ]
        subprotocol = next((p for p in self.subprotocols if p in offered), None)
        deflate: DeflateParameters | None = None
        extensions = b""
        if self.compression is not None:
            try:
                offers = parseExtensions(
                    _headerValues(request, b"sec-websocket-extensions")
                )
            except HandshakeError as e:
                return _simpleError(request, 400, str(e))
            accepted = serverAcceptDeflate(offers, self.compression)
            if accepted is not None:
                extensions, deflate = accepted
        try:
            protocol = self._buildProtocol(request)
            transport = _newTransport(
                protocol, False, self, deflate, subprotocol, extensions, self.reactor
            )
            protocol.negotiationStarted(transport)
        except ConnectionRejected as e:
            return _simpleError(request, e.code, e.message)
        request.setResponseCode(101, b"Switching Protocols")
        request.setHeader(b"upgrade", b"websocket")
        request.setHeader(b"connection", b"Upgrade")
        request.setHeader(b"sec-websocket-accept", acceptFor(key))
        if subprotocol is not None:
            request.setHeader(b"sec-websocket-protocol", subprotocol.encode("latin-1"))
        if extensions:
            request.setHeader(b"sec-websocket-extensions", extensions)
        _switchProtocols(request, transport)
        return NOT_DONE_YET


class _ClientHandshake(Protocol):
    """
    The client side of the opening handshake; after a valid ``101`` it
    passes everything on to the ``WebSocketTransport``.
    """

    def __init__(self, endpoint: WebSocketClientEndpoint, factory: Any) -> None:
        self._endpoint = endpoint
        self._factory = factory
        self._key = newKey()
        self._parser = ResponseHeadParser()
        self._ws: WebSocketTransport | None = None
        self.deferred: Deferred[WebSocketProtocol] = Deferred(self._cancel)
        self._timer: IDelayedCall | None = None
        self._protocol: WebSocketProtocol | None = None

    def connectionMade(self) -> None:
        ep = self._endpoint
        self._timer = ep._reactor.callLater(ep.handshakeTimeout, self._timedOut)
        lines = [
            b"GET " + ep.resource + b" HTTP/1.1",
            b"Host: " + ep.hostHeader,
            b"Upgrade: websocket",
            b"Connection: Upgrade",
            b"Sec-WebSocket-Key: " + self._key,
            b"Sec-WebSocket-Version: 13",
        ]
        if ep.subprotocols:
            lines.append(
                b"Sec-WebSocket-Protocol: "
                + ", ".join(ep.subprotocols).encode("latin-1")
            )
        if ep.compression is not None:
            lines.append(b"Sec-WebSocket-Extensions: " + clientOffer(ep.compression))
        if ep.origin is not None:
            lines.append(b"Origin: " + ep.origin.encode("latin-1"))
        for name, values in ep.headers.getAllRawHeaders():
            for value in values:
                lines.append(name + b": " + value)
        self.transport.write(b"\r\n".join(lines) + b"\r\n\r\n")

    def _cancel(self, deferred: Deferred[WebSocketProtocol]) -> None:
        # Cancelling connect() during the handshake drops the connection;
        # the Deferred itself fails with CancelledError.
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.transport is not None:
            self.transport.abortConnection()

    def _timedOut(self) -> None:
        self._timer = None
        self._failHandshake(
            HandshakeError("the server did not answer the handshake in time")
        )

    def _failHandshake(self, error: Exception) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.transport.abortConnection()
        if not self.deferred.called:
            self.deferred.errback(Failure(error))

    def dataReceived(self, data: bytes) -> None:
        if self._ws is not None:
            self._ws.dataReceived(data)
            return
        if self.deferred.called:
            return
        try:
            parsed = self._parser.feed(data)
            if parsed is None:
                return
            head, rest = parsed
            ws = self._accept(head)
        except HandshakeError as e:
            self._failHandshake(e)
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._ws = ws
        ws.makeConnection(self.transport)
        assert self._protocol is not None
        self.deferred.callback(self._protocol)
        if rest:
            ws.dataReceived(rest)

    def _accept(self, head: Any) -> WebSocketTransport:
        ep = self._endpoint
        if head.code != 101:
            raise ConnectionRejected(
                f"the server refused the WebSocket handshake: {head.code} "
                f"{head.phrase.decode('latin-1')}",
                head.code,
                head,
            )
        if b"websocket" not in [t.lower() for t in parseTokens(head.get(b"upgrade"))]:
            raise HandshakeError("101 answer without Upgrade: websocket")
        if b"upgrade" not in [t.lower() for t in parseTokens(head.get(b"connection"))]:
            raise HandshakeError("101 answer without Connection: upgrade")
        accept = head.get(b"sec-websocket-accept")
        if accept is None or len(accept) != 1 or accept[0] != acceptFor(self._key):
            raise HandshakeError("wrong Sec-WebSocket-Accept in the server's answer")
        protocols = parseTokens(head.get(b"sec-websocket-protocol"))
        subprotocol = None
        if protocols:
            chosen = protocols[0].decode("latin-1")
            if len(protocols) != 1 or chosen not in ep.subprotocols:
                raise HandshakeError(
                    f"server chose a subprotocol not offered: {chosen!r}"
                )
            subprotocol = chosen
        extensionValues = head.get(b"sec-websocket-extensions")
        deflate = clientAcceptDeflate(extensionValues, ep.compression)
        self._protocol = protocol = (
            self._factory.buildProtocol(ep.url)
            if hasattr(self._factory, "buildProtocol")
            else self._factory()
        )
        ws = _newTransport(
            protocol,
            True,
            ep,
            deflate,
            subprotocol,
            b", ".join(extensionValues or []),
            ep._reactor,
        )
        protocol.negotiationStarted(ws)
        return ws

    def connectionLost(self, reason: Failure = _DONE) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._ws is not None:
            self._ws.connectionLost(reason)
        elif not self.deferred.called:
            self.deferred.errback(
                Failure(
                    HandshakeError(
                        f"connection lost during the handshake: {reason.value}"
                    )
                )
            )


class WebSocketClientEndpoint:
    """
    Where a WebSocket client connects: a ``ws://`` or ``wss://`` URL and the
    handshake's options.  Build it with ``new``.
    """

    def __init__(
        self,
        reactor: Any,
        url: str,
        endpoint: Any,
        resource: bytes,
        hostHeader: bytes,
        subprotocols: Sequence[str],
        headers: Headers,
        origin: str | None,
        compression: DeflateOptions | None,
        maxMessageSize: int,
        maxFrameSize: int,
        closeTimeout: float,
        pingInterval: float | None,
        pingTimeout: float,
        handshakeTimeout: float,
    ) -> None:
        self._reactor = reactor
        self.url = url
        self.endpoint = endpoint
        self.resource = resource
        self.hostHeader = hostHeader
        self.subprotocols = list(subprotocols)
        self.headers = headers
        self.origin = origin
        self.compression = compression
        self.maxMessageSize = maxMessageSize
        self.maxFrameSize = maxFrameSize
        self.closeTimeout = closeTimeout
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.handshakeTimeout = handshakeTimeout

    @classmethod
    def new(
        cls,
        reactor: Any,
        url: str,
        subprotocols: Sequence[str] | None = None,
        headers: Headers | Mapping[bytes | str, Sequence[bytes | str]] | None = None,
        origin: str | None = None,
        *,
        compression: DeflateOptions | None = _DEFAULT_DEFLATE,
        tlsOptions: Any = None,
        connectTimeout: float = 30,
        bindAddress: tuple[str, int] | None = None,
        maxMessageSize: int = DEFAULT_MAX_MESSAGE_SIZE,
        maxFrameSize: int = DEFAULT_MAX_FRAME_SIZE,
        closeTimeout: float = DEFAULT_CLOSE_TIMEOUT,
        pingInterval: float | None = None,
        pingTimeout: float = DEFAULT_PING_TIMEOUT,
        handshakeTimeout: float = DEFAULT_HANDSHAKE_TIMEOUT,
    ) -> WebSocketClientEndpoint:
        """
        :param reactor: the reactor to connect with.
        :param url: ``ws://host[:port]/path?query`` or ``wss://...``.
        :param subprotocols: subprotocols to offer, best first.
        :param headers: extra request headers (a ``Headers`` or a mapping of
            name to list of values).
        :param origin: the ``Origin`` header to send, if any.
        :param compression: the ``permessage-deflate`` offer, or ``None``.
        :param tlsOptions: for ``wss://``, the client TLS options; by
            default ``optionsForClientTLS(host)`` (verified against the
            system's trust roots).
        :param connectTimeout: seconds a TCP connection attempt may take.
        :param bindAddress: a local ``(host, port)`` to connect from.
        :param maxMessageSize: largest message accepted from the server.
        :param maxFrameSize: largest frame accepted from the server.
        :param closeTimeout: seconds to wait for the closing handshake.
        :param pingInterval: seconds between keepalive pings, or ``None``.
        :param pingTimeout: seconds a keepalive ping waits for its pong.
        :param handshakeTimeout: seconds to wait for the server's ``101``.
        :return: the endpoint.
        :raises ValueError: for a URL that is not ``ws``/``wss`` or contains
            whitespace or control characters.
        """
        if any(c in url for c in "\r\n\t\x00 "):
            raise ValueError(f"invalid WebSocket URL {url!r}")
        parts = urlsplit(url)
        if parts.scheme not in ("ws", "wss") or not parts.hostname:
            raise ValueError(f"not a ws:// or wss:// URL: {url!r}")
        secure = parts.scheme == "wss"
        host = parts.hostname
        port = parts.port or (443 if secure else 80)
        hostText = f"[{host}]" if ":" in host else host
        if port != (443 if secure else 80):
            hostText += f":{port}"
        resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        from torsion.internet.endpoints import HostnameEndpoint

        endpoint: Any = HostnameEndpoint(
            reactor, host, port, timeout=connectTimeout, bindAddress=bindAddress
        )
        if secure:
            from torsion.internet.endpoints import wrapClientTLS
            from torsion.internet.ssl import optionsForClientTLS

            endpoint = wrapClientTLS(tlsOptions or optionsForClientTLS(host), endpoint)
        if isinstance(headers, Headers):
            extra = headers.copy()
        else:
            extra = Headers()
            for name, values in (headers or {}).items():
                extra.setRawHeaders(name, list(values))
        return cls(
            reactor,
            url,
            endpoint,
            resource.encode("ascii"),
            hostText.encode("idna" if not hostText.isascii() else "ascii"),
            subprotocols or (),
            extra,
            origin,
            compression,
            maxMessageSize,
            maxFrameSize,
            closeTimeout,
            pingInterval,
            pingTimeout,
            handshakeTimeout,
        )

    def connect(self, factory: Any) -> Deferred[WebSocketProtocol]:
        """
        Connect and perform the opening handshake.

        :param factory: a ``WebSocketClientFactory`` (anything with
            ``buildProtocol(url)``) or a callable returning a protocol.
        :return: a Deferred firing with the connected protocol, after its
            ``negotiationFinished``; it fails with ``ConnectionRejected``
            when the server answers with another status, and with
            ``HandshakeError`` when its ``101`` is not valid for this
            request.
        """
        from torsion.internet.endpoints import connectProtocol

        handshake = _ClientHandshake(self, factory)
        connecting = connectProtocol(self.endpoint, handshake)

        def connected(_: object) -> Deferred[WebSocketProtocol]:
            return handshake.deferred

        return connecting.addCallback(connected)
