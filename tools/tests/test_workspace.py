"""
The distributions are discovered from ``packages/*/pyproject.toml``, and
each one keeps the layout rules: PEP 420 namespace, a ``__version__`` equal
to its installed metadata, only core and third-party hard dependencies.
"""

from __future__ import annotations

import importlib
import importlib.metadata
from pathlib import Path

import pytest
from workspace import CORE, NAMESPACE, Package, byName, discover, requirementName

PACKAGES = discover()
IDS = [p.name for p in PACKAGES]


def test_core_first_then_test_framework() -> None:
    """Core builds and tests before anything else; trial comes next."""
    names = [p.name for p in PACKAGES]
    assert names[0] == CORE
    assert "trial" in names and names.index("trial") == 1


def test_discovery_reads_any_package(tmp_path: Path) -> None:
    """A new directory with a pyproject.toml is a distribution, no edit needed."""
    for name in ("core", "zeta", "web"):
        src = tmp_path / "packages" / name / "src" / NAMESPACE / name
        src.mkdir(parents=True)
        (src / "__init__.py").write_text("")
        (src / "_version.py").write_text('__version__ = "1.2.3"\n')
        (tmp_path / "packages" / name / "pyproject.toml").write_text(
            f'[project]\nname = "torsion-{name}"\n'
            'dependencies = ["torsion-core >= 1.0, < 2"]\n'
            f'[tool.hatch.version]\npath = "src/{NAMESPACE}/{name}/_version.py"\n'
        )
    found = discover(tmp_path)
    assert [p.name for p in found] == ["core", "web", "zeta"]
    web = byName("torsion-web", tmp_path)
    assert web.modules == ("torsion.web",)
    assert web.version == "1.2.3"
    assert web.coreRequirement == ">=1.0,<2"


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_namespace_has_no_init(package: Package) -> None:
    """No distribution ships torsion/__init__.py: torsion is a PEP 420 namespace."""
    assert (package.srcDir / NAMESPACE).is_dir()
    assert not (package.srcDir / NAMESPACE / "__init__.py").exists()


def test_namespace_is_shared() -> None:
    """Every distribution's modules import through the one namespace."""
    import torsion

    assert getattr(torsion, "__file__", None) is None
    for package in PACKAGES:
        for module in package.modules:
            importlib.import_module(module)


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_version_matches_metadata(package: Package) -> None:
    """``torsion.<name>.__version__`` is the installed version and the file's."""
    module = importlib.import_module(package.topModule)
    assert module.__version__ == package.version
    assert importlib.metadata.version(package.dist) == package.version


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_metadata_rules(package: Package) -> None:
    """hatchling, torsion-<name>, Python >= 3.11, no sibling as hard dependency."""
    buildSystem = package.pyproject["build-system"]
    assert isinstance(buildSystem, dict)
    assert buildSystem["build-backend"] == "hatchling.build"
    assert package.dist == f"torsion-{package.name}"
    assert package.project["requires-python"] == ">=3.11"
    dynamic = package.project["dynamic"]
    assert isinstance(dynamic, list)
    assert "version" in dynamic
    names = {p.dist for p in PACKAGES}
    ours = [r for r in package.dependencies if requirementName(r) in names]
    if package.isCore:
        assert ours == []
    else:
        assert [requirementName(r) for r in ours] == ["torsion-core"]
        assert package.coreRequirement, "a torsion-core range is required"


@pytest.mark.parametrize("package", PACKAGES, ids=IDS)
def test_every_top_package_is_typed(package: Package) -> None:
    """PEP 561 for a namespace: a py.typed marker in each top-level package."""
    for module in package.modules:
        directory = package.srcDir.joinpath(*module.split("."))
        if directory.is_dir():
            assert (directory / "py.typed").exists(), f"add {directory}/py.typed"
