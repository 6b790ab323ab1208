"""
Each reporter reports every outcome of the sample suite as such: in-process
runs with the reporters writing to a buffer.
"""

import importlib.util
import io
import pathlib
import re
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from typing import Any

import pytest

from torsion.trial import reporter, runner


def _run(
    suites: SimpleNamespace, name: str, **kwargs: Any
) -> tuple[reporter.Reporter, str]:
    tests = runner.TestLoader().loadFile(str(suites.outcomes))
    assert len(tests) == 8
    stream = io.StringIO()
    factory, _ = reporter.reporters[name]
    if name == "junitxml":
        kwargs["xmlPath"] = str(suites.dir / "junit.xml")
    result = factory(stream=stream, **kwargs)
    result.startTestRun()
    runner.TrialRunner(result).run(tests)
    result.stopTestRun()
    result.done()
    return result, stream.getvalue()


@pytest.mark.parametrize("name", ["tree", "verbose", "text", "summary", "junitxml"])
def test_summaryLine(suites: SimpleNamespace, name: str) -> None:
    """
    Every reporter ends with the summary line, with ``N passed, N failed``.
    """
    result, output = _run(suites, name)
    assert output.rstrip().splitlines()[-1] == suites.summary
    assert "1 passed, 1 failed" in output
    assert not result.wasSuccessful()
    assert result.testsRun == 8


def test_counts(suites: SimpleNamespace) -> None:
    """
    The result model counts each test once, under its outcome.
    """
    result, _ = _run(suites, "text")
    assert result.counts == {
        "OK": 1,
        "FAIL": 1,
        "ERROR": 4,
        "SKIPPED": 1,
        "TODO": 1,
        "SUCCESS!?!": 0,
    }
    assert [t.id().rsplit(".", 1)[1] for t, _ in result.failures] == ["test_fail"]
    assert sorted(t.id().rsplit(".", 1)[1] for t, _ in result.errors) == [
        "test_dirty",
        "test_error",
        "test_logged",
        "test_timeout",
    ]
    assert [reason for _, reason in result.skips] == ["skip reason text"]
    assert [str(todo) for _, _, todo in result.expectedFailures] == ["todo reason text"]


def test_tree(suites: SimpleNamespace) -> None:
    """
    The tree reporter indents tests under their module and class, with each
    outcome at the end of the line, and shows the tracebacks.
    """
    _, output = _run(suites, "tree", colour=False)
    lines = output.splitlines()
    assert lines[0] == suites.outcomesModule
    assert lines[1] == "  Outcomes"
    for method, status in suites.status.items():
        matching = [line for line in lines if line.startswith(f"    {method} ...")]
        assert len(matching) == 1, method
        assert matching[0].endswith(f"[{status}]")
    for text in ("failure text 1234", "error text 5678", "logged text 9012"):
        assert text in output
    assert "timed out after" in output
    assert "Reactor was unclean" in output
    assert "test_dirty" in output.split("Reactor was unclean", 1)[1]


def test_treeColour(suites: SimpleNamespace) -> None:
    """
    With colour, outcomes are wrapped in ANSI colour codes.
    """
    _, output = _run(suites, "tree", colour=True)
    assert "[\x1b[32mOK\x1b[0m]" in output
    assert "[\x1b[31mFAIL\x1b[0m]" in output


def test_verbose(suites: SimpleNamespace) -> None:
    """
    The verbose reporter writes one ``id ... [STATUS]`` line per test.
    """
    _, output = _run(suites, "verbose")
    for method, status in suites.status.items():
        assert f"{suites.outcomesModule}.Outcomes.{method} ... [{status}]" in output


def test_text(suites: SimpleNamespace) -> None:
    """
    The text reporter writes one character per test, in order.
    """
    _, output = _run(suites, "text")
    assert output.splitlines()[0] == "EEFE.SET"


def test_summaryReporter(suites: SimpleNamespace) -> None:
    """
    The summary reporter names only the problems, then the summary.
    """
    _, output = _run(suites, "summary")
    assert "Traceback" not in output
    assert re.search(r"FAIL: \S+\.Outcomes\.test_fail", output)
    for method in ("test_dirty", "test_error", "test_logged", "test_timeout"):
        assert re.search(rf"ERROR: \S+\.Outcomes\.{method}", output)
    assert "test_pass" not in output


def test_junitxml(suites: SimpleNamespace) -> None:
    """
    The junitxml reporter writes valid JUnit XML with one testcase per test
    and the right child element for each outcome.
    """
    _run(suites, "junitxml")
    root = ET.parse(suites.dir / "junit.xml").getroot()
    assert root.tag == "testsuites"
    suite = root.find("testsuite")
    assert suite is not None
    assert suite.get("tests") == "8"
    assert suite.get("failures") == "1"
    assert suite.get("errors") == "4"
    assert suite.get("skipped") == "2"
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert set(cases) == set(suites.status)
    expected = {
        "OK": None,
        "FAIL": "failure",
        "ERROR": "error",
        "SKIPPED": "skipped",
        "TODO": "skipped",
    }
    for method, status in suites.status.items():
        children = [child.tag for child in cases[method]]
        tag = expected[status]
        assert children == ([tag] if tag else []), method
        assert cases[method].get("classname") == f"{suites.outcomesModule}.Outcomes"
    failure = cases["test_fail"].find("failure")
    assert failure is not None
    assert "failure text 1234" in (failure.get("message") or "")
    assert failure.get("type") == "torsion.trial.unittest.FailTest"


def test_junitxmlEscapes(tmp_path: pathlib.Path) -> None:
    """
    Control characters in messages do not make the XML invalid.
    """
    from torsion.trial import unittest

    class Nasty(unittest.SynchronousTestCase):
        def test_it(self) -> None:
            self.fail("bad \x00\x07 <&> chars")

    path = tmp_path / "out.xml"
    result = reporter.JUnitXMLReporter(stream=io.StringIO(), xmlPath=str(path))
    Nasty("test_it").run(result)
    result.done()
    failure = ET.parse(path).getroot().find("testsuite/testcase/failure")
    assert failure is not None
    assert "<&>" in (failure.get("message") or "")


def test_subunitMissing() -> None:
    """
    Without python-subunit the subunit reporter cannot be made, and says
    what to install.
    """
    if importlib.util.find_spec("subunit") is None:
        with pytest.raises(reporter.ReporterUnavailable, match="python-subunit"):
            reporter.SubunitReporter()
    else:  # pragma: no cover - depends on the environment
        reporter.SubunitReporter(binaryStream=io.BytesIO())


def test_unexpectedSuccess() -> None:
    """
    A ``todo`` test that passes is reported as an unexpected success and
    fails the run.
    """
    from torsion.trial import unittest

    class Surprise(unittest.SynchronousTestCase):
        todo = "should fail"

        def test_it(self) -> None:
            pass

    stream = io.StringIO()
    result = reporter.TreeReporter(stream=stream, colour=False)
    Surprise("test_it").run(result)
    result.done()
    output = stream.getvalue()
    assert "[SUCCESS!?!]" in output
    assert output.rstrip().endswith(
        "FAILED (0 passed, 0 failed, 1 unexpected successes)"
    )
    assert result.unexpectedSuccesses[0][1].reason == "should fail"


def test_passedRun() -> None:
    """
    A run without problems says PASSED.
    """
    from torsion.trial import unittest

    class Fine(unittest.SynchronousTestCase):
        def test_it(self) -> None:
            pass

    stream = io.StringIO()
    result = reporter.TextReporter(stream=stream)
    Fine("test_it").run(result)
    result.done()
    assert result.wasSuccessful()
    assert stream.getvalue().rstrip().endswith("PASSED (1 passed, 0 failed)")


def test_realtime() -> None:
    """
    With ``realtime`` a problem's traceback is written as it happens.
    """
    from torsion.trial import unittest

    class Broken(unittest.SynchronousTestCase):
        def test_it(self) -> None:
            raise KeyError("now")

    stream = io.StringIO()
    result = reporter.VerboseTextReporter(stream=stream, realtime=True)
    Broken("test_it").run(result)
    assert "KeyError: 'now'" in stream.getvalue()
    before = stream.getvalue()
    result.done()
    assert before.count("KeyError") == stream.getvalue().count("KeyError")


def test_subunitStream(
    suites: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    The subunit reporter sends an ``inprogress`` then a final status per
    test (with the traceback attached to problems) to subunit's v2 writer;
    here a stand-in records what it is given.
    """
    import sys
    import types

    calls: list[dict[str, Any]] = []

    class StreamResultToBytes:
        def __init__(self, stream: io.BytesIO) -> None:
            self.stream = stream

        def status(self, **kwargs: Any) -> None:
            calls.append(kwargs)

    fake = types.ModuleType("subunit")
    setattr(fake, "StreamResultToBytes", StreamResultToBytes)  # noqa: B010
    monkeypatch.setitem(sys.modules, "subunit", fake)
    tests = runner.TestLoader().loadFile(str(suites.outcomes))
    stream = io.StringIO()
    result = reporter.SubunitReporter(stream=stream, binaryStream=io.BytesIO())
    runner.TrialRunner(result).run(tests)
    result.done()
    assert stream.getvalue().rstrip().endswith(suites.summary)
    final = {
        c["test_id"].rsplit(".", 1)[1]: c["test_status"]
        for c in calls
        if c.get("test_status") not in (None, "inprogress")
    }
    assert final == {
        "test_dirty": "fail",
        "test_error": "fail",
        "test_fail": "fail",
        "test_logged": "fail",
        "test_pass": "success",
        "test_skip": "skip",
        "test_timeout": "fail",
        "test_todo": "xfail",
    }
    started = [c for c in calls if c.get("test_status") == "inprogress"]
    assert len(started) == 8
    attachments = [c for c in calls if c.get("file_name") == "traceback"]
    assert any(b"error text 5678" in c["file_bytes"] for c in attachments)
