"""
Tests for ``torsion.web.server`` over a memory transport and a fake clock:
traversal, rendering (bytes, HEAD, 405, Deferred, coroutine, NOT_DONE_YET,
failures), sessions, URLs and gzip encoding.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import pytest
from httphelpers import header, readResponses
from zope.interface import Interface, directlyProvides, implementer
from zope.interface.verify import verifyObject

from torsion.internet import interfaces
from torsion.internet.address import IPv4Address
from torsion.internet.defer import Deferred, succeed
from torsion.internet.testing import MemoryReactorClock, StringTransport
from torsion.logger import globalLogPublisher
from torsion.python.components import registerAdapter
from torsion.python.urlpath import URLPath
from torsion.web import server
from torsion.web._parser import ResponseHead
from torsion.web.iweb import IRequest, IResource, ISession
from torsion.web.resource import (
    NOT_DONE_YET,
    EncodingResourceWrapper,
    Resource,
)
from torsion.web.server import GzipEncoderFactory, Request, Session, Site


class Leaf(Resource):
    isLeaf = True


class Echo(Resource):
    """
    Shows how it was reached: prepath and postpath.
    """

    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        return b"pre=%r post=%r" % (request.prepath, request.postpath)


class Text(Resource):
    isLeaf = True

    def __init__(self, body: bytes) -> None:
        Resource.__init__(self)
        self.body = body

    def render_GET(self, request: IRequest) -> bytes:
        return self.body


class Capture:
    """
    Collects log events while active.
    """

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def __enter__(self) -> Capture:
        globalLogPublisher.addObserver(self.events.append)
        return self

    def __exit__(self, *exc: object) -> None:
        globalLogPublisher.removeObserver(self.events.append)

    def failures(self) -> list[Any]:
        return [e["log_failure"] for e in self.events if "log_failure" in e]


class Connection:
    """
    A site's channel over a ``StringTransport``.
    """

    def __init__(self, site: Site, secure: bool = False) -> None:
        self.transport = StringTransport(
            hostAddress=IPv4Address("TCP", "10.0.0.1", 443 if secure else 80)
        )
        if secure:
            directlyProvides(self.transport, interfaces.ISSLTransport)
        self.channel = site.buildProtocol(None)
        self.channel.makeConnection(self.transport)

    def request(
        self, method: bytes, target: bytes, headers: list[bytes] | None = None
    ) -> list[tuple[ResponseHead, bytes]]:
        self.transport.clear()
        lines = [b"%s %s HTTP/1.1" % (method, target), b"Host: example.com"]
        lines += headers or []
        self.channel.dataReceived(b"\r\n".join(lines) + b"\r\n\r\n")
        return readResponses(self.transport.value(), [method])


def makeSite(root: IResource, **kwargs: Any) -> tuple[Site, MemoryReactorClock]:
    clock = MemoryReactorClock()
    site = Site(root, reactor=clock, **kwargs)
    site.log = lambda request: None  # type: ignore[method-assign]
    return site, clock


def get(
    root: IResource | Site,
    target: bytes,
    method: bytes = b"GET",
    headers: list[bytes] | None = None,
) -> tuple[ResponseHead, bytes]:
    site = root if isinstance(root, Site) else makeSite(root)[0]
    [response] = Connection(site).request(method, target, headers)
    return response


def test_verifyObject() -> None:
    site, _ = makeSite(Resource())
    connection = Connection(site)
    request = Request(connection.channel)
    verifyObject(IRequest, request)
    verifyObject(interfaces.IConsumer, request)
    verifyObject(ISession, Session(site, b"uid"))
    verifyObject(IResource, site)


def test_NOT_DONE_YET_isShared() -> None:
    assert server.NOT_DONE_YET is NOT_DONE_YET


@pytest.mark.parametrize(
    "target, expected",
    [
        (b"/e", b"pre=[b'e'] post=[]"),
        (b"/e/", b"pre=[b'e'] post=[b'']"),
        (b"/e/a/b", b"pre=[b'e'] post=[b'a', b'b']"),
        (b"/e/a%2Fb/c", b"pre=[b'e'] post=[b'a/b', b'c']"),
        (b"/e/sp%20ace?x=1", b"pre=[b'e'] post=[b'sp ace']"),
        (b"/e/%ff", b"pre=[b'e'] post=[b'\\xff']"),
    ],
)
def test_traversal(target: bytes, expected: bytes) -> None:
    root = Resource()
    root.putChild(b"e", Echo())
    head, body = get(root, target)
    assert head.status == 200
    assert body == expected


def test_rootAndIndex() -> None:
    # As in Twisted: "/" is the child b"" of the root.
    root = Resource()
    root.putChild(b"", Text(b"index"))
    assert get(root, b"/")[1] == b"index"
    assert get(Resource(), b"/")[0].status == 404


def test_bytesBody() -> None:
    head, body = get(Text(b"hello"), b"/")
    assert body == b"hello"
    assert header(head, b"content-length") == b"5"
    assert header(head, b"content-type") == b"text/html"


def test_defaultContentTypeNotOverriding() -> None:
    class Plain(Leaf):
        def render_GET(self, request: IRequest) -> bytes:
            request.setHeader(b"content-type", b"text/plain")
            return b"x"

    head, _ = get(Plain(), b"/")
    assert header(head, b"content-type") == b"text/plain"


def test_head() -> None:
    head, body = get(Text(b"hello"), b"/", b"HEAD")
    assert head.status == 200
    assert body == b""
    assert header(head, b"content-length") == b"5"


def test_405() -> None:
    head, body = get(Text(b"x"), b"/", b"DELETE")
    assert head.status == 405
    assert header(head, b"allow") == b"GET, HEAD"
    assert b"DELETE" in body


def test_404() -> None:
    head, body = get(Resource(), b"/missing/deeper")
    assert head.status == 404
    assert b"No Such Resource" in body


def test_deferredRender() -> None:
    d: Deferred[bytes] = Deferred()

    class Later(Leaf):
        def render_GET(self, request: IRequest) -> Deferred[bytes]:
            return d

    site, _ = makeSite(Later())
    connection = Connection(site)
    assert connection.request(b"GET", b"/") == []
    d.callback(b"later")
    [(head, body)] = readResponses(connection.transport.value())
    assert body == b"later"
    assert header(head, b"content-length") == b"5"


def test_coroutineRender() -> None:
    d: Deferred[bytes] = Deferred()

    class Async(Leaf):
        async def render_GET(self, request: IRequest) -> bytes:
            first = await succeed(b"a")
            return first + await d

    site, _ = makeSite(Async())
    connection = Connection(site)
    assert connection.request(b"GET", b"/") == []
    d.callback(b"sync")
    [(head, body)] = readResponses(connection.transport.value())
    assert head.status == 200
    assert body == b"async"


def test_renderFailureIs500AndLogged() -> None:
    class Broken(Leaf):
        def render_GET(self, request: IRequest) -> bytes:
            raise ValueError("secret <detail>")

    with Capture() as log:
        head, body = get(Broken(), b"/")
    assert head.status == 500
    assert b"Processing Failed" in body
    assert b"secret" not in body
    assert b"Traceback" not in body
    [failure] = log.failures()
    assert failure.check(ValueError)


def test_displayTracebacks() -> None:
    class Broken(Leaf):
        def render_GET(self, request: IRequest) -> bytes:
            raise ValueError("secret <detail>")

    site, _ = makeSite(Broken())
    site.displayTracebacks = True
    with Capture():
        head, body = get(site, b"/")
    assert head.status == 500
    assert b"secret &lt;detail&gt;" in body
    assert b"<detail>" not in body
    assert b"Traceback" in body


@pytest.mark.parametrize("kind", ["deferred", "async"])
def test_asyncFailureIs500AndLogged(kind: str) -> None:
    class Broken(Leaf):
        def render_GET(self, request: IRequest) -> Any:
            if kind == "deferred":
                d: Deferred[bytes] = Deferred()
                d.errback(KeyError("missing"))
                return d

            async def fail() -> bytes:
                raise KeyError("missing")

            return fail()

    with Capture() as log:
        head, body = get(Broken(), b"/")
    assert head.status == 500
    assert b"missing" not in body
    assert any(f.check(KeyError) for f in log.failures())


@pytest.mark.parametrize("result", ["text", 42, None])
def test_notBytesIs500(result: object) -> None:
    class Wrong(Leaf):
        def render_GET(self, request: IRequest) -> Any:
            return result

    with Capture() as log:
        head, _ = get(Wrong(), b"/")
    assert head.status == 500
    [failure] = log.failures()
    assert failure.check(TypeError)
    assert "must return bytes" in failure.getErrorMessage()


def test_headerInjectionIs500() -> None:
    class Injecting(Leaf):
        def render_GET(self, request: IRequest) -> bytes:
            request.setHeader(b"x-thing", b"a\r\nSet-Cookie: evil=1")
            return b"x"

    site, _ = makeSite(Injecting())
    connection = Connection(site)
    with Capture():
        [(head, _)] = connection.request(b"GET", b"/")
    assert head.status == 500
    assert b"evil" not in connection.transport.value()


def test_notDoneYet() -> None:
    held: list[IRequest] = []

    class Manual(Leaf):
        def render_GET(self, request: IRequest) -> int:
            held.append(request)
            request.write(b"first,")
            return NOT_DONE_YET

    site, _ = makeSite(Manual())
    connection = Connection(site)
    connection.request(b"GET", b"/")
    [request] = held
    request.write(b"second")
    request.finish()
    [(head, body)] = readResponses(connection.transport.value())
    assert body == b"first,second"
    assert header(head, b"transfer-encoding") == b"chunked"


def test_failureAfterStartClosesConnection() -> None:
    class Half(Leaf):
        def render_GET(self, request: IRequest) -> Any:
            request.write(b"partial")
            d: Deferred[bytes] = Deferred()
            d.errback(RuntimeError("late"))
            return d

    site, _ = makeSite(Half())
    connection = Connection(site)
    with Capture() as log:
        connection.request(b"GET", b"/")
    assert connection.transport.disconnecting
    assert any(f.check(RuntimeError) for f in log.failures())
    assert b"500" not in connection.transport.value().split(b"\r\n")[0]


def test_clientGoneCancelsRender() -> None:
    cancelled: list[bool] = []
    d: Deferred[bytes] = Deferred(lambda _: cancelled.append(True))

    class Slow(Leaf):
        def render_GET(self, request: IRequest) -> Deferred[bytes]:
            return d

    site, _ = makeSite(Slow())
    connection = Connection(site)
    connection.request(b"GET", b"/")
    with Capture() as log:
        connection.channel.connectionLost(Exception("gone"))
    assert cancelled == [True]
    assert log.failures() == []


def test_resultAfterFinishIgnored() -> None:
    class Confused(Leaf):
        def render_GET(self, request: IRequest) -> bytes:
            request.write(b"own")
            request.finish()
            return b"extra"

    site, _ = makeSite(Confused())
    connection = Connection(site)
    with Capture() as log:
        [(_head, body)] = connection.request(b"GET", b"/")
    assert body == b"own"
    assert any("after finishing" in str(e.get("log_format")) for e in log.events)


def test_siteKeywordsPassThrough() -> None:
    site, _ = makeSite(Text(b"x"), maxRequestBody=4)
    assert site.maxRequestBody == 4
    connection = Connection(site)
    connection.channel.dataReceived(
        b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\n12345"
    )
    [(head, _)] = readResponses(connection.transport.value())
    assert head.status == 413


def test_requestFactory() -> None:
    class MyRequest(Request):
        pass

    seen: list[object] = []

    class Which(Leaf):
        def render_GET(self, request: IRequest) -> bytes:
            seen.append(type(request))
            return b""

    clock = MemoryReactorClock()
    site = Site(Which(), MyRequest, reactor=clock)
    site.log = lambda request: None  # type: ignore[method-assign]
    get(site, b"/")
    assert seen == [MyRequest]
    assert Site(Which()).requestFactory is Request


def test_siteAsResource() -> None:
    inner = Resource()
    inner.putChild(b"t", Text(b"inner"))
    innerSite, _ = makeSite(inner)
    root = Resource()
    root.putChild(b"mounted", innerSite)
    assert get(root, b"/mounted/t")[1] == b"inner"


# -- URLs ------------------------------------------------------------------


class URLs(Resource):
    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        request.rememberRootURL()  # type: ignore[attr-defined]
        return b"%s %s" % (
            request.prePathURL(),
            request.getRootURL(),  # type: ignore[attr-defined]
        )


def test_prePathURL() -> None:
    root = Resource()
    a = Resource()
    root.putChild(b"a", a)
    a.putChild(b"b c", URLs())
    _head, body = get(root, b"/a/b%20c/rest")
    assert body == b"http://example.com/a/b%20c http://example.com/a"


def test_prePathURLSecureAndPort() -> None:
    site, _ = makeSite(URLs())
    connection = Connection(site, secure=True)
    connection.transport.hostAddr = IPv4Address("TCP", "10.0.0.1", 8443)
    [(_, body)] = connection.request(b"GET", b"/x")
    # A leaf root: nothing was traversed.
    assert body == b"https://example.com:8443/ https://example.com:8443/"


def test_URLPath() -> None:
    root = Resource()
    root.putChild(b"a", Leaf())

    class Where(Leaf):
        def render_GET(self, request: IRequest) -> bytes:
            url = request.URLPath()
            assert isinstance(url, URLPath)
            return str(url.child(b"next")).encode()

    root.putChild(b"w", Where())
    assert get(root, b"/w/x?q=1")[1] == b"http://example.com/w/next"


def test_deferredResourceOnSite() -> None:
    from torsion.web.util import DeferredResource

    d: Deferred[IResource] = Deferred()
    root = Resource()
    root.putChild(b"later", DeferredResource(d))
    site, _ = makeSite(root)
    connection = Connection(site)
    assert connection.request(b"GET", b"/later/a/b") == []
    d.callback(Echo())
    [(head, body)] = readResponses(connection.transport.value())
    assert head.status == 200
    assert body == b"pre=[b'later'] post=[b'a', b'b']"


def test_vhostMonsterOnSite() -> None:
    from torsion.web.vhost import VHostMonsterResource

    root = Resource()
    root.putChild(b"vhost", VHostMonsterResource())
    root.putChild(b"app", URLs())
    head, body = get(root, b"/vhost/https/public.example:443/app/x")
    assert head.status == 200
    assert body == b"https://public.example/app https://public.example/"


# -- sessions --------------------------------------------------------------


class Sessions(Resource):
    isLeaf = True

    def render_GET(self, request: IRequest) -> bytes:
        session = request.getSession()
        assert isinstance(session, Session)
        assert request.getSession() is session
        return session.uid


def cookies(head: ResponseHead) -> list[bytes]:
    return [v for n, v in head.fields if n == b"set-cookie"]


def test_sessionCookie() -> None:
    site, _ = makeSite(Sessions())
    connection = Connection(site)
    [(head, uid)] = connection.request(b"GET", b"/")
    [cookie] = cookies(head)
    assert cookie.startswith(b"TORSION_SESSION=" + uid + b";")
    attributes = {a.strip().lower() for a in cookie.split(b";")[1:]}
    assert attributes == {b"path=/", b"httponly", b"samesite=lax"}
    assert len(uid) == 64
    assert site.getSession(uid).uid == uid
    [(head2, uid2)] = connection.request(
        b"GET", b"/", [b"Cookie: TORSION_SESSION=" + uid]
    )
    assert uid2 == uid
    assert cookies(head2) == []


def test_sessionCookiePathOfMountedSite() -> None:
    class Mounted(Site):
        def getResourceFor(self, request: IRequest) -> IResource:
            request.prepath = [b"my app;x"]
            return super().getResourceFor(request)

    clock = MemoryReactorClock()
    site = Mounted(Sessions(), reactor=clock)
    site.log = lambda request: None  # type: ignore[method-assign]
    [(head, _)] = Connection(site).request(b"GET", b"/")
    [cookie] = cookies(head)
    assert b"; Path=/my%20app%3Bx;" in cookie + b";"


def test_sessionUnknownCookieGetsNew() -> None:
    site, _ = makeSite(Sessions())
    [(head, uid)] = Connection(site).request(
        b"GET", b"/", [b"Cookie: TORSION_SESSION=forged"]
    )
    assert uid != b"forged"
    assert cookies(head)
    with pytest.raises(KeyError):
        site.getSession(b"forged")


def test_secureSessionCookie() -> None:
    site, _ = makeSite(Sessions())
    [(head, uid)] = Connection(site, secure=True).request(b"GET", b"/")
    [cookie] = cookies(head)
    assert cookie.startswith(b"TORSION_SECURE_SESSION=" + uid)
    assert b"Secure" in cookie


def test_forceNotSecure() -> None:
    class Both(Leaf):
        isLeaf = True

        def render_GET(self, request: IRequest) -> bytes:
            secure = request.getSession()
            plain = request.getSession(forceNotSecure=True)
            assert secure is not plain
            return b"ok"

    site, _ = makeSite(Both())
    [(head, _)] = Connection(site, secure=True).request(b"GET", b"/")
    names = sorted(c.split(b"=")[0] for c in cookies(head))
    assert names == [b"TORSION_SECURE_SESSION", b"TORSION_SESSION"]


def test_sessionExpires() -> None:
    site, clock = makeSite(Sessions())
    [(_, uid)] = Connection(site).request(b"GET", b"/")
    session = site.getSession(uid)
    expired: list[bool] = []
    session.notifyOnExpire(lambda: expired.append(True))
    clock.advance(Session.sessionTimeout - 1)
    # Each use restarts the idle timer (a new connection: the old one has
    # timed out by now).
    Connection(site).request(b"GET", b"/", [b"Cookie: TORSION_SESSION=" + uid])
    clock.advance(Session.sessionTimeout - 1)
    assert site.sessions == {uid: session}
    assert expired == []
    clock.advance(1)
    assert site.sessions == {}
    assert expired == [True]
    [(_, newUid)] = Connection(site).request(
        b"GET", b"/", [b"Cookie: TORSION_SESSION=" + uid]
    )
    assert newUid != uid


def test_sessionTimeoutOverridable() -> None:
    class ShortSession(Session):
        sessionTimeout = 10

    site, clock = makeSite(Resource())
    site.sessionFactory = ShortSession
    session = site.makeSession()
    clock.advance(9)
    assert session.uid in site.sessions
    clock.advance(1)
    assert session.uid not in site.sessions


def test_sessionExpireByHand() -> None:
    site, clock = makeSite(Resource())
    session = site.makeSession()
    session.expire()
    assert site.sessions == {}
    assert not clock.getDelayedCalls()
    session.expire()


def test_sessionExpiryCallbackErrorLogged() -> None:
    site, _ = makeSite(Resource())
    session = site.makeSession()
    called: list[bool] = []

    def bad() -> None:
        raise ValueError("bad callback")

    session.notifyOnExpire(bad)
    session.notifyOnExpire(lambda: called.append(True))
    with Capture() as log:
        session.expire()
    assert called == [True]
    assert log.failures()[0].check(ValueError)


def test_maxSessions() -> None:
    site, _ = makeSite(Resource())
    site.maxSessions = 3
    made = [site.makeSession() for _ in range(3)]
    assert len(site.sessions) == 3
    fourth = site.makeSession()
    assert len(site.sessions) == 3
    assert made[0].uid not in site.sessions
    assert fourth.uid in site.sessions


class ICounter(Interface):
    pass


@implementer(ICounter)
class Counter:
    def __init__(self, session: Session) -> None:
        self.value = 0


registerAdapter(Counter, Session, ICounter)


def test_sessionComponents() -> None:
    class Count(Leaf):
        isLeaf = True

        def render_GET(self, request: IRequest) -> bytes:
            counter = request.getSession(ICounter)
            assert isinstance(counter, Counter)
            counter.value += 1
            return b"%d" % counter.value

    site, _ = makeSite(Count())
    connection = Connection(site)
    [(head, body)] = connection.request(b"GET", b"/")
    uid = cookies(head)[0].split(b";")[0].split(b"=")[1]
    assert body == b"1"
    [(_, body)] = connection.request(b"GET", b"/", [b"Cookie: TORSION_SESSION=" + uid])
    assert body == b"2"


# -- gzip ------------------------------------------------------------------


@pytest.mark.parametrize(
    "accept, expected",
    [
        (b"gzip", True),
        (b"deflate, gzip;q=0.5", True),
        (b"GZIP", True),
        (b"x-gzip", True),
        (b"*", True),
        (b"gzip;q=0", False),
        (b"gzip;q=0.0, *", False),
        (b"*;q=0", False),
        (b"identity", False),
        (b"br, deflate", False),
        (b"gzip;q=bogus", False),
    ],
)
def test_acceptsGzip(accept: bytes, expected: bool) -> None:
    assert server._acceptsGzip(accept) is expected


def test_gzipLevelChecked() -> None:
    with pytest.raises(ValueError):
        GzipEncoderFactory(0)
    with pytest.raises(ValueError):
        GzipEncoderFactory(10)


def gzipped(root: IResource) -> IResource:
    return EncodingResourceWrapper(root, [GzipEncoderFactory()])


def test_gzipResponse() -> None:
    body = b"compress me " * 100
    head, data = get(gzipped(Text(body)), b"/", headers=[b"Accept-Encoding: gzip"])
    assert header(head, b"content-encoding") == b"gzip"
    assert header(head, b"content-length") is None
    assert header(head, b"vary") == b"Accept-Encoding"
    assert gzip.decompress(data) == body
    assert len(data) < len(body)


def test_gzipNotAccepted() -> None:
    head, data = get(gzipped(Text(b"plain")), b"/")
    assert data == b"plain"
    assert header(head, b"content-encoding") is None
    assert header(head, b"content-length") == b"5"
    assert header(head, b"vary") == b"Accept-Encoding"


def test_gzipChildren() -> None:
    root = Resource()
    root.putChild(b"c", Text(b"child " * 50))
    _head, data = get(gzipped(root), b"/c", headers=[b"Accept-Encoding: gzip"])
    assert gzip.decompress(data) == b"child " * 50


def test_gzipLeavesEncodedAlone() -> None:
    precompressed = gzip.compress(b"already")

    class Pre(Leaf):
        def render_GET(self, request: IRequest) -> bytes:
            request.setHeader(b"content-encoding", b"gzip")
            return precompressed

    head, data = get(gzipped(Pre()), b"/", headers=[b"Accept-Encoding: gzip"])
    assert data == precompressed
    assert header(head, b"content-length") == b"%d" % len(precompressed)


def test_gzipHead() -> None:
    head, data = get(
        gzipped(Text(b"x" * 100)), b"/", b"HEAD", [b"Accept-Encoding: gzip"]
    )
    assert data == b""
    assert head.status == 200
    assert header(head, b"content-encoding") == b"gzip"


def test_gzipNotModified() -> None:
    class Cached(Leaf):
        def render_GET(self, request: IRequest) -> bytes:
            if request.setETag(b'"v1"') is not None:
                return b""
            return b"fresh"

    head, data = get(
        gzipped(Cached()),
        b"/",
        headers=[b"Accept-Encoding: gzip", b'If-None-Match: "v1"'],
    )
    assert head.status == 304
    assert data == b""
    assert header(head, b"content-encoding") is None


def test_gzipStreamsEachWrite() -> None:
    held: list[IRequest] = []

    class Stream(Leaf):
        def render_GET(self, request: IRequest) -> int:
            held.append(request)
            return NOT_DONE_YET

    site, _ = makeSite(gzipped(Stream()))
    connection = Connection(site)
    connection.request(b"GET", b"/", [b"Accept-Encoding: gzip"])
    [request] = held
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    seen = b""
    for piece in (b"event one\n", b"event two\n"):
        connection.transport.clear()
        request.write(piece)
        wire = connection.transport.value()
        # Strip the chunk framing of this one write.
        if wire.startswith(b"HTTP/"):
            wire = wire.split(b"\r\n\r\n", 1)[1]
        size, _, rest = wire.partition(b"\r\n")
        seen += decompressor.decompress(rest[: int(size, 16)])
        assert seen.endswith(piece)
    request.finish()


def test_gzipStaticFileProducer(tmp_path: Any) -> None:
    """
    A producer-driven body (``static.File``) is compressed too; a byte range
    is not (its offsets are those of the unencoded file).
    """
    from torsion.web.static import File

    content = b"static content line\n" * 5000
    (tmp_path / "f.txt").write_bytes(content)
    root = gzipped(File(str(tmp_path)))
    site, _ = makeSite(root)
    connection = Connection(site)
    [(head, data)] = connection.request(b"GET", b"/f.txt", [b"Accept-Encoding: gzip"])
    assert head.status == 200
    assert header(head, b"content-encoding") == b"gzip"
    assert header(head, b"content-length") is None
    assert gzip.decompress(data) == content
    ranged = Connection(site)
    ranged.request(b"GET", b"/f.txt", [b"Accept-Encoding: gzip", b"Range: bytes=10-19"])
    # A pull producer: the transport asks it for data.
    while ranged.transport.producer is not None:
        interfaces.IPullProducer(ranged.transport.producer).resumeProducing()
    [(head, data)] = readResponses(ranged.transport.value())
    assert head.status == 206
    assert header(head, b"content-encoding") is None
    assert data == content[10:20]


def test_gzipErrorPageNotEncodedTwice() -> None:
    class Broken(Leaf):
        def render_GET(self, request: IRequest) -> bytes:
            raise RuntimeError("x")

    with Capture():
        head, data = get(gzipped(Broken()), b"/", headers=[b"Accept-Encoding: gzip"])
    assert head.status == 500
    assert b"Processing Failed" in data
    assert header(head, b"content-encoding") is None
