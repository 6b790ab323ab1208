"""
The ``portforward`` plugin: ``torsion portforward --port tcp:8080 --host
example.com --dest_port 80`` relays every connection accepted on ``--port``
to ``--host``:``--dest_port`` (with ``torsion.protocols.portforward``).
"""

from __future__ import annotations

import importlib
from typing import Any

from torsion.application import service, strports
from torsion.python import usage

__all__ = ["Options", "makeService", "serviceMaker"]


class Options(usage.Options):
    """
    The ``portforward`` plugin's options.
    """

    synopsis = "[--port ENDPOINT] [--host HOST] --dest_port PORT"
    longdesc = "Forward each connection accepted on --port to HOST:PORT."

    optParameters = [
        ["port", "p", "tcp:6666", "Listen on this endpoint."],
        ["host", "h", "localhost", "The host to forward to."],
        ["dest_port", "d", None, "The port to forward to.", usage.portCoerce],
    ]

    def postOptions(self) -> None:
        """
        Require ``--dest_port``.
        """
        if self["dest_port"] is None:
            raise usage.UsageError("--dest_port is required")


def makeService(options: Any, reactor: Any = None) -> service.IService:
    """
    :param options: parsed ``Options``.
    :param reactor: the reactor; the global one by default.
    :return: the listening service.
    :raises ValueError: if ``torsion.protocols.portforward`` is missing or
        the endpoint is malformed.
    """
    try:
        portforward = importlib.import_module("torsion.protocols.portforward")
    except ImportError:
        raise ValueError(
            "the portforward plugin needs torsion.protocols.portforward, "
            "which is not installed"
        )
    factory = portforward.ProxyFactory(
        options["host"], options["dest_port"], reactor=reactor
    )
    return strports.service(options["port"], factory, reactor=reactor)


serviceMaker = service.ServiceMaker(
    "torsion portforward",
    __name__,
    "Forward connections from a local endpoint to a remote host and port.",
    "portforward",
)
