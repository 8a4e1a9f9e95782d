"""Neural ODE Table 2 (latent ODE vs RNN on spirals): its claims (registered before any run),
real tiny jobs of each model, the table and Figure 8 from their files, and bad inputs."""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from replication.claims import sources as S
from replication.claims.verdicts import (
    CONSISTENT,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    evaluate_claims,
    load_claims,
)
from replication.config import load_config
from replication.experiments.table2 import EXPERIMENT, figure_jobs, jobs
from replication.experiments.table2 import run as table2_run
from replication.experiments.table2.plot import figure, project, read_inputs
from replication.experiments.table2.table import build_table2, load_runs
from replication.models.latent_ode import rmse
from tests.support.jobs import run_experiment

TABLE2_CLAIMS = [c for c in load_claims() if c["group"] == "node-table2"]
PAPER = {("latent_ode", 30): 0.1642, ("latent_ode", 50): 0.1502, ("latent_ode", 100): 0.1346,
         ("rnn", 30): 0.3937, ("rnn", 50): 0.3202, ("rnn", 100): 0.1813}


# --- the claims -----------------------------------------------------------------------------------


def _verdicts(results: Path, scale: str) -> dict[str, dict]:
    table = evaluate_claims(TABLE2_CLAIMS, results=results, figures=results.parent / "figures",
                            scale=scale)
    return {row["id"]: row for row in table.to_dict("records")}


def _table2_csv(results: Path, rmse: dict[tuple[str, int], float], std: float | None = 0.01,
                n_seeds: int = 3) -> None:
    results.mkdir(parents=True, exist_ok=True)
    pd.DataFrame([{"model": model, "n_observed": n, "n_seeds": n_seeds,
                   "rmse_extrapolation_mean": value, "rmse_extrapolation_std": std}
                  for (model, n), value in rmse.items()]).to_csv(results / S.TABLE2_FILE,
                                                                  index=False)


def test_every_cell_of_the_papers_table_has_its_claims():
    ids = {c["id"] for c in TABLE2_CLAIMS}
    for n in S.TABLE2_N:
        assert {f"node.table2.latent_ode.n{n}", f"node.table2.rnn.n{n}",
                f"node.table2.latent_below_rnn.n{n}"} <= ids
    claimed = {(c["measure"]["args"]["model"], c["measure"]["args"]["n"]): c["claimed"]
               for c in TABLE2_CLAIMS if "measure" in c}
    assert claimed == PAPER  # spec §8.1's table, typed once, here and in the registry


def test_the_band_is_the_one_set_before_the_runs():
    for claim in TABLE2_CLAIMS:
        if claim["comparison"]["kind"] == "approx":
            assert claim["comparison"]["tolerance"] == {"abs": 0.05, "k_std": 2}
            assert claim["meaningful_at"] == ["paper"]
        else:
            assert claim["meaningful_at"] == ["cpu", "paper"]


def test_no_results_means_not_run_at_every_scale(tmp_path):
    for scale in ("smoke", "cpu", "paper"):
        verdicts = _verdicts(tmp_path / scale / "results", scale)
        assert {row["verdict"] for row in verdicts.values()} == {NOT_RUN}
        assert all("table2.csv is missing" in row["reason"] for row in verdicts.values())


def test_a_missing_rnn_version_is_not_run_never_the_other_alone(tmp_path):
    results = tmp_path / "results"
    _table2_csv(results, {("latent_ode", 30): 0.16, ("rnn_dt", 30): 0.30})
    verdicts = _verdicts(results, "paper")
    assert verdicts["node.table2.latent_ode.n30"]["verdict"] == REPRODUCED
    for claim_id in ("node.table2.rnn.n30", "node.table2.latent_below_rnn.n30"):
        assert verdicts[claim_id]["verdict"] == NOT_RUN
        assert "no RMSE for model 'rnn' at n = 30" in verdicts[claim_id]["reason"]
    assert "at n = 50" in verdicts["node.table2.latent_ode.n50"]["reason"]


def test_paper_like_results_are_reproduced_and_the_rnn_row_is_the_better_version(tmp_path):
    results = tmp_path / "results"
    rmse = {**{key: value - 0.01 for key, value in PAPER.items() if key[0] == "latent_ode"},
            **{("rnn", n): PAPER["rnn", n] + 0.2 for n in S.TABLE2_N},  # the worse version
            **{("rnn_dt", n): PAPER["rnn", n] - 0.03 for n in S.TABLE2_N}}
    _table2_csv(results, rmse)
    verdicts = _verdicts(results, "paper")
    assert {row["verdict"] for row in verdicts.values()} == {REPRODUCED}
    assert "better of rnn, rnn_dt at n = 30: rnn_dt" in verdicts["node.table2.rnn.n30"]["reason"]
    order = verdicts["node.table2.latent_below_rnn.n100"]
    assert order["measured"].startswith("latent ODE 0.125 vs rnn_dt 0.151 at n = 100")


def test_order_and_band_fail_where_they_should(tmp_path):
    results = tmp_path / "results"
    rmse = {("latent_ode", 30): 0.40, ("rnn", 30): 0.35, ("rnn_dt", 30): 0.38,  # RNN better
            ("latent_ode", 50): 0.15, ("rnn", 50): 0.32, ("rnn_dt", 50): 0.33,
            ("latent_ode", 100): 0.30, ("rnn", 100): 0.50, ("rnn_dt", 100): 0.40}
    _table2_csv(results, rmse, std=0.01)
    paper = _verdicts(results, "paper")
    assert paper["node.table2.latent_below_rnn.n30"]["verdict"] == NOT_REPRODUCED
    assert paper["node.table2.latent_below_rnn.n50"]["verdict"] == REPRODUCED
    assert paper["node.table2.latent_ode.n30"]["verdict"] == NOT_REPRODUCED  # 0.40 vs 0.1642
    assert paper["node.table2.latent_ode.n100"]["verdict"] == NOT_REPRODUCED  # 0.30 vs 0.1346
    assert paper["node.table2.rnn.n100"]["verdict"] == NOT_REPRODUCED  # 0.40 vs 0.1813
    cpu = _verdicts(results, "cpu")  # the order is judged at cpu too; the band is not
    assert cpu["node.table2.latent_below_rnn.n30"]["verdict"] == NOT_REPRODUCED
    assert cpu["node.table2.latent_ode.n30"]["verdict"] == INCONCLUSIVE
    assert cpu["node.table2.latent_ode.n50"]["verdict"] == CONSISTENT
    smoke = _verdicts(results, "smoke")
    assert smoke["node.table2.latent_below_rnn.n50"]["verdict"] == CONSISTENT


def test_the_band_widens_with_the_spread_over_seeds(tmp_path):
    results = tmp_path / "results"
    _table2_csv(results, {("latent_ode", 30): 0.1642 + 0.08}, std=0.03)  # 2σ = 0.06 < 0.08
    assert _verdicts(results, "paper")["node.table2.latent_ode.n30"]["verdict"] == NOT_REPRODUCED
    _table2_csv(results, {("latent_ode", 30): 0.1642 + 0.08}, std=0.045)  # 2σ = 0.09 ≥ 0.08
    assert _verdicts(results, "paper")["node.table2.latent_ode.n30"]["verdict"] == REPRODUCED


def test_a_table_without_the_rmse_column_is_flagged(tmp_path):
    results = tmp_path / "results"
    results.mkdir(parents=True)
    pd.DataFrame([{"model": "latent_ode", "n_observed": 30}]).to_csv(results / S.TABLE2_FILE,
                                                                      index=False)
    table = evaluate_claims(TABLE2_CLAIMS, results=results, figures=tmp_path, scale="paper")
    assert (table["verdict"] == NOT_RUN).all() and table["malformed"].all()
    assert "has no column 'rmse_extrapolation_mean'" in table.loc[0, "reason"]


@pytest.mark.parametrize("n", S.TABLE2_N)
def test_the_gap_is_latent_minus_the_better_rnn(tmp_path, n):
    results = tmp_path / "results"
    _table2_csv(results, {("latent_ode", n): 0.15, ("rnn", n): 0.25, ("rnn_dt", n): 0.20})
    row = evaluate_claims([c for c in TABLE2_CLAIMS if c["id"] == f"node.table2.latent_below_rnn.n{n}"],
                          results=results, figures=tmp_path, scale="paper").iloc[0]
    assert row["measured_mean"] == pytest.approx(-0.05)
    assert "gap -0.050 ± 0.014, 3 seed(s)" in row["measured"]


# --- real tiny jobs -------------------------------------------------------------------------------

# 8 spirals (6 train, 2 test), 30 of a 40-point window observed, 10 extrapolated, 2 iterations.
SPEC = {
    "experiment": "table2", "scale": "test", "seed": 0, "device": "cpu", "n_observed": 30,
    "data": {"n_spirals": 8, "n_window": 40, "n_extrapolate": 10, "noise_std": 0.1,
             "test_fraction": 0.25},
    "training": {"iterations": 2, "lr": 0.01, "batch_size": None, "obs_std": 0.1,
                 "log_every": 1},
    "evaluation": {"figure_spirals": 2, "latent_spirals": 2},
}
ARCHITECTURES = {
    "latent_ode": {"latent_dim": 4, "rnn_hidden": 25, "dynamics_hidden": 20, "decoder_hidden": 20,
                   "time_input": True, "method": "dopri5", "rtol": 1e-3, "atol": 1e-3,
                   "gradient": "adjoint"},
    "rnn": {"hidden": 25},
    "rnn_dt": {"hidden": 25},
}
PARAMETERS = {"latent_ode": 1259, "rnn": 752, "rnn_dt": 777}  # by hand: tests/test_latent_ode.py


def _spec(model: str, **changes) -> dict:
    return {**copy.deepcopy(SPEC), "model": model,
            "architecture": copy.deepcopy(ARCHITECTURES[model]), **changes}


@pytest.fixture(scope="module")
def jobs_run(tmp_path_factory) -> dict[str, tuple[dict, Path]]:
    """{model: (metrics, job folder)} of one real tiny job of each model."""
    root = tmp_path_factory.mktemp("table2")
    done = {}
    for model in ARCHITECTURES:
        out = root / "results" / EXPERIMENT.job_dir(_spec(model))
        done[model] = (run_experiment("table2", _spec(model), out, results_dir=root / "results"),
                       out)
    return done


def test_each_model_runs_with_finite_metrics_and_its_files(jobs_run):
    for model, (metrics, out) in jobs_run.items():
        assert metrics["model"] == model and metrics["parameters"] == PARAMETERS[model]
        assert (metrics["train_size"], metrics["test_size"]) == (6, 2)
        for key in ("rmse_extrapolation", "rmse_extrapolation_clean", "rmse_reconstruction",
                    "rmse_reconstruction_clean", "train_seconds", "train_loss_last"):
            assert math.isfinite(metrics[key]), (model, key)
        files = {"history.csv", "predictions.csv", "model.pt", "provenance.json", "metrics.json"}
        if model == "latent_ode":
            files.add("latent.csv")
            assert metrics["nfe_forward_last"] >= 8 and metrics["nfe_backward_last"] >= 8
            assert metrics["nfe_test"] >= 8 and math.isfinite(metrics["rmse_window"])
        else:
            assert metrics["nfe_forward_last"] is None and metrics["rmse_window"] is None
        assert {p.name for p in out.iterdir()} == files, model
        assert json.loads((out / "metrics.json").read_text()) == metrics
        history = pd.read_csv(out / "history.csv")
        assert history["iteration"].tolist() == [1, 2] and (history["model"] == model).all()
        saved = torch.load(out / "model.pt", weights_only=True)
        rebuilt = table2_run.build_model(json.loads(saved["spec"]))
        rebuilt.load_state_dict(saved["model"])  # the trained model, without retraining
        if model == "latent_ode":
            _, test = table2_run.make_data(SPEC | {"model": model})
            predicted, _ = table2_run.latent_ode_predictions(rebuilt, test)
            saved_rows = pd.read_csv(out / "predictions.csv").sort_values(["spiral", "index"])
            assert np.allclose(predicted.reshape(-1, 2).numpy(),
                               saved_rows[["x_predicted", "y_predicted"]].to_numpy(), atol=1e-6)


def test_the_saved_predictions_give_the_reported_rmse(jobs_run):
    # figure_spirals = the 2 test spirals: the file holds every prediction the metrics average
    for model, (metrics, out) in jobs_run.items():
        rows = pd.read_csv(out / "predictions.csv")
        assert len(rows) == 2 * (40 + 10) and rows["spiral"].nunique() == 2
        future = rows[rows["part"] == "extrapolation"]
        assert future["x_predicted"].notna().all()
        predicted = torch.tensor(future[["x_predicted", "y_predicted"]].to_numpy())
        target = torch.tensor(future[["x_noisy", "y_noisy"]].to_numpy())
        assert rmse(predicted, target) == pytest.approx(metrics["rmse_extrapolation"], rel=1e-12)
        window = rows[rows["part"] == "window"]
        have = window[window["x_predicted"].notna()]
        if model == "latent_ode":  # the whole window is reconstructed
            assert len(have) == len(window)
        else:  # the RNN predicts observed points 2…n, one step ahead, and nothing else
            assert have["observed"].all() and len(have) == 2 * (30 - 1)
            first = window[window["observed"]].groupby("spiral")["index"].min()
            assert not have.set_index("spiral")["index"].eq(first).any()
        observed = have[have["observed"]]
        predicted = torch.tensor(observed[["x_predicted", "y_predicted"]].to_numpy())
        target = torch.tensor(observed[["x_noisy", "y_noisy"]].to_numpy())
        assert rmse(predicted, target) == pytest.approx(metrics["rmse_reconstruction"],
                                                        rel=1e-12)


def test_one_seed_gives_every_model_the_same_spirals_and_nested_observations():
    train, test = table2_run.make_data(_spec("latent_ode"))
    other_train, other_test = table2_run.make_data(_spec("rnn_dt"))
    assert torch.equal(train.noisy, other_train.noisy) and torch.equal(test.noisy, other_test.noisy)
    assert torch.equal(train.observed, other_train.observed)
    more_train, more_test = table2_run.make_data(_spec("rnn", n_observed=35))
    assert torch.equal(train.noisy, more_train.noisy) and torch.equal(test.theta0, more_test.theta0)
    for fewer, more in zip(train.observed.tolist(), more_train.observed.tolist()):
        assert set(fewer) < set(more)  # the 30 points are among the 35
    assert not torch.equal(table2_run.make_data(_spec("rnn", seed=1))[0].noisy, train.noisy)


def test_declared_jobs_cover_every_model_n_and_seed():
    config = load_config(overrides={"scale": "paper"})
    specs = jobs(config)
    assert len(specs) == 27 and len({EXPERIMENT.job_dir(s) for s in specs}) == 27
    assert {(s["model"], s["n_observed"], s["seed"]) for s in specs} == {
        (m, n, seed) for m in ARCHITECTURES for n in (30, 50, 100) for seed in (0, 1, 2)}
    assert {s["architecture"]["rtol"] for s in specs if s["model"] == "latent_ode"} == {1.5e-8}
    assert [s["model"] for s in figure_jobs(config)] == ["latent_ode", "rnn", "rnn_dt"]
    assert {s["n_observed"] for s in figure_jobs(config)} == {30}
    assert EXPERIMENT.code(specs[0]) == ("replication.models.latent_ode",)
    smoke = jobs(load_config(overrides={"scale": "smoke"}))
    assert {s["n_observed"] for s in smoke} == {30, 100} and len(smoke) == 6


def test_table_from_the_jobs_files_with_the_paper_column(jobs_run, tmp_path):
    metrics = [out / "metrics.json" for _, out in jobs_run.values()]
    summary = build_table2(metrics, runs_csv=tmp_path / "spirals" / "runs.csv",
                           prefix=tmp_path / "table2")
    assert summary["model"].tolist() == ["rnn", "rnn_dt", "latent_ode"]
    assert summary["paper_rmse"].tolist() == [0.3937, 0.3937, 0.1642]  # from the registry
    for m, _ in jobs_run.values():
        row = summary[summary["model"] == m["model"]].iloc[0]
        assert row["rmse_extrapolation_mean"] == m["rmse_extrapolation"]
    written = pd.read_csv(tmp_path / "table2.csv")
    assert {"model", "n_observed", "n_seeds", "rmse_extrapolation_mean",
            "rmse_extrapolation_std"} <= set(written.columns)  # what the claims read
    markdown = (tmp_path / "table2.md").read_text()
    assert "30/40 (ours)" in markdown and "30/40 (paper)" in markdown and "0.1642" in markdown and "0.3937" in markdown
    assert (tmp_path / "table2.tex").is_file() and (tmp_path / "spirals" / "runs.csv").is_file()
    # and the claims read it: the order claim is judged (not "not run") on these files
    verdicts = _verdicts(tmp_path, "paper")
    assert verdicts["node.table2.latent_below_rnn.n30"]["verdict"] != NOT_RUN
    assert verdicts["node.table2.latent_ode.n50"]["verdict"] == NOT_RUN


def test_figure8_from_the_jobs_files(jobs_run, tmp_path):
    inputs = [out / "predictions.csv" for _, out in jobs_run.values()]
    inputs.append(jobs_run["latent_ode"][1] / "latent.csv")
    written = figure(inputs, out=tmp_path)
    assert {p.name for p in written} == set(EXPERIMENT.figures)
    panels = pd.read_csv(tmp_path / "table2_figure8_predictions.csv")
    assert panels["panel"].nunique() == 3 * panels["direction"].nunique()
    latent = pd.read_csv(tmp_path / "table2_figure8_latent.csv")
    assert len(latent) == 2 * 50 and {"pc1", "pc2", "direction"} <= set(latent.columns)


def test_the_latent_projection_finds_the_principal_plane():
    t = np.linspace(0, 1, 50)
    latent = pd.DataFrame({"spiral": 0, "direction": 1, "index": range(50), "t": t,
                           "z1": 3 * np.cos(6 * t), "z2": np.zeros(50), "z3": np.sin(6 * t),
                           "z4": np.zeros(50)})
    projected, variance = project(latent)
    assert variance.sum() == pytest.approx(1.0)  # all of it lies in the (z1, z3) plane
    radius = np.hypot(projected["pc1"], projected["pc2"])
    centred = np.hypot(latent["z1"] - latent["z1"].mean(), latent["z3"] - latent["z3"].mean())
    assert np.allclose(radius, centred)  # a rotation of that plane


# --- bad inputs are named -------------------------------------------------------------------------


def test_bad_specs_are_named():
    broken = _spec("rnn")
    del broken["training"]
    with pytest.raises(ValueError, match="lacks training"):
        table2_run.check_spec(broken)
    with pytest.raises(ValueError, match="unknown Table 2 model 'gru'"):
        table2_run.check_spec({**_spec("rnn"), "model": "gru"})
    with pytest.raises(ValueError, match="runs on the CPU"):
        table2_run.check_spec({**_spec("rnn"), "device": "cuda"})


def test_bad_table_inputs_are_named(jobs_run, tmp_path):
    with pytest.raises(ValueError, match="missing.json: no such file"):
        load_runs([tmp_path / "missing.json"])
    with pytest.raises(ValueError, match="no table2 jobs given"):
        load_runs([])
    other = tmp_path / "other" / "metrics.json"
    other.parent.mkdir()
    other.write_text(json.dumps({"model": "odenet", "seed": 0}))
    with pytest.raises(ValueError, match="other/metrics.json: missing n_observed, "
                                         "rmse_extrapolation"):
        load_runs([other])
    twice = jobs_run["rnn"][1] / "metrics.json"
    with pytest.raises(ValueError, match="more than once"):
        load_runs([twice, twice])


def test_bad_figure_inputs_are_named(jobs_run, tmp_path):
    predictions = [out / "predictions.csv" for _, out in jobs_run.values()]
    with pytest.raises(ValueError, match="got 3 predictions.csv and 0 latent.csv"):
        read_inputs(predictions)
    with pytest.raises(ValueError, match="not a table2 job's predictions.csv"):
        read_inputs([*predictions, tmp_path / "history.csv"])
    broken = tmp_path / "latent.csv"
    pd.DataFrame({"spiral": [0]}).to_csv(broken, index=False)
    with pytest.raises(ValueError, match="latent.csv: missing column"):
        read_inputs([*predictions, broken])
    with pytest.raises(ValueError, match="no such file"):
        read_inputs([*predictions, tmp_path / "nowhere" / "latent.csv"])
