"""
Interfaces of the logging system.
"""

from __future__ import annotations

from typing import Any

from zope.interface import Interface

__all__ = ["ILogObserver", "LogEvent", "LogTrace"]

LogEvent = dict[str, Any]
"""A log event: a dictionary of fields, mostly named ``log_*`` by the system."""

LogTrace = list[tuple[Any, Any]]
"""The route an event took: ``(logger or publisher, observer)`` pairs."""


class ILogObserver(Interface):
    """
    Something that receives log events.

    Any callable that takes one event dictionary can act as an observer;
    declaring this interface documents the intent and lets ``verifyObject``
    check an implementation.
    """

    def __call__(event: LogEvent) -> None:
        """
        Receive one log event.

        An observer must not modify the event, and should not raise: a
        publisher reports an observer that raises to the other observers.

        :param event: the event dictionary.
        """
