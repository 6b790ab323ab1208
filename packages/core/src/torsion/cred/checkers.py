"""
Credential checkers: objects that decide whether credentials are good and,
if so, which avatar ID they stand for.

Every checker here compares passwords in constant time and does the same
work for an unknown user as for a wrong password, so that neither the answer
nor the time it takes tells a client which user names exist.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from typing import Any

from zope.interface import Attribute, Interface, implementer

from torsion.cred.credentials import (
    IAnonymous,
    IUsernameHashedPassword,
    IUsernamePassword,
    _toBytes,
    constantTimeEqual,
)
from torsion.cred.error import UnauthorizedLogin
from torsion.internet import defer

__all__ = [
    "ANONYMOUS",
    "AllowAnonymousAccess",
    "BcryptPasswordDB",
    "FilePasswordDB",
    "ICredentialsChecker",
    "InMemoryUsernamePasswordDatabase",
    "InMemoryUsernamePasswordDatabaseDontUse",
]

ANONYMOUS: tuple[()] = ()
"""The avatar ID given to anonymous logins."""

# Compared against when the user does not exist, so that an unknown user
# costs the same work as a wrong password.
_NO_SUCH_USER_PASSWORD = b"\x00torsion-no-such-user\x00"


class ICredentialsChecker(Interface):
    """
    Decides whether credentials of the kinds it declares are good.
    """

    credentialInterfaces = Attribute(
        "The credential interfaces this checker can verify, as a sequence."
    )

    def requestAvatarId(credentials: Any) -> Any:
        """
        :param credentials: credentials providing one of
            ``credentialInterfaces``.
        :return: the avatar ID (or a Deferred of it); a failure with
            ``UnauthorizedLogin`` when the credentials are not good.
        """


@implementer(ICredentialsChecker)
class AllowAnonymousAccess:
    """
    Lets in anyone who asks to log in anonymously, with the avatar ID
    ``ANONYMOUS``.
    """

    credentialInterfaces = (IAnonymous,)

    def requestAvatarId(self, credentials: object) -> defer.Deferred[tuple[()]]:
        """
        :param credentials: anonymous credentials.
        :return: a Deferred firing with ``ANONYMOUS``.
        """
        return defer.succeed(ANONYMOUS)


@implementer(ICredentialsChecker)
class InMemoryUsernamePasswordDatabase:
    """
    User names and clear-text passwords held in memory: for tests, demos
    and command-line ``memory:`` checkers, not for production.

    :param users: user name to password, as keyword arguments.
    """

    credentialInterfaces = (IUsernamePassword, IUsernameHashedPassword)

    def __init__(self, **users: str | bytes) -> None:
        self.users: dict[bytes, bytes] = {}
        for name, password in users.items():
            self.addUser(name, password)

    def addUser(self, username: str | bytes, password: str | bytes) -> None:
        """
        Add (or replace) a user.

        :param username: the user name.
        :param password: the password.
        """
        self.users[_toBytes(username)] = _toBytes(password)

    def requestAvatarId(self, credentials: Any) -> defer.Deferred[bytes]:
        """
        :param credentials: ``IUsernamePassword`` or
            ``IUsernameHashedPassword`` credentials.
        :return: a Deferred firing with the user name, or failing with
            ``UnauthorizedLogin``.
        """
        username = _toBytes(credentials.username)
        stored = self.users.get(username)
        if stored is None:
            credentials.checkPassword(_NO_SUCH_USER_PASSWORD)
            return defer.fail(UnauthorizedLogin("Invalid user name or password"))
        if credentials.checkPassword(stored):
            return defer.succeed(username)
        return defer.fail(UnauthorizedLogin("Invalid user name or password"))


InMemoryUsernamePasswordDatabaseDontUse = InMemoryUsernamePasswordDatabase
"""The name Twisted users know for ``InMemoryUsernamePasswordDatabase``."""


def _readEntries(
    filename: str | os.PathLike[str],
    delim: bytes,
    usernameField: int,
    passwordField: int,
    caseSensitive: bool,
) -> Iterator[tuple[bytes, bytes]]:
    with open(filename, "rb") as f:
        for line in f:
            line = line.rstrip(b"\r\n")
            if not line.strip() or line.lstrip().startswith(b"#"):
                continue
            parts = line.split(delim)
            if len(parts) <= max(usernameField, passwordField):
                continue
            username = parts[usernameField]
            if not caseSensitive:
                username = username.lower()
            yield username, parts[passwordField]


@implementer(ICredentialsChecker)
class FilePasswordDB:
    """
    Users and passwords from a text file with one ``user:password`` entry a
    line (blank lines and lines starting with ``#`` are ignored).

    :param filename: the file's path.
    :param delim: the field separator.
    :param usernameField: the index of the user-name field.
    :param passwordField: the index of the password field.
    :param caseSensitive: whether user names are case-sensitive.
    :param hash: when given, the file holds hashed passwords:
        ``hash(username, givenPassword, storedPassword)`` must return the
        hash of the given password to compare with the stored one.  Only
        clear-text (``IUsernamePassword``) credentials can then be checked.
    :param cache: read the file once and keep its entries in memory, instead
        of reading it at every login.
    """

    def __init__(
        self,
        filename: str | os.PathLike[str],
        delim: bytes = b":",
        usernameField: int = 0,
        passwordField: int = 1,
        caseSensitive: bool = True,
        hash: Callable[[bytes, bytes, bytes], bytes] | None = None,
        cache: bool = False,
    ) -> None:
        self.filename = filename
        self.delim = delim
        self.usernameField = usernameField
        self.passwordField = passwordField
        self.caseSensitive = caseSensitive
        self.hash = hash
        self.cache = cache
        self._cached: dict[bytes, bytes] | None = None
        self.credentialInterfaces: tuple[type[Interface], ...]
        if hash is None:
            self.credentialInterfaces = (IUsernamePassword, IUsernameHashedPassword)
        else:
            self.credentialInterfaces = (IUsernamePassword,)

    def _entries(self) -> dict[bytes, bytes]:
        if self._cached is not None:
            return self._cached
        entries = dict(
            _readEntries(
                self.filename,
                self.delim,
                self.usernameField,
                self.passwordField,
                self.caseSensitive,
            )
        )
        if self.cache:
            self._cached = entries
        return entries

    def getUser(self, username: bytes) -> tuple[bytes, bytes]:
        """
        :param username: the user name.
        :return: ``(username, storedPassword)``.
        :raises KeyError: when there is no such user.
        """
        if not self.caseSensitive:
            username = username.lower()
        return username, self._entries()[username]

    def requestAvatarId(self, credentials: Any) -> defer.Deferred[bytes]:
        """
        :param credentials: credentials of one of ``credentialInterfaces``.
        :return: a Deferred firing with the user name, or failing with
            ``UnauthorizedLogin`` (also when the file cannot be read).
        """
        username = _toBytes(credentials.username)
        try:
            entries = self._entries()
        except OSError as e:
            return defer.fail(
                UnauthorizedLogin(f"Unable to read the password file: {e.strerror}")
            )
        key = username if self.caseSensitive else username.lower()
        stored = entries.get(key)
        known = stored is not None
        if stored is None:
            stored = _NO_SUCH_USER_PASSWORD
        if self.hash is None:
            ok = credentials.checkPassword(stored)
        else:
            given = self.hash(username, _toBytes(credentials.password), stored)
            ok = constantTimeEqual(given, stored)
        if ok and known:
            return defer.succeed(username)
        return defer.fail(UnauthorizedLogin("Invalid user name or password"))


_BCRYPT_COST = re.compile(rb"^\$2[abxy]?\$(\d\d)\$")


def hashPassword(password: str | bytes, rounds: int = 12) -> bytes:
    """
    Hash a password with bcrypt, for a ``BcryptPasswordDB`` file.

    :param password: the password (at most 72 bytes once encoded).
    :param rounds: the bcrypt cost factor.
    :return: the hash, e.g. ``b"$2b$12$..."``.
    :raises ImportError: when bcrypt is not installed.
    """
    bcrypt = _importBcrypt()
    return bcrypt.hashpw(_toBytes(password), bcrypt.gensalt(rounds))  # type: ignore[no-any-return]


def _importBcrypt() -> Any:
    try:
        import bcrypt
    except ImportError:
        raise ImportError(
            "bcrypt password files need the bcrypt library: "
            "python3 -m pip install 'torsion-core[bcrypt]'"
        ) from None
    return bcrypt


@implementer(ICredentialsChecker)
class BcryptPasswordDB:
    """
    Users and bcrypt-hashed passwords from a ``user:$2b$...`` file (one entry
    a line; blank lines and ``#`` comments ignored).  Make entries with
    ``hashPassword``.

    bcrypt is deliberately slow, so each check runs in the reactor's thread
    pool and never blocks the reactor.

    :param filename: the file's path.
    :param reactor: the reactor whose thread pool runs the checks; the
        global reactor when ``None``.
    :param delim: the field separator.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(
        self,
        filename: str | os.PathLike[str],
        reactor: Any = None,
        delim: bytes = b":",
    ) -> None:
        self._bcrypt = _importBcrypt()
        self.filename = filename
        self.delim = delim
        self._reactor = reactor
        self._dummy: bytes | None = None

    def _dummyHash(self, cost: int) -> bytes:
        if self._dummy is None:
            self._dummy = self._bcrypt.hashpw(
                _NO_SUCH_USER_PASSWORD, self._bcrypt.gensalt(cost)
            )
        return self._dummy

    def _check(self, username: bytes, password: bytes) -> bytes:
        entries = dict(_readEntries(self.filename, self.delim, 0, 1, True))
        stored = entries.get(username)
        known = stored is not None
        if stored is None:
            cost = 12
            for other in entries.values():
                m = _BCRYPT_COST.match(other)
                if m:
                    cost = int(m.group(1))
                    break
            stored = self._dummyHash(cost)
        try:
            ok = self._bcrypt.checkpw(password, stored)
        except ValueError:
            # Malformed stored hash, or a password bcrypt refuses (over 72
            # bytes): refuse the login the same way as a wrong password.
            ok = False
        if ok and known:
            return username
        raise UnauthorizedLogin("Invalid user name or password")

    def requestAvatarId(self, credentials: Any) -> defer.Deferred[bytes]:
        """
        :param credentials: ``IUsernamePassword`` credentials.
        :return: a Deferred firing with the user name, or failing with
            ``UnauthorizedLogin``.
        """
        from torsion.internet.threads import deferToThreadPool

        reactor = self._reactor
        if reactor is None:
            import torsion.internet.reactor

            reactor = torsion.internet.reactor
        d: defer.Deferred[bytes] = deferToThreadPool(
            reactor,
            reactor.getThreadPool(),
            self._check,
            _toBytes(credentials.username),
            _toBytes(credentials.password),
        )

        def unreadable(f: Any) -> Any:
            if f.check(OSError):
                raise UnauthorizedLogin(
                    f"Unable to read the password file: {f.value.strerror}"
                )
            return f

        return d.addErrback(unreadable)
