"""
Writing events to text files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO, Any

from zope.interface import implementer

from ._format import formatEventAsClassicLogText, formatTime, timeFormatRFC3339
from ._interfaces import ILogObserver, LogEvent

__all__ = ["FileLogObserver", "textFileLogObserver"]


@implementer(ILogObserver)
class FileLogObserver:
    """
    An observer that writes a text rendering of each event to a file.
    """

    def __init__(
        self, outFile: IO[Any], formatEvent: Callable[[LogEvent], str | None]
    ) -> None:
        """
        :param outFile: a text file (anything with ``write``, and optionally
            ``flush``).
        :param formatEvent: turns an event into the text to write, or
            ``None`` (or an empty text) to write nothing.
        """
        self._outFile = outFile
        self._formatEvent = formatEvent
        self._flush = getattr(outFile, "flush", None)

    def __call__(self, event: LogEvent) -> None:
        """
        Write the event's text and flush the file.

        :param event: the event.
        """
        text = self._formatEvent(event)
        if text:
            self._outFile.write(text)
            if self._flush is not None:
                self._flush()


def textFileLogObserver(
    outFile: IO[Any], timeFormat: str | None = timeFormatRFC3339
) -> FileLogObserver:
    """
    Make an observer writing classic log text: one entry per event, starting
    with a timestamp and ``[system]``, continuation lines indented by a tab.

    :param outFile: a text file.
    :param timeFormat: the ``strftime`` format of timestamps; ``None`` to
        write ``-`` instead of a time.
    :return: the observer.
    """

    def render(event: LogEvent) -> str | None:
        return formatEventAsClassicLogText(
            event, formatTime=lambda when: formatTime(when, timeFormat)
        )

    return FileLogObserver(outFile, render)
