"""``check-baselines`` and ``update-baselines``: the accuracy gate's command line.

``replication.cli.build_parser`` registers them with ``add_commands(commands)``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_SCALE = "smoke"


def _baselines_dir(args: argparse.Namespace) -> Path:
    """--baselines, else the committed results/baselines/<scale> of the project run from."""
    if args.baselines is not None:
        return args.baselines
    return Path("results") / "baselines" / args.scale


def _check(args: argparse.Namespace) -> int:
    from replication.regress.engine import BaselineError, check

    try:
        report = check(args.results_root, _baselines_dir(args), scale=args.scale)
    except BaselineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for drift in report.drifts:
        print(drift.message)
    for note in report.notes:
        print(note, file=sys.stderr)
    if args.table is not None:
        args.table.parent.mkdir(parents=True, exist_ok=True)
        report.frame.to_csv(args.table, index=False)
    print(report.summary(), file=sys.stderr)
    return 0 if report.ok else 1


def _update(args: argparse.Namespace) -> int:
    from replication.regress.engine import BaselineError, update

    try:
        written = update(args.results_root, _baselines_dir(args), scale=args.scale)
    except BaselineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for path in written:
        print(path)
    return 0


def _run(handler):
    """Commands return an exit code; cli.main returns 0 unless a handler raises."""
    def run(args: argparse.Namespace) -> None:
        code = handler(args)
        if code:
            raise SystemExit(code)
    return run


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--results-root", type=Path, default=Path("."),
                        help="project folder holding results/<scale>/ and figures/<scale>/ "
                             "(default: .)")
    parser.add_argument("--baselines", type=Path, default=None,
                        help="baselines folder (default: results/baselines/<scale>)")
    parser.add_argument("--scale", default=DEFAULT_SCALE,
                        help=f"the scale whose results are gated (default: {DEFAULT_SCALE})")


def add_commands(subparsers) -> None:
    """Register ``check-baselines`` and ``update-baselines`` on an argparse subparsers object."""
    check = subparsers.add_parser(
        "check-baselines",
        help="compare results with the committed baselines; exit 1 with one line per drift")
    _common(check)
    check.add_argument("--table", type=Path, default=None,
                       help="also write the tidy comparison (one row per value) to this CSV")
    check.set_defaults(handler=_run(_check))

    update = subparsers.add_parser(
        "update-baselines",
        help="rewrite the baselines from the results (on purpose only: see README)")
    _common(update)
    update.set_defaults(handler=_run(_update))
