"""The Snakemake workflow end to end at the smoke scale, in a private copy of the project.

One smoke run, then dry runs that check Snakemake's rerun behaviour: nothing to do
on a second run; a model's config or code change reruns exactly that model's job
(and the table); an invalid config fails before any job.
"""
from __future__ import annotations

import re
import subprocess
import time

import pandas as pd
import pytest
import yaml

# The session-scoped `project` fixture (one smoke run shared with test_smoke_baselines.py) and
# these helpers live in tests/workflow/conftest.py.
from replication.config import materialize_scales
from tests.workflow.conftest import SNAKEMAKE, project_env, snakemake

pytestmark = pytest.mark.workflow


def job_blocks(output: str) -> list[tuple[str, str]]:
    """(rule name, the job's lines) for each job a dry run lists."""
    blocks = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:)", output):
        rule = re.match(r"(?:local)?rule (\w+):", block)
        if rule:
            blocks.append((rule.group(1), block.split("\n\n")[0]))
    return blocks


def planned_jobs(output: str) -> set[str]:
    """rule, or rule:model, for each job a dry run would execute."""
    jobs = set()
    for rule, block in job_blocks(output):
        model = re.search(r"wildcards: model=(\w+)", block)
        jobs.add(f"{rule}:{model.group(1)}" if model else rule)
    return jobs


def test_smoke_run_produces_table1_with_every_model(project):
    table = pd.read_csv(project / "results" / "smoke" / "table1.csv")
    assert set(table["model"]) == {"mlp", "resnet", "rknet", "odenet", "stem", "resnet1"}
    assert (table["parameters"] > 0).all() and table["test_error_mean"].between(0, 100).all()
    odenet = table.set_index("model").loc["odenet"]
    assert odenet["nfe_forward_per_batch"] > 0 and odenet["nfe_backward_per_batch"] > 0
    assert table.set_index("model").loc["resnet", "parameters"] == 601_482
    for name in ("table1.md", "table1.tex", "classify/runs.csv"):
        assert (project / "results" / "smoke" / name).stat().st_size > 0
    for run in (project / "results" / "smoke" / "classify").glob("*/seed0"):
        assert (run / "provenance.json").is_file() and (run / "history.csv").is_file()
    assert list((project / "logs" / "smoke" / "classify").glob("*.log")), "every job has a log"


def test_every_smoke_classifier_beats_a_constant_predictor(project):
    """A gate that can fail: each model's test accuracy exceeds the majority-class rate of the
    test images it was scored on (0.137 for the smoke subset: predicting class 1 everywhere)."""
    import collections
    import json

    from replication.data.mnist import load_mnist

    config = materialize_scales(yaml.safe_load((project / "config" / "config.yaml").read_text()))
    data = load_mnist(project / "data", **config["scales"]["smoke"]["classify"]["data"])
    labels = data.test.labels.tolist()
    majority = collections.Counter(labels).most_common(1)[0][1] / len(labels)
    runs = sorted((project / "results" / "smoke" / "classify").glob("*/seed0/metrics.json"))
    assert len(runs) == 6
    below = {}
    for path in runs:
        metrics = json.loads(path.read_text())
        assert metrics["test_size"] == len(labels) and metrics["diverged"] is False
        if 1 - metrics["test_error"] <= majority:
            below[metrics["model"]] = 1 - metrics["test_error"]
    assert not below, f"no better than predicting the majority class ({majority:.4f}): {below}"


def test_smoke_run_produces_figure3_and_memory_vs_depth(project):
    figures = project / "figures" / "smoke"
    for name in ("figure3.png", "figure3.pdf", "memory_depth.png", "memory_depth.pdf"):
        assert (figures / name).stat().st_size > 1000, name
    sweep = pd.read_csv(figures / "figure3a.csv")
    assert len(sweep) >= 6 and sweep["tolerance"].between(1e-6, 1e-1).all()
    assert sweep.sort_values("tolerance")["nfe_forward"].is_monotonic_decreasing
    ratio = pd.read_csv(figures / "figure3c.csv")["fitted_ratio"].iloc[0]
    assert 0 < ratio < 3
    fits = pd.read_csv(figures / "memory_depth_fits.csv").set_index("variant")
    assert fits.loc["rknet", "memory_bytes_per_step"] > 0
    assert fits.loc["adjoint", "verdict"] == "adjoint memory is constant in depth"
    points = pd.read_csv(figures / "memory_depth.csv")
    assert points["depth"].max() == 64 and set(points["variant"]) == {"resnet", "rknet", "adjoint"}
    for job in ("figure3", "memory_depth"):  # analyses are jobs like any other
        for name in ("provenance.json", "metrics.json"):
            assert (project / "results" / "smoke" / job / name).is_file(), (job, name)


def test_plotting_change_reruns_only_the_plot(project, mirror):
    module = project / "replication" / "experiments" / "memory_depth" / "plot.py"
    original = module.read_text()
    try:
        module.write_text(original.replace('figsize=(10, 4)', 'figsize=(11, 4)'))
        done = snakemake(project, "--dry-run", mirror=mirror)
    finally:
        module.write_text(original)
    # the plot, and the verdicts and report that read it
    assert planned_jobs(done.stdout) == {"memory_figure", "claims", "report", "all"}


def test_second_run_does_nothing(project, mirror):
    start = time.perf_counter()
    done = snakemake(project, mirror=mirror)
    print(f"\nno-op rerun: {time.perf_counter() - start:.1f} s")
    assert "Nothing to be done" in done.stdout + done.stderr


def test_config_change_reruns_exactly_that_model(project, mirror):
    config_path = project / "config" / "config.yaml"
    original = config_path.read_text()
    config = yaml.safe_load(original)
    # scales.smoke is written as a delta onto scales.paper: the new rtol goes into the delta
    models = config["scales"]["smoke"]["classify"].setdefault("models", {})
    models.setdefault("odenet", {}).setdefault("architecture", {})["rtol"] = 1e-4
    config_path.write_text(yaml.safe_dump(config))
    try:
        done = snakemake(project, "--dry-run", mirror=mirror)
    finally:
        config_path.write_text(original)
    # the ODE-Net's table row and the Figure 3 analyses of that ODE-Net, nothing else
    assert planned_jobs(done.stdout) == {"train_classifier:odenet", "table1", "tolerance_sweep",
                                         "figure3", "claims", "report", "all"}


def test_code_change_reruns_exactly_the_jobs_that_import_it(project, mirror):
    module = project / "replication" / "models" / "resnet.py"
    original = module.read_text()
    comment_only = original + "\n# a comment changes no behaviour\n"
    changed = original.replace("blocks: int = 6", "blocks: int = 5")
    assert changed != original
    try:
        module.write_text(comment_only)
        assert "Nothing to be done" in snakemake(project, "--dry-run", mirror=mirror).stdout
        module.write_text(changed)
        done = snakemake(project, "--dry-run", mirror=mirror)
    finally:
        module.write_text(original)
    # every model built from resnet.py, and the memory measurement that builds ResNets
    assert planned_jobs(done.stdout) == {
        "train_classifier:resnet", "train_classifier:resnet1", "train_classifier:stem",
        "table1", "memory_depth", "memory_figure", "claims", "report", "all",
    }


@pytest.mark.parametrize(
    ("override", "key"),
    [("scale=huge", "config key scale"), ("checkpoint_dir=", "config key checkpoint_dir")],
)
def test_invalid_config_fails_before_any_job(project, mirror, override, key):
    done = snakemake(project, "--config", override, mirror=mirror, check=False)
    assert done.returncode != 0
    assert key in done.stdout + done.stderr
    assert "rule train_classifier" not in done.stdout


def test_cuda_jobs_request_a_gpu(project, mirror):
    env = project_env(project)
    done = subprocess.run([*SNAKEMAKE, "--dry-run", "--cores", "4", "--config", "scale=paper"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    blocks = job_blocks(done.stdout)
    gpu_jobs = [rule for rule, block in blocks if re.search(r"resources:.*gpu=1", block)]
    assert sorted(set(gpu_jobs)) == ["article_a4", "ffjord_nfe", "memory_depth", "tolerance_sweep",
                                     "toy_density", "trace_cost", "train_classifier",
                                     "train_vae"]
    assert gpu_jobs.count("train_classifier") == 18  # 6 models × 3 seeds
    assert gpu_jobs.count("train_vae") == 84  # 7 flows × 4 datasets × 3 seeds
    assert gpu_jobs.count("ffjord_nfe") == 4  # latent sizes 16, 32, 48, 64


def test_a_forced_rerun_never_resumes_a_checkpoint_of_other_code(project, mirror):
    """`snakemake -R`: completed runs left no checkpoint, and a planted one of other code is refused.

    Runs last in this file: it retrains the MLP (about 10 s), and the table, claims and report.
    """
    import torch

    from replication.experiments.base import checkpoint_path
    from replication.experiments.registry import experiment
    from replication.experiments.table1 import jobs as classify_runs
    from replication.measure.provenance import config_hash

    checkpoints = project / "checkpoints" / "smoke" / "table1"
    assert not list(checkpoints.rglob("*.pt")), "a completed run left its checkpoint behind"
    config = materialize_scales(yaml.safe_load((project / "config" / "config.yaml").read_text()))
    (spec,) = [s for s in classify_runs({**config, "scale": "smoke"}) if s["model"] == "mlp"]
    planted = checkpoint_path(experiment("table1"), spec, checkpoints.parent)
    planted.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"epoch": spec["training"]["epochs"], "history": [], "batches": [], "best": None,
                "identity": {"spec_hash": config_hash(spec),
                             "code_fingerprint": "made-by-other-code"}}, planted)
    # `-R <the MLP's metrics>`: reruns that job, then the table, claims and report that read it
    snakemake(project, "--forcerun", "results/smoke/classify/mlp/seed0/metrics.json",
              mirror=mirror)
    log = (project / "logs" / "smoke" / "classify" / "mlp-seed0.log").read_text()
    assert "restarting from scratch" in log and "made-by-other-code" in log
    assert not re.search(r"^resuming ", log, re.M)
    epochs = spec["training"]["epochs"]
    assert re.search(rf"^epoch {epochs}/{epochs} ", log, re.M) and re.search(r"^epoch 1/", log, re.M)
    assert not planted.exists()
    done = snakemake(project, mirror=mirror)
    assert "Nothing to be done" in done.stdout + done.stderr
