"""
``Deferred`` is generic: check with mypy (strict) that typical code type
checks and that result types flow through callbacks.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

api = pytest.importorskip("mypy.api")

SRC = Path(__file__).resolve().parents[1] / "src"

SNIPPET = """
from typing import Any
from collections.abc import Generator
from torsion.internet.defer import (
    Deferred, DeferredList, ensureDeferred, gatherResults, inlineCallbacks,
    maybeDeferred, succeed,
)
from torsion.python.failure import Failure

def toStr(x: int, suffix: str = "") -> str:
    return str(x) + suffix

def recover(f: Failure) -> int:
    return 0

def nested(x: str) -> Deferred[bytes]:
    return succeed(x.encode())

d: Deferred[int] = Deferred()
reveal_type(d.addCallback(toStr, suffix="!"))
reveal_type(d.addCallback(toStr).addCallback(nested))
reveal_type(d.addErrback(recover))
reveal_type(succeed(1))
reveal_type(maybeDeferred(toStr, 1))
reveal_type(gatherResults([succeed(1), succeed(2)]))

async def coro() -> int:
    value = await succeed(3)
    reveal_type(value)
    return value

reveal_type(ensureDeferred(coro()))
reveal_type(Deferred.fromCoroutine(coro()))

@inlineCallbacks
def gen(x: int) -> Generator[Deferred[Any], Any, str]:
    yield succeed(x)
    return "done"

reveal_type(gen(1))
d.callback(4)
"""

BAD = """
from torsion.internet.defer import Deferred

def needsStr(x: str) -> str:
    return x

d: Deferred[int] = Deferred()
d.addCallback(needsStr)
d.callback("not an int")
"""


def runMypy(tmp_path: Path, source: str) -> tuple[str, int]:
    path = tmp_path / "snippet.py"
    path.write_text(textwrap.dedent(source))
    stdout, stderr, status = api.run(
        [
            "--strict",
            "--no-incremental",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--config-file",
            "",
            "--python-version",
            "3.11",
            str(path),
        ]
    )
    return stdout + stderr, status


def test_deferred_types_flow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MYPYPATH", str(SRC))
    out, _ = runMypy(tmp_path, SNIPPET)
    revealed = [line for line in out.splitlines() if "Revealed type" in line]
    errors = [line for line in out.splitlines() if "error:" in line]
    assert errors == [], out
    expected = [
        "Deferred[str]",
        "Deferred[bytes]",
        "Deferred[int]",
        "Deferred[int]",
        "Deferred[str]",
        "Deferred[list[int]]",
        "int",
        "Deferred[int]",
        "Deferred[int]",
        "Deferred[str]",
    ]
    assert len(revealed) == len(expected), out
    for line, want in zip(revealed, expected, strict=True):
        revealedType = line.split("Revealed type is ", 1)[1].strip('"')
        assert revealedType.removeprefix("torsion.internet.defer.") == want, line


def test_mismatched_types_rejected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MYPYPATH", str(SRC))
    out, status = runMypy(tmp_path, BAD)
    errors = [line for line in out.splitlines() if "error:" in line]
    assert status != 0
    assert len(errors) == 2, out
