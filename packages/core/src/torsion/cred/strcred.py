"""
Credential checkers described by strings, for command lines.

``makeChecker("memory:alice:secret:bob:hunter2")`` builds a checker from a
description ``TYPE:ARGUMENTS``.  Built-in types:

- ``memory:USER:PASSWORD[:USER:PASSWORD...]``: users held in memory;
- ``file:PATH``: a ``user:password`` file (``FilePasswordDB``);
- ``bcrypt-file:PATH``: a ``user:$2b$...`` bcrypt file (``BcryptPasswordDB``);
- ``anonymous``: anyone may log in anonymously.

Other distributions add types through the entry-point group
``torsion.cred.checkers``: each entry point names an object providing
``ICheckerFactory``.

``AuthOptionMixin`` adds ``--auth`` and ``--help-auth`` to a
``torsion.python.usage.Options`` subclass.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.metadata import entry_points
from typing import Any, TextIO

from zope.interface import Attribute, Interface, implementer

from torsion.cred import checkers, credentials

__all__ = [
    "AuthOptionMixin",
    "ICheckerFactory",
    "UnsupportedInterfaces",
    "findCheckerFactories",
    "findCheckerFactory",
    "makeChecker",
]

ENTRY_POINT_GROUP = "torsion.cred.checkers"
"""The entry-point group other distributions register checker factories in."""


class ICheckerFactory(Interface):
    """
    Makes a credentials checker from the argument part of an ``--auth``
    description.
    """

    authType = Attribute("The type name used in descriptions, e.g. 'memory'.")
    authHelp = Attribute("A paragraph of help shown by --help-auth-type.")
    argStringFormat = Attribute("A short summary of the argument syntax.")
    credentialInterfaces = Attribute(
        "The credential interfaces the checkers it makes handle."
    )

    def generateChecker(argstring: str) -> checkers.ICredentialsChecker:
        """
        :param argstring: everything after ``TYPE:`` in the description.
        :return: a new checker.
        :raises ValueError: when the arguments are malformed.
        """


class UnsupportedInterfaces(Exception):
    """
    The checker named on the command line handles none of the credential
    kinds the program can use.
    """


@implementer(ICheckerFactory)
class _MemoryCheckerFactory:
    authType = "memory"
    authHelp = (
        "A checker holding user names and passwords in memory, given on the "
        "command line.  For tests and demos: the passwords show in the "
        "process list."
    )
    argStringFormat = "A colon-separated list (name:password:name:password...)"
    credentialInterfaces = (
        credentials.IUsernamePassword,
        credentials.IUsernameHashedPassword,
    )

    def generateChecker(self, argstring: str) -> checkers.ICredentialsChecker:
        parts = argstring.split(":")
        if not argstring or len(parts) % 2:
            raise ValueError(
                "memory: needs pairs of user name and password, "
                "e.g. memory:alice:secret"
            )
        checker = checkers.InMemoryUsernamePasswordDatabase()
        for name, password in zip(parts[::2], parts[1::2], strict=True):
            checker.addUser(name, password)
        return checker


@implementer(ICheckerFactory)
class _FileCheckerFactory:
    authType = "file"
    authHelp = (
        "A checker reading a file of user:password lines, one user per line. "
        "Blank lines and lines starting with # are ignored."
    )
    argStringFormat = "Path to a user:password file"
    credentialInterfaces = (
        credentials.IUsernamePassword,
        credentials.IUsernameHashedPassword,
    )

    def generateChecker(self, argstring: str) -> checkers.ICredentialsChecker:
        if not argstring:
            raise ValueError("file: needs the path of a password file")
        import os

        if not os.path.isfile(argstring):
            raise ValueError(f"file: {argstring} is not a readable file")
        return checkers.FilePasswordDB(argstring)


@implementer(ICheckerFactory)
class _BcryptFileCheckerFactory:
    authType = "bcrypt-file"
    authHelp = (
        "A checker reading a file of user:bcrypt-hash lines (make hashes with "
        "torsion.cred.checkers.hashPassword). Needs the bcrypt library."
    )
    argStringFormat = "Path to a user:$2b$... file"
    credentialInterfaces = (credentials.IUsernamePassword,)

    def generateChecker(self, argstring: str) -> checkers.ICredentialsChecker:
        if not argstring:
            raise ValueError("bcrypt-file: needs the path of a password file")
        import os

        if not os.path.isfile(argstring):
            raise ValueError(f"bcrypt-file: {argstring} is not a readable file")
        return checkers.BcryptPasswordDB(argstring)


@implementer(ICheckerFactory)
class _AnonymousCheckerFactory:
    authType = "anonymous"
    authHelp = "A checker that lets anyone in anonymously."
    argStringFormat = "No argument"
    credentialInterfaces = (credentials.IAnonymous,)

    def generateChecker(self, argstring: str = "") -> checkers.ICredentialsChecker:
        if argstring:
            raise ValueError("anonymous takes no argument")
        return checkers.AllowAnonymousAccess()


_BUILTIN: tuple[ICheckerFactory, ...] = (
    _MemoryCheckerFactory(),
    _FileCheckerFactory(),
    _BcryptFileCheckerFactory(),
    _AnonymousCheckerFactory(),
)


def findCheckerFactories() -> list[ICheckerFactory]:
    """
    :return: every checker factory: the built-in ones, then those other
        installed distributions register under ``torsion.cred.checkers``.
    """
    found: list[ICheckerFactory] = list(_BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        factory = ep.load()
        if isinstance(factory, type):
            factory = factory()
        found.append(factory)
    return found


def findCheckerFactory(authType: str) -> ICheckerFactory:
    """
    :param authType: a type name such as ``"memory"``.
    :return: the factory for it.
    :raises ValueError: when no installed factory has that name.
    """
    factories = findCheckerFactories()
    for factory in factories:
        if factory.authType == authType:
            return factory
    known = ", ".join(sorted(f.authType for f in factories))
    raise ValueError(f"Unknown authentication type {authType!r} (known: {known})")


def makeChecker(description: str) -> checkers.ICredentialsChecker:
    """
    Build a checker from ``TYPE`` or ``TYPE:ARGUMENTS``.

    :param description: for example ``"memory:alice:secret"``.
    :return: the checker.
    :raises ValueError: for an unknown type or malformed arguments.
    """
    authType, _, argstring = description.partition(":")
    return findCheckerFactory(authType).generateChecker(argstring)


class AuthOptionMixin:
    """
    Adds ``--auth TYPE:ARGS`` (repeatable), ``--help-auth`` and
    ``--help-auth-type TYPE`` to a ``usage.Options`` subclass.

    Set ``supportedInterfaces`` to the credential interfaces the program can
    use; checkers handling none of them are refused.  After parsing,
    ``self["credCheckers"]`` is the list of checkers and
    ``self["credInterfaces"]`` maps each interface to the checkers handling
    it.
    """

    supportedInterfaces: Sequence[type[Interface]] | None = None
    authOutput: TextIO = sys.stdout

    def _authState(self) -> dict[str, Any]:
        opts: dict[str, Any] = self  # type: ignore[assignment]
        opts.setdefault("credCheckers", [])
        opts.setdefault("credInterfaces", {})
        return opts

    def supportsInterface(self, interface: type[Interface]) -> bool:
        """
        :param interface: a credential interface.
        :return: whether this program can use it.
        """
        return self.supportedInterfaces is None or interface in self.supportedInterfaces

    def supportsCheckerFactory(self, factory: ICheckerFactory) -> bool:
        """
        :param factory: a checker factory.
        :return: whether this program can use some credential kind it makes.
        """
        return any(self.supportsInterface(i) for i in factory.credentialInterfaces)

    def addChecker(self, checker: checkers.ICredentialsChecker) -> None:
        """
        Add a checker as if it had been given with ``--auth``.

        :param checker: the checker.
        :raises UnsupportedInterfaces: when the program can use none of its
            credential kinds.
        """
        state = self._authState()
        usable = [i for i in checker.credentialInterfaces if self.supportsInterface(i)]
        if not usable:
            raise UnsupportedInterfaces(checker.credentialInterfaces)
        state["credCheckers"].append(checker)
        for iface in usable:
            state["credInterfaces"].setdefault(iface, []).append(checker)

    def opt_auth(self, description: str) -> None:
        """
        Specify an authentication method for the server (TYPE:ARGS; see
        --help-auth).
        """
        from torsion.python.usage import UsageError

        try:
            self.addChecker(makeChecker(description))
        except UnsupportedInterfaces:
            raise UsageError(
                f"Auth plugin {description.partition(':')[0]!r} does not "
                "support any credential kind this program uses"
            )
        except ValueError as e:
            raise UsageError(f"--auth {description.partition(':')[0]}: {e}")

    def opt_help_auth(self) -> None:
        """
        Show the available authentication types and exit.
        """
        out = self.authOutput
        out.write("Usable authentication types for --auth:\n\n")
        for factory in findCheckerFactories():
            if self.supportsCheckerFactory(factory):
                out.write(f"  {factory.authType:<14} {factory.argStringFormat}\n")
        out.write("\nFor details: --help-auth-type TYPE\n")
        raise SystemExit(0)

    def opt_help_auth_type(self, authType: str) -> None:
        """
        Show help for one authentication type and exit.
        """
        from torsion.python.usage import UsageError

        try:
            factory = findCheckerFactory(authType)
        except ValueError as e:
            raise UsageError(str(e))
        out = self.authOutput
        out.write(f"Usage: --auth {authType}:{factory.argStringFormat}\n\n")
        out.write(factory.authHelp + "\n")
        raise SystemExit(0)
