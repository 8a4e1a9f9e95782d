"""Training runs: determinism, resume after a kill, and the CLI's outputs."""
import json
import os
import re
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
    return [sys.executable, "-m", "replication", "run", "table1", "--spec", json.dumps(spec),
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

    saved = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert saved["epoch"] == metrics["selected_epoch"] and json.loads(saved["spec"]) == SPEC
    assert metrics["diverged"] is False and "ln(10)" in metrics["divergence_criterion"]
    assert not list((tmp_path / "ckpt").rglob("*.pt")), "a completed run deletes its checkpoint"
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


def _checkpoint(spec, root):
    from replication.experiments.base import checkpoint_path
    from replication.experiments.registry import experiment

    return checkpoint_path(experiment("table1"), spec, root)


def test_a_changed_spec_does_not_resume_a_stale_checkpoint(tmp_path):
    changed = {**SPEC, "training": {**SPEC["training"], "lr": 0.05}}
    assert _checkpoint(changed, tmp_path) != _checkpoint(SPEC, tmp_path)


def test_cuda_scale_on_a_cpu_machine_fails_with_advice(tmp_path, mnist_root):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    done = subprocess.run(_command({**SPEC, "device": "cuda"}, tmp_path / "o", tmp_path / "c",
                                   mnist_root), capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode != 0
    assert "no CUDA device" in done.stderr and "scale=cpu" in done.stderr
    assert "Traceback" not in done.stderr


# --- Run integrity (issue 13): no stale resume, no non-finite result, no code from data files ---

SHORT = {**SPEC, "training": {**SPEC["training"], "epochs": 2, "lr_milestones": [1]}}


class _Interrupted(Exception):
    pass


def _run(spec, out, checkpoints, data, *, code, stop_after_epoch=None, monkeypatch=None):
    """The job in-process; with *stop_after_epoch*, die (as a kill would) after it."""
    from replication.experiments.base import run_job
    from replication.experiments.registry import experiment
    from replication.experiments.table1 import run as classify

    def job():
        return run_job(experiment("table1"), spec, out_dir=out, results_dir=out.parent,
                       data_dir=data, checkpoint_dir=checkpoints, code_fingerprint=code)

    if stop_after_epoch is not None:
        original, calls = classify.train_epoch, []

        def dying(*args, **kwargs):
            if len(calls) == stop_after_epoch:
                raise _Interrupted
            calls.append(1)
            return original(*args, **kwargs)

        monkeypatch.setattr(classify, "train_epoch", dying)
        with pytest.raises(_Interrupted):
            job()
        monkeypatch.setattr(classify, "train_epoch", original)
        return None
    return job()


def _tamper(checkpoints):
    """Make the checkpoint's state what other code would have left: zeroed weights."""
    import torch

    (path,) = checkpoints.rglob("last.pt")
    state = torch.load(path, weights_only=True)
    state["model"] = {k: torch.zeros_like(v) for k, v in state["model"].items()}
    state["history"][0]["train_loss"] = 123.0
    torch.save(state, path)


def test_a_checkpoint_of_other_code_is_not_resumed(tmp_path, mnist_root, monkeypatch, capfd):
    reference = _run(SHORT, tmp_path / "ref", tmp_path / "ck-ref", mnist_root, code="new")

    checkpoints = tmp_path / "ck"
    _run(SHORT, tmp_path / "a", checkpoints, mnist_root, code="old", stop_after_epoch=1,
         monkeypatch=monkeypatch)
    _tamper(checkpoints)
    capfd.readouterr()
    rerun = _run(SHORT, tmp_path / "b", checkpoints, mnist_root, code="new")
    log = capfd.readouterr().err
    assert "restarting from scratch" in log and "code fingerprint old" in log
    assert not re.search(r"^resuming ", log, re.M)
    for key in ("test_error", "test_error_last_epoch", "validation_error", "selected_epoch"):
        assert rerun[key] == reference[key], key
    assert pd.read_csv(tmp_path / "b" / "history.csv")["train_loss"].iloc[0] != 123.0


def test_same_code_resumes_its_own_checkpoint(tmp_path, mnist_root, monkeypatch, capfd):
    checkpoints = tmp_path / "ck"
    _run(SHORT, tmp_path / "a", checkpoints, mnist_root, code="same", stop_after_epoch=1,
         monkeypatch=monkeypatch)
    capfd.readouterr()
    _run(SHORT, tmp_path / "b", checkpoints, mnist_root, code="same")
    log = capfd.readouterr().err
    assert re.search(r"^resuming ", log, re.M) and "restarting" not in log
    assert list(pd.read_csv(tmp_path / "b" / "history.csv")["epoch"]) == [1, 2]


def test_a_forced_rerun_of_a_completed_run_trains_from_scratch(tmp_path, mnist_root, capfd):
    """`snakemake -R`: the completed run left no checkpoint, so nothing is resumed."""
    _run(SHORT, tmp_path / "a", tmp_path / "ck", mnist_root, code="same")
    capfd.readouterr()
    _run(SHORT, tmp_path / "b", tmp_path / "ck", mnist_root, code="same")
    assert not re.search(r"^resuming ", capfd.readouterr().err, re.M)


def test_checkpoint_without_identity_is_not_resumed(tmp_path, capfd):
    """A checkpoint written by the old code (no spec hash or fingerprint) restarts the run."""
    import torch

    from replication.train.checkpoint import RunCheckpoint

    path = tmp_path / "last.pt"
    torch.save({"epoch": 3, "history": []}, path)
    checkpoint = RunCheckpoint(path, spec_hash="s", code_fingerprint="c", log=print)
    assert checkpoint.load() is None and not path.exists()
    assert "written by older code" in capfd.readouterr().out
    checkpoint.save({"epoch": 1})
    assert checkpoint.load()["epoch"] == 1
    other = RunCheckpoint(path, spec_hash="s", code_fingerprint="d", log=print)
    assert other.load() is None


class _Payload:
    """Unpickling this runs `touch <marker>`: what a crafted .pt does."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("name", ["checkpoint", "model.pt"])
def test_a_crafted_pt_file_is_refused_not_run(tmp_path, name):
    import torch

    marker = tmp_path / "pwned"
    crafted = tmp_path / "crafted.pt"
    torch.save({"epoch": 1, "model": _Payload(marker)}, crafted)
    if name == "checkpoint":
        from replication.train.checkpoint import RunCheckpoint, UnsafeCheckpointError

        with pytest.raises(UnsafeCheckpointError, match="refusing to load"):
            RunCheckpoint(crafted, spec_hash="s", code_fingerprint="c", log=print).load()
    else:
        from replication.experiments.figure3.run import sweep_trained_odenet
        from replication.train.checkpoint import UnsafeCheckpointError

        with pytest.raises(UnsafeCheckpointError, match="weights_only=True"):
            sweep_trained_odenet(crafted, data_dir=tmp_path, tolerances=[1e-3],
                                 reference_tolerance=1e-6, images=1, repeats=1,
                                 device=torch.device("cpu"))
    assert not marker.exists(), "the crafted file ran its command"


def test_crafted_checkpoint_stops_the_cli_with_a_clear_error(tmp_path, mnist_root):
    import torch

    marker = tmp_path / "pwned"
    checkpoint = _checkpoint(SHORT, tmp_path / "ckpt")
    checkpoint.parent.mkdir(parents=True)
    torch.save({"epoch": 1, "model": _Payload(marker)}, checkpoint)
    done = subprocess.run(_command(SHORT, tmp_path / "o", tmp_path / "ckpt", mnist_root),
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 1 and "refusing to load" in done.stderr
    assert "Traceback" not in done.stderr and not marker.exists()


def test_nan_loss_stops_the_run_naming_run_epoch_and_batch(tmp_path, mnist_root):
    spec = {**SHORT, "model": "mlp", "architecture": {},
            "training": {**SHORT["training"], "lr": 1.0e8, "augment": False}}
    done = subprocess.run(_command(spec, tmp_path / "o", tmp_path / "ckpt", mnist_root),
                          capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert re.search(r"run mlp/seed7 epoch 1/2, batch \d+/12: the loss became nan", done.stderr)
    assert not (tmp_path / "o" / "metrics.json").exists()


def test_a_finite_divergence_is_marked_diverged(tmp_path, mnist_root):
    spec = {**SHORT, "model": "mlp", "architecture": {},
            "training": {**SHORT["training"], "lr": 1.0e3, "augment": False}}
    metrics = _run(spec, tmp_path / "o", tmp_path / "ck", mnist_root, code="x")
    history = pd.read_csv(tmp_path / "o" / "history.csv")
    assert history["train_loss"].iloc[-1] > 23.03 and metrics["diverged"] is True


def test_divergence_criterion_is_ten_times_the_uniform_loss():
    import math

    from replication.train.guards import diverged

    assert not diverged(10 * math.log(10) - 1e-9, classes=10)
    assert diverged(10 * math.log(10) + 1e-9, classes=10)
    assert not diverged(2.31, classes=10) and diverged(2.6e13, classes=10)


def test_an_impossible_solver_tolerance_stops_the_job_with_advice(tmp_path, mnist_root):
    """ODE-Net at rtol = atol = 1e-13: the job ends with the step-limit message, not a hang."""
    spec = {**SHORT, "model": "odenet",
            "architecture": {"downsampling": "conv", "width": 16, "method": "dopri5",
                             "rtol": 1e-13, "atol": 1e-13}}
    # the limit, not the timeout, must end it: a hang would run into the timeout (an error)
    done = subprocess.run(_command(spec, tmp_path / "o", tmp_path / "ckpt", mnist_root),
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=600,
                          env={**os.environ, "REPLICATION_ODE_MAX_STEPS": "100"})
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert re.search(r"error: dopri5 needed more than 100 steps at t=\S+ \(forward solve",
                     done.stderr) and "raise rtol/atol or the limit" in done.stderr
    assert not (tmp_path / "o" / "metrics.json").exists()
