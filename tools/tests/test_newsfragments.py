"""``tools/newsfragments.py``: a change under packages/X/src needs a fragment."""

from __future__ import annotations

from pathlib import Path

from _tree import git, gitRepository
from newsfragments import missing


def touchSource(root: Path, package: str) -> None:
    path = next((root / "packages" / package / "src").rglob("_version.py"))
    path.write_text(path.read_text() + "# touched\n")


def test_clean_tree_needs_nothing(tmp_path: Path) -> None:
    root = gitRepository(tmp_path)
    assert missing(root, "HEAD") == []


def test_source_change_without_fragment(tmp_path: Path) -> None:
    root = gitRepository(tmp_path)
    touchSource(root, "trial")
    problems = missing(root, "HEAD")
    assert len(problems) == 1
    assert problems[0].startswith("torsion-trial:")


def test_fragment_in_the_same_package_satisfies(tmp_path: Path) -> None:
    root = gitRepository(tmp_path)
    touchSource(root, "trial")
    (root / "packages" / "trial" / "newsfragments" / "x.bugfix.md").write_text(
        "Fixed.\n"
    )
    assert missing(root, "HEAD") == []


def test_fragment_elsewhere_does_not(tmp_path: Path) -> None:
    root = gitRepository(tmp_path)
    touchSource(root, "trial")
    (root / "packages" / "core" / "newsfragments" / "x.bugfix.md").write_text(
        "Fixed.\n"
    )
    assert [p.split(":")[0] for p in missing(root, "HEAD")] == ["torsion-trial"]


def test_committed_changes_since_base(tmp_path: Path) -> None:
    root = gitRepository(tmp_path)
    base = git(root, "rev-parse", "HEAD").strip()
    touchSource(root, "core")
    git(root, "commit", "--quiet", "-am", "change core")
    assert [p.split(":")[0] for p in missing(root, base)] == ["torsion-core"]
    (root / "packages" / "core" / "newsfragments" / "y.misc.md").write_text("")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "fragment")
    assert missing(root, base) == []


def test_non_fragment_file_does_not_count(tmp_path: Path) -> None:
    root = gitRepository(tmp_path)
    touchSource(root, "core")
    (root / "packages" / "core" / "newsfragments" / "notes.txt").write_text("x\n")
    assert len(missing(root, "HEAD")) == 1
