"""
Exit statuses of the ``torsion`` command.
"""

from __future__ import annotations

import enum

__all__ = ["ExitStatus"]


class ExitStatus(enum.IntEnum):
    """
    What the ``torsion`` command exits with (the BSD ``sysexits`` values).
    """

    #: Ran and stopped normally.
    EX_OK = 0
    #: Something went wrong while running.
    EX_SOFTWARE = 70
    #: The command line was wrong.
    EX_USAGE = 64
    #: An input file (such as a ``.tac``) could not be read.
    EX_NOINPUT = 66
    #: An output file (such as the log file) could not be created.
    EX_CANTCREAT = 73
    #: A required service (a port, the pidfile) is unavailable.
    EX_UNAVAILABLE = 69
    #: Permission denied (a low port, a file).
    EX_NOPERM = 77
    #: Configuration problem (unknown user, bad reactor).
    EX_CONFIG = 78
