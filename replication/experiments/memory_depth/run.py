"""The constant-memory claim, measured: peak memory and time of a training step vs depth.

Three ways to make a network L "layers" deep, all on the Table 1 architecture
(downsampling → feature stage → head):

- ``resnet``:  L residual blocks;
- ``rknet``:   the ODE-Net's dynamics solved with L steps of a fixed-step solver,
               gradients backpropagated through every step (memory O(L));
- ``adjoint``: the same solver and L steps, gradients from the adjoint ODE (memory O(1)).

Each point is a fresh model; a warm-up step runs first, then one measured step
(forward + backward) for peak memory and ``repeats`` timed steps.
"""
from __future__ import annotations

import statistics
import time

import torch
from torch import nn
from torch.nn import functional as F

from replication.measure.memory import peak_memory
from replication.models.blocks import downsampling, head
from replication.models.odenet import ConvDynamics
from replication.models.resnet import resnet
from replication.ode import CountedFunction, NFECounter, integrate

VARIANTS = ("resnet", "rknet", "adjoint")


class FixedStepODEBlock(nn.Module):
    """h(1) from ``steps`` equal steps of a fixed-step solver over t ∈ [0, 1]."""

    def __init__(self, dynamics: nn.Module, *, steps: int, method: str, gradient: str) -> None:
        super().__init__()
        self.func = CountedFunction(dynamics)
        self.steps, self.method, self.gradient = steps, method, gradient

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        span = torch.tensor([0.0, 1.0], dtype=h.dtype, device=h.device)
        return integrate(self.func, h, span, method=self.method, rtol=0.0, atol=0.0,
                         gradient=self.gradient, options={"step_size": 1.0 / self.steps})[-1]


def build_variant(variant: str, depth: int, *, width: int, downsampling_kind: str,
                  solver: str) -> nn.Module:
    if variant == "resnet":
        return resnet(blocks=depth, downsampling=downsampling_kind, width=width)
    if variant not in ("rknet", "adjoint"):
        raise ValueError(f"variant must be one of {VARIANTS}, got {variant!r}")
    gradient = "adjoint" if variant == "adjoint" else "backprop"
    return nn.Sequential(
        downsampling(downsampling_kind, width=width),
        FixedStepODEBlock(ConvDynamics(width), steps=depth, method=solver, gradient=gradient),
        head(width=width),
    )


def measure_point(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
                  repeats: int, device: torch.device) -> dict:
    counter = NFECounter(model)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        counter.start()
        loss = F.cross_entropy(model(images), labels)
        counter.mark_forward()
        loss.backward()
        counter.mark_backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    step()  # warm-up: lazy initialisations are not part of the measurement
    model.zero_grad(set_to_none=True)
    memory = peak_memory(step, device=device)
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        timings.append(time.perf_counter() - start)
    return {
        "peak_memory_bytes": memory.bytes,
        "memory_method": memory.method,
        "saved_tensor_bytes": memory.saved_bytes,
        "step_seconds_median": statistics.median(timings),
        "step_seconds_min": min(timings),
        "nfe_forward": counter.forward,
        "nfe_backward": counter.backward,
    }


def memory_vs_depth(
    *, depths: list[int], batch_size: int, width: int, downsampling_kind: str, solver: str,
    repeats: int, seed: int, device: torch.device, variants=VARIANTS, progress=None,
) -> list[dict]:
    """One tidy row per (variant, depth)."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(batch_size, 1, 28, 28, generator=generator).to(device)
    labels = torch.randint(0, 10, (batch_size,), generator=generator).to(device)
    rows = []
    for variant in variants:
        for depth in depths:
            torch.manual_seed(seed)
            model = build_variant(variant, depth, width=width, downsampling_kind=downsampling_kind,
                                  solver=solver).to(device)
            row = {"variant": variant, "depth": depth, "batch_size": batch_size, "width": width,
                   "solver": solver if variant != "resnet" else None, "device": str(device),
                   **measure_point(model, images, labels, repeats=repeats, device=device)}
            rows.append(row)
            if progress:
                progress(f"{variant} depth {depth}: {row['peak_memory_bytes'] / 2**20:.1f} MiB, "
                         f"{row['step_seconds_median']:.3f} s/step, NFE-F {row['nfe_forward']} "
                         f"NFE-B {row['nfe_backward']}")
    return rows


def run(spec: dict, job) -> dict:
    """The job: every (variant, depth) point, written to points.csv."""
    import pandas as pd

    from replication.results import write_text
    from replication.train.progress import report

    rows = memory_vs_depth(
        depths=spec["depths"], batch_size=spec["batch_size"], width=spec["width"],
        downsampling_kind=spec["downsampling"], solver=spec["solver"], repeats=spec["repeats"],
        seed=spec["seed"], device=torch.device(spec["device"]), progress=report)
    write_text(job.out_dir / "points.csv", pd.DataFrame(rows).to_csv(index=False))
    return {"experiment": "memory_depth", "scale": spec["scale"], "seed": spec["seed"],
            "points": len(rows), "depths": spec["depths"]}
