"""
Tests for ``torsion.web._parser``, the sans-I/O HTTP/1.x codec.

Every table entry is fed whole, one byte at a time, and split at every
position, so a decision never depends on how the bytes arrive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from torsion.web._parser import (
    CHUNKED,
    LAST_CHUNK,
    UNTIL_CLOSE,
    ChunkedDecoder,
    ContentLengthDecoder,
    HTTPParseError,
    LocalProtocolError,
    ParserLimits,
    RequestHead,
    ResponseHead,
    UntilCloseDecoder,
    bodyDecoder,
    formatChunk,
    formatRequestHead,
    formatResponseHead,
    parseRequestHead,
    parseResponseHead,
    requestBodyLength,
    responseBodyLength,
    validHost,
)


def splits(data: bytes) -> Iterator[list[bytes]]:
    """
    The ways of delivering ``data`` that tests use: whole, byte by byte, and
    in two pieces split at every position (short inputs only).
    """
    yield [data]
    yield [data[i : i + 1] for i in range(len(data))]
    if len(data) <= 300:
        for i in range(1, len(data)):
            yield [data[:i], data[i:]]


def feedHead(
    pieces: list[bytes],
    parse: Callable[..., Any] = parseRequestHead,
    limits: ParserLimits | None = None,
) -> tuple[Any, bytes]:
    """
    Deliver ``pieces`` to a head parser as a connection would.
    """
    buffer = b""
    kwargs = {} if limits is None else {"limits": limits}
    for piece in pieces:
        previous = len(buffer)
        buffer += piece
        result = parse(buffer, searchFrom=max(0, previous - 3), **kwargs)
        if result is not None:
            head, end = result
            return head, buffer[end:]
    return None, buffer


def allWays(data: bytes, **kwargs: Any) -> Any:
    """
    Parse ``data`` every way; all must agree; return the result.
    """
    results = [feedHead(pieces, **kwargs) for pieces in splits(data)]
    for result in results[1:]:
        assert result[0] == results[0][0]
    return results[0][0]


def errorAllWays(data: bytes, **kwargs: Any) -> int:
    """
    Every way of feeding ``data`` raises ``HTTPParseError`` with one status.
    """
    statuses = set()
    for pieces in splits(data):
        with pytest.raises(HTTPParseError) as info:
            head, _ = feedHead(pieces, **kwargs)
            if head is not None and "parse" not in kwargs:
                requestBodyLength(head)
        statuses.add(info.value.status)
    assert len(statuses) == 1, statuses
    return statuses.pop()


GOOD_REQUESTS = [
    (
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        RequestHead(b"GET", b"/", (1, 1), [(b"host", b"a")]),
    ),
    (
        b"GET /x?y=1 HTTP/1.0\r\n\r\n",
        RequestHead(b"GET", b"/x?y=1", (1, 0), []),
    ),
    (
        b"\r\n\r\nPOST * HTTP/1.1\r\nContent-Type:\ttext/plain \t\r\nX-A:\r\n\r\n",
        RequestHead(
            b"POST", b"*", (1, 1), [(b"content-type", b"text/plain"), (b"x-a", b"")]
        ),
    ),
    (
        b"M-SEARCH http://a/b HTTP/1.1\r\nX: a \tb\x80\r\n\r\n",
        RequestHead(b"M-SEARCH", b"http://a/b", (1, 1), [(b"x", b"a \tb\x80")]),
    ),
]


@pytest.mark.parametrize(("data", "expected"), GOOD_REQUESTS)
def test_goodRequests(data: bytes, expected: RequestHead) -> None:
    assert allWays(data) == expected


def test_leftoverFollowsTheHead() -> None:
    data = b"GET / HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n"
    result = parseRequestHead(data)
    assert result is not None
    head, end = result
    assert head.target == b"/"
    assert data[end:] == b"GET /2 HTTP/1.1\r\n\r\n"


BAD_REQUESTS = [
    # bare LF as a terminator
    (b"GET / HTTP/1.1\nHost: a\n\n", 400),
    (b"GET / HTTP/1.1\r\nFoo: x\nContent-Length: 44\r\n\r\n", 400),
    # bare CR
    (b"GET / HTTP/1.1\r\nFoo: x\rBar: y\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\r\nHost: a\r\n\r\n", 400),
    # NUL and other controls in a value
    (b"GET / HTTP/1.1\r\nFoo: a\x00b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nFoo: \x0ba\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nFoo: a\x0c\r\n\r\n", 400),
    # space before the colon, obs-fold, bad names, missing colon
    (b"GET / HTTP/1.1\r\nContent-Length : 5\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nFoo: a\r\n b\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nFoo: a\r\n\tb\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nF(o): a\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\n: a\r\n\r\n", 400),
    (b"GET / HTTP/1.1\r\nFoo\r\n\r\n", 400),
    # request lines
    (b"GET  / HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTP/1.1 \r\n\r\n", 400),
    (b"G(T / HTTP/1.1\r\n\r\n", 400),
    (b"GET /\x01 HTTP/1.1\r\n\r\n", 400),
    (b"GET /a\tb HTTP/1.1\r\n\r\n", 400),
    (b"GET / HTTX/1.1\r\n\r\n", 400),
    (b"GET /\r\n\r\n", 400),
    (b"GET / HTTP/2.0\r\n\r\n", 505),
    (b"GET / HTTP/1.2\r\n\r\n", 505),
    (b"GET / HTTP/0.9\r\n\r\n", 505),
    (b"GET / HTTP/10.1\r\n\r\n", 505),
    # framing
    (
        b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        400,
    ),
    (b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 5 5\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: 1_0\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length: " + b"1" * 30 + b"\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunkedx\r\n\r\n", 501),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
    (b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
    (
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n",
        400,
    ),
    (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
]


@pytest.mark.parametrize(("data", "status"), BAD_REQUESTS)
def test_badRequests(data: bytes, status: int) -> None:
    assert errorAllWays(data) == status


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ([], 0),
        ([(b"content-length", b"12")], 12),
        ([(b"content-length", b"7"), (b"content-length", b"7")], 7),
        ([(b"content-length", b"7, 7")], 7),
        ([(b"transfer-encoding", b"Chunked")], CHUNKED),
        ([(b"content-length", b"0" * 19)], 0),
    ],
)
def test_requestBodyLength(fields: list[tuple[bytes, bytes]], expected: int) -> None:
    assert requestBodyLength(RequestHead(b"POST", b"/", (1, 1), fields)) == expected


def test_contentLengthDigitsLimit() -> None:
    limits = ParserLimits(maxContentLengthDigits=3)
    ok = RequestHead(b"POST", b"/", (1, 1), [(b"content-length", b"999")])
    assert requestBodyLength(ok, limits) == 999
    bad = RequestHead(b"POST", b"/", (1, 1), [(b"content-length", b"1000")])
    with pytest.raises(HTTPParseError):
        requestBodyLength(bad, limits)


def requestOfSize(lineLength: int, fieldLength: int = 0, fields: int = 0) -> bytes:
    target = b"/" + b"a" * (lineLength - len(b"GET / HTTP/1.1"))
    line = b"GET " + target + b" HTTP/1.1"
    assert len(line) == lineLength
    field = b"X: " + b"v" * (fieldLength - 3)
    return line + b"\r\n" + (field + b"\r\n") * fields + b"\r\n"


SMALL = ParserLimits(maxLineLength=40, maxFieldSize=30, maxHeadSize=120, maxFields=3)


def test_requestLineLimit() -> None:
    assert allWays(requestOfSize(40), limits=SMALL) is not None
    assert errorAllWays(requestOfSize(41), limits=SMALL) == 414


def test_requestLineLimitDefault() -> None:
    assert parseRequestHead(requestOfSize(8192)) is not None
    with pytest.raises(HTTPParseError) as info:
        parseRequestHead(requestOfSize(8193))
    assert info.value.status == 414
    # Bounded before the line ends.
    with pytest.raises(HTTPParseError) as info:
        parseRequestHead(b"GET /" + b"a" * 9000)
    assert info.value.status == 414


def test_fieldSizeLimit() -> None:
    assert allWays(requestOfSize(20, 30, 1), limits=SMALL) is not None
    assert errorAllWays(requestOfSize(20, 31, 1), limits=SMALL) == 431


def test_fieldCountLimit() -> None:
    assert allWays(requestOfSize(20, 5, 3), limits=SMALL) is not None
    assert errorAllWays(requestOfSize(20, 5, 4), limits=SMALL) == 431


def test_headSizeLimit() -> None:
    limits = ParserLimits(maxLineLength=40, maxFieldSize=100, maxHeadSize=120)
    # 40 + 2 + field + 2 + 2 == 120 at the limit.
    assert allWays(requestOfSize(40, 74, 1), limits=limits) is not None
    assert errorAllWays(requestOfSize(40, 75, 1), limits=limits) == 431


def test_headSizeLimitIncomplete() -> None:
    with pytest.raises(HTTPParseError) as info:
        parseRequestHead(b"GET / HTTP/1.1\r\n" + b"X: y\r\n" * 3000)
    assert info.value.status == 431


def test_defaultLimits() -> None:
    limits = ParserLimits()
    assert (limits.maxLineLength, limits.maxFieldSize, limits.maxHeadSize) == (
        8192,
        8192,
        16384,
    )
    assert (limits.maxFields, limits.maxChunkLineLength) == (500, 1024)
    assert parseRequestHead(requestOfSize(20, 5, 500)) is not None
    with pytest.raises(HTTPParseError) as info:
        parseRequestHead(requestOfSize(20, 5, 501))
    assert info.value.status == 431


def test_responseHeads() -> None:
    head = allWays(
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n", parse=parseResponseHead
    )
    assert head == ResponseHead((1, 1), 200, b"OK", [(b"content-length", b"3")])
    assert allWays(b"HTTP/1.0 204\r\n\r\n", parse=parseResponseHead) == ResponseHead(
        (1, 0), 204, b"", []
    )
    assert allWays(
        b"HTTP/1.1 404 Not  Found\r\n\r\n", parse=parseResponseHead
    ) == ResponseHead((1, 1), 404, b"Not  Found", [])


@pytest.mark.parametrize(
    "data",
    [
        b"HTTP/1.1 20 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\nX: y\r\n\r\n",
        b"HTTP/1.1 200 O\x00K\r\n\r\n",
        b"HTTP/2 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX : y\r\n\r\n",
        b"ICY 200 OK\r\n\r\n",
    ],
)
def test_badResponses(data: bytes) -> None:
    errorAllWays(data, parse=parseResponseHead)


def test_responseLimits() -> None:
    with pytest.raises(HTTPParseError):
        parseResponseHead(b"HTTP/1.1 200 OK\r\n" + b"X: " + b"y" * 10000)
    with pytest.raises(HTTPParseError):
        parseResponseHead(b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 501 + b"\r\n")


@pytest.mark.parametrize(
    ("method", "status", "fields", "expected"),
    [
        (b"GET", 200, [(b"content-length", b"5")], 5),
        (b"HEAD", 200, [(b"content-length", b"5")], 0),
        (b"GET", 204, [], 0),
        (b"GET", 304, [(b"content-length", b"5")], 0),
        (b"GET", 101, [], 0),
        (b"CONNECT", 200, [], 0),
        (b"GET", 200, [(b"transfer-encoding", b"chunked")], CHUNKED),
        (b"GET", 200, [(b"transfer-encoding", b"gzip")], UNTIL_CLOSE),
        (b"GET", 200, [], UNTIL_CLOSE),
    ],
)
def test_responseBodyLength(
    method: bytes, status: int, fields: list[tuple[bytes, bytes]], expected: int
) -> None:
    head = ResponseHead((1, 1), status, b"", fields)
    assert responseBodyLength(head, method) == expected


@pytest.mark.parametrize(
    "fields",
    [
        [(b"content-length", b"5"), (b"transfer-encoding", b"chunked")],
        [(b"content-length", b"5"), (b"content-length", b"6")],
        [(b"content-length", b"-1")],
        [(b"transfer-encoding", b"chunked, gzip")],
    ],
)
def test_badResponseFraming(fields: list[tuple[bytes, bytes]]) -> None:
    with pytest.raises(HTTPParseError):
        responseBodyLength(ResponseHead((1, 1), 200, b"", fields), b"GET")


def decodeAll(decoder: Any, pieces: list[bytes]) -> tuple[bytes, bytes]:
    body = []
    leftover = b""
    for piece in pieces:
        if decoder.done:
            leftover += piece
            continue
        data, rest = decoder.feed(piece)
        body.append(data)
        leftover += rest
    return b"".join(body), leftover


def test_contentLengthDecoder() -> None:
    for pieces in splits(b"hello world!NEXT"):
        decoder = ContentLengthDecoder(12)
        assert decodeAll(decoder, pieces) == (b"hello world!", b"NEXT")
        assert decoder.done
    empty = ContentLengthDecoder(0)
    assert empty.done
    assert empty.feed(b"x") == (b"", b"x")


def test_untilCloseDecoder() -> None:
    decoder = bodyDecoder(UNTIL_CLOSE)
    assert isinstance(decoder, UntilCloseDecoder)
    assert decoder.feed(b"abc") == (b"abc", b"")
    assert not decoder.done
    decoder.close()
    assert decoder.done


GOOD_CHUNKED = [
    (b"5\r\nhello\r\n0\r\n\r\n", b"hello", []),
    (b"5;name=val\r\nhello\r\n6 ; x\r\n world\r\n0\r\n\r\n", b"hello world", []),
    (
        b"A\r\n0123456789\r\n0\r\nX-T: 1\r\nY:2\r\n\r\n",
        b"0123456789",
        [
            (b"x-t", b"1"),
            (b"y", b"2"),
        ],
    ),
    (b"000000000000000A\r\n0123456789\r\n00\r\n\r\n", b"0123456789", []),
    (b"0\r\n\r\n", b"", []),
]


@pytest.mark.parametrize(("data", "body", "trailers"), GOOD_CHUNKED)
def test_chunkedDecoder(
    data: bytes, body: bytes, trailers: list[tuple[bytes, bytes]]
) -> None:
    for pieces in splits(data + b"GET"):
        decoder = bodyDecoder(CHUNKED)
        assert isinstance(decoder, ChunkedDecoder)
        assert decodeAll(decoder, pieces) == (body, b"GET")
        assert decoder.done
        assert decoder.trailers == trailers


BAD_CHUNKED = [
    b"0x5\r\nhello\r\n0\r\n\r\n",
    b"+5\r\nhello\r\n0\r\n\r\n",
    b"-5\r\nhello\r\n0\r\n\r\n",
    b" 5\r\nhello\r\n0\r\n\r\n",
    b"00000000000000005\r\nhello\r\n0\r\n\r\n",
    b"5;a\nb\r\nhello\r\n0\r\n\r\n",
    b"5;a\rb\r\nhello\r\n0\r\n\r\n",
    b"5\nhello\r\n0\r\n\r\n",
    b"5\r\nhelloXY0\r\n\r\n",
    b"5\r\nhello\n0\r\n\r\n",
    b"\r\n",
    b"g\r\n",
    b"5;" + b"x" * 1100 + b"\r\nhello\r\n0\r\n\r\n",
    b"0\r\nX : y\r\n\r\n",
    b"0\r\nX: y\nZ: w\r\n\r\n",
]


@pytest.mark.parametrize("data", BAD_CHUNKED)
def test_badChunked(data: bytes) -> None:
    for pieces in splits(data):
        decoder = ChunkedDecoder()
        with pytest.raises(HTTPParseError) as info:
            decodeAll(decoder, pieces)
        assert info.value.status in (400, 431)


def test_chunkLineLimit() -> None:
    limits = ParserLimits(maxChunkLineLength=10)
    ok = b"5;" + b"x" * 8 + b"\r\nhello\r\n0\r\n\r\n"
    for pieces in splits(ok):
        assert decodeAll(ChunkedDecoder(limits), pieces) == (b"hello", b"")
    bad = b"5;" + b"x" * 9 + b"\r\nhello\r\n0\r\n\r\n"
    for pieces in splits(bad):
        with pytest.raises(HTTPParseError):
            decodeAll(ChunkedDecoder(limits), pieces)


def test_trailerLimits() -> None:
    limits = ParserLimits(maxFields=2)
    decoder = ChunkedDecoder(limits)
    decoder.feed(b"0\r\nA: 1\r\nB: 2\r\n\r\n")
    assert decoder.done
    with pytest.raises(HTTPParseError):
        ChunkedDecoder(limits).feed(b"0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n")
    with pytest.raises(HTTPParseError):
        ChunkedDecoder().feed(b"0\r\n" + b"A: 1\r\n" * 3000)


def test_formatRequestHead() -> None:
    head = formatRequestHead(b"GET", b"/a?b", [(b"Host", b"x"), (b"X-Y", b"1 2")])
    assert head == b"GET /a?b HTTP/1.1\r\nHost: x\r\nX-Y: 1 2\r\n\r\n"
    parsed = parseRequestHead(head)
    assert parsed is not None
    assert parsed[0].fields == [(b"host", b"x"), (b"x-y", b"1 2")]


@pytest.mark.parametrize(
    ("method", "target", "headers"),
    [
        (b"GET\r\nX: y", b"/", []),
        (b"GET", b"/ HTTP/1.1\r\nX: y", []),
        (b"GET", b"/a b", []),
        (b"GET", b"", []),
        (b"GET", b"/", [(b"X", b"a\r\nB: c")]),
        (b"GET", b"/", [(b"X", b"a\nb")]),
        (b"GET", b"/", [(b"X", b"a\x00")]),
        (b"GET", b"/", [(b"X Y", b"a")]),
        (b"GET", b"/", [(b"X:", b"a")]),
        ("GET", b"/", []),
        (b"GET", b"/", [("X", b"a")]),
    ],
)
def test_formatRequestHeadRefuses(method: Any, target: Any, headers: Any) -> None:
    with pytest.raises(LocalProtocolError):
        formatRequestHead(method, target, headers)
    assert issubclass(LocalProtocolError, ValueError)


def test_formatResponseHead() -> None:
    head = formatResponseHead(b"HTTP/1.1", 200, b"OK", [(b"Content-Length", b"0")])
    assert head == b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    cases: list[tuple[Any, ...]] = [
        (b"HTTP/1.1", 200, b"OK\r\nX: y", []),
        (b"HTTP/1.1", 2000, b"OK", []),
        (b"HTTP/1.1", "200", b"OK", []),
        (b"HTTP/3", 200, b"OK", []),
        (b"HTTP/1.1", 200, b"OK", [(b"A", b"\r\n")]),
    ]
    for args in cases:
        with pytest.raises(LocalProtocolError):
            formatResponseHead(*args)


def test_formatChunk() -> None:
    framed = formatChunk(b"x" * 26) + LAST_CHUNK
    assert framed == b"1a\r\n" + b"x" * 26 + b"\r\n0\r\n\r\n"
    decoder = ChunkedDecoder()
    assert decoder.feed(framed) == (b"x" * 26, b"")
    assert decoder.done
    with pytest.raises(LocalProtocolError):
        formatChunk(b"")


def test_parseErrorDescribes() -> None:
    with pytest.raises(HTTPParseError) as info:
        parseRequestHead(b"GET / HTTP/1.1\r\nA : b\r\n\r\n")
    assert "colon" in str(info.value)
    assert info.value.message
    with pytest.raises(HTTPParseError, match="folding"):
        parseRequestHead(b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_randomRequestBytes(data: bytes) -> None:
    try:
        result = parseRequestHead(data)
        if result is not None:
            requestBodyLength(result[0])
    except HTTPParseError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_randomResponseBytes(data: bytes) -> None:
    try:
        result = parseResponseHead(data)
        if result is not None:
            responseBodyLength(result[0], b"GET")
    except HTTPParseError:
        pass


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_randomChunkedBytes(data: bytes) -> None:
    try:
        ChunkedDecoder().feed(data)
    except HTTPParseError:
        pass


_tokens = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-",
    min_size=1,
    max_size=10,
).map(str.encode)
_values = st.binary(max_size=20).map(
    lambda b: bytes(c for c in b if c >= 0x20 and c != 0x7F).strip(b" \t")
)


@settings(max_examples=200, deadline=None)
@given(
    _tokens,
    st.lists(st.tuples(_tokens, _values), max_size=10),
    st.lists(st.binary(min_size=1, max_size=30), max_size=5),
)
def test_roundTrip(
    method: bytes, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> None:
    head = formatRequestHead(method, b"/p", headers)
    result = parseRequestHead(head)
    assert result is not None
    parsed, end = result
    assert end == len(head)
    assert parsed.method == method
    assert parsed.fields == [(n.lower(), v) for n, v in headers]
    body = b"".join(formatChunk(c) for c in chunks) + LAST_CHUNK
    decoder = ChunkedDecoder()
    assert decoder.feed(body) == (b"".join(chunks), b"")
    assert decoder.done


@pytest.mark.parametrize(
    "value",
    [b"", b"example.com", b"a:", b"10.0.0.1:8080", b"[::1]:80", b"[v7.x:y]", b"%41"],
)
def test_validHostAccepts(value: bytes) -> None:
    assert validHost(value)


@pytest.mark.parametrize(
    "value",
    [
        b" a",
        b"a@b",
        b"a/b",
        b"a:b",
        b"[::1",
        b"[::g]",
        b"[v.x]",
        b":1",
        b"%4g",
        b"\xe9",
    ],
)
def test_validHostRefuses(value: bytes) -> None:
    assert not validHost(value)


@given(
    st.from_regex(rb"[a-z0-9.-]{1,20}|\[[0-9a-f:]{2,20}\]", fullmatch=True),
    st.none() | st.integers(0, 65535),
)
def test_validHostNameAndPort(name: bytes, port: int | None) -> None:
    """
    A name or an address literal with any port is valid exactly when the
    name alone is.
    """
    value = name if port is None else name + b":%d" % port
    assert validHost(value) == validHost(name)


@given(st.binary(max_size=60))
def test_validHostTotal(data: bytes) -> None:
    """
    Any bytes give a yes or no, never an exception.
    """
    assert validHost(data) in (True, False)
