"""
Tests for the reusable pieces of the torsion command:
torsion.application.runner (PIDFile, LogFile, ExitStatus), the option
parsing of torsion.application.app, and the socket hand-over of
``--workers``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from zope.interface.verify import verifyObject

from torsion.application import app
from torsion.application.runner import (
    AlreadyRunning,
    ExitStatus,
    InvalidPIDFileError,
    LogFile,
    PIDFile,
    _pidfile,
    _workers,
)
from torsion.internet import error
from torsion.internet.interfaces import IListeningPort

# -- PIDFile -------------------------------------------------------------------


def test_pidfileWriteReadRemove(tmp_path: Path) -> None:
    pidFile = PIDFile(str(tmp_path / "p.pid"))
    assert pidFile.read() is None
    pidFile.check()
    pidFile.write()
    assert pidFile.read() == os.getpid()
    pidFile.check()  # our own pid is not "another" process
    pidFile.write()
    pidFile.remove()
    assert not (tmp_path / "p.pid").exists()


def test_pidfileLiveHolderRefused(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE
    )
    try:
        pidFile = PIDFile(str(tmp_path / "p.pid"))
        pidFile.write(holder.pid)
        with pytest.raises(AlreadyRunning) as caught:
            pidFile.check()
        assert caught.value.pid == holder.pid
        pidFile.remove()  # not ours: left alone
        assert pidFile.read() == holder.pid
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait()
    pidFile.check()  # now stale: removed
    assert pidFile.read() is None


def test_pidfileGarbage(tmp_path: Path) -> None:
    path = tmp_path / "p.pid"
    pidFile = PIDFile(str(path))
    for content in ("not a pid\n", "-4\n", "0", "1" * (_pidfile.MAX_PIDFILE_SIZE + 1)):
        path.write_text(content)
        with pytest.raises(InvalidPIDFileError):
            pidFile.read()
        pidFile.check()
        assert not path.exists()
    path.write_text(" " * (_pidfile.MAX_PIDFILE_SIZE - 3) + "12\n")
    assert pidFile.read() == 12


def test_pidfilePathIsAbsolute(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    assert PIDFile("x.pid").path == str(tmp_path / "x.pid")


# -- LogFile -------------------------------------------------------------------


def test_logfileRotatesAtBoundary(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    log = LogFile(str(path), maxSize=10, keep=2)
    log.write("12345")
    log.write("67890")  # exactly 10: no rotation yet
    assert log.listLogs() == []
    log.write("x")  # would make 11: rotate first
    log.flush()
    assert path.read_text() == "x"
    assert Path(str(path) + ".1").read_text() == "1234567890"
    log.write("y" * 10)
    log.write("z")
    log.write("w" * 20)  # bigger than maxSize on its own: written whole
    log.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.log", "a.log.1", "a.log.2"]
    assert path.read_text() == "w" * 20
    assert Path(str(path) + ".1").read_text() == "z"
    assert Path(str(path) + ".2").read_text() == "y" * 10


def test_logfileAppendsAndReopens(tmp_path: Path) -> None:
    path = tmp_path / "a.log"
    path.write_text("old\n")
    log = LogFile(str(path))
    log.write("new\n")
    log.flush()
    assert path.read_text() == "old\nnew\n"
    path.rename(tmp_path / "moved.log")
    log.reopen()
    log.write("after\n")
    log.close()
    assert path.read_text() == "after\n"
    assert (tmp_path / "moved.log").read_text() == "old\nnew\n"


def test_logfileLimits(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LogFile(str(tmp_path / "a"), maxSize=0)
    with pytest.raises(ValueError):
        LogFile(str(tmp_path / "a"), keep=0)
    with pytest.raises(OSError):
        LogFile(str(tmp_path / "missing-dir" / "a.log"))


def test_exitStatuses() -> None:
    ok: int = ExitStatus.EX_OK
    usage: int = ExitStatus.EX_USAGE
    assert ok == 0
    assert usage == 64


# -- options -------------------------------------------------------------------


def test_serverOptionsDefaults() -> None:
    config = app.parseCommandLine(["echo"])
    assert config.subCommand == "echo"
    assert config["workers"] == 1
    assert config["logfile"] is None
    assert config["shutdown-timeout"] == app.DEFAULT_SHUTDOWN_TIMEOUT
    assert config.subOptions is not None
    assert config.subOptions["listen"] == ["tcp:8000"]


def test_serverOptionsValues() -> None:
    config = app.parseCommandLine(
        [
            "-r",
            "poll",
            "--umask",
            "027",
            "--uid",
            "0",
            "--gid",
            "0",
            "-w",
            "3",
            "--log-level",
            "debug",
            "-y",
            "x.tac",
        ]
    )
    assert config["reactor"] == "poll"
    assert config["umask"] == 0o027
    assert (config["uid-value"], config["gid-value"]) == (0, 0)
    assert config["workers"] == 3
    assert config["python"] == "x.tac"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--workers", str(app.MAX_WORKERS + 1), "echo"], "at most"),
        (["--workers", "2", "--chroot", "/", "echo"], "--chroot"),
        (["--logfile-max-size", "0", "echo"], "at least 1"),
        (["--shutdown-timeout", "-1", "echo"], "negative"),
        (["--gid", "no-such-group-here", "echo"], "no such group"),
        (["nosuch"], "unknown plugin"),
    ],
)
def test_serverOptionsErrors(argv: list[str], message: str) -> None:
    with pytest.raises(app.CommandError) as caught:
        app.parseCommandLine(argv)
    assert message in str(caught.value)
    assert caught.value.status == ExitStatus.EX_USAGE
    assert caught.value.usageText


def test_maxWorkersBoundary() -> None:
    assert app.parseCommandLine(["-w", str(app.MAX_WORKERS), "echo"])["workers"] == (
        app.MAX_WORKERS
    )


# -- the worker socket hand-over ---------------------------------------------------


class RecordingReactor:
    def __init__(self) -> None:
        self.adopted: list[tuple[int, int, Any]] = []

    def listenTCP(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the real listenTCP must not be called")

    def adoptStreamPort(self, fd: int, family: int, factory: Any) -> Any:
        # Keep what a real reactor would: its own duplicate.
        self.adopted.append((os.dup(fd), family, factory))
        return "port"


def test_collectorHoldsSocketsAndWorkerAdoptsThem(tmp_path: Path) -> None:
    reactor = RecordingReactor()
    collector = _workers.ListenerCollector(reactor)
    with collector:
        tcp = reactor.listenTCP(0, "f1", interface="127.0.0.1")
        unix = reactor.listenUNIX(str(tmp_path / "s.sock"), "f2")  # type: ignore[attr-defined]
    assert "listenTCP" not in vars(reactor)
    verifyObject(IListeningPort, tcp)
    port = tcp.getHost().port
    assert port != 0
    assert unix.getHost().name == str(tmp_path / "s.sock")
    # The held socket already accepts (connections queue for the workers).
    with socket.create_connection(("127.0.0.1", port), timeout=5):
        pass
    mapping = collector.childFDs()
    assert mapping[0] == "w" and mapping[1] == "r" and mapping[2] == "r"
    assert sorted(k for k in mapping if k >= 3) == [3, 4]
    # A worker gets copies of the descriptors and adopts them in order.
    copies = [
        os.dup(collector.ports[0].socket.fileno()),
        os.dup(collector.ports[1].socket.fileno()),
    ]
    worker = RecordingReactor()
    with _workers.InheritedListeners(worker, copies):
        assert worker.listenTCP(port, "f1") == "port"
        assert worker.listenUNIX("ignored", "f2") == "port"  # type: ignore[attr-defined]
        with pytest.raises(error.CannotListenError):
            worker.listenTCP(1, "f3")
    assert [(family, factory) for _, family, factory in worker.adopted] == [
        (socket.AF_INET, "f1"),
        (socket.AF_UNIX, "f2"),
    ]
    for fd, _, _ in worker.adopted:
        os.close(fd)
    collector.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)


def test_collectorPortInUse() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        reactor = RecordingReactor()
        with (
            _workers.ListenerCollector(reactor),
            pytest.raises(error.CannotListenError),
        ):
            reactor.listenTCP(holder.getsockname()[1], "f", interface="127.0.0.1")
