"""Throwaway copies of the monorepo for the pipeline's tests."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from workspace import ROOT, discover

GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "torsion tests",
    "GIT_AUTHOR_EMAIL": "tests@torsion.invalid",
    "GIT_COMMITTER_NAME": "torsion tests",
    "GIT_COMMITTER_EMAIL": "tests@torsion.invalid",
    "GIT_CONFIG_NOSYSTEM": "1",
}

_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".mypy_cache", "build", "dist")


def copyTree(destination: Path) -> Path:
    """
    Copy what the pipeline reads (each package's metadata, sources,
    changelog and fragments, the root configuration and ``tools/``) into
    ``destination``; tests, benchmarks and docs are left out.
    """
    destination.mkdir(parents=True, exist_ok=True)
    shutil.copy2(ROOT / "pyproject.toml", destination / "pyproject.toml")
    shutil.copytree(ROOT / "tools", destination / "tools", ignore=_IGNORE)
    for package in discover():
        target = destination / package.path.relative_to(ROOT)
        target.mkdir(parents=True)
        for name in ("pyproject.toml", "NEWS.md", "README.md"):
            if (package.path / name).exists():
                shutil.copy2(package.path / name, target / name)
        shutil.copytree(package.srcDir, target / "src", ignore=_IGNORE)
        shutil.copytree(
            package.newsfragmentsDir, target / "newsfragments", ignore=_IGNORE
        )
    return destination


def git(root: Path, *args: str) -> str:
    """Run git in ``root`` with a fixed identity; return its output."""
    env = {**os.environ, **GIT_IDENTITY, "HOME": str(root)}
    return subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    ).stdout


def gitRepository(destination: Path) -> Path:
    """A throwaway copy of the tree, committed in a fresh git repository."""
    copyTree(destination)
    git(destination, "init", "--quiet", "--initial-branch=main")
    git(destination, "add", "--all")
    git(destination, "commit", "--quiet", "-m", "throwaway copy")
    return destination
