"""
Agents wrapping agents: redirects, content decoding and cookies;
re-exported by ``torsion.web.client``.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from http import cookiejar
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from zope.interface import implementer

from torsion.internet.defer import Deferred
from torsion.internet.protocol import Protocol, connectionDone
from torsion.python.failure import Failure
from torsion.web._clientbase import (
    URI,
    _ensureValidURI,
    _replayable,
    _toHeaders,
)
from torsion.web._newclient import (
    ResponseDone,
    ResponseFailed,
)
from torsion.web.http_headers import Headers
from torsion.web.iweb import (
    UNKNOWN_LENGTH,
    IAgent,
    IResponse,
)

# -- redirects ------------------------------------------------------------------


class RedirectWithNoLocation(Exception):
    """
    A redirect response without a ``Location`` header.

    :ivar uri: the URI that answered.
    """

    def __init__(self, code: int, message: str, uri: bytes) -> None:
        Exception.__init__(self, code, message, uri)
        self.code = code
        self.uri = uri

    def __str__(self) -> str:
        return f"{self.code} redirect from {self.uri!r} has no Location header"


class InfiniteRedirection(Exception):
    """
    More redirects than the agent's ``redirectLimit``.

    :ivar location: where the last redirect pointed.
    """

    def __init__(self, code: int, message: str, location: bytes) -> None:
        Exception.__init__(self, code, message, location)
        self.code = code
        self.location = location

    def __str__(self) -> str:
        return f"too many redirects (last {self.code} to {self.location!r})"


class RedirectBodyNotReplayable(Exception):
    """
    A 307 or 308 redirect of a request whose body producer cannot send its
    body a second time.
    """


#: Headers holding credentials, never sent to another origin on a redirect.
_SENSITIVE_HEADERS = (b"authorization", b"cookie", b"proxy-authorization")


#: The most bytes of a redirect's own body read (and dropped) so that its
#: connection can be reused; past this the connection is closed instead.
MAX_DISCARDED_BODY = 1024 * 1024


class _DiscardBody(Protocol):
    """
    Reads and drops a body; ``done`` fires when it has ended either way.
    """

    def __init__(self) -> None:
        self.done: Deferred[None] = Deferred()
        self._size = 0

    def dataReceived(self, data: bytes) -> None:
        self._size += len(data)
        if self._size > MAX_DISCARDED_BODY:
            self.transport.stopProducing()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if not self.done.called:
            self.done.callback(None)


def _discard(response: Any) -> Deferred[None]:
    discarder = _DiscardBody()
    response.deliverBody(discarder)
    return discarder.done


@implementer(IAgent)
class RedirectAgent:
    """
    Follows redirects: 301, 302, 307 and 308 with the same method (307 and
    308 send the body again, which needs a producer that can replay it, such
    as ``FileBodyProducer`` over a seekable file; otherwise the request fails
    with ``ResponseFailed`` wrapping ``RedirectBodyNotReplayable``), 303 with
    ``GET`` and no body.  A redirect of a method other than GET and HEAD
    with 301 or 302 is not followed (the response is returned), unlike
    ``BrowserLikeRedirectAgent``.

    Credentials (``Authorization``, ``Cookie``, ``Proxy-Authorization``)
    are dropped when a redirect leads to another origin (scheme, host or
    port), so a server cannot harvest them by redirecting.

    :param agent: the agent to send each request with.
    :param redirectLimit: the most redirects followed before failing with
        ``ResponseFailed`` wrapping ``InfiniteRedirection``.
    """

    _sameMethodCodes = (301, 302, 307, 308)
    _seeOtherCodes = (303,)

    def __init__(self, agent: Any, redirectLimit: int = 20) -> None:
        self._agent = agent
        self._redirectLimit = redirectLimit

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Any = None,
        bodyProducer: Any = None,
    ) -> Deferred[IResponse]:
        """
        Send a request, following redirects.  See ``Agent.request``.

        :param method: the method.
        :param uri: the absolute URI.
        :param headers: header fields.
        :param bodyProducer: the body.
        :return: a Deferred with the final ``IResponse``; its
            ``previousResponse`` chain holds the redirects.
        """
        headers = _toHeaders(headers)
        d: Deferred[IResponse] = self._agent.request(method, uri, headers, bodyProducer)
        return d.addCallback(
            self._handleResponse, method, uri, headers, bodyProducer, 0
        )

    def _sameMethodRedirect(self, method: bytes, code: int) -> bool:
        if code in (307, 308):
            return True
        return method in (b"GET", b"HEAD")

    def _handleResponse(
        self,
        response: Any,
        method: bytes,
        uri: bytes,
        headers: Headers,
        bodyProducer: Any,
        count: int,
    ) -> Any:
        code = response.code
        newBody: Any = None
        if code in self._seeOtherCodes:
            newMethod = b"HEAD" if method == b"HEAD" else b"GET"
        elif code in self._sameMethodCodes:
            if self._sameMethodRedirect(method, code):
                newMethod = method
                if bodyProducer is not None:
                    newBody = _replayable(bodyProducer)
                    if newBody is None:
                        return self._fail(
                            response,
                            RedirectBodyNotReplayable(
                                f"{code} redirect of a {method!r} request whose "
                                "body cannot be sent again"
                            ),
                        )
            elif code in (301, 302) and self._postAsGet(method):
                newMethod = b"GET"
            else:
                return response
        else:
            return response
        locations = response.headers.getRawHeaders(b"location")
        if not locations:
            return self._fail(response, RedirectWithNoLocation(code, "", uri))
        location = urljoin(uri, locations[0].strip())
        if count >= self._redirectLimit:
            return self._fail(response, InfiniteRedirection(code, "", location))
        try:
            newURI = _ensureValidURI(_encodeLocation(location))
        except ValueError as e:
            return self._fail(response, e)
        newHeaders = headers.copy()
        if newURI._origin() != URI.fromBytes(uri)._origin():
            for name in _SENSITIVE_HEADERS:
                newHeaders.removeHeader(name)
        newHeaders.removeHeader(b"host")
        if newBody is None and bodyProducer is not None:
            for name in (b"content-type", b"content-encoding"):
                newHeaders.removeHeader(name)
        target = newURI.toBytes().split(b"#", 1)[0]

        def follow(_: object) -> Deferred[Any]:
            d: Deferred[Any] = self._agent.request(
                newMethod, target, newHeaders, newBody
            )

            def setPrevious(newResponse: Any) -> Any:
                newResponse.setPreviousResponse(response)
                return newResponse

            d.addCallback(setPrevious)
            return d.addCallback(
                self._handleResponse,
                newMethod,
                target,
                newHeaders,
                newBody,
                count + 1,
            )

        # The redirect's own body is read and dropped first, so that its
        # connection is back in the pool for the next request.
        return _discard(response).addCallback(follow)

    def _fail(self, response: Any, error: Exception) -> Deferred[Any]:
        def failed(_: object) -> Failure:
            return Failure(ResponseFailed([Failure(error)], response))

        return _discard(response).addCallback(failed)

    def _postAsGet(self, method: bytes) -> bool:
        return False


def _encodeLocation(location: bytes) -> bytes:
    # A Location may carry raw non-ASCII or spaces; percent-encode them
    # rather than refuse the redirect or send them raw.
    return quote(location, safe=b"!#$%&'()*+,/:;=?@[]~").encode("ascii")


@implementer(IAgent)
class BrowserLikeRedirectAgent(RedirectAgent):
    """
    A ``RedirectAgent`` that turns a ``POST`` (or any method other than GET
    and HEAD) redirected by 301 or 302 into a ``GET`` without a body, as
    browsers do.

    :param agent: the agent to send each request with.
    :param redirectLimit: the most redirects followed.
    """

    def _postAsGet(self, method: bytes) -> bool:
        return True


# -- content decoding -----------------------------------------------------------


class DecompressionTooLarge(Exception):
    """
    A compressed body expanded beyond the decoder's ``maxSize``.
    """


#: The most bytes a compressed body may expand to by default (100 MiB).
DEFAULT_MAX_DECOMPRESSED_SIZE = 100 * 1024 * 1024


class _DecodingProtocol(Protocol):
    def __init__(self, protocol: Any, maxSize: int) -> None:
        self._protocol = protocol
        self._maxSize = maxSize
        self._size = 0
        # wbits 47: gzip or zlib header, detected.
        self._decompress = zlib.decompressobj(47)
        self._failed = False
        self._sawData = False

    def makeConnection(self, transport: Any) -> None:
        self.transport = transport
        self._protocol.makeConnection(transport)

    def dataReceived(self, data: bytes) -> None:
        if self._failed:
            return
        self._sawData = self._sawData or bool(data)
        try:
            out = self._decompress.decompress(data, self._maxSize - self._size + 1)
            while out:
                self._size += len(out)
                if self._size > self._maxSize:
                    raise DecompressionTooLarge(
                        f"the decompressed body exceeds {self._maxSize} bytes"
                    )
                self._protocol.dataReceived(out)
                if not self._decompress.unconsumed_tail:
                    break
                out = self._decompress.decompress(
                    self._decompress.unconsumed_tail, self._maxSize - self._size + 1
                )
        except (zlib.error, DecompressionTooLarge):
            self._fail(Failure())

    def _fail(self, reason: Failure) -> None:
        self._failed = True
        protocol, self._protocol = self._protocol, None
        self.transport.stopProducing()
        if protocol is not None:
            protocol.connectionLost(Failure(ResponseFailed([reason])))

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        if self._failed or self._protocol is None:
            return
        if reason.check(ResponseDone):
            try:
                rest = self._decompress.flush()
                if rest:
                    self._size += len(rest)
                    if self._size > self._maxSize:
                        raise DecompressionTooLarge(
                            f"the decompressed body exceeds {self._maxSize} bytes"
                        )
                    self._protocol.dataReceived(rest)
                if self._sawData and not self._decompress.eof:
                    raise zlib.error("the compressed body is truncated")
            except (zlib.error, DecompressionTooLarge):
                protocol, self._protocol = self._protocol, None
                protocol.connectionLost(Failure(ResponseFailed([Failure()])))
                return
        self._protocol.connectionLost(reason)


@implementer(IResponse)
class GzipDecoder:
    """
    A response whose gzip-encoded body is delivered decompressed.  A body
    that expands beyond ``maxSize`` bytes (a "gzip bomb") or is not valid
    gzip ends with ``ResponseFailed`` wrapping ``DecompressionTooLarge`` or
    ``zlib.error``, and the connection is closed.

    :param response: the encoded response.
    :param maxSize: the most bytes the body may expand to; use
        ``functools.partial(GzipDecoder, maxSize=...)`` in
        ``ContentDecoderAgent`` to change it.
    """

    def __init__(
        self, response: Any, maxSize: int = DEFAULT_MAX_DECOMPRESSED_SIZE
    ) -> None:
        self.original = response
        self._maxSize = maxSize
        self.length: int | str = UNKNOWN_LENGTH
        self.previousResponse: Any = getattr(response, "previousResponse", None)

    def __getattr__(self, name: str) -> Any:
        # version, code, phrase, headers, request: the original's.
        return getattr(self.original, name)

    def setPreviousResponse(self, response: Any) -> None:
        """
        :param response: the response that redirected to this one.
        """
        self.previousResponse = response
        self.original.setPreviousResponse(response)

    def deliverBody(self, protocol: Any) -> None:
        """
        Deliver the decompressed body to ``protocol``.

        :param protocol: an ``IProtocol``.
        """
        self.original.deliverBody(_DecodingProtocol(protocol, self._maxSize))


@implementer(IAgent)
class ContentDecoderAgent:
    """
    Asks for compressed responses (``Accept-Encoding``) and decodes them.

    :param agent: the agent to send requests with.
    :param decoders: ``(coding name, decoder factory)`` pairs, such as
        ``[(b"gzip", GzipDecoder)]``; a factory takes the response and
        returns an ``IResponse`` delivering the decoded body.
    """

    def __init__(
        self, agent: Any, decoders: Sequence[tuple[bytes, Callable[[Any], Any]]]
    ) -> None:
        self._agent = agent
        self._decoders = dict(decoders)
        self._supported = b",".join(name for name, _ in decoders)

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Any = None,
        bodyProducer: Any = None,
    ) -> Deferred[IResponse]:
        """
        Send a request asking for the supported codings.  See
        ``Agent.request``.

        :param method: the method.
        :param uri: the absolute URI.
        :param headers: header fields.
        :param bodyProducer: the body.
        :return: a Deferred ``IResponse`` whose body is decoded.
        """
        headers = _toHeaders(headers)
        headers.setRawHeaders(b"accept-encoding", [self._supported])
        d: Deferred[IResponse] = self._agent.request(method, uri, headers, bodyProducer)
        return d.addCallback(self._decode)

    def _decode(self, response: Any) -> Any:
        values = response.headers.getRawHeaders(b"content-encoding") or []
        codings = [
            c.strip().lower() for v in values for c in v.split(b",") if c.strip()
        ]
        applied: list[bytes] = []
        while codings:
            decoder = self._decoders.get(codings[-1])
            if decoder is None:
                break
            applied.append(codings.pop())
            response = decoder(response)
        if applied:
            headers = response.headers.copy()
            if codings:
                headers.setRawHeaders(b"content-encoding", [b",".join(codings)])
            else:
                headers.removeHeader(b"content-encoding")
            _replaceHeaders(response, headers)
        return response


def _replaceHeaders(response: Any, headers: Headers) -> None:
    target = response
    while isinstance(target, GzipDecoder):
        target.__dict__["headers"] = headers
        target = target.original
    target.headers = headers


# -- cookies --------------------------------------------------------------------


class _CookieRequest:
    """
    What ``http.cookiejar`` needs to see of a request (its urllib view).
    """

    def __init__(self, uri: bytes, headers: Headers) -> None:
        self._uri = uri.decode("ascii")
        self._parts = urlsplit(self._uri)
        self._headers = headers
        self.unverifiable = False
        self.type = self._parts.scheme

    def get_full_url(self) -> str:
        return self._uri

    def get_host(self) -> str:
        return self._parts.netloc

    def get_type(self) -> str:
        return self._parts.scheme

    @property
    def host(self) -> str:
        return self._parts.netloc

    def get_origin_req_host(self) -> str:
        return self._parts.hostname or ""

    origin_req_host = property(get_origin_req_host)

    def is_unverifiable(self) -> bool:
        return False

    def has_header(self, name: str) -> bool:
        return self._headers.hasHeader(name)

    def get_header(self, name: str, default: str | None = None) -> str | None:
        values = self._headers.getRawHeaders(name)
        return values[0] if values else default

    def header_items(self) -> list[tuple[str, str]]:
        return [
            (n.decode("latin-1"), v.decode("latin-1"))
            for n, vs in self._headers.getAllRawHeaders()
            for v in vs
        ]

    def add_unredirected_header(self, name: str, value: str) -> None:
        self._headers.addRawHeader(name, value)


class _CookieResponse:
    def __init__(self, headers: Headers) -> None:
        self._headers = headers

    def info(self) -> _CookieResponse:
        return self

    def get_all(self, name: str, default: Any = None) -> Any:
        values = self._headers.getRawHeaders(name.encode("ascii"))
        if not values:
            return default
        return [v.decode("latin-1") for v in values]


@implementer(IAgent)
class CookieAgent:
    """
    Sends the cookies ``cookieJar`` holds for each request's URI, and
    stores the cookies responses set.

    :param agent: the agent to send requests with.
    :param cookieJar: an ``http.cookiejar.CookieJar``.
    """

    def __init__(self, agent: Any, cookieJar: cookiejar.CookieJar) -> None:
        self._agent = agent
        self.cookieJar = cookieJar

    def request(
        self,
        method: bytes,
        uri: bytes,
        headers: Any = None,
        bodyProducer: Any = None,
    ) -> Deferred[IResponse]:
        """
        Send a request with the jar's cookies.  See ``Agent.request``.

        :param method: the method.
        :param uri: the absolute URI.
        :param headers: header fields (a ``Cookie`` given here is kept and
            the jar's cookies are not added).
        :param bodyProducer: the body.
        :return: a Deferred ``IResponse``.
        """
        headers = _toHeaders(headers)
        cookieRequest = _CookieRequest(uri, headers)
        if not headers.hasHeader(b"cookie"):
            self.cookieJar.add_cookie_header(cookieRequest)  # type: ignore[arg-type]
        d: Deferred[IResponse] = self._agent.request(method, uri, headers, bodyProducer)

        def store(response: Any) -> Any:
            self.cookieJar.extract_cookies(
                _CookieResponse(response.headers),  # type: ignore[arg-type]
                cookieRequest,  # type: ignore[arg-type]
            )
            return response

        return d.addCallback(store)
