"""
The one-write response path (a resource rendering ``bytes`` on an HTTP/1.x
channel) must answer byte for byte as the general path does: the general
path is forced here with a ``Request`` subclass that overrides ``write``
(which makes the server take the step-by-step route).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from torsion.internet.address import IPv4Address
from torsion.internet.testing import MemoryReactorClock, StringTransport
from torsion.web import _parser, http, server
from torsion.web.iweb import IRequest
from torsion.web.resource import Resource


class SlowRequest(server.Request):
    """
    Writes through the general path (an overridden ``write``).
    """

    def write(self, data: bytes) -> None:
        server.Request.write(self, data)


class Page(Resource):
    """
    Renders ``body``, after ``prepare(request)`` changes the response.
    """

    isLeaf = True

    def __init__(self, body: bytes, prepare: Any = None) -> None:
        Resource.__init__(self)
        self.body = body
        self.prepare = prepare

    def render_GET(self, request: IRequest) -> bytes:
        if self.prepare is not None:
            self.prepare(request)
        return self.body

    def render_POST(self, request: IRequest) -> bytes:
        return self.render_GET(request)


def _serve(
    root: Resource, data: bytes, requestFactory: Any
) -> tuple[bytes, list[Any], Any]:
    site = server.Site(root, reactor=MemoryReactorClock())
    site.requestFactory = requestFactory
    logged: list[Any] = []
    site.log = logged.append  # type: ignore[assignment]
    transport = StringTransport(hostAddress=IPv4Address("TCP", "10.0.0.1", 80))
    channel = site.buildProtocol(None)
    channel.makeConnection(transport)
    channel.dataReceived(data)
    # The Date field depends on the second the response was made.
    wire = re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: -", transport.value())
    return wire, logged, transport


def _setCookie(request: Any) -> None:
    request.addCookie(b"a", b"b", path=b"/")


def _notFound(request: Any) -> None:
    request.setResponseCode(404)


def _custom(request: Any) -> None:
    request.setHeader(b"X-Thing", b"1")
    request.setHeader(b"content-type", b"text/plain")
    request.responseHeaders.addRawHeader(b"x-thing", b"2")


def _closing(request: Any) -> None:
    request.setHeader(b"connection", b"close")


def _server(request: Any) -> None:
    request.setHeader(b"server", b"mine")


CASES = {
    "plain": (b"", None, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    "body": (b"Hello, world!", None, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    "http10": (b"x", None, b"GET / HTTP/1.0\r\n\r\n"),
    "http10KeepAlive": (
        b"x",
        None,
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    ),
    "clientCloses": (
        b"x",
        None,
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    ),
    "cookie": (b"x", _setCookie, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    "status": (b"gone", _notFound, b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n"),
    "headers": (b"x", _custom, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    "resourceCloses": (b"x", _closing, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    "serverHeader": (b"x", _server, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"),
    "head": (b"abc", None, b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"),
    "post": (
        b"ok",
        None,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc",
    ),
    "pipelined": (
        b"again",
        None,
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sameBytesAsGeneralPath(case: str) -> None:
    body, prepare, data = CASES[case]
    fast, fastLog, fastTransport = _serve(Page(body, prepare), data, server.Request)
    slow, slowLog, slowTransport = _serve(Page(body, prepare), data, SlowRequest)
    assert fast == slow
    assert fast.startswith(b"HTTP/1.1 ")
    assert fastTransport.disconnecting == slowTransport.disconnecting
    assert [(r.code, r.sentLength, r.finished) for r in fastLog] == [
        (r.code, r.sentLength, r.finished) for r in slowLog
    ]


def test_wholeResponseIsOneWrite() -> None:
    writes: list[bytes] = []
    site = server.Site(Page(b"Hello, world!"), reactor=MemoryReactorClock())
    transport = StringTransport()
    transport.write = writes.append  # type: ignore[assignment]
    channel = site.buildProtocol(None)
    channel.makeConnection(transport)
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    [response] = writes
    assert response.startswith(b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\n")
    assert response.endswith(b"\r\n\r\nHello, world!")


def test_finishedRequestState() -> None:
    """
    After the one-write path, the request looks as after ``write`` and
    ``finish``: started, finished, its length counted, ``notifyFinish``
    fired, and the access log given the finished request.
    """
    seen: list[Any] = []

    def keep(request: Any) -> None:
        seen.append(request)
        fired.append(request.notifyFinish())

    fired: list[Any] = []
    _, logged, _ = _serve(
        Page(b"12345", keep),
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        server.Request,
    )
    [request] = seen
    assert logged == [request]
    assert request.startedWriting and request.finished
    assert request.sentLength == 5
    assert request.responseHeaders.getRawHeaders(b"content-length") == [b"5"]
    results: list[Any] = []
    fired[0].addCallback(results.append)
    assert results == [None]


def test_subclassedChannelTakesGeneralPath() -> None:
    """
    A channel subclass that changes how it writes sees every write.
    """
    written: list[bytes] = []

    class Channel(http.HTTPChannel):
        def write(self, data: bytes) -> None:
            written.append(data)
            http.HTTPChannel.write(self, data)

    site = server.Site(Page(b"body"), reactor=MemoryReactorClock())
    site.protocol = Channel
    transport = StringTransport()
    channel = site.buildProtocol(None)
    channel.makeConnection(transport)
    channel.dataReceived(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert written == [b"body"]
    assert transport.value().endswith(b"\r\n\r\nbody")


# -- the server's head parser agrees with parseRequestHead -----------------

_LIMITS = _parser.ParserLimits(
    maxLineLength=64, maxFieldSize=40, maxHeadSize=400, maxFields=6
)


def _field(size: int, name: bytes = b"X-A") -> bytes:
    return name + b": " + b"v" * (size - len(name) - 2)


HEADS = {
    "simple": b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "noFields": b"GET /x?y HTTP/1.0\r\n\r\n",
    "emptyLinesFirst": b"\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    "repeated": b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\na: 3\r\n\r\n",
    "spaces": b"GET / HTTP/1.1\r\nA:\t 1 \t\r\nB:\r\n\r\n",
    "obsText": b"GET / HTTP/1.1\r\nA: \xe9t\xe9\r\n\r\n",
    "fieldAtLimit": b"GET / HTTP/1.1\r\n"
    + b"\r\n".join([_field(40)] * 5)
    + b"\r\n\r\n",
    "fieldOverLimit": b"GET / HTTP/1.1\r\n"
    + b"\r\n".join([_field(40)] * 4 + [_field(41)])
    + b"\r\n\r\n",
    "fieldsAtLimit": b"GET / HTTP/1.1\r\n" + b"A: 1\r\n" * 6 + b"\r\n",
    "fieldsOverLimit": b"GET / HTTP/1.1\r\n" + b"A: 1\r\n" * 7 + b"\r\n",
    "lineAtLimit": b"GET /" + b"a" * 50 + b" HTTP/1.1\r\n\r\n",
    "lineOverLimit": b"GET /" + b"a" * 51 + b" HTTP/1.1\r\n\r\n",
    "headOverLimit": b"GET / HTTP/1.1\r\n" + (_field(40) + b"\r\n") * 10 + b"\r\n",
    "badChar": b"GET / HTTP/1.1\r\nA: \x01\r\n\r\n",
    "bareLF": b"GET / HTTP/1.1\r\nA: 1\nB: 2\r\n\r\n",
    "spaceBeforeColon": b"GET / HTTP/1.1\r\nA : 1\r\n\r\n",
    "folded": b"GET / HTTP/1.1\r\nA: 1\r\n 2\r\n\r\n",
    "version": b"GET / HTTP/1.2\r\n\r\n",
    "badMethod": b"G(T / HTTP/1.1\r\n\r\n",
    "incomplete": b"GET / HTTP/1.1\r\nHost: a\r\n",
}


def _outcome(parse: Any, data: bytes) -> Any:
    try:
        return parse(data)
    except _parser.HTTPParseError as e:
        return ("error", e.status, e.message)


def _general(data: bytes) -> Any:
    result = _parser.parseRequestHead(data, _LIMITS)
    if result is None:
        return None
    head, end = result
    raw: dict[bytes, list[bytes]] = {}
    for name, value in head.fields:
        raw.setdefault(name, []).append(value)
    return head.method, head.target, head.version, raw, end


@pytest.mark.parametrize("case", sorted(HEADS))
def test_serverHeadParserAgrees(case: str) -> None:
    data = HEADS[case]
    expected = _outcome(_general, data)
    assert _outcome(lambda d: _parser._parseServerHead(d, _LIMITS, 0), data) == (
        expected
    )


def test_serverHeadParserBoundaries() -> None:
    def parse(case: str) -> Any:
        return _outcome(lambda d: _parser._parseServerHead(d, _LIMITS, 0), HEADS[case])

    assert parse("fieldAtLimit")[3][b"x-a"] == [b"v" * 35] * 5
    assert parse("fieldOverLimit")[:2] == ("error", 431)
    assert len(parse("fieldsAtLimit")[3][b"a"]) == 6
    assert parse("fieldsOverLimit")[:2] == ("error", 431)
    assert parse("lineAtLimit")[1] == b"/" + b"a" * 50
    assert parse("lineOverLimit")[:2] == ("error", 414)
    assert parse("headOverLimit")[:2] == ("error", 431)
    assert parse("spaces")[3] == {b"a": [b"1"], b"b": [b""]}
