"""
In-memory tests for ``torsion.web.proxy``: ``ReverseProxyResource`` with a
``MemoryReactorClock``, and ``ProxyClient`` over a ``StringTransport``
relaying to a ``DummyRequest``.  ``test_proxy_sockets`` runs the proxy over
real sockets.
"""

from __future__ import annotations

from io import BytesIO
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.internet import error
from torsion.internet.address import IPv4Address
from torsion.internet.interfaces import IPushProducer
from torsion.internet.testing import MemoryReactorClock, StringTransport
from torsion.python.failure import Failure
from torsion.web import _parser
from torsion.web.iweb import IResource
from torsion.web.proxy import (
    HOP_BY_HOP_HEADERS,
    ProxyClient,
    ProxyClientFactory,
    ReverseProxyResource,
    _BodySender,
)
from torsion.web.resource import NOT_DONE_YET
from torsion.web.testing import DummyRequest


def makeRequest(
    path: bytes = b"/",
    query: bytes = b"",
    method: bytes = b"GET",
    body: bytes = b"",
    headers: dict[bytes, list[bytes]] | None = None,
    client: str = "10.0.0.7",
) -> DummyRequest:
    postpath = path.lstrip(b"/").split(b"/") if path != b"/" else []
    request = DummyRequest(postpath, client=IPv4Address("TCP", client, 5555))
    if query:
        request.setQuery(query)
    request.method = method
    request.content = BytesIO(body)
    request.setHost(b"public.example", 80)
    for name, values in (headers or {}).items():
        request.requestHeaders.setRawHeaders(name, values)
    return request


def renderThrough(
    resource: Any, request: DummyRequest, reactor: MemoryReactorClock
) -> ProxyClientFactory:
    """
    Traverse ``request.postpath`` from ``resource`` and render it; return
    the factory the proxy connected with.
    """
    while request.postpath and not resource.isLeaf:
        segment = request.postpath.pop(0)
        request.prepath.append(segment)
        resource = resource.getChildWithDefault(segment, request)
    assert resource.render(request) is NOT_DONE_YET
    factory: ProxyClientFactory = reactor.tcpClients[-1][2]
    return factory


def connect(
    factory: ProxyClientFactory,
) -> tuple[ProxyClient, StringTransport, _parser.RequestHead, bytes]:
    """
    Connect the factory's client to a ``StringTransport``; return it and
    the request it sent (head and body).
    """
    protocol = factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", 8000))
    transport = StringTransport()
    protocol.makeConnection(transport)
    sent = transport.value()
    parsed = _parser.parseRequestHead(sent)
    assert parsed is not None
    head, end = parsed
    return protocol, transport, head, sent[end:]


def fields(head: Any) -> dict[bytes, list[bytes]]:
    result: dict[bytes, list[bytes]] = {}
    for name, value in head.fields:
        result.setdefault(name, []).append(value)
    return result


def test_interfaces() -> None:
    """
    ``ReverseProxyResource`` is an ``IResource``; the body sender an
    ``IPushProducer``.
    """
    reactor = MemoryReactorClock()
    assert verifyObject(IResource, ReverseProxyResource("h", 80, b"", reactor))
    sender = _BodySender(BytesIO(b""), 0, StringTransport())
    assert verifyObject(IPushProducer, sender)


def test_connectsToUpstream() -> None:
    """
    Rendering connects to the upstream host and port, with the timeout.
    """
    reactor = MemoryReactorClock()
    resource = ReverseProxyResource("upstream.test", 8000, b"", reactor, timeout=7)
    renderThrough(resource, makeRequest(), reactor)
    host, port, factory, timeout, _ = reactor.tcpClients[0]
    assert (host, port, timeout) == ("upstream.test", 8000, 7)
    assert isinstance(factory, ProxyClientFactory)


@pytest.mark.parametrize(
    "base, path, query, expected",
    [
        (b"", b"/", b"", b"/"),
        (b"", b"/a/b", b"", b"/a/b"),
        (b"/app", b"/", b"", b"/app"),
        (b"/app", b"/a/b/", b"x=1&y=%20", b"/app/a/b/?x=1&y=%20"),
        (b"/app", b"/a%20b", b"", b"/app/a%20b"),
    ],
)
def test_upstreamTarget(
    base: bytes, path: bytes, query: bytes, expected: bytes
) -> None:
    """
    Children map to the upstream path below the resource's; the query is
    passed on as sent.
    """
    reactor = MemoryReactorClock()
    resource = ReverseProxyResource("h", 8000, base, reactor)
    request = makeRequest(path.replace(b"%20", b" "), query)
    factory = renderThrough(resource, request, reactor)
    assert factory.rest == expected
    _, _, head, _ = connect(factory)
    assert head.target == expected
    assert head.method == b"GET"


def test_requestHeaders() -> None:
    """
    End-to-end headers are kept; hop-by-hop ones (and those ``Connection``
    names) are dropped; ``Host`` is the upstream's; ``X-Forwarded-*`` are
    added, ``X-Forwarded-For`` appended to.
    """
    reactor = MemoryReactorClock()
    resource = ReverseProxyResource("upstream.test", 8000, b"", reactor)
    request = makeRequest(
        headers={
            b"accept": [b"text/html"],
            b"cookie": [b"a=1"],
            b"connection": [b"keep-alive, X-Private"],
            b"x-private": [b"secret"],
            b"keep-alive": [b"timeout=5"],
            b"te": [b"trailers"],
            b"upgrade": [b"websocket"],
            b"proxy-authorization": [b"Basic eA=="],
            b"proxy-foo": [b"bar"],
            b"x-forwarded-for": [b"1.2.3.4"],
            b"x-forwarded-host": [b"forged.example"],
            b"x-forwarded-proto": [b"https"],
        }
    )
    _, _, head, _ = connect(renderThrough(resource, request, reactor))
    sent = fields(head)
    assert sent[b"accept"] == [b"text/html"]
    assert sent[b"cookie"] == [b"a=1"]
    assert sent[b"host"] == [b"upstream.test:8000"]
    assert sent[b"x-forwarded-for"] == [b"1.2.3.4, 10.0.0.7"]
    assert sent[b"x-forwarded-proto"] == [b"http"]
    assert sent[b"x-forwarded-host"] == [b"public.example"]
    assert sent[b"connection"] == [b"close"]
    for name in (b"x-private", b"keep-alive", b"te", b"upgrade", b"proxy-foo"):
        assert name not in sent
    assert b"proxy-authorization" not in sent
    assert b"content-length" not in sent


def test_hostHeaderDefaultPort() -> None:
    """
    ``Host`` leaves out port 80; IPv6 addresses are bracketed.
    """
    reactor = MemoryReactorClock()
    _, _, head, _ = connect(
        renderThrough(
            ReverseProxyResource("example.com", 80, b"", reactor),
            makeRequest(),
            reactor,
        )
    )
    assert fields(head)[b"host"] == [b"example.com"]
    _, _, head, _ = connect(
        renderThrough(
            ReverseProxyResource("::1", 8000, b"", reactor), makeRequest(), reactor
        )
    )
    assert fields(head)[b"host"] == [b"[::1]:8000"]


def test_xForwardedProtoHTTPS() -> None:
    """
    Over TLS, ``X-Forwarded-Proto`` is ``https``.
    """
    reactor = MemoryReactorClock()
    request = makeRequest()
    request.setSecure(True)
    _, _, head, _ = connect(
        renderThrough(ReverseProxyResource("h", 1, b"", reactor), request, reactor)
    )
    assert fields(head)[b"x-forwarded-proto"] == [b"https"]


def test_requestBody() -> None:
    """
    The body is sent from ``request.content`` with its length, whatever
    the client's framing was.
    """
    reactor = MemoryReactorClock()
    payload = bytes(range(256)) * 1000
    request = makeRequest(
        method=b"POST",
        body=payload,
        headers={b"transfer-encoding": [b"chunked"], b"expect": [b"100-continue"]},
    )
    # The server may leave the body read to its end.
    request.content.read()
    _, transport, head, body = connect(
        renderThrough(ReverseProxyResource("h", 1, b"", reactor), request, reactor)
    )
    sent = fields(head)
    assert sent[b"content-length"] == [b"%d" % len(payload)]
    assert b"transfer-encoding" not in sent
    assert b"expect" not in sent
    assert body == payload
    assert transport.producer is None


def test_requestBodyPaced() -> None:
    """
    The body goes upstream a piece at a time while the upstream transport
    accepts it: paused, no more is written until resumed.
    """
    transport = StringTransport()
    payload = b"x" * 200000
    sender = _BodySender(BytesIO(payload), len(payload), transport)
    original = transport.write
    writes: list[int] = []

    def write(data: bytes) -> None:
        original(data)
        writes.append(len(data))
        if len(writes) == 1:
            sender.pauseProducing()

    transport.write = write  # type: ignore[method-assign]
    sender.start()
    assert transport.producer is sender
    assert len(writes) == 1
    sender.resumeProducing()
    assert transport.value() == payload
    assert transport.producer is None
    assert max(writes) <= 65536


def test_emptyPostHasContentLength() -> None:
    """
    A ``POST`` without a body is sent with ``Content-Length: 0``.
    """
    reactor = MemoryReactorClock()
    _, _, head, body = connect(
        renderThrough(
            ReverseProxyResource("h", 1, b"", reactor),
            makeRequest(method=b"POST"),
            reactor,
        )
    )
    assert fields(head)[b"content-length"] == [b"0"]
    assert body == b""


def proxied(
    method: bytes = b"GET",
) -> tuple[DummyRequest, ProxyClient, StringTransport, MemoryReactorClock]:
    reactor = MemoryReactorClock()
    request = makeRequest(method=method)
    factory = renderThrough(
        ReverseProxyResource("h", 1, b"", reactor, timeout=30), request, reactor
    )
    protocol, transport, _, _ = connect(factory)
    return request, protocol, transport, reactor


RESPONSE = (
    b"HTTP/1.1 201 Created\r\n"
    b"Content-Type: text/plain\r\n"
    b"Connection: close, X-Hop\r\n"
    b"X-Hop: 1\r\n"
    b"Keep-Alive: timeout=5\r\n"
    b"Set-Cookie: a=1\r\n"
    b"Set-Cookie: b=2\r\n"
    b"Content-Length: 5\r\n"
    b"\r\n"
    b"hello"
)


def feed(protocol: ProxyClient, data: bytes, how: str) -> None:
    if how == "whole":
        protocol.dataReceived(data)
    else:
        for i in range(len(data)):
            protocol.dataReceived(data[i : i + 1])


@pytest.mark.parametrize("how", ["whole", "bytewise"])
def test_responseRelayed(how: str) -> None:
    """
    The status, end-to-end headers and body are relayed; the request is
    finished and the upstream connection closed; the upstream transport is
    the request's producer while the body is relayed.
    """
    request, protocol, transport, reactor = proxied()
    assert request.producer is None
    relayed: list[Any] = []
    original = request.write

    def write(data: bytes) -> None:
        relayed.append((request.producer, request.streamingProducer))
        original(data)

    request.write = write  # type: ignore[method-assign]
    feed(protocol, RESPONSE, how)
    # The upstream transport paces the relay from the second piece on (the
    # first goes out with the head).
    assert relayed[0] == (None, None)
    assert all(r == (transport, True) for r in relayed[1:])
    assert len(relayed) == (1 if how == "whole" else 5)
    assert request.code == 201
    assert request.code_message == b"Created"
    headers = request.responseHeaders
    assert headers.getRawHeaders(b"content-type") == [b"text/plain"]
    assert headers.getRawHeaders(b"set-cookie") == [b"a=1", b"b=2"]
    assert headers.getRawHeaders(b"content-length") == [b"5"]
    for name in (b"connection", b"x-hop", b"keep-alive"):
        assert not headers.hasHeader(name)
    assert b"".join(request.written) == b"hello"
    assert request.finished == 1
    assert request.producer is None
    assert transport.disconnecting
    assert reactor.getDelayedCalls() == []


@pytest.mark.parametrize("how", ["whole", "bytewise"])
def test_chunkedResponse(how: str) -> None:
    """
    A chunked body is decoded (the server frames it again for its client);
    ``Transfer-Encoding`` is not relayed.
    """
    request, protocol, _, _ = proxied()
    feed(
        protocol,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
        how,
    )
    assert b"".join(request.written) == b"abcde"
    assert not request.responseHeaders.hasHeader(b"transfer-encoding")
    assert request.finished == 1


def test_untilCloseResponse() -> None:
    """
    A body delimited by the end of the connection ends when the upstream
    closes.
    """
    request, protocol, _, _ = proxied()
    protocol.dataReceived(b"HTTP/1.0 200 OK\r\n\r\nsome ")
    protocol.dataReceived(b"body")
    assert request.finished == 0
    protocol.connectionLost(Failure(error.ConnectionDone()))
    assert b"".join(request.written) == b"some body"
    assert request.finished == 1


def test_interimResponseSkipped() -> None:
    """
    ``100 Continue`` from the upstream is not relayed.
    """
    request, protocol, _, _ = proxied()
    protocol.dataReceived(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    )
    assert request.code == 200
    assert b"".join(request.written) == b"ok"


def test_headResponse() -> None:
    """
    The response to ``HEAD`` has no body, whatever its Content-Length says.
    """
    request, protocol, transport, _ = proxied(method=b"HEAD")
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
    assert request.finished == 1
    assert request.responseHeaders.getRawHeaders(b"content-length") == [b"1000"]
    assert transport.disconnecting


def assertBadGateway(request: DummyRequest) -> None:
    assert request.code == 502
    assert b"Bad Gateway" in b"".join(request.written)
    assert request.finished == 1


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\nContent-Length: 1\r\n\r\nx",
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
    ],
)
@pytest.mark.parametrize("how", ["whole", "bytewise"])
def test_HTTP_20_malformedResponse(response: bytes, how: str) -> None:
    """
    A response head the parser rejects is answered ``502`` and the upstream
    connection aborted.
    """
    request, protocol, transport, _ = proxied()
    feed(protocol, response, how)
    assertBadGateway(request)
    assert transport.aborted


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
    ],
)
def test_HTTP_20_malformedResponseSplit(response: bytes) -> None:
    """
    Split in two at every position, a malformed response head gives the
    same 502.
    """
    for i in range(len(response) + 1):
        request, protocol, transport, _ = proxied()
        protocol.dataReceived(response[:i])
        protocol.dataReceived(response[i:])
        assertBadGateway(request)
        assert transport.aborted


def test_responseSplitEverywhere() -> None:
    """
    Split in two at every position, a valid chunked response is relayed
    the same.
    """
    response = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-A: 1\r\n\r\n"
        b"3\r\nabc\r\n0\r\n\r\n"
    )
    for i in range(len(response) + 1):
        request, protocol, _, _ = proxied()
        protocol.dataReceived(response[:i])
        protocol.dataReceived(response[i:])
        assert request.code == 200
        assert request.responseHeaders.getRawHeaders(b"x-a") == [b"1"]
        assert b"".join(request.written) == b"abc"
        assert request.finished == 1


def test_HTTP_20_endlessHead() -> None:
    """
    An upstream head that never ends is cut off at the head limit: 502, and
    no more than the limit is ever buffered.
    """
    request, protocol, transport, _ = proxied()
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\n")
    limit = _parser.DEFAULT_LIMITS.maxHeadSize
    sent = 0
    while not request.finished and sent < 10 * limit:
        protocol.dataReceived(b"X-Filler: " + b"a" * 90 + b"\r\n")
        sent += 102
        assert len(protocol._buffer) <= limit + 102
    assertBadGateway(request)
    assert transport.aborted


def test_HTTP_20_longHeaderLine() -> None:
    """
    A 1 MB header line is rejected (502) long before it ends.
    """
    request, protocol, transport, _ = proxied()
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nX-Big: ")
    for _ in range(100):
        if request.finished:
            break
        protocol.dataReceived(b"b" * 10000)
    assertBadGateway(request)
    assert transport.aborted


def test_HTTP_20_badChunkingAfterHead() -> None:
    """
    Bad chunk framing after the head was relayed cuts the client's
    connection: a 502 can no longer be sent.
    """
    request, protocol, transport, _ = proxied()
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    protocol.dataReceived(b"2\r\nok\r\n")
    protocol.dataReceived(b"zz\r\n")
    assert request.code == 200
    assert b"".join(request.written) == b"ok"
    assert request.finished == 0
    assert request._lost is not None
    assert transport.aborted


def test_closedBeforeHead() -> None:
    """
    The upstream closing before a complete head is a 502.
    """
    request, protocol, _, _ = proxied()
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\n")
    protocol.connectionLost(Failure(error.ConnectionDone()))
    assertBadGateway(request)


def test_closedMidBody() -> None:
    """
    The upstream closing before the Content-Length was received cuts the
    client's connection.
    """
    request, protocol, _, _ = proxied()
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    protocol.connectionLost(Failure(error.ConnectionLost()))
    assert b"".join(request.written) == b"abc"
    assert request.finished == 0
    assert request._lost is not None


def test_headTimeout() -> None:
    """
    No response head within the timeout: 504, upstream aborted.
    """
    request, protocol, transport, reactor = proxied()
    reactor.advance(29)
    assert request.finished == 0
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\n")
    reactor.advance(1)
    assert request.code == 504
    assert b"Gateway Timeout" in b"".join(request.written)
    assert request.finished == 1
    assert transport.aborted


def test_noTimeoutOnceHeadReceived() -> None:
    """
    Once the head arrived, a slow body is not cut by the head timeout.
    """
    request, protocol, transport, reactor = proxied()
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
    reactor.advance(100)
    assert not transport.aborted
    protocol.dataReceived(b"ok")
    assert request.finished == 1


def test_connectionRefused() -> None:
    """
    An upstream refusing connections gives 502.
    """
    reactor = MemoryReactorClock()
    request = makeRequest()
    factory = renderThrough(
        ReverseProxyResource("h", 1, b"", reactor), request, reactor
    )
    factory.clientConnectionFailed(None, Failure(error.ConnectionRefusedError()))
    assertBadGateway(request)


def test_connectTimeout() -> None:
    """
    An upstream not accepting the connection in time gives 504.
    """
    reactor = MemoryReactorClock()
    request = makeRequest()
    factory = renderThrough(
        ReverseProxyResource("h", 1, b"", reactor), request, reactor
    )
    factory.clientConnectionFailed(None, Failure(error.TimeoutError()))
    assert request.code == 504
    assert request.finished == 1


def test_clientGoneWhileConnecting() -> None:
    """
    A client that left before the upstream connection failed gets nothing
    written.
    """
    reactor = MemoryReactorClock()
    request = makeRequest()
    factory = renderThrough(
        ReverseProxyResource("h", 1, b"", reactor), request, reactor
    )
    request.loseConnection()
    factory.clientConnectionFailed(None, Failure(error.ConnectionRefusedError()))
    assert request.written == []
    assert request.finished == 0


def test_clientGoneAbortsUpstream() -> None:
    """
    When the client goes away mid-response, the upstream connection is
    aborted and nothing more is relayed.
    """
    request, protocol, transport, reactor = proxied()
    protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    request.loseConnection()
    assert transport.aborted
    protocol.dataReceived(b"defghij")
    assert b"".join(request.written) == b"abc"
    assert reactor.getDelayedCalls() == []


def test_hopByHopList() -> None:
    """
    The hop-by-hop list holds RFC 9110's fields, lower-case.
    """
    for name in (b"connection", b"keep-alive", b"te", b"trailer", b"upgrade"):
        assert name in HOP_BY_HOP_HEADERS
    assert b"transfer-encoding" in HOP_BY_HOP_HEADERS


@pytest.mark.parametrize("extra, rejected", [(0, False), (1, True)])
def test_HTTP_20_headLimitBoundary(extra: int, rejected: bool) -> None:
    """
    The factory's ``limits`` bound the upstream's response head: a head of
    exactly ``maxHeadSize`` bytes is relayed, one byte more is a 502.
    """
    reactor = MemoryReactorClock()
    request = makeRequest()
    factory = renderThrough(
        ReverseProxyResource("h", 1, b"", reactor), request, reactor
    )
    factory.limits = _parser.ParserLimits(maxHeadSize=200)
    protocol, transport, _, _ = connect(factory)
    start = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Pad: "
    padding = 200 - len(start) - len(b"\r\n\r\n") + extra
    protocol.dataReceived(start + b"p" * padding + b"\r\n\r\n")
    if rejected:
        assertBadGateway(request)
        assert transport.aborted
    else:
        assert request.code == 200
        assert request.responseHeaders.getRawHeaders(b"x-pad") == [b"p" * padding]
        assert request.finished == 1


def test_proxyRequestInterfaces() -> None:
    """
    ``ProxyRequest`` is an ``IConsumer`` like every ``http.Request``;
    ``Proxy`` a protocol and a push producer.
    """
    from torsion.internet.interfaces import IConsumer, IProtocol
    from torsion.web.proxy import Proxy, ProxyRequest

    channel = Proxy()
    assert verifyObject(IPushProducer, channel)
    assert verifyObject(IProtocol, channel)
    request = ProxyRequest(channel, reactor=MemoryReactorClock())
    assert verifyObject(IConsumer, request)
