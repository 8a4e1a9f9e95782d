"""The report never calls a section with results "not run" (issue #14 C.12)."""
from __future__ import annotations

import json
from pathlib import Path

from replication.claims.verdicts import evaluate_claims, load_claims, write_claims_csv
from replication.report import captions
from replication.report.build import build_report, render_markdown

REPO_ROOT = Path(__file__).resolve().parents[1]


def _report(results: Path, figures: Path, tmp_path: Path):
    claims = tmp_path / "claims.csv"
    write_claims_csv(evaluate_claims(load_claims(), results=results, figures=figures,
                                     scale="cpu"), claims)
    report = build_report(results=results, figures=figures, claims=claims, scale="cpu")
    return report, render_markdown(report, tmp_path / "REPORT.md")


def test_article_runs_without_a_table_are_shown_not_called_not_run(tmp_path):
    results = tmp_path / "results"
    run = results / "article" / "a1" / "seed0"
    run.mkdir(parents=True)
    (run / "metrics.json").write_text(json.dumps({"test_accuracy": 0.9113, "test_size": 10000}))
    report, text = _report(results, tmp_path / "figures", tmp_path)
    assert "### Article A1: the NumPy Neural ODE on MNIST — not run" not in text
    assert "| seed0 | 0.9113 | 10000 |" in text
    assert "### Article A2: Euler steps and step size at test time — not run" in text


def test_no_section_of_the_committed_cpu_report_with_results_is_not_run(tmp_path):
    results, figures = REPO_ROOT / "results" / "cpu", REPO_ROOT / "figures" / "cpu"
    report, text = _report(results, figures, tmp_path)
    for entry in captions.ARTICLE_EXPERIMENTS:
        has_results = any((results / entry.path).rglob("metrics.json"))
        assert has_results == (f"### {entry.title} — not run" not in text), entry.title
    for section in report.tables + report.figures:
        if section.path is None:  # "not run" only where its file or folder is missing
            assert "is missing" in section.missing, section.title
