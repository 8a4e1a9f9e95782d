"""Tables and claims agree (issue #14 A.6), tables say their scale (A.7) and mark stale rows
(issue #13.8)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

from replication.claims.verdicts import load_claims
from replication.collect import paper
from replication.experiments.memory_depth.plot import fit_slopes
from replication.experiments.registry import experiment
from replication.experiments.table1.table import build_table1
from replication.experiments.vae_table.table import build_vae_table

REPO_ROOT = Path(__file__).resolve().parents[1]
CPU = REPO_ROOT / "results" / "cpu"
CLAIMS = {c["id"]: c for c in load_claims()}


def test_paper_numbers_have_one_source_the_claims_registry():
    source = Path(paper.__file__).read_text()
    for number in ("0.41", "0.47", "86.55", "104.03", "4.39"):
        assert number not in source, f"{number} is typed in collect/paper.py again"
    for model in ("mlp", "resnet", "rknet", "odenet"):
        assert paper.TABLE1[model].test_error == CLAIMS[f"node.table1.{model}.error"]["claimed"]
        params = CLAIMS[f"node.table1.{model}.params"]["claimed"]
        assert paper.TABLE1[model].parameters == f"{params:.2f} M"
    cell = paper.vae_paper_cell("sylvester_t", "caltech101_silhouettes")
    assert (cell.mean, cell.std) == (CLAIMS["ffjord.vae.sylvester.caltech"]["claimed"],
                                     CLAIMS["ffjord.vae.sylvester.caltech"]["claimed_std"])


def test_one_memory_rule_for_the_figure_and_the_claim():
    rule = CLAIMS["node.memory.constant"]["comparison"]["tolerance"]["rel"]
    assert paper.memory_constant_fraction() == rule
    depths = [1, 2, 4, 8]
    points = pd.DataFrame(
        [{"variant": "rknet", "depth": d, "peak_memory_bytes": 1e8 + 1e6 * d,
          "step_seconds_median": d, "memory_method": "x"} for d in depths]
        + [{"variant": "adjoint", "depth": d, "peak_memory_bytes": 1e8 + 0.03e6 * d,
            "step_seconds_median": d, "memory_method": "x"} for d in depths])
    fits = fit_slopes(points)  # the adjoint's slope is 3 % of the RK-Net's: constant by the rule
    assert fits["verdict"].iloc[0] == "adjoint memory is constant in depth"


def _copy_run(source: Path, target: Path, **metrics) -> Path:
    shutil.copytree(source, target)
    path = target / "metrics.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **metrics}))
    return path


def _set_fingerprint(run: Path, fingerprint: str) -> None:
    path = run / "provenance.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), "code_fingerprint": fingerprint}))


def test_table1_title_and_caption_carry_the_scale_and_stale_runs_are_marked(tmp_path):
    mlp = _copy_run(CPU / "classify" / "mlp" / "seed0", tmp_path / "mlp" / "seed0")
    resnet1 = _copy_run(CPU / "classify" / "resnet1" / "seed0", tmp_path / "resnet1" / "seed0")
    spec = json.loads((mlp.parent / "provenance.json").read_text())["spec"]
    _set_fingerprint(mlp.parent, experiment("table1").fingerprint(spec))
    _set_fingerprint(resnet1.parent, "0000000000000000")
    build_table1([mlp, resnet1], runs_csv=tmp_path / "runs.csv", prefix=tmp_path / "table1")
    markdown = (tmp_path / "table1.md").read_text()
    title = markdown.splitlines()[0]
    assert "scale cpu" in title and "2 epochs" in title and "1 seed" in title
    latex = (tmp_path / "table1.tex").read_text()
    assert "\\caption{Neural ODE Table 1 (MNIST) — scale cpu" in latex
    # the ablation row shows no paper cell the paper never printed
    row = [line for line in markdown.splitlines() if "1 block" in line][0]
    assert "O(1)" not in row
    assert "ResNet, 1 block (ablation) (stale: made by older code)" in row
    assert "1-Layer MLP (stale" not in markdown


def test_vae_table_title_scale_and_nll_beside_the_elbo_on_the_same_images(tmp_path):
    run = _copy_run(CPU / "vae" / "freyfaces" / "iaf" / "seed0", tmp_path / "iaf" / "seed0",
                    is_neg_elbo=7.41)
    summary = build_vae_table([run], runs_csv=tmp_path / "runs.csv", prefix=tmp_path / "vae",
                              datasets=["freyfaces"], flows=["iaf"], excluded=[])
    markdown = (tmp_path / "vae.md").read_text()
    assert "scale cpu: ≤ 8 epochs, width ×0.25, 1 seed(s)" in markdown.splitlines()[0]
    assert "(NLL 7.36 vs −ELBO 7.41 on the same 200 images)" in markdown
    recorded = json.loads((run.parent / "provenance.json").read_text())
    assert bool(summary["stale"].iloc[0]) == (
        recorded["code_fingerprint"] != experiment("vae_table").fingerprint(recorded["spec"]))
