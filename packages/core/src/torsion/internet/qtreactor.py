"""
A reactor that runs inside a Qt application (PySide6).

The reactor's descriptors are watched with ``QSocketNotifier`` and its
scheduled calls ride on a single-shot ``QTimer``, so torsion's networking
and the Qt GUI share one thread and one event loop; no thread per socket.
Other threads wake the loop through the reactor's waker pipe, which is
watched like any other descriptor.

Install it before anything imports ``torsion.internet.reactor``, after the
``QApplication`` exists (or let ``install`` create a ``QCoreApplication``)::

    from PySide6.QtWidgets import QApplication
    app = QApplication([])

    from torsion.internet import qtreactor
    qtreactor.install()

    from torsion.internet import reactor
    reactor.listenTCP(8000, factory)
    reactor.run()          # runs Qt's event loop until reactor.stop()

If the program runs Qt's loop itself (``app.exec()``), call
``reactor.runReturn()`` first instead of ``reactor.run()``: the reactor
starts and returns, and Qt's loop then drives it.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import (
    QCoreApplication,
    QEventLoop,
    QSocketNotifier,
    QTimer,
)

from torsion.internet import error
from torsion.internet.posixbase import (
    PosixReactorBase,
    _ForeignTimerMixin,
    _HandleFDSetMixin,
)

__all__ = ["QtReactor", "install", "makeReactor"]

# Qt timers take whole milliseconds and at most a signed 32-bit count; a
# longer wait is cut short and simply renewed.
_LONGEST_WAIT_MS = 24 * 3600 * 1000


def _milliseconds(delay: float) -> int:
    # Rounding up: a timer that fires early finds nothing due and has to be
    # set again.
    return min(_LONGEST_WAIT_MS, max(0, math.ceil(delay * 1000)))


class QtReactor(_ForeignTimerMixin, _HandleFDSetMixin, PosixReactorBase):
    """
    A reactor driven by Qt's event loop.
    """

    def __init__(self, app: QCoreApplication | None = None) -> None:
        """
        :param app: the application; the existing instance (or a new
            ``QCoreApplication``) if omitted.
        """
        existing = QCoreApplication.instance()
        if app is None:
            app = existing if existing is not None else QCoreApplication([])
        self._app = app
        self._readers: dict[Any, QSocketNotifier] = {}
        self._writers: dict[Any, QSocketNotifier] = {}
        # Notifiers removed while Qt may still be delivering their signal;
        # dropped from the timer callback, where deleting them is safe.
        self._retired: list[QSocketNotifier] = []
        self._timer = QTimer()
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._tick)
        self._tickTime = math.inf
        self._loop: QEventLoop | None = None
        PosixReactorBase.__init__(self)

    # -- descriptors -----------------------------------------------------

    def _add(
        self, selectable: Any, registered: dict[Any, QSocketNotifier], isRead: bool
    ) -> None:
        if selectable in registered:
            return
        fd = selectable.fileno()
        if fd < 0:
            return
        kind = QSocketNotifier.Type.Read if isRead else QSocketNotifier.Type.Write
        notifier = QSocketNotifier(fd, kind)
        notifier.activated.connect(
            lambda *_: self._dispatch(selectable, fd, isRead, notifier)
        )
        registered[selectable] = notifier
        notifier.setEnabled(True)

    def _remove(self, selectable: Any, registered: dict[Any, QSocketNotifier]) -> None:
        notifier = registered.pop(selectable, None)
        if notifier is None:
            return
        notifier.setEnabled(False)
        self._retired.append(notifier)

    def _dispatch(
        self, selectable: Any, fd: int, isRead: bool, notifier: QSocketNotifier
    ) -> None:
        registered = self._readers if isRead else self._writers
        if registered.get(selectable) is not notifier:
            # Removed after Qt had queued this activation.
            return
        why: Any = None
        try:
            why = selectable.doRead() if isRead else selectable.doWrite()
            if (
                why is None
                and selectable.fileno() != fd
                and registered.get(selectable) is notifier
            ):
                why = error.ConnectionFdescWentAway(
                    "the descriptor was closed while still watched"
                )
        except Exception:
            why = self._logDispatchError(selectable)
        if why is not None:
            self._disconnectSelectable(selectable, why, isRead)
        self._runPending()

    # -- time ------------------------------------------------------------

    def _runPending(self) -> None:
        """
        Run what is due (calls from threads, scheduled calls, shutdown) and
        set the timer for what comes next.
        """
        self.runUntilCurrent()
        if self._retired:
            self._scheduleTick(self.seconds())
        timeout = self.timeout()
        if timeout is not None:
            self._scheduleTick(self.seconds() + timeout)

    def _scheduleTick(self, when: float) -> None:
        if when >= self._tickTime and self._timer.isActive():
            return
        self._tickTime = when
        self._timer.start(_milliseconds(when - self.seconds()))

    def _tick(self) -> None:
        self._tickTime = math.inf
        self._retired.clear()
        self._runPending()

    # -- running ---------------------------------------------------------

    def runReturn(self, installSignalHandlers: bool = True) -> None:
        """
        Start the reactor and return at once, for programs that run Qt's
        event loop themselves (``app.exec()``); that loop then drives the
        reactor.  ``reactor.stop()`` runs the shutdown but leaves quitting
        the application to the program.

        :param installSignalHandlers: stop cleanly on SIGINT and SIGTERM and
            reap children on SIGCHLD; only possible in the main thread.
        """
        self.startRunning(installSignalHandlers=installSignalHandlers)
        self._scheduleTick(self.seconds())

    def mainLoop(self) -> None:
        """
        Run Qt's event loop until the reactor stops or crashes.
        """
        self._scheduleTick(self.seconds())
        try:
            while self._started:
                self._loop = QEventLoop()
                self._loop.exec()
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
        Handle Qt's pending events, waiting up to ``delay`` seconds for one.

        :param delay: the longest wait, ``None`` for no limit.
        """
        flags = QEventLoop.ProcessEventsFlag.AllEvents
        guard = QTimer()
        guard.setSingleShot(True)
        if delay is None or delay > 0:
            flags |= QEventLoop.ProcessEventsFlag.WaitForMoreEvents
            guard.start(_LONGEST_WAIT_MS if delay is None else _milliseconds(delay))
        try:
            self._app.processEvents(flags)
        finally:
            guard.stop()

    def _closePoller(self) -> None:
        self._timer.stop()
        self._tickTime = math.inf
        for registered in (self._readers, self._writers):
            for notifier in registered.values():
                notifier.setEnabled(False)
            registered.clear()
        self._retired.clear()


def makeReactor(app: QCoreApplication | None = None) -> QtReactor:
    """
    Create a Qt reactor without installing it.

    :param app: the application; the existing one or a new
        ``QCoreApplication`` if omitted.
    :return: the reactor.
    """
    return QtReactor(app)


def install(app: QCoreApplication | None = None) -> QtReactor:
    """
    Install a Qt reactor as the global ``torsion.internet.reactor``.

    :param app: the application (a ``QApplication`` for a GUI); the
        existing one or a new ``QCoreApplication`` if omitted.
    :return: the reactor.
    :raises torsion.internet.error.ReactorAlreadyInstalledError: if a
        reactor is installed already.
    """
    from torsion.internet.main import installReactor

    reactor = QtReactor(app)
    installReactor(reactor)
    return reactor
