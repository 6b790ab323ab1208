"""
The ``socks`` plugin: ``torsion socks --listen tcp:1080`` runs a SOCKS proxy
(``torsion.protocols.socks``: versions 4, 4a and 5).
"""

from __future__ import annotations

import importlib
from typing import Any

from torsion.application import service, strports
from torsion.python import usage

__all__ = ["Options", "makeService", "serviceMaker"]


class Options(usage.Options):
    """
    The ``socks`` plugin's options.
    """

    synopsis = "[--listen ENDPOINT] [--log FILE]"
    longdesc = (
        "Run a SOCKS proxy (versions 4, 4a and 5). It listens on 127.0.0.1 "
        "by default: an open proxy on a public address relays anyone's "
        "traffic."
    )

    optParameters = [
        ["listen", None, "tcp:1080:interface=127.0.0.1", "Listen on this endpoint."],
        ["log", "l", None, "Also record each proxied connection in this file."],
    ]


def makeService(options: Any, reactor: Any = None) -> service.IService:
    """
    :param options: parsed ``Options``.
    :param reactor: the reactor; the global one by default.
    :return: the listening service.
    :raises ValueError: if ``torsion.protocols.socks`` is missing or the
        endpoint is malformed.
    """
    try:
        socks = importlib.import_module("torsion.protocols.socks")
    except ImportError:
        raise ValueError(
            "the socks plugin needs torsion.protocols.socks, which is not installed"
        )
    # The full server (SOCKS4, 4a and 5) where the module has it.
    factoryClass = getattr(socks, "SOCKSFactory", None) or socks.SOCKSv4Factory
    factory = factoryClass(options["log"], reactor=reactor)
    return strports.service(options["listen"], factory, reactor=reactor)


serviceMaker = service.ServiceMaker(
    "torsion socks",
    __name__,
    "A SOCKS proxy (SOCKS4, 4a and 5).",
    "socks",
)
