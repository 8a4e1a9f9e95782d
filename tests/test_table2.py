"""Neural ODE Table 2 (latent ODE vs RNN on spirals): its claims, registered before any run."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

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
