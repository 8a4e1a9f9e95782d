"""The replication report of one scale: REPORT.md and a self-contained REPORT.html.

Order: the verdict table first (claims.csv), then every table present beside the paper's
numbers (the table files already hold both), every figure with its caption, and the provenance
of the results (hardware, package versions, git states, run times), then each claim's details.
Expected tables and figures that are missing appear as "not run" sections, never dropped.

REPORT.html needs no network: CSS is inline, figures are base64 ``data:`` URIs, there is no
script, and a Content-Security-Policy meta tag forbids loading anything from elsewhere.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from replication.claims.verdicts import DOCUMENTS, GROUPS, VERDICTS, verdict_counts
from replication.report import captions
from replication.report.markdown import strip_title, to_html
from replication.report.provenance import Provenance, collect_provenance, duration
from replication.results import write_text

REPORT_NAMES = {"REPORT.md"}  # earlier reports are outputs, never inputs
CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'"
)


@dataclass
class TableSection:
    title: str
    caption: str
    path: Path | None  # None: not run
    body: str = ""  # the table file's Markdown, without its title line
    missing: str = ""  # why it is not there


@dataclass
class FigureSection:
    title: str
    caption: str
    path: Path | None
    missing: str = ""


@dataclass
class Report:
    scale: str
    results: Path
    figures_root: Path
    claims: pd.DataFrame
    tables: list[TableSection] = field(default_factory=list)
    figures: list[FigureSection] = field(default_factory=list)
    provenance: Provenance = field(default_factory=Provenance)
    generated: str = ""
    code_state: str = ""
    stale: list[str] = field(default_factory=list)  # records made by older code (descriptions)

    def counts(self) -> dict[str, int]:
        """Claims per verdict, a repeated measurement (``same_as``) counted once."""
        if not len(self.claims):
            return {verdict: 0 for verdict in VERDICTS}
        return verdict_counts(self.claims)

    def grouped_claims(self) -> list[tuple[str, pd.DataFrame]]:
        order = list(GROUPS) + sorted(set(self.claims.get("group", [])) - set(GROUPS))
        return [
            (GROUPS.get(group, group), self.claims[self.claims["group"] == group])
            for group in order
            if len(self.claims) and (self.claims["group"] == group).any()
        ]


# --- collecting ----------------------------------------------------------------------------------


def _read_claims(path: Path) -> pd.DataFrame:
    if not Path(path).is_file():
        raise FileNotFoundError(f"{path} is missing: run `python -m replication claims` first")
    return pd.read_csv(path, keep_default_na=False, dtype=str)


def _table(path: Path, title: str, caption: str) -> TableSection:
    heading, body = strip_title(path.read_text())
    return TableSection(title or heading or path.stem, caption, path, body)


def collect_tables(results: Path, exclude: set[Path]) -> list[TableSection]:
    sections, seen = [], set()
    for entry in captions.TABLES:
        path = results / entry.path
        seen.add(path.resolve())
        if path.is_file():
            sections.append(_table(path, entry.title, entry.caption))
        else:
            sections.append(
                TableSection(
                    entry.title,
                    entry.caption,
                    None,
                    missing=f"`{path}` is missing (from {entry.produced_by})",
                )
            )
    for entry in captions.ARTICLE_EXPERIMENTS:
        folder = results / entry.path
        if not folder.is_dir():
            sections.append(
                TableSection(
                    entry.title,
                    entry.caption,
                    None,
                    missing=f"`{folder}/` is missing (from {entry.produced_by})",
                )
            )
            continue
        tables = sorted(p for p in folder.rglob("*.md") if p.resolve() not in exclude)
        runs = sorted(folder.rglob("metrics.json"))
        if not tables and runs:
            # The article's jobs write metrics.json per run, no table: their results are shown
            # as one, never as "not run".
            sections.append(TableSection(entry.title, entry.caption, folder,
                                         runs_table(runs, folder)))
        elif not tables:
            sections.append(
                TableSection(
                    entry.title,
                    entry.caption,
                    None,
                    missing=f"`{folder}/` holds no results (no metrics.json or table) yet",
                )
            )
        for path in tables:
            seen.add(path.resolve())
            heading, _ = strip_title(path.read_text())
            title = entry.title if len(tables) == 1 else f"{entry.title}: {heading or path.stem}"
            sections.append(_table(path, title, entry.caption))
    # Tables present but not listed in captions.py: shown too, never dropped.
    article = results / "article"
    for path in sorted(results.glob("*.md")) + sorted(
        article.rglob("*.md") if article.is_dir() else []
    ):
        if path.resolve() not in seen | exclude and path.name not in REPORT_NAMES:
            heading, _ = strip_title(path.read_text())
            sections.append(_table(path, heading or path.stem, ""))
    return sections


RUN_KEYS = ("test_accuracy", "test_error", "test_size", "train_size", "steps", "epochs",
            "epochs_completed", "parameters", "accuracy_min", "accuracy_max", "reduced")


def runs_table(paths: list[Path], folder: Path) -> str:
    """A Markdown table of the runs' metrics.json: one row per run, the keys of RUN_KEYS it has."""
    records = [(path.parent.relative_to(folder).as_posix() or ".", json.loads(path.read_text()))
               for path in paths]
    keys = [k for k in RUN_KEYS if any(k in record for _, record in records)]

    def show(value) -> str:
        if isinstance(value, float):
            return f"{value:.4g}"
        return "–" if value is None else str(value)

    lines = ["| Run | " + " | ".join(keys) + " |", "|---|" + "---|" * len(keys)]
    lines += ["| " + " | ".join([_cell(run)] + [_cell(show(r.get(k))) for k in keys]) + " |"
              for run, r in records]
    return "\n".join(lines) + f"\n\nFrom {len(records)} metrics.json file(s) under `{folder}`."


def collect_figures(results: Path, figures: Path) -> list[FigureSection]:
    sections, seen = [], set()
    for entry in captions.FIGURES:
        path = figures / entry.path
        seen.add(path.resolve())
        sections.append(
            FigureSection(entry.title, entry.caption, path)
            if path.is_file()
            else FigureSection(
                entry.title,
                entry.caption,
                None,
                missing=f"`{path}` is missing (from {entry.produced_by})",
            )
        )
    found = sorted(figures.rglob("*.png")) if figures.is_dir() else []
    article = results / "article"
    found += sorted(article.rglob("*.png")) if article.is_dir() else []
    for path in found:
        if path.resolve() not in seen and not path.name.startswith("."):
            seen.add(path.resolve())
            sections.append(
                FigureSection(path.stem.replace("_", " "), captions.UNLISTED_CAPTION, path)
            )
    return sections


def build_report(
    *,
    results: Path | str,
    figures: Path | str,
    claims: Path | str,
    scale: str | None = None,
    exclude: list[Path] | None = None,
) -> Report:
    """Collect everything the report shows; *exclude*: output files not to show as inputs."""
    from replication.measure.provenance import git_state
    from replication.staleness import provenance_states

    results, figures = Path(results), Path(figures)
    table = _read_claims(Path(claims))
    if scale is None:
        scales = sorted(set(table["scale"])) if "scale" in table and len(table) else []
        scale = scales[0] if len(scales) == 1 else results.name
    state = git_state()
    code_state = f"{state['git_sha'][:12]}" + (
        " (uncommitted changes)" if state["git_dirty"] else ""
    )
    return Report(
        scale=scale,
        results=results,
        figures_root=figures,
        claims=table,
        tables=collect_tables(results, {Path(p).resolve() for p in exclude or []}),
        figures=collect_figures(results, figures),
        provenance=collect_provenance(results),
        generated=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        code_state=code_state,
        stale=[s.describe() for s in provenance_states(results) if s.stale or s.unmapped],
    )


# --- Markdown ------------------------------------------------------------------------------------


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _summary(report: Report) -> str:
    counts = report.counts()
    repeats = len(report.claims) - sum(counts.values())
    counted = f" ({repeats} repeat another's measurement, counted once)" if repeats else ""
    return f"{len(report.claims)} claims at scale `{report.scale}`{counted}: " + " · ".join(
        f"**{count}** {verdict}" for verdict, count in counts.items()
    )


def render_markdown(report: Report, out: Path) -> str:
    out_dir = Path(out).parent
    lines = [
        f"# Replication report — scale `{report.scale}`",
        "",
        "Neural ODEs (Chen et al. 2018), FFJORD (Grathwohl et al. 2019) and the article that "
        "retells them: a verdict on every claim, then the tables and figures behind them.",
        "",
        _summary(report),
        "",
        "## 1. Verdicts",
        "",
    ]
    lines += [f"- **{verdict}**: {text}" for verdict, text in captions.VERDICT_LEGEND.items()]
    lines += [f"- {captions.TEXTUAL_NOTE}", ""]
    for group, rows in report.grouped_claims():
        lines += [
            f"### {group}",
            "",
            "| Claim | Source | Claimed | Measured | Verdict | Reason |",
            "|---|---|---|---|---|---|",
        ]
        for _, row in rows.iterrows():
            lines.append(
                "| "
                + " | ".join(
                    _cell(x)
                    for x in (
                        f"{row['statement']} `{row['id']}`",
                        f"{DOCUMENTS.get(row['document'], row['document'])}, {row['location']}",
                        row["claimed"],
                        row["measured"],
                        f"**{row['verdict']}**",
                        row["reason"],
                    )
                )
                + " |"
            )
        lines.append("")
    lines += ["## 2. Tables", ""]
    for section in report.tables:
        if section.path is None:
            lines += [
                f"### {section.title} — not run",
                "",
                f"{section.missing}. {section.caption}",
                "",
            ]
        else:
            lines += [f"### {section.title}", "", section.caption, "", section.body, ""]
    lines += ["## 3. Figures", ""]
    for section in report.figures:
        if section.path is None:
            lines += [
                f"### {section.title} — not run",
                "",
                f"{section.missing}. {section.caption}",
                "",
            ]
        else:
            link = os.path.relpath(section.path, out_dir)
            lines += [
                f"### {section.title}",
                "",
                f"![{section.title}]({link})",
                "",
                f"*{section.caption}* (`{section.path}`)",
                "",
            ]
    lines += ["## 4. Provenance", ""] + _provenance_markdown(report) + [""]
    lines += ["## 5. Claims in detail", ""]
    for _, row in report.claims.iterrows():
        lines += [
            f"- **`{row['id']}`** — {row['statement']} Source: "
            f"{DOCUMENTS.get(row['document'], row['document'])}, {row['location']}. "
            f"Metric: {row['metric']}. Comparison: {row['comparison']}. Judged at: "
            f"{row['meaningful_at']}. Inputs: {row['inputs'] or '–'}."
            + (f" Known deviations: {row['deviations']}" if row["deviations"] else "")
        ]
    text = "\n".join(lines) + "\n"
    write_text(Path(out), text)
    return text


def _provenance_rows(report: Report) -> dict[str, list[list[str]]]:
    p = report.provenance
    hardware = [
        [
            str(h.get("device")),
            str(h.get("device_name")),
            str(h.get("cpu_count")),
            str(h.get("torch_threads")),
            str(h.get("torch_cuda") or "–"),
            str(h.get("cudnn") or "–"),
            str(h.get("platform")),
            str(n),
        ]
        for h, n in p.hardware()
    ]
    packages = [
        [name, ", ".join(f"{v} ({n} runs)" if len(c) > 1 else v for v, n in c.most_common())]
        for name, c in p.packages().items()
    ]
    code = [
        [sha[:12], {True: "yes", False: "no"}.get(dirty, "unknown"), str(n), ", ".join(exps)]
        for sha, dirty, n, exps in p.git()
    ]
    times = [[name, str(n), duration(seconds)] for name, n, seconds in p.times()]
    runs = [
        [
            run.path,
            str(run.record.get("started", "–")),
            duration(run.seconds) if run.seconds is not None else "–",
            str(run.record.get("git_sha", "unknown"))[:12],
            str(run.record.get("device", "–")),
        ]
        for run in p.runs
    ]
    return {"hardware": hardware, "packages": packages, "code": code, "times": times, "runs": runs}


PROVENANCE_HEADERS = {
    "hardware": ["Device", "Processor", "CPUs", "Threads", "CUDA", "cuDNN", "Platform", "Runs"],
    "packages": ["Package", "Version"],
    "code": ["Git commit", "Uncommitted changes", "Runs", "Experiments"],
    "times": ["Experiment", "Runs", "Run time"],
    "runs": ["Record", "Started (UTC)", "Run time", "Git commit", "Device"],
}
PROVENANCE_TITLES = {
    "hardware": "Hardware",
    "packages": "Software",
    "code": "Code",
    "times": "Run times",
    "runs": "Every run",
}


def _provenance_markdown(report: Report) -> list[str]:
    p = report.provenance
    lines = [
        f"Report generated {report.generated} from code at `{report.code_state}`; "
        f"{len(p.runs)} provenance records under `{report.results}`, total run time "
        f"{duration(p.total_seconds)}.",
        "",
    ]
    if not p.runs:
        return lines + ["No provenance records found: not run.", ""]
    for key, rows in _provenance_rows(report).items():
        headers = PROVENANCE_HEADERS[key]
        lines += [
            f"### {PROVENANCE_TITLES[key]}",
            "",
            "| " + " | ".join(headers) + " |",
            "|" + "---|" * len(headers),
        ]
        lines += ["| " + " | ".join(_cell(x) for x in row) + " |" for row in rows] + [""]
    if report.stale:
        lines += [f"**Stale: made by older code** ({len(report.stale)} records; the claims on "
                  "them are inconclusive until rerun):", ""]
        lines += [f"- {_cell(text)}" for text in report.stale] + [""]
    if p.unreadable:
        lines += ["Unreadable provenance files: " + ", ".join(p.unreadable), ""]
    return lines


# --- HTML ----------------------------------------------------------------------------------------


def data_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii")


VERDICT_CLASS = {
    "reproduced": "ok",
    "consistent, inconclusive at this scale": "maybe",
    "not reproduced": "bad",
    "inconclusive": "maybe",
    "documented fact": "none",
    "not run": "none",
}

STYLE_FILE = Path(__file__).with_name("report.css")


TEMPLATE_FILE = Path(__file__).with_name("report.html.j2")


def render_html(report: Report, out: Path) -> str:
    import jinja2

    environment = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    records = report.claims.to_dict("records")
    groups = [(name, rows.to_dict("records")) for name, rows in report.grouped_claims()]
    text = environment.from_string(TEMPLATE_FILE.read_text()).render(
        r=report,
        csp=CSP,
        style=STYLE_FILE.read_text(),
        counts=report.counts(),
        classes=VERDICT_CLASS,
        legend=captions.VERDICT_LEGEND,
        textual_note=captions.TEXTUAL_NOTE,
        groups=groups,
        documents=DOCUMENTS,
        claim_rows=records,
        table_html=[to_html(t.body, heading_offset=2) if t.path else "" for t in report.tables],
        images=[data_uri(f.path) if f.path else "" for f in report.figures],
        provenance=_provenance_rows(report) if report.provenance.runs else {},
        headers=PROVENANCE_HEADERS,
        titles=PROVENANCE_TITLES,
        total_time=duration(report.provenance.total_seconds),
    )
    write_text(Path(out), text)
    return text


def write_report(
    *,
    results: Path | str,
    figures: Path | str,
    claims: Path | str,
    out_md: Path | str,
    out_html: Path | str,
    scale: str | None = None,
) -> Report:
    """Build the report of one scale and write REPORT.md and REPORT.html."""
    report = build_report(
        results=results,
        figures=figures,
        claims=claims,
        scale=scale,
        exclude=[Path(out_md), Path(out_html)],
    )
    render_markdown(report, Path(out_md))
    render_html(report, Path(out_html))
    return report
