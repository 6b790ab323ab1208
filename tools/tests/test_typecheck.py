"""``tools/typecheck.py`` derives mypy's settings from the discovered packages."""

from __future__ import annotations

from pathlib import Path

from _tree import copyTree
from typecheck import generate
from workspace import discover


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
