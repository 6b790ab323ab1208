"""
Run a WSGI application (PEP 3333) inside a torsion web server.

``WSGIResource(reactor, threadpool, application)`` is a leaf resource: every
request that reaches it is handed to ``application`` in a thread of
``threadpool`` (usually ``reactor.getThreadPool()``), so a blocking
framework such as Flask or Django never stalls the reactor::

    from flask import Flask
    from torsion.internet import reactor
    from torsion.web.server import Site
    from torsion.web.wsgi import WSGIResource

    app = Flask(__name__)

    @app.route("/")
    def hello():
        return "hello"

    resource = WSGIResource(reactor, reactor.getThreadPool(), app)
    reactor.listenTCP(8080, Site(resource))
    reactor.run()

The path segments already traversed to reach the resource become
``SCRIPT_NAME``; the rest become ``PATH_INFO``.  Each chunk of the response
body is handed to the reactor thread, and the application's thread waits
while the client's connection is not accepting more data, so a slow client
slows the application down instead of filling memory.

Request header names containing ``_`` are not passed to the application:
``X_Forwarded_For`` and ``X-Forwarded-For`` would otherwise both become
``HTTP_X_FORWARDED_FOR`` and a client could forge one with the other.  Nor
is a ``Proxy`` header: as ``HTTP_PROXY`` it would look like the proxy
setting of the environment to code that copies the environ into
``os.environ`` ("httpoxy", CVE-2016-1000111).
"""

from __future__ import annotations

import queue
import re
from collections.abc import Callable, Iterable, Iterator
from types import TracebackType
from typing import IO, Any

from zope.interface import implementer

from torsion.internet.defer import Deferred, maybeDeferred
from torsion.internet.interfaces import IPushProducer
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web.iweb import IResource
from torsion.web.resource import NOT_DONE_YET

__all__ = ["WSGIResource"]

_log = Logger(namespace="torsion.web.wsgi")

#: ``status`` as PEP 3333 describes it: three digits, a space, a reason.
_STATUS = re.compile(r"[0-9]{3} [^\r\n\x00]*\Z")
#: RFC 9110 §5.6.2 ``token``, the only shape a header name may take.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_BAD_VALUE = re.compile(r"[\r\n\x00]")

#: How often (seconds) a thread waiting for the reactor checks whether the
#: reactor is shutting down.
_SHUTDOWN_POLL = 0.5

_ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]
_StartResponse = Callable[..., Callable[[bytes], None]]


def _latin1(value: bytes | str) -> str:
    if isinstance(value, str):
        return value
    return value.decode("iso-8859-1")


class _InputStream:
    """
    ``wsgi.input``: the request body, read from ``request.content``.

    The body has been received in full before the application runs, so
    every method returns at once.
    """

    def __init__(self, content: IO[bytes] | None) -> None:
        self._content = content

    def read(self, size: int | None = -1) -> bytes:
        """
        :param size: the most bytes to read; all that is left if negative or
            ``None``.
        :return: up to ``size`` bytes; ``b""`` at the end of the body.
        """
        if self._content is None:
            return b""
        if size is None or size < 0:
            return self._content.read()
        return self._content.read(size)

    def readline(self, size: int | None = -1) -> bytes:
        """
        :param size: the most bytes to read; unlimited if negative or
            ``None``.
        :return: one line, with its ``\\n``, or less at the end of the body.
        """
        if self._content is None:
            return b""
        if size is None or size < 0:
            return self._content.readline()
        return self._content.readline(size)

    def readlines(self, hint: int | None = -1) -> list[bytes]:
        """
        :param hint: stop once this many bytes have been read; no limit if
            negative or ``None``.
        :return: the remaining lines.
        """
        if self._content is None:
            return []
        if hint is None or hint < 0:
            return self._content.readlines()
        return self._content.readlines(hint)

    def __iter__(self) -> Iterator[bytes]:
        """
        :return: an iterator over the remaining lines.
        """
        while True:
            line = self.readline()
            if not line:
                return
            yield line


class _ErrorStream:
    """
    ``wsgi.errors``: text written here goes to the log as errors.
    """

    def write(self, text: str) -> int:
        """
        Log ``text``.

        :param text: a message (PEP 3333 requires ``str``).
        :return: the number of characters written.
        :raises TypeError: if ``text`` is not ``str``.
        """
        if not isinstance(text, str):
            raise TypeError(f"wsgi.errors takes str, not {type(text).__name__}")
        _log.error("{text}", text=text, isError=True)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        """
        Log each of ``lines``.

        :param lines: messages.
        """
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        """
        Nothing is buffered; does nothing.
        """


class _ClientGone(Exception):
    """
    The client disconnected, or the response was stopped, while the
    application was still producing its body.
    """


def _checkStatus(status: object) -> tuple[int, bytes]:
    if not isinstance(status, str):
        raise TypeError(f"WSGI status must be str, not {type(status).__name__}")
    if not _STATUS.match(status):
        raise ValueError(f"WSGI status must look like '200 OK', not {status!r}")
    code = int(status[:3])
    if code < 100:
        raise ValueError(f"WSGI status code must be at least 100: {status!r}")
    try:
        reason = status[4:].encode("iso-8859-1")
    except UnicodeEncodeError:
        raise ValueError(f"WSGI status must be ISO-8859-1 text: {status!r}")
    return code, reason


def _checkHeaders(headers: object) -> list[tuple[bytes, bytes]]:
    if not isinstance(headers, list):
        raise TypeError(
            f"WSGI response headers must be a list, not {type(headers).__name__}"
        )
    checked: list[tuple[bytes, bytes]] = []
    for header in headers:
        if not isinstance(header, tuple) or len(header) != 2:
            raise TypeError(
                f"each WSGI response header must be a (name, value) tuple: {header!r}"
            )
        name, value = header
        if not isinstance(name, str) or not isinstance(value, str):
            raise TypeError(f"WSGI header name and value must be str: {header!r}")
        if not _TOKEN.match(name):
            raise ValueError(f"invalid WSGI header name: {name!r}")
        if _BAD_VALUE.search(value):
            raise ValueError(f"WSGI header value contains CR, LF or NUL: {header!r}")
        try:
            checked.append((name.encode("ascii"), value.encode("iso-8859-1")))
        except UnicodeEncodeError:
            raise ValueError(f"WSGI header value must be ISO-8859-1 text: {header!r}")
    return checked


@implementer(IPushProducer)
class _WSGIResponse:
    """
    One request's trip through the application.

    Methods whose names start with ``_inReactor`` run in the reactor thread;
    ``run`` and the ``start_response``/``write`` callables run in the pool
    thread.
    """

    def __init__(
        self, reactor: Any, threadpool: Any, application: Any, request: Any
    ) -> None:
        self.reactor = reactor
        self.threadpool = threadpool
        self.application = application
        self.request = request
        self.environ = self._makeEnviron(request)
        self.status: tuple[int, bytes] | None = None
        self.headers: list[tuple[bytes, bytes]] = []
        self.headersSent = False
        self.registered = False
        # Set in the reactor thread, read in the pool thread; a stale read
        # costs at most one more write, which fails the same way.
        self.stopped = False
        self.paused = False
        self._resumed: Deferred[None] | None = None
        request.notifyFinish().addBoth(self._inReactorRequestDone)

    # -- the environment ---------------------------------------------------

    @staticmethod
    def _makeEnviron(request: Any) -> dict[str, Any]:
        uri: bytes = request.uri
        query = uri.partition(b"?")[2] if b"?" in uri else b""
        prepath: list[bytes] = list(request.prepath or [])
        postpath: list[bytes] = list(request.postpath or [])
        scriptName = b"/" + b"/".join(prepath) if prepath else b""
        pathInfo = b"/" + b"/".join(postpath) if postpath else b""
        host = request.getHost()
        client = request.getClientAddress()
        secure = bool(request.isSecure())
        environ: dict[str, Any] = {
            "REQUEST_METHOD": _latin1(request.method),
            "SCRIPT_NAME": _latin1(scriptName),
            "PATH_INFO": _latin1(pathInfo),
            "QUERY_STRING": _latin1(query),
            "CONTENT_TYPE": "",
            "CONTENT_LENGTH": "",
            "SERVER_NAME": _latin1(request.getRequestHostname()),
            "SERVER_PORT": str(getattr(host, "port", "") or ""),
            "SERVER_PROTOCOL": _latin1(request.clientproto),
            "REMOTE_ADDR": str(getattr(client, "host", "") or ""),
            "REMOTE_PORT": str(getattr(client, "port", "") or ""),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "https" if secure else "http",
            "wsgi.input": _InputStream(_rewound(request.content)),
            "wsgi.errors": _ErrorStream(),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        if secure:
            environ["HTTPS"] = "on"
        for name, values in request.requestHeaders.getAllRawHeaders():
            key = name.decode("ascii").upper()
            if "_" in key or key == "PROXY":
                continue
            joined = _latin1(b",".join(values))
            if key == "CONTENT-TYPE":
                environ["CONTENT_TYPE"] = joined
            elif key == "CONTENT-LENGTH":
                environ["CONTENT_LENGTH"] = joined
            else:
                environ["HTTP_" + key.replace("-", "_")] = joined
        return environ

    # -- the pool thread ---------------------------------------------------

    def start(self) -> None:
        """
        Run the application in the pool.
        """
        self.threadpool.callInThread(self.run)

    def startResponse(
        self,
        status: str,
        headers: list[tuple[str, str]],
        excInfo: _ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        """
        PEP 3333's ``start_response``.

        :param status: such as ``"200 OK"``.
        :param headers: ``(name, value)`` pairs of ``str``.
        :param excInfo: ``sys.exc_info()`` when called from an error
            handler to replace the status and headers.
        :return: the ``write`` callable.
        :raises BaseException: ``excInfo``'s exception, if the head has
            already been sent.
        :raises RuntimeError: if called twice without ``excInfo``.
        :raises TypeError: for a status or header of the wrong type.
        :raises ValueError: for a malformed status or header.
        """
        if excInfo is not None:
            try:
                if self.headersSent:
                    raise excInfo[1].with_traceback(excInfo[2])
            finally:
                # Break the frame <-> traceback cycle PEP 3333 warns of.
                excInfo = None
        elif self.status is not None:
            raise RuntimeError("start_response called a second time without exc_info")
        checkedStatus = _checkStatus(status)
        checkedHeaders = _checkHeaders(headers)
        self.status = checkedStatus
        self.headers = checkedHeaders
        return self.write

    def write(self, data: bytes) -> None:
        """
        Send ``data`` as part of the body (the head first, if not yet
        sent), waiting while the client is not reading.

        :param data: body bytes.
        :raises TypeError: if ``data`` is not ``bytes``.
        :raises RuntimeError: if ``start_response`` has not been called.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(
                f"WSGI body chunks must be bytes, not {type(data).__name__}"
            )
        if self.status is None:
            raise RuntimeError("the WSGI application wrote before start_response")
        if self.stopped:
            raise _ClientGone("the client went away")
        if not data:
            # PEP 3333: the head waits for the first non-empty chunk, so an
            # error handler may still replace it.
            return
        self._blockingCall(self._inReactorWrite, bytes(data))

    def run(self) -> None:
        """
        Call the application and send its body; runs in the pool thread.
        """
        iterable: Any = None
        try:
            iterable = self.application(self.environ, self.startResponse)
            if (
                isinstance(iterable, list | tuple)
                and len(iterable) == 1
                and self.status is not None
                and not self.headersSent
                and not any(
                    name.lower() == b"content-length" for name, _ in self.headers
                )
            ):
                # One chunk: its length is known, so the client need not
                # be sent a chunked body.
                self.headers.append((b"Content-Length", b"%d" % len(iterable[0])))
            for chunk in iterable:
                self.write(chunk)
                if self.stopped:
                    break
            if self.status is None:
                raise RuntimeError(
                    "the WSGI application returned without calling start_response"
                )
        except BaseException:
            failure = Failure()
            self._close(iterable)
            self._callInReactor(self._inReactorFail, failure)
            return
        if not self._close(iterable):
            return
        self._callInReactor(self._inReactorFinish)

    def _close(self, iterable: Any) -> bool:
        close = getattr(iterable, "close", None)
        if close is None:
            return True
        try:
            close()
        except BaseException:
            self._callInReactor(self._inReactorFail, Failure())
            return False
        return True

    def _callInReactor(self, f: Callable[..., Any], *args: Any) -> None:
        # The last calls of a response need no answer: waiting for one
        # could dead-lock with a reactor that is stopping its thread pool.
        self.reactor.callFromThread(f, *args)

    def _blockingCall(self, f: Callable[..., Any], *args: Any) -> Any:
        """
        Run ``f`` in the reactor thread and wait for its (possibly
        deferred) result, like ``blockingCallFromThread``; but give up once
        the reactor is shutting down and has not answered for
        ``_SHUTDOWN_POLL`` seconds, since it may be waiting for this very
        thread to end.
        """
        results: queue.SimpleQueue[Any] = queue.SimpleQueue()

        def inReactor() -> None:
            maybeDeferred(f, *args).addBoth(results.put)

        self.reactor.callFromThread(inReactor)
        while True:
            try:
                result = results.get(timeout=_SHUTDOWN_POLL)
            except queue.Empty:
                if getattr(self.reactor, "_stopped", False):
                    self.stopped = True
                    raise _ClientGone("the server is shutting down") from None
                continue
            if isinstance(result, Failure):
                result.raiseException()
            return result

    # -- the reactor thread ------------------------------------------------

    def _inReactorSendHead(self) -> None:
        assert self.status is not None
        self.headersSent = True
        code, reason = self.status
        request = self.request
        request.setResponseCode(code, reason)
        for name, value in self.headers:
            request.responseHeaders.addRawHeader(name, value)

    def _inReactorWrite(self, data: bytes) -> Deferred[None] | None:
        if self.stopped:
            raise _ClientGone("the client went away")
        first = not self.headersSent
        if first:
            self._inReactorSendHead()
        if data:
            self.request.write(data)
        if first and not self.stopped:
            # From now on the client's pace decides when the application
            # may write again.  Registering only after the first write keeps
            # the head and the first chunk in one segment (registering
            # first would send the head alone, and Nagle's algorithm would
            # then hold the body back until the client's delayed ACK).
            self.request.registerProducer(self, True)
            self.registered = True
        if self.paused and not self.stopped:
            self._resumed = Deferred()
            return self._resumed
        return None

    def _inReactorFinish(self) -> None:
        if self.stopped:
            return
        if not self.headersSent:
            self._inReactorSendHead()
        self.stopped = True
        self._unregister()
        self.request.finish()

    def _inReactorFail(self, failure: Failure) -> None:
        if failure.check(_ClientGone):
            return
        _log.failure(
            "WSGI application error on {uri}",
            failure,
            uri=_latin1(getattr(self.request, "uri", b"")),
        )
        if self.stopped:
            return
        self.stopped = True
        self._unregister()
        if self.headersSent:
            # Part of the response is already on its way: the only honest
            # thing left is to cut it short.
            _loseConnection(self.request)
            return
        body = b"<html><head><title>500 Internal Server Error</title></head>"
        body += b"<body><h1>Internal Server Error</h1></body></html>"
        request = self.request
        request.setResponseCode(500, b"Internal Server Error")
        request.responseHeaders.setRawHeaders(b"content-type", [b"text/html"])
        request.responseHeaders.setRawHeaders(b"content-length", [b"%d" % len(body)])
        request.write(body)
        request.finish()

    def _unregister(self) -> None:
        if self.registered:
            self.registered = False
            self.request.unregisterProducer()

    def _inReactorRequestDone(self, result: object) -> None:
        # Finished normally or the connection was lost: either way no more
        # body may be written, and a waiting writer must be released.
        self.stopped = True
        self._release()

    def _release(self) -> None:
        resumed, self._resumed = self._resumed, None
        if resumed is not None:
            if self.stopped:
                resumed.errback(_ClientGone("the client went away"))
            else:
                resumed.callback(None)

    # -- IPushProducer, called by the request in the reactor thread ----------

    def pauseProducing(self) -> None:
        """
        The client is not reading: hold the application's next write.
        """
        self.paused = True

    def resumeProducing(self) -> None:
        """
        The client is reading again: let the application go on.
        """
        self.paused = False
        self._release()

    def stopProducing(self) -> None:
        """
        The response will not be sent: make the application's next write
        fail so that it stops.
        """
        self.stopped = True
        self._release()


def _rewound(content: Any) -> Any:
    if content is not None and hasattr(content, "seek"):
        try:
            content.seek(0)
        except (OSError, ValueError):
            pass
    return content


def _loseConnection(request: Any) -> None:
    loseConnection = getattr(request, "loseConnection", None)
    if loseConnection is not None:
        loseConnection()
        return
    transport = getattr(getattr(request, "channel", None), "transport", None)
    if transport is None:
        transport = getattr(request, "transport", None)
    if transport is not None:
        transport.loseConnection()


@implementer(IResource)
class WSGIResource:
    """
    A resource that runs a WSGI application for every request reaching it.

    It is a leaf: the path segments below it are not children but the
    application's ``PATH_INFO``.
    """

    isLeaf = True

    def __init__(self, reactor: Any, threadpool: Any, application: Any) -> None:
        """
        :param reactor: the reactor serving the requests.
        :param threadpool: the ``ThreadPool`` the application runs in
            (``reactor.getThreadPool()`` usually); it must be started.
        :param application: a WSGI application: a callable taking
            ``(environ, start_response)`` and returning an iterable of
            ``bytes``.
        """
        self._reactor = reactor
        self._threadpool = threadpool
        self._application = application

    def render(self, request: Any) -> Any:
        """
        Start running the application for ``request``.

        :param request: the request.
        :return: ``NOT_DONE_YET``: the response is finished from the pool
            thread's work.
        """
        _WSGIResponse(
            self._reactor, self._threadpool, self._application, request
        ).start()
        return NOT_DONE_YET

    def getChildWithDefault(self, name: bytes, request: Any) -> Any:
        """
        Never called: the resource is a leaf.

        :raises RuntimeError: always.
        """
        raise RuntimeError("WSGIResource is a leaf; it has no children")

    def putChild(self, path: bytes, child: Any) -> None:
        """
        Not allowed: the application handles every path below this one.

        :raises RuntimeError: always.
        """
        raise RuntimeError("WSGIResource is a leaf; it cannot have children")
