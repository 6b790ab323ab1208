"""
XML-RPC: a server resource publishing ``xmlrpc_<name>`` methods, and a
client ``Proxy`` calling remote procedures.

Server::

    class Calculator(XMLRPC):
        def xmlrpc_add(self, a, b):
            return a + b

    root.putChild(b"RPC2", Calculator())

Methods may return a value, a ``Deferred`` or be ``async def``; raising or
returning a ``Fault`` sends an XML-RPC fault.  Client::

    proxy = Proxy(b"http://localhost:8080/RPC2")
    total = await proxy.callRemote("add", 1, 2)

Requests are parsed with expat with document type declarations refused, so
entity expansion attacks ("billion laughs") and external entities are
answered with a fault before any expansion.
"""

from __future__ import annotations

import base64
import xmlrpc.client
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit
from xml.parsers import expat

from torsion.internet.defer import Deferred, fail, maybeDeferred
from torsion.internet.protocol import Protocol
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web.http_headers import Headers
from torsion.web.iweb import IRequest
from torsion.web.resource import NOT_DONE_YET, Resource

__all__ = [
    "FAILURE",
    "NOT_FOUND",
    "XMLRPC",
    "Binary",
    "Boolean",
    "DateTime",
    "Fault",
    "NoSuchFunction",
    "Proxy",
    "ProxyError",
    "XMLRPCIntrospection",
    "addIntrospection",
    "loads",
    "withRequest",
]

Fault = xmlrpc.client.Fault
Binary = xmlrpc.client.Binary
Boolean = bool
DateTime = xmlrpc.client.DateTime

#: Fault code for a procedure that does not exist.
NOT_FOUND = 8001
#: Fault code for an unexpected error inside a procedure, or a request
#: that cannot be parsed.
FAILURE = 8002

_log = Logger()
_F = TypeVar("_F", bound=Callable[..., Any])


class NoSuchFunction(Fault):
    """
    The procedure asked for does not exist (fault code ``NOT_FOUND``).
    """


class ProxyError(Exception):
    """
    The XML-RPC server answered with an HTTP error instead of an XML-RPC
    response.

    :ivar status: the HTTP status code (int).
    :ivar message: the reason phrase (bytes).
    :ivar body: the start of the response body (bytes).
    """

    def __init__(self, status: int, message: bytes, body: bytes = b"") -> None:
        super().__init__(status, message, body)
        self.status = status
        self.message = message
        self.body = body

    def __str__(self) -> str:
        phrase = self.message.decode("latin-1")
        return f"XML-RPC server answered HTTP {self.status} {phrase}"


class _RefusedXML(ValueError):
    pass


def _refuse(*args: object) -> None:
    raise _RefusedXML("document type declarations are not accepted")


def loads(
    data: bytes, useDateTime: bool = False, useBuiltinTypes: bool = False
) -> tuple[tuple[Any, ...], str | None]:
    """
    Parse an XML-RPC request or response like ``xmlrpc.client.loads``, but
    refusing any document type declaration (so no entity is ever declared
    or expanded) and external references.

    :param data: the XML document.
    :param useDateTime: give ``datetime.datetime`` for ``dateTime.iso8601``
        values instead of ``DateTime``.
    :param useBuiltinTypes: also give ``bytes`` for base64 values.
    :return: the parameters (or the one result) and the method name
        (``None`` for a response).
    :raises ValueError: if the document declares a DTD or is not
        well-formed XML.
    :raises Fault: if the document is a fault response.
    """
    target = xmlrpc.client.Unmarshaller(
        use_datetime=useDateTime, use_builtin_types=useBuiltinTypes
    )
    parser = expat.ParserCreate(None, None)
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse
    parser.EntityDeclHandler = _refuse
    parser.ExternalEntityRefHandler = _refuse  # type: ignore[assignment]
    parser.StartElementHandler = target.start
    parser.EndElementHandler = target.end
    parser.CharacterDataHandler = target.data
    # None: expat already hands over decoded text.
    target.xml(None, None)  # type: ignore[arg-type]
    try:
        parser.Parse(data, True)
    except expat.ExpatError as e:
        raise ValueError(f"malformed XML: {e}") from None
    return target.close(), target.getmethodname()


def withRequest(f: _F) -> _F:
    """
    Decorate an ``xmlrpc_`` method so that it receives the HTTP request as
    its first argument (after ``self``).

    :param f: the method.
    :return: ``f``, marked.
    """
    f.withRequest = True  # type: ignore[attr-defined]
    return f


class XMLRPC(Resource):
    """
    A resource publishing its ``xmlrpc_<name>`` methods over XML-RPC
    (``POST`` only).  Sub-handlers added with ``putSubHandler`` answer the
    procedures ``<prefix>.<name>``.

    :param allowNone: allow ``None`` in responses (the ``<nil/>``
        extension).
    :param useDateTime: give methods ``datetime.datetime`` objects rather
        than ``DateTime`` for date arguments.

    :ivar separator: what separates a sub-handler's prefix from the
        procedure name.
    :ivar NOT_FOUND: the fault code for an unknown procedure.
    :ivar FAILURE: the fault code for an unexpected error.
    """

    isLeaf = True
    separator = "."
    NOT_FOUND = NOT_FOUND
    FAILURE = FAILURE

    def __init__(self, allowNone: bool = False, useDateTime: bool = False) -> None:
        super().__init__()
        self.allowNone = allowNone
        self.useDateTime = useDateTime
        self.subHandlers: dict[str, XMLRPC] = {}

    def putSubHandler(self, prefix: str, handler: XMLRPC) -> None:
        """
        Publish ``handler``'s procedures as ``<prefix>.<name>``.

        :param prefix: the prefix (without separator).
        :param handler: another ``XMLRPC``.
        """
        self.subHandlers[prefix] = handler

    def getSubHandler(self, prefix: str) -> XMLRPC | None:
        """
        :param prefix: a prefix given to ``putSubHandler``.
        :return: its handler, or ``None``.
        """
        return self.subHandlers.get(prefix)

    def getSubHandlerPrefixes(self) -> list[str]:
        """
        :return: the prefixes of every sub-handler.
        """
        return list(self.subHandlers)

    def lookupProcedure(self, procedurePath: str) -> Callable[..., Any]:
        """
        Find the method implementing ``procedurePath``.

        :param procedurePath: e.g. ``"add"`` or ``"math.add"``.
        :return: the bound method.
        :raises NoSuchFunction: if there is none.
        """
        if self.separator in procedurePath:
            prefix, rest = procedurePath.split(self.separator, 1)
            handler = self.getSubHandler(prefix)
            if handler is None:
                raise NoSuchFunction(self.NOT_FOUND, f"no such subHandler {prefix!r}")
            return handler.lookupProcedure(rest)
        method = getattr(self, "xmlrpc_" + procedurePath, None)
        if method is None or not callable(method):
            raise NoSuchFunction(
                self.NOT_FOUND, f"procedure {procedurePath!r} not found"
            )
        return method  # type: ignore[no-any-return]

    def listProcedures(self) -> list[str]:
        """
        :return: the names of this handler's own procedures (without the
            sub-handlers').
        """
        return sorted(
            name[len("xmlrpc_") :]
            for name in dir(self)
            if name.startswith("xmlrpc_") and callable(getattr(self, name))
        )

    def render_POST(self, request: IRequest) -> int:
        """
        Decode the call, run the procedure and write its result (or
        fault) when it is ready.

        :param request: the HTTP request.
        :return: ``NOT_DONE_YET``.
        """
        request.content.seek(0)
        body = request.content.read()
        request.setHeader(b"content-type", b"text/xml; charset=utf-8")
        try:
            args, procedurePath = loads(body, useDateTime=self.useDateTime)
            if procedurePath is None:
                raise ValueError("not a methodCall")
        except Exception as e:
            self._writeResponse(Fault(self.FAILURE, f"bad request: {e}"), request)
            return NOT_DONE_YET
        try:
            function = self.lookupProcedure(procedurePath)
        except Fault as fault:
            self._writeResponse(fault, request)
            return NOT_DONE_YET
        if getattr(function, "withRequest", False):
            d = maybeDeferred(function, request, *args)
        else:
            d = maybeDeferred(function, *args)
        d.addErrback(self._ebRender)
        d.addCallback(self._writeResponse, request)
        d.addErrback(lambda f: _log.failure("writing an XML-RPC response", f))
        return NOT_DONE_YET

    def _ebRender(self, failure: Failure) -> Fault:
        if isinstance(failure.value, Fault):
            return failure.value
        _log.failure("XML-RPC procedure failed", failure)
        return Fault(self.FAILURE, "error")

    def _writeResponse(self, result: Any, request: IRequest) -> None:
        try:
            content = xmlrpc.client.dumps(
                result if isinstance(result, Fault) else (result,),
                methodresponse=True,
                allow_none=self.allowNone,
            )
        except Exception as e:
            fault = Fault(self.FAILURE, f"can't serialize output: {e}")
            content = xmlrpc.client.dumps(fault, methodresponse=True)
        if request.finished or getattr(request, "_disconnected", False):
            return
        payload = content.encode("utf-8")
        request.setHeader(b"content-length", b"%d" % len(payload))
        request.write(payload)
        request.finish()


class XMLRPCIntrospection(XMLRPC):
    """
    The ``system`` sub-handler of the XML-RPC introspection convention:
    ``system.listMethods``, ``system.methodHelp`` and
    ``system.methodSignature``.  Add it with ``addIntrospection``.

    :param parent: the ``XMLRPC`` to describe.
    """

    def __init__(self, parent: XMLRPC) -> None:
        super().__init__()
        self._parent = parent

    def xmlrpc_listMethods(self) -> list[str]:
        """
        :return: every procedure name, sub-handlers' included.
        """
        names: list[str] = []
        todo: list[tuple[str, XMLRPC]] = [("", self._parent)]
        seen: set[int] = set()
        while todo:
            prefix, handler = todo.pop(0)
            if id(handler) in seen:
                continue
            seen.add(id(handler))
            names.extend(prefix + name for name in handler.listProcedures())
            for sub in handler.getSubHandlerPrefixes():
                child = handler.getSubHandler(sub)
                if child is not None:
                    todo.append((prefix + sub + handler.separator, child))
        return sorted(names)

    xmlrpc_listMethods.signature = [["array"]]  # type: ignore[attr-defined]

    def xmlrpc_methodHelp(self, method: str) -> str:
        """
        :param method: a procedure name.
        :return: its ``help`` attribute, else its docstring, else ``""``.
        """
        function = self._parent.lookupProcedure(method)
        return getattr(function, "help", None) or (function.__doc__ or "").strip()

    xmlrpc_methodHelp.signature = [["string", "string"]]  # type: ignore[attr-defined]

    def xmlrpc_methodSignature(self, method: str) -> list[list[str]] | str:
        """
        :param method: a procedure name.
        :return: its ``signature`` attribute (a list of ``[returnType,
            argType, ...]`` lists), or ``""`` when it has none.
        """
        function = self._parent.lookupProcedure(method)
        return getattr(function, "signature", None) or ""

    xmlrpc_methodSignature.signature = [  # type: ignore[attr-defined]
        ["array", "string"],
        ["string", "string"],
    ]


def addIntrospection(xmlrpc: XMLRPC) -> None:
    """
    Add the ``system.*`` introspection procedures to ``xmlrpc``.

    :param xmlrpc: the server resource.
    """
    xmlrpc.putSubHandler("system", XMLRPCIntrospection(xmlrpc))


class _BoundedBody(Protocol):
    def __init__(self, limit: int, finished: Deferred[bytes]) -> None:
        self._limit = limit
        self._parts: list[bytes] = []
        self._size = 0
        self._finished = finished

    def dataReceived(self, data: bytes) -> None:
        if self._finished.called:
            return
        self._size += len(data)
        if self._size > self._limit:
            self._finished.errback(
                Failure(ValueError(f"XML-RPC response larger than {self._limit} bytes"))
            )
            self.transport.stopProducing()
            return
        self._parts.append(data)

    def connectionLost(self, reason: Failure | None = None) -> None:
        if self._finished.called:
            return
        from torsion.web.client import PotentialDataLoss, ResponseDone

        # ResponseDone: the whole body arrived.  PotentialDataLoss: a body
        # delimited by the connection's end, which is all there is.
        if reason is not None and reason.check(ResponseDone, PotentialDataLoss):
            self._finished.callback(b"".join(self._parts))
        else:
            self._finished.errback(
                reason
                if reason is not None
                else Failure(
                    ConnectionError("XML-RPC response body ended without a reason")
                )
            )


class Proxy:
    """
    A client for one XML-RPC endpoint.

    :param url: the endpoint URL (``http://`` or ``https://``), bytes or
        str; credentials in it (``http://user:pass@host/``) are used for
        HTTP basic authentication unless ``user`` is given.
    :param user: user name for HTTP basic authentication.
    :param password: password for HTTP basic authentication.
    :param allowNone: allow ``None`` in arguments.
    :param useDateTime: give ``datetime.datetime`` for date results.
    :param connectTimeout: seconds allowed for connecting.
    :param reactor: the reactor; the global one by default.

    :ivar maxResponseSize: the largest response body accepted (bytes).
    """

    maxResponseSize = 16 * 1024 * 1024

    def __init__(
        self,
        url: bytes | str,
        user: bytes | str | None = None,
        password: bytes | str | None = None,
        allowNone: bool = False,
        useDateTime: bool = False,
        connectTimeout: float = 30.0,
        reactor: Any = None,
    ) -> None:
        if isinstance(url, bytes):
            url = url.decode("ascii")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        if user is None and parts.username is not None:
            user = parts.username
            password = parts.password
        netloc = parts.netloc.rpartition("@")[2]
        self.url = urlunsplit(
            (parts.scheme, netloc, parts.path or "/", parts.query, "")
        )
        self.user = user.encode("utf-8") if isinstance(user, str) else user
        self.password = (
            password.encode("utf-8") if isinstance(password, str) else password
        )
        self.allowNone = allowNone
        self.useDateTime = useDateTime
        self.connectTimeout = connectTimeout
        if reactor is None:
            from torsion.internet import reactor as _reactor

            reactor = _reactor
        self._reactor = reactor

    def callRemote(self, method: str, *args: Any) -> Deferred[Any]:
        """
        Call remote procedure ``method`` with ``args``.

        :param method: the procedure name.
        :param args: its arguments (XML-RPC marshallable values).
        :return: a Deferred firing with the result; it fails with ``Fault``
            for an XML-RPC fault, ``ProxyError`` for an HTTP error, or the
            connection's error.
        """
        from torsion.web._clientbodies import _BytesProducer
        from torsion.web.client import Agent

        try:
            body = xmlrpc.client.dumps(
                tuple(args), method, allow_none=self.allowNone
            ).encode("utf-8")
        except Exception:
            return fail()
        headers = Headers(
            {
                b"content-type": [b"text/xml; charset=utf-8"],
                b"user-agent": [b"torsion XML-RPC"],
            }
        )
        if self.user is not None:
            credentials = self.user + b":" + (self.password or b"")
            headers.setRawHeaders(
                b"authorization", [b"Basic " + base64.b64encode(credentials)]
            )
        agent = Agent(self._reactor, connectTimeout=self.connectTimeout)
        d = agent.request(
            b"POST", self.url.encode("ascii"), headers, _BytesProducer(body)
        )
        return d.addCallback(self._gotResponse).addCallback(self._parse)

    def _gotResponse(self, response: Any) -> Deferred[bytes]:
        finished: Deferred[bytes] = Deferred()
        response.deliverBody(_BoundedBody(self.maxResponseSize, finished))
        if response.code != 200:

            def httpError(body: bytes) -> bytes:
                raise ProxyError(response.code, response.phrase, body[:1024])

            finished.addCallback(httpError)
        return finished

    def _parse(self, body: bytes) -> Any:
        values, _ = loads(body, useDateTime=self.useDateTime)
        return values[0]
