"""
``ProcessMonitor``: a service that runs child processes and keeps them
running.

Each child is started when the service starts (or when added to a running
monitor).  When one exits it is started again after a delay: the delay
starts at ``minRestartDelay`` and doubles, up to ``maxRestartDelay``, each
time a child dies within ``threshold`` seconds of being started; a child
that ran longer than ``threshold`` is restarted after ``minRestartDelay``.
Stopping a child sends SIGTERM, then SIGKILL if it is still there
``killTime`` seconds later.  Every line a child writes to its standard
output or error is logged with its name::

    from torsion.runner.procmon import ProcessMonitor

    monitor = ProcessMonitor()
    monitor.addProcess("worker", ["/usr/bin/python3", "worker.py"],
                       env={"PATH": "/usr/bin"})
    monitor.setServiceParent(application)
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from torsion.application.service import Service
from torsion.internet import defer, error
from torsion.internet.defer import Deferred
from torsion.internet.protocol import ProcessProtocol
from torsion.logger import Logger
from torsion.python.failure import Failure

__all__ = ["MAX_LOGGED_LINE", "LoggingProtocol", "ProcessMonitor"]

#: Longest line of a child's output logged as one event; a longer line is
#: logged in pieces of this size, so a child cannot make us hold unbounded
#: text while waiting for a newline.
MAX_LOGGED_LINE = 16384

_log = Logger(namespace="torsion.runner.procmon")


@dataclass
class _ProcessSpec:
    args: list[str]
    uid: int | None
    gid: int | None
    env: dict[str, str]
    cwd: str | None
    childFDs: dict[int, int | str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class LoggingProtocol(ProcessProtocol):
    """
    Logs each line of a child's output, tagged with its name, and tells the
    monitor when it ends.

    :ivar name: the child's name.
    """

    def __init__(self, monitor: ProcessMonitor, name: str) -> None:
        """
        :param monitor: the ``ProcessMonitor`` to tell.
        :param name: the child's name.
        """
        self.monitor = monitor
        self.name = name
        self._pending: dict[int, bytes] = {}

    def childDataReceived(self, childFD: int, data: bytes) -> None:
        """
        Log every complete line of ``data``.

        :param childFD: 1 (stdout) or 2 (stderr).
        :param data: the bytes read.
        """
        buffered = self._pending.get(childFD, b"") + data
        lines = buffered.split(b"\n")
        rest = lines.pop()
        for line in lines:
            self._emit(childFD, line)
        while len(rest) >= MAX_LOGGED_LINE:
            self._emit(childFD, rest[:MAX_LOGGED_LINE])
            rest = rest[MAX_LOGGED_LINE:]
        self._pending[childFD] = rest

    def _emit(self, childFD: int, line: bytes) -> None:
        text = line.rstrip(b"\r").decode("utf-8", "replace")
        _log.info(
            "[{name}] {line}",
            name=self.name,
            line=text,
            stream="stderr" if childFD == 2 else "stdout",
        )

    def processEnded(self, reason: Failure) -> None:
        """
        Log what is left of the output and tell the monitor.

        :param reason: why it ended.
        """
        for childFD, rest in sorted(self._pending.items()):
            if rest:
                self._emit(childFD, rest)
        self._pending.clear()
        self.monitor._processEnded(self, reason)


class ProcessMonitor(Service):
    """
    Runs named child processes and restarts them when they exit.

    :ivar threshold: seconds a child must run to count as healthy.
    :ivar killTime: seconds between SIGTERM and SIGKILL when stopping.
    :ivar minRestartDelay: the first (and healthy) restart delay.
    :ivar maxRestartDelay: the largest restart delay.
    :ivar processes: the specifications by name.
    :ivar protocols: the ``LoggingProtocol`` of every running child.
    """

    threshold = 1.0
    killTime = 5.0
    minRestartDelay = 1.0
    maxRestartDelay = 3600.0

    def __init__(self, reactor: Any = None) -> None:
        """
        :param reactor: an ``IReactorProcess`` and ``IReactorTime``; the
            global reactor by default.
        """
        self._reactor = reactor
        self.processes: dict[str, _ProcessSpec] = {}
        self.protocols: dict[str, LoggingProtocol] = {}
        self.delay: dict[str, float] = {}
        self.timeStarted: dict[str, float] = {}
        self.murder: dict[str, Any] = {}
        self.restart: dict[str, Any] = {}
        self._ended: dict[str, list[Deferred[None]]] = {}

    @property
    def reactor(self) -> Any:
        """
        The reactor used.
        """
        if self._reactor is None:
            from torsion.internet import reactor

            self._reactor = reactor
        return self._reactor

    # -- managing the set of processes --------------------------------------

    def addProcess(
        self,
        name: str,
        args: list[str],
        uid: int | None = None,
        gid: int | None = None,
        env: Mapping[str, str] | None = None,
        cwd: str | None = None,
        childFDs: Mapping[int, int | str] | None = None,
    ) -> None:
        """
        Add a child; it starts at once if the monitor runs.

        :param name: a unique name (used in log lines).
        :param args: the program and its arguments (``args[0]`` is run).
        :param uid: the user id to run it as.
        :param gid: the group id to run it as.
        :param env: its environment (empty by default).
        :param cwd: its working directory.
        :param childFDs: its descriptor mapping (see ``spawnProcess``); by
            default stdin is closed and stdout/stderr are read and logged.
        :raises KeyError: if a child of that name exists.
        :raises ValueError: if ``args`` is empty.
        """
        if name in self.processes:
            raise KeyError(f"remove {name!r} first")
        if not args:
            raise ValueError("args must name a program")
        self.processes[name] = _ProcessSpec(
            list(args),
            uid,
            gid,
            dict(env or {}),
            cwd,
            dict(childFDs) if childFDs is not None else None,
        )
        self.delay[name] = self.minRestartDelay
        if self.running:
            self.startProcess(name)

    def removeProcess(self, name: str) -> Deferred[None]:
        """
        Forget a child, stopping it if it runs.

        :param name: its name.
        :return: a ``Deferred`` firing once it has exited.
        :raises KeyError: if there is no such child.
        """
        self.processes.pop(name)
        self.delay.pop(name, None)
        self._cancelRestart(name)
        return self.stopProcess(name)

    # -- starting and stopping ------------------------------------------------

    def startService(self) -> None:
        """
        Start every child.
        """
        Service.startService(self)
        for name in list(self.processes):
            self.startProcess(name)

    def stopService(self) -> Deferred[None]:
        """
        Stop every child and cancel pending restarts.

        :return: a ``Deferred`` firing once they have all exited.
        """
        Service.stopService(self)
        for name in list(self.restart):
            self._cancelRestart(name)
        waiting = [self.stopProcess(name) for name in list(self.protocols)]
        return defer.DeferredList(waiting).addCallback(lambda _: None)

    def startProcess(self, name: str) -> None:
        """
        Start a child now, unless it is running.

        :param name: its name.
        :raises KeyError: if there is no such child.
        """
        spec = self.processes[name]
        if name in self.protocols:
            return
        self._cancelRestart(name)
        protocol = LoggingProtocol(self, name)
        self.protocols[name] = protocol
        self.timeStarted[name] = self.reactor.seconds()
        childFDs = (
            spec.childFDs if spec.childFDs is not None else {0: "w", 1: "r", 2: "r"}
        )
        try:
            self.reactor.spawnProcess(
                protocol,
                spec.args[0],
                spec.args,
                env=spec.env,
                path=spec.cwd,
                uid=spec.uid,
                gid=spec.gid,
                childFDs=childFDs,
            )
        except Exception:
            del self.protocols[name]
            _log.failure("Could not start {name!r}", name=name)
            self._scheduleRestart(name)
            return
        transport = protocol.transport
        _log.info(
            "Started {name!r} (pid {pid})",
            name=name,
            pid=getattr(transport, "pid", None),
        )
        if 0 in childFDs and childFDs[0] == "w" and transport is not None:
            # The child gets end-of-file on stdin rather than waiting on it.
            transport.closeStdin()

    def stopProcess(self, name: str) -> Deferred[None]:
        """
        Stop a running child: SIGTERM now, SIGKILL after ``killTime``.  If
        the monitor runs, the child is then restarted.

        :param name: its name.
        :return: a ``Deferred`` firing once it has exited (at once if it
            was not running).
        :raises KeyError: if there is no such child (neither configured nor
            running).
        """
        if name not in self.processes and name not in self.protocols:
            raise KeyError(f"no process named {name!r}")
        protocol = self.protocols.get(name)
        if protocol is None or protocol.transport is None:
            return defer.succeed(None)
        ended: Deferred[None] = Deferred()
        self._ended.setdefault(name, []).append(ended)
        try:
            protocol.transport.signalProcess("TERM")
        except error.ProcessExitedAlready:
            return ended
        if name not in self.murder:
            self.murder[name] = self.reactor.callLater(self.killTime, self._kill, name)
        return ended

    def _kill(self, name: str) -> None:
        self.murder.pop(name, None)
        protocol = self.protocols.get(name)
        if protocol is None or protocol.transport is None:
            return
        _log.warn(
            "{name!r} did not exit {killTime}s after SIGTERM; sending SIGKILL",
            name=name,
            killTime=self.killTime,
        )
        try:
            protocol.transport.signalProcess("KILL")
        except error.ProcessExitedAlready:
            pass

    def restartAll(self) -> None:
        """
        Stop every running child; the running monitor starts each again.
        """
        for name in list(self.protocols):
            self.stopProcess(name)

    def signalAll(self, signalID: str | int) -> None:
        """
        Send a signal to every running child.

        :param signalID: a name such as ``"HUP"`` or a number.
        """
        for protocol in list(self.protocols.values()):
            if protocol.transport is not None:
                try:
                    protocol.transport.signalProcess(signalID)
                except error.ProcessExitedAlready:
                    pass

    # -- internals ------------------------------------------------------------

    def _processEnded(self, protocol: LoggingProtocol, reason: Failure) -> None:
        name = protocol.name
        if self.protocols.get(name) is protocol:
            del self.protocols[name]
        murder = self.murder.pop(name, None)
        if murder is not None and murder.active():
            murder.cancel()
        _log.info(
            "{name!r} ended: {reason}", name=name, reason=reason.getErrorMessage()
        )
        for waiter in self._ended.pop(name, []):
            waiter.callback(None)
        if self.running and name in self.processes:
            started = self.timeStarted.get(name, 0.0)
            if self.reactor.seconds() - started >= self.threshold:
                self.delay[name] = self.minRestartDelay
            self._scheduleRestart(name)

    def _scheduleRestart(self, name: str) -> None:
        if not self.running or name in self.restart:
            return
        delay = self.delay.get(name, self.minRestartDelay)
        self.delay[name] = min(
            max(delay, self.minRestartDelay) * 2, self.maxRestartDelay
        )
        self.restart[name] = self.reactor.callLater(delay, self._restart, name)

    def _restart(self, name: str) -> None:
        self.restart.pop(name, None)
        if self.running and name in self.processes:
            self.startProcess(name)

    def _cancelRestart(self, name: str) -> None:
        call = self.restart.pop(name, None)
        if call is not None and call.active():
            call.cancel()

    def __repr__(self) -> str:
        return (
            f"<ProcessMonitor processes={sorted(self.processes)} "
            f"running={sorted(self.protocols)}>"
        )


def _defaultEnvironment() -> dict[str, str]:
    """
    :return: a copy of this process's environment, for children that should
        see it.
    """
    return dict(os.environ)
