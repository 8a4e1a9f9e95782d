"""Speed gates that survive shared machines: ratios of interleaved timings, never absolute times.

A subject (our code path) and a reference (the same work done another way, or a fixed amount of
related work) are timed alternately, round after round, so a load spike on a shared machine
slows both. The gate statistic is the *median of the per-round ratios*; absolute times are
reported (and stored by pytest-benchmark), never asserted.

Used from the benchmark tests with pytest-benchmark's ``benchmark`` fixture: the subject is timed
by pytest-benchmark (``benchmark.pedantic``), the reference in the ``setup`` hook that
pytest-benchmark calls untimed before every round.
"""
from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml


@dataclass(frozen=True)
class Band:
    """A committed band ``low <= ratio <= high`` for a same-run time ratio, with its reason."""

    name: str
    low: float
    high: float
    reason: str

    def message(self, ratio: float, timing: PairedTiming | None = None) -> str:
        times = f" ({timing.describe()})" if timing is not None else ""
        return (f"{self.name}: ratio {ratio:.3f} outside the committed band "
                f"[{self.low:g}, {self.high:g}]{times}. Band reason: {self.reason}")

    def contains(self, ratio: float) -> bool:
        return self.low <= ratio <= self.high


def load_bands(path: Path) -> dict:
    """The committed bands file (YAML): ``{name: {low, high, reason, ...}}`` plus counters."""
    return yaml.safe_load(Path(path).read_text())


def band(bands: dict, name: str, **overrides: float) -> Band:
    entry = {**bands["bands"][name], **overrides}
    return Band(name=name, low=float(entry["low"]), high=float(entry["high"]),
                reason=" ".join(str(entry["reason"]).split()))


@dataclass
class PairedTiming:
    """Per-round wall times (seconds) of a subject and its reference, measured alternately."""

    subject: list[float] = field(default_factory=list)
    reference: list[float] = field(default_factory=list)

    @property
    def rounds(self) -> int:
        return min(len(self.subject), len(self.reference))

    @property
    def ratios(self) -> list[float]:
        return [s / r for s, r in zip(self.subject, self.reference)]

    @property
    def ratio(self) -> float:
        """Median over rounds of subject time / reference time (the gated statistic)."""
        return statistics.median(self.ratios)

    @property
    def ratio_of_minima(self) -> float:
        return min(self.subject) / min(self.reference)

    def describe(self) -> str:
        return (f"subject median {statistics.median(self.subject) * 1e3:.2f} ms, reference "
                f"median {statistics.median(self.reference) * 1e3:.2f} ms, {self.rounds} rounds, "
                f"per-round ratios {min(self.ratios):.3f}..{max(self.ratios):.3f}, ratio of "
                f"minima {self.ratio_of_minima:.3f}")

    def as_extra_info(self, band: Band | None = None) -> dict:
        info = {
            "ratio_median": self.ratio,
            "ratio_of_minima": self.ratio_of_minima,
            "ratio_min": min(self.ratios),
            "ratio_max": max(self.ratios),
            "subject_median_s": statistics.median(self.subject),
            "reference_median_s": statistics.median(self.reference),
            "reference_min_s": min(self.reference),
            "rounds": self.rounds,
        }
        if band is not None:
            info.update(band_low=band.low, band_high=band.high)
        return info


def timed(function: Callable[[], object], into: list[float]) -> Callable[[], object]:
    """*function*, recording its wall time into *into* on every call."""
    def run():
        start = time.perf_counter()
        result = function()
        into.append(time.perf_counter() - start)
        return result
    return run


def paired_benchmark(benchmark, subject: Callable[[], object], reference: Callable[[], object], *,
                     rounds: int, warmup_rounds: int = 1) -> tuple[PairedTiming, object]:
    """Time *subject* with pytest-benchmark and *reference* before each of its rounds.

    Returns the paired timings (both recorded here as well, so the ratio is available even when
    pytest-benchmark is disabled) and the subject's last result. Warm-up rounds are discarded.
    """
    timing = PairedTiming()
    subject_times: list[float] = []
    reference_times: list[float] = []
    timed_subject = timed(subject, subject_times)
    timed_reference = timed(reference, reference_times)

    def setup() -> None:  # pytest-benchmark would take a returned value as the subject's args
        timed_reference()

    result = benchmark.pedantic(timed_subject, setup=setup, rounds=rounds,
                                warmup_rounds=warmup_rounds, iterations=1)
    # setup runs before every round (warm-up rounds included): pair each subject with the
    # reference timed just before it, dropping the warm-up pairs
    pairs = list(zip(reference_times, subject_times))[warmup_rounds:] or \
        list(zip(reference_times, subject_times))
    timing.reference = [r for r, _ in pairs]
    timing.subject = [s for _, s in pairs]
    return timing, result
