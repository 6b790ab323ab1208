"""
Running a Tkinter GUI and torsion in one thread.

The reactor stays in charge: ``install`` makes it process Tk's pending
events every few milliseconds (redraws, button presses, ``after``
callbacks), so the program calls ``reactor.run()`` instead of
``root.mainloop()``::

    import tkinter
    from torsion.internet import reactor, tksupport

    root = tkinter.Tk()
    tksupport.install(root)
    root.protocol("WM_DELETE_WINDOW", reactor.stop)
    reactor.connectTCP("example.com", 7, factory)
    reactor.run()

Never call Tk's blocking dialogs' own loops for long: while Tk runs a loop of
its own the reactor does not turn.
"""

from __future__ import annotations

import tkinter
from typing import Any

from torsion.internet.task import LoopingCall
from torsion.python import log

__all__ = ["DEFAULT_INTERVAL_MS", "install", "installTkFunctions", "uninstall"]

#: How often, in milliseconds, Tk's events are processed unless ``install``
#: is told otherwise: short enough for a responsive GUI, long enough to cost
#: next to nothing when idle.
DEFAULT_INTERVAL_MS = 10

_task: LoopingCall | None = None
_widget: tkinter.Misc | None = None


def _update(widget: tkinter.Misc) -> None:
    try:
        # ``update`` alone says nothing once the application is destroyed;
        # asking Tk about the widget does.
        widget.winfo_exists()
        widget.update()
    except tkinter.TclError:
        # The application was destroyed: there is nothing left to update.
        log.msg("Tk application destroyed; torsion stops updating it")
        uninstall()


def install(
    widget: tkinter.Misc, ms: int = DEFAULT_INTERVAL_MS, reactor: Any = None
) -> None:
    """
    Make the reactor process ``widget``'s Tk events every ``ms``
    milliseconds while it runs.

    :param widget: any widget of the application, usually the ``Tk`` root.
    :param ms: the interval in milliseconds, at least 1.
    :param reactor: the reactor to run on; the global one if omitted.
    :raises ValueError: if ``ms`` is below 1.
    :raises RuntimeError: if Tk support is installed already.
    """
    global _task, _widget
    if ms < 1:
        raise ValueError(f"ms must be at least 1, not {ms!r}")
    if _task is not None:
        raise RuntimeError("Tk support is already installed; uninstall() first")
    if reactor is None:
        from torsion.internet import reactor
    task = LoopingCall(_update, widget)
    task.clock = reactor
    _task, _widget = task, widget
    # ``start`` runs the first update at once, which needs a running
    # reactor to be useful; wait for it.
    reactor.callWhenRunning(_startIfInstalled, task, ms / 1000.0)


def _startIfInstalled(task: LoopingCall, interval: float) -> None:
    if _task is task and not task.running:
        task.start(interval, now=True)


def uninstall() -> None:
    """
    Stop processing Tk events from the reactor.  Does nothing if ``install``
    was not called.
    """
    global _task, _widget
    task, _task, _widget = _task, None, None
    if task is not None and task.running:
        task.stop()


def installTkFunctions() -> None:
    """
    Kept for programs written for Twisted: Tk's dialogs need no special
    support here, so this does nothing.
    """
