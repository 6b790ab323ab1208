"""
Installing the global reactor, and the table of reactors by name.

``installReactor`` makes a reactor the one ``from torsion.internet import
reactor`` returns; it must run before that import happens anywhere.  Reactors
are also known by name (``REACTORS``) so the command line can pick one with
``--reactor=NAME``.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

from torsion.internet import error

#: Reactor names mapped to the module implementing each.  A reactor module
#: provides ``install()`` (create, install and return a reactor) and
#: ``makeReactor()`` (create one without installing it, for tests).  Other
#: packages may add entries.
REACTORS: dict[str, str] = {
    "epoll": "torsion.internet.epollreactor",
    "poll": "torsion.internet.pollreactor",
    "select": "torsion.internet.selectreactor",
    "asyncio": "torsion.internet.asyncioreactor",
}

#: What ``connectionLost`` receives for a connection closed cleanly.
CONNECTION_DONE = error.ConnectionDone("Connection done")

#: What ``connectionLost`` receives for a connection lost otherwise.
CONNECTION_LOST = error.ConnectionLost("Connection lost")


def installReactor(reactor: Any) -> None:
    """
    Make ``reactor`` the global ``torsion.internet.reactor``.

    :param reactor: the reactor instance.
    :raises torsion.internet.error.ReactorAlreadyInstalledError: if a
        reactor is installed already (including one installed implicitly by
        importing ``torsion.internet.reactor``).
    """
    if "torsion.internet.reactor" in sys.modules:
        raise error.ReactorAlreadyInstalledError("reactor already installed")
    import torsion.internet

    sys.modules["torsion.internet.reactor"] = reactor
    torsion.internet.reactor = reactor  # type: ignore[attr-defined]


def _reactorModule(name: str) -> Any:
    try:
        moduleName = REACTORS[name]
    except KeyError:
        raise error.UnsupportedReactor(
            f"unknown reactor {name!r}; choose one of {', '.join(sorted(REACTORS))}"
        ) from None
    try:
        return importlib.import_module(moduleName)
    except ImportError as e:
        raise error.UnsupportedReactor(
            f"reactor {name!r} is not available here: {e}"
        ) from e


def makeReactor(name: str) -> Any:
    """
    Create a reactor by name without installing it.

    :param name: a key of ``REACTORS``.
    :return: the new reactor.
    :raises torsion.internet.error.UnsupportedReactor: for an unknown or
        unavailable reactor.
    """
    return _reactorModule(name).makeReactor()


def installReactorByName(name: str) -> Any:
    """
    Create a reactor by name and install it.

    :param name: a key of ``REACTORS``.
    :return: the installed reactor.
    :raises torsion.internet.error.UnsupportedReactor: for an unknown or
        unavailable reactor.
    :raises torsion.internet.error.ReactorAlreadyInstalledError: if one is.
    """
    return _reactorModule(name).install()


__all__ = [
    "CONNECTION_DONE",
    "CONNECTION_LOST",
    "REACTORS",
    "installReactor",
    "installReactorByName",
    "makeReactor",
]
