"""
Publishing events to many observers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from zope.interface import implementer

from ._failure import captureFailure
from ._interfaces import ILogObserver, LogEvent

if TYPE_CHECKING:
    from ._logger import Logger

__all__ = ["LogPublisher"]

Observer = Callable[[LogEvent], None]


@implementer(ILogObserver)
class LogPublisher:
    """
    An observer that forwards each event to every observer added to it.

    An observer that raises does not stop the others from seeing the event:
    the exception is reported, as a critical event carrying the failure, to
    all the other observers, and the broken observer stays registered.
    """

    def __init__(self, *observers: Observer) -> None:
        """
        :param observers: the initial observers.
        """
        self._observers: list[Observer] = []
        for observer in observers:
            self.addObserver(observer)

    @property
    def observers(self) -> list[Observer]:
        """
        A copy of the list of observers, in the order they receive events.
        """
        return list(self._observers)

    def addObserver(self, observer: Observer) -> None:
        """
        Add an observer; adding one that is already present does nothing.

        :param observer: a callable taking one event dictionary.
        :raises TypeError: if ``observer`` is not callable.
        """
        if not callable(observer):
            raise TypeError(f"Observer is not callable: {observer!r}")
        if observer not in self._observers:
            self._observers.append(observer)

    def removeObserver(self, observer: Observer) -> None:
        """
        Remove an observer; removing one that is not present does nothing.

        :param observer: an observer previously added.
        """
        try:
            self._observers.remove(observer)
        except ValueError:
            pass

    def __call__(self, event: LogEvent) -> None:
        """
        Forward ``event`` to every observer.

        :param event: the event dictionary.
        """
        broken: list[tuple[Observer, Any]] = []
        for observer in list(self._observers):
            if "log_trace" in event:
                event["log_trace"].append((self, observer))
            try:
                observer(event)
            except Exception:
                try:
                    broken.append((observer, captureFailure()))
                except Exception:
                    # Without Failure we cannot describe the error; the
                    # other observers still got the event, which is what
                    # matters most.
                    pass
        for observer, failure in broken:
            self._errorLoggerFor(observer).failure(
                "Log observer {observer!r} raised an exception; "
                "other observers carry on",
                failure,
                observer=observer,
            )

    def _errorLoggerFor(self, brokenObserver: Observer) -> Logger:
        from ._logger import Logger

        others = [o for o in self._observers if o is not brokenObserver]

        def reportToOthers(event: LogEvent) -> None:
            for other in others:
                try:
                    other(event)
                except Exception:
                    # Reporting a report's failure could loop forever.
                    pass

        return Logger(namespace="torsion.logger", observer=reportToOthers)
