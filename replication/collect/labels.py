"""Human-readable names for the codes stored in result files."""

MEMORY_METHODS = {
    "cpu_profiler_allocator_events": "CPU allocator events (torch.profiler)",
    "cuda_max_memory_allocated": "torch.cuda.max_memory_allocated",
}


def memory_method(code: str) -> str:
    """How a peak-memory number was measured, in words."""
    return MEMORY_METHODS.get(code, code)
