"""``python -m replication VERB``: the suite's nine verbs (the Snakemake rules call the same ones).

    fetch DATASET...           verify dataset files, fetching missing or corrupted ones
    plan [EXP...]              print every job's resolved spec (and the merged scale settings)
    run EXP                    run one job (by hand: --scale and the experiment's selectors)
    collect EXP                an experiment's table from its jobs' result files
    figure EXP                 an experiment's figure from its result files
    claims                     judge every claim on a scale's results; --check-provenance
    report                     REPORT.md and REPORT.html of a scale
    baselines check|update     the regression gate against committed baselines
    estimate                   time every job of a scale on this machine: the cost table

``--out`` is always a folder: the job's folder (run), results/<scale> (collect, claims, report)
or figures/<scale> (figure). Building the parser imports no torch and no pandas (``--help``
stays fast); each verb imports what it needs when it runs.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from replication.experiments.base import CHECKPOINT_DIR_ENV, DATA_DIR_ENV

SCALES = ("smoke", "cpu", "paper")
CONFIG = Path("config/config.yaml")


# --- fetch -----------------------------------------------------------------------------------
def _fetch(args: argparse.Namespace) -> int:
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
    return 0


# --- plan, run, collect, figure: one experiment's jobs ----------------------------------------
def _config(args: argparse.Namespace) -> dict:
    from replication.config import load_config

    return load_config(args.config, overrides={"scale": args.scale} if args.scale else None)


def _plan(args: argparse.Namespace) -> int:
    from replication.experiments.registry import NAMES, experiment

    config = _config(args)
    if args.settings:
        print(json.dumps(config["scales"][config["scale"]], indent=2, sort_keys=True))
        return 0
    on_gpu, on_cpu = {}, {}
    for name in args.experiment or NAMES:
        declared = experiment(name)
        for spec in declared.jobs(config):
            print(json.dumps({"experiment": name, "job_dir": declared.job_dir(spec),
                              "spec": spec}, sort_keys=True))
            where = on_gpu if str(spec.get("device", "cpu")).startswith("cuda") else on_cpu
            where[name] = where.get(name, 0) + 1
    # on stderr, so that stdout stays one JSON spec per line
    for label, counts in (("need a CUDA GPU", on_gpu), ("run on a CPU", on_cpu)):
        jobs = ", ".join(f"{name} {count}" for name, count in counts.items()) or "none"
        print(f"{sum(counts.values())} jobs {label}: {jobs}", file=sys.stderr)
    return 0


def _run(args: argparse.Namespace) -> int:
    from replication.experiments.base import run_job
    from replication.experiments.registry import experiment

    declared = experiment(args.run_experiment)
    if args.spec is not None:
        specs = [json.loads(args.spec)]
    else:
        config = _config(args)
        specs = declared.select(config, **{o.key: getattr(args, o.key) for o in declared.options})
    scale = specs[0].get("scale", args.scale)
    results = args.results or (Path("results") / scale if scale else Path("results"))
    if args.out is not None and len(specs) > 1:
        raise ValueError(f"--out names one job's folder, but {len(specs)} jobs match: pick one "
                         f"with {' '.join(o.flag for o in declared.options)}")
    for spec in specs:
        out = args.out or results / declared.job_dir(spec)
        metrics = run_job(declared, spec, out_dir=out, results_dir=results,
                          data_dir=args.data_dir, checkpoint_dir=args.checkpoint_dir,
                          threads=args.threads)
        print(f"{out}: " + json.dumps({k: v for k, v in metrics.items()
                                       if isinstance(v, (int, float, str, bool))}, sort_keys=True))
    return 0


def _collect(args: argparse.Namespace) -> int:
    from replication.experiments.registry import experiment

    declared = experiment(args.experiment)
    if declared.collect is None:
        raise ValueError(f"experiment {declared.name} has no table (see `figure {declared.name}`)")
    if args.inputs and args.spec is not None and args.scale:
        inputs, spec = args.inputs, json.loads(args.spec)
        out = args.out or Path("results") / args.scale
    else:
        config = _config(args)
        results = Path("results") / config["scale"]
        out = args.out or results
        inputs = args.inputs or [results / path for path in declared.table_inputs(config)]
        spec = json.loads(args.spec) if args.spec else declared.collect_spec(config)
    import_module(declared.collect).collect(list(inputs), out=out, **spec)
    for name in declared.tables:
        print(out / name)
    return 0


def _figure(args: argparse.Namespace) -> int:
    from replication.experiments.registry import experiment

    declared = experiment(args.experiment)
    if declared.figure is None:
        raise ValueError(f"experiment {declared.name} has no figure (see `collect {declared.name}`)")
    inputs = args.inputs
    if inputs and args.scale:
        args.out = args.out or Path("figures") / args.scale
    else:
        config = _config(args)
        results = Path("results") / config["scale"]
        inputs = inputs or [results / path for path in declared.figure_inputs(config)]
        args.out = args.out or Path("figures") / config["scale"]
    import_module(declared.figure).figure(list(inputs), out=args.out)
    for name in declared.figures:
        print(args.out / name)
    return 0


# --- claims, report, baselines, estimate ----------------------------------------------------
def _claims(args: argparse.Namespace) -> int:
    if args.check_provenance:
        from replication.staleness import provenance_states

        results = args.results or Path("results") / args.scale
        if not results.is_dir():
            raise ValueError(f"{results} is not a folder of results; pass --results or --scale")
        states = provenance_states(results)
        bad = [s for s in states if s.stale or s.unmapped]
        for state in bad:
            print(state.describe())
        print(f"{len(states)} provenance records under {results}: {sum(s.stale for s in states)} "
              f"stale, {sum(s.unmapped for s in states)} without a known fingerprint, "
              f"{len(states) - len(bad)} current")
        return 1 if bad else 0

    from replication.claims.verdicts import (
        evaluate_claims,
        load_claims,
        verdict_counts,
        write_claims_csv,
    )

    results = args.results or Path("results") / args.scale
    figures = args.figures or Path("figures") / args.scale
    claims = load_claims(args.registry) if args.registry else load_claims()
    table = evaluate_claims(claims, results=results, figures=figures, scale=args.scale)
    path = write_claims_csv(table, (args.out or results) / "claims.csv")
    for _, row in table[table["malformed"]].iterrows():
        print(f"warning: {row['id']}: {row['reason']}", file=sys.stderr)
    counts = verdict_counts(table)
    repeats = len(table) - sum(counts.values())
    print(f"{len(table)} claims at scale {args.scale}"
          + (f" ({repeats} repeating another's measurement, counted once)" if repeats else "")
          + ": " + ", ".join(f"{count} {verdict}" for verdict, count in counts.items()))
    print(path)
    return 0


def _report(args: argparse.Namespace) -> int:
    from replication.report.build import write_report

    results = args.results or Path("results") / args.scale
    out = args.out or results
    report = write_report(results=results, figures=args.figures or Path("figures") / args.scale,
                          claims=results / "claims.csv", out_md=out / "REPORT.md",
                          out_html=out / "REPORT.html", scale=args.scale)
    missing = [s.title for s in report.tables + report.figures if s.path is None]
    print(f"report for scale {report.scale}: {len(report.claims)} claims, "
          f"{sum(s.path is not None for s in report.tables)} tables, "
          f"{sum(s.path is not None for s in report.figures)} figures"
          + (f"; not run: {'; '.join(missing)}" if missing else ""))
    print(out / "REPORT.md")
    print(out / "REPORT.html")
    return 0


def _baselines(args: argparse.Namespace) -> int:
    from replication.regress.engine import check, update

    baselines = args.baselines or Path("results") / "baselines" / args.scale
    if args.action == "update":
        for path in update(args.results_root, baselines, scale=args.scale):
            print(path)
        return 0
    report = check(args.results_root, baselines, scale=args.scale)
    for drift in report.drifts:
        print(drift.message)
    for note in report.notes:
        print(note, file=sys.stderr)
    if args.table is not None:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        report.frame.to_csv(args.table, index=False)
    print(report.summary(), file=sys.stderr)
    return 0 if report.ok else 1


def _estimate(args: argparse.Namespace) -> int:
    from replication.estimate.run import run

    run(args)
    return 0


# --- the parser ------------------------------------------------------------------------------
def _env_path(variable: str, default: str) -> Path:
    """A folder option's default: the workflow sets *variable* (rules/common.smk), else *default*."""
    return Path(os.environ.get(variable) or default)



def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _scale_options(parser: argparse.ArgumentParser, *, required: bool = False,
                   default: str | None = None) -> None:
    parser.add_argument("--scale", choices=SCALES, required=required, default=default,
                        help="smoke (CI, minutes), cpu (full data, reduced epochs) or paper "
                             "(the papers' protocols)" + (f"; default: {default}" if default
                                                          else "; default: the config's"))
    parser.add_argument("--config", type=Path, default=CONFIG,
                        help=f"the workflow's config file (default: {CONFIG})")


def _add_run(commands, names: tuple[str, ...]) -> None:
    from replication.experiments.registry import experiment

    run = commands.add_parser(
        "run", help="run one job of an experiment under the job contract",
        description="Run jobs of one experiment: seed, device check, resume, provenance, "
                    "metrics.json last. By hand: `run table1 --scale cpu --model odenet "
                    "--seed 0` (every job that matches runs). The workflow passes --spec.")
    # dest: not "experiment", which the article's selector (--experiment a1) uses
    by_name = run.add_subparsers(dest="run_experiment", required=True, metavar="EXPERIMENT")
    for name in names:
        declared = experiment(name)
        parser = by_name.add_parser(name, help=declared.title, description=declared.title)
        for option in declared.options:
            parser.add_argument(option.flag, dest=option.key, type=option.type, default=None,
                                help=f"only jobs with this {option.key}: {option.help}")
        _scale_options(parser)
        parser.add_argument("--spec", default=None,
                            help="one resolved job spec (JSON), as `plan` prints it; replaces "
                                 "--scale and the selectors")
        parser.add_argument("--out", type=Path, default=None,
                            help="the job's folder (default: results/<scale>/<its job folder>)")
        parser.add_argument("--results", type=Path, default=None,
                            help="results/<scale>, where the upstream results a job reads live "
                                 "(default: results/<the spec's scale>)")
        parser.add_argument("--data-dir", type=Path,
                            default=_env_path(DATA_DIR_ENV, "data"),
                            help="verified dataset files (default: $REPLICATION_DATA_DIR, else "
                                 "data; see `fetch`)")
        parser.add_argument("--checkpoint-dir", type=Path,
                            default=_env_path(CHECKPOINT_DIR_ENV, "checkpoints"),
                            help="per-epoch checkpoints, outside the outputs (default: "
                                 "$REPLICATION_CHECKPOINT_DIR, else checkpoints)")
        parser.add_argument("--threads", type=_positive, default=1,
                            help="torch threads (default: 1)")
        parser.set_defaults(handler=_run)


def _add_products(commands, names: tuple[str, ...]) -> None:
    for verb, handler, what, where in (
            ("collect", _collect, "table", "results/<scale>"),
            ("figure", _figure, "figure", "figures/<scale>")):
        parser = commands.add_parser(
            verb, help=f"an experiment's {what} from its result files (never retrains)")
        parser.add_argument("experiment", choices=names, metavar="EXPERIMENT",
                            help=f"one of: {', '.join(names)}")
        parser.add_argument("inputs", nargs="*", type=Path,
                            help="its input files (default: those of --scale's jobs)")
        _scale_options(parser)
        if verb == "collect":
            parser.add_argument("--spec", default=None,
                                help="the table's settings (JSON; default: from the config)")
        parser.add_argument("--out", type=Path, default=None,
                            help=f"folder to write into (default: {where})")
        parser.set_defaults(handler=handler)


def build_parser() -> argparse.ArgumentParser:
    from replication.experiments.registry import NAMES

    parser = argparse.ArgumentParser(prog="python -m replication", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="VERB")

    fetch = commands.add_parser("fetch", help="verify dataset files, fetching missing or bad ones")
    fetch.add_argument("dataset", nargs="+", help="dataset names (see replication/data/catalog)")
    fetch.add_argument("--data-dir", type=Path, default=_env_path(DATA_DIR_ENV, "data"),
                       help="where verified files are placed (default: $REPLICATION_DATA_DIR, "
                            "else data)")
    fetch.add_argument("--mirror", default=None,
                       help="local mirror folder (<dataset>/<file>); default "
                            "$REPLICATION_DATA_MIRROR (also when given as '')")
    fetch.add_argument("--manifest", type=Path, default=None,
                       help="write this manifest once every file of the (one) dataset is verified")
    fetch.set_defaults(handler=_fetch)

    plan = commands.add_parser("plan", help="print the resolved spec of every job of a scale")
    plan.add_argument("experiment", nargs="*", metavar="EXPERIMENT",
                      help=f"only these (default: all): {', '.join(NAMES)}")
    _scale_options(plan)
    plan.add_argument("--settings", action="store_true",
                      help="print the scale's merged settings instead of the jobs")
    plan.set_defaults(handler=_plan)

    _add_run(commands, NAMES)
    _add_products(commands, NAMES)

    claims = commands.add_parser("claims", help="judge every claim of the registry on one "
                                 "scale's results (claims.csv)")
    claims.add_argument("--scale", choices=SCALES, required=True, help="the scale judged")
    claims.add_argument("--results", type=Path, default=None,
                        help="results folder (default: results/<scale>)")
    claims.add_argument("--figures", type=Path, default=None,
                        help="figures folder (default: figures/<scale>)")
    claims.add_argument("--out", type=Path, default=None,
                        help="folder for claims.csv (default: the results folder)")
    claims.add_argument("--registry", type=Path, default=None,
                        help="claims registry (default: replication/claims/claims.yaml)")
    claims.add_argument("--check-provenance", action="store_true",
                        help="instead: list the results made by older code (recorded "
                             "code_fingerprint differs from the current code's); exit 1 if any")
    claims.set_defaults(handler=_claims)

    report = commands.add_parser("report", help="write REPORT.md and a self-contained "
                                 "REPORT.html for one scale (after `claims`)")
    report.add_argument("--scale", choices=SCALES, required=True, help="the scale reported")
    report.add_argument("--results", type=Path, default=None,
                        help="results folder holding claims.csv (default: results/<scale>)")
    report.add_argument("--figures", type=Path, default=None,
                        help="figures folder (default: figures/<scale>)")
    report.add_argument("--out", type=Path, default=None,
                        help="folder for REPORT.md and REPORT.html (default: the results folder)")
    report.set_defaults(handler=_report)

    baselines = commands.add_parser(
        "baselines", help="check results against the committed baselines (exit 1 with one line "
                          "per drift), or update them on purpose")
    baselines.add_argument("action", choices=("check", "update"),
                           help="check: compare; update: rewrite the baselines from the results")
    baselines.add_argument("--scale", choices=SCALES, default="smoke",
                           help="the scale whose results are gated (default: smoke)")
    baselines.add_argument("--results-root", type=Path, default=Path("."),
                           help="project folder holding results/<scale>/ and figures/<scale>/ "
                                "(default: .)")
    baselines.add_argument("--baselines", type=Path, default=None,
                           help="baselines folder (default: results/baselines/<scale>)")
    baselines.add_argument("--table", type=Path, default=None,
                           help="check: also write the tidy comparison (one row per value) here")
    baselines.set_defaults(handler=_baselines)

    estimate = commands.add_parser(
        "estimate", help="build, check and time every job of a scale; write the cost table")
    estimate.add_argument("--scale", choices=SCALES, default="paper",
                          help="the scale costed (default: paper)")
    estimate.add_argument("--out", type=Path, required=True,
                          help="folder: estimate.csv, totals.csv, estimate.md, provenance.json")
    estimate.add_argument("--steps", type=_positive, default=3,
                          help="timed steps per distinct shape, after one warm-up (default 3)")
    estimate.add_argument("--only", nargs="+", metavar="EXPERIMENT", default=None,
                          choices=NAMES, help=f"only these (default: all): {', '.join(NAMES)}")
    estimate.add_argument("--threads", type=_positive, default=1,
                          help="torch threads (default: 1)")
    estimate.add_argument("--device", default=None,
                          help="default: cuda if available, else cpu")
    estimate.add_argument("--config", type=Path, default=CONFIG,
                          help=f"the workflow's config file (default: {CONFIG})")
    estimate.set_defaults(handler=_estimate)
    return parser


def _version() -> str:
    try:
        return version("replication")
    except PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown (not installed)"


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
    ("replication.experiments.base", "DeviceUnavailableError"),  # CUDA job, no CUDA
    ("replication.claims.verdicts", "ClaimsError"),         # a malformed claims registry
    ("replication.regress.engine", "BaselineError"),        # missing or malformed baselines
    ("replication.experiments.base", "NoSuchJobError"),     # run: no job matches the selectors
    ("replication.experiments.registry", "UnknownExperimentError"),  # plan <unknown>
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
        return args.handler(args)
    except Exception as error:
        if is_expected_failure(error):
            print(f"error: {error}", file=sys.stderr)
            return 1
        raise
