"""
Tests for ``torsion.web.http``: the channel over a memory transport with a
fake clock.
"""

from __future__ import annotations

import io
import os
import time
from typing import Any

import pytest
from httphelpers import (
    EchoRequest,
    assertLingeringClose,
    feedWays,
    header,
    makeChannel,
    readResponses,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from zope.interface.verify import verifyObject

from torsion.internet import interfaces
from torsion.internet.error import ConnectionDone, ConnectionLost
from torsion.internet.protocol import Protocol
from torsion.internet.testing import StringTransport
from torsion.python.failure import Failure
from torsion.web import http, iweb
from torsion.web.http_headers import Headers

GET = b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def _recordingChannel() -> tuple[list[http.Request], http.HTTPChannel, StringTransport]:
    """
    A channel whose requests finish at once, empty, and are kept.

    :return: the kept requests (filled as they arrive), the channel and its
        transport.
    """
    seen: list[http.Request] = []

    class Record(http.Request):
        def process(self) -> None:
            seen.append(self)
            self.finish()

    channel, transport, _ = makeChannel(Record)
    return seen, channel, transport


def test_simpleRequest() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(b"GET /a?x=1 HTTP/1.1\r\nHost: h\r\n\r\n")
    [(head, body)] = readResponses(transport.value())
    assert head.status == 200
    assert head.reason == b"OK"
    assert body == b"GET /a "
    assert header(head, b"server") == http.SERVER_VERSION
    date = header(head, b"date")
    assert date is not None
    assert date.endswith(b" GMT")
    assert not transport.disconnecting


def test_noDelay() -> None:
    """
    Nagle's algorithm is off: the small last write of a response (the last
    chunk) is not held back waiting for an acknowledgement.
    """
    _, transport, _ = makeChannel()
    assert transport.getTcpNoDelay()


def test_defaultProcessAnswers404() -> None:
    channel, transport, _ = makeChannel(http.Request)
    channel.dataReceived(GET)
    [(head, body)] = readResponses(transport.value())
    assert head.status == 404
    assert b"Not Found" in body


def test_requestAttributes() -> None:
    seen, channel, transport = _recordingChannel()
    channel.dataReceived(
        b"POST /p/q?a=1&a=2&b= HTTP/1.1\r\nHost: example.com:8080\r\n"
        b"Content-Length: 3\r\nCookie: s=1; t=two\r\n"
        b"Authorization: Basic dXNlcjpwYTpzcw==\r\n\r\nabc"
    )
    [request] = seen
    assert request.method == b"POST"
    assert request.uri == b"/p/q?a=1&a=2&b="
    assert request.path == b"/p/q"
    assert request.args == {b"a": [b"1", b"2"], b"b": [b""]}
    assert request.clientproto == b"HTTP/1.1"
    assert request.content is not None
    assert request.content.read() == b"abc"
    assert request.getHeader(b"host") == b"example.com:8080"
    assert request.getHeader("host") == "example.com:8080"
    assert request.getHeader(b"missing") is None
    assert request.getAllHeaders()[b"content-length"] == b"3"
    assert request.received_cookies == {b"s": b"1", b"t": b"two"}
    assert request.getCookie(b"t") == b"two"
    assert request.getUser() == b"user"
    assert request.getPassword() == b"pa:ss"
    assert request.getRequestHostname() == b"example.com"
    assert request.getClientAddress() == transport.getPeer()
    assert request.getHost() == transport.getHost()
    assert not request.isSecure()
    assert request.transport is transport
    assert request.channel is channel
    [(head, _)] = readResponses(transport.value())
    assert header(head, b"content-length") == b"0"


def test_requestHostnameFallbacks() -> None:
    channel, _, _ = makeChannel()
    request = http.Request(channel)
    assert request.getRequestHostname() == b"10.0.0.1"
    request.requestHeaders.setRawHeaders(b"host", [b"[::1]:80"])
    assert request.getRequestHostname() == b"[::1]"
    assert request.getUser() == b""
    request.requestHeaders.setRawHeaders(b"authorization", [b"Basic !!!"])
    assert request.getPassword() == b""


def test_setHost() -> None:
    channel, _, _ = makeChannel()
    request = http.Request(channel)
    request.setHost(b"example.org", 443, ssl=True)
    assert request.isSecure()
    assert request.getHost().port == 443
    assert request.getHeader(b"host") == b"example.org"
    request.setHost(b"example.org", 8443, ssl=True)
    assert request.getHeader(b"host") == b"example.org:8443"


def test_isSecureWithTLSTransport() -> None:
    from zope.interface import directlyProvides

    transport = StringTransport()
    directlyProvides(transport, interfaces.ISSLTransport)
    channel, _, _ = makeChannel(transport=transport)
    assert http.Request(channel).isSecure()


def test_verifyInterfaces() -> None:
    channel, _, _ = makeChannel()
    verifyObject(http._IRequestChannel, channel)
    verifyObject(interfaces.IPushProducer, channel)
    verifyObject(interfaces.IPushProducer, http._StallWatch(channel, channel))
    request = http.Request(channel)
    verifyObject(interfaces.IConsumer, request)
    verifyObject(iweb.IAccessLogFormatter, http.combinedLogFormatter)
    verifyObject(iweb.IAccessLogFormatter, http.proxiedLogFormatter)
    # Everything of IRequest except what torsion.web.server adds.
    for name in iweb.IRequest.names(all=True):
        if name in ("getSession", "URLPath", "prePathURL"):
            continue
        assert hasattr(request, name), name


def test_keepAliveHTTP11() -> None:
    channel, transport, _ = makeChannel()
    for _ in range(3):
        channel.dataReceived(GET)
    responses = readResponses(transport.value())
    assert [h.status for h, _ in responses] == [200, 200, 200]
    assert not transport.disconnecting


def test_connectionCloseFromClient() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n" + GET
    )
    [(head, _)] = readResponses(transport.value())
    assert header(head, b"connection") == b"close"
    assert transport.disconnecting


def test_connectionCloseFromResponse() -> None:
    class Closing(http.Request):
        def process(self) -> None:
            self.setHeader(b"connection", b"close")
            self.write(b"x")
            self.finish()

    channel, transport, _ = makeChannel(Closing)
    channel.dataReceived(GET)
    [(_head, body)] = readResponses(transport.value())
    assert body == b"x"
    assert transport.disconnecting


def test_http10CloseByDefault() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(b"GET /x HTTP/1.0\r\n\r\n")
    [(head, body)] = readResponses(transport.value())
    assert body == b"GET /x "
    assert header(head, b"connection") == b"close"
    assert transport.disconnecting


def test_http10KeepAlive() -> None:
    channel, transport, _ = makeChannel()
    request = b"GET /x HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"
    channel.dataReceived(request + request)
    responses = readResponses(transport.value())
    assert len(responses) == 2
    assert header(responses[0][0], b"connection") == b"keep-alive"
    assert not transport.disconnecting


def test_http10UnknownLengthClosesAfterBody() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(b"GET /chunked HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    value = transport.value()
    assert b"transfer-encoding" not in value.lower()
    assert value.endswith(b"\r\n\r\nGET /chunked ")
    assert transport.disconnecting


def test_chunkedResponse() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(b"GET /chunked HTTP/1.1\r\nHost: h\r\n\r\n")
    value = transport.value()
    assert value.endswith(b"\r\n\r\nd\r\nGET /chunked \r\n0\r\n\r\n")
    [(head, body)] = readResponses(value)
    assert header(head, b"transfer-encoding") == b"chunked"
    assert body == b"GET /chunked "


def test_chunkedRequestBody() -> None:
    body = b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nTrailer: x\r\n\r\n"
    channel, transport, _ = makeChannel()
    channel.dataReceived(
        b"POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        + body
        + GET
    )
    responses = readResponses(transport.value())
    assert [b for _, b in responses] == [b"POST /c hello world", b"GET / "]


def test_pipeliningInOrder() -> None:
    """
    HTTP-9: the second request is not dispatched before the first finished,
    and the responses come in request order.
    """
    dispatched: list[bytes] = []

    class Order(EchoRequest):
        def process(self) -> None:
            dispatched.append(self.path)
            super().process()

    channel, transport, _ = makeChannel(Order)
    channel.dataReceived(
        b"GET /hold HTTP/1.1\r\nHost: h\r\n"
        b"\r\nGET /fast HTTP/1.1\r\nHost: h\r\n\r\nGET /f2 HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    assert dispatched == [b"/hold"]
    assert transport.value() == b""
    [held] = EchoRequest.held
    held.write(b"slow")
    held.finish()
    assert dispatched == [b"/hold", b"/fast", b"/f2"]
    bodies = [b for _, b in readResponses(transport.value())]
    assert bodies == [b"slow", b"GET /fast ", b"GET /f2 "]


def test_pipelinePausesReading() -> None:
    channel, transport, _ = makeChannel(maxPipelinedRequests=3)
    channel.dataReceived(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
    channel.dataReceived(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n" * 2)
    assert transport.producerState == "producing"
    channel.dataReceived(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
    assert str(transport.producerState) == "paused"
    EchoRequest.held[0].finish()
    assert transport.producerState == "producing"
    assert len(readResponses(transport.value())) == 4


def test_pipelineBytesBounded() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
    channel.dataReceived(b"X" * (70 * 1024))
    assert transport.producerState == "paused"


def test_maxRequestsPerConnection() -> None:
    channel, transport, _ = makeChannel(maxRequestsPerConnection=2)
    channel.dataReceived(GET + GET + GET)
    responses = readResponses(transport.value())
    assert len(responses) == 2
    assert header(responses[1][0], b"connection") == b"close"
    assert transport.disconnecting


def test_maxConnectionLifetime() -> None:
    channel, transport, clock = makeChannel(maxConnectionLifetime=100, timeout=None)
    channel.dataReceived(GET)
    clock.advance(99)
    channel.dataReceived(GET)
    assert not transport.disconnecting
    clock.advance(1)
    channel.dataReceived(GET)
    responses = readResponses(transport.value())
    assert len(responses) == 3
    assert header(responses[2][0], b"connection") == b"close"
    assert transport.disconnecting


def test_headRequest() -> None:
    class Sized(http.Request):
        def process(self) -> None:
            self.setHeader(b"content-length", b"5")
            self.write(b"hello")
            self.finish()

    channel, transport, _ = makeChannel(Sized)
    channel.dataReceived(b"HEAD / HTTP/1.1\r\nHost: h\r\n\r\n" + GET)
    value = transport.value()
    responses = readResponses(value, [b"HEAD", b"GET"])
    assert header(responses[0][0], b"content-length") == b"5"
    assert responses[0][1] == b""
    assert responses[1][1] == b"hello"
    assert value.count(b"hello") == 1


def test_headUnknownLength() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(b"HEAD /chunked HTTP/1.1\r\nHost: h\r\n\r\n" + GET)
    value = transport.value()
    assert b"chunked" not in value.split(b"\r\n\r\n")[0].lower()
    responses = readResponses(value, [b"HEAD", b"GET"])
    assert [b for _, b in responses] == [b"", b"GET / "]


@pytest.mark.parametrize(
    ("length", "written"), [(b"5", b"hello world"), (b"20", b"short"), (b"x", b"a")]
)
def test_contentLengthMismatchCloses(length: bytes, written: bytes) -> None:
    """
    A response whose body does not match its Content-Length cannot be
    followed by another on the connection: extra bytes are dropped and the
    connection closes.
    """

    class Liar(http.Request):
        def process(self) -> None:
            self.setHeader(b"content-length", length)
            self.write(written)
            self.finish()

    channel, transport, _ = makeChannel(Liar)
    channel.dataReceived(GET + GET)
    value = transport.value()
    assert transport.disconnecting
    assert value.count(b"HTTP/1.1 200") == 1
    if length == b"5":
        assert value.endswith(b"\r\n\r\nhello")


def test_noContentHasNoBody() -> None:
    class Empty(http.Request):
        def process(self) -> None:
            self.setResponseCode(204)
            self.write(b"ignored")
            self.finish()

    channel, transport, _ = makeChannel(Empty)
    channel.dataReceived(GET + GET)
    value = transport.value()
    assert b"ignored" not in value
    assert b"content-length" not in value.lower()
    assert len(readResponses(value)) == 2


def test_expectContinue() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(
        b"POST /u HTTP/1.1\r\nHost: h\r\n"
        b"Content-Length: 3\r\nExpect: 100-continue\r\n\r\n"
    )
    assert transport.value() == b"HTTP/1.1 100 Continue\r\n\r\n"
    transport.clear()
    channel.dataReceived(b"abc")
    [(_head, body)] = readResponses(transport.value())
    assert body == b"POST /u abc"


def test_expectContinueBodyAlreadyHere() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(
        b"POST /u HTTP/1.1\r\nHost: h\r\n"
        b"Content-Length: 3\r\nExpect: 100-continue\r\n\r\nabc"
    )
    assert not transport.value().startswith(b"HTTP/1.1 100")


def test_expectContinueTooLarge() -> None:
    """
    HTTP-19: a body over the limit is refused before it is read.
    """
    channel, transport, clock = makeChannel(maxRequestBody=10)
    channel.dataReceived(
        b"POST /u HTTP/1.1\r\nHost: h\r\n"
        b"Content-Length: 11\r\nExpect: 100-continue\r\n\r\n"
    )
    value = transport.value()
    assert value.startswith(b"HTTP/1.1 413 ")
    assert b"100 Continue" not in value
    assertLingeringClose(channel, transport, clock)


def test_unknownExpectation() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\nExpect: magic\r\n\r\n")
    assert transport.value().startswith(b"HTTP/1.1 417 ")


@pytest.mark.parametrize("chunked", [False, True])
def test_maxRequestBodyBoundary(chunked: bool) -> None:
    def request(n: int) -> bytes:
        if chunked:
            return (
                b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"%x\r\n%s\r\n0\r\n\r\n" % (n, b"x" * n)
            )
        return b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n%s" % (
            n,
            b"x" * n,
        )

    channel, transport, _ = makeChannel(maxRequestBody=100)
    channel.dataReceived(request(100))
    [(head, _)] = readResponses(transport.value())
    assert head.status == 200
    channel, transport, clock = makeChannel(maxRequestBody=100)
    channel.dataReceived(request(101))
    assert transport.value().startswith(b"HTTP/1.1 413 ")
    assertLingeringClose(channel, transport, clock)


def test_unlimitedBody() -> None:
    channel, transport, _ = makeChannel(maxRequestBody=None)
    n = 2 * 1024 * 1024
    channel.dataReceived(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % n
    )
    channel.dataReceived(b"x" * n)
    [(head, body)] = readResponses(transport.value())
    assert head.status == 200
    assert len(body) == n + len(b"POST / ")


def test_spooling() -> None:
    contents: list[Any] = []

    class Keep(http.Request):
        def process(self) -> None:
            contents.append(self.content)
            self.finish()

    channel, _transport, _ = makeChannel(Keep)
    small = b"x" * 100
    big = b"y" * (http.Request.spoolThreshold + 1)
    channel.dataReceived(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n" + small
    )
    channel.dataReceived(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: %d\r\n\r\n" % len(big)
    )
    channel.dataReceived(big)
    channel.dataReceived(
        b"POST / HTTP/1.1\r\nHost: h\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n0\r\n\r\n" % (len(big), big)
    )
    assert isinstance(contents[0], io.BytesIO)
    assert contents[0].read() == small
    for content in contents[1:]:
        assert not isinstance(content, io.BytesIO)
        assert content.read() == big


def test_formBody() -> None:
    seen, channel, _ = _recordingChannel()
    body = b"a=1&b=x+y&a=%263"
    channel.dataReceived(
        b"POST /?q=0 HTTP/1.1\r\nHost: h\r\n"
        b"Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
    )
    assert seen[0].args == {b"q": [b"0"], b"a": [b"1", b"&3"], b"b": [b"x y"]}
    assert seen[0].content is not None
    assert seen[0].content.read() == body


MULTIPART = (
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="field"\r\n\r\n'
    b"value\r\n"
    b"--XyZ\r\n"
    b'Content-Disposition: form-data; name="file"; filename="a.bin"\r\n'
    b"Content-Type: application/octet-stream\r\n\r\n"
    b"\x00\x01binary\r\n\r\n"
    b"--XyZ--\r\n"
)


def test_multipartBody() -> None:
    seen, channel, _ = _recordingChannel()
    channel.dataReceived(
        b"POST / HTTP/1.1\r\nHost: h\r\n"
        b"Content-Type: multipart/form-data; boundary=XyZ\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(MULTIPART), MULTIPART)
    )
    assert seen[0].args == {b"field": [b"value"], b"file": [b"\x00\x01binary\r\n"]}


@pytest.mark.parametrize(
    ("ctype", "body"),
    [
        (b"multipart/form-data; boundary=XyZ", b"no boundary here"),
        (b"multipart/form-data", MULTIPART),
        (b"application/x-www-form-urlencoded", b"&".join([b"a=1"] * 11)),
    ],
)
def test_badForms(ctype: bytes, body: bytes) -> None:
    channel, transport, _ = makeChannel(maxFormFields=10)
    channel.dataReceived(
        b"POST / HTTP/1.1\r\nHost: h\r\n"
        b"Content-Type: %s\r\nContent-Length: %d\r\n\r\n%s" % (ctype, len(body), body)
    )
    [(head, _)] = readResponses(transport.value())
    assert head.status == 400


def test_queryBytes() -> None:
    """
    Query strings are bytes: raw UTF-8 and escapes of any byte are kept.
    """
    assert http.parseQueryString(b"q=\xc3\xa9&r=%ff&a+b=c+d&&e&f=&a+b=2") == {
        b"q": [b"\xc3\xa9"],
        b"r": [b"\xff"],
        b"a b": [b"c d", b"2"],
        b"e": [b""],
        b"f": [b""],
    }
    seen, channel, _transport = _recordingChannel()
    channel.dataReceived(b"GET /?q=\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n")
    assert seen[0].args == {b"q": ["\u00e9".encode()]}


def test_queryFieldLimitBoundary() -> None:
    channel, transport, _ = makeChannel(maxFormFields=3)
    channel.dataReceived(b"GET /?a=1&b=2&c=3 HTTP/1.1\r\nHost: h\r\n\r\n")
    channel.dataReceived(b"GET /?a=1&b=2&c=3&d=4 HTTP/1.1\r\nHost: h\r\n\r\n")
    assert [h.status for h, _ in readResponses(transport.value())] == [200, 400]


def test_addCookie() -> None:
    channel, transport, _ = makeChannel()
    request = http.Request(channel)
    request.addCookie(b"a", b"1")
    request.addCookie(
        "b",
        "2",
        expires="Sun, 06 Nov 1994 08:49:37 GMT",
        domain=b"example.com",
        path=b"/",
        max_age=60,
        comment=b"c",
        secure=True,
        httpOnly=True,
        sameSite="lax",
    )
    assert request.cookies == [
        b"a=1",
        b"b=2; Expires=Sun, 06 Nov 1994 08:49:37 GMT; Domain=example.com; Path=/; "
        b"Max-Age=60; Comment=c; Secure; HttpOnly; SameSite=Lax",
    ]
    bads: list[dict[str, Any]] = [
        {"k": b"a;b", "v": b"1"},
        {"k": b"a", "v": b"1\r\nX: y"},
        {"k": b"a", "v": b"1", "path": b"/;x"},
        {"k": b"a", "v": b"1", "sameSite": "sometimes"},
    ]
    for bad in bads:
        with pytest.raises(ValueError):
            request.addCookie(**bad)
    channel._request = request
    request.requestReceived(b"GET", b"/", b"HTTP/1.1")
    [(head, _)] = readResponses(transport.value())
    assert [v for n, v in head.fields if n == b"set-cookie"] == request.cookies


def test_setResponseCode() -> None:
    request = http.Request(makeChannel()[0])
    request.setResponseCode(404)
    assert (request.code, request.code_message) == (404, b"Not Found")
    request.setResponseCode(299)
    assert request.code_message == b"Unknown Status"
    request.setResponseCode(200, b"Fine")
    assert request.code_message == b"Fine"
    with pytest.raises(TypeError):
        request.setResponseCode("200")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        request.setResponseCode(200, b"OK\r\nX: y")


def test_writeTypeAndFinishTwice() -> None:
    channel, _transport, _ = makeChannel()
    request = http.Request(channel)
    channel._request = request
    with pytest.raises(TypeError):
        request.write("text")  # type: ignore[arg-type]
    request.write(b"x")
    request.finish()
    with pytest.raises(RuntimeError, match="twice"):
        request.finish()
    with pytest.raises(RuntimeError):
        request.write(b"more")


def test_finishAfterDisconnectIsNoOp() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
    [held] = EchoRequest.held
    failures: list[Failure] = []
    held.notifyFinish().addErrback(failures.append)
    channel.connectionLost(Failure(ConnectionLost("gone")))
    assert failures[0].check(ConnectionLost)
    held.write(b"ignored")
    held.finish()
    assert transport.value() == b""
    assert held.notifyFinish().addErrback(failures.append) is not None
    assert len(failures) == 2


def test_notifyFinishSuccess() -> None:
    channel, _, _ = makeChannel()
    channel.dataReceived(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
    [held] = EchoRequest.held
    results: list[object] = []
    held.notifyFinish().addCallback(results.append)
    held.finish()
    assert results == [None]
    held.notifyFinish().addCallback(results.append)
    assert results == [None, None]


def test_headerInjectionGives500() -> None:
    class Inject(http.Request):
        def process(self) -> None:
            self.setHeader(b"x-evil", b"a\r\nSet-Cookie: pwned=1")

    channel, transport, _ = makeChannel(Inject)
    channel.dataReceived(GET)
    value = transport.value()
    assert value.startswith(b"HTTP/1.1 500 ")
    assert b"pwned" not in value
    assert transport.disconnecting


def test_processErrorAfterWriting() -> None:
    class Broken(http.Request):
        def process(self) -> None:
            self.write(b"partial")
            raise RuntimeError("boom")

    channel, transport, _ = makeChannel(Broken)
    channel.dataReceived(GET)
    assert transport.value().startswith(b"HTTP/1.1 200 ")
    assert transport.disconnecting


def test_badRequestAnswered() -> None:
    channel, transport, _ = makeChannel()
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n")
    value = transport.value()
    assert value.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"Connection: close" in value
    assert transport.disconnecting
    channel.dataReceived(GET)
    assert transport.value() == value


def test_conditionalRequests() -> None:
    channel, _, _ = makeChannel()
    request = http.Request(channel)
    request.requestHeaders.setRawHeaders(
        b"if-modified-since", [http.datetimeToString(1000)]
    )
    assert request.setLastModified(1000) is http.CACHED
    assert request.code == 304
    assert request.responseHeaders.getRawHeader(b"last-modified") == (
        http.datetimeToString(1000)
    )
    request = http.Request(channel)
    request.requestHeaders.setRawHeaders(
        b"if-modified-since", [http.datetimeToString(999)]
    )
    assert request.setLastModified(1000) is None
    request = http.Request(channel)
    request.requestHeaders.setRawHeaders(b"if-none-match", [b'"a", "b"'])
    assert request.setETag(b'"b"') is http.CACHED
    assert request.code == 304
    request = http.Request(channel)
    request.method = b"PUT"
    request.requestHeaders.setRawHeaders(b"if-none-match", [b"*"])
    assert request.setETag(b'"c"') is http.CACHED
    assert request.code == 412
    request = http.Request(channel)
    assert request.setETag(b'"c"') is None


def test_redirect() -> None:
    request = http.Request(makeChannel()[0])
    request.redirect(b"/elsewhere")
    assert request.code == 302
    assert request.responseHeaders.getRawHeader(b"location") == b"/elsewhere"
    with pytest.raises(ValueError):
        request.redirect(b"/x\r\nSet-Cookie: a=b")


def test_idleTimeout() -> None:
    channel, transport, clock = makeChannel(timeout=10)
    channel.dataReceived(GET)
    clock.advance(9.9)
    assert not transport.disconnecting
    clock.advance(0.2)
    assert transport.disconnecting


def test_noTimeoutWhileProcessing() -> None:
    channel, transport, clock = makeChannel(timeout=10, headerTimeout=5)
    channel.dataReceived(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
    clock.advance(100)
    assert not transport.disconnecting
    EchoRequest.held[0].finish()
    clock.advance(9)
    assert not transport.disconnecting
    clock.advance(2)
    assert transport.disconnecting


def test_headerTimeout() -> None:
    """
    HTTP-11: the head must arrive within ``headerTimeout``, however it
    trickles.
    """
    channel, transport, clock = makeChannel(headerTimeout=5, timeout=100)
    for piece in b"GET / HTTP/1.1\r\nHost: h\r\nX: ":
        channel.dataReceived(bytes([piece]))
        clock.advance(0.1)
    assert not transport.disconnecting
    clock.advance(5)
    assert transport.value().startswith(b"HTTP/1.1 408 ")
    assert transport.disconnecting


def test_bodyTimeout() -> None:
    channel, transport, clock = makeChannel(bodyTimeout=5)
    channel.dataReceived(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n")
    for _ in range(4):
        clock.advance(4)
        channel.dataReceived(b"x")
    assert not transport.disconnecting
    clock.advance(5.1)
    assert transport.value().startswith(b"HTTP/1.1 408 ")
    assert transport.disconnecting


def test_abortTimeout() -> None:
    _channel, transport, clock = makeChannel(timeout=1, abortTimeout=3)
    clock.advance(1.1)
    assert transport.disconnecting
    assert not transport.aborted
    clock.advance(3)
    assert transport.aborted


def test_noAbortAfterConnectionLost() -> None:
    channel, transport, clock = makeChannel(timeout=1, abortTimeout=3)
    clock.advance(1.1)
    channel.connectionLost(Failure(ConnectionDone()))
    clock.advance(3)
    assert not transport.aborted
    assert clock.getDelayedCalls() == []


def test_timersCanBeDisabled() -> None:
    channel, transport, clock = makeChannel(
        timeout=None, headerTimeout=None, bodyTimeout=None
    )
    channel.dataReceived(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n")
    clock.advance(10000)
    assert not transport.disconnecting


class Recorder(Protocol):
    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.lost: list[Failure] = []
        self.events: list[str] = []

    def connectionMade(self) -> None:
        self.events.append("made")

    def dataReceived(self, data: bytes) -> None:
        self.events.append("data")
        self.data.append(data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        self.lost.append(reason or Failure(ConnectionDone()))


def test_switchProtocol() -> None:
    recorder = Recorder()

    class Upgrade(http.Request):
        def process(self) -> None:
            self.setResponseCode(101)
            self.setHeader(b"upgrade", b"echo")
            self.setHeader(b"connection", b"upgrade")
            self.write(b"")
            self.channel._switchProtocol(recorder)

    channel, transport, clock = makeChannel(Upgrade)
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\nUpgrade: echo\r\n\r\nleftover")
    [(head, _)] = readResponses(transport.value())
    assert head.status == 101
    assert header(head, b"upgrade") == b"echo"
    assert b"transfer-encoding" not in transport.value().lower()
    assert recorder.transport is transport
    assert recorder.data == [b"leftover"]
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\n\r\n")
    assert recorder.data[-1] == b"GET / HTTP/1.1\r\nHost: h\r\n\r\n"
    clock.advance(1000)
    assert not transport.disconnecting
    channel.connectionLost(Failure(ConnectionDone()))
    assert len(recorder.lost) == 1


class FakeH2(Recorder):
    instances: list[FakeH2] = []

    def __init__(self, factory: Any, reactor: Any = None) -> None:
        super().__init__()
        self.factory = factory
        self.reactor = reactor
        self.upgrade: tuple[Any, ...] | None = None
        FakeH2.instances.append(self)

    def upgradeFrom(
        self,
        settings: bytes,
        method: bytes,
        target: bytes,
        fields: list[tuple[bytes, bytes]],
    ) -> None:
        self.events.append("upgrade")
        self.upgrade = (settings, method, target, fields)


H2C = (
    b"GET /s HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\n"
    b"Upgrade: h2c\r\nHTTP2-Settings: AAMAAABkAARAAAAAAAIAAAAA\r\n\r\n"
)


def test_h2cUpgrade(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeH2.instances = []
    monkeypatch.setattr(http, "_loadHTTP2", lambda: FakeH2)
    channel, transport, clock = makeChannel()
    channel.dataReceived(H2C + b"PRI * HTTP/2.0")
    assert transport.value() == (
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Connection: Upgrade\r\nUpgrade: h2c\r\n\r\n"
    )
    [h2] = FakeH2.instances
    assert h2.factory is channel.factory
    assert h2.reactor is clock
    assert h2.events == ["made", "upgrade", "data"]
    assert h2.upgrade is not None
    assert h2.upgrade[:3] == (b"AAMAAABkAARAAAAAAAIAAAAA", b"GET", b"/s")
    assert (b"host", b"h") in h2.upgrade[3]
    assert h2.data == [b"PRI * HTTP/2.0"]


@pytest.mark.parametrize(
    "request_",
    [
        H2C.replace(b"Connection: Upgrade, HTTP2-Settings", b"Connection: Upgrade"),
        H2C.replace(b"HTTP/1.1", b"HTTP/1.0"),
        H2C.replace(b"\r\n\r\n", b"\r\nContent-Length: 1\r\n\r\nx"),
    ],
)
def test_h2cUpgradeIgnored(monkeypatch: pytest.MonkeyPatch, request_: bytes) -> None:
    FakeH2.instances = []
    monkeypatch.setattr(http, "_loadHTTP2", lambda: FakeH2)
    channel, transport, _ = makeChannel()
    channel.dataReceived(request_)
    assert FakeH2.instances == []
    assert readResponses(transport.value())[0][0].status == 200


def test_h2cUpgradeDisabledOrUnavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeH2.instances = []
    monkeypatch.setattr(http, "_loadHTTP2", lambda: FakeH2)
    channel, transport, _ = makeChannel(h2cUpgrade=False)
    channel.dataReceived(H2C)
    assert FakeH2.instances == []
    monkeypatch.setattr(http, "_loadHTTP2", lambda: None)
    channel, transport, _ = makeChannel()
    channel.dataReceived(H2C)
    assert readResponses(transport.value())[0][0].status == 200


def test_alpnH2(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeH2.instances = []
    monkeypatch.setattr(http, "_loadHTTP2", lambda: FakeH2)
    transport = StringTransport()
    transport.negotiatedProtocol = b"h2"  # type: ignore[attr-defined]
    channel, _, _ = makeChannel(transport=transport)
    channel.dataReceived(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
    [h2] = FakeH2.instances
    assert h2.data == [b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"]
    assert h2.transport is transport
    channel.dataReceived(b"more")
    assert h2.data[-1] == b"more"


PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"


def test_priorKnowledge(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "_loadHTTP2", lambda: FakeH2)
    data = PREFACE + b"\x00\x00\x00\x04"
    for pieces in feedWays(data):
        FakeH2.instances = []
        channel, transport, _ = makeChannel()
        for piece in pieces:
            channel.dataReceived(piece)
        [h2] = FakeH2.instances
        assert b"".join(h2.data) == data
        assert transport.value() == b""


def test_priorKnowledgeUnavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http, "_loadHTTP2", lambda: None)
    channel, transport, _ = makeChannel()
    channel.dataReceived(PREFACE)
    assert transport.value().startswith(b"HTTP/1.1 505 ")
    monkeypatch.setattr(http, "_loadHTTP2", lambda: FakeH2)
    FakeH2.instances = []
    channel, transport, _ = makeChannel(h2cUpgrade=False)
    channel.dataReceived(PREFACE)
    assert transport.value().startswith(b"HTTP/1.1 505 ")
    channel, transport, _ = makeChannel()
    channel.dataReceived(GET + PREFACE)
    assert FakeH2.instances == []
    assert transport.value().startswith(b"HTTP/1.1 200 ")


def test_alpnHTTP11(monkeypatch: pytest.MonkeyPatch) -> None:
    FakeH2.instances = []
    monkeypatch.setattr(http, "_loadHTTP2", lambda: FakeH2)
    transport = StringTransport()
    transport.negotiatedProtocol = b"http/1.1"  # type: ignore[attr-defined]
    channel, _, _ = makeChannel(transport=transport)
    channel.dataReceived(GET)
    assert FakeH2.instances == []
    assert readResponses(transport.value())[0][0].status == 200


def test_loadHTTP2() -> None:
    h2 = http._loadHTTP2()
    try:
        import h2 as _  # noqa: F401
    except ImportError:
        assert h2 is None
    else:
        assert h2 is not None
        assert h2.__name__ == "H2Connection"


def test_producers() -> None:
    @implementer_push
    class Producer:
        paused = 0
        stopped = 0

        def pauseProducing(self) -> None:
            self.paused += 1

        def resumeProducing(self) -> None:
            pass

        def stopProducing(self) -> None:
            self.stopped += 1

    channel, transport, _ = makeChannel()
    channel.dataReceived(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
    [held] = EchoRequest.held
    producer = Producer()
    held.registerProducer(producer, True)
    watched: Any = transport.producer
    assert watched is not None
    assert transport.streaming
    watched.pauseProducing()
    assert producer.paused == 1
    assert transport.value().startswith(b"HTTP/1.1 200 OK\r\n")
    with pytest.raises(ValueError):
        held.registerProducer(Producer(), True)
    held.write(b"data")
    held.unregisterProducer()
    assert transport.producer is None
    held.finish()
    [(_head, body)] = readResponses(transport.value())
    assert body == b"data"
    # After the client left, a new producer is stopped at once.
    channel.dataReceived(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
    late = EchoRequest.held[-1]
    channel.connectionLost(Failure(ConnectionLost()))
    other = Producer()
    late.registerProducer(other, True)
    assert other.stopped == 1


def test_sendTimeout() -> None:
    """
    LINE-10: a client that stops reading while a producer feeds the
    response is dropped after ``sendTimeout``.
    """

    @implementer_push
    class Producer:
        def pauseProducing(self) -> None:
            pass

        def resumeProducing(self) -> None:
            pass

        def stopProducing(self) -> None:
            pass

    channel, transport, clock = makeChannel(sendTimeout=30)
    channel.dataReceived(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
    [held] = EchoRequest.held
    held.registerProducer(Producer(), True)
    proxy: Any = transport.producer
    assert proxy is not None
    proxy.pauseProducing()
    clock.advance(29)
    proxy.resumeProducing()
    clock.advance(29)
    assert not transport.aborted
    proxy.pauseProducing()
    clock.advance(30)
    assert transport.aborted


def test_sendTimeoutCancelled() -> None:
    @implementer_push
    class Producer:
        def pauseProducing(self) -> None:
            pass

        def resumeProducing(self) -> None:
            pass

        def stopProducing(self) -> None:
            pass

    channel, transport, clock = makeChannel(sendTimeout=30, timeout=None)
    channel.dataReceived(b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\n")
    [held] = EchoRequest.held
    held.registerProducer(Producer(), True)
    watched: Any = transport.producer
    assert watched is not None
    watched.pauseProducing()
    held.unregisterProducer()
    held.finish()
    clock.advance(100)
    assert not transport.aborted
    assert clock.getDelayedCalls() == []


def implementer_push(cls: type) -> type:
    from zope.interface import implementer

    result: type = implementer(interfaces.IPushProducer)(cls)
    return result


def test_accessLogFile(tmp_path: Any) -> None:
    from torsion.internet.testing import MemoryReactorClock

    clock = MemoryReactorClock()
    clock.advance(784111777)
    path = os.path.join(tmp_path, "access.log")
    factory = http.HTTPFactory(logPath=path, reactor=clock)
    factory.wallClock = lambda: 784111777.0
    factory.requestFactory = EchoRequest
    factory.startFactory()
    channel = factory.buildProtocol(None)
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(
        b"GET /x HTTP/1.1\r\nHost: h\r\n"
        b'Referer: http://r/\r\nUser-Agent: ag"ent\x80\r\n\r\n'
    )
    factory.stopFactory()
    with open(path, encoding="utf-8") as f:
        line = f.read()
    assert line == (
        '192.168.1.1 - - [06/Nov/1994:08:49:37 +0000] "GET /x HTTP/1.1" 200 7 '
        '"http://r/" "ag\\"ent\\x80"\n'
    )


def test_accessLogEvents() -> None:
    from torsion.logger import globalLogPublisher

    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        clock = __import__(
            "torsion.internet.testing", fromlist=["MemoryReactorClock"]
        ).MemoryReactorClock()
        factory = http.HTTPFactory(reactor=clock)
        factory.requestFactory = EchoRequest
        channel = factory.buildProtocol(None)
        channel.makeConnection(StringTransport())
        channel.dataReceived(GET)
    finally:
        globalLogPublisher.removeObserver(events.append)
    lines = [
        e["line"] for e in events if e.get("log_namespace") == "torsion.web.access"
    ]
    assert len(lines) == 1
    assert '"GET / HTTP/1.1" 200 6 "-" "-"' in lines[0]


def test_accessLogDateIsWallClockTime() -> None:
    """
    The reactor's clock is monotonic; log lines carry the calendar date.
    """
    from torsion.internet.testing import MemoryReactorClock

    factory = http.HTTPFactory(reactor=MemoryReactorClock())
    expected = time.strftime("%d/%b/%Y", time.gmtime())
    assert factory._logDateTime.startswith(f"[{expected}:")


def test_proxiedLogFormatter() -> None:
    request = http.Request(makeChannel()[0])
    request.requestHeaders = Headers({b"x-forwarded-for": [b"1.1.1.1, 2.2.2.2"]})
    request.uri = b"/"
    line = http.proxiedLogFormatter("[t]", request)
    assert line.startswith('2.2.2.2 - - [t] "GET / HTTP/1.0" 200 - ')


def test_dates() -> None:
    assert http.datetimeToString(784111777) == b"Sun, 06 Nov 1994 08:49:37 GMT"
    forms: list[bytes | str] = [
        b"Sun, 06 Nov 1994 08:49:37 GMT",
        b"Sunday, 06-Nov-94 08:49:37 GMT",
        b"Sun Nov  6 08:49:37 1994",
        "Sun, 06 Nov 1994 08:49:37 GMT",
    ]
    for form in forms:
        assert http.stringToDatetime(form) == 784111777
    bad: Any
    for bad in [
        b"",
        b"yesterday",
        b"Sun, 32 Nov 1994 08:49:37 GMT",
        b"Sun, 06 Foo 1994 08:49:37 GMT",
    ]:
        with pytest.raises(ValueError):
            http.stringToDatetime(bad)


def test_statusCodes() -> None:
    assert http.OK == 200
    assert http.NOT_FOUND == 404
    assert http.REQUEST_HEADER_FIELDS_TOO_LARGE == 431
    assert http.RESPONSES[http.NOT_ALLOWED] == b"Method Not Allowed"
    for name in http.__all__:
        assert hasattr(http, name), name


@settings(max_examples=200, deadline=None)
@given(st.lists(st.binary(max_size=60), max_size=6))
def test_randomBytesNeverEscape(pieces: list[bytes]) -> None:
    """
    Whatever arrives, the channel answers with HTTP (or waits): no exception
    reaches the transport's caller.
    """
    channel, transport, clock = makeChannel()
    for piece in pieces:
        channel.dataReceived(piece)
    value = transport.value()
    assert value == b"" or value.startswith(b"HTTP/1.1 ")
    clock.advance(1000)
    assert transport.disconnecting


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_pipelineAnyChunking(cuts: list[int]) -> None:
    data = (
        b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nxyz"
        b"POST /c HTTP/1.1\r\nHost: h\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
        b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\nGET /d HTTP/1.1\r\nHost: h\r\n\r\n"
    )
    channel, transport, _ = makeChannel()
    position = 0
    for cut in cuts:
        channel.dataReceived(data[position : position + cut])
        position += cut
    channel.dataReceived(data[position:])
    EchoRequest.held[0].write(b"held")
    EchoRequest.held[0].finish()
    bodies = [body for _, body in readResponses(transport.value())]
    assert bodies == [b"GET /a ", b"POST /b xyz", b"POST /c hi", b"held", b"GET /d "]
