"""VAE runs: configuration resolution, KL warm-up, a real tiny run, resume, and the table."""
from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from replication.config import ConfigError, load_config, validate_config
from replication.experiments.vae_table import jobs as vae_runs

FLOWS = ["none", "planar", "iaf", "sylvester_o", "sylvester_h", "sylvester_t"]
DATASETS = ["binarized_mnist", "omniglot", "freyfaces", "caltech101_silhouettes"]


def _config(scale: str, **overrides) -> dict:
    return load_config(overrides={"scale": scale, **overrides})


def test_every_scale_runs_every_dataset_and_flow():
    for scale in ("smoke", "cpu", "paper"):
        runs = vae_runs(_config(scale))
        assert {r["dataset"] for r in runs} == set(DATASETS)
        assert set(FLOWS) <= {r["flow"] for r in runs}
    paper = vae_runs(_config("paper"))
    assert len({r["seed"] for r in paper}) == 3
    assert {r["training"]["max_epochs"] for r in paper} == {2000}
    assert {r["model"]["width"] for r in paper} == {1.0}


def test_excluded_datasets_are_left_out():
    runs = vae_runs(_config("smoke", exclude_datasets=["omniglot"]))
    assert "omniglot" not in {r["dataset"] for r in runs}
    assert len(runs) == 3 * len({r["flow"] for r in runs})


def test_frey_runs_take_the_papers_split_seeds_in_turn():
    runs = [r for r in vae_runs(_config("paper")) if r["dataset"] == "freyfaces" and r["flow"] == "none"]
    assert [r["data"]["split_seed"] for r in runs] == [123, 321, 231]
    caltech = [r for r in vae_runs(_config("paper")) if r["dataset"] == "caltech101_silhouettes"]
    assert {r["evaluation"]["is_samples"] for r in caltech} == {2000}
    assert {r["data"]["split_seed"] for r in caltech} == {None}


def test_dataset_overrides_single_training_keys():
    runs = vae_runs(_config("cpu"))
    caltech = next(r for r in runs if r["dataset"] == "caltech101_silhouettes")
    mnist = next(r for r in runs if r["dataset"] == "binarized_mnist")
    assert caltech["training"]["max_epochs"] != mnist["training"]["max_epochs"]
    assert caltech["training"]["lr"] == mnist["training"]["lr"]


def test_frey_without_split_seeds_is_rejected_with_advice():
    config = _config("smoke")
    broken = copy.deepcopy(config)
    del broken["scales"]["cpu"]["vae"]["datasets"]["freyfaces"]["split_seeds"]
    with pytest.raises(ConfigError, match=r"scales\.cpu\.vae\.datasets\.freyfaces.*split_seeds"):
        validate_config(broken)


def test_unknown_flow_option_is_rejected_naming_the_key():
    broken = copy.deepcopy(_config("smoke"))
    broken["scales"]["smoke"]["vae"]["flows"]["planar"]["flows"] = 4
    with pytest.raises(ConfigError, match=r"scales\.smoke\.vae\.flows\.planar"):
        validate_config(broken)


def test_warmup_beta_rises_linearly_then_stays_at_one():
    from replication.train.vae import warmup_beta

    assert [warmup_beta(e, warmup_epochs=4) for e in (1, 2, 3, 4, 5, 100)] == [
        0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert warmup_beta(1, warmup_epochs=0) == 1.0


TINY = {
    "experiment": "vae", "scale": "test", "dataset": "caltech101_silhouettes", "flow": "planar",
    "seed": 3, "device": "cpu",
    "data": {"split_seed": None, "train_subset": 60, "validation_subset": 30, "test_subset": 10},
    "model": {"latent_dim": 8, "width": 0.125, "flow_options": {"num_flows": 2}},
    "training": {"optimizer": "adamax", "lr": 5e-4, "eps": 1e-7, "batch_size": 20,
                 "max_epochs": 3, "warmup_epochs": 2, "patience": 100, "eval_batch_size": 30},
    "evaluation": {"is_samples": 8, "is_chunk": 4, "is_test_subset": 5},
}


@pytest.fixture(scope="module")
def caltech_root(tmp_path_factory, mirror):
    from replication.data.catalog import fetch

    root = tmp_path_factory.mktemp("data")
    fetch("caltech101_silhouettes", data_dir=root, mirror=mirror)
    return root


def _run(spec, tmp_path, data_dir, name="run"):
    from tests.support.jobs import run_experiment

    return run_experiment("vae_table", spec, tmp_path / name, data_dir=data_dir,
                          checkpoint_dir=tmp_path / f"{name}-ckpt")


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, caltech_root):
    root = tmp_path_factory.mktemp("vae")
    return root, _run(TINY, root, caltech_root)


def test_run_writes_metrics_history_and_provenance(tiny_run):
    root, metrics = tiny_run
    assert metrics["epochs"] == 3 and metrics["train_size"] == 60 and metrics["test_size"] == 10
    assert metrics["unit"] == "nats" and metrics["is_test_images"] == 5
    assert 0 < metrics["neg_elbo"] < 784 * 2 and 0 < metrics["nll"]
    assert metrics["peak_memory_bytes"] > 0 and metrics["parameters"] > metrics["flow_parameters"] > 0
    history = pd.read_csv(root / "run" / "history.csv")
    assert list(history["beta"]) == [0.5, 1.0, 1.0]
    assert history["validation_neg_elbo"].notna().all()
    provenance = json.loads((root / "run" / "provenance.json").read_text())
    assert provenance["spec"] == TINY and provenance["seed"] == 3
    assert provenance["config_hash"] == metrics["config_hash"]


def test_interrupted_run_resumes_to_identical_numbers(tmp_path, tiny_run, caltech_root, monkeypatch):
    import replication.experiments.vae_table.run as experiment

    _, uninterrupted = tiny_run
    real_train_epoch = experiment.train_epoch
    calls = []

    def dies_in_epoch_two(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt("killed")
        return real_train_epoch(*args, **kwargs)

    monkeypatch.setattr(experiment, "train_epoch", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        _run(TINY, tmp_path, caltech_root)
    assert not (tmp_path / "run" / "metrics.json").exists()
    monkeypatch.setattr(experiment, "train_epoch", real_train_epoch)
    resumed = _run(TINY, tmp_path, caltech_root)
    for key in ("neg_elbo", "nll", "validation_neg_elbo_nats", "selected_epoch", "epochs"):
        assert resumed[key] == uninterrupted[key], key


def _metrics(flow, dataset, seed, neg_elbo, unit="nats"):
    return {"experiment": "vae", "scale": "test", "dataset": dataset, "flow": flow, "seed": seed,
            "device": "cpu", "unit": unit, "neg_elbo": neg_elbo, "nll": neg_elbo - 1,
            "neg_elbo_nats": neg_elbo, "nll_nats": neg_elbo - 1, "is_samples": 10,
            "is_test_images": 5, "parameters": 1000, "flow_parameters": 10,
            "peak_memory_bytes": 1, "memory_method": "cpu_profiler_allocator_events",
            "epoch_seconds": 1.0, "step_seconds": 0.1, "epochs": 2, "selected_epoch": 2,
            "nfe_forward_per_batch": 0.0, "nfe_backward_per_batch": 0.0, "train_size": 10,
            "test_size": 5}


def _write_runs(tmp_path, cells):
    paths = []
    for flow, dataset, seed, value in cells:
        run = tmp_path / dataset / flow / f"seed{seed}"
        run.mkdir(parents=True)
        unit = "bits/dim" if dataset == "freyfaces" else "nats"
        (run / "metrics.json").write_text(json.dumps(_metrics(flow, dataset, seed, value, unit)))
        paths.append(run / "metrics.json")
    return paths


def test_table_has_rows_flows_columns_datasets_and_the_paper_beside_ours(tmp_path):
    from replication.experiments.vae_table.table import build_vae_table

    paths = _write_runs(tmp_path, [("none", "binarized_mnist", 0, 90.0),
                                   ("none", "binarized_mnist", 1, 92.0),
                                   ("planar", "binarized_mnist", 0, 89.0),
                                   ("none", "freyfaces", 0, 4.6), ("planar", "freyfaces", 0, 4.5)])
    summary = build_vae_table(paths, runs_csv=tmp_path / "runs.csv", prefix=tmp_path / "vae_table",
                              datasets=["binarized_mnist", "omniglot", "freyfaces"],
                              flows=["none", "planar"], excluded=["omniglot"])
    cell = summary.set_index(["flow", "dataset"]).loc[("none", "binarized_mnist")]
    assert cell["n_seeds"] == 2 and cell["neg_elbo_mean"] == 91.0
    assert cell["neg_elbo_std"] == pytest.approx(2 ** 0.5) and cell["paper_neg_elbo"] == 86.55
    omniglot = summary.set_index(["flow", "dataset"]).loc[("planar", "omniglot")]
    assert omniglot["status"] == "not run (excluded)" and omniglot["paper_neg_elbo"] == 102.65
    markdown = (tmp_path / "vae_table.md").read_text()
    assert ("91.0 ± 1.4 (NLL 90.0 ± 1.4 vs −ELBO not measured on the same 5 images) "
            "[paper 86.55 ± 0.06]") in markdown
    assert "stale: made by older code" in markdown  # these runs record no code fingerprint
    assert "Frey Faces (bits/dim)" in markdown and "not run (excluded)" in markdown
    assert (tmp_path / "vae_table.tex").read_text().count("Planar") == 1
    assert len(pd.read_csv(tmp_path / "vae_table.csv")) == 6


def test_a_missing_cell_that_is_not_excluded_is_an_error(tmp_path):
    from replication.experiments.vae_table.table import build_vae_table

    paths = _write_runs(tmp_path, [("none", "binarized_mnist", 0, 90.0)])
    with pytest.raises(ValueError, match="no run of flow 'planar' on dataset 'binarized_mnist'"):
        build_vae_table(paths, runs_csv=tmp_path / "runs.csv", prefix=tmp_path / "t",
                        datasets=["binarized_mnist"], flows=["none", "planar"], excluded=[])


def test_flow_overrides_change_only_that_flows_runs():
    runs = vae_runs(_config("cpu"))
    ffjord = [r for r in runs if r["flow"] == "ffjord"]
    others = [r for r in runs if r["flow"] != "ffjord"]
    assert {r["evaluation"]["is_test_subset"] for r in ffjord} == {100}
    assert {r["evaluation"]["is_test_subset"] for r in others} == {500}
    assert {r["evaluation"]["is_samples"] for r in ffjord} == {100}  # single keys only
    broken = copy.deepcopy(_config("cpu"))
    broken["scales"]["cpu"]["vae"]["flow_overrides"] = {"glow": {"evaluation": {"is_samples": 1}}}
    with pytest.raises(ConfigError, match="flow_overrides"):
        validate_config(broken)
