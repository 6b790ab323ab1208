"""
The ``torsion`` command (``twistd`` in Twisted): runs an installed service
plugin, or the ``application`` of a ``.tac`` file.

Installed as the ``torsion`` console script; ``python -m torsion`` runs it
too.  See ``torsion.application.app`` for the options and the runner.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from torsion.application import app
from torsion.application.app import ServerOptions

__all__ = ["ServerOptions", "run"]


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """
    Run the ``torsion`` command.

    :param argv: the arguments, without the program name; ``sys.argv[1:]``
        by default.
    :raises SystemExit: always, with the exit status.
    """
    app.run(argv)
