"""
A log file rotated by size.
"""

from __future__ import annotations

import os
import threading
from typing import IO

__all__ = ["DEFAULT_KEEP", "LogFile"]

#: How many rotated files ``LogFile`` keeps by default.
DEFAULT_KEEP = 5


class LogFile:
    """
    A text file for log output that rotates when it would grow past
    ``maxSize`` bytes: ``app.log`` becomes ``app.log.1``, ``app.log.1``
    becomes ``app.log.2`` and so on, keeping ``keep`` old files.  ``reopen``
    closes and reopens the file, for external rotation tools that move it
    and send SIGHUP.

    :ivar path: the file's path.
    :ivar maxSize: the size that triggers rotation, or ``None`` for none.
    :ivar keep: how many rotated files are kept.
    """

    def __init__(
        self, path: str, maxSize: int | None = None, keep: int = DEFAULT_KEEP
    ) -> None:
        """
        :param path: the file's path (made absolute now).
        :param maxSize: rotate before the file grows past this many bytes.
        :param keep: how many rotated files to keep (at least 1).
        :raises ValueError: for a ``maxSize`` or ``keep`` below 1.
        :raises OSError: if the file cannot be opened.
        """
        if maxSize is not None and maxSize < 1:
            raise ValueError("maxSize must be at least 1 byte")
        if keep < 1:
            raise ValueError("keep must be at least 1")
        self.path = os.path.abspath(path)
        self.maxSize = maxSize
        self.keep = keep
        self._lock = threading.Lock()
        self._file: IO[str] = self._open()
        self._size = self._file.tell()

    def _open(self) -> IO[str]:
        return open(self.path, "a", encoding="utf-8", errors="replace")

    def write(self, text: str) -> None:
        """
        Append ``text``, rotating first if it would make the file too big.

        :param text: the text.
        """
        size = len(text.encode("utf-8", "replace"))
        with self._lock:
            if (
                self.maxSize is not None
                and self._size > 0
                and self._size + size > self.maxSize
            ):
                self._rotate()
            self._file.write(text)
            self._size += size

    def flush(self) -> None:
        """
        Flush buffered text to the file.
        """
        with self._lock:
            self._file.flush()

    def _rotate(self) -> None:
        self._file.close()
        oldest = f"{self.path}.{self.keep}"
        if os.path.exists(oldest):
            os.remove(oldest)
        for index in range(self.keep - 1, 0, -1):
            source = f"{self.path}.{index}"
            if os.path.exists(source):
                os.replace(source, f"{self.path}.{index + 1}")
        os.replace(self.path, f"{self.path}.1")
        self._file = self._open()
        self._size = 0

    def rotate(self) -> None:
        """
        Rotate now.
        """
        with self._lock:
            self._rotate()

    def reopen(self) -> None:
        """
        Close and reopen the file at ``path`` (after an external tool moved
        it away).
        """
        with self._lock:
            self._file.close()
            self._file = self._open()
            self._size = self._file.tell()

    def close(self) -> None:
        """
        Close the file.
        """
        with self._lock:
            self._file.close()

    def listLogs(self) -> list[str]:
        """
        :return: the paths of the rotated files that exist, newest first.
        """
        return [
            f"{self.path}.{index}"
            for index in range(1, self.keep + 1)
            if os.path.exists(f"{self.path}.{index}")
        ]
