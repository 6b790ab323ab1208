"""
The ``ftp`` plugin: ``torsion ftp --listen tcp:2121 --root /srv/ftp`` serves
a directory over FTP (``torsion.protocols.ftp``): read-only to anonymous
users, and, with ``--password-file``, to named users in their homes under
``--home``.
"""

from __future__ import annotations

import importlib
import os
from typing import Any

from torsion.application import service, strports
from torsion.python import usage

__all__ = ["Options", "makeService", "serviceMaker"]


class Options(usage.Options):
    """
    The ``ftp`` plugin's options.
    """

    synopsis = "[--listen ENDPOINT] [--root DIR] [--password-file FILE]"
    longdesc = (
        "Serve DIR over FTP to anonymous users (read-only). With "
        "--password-file (lines of user:password), those users log in to "
        "their directory under --home."
    )

    optFlags = [["no-anonymous", None, "Refuse anonymous logins."]]

    optParameters = [
        ["listen", None, "tcp:2121", "Listen on this endpoint."],
        ["root", "r", ".", "The directory anonymous users see."],
        ["home", None, "/home", "The directory holding users' home directories."],
        ["password-file", None, None, "A file of user:password lines."],
        ["userAnonymous", None, "anonymous", "The user name meaning anonymous."],
    ]

    def postOptions(self) -> None:
        """
        Check that the directories and the password file exist.
        """
        if not os.path.isdir(self["root"]):
            raise usage.UsageError(f"--root: no such directory {self['root']!r}")
        self["root"] = os.path.abspath(self["root"])
        passwords = self["password-file"]
        if passwords is not None and not os.path.isfile(passwords):
            raise usage.UsageError(f"--password-file: no such file {passwords!r}")
        if self["no-anonymous"] and passwords is None:
            raise usage.UsageError("--no-anonymous needs --password-file")


def makeService(options: Any, reactor: Any = None) -> service.IService:
    """
    :param options: parsed ``Options``.
    :param reactor: the reactor; the global one by default.
    :return: the listening service.
    :raises ValueError: for a malformed endpoint.
    """
    ftp = importlib.import_module("torsion.protocols.ftp")
    from torsion.cred import checkers, portal

    realm = ftp.FTPRealm(options["root"], options["home"])
    credentialCheckers: list[Any] = []
    if not options["no-anonymous"]:
        credentialCheckers.append(checkers.AllowAnonymousAccess())
    if options["password-file"] is not None:
        credentialCheckers.append(
            checkers.FilePasswordDB(options["password-file"], cache=True)
        )
    factory = ftp.FTPFactory(
        portal.Portal(realm, credentialCheckers),
        userAnonymous=options["userAnonymous"],
        reactor=reactor,
    )
    factory.allowAnonymous = not options["no-anonymous"]
    return strports.service(options["listen"], factory, reactor=reactor)


serviceMaker = service.ServiceMaker(
    "torsion ftp",
    __name__,
    "An FTP server for a directory.",
    "ftp",
)
