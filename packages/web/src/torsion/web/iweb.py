"""
The interfaces of torsion-web: what a request, a resource, a response, an
agent and a template loader promise.  Implementations are checked against
them with ``zope.interface.verify.verifyObject`` in the tests.
"""

from __future__ import annotations

from zope.interface import Attribute, Interface

from torsion.cred.credentials import IUsernameDigestHash
from torsion.internet.interfaces import IConsumer, IPushProducer

__all__ = [
    "UNKNOWN_LENGTH",
    "IAccessLogFormatter",
    "IAgent",
    "IAgentEndpointFactory",
    "IBodyProducer",
    "IClientRequest",
    "ICredentialFactory",
    "IPolicyForHTTPS",
    "IRenderable",
    "IRequest",
    "IResource",
    "IResponse",
    "ISession",
    "ITemplateLoader",
    "IUsernameDigestHash",
]

#: ``IBodyProducer.length`` / ``IResponse.length`` when the length is not
#: known in advance.
UNKNOWN_LENGTH = "torsion.web.iweb.UNKNOWN_LENGTH"


class IRequest(IConsumer):
    """
    One HTTP request as the server sees it, and the response being written
    to it.  Resources render it; it is also an ``IConsumer`` so a producer
    can stream the response body.
    """

    method = Attribute("The request method, bytes (b'GET').")
    uri = Attribute("The request target as sent, bytes (b'/a/b?x=1').")
    path = Attribute("The path part of ``uri``, bytes, still percent-encoded.")
    args = Attribute(
        "dict of bytes name -> list of bytes values, from the query string and"
        " from a urlencoded or multipart/form-data body."
    )
    prepath = Attribute("Path segments already traversed, list of bytes.")
    postpath = Attribute("Path segments still to traverse, list of bytes.")
    clientproto = Attribute("The request's HTTP version, bytes (b'HTTP/1.1').")
    requestHeaders = Attribute("The request's headers, a ``Headers``.")
    responseHeaders = Attribute("The response's headers, a ``Headers``.")
    content = Attribute(
        "The request body, a binary file object positioned at its start"
        " (kept in memory, or spooled to a temporary file when large)."
    )
    code = Attribute("The response status code, int (200 by default).")
    code_message = Attribute("The response reason phrase, bytes.")
    sentLength = Attribute("Bytes of response body written so far.")
    finished = Attribute("Whether ``finish`` has been called.")

    def getHeader(key: bytes | str) -> bytes | str | None:
        """
        :return: the last value of request header ``key`` (in the type of
            ``key``), or ``None``.
        """

    def setHeader(name: bytes | str, value: bytes | str) -> None:
        """
        Set response header ``name`` to ``value``, replacing earlier values.
        """

    def setResponseCode(code: int, message: bytes | None = None) -> None:
        """
        Set the response status (and optionally its reason phrase).
        """

    def write(data: bytes) -> None:
        """
        Write part of the response body; the status and headers are sent
        before the first body bytes.
        """

    def finish() -> None:
        """
        End the response.
        """

    def notifyFinish() -> object:
        """
        :return: a Deferred that fires with ``None`` once the response has
            been completely sent, or errbacks if the connection was lost
            first (the client went away).
        """

    def redirect(url: bytes | str) -> None:
        """
        Answer with a 302 redirect to ``url``.
        """

    def getCookie(key: bytes) -> bytes | None:
        """
        :return: the value of request cookie ``key``, or ``None``.
        """

    def addCookie(
        k: bytes | str,
        v: bytes | str,
        expires: bytes | str | None = None,
        domain: bytes | str | None = None,
        path: bytes | str | None = None,
        max_age: bytes | str | int | None = None,
        comment: bytes | str | None = None,
        secure: bool | None = None,
        httpOnly: bool = False,
        sameSite: str | None = None,
    ) -> None:
        """
        Add a ``Set-Cookie`` response header.
        """

    def getSession(
        sessionInterface: object = None, forceNotSecure: bool = False
    ) -> object:
        """
        :return: the session of this client (created, with its cookie, if
            there is none), or the ``sessionInterface`` adapter of it.
        """

    def getClientAddress() -> object:
        """
        :return: the peer's address (``IPv4Address``, ``IPv6Address``,
            ``UNIXAddress``).
        """

    def getHost() -> object:
        """
        :return: the local address the request arrived on.
        """

    def isSecure() -> bool:
        """
        :return: whether the request arrived over TLS.
        """

    def getRequestHostname() -> bytes:
        """
        :return: the host name the client asked for (``Host`` without port).
        """

    def URLPath() -> object:
        """
        :return: a ``torsion.python.urlpath.URLPath`` of this request's URL.
        """

    def prePathURL() -> bytes:
        """
        :return: the absolute URL up to (and including) ``prepath``.
        """

    def setLastModified(when: float) -> object:
        """
        Set ``Last-Modified``; return ``http.CACHED`` if the request's
        ``If-Modified-Since`` makes the body unnecessary.
        """

    def setETag(etag: bytes) -> object:
        """
        Set ``ETag``; return ``http.CACHED`` if ``If-None-Match`` matches.
        """


class IResource(Interface):
    """
    A node of the resource tree: it finds children for path segments and
    renders requests that stop at it.
    """

    isLeaf = Attribute(
        "True if this resource renders every path below it itself (traversal"
        " stops here, leaving the rest in ``request.postpath``)."
    )

    def getChildWithDefault(name: bytes, request: IRequest) -> IResource:
        """
        :return: the child for path segment ``name`` (a static child added
            with ``putChild``, else ``getChild``'s answer).
        """

    def putChild(path: bytes, child: IResource) -> None:
        """
        Add a static child for path segment ``path``.
        """

    def render(request: IRequest) -> bytes | object:
        """
        :return: the response body (bytes), or ``server.NOT_DONE_YET`` if the
            resource writes and finishes the response itself later.
        """


class ISession(Interface):
    """
    Server-side state for one client, found through a cookie.
    """

    uid = Attribute("The session identifier (bytes).")

    def expire() -> None:
        """
        End the session now.
        """

    def touch() -> None:
        """
        Note that the session was just used (its idle timer restarts).
        """

    def notifyOnExpire(callback: object) -> None:
        """
        Call ``callback()`` when the session expires.
        """


class ICredentialFactory(Interface):
    """
    An HTTP authentication scheme for ``guard``: makes challenges and turns
    ``Authorization`` headers into ``torsion.cred`` credentials.
    """

    scheme = Attribute("The scheme name, bytes (b'basic', b'digest').")

    def getChallenge(request: IRequest) -> dict[str, bytes | str]:
        """
        :return: the parameters of the ``WWW-Authenticate`` challenge.
        """

    def decode(response: bytes, request: IRequest) -> object:
        """
        :return: credentials for ``torsion.cred``.
        :raises torsion.cred.error.LoginFailed: for a malformed response.
        """


class IAccessLogFormatter(Interface):
    """
    Formats one access-log line (a callable ``(timestamp, request) -> str``).
    """

    def __call__(timestamp: str, request: IRequest) -> str:
        """
        :return: the log line, without a newline.
        """


class IBodyProducer(IPushProducer):
    """
    Produces a request body for the HTTP client.
    """

    length = Attribute(
        "The body's length in bytes, or ``UNKNOWN_LENGTH`` (sent chunked)."
    )

    def startProducing(consumer: IConsumer) -> object:
        """
        Start writing the body to ``consumer``.

        :return: a Deferred that fires when the body is completely written,
            or errbacks if it could not be produced.
        """

    def stopProducing() -> None:
        """
        Stop: the Deferred ``startProducing`` returned must not fire after
        this.
        """


class IClientRequest(Interface):
    """
    A request the client sent, as seen from its response.
    """

    method = Attribute("The method, bytes.")
    absoluteURI = Attribute("The absolute URI, bytes.")
    headers = Attribute("The request headers, a ``Headers``.")


class IResponse(Interface):
    """
    The response to a client request; its body arrives through
    ``deliverBody``.
    """

    version = Attribute("(b'HTTP', major, minor).")
    code = Attribute("The status code, int.")
    phrase = Attribute("The reason phrase, bytes.")
    headers = Attribute("The response headers, a ``Headers``.")
    length = Attribute("The body length, int, or ``UNKNOWN_LENGTH``.")
    request = Attribute("The ``IClientRequest`` this answers.")
    previousResponse = Attribute(
        "The response before a redirect that led to this one, or ``None``."
    )

    def deliverBody(protocol: object) -> None:
        """
        Deliver the body to ``protocol`` (an ``IProtocol``): its
        ``dataReceived`` gets the bytes, then ``connectionLost`` with
        ``ResponseDone`` (complete) or another failure.
        """

    def setPreviousResponse(response: IResponse) -> None:
        """
        Record the response that redirected to this one.
        """


class IAgent(Interface):
    """
    Issues HTTP requests.
    """

    def request(
        method: bytes,
        uri: bytes,
        headers: object = None,
        bodyProducer: IBodyProducer | None = None,
    ) -> object:
        """
        :return: a Deferred ``IResponse``.
        """


class IAgentEndpointFactory(Interface):
    """
    Chooses the endpoint an ``Agent`` connects through for a URI.
    """

    def endpointForURI(uri: object) -> object:
        """
        :return: an ``IStreamClientEndpoint`` for the URI's scheme, host and
            port.
        """


class IPolicyForHTTPS(Interface):
    """
    Decides how the client's TLS connections are made and verified.
    """

    def creatorForNetloc(hostname: bytes, port: int) -> object:
        """
        :return: a TLS connection creator (``IOpenSSLClientConnectionCreator``)
            for ``hostname:port``.
        """


class IRenderable(Interface):
    """
    Something ``torsion.web.template.flatten`` can render: it has a
    ``render(request)`` giving flattenable content and looks up renderer
    methods by name.
    """

    def lookupRenderMethod(name: str) -> object:
        """
        :return: the renderer called ``name``: ``(request, tag) -> content``.
        """

    def render(request: IRequest | None) -> object:
        """
        :return: flattenable content.
        """


class ITemplateLoader(Interface):
    """
    Loads a template's document.
    """

    def load() -> list[object]:
        """
        :return: the template's top-level nodes (tags, strings, ...).
        """
