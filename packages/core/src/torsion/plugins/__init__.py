"""
torsion-core's own plugins for the ``torsion`` command (``echo``,
``portforward``, ``socks``, ``procmon``) and helpers to find the service
plugins every installed distribution registers under the entry-point group
``torsion.plugins``.
"""

from __future__ import annotations

from typing import Any

from torsion.plugin import getPlugins

__all__ = ["serviceMakers"]


def serviceMakers() -> dict[str, Any]:
    """
    :return: the installed ``IServiceMaker`` plugins by ``tapname``.
    """
    from torsion.application.service import IServiceMaker

    return {maker.tapname: maker for maker in getPlugins(IServiceMaker)}
