"""
Tests for ``torsion.web.client`` against real servers on loopback: Python's
``http.server`` (a foreign implementation), a small forward proxy built on
it, and a TLS server with a test certificate authority.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import inspect
import io
import json
import os
import select
import socket
import ssl as stdlib_ssl
import threading
from http import cookiejar
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from peerhelpers import deadPort
from zope.interface.verify import verifyObject

from torsion.internet import defer
from torsion.internet.defer import Deferred
from torsion.internet.endpoints import TCP4ClientEndpoint
from torsion.internet.protocol import Factory, Protocol
from torsion.web import client
from torsion.web.client import (
    URI,
    Agent,
    BrowserLikePolicyForHTTPS,
    BrowserLikeRedirectAgent,
    ContentDecoderAgent,
    CookieAgent,
    DecompressionTooLarge,
    FileBodyProducer,
    GzipDecoder,
    HTTPConnectionPool,
    InfiniteRedirection,
    ProxyAgent,
    RedirectAgent,
    RedirectBodyNotReplayable,
    RedirectWithNoLocation,
    ResponseFailed,
    ResponseNeverReceived,
    ResponseTooLarge,
    TunnelError,
    readBody,
)
from torsion.web.http_headers import Headers
from torsion.web.iweb import (
    UNKNOWN_LENGTH,
    IAgent,
    IBodyProducer,
    IPolicyForHTTPS,
    IResponse,
)

# -- a foreign server -----------------------------------------------------------


def post(
    agent: Any, target: bytes, data: bytes, headers: Headers | None = None
) -> Deferred[Any]:
    """
    ``POST`` ``data`` to ``target`` with ``agent``.
    """
    d: Deferred[Any] = agent.request(
        b"POST", target, headers, FileBodyProducer(io.BytesIO(data))
    )
    return d


async def echoed(response: Any) -> Any:
    """
    :return: the request the ``/echo`` route saw, decoded from its JSON.
    """
    return json.loads(await readBody(response))


def readRequestBody(handler: http.server.BaseHTTPRequestHandler) -> bytes:
    if handler.headers.get("Transfer-Encoding", "").lower() == "chunked":
        pieces: list[bytes] = []
        while True:
            size = int(handler.rfile.readline().split(b";")[0], 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b""):
                    pass
                return b"".join(pieces)
            pieces.append(handler.rfile.read(size))
            handler.rfile.readline()
    length = int(handler.headers.get("Content-Length") or 0)
    return handler.rfile.read(length)


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def reply(
        self,
        code: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        length: bool = True,
    ) -> None:
        self.send_response(code)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if length:
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def handle_one_request(self) -> None:
        super().handle_one_request()

    def route(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        body = readRequestBody(self)
        self.server.seen.append(
            {
                "method": self.command,
                "path": self.path,
                "headers": dict(self.headers.items()),
                "body": body,
                "port": self.client_address[1],
            }
        )
        path = url.path
        if path == "/echo":
            data = json.dumps(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body.decode("latin-1"),
                    "port": self.client_address[1],
                }
            ).encode()
            self.reply(200, data, {"Content-Type": "application/json"})
        elif path == "/redirect":
            self.reply(
                int(query.get("code", "302")), b"moved", {"Location": query["to"]}
            )
        elif path == "/loop":
            self.reply(302, b"", {"Location": "/loop"})
        elif path == "/nolocation":
            self.reply(302, b"")
        elif path == "/gzip":
            self.reply(
                200,
                gzip.compress(b"hello gzip " * 1000),
                {"Content-Encoding": "gzip"},
            )
        elif path == "/truncated":
            self.reply(
                200,
                gzip.compress(os.urandom(5000))[:-100],
                {"Content-Encoding": "gzip"},
            )
        elif path == "/notgzip":
            self.reply(200, b"plain, not gzip", {"Content-Encoding": "gzip"})
        elif path == "/bomb":
            self.reply(200, self.server.bomb, {"Content-Encoding": "gzip"})
        elif path == "/setcookie":
            self.reply(200, b"ok", {"Set-Cookie": "flavour=oat; Path=/"})
        elif path == "/untilclose":
            self.reply(200, b"until the end", length=False)
        elif path == "/big":
            self.reply(200, b"x" * 1_000_000)
        elif path == "/text":
            self.reply(
                200,
                "caf\xe9".encode("latin-1"),
                {"Content-Type": "text/plain; charset=latin-1"},
            )
        else:
            self.reply(404, b"no such page")

    do_GET = do_POST = do_PUT = do_HEAD = do_DELETE = do_PATCH = route


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    seen: list[dict[str, Any]]
    bomb: bytes = b""
    refuse = False


class Servers:
    """
    Starts ``http.server`` servers in threads; ``stop`` shuts them down.
    """

    def __init__(self) -> None:
        self.servers: list[Server] = []

    def __call__(self, handler: type = Handler, context: Any = None) -> Server:
        cls = Server if context is None else tlsServerClass(context)
        server: Server = cls(("127.0.0.1", 0), handler)
        server.seen = []
        thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        thread.start()
        self.servers.append(server)
        return server

    def stop(self) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def tlsServerClass(context: Any) -> type:
    class TLSServer(Server):
        def get_request(self) -> Any:
            sock, addr = self.socket.accept()
            sock.settimeout(10)
            try:
                return context.wrap_socket(sock, server_side=True), addr
            except (OSError, stdlib_ssl.SSLError):
                sock.close()
                raise

    return TLSServer


def url(
    server: Server, path: str, scheme: str = "http", host: str = "127.0.0.1"
) -> bytes:
    return f"{scheme}://{host}:{server.server_address[1]}{path}".encode()


def withPool(test: Any) -> Any:
    """
    Give an async test a persistent ``pool`` and a ``serve`` function
    starting ``http.server`` servers; both are closed when the test ends so
    the reactor is left clean.
    """

    signature = inspect.signature(test)
    wanted = set(signature.parameters)

    @functools.wraps(test)
    async def wrapper(reactor: Any, **kwargs: Any) -> Any:
        pool = HTTPConnectionPool(reactor)
        servers = Servers()
        extra: dict[str, Any] = {"pool": pool}
        if "serve" in wanted:
            extra["serve"] = servers
        try:
            return await test(reactor, **extra, **kwargs)
        finally:
            await pool.closeCachedConnections()
            await client.closeDefaultPool(reactor)
            servers.stop()

    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[
            p for p in signature.parameters.values() if p.name not in ("pool", "serve")
        ]
    )
    return wrapper


# -- interfaces -----------------------------------------------------------------


def test_interfaces(reactor: Any) -> None:
    agent = Agent(reactor)
    for provider in (
        agent,
        RedirectAgent(agent),
        BrowserLikeRedirectAgent(agent),
        ContentDecoderAgent(agent, [(b"gzip", GzipDecoder)]),
        CookieAgent(agent, cookiejar.CookieJar()),
        ProxyAgent(TCP4ClientEndpoint(reactor, "127.0.0.1", 1), reactor),
    ):
        assert verifyObject(IAgent, provider)
    assert verifyObject(IPolicyForHTTPS, BrowserLikePolicyForHTTPS())
    from torsion.web._newclient import Response

    response = Response((b"HTTP", 1, 1), 200, b"OK", Headers(), None)
    assert verifyObject(IResponse, GzipDecoder(response))
    assert verifyObject(IBodyProducer, FileBodyProducer(io.BytesIO(b"abc")))


def test_uri() -> None:
    uri = URI.fromBytes(b"https://Example.com:8443/a/b;p?q=1#frag")
    assert (uri.scheme, uri.host, uri.port) == (b"https", b"example.com", 8443)
    assert uri.path == b"/a/b" and uri.params == b"p" and uri.query == b"q=1"
    assert uri.originForm == b"/a/b;p?q=1"
    assert uri.toBytes() == b"https://Example.com:8443/a/b;p?q=1#frag"
    assert URI.fromBytes(b"http://h").port == 80
    assert URI.fromBytes(b"http://h").originForm == b"/"
    assert URI.fromBytes(b"https://[::1]/").host == b"::1"
    for bad in (b"/relative", b"http://", b"http://h:99999/", b"http://h/a b"):
        with pytest.raises(ValueError):
            URI.fromBytes(bad)


@pytest.mark.parametrize(
    "method,uri",
    [
        (b"GET\r\nX: y", b"http://127.0.0.1:1/"),
        (b"GET", b"http://127.0.0.1:1/a b"),
        (b"GET", b"http://127.0.0.1:1/a\r\nX: y"),
        (b"GET", b"http://127.0.0.1:1/\x00"),
    ],
)
def test_HTTP_13_agentRejectsBeforeConnecting(
    reactor: Any, method: bytes, uri: bytes
) -> None:
    connected: list[Any] = []

    class Recording:
        def endpointForURI(self, uri: Any) -> Any:
            connected.append(uri)
            raise AssertionError("must not connect")

    agent = Agent.usingEndpointFactory(reactor, Recording())
    with pytest.raises(ValueError):
        agent.request(method, uri)
    assert connected == []


def test_HTTP_13_shortAPI(reactor: Any) -> None:
    with pytest.raises(ValueError):
        client.get("http://127.0.0.1:1/a\r\nX: y", reactor=reactor)
    with pytest.raises(ValueError):
        client.get("http://127.0.0.1:1/", headers={"X": "a\r\nY: b"}, reactor=reactor)
    with pytest.raises(ValueError):
        client.request("GET /x", "http://127.0.0.1:1/", reactor=reactor)


# -- against http.server --------------------------------------------------------


@withPool
async def test_getAndKeepAlive(reactor: Any, serve: Any, pool: Any) -> None:
    server = serve()
    agent = Agent(reactor, pool=pool)
    bodies = []
    for i in range(3):
        response = await agent.request(b"GET", url(server, f"/echo?n={i}"))
        assert verifyObject(IResponse, response)
        assert response.code == 200
        bodies.append(await echoed(response))
    assert [b["path"] for b in bodies] == ["/echo?n=0", "/echo?n=1", "/echo?n=2"]
    # One connection carried all three: the server saw one client port.
    assert len({s["port"] for s in server.seen}) == 1
    assert bodies[0]["headers"]["host"] == f"127.0.0.1:{server.server_address[1]}"
    assert "connection" not in bodies[0]["headers"]


@withPool
async def test_nonPersistentAgent(reactor: Any, serve: Any, pool: Any) -> None:
    server = serve()
    agent = Agent(reactor)
    for _ in range(2):
        response = await agent.request(b"GET", url(server, "/echo"))
        body = await echoed(response)
        assert body["headers"]["connection"] == "close"
    assert len({s["port"] for s in server.seen}) == 2


@withPool
async def test_post(reactor: Any, serve: Any, pool: Any) -> None:
    server = serve()
    agent = Agent(reactor, pool=pool)
    response = await post(
        agent,
        url(server, "/echo"),
        b"posted body",
        Headers({b"content-type": [b"text/plain"]}),
    )
    body = await echoed(response)
    assert body["method"] == "POST"
    assert body["body"] == "posted body"
    assert body["headers"]["content-length"] == "11"


class Unseekable(io.RawIOBase):
    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        return self._data.read(n)


@withPool
async def test_chunkedUpload(reactor: Any, serve: Any, pool: Any) -> None:
    server = serve()
    agent = Agent(reactor, pool=pool)
    producer = FileBodyProducer(Unseekable(b"z" * 200_000), readSize=7000)
    assert producer.length is UNKNOWN_LENGTH
    response = await agent.request(b"PUT", url(server, "/echo"), None, producer)
    body = await echoed(response)
    assert body["headers"]["transfer-encoding"] == "chunked"
    assert body["body"] == "z" * 200_000


@withPool
async def test_expectContinue(reactor: Any, serve: Any, pool: Any) -> None:
    server = serve()
    agent = Agent(reactor, pool=pool)
    response = await post(
        agent,
        url(server, "/echo"),
        b"after continue",
        Headers({b"expect": [b"100-continue"]}),
    )
    body = await echoed(response)
    assert body["body"] == "after continue"


@withPool
async def test_head(reactor: Any, serve: Any, pool: Any) -> None:
    server = serve()
    agent = Agent(reactor, pool=pool)
    response = await agent.request(b"HEAD", url(server, "/big"))
    assert response.headers.getRawHeaders(b"content-length") == [b"1000000"]
    assert await readBody(response) == b""
    response = await agent.request(b"GET", url(server, "/echo"))
    await readBody(response)
    assert len({s["port"] for s in server.seen}) == 1


@withPool
async def test_untilClose(reactor: Any, serve: Any, pool: Any) -> None:
    server = serve()
    agent = Agent(reactor, pool=pool)
    response = await agent.request(b"GET", url(server, "/untilclose"))
    with pytest.raises(client.PartialDownloadError) as e:
        await readBody(response)
    assert e.value.response == b"until the end"


@withPool
async def test_readBodyMaxSize(reactor: Any, serve: Any, pool: Any) -> None:
    server = serve()
    agent = Agent(reactor, pool=pool)
    response = await agent.request(b"GET", url(server, "/big"))
    with pytest.raises(ResponseTooLarge):
        await readBody(response, maxSize=999_999)
    # The half-read connection was dropped, not reused.
    response = await agent.request(b"GET", url(server, "/big"))
    assert len(await readBody(response, maxSize=1_000_000)) == 1_000_000
    assert len({s["port"] for s in server.seen}) == 2


async def test_connectionRefused(reactor: Any) -> None:
    agent = Agent(reactor)
    with pytest.raises(Exception) as e:
        await agent.request(b"GET", b"http://127.0.0.1:%d/" % deadPort())
    assert "refused" in str(e.value).lower() or "Refused" in type(e.value).__name__


# -- redirects ------------------------------------------------------------------


@withPool
async def test_HTTP_14_crossOriginRedirectDropsCredentials(
    reactor: Any, serve: Any, pool: Any
) -> None:
    a, b = serve(), serve()
    agent = RedirectAgent(Agent(reactor, pool=pool))
    target = url(b, "/echo").decode()
    response = await agent.request(
        b"GET",
        url(a, "/redirect?code=302&to=" + target),
        Headers(
            {
                b"authorization": [b"Bearer secret"],
                b"cookie": [b"session=secret"],
                b"proxy-authorization": [b"Basic secret"],
                b"x-harmless": [b"kept"],
            }
        ),
    )
    body = await echoed(response)
    assert body["headers"]["x-harmless"] == "kept"
    for name in ("authorization", "cookie", "proxy-authorization"):
        assert name not in body["headers"]
    assert body["headers"]["host"] == f"127.0.0.1:{b.server_address[1]}"
    assert response.previousResponse.code == 302
    assert response.request.absoluteURI == target.encode()


@withPool
async def test_HTTP_14_sameOriginRedirectKeepsCredentials(
    reactor: Any, serve: Any, pool: Any
) -> None:
    a = serve()
    agent = RedirectAgent(Agent(reactor, pool=pool))
    response = await agent.request(
        b"GET",
        url(a, "/redirect?code=301&to=/echo"),
        Headers({b"authorization": [b"Bearer secret"]}),
    )
    body = await echoed(response)
    assert body["headers"]["authorization"] == "Bearer secret"
    # The redirect's connection was reused for the next request.
    assert len({s["port"] for s in a.seen}) == 1


@withPool
async def test_HTTP_14_redirectLimit(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    agent = RedirectAgent(Agent(reactor, pool=pool), redirectLimit=3)
    with pytest.raises(ResponseFailed) as e:
        await agent.request(b"GET", url(a, "/loop"))
    assert e.value.reasons[0].check(InfiniteRedirection)
    assert len(a.seen) == 4


@withPool
async def test_redirectWithoutLocation(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    agent = RedirectAgent(Agent(reactor, pool=pool))
    with pytest.raises(ResponseFailed) as e:
        await agent.request(b"GET", url(a, "/nolocation"))
    assert e.value.reasons[0].check(RedirectWithNoLocation)


@withPool
async def test_seeOtherBecomesGet(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    agent = RedirectAgent(Agent(reactor, pool=pool))
    response = await post(agent, url(a, "/redirect?code=303&to=/echo"), b"data")
    body = await echoed(response)
    assert (body["method"], body["body"]) == ("GET", "")


@withPool
@pytest.mark.parametrize("code", [307, 308])
async def test_temporaryRedirectReplaysBody(
    reactor: Any, serve: Any, pool: Any, code: int
) -> None:
    a = serve()
    agent = RedirectAgent(Agent(reactor, pool=pool))
    response = await post(agent, url(a, f"/redirect?code={code}&to=/echo"), b"replayed")
    body = await echoed(response)
    assert (body["method"], body["body"]) == ("POST", "replayed")


@withPool
async def test_temporaryRedirectUnreplayableBody(
    reactor: Any, serve: Any, pool: Any
) -> None:
    a = serve()
    agent = RedirectAgent(Agent(reactor, pool=pool))
    with pytest.raises(ResponseFailed) as e:
        await agent.request(
            b"POST",
            url(a, "/redirect?code=307&to=/echo"),
            None,
            FileBodyProducer(Unseekable(b"once")),
        )
    assert e.value.reasons[0].check(RedirectBodyNotReplayable)


@withPool
async def test_postRedirect(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    strict = RedirectAgent(Agent(reactor, pool=pool))
    response = await post(strict, url(a, "/redirect?code=302&to=/echo"), b"x")
    assert response.code == 302
    await readBody(response)
    browser = BrowserLikeRedirectAgent(Agent(reactor, pool=pool))
    response = await post(browser, url(a, "/redirect?code=302&to=/echo"), b"x")
    body = await echoed(response)
    assert (body["method"], body["body"]) == ("GET", "")


# -- decoding and cookies -------------------------------------------------------


@withPool
async def test_gzip(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    agent = ContentDecoderAgent(Agent(reactor, pool=pool), [(b"gzip", GzipDecoder)])
    response = await agent.request(b"GET", url(a, "/gzip"))
    assert await readBody(response) == b"hello gzip " * 1000
    assert not response.headers.hasHeader(b"content-encoding")
    assert response.length is UNKNOWN_LENGTH
    assert a.seen[0]["headers"]["Accept-Encoding"] == "gzip"


@withPool
async def test_gzipBombRefused(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    a.bomb = gzip.compress(b"\0" * (8 * 1024 * 1024), compresslevel=9)
    assert len(a.bomb) < 10_000
    decoder = functools.partial(GzipDecoder, maxSize=1024 * 1024)
    agent = ContentDecoderAgent(Agent(reactor, pool=pool), [(b"gzip", decoder)])
    response = await agent.request(b"GET", url(a, "/bomb"))
    with pytest.raises(ResponseFailed) as e:
        await readBody(response)
    assert e.value.reasons[0].check(DecompressionTooLarge)
    assert client.DEFAULT_MAX_DECOMPRESSED_SIZE == 100 * 1024 * 1024


@withPool
@pytest.mark.parametrize("path", ["/truncated", "/notgzip"])
async def test_gzipBroken(reactor: Any, serve: Any, pool: Any, path: str) -> None:
    import zlib

    a = serve()
    agent = ContentDecoderAgent(Agent(reactor, pool=pool), [(b"gzip", GzipDecoder)])
    response = await agent.request(b"GET", url(a, path))
    with pytest.raises(ResponseFailed) as e:
        await readBody(response)
    assert e.value.reasons[0].check(zlib.error)


@withPool
async def test_gzipAtTheLimit(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    a.bomb = gzip.compress(b"\0" * 4096)
    for limit, ok in ((4096, True), (4095, False)):
        decoder = functools.partial(GzipDecoder, maxSize=limit)
        agent = ContentDecoderAgent(Agent(reactor, pool=pool), [(b"gzip", decoder)])
        response = await agent.request(b"GET", url(a, "/bomb"))
        if ok:
            assert len(await readBody(response)) == 4096
        else:
            with pytest.raises(ResponseFailed):
                await readBody(response)


@withPool
async def test_cookies(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    jar = cookiejar.CookieJar()
    agent = CookieAgent(Agent(reactor, pool=pool), jar)
    response = await agent.request(b"GET", url(a, "/setcookie"))
    await readBody(response)
    assert [c.name for c in jar] == ["flavour"]
    response = await agent.request(b"GET", url(a, "/echo"))
    body = await echoed(response)
    assert body["headers"]["cookie"] == "flavour=oat"


# -- proxies --------------------------------------------------------------------


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    """
    A small forward proxy: absolute-form requests are relayed with
    ``http.client``; ``CONNECT`` opens a tunnel.
    """

    protocol_version = "HTTP/1.1"
    server: Any

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def relay(self) -> None:
        import http.client

        self.server.seen.append((self.command, self.path))
        parts = urlsplit(self.path)
        body = readRequestBody(self)
        upstream = http.client.HTTPConnection(
            parts.hostname or "", parts.port, timeout=10
        )
        headers = {
            k: v
            for k, v in self.headers.items()
            if k.lower() not in ("proxy-authorization", "connection")
        }
        target = parts.path + ("?" + parts.query if parts.query else "")
        upstream.request(self.command, target, body or None, headers)
        answer = upstream.getresponse()
        data = answer.read()
        self.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in (
                "transfer-encoding",
                "content-length",
                "connection",
            ):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        upstream.close()

    do_GET = do_POST = relay

    def do_CONNECT(self) -> None:
        self.server.seen.append(("CONNECT", self.path))
        host, _, port = self.path.rpartition(":")
        if self.server.refuse:
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        upstream = socket.create_connection((host, int(port)))
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        sockets = [self.connection, upstream]
        try:
            while True:
                readable, _, _ = select.select(sockets, [], [], 10)
                if not readable:
                    return
                for s in readable:
                    data = s.recv(65536)
                    if not data:
                        return
                    (upstream if s is self.connection else self.connection).sendall(
                        data
                    )
        finally:
            upstream.close()
            self.close_connection = True


@withPool
async def test_httpProxy(reactor: Any, serve: Any, pool: Any) -> None:
    origin = serve()
    proxy = serve(ProxyHandler)
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", proxy.server_address[1])
    agent = ProxyAgent(endpoint, reactor, pool=pool)
    for _ in range(2):
        response = await agent.request(b"GET", url(origin, "/echo?via=proxy"))
        body = await echoed(response)
        assert body["path"] == "/echo?via=proxy"
    assert proxy.seen == [("GET", url(origin, "/echo?via=proxy").decode())] * 2


# -- HTTPS ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: Any) -> dict[str, Any]:
    from torsion.internet import ssl

    ca = ssl.KeyPair.generate("ec").selfSignedCert(1, isCA=True, commonName="Test CA")
    server = ca.issue("localhost", hostnames=["localhost"])
    directory = tmp_path_factory.mktemp("tls")
    pem = directory / "server.pem"
    pem.write_bytes(server.dumpPEM())
    return {"ca": ca, "pem": str(pem)}


def serverContext(certificates: dict[str, Any]) -> Any:
    context = stdlib_ssl.SSLContext(stdlib_ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificates["pem"])
    return context


def trusting(certificates: dict[str, Any]) -> BrowserLikePolicyForHTTPS:
    from torsion.internet import ssl

    return BrowserLikePolicyForHTTPS(
        ssl.trustRootFromCertificates([certificates["ca"]])
    )


@withPool
async def test_https(reactor: Any, serve: Any, certificates: Any, pool: Any) -> None:
    tls = serve(context=serverContext(certificates))
    agent = Agent(reactor, trusting(certificates), pool=pool)
    for _ in range(2):
        response = await agent.request(b"GET", url(tls, "/echo", "https", "localhost"))
        body = await echoed(response)
        assert body["headers"]["host"] == f"localhost:{tls.server_address[1]}"
    assert len({s["port"] for s in tls.seen}) == 1


@withPool
async def test_httpsWrongHost(
    reactor: Any, serve: Any, certificates: Any, pool: Any
) -> None:
    from torsion.internet.ssl import VerificationError

    tls = serve(context=serverContext(certificates))
    agent = Agent(reactor, trusting(certificates))
    with pytest.raises(ResponseNeverReceived) as e:
        await agent.request(b"GET", url(tls, "/echo", "https", "127.0.0.1"))
    assert e.value.reasons[0].check(VerificationError)
    assert "127.0.0.1" in str(e.value.reasons[0].value)
    assert tls.seen == []


@withPool
async def test_httpsUntrusted(
    reactor: Any, serve: Any, certificates: Any, pool: Any
) -> None:
    from torsion.internet.ssl import VerificationError

    tls = serve(context=serverContext(certificates))
    agent = Agent(reactor)
    with pytest.raises(ResponseNeverReceived) as e:
        await agent.request(b"GET", url(tls, "/echo", "https", "localhost"))
    assert e.value.reasons[0].check(VerificationError)
    assert tls.seen == []


@withPool
async def test_httpsThroughProxyTunnel(
    reactor: Any, serve: Any, certificates: Any, pool: Any
) -> None:
    tls = serve(context=serverContext(certificates))
    proxy = serve(ProxyHandler)
    proxy.refuse = False
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", proxy.server_address[1])
    agent = ProxyAgent(
        endpoint, reactor, pool=pool, contextFactory=trusting(certificates)
    )
    response = await agent.request(
        b"GET", url(tls, "/echo?tunnel=1", "https", "localhost")
    )
    body = await echoed(response)
    assert body["path"] == "/echo?tunnel=1"
    assert proxy.seen == [("CONNECT", f"localhost:{tls.server_address[1]}")]


@withPool
async def test_proxyRefusesTunnel(
    reactor: Any, serve: Any, certificates: Any, pool: Any
) -> None:
    proxy = serve(ProxyHandler)
    proxy.refuse = True
    endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", proxy.server_address[1])
    agent = ProxyAgent(
        endpoint, reactor, pool=pool, contextFactory=trusting(certificates)
    )
    with pytest.raises(TunnelError) as e:
        await agent.request(b"GET", b"https://localhost:1/")
    assert e.value.code == 403


# -- the pool -------------------------------------------------------------------


class ClosingAfterResponse(Protocol):
    """
    A server that answers one request on each connection with keep-alive,
    then drops the next request without answering.
    """

    def connectionMade(self) -> None:
        self.answered = False
        self.factory.connections += 1

    def dataReceived(self, data: bytes) -> None:
        if not self.answered:
            self.answered = True
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        else:
            self.transport.loseConnection()


@withPool
async def test_retryOnStaleConnection(reactor: Any, pool: Any) -> None:
    factory = Factory.forProtocol(ClosingAfterResponse)
    factory.connections = 0
    port = reactor.listenTCP(0, factory, interface="127.0.0.1")
    try:
        agent = Agent(reactor, pool=pool)
        target = b"http://127.0.0.1:%d/" % port.getHost().port
        for _ in range(3):
            response = await agent.request(b"GET", target)
            assert await readBody(response) == b"ok"
        # Every reuse failed without an answer and was retried once.
        assert factory.connections == 3
        # A POST is not retried: the server may have acted on it.
        with pytest.raises(ResponseNeverReceived):
            await agent.request(b"POST", target)
    finally:
        await port.stopListening()


@withPool
async def test_poolLimitsIdleConnections(reactor: Any, serve: Any, pool: Any) -> None:
    server = serve()
    pool = HTTPConnectionPool(reactor)
    pool.maxPersistentPerHost = 1
    agent = Agent(reactor, pool=pool)
    try:
        responses = await defer.gatherResults(
            [agent.request(b"GET", url(server, "/echo")) for _ in range(3)]
        )
        for response in responses:
            await readBody(response)
        assert sum(len(c) for c in pool._connections.values()) == 1
    finally:
        await pool.closeCachedConnections()


@withPool
async def test_idleTimeout(reactor: Any, serve: Any, pool: Any) -> None:
    from torsion.internet.task import Clock

    server = serve()
    clock = Clock()

    class Clocked(HTTPConnectionPool):
        pass

    pool = Clocked(reactor)
    agent = Agent(reactor, pool=pool)
    pool._reactor = clock
    response = await agent.request(b"GET", url(server, "/echo"))
    await readBody(response)
    assert len(clock.getDelayedCalls()) == 1
    lost: Deferred[None] = Deferred()
    connection = next(iter(pool._connections.values()))[0]
    connection._lostDeferreds.append(lost)
    clock.advance(HTTPConnectionPool.cachedConnectionTimeout)
    await lost
    assert pool._connections == {}


# -- the short API --------------------------------------------------------------


@withPool
async def test_shortGet(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    response = await client.get(
        url(a, "/echo").decode(),
        params={"q": "a b", "n": ["1", "2"]},
        headers={"X-Y": "z"},
    )
    assert response.code == 200
    body = await response.json()
    assert body["path"] == "/echo?q=a+b&n=1&n=2"
    assert body["headers"]["x-y"] == "z"
    assert await response.content() == await response.content()
    assert response.headers.getRawHeaders("content-type") == ["application/json"]


@withPool
async def test_shortPostJsonAndData(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    response = await client.post(url(a, "/echo"), json={"a": [1, 2]})
    body = await response.json()
    assert json.loads(body["body"]) == {"a": [1, 2]}
    assert body["headers"]["content-type"] == "application/json"
    response = await client.put(url(a, "/echo"), data={"k": "v w"})
    body = await response.json()
    assert (body["method"], body["body"]) == ("PUT", "k=v+w")
    response = await client.patch(url(a, "/echo"), data=b"raw")
    assert (await response.json())["body"] == "raw"
    response = await client.delete(url(a, "/echo"))
    assert (await response.json())["method"] == "DELETE"
    response = await client.head(url(a, "/echo"))
    assert await response.content() == b""


@withPool
async def test_shortRedirectsGzipText(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    response = await client.get(url(a, "/redirect?to=/gzip"))
    assert await response.text() == "hello gzip " * 1000
    assert response.previousResponse.code == 302
    response = await client.get(url(a, "/redirect?to=/gzip"), allowRedirects=False)
    assert response.code == 302
    assert await response.content() == b"moved"
    response = await client.get(url(a, "/text"))
    assert await response.text() == "caf\xe9"


@withPool
async def test_shortMaxBodySize(reactor: Any, serve: Any, pool: Any) -> None:
    a = serve()
    response = await client.get(url(a, "/big"), maxBodySize=1000)
    with pytest.raises(ResponseTooLarge):
        await response.content()
    with pytest.raises(ResponseTooLarge):
        await response.text()


class Silent(Protocol):
    def dataReceived(self, data: bytes) -> None:
        pass


@withPool
async def test_shortTimeout(reactor: Any, pool: Any) -> None:
    port = reactor.listenTCP(0, Factory.forProtocol(Silent), interface="127.0.0.1")
    try:
        with pytest.raises(defer.TimeoutError):
            await client.get(f"http://127.0.0.1:{port.getHost().port}/", timeout=0.2)
    finally:
        await port.stopListening()


def test_fileBodyProducerLength() -> None:
    data = io.BytesIO(b"0123456789")
    data.seek(3)
    assert FileBodyProducer(data).length == 7
    assert data.tell() == 3
    assert FileBodyProducer(Unseekable(b"abc")).length is UNKNOWN_LENGTH


def test_fileBodyProducerPauseResume() -> None:
    from torsion.internet.task import Cooperator

    steps: list[Any] = []

    def schedule(work: Any) -> Any:
        steps.append(work)
        return _Delayed()

    cooperator = Cooperator(
        terminationPredicateFactory=lambda: lambda: True, scheduler=schedule
    )
    written: list[bytes] = []

    class Consumer:
        def write(self, data: bytes) -> None:
            written.append(data)

    producer = FileBodyProducer(io.BytesIO(b"abcdef"), cooperator, readSize=2)
    done = producer.startProducing(Consumer())
    steps.pop(0)()
    first = list(written)
    assert first and first[0] == b"ab"
    producer.pauseProducing()
    while steps:
        steps.pop(0)()
    assert written == first
    producer.resumeProducing()
    while steps:
        steps.pop(0)()
    assert b"".join(written) == b"abcdef"
    assert done.called
    producer.pauseProducing()
    producer.resumeProducing()
    producer2 = FileBodyProducer(io.BytesIO(b"abcdef"), cooperator, readSize=2)
    done2 = producer2.startProducing(Consumer())
    producer2.stopProducing()
    while steps:
        steps.pop(0)()
    assert not done2.called


class _Delayed:
    def cancel(self) -> None:
        pass

    def active(self) -> bool:
        return True


def test_poolForgetsConnectionsTheServerClosed() -> None:
    from torsion.internet.error import ConnectionDone
    from torsion.internet.task import Clock
    from torsion.internet.testing import StringTransport
    from torsion.python.failure import Failure
    from torsion.web._newclient import HTTP11ClientProtocol

    clock = Clock()
    pool = HTTPConnectionPool(clock)
    connection = HTTP11ClientProtocol(lambda c: None, clock)
    connection.makeConnection(StringTransport())
    pool._putConnection("key", connection)
    assert len(clock.getDelayedCalls()) == 1
    connection.connectionLost(Failure(ConnectionDone()))
    assert pool._connections == {}
    assert clock.getDelayedCalls() == []


def test_nonPersistentPoolClosesAfterResponse() -> None:
    from torsion.internet.task import Clock
    from torsion.internet.testing import StringTransport
    from torsion.web._newclient import HTTP11ClientProtocol

    clock = Clock()
    pool = HTTPConnectionPool(clock, persistent=False)
    connection = HTTP11ClientProtocol(lambda c: None, clock)
    transport = StringTransport()
    connection.makeConnection(transport)
    pool._putConnection("key", connection)
    assert transport.disconnecting
    assert pool._connections == {}


@withPool
async def test_redirectToOtherSchemeRefused(
    reactor: Any, serve: Any, pool: Any
) -> None:
    a = serve()
    agent = RedirectAgent(Agent(reactor, pool=pool))
    with pytest.raises(ResponseFailed) as e:
        await agent.request(b"GET", url(a, "/redirect?to=file:///etc/passwd"))
    assert e.value.reasons[0].check(client.SchemeNotSupported)
    assert len(a.seen) == 1
