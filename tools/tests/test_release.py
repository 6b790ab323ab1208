"""
``tools/release.py`` (``nox -s release``) on a throwaway repository: the dry
run changes only the package's version and NEWS.md; the real run commits and
tags ``torsion-<package>-v<version>``.  Building is covered by ``nox -s
build``; here it is skipped (``--no-build``) to stay offline.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from _tree import GIT_IDENTITY, git, gitRepository
from release import ReleaseError, nextVersion
from workspace import byName


@pytest.mark.parametrize(
    ("current", "bump", "expected"),
    [
        ("0.1.0", "patch", "0.1.1"),
        ("0.1.9", "minor", "0.2.0"),
        ("1.4.2", "major", "2.0.0"),
        ("0.1.0", "0.3.0", "0.3.0"),
        ("0.2.0rc1", "patch", "0.2.0"),
    ],
)
def test_next_version(current: str, bump: str, expected: str) -> None:
    assert nextVersion(current, bump) == expected


@pytest.mark.parametrize("bump", ["0.1.0", "0.0.9", "bogus"])
def test_next_version_refuses(bump: str) -> None:
    with pytest.raises(ReleaseError):
        nextVersion("0.1.0", bump)


def runRelease(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **GIT_IDENTITY, "HOME": str(root)}
    return subprocess.run(
        [sys.executable, str(root / "tools" / "release.py"), *args, "--no-build"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = gitRepository(tmp_path / "repo")
    fragment = root / "packages" / "trial" / "newsfragments" / "relnote.feature.md"
    fragment.write_text("Something users will like.\n")
    git(root, "add", str(fragment))
    git(root, "commit", "--quiet", "-m", "a change with a fragment")
    return root


def test_dry_run_changes_only_version_and_news(repo: Path) -> None:
    before = byName("trial", repo).version
    expected = nextVersion(before, "patch")
    result = runRelease(repo, "trial", "patch", "--dry-run")
    assert result.returncode == 0, result.stdout + result.stderr
    changed = sorted(
        line[3:] for line in git(repo, "status", "--porcelain").splitlines()
    )
    assert changed == [
        "packages/trial/NEWS.md",
        "packages/trial/src/torsion/trial/_version.py",
    ]
    assert byName("trial", repo).version == expected
    news = (repo / "packages" / "trial" / "NEWS.md").read_text()
    assert f"torsion-trial {expected}" in news
    assert "Something users will like." in news
    assert git(repo, "tag", "--list") == ""
    assert len(git(repo, "log", "--oneline").splitlines()) == 2


def test_release_commits_and_tags(repo: Path) -> None:
    coreBefore = byName("core", repo).version
    expected = nextVersion(byName("trial", repo).version, "patch")
    result = runRelease(repo, "trial", "patch")
    assert result.returncode == 0, result.stdout + result.stderr
    assert git(repo, "tag", "--list").split() == [f"torsion-trial-v{expected}"]
    assert git(repo, "status", "--porcelain") == ""
    files = git(repo, "show", "--name-status", "--format=%s", "HEAD").splitlines()
    assert files[0] == f"Release torsion-trial {expected}"
    changed = sorted(f for f in files[1:] if f)
    assert [f for f in changed if not f.startswith("D\t")] == [
        "M\tpackages/trial/NEWS.md",
        "M\tpackages/trial/src/torsion/trial/_version.py",
    ]
    deleted = [f[2:] for f in changed if f.startswith("D\t")]
    assert "packages/trial/newsfragments/relnote.feature.md" in deleted
    assert all(f.startswith("packages/trial/newsfragments/") for f in deleted)
    assert byName("core", repo).version == coreBefore
    again = runRelease(repo, "trial", expected)
    assert again.returncode != 0
    assert "not greater" in again.stderr


def test_refuses_dirty_package(repo: Path) -> None:
    (repo / "packages" / "trial" / "README.md").write_text("edited\n")
    result = runRelease(repo, "trial", "patch")
    assert result.returncode != 0
    assert "uncommitted changes" in result.stderr
    assert git(repo, "tag", "--list") == ""


def test_unknown_package(repo: Path) -> None:
    result = runRelease(repo, "nosuch", "patch")
    assert result.returncode != 0
    assert "no package 'nosuch'" in result.stderr
