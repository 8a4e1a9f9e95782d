"""Progress for long work: a bar on a terminal, one line per epoch in log files."""
from __future__ import annotations

import sys

from tqdm import tqdm


def progress_bar(total: int, description: str) -> tqdm:
    """A per-epoch bar; silent when stderr is not a terminal (Snakemake logs, CI)."""
    return tqdm(total=total, desc=description, leave=False, disable=None, file=sys.stderr,
                dynamic_ncols=True)


def report(message: str) -> None:
    """A line of progress that lands in the job's log file."""
    print(message, file=sys.stderr, flush=True)
