"""
A file-like object that turns what is written to it into log events.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, NoReturn

from ._levels import LogLevel

if TYPE_CHECKING:
    from ._logger import Logger

__all__ = ["MAX_LOGGING_FILE_LINE", "LoggingFile"]

MAX_LOGGING_FILE_LINE = 64 * 1024
"""The longest partial line a ``LoggingFile`` holds before emitting it."""


class LoggingFile:
    """
    A text file whose lines become log events, used to send ``print``
    output and stray ``sys.stderr`` writes to the log.

    Each complete line is emitted as one event with format ``"{log_io}"``.
    Text written by an observer while it handles an event that this file
    emitted (a ``print`` inside an observer, with standard output
    redirected) is dropped: logging it would loop forever.

    Text without a newline waits for the rest of the line, up to
    ``maxLineLength`` characters, beyond which it is emitted as is (complete
    lines are emitted whole, whatever their length: they are not held).
    """

    softspace = 0
    mode = "w"

    def __init__(
        self,
        logger: Logger,
        level: LogLevel = LogLevel.info,
        encoding: str | None = None,
        maxLineLength: int = MAX_LOGGING_FILE_LINE,
    ) -> None:
        """
        :param logger: emits the events.
        :param level: the events' level.
        :param encoding: decodes ``bytes`` written to the file; UTF-8 by
            default.
        :param maxLineLength: the most characters held waiting for a newline.
        """
        self.level = level
        self.log = logger
        self._encoding = encoding or "utf-8"
        self._maxLineLength = maxLineLength
        self._buffer = ""
        self._closed = False
        self._emitting = threading.local()

    @property
    def closed(self) -> bool:
        """
        Whether ``close`` was called.
        """
        return self._closed

    @property
    def encoding(self) -> str:
        """
        The encoding used to decode ``bytes`` written to the file.
        """
        return self._encoding

    @property
    def name(self) -> str:
        """
        A description of where the lines go.
        """
        return f"<{type(self).__name__} {self.log.namespace}#{self.level.name}>"

    def close(self) -> None:
        """
        Emit any partial line and refuse further writes.
        """
        if not self._closed:
            if self._buffer:
                self.log.emit(self.level, "{log_io}", log_io=self._buffer)
                self._buffer = ""
            self._closed = True

    def flush(self) -> None:
        """
        Do nothing: partial lines are kept until their newline arrives so
        that ``print`` output is not split into several events.
        """

    def fileno(self) -> NoReturn:
        """
        There is no file descriptor.

        :raises OSError: always.
        """
        raise OSError("Not a real file: LoggingFile has no file descriptor")

    def isatty(self) -> bool:
        """
        :return: ``False``: this is not a terminal.
        """
        return False

    def writable(self) -> bool:
        """
        :return: ``True`` while open.
        """
        return not self._closed

    def write(self, text: str | bytes) -> int:
        """
        Log every complete line of ``text`` (with what was written before).

        :param text: text, or bytes in the file's encoding.
        :return: the number of characters accepted.
        :raises ValueError: if the file is closed.
        """
        if self._closed:
            raise ValueError("I/O operation on closed file.")
        if isinstance(text, bytes):
            text = text.decode(self._encoding, "replace")
        if getattr(self._emitting, "active", False):
            return len(text)
        data = self._buffer + text
        lines = data.split("\n")
        self._buffer = lines.pop()
        while len(self._buffer) > self._maxLineLength:
            lines.append(self._buffer[: self._maxLineLength])
            self._buffer = self._buffer[self._maxLineLength :]
        self._emitting.active = True
        try:
            for line in lines:
                self.log.emit(self.level, "{log_io}", log_io=line)
        finally:
            self._emitting.active = False
        return len(text)

    def writelines(self, lines: Iterable[str | bytes]) -> None:
        """
        Write each item of ``lines`` in turn.

        :param lines: texts, each usually ending in a newline.
        """
        for line in lines:
            self.write(line)
