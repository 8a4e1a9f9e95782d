"""Verdicts that cannot pass on weak evidence (issue #14 A) and stale results (issue #13.8)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from replication.claims.verdicts import (
    CONSISTENT,
    DOCUMENTED,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    REPRODUCED,
    VERDICTS,
    evaluate_claims,
    load_claims,
    validate_registry,
    verdict_counts,
)
from replication.cli import main
from replication.staleness import current_fingerprint, provenance_states

REPO_ROOT = Path(__file__).resolve().parents[1]
REGISTRY = {c["id"]: c for c in load_claims()}


def judge(tmp_path: Path, claim: dict, scale: str) -> dict:
    validate_registry({"version": 1, "claims": [claim]})
    table = evaluate_claims([claim], results=tmp_path / "results",
                            figures=tmp_path / "figures", scale=scale)
    return table.iloc[0].to_dict()


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)


def table1(tmp_path: Path, **errors) -> None:
    write_csv(tmp_path / "results" / "table1.csv", [
        {"model": m, "n_seeds": 1, "test_error_mean": e, "test_error_std": None,
         "parameters": 232970, "peak_memory_bytes": 2**20} for m, e in errors.items()])


def classify_spec(model: str) -> dict:
    from replication.config import load_config
    from replication.experiments.registry import experiment

    config = load_config(overrides={"scale": "cpu"})
    return next(s for s in experiment("table1").jobs(config) if s["model"] == model)


def classify_fingerprint(model: str) -> str:
    from replication.experiments.registry import experiment

    return experiment("table1").fingerprint(classify_spec(model))


def provenance(folder: Path, fingerprint: str, model: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "provenance.json").write_text(
        json.dumps({"code_fingerprint": fingerprint, "spec": classify_spec(model)}))


# --- A.1: three outcomes ------------------------------------------------------------------------


def test_a_pass_outside_meaningful_at_is_consistent_not_reproduced(tmp_path):
    claim = REGISTRY["article.a5.similar_or_better"]
    table1(tmp_path, odenet=0.77, resnet=1.06)  # the committed cpu numbers: 2 of 160 epochs
    row = judge(tmp_path, claim, scale="cpu")
    assert row["verdict"] == CONSISTENT
    assert "judged at paper" in row["reason"]
    assert judge(tmp_path, claim, scale="paper")["verdict"] == REPRODUCED


def test_summary_counts_every_outcome_apart_and_repeats_once():
    assert VERDICTS[:4] == (REPRODUCED, CONSISTENT, NOT_REPRODUCED, INCONCLUSIVE)
    table = pd.DataFrame({
        "verdict": [REPRODUCED, REPRODUCED, CONSISTENT, INCONCLUSIVE, DOCUMENTED, "not run"],
        "same_as": ["", "x.first", "", "", "", ""],
    })
    counts = verdict_counts(table)
    assert counts == {REPRODUCED: 1, CONSISTENT: 1, NOT_REPRODUCED: 0, INCONCLUSIVE: 1,
                      DOCUMENTED: 1, "not run": 1}


def test_duplicated_measurements_are_registered_as_repeats():
    repeats = {c["id"]: c["same_as"] for c in REGISTRY.values() if "same_as" in c}
    assert repeats["article.a6.graph_not_stored"] == "node.memory.constant"
    assert repeats["article.vae_ffjord_best"] == "ffjord.vae.ffjord_best"
    assert repeats["article.a5.mlp.params"] == "node.table1.mlp.params"
    # every pair of claims with the same measure and the same claimed value is marked
    seen = {}
    for claim in REGISTRY.values():
        if "measure" not in claim and claim["comparison"]["kind"] != "qualitative":
            continue
        key = json.dumps([claim.get("measure"), claim["comparison"].get("check"),
                          claim["comparison"].get("args"), claim["claimed"]], sort_keys=True)
        if key in seen:
            assert claim.get("same_as") == seen[key] or REGISTRY[seen[key]].get("same_as") \
                == claim["id"], (claim["id"], seen[key])
        seen[key] = claim["id"]


def test_same_as_must_name_another_claim():
    claim = dict(REGISTRY["node.table1.mlp.params"], same_as="no.such.claim")
    with pytest.raises(ValueError, match="'same_as': 'no.such.claim' is not another"):
        validate_registry({"version": 1, "claims": [claim]})


# --- A.2: no pass on degenerate evidence --------------------------------------------------------


def test_similar_performance_of_chance_level_models_is_inconclusive(tmp_path):
    claim = REGISTRY["node.text.same_performance"]
    table1(tmp_path, odenet=89.9, rknet=90.0, resnet=90.02)  # three untrained models
    row = judge(tmp_path, claim, scale="paper")
    assert row["verdict"] == INCONCLUSIVE and "constant predictor" in row["reason"]
    table1(tmp_path, odenet=0.45, rknet=0.50, resnet=0.41)
    assert judge(tmp_path, claim, scale="paper")["verdict"] == REPRODUCED
    one_sided = REGISTRY["article.a5.similar_or_better"]
    table1(tmp_path, odenet=90.1, resnet=90.0)
    assert judge(tmp_path, one_sided, scale="paper")["verdict"] == INCONCLUSIVE


def test_nfe_same_for_all_dims_needs_nfe_to_have_risen(tmp_path):
    claim = REGISTRY["ffjord.figure5.nfe_same_for_all_dims"]
    path = tmp_path / "results" / "ffjord" / "nfe_vs_dim.csv"
    flat = [{"latent_dim": d, "epoch": e, "nfe_forward": 20.0}
            for d in (16, 32, 48, 64) for e in range(1, 11)]
    write_csv(path, flat)  # untrained solvers: NFE 20 everywhere, spread 0
    row = judge(tmp_path, claim, scale="paper")
    assert row["verdict"] == INCONCLUSIVE and "precondition failed" in row["reason"]
    risen = [{**r, "nfe_forward": 20.0 + 2 * r["epoch"]} for r in flat]
    write_csv(path, risen)
    assert judge(tmp_path, claim, scale="paper")["verdict"] == REPRODUCED


# --- A.3: checks that test the claim ------------------------------------------------------------


def _memory_points(tmp_path: Path, variant: str, values) -> None:
    depths = [1, 2, 4, 8, 16, 32, 64]
    write_csv(tmp_path / "figures" / "memory_depth.csv", [
        {"variant": variant, "depth": d, "peak_memory_bytes": v, "step_seconds_median": v}
        for d, v in zip(depths, values(np.array(depths, float)))])


@pytest.mark.parametrize("claim_id,variant", [("node.memory.resnet_linear", "resnet"),
                                              ("node.memory.rknet_linear", "rknet"),
                                              ("node.time.odenet_linear", "adjoint")])
def test_linear_claims_reject_square_root_growth(tmp_path, claim_id, variant):
    claim = REGISTRY[claim_id]
    _memory_points(tmp_path, variant, lambda L: 1e8 + 1e7 * np.sqrt(L))  # grows ×1.6, like √L
    row = judge(tmp_path, claim, scale="cpu")
    assert row["verdict"] == NOT_REPRODUCED, row["reason"]
    _memory_points(tmp_path, variant, lambda L: 1e8 + 1e7 * L)
    assert judge(tmp_path, claim, scale="cpu")["verdict"] == REPRODUCED
    _memory_points(tmp_path, variant, lambda L: 1e8 + 0 * L)  # constant: rejected
    assert judge(tmp_path, claim, scale="cpu")["verdict"] == NOT_REPRODUCED


def test_time_proportional_to_nfe_fails_for_overhead_dominated_times(tmp_path):
    claim = REGISTRY["node.figure3b.time_proportional"]
    nfe = [14, 20, 26, 32, 44, 80]
    path = tmp_path / "figures" / "figure3b.csv"
    write_csv(path, [{"nfe_forward": n, "seconds_median": 1.0 + 0.001 * n} for n in nfe])
    row = judge(tmp_path, claim, scale="cpu")  # rises with NFE (Pearson ≈ 1), not ∝ NFE
    assert row["verdict"] == NOT_REPRODUCED, row["reason"]
    write_csv(path, [{"nfe_forward": n, "seconds_median": 0.045 * n} for n in nfe])
    assert judge(tmp_path, claim, scale="cpu")["verdict"] == REPRODUCED


def test_textual_claims_are_documented_facts_never_reproduced():
    table = evaluate_claims(load_claims(), results=REPO_ROOT / "results" / "cpu",
                            figures=REPO_ROOT / "figures" / "cpu", scale="cpu")
    textual = [c["id"] for c in REGISTRY.values() if c["comparison"]["kind"] == "textual"]
    verdicts = table.set_index("id").loc[textual, "verdict"]
    assert set(verdicts) <= {DOCUMENTED, NOT_REPRODUCED}
    assert (verdicts == DOCUMENTED).any()


# --- A.4: bounds set before results -------------------------------------------------------------


def test_no_bound_is_loosened_below_the_one_set_before_the_run():
    args = REGISTRY["ffjord.toy.density_normalized"]["comparison"]["args"]
    assert args["min_mass"] == 0.95 and args["max_outside"] == 1e-3


# --- #13.8: stale results -----------------------------------------------------------------------


def test_every_committed_provenance_record_has_a_known_fingerprint():
    states = provenance_states(REPO_ROOT / "results" / "cpu")
    assert states and not [s.path for s in states if s.unmapped]


def test_current_fingerprints_come_from_the_experiments():
    from replication.config import load_config
    from replication.experiments.registry import experiments

    config = load_config(overrides={"scale": "cpu"})
    for declared in experiments():
        for spec in declared.jobs(config):
            relative = f"{declared.job_dir(spec)}/provenance.json"
            assert current_fingerprint(relative, spec) == declared.fingerprint(spec), relative
    (odenet,) = [s for s in experiments()[0].jobs(config) if s["model"] == "odenet"][:1]
    assert current_fingerprint("elsewhere/provenance.json", odenet) is None
    assert current_fingerprint("classify/odenet/seed0/provenance.json", None) is None


def _synthetic_results(tmp_path: Path) -> Path:
    results = tmp_path / "results"
    provenance(results / "classify" / "mlp" / "seed0", classify_fingerprint("mlp"), "mlp")
    provenance(results / "classify" / "odenet" / "seed0", "0123456789abcdef", "odenet")  # older
    write_csv(results / "table1.csv", [
        {"model": m, "n_seeds": 1, "test_error_mean": 0.42, "test_error_std": None,
         "parameters": 220000, "peak_memory_bytes": 2**20} for m in ("mlp", "odenet")])
    return results


def test_check_provenance_lists_the_stale_result_and_fails(tmp_path, capsys):
    results = _synthetic_results(tmp_path)
    check = ["claims", "--scale", "cpu", "--check-provenance", "--results", str(results)]
    assert main(check) == 1
    out = capsys.readouterr().out
    assert "classify/odenet/seed0/provenance.json: stale: made by older code" in out
    assert "classify/mlp" not in out.split("provenance records")[0]
    assert "2 provenance records" in out and "1 stale" in out and "1 current" in out
    provenance(results / "classify" / "odenet" / "seed0", classify_fingerprint("odenet"), "odenet")
    assert main(check) == 0  # all current
    assert "0 stale" in capsys.readouterr().out


def test_stale_evidence_never_makes_a_claim_reproduced(tmp_path):
    results = _synthetic_results(tmp_path)
    claim = REGISTRY["node.table1.odenet.error"]  # 0.42 measured: would pass
    table = evaluate_claims([claim], results=results, figures=tmp_path / "figures",
                            scale="paper")
    row = table.iloc[0]
    assert row["verdict"] == INCONCLUSIVE
    assert row["reason"].startswith("stale: made by older code (classify/odenet/seed0")
    assert "classify/odenet/seed0/provenance.json" in row["stale_evidence"]


# --- A.8: the cheap missing claims ---------------------------------------------------------------


def _variance_points(tmp_path: Path, gaussian_ratio: float, rademacher_analytic: float) -> None:
    write_csv(tmp_path / "figures" / "ffjord_trace_cost.csv", [
        {"dim": d, "var_gaussian_empirical": 2.0 * d * gaussian_ratio,
         "var_gaussian_analytic": 2.0 * d, "var_rademacher_empirical": rademacher_analytic * d,
         "var_rademacher_analytic": rademacher_analytic * d} for d in (2, 16, 128)])


def test_variance_claims_follow_the_closed_forms(tmp_path):
    frobenius = REGISTRY["ffjord.trace.variance_frobenius"]
    below = REGISTRY["ffjord.trace.rademacher_below_gaussian"]
    assert "not claimed by FFJORD" in below["source"]["location"]
    _variance_points(tmp_path, gaussian_ratio=1.03, rademacher_analytic=1.5)
    assert judge(tmp_path, frobenius, scale="cpu")["verdict"] == REPRODUCED
    assert judge(tmp_path, below, scale="cpu")["verdict"] == REPRODUCED
    _variance_points(tmp_path, gaussian_ratio=1.5, rademacher_analytic=2.5)  # both fail
    assert judge(tmp_path, frobenius, scale="cpu")["verdict"] == NOT_REPRODUCED
    row = judge(tmp_path, below, scale="cpu")
    assert row["verdict"] == NOT_REPRODUCED and "exceeds Gaussian's" in row["reason"]


def test_the_article_cifar10_claim_is_checked_against_ffjords_own_table(tmp_path):
    row = judge(tmp_path, REGISTRY["article.cifar10_state_of_the_art"], scale="cpu")
    assert row["verdict"] == NOT_REPRODUCED and "Glow 3.35 < FFJORD 3.40" in row["measured"]


def test_bottleneck_claims_compare_the_closed_forms_above_the_bottleneck(tmp_path):
    gaussian = REGISTRY["ffjord.trace.bottleneck_gaussian"]
    rademacher = REGISTRY["ffjord.trace.bottleneck_rademacher"]
    path = tmp_path / "figures" / "ffjord_trace_cost.csv"

    def points(ratio):
        write_csv(path, [{"dim": d, "hidden": 128, "var_gaussian_empirical": 1.0,
                          "var_gaussian_analytic": float(d), "var_rademacher_empirical": 1.0,
                          "var_rademacher_analytic": float(d),
                          "var_gaussian_bottleneck_analytic": 5.0 if d <= 128 else ratio * d,
                          "var_rademacher_bottleneck_analytic": 5.0 if d <= 128 else ratio * d}
                         for d in (64, 256, 512)])

    points(0.5)  # halved above H (below H the "bottleneck" is wider: not judged)
    assert judge(tmp_path, gaussian, scale="cpu")["verdict"] == REPRODUCED
    assert judge(tmp_path, rademacher, scale="cpu")["verdict"] == NOT_REPRODUCED
    points(1.2)
    assert judge(tmp_path, gaussian, scale="cpu")["verdict"] == NOT_REPRODUCED
    assert judge(tmp_path, rademacher, scale="cpu")["verdict"] == REPRODUCED
    write_csv(path, [{"dim": 256, "hidden": 128}])  # a run that predates the measurement
    assert judge(tmp_path, gaussian, scale="cpu")["verdict"] == "not run"
