"""
Run mypy over every distribution's sources with the workspace configuration.

The root ``pyproject.toml`` holds the mypy settings developers use when they
run ``mypy`` by hand.  This script takes those settings and adds what must
follow the discovered distributions, so that a new package or a new
top-level module of core needs no edit here:

- ``mypy_path``: every ``packages/<name>/src``;
- strict mode for every top-level module of core (``torsion.internet``,
  ``torsion.python``, ... as found in ``packages/core/src/torsion/*``);
  the other distributions are checked with the root's global settings
  (fully typed definitions, not strict).

::

    python tools/typecheck.py [--print] [extra mypy arguments]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workspace import NAMESPACE, ROOT, discover


def _ini(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def generate(root: Path = ROOT) -> str:
    """The mypy configuration (INI format) for the tree at ``root``."""
    with (root / "pyproject.toml").open("rb") as f:
        settings = dict(tomllib.load(f)["tool"]["mypy"])
    overrides = settings.pop("overrides", [])
    packages = discover(root)
    settings["mypy_path"] = ":".join(str(p.srcDir) for p in packages)
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
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    """Run mypy (or print its generated configuration with ``--print``)."""
    config = generate()
    if "--print" in argv:
        print(config)
        return 0
    targets = [
        str(p.srcDir / NAMESPACE) for p in discover() if (p.srcDir / NAMESPACE).is_dir()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "mypy.ini")
        path.write_text(config, encoding="utf-8")
        command = [
            sys.executable,
            "-m",
            "mypy",
            "--config-file",
            str(path),
            *argv,
            *targets,
        ]
        return subprocess.call(command, cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
