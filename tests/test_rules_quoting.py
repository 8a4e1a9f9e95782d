"""No config value reaches a shell unquoted (issue 13, point 4).

Static: every ``{field}`` of every rule's shell command is quoted with ``:q`` (``{threads}``, an
integer Snakemake controls, is the one exception). Dynamic: a dry run with hostile values
prints commands whose arguments, split as the shell splits them, are those values verbatim.
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
UNQUOTED_OK = {"threads"}


def _shell_fields(path: Path) -> list[tuple[int, str]]:
    fields, in_shell = [], False
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if stripped == "shell:":
            in_shell = True
            continue
        if in_shell and stripped.startswith('"'):
            fields += [(number, field) for field in re.findall(r"\{([^{}]+)\}", stripped)]
        elif in_shell:
            in_shell = False
    return fields


def test_every_shell_field_is_quoted():
    files = [REPO_ROOT / "Snakefile", *sorted((REPO_ROOT / "rules").glob("*.smk"))]
    fields = [(path.name, number, field) for path in files for number, field in _shell_fields(path)]
    assert len(fields) > 50  # the parser found the shell commands
    unquoted = [f"{name}:{number}: {{{field}}}" for name, number, field in fields
                if not field.endswith(":q") and field not in UNQUOTED_OK]
    assert not unquoted, "unquoted shell fields:\n" + "\n".join(unquoted)


def test_hostile_paths_arrive_as_single_arguments(tmp_path):
    data_dir = "my data; touch pwned;"
    checkpoints = "check points $(touch pwned)"
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds", "--forceall",
         "--cores", "1", "results/smoke/classify/mlp/seed0/metrics.json", "--config",
         "scale=smoke", f"data_dir={data_dir}", f"checkpoint_dir={checkpoints}",
         "data_mirror=../mirror with space; touch pwned"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    commands = [line.split("Shell command:", 1)[1].strip() for line in done.stdout.splitlines()
                if "Shell command: python -m replication" in line]
    train = next(shlex.split(c) for c in commands if " train " in c)
    fetch = next(shlex.split(c) for c in commands if " fetch " in c)
    assert train[train.index("--data-dir") + 1] == data_dir
    assert train[train.index("--checkpoint-dir") + 1] == f"{checkpoints}/smoke/classify"
    assert "--mirror=../mirror with space; touch pwned" in fetch
    assert not list(REPO_ROOT.glob("pwned"))


def test_no_mirror_passes_an_empty_mirror_argument():
    """data_mirror: null → `--mirror=` (fall back to $REPLICATION_DATA_MIRROR), not a lost flag."""
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds", "--forceall",
         "--cores", "1", "data/manifests/mnist.json", "--config", "scale=smoke"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    (fetch,) = [shlex.split(line.split("Shell command:", 1)[1]) for line in done.stdout.splitlines()
                if "Shell command: python -m replication fetch" in line]
    assert "--mirror=" in fetch
    from replication.cli import build_parser

    args = build_parser().parse_args(fetch[3:fetch.index(">")])
    assert args.mirror == "" and args.dataset == ["mnist"]
