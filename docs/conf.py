"""
Sphinx configuration for the torsion documentation.

The distributions are discovered from ``packages/*/pyproject.toml`` (see
``tools/workspace.py``).  At every build this file writes, under
``docs/api/_generated/`` (not committed):

- ``distributions.inc``: the top-level toctree, one entry per distribution
  (its hand-written ``docs/<pkg>/index.rst`` when there is one, else its API
  index), core first;
- ``<pkg>/index.rst`` and one page per public module: the API reference,
  taken from the docstrings by autodoc.

So a new distribution or a new module shows up without editing anything here.
A module whose name (or whose package's name) starts with ``_`` is private and
gets no page; its public names are documented where they are re-exported
(autodoc documents the names listed in a module's ``__all__``).
"""

from __future__ import annotations

import importlib
import logging
import sys
import types
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent / "tools"))

from workspace import Package, discover  # noqa: E402

project = "torsion"
author = "The torsion developers"
copyright = "the torsion developers (MIT licence)"

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
]

PACKAGES = discover()
release = version = ", ".join(f"{p.dist} {p.version}" for p in PACKAGES)

html_theme = "furo"
html_title = "torsion"
exclude_patterns = ["_build", "examples", "Thumbs.db", ".DS_Store"]
templates_path: list[str] = []

autodoc_default_options = {"members": True, "show-inheritance": True}
autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
# Modules that need a third-party library absent from the docs environment
# can name it in their pyproject: [tool.torsion] docs-mock-imports = ["X"].
autodoc_mock_imports = sorted(
    {str(m) for p in PACKAGES for m in p.settings.get("docs-mock-imports", [])}  # type: ignore[attr-defined]
)
napoleon_google_docstring = False
napoleon_numpy_docstring = False

GENERATED = DOCS / "api" / "_generated"


def _title(text: str, underline: str = "=") -> str:
    return f"{text}\n{underline * len(text)}\n"


def publicModules(package: Package) -> list[str]:
    """Every importable, public module of ``package``, sorted by name."""
    found = []
    src = package.srcDir
    for top in package.modules:
        base = src.joinpath(*top.split("."))
        files = (
            sorted(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
        )
        for path in files:
            parts = list(path.relative_to(src).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            elif parts[-1] == "__main__":
                continue
            if any(part.startswith("_") for part in parts[1:]):
                continue
            if (
                path.parent != base.parent
                and not (path.parent / "__init__.py").exists()
            ):
                continue
            found.append(".".join(parts))
    return sorted(name for name in set(found) if _isDocumentable(name))


def _isDocumentable(name: str) -> bool:
    """
    Whether autodoc can document the module ``name``.  A module that replaces
    itself in ``sys.modules`` on import (``torsion.internet.reactor`` becomes
    the reactor) is documented by the object it installs, not as a module.  A
    module that fails to import keeps its page, so the build reports why.
    """
    try:
        importlib.import_module(name)
    except Exception:
        return True
    return isinstance(sys.modules.get(name), types.ModuleType)


def _write(path: Path, text: str, written: set[Path]) -> None:
    # Rewrite only what changed, and never delete the directory first: two
    # builds of the same tree running at once then agree instead of racing.
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
    written.add(path)


def generate() -> None:
    """Write the generated pages (see the module docstring)."""
    written: set[Path] = set()
    sections = []
    for package in PACKAGES:
        out = GENERATED / package.name
        modules = publicModules(package)
        for module in modules:
            _write(
                out / f"{module}.rst",
                _title(f"``{module}``") + f"\n.. automodule:: {module}\n",
                written,
            )
        handWritten = (DOCS / package.name / "index.rst").exists()
        header = "API reference" if handWritten else package.dist
        index = [_title(header), ""]
        if not handWritten:
            description = str(package.project.get("description", ""))
            index += [description, "", f"``python3 -m pip install {package.dist}``", ""]
        index += [
            f"The public modules of ``{package.dist}``, from their docstrings.",
            "",
            ".. toctree::",
            "   :maxdepth: 1",
            "",
            *(f"   {m}" for m in modules),
            "",
        ]
        _write(out / "index.rst", "\n".join(index), written)
        sections.append(
            f"{package.name}/index"
            if handWritten
            else f"api/_generated/{package.name}/index"
        )
    _write(
        GENERATED / "distributions.inc",
        ".. toctree::\n   :maxdepth: 2\n   :caption: Distributions\n\n"
        + "".join(f"   {s}\n" for s in sections),
        written,
    )
    for stale in [p for p in GENERATED.rglob("*") if p.is_file()]:
        if stale not in written:
            stale.unlink(missing_ok=True)


class _EmptyHowtoFilter(logging.Filter):
    """A distribution may have no howto yet: its empty howto glob is not an error."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "didn't match any documents" not in record.getMessage():
            return True
        location = getattr(record, "location", None)
        source = str(getattr(location, "source", None) or location or "")
        return "/howto/" not in source.replace("\\", "/")


generate()
logging.getLogger("sphinx.sphinx.directives.other").addFilter(_EmptyHowtoFilter())
