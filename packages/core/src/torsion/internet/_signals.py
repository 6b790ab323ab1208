"""
Signal handling for the POSIX reactors.

SIGINT and SIGTERM stop the reactor cleanly (shutdown triggers run);
SIGCHLD runs the child reapers registered with
``reactor._registerChildReaper``.  The handlers only queue work with
``callFromThread``, and ``signal.set_wakeup_fd`` points at the reactor's
waker so a signal always interrupts the wait for events.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

_Handler = Callable[[int, FrameType | None], Any] | int | None


class SignalHandling:
    """
    Installs and later restores the reactor's signal handlers.
    """

    def __init__(self, reactor: Any, wakeupFD: int) -> None:
        """
        :param reactor: the reactor to stop or to run reapers in.
        :param wakeupFD: the write end of the reactor's waker.
        """
        self._reactor = reactor
        self._wakeupFD = wakeupFD
        self._saved: dict[int, _Handler] = {}
        self._savedWakeup: int | None = None
        self.installed = False

    def install(self, stopSignals: bool = True) -> bool:
        """
        Install the handlers.  Does nothing outside the main thread.

        :param stopSignals: also handle SIGINT and SIGTERM.
        :return: whether anything was installed.
        """
        if threading.current_thread() is not threading.main_thread():
            return False
        if self.installed:
            return True
        self.installed = True
        self._savedWakeup = signal.set_wakeup_fd(
            self._wakeupFD, warn_on_full_buffer=False
        )
        if stopSignals:
            self._set(signal.SIGINT, self._stopSignal)
            self._set(signal.SIGTERM, self._stopSignal)
        self.installChildHandler()
        return True

    def installChildHandler(self) -> None:
        """
        Handle SIGCHLD, if any reaper is registered and we are in the main
        thread.
        """
        if (
            self._reactor._childReapers
            and signal.SIGCHLD not in self._saved
            and threading.current_thread() is threading.main_thread()
        ):
            self._set(signal.SIGCHLD, self._childSignal)

    def _set(
        self, signum: int, handler: Callable[[int, FrameType | None], None]
    ) -> None:
        self._saved[signum] = signal.signal(signum, handler)
        # Let system calls be restarted rather than fail with EINTR.
        signal.siginterrupt(signum, False)

    def uninstall(self) -> None:
        """
        Restore the handlers and wake-up descriptor found at install time.
        """
        if not self.installed:
            return
        if threading.current_thread() is not threading.main_thread():
            return
        for signum, handler in self._saved.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
        self._saved.clear()
        if self._savedWakeup is not None:
            signal.set_wakeup_fd(self._savedWakeup)
            self._savedWakeup = None
        self.installed = False

    def _stopSignal(self, signum: int, frame: FrameType | None) -> None:
        self._reactor.callFromThread(self._reactor._stopFromSignal, signum)

    def _childSignal(self, signum: int, frame: FrameType | None) -> None:
        self._reactor.callFromThread(self._reactor._reapChildren)
