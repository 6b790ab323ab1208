"""
HTTP/2 for torsion-web's server, through the ``h2`` library.

An ``H2Connection`` speaks HTTP/2 on one transport.  Each stream the client
opens becomes an ordinary torsion request (made by the factory's
``requestFactory``), driven through an ``H2Stream`` that plays the part of
the request's channel, so every resource works unchanged over HTTP/2: the
request sees ``clientproto == b"HTTP/2"``, ``notifyFinish`` fails when the
client resets the stream, and producers registered on the request are
paused while the client's flow-control window is closed.

The HTTP/1.1 channel hands a connection over in three ways: after ALPN
negotiated ``h2`` over TLS, after an ``Upgrade: h2c`` request (the channel
answers ``101 Switching Protocols`` and calls ``upgradeFrom``), and when a
cleartext connection opens with the HTTP/2 connection preface ("prior
knowledge").

Importing this module raises ``ImportError`` when ``h2`` is not installed
(``pip install 'torsion-web[http2]'``); the HTTP/1.1 channel then stays on
HTTP/1.1.
"""

from __future__ import annotations

import base64
import binascii
from collections import deque
from typing import Any

try:
    import h2.config
    import h2.connection
    import h2.errors
    import h2.events
    import h2.exceptions
    import h2.settings
except ImportError as e:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "HTTP/2 needs the h2 library: pip install 'torsion-web[http2]'"
    ) from e

from zope.interface import implementer

from torsion.internet.error import ConnectionLost
from torsion.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IProducer,
    IPushProducer,
)
from torsion.internet.protocol import Protocol, connectionDone
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web.http import _IRequestChannel

__all__ = ["H2Connection", "H2Stream"]

#: The client connection preface (RFC 9113 section 3.4).
PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# Frame type codes (RFC 9113 section 6) the flood guard looks at.
_DATA = 0x0
_HEADERS = 0x1
_RST_STREAM = 0x3
_SETTINGS = 0x4
_PING = 0x6
_CONTINUATION = 0x9
_FLAG_END_STREAM = 0x1
_FLAG_ACK = 0x1
_FLAG_END_HEADERS = 0x4

# Fields that mean something only to one HTTP/1.1 hop and are forbidden in
# HTTP/2 (RFC 9113 section 8.2.2); a resource setting them must not break
# the stream.
_CONNECTION_FIELDS = frozenset(
    [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"transfer-encoding",
        b"upgrade",
    ]
)

_DEFAULT_MAX_BODY = 1024 * 1024

_log = Logger()


class _EnforcedSettings(h2.settings.Settings):
    """
    Our local settings, advertised as usual, but with h2's own check of
    concurrent streams moved up to ``enforcedStreams``, so that a stream over
    the advertised limit is refused on its own (``REFUSED_STREAM``, by
    ``H2Connection``) rather than the whole connection being torn down.
    """

    enforcedStreams = 256

    @property
    def max_concurrent_streams(self) -> int:
        return self.enforcedStreams

    @max_concurrent_streams.setter
    def max_concurrent_streams(self, value: int) -> None:
        self[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = value


class _FrameScanner:
    """
    Follows frame boundaries in the bytes a client sends, before h2 parses
    them, so that floods of small frames and endless header blocks are
    caught while they are still cheap.  It reads only the 9-byte frame
    headers and skips payloads.
    """

    def __init__(self) -> None:
        # The connection preface is not a frame: skip it like a payload.
        self._remaining = len(PREFACE)
        self._head = b""

    def scan(self, data: bytes) -> list[tuple[int, int, int]]:
        """
        :return: ``(type, flags, length)`` of each frame whose header ends in
            ``data``.
        """
        frames: list[tuple[int, int, int]] = []
        pos = 0
        end = len(data)
        while pos < end:
            if self._remaining:
                step = min(self._remaining, end - pos)
                pos += step
                self._remaining -= step
                continue
            need = 9 - len(self._head)
            self._head += data[pos : pos + need]
            pos += need
            if len(self._head) < 9:
                break
            head = self._head
            self._head = b""
            length = int.from_bytes(head[:3], "big")
            self._remaining = length
            frames.append((head[3], head[4], length))
        return frames


@implementer(_IRequestChannel, IConsumer, IPushProducer)
class H2Stream:
    """
    One HTTP/2 stream seen as the channel of one request.

    The request writes its response through it (``writeHeaders``, ``write``,
    ``requestDone``) exactly as it would through an HTTP/1.1 channel; the
    stream turns that into HEADERS and DATA frames within the client's
    flow-control window.  It is also the request's transport
    (``request.transport``): ``getPeer``, ``getHost``, ``isSecure``,
    ``loseConnection`` (which resets only this stream).

    :ivar streamID: the HTTP/2 stream identifier.
    :ivar site: the factory (a ``Site`` or ``HTTPFactory``) the connection
        serves.
    :ivar factory: the same factory.
    """

    def __init__(self, streamID: int, connection: H2Connection) -> None:
        self.streamID = streamID
        self._conn = connection
        self.factory = connection.factory
        self.site = connection.factory
        self.transport = self
        self.maxFormFields = getattr(connection.factory, "maxFormFields", 1000)
        self.request: Any = None
        self.producer: IProducer | None = None
        self._streaming = False
        self._producerPaused = False
        self._pullScheduled = False
        self._outbound: deque[bytes] = deque()
        self._outboundSize = 0
        self._headersSent = False
        self._done = False
        self._closed = False
        self._bodyReceived = 0
        self._maxBody = connection._maxRequestBody()
        self._inboundPaused = False
        self._inbound: deque[tuple[bytes, int]] = deque()
        self._remoteEnded = False
        self._dispatched = False
        self._method = b""
        self._path = b""

    # -- the request's channel ---------------------------------------------

    def writeHeaders(
        self, version: bytes, code: int | bytes, reason: bytes, headers: Any
    ) -> None:
        """
        Send the response's status and header fields.

        :param version: ignored (the protocol is HTTP/2).
        :param code: the status code.
        :param reason: ignored (HTTP/2 carries no reason phrase).
        :param headers: a ``Headers`` or an iterable of ``(name, value)``
            pairs; names are lower-cased and connection-specific fields
            dropped.
        """
        if self._closed or self._headersSent:
            return
        self._headersSent = True
        status = code if isinstance(code, bytes) else str(int(code)).encode("ascii")
        fields: list[tuple[bytes, bytes]] = [(b":status", status)]
        if hasattr(headers, "getAllRawHeaders"):
            pairs: Any = (
                (name, value)
                for name, values in headers.getAllRawHeaders()
                for value in values
            )
        else:
            pairs = headers
        for name, value in pairs:
            if isinstance(name, str):
                name = name.encode("ascii")
            if isinstance(value, str):
                value = value.encode("latin-1")
            name = name.lower()
            if name in _CONNECTION_FIELDS:
                continue
            fields.append((name, value))
        self._conn._sendHeaders(self, fields)

    def write(self, data: bytes) -> None:
        """
        Queue response body bytes; they are sent as the client's window
        allows.  A registered producer is paused while more than
        ``H2Connection.maxBufferedPerStream`` bytes wait.

        :param data: the bytes.
        :raises TypeError: if ``data`` is not bytes.
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"H2Stream.write needs bytes, not {type(data).__name__}")
        if self._closed or self._done or not data:
            return
        self._outbound.append(bytes(data))
        self._outboundSize += len(data)
        self._conn._flush(self)
        self._throttle()

    def writeSequence(self, data: Any) -> None:
        """
        Queue several pieces of response body.

        :param data: an iterable of bytes.
        """
        for chunk in data:
            self.write(chunk)

    def requestDone(self, request: Any) -> None:
        """
        The request finished its response: end the stream once the queued
        body is sent.

        :param request: the finished request.
        """
        if self._closed:
            return
        self._done = True
        if not self._headersSent:
            self.writeHeaders(b"HTTP/2", 200, b"OK", [])
        self._conn._flush(self)
        log = getattr(self.factory, "log", None)
        if log is not None:
            try:
                log(request)
            except Exception:
                _log.failure("Error writing the access log")

    def getPeer(self) -> Any:
        """
        :return: the client's address (the connection's peer).
        """
        return self._conn.transport.getPeer()

    def getHost(self) -> Any:
        """
        :return: our address on the connection.
        """
        return self._conn.transport.getHost()

    def isSecure(self) -> bool:
        """
        :return: whether the connection runs over TLS.
        """
        return self._conn._isSecure()

    def loseConnection(self) -> None:
        """
        End this stream: if the response is complete it is ended normally,
        otherwise the stream is reset (``CANCEL``).  Other streams on the
        connection are not affected.
        """
        if self._closed:
            return
        if self._done:
            return
        self._conn._resetStream(self, h2.errors.ErrorCodes.CANCEL)

    def abortConnection(self) -> None:
        """
        Reset this stream at once (``CANCEL``).
        """
        if not self._closed:
            self._conn._resetStream(self, h2.errors.ErrorCodes.CANCEL)

    def setTcpNoDelay(self, enabled: bool) -> None:
        """
        Ignored: the option belongs to the whole connection.

        :param enabled: ignored.
        """

    def getTcpNoDelay(self) -> bool:
        """
        :return: ``True``; small frames are not delayed.
        """
        return True

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """
        Attach the producer of the response body.  A streaming (push)
        producer is paused while the client cannot take more; a pull
        producer is asked for more whenever the queue drains.

        :param producer: the producer.
        :param streaming: ``True`` for an ``IPushProducer``.
        :raises RuntimeError: if a producer is already registered.
        """
        if self.producer is not None:
            raise RuntimeError(
                f"Cannot register producer {producer!r}: {self.producer!r} is "
                "already registered on this stream"
            )
        if self._closed:
            producer.stopProducing()
            return
        self.producer = producer
        self._streaming = streaming
        self._producerPaused = False
        if streaming:
            self._throttle()
        else:
            self._schedulePull()

    def unregisterProducer(self) -> None:
        """
        Detach the producer.
        """
        self.producer = None
        self._producerPaused = False

    # -- the request body, as a producer for the request -------------------

    def pauseProducing(self) -> None:
        """
        Stop delivering the request body to the request; received data is
        held (bounded by the flow-control window, which stays closed because
        nothing is acknowledged).
        """
        self._inboundPaused = True

    def resumeProducing(self) -> None:
        """
        Deliver held request body and acknowledge it to the client.
        """
        self._inboundPaused = False
        while self._inbound and not self._inboundPaused and not self._closed:
            data, flowLength = self._inbound.popleft()
            self._deliver(data, flowLength)
        if not self._inbound and self._remoteEnded and not self._inboundPaused:
            self._dispatch()
        self._conn._flush(self)

    def stopProducing(self) -> None:
        """
        The request is not interested in the rest of its body: reset the
        stream.
        """
        if not self._closed:
            self._conn._resetStream(self, h2.errors.ErrorCodes.CANCEL)

    # -- internal ----------------------------------------------------------

    def _throttle(self) -> None:
        if (
            self.producer is not None
            and self._streaming
            and not self._producerPaused
            and self._outboundSize > self._conn.maxBufferedPerStream
        ):
            self._producerPaused = True
            self.producer.pauseProducing()  # type: ignore[attr-defined]

    def _drained(self) -> None:
        """
        Some queued bytes left: wake the producer when the queue is short.
        """
        if self.producer is None or self._closed:
            return
        if self._outboundSize > self._conn.maxBufferedPerStream // 2:
            return
        if self._streaming:
            if self._producerPaused:
                self._producerPaused = False
                self.producer.resumeProducing()  # type: ignore[attr-defined]
        elif not self._outbound:
            self._schedulePull()

    def _schedulePull(self) -> None:
        if not self._pullScheduled:
            self._pullScheduled = True
            self._conn._reactor.callLater(0, self._pull)

    def _pull(self) -> None:
        self._pullScheduled = False
        if (
            self.producer is not None
            and not self._streaming
            and not self._closed
            and self._outboundSize <= self._conn.maxBufferedPerStream // 2
        ):
            self.producer.resumeProducing()  # type: ignore[attr-defined]

    def _received(self, data: bytes, flowLength: int) -> None:
        if self._inboundPaused or self._inbound:
            self._inbound.append((data, flowLength))
        else:
            self._deliver(data, flowLength)

    def _deliver(self, data: bytes, flowLength: int) -> None:
        self._conn._acknowledge(self.streamID, flowLength)
        self._bodyReceived += len(data)
        if self._maxBody is not None and self._bodyReceived > self._maxBody:
            self._conn._refuse(self, 413, b"Request body too large")
            return
        if data:
            self.request.handleContentChunk(data)

    def _ended(self) -> None:
        self._remoteEnded = True
        if not self._inbound and not self._inboundPaused:
            self._dispatch()

    def _dispatch(self) -> None:
        if self._dispatched or self._closed:
            return
        self._dispatched = True
        content = getattr(self.request, "content", None)
        if content is not None and hasattr(content, "seek"):
            content.seek(0, 0)
        self.request.requestReceived(self._method, self._path, b"HTTP/2")

    def _lost(self, reason: Failure) -> None:
        """
        The stream is gone (reset by either side, or the connection closed).
        """
        if self._closed:
            return
        self._closed = True
        self._outbound.clear()
        self._outboundSize = 0
        self._dropInbound()
        producer = self.producer
        self.producer = None
        if producer is not None:
            producer.stopProducing()
        if self.request is not None and not self._finishedCleanly():
            self.request.connectionLost(reason)

    def _dropInbound(self) -> None:
        """
        Give the connection-level window back for body bytes held but never
        delivered, so that the other streams are not starved.
        """
        held = self._inbound
        self._inbound = deque()
        for _, flowLength in held:
            self._conn._acknowledge(self.streamID, flowLength)

    def _finishedCleanly(self) -> bool:
        return self._done and not self._outbound


@implementer(IPushProducer)
class H2Connection(Protocol):
    """
    An HTTP/2 server connection.

    Usually built by the HTTP/1.1 channel (after ALPN, an h2c upgrade or
    the HTTP/2 preface); a listener can also serve HTTP/2 only with a
    factory whose ``buildProtocol`` returns ``H2Connection(self)``.

    Limits are class attributes, overridable on a subclass or an instance:

    :cvar maxConcurrentStreams: streams a client may have open at once
        (advertised in SETTINGS); a stream beyond it is refused with
        ``REFUSED_STREAM``, and refusals count against
        ``maxResetsPerSecond``.
    :cvar maxHeaderListSize: the largest header block (advertised, and the
        bound on a HEADERS frame with its CONTINUATION frames).
    :cvar maxBufferedPerStream: response bytes queued per stream before the
        stream's producer is paused.
    :cvar maxResetsPerSecond: ``RST_STREAM`` frames a client may send per
        second, plus streams refused for going over
        ``maxConcurrentStreams`` (rapid reset, CVE-2023-44487).
    :cvar maxPingsPerSecond: ``PING`` frames per second.
    :cvar maxSettingsPerSecond: ``SETTINGS`` frames per second.
    :cvar maxEmptyFramesPerSecond: empty DATA frames (not ending a stream)
        per second.
    :cvar abortTimeout: seconds to wait, after a GOAWAY, for the transport to
        close before aborting it, unless the factory has its own
        ``abortTimeout``.

    A client exceeding a per-second limit gets ``GOAWAY`` with
    ``ENHANCE_YOUR_CALM`` and the connection is closed.  The request body
    limit is the factory's ``maxRequestBody`` (413 beyond it).  After the
    factory's ``timeOut`` seconds in which no request or body byte arrived
    and no response byte could be sent, while no response is being prepared
    (every open stream waits for the client), the connection gets ``GOAWAY``
    and is closed; PINGs and other control frames do not keep it open.

    :param factory: the ``HTTPFactory`` or ``Site``; requests are made with
        its ``requestFactory``.
    :param reactor: the reactor for timers (default: the global reactor).
    """

    maxConcurrentStreams = 128
    maxHeaderListSize = 16384
    maxBufferedPerStream = 64 * 1024
    maxResetsPerSecond = 100
    maxPingsPerSecond = 100
    maxSettingsPerSecond = 100
    maxEmptyFramesPerSecond = 100
    abortTimeout = 15.0

    def __init__(self, factory: Any, reactor: Any = None) -> None:
        if reactor is None:
            from torsion.internet import reactor as _reactor

            reactor = _reactor
        self.factory = factory
        self.site = factory
        self._reactor = reactor
        config = h2.config.H2Configuration(
            client_side=False,
            header_encoding=None,
            validate_inbound_headers=True,
            normalize_inbound_headers=True,
            # Response fields come from a ``Headers`` (no CR, LF or NUL;
            # token names), are lower-cased here and normalised by h2
            # (whitespace, connection-specific fields); h2's re-validation
            # of them would only cost time on every response.
            validate_outbound_headers=False,
        )
        self._h2 = h2.connection.H2Connection(config=config)
        settings = _EnforcedSettings(
            client=False,
            initial_values={
                h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS: (
                    self.maxConcurrentStreams
                ),
                h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: self.maxHeaderListSize,
                h2.settings.SettingCodes.ENABLE_PUSH: 0,
            },
        )
        settings.enforcedStreams = 2 * self.maxConcurrentStreams
        self._h2.local_settings = settings
        # Until the client acknowledges our SETTINGS, h2 would decode header
        # lists up to its own default; hold it to our limit from the start.
        self._h2.decoder.max_header_list_size = self.maxHeaderListSize
        # Insertion-ordered: a full flush serves streams oldest first.
        self._streams: dict[int, H2Stream] = {}
        self._batching = False
        self._pending: dict[H2Stream, None] = {}
        self._flushAllPending = False
        self._scanner = _FrameScanner()
        self._headerBlock: int | None = None
        self._windowStart = 0.0
        self._counts = {"reset": 0, "ping": 0, "settings": 0, "empty": 0}
        self._transportPaused = False
        self._goingAway = False
        self._terminated = False
        self._connectionLost = False
        self._idleCall: IDelayedCall | None = None
        self._lastActivity = 0.0
        self._abortCall: IDelayedCall | None = None
        self._started = False

    # -- Protocol ----------------------------------------------------------

    def connectionMade(self) -> None:
        """
        Register as the transport's producer and send our SETTINGS (unless
        ``upgradeFrom`` follows, which sends them itself).
        """
        setTcpNoDelay = getattr(self.transport, "setTcpNoDelay", None)
        if setTcpNoDelay is not None:
            # Many small frames for many streams: do not let Nagle's
            # algorithm hold them back waiting for the client's ACK.
            try:
                setTcpNoDelay(True)
            except Exception:
                pass
        try:
            self.transport.registerProducer(self, True)
        except RuntimeError:
            # The HTTP/1.1 channel that handed the connection over was the
            # transport's producer; we take its place.
            self.transport.unregisterProducer()
            self.transport.registerProducer(self, True)
        self._resetIdle()

    def _start(self) -> None:
        if not self._started:
            self._started = True
            self._h2.initiate_connection()

    def upgradeFrom(
        self,
        settings: bytes,
        method: bytes,
        target: bytes,
        fields: list[tuple[bytes, bytes]],
    ) -> None:
        """
        Continue a connection upgraded from HTTP/1.1 (``Upgrade: h2c``): the
        HTTP/1.1 channel has already answered ``101 Switching Protocols``.
        The request that asked for the upgrade is served as stream 1.

        :param settings: the client's ``HTTP2-Settings`` header value
            (base64url, with or without padding).
        :param method: the upgraded request's method.
        :param target: its request target.
        :param fields: its header fields (connection-specific ones such as
            ``Connection``, ``Upgrade`` and ``HTTP2-Settings`` are dropped).
        """
        self._started = True
        padded = settings.strip() + b"=" * (-len(settings.strip()) % 4)
        try:
            base64.urlsafe_b64decode(padded)
            self._h2.initiate_upgrade_connection(padded)
        except (binascii.Error, ValueError, h2.exceptions.ProtocolError):
            self._terminated = True
            self._cancelTimers()
            self.transport.loseConnection()
            return
        headers: list[tuple[bytes, bytes]] = [
            (b":method", method),
            (b":path", target),
        ]
        host = b""
        for name, value in fields:
            lower = name.lower()
            if lower == b"host":
                host = value
            if lower in _CONNECTION_FIELDS or lower == b"http2-settings":
                continue
            headers.append((lower, value))
        if host:
            headers.insert(2, (b":authority", host))
        stream = self._openStream(1, headers)
        self._send()
        if stream is not None:
            stream._ended()
            self._flush()

    def dataReceived(self, data: bytes) -> None:
        """
        Feed bytes from the client to the HTTP/2 state machine.

        :param data: the bytes.
        """
        if self._terminated:
            return
        self._start()
        if not self._checkFrames(data):
            return
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError:
            # h2 has queued a GOAWAY describing the error.
            self._terminate(None)
            return
        self._batching = True
        try:
            for event in events:
                self._handle(event)
                if self._terminated:
                    return
        finally:
            if self._batching:
                self._endBatch()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        The transport closed: every open stream's request sees
        ``connectionLost`` (its ``notifyFinish`` fails).

        :param reason: why.
        """
        self._connectionLost = True
        self._terminated = True
        self._cancelTimers()
        streams = list(self._streams.values())
        self._streams.clear()
        for stream in streams:
            stream._lost(reason)

    # -- IPushProducer (the transport throttles us) ------------------------

    def pauseProducing(self) -> None:
        """
        The transport's buffer is full: stop sending DATA frames.
        """
        self._transportPaused = True

    def resumeProducing(self) -> None:
        """
        The transport drained: send queued DATA again.
        """
        self._transportPaused = False
        self._flush()

    def stopProducing(self) -> None:
        """
        The transport is going away.
        """
        self._transportPaused = True

    # -- frame checks ------------------------------------------------------

    def _checkFrames(self, data: bytes) -> bool:
        """
        :return: ``False`` (after sending GOAWAY) if ``data`` carries a
            flood or an oversized header block.
        """
        frames = self._scanner.scan(data)
        if not frames:
            return True
        # Only requests and their bodies count as activity: PINGs,
        # SETTINGS and WINDOW_UPDATEs alone do not keep a connection open.
        if any(kind in (_HEADERS, _DATA, _CONTINUATION) for kind, _, _ in frames):
            self._resetIdle()
        now = self._reactor.seconds()
        if now - self._windowStart >= 1.0:
            self._windowStart = now
            for key in self._counts:
                self._counts[key] = 0
        counts = self._counts
        for kind, flags, length in frames:
            if kind == _HEADERS:
                if not flags & _FLAG_END_HEADERS:
                    self._headerBlock = length
                elif length > self.maxHeaderListSize:
                    return self._calm("header block too large")
            elif kind == _CONTINUATION and self._headerBlock is not None:
                self._headerBlock += length
                if flags & _FLAG_END_HEADERS:
                    self._headerBlock = None
            elif kind == _RST_STREAM:
                counts["reset"] += 1
            elif kind == _PING and not flags & _FLAG_ACK:
                counts["ping"] += 1
            elif kind == _SETTINGS and not flags & _FLAG_ACK:
                counts["settings"] += 1
            elif kind == _DATA and length == 0 and not flags & _FLAG_END_STREAM:
                counts["empty"] += 1
            if self._headerBlock is not None and (
                self._headerBlock > self.maxHeaderListSize
            ):
                return self._calm("header block too large")
        if (
            counts["reset"] > self.maxResetsPerSecond
            or counts["ping"] > self.maxPingsPerSecond
            or counts["settings"] > self.maxSettingsPerSecond
            or counts["empty"] > self.maxEmptyFramesPerSecond
        ):
            return self._calm("frame flood")
        return True

    def _calm(self, why: str) -> bool:
        self._goAway(h2.errors.ErrorCodes.ENHANCE_YOUR_CALM, why.encode("ascii"))
        return False

    # -- events ------------------------------------------------------------

    def _handle(self, event: h2.events.Event) -> None:
        if isinstance(event, h2.events.RequestReceived):
            assert event.stream_id is not None
            self._openStream(event.stream_id, list(event.headers or []))
        elif isinstance(event, h2.events.DataReceived):
            assert event.stream_id is not None
            data = event.data or b""
            flowLength = event.flow_controlled_length or 0
            target = self._streams.get(event.stream_id)
            if target is None:
                self._acknowledge(event.stream_id, flowLength)
            else:
                target._received(data, flowLength)
        elif isinstance(event, h2.events.StreamEnded):
            assert event.stream_id is not None
            target = self._streams.get(event.stream_id)
            if target is not None:
                target._ended()
        elif isinstance(event, h2.events.TrailersReceived):
            # Trailers are not passed on; END_STREAM comes as its own event.
            pass
        elif isinstance(event, h2.events.StreamReset):
            assert event.stream_id is not None
            target = self._streams.pop(event.stream_id, None)
            if target is not None:
                target._lost(
                    Failure(
                        ConnectionLost(
                            f"HTTP/2 stream {event.stream_id} reset by the client "
                            f"({event.error_code!r})"
                        )
                    )
                )
        elif isinstance(
            event, (h2.events.WindowUpdated, h2.events.RemoteSettingsChanged)
        ):
            self._flush()
        elif isinstance(event, h2.events.ConnectionTerminated):
            # The client is leaving.  h2 sends nothing more once the peer's
            # GOAWAY has arrived, so the streams still open are lost.
            self._goingAway = True
            self._terminate(None)
            self._failStreams("HTTP/2 connection closed by the client (GOAWAY)")

    def _openStream(
        self, streamID: int, headers: list[tuple[Any, Any]]
    ) -> H2Stream | None:
        if self._goingAway:
            self._h2.reset_stream(streamID, h2.errors.ErrorCodes.REFUSED_STREAM)
            return None
        if len(self._streams) >= self.maxConcurrentStreams:
            self._h2.reset_stream(streamID, h2.errors.ErrorCodes.REFUSED_STREAM)
            # Streams opened only to be refused cost as much as streams the
            # client resets itself: they share the reset budget.
            self._counts["reset"] += 1
            if self._counts["reset"] > self.maxResetsPerSecond:
                self._calm("too many refused streams")
            return None
        stream = H2Stream(streamID, self)
        self._streams[streamID] = stream
        request = self._requestFactory()(stream)
        stream.request = request
        method = path = authority = b""
        cookies: list[bytes] = []
        contentLength: int | None = None
        expect = False
        try:
            for name, value in headers:
                name = bytes(name)
                value = bytes(value)
                if name.startswith(b":"):
                    if name == b":method":
                        method = value
                    elif name == b":path":
                        path = value
                    elif name == b":authority":
                        authority = value
                    continue
                if name == b"cookie":
                    cookies.append(value)
                    continue
                if name == b"content-length":
                    if not value.isdigit() or len(value) > 19:
                        raise ValueError("bad content-length")
                    contentLength = int(value)
                if name == b"expect" and value.lower() == b"100-continue":
                    expect = True
                request.requestHeaders.addRawHeader(name, value)
            if cookies:
                request.requestHeaders.addRawHeader(b"cookie", b"; ".join(cookies))
            if authority and not request.requestHeaders.hasHeader(b"host"):
                request.requestHeaders.addRawHeader(b"host", authority)
        except ValueError:
            self._refuse(stream, 400, b"Bad request header")
            return None
        if method == b"CONNECT":
            path = authority
        stream._method = method
        stream._path = path
        limit = stream._maxBody
        if contentLength is not None and limit is not None and contentLength > limit:
            self._refuse(stream, 413, b"Request body too large")
            return None
        request.gotLength(contentLength)
        if expect:
            self._h2.send_headers(streamID, [(b":status", b"100")])
        return stream

    def _requestFactory(self) -> Any:
        factory = getattr(self.factory, "requestFactory", None)
        if factory is None:
            from torsion.web.http import Request

            factory = Request
        return factory

    def _maxRequestBody(self) -> int | None:
        return getattr(self.factory, "maxRequestBody", _DEFAULT_MAX_BODY)

    def _refuse(self, stream: H2Stream, code: int, message: bytes) -> None:
        """
        Answer a request the server will not serve with a short error
        response and close its stream.
        """
        sid = stream.streamID
        self._streams.pop(sid, None)
        stream._closed = True
        stream._dropInbound()
        body = message + b"\n"
        try:
            self._h2.send_headers(
                sid,
                [
                    (b":status", str(code).encode("ascii")),
                    (b"content-type", b"text/plain; charset=utf-8"),
                    (b"content-length", str(len(body)).encode("ascii")),
                ],
            )
            self._h2.send_data(sid, body, end_stream=True)
        except (h2.exceptions.FlowControlError, h2.exceptions.ProtocolError):
            pass
        self._closeRemote(sid)
        self._send()

    def _closeRemote(self, sid: int) -> None:
        """
        Our side of ``sid`` is done; if the client may still send on it,
        tell it to stop (``RST_STREAM`` ``NO_ERROR``, RFC 9113 section 8.1).
        """
        state = self._h2.streams.get(sid)
        if state is not None and not state.closed:
            try:
                self._h2.reset_stream(sid, h2.errors.ErrorCodes.NO_ERROR)
            except h2.exceptions.ProtocolError:
                pass

    def _acknowledge(self, streamID: int, flowLength: int) -> None:
        if flowLength and not self._terminated:
            self._h2.acknowledge_received_data(flowLength, streamID)

    # -- sending -----------------------------------------------------------

    def _sendHeaders(self, stream: H2Stream, fields: list[tuple[bytes, bytes]]) -> None:
        if self._terminated:
            return
        try:
            self._h2.send_headers(stream.streamID, fields)
        except (h2.exceptions.ProtocolError, ValueError) as e:
            self._resetStream(stream, h2.errors.ErrorCodes.INTERNAL_ERROR, e)
            return
        self._resetIdle()
        self._send()

    def _resetStream(
        self,
        stream: H2Stream,
        code: h2.errors.ErrorCodes,
        error: Exception | None = None,
    ) -> None:
        self._streams.pop(stream.streamID, None)
        if not self._terminated:
            try:
                self._h2.reset_stream(stream.streamID, code)
            except h2.exceptions.ProtocolError:
                pass
            self._send()
        stream._lost(
            Failure(
                error
                or ConnectionLost(f"HTTP/2 stream {stream.streamID} reset ({code!r})")
            )
        )
        self._maybeClose()

    def _flush(self, only: H2Stream | None = None) -> None:
        """
        Send queued DATA as far as the flow-control windows and the
        transport allow: for ``only`` or, without it, for every stream in
        the order they were opened.  While a batch of received frames is
        being handled, this is put off to the end of the batch, so that the
        answers to many streams leave in one write.
        """
        if self._terminated:
            return
        if self._batching:
            if only is None:
                self._flushAllPending = True
            else:
                self._pending[only] = None
            return
        if only is not None:
            if only.streamID in self._streams:
                self._flushStream(only)
        else:
            for stream in list(self._streams.values()):
                self._flushStream(stream)
        self._send()
        self._maybeClose()

    def _endBatch(self) -> None:
        self._batching = False
        pending = self._pending
        self._pending = {}
        if self._flushAllPending:
            self._flushAllPending = False
            self._flush()
            return
        for stream in pending:
            if stream.streamID in self._streams and not self._terminated:
                self._flushStream(stream)
        self._send()
        self._maybeClose()

    def _flushStream(self, stream: H2Stream) -> None:
        h2conn = self._h2
        sid = stream.streamID
        finished = False
        while stream._outbound and not self._transportPaused:
            window = min(
                h2conn.local_flow_control_window(sid),
                h2conn.max_outbound_frame_size,
            )
            if window <= 0:
                break
            chunk = stream._outbound.popleft()
            if len(chunk) > window:
                stream._outbound.appendleft(chunk[window:])
                chunk = chunk[:window]
            stream._outboundSize -= len(chunk)
            last = stream._done and not stream._outbound
            h2conn.send_data(sid, chunk, end_stream=last)
            finished = last
            self._resetIdle()
        if stream._done and not stream._outbound and not finished:
            h2conn.end_stream(sid)
            finished = True
        if finished:
            del self._streams[sid]
            self._closeRemote(sid)
            stream._closed = True
        else:
            stream._drained()

    def _send(self) -> None:
        if self._batching:
            return
        data = self._h2.data_to_send()
        if data and not self._connectionLost:
            self.transport.write(data)

    def _maybeClose(self) -> None:
        if self._goingAway and not self._streams and not self._connectionLost:
            self._terminated = True
            self.transport.loseConnection()

    def _isSecure(self) -> bool:
        transport = self.transport
        if getattr(transport, "negotiatedProtocol", None) is not None:
            return True
        try:
            from torsion.internet.interfaces import ISSLTransport

            return ISSLTransport.providedBy(transport)
        except ImportError:  # pragma: no cover
            return False

    # -- closing -----------------------------------------------------------

    def _goAway(self, code: h2.errors.ErrorCodes, debug: bytes = b"") -> None:
        if self._terminated:
            return
        try:
            self._h2.close_connection(error_code=code, additional_data=debug or None)
        except h2.exceptions.ProtocolError:
            pass
        self._terminate(None)

    def _terminate(self, reason: Failure | None) -> None:
        self._batching = False
        self._send()
        self._terminated = True
        self._cancelTimers()
        self.transport.loseConnection()
        abortTimeout = getattr(self.factory, "abortTimeout", self.abortTimeout)
        if abortTimeout is not None and not self._connectionLost:
            self._abortCall = self._reactor.callLater(abortTimeout, self._abort)

    def _abort(self) -> None:
        self._abortCall = None
        if not self._connectionLost:
            self.transport.abortConnection()

    def _idleTimeout(self) -> float | None:
        return getattr(self.factory, "timeOut", None)

    def _resetIdle(self) -> None:
        timeout = self._idleTimeout()
        if timeout is None or self._terminated or self._connectionLost:
            return
        # Activity only moves a timestamp; the timer, when it fires, works
        # out whether the connection really stayed idle (no timer
        # rescheduling on every frame).
        self._lastActivity = self._reactor.seconds()
        if self._idleCall is None or not self._idleCall.active():
            self._idleCall = self._reactor.callLater(timeout, self._idle)

    def _idle(self) -> None:
        self._idleCall = None
        timeout = self._idleTimeout()
        if timeout is None or self._terminated:
            return
        remaining = self._lastActivity + timeout - self._reactor.seconds()
        if remaining > 0:
            self._idleCall = self._reactor.callLater(remaining, self._idle)
            return
        if any(
            stream._dispatched and not stream._outbound and not stream._done
            for stream in self._streams.values()
        ):
            # A response is still being worked on (a long poll, a slow
            # backend): the connection is not idle, whatever the client does.
            self._resetIdle()
            return
        self._goAway(h2.errors.ErrorCodes.NO_ERROR, b"idle")
        self._failStreams("HTTP/2 connection timed out")

    def _failStreams(self, why: str) -> None:
        streams = list(self._streams.values())
        self._streams.clear()
        for stream in streams:
            stream._lost(Failure(ConnectionLost(why)))

    def _cancelTimers(self) -> None:
        if self._idleCall is not None and self._idleCall.active():
            self._idleCall.cancel()
        self._idleCall = None
        if self._connectionLost and self._abortCall is not None:
            if self._abortCall.active():
                self._abortCall.cancel()
            self._abortCall = None
