"""Command-line entry points of FFJORD Figure 5 (NFE vs latent size)::

    python -m replication ffjord-nfe --spec JSON --out DIR --data-dir DIR --checkpoint-dir DIR
    python -m replication nfe-vs-dim-table HISTORY.csv... --out results/<scale>/ffjord/nfe_vs_dim.csv
    python -m replication nfe-vs-dim-figure TABLE.csv --prefix figures/<scale>/ffjord_nfe_vs_dim

Heavy imports happen only when a command runs.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def _train(args: argparse.Namespace) -> None:
    import torch

    from replication.cli import _require_device
    from replication.cnf.nfe_vs_dim import run_nfe_vs_dim
    from replication.workflow import nfe_vs_dim_fingerprint

    spec = json.loads(args.spec)
    _require_device(spec["device"])
    torch.set_num_threads(args.threads)
    metrics = run_nfe_vs_dim(spec, out_dir=args.out, checkpoint_root=args.checkpoint_dir,
                             data_dir=args.data_dir, code_fingerprint=nfe_vs_dim_fingerprint())
    print(json.dumps({k: metrics[k] for k in ("latent_dim", "nfe_forward_first_epoch",
                                              "nfe_forward_last_epoch", "train_seconds")}))


def _table(args: argparse.Namespace) -> None:
    from replication.cnf.nfe_vs_dim import collect_nfe_vs_dim
    from replication.results import write_text

    table = collect_nfe_vs_dim(args.histories)
    write_text(args.out, table.to_csv(index=False))
    print(table.groupby("latent_dim")["nfe_forward"].agg(["first", "last"]).to_string())


def _figure(args: argparse.Namespace) -> None:
    from replication.plots.nfe_vs_dim import nfe_vs_dim_figure, read_nfe_table

    for path in nfe_vs_dim_figure(read_nfe_table(args.table), prefix=args.prefix):
        print(path)


def add_commands(commands) -> None:
    train = commands.add_parser("ffjord-nfe", help="FFJORD Figure 5: train one FFJORD VAE of "
                                "latent size D and record its NFE per batch")
    train.add_argument("--spec", required=True, help="resolved job specification (JSON)")
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--data-dir", type=Path, required=True)
    train.add_argument("--checkpoint-dir", type=Path, required=True)
    train.add_argument("--threads", type=int, default=1)
    train.set_defaults(handler=_train)

    table = commands.add_parser("nfe-vs-dim-table",
                                help="collect the ffjord-nfe histories into one table")
    table.add_argument("histories", nargs="+", type=Path, help="history.csv of each latent size")
    table.add_argument("--out", type=Path, required=True)
    table.set_defaults(handler=_table)

    figure = commands.add_parser("nfe-vs-dim-figure", help="plot FFJORD Figure 5 from its table")
    figure.add_argument("table", type=Path)
    figure.add_argument("--prefix", type=Path, required=True)
    figure.set_defaults(handler=_figure)
