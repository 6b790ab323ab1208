"""
The global reactor.

``from torsion.internet import reactor`` gives the installed reactor
instance, installing the platform's default (see ``default``) if none was
installed yet.  Install another one first to choose it::

    from torsion.internet import pollreactor
    pollreactor.install()
    from torsion.internet import reactor  # the poll reactor

Only the outermost layer of a program (its ``main``) should use the global
reactor; everything else takes a reactor as a parameter.
"""

from __future__ import annotations

import sys
from typing import Any

# Importing this module installs a reactor, which replaces this module in
# sys.modules by the reactor itself: remove our entry first so installReactor
# does not see one installed already.
del sys.modules["torsion.internet.reactor"]

from torsion.internet import default  # noqa: E402

default.install()


def __getattr__(name: str) -> Any:
    # Only reached by type checkers and by code holding this module object
    # from before the switch: forward to the installed reactor.
    return getattr(sys.modules["torsion.internet.reactor"], name)
