"""Command-line entry points of the 2-D toy density jobs (FFJORD Figure 2).

``add_commands(subparsers)`` registers:

* ``toy-density --spec JSON --out DIR [--threads N]`` — train and evaluate one CNF (one
  dataset, one seed) into ``DIR`` (see :mod:`replication.cnf.toy_density`);
* ``toy-figure RUN_DIR... --prefix PREFIX`` — the figure and its CSV tables from run folders.

Heavy imports (torch, matplotlib) happen only when a command runs.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

def _density(args: argparse.Namespace) -> None:
    import torch

    from replication.cli import _require_device
    from replication.cnf.toy_density import run_toy_density
    from replication.workflow import toy_density_fingerprint

    torch.set_num_threads(args.threads)
    spec = json.loads(args.spec)
    _require_device(spec.get("device", "cpu"))
    metrics = run_toy_density(spec, out_dir=args.out, code_fingerprint=toy_density_fingerprint())
    print(json.dumps({key: metrics[key] for key in (
        "experiment", "dataset", "seed", "test_log_likelihood_nats", "grid_mass", "nfe_forward")}))


def _figure(args: argparse.Namespace) -> None:
    from replication.plots.toy_density import toy_density_figure

    for path in toy_density_figure(args.run_dirs, prefix=args.prefix):
        print(path)


def add_commands(subparsers) -> None:
    """Register ``toy-density`` and ``toy-figure`` on *subparsers* (from ``add_subparsers``)."""
    density = subparsers.add_parser(
        "toy-density", help="FFJORD Fig. 2: fit an exact-trace CNF to one 2-D toy dataset")
    density.add_argument("--spec", required=True,
                         help="the job's specification (JSON): dataset, seed, model, training, …")
    density.add_argument("--out", type=Path, required=True, help="output folder of the job")
    density.add_argument("--threads", type=int, default=1)
    density.set_defaults(handler=_density)

    figure = subparsers.add_parser(
        "toy-figure", help="FFJORD Fig. 2: data | density | samples figure from toy-density runs")
    figure.add_argument("run_dirs", nargs="+", type=Path, metavar="RUN_DIR")
    figure.add_argument("--prefix", type=Path, required=True,
                        help="output path without suffix (writes .png, .pdf, .csv)")
    figure.set_defaults(handler=_figure)
