"""
Tests for child processes: ``reactor.spawnProcess`` and
``torsion.internet.process``.
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
from typing import Any

import pytest
from reactormixins import runUntil
from zope.interface.verify import verifyObject

from torsion.internet import error, process
from torsion.internet.defer import Deferred
from torsion.internet.interfaces import IProcessTransport
from torsion.internet.protocol import ProcessProtocol
from torsion.python.failure import Failure

PY = sys.executable


class Recorder(ProcessProtocol):
    """
    Records everything a process protocol is told; ``ended`` fires (with
    ``None``) after ``processEnded``.
    """

    def __init__(self) -> None:
        self.events: list[Any] = []
        self.data: dict[int, bytes] = {}
        self.exitedReason: Failure | None = None
        self.endedReason: Failure | None = None
        self.ended: Deferred[None] = Deferred()
        self.made = False

    def connectionMade(self) -> None:
        self.made = True
        self.events.append("connectionMade")

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        self.data[childFD] = self.data.get(childFD, b"") + data
        super().childDataReceived(childFD, data)

    def childConnectionLost(self, childFD: int) -> None:
        self.events.append(("lost", childFD))
        super().childConnectionLost(childFD)

    def inConnectionLost(self) -> None:
        self.events.append("inConnectionLost")

    def outConnectionLost(self) -> None:
        self.events.append("outConnectionLost")

    def errConnectionLost(self) -> None:
        self.events.append("errConnectionLost")

    def processExited(self, reason: Failure) -> None:
        self.events.append("processExited")
        self.exitedReason = reason

    def processEnded(self, reason: Failure) -> None:
        self.events.append("processEnded")
        self.endedReason = reason
        self.ended.callback(None)


def _spawn(reactor: Any, proto: Any, code: str, **kw: Any) -> Any:
    kw.setdefault("env", None)
    return reactor.spawnProcess(proto, PY, [PY, "-c", code], **kw)


def _run(reactor: Any, code: str, **kw: Any) -> Recorder:
    proto = Recorder()
    _spawn(reactor, proto, code, **kw)
    runUntil(reactor, proto.ended)
    return proto


def test_outputAndCleanExit(reactor: Any) -> None:
    proto = Recorder()
    transport = _spawn(
        reactor,
        proto,
        "import sys; sys.stdout.write('out'); sys.stderr.write('err')",
    )
    assert verifyObject(IProcessTransport, transport)
    assert isinstance(transport.pid, int)
    runUntil(reactor, proto.ended)
    assert proto.data == {1: b"out", 2: b"err"}
    assert proto.events[0] == "connectionMade"
    assert proto.events[-1] == "processEnded"
    assert {"inConnectionLost", "outConnectionLost", "errConnectionLost"} <= set(
        proto.events
    )
    assert proto.events.index("processExited") < proto.events.index("processEnded")
    assert proto.endedReason is not None
    assert proto.endedReason.check(error.ProcessDone)
    assert isinstance(proto.endedReason.value, error.ProcessDone)
    assert proto.endedReason.value.exitCode == 0
    assert proto.endedReason.value.signal is None
    assert transport.pid is None


def test_stdinEcho(reactor: Any) -> None:
    proto = Recorder()
    transport = _spawn(
        reactor,
        proto,
        "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().upper())",
    )
    transport.write(b"hello ")
    transport.writeSequence([b"wor", b"ld"])
    transport.closeStdin()
    transport.write(b"ignored after closeStdin")
    runUntil(reactor, proto.ended)
    assert proto.data[1] == b"HELLO WORLD"


def test_largeInputAndOutput(reactor: Any) -> None:
    proto = Recorder()
    transport = _spawn(
        reactor,
        proto,
        "import sys, shutil; shutil.copyfileobj(sys.stdin.buffer, sys.stdout.buffer)",
    )
    payload = os.urandom(2 * 1024 * 1024)
    transport.write(payload)
    transport.closeStdin()
    runUntil(reactor, proto.ended)
    assert proto.data[1] == payload


def test_writeStrRaises(reactor: Any) -> None:
    proto = Recorder()
    transport = _spawn(reactor, proto, "import sys; sys.stdin.read()")
    with pytest.raises(TypeError):
        transport.write("text")
    with pytest.raises(TypeError):
        transport.writeToChild(0, "text")
    with pytest.raises(KeyError):
        transport.writeToChild(1, b"stdout is read, not written")
    transport.closeStdin()
    runUntil(reactor, proto.ended)


def test_exitCode(reactor: Any) -> None:
    proto = _run(reactor, "import sys; sys.exit(3)")
    assert proto.endedReason is not None
    assert proto.endedReason.check(error.ProcessTerminated)
    assert isinstance(proto.endedReason.value, error.ProcessTerminated)
    assert proto.endedReason.value.exitCode == 3
    assert proto.endedReason.value.signal is None
    assert proto.exitedReason is not None
    assert isinstance(proto.exitedReason.value, error.ProcessTerminated)
    assert proto.exitedReason.value.exitCode == 3


@pytest.mark.parametrize(
    ("signalID", "number"),
    [
        ("TERM", signal.SIGTERM),
        ("KILL", signal.SIGKILL),
        (signal.SIGINT, signal.SIGINT),
    ],
)
def test_signalProcess(reactor: Any, signalID: str | int, number: int) -> None:
    proto = Recorder()
    # The child restores default handling of SIGINT, which Python replaces.
    transport = _spawn(
        reactor,
        proto,
        "import signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
        "sys.stdout.write('ready'); sys.stdout.flush(); sys.stdin.read()",
    )
    ready: Deferred[None] = Deferred()
    proto.outReceived = lambda data: ready.callback(None)  # type: ignore[method-assign]
    runUntil(reactor, ready)
    transport.signalProcess(signalID)
    runUntil(reactor, proto.ended)
    assert proto.endedReason is not None
    assert proto.endedReason.check(error.ProcessTerminated)
    assert isinstance(proto.endedReason.value, error.ProcessTerminated)
    assert proto.endedReason.value.signal == number
    assert proto.endedReason.value.exitCode is None
    with pytest.raises(error.ProcessExitedAlready):
        transport.signalProcess("TERM")


def test_unknownSignal(reactor: Any) -> None:
    proto = Recorder()
    transport = _spawn(reactor, proto, "import sys; sys.stdin.read()")
    with pytest.raises(ValueError):
        transport.signalProcess("NOT-A-SIGNAL")
    transport.loseConnection()
    runUntil(reactor, proto.ended)


def test_loseConnectionClosesPipes(reactor: Any) -> None:
    proto = Recorder()
    transport = _spawn(reactor, proto, "import sys; sys.stdin.read()")
    transport.loseConnection()
    runUntil(reactor, proto.ended)
    assert proto.endedReason is not None
    assert proto.endedReason.check(error.ProcessDone)


def test_environment(reactor: Any) -> None:
    code = "import os; print(sorted(k for k in os.environ if k.startswith('T_')))"
    proto = _run(reactor, code, env={"T_STR": "a", b"T_BYTES": b"b"})
    assert proto.data[1].strip() == b"['T_BYTES', 'T_STR']"


def test_environmentValue(reactor: Any) -> None:
    proto = _run(
        reactor,
        "import os; print(os.environ['T_VALUE'])",
        env={"T_VALUE": "caf\u00e9"},
    )
    assert proto.data[1].strip() == "caf\u00e9".encode()


def test_environmentNoneInherits(reactor: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("TORSION_INHERITED", "yes")
    proto = _run(reactor, "import os; print(os.environ['TORSION_INHERITED'])")
    assert proto.data[1].strip() == b"yes"


def test_workingDirectory(reactor: Any) -> None:
    directory = os.path.realpath(tempfile.gettempdir())
    proto = _run(reactor, "import os; print(os.getcwd())", path=directory)
    assert proto.data[1].strip() == os.fsencode(directory)


def test_missingExecutable(reactor: Any) -> None:
    proto = Recorder()
    transport = reactor.spawnProcess(proto, "/nonexistent/program", ["program"], env={})
    runUntil(reactor, proto.ended)
    assert transport.pid is None
    reason = proto.endedReason
    assert reason is not None
    assert reason.check(process.ProcessExecError)
    assert reason.check(error.ProcessTerminated)
    assert isinstance(reason.value, error.ProcessTerminated)
    assert reason.value.exitCode == 127
    assert "No such file" in str(reason.value)


def test_missingWorkingDirectory(reactor: Any) -> None:
    proto = _run(reactor, "pass", path="/nonexistent/directory")
    assert proto.endedReason is not None
    assert proto.endedReason.check(process.ProcessExecError)
    assert "/nonexistent/directory" in str(proto.endedReason.value)


def test_searchesPath(reactor: Any) -> None:
    proto = Recorder()
    reactor.spawnProcess(
        proto, "sh", ["sh", "-c", "echo found"], env={"PATH": "/usr/bin:/bin"}
    )
    runUntil(reactor, proto.ended)
    assert proto.data[1] == b"found\n"


@pytest.mark.parametrize(
    ("kwargs", "exception"),
    [
        ({"executable": "a\0b"}, ValueError),
        ({"executable": 7}, TypeError),
        ({"args": "not-a-list"}, TypeError),
        ({"env": {"K": 1}}, TypeError),
        ({"env": {"A=B": "x"}}, ValueError),
        ({"childFDs": {0: "x"}}, ValueError),
        ({"childFDs": {-1: "r"}}, ValueError),
    ],
)
def test_badArguments(reactor: Any, kwargs: dict[str, Any], exception: type) -> None:
    call: dict[str, Any] = {"executable": PY, "args": [PY, "-c", "pass"], "env": {}}
    call.update(kwargs)
    proto = Recorder()
    with pytest.raises(exception):
        reactor.spawnProcess(proto, **call)
    assert not proto.made


def test_extraChildDescriptors(reactor: Any) -> None:
    proto = Recorder()
    transport = _spawn(
        reactor,
        proto,
        "import os; data = os.read(4, 100); os.write(3, data[::-1])",
        childFDs={0: "w", 1: "r", 2: "r", 3: "r", 4: "w"},
    )
    transport.writeToChild(4, b"abc")
    transport.closeChildFD(4)
    runUntil(reactor, proto.ended)
    assert proto.data.get(3) == b"cba"
    assert ("lost", 3) in proto.events
    assert ("lost", 4) in proto.events


def test_inheritedDescriptorAndCloseOthers(reactor: Any) -> None:
    shared, sharedWrite = os.pipe()
    stray, strayWrite = os.pipe()
    os.set_inheritable(strayWrite, True)
    try:
        code = (
            "import os, sys\n"
            "os.write(5, b'via inherited fd')\n"
            f"try:\n    os.fstat({strayWrite})\n    print('open')\n"
            "except OSError:\n    print('closed')\n"
            "try:\n    os.fstat(0)\n    print('stdin open')\n"
            "except OSError:\n    print('stdin closed')\n"
        )
        proto = _run(reactor, code, childFDs={1: "r", 2: "r", 5: sharedWrite})
        os.close(sharedWrite)
        sharedWrite = -1
        assert os.read(shared, 100) == b"via inherited fd"
        assert proto.data[1].split() == [b"closed", b"stdin", b"closed"]
    finally:
        for fd in (shared, sharedWrite, stray, strayWrite):
            if fd >= 0:
                os.close(fd)


def test_swappedDescriptors(reactor: Any) -> None:
    # The child's stdout and stderr are each other's pipes' targets.
    proto = Recorder()
    _spawn(
        reactor,
        proto,
        "import os; os.write(1, b'one'); os.write(2, b'two')",
        childFDs={1: "r", 2: "r"},
    )
    runUntil(reactor, proto.ended)
    assert proto.data == {1: b"one", 2: b"two"}


def test_pty(reactor: Any) -> None:
    code = (
        "import os, sys\n"
        "fd = os.open('/dev/tty', os.O_RDWR)\n"
        "os.close(fd)\n"
        "print('tty', os.isatty(0), os.isatty(1), os.getsid(0) == os.getpid())\n"
        "sys.stdout.flush()\n"
        "line = sys.stdin.readline()\n"
        "print('got', line.strip())\n"
    )
    proto = Recorder()
    seen: Deferred[None] = Deferred()

    def outReceived(data: bytes) -> None:
        # Wait for the whole line, so the terminal's echo of what we type
        # next cannot land in the middle of it.
        if b"True\r\n" in proto.data.get(1, b"") and not seen.called:
            seen.callback(None)

    proto.outReceived = outReceived  # type: ignore[method-assign]
    transport = _spawn(reactor, proto, code, usePTY=True)
    assert verifyObject(IProcessTransport, transport)
    runUntil(reactor, seen)
    transport.write(b"typed\n")
    runUntil(reactor, proto.ended)
    output = proto.data[1].replace(b"\r\n", b"\n")
    assert b"tty True True True\n" in output
    assert b"got typed\n" in output
    assert proto.endedReason is not None
    assert proto.endedReason.check(error.ProcessDone)


def test_ptyLoseConnectionHangsUp(reactor: Any) -> None:
    proto = Recorder()
    transport = _spawn(reactor, proto, "import sys; sys.stdin.read()", usePTY=True)
    transport.loseConnection()
    runUntil(reactor, proto.ended)
    assert proto.endedReason is not None
    assert proto.endedReason.check(error.ProcessTerminated)
    assert isinstance(proto.endedReason.value, error.ProcessTerminated)
    assert proto.endedReason.value.signal == signal.SIGHUP


def test_switchUser(reactor: Any) -> None:
    nobody = 65534
    proto = Recorder()
    # A shell, not this interpreter: "nobody" may not be able to read it.
    reactor.spawnProcess(
        proto,
        "/bin/sh",
        ["sh", "-c", "id -u; id -g"],
        env=None,
        uid=nobody,
        gid=nobody,
    )
    runUntil(reactor, proto.ended)
    assert proto.endedReason is not None
    if os.getuid() == 0:
        assert proto.data[1].split() == [b"65534", b"65534"]
    else:
        # Only root may switch; the child reports why it could not.
        assert proto.endedReason.check(process.ProcessExecError)


def test_protocolErrorIsLogged(reactor: Any) -> None:
    from torsion.logger import globalLogPublisher

    class Fragile(Recorder):
        def outReceived(self, data: bytes) -> None:
            raise ZeroDivisionError("protocol bug")

    events: list[dict[str, Any]] = []
    globalLogPublisher.addObserver(events.append)
    try:
        proto = Fragile()
        # One write, so outReceived is called exactly once.
        _spawn(reactor, proto, "import os; os.write(1, b'x')")
        runUntil(reactor, proto.ended)
    finally:
        globalLogPublisher.removeObserver(events.append)
    assert proto.endedReason is not None
    assert proto.endedReason.check(error.ProcessDone)
    failures = [e["log_failure"] for e in events if "log_failure" in e]
    assert [f.type for f in failures] == [ZeroDivisionError]


def test_reapAllProcessesLeavesRunningChildren(reactor: Any) -> None:
    proto = Recorder()
    transport = _spawn(reactor, proto, "import sys; sys.stdin.read()")
    process.reapAllProcesses()
    assert transport.pid is not None
    transport.closeStdin()
    runUntil(reactor, proto.ended)
    process.reapAllProcesses()
    assert transport.pid is None


def test_manyConcurrentChildren(reactor: Any) -> None:
    protos = [Recorder() for _ in range(20)]
    for i, proto in enumerate(protos):
        _spawn(reactor, proto, f"print({i})")
    for i, proto in enumerate(protos):
        runUntil(reactor, proto.ended)
        assert proto.data[1].strip() == str(i).encode()


def test_reapedWithoutPidfd(reactor: Any, monkeypatch: Any) -> None:
    # Without pidfds (and without signal handlers) exited children are
    # still collected, by polling.
    monkeypatch.delattr(os, "pidfd_open")
    # No pipes either, whose closing would prompt a reap.
    proto = _run(reactor, "import sys; sys.exit(4)", childFDs={})
    assert proto.endedReason is not None
    assert isinstance(proto.endedReason.value, error.ProcessTerminated)
    assert proto.endedReason.value.exitCode == 4


def test_reapedOnSIGCHLD(reactor: Any, monkeypatch: Any) -> None:
    # Without pidfds and with polling pushed far away, only the reactor's
    # SIGCHLD handling can collect the child in time.
    monkeypatch.delattr(os, "pidfd_open")
    monkeypatch.setattr(process, "_POLL_MIN", 3600.0)
    proto = Recorder()

    def start() -> None:
        _spawn(reactor, proto, "import sys; sys.exit(5)", childFDs={})

    proto.ended.addBoth(lambda _: reactor.stop())
    guard = reactor.callLater(30, reactor.stop)
    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=True)
    if guard.active():
        guard.cancel()
    assert proto.endedReason is not None
    assert isinstance(proto.endedReason.value, error.ProcessTerminated)
    assert proto.endedReason.value.exitCode == 5


def test_streamingProducerIsThrottled(reactor: Any) -> None:
    """
    A streaming producer feeding a child's standard input is paused above the
    high-water mark, so the buffer stays bounded however much it produces.
    """
    from zope.interface import implementer

    from torsion.internet.interfaces import IPushProducer

    chunk = b"p" * 8192
    total = 4 * 1024 * 1024
    proto = Recorder()
    transport = _spawn(
        reactor,
        proto,
        "import sys; print(len(sys.stdin.buffer.read()))",
    )
    writer = transport._writers[0]

    @implementer(IPushProducer)
    class Producer:
        def __init__(self) -> None:
            self.sent = 0
            self.paused = False
            self.pauses = 0
            self.peak = 0

        def resumeProducing(self) -> None:
            self.paused = False
            while not self.paused and self.sent < total:
                self.sent += len(chunk)
                transport.write(chunk)
                self.peak = max(self.peak, writer._buffered)
            if self.sent >= total and not self.paused:
                transport.unregisterProducer()
                transport.closeStdin()

        def pauseProducing(self) -> None:
            self.paused = True
            self.pauses += 1

        def stopProducing(self) -> None:
            self.paused = True

    producer = Producer()
    transport.registerProducer(producer, True)
    producer.resumeProducing()
    runUntil(reactor, proto.ended)
    assert proto.data[1].strip() == str(total).encode()
    assert producer.pauses > 0
    assert producer.peak <= process.CHILD_WRITE_HIGH_WATER + len(chunk)


def test_closeStdoutStopsReading(reactor: Any) -> None:
    from torsion.internet.interfaces import IConsumer, IPushProducer

    proto = Recorder()
    transport = _spawn(
        reactor,
        proto,
        "import sys\nsys.stdin.read()\nsys.stdout.write('x' * 100000)\n",
    )
    assert verifyObject(IConsumer, transport)
    assert verifyObject(IPushProducer, transport)
    transport.closeStdout()
    assert "outConnectionLost" in proto.events
    transport.closeStdin()
    runUntil(reactor, proto.ended)
    # Writing to the closed pipe failed in the child.
    assert 1 not in proto.data
    assert proto.endedReason is not None
    assert proto.endedReason.check(error.ProcessTerminated)
    assert b"BrokenPipeError" in proto.data.get(2, b"")


def test_existingPTY(reactor: Any) -> None:
    master, slave = os.openpty()
    proto = Recorder()
    transport = _spawn(
        reactor,
        proto,
        "import os; print(os.isatty(1))",
        usePTY=(master, slave, os.ttyname(slave)),
    )
    runUntil(reactor, proto.ended)
    assert proto.data[1].strip() == b"True"
    assert transport.pid is None
