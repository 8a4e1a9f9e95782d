"""Table 1 is a function of the per-run result files (synthetic here)."""
import json

import pandas as pd
import pytest

from replication.experiments.table1.table import build_table1


def _run(tmp_path, model, seed, error, params):
    run_dir = tmp_path / "classify" / model / f"seed{seed}"
    run_dir.mkdir(parents=True)
    metrics = {
        "experiment": "classify", "scale": "smoke", "model": model, "seed": seed, "device": "cpu",
        "epochs": 3, "selected_epoch": 2, "test_error": error, "test_error_last_epoch": error,
        "validation_error": error, "test_nfe_forward_per_batch": 26.0, "parameters": params,
        "peak_memory_bytes": 3 * 2**20, "memory_method": "cpu_profiler_allocator_events",
        "epoch_seconds": 10.0, "step_seconds": 0.1, "images_per_second": 1280.0,
        "nfe_forward_per_batch": 26.0 if "net" in model else 0.0,
        "nfe_backward_per_batch": 20.0 if model == "odenet" else 0.0,
        "nfe_forward_per_epoch": 2600, "nfe_backward_per_epoch": 2000,
        "train_size": 1000, "validation_size": 100, "test_size": 100, "batch_size": 10,
        "config_hash": "abc",
    }
    (run_dir / "metrics.json").write_text(json.dumps(metrics))
    (run_dir / "provenance.json").write_text(json.dumps({"git_sha": "deadbeef", "packages": {}}))
    return run_dir / "metrics.json"


def test_table1_aggregates_seeds_and_sits_beside_the_paper(tmp_path):
    paths = [
        _run(tmp_path, "odenet", 0, 0.010, 232_970),
        _run(tmp_path, "odenet", 1, 0.012, 232_970),
        _run(tmp_path, "mlp", 0, 0.020, 238_510),
    ]
    summary = build_table1(paths, runs_csv=tmp_path / "runs.csv", prefix=tmp_path / "table1")
    assert list(summary["model"]) == ["mlp", "odenet"]  # the paper's row order
    odenet = summary.set_index("model").loc["odenet"]
    assert odenet["n_seeds"] == 2
    assert odenet["test_error_mean"] == pytest.approx(1.1)
    assert odenet["test_error_std"] == pytest.approx(0.1414, abs=1e-4)
    assert odenet["paper_test_error"] == 0.42 and odenet["paper_memory"] == "O(1)"

    table = pd.read_csv(tmp_path / "table1.csv")
    assert len(table) == 2 and "paper_parameters" in table
    markdown = (tmp_path / "table1.md").read_text()
    assert "1.10 ± 0.14" in markdown and "26.0 / 20.0" in markdown and "0.42" in markdown
    assert "\\begin{tabular}" in (tmp_path / "table1.tex").read_text()
    runs = pd.read_csv(tmp_path / "runs.csv")
    assert set(runs["git_sha"]) == {"deadbeef"} and len(runs) == 3


def test_table1_refuses_unknown_models(tmp_path):
    with pytest.raises(ValueError, match="without a Table 1 row"):
        build_table1([_run(tmp_path, "vgg", 0, 0.1, 1)], runs_csv=tmp_path / "r.csv",
                     prefix=tmp_path / "t")
