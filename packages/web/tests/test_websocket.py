"""
In-memory tests for torsion.web.websocket: the server handshake checks of
``WebSocketResource``, the client handshake, and ``WebSocketTransport``
(messages, ping/pong, closing handshake, timeouts, keepalive, producers)
over ``StringTransport`` and ``Clock``.
"""

from __future__ import annotations

import base64
import struct
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.internet.defer import CancelledError
from torsion.internet.error import ConnectionDone, ConnectionLost
from torsion.internet.interfaces import IPushProducer
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.python.failure import Failure
from torsion.web._wscodec import (
    BytesMessage,
    CloseFrame,
    Ping,
    Pong,
    TextMessage,
    WebSocketCodec,
    WebSocketEvent,
)
from torsion.web._wshandshake import (
    DeflateOptions,
    HandshakeError,
    ResponseHeadParser,
    acceptFor,
    clientAcceptDeflate,
    parseExtensions,
    serverAcceptDeflate,
)
from torsion.web.iweb import IResource
from torsion.web.testing import DummyRequest
from torsion.web.websocket import (
    ConnectionRejected,
    WebSocketClientEndpoint,
    WebSocketClientFactory,
    WebSocketConnectionClosed,
    WebSocketConnectionLost,
    WebSocketProtocol,
    WebSocketResource,
    WebSocketServerFactory,
    WebSocketTransport,
    _ClientHandshake,
)

RFC_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


class Recorder(WebSocketProtocol):
    """
    Records every event; echoes messages when ``echo`` is set.
    """

    echo = False

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.transport: WebSocketTransport | None = None

    def negotiationStarted(self, transport: WebSocketTransport) -> None:
        self.transport = transport
        self.events.append("started")

    def negotiationFinished(self) -> None:
        self.events.append("finished")

    def textMessageReceived(self, data: str) -> None:
        self.events.append(("text", data))
        if self.echo:
            assert self.transport is not None
            self.transport.sendTextMessage(data)

    def bytesMessageReceived(self, data: bytes) -> None:
        self.events.append(("bytes", data))
        if self.echo:
            assert self.transport is not None
            self.transport.sendBytesMessage(data)

    def pongReceived(self, payload: bytes) -> None:
        self.events.append(("pong", payload))

    def connectionLost(self, reason: Failure) -> None:
        self.events.append(("lost", reason))


class SwitchingChannel:
    """
    Stands for the HTTP channel: records the protocol switch.
    """

    def __init__(self, request: DummyRequest) -> None:
        self.request = request
        self.switchedTo: Any = None
        self.writtenBefore: list[bytes] | None = None

    def _switchProtocol(self, protocol: Any) -> None:
        self.writtenBefore = list(self.request.written)
        self.switchedTo = protocol


class SwitchingRequest(DummyRequest):
    """
    A ``DummyRequest`` whose channel records the protocol switch.
    """

    def __init__(self, postpath: list[bytes]) -> None:
        super().__init__(postpath)
        self.channel = SwitchingChannel(self)

    @property
    def switchedTo(self) -> Any:
        return self.channel.switchedTo


def handshakeRequest(**overrides: Any) -> SwitchingRequest:
    request = SwitchingRequest([])
    headers = {
        b"host": b"example.com",
        b"upgrade": b"websocket",
        b"connection": b"keep-alive, Upgrade",
        b"sec-websocket-key": RFC_KEY,
        b"sec-websocket-version": b"13",
    }
    for name, override in overrides.items():
        key = name.replace("_", "-").encode()
        if override is None:
            headers.pop(key, None)
        else:
            headers[key] = override
    for headerName, value in headers.items():
        request.requestHeaders.setRawHeaders(headerName, [value])
    return request


def renderHandshake(resource: WebSocketResource, request: SwitchingRequest) -> Any:
    return resource.render(request)


# Server handshake


def test_resourceProvidesIResource() -> None:
    assert verifyObject(IResource, WebSocketResource(Recorder))


def test_acceptKeyFromRFC() -> None:
    assert acceptFor(RFC_KEY) == b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def test_successfulHandshake() -> None:
    resource = WebSocketResource(WebSocketServerFactory(Recorder), compression=None)
    request = handshakeRequest()
    result = resource.render(request)
    assert result == 1  # NOT_DONE_YET
    assert request.code == 101
    headers = request.responseHeaders
    assert headers.getRawHeaders(b"sec-websocket-accept") == [
        b"s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    ]
    assert headers.getRawHeaders(b"upgrade") == [b"websocket"]
    assert headers.getRawHeaders(b"connection") == [b"Upgrade"]
    assert not headers.hasHeader(b"sec-websocket-extensions")
    ws = request.switchedTo
    assert isinstance(ws, WebSocketTransport)
    # The head was flushed (an empty write) before the switch.
    assert request.channel.writtenBefore == [b""]
    proto = ws._protocol
    assert isinstance(proto, Recorder)
    assert proto.events == ["started"]
    assert proto.request is request  # type: ignore[attr-defined]
    assert proto.factory is resource.factory  # type: ignore[attr-defined]


def test_callableFactory() -> None:
    resource = WebSocketResource(Recorder)
    request = handshakeRequest()
    resource.render(request)
    assert isinstance(request.switchedTo._protocol, Recorder)


def test_resourceIsALeaf() -> None:
    resource = WebSocketResource(Recorder)
    assert resource.isLeaf
    assert resource.getChildWithDefault(b"x", DummyRequest([])) is resource
    with pytest.raises(NotImplementedError):
        resource.putChild(b"x", resource)


@pytest.mark.parametrize(
    "overrides, code",
    [
        ({"upgrade": None}, 426),
        ({"upgrade": b"h2c"}, 426),
        ({"connection": b"keep-alive"}, 400),
        ({"sec_websocket_version": b"8"}, 426),
        ({"sec_websocket_version": None}, 426),
        ({"sec_websocket_key": None}, 400),
        ({"sec_websocket_key": b"short"}, 400),
        ({"sec_websocket_key": base64.b64encode(b"x" * 15)}, 400),
        ({"sec_websocket_key": b"!" * 24}, 400),
    ],
)
def test_invalidHandshakes(overrides: dict[str, Any], code: int) -> None:
    resource = WebSocketResource(Recorder)
    request = handshakeRequest(**overrides)
    body = resource.render(request)
    assert request.code == code
    assert isinstance(body, bytes) and body
    assert request.switchedTo is None
    if code == 426 and "sec_websocket_version" in overrides:
        assert request.responseHeaders.getRawHeaders(b"sec-websocket-version") == [
            b"13"
        ]


def test_wrongMethod() -> None:
    request = handshakeRequest()
    request.method = b"POST"
    WebSocketResource(Recorder).render(request)
    assert request.code == 405
    assert request.responseHeaders.getRawHeaders(b"allow") == [b"GET"]


def test_http10Refused() -> None:
    request = handshakeRequest()
    request.clientproto = b"HTTP/1.0"
    WebSocketResource(Recorder).render(request)
    assert request.code == 400


def test_originChecking() -> None:
    resource = WebSocketResource(Recorder, allowedOrigins=["https://good.example"])
    good = handshakeRequest(origin=b"https://good.example")
    resource.render(good)
    assert good.code == 101
    for origin in (b"https://evil.example", None):
        bad = handshakeRequest(origin=origin)
        resource.render(bad)
        assert bad.code == 403
        assert bad.switchedTo is None
    lenient = WebSocketResource(Recorder, allowedOrigins=["https://good.example", None])
    noOrigin = handshakeRequest()
    lenient.render(noOrigin)
    assert noOrigin.code == 101


def test_subprotocolNegotiation() -> None:
    resource = WebSocketResource(Recorder, subprotocols=["v2.chat", "v1.chat"])
    request = handshakeRequest(sec_websocket_protocol=b"v1.chat, v2.chat")
    resource.render(request)
    assert request.responseHeaders.getRawHeaders(b"sec-websocket-protocol") == [
        b"v2.chat"
    ]
    assert request.switchedTo.subprotocol == "v2.chat"
    none = handshakeRequest(sec_websocket_protocol=b"other")
    resource.render(none)
    assert none.code == 101
    assert not none.responseHeaders.hasHeader(b"sec-websocket-protocol")
    assert none.switchedTo.subprotocol is None


def test_rejectedByFactory() -> None:
    class Refusing(WebSocketServerFactory):
        def buildProtocol(self, request: Any) -> WebSocketProtocol:
            raise ConnectionRejected("go away", 401)

    request = handshakeRequest()
    body = WebSocketResource(Refusing()).render(request)
    assert request.code == 401
    assert body == b"go away\n"
    assert request.switchedTo is None


def test_rejectedByProtocol() -> None:
    class Refusing(Recorder):
        def negotiationStarted(self, transport: WebSocketTransport) -> None:
            raise ConnectionRejected()

    request = handshakeRequest()
    WebSocketResource(Refusing).render(request)
    assert request.code == 403
    assert request.switchedTo is None


def test_deflateNegotiatedByResource() -> None:
    request = handshakeRequest(
        sec_websocket_extensions=b"permessage-deflate; client_max_window_bits"
    )
    WebSocketResource(Recorder).render(request)
    assert request.responseHeaders.getRawHeaders(b"sec-websocket-extensions") == [
        b"permessage-deflate"
    ]
    assert request.switchedTo._codec.deflate is not None


def test_malformedExtensionsHeader() -> None:
    request = handshakeRequest(sec_websocket_extensions=b"permessage-deflate; =x")
    WebSocketResource(Recorder).render(request)
    assert request.code == 400


def test_noSwitchSupportIsAClearError() -> None:
    request = DummyRequest([])
    for name, value in handshakeRequest().requestHeaders.getAllRawHeaders():
        request.requestHeaders.setRawHeaders(name, value)
    with pytest.raises(RuntimeError, match="switch protocols"):
        WebSocketResource(Recorder).render(request)


# Extension negotiation helpers


def test_serverDeflateNegotiation() -> None:
    options = DeflateOptions()
    offer = parseExtensions(
        [
            b"x-unknown, permessage-deflate; server_no_context_takeover;"
            b" client_max_window_bits=10; server_max_window_bits=12"
        ]
    )
    accepted = serverAcceptDeflate(offer, options)
    assert accepted is not None
    value, params = accepted
    assert value == (
        b"permessage-deflate; server_no_context_takeover;"
        b" server_max_window_bits=12; client_max_window_bits=10"
    )
    assert params.localNoContextTakeover
    assert params.localMaxWindowBits == 12
    # Invalid or unsupported offers are declined, the next one is used.
    offers = parseExtensions(
        [
            b"permessage-deflate; server_max_window_bits=8, "
            b"permessage-deflate; bogus, permessage-deflate"
        ]
    )
    accepted = serverAcceptDeflate(offers, options)
    assert accepted is not None and accepted[0] == b"permessage-deflate"
    assert (
        serverAcceptDeflate(
            parseExtensions([b"permessage-deflate; server_max_window_bits=20"]), options
        )
        is None
    )
    limited = serverAcceptDeflate(
        parseExtensions([b"permessage-deflate; client_max_window_bits"]),
        DeflateOptions(clientMaxWindowBits=11),
    )
    assert limited is not None
    assert limited[0] == b"permessage-deflate; client_max_window_bits=11"


def test_clientDeflateAnswerChecks() -> None:
    options = DeflateOptions()
    assert clientAcceptDeflate(None, options) is None
    params = clientAcceptDeflate(
        [b"permessage-deflate; server_no_context_takeover; client_max_window_bits=12"],
        options,
    )
    assert params is not None
    assert params.remoteNoContextTakeover and params.localMaxWindowBits == 12
    for bad in (
        [b"x-other"],
        [b"permessage-deflate; unknown=1"],
        [b"permessage-deflate; client_max_window_bits=8"],
        [b"permessage-deflate; server_no_context_takeover=1"],
        [b"permessage-deflate, permessage-deflate"],
    ):
        with pytest.raises(HandshakeError):
            clientAcceptDeflate(bad, options)
    with pytest.raises(HandshakeError):
        clientAcceptDeflate([b"permessage-deflate"], None)


def test_responseHeadParserLimits() -> None:
    parser = ResponseHeadParser(maxSize=100)
    with pytest.raises(HandshakeError):
        parser.feed(b"HTTP/1.1 101 OK\r\nX: " + b"a" * 200)
    for bad in (
        b"HTTP/1.1 1O1 x\r\n\r\n",
        b"FTP 101\r\n\r\n",
        b"HTTP/1.1 101 ok\r\nbad line\r\n\r\n",
    ):
        with pytest.raises(HandshakeError):
            ResponseHeadParser().feed(bad)
    many = b"HTTP/1.1 101 ok\r\n" + b"a: b\r\n" * 11 + b"\r\n"
    with pytest.raises(HandshakeError):
        ResponseHeadParser(maxHeaders=10).feed(many)
    assert ResponseHeadParser(maxHeaders=11).feed(many) is not None


# WebSocketTransport over memory


def serverConnection(
    proto: WebSocketProtocol | None = None, **kwargs: Any
) -> tuple[WebSocketTransport, StringTransport, Clock, Recorder]:
    recorder = proto if proto is not None else Recorder()
    clock = Clock()
    ws = WebSocketTransport(recorder, False, reactor=clock, **kwargs)
    recorder.negotiationStarted(ws)
    tcp = StringTransport()
    ws.makeConnection(tcp)
    return ws, tcp, clock, recorder  # type: ignore[return-value]


def peerEvents(tcp: StringTransport) -> list[WebSocketEvent]:
    """
    Decode what the server wrote, as its client would.
    """
    events = WebSocketCodec(True).receiveData(tcp.value())
    tcp.clear()
    return events


peer = WebSocketCodec(True)


def test_messagesBothWays() -> None:
    echo = Recorder()
    echo.echo = True
    ws, tcp, _clock, proto = serverConnection(echo)
    assert proto.events == ["started", "finished"]
    ws.dataReceived(
        peer.buildMessage("hé".encode(), True) + peer.buildMessage(b"\x00", False)
    )
    assert proto.events[2:] == [("text", "hé"), ("bytes", b"\x00")]
    assert peerEvents(tcp) == [TextMessage("hé"), BytesMessage(b"\x00")]


def test_sendTypeChecks() -> None:
    ws, _tcp, _clock, _proto = serverConnection()
    with pytest.raises(TypeError):
        ws.sendTextMessage(b"bytes")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        ws.sendBytesMessage("text")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        ws.ping(b"x" * 126)


def test_messagesQueuedBeforeOpen() -> None:
    recorder = Recorder()
    ws = WebSocketTransport(recorder, False, reactor=Clock())
    ws.sendTextMessage("early")
    tcp = StringTransport()
    ws.makeConnection(tcp)
    assert peerEvents(tcp) == [TextMessage("early")]


def test_pingAnsweredAutomatically() -> None:
    ws, tcp, _clock, proto = serverConnection()
    ws.dataReceived(peer.buildPing(b"abc"))
    assert peerEvents(tcp) == [Pong(b"abc")]
    ws.ping(b"mine")
    assert peerEvents(tcp) == [Ping(b"mine")]
    ws.dataReceived(peer.buildPong(b"mine"))
    assert proto.events[-1] == ("pong", b"mine")


def test_peerInitiatedClose() -> None:
    ws, tcp, clock, proto = serverConnection()
    ws.dataReceived(peer.buildClose(4001, "later"))
    assert peerEvents(tcp) == [CloseFrame(4001, "")]
    assert tcp.disconnecting
    ws.connectionLost(Failure(ConnectionDone()))
    reason = proto.events[-1][1]
    assert reason.check(WebSocketConnectionClosed)
    assert reason.check(ConnectionDone)
    assert (reason.value.code, reason.value.reason) == (4001, "later")
    assert clock.getDelayedCalls() == []


def test_emptyCloseEchoedEmpty() -> None:
    ws, tcp, _clock, _proto = serverConnection()
    ws.dataReceived(peer.buildClose(None))
    assert tcp.value() == b"\x88\x00"


def test_locallyInitiatedClose() -> None:
    ws, tcp, clock, proto = serverConnection(closeTimeout=5)
    ws.loseConnection(1001, "shutting down")
    assert peerEvents(tcp) == [CloseFrame(1001, "shutting down")]
    assert not tcp.disconnecting
    ws.sendTextMessage("dropped")
    assert tcp.value() == b""
    ws.loseConnection()  # a second call changes nothing
    assert tcp.value() == b""
    ws.dataReceived(peer.buildClose(1001))
    assert tcp.value() == b""  # no second close frame
    assert tcp.disconnecting and not tcp.aborted
    ws.connectionLost(Failure(ConnectionDone()))
    assert proto.events[-1][1].check(WebSocketConnectionClosed)
    assert clock.getDelayedCalls() == []


def test_closeTimeout() -> None:
    ws, tcp, clock, proto = serverConnection(closeTimeout=5)
    ws.loseConnection()
    clock.advance(4.9)
    assert not tcp.aborted
    clock.advance(0.1)
    assert tcp.aborted
    ws.connectionLost(Failure(ConnectionLost()))
    reason = proto.events[-1][1]
    assert reason.check(WebSocketConnectionLost)
    assert reason.value.code == 1000


def test_invalidCloseCodeRejected() -> None:
    ws, _tcp, _clock, _proto = serverConnection()
    with pytest.raises(ValueError):
        ws.loseConnection(1006)


def test_protocolErrorFailsConnection() -> None:
    ws, tcp, _clock, proto = serverConnection()
    ws.dataReceived(b"\x81\x02hi")  # unmasked client frame
    events = peerEvents(tcp)
    assert isinstance(events[0], CloseFrame) and events[0].code == 1002
    assert tcp.disconnecting
    ws.dataReceived(peer.buildMessage(b"ignored", False))
    ws.connectionLost(Failure(ConnectionDone()))
    reason = proto.events[-1][1]
    assert reason.check(WebSocketConnectionLost)
    assert reason.value.code == 1002
    assert ("bytes", b"ignored") not in proto.events


def test_eventsBeforeAnErrorAreDelivered() -> None:
    """
    Messages that arrived in the same segment as a bad frame, before it,
    are delivered; then the connection is failed.
    """
    echo = Recorder()
    echo.echo = True
    ws, tcp, _clock, proto = serverConnection(echo)
    ws.dataReceived(peer.buildMessage(b"first", True) + b"\x81\x02hi")
    assert proto.events[2:] == [("text", "first")]
    events = peerEvents(tcp)
    assert events[0] == TextMessage("first")
    assert isinstance(events[1], CloseFrame) and events[1].code == 1002
    assert tcp.disconnecting


def test_repliesToOneSegmentAreWrittenAtOnce() -> None:
    echo = Recorder()
    echo.echo = True
    ws, tcp, _clock, _proto = serverConnection(echo)
    writes: list[bytes] = []
    original = tcp.write

    def write(data: bytes) -> None:
        writes.append(data)
        original(data)

    tcp.write = write  # type: ignore[method-assign]
    ws.dataReceived(b"".join(peer.buildMessage(b"m%d" % i, True) for i in range(10)))
    assert len(writes) == 1
    assert peerEvents(tcp) == [TextMessage(f"m{i}") for i in range(10)]


def test_messageTooBigCloses1009() -> None:
    ws, tcp, _clock, proto = serverConnection(maxMessageSize=10)
    ws.dataReceived(peer.buildMessage(b"x" * 10, False))
    ws.dataReceived(peer.buildMessage(b"x" * 11, False))
    events = peerEvents(tcp)
    assert isinstance(events[-1], CloseFrame) and events[-1].code == 1009
    assert proto.events[2] == ("bytes", b"x" * 10)


def test_invalidUTF8Closes1007() -> None:
    ws, tcp, _clock, _proto = serverConnection()
    ws.dataReceived(peer.buildMessage(b"\xff", True))
    events = peerEvents(tcp)
    assert isinstance(events[-1], CloseFrame) and events[-1].code == 1007


def test_abnormalLoss() -> None:
    ws, _tcp, _clock, proto = serverConnection()
    ws.connectionLost(Failure(ConnectionLost("reset")))
    reason = proto.events[-1][1]
    assert reason.check(WebSocketConnectionLost) and reason.value.code == 1006
    ws.connectionLost(Failure(ConnectionLost("again")))
    assert len([e for e in proto.events if e[0] == "lost"]) == 1


def test_keepalive() -> None:
    ws, tcp, clock, _proto = serverConnection(pingInterval=10, pingTimeout=5)
    clock.advance(10)
    events = peerEvents(tcp)
    assert len(events) == 1 and isinstance(events[0], Ping)
    ws.dataReceived(peer.buildPong(events[0].payload))
    clock.advance(5)
    assert not tcp.disconnecting
    clock.advance(5)
    events = peerEvents(tcp)
    assert isinstance(events[0], Ping)
    clock.advance(5)
    events = peerEvents(tcp)
    assert isinstance(events[0], CloseFrame) and events[0].code == 1011
    assert tcp.disconnecting
    ws.connectionLost(Failure(ConnectionDone()))
    assert clock.getDelayedCalls() == []


def test_serverDropsASilentPeerByDefault() -> None:
    """
    SECURITY LINE-11: a client that vanished without closing is found by
    the server's default keepalive and its connection closed.
    """
    from torsion.web.websocket import (
        DEFAULT_PING_INTERVAL,
        DEFAULT_PING_TIMEOUT,
        WebSocketResource,
    )

    resource = WebSocketResource(object())
    _ws, tcp, clock, _proto = serverConnection(
        pingInterval=resource.pingInterval, pingTimeout=resource.pingTimeout
    )
    clock.advance(DEFAULT_PING_INTERVAL)
    assert isinstance(peerEvents(tcp)[0], Ping)
    clock.advance(DEFAULT_PING_TIMEOUT)
    events = peerEvents(tcp)
    assert isinstance(events[0], CloseFrame) and events[0].code == 1011
    assert tcp.disconnecting


@implementer(IPushProducer)
class Producer:
    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        pass


class RecordingProducer(Producer):
    def __init__(self) -> None:
        self.calls: list[str] = []

    def pauseProducing(self) -> None:
        self.calls.append("pause")

    def resumeProducing(self) -> None:
        self.calls.append("resume")

    def stopProducing(self) -> None:
        self.calls.append("stop")


def producerState(transport: StringTransport) -> str:
    """
    What ``transport`` last asked its producer to do (a function, so each
    check reads it afresh).
    """
    return transport.producerState


def test_outputFlowControl() -> None:
    """
    The connection's producer callbacks reach the attached producer and
    pause reading from the peer while the send buffer is full.
    """
    ws, tcp, _clock, _proto = serverConnection()
    assert tcp.producer is not None and tcp.streaming is True
    assert verifyObject(IPushProducer, tcp.producer)
    flow = IPushProducer(tcp.producer)
    producer = RecordingProducer()
    ws.attachProducer(producer)
    with pytest.raises(RuntimeError):
        ws.attachProducer(RecordingProducer())
    flow.pauseProducing()
    assert producer.calls == ["pause"]
    assert producerState(tcp) == "paused"
    flow.resumeProducing()
    assert producer.calls == ["pause", "resume"]
    assert producerState(tcp) == "producing"
    ws.detachProducer()
    flow.pauseProducing()
    assert producer.calls == ["pause", "resume"]
    late = RecordingProducer()
    ws.attachProducer(late)
    # Attached while the output is paused: paused at once.
    assert late.calls == ["pause"]
    flow.stopProducing()
    assert late.calls == ["pause", "stop"]


def test_attachProducerBeforeOpen() -> None:
    ws = WebSocketTransport(Recorder(), False, reactor=Clock())
    producer = RecordingProducer()
    ws.attachProducer(producer)
    tcp = StringTransport()
    ws.makeConnection(tcp)
    assert tcp.producer is not None
    IPushProducer(tcp.producer).pauseProducing()
    assert producer.calls == ["pause"]


def test_addresses() -> None:
    ws, tcp, _clock, _proto = serverConnection()
    assert ws.getPeer() == tcp.getPeer()
    assert ws.getHost() == tcp.getHost()


# Client handshake over memory


def clientHandshake(
    url: str = "ws://127.0.0.1:9000/chat?room=1", **kwargs: Any
) -> tuple[_ClientHandshake, StringTransport, Clock, list[Any]]:
    clock = Clock()
    endpoint = WebSocketClientEndpoint.new(clock, url, **kwargs)
    created: list[Any] = []

    def make() -> Recorder:
        r = Recorder()
        created.append(r)
        return r

    hs = _ClientHandshake(endpoint, WebSocketClientFactory(make))
    tcp = StringTransport()
    hs.makeConnection(tcp)
    return hs, tcp, clock, created


def parseRequest(data: bytes) -> tuple[bytes, dict[bytes, bytes]]:
    head = data.split(b"\r\n\r\n")[0].split(b"\r\n")
    headers = {}
    for line in head[1:]:
        name, _, value = line.partition(b": ")
        headers[name.lower()] = value
    return head[0], headers


def answer(key: bytes, extra: bytes = b"") -> bytes:
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        b"Connection: Upgrade\r\nSec-WebSocket-Accept: "
        + acceptFor(key)
        + b"\r\n"
        + extra
        + b"\r\n"
    )


def test_clientHandshakeRequest() -> None:
    _hs, tcp, _clock, _created = clientHandshake(
        subprotocols=["chat"], origin="http://o.example", headers={b"x-token": [b"t"]}
    )
    line, headers = parseRequest(tcp.value())
    assert line == b"GET /chat?room=1 HTTP/1.1"
    assert headers[b"host"] == b"127.0.0.1:9000"
    assert headers[b"upgrade"] == b"websocket"
    assert headers[b"sec-websocket-version"] == b"13"
    assert len(base64.b64decode(headers[b"sec-websocket-key"])) == 16
    assert headers[b"sec-websocket-protocol"] == b"chat"
    assert headers[b"origin"] == b"http://o.example"
    assert headers[b"x-token"] == b"t"
    assert headers[b"sec-websocket-extensions"].startswith(b"permessage-deflate")


def test_clientHandshakeSuccess() -> None:
    hs, tcp, clock, created = clientHandshake(subprotocols=["chat"])
    _, headers = parseRequest(tcp.value())
    tcp.clear()
    results: list[Any] = []
    hs.deferred.addCallback(results.append)
    server = WebSocketCodec(False)
    # The server's first frame arrives in the same segment as its head.
    hs.dataReceived(
        answer(
            headers[b"sec-websocket-key"],
            b"Sec-WebSocket-Protocol: chat\r\n"
            b"Sec-WebSocket-Extensions: permessage-deflate\r\n",
        )
        + server.buildMessage(b"welcome", True)
    )
    assert results == created
    proto = created[0]
    assert proto.events == ["started", "finished", ("text", "welcome")]
    assert proto.transport.subprotocol == "chat"
    assert proto.transport._codec.deflate is not None
    proto.transport.sendBytesMessage(b"\x01")
    sent = tcp.value()
    assert sent[1] & 0x80  # masked
    assert WebSocketCodec(False, deflate=proto.transport._codec.deflate).receiveData(
        sent
    ) == [BytesMessage(b"\x01")]
    assert clock.getDelayedCalls() == []


def test_clientClosesAfterServer() -> None:
    hs, tcp, clock, created = clientHandshake(closeTimeout=3)
    _, headers = parseRequest(tcp.value())
    hs.dataReceived(answer(headers[b"sec-websocket-key"]))
    tcp.clear()
    proto = created[0]
    proto.transport.loseConnection()
    hs.dataReceived(WebSocketCodec(False).buildClose(1000))
    # The client waits for the server to close TCP ...
    assert not tcp.disconnecting
    clock.advance(3)
    # ... and drops it itself when the server does not.
    assert tcp.aborted
    hs.connectionLost(Failure(ConnectionDone()))
    assert proto.events[-1][1].check(WebSocketConnectionClosed)


@pytest.mark.parametrize(
    "response, message",
    [
        (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "403 Forbidden"),
        (
            b"HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: AAAA\r\n\r\n",
            "Sec-WebSocket-Accept",
        ),
        (b"HTTP/1.1 101 OK\r\nConnection: Upgrade\r\n\r\n", "Upgrade"),
        (b"garbage\r\n\r\n", "malformed"),
    ],
)
def test_clientHandshakeFailures(response: bytes, message: str) -> None:
    hs, tcp, clock, created = clientHandshake()
    failures: list[Failure] = []
    hs.deferred.addErrback(failures.append)
    hs.dataReceived(response)
    assert failures and failures[0].check(HandshakeError)
    assert message in str(failures[0].value)
    assert tcp.aborted
    assert created == []
    assert clock.getDelayedCalls() == []


def test_clientRefusedWithHTTPAnswer() -> None:
    hs, _tcp, _clock, _created = clientHandshake()
    failures: list[Failure] = []
    hs.deferred.addErrback(failures.append)
    hs.dataReceived(b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n\r\n")
    error = failures[0].value
    assert isinstance(error, ConnectionRejected)
    assert isinstance(error, HandshakeError)
    assert error.code == 401
    assert error.response.code == 401
    assert error.response.get(b"www-authenticate") == [b"Basic"]


def test_clientRejectsUnofferedChoices() -> None:
    for extra in (
        b"Sec-WebSocket-Protocol: chat\r\n",
        b"Sec-WebSocket-Extensions: x-custom\r\n",
    ):
        hs, tcp, _clock, _created = clientHandshake(compression=None)
        _, headers = parseRequest(tcp.value())
        failures: list[Failure] = []
        hs.deferred.addErrback(failures.append)
        hs.dataReceived(answer(headers[b"sec-websocket-key"], extra))
        assert failures and failures[0].check(HandshakeError)


def test_clientHandshakeTimeout() -> None:
    hs, tcp, clock, _created = clientHandshake(handshakeTimeout=7)
    failures: list[Failure] = []
    hs.deferred.addErrback(failures.append)
    clock.advance(7)
    assert failures and "in time" in str(failures[0].value)
    assert tcp.aborted


def test_clientHandshakeCancelled() -> None:
    hs, tcp, clock, _created = clientHandshake()
    failures: list[Failure] = []
    hs.deferred.addErrback(failures.append)
    hs.deferred.cancel()
    assert failures[0].check(CancelledError)
    assert tcp.aborted
    assert clock.getDelayedCalls() == []
    hs.connectionLost(Failure(ConnectionLost()))


def test_clientConnectionLostDuringHandshake() -> None:
    hs, _tcp, clock, _created = clientHandshake()
    failures: list[Failure] = []
    hs.deferred.addErrback(failures.append)
    hs.connectionLost(Failure(ConnectionLost()))
    assert failures[0].check(HandshakeError)
    assert clock.getDelayedCalls() == []


@pytest.mark.parametrize(
    "url",
    ["http://x/", "ws:///nohost", "ws://x/a b", "ws://x/\r\nX: y"],
)
def test_badClientURLs(url: str) -> None:
    with pytest.raises(ValueError):
        WebSocketClientEndpoint.new(Clock(), url)


def test_clientURLDefaults() -> None:
    ep = WebSocketClientEndpoint.new(Clock(), "wss://example.com")
    assert ep.resource == b"/" and ep.hostHeader == b"example.com"
    ep6 = WebSocketClientEndpoint.new(Clock(), "ws://[::1]:8080/x")
    assert ep6.hostHeader == b"[::1]:8080"


def test_closeFrameLayout() -> None:
    """
    The close frame carries the code in network order.
    """
    ws, tcp, _clock, _proto = serverConnection()
    ws.loseConnection(3000)
    assert tcp.value()[:4] == b"\x88\x02" + struct.pack("!H", 3000)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_handshakeParsersRaiseOnlyHandshakeError(data: bytes) -> None:
    """
    Random bytes given to the extension-header and response-head parsers
    either parse or raise ``HandshakeError``.
    """
    try:
        offers = parseExtensions([data])
    except HandshakeError:
        pass
    else:
        serverAcceptDeflate(offers, DeflateOptions())
        try:
            clientAcceptDeflate([data], DeflateOptions())
        except HandshakeError:
            pass
    try:
        ResponseHeadParser(maxSize=100).feed(data + b"\r\n\r\n")
    except HandshakeError:
        pass
