"""
Helpers for unit-testing resources without a network: ``DummyRequest``, an
in-memory request, and ``render``, which renders a resource into it::

    from torsion.web.testing import DummyRequest, render

    async def test_hello():
        request = DummyRequest([b"hello"])
        body = await render(root.getChildWithDefault(b"hello", request), request)
        assert request.code == 200
        assert body == b"hello\\n"
"""

from __future__ import annotations

import inspect
import secrets
from collections.abc import Callable
from io import BytesIO
from typing import Any
from urllib.parse import parse_qs

from zope.interface import implementer

from torsion.internet.address import IPv4Address
from torsion.internet.defer import Deferred, ensureDeferred, fail, succeed
from torsion.python import urlpath as _urlpath
from torsion.python.components import Componentized
from torsion.python.failure import Failure
from torsion.web.http import CACHED
from torsion.web.http import Request as _HTTPRequest
from torsion.web.http_headers import Headers
from torsion.web.iweb import IRequest, IResource, ISession
from torsion.web.resource import NOT_DONE_YET, UnsupportedMethod

__all__ = ["DummyRequest", "DummySession", "render"]

_STATUS_PHRASES: dict[int, bytes] = {
    200: b"OK",
    201: b"Created",
    204: b"No Content",
    206: b"Partial Content",
    301: b"Moved Permanently",
    302: b"Found",
    304: b"Not Modified",
    400: b"Bad Request",
    401: b"Unauthorized",
    403: b"Forbidden",
    404: b"Not Found",
    405: b"Method Not Allowed",
    416: b"Range Not Satisfiable",
    500: b"Internal Server Error",
}


@implementer(ISession)
class DummySession(Componentized):
    """
    The in-memory session ``DummyRequest.getSession`` gives.

    :ivar uid: a random identifier, bytes.
    :ivar expired: whether ``expire`` was called.
    :ivar touched: how many times ``touch`` was called.
    """

    def __init__(self) -> None:
        """
        Make a fresh session with a random ``uid``.
        """
        Componentized.__init__(self)
        self.uid: bytes = secrets.token_hex(16).encode("ascii")
        self.expired = False
        self.touched = 0
        self._expireCallbacks: list[Callable[[], object]] = []

    def expire(self) -> None:
        """
        Mark the session expired and call the ``notifyOnExpire`` callbacks.
        """
        self.expired = True
        callbacks, self._expireCallbacks = self._expireCallbacks, []
        for callback in callbacks:
            callback()

    def touch(self) -> None:
        """
        Count a use of the session.
        """
        self.touched += 1

    def notifyOnExpire(self, callback: Any) -> None:
        """
        Call ``callback()`` when the session expires.
        """
        self._expireCallbacks.append(callback)


def _toBytes(value: bytes | str) -> bytes:
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


@implementer(IRequest)
class DummyRequest:
    """
    An ``IRequest`` kept entirely in memory, for unit tests of resources.
    It records what a resource does with it: the status (``code``), the
    response headers (``responseHeaders``), the body pieces (``written``)
    and how many times ``finish`` was called (``finished``).

    Set ``method``, ``args``, ``content``, ``requestHeaders`` or call
    ``setSecure``/``setHost`` before rendering to shape the request.

    :ivar method: the method, bytes (``b"GET"``).
    :ivar uri: the request target, bytes, made from ``postpath``.
    :ivar path: the path part of ``uri``.
    :ivar args: the query arguments, dict of bytes to list of bytes.
    :ivar prepath: the segments already traversed.
    :ivar postpath: the segments still to traverse.
    :ivar written: the body pieces written, a list of bytes.
    :ivar finished: how many times ``finish`` was called (0 or 1 normally).
    :ivar failures: the ``Failure`` objects given to ``processingFailed``.
    :ivar producer: the producer registered with ``registerProducer``.
    """

    clientproto: bytes = b"HTTP/1.1"
    code_message: bytes = b"OK"
    site: Any = None

    def __init__(
        self,
        postpath: list[bytes],
        session: ISession | None = None,
        client: Any = None,
    ) -> None:
        """
        :param postpath: the path segments to traverse, for example
            ``[b"a", b"b"]`` for ``/a/b``.
        :param session: the session ``getSession`` returns; by default a
            ``DummySession`` is made on first use.
        :param client: the client address ``getClientAddress`` returns; by
            default ``IPv4Address("TCP", "127.0.0.1", 12345)``.
        """
        if not isinstance(postpath, list):
            raise TypeError(
                f"DummyRequest needs a list of bytes segments, not {postpath!r}"
            )
        self.method: bytes = b"GET"
        self.prepath: list[bytes] = []
        self.postpath: list[bytes] = list(postpath)
        self.path: bytes = b"/" + b"/".join(postpath)
        self.uri: bytes = self.path
        self.args: dict[bytes, list[bytes]] = {}
        self.requestHeaders = Headers()
        self.responseHeaders = Headers()
        self.content: Any = BytesIO()
        self.code: int = 200
        self.sentLength = 0
        self.written: list[bytes] = []
        self.finished = 0
        self.failures: list[Failure] = []
        self.cookies: list[bytes] = []
        self.producer: Any = None
        self.streamingProducer: bool | None = None
        self.session: ISession | None = session
        self.lastModified: float | None = None
        self.etag: bytes | None = None
        self._secure = False
        self._host = IPv4Address("TCP", "127.0.0.1", 80)
        self._client = (
            client if client is not None else IPv4Address("TCP", "127.0.0.1", 12345)
        )
        self._finishedDeferreds: list[Deferred[None]] = []
        self._lost: Failure | None = None
        self._pullProducing = False

    def __repr__(self) -> str:
        return f"<DummyRequest {self.method!r} {self.uri!r} code={self.code}>"

    # -- request side -----------------------------------------------------

    def setQuery(self, query: bytes) -> None:
        """
        Set the query string (``uri`` and ``args`` are updated).

        :param query: the query, without ``?``, such as ``b"a=1&b=2"``.
        """
        self.uri = self.path + (b"?" + query if query else b"")
        self.args = dict(parse_qs(query, keep_blank_values=True))

    def getHeader(self, key: bytes | str) -> bytes | str | None:
        """
        :return: the last value of request header ``key``, in the type of
            ``key``, or ``None``.
        """
        values = self.requestHeaders.getRawHeaders(key)
        if values:
            value: bytes | str = values[-1]
            return value
        return None

    def getAllHeaders(self) -> dict[bytes, bytes]:
        """
        :return: the request headers as a dict of lower-case name to its
            last value.
        """
        return {
            name.lower(): values[-1]
            for name, values in self.requestHeaders.getAllRawHeaders()
        }

    def getCookie(self, key: bytes) -> bytes | None:
        """
        :return: the value of request cookie ``key`` (from the ``Cookie``
            request headers), or ``None``.
        """
        for header in self.requestHeaders.getRawHeaders(b"cookie", []):
            for part in header.split(b";"):
                name, sep, value = part.strip().partition(b"=")
                if sep and name == key:
                    return value
        return None

    def getClientAddress(self) -> Any:
        """
        :return: the client address given to the constructor (by default
            ``IPv4Address("TCP", "127.0.0.1", 12345)``).
        """
        return self._client

    def getHost(self) -> Any:
        """
        :return: the local address (``IPv4Address("TCP", "127.0.0.1",
            80)`` unless changed with ``setHost``).
        """
        return self._host

    def setHost(self, host: bytes | str, port: int, ssl: bool = False) -> None:
        """
        Pretend the request arrived for ``host:port`` (sets ``Host`` and the
        local address; ``ssl`` sets ``isSecure``).
        """
        hostText = host.decode("ascii") if isinstance(host, bytes) else host
        self._host = IPv4Address("TCP", hostText, port)
        self._secure = ssl
        default = 443 if ssl else 80
        value = hostText if port == default else f"{hostText}:{port}"
        self.requestHeaders.setRawHeaders(b"host", [value.encode("ascii")])

    def isSecure(self) -> bool:
        """
        :return: whether the request pretends to have arrived over TLS.
        """
        return self._secure

    def setSecure(self, secure: bool) -> None:
        """
        Set what ``isSecure`` returns.
        """
        self._secure = secure

    def getRequestHostname(self) -> bytes:
        """
        :return: the ``Host`` header without its port, else the local
            address's host.
        """
        host = self.requestHeaders.getRawHeaders(b"host")
        if host:
            value = host[-1]
            if value.startswith(b"["):
                return value[: value.find(b"]") + 1]
            return value.rsplit(b":", 1)[0] if b":" in value else value
        return str(self._host.host).encode("ascii")

    def _base(self) -> bytes:
        scheme = b"https" if self._secure else b"http"
        host = self.requestHeaders.getRawHeaders(b"host")
        if host:
            netloc = host[-1]
        else:
            port = self._host.port
            netloc = str(self._host.host).encode("ascii")
            if port != (443 if self._secure else 80):
                netloc += b":%d" % port
        return scheme + b"://" + netloc

    def prePathURL(self) -> bytes:
        """
        :return: the absolute URL up to and including ``prepath``.
        """
        from urllib.parse import quote_from_bytes

        path = b"/".join(quote_from_bytes(s, safe="").encode() for s in self.prepath)
        return self._base() + b"/" + path

    def URLPath(self) -> _urlpath.URLPath:
        """
        :return: a ``torsion.python.urlpath.URLPath`` for ``prePathURL()``.
        """
        return _urlpath.URLPath.fromRequest(self)

    def render(self, resource: IResource) -> None:
        """
        Render ``resource`` into this request, as the server's
        ``Request.render`` does (see the module's ``render`` function).
        """
        render(resource, self)

    # -- response side ----------------------------------------------------

    def setResponseCode(self, code: int, message: bytes | None = None) -> None:
        """
        Set the status code (and optionally the reason phrase).

        :raises TypeError: if ``code`` is not an int.
        """
        if not isinstance(code, int) or isinstance(code, bool):
            raise TypeError(f"setResponseCode needs an int, not {code!r}")
        self.code = code
        if message is not None:
            self.code_message = message
        else:
            self.code_message = _STATUS_PHRASES.get(code, b"Unknown Status")

    def setHeader(self, name: bytes | str, value: bytes | str) -> None:
        """
        Set response header ``name`` to ``value``.
        """
        self.responseHeaders.setRawHeaders(name, [value])

    def addCookie(
        self,
        k: bytes | str,
        v: bytes | str,
        expires: bytes | str | None = None,
        domain: bytes | str | None = None,
        path: bytes | str | None = None,
        max_age: bytes | str | int | None = None,
        comment: bytes | str | None = None,
        secure: bool | None = None,
        httpOnly: bool = False,
        sameSite: str | bytes | None = None,
    ) -> None:
        """
        Add a ``Set-Cookie`` response header (also recorded in
        ``cookies``), formatted and checked as ``torsion.web.http.Request``
        does.

        :raises ValueError: if a part contains ``;``, CR, LF or NUL, or
            ``sameSite`` is not ``"lax"``, ``"strict"`` or ``"none"``.
        """
        # The real request's formatting (it only appends to ``cookies``),
        # so that a resource sets here the header it would set over HTTP.
        _HTTPRequest.addCookie(
            self,  # type: ignore[arg-type]
            k,
            v,
            expires,
            domain,
            path,
            max_age,
            comment,
            secure,
            httpOnly,
            sameSite,
        )
        self.responseHeaders.addRawHeader(b"set-cookie", self.cookies[-1])

    def redirect(self, url: bytes | str) -> None:
        """
        Answer 302 with ``Location: url``.
        """
        self.setResponseCode(302)
        self.setHeader(b"location", url)

    def setLastModified(self, when: float) -> object:
        """
        Record ``when`` (``lastModified``) and set ``Last-Modified``.

        :return: ``torsion.web.http.CACHED`` if the request's
            ``If-Modified-Since`` is not earlier, else ``None``.
        """
        from email.utils import formatdate, parsedate_to_datetime

        when = int(when)
        if self.lastModified is None or when > self.lastModified:
            self.lastModified = when
        self.setHeader(b"last-modified", formatdate(when, usegmt=True))
        since = self.requestHeaders.getRawHeaders(b"if-modified-since")
        if since:
            try:
                stamp = parsedate_to_datetime(since[-1].decode("latin-1")).timestamp()
            except (TypeError, ValueError, IndexError):
                return None
            if stamp >= when:
                self.setResponseCode(304)
                return CACHED
        return None

    def setETag(self, etag: bytes) -> object:
        """
        Record ``etag`` and set ``ETag``.

        :return: ``torsion.web.http.CACHED`` if ``If-None-Match`` names it
            (or is ``*``), else ``None``.
        """
        self.etag = etag
        self.setHeader(b"etag", etag)
        match = self.requestHeaders.getRawHeaders(b"if-none-match")
        if match:
            tags = [t.strip() for t in b",".join(match).split(b",")]
            if etag in tags or b"*" in tags:
                if self.method in (b"GET", b"HEAD"):
                    self.setResponseCode(304)
                else:
                    self.setResponseCode(412)
                return CACHED
        return None

    def write(self, data: bytes) -> None:
        """
        Record ``data`` in ``written``.

        :raises TypeError: if ``data`` is not bytes.
        :raises RuntimeError: after ``finish``.
        """
        if not isinstance(data, bytes):
            raise TypeError(
                f"DummyRequest.write needs bytes, not {type(data).__name__}"
            )
        if self.finished:
            raise RuntimeError("DummyRequest.write called after finish")
        self.sentLength += len(data)
        self.written.append(data)

    def writeSequence(self, data: list[bytes]) -> None:
        """
        ``write`` each piece of ``data``.
        """
        for piece in data:
            self.write(piece)

    def finish(self) -> None:
        """
        End the response: ``finished`` is incremented and the
        ``notifyFinish`` Deferreds fire.
        """
        self.finished += 1
        if self.finished == 1:
            ds, self._finishedDeferreds = self._finishedDeferreds, []
            for d in ds:
                d.callback(None)

    def notifyFinish(self) -> Deferred[None]:
        """
        :return: a Deferred firing with ``None`` when ``finish`` is called,
            or failing if ``loseConnection``/``processingFailed`` ended the
            request first.
        """
        if self.finished:
            return succeed(None)
        if self._lost is not None:
            return fail(self._lost)
        d: Deferred[None] = Deferred()
        self._finishedDeferreds.append(d)
        return d

    def loseConnection(self, reason: Failure | None = None) -> None:
        """
        Pretend the client went away: pending ``notifyFinish`` Deferreds
        fail with ``reason`` (a ``ConnectionDone`` by default) and a
        registered producer is stopped.
        """
        if reason is None:
            from torsion.internet.error import ConnectionDone

            reason = Failure(ConnectionDone("the client went away"))
        self._lost = reason
        ds, self._finishedDeferreds = self._finishedDeferreds, []
        for d in ds:
            d.errback(reason)
        if self.producer is not None:
            producer, self.producer = self.producer, None
            producer.stopProducing()

    def processingFailed(self, reason: Failure) -> None:
        """
        Record ``reason`` in ``failures``, answer 500 and finish.
        """
        self.failures.append(reason)
        if not self.finished:
            self.setResponseCode(500)
            self.finish()

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Register ``producer``.  A pull producer (``streaming`` false) is
        asked for data (``resumeProducing``) over and over until it
        unregisters or the request finishes; a push producer is only
        recorded, the test drives it.

        :raises RuntimeError: if a producer is already registered.
        """
        if self.producer is not None:
            raise RuntimeError(
                f"DummyRequest already has a producer: {self.producer!r}"
            )
        self.producer = producer
        self.streamingProducer = streaming
        if not streaming and not self._pullProducing:
            self._pullProducing = True
            try:
                while self.producer is producer and not self.finished:
                    producer.resumeProducing()
            finally:
                self._pullProducing = False

    def unregisterProducer(self) -> None:
        """
        Forget the registered producer.
        """
        self.producer = None
        self.streamingProducer = None

    def getSession(
        self, sessionInterface: Any = None, forceNotSecure: bool = False
    ) -> Any:
        """
        :return: the session (a ``DummySession`` made on first use, unless
            one was given to the constructor), or its ``sessionInterface``
            component.
        """
        if self.session is None:
            self.session = DummySession()
        if sessionInterface is not None:
            return sessionInterface(self.session)
        return self.session

    def getUser(self) -> bytes:
        """
        :return: the user name of a Basic ``Authorization`` header, or
            ``b""``.
        """
        return self._basicAuth()[0]

    def getPassword(self) -> bytes:
        """
        :return: the password of a Basic ``Authorization`` header, or
            ``b""``.
        """
        return self._basicAuth()[1]

    def _basicAuth(self) -> tuple[bytes, bytes]:
        import binascii

        header = self.requestHeaders.getRawHeaders(b"authorization")
        if header:
            scheme, _, data = header[-1].partition(b" ")
            if scheme.lower() == b"basic":
                try:
                    user, _, password = binascii.a2b_base64(data.strip()).partition(
                        b":"
                    )
                except binascii.Error:
                    return b"", b""
                return user, password
        return b"", b""


def render(resource: IResource, request: DummyRequest) -> Deferred[bytes]:
    """
    Render ``resource`` into ``request`` the way the server would: a bytes
    result is written and the request finished; ``NOT_DONE_YET`` waits for
    the resource to finish; a Deferred or coroutine result is waited for,
    then written; an unsupported method gives 405 with ``Allow``; an
    exception, a failed Deferred or a result that is not bytes goes to
    ``processingFailed`` (500, recorded in ``request.failures``).

    :param resource: the resource to render (already traversed to; see
        ``torsion.web.resource.getChildForRequest``).
    :param request: the request.
    :return: a Deferred firing with the body written (all pieces joined)
        once the request is finished.
    """

    def written(_: object) -> bytes:
        return b"".join(request.written)

    def deliver(body: object) -> None:
        if request.finished:
            return
        if body is NOT_DONE_YET:
            return
        if not isinstance(body, bytes):
            request.processingFailed(
                Failure(
                    TypeError(
                        f"{resource!r} rendered {body!r}; a render method must"
                        " return bytes, NOT_DONE_YET, a Deferred or a coroutine"
                    )
                )
            )
            return
        request.setHeader(b"content-length", b"%d" % len(body))
        if request.method != b"HEAD" and body:
            request.write(body)
        request.finish()

    finished = request.notifyFinish()
    try:
        result = resource.render(request)
    except UnsupportedMethod as e:
        request.setResponseCode(405)
        request.setHeader(b"allow", b", ".join(e.allowedMethods))
        request.finish()
        return finished.addCallback(written)
    except Exception:
        request.processingFailed(Failure())
        return finished.addCallback(written)
    if isinstance(result, Deferred) or inspect.iscoroutine(result):
        d = ensureDeferred(result)

        def failed(reason: Failure) -> None:
            if not request.finished:
                request.processingFailed(reason)

        d.addCallbacks(deliver, failed)
    else:
        deliver(result)
    return finished.addCallback(written)
