"""
A reactor that runs on the GLib main loop (PyGObject), for GTK and other
GLib-based programs.

Descriptors are watched with ``GLib.unix_fd_add_full``, scheduled calls ride
on ``GLib.timeout_add``, and other threads wake the loop through the
reactor's waker pipe, watched like any other descriptor.  torsion and the
GLib program then share one thread and one loop.

Install it before anything imports ``torsion.internet.reactor``::

    from torsion.internet import gireactor
    gireactor.install()

    from torsion.internet import reactor
    reactor.listenTCP(8000, factory)
    reactor.run()          # runs a GLib.MainLoop until reactor.stop()

A program that runs the GLib loop itself (``Gtk.Application.run``, its
own ``GLib.MainLoop``) calls ``reactor.runReturn()`` instead: the reactor
starts and returns, and the program's loop then drives it.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

from torsion.internet import error
from torsion.internet.posixbase import (
    PosixReactorBase,
    _ForeignTimerMixin,
    _HandleFDSetMixin,
)

__all__ = ["GIReactor", "install", "makeReactor"]

# PyGObject builds its modules at run time and ships no type information.
GLib: Any = importlib.import_module("gi.repository.GLib")

# GLib timeouts take whole milliseconds in an unsigned 32-bit count; a
# longer wait is cut short and renewed.
_LONGEST_WAIT_MS = 24 * 3600 * 1000


def _milliseconds(delay: float) -> int:
    # Rounding up: a timeout that fires early finds nothing due and has to
    # be set again.
    return min(_LONGEST_WAIT_MS, max(0, math.ceil(delay * 1000)))


class GIReactor(_ForeignTimerMixin, _HandleFDSetMixin, PosixReactorBase):
    """
    A reactor driven by the GLib main loop (the default main context).
    """

    def __init__(self) -> None:
        self._readers: dict[Any, int] = {}
        self._writers: dict[Any, int] = {}
        self._timeoutID: int | None = None
        self._tickTime = math.inf
        self._loop: Any = None
        condition = GLib.IOCondition
        self._readCondition = condition.IN | condition.HUP | condition.ERR
        self._writeCondition = condition.OUT | condition.HUP | condition.ERR
        PosixReactorBase.__init__(self)

    # -- descriptors -----------------------------------------------------

    def _add(self, selectable: Any, registered: dict[Any, int], isRead: bool) -> None:
        if selectable in registered:
            return
        fd = selectable.fileno()
        if fd < 0:
            return
        holder: list[int] = []
        sourceID = GLib.unix_fd_add_full(
            GLib.PRIORITY_DEFAULT,
            fd,
            self._readCondition if isRead else self._writeCondition,
            self._dispatch,
            selectable,
            isRead,
            holder,
        )
        holder.append(sourceID)
        registered[selectable] = sourceID

    def _remove(self, selectable: Any, registered: dict[Any, int]) -> None:
        sourceID = registered.pop(selectable, None)
        if sourceID is not None:
            GLib.source_remove(sourceID)

    def _dispatch(
        self, fd: int, condition: Any, selectable: Any, isRead: bool, holder: list[int]
    ) -> bool:
        registered = self._readers if isRead else self._writers
        sourceID = holder[0] if holder else None
        if registered.get(selectable) != sourceID:
            return False
        why: Any = None
        try:
            why = selectable.doRead() if isRead else selectable.doWrite()
            if (
                why is None
                and selectable.fileno() != fd
                and registered.get(selectable) == sourceID
            ):
                why = error.ConnectionFdescWentAway(
                    "the descriptor was closed while still watched"
                )
        except Exception:
            why = self._logDispatchError(selectable)
        if why is not None:
            self._disconnectSelectable(selectable, why, isRead)
        keep = registered.get(selectable) == sourceID
        self._runPending()
        # A source the callback removed is already destroyed; returning
        # False for it is harmless and keeps GLib from calling it again.
        return keep

    # -- time ------------------------------------------------------------

    def _runPending(self) -> None:
        """
        Run what is due (calls from threads, scheduled calls, shutdown) and
        set the timeout for what comes next.
        """
        self.runUntilCurrent()
        timeout = self.timeout()
        if timeout is not None:
            self._scheduleTick(self.seconds() + timeout)

    def _scheduleTick(self, when: float) -> None:
        if when >= self._tickTime and self._timeoutID is not None:
            return
        if self._timeoutID is not None:
            GLib.source_remove(self._timeoutID)
        self._tickTime = when
        self._timeoutID = GLib.timeout_add(
            _milliseconds(when - self.seconds()), self._tick
        )

    def _tick(self) -> bool:
        self._timeoutID = None
        self._tickTime = math.inf
        self._runPending()
        return False

    # -- running ---------------------------------------------------------

    def runReturn(self, installSignalHandlers: bool = True) -> None:
        """
        Start the reactor and return at once, for programs that run the
        GLib loop themselves; that loop then drives the reactor.
        ``reactor.stop()`` runs the shutdown but leaves quitting the
        program's loop to the program.

        :param installSignalHandlers: stop cleanly on SIGINT and SIGTERM and
            reap children on SIGCHLD; only possible in the main thread.
        """
        self.startRunning(installSignalHandlers=installSignalHandlers)
        self._scheduleTick(self.seconds())

    def mainLoop(self) -> None:
        """
        Run a ``GLib.MainLoop`` until the reactor stops or crashes.
        """
        self._scheduleTick(self.seconds())
        try:
            while self._started:
                self._loop = GLib.MainLoop()
                self._loop.run()
        finally:
            self._loop = None
            self._uninstallHandler()

    def crash(self) -> None:
        """
        Leave ``run`` at once without running shutdown triggers; the reactor
        may be run again.
        """
        PosixReactorBase.crash(self)
        if self._loop is not None:
            self._loop.quit()

    def doIteration(self, delay: float | None) -> None:
        """
        Handle the GLib loop's pending events, waiting up to ``delay``
        seconds for one.

        :param delay: the longest wait, ``None`` for no limit.
        """
        context = GLib.MainContext.default()
        guard: int | None = None
        if delay is None or delay > 0:
            wait = _LONGEST_WAIT_MS if delay is None else _milliseconds(delay)
            guard = GLib.timeout_add(wait, lambda: False)
            context.iteration(True)
        while context.pending():
            context.iteration(False)
        if guard is not None and context.find_source_by_id(guard) is not None:
            GLib.source_remove(guard)

    def _closePoller(self) -> None:
        if self._timeoutID is not None:
            GLib.source_remove(self._timeoutID)
            self._timeoutID = None
        self._tickTime = math.inf
        for registered in (self._readers, self._writers):
            for sourceID in registered.values():
                GLib.source_remove(sourceID)
            registered.clear()


def makeReactor() -> GIReactor:
    """
    Create a GLib reactor without installing it.

    :return: the reactor.
    """
    return GIReactor()


def install() -> GIReactor:
    """
    Install a GLib reactor as the global ``torsion.internet.reactor``.

    :return: the reactor.
    :raises torsion.internet.error.ReactorAlreadyInstalledError: if a
        reactor is installed already.
    """
    from torsion.internet.main import installReactor

    reactor = GIReactor()
    installReactor(reactor)
    return reactor
