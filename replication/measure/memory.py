"""Memory of a piece of work (e.g. one training step), measured, not estimated.

Two quantities, measured in the same run:

``bytes`` — the peak of everything the allocator handed out. CUDA:
``torch.cuda.max_memory_allocated`` after resetting the peak counter. CPU: the PyTorch
profiler's allocator events (every tensor allocation and free made by the CPU allocator during
the work), replayed in time order; the peak of the running sum is the most bytes that were live
at once. Both report bytes allocated *above* what was live when the work started (parameters,
optimizer state and the input batch are therefore excluded; gradients and activations created
by the step are included). This includes library workspace: oneDNN picks its convolution
kernels, and their scratch buffers, by the CPU's instruction set (on one smoke VAE step:
10.5 MB with ``ONEDNN_MAX_CPU_ISA=SSE41``, 12.3 MB with AVX2, 15.3 MB with AVX-512), so this
number describes the machine as much as the model.

``saved_bytes`` — the peak of what the model itself keeps for its backward pass: the bytes of the
distinct tensor storages that autograd saved (``torch.autograd.graph.saved_tensors_hooks``) and
still held, replayed as they are saved and released. Parameters, which live before and after the
step, are left out. This is fixed by the model, the batch and the gradient method (backprop
through the solver keeps every step's activations, the adjoint keeps one evaluation's), not by
which kernels run, so it is the same on every CPU and is what the regression gate compares.
"""
from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch._C._autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

CUDA_METHOD = "cuda_max_memory_allocated"
CPU_METHOD = "cpu_profiler_allocator_events"
SAVED_METHOD = "autograd_saved_tensor_storages"


@dataclass(frozen=True)
class PeakMemory:
    bytes: int
    method: str
    saved_bytes: int = 0


class _SavedTensorLedger:
    """Live bytes of the storages autograd holds for backward, and their peak.

    Each saved tensor is packed into a small holder; the holder lives exactly as long as autograd
    keeps the saved value (it is dropped when the graph node that saved it is freed), so a
    finaliser on the holder marks the release. Storages shared by several saved tensors (an input
    saved by two operations, a view) count once, while any of them is held.
    """

    def __init__(self) -> None:
        self.holders: dict[tuple[str, int], int] = {}  # storage key -> number of live holders
        self.sizes: dict[tuple[str, int], int] = {}
        self.live = 0
        self.peak = 0

    def pack(self, tensor: torch.Tensor) -> object:
        if _is_parameter(tensor):
            return tensor
        storage = tensor.untyped_storage()
        key = (str(tensor.device), storage.data_ptr())
        # The holder keeps a detached alias (same storage, no grad_fn): holding the tensor
        # itself would make a reference cycle (output -> grad_fn -> saved value -> output) that
        # keeps every graph alive after its backward.
        holder = _Held(tensor.detach())
        if self.holders.get(key, 0) == 0:
            self.sizes[key] = storage.nbytes()
            self.live += self.sizes[key]
            self.peak = max(self.peak, self.live)
        self.holders[key] = self.holders.get(key, 0) + 1
        weakref.finalize(holder, self._release, key)
        return holder

    def _release(self, key: tuple[str, int]) -> None:
        self.holders[key] -= 1
        if self.holders[key] == 0:
            self.live -= self.sizes.pop(key)
            del self.holders[key]

    @staticmethod
    def unpack(packed: object) -> torch.Tensor:
        return packed.tensor if isinstance(packed, _Held) else packed


class _Held:
    __slots__ = ("tensor", "__weakref__")

    def __init__(self, tensor: torch.Tensor) -> None:
        self.tensor = tensor


def _is_parameter(tensor: torch.Tensor) -> bool:
    base = tensor._base if tensor._base is not None else tensor
    return base.is_leaf and base.requires_grad


def peak_saved_bytes(work: Callable[[], object]) -> int:
    """Run *work* once and return the peak bytes of tensors autograd held for backward."""
    ledger = _SavedTensorLedger()
    with torch.autograd.graph.saved_tensors_hooks(ledger.pack, ledger.unpack):
        work()
    return ledger.peak


def _allocator_peak(work: Callable[[], object], device: torch.device) -> tuple[int, str]:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        baseline = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        work()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - baseline, CUDA_METHOD
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
    return peak, CPU_METHOD


def peak_memory(work: Callable[[], object], *, device: torch.device) -> PeakMemory:
    """Run *work* once: the allocator's peak bytes on *device* and the peak saved-tensor bytes.

    The saved-tensor hooks only observe what autograd saves; they do not change what it saves,
    so the allocator peak is that of the same work without them.
    """
    saved: dict[str, int] = {}

    def observed() -> None:
        saved["bytes"] = peak_saved_bytes(work)

    allocated, method = _allocator_peak(observed, device)
    return PeakMemory(allocated, method, saved["bytes"])
