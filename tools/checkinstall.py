"""
Check what is installed in the running environment (used by ``nox -s build``
and ``nox -s tests_isolated`` inside their clean environments).

::

    python tools/checkinstall.py --only torsion-core torsion-trial \\
        --installed torsion.trial torsion.core

``--only``: exactly these torsion distributions are installed, no other.
``--installed``: each module imports from an installed wheel (not from a
source checkout), and a distribution's top package (``torsion.<name>``) has a
``__version__`` equal to the installed metadata version.  In every case the
``torsion`` namespace must be a PEP 420 namespace package.

Only the standard library is used: it runs in environments holding nothing but
our wheels.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import re
import sys
import sysconfig
from pathlib import Path


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installedTorsion() -> set[str]:
    """The canonical names of the installed ``torsion-*`` distributions."""
    return {
        _canonical(d.metadata["Name"])
        for d in importlib.metadata.distributions()
        if _canonical(d.metadata["Name"]).startswith("torsion-")
    }


def main(argv: list[str] | None = None) -> int:
    """Run the checks; print what is wrong and return 1, or 0."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", default=None)
    parser.add_argument("--installed", nargs="*", default=[])
    args = parser.parse_args(argv)
    problems: list[str] = []

    import torsion

    if getattr(torsion, "__file__", None) is not None:
        problems.append(f"torsion is not a namespace package: {torsion.__file__}")
    for entry in torsion.__path__:
        if Path(entry, "__init__.py").exists():
            problems.append(f"{entry}/__init__.py exists: torsion must stay PEP 420")

    if args.only is not None:
        want = {_canonical(n) for n in args.only}
        have = installedTorsion()
        if want != have:
            problems.append(
                f"torsion distributions installed: {sorted(have)}, "
                f"expected {sorted(want)}"
            )

    sitePaths = {
        Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")
    }
    for name in args.installed:
        module = importlib.import_module(name)
        where = Path(module.__file__ or next(iter(module.__path__))).resolve()
        if not any(where.is_relative_to(site) for site in sitePaths):
            problems.append(f"{name} imported from {where}, not from site-packages")
        dist = "torsion-" + name.split(".")[1] if name.count(".") == 1 else None
        if dist and _canonical(dist) in installedTorsion():
            version = importlib.metadata.version(dist)
            declared = getattr(module, "__version__", None)
            if declared != version:
                problems.append(
                    f"{name}.__version__ is {declared!r}, "
                    f"{dist} metadata says {version!r}"
                )
            else:
                print(f"{name} {declared} ok ({where})")

    for problem in problems:
        print("ERROR:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
