"""
Small helpers for non-blocking file descriptors.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Callable

from torsion.internet import error


def setNonBlocking(fd: int) -> None:
    """
    Make reads and writes on ``fd`` return at once instead of waiting.

    :param fd: the descriptor.
    """
    os.set_blocking(fd, False)


def setBlocking(fd: int) -> None:
    """
    Make reads and writes on ``fd`` wait again.

    :param fd: the descriptor.
    """
    os.set_blocking(fd, True)


def _setCloseOnExec(fd: int) -> None:
    flags = fcntl.fcntl(fd, fcntl.F_GETFD)
    fcntl.fcntl(fd, fcntl.F_SETFD, flags | fcntl.FD_CLOEXEC)


def _unsetCloseOnExec(fd: int) -> None:
    flags = fcntl.fcntl(fd, fcntl.F_GETFD)
    fcntl.fcntl(fd, fcntl.F_SETFD, flags & ~fcntl.FD_CLOEXEC)


def readFromFD(
    fd: int, callback: Callable[[bytes], object], size: int = 8192
) -> BaseException | None:
    """
    Read what is available from a non-blocking ``fd`` and pass it on.

    :param fd: the descriptor.
    :param callback: called with the bytes read.
    :param size: the most bytes read.
    :return: ``None`` normally, ``ConnectionDone`` at end of file, or
        ``ConnectionLost`` on error.
    """
    try:
        output = os.read(fd, size)
    except BlockingIOError:
        return None
    except OSError as e:
        if e.errno == errno.EIO:
            return error.ConnectionDone()
        return error.ConnectionLost(str(e))
    if not output:
        return error.ConnectionDone()
    callback(output)
    return None


def writeToFD(fd: int, data: bytes) -> int | BaseException:
    """
    Write as much of ``data`` as ``fd`` accepts now.

    :param fd: a non-blocking descriptor.
    :param data: the bytes.
    :return: the number of bytes written, or ``ConnectionLost``.
    """
    try:
        return os.write(fd, data)
    except BlockingIOError:
        return 0
    except OSError as e:
        return error.ConnectionLost(str(e))


__all__ = ["readFromFD", "setBlocking", "setNonBlocking", "writeToFD"]
