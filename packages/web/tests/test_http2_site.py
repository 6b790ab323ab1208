"""
HTTP/2 behind the HTTP/1.1 channel: ALPN and h2c hand-over from
``torsion.web.http.HTTPChannel`` to ``H2Connection``, with real
``torsion.web.http.Request`` objects on the streams.
"""

from __future__ import annotations

from typing import Any

import h2.config
import h2.connection
import h2.errors
import h2.events
import h2.settings
from zope.interface.verify import verifyObject

from torsion.internet.error import ConnectionLost
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.python.failure import Failure
from torsion.web import http
from torsion.web._http2 import H2Connection, H2Stream


class EchoRequest(http.Request):
    """
    Answers with what it saw of itself.
    """

    def process(self) -> None:
        args = b",".join(
            b"%s=%s" % (k, b"|".join(v)) for k, v in sorted(self.args.items())
        )
        body = b"%s %s %s secure=%d args=%s" % (
            self.method,
            self.uri,
            self.clientproto,
            self.isSecure(),
            args,
        )
        self.setHeader(b"content-type", b"text/plain")
        self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()


class HangingRequest(http.Request):
    """
    Never answers by itself.
    """

    def process(self) -> None:
        self.channel.factory.hanging.append(self)


class Factory(http.HTTPFactory):
    def __init__(self, requestFactory: Any = EchoRequest, **kw: Any) -> None:
        super().__init__(reactor=Clock(), **kw)
        self.requestFactory = requestFactory
        self.logged: list[Any] = []
        self.hanging: list[http.Request] = []

    def log(self, request: Any) -> None:
        self.logged.append(request)


class TLSTransport(StringTransport):
    """
    A memory transport that says TLS negotiated ``h2`` through ALPN.
    """

    negotiatedProtocol = b"h2"


def newClient() -> h2.connection.H2Connection:
    return h2.connection.H2Connection(
        h2.config.H2Configuration(client_side=True, header_encoding=None)
    )


class Link:
    def __init__(self, factory: Factory, transport: StringTransport) -> None:
        self.factory = factory
        self.transport = transport
        self.channel = factory.buildProtocol(None)
        self.channel.makeConnection(transport)
        self.client = newClient()
        self.events: list[h2.events.Event] = []

    def pump(self) -> None:
        for _ in range(100):
            out = self.client.data_to_send()
            if out:
                self.channel.dataReceived(out)
            back = self.transport.value()
            self.transport.clear()
            if back:
                self.events.extend(self.client.receive_data(back))
            if not out and not back:
                return

    def get(
        self, path: bytes, method: bytes = b"GET", body: bytes | None = None, **kw: Any
    ) -> int:
        sid: int = self.client.get_next_available_stream_id()
        headers = [
            (b":method", method),
            (b":path", path),
            (b":scheme", b"https"),
            (b":authority", b"site.test"),
        ]
        headers += kw.get("extra", [])
        self.client.send_headers(sid, headers, end_stream=body is None)
        if body is not None:
            self.client.send_data(sid, body, end_stream=True)
        return sid

    def response(self, sid: int) -> tuple[dict[bytes, bytes], bytes]:
        headers: dict[bytes, bytes] = {}
        body = b""
        for e in self.events:
            if getattr(e, "stream_id", None) != sid:
                continue
            if isinstance(e, h2.events.ResponseReceived):
                headers = dict(e.headers or [])
            elif isinstance(e, h2.events.DataReceived):
                body += e.data or b""
        return headers, body


def alpnLink(factory: Factory | None = None) -> Link:
    link = Link(factory or Factory(), TLSTransport())
    link.client.initiate_connection()
    link.pump()
    return link


def test_alpnHandover() -> None:
    """
    A TLS connection that negotiated h2 is served by ``H2Connection``;
    requests are the factory's, see HTTP/2 and a secure connection, and
    are logged.
    """
    link = alpnLink()
    assert isinstance(link.channel._switchedTo, H2Connection)
    sid = link.get(b"/a?x=1&x=2")
    link.pump()
    headers, body = link.response(sid)
    assert body == b"GET /a?x=1&x=2 HTTP/2 secure=1 args=x=1|2"
    assert headers[b":status"] == b"200"
    assert headers[b"content-length"] == str(len(body)).encode()
    assert b"date" in headers and b"server" in headers
    assert [r.uri for r in link.factory.logged] == [b"/a?x=1&x=2"]


def test_streamProvidesRequestChannel() -> None:
    link = alpnLink(Factory(HangingRequest))
    link.get(b"/")
    link.pump()
    stream = link.factory.hanging[0].channel
    assert isinstance(stream, H2Stream)
    assert verifyObject(http._IRequestChannel, stream)


def test_formBody() -> None:
    link = alpnLink()
    sid = link.get(
        b"/f",
        b"POST",
        b"a=1&b=2",
        extra=[(b"content-type", b"application/x-www-form-urlencoded")],
    )
    link.pump()
    assert link.response(sid)[1] == b"POST /f HTTP/2 secure=1 args=a=1,b=2"


def test_headRequest() -> None:
    link = alpnLink()
    sid = link.get(b"/h", b"HEAD")
    link.pump()
    headers, body = link.response(sid)
    assert headers[b":status"] == b"200"
    assert int(headers[b"content-length"]) > 0
    assert body == b""
    assert any(
        isinstance(e, h2.events.StreamEnded) and e.stream_id == sid for e in link.events
    )


def test_defaultRequest404() -> None:
    link = alpnLink(Factory(http.Request))
    sid = link.get(b"/nothing")
    link.pump()
    assert link.response(sid)[0][b":status"] == b"404"


def test_notifyFinishFailsOnReset() -> None:
    """
    RST_STREAM makes the request's ``notifyFinish`` Deferred fail.
    """
    link = alpnLink(Factory(HangingRequest))
    sid = link.get(b"/wait")
    link.pump()
    request = link.factory.hanging[0]
    failures: list[Failure] = []
    request.notifyFinish().addErrback(failures.append)
    link.client.reset_stream(sid, h2.errors.ErrorCodes.CANCEL)
    link.pump()
    assert len(failures) == 1
    assert failures[0].check(ConnectionLost)
    # The resource may still finish; nothing is sent and nothing breaks.
    request.write(b"late")
    request.finish()
    link.pump()
    assert link.response(sid)[1] == b""


def test_notifyFinishSucceeds() -> None:
    link = alpnLink(Factory(HangingRequest))
    sid = link.get(b"/wait")
    link.pump()
    request = link.factory.hanging[0]
    done: list[object] = []
    request.notifyFinish().addCallback(done.append)
    request.write(b"hello")
    request.finish()
    link.pump()
    assert done == [None]
    assert link.response(sid)[1] == b"hello"


class Producer:
    def __init__(self, request: http.Request, total: int) -> None:
        self.request = request
        self.left = total
        self.paused = False
        self.pauses = 0

    def resumeProducing(self) -> None:
        self.paused = False
        while self.left and not self.paused:
            self.left -= 1
            self.request.write(b"p" * 1024)
        if not self.left:
            self.request.unregisterProducer()
            self.request.finish()

    def pauseProducing(self) -> None:
        self.paused = True
        self.pauses += 1

    def stopProducing(self) -> None:
        self.left = 0


def test_requestProducerFollowsWindow() -> None:
    """
    A push producer registered on the request streams 1 MiB through a
    64 KiB window; it is paused whenever the window is closed.
    """
    link = alpnLink(Factory(HangingRequest))
    sid = link.get(b"/big")
    link.pump()
    request = link.factory.hanging[0]
    producer = Producer(request, 1024)
    request.registerProducer(producer, True)
    producer.resumeProducing()
    got = 0
    for _ in range(10000):
        link.pump()
        for e in link.events:
            if isinstance(e, h2.events.DataReceived) and e.stream_id == sid:
                got += len(e.data or b"")
                link.client.acknowledge_received_data(
                    e.flow_controlled_length or 0, sid
                )
        ended = any(isinstance(e, h2.events.StreamEnded) for e in link.events)
        link.events.clear()
        if ended:
            break
    assert got == 1024 * 1024
    assert producer.pauses > 0


def upgradeRequest(client: h2.connection.H2Connection) -> bytes:
    settings: bytes | None = client.initiate_upgrade_connection()
    assert settings is not None
    return (
        b"GET /up?q=1 HTTP/1.1\r\n"
        b"Host: site.test\r\n"
        b"Connection: Upgrade, HTTP2-Settings\r\n"
        b"Upgrade: h2c\r\n"
        b"HTTP2-Settings: " + settings + b"\r\n\r\n"
    )


def upgraded(link: Link) -> bytes:
    """
    Check that the channel answered the upgrade with 101, then pass what
    follows it to the HTTP/2 client.

    :return: the body of the upgraded request's response (stream 1).
    """
    out = link.transport.value()
    link.transport.clear()
    head, _, rest = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 101 ")
    link.events.extend(link.client.receive_data(rest))
    link.pump()
    return link.response(1)[1]


def test_h2cUpgradeThroughChannel() -> None:
    """
    An HTTP/1.1 request asking for h2c gets 101, then its response as
    stream 1, and the connection goes on in HTTP/2.
    """
    link = Link(Factory(), StringTransport())
    link.channel.dataReceived(upgradeRequest(link.client))
    assert upgraded(link) == b"GET /up?q=1 HTTP/2 secure=0 args=q=1"
    sid = link.get(b"/again")
    link.pump()
    assert link.response(sid)[1] == b"GET /again HTTP/2 secure=0 args="


def test_h2cUpgradeSplitBytes() -> None:
    """
    The upgrade request and the client's preface arriving in the same read
    (or split anywhere) work the same.
    """
    probe = newClient()
    request = upgradeRequest(probe)
    preface = probe.data_to_send()
    whole = request + preface
    for cut in range(0, len(whole) + 1, 7):
        link = Link(Factory(), StringTransport())
        assert upgradeRequest(link.client) == request
        assert link.client.data_to_send() == preface
        link.channel.dataReceived(whole[:cut])
        link.channel.dataReceived(whole[cut:])
        assert upgraded(link) == b"GET /up?q=1 HTTP/2 secure=0 args=q=1"


def test_bodyLimitFromFactory() -> None:
    link = alpnLink(Factory(maxRequestBody=5))
    ok = link.get(b"/", b"POST", b"12345")
    big = link.get(b"/", b"POST", b"123456")
    link.pump()
    assert link.response(ok)[0][b":status"] == b"200"
    assert link.response(big)[0][b":status"] == b"413"


def test_idleTimeoutFromFactory() -> None:
    """
    The factory's ``timeout`` closes an idle HTTP/2 connection, but not
    one whose response is still being prepared.
    """
    factory = Factory(HangingRequest, timeout=10)
    link = alpnLink(factory)
    clock: Clock = factory._reactor
    link.get(b"/slow")
    link.pump()
    clock.advance(25)
    assert not link.transport.disconnecting
    factory.hanging[0].write(b"done")
    factory.hanging[0].finish()
    link.pump()
    clock.advance(9)
    assert not link.transport.disconnecting
    clock.advance(2)
    assert link.transport.disconnecting
    link.channel.connectionLost(Failure(ConnectionLost("closed")))
    assert clock.getDelayedCalls() == []


def test_priorKnowledgeThroughChannel() -> None:
    """
    A cleartext connection opening with the HTTP/2 preface (even one byte
    at a time) is handed to ``H2Connection``.
    """
    link = Link(Factory(), StringTransport())
    link.client.initiate_connection()
    first = link.client.data_to_send()
    for i in range(len(first)):
        link.channel.dataReceived(first[i : i + 1])
    assert isinstance(link.channel._switchedTo, H2Connection)
    link.events.extend(link.client.receive_data(link.transport.value()))
    link.transport.clear()
    sid = link.get(b"/pk")
    link.pump()
    assert link.response(sid)[1] == b"GET /pk HTTP/2 secure=0 args="
