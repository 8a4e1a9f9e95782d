"""Progress for long work: a live bar on a terminal, periodic lines in log files."""
from __future__ import annotations

import sys
import time

from tqdm import tqdm


class _LogProgress:
    """The non-terminal stand-in for a bar: one line per tenth of the work, and at the end."""

    def __init__(self, total: int, description: str, *, lines: int = 10) -> None:
        self.total, self.description, self.done = total, description, 0
        self.every = max(1, total // lines)
        self.start = time.perf_counter()
        self.postfix = ""

    def __enter__(self) -> "_LogProgress":
        return self

    def __exit__(self, *exc) -> None:
        return None

    def set_postfix(self, refresh: bool = True, **values) -> None:
        self.postfix = " ".join(f"{k}={v}" for k, v in values.items())

    def update(self, count: int = 1) -> None:
        self.done += count
        if self.done % self.every == 0 or self.done == self.total:
            elapsed = time.perf_counter() - self.start
            report(f"{self.description}: {self.done}/{self.total} batches, {elapsed:.0f}s "
                   f"{self.postfix}")


def progress_bar(total: int, description: str):
    """A per-epoch progress display: a bar on a terminal, else periodic log lines."""
    if sys.stderr.isatty():
        return tqdm(total=total, desc=description, leave=False, file=sys.stderr, dynamic_ncols=True)
    return _LogProgress(total, description)


def report(message: str) -> None:
    """A line of progress that lands in the job's log file."""
    print(message, file=sys.stderr, flush=True)
