"""
Discovery of the torsion distributions in this monorepo.

Every part of the pipeline (``noxfile.py``, the import contracts, the docs
build, the release helper) asks this module which distributions exist instead
of naming them: a distribution is any directory ``packages/<name>/`` holding a
``pyproject.toml``.  Two names have a role the design gives them: ``core`` is
the distribution everything else depends on, and ``trial`` is the test
framework the tests of every other distribution use.

Only the standard library is used here, so the module can be imported by nox
before any virtual environment exists.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

#: The repository root (the directory holding ``packages/``).
ROOT = Path(__file__).resolve().parent.parent

#: The distribution every other one depends on.
CORE = "core"

#: The distribution whose test framework the other distributions' tests use.
TEST_FRAMEWORK = "trial"

#: The PEP 420 namespace shared by every distribution.
NAMESPACE = "torsion"

_VERSION_RE = re.compile(
    r"""^__version__\s*=\s*(?P<q>["'])(?P<version>[^"']+)(?P=q)\s*$""", re.MULTILINE
)
_REQ_NAME_RE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def canonicalName(name: str) -> str:
    """
    Normalise a distribution name as PEP 503 does (``Torsion_Core`` and
    ``torsion-core`` are the same distribution).

    :param name: a distribution name.
    :return: the name lower-cased, with runs of ``-``, ``_`` and ``.``
        replaced by a single ``-``.
    """
    return re.sub(r"[-_.]+", "-", name).lower()


def requirementName(requirement: str) -> str:
    """
    The canonical distribution name a PEP 508 requirement string names.

    :param requirement: e.g. ``"torsion-core>=0.1,<1"``.
    :return: e.g. ``"torsion-core"``.
    :raises ValueError: if the string does not start with a name.
    """
    match = _REQ_NAME_RE.match(requirement)
    if match is None:
        raise ValueError(f"not a requirement: {requirement!r}")
    return canonicalName(match.group(1))


def requirementSpecifier(requirement: str) -> str:
    """
    The version specifier part of a PEP 508 requirement string, without
    extras or markers.

    :param requirement: e.g. ``"torsion-core[tls]>=0.1,<1; python_version>'3'"``.
    :return: e.g. ``">=0.1,<1"`` (empty when the requirement has none).
    """
    rest = requirement.split(";", 1)[0]
    rest = rest[_REQ_NAME_RE.match(rest).end() :]  # type: ignore[union-attr]
    rest = re.sub(r"^\s*\[[^\]]*\]", "", rest)
    return rest.strip().strip("()").replace(" ", "")


@dataclass(frozen=True)
class Package:
    """
    One distribution of the monorepo, as described by its ``pyproject.toml``.

    :ivar name: the directory name under ``packages/`` (``core``, ``trial``).
    :ivar path: the distribution's directory.
    :ivar pyproject: the parsed ``pyproject.toml``.
    """

    name: str
    path: Path
    pyproject: dict[str, object] = field(repr=False, compare=False)

    @property
    def project(self) -> dict[str, object]:
        """The ``[project]`` table."""
        return self.pyproject.get("project", {})  # type: ignore[return-value]

    @property
    def dist(self) -> str:
        """The distribution name, e.g. ``torsion-core``."""
        return str(self.project["name"])

    @property
    def isCore(self) -> bool:
        """Whether this is torsion-core."""
        return self.name == CORE

    @property
    def isTestFramework(self) -> bool:
        """Whether this is torsion-trial, the test framework."""
        return self.name == TEST_FRAMEWORK

    @property
    def srcDir(self) -> Path:
        """The ``src`` directory (the one that holds ``torsion/``)."""
        return self.path / "src"

    @property
    def testsDir(self) -> Path:
        """The ``tests`` directory (it may not exist yet)."""
        return self.path / "tests"

    @property
    def benchmarksDir(self) -> Path:
        """The ``benchmarks`` directory (it may not exist yet)."""
        return self.path / "benchmarks"

    @property
    def newsfragmentsDir(self) -> Path:
        """The ``newsfragments`` directory towncrier compiles."""
        return self.path / "newsfragments"

    @property
    def topModule(self) -> str:
        """The distribution's top package, which carries ``__version__``."""
        return f"{NAMESPACE}.{self.name}"

    @cached_property
    def modules(self) -> tuple[str, ...]:
        """
        The top-level modules this distribution puts into the ``torsion``
        namespace, read from ``src/torsion/*`` (``torsion.internet``,
        ``torsion.python``, ... for core; ``torsion.trial`` for trial).
        """
        base = self.srcDir / NAMESPACE
        found = set()
        if base.is_dir():
            for entry in base.iterdir():
                if entry.name.startswith((".", "__")):
                    continue
                if entry.is_dir() and (entry / "__init__.py").exists():
                    found.add(f"{NAMESPACE}.{entry.name}")
                elif entry.suffix == ".py":
                    found.add(f"{NAMESPACE}.{entry.stem}")
        return tuple(sorted(found))

    @property
    def versionFile(self) -> Path:
        """The one file the version is read from (``[tool.hatch.version] path``)."""
        hatch = self.tool.get("hatch", {})
        version = hatch.get("version", {})
        relative = version.get("path") if isinstance(version, dict) else None
        if not relative:
            raise ValueError(
                f"{self.path}/pyproject.toml has no tool.hatch.version.path"
            )
        return self.path / str(relative)

    @property
    def version(self) -> str:
        """The version currently written in the version file."""
        match = _VERSION_RE.search(self.versionFile.read_text(encoding="utf-8"))
        if match is None:
            raise ValueError(f"no __version__ = '...' line in {self.versionFile}")
        return match.group("version")

    @property
    def tool(self) -> dict[str, dict[str, object]]:
        """The ``[tool]`` table."""
        return self.pyproject.get("tool", {})  # type: ignore[return-value]

    @property
    def settings(self) -> dict[str, object]:
        """The pipeline's own per-distribution settings, ``[tool.torsion]``."""
        return self.tool.get("torsion", {})

    @property
    def dependencies(self) -> list[str]:
        """The hard runtime requirements."""
        dependencies = self.project.get("dependencies", [])
        assert isinstance(dependencies, list)
        return [str(d) for d in dependencies]

    @property
    def extras(self) -> dict[str, list[str]]:
        """The optional extras and their requirements."""
        extras = self.project.get("optional-dependencies", {})
        assert isinstance(extras, dict)
        return {str(k): [str(r) for r in v] for k, v in extras.items()}

    @property
    def coreRequirement(self) -> str | None:
        """
        The version range of torsion-core this distribution declares
        (``">=0.1,<1"``), or ``None`` for core itself.
        """
        for requirement in self.dependencies:
            if requirementName(requirement) == canonicalName(f"{NAMESPACE}-{CORE}"):
                return requirementSpecifier(requirement)
        return None

    def group(self, name: str) -> list[str]:
        """
        A PEP 735 dependency group (``[dependency-groups]``), with
        ``{include-group = ...}`` entries expanded.

        :param name: the group, e.g. ``"test"`` or ``"bench"``.
        :return: its requirement strings (empty if the group is absent).
        """
        groups = self.pyproject.get("dependency-groups", {})
        assert isinstance(groups, dict)
        result: list[str] = []
        for item in groups.get(name, []):
            if isinstance(item, dict) and "include-group" in item:
                result.extend(self.group(item["include-group"]))
            else:
                result.append(str(item))
        return result

    @property
    def aptPackages(self) -> list[str]:
        """
        System packages the real-peer tests need, one per line of
        ``ci-apt.txt`` (``#`` starts a comment).
        """
        path = self.path / "ci-apt.txt"
        if not path.exists():
            return []
        names = []
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                names.extend(line.split())
        return names


def discover(root: Path = ROOT) -> list[Package]:
    """
    Find every distribution under ``<root>/packages``.

    :param root: the repository root.
    :return: the distributions, core first, then the test framework, then the
        others by name: the order in which they can be built and tested.
    """
    found = []
    for pyproject in sorted((root / "packages").glob("*/pyproject.toml")):
        with pyproject.open("rb") as f:
            data = tomllib.load(f)
        found.append(Package(pyproject.parent.name, pyproject.parent, data))

    def order(package: Package) -> tuple[int, str]:
        rank = 0 if package.isCore else 1 if package.isTestFramework else 2
        return (rank, package.name)

    return sorted(found, key=order)


def byName(name: str, root: Path = ROOT) -> Package:
    """
    The distribution called ``name`` (``trial`` or ``torsion-trial``).

    :raises KeyError: if there is none.
    """
    for package in discover(root):
        if name in (package.name, package.dist):
            return package
    known = ", ".join(p.name for p in discover(root))
    raise KeyError(f"no package {name!r} (known: {known})")


def localDistributions(root: Path = ROOT) -> dict[str, Package]:
    """The distributions of this repository keyed by canonical name."""
    return {canonicalName(p.dist): p for p in discover(root)}


def isLocal(requirement: str, root: Path = ROOT) -> bool:
    """Whether a requirement string names a distribution of this repository."""
    return requirementName(requirement) in localDistributions(root)


if __name__ == "__main__":
    for _package in discover():
        print(
            _package.name, _package.dist, _package.version, " ".join(_package.modules)
        )
