"""Peak memory of a piece of work (e.g. one training step), measured, not estimated.

CUDA: ``torch.cuda.max_memory_allocated`` after resetting the peak counter.
CPU: the PyTorch profiler's allocator events (every tensor allocation and free
made by the CPU allocator during the work), replayed in time order; the peak of
the running sum is the most bytes that were live at once. Both report bytes
allocated *above* what was live when the work started (parameters, optimizer
state and the input batch are therefore excluded; gradients and activations
created by the step are included).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch._C._autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

CUDA_METHOD = "cuda_max_memory_allocated"
CPU_METHOD = "cpu_profiler_allocator_events"


@dataclass(frozen=True)
class PeakMemory:
    bytes: int
    method: str


def peak_memory(work: Callable[[], object], *, device: torch.device) -> PeakMemory:
    """Run *work* once and return the peak bytes it allocated on *device*."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        baseline = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        work()
        torch.cuda.synchronize(device)
        return PeakMemory(torch.cuda.max_memory_allocated(device) - baseline, CUDA_METHOD)
    if device.type != "cpu":
        raise ValueError(f"peak memory is measured on cpu or cuda devices, not {device.type!r}")
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as profiler:
        work()
    changes = sorted(
        (event.start_ns(), event.nbytes())
        for event in profiler.profiler.kineto_results.events()
        if event.name() == "[memory]" and event.device_type() == DeviceType.CPU
    )
    live = peak = 0
    for _, change in changes:
        live += change
        peak = max(peak, live)
    return PeakMemory(peak, CPU_METHOD)
