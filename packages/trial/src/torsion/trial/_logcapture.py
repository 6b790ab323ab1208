"""
Watching torsion's log while a test runs, so that errors logged during the
test (``log.err``, a Deferred garbage-collected with an unhandled failure)
fail it unless the test flushes them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["LoggedErrorObserver", "addGlobalObserver", "removeGlobalObserver"]


def _publisher() -> Any:
    try:
        from torsion.logger import globalLogPublisher
    except ImportError:
        return None
    return globalLogPublisher


def addGlobalObserver(observer: Callable[[Mapping[str, Any]], None]) -> bool:
    """
    Subscribe ``observer`` to every event torsion logs.

    :return: whether a log publisher was available.
    """
    publisher = _publisher()
    if publisher is None:
        return False
    publisher.addObserver(observer)
    return True


def removeGlobalObserver(observer: Callable[[Mapping[str, Any]], None]) -> None:
    """
    Undo ``addGlobalObserver``.
    """
    publisher = _publisher()
    if publisher is not None:
        try:
            publisher.removeObserver(observer)
        except (ValueError, KeyError):
            pass


def failureOf(event: Mapping[str, Any]) -> Any:
    """
    Return the ``Failure`` an event reports, or ``None`` if it reports none.
    """
    failure = event.get("log_failure")
    if failure is None and event.get("isError"):
        failure = event.get("failure")
    return failure


class LoggedErrorObserver:
    """
    A log observer that keeps the failures logged while it is subscribed.

    :ivar errors: the logged failures not flushed yet, oldest first.
    """

    def __init__(self) -> None:
        self.errors: list[Any] = []
        self._subscribed = False

    def __call__(self, event: Mapping[str, Any]) -> None:
        failure = failureOf(event)
        if failure is not None:
            self.errors.append(failure)

    def start(self) -> None:
        """
        Subscribe to the global log publisher.
        """
        if not self._subscribed:
            self._subscribed = addGlobalObserver(self)

    def stop(self) -> None:
        """
        Unsubscribe from the global log publisher.
        """
        if self._subscribed:
            removeGlobalObserver(self)
            self._subscribed = False

    def flush(self, *errorTypes: type[BaseException]) -> list[Any]:
        """
        Remove and return the kept failures of the given exception types (all
        of them when no type is given).

        :param errorTypes: exception classes to match.
        :return: the matching failures.
        """
        if not errorTypes:
            flushed, self.errors = self.errors, []
            return flushed
        flushed = []
        kept = []
        for failure in self.errors:
            if failure.check(*errorTypes):
                flushed.append(failure)
            else:
                kept.append(failure)
        self.errors = kept
        return flushed
