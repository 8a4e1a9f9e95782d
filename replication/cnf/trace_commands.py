"""Command-line entry points of the trace-cost study: ``python -m replication trace-cost …``.

``add_commands(subparsers)`` registers

* ``trace-cost --spec JSON --out DIR [--threads N]`` — run one job (writes ``points.csv``,
  ``provenance.json``, ``metrics.json`` in ``DIR``);
* ``trace-figure POINTS_CSV --prefix PREFIX [--fit-min-dim D]`` — draw its figure.

torch, pandas and matplotlib are imported only when a command runs.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

def _trace_cost(args: argparse.Namespace) -> None:
    import torch

    torch.set_num_threads(args.threads)
    from replication.cnf.trace_cost import run_trace_cost
    from replication.workflow import trace_cost_fingerprint

    spec = json.loads(args.spec)
    metrics = run_trace_cost(spec, out_dir=args.out, code_fingerprint=trace_cost_fingerprint())
    print(json.dumps({"dims": metrics["dims"], "slopes": metrics["slopes"],
                      "seconds": round(metrics["seconds"], 1)}))


def _trace_figure(args: argparse.Namespace) -> None:
    from replication.plots.trace_cost import trace_cost_figure

    for path in trace_cost_figure(args.points, prefix=args.prefix, fit_min_dim=args.fit_min_dim):
        print(path)


def add_commands(subparsers) -> None:
    """Register ``trace-cost`` and ``trace-figure`` on *subparsers* (``add_subparsers()``)."""
    run = subparsers.add_parser(
        "trace-cost", help="time f, f + Hutchinson and f + exact trace, and the estimator's "
                           "variance, against the dimension D")
    run.add_argument("--spec", required=True,
                     help="the job's specification (JSON): scale, seed, device, dims, hidden, "
                          "batch_size, repeats, variance_draws, jacobian_samples")
    run.add_argument("--out", type=Path, required=True, help="output folder of the job")
    run.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    run.set_defaults(handler=_trace_cost)

    figure = subparsers.add_parser("trace-figure",
                                   help="plot trace cost and estimator noise vs D")
    figure.add_argument("points", type=Path, help="points.csv of a trace-cost job")
    figure.add_argument("--prefix", type=Path, required=True,
                        help="output path without suffix (writes .png, .pdf, .csv, _fits.csv)")
    figure.add_argument("--fit-min-dim", type=int, default=None,
                        help="fit slopes over D >= this (default: the job's metrics.json)")
    figure.set_defaults(handler=_trace_figure)


__all__ = ["add_commands", "fingerprint"]
