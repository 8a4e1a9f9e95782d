"""Neural ODE Figure 3a/3b: the solver tolerance trades numerical error against NFE and time.

``tolerance_sweep`` solves one ODE at a series of tolerances and measures, for each,
the forward NFE, the wall time (several repeats) and the error of the final state
against a reference solve at a much tighter tolerance. ``sweep_trained_odenet``
applies it to the ODE block of a trained ODE-Net on test images, in float64 so the
reference is accurate far below the float32 rounding level.
"""
from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

import torch

from replication.data.mnist import load_mnist, to_float
from replication.models import build_model
from replication.ode import CountedFunction, integrate
from replication.train.checkpoint import load_weights


def tolerance_sweep(
    func: CountedFunction, z0: torch.Tensor, *, tolerances: list[float], reference_tolerance: float,
    repeats: int, method: str = "dopri5", t_end: float = 1.0, progress=None,
) -> tuple[list[dict], torch.Tensor, dict[float, torch.Tensor]]:
    """Rows (tolerance, NFE-F, relative and max error, seconds) plus the reference and solutions.

    *progress*, if given, is called with a line of text after each solve series.
    """
    progress = progress or (lambda line: None)
    span = torch.tensor([0.0, t_end], dtype=z0.dtype, device=z0.device)

    def solve(tolerance: float) -> tuple[torch.Tensor, int, float]:
        func.calls = 0
        start = time.perf_counter()
        z1 = integrate(func, z0, span, method=method, rtol=tolerance, atol=tolerance,
                       gradient="backprop")[-1]
        if z1.is_cuda:
            torch.cuda.synchronize(z1.device)
        return z1, func.calls, time.perf_counter() - start

    rows, solutions = [], {}
    with torch.no_grad():
        reference, reference_nfe, seconds = solve(reference_tolerance)
        progress(f"reference solve at tolerance {reference_tolerance:.0e}: NFE-F {reference_nfe}, "
                 f"{seconds:.1f} s")
        for tolerance in sorted(tolerances, reverse=True):
            timings = []
            for _ in range(repeats):
                z1, nfe, seconds = solve(tolerance)
                timings.append(seconds)
            solutions[tolerance] = z1
            difference = z1 - reference
            rows.append({
                "tolerance": tolerance,
                "nfe_forward": nfe,
                "relative_error": (difference.norm() / reference.norm()).item(),
                "max_abs_error": difference.abs().max().item(),
                "seconds_median": statistics.median(timings),
                "seconds_min": min(timings),
                "seconds_max": max(timings),
                "repeats": repeats,
                "reference_tolerance": reference_tolerance,
                "reference_nfe": reference_nfe,
            })
            progress(f"tolerance {tolerance:.0e}: NFE-F {nfe}, relative error "
                     f"{rows[-1]['relative_error']:.2e}, {rows[-1]['seconds_median']:.3f} s (median of "
                     f"{repeats})")
    return rows, reference, solutions


def sweep_trained_odenet(
    weights: Path, *, data_dir: Path, tolerances: list[float], reference_tolerance: float,
    images: int, repeats: int, device: torch.device, progress=None,
) -> list[dict]:
    """The sweep on a trained ODE-Net's ODE block, started from h(0) of the first test images.

    Each row also reports the test error of the classifier on those images when its
    ODE block is solved at that tolerance (the paper's "switch to a lower accuracy at
    test time" trade-off).
    """
    saved = load_weights(weights)  # weights_only=True: a crafted file is refused, never run
    spec = saved["spec"] if isinstance(saved["spec"], dict) else json.loads(saved["spec"])
    model = build_model(spec["model"], **spec["architecture"])
    model.load_state_dict(saved["model"])
    model = model.double().to(device).eval()
    downsample, block, head = model[0], model[1], model[2]

    test = load_mnist(data_dir, **{**spec["data"], "test_subset": images}).test
    x = to_float(test.images).double().to(device)
    labels = test.labels.to(device)
    with torch.no_grad():
        h0 = downsample(x)
    rows, _, solutions = tolerance_sweep(
        block.func, h0, tolerances=tolerances, reference_tolerance=reference_tolerance,
        repeats=repeats, method=block.method, progress=progress)
    with torch.no_grad():
        for row in rows:
            predictions = head(solutions[row["tolerance"]]).argmax(1)
            row["test_error"] = (predictions != labels).double().mean().item()
            row["images"] = len(labels)
            row["model"] = spec["model"]
            row["seed"] = spec["seed"]
            row["trained_epoch"] = saved["epoch"]
            row["trained_tolerance"] = spec["architecture"].get("rtol")
    return rows


def run(spec: dict, job) -> dict:
    """The job: the sweep on the scale's trained ODE-Net, written to tolerance_sweep.csv."""
    import pandas as pd

    from replication.results import write_text
    from replication.train.progress import report

    rows = sweep_trained_odenet(
        job.upstream("weights"), data_dir=job.data_dir, tolerances=spec["tolerances"],
        reference_tolerance=spec["reference_tolerance"], images=spec["images"],
        repeats=spec["repeats"], device=torch.device(spec["device"]), progress=report)
    write_text(job.out_dir / "tolerance_sweep.csv", pd.DataFrame(rows).to_csv(index=False))
    return {"experiment": "figure3", "scale": spec["scale"], "seed": spec["seed"],
            "tolerances": len(rows), "images": rows[0]["images"],
            "nfe_forward": {str(r["tolerance"]): r["nfe_forward"] for r in rows}}
