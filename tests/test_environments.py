"""Every package the suite and its tests use is pinned in both environments at one version
(issue #14 C.13), and the runtime ones are declared in pyproject.toml."""
from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
# Used without an import statement of their own: pandas' to_markdown (tabulate), the workflow
# (snakemake), the `benchmark` fixture and pyproject's --benchmark-* pytest options.
IMPLICIT = {"tabulate": "runtime", "snakemake": "runtime", "pytest-benchmark": "test"}


def _imported(root: str) -> set[str]:
    found = set()
    for path in (REPO_ROOT / root).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {m for m in found if m not in sys.stdlib_module_names
            and m not in ("replication", "conftest", "tests")}


def _distributions(modules: set[str]) -> set[str]:
    names = metadata.packages_distributions()
    missing = sorted(m for m in modules if m not in names)
    assert not missing, f"imported but not installed: {missing}"
    return {names[m][0] for m in modules}


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[_normal(name)] = version.strip()
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_every_used_package_is_pinned_in_both_environments_at_the_same_version():
    runtime = _distributions(_imported("replication")) | {
        k for k, v in IMPLICIT.items() if v == "runtime"}
    used = runtime | _distributions(_imported("tests")) | set(IMPLICIT)
    cpu, cuda = _pins(REPO_ROOT / "envs" / "cpu.lock.txt"), _pins(REPO_ROOT / "envs" / "cuda.txt")
    for name in sorted(map(_normal, used)):
        assert name in cpu, f"{name} is used but not pinned in envs/cpu.lock.txt"
        assert name in cuda, f"{name} is used but not pinned in envs/cuda.txt"
        # torch's build aside (+cpu in the CPU lock), the versions are the same
        assert cpu[name].split("+")[0] == cuda[name].split("+")[0], name
    # the GPU file is the CPU lock with the CUDA build of torch: nothing more, nothing less
    assert set(cpu) == set(cuda)


def test_runtime_imports_are_declared_in_pyproject():
    text = (REPO_ROOT / "pyproject.toml").read_text()
    block = text[text.index("dependencies = ["):text.index("]", text.index("dependencies = ["))]
    declared = {_normal(re.split(r"[<>=!~ ]", entry.strip().strip('",'))[0])
                for entry in block.splitlines()[1:] if entry.strip()}
    runtime = _distributions(_imported("replication")) | {
        k for k, v in IMPLICIT.items() if v == "runtime"}
    assert {_normal(n) for n in runtime} <= declared, sorted(
        {_normal(n) for n in runtime} - declared)
