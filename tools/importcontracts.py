"""
Generate and check the import contracts between torsion's distributions.

The rule (see ``DESIGN.md``): torsion-core imports no other torsion
distribution, and no distribution imports a sibling, except through an
optional integration that its ``pyproject.toml`` lists explicitly::

    [tool.torsion]
    optional-integrations = ["torsion.mail.relay -> torsion.names.client"]

Such an import must be lazy (inside a function, or under ``if TYPE_CHECKING``)
and the imported distribution must be named by one of the importer's extras.

Because ``torsion`` is a PEP 420 namespace with many top-level modules per
distribution, the contracts cannot be written by hand once: this script derives
each distribution's modules from ``packages/<name>/src/torsion/*``, writes an
import-linter configuration and runs ``lint-imports`` on it.

Usage::

    python tools/importcontracts.py            # check
    python tools/importcontracts.py --print    # show the generated config
    python tools/importcontracts.py --root DIR # check another checkout
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from workspace import (
    ROOT,
    Package,
    canonicalName,
    discover,
    requirementName,
)


class ContractError(Exception):
    """A listed optional integration breaks the rules for one."""


def _owner(module: str, packages: list[Package]) -> Package | None:
    for package in packages:
        for top in package.modules:
            if module == top or module.startswith(top + "."):
                return package
    return None


def _moduleFile(module: str, package: Package) -> Path:
    base = package.srcDir.joinpath(*module.split("."))
    if (base / "__init__.py").exists():
        return base / "__init__.py"
    return base.with_suffix(".py")


def _isTypeCheckingTest(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "TYPE_CHECKING") or (
        isinstance(node, ast.Attribute) and node.attr == "TYPE_CHECKING"
    )


def _eagerImports(tree: ast.Module) -> list[tuple[int, str]]:
    """Imports executed when the module is imported: (line, imported module)."""
    found: list[tuple[int, str]] = []

    def visit(body: list[ast.stmt]) -> None:
        for node in body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(node, ast.If) and _isTypeCheckingTest(node.test):
                visit(node.orelse)
                continue
            if isinstance(node, ast.Import):
                found.extend((node.lineno, alias.name) for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append((node.lineno, node.module))
                found.extend(
                    (node.lineno, f"{node.module}.{alias.name}") for alias in node.names
                )
            for name in ("body", "orelse", "finalbody", "handlers"):
                child = getattr(node, name, None)
                if isinstance(child, list):
                    visit([c for c in child if isinstance(c, ast.stmt)])
                    for handler in child:
                        if isinstance(handler, ast.ExceptHandler):
                            visit(handler.body)

    visit(tree.body)
    return found


def integrations(package: Package, packages: list[Package]) -> list[tuple[str, str]]:
    """
    The optional integrations ``package`` lists, checked.

    :return: ``(importer, imported)`` module pairs.
    :raises ContractError: if an entry is malformed, names a module of another
        distribution as importer, names a distribution not among the extras,
        or imports the sibling eagerly.
    """
    entries = package.settings.get("optional-integrations", [])
    assert isinstance(entries, list)
    extras = {requirementName(r) for reqs in package.extras.values() for r in reqs}
    pairs = []
    for entry in entries:
        importer, sep, imported = str(entry).partition("->")
        importer, imported = importer.strip(), imported.strip()
        if not sep or not importer or not imported:
            raise ContractError(
                f"{package.dist}: bad entry {entry!r}, want 'a.b -> c.d'"
            )
        if _owner(importer, [package]) is None:
            raise ContractError(f"{package.dist}: {importer} is not one of its modules")
        target = _owner(imported, packages)
        if target is None or target is package or target.isCore:
            raise ContractError(f"{package.dist}: {imported} is not a sibling's module")
        if canonicalName(target.dist) not in extras:
            raise ContractError(
                f"{package.dist}: {imported} belongs to {target.dist}, which no "
                f"optional extra of {package.dist} names"
            )
        source = _moduleFile(importer, package)
        if source.exists():
            tree = ast.parse(source.read_text(encoding="utf-8"), str(source))
            for line, name in _eagerImports(tree):
                if name == imported or name.startswith(imported + "."):
                    raise ContractError(
                        f"{source}:{line}: {importer} imports {name} at import "
                        "time; an optional integration must import lazily"
                    )
        pairs.append((importer, imported))
    return pairs


def _allImports(tree: ast.Module) -> list[tuple[int, str]]:
    """Every absolute import in a module, lazy or not: (line, imported module)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found.append((node.lineno, node.module))
            found.extend((node.lineno, f"{node.module}.{a.name}") for a in node.names)
    return found


def _isPackage(module: str, package: Package) -> bool:
    return (package.srcDir.joinpath(*module.split(".")) / "__init__.py").exists()


def _within(name: str, modules: list[str]) -> bool:
    return any(name == m or name.startswith(m + ".") for m in modules)


def singleFileViolations(root: Path = ROOT) -> list[str]:
    """
    The contract violations import-linter cannot see: import-linter's graph
    only holds packages, so a top-level single-file module (``torsion/x.py``)
    is checked here, both as importer and as imported, by reading its source.

    :return: one line per forbidden import, ``file:line: a -> b``.
    """
    packages = [p for p in discover(root) if p.modules]
    problems = []
    for package in packages:
        siblings = [
            m
            for other in packages
            if other is not package and not other.isCore
            for m in other.modules
        ]
        fileTargets = [
            m
            for other in packages
            if other is not package and not other.isCore
            for m in other.modules
            if not _isPackage(m, other)
        ]
        allowed = integrations(package, packages)
        for top in package.modules:
            isFile = not _isPackage(top, package)
            base = package.srcDir.joinpath(*top.split("."))
            files = [base.with_suffix(".py")] if isFile else sorted(base.rglob("*.py"))
            targets = siblings if isFile else fileTargets
            if not targets:
                continue
            for path in files:
                tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
                for line, name in _allImports(tree):
                    if not _within(name, targets):
                        continue
                    if any(_within(name, [b]) for _, b in allowed):
                        continue
                    problems.append(f"{path}:{line}: {top} -> {name}")
    return problems


def _lines(items: list[str] | tuple[str, ...]) -> str:
    return "".join(f"\n    {item}" for item in items)


def generate(root: Path = ROOT) -> str:
    """
    The import-linter configuration for the distributions under ``root``.

    :raises ContractError: as ``integrations`` does.
    """
    packages = [p for p in discover(root) if p.modules]
    # import-linter's roots must be packages; single-file top-level modules
    # are checked by singleFileViolations instead.
    graphModules = {
        p.name: [m for m in p.modules if _isPackage(m, p)] for p in packages
    }
    everything = [m for p in packages for m in graphModules[p.name]]
    out = [
        "# Generated by tools/importcontracts.py from packages/*/src/torsion/*.",
        "[importlinter]",
        f"root_packages ={_lines(everything)}",
        "include_external_packages = False",
        "",
    ]
    for package in packages:
        siblings = [
            m
            for other in packages
            if other is not package and not other.isCore
            for m in graphModules[other.name]
        ]
        if not siblings or not graphModules[package.name]:
            continue
        if package.isCore:
            title = f"{package.dist} imports no other torsion distribution"
        else:
            title = (
                f"{package.dist} imports no sibling distribution "
                "(only torsion-core, and listed lazy optional integrations)"
            )
        out += [
            f"[importlinter:contract:{package.name}-independent]",
            f"name = {title}",
            "type = forbidden",
            f"source_modules ={_lines(graphModules[package.name])}",
            f"forbidden_modules ={_lines(siblings)}",
        ]
        ignored = [f"{a} -> {b}" for a, b in integrations(package, packages)]
        if ignored:
            out.append(f"ignore_imports ={_lines(ignored)}")
        out.append("")
    return "\n".join(out)


def check(root: Path = ROOT, extraArgs: list[str] | None = None) -> int:
    """
    Run ``lint-imports`` on the generated contracts, with the source
    directories of ``root`` first on the import path.

    :return: lint-imports' exit status (0 when every contract is kept).
    """
    try:
        config = generate(root)
    except ContractError as e:
        print(f"import contracts: {e}", file=sys.stderr)
        return 2
    violations = singleFileViolations(root)
    for violation in violations:
        print(f"BROKEN (import of a sibling distribution): {violation}")
    packages = discover(root)
    env = dict(os.environ)
    paths = [str(p.srcDir) for p in packages]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "importlinter.ini")
        path.write_text(config, encoding="utf-8")
        command = [
            sys.executable,
            "-c",
            _RUNNER,
            "--config",
            str(path),
            "--no-cache",
            "--no-logo",
        ]
        status = subprocess.call([*command, *(extraArgs or [])], cwd=tmp, env=env)
    return status or (1 if violations else 0)


# lint-imports' console script, run with this interpreter and our PYTHONPATH.
_RUNNER = "import sys; from importlinter.cli import lint_imports_command as c; c()"


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    parser.add_argument("--print", action="store_true", help="print the config")
    args, rest = parser.parse_known_args(argv)
    if args.print:
        print(generate(args.root.resolve()))
        return 0
    return check(args.root.resolve(), rest)


if __name__ == "__main__":
    sys.exit(main())
