"""
The import contracts are generated from the discovered distributions, and
they catch a sibling import: each test runs ``lint-imports`` for real on a
throwaway copy of the tree.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from _tree import copyTree
from importcontracts import ContractError, generate, integrations
from workspace import discover

TOOLS = Path(__file__).resolve().parent.parent


def lint(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(TOOLS / "importcontracts.py"), "--root", str(root)],
        capture_output=True,
        text=True,
    )


def addPackage(root: Path, name: str, pyprojectExtra: str = "") -> Path:
    """Add a minimal sibling distribution ``torsion-<name>`` to a copy."""
    src = root / "packages" / name / "src" / "torsion" / name
    src.mkdir(parents=True)
    (src / "__init__.py").write_text('"""A sibling."""\n')
    (src / "_version.py").write_text('__version__ = "0.1.0"\n')
    (root / "packages" / name / "pyproject.toml").write_text(
        f'[project]\nname = "torsion-{name}"\n'
        'dependencies = ["torsion-core>=0.1,<1"]\n'
        f"{pyprojectExtra}"
        f'[tool.hatch.version]\npath = "src/torsion/{name}/_version.py"\n'
    )
    return src


def coreModuleFile(root: Path) -> Path:
    core = next(p for p in discover(root) if p.isCore)
    return core.srcDir / "torsion" / "core" / "__init__.py"


def test_generated_from_discovered_modules() -> None:
    """Every top-level package of every distribution is a root of the graph."""
    config = generate()
    for package in discover():
        for module in package.modules:
            if (package.srcDir.joinpath(*module.split(".")) / "__init__.py").exists():
                assert f"\n    {module}\n" in config
    assert "torsion-core imports no other torsion distribution" in config


def test_the_tree_keeps_the_contracts(tmp_path: Path) -> None:
    """The unmodified tree passes: the failure below is due to the change."""
    result = lint(copyTree(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "KEPT" in result.stdout and "BROKEN" not in result.stdout


def test_core_importing_a_sibling_fails(tmp_path: Path) -> None:
    """A deliberate import of torsion.trial from core breaks the core contract."""
    root = copyTree(tmp_path)
    path = coreModuleFile(root)
    path.write_text(path.read_text() + "\nimport torsion.trial  # a sibling\n")
    result = lint(root)
    assert result.returncode != 0
    assert "torsion-core imports no other torsion distribution BROKEN" in result.stdout
    assert "torsion.core -> torsion.trial" in result.stdout


def test_sibling_importing_a_sibling_fails(tmp_path: Path) -> None:
    """A new distribution that imports another sibling is caught too."""
    root = copyTree(tmp_path)
    src = addPackage(root, "zmail")
    (src / "relay.py").write_text("import torsion.trial\n")
    result = lint(root)
    assert result.returncode != 0
    assert "torsion-zmail imports no sibling distribution" in result.stdout
    assert "BROKEN" in result.stdout


def test_listed_lazy_integration_is_allowed(tmp_path: Path) -> None:
    """A lazy import listed as an optional integration behind an extra passes."""
    root = copyTree(tmp_path)
    addPackage(root, "znames")
    src = addPackage(
        root,
        "zmail",
        '[project.optional-dependencies]\ndns = ["torsion-znames>=0.1"]\n'
        "[tool.torsion]\n"
        'optional-integrations = ["torsion.zmail.relay -> torsion.znames"]\n',
    )
    (src / "relay.py").write_text(
        "def resolver():\n    import torsion.znames\n\n    return torsion.znames\n"
    )
    result = lint(root)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("extras", "body", "message"),
    [
        ("", "def f():\n    import torsion.znames\n", "no optional extra"),
        ('dns = ["torsion-znames"]\n', "import torsion.znames\n", "import lazily"),
    ],
)
def test_integration_rules(
    tmp_path: Path, extras: str, body: str, message: str
) -> None:
    """The sibling must be named by an extra and imported lazily."""
    root = copyTree(tmp_path)
    addPackage(root, "znames")
    src = addPackage(
        root,
        "zmail",
        f"[project.optional-dependencies]\n{extras}"
        "[tool.torsion]\n"
        'optional-integrations = ["torsion.zmail.relay -> torsion.znames"]\n',
    )
    (src / "relay.py").write_text(body)
    packages = discover(root)
    zmail = next(p for p in packages if p.name == "zmail")
    with pytest.raises(ContractError, match=message):
        integrations(zmail, packages)
    assert lint(root).returncode != 0


def test_single_file_module_importing_a_sibling_fails(tmp_path: Path) -> None:
    """
    import-linter only graphs packages; a top-level single-file module of core
    (``torsion/x.py``) importing a sibling is caught too.
    """
    root = copyTree(tmp_path)
    core = next(p for p in discover(root) if p.isCore)
    (core.srcDir / "torsion" / "zsingle.py").write_text(
        "def f():\n    import torsion.trial.unittest\n"
    )
    result = lint(root)
    assert result.returncode != 0
    assert "zsingle.py:2: torsion.zsingle -> torsion.trial.unittest" in result.stdout
