"""
Filtering events by level and namespace, or by any predicate.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable

from zope.interface import Interface, implementer

from ._interfaces import ILogObserver, LogEvent
from ._levels import InvalidLogLevelError, LogLevel

__all__ = [
    "MAX_NAMESPACE_CACHE",
    "FilteringLogObserver",
    "ILogFilterPredicate",
    "LogLevelFilterPredicate",
    "PredicateResult",
]


MAX_NAMESPACE_CACHE = 1024
"""How many namespaces' resolved levels a ``LogLevelFilterPredicate`` caches."""


class PredicateResult(enum.Enum):
    """
    A filter predicate's verdict on an event.
    """

    yes = "yes"
    """Forward the event, without asking the remaining predicates."""

    no = "no"
    """Drop the event, without asking the remaining predicates."""

    maybe = "maybe"
    """No opinion: ask the next predicate (forward if none is left)."""

    def __repr__(self) -> str:
        return f"<PredicateResult={self.name}>"


class ILogFilterPredicate(Interface):
    """
    A test deciding whether an event goes through a ``FilteringLogObserver``.
    """

    def __call__(event: LogEvent) -> PredicateResult:
        """
        Judge an event.

        :param event: the event.
        :return: ``PredicateResult.yes``, ``no`` or ``maybe``.
        """


@implementer(ILogObserver)
class FilteringLogObserver:
    """
    An observer that forwards to another only the events its predicates
    accept.

    Predicates are asked in order; the first ``yes`` or ``no`` decides, and an
    event every predicate answers ``maybe`` to is forwarded.
    """

    def __init__(
        self,
        observer: Callable[[LogEvent], None],
        predicates: Iterable[Callable[[LogEvent], PredicateResult]],
        negativeObserver: Callable[[LogEvent], None] = lambda event: None,
    ) -> None:
        """
        :param observer: receives accepted events.
        :param predicates: the ``ILogFilterPredicate`` providers to ask.
        :param negativeObserver: receives rejected events.
        """
        self._observer = observer
        self._predicates = list(predicates)
        self._negativeObserver = negativeObserver

    def _accepts(self, event: LogEvent) -> bool:
        for predicate in self._predicates:
            result = predicate(event)
            if result is PredicateResult.yes:
                return True
            if result is PredicateResult.no:
                return False
        return True

    def __call__(self, event: LogEvent) -> None:
        """
        Forward ``event`` to the observer or the negative observer.

        :param event: the event.
        """
        if self._accepts(event):
            if "log_trace" in event:
                event["log_trace"].append((self, self._observer))
            self._observer(event)
        else:
            self._negativeObserver(event)


@implementer(ILogFilterPredicate)
class LogLevelFilterPredicate:
    """
    Reject events below a minimum level, set per namespace.

    A namespace inherits the level of its closest configured parent
    (``"a.b.c"`` uses ``"a.b"``, then ``"a"``), and finally the default.
    Events without a level or a namespace are rejected.
    """

    def __init__(self, defaultLogLevel: LogLevel = LogLevel.info) -> None:
        """
        :param defaultLogLevel: the minimum level for namespaces without a
            level of their own.
        """
        self._levels: dict[str, LogLevel] = {}
        # Resolved levels per namespace; bounded, since namespaces may be
        # made up at run time.
        self._cache: dict[str | None, LogLevel] = {}
        self._defaultLogLevel = defaultLogLevel

    @property
    def defaultLogLevel(self) -> LogLevel:
        """
        The minimum level for namespaces without a level of their own.
        """
        return self._defaultLogLevel

    @defaultLogLevel.setter
    def defaultLogLevel(self, level: LogLevel) -> None:
        if not isinstance(level, LogLevel):
            raise InvalidLogLevelError(level)
        self._defaultLogLevel = level
        self._cache.clear()

    def logLevelForNamespace(self, namespace: str | None) -> LogLevel:
        """
        Return the minimum level in effect for ``namespace``.

        :param namespace: a dotted namespace; ``None`` or empty for the
            default.
        :return: the level.
        """
        try:
            return self._cache[namespace]
        except KeyError:
            pass
        level = self._defaultLogLevel
        candidate = namespace or ""
        while candidate:
            if candidate in self._levels:
                level = self._levels[candidate]
                break
            candidate = candidate.rpartition(".")[0]
        if len(self._cache) >= MAX_NAMESPACE_CACHE:
            self._cache.clear()
        self._cache[namespace] = level
        return level

    def setLogLevelForNamespace(self, namespace: str, level: LogLevel) -> None:
        """
        Set the minimum level for ``namespace`` and the namespaces below it.

        :param namespace: a dotted namespace; empty to change the default.
        :param level: the minimum level.
        :raises InvalidLogLevelError: if ``level`` is not a ``LogLevel``.
        """
        if not isinstance(level, LogLevel):
            raise InvalidLogLevelError(level)
        self._cache.clear()
        if namespace:
            self._levels[namespace] = level
        else:
            self.defaultLogLevel = level

    def clearLogLevels(self) -> None:
        """
        Forget every namespace's level, keeping the default.
        """
        self._levels.clear()
        self._cache.clear()

    def __call__(self, event: LogEvent) -> PredicateResult:
        """
        Reject the event if its level is below its namespace's minimum.

        :param event: the event.
        :return: ``no`` or ``maybe``.
        """
        level = event.get("log_level")
        namespace = event.get("log_namespace")
        if not isinstance(level, LogLevel) or namespace is None:
            return PredicateResult.no
        if level < self.logLevelForNamespace(namespace):
            return PredicateResult.no
        return PredicateResult.maybe
