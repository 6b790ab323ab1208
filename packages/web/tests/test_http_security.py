"""
SECURITY.md section 3.2 (HTTP/1.1), server side: one test per row, each
input fed whole, one byte at a time and split at every position, asserting
the status answered and that the connection is closed.
"""

from __future__ import annotations

from typing import Any

import pytest
from httphelpers import (
    EchoRequest,
    assertLingeringClose,
    feedWays,
    makeChannel,
    readResponses,
)

from torsion.internet.address import IPv4Address
from torsion.internet.testing import StringTransport
from torsion.web import http


def assertRefused(data: bytes, status: int, **kwargs: Any) -> None:
    """
    Every way of feeding ``data`` gets ``status`` and a closed connection,
    and no request reaches the application.
    """
    for pieces in feedWays(data):
        dispatched: list[bytes] = []

        class Record(EchoRequest):
            seen = dispatched

            def process(self) -> None:
                self.seen.append(self.uri)
                super().process()

        channel, transport, clock = makeChannel(Record, **kwargs)
        for piece in pieces:
            channel.dataReceived(piece)
        value = transport.value()
        assert value.startswith(b"HTTP/1.1 %d " % status), (pieces, value)
        assert b"\r\nConnection: close\r\n" in value
        if status == 413:
            # The refused body may still be on its way: lingering close.
            assertLingeringClose(channel, transport, clock)
        else:
            assert transport.disconnecting, pieces
        assert dispatched == [], pieces
        assert len(readResponses(value)) == 1


def assertAccepted(data: bytes, bodies: list[bytes], **kwargs: Any) -> None:
    for pieces in feedWays(data):
        channel, transport, _ = makeChannel(**kwargs)
        for piece in pieces:
            channel.dataReceived(piece)
        got = [body for _, body in readResponses(transport.value())]
        assert got == bodies, pieces


def post(*fields: bytes, body: bytes = b"", version: bytes = b"1.1") -> bytes:
    # Every request names its host, so a refusal is for the fields tested.
    return (
        b"POST / HTTP/"
        + version
        + b"\r\nHost: h\r\n"
        + b"".join(f + b"\r\n" for f in fields)
        + b"\r\n"
        + body
    )


def test_HTTP_01_contentLengthAndChunked() -> None:
    assertRefused(
        post(b"Content-Length: 5", b"Transfer-Encoding: chunked", body=b"0\r\n\r\n"),
        400,
    )
    assertRefused(
        post(b"Transfer-Encoding: chunked", b"Content-Length: 5", body=b"hello"),
        400,
    )


@pytest.mark.parametrize(
    "fields",
    [
        [b"Content-Length: 5", b"Content-Length: 6"],
        [b"Content-Length: 5, 6"],
    ],
)
def test_HTTP_02_conflictingContentLength(fields: list[bytes]) -> None:
    assertRefused(post(*fields, body=b"hello!"), 400)


def test_HTTP_02_identicalContentLengthFolds() -> None:
    assertAccepted(
        post(b"Content-Length: 5", b"Content-Length: 5", body=b"hello"),
        [b"POST / hello"],
    )
    assertAccepted(post(b"Content-Length: 5, 5", body=b"hello"), [b"POST / hello"])


@pytest.mark.parametrize(
    "value", [b"+5", b"-5", b"0x10", b"5 5", b"1_0", b"1" * 30, b"", b"5.0"]
)
def test_HTTP_03_contentLengthSyntax(value: bytes) -> None:
    assertRefused(post(b"Content-Length: " + value, body=b"hello"), 400)


@pytest.mark.parametrize(
    ("fields", "version", "status"),
    [
        ([b"Transfer-Encoding: gzip, chunked"], b"1.1", 501),
        ([b"Transfer-Encoding: chunkedx"], b"1.1", 501),
        ([b"Transfer-Encoding: chunked", b"Transfer-Encoding: chunked"], b"1.1", 400),
        ([b"Transfer-Encoding: chunked"], b"1.0", 400),
        ([b"Transfer-Encoding: chunked, gzip"], b"1.1", 400),
    ],
)
def test_HTTP_04_transferEncoding(
    fields: list[bytes], version: bytes, status: int
) -> None:
    assertRefused(post(*fields, body=b"0\r\n\r\n", version=version), status)


@pytest.mark.parametrize(
    "chunks",
    [
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"+5\r\nhello\r\n0\r\n\r\n",
        b"-5\r\nhello\r\n0\r\n\r\n",
        b"00000000000000005\r\nhello\r\n0\r\n\r\n",
        b"5;a\nb\r\nhello\r\n0\r\n\r\n",
        b"5\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloXX0\r\n\r\n",
    ],
)
def test_HTTP_05_chunkSize(chunks: bytes) -> None:
    assertRefused(post(b"Transfer-Encoding: chunked", body=chunks), 400)


def test_HTTP_05_chunkSizeLineLimit() -> None:
    ok = b"5;" + b"x" * 1022 + b"\r\nhello\r\n0\r\n\r\n"
    channel, transport, _ = makeChannel()
    channel.dataReceived(post(b"Transfer-Encoding: chunked", body=ok))
    assert readResponses(transport.value())[0][1] == b"POST / hello"
    bad = b"5;" + b"x" * 1023 + b"\r\nhello\r\n0\r\n\r\n"
    channel, transport, _ = makeChannel()
    channel.dataReceived(post(b"Transfer-Encoding: chunked", body=bad))
    assert transport.value().startswith(b"HTTP/1.1 400 ")
    assert transport.disconnecting


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.1\r\nHost: h\r\nFoo: x\nContent-Length: 44\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nFoo: x\rContent-Length: 44\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nFoo: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n",
    ],
)
def test_HTTP_07_bareLineEndsAndNul(head: bytes) -> None:
    assertRefused(head, 400)


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length : 5\r\n\r\nhello",
        b"GET / HTTP/1.1\r\nHost: h\r\nFoo: a\r\n continued\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nFoo: a\r\n\tcontinued\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nFoo: \x0ba\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: h\r\nFoo: a\x0c\r\n\r\n",
    ],
)
def test_HTTP_08_spaceBeforeColonObsFoldPadding(head: bytes) -> None:
    assertRefused(head, 400)


def test_HTTP_08_onlySpaceAndTabStripped() -> None:
    values: list[bytes | None] = []

    class Record(EchoRequest):
        def process(self) -> None:
            values.append(self.getHeader(b"foo"))
            super().process()

    channel, _, _ = makeChannel(Record)
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: h\r\nFoo: \t a b \t\r\n\r\n")
    assert values == [b"a b"]


def test_HTTP_09_pipelinedInOrder() -> None:
    data = b"GET /hold HTTP/1.1\r\nHost: h\r\n\r\nGET /fast HTTP/1.1\r\nHost: h\r\n\r\n"
    for pieces in feedWays(data):
        dispatched: list[bytes] = []

        class Order(EchoRequest):
            seen = dispatched

            def process(self) -> None:
                self.seen.append(self.path)
                super().process()

        channel, transport, _ = makeChannel(Order)
        for piece in pieces:
            channel.dataReceived(piece)
        assert dispatched == [b"/hold"]
        assert transport.value() == b""
        [held] = EchoRequest.held
        held.write(b"slow")
        held.finish()
        assert dispatched == [b"/hold", b"/fast"]
        bodies = [b for _, b in readResponses(transport.value())]
        assert bodies == [b"slow", b"GET /fast "]


def test_HTTP_10_hugeCookie() -> None:
    assertRefused(
        b"GET / HTTP/1.1\r\nHost: h\r\nCookie: " + b"a" * 20 * 1024 + b"\r\n\r\n", 431
    )


def test_HTTP_10_tooManyHeaders() -> None:
    # Host and 499 more fields make the 500 allowed.
    start = b"GET / HTTP/1.1\r\nHost: h\r\n"
    assertAccepted(start + b"X: y\r\n" * 499 + b"\r\n", [b"GET / "])
    assertRefused(start + b"X: y\r\n" * 500 + b"\r\n", 431)


def test_HTTP_10_requestLine() -> None:
    def line(n: int) -> bytes:
        target = b"/" + b"a" * (n - len(b"GET / HTTP/1.1"))
        return b"GET " + target + b" HTTP/1.1\r\nHost: h\r\n\r\n"

    channel, transport, _ = makeChannel()
    channel.dataReceived(line(8192))
    assert transport.value().startswith(b"HTTP/1.1 200 ")
    assertRefused(line(8193), 414)
    assertRefused(line(9 * 1024), 414)


def test_HTTP_10_wholeHeadBoundary() -> None:
    def head(size: int) -> bytes:
        start = b"GET / HTTP/1.1\r\nHost: h\r\n"
        fill = size - len(start) - len(b"X: \r\n\r\n")
        return start + b"X: " + b"v" * fill + b"\r\n\r\n"

    assert len(head(1000)) == 1000
    assertAccepted(head(1000), [b"GET / "], maxHeaderSize=1000)
    assertRefused(head(1001), 431, maxHeaderSize=1000)


def test_HTTP_10_fieldSizeBoundary() -> None:
    def field(size: int) -> bytes:
        return b"GET / HTTP/1.1\r\nHost: h\r\nX: " + b"v" * (size - 3) + b"\r\n\r\n"

    assertAccepted(field(100), [b"GET / "], maxHeaderFieldSize=100)
    assertRefused(field(101), 431, maxHeaderFieldSize=100)


def test_HTTP_10_limitsNamedOnFactory() -> None:
    factory = http.HTTPFactory()
    assert factory.maxRequestLineLength == 8192
    assert factory.maxHeaderSize == 16384
    assert factory.maxHeaderFieldSize == 8192
    assert factory.maxHeaders == 500
    assert factory.maxRequestBody == 1024 * 1024
    assert factory.headerTimeout == 60
    assert factory.bodyTimeout == 60
    assert factory.timeOut == 75
    assert factory.abortTimeout == 15
    assert factory.maxRequestsPerConnection == 1000


def test_HTTP_11_slowloris() -> None:
    """
    One header byte every 10 seconds: closed once the 60 s header timeout
    expires, however the bytes trickle.
    """
    channel, transport, clock = makeChannel()
    data = b"GET / HTTP/1.1\r\nHost: h\r\n" + b"X-Slow: " + b"a" * 100
    sent = 0
    while not transport.disconnecting and sent < len(data):
        channel.dataReceived(data[sent : sent + 1])
        sent += 1
        clock.advance(10)
    assert transport.disconnecting
    assert sent == 6
    assert transport.value().startswith(b"HTTP/1.1 408 ")


def test_HTTP_11_slowBody() -> None:
    channel, transport, clock = makeChannel()
    channel.dataReceived(b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 100\r\n\r\n")
    clock.advance(61)
    assert transport.disconnecting


def test_HTTP_19_expectContinueTooLarge() -> None:
    assertRefused(
        post(b"Content-Length: 10000000000", b"Expect: 100-continue"),
        413,
    )


def test_HTTP_19_bodyOverLimitNotBuffered() -> None:
    contents: list[int] = []

    class Record(EchoRequest):
        def handleContentChunk(self, data: bytes) -> None:
            contents.append(len(data))
            super().handleContentChunk(data)

    channel, transport, _ = makeChannel(Record, maxRequestBody=1000)
    channel.dataReceived(post(b"Content-Length: 1001"))
    assert transport.value().startswith(b"HTTP/1.1 413 ")
    channel.dataReceived(b"x" * 1001)
    assert contents == []
    channel, transport, clock = makeChannel(Record, maxRequestBody=1000)
    channel.dataReceived(post(b"Transfer-Encoding: chunked"))
    for _ in range(20):
        channel.dataReceived(b"64\r\n" + b"x" * 100 + b"\r\n")
    assert transport.value().startswith(b"HTTP/1.1 413 ")
    assertLingeringClose(channel, transport, clock)
    assert sum(contents) <= 1000


def test_duplicateHostRefused() -> None:
    assertRefused(b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400)


# RFC 9112 section 3.2: Host.


def test_HTTP_host_missingIn11Refused() -> None:
    """
    An HTTP/1.1 request without ``Host`` gets 400 and a closed connection,
    with or without other fields.
    """
    assertRefused(b"GET / HTTP/1.1\r\n\r\n", 400)
    assertRefused(b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400)
    assertRefused(
        post(b"Content-Length: 2", body=b"hi").replace(b"Host: h\r\n", b""), 400
    )


def test_HTTP_host_missingIn10Accepted() -> None:
    """
    HTTP/1.0 has no Host requirement: such a request is served.
    """
    assertAccepted(b"GET /x HTTP/1.0\r\n\r\n", [b"GET /x "])


def test_HTTP_host_missingAfterGoodRequest() -> None:
    """
    The check applies to every request on a connection: the first request
    is answered, the Host-less one after it gets 400 and the close.
    """
    channel, transport, _ = makeChannel()
    channel.dataReceived(b"GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\n\r\n")
    responses = readResponses(transport.value())
    assert [head.status for head, _ in responses] == [200, 400]
    assert responses[0][1] == b"GET /a "
    assert transport.disconnecting


INVALID_HOSTS = [
    b"a b",
    b"user@example.com",
    b"example.com/x",
    b"example.com:8o",
    b"example.com:-1",
    b"example.com:80:81",
    b"[::1",
    b"[::1]x",
    b"[::1]:x",
    b"[not:an:address]",
    b"[::1%eth0]",
    b":80",
    b"a?b",
    b"a#b",
    b"%zz",
    b"a\\b",
    b'"a"',
]


@pytest.mark.parametrize("value", INVALID_HOSTS)
def test_HTTP_host_invalidRefused(value: bytes) -> None:
    assertRefused(b"GET / HTTP/1.1\r\nHost: " + value + b"\r\n\r\n", 400)


def test_HTTP_host_invalidRefusedIn10() -> None:
    """
    RFC 9112 §3.2 refuses an invalid Host in any request, HTTP/1.0 too.
    """
    assertRefused(b"GET / HTTP/1.0\r\nHost: a b\r\n\r\n", 400)


def test_HTTP_host_invalidAfterValidOnOneConnection() -> None:
    """
    A connection that sent a valid Host is still checked when the next
    request's Host differs.
    """
    channel, transport, _ = makeChannel()
    channel.dataReceived(b"GET /a HTTP/1.1\r\nHost: good.example\r\n\r\n")
    channel.dataReceived(b"GET /a HTTP/1.1\r\nHost: good.example\r\n\r\n")
    channel.dataReceived(b"GET /b HTTP/1.1\r\nHost: bad@example\r\n\r\n")
    statuses = [head.status for head, _ in readResponses(transport.value())]
    assert statuses == [200, 200, 400]
    assert transport.disconnecting


VALID_HOSTS = [
    b"example.com",
    b"EXAMPLE.com:8080",
    b"example.com.",
    b"127.0.0.1",
    b"127.0.0.1:80",
    b"[::1]",
    b"[::1]:8443",
    b"[2001:db8::192.0.2.1]",
    b"[v1.fe80::a+en1]",
    b"xn--bcher-kva.example",
    b"caf%C3%A9.example",
    b"a_b~c!$&'()*+,;=",
    b"example.com:",
]


@pytest.mark.parametrize("value", VALID_HOSTS)
def test_HTTP_host_validAccepted(value: bytes) -> None:
    assertAccepted(b"GET / HTTP/1.1\r\nHost: " + value + b"\r\n\r\n", [b"GET / "])


class HostnameRequest(http.Request):
    """
    Answers with ``getRequestHostname()`` and the path.
    """

    def process(self) -> None:
        body = self.getRequestHostname() + b" " + self.path
        self.setHeader(b"content-length", b"%d" % len(body))
        self.write(body)
        self.finish()


def test_HTTP_host_emptyAccepted() -> None:
    """
    An empty Host (what a client sends for a target URI without authority)
    is accepted, and the server's own address stands in for it.
    """
    transport = StringTransport(hostAddress=IPv4Address("TCP", "10.0.0.7", 80))
    channel, transport, _ = makeChannel(HostnameRequest, transport)
    channel.dataReceived(b"GET /x HTTP/1.1\r\nHost:\r\n\r\n")
    [(head, body)] = readResponses(transport.value())
    assert head.status == 200
    assert body == b"10.0.0.7 /x"


def test_HTTP_host_absoluteForm() -> None:
    """
    An absolute-form target with Host is served; RFC 9112 §3.2.2 makes the
    target's authority win over the Host field, and the path is the
    target's path.
    """
    channel, transport, _ = makeChannel(HostnameRequest)
    channel.dataReceived(
        b"GET http://a.example/x?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n"
        b"GET HTTPS://[::1]:8443?q HTTP/1.1\r\nHost: other.example\r\n\r\n"
    )
    responses = readResponses(transport.value())
    assert [(head.status, body) for head, body in responses] == [
        (200, b"a.example /x"),
        (200, b"[::1] /"),
    ]
    assert not transport.disconnecting


def test_HTTP_host_absoluteFormWithoutHostRefused() -> None:
    """
    The target's authority does not excuse an HTTP/1.1 request from
    sending Host (RFC 9112 §3.2).
    """
    assertRefused(b"GET http://a.example/x HTTP/1.1\r\n\r\n", 400)
