"""
Tests for ``torsion.web._newclient``: the HTTP/1.1 client connection over an
in-memory transport.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zope.interface import implementer
from zope.interface.verify import verifyObject

from torsion.internet.defer import CancelledError, Deferred, succeed
from torsion.internet.error import ConnectionDone, ConnectionLost
from torsion.internet.protocol import Protocol
from torsion.internet.task import Clock
from torsion.internet.testing import StringTransport
from torsion.python.failure import Failure
from torsion.web._newclient import (
    MAX_HEAD_SIZE,
    HTTP11ClientProtocol,
    PotentialDataLoss,
    Request,
    RequestGenerationFailed,
    RequestNotSent,
    Response,
    ResponseDone,
    ResponseFailed,
    ResponseNeverReceived,
)
from torsion.web._parser import HTTPParseError
from torsion.web.http_headers import Headers
from torsion.web.iweb import UNKNOWN_LENGTH, IBodyProducer, IClientRequest, IResponse


class BodyCollector(Protocol):
    def __init__(self) -> None:
        self.data: list[bytes] = []
        self.reason: Failure | None = None

    def dataReceived(self, data: bytes) -> None:
        self.data.append(data)

    def connectionLost(self, reason: Failure = Failure(ConnectionDone())) -> None:  # noqa: B008
        self.reason = reason

    @property
    def body(self) -> bytes:
        return b"".join(self.data)


class Connected:
    """
    A client protocol on a ``StringTransport``, recording when it becomes
    idle again.
    """

    def __init__(self, clock: Any = None) -> None:
        self.idle: list[HTTP11ClientProtocol] = []
        self.protocol = HTTP11ClientProtocol(self.idle.append, clock or Clock())
        self.transport = StringTransport()
        self.protocol.makeConnection(self.transport)

    def request(
        self,
        method: bytes = b"GET",
        uri: bytes = b"/",
        persistent: bool = True,
        body: Any = None,
        headers: Headers | None = None,
    ) -> tuple[list[Any], Deferred[Response]]:
        if headers is None:
            headers = Headers({b"host": [b"example.com"]})
        d = self.protocol.request(Request(method, uri, headers, body, persistent))
        results: list[Any] = []
        d.addBoth(results.append)
        return results, d

    def lose(self, reason: Exception | None = None) -> None:
        self.protocol.connectionLost(Failure(reason or ConnectionDone()))


def feedings(data: bytes, allSplits: bool = True) -> list[list[bytes]]:
    """
    The three ways bytes are fed: at once, a byte at a time, and (for short
    inputs) split in two at every position.
    """
    ways = [[data], [data[i : i + 1] for i in range(len(data))]]
    if allSplits and len(data) <= 400:
        ways += [[data[:i], data[i:]] for i in range(1, len(data))]
    return ways


def receive(connected: Connected, pieces: list[bytes]) -> None:
    for piece in pieces:
        connected.protocol.dataReceived(piece)


@implementer(IBodyProducer)
class BytesProducer:
    def __init__(self, body: bytes, length: Any = None) -> None:
        self.body = body
        self.length = len(body) if length is None else length
        self.stopped = False

    def startProducing(self, consumer: Any) -> Deferred[None]:
        consumer.write(self.body)
        return succeed(None)

    def pauseProducing(self) -> None:
        pass

    def resumeProducing(self) -> None:
        pass

    def stopProducing(self) -> None:
        self.stopped = True


class ManualProducer(BytesProducer):
    def startProducing(self, consumer: Any) -> Deferred[None]:
        self.consumer = consumer
        self.finished: Deferred[None] = Deferred()
        return self.finished


# -- requests -------------------------------------------------------------------


def test_interfaces() -> None:
    request = Request(b"GET", b"/", Headers(), None)
    assert verifyObject(IClientRequest, request)
    assert verifyObject(IBodyProducer, BytesProducer(b"x"))
    c = Connected()
    results, _ = c.request()
    c.protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert verifyObject(IResponse, results[0])


def test_getHead() -> None:
    c = Connected()
    c.request(uri=b"/a?b=c", persistent=False)
    assert c.transport.value() == (
        b"GET /a?b=c HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"
    )


def test_callerConnectionHeaderIsSentAndNotReused() -> None:
    c = Connected()
    headers = Headers({b"host": [b"h"], b"connection": [b"Upgrade"]})
    results, _ = c.request(headers=headers)
    assert c.transport.value() == (
        b"GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\n\r\n"
    )
    c.protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert results[0].code == 200
    assert c.idle == []
    assert c.transport.disconnecting


def test_persistentRequestHasNoConnectionClose() -> None:
    c = Connected()
    c.request()
    assert c.transport.value() == b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"


def test_postWithLength() -> None:
    c = Connected()
    c.request(b"POST", body=BytesProducer(b"hello"))
    assert c.transport.value().endswith(b"Content-Length: 5\r\n\r\nhello")


def test_postWithoutBodySendsZeroLength() -> None:
    c = Connected()
    c.request(b"POST")
    assert b"Content-Length: 0\r\n" in c.transport.value()


def test_chunkedUploadForUnknownLength() -> None:
    c = Connected()
    producer = ManualProducer(b"", UNKNOWN_LENGTH)
    c.request(b"PUT", body=producer)
    assert b"Transfer-Encoding: chunked\r\n" in c.transport.value()
    c.transport.clear()
    producer.consumer.write(b"hello")
    producer.consumer.write(b"")
    producer.consumer.write(b"world!")
    producer.finished.callback(None)
    assert c.transport.value() == b"5\r\nhello\r\n6\r\nworld!\r\n0\r\n\r\n"
    assert c.transport.producer is None


def test_bodyProducerRegisteredForBackpressure() -> None:
    c = Connected()
    producer = ManualProducer(b"", 3)
    c.request(b"PUT", body=producer)
    assert c.transport.producer is producer
    producer.consumer.write(b"abc")
    producer.finished.callback(None)
    assert c.transport.producer is None


@pytest.mark.parametrize(
    "method",
    [b"GET\r\nX: y", b"GET /", b"", b"G\x00T", b"GET\n"],
)
def test_HTTP_13_badMethod(method: bytes) -> None:
    c = Connected()
    with pytest.raises(ValueError):
        c.request(method)
    assert c.transport.value() == b""


@pytest.mark.parametrize(
    "uri",
    [b"/a b", b"/a\r\nX: y", b"/\n", b"/\x00", b"/\x7f", b"", b"/\t"],
)
def test_HTTP_13_badURI(uri: bytes) -> None:
    c = Connected()
    with pytest.raises(ValueError):
        c.request(uri=uri)
    assert c.transport.value() == b""


@pytest.mark.parametrize("value", [b"a\r\nX: y", b"a\nb", b"a\rb", b"a\x00"])
def test_HTTP_13_badHeaderValue(value: bytes) -> None:
    with pytest.raises(ValueError):
        Headers({b"x-test": [value]})
    headers = Headers()
    with pytest.raises(ValueError):
        headers.addRawHeader(b"x-test", value)


def test_producerFailure() -> None:
    c = Connected()
    producer = ManualProducer(b"", 10)
    results, _ = c.request(b"POST", body=producer)
    producer.finished.errback(ZeroDivisionError())
    assert isinstance(results[0].value, RequestGenerationFailed)
    assert results[0].value.reasons[0].check(ZeroDivisionError)
    assert c.transport.aborted


def test_producerWritesTooMuch() -> None:
    c = Connected()
    producer = ManualProducer(b"", 2)
    results, _ = c.request(b"POST", body=producer)
    producer.consumer.write(b"abc")
    producer.finished.callback(None)
    assert isinstance(results[0].value, RequestGenerationFailed)
    assert b"abc" not in c.transport.value()


def test_producerWritesTooLittle() -> None:
    c = Connected()
    producer = ManualProducer(b"", 5)
    results, _ = c.request(b"POST", body=producer)
    producer.consumer.write(b"abc")
    producer.finished.callback(None)
    assert isinstance(results[0].value, RequestGenerationFailed)


def test_busyConnection() -> None:
    c = Connected()
    c.request()
    results, _ = c.request()
    assert results[0].check(RequestNotSent)


# -- response framing -----------------------------------------------------------


def deliverAll(c: Connected, pieces: list[bytes]) -> tuple[Response, BodyCollector]:
    results: list[Any] = c._results  # type: ignore[attr-defined]
    collector = BodyCollector()
    for piece in pieces:
        c.protocol.dataReceived(piece)
        first = results[0] if results else None
        if isinstance(first, Response) and not hasattr(c, "_delivered"):
            first.deliverBody(collector)
            c._delivered = True  # type: ignore[attr-defined]
    assert results and isinstance(results[0], Response), results
    return results[0], collector


CASES = [
    (
        b"GET",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        b"hello",
        True,
    ),
    (
        b"GET",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nhel\r\n2;ext=1\r\nlo\r\n0\r\nX-Trailer: t\r\n\r\n",
        b"hello",
        True,
    ),
    (b"HEAD", b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n", b"", True),
    (b"GET", b"HTTP/1.1 204 No Content\r\n\r\n", b"", True),
    (b"GET", b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", b"", True),
    (
        b"GET",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        b"ok",
        True,
    ),
    (
        b"GET",
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok",
        b"ok",
        False,
    ),
    (b"GET", b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", b"ok", False),
    (
        b"GET",
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
        b"ok",
        True,
    ),
]


@pytest.mark.parametrize("method,wire,body,reused", CASES)
def test_framing(method: bytes, wire: bytes, body: bytes, reused: bool) -> None:
    for pieces in feedings(wire):
        c = Connected()
        c._results, _ = c.request(method)  # type: ignore[attr-defined]
        _, collector = deliverAll(c, pieces)
        assert collector.body == body
        assert collector.reason is not None and collector.reason.check(ResponseDone)
        if reused:
            assert c.idle == [c.protocol]
            assert not c.transport.disconnecting
            assert c.protocol.state == "QUIESCENT"
        else:
            assert c.idle == []
            assert c.transport.disconnecting


def test_responseAttributes() -> None:
    c = Connected()
    results, _ = c.request()
    c.protocol.dataReceived(
        b"HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nX-A: 1\r\nX-A: 2\r\n\r\n"
    )
    response = results[0]
    assert response.version == (b"HTTP", 1, 1)
    assert response.code == 404
    assert response.phrase == b"Not Found"
    assert response.length == 3
    assert response.headers.getRawHeaders(b"x-a") == [b"1", b"2"]
    assert response.request.method == b"GET"
    assert response.previousResponse is None


def test_untilClose() -> None:
    wire = b"HTTP/1.1 200 OK\r\n\r\nsome body"
    for pieces in feedings(wire):
        c = Connected()
        c._results, _ = c.request()  # type: ignore[attr-defined]
        response, collector = deliverAll(c, pieces)
        assert response.length is UNKNOWN_LENGTH
        assert collector.reason is None
        c.lose()
        assert collector.body == b"some body"
        assert collector.reason is not None
        assert collector.reason.check(PotentialDataLoss)
        assert c.idle == []


def test_bodyBeforeDeliverBodyIsKept() -> None:
    c = Connected()
    results, _ = c.request()
    c.protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
    collector = BodyCollector()
    results[0].deliverBody(collector)
    assert collector.body == b"hello"
    assert collector.reason is not None and collector.reason.check(ResponseDone)
    with pytest.raises(RuntimeError):
        results[0].deliverBody(BodyCollector())


def test_undeliveredBodyPausesReading() -> None:
    c = Connected()
    results, _ = c.request()
    c.protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 200000\r\n\r\n")
    c.protocol.dataReceived(b"x" * 70000)
    assert c.transport.producerState == "paused"
    collector = BodyCollector()
    results[0].deliverBody(collector)
    assert str(c.transport.producerState) == "producing"
    assert collector.body == b"x" * 70000


def _halfDelivered(c: Connected) -> BodyCollector:
    """
    Send a request whose response has 2 of its 4 body bytes in, delivered
    to a ``BodyCollector``.
    """
    results, _ = c.request()
    c.protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab")
    collector = BodyCollector()
    results[0].deliverBody(collector)
    return collector


def test_bodyProtocolPausesTransport() -> None:
    c = Connected()
    collector = _halfDelivered(c)
    collector.transport.pauseProducing()
    assert c.transport.producerState == "paused"
    collector.transport.resumeProducing()
    assert str(c.transport.producerState) == "producing"
    collector.transport.pauseProducing()
    c.protocol.dataReceived(b"cd")
    # Finished: back in the pool, reading again.
    assert str(c.transport.producerState) == "producing"
    assert c.idle == [c.protocol]


def test_bodyProtocolStops() -> None:
    c = Connected()
    collector = _halfDelivered(c)
    collector.transport.stopProducing()
    assert c.transport.aborted
    assert collector.reason is not None and collector.reason.check(ResponseFailed)
    assert c.idle == []


def test_connectionReusedForSecondRequest() -> None:
    c = Connected()
    results, _ = c.request()
    c.protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
    results[0].deliverBody(BodyCollector())
    c.transport.clear()
    results2, _ = c.request(uri=b"/two")
    assert c.transport.value().startswith(b"GET /two HTTP/1.1\r\n")
    c.protocol.dataReceived(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    assert results2[0].code == 201
    assert c.idle == [c.protocol, c.protocol]


def test_extraBytesAfterResponseDiscardConnection() -> None:
    c = Connected()
    results, _ = c.request()
    c.protocol.dataReceived(
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\naHTTP/1.1 200 OK\r\n"
    )
    results[0].deliverBody(BodyCollector())
    assert c.idle == []
    assert c.transport.aborted


def test_bytesWhileIdleDiscardConnection() -> None:
    c = Connected()
    c.protocol.dataReceived(b"HTTP/1.1 200 OK\r\n\r\n")
    assert c.transport.aborted


# -- failures -------------------------------------------------------------------


def test_lostBeforeResponse() -> None:
    c = Connected()
    results, _ = c.request()
    c.lose(ConnectionLost())
    assert isinstance(results[0].value, ResponseNeverReceived)
    assert results[0].value.reasons[0].check(ConnectionLost)


def test_lostDuringHead() -> None:
    c = Connected()
    results, _ = c.request()
    c.protocol.dataReceived(b"HTTP/1.1 200 OK\r\n")
    c.lose()
    assert type(results[0].value) is ResponseFailed


def test_lostDuringBody() -> None:
    for wire in (
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
    ):
        c = Connected()
        results, _ = c.request()
        c.protocol.dataReceived(wire)
        collector = BodyCollector()
        results[0].deliverBody(collector)
        c.lose(ConnectionLost())
        assert collector.body == b"abc"
        assert collector.reason is not None
        assert collector.reason.check(ResponseFailed)


def test_cancel() -> None:
    c = Connected()
    results, d = c.request()
    d.cancel()
    assert results[0].check(CancelledError)
    assert c.transport.aborted
    c.lose()
    assert len(results) == 1


def failsWith(wire: bytes, allSplits: bool = True) -> None:
    for pieces in feedings(wire, allSplits):
        c = Connected()
        results, _ = c.request()
        collector = BodyCollector()
        for piece in pieces:
            c.protocol.dataReceived(piece)
            if results and isinstance(results[0], Response):
                results[0].deliverBody(collector)
                results[0] = "delivered"
            if c.transport.aborted:
                break
        assert c.transport.aborted, pieces
        assert c.idle == []
        failure = collector.reason if results == ["delivered"] else results[0]
        assert failure is not None
        assert failure.check(ResponseFailed), failure
        error: Any = failure.value
        assert error.reasons[0].check(HTTPParseError), failure
        # The connection then closes; nothing fires twice.
        c.lose()


def test_HTTP_20_endlessHeaders() -> None:
    wire = b"HTTP/1.1 200 OK\r\n" + b"X-Endless: yes\r\n" * 1200
    failsWith(wire, allSplits=False)


def test_HTTP_20_tooManyHeaders() -> None:
    wire = b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 501 + b"\r\n"
    failsWith(wire, allSplits=False)


def test_HTTP_20_headerCountBoundary() -> None:
    c = Connected()
    results, _ = c.request()
    c.protocol.dataReceived(
        b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 499 + b"Content-Length: 0\r\n\r\n"
    )
    assert results[0].code == 200


def test_HTTP_20_hugeHeaderLine() -> None:
    wire = b"HTTP/1.1 200 OK\r\nX-Big: " + b"a" * 1_000_000 + b"\r\n\r\n"
    failsWith(wire, allSplits=False)


def test_HTTP_20_headSizeBoundary() -> None:
    def head(size: int) -> bytes:
        # ``size`` counts every byte of the head, the blank line included.
        start = b"HTTP/1.1 200 OK\r\nContent-Length: 0"
        fields = []
        remaining = size - 4 - len(start)
        while remaining > 0:
            n = min(remaining, 8000)
            if remaining - n and remaining - n < 6:
                n -= 6
            fields.append(b"\r\nX: " + b"a" * (n - 5))
            remaining -= n
        data = start + b"".join(fields) + b"\r\n\r\n"
        assert len(data) == size, (len(data), size)
        return data

    c = Connected()
    results, _ = c.request()
    c.protocol.dataReceived(head(MAX_HEAD_SIZE))
    assert results[0].code == 200
    failsWith(head(MAX_HEAD_SIZE + 1), allSplits=False)


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nabcde\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"1" * 17 + b"\r\n",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\nContent-Length: 4\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
        b"HTTP/2.0 200 OK\r\n\r\n",
        b"garbage\r\n\r\n",
    ],
)
def test_HTTP_20_malformed(wire: bytes) -> None:
    failsWith(wire)


def test_HTTP_20_chunkLineTooLong() -> None:
    wire = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;"
        + b"e" * 2000
        + b"\r\n"
    )
    failsWith(wire, allSplits=False)


# -- 100-continue ---------------------------------------------------------------


def expecting() -> Headers:
    return Headers({b"host": [b"example.com"], b"expect": [b"100-continue"]})


def test_expectContinue() -> None:
    c = Connected()
    results, _ = c.request(b"POST", body=BytesProducer(b"body"), headers=expecting())
    assert c.transport.value().endswith(b"\r\n\r\n")
    assert b"body" not in c.transport.value()
    c.protocol.dataReceived(b"HTTP/1.1 100 Continue\r\n\r\n")
    assert c.transport.value().endswith(b"\r\n\r\nbody")
    c.protocol.dataReceived(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
    assert results[0].code == 200
    assert c.idle == [c.protocol]


def test_expectContinueFinalResponseFirst() -> None:
    c = Connected()
    producer = BytesProducer(b"body")
    results, _ = c.request(b"POST", body=producer, headers=expecting())
    c.protocol.dataReceived(b"HTTP/1.1 413 Too Large\r\nContent-Length: 0\r\n\r\n")
    assert results[0].code == 413
    assert b"body" not in c.transport.value()
    # The server is owed a body it will never get: the connection closes.
    assert c.idle == []
    assert c.transport.disconnecting


def test_expectContinueTimeout() -> None:
    clock = Clock()
    c = Connected(clock)
    c.request(b"POST", body=BytesProducer(b"body"), headers=expecting())
    assert b"body" not in c.transport.value()
    clock.advance(Request.expectContinueTimeout)
    assert c.transport.value().endswith(b"\r\n\r\nbody")
    assert not clock.getDelayedCalls()


def test_expectContinueLostCancelsTimer() -> None:
    clock = Clock()
    c = Connected(clock)
    results, _ = c.request(b"POST", body=BytesProducer(b"body"), headers=expecting())
    c.lose()
    assert not clock.getDelayedCalls()
    assert results[0].check(ResponseNeverReceived)


def test_abort() -> None:
    c = Connected()
    results, _ = c.request()
    done = c.protocol.abort()
    fired: list[Any] = []
    done.addBoth(fired.append)
    assert c.transport.aborted
    c.lose()
    assert fired == [None]
    assert results[0].check(ResponseFailed)


@settings(max_examples=200, deadline=None)
@given(
    data=st.lists(st.binary(max_size=64), max_size=8),
    prefix=st.sampled_from(
        [
            b"",
            b"HTTP/1.1 200 OK\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
        ]
    ),
    method=st.sampled_from([b"GET", b"HEAD"]),
)
def test_randomResponsesNeverRaise(
    data: list[bytes], prefix: bytes, method: bytes
) -> None:
    """
    Whatever a server sends, the protocol either delivers a response or
    fails the request; nothing raises out of ``dataReceived``, and every
    outcome is reported exactly once.
    """
    c = Connected()
    results, _ = c.request(method)
    collector = BodyCollector()
    for piece in [prefix, *data]:
        c.protocol.dataReceived(piece)
        if results and isinstance(results[0], Response) and collector.transport is None:
            results[0].deliverBody(collector)
    c.lose()
    assert len(results) == 1
    if isinstance(results[0], Response):
        assert collector.reason is not None
    else:
        assert results[0].check(ResponseFailed)


def test_readBodyRefusesAnnouncedLength() -> None:
    from torsion.web.client import ResponseTooLarge, readBody

    for length, ok in ((10, True), (11, False)):
        c = Connected()
        results, _ = c.request()
        c.protocol.dataReceived(
            b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % length
        )
        body: list[Any] = []
        readBody(results[0], maxSize=10).addBoth(body.append)
        if ok:
            assert body == []
            c.protocol.dataReceived(b"x" * length)
            assert body == [b"x" * length]
        else:
            assert body[0].check(ResponseTooLarge)
            assert c.transport.aborted


def test_readBodyMaxSizeBoundary() -> None:
    from torsion.web.client import ResponseTooLarge, readBody

    for size, ok in ((10, True), (11, False)):
        c = Connected()
        results, _ = c.request()
        c.protocol.dataReceived(
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            + b"%x\r\n" % size
            + b"y" * size
            + b"\r\n"
        )
        body: list[Any] = []
        readBody(results[0], maxSize=10).addBoth(body.append)
        c.protocol.dataReceived(b"0\r\n\r\n")
        if ok:
            assert body == [b"y" * size]
        else:
            assert body[0].check(ResponseTooLarge)
            assert c.transport.aborted
