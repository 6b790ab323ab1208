"""
Finding plugins: objects that installed distributions register under the
entry-point group ``torsion.plugins``.

A distribution declares its plugins in its ``pyproject.toml``::

    [project.entry-points."torsion.plugins"]
    web = "torsion.plugins.torsion_web:serviceMaker"

and ``getPlugins(IServiceMaker)`` then yields the registered objects that
provide ``IServiceMaker`` (the ``torsion`` command's service plugins).
Only installed distributions are seen: what ``importlib.metadata`` finds on
``sys.path``.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import metadata
from typing import Any

from zope.interface import Interface

from torsion.logger import Logger

__all__ = ["PLUGIN_GROUP", "IPlugin", "getPlugins", "pluginEntryPoints"]

#: The entry-point group every torsion plugin is registered under.
PLUGIN_GROUP = "torsion.plugins"

_log = Logger()


class IPlugin(Interface):
    """
    A marker for plugin objects; a plugin provides it along with the
    interface it is looked up by (such as ``IServiceMaker``).
    """


def pluginEntryPoints(group: str = PLUGIN_GROUP) -> list[metadata.EntryPoint]:
    """
    :param group: the entry-point group.
    :return: the entry points registered under ``group`` by installed
        distributions, sorted by name; a name registered twice is kept
        once (the first distribution found on ``sys.path`` wins).
    """
    seen: dict[str, metadata.EntryPoint] = {}
    for entryPoint in metadata.entry_points(group=group):
        seen.setdefault(entryPoint.name, entryPoint)
    return [seen[name] for name in sorted(seen)]


def getPlugins(interface: Any, package: Any = None) -> Iterator[Any]:
    """
    Yield the registered plugins providing ``interface``.

    A plugin that cannot be loaded (its module is missing or raises) is
    logged and skipped, so one broken distribution does not hide the others.

    :param interface: the zope interface wanted.
    :param package: ignored; accepted for compatibility with code written
        for plugin packages.
    :return: an iterator over the plugin objects.
    """
    for entryPoint in pluginEntryPoints():
        try:
            plugin = entryPoint.load()
        except Exception:
            _log.failure(
                "Could not load plugin {name!r} ({value})",
                name=entryPoint.name,
                value=entryPoint.value,
            )
            continue
        if interface.providedBy(plugin):
            yield plugin
