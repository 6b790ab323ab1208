"""
Protocols, log capture and small helpers for tests.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from typing import Protocol as _TypingProtocol

from zope.interface import implementer

from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IReactorTime
from torsion.internet.protocol import Protocol, connectionDone
from torsion.internet.task import LoopingCall
from torsion.logger import ILogObserver, LogEvent, LogPublisher
from torsion.python.failure import Failure

__all__ = ["AccumulatingProtocol", "EventLoggingObserver", "waitUntilAllDisconnected"]


class AccumulatingProtocol(Protocol):
    """
    A protocol that stores everything it receives and records its
    connection's life cycle.

    If its ``factory`` has a ``protocolConnectionMade`` attribute holding a
    ``Deferred``, ``connectionMade`` fires it with this protocol (once, then
    sets the attribute to ``None``).

    :ivar data: every byte received, concatenated.
    :ivar made: ``True`` once ``connectionMade`` ran.
    :ivar closed: ``True`` once ``connectionLost`` ran.
    :ivar closedReason: the ``Failure`` given to ``connectionLost``.
    :ivar closedDeferred: set it to a ``Deferred`` to have it fired with
        ``None`` by ``connectionLost``.
    """

    made: bool = False
    closed: bool = False
    closedReason: Failure | None = None
    closedDeferred: Deferred[None] | None = None

    def __init__(self) -> None:
        self.data = b""

    def connectionMade(self) -> None:
        """
        Record the connection and fire the factory's
        ``protocolConnectionMade``.
        """
        self.made = True
        factory = getattr(self, "factory", None)
        deferred = getattr(factory, "protocolConnectionMade", None)
        if deferred is not None:
            factory.protocolConnectionMade = None  # type: ignore[union-attr]
            deferred.callback(self)

    def dataReceived(self, data: bytes) -> None:
        """
        Append ``data`` to ``data``.

        :param data: the bytes received.
        """
        self.data += data

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        """
        Record the loss and fire ``closedDeferred``.

        :param reason: why the connection was lost.
        """
        self.closed = True
        self.closedReason = reason
        deferred, self.closedDeferred = self.closedDeferred, None
        if deferred is not None:
            deferred.callback(None)


class _AddCleanup(_TypingProtocol):
    def addCleanup(self, function: Any, /, *args: Any, **kwargs: Any) -> None: ...


@implementer(ILogObserver)
class EventLoggingObserver:
    """
    A log observer that keeps every event it sees, for assertions about
    what code logged.

    It behaves like a read-only list of events: ``len(observer)``,
    ``observer[0]``, iteration.
    """

    def __init__(self) -> None:
        self._events: list[LogEvent] = []

    def __call__(self, event: LogEvent) -> None:
        """
        Keep ``event``.

        :param event: a log event.
        """
        self._events.append(event)

    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, index: int) -> LogEvent:
        return self._events[index]

    def __iter__(self) -> Iterator[LogEvent]:
        return iter(self._events)

    def reset(self) -> None:
        """
        Forget the events seen so far.
        """
        del self._events[:]

    @classmethod
    def createWithCleanup(
        cls, testInstance: _AddCleanup, publisher: LogPublisher
    ) -> EventLoggingObserver:
        """
        Make an observer, add it to ``publisher``, and arrange for it to be
        removed when the test ends.

        :param testInstance: anything with ``addCleanup`` (a
            ``unittest.TestCase``; under pytest, see the howto for a fixture).
        :param publisher: the ``LogPublisher`` to observe, usually
            ``globalLogPublisher``.
        :return: the new observer.
        """
        observer = cls()
        publisher.addObserver(observer)
        testInstance.addCleanup(publisher.removeObserver, observer)
        return observer


def waitUntilAllDisconnected(
    reactor: IReactorTime, protocols: Sequence[Protocol]
) -> Deferred[LoopingCall]:
    """
    Return a ``Deferred`` that fires once every protocol's transport has
    disconnected, checking every 10 ms on ``reactor``.

    A protocol counts as disconnected when it has no transport, or its
    transport's ``connected`` attribute is false.

    :param reactor: the reactor (or ``Clock``) to poll on.
    :param protocols: the protocols to wait for.
    :return: a ``Deferred`` firing when all are disconnected.
    """

    def check() -> None:
        for protocol in protocols:
            transport = getattr(protocol, "transport", None)
            if transport is not None and getattr(transport, "connected", False):
                return
        loop.stop()

    loop = LoopingCall(check)
    loop.clock = reactor
    return loop.start(0.01, now=True)
