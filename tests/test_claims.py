"""The claims registry and its verdicts: schema messages, each comparison kind, committed data."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from replication.claims import sources as S
from replication.claims.verdicts import (
    COLUMNS,
    CONSISTENT,
    DOCUMENTED,
    INCONCLUSIVE,
    NOT_REPRODUCED,
    NOT_RUN,
    REPRODUCED,
    ClaimsError,
    evaluate_claims,
    load_claims,
    validate_registry,
)
from replication.cli import main

REPO_ROOT = Path(__file__).resolve().parents[1]


def claim(**overrides) -> dict:
    """A valid approx claim on Table 1's ODE-Net error; *overrides* replace top-level keys."""
    base = {
        "id": "test.odenet.error",
        "group": "node-table1",
        "statement": "The ODE-Net reaches 0.42 % test error.",
        "source": {"document": "NODE", "location": "Table 1"},
        "metric": {"name": "MNIST test error", "unit": "%", "decimals": 2},
        "claimed": 0.42,
        "comparison": {"kind": "approx", "tolerance": {"abs": 0.15}},
        "measure": {"function": "table1", "args": {"model": "odenet", "quantity": "test_error"}},
        "inputs": ["{results}/table1.csv"],
        "meaningful_at": ["paper"],
    }
    base.update(overrides)
    return base


def problems(*claims) -> str:
    with pytest.raises(ClaimsError) as caught:
        validate_registry({"version": 1, "claims": list(claims)})
    return str(caught.value)


def judge(tmp_path: Path, claim_dict: dict, scale: str = "paper") -> dict:
    validate_registry({"version": 1, "claims": [claim_dict]})
    table = evaluate_claims(
        [claim_dict], results=tmp_path / "results", figures=tmp_path / "figures", scale=scale
    )
    return table.iloc[0].to_dict()


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(rows).to_csv(path, index=False)


def table1(tmp_path: Path, **errors) -> None:
    rows = [
        {
            "model": model,
            "n_seeds": 3,
            "test_error_mean": error,
            "test_error_std": 0.02,
            "parameters": 232970,
            "peak_memory_bytes": 2**20 * 100,
        }
        for model, error in errors.items()
    ]
    write_csv(tmp_path / "results" / "table1.csv", rows)


# --- the schema and the registry's own rules -----------------------------------------------------


def test_committed_registry_is_valid_and_covers_every_claim_family():
    claims = load_claims()
    ids = {c["id"] for c in claims}
    assert len(ids) == len(claims)
    for model in ("mlp", "resnet", "rknet", "odenet"):
        assert {f"node.table1.{model}.error", f"node.table1.{model}.params"} <= ids
    assert {
        "node.figure3a.error_control",
        "node.figure3b.time_proportional",
        "node.figure3c.backward_half_forward",
        "node.figure3d.nfe_increases",
        "node.memory.constant",
    } <= ids
    for flow in S.VAE_FLOWS:
        for dataset in S.VAE_DATASETS:
            assert f"ffjord.vae.{flow}.{dataset}" in ids
    assert {"ffjord.vae.ffjord_best", "ffjord.figure5.nfe_same_for_all_dims"} <= ids
    for experiment in ("a1", "a2", "a3", "a4", "a5", "a6"):
        assert any(i.startswith(f"article.{experiment}.") for i in ids), experiment


def test_missing_key_names_the_claim_the_key_and_what_is_accepted():
    broken = claim()
    del broken["metric"]
    message = problems(broken)
    assert "claim 'test.odenet.error', key 'metric'" in message
    assert "'metric' is a required property" in message
    assert "accepted: an object {name[, unit, decimals]}" in message


def test_unknown_comparison_kind_lists_the_accepted_kinds():
    message = problems(claim(comparison={"kind": "aprox", "tolerance": {"abs": 0.1}}))
    assert "claim 'test.odenet.error', key 'comparison.kind'" in message
    assert (
        "accepted: one of le, ge, approx, ratio_approx, slope_zero, monotonic, qualitative, "
        "textual" in message
    )


def test_approx_without_tolerance_is_rejected():
    message = problems(claim(comparison={"kind": "approx"}))
    assert "key 'comparison.tolerance': 'tolerance' is a required property" in message
    assert "accepted: an object with abs and/or rel" in message
    message = problems(claim(comparison={"kind": "approx", "tolerance": {"k_std": 2}}))
    assert "key 'comparison.tolerance': needs at least one of 'abs', 'rel'" in message


def test_misspelled_key_is_named():
    message = problems(claim(deviation=["typo"]))
    assert "key 'deviation'" in message and "Additional properties" in message
    assert "accepted: keys claimed, claimed_std, comparison" in message


def test_unknown_scale_and_negative_tolerance():
    message = problems(
        claim(meaningful_at=["gpu"]),
        claim(id="test.two", comparison={"kind": "approx", "tolerance": {"abs": -1}}),
    )
    assert (
        "claim 'test.odenet.error', key 'meaningful_at.0'" in message
        and "smoke, cpu, paper" in message
    )
    assert "claim 'test.two', key 'comparison.tolerance.abs'" in message


def test_textual_claim_may_not_read_results():
    message = problems(
        claim(
            comparison={"kind": "textual", "reference": {"value": 0.42, "source": "NODE Table 1"}}
        )
    )
    assert (
        "claim 'test.odenet.error', key 'inputs,measure': 'inputs', 'measure' not allowed"
        in message
    )
    assert "accepted: a textual claim compares documents only" in message


def test_unknown_measure_function_and_argument_are_named():
    message = problems(claim(measure={"function": "tabel1", "args": {}}))
    assert "key 'measure.function': unknown function 'tabel1'" in message
    assert "accepted: one of" in message and "table1" in message
    message = problems(
        claim(measure={"function": "table1", "args": {"model": "odenet", "quantity": "error"}})
    )
    assert "key 'measure.args.quantity': 'error' is not accepted" in message
    assert "test_error" in message
    message = problems(claim(measure={"function": "table1", "args": {"modell": "odenet"}}))
    assert "key 'measure.args'" in message and "accepted: model, quantity" in message


def test_duplicate_ids_are_rejected():
    assert "key 'id': duplicate id" in problems(claim(), claim())


def test_invalid_yaml_file_gives_the_path(tmp_path):
    path = tmp_path / "claims.yaml"
    path.write_text("version: 1\nclaims: [\n")
    with pytest.raises(ClaimsError, match="not valid YAML"):
        load_claims(path)


# --- each comparison kind on hand-made results ---------------------------------------------------


def test_approx_reproduced_not_reproduced_and_inconclusive_at_scale(tmp_path):
    table1(tmp_path, odenet=0.50)
    row = judge(tmp_path, claim())
    assert row["verdict"] == REPRODUCED and "0.5 % is +0.08 points" in row["reason"]
    assert row["measured"] == "0.50 ± 0.02 % (n=3)" and row["claimed"] == "0.42 %"
    table1(tmp_path, odenet=0.90)
    assert judge(tmp_path, claim())["verdict"] == NOT_REPRODUCED
    row = judge(tmp_path, claim(), scale="cpu")
    assert row["verdict"] == INCONCLUSIVE
    assert "at scale cpu this does not decide (judged at paper)" in row["reason"]


def test_approx_tolerance_widens_with_the_spread_over_seeds(tmp_path):
    table1(tmp_path, odenet=0.62)  # 0.20 away; std 0.02 ours, 0.05 the claim's
    widened = claim(
        comparison={"kind": "approx", "tolerance": {"abs": 0.15, "k_std": 4}}, claimed_std=0.05
    )
    assert judge(tmp_path, claim())["verdict"] == NOT_REPRODUCED
    assert judge(tmp_path, widened)["verdict"] == REPRODUCED  # 4 × sqrt(.02² + .05²) = 0.215


def test_relative_tolerance(tmp_path):
    table1(tmp_path, odenet=0.45)
    assert (
        judge(tmp_path, claim(comparison={"kind": "approx", "tolerance": {"rel": 0.1}}))["verdict"]
        == REPRODUCED
    )
    assert (
        judge(tmp_path, claim(comparison={"kind": "approx", "tolerance": {"rel": 0.05}}))["verdict"]
        == NOT_REPRODUCED
    )


def test_le_and_ge(tmp_path):
    table1(tmp_path, odenet=0.40, resnet=0.50)
    difference = {
        "function": "table1_difference",
        "args": {"minuend": "odenet", "subtrahend": "resnet", "quantity": "test_error"},
    }
    le = claim(claimed=0, comparison={"kind": "le"}, measure=difference)
    ge = claim(claimed=0, comparison={"kind": "ge"}, measure=difference)
    assert judge(tmp_path, le)["verdict"] == REPRODUCED
    assert judge(tmp_path, ge)["verdict"] == NOT_REPRODUCED
    assert (
        judge(
            tmp_path,
            claim(
                claimed=0, comparison={"kind": "ge", "tolerance": {"abs": 0.2}}, measure=difference
            ),
        )["verdict"]
        == REPRODUCED
    )


def test_ratio_approx_backward_half_of_forward(tmp_path):
    nfe = claim(
        claimed=0.5,
        metric={"name": "NFE-B / NFE-F"},
        comparison={"kind": "ratio_approx", "target": 0.5, "tolerance": {"abs": 0.15}},
        measure={"function": "nfe_backward_forward_ratio"},
        inputs=["{figures}/figure3c.csv"],
    )
    figure3c = tmp_path / "figures" / "figure3c.csv"
    write_csv(figure3c, [{"nfe_forward": f, "nfe_backward": f // 2} for f in (26, 32, 38)])
    assert judge(tmp_path, nfe)["verdict"] == REPRODUCED
    write_csv(figure3c, [{"nfe_forward": f, "nfe_backward": f} for f in (26, 32, 38)])
    row = judge(tmp_path, nfe)
    assert row["verdict"] == NOT_REPRODUCED and "ratio 1.00 vs 0.5" in row["reason"]


def test_slope_zero_against_a_reference_slope(tmp_path):
    constant = claim(
        claimed="slope ≈ 0",
        metric={"name": "memory slope", "unit": "bytes/step"},
        comparison={"kind": "slope_zero", "tolerance": {"rel": 0.05}},
        measure={"function": "memory_slope", "args": {"variant": "adjoint", "reference": "rknet"}},
        inputs=["{figures}/memory_depth_fits.csv"],
    )
    fits = tmp_path / "figures" / "memory_depth_fits.csv"

    def write(adjoint, rknet):
        write_csv(
            fits,
            [
                {
                    "variant": v,
                    "memory_bytes_per_step": s,
                    "memory_intercept_bytes": 1e8,
                    "seconds_per_step": 0.1,
                    "depths": "1..64",
                }
                for v, s in (("adjoint", adjoint), ("rknet", rknet))
            ],
        )

    write(1e3, 4.5e7)
    assert judge(tmp_path, constant)["verdict"] == REPRODUCED
    write(2e7, 4.5e7)
    row = judge(tmp_path, constant)
    assert row["verdict"] == NOT_REPRODUCED and "44.4% of rknet's" in row["reason"]
    write(0.0, 0.0)  # the baseline does not grow either: the measurement cannot decide
    assert judge(tmp_path, constant)["verdict"] == INCONCLUSIVE


def test_monotonic_with_minimum_change(tmp_path):
    rising = claim(
        claimed="rises",
        metric={"name": "NFE vs epoch"},
        comparison={
            "kind": "monotonic",
            "direction": "increasing",
            "min_correlation": 0.8,
            "min_rel_change": 0.1,
        },
        measure={
            "function": "series",
            "args": {
                "root": "figures",
                "file": "figure3d.csv",
                "x": "epoch",
                "y": "nfe_forward_mean",
            },
        },
        inputs=["{figures}/figure3d.csv"],
    )
    figure3d = tmp_path / "figures" / "figure3d.csv"
    write_csv(
        figure3d, [{"epoch": e, "nfe_forward_mean": n} for e, n in ((3, 32), (1, 20), (2, 26))]
    )
    assert judge(tmp_path, rising)["verdict"] == REPRODUCED
    write_csv(figure3d, [{"epoch": e, "nfe_forward_mean": n} for e, n in ((1, 20.1), (2, 20.0))])
    assert judge(tmp_path, rising)["verdict"] == NOT_REPRODUCED
    assert judge(tmp_path, rising, scale="cpu")["verdict"] == INCONCLUSIVE
    write_csv(
        figure3d, [{"epoch": e, "nfe_forward_mean": n} for e, n in ((1, 20), (2, 20.5), (3, 21))]
    )
    row = judge(tmp_path, rising)  # rises steadily, but by 5 % < 10 %
    assert row["verdict"] == NOT_REPRODUCED and "first→last +5.0%" in row["reason"]


def vae_claim(**overrides):
    return claim(
        **{
            "group": "ffjord-vae",
            "claimed": "lowest on every dataset",
            "metric": {"name": "−ELBO"},
            "measure": None,
            "inputs": ["{results}/vae_table.csv"],
            "comparison": {
                "kind": "qualitative",
                "check": "ffjord_beats_baselines",
                "relation": "FFJORD lowest",
            },
            **overrides,
        }
    )


def vae_rows(cells: dict) -> list[dict]:
    return [
        {
            "flow": flow,
            "dataset": dataset,
            "n_seeds": 3,
            "neg_elbo_mean": mean,
            "neg_elbo_std": 0.1,
            "unit": "bits/dim" if dataset == "freyfaces" else "nats",
        }
        for (flow, dataset), mean in cells.items()
    ]


def test_qualitative_ffjord_beats_baselines(tmp_path):
    best = vae_claim()
    del best["measure"]
    path = tmp_path / "results" / "vae_table.csv"
    cells = {}
    for dataset, base in (
        ("mnist", 86.0),
        ("omniglot", 104.0),
        ("freyfaces", 4.5),
        ("caltech", 110.0),
    ):
        cells.update(
            {
                ("none", dataset): base,
                ("planar", dataset): base - 0.2,
                ("sylvester_o", dataset): base - 0.5,
                ("sylvester_h", dataset): base - 0.7,
                ("ffjord", dataset): base - 1.0,
            }
        )
    write_csv(path, vae_rows(cells))
    assert judge(tmp_path, best)["verdict"] == REPRODUCED
    write_csv(path, vae_rows({**cells, ("sylvester_t", "caltech"): 108.5}))
    row = judge(tmp_path, best)
    assert row["verdict"] == NOT_REPRODUCED and "not the best on caltech" in row["reason"]
    write_csv(path, vae_rows({k: v for k, v in cells.items() if k[1] != "omniglot"}))
    row = judge(tmp_path, best)  # best where run, but one dataset missing: cannot say "every"
    assert row["verdict"] == INCONCLUSIVE and "not run: omniglot" in row["reason"]


def _registered(claim_id: str) -> dict:
    return copy.deepcopy(next(c for c in load_claims() if c["id"] == claim_id))


def test_trace_cost_scaling_compares_the_fitted_slopes(tmp_path):
    linear = _registered("ffjord.trace.linear_cost")
    fits = tmp_path / "figures" / "ffjord_trace_cost_fits.csv"
    rows = [{"method": m, "slope": v, "min_dim": 64, "max_dim": 1024}
            for m, v in (("f", 0.8), ("hutchinson", 0.7), ("exact", 1.76))]
    write_csv(fits, rows)
    row = judge(tmp_path, linear, scale="cpu")
    assert row["verdict"] == REPRODUCED and "exact 1.76, Hutchinson 0.70" in row["measured"]
    rows[2]["slope"] = 1.0  # the exact trace no longer grows faster: the claim fails
    write_csv(fits, rows)
    assert judge(tmp_path, linear, scale="cpu")["verdict"] == NOT_REPRODUCED


def test_toy_density_mass_bound_is_the_one_set_before_the_run(tmp_path):
    """0.95, restored (issue #14 A.4): the checkerboard's 0.946 over the plotted square fails."""
    normalized = _registered("ffjord.toy.density_normalized")
    assert normalized["comparison"]["args"]["min_mass"] == 0.95
    table = tmp_path / "figures" / "ffjord_toy_densities.csv"
    for masses, verdict in (((0.9998, 0.946), NOT_REPRODUCED), ((0.9998, 0.97), REPRODUCED),
                            ((0.9998, 1.08), NOT_REPRODUCED), ((0.62, 0.9998), NOT_REPRODUCED)):
        write_csv(table, [{"dataset": d, "grid_mass": m}
                          for d, m in zip(("2spirals", "checkerboard"), masses)])
        assert judge(tmp_path, normalized, scale="cpu")["verdict"] == verdict, masses


def test_toy_density_is_judged_on_the_wide_square_when_measured(tmp_path):
    normalized = _registered("ffjord.toy.density_normalized")
    table = tmp_path / "figures" / "ffjord_toy_densities.csv"
    rows = [{"dataset": "checkerboard", "grid_mass": 0.946, "mass_limit": 8.0,
             "wide_grid_mass": 0.9991, "mass_outside": 2e-4}]
    write_csv(table, rows)
    row = judge(tmp_path, normalized, scale="cpu")
    assert row["verdict"] == REPRODUCED and "L=8, outside 2.0e-04" in row["measured"]
    rows[0]["mass_outside"] = 5e-3  # the widest square still leaves too much outside
    write_csv(table, rows)
    row = judge(tmp_path, normalized, scale="cpu")
    assert row["verdict"] == INCONCLUSIVE and "the mass is not measured" in row["reason"]


def test_vae_cell_sylvester_is_the_best_of_three_variants(tmp_path):
    cell = claim(
        group="ffjord-vae",
        claimed=83.32,
        claimed_std=0.06,
        metric={"name": "−ELBO", "unit": "nats", "decimals": 2},
        comparison={"kind": "approx", "tolerance": {"abs": 0.5}},
        measure={"function": "vae_cell", "args": {"flow": "sylvester", "dataset": "mnist"}},
        inputs=["{results}/vae_table.csv"],
    )
    write_csv(
        tmp_path / "results" / "vae_table.csv",
        vae_rows(
            {
                ("sylvester_o", "mnist"): 84.9,
                ("sylvester_h", "mnist"): 83.5,
                ("sylvester_t", "mnist"): 84.0,
            }
        ),
    )
    row = judge(tmp_path, cell)
    assert row["verdict"] == REPRODUCED and "sylvester_h" in row["reason"]
    assert row["measured"] == "83.50 ± 0.10 nats (n=3)"
    frey = copy.deepcopy(cell)
    frey["measure"]["args"]["dataset"] = "freyfaces"
    row = judge(tmp_path, frey)
    assert (
        row["verdict"] == NOT_RUN
        and "no result for flow sylvester_o/sylvester_h/sylvester_t" in row["reason"]
    )


def test_textual_claims_need_no_run_and_ignore_the_scale(tmp_path):
    article = claim(
        claimed=1.40,
        measure=None,
        inputs=None,
        comparison={"kind": "textual", "reference": {"value": 0.42, "source": "NODE Table 1"}},
    )
    for key in ("measure", "inputs"):
        del article[key]
    for scale in ("smoke", "cpu", "paper"):
        row = judge(tmp_path, article, scale=scale)
        assert row["verdict"] == NOT_REPRODUCED
        assert row["measured"] == "0.42 % (NODE Table 1)"
        assert "1.40 % is not the source's 0.42 %" in row["reason"]
    same = copy.deepcopy(article)
    same["claimed"] = 0.42
    # two constants typed in the registry: a documented fact, never "reproduced" (#14 A.3)
    assert judge(tmp_path, same)["verdict"] == DOCUMENTED
    words = copy.deepcopy(article)
    words.update(
        claimed="0.22 MB",
        comparison={
            "kind": "textual",
            "reference": {
                "value": "O(1)",
                "source": "NODE Table 1",
                "note": "the paper measures no memory",
            },
        },
    )
    assert "the paper measures no memory" in judge(tmp_path, words)["reason"]


def test_missing_inputs_are_not_run_never_passed(tmp_path):
    row = judge(tmp_path, claim(experiment="Table 1 classifiers"))
    assert row["verdict"] == NOT_RUN
    assert "table1.csv is missing" in row["reason"] and "Table 1 classifiers" in row["reason"]
    table1(tmp_path, resnet=0.4)  # the file exists, but the model's row does not
    row = judge(tmp_path, claim())
    assert row["verdict"] == NOT_RUN and "no row for model 'odenet'" in row["reason"]


def test_an_input_without_the_expected_column_is_not_run_and_flagged(tmp_path):
    write_csv(tmp_path / "results" / "table1.csv", [{"model": "odenet", "error": 0.4}])
    table = evaluate_claims(
        [claim()], results=tmp_path / "results", figures=tmp_path / "figures", scale="paper"
    )
    assert table.loc[0, "verdict"] == NOT_RUN and table.loc[0, "malformed"]
    assert "no column 'test_error_mean'" in table.loc[0, "reason"]
    assert "replication/claims/sources.py" in table.loc[0, "reason"]


def article_claims():
    return {c["id"]: c for c in load_claims() if c["id"].startswith("article.a")}


def test_article_metrics_per_seed_fractions_read_as_percent(tmp_path):
    a1 = tmp_path / "results" / "article" / "a1"
    for seed, accuracy in enumerate((0.921, 0.925, 0.929)):
        (a1 / f"seed{seed}").mkdir(parents=True)
        (a1 / f"seed{seed}" / "metrics.json").write_text(json.dumps({"test_accuracy": accuracy}))
    (a1 / "metrics.json").write_text(json.dumps({"test_accuracy": 0.5}))  # a summary: not a seed
    row = judge(tmp_path, article_claims()["article.a1.accuracy"], scale="cpu")
    assert row["verdict"] == REPRODUCED and row["measured"] == "92.50 ± 0.40 % (n=3)"


def test_article_a2_reads_every_seeds_rows(tmp_path):
    tradeoff = article_claims()["article.a2.steps_tradeoff"]
    a2 = tmp_path / "results" / "article" / "a2"

    def rows(accuracies: dict[int, float], dt=None):
        for seed in (0, 1):
            write_csv(
                a2 / f"seed{seed}" / "rows.csv",
                [
                    {
                        "n": n,
                        "dt": dt or 0.04 / n,
                        "T": 0.04,
                        "accuracy": a + 0.001 * seed,
                        "seconds": n / 10,
                    }
                    for n, a in accuracies.items()
                ],
            )

    rows({5: 0.90, 10: 0.915, 20: 0.92})
    row = judge(tmp_path, tradeoff, scale="cpu")
    assert row["verdict"] == REPRODUCED and "n=5 90.05 %" in row["measured"]
    rows({5: 0.92, 10: 0.92, 20: 0.92})
    row = judge(tmp_path, tradeoff, scale="cpu")
    assert row["verdict"] == NOT_REPRODUCED and "no trade-off" in row["reason"]
    rows({5: 0.92, 10: 0.92, 20: 0.92}, dt=0.002)  # only n varies: the horizon T changes
    row = judge(tmp_path, tradeoff, scale="cpu")
    assert row["verdict"] == NOT_RUN and "trained horizon" in row["reason"]
    assert "n=5 dt=0.002" in row["reason"]


def a4_metrics(folder: Path, accuracy: float, grad_diff: float, dynamics_grad: float) -> None:
    """A4 metrics.json as replication.article writes it (checks nested by time and solver)."""
    check = {
        "max_abs_grad_diff": grad_diff,
        "max_abs_grad": 0.5,
        "as_written_dynamics_max_abs_grad": dynamics_grad,
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(
        json.dumps(
            {
                "test_accuracy": accuracy,
                "nfe_forward_per_batch": 26.0,
                "nfe_backward_per_batch": 32.0,
                "log_density_effect": {
                    "initial": {"article": check, "fixed_rk4": {**check, "max_abs_grad_diff": 0.0}},
                    "final": {"article": check},
                },
            }
        )
    )


def test_article_a4_readouts_and_the_unused_log_density(tmp_path):
    claims = article_claims()
    a4 = tmp_path / "results" / "article" / "a4"
    a4_metrics(a4 / "as_written" / "seed0", 0.11, grad_diff=3e-9, dynamics_grad=0.0)
    a4_metrics(a4 / "z_T" / "seed0", 0.97, grad_diff=2e-9, dynamics_grad=0.0)
    # cpu runs 30 / 150 of the snippet's 4,690 steps: judged at paper scale only (#14 A.5)
    row = judge(tmp_path, claims["article.a4.accuracy"], scale="paper")
    assert row["verdict"] == NOT_REPRODUCED and row["measured"] == "11.00 % (n=1)"
    assert judge(tmp_path, claims["article.a4.accuracy"], scale="cpu")["verdict"] == INCONCLUSIVE
    assert (
        judge(tmp_path, claims["article.a4.accuracy_intended"], scale="cpu")["verdict"]
        == CONSISTENT
    )
    for claim_id in ("article.a4.accuracy", "article.a4.accuracy_intended"):
        assert "after 5 epochs" not in claims[claim_id]["metric"]["name"]
        assert "cpu: " in claims[claim_id]["metric"]["name"]
    row = judge(tmp_path, claims["article.a4.log_density_used"], scale="smoke")
    assert row["verdict"] == NOT_REPRODUCED and "never reaches the loss" in row["reason"]
    assert "6e-09 of the largest gradient" in row["measured"]
    row = judge(tmp_path, claims["article.a4.dynamics_trained"], scale="cpu")
    assert row["verdict"] == NOT_REPRODUCED and "reads the noise" in row["reason"]
    a4_metrics(a4 / "z_T" / "seed0", 0.97, grad_diff=0.05, dynamics_grad=0.2)
    assert judge(tmp_path, claims["article.a4.log_density_used"])["verdict"] == REPRODUCED
    assert judge(tmp_path, claims["article.a4.dynamics_trained"])["verdict"] == REPRODUCED


def test_article_metrics_without_the_expected_key_are_flagged(tmp_path):
    a3 = tmp_path / "results" / "article" / "a3" / "seed0"
    a3.mkdir(parents=True)
    (a3 / "metrics.json").write_text(json.dumps({"accuracy": 0.97}))
    table = evaluate_claims(
        [article_claims()["article.a3.accuracy"]],
        results=tmp_path / "results",
        figures=tmp_path / "figures",
        scale="cpu",
    )
    assert table.loc[0, "verdict"] == NOT_RUN and table.loc[0, "malformed"]
    assert "has no 'test_accuracy' (keys: accuracy)" in table.loc[0, "reason"]


# --- the committed results -----------------------------------------------------------------------


def test_committed_cpu_results_evaluate_without_error():
    table = evaluate_claims(
        load_claims(),
        results=REPO_ROOT / "results" / "cpu",
        figures=REPO_ROOT / "figures" / "cpu",
        scale="cpu",
    )
    assert list(table.columns[: len(COLUMNS)]) == COLUMNS
    assert not table["malformed"].any(), table.loc[table["malformed"], ["id", "reason"]]
    verdict = dict(zip(table["id"], table["verdict"]))
    stale_ids = set(table.loc[table["stale_evidence"] != "", "id"])

    def expected(claim_id, current):
        """The verdict on results of the current code; a result made by older code (until the
        cpu rerun) is inconclusive, never reproduced or not reproduced."""
        return INCONCLUSIVE if claim_id in stale_ids else current

    for claim_id, current in {
        "node.memory.constant": REPRODUCED,
        "node.table1.resnet.params": REPRODUCED,
        "node.table1.odenet.params": NOT_REPRODUCED,  # 0.23 M, not 0.22 M
        "node.table1.odenet.error": INCONCLUSIVE,  # 2 of 160 epochs
        "node.figure3c.backward_half_forward": INCONCLUSIVE,
        "ffjord.figure5.nfe_same_for_all_dims": INCONCLUSIVE,  # the rise has only begun
        "ffjord.trace.linear_cost": REPRODUCED,
    }.items():
        assert verdict[claim_id] == expected(claim_id, current), claim_id
    assert verdict["article.a5.odenet.error.text"] == NOT_REPRODUCED  # 1.40 % vs the paper's 0.42 %
    assert verdict["article.a5.mlp.error.text"] == DOCUMENTED
    vae = table[table["group"] == "ffjord-vae"]
    if not (REPO_ROOT / "results" / "cpu" / S.VAE_TABLE_FILE).exists():
        assert (vae["verdict"] == NOT_RUN).all()
    # no committed verdict may pass on evidence the current code would not make (#13.8)
    stale = table[(table["stale_evidence"] != "") & (table["verdict"] != NOT_RUN)]
    assert (stale["verdict"] == INCONCLUSIVE).all()
    assert stale["reason"].str.startswith("stale: made by older code").all()
    # a pass at a scale the claim is not judged at is not "reproduced" (#14 A.1)
    assert verdict["article.a5.similar_or_better"] == expected("article.a5.similar_or_better",
                                                               CONSISTENT)


def test_claims_command_writes_the_csv_and_rejects_a_bad_registry(tmp_path, capsys):
    status = main(["claims", "--scale", "cpu", "--results", str(REPO_ROOT / "results" / "cpu"),
                   "--figures", str(REPO_ROOT / "figures" / "cpu"), "--out", str(tmp_path)])
    assert status == 0
    written = pd.read_csv(tmp_path / "claims.csv")
    assert list(written.columns) == COLUMNS and len(written) == len(load_claims())
    assert "claims at scale cpu" in capsys.readouterr().out

    bad = tmp_path / "bad.yaml"
    bad.write_text(json.dumps({"version": 1, "claims": [claim(comparison={"kind": "approx"})]}))
    elsewhere = tmp_path / "x"
    status = main(["claims", "--scale", "cpu", "--results", str(tmp_path), "--figures",
                   str(tmp_path), "--out", str(elsewhere), "--registry", str(bad)])
    assert status == 1
    assert "claim 'test.odenet.error', key 'comparison.tolerance'" in capsys.readouterr().err
    assert not (elsewhere / "claims.csv").exists()
