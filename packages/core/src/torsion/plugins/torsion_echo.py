"""
The ``echo`` plugin: ``torsion echo --listen tcp:9000`` runs an RFC 862 echo
server (``torsion.protocols.wire.Echo``) on every endpoint given.
"""

from __future__ import annotations

from typing import Any

from torsion.application import service, strports
from torsion.internet.protocol import Factory
from torsion.protocols.wire import Echo
from torsion.python import usage

__all__ = ["DEFAULT_LISTEN", "Options", "makeService", "serviceMaker"]

#: Where the echo server listens when no ``--listen`` is given.
DEFAULT_LISTEN = "tcp:8000"


class Options(usage.Options):
    """
    The ``echo`` plugin's options.
    """

    synopsis = "[--listen ENDPOINT]..."
    longdesc = (
        "Echo every byte received back to its sender (RFC 862), on every "
        f"endpoint given with --listen (default {DEFAULT_LISTEN})."
    )

    def __init__(self) -> None:
        super().__init__()
        self["listen"] = []

    def opt_listen(self, description: str) -> None:
        """
        Listen on ENDPOINT (such as tcp:9000, unix:/tmp/echo.sock,
        systemd:domain=INET:index=0); may be repeated.
        """
        self["listen"].append(description)

    def postOptions(self) -> None:
        """
        Default to ``DEFAULT_LISTEN``.
        """
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]


def makeService(options: Any, reactor: Any = None) -> service.MultiService:
    """
    :param options: parsed ``Options``.
    :param reactor: the reactor; the global one by default.
    :return: a service listening on every endpoint.
    :raises ValueError: for a malformed endpoint description.
    """
    top = service.MultiService()
    factory = Factory.forProtocol(Echo)
    for description in options["listen"]:
        strports.service(description, factory, reactor=reactor).setServiceParent(top)
    return top


serviceMaker = service.ServiceMaker(
    "torsion echo",
    __name__,
    "An echo server (RFC 862) on any endpoint.",
    "echo",
)
