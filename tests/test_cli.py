"""The command line: CUDA jobs on a machine without CUDA stop with advice, not a traceback."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_memory_depth_on_cuda_without_cuda_explains_itself(tmp_path):
    spec = {"device": "cuda", "threads": 1, "depths": [1, 2], "batch_size": 2, "width": 4,
            "downsampling": "conv", "solver": "rk4", "repeats": 1, "seed": 0}
    done = subprocess.run(
        [sys.executable, "-m", "replication", "memory-depth", "--spec", json.dumps(spec),
         "--out", str(tmp_path / "points.csv")],
        capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode != 0
    assert "no CUDA device" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "points.csv").exists()


def test_plan_prints_one_specification_per_run():
    done = subprocess.run([sys.executable, "-m", "replication", "plan", "--scale", "cpu"],
                          capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    specs = [json.loads(line) for line in done.stdout.splitlines()]
    assert {spec["model"] for spec in specs} == {"mlp", "resnet", "rknet", "odenet", "stem",
                                                 "resnet1"}
    assert all(spec["scale"] == "cpu" for spec in specs)


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
