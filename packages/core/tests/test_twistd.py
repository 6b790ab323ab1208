"""
Tests for the ``torsion`` command, run for real: every test starts the
installed console script (or ``python -m torsion``) as a subprocess and
watches what a user would see — its output, its exit status, its sockets
and files.  Readiness is detected from the log output or from a report the
test application sends back over a socket, never by sleeping.
"""

from __future__ import annotations

import ctypes
import json
import os
import pstats
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).parent
REPORTER_TAC = str(HERE / "_torsion_reporter.tac")
TORSION_SCRIPT = shutil.which("torsion")
PYTHON_M = [sys.executable, "-m", "torsion"]

#: Seconds any single wait may take before the test fails (a bound against
#: hangs, not a synchronisation).
WAIT = 30.0

LISTENING = re.compile(rb"listening on tcp:127\.0\.0\.1:(\d+)")


def commands() -> list[list[str]]:
    assert TORSION_SCRIPT is not None, "the torsion console script is not installed"
    return [[TORSION_SCRIPT], PYTHON_M]


class Command:
    """
    A running ``torsion`` process whose merged output the test reads.
    """

    def __init__(
        self, argv: list[str], env: dict[str, str] | None = None, **kwargs: Any
    ) -> None:
        self.process = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env if env is not None else dict(os.environ),
            **kwargs,
        )
        assert self.process.stdout is not None
        self.fd = self.process.stdout.fileno()
        self.output = b""
        self.position = 0

    def _read(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        ready, _, _ = select.select([self.fd], [], [], remaining)
        if not ready:
            return False
        chunk = os.read(self.fd, 65536)
        if not chunk:
            return False
        self.output += chunk
        return True

    def waitFor(self, pattern: bytes | re.Pattern[bytes]) -> re.Match[bytes]:
        """
        Wait for output matching ``pattern`` after what was already matched.
        """
        regex = re.compile(pattern) if isinstance(pattern, bytes) else pattern
        deadline = time.monotonic() + WAIT
        while True:
            match = regex.search(self.output, self.position)
            if match:
                self.position = match.end()
                return match
            if not self._read(deadline):
                self.kill()
                raise AssertionError(
                    f"{regex.pattern!r} never appeared; output:\n"
                    + self.output.decode("utf-8", "replace")
                )

    def finish(self, sig: int | None = signal.SIGTERM) -> int:
        """
        Signal the process (unless ``sig`` is None), read the rest of its
        output and return its exit status.
        """
        if sig is not None and self.process.poll() is None:
            self.process.send_signal(sig)
        deadline = time.monotonic() + WAIT
        while self._read(deadline):
            pass
        try:
            return self.process.wait(timeout=max(deadline - time.monotonic(), 1))
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("did not exit; output:\n" + self.text)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    @property
    def text(self) -> str:
        return self.output.decode("utf-8", "replace")


@pytest.fixture
def running() -> Iterator[list[Command]]:
    started: list[Command] = []
    yield started
    for command in started:
        command.kill()
        if command.process.stdout is not None:
            command.process.stdout.close()


def start(running: list[Command], argv: list[str], **kwargs: Any) -> Command:
    command = Command(argv, **kwargs)
    running.append(command)
    return command


def run(argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=WAIT,
        stdin=subprocess.DEVNULL,
        **kwargs,
    )


def echoes(port: int, data: bytes = b"hello torsion\n") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as client:
        client.sendall(data)
        received = b""
        while len(received) < len(data):
            chunk = client.recv(65536)
            if not chunk:
                break
            received += chunk
        return received


class ReportListener:
    """
    The socket the reporter ``.tac`` connects back to.
    """

    def __init__(self) -> None:
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(5)
        self.server.settimeout(WAIT)
        self.port = self.server.getsockname()[1]

    def env(self, listen: str | None = None, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env["TORSION_TEST_REPORT"] = str(self.port)
        if listen is not None:
            env["TORSION_TEST_LISTEN"] = listen
        env.update(extra)
        return env

    def accept(self) -> tuple[Any, dict[str, Any]]:
        connection, _ = self.server.accept()
        connection.settimeout(WAIT)
        stream = connection.makefile("rwb")
        connection.close()
        report = json.loads(stream.readline())
        return stream, report

    def close(self) -> None:
        self.server.close()


@pytest.fixture
def reports() -> Iterator[ReportListener]:
    listener = ReportListener()
    yield listener
    listener.close()


def ask(stream: Any, line: str) -> None:
    stream.write(line.encode() + b"\n")
    stream.flush()
    assert stream.readline() == b"ok\n"


def freePort() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- help, plugins, errors -----------------------------------------------------


@pytest.mark.parametrize("argv", commands(), ids=["script", "python-m"])
def test_helpListsInstalledPlugins(argv: list[str]) -> None:
    result = run([*argv, "--help"])
    assert result.returncode == 0
    for plugin in ("echo", "portforward", "socks", "procmon", "ftp"):
        assert re.search(rf"^\s+{plugin}\s+\S", result.stdout, re.M), result.stdout
    for option in ("--reactor", "--logfile", "--pidfile", "--daemon", "--workers"):
        assert option in result.stdout


@pytest.mark.parametrize("argv", commands(), ids=["script", "python-m"])
@pytest.mark.parametrize(
    "arguments", [["--help"], ["echo", "--help"], ["--version"]], ids=" ".join
)
def test_readerGoneAway(argv: list[str], arguments: list[str]) -> None:
    """
    ``torsion --help | head -1``: when the reader of the output has gone,
    the command ends as if killed by ``SIGPIPE`` (status 141), without a
    traceback.
    """
    reader, writer = os.pipe()
    os.close(reader)
    try:
        result = subprocess.run(
            [*argv, *arguments],
            stdout=writer,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=WAIT,
        )
    finally:
        os.close(writer)
    assert (result.returncode, result.stderr) == (128 + signal.SIGPIPE, "")


def test_pluginHelp() -> None:
    result = run([*PYTHON_M, "echo", "--help"])
    assert result.returncode == 0
    assert "Usage: torsion [options] echo" in result.stdout
    assert "--listen" in result.stdout


def test_version() -> None:
    from torsion.core import __version__

    result = run([*PYTHON_M, "--version"])
    assert result.returncode == 0
    assert __version__ in result.stdout


def assertCleanError(result: subprocess.CompletedProcess[str], message: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("torsion: error: "), result.stderr
    assert message in last, last


def test_unknownPlugin() -> None:
    result = run([*PYTHON_M, "nosuchplugin"])
    assertCleanError(result, "unknown plugin 'nosuchplugin'")
    assert result.returncode == 64
    assert "echo" in result.stderr.splitlines()[-1]
    assert "Usage: torsion" in result.stderr


def test_noPlugin() -> None:
    result = run(PYTHON_M)
    assertCleanError(result, "Name a plugin")


def test_badPluginOption() -> None:
    result = run([*PYTHON_M, "echo", "--bogus"])
    assertCleanError(result, "--bogus")
    assert "--listen" in result.stderr


def test_badCommonOptions() -> None:
    assertCleanError(run([*PYTHON_M, "--reactor", "nope", "echo"]), "unknown reactor")
    assertCleanError(run([*PYTHON_M, "--log-level", "loud", "echo"]), "log-level")
    assertCleanError(run([*PYTHON_M, "--log-format", "xml", "echo"]), "log-format")
    assertCleanError(run([*PYTHON_M, "--workers", "0", "echo"]), "at least 1")
    assertCleanError(run([*PYTHON_M, "--umask", "999", "echo"]), "octal")
    assertCleanError(
        run([*PYTHON_M, "--uid", "no-such-user-here", "echo"]), "no such user"
    )


def test_badEndpoint() -> None:
    result = run([*PYTHON_M, "echo", "--listen", "carrier-pigeon:9"])
    assertCleanError(result, "carrier-pigeon")


def test_portInUse() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        result = run([*PYTHON_M, "echo", "--listen", f"tcp:{port}:interface=127.0.0.1"])
    assertCleanError(result, f"127.0.0.1:{port}")
    assert "Address already in use" in result.stderr


def _dropBindCapability() -> None:
    # Without CAP_NET_BIND_SERVICE even root cannot bind a port below
    # ip_unprivileged_port_start, as an ordinary user cannot.
    if os.getuid() == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        PR_CAPBSET_DROP, CAP_NET_BIND_SERVICE = 24, 10
        if libc.prctl(PR_CAPBSET_DROP, CAP_NET_BIND_SERVICE, 0, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl")


def test_permissionDeniedOnLowPort() -> None:
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    assert start > 1, "this machine lets anyone bind low ports"
    result = run(
        [*PYTHON_M, "echo", "--listen", f"tcp:{start - 1}:interface=127.0.0.1"],
        preexec_fn=_dropBindCapability,
    )
    assertCleanError(result, "Permission denied")
    assert result.returncode == 77


def test_unreadableTac(tmp_path: Path) -> None:
    result = run([*PYTHON_M, "-y", str(tmp_path / "missing.tac")])
    assertCleanError(result, "cannot read")
    assert result.returncode == 66
    noApp = tmp_path / "noapp.tac"
    noApp.write_text("x = 1\n")
    assertCleanError(run([*PYTHON_M, "-y", str(noApp)]), "does not define")
    broken = tmp_path / "broken.tac"
    broken.write_text("raise RuntimeError('tac exploded')\n")
    assertCleanError(run([*PYTHON_M, "-y", str(broken)]), "tac exploded")


def test_pluginAndTacTogether() -> None:
    assertCleanError(
        run([*PYTHON_M, "-y", REPORTER_TAC, "echo"]), "either a plugin or -y"
    )


# -- running the echo plugin ------------------------------------------------------


@pytest.mark.parametrize("argv", commands(), ids=["script", "python-m"])
def test_echoPluginServes(argv: list[str], running: list[Command]) -> None:
    command = start(running, [*argv, "echo", "--listen", "tcp:0:interface=127.0.0.1"])
    port = int(command.waitFor(LISTENING).group(1))
    assert echoes(port) == b"hello torsion\n"
    assert command.finish() == 0
    assert "Received SIGTERM" in command.text
    assert "Traceback" not in command.text


def test_echoWithNetcat(running: list[Command]) -> None:
    nc = shutil.which("nc") or shutil.which("ncat") or shutil.which("netcat")
    if nc is None:
        pytest.skip("no netcat installed here")
    command = start(
        running, [*PYTHON_M, "echo", "--listen", "tcp:0:interface=127.0.0.1"]
    )
    port = command.waitFor(LISTENING).group(1).decode()
    result = subprocess.run(
        [nc, "-q", "1", "127.0.0.1", port],
        input=b"via netcat\n",
        capture_output=True,
        timeout=WAIT,
    )
    assert result.stdout == b"via netcat\n"
    assert command.finish() == 0


def test_echoListensRepeatedly(running: list[Command], tmp_path: Path) -> None:
    path = tmp_path / "echo.sock"
    command = start(
        running,
        [
            *PYTHON_M,
            "echo",
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--listen",
            f"unix:{path}",
        ],
    )
    port = int(command.waitFor(LISTENING).group(1))
    command.waitFor(re.escape(f"listening on unix:{path}").encode())
    assert echoes(port) == b"hello torsion\n"
    with socket.socket(socket.AF_UNIX) as client:
        client.settimeout(WAIT)
        client.connect(str(path))
        client.sendall(b"unix")
        assert client.recv(10) == b"unix"
    assert command.finish() == 0


@pytest.mark.parametrize("reactorName", ["epoll", "poll", "select", "asyncio"])
def test_reactorOption(reactorName: str, running: list[Command]) -> None:
    from torsion.internet import main

    expected = type(main.makeReactor(reactorName)).__name__
    command = start(
        running,
        [
            *PYTHON_M,
            "--reactor",
            reactorName,
            "echo",
            "--listen",
            "tcp:0:interface=127.0.0.1",
        ],
    )
    port = int(command.waitFor(LISTENING).group(1))
    command.waitFor(rf"starting echo with {expected}".encode())
    assert echoes(port) == b"hello torsion\n"
    assert command.finish() == 0


def test_systemdSocketActivation(running: list[Command]) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    port = listener.getsockname()[1]
    fd = listener.fileno()
    # As systemd does: the socket is descriptor 3, and LISTEN_PID names the
    # very process that runs torsion (the launcher execs it, keeping its pid).
    launcher = (
        "import os, sys\n"
        f"os.dup2({fd}, 3)\n"
        f"if {fd} != 3: os.close({fd})\n"
        "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1',"
        " LISTEN_FDNAMES='echo')\n"
        "os.execv(sys.executable, [sys.executable, '-m', 'torsion', 'echo',"
        " '--listen', 'systemd:domain=INET:index=0'])\n"
    )
    command = start(running, [sys.executable, "-c", launcher], pass_fds=(fd,))
    listener.close()
    command.waitFor(re.escape(f"listening on tcp:127.0.0.1:{port}").encode())
    assert echoes(port) == b"hello torsion\n"
    assert command.finish() == 0


def test_systemdWithoutDescriptors() -> None:
    env = dict(os.environ)
    env.pop("LISTEN_FDS", None)
    result = run(
        [*PYTHON_M, "echo", "--listen", "systemd:domain=INET:index=0"], env=env
    )
    assertCleanError(result, "no descriptors")


# -- .tac files -------------------------------------------------------------------


def test_tacFile(running: list[Command], reports: ReportListener) -> None:
    command = start(
        running,
        [*PYTHON_M, "-y", REPORTER_TAC],
        env=reports.env(listen="tcp:0:interface=127.0.0.1"),
    )
    stream, report = reports.accept()
    assert report["pid"] == command.process.pid
    assert echoes(report["port"]) == b"hello torsion\n"
    ask(stream, "log from the tac")
    command.waitFor(rb"\[reporter#info\] from the tac")
    assert command.finish() == 0


# -- logging ---------------------------------------------------------------------


def test_logfile(
    tmp_path: Path, running: list[Command], reports: ReportListener
) -> None:
    logPath = tmp_path / "app.log"
    command = start(
        running,
        [*PYTHON_M, "--logfile", str(logPath), "-y", REPORTER_TAC],
        env=reports.env(),
    )
    stream, _ = reports.accept()
    ask(stream, "log into the file")
    assert command.finish() == 0
    assert "into the file" in logPath.read_text()
    assert "into the file" not in command.text


def test_logfileRotationBySize(
    tmp_path: Path, running: list[Command], reports: ReportListener
) -> None:
    logPath = tmp_path / "app.log"
    command = start(
        running,
        [
            *PYTHON_M,
            "--logfile",
            str(logPath),
            "--logfile-max-size",
            "2000",
            "--logfile-keep",
            "2",
            "-y",
            REPORTER_TAC,
        ],
        env=reports.env(),
    )
    stream, _ = reports.accept()
    for index in range(100):
        ask(stream, f"log line {index:04d} " + "x" * 80)
    assert command.finish() == 0
    rotated = sorted(p.name for p in tmp_path.iterdir())
    assert rotated == ["app.log", "app.log.1", "app.log.2"]
    for name in rotated:
        assert (tmp_path / name).stat().st_size <= 2000
    assert "line 0099" in logPath.read_text()


def test_sighupReopensLogfile(
    tmp_path: Path, running: list[Command], reports: ReportListener
) -> None:
    logPath = tmp_path / "app.log"
    command = start(
        running,
        [*PYTHON_M, "--logfile", str(logPath), "-y", REPORTER_TAC],
        env=reports.env(),
    )
    stream, _ = reports.accept()
    ask(stream, "log before rotation")
    logPath.rename(tmp_path / "app.log.old")
    command.process.send_signal(signal.SIGHUP)
    # Each round trip lets the process handle the signal; stop once the new
    # file exists and holds the reopen message.
    for index in range(10000):
        ask(stream, f"log after rotation {index}")
        if logPath.exists() and "Reopened log file" in logPath.read_text():
            break
    else:
        raise AssertionError("the log file was never reopened")
    ask(stream, "log after the reopen")
    assert command.finish() == 0
    assert "before rotation" in (tmp_path / "app.log.old").read_text()
    assert "after the reopen" in logPath.read_text()
    assert "after the reopen" not in (tmp_path / "app.log.old").read_text()


def test_jsonLogFormat(running: list[Command]) -> None:
    command = start(
        running,
        [
            *PYTHON_M,
            "--log-format",
            "json",
            "echo",
            "--listen",
            "tcp:0:interface=127.0.0.1",
        ],
    )
    command.waitFor(rb"listening on")
    assert command.finish() == 0
    events = [json.loads(line) for line in command.text.splitlines() if line.strip()]
    listening = [e for e in events if "listening on" in e.get("log_format", "")]
    assert listening and listening[0]["address"].startswith("tcp:127.0.0.1:")


def test_logLevel(running: list[Command], reports: ReportListener) -> None:
    command = start(
        running,
        [*PYTHON_M, "--log-level", "warn", "-y", REPORTER_TAC],
        env=reports.env(),
    )
    stream, _ = reports.accept()
    ask(stream, "log quiet info")
    ask(stream, "warn loud warning")
    command.waitFor(rb"loud warning")
    assert command.finish() == 0
    assert "quiet info" not in command.text


# -- the process --------------------------------------------------------------------


def test_pidfile(
    tmp_path: Path, running: list[Command], reports: ReportListener
) -> None:
    pidPath = tmp_path / "app.pid"
    command = start(
        running,
        [*PYTHON_M, "--pidfile", str(pidPath), "-y", REPORTER_TAC],
        env=reports.env(),
    )
    _, report = reports.accept()
    assert int(pidPath.read_text()) == report["pid"] == command.process.pid
    second = run(
        [*PYTHON_M, "--pidfile", str(pidPath), "-y", REPORTER_TAC], env=reports.env()
    )
    assertCleanError(second, f"pid {report['pid']}")
    assert int(pidPath.read_text()) == report["pid"]
    assert command.finish() == 0
    assert not pidPath.exists()


def test_stalePidfileReplaced(
    tmp_path: Path, running: list[Command], reports: ReportListener
) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    pidPath = tmp_path / "app.pid"
    pidPath.write_text(f"{dead.pid}\n")
    command = start(
        running,
        [*PYTHON_M, "--pidfile", str(pidPath), "-y", REPORTER_TAC],
        env=reports.env(),
    )
    _, report = reports.accept()
    assert int(pidPath.read_text()) == report["pid"]
    assert command.finish() == 0


def test_daemon(tmp_path: Path, reports: ReportListener) -> None:
    pidPath = tmp_path / "app.pid"
    logPath = tmp_path / "app.log"
    result = run(
        [
            *PYTHON_M,
            "--daemon",
            "--pidfile",
            str(pidPath),
            "--logfile",
            str(logPath),
            "--umask",
            "027",
            "-y",
            REPORTER_TAC,
        ],
        env=reports.env(),
    )
    assert result.returncode == 0, result.stderr
    stream, report = reports.accept()
    try:
        assert report["sid"] != report["pid"], "still a session leader"
        assert report["cwd"] == "/"
        assert report["stdin"] == "/dev/null"
        assert report["umask"] == 0o027
        assert int(pidPath.read_text()) == report["pid"]
        ask(stream, "log from the daemon")
    finally:
        os.kill(report["pid"], signal.SIGTERM)
    # The daemon is not our child: its closing the report connection tells
    # us it is gone, and it removes its pidfile just before.
    assert stream.read() == b""
    assert "from the daemon" in logPath.read_text()


def test_umask(running: list[Command], reports: ReportListener) -> None:
    command = start(
        running, [*PYTHON_M, "--umask", "077", "-y", REPORTER_TAC], env=reports.env()
    )
    _, report = reports.accept()
    assert report["umask"] == 0o077
    assert command.finish() == 0


needsRoot = pytest.mark.skipif(
    os.getuid() != 0, reason="switching user or root needs root"
)


@needsRoot
def test_uidGidAfterBindingLowPort(
    running: list[Command], reports: ReportListener
) -> None:
    lowPort = next(port for port in range(900, 1000) if _portFree(port))
    command = start(
        running,
        [*PYTHON_M, "--uid", "65534", "--gid", "65534", "-y", REPORTER_TAC],
        env=reports.env(listen=f"tcp:{lowPort}:interface=127.0.0.1"),
    )
    _, report = reports.accept()
    assert (report["uid"], report["gid"]) == (65534, 65534)
    assert report["port"] == lowPort
    assert echoes(lowPort) == b"hello torsion\n"
    assert command.finish() == 0


def _portFree(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


@needsRoot
def test_chroot(
    tmp_path: Path, running: list[Command], reports: ReportListener
) -> None:
    (tmp_path / "torsion-chroot-marker").write_text("")
    command = start(
        running,
        [*PYTHON_M, "--chroot", str(tmp_path), "-y", REPORTER_TAC],
        env=reports.env(),
    )
    _, report = reports.accept()
    assert report["marker"] is True
    assert report["cwd"] == "/"
    assert command.finish() == 0


def test_profile(tmp_path: Path, running: list[Command]) -> None:
    profilePath = tmp_path / "run.prof"
    command = start(
        running,
        [
            *PYTHON_M,
            "--profile",
            str(profilePath),
            "echo",
            "--listen",
            "tcp:0:interface=127.0.0.1",
        ],
    )
    port = int(command.waitFor(LISTENING).group(1))
    assert echoes(port) == b"hello torsion\n"
    assert command.finish() == 0
    stats = pstats.Stats(str(profilePath))
    assert any("dataReceived" in key[2] for key in stats.stats)  # type: ignore[attr-defined]


def test_sigtermGracefulShutdown(running: list[Command]) -> None:
    command = start(
        running,
        [
            *PYTHON_M,
            "--shutdown-timeout",
            "60",
            "echo",
            "--listen",
            "tcp:0:interface=127.0.0.1",
        ],
    )
    port = int(command.waitFor(LISTENING).group(1))
    client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    client.sendall(b"first")
    assert client.recv(10) == b"first"
    command.process.send_signal(signal.SIGTERM)
    command.waitFor(rb"Received SIGTERM")
    command.waitFor(rb"Stopping factory")
    # No new connections, but the one in flight is still served.
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    client.sendall(b"second")
    assert client.recv(10) == b"second"
    assert command.process.poll() is None
    client.close()
    assert command.finish(None) == 0


def test_shutdownTimeoutClosesStragglers(running: list[Command]) -> None:
    command = start(
        running,
        [
            *PYTHON_M,
            "--shutdown-timeout",
            "0.2",
            "echo",
            "--listen",
            "tcp:0:interface=127.0.0.1",
        ],
    )
    port = int(command.waitFor(LISTENING).group(1))
    client = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    client.sendall(b"x")
    assert client.recv(1) == b"x"
    command.process.send_signal(signal.SIGTERM)
    assert client.recv(10) == b""
    client.close()
    assert command.finish(None) == 0
    assert "still open after 0.2s" in command.text


# -- workers -----------------------------------------------------------------------


def test_workers(running: list[Command]) -> None:
    command = start(
        running,
        [*PYTHON_M, "--workers", "2", "echo", "--listen", "tcp:0:interface=127.0.0.1"],
    )
    port = int(command.waitFor(LISTENING).group(1))
    pids: dict[str, int] = {}
    for _ in range(2):
        match = command.waitFor(rb"Started 'worker-(\d)' \(pid (\d+)\)")
        pids[match.group(1).decode()] = int(match.group(2))
    assert sorted(pids) == ["0", "1"]
    ready = re.compile(rb"\[worker-(\d)\] .*listening on tcp:127\.0\.0\.1:(\d+)")
    seen: set[bytes] = set()
    while len(seen) < 2:
        match = command.waitFor(ready)
        assert int(match.group(2)) == port
        seen.add(match.group(1))
    for _ in range(10):
        assert echoes(port) == b"hello torsion\n"
    # A dead worker is replaced.
    os.kill(pids["0"], signal.SIGKILL)
    match = command.waitFor(rb"Started 'worker-0' \(pid (\d+)\)")
    newPid = int(match.group(1))
    assert newPid != pids["0"]
    command.waitFor(rb"\[worker-0\] .*listening on tcp:127\.0\.0\.1")
    assert echoes(port) == b"hello torsion\n"
    assert command.finish() == 0
    for pid in (newPid, pids["1"]):
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


# -- a plugin from another distribution ----------------------------------------------


PLUGIN_MODULE = """
from torsion.application import service, strports
from torsion.internet.protocol import Factory
from torsion.protocols.wire import Echo
from torsion.python import usage


class Options(usage.Options):
    optParameters = [["port", "p", "tcp:0", "Where to listen."]]


def makeService(options):
    return strports.service(options["port"], Factory.forProtocol(Echo))


serviceMaker = service.ServiceMaker(
    "hello", "throwaway_hello_plugin", "A throwaway plugin from a test.", "hello"
)
"""


def test_throwawayPluginDistribution(tmp_path: Path, running: list[Command]) -> None:
    # importlib.metadata finds distributions through *.dist-info directories
    # on sys.path, so a PYTHONPATH directory holding one is "installed".
    site = tmp_path / "site"
    site.mkdir()
    (site / "throwaway_hello_plugin.py").write_text(PLUGIN_MODULE)
    info = site / "throwaway_hello_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: throwaway-hello-plugin\nVersion: 1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[torsion.plugins]\nhello = throwaway_hello_plugin:serviceMaker\n"
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = str(site) + os.pathsep + env.get("PYTHONPATH", "")
    assert TORSION_SCRIPT is not None
    help = run([TORSION_SCRIPT, "--help"], env=env)
    assert re.search(r"^\s+hello\s+A throwaway plugin from a test\.", help.stdout, re.M)
    withoutIt = run([TORSION_SCRIPT, "--help"])
    assert "throwaway" not in withoutIt.stdout
    command = start(
        running,
        [TORSION_SCRIPT, "hello", "--port", "tcp:0:interface=127.0.0.1"],
        env=env,
    )
    port = int(command.waitFor(LISTENING).group(1))
    assert echoes(port) == b"hello torsion\n"
    assert command.finish() == 0


def test_workersRunTheTacFromItsDirectory(
    running: list[Command], reports: ReportListener
) -> None:
    command = start(
        running,
        [*PYTHON_M, "--workers", "2", "-y", os.path.basename(REPORTER_TAC)],
        env=reports.env(listen="tcp:0:interface=127.0.0.1"),
        cwd=str(HERE),
    )
    first = reports.accept()[1]
    second = reports.accept()[1]
    # Two distinct workers, children of the main process, serving one port.
    assert first["pid"] != second["pid"]
    assert first["ppid"] == second["ppid"] == command.process.pid
    assert first["port"] == second["port"]
    assert first["cwd"] == str(HERE)
    assert echoes(first["port"]) == b"hello torsion\n"
    assert command.finish() == 0


def startEcho(running: list[Command]) -> int:
    echo = start(running, [*PYTHON_M, "echo", "--listen", "tcp:0:interface=127.0.0.1"])
    return int(echo.waitFor(LISTENING).group(1))


def test_portforwardPlugin(running: list[Command]) -> None:
    target = startEcho(running)
    command = start(
        running,
        [
            *PYTHON_M,
            "portforward",
            "--port",
            "tcp:0:interface=127.0.0.1",
            "--host",
            "127.0.0.1",
            "--dest_port",
            str(target),
        ],
    )
    port = int(command.waitFor(LISTENING).group(1))
    assert echoes(port, b"through the forwarder\n") == b"through the forwarder\n"
    assert command.finish() == 0


def test_socksPlugin(running: list[Command]) -> None:
    target = startEcho(running)
    command = start(
        running, [*PYTHON_M, "socks", "--listen", "tcp:0:interface=127.0.0.1"]
    )
    port = int(command.waitFor(LISTENING).group(1))
    with socket.create_connection(("127.0.0.1", port), timeout=WAIT) as client:
        # SOCKS4 CONNECT to the echo server.
        request = b"\x04\x01" + target.to_bytes(2, "big")
        client.sendall(request + socket.inet_aton("127.0.0.1") + b"tester\x00")
        reply = b""
        while len(reply) < 8:
            chunk = client.recv(8 - len(reply))
            assert chunk
            reply += chunk
        assert reply[1] == 0x5A
        client.sendall(b"via socks")
        assert client.recv(100) == b"via socks"
    assert command.finish() == 0


def test_ftpPlugin(tmp_path: Path, running: list[Command]) -> None:
    import ftplib

    (tmp_path / "readme.txt").write_bytes(b"served over FTP\n")
    command = start(
        running,
        [
            *PYTHON_M,
            "ftp",
            "--listen",
            "tcp:0:interface=127.0.0.1",
            "--root",
            str(tmp_path),
        ],
    )
    port = int(command.waitFor(LISTENING).group(1))
    with ftplib.FTP() as client:
        client.connect("127.0.0.1", port, timeout=WAIT)
        client.login()  # anonymous
        assert client.nlst() == ["readme.txt"]
        received: list[bytes] = []
        client.retrbinary("RETR readme.txt", received.append)
        assert b"".join(received) == b"served over FTP\n"
    assert command.finish() == 0


def test_ftpPluginBadRoot(tmp_path: Path) -> None:
    result = run([*PYTHON_M, "ftp", "--root", str(tmp_path / "missing")])
    assertCleanError(result, "no such directory")
