"""
A ``torsion-trial --jobs`` worker process: loads the tests named on its
command line, then runs the test whose index arrives on each line of its
standard input, answering with one JSON line per test; ``quit`` ends it.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
from collections.abc import Sequence
from typing import IO, Any

from torsion.trial import reporter as _reporter
from torsion.trial import util


class _RecordingResult(_reporter.Reporter):
    """
    Collects what a test reports, to be sent to the main process.
    """

    def __init__(self, out: IO[str]) -> None:
        super().__init__(stream=open(os.devnull, "w"))  # noqa: SIM115
        self.out = out
        self.events: list[dict[str, Any]] = []
        self.index = -1
        self.current: Any = None

    def _err(self, kind: str, err: Any) -> dict[str, Any]:
        return {
            "kind": kind,
            "type": _reporter.errorType(err),
            "message": _reporter.errorMessage(err),
            "text": _reporter.formatError(err),
        }

    def startTest(self, test: Any) -> None:
        super().startTest(test)
        self.events = []

    def addSuccess(self, test: Any) -> None:
        super().addSuccess(test)
        self.events.append({"kind": "success"})

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self.events.append(self._err("failure", err))

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self.events.append(self._err("error", err))

    def addSkip(self, test: Any, reason: str) -> None:
        super().addSkip(test, reason)
        self.events.append({"kind": "skip", "reason": str(reason)})

    def addExpectedFailure(self, test: Any, err: Any, todo: Any = None) -> None:
        super().addExpectedFailure(test, err, todo)
        event = self._err("xfail", err)
        event["todo"] = str(getattr(todo, "reason", todo or ""))
        self.events.append(event)

    def addUnexpectedSuccess(self, test: Any, todo: Any = None) -> None:
        super().addUnexpectedSuccess(test, todo)
        self.events.append(
            {"kind": "uxsuccess", "todo": str(getattr(todo, "reason", todo or ""))}
        )

    def stopTest(self, test: Any) -> None:
        super().stopTest(test)
        message = {"i": self.index, "id": test.id(), "events": self.events}
        if test is not self.current:
            # A class or module fixture's report, not the assigned test's.
            message["extra"] = True
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()


def _reportNotRun(result: _RecordingResult, test: Any) -> None:
    """
    A test whose class or module set-up failed still owes the main process
    an answer: report it as skipped.
    """
    result.startTest(test)
    result.addSkip(test, "its setUpClass or setUpModule failed")
    result.stopTest(test)


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run a worker.

    :param argv: ``--cwd DIR [--reactor NAME] [--logfile NAME] -- names...``
    :return: the exit status.
    """
    parser = argparse.ArgumentParser(prog="torsion.trial._worker")
    parser.add_argument("--cwd", required=True)
    parser.add_argument("--reactor")
    parser.add_argument("--logfile", default="test.log")
    parser.add_argument("--coverage", action="store_true")
    parser.add_argument("names", nargs="*")
    options = parser.parse_args(sys.argv[1:] if argv is None else argv)

    # The protocol owns the original stdin/stdout; what tests print goes to
    # files in the worker's directory instead.
    protoIn = os.fdopen(os.dup(0), "r", encoding="utf-8")
    protoOut = os.fdopen(os.dup(1), "w", encoding="utf-8")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    outFd = os.open("stdout.log", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(outFd, 1)
    os.close(outFd)
    sys.stdout = open(1, "w", encoding="utf-8", closefd=False, buffering=1)  # noqa: SIM115

    workDir = os.getcwd()
    if options.cwd not in sys.path:
        sys.path.insert(0, options.cwd)

    cov: Any = None
    if options.coverage:
        import coverage  # type: ignore[import-not-found]

        cov = coverage.Coverage(
            data_file=os.path.join(os.path.dirname(workDir), "coverage"),
            data_suffix=True,
        )
        cov.start()

    if options.reactor:
        from torsion.trial.runner import installReactorByName

        installReactorByName(options.reactor)

    from torsion.trial import unittest as _unittest
    from torsion.trial.runner import loadTests, startLogFile

    os.chdir(options.cwd)
    tests = loadTests(options.names)
    os.chdir(workDir)
    _unittest.setTempRoot(workDir)
    logStream, _ = startLogFile(os.path.join(workDir, options.logfile))
    gc.collect()
    gc.freeze()
    util.freezeSurvivorsAfterCollection(True)
    result = _RecordingResult(protoOut)
    ids = [t.id() for t in tests]
    protoOut.write(json.dumps({"ready": len(tests), "ids": ids}) + "\n")
    protoOut.flush()
    from torsion.trial.runner import ClassFixtures

    fixtures = ClassFixtures(result)
    try:
        for line in protoIn:
            command = line.strip()
            if command == "quit" or not command:
                break
            result.index = int(command)
            test = result.current = tests[result.index]
            if fixtures.enter(test):
                test(result)
            else:
                _reportNotRun(result, test)
    finally:
        fixtures.close()
        logStream.close()
        if cov is not None:
            cov.stop()
            cov.save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
