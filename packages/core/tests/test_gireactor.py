"""
Tests for ``torsion.internet.gireactor``: torsion on the GLib main loop
(PyGObject), with real TCP exchanges on 127.0.0.1.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

try:
    from gi.repository import GLib
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"PyGObject cannot be imported: {e}")
    pytest.skip(f"PyGObject cannot be imported: {e}", allow_module_level=True)

from reactormixins import cleanUpReactor, echoExchange, runUntil, startExchange
from zope.interface.verify import verifyObject

from torsion.internet import gireactor, interfaces
from torsion.internet.defer import Deferred
from torsion.internet.threads import deferToThreadPool


@pytest.fixture
def greactor() -> Iterator[gireactor.GIReactor]:
    r = gireactor.makeReactor()
    try:
        yield r
    finally:
        cleanUpReactor(r)


def test_interfaces(greactor: gireactor.GIReactor) -> None:
    """
    The GLib reactor provides the reactor interfaces.
    """
    for iface in (
        interfaces.IReactorCore,
        interfaces.IReactorTime,
        interfaces.IReactorFDSet,
        interfaces.IReactorTCP,
        interfaces.IReactorThreads,
    ):
        assert verifyObject(iface, greactor)


def test_tcpEcho(greactor: gireactor.GIReactor) -> None:
    """
    A TCP client and an echo server exchange data on the GLib loop.
    """
    assert echoExchange(greactor, b"hello glib") == b"hello glib"


def test_bulkEcho(greactor: gireactor.GIReactor) -> None:
    """
    A larger exchange, which needs write watches as well.
    """
    message = bytes(range(256)) * 4096
    assert echoExchange(greactor, message) == message


def test_glibSourcesRunAlongside(greactor: gireactor.GIReactor) -> None:
    """
    GLib's own timeouts and idle callbacks run while the reactor runs, and
    each side can hand work to the other.
    """
    seen: list[str] = []
    done: Deferred[list[str]] = Deferred()

    def glibIdle() -> bool:
        seen.append("glib idle")
        done.callback(seen)
        return False

    def torsionCall() -> None:
        seen.append("torsion")
        GLib.idle_add(glibIdle)

    def glibTimeout() -> bool:
        seen.append("glib timeout")
        greactor.callLater(0.001, torsionCall)
        return False

    GLib.timeout_add(10, glibTimeout)
    assert runUntil(greactor, done) == ["glib timeout", "torsion", "glib idle"]


def test_callFromThread(greactor: gireactor.GIReactor) -> None:
    """
    Work handed over from another thread wakes the GLib loop and its result
    arrives in the reactor thread.
    """
    main = threading.get_ident()
    d = deferToThreadPool(greactor, greactor.getThreadPool(), threading.get_ident)
    seenIn: list[int] = []

    def arrived(worker: int) -> int:
        seenIn.append(threading.get_ident())
        return worker

    d.addCallback(arrived)
    worker = runUntil(greactor, d)
    assert worker != main
    assert seenIn == [main]


def test_runReturnWithOwnLoop(greactor: gireactor.GIReactor) -> None:
    """
    With ``runReturn``, the program's own ``GLib.MainLoop`` drives the
    reactor: a TCP exchange completes and ``stop`` runs the shutdown.
    """
    loop = GLib.MainLoop()
    _port, done = startExchange(greactor, b"own loop")
    results: list[bytes] = []
    shutdown: list[bool] = []

    def afterShutdown() -> None:
        shutdown.append(True)
        loop.quit()

    greactor.addSystemEventTrigger("after", "shutdown", afterShutdown)

    def finished(data: bytes) -> None:
        results.append(data)
        greactor.stop()

    done.addCallback(finished)
    greactor.runReturn(installSignalHandlers=False)

    def giveUp() -> bool:
        loop.quit()
        return False

    guard = GLib.timeout_add(10000, giveUp)
    loop.run()
    GLib.source_remove(guard)
    assert results == [b"own loop"]
    assert shutdown == [True]


def test_iterate(greactor: gireactor.GIReactor) -> None:
    """
    ``iterate`` runs due calls without ``run``.
    """
    called: list[int] = []
    greactor.callLater(0, called.append, 1)
    for _ in range(10):
        if called:
            break
        greactor.iterate(0.01)
    assert called == [1]
