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
    return (
        (b"POST / HTTP/" + version + b"\r\n" + b"".join(f + b"\r\n" for f in fields))
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
        b"GET / HTTP/1.1\r\nFoo: x\nContent-Length: 44\r\n\r\n",
        b"GET / HTTP/1.1\r\nFoo: x\rContent-Length: 44\r\n\r\n",
        b"GET / HTTP/1.1\r\nFoo: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\n\n",
        b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n",
    ],
)
def test_HTTP_07_bareLineEndsAndNul(head: bytes) -> None:
    assertRefused(head, 400)


@pytest.mark.parametrize(
    "head",
    [
        b"POST / HTTP/1.1\r\nContent-Length : 5\r\n\r\nhello",
        b"GET / HTTP/1.1\r\nFoo: a\r\n continued\r\n\r\n",
        b"GET / HTTP/1.1\r\nFoo: a\r\n\tcontinued\r\n\r\n",
        b"GET / HTTP/1.1\r\nFoo: \x0ba\r\n\r\n",
        b"GET / HTTP/1.1\r\nFoo: a\x0c\r\n\r\n",
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
    channel.dataReceived(b"GET / HTTP/1.1\r\nFoo: \t a b \t\r\n\r\n")
    assert values == [b"a b"]


def test_HTTP_09_pipelinedInOrder() -> None:
    data = b"GET /hold HTTP/1.1\r\n\r\nGET /fast HTTP/1.1\r\n\r\n"
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
    assertRefused(b"GET / HTTP/1.1\r\nCookie: " + b"a" * 20 * 1024 + b"\r\n\r\n", 431)


def test_HTTP_10_tooManyHeaders() -> None:
    assertAccepted(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 500 + b"\r\n", [b"GET / "])
    assertRefused(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 501 + b"\r\n", 431)


def test_HTTP_10_requestLine() -> None:
    def line(n: int) -> bytes:
        target = b"/" + b"a" * (n - len(b"GET / HTTP/1.1"))
        return b"GET " + target + b" HTTP/1.1\r\n\r\n"

    channel, transport, _ = makeChannel()
    channel.dataReceived(line(8192))
    assert transport.value().startswith(b"HTTP/1.1 200 ")
    assertRefused(line(8193), 414)
    assertRefused(line(9 * 1024), 414)


def test_HTTP_10_wholeHeadBoundary() -> None:
    def head(size: int) -> bytes:
        start = b"GET / HTTP/1.1\r\n"
        fill = size - len(start) - len(b"X: \r\n\r\n")
        return start + b"X: " + b"v" * fill + b"\r\n\r\n"

    assert len(head(1000)) == 1000
    assertAccepted(head(1000), [b"GET / "], maxHeaderSize=1000)
    assertRefused(head(1001), 431, maxHeaderSize=1000)


def test_HTTP_10_fieldSizeBoundary() -> None:
    def field(size: int) -> bytes:
        return b"GET / HTTP/1.1\r\nX: " + b"v" * (size - 3) + b"\r\n\r\n"

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
    data = b"GET / HTTP/1.1\r\n" + b"X-Slow: " + b"a" * 100
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
    channel.dataReceived(b"POST / HTTP/1.1\r\nContent-Length: 100\r\n\r\n")
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
