"""Memory vs depth: the measurement on tiny models and the plot on a synthetic table."""
import pandas as pd
import torch

from replication.experiments.memory_depth.plot import fit_slopes, memory_figure
from replication.experiments.memory_depth.run import memory_vs_depth
from replication.plots.style import save_figure


def test_rknet_memory_grows_with_depth_and_the_adjoints_does_not():
    rows = memory_vs_depth(depths=[1, 4, 16], batch_size=4, width=8, downsampling_kind="conv",
                           solver="rk4", repeats=1, seed=0, device=torch.device("cpu"),
                           variants=("rknet", "adjoint"))
    points = pd.DataFrame(rows)
    memory = points.pivot(index="depth", columns="variant", values="peak_memory_bytes")
    assert memory.loc[16, "rknet"] > 2 * memory.loc[1, "rknet"]
    # What the model keeps for backward is exact: constant for the adjoint, growing for backprop.
    # The allocator's peak also holds library workspace, which moved by 10 % between depths in
    # one run under ONEDNN_MAX_CPU_ISA=SSE41 (and not in another): only its fitted slope, relative
    # to the RK-Net's, is judged below.
    saved = points.pivot(index="depth", columns="variant", values="saved_tensor_bytes")
    assert saved.loc[1, "adjoint"] == saved.loc[4, "adjoint"] == saved.loc[16, "adjoint"] > 0
    assert saved.loc[16, "rknet"] > 4 * saved.loc[1, "rknet"]
    nfe = points.set_index(["variant", "depth"])
    assert nfe.loc[("rknet", 16), "nfe_forward"] == 64 and nfe.loc[("rknet", 16), "nfe_backward"] == 0
    assert nfe.loc[("adjoint", 16), "nfe_backward"] == 64
    fits = fit_slopes(points).set_index("variant")
    assert fits.loc["adjoint", "verdict"] == "adjoint memory is constant in depth"


def _synthetic_points():
    rows = []
    for depth in (1, 2, 4, 8):
        for variant, slope in (("resnet", 3e6), ("rknet", 5e6), ("adjoint", 0.0)):
            rows.append({"variant": variant, "depth": depth,
                         "peak_memory_bytes": 1e7 + slope * depth,
                         "step_seconds_median": 0.01 * depth,
                         "memory_method": "cpu_profiler_allocator_events"})
    return pd.DataFrame(rows)


def test_fitted_slopes_recover_bytes_per_step():
    fits = fit_slopes(_synthetic_points()).set_index("variant")
    assert abs(fits.loc["rknet", "memory_bytes_per_step"] - 5e6) < 1
    assert abs(fits.loc["adjoint", "memory_bytes_per_step"]) < 1e-3
    assert fits.loc["adjoint", "verdict"] == "adjoint memory is constant in depth"


def test_a_growing_adjoint_is_called_out():
    points = _synthetic_points()
    points.loc[points["variant"] == "adjoint", "peak_memory_bytes"] += 1e6 * points["depth"]
    assert fit_slopes(points)["verdict"].iloc[0] == "adjoint memory grows with depth"


def test_memory_figure_renders(tmp_path):
    figure, tables, _ = memory_figure(_synthetic_points())
    paths = save_figure(figure, tmp_path / "memory_depth", tables)
    assert {p.name for p in paths} == {"memory_depth.png", "memory_depth.pdf", "memory_depth.csv",
                                       "memory_depth_fits.csv"}
