"""FFJORD Figure 5 (NFE vs latent size): a real tiny run, resume, the table, the figure, the CLI."""
from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import torch

from replication.cli import build_parser
from replication.config import load_config
from replication.data.images import ImageDataset
from replication.experiments.nfe_vs_dim import run as nfe_vs_dim
from replication.experiments.nfe_vs_dim.plot import nfe_vs_dim_figure, read_nfe_table
from replication.experiments.nfe_vs_dim.table import nfe_table
from tests.support.jobs import run_experiment

SPEC = {
    "scale": "test", "seed": 0, "device": "cpu", "dataset": "binarized_mnist", "latent_dim": 4,
    "data": {"train_subset": 40},
    "model": {"width": 0.125, "flow_options": {
        "hidden_dims": [8], "rank": 1, "num_blocks": 1, "rtol": 1e-4, "atol": 1e-4}},
    "training": {"optimizer": "adamax", "lr": 1e-3, "eps": 1e-7, "batch_size": 20, "epochs": 2,
                 "warmup_epochs": 0},
}


@pytest.fixture
def fake_mnist(monkeypatch):
    """A 40-image binary stand-in for binarized MNIST (the loader is tested elsewhere)."""
    def load(name, root, **options):
        generator = torch.Generator().manual_seed(0)  # the same images at every load
        images = (torch.rand(60, 1, 28, 28, generator=generator) > 0.7).float()
        return ImageDataset(name=name, train=images[:40], validation=images[40:50],
                            test=images[50:], likelihood="bernoulli", dynamic_binarization=False)

    monkeypatch.setattr(nfe_vs_dim, "load_image_dataset", load)


def _run(tmp_path, spec=SPEC, name="run"):
    return run_experiment("nfe_vs_dim", spec, tmp_path / name, data_dir=tmp_path,
                          checkpoint_dir=tmp_path / "ckpt")


def test_run_records_nfe_per_batch_and_epoch(tmp_path, fake_mnist):
    metrics = _run(tmp_path)
    history = pd.read_csv(tmp_path / "run" / "history.csv")
    batches = pd.read_csv(tmp_path / "run" / "batches.csv")
    assert list(history["epoch"]) == [1, 2]
    assert len(batches) == 2 * 2  # 40 images, batches of 20, 2 epochs
    # dopri5 makes 6 evaluations per step plus the first: never fewer than 8 per solve
    assert (batches["nfe_forward"] >= 8).all() and (batches["nfe_backward"] >= 8).all()
    per_epoch = batches.groupby("epoch")["nfe_forward"]
    assert history["nfe_forward"].tolist() == pytest.approx(per_epoch.mean().tolist())
    assert history["nfe_forward_per_epoch"].tolist() == per_epoch.sum().tolist()
    assert metrics["latent_dim"] == 4 and metrics["epochs"] == 2
    provenance = json.loads((tmp_path / "run" / "provenance.json").read_text())
    assert provenance["code_fingerprint"] == "test" and provenance["spec"] == SPEC


def test_interrupted_run_resumes_to_identical_numbers(tmp_path, fake_mnist, monkeypatch):
    _run(tmp_path / "a")
    reference = pd.read_csv(tmp_path / "a" / "run" / "batches.csv")
    calls = {"n": 0}
    original = nfe_vs_dim.train_epoch

    def dies_in_epoch_two(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(nfe_vs_dim, "train_epoch", dies_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "b")
    monkeypatch.setattr(nfe_vs_dim, "train_epoch", original)
    _run(tmp_path / "b")
    resumed = pd.read_csv(tmp_path / "b" / "run" / "batches.csv")
    pd.testing.assert_frame_equal(resumed.drop(columns="seconds"),
                                  reference.drop(columns="seconds"))


def test_spec_errors_name_the_missing_key():
    broken = copy.deepcopy(SPEC)
    del broken["training"]
    with pytest.raises(ValueError, match="lacks training"):
        nfe_vs_dim.check_spec(broken)


def _history(path, dim, nfe):
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"latent_dim": dim, "epoch": range(1, len(nfe) + 1), "nfe_forward": nfe,
                  "nfe_backward": nfe}).to_csv(path, index=False)
    return path


def test_table_and_figure_from_histories(tmp_path):
    paths = [_history(tmp_path / f"d{d}" / "history.csv", d, [20, 26, 32]) for d in (16, 32)]
    table = nfe_table(paths)
    assert list(table.columns[:4]) == ["latent_dim", "epoch", "nfe_forward", "nfe_backward"]
    table.to_csv(tmp_path / "nfe_vs_dim.csv", index=False)
    written = nfe_vs_dim_figure(read_nfe_table(tmp_path / "nfe_vs_dim.csv"), prefix=tmp_path / "f")
    assert {p.name for p in written} == {"f.png", "f.pdf", "f.csv", "f_summary.csv"}
    summary = pd.read_csv(tmp_path / "f_summary.csv")
    assert summary["nfe_forward_last"].tolist() == [32, 32]


def test_bad_inputs_are_named(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        nfe_table([tmp_path / "missing.csv"])
    pd.DataFrame({"epoch": [1]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(ValueError, match="bad.csv: missing column"):
        nfe_table([tmp_path / "bad.csv"])
    with pytest.raises(ValueError, match="bad.csv: missing column"):
        read_nfe_table(tmp_path / "bad.csv")
    twice = _history(tmp_path / "h.csv", 16, [20, 21])
    with pytest.raises(ValueError, match="more than one"):
        nfe_table([twice, twice])


def test_every_scale_covers_the_papers_latent_sizes():
    for scale in ("smoke", "cpu", "paper"):
        section = load_config(overrides={"scale": scale})["scales"][scale]["nfe_vs_dim"]
        assert section["latent_dims"] == [16, 32, 48, 64]
        assert section["model"]["flow_options"]["gradient"] == "adjoint"


def test_cli_collects_and_plots_it():
    args = build_parser().parse_args(["collect", "nfe_vs_dim", "a.csv", "b.csv", "--out", "r"])
    assert [str(p) for p in args.inputs] == ["a.csv", "b.csv"] and str(args.out) == "r"
    args = build_parser().parse_args(["figure", "nfe_vs_dim", "t.csv", "--out", "f"])
    assert args.experiment == "nfe_vs_dim" and str(args.out) == "f"
