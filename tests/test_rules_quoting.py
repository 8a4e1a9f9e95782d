"""No config value reaches a shell unquoted (issue 13, point 4).

Static: every ``{field}`` of every rule's shell command is quoted with ``:q`` (``{threads}``, an
integer Snakemake controls, is the one exception). Dynamic: a dry run with hostile values
prints commands whose arguments, split as the shell splits them, are those values verbatim.
"""
from __future__ import annotations

import re
import shlex
import shutil
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


def test_hostile_paths_never_reach_a_shell_and_arrive_verbatim(tmp_path, mirror):
    """Data folder, checkpoint folder and mirror travel by environment, not in shell commands:
    a dry run's commands hold none of them, and a real fetch job puts its files in the folder
    named by the hostile value itself, running nothing it contains."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Snakefile", "rules", "config", "replication", "envs"):
        source = REPO_ROOT / name
        (shutil.copytree if source.is_dir() else shutil.copy)(source, project / name)
    hostile_mirror = tmp_path / "mirror with space; touch pwned"
    (hostile_mirror / "mnist").mkdir(parents=True)
    for path in (mirror / "mnist").iterdir():
        (hostile_mirror / "mnist" / path.name).symlink_to(path)
    data_dir = "my data; touch pwned;"
    settings = ["--config", "scale=smoke", f"data_dir={data_dir}",
                "checkpoint_dir=check points $(touch pwned)", f"data_mirror={hostile_mirror}"]
    dry = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds", "--forceall",
         "--cores", "1", "results/smoke/classify/mlp/seed0/metrics.json", *settings],
        capture_output=True, text=True, cwd=project, timeout=300)
    assert dry.returncode == 0, dry.stderr
    commands = [shlex.split(line.split("Shell command:", 1)[1]) for line in dry.stdout.splitlines()
                if "Shell command: python -m replication" in line]
    assert len(commands) >= 2
    # the one place a hostile value appears is an output path, as one quoted argument
    hostile = [word for words in commands for word in words if "pwned" in word]
    assert hostile == [f"{data_dir}/manifests/mnist.json"]
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", "1", f"{data_dir}/manifests/mnist.json",
         *settings], capture_output=True, text=True, cwd=project, timeout=600)
    assert done.returncode == 0, done.stderr
    assert (project / data_dir / "manifests" / "mnist.json").is_file()
    assert not list(project.rglob("pwned")) and not list(REPO_ROOT.glob("pwned"))


def test_no_mirror_leaves_the_users_mirror_variable_alone():
    """data_mirror: null → the fetch job falls back to $REPLICATION_DATA_MIRROR, else downloads."""
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds", "--forceall",
         "--cores", "1", "data/manifests/mnist.json", "--config", "scale=smoke"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    (fetch,) = [shlex.split(line.split("Shell command:", 1)[1]) for line in done.stdout.splitlines()
                if "Shell command: python -m replication fetch" in line]
    from replication.cli import build_parser

    args = build_parser().parse_args(fetch[3:fetch.index(">")])
    assert args.mirror is None and args.dataset == ["mnist"]
