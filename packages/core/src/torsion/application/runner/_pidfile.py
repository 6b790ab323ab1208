"""
A process-id file.
"""

from __future__ import annotations

import errno
import os

__all__ = ["AlreadyRunning", "InvalidPIDFileError", "PIDFile"]

#: The most bytes read from a PID file: a number and a newline fit easily;
#: anything bigger is not one of ours.
MAX_PIDFILE_SIZE = 64


class AlreadyRunning(Exception):
    """
    The PID file names a process that is still alive.

    :ivar pid: that process's id.
    """

    def __init__(self, path: str, pid: int) -> None:
        super().__init__(f"another process (pid {pid}) is running with {path}")
        self.pid = pid


class InvalidPIDFileError(Exception):
    """
    The PID file does not hold a process id.
    """


class PIDFile:
    """
    A file holding the id of the process that runs a service.

    ``check()`` refuses to go on while another live process holds the file
    and removes a stale one; ``write()`` records this process;
    ``remove()`` deletes the file at exit.

    :ivar path: the file's path.
    """

    def __init__(self, path: str) -> None:
        """
        :param path: the file's path (made absolute now, so a later
            ``chdir`` does not move it).
        """
        self.path = os.path.abspath(path)

    def read(self) -> int | None:
        """
        :return: the process id in the file, or ``None`` if there is no file.
        :raises InvalidPIDFileError: if the file does not hold a process id.
        """
        try:
            with open(self.path, "rb") as f:
                content = f.read(MAX_PIDFILE_SIZE + 1)
        except FileNotFoundError:
            return None
        try:
            if len(content) > MAX_PIDFILE_SIZE:
                raise ValueError
            pid = int(content.decode("ascii").strip())
        except (ValueError, UnicodeDecodeError):
            raise InvalidPIDFileError(f"{self.path} does not hold a process id")
        if pid <= 0:
            raise InvalidPIDFileError(f"{self.path} holds an invalid process id {pid}")
        return pid

    @staticmethod
    def isAlive(pid: int) -> bool:
        """
        :param pid: a process id.
        :return: whether a process with that id exists.
        """
        try:
            os.kill(pid, 0)
        except OSError as e:
            if e.errno == errno.ESRCH:
                return False
            if e.errno == errno.EPERM:
                # It exists; it just belongs to someone else.
                return True
            raise
        return True

    def check(self) -> None:
        """
        Make sure no other live process holds the file; remove it if the
        process it names is gone (or it holds garbage).

        :raises AlreadyRunning: if a live process other than this one
            holds it.
        """
        try:
            pid = self.read()
        except InvalidPIDFileError:
            os.remove(self.path)
            return
        if pid is None:
            return
        if pid != os.getpid() and self.isAlive(pid):
            raise AlreadyRunning(self.path, pid)
        os.remove(self.path)

    def write(self, pid: int | None = None) -> None:
        """
        Record a process id (this process's by default), atomically.

        :param pid: the id to write.
        """
        pid = os.getpid() if pid is None else pid
        temporary = f"{self.path}.{os.getpid()}.tmp"
        with open(temporary, "w", encoding="ascii") as f:
            f.write(f"{pid}\n")
        os.replace(temporary, self.path)

    def remove(self) -> None:
        """
        Delete the file if it still names this process.
        """
        try:
            if self.read() == os.getpid():
                os.remove(self.path)
        except (OSError, InvalidPIDFileError):
            pass
