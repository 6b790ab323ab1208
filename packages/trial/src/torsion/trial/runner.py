"""
The torsion-trial runner: finding tests, preparing the run (temporary
directory, reactor, log file, coverage) and running them with a reporter.

Command line: ``torsion-trial [options] NAME...`` or
``python -m torsion.trial [options] NAME...``, where each ``NAME`` is a
package, module, class or method by dotted name, or a file or directory
path (directories are searched recursively for ``test_*.py``).
"""

from __future__ import annotations

import argparse
import errno
import fcntl
import gc
import importlib
import importlib.util
import inspect
import os
import random
import shutil
import sys
import time
import types
import unittest as pyunit
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import IO, Any

from torsion.python import usage
from torsion.trial import reporter as _reporter
from torsion.trial import unittest as _unittest
from torsion.trial import util

__all__ = [
    "ErrorHolder",
    "TestLoader",
    "TrialRunner",
    "installReactorByName",
    "main",
]

#: The default name of the directory tests run in.
DEFAULT_TEMP_DIRECTORY = "_trial_temp"

#: How many ``_trial_temp-N`` siblings to try when the directory is locked.
MAX_TEMP_DIRECTORY_ATTEMPTS = 100


class ErrorHolder:
    """
    A stand-in test that reports an error found while loading tests (a
    module that failed to import, a name that does not exist).

    :param description: what was being loaded.
    :param error: the ``exc_info`` tuple.
    """

    def __init__(self, description: str, error: Any) -> None:
        self.description = description
        self.error = error

    def id(self) -> str:
        """
        :return: what was being loaded.
        """
        return self.description

    def shortDescription(self) -> None:
        """
        :return: ``None``.
        """
        return None

    def __repr__(self) -> str:
        return f"<ErrorHolder description={self.description!r} error={self.error[1]!r}>"

    def run(self, result: Any) -> None:
        """
        Report the loading error to ``result``.
        """
        result.startTest(self)
        result.addError(self, self.error)
        result.stopTest(self)

    __call__ = run


def _isTestClass(obj: object) -> bool:
    return isinstance(obj, type) and issubclass(obj, pyunit.TestCase)


def _moduleNameForFile(path: str) -> tuple[str, str | None]:
    """
    The dotted module name of a Python file, and the directory to put on
    ``sys.path`` for it (its topmost package's parent), or ``None`` when the
    file is not in a package.
    """
    directory, filename = os.path.split(os.path.abspath(path))
    name = os.path.splitext(filename)[0]
    parts = [name]
    while os.path.exists(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.insert(0, package)
    if len(parts) == 1:
        return name, None
    return ".".join(parts), directory


class TestLoader:
    """
    Finds tests by name or path and turns them into a flat, ordered list of
    test case instances.

    Test methods are those whose names start with ``test`` on subclasses of
    ``unittest.TestCase`` (torsion-trial's and the standard library's);
    modules are those named ``test_*.py``. Names are sorted, so two loads of
    the same arguments give the same list in the same order.
    """

    modulePrefix = "test_"
    methodPrefix = "test"

    def loadByNames(self, names: Iterable[str]) -> list[Any]:
        """
        Load every name (dotted name or path), keeping the order given and
        dropping duplicates.

        :param names: the names.
        :return: the tests.
        """
        tests: list[Any] = []
        seen: set[str] = set()
        for name in names:
            for test in self.loadByName(name):
                testId = test.id()
                if testId in seen:
                    continue
                seen.add(testId)
                tests.append(test)
        return tests

    def loadByName(self, name: str) -> list[Any]:
        """
        Load a dotted name (package, module, class, method) or a path (file
        or directory).

        :param name: the name.
        :return: the tests; an ``ErrorHolder`` when it cannot be loaded.
        """
        if os.path.exists(name) and (
            os.sep in name or name.endswith(".py") or os.path.isdir(name)
        ):
            return self.loadPath(name)
        try:
            obj = self._resolve(name)
        except Exception:
            return [ErrorHolder(name, sys.exc_info())]
        return self.loadObject(obj, name)

    def _resolve(self, name: str) -> object:
        parts = name.split(".")
        obj: object = importlib.import_module(parts[0])
        for i, part in enumerate(parts[1:], start=1):
            if hasattr(obj, part):
                obj = getattr(obj, part)
                continue
            if isinstance(obj, types.ModuleType):
                obj = importlib.import_module(".".join(parts[: i + 1]))
                continue
            raise AttributeError(
                f"{name}: {'.'.join(parts[:i])} has no attribute {part!r}"
            )
        return obj

    def loadObject(self, obj: object, name: str = "") -> list[Any]:
        """
        Load the tests of a module, package, class or method object.

        :param obj: the object.
        :param name: its name, for error reports.
        :return: the tests.
        """
        if isinstance(obj, types.ModuleType):
            if hasattr(obj, "__path__"):
                return self.loadPackage(obj)
            return self.loadModule(obj)
        if _isTestClass(obj):
            return self.loadClass(obj)  # type: ignore[arg-type]
        if inspect.isfunction(obj) or inspect.ismethod(obj):
            qualname = getattr(obj, "__qualname__", "")
            owner = qualname.rsplit(".", 1)[0] if "." in qualname else ""
            module = sys.modules.get(obj.__module__)
            cls = getattr(module, owner, None) if owner else None
            if _isTestClass(cls):
                return [cls(obj.__name__)]  # type: ignore[misc]
        try:
            raise TypeError(
                f"{name or obj!r} is not a test module, package, class or method"
            )
        except TypeError:
            return [ErrorHolder(name or repr(obj), sys.exc_info())]

    def loadClass(self, cls: type[pyunit.TestCase]) -> list[Any]:
        """
        Load the test methods of a test case class, sorted by name.

        :param cls: the class.
        :return: one instance per test method.
        """
        names = sorted(
            n
            for n in dir(cls)
            if n.startswith(self.methodPrefix) and callable(getattr(cls, n, None))
        )
        return [cls(n) for n in names]

    def loadModule(self, module: types.ModuleType) -> list[Any]:
        """
        Load the test case classes defined in (or imported into) a module,
        sorted by class name.

        :param module: the module.
        :return: the tests.
        """
        tests: list[Any] = []
        for name in sorted(vars(module)):
            obj = getattr(module, name)
            if _isTestClass(obj) and not name.startswith("_"):
                if obj.__module__ != module.__name__ and not _isOwnedByModule(
                    obj, module
                ):
                    continue
                tests.extend(self.loadClass(obj))
        return tests

    def loadPackage(self, package: types.ModuleType) -> list[Any]:
        """
        Load every ``test_*`` module of a package and its sub-packages.

        :param package: the package.
        :return: the tests.
        """
        tests: list[Any] = []
        for directory in list(package.__path__):
            for path in self._findTestFiles(directory):
                relative = os.path.relpath(path, directory)
                dotted = relative[: -len(".py")].replace(os.sep, ".")
                modname = f"{package.__name__}.{dotted}"
                try:
                    module = importlib.import_module(modname)
                except Exception:
                    tests.append(ErrorHolder(modname, sys.exc_info()))
                    continue
                tests.extend(self.loadModule(module))
        return tests

    def _findTestFiles(self, directory: str) -> Iterator[str]:
        for root, dirs, files in os.walk(directory):
            dirs[:] = sorted(
                d for d in dirs if not d.startswith((".", "_")) and d != "node_modules"
            )
            for f in sorted(files):
                if f.startswith(self.modulePrefix) and f.endswith(".py"):
                    yield os.path.join(root, f)

    def loadPath(self, path: str) -> list[Any]:
        """
        Load a test file, or every ``test_*.py`` file under a directory.

        :param path: the path.
        :return: the tests.
        """
        path = os.path.abspath(path)
        if os.path.isdir(path):
            tests: list[Any] = []
            for filename in self._findTestFiles(path):
                tests.extend(self.loadFile(filename))
            return tests
        return self.loadFile(path)

    def loadFile(self, path: str) -> list[Any]:
        """
        Import a Python file as a module (by its package name when it is in
        a package) and load its tests.

        :param path: the file.
        :return: the tests.
        """
        try:
            module = importFile(path)
        except Exception:
            return [ErrorHolder(path, sys.exc_info())]
        return self.loadModule(module)


def _isOwnedByModule(cls: type, module: types.ModuleType) -> bool:
    return getattr(sys.modules.get(cls.__module__), "__file__", None) == getattr(
        module, "__file__", 0
    )


def importFile(path: str) -> types.ModuleType:
    """
    Import a Python file. A file inside a package is imported by its full
    dotted name (its top package's parent goes on ``sys.path``); a lone file
    is imported under its own name, or a name derived from its path when
    that is taken by another module.

    :param path: the file.
    :return: the module.
    """
    path = os.path.abspath(path)
    name, root = _moduleNameForFile(path)
    if root is not None:
        if root not in sys.path:
            sys.path.insert(0, root)
        return importlib.import_module(name)
    existing = sys.modules.get(name)
    if existing is not None:
        if os.path.abspath(getattr(existing, "__file__", "") or "") == path:
            return existing
        name = (
            "_torsion_trial_"
            + path.strip(os.sep).replace(os.sep, "_").replace(".", "_")[: -len("_py")]
        )
        existing = sys.modules.get(name)
        if existing is not None:
            return existing
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def installReactorByName(name: str) -> Any:
    """
    Install the reactor called ``name`` (``epoll``, ``poll``, ``select``,
    ``asyncio``, ...) as the global reactor, using core's name table.

    :param name: the reactor's short name.
    :return: the installed reactor.
    :raises ValueError: if no reactor has that name.
    """
    from torsion.internet import main as internet_main

    for attr in ("installReactorByName", "installNamedReactor"):
        install = getattr(internet_main, attr, None)
        if install is not None:
            return install(name)
    table: Mapping[str, Any] | None = None
    for attr in ("reactorTypes", "REACTORS", "reactors", "reactorNames"):
        candidate = getattr(internet_main, attr, None)
        if isinstance(candidate, Mapping):
            table = candidate
            break
    if table is not None:
        if name not in table:
            raise ValueError(
                f"unknown reactor {name!r}; choose from: {', '.join(sorted(table))}"
            )
        entry = table[name]
        if isinstance(entry, str):
            entry = importlib.import_module(entry)
        install = getattr(entry, "install", entry)
        return install()
    try:
        module = importlib.import_module(f"torsion.internet.{name}reactor")
    except ImportError:
        raise ValueError(f"unknown reactor {name!r}")
    return module.install()


def lockTempDirectory(base: str) -> tuple[str, int]:
    """
    Lock the run's temporary directory so that concurrent runs in the same
    folder do not clash: ``base`` if free, else ``base-1``, ``base-2``, ...
    The directory is emptied and created; the lock (a ``flock`` on
    ``<directory>.lock``) lasts until the returned descriptor is closed.

    :param base: the preferred directory.
    :return: the directory locked and the lock file's descriptor.
    :raises OSError: if no candidate could be locked.
    """
    base = os.path.abspath(base)
    for attempt in range(MAX_TEMP_DIRECTORY_ATTEMPTS):
        path = base if attempt == 0 else f"{base}-{attempt}"
        fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
                continue
            raise
        if os.path.isdir(path):
            shutil.rmtree(path, ignore_errors=True)
        os.makedirs(path, exist_ok=True)
        return path, fd
    raise OSError(
        f"could not lock any of {base}, {base}-1 .. "
        f"{base}-{MAX_TEMP_DIRECTORY_ATTEMPTS - 1}"
    )


class _LogFileObserver:
    """
    Writes every event torsion logs during the run to a file.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._format: Any = None
        try:
            from torsion import logger

            self._format = getattr(
                logger, "formatEventAsClassicLogText", None
            ) or getattr(logger, "formatEvent", None)
        except ImportError:
            pass

    def __call__(self, event: Mapping[str, Any]) -> None:
        text: str | None = None
        if self._format is not None:
            try:
                text = self._format(event)
            except Exception:
                text = None
        if not text:
            text = repr(dict(event)) + "\n"
        if not text.endswith("\n"):
            text += "\n"
        failure = event.get("log_failure")
        if failure is not None and "Traceback" not in text:
            getTraceback = getattr(failure, "getTraceback", None)
            if getTraceback is not None:
                text += str(getTraceback())
        self.stream.write(text)
        self.stream.flush()


def startLogFile(path: str) -> tuple[IO[str], _LogFileObserver | None]:
    """
    Send everything logged from now on to ``path``.

    :return: the open file and the observer (``None`` when torsion's
        logging system is unavailable).
    """
    stream = open(path, "a", encoding="utf-8")  # noqa: SIM115 -- closed at the end of the run
    observer = _LogFileObserver(stream)
    try:
        from torsion.logger import globalLogBeginner, globalLogPublisher
    except ImportError:
        return stream, None
    try:
        globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)
    except TypeError:
        globalLogBeginner.beginLoggingTo([observer])
    except Exception:
        globalLogPublisher.addObserver(observer)
    return stream, observer


class ClassFixtures:
    """
    Calls ``setUpClass``/``tearDownClass`` (and ``setUpModule``/
    ``tearDownModule``) around consecutive tests of the same class (module),
    as the standard library's suites do. A failing set-up is reported as an
    error and the tests it guards are skipped.

    :param result: where to report fixture errors.
    """

    def __init__(self, result: Any) -> None:
        self.result = result
        self._class: type[pyunit.TestCase] | None = None
        self._module: types.ModuleType | None = None
        self._classFailed = False
        self._moduleFailed = False

    def _call(self, description: str, f: Any) -> bool:
        try:
            f()
        except pyunit.SkipTest as e:
            holder = ErrorHolder(description, None)
            self.result.startTest(holder)
            self.result.addSkip(holder, str(e))
            self.result.stopTest(holder)
            return False
        except Exception:
            ErrorHolder(description, sys.exc_info()).run(self.result)
            return False
        return True

    def enter(self, test: Any) -> bool:
        """
        Prepare the fixtures ``test`` needs, leaving those it does not.

        :param test: the next test.
        :return: whether it may run (its class and module set up fine).
        """
        cls = type(test) if isinstance(test, pyunit.TestCase) else None
        module = sys.modules.get(cls.__module__) if cls is not None else None
        if cls is not self._class:
            self._leaveClass()
        if module is not self._module:
            self._leaveModule()
            self._module = module
            setUpModule = getattr(module, "setUpModule", None)
            self._moduleFailed = setUpModule is not None and not self._call(
                f"setUpModule ({getattr(module, '__name__', '?')})", setUpModule
            )
        if cls is not self._class:
            self._class = cls
            self._classFailed = False
            if cls is not None and not self._moduleFailed:
                self._classFailed = not self._call(
                    f"setUpClass ({cls.__module__}.{cls.__qualname__})", cls.setUpClass
                )
        return not (self._moduleFailed or self._classFailed)

    def _leaveClass(self) -> None:
        cls, self._class = self._class, None
        if cls is not None and not self._classFailed and not self._moduleFailed:
            name = f"{cls.__module__}.{cls.__qualname__}"
            self._call(f"tearDownClass ({name})", cls.tearDownClass)
            self._call(f"doClassCleanups ({name})", cls.doClassCleanups)
            for err in getattr(cls, "tearDown_exceptions", []):
                ErrorHolder(f"class cleanup ({name})", err).run(self.result)
            cls.tearDown_exceptions = []  # type: ignore[attr-defined]

    def _leaveModule(self) -> None:
        module, self._module = self._module, None
        if module is not None and not self._moduleFailed:
            tearDownModule = getattr(module, "tearDownModule", None)
            if tearDownModule is not None:
                self._call(f"tearDownModule ({module.__name__})", tearDownModule)

    def close(self) -> None:
        """
        Tear down whatever is still set up.
        """
        self._leaveClass()
        self._leaveModule()


class TrialRunner:
    """
    Runs a list of tests, one after another, with a reporter.

    :param reporter: the reporter.
    :param exitFirst: stop after the first failure or error.
    """

    def __init__(self, reporter: _reporter.Reporter, exitFirst: bool = False) -> None:
        self.reporter = reporter
        self.exitFirst = exitFirst

    def run(self, tests: Sequence[Any]) -> _reporter.Reporter:
        """
        Run ``tests`` and return the reporter (``done()`` not called).

        :param tests: the tests.
        :return: the reporter.
        """
        result = self.reporter
        fixtures = ClassFixtures(result)
        try:
            for test in tests:
                if fixtures.enter(test):
                    test(result)
                else:
                    result.startTest(test)
                    result.addSkip(test, "its setUpClass or setUpModule failed")
                    result.stopTest(test)
                if result.shouldStop or (self.exitFirst and not result.wasSuccessful()):
                    break
        finally:
            fixtures.close()
        return result


class Options(usage.Options):
    """
    The command line of ``torsion-trial``.
    """

    synopsis = "torsion-trial [options] [[file|package|module|TestCase|testmethod]...]"
    longdesc = (
        "Run tests written with torsion.trial (or plain unittest): name "
        "packages, modules, classes or methods by dotted name, or files and "
        "directories (searched recursively for test_*.py)."
    )
    optFlags = [
        ["help-reporters", None, "List the reporters and exit."],
        ["until-failure", "u", "Repeat the run until a test fails."],
        ["exitfirst", "x", "Stop after the first failure or error."],
        ["debug", "b", "Enter pdb post-mortem on each failure or error."],
        ["coverage", None, "Measure coverage with coverage.py."],
        ["rterrors", "e", "Print tracebacks as soon as they happen."],
    ]
    optParameters = [
        ["reporter", None, "tree", "How to report (see --help-reporters)."],
        ["jobs", "j", 1, "Run tests in N worker processes.", int],
        [
            "reactor",
            "r",
            None,
            "Install the reactor NAME (epoll, poll, select, asyncio).",
        ],
        ["temp-directory", None, DEFAULT_TEMP_DIRECTORY, "Where tests run."],
        ["logfile", "l", "test.log", "Log file name inside the temp directory."],
        [
            "junit-xml",
            None,
            None,
            "File for the junitxml reporter (default <temp>/junit.xml).",
        ],
    ]

    def __init__(self) -> None:
        super().__init__()
        self["random"] = None
        self["tests"] = []

    def opt_random(self, seed: str) -> None:
        """
        Run tests in random order; with SEED (an integer), reproducibly
        (``--random`` alone picks a seed and prints it).
        """
        try:
            self["random"] = int(seed)
        except ValueError:
            raise usage.UsageError(f"--random takes an integer seed, not {seed!r}")

    opt_z = opt_random

    def parseArgs(self, *tests: str) -> None:
        """
        :param tests: the names or paths of the tests to run.
        """
        self["tests"] = list(tests)

    def postOptions(self) -> None:
        """
        Check the options together.

        :raises torsion.python.usage.UsageError: for impossible combinations.
        """
        if self["help-reporters"]:
            return
        if self["reporter"] not in _reporter.reporters:
            raise usage.UsageError(
                f"unknown reporter {self['reporter']!r}; "
                f"choose from {', '.join(_reporter.reporters)}"
            )
        if not self["tests"]:
            raise usage.UsageError("name at least one test, module, package or path")
        if self["jobs"] < 1:
            raise usage.UsageError("--jobs must be at least 1")
        if self["jobs"] > 1 and self["debug"]:
            raise usage.UsageError("--debug cannot be used with --jobs")
        if self["jobs"] > 1 and self["until-failure"]:
            raise usage.UsageError("--until-failure cannot be used with --jobs")


def _optionalSeed(argv: Sequence[str]) -> list[str]:
    """
    Let ``--random``/``-z`` stand alone: give it the seed ``-1`` ("pick
    one") when no integer follows.
    """
    result: list[str] = []
    args = list(argv)
    for i, arg in enumerate(args):
        result.append(arg)
        if arg in ("--random", "-z"):
            following = args[i + 1] if i + 1 < len(args) else ""
            try:
                int(following)
            except ValueError:
                result.append("-1")
    return result


def parseOptions(argv: Sequence[str]) -> argparse.Namespace:
    """
    Parse a ``torsion-trial`` command line.

    :param argv: the arguments (without the program name).
    :return: the options as attributes (dashes become underscores).
    :raises torsion.python.usage.UsageError: for a bad command line.
    """
    config = Options()
    config.parseOptions(_optionalSeed(argv))
    return argparse.Namespace(**{k.replace("-", "_"): v for k, v in config.items()})


def _helpReporters(stream: IO[str]) -> None:
    stream.write("Reporters (--reporter NAME):\n")
    for name, (_, description) in _reporter.reporters.items():
        stream.write(f"  {name:<10} {description}\n")


def _makeReporter(options: argparse.Namespace, tempDir: str) -> _reporter.Reporter:
    factory, _ = _reporter.reporters[options.reporter]
    kwargs: dict[str, Any] = {"realtime": options.rterrors, "debug": options.debug}
    if options.reporter == "junitxml":
        kwargs["xmlPath"] = options.junit_xml or os.path.join(tempDir, "junit.xml")
    return factory(**kwargs)


def loadTests(names: Sequence[str]) -> list[Any]:
    """
    Load the tests named on the command line.

    :param names: the names or paths.
    :return: the tests, in a reproducible order.
    """
    return TestLoader().loadByNames(names)


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run the ``torsion-trial`` command line.

    :param argv: the arguments (without the program name).
    :return: the exit status: 0 when every test passed, 1 when one failed or
        errored, 2 for a usage error.
    """
    try:
        options = parseOptions(list(sys.argv[1:] if argv is None else argv))
    except usage.UsageError as e:
        print(f"torsion-trial: {e}", file=sys.stderr)
        print("Run torsion-trial --help for the options.", file=sys.stderr)
        return 2
    out = sys.stdout
    if options.help_reporters:
        _helpReporters(out)
        return 0

    cov: Any = None
    if options.coverage:
        try:
            import coverage  # type: ignore[import-not-found]
        except ImportError:
            print(
                "torsion-trial: --coverage needs coverage.py: "
                "python -m pip install coverage",
                file=sys.stderr,
            )
            return 2

    originalCwd = os.getcwd()
    if originalCwd not in sys.path:
        sys.path.insert(0, originalCwd)
    names = [os.path.abspath(n) if os.path.exists(n) else n for n in options.tests]

    try:
        tempDir, lockFd = lockTempDirectory(options.temp_directory)
    except OSError as e:
        print(f"torsion-trial: {e}", file=sys.stderr)
        return 2

    try:
        try:
            reporter = _makeReporter(options, tempDir)
        except _reporter.ReporterUnavailable as e:
            print(f"torsion-trial: {e}", file=sys.stderr)
            return 2

        if options.coverage:
            cov = coverage.Coverage(
                data_file=os.path.join(tempDir, "coverage"), data_suffix=True
            )
            cov.start()

        if options.reactor:
            try:
                installReactorByName(options.reactor)
            except Exception as e:
                print(
                    f"torsion-trial: cannot install reactor {options.reactor!r}: {e}",
                    file=sys.stderr,
                )
                return 2

        if options.jobs > 1:
            from torsion.trial import _dist

            ok = _dist.runDistributed(options, names, tempDir, reporter, originalCwd)
        else:
            ok = _runLocally(options, names, tempDir, reporter)
        if cov is not None:
            cov.stop()
            cov.save()
            cov.combine()
            cov.report(file=out)
        return 0 if ok else 1
    finally:
        os.chdir(originalCwd)
        os.close(lockFd)


def _shuffle(tests: list[Any], seed: int | None, stream: IO[str]) -> None:
    if seed is None:
        return
    if seed < 0:
        seed = int(time.time() * 1000) % (2**31)
    stream.write(f"Running tests shuffled with seed {seed}\n\n")
    random.Random(seed).shuffle(tests)


def _runLocally(
    options: argparse.Namespace,
    names: Sequence[str],
    tempDir: str,
    reporter: _reporter.Reporter,
) -> bool:
    tests = loadTests(names)
    _shuffle(tests, options.random, reporter.stream)
    os.chdir(tempDir)
    _unittest.setTempRoot(tempDir)
    logStream, observer = startLogFile(os.path.join(tempDir, options.logfile))
    # Everything loaded so far lives for the whole run; freezing it keeps
    # the per-test garbage collection (which catches unhandled Deferred
    # failures) proportional to what the test itself allocated.
    gc.collect()
    gc.freeze()
    util.freezeSurvivorsAfterCollection(True)
    try:
        iteration = 0
        while True:
            iteration += 1
            if options.until_failure:
                reporter.stream.write(f"Test Pass {iteration}\n")
            reporter.startTestRun()
            try:
                TrialRunner(reporter, exitFirst=options.exitfirst).run(tests)
            except KeyboardInterrupt:
                # Report what ran so far; the interrupted test counts as
                # an error so the run cannot pass.
                reporter.stream.write("\n[interrupted]\n")
                reporter.errors.append(
                    (ErrorHolder("interrupted", None), "KeyboardInterrupt")
                )
                reporter.stopTestRun()
                reporter.done()
                return False
            reporter.stopTestRun()
            if not options.until_failure or not reporter.wasSuccessful():
                break
            reporter.done()
            reporter = _makeReporter(options, tempDir)
        reporter.done()
        return reporter.wasSuccessful()
    finally:
        util.freezeSurvivorsAfterCollection(False)
        gc.unfreeze()
        if observer is not None:
            try:
                from torsion.logger import globalLogPublisher

                globalLogPublisher.removeObserver(observer)
            except Exception:
                pass
        logStream.close()
