"""
Child processes driven by the reactor.

Start one with ``reactor.spawnProcess``; it returns a ``Process`` (the
``IProcessTransport``) and tells your ``ProcessProtocol`` what the child
writes and when it ends::

    class Collect(ProcessProtocol):
        def outReceived(self, data: bytes) -> None:
            self.output += data

        def processEnded(self, reason: Failure) -> None:
            print("exit code", reason.value.exitCode)

    reactor.spawnProcess(Collect(), "/bin/ls", ["ls", "-l"], env=None)

How a child is started: the parent prepares everything (argument and
environment bytes, the descriptor plan, the list of paths to try) before
``os.fork``; the child then only rearranges descriptors, closes every other
one, changes directory and identity if asked, and calls ``os.execve``. If that
fails the child reports the error through a close-on-exec pipe and exits with
status 127; the protocol's ``processEnded`` then receives a
``ProcessExecError`` (a ``ProcessTerminated``) naming the cause.

How a child is reaped: on Linux each child gets a pidfd (``os.pidfd_open``)
that the reactor watches like any descriptor; it becomes readable when the
child exits, and the child is then reaped with ``os.waitpid(pid, WNOHANG)``.
The reactor's SIGCHLD handling also calls ``reapAllProcesses`` (registered
through the reactor's ``_registerChildReaper`` hook); where pidfds are
unavailable, exited children are in addition polled for with a growing delay
(10 ms to 1 s), so a reactor running without signal handlers still reaps.
"""

from __future__ import annotations

import errno
import fcntl
import os
import signal
import termios
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, NoReturn, Protocol

from zope.interface import implementer

from torsion.internet import error
from torsion.internet.address import _ProcessAddress
from torsion.internet.interfaces import (
    IConsumer,
    IProcessTransport,
    IProducer,
    IPushProducer,
    IReadDescriptor,
    IWriteDescriptor,
    ProcessEnvironment,
)
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = [
    "CHILD_WRITE_HIGH_WATER",
    "CHILD_WRITE_LOW_WATER",
    "PTYProcess",
    "Process",
    "ProcessExecError",
    "reapAllProcesses",
]

_log = Logger()

CHILD_WRITE_HIGH_WATER = 64 * 1024
"""
When more than this many bytes wait to be written to a child, a streaming
producer registered on the process transport is paused.
"""

CHILD_WRITE_LOW_WATER = 16 * 1024
"""
A paused producer is resumed once fewer than this many bytes wait.
"""

_READ_SIZE = 64 * 1024

# Polling interval bounds, used only where neither pidfds nor the reactor's
# SIGCHLD handling can tell us a child exited.
_POLL_MIN = 0.01
_POLL_MAX = 1.0

_processes: dict[int, _BaseProcess] = {}


def reapAllProcesses() -> None:
    """
    Reap every exited child started by ``spawnProcess``.

    A reactor calls this (in its own thread, not in the signal handler) after
    it receives SIGCHLD. Children still running are left alone; other code's
    children are never waited for.
    """
    for process in list(_processes.values()):
        process.reapProcess()


class ProcessExecError(error.ProcessTerminated):
    """
    The child could not run the program: the executable is missing or not
    executable, the working directory does not exist, or changing user failed.

    ``exitCode`` is 127; ``reason`` says what went wrong.

    :ivar reason: the error text reported by the child.
    """

    def __init__(self, reason: str, status: int | None = None) -> None:
        """
        :param reason: the error text reported by the child.
        :param status: the raw wait status.
        """
        super().__init__(exitCode=127, status=status)
        self.reason = reason
        self.args = (f"could not start the process: {reason}",)

    def __str__(self) -> str:
        return str(self.args[0])


# ---------------------------------------------------------------------------
# Argument preparation (parent side, before fork)


def _toBytes(value: object, what: str) -> bytes:
    if isinstance(value, bytes):
        result = value
    elif isinstance(value, str):
        result = os.fsencode(value)
    else:
        raise TypeError(f"{what} must be str or bytes, not {type(value).__name__}")
    if b"\0" in result:
        raise ValueError(f"{what} must not contain a NUL character: {value!r}")
    return result


def _prepareEnvironment(
    env: ProcessEnvironment | None,
) -> dict[bytes, bytes]:
    if env is None:
        return dict(os.environb)
    result: dict[bytes, bytes] = {}
    for key, value in env.items():
        bkey = _toBytes(key, "an environment variable name")
        if not bkey or b"=" in bkey:
            raise ValueError(f"invalid environment variable name {key!r}")
        result[bkey] = _toBytes(value, f"the value of environment variable {key!r}")
    return result


def _candidates(executable: bytes, environment: dict[bytes, bytes]) -> list[bytes]:
    """
    The paths to try for ``executable``, searching the child's ``PATH`` when
    it has no slash (as ``execvpe`` does).
    """
    if b"/" in executable:
        return [executable]
    path = environment.get(b"PATH", os.fsencode(os.defpath))
    return [
        os.path.join(directory or b".", executable) for directory in path.split(b":")
    ]


def _identity(
    uid: int | None, gid: int | None
) -> tuple[int | None, int | None, list[int] | None]:
    """
    Work out the ids to switch to in the child, and its groups.

    :return: ``(uid, gid, groups)``; ``None`` parts are left unchanged.
    """
    if uid is None and gid is None:
        return None, None, None
    groups: list[int] | None = None
    if uid is not None:
        try:
            import pwd

            entry = pwd.getpwuid(uid)
        except KeyError:
            entry = None
        if gid is None:
            gid = entry.pw_gid if entry is not None else None
        if entry is not None and os.getuid() == 0:
            groups = os.getgrouplist(entry.pw_name, gid if gid is not None else 0)
        elif os.getuid() == 0:
            groups = [gid] if gid is not None else []
    return uid, gid, groups


# ---------------------------------------------------------------------------
# The child side: runs between fork and exec, touches only the os module.


def _childMain(
    errorWrite: int,
    plan: list[tuple[int, int]],
    setsid: bool,
    controllingTTY: bool,
    path: bytes | None,
    uid: int | None,
    gid: int | None,
    groups: list[int] | None,
    executables: list[bytes],
    argv: list[bytes],
    environment: dict[bytes, bytes],
    maxfd: int,
) -> NoReturn:
    try:
        if setsid:
            os.setsid()
        targets = [target for target, _ in plan]
        used = [errorWrite, *targets, *(source for _, source in plan)]
        base = max(used) + 1
        # Move every source above all targets first, so that placing one
        # descriptor can never overwrite another that is still to be placed.
        errorWrite = fcntl.fcntl(errorWrite, fcntl.F_DUPFD_CLOEXEC, base)
        moved = [
            (target, fcntl.fcntl(source, fcntl.F_DUPFD_CLOEXEC, base))
            for target, source in plan
        ]
        for target, temporary in moved:
            os.dup2(temporary, target, inheritable=True)
        keep = sorted({*targets, errorWrite})
        low = 0
        for fd in keep:
            if fd > low:
                os.closerange(low, fd)
            low = fd + 1
        os.closerange(low, maxfd)
        if controllingTTY:
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)
        if path is not None:
            os.chdir(path)
        if groups is not None:
            os.setgroups(groups)
        if gid is not None:
            os.setgid(gid)
        if uid is not None:
            os.setuid(uid)
        # Python ignores SIGPIPE (and SIGXFSZ); an ignored disposition would
        # survive exec and surprise the new program.
        for name in ("SIGPIPE", "SIGXFSZ", "SIGXFZ"):
            number = getattr(signal, name, None)
            if number is not None:
                signal.signal(number, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        firstError: OSError | None = None
        for candidate in executables:
            try:
                os.execve(candidate, argv, environment)
            except OSError as e:
                # As execvpe does: remember a more telling error than
                # "not found" from a later directory.
                if firstError is None or (
                    firstError.errno == errno.ENOENT and e.errno != errno.ENOENT
                ):
                    firstError = e
        assert firstError is not None
        raise firstError
    except BaseException as e:
        try:
            os.write(errorWrite, f"{type(e).__name__}: {e}".encode(errors="replace"))
        finally:
            os._exit(127)


# ---------------------------------------------------------------------------
# Descriptors the reactor watches


def _closeQuietly(fd: int) -> None:
    try:
        os.close(fd)
    except OSError:
        # Already closed by someone else: it is closed either way.
        pass


class _DescriptorOwner(Protocol):
    """
    What the pipe descriptors report to: a process, or ``StandardIO``.
    """

    reactor: Any

    def logPrefix(self) -> str: ...

    def _childDataReceived(self, childFD: int, data: bytes) -> None: ...

    def _childConnectionLost(self, childFD: int, descriptor: object) -> None: ...


@implementer(IReadDescriptor)
class _ChildReader:
    """
    Reads what the child writes on one of its descriptors.
    """

    def __init__(self, process: _DescriptorOwner, fd: int, childFD: int) -> None:
        self.process = process
        self.fd = fd
        self.childFD = childFD
        self.closed = False

    def fileno(self) -> int:
        return self.fd if not self.closed else -1

    def logPrefix(self) -> str:
        return self.process.logPrefix()

    def doRead(self) -> None:
        try:
            data = os.read(self.fd, _READ_SIZE)
        except BlockingIOError:
            return
        except InterruptedError:
            return
        except OSError as e:
            # EIO is how a pseudo-terminal reports that the child side closed.
            if e.errno not in (errno.EIO, errno.EBADF):
                _log.failure("Error reading from a child process", Failure(e))
            data = b""
        if not data:
            self.close()
            return
        self.process._childDataReceived(self.childFD, data)

    def close(self) -> None:
        if self.closed:
            return
        self.process.reactor.removeReader(self)
        self.closed = True
        _closeQuietly(self.fd)
        self.process._childConnectionLost(self.childFD, self)

    def connectionLost(self, reason: object) -> None:
        self.close()


@implementer(IReadDescriptor, IWriteDescriptor)
class _ChildWriter:
    """
    Writes to one of the child's descriptors, buffering what does not fit.

    It is also registered for reading: a pipe's write end reports an error
    (seen as readable) once the child has closed its end, which is how we
    learn that the child stopped listening.
    """

    def __init__(self, process: _DescriptorOwner, fd: int, childFD: int) -> None:
        self.process = process
        self.fd = fd
        self.childFD = childFD
        self.closed = False
        self.disconnecting = False
        self._buffer: deque[memoryview] = deque()
        self._buffered = 0
        self._writing = False
        self.producer: IProducer | None = None
        self.streamingProducer = False
        self._producerPaused = False

    def fileno(self) -> int:
        return self.fd if not self.closed else -1

    def logPrefix(self) -> str:
        return self.process.logPrefix()

    def startWatching(self) -> None:
        self.process.reactor.addReader(self)

    def write(self, data: bytes) -> None:
        if self.closed or self.disconnecting:
            return
        view = memoryview(data).cast("B")
        if not view:
            return
        if not self._buffer:
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                written = 0
            except OSError:
                self.close()
                return
            view = view[written:]
            if not view:
                if self.producer is not None and not self.streamingProducer:
                    # A pull producer is asked for more from doWrite, once
                    # the descriptor can take it.
                    self._startWriting()
                return
        self._buffer.append(view)
        self._buffered += len(view)
        self._startWriting()
        self._checkHighWater()

    def _startWriting(self) -> None:
        if not self._writing:
            self._writing = True
            self.process.reactor.addWriter(self)

    def _stopWriting(self) -> None:
        if self._writing:
            self._writing = False
            self.process.reactor.removeWriter(self)

    def _checkHighWater(self) -> None:
        producer = self.producer
        if (
            producer is not None
            and self.streamingProducer
            and not self._producerPaused
            and self._buffered > CHILD_WRITE_HIGH_WATER
        ):
            self._producerPaused = True
            producer.pauseProducing()  # type: ignore[attr-defined]

    def doWrite(self) -> None:
        buffer = self._buffer
        while buffer:
            view = buffer[0]
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                break
            except OSError:
                self.close()
                return
            self._buffered -= written
            if written < len(view):
                buffer[0] = view[written:]
                break
            buffer.popleft()
        if not buffer:
            self._stopWriting()
            if self.disconnecting:
                self.close()
                return
        producer = self.producer
        if producer is None:
            return
        if self._producerPaused and self._buffered < CHILD_WRITE_LOW_WATER:
            self._producerPaused = False
            producer.resumeProducing()  # type: ignore[attr-defined]
        elif not self.streamingProducer and not buffer:
            producer.resumeProducing()  # type: ignore[attr-defined]

    def doRead(self) -> None:
        # Readable on a write end means the reader went away.
        self.close()

    def loseConnection(self) -> None:
        if self.closed:
            return
        self.disconnecting = True
        if not self._buffer:
            self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        reactor = self.process.reactor
        self._stopWriting()
        reactor.removeReader(self)
        self._buffer.clear()
        self._buffered = 0
        _closeQuietly(self.fd)
        producer, self.producer = self.producer, None
        if producer is not None:
            try:
                producer.stopProducing()
            except Exception:
                _log.failure("Error stopping a producer")
        self.process._childConnectionLost(self.childFD, self)

    def connectionLost(self, reason: object) -> None:
        self.close()


@implementer(IReadDescriptor)
class _PidfdWatcher:
    """
    Watches a Linux pidfd, readable once the child has exited.
    """

    def __init__(self, process: _BaseProcess, fd: int) -> None:
        self.process = process
        self.fd = fd
        self.closed = False

    def fileno(self) -> int:
        return self.fd if not self.closed else -1

    def logPrefix(self) -> str:
        return self.process.logPrefix()

    def doRead(self) -> None:
        self.process.reapProcess()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.process.reactor.removeReader(self)
        _closeQuietly(self.fd)

    def connectionLost(self, reason: object) -> None:
        self.close()


# ---------------------------------------------------------------------------
# Process transports


def _signalNumber(signalID: str | int) -> int:
    if isinstance(signalID, int):
        return signalID
    name = signalID.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    number = getattr(signal, name, None)
    if not isinstance(number, int):
        raise ValueError(f"unknown signal {signalID!r}")
    return int(number)


@implementer(IProcessTransport, IConsumer, IPushProducer)
class _BaseProcess:
    """
    What pipe and PTY processes share: reaping and the end-of-life calls.
    """

    pid: int | None
    status: int | None

    def __init__(self, reactor: Any, proto: Any) -> None:
        self.reactor = reactor
        self.proto = proto
        self.pid = None
        self.status = None
        self.lostProcess = False
        self._ended = False
        self._execError: str | None = None
        self._reason: Failure | None = None
        self._pidfd: _PidfdWatcher | None = None
        self._pollDelay = _POLL_MIN
        self._pollCall: Any = None
        self._readers: dict[int, _ChildReader | _ChildWriter] = {}
        self._writers: dict[int, _ChildWriter] = {}
        self._writerFDs: set[int] = set()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} pid={self.pid} status={self.status}>"

    def logPrefix(self) -> str:
        """
        :return: the name used in log messages about this process.
        """
        return f"{type(self.proto).__name__},{self.pid}"

    # Spawning

    def _fork(
        self,
        executable: bytes | str,
        args: Sequence[bytes | str],
        environment: ProcessEnvironment | None,
        path: bytes | str | None,
        uid: int | None,
        gid: int | None,
        plan: list[tuple[int, int]],
        setsid: bool,
        controllingTTY: bool,
    ) -> None:
        """
        Start the child; ``plan`` lists ``(childFD, parentFD)`` placements.
        """
        bexecutable = _toBytes(executable, "the executable")
        if isinstance(args, str | bytes):
            raise TypeError("args must be a sequence of arguments, not a string")
        argv = [_toBytes(arg, "an argument") for arg in args]
        env = _prepareEnvironment(environment)
        bpath = None if path is None else _toBytes(path, "the working directory")
        newUID, newGID, groups = _identity(uid, gid)
        executables = _candidates(bexecutable, env)
        maxfd = os.sysconf("SC_OPEN_MAX")
        if maxfd <= 0:
            maxfd = 65536

        errorRead, errorWrite = os.pipe()
        try:
            pid = os.fork()
        except BaseException:
            os.close(errorRead)
            os.close(errorWrite)
            raise
        if pid == 0:
            _childMain(
                errorWrite,
                plan,
                setsid,
                controllingTTY,
                bpath,
                newUID,
                newGID,
                groups,
                executables,
                argv,
                env,
                maxfd,
            )
        os.close(errorWrite)
        self.pid = pid
        _processes[pid] = self
        # Blocks only until the child calls exec (which closes the pipe) or
        # reports why it could not.
        chunks = []
        try:
            while True:
                try:
                    chunk = os.read(errorRead, 4096)
                except InterruptedError:
                    continue
                if not chunk:
                    break
                chunks.append(chunk)
        finally:
            os.close(errorRead)
        if chunks:
            self._execError = b"".join(chunks).decode(errors="replace")

    def _watchExit(self) -> None:
        pid = self.pid
        assert pid is not None
        # SIGCHLD: a reactor offering the hook runs reapAllProcesses in its
        # own thread after each SIGCHLD (when its signal handlers are
        # installed).
        registerReaper = getattr(self.reactor, "_registerChildReaper", None)
        if registerReaper is not None:
            registerReaper(reapAllProcesses)
        # A pidfd tells us about this child's exit without any signal, in
        # any thread and whether or not signal handlers are installed.
        pidfdOpen: Callable[[int], int] | None = getattr(os, "pidfd_open", None)
        if pidfdOpen is not None:
            try:
                fd = pidfdOpen(pid)
            except OSError:
                fd = -1
            if fd >= 0:
                os.set_blocking(fd, False)
                self._pidfd = _PidfdWatcher(self, fd)
                self.reactor.addReader(self._pidfd)
                return
        # No pidfd, and SIGCHLD may not be handled: fall back to polling.
        self._pollCall = self.reactor.callLater(self._pollDelay, self._poll)

    def _poll(self) -> None:
        self._pollCall = None
        self.reapProcess()
        if not self.lostProcess:
            self._pollDelay = min(self._pollDelay * 2, _POLL_MAX)
            self._pollCall = self.reactor.callLater(self._pollDelay, self._poll)

    # Reaping

    def reapProcess(self) -> None:
        """
        Collect the child's exit status if it has exited; do nothing if not.
        """
        pid = self.pid
        if pid is None or self.lostProcess:
            return
        try:
            waited, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            # Someone else waited for it; its status is lost.
            waited, status = pid, 0
            _log.warn(
                "Child process {pid} was reaped by other code; exit status unknown",
                pid=pid,
            )
        except InterruptedError:
            return
        if waited == 0:
            return
        self._processExited(status)

    def _processExited(self, status: int) -> None:
        pid = self.pid
        self.lostProcess = True
        self.status = status
        if pid is not None:
            _processes.pop(pid, None)
        self.pid = None
        if self._pidfd is not None:
            self._pidfd.close()
            self._pidfd = None
        if self._pollCall is not None and self._pollCall.active():
            self._pollCall.cancel()
        self._pollCall = None
        self._reason = self._exitReason(status)
        try:
            self.proto.processExited(self._reason)
        except Exception:
            _log.failure("Unhandled error in processExited")
        self._maybeEnded()

    def _exitReason(self, status: int) -> Failure:
        if self._execError is not None:
            return Failure(ProcessExecError(self._execError, status))
        if os.WIFSIGNALED(status):
            return Failure(
                error.ProcessTerminated(signal=os.WTERMSIG(status), status=status)
            )
        code = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1
        if code == 0:
            return Failure(error.ProcessDone(status))
        return Failure(error.ProcessTerminated(exitCode=code, status=status))

    def _pipesOpen(self) -> bool:
        return bool(self._readers or self._writers)

    def _maybeEnded(self) -> None:
        if self._ended or self._pipesOpen():
            return
        if not self.lostProcess:
            # Every pipe closed: the child is probably exiting now.
            self.reapProcess()
            return
        self._ended = True
        reason = self._reason
        try:
            self.proto.processEnded(reason)
        except Exception:
            _log.failure("Unhandled error in processEnded")

    # Notifications from the descriptors

    def _childDataReceived(self, childFD: int, data: bytes) -> None:
        try:
            self.proto.childDataReceived(childFD, data)
        except Exception:
            _log.failure("Unhandled error in childDataReceived")

    def _childConnectionLost(self, childFD: int, descriptor: object) -> None:
        for table in (self._readers, self._writers):
            for key in [k for k, v in table.items() if v is descriptor]:
                del table[key]
        try:
            self.proto.childConnectionLost(childFD)
        except Exception:
            _log.failure("Unhandled error in childConnectionLost")
        self._maybeEnded()

    # IProcessTransport

    def writeToChild(self, childFD: int, data: bytes) -> None:
        """
        Write ``data`` to the child's descriptor ``childFD``.

        :param childFD: a descriptor mapped to ``"w"`` in ``childFDs``.
        :param data: the bytes.
        :raises TypeError: if ``data`` is not bytes.
        :raises KeyError: if ``childFD`` is not a descriptor we write to.
        """
        if not isinstance(data, bytes | bytearray | memoryview):
            raise TypeError(
                f"process transport write() takes bytes, not {type(data).__name__}"
            )
        writer = self._writers.get(childFD)
        if writer is None:
            if childFD in self._writerFDs:
                # Closed already: like writing after loseConnection, ignored.
                return
            raise KeyError(f"the child's descriptor {childFD} is not written to")
        writer.write(data)

    def write(self, data: bytes) -> None:
        """
        Write ``data`` to the child's standard input.

        :param data: the bytes.
        :raises TypeError: if ``data`` is not bytes.
        """
        self.writeToChild(0, data)

    def writeSequence(self, seq: Iterable[bytes]) -> None:
        """
        Write each element of ``seq`` to the child's standard input.

        :param seq: the byte strings.
        """
        for data in seq:
            self.write(data)

    def closeChildFD(self, childFD: int) -> None:
        """
        Close our end of the child's descriptor ``childFD``.

        For a descriptor we write to, what is buffered is written first.

        :param childFD: the child's descriptor number.
        """
        writer = self._writers.get(childFD)
        if writer is not None:
            writer.loseConnection()
            return
        reader = self._readers.get(childFD)
        if reader is not None:
            reader.close()

    def closeStdin(self) -> None:
        """
        Close the child's standard input once buffered data is written.
        """
        self.closeChildFD(0)

    def closeStdout(self) -> None:
        """
        Stop reading the child's standard output and close it.
        """
        self.closeChildFD(1)

    def closeStderr(self) -> None:
        """
        Stop reading the child's standard error and close it.
        """
        self.closeChildFD(2)

    def loseConnection(self) -> None:
        """
        Close standard input (after buffered data), output and error.
        """
        self.closeStdin()
        self.closeStderr()
        self.closeStdout()

    def signalProcess(self, signalID: str | int) -> None:
        """
        Send a signal to the child.

        :param signalID: a name such as ``"TERM"``, ``"KILL"``, ``"INT"``,
            ``"HUP"`` (with or without the ``SIG`` prefix) or a number.
        :raises torsion.internet.error.ProcessExitedAlready: if the child has
            exited.
        :raises ValueError: for an unknown signal name.
        """
        number = _signalNumber(signalID)
        if self.pid is None:
            raise error.ProcessExitedAlready()
        # A child that exited but was not reaped yet cannot be signalled
        # meaningfully either; reap it first so the answer is accurate.
        self.reapProcess()
        if self.pid is None:
            raise error.ProcessExitedAlready()
        try:
            os.kill(self.pid, number)
        except ProcessLookupError:
            raise error.ProcessExitedAlready()

    def getPeer(self) -> _ProcessAddress:
        """
        :return: an address standing for the child.
        """
        return _ProcessAddress(self.pid)

    def getHost(self) -> _ProcessAddress:
        """
        :return: an address standing for this end of the pipes.
        """
        return _ProcessAddress(self.pid)

    # IConsumer (data to the child's standard input)

    def registerProducer(self, producer: IProducer, streaming: bool) -> None:
        """
        Register a producer of data for the child's standard input.

        A streaming producer is paused while more than
        ``CHILD_WRITE_HIGH_WATER`` bytes wait; a non-streaming one is asked
        for more each time the buffer empties.

        :param producer: the producer.
        :param streaming: whether it is a push (streaming) producer.
        :raises RuntimeError: if a producer is already registered.
        """
        writer = self._writers.get(0)
        if writer is None:
            producer.stopProducing()
            return
        if writer.producer is not None:
            raise RuntimeError("a producer is already registered")
        writer.producer = producer
        writer.streamingProducer = streaming
        if not streaming:
            producer.resumeProducing()  # type: ignore[attr-defined]

    def unregisterProducer(self) -> None:
        """
        Forget the producer registered with ``registerProducer``.
        """
        writer = self._writers.get(0)
        if writer is not None:
            writer.producer = None

    # IPushProducer (data from the child)

    def pauseProducing(self) -> None:
        """
        Stop reading the child's output for now.
        """
        for reader in self._readers.values():
            self.reactor.removeReader(reader)

    def resumeProducing(self) -> None:
        """
        Read the child's output again after ``pauseProducing``.
        """
        for reader in self._readers.values():
            self.reactor.addReader(reader)

    def stopProducing(self) -> None:
        """
        Close every pipe to the child.
        """
        self.loseConnection()


class Process(_BaseProcess):
    """
    A child process connected through pipes.

    Built by ``reactor.spawnProcess``; see there for the parameters. The
    child's descriptors follow ``childFDs``: ``"w"`` means the parent writes
    to it (the child reads), ``"r"`` that the parent reads from it, and an
    integer that the child inherits the parent's descriptor of that number.
    Descriptors not mentioned are closed in the child.

    :ivar pid: the child's process id, ``None`` once it has been reaped.
    :ivar status: the raw wait status once reaped, else ``None``.
    """

    defaultChildFDs: Mapping[int, int | str] = {0: "w", 1: "r", 2: "r"}

    def __init__(
        self,
        reactor: Any,
        executable: bytes | str,
        args: Sequence[bytes | str],
        environment: ProcessEnvironment | None,
        path: bytes | str | None,
        proto: Any,
        uid: int | None = None,
        gid: int | None = None,
        childFDs: Mapping[int, int | str] | None = None,
    ) -> None:
        """
        :raises TypeError: for arguments of the wrong type.
        :raises ValueError: for malformed arguments, environment or
            ``childFDs``.
        :raises OSError: if pipes cannot be created or ``fork`` fails.
        """
        super().__init__(reactor, proto)
        if childFDs is None:
            childFDs = self.defaultChildFDs
        plan: list[tuple[int, int]] = []
        parentEnds: list[tuple[int, int, str]] = []
        childEnds: list[int] = []
        try:
            for childFD, kind in sorted(childFDs.items()):
                if not isinstance(childFD, int) or childFD < 0:
                    raise ValueError(f"invalid child descriptor {childFD!r}")
                if kind == "r":
                    readEnd, writeEnd = os.pipe()
                    parentEnds.append((childFD, readEnd, "r"))
                    childEnds.append(writeEnd)
                    plan.append((childFD, writeEnd))
                elif kind == "w":
                    readEnd, writeEnd = os.pipe()
                    parentEnds.append((childFD, writeEnd, "w"))
                    childEnds.append(readEnd)
                    plan.append((childFD, readEnd))
                elif isinstance(kind, int) and not isinstance(kind, bool):
                    os.fstat(kind)
                    plan.append((childFD, kind))
                else:
                    raise ValueError(
                        f"childFDs[{childFD}] must be 'r', 'w' or a descriptor, "
                        f"not {kind!r}"
                    )
            self._fork(
                executable,
                args,
                environment,
                path,
                uid,
                gid,
                plan,
                setsid=False,
                controllingTTY=False,
            )
        except BaseException:
            for _, fd, _ in parentEnds:
                os.close(fd)
            raise
        finally:
            for fd in childEnds:
                os.close(fd)
        for childFD, fd, kind in parentEnds:
            os.set_blocking(fd, False)
            if kind == "r":
                self._readers[childFD] = _ChildReader(self, fd, childFD)
            else:
                self._writers[childFD] = _ChildWriter(self, fd, childFD)
                self._writerFDs.add(childFD)
        for reader in self._readers.values():
            reactor.addReader(reader)
        for writer in self._writers.values():
            writer.startWatching()
        self._watchExit()
        try:
            proto.makeConnection(self)
        except Exception:
            _log.failure("Unhandled error in a process protocol's connectionMade")


class PTYProcess(_BaseProcess):
    """
    A child process running on a pseudo-terminal.

    The child's standard input, output and error are the terminal, which is
    also its controlling terminal (it runs in a new session). Everything it
    writes arrives as ``childDataReceived(1, data)``; ``write`` types into
    the terminal. A terminal has no separate input to close: ``closeStdin``
    does nothing, and ``loseConnection`` closes the terminal (the child
    receives SIGHUP).

    :ivar pid: the child's process id, ``None`` once it has been reaped.
    :ivar status: the raw wait status once reaped, else ``None``.
    """

    def __init__(
        self,
        reactor: Any,
        executable: bytes | str,
        args: Sequence[bytes | str],
        environment: ProcessEnvironment | None,
        path: bytes | str | None,
        proto: Any,
        uid: int | None = None,
        gid: int | None = None,
        usePTY: Any = True,
    ) -> None:
        """
        :param usePTY: ``True`` to open a new terminal, or a
            ``(masterfd, slavefd, ttyname)`` triple to use an existing one.
        :raises OSError: if no terminal can be opened or ``fork`` fails.
        """
        super().__init__(reactor, proto)
        if isinstance(usePTY, tuple):
            master, slave = usePTY[0], usePTY[1]
        else:
            master, slave = os.openpty()
        try:
            self._fork(
                executable,
                args,
                environment,
                path,
                uid,
                gid,
                [(0, slave), (1, slave), (2, slave)],
                setsid=True,
                controllingTTY=True,
            )
        except BaseException:
            os.close(master)
            raise
        finally:
            os.close(slave)
        os.set_blocking(master, False)
        self.fd = master
        # One descriptor serves both directions, registered once with the
        # reactor; it stands for the child's input (0) and output (1).
        terminal = _PTYDescriptor(self, master, 1)
        self._readers[1] = terminal
        self._writers[0] = terminal
        self._writerFDs.add(0)
        reactor.addReader(terminal)
        self._watchExit()
        try:
            proto.makeConnection(self)
        except Exception:
            _log.failure("Unhandled error in a process protocol's connectionMade")

    def closeStdin(self) -> None:
        """
        Do nothing: a terminal's input cannot be closed on its own.
        """

    def closeStdout(self) -> None:
        """
        Do nothing: a terminal's output cannot be closed on its own.
        """

    def closeStderr(self) -> None:
        """
        Do nothing: a terminal's output cannot be closed on its own.
        """

    def closeChildFD(self, childFD: int) -> None:
        """
        Do nothing: close the whole terminal with ``loseConnection``.

        :param childFD: ignored.
        """

    def loseConnection(self) -> None:
        """
        Close the terminal; the child receives SIGHUP.
        """
        terminal = self._writers.get(0)
        if terminal is not None:
            terminal.close()


class _PTYDescriptor(_ChildWriter):
    """
    A terminal's master side: read for the child's output, written for its
    input.
    """

    def doRead(self) -> None:
        try:
            data = os.read(self.fd, _READ_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError as e:
            # EIO: every descriptor of the terminal's child side is closed.
            if e.errno not in (errno.EIO, errno.EBADF):
                _log.failure("Error reading from a terminal", Failure(e))
            data = b""
        if not data:
            self.close()
            return
        self.process._childDataReceived(1, data)

    def loseConnection(self) -> None:
        self.close()
