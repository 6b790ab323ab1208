"""
The result model and the reporters of torsion-trial.

A reporter is a ``unittest.TestResult``-compatible object: tests call its
``startTest``, ``addSuccess``, ``addFailure``, ``addError``, ``addSkip``,
``addExpectedFailure``, ``addUnexpectedSuccess`` and ``stopTest``; the runner
calls ``done()`` at the end, which prints the problems and a summary line
such as ``FAILED (3 passed, 1 failed, 1 skipped, 1 errors)``.

Reporters by name (``torsion-trial --reporter NAME``): ``tree`` (default),
``verbose``, ``text``, ``summary``, ``junitxml`` and ``subunit``.
"""

from __future__ import annotations

import os
import pdb
import re
import sys
import time
import traceback
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any

__all__ = [
    "JUnitXMLReporter",
    "MinimalReporter",
    "RemoteError",
    "Reporter",
    "ReporterUnavailable",
    "SubunitReporter",
    "TextReporter",
    "TreeReporter",
    "VerboseTextReporter",
    "reporters",
]

OK = "OK"
FAIL = "FAIL"
ERROR = "ERROR"
SKIP = "SKIPPED"
TODO = "TODO"
UNEXPECTED = "SUCCESS!?!"

# Which outcome a test is counted under when several were reported for it.
_RANK = {OK: 0, SKIP: 1, TODO: 2, UNEXPECTED: 3, FAIL: 4, ERROR: 5}


class ReporterUnavailable(Exception):
    """
    A reporter cannot be used because an optional dependency is missing.
    """


@dataclass
class RemoteError:
    """
    An error or failure reported by another process (a ``--jobs`` worker),
    already formatted.

    :ivar typeName: the fully qualified exception class name.
    :ivar message: ``str()`` of the exception.
    :ivar text: the formatted traceback.
    """

    typeName: str
    message: str
    text: str


class RemoteTest:
    """
    A stand-in for a test that ran in another process.

    :ivar testId: the test's id.
    """

    def __init__(self, testId: str) -> None:
        self.testId = testId

    def id(self) -> str:
        """
        :return: the test's id.
        """
        return self.testId

    def shortDescription(self) -> None:
        """
        :return: ``None``.
        """
        return None

    def __str__(self) -> str:
        return self.testId


def formatError(err: Any) -> str:
    """
    Format an ``exc_info`` tuple or a ``RemoteError`` as traceback text.

    :param err: the error.
    :return: the text.
    """
    if isinstance(err, RemoteError):
        return err.text
    if isinstance(err, tuple) and len(err) == 3:
        tb = err[2]
        # Frames of the test machinery (marked as the standard library marks
        # its own) say nothing about the test.
        while tb is not None and tb.tb_frame.f_globals.get("__unittest"):
            tb = tb.tb_next
        if tb is None:
            failure = getattr(err, "failure", None)
            getTraceback = getattr(failure, "getTraceback", None)
            if getTraceback is not None:
                try:
                    return str(getTraceback())
                except Exception:
                    pass
        return "".join(traceback.format_exception(err[0], err[1], tb))
    return str(err)


def errorType(err: Any) -> str:
    """
    :param err: an ``exc_info`` tuple or a ``RemoteError``.
    :return: the fully qualified name of its exception class.
    """
    if isinstance(err, RemoteError):
        return err.typeName
    cls = err[0]
    return f"{cls.__module__}.{cls.__qualname__}"


def errorMessage(err: Any) -> str:
    """
    :param err: an ``exc_info`` tuple or a ``RemoteError``.
    :return: ``str()`` of its exception.
    """
    if isinstance(err, RemoteError):
        return err.message
    try:
        return str(err[1])
    except Exception:
        return repr(err[1])


class _TestFramePdb(pdb.Pdb):
    """
    A post-mortem debugger that starts in the innermost frame of the test's
    own code rather than inside an assertion helper.
    """

    def setup(self, f: Any, tb: Any) -> None:
        super().setup(f, tb)
        for index in range(len(self.stack) - 1, -1, -1):
            frame = self.stack[index][0]
            if not frame.f_globals.get("__unittest"):
                self.curindex = index
                self.curframe = frame
                self.curframe_locals = frame.f_locals
                break


def _postMortem(tb: Any) -> None:
    debugger = _TestFramePdb()
    debugger.reset()
    debugger.interaction(None, tb)


def _todoReason(todo: Any) -> str:
    return str(getattr(todo, "reason", todo or ""))


class Reporter:
    """
    The base reporter: records outcomes, counts each test once under its
    worst outcome, and ends with the problems and a summary line.

    :param stream: where to write.
    :param realtime: print each problem's traceback as soon as it happens.
    :param debug: enter ``pdb`` post-mortem on each error or failure.
    :ivar testsRun: the number of tests started.
    :ivar failures: ``(test, error)`` pairs.
    :ivar errors: ``(test, error)`` pairs.
    :ivar skips: ``(test, reason)`` pairs.
    :ivar expectedFailures: ``(test, error, todo)`` triples.
    :ivar unexpectedSuccesses: ``(test, todo)`` pairs.
    :ivar successes: the number of tests that passed.
    :ivar counts: tests per outcome (``OK``, ``FAIL``, ``ERROR``, ...).
    """

    name = "base"
    #: Whether the reporter's main output stream takes the summary line.
    summaryToStream = True

    def __init__(
        self,
        stream: IO[str] | None = None,
        realtime: bool = False,
        debug: bool = False,
    ) -> None:
        self.stream: IO[str] = stream if stream is not None else sys.stdout
        self.realtime = realtime
        self.debug = debug
        self.testsRun = 0
        self.successes = 0
        self.failures: list[tuple[Any, Any]] = []
        self.errors: list[tuple[Any, Any]] = []
        self.skips: list[tuple[Any, str]] = []
        self.expectedFailures: list[tuple[Any, Any, Any]] = []
        self.unexpectedSuccesses: list[tuple[Any, Any]] = []
        self.counts: dict[str, int] = dict.fromkeys(_RANK, 0)
        self.shouldStop = False
        self._status: str | None = None
        self._started = time.monotonic()
        self._testStart = 0.0
        self._problems: list[tuple[str, Any, Any]] = []
        self.buffer = False
        self.failfast = False

    # -- unittest.TestResult protocol --------------------------------------

    def startTestRun(self) -> None:
        """
        Called once before the first test.
        """
        self._started = time.monotonic()

    def stopTestRun(self) -> None:
        """
        Called once after the last test.
        """

    def startTest(self, test: Any) -> None:
        """
        A test is starting.

        :param test: the test.
        """
        self.testsRun += 1
        self._status = None
        self._testStart = time.monotonic()
        self.testStarted(test)

    def _mark(self, status: str) -> None:
        if self._status is None or _RANK[status] > _RANK[self._status]:
            self._status = status

    def stopTest(self, test: Any) -> None:
        """
        A test has finished.

        :param test: the test.
        """
        status = self._status or OK
        self.counts[status] += 1
        if status == OK:
            self.successes += 1
        self.testFinished(test, status, time.monotonic() - self._testStart)
        self._status = None

    def addSuccess(self, test: Any) -> None:
        """
        The test passed.
        """
        self._mark(OK)

    def _problem(self, kind: str, test: Any, err: Any) -> None:
        self._problems.append((kind, test, err))
        if self.realtime:
            self.writeProblem(kind, test, err)
            self.stream.flush()
        if self.debug and isinstance(err, tuple) and err[2] is not None:
            print(f"\n{kind} in {test.id()}:\n{formatError(err)}", file=self.stream)
            self.stream.flush()
            _postMortem(err[2])

    def addFailure(self, test: Any, err: Any) -> None:
        """
        The test failed an assertion.

        :param err: an ``exc_info`` tuple or a ``RemoteError``.
        """
        self.failures.append((test, err))
        self._mark(FAIL)
        self._problem(FAIL, test, err)

    def addError(self, test: Any, err: Any) -> None:
        """
        The test raised an unexpected error (or timed out, left the reactor
        dirty, or logged an error).

        :param err: an ``exc_info`` tuple or a ``RemoteError``.
        """
        self.errors.append((test, err))
        self._mark(ERROR)
        self._problem(ERROR, test, err)

    def addSkip(self, test: Any, reason: str) -> None:
        """
        The test was skipped.

        :param reason: why.
        """
        self.skips.append((test, reason))
        self._mark(SKIP)

    def addExpectedFailure(self, test: Any, err: Any, todo: Any = None) -> None:
        """
        The test failed, as its ``todo`` said it would.

        :param err: the failure.
        :param todo: the ``Todo`` (or its reason).
        """
        self.expectedFailures.append((test, err, todo))
        self._mark(TODO)

    def addUnexpectedSuccess(self, test: Any, todo: Any = None) -> None:
        """
        The test passed although its ``todo`` said it would fail.

        :param todo: the ``Todo`` (or its reason).
        """
        self.unexpectedSuccesses.append((test, todo))
        self._mark(UNEXPECTED)

    def addSubTest(self, test: Any, subtest: Any, err: Any) -> None:
        """
        A ``subTest`` block finished; its failure counts for the test.
        """
        if err is not None:
            if issubclass(err[0], test.failureException):
                self.addFailure(subtest, err)
            else:
                self.addError(subtest, err)

    def addDuration(self, test: Any, elapsed: float) -> None:
        """
        Accepted for compatibility with the standard library; unused.
        """

    def stop(self) -> None:
        """
        Ask the runner to stop after the current test.
        """
        self.shouldStop = True

    def wasSuccessful(self) -> bool:
        """
        :return: ``True`` if no test failed, errored or unexpectedly passed.
        """
        return not (self.failures or self.errors or self.unexpectedSuccesses)

    # -- output ------------------------------------------------------------

    def testStarted(self, test: Any) -> None:
        """
        Hook: output when a test starts.
        """

    def testFinished(self, test: Any, status: str, elapsed: float) -> None:
        """
        Hook: output when a test finishes.

        :param status: its outcome (``OK``, ``FAIL``, ``ERROR``, ``SKIPPED``,
            ``TODO``, ``SUCCESS!?!``).
        :param elapsed: its duration in seconds.
        """

    def writeProblem(self, kind: str, test: Any, err: Any) -> None:
        """
        Write one problem's report: a rule, its kind, the traceback, the test.
        """
        self.stream.write("=" * 79 + "\n")
        self.stream.write(f"[{kind}]\n")
        self.stream.write(formatError(err).rstrip("\n") + "\n\n")
        self.stream.write(f"{test.id()}\n")

    def summaryLine(self) -> str:
        """
        :return: ``PASSED (...)`` or ``FAILED (...)`` with the counts, always
            including ``N passed, N failed``.
        """
        c = self.counts
        parts = [f"{c[OK]} passed", f"{c[FAIL]} failed"]
        if c[SKIP]:
            parts.append(f"{c[SKIP]} skipped")
        if c[ERROR]:
            parts.append(f"{c[ERROR]} errors")
        if c[TODO]:
            parts.append(f"{c[TODO]} expected failures")
        if c[UNEXPECTED]:
            parts.append(f"{c[UNEXPECTED]} unexpected successes")
        word = "PASSED" if self.wasSuccessful() else "FAILED"
        return f"{word} ({', '.join(parts)})"

    def writeDetails(self) -> None:
        """
        Write the details of skips, expected failures, unexpected successes
        and problems, as the text reporters do at the end.
        """
        for test, reason in self.skips:
            self.stream.write("=" * 79 + "\n")
            self.stream.write(f"[{SKIP}]\nReason: {reason}\n\n{test.id()}\n")
        for test, err, todo in self.expectedFailures:
            self.stream.write("=" * 79 + "\n")
            self.stream.write(
                f"[{TODO}]\nReason: {_todoReason(todo)!r}\n\n"
                f"{formatError(err).rstrip()}\n\n{test.id()}\n"
            )
        for test, todo in self.unexpectedSuccesses:
            self.stream.write("=" * 79 + "\n")
            self.stream.write(
                f"[{UNEXPECTED}]\nReason: {_todoReason(todo)!r}\n\n{test.id()}\n"
            )
        if not self.realtime:
            for kind, test, err in self._problems:
                self.writeProblem(kind, test, err)

    def done(self) -> None:
        """
        Write the end of the report: details, test count and time, summary.
        """
        self.writeDetails()
        elapsed = time.monotonic() - self._started
        self.stream.write("-" * 79 + "\n")
        self.stream.write(f"Ran {self.testsRun} tests in {elapsed:.3f}s\n\n")
        self.stream.write(self.summaryLine() + "\n")
        self.stream.flush()


class TextReporter(Reporter):
    """
    One character per test (``.`` pass, ``F`` fail, ``E`` error, ``S``
    skip, ``T`` expected failure, ``!`` unexpected success), then details.
    """

    name = "text"
    _letters = {OK: ".", FAIL: "F", ERROR: "E", SKIP: "S", TODO: "T", UNEXPECTED: "!"}

    def testFinished(self, test: Any, status: str, elapsed: float) -> None:
        self.stream.write(self._letters[status])
        self.stream.flush()

    def done(self) -> None:
        self.stream.write("\n")
        super().done()


class VerboseTextReporter(Reporter):
    """
    One line per test: its id and its outcome.
    """

    name = "verbose"

    def testStarted(self, test: Any) -> None:
        self.stream.write(f"{test.id()} ... ")
        self.stream.flush()

    def testFinished(self, test: Any, status: str, elapsed: float) -> None:
        self.stream.write(f"[{status}]\n")
        self.stream.flush()


class MinimalReporter(Reporter):
    """
    Only the test count and the summary line (``summary``).
    """

    name = "summary"

    def done(self) -> None:
        elapsed = time.monotonic() - self._started
        self.stream.write(f"Ran {self.testsRun} tests in {elapsed:.3f}s\n")
        for kind, test, _ in self._problems:
            self.stream.write(f"{kind}: {test.id()}\n")
        self.stream.write(self.summaryLine() + "\n")
        self.stream.flush()


_COLOURS = {
    OK: "\x1b[32m",
    FAIL: "\x1b[31m",
    ERROR: "\x1b[31m",
    SKIP: "\x1b[34m",
    TODO: "\x1b[33m",
    UNEXPECTED: "\x1b[31m",
}
_RESET = "\x1b[0m"


def _wantColour(stream: IO[str]) -> bool:
    if os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except ValueError:
        return False


class TreeReporter(Reporter):
    """
    Tests grouped by module and class, indented, with each outcome printed
    as the test finishes (in colour on a terminal). The default reporter.
    """

    name = "tree"
    width = 79

    def __init__(
        self,
        stream: IO[str] | None = None,
        realtime: bool = False,
        debug: bool = False,
        colour: bool | None = None,
    ) -> None:
        super().__init__(stream, realtime, debug)
        self.colour = _wantColour(self.stream) if colour is None else colour
        self._lastPath: list[str] = []

    def _splitId(self, test: Any) -> tuple[list[str], str]:
        testId = test.id()
        parts = testId.split(".")
        if len(parts) >= 3:
            return [".".join(parts[:-2]), parts[-2]], parts[-1]
        return parts[:-1], parts[-1]

    def testStarted(self, test: Any) -> None:
        path, name = self._splitId(test)
        common = 0
        for a, b in zip(path, self._lastPath, strict=False):
            if a != b:
                break
            common += 1
        for depth in range(common, len(path)):
            self.stream.write("  " * depth + path[depth] + "\n")
        self._lastPath = path
        self._line = "  " * len(path) + name + " ... "
        self.stream.write(self._line)
        self.stream.flush()

    def testFinished(self, test: Any, status: str, elapsed: float) -> None:
        label = f"[{status}]"
        pad = max(1, self.width - len(self._line) - len(label))
        if self.colour:
            label = f"[{_COLOURS[status]}{status}{_RESET}]"
        self.stream.write(" " * pad + label + "\n")
        self.stream.flush()

    def done(self) -> None:
        self.stream.write("\n")
        super().done()


_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xmlText(text: str) -> str:
    return _INVALID_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


class JUnitXMLReporter(Reporter):
    """
    Writes a JUnit XML report (``testsuites``/``testsuite``/``testcase``
    with ``failure``, ``error`` and ``skipped`` children) to a file for CI
    systems; the terminal gets the summary line.

    :param xmlPath: where to write the XML.
    """

    name = "junitxml"

    def __init__(
        self,
        stream: IO[str] | None = None,
        realtime: bool = False,
        debug: bool = False,
        xmlPath: str = "junit.xml",
    ) -> None:
        super().__init__(stream, realtime, debug)
        self.xmlPath = os.path.abspath(xmlPath)
        self._cases: list[ET.Element] = []
        self._current: ET.Element | None = None
        self._totals = {"failures": 0, "errors": 0, "skipped": 0}

    def startTest(self, test: Any) -> None:
        super().startTest(test)
        parts = test.id().rsplit(".", 1)
        classname, name = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
        self._current = ET.Element(
            "testcase", classname=_xmlText(classname), name=_xmlText(name)
        )

    def _child(
        self, tag: str, message: str, typeName: str = "", text: str = ""
    ) -> None:
        assert self._current is not None
        attrs = {"message": _xmlText(message)}
        if typeName:
            attrs["type"] = _xmlText(typeName)
        el = ET.SubElement(self._current, tag, attrs)
        if text:
            el.text = _xmlText(text)

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self._child("failure", errorMessage(err), errorType(err), formatError(err))

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self._child("error", errorMessage(err), errorType(err), formatError(err))

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self._child("skipped", reason)

    def addExpectedFailure(self, test: Any, err: Any, todo: Any = None) -> None:
        super().addExpectedFailure(test, err, todo)
        self._child(
            "skipped", f"expected failure: {_todoReason(todo)}", "", formatError(err)
        )

    def addUnexpectedSuccess(self, test: Any, todo: Any = None) -> None:
        super().addUnexpectedSuccess(test, todo)
        self._child(
            "failure", f"unexpected success: {_todoReason(todo)}", "UnexpectedSuccess"
        )

    def testFinished(self, test: Any, status: str, elapsed: float) -> None:
        assert self._current is not None
        self._current.set("time", f"{elapsed:.6f}")
        if status in (FAIL, UNEXPECTED):
            self._totals["failures"] += 1
        elif status == ERROR:
            self._totals["errors"] += 1
        elif status in (SKIP, TODO):
            self._totals["skipped"] += 1
        self._cases.append(self._current)
        self._current = None

    def done(self) -> None:
        elapsed = time.monotonic() - self._started
        root = ET.Element("testsuites")
        suite = ET.SubElement(
            root,
            "testsuite",
            name="torsion-trial",
            tests=str(len(self._cases)),
            failures=str(self._totals["failures"]),
            errors=str(self._totals["errors"]),
            skipped=str(self._totals["skipped"]),
            time=f"{elapsed:.6f}",
        )
        suite.extend(self._cases)
        os.makedirs(os.path.dirname(self.xmlPath) or ".", exist_ok=True)
        ET.ElementTree(root).write(self.xmlPath, encoding="utf-8", xml_declaration=True)
        self.stream.write(f"JUnit XML report written to {self.xmlPath}\n")
        self.stream.write(f"Ran {self.testsRun} tests in {elapsed:.3f}s\n")
        self.stream.write(self.summaryLine() + "\n")
        self.stream.flush()


class SubunitReporter(Reporter):
    """
    Writes a subunit v2 stream to standard output (binary) for tools such
    as ``subunit2junitxml`` or ``stestr``; the summary line goes to standard
    error. Needs the ``python-subunit`` package.

    :raises ReporterUnavailable: if ``subunit`` is not installed.
    """

    name = "subunit"
    summaryToStream = False

    def __init__(
        self,
        stream: IO[str] | None = None,
        realtime: bool = False,
        debug: bool = False,
        binaryStream: IO[bytes] | None = None,
    ) -> None:
        try:
            import subunit  # type: ignore[import-not-found]
        except ImportError:
            raise ReporterUnavailable(
                "the subunit reporter needs python-subunit: "
                "python -m pip install python-subunit"
            )
        super().__init__(stream if stream is not None else sys.stderr, realtime, debug)
        out = binaryStream if binaryStream is not None else sys.stdout.buffer
        self._subunit = subunit.StreamResultToBytes(out)
        self._details: list[tuple[str, bytes]] = []

    def startTest(self, test: Any) -> None:
        super().startTest(test)
        self._details = []
        self._subunit.status(test_id=test.id(), test_status="inprogress")

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self._details.append(("traceback", formatError(err).encode("utf-8", "replace")))

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self._details.append(("traceback", formatError(err).encode("utf-8", "replace")))

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self._details.append(("reason", reason.encode("utf-8", "replace")))

    def testFinished(self, test: Any, status: str, elapsed: float) -> None:
        mapping = {
            OK: "success",
            FAIL: "fail",
            ERROR: "fail",
            SKIP: "skip",
            TODO: "xfail",
            UNEXPECTED: "uxsuccess",
        }
        for name, data in self._details:
            self._subunit.status(
                test_id=test.id(),
                file_name=name,
                file_bytes=data,
                mime_type="text/plain; charset=utf8",
                eof=True,
            )
        self._subunit.status(test_id=test.id(), test_status=mapping[status])

    def done(self) -> None:
        elapsed = time.monotonic() - self._started
        self.stream.write(f"Ran {self.testsRun} tests in {elapsed:.3f}s\n")
        self.stream.write(self.summaryLine() + "\n")
        self.stream.flush()


#: Reporter classes by their command-line name, with a one-line description.
reporters: dict[str, tuple[Callable[..., Reporter], str]] = {
    "tree": (
        TreeReporter,
        "tests indented by module and class, live, in colour on a terminal (default)",
    ),
    "verbose": (VerboseTextReporter, "one line per test: its id and outcome"),
    "text": (TextReporter, "one character per test, then the details"),
    "summary": (MinimalReporter, "only the problems' ids and the summary line"),
    "junitxml": (JUnitXMLReporter, "a JUnit XML file for CI systems (see --junit-xml)"),
    "subunit": (
        SubunitReporter,
        "a subunit v2 stream on standard output (needs python-subunit)",
    ),
}
