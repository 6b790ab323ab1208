"""
Run mypy over every distribution's sources, then over every test directory,
with the workspace configuration.

The root ``pyproject.toml`` holds the mypy settings developers use when they
run ``mypy`` by hand.  This script takes those settings and adds what must
follow the discovered distributions, so that a new package, a new top-level
module of core or a new package's tests need no edit here:

- ``mypy_path``: every ``packages/<name>/src``;
- strict mode for every top-level module of core (``torsion.internet``,
  ``torsion.python``, ... as found in ``packages/core/src/torsion/*``);
  the other distributions are checked with the root's global settings
  (fully typed definitions, not strict).

After the sources, each ``packages/<name>/tests`` and ``tools/tests`` is
checked in a run of its own: every test directory has its own
``conftest.py`` and helper modules imported by bare name (``reactormixins``,
``webhelpers``, ...), so the directory itself (and, for ``tools/tests``, the
pipeline's scripts in ``tools/``, whose bodies are not checked there) joins
``mypy_path``.  The tests get the
same global settings as the sources; the third-party distributions only the
tests use (the package's ``test`` dependency group and ``ci-pip.txt``, the
root's ``tools-test`` group for ``tools/tests``) may lack types, so their
modules get ``ignore_missing_imports``.

::

    python tools/typecheck.py [--print] [--sources-only] [--root PATH] [mypy arguments]
"""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workspace import NAMESPACE, ROOT, canonicalName, discover, isLocal, requirementName

#: Distributions whose import name cannot be derived from the distribution
#: name, for when they are not installed (``ci-pip.txt`` installs are allowed
#: to fail): their imports must still not fail the run.
_KNOWN_MODULES = {
    "pygobject": ("gi", "pygtkcompat"),
    "pyside6-essentials": ("PySide6", "shiboken6"),
    "pyopenssl": ("OpenSSL",),
    "import-linter": ("importlinter",),
    "pytest-xdist": ("xdist",),
}


@dataclass(frozen=True)
class CheckTarget:
    """
    One test directory, checked in a mypy run of its own.

    :ivar directory: the directory holding the tests.
    :ivar path: extra ``mypy_path`` entries (the directory first), so the
        modules the tests import by bare name resolve.
    :ivar requirements: the third-party requirement strings only the tests
        need; their modules get ``ignore_missing_imports``.
    """

    directory: Path
    path: tuple[Path, ...]
    requirements: tuple[str, ...]


def _ini(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def _listing(path: Path) -> list[str]:
    """The requirements of a ``ci-pip.txt``-style file (comments dropped)."""
    if not path.is_file():
        return []
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def checkTargets(root: Path = ROOT) -> list[CheckTarget]:
    """
    Every test directory of the tree at ``root``: each discovered package's
    ``tests`` (in discovery order, core first), then ``tools/tests``.
    """
    targets = []
    for package in discover(root):
        if package.testsDir.is_dir():
            requirements = [
                r for r in package.group("test") if not isLocal(r, root)
            ] + _listing(package.path / "ci-pip.txt")
            targets.append(
                CheckTarget(package.testsDir, (package.testsDir,), tuple(requirements))
            )
    tools = root / "tools"
    if (tools / "tests").is_dir():
        with (root / "pyproject.toml").open("rb") as f:
            groups = tomllib.load(f).get("dependency-groups", {})
        requirements = [str(r) for r in groups.get("tools-test", [])]
        targets.append(
            CheckTarget(tools / "tests", (tools / "tests", tools), tuple(requirements))
        )
    return targets


def importNames(requirements: Sequence[str]) -> list[str]:
    """
    The top-level modules the distributions named by ``requirements``
    provide: read from the installed distributions' metadata, else guessed
    from the distribution's name.
    """
    provided: dict[str, set[str]] = {}
    for module, dists in importlib.metadata.packages_distributions().items():
        for dist in dists:
            provided.setdefault(canonicalName(dist), set()).add(module)
    modules: set[str] = set()
    for requirement in requirements:
        name = requirementName(requirement)
        found = provided.get(name, set()) | set(_KNOWN_MODULES.get(name, ()))
        if not found:
            found = {name.replace("-", "_")}
        # Compiled helper modules (mypyc's) are not identifiers.
        modules |= {m for m in found if m.isidentifier()}
    return sorted(modules)


def helperModules(tests: CheckTarget) -> list[str]:
    """
    The modules that ``tests`` imports from outside its own directory by
    bare name (the pipeline's scripts in ``tools/`` for ``tools/tests``).
    """
    return sorted(
        entry.stem
        for directory in tests.path
        if directory != tests.directory
        for entry in directory.glob("*.py")
    )


def generate(root: Path = ROOT, tests: CheckTarget | None = None) -> str:
    """
    The mypy configuration (INI format) for the tree at ``root``: for its
    sources, or for the test directory ``tests``.
    """
    with (root / "pyproject.toml").open("rb") as f:
        settings = dict(tomllib.load(f)["tool"]["mypy"])
    overrides = settings.pop("overrides", [])
    packages = discover(root)
    path = [str(p.srcDir) for p in packages]
    if tests is not None:
        path = [str(p) for p in tests.path] + path
        # One run sees only what its tests import: the core sections that
        # the configuration of the sources proves used may be unused here.
        settings["warn_unused_configs"] = False
    settings["mypy_path"] = ":".join(path)
    strictModules = {f"{m}.*" for p in packages if p.isCore for m in p.modules}
    lines = ["[mypy]"] + [f"{k} = {_ini(v)}" for k, v in settings.items()]
    for override in overrides:
        override = dict(override)
        modules = override.pop("module")
        modules = [modules] if isinstance(modules, str) else list(modules)
        if override.get("strict"):
            modules = sorted(set(modules) | strictModules)
            strictModules = set()
        lines += ["", f"[mypy-{','.join(modules)}]"]
        lines += [f"{k} = {_ini(v)}" for k, v in override.items()]
    if strictModules:
        lines += ["", f"[mypy-{','.join(sorted(strictModules))}]", "strict = True"]
    if tests is not None:
        untyped = importNames(tests.requirements)
        if untyped:
            patterns = ",".join(f"{m},{m}.*" for m in untyped)
            lines += ["", f"[mypy-{patterns}]", "ignore_missing_imports = True"]
        imported = helperModules(tests)
        if imported:
            # Their types are used, their bodies are not this run's to check.
            lines += ["", f"[mypy-{','.join(imported)}]", "follow_imports = silent"]
    return "\n".join(lines) + "\n"


def _mypy(config: str, cwd: Path, arguments: list[str], cacheDir: Path) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "mypy.ini")
        path.write_text(config, encoding="utf-8")
        command = [sys.executable, "-m", "mypy", "--config-file", str(path)]
        # One cache for every run: the sources each test run imports are
        # analysed once.
        command += ["--cache-dir", str(cacheDir), *arguments]
        return subprocess.call(command, cwd=cwd)


def _option(argv: list[str], name: str) -> str | None:
    """Remove ``name VALUE`` from ``argv``; return ``VALUE``."""
    if name not in argv:
        return None
    index = argv.index(name)
    value = argv[index + 1]
    del argv[index : index + 2]
    return value


def main(argv: list[str]) -> int:
    """
    Run mypy over the sources, then over each test directory, every run even
    if one fails.  ``--print`` prints the generated configurations instead;
    ``--sources-only`` skips the tests; ``--root PATH`` checks another copy
    of the tree.  Other arguments go to every mypy run.
    """
    argv = list(argv)
    root = Path(_option(argv, "--root") or ROOT).resolve()
    sourcesOnly = "--sources-only" in argv
    argv = [a for a in argv if a != "--sources-only"]
    targets = [] if sourcesOnly else checkTargets(root)
    if "--print" in argv:
        print(generate(root))
        for target in targets:
            print(f"# {target.directory.relative_to(root)}")
            print(generate(root, tests=target))
        return 0
    sources = [
        str(p.srcDir / NAMESPACE)
        for p in discover(root)
        if (p.srcDir / NAMESPACE).is_dir()
    ]
    runs = [("sources", generate(root), root, sources)]
    runs += [
        (str(t.directory.relative_to(root)), generate(root, t), t.directory, ["."])
        for t in targets
    ]
    failed = []
    for title, config, cwd, paths in runs:
        print(f"--- mypy: {title}", flush=True)
        started = time.monotonic()
        status = _mypy(config, cwd, [*argv, *paths], root / ".mypy_cache")
        print(f"    ({time.monotonic() - started:.1f} s)", flush=True)
        if status != 0:
            failed.append(title)
    if failed:
        print("mypy failed: " + ", ".join(failed), flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
