"""
Tests for torsion.cred: portal, realm, credentials, checkers and strcred.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest
from zope.interface import Interface, implementer
from zope.interface.verify import verifyObject

from torsion.cred import checkers, credentials, error, portal, strcred
from torsion.internet import defer
from torsion.python.failure import Failure


def result(d: defer.Deferred[Any]) -> Any:
    """The result of an already-fired Deferred (a Failure on error)."""
    out: list[Any] = []
    d.addBoth(out.append)
    assert out, "Deferred has not fired"
    return out[0]


class IWidget(Interface):
    pass


class IGadget(Interface):
    pass


@implementer(IWidget)
class Widget:
    def __init__(self, avatarId: Any) -> None:
        self.avatarId = avatarId
        self.loggedOut = False

    def logout(self) -> None:
        self.loggedOut = True


@implementer(portal.IRealm)
class WidgetRealm:
    def __init__(self) -> None:
        self.avatars: list[Widget] = []

    def requestAvatar(self, avatarId: Any, mind: Any, *interfaces: Any) -> Any:
        if IWidget in interfaces:
            w = Widget(avatarId)
            w.mind = mind  # type: ignore[attr-defined]
            self.avatars.append(w)
            return IWidget, w, w.logout
        raise NotImplementedError("no supported interface")


def makePortal() -> portal.Portal:
    checker = checkers.InMemoryUsernamePasswordDatabase(alice="secret")
    return portal.Portal(WidgetRealm(), [checker, checkers.AllowAnonymousAccess()])


class TestPortal:
    def test_interfaces(self) -> None:
        assert verifyObject(portal.IRealm, WidgetRealm())
        for c in [
            checkers.InMemoryUsernamePasswordDatabase(),
            checkers.AllowAnonymousAccess(),
        ]:
            assert verifyObject(checkers.ICredentialsChecker, c)

    def test_loginSuccess(self) -> None:
        p = makePortal()
        iface, avatar, logout = result(
            p.login(credentials.UsernamePassword(b"alice", b"secret"), "mind", IWidget)
        )
        assert iface is IWidget
        assert avatar.avatarId == b"alice"
        assert avatar.mind == "mind"
        logout()
        assert avatar.loggedOut

    def test_loginWrongPassword(self) -> None:
        p = makePortal()
        f = result(
            p.login(credentials.UsernamePassword(b"alice", b"nope"), None, IWidget)
        )
        assert isinstance(f, Failure)
        assert f.check(error.UnauthorizedLogin)

    def test_unknownUserSameErrorAsWrongPassword(self) -> None:
        p = makePortal()
        wrong = result(
            p.login(credentials.UsernamePassword("alice", "x"), None, IWidget)
        )
        unknown = result(
            p.login(credentials.UsernamePassword("bob", "x"), None, IWidget)
        )
        assert type(wrong.value) is type(unknown.value)
        assert str(wrong.value) == str(unknown.value)

    def test_anonymous(self) -> None:
        p = makePortal()
        _, avatar, _ = result(p.login(credentials.Anonymous(), None, IWidget))
        assert avatar.avatarId == checkers.ANONYMOUS

    def test_unhandledCredentials(self) -> None:
        p = portal.Portal(WidgetRealm())
        f = result(p.login(credentials.Anonymous(), None, IWidget))
        assert f.check(error.UnhandledCredentials)
        assert "IAnonymous" in str(f.value)

    def test_realmRefusesInterface(self) -> None:
        p = makePortal()
        f = result(p.login(credentials.Anonymous(), None, IGadget))
        assert f.check(NotImplementedError)

    def test_listCredentialsInterfaces(self) -> None:
        p = makePortal()
        assert set(p.listCredentialsInterfaces()) == {
            credentials.IUsernamePassword,
            credentials.IUsernameHashedPassword,
            credentials.IAnonymous,
        }

    def test_registerCheckerForExplicitInterface(self) -> None:
        p = portal.Portal(WidgetRealm())
        p.registerChecker(checkers.AllowAnonymousAccess(), credentials.IAnonymous)
        assert p.listCredentialsInterfaces() == [credentials.IAnonymous]

    def test_realmReturningDeferred(self) -> None:
        @implementer(portal.IRealm)
        class LaterRealm:
            def requestAvatar(self, avatarId: Any, mind: Any, *ifaces: Any) -> Any:
                return defer.succeed((IWidget, Widget(avatarId), lambda: None))

        p = portal.Portal(LaterRealm(), [checkers.AllowAnonymousAccess()])
        _, avatar, _ = result(p.login(credentials.Anonymous(), None, IWidget))
        assert avatar.avatarId == ()


class TestCredentials:
    def test_usernamePasswordAcceptsText(self) -> None:
        c = credentials.UsernamePassword("álice", "pässword")
        assert c.username == "álice".encode()
        assert c.checkPassword("pässword".encode())
        assert c.checkPassword("pässword")
        assert not c.checkPassword(b"other")
        assert verifyObject(credentials.IUsernamePassword, c)

    def test_reprHidesPassword(self) -> None:
        c = credentials.UsernamePassword(b"alice", b"hunter2")
        assert b"hunter2".decode() not in repr(c)
        h = credentials.UsernameHashedPassword(b"alice", b"hunter2")
        assert "hunter2" not in repr(h)

    def test_hashedPassword(self) -> None:
        c = credentials.UsernameHashedPassword(b"bob", b"pw")
        assert verifyObject(credentials.IUsernameHashedPassword, c)
        assert c.checkPassword(b"pw")
        assert not c.checkPassword(b"pW")

    def test_cramMD5(self) -> None:
        c = credentials.CramMD5Credentials("mail.example.com")
        challenge = c.getChallenge()
        assert challenge.startswith(b"<") and challenge.endswith(b"@mail.example.com>")
        assert c.getChallenge() == challenge
        digest = hmac.new(b"tanstaaftanstaaf", challenge, hashlib.md5).hexdigest()
        c.setResponse(b"tim " + digest.encode())
        assert c.username == b"tim"
        assert not c.moreChallenges()
        assert c.checkPassword(b"tanstaaftanstaaf")
        assert not c.checkPassword(b"wrong")

    def test_cramMD5RFC2195Example(self) -> None:
        # The worked example of RFC 2195 section 2.
        c = credentials.CramMD5Credentials()
        c.challenge = b"<1896.697170952@postoffice.reston.mci.net>"
        c.setResponse(b"tim b913a602c7eda7a495b4e6e7334d3890")
        assert c.checkPassword(b"tanstaaftanstaaf")

    def test_cramMD5Malformed(self) -> None:
        c = credentials.CramMD5Credentials()
        with pytest.raises(error.LoginFailed):
            c.setResponse(b"nospace")

    def test_sshPrivateKey(self) -> None:
        c = credentials.SSHPrivateKey(b"u", b"ssh-ed25519", b"blob", None, None)
        assert verifyObject(credentials.ISSHPrivateKey, c)


class FakeAddress:
    def __init__(self, host: str) -> None:
        self.host = host


def digestHeader(
    challenge: dict[str, str],
    username: str,
    password: str,
    method: str = "GET",
    uri: str = "/x",
    algorithm: str = "MD5",
    host: str | None = None,
) -> bytes:
    """Build what a browser would send, computing the response by hand (RFC 7616)."""
    H = hashlib.md5 if algorithm.upper().startswith("MD5") else hashlib.sha256

    def h(s: str) -> str:
        return H(s.encode()).hexdigest()

    cnonce, nc = "0a4f113b", "00000001"
    ha1 = h(f"{username}:{challenge['realm']}:{password}")
    if algorithm.lower().endswith("-sess"):
        ha1 = h(f"{ha1}:{challenge['nonce']}:{cnonce}")
    ha2 = h(f"{method}:{uri}")
    resp = h(f"{ha1}:{challenge['nonce']}:{nc}:{cnonce}:auth:{ha2}")
    return (
        f'username="{username}", realm="{challenge["realm"]}", '
        f'nonce="{challenge["nonce"]}", uri="{uri}", algorithm={algorithm}, '
        f'response="{resp}", opaque="{challenge["opaque"]}", qop=auth, '
        f'nc={nc}, cnonce="{cnonce}"'
    ).encode()


class TestDigest:
    @pytest.mark.parametrize(
        "algorithm", ["MD5", "MD5-sess", "SHA-256", "SHA-256-sess"]
    )
    def test_roundTrip(self, algorithm: str) -> None:
        f = credentials.DigestCredentialFactory(algorithm.encode(), b"test realm")
        ch = f.getChallenge(FakeAddress("10.0.0.1"))
        assert ch["realm"] == "test realm" and ch["qop"] == "auth"
        creds = f.decode(
            digestHeader(ch, "alice", "secret", algorithm=algorithm),
            b"GET",
            b"10.0.0.1",
        )
        assert verifyObject(credentials.IUsernameDigestHash, creds)
        assert creds.username == b"alice"
        assert creds.checkPassword(b"secret")
        assert not creds.checkPassword(b"wrong")
        H = hashlib.md5 if algorithm.startswith("MD5") else hashlib.sha256
        stored = H(b"alice:test realm:secret").hexdigest().encode()
        assert creds.checkHash(stored)
        assert not creds.checkHash(H(b"alice:test realm:nope").hexdigest().encode())

    def test_wrongMethodFails(self) -> None:
        f = credentials.DigestCredentialFactory(b"md5", b"r")
        ch = f.getChallenge(FakeAddress("10.0.0.1"))
        creds = f.decode(digestHeader(ch, "a", "p", method="GET"), b"POST", b"10.0.0.1")
        assert not creds.checkPassword(b"p")

    def test_otherClientRefused(self) -> None:
        f = credentials.DigestCredentialFactory(b"md5", b"r")
        ch = f.getChallenge(FakeAddress("10.0.0.1"))
        with pytest.raises(error.LoginFailed, match="another client"):
            f.decode(digestHeader(ch, "a", "p"), b"GET", b"10.0.0.2")

    def test_staleNonceRefused(self) -> None:
        f = credentials.DigestCredentialFactory(b"md5", b"r")
        now = [1000.0]
        f._now = lambda: now[0]
        ch = f.getChallenge(FakeAddress("h"))
        now[0] += f.CHALLENGE_LIFETIME_SECS + 1
        with pytest.raises(error.LoginFailed, match="Stale"):
            f.decode(digestHeader(ch, "a", "p"), b"GET", b"h")

    def test_forgedOpaqueRefused(self) -> None:
        f = credentials.DigestCredentialFactory(b"md5", b"r")
        ch = f.getChallenge(FakeAddress("h"))
        ch["opaque"] = "0" * 64 + ch["opaque"][64:]
        with pytest.raises(error.LoginFailed, match="opaque"):
            f.decode(digestHeader(ch, "a", "p"), b"GET", b"h")

    @pytest.mark.parametrize(
        "header",
        [
            b"",
            b'username="a"',
            b'username="a", nonce="n"',
            b'username="a, nonce="n", opaque="o"',
            b"garbage-without-equals",
            b"x" * 9000,
            b",".join(b"k%d=v" % i for i in range(40)),
        ],
    )
    def test_malformed(self, header: bytes) -> None:
        f = credentials.DigestCredentialFactory(b"md5", b"r")
        with pytest.raises(error.LoginFailed):
            f.decode(header, b"GET", b"h")

    def test_unknownAlgorithm(self) -> None:
        with pytest.raises(ValueError):
            credentials.DigestCredentialFactory(b"sha-1", b"r")


class SpyCredentials(credentials.UsernamePassword):
    checks = 0

    def checkPassword(self, password: str | bytes) -> bool:
        SpyCredentials.checks += 1
        return super().checkPassword(password)


class TestCheckers:
    def test_inMemoryUnknownUserDoesSameWork(self) -> None:
        c = checkers.InMemoryUsernamePasswordDatabaseDontUse(alice=b"pw")
        SpyCredentials.checks = 0
        f1 = result(c.requestAvatarId(SpyCredentials(b"alice", b"bad")))
        assert SpyCredentials.checks == 1
        f2 = result(c.requestAvatarId(SpyCredentials(b"mallory", b"bad")))
        assert SpyCredentials.checks == 2
        assert f1.check(error.UnauthorizedLogin) and f2.check(error.UnauthorizedLogin)

    def test_inMemoryHashedCredentials(self) -> None:
        c = checkers.InMemoryUsernamePasswordDatabase()
        c.addUser("carol", "pw")
        assert (
            result(
                c.requestAvatarId(credentials.UsernameHashedPassword(b"carol", b"pw"))
            )
            == b"carol"
        )

    def test_filePasswordDB(self, tmp_path: Path) -> None:
        path = tmp_path / "passwd"
        path.write_bytes(b"# comment\n\nalice:secret\nbob:hunter2:extra\nmalformed\n")
        c = checkers.FilePasswordDB(str(path))
        assert verifyObject(checkers.ICredentialsChecker, c)
        assert (
            result(c.requestAvatarId(credentials.UsernamePassword(b"alice", b"secret")))
            == b"alice"
        )
        assert (
            result(c.requestAvatarId(credentials.UsernamePassword(b"bob", b"hunter2")))
            == b"bob"
        )
        assert result(
            c.requestAvatarId(credentials.UsernamePassword(b"bob", b"x"))
        ).check(error.UnauthorizedLogin)
        assert result(
            c.requestAvatarId(credentials.UsernamePassword(b"malformed", b""))
        ).check(error.UnauthorizedLogin)
        assert c.getUser(b"alice") == (b"alice", b"secret")
        with pytest.raises(KeyError):
            c.getUser(b"nobody")

    def test_filePasswordDBCaseInsensitive(self, tmp_path: Path) -> None:
        path = tmp_path / "passwd"
        path.write_bytes(b"Alice:secret\n")
        c = checkers.FilePasswordDB(path, caseSensitive=False)
        assert (
            result(c.requestAvatarId(credentials.UsernamePassword(b"ALICE", b"secret")))
            == b"ALICE"
        )

    def test_filePasswordDBHashAndTiming(self, tmp_path: Path) -> None:
        path = tmp_path / "passwd"
        stored = hashlib.sha256(b"secret").hexdigest().encode()
        path.write_bytes(b"alice:" + stored + b"\n")
        calls: list[bytes] = []

        def hasher(user: bytes, given: bytes, stored: bytes) -> bytes:
            calls.append(user)
            return hashlib.sha256(given).hexdigest().encode()

        c = checkers.FilePasswordDB(path, hash=hasher)
        assert c.credentialInterfaces == (credentials.IUsernamePassword,)
        assert (
            result(c.requestAvatarId(credentials.UsernamePassword(b"alice", b"secret")))
            == b"alice"
        )
        assert result(
            c.requestAvatarId(credentials.UsernamePassword(b"alice", b"bad"))
        ).check(error.UnauthorizedLogin)
        assert result(
            c.requestAvatarId(credentials.UsernamePassword(b"zed", b"bad"))
        ).check(error.UnauthorizedLogin)
        # The unknown user cost one hash, like the wrong password.
        assert calls == [b"alice", b"alice", b"zed"]

    def test_filePasswordDBMissingFile(self, tmp_path: Path) -> None:
        c = checkers.FilePasswordDB(tmp_path / "absent")
        f = result(c.requestAvatarId(credentials.UsernamePassword(b"a", b"b")))
        assert f.check(error.UnauthorizedLogin)
        assert "password file" in str(f.value)

    def test_filePasswordDBCache(self, tmp_path: Path) -> None:
        path = tmp_path / "passwd"
        path.write_bytes(b"alice:one\n")
        c = checkers.FilePasswordDB(path, cache=True)
        assert (
            result(c.requestAvatarId(credentials.UsernamePassword(b"alice", b"one")))
            == b"alice"
        )
        path.write_bytes(b"alice:two\n")
        assert (
            result(c.requestAvatarId(credentials.UsernamePassword(b"alice", b"one")))
            == b"alice"
        )


class TestBcrypt:
    def test_check(self, tmp_path: Path) -> None:
        pytest.importorskip("bcrypt", reason="bcrypt is torsion-core's [bcrypt] extra")
        path = tmp_path / "passwd"
        path.write_bytes(b"alice:" + checkers.hashPassword("secret", rounds=4) + b"\n")
        c = checkers.BcryptPasswordDB(path, reactor=object())
        assert verifyObject(checkers.ICredentialsChecker, c)
        assert c._check(b"alice", b"secret") == b"alice"
        for user, pw in [
            (b"alice", b"bad"),
            (b"nobody", b"secret"),
            (b"alice", b"x" * 100),
        ]:
            with pytest.raises(error.UnauthorizedLogin):
                c._check(user, pw)

    def test_unknownUserStillHashes(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        bcrypt = pytest.importorskip(
            "bcrypt", reason="bcrypt is torsion-core's [bcrypt] extra"
        )
        path = tmp_path / "passwd"
        path.write_bytes(b"alice:" + checkers.hashPassword("secret", rounds=4) + b"\n")
        c = checkers.BcryptPasswordDB(path, reactor=object())
        seen: list[bytes] = []
        real = bcrypt.checkpw

        def spy(pw: bytes, h: bytes) -> bool:
            seen.append(h[:7])
            return bool(real(pw, h))

        monkeypatch.setattr(bcrypt, "checkpw", spy)
        with pytest.raises(error.UnauthorizedLogin):
            c._check(b"nobody", b"secret")
        # The dummy hash uses the same cost as the real entries.
        assert seen == [b"$2b$04$"]


class TestStrcred:
    def test_memory(self) -> None:
        c = strcred.makeChecker("memory:alice:secret:bob:pw")
        assert (
            result(c.requestAvatarId(credentials.UsernamePassword(b"bob", b"pw")))
            == b"bob"
        )

    def test_memoryOddArguments(self) -> None:
        with pytest.raises(ValueError, match="pairs"):
            strcred.makeChecker("memory:alice")

    def test_file(self, tmp_path: Path) -> None:
        path = tmp_path / "pw"
        path.write_bytes(b"u:p\n")
        c = strcred.makeChecker(f"file:{path}")
        assert isinstance(c, checkers.FilePasswordDB)
        with pytest.raises(ValueError, match="not a readable file"):
            strcred.makeChecker(f"file:{tmp_path / 'missing'}")

    def test_anonymous(self) -> None:
        assert isinstance(
            strcred.makeChecker("anonymous"), checkers.AllowAnonymousAccess
        )

    def test_unknownType(self) -> None:
        with pytest.raises(ValueError, match="Unknown authentication type 'kerberos'"):
            strcred.makeChecker("kerberos:x")

    def test_factoriesProvideInterface(self) -> None:
        for f in strcred.findCheckerFactories():
            assert verifyObject(strcred.ICheckerFactory, f)


class TestAuthOptionMixin:
    def makeOptions(self, supported: Any = None) -> Any:
        from torsion.python import usage

        class ServerOptions(usage.Options, strcred.AuthOptionMixin):
            supportedInterfaces = supported

        return ServerOptions()

    def test_authOptionsBuildCheckers(self, tmp_path: Path) -> None:
        path = tmp_path / "pw"
        path.write_bytes(b"carol:pw\n")
        opts = self.makeOptions()
        opts.parseOptions(["--auth", "memory:alice:secret", "--auth", f"file:{path}"])
        assert len(opts["credCheckers"]) == 2
        p = portal.Portal(WidgetRealm(), opts["credCheckers"])
        _, avatar, _ = result(
            p.login(credentials.UsernamePassword(b"carol", b"pw"), None, IWidget)
        )
        assert avatar.avatarId == b"carol"
        assert len(opts["credInterfaces"][credentials.IUsernamePassword]) == 2

    def test_unsupportedCheckerRefused(self) -> None:
        from torsion.python import usage

        opts = self.makeOptions(supported=[credentials.IUsernamePassword])
        with pytest.raises(usage.UsageError, match="anonymous"):
            opts.parseOptions(["--auth", "anonymous"])

    def test_badDescriptionIsUsageError(self) -> None:
        from torsion.python import usage

        opts = self.makeOptions()
        with pytest.raises(usage.UsageError, match="pairs"):
            opts.parseOptions(["--auth", "memory:alice"])
        with pytest.raises(usage.UsageError, match="Unknown authentication type"):
            opts.parseOptions(["--auth", "ldap:x"])

    def test_helpAuth(self) -> None:
        import io

        opts = self.makeOptions(supported=[credentials.IUsernamePassword])
        opts.authOutput = io.StringIO()
        with pytest.raises(SystemExit):
            opts.parseOptions(["--help-auth"])
        text = opts.authOutput.getvalue()
        assert "memory" in text and "bcrypt-file" in text
        assert "anonymous" not in text
        opts.authOutput = io.StringIO()
        with pytest.raises(SystemExit):
            opts.parseOptions(["--help-auth-type", "file"])
        assert "user:password" in opts.authOutput.getvalue()
