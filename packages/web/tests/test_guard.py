"""
Tests for ``torsion.web.guard``: Basic and Digest authentication in front
of a resource tree, in memory (``DummyRequest``) and over loopback with
real clients (``requests``, curl).
"""

from __future__ import annotations

import base64
import re
from typing import Any

import pytest
from zope.interface import Interface, implementer
from zope.interface.verify import verifyObject

from torsion.cred.checkers import AllowAnonymousAccess, InMemoryUsernamePasswordDatabase
from torsion.cred.credentials import (
    DigestedCredentials,
    IUsernamePassword,
    UsernamePassword,
    calcHA1,
    calcResponse,
)
from torsion.cred.error import LoginDenied, LoginFailed
from torsion.cred.portal import IRealm, Portal
from torsion.internet.defer import Deferred, fail
from torsion.logger import globalLogPublisher
from torsion.web.guard import (
    BasicCredentialFactory,
    DigestCredentialFactory,
    HTTPAuthSessionWrapper,
    UnauthorizedResource,
)
from torsion.web.iweb import ICredentialFactory, IRequest, IResource
from torsion.web.resource import Resource, getChildForRequest
from torsion.web.testing import DummyRequest, render


class Whoami(Resource):
    isLeaf = True

    def __init__(self, avatarId: Any) -> None:
        Resource.__init__(self)
        self.avatarId = avatarId

    def render_GET(self, request: IRequest) -> bytes:
        name = self.avatarId if isinstance(self.avatarId, bytes) else b"anonymous"
        return name + b" " + b"/".join(request.postpath)


class Tree(Resource):
    def __init__(self, avatarId: Any) -> None:
        Resource.__init__(self)
        self.putChild(b"who", Whoami(avatarId))

    def render_GET(self, request: IRequest) -> bytes:
        return b"tree root"


@implementer(IRealm)
class Realm:
    def __init__(self) -> None:
        self.logouts = 0

    def requestAvatar(
        self, avatarId: Any, mind: object, *interfaces: type[Interface]
    ) -> Any:
        assert IResource in interfaces
        if avatarId == b"disabled":
            raise LoginDenied("account disabled")
        if avatarId == b"broken":
            raise RuntimeError("realm is broken")

        def logout() -> None:
            self.logouts += 1

        return IResource, Tree(avatarId), logout


def makeWrapper(
    anonymous: bool = False, factories: list[Any] | None = None
) -> tuple[HTTPAuthSessionWrapper, Realm]:
    realm = Realm()
    checkers: list[Any] = [
        InMemoryUsernamePasswordDatabase(
            alice=b"wonderland", disabled=b"x", broken=b"x"
        )
    ]
    if anonymous:
        checkers.append(AllowAnonymousAccess())
    portal = Portal(realm, checkers)
    if factories is None:
        factories = [BasicCredentialFactory(b"test realm")]
    return HTTPAuthSessionWrapper(portal, factories), realm


def basic(user: bytes, password: bytes) -> bytes:
    return b"Basic " + base64.b64encode(user + b":" + password)


async def get(
    root: IResource, segments: list[bytes], authorization: bytes | None = None
) -> tuple[DummyRequest, bytes]:
    request = DummyRequest(segments)
    if authorization is not None:
        request.requestHeaders.setRawHeaders(b"authorization", [authorization])
    body = await render(getChildForRequest(root, request), request)
    return request, body


def test_verifyObject() -> None:
    verifyObject(ICredentialFactory, BasicCredentialFactory(b"r"))
    verifyObject(ICredentialFactory, DigestCredentialFactory(b"md5", b"r"))
    wrapper, _ = makeWrapper()
    verifyObject(IResource, wrapper)
    verifyObject(IResource, UnauthorizedResource([]))


async def test_noCredentials401() -> None:
    wrapper, _ = makeWrapper()
    request, body = await get(wrapper, [b"who"])
    assert request.code == 401
    assert request.responseHeaders.getRawHeaders(b"www-authenticate") == [
        b'Basic realm="test realm", charset="UTF-8"'
    ]
    assert b"alice" not in body


async def test_basicLogin() -> None:
    wrapper, realm = makeWrapper()
    request, body = await get(wrapper, [b"who", b"x"], basic(b"alice", b"wonderland"))
    assert request.code == 200
    assert body == b"alice x"
    assert request.prepath == [b"who"]
    assert realm.logouts == 1


async def test_basicLoginRoot() -> None:
    wrapper, _ = makeWrapper()
    _request, body = await get(wrapper, [], basic(b"alice", b"wonderland"))
    assert body == b"tree root"


async def test_basicLoginBelowOtherResources() -> None:
    wrapper, _ = makeWrapper()
    root = Resource()
    root.putChild(b"private", wrapper)
    request, body = await get(
        root, [b"private", b"who"], basic(b"alice", b"wonderland")
    )
    assert body == b"alice "
    assert request.prepath == [b"private", b"who"]


@pytest.mark.parametrize(
    "authorization",
    [
        basic(b"alice", b"wrong"),
        basic(b"nobody", b"wonderland"),
        b"Basic !!!notbase64",
        b"Basic " + base64.b64encode(b"no-colon"),
        b"Bearer abc",
        b"Basic " + b"A" * 9000,
    ],
)
async def test_basicRefused(authorization: bytes) -> None:
    wrapper, realm = makeWrapper()
    request, _ = await get(wrapper, [b"who"], authorization)
    assert request.code == 401
    assert realm.logouts == 0


async def test_schemeCaseInsensitive() -> None:
    wrapper, _ = makeWrapper()
    _request, body = await get(
        wrapper, [b"who"], b"bAsIc " + base64.b64encode(b"alice:wonderland")
    )
    assert body == b"alice "


async def test_anonymous() -> None:
    wrapper, _ = makeWrapper(anonymous=True)
    request, body = await get(wrapper, [b"who"])
    assert request.code == 200
    assert body == b"anonymous "


async def test_loginDenied401() -> None:
    wrapper, _ = makeWrapper()
    request, _ = await get(wrapper, [b"who"], basic(b"disabled", b"x"))
    assert request.code == 401


async def test_realmError500Logged() -> None:
    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        wrapper, _ = makeWrapper()
        request, body = await get(wrapper, [b"who"], basic(b"broken", b"x"))
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert request.code == 500
    assert b"realm is broken" not in body
    failures = [e["log_failure"] for e in events if "log_failure" in e]
    assert any(f.check(RuntimeError) for f in failures)


async def test_decodeError500() -> None:
    @implementer(ICredentialFactory)
    class Exploding:
        scheme = b"boom"

        def getChallenge(self, request: IRequest) -> dict[str, bytes | str]:
            return {}

        def decode(self, response: bytes, request: IRequest) -> object:
            raise ZeroDivisionError()

    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        wrapper, _ = makeWrapper(factories=[Exploding()])
        request, _ = await get(wrapper, [b"who"], b"Boom x")
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert request.code == 500
    assert any(
        e["log_failure"].check(ZeroDivisionError) for e in events if "log_failure" in e
    )


def test_basicDecode() -> None:
    factory = BasicCredentialFactory("realm")
    creds = factory.decode(base64.b64encode(b"u:p:q"), DummyRequest([]))
    assert IUsernamePassword.providedBy(creds)
    assert creds.username == b"u"
    assert creds.checkPassword(b"p:q")
    with pytest.raises(LoginFailed):
        factory.decode(b"****", DummyRequest([]))


def parseChallenge(header: bytes) -> dict[bytes, bytes]:
    assert header.startswith(b"Digest ")
    return {
        m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
        for m in re.finditer(rb'(\w+)=(?:"([^"]*)"|([^,\s]+))', header[7:])
    }


def digestAuthorization(
    challenge: dict[bytes, bytes],
    user: bytes,
    password: bytes,
    uri: bytes,
    method: bytes = b"GET",
    algorithm: bytes = b"MD5",
    nc: bytes = b"00000001",
    cnonce: bytes = b"0a4f113b",
) -> bytes:
    ha1 = calcHA1(
        algorithm.lower(),
        user,
        challenge[b"realm"],
        password,
        challenge[b"nonce"],
        cnonce,
    )
    response = calcResponse(
        algorithm.lower(), ha1, method, uri, challenge[b"nonce"], nc, cnonce, b"auth"
    )
    return (
        b'Digest username="%s", realm="%s", nonce="%s", uri="%s", algorithm=%s,'
        b' qop=auth, nc=%s, cnonce="%s", response="%s", opaque="%s"'
        % (
            user,
            challenge[b"realm"],
            challenge[b"nonce"],
            uri,
            algorithm,
            nc,
            cnonce,
            response,
            challenge[b"opaque"],
        )
    )


@pytest.mark.parametrize("algorithm", [b"md5", b"sha-256"])
async def test_digestLogin(algorithm: bytes) -> None:
    wrapper, _ = makeWrapper(
        factories=[DigestCredentialFactory(algorithm, b"digest realm")]
    )
    request, _ = await get(wrapper, [b"who"])
    assert request.code == 401
    [header] = request.responseHeaders.getRawHeaders(b"www-authenticate", [])
    challenge = parseChallenge(header)
    assert challenge[b"realm"] == b"digest realm"
    assert challenge[b"algorithm"] == algorithm.upper()
    assert challenge[b"qop"] == b"auth"
    good = digestAuthorization(
        challenge, b"alice", b"wonderland", b"/who", algorithm=algorithm.upper()
    )
    request, body = await get(wrapper, [b"who"], good)
    assert request.code == 200
    assert body == b"alice "


async def test_digestRefused() -> None:
    factory = DigestCredentialFactory(b"md5", b"r")
    wrapper, _ = makeWrapper(factories=[factory])
    request, _ = await get(wrapper, [b"who"])
    [header] = request.responseHeaders.getRawHeaders(b"www-authenticate", [])
    challenge = parseChallenge(header)
    wrongPassword = digestAuthorization(challenge, b"alice", b"nope", b"/who")
    otherURI = digestAuthorization(challenge, b"alice", b"wonderland", b"/other")
    forged = dict(challenge)
    forged[b"opaque"] = b"0" * 64 + b"-" + challenge[b"opaque"][65:]
    badOpaque = digestAuthorization(forged, b"alice", b"wonderland", b"/who")
    for authorization in (wrongPassword, otherURI, badOpaque, b"Digest garbage"):
        request, _ = await get(wrapper, [b"who"], authorization)
        assert request.code == 401, authorization


async def test_digestStale() -> None:
    factory = DigestCredentialFactory(b"md5", b"r")
    now = [1000.0]
    factory.digest._now = lambda: now[0]
    wrapper, _ = makeWrapper(factories=[factory])
    request, _ = await get(wrapper, [b"who"])
    [header] = request.responseHeaders.getRawHeaders(b"www-authenticate", [])
    challenge = parseChallenge(header)
    authorization = digestAuthorization(challenge, b"alice", b"wonderland", b"/who")
    now[0] += factory.digest.CHALLENGE_LIFETIME_SECS
    request, _ = await get(wrapper, [b"who"], authorization)
    assert request.code == 200
    now[0] += 1
    second = digestAuthorization(
        challenge, b"alice", b"wonderland", b"/who", nc=b"00000002"
    )
    request, _ = await get(wrapper, [b"who"], second)
    assert request.code == 401


async def firstChallenge(wrapper: IResource) -> dict[bytes, bytes]:
    request, _ = await get(wrapper, [b"who"])
    [header] = request.responseHeaders.getRawHeaders(b"www-authenticate", [])
    return parseChallenge(header)


async def test_digestReplayRefused() -> None:
    wrapper, _ = makeWrapper(factories=[DigestCredentialFactory(b"md5", b"r")])
    challenge = await firstChallenge(wrapper)
    first = digestAuthorization(challenge, b"alice", b"wonderland", b"/who")
    request, _ = await get(wrapper, [b"who"], first)
    assert request.code == 200
    request, _ = await get(wrapper, [b"who"], first)
    assert request.code == 401
    for nc, cnonce in ((b"00000002", b"0a4f113b"), (b"00000001", b"other")):
        next_ = digestAuthorization(
            challenge, b"alice", b"wonderland", b"/who", nc=nc, cnonce=cnonce
        )
        request, _ = await get(wrapper, [b"who"], next_)
        assert request.code == 200


async def test_digestUsesPerNonceBoundary() -> None:
    factory = DigestCredentialFactory(b"md5", b"r")
    factory.maxUsesPerNonce = 3
    wrapper, _ = makeWrapper(factories=[factory])
    challenge = await firstChallenge(wrapper)
    codes = []
    for n in range(1, 5):
        authorization = digestAuthorization(
            challenge, b"alice", b"wonderland", b"/who", nc=b"%08x" % n
        )
        request, _ = await get(wrapper, [b"who"], authorization)
        codes.append(request.code)
    assert codes == [200, 200, 200, 401]


async def test_digestNoncesRememberedBounded() -> None:
    factory = DigestCredentialFactory(b"md5", b"r")
    factory.maxNonces = 2
    wrapper, _ = makeWrapper(factories=[factory])
    challenges = [await firstChallenge(wrapper) for _ in range(3)]
    for challenge in challenges:
        authorization = digestAuthorization(challenge, b"alice", b"wonderland", b"/who")
        request, _ = await get(wrapper, [b"who"], authorization)
        assert request.code == 200
    assert len(factory._seen) == 2
    assert challenges[0][b"nonce"] not in factory._seen


async def test_digestOtherClient() -> None:
    from torsion.internet.address import IPv4Address

    factory = DigestCredentialFactory(b"md5", b"r")
    wrapper, _ = makeWrapper(factories=[factory])
    request, _ = await get(wrapper, [b"who"])
    [header] = request.responseHeaders.getRawHeaders(b"www-authenticate", [])
    authorization = digestAuthorization(
        parseChallenge(header), b"alice", b"wonderland", b"/who"
    )
    request = DummyRequest([b"who"], client=IPv4Address("TCP", "10.0.0.9", 1))
    request.requestHeaders.setRawHeaders(b"authorization", [authorization])
    await render(getChildForRequest(wrapper, request), request)
    assert request.code == 401


async def test_bothChallenges() -> None:
    wrapper, _ = makeWrapper(
        factories=[DigestCredentialFactory(b"md5", b"r"), BasicCredentialFactory(b"r")]
    )
    request, _ = await get(wrapper, [])
    headers = request.responseHeaders.getRawHeaders(b"www-authenticate", [])
    assert [h.split(b" ")[0] for h in headers] == [b"Digest", b"Basic"]
    request, body = await get(wrapper, [], basic(b"alice", b"wonderland"))
    assert body == b"tree root"


def test_challengeQuoting() -> None:
    request = DummyRequest([])
    UnauthorizedResource([BasicCredentialFactory(b'a "quoted" \\ realm')]).render(
        request
    )
    assert request.responseHeaders.getRawHeaders(b"www-authenticate") == [
        b'Basic realm="a \\"quoted\\" \\\\ realm", charset="UTF-8"'
    ]


def test_digestedCredentialsType() -> None:
    factory = DigestCredentialFactory(b"md5", b"r")
    request = DummyRequest([b"who"])
    challenge = {
        k.encode(): v.encode() if isinstance(v, str) else v
        for k, v in factory.getChallenge(request).items()
    }
    authorization = digestAuthorization(challenge, b"alice", b"pw", b"/who")
    creds = factory.decode(authorization[len(b"Digest ") :], request)
    assert isinstance(creds, DigestedCredentials)
    assert creds.checkPassword(b"pw")
    assert not isinstance(creds, UsernamePassword)


async def test_avatarDeferred() -> None:
    @implementer(IRealm)
    class SlowRealm:
        d: Deferred[Any] = Deferred()

        def requestAvatar(self, avatarId: Any, mind: object, *ifaces: Any) -> Any:
            return self.d

    realm = SlowRealm()
    portal = Portal(realm, [InMemoryUsernamePasswordDatabase(alice=b"w")])
    wrapper = HTTPAuthSessionWrapper(portal, [BasicCredentialFactory(b"r")])
    request = DummyRequest([b"who"])
    request.requestHeaders.setRawHeaders(b"authorization", [basic(b"alice", b"w")])
    result = render(getChildForRequest(wrapper, request), request)
    assert not request.written
    realm.d.callback((IResource, Tree(b"alice"), lambda: None))
    assert await result == b"alice "


async def test_checkerFailure500() -> None:
    class BrokenChecker:
        credentialInterfaces = (IUsernamePassword,)

        def requestAvatarId(self, credentials: Any) -> Any:
            return fail(OSError("database down"))

    portal = Portal(Realm(), [BrokenChecker()])  # type: ignore[list-item]
    wrapper = HTTPAuthSessionWrapper(portal, [BasicCredentialFactory(b"r")])
    request, _ = await get(wrapper, [b"who"], basic(b"a", b"b"))
    assert request.code == 500
