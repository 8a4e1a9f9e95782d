"""The ``claims``, ``report`` and ``check-provenance`` commands of ``python -m replication``.

``replication.cli.build_parser`` registers them (and ``check-provenance``, which lists the
results made by older code, :mod:`replication.staleness`) with ``add_commands(commands)``::

    python -m replication claims --results results/cpu --figures figures/cpu --scale cpu \\
        --out results/cpu/claims.csv
    python -m replication report --results results/cpu --figures figures/cpu \\
        --claims results/cpu/claims.csv --out-md results/cpu/REPORT.md \\
        --out-html results/cpu/REPORT.html

Both import pandas and friends only when they run. A malformed registry stops ``claims`` with
the registry's problems (exit status 1), not a traceback.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _claims(args: argparse.Namespace) -> int:
    from replication.claims.verdicts import (
        ClaimsError,
        evaluate_claims,
        load_claims,
        verdict_counts,
        write_claims_csv,
    )

    try:
        claims = load_claims(args.registry) if args.registry else load_claims()
    except ClaimsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    table = evaluate_claims(claims, results=args.results, figures=args.figures, scale=args.scale)
    write_claims_csv(table, args.out)
    for _, row in table[table["malformed"]].iterrows():
        print(f"warning: {row['id']}: {row['reason']}", file=sys.stderr)
    counts = verdict_counts(table)
    repeats = len(table) - sum(counts.values())
    print(
        f"{len(table)} claims at scale {args.scale}"
        + (f" ({repeats} repeating another's measurement, counted once)" if repeats else "")
        + ": "
        + ", ".join(f"{count} {verdict}" for verdict, count in counts.items())
    )
    print(args.out)
    return 0


def _report(args: argparse.Namespace) -> int:
    from replication.report.build import write_report

    report = write_report(
        results=args.results,
        figures=args.figures,
        claims=args.claims,
        out_md=args.out_md,
        out_html=args.out_html,
        scale=args.scale,
    )
    missing = [s.title for s in report.tables + report.figures if s.path is None]
    print(
        f"report for scale {report.scale}: {len(report.claims)} claims, "
        f"{sum(s.path is not None for s in report.tables)} tables, "
        f"{sum(s.path is not None for s in report.figures)} figures"
        + (f"; not run: {'; '.join(missing)}" if missing else "")
    )
    print(args.out_md)
    print(args.out_html)
    return 0


def _check_provenance(args: argparse.Namespace) -> int:
    from replication.staleness import provenance_states

    results = args.results or Path("results") / args.scale
    if not results.is_dir():
        print(f"error: {results} is not a folder of results; pass --results or --scale",
              file=sys.stderr)
        return 2
    states = provenance_states(results)
    bad = [s for s in states if s.stale or s.unmapped]
    for state in bad:
        print(state.describe())
    print(f"{len(states)} provenance records under {results}: {sum(s.stale for s in states)} "
          f"stale, {sum(s.unmapped for s in states)} without a known fingerprint, "
          f"{len(states) - len(bad)} current")
    return 1 if bad else 0


def _exit_with(handler):
    """cli.main ignores handlers' return values: turn a non-zero status into SystemExit."""

    def run(args: argparse.Namespace) -> None:
        status = handler(args)
        if status:
            raise SystemExit(status)

    return run


def add_commands(subparsers) -> None:
    """Register ``claims`` and ``report`` on the ``add_subparsers()`` object of the CLI."""
    claims = subparsers.add_parser(
        "claims", help="judge every claim of the registry on one scale's results (claims.csv)"
    )
    claims.add_argument("--results", type=Path, required=True, help="results/<scale>")
    claims.add_argument("--figures", type=Path, required=True, help="figures/<scale>")
    claims.add_argument("--scale", required=True, choices=["smoke", "cpu", "paper"])
    claims.add_argument("--out", type=Path, required=True, help="claims.csv to write")
    claims.add_argument(
        "--registry",
        type=Path,
        default=None,
        help="claims registry (default: replication/claims/claims.yaml)",
    )
    claims.set_defaults(handler=_exit_with(_claims))

    report = subparsers.add_parser(
        "report", help="write REPORT.md and a self-contained REPORT.html for one scale"
    )
    report.add_argument("--results", type=Path, required=True, help="results/<scale>")
    report.add_argument("--figures", type=Path, required=True, help="figures/<scale>")
    report.add_argument("--claims", type=Path, required=True, help="claims.csv of the scale")
    report.add_argument("--out-md", type=Path, required=True)
    report.add_argument("--out-html", type=Path, required=True)
    report.add_argument("--scale", default=None, help="default: the scale named in claims.csv")
    report.set_defaults(handler=_exit_with(_report))

    check = subparsers.add_parser(
        "check-provenance",
        help="list the results made by older code (recorded code_fingerprint ≠ the current "
        "code's); exit status 1 if there are any",
    )
    check.add_argument("--scale", default="cpu", help="check results/<scale> (default: cpu)")
    check.add_argument("--results", type=Path, default=None, help="a results folder instead")
    check.set_defaults(handler=_exit_with(_check_provenance))
