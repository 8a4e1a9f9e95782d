"""Figure 3's measurements on ODEs with known solutions, and its plots on synthetic tables."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from replication.experiments.figure3.plot import backward_forward_ratio, figure3
from replication.experiments.figure3.run import tolerance_sweep
from replication.ode import CountedFunction
from replication.plots.style import save_figure


class Linear(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.register_buffer("a", a)

    def forward(self, t, z):
        return z @ self.a.T


A = torch.tensor([[-0.5, 2.0], [-2.0, -0.5]], dtype=torch.float64)
TOLERANCES = [1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6]


def test_tolerance_sweep_trades_error_for_nfe_on_a_linear_ode():
    z0 = torch.tensor([[1.0, 0.0], [0.3, -0.4]], dtype=torch.float64)
    rows, reference, _ = tolerance_sweep(CountedFunction(Linear(A)), z0, tolerances=TOLERANCES,
                                         reference_tolerance=1e-12, repeats=2)
    exact = z0 @ torch.linalg.matrix_exp(A).T
    torch.testing.assert_close(reference, exact, rtol=1e-9, atol=1e-10)
    sweep = pd.DataFrame(rows)
    assert list(sweep["tolerance"]) == TOLERANCES            # loosest first
    assert sweep["nfe_forward"].is_monotonic_increasing       # tighter → more evaluations
    assert sweep["relative_error"].iloc[-1] < 1e-3 * sweep["relative_error"].iloc[0]
    assert (sweep["relative_error"].diff().dropna() < 0).sum() >= len(TOLERANCES) - 2
    assert ((sweep["nfe_forward"] - 2) % 6 == 0).all()        # dopri5's evaluation pattern
    assert (sweep["seconds_median"] > 0).all()


def _synthetic_tables():
    sweep = pd.DataFrame({
        "tolerance": TOLERANCES, "nfe_forward": [14, 20, 26, 38, 62, 110],
        "relative_error": [1e-1, 2e-2, 3e-3, 4e-4, 5e-5, 6e-6],
        "max_abs_error": [1e-1] * 6, "test_error": [0.02] * 6,
        "seconds_median": [0.1, 0.14, 0.18, 0.27, 0.44, 0.8], "seconds_min": [0.09] * 6,
        "seconds_max": [0.9] * 6, "repeats": [3] * 6,
    })
    rng = np.random.default_rng(0)
    forward = rng.choice([20, 26, 32], size=200)
    batches = pd.DataFrame({
        "epoch": np.repeat([1, 2], 100), "batch": np.tile(np.arange(1, 101), 2),
        "nfe_forward": forward, "nfe_backward": (forward * 0.5).round(),
    })
    return sweep, batches


def test_backward_forward_ratio_is_the_slope_through_the_origin():
    batches = pd.DataFrame({"nfe_forward": [10, 20, 30], "nfe_backward": [5, 10, 15]})
    assert backward_forward_ratio(batches) == pytest.approx(0.5)


def test_figure3_renders_with_the_tables_behind_each_panel(tmp_path):
    sweep, batches = _synthetic_tables()
    figure, tables, ratio = figure3(sweep, batches)
    assert ratio == pytest.approx(0.5, abs=0.02)
    paths = save_figure(figure, tmp_path / "figure3", tables)
    names = sorted(p.name for p in paths)
    assert names == ["figure3.pdf", "figure3.png", "figure3a.csv", "figure3b.csv", "figure3c.csv",
                     "figure3d.csv"]
    assert (tmp_path / "figure3.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(pd.read_csv(tmp_path / "figure3d.csv")) == 2
