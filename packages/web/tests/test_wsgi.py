"""
Tests for ``torsion.web.wsgi.WSGIResource`` with in-memory requests
(``torsion.web.testing.DummyRequest``); the application runs in the
reactor's real thread pool.  ``test_wsgi_flask`` runs a Flask application
over real sockets.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from io import BytesIO
from typing import Any

import pytest
from webhelpers import inThread
from zope.interface.verify import verifyObject

from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IPushProducer
from torsion.trial.unittest import TestCase
from torsion.web.iweb import IResource
from torsion.web.resource import NOT_DONE_YET
from torsion.web.testing import DummyRequest
from torsion.web.wsgi import WSGIResource

App = Callable[[dict[str, Any], Any], Any]


def makeRequest(
    path: bytes = b"/",
    prepath: list[bytes] | None = None,
    method: bytes = b"GET",
    body: bytes = b"",
    headers: dict[bytes, list[bytes]] | None = None,
    query: bytes = b"",
) -> DummyRequest:
    postpath = path.lstrip(b"/").split(b"/") if path != b"/" else []
    request = DummyRequest(postpath)
    request.prepath = list(prepath or [])
    request.postpath = postpath
    request.path = b"/" + b"/".join(request.prepath + postpath)
    request.uri = request.path
    if query:
        request.setQuery(query)
    request.method = method
    request.content = BytesIO(body)
    for name, values in (headers or {}).items():
        request.requestHeaders.setRawHeaders(name, values)
    return request


async def render(reactor: Any, app: App, request: DummyRequest) -> DummyRequest:
    """
    Render ``request`` through ``app`` and wait for the response to end
    (finished, or the connection dropped).
    """
    resource = WSGIResource(reactor, reactor.getThreadPool(), app)
    done = request.notifyFinish()
    assert resource.render(request) is NOT_DONE_YET
    try:
        await done
    except Exception:
        pass
    return request


def body(request: DummyRequest) -> bytes:
    return b"".join(request.written)


def hello(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
    startResponse("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_interfaces(reactor: Any) -> None:
    """
    ``WSGIResource`` is an ``IResource`` leaf that refuses children.
    """
    resource = WSGIResource(reactor, reactor.getThreadPool(), hello)
    assert verifyObject(IResource, resource)
    assert resource.isLeaf is True
    with pytest.raises(RuntimeError):
        resource.putChild(b"x", resource)
    with pytest.raises(RuntimeError):
        resource.getChildWithDefault(b"x", makeRequest())


async def test_producerInterface(reactor: Any) -> None:
    """
    Once the head is sent, the application's response is registered with
    the request as a streaming ``IPushProducer`` (not before: registering
    sends the head), and unregistered at the end.
    """
    seen: list[Any] = []
    request = makeRequest()

    def app(environ: dict[str, Any], startResponse: Any) -> Iterator[bytes]:
        seen.append(request.producer)
        startResponse("200 OK", [])
        yield b"a"
        seen.append((request.producer, request.streamingProducer))
        yield b"b"

    await render(reactor, app, request)
    assert request.producer is None
    assert seen[0] is None
    producer, streaming = seen[1]
    assert streaming is True
    assert verifyObject(IPushProducer, producer)


async def test_simpleResponse(reactor: Any) -> None:
    """
    The status, headers and body the application gives are the response;
    a single-chunk body gets a ``Content-Length``.
    """
    request = await render(reactor, hello, makeRequest())
    assert request.code == 200
    assert request.code_message == b"OK"
    assert request.responseHeaders.getRawHeaders(b"content-type") == [b"text/plain"]
    assert request.responseHeaders.getRawHeaders(b"content-length") == [b"5"]
    assert body(request) == b"hello"
    assert request.finished == 1


async def test_statusReason(reactor: Any) -> None:
    """
    Any three-digit status and reason phrase is passed on.
    """

    def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
        startResponse("418 I'm a teapot", [])
        return [b""]

    request = await render(reactor, app, makeRequest())
    assert request.code == 418
    assert request.code_message == b"I'm a teapot"
    assert body(request) == b""


def captureEnviron(
    into: list[dict[str, Any]], read: Callable[[Any], Any] | None = None
) -> App:
    def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
        captured = dict(environ)
        if read is not None:
            captured["read"] = read(environ["wsgi.input"])
        into.append(captured)
        startResponse("200 OK", [])
        return [b"ok"]

    return app


async def test_environBasics(reactor: Any) -> None:
    """
    The environ holds the CGI-style variables and the ``wsgi.*`` keys PEP
    3333 requires, all text as ``str``.
    """
    environs: list[dict[str, Any]] = []
    request = makeRequest(
        b"/b/c",
        prepath=[b"a"],
        method=b"POST",
        body=b"x=1",
        query=b"q=1&r=%20",
        headers={
            b"content-type": [b"application/x-www-form-urlencoded"],
            b"content-length": [b"3"],
            b"x-custom": [b"one", b"two"],
            b"user-agent": [b"caf\xe9"],
        },
    )
    request.setHost(b"example.com", 8080)
    await render(reactor, captureEnviron(environs), request)
    environ = environs[0]
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["SCRIPT_NAME"] == "/a"
    assert environ["PATH_INFO"] == "/b/c"
    assert environ["QUERY_STRING"] == "q=1&r=%20"
    assert environ["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert environ["CONTENT_LENGTH"] == "3"
    assert environ["SERVER_NAME"] == "example.com"
    assert environ["SERVER_PORT"] == "8080"
    assert environ["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["HTTP_X_CUSTOM"] == "one,two"
    # PEP 3333: header bytes are decoded as ISO-8859-1.
    assert environ["HTTP_USER_AGENT"] == "caf\xe9"
    assert "HTTP_CONTENT_TYPE" not in environ
    assert "HTTP_CONTENT_LENGTH" not in environ
    assert environ["wsgi.version"] == (1, 0)
    assert environ["wsgi.url_scheme"] == "http"
    assert environ["wsgi.multithread"] is True
    assert environ["wsgi.multiprocess"] is False
    assert environ["wsgi.run_once"] is False
    for key, value in environ.items():
        if key.isupper():
            assert type(value) is str, key


async def test_environEmptyPaths(reactor: Any) -> None:
    """
    At the root with no query, ``SCRIPT_NAME``, ``PATH_INFO``,
    ``QUERY_STRING``, ``CONTENT_TYPE`` and ``CONTENT_LENGTH`` are empty.
    """
    environs: list[dict[str, Any]] = []
    await render(reactor, captureEnviron(environs), makeRequest(b"/"))
    environ = environs[0]
    for key in (
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
    ):
        assert environ[key] == "", key


async def test_environTrailingSlash(reactor: Any) -> None:
    """
    A trailing slash below the resource is kept in ``PATH_INFO``.
    """
    environs: list[dict[str, Any]] = []
    await render(
        reactor, captureEnviron(environs), makeRequest(b"/x/", prepath=[b"app"])
    )
    assert environs[0]["SCRIPT_NAME"] == "/app"
    assert environs[0]["PATH_INFO"] == "/x/"


async def test_environHTTPS(reactor: Any) -> None:
    """
    Over TLS, ``wsgi.url_scheme`` is ``https`` and ``HTTPS`` is ``on``.
    """
    environs: list[dict[str, Any]] = []
    request = makeRequest()
    request.setHost(b"example.com", 443, ssl=True)
    await render(reactor, captureEnviron(environs), request)
    assert environs[0]["wsgi.url_scheme"] == "https"
    assert environs[0]["HTTPS"] == "on"
    assert environs[0]["SERVER_PORT"] == "443"


async def test_HTTP_18_underscoreAndProxyHeadersDropped(reactor: Any) -> None:
    """
    A header whose name has ``_`` is not passed on: it would otherwise be
    indistinguishable from (and could forge) the same name spelt with
    ``-``; nor is ``Proxy`` (httpoxy: ``HTTP_PROXY`` must never come from
    a request).
    """
    environs: list[dict[str, Any]] = []
    request = makeRequest(
        headers={
            b"x_forwarded_for": [b"6.6.6.6"],
            b"x-real": [b"1"],
            b"proxy": [b"evil.example:8080"],
        }
    )
    await render(reactor, captureEnviron(environs), request)
    assert "HTTP_X_FORWARDED_FOR" not in environs[0]
    assert "HTTP_PROXY" not in environs[0]
    assert environs[0]["HTTP_X_REAL"] == "1"


async def test_inputRead(reactor: Any) -> None:
    """
    ``wsgi.input.read`` reads the body, in parts or whole.
    """
    environs: list[dict[str, Any]] = []

    def read(stream: Any) -> Any:
        return [stream.read(3), stream.read(), stream.read(5), stream.read(None)]

    request = makeRequest(method=b"POST", body=b"abcdefgh")
    # The body may have been read (and not rewound) by someone else.
    request.content.read()
    await render(reactor, captureEnviron(environs, read), request)
    assert environs[0]["read"] == [b"abc", b"defgh", b"", b""]


async def test_inputReadline(reactor: Any) -> None:
    """
    ``wsgi.input.readline`` honours its size argument; ``readlines`` and
    iteration give the lines.
    """
    environs: list[dict[str, Any]] = []

    def read(stream: Any) -> Any:
        first = stream.readline(2)
        rest = stream.readline()
        lines = stream.readlines()
        return [first, rest, lines, stream.readline(), list(stream)]

    await render(
        reactor,
        captureEnviron(environs, read),
        makeRequest(method=b"POST", body=b"line1\nline2\nline3\n"),
    )
    assert environs[0]["read"] == [b"li", b"ne1\n", [b"line2\n", b"line3\n"], b"", []]


async def test_inputIteration(reactor: Any) -> None:
    """
    Iterating ``wsgi.input`` gives its lines; ``readlines(hint)`` stops
    after the line that reaches the hint.
    """
    environs: list[dict[str, Any]] = []

    def read(stream: Any) -> Any:
        return [stream.readlines(3), list(stream)]

    await render(
        reactor,
        captureEnviron(environs, read),
        makeRequest(method=b"POST", body=b"aaaa\nbb\ncc"),
    )
    assert environs[0]["read"] == [[b"aaaa\n"], [b"bb\n", b"cc"]]


async def test_noContent(reactor: Any) -> None:
    """
    A request without a body object reads as empty.
    """
    environs: list[dict[str, Any]] = []

    def read(stream: Any) -> Any:
        return [stream.read(), stream.readline(), stream.readlines()]

    request = makeRequest()
    request.content = None
    await render(reactor, captureEnviron(environs, read), request)
    assert environs[0]["read"] == [b"", b"", []]


async def test_runsInThread(reactor: Any) -> None:
    """
    The application runs outside the reactor thread.
    """
    threadsSeen: list[threading.Thread] = []

    def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
        threadsSeen.append(threading.current_thread())
        startResponse("200 OK", [])
        return [b""]

    await render(reactor, app, makeRequest())
    assert threadsSeen[0] is not threading.current_thread()


async def test_streamedBody(reactor: Any) -> None:
    """
    Each chunk of an iterable body is written in order; an empty chunk
    writes nothing; no ``Content-Length`` is invented.
    """

    def app(environ: dict[str, Any], startResponse: Any) -> Iterator[bytes]:
        startResponse("200 OK", [("X-A", "1")])
        yield b"one"
        yield b""
        yield b"two"

    request = await render(reactor, app, makeRequest())
    assert request.written == [b"one", b"two"]
    assert not request.responseHeaders.hasHeader(b"content-length")
    assert request.responseHeaders.getRawHeaders(b"x-a") == [b"1"]


async def test_writeCallable(reactor: Any) -> None:
    """
    The ``write`` callable ``start_response`` returns sends body bytes
    before the returned iterable's.
    """

    def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
        write = startResponse("200 OK", [])
        write(b"first ")
        write(b"")
        return [b"second"]

    request = await render(reactor, app, makeRequest())
    assert body(request) == b"first second"


async def test_applicationContentLengthKept(reactor: Any) -> None:
    """
    A ``Content-Length`` the application gives is not duplicated.
    """

    def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
        startResponse("200 OK", [("content-length", "2")])
        return [b"hi"]

    request = await render(reactor, app, makeRequest())
    assert request.responseHeaders.getRawHeaders(b"content-length") == [b"2"]


async def test_closeCalled(reactor: Any) -> None:
    """
    The iterable's ``close`` is called once the body is sent.
    """
    events: list[str] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            events.append("iter")
            yield b"x"

        def close(self) -> None:
            events.append("close")

    def app(environ: dict[str, Any], startResponse: Any) -> Body:
        startResponse("200 OK", [])
        return Body()

    request = await render(reactor, app, makeRequest())
    assert body(request) == b"x"
    assert events == ["iter", "close"]


async def test_excInfoBeforeHead(reactor: Any) -> None:
    """
    ``start_response`` called again with ``exc_info`` before any body was
    sent replaces the status and headers.
    """

    def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
        startResponse("200 OK", [("X-First", "1")])
        try:
            raise ValueError("oops")
        except ValueError:
            startResponse("503 Busy", [("X-Second", "2")], sys.exc_info())
        return [b"busy"]

    request = await render(reactor, app, makeRequest())
    assert request.code == 503
    assert not request.responseHeaders.hasHeader(b"x-first")
    assert request.responseHeaders.getRawHeaders(b"x-second") == [b"2"]
    assert body(request) == b"busy"


async def test_emptyChunkKeepsHeadOpen(reactor: Any) -> None:
    """
    An empty first chunk does not send the head, so an error handler may
    still replace the status.
    """

    def app(environ: dict[str, Any], startResponse: Any) -> Iterator[bytes]:
        startResponse("200 OK", [])
        yield b""
        try:
            raise KeyError("late")
        except KeyError:
            startResponse("500 Oops", [], sys.exc_info())
        yield b"sorry"

    request = await render(reactor, app, makeRequest())
    assert request.code == 500
    assert body(request) == b"sorry"


async def test_headRequest(reactor: Any) -> None:
    """
    The method is passed on as is; the application's response is used for
    ``HEAD`` too (the server leaves the body out).
    """
    environs: list[dict[str, Any]] = []
    request = makeRequest(method=b"HEAD")
    await render(reactor, captureEnviron(environs), request)
    assert environs[0]["REQUEST_METHOD"] == "HEAD"
    assert request.finished == 1


async def test_backPressure(reactor: Any) -> None:
    """
    While the request's consumer is paused, the application's thread waits
    in its write; it goes on once resumed.
    """
    produced: list[int] = []
    pausedWhenAsked: list[bool] = []
    firstWrite: Deferred[None] = Deferred()
    request = makeRequest()
    original = request.registerProducer

    def registerProducer(producer: Any, streaming: bool) -> None:
        original(producer, streaming)
        # The client's buffer is full after the first chunk: a transport
        # pauses a producer registered while its buffer is full.
        producer.pauseProducing()
        reactor.callLater(0, firstWrite.callback, None)

    request.registerProducer = registerProducer  # type: ignore[method-assign]

    def app(environ: dict[str, Any], startResponse: Any) -> Iterator[bytes]:
        startResponse("200 OK", [])
        for i in range(3):
            if produced:
                pausedWhenAsked.append(request.producer.paused)
            produced.append(i)
            yield b"%d" % i

    resource = WSGIResource(reactor, reactor.getThreadPool(), app)
    done = request.notifyFinish()
    resource.render(request)
    await firstWrite
    assert produced == [0]
    assert request.written == [b"0"]
    request.producer.resumeProducing()
    await done
    assert request.written == [b"0", b"1", b"2"]
    assert pausedWhenAsked == [False, False]


async def test_clientGoneWhilePaused(reactor: Any) -> None:
    """
    If the client goes away while the application waits to write, the
    write fails in the application, which stops; ``close`` is still
    called.
    """
    closed: Deferred[None] = Deferred()
    produced: list[int] = []
    request = makeRequest()
    original = request.registerProducer

    def registerProducer(producer: Any, streaming: bool) -> None:
        original(producer, streaming)
        producer.pauseProducing()
        reactor.callLater(0, request.loseConnection)

    request.registerProducer = registerProducer  # type: ignore[method-assign]

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            for i in range(1000):
                produced.append(i)
                yield b"x"

        def close(self) -> None:
            reactor.callFromThread(closed.callback, None)

    def app(environ: dict[str, Any], startResponse: Any) -> Body:
        startResponse("200 OK", [])
        return Body()

    resource = WSGIResource(reactor, reactor.getThreadPool(), app)
    resource.render(request)
    await closed
    assert produced == [0]
    assert request.written == [b"x"]
    assert request.finished == 0


async def test_clientGoneBeforeStart(reactor: Any) -> None:
    """
    If the client left before the application's first write, nothing is
    written and the application's iterable is closed.
    """
    closed: Deferred[None] = Deferred()
    request = makeRequest()
    request.loseConnection()

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"never"

        def close(self) -> None:
            reactor.callFromThread(closed.callback, None)

    def app(environ: dict[str, Any], startResponse: Any) -> Body:
        startResponse("200 OK", [])
        return Body()

    WSGIResource(reactor, reactor.getThreadPool(), app).render(request)
    await closed
    assert request.written == []
    assert request.finished == 0


class ErrorTests(TestCase):
    """
    Application errors: logged, and answered with 500 before the head, or
    with a dropped connection after it.
    """

    async def renderFailing(self, app: App) -> DummyRequest:
        from torsion.internet import reactor

        return await render(reactor, app, makeRequest())

    def assertServerError(self, request: DummyRequest) -> None:
        self.assertEqual(request.code, 500)
        self.assertIn(b"Internal Server Error", body(request))
        self.assertEqual(request.finished, 1)

    async def test_exceptionBeforeHead(self) -> None:
        """
        An exception before ``start_response`` gives a 500 and is logged.
        """

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            raise ZeroDivisionError("boom")

        request = await self.renderFailing(app)
        self.assertServerError(request)
        self.assertEqual(len(self.flushLoggedErrors(ZeroDivisionError)), 1)

    async def test_exceptionInIterationBeforeHead(self) -> None:
        """
        An exception while producing the first chunk (head not sent yet)
        gives a 500, and ``close`` is called.
        """
        events: list[str] = []

        class Body:
            def __iter__(self) -> Iterator[bytes]:
                raise ValueError("bad")
                yield b""

            def close(self) -> None:
                events.append("close")

        def app(environ: dict[str, Any], startResponse: Any) -> Body:
            startResponse("200 OK", [])
            return Body()

        request = await self.renderFailing(app)
        self.assertServerError(request)
        self.assertEqual(events, ["close"])
        self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1)

    async def test_exceptionAfterHead(self) -> None:
        """
        An exception after part of the body was sent drops the connection:
        the client sees a truncated response, not a corrupted one.
        """

        def app(environ: dict[str, Any], startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", [])
            yield b"partial"
            raise RuntimeError("midway")

        request = await self.renderFailing(app)
        self.assertEqual(request.code, 200)
        self.assertEqual(body(request), b"partial")
        self.assertEqual(request.finished, 0)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    async def test_excInfoAfterHead(self) -> None:
        """
        ``start_response`` with ``exc_info`` once the head is sent re-raises
        that exception in the application (PEP 3333); the connection is
        dropped.
        """
        raised: list[BaseException] = []

        def app(environ: dict[str, Any], startResponse: Any) -> Iterator[bytes]:
            startResponse("200 OK", [])
            yield b"partial"
            try:
                raise KeyError("original")
            except KeyError:
                try:
                    startResponse("500 Oops", [], sys.exc_info())
                except KeyError as e:
                    raised.append(e)
                    raise

        request = await self.renderFailing(app)
        self.assertEqual(len(raised), 1)
        self.assertEqual(body(request), b"partial")
        self.assertEqual(request.finished, 0)
        self.assertEqual(len(self.flushLoggedErrors(KeyError)), 1)

    async def test_startResponseTwice(self) -> None:
        """
        A second ``start_response`` without ``exc_info`` is an error.
        """

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            startResponse("200 OK", [])
            startResponse("201 Created", [])
            return [b""]

        request = await self.renderFailing(app)
        self.assertServerError(request)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    async def test_noStartResponse(self) -> None:
        """
        Returning without calling ``start_response`` is an error.
        """

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            return []

        request = await self.renderFailing(app)
        self.assertServerError(request)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    async def test_writeBeforeStartResponse(self) -> None:
        """
        Returning body bytes without a status is an error.
        """

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            return [b"x"]

        request = await self.renderFailing(app)
        self.assertServerError(request)
        self.assertEqual(len(self.flushLoggedErrors(RuntimeError)), 1)

    async def test_closeRaises(self) -> None:
        """
        An exception from the iterable's ``close`` after the body was sent
        is logged and the connection dropped (the response may be
        incomplete).
        """

        class Body:
            def __iter__(self) -> Iterator[bytes]:
                yield b"all"

            def close(self) -> None:
                raise OSError("close failed")

        def app(environ: dict[str, Any], startResponse: Any) -> Body:
            startResponse("200 OK", [])
            return Body()

        request = await self.renderFailing(app)
        self.assertEqual(body(request), b"all")
        self.assertEqual(request.finished, 0)
        self.assertEqual(len(self.flushLoggedErrors(OSError)), 1)

    async def badStartResponse(self, *args: Any) -> DummyRequest:
        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            startResponse(*args)
            return [b"never sent"]

        return await self.renderFailing(app)

    async def test_statusNotStr(self) -> None:
        """
        A ``bytes`` status is a ``TypeError`` (500).
        """
        request = await self.badStartResponse(b"200 OK", [])
        self.assertServerError(request)
        self.assertEqual(len(self.flushLoggedErrors(TypeError)), 1)

    async def test_statusMalformed(self) -> None:
        """
        Statuses that are not three digits, a space and a reason are a
        ``ValueError`` (500).
        """
        for status in (
            "200",
            "20 OK",
            "2000 OK",
            "abc OK",
            "200 OK\r\nX: y",
            "099 Low",
        ):
            request = await self.badStartResponse(status, [])
            self.assertServerError(request)
            self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1, status)

    async def test_headersNotList(self) -> None:
        """
        Headers that are not a list of ``(str, str)`` tuples are a
        ``TypeError`` (500).
        """
        for headers in (
            (("A", "b"),),
            [("A",)],
            [["A", "b"]],
            [(b"A", "b")],
            [("A", b"b")],
            [("A", 1)],
        ):
            request = await self.badStartResponse("200 OK", headers)
            self.assertServerError(request)
            self.assertEqual(len(self.flushLoggedErrors(TypeError)), 1, headers)

    async def test_headerInjection(self) -> None:
        """
        Header names that are not tokens and values containing CR, LF or
        NUL are a ``ValueError`` (500): nothing of them reaches the wire.
        """
        for headers in (
            [("X-A", "1\r\nSet-Cookie: evil=1")],
            [("X-A", "1\nB")],
            [("X-A", "1\x00")],
            [("X A", "1")],
            [("X:A", "1")],
            [("", "1")],
            [("X-A", "\u20ac")],
        ):
            request = await self.badStartResponse("200 OK", headers)
            self.assertServerError(request)
            self.assertFalse(request.responseHeaders.hasHeader(b"x-a"))
            self.assertEqual(len(self.flushLoggedErrors(ValueError)), 1, headers)

    async def test_bodyNotBytes(self) -> None:
        """
        A ``str`` body chunk is a ``TypeError``: 500 if it is the first.
        """

        def app(environ: dict[str, Any], startResponse: Any) -> list[str]:
            startResponse("200 OK", [])
            return ["text"]

        request = await self.renderFailing(app)
        self.assertServerError(request)
        self.assertEqual(len(self.flushLoggedErrors(TypeError)), 1)

    async def test_errorsStream(self) -> None:
        """
        Text written to ``wsgi.errors`` is logged as an error; ``bytes``
        there is a ``TypeError``.
        """
        from torsion.logger import globalLogPublisher

        events: list[dict[str, Any]] = []
        globalLogPublisher.addObserver(events.append)
        self.addCleanup(globalLogPublisher.removeObserver, events.append)

        def app(environ: dict[str, Any], startResponse: Any) -> list[bytes]:
            errors = environ["wsgi.errors"]
            errors.write("problem one")
            errors.writelines(["two", "three"])
            errors.flush()
            try:
                errors.write(b"bytes")
            except TypeError:
                errors.write("TypeError")
            startResponse("200 OK", [])
            return [b""]

        await self.renderFailing(app)
        texts = [
            e.get("text")
            for e in events
            if e.get("log_namespace") == "torsion.web.wsgi"
        ]
        self.assertEqual(texts, ["problem one", "two", "three", "TypeError"])


async def test_reactorStoppingReleasesThread(reactor: Any) -> None:
    """
    A write waiting on a reactor that is shutting down (and so may be
    waiting for the thread pool to empty) gives up instead of blocking the
    thread forever: the application is stopped and its iterable closed.
    """

    class StoppingReactor:
        _stopped = True
        calls: list[Any] = []

        def callFromThread(self, f: Any, *args: Any) -> None:
            # Never run: the reactor is busy stopping.
            self.calls.append(f)

    closed = threading.Event()

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            yield b"first"
            yield b"never"

        def close(self) -> None:
            closed.set()

    def app(environ: dict[str, Any], startResponse: Any) -> Body:
        startResponse("200 OK", [])
        return Body()

    stopping = StoppingReactor()
    resource = WSGIResource(stopping, reactor.getThreadPool(), app)
    resource.render(makeRequest())
    assert await inThread(closed.wait, 30)
    # The write that gave up, then the (unanswered) failure report.
    assert len(stopping.calls) == 2
