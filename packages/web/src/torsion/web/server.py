"""
The web server: ``Site`` serves a tree of resources (see
``torsion.web.resource``) over HTTP::

    from torsion.internet import reactor
    from torsion.web.resource import Resource
    from torsion.web.server import Site

    class Hello(Resource):
        isLeaf = True

        def render_GET(self, request):
            return b"hello\\n"

    reactor.listenTCP(8080, Site(Hello()))
    reactor.run()

For each request the server's ``Request`` splits the path into segments,
traverses the tree from the site's root (``getChildWithDefault`` for each
segment) and renders the resource it ends on.  A ``render`` method returns
the body as ``bytes``, ``NOT_DONE_YET`` (it will ``write`` and ``finish``
itself), a ``Deferred`` firing with the body, or a coroutine (an ``async
def`` render method).  Errors give a 500 page and a logged traceback.

Sessions (``request.getSession()``) are kept by the site, found through a
``TORSION_SESSION`` cookie (``TORSION_SECURE_SESSION`` over TLS) and expire
after ``Session.sessionTimeout`` seconds without use.
"""

from __future__ import annotations

import html
import inspect
import secrets
import zlib
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes

from zope.interface import implementer

from torsion.internet.defer import CancelledError, Deferred, ensureDeferred
from torsion.logger import Logger
from torsion.python import urlpath as _urlpath
from torsion.python.components import Componentized
from torsion.python.failure import Failure
from torsion.web import http
from torsion.web._version import __version__
from torsion.web.iweb import IRequest, IResource, ISession
from torsion.web.resource import (
    NOT_DONE_YET,
    EncodingResourceWrapper,
    UnsupportedMethod,
    getChildForRequest,
)
from torsion.web.util import formatFailure

__all__ = [
    "NOT_DONE_YET",
    "EncodingResourceWrapper",
    "GzipEncoderFactory",
    "Request",
    "Session",
    "Site",
    "UnsupportedMethod",
    "version",
]

#: The server's name and version.
version: bytes = b"torsion-web/" + __version__.encode("ascii")

_log = Logger()

_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html>\n<head><title>{code} - {brief}</title></head>\n"
    "<body>\n<h1>{brief}</h1>\n<p>{detail}</p>\n{extra}</body>\n</html>\n"
)


def _errorPage(code: int, brief: str, detail: str, extra: str = "") -> bytes:
    return _ERROR_PAGE.format(
        code=code, brief=html.escape(brief), detail=html.escape(detail), extra=extra
    ).encode("utf-8")


def _splitPath(path: bytes) -> list[bytes]:
    """
    Split a request path into percent-decoded segments; decoding is done
    per segment, so ``%2F`` stays inside its segment.
    """
    if path == b"/":
        return [b""]
    if path.startswith(b"/"):
        path = path[1:]
    if b"%" not in path:
        return path.split(b"/")
    return [unquote_to_bytes(segment) for segment in path.split(b"/")]


_plainClasses: dict[type, bool] = {}


def _plainWrites(cls: type) -> bool:
    """
    :return: whether ``cls`` writes its response as ``Request`` does (no
        override of the methods ``Request._respondWhole`` stands for), so
        the one-write path may be used.
    """
    plain = _plainClasses.get(cls)
    if plain is None:
        plain = all(
            getattr(cls, name) is getattr(Request, name)
            for name in (
                "write",
                "finish",
                "setHeader",
                "_beforeHead",
                "_sendHead",
                "_respondWhole",
                "_respondBare",
                "requestDone",
            )
            if hasattr(Request, name)
        )
        if len(_plainClasses) < 100:
            _plainClasses[cls] = plain
    return plain


# Channel classes that send a whole response through ``_writeWhole``: the
# HTTP/1.x channel, unless a subclass changes how it writes.
_wholeWriters: dict[type, bool] = {}


def _writesWhole(cls: type) -> bool:
    """
    :return: whether channels of class ``cls`` may be handed a whole
        response (``_writeWhole``).
    """
    whole = _wholeWriters.get(cls)
    if whole is None:
        base = http.HTTPChannel
        whole = issubclass(cls, base) and all(
            getattr(cls, name) is getattr(base, name)
            for name in (
                "writeHeaders",
                "write",
                "requestDone",
                "_writeWhole",
                "_writeBare",
            )
        )
        if len(_wholeWriters) < 100:
            _wholeWriters[cls] = whole
    return whole


@implementer(IRequest)
class Request(Componentized, http.Request):
    """
    A request served by a ``Site``: it traverses the site's resource tree
    and renders the resource it finds.

    :ivar site: the ``Site`` serving the request.
    :ivar prepath: the path segments traversed so far.
    :ivar postpath: the path segments not yet traversed.
    :ivar sitepath: ``prepath`` when the site was entered (for sites
        mounted below another).
    :ivar appRootURL: what ``rememberRootURL`` remembered.
    :ivar defaultContentType: the ``Content-Type`` of a response that sets
        none (``text/html``, as Twisted users expect); ``None`` for none.
    """

    defaultContentType: bytes | None = b"text/html"
    site: Any = None
    appRootURL: bytes | None = None
    _encoder: Any = None
    _encoding = False
    _renderResult: Deferred[Any] | None = None
    # Made by the first getSession (most requests have none).
    _sessions: dict[bool, Session] | None = None

    def __init__(self, channel: Any, queued: object = None) -> None:
        """
        :param channel: the channel the request arrived on.
        :param queued: ignored; accepted for compatibility.
        """
        # What ``Componentized.__init__`` does, without the call.
        self._adapterCache: dict[str, Any] = {}
        http.Request.__init__(self, channel, queued)
        self.sitepath: list[bytes] = []

    # -- processing --------------------------------------------------------

    def process(self) -> None:
        """
        Traverse the site's resource tree along the request's path and render
        what it ends on.  Any exception becomes a 500 (``processingFailed``).
        """
        self.site = self.channel.site
        self.prepath = []
        self.postpath = _splitPath(self.path)
        try:
            resrc = self.site.getResourceFor(self)
            self.render(resrc)
        except Exception:
            self.processingFailed(Failure())

    def render(self, resrc: IResource) -> None:
        """
        Render ``resrc`` and write its result: bytes are written with a
        ``Content-Length`` and the request finished (a ``HEAD`` request gets
        the headers only); ``NOT_DONE_YET`` leaves the request to the
        resource; a Deferred or coroutine is waited for (and cancelled if
        the client goes away); ``UnsupportedMethod`` answers 405 with
        ``Allow``; anything else answers 500.

        :param resrc: the resource to render.
        """
        try:
            body = resrc.render(self)
        except UnsupportedMethod as e:
            self._methodNotAllowed(e.allowedMethods)
            return
        if body is NOT_DONE_YET:
            return
        if type(body) is bytes:
            self._writeBody(body, resrc)
            return
        if isinstance(body, Deferred) or inspect.iscoroutine(body):
            d: Deferred[Any] = ensureDeferred(body)
            self._renderResult = d

            def cancelOnLoss(reason: Failure) -> None:
                if not d.called:
                    d.cancel()

            self.notifyFinish().addErrback(cancelOnLoss)

            def delivered(result: object) -> None:
                self._renderResult = None
                if result is NOT_DONE_YET:
                    return
                self._writeBody(result, resrc)

            def failed(reason: Failure) -> None:
                self._renderResult = None
                if self._disconnected and reason.check(CancelledError):
                    return
                self.processingFailed(reason)

            d.addCallbacks(delivered, failed)
            return
        self._writeBody(body, resrc)

    def _writeBody(self, body: object, resrc: object) -> None:
        if self._disconnected or self.finished:
            if type(body) is bytes and self.finished:
                _log.error(
                    "{resource!r} returned a body after finishing the request"
                    " itself (return NOT_DONE_YET after calling finish)",
                    resource=resrc,
                )
            return
        if type(body) is not bytes:
            self.processingFailed(
                Failure(
                    TypeError(
                        f"{resrc!r} rendered {body!r} (a {type(body).__name__});"
                        " a render method must return bytes, NOT_DONE_YET, a"
                        " Deferred or a coroutine"
                    )
                )
            )
            return
        if not self.startedWriting:
            raw = self.responseHeaders._raw
            bare = not raw
            raw[b"content-length"] = [b"%d" % len(body)]
            code = self.code
            if (
                self._encoder is None
                and self.method != b"HEAD"
                and code >= 200
                and code != 204
                and code != 304
                and (_plainClasses.get(type(self)) or _plainWrites(type(self)))
                and (
                    _wholeWriters.get(type(self.channel))
                    or _writesWhole(type(self.channel))
                )
            ):
                # The common case: head and body in one write, then done.
                # (An empty body is finished without a write, which sets no
                # default Content-Type.)
                contentType = self.defaultContentType
                if bare and body and contentType is not None and not self.cookies:
                    # The resource set no header: the head is known.
                    self._respondBare(body, contentType)
                    return
                if (
                    body
                    and self.defaultContentType is not None
                    and b"content-type" not in raw
                ):
                    raw[b"content-type"] = [self.defaultContentType]
                self._respondWhole(body)
                return
        if self.method == b"HEAD":
            # The headers, Content-Length included, are those GET gives;
            # the body is dropped.
            self.write(b"")
        elif body:
            self.write(body)
        self.finish()

    def _methodNotAllowed(self, allowed: Any) -> None:
        allowedText = ", ".join(m.decode("ascii", "replace") for m in allowed)
        self.setResponseCode(405)
        self.setHeader(b"allow", ", ".join(m.decode("ascii") for m in allowed))
        self.setHeader(b"content-type", b"text/html; charset=utf-8")
        method = self.method.decode("ascii", "replace")
        body = _errorPage(
            405,
            "Method Not Allowed",
            f"This resource does not answer {method}; it allows {allowedText}.",
        )
        self._writeBody(body, None)

    def processingFailed(self, reason: Failure) -> None:
        """
        Rendering failed: log the traceback and answer 500 (with the
        traceback in the page only if the site's ``displayTracebacks`` is
        set).  If the response had already started, the connection is
        closed instead, so the client sees an incomplete response.

        :param reason: the failure.
        """
        _log.failure(
            "Error rendering {method} {uri}",
            reason,
            method=self.method.decode("ascii", "replace"),
            uri=self.uri.decode("ascii", "replace"),
        )
        if self._disconnected or self.finished:
            return
        if self.startedWriting:
            self.channel.loseConnection()
            return
        extra = ""
        if self.site is not None and getattr(self.site, "displayTracebacks", False):
            extra = formatFailure(reason).decode("utf-8")
        body = _errorPage(
            500,
            "Processing Failed",
            "An error occurred while processing this request.",
            extra,
        )
        self._encoder = None
        raw = self.responseHeaders._raw
        for name in (b"content-encoding", b"transfer-encoding", b"content-range"):
            raw.pop(name, None)
        self.setResponseCode(500)
        self.setHeader(b"content-type", b"text/html; charset=utf-8")
        self.setHeader(b"content-length", b"%d" % len(body))
        if self.method != b"HEAD":
            self.write(body)
        self.finish()

    # -- writing (content encoding) ----------------------------------------

    def _beforeHead(self) -> None:
        # The last moment to change the response head.
        raw = self.responseHeaders._raw
        if (
            self.defaultContentType is not None
            and b"content-type" not in raw
            and self.code not in (204, 304)
        ):
            raw[b"content-type"] = [self.defaultContentType]
        if self._encoder is not None:
            self._startEncoding()

    def _startEncoding(self) -> None:
        raw = self.responseHeaders._raw
        if (
            b"content-encoding" in raw
            or b"content-range" in raw
            or self.code in (204, 206, 304)
            or self.code < 200
        ):
            # Already encoded (a precompressed file), a byte range of the
            # unencoded body, or no body at all.
            self._encoder = None
            return
        self._encoding = True
        raw.pop(b"content-length", None)
        self.responseHeaders.setRawHeaders(b"content-encoding", [b"gzip"])

    def write(self, data: bytes) -> None:
        """
        Write part of the response body (compressed if an encoder was
        chosen for the request).  The first write sets ``Content-Type`` to
        ``defaultContentType`` if the response has none.

        :param data: the bytes.
        :raises TypeError: if ``data`` is not bytes.
        """
        if not self.startedWriting:
            if type(data) is not bytes and not isinstance(
                data, (bytes, bytearray, memoryview)
            ):
                raise TypeError(f"Request.write takes bytes, not {type(data).__name__}")
            self._beforeHead()
        if self._encoding and not self.finished and self.method != b"HEAD":
            data = self._encoder.encode(bytes(data))
            if not data and self.startedWriting:
                return
        http.Request.write(self, data)

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        """
        Feed the response body from ``producer`` (see the base class); the
        response head is completed first, as the first ``write`` would.

        :param producer: an ``IPushProducer`` or ``IPullProducer``.
        :param streaming: whether it is a push producer.
        """
        if not self.startedWriting and not self._disconnected:
            self._beforeHead()
        http.Request.registerProducer(self, producer, streaming)

    def finish(self) -> None:
        """
        End the response (flushing the compressor, if any).
        """
        if not self.finished and not self._disconnected and self._encoder is not None:
            if not self.startedWriting and self.method != b"HEAD":
                self._startEncoding()
            if self._encoding and self.method != b"HEAD":
                tail = self._encoder.finish()
                self._encoding = False
                if tail:
                    http.Request.write(self, tail)
        http.Request.finish(self)

    # -- sessions ----------------------------------------------------------

    def getSession(
        self, sessionInterface: Any = None, forceNotSecure: bool = False
    ) -> Any:
        """
        Find the client's session through its cookie, or make one (and set
        the cookie: ``TORSION_SESSION``, or ``TORSION_SECURE_SESSION`` with
        ``Secure`` over TLS; ``HttpOnly``; ``SameSite=Lax``; path of the
        site).

        :param sessionInterface: if given, return the session's component
            for this interface instead of the session.
        :param forceNotSecure: over TLS, use the non-secure session (the one
            a plain-HTTP request of the same client sees).
        :return: the ``Session`` (or its component).
        """
        secure = self.isSecure() and not forceNotSecure
        sessions = self._sessions
        if sessions is None:
            sessions = self._sessions = {}
        session = sessions.get(secure)
        if session is None:
            cookieName = b"TORSION_SECURE_SESSION" if secure else b"TORSION_SESSION"
            uid = self.getCookie(cookieName)
            if uid:
                try:
                    session = self.site.getSession(uid)
                except KeyError:
                    session = None
            if session is None:
                session = self.site.makeSession()
                self.addCookie(
                    cookieName,
                    session.uid,
                    path=b"/"
                    + b"/".join(
                        quote_from_bytes(segment, safe="").encode("ascii")
                        for segment in self.sitepath
                    ),
                    secure=secure,
                    httpOnly=True,
                    sameSite="lax",
                )
            sessions[secure] = session
        session.touch()
        if sessionInterface is not None:
            return sessionInterface(session)
        return session

    @property
    def session(self) -> Session | None:
        """
        The session ``getSession`` found for this request (the secure one
        over TLS), or ``None`` if it was not called.
        """
        sessions = self._sessions
        if not sessions:
            return None
        return sessions.get(self.isSecure()) or sessions.get(False)

    # -- URLs --------------------------------------------------------------

    def _prePathURL(self, prepath: list[bytes]) -> bytes:
        secure = self.isSecure()
        port = getattr(self.getHost(), "port", None)
        default = 443 if secure else 80
        hostport = b"" if port in (None, default) else b":%d" % port
        prefix = (b"https://" if secure else b"http://") + (
            self.getRequestHostname() + hostport + b"/"
        )
        path = b"/".join(
            quote_from_bytes(segment, safe="").encode("ascii") for segment in prepath
        )
        return prefix + path

    def prePathURL(self) -> bytes:
        """
        :return: the absolute URL up to and including ``prepath`` (the
            segments traversed so far), percent-encoded.
        """
        return self._prePathURL(self.prepath)

    def URLPath(self) -> _urlpath.URLPath:
        """
        :return: a ``torsion.python.urlpath.URLPath`` for ``prePathURL()``.
        """
        return _urlpath.URLPath.fromRequest(self)

    def rememberRootURL(self) -> None:
        """
        Remember the URL of the resource before the current one as the
        application's root (``getRootURL``).
        """
        self.appRootURL = self._prePathURL(self.prepath[:-1])

    def getRootURL(self) -> bytes | None:
        """
        :return: what ``rememberRootURL`` remembered, or ``None``.
        """
        return self.appRootURL


@implementer(ISession)
class Session(Componentized):
    """
    Server-side state for one client, kept by the ``Site`` and found
    through a cookie.  Store things on it as components
    (``ISomething(session)`` with an adapter registered for ``Session``) or
    as attributes.

    :ivar uid: the identifier (random, bytes), the cookie's value.
    :ivar site: the site keeping the session.
    :ivar sessionTimeout: seconds without use after which the session
        expires.
    :ivar lastModified: when it was last used (``touch``), reactor time.
    """

    sessionTimeout: float = 900
    _expireCall: Any = None

    def __init__(self, site: Site, uid: bytes, reactor: Any = None) -> None:
        """
        :param site: the site keeping the session.
        :param uid: its identifier.
        :param reactor: the reactor timing its expiry; the site's by
            default.
        """
        Componentized.__init__(self)
        if reactor is None:
            reactor = getattr(site, "_reactor", None)
        if reactor is None:
            from torsion.internet import reactor as _reactor

            reactor = _reactor
        self._reactor = reactor
        self.site = site
        self.uid = uid
        self.expireCallbacks: list[Any] = []
        self.sessionNamespaces: dict[str, Any] = {}
        self.lastModified = reactor.seconds()

    def startCheckingExpiration(self) -> None:
        """
        Start the expiry timer (``Site.makeSession`` does it).
        """
        if self._expireCall is None:
            self._expireCall = self._reactor.callLater(self.sessionTimeout, self.expire)

    def notifyOnExpire(self, callback: Any) -> None:
        """
        Call ``callback()`` when the session expires.

        :param callback: a callable taking no arguments.
        """
        self.expireCallbacks.append(callback)

    def expire(self) -> None:
        """
        End the session now: the site forgets it, its timer stops and the
        ``notifyOnExpire`` callbacks are called.
        """
        if self.site.sessions.get(self.uid) is self:
            del self.site.sessions[self.uid]
        call, self._expireCall = self._expireCall, None
        if call is not None and call.active():
            call.cancel()
        callbacks, self.expireCallbacks = self.expireCallbacks, []
        for callback in callbacks:
            try:
                callback()
            except Exception:
                _log.failure("Error in a session expiry callback")

    def touch(self) -> None:
        """
        Note that the session was used: its idle timer starts again.
        """
        self.lastModified = self._reactor.seconds()
        call = self._expireCall
        if call is not None and call.active():
            call.reset(self.sessionTimeout)


@implementer(IResource)
class Site(http.HTTPFactory):
    """
    An HTTP server factory serving a resource tree.

    ``Site(resource, requestFactory=None, *args, **kwargs)``: the other
    arguments are those of ``torsion.web.http.HTTPFactory`` (``logPath``,
    ``timeout``, ``logFormatter``, ``reactor`` and the limits as keywords,
    such as ``maxRequestBody``).

    :ivar resource: the root resource.
    :ivar displayTracebacks: show tracebacks in 500 pages (for development
        only: they reveal the code); ``False`` by default.
    :ivar sessions: the live sessions, uid to ``Session``.
    :ivar sessionFactory: what ``makeSession`` builds, ``Session``.
    :ivar sessionCheckTime: kept for compatibility; each session times
        itself out after ``Session.sessionTimeout``.
    :ivar maxSessions: the most sessions kept; making one more expires the
        oldest first.
    """

    requestFactory: Any = Request
    displayTracebacks: bool = False
    sessionFactory: Any = Session
    sessionCheckTime: float = 1800
    maxSessions: int = 100_000
    isLeaf = False

    def __init__(
        self, resource: IResource, requestFactory: Any = None, *args: Any, **kwargs: Any
    ) -> None:
        """
        :param resource: the root resource.
        :param requestFactory: the request class (``Request`` by default).
        """
        super().__init__(*args, **kwargs)
        self.sessions: dict[bytes, Session] = {}
        self.resource = resource
        if requestFactory is not None:
            self.requestFactory = requestFactory

    def __repr__(self) -> str:
        return f"<{type(self).__name__} serving {self.resource!r}>"

    def _mkuid(self) -> bytes:
        return secrets.token_hex(32).encode("ascii")

    def makeSession(self) -> Session:
        """
        :return: a new session, registered and timing out.
        """
        while len(self.sessions) >= self.maxSessions:
            oldest = next(iter(self.sessions.values()))
            oldest.expire()
        uid = self._mkuid()
        session: Session = self.sessionFactory(self, uid)
        self.sessions[uid] = session
        session.startCheckingExpiration()
        return session

    def getSession(self, uid: bytes) -> Session:
        """
        :param uid: a session identifier.
        :return: the live session with that identifier.
        :raises KeyError: if there is none.
        """
        return self.sessions[uid]

    def getResourceFor(self, request: IRequest) -> IResource:
        """
        :return: the resource that renders ``request``, found by traversing
            from the root along ``request.postpath``.
        """
        request.site = self  # type: ignore[attr-defined]
        request.sitepath = request.prepath[:]  # type: ignore[attr-defined]
        return getChildForRequest(self.resource, request)

    def getChildWithDefault(self, pathEl: bytes, request: IRequest) -> IResource:
        """
        Let a site stand in a resource tree: its root's child.
        """
        request.site = self  # type: ignore[attr-defined]
        return self.resource.getChildWithDefault(pathEl, request)

    def putChild(self, path: bytes, child: IResource) -> None:
        """
        Add a child to the root resource.
        """
        self.resource.putChild(path, child)

    def render(self, request: IRequest) -> Any:
        """
        Let a site stand in a resource tree: its root renders.
        """
        return self.resource.render(request)


def _acceptsGzip(header: bytes) -> bool:
    gzipQ: float | None = None
    starQ: float | None = None
    for item in header.split(b","):
        coding, _, params = item.partition(b";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(b";"):
            name, _, value = param.partition(b"=")
            if name.strip().lower() == b"q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
        if coding in (b"gzip", b"x-gzip"):
            gzipQ = q if gzipQ is None else max(gzipQ, q)
        elif coding == b"*":
            starQ = q
    if gzipQ is not None:
        return gzipQ > 0
    return starQ is not None and starQ > 0


class _GzipEncoder:
    """
    Compresses one response body as a gzip stream, piece by piece.
    """

    def __init__(self, compressLevel: int, request: IRequest) -> None:
        self._request = request
        self._compressor = zlib.compressobj(compressLevel, zlib.DEFLATED, 16 + 15)

    def encode(self, data: bytes) -> bytes:
        # A sync flush per write: what a resource writes reaches the client
        # now (streamed responses), at a small cost in ratio.
        if not data:
            return b""
        return self._compressor.compress(data) + self._compressor.flush(
            zlib.Z_SYNC_FLUSH
        )

    def finish(self) -> bytes:
        return self._compressor.flush()


class GzipEncoderFactory:
    """
    Compresses responses with gzip for clients that accept it (an
    ``Accept-Encoding`` naming ``gzip`` with ``q`` above 0).  Use it with
    ``EncodingResourceWrapper``::

        wrapped = EncodingResourceWrapper(root, [GzipEncoderFactory()])

    The compressed response drops ``Content-Length`` (it is sent chunked),
    gets ``Content-Encoding: gzip``, and every response of the wrapped
    resources gets ``Vary: Accept-Encoding``.  Responses that already have a
    ``Content-Encoding`` are left alone.

    :ivar compressLevel: the zlib compression level, 1 (fast) to 9 (small).
    """

    def __init__(self, compressLevel: int = 6) -> None:
        """
        :param compressLevel: 1 to 9.
        :raises ValueError: for another level.
        """
        if not 1 <= compressLevel <= 9:
            raise ValueError(f"compressLevel must be 1 to 9, not {compressLevel!r}")
        self.compressLevel = compressLevel

    def encoderForRequest(self, request: IRequest) -> _GzipEncoder | None:
        """
        :return: an encoder for the response to ``request``, or ``None``
            when the client does not accept gzip.
        """
        vary = request.responseHeaders.getRawHeaders(b"vary", [])
        if not any(b"accept-encoding" in value.lower() for value in vary):
            request.responseHeaders.addRawHeader(b"vary", b"Accept-Encoding")
        accept = b",".join(request.requestHeaders.getRawHeaders(b"accept-encoding", []))
        if not accept or not _acceptsGzip(accept):
            return None
        return _GzipEncoder(self.compressLevel, request)
