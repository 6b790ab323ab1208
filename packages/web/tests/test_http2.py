"""
HTTP/2 (``torsion.web._http2``) over memory transports, with the ``h2``
library as the client: streams, flow control, resets, limits, floods,
idle timeout, the h2c upgrade and prior knowledge.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.exceptions
import h2.settings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zope.interface.verify import verifyObject

from torsion.internet.interfaces import IConsumer, IPushProducer
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.python.failure import Failure
from torsion.web import _http2
from torsion.web._http2 import PREFACE, H2Connection, H2Stream
from torsion.web.http_headers import Headers

Handler = Callable[["FakeRequest"], None]


class FakeRequest:
    """
    Just enough of a torsion request to watch what a stream does with it.
    """

    def __init__(self, channel: Any, handler: Handler) -> None:
        self.channel = channel
        self.handler = handler
        self.requestHeaders = Headers()
        self.body = b""
        self.length: int | None = -1
        self.method = b""
        self.uri = b""
        self.clientproto = b""
        self.lost: list[Failure] = []
        self.finished = False

    def gotLength(self, length: int | None) -> None:
        self.length = length

    def handleContentChunk(self, data: bytes) -> None:
        self.body += data

    def requestReceived(self, method: bytes, uri: bytes, version: bytes) -> None:
        self.method, self.uri, self.clientproto = method, uri, version
        self.handler(self)

    def respond(self, body: bytes, code: int = 200) -> None:
        self.channel.writeHeaders(
            b"HTTP/1.1",
            code,
            b"OK",
            [(b"Content-Length", str(len(body)).encode()), (b"Connection", b"close")],
        )
        self.channel.write(body)
        self.finish()

    def finish(self) -> None:
        self.finished = True
        self.channel.requestDone(self)

    def connectionLost(self, reason: Failure) -> None:
        self.lost.append(reason)


def echo(request: FakeRequest) -> None:
    request.respond(
        b"%s %s %s body=%s host=%s"
        % (
            request.method,
            request.uri,
            request.clientproto,
            request.body,
            request.requestHeaders.getRawHeaders(b"host", [b"-"])[0],
        )
    )


class FakeFactory:
    def __init__(
        self,
        handler: Handler = echo,
        maxRequestBody: int | None = 1024 * 1024,
        timeOut: float | None = None,
    ) -> None:
        self.handler = handler
        self.maxRequestBody = maxRequestBody
        self.timeOut = timeOut
        self.requests: list[FakeRequest] = []

    def requestFactory(self, channel: Any) -> FakeRequest:
        request = FakeRequest(channel, self.handler)
        self.requests.append(request)
        return request


class Peer:
    """
    An h2 client joined to an ``H2Connection`` over a ``StringTransport``.
    """

    def __init__(
        self,
        factory: FakeFactory | None = None,
        clock: Clock | None = None,
        windowSize: int | None = None,
        start: bool = True,
    ) -> None:
        self.factory = factory or FakeFactory()
        self.clock = clock or Clock()
        self.server = H2Connection(self.factory, self.clock)
        self.transport = StringTransport()
        self.server.makeConnection(self.transport)
        self.client = h2.connection.H2Connection(
            h2.config.H2Configuration(
                client_side=True,
                header_encoding=None,
                validate_outbound_headers=False,
            )
        )
        self.events: list[h2.events.Event] = []
        if start:
            self.client.initiate_connection()
            if windowSize is not None:
                self.client.update_settings(
                    {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: windowSize}
                )
            self.pump()

    def pump(self, chunked: bool = False) -> list[h2.events.Event]:
        """
        Carry bytes both ways until both sides are quiet.

        :return: the client's new events.
        """
        new: list[h2.events.Event] = []
        for _ in range(100):
            out = self.client.data_to_send()
            if out:
                if chunked:
                    for i in range(len(out)):
                        self.server.dataReceived(out[i : i + 1])
                else:
                    self.server.dataReceived(out)
            back = self.transport.value()
            self.transport.clear()
            if back:
                new.extend(self.client.receive_data(back))
            if not out and not back:
                break
        self.events.extend(new)
        return new

    def request(
        self,
        path: bytes = b"/",
        method: bytes = b"GET",
        body: bytes | None = None,
        extra: list[tuple[bytes, bytes]] | None = None,
    ) -> int:
        sid: int = self.client.get_next_available_stream_id()
        headers = [
            (b":method", method),
            (b":path", path),
            (b":scheme", b"http"),
            (b":authority", b"example.test"),
            *(extra or []),
        ]
        self.client.send_headers(sid, headers, end_stream=body is None)
        if body is not None:
            self.client.send_data(sid, body, end_stream=True)
        return sid

    def startUpload(self) -> int:
        """
        Send the headers of a ``POST`` whose body is still to come.

        :return: its stream id.
        """
        sid: int = self.client.get_next_available_stream_id()
        self.client.send_headers(
            sid,
            [
                (b":method", b"POST"),
                (b":path", b"/"),
                (b":scheme", b"http"),
                (b":authority", b"a"),
            ],
        )
        return sid

    def response(self, sid: int) -> tuple[dict[bytes, bytes], bytes, bool]:
        """
        :return: the headers, body and whether the stream ended, for ``sid``.
        """
        headers: dict[bytes, bytes] = {}
        body = b""
        ended = False
        for event in self.events:
            if getattr(event, "stream_id", None) != sid:
                continue
            if isinstance(event, h2.events.ResponseReceived):
                headers = dict(event.headers or [])
            elif isinstance(event, h2.events.DataReceived):
                body += event.data or b""
                self.client.acknowledge_received_data(
                    event.flow_controlled_length or 0, sid
                )
            elif isinstance(event, h2.events.StreamEnded):
                ended = True
        return headers, body, ended

    def resets(self) -> dict[int, h2.errors.ErrorCodes | int | None]:
        return {
            e.stream_id: e.error_code
            for e in self.events
            if isinstance(e, h2.events.StreamReset) and e.stream_id is not None
        }

    def goaway(self) -> h2.events.ConnectionTerminated | None:
        for e in self.events:
            if isinstance(e, h2.events.ConnectionTerminated):
                return e
        return None


def test_interfaces() -> None:
    peer = Peer()
    assert verifyObject(IPushProducer, peer.server)
    stream = H2Stream(1, peer.server)
    assert verifyObject(IConsumer, stream)
    assert verifyObject(IPushProducer, stream)


def test_getAndPost() -> None:
    peer = Peer()
    one = peer.request(b"/a?x=1")
    two = peer.request(b"/b", b"POST", b"hello")
    peer.pump()
    headers, body, ended = peer.response(one)
    assert headers[b":status"] == b"200"
    assert b"connection" not in headers
    assert body == b"GET /a?x=1 HTTP/2 body= host=example.test"
    assert ended
    assert peer.response(two)[1] == b"POST /b HTTP/2 body=hello host=example.test"
    assert peer.factory.requests[1].length is None


def test_oneBytePerRead() -> None:
    """
    Frames split at every byte are reassembled.
    """
    peer = Peer(start=False)
    peer.client.initiate_connection()
    sid = peer.request(b"/x", b"PUT", b"data", [(b"content-length", b"4")])
    peer.pump(chunked=True)
    assert peer.response(sid)[1] == b"PUT /x HTTP/2 body=data host=example.test"
    assert peer.factory.requests[0].length == 4


def test_cookiesJoined() -> None:
    peer = Peer()
    peer.request(extra=[(b"cookie", b"a=1"), (b"cookie", b"b=2")])
    peer.pump()
    request = peer.factory.requests[0]
    assert request.requestHeaders.getRawHeaders(b"cookie") == [b"a=1; b=2"]


def test_tinyWindow() -> None:
    """
    With a 10-byte window the server sends 10 bytes, waits for
    WINDOW_UPDATE, and then sends the rest.
    """
    body = b"x" * 100
    peer = Peer(FakeFactory(lambda r: r.respond(body)), windowSize=10)
    sid = peer.request()
    peer.pump()
    _, got, ended = peer.response(sid)
    assert got == b"x" * 10
    assert not ended
    for _ in range(20):
        peer.events.clear()
        peer.client.acknowledge_received_data(10, sid)
        peer.client.increment_flow_control_window(10)
        peer.pump()
        _, more, ended = peer.response(sid)
        got += more
        if ended:
            break
    assert got == body
    assert ended


class PushProducer:
    def __init__(self, request: FakeRequest, chunks: int) -> None:
        self.request = request
        self.remaining = chunks
        self.paused = False
        self.stopped = False
        self.pauses = 0

    def resumeProducing(self) -> None:
        self.paused = False
        while not self.paused and self.remaining and not self.stopped:
            self.remaining -= 1
            self.request.channel.write(b"y" * 1000)
        if not self.remaining and not self.stopped:
            self.request.channel.unregisterProducer()
            self.request.finish()

    def pauseProducing(self) -> None:
        self.paused = True
        self.pauses += 1

    def stopProducing(self) -> None:
        self.stopped = True


def test_producerPausedByWindow() -> None:
    """
    A push producer is paused while the stream's buffer is over its bound
    (the client's window is closed), and resumed when the client opens it;
    the buffered bytes never exceed the bound by more than one write.
    """
    producers: list[PushProducer] = []

    def produce(request: FakeRequest) -> None:
        request.channel.writeHeaders(b"HTTP/2", 200, b"OK", [])
        producer = PushProducer(request, 200)
        producers.append(producer)
        request.channel.registerProducer(producer, True)
        producer.resumeProducing()

    peer = Peer(FakeFactory(produce), windowSize=1000)
    peer.server.maxBufferedPerStream = 8000
    sid = peer.request()
    peer.pump()
    producer = producers[0]
    assert producer.paused
    stream = peer.server._streams[sid]
    assert stream._outboundSize <= 9000
    got = b""
    for _ in range(1000):
        _, more, ended = peer.response(sid)
        peer.events.clear()
        got += more
        if ended:
            break
        peer.client.increment_flow_control_window(5000, sid)
        peer.client.increment_flow_control_window(5000)
        peer.pump()
    assert len(got) == 200 * 1000
    assert producer.pauses > 1


def test_resetStream_notifiesRequest() -> None:
    """
    RST_STREAM from the client reaches the request (``connectionLost``, so
    ``notifyFinish`` fails) and stops its producer.
    """
    producers: list[PushProducer] = []

    def hang(request: FakeRequest) -> None:
        producer = PushProducer(request, 0)
        producers.append(producer)
        request.channel.registerProducer(producer, True)

    peer = Peer(FakeFactory(hang))
    sid = peer.request()
    peer.pump()
    request = peer.factory.requests[0]
    assert request.lost == []
    peer.client.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    peer.pump()
    assert len(request.lost) == 1
    assert "reset" in str(request.lost[0].value)
    assert producers[0].stopped
    # Writes after the reset are dropped quietly.
    request.channel.write(b"late")
    request.finish()
    assert peer.pump() == []


def test_concurrentStreamLimit_refused() -> None:
    """
    With N streams open, stream N+1 is refused with REFUSED_STREAM and the
    connection goes on.
    """
    peer = Peer(FakeFactory(lambda r: None))
    peer.server.maxConcurrentStreams = 3
    sids = [peer.request() for _ in range(4)]
    peer.pump()
    assert peer.resets() == {sids[3]: h2.errors.ErrorCodes.REFUSED_STREAM}
    assert len(peer.factory.requests) == 3
    peer.factory.requests[0].respond(b"ok")
    later = peer.request()
    peer.pump()
    assert later not in peer.resets()
    assert peer.response(sids[0])[1] == b"ok"
    assert peer.goaway() is None


def test_concurrentStreamDefaultAdvertised() -> None:
    peer = Peer()
    assert peer.client.remote_settings.max_concurrent_streams == 128
    assert peer.client.remote_settings.max_header_list_size == 16384


@pytest.mark.parametrize("extra, accepted", [(16170, True), (16171, False)])
def test_HTTP2_headerListSize(extra: int, accepted: bool) -> None:
    """
    A header list of exactly ``maxHeaderListSize`` (16 KiB, counted as
    RFC 9113 does: name + value + 32 per field) is served; one byte more
    ends the connection.
    """
    peer = Peer()
    # :method GET, :path /, :scheme http, :authority example.test and the
    # x-big name weigh 214 bytes with their 32-byte overheads.
    sid = peer.request(extra=[(b"x-big", b"a" * extra)])
    peer.pump()
    if accepted:
        assert peer.response(sid)[0][b":status"] == b"200"
        assert peer.goaway() is None
    else:
        assert peer.goaway() is not None
        assert peer.factory.requests == []
        assert peer.transport.disconnecting


def _frame(kind: int, flags: int, sid: int, payload: bytes) -> bytes:
    return (
        len(payload).to_bytes(3, "big")
        + bytes([kind, flags])
        + sid.to_bytes(4, "big")
        + payload
    )


def test_continuationFlood_goaway() -> None:
    """
    A HEADERS frame followed by CONTINUATION frames that never end is cut
    off once the block passes the header list limit, before h2 buffers it.
    """
    peer = Peer()
    data = _frame(0x1, 0x0, 1, b"\x82")  # :method GET, no END_HEADERS
    fed = 0
    while not peer.transport.disconnecting and fed < 100:
        data += _frame(0x9, 0x0, 1, b"\x00" * 1000)
        peer.server.dataReceived(data)
        data = b""
        fed += 1
    assert fed <= 17
    peer.events.extend(peer.client.receive_data(peer.transport.value()))
    goaway = peer.goaway()
    assert goaway is not None
    assert goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM


@pytest.mark.parametrize(
    "attribute, frame",
    [
        ("maxPingsPerSecond", _frame(0x6, 0, 0, b"12345678")),
        ("maxSettingsPerSecond", _frame(0x4, 0, 0, b"")),
        ("maxResetsPerSecond", None),
    ],
)
def test_floods(attribute: str, frame: bytes | None) -> None:
    """
    N control frames in one second are accepted, N+1 get GOAWAY
    ENHANCE_YOUR_CALM; after a second the count starts again.
    """
    limit = getattr(H2Connection, attribute)

    def frames(n: int, start: int) -> bytes:
        if frame is not None:
            return frame * n
        # Rapid reset: open a stream and reset it at once.
        out = b""
        for i in range(n):
            sid = start + 2 * i
            out += _frame(0x1, 0x5, sid, b"\x82\x84\x86\x41\x01\x61")
            out += _frame(0x3, 0, sid, b"\x00\x00\x00\x08")
        return out

    peer = Peer(FakeFactory(lambda r: None))
    peer.clock.advance(1.5)  # the client's opening SETTINGS is behind us
    peer.server.dataReceived(frames(limit, 1))
    assert not peer.transport.disconnecting
    peer.clock.advance(1.5)
    peer.server.dataReceived(frames(limit, 1 + 2 * limit))
    assert not peer.transport.disconnecting
    peer.server.dataReceived(frames(1, 1 + 4 * limit))
    assert peer.transport.disconnecting
    peer.events.extend(peer.client.receive_data(peer.transport.value()))
    goaway = peer.goaway()
    assert goaway is not None
    assert goaway.error_code == h2.errors.ErrorCodes.ENHANCE_YOUR_CALM


def test_bodyLimit_contentLength() -> None:
    """
    A declared body over the factory's ``maxRequestBody`` gets 413 at once.
    """
    peer = Peer(FakeFactory(maxRequestBody=10))
    ok = peer.request(b"/", b"POST", b"x" * 10, [(b"content-length", b"10")])
    big = peer.request(b"/", b"POST", b"x" * 11, [(b"content-length", b"11")])
    peer.pump()
    assert peer.response(ok)[0][b":status"] == b"200"
    assert peer.response(big)[0][b":status"] == b"413"
    assert len([r for r in peer.factory.requests if r.method]) == 1


def test_bodyLimit_streamed() -> None:
    """
    A body without Content-Length is cut off with 413 once it passes the
    limit.
    """
    peer = Peer(FakeFactory(maxRequestBody=10))
    ok = peer.request(b"/", b"POST", b"x" * 10)
    big = peer.request(b"/", b"POST", b"x" * 11)
    peer.pump()
    assert peer.response(ok)[0][b":status"] == b"200"
    assert peer.response(big)[0][b":status"] == b"413"


def test_receivedDataAcknowledged() -> None:
    """
    The server opens the window again as the body is consumed, so a body
    several times the initial window arrives whole.
    """
    body = b"z" * 300_000
    peer = Peer(FakeFactory(maxRequestBody=None))
    sid = peer.startUpload()
    sent = 0
    for _ in range(1000):
        if sent == len(body):
            break
        window = peer.client.local_flow_control_window(sid)
        size = min(window, 16384, len(body) - sent)
        if size:
            peer.client.send_data(sid, body[sent : sent + size])
            sent += size
        peer.pump()
    peer.client.end_stream(sid)
    peer.pump()
    assert peer.factory.requests[0].body == body


def test_requestBodyPaused() -> None:
    """
    While the request pauses its channel, body data is held and not
    acknowledged; resuming delivers it.
    """
    peer = Peer()
    sid = peer.startUpload()
    peer.pump()
    request = peer.factory.requests[0]
    stream = request.channel
    stream.pauseProducing()
    peer.client.send_data(sid, b"abc", end_stream=True)
    window = peer.client.outbound_flow_control_window
    peer.pump()
    assert request.body == b""
    assert peer.client.outbound_flow_control_window == window
    stream.resumeProducing()
    peer.pump()
    assert request.body == b"abc"
    assert peer.response(sid)[1].startswith(b"POST")


def test_idleTimeout_goaway() -> None:
    """
    With the factory's ``timeOut`` of 30 s, a silent connection gets GOAWAY
    and is closed after 30 s, and not before.
    """
    peer = Peer(FakeFactory(timeOut=30))
    peer.clock.advance(29)
    assert not peer.transport.disconnecting
    peer.request()
    peer.pump()
    peer.clock.advance(29)
    assert not peer.transport.disconnecting
    peer.clock.advance(2)
    assert peer.transport.disconnecting
    peer.pump()
    goaway = peer.goaway()
    assert goaway is not None
    assert goaway.error_code == h2.errors.ErrorCodes.NO_ERROR
    peer.server.connectionLost(Failure(Exception("closed")))
    assert peer.clock.getDelayedCalls() == []


def test_abortAfterGoawayStalls() -> None:
    peer = Peer(FakeFactory(timeOut=5))
    peer.clock.advance(5)
    assert peer.transport.disconnecting
    peer.clock.advance(H2Connection.abortTimeout)
    assert peer.transport.aborted


def test_connectionLost_failsOpenRequests() -> None:
    peer = Peer(FakeFactory(lambda r: None))
    peer.request()
    peer.request()
    peer.pump()
    peer.server.connectionLost(Failure(Exception("gone")))
    assert [len(r.lost) for r in peer.factory.requests] == [1, 1]


def test_priorKnowledge() -> None:
    """
    A connection that starts with the preface and the client's SETTINGS,
    even one byte at a time, is served.
    """
    peer = Peer(start=False)
    peer.client.initiate_connection()
    first = peer.client.data_to_send()
    assert first.startswith(PREFACE)
    for i in range(len(first)):
        peer.server.dataReceived(first[i : i + 1])
    sid = peer.request(b"/pk")
    peer.pump()
    assert peer.response(sid)[1].startswith(b"GET /pk HTTP/2")


def test_badPreface_closes() -> None:
    peer = Peer(start=False)
    peer.server.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert peer.transport.disconnecting


def test_h2cUpgrade() -> None:
    """
    ``upgradeFrom`` serves the upgraded request as stream 1 and then takes
    further streams on the same connection.
    """
    peer = Peer(start=False)
    settings = peer.client.initiate_upgrade_connection()
    assert settings is not None
    unpadded = settings.rstrip(b"=")
    peer.server.upgradeFrom(
        unpadded,
        b"GET",
        b"/up",
        [
            (b"Host", b"up.test"),
            (b"Connection", b"Upgrade, HTTP2-Settings"),
            (b"Upgrade", b"h2c"),
            (b"HTTP2-Settings", unpadded),
            (b"Accept", b"*/*"),
        ],
    )
    peer.pump()
    _, body, ended = peer.response(1)
    assert body == b"GET /up HTTP/2 body= host=up.test"
    assert ended
    request = peer.factory.requests[0]
    assert not request.requestHeaders.hasHeader(b"upgrade")
    assert request.requestHeaders.getRawHeaders(b"accept") == [b"*/*"]
    sid = peer.request(b"/next")
    peer.pump()
    assert peer.response(sid)[1].startswith(b"GET /next HTTP/2")


def test_h2cUpgrade_badSettings() -> None:
    peer = Peer(start=False)
    peer.server.upgradeFrom(b"!!notbase64", b"GET", b"/", [])
    assert peer.transport.disconnecting


def test_expectContinue() -> None:
    peer = Peer()
    sid = peer.request(b"/", b"POST", b"abc", [(b"expect", b"100-continue")])
    peer.pump()
    informational = [
        e for e in peer.events if isinstance(e, h2.events.InformationalResponseReceived)
    ]
    assert informational and dict(informational[0].headers or [])[b":status"] == (
        b"100"
    )
    assert peer.response(sid)[0][b":status"] == b"200"


def test_badHeaderValue_400() -> None:
    """
    A header value the request's Headers refuse (a NUL) gets 400, not a
    crash.
    """
    peer = Peer()
    sid = peer.client.get_next_available_stream_id()
    peer.client.send_headers(
        sid,
        [
            (b":method", b"GET"),
            (b":path", b"/"),
            (b":scheme", b"http"),
            (b"x-bad", b"a\x00b"),
        ],
        end_stream=True,
    )
    peer.pump()
    status = peer.response(sid)[0].get(b":status")
    assert status == b"400" or sid in peer.resets() or peer.goaway() is not None
    assert all(not r.method for r in peer.factory.requests)


def test_streamLoseConnection_resetsOnlyStream() -> None:
    peer = Peer(FakeFactory(lambda r: None))
    one = peer.request()
    two = peer.request()
    peer.pump()
    peer.factory.requests[0].channel.loseConnection()
    peer.pump()
    assert peer.resets() == {one: h2.errors.ErrorCodes.CANCEL}
    peer.factory.requests[1].respond(b"fine")
    peer.pump()
    assert peer.response(two)[1] == b"fine"


def test_transportBackpressure() -> None:
    """
    While the transport pauses the connection, no DATA is written.
    """
    peer = Peer(FakeFactory(lambda r: None))
    sid = peer.request()
    peer.pump()
    request = peer.factory.requests[0]
    peer.server.pauseProducing()
    request.respond(b"q" * 5000)
    peer.pump()
    assert peer.response(sid)[1] == b""
    peer.server.resumeProducing()
    peer.pump()
    assert peer.response(sid)[1] == b"q" * 5000


def test_requiresH2(monkeypatch: pytest.MonkeyPatch) -> None:
    """
    Without ``h2`` the module refuses to import, naming the extra.
    """
    import importlib
    import sys

    for name in [n for n in sys.modules if n == "h2" or n.startswith("h2.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "h2", None)
    monkeypatch.delitem(sys.modules, "torsion.web._http2")
    with pytest.raises(ImportError, match=r"torsion-web\[http2\]"):
        importlib.import_module("torsion.web._http2")
    monkeypatch.setitem(sys.modules, "torsion.web._http2", _http2)


def test_upgradeSettingsPadding() -> None:
    """
    Both padded and unpadded base64url HTTP2-Settings are accepted.
    """
    for strip in (True, False):
        peer = Peer(start=False)
        value = peer.client.initiate_upgrade_connection()
        assert value is not None
        value = value.rstrip(b"=") if strip else value
        assert base64.urlsafe_b64decode(value + b"=" * (-len(value) % 4))
        peer.server.upgradeFrom(value, b"GET", b"/", [(b"Host", b"h")])
        peer.pump()
        assert peer.response(1)[2]


@pytest.mark.parametrize(
    "code", [h2.errors.ErrorCodes.NO_ERROR, h2.errors.ErrorCodes.INTERNAL_ERROR]
)
def test_clientGoaway(code: h2.errors.ErrorCodes) -> None:
    """
    The client's GOAWAY closes the connection; requests still open see
    ``connectionLost``.
    """
    peer = Peer(FakeFactory(lambda r: None))
    peer.request()
    peer.pump()
    peer.client.close_connection(error_code=code)
    peer.server.dataReceived(peer.client.data_to_send())
    assert peer.transport.disconnecting
    assert len(peer.factory.requests[0].lost) == 1
    peer.factory.requests[0].respond(b"late")
    assert b"late" not in peer.transport.value()


def test_splitAtEveryPosition() -> None:
    """
    The client's whole first flight (preface, SETTINGS, a POST with a body),
    split in two at every position, gives the same response.
    """
    probe = Peer(start=False)
    probe.client.initiate_connection()
    probe.request(b"/s", b"POST", b"body")
    flight = probe.client.data_to_send()
    for cut in range(len(flight) + 1):
        peer = Peer(start=False)
        peer.client.initiate_connection()
        peer.request(b"/s", b"POST", b"body")
        assert peer.client.data_to_send() == flight
        peer.server.dataReceived(flight[:cut])
        peer.server.dataReceived(flight[cut:])
        peer.pump()
        assert peer.response(1)[1] == b"POST /s HTTP/2 body=body host=example.test"


@pytest.mark.parametrize("attribute", ["maxPingsPerSecond", "maxEmptyFramesPerSecond"])
def test_floods_oneBytePerRead(attribute: str) -> None:
    """
    A flood fed one byte per read is caught just the same.
    """
    frame = (
        _frame(0x6, 0, 0, b"12345678")
        if attribute == "maxPingsPerSecond"
        else _frame(0x0, 0, 1, b"")
    )
    peer = Peer(FakeFactory(lambda r: None))
    if attribute == "maxEmptyFramesPerSecond":
        peer.startUpload()
        peer.pump()
    limit = getattr(H2Connection, attribute)
    data = frame * (limit + 1)
    for i in range(len(data)):
        peer.server.dataReceived(data[i : i + 1])
        if peer.transport.disconnecting:
            break
    assert i == len(data) - len(frame) + 8  # the last frame header
    assert peer.transport.disconnecting


class CountingTransport(StringTransport):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        super().write(data)


def test_answersBatchedInOneWrite() -> None:
    """
    Ten requests arriving in one read are answered with one write.
    """
    peer = Peer()
    transport = CountingTransport()
    peer.server.transport = transport
    peer.transport = transport
    sids = [peer.request(b"/%d" % i) for i in range(10)]
    peer.server.dataReceived(peer.client.data_to_send())
    assert transport.writes == 1
    peer.events.extend(peer.client.receive_data(transport.value()))
    assert all(peer.response(sid)[2] for sid in sids)


def test_noDelay() -> None:
    peer = Peer()
    assert peer.transport.getTcpNoDelay()


def test_idleTimeout_stalledClient() -> None:
    """
    A client that stops reading (its window stays shut while a response
    waits) is closed after the idle timeout.
    """
    peer = Peer(FakeFactory(lambda r: r.respond(b"x" * 100), timeOut=30), windowSize=0)
    peer.request()
    peer.pump()
    peer.clock.advance(31)
    assert peer.transport.disconnecting


def test_bodyLimit_memoryBounded() -> None:
    """
    A body ten times the limit is cut off at the limit (413); the bytes the
    request holds never exceed it, and the connection window is given back
    so the next upload on the connection still works.
    """
    peer = Peer(FakeFactory(maxRequestBody=1000))
    sid = peer.startUpload()
    for _ in range(100):
        try:
            peer.client.send_data(sid, b"b" * 100)
        except h2.exceptions.StreamClosedError:
            break
        peer.pump()
        assert len(peer.factory.requests[0].body) <= 1000
    assert peer.response(sid)[0][b":status"] == b"413"
    big = b"c" * 1000
    for _ in range(3):
        again = peer.request(b"/", b"POST", big)
        peer.pump()
        assert peer.response(again)[1].endswith(b"body=" + big + b" host=example.test")


def test_heldBodyReleasedOnReset() -> None:
    """
    Body bytes held for a paused request are given back to the connection
    window when the stream is reset.
    """
    peer = Peer()
    sid = peer.startUpload()
    peer.pump()
    peer.factory.requests[0].channel.pauseProducing()
    for _ in range(4):
        peer.client.send_data(sid, b"h" * 15000)
    peer.pump()
    assert peer.factory.requests[0].body == b""
    before = peer.client.outbound_flow_control_window
    peer.client.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    peer.pump()
    assert peer.client.outbound_flow_control_window > before


class PullProducer:
    def __init__(self, request: FakeRequest, chunks: int) -> None:
        self.request = request
        self.left = chunks
        self.calls = 0

    def resumeProducing(self) -> None:
        self.calls += 1
        if self.left:
            self.left -= 1
            self.request.channel.write(b"z" * 10000)
        if not self.left:
            self.request.channel.unregisterProducer()
            self.request.finish()

    def stopProducing(self) -> None:
        self.left = 0


def test_pullProducer() -> None:
    """
    A pull producer is asked for more only once the stream's queue has
    drained: with the client's window shut it is not asked again, and the
    whole body arrives once the client reads.
    """
    producers: list[PullProducer] = []

    def produce(request: FakeRequest) -> None:
        request.channel.writeHeaders(b"HTTP/2", 200, b"OK", [])
        producer = PullProducer(request, 50)
        producers.append(producer)
        request.channel.registerProducer(producer, False)

    peer = Peer(FakeFactory(produce), windowSize=0)
    peer.server.maxBufferedPerStream = 30000
    sid = peer.request()
    peer.pump()
    for _ in range(20):
        peer.clock.advance(0)
    producer = producers[0]
    assert producer.calls == 1  # its chunk still waits for the window
    got = 0
    for _ in range(2000):
        _, more, ended = peer.response(sid)
        peer.events.clear()
        got += len(more)
        if ended:
            break
        peer.client.update_settings(
            {h2.settings.SettingCodes.INITIAL_WINDOW_SIZE: 65535}
        )
        peer.client.increment_flow_control_window(65535)
        peer.pump()
        peer.clock.advance(0)
        peer.pump()
    assert got == 50 * 10000


def _serverFrames(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """
    Split what the server wrote (after its SETTINGS) into
    ``(type, flags, streamID, payload)``.
    """
    frames = []
    while len(data) >= 9:
        length = int.from_bytes(data[:3], "big")
        frames.append(
            (data[3], data[4], int.from_bytes(data[5:9], "big"), data[9 : 9 + length])
        )
        data = data[9 + length :]
    return frames


def _rawRequests(sids: range) -> bytes:
    # :method GET, :path /, :scheme http, :authority a (literal, not indexed)
    block = b"\x82\x84\x86\x01\x01a"
    return b"".join(_frame(0x1, 0x5, sid, block) for sid in sids)


def test_HTTP2_concurrentStreams_default128() -> None:
    """
    128 open streams are served; the 129th is refused (REFUSED_STREAM);
    a client that keeps opening streams only to have them refused is cut
    off like a rapid-reset flood.
    """
    peer = Peer(FakeFactory(lambda r: None))
    peer.transport.clear()
    peer.server.dataReceived(_rawRequests(range(1, 2 * 129, 2)))
    assert len(peer.factory.requests) == 128
    resets = [
        (sid, int.from_bytes(payload, "big"))
        for kind, _, sid, payload in _serverFrames(peer.transport.value())
        if kind == 0x3
    ]
    assert resets == [(2 * 129 - 1, h2.errors.ErrorCodes.REFUSED_STREAM)]
    assert not peer.transport.disconnecting
    # Each refusal counts as a reset: 100 in a second are tolerated...
    peer.server.dataReceived(_rawRequests(range(2 * 129 + 1, 2 * 228, 2)))
    assert len(peer.factory.requests) == 128
    assert not peer.transport.disconnecting
    # ... the 101st is a flood.
    peer.server.dataReceived(_rawRequests(range(2 * 228 + 1, 2 * 229, 2)))
    assert peer.transport.disconnecting
    goaways = [
        payload
        for kind, _, _, payload in _serverFrames(peer.transport.value())
        if kind == 0x7
    ]
    assert int.from_bytes(goaways[0][4:8], "big") == (
        h2.errors.ErrorCodes.ENHANCE_YOUR_CALM
    )


_frames = st.lists(
    st.tuples(
        st.integers(0, 10),
        st.integers(0, 255),
        st.integers(0, 9),
        st.binary(max_size=40),
    ),
    max_size=12,
).map(
    lambda items: b"".join(
        _frame(kind, flags, sid, payload) for kind, flags, sid, payload in items
    )
)


@settings(max_examples=150, deadline=None)
@given(
    noise=st.one_of(st.binary(max_size=200), _frames),
    cuts=st.lists(st.integers(0, 400), max_size=4),
    openStream=st.booleans(),
)
def test_randomInputNeverRaises(
    noise: bytes, cuts: list[int], openStream: bool
) -> None:
    """
    Whatever follows the preface, split however, the connection either
    serves it or closes; ``dataReceived`` never raises.
    """
    peer = Peer(start=False)
    peer.client.initiate_connection()
    data = peer.client.data_to_send()
    if openStream:
        # A request on stream 1 still open for a body, so that DATA,
        # RST_STREAM and WINDOW_UPDATE frames reach a live stream.
        data += _frame(0x1, 0x4, 1, b"\x83\x84\x86\x01\x01a")
    data += noise
    points = sorted({c for c in cuts if c < len(data)})
    bounds = zip([0, *points], [*points, len(data)], strict=True)
    pieces = [data[a:b] for a, b in bounds]
    for piece in pieces:
        peer.server.dataReceived(piece)
    peer.server.connectionLost(Failure(Exception("done")))


def test_idleTimeout_pingsDoNotKeepAlive() -> None:
    """
    A client that stops reading but sends PINGs is still timed out; one
    that keeps sending requests is not.
    """
    peer = Peer(FakeFactory(lambda r: r.respond(b"x" * 100), timeOut=30), windowSize=0)
    peer.request()
    peer.pump()
    for _ in range(5):
        peer.clock.advance(10)
        if peer.transport.disconnecting:
            break
        peer.client.ping(b"12345678")
        peer.pump()
    assert peer.transport.disconnecting

    busy = Peer(FakeFactory(timeOut=30))
    for _ in range(5):
        busy.clock.advance(20)
        busy.request()
        busy.pump()
    assert not busy.transport.disconnecting


def test_idleTimeout_bodyNeverSent() -> None:
    """
    A request whose body never comes does not hold the connection open.
    """
    peer = Peer(FakeFactory(timeOut=30))
    peer.startUpload()
    peer.pump()
    peer.clock.advance(31)
    assert peer.transport.disconnecting
    assert len(peer.factory.requests[0].lost) == 1


def test_responseFieldsNormalised() -> None:
    """
    Response fields that mean nothing in HTTP/2 are dropped, names are
    lower-cased and values trimmed, so the client accepts the response.
    """

    def respond(request: FakeRequest) -> None:
        request.channel.writeHeaders(
            b"HTTP/1.1",
            200,
            b"OK",
            [
                (b"X-Mixed-Case", b"  padded  "),
                (b"TE", b"gzip"),
                (b"Keep-Alive", b"timeout=5"),
                (b"Transfer-Encoding", b"chunked"),
                (b"Upgrade", b"h2c"),
                (b"Set-Cookie", b"a=1"),
                (b"Set-Cookie", b"b=2"),
            ],
        )
        request.finish()

    peer = Peer(FakeFactory(respond))
    sid = peer.request()
    peer.pump()
    fields = [
        (name, value)
        for e in peer.events
        if isinstance(e, h2.events.ResponseReceived)
        for name, value in e.headers or []
    ]
    assert fields[0] == (b":status", b"200")
    assert (b"x-mixed-case", b"padded") in fields
    assert [v for n, v in fields if n == b"set-cookie"] == [b"a=1", b"b=2"]
    names = {n for n, _ in fields}
    assert not names & {b"te", b"keep-alive", b"transfer-encoding", b"upgrade"}
    assert peer.response(sid)[2]
