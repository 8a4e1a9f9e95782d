"""The accuracy regression gate on hand-made tables: drifts are caught and named, reruns pass."""
from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from replication.cli import main
from replication.regress import GATES, BaselineError, Table, check, compare, update
from replication.regress.engine import perturb, read_baselines
from replication.regress.spec import (
    MEMORY_DEPTH,
    TABLE1,
    TOLERANCE_SWEEP,
    VAE_TABLE,
    absolute,
    exact,
    gate,
)

SCALE = "smoke"


def hand_made_results(root: Path) -> Path:
    """A results folder with every gated table, small but shaped like the smoke outputs."""
    smoke = root / "results" / SCALE
    (smoke / "figure3").mkdir(parents=True)
    (smoke / "memory_depth").mkdir(parents=True)
    (root / "figures" / SCALE).mkdir(parents=True)
    pd.DataFrame({
        "model": ["mlp", "odenet"], "n_seeds": [1, 1], "test_error_mean": [9.0, 12.333333333333334],
        "validation_error_mean": [8.0, 11.0], "parameters": [238510, 232970],
        "epochs": [2, 2], "train_size": [192, 192], "test_size": [300, 300],
        "nfe_forward_per_batch": [0.0, 20.0], "nfe_backward_per_batch": [0.0, 26.0],
        "peak_memory_bytes": [1112768.0, 41234567.0], "saved_tensor_bytes": [80000.0, 3456789.0],
        "label": ["1-Layer MLP", "ODE-Net"],
    }).to_csv(smoke / "table1.csv", index=False)
    pd.DataFrame({
        "tolerance": [0.1, 0.001, 1e-06], "nfe_forward": [14, 20, 62],
        "relative_error": [6.1e-3, 1.2e-3, 3.0e-5], "test_error": [0.0625, 0.0625, 0.0625],
        "reference_nfe": [1580, 1580, 1580],
    }).to_csv(smoke / "figure3" / "tolerance_sweep.csv", index=False)
    pd.DataFrame({"epoch": [1, 1, 2], "batch": [1, 2, 1], "nfe_forward": [26, 26, 20],
                  "nfe_backward": [32, 26, 26], "fitted_ratio": [1.1864077669902913] * 3}).to_csv(
        root / "figures" / SCALE / "figure3c.csv", index=False)
    pd.DataFrame({
        "variant": ["rknet", "rknet", "adjoint", "adjoint"], "depth": [1, 2, 1, 2],
        "peak_memory_bytes": [464592, 549544, 488472, 488472],
        "saved_tensor_bytes": [120000, 240000, 30000, 30000], "nfe_forward": [4, 8, 4, 8],
        "nfe_backward": [0, 0, 4, 8], "step_seconds_median": [0.01, 0.02, 0.03, 0.05],
    }).to_csv(smoke / "memory_depth" / "points.csv", index=False)
    vae = pd.DataFrame({  # the second row is an excluded dataset: no values, which must stay so
        "flow": ["planar", "planar"], "dataset": ["freyfaces", "omniglot"],
        "status": ["run", "not run (excluded)"], "neg_elbo_mean": [4.61, None],
        "nll_mean": [4.52, None], "parameters": [1234567, None], "flow_parameters": [2048, None],
        "nfe_forward_per_batch": [0.0, None], "nfe_backward_per_batch": [0.0, None],
        "peak_memory_bytes": [9876543.0, None], "saved_tensor_bytes": [7654321.0, None],
        "epochs": [2, None], "train_size": [200, None],
        "test_size": [50, None],
    })
    vae.to_csv(smoke / "vae_table.csv", index=False)
    (smoke / "ffjord" / "trace_cost").mkdir(parents=True)
    pd.DataFrame({"latent_dim": [16, 16, 64, 64], "epoch": [1, 2, 1, 2],
                  "nfe_forward": [20.0, 26.0, 20.0, 32.0], "nfe_backward": [20.0, 32.0, 26.0, 38.0],
                  "train_loss": [540.5, 512.25, 541.0, 510.75]}).to_csv(
        smoke / "ffjord" / "nfe_vs_dim.csv", index=False)
    pd.DataFrame({"dim": [2, 8], "hidden": [32, 32], "var_gaussian_analytic": [0.74, 2.37],
                  "var_rademacher_analytic": [0.14, 1.52], "var_gaussian_empirical": [0.73, 2.26],
                  "exact_seconds": [0.001, 0.003]}).to_csv(
        smoke / "ffjord" / "trace_cost" / "points.csv", index=False)
    return root


@pytest.fixture
def baselined(tmp_path) -> Path:
    """Hand-made results with baselines written from them by ``update``."""
    root = hand_made_results(tmp_path)
    update(root, root / "results" / "baselines" / SCALE, scale=SCALE)
    return root


def only_drift(report, metric: str):
    assert not report.ok, "the perturbation was not caught"
    assert [d.metric for d in report.drifts] == [metric], [d.message for d in report.drifts]
    return report.drifts[0]


def test_update_then_check_round_trip_passes(baselined):
    report = check(baselined, scale=SCALE)
    assert report.ok, [d.message for d in report.drifts]
    assert set(report.frame["verdict"]) == {"ok"}
    # every gated value of every table was compared, none skipped
    expected = 2 * 9 + 3 * 4 + 3 * 3 + 4 * 3 + 2 * 10 + 4 * 3 + 2 * 4
    assert len(report.frame) == expected
    assert "0 failure(s)" in report.summary()


def test_baselines_state_tolerance_and_reason_next_to_every_value(baselined):
    baselines = read_baselines(baselined / "results" / "baselines" / SCALE)
    assert baselines["reason"].str.len().min() > 10
    params = baselines[(baselines["table"] == "table1") & (baselines["metric"] == "parameters")]
    assert set(params["kind"]) == {"exact"} and set(params["tolerance"]) == {0.0}
    assert set(baselines["table"]) == {t.name for t in GATES}
    error = baselines.query(
        "table == 'table1' and metric == 'test_error_mean' and row == 'model=odenet'")
    assert error["baseline"].iloc[0] == 12.333333333333334  # floats round-trip exactly


def test_test_error_plus_eight_points_is_caught_and_named(baselined):
    perturb(baselined, TABLE1, "test_error_mean", add=8.0, row="model=odenet")
    drift = only_drift(check(baselined, scale=SCALE), "test_error_mean")
    assert drift.table == "table1" and drift.row == "model=odenet" and drift.verdict == "drift"
    for text in ("table1", "model=odenet", "test_error_mean", "new 20.3333", "baseline 12.3333",
                 "±6.67 absolute"):
        assert text in drift.message, drift.message


def test_twelve_images_of_test_error_are_within_tolerance(baselined):
    """The largest spread seen across instruction sets (12 images, spec.TABLE1's reason) passes."""
    perturb(baselined, TABLE1, "test_error_mean", add=1200 / 300, row="model=odenet")
    assert check(baselined, scale=SCALE).ok


def test_nfe_plus_thirty_percent_is_caught(baselined):
    perturb(baselined, TABLE1, "nfe_forward_per_batch", factor=1.3, row="model=odenet")
    drift = only_drift(check(baselined, scale=SCALE), "nfe_forward_per_batch")
    for text in ("new 26", "baseline 20", "±2 % relative"):
        assert text in drift.message, drift.message


def test_nfe_of_a_model_without_ode_must_stay_zero(baselined):
    perturb(baselined, TABLE1, "nfe_forward_per_batch", add=1, row="model=mlp")
    only_drift(check(baselined, scale=SCALE), "nfe_forward_per_batch")


def test_sweep_nfe_plus_thirty_percent_is_caught(baselined):
    perturb(baselined, TOLERANCE_SWEEP, "nfe_forward", factor=1.3, row="tolerance=0.001")
    drift = only_drift(check(baselined, scale=SCALE), "nfe_forward")
    assert "tolerance_sweep [tolerance=0.001]" in drift.message and "exact" in drift.message


def test_parameters_plus_one_is_caught(baselined):
    perturb(baselined, TABLE1, "parameters", add=1, row="model=odenet")
    drift = only_drift(check(baselined, scale=SCALE), "parameters")
    assert "new 232971, baseline 232970, tolerance exact" in drift.message


def test_memory_gate_follows_saved_tensors_not_the_allocator_peak(baselined):
    row = "variant=adjoint, depth=2"
    # the allocator's peak moves with the CPU's instruction set (oneDNN workspace): not gated
    perturb(baselined, MEMORY_DEPTH, "peak_memory_bytes", factor=1.3, row=row)
    assert check(baselined, scale=SCALE).ok
    # one more byte kept for backward is a change of the model or of its gradient method
    perturb(baselined, MEMORY_DEPTH, "saved_tensor_bytes", add=1, row=row)
    drift = only_drift(check(baselined, scale=SCALE), "saved_tensor_bytes")
    assert drift.row == "variant=adjoint, depth=2"


def test_missing_row_fails_for_each_of_its_metrics(baselined):
    path = baselined / "results" / SCALE / "table1.csv"
    table = pd.read_csv(path)
    table[table["model"] != "odenet"].to_csv(path, index=False)
    report = check(baselined, scale=SCALE)
    assert {d.verdict for d in report.drifts} == {"missing row"}
    assert {d.metric for d in report.drifts} == set(TABLE1.metric_names)
    assert "has no row model=odenet" in report.drifts[0].message
    assert "baseline" in report.drifts[0].message


def test_missing_metric_and_missing_table_fail(baselined):
    path = baselined / "results" / SCALE / "table1.csv"
    pd.read_csv(path).drop(columns="parameters").to_csv(path, index=False)
    (baselined / "figures" / SCALE / "figure3c.csv").unlink()
    drifts = check(baselined, scale=SCALE).drifts
    verdicts = [(d.table, d.metric, d.verdict) for d in drifts]
    assert sorted(verdicts) == [("figure3c", "*", "missing table"),
                                ("table1", "parameters", "missing metric"),
                                ("table1", "parameters", "missing metric")]  # mlp and odenet
    missing = next(d.message for d in drifts if d.verdict == "missing table")
    assert "figures/smoke/figure3c.csv does not exist" in missing
    assert "9 baselined values (3 rows × 3 metrics" in missing


def test_nan_matches_only_nan(baselined):
    perturb(baselined, TOLERANCE_SWEEP, "relative_error", factor=math.nan, row="tolerance=0.1")
    drift = only_drift(check(baselined, scale=SCALE), "relative_error")
    assert "new missing" in drift.message


def test_new_rows_are_reported_not_failed(baselined):
    path = baselined / "results" / SCALE / "table1.csv"
    table = pd.read_csv(path)
    extra = table.iloc[[0]].assign(model="resnet", parameters=601482)
    pd.concat([table, extra]).to_csv(path, index=False)
    report = check(baselined, scale=SCALE)
    assert report.ok
    new = report.frame[report.frame["verdict"] == "new row"]
    assert set(new["row"]) == {"model=resnet"} and len(new) == len(TABLE1.metrics)
    assert any("model=resnet" in note and "parameters" in note for note in report.notes)


def test_duplicate_rows_fail(baselined):
    path = baselined / "results" / SCALE / "table1.csv"
    table = pd.read_csv(path)
    pd.concat([table, table.iloc[[1]]]).to_csv(path, index=False)
    assert {d.verdict for d in check(baselined, scale=SCALE).drifts} == {"duplicate row"}


def test_excluded_rows_must_stay_empty(baselined):
    perturb(baselined, VAE_TABLE, "neg_elbo_mean", add=0.0, row="flow=planar, dataset=omniglot")
    assert check(baselined, scale=SCALE).ok  # NaN + 0 is NaN: still matches
    path = baselined / VAE_TABLE.result_path(SCALE)
    table = pd.read_csv(path)
    table.loc[table["dataset"] == "omniglot", "neg_elbo_mean"] = 104.0
    table.to_csv(path, index=False)
    drift = only_drift(check(baselined, scale=SCALE), "neg_elbo_mean")
    assert "new 104, baseline missing" in drift.message


def test_vae_drift_is_caught(baselined):
    perturb(baselined, VAE_TABLE, "neg_elbo_mean", factor=1.01,
            row="flow=planar, dataset=freyfaces")
    drift = only_drift(check(baselined, scale=SCALE), "neg_elbo_mean")
    assert drift.row == "flow=planar, dataset=freyfaces"


def test_gated_table_without_baselines_fails_with_the_command(baselined):
    """Adding a table is one spec entry; until baselines exist for it, the gate says how."""
    extra = Table(name="extra_table", path="results/{scale}/extra_table.csv",
                  keys=("flow", "dataset"),
                  metrics=(exact("parameters", "exact"), absolute("neg_elbo", 0.1, "noise")))
    pd.DataFrame({"flow": ["none"], "dataset": ["mnist"], "parameters": [10], "neg_elbo": [90.0]}
                 ).to_csv(baselined / "results" / SCALE / "extra_table.csv", index=False)
    gates = (*GATES, extra)
    report = check(baselined, scale=SCALE, gates=gates)
    assert [(d.table, d.verdict) for d in report.drifts] == [("extra_table", "no baselines")]
    assert "baselines update" in report.drifts[0].message
    update(baselined, baselined / "results" / "baselines" / SCALE, scale=SCALE, gates=gates)
    assert check(baselined, scale=SCALE, gates=gates).ok
    perturb(baselined, extra, "neg_elbo", add=0.5, scale=SCALE)
    drift = only_drift(check(baselined, scale=SCALE, gates=gates), "neg_elbo")
    assert drift.row == "flow=none, dataset=mnist"


def test_spec_metric_not_yet_baselined_fails(baselined):
    extended = Table(name="table1", path=TABLE1.path, keys=TABLE1.keys,
                     metrics=(*TABLE1.metrics, exact("n_seeds", "protocol")))
    gates = tuple(extended if t.name == "table1" else t for t in GATES)
    drifts = check(baselined, scale=SCALE, gates=gates).drifts
    assert [(d.metric, d.verdict) for d in drifts] == [("n_seeds", "no baselines")]


def test_update_refuses_to_drop_baselines_of_a_table_without_results(baselined):
    (baselined / "results" / SCALE / "memory_depth" / "points.csv").unlink()
    with pytest.raises(BaselineError, match="memory_depth.*run the whole smoke workflow"):
        update(baselined, baselined / "results" / "baselines" / SCALE, scale=SCALE)


def test_update_names_a_spec_column_the_results_lack(tmp_path):
    root = hand_made_results(tmp_path)
    path = root / "results" / SCALE / "table1.csv"
    pd.read_csv(path).drop(columns="nfe_backward_per_batch").to_csv(path, index=False)
    with pytest.raises(BaselineError, match="nfe_backward_per_batch"):
        update(root, root / "baselines", scale=SCALE)


def test_compare_is_one_tidy_row_per_value(baselined):
    frame = compare(baselined, scale=SCALE)
    assert not frame.duplicated(["table", "row", "metric"]).any()
    assert {"baseline", "new", "tolerance", "kind", "verdict", "reason"} <= set(frame.columns)


def test_spec_entries_are_well_formed():
    assert gate("table1") is TABLE1
    for table in GATES:
        assert table.metrics and all(m.reason for m in table.metrics)
    with pytest.raises(ValueError, match="reason"):
        absolute("x", 0.1, " ")
    with pytest.raises(ValueError, match="kind"):
        from replication.regress.spec import Metric
        Metric("x", "roughly", 0.1, "because")


def test_committed_smoke_baselines_match_the_spec(repo_root):
    """The committed baselines state the spec's tolerances (regenerate after changing the spec)."""
    folder = repo_root / "results" / "baselines" / SCALE
    baselines = read_baselines(folder)
    assert not baselines.empty, "no committed smoke baselines"
    absent = json.loads((folder / "provenance.json").read_text())["not_produced_at_this_scale"]
    for table in GATES:
        if table.name in absent:
            continue
        rows = baselines[baselines["table"] == table.name]
        assert not rows.empty, f"{table.name} has no committed baselines"
        assert set(rows["metric"]) == set(table.metric_names), table.name
        for metric in table.metrics:
            terms = rows[rows["metric"] == metric.column]
            assert set(terms["kind"]) == {metric.kind}, (table.name, metric.column)
            assert set(terms["tolerance"]) == {metric.tolerance}, (table.name, metric.column)
            assert set(terms["reason"]) == {metric.reason}, (table.name, metric.column)


def run_command(argv: list[str]) -> int:
    return main(["baselines", *argv])


def test_commands_update_then_check_then_catch(tmp_path, capsys, monkeypatch):
    root = hand_made_results(tmp_path / "project")
    monkeypatch.chdir(root)  # the defaults: results and baselines of the project run from
    assert run_command(["update"]) == 0
    written = capsys.readouterr().out.split()
    assert str(Path("results") / "baselines" / SCALE / "table1.csv") in written
    assert run_command(["check"]) == 0
    assert capsys.readouterr().out == ""
    perturb(root, TABLE1, "test_error_mean", add=8.0, row="model=odenet")
    perturb(root, TABLE1, "nfe_forward_per_batch", factor=1.3, row="model=odenet")
    tidy = tmp_path / "comparison.csv"
    assert run_command(["check", "--table", str(tidy)]) == 1
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2 and all(line.startswith("table1 [model=odenet]") for line in lines)
    assert "2 failure(s)" in captured.err
    assert set(pd.read_csv(tidy)["verdict"]) == {"ok", "drift"}


def test_check_command_with_explicit_baselines_folder(tmp_path, capsys):
    root = hand_made_results(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    assert run_command(["update", "--results-root", str(root), "--baselines",
                        str(elsewhere)]) == 0
    assert (elsewhere / "table1.csv").is_file() and (elsewhere / "provenance.json").is_file()
    assert run_command(["check", "--results-root", str(root), "--baselines",
                        str(elsewhere)]) == 0
    assert run_command(["check", "--results-root", str(tmp_path / "none"),
                        "--baselines", str(elsewhere)]) == 1
    assert "missing table" in capsys.readouterr().out
    assert run_command(["check", "--results-root", str(root), "--baselines",
                        str(tmp_path / "typo")]) == 1
    assert "no baselines folder" in capsys.readouterr().err
