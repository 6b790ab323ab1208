"""
The ``torsion`` command: its options (``ServerOptions``) and the runner
that turns them into a running process (``ApplicationRunner``).

``torsion [common options] <plugin> [plugin options]`` runs the service a
plugin builds; ``torsion [common options] -y app.tac`` runs the
``application`` object of a ``.tac`` file.  The common options come before
the plugin's name: logging (``--logfile``, ``--log-format``,
``--log-level``), the process (``--pidfile``, ``--daemon``, ``--uid``,
``--gid``, ``--umask``, ``--chroot``), the reactor, profiling, and
``--workers N`` to serve the same listening sockets from N processes.
"""

from __future__ import annotations

import cProfile
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import IO, Any, NoReturn

from torsion.application import service
from torsion.application.runner import (
    AlreadyRunning,
    ExitStatus,
    InvalidPIDFileError,
    LogFile,
    PIDFile,
)
from torsion.application.runner._logfile import DEFAULT_KEEP
from torsion.core import __version__
from torsion.internet import defer, error
from torsion.logger import (
    FilteringLogObserver,
    InvalidLogLevelError,
    Logger,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    jsonFileLogObserver,
    textFileLogObserver,
)
from torsion.python import usage
from torsion.python.failure import Failure
from torsion.scripts._closedoutput import leaveOnBrokenPipe

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "WORKER_FDS_ENV",
    "WORKER_ID_ENV",
    "ApplicationRunner",
    "CommandError",
    "ServerOptions",
    "run",
]

#: Seconds a stopping process waits for services to stop and for open
#: connections to finish before the reactor closes what is left.
DEFAULT_SHUTDOWN_TIMEOUT = 10.0

#: The environment variable telling a worker process which inherited
#: descriptors are the listening sockets (set by ``--workers``).
WORKER_FDS_ENV = "TORSION_WORKER_FDS"

#: The environment variable holding a worker's number.
WORKER_ID_ENV = "TORSION_WORKER_ID"

#: The most worker processes ``--workers`` accepts.
MAX_WORKERS = 512

_log = Logger(namespace="torsion")


class CommandError(Exception):
    """
    A problem the user can fix, reported as one line and an exit status.

    :ivar status: the ``ExitStatus`` to exit with.
    :ivar usageText: help to print before the message, or ``None``.
    """

    def __init__(
        self,
        message: str,
        status: ExitStatus = ExitStatus.EX_SOFTWARE,
        usageText: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.usageText = usageText


def _pluginSubCommands() -> list[list[Any]]:
    from torsion.plugins import serviceMakers

    commands: list[list[Any]] = []
    for name, maker in sorted(serviceMakers().items()):

        def makeOptions(maker: Any = maker) -> usage.Options:
            options: usage.Options = maker.options()
            return options

        commands.append([name, None, makeOptions, maker.description])
    return commands


def _octal(value: str) -> int:
    try:
        number = int(value, 8)
    except ValueError:
        raise ValueError(f"{value!r} is not an octal number")
    if not 0 <= number <= 0o777:
        raise ValueError(f"{value!r} is not a umask (000 to 777)")
    return number


_octal.coerceDoc = "An octal number such as 022."  # type: ignore[attr-defined]


def _positiveInt(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError(f"{value!r} must be at least 1")
    return number


def _positiveFloat(value: str) -> float:
    number = float(value)
    if not number >= 0:
        raise ValueError(f"{value!r} must not be negative")
    return number


def _userId(value: str) -> int:
    if value.isdigit():
        return int(value)
    import pwd

    try:
        return pwd.getpwnam(value).pw_uid
    except KeyError:
        raise ValueError(f"no such user {value!r}")


def _groupId(value: str) -> int:
    if value.isdigit():
        return int(value)
    import grp

    try:
        return grp.getgrnam(value).gr_gid
    except KeyError:
        raise ValueError(f"no such group {value!r}")


class ServerOptions(usage.Options):
    """
    The ``torsion`` command's options; each installed service plugin is a
    sub-command.
    """

    synopsis = "Usage: torsion [options] <plugin> [plugin options]"
    longdesc = (
        "Run a service plugin (listed under Commands) or, with -y, the "
        "'application' of a .tac file. Common options go before the "
        "plugin's name; 'torsion <plugin> --help' shows a plugin's own "
        "options."
    )

    optFlags = [
        ["daemon", None, "Run in the background (double fork, setsid, chdir /)."],
    ]

    optParameters = [
        ["python", "y", None, "Run the 'application' object of this .tac file."],
        ["reactor", "r", None, "The reactor to use (epoll, poll, select, asyncio)."],
        [
            "logfile",
            "l",
            None,
            "Log to this file; '-' for standard output "
            "(the default, or torsion.log with --daemon).",
        ],
        [
            "logfile-max-size",
            None,
            None,
            "Rotate the log file before it grows past this many bytes.",
            _positiveInt,
        ],
        [
            "logfile-keep",
            None,
            DEFAULT_KEEP,
            "How many rotated log files to keep.",
            _positiveInt,
        ],
        ["log-format", None, "text", "Log as 'text' or 'json' (one event per line)."],
        [
            "log-level",
            None,
            "info",
            "Log events at this level and above (debug, info, warn, error, critical).",
        ],
        [
            "pidfile",
            None,
            None,
            "Write the process id here; refuse to start if a live process holds it.",
        ],
        ["uid", "u", None, "Switch to this user (name or id) after binding ports."],
        ["gid", "g", None, "Switch to this group (name or id) after binding ports."],
        ["umask", None, None, "Set this umask (octal).", _octal],
        ["chroot", None, None, "Change root to this directory after binding ports."],
        ["profile", None, None, "Write cProfile statistics of the run to this file."],
        [
            "workers",
            "w",
            1,
            "Serve from this many processes sharing the listening sockets; "
            "a worker that dies is restarted.",
            _positiveInt,
        ],
        [
            "shutdown-timeout",
            None,
            DEFAULT_SHUTDOWN_TIMEOUT,
            "Seconds to let services stop and open connections finish on SIGTERM.",
            _positiveFloat,
        ],
    ]

    def __init__(self) -> None:
        self.subCommands = _pluginSubCommands()
        super().__init__()

    def getSynopsis(self) -> str:
        """
        :return: the first line of the help; a plugin's help starts with
            ``Usage: torsion [options] <plugin>`` followed by its own.
        """
        if self.subCommand is not None:
            return "Usage: torsion [options]"
        return super().getSynopsis()

    def postOptions(self) -> None:
        """
        Check the options together.

        :raises usage.UsageError: if they conflict or a value is invalid.
        """
        if self.subCommand is not None and self["python"] is not None:
            raise usage.UsageError("Give either a plugin or -y FILE, not both.")
        if self.subCommand is None and self["python"] is None:
            raise usage.UsageError(
                "Name a plugin to run (see the list above), or a .tac file with -y."
            )
        if self["log-format"] not in ("text", "json"):
            raise usage.UsageError(
                f"--log-format must be 'text' or 'json', not {self['log-format']!r}"
            )
        try:
            self["log-level-value"] = LogLevel.levelWithName(self["log-level"])
        except InvalidLogLevelError:
            raise usage.UsageError(
                f"unknown --log-level {self['log-level']!r}; use one of "
                + ", ".join(level.name for level in LogLevel)
            )
        from torsion.internet.main import REACTORS

        if self["reactor"] is not None and self["reactor"] not in REACTORS:
            raise usage.UsageError(
                f"unknown reactor {self['reactor']!r}; choose one of "
                + ", ".join(sorted(REACTORS))
            )
        if self["workers"] > MAX_WORKERS:
            raise usage.UsageError(f"--workers may be at most {MAX_WORKERS}")
        if self["workers"] > 1 and self["chroot"] is not None:
            raise usage.UsageError("--chroot cannot be combined with --workers")
        try:
            self["uid-value"] = None if self["uid"] is None else _userId(self["uid"])
            self["gid-value"] = None if self["gid"] is None else _groupId(self["gid"])
        except ValueError as e:
            raise usage.UsageError(str(e))


def _exitWith(problem: CommandError, stderr: IO[str]) -> NoReturn:
    if problem.usageText:
        stderr.write(problem.usageText.rstrip("\n") + "\n")
    stderr.write(f"torsion: error: {problem}\n")
    stderr.flush()
    raise SystemExit(int(problem.status))


def parseCommandLine(argv: Sequence[str]) -> ServerOptions:
    """
    Parse the ``torsion`` command line.

    :param argv: the arguments, without the program name.
    :return: the parsed options.
    :raises CommandError: for a wrong command line, with the usage of the
        part (the command or the plugin) that was wrong.
    """
    config = ServerOptions()
    try:
        config.parseOptions(list(argv))
    except usage.UsageError as e:
        message = str(e)
        if message.startswith("Unknown command:"):
            name = message.split(":", 1)[1].strip()
            installed = ", ".join(entry[0] for entry in config.subCommands) or "none"
            message = f"unknown plugin {name!r} (installed: {installed})"
        helpFor = config.subOptions if config.subOptions is not None else config
        raise CommandError(message, ExitStatus.EX_USAGE, str(helpFor))
    return config


class _ShutdownGrace:
    """
    Stops the application when the reactor shuts down, then lets accepted
    connections finish for up to ``timeout`` seconds.
    """

    def __init__(self, reactor: Any, top: Any, timeout: float) -> None:
        self.reactor = reactor
        self.top = top
        self.timeout = timeout

    def _openConnections(self) -> int:
        try:
            from torsion.internet import tcp, unix
        except ImportError:
            # After --chroot the modules may be out of reach; nothing of
            # theirs can be open then.
            return 0
        kinds = tuple(
            kind
            for kind in (getattr(tcp, "Server", None), getattr(unix, "Server", None))
            if isinstance(kind, type)
        )
        readers = list(self.reactor.getReaders()) + list(self.reactor.getWriters())
        return len({id(r) for r in readers if isinstance(r, kinds)})

    def __call__(self) -> defer.Deferred[None]:
        finished: defer.Deferred[None] = defer.Deferred()

        def finish(_: object = None) -> None:
            if not finished.called:
                finished.callback(None)

        def giveUp() -> None:
            remaining = self._openConnections()
            if remaining:
                _log.warn(
                    "Closing {count} connection(s) still open after {timeout}s",
                    count=remaining,
                    timeout=self.timeout,
                )
            finish()

        def drain(_: object) -> None:
            if finished.called:
                return
            if self._openConnections() == 0:
                finish()
            else:
                self.reactor.callLater(0.05, drain, None)

        def stopFailed(failure: Failure) -> None:
            _log.failure("Error while stopping the application", failure)

        stopping = defer.maybeDeferred(self.top.stopService)
        stopping.addErrback(stopFailed)
        stopping.addCallback(drain)
        timer = self.reactor.callLater(self.timeout, giveUp)
        finished.addBoth(lambda r: (timer.active() and timer.cancel(), r)[1])
        return finished


class ApplicationRunner:
    """
    Runs what ``ServerOptions`` describe: installs the reactor, builds the
    application, binds its ports, daemonizes, writes the PID file, starts
    logging, drops privileges, runs the reactor, and cleans up.

    :ivar config: the parsed ``ServerOptions``.
    :ivar argv: the original arguments (workers are started with them).
    """

    def __init__(
        self,
        config: ServerOptions,
        argv: Sequence[str],
        stdout: IO[str] | None = None,
        stderr: IO[str] | None = None,
    ) -> None:
        """
        :param config: the parsed options.
        :param argv: the command line they came from, without the program.
        :param stdout: where ``--logfile -`` logs; ``sys.stdout`` by default.
        :param stderr: where errors go; ``sys.stderr`` by default.
        """
        self.config = config
        self.argv = list(argv)
        self.stdout = stdout if stdout is not None else sys.stdout
        self.stderr = stderr if stderr is not None else sys.stderr
        self.reactor: Any = None
        self.application: Any = None
        self.logFile: LogFile | None = None
        self.pidFile: PIDFile | None = None
        self.workerFDs = _inheritedWorkerFDs()
        self.startDirectory = os.getcwd()
        self.exitStatus = ExitStatus.EX_OK

    @property
    def isWorker(self) -> bool:
        """
        Whether this process is a worker started by ``--workers``.
        """
        return self.workerFDs is not None

    # -- the steps -------------------------------------------------------------

    def installReactor(self) -> Any:
        """
        Install the reactor named by ``--reactor`` (the platform's best by
        default).

        :return: the reactor.
        :raises CommandError: if it cannot be installed.
        """
        from torsion.internet import default, main

        name = self.config["reactor"] or default.defaultReactorName()
        if "torsion.internet.reactor" in sys.modules:
            from torsion.internet import reactor

            return reactor
        try:
            return main.installReactorByName(name)
        except error.UnsupportedReactor as e:
            raise CommandError(str(e), ExitStatus.EX_CONFIG)

    def checkPIDFile(self) -> None:
        """
        Refuse to go on if a live process holds ``--pidfile``; remove a
        stale one.

        :raises CommandError: if another instance runs.
        """
        if self.config["pidfile"] is None or self.isWorker:
            return
        pidFile = PIDFile(self.config["pidfile"])
        try:
            pidFile.check()
        except AlreadyRunning as e:
            raise CommandError(str(e), ExitStatus.EX_UNAVAILABLE)
        except (OSError, InvalidPIDFileError) as e:
            raise CommandError(
                f"cannot use pidfile {pidFile.path}: {e}", ExitStatus.EX_UNAVAILABLE
            )
        self.pidFile = pidFile

    def createApplication(self) -> Any:
        """
        Build the application from the plugin or the ``.tac`` file.

        :return: the application (an ``IService`` adapter provider).
        :raises CommandError: for an unreadable ``.tac`` file or options a
            plugin rejects.
        """
        config = self.config
        if config["python"] is not None:
            path = config["python"]
            try:
                application = service.loadApplication(path)
            except OSError as e:
                raise CommandError(
                    f"cannot read {path}: {e.strerror or e}", ExitStatus.EX_NOINPUT
                )
            except ValueError as e:
                raise CommandError(str(e), ExitStatus.EX_NOINPUT)
            except Exception as e:
                raise CommandError(
                    f"{path} failed: {type(e).__name__}: {e}", ExitStatus.EX_SOFTWARE
                )
            if service.IService(application, None) is None:
                raise CommandError(
                    f"'application' in {path} is not a service", ExitStatus.EX_NOINPUT
                )
            return application
        from torsion.plugins import serviceMakers

        maker = serviceMakers()[config.subCommand or ""]
        try:
            made = maker.makeService(config.subOptions)
        except (ValueError, usage.UsageError) as e:
            raise CommandError(str(e), ExitStatus.EX_USAGE, str(config.subOptions))
        application = service.Application(config.subCommand or "torsion")
        made.setServiceParent(application)
        return application

    def privilegedStart(self, top: Any) -> None:
        """
        Run ``privilegedStartService``, turning failures to listen into a
        ``CommandError``.

        :param top: the application's top service.
        :raises CommandError: if a port cannot be opened.
        """
        from torsion.application.internet import StreamServerEndpointService

        def raiseSynchronously(node: Any) -> None:
            if isinstance(node, StreamServerEndpointService):
                node._raiseSynchronously = True
            if isinstance(node, service.MultiService):
                for child in node:
                    raiseSynchronously(child)

        raiseSynchronously(top)
        try:
            top.privilegedStartService()
        except error.CannotListenError as e:
            status = ExitStatus.EX_UNAVAILABLE
            if isinstance(e.socketError, PermissionError):
                status = ExitStatus.EX_NOPERM
            raise CommandError(str(e), status)
        except PermissionError as e:
            raise CommandError(f"permission denied: {e}", ExitStatus.EX_NOPERM)
        except (OSError, ValueError) as e:
            raise CommandError(f"cannot start: {e}", ExitStatus.EX_UNAVAILABLE)

    def startLogging(self) -> None:
        """
        Send log events to ``--logfile`` in ``--log-format``, filtered by
        ``--log-level``.

        :raises CommandError: if the log file cannot be opened.
        """
        config = self.config
        path = config["logfile"]
        if self.isWorker:
            path = "-"
        if path is None:
            path = "torsion.log" if config["daemon"] else "-"
        out: Any
        if path == "-":
            out = self.stdout
        else:
            try:
                self.logFile = LogFile(
                    path, config["logfile-max-size"], config["logfile-keep"]
                )
            except OSError as e:
                raise CommandError(
                    f"cannot open log file {path}: {e.strerror or e}",
                    ExitStatus.EX_CANTCREAT,
                )
            out = self.logFile
        if config["log-format"] == "json":
            observer = jsonFileLogObserver(out, recordSeparator="")
        else:
            observer = textFileLogObserver(out)
        level = config.get("log-level-value") or LogLevel.info
        filtered = FilteringLogObserver(observer, [LogLevelFilterPredicate(level)])
        globalLogBeginner.beginLoggingTo([filtered], redirectStandardIO=False)

    def reopenLogFiles(self) -> None:
        """
        Reopen ``--logfile`` (on SIGHUP, after an external rotation).
        """
        if self.logFile is not None:
            self.logFile.reopen()
            _log.info("Reopened log file {path}", path=self.logFile.path)

    def installSignals(self, onHangup: Callable[[], None]) -> None:
        """
        Make SIGHUP call ``onHangup`` in the reactor thread.

        :param onHangup: what to do.
        """
        reactor = self.reactor

        def hangup(signum: int, frame: Any) -> None:
            reactor.callFromThread(onHangup)

        signal.signal(signal.SIGHUP, hangup)

    # -- the whole run -----------------------------------------------------------

    def run(self) -> int:
        """
        Run until the reactor stops.

        :return: the exit status.
        :raises CommandError: for a problem the user can fix.
        """
        from torsion.application.runner import _workers
        from torsion.scripts import _twistd_unix as unix

        config = self.config
        if config["umask"] is not None and not self.isWorker:
            os.umask(config["umask"])
        self.reactor = self.installReactor()
        self._catchEarlyStopSignals()
        self.checkPIDFile()
        self.application = self.createApplication()
        top = service.IService(self.application)
        process = service.IProcess(self.application, None)
        uid = config["uid-value"]
        gid = config["gid-value"]
        if process is not None:
            uid = uid if uid is not None else process.uid
            gid = gid if gid is not None else process.gid
        workers = 1 if self.isWorker else config["workers"]
        collector: Any = None
        if self.isWorker:
            assert self.workerFDs is not None
            inherited = _workers.InheritedListeners(self.reactor, self.workerFDs)
            with inherited:
                self.privilegedStart(top)
        elif workers > 1:
            collector = _workers.ListenerCollector(self.reactor)
            with collector:
                self.privilegedStart(top)
        else:
            self.privilegedStart(top)

        profilePath = os.path.abspath(config["profile"]) if config["profile"] else None
        if profilePath is not None and self.isWorker:
            # Each worker profiles itself into its own file.
            profilePath += f".worker-{os.environ.get(WORKER_ID_ENV, '0')}"
        if config["daemon"] and not self.isWorker:
            if config["logfile"] is None or config["logfile"] != "-":
                if config["logfile"] is None:
                    config["logfile"] = os.path.abspath("torsion.log")
                else:
                    config["logfile"] = os.path.abspath(config["logfile"])
            unix.daemonize(config["umask"])
        if self.pidFile is not None:
            self.pidFile.write()
        try:
            self.startLogging()
            if config["chroot"] is not None and not self.isWorker:
                unix.changeRoot(config["chroot"])
            if not self.isWorker:
                unix.dropPrivileges(uid, gid)
            if collector is not None:
                monitor = _workers.startWorkers(
                    self.reactor,
                    collector,
                    workers,
                    self.argv,
                    config["shutdown-timeout"],
                    cwd=self.startDirectory,
                )

                def hangupAll() -> None:
                    self.reopenLogFiles()
                    monitor.signalAll("HUP")

                self.installSignals(hangupAll)
                self.reactor.addSystemEventTrigger(
                    "before", "shutdown", monitor.stopService
                )
                self.reactor.callWhenRunning(monitor.startService)
                self.reactor.addSystemEventTrigger("after", "shutdown", collector.close)
            else:
                self.installSignals(self.reopenLogFiles)
                self.reactor.callWhenRunning(self._startApplication, top)
                self.reactor.addSystemEventTrigger(
                    "before",
                    "shutdown",
                    _ShutdownGrace(self.reactor, top, config["shutdown-timeout"]),
                )
            if profilePath is not None:
                profiler = cProfile.Profile()
                try:
                    profiler.runcall(self.reactor.run)
                finally:
                    profiler.dump_stats(profilePath)
            else:
                self.reactor.run()
        finally:
            if self.pidFile is not None:
                self.pidFile.remove()
            if self.logFile is not None:
                self.logFile.flush()
        return int(self.exitStatus)

    def _catchEarlyStopSignals(self) -> None:
        # The ports are bound (and announced in the log) before the reactor
        # runs and installs its own handlers; a SIGTERM in between must
        # still mean a clean stop, not death by the default action.
        early: list[int] = []

        def remember(signum: int, frame: Any) -> None:
            early.append(signum)

        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, remember)

        def stopIfSignalled() -> None:
            if early:
                _log.info("Received signal {signum} while starting", signum=early[0])
                self.reactor.stop()

        self.reactor.callWhenRunning(stopIfSignalled)

    def _startApplication(self, top: Any) -> None:
        _log.info(
            "torsion {version} starting {what} with {reactor} (pid {pid})",
            version=__version__,
            what=self.config.subCommand or self.config["python"],
            reactor=type(self.reactor).__name__,
            pid=os.getpid(),
        )
        try:
            top.startService()
        except Exception:
            _log.failure("The application failed to start")
            self.exitStatus = ExitStatus.EX_SOFTWARE
            self.reactor.stop()


def _inheritedWorkerFDs() -> list[int] | None:
    raw = os.environ.get(WORKER_FDS_ENV)
    if raw is None:
        return None
    # A worker's own children must not think they are workers.
    del os.environ[WORKER_FDS_ENV]
    try:
        return [int(part) for part in raw.split(",") if part]
    except ValueError:
        return []


def run(argv: Sequence[str] | None = None) -> NoReturn:
    """
    The ``torsion`` command.

    :param argv: the arguments, without the program name; ``sys.argv[1:]``
        by default.
    :raises SystemExit: always, with the exit status.
    """
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        try:
            config = parseCommandLine(arguments)
            status = ApplicationRunner(config, arguments).run()
        finally:
            # Here (``--help`` exits from inside the parser), not at
            # interpreter exit, so that a reader gone away is noticed.
            sys.stdout.flush()
    except CommandError as problem:
        _exitWith(problem, sys.stderr)
    except KeyboardInterrupt:
        raise SystemExit(130)
    except BrokenPipeError:
        leaveOnBrokenPipe()
    raise SystemExit(status)
