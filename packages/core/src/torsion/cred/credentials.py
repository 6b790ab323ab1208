"""
Credentials: what a client presents to prove who it is.

Each kind of credentials is an interface (``IUsernamePassword``,
``IUsernameHashedPassword``, ``IUsernameDigestHash``, ``ISSHPrivateKey``,
``IAnonymous``) so that a checker can declare which kinds it understands; the
classes here are the ordinary implementations of those interfaces.

Passwords are always compared in constant time, and nothing here ever logs or
shows a password in its ``repr``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from collections.abc import Callable
from typing import Any

from zope.interface import Attribute, Interface, implementer

from torsion.cred.error import LoginFailed

__all__ = [
    "Anonymous",
    "CramMD5Credentials",
    "DigestCredentialFactory",
    "DigestedCredentials",
    "IAnonymous",
    "ICredentials",
    "ISSHPrivateKey",
    "IUsernameDigestHash",
    "IUsernameHashedPassword",
    "IUsernamePassword",
    "SSHPrivateKey",
    "UsernameHashedPassword",
    "UsernamePassword",
]


def _toBytes(value: str | bytes) -> bytes:
    """
    Text given where bytes are expected is encoded as UTF-8, so that callers
    may pass either.
    """
    if isinstance(value, str):
        return value.encode("utf-8")
    return value


def constantTimeEqual(a: str | bytes, b: str | bytes) -> bool:
    """
    Compare two secrets in time that depends only on their lengths.

    :param a: one value (text is compared by its UTF-8 encoding).
    :param b: the other value.
    :return: ``True`` when they are equal.
    """
    return hmac.compare_digest(_toBytes(a), _toBytes(b))


class ICredentials(Interface):
    """
    The base of every kind of credentials.  It declares nothing: each kind
    adds what a checker needs to verify it.
    """


class IUsernameHashedPassword(ICredentials):
    """
    A user name and a password that can only be checked, not read: the
    server holds the password (or a hash it can compute from it) and asks the
    credentials whether it matches.
    """

    username = Attribute("The user name, as bytes.")

    def checkPassword(password: bytes) -> bool:
        """
        :param password: the password the server holds for this user.
        :return: whether the client proved it knows that password.
        """


class IUsernamePassword(ICredentials):
    """
    A user name and the password itself, in the clear (for example from a
    plain-text login command or HTTP Basic authentication).
    """

    username = Attribute("The user name, as bytes.")
    password = Attribute("The password, as bytes.")

    def checkPassword(password: bytes) -> bool:
        """
        :param password: the password the server holds for this user.
        :return: whether it is the password the client sent.
        """


class IUsernameDigestHash(ICredentials):
    """
    Credentials that can be checked against a stored digest of
    ``username:realm:password`` (HTTP Digest authentication), so a server
    need not store clear-text passwords.
    """

    username = Attribute("The user name, as bytes.")

    def checkHash(digestHash: bytes) -> bool:
        """
        :param digestHash: the hex digest of ``username:realm:password``,
            with the algorithm the challenge named.
        :return: whether the client's response matches it.
        """


class IAnonymous(ICredentials):
    """
    No credentials at all: a client that asks to be let in anonymously.
    """


class ISSHPrivateKey(ICredentials):
    """
    Proof that a client holds the private half of an SSH key pair.
    """

    username = Attribute("The user name, as bytes.")
    algName = Attribute("The public key algorithm name, as bytes.")
    blob = Attribute("The public key blob, in SSH wire format.")
    sigData = Attribute(
        "The data the signature covers, or None when the client only asks "
        "whether the key would be acceptable."
    )
    signature = Attribute("The signature over sigData, or None.")


@implementer(IUsernamePassword)
class UsernamePassword:
    """
    A user name and a clear-text password.

    :param username: the user name (text is encoded as UTF-8).
    :param password: the password (text is encoded as UTF-8).
    """

    def __init__(self, username: str | bytes, password: str | bytes) -> None:
        self.username = _toBytes(username)
        self.password = _toBytes(password)

    def checkPassword(self, password: str | bytes) -> bool:
        """
        Compare, in constant time, the password sent with ``password``.

        :param password: the password the server holds.
        :return: whether they are equal.
        """
        return constantTimeEqual(self.password, password)

    def __repr__(self) -> str:
        return f"<UsernamePassword username={self.username!r}>"


@implementer(IUsernameHashedPassword)
class UsernameHashedPassword:
    """
    A user name and a password that may only be checked.

    :param username: the user name.
    :param hashed: the password as sent by the client.
    """

    def __init__(self, username: str | bytes, hashed: str | bytes) -> None:
        self.username = _toBytes(username)
        self.hashed = _toBytes(hashed)

    def checkPassword(self, password: str | bytes) -> bool:
        """
        :param password: the password the server holds.
        :return: whether the client sent it.
        """
        return constantTimeEqual(self.hashed, password)

    def __repr__(self) -> str:
        return f"<UsernameHashedPassword username={self.username!r}>"


@implementer(IAnonymous)
class Anonymous:
    """
    The credentials of a client that asks to log in anonymously.
    """


@implementer(ISSHPrivateKey)
class SSHPrivateKey:
    """
    An SSH public-key login attempt.

    :param username: the user name.
    :param algName: the key algorithm, e.g. ``b"ssh-ed25519"``.
    :param blob: the public key in SSH wire format.
    :param sigData: the signed data, or ``None`` for a query.
    :param signature: the signature, or ``None`` for a query.
    """

    def __init__(
        self,
        username: bytes,
        algName: bytes,
        blob: bytes,
        sigData: bytes | None,
        signature: bytes | None,
    ) -> None:
        self.username = username
        self.algName = algName
        self.blob = blob
        self.sigData = sigData
        self.signature = signature


@implementer(IUsernameHashedPassword)
class CramMD5Credentials:
    """
    CRAM-MD5 (RFC 2195) credentials, used by SMTP, POP3 and IMAP.

    The server sends ``getChallenge()``; the client answers with its user
    name and the HMAC-MD5 of the challenge keyed with its password, which
    ``setResponse`` records and ``checkPassword`` verifies.

    :param host: the host name to put in the challenge.
    """

    challenge: bytes = b""
    response: bytes = b""

    def __init__(self, host: str | bytes | None = None) -> None:
        self.host = _toBytes(host) if host is not None else None
        self.username: bytes | None = None

    def getChallenge(self) -> bytes:
        """
        Make (once) and return the challenge to send to the client.

        :return: a challenge of the form ``<random.timestamp@host>``.
        """
        if not self.challenge:
            host = self.host or b"localhost"
            nonce = secrets.token_hex(8).encode("ascii")
            stamp = str(int(time.time())).encode("ascii")
            self.challenge = b"<" + nonce + b"." + stamp + b"@" + host + b">"
        return self.challenge

    def setResponse(self, response: bytes) -> None:
        """
        Record the client's answer.

        :param response: ``username SP hexdigest`` as the client sent it.
        :raises LoginFailed: when it does not have that form.
        """
        username, sep, digest = response.rpartition(b" ")
        if not sep or not username or not digest:
            raise LoginFailed("Malformed CRAM-MD5 response")
        self.username = username
        self.response = digest.lower()

    def moreChallenges(self) -> bool:
        """
        :return: ``False``: CRAM-MD5 takes a single round trip.
        """
        return False

    def checkPassword(self, password: str | bytes) -> bool:
        """
        :param password: the user's password, held by the server.
        :return: whether the client's digest was made with it.
        """
        expected = hmac.new(_toBytes(password), self.getChallenge(), hashlib.md5)
        return constantTimeEqual(expected.hexdigest().encode("ascii"), self.response)


_DIGEST_ALGORITHMS: dict[bytes, Callable[..., Any]] = {
    b"md5": hashlib.md5,
    b"md5-sess": hashlib.md5,
    b"sha-256": hashlib.sha256,
    b"sha-256-sess": hashlib.sha256,
}


def _digestHex(algorithm: bytes, *parts: bytes) -> bytes:
    hasher = _DIGEST_ALGORITHMS[algorithm.lower()]
    return hasher(b":".join(parts)).hexdigest().encode("ascii")  # type: ignore[no-any-return]


def calcHA1(
    algorithm: bytes,
    username: bytes,
    realm: bytes,
    password: bytes | None = None,
    nonce: bytes = b"",
    cnonce: bytes = b"",
    preHA1: bytes | None = None,
) -> bytes:
    """
    Compute HTTP Digest's HA1 (RFC 7616 section 3.4.2).

    :param algorithm: ``md5``, ``md5-sess``, ``sha-256`` or ``sha-256-sess``.
    :param username: the user name.
    :param realm: the realm.
    :param password: the clear-text password, or ``None`` with ``preHA1``.
    :param nonce: the server nonce (used by the ``-sess`` variants).
    :param cnonce: the client nonce (used by the ``-sess`` variants).
    :param preHA1: an already computed ``H(username:realm:password)``.
    :return: HA1 as lower-case hex bytes.
    """
    if preHA1 is None:
        if password is None:
            raise TypeError("calcHA1 needs either a password or preHA1")
        preHA1 = _digestHex(algorithm, username, realm, password)
    if algorithm.lower().endswith(b"-sess"):
        return _digestHex(algorithm, preHA1, nonce, cnonce)
    return preHA1


def calcResponse(
    algorithm: bytes,
    HA1: bytes,
    method: bytes,
    uri: bytes,
    nonce: bytes,
    nonceCount: bytes | None,
    cnonce: bytes | None,
    qop: bytes | None,
) -> bytes:
    """
    Compute the ``response`` field of HTTP Digest authentication.

    :return: the expected response as lower-case hex bytes.
    """
    HA2 = _digestHex(algorithm, method, uri)
    if qop:
        return _digestHex(
            algorithm, HA1, nonce, nonceCount or b"", cnonce or b"", qop, HA2
        )
    return _digestHex(algorithm, HA1, nonce, HA2)


@implementer(IUsernameHashedPassword, IUsernameDigestHash)
class DigestedCredentials:
    """
    Credentials from an HTTP Digest ``Authorization`` header.

    :param username: the user name.
    :param method: the request method, e.g. ``b"GET"``.
    :param realm: the realm of the challenge.
    :param fields: every field of the header, names lower-cased.
    """

    def __init__(
        self, username: bytes, method: bytes, realm: bytes, fields: dict[bytes, bytes]
    ) -> None:
        self.username = username
        self.method = method
        self.realm = realm
        self.fields = fields

    def _expected(self, HA1: bytes) -> bytes:
        f = self.fields
        algorithm = f.get(b"algorithm", b"md5")
        return calcResponse(
            algorithm,
            HA1,
            self.method,
            f.get(b"uri", b""),
            f.get(b"nonce", b""),
            f.get(b"nc"),
            f.get(b"cnonce"),
            f.get(b"qop"),
        )

    def checkPassword(self, password: str | bytes) -> bool:
        """
        :param password: the user's clear-text password.
        :return: whether the client's response was computed from it.
        """
        f = self.fields
        algorithm = f.get(b"algorithm", b"md5")
        HA1 = calcHA1(
            algorithm,
            self.username,
            self.realm,
            _toBytes(password),
            f.get(b"nonce", b""),
            f.get(b"cnonce", b""),
        )
        return constantTimeEqual(self._expected(HA1), f.get(b"response", b"").lower())

    def checkHash(self, digestHash: bytes) -> bool:
        """
        :param digestHash: ``H(username:realm:password)`` in hex, as stored.
        :return: whether the client's response was computed from it.
        """
        f = self.fields
        algorithm = f.get(b"algorithm", b"md5")
        HA1 = calcHA1(
            algorithm,
            self.username,
            self.realm,
            nonce=f.get(b"nonce", b""),
            cnonce=f.get(b"cnonce", b""),
            preHA1=digestHash.lower(),
        )
        return constantTimeEqual(self._expected(HA1), f.get(b"response", b"").lower())

    def __repr__(self) -> str:
        return f"<DigestedCredentials username={self.username!r} realm={self.realm!r}>"


def _parseDigestFields(response: bytes) -> dict[bytes, bytes]:
    """
    Parse ``name=value, name="quoted value"`` pairs (RFC 7235 auth-params).
    """
    fields: dict[bytes, bytes] = {}
    i = 0
    n = len(response)
    while i < n:
        while i < n and response[i : i + 1] in b" \t,":
            i += 1
        if i >= n:
            break
        eq = response.find(b"=", i)
        if eq == -1:
            raise LoginFailed("Malformed digest response: parameter without '='")
        name = response[i:eq].strip().lower()
        if not name or any(c in b' \t"' for c in name):
            raise LoginFailed("Malformed digest response: bad parameter name")
        i = eq + 1
        if response[i : i + 1] == b'"':
            i += 1
            value = bytearray()
            while True:
                if i >= n:
                    raise LoginFailed("Malformed digest response: unterminated quote")
                c = response[i : i + 1]
                if c == b"\\" and i + 1 < n:
                    value += response[i + 1 : i + 2]
                    i += 2
                elif c == b'"':
                    i += 1
                    break
                else:
                    value += c
                    i += 1
            fields[name] = bytes(value)
        else:
            end = response.find(b",", i)
            if end == -1:
                end = n
            fields[name] = response[i:end].strip()
            i = end
        if len(fields) > 32:
            raise LoginFailed("Malformed digest response: too many parameters")
    return fields


class DigestCredentialFactory:
    """
    HTTP Digest authentication (RFC 7616): makes challenges and turns the
    client's answers into ``DigestedCredentials``.

    Nonces are bound to the client's address and expire after
    ``CHALLENGE_LIFETIME_SECS``; the opaque value is authenticated with a
    key private to this factory, so a client cannot forge or replay a stale
    challenge.

    :param algorithm: ``b"md5"``, ``b"md5-sess"``, ``b"sha-256"`` or
        ``b"sha-256-sess"``.
    :param authenticationRealm: the realm shown to the user.
    """

    CHALLENGE_LIFETIME_SECS = 15 * 60

    def __init__(self, algorithm: bytes, authenticationRealm: bytes) -> None:
        if algorithm.lower() not in _DIGEST_ALGORITHMS:
            raise ValueError(f"Unsupported digest algorithm {algorithm!r}")
        self.algorithm = algorithm
        self.authenticationRealm = authenticationRealm
        self.privateKey = os.urandom(32)
        self._now: Callable[[], float] = time.time

    def _generateOpaque(self, nonce: bytes, clientip: bytes) -> bytes:
        stamp = str(int(self._now())).encode("ascii")
        body = base64.b64encode(b"-".join([nonce, clientip, stamp]))
        mac = hmac.new(self.privateKey, body, hashlib.sha256).hexdigest().encode()
        return mac + b"-" + body

    def _verifyOpaque(self, opaque: bytes, nonce: bytes, clientip: bytes) -> None:
        mac, sep, body = opaque.partition(b"-")
        if not sep:
            raise LoginFailed("Invalid opaque value")
        expected = hmac.new(self.privateKey, body, hashlib.sha256).hexdigest()
        if not constantTimeEqual(mac, expected):
            raise LoginFailed("Invalid opaque value")
        try:
            decoded = base64.b64decode(body, validate=True)
        except ValueError:
            raise LoginFailed("Invalid opaque value")
        parts = decoded.split(b"-")
        if len(parts) != 3 or parts[0] != nonce:
            raise LoginFailed("Opaque does not match the nonce")
        if parts[1] != clientip:
            raise LoginFailed("Opaque was issued to another client")
        try:
            issued = int(parts[2])
        except ValueError:
            raise LoginFailed("Invalid opaque value")
        if self._now() - issued > self.CHALLENGE_LIFETIME_SECS:
            raise LoginFailed("Stale nonce")

    def getChallenge(self, address: object) -> dict[str, str]:
        """
        :param address: the client's address (its ``host`` is bound into the
            challenge).
        :return: the parameters of a ``WWW-Authenticate: Digest`` header.
        """
        host = getattr(address, "host", "") or ""
        nonce = secrets.token_hex(16).encode("ascii")
        return {
            "nonce": nonce.decode("ascii"),
            "opaque": self._generateOpaque(nonce, host.encode("utf-8")).decode("ascii"),
            "realm": self.authenticationRealm.decode("utf-8"),
            "algorithm": self.algorithm.decode("ascii").upper(),
            "qop": "auth",
        }

    def decode(
        self, response: bytes, method: bytes, host: bytes
    ) -> DigestedCredentials:
        """
        Turn the client's ``Authorization: Digest ...`` parameters into
        credentials.

        :param response: the header value after the scheme name.
        :param method: the request's method.
        :param host: the client's address, as bytes.
        :return: credentials a checker can verify.
        :raises LoginFailed: when the response is malformed, stale or was
            issued to another client.
        """
        if len(response) > 8192:
            raise LoginFailed("Digest response too long")
        fields = _parseDigestFields(response)
        username = fields.get(b"username")
        if not username:
            raise LoginFailed("Invalid response, no username given.")
        if b"opaque" not in fields:
            raise LoginFailed("Invalid response, no opaque given.")
        if b"nonce" not in fields:
            raise LoginFailed("Invalid response, no nonce given.")
        if fields.get(b"realm", self.authenticationRealm) != self.authenticationRealm:
            raise LoginFailed("Invalid response, wrong realm.")
        algorithm = fields.get(b"algorithm", b"md5").lower()
        if algorithm != self.algorithm.lower():
            raise LoginFailed("Invalid response, unexpected algorithm.")
        fields[b"algorithm"] = algorithm
        self._verifyOpaque(fields[b"opaque"], fields[b"nonce"], host)
        return DigestedCredentials(username, method, self.authenticationRealm, fields)
