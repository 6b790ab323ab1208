"""
torsion-core: the reactor, transports, Deferreds and everything the other
torsion distributions are built on.

``torsion`` itself is a PEP 420 namespace shared by every distribution; this
package only carries core's version.
"""

from torsion.core._version import __version__

__all__ = ["__version__"]
