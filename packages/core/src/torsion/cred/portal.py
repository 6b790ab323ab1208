"""
The ``Portal``: where a protocol logs a user in.

A protocol builds credentials from what the client sent and calls
``portal.login(credentials, mind, IWanted)``.  The portal picks the checker
registered for that kind of credentials, which answers with an avatar ID;
the realm turns that ID into an avatar providing ``IWanted``.  The Deferred
from ``login`` fires with ``(interface, avatar, logout)``: the protocol uses
the avatar and calls ``logout()`` when the session ends.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from zope.interface import Interface, providedBy

from torsion.cred.checkers import ICredentialsChecker
from torsion.cred.error import UnhandledCredentials
from torsion.internet import defer

__all__ = ["IRealm", "Portal"]

LoginResult = tuple[type[Interface], Any, Callable[[], None]]


class IRealm(Interface):
    """
    The place avatars come from: turns an authenticated avatar ID into the
    object a protocol talks to on the user's behalf.
    """

    def requestAvatar(
        avatarId: bytes | tuple[()], mind: object, *interfaces: type[Interface]
    ) -> Any:
        """
        Give the avatar for ``avatarId``.

        :param avatarId: what the checker returned: the user's name as
            bytes, or ``ANONYMOUS`` (an empty tuple).
        :param mind: an object the protocol passes through to the realm
            (for example a remote reference to the client), or ``None``.
        :param interfaces: the interfaces the protocol can use, most
            preferred first.
        :return: ``(interface, avatar, logout)`` or a Deferred of it, where
            ``interface`` is one of ``interfaces`` that ``avatar`` provides
            and ``logout`` is a callable ending the session.
        :raises NotImplementedError: when none of ``interfaces`` is supported.
        """


class Portal:
    """
    Joins checkers (who decides whether credentials are good) to a realm
    (what an authenticated user gets).

    :param realm: the realm avatars come from.
    :param checkers: checkers to register at once.
    """

    def __init__(self, realm: IRealm, checkers: Iterable[ICredentialsChecker] = ()):
        self.realm = realm
        self.checkers: dict[type[Interface], ICredentialsChecker] = {}
        for checker in checkers:
            self.registerChecker(checker)

    def listCredentialsInterfaces(self) -> list[type[Interface]]:
        """
        :return: the kinds of credentials some registered checker accepts.
        """
        return list(self.checkers)

    def registerChecker(
        self, checker: ICredentialsChecker, *credentialInterfaces: type[Interface]
    ) -> None:
        """
        Register ``checker`` for the given kinds of credentials (by default
        those it declares in ``credentialInterfaces``).

        :param checker: the checker.
        :param credentialInterfaces: the credential interfaces it handles.
        """
        if not credentialInterfaces:
            credentialInterfaces = tuple(checker.credentialInterfaces)
        for iface in credentialInterfaces:
            self.checkers[iface] = checker

    def login(
        self, credentials: object, mind: object, *interfaces: type[Interface]
    ) -> defer.Deferred[LoginResult]:
        """
        Log in with ``credentials``.

        :param credentials: an object providing one of the registered
            credential interfaces.
        :param mind: passed to the realm unchanged.
        :param interfaces: the avatar interfaces the caller can use.
        :return: a Deferred firing with ``(interface, avatar, logout)``, or
            failing with ``UnauthorizedLogin`` (bad credentials),
            ``UnhandledCredentials`` (no checker for them) or whatever the
            realm raised.
        """
        for iface in providedBy(credentials):
            checker = self.checkers.get(iface)
            if checker is not None:
                d: defer.Deferred[Any] = defer.maybeDeferred(
                    checker.requestAvatarId, credentials
                )
                d.addCallback(self.realm.requestAvatar, mind, *interfaces)
                return d
        ifaces = ", ".join(i.__name__ for i in providedBy(credentials)) or "none"
        return defer.fail(
            UnhandledCredentials(f"No checker for credentials providing {ifaces}")
        )
