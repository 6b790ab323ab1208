"""
Tests for ``torsion.internet.qtreactor``: torsion inside a Qt application
(PySide6, offscreen platform), with real TCP exchanges on 127.0.0.1.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

try:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QCoreApplication, QTimer
    from PySide6.QtWidgets import QApplication
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"PySide6 cannot be imported: {e}")
    pytest.skip(f"PySide6 cannot be imported: {e}", allow_module_level=True)

from reactormixins import (
    cleanUpReactor,
    connectExchange,
    echoExchange,
    listenEcho,
    runUntil,
)
from zope.interface.verify import verifyObject

from torsion.internet import interfaces, qtreactor
from torsion.internet.defer import Deferred
from torsion.internet.threads import deferToThreadPool


@pytest.fixture(scope="module")
def app() -> QCoreApplication:
    # Another test may have made the (single) application already.
    existing = QCoreApplication.instance()
    if existing is not None:
        return existing
    return QApplication([])


@pytest.fixture
def qreactor(app: QCoreApplication) -> Iterator[qtreactor.QtReactor]:
    r = qtreactor.makeReactor(app)
    try:
        yield r
    finally:
        cleanUpReactor(r)


def test_interfaces(qreactor: qtreactor.QtReactor) -> None:
    """
    The Qt reactor provides the reactor interfaces.
    """
    for iface in (
        interfaces.IReactorCore,
        interfaces.IReactorTime,
        interfaces.IReactorFDSet,
        interfaces.IReactorTCP,
        interfaces.IReactorThreads,
    ):
        assert verifyObject(iface, qreactor)


def test_tcpEcho(qreactor: qtreactor.QtReactor) -> None:
    """
    A TCP client and an echo server exchange data inside Qt's loop.
    """
    assert echoExchange(qreactor, b"hello qt") == b"hello qt"


def test_bulkEcho(qreactor: qtreactor.QtReactor) -> None:
    """
    A larger exchange, which needs write notifications as well.
    """
    message = bytes(range(256)) * 4096
    assert echoExchange(qreactor, message) == message


def test_qtTimersRunAlongside(qreactor: qtreactor.QtReactor) -> None:
    """
    Qt's own timers fire while the reactor runs, and each side can hand
    work to the other.
    """
    seen: list[str] = []
    done: Deferred[list[str]] = Deferred()

    def qtZeroTimer() -> None:
        seen.append("qt zero")
        done.callback(seen)

    def torsionCall() -> None:
        seen.append("torsion")
        QTimer.singleShot(0, qtZeroTimer)

    def qtTimer() -> None:
        seen.append("qt timer")
        qreactor.callLater(0.001, torsionCall)

    QTimer.singleShot(10, qtTimer)
    assert runUntil(qreactor, done) == ["qt timer", "torsion", "qt zero"]


def test_callFromThread(qreactor: qtreactor.QtReactor) -> None:
    """
    Work handed over from another thread wakes Qt's loop and its result
    arrives in the reactor thread.
    """
    main = threading.get_ident()
    d = deferToThreadPool(qreactor, qreactor.getThreadPool(), threading.get_ident)
    seenIn: list[int] = []

    def arrived(worker: int) -> int:
        seenIn.append(threading.get_ident())
        return worker

    d.addCallback(arrived)
    worker = runUntil(qreactor, d)
    assert worker != main
    assert seenIn == [main]


def test_runReturnWithAppExec(
    app: QCoreApplication, qreactor: qtreactor.QtReactor
) -> None:
    """
    With ``runReturn``, the application's own ``exec`` drives the reactor:
    a TCP exchange completes and ``stop`` runs the shutdown.
    """
    port = listenEcho(qreactor)
    results: list[bytes] = []
    shutdown: list[bool] = []

    def afterShutdown() -> None:
        shutdown.append(True)
        app.quit()

    qreactor.addSystemEventTrigger("after", "shutdown", afterShutdown)

    def finished(data: bytes) -> None:
        results.append(data)
        qreactor.stop()

    qreactor.runReturn(installSignalHandlers=False)
    connectExchange(qreactor, port, b"exec").addCallback(finished)
    guard = QTimer()
    guard.setSingleShot(True)
    guard.timeout.connect(app.quit)
    guard.start(10000)
    app.exec()
    guard.stop()
    assert results == [b"exec"]
    assert shutdown == [True]


def test_iterate(qreactor: qtreactor.QtReactor) -> None:
    """
    ``iterate`` runs due calls without ``run``.
    """
    called: list[int] = []
    qreactor.callLater(0, called.append, 1)
    for _ in range(10):
        if called:
            break
        qreactor.iterate(0.01)
    assert called == [1]
