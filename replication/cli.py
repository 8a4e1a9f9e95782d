"""``python -m replication <command>``: the entry points the Snakemake rules call.

Commands import their heavy dependencies (torch, pandas) only when they run.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path


def _fetch(args: argparse.Namespace) -> None:
    """Verify present files and fetch missing or corrupted ones, dataset by dataset.

    Every dataset is tried even when one fails; the failures are reported together.
    """
    from replication.data.catalog import check_dataset_names, fetch, write_manifest
    from replication.data.fetch import DataIntegrityError

    check_dataset_names(args.dataset)
    if args.manifest is not None and len(args.dataset) != 1:
        raise ValueError("--manifest records one dataset: pass exactly one dataset name")
    failures = []
    for name in args.dataset:
        try:
            paths = fetch(name, data_dir=args.data_dir, mirror=args.mirror)
        except DataIntegrityError as error:
            failures.append(f"{name}: {error}")
            continue
        for path in paths:
            print(f"verified {path}")
        if args.manifest is not None:
            write_manifest(name, paths, args.manifest)
    if failures:
        raise DataIntegrityError("\n".join(failures))


def _require_device(device: str) -> None:
    """Stop with advice, not a traceback, when a CUDA scale runs on a machine without CUDA."""
    import torch

    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(
            f"error: this job runs on device {device!r}, but this machine has no CUDA device. "
            "Choose a CPU scale (--config scale=cpu or scale=smoke) or a GPU machine.")


def _train(args: argparse.Namespace) -> None:
    import torch

    from replication.experiments.classify import run_classifier
    from replication.workflow import classify_fingerprint

    spec = json.loads(args.spec)
    _require_device(spec["device"])
    torch.set_num_threads(args.threads)
    metrics = run_classifier(spec, out_dir=args.out, checkpoint_root=args.checkpoint_dir,
                             data_dir=args.data_dir,
                             code_fingerprint=classify_fingerprint(spec["model"]))
    print(json.dumps({k: metrics[k] for k in ("model", "seed", "test_error", "parameters")}))


def _train_vae(args: argparse.Namespace) -> None:
    import torch

    from replication.experiments.vae import run_vae
    from replication.workflow import vae_fingerprint

    spec = json.loads(args.spec)
    _require_device(spec["device"])
    torch.set_num_threads(args.threads)
    metrics = run_vae(spec, out_dir=args.out, checkpoint_root=args.checkpoint_dir,
                      data_dir=args.data_dir,
                      code_fingerprint=vae_fingerprint(spec["flow"], spec["dataset"]))
    print(json.dumps({k: metrics[k] for k in ("dataset", "flow", "seed", "neg_elbo", "nll", "unit",
                                              "parameters")}))


def _vae_table(args: argparse.Namespace) -> None:
    from replication.collect.vae_table import build_vae_table

    summary = build_vae_table(args.metrics, runs_csv=args.runs_csv, prefix=args.prefix,
                              datasets=args.datasets, flows=args.flows, excluded=args.excluded)
    print(summary[["flow", "dataset", "status", "neg_elbo_mean", "paper_neg_elbo"]]
          .to_string(index=False))


def _analysis_provenance(spec: dict, fingerprint: str, device: str, started: dict, out: Path) -> None:
    from replication.measure.provenance import provenance
    from replication.results import write_json

    write_json(out.with_suffix(".provenance.json"), provenance(
        spec=spec, code_fingerprint=fingerprint, device=device, started=started))


def _tolerance_sweep(args: argparse.Namespace) -> None:
    import pandas as pd
    import torch

    from replication.experiments.tolerance import sweep_trained_odenet
    from replication.measure.provenance import start_record
    from replication.results import write_text
    from replication.train.progress import report

    started = start_record()
    _require_device(args.device)
    torch.set_num_threads(args.threads)
    spec = json.loads(args.spec)
    rows = sweep_trained_odenet(
        args.weights, data_dir=args.data_dir, tolerances=spec["tolerances"],
        reference_tolerance=spec["reference_tolerance"], images=spec["images"],
        repeats=spec["repeats"], device=torch.device(args.device), progress=report)
    write_text(args.out, pd.DataFrame(rows).to_csv(index=False))
    from replication.workflow import tolerance_fingerprint

    _analysis_provenance({**spec, "weights": str(args.weights)}, tolerance_fingerprint(),
                         args.device, started, args.out)


def _memory_depth(args: argparse.Namespace) -> None:
    import pandas as pd
    import torch

    from replication.experiments.memory_depth import memory_vs_depth
    from replication.measure.provenance import start_record
    from replication.results import write_text
    from replication.train.progress import report

    started = start_record()
    spec = json.loads(args.spec)
    _require_device(spec["device"])
    torch.set_num_threads(args.threads)
    rows = memory_vs_depth(
        depths=spec["depths"], batch_size=spec["batch_size"], width=spec["width"],
        downsampling_kind=spec["downsampling"], solver=spec["solver"], repeats=spec["repeats"],
        seed=spec["seed"], device=torch.device(spec["device"]), progress=report)
    write_text(args.out, pd.DataFrame(rows).to_csv(index=False))
    from replication.workflow import memory_depth_fingerprint

    _analysis_provenance(spec, memory_depth_fingerprint(), spec["device"], started, args.out)


def _figure3(args: argparse.Namespace) -> None:
    import pandas as pd

    from replication.plots.figure3 import figure3
    from replication.plots.style import save_figure

    figure, tables, ratio = figure3(pd.read_csv(args.sweep), pd.read_csv(args.batches))
    for path in save_figure(figure, args.prefix, tables):
        print(path)
    print(f"fitted NFE-B / NFE-F = {ratio:.3f}")


def _memory_figure(args: argparse.Namespace) -> None:
    import pandas as pd

    from replication.plots.memory import memory_figure
    from replication.plots.style import save_figure

    figure, tables, fits = memory_figure(pd.read_csv(args.points))
    for path in save_figure(figure, args.prefix, tables):
        print(path)
    print(fits.to_string(index=False))


def _table1(args: argparse.Namespace) -> None:
    from replication.collect.table1 import build_table1

    summary = build_table1(args.metrics, runs_csv=args.runs_csv, prefix=args.prefix)
    print(summary[["model", "n_seeds", "test_error_mean", "parameters"]].to_string(index=False))


def _plan(args: argparse.Namespace) -> None:
    from replication.config import classify_runs, load_config, vae_runs

    overrides = {"scale": args.scale} if args.scale else None
    runs = {"classify": classify_runs, "vae": vae_runs}[args.experiment]
    for spec in runs(load_config(args.config, overrides=overrides)):
        print(json.dumps(spec, sort_keys=True))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m replication", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    fetch = commands.add_parser("fetch", help="verify a dataset's files, fetching missing or bad ones")
    fetch.add_argument("dataset", nargs="+")
    fetch.add_argument("--data-dir", type=Path, required=True)
    fetch.add_argument("--mirror", default=None,
                       help="local mirror folder (<dataset>/<file>); default "
                            "$REPLICATION_DATA_MIRROR (also when given as '')")
    fetch.add_argument("--manifest", type=Path, default=None,
                       help="write this manifest once every file of the (one) dataset is verified")
    fetch.set_defaults(handler=_fetch)

    train = commands.add_parser("train", help="train and evaluate one classifier run")
    train.add_argument("--spec", required=True, help="resolved run specification (JSON)")
    train.add_argument("--out", type=Path, required=True)
    train.add_argument("--data-dir", type=Path, required=True)
    train.add_argument("--checkpoint-dir", type=Path, required=True)
    train.add_argument("--threads", type=int, default=1)
    train.set_defaults(handler=_train)

    table1 = commands.add_parser("table1", help="collect classifier runs into Table 1")
    table1.add_argument("metrics", nargs="+", type=Path, help="metrics.json of each run")
    table1.add_argument("--runs-csv", type=Path, required=True)
    table1.add_argument("--prefix", type=Path, required=True,
                        help="output path without suffix; .csv, .md and .tex are written")
    table1.set_defaults(handler=_table1)

    train_vae = commands.add_parser("train-vae", help="train and evaluate one VAE run")
    train_vae.add_argument("--spec", required=True, help="resolved run specification (JSON)")
    train_vae.add_argument("--out", type=Path, required=True)
    train_vae.add_argument("--data-dir", type=Path, required=True)
    train_vae.add_argument("--checkpoint-dir", type=Path, required=True)
    train_vae.add_argument("--threads", type=int, default=1)
    train_vae.set_defaults(handler=_train_vae)

    vae_table = commands.add_parser("vae-table", help="collect VAE runs into FFJORD's VAE table")
    vae_table.add_argument("metrics", nargs="+", type=Path, help="metrics.json of each run")
    vae_table.add_argument("--runs-csv", type=Path, required=True)
    vae_table.add_argument("--prefix", type=Path, required=True)
    vae_table.add_argument("--datasets", nargs="+", required=True, help="the table's columns")
    vae_table.add_argument("--flows", nargs="+", required=True, help="the table's rows")
    vae_table.add_argument("--excluded", nargs="*", default=[],
                           help="datasets left out on purpose (their cells say so)")
    vae_table.set_defaults(handler=_vae_table)

    sweep = commands.add_parser("tolerance-sweep",
                                help="Figure 3a/b: solver tolerance sweep on a trained ODE-Net")
    sweep.add_argument("--weights", type=Path, required=True, help="model.pt of an odenet run")
    sweep.add_argument("--spec", required=True, help="the scale's figure3 settings (JSON)")
    sweep.add_argument("--device", default="cpu")
    sweep.add_argument("--data-dir", type=Path, required=True)
    sweep.add_argument("--out", type=Path, required=True)
    sweep.add_argument("--threads", type=int, default=1)
    sweep.set_defaults(handler=_tolerance_sweep)

    memory = commands.add_parser("memory-depth", help="peak memory and time of a step vs depth")
    memory.add_argument("--spec", required=True, help="the scale's memory_depth settings (JSON)")
    memory.add_argument("--out", type=Path, required=True)
    memory.add_argument("--threads", type=int, default=1)
    memory.set_defaults(handler=_memory_depth)

    figure = commands.add_parser("figure3", help="plot Figure 3 from the sweep and training NFE")
    figure.add_argument("--sweep", type=Path, required=True)
    figure.add_argument("--batches", type=Path, required=True, help="batches.csv of an odenet run")
    figure.add_argument("--prefix", type=Path, required=True)
    figure.set_defaults(handler=_figure3)

    memory_plot = commands.add_parser("memory-figure", help="plot memory and time vs depth")
    memory_plot.add_argument("points", type=Path)
    memory_plot.add_argument("--prefix", type=Path, required=True)
    memory_plot.set_defaults(handler=_memory_figure)

    plan = commands.add_parser("plan", help="print the resolved run specifications of a scale")
    plan.add_argument("--experiment", choices=["classify", "vae"], default="classify")
    plan.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    plan.add_argument("--scale", choices=["smoke", "cpu", "paper"])
    plan.set_defaults(handler=_plan)

    from replication.article.commands import add_commands as add_article_commands
    from replication.claims.commands import add_commands as add_claims_commands
    from replication.cnf.nfe_commands import add_commands as add_nfe_commands
    from replication.cnf.toy_commands import add_commands as add_toy_commands
    from replication.cnf.trace_commands import add_commands as add_trace_commands
    from replication.estimate.run import add_commands as add_estimate_commands
    from replication.regress.commands import add_commands as add_regress_commands

    add_article_commands(commands)
    add_claims_commands(commands)
    add_nfe_commands(commands)
    add_toy_commands(commands)
    add_trace_commands(commands)
    add_estimate_commands(commands)
    add_regress_commands(commands)
    return parser


# Expected failures: (module, class) of errors that end a command with their message (which
# names what is wrong and what to do) and exit status 1, not a traceback. Looked up only in
# modules already imported, so the CLI imports nothing heavy to recognise them.
EXPECTED_ERRORS = (
    ("replication.config", "ConfigError"),                  # bad config
    ("replication.data.fetch", "DataIntegrityError"),       # missing or corrupted data
    ("replication.data.catalog", "UnknownDatasetError"),    # fetch <unknown>
    ("replication.train.checkpoint", "UnsafeCheckpointError"),  # a .pt that is not plain data
    ("replication.train.guards", "NonFiniteLossError"),     # NaN/inf loss: nothing published
    ("replication.ode.solve", "StepLimitError"),            # an ODE solve over its step limit
)


def is_expected_failure(error: BaseException) -> bool:
    for module_name, class_name in EXPECTED_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(error, getattr(module, class_name)):
            return True
    return False


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    args = build_parser().parse_args(argv)
    try:
        args.handler(args)
    except Exception as error:
        if is_expected_failure(error):
            print(f"error: {error}", file=sys.stderr)
            return 1
        raise
    return 0
