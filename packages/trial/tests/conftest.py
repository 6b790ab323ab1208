"""
Fixtures for torsion-trial's own tests: sample suites written to temporary
files (so that pytest never collects them here) and ways to run them.
"""

import os
import pathlib
import subprocess
import sys
from types import SimpleNamespace

import pytest

#: One test per outcome. Sorted by name: dirty, error, fail, logged, pass,
#: skip, timeout, todo.
OUTCOMES = """
from torsion.internet import defer
from torsion.python import log
from torsion.trial import unittest


class Outcomes(unittest.TestCase):
    def test_pass(self):
        from torsion.internet import reactor

        d = defer.Deferred()
        reactor.callLater(0, d.callback, None)
        return d

    def test_fail(self):
        self.fail("failure text 1234")

    def test_error(self):
        raise RuntimeError("error text 5678")

    def test_skip(self):
        raise unittest.SkipTest("skip reason text")

    def test_todo(self):
        self.fail("not done")

    test_todo.todo = "todo reason text"

    def test_timeout(self):
        return defer.Deferred()

    test_timeout.timeout = 0.1

    def test_dirty(self):
        from torsion.internet import reactor

        reactor.callLater(3600, lambda: None)

    def test_logged(self):
        log.err(ValueError("logged text 9012"), "while testing")
"""

#: How each test of ``OUTCOMES`` is reported, by method name.
OUTCOME_STATUS = {
    "test_dirty": "ERROR",
    "test_error": "ERROR",
    "test_fail": "FAIL",
    "test_logged": "ERROR",
    "test_pass": "OK",
    "test_skip": "SKIPPED",
    "test_timeout": "ERROR",
    "test_todo": "TODO",
}

OUTCOME_SUMMARY = (
    "FAILED (1 passed, 1 failed, 1 skipped, 4 errors, 1 expected failures)"
)

#: Tests that only pass.
PASSING = """
from torsion.trial import unittest


class Passing(unittest.SynchronousTestCase):
    def test_a(self):
        pass

    def test_b(self):
        pass

    def test_c(self):
        pass
"""


def _write(directory: pathlib.Path, name: str, source: str) -> pathlib.Path:
    path = directory / f"{name}.py"
    path.write_text(source)
    return path


@pytest.fixture
def suites(tmp_path: pathlib.Path) -> SimpleNamespace:
    """
    The sample suites, written as ``test_*.py`` files in a fresh directory
    (``suites.dir``), with their expected outcomes.
    """
    unique = tmp_path.name.replace("-", "_")
    return SimpleNamespace(
        dir=tmp_path,
        outcomes=_write(tmp_path, f"test_outcomes_{unique}", OUTCOMES),
        outcomesModule=f"test_outcomes_{unique}",
        passing=_write(tmp_path, f"test_passing_{unique}", PASSING),
        status=OUTCOME_STATUS,
        summary=OUTCOME_SUMMARY,
    )


def runTrial(
    *args: str,
    cwd: pathlib.Path,
    script: bool = False,
    timeout: float = 120,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    """
    Run torsion-trial as a real subprocess and return what it did.
    """
    if script:
        command = [os.path.join(os.path.dirname(sys.executable), "torsion-trial")]
    else:
        command = [sys.executable, "-m", "torsion.trial"]
    env = dict(os.environ)
    env.pop("TERM", None)
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
    )


@pytest.fixture
def trial() -> object:
    """
    ``runTrial``: run torsion-trial in a subprocess.
    """
    return runTrial
