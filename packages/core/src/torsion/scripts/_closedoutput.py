"""
What a command does when whoever reads its output stops reading, as in
``torsion --help | head -1``: leave quietly, the way a command killed by
``SIGPIPE`` does, instead of printing a traceback.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import NoReturn

#: The status a shell reports for a command ended by ``SIGPIPE``.
BROKEN_PIPE_STATUS = 128 + signal.SIGPIPE


def leaveOnBrokenPipe() -> NoReturn:
    """
    Exit with ``BROKEN_PIPE_STATUS`` after standard output's reader went
    away.  Standard output is pointed at ``/dev/null`` first, so that the
    interpreter's final flush of what is still buffered fails no more.

    :raises SystemExit: always.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        # No real standard output to redirect (replaced by a test, say).
        pass
    raise SystemExit(BROKEN_PIPE_STATUS)
