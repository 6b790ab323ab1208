"""
Tests for ``torsion.internet.tksupport``: a Tk GUI (on an Xvfb display
started by the test) and a real TCP echo exchange in one thread.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

try:
    import tkinter
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"tkinter cannot be imported: {e}")
    pytest.skip(f"tkinter cannot be imported: {e}", allow_module_level=True)

from reactormixins import runUntil, startExchange

from torsion.internet import tksupport
from torsion.internet.defer import Deferred


def _ensureXvfb() -> str | None:
    found = shutil.which("Xvfb")
    if found is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "--no-install-recommends", "xvfb"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
        found = shutil.which("Xvfb")
    return found


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    """
    A private X display served by Xvfb; ``DISPLAY`` points at it.
    """
    xvfb = _ensureXvfb()
    if xvfb is None:
        reason = "Xvfb is not installed and could not be installed"
        print(reason)
        pytest.skip(reason)
    readEnd, writeEnd = os.pipe()
    # Xvfb picks a free display itself and writes its number once it
    # accepts connections, so nothing has to be polled or guessed.
    server = subprocess.Popen(
        [
            xvfb,
            "-displayfd",
            str(writeEnd),
            "-nolisten",
            "tcp",
            "-screen",
            "0",
            "640x480x24",
        ],
        pass_fds=(writeEnd,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(writeEnd)
    with os.fdopen(readEnd) as reader:
        number = reader.readline().strip()
    if not number:
        server.kill()
        server.wait()
        pytest.fail("Xvfb did not report a display")
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = f":{number}"
    try:
        yield f":{number}"
    finally:
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old
        server.terminate()
        server.wait()


@pytest.fixture(scope="module")
def root(display: str) -> Iterator[tkinter.Tk]:
    r = tkinter.Tk()
    # Tcl opens its notifier pipe on first use; do it now, outside the
    # tests' descriptor accounting.
    r.update()
    try:
        yield r
    finally:
        r.destroy()


@pytest.fixture(autouse=True)
def _uninstalled() -> Iterator[None]:
    yield
    tksupport.uninstall()


def test_echoWithTkEvents(reactor: Any, root: tkinter.Tk) -> None:
    """
    While the reactor runs a TCP echo exchange, Tk's events are processed:
    an ``after`` callback fires and a button's command runs when the button
    is clicked from the data received.
    """
    tksupport.install(root, ms=5, reactor=reactor)
    tkSeen: list[str] = []
    clicked: Deferred[str] = Deferred()
    label = tkinter.StringVar(root, value="")
    button = tkinter.Button(
        root, textvariable=label, command=lambda: clicked.callback(label.get())
    )
    button.pack()
    root.after(1, lambda: tkSeen.append("after"))

    port, done = startExchange(reactor, b"hello tk")

    def showAndClick(data: bytes) -> None:
        label.set(data.decode())
        # Queued for Tk: only the reactor's updates can deliver it.
        root.after_idle(button.invoke)

    done.addCallback(showAndClick)
    try:
        assert runUntil(reactor, clicked) == "hello tk"
    finally:
        runUntil(reactor, port.stopListening())
        button.destroy()
    assert tkSeen == ["after"]


def test_uninstallStopsUpdates(reactor: Any, root: tkinter.Tk) -> None:
    """
    After ``uninstall``, Tk's queued callbacks no longer run from the
    reactor; installing again resumes them.
    """
    tksupport.install(root, ms=5, reactor=reactor)
    tksupport.uninstall()
    ran: list[str] = []
    root.after_idle(ran.append, "idle")
    d: Deferred[None] = Deferred()
    reactor.callLater(0.05, d.callback, None)
    runUntil(reactor, d)
    assert ran == []
    tksupport.install(root, ms=5, reactor=reactor)
    d2: Deferred[None] = Deferred()
    reactor.callLater(0.05, d2.callback, None)
    runUntil(reactor, d2)
    assert ran == ["idle"]


def test_installTwiceRefused(reactor: Any, root: tkinter.Tk) -> None:
    """
    Installing twice without ``uninstall`` is an error, and so is an
    interval below one millisecond.
    """
    with pytest.raises(ValueError):
        tksupport.install(root, ms=0, reactor=reactor)
    tksupport.install(root, ms=1, reactor=reactor)
    with pytest.raises(RuntimeError):
        tksupport.install(root, reactor=reactor)


def test_destroyedApplicationUninstalls(reactor: Any, display: str) -> None:
    """
    When the Tk application is destroyed, the reactor stops updating it
    instead of failing.
    """
    other = tkinter.Tk()
    tksupport.install(other, ms=1, reactor=reactor)
    d: Deferred[None] = Deferred()

    def destroyThenWait() -> None:
        other.destroy()
        reactor.callLater(0.05, d.callback, None)

    reactor.callLater(0.01, destroyThenWait)
    runUntil(reactor, d)
    assert tksupport._task is None
