"""The speed-vs-stock benchmark (replication/estimate/stock.py) in miniature: our training step
and the stock torchdiffeq step of the same five models, on tiny models and batches, a few
interleaved rounds. Gated: the NFE of both sides (equal), their outputs, losses and gradients
(equal within a tolerance), and the speed-up's direction within a generous committed band
(tests/benchmarks/bands.yaml: stock_speedup_cpu, stock_speedup). No absolute time is asserted.
"""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from replication.estimate import stock
from replication.regress.speed import band, load_bands

BANDS = load_bands(Path(__file__).with_name("bands.yaml"))
REPO_ROOT = Path(__file__).resolve().parents[2]
COMMITTED = REPO_ROOT / "results" / "benchmarks" / "cpu"
ROUNDS = 7

# Tiny versions of the benchmark's models: the same builders and solver settings, smaller widths
# and batches; the latent ODE on a 20-point window (10 observed) at rtol = atol = 1e-5 instead of
# 100 points at the paper's 1.5e-8 (whose adjoint, restarted at each of the 100 output times,
# takes ~2,000 evaluations and 1.4 s per step here).
ARCHITECTURE = {"downsampling": "res", "width": 16}
SOLVER = {"method": "dopri5", "rtol": 1e-3, "atol": 1e-3}
SGD = {"lr": 0.1, "momentum": 0.9, "weight_decay": 0.0}
FFJORD_SPEC = {
    "flow": "ffjord", "dataset": "binarized_mnist", "seed": 0,
    "model": {"latent_dim": 16, "width": 0.25,
              "flow_options": {"hidden_dims": [16, 16], "rank": 2, "num_blocks": 1, "T": 0.5,
                               "method": "dopri5", "rtol": 1e-5, "atol": 1e-5,
                               "gradient": "adjoint", "noise": "gaussian",
                               "nonlinearity": "softplus"}},
    "training": {"optimizer": "adamax", "lr": 5e-4, "eps": 1e-7}}


def tiny_pair(name: str) -> stock.Pair:
    if name in ("odenet", "rknet"):
        return stock.classifier_pair(model=name, architecture={**ARCHITECTURE, **SOLVER},
                                     training=SGD, batch_size=8)
    if name == "resnet":
        return stock.classifier_pair(model=name, architecture=ARCHITECTURE, training=SGD,
                                     batch_size=8)
    if name == "ffjord_vae":
        return stock.ffjord_vae_pair(spec=FFJORD_SPEC, batch_size=8)
    return stock.latent_ode_pair(batch_size=8, n_window=20, n_observed=10, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module")
def rows() -> dict[str, dict]:
    torch.set_num_threads(1)
    return {name: stock.measure_pair(tiny_pair(name), rounds=ROUNDS, warmup_rounds=1)
            for name in stock.MODELS}


@pytest.mark.parametrize("name", stock.MODELS)
def test_both_sides_count_the_same_evaluations(rows, name):
    row = rows[name]
    ours = (row["nfe_forward_ours"], row["nfe_backward_ours"])
    assert ours == (row["nfe_forward_stock"], row["nfe_backward_stock"]), row
    assert row["nfe_equal_every_round"], f"{name}: the NFE of some timed round differ"
    solved = name != "resnet"
    assert (ours[0] > 0) == solved, f"{name}: NFE-F {ours[0]}"
    assert (ours[1] > 0) == (name in ("odenet", "ffjord_vae", "latent_ode")), \
        f"{name}: NFE-B {ours[1]} (0 exactly for backprop and for no solver)"


@pytest.mark.parametrize("name", stock.MODELS)
def test_both_sides_compute_the_same_numbers(rows, name):
    """Same modules, weights, inputs and noise, the same torchdiffeq solver: only the call path
    differs, so the floating-point operations are the same ones in the same order and the
    results agree to the last bit (measured: every difference 0.0, on the committed run too).
    The tolerance, 1e-6 relative to the quantity's largest magnitude (a few float32 ulps, far
    below every solver tolerance used, 1e-3 to 1e-5), only leaves room for a kernel that rounds
    differently by memory alignment; a real difference in the path (another step accepted,
    another ε, another set of adjoint parameters) moves them by orders of magnitude more."""
    row = rows[name]
    scale = BANDS["stock_numerics"]["relative_tolerance"]
    assert row["max_abs_output_diff"] <= scale * max(1.0, row["max_abs_output"]), row
    assert row["max_abs_loss_diff"] <= scale * max(1.0, row["max_abs_output"]), row
    assert row["max_abs_grad_diff"] <= scale * max(1.0, row["max_abs_grad"]), row
    assert row["max_abs_param_diff_after"] <= scale, f"{name}: the two sides' training diverged"


@pytest.mark.parametrize("name", stock.MODELS)
def test_speedup_over_stock_is_in_its_band(rows, name):
    """The speed-up's direction only: CPU time (robust to load) in stock_speedup_cpu, wall time
    in the wider stock_speedup band; no absolute time is asserted."""
    row = rows[name]
    print(f"\n{name}: speed-up {row['speedup_median']:.3f} [{row['speedup_min']:.3f}, "
          f"{row['speedup_max']:.3f}], CPU time {row['cpu_speedup_median']:.3f} "
          f"[{row['cpu_speedup_min']:.3f}, {row['cpu_speedup_max']:.3f}] over {row['rounds']} "
          f"rounds, ours {row['our_seconds'] * 1e3:.1f} ms, stock "
          f"{row['stock_seconds'] * 1e3:.1f} ms")
    assert row["rounds"] == ROUNDS
    for key, name_of_band in (("cpu_speedup_median", "stock_speedup_cpu"),
                              ("speedup_median", "stock_speedup")):
        committed = band(BANDS, name_of_band)
        assert committed.contains(row[key]), f"{name}: " + committed.message(row[key])


def test_the_outputs_are_a_tidy_table_and_provenance(rows, tmp_path):
    provenance = {"started": "2000-01-01T00:00:00+00:00", "cpu_model": "test CPU",
                  "device": "cpu", "torch_threads": 1, "cpu_capability": "DEFAULT",
                  "load_average_before": (0.0, 0.0, 0.0), "load_average_after": (0.0, 0.0, 0.0),
                  "git_sha": "0" * 40,
                  "git_dirty": False, "spec": {"rounds": ROUNDS, "warmup_rounds": 1}}
    paths = stock.write(list(rows.values()), out=tmp_path, provenance=provenance)
    assert [path.name for path in paths] == ["speed_vs_stock.csv", "speed_vs_stock.md",
                                             "provenance.json"]
    with paths[0].open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["model"] for row in table] == list(stock.MODELS)
    assert list(table[0]) == list(stock.COLUMNS)
    markdown = paths[1].read_text()
    assert markdown.count("\n| ") == len(stock.MODELS) + 1   # header and one row per model


def test_the_command_documents_every_option():
    done = subprocess.run([sys.executable, "-m", "replication.estimate.stock", "--help"],
                          capture_output=True, text=True, cwd=REPO_ROOT, check=True)
    for option in ("--out", "--models", "--rounds", "--warmup-rounds", "--threads", "--scale",
                   "--config", "--device", "--latent-batch-size", "--profile"):
        assert option in done.stdout
    assert done.stdout.count("(default") >= 8


def test_the_committed_run_is_complete_and_in_the_readme():
    with (COMMITTED / "speed_vs_stock.csv").open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert [row["model"] for row in table] == list(stock.MODELS)
    for row in table:
        assert (row["nfe_forward_ours"], row["nfe_backward_ours"]) == \
            (row["nfe_forward_stock"], row["nfe_backward_stock"]), row
        assert row["threads"] == "1"
    readme = (REPO_ROOT / "README.md").read_text()
    rows_md = [line for line in (COMMITTED / "speed_vs_stock.md").read_text().splitlines()
               if line.startswith("| ")]
    missing = [line for line in rows_md if line not in readme]
    assert missing == [], "README's speed-vs-stock table differs from the committed run"
    assert (COMMITTED / "provenance.json").is_file()
