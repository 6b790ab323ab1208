"""
A reactor that runs on an asyncio event loop.

With it, torsion protocols and asyncio libraries share one loop and one
thread: descriptors are watched with ``loop.add_reader``/``add_writer``,
scheduled calls ride on ``loop.call_later``, and other threads wake the loop
with ``loop.call_soon_threadsafe``. Any loop that implements those methods
works, uvloop's included.

Install it before anything imports ``torsion.internet.reactor``::

    from torsion.internet import asyncioreactor
    asyncioreactor.install()

    from torsion.internet import reactor

Then mix the two worlds with ``Deferred.fromFuture`` (await an asyncio
future or task from torsion code) and ``Deferred.asFuture(loop)`` (await a
Deferred from asyncio code)::

    async def main() -> None:
        body = await Deferred.fromFuture(asyncio.ensure_future(fetch()))

    reactor.callWhenRunning(lambda: Deferred.fromCoroutine(main()))
    reactor.run()

``reactor.run()`` runs the loop with ``run_forever``. When an asyncio
program already runs the loop (inside ``asyncio.run``), call
``reactor.startRunning(installSignalHandlers=False)`` instead and stop with
``reactor.stop()`` as usual: the reactor then lives on the running loop.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.base import DelayedCall
from torsion.internet.interfaces import (
    IReactorFDSet,
    IReadDescriptor,
    IWriteDescriptor,
)
from torsion.internet.posixbase import PosixReactorBase, _TableFDSetMixin

__all__ = ["AsyncioSelectorReactor", "install", "makeReactor"]

# ``iterate()`` with no limit waits at most this long (some loops reject an
# infinite delay); the caller's loop simply iterates again.
_LONGEST_WAIT = 86400.0


@implementer(IReactorFDSet)
class AsyncioSelectorReactor(_TableFDSetMixin, PosixReactorBase):
    """
    A reactor driven by an asyncio event loop.

    :ivar _asyncioEventloop: the loop in use.
    """

    def __init__(self, eventloop: asyncio.AbstractEventLoop | None = None) -> None:
        """
        :param eventloop: the loop to run on; a new loop (owned, and closed
            with the reactor) if omitted.
        """
        self._ownLoop = eventloop is None
        if eventloop is None:
            eventloop = asyncio.new_event_loop()
        self._asyncioEventloop = eventloop
        self._readers: dict[Any, int] = {}
        self._writers: dict[Any, int] = {}
        # Which object the loop currently calls for each descriptor number,
        # so that removing a stale object never unregisters a newer one that
        # reuses its number.
        self._fdReaders: dict[int, Any] = {}
        self._fdWriters: dict[int, Any] = {}
        self._tickHandle: asyncio.TimerHandle | asyncio.Handle | None = None
        self._tickTime = math.inf
        self._iterating = False
        PosixReactorBase.__init__(self)

    # -- descriptors ---------------------------------------------------

    def _dispatch(self, selectable: Any, fd: int, isRead: bool) -> None:
        why: Any = None
        try:
            why = selectable.doRead() if isRead else selectable.doWrite()
            if why is None and selectable.fileno() != fd:
                registered = self._readers if isRead else self._writers
                if registered.get(selectable) == fd:
                    why = error.ConnectionFdescWentAway(
                        "the descriptor was closed while still watched"
                    )
        except Exception:
            why = self._logDispatchError(selectable)
        if why is not None:
            self._disconnectSelectable(selectable, why, isRead)
        self._afterCallbacks()

    def addReader(self, reader: IReadDescriptor) -> None:
        """
        Watch ``reader`` for readability.

        :param reader: the descriptor.
        """
        if reader in self._readers:
            return
        fd = reader.fileno()
        if fd < 0:
            return
        stale = self._fdReaders.get(fd)
        if stale is not None and stale is not reader:
            self._readers.pop(stale, None)
        self._asyncioEventloop.add_reader(fd, self._dispatch, reader, fd, True)
        self._readers[reader] = fd
        self._fdReaders[fd] = reader

    def addWriter(self, writer: IWriteDescriptor) -> None:
        """
        Watch ``writer`` for writability.

        :param writer: the descriptor.
        """
        if writer in self._writers:
            return
        fd = writer.fileno()
        if fd < 0:
            return
        stale = self._fdWriters.get(fd)
        if stale is not None and stale is not writer:
            self._writers.pop(stale, None)
        self._asyncioEventloop.add_writer(fd, self._dispatch, writer, fd, False)
        self._writers[writer] = fd
        self._fdWriters[fd] = writer

    def removeReader(self, reader: IReadDescriptor) -> None:
        """
        Stop watching ``reader`` for readability.

        :param reader: the descriptor.
        """
        fd = self._readers.pop(reader, None)
        if fd is None:
            return
        if self._fdReaders.get(fd) is reader:
            del self._fdReaders[fd]
            self._unwatch(self._asyncioEventloop.remove_reader, fd)

    def removeWriter(self, writer: IWriteDescriptor) -> None:
        """
        Stop watching ``writer`` for writability.

        :param writer: the descriptor.
        """
        fd = self._writers.pop(writer, None)
        if fd is None:
            return
        if self._fdWriters.get(fd) is writer:
            del self._fdWriters[fd]
            self._unwatch(self._asyncioEventloop.remove_writer, fd)

    def _unwatch(self, remove: Callable[[int], object], fd: int) -> None:
        if self._asyncioEventloop.is_closed():
            return
        try:
            remove(fd)
        except (OSError, ValueError):
            # Closed already: the selector forgets it by itself.
            pass

    # -- time and wake-ups -----------------------------------------------

    def _scheduleTick(self, when: float) -> None:
        """
        Make sure ``_tick`` runs no later than reactor time ``when``.
        """
        if when >= self._tickTime:
            return
        loop = self._asyncioEventloop
        if loop.is_closed():
            return
        handle = self._tickHandle
        if handle is not None:
            handle.cancel()
        self._tickTime = when
        self._tickHandle = loop.call_later(max(0.0, when - self.seconds()), self._tick)

    def _tick(self) -> None:
        self._tickHandle = None
        self._tickTime = math.inf
        self.runUntilCurrent()
        self._afterCallbacks()

    def _afterCallbacks(self) -> None:
        """
        Schedule the next ``_tick`` for what is now pending; stop the loop
        if ``iterate`` asked for a single round.
        """
        if self._iterating:
            self._asyncioEventloop.stop()
        timeout = self.timeout()
        if timeout is not None:
            self._scheduleTick(self.seconds() + timeout)

    def callLater(
        self, delay: float, callable: Callable[..., Any], *args: Any, **kw: Any
    ) -> DelayedCall:
        """
        Call ``callable(*args, **kw)`` after ``delay`` seconds.

        :param delay: seconds to wait, at least ``0``.
        :param callable: what to call.
        :return: a ``DelayedCall``.
        :raises ValueError: if ``delay`` is negative.
        """
        dc = PosixReactorBase.callLater(self, delay, callable, *args, **kw)
        self._scheduleTick(dc.time)
        return dc

    def _moveCallLaterSooner(self, dc: DelayedCall) -> None:
        PosixReactorBase._moveCallLaterSooner(self, dc)
        self._scheduleTick(dc.getTime())

    def wakeUp(self) -> None:
        """
        Make the loop run the reactor's pending work soon; safe from any
        thread and from signal handlers.
        """
        loop = self._asyncioEventloop
        try:
            loop.call_soon_threadsafe(self._tick)
        except RuntimeError:
            # The loop is closed: nothing is waiting any more.
            pass

    # -- running ---------------------------------------------------------

    def startRunning(self, installSignalHandlers: bool = True) -> None:
        """
        Fire the "startup" event and schedule the reactor's work on the loop.

        ``run`` calls this; call it yourself when the asyncio loop is already
        running (the reactor then runs as long as the loop does).

        :param installSignalHandlers: stop cleanly on SIGINT and SIGTERM and
            reap children on SIGCHLD; only possible in the main thread.
        """
        PosixReactorBase.startRunning(self, installSignalHandlers)
        self._scheduleTick(self.seconds())

    def run(self, installSignalHandlers: bool = True) -> None:
        """
        Run the asyncio loop until the reactor stops or crashes.

        :param installSignalHandlers: stop cleanly on SIGINT and SIGTERM and
            reap children on SIGCHLD; only possible in the main thread.
        :raises RuntimeError: if the loop is already running (use
            ``startRunning`` then).
        """
        loop = self._asyncioEventloop
        if loop.is_running():
            raise RuntimeError(
                "the asyncio loop is already running: use reactor.startRunning()"
            )
        self.startRunning(installSignalHandlers=installSignalHandlers)
        self.mainLoop()

    def mainLoop(self) -> None:
        """
        Run the loop until the reactor crashes or stops.
        """
        loop = self._asyncioEventloop
        try:
            while self._started:
                loop.run_forever()
        finally:
            self._uninstallHandler()

    def crash(self) -> None:
        """
        Leave ``run`` at once without running shutdown triggers; the reactor
        may be run again.
        """
        PosixReactorBase.crash(self)
        loop = self._asyncioEventloop
        if not loop.is_closed():
            loop.stop()

    def doIteration(self, delay: float | None) -> None:
        """
        Run one round of the loop: wait up to ``delay`` seconds for an event
        and handle what is ready.

        :param delay: the longest wait, ``None`` for no limit.
        """
        loop = self._asyncioEventloop
        if loop.is_running():
            return
        guard = loop.call_later(_LONGEST_WAIT if delay is None else delay, loop.stop)
        self._iterating = True
        try:
            loop.run_forever()
        finally:
            self._iterating = False
            guard.cancel()

    def _closePoller(self) -> None:
        handle, self._tickHandle = self._tickHandle, None
        if handle is not None:
            handle.cancel()
        self._tickTime = math.inf
        loop = self._asyncioEventloop
        if self._ownLoop and not loop.is_closed() and not loop.is_running():
            loop.close()


def makeReactor(
    eventloop: asyncio.AbstractEventLoop | None = None,
) -> AsyncioSelectorReactor:
    """
    Create an asyncio reactor without installing it.

    :param eventloop: the loop to run on; a new one if omitted.
    :return: the reactor.
    """
    return AsyncioSelectorReactor(eventloop)


def install(
    eventloop: asyncio.AbstractEventLoop | None = None,
) -> AsyncioSelectorReactor:
    """
    Install an asyncio reactor as the global ``torsion.internet.reactor``.

    Without ``eventloop``, a new loop is created and made the current
    thread's asyncio event loop, so ``asyncio.get_event_loop()`` and the
    reactor agree.

    :param eventloop: the loop to run on (uvloop's, for example).
    :return: the reactor.
    :raises torsion.internet.error.ReactorAlreadyInstalledError: if a
        reactor is installed already.
    """
    from torsion.internet.main import installReactor

    if eventloop is None:
        eventloop = asyncio.new_event_loop()
        asyncio.set_event_loop(eventloop)
    reactor = AsyncioSelectorReactor(eventloop)
    installReactor(reactor)
    return reactor
