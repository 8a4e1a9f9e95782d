"""The command line: nine verbs, a fast --help, jobs by hand, and advice instead of tracebacks."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from replication.config import load_config

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_memory_depth_on_cuda_without_cuda_explains_itself(tmp_path):
    spec = {"device": "cuda", "threads": 1, "depths": [1, 2], "batch_size": 2, "width": 4,
            "downsampling": "conv", "solver": "rk4", "repeats": 1, "seed": 0}
    done = subprocess.run(
        [sys.executable, "-m", "replication", "run", "memory_depth", "--spec", json.dumps(spec),
         "--out", str(tmp_path / "job")],
        capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 1
    assert "no CUDA device" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "job" / "metrics.json").exists()


def test_plan_prints_one_specification_per_job_of_every_experiment():
    from replication.experiments.registry import NAMES

    done = subprocess.run([sys.executable, "-m", "replication", "plan", "--scale", "cpu"],
                          capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    jobs = [json.loads(line) for line in done.stdout.splitlines()]
    assert {job["experiment"] for job in jobs} == set(NAMES)
    models = {job["spec"]["model"] for job in jobs if job["experiment"] == "table1"}
    assert models == {"mlp", "resnet", "rknet", "odenet", "stem", "resnet1"}
    assert all(job["spec"]["scale"] == "cpu" for job in jobs)
    assert len({job["job_dir"] for job in jobs}) == len(jobs)  # every job has its own folder


def test_plan_settings_print_the_merged_scale():
    from replication.config import load_config

    done = subprocess.run([sys.executable, "-m", "replication", "plan", "--scale", "smoke",
                           "--settings"], capture_output=True, text=True, cwd=REPO_ROOT,
                          check=True)
    assert json.loads(done.stdout) == load_config(overrides={"scale": "smoke"})["scales"]["smoke"]


# --- The verbs: at most nine, each option explained, --help without torch or pandas ---

def test_at_most_nine_verbs_each_with_help_on_every_option():
    import argparse

    from replication.cli import build_parser

    parser = build_parser()
    (verbs,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(verbs.choices) <= 9, sorted(verbs.choices)
    assert set(verbs.choices) == {"fetch", "plan", "run", "collect", "figure", "claims", "report",
                                  "baselines", "estimate"}

    def undocumented(command: argparse.ArgumentParser, name: str) -> list[str]:
        missing = []
        for action in command._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub_name, sub in action.choices.items():
                    missing += undocumented(sub, f"{name} {sub_name}")
            elif not action.help and not isinstance(action, argparse._HelpAction):
                missing.append(f"{name}: {action.dest}")
        return missing

    assert undocumented(parser, "replication") == []


def test_help_imports_neither_torch_nor_pandas_and_is_fast():
    probe = ("import sys, time; start = time.perf_counter()\n"
             "from replication.cli import build_parser\n"
             "build_parser().format_help()\n"
             "print(time.perf_counter() - start, 'torch' in sys.modules, 'pandas' in sys.modules)")
    seconds, torch_loaded, pandas_loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO_ROOT,
        check=True).stdout.split()
    assert torch_loaded == "False" and pandas_loaded == "False"
    # a bound, not a benchmark: parsing the declarations is milliseconds; torch alone takes ~3 s
    assert float(seconds) < 0.5


def test_version():
    done = _cli("--version")
    assert done.returncode == 0 and done.stdout.startswith("python -m replication ")


def test_run_by_hand_names_the_jobs_of_an_unknown_selector():
    done = _cli("run", "table1", "--scale", "cpu", "--model", "odenett")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "experiment table1 has no job with {'model': 'odenett'}" in done.stderr
    assert '"odenet"' in done.stderr  # the jobs it does have


def test_run_by_hand_resolves_the_spec_from_the_config(monkeypatch):
    from replication.cli import build_parser
    from replication.experiments.registry import experiment

    args = build_parser().parse_args(["run", "table1", "--scale", "cpu", "--model", "odenet"])
    config = load_config(overrides={"scale": "cpu"})
    (spec,) = experiment("table1").select(config, model=args.model, seed=args.seed)
    assert spec["model"] == "odenet" and spec["scale"] == "cpu"
    assert experiment("table1").job_dir(spec) == "classify/odenet/seed0"


# --- Clear errors, not tracebacks (issue 13, point 7) ---

def _cli(*args, cwd=REPO_ROOT):
    return subprocess.run([sys.executable, "-m", "replication", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_fetch_of_an_unknown_dataset_names_the_known_ones(tmp_path):
    done = _cli("fetch", "mnits", "--data-dir", str(tmp_path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert "error: unknown dataset 'mnits'; known datasets: mnist, binarized_mnist" in done.stderr


@pytest.mark.parametrize(("content", "says"), [
    (None, "not found"), ("", "is empty"), ("- a\n- b\n", "a list, not a mapping"),
    ("scale: [", "not valid YAML"),
])
def test_plan_with_a_missing_or_empty_config_says_so(tmp_path, content, says):
    path = tmp_path / "config.yaml"
    if content is not None:
        path.write_text(content)
    done = _cli("plan", "--config", str(path))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert f"error: config file {path}" in done.stderr and says in done.stderr


def test_nested_config_overrides_point_to_an_overlay_file():
    from replication.config import ConfigError, check_command_line_overrides

    check_command_line_overrides({"scale": "smoke", "exclude_datasets": ["omniglot"]})
    for overrides in ({"scales": {"smoke": {"classify": {"training": {"lr": "0.01"}}}}},
                      {"scales.smoke.classify.training.lr": 0.01}):
        with pytest.raises(ConfigError, match=r"--configfile overlay.yaml"):
            check_command_line_overrides(overrides)


def test_snakemake_with_a_nested_config_override_fails_with_the_advice():
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--cores", "1", "--config",
         "scale=smoke", "scales={smoke: {classify: {training: {lr: 0.01}}}}"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode != 0
    output = done.stdout + done.stderr
    assert "error: nested --config override of scales" in output
    assert "--configfile overlay.yaml" in output and "Traceback" not in output
    assert 'File "' not in output  # no stack lines either


def test_an_overlay_configfile_changes_one_nested_value(tmp_path):
    """What the advice says works: --configfile overlay.yaml is merged into config/config.yaml."""
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("scales:\n  smoke:\n    classify:\n      training:\n        lr: 0.05\n")
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--printshellcmds", "--cores", "1",
         "--configfile", str(overlay), "--config", "scale=smoke", "--forceall",
         "results/smoke/classify/stem/seed0/metrics.json"],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    assert '"lr": 0.05' in done.stdout and '"momentum": 0.9' in done.stdout


def test_plan_says_which_jobs_need_a_gpu_and_which_run_on_a_cpu():
    done = _cli("plan", "--scale", "paper")
    assert done.returncode == 0
    gpu, cpu = done.stderr.strip().splitlines()[-2:]
    specs = [json.loads(line)["spec"] for line in done.stdout.splitlines()]
    cuda = sum(str(spec.get("device", "cpu")).startswith("cuda") for spec in specs)
    assert gpu.startswith(f"{cuda} jobs need a CUDA GPU: table1 18,")
    assert cpu.startswith(f"{len(specs) - cuda} jobs run on a CPU: ") and "article 13" in cpu


def test_collect_by_hand_reads_the_scales_results_and_writes_where_told(tmp_path, monkeypatch):
    """`collect nfe_vs_dim --scale smoke --out DIR`: inputs from results/smoke, the table in DIR."""
    import pandas as pd

    from replication.cli import main
    from replication.config import load_config
    from replication.experiments.registry import experiment

    monkeypatch.chdir(tmp_path)
    declared = experiment("nfe_vs_dim")
    for dim, path in enumerate(declared.table_inputs(load_config(REPO_ROOT / "config" /
                                                                 "config.yaml",
                                                                 overrides={"scale": "smoke"}))):
        target = tmp_path / "results" / "smoke" / path
        target.parent.mkdir(parents=True)
        pd.DataFrame({"latent_dim": [dim], "epoch": [1], "nfe_forward": [20.0],
                      "nfe_backward": [26.0]}).to_csv(target, index=False)
    out = tmp_path / "elsewhere"
    assert main(["collect", "nfe_vs_dim", "--scale", "smoke", "--out", str(out),
                 "--config", str(REPO_ROOT / "config" / "config.yaml")]) == 0
    assert len(pd.read_csv(out / "ffjord" / "nfe_vs_dim.csv")) == 4
