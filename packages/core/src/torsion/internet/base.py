"""
The parts of a reactor that do not depend on how it waits for events:
scheduled calls (``DelayedCall``), system event triggers, thread integration
and name resolution.  ``posixbase.PosixReactorBase`` adds descriptors and
sockets on top.
"""

from __future__ import annotations

import time as _time
import traceback
from collections.abc import Callable
from typing import Any

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.interfaces import IDelayedCall


def runtimeSeconds() -> float:
    """
    The clock reactors schedule calls on: a monotonic clock, unaffected by
    changes to the system time.

    :return: seconds since an arbitrary fixed point.
    """
    return _time.monotonic()


@implementer(IDelayedCall)
class DelayedCall:
    """
    A call scheduled to run at a given time, returned by ``callLater``.

    Reactors and ``Clock`` create these; users keep them to ``cancel``,
    ``reset`` or ``delay`` the call.

    :cvar debug: when ``True``, every new call records the stack that created
        it (``creator``), shown in its ``repr``; useful to find who scheduled a
        call left pending at the end of a test.
    :ivar time: the due time, excluding a pending postponement.
    :ivar func: what will be called.
    :ivar args: its positional arguments.
    :ivar kw: its keyword arguments.
    :ivar cancelled: true once cancelled.
    :ivar called: true once run.
    :ivar delayed_time: how far the call was postponed by ``reset``/``delay``
        without the scheduler having been told yet.
    """

    debug: bool = False
    _repr: str | None = None
    creator: list[str] | None = None

    def __init__(
        self,
        time: float,
        func: Callable[..., Any],
        args: tuple[Any, ...],
        kw: dict[str, Any],
        cancel: Callable[[DelayedCall], Any],
        reset: Callable[[DelayedCall], Any],
        seconds: Callable[[], float] = runtimeSeconds,
    ) -> None:
        """
        :param time: when to run, on the ``seconds`` clock.
        :param func: what to call.
        :param args: positional arguments for ``func``.
        :param kw: keyword arguments for ``func``.
        :param cancel: called with this object when it is cancelled, so the
            scheduler can forget it.
        :param reset: called with this object when it is moved earlier, so
            the scheduler can reorder it.
        :param seconds: the clock ``time`` is measured on.
        """
        self.time = time
        self.func = func
        self.args = args
        self.kw = kw
        self.resetter = reset
        self.canceller = cancel
        self.seconds = seconds
        self.cancelled = 0
        self.called = 0
        self.delayed_time = 0.0
        if self.debug:
            self.creator = traceback.format_stack()[:-2]

    def getTime(self) -> float:
        """
        :return: when the call is due, on the reactor's ``seconds`` clock.
        """
        return self.time + self.delayed_time

    def cancel(self) -> None:
        """
        Prevent the call from running.

        :raises torsion.internet.error.AlreadyCancelled: if already cancelled.
        :raises torsion.internet.error.AlreadyCalled: if it already ran.
        """
        if self.cancelled:
            raise error.AlreadyCancelled()
        if self.called:
            raise error.AlreadyCalled()
        if self.debug:
            self._repr = repr(self)
        self.cancelled = 1
        self.canceller(self)
        # Drop references so a cancelled call does not keep its arguments
        # alive while it waits to be discarded by the scheduler.
        del self.func, self.args, self.kw

    def reset(self, secondsFromNow: float) -> None:
        """
        Make the call due ``secondsFromNow`` seconds from now.

        :param secondsFromNow: the new delay.
        :raises torsion.internet.error.AlreadyCancelled: if cancelled.
        :raises torsion.internet.error.AlreadyCalled: if it already ran.
        """
        if self.cancelled:
            raise error.AlreadyCancelled()
        if self.called:
            raise error.AlreadyCalled()
        newTime = self.seconds() + secondsFromNow
        if newTime < self.time:
            self.delayed_time = 0.0
            self.time = newTime
            self.resetter(self)
        else:
            # Later: the scheduler notices when the old due time comes.
            self.delayed_time = newTime - self.time

    def delay(self, secondsLater: float) -> None:
        """
        Postpone the call by ``secondsLater`` seconds (negative brings it
        forward).

        :param secondsLater: seconds to add to the due time.
        :raises torsion.internet.error.AlreadyCancelled: if cancelled.
        :raises torsion.internet.error.AlreadyCalled: if it already ran.
        """
        if self.cancelled:
            raise error.AlreadyCancelled()
        if self.called:
            raise error.AlreadyCalled()
        self.delayed_time += secondsLater
        if self.delayed_time < 0:
            self.activate_delay()
            self.resetter(self)

    def activate_delay(self) -> None:
        """
        Fold a pending postponement into ``time``; used by schedulers.
        """
        self.time += self.delayed_time
        self.delayed_time = 0.0

    def active(self) -> bool:
        """
        :return: ``True`` until the call runs or is cancelled.
        """
        return not (self.cancelled or self.called)

    def __le__(self, other: DelayedCall) -> bool:
        return self.getTime() <= other.getTime()

    def __lt__(self, other: DelayedCall) -> bool:
        return self.getTime() < other.getTime()

    def __repr__(self) -> str:
        if self._repr is not None:
            return self._repr
        func = getattr(self, "func", None)
        if func is not None:
            name = getattr(func, "__qualname__", None) or repr(func)
            args = ", ".join(
                [repr(a) for a in self.args]
                + [f"{k}={v!r}" for k, v in self.kw.items()]
            )
            what = f"{name}({args})"
        else:
            what = "<cancelled>"
        state = (
            "called" if self.called else "cancelled" if self.cancelled else "pending"
        )
        due = self.getTime() - self.seconds()
        text = f"<DelayedCall 0x{id(self):x} [{due:.6g}s] {state} {what}"
        if self.creator is not None:
            text += "\n\ntraceback at creation:\n\n" + "    ".join(self.creator)
        return text + ">"

    __str__ = __repr__
