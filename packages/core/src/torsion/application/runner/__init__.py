"""
Pieces of the ``torsion`` command a program can reuse: ``PIDFile`` (a
process-id file that refuses a second live instance), ``LogFile`` (a log
file rotated by size and reopened on SIGHUP) and ``ExitStatus``.
"""

from torsion.application.runner._exit import ExitStatus
from torsion.application.runner._logfile import LogFile
from torsion.application.runner._pidfile import (
    AlreadyRunning,
    InvalidPIDFileError,
    PIDFile,
)

__all__ = ["AlreadyRunning", "ExitStatus", "InvalidPIDFileError", "LogFile", "PIDFile"]
