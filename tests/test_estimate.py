"""The cost estimate: the table's arithmetic, parameter checks, the verb on the smoke scale."""
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from replication.config import load_config
from replication.estimate import table
from replication.estimate.plans import ParameterCheck, PlannedJob, Timing
from replication.estimate.run import PLANNERS, plan, row_for

REPO_ROOT = Path(__file__).resolve().parents[1]


def _row(**overrides):
    values = dict(experiment="x", job="j", shape="s", device="cpu", parameters=10,
                  paper_parameters="", parameters_ok=None, batch_size=4, steps=7200,
                  timed_steps=3, seconds_per_step=0.5, nfe_init=(20.0, 10.0), nfe_trained=None,
                  peak_memory_bytes=2**20, saved_tensor_bytes=2**19, note="")
    return table.make_row(**{**values, **overrides})


def test_hours_are_seconds_per_step_times_steps():
    row = _row()
    assert row["hours"] == pytest.approx(0.5 * 7200 / 3600)
    assert row["hours_trained"] == row["hours"]          # no trained NFE: the same hours
    assert row["seconds_per_step_trained"] is None


def test_trained_nfe_scales_the_step_by_total_evaluations():
    row = _row(nfe_trained=(40.0, 50.0))                  # 90 evaluations against 30
    assert row["seconds_per_step_trained"] == pytest.approx(1.5)
    assert row["hours_trained"] == pytest.approx(1.5 * 7200 / 3600)
    with pytest.raises(ValueError, match="no function evaluations"):
        _row(nfe_init=(0.0, 0.0), nfe_trained=(1.0, 1.0))
    with pytest.raises(ValueError, match="non-negative"):
        table.hours(-1.0, 3)


def test_totals_per_experiment_and_for_everything():
    rows = [_row(experiment="a", shape="one"), _row(experiment="a", shape="one"),
            _row(experiment="b", shape="two", steps=3600, parameters_ok=False,
                 peak_memory_bytes=2**30)]
    summary = {row["experiment"]: row for row in table.totals(rows)}
    assert summary["a"]["jobs"] == 2 and summary["a"]["distinct_shapes"] == 1
    assert summary["a"]["hours"] == pytest.approx(2.0)
    assert summary["all"]["hours"] == pytest.approx(2.5)
    assert summary["all"]["peak_memory_bytes_max"] == 2**30
    assert summary["all"]["parameter_mismatches"] == 1
    assert list(summary) == ["a", "b", "all"]


def test_a_parameter_mismatch_is_flagged_and_named():
    job = PlannedJob(experiment="vae_table", job="mnist iaf seed 0", shape="s", steps=10, batch_size=1,
                     checks=(ParameterCheck(source="papers.md §7", exact=3_807_777),))
    row = row_for(job, Timing(parameters=3_396_897, seconds_per_step=1.0, timed_steps=1),
                  device="cpu")
    assert row["parameters_ok"] is False
    assert "3,396,897 differs from 3,807,777 (papers.md §7)" in row["note"]
    assert row_for(job, Timing(parameters=3_807_777, seconds_per_step=1.0, timed_steps=1),
                   device="cpu")["parameters_ok"] is True
    assert ParameterCheck(source="Table 1", millions=0.22).holds(232_970) is False
    assert ParameterCheck(source="Table 1", millions=0.60).holds(601_482) is True


def test_unknown_experiment_names_what_is_known():
    config = load_config(REPO_ROOT / "config" / "config.yaml", overrides={"scale": "smoke"})
    with pytest.raises(ValueError, match="unknown experiment.*'tables'.*known: table1"):
        plan(config, only=["table1", "tables"])


def test_paper_plan_lists_every_job_with_the_protocol_steps():
    config = load_config(REPO_ROOT / "config" / "config.yaml", overrides={"scale": "paper"})
    jobs = plan(config, only=["table1", "vae_table"])
    classify = [job for job in jobs if job.experiment == "table1"]
    assert len(classify) == 18 and {job.steps for job in classify} == {160 * (55_000 // 128)}
    assert len({job.shape for job in classify}) == 6          # the seeds share a shape
    vae = {job.job: job for job in jobs if job.experiment == "vae_table"}
    assert len(vae) == 4 * 7 * 3
    assert vae["binarized_mnist ffjord seed 1"].steps == 2000 * 500
    assert vae["freyfaces none seed 2"].steps == 2000 * (1565 // 100)
    assert vae["binarized_mnist ffjord seed 0"].slow


def test_the_verb_on_the_smoke_scale(tmp_path):
    out = tmp_path / "estimate"
    done = subprocess.run(
        [sys.executable, "-m", "replication", "estimate", "--scale", "smoke", "--steps", "1",
         "--only", "table1", "toy_density", "--out", str(out), "--threads", "1"],
        capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode == 0, done.stderr
    with (out / "estimate.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == table.COLUMNS
    assert [row["experiment"] for row in rows] == ["table1"] * 6 + ["toy_density"] * 4
    for row in rows:
        assert float(row["hours"]) == pytest.approx(
            float(row["seconds_per_step"]) * int(row["steps"]) / 3600)
        assert int(row["peak_memory_bytes"]) > 0 and int(row["timed_steps"]) == 1
    odenet = next(row for row in rows if row["job"] == "odenet seed 0")
    assert float(odenet["nfe_forward_init"]) > 0 and odenet["parameters_ok"] == "False"
    with (out / "totals.csv").open(newline="") as handle:
        totals = {row["experiment"]: row for row in csv.DictReader(handle)}
    assert float(totals["all"]["hours"]) == pytest.approx(
        sum(float(row["hours"]) for row in rows))
    provenance = json.loads((out / "provenance.json").read_text())
    assert {"device", "cpu_capability", "torch_threads", "git_sha",
            "load_average_before"} <= set(provenance)
    assert provenance["torch_threads"] == 1
    assert "## Totals" in (out / "estimate.md").read_text()


def test_the_verb_rejects_an_unknown_experiment_before_timing(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "replication", "estimate", "--scale", "smoke", "--only", "vea",
         "--out", str(tmp_path / "o")], capture_output=True, text=True, cwd=REPO_ROOT)
    assert done.returncode != 0
    assert "invalid choice: 'vea'" in done.stderr and "'vae_table'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "o").exists()


def test_every_planner_is_registered():
    assert set(PLANNERS) == {"table1", "figure3", "memory_depth", "vae_table", "nfe_vs_dim",
                             "toy_density", "trace_cost", "article"}


def test_memory_depth_extrapolation_fits_a_line_and_never_falls():
    from replication.estimate.analysis_plans import fit_line

    assert fit_line([1, 2, 4, 8], [1.0, 2.0, 4.0, 8.0], 128) == pytest.approx(128.0)
    assert fit_line([1, 2, 4, 8], [0.48, 0.52, 0.63, 0.53], 128) >= 0.53   # noisy timings
    assert fit_line([1, 2, 4, 8], [5.0, 4.0, 3.0, 2.0], 64) == pytest.approx(3.5)  # slope 0
    assert fit_line([1, 2], [None, 1.0], 4) is None
