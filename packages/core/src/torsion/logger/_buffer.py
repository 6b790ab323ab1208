"""
Keeping the most recent events in memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from zope.interface import implementer

from ._interfaces import ILogObserver, LogEvent

__all__ = ["DEFAULT_HISTORY_SIZE", "LimitedHistoryLogObserver"]

DEFAULT_HISTORY_SIZE = 2**16
"""How many events a ``LimitedHistoryLogObserver`` keeps unless told."""


@implementer(ILogObserver)
class LimitedHistoryLogObserver:
    """
    An observer keeping the last ``size`` events, older ones being dropped,
    so that they can be replayed to another observer later.
    """

    def __init__(self, size: int = DEFAULT_HISTORY_SIZE) -> None:
        """
        :param size: how many events to keep; at least 1.
        :raises ValueError: if ``size`` is less than 1.
        """
        if size < 1:
            raise ValueError(f"History size must be at least 1, not {size!r}")
        self.size = size
        self._buffer: deque[LogEvent] = deque(maxlen=size)

    def __call__(self, event: LogEvent) -> None:
        """
        Keep ``event``, dropping the oldest kept event if full.

        :param event: the event.
        """
        self._buffer.append(event)

    def __len__(self) -> int:
        return len(self._buffer)

    def replayTo(self, otherObserver: Callable[[LogEvent], None]) -> None:
        """
        Give every kept event, oldest first, to ``otherObserver``.

        :param otherObserver: the observer to replay to.
        """
        for event in list(self._buffer):
            otherObserver(event)
