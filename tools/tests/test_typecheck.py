"""
``tools/typecheck.py`` derives mypy's settings from the discovered packages
and checks every package's tests and ``tools/tests`` too.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from _tree import copyTree
from typecheck import checkTargets, generate, helperModules, importNames
from workspace import ROOT, discover

TOOLS = Path(__file__).resolve().parent.parent


def strictSections(config: str) -> set[str]:
    modules: set[str] = set()
    section = ""
    for line in config.splitlines():
        if line.startswith("[mypy-"):
            section = line[len("[mypy-") : -1]
        elif line.strip() == "strict = True":
            modules |= set(section.split(","))
    return modules


def test_every_core_module_is_strict() -> None:
    config = generate()
    strict = strictSections(config)
    for package in discover():
        for module in package.modules:
            assert (f"{module}.*" in strict) == package.isCore, module
        assert str(package.srcDir) in config


def test_new_core_module_and_package_need_no_edit(tmp_path: Path) -> None:
    root = copyTree(tmp_path)
    fresh = root / "packages" / "core" / "src" / "torsion" / "brandnew"
    fresh.mkdir()
    (fresh / "__init__.py").write_text("")
    # A distribution that does not exist in the real tree.
    sample = root / "packages" / "sample" / "src" / "torsion" / "sample"
    sample.mkdir(parents=True)
    (sample / "__init__.py").write_text("")
    (root / "packages" / "sample" / "pyproject.toml").write_text(
        '[project]\nname = "torsion-sample"\n'
    )
    config = generate(root)
    assert "torsion.brandnew.*" in strictSections(config)
    assert "torsion.sample.*" not in strictSections(config)
    assert str(root / "packages" / "sample" / "src") in config


def test_every_test_directory_is_a_target() -> None:
    """
    Each discovered package's tests and ``tools/tests`` are checked, each
    with its own directory first on ``mypy_path``.
    """
    targets = {t.directory: t for t in checkTargets()}
    for package in discover():
        if package.testsDir.is_dir():
            assert targets[package.testsDir].path[0] == package.testsDir
    tools = ROOT / "tools"
    assert targets[tools / "tests"].path == (tools / "tests", tools)


def test_tests_configuration() -> None:
    """
    A test run keeps the global settings (fully typed, not strict for the
    tests themselves), finds the modules imported by bare name, and lets the
    test-only third-party modules lack types.
    """
    core = next(p for p in discover() if p.isCore)
    target = next(t for t in checkTargets() if t.directory == core.testsDir)
    config = generate(tests=target)
    assert "\ndisallow_untyped_defs = True\n" in config
    mypyPath = next(
        line.split(" = ", 1)[1]
        for line in config.splitlines()
        if line.startswith("mypy_path = ")
    ).split(":")
    assert mypyPath[0] == str(core.testsDir)
    assert str(core.srcDir) in mypyPath
    untyped = next(
        line
        for line in config.splitlines()
        if line.startswith("[mypy-") and "hypothesis" in line
    )
    assert "hypothesis.*" in untyped and "pytest.*" in untyped
    # The tests are top-level modules (reactormixins, test_tcp): not strict.
    assert all(m.startswith("torsion.") for m in strictSections(config))


def test_pipeline_scripts_are_used_not_checked() -> None:
    """``tools/tests`` imports the scripts of ``tools/``; only the tests are checked."""
    tools = ROOT / "tools"
    target = next(t for t in checkTargets() if t.directory == tools / "tests")
    assert "workspace" in helperModules(target)
    assert "typecheck" in helperModules(target)
    config = generate(tests=target)
    assert "follow_imports = silent" in config


def test_import_names() -> None:
    """Installed distributions map to their modules; others to a guess."""
    assert importNames(["pytest-xdist>=3"]) == ["xdist"]
    assert "OpenSSL" in importNames(["pyOpenSSL>=24"])
    assert importNames(["no-such-distribution-here>=1"]) == [
        "no_such_distribution_here"
    ]


def _sampleTree(root: Path) -> Path:
    """
    A minimal monorepo: the real root configuration, a core, and a package
    ``sample`` whose tests import a helper by bare name and an untyped
    test-only library.
    """
    shutil.copy2(ROOT / "pyproject.toml", root / "pyproject.toml")
    core = root / "packages" / "core"
    (core / "src" / "torsion" / "core").mkdir(parents=True)
    (core / "src" / "torsion" / "core" / "__init__.py").write_text("")
    (core / "pyproject.toml").write_text('[project]\nname = "torsion-core"\n')
    sample = root / "packages" / "sample"
    (sample / "src" / "torsion" / "sample").mkdir(parents=True)
    (sample / "src" / "torsion" / "sample" / "__init__.py").write_text(
        "def answer() -> int:\n    return 42\n"
    )
    (sample / "pyproject.toml").write_text(
        '[project]\nname = "torsion-sample"\n'
        "[dependency-groups]\n"
        'test = ["torsion-core", "notypes-testlib-for-torsion>=1"]\n'
    )
    tests = sample / "tests"
    tests.mkdir()
    (tests / "conftest.py").write_text("")
    (tests / "samplehelpers.py").write_text(
        "def double(x: int) -> int:\n    return 2 * x\n"
    )
    test = tests / "test_sample.py"
    test.write_text(
        "import notypes_testlib_for_torsion\n"
        "from samplehelpers import double\n\n"
        "from torsion.sample import answer\n\n\n"
        "def test_double():\n"
        "    assert double(answer()) == 84\n"
        "    assert notypes_testlib_for_torsion.anything\n"
    )
    return test


def test_new_package_tests_are_checked(tmp_path: Path) -> None:
    """
    mypy really runs over a new package's tests with no edit: an untyped
    test fails the run, bare-name helpers and untyped test-only libraries
    resolve, and the annotated test passes.
    """
    test = _sampleTree(tmp_path)

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(TOOLS / "typecheck.py"), "--root", str(tmp_path)],
            capture_output=True,
            text=True,
        )

    result = run()
    assert result.returncode == 1, result.stdout + result.stderr
    assert "--- mypy: packages/sample/tests" in result.stdout
    assert "test_sample.py:7: error: Function is missing a return type" in (
        result.stdout
    )
    assert "import-not-found" not in result.stdout
    assert "mypy failed: packages/sample/tests" in result.stdout
    test.write_text(test.read_text().replace("():", "() -> None:"))
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
