"""
HTTP authentication (RFC 9110 section 11) in front of a resource tree,
through ``torsion.cred``.

``HTTPAuthSessionWrapper`` asks the client for credentials with a 401 and
``WWW-Authenticate`` challenges (one per credential factory), logs in with
what the client sends in ``Authorization``, and renders the resource the
portal's realm gives for that user::

    from zope.interface import implementer
    from torsion.cred.checkers import InMemoryUsernamePasswordDatabase
    from torsion.cred.portal import IRealm, Portal
    from torsion.web.guard import (
        BasicCredentialFactory, DigestCredentialFactory, HTTPAuthSessionWrapper)
    from torsion.web.resource import IResource

    @implementer(IRealm)
    class Realm:
        def requestAvatar(self, avatarId, mind, *interfaces):
            if IResource in interfaces:
                return IResource, PrivateArea(avatarId), lambda: None
            raise NotImplementedError()

    portal = Portal(Realm(), [InMemoryUsernamePasswordDatabase(alice=b"s3cret")])
    protected = HTTPAuthSessionWrapper(portal, [
        DigestCredentialFactory(b"sha-256", b"example.com"),
        BasicCredentialFactory(b"example.com"),
    ])

Basic credentials travel in clear text: offer ``BasicCredentialFactory``
only over TLS.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import Any

from zope.interface import implementer

from torsion.cred import credentials as _credentials
from torsion.cred.error import LoginFailed
from torsion.internet.defer import Deferred
from torsion.logger import Logger
from torsion.python.failure import Failure
from torsion.web.iweb import ICredentialFactory, IRequest, IResource
from torsion.web.resource import ErrorPage, Resource
from torsion.web.util import DeferredResource

__all__ = [
    "BasicCredentialFactory",
    "DigestCredentialFactory",
    "HTTPAuthSessionWrapper",
    "UnauthorizedResource",
]

_log = Logger()

#: ``Authorization`` values longer than this are refused (401) unparsed.
MAX_AUTHORIZATION_LENGTH = 8192


def _asBytes(value: bytes | str) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


@implementer(ICredentialFactory)
class BasicCredentialFactory:
    """
    HTTP Basic authentication (RFC 7617): the client sends
    ``base64(user:password)``.

    :ivar authenticationRealm: the realm shown to the user, bytes.
    """

    scheme = b"basic"

    def __init__(self, authenticationRealm: bytes | str) -> None:
        """
        :param authenticationRealm: the realm shown to the user.
        """
        self.authenticationRealm = _asBytes(authenticationRealm)

    def getChallenge(self, request: IRequest) -> dict[str, bytes | str]:
        """
        :return: ``{"realm": ..., "charset": "UTF-8"}``.
        """
        return {"realm": self.authenticationRealm, "charset": "UTF-8"}

    def decode(self, response: bytes, request: IRequest) -> Any:
        """
        :param response: what follows ``Basic`` in ``Authorization``.
        :param request: the request.
        :return: ``torsion.cred.credentials.UsernamePassword``.
        :raises LoginFailed: if ``response`` is not base64 of
            ``user:password``.
        """
        try:
            decoded = base64.b64decode(response.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise LoginFailed("Basic credentials are not valid base64") from None
        username, sep, password = decoded.partition(b":")
        if not sep:
            raise LoginFailed("Basic credentials lack the ':' separator")
        return _credentials.UsernamePassword(username, password)


@implementer(ICredentialFactory)
class DigestCredentialFactory:
    """
    HTTP Digest authentication (RFC 7616), built on
    ``torsion.cred.credentials.DigestCredentialFactory``: nonces are bound
    to the client's address and expire (``CHALLENGE_LIFETIME_SECS`` of the
    core factory), the ``opaque`` value is authenticated, the ``uri`` the
    client signed must be the request's, and a response is accepted only
    once (each ``nc``/``cnonce`` pair once per nonce).

    The portal needs a checker for
    ``torsion.cred.credentials.IUsernameDigestHash`` or
    ``IUsernameHashedPassword`` (``InMemoryUsernamePasswordDatabase`` and
    ``FilePasswordDB`` qualify).
    """

    scheme = b"digest"

    #: Nonces whose uses are remembered (to refuse replays); beyond this the
    #: oldest are forgotten, and their clients must authenticate again.
    maxNonces: int = 10_000

    #: Requests allowed with one nonce before the client must get a new one.
    maxUsesPerNonce: int = 1_000

    def __init__(
        self, algorithm: bytes | str, authenticationRealm: bytes | str
    ) -> None:
        """
        :param algorithm: ``b"md5"``, ``b"md5-sess"``, ``b"sha-256"`` or
            ``b"sha-256-sess"``.
        :param authenticationRealm: the realm shown to the user.
        :raises ValueError: for another algorithm.
        """
        self.digest = _credentials.DigestCredentialFactory(
            _asBytes(algorithm), _asBytes(authenticationRealm)
        )
        self._seen: dict[bytes, set[tuple[bytes, bytes]]] = {}

    def getChallenge(self, request: IRequest) -> dict[str, bytes | str]:
        """
        :return: a fresh challenge (nonce, opaque, realm, algorithm, qop)
            for the request's client.
        """
        return dict(self.digest.getChallenge(request.getClientAddress()))

    def decode(self, response: bytes, request: IRequest) -> Any:
        """
        :param response: what follows ``Digest`` in ``Authorization``.
        :param request: the request.
        :return: ``torsion.cred.credentials.DigestedCredentials``.
        :raises LoginFailed: for a malformed, stale or foreign response, or
            one signed for another URI.
        """
        host = getattr(request.getClientAddress(), "host", "") or ""
        creds = self.digest.decode(response, request.method, host.encode("utf-8"))
        uri = creds.fields.get(b"uri")
        if uri is not None and uri != request.uri:
            raise LoginFailed("Digest response was made for another URI")
        self._checkReplay(creds.fields)
        return creds

    def _checkReplay(self, fields: dict[bytes, bytes]) -> None:
        # A captured Authorization header must not work a second time: each
        # (nc, cnonce) may be used once per nonce.  Both tables are bounded;
        # a client whose nonce was forgotten gets a 401 and a fresh nonce.
        nonce = fields.get(b"nonce", b"")
        use = (fields.get(b"nc", b""), fields.get(b"cnonce", b""))
        seen = self._seen.get(nonce)
        if seen is None:
            while len(self._seen) >= self.maxNonces:
                del self._seen[next(iter(self._seen))]
            seen = self._seen[nonce] = set()
        if use in seen:
            raise LoginFailed("Digest response replayed")
        if len(seen) >= self.maxUsesPerNonce:
            raise LoginFailed("Digest nonce used too many times")
        seen.add(use)


def _quote(value: bytes) -> bytes:
    return b'"' + value.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


# Parameters RFC 7616 sends as tokens, not quoted strings.
_UNQUOTED = {"algorithm", "stale"}


def _challengeHeader(factory: Any, request: IRequest) -> bytes:
    params = []
    for name, value in factory.getChallenge(request).items():
        raw = _asBytes(value)
        if name in _UNQUOTED:
            params.append(name.encode("ascii") + b"=" + raw)
        else:
            params.append(name.encode("ascii") + b"=" + _quote(raw))
    scheme: bytes = factory.scheme
    return scheme.capitalize() + b" " + b", ".join(params)


class UnauthorizedResource(Resource):
    """
    Answers 401 with a ``WWW-Authenticate`` challenge from each credential
    factory, at any path below it.
    """

    isLeaf = True

    def __init__(self, factories: Sequence[Any]) -> None:
        """
        :param factories: the ``ICredentialFactory`` providers to offer.
        """
        Resource.__init__(self)
        self._credentialFactories = list(factories)

    def render(self, request: IRequest) -> bytes:
        """
        :return: a short plain-text body, after setting the status and
            challenges.
        """
        request.setResponseCode(401)
        for factory in self._credentialFactories:
            request.responseHeaders.addRawHeader(
                b"www-authenticate", _challengeHeader(factory, request)
            )
        request.setHeader(b"content-type", b"text/plain; charset=utf-8")
        return b"Unauthorized\n"

    def getChild(self, path: bytes, request: IRequest) -> IResource:
        """
        :return: this resource.
        """
        return self


class _LoggedIn(Resource):
    """
    The avatar resource, with the realm's ``logout`` called once the
    request is over.
    """

    def __init__(self, avatar: IResource, logout: Any) -> None:
        Resource.__init__(self)
        self.avatar = avatar
        self.logout = logout

    @property
    def isLeaf(self) -> bool:  # type: ignore[override]
        return bool(self.avatar.isLeaf)

    def _logoutWhenDone(self, request: IRequest) -> None:
        if getattr(request, "_torsionGuardLogout", False):
            return
        request._torsionGuardLogout = True  # type: ignore[attr-defined]
        logout = self.logout

        def done(result: object) -> None:
            try:
                logout()
            except Exception:
                _log.failure("Error in the realm's logout")

        d: Deferred[Any] = request.notifyFinish()  # type: ignore[assignment]
        d.addBoth(done)

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:
        self._logoutWhenDone(request)
        return self.avatar.getChildWithDefault(path, request)

    def render(self, request: IRequest) -> Any:
        self._logoutWhenDone(request)
        return self.avatar.render(request)


class HTTPAuthSessionWrapper(Resource):
    """
    Protects a resource tree with HTTP authentication.  Every request below
    it is authenticated (``Authorization`` decoded by the matching
    credential factory, then ``portal.login(credentials, None,
    IResource)``) and rendered by the avatar the realm returns; the
    avatar's children are traversed from the path below the wrapper.

    - no ``Authorization``: login as ``Anonymous`` (served if the portal
      has a checker for anonymous credentials, else 401);
    - an unknown scheme, malformed credentials or a refused login: 401
      with the challenges;
    - any other error (a broken checker or realm): 500, logged.
    """

    isLeaf = False

    def __init__(self, portal: Any, credentialFactories: Sequence[Any]) -> None:
        """
        :param portal: a ``torsion.cred.portal.Portal`` whose realm gives
            ``IResource`` avatars.
        :param credentialFactories: the schemes offered, most preferred
            first (``DigestCredentialFactory``, ``BasicCredentialFactory``).
        """
        Resource.__init__(self)
        self._portal = portal
        self._credentialFactories = list(credentialFactories)

    def _unauthorized(self) -> IResource:
        return UnauthorizedResource(self._credentialFactories)

    def _selectFactory(self, header: bytes) -> tuple[Any, bytes]:
        scheme, _, rest = header.strip().partition(b" ")
        scheme = scheme.lower()
        for factory in self._credentialFactories:
            if factory.scheme.lower() == scheme:
                return factory, rest.strip()
        return None, b""

    def _authorizedResource(self, request: IRequest) -> IResource:
        header = request.getHeader(b"authorization")
        if not isinstance(header, bytes) or not header.strip():
            return DeferredResource(self._login(_credentials.Anonymous()))
        if len(header) > MAX_AUTHORIZATION_LENGTH:
            return self._unauthorized()
        factory, response = self._selectFactory(header)
        if factory is None:
            return self._unauthorized()
        try:
            creds = factory.decode(response, request)
        except LoginFailed:
            return self._unauthorized()
        except Exception:
            _log.failure("Unexpected error decoding HTTP credentials")
            return ErrorPage(500, "Internal Server Error", "Authentication failed.")
        return DeferredResource(self._login(creds))

    def _login(self, creds: object) -> Deferred[IResource]:
        d: Deferred[Any] = self._portal.login(creds, None, IResource)
        return d.addCallbacks(self._loginSucceeded, self._loginFailed)

    def _loginSucceeded(self, result: tuple[Any, IResource, Any]) -> IResource:
        _interface, avatar, logout = result
        return _LoggedIn(avatar, logout)

    def _loginFailed(self, reason: Failure) -> IResource:
        if reason.check(LoginFailed):
            return self._unauthorized()
        _log.failure("Unexpected error during HTTP authentication", reason)
        return ErrorPage(500, "Internal Server Error", "Authentication failed.")

    def getChildWithDefault(self, path: bytes, request: IRequest) -> IResource:
        """
        Authenticate, then continue the traversal at the avatar with
        ``path`` and the rest of the path.

        :return: a resource that renders once the login is done.
        """
        # The segment belongs to the avatar's tree: put it back so the
        # avatar's traversal sees it.
        request.postpath.insert(0, request.prepath.pop())
        return self._authorizedResource(request)

    def render(self, request: IRequest) -> Any:
        """
        Authenticate, then render the avatar itself.
        """
        return self._authorizedResource(request).render(request)
