"""
The ``torsion-trial`` command, run as a real subprocess.
"""

import fcntl
import importlib.util
import os
import pathlib
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from torsion.trial import runner

#: The ``trial`` fixture: ``runTrial`` of the conftest.
RunTrial = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize("name", ["tree", "verbose", "text", "summary", "junitxml"])
def test_reportersEndWithSummary(
    suites: SimpleNamespace, trial: RunTrial, name: str
) -> None:
    """
    Under every reporter the run of the sample suite ends with the summary
    line and exits with status 1.
    """
    done = trial("--reporter", name, str(suites.outcomes), cwd=suites.dir)
    assert done.returncode == 1, done.stderr
    assert done.stdout.rstrip().splitlines()[-1] == suites.summary


def test_script(suites: SimpleNamespace, trial: RunTrial) -> None:
    """
    The installed ``torsion-trial`` script runs tests and exits 0 when they
    pass.
    """
    done = trial(str(suites.passing), cwd=suites.dir, script=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("PASSED (3 passed, 0 failed)")


def test_treeOutcomes(suites: SimpleNamespace, trial: RunTrial) -> None:
    """
    The default (tree) reporter shows each test's outcome.
    """
    done = trial(str(suites.outcomes), cwd=suites.dir)
    for method, status in suites.status.items():
        assert re.search(rf"^    {method} \.\.\. +\[{status}\]$", done.stdout, re.M), (
            method
        )


def test_junitxmlFile(suites: SimpleNamespace, trial: RunTrial) -> None:
    """
    ``--junit-xml`` chooses where the XML goes.
    """
    path = suites.dir / "report.xml"
    done = trial(
        "--reporter",
        "junitxml",
        "--junit-xml",
        str(path),
        str(suites.outcomes),
        cwd=suites.dir,
    )
    assert done.returncode == 1
    assert len(ET.parse(path).getroot().findall("testsuite/testcase")) == 8


def test_subunitMissing(suites: SimpleNamespace, trial: RunTrial) -> None:
    """
    The subunit reporter without python-subunit is a clear usage error.
    """
    if importlib.util.find_spec("subunit") is None:
        done = trial("--reporter", "subunit", str(suites.passing), cwd=suites.dir)
        assert done.returncode == 2
        assert "python-subunit" in done.stderr
    else:  # pragma: no cover - depends on the environment
        done = trial("--reporter", "subunit", str(suites.passing), cwd=suites.dir)
        assert done.returncode == 0


def test_coverageMissing(suites: SimpleNamespace, trial: RunTrial) -> None:
    """
    ``--coverage`` without coverage.py is a clear usage error.
    """
    if importlib.util.find_spec("coverage") is None:
        done = trial("--coverage", str(suites.passing), cwd=suites.dir)
        assert done.returncode == 2
        assert "coverage" in done.stderr
    else:  # pragma: no cover - depends on the environment
        done = trial("--coverage", str(suites.passing), cwd=suites.dir)
        assert done.returncode == 0


def test_coverageRuns(
    suites: SimpleNamespace, trial: RunTrial, monkeypatch: pytest.MonkeyPatch
) -> None:
    """
    With coverage.py importable, ``--coverage`` starts it before the tests
    (here a stand-in module records the calls) and reports at the end.
    """
    stub = suites.dir / "stub"
    stub.mkdir()
    (stub / "coverage.py").write_text(
        "import os\n"
        "LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'calls')\n"
        "def _log(what):\n"
        "    with open(LOG, 'a') as f:\n"
        "        f.write(what + '\\n')\n"
        "class Coverage:\n"
        "    def __init__(self, data_file=None, data_suffix=None):\n"
        "        _log('init ' + os.path.basename(data_file))\n"
        "    def start(self): _log('start')\n"
        "    def stop(self): _log('stop')\n"
        "    def save(self): _log('save')\n"
        "    def combine(self): _log('combine')\n"
        "    def report(self, file=None):\n"
        "        _log('report')\n"
        "        file.write('COVERAGE REPORT\\n')\n"
    )
    monkeypatch.setenv("PYTHONPATH", str(stub))
    done = trial("--coverage", str(suites.passing), cwd=suites.dir)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "COVERAGE REPORT" in done.stdout
    calls = (stub / "calls").read_text().split()
    assert calls == ["init", "coverage", "start", "stop", "save", "combine", "report"]


def test_helpReporters(tmp_path: pathlib.Path, trial: RunTrial) -> None:
    """
    ``--help-reporters`` lists every reporter.
    """
    done = trial("--help-reporters", cwd=tmp_path)
    assert done.returncode == 0
    for name in ("tree", "verbose", "text", "summary", "junitxml", "subunit"):
        assert re.search(rf"^  {name} ", done.stdout, re.M)


@pytest.mark.parametrize("script", [True, False], ids=["script", "python-m"])
@pytest.mark.parametrize("arguments", [["--help"], ["--help-reporters"]])
def test_readerGoneAway(
    suites: SimpleNamespace, script: bool, arguments: list[str]
) -> None:
    """
    ``torsion-trial --help | head -1``: when the reader of the output has
    gone, the runner ends as if killed by ``SIGPIPE``, without a traceback.
    """
    import signal
    import subprocess

    if script:
        command = [os.path.join(os.path.dirname(sys.executable), "torsion-trial")]
    else:
        command = [sys.executable, "-m", "torsion.trial"]
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run(
            [*command, *arguments],
            cwd=suites.dir,
            stdout=writer,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=120,
        )
    finally:
        os.close(writer)
    assert (done.returncode, done.stderr) == (128 + signal.SIGPIPE, "")


def test_unknownReporter(suites: SimpleNamespace, trial: RunTrial) -> None:
    done = trial("--reporter", "nope", str(suites.passing), cwd=suites.dir)
    assert done.returncode == 2
    assert "unknown reporter" in done.stderr


def test_dottedNames(suites: SimpleNamespace, trial: RunTrial) -> None:
    """
    Tests can be named by module, class or method.
    """
    module = suites.outcomesModule
    done = trial(
        "--reporter", "verbose", f"{module}.Outcomes.test_pass", cwd=suites.dir
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PASSED (1 passed, 0 failed)" in done.stdout
    done = trial("--reporter", "summary", f"{module}.Outcomes", cwd=suites.dir)
    assert suites.summary in done.stdout
    done = trial("--reporter", "summary", module, cwd=suites.dir)
    assert suites.summary in done.stdout


def test_package(tmp_path: pathlib.Path, trial: RunTrial) -> None:
    """
    A package is searched recursively for ``test_*`` modules.
    """
    pkg = tmp_path / "mypkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    body = (
        "from torsion.trial import unittest\n"
        "class T(unittest.SynchronousTestCase):\n"
        "    def test_x(self): pass\n"
    )
    (pkg / "test_top.py").write_text(body)
    (pkg / "sub" / "test_deep.py").write_text(body)
    (pkg / "helper.py").write_text(body)
    done = trial("--reporter", "verbose", "mypkg", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "mypkg.sub.test_deep.T.test_x ... [OK]" in done.stdout
    assert "mypkg.test_top.T.test_x ... [OK]" in done.stdout
    assert "helper" not in done.stdout
    done = trial("--reporter", "verbose", str(pkg), cwd=tmp_path)
    assert "PASSED (2 passed, 0 failed)" in done.stdout


def test_importError(tmp_path: pathlib.Path, trial: RunTrial) -> None:
    """
    A module that fails to import is reported as an error, not a crash.
    """
    (tmp_path / "test_broken.py").write_text("import no_such_module_here\n")
    done = trial(str(tmp_path / "test_broken.py"), cwd=tmp_path)
    assert done.returncode == 1
    assert "no_such_module_here" in done.stdout
    assert "FAILED (0 passed, 0 failed, 1 errors)" in done.stdout
    done = trial("no_such_package_anywhere", cwd=tmp_path)
    assert done.returncode == 1
    assert "No module named 'no_such_package_anywhere'" in done.stdout


def test_exitfirst(suites: SimpleNamespace, trial: RunTrial) -> None:
    """
    ``--exitfirst`` stops at the first failure or error.
    """
    done = trial(
        "--exitfirst", "--reporter", "summary", str(suites.outcomes), cwd=suites.dir
    )
    assert done.returncode == 1
    assert "Ran 1 tests" in done.stdout


def test_randomWithoutSeed(suites: SimpleNamespace, trial: RunTrial) -> None:
    """
    ``--random`` alone picks a seed and prints it, so the order can be
    reproduced.
    """
    done = trial(
        "--random", "--reporter", "summary", str(suites.passing), cwd=suites.dir
    )
    assert done.returncode == 0, done.stderr
    assert re.search(r"Running tests shuffled with seed \d+", done.stdout)
    done = trial("--random=x", str(suites.passing), cwd=suites.dir)
    assert done.returncode == 2
    assert "integer seed" in done.stderr


def test_usageErrors(tmp_path: pathlib.Path, trial: RunTrial) -> None:
    """
    A bad command line is a usage error (status 2) with a clear message.
    """
    done = trial(cwd=tmp_path)
    assert done.returncode == 2
    assert "name at least one test" in done.stderr
    done = trial("--no-such-option", "x", cwd=tmp_path)
    assert done.returncode == 2
    done = trial("--help", cwd=tmp_path)
    assert done.returncode == 0
    assert "--jobs" in done.stdout and "--reactor" in done.stdout


def test_random(suites: SimpleNamespace, trial: RunTrial) -> None:
    """
    ``--random SEED`` shuffles reproducibly and says which seed it used.
    """
    orders = []
    for _ in range(2):
        done = trial(
            "--random",
            "7",
            "--reporter",
            "verbose",
            str(suites.outcomes),
            cwd=suites.dir,
        )
        assert "seed 7" in done.stdout
        orders.append(re.findall(r"Outcomes\.(test_\w+) \.\.\.", done.stdout))
    assert orders[0] == orders[1]
    assert sorted(orders[0]) == sorted(suites.status)
    assert orders[0] != sorted(orders[0])


def test_untilFailure(tmp_path: pathlib.Path, trial: RunTrial) -> None:
    """
    ``--until-failure`` repeats the run until a test fails.
    """
    (tmp_path / "test_flaky.py").write_text(
        "import os\n"
        "from torsion.trial import unittest\n"
        "class T(unittest.SynchronousTestCase):\n"
        "    def test_third(self):\n"
        "        path = os.path.join(os.path.dirname(__file__), 'count')\n"
        "        n = int(open(path).read()) if os.path.exists(path) else 0\n"
        "        open(path, 'w').write(str(n + 1))\n"
        "        self.assertLess(n, 2)\n"
    )
    done = trial("--until-failure", str(tmp_path / "test_flaky.py"), cwd=tmp_path)
    assert done.returncode == 1
    assert "Test Pass 3" in done.stdout
    assert "Test Pass 4" not in done.stdout
    assert (tmp_path / "count").read_text() == "3"


def test_tempDirectoryAndLogfile(tmp_path: pathlib.Path, trial: RunTrial) -> None:
    """
    Tests run inside ``_trial_temp``; what they log goes to its
    ``test.log``; ``mktemp`` paths are under it.
    """
    (tmp_path / "test_where.py").write_text(
        "import os\n"
        "from torsion.python import log\n"
        "from torsion.trial import unittest\n"
        "class T(unittest.SynchronousTestCase):\n"
        "    def test_it(self):\n"
        "        log.msg('hello from the test 4321')\n"
        "        open('cwd.txt', 'w').write(os.getcwd())\n"
        "        open('mktemp.txt', 'w').write(self.mktemp())\n"
    )
    done = trial(str(tmp_path / "test_where.py"), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    temp = tmp_path / "_trial_temp"
    assert (temp / "cwd.txt").read_text() == str(temp)
    assert (temp / "mktemp.txt").read_text().startswith(str(temp) + os.sep)
    assert "hello from the test 4321" in (temp / "test.log").read_text()


def test_tempDirectoryLocked(tmp_path: pathlib.Path, trial: RunTrial) -> None:
    """
    While one run holds ``_trial_temp``, another uses ``_trial_temp-1``.
    """
    (tmp_path / "test_where.py").write_text(
        "import os\n"
        "from torsion.trial import unittest\n"
        "class T(unittest.SynchronousTestCase):\n"
        "    def test_it(self):\n"
        "        here = os.path.dirname(__file__)\n"
        "        open(os.path.join(here, 'cwd.txt'), 'w').write(os.getcwd())\n"
    )
    path, fd = runner.lockTempDirectory(str(tmp_path / "_trial_temp"))
    try:
        assert path == str(tmp_path / "_trial_temp")
        done = trial(str(tmp_path / "test_where.py"), cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        assert (tmp_path / "cwd.txt").read_text() == str(tmp_path / "_trial_temp-1")
    finally:
        os.close(fd)


def test_lockReleased(tmp_path: pathlib.Path) -> None:
    """
    Once released, the directory can be locked again (and is emptied).
    """
    path, fd = runner.lockTempDirectory(str(tmp_path / "t"))
    (tmp_path / "t" / "leftover").write_text("x")
    other, fd2 = runner.lockTempDirectory(str(tmp_path / "t"))
    assert other == str(tmp_path / "t-1")
    os.close(fd)
    os.close(fd2)
    again, fd3 = runner.lockTempDirectory(str(tmp_path / "t"))
    assert again == path
    assert not (tmp_path / "t" / "leftover").exists()
    with open(path + ".lock") as f, pytest.raises(BlockingIOError):
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    os.close(fd3)


@pytest.mark.parametrize("name", ["select", "poll", "epoll", "asyncio"])
def test_reactorOption(tmp_path: pathlib.Path, trial: RunTrial, name: str) -> None:
    """
    ``--reactor NAME`` installs that reactor; tests wait on it, time out,
    and have leftover calls and ports reported and cleaned up on it.
    """
    (tmp_path / "test_which.py").write_text(
        "from torsion.internet import defer, protocol, threads\n"
        "from torsion.trial import unittest\n"
        "class T(unittest.TestCase):\n"
        "    def test_a_wait(self):\n"
        "        from torsion.internet import reactor\n"
        "        open('reactor.txt', 'w').write(type(reactor).__module__)\n"
        "        d = defer.Deferred()\n"
        "        reactor.callLater(0.01, d.callback, None)\n"
        "        return d\n"
        "    def test_b_thread(self):\n"
        "        return threads.deferToThread(lambda: 1)\n"
        "    def test_c_timeout(self):\n"
        "        return defer.Deferred()\n"
        "    test_c_timeout.timeout = 0.05\n"
        "    def test_d_dirtyPort(self):\n"
        "        from torsion.internet import reactor\n"
        "        reactor.listenTCP(0, protocol.Factory(), interface='127.0.0.1')\n"
        "        reactor.callLater(100, lambda: None)\n"
        "    def test_e_cleanAgain(self):\n"
        "        from torsion.internet import reactor\n"
        "        f = protocol.Factory()\n"
        "        port = reactor.listenTCP(0, f, interface='127.0.0.1')\n"
        "        return port.stopListening()\n"
    )
    done = trial(
        "--reactor",
        name,
        "--reporter",
        "verbose",
        str(tmp_path / "test_which.py"),
        cwd=tmp_path,
    )
    if sys.platform != "linux" and name == "epoll":  # pragma: no cover
        assert done.returncode == 2
        return
    used = (tmp_path / "_trial_temp" / "reactor.txt").read_text()
    assert used == f"torsion.internet.{name}reactor", done.stderr
    for test, status in [
        ("test_a_wait", "OK"),
        ("test_b_thread", "OK"),
        ("test_c_timeout", "ERROR"),
        ("test_d_dirtyPort", "ERROR"),
        ("test_e_cleanAgain", "OK"),
    ]:
        assert f"test_which.T.{test} ... [{status}]" in done.stdout
    assert "FAILED (3 passed, 0 failed, 2 errors)" in done.stdout
    assert "Selectables:" in done.stdout
    assert "test_d_dirtyPort" in done.stdout.split("DelayedCalls")[1]


def test_unknownReactor(suites: SimpleNamespace, trial: RunTrial) -> None:
    done = trial("--reactor", "nonesuch", str(suites.passing), cwd=suites.dir)
    assert done.returncode == 2
    assert "nonesuch" in done.stderr


def test_jobs(suites: SimpleNamespace, trial: RunTrial) -> None:
    """
    ``--jobs 2`` runs the suite in two workers and merges their results and
    logs.
    """
    done = trial(
        "--jobs", "2", "--reporter", "verbose", str(suites.outcomes), cwd=suites.dir
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.rstrip().splitlines()[-1] == suites.summary
    for method, status in suites.status.items():
        assert f"Outcomes.{method} ... [{status}]" in done.stdout
    log = (suites.dir / "_trial_temp" / "test.log").read_text()
    assert "logged text 9012" in log
    assert "worker 0" in log and "worker 1" in log


def test_jobsWorkerCrash(tmp_path: pathlib.Path, trial: RunTrial) -> None:
    """
    A worker that dies has its test reported as an error and is replaced;
    the other tests still run.
    """
    (tmp_path / "test_crash.py").write_text(
        "import os\n"
        "from torsion.trial import unittest\n"
        "class T(unittest.SynchronousTestCase):\n"
        "    def test_a(self): pass\n"
        "    def test_b_crash(self): os._exit(17)\n"
        "    def test_c(self): pass\n"
        "    def test_d(self): pass\n"
        "    def test_e(self): pass\n"
    )
    done = trial(
        "--jobs",
        "2",
        "--reporter",
        "verbose",
        str(tmp_path / "test_crash.py"),
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "test_crash.T.test_b_crash ... [ERROR]" in done.stdout
    assert "exited with status 17" in done.stdout
    assert "FAILED (4 passed, 0 failed, 1 errors)" in done.stdout


def test_debug(tmp_path: pathlib.Path, trial: RunTrial) -> None:
    """
    ``--debug`` opens pdb post-mortem in the failing test's frame.
    """
    (tmp_path / "test_dbg.py").write_text(
        "from torsion.trial import unittest\n"
        "class T(unittest.SynchronousTestCase):\n"
        "    def test_it(self):\n"
        "        secret = 6 * 7\n"
        "        self.assertEqual(secret, 0)\n"
    )
    done = trial(
        "--debug", str(tmp_path / "test_dbg.py"), cwd=tmp_path, stdin="p secret\nc\n"
    )
    assert done.returncode == 1
    assert "(Pdb)" in done.stdout
    assert "\n42\n" in done.stdout.replace("(Pdb) ", "\n")


def test_interrupted(tmp_path: pathlib.Path, trial: RunTrial) -> None:
    """
    Ctrl-C (SIGINT) during a test stops the run, reports what ran, and
    fails it; the reactor's own handlers do not swallow it.
    """
    (tmp_path / "test_int.py").write_text(
        "import os, signal, threading\n"
        "from torsion.internet import defer\n"
        "from torsion.trial import unittest\n"
        "class T(unittest.TestCase):\n"
        "    def test_a(self):\n"
        "        pass\n"
        "    def test_b(self):\n"
        "        pid = os.getpid()\n"
        "        threading.Timer(0.05, os.kill, (pid, signal.SIGINT)).start()\n"
        "        return defer.Deferred()\n"
        "    def test_c(self):\n"
        "        pass\n"
    )
    done = trial("--reporter", "verbose", str(tmp_path / "test_int.py"), cwd=tmp_path)
    assert done.returncode == 1
    assert "[interrupted]" in done.stdout
    assert "test_int.T.test_a ... [OK]" in done.stdout
    assert "test_c" not in done.stdout
    assert "test_int.T.test_b ... [ERROR]" in done.stdout
    assert "FAILED (1 passed, 0 failed, 1 errors)" in done.stdout
    assert "KeyboardInterrupt" in done.stdout


CLASS_FIXTURES = (
    "import os\n"
    "from torsion.trial import unittest\n"
    "LOG = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'log')\n"
    "def note(what):\n"
    "    with open(LOG, 'a') as f:\n"
    "        f.write(what + '\\n')\n"
    "def setUpModule():\n"
    "    note('setUpModule')\n"
    "def tearDownModule():\n"
    "    note('tearDownModule')\n"
    "class A(unittest.SynchronousTestCase):\n"
    "    @classmethod\n"
    "    def setUpClass(cls):\n"
    "        note('setUpClass A')\n"
    "        cls.shared = 'ready'\n"
    "    @classmethod\n"
    "    def tearDownClass(cls):\n"
    "        note('tearDownClass A')\n"
    "    def test_1(self):\n"
    "        self.assertEqual(self.shared, 'ready')\n"
    "    def test_2(self):\n"
    "        self.assertEqual(self.shared, 'ready')\n"
    "class B(unittest.SynchronousTestCase):\n"
    "    @classmethod\n"
    "    def setUpClass(cls):\n"
    "        raise RuntimeError('class set-up broke')\n"
    "    def test_1(self):\n"
    "        pass\n"
)


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_classAndModuleFixtures(
    tmp_path: pathlib.Path, trial: RunTrial, jobs: str
) -> None:
    """
    ``setUpClass``/``tearDownClass`` and ``setUpModule``/``tearDownModule``
    run once around their tests; a failing ``setUpClass`` is an error and
    its tests are skipped.
    """
    (tmp_path / "test_fix.py").write_text(CLASS_FIXTURES)
    done = trial(
        "--jobs",
        jobs,
        "--reporter",
        "summary",
        str(tmp_path / "test_fix.py"),
        cwd=tmp_path,
    )
    assert done.returncode == 1
    assert "FAILED (2 passed, 0 failed, 1 skipped, 1 errors)" in done.stdout
    assert "ERROR: setUpClass (test_fix.B)" in done.stdout
    log = (tmp_path / "log").read_text().split()
    if jobs == "1":
        assert log == [
            "setUpModule",
            "setUpClass",
            "A",
            "tearDownClass",
            "A",
            "tearDownModule",
        ]
    else:
        # Each worker sets up what its tests need, and tears it down.
        assert log.count("setUpModule") == log.count("tearDownModule") >= 1
        assert log.count("setUpClass") == log.count("tearDownClass") >= 1


def test_unhandledCycleAfterFlush(tmp_path: pathlib.Path, trial: RunTrial) -> None:
    """
    A failed Deferred kept in a reference cycle and dropped after the test
    flushed logged errors is still caught by the end-of-test collection.
    """
    (tmp_path / "test_cycle.py").write_text(
        "from torsion.internet import defer\n"
        "from torsion.trial import unittest\n"
        "class Holder:\n"
        "    pass\n"
        "class T(unittest.SynchronousTestCase):\n"
        "    def test_it(self):\n"
        "        h = Holder()\n"
        "        h.me = h\n"
        "        h.d = defer.fail(KeyError('in a cycle'))\n"
        "        self.flushLoggedErrors()\n"
        "        del h\n"
    )
    done = trial("--reporter", "text", str(tmp_path / "test_cycle.py"), cwd=tmp_path)
    assert done.returncode == 1
    assert "KeyError: 'in a cycle'" in done.stdout
    assert "FAILED (0 passed, 0 failed, 1 errors)" in done.stdout


def test_badJobs(suites: SimpleNamespace, trial: RunTrial) -> None:
    done = trial("--jobs", "0", str(suites.passing), cwd=suites.dir)
    assert done.returncode == 2


def test_debugRequiresOneJob(suites: SimpleNamespace, trial: RunTrial) -> None:
    done = trial("--jobs", "2", "--debug", str(suites.passing), cwd=suites.dir)
    assert done.returncode == 2
    assert "--debug" in done.stderr


def test_loaderOrder(suites: SimpleNamespace) -> None:
    """
    Loading is deterministic: sorted by class and method name.
    """
    loader = runner.TestLoader()
    first = [t.id() for t in loader.loadFile(str(suites.outcomes))]
    second = [
        t.id() for t in loader.loadByNames([str(suites.outcomes), str(suites.outcomes)])
    ]
    assert first == second
    assert [i.rsplit(".", 1)[1] for i in first] == sorted(suites.status)
