"""
Picks and installs the best reactor for this platform: epoll on Linux, poll
elsewhere if available, select otherwise.
"""

from __future__ import annotations

import select
from typing import Any

from torsion.internet.main import installReactorByName


def defaultReactorName() -> str:
    """
    :return: the name (a key of ``main.REACTORS``) of the best reactor here.
    """
    if hasattr(select, "epoll"):
        return "epoll"
    if hasattr(select, "poll"):
        return "poll"
    return "select"


def install() -> Any:
    """
    Install the best reactor for this platform.

    :return: the installed reactor.
    :raises torsion.internet.error.ReactorAlreadyInstalledError: if one is.
    """
    return installReactorByName(defaultReactorName())


__all__ = ["defaultReactorName", "install"]
