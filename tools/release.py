"""
Release one torsion distribution (run by ``nox -s release``)::

    python tools/release.py <package> <major|minor|patch|X.Y.Z> [--dry-run] [--no-build]

Steps, each touching only that package:

1. compute the new version from the one in ``src/torsion/<pkg>/_version.py``
   (the single source hatch reads) and write it there;
2. compile the package's ``newsfragments/`` into its ``NEWS.md`` with
   towncrier (the fragments are removed, except with ``--dry-run``);
3. build its sdist and wheel into ``dist/`` and check them with twine;
4. commit exactly those files and tag ``torsion-<package>-v<version>``.

``--dry-run`` stops after step 3: the working tree then shows the version
file and ``NEWS.md`` changed (inspect with ``git diff``, undo with
``git checkout HEAD -- packages/<name>``) and nothing is committed or tagged.
Pushing the commit and tag is left to the person releasing.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

from packaging.version import InvalidVersion, Version

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workspace import ROOT, Package, byName, canonicalName


class ReleaseError(Exception):
    """The release cannot go ahead; the message says why."""


def nextVersion(current: str, bump: str) -> str:
    """
    The version after ``current``.

    :param current: the version now, e.g. ``"0.1.0"``.
    :param bump: ``major``, ``minor``, ``patch`` or an explicit ``X.Y.Z``.
    :return: the new version, e.g. ``"0.1.1"`` for ``patch``.
    :raises ReleaseError: if ``bump`` is not valid or not greater than ``current``.
    """
    now = Version(current)
    major, minor, patch = [*now.release, 0, 0, 0][:3]
    if bump == "major":
        new = f"{major + 1}.0.0"
    elif bump == "minor":
        new = f"{major}.{minor + 1}.0"
    elif bump == "patch":
        new = (
            f"{major}.{minor}.{patch + 1}"
            if not now.is_prerelease
            else now.base_version
        )
    else:
        try:
            new = str(Version(bump))
        except InvalidVersion:
            raise ReleaseError(f"not a version or major/minor/patch: {bump!r}")
    if Version(new) <= now:
        raise ReleaseError(f"new version {new} is not greater than {current}")
    return new


def tagName(package: Package, version: str) -> str:
    """The git tag of a release, e.g. ``torsion-trial-v0.1.1``."""
    return f"{canonicalName(package.dist)}-v{version}"


def writeVersion(package: Package, version: str) -> None:
    """Replace the ``__version__`` line of the package's version file."""
    path = package.versionFile
    text = path.read_text(encoding="utf-8")
    new, count = re.subn(
        r"""^(__version__\s*=\s*)(["'])[^"']*\2""",
        lambda m: f"{m.group(1)}{m.group(2)}{version}{m.group(2)}",
        text,
        count=1,
        flags=re.MULTILINE,
    )
    if count != 1:
        raise ReleaseError(f"no __version__ line in {path}")
    path.write_text(new, encoding="utf-8")


def _git(*args: str, root: Path = ROOT, capture: bool = True) -> str:
    result = subprocess.run(
        ["git", *args], cwd=root, capture_output=capture, text=True, check=False
    )
    if result.returncode != 0:
        raise ReleaseError(f"git {' '.join(args)} failed:\n{result.stderr or ''}")
    return result.stdout or ""


def _run(command: list[str], root: Path) -> None:
    print("+", " ".join(command), flush=True)
    if subprocess.call(command, cwd=root) != 0:
        raise ReleaseError(f"{command[0]} ... failed")


def release(
    name: str, bump: str, dryRun: bool, doBuild: bool = True, root: Path = ROOT
) -> str:
    """
    Release one package; see the module docstring.

    :return: the new version.
    :raises ReleaseError: if the package's files have uncommitted changes,
        something is staged, the tag exists, or a step fails.
    """
    package = byName(name, root)
    rel = package.path.relative_to(root)
    if _git("status", "--porcelain", "--", str(rel), root=root).strip():
        raise ReleaseError(f"{rel} has uncommitted changes; commit or stash them first")
    if not dryRun and _git("diff", "--cached", "--name-only", root=root).strip():
        raise ReleaseError("the git index has staged changes; a release commits alone")
    current = package.version
    version = nextVersion(current, bump)
    tag = tagName(package, version)
    if _git("tag", "--list", tag, root=root).strip():
        raise ReleaseError(f"tag {tag} already exists")
    print(f"{package.dist}: {current} -> {version}{' (dry run)' if dryRun else ''}")

    writeVersion(package, version)
    towncrier = [
        sys.executable, "-m", "towncrier", "build", "--version", version,
        "--dir", str(package.path), "--config", str(package.path / "pyproject.toml"),
    ]  # fmt: skip
    _run(towncrier + (["--keep"] if dryRun else ["--yes"]), root)

    if doBuild:
        dist = root / "dist"
        dist.mkdir(exist_ok=True)
        stem = canonicalName(package.dist).replace("-", "_")
        for old in dist.glob(f"{stem}-{version}*"):
            old.unlink()
        _run(
            [sys.executable, "-m", "build", "--outdir", str(dist), str(package.path)],
            root,
        )
        artifacts = sorted(str(p) for p in dist.glob(f"{stem}-{version}*"))
        _run([sys.executable, "-m", "twine", "check", "--strict", *artifacts], root)

    changed = _git("status", "--porcelain", "--", str(rel), root=root)
    print(changed, end="")
    if dryRun:
        print(f"dry run: not committed, not tagged ({tag}).")
        print(f"undo with: git checkout HEAD -- {rel}")
        return version
    _git("add", "--all", "--", str(rel), root=root)
    _git(
        "commit",
        "--quiet",
        "-m",
        f"Release {package.dist} {version}",
        "--",
        str(rel),
        root=root,
    )
    _git("tag", "-a", tag, "-m", f"{package.dist} {version}", root=root)
    print(f"committed and tagged {tag}; push with: git push origin HEAD {tag}")
    return version


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(
        prog="nox -s release --", description="Release one torsion distribution."
    )
    parser.add_argument("package", help="e.g. trial or torsion-trial")
    parser.add_argument("bump", help="major, minor, patch or X.Y.Z")
    parser.add_argument("--dry-run", action="store_true", help="do not commit or tag")
    parser.add_argument("--no-build", action="store_true", help="skip build and twine")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        release(
            args.package,
            args.bump,
            args.dry_run,
            not args.no_build,
            args.root.resolve(),
        )
    except (ReleaseError, KeyError) as e:
        print(f"release: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
