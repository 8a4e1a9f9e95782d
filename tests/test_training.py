"""Training runs: determinism, resume after a kill, and the CLI's outputs."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]

SPEC = {
    "experiment": "classify", "scale": "test", "model": "stem", "seed": 7, "device": "cpu",
    "data": {"validation_size": 200, "train_subset": 384, "test_subset": 200},
    "training": {"epochs": 4, "batch_size": 32, "lr": 0.1, "momentum": 0.9, "weight_decay": 0.0,
                 "lr_milestones": [2, 3], "lr_gamma": 0.1, "augment": True, "eval_batch_size": 200},
    "architecture": {"downsampling": "conv", "width": 16},
}
DETERMINISTIC = ["train_loss", "train_error", "validation_error", "validation_loss", "lr"]


def _command(spec, out, checkpoints, data):
    return [sys.executable, "-m", "replication", "train", "--spec", json.dumps(spec),
            "--out", str(out), "--data-dir", str(data), "--checkpoint-dir", str(checkpoints),
            "--threads", "1"]


def _train(spec, out, checkpoints, data):
    subprocess.run(_command(spec, out, checkpoints, data), check=True, capture_output=True,
                   cwd=REPO_ROOT)
    return json.loads((out / "metrics.json").read_text())


def test_run_writes_metrics_history_and_provenance(tmp_path, mnist_root):
    metrics = _train(SPEC, tmp_path / "run", tmp_path / "ckpt", mnist_root)
    from replication.models import build_model, count_parameters

    assert metrics["parameters"] == count_parameters(build_model("stem", downsampling="conv", width=16))
    assert metrics["epochs"] == 4 and metrics["train_size"] == 384 and metrics["test_size"] == 200
    assert 0 <= metrics["test_error"] <= 1 and metrics["peak_memory_bytes"] > 0
    assert metrics["memory_method"] == "cpu_profiler_allocator_events"
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    assert list(history["epoch"]) == [1, 2, 3, 4]
    assert list(history["lr"].round(6)) == [0.1, 0.1, 0.01, 0.001]
    batches = pd.read_csv(tmp_path / "run" / "batches.csv")
    assert len(batches) == 4 * (384 // 32)
    import torch

    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=False)
    assert saved["epoch"] == metrics["selected_epoch"] and saved["spec"] == SPEC
    provenance = json.loads((tmp_path / "run" / "provenance.json").read_text())
    for key in ("git_sha", "git_dirty", "packages", "torch_build", "device_name", "cpu_model",
                "torch_threads", "seed", "config_hash", "code_fingerprint", "started", "finished"):
        assert key in provenance, key
    assert provenance["torch_threads"] == 1 and provenance["seed"] == 7
    assert provenance["config_hash"] == metrics["config_hash"]


def test_killed_run_resumes_to_the_same_metrics(tmp_path, mnist_root):
    reference = _train(SPEC, tmp_path / "reference", tmp_path / "ckpt-a", mnist_root)

    out, checkpoints = tmp_path / "resumed", tmp_path / "ckpt-b"
    process = subprocess.Popen(_command(SPEC, out, checkpoints, mnist_root),
                               stderr=subprocess.PIPE, text=True, cwd=REPO_ROOT)
    deadline = time.monotonic() + 120
    for line in process.stderr:  # the epoch line is printed after its checkpoint is saved
        if line.startswith("epoch 2/4") or time.monotonic() > deadline:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not (out / "metrics.json").exists(), "the run finished before it could be killed"

    resumed = _train(SPEC, out, checkpoints, mnist_root)
    for key in ("test_error", "test_error_last_epoch", "validation_error", "selected_epoch"):
        assert resumed[key] == reference[key], key
    pd.testing.assert_frame_equal(
        pd.read_csv(out / "history.csv")[DETERMINISTIC],
        pd.read_csv(tmp_path / "reference" / "history.csv")[DETERMINISTIC],
    )


def test_a_changed_spec_does_not_resume_a_stale_checkpoint():
    from replication.experiments.classify import run_key

    changed = {**SPEC, "training": {**SPEC["training"], "lr": 0.05}}
    assert run_key(changed) != run_key(SPEC)


def test_cuda_scale_on_a_cpu_machine_fails_with_advice(tmp_path, mnist_root):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = subprocess.run(_command({**SPEC, "device": "cuda"}, tmp_path / "o", tmp_path / "c",
                                   mnist_root), capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode != 0
    assert "no CUDA device" in done.stderr and "scale=cpu" in done.stderr
    assert "Traceback" not in done.stderr
