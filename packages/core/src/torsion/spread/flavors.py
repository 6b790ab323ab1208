"""
The kinds of objects Perspective Broker knows how to send.

These are the same classes as in ``torsion.spread.pb``; this module exists
so that code written against the Twisted layout finds them here too.
"""

from torsion.spread.jelly import setUnjellyableForClass
from torsion.spread.pb import (
    Cacheable,
    Copyable,
    IPBRoot,
    NoSuchMethod,
    Referenceable,
    RemoteCache,
    RemoteCacheObserver,
    RemoteCopy,
    Root,
    Serializable,
    Viewable,
    ViewPoint,
)

__all__ = [
    "Cacheable",
    "Copyable",
    "IPBRoot",
    "NoSuchMethod",
    "Referenceable",
    "RemoteCache",
    "RemoteCacheObserver",
    "RemoteCopy",
    "Root",
    "Serializable",
    "ViewPoint",
    "Viewable",
    "setUnjellyableForClass",
]
