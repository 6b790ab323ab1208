"""
Tests for ``torsion.web.testing``: ``DummyRequest`` behaves like a request
a resource can rely on, and ``render`` delivers results like the server.
"""

from __future__ import annotations

from typing import Any

import pytest
from zope.interface import Interface, implementer
from zope.interface.verify import verifyObject

from torsion.internet.address import IPv4Address
from torsion.internet.error import ConnectionDone
from torsion.python.components import registerAdapter
from torsion.web.iweb import IRequest, ISession
from torsion.web.resource import NOT_DONE_YET, Resource
from torsion.web.testing import DummyRequest, DummySession, render


def test_verifyObject() -> None:
    verifyObject(IRequest, DummyRequest([]))
    verifyObject(ISession, DummySession())


def test_defaults() -> None:
    request = DummyRequest([b"a", b"b"])
    assert request.method == b"GET"
    assert request.uri == b"/a/b"
    assert request.path == b"/a/b"
    assert request.prepath == []
    assert request.postpath == [b"a", b"b"]
    assert request.code == 200
    assert request.args == {}
    assert request.content.read() == b""
    assert request.getClientAddress() == IPv4Address("TCP", "127.0.0.1", 12345)
    assert request.isSecure() is False
    assert request.finished == 0


def test_postpathMustBeList() -> None:
    with pytest.raises(TypeError):
        DummyRequest(b"/a")  # type: ignore[arg-type]


def test_setQuery() -> None:
    request = DummyRequest([b"x"])
    request.setQuery(b"a=1&a=2&b=")
    assert request.uri == b"/x?a=1&a=2&b="
    assert request.args == {b"a": [b"1", b"2"], b"b": [b""]}


def test_headers() -> None:
    request = DummyRequest([])
    request.requestHeaders.addRawHeader(b"X-Thing", b"1")
    request.requestHeaders.addRawHeader(b"X-Thing", b"2")
    assert request.getHeader(b"x-thing") == b"2"
    assert request.getHeader("X-Thing") == "2"
    assert request.getHeader(b"missing") is None
    assert request.getAllHeaders() == {b"x-thing": b"2"}
    request.setHeader(b"content-type", b"text/plain")
    request.setHeader("content-type", "text/html")
    assert request.responseHeaders.getRawHeaders(b"content-type") == [b"text/html"]


def test_writeAndFinish() -> None:
    request = DummyRequest([])
    finished = request.notifyFinish()
    request.write(b"a")
    request.writeSequence([b"b", b"c"])
    assert request.written == [b"a", b"b", b"c"]
    assert request.sentLength == 3
    with pytest.raises(TypeError, match="bytes"):
        request.write("text")  # type: ignore[arg-type]
    request.finish()
    assert request.finished == 1
    assert finished.result is None
    with pytest.raises(RuntimeError):
        request.write(b"late")
    assert request.notifyFinish().result is None


def test_loseConnection() -> None:
    request = DummyRequest([])
    finished = request.notifyFinish()
    errors: list[Any] = []
    finished.addErrback(errors.append)
    request.loseConnection()
    assert errors[0].check(ConnectionDone)
    later = request.notifyFinish()
    later.addErrback(errors.append)
    assert len(errors) == 2


def test_setResponseCode() -> None:
    request = DummyRequest([])
    request.setResponseCode(404)
    assert request.code == 404
    assert request.code_message == b"Not Found"
    request.setResponseCode(299, b"Fine")
    assert request.code_message == b"Fine"
    with pytest.raises(TypeError):
        request.setResponseCode("200")  # type: ignore[arg-type]


def test_redirect() -> None:
    request = DummyRequest([])
    request.redirect(b"http://example.com/")
    assert request.code == 302
    assert request.responseHeaders.getRawHeaders(b"location") == [
        b"http://example.com/"
    ]


def test_cookies() -> None:
    request = DummyRequest([])
    request.requestHeaders.addRawHeader(b"cookie", b"a=1; b=two")
    assert request.getCookie(b"b") == b"two"
    assert request.getCookie(b"c") is None
    request.addCookie(
        b"k", b"v", path=b"/", max_age=60, secure=True, httpOnly=True, sameSite="Lax"
    )
    assert request.responseHeaders.getRawHeaders(b"set-cookie") == [
        b"k=v; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax"
    ]
    assert request.cookies == [
        b"k=v; Path=/; Max-Age=60; Secure; HttpOnly; SameSite=Lax"
    ]


def test_cookies_checked_as_over_http() -> None:
    """
    ``addCookie`` formats and refuses what a real request does.
    """
    request = DummyRequest([])
    request.addCookie("k", "v", max_age=b"60", sameSite="strict")
    assert request.cookies == [b"k=v; Max-Age=60; SameSite=Strict"]
    for bad in ({"v": "a;b"}, {"v": "a\r\nb"}, {"sameSite": "sometimes"}):
        with pytest.raises(ValueError):
            request.addCookie(**{"k": "k", "v": "v", **bad})  # type: ignore[arg-type]
    assert request.responseHeaders.getRawHeaders(b"set-cookie") == request.cookies


class ICounter(Interface):
    pass


@implementer(ICounter)
class Counter:
    def __init__(self, session: object) -> None:
        self.session = session
        self.value = 0


registerAdapter(Counter, DummySession, ICounter)


def test_session() -> None:
    request = DummyRequest([])
    session = request.getSession()
    assert request.getSession() is session
    assert isinstance(session.uid, bytes)
    counter = request.getSession(ICounter)
    counter.value += 1
    assert request.getSession(ICounter).value == 1
    expired: list[bool] = []
    session.notifyOnExpire(lambda: expired.append(True))
    session.touch()
    session.expire()
    assert expired == [True]
    assert session.touched == 1


def test_sessionGiven() -> None:
    session = DummySession()
    assert DummyRequest([], session=session).getSession() is session


def test_hostAndURLs() -> None:
    request = DummyRequest([b"a b", b"c"])
    assert request.getRequestHostname() == b"127.0.0.1"
    request.setHost(b"example.com", 8080)
    assert request.getRequestHostname() == b"example.com"
    assert request.getHost().port == 8080
    request.prepath = [b"a b", b"c"]
    assert request.prePathURL() == b"http://example.com:8080/a%20b/c"
    request.setHost(b"example.com", 443, ssl=True)
    assert request.isSecure()
    assert request.prePathURL() == b"https://example.com/a%20b/c"
    request.setSecure(False)
    assert not request.isSecure()


def test_basicAuthUserPassword() -> None:
    request = DummyRequest([])
    assert request.getUser() == b""
    request.requestHeaders.setRawHeaders(b"authorization", [b"Basic dXNlcjpwYTpzcw=="])
    assert request.getUser() == b"user"
    assert request.getPassword() == b"pa:ss"


def test_pullProducerDriven() -> None:
    request = DummyRequest([])

    class Producer:
        count = 0

        def resumeProducing(self) -> None:
            self.count += 1
            request.write(b"%d" % self.count)
            if self.count == 3:
                request.unregisterProducer()
                request.finish()

        def stopProducing(self) -> None:
            pass

    request.registerProducer(Producer(), False)
    assert request.written == [b"1", b"2", b"3"]
    assert request.finished == 1


def test_pushProducerRecorded() -> None:
    request = DummyRequest([])
    stopped: list[bool] = []

    class Producer:
        def pauseProducing(self) -> None:
            pass

        def resumeProducing(self) -> None:
            pass

        def stopProducing(self) -> None:
            stopped.append(True)

    producer = Producer()
    request.registerProducer(producer, True)
    assert request.producer is producer
    assert request.streamingProducer is True
    with pytest.raises(RuntimeError):
        request.registerProducer(producer, True)
    request.loseConnection()
    assert stopped == [True]


def test_processingFailed() -> None:
    from torsion.python.failure import Failure

    request = DummyRequest([])
    request.processingFailed(Failure(ValueError("x")))
    assert request.code == 500
    assert request.finished == 1
    assert request.failures[0].check(ValueError)


async def test_renderBytes() -> None:
    class R(Resource):
        def render_GET(self, request: IRequest) -> bytes:
            return b"body"

    request = DummyRequest([])
    assert await render(R(), request) == b"body"
    assert request.responseHeaders.getRawHeaders(b"content-length") == [b"4"]


async def test_renderException() -> None:
    class R(Resource):
        def render_GET(self, request: IRequest) -> bytes:
            raise KeyError("nope")

    request = DummyRequest([])
    await render(R(), request)
    assert request.code == 500
    assert request.failures[0].check(KeyError)


async def test_renderNotDoneYet() -> None:
    class R(Resource):
        def render_GET(self, request: IRequest) -> Any:
            return NOT_DONE_YET

    request = DummyRequest([])
    d = render(R(), request)
    request.write(b"x")
    request.finish()
    assert await d == b"x"


def test_URLPath() -> None:
    from torsion.python.urlpath import URLPath

    request = DummyRequest([b"a", b"b"])
    request.setHost(b"example.com", 80)
    request.prepath = [b"a"]
    url = request.URLPath()
    assert isinstance(url, URLPath)
    assert str(url) == "http://example.com/a"
    assert str(url.child(b"c")) == "http://example.com/a/c"


def test_conditionalRequests() -> None:
    from torsion.web.http import CACHED

    request = DummyRequest([])
    assert request.setLastModified(1000) is None
    assert request.responseHeaders.getRawHeaders(b"last-modified") == [
        b"Thu, 01 Jan 1970 00:16:40 GMT"
    ]
    request = DummyRequest([])
    request.requestHeaders.setRawHeaders(
        b"if-modified-since", [b"Thu, 01 Jan 1970 00:16:40 GMT"]
    )
    assert request.setLastModified(1000) is CACHED
    assert request.code == 304
    request = DummyRequest([])
    request.requestHeaders.setRawHeaders(b"if-none-match", [b'"x", "v1"'])
    assert request.setETag(b'"v1"') is CACHED
    assert request.code == 304
    request = DummyRequest([])
    request.method = b"PUT"
    request.requestHeaders.setRawHeaders(b"if-none-match", [b"*"])
    assert request.setETag(b'"v1"') is CACHED
    assert request.code == 412
    assert DummyRequest([]).setETag(b'"v1"') is None
