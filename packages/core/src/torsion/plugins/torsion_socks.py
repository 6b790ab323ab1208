"""
The ``socks`` plugin: ``torsion socks --listen tcp:1080`` runs a SOCKSv4
proxy (``torsion.protocols.socks``).
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
    longdesc = "Run a SOCKSv4 proxy."

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
    factory = socks.SOCKSv4Factory(options["log"])
    return strports.service(options["listen"], factory, reactor=reactor)


serviceMaker = service.ServiceMaker(
    "torsion socks",
    __name__,
    "A SOCKSv4 proxy.",
    "socks",
)
