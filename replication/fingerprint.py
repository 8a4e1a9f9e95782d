"""Content fingerprints of the package code a job runs, for Snakemake to rerun on change.

Snakemake does not see Python modules a command imports. Each rule therefore
passes, as a ``params`` entry, the fingerprint of the modules its command
imports — followed transitively through ``replication``'s own imports — and
Snakemake reruns the job when the fingerprint changes. The fingerprint hashes
each module's syntax tree, so comments and formatting do not trigger reruns.

Pure standard library: the Snakefile imports it at parse time.
"""
from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = "replication"
PACKAGE_DIR = Path(__file__).resolve().parent


def module_path(module: str) -> Path:
    parts = module.split(".")
    if parts[0] != PACKAGE:
        raise ValueError(f"{module!r} is not a module of {PACKAGE}")
    base = PACKAGE_DIR.joinpath(*parts[1:])
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    raise ModuleNotFoundError(f"no source file for {module!r} under {PACKAGE_DIR}")


@lru_cache(maxsize=None)
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _package_imports(module: str) -> set[str]:
    """Modules of the package that *module* imports, including parent packages."""
    path = module_path(module)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(_parse(path)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: resolve against the importing package
                package = module.split(".") if is_package else module.split(".")[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            if name == PACKAGE or name.startswith(PACKAGE + "."):
                try:
                    module_path(name)
                except ModuleNotFoundError:
                    continue  # ``from pkg import function``: not a module
                found.add(name)
    return found


def _with_parents(module: str) -> set[str]:
    """Importing a.b.c runs a/__init__ and a/b/__init__ too."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def dependency_closure(*modules: str) -> list[str]:
    """*modules* and every package module they import, transitively, sorted."""
    seen: set[str] = set()
    pending = list(modules)
    while pending:
        module = pending.pop()
        if module in seen:
            continue
        seen.add(module)
        pending.extend(_with_parents(module) - seen)
        for imported in _package_imports(module):
            pending.extend(_with_parents(imported) - seen)
    return sorted(seen)


def code_fingerprint(*modules: str) -> str:
    """A short hash of the syntax trees of *modules* and their package dependencies."""
    digest = hashlib.sha256()
    for module in dependency_closure(*modules):
        digest.update(module.encode())
        digest.update(ast.dump(_parse(module_path(module))).encode())
    return digest.hexdigest()[:16]
