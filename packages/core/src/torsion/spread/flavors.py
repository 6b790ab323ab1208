"""
The kinds of objects Perspective Broker knows how to send.

``Referenceable``, ``Root``, ``ViewPoint``, ``Viewable``, ``Copyable``,
``RemoteCopy``, ``Cacheable``, ``RemoteCache``, ``RemoteCacheObserver``,
``Serializable``, ``NoSuchMethod``, ``IPBRoot`` and
``setUnjellyableForClass`` can be imported from here, as code written for
Twisted's layout expects.  They are the very same objects as in
``torsion.spread.pb`` (and ``torsion.spread.jelly``), where they are
documented.
"""

from torsion.spread.jelly import setUnjellyableForClass as setUnjellyableForClass
from torsion.spread.pb import Cacheable as Cacheable
from torsion.spread.pb import Copyable as Copyable
from torsion.spread.pb import IPBRoot as IPBRoot
from torsion.spread.pb import NoSuchMethod as NoSuchMethod
from torsion.spread.pb import Referenceable as Referenceable
from torsion.spread.pb import RemoteCache as RemoteCache
from torsion.spread.pb import RemoteCacheObserver as RemoteCacheObserver
from torsion.spread.pb import RemoteCopy as RemoteCopy
from torsion.spread.pb import Root as Root
from torsion.spread.pb import Serializable as Serializable
from torsion.spread.pb import Viewable as Viewable
from torsion.spread.pb import ViewPoint as ViewPoint

# Documented in ``pb``; listing them here too would document them twice.
__all__: list[str] = []
