"""
Check that every package whose code changed has a newsfragment.

A change under ``packages/<name>/src`` between the base revision and the
working tree needs a new or changed file in ``packages/<name>/newsfragments/``
whose name towncrier understands (``<topic>.<type>.md`` with a type from the
package's ``[tool.towncrier]`` configuration).  Changes that are not
user-visible can use the ``misc`` type.

::

    python tools/newsfragments.py [--base REV]

The base defaults to ``$NEWSFRAGMENT_BASE``, else ``origin/main``, else
``HEAD`` (uncommitted changes only).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workspace import ROOT, Package, discover


def _git(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True)


def defaultBase(root: Path) -> str:
    """The revision to compare with when none is given."""
    if os.environ.get("NEWSFRAGMENT_BASE"):
        return os.environ["NEWSFRAGMENT_BASE"]
    if _git(root, "rev-parse", "--verify", "--quiet", "origin/main").returncode == 0:
        return "origin/main"
    return "HEAD"


def changedFiles(root: Path, base: str) -> list[str]:
    """Files changed since the merge base with ``base``, committed or not."""
    mergeBase = _git(root, "merge-base", base, "HEAD")
    since = mergeBase.stdout.strip() if mergeBase.returncode == 0 else base
    diff = _git(root, "diff", "--name-only", since)
    if diff.returncode != 0:
        raise SystemExit(f"git diff failed: {diff.stderr}")
    untracked = _git(root, "ls-files", "--others", "--exclude-standard")
    return sorted(set(diff.stdout.split()) | set(untracked.stdout.split()))


def fragmentTypes(package: Package) -> set[str]:
    """The fragment types the package's towncrier configuration accepts."""
    towncrier = package.tool.get("towncrier", {})
    types = towncrier.get("type", [])
    assert isinstance(types, list)
    return {str(t["directory"]) for t in types} or {
        "feature", "bugfix", "doc", "removal", "misc"
    }  # fmt: skip


def isFragment(name: str, types: set[str]) -> bool:
    """Whether a file name is a towncrier fragment, e.g. ``cred.feature.md``."""
    parts = name.split(".")
    return any(part in types for part in parts[1:])


def missing(root: Path, base: str) -> list[str]:
    """The problems: one line per package that needs a fragment."""
    files = changedFiles(root, base)
    problems = []
    for package in discover(root):
        rel = package.path.relative_to(root).as_posix()
        src = [f for f in files if f.startswith(f"{rel}/src/")]
        if not src:
            continue
        types = fragmentTypes(package)
        fragments = [
            f
            for f in files
            if f.startswith(f"{rel}/newsfragments/")
            and isFragment(f.rsplit("/", 1)[1], types)
            and (root / f).exists()
        ]
        if not fragments:
            problems.append(
                f"{package.dist}: {len(src)} file(s) changed under {rel}/src "
                f"(e.g. {src[0]}) but no fragment in {rel}/newsfragments/ "
                f"(add <topic>.<{'|'.join(sorted(types))}>.md)"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description="newsfragment check")
    parser.add_argument("--base", default=None, help="revision to compare with")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    base = args.base or defaultBase(root)
    problems = missing(root, base)
    for problem in problems:
        print("ERROR:", problem, file=sys.stderr)
    if not problems:
        print(f"newsfragments: ok (compared with {base})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
