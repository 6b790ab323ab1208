"""
The HTTP client.

``Agent`` makes HTTP and HTTPS requests and keeps connections in an
``HTTPConnectionPool``; wrappers add behaviour: ``RedirectAgent`` follows
redirects, ``ContentDecoderAgent`` decompresses, ``CookieAgent`` keeps
cookies, ``ProxyAgent`` goes through an HTTP proxy.  Bodies are sent by an
``IBodyProducer`` (``FileBodyProducer``) and read with ``readBody``::

    from torsion.internet import reactor
    from torsion.web.client import Agent, readBody

    async def main():
        agent = Agent(reactor)
        response = await agent.request(b"GET", b"https://example.com/")
        body = await readBody(response, maxSize=10_000_000)

For everyday use the short API (``get``, ``post``, ``request``, ...) does all
of that in one call, in the shape of the ``treq`` library::

    from torsion.web import client

    async def main():
        response = await client.get("https://example.com/", params={"q": "x"})
        print(response.code, await response.text())
"""

from __future__ import annotations

import json as _json
from collections.abc import Mapping
from typing import Any, Protocol
from urllib.parse import quote, urlencode, urlsplit

from torsion.internet.defer import Deferred, fail, succeed
from torsion.python.failure import Failure
from torsion.web._clientagent import (
    Agent,
    BrowserLikePolicyForHTTPS,
    HTTPConnectionPool,
    ProxyAgent,
    TunnelError,
)
from torsion.web._clientbase import (
    URI,
    SchemeNotSupported,
    _globalReactor,
    _toHeaders,
)
from torsion.web._clientbodies import (
    FileBodyProducer,
    PartialDownloadError,
    ResponseTooLarge,
    _BytesProducer,
    readBody,
)
from torsion.web._clientwrappers import (
    DEFAULT_MAX_DECOMPRESSED_SIZE,
    MAX_DISCARDED_BODY,
    BrowserLikeRedirectAgent,
    ContentDecoderAgent,
    CookieAgent,
    DecompressionTooLarge,
    GzipDecoder,
    InfiniteRedirection,
    RedirectAgent,
    RedirectBodyNotReplayable,
    RedirectWithNoLocation,
)
from torsion.web._newclient import (
    PotentialDataLoss,
    RequestGenerationFailed,
    RequestNotSent,
    RequestTransmissionFailed,
    ResponseDone,
    ResponseFailed,
    ResponseNeverReceived,
)
from torsion.web.http_headers import Headers
from torsion.web.iweb import (
    IBodyProducer,
)

__all__ = [
    "DEFAULT_MAX_BODY_SIZE",
    "DEFAULT_MAX_DECOMPRESSED_SIZE",
    "MAX_DISCARDED_BODY",
    "URI",
    "Agent",
    "BrowserLikePolicyForHTTPS",
    "BrowserLikeRedirectAgent",
    "ClientResponse",
    "ContentDecoderAgent",
    "CookieAgent",
    "DecompressionTooLarge",
    "FileBodyProducer",
    "GzipDecoder",
    "HTTPConnectionPool",
    "InfiniteRedirection",
    "PartialDownloadError",
    "PotentialDataLoss",
    "ProxyAgent",
    "RedirectAgent",
    "RedirectBodyNotReplayable",
    "RedirectWithNoLocation",
    "RequestGenerationFailed",
    "RequestNotSent",
    "RequestTransmissionFailed",
    "ResponseDone",
    "ResponseFailed",
    "ResponseNeverReceived",
    "ResponseTooLarge",
    "SchemeNotSupported",
    "TunnelError",
    "closeDefaultPool",
    "delete",
    "get",
    "head",
    "patch",
    "post",
    "put",
    "readBody",
    "request",
]


# -- the short API --------------------------------------------------------------

#: The most body bytes the short API reads by default (10 MiB).
DEFAULT_MAX_BODY_SIZE = 10 * 1024 * 1024

_defaultPools: dict[int, tuple[Any, HTTPConnectionPool]] = {}


def _defaultPool(reactor: Any) -> HTTPConnectionPool:
    entry = _defaultPools.get(id(reactor))
    if entry is None or entry[0] is not reactor:
        pool = HTTPConnectionPool(reactor, persistent=True)
        entry = (reactor, pool)
        _defaultPools[id(reactor)] = entry
    return entry[1]


def closeDefaultPool(reactor: Any = None) -> Deferred[None]:
    """
    Close the idle connections the short API keeps for ``reactor``.

    :param reactor: the reactor (the global one when ``None``).
    :return: a Deferred firing when they have closed.
    """
    if reactor is None:
        reactor = _globalReactor()
    entry = _defaultPools.pop(id(reactor), None)
    if entry is None:
        return succeed(None)
    return entry[1].closeCachedConnections()


class ClientResponse:
    """
    A response from the short API (``get``, ``post``, ``request``, ...).
    The body is read once, on the first call to ``content``, ``text`` or
    ``json``, and kept.

    :ivar code: the status code.
    :ivar phrase: the reason phrase.
    :ivar headers: the response ``Headers``.
    :ivar original: the underlying ``IResponse``.
    """

    def __init__(
        self,
        original: Any,
        maxBodySize: int | None,
        reactor: Any,
        deadline: float | None,
    ) -> None:
        self.original = original
        self.code: int = original.code
        self.phrase: bytes = original.phrase
        self.headers: Headers = original.headers
        self._maxBodySize = maxBodySize
        self._reactor = reactor
        self._deadline = deadline
        self._body: Deferred[bytes] | None = None
        self._result: bytes | Failure | None = None
        self._waiting: list[Deferred[bytes]] = []

    @property
    def previousResponse(self) -> Any:
        """
        The ``IResponse`` that redirected to this one, or ``None``.
        """
        return self.original.previousResponse

    @property
    def length(self) -> Any:
        """
        The body length, or ``UNKNOWN_LENGTH``.
        """
        return self.original.length

    def __repr__(self) -> str:
        return f"<ClientResponse {self.code}>"

    def content(self) -> Deferred[bytes]:
        """
        :return: a Deferred with the body bytes (failing with
            ``ResponseTooLarge`` beyond ``maxBodySize``, or ``TimeoutError``
            when the request's ``timeout`` passes).
        """
        if self._result is not None:
            if isinstance(self._result, Failure):
                return fail(self._result)
            return succeed(self._result)
        waiter: Deferred[bytes] = Deferred()
        self._waiting.append(waiter)
        if self._body is None:
            self._body = readBody(self.original, self._maxBodySize)
            if self._deadline is not None:
                remaining = max(0.0, self._deadline - self._reactor.seconds())
                self._body.addTimeout(remaining, self._reactor)
            self._body.addBoth(self._gotBody)
        return waiter

    def _gotBody(self, result: Any) -> None:
        if isinstance(result, Failure) and result.check(PartialDownloadError):
            # Without a length the end of the connection is the end of the
            # body; that is how such servers mean it.
            partial: Any = result.value
            result = partial.response
        self._result = result
        waiting, self._waiting = self._waiting, []
        for waiter in waiting:
            if isinstance(result, Failure):
                waiter.errback(result)
            else:
                waiter.callback(result)

    def text(self, encoding: str | None = None) -> Deferred[str]:
        """
        :param encoding: the text encoding (the ``charset`` of the
            ``Content-Type``, else UTF-8, when ``None``).
        :return: a Deferred with the body as text.
        """
        if encoding is None:
            encoding = _charset(self.headers) or "utf-8"
        chosen = encoding
        return self.content().addCallback(lambda body: body.decode(chosen, "replace"))

    def json(self, **kwargs: Any) -> Deferred[Any]:
        """
        :param kwargs: passed to ``json.loads``.
        :return: a Deferred with the body parsed as JSON.
        """
        return self.content().addCallback(lambda body: _json.loads(body, **kwargs))


def _charset(headers: Headers) -> str | None:
    value = headers.getRawHeaders(b"content-type")
    if not value:
        return None
    for param in value[0].split(b";")[1:]:
        name, _, v = param.strip().partition(b"=")
        if name.strip().lower() == b"charset":
            charset = v.strip().strip(b'"').decode("ascii", "replace")
            try:
                import codecs

                codecs.lookup(charset)
            except LookupError:
                return None
            return charset
    return None


def _addParams(url: str, params: Any) -> str:
    if not params:
        return url
    if isinstance(params, Mapping):
        items: list[tuple[Any, Any]] = []
        for k, v in params.items():
            if isinstance(v, (list, tuple)):
                items += [(k, x) for x in v]
            else:
                items.append((k, v))
    else:
        items = list(params)
    query = urlencode(items)
    base, hashmark, fragment = url.partition("#")
    joiner = "&" if "?" in base else "?"
    return base + joiner + query + hashmark + fragment


def request(
    method: str | bytes,
    url: str | bytes,
    *,
    params: Any = None,
    headers: Any = None,
    json: Any = None,
    data: Any = None,
    timeout: float | None = None,
    agent: Any = None,
    reactor: Any = None,
    allowRedirects: bool = True,
    maxBodySize: int | None = DEFAULT_MAX_BODY_SIZE,
) -> Deferred[ClientResponse]:
    """
    Make a request in one call, in the shape of the ``treq`` library:
    redirects are followed, gzip is decoded, connections are kept in a
    shared pool per reactor (close it with ``closeDefaultPool``).

    :param method: the method, such as ``"GET"``.
    :param url: the absolute URL.
    :param params: query parameters to add: a mapping (a list value adds
        the name once per item) or ``(name, value)`` pairs.
    :param headers: a ``Headers`` or a mapping of names to a value or a
        list of values.
    :param json: an object sent as JSON (``Content-Type: application/json``).
    :param data: the body: bytes, a mapping or pairs (sent form-encoded),
        a binary file, or an ``IBodyProducer``.
    :param timeout: seconds for the whole request, reading the body
        included; past it the Deferreds fail with ``TimeoutError`` and the
        connection is closed.
    :param agent: the ``IAgent`` to send with, instead of the default one.
    :param reactor: the reactor (the global one when ``None``).
    :param allowRedirects: whether to follow redirects.
    :param maxBodySize: the most body bytes ``content``/``text``/``json``
        read (``ResponseTooLarge`` beyond; ``None`` for no limit).
    :return: a Deferred ``ClientResponse``.
    :raises ValueError: for a bad method, URL or header (nothing is sent).
    """
    if reactor is None:
        reactor = _globalReactor()
    methodBytes = method.encode("ascii") if isinstance(method, str) else method
    methodBytes = methodBytes.upper()
    urlText = url.decode("ascii") if isinstance(url, bytes) else url
    urlText = _addParams(urlText, params)
    try:
        urlBytes = urlText.encode("ascii")
    except UnicodeEncodeError:
        parts = urlsplit(urlText)
        netloc = parts.netloc.encode("idna").decode("ascii")
        rest = quote(urlText.split(parts.netloc, 1)[1], safe="/?#&=;:%+@!$'()*,~")
        urlBytes = f"{parts.scheme}://{netloc}{rest}".encode("ascii")
    sendHeaders = _toHeaders(headers)
    body: Any = None
    if json is not None:
        if data is not None:
            raise ValueError("give either json or data, not both")
        body = _BytesProducer(_json.dumps(json, separators=(",", ":")).encode())
        if not sendHeaders.hasHeader(b"content-type"):
            sendHeaders.setRawHeaders(b"content-type", [b"application/json"])
    elif data is not None:
        if isinstance(data, (bytes, bytearray)):
            body = _BytesProducer(bytes(data))
        elif isinstance(data, str):
            raise TypeError("data must be bytes, not str: encode it first")
        elif isinstance(data, (Mapping, list, tuple)):
            items = list(data.items()) if isinstance(data, Mapping) else list(data)
            body = _BytesProducer(urlencode(items).encode("ascii"))
            if not sendHeaders.hasHeader(b"content-type"):
                sendHeaders.setRawHeaders(
                    b"content-type", [b"application/x-www-form-urlencoded"]
                )
        elif IBodyProducer.providedBy(data):
            body = data
        elif hasattr(data, "read"):
            body = FileBodyProducer(data)
        else:
            raise TypeError(f"unsupported data: {type(data).__name__}")
    if agent is None:
        agent = Agent(reactor, pool=_defaultPool(reactor))
        agent = ContentDecoderAgent(agent, [(b"gzip", GzipDecoder)])
        if allowRedirects:
            agent = RedirectAgent(agent)
    elif allowRedirects and not isinstance(agent, RedirectAgent):
        agent = RedirectAgent(agent)
    deadline = None if timeout is None else reactor.seconds() + timeout
    d: Deferred[Any] = agent.request(methodBytes, urlBytes, sendHeaders, body)
    if timeout is not None:
        d.addTimeout(timeout, reactor)
    return d.addCallback(
        lambda response: ClientResponse(response, maxBodySize, reactor, deadline)
    )


class _Shortcut(Protocol):
    def __call__(self, url: str | bytes, **kwargs: Any) -> Deferred[ClientResponse]: ...


def _shortcut(method: str) -> _Shortcut:
    # One function per common method, each ``request`` with that method.
    def send(url: str | bytes, **kwargs: Any) -> Deferred[ClientResponse]:
        return request(method, url, **kwargs)

    send.__name__ = send.__qualname__ = method.lower()
    send.__doc__ = f"""
    ``request("{method}", url, **kwargs)``.

    :param url: the URL.
    :param kwargs: as for ``request``.
    :return: a Deferred ``ClientResponse``.
    """
    return send


get = _shortcut("GET")
post = _shortcut("POST")
put = _shortcut("PUT")
patch = _shortcut("PATCH")
delete = _shortcut("DELETE")
head = _shortcut("HEAD")


def _adopt() -> None:
    # The classes live in private modules; they are documented, shown and
    # pickled as members of this public one.
    for name in __all__:
        value = globals()[name]
        if getattr(value, "__module__", "").startswith("torsion.web._client"):
            try:
                value.__module__ = __name__
            except (AttributeError, TypeError):
                pass


_adopt()
