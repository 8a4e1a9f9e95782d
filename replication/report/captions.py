"""Every table and figure the report knows, with its title and caption, from the experiments.

Each experiment's folder holds its caption (``caption.md``) and its declaration its title and
output files: edit them there.

Paths are relative to the results folder (tables) or the figures folder (figures) of a scale.
An expected table or figure that is missing is shown as a "not run" section; a table or figure
that is present but not listed here is still shown, with :data:`UNLISTED_CAPTION`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    path: str  # relative to results/<scale> (tables) or figures/<scale> (figures)
    title: str
    caption: str
    produced_by: str  # the rule or experiment that writes it, named when it is missing


def _sections() -> tuple[list[Entry], list[Entry], list[Entry]]:
    """Each experiment's report entries, from its declaration and its caption.md."""
    from replication.experiments.article import REPORT_SECTIONS
    from replication.experiments.registry import experiments

    tables, figures = [], []
    for experiment in experiments():
        produced_by = f"experiment {experiment.name} (snakemake {experiment.name})"
        for name in experiment.tables:
            if name.endswith(".md"):
                tables.append(Entry(name, experiment.title, experiment.caption(), produced_by))
        for name in experiment.figures:
            if name.endswith(".png"):
                figures.append(Entry(name, experiment.figure_title or experiment.title,
                                     experiment.caption(), produced_by))
    article = [Entry(path, title, caption, f"article experiment {path.rsplit('/', 1)[1].upper()}")
               for path, title, caption in REPORT_SECTIONS]
    return tables, article, figures


TABLES, ARTICLE_EXPERIMENTS, FIGURES = _sections()

UNLISTED_CAPTION = (
    "No caption registered for this figure (no experiment declares it: see "
    "replication/experiments/registry.py)."
)

VERDICT_LEGEND = {
    "reproduced": "the comparison holds at a scale where the claim can be judged, on results "
    "of the current code",
    "consistent, inconclusive at this scale": "the comparison holds, but at a scale too small "
    "to judge the claim (e.g. 2 of 160 epochs): counted apart from 'reproduced'",
    "not reproduced": "it fails at a scale where the claim can be judged",
    "inconclusive": "it fails at a scale too small to judge it, or the results decide neither "
    "way (e.g. a precondition such as 'training happened' failed), or they are stale (made by "
    "older code; the reason lists them)",
    "documented fact": "a textual claim its cited source confirms: two documents agree, "
    "nothing was reproduced",
    "not run": "the experiment behind it has not produced its results (the reason names the file)",
}

TEXTUAL_NOTE = (
    'Textual claims (comparison "= … (textual)") check a document against the document it '
    "cites and need no run: 'documented fact' means the cited source prints the same, 'not "
    "reproduced' that the source itself contradicts the claim. A claim that repeats another's "
    "measurement (its details name it) is shown but counted once."
)
