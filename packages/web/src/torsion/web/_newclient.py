"""
The HTTP/1.1 client connection: ``HTTP11ClientProtocol`` sends one
``Request`` at a time over a transport and delivers the ``Response``.

Most users want ``torsion.web.client.Agent``, which makes connections,
keeps them in a pool and uses this protocol on each.  This module is the
layer beneath it: useful to speak HTTP over a transport you already have,
and to test.

Response bytes are parsed by torsion-web's one sans-I/O HTTP parser, with the
same limits as the server side (a head larger than ``MAX_HEAD_SIZE``, more
than ``MAX_HEADERS`` header lines, a malformed status line or chunk framing
fails the request with ``ResponseFailed`` and the connection is closed,
never reused).

Requests are validated before a byte is written: a method that is not a
token, a request target with whitespace or control characters, or a header
value with CR or LF raises ``ValueError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from zope.interface import implementer

from torsion.internet.defer import Deferred, fail, succeed
from torsion.internet.error import ConnectionDone
from torsion.internet.interfaces import IConsumer, IPushProducer
from torsion.internet.protocol import Protocol, connectionDone
from torsion.python.failure import Failure
from torsion.web._clientparse import (
    MAX_HEAD_SIZE,
    MAX_HEADERS,
    EndOfResponse,
    InformationalResponse,
    ResponseBodyData,
    ResponseHead,
    ResponseParseError,
    ResponseReader,
)
from torsion.web.http_headers import Headers
from torsion.web.http_headers import _canonicalCached as _canonical
from torsion.web.iweb import UNKNOWN_LENGTH, IClientRequest, IResponse

__all__ = [
    "MAX_HEADERS",
    "MAX_HEAD_SIZE",
    "ConnectionAborted",
    "HTTP11ClientProtocol",
    "PotentialDataLoss",
    "Request",
    "RequestGenerationFailed",
    "RequestNotSent",
    "RequestTransmissionFailed",
    "Response",
    "ResponseDone",
    "ResponseFailed",
    "ResponseNeverReceived",
    "ResponseParseError",
]


# -- errors ---------------------------------------------------------------------


class _WrapperException(Exception):
    """
    An error that carries the failures which caused it.

    :param reasons: the ``Failure`` instances behind this error.
    """

    def __init__(self, reasons: Sequence[Failure]) -> None:
        Exception.__init__(self, reasons)
        self.reasons = list(reasons)

    def __str__(self) -> str:
        causes = "; ".join(f"{type(r.value).__name__}: {r.value}" for r in self.reasons)
        return f"{type(self).__name__}: {causes}" if causes else type(self).__name__


class RequestGenerationFailed(_WrapperException):
    """
    The request body producer failed while the request was being written;
    ``reasons`` holds its failure.
    """


class RequestTransmissionFailed(_WrapperException):
    """
    The connection failed while the request was being written.
    """


class ResponseFailed(_WrapperException):
    """
    The response could not be received completely, or was malformed;
    ``reasons`` says why (a ``ResponseParseError`` for a malformed response,
    a ``ConnectionLost`` for a dropped connection, ...).

    :param reasons: the failures.
    :param response: the response, if its head had arrived.
    """

    def __init__(self, reasons: Sequence[Failure], response: Any = None) -> None:
        _WrapperException.__init__(self, reasons)
        self.response = response


class ResponseNeverReceived(ResponseFailed):
    """
    The connection closed before any byte of the response arrived.
    """


class RequestNotSent(Exception):
    """
    The request was not sent: the connection was busy with another request
    or already closed.
    """


class ResponseDone(Exception):
    """
    Passed (in a ``Failure``) to a body protocol's ``connectionLost`` when
    the whole body has been delivered.
    """


class PotentialDataLoss(Exception):
    """
    Passed to a body protocol's ``connectionLost`` when the body ended with
    the connection and the response gave no length: it may be complete, or
    the connection may have been cut.
    """


class ConnectionAborted(Exception):
    """
    The connection was aborted by the client (``HTTP11ClientProtocol.abort``).
    """


# -- requests -------------------------------------------------------------------

#: RFC 9110 ``token`` (methods).
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
#: A request target may contain neither whitespace nor control characters.
_BAD_TARGET = re.compile(rb"[\x00-\x20\x7f-\xff]")
_IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"TRACE", b"PUT", b"DELETE"})


def _validateMethod(method: bytes) -> bytes:
    if not isinstance(method, bytes):
        raise TypeError(f"the method must be bytes, not {type(method).__name__}")
    if not _TOKEN.match(method):
        raise ValueError(f"invalid HTTP method: {method!r}")
    return method


def _validateTarget(target: bytes) -> bytes:
    if not isinstance(target, bytes):
        raise TypeError(f"the URI must be bytes, not {type(target).__name__}")
    if not target or _BAD_TARGET.search(target):
        raise ValueError(
            f"invalid request URI (empty, or whitespace/control characters): {target!r}"
        )
    return target


@implementer(IClientRequest)
class Request:
    """
    An HTTP request to send with ``HTTP11ClientProtocol.request``.

    :param method: the method, such as ``b"GET"`` (an RFC 9110 token).
    :param uri: the request target, such as ``b"/index.html?x=1"`` (or an
        absolute URI, to a proxy).
    :param headers: the header fields; the ``Host`` field belongs here.
    :param bodyProducer: an ``IBodyProducer`` for the body, or ``None``.
    :param persistent: whether to keep the connection for another request;
        when false ``Connection: close`` is sent.
    :raises ValueError: for a method that is not a token or a target
        containing whitespace or control characters (nothing is sent).
    """

    #: Seconds to wait for ``100 Continue`` before sending the body anyway,
    #: when the request carries ``Expect: 100-continue``.
    expectContinueTimeout: float = 1.0

    def __init__(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers,
        bodyProducer: Any,
        persistent: bool = False,
    ) -> None:
        self.method = _validateMethod(method)
        self.uri = _validateTarget(uri)
        if not isinstance(headers, Headers):
            raise TypeError(f"headers must be a Headers, not {type(headers).__name__}")
        self.headers = headers
        self.bodyProducer = bodyProducer
        self.persistent = persistent
        self._parsedURI: Any = None

    @classmethod
    def _construct(
        cls,
        method: bytes,
        uri: bytes,
        headers: Headers,
        bodyProducer: Any,
        persistent: bool,
        parsedURI: Any,
    ) -> Request:
        # The agents have already checked the method and made ``headers``
        # a ``Headers``; only the target, built from the URI, is checked.
        request = cls.__new__(cls)
        request.method = method
        request.uri = _validateTarget(uri)
        request.headers = headers
        request.bodyProducer = bodyProducer
        request.persistent = persistent
        request._parsedURI = parsedURI
        return request

    @property
    def absoluteURI(self) -> bytes | None:
        """
        The absolute URI this request was made for, or ``None`` when the
        request was built without one.
        """
        if self._parsedURI is None:
            return None
        result: bytes = self._parsedURI.toBytes()
        return result

    def _expectsContinue(self) -> bool:
        if self.bodyProducer is None:
            return False
        values = self.headers.getRawHeaders(b"expect") or []
        return any(v.strip().lower() == b"100-continue" for v in values)

    def _head(self) -> bytes:
        lines = [self.method, b" ", self.uri, b" HTTP/1.1\r\n"]
        for name, value in self.headers._items():
            # The framing is decided here, from the body producer.
            if name in (b"content-length", b"transfer-encoding"):
                continue
            lines += [_canonical(name), b": ", value, b"\r\n"]
        if not self.persistent and b"connection" not in self.headers._raw:
            lines.append(b"Connection: close\r\n")
        producer = self.bodyProducer
        if producer is not None:
            length = producer.length
            if length is UNKNOWN_LENGTH:
                lines.append(b"Transfer-Encoding: chunked\r\n")
            else:
                lines += [b"Content-Length: ", b"%d" % length, b"\r\n"]
        elif self.method in (b"POST", b"PUT", b"PATCH"):
            lines.append(b"Content-Length: 0\r\n")
        lines.append(b"\r\n")
        return b"".join(lines)

    def writeTo(self, transport: Any) -> Deferred[None]:
        """
        Write the whole request (head then body) to ``transport``.

        :return: a Deferred firing when the body has been written, or
            failing with ``RequestGenerationFailed`` if the body producer
            failed.
        """
        transport.write(self._head())
        return self._writeBody(transport)

    def _writeBody(self, transport: Any) -> Deferred[None]:
        producer = self.bodyProducer
        if producer is None:
            return succeed(None)
        self._bodyWriter = _BodyWriter(producer, transport)
        return self._bodyWriter.start()

    def stopWriting(self) -> None:
        """
        Stop the body producer (the connection failed while it was writing).
        """
        writer = getattr(self, "_bodyWriter", None)
        if writer is not None:
            writer.stop()


@implementer(IConsumer)
class _BodyWriter:
    """
    The consumer a body producer writes to: frames the body as chunks when
    its length is unknown, and checks that a declared length is honoured.
    """

    def __init__(self, producer: Any, transport: Any) -> None:
        self._producer = producer
        self._transport = transport
        self._chunked = producer.length is UNKNOWN_LENGTH
        self._remaining = None if self._chunked else int(producer.length)
        self._done = False
        self._failed: Exception | None = None

    def start(self) -> Deferred[None]:
        self._transport.registerProducer(self._producer, True)
        try:
            produced = self._producer.startProducing(self)
        except Exception:
            self._finish()
            return fail(RequestGenerationFailed([Failure()]))
        result: Deferred[None] = Deferred()

        def succeeded(_: object) -> None:
            if self._done:
                return
            self._finish()
            if self._failed is not None:
                result.errback(RequestGenerationFailed([Failure(self._failed)]))
                return
            if self._chunked:
                self._transport.write(b"0\r\n\r\n")
            elif self._remaining:
                result.errback(
                    RequestGenerationFailed(
                        [
                            Failure(
                                ValueError(
                                    f"the body producer wrote {self._remaining} "
                                    "bytes fewer than its length"
                                )
                            )
                        ]
                    )
                )
                return
            result.callback(None)

        def failed(reason: Failure) -> None:
            if self._done:
                return
            self._finish()
            result.errback(RequestGenerationFailed([reason]))

        produced.addCallbacks(succeeded, failed)
        return result

    def _finish(self) -> None:
        if not self._done:
            self._done = True
            self._transport.unregisterProducer()

    def stop(self) -> None:
        if not self._done:
            self._finish()
            self._producer.stopProducing()

    def write(self, data: bytes) -> None:
        if self._done or self._failed is not None:
            return
        if not data:
            return
        if self._chunked:
            self._transport.writeSequence([b"%x\r\n" % len(data), data, b"\r\n"])
            return
        assert self._remaining is not None
        if len(data) > self._remaining:
            self._failed = ValueError(
                "the body producer wrote more bytes than its length"
            )
            self._producer.stopProducing()
            return
        self._remaining -= len(data)
        self._transport.write(data)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        raise RuntimeError("a request body producer writes through its own consumer")

    def unregisterProducer(self) -> None:
        pass


# -- responses ------------------------------------------------------------------


@implementer(IPushProducer)
class _BodyTransport:
    """
    What a body protocol sees as its transport: it may pause, resume or stop
    the delivery of the body, and nothing more.  Detached once the body is
    finished, so the protocol cannot affect a connection back in the pool.
    """

    def __init__(self, connection: HTTP11ClientProtocol) -> None:
        self._connection: HTTP11ClientProtocol | None = connection
        self._paused = False

    def pauseProducing(self) -> None:
        if self._connection is not None and not self._paused:
            self._paused = True
            self._connection._pauseTransport()

    def resumeProducing(self) -> None:
        if self._connection is not None and self._paused:
            self._paused = False
            self._connection._resumeTransport()

    def stopProducing(self) -> None:
        """
        Give up on the body: the connection is closed.
        """
        if self._connection is not None:
            connection = self._connection
            self._detach()
            connection._abortBody()

    def loseConnection(self) -> None:
        """
        The same as ``stopProducing``.
        """
        self.stopProducing()

    def _detach(self) -> None:
        if self._connection is not None and self._paused:
            self._paused = False
            self._connection._resumeTransport()
        self._connection = None


#: Body bytes held for a response whose ``deliverBody`` has not been called
#: yet; past this, reading from the connection pauses until it is called.
_UNDELIVERED_BUFFER = 65536


@implementer(IResponse)
class Response:
    """
    A response to an HTTP request: status and headers at once, the body
    through ``deliverBody``.

    :param version: ``(b"HTTP", major, minor)``.
    :param code: the status code.
    :param phrase: the reason phrase.
    :param headers: the response header fields.
    :param transport: what a body protocol may pause and stop.
    :param request: the ``IClientRequest`` answered.
    """

    def __init__(
        self,
        version: tuple[bytes, int, int],
        code: int,
        phrase: bytes,
        headers: Headers,
        transport: Any,
        request: Any = None,
    ) -> None:
        self.version = version
        self.code = code
        self.phrase = phrase
        self.headers = headers
        self.request = request
        self.previousResponse: Any = None
        self.length: int | str = UNKNOWN_LENGTH
        self._transport = transport
        self._bodyProtocol: Any = None
        self._buffer: list[bytes] = []
        self._buffered = 0
        self._pausedForBuffer = False
        self._finished: Failure | None = None
        self._delivered = False

    def __repr__(self) -> str:
        return f"<Response {self.code} {self.phrase!r}>"

    def setPreviousResponse(self, response: Any) -> None:
        """
        Record the response that redirected to this one.

        :param response: the earlier response.
        """
        self.previousResponse = response

    def deliverBody(self, protocol: Any) -> None:
        """
        Deliver the body to ``protocol``: ``makeConnection`` with a transport
        it may ``pauseProducing``/``resumeProducing``/``stopProducing``, then
        ``dataReceived`` for each piece, then ``connectionLost`` with
        ``ResponseDone`` (complete), ``PotentialDataLoss`` (ended with the
        connection, no length given) or ``ResponseFailed``.

        :param protocol: an ``IProtocol``.
        :raises RuntimeError: when called twice.
        """
        if self._delivered:
            raise RuntimeError("the response body has already been delivered")
        self._delivered = True
        self._bodyProtocol = protocol
        protocol.makeConnection(self._transport)
        buffered, self._buffer = self._buffer, []
        self._buffered = 0
        for data in buffered:
            protocol.dataReceived(data)
        if self._pausedForBuffer:
            self._pausedForBuffer = False
            self._transport.resumeProducing()
        if self._finished is not None:
            self._deliverEnd(self._finished)

    def _bodyDataReceived(self, data: bytes) -> None:
        if self._bodyProtocol is not None:
            self._bodyProtocol.dataReceived(data)
            return
        self._buffer.append(data)
        self._buffered += len(data)
        if self._buffered > _UNDELIVERED_BUFFER and not self._pausedForBuffer:
            self._pausedForBuffer = True
            self._transport.pauseProducing()

    def _bodyDataFinished(self, reason: Failure) -> None:
        if self._finished is not None:
            return
        self._finished = reason
        if self._bodyProtocol is not None:
            self._deliverEnd(reason)

    def _deliverEnd(self, reason: Failure) -> None:
        if isinstance(self._transport, _BodyTransport):
            self._transport._detach()
        protocol, self._bodyProtocol = self._bodyProtocol, _Done
        if protocol is not _Done:
            protocol.connectionLost(reason)


_Done = object()


# -- the connection -------------------------------------------------------------


class HTTP11ClientProtocol(Protocol):
    """
    One HTTP/1.1 client connection, carrying one request at a time.

    :param quiescentCallback: called with this protocol whenever a response
        has been completely received and the connection can carry another
        request (it was persistent and is still open).
    :param clock: the ``IReactorTime`` for the ``100-continue`` wait (the
        global reactor when ``None``).
    """

    #: Response head limits, the same as the server side's.
    maxHeadSize = MAX_HEAD_SIZE
    maxHeaders = MAX_HEADERS

    def __init__(
        self,
        quiescentCallback: Callable[[HTTP11ClientProtocol], object] = lambda p: None,
        clock: Any = None,
    ) -> None:
        self._quiescentCallback = quiescentCallback
        self._clock = clock
        self._state = "QUIESCENT"
        self._reader: ResponseReader | None = None
        self._request: Request | None = None
        self._responseDeferred: Deferred[Response] | None = None
        self._response: Response | None = None
        self._requestWritten = False
        self._responseDone = False
        self._persistentAfter = False
        self._gotBytes = False
        self._continueCall: Any = None
        self._bodyHeld = False
        self._forceClose = False
        self._writtenDeferred: Deferred[None] | None = None
        self._transportPaused = 0
        self._lostDeferreds: list[Deferred[None]] = []
        self._onConnectionLost: Callable[[HTTP11ClientProtocol], object] | None = None

    @property
    def state(self) -> str:
        """
        ``"QUIESCENT"`` (idle, may carry a request), ``"TRANSMITTING"``
        (writing the request), ``"WAITING"`` (for the response),
        ``"RECEIVING"`` (the response body), ``"CLOSING"`` (done, not to be
        reused), ``"ABORTING"`` or ``"CONNECTION_LOST"``.
        """
        return self._state

    # requests

    def request(self, request: Request) -> Deferred[Response]:
        """
        Send ``request``.

        :param request: the request.
        :return: a Deferred firing with the ``Response`` once its head has
            arrived (the body follows through ``deliverBody``), or failing
            with ``RequestNotSent`` (connection busy or closed),
            ``RequestGenerationFailed``, ``ResponseNeverReceived`` or
            ``ResponseFailed``.  Cancelling it closes the connection.
        """
        if self._state != "QUIESCENT":
            return fail(RequestNotSent())
        self._state = "TRANSMITTING"
        self._request = request
        self._reader = ResponseReader(
            request.method,
            maxHeadSize=self.maxHeadSize,
            maxHeaders=self.maxHeaders,
        )
        self._requestWritten = False
        self._responseDone = False
        self._gotBytes = False
        self._response = None
        d: Deferred[Response] = Deferred(self._cancelRequest)
        self._responseDeferred = d
        try:
            if request._expectsContinue():
                self.transport.write(request._head())
                self._bodyHeld = True
                self._continueCall = self._getClock().callLater(
                    request.expectContinueTimeout, self._sendHeldBody
                )
                written: Deferred[None] | None = Deferred()
                self._writtenDeferred = written
            elif request.bodyProducer is None and type(request).writeTo is _writeTo:
                # No body: the head is the whole request, and it is written
                # now, so no Deferred is needed to learn when.
                self.transport.write(request._head())
                written = None
            else:
                written = request.writeTo(self.transport)
        except Exception:
            self._state = "QUIESCENT"
            self._responseDeferred = None
            self._request = None
            return fail(RequestGenerationFailed([Failure()]))
        if written is None:
            self._requestWriteDone(None)
        else:
            written.addCallbacks(self._requestWriteDone, self._requestWriteFailed)
        return d

    def _getClock(self) -> Any:
        if self._clock is None:
            from torsion.internet import reactor

            self._clock = reactor
        return self._clock

    def _sendHeldBody(self) -> None:
        self._continueCall = None
        if not self._bodyHeld or self._request is None:
            return
        self._bodyHeld = False
        assert self._writtenDeferred is not None
        self._request._writeBody(self.transport).chainDeferred(self._writtenDeferred)

    def _skipHeldBody(self) -> None:
        # A final response arrived before "100 Continue": the body is never
        # sent, so the connection cannot carry another request.
        if self._continueCall is not None:
            self._continueCall.cancel()
            self._continueCall = None
        if self._bodyHeld:
            self._bodyHeld = False
            self._persistentAfter = False
            self._forceClose = True
            assert self._writtenDeferred is not None
            self._writtenDeferred.callback(None)

    def _cancelRequest(self, d: Deferred[Response]) -> None:
        self._responseDeferred = None
        self._abortTransport()

    def _requestWriteDone(self, _: object) -> None:
        self._requestWritten = True
        if self._state == "TRANSMITTING":
            self._state = "WAITING"
        self._maybeFinished()

    def _requestWriteFailed(self, reason: Failure) -> None:
        if self._state in ("CONNECTION_LOST", "ABORTING"):
            return
        self._state = "ABORTING"
        d, self._responseDeferred = self._responseDeferred, None
        response = self._response
        self._abortTransport()
        if d is not None:
            d.errback(reason)
        elif response is not None:
            response._bodyDataFinished(Failure(ResponseFailed([reason], response)))

    # incoming

    def dataReceived(self, data: bytes) -> None:
        """
        Parse response bytes.

        :param data: bytes from the server.
        """
        reader = self._reader
        if reader is None or self._state in ("QUIESCENT", "ABORTING"):
            # Bytes with no request outstanding: the server is confused or
            # hostile; the connection can carry nothing more.
            if self._state != "CONNECTION_LOST":
                self._state = "ABORTING"
                self._abortTransport()
            return
        self._gotBytes = True
        try:
            events = reader.feed(data)
        except ResponseParseError:
            self._parseFailed(Failure())
            return
        self._handle(events)

    def _handle(self, events: list[Any]) -> None:
        for event in events:
            if self._state in ("ABORTING", "CONNECTION_LOST", "QUIESCENT"):
                return
            # The event classes are final, so their exact type decides.
            kind = type(event)
            if kind is ResponseBodyData:
                assert self._response is not None
                self._response._bodyDataReceived(event.data)
            elif kind is ResponseHead:
                self._gotHead(event)
            elif kind is EndOfResponse:
                self._gotEnd(event)
            elif kind is InformationalResponse and event.code == 100 and self._bodyHeld:
                if self._continueCall is not None:
                    self._continueCall.cancel()
                self._sendHeldBody()

    def _gotHead(self, head: ResponseHead) -> None:
        assert self._request is not None
        self._skipHeldBody()
        if self._state == "TRANSMITTING" or self._state == "WAITING":
            self._state = "RECEIVING" if self._requestWritten else "TRANSMITTING"
        headers = Headers._fromParsed(head.fields)
        response = Response(
            head.version,
            head.code,
            head.phrase,
            headers,
            _BodyTransport(self),
            self._request,
        )
        response.length = head.length if head.length is not None else UNKNOWN_LENGTH
        self._response = response
        self._persistentAfter = (
            self._request.persistent
            and b"connection" not in self._request.headers._raw
            and head.keepAlive
            and not self._forceClose
        )
        d, self._responseDeferred = self._responseDeferred, None
        if d is not None:
            d.callback(response)

    def _gotEnd(self, end: EndOfResponse) -> None:
        response = self._response
        assert response is not None
        self._responseDone = True
        if end.untilClose:
            self._persistentAfter = False
        # The connection goes back to the pool before the body protocol
        # hears of the end, so a request made from its callback reuses it.
        self._maybeFinished()
        if end.untilClose:
            response._bodyDataFinished(Failure(PotentialDataLoss()))
        else:
            response._bodyDataFinished(Failure(ResponseDone()))

    def _maybeFinished(self) -> None:
        if not (self._requestWritten and self._responseDone):
            return
        if self._state in ("ABORTING", "CONNECTION_LOST"):
            return
        reader = self._reader
        leftover = reader is not None and reader.hasLeftover()
        self._reader = None
        self._request = None
        self._response = None
        self._forceClose = False
        if self._persistentAfter and not leftover:
            self._state = "QUIESCENT"
            while self._transportPaused:
                self._resumeTransport()
            self._quiescentCallback(self)
        else:
            self._state = "ABORTING" if leftover else "CLOSING"
            if leftover:
                self._abortTransport()
            else:
                self.transport.loseConnection()

    def _parseFailed(self, reason: Failure) -> None:
        self._state = "ABORTING"
        d, self._responseDeferred = self._responseDeferred, None
        response = self._response
        if self._request is not None:
            self._request.stopWriting()
        self._abortTransport()
        if d is not None:
            d.errback(ResponseFailed([reason]))
        elif response is not None:
            response._bodyDataFinished(Failure(ResponseFailed([reason], response)))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        The connection closed: an outstanding request or body fails (or an
        until-close body ends).

        :param reason: why.
        """
        previous = self._state
        self._state = "CONNECTION_LOST"
        if self._continueCall is not None:
            self._continueCall.cancel()
            self._continueCall = None
        if self._request is not None and not self._requestWritten:
            self._request.stopWriting()
        d, self._responseDeferred = self._responseDeferred, None
        response = self._response
        reader, self._reader = self._reader, None
        if d is not None:
            if previous == "ABORTING" and reason.check(ConnectionDone):
                reason = Failure(ConnectionAborted())
            if self._gotBytes:
                d.errback(ResponseFailed([reason]))
            else:
                d.errback(ResponseNeverReceived([reason]))
        elif response is not None and not self._responseDone:
            events: list[Any] = []
            if reader is not None:
                try:
                    events = reader.feedEOF()
                except ResponseParseError:
                    events = []
            ends = [e for e in events if isinstance(e, EndOfResponse)]
            for e in events:
                if isinstance(e, ResponseBodyData):
                    response._bodyDataReceived(e.data)
            if ends:
                response._bodyDataFinished(Failure(PotentialDataLoss()))
            else:
                response._bodyDataFinished(Failure(ResponseFailed([reason], response)))
        lost, self._lostDeferreds = self._lostDeferreds, []
        for waiting in lost:
            waiting.callback(None)
        if self._onConnectionLost is not None:
            self._onConnectionLost(self)

    # flow control and shutdown

    def _pauseTransport(self) -> None:
        self._transportPaused += 1
        if self._transportPaused == 1 and self.transport is not None:
            self.transport.pauseProducing()

    def _resumeTransport(self) -> None:
        if self._transportPaused:
            self._transportPaused -= 1
            if self._transportPaused == 0 and self._state != "CONNECTION_LOST":
                self.transport.resumeProducing()

    def _abortBody(self) -> None:
        # The body protocol gave up: the rest of the body would have to be
        # read to reuse the connection, so it is closed instead.
        response = self._response
        self._state = "ABORTING"
        self._abortTransport()
        if response is not None:
            response._bodyDataFinished(
                Failure(ResponseFailed([Failure(ConnectionAborted())], response))
            )

    def _abortTransport(self) -> None:
        transport = self.transport
        if transport is None:
            return
        abort = getattr(transport, "abortConnection", None)
        if abort is not None:
            abort()
        else:
            transport.loseConnection()

    def abort(self) -> Deferred[None]:
        """
        Close the connection at once; an outstanding request fails with
        ``ConnectionAborted``.

        :return: a Deferred firing when the connection has closed.
        """
        if self._state == "CONNECTION_LOST":
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._lostDeferreds.append(d)
        self._state = "ABORTING"
        self._abortTransport()
        return d

    def _closeIdle(self) -> Deferred[None]:
        if self._state == "CONNECTION_LOST":
            return succeed(None)
        d: Deferred[None] = Deferred()
        self._lostDeferreds.append(d)
        self.transport.loseConnection()
        return d


_writeTo = Request.writeTo


def _isIdempotent(method: bytes) -> bool:
    return method in _IDEMPOTENT
