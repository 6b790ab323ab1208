"""
Check the artifacts ``nox -s build`` wrote into ``dist/``: one wheel and one
sdist per distribution, each with that distribution's own version; no wheel
ships ``torsion/__init__.py`` (the namespace is PEP 420), every top-level
package in a wheel carries ``py.typed`` (PEP 561 for namespace packages),
wheels carry only runtime code, and no hard requirement names a sibling.

::

    python tools/checkdist.py dist/
"""

from __future__ import annotations

import email.parser
import sys
import tarfile
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workspace import (
    NAMESPACE,
    Package,
    canonicalName,
    discover,
    localDistributions,
    requirementName,
)


def checkWheel(wheel: Path, package: Package) -> list[str]:
    """Problems with one wheel of ``package``."""
    problems = []
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadataName = next(n for n in names if n.endswith(".dist-info/METADATA"))
        metadata = email.parser.Parser().parsestr(z.read(metadataName).decode())
    if f"{NAMESPACE}/__init__.py" in names:
        problems.append(f"{wheel.name} ships {NAMESPACE}/__init__.py")
    tops = {
        n.split("/")[1]
        for n in names
        if n.startswith(f"{NAMESPACE}/") and n.count("/") >= 2
    }
    for top in sorted(tops):
        if f"{NAMESPACE}/{top}/py.typed" not in names:
            problems.append(
                f"{wheel.name}: {NAMESPACE}/{top}/ has no py.typed (add an empty "
                f"packages/{package.name}/src/{NAMESPACE}/{top}/py.typed)"
            )
    stray = [
        n
        for n in names
        if not n.startswith((f"{NAMESPACE}/", f"{wheel.name.split('-')[0]}-"))
    ]
    if stray:
        problems.append(f"{wheel.name} ships files outside {NAMESPACE}/: {stray[:5]}")
    if metadata["Version"] != package.version:
        problems.append(
            f"{wheel.name}: version {metadata['Version']} != {package.version}"
        )
    local = localDistributions()
    for requirement in metadata.get_all("Requires-Dist") or []:
        name = requirementName(requirement)
        sibling = local.get(name)
        if sibling is None or sibling.isCore:
            continue
        if "extra ==" not in requirement:
            problems.append(f"{wheel.name} requires sibling {name} outside an extra")
    return problems


def check(dist: Path) -> list[str]:
    """Problems with the whole ``dist`` directory."""
    problems = []
    for package in discover():
        stem = canonicalName(package.dist).replace("-", "_")
        wheels = sorted(dist.glob(f"{stem}-*.whl"))
        sdists = sorted(dist.glob(f"{stem}-*.tar.gz"))
        if len(wheels) != 1 or len(sdists) != 1:
            problems.append(f"{package.dist}: wheels {wheels}, sdists {sdists}")
            continue
        for artifact in (*wheels, *sdists):
            if f"-{package.version}" not in artifact.name:
                problems.append(f"{artifact.name} is not version {package.version}")
        problems += checkWheel(wheels[0], package)
        with tarfile.open(sdists[0]) as t:
            members = t.getnames()
        for needed in ("pyproject.toml", "NEWS.md", "README.md"):
            if not any(m.endswith(f"/{needed}") and m.count("/") == 1 for m in members):
                problems.append(f"{sdists[0].name} lacks {needed}")
        print(f"{package.dist} {package.version}: {wheels[0].name}, {sdists[0].name}")
    return problems


def main(argv: list[str]) -> int:
    """Check the directory named by the first argument (default ``dist``)."""
    problems = check(Path(argv[0] if argv else "dist"))
    for problem in problems:
        print("ERROR:", problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
