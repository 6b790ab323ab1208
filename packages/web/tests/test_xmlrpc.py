"""
Tests for torsion.web.xmlrpc: the ``XMLRPC`` resource rendered into memory
requests, the safe parser (no DTD, no entity expansion), introspection,
and ``Proxy`` against the standard library's ``SimpleXMLRPCServer``.
"""

from __future__ import annotations

import datetime
import threading
import time
import xmlrpc.client
from collections.abc import Iterator
from io import BytesIO
from typing import Any
from xmlrpc.server import SimpleXMLRPCServer

import pytest
from zope.interface.verify import verifyObject

from torsion.internet.defer import Deferred, succeed
from torsion.web._clientbodies import _BytesProducer
from torsion.web.iweb import IBodyProducer, IResource
from torsion.web.testing import DummyRequest, render
from torsion.web.xmlrpc import (
    FAILURE,
    NOT_FOUND,
    XMLRPC,
    Binary,
    Fault,
    Proxy,
    ProxyError,
    addIntrospection,
    loads,
    withRequest,
)


class Calculator(XMLRPC):
    def xmlrpc_add(self, a: int, b: int) -> int:
        """
        Add two numbers.
        """
        return a + b

    xmlrpc_add.signature = [["int", "int", "int"]]  # type: ignore[attr-defined]

    def xmlrpc_deferred(self, value: str) -> Deferred[str]:
        return succeed(value.upper())

    async def xmlrpc_coroutine(self, value: str) -> str:
        return value * 2

    def xmlrpc_fault(self) -> None:
        raise Fault(42, "the answer")

    def xmlrpc_returnFault(self) -> Fault:
        return Fault(7, "returned")

    def xmlrpc_crash(self) -> None:
        raise ZeroDivisionError("secret detail")

    def xmlrpc_none(self) -> None:
        return None

    def xmlrpc_echo(self, value: Any) -> Any:
        return value

    def xmlrpc_unserializable(self) -> object:
        return object()

    @withRequest
    def xmlrpc_peer(self, request: Any, suffix: str) -> str:
        return str(request.getClientAddress().host) + suffix

    @withRequest
    def xmlrpc_credentials(self, request: Any) -> list[str]:
        return [request.getUser().decode(), request.getPassword().decode()]


class Advanced(XMLRPC):
    def xmlrpc_mul(self, a: int, b: int) -> int:
        return a * b


def makeRoot(**kwargs: Any) -> XMLRPC:
    root = Calculator(**kwargs)
    root.putSubHandler("math", Advanced())
    addIntrospection(root)
    return root


async def call(
    resource: XMLRPC, method: str, *args: Any, body: bytes | None = None
) -> tuple[DummyRequest, Any]:
    request = DummyRequest([])
    request.method = b"POST"
    if body is None:
        body = xmlrpc.client.dumps(args, method, allow_none=True).encode()
    request.content = BytesIO(body)
    written = await render(resource, request)
    assert request.responseHeaders.getRawHeaders(b"content-type") == [
        b"text/xml; charset=utf-8"
    ]
    try:
        return request, xmlrpc.client.loads(written, use_builtin_types=True)[0][0]
    except Fault as fault:
        return request, fault


def test_interfaces() -> None:
    assert verifyObject(IResource, Calculator())
    assert verifyObject(IBodyProducer, _BytesProducer(b"x"))


async def test_call(reactor: Any) -> None:
    request, result = await call(makeRoot(), "add", 2, 3)
    assert request.code == 200
    assert result == 5


async def test_deferredAndCoroutineResults(reactor: Any) -> None:
    root = makeRoot()
    assert (await call(root, "deferred", "abc"))[1] == "ABC"
    assert (await call(root, "coroutine", "ab"))[1] == "abab"


async def test_faults(reactor: Any) -> None:
    root = makeRoot()
    fault = (await call(root, "fault"))[1]
    assert isinstance(fault, Fault) and (fault.faultCode, fault.faultString) == (
        42,
        "the answer",
    )
    fault = (await call(root, "returnFault"))[1]
    assert fault.faultCode == 7


async def test_unexpectedErrorIsAFailureFault(reactor: Any) -> None:
    fault = (await call(makeRoot(), "crash"))[1]
    assert isinstance(fault, Fault) and fault.faultCode == FAILURE
    assert "secret" not in fault.faultString


async def test_unknownProcedures(reactor: Any) -> None:
    root = makeRoot()
    for name in ("nope", "math.nope", "nohandler.add", "_private"):
        fault = (await call(root, name))[1]
        assert isinstance(fault, Fault) and fault.faultCode == NOT_FOUND, name


async def test_subHandler(reactor: Any) -> None:
    assert (await call(makeRoot(), "math.mul", 6, 7))[1] == 42


async def test_withRequest(reactor: Any) -> None:
    assert (await call(makeRoot(), "peer", "!"))[1] == "127.0.0.1!"


async def test_noneOnlyWhenAllowed(reactor: Any) -> None:
    fault = (await call(makeRoot(), "none"))[1]
    assert isinstance(fault, Fault) and fault.faultCode == FAILURE
    assert (await call(makeRoot(allowNone=True), "none"))[1] is None


async def test_unserializableResult(reactor: Any) -> None:
    fault = (await call(makeRoot(), "unserializable"))[1]
    assert isinstance(fault, Fault) and fault.faultCode == FAILURE


async def test_useDateTime(reactor: Any) -> None:
    seen: list[Any] = []

    class Recorder(XMLRPC):
        def xmlrpc_when(self, value: Any) -> bool:
            seen.append(value)
            return True

    when = datetime.datetime(2024, 5, 6, 7, 8, 9)
    await call(Recorder(), "when", when)
    await call(Recorder(useDateTime=True), "when", when)
    assert isinstance(seen[0], xmlrpc.client.DateTime)
    assert seen[1] == when


async def test_introspection(reactor: Any) -> None:
    root = makeRoot()
    methods = (await call(root, "system.listMethods"))[1]
    assert "add" in methods and "math.mul" in methods
    assert "system.listMethods" in methods
    assert (await call(root, "system.methodHelp", "add"))[1] == "Add two numbers."
    assert (await call(root, "system.methodSignature", "add"))[1] == [
        ["int", "int", "int"]
    ]
    assert (await call(root, "system.methodSignature", "echo"))[1] == ""
    fault = (await call(root, "system.methodHelp", "missing"))[1]
    assert fault.faultCode == NOT_FOUND


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not xml",
        b"<methodCall><methodName>add</methodName>",
        b"<?xml version='1.0'?><methodResponse><params><param><value><int>1"
        b"</int></value></param></params></methodResponse>",
    ],
)
async def test_malformedRequestsAreFaults(reactor: Any, body: bytes) -> None:
    request, fault = await call(makeRoot(), "", body=body)
    assert request.code == 200
    assert isinstance(fault, Fault) and fault.faultCode == FAILURE


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<methodCall><methodName>echo</methodName><params><param><value><string>&lol9;
</string></value></param></params></methodCall>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY ext SYSTEM "file:///etc/passwd">]>
<methodCall><methodName>echo</methodName><params><param><value><string>&ext;
</string></value></param></params></methodCall>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY])
async def test_entityDeclarationsRefused(reactor: Any, body: bytes) -> None:
    """
    A DOCTYPE (billion laughs, external entity) is answered with a fault,
    before any entity is declared or expanded.
    """
    echoed: list[Any] = []

    class Spy(Calculator):
        def xmlrpc_echo(self, value: Any) -> Any:
            echoed.append(value)
            return value

    started = time.monotonic()
    _request, fault = await call(Spy(), "", body=body)
    assert time.monotonic() - started < 5
    assert isinstance(fault, Fault) and fault.faultCode == FAILURE
    assert "document type" in fault.faultString
    assert echoed == []


def test_loadsRefusesDoctypeEvenInUTF16() -> None:
    body = BILLION_LAUGHS.replace(b'version="1.0"', b'version="1.0" encoding="utf-16"')
    with pytest.raises(ValueError, match="document type"):
        loads(body.decode().encode("utf-16"))


def test_loadsParsesResponses() -> None:
    body = xmlrpc.client.dumps((Binary(b"\x00\x01"),), methodresponse=True).encode()
    values, name = loads(body)
    assert name is None and values[0].data == b"\x00\x01"
    with pytest.raises(Fault):
        loads(xmlrpc.client.dumps(Fault(3, "x"), methodresponse=True).encode())


async def test_getIsNotAllowed(reactor: Any) -> None:
    request = DummyRequest([])
    await render(makeRoot(), request)
    assert request.code == 405


def test_proxyURLValidation() -> None:
    with pytest.raises(ValueError):
        Proxy(b"ftp://example.com/")
    proxy = Proxy("http://alice:s3cret@example.com:8080/RPC2")
    assert proxy.url == "http://example.com:8080/RPC2"
    assert (proxy.user, proxy.password) == (b"alice", b"s3cret")


# Proxy against the standard library's server


@pytest.fixture
def stdlibServer() -> Iterator[str]:
    server = SimpleXMLRPCServer(
        ("127.0.0.1", 0), logRequests=False, allow_none=True, use_builtin_types=True
    )
    server.register_function(lambda a, b: a + b, "add")
    server.register_function(lambda v: v, "echo")

    def boom() -> None:
        raise xmlrpc.client.Fault(99, "stdlib fault")

    server.register_function(boom, "boom")
    server.register_introspection_functions()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/RPC2"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


async def test_proxyAgainstStdlibServer(reactor: Any, stdlibServer: str) -> None:
    proxy = Proxy(stdlibServer.encode(), allowNone=True, useDateTime=True)
    assert await proxy.callRemote("add", 40, 2) == 42
    assert await proxy.callRemote("echo", None) is None
    when = datetime.datetime(2020, 1, 2, 3, 4, 5)
    assert await proxy.callRemote("echo", when) == when
    binary = await proxy.callRemote("echo", Binary(b"\x00\xff"))
    assert binary.data == b"\x00\xff"
    assert "add" in await proxy.callRemote("system.listMethods")
    with pytest.raises(Fault) as info:
        await proxy.callRemote("boom")
    assert info.value.faultCode == 99


async def test_proxyHTTPError(reactor: Any, stdlibServer: str) -> None:
    # SimpleXMLRPCServer answers 404 for paths other than /RPC2 and /.
    proxy = Proxy(stdlibServer.replace("/RPC2", "/elsewhere"))
    with pytest.raises(ProxyError) as info:
        await proxy.callRemote("add", 1, 2)
    assert info.value.status == 404


async def test_proxyResponseSizeLimit(reactor: Any, stdlibServer: str) -> None:
    proxy = Proxy(stdlibServer)
    proxy.maxResponseSize = 1000
    assert len(await proxy.callRemote("echo", "x" * 500)) == 500
    with pytest.raises(ValueError, match="larger than 1000"):
        await proxy.callRemote("echo", "x" * 2000)


async def test_proxyUnmarshallableArgument(reactor: Any) -> None:
    with pytest.raises(TypeError):
        await Proxy("http://127.0.0.1:1/").callRemote("x", object())


# Over a real Site: the standard library's ServerProxy and torsion's Proxy


@pytest.fixture
def site() -> Any:
    from torsion.web.resource import Resource
    from torsion.web.server import Site

    root = Resource()
    root.putChild(b"RPC2", makeRoot(allowNone=True))
    return Site(root)


async def test_stdlibClientAgainstTorsion(reactor: Any, site: Any) -> None:
    from webhelpers import inThread, listen

    port = listen(reactor, site)
    url = f"http://127.0.0.1:{port.getHost().port}/RPC2"

    def client() -> dict[str, Any]:
        proxy = xmlrpc.client.ServerProxy(url, allow_none=True, use_builtin_types=True)
        out: dict[str, Any] = {
            "add": proxy.add(2, 3),
            "mul": proxy.math.mul(4, 5),
            "deferred": proxy.deferred("abc"),
            "coroutine": proxy.coroutine("xy"),
            "none": proxy.none(),
            "date": proxy.echo(datetime.datetime(2001, 2, 3, 4, 5, 6)),
            "binary": proxy.echo(b"\x00\x01\xff"),
            "nested": proxy.echo({"a": [1, 2.5, True, "s"]}),
            "methods": proxy.system.listMethods(),
            "help": proxy.system.methodHelp("add"),
            "signature": proxy.system.methodSignature("add"),
        }
        for name in ("fault", "nope"):
            try:
                getattr(proxy, name)()
            except xmlrpc.client.Fault as e:
                out[name] = e.faultCode
        proxy("close")()
        return out

    try:
        out = await inThread(client)
    finally:
        await port.stopListening()
    assert out.pop("methods")[:3] == ["add", "coroutine", "crash"]
    assert out == {
        "add": 5,
        "mul": 20,
        "deferred": "ABC",
        "coroutine": "xyxy",
        "none": None,
        "date": datetime.datetime(2001, 2, 3, 4, 5, 6),
        "binary": b"\x00\x01\xff",
        "nested": {"a": [1, 2.5, True, "s"]},
        "help": "Add two numbers.",
        "signature": [["int", "int", "int"]],
        "fault": 42,
        "nope": NOT_FOUND,
    }


async def test_torsionProxyAgainstTorsion(reactor: Any, site: Any) -> None:
    from webhelpers import listen

    port = listen(reactor, site)
    try:
        proxy = Proxy(f"http://127.0.0.1:{port.getHost().port}/RPC2", allowNone=True)
        assert await proxy.callRemote("add", 1, 2) == 3
        assert await proxy.callRemote("math.mul", 3, 3) == 9
        assert await proxy.callRemote("none") is None
        assert await proxy.callRemote("credentials") == ["", ""]
        base = f"127.0.0.1:{port.getHost().port}/RPC2"
        withUser = Proxy(f"http://{base}", user="alice", password="s3cr:et")
        assert await withUser.callRemote("credentials") == ["alice", "s3cr:et"]
        inURL = Proxy(f"http://bob:pw@{base}")
        assert await inURL.callRemote("credentials") == ["bob", "pw"]
        with pytest.raises(Fault) as info:
            await proxy.callRemote("fault")
        assert info.value.faultCode == 42
        with pytest.raises(ProxyError) as error:
            await Proxy(f"http://127.0.0.1:{port.getHost().port}/missing").callRemote(
                "add", 1, 2
            )
        assert error.value.status == 404
    finally:
        await port.stopListening()


async def test_billionLaughsOverHTTP(reactor: Any, site: Any) -> None:
    from webhelpers import inThread, listen

    port = listen(reactor, site)
    url = f"http://127.0.0.1:{port.getHost().port}/RPC2"

    def post(body: bytes) -> tuple[int, bytes]:
        import urllib.request

        request = urllib.request.Request(
            url, data=body, headers={"Content-Type": "text/xml"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    try:
        status, body = await inThread(post, BILLION_LAUGHS)
        tooBig, _ = await inThread(post, b"<a>" + b"x" * (site.maxRequestBody + 1))
    finally:
        await port.stopListening()
    assert status == 200
    with pytest.raises(Fault) as info:
        xmlrpc.client.loads(body)
    assert info.value.faultCode == FAILURE
    assert tooBig == 413
