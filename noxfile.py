"""
The one pipeline for every torsion distribution.

Distributions are discovered from ``packages/*/pyproject.toml`` (see
``tools/workspace.py``); nothing here names one, except that ``core`` is the
distribution everything depends on and ``trial`` is the test framework the
other distributions' tests use.

Sessions (``nox -l`` lists them)::

    nox -s tests                     every package editable in one env, all tests
    nox -s tests_isolated            each package from wheels, alone with core
    nox -s lint                      ruff check, ruff format --check, import contracts
    nox -s typecheck                 mypy (strict for core) with mypy-zope
    nox -s docs                      Sphinx, warnings are errors
    nox -s build                     sdist + wheel of every package into dist/
    nox -s release -- trial patch [--dry-run]
    nox -s tests_min_core            each package against the lowest core it admits
    nox -s bench                     every package's benchmarks beside the anchors
    nox -s newsfragments             a change to packages/X/src needs a fragment
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import nox
from nox.command import CommandFailed
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "tools"))

from workspace import (  # noqa: E402
    Package,
    discover,
    isLocal,
    localDistributions,
    requirementName,
)

nox.needs_version = ">=2024.4.15"
nox.options.sessions = ["tests", "lint", "typecheck", "docs"]
nox.options.error_on_external_run = True

PACKAGES = discover()
NAMES = [p.name for p in PACKAGES]
NON_CORE = [p.name for p in PACKAGES if not p.isCore]
DIST = ROOT / "dist"


def _rootGroup(name: str) -> list[str]:
    """A dependency group of the root ``pyproject.toml`` (the pipeline's tools)."""
    with (ROOT / "pyproject.toml").open("rb") as f:
        groups = tomllib.load(f).get("dependency-groups", {})
    return [str(r) for r in groups[name]]


def _thirdParty(requirements: list[str]) -> list[str]:
    """Drop requirements that name one of our own distributions."""
    return [r for r in requirements if not isLocal(r)]


def _needsTestFramework(package: Package) -> bool:
    local = localDistributions()
    return any(
        local.get(requirementName(r)) is not None
        and local[requirementName(r)].isTestFramework
        for r in package.group("test")
    )


def _localExtras(package: Package) -> list[str]:
    """The extras of ``package`` that name only third-party distributions."""
    return [
        extra
        for extra, requirements in package.extras.items()
        if not any(isLocal(r) for r in requirements)
    ]


def _withExtras(target: str, extras: list[str]) -> str:
    return f"{target}[{','.join(extras)}]" if extras else target


def _installEditable(session: nox.Session, packages: list[Package]) -> None:
    """
    Install ``packages`` editable, with all their extras, in one pip run, so
    an extra naming a sibling is satisfied by the local checkout.
    """
    args: list[str] = []
    for package in packages:
        args += ["-e", _withExtras(str(package.path), list(package.extras))]
    session.install(*args)


def _testRequirements(packages: list[Package]) -> list[str]:
    requirements: list[str] = []
    for package in packages:
        for requirement in _thirdParty(package.group("test")):
            if requirement not in requirements:
                requirements.append(requirement)
    return requirements


def _testPaths(packages: list[Package]) -> list[str]:
    return [str(p.testsDir.relative_to(ROOT)) for p in packages if p.testsDir.is_dir()]


#: Test processes run side by side (pytest-xdist): most tests wait on sockets,
#: child processes and real peers rather than on the CPU, so more workers
#: than cores shortens the run.  Override with TORSION_TEST_WORKERS (0: none).
TEST_WORKERS = "4"

#: The temporary directory of the process running nox, captured before any
#: session points TMPDIR into its own (deep) directory.
SYSTEM_TMP = tempfile.gettempdir()


def _pytest(session: nox.Session, paths: list[str]) -> None:
    if not paths:
        session.error("no tests to run")
    import os

    workers = os.environ.get("TORSION_TEST_WORKERS", TEST_WORKERS)
    parallel = ["-n", workers] if workers not in ("", "0") else []
    if parallel:
        # The pipeline's choice, so no package's test group has to name it.
        session.install(*[r for r in _rootGroup("tools-test") if "xdist" in r])
    session.run(
        "python", "-m", "pytest", "-p", "no:cacheprovider", *parallel, *paths,
        *session.posargs,
        # Tests bind Unix sockets under their temporary directories, whose
        # paths must stay under the kernel's 108-byte limit: use the system's
        # short temporary directory, not the session's deep one.
        env={"TMPDIR": SYSTEM_TMP},
    )  # fmt: skip


def _optionalTestRequirements(session: nox.Session, packages: list[Package]) -> None:
    """
    Install what ``packages/<name>/ci-pip.txt`` lists, one requirement at a
    time, tolerating failure: these are the heavy or platform-dependent
    extras of some integration tests (GUI toolkits), whose tests skip with
    the reason when the requirement is missing.
    """
    for package in packages:
        listing = package.path / "ci-pip.txt"
        if not listing.is_file():
            continue
        for line in listing.read_text().splitlines():
            requirement = line.split("#", 1)[0].strip()
            if not requirement:
                continue
            try:
                session.install(requirement, silent=True)
            except CommandFailed:
                session.warn(
                    f"could not install optional test requirement {requirement!r}; "
                    "the tests that need it will skip"
                )


def _wheel(session: nox.Session, source: Path, outdir: Path) -> Path:
    """Build one wheel of the distribution at ``source`` into ``outdir``."""
    before = set(outdir.glob("*.whl"))
    session.run(
        "python", "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(outdir),
        str(source),
    )  # fmt: skip
    built = set(outdir.glob("*.whl")) - before
    if len(built) != 1:
        session.error(f"expected one new wheel from {source}, got {sorted(built)}")
    return built.pop()


def _checkPlacement(session: nox.Session, packages: list[Package]) -> None:
    """Assert each package's modules are imported from site-packages."""
    modules = [p.topModule for p in packages]
    session.run(
        "python", str(ROOT / "tools" / "checkinstall.py"), "--installed", *modules
    )


@nox.session
def tests(session: nox.Session) -> None:
    """
    Every package installed editable into one environment; pytest over every
    package's tests (core's first) and the pipeline's own tests in tools/tests.
    """
    _installEditable(session, PACKAGES)
    session.install(*_testRequirements(PACKAGES), *_rootGroup("tools-test"))
    _optionalTestRequirements(session, PACKAGES)
    _pytest(session, [*_testPaths(PACKAGES), "tools/tests"])


@nox.session
@nox.parametrize("package", NAMES, ids=NAMES)
def tests_isolated(session: nox.Session, package: str) -> None:
    """
    Build the wheels of one package, core (and trial when its tests use it),
    install only those into a fresh environment and run the package's tests.
    """
    target = next(p for p in PACKAGES if p.name == package)
    needed = [p for p in PACKAGES if p.isCore or p is target]
    if _needsTestFramework(target):
        needed += [p for p in PACKAGES if p.isTestFramework and p not in needed]
    wheels = Path(session.create_tmp()) / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir()
    args = [
        _withExtras(str(_wheel(session, p.path, wheels)), _localExtras(p))
        for p in needed
    ]
    session.install(*args, *_testRequirements([target]))
    session.run(
        "python", str(ROOT / "tools" / "checkinstall.py"), "--only",
        *[p.dist for p in needed],
    )  # fmt: skip
    _checkPlacement(session, needed)
    _pytest(session, _testPaths([target]))


def _runAll(session: nox.Session, commands: list[tuple[str, list[str]]]) -> None:
    """Run every command even if one fails; fail the session at the end."""
    failed = []
    for title, command in commands:
        session.log(f"--- {title}")
        try:
            session.run(*command)
        except CommandFailed:
            failed.append(title)
    if failed:
        session.error("failed: " + ", ".join(failed))


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check, ruff format --check and the generated import contracts."""
    session.install(*_rootGroup("lint"))
    paths = session.posargs or ["."]
    _runAll(
        session,
        [
            ("ruff check", ["ruff", "check", *paths]),
            ("ruff format --check", ["ruff", "format", "--check", "--diff", *paths]),
            ("import contracts", ["python", "tools/importcontracts.py"]),
        ],
    )


@nox.session
def typecheck(session: nox.Session) -> None:
    """
    mypy with the zope.interface plugin over every package's sources (strict
    for core, typed for the rest), then over every package's tests and
    tools/tests, each run with its own directory's helpers.
    """
    _installEditable(session, PACKAGES)
    # The test groups bring pytest, whose types the trial plugin uses, and
    # everything the tests import; tools-test what tools/tests imports.
    session.install(
        *_rootGroup("typecheck"),
        *_testRequirements(PACKAGES),
        *_rootGroup("tools-test"),
    )
    # The GUI reactors are typed against their toolkits (PySide6 ships types).
    _optionalTestRequirements(session, PACKAGES)
    session.run("python", "tools/typecheck.py", *session.posargs)


@nox.session
def docs(session: nox.Session) -> None:
    """Build the Sphinx documentation with warnings as errors."""
    _installEditable(session, PACKAGES)
    # The test groups too: modules such as a pytest plugin import pytest.
    session.install(*_rootGroup("docs"), *_testRequirements(PACKAGES))
    out = ROOT / "docs" / "_build" / "html"
    session.run(
        "python", "-m", "sphinx", "-W", "--keep-going", "-E", "-b", "html",
        "docs", str(out), *session.posargs,
    )  # fmt: skip
    session.log(f"documentation in {out / 'index.html'}")


def _newVenv(session: nox.Session, path: Path) -> Path:
    """A fresh, empty virtual environment; returns its python."""
    shutil.rmtree(path, ignore_errors=True)
    session.run("python", "-m", "venv", str(path))
    return path / "bin" / "python"


@nox.session
def build(session: nox.Session) -> None:
    """
    An sdist and a wheel of every package into dist/, checked with twine, and
    each wheel installed alone (with what it pulls in) into a clean
    environment and imported.
    """
    session.install(*_rootGroup("build"))
    shutil.rmtree(DIST, ignore_errors=True)
    DIST.mkdir()
    for package in PACKAGES:
        session.run("python", "-m", "build", "--outdir", str(DIST), str(package.path))
    session.run("python", "-m", "twine", "check", "--strict", *map(str, DIST.iterdir()))
    session.run("python", "tools/checkdist.py", str(DIST))

    # Pin our own distributions to what was just built so pip never looks
    # for them on an index.
    tmp = Path(session.create_tmp())
    constraints = tmp / "constraints.txt"
    constraints.write_text(
        "".join(f"{p.dist}=={p.version}\n" for p in PACKAGES), encoding="utf-8"
    )
    for package in PACKAGES:
        python = _newVenv(session, tmp / f"venv-{package.name}")
        wheel = next(DIST.glob(f"{package.dist.replace('-', '_')}-*.whl"))
        session.run(
            str(python), "-m", "pip", "install", "--quiet", "--find-links", str(DIST),
            "-c", str(constraints), str(wheel), external=True,
        )  # fmt: skip
        expected = [package.dist] + (
            [] if package.isCore else [p.dist for p in PACKAGES if p.isCore]
        )
        session.run(
            str(python), str(ROOT / "tools" / "checkinstall.py"),
            "--only", *expected, "--installed", *package.modules,
            external=True,
        )  # fmt: skip
    session.log(f"{len(PACKAGES)} wheels and {len(PACKAGES)} sdists in {DIST}")


@nox.session
def release(session: nox.Session) -> None:
    """
    ``nox -s release -- <package> <major|minor|patch|X.Y.Z> [--dry-run]``:
    bump one package's version, compile its newsfragments into its NEWS.md,
    build and check it, commit, and tag ``torsion-<package>-v<version>``.
    """
    if not session.posargs:
        session.error(
            "usage: nox -s release -- <package> <major|minor|patch|X.Y.Z> [--dry-run]"
        )
    session.install(*_rootGroup("release"))
    session.run("python", "tools/release.py", *session.posargs)


def _coreTags() -> dict[Version, str]:
    core = next(p for p in PACKAGES if p.isCore)
    prefix = f"{core.dist}-v"
    output = subprocess.run(
        ["git", "tag", "--list", f"{prefix}*"],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return {Version(t[len(prefix) :]): t for t in output.split() if t}


@nox.session
@nox.parametrize("package", NON_CORE, ids=NON_CORE)
def tests_min_core(session: nox.Session, package: str) -> None:
    """
    A package's tests against the lowest torsion-core its range admits: built
    from that release's tag, or from the working tree when no release in the
    range exists yet.
    """
    target = next(p for p in PACKAGES if p.name == package)
    core = next(p for p in PACKAGES if p.isCore)
    specifier = SpecifierSet(target.coreRequirement or "")
    candidates: dict[Version, str | None] = dict(_coreTags())
    candidates.setdefault(Version(core.version), None)
    admitted = sorted(v for v in candidates if specifier.contains(v, prereleases=True))
    if not admitted:
        session.error(
            f"no torsion-core version admitted by {target.dist}'s {specifier}"
        )
    lowest = admitted[0]
    tmp = Path(session.create_tmp())
    wheels = tmp / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir()
    tag = candidates[lowest]
    if tag is None:
        session.log(
            f"torsion-core {lowest} (working tree) for {target.dist} {specifier}"
        )
        coreSource = core.path
    else:
        session.log(f"torsion-core {lowest} (tag {tag}) for {target.dist} {specifier}")
        checkout = tmp / "core-checkout"
        shutil.rmtree(checkout, ignore_errors=True)
        checkout.mkdir()
        archive = subprocess.run(
            ["git", "archive", "--format=tar", tag, str(core.path.relative_to(ROOT))],
            cwd=ROOT, capture_output=True, check=True,
        ).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(checkout)], input=archive, check=True)
        coreSource = checkout / core.path.relative_to(ROOT)
    needed = [target] + (
        [p for p in PACKAGES if p.isTestFramework and p is not target]
        if _needsTestFramework(target)
        else []
    )
    args = [_withExtras(str(_wheel(session, coreSource, wheels)), _localExtras(core))]
    args += [
        _withExtras(str(_wheel(session, p.path, wheels)), _localExtras(p))
        for p in needed
    ]
    session.install(*args, *_testRequirements([target]))
    session.run(
        "python", "-c",
        "import importlib.metadata as m, sys; v = m.version(sys.argv[1]); "
        "print('torsion-core', v); sys.exit(v != sys.argv[2])",
        core.dist, str(lowest),
    )  # fmt: skip
    _pytest(session, _testPaths([target]))


@nox.session
def bench(session: nox.Session) -> None:
    """
    Run every ``packages/*/benchmarks/bench_*.py`` as a script in an
    environment with all packages and the anchors (each package's ``bench``
    dependency group), then print all their tables together.
    """
    _installEditable(session, PACKAGES)
    anchors: list[str] = []
    for package in PACKAGES:
        anchors += [r for r in _thirdParty(package.group("bench")) if r not in anchors]
    if anchors:
        session.install(*anchors)
    scripts = [
        script
        for package in PACKAGES
        for script in sorted(package.benchmarksDir.glob("bench_*.py"))
        if not session.posargs or any(a in script.name for a in session.posargs)
    ]
    if not scripts:
        session.skip("no benchmarks")
    results: list[tuple[Path, str | None]] = []
    for script in scripts:
        session.log(f"--- {script.relative_to(ROOT)}")
        try:
            output = session.run("python", str(script), silent=True)
        except CommandFailed:
            results.append((script, None))
            continue
        print(output, end="", flush=True)
        results.append((script, str(output)))
    print("\n" + "=" * 78)
    print("torsion benchmarks (ratio = torsion / anchor)")
    print("=" * 78)
    for script, output in results:
        print(f"\n## {script.relative_to(ROOT)}\n")
        print(output.rstrip() if output is not None else "FAILED (see above)")
    failed = [str(s.relative_to(ROOT)) for s, o in results if o is None]
    if failed:
        session.error("benchmarks failed: " + ", ".join(failed))


@nox.session
def newsfragments(session: nox.Session) -> None:
    """
    Check that every package whose ``src`` changed since the base revision
    (default ``origin/main``, or ``$NEWSFRAGMENT_BASE``) has a newsfragment.
    """
    session.run("python", "tools/newsfragments.py", *session.posargs)
