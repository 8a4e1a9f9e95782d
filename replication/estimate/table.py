"""The estimate's table: one row per job, the hours arithmetic, totals, CSV and Markdown.

Pure Python (no torch), so the arithmetic is testable on hand-made rows.

A row's ``hours`` is ``seconds_per_step × steps / 3600`` at the NFE the solver needed on the
freshly built model; ``hours_trained`` is the same at a trained-like NFE where one is known
(``seconds_per_step_trained``), and equals ``hours`` elsewhere (fixed-cost models, or no
trained NFE known: the row's ``note`` says which).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

COLUMNS = (
    "experiment", "job", "shape", "device", "parameters", "paper_parameters", "parameters_ok",
    "batch_size", "steps", "timed_steps", "seconds_per_step", "hours",
    "nfe_forward_init", "nfe_backward_init", "nfe_forward_trained", "nfe_backward_trained",
    "seconds_per_step_trained", "hours_trained", "peak_memory_bytes", "saved_tensor_bytes",
    "note",
)
TOTAL_COLUMNS = ("experiment", "jobs", "distinct_shapes", "hours", "hours_trained",
                 "peak_memory_bytes_max", "parameter_mismatches")


def hours(seconds_per_step: float, steps: int) -> float:
    """Wall hours of *steps* steps at *seconds_per_step* each."""
    if seconds_per_step < 0 or steps < 0:
        raise ValueError(f"seconds per step ({seconds_per_step}) and steps ({steps}) must be "
                         "non-negative")
    return seconds_per_step * steps / 3600.0


def trained_seconds(seconds_per_step: float, *, nfe_init: tuple[float, float],
                    nfe_trained: tuple[float, float] | None) -> float | None:
    """Seconds per step scaled by (NFE-F + NFE-B) trained / (NFE-F + NFE-B) at initialisation.

    The cost of an adaptive solver's step is taken to be proportional to its function
    evaluations (forward and adjoint backward counted alike). None when no trained NFE is known
    or the model has no solver.
    """
    if nfe_trained is None:
        return None
    init = sum(nfe_init)
    if init <= 0:
        raise ValueError("a trained NFE is given for a step that made no function evaluations")
    return seconds_per_step * sum(nfe_trained) / init


def make_row(*, experiment: str, job: str, shape: str, device: str, parameters: int | None,
             paper_parameters: str, parameters_ok: bool | None, batch_size: int | None,
             steps: int, timed_steps: int, seconds_per_step: float,
             nfe_init: tuple[float, float], nfe_trained: tuple[float, float] | None,
             peak_memory_bytes: int | None, saved_tensor_bytes: int | None, note: str) -> dict:
    """One table row, with the hours columns computed from the others."""
    trained = trained_seconds(seconds_per_step, nfe_init=nfe_init, nfe_trained=nfe_trained)
    base_hours = hours(seconds_per_step, steps)
    return {
        "experiment": experiment, "job": job, "shape": shape, "device": device,
        "parameters": parameters, "paper_parameters": paper_parameters,
        "parameters_ok": "" if parameters_ok is None else parameters_ok,
        "batch_size": batch_size, "steps": steps, "timed_steps": timed_steps,
        "seconds_per_step": seconds_per_step, "hours": base_hours,
        "nfe_forward_init": nfe_init[0], "nfe_backward_init": nfe_init[1],
        "nfe_forward_trained": None if nfe_trained is None else nfe_trained[0],
        "nfe_backward_trained": None if nfe_trained is None else nfe_trained[1],
        "seconds_per_step_trained": trained,
        "hours_trained": base_hours if trained is None else hours(trained, steps),
        "peak_memory_bytes": peak_memory_bytes, "saved_tensor_bytes": saved_tensor_bytes,
        "note": note,
    }


def totals(rows: Sequence[dict]) -> list[dict]:
    """One row per experiment, in order of first appearance, then ``all`` (the whole workflow)."""
    experiments = list(dict.fromkeys(row["experiment"] for row in rows))
    groups = [(name, [row for row in rows if row["experiment"] == name]) for name in experiments]
    groups.append(("all", list(rows)))
    out = []
    for name, members in groups:
        memory = [row["peak_memory_bytes"] for row in members if row["peak_memory_bytes"]]
        out.append({
            "experiment": name,
            "jobs": len(members),
            "distinct_shapes": len({(row["experiment"], row["shape"]) for row in members}),
            "hours": sum(row["hours"] for row in members),
            "hours_trained": sum(row["hours_trained"] for row in members),
            "peak_memory_bytes_max": max(memory) if memory else None,
            "parameter_mismatches": sum(1 for row in members if row["parameters_ok"] is False),
        })
    return out


def to_csv(rows: Iterable[dict], columns: Sequence[str] = COLUMNS) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: "" if row.get(key) is None else row[key] for key in columns})
    return buffer.getvalue()


def _cell(value) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value).replace("|", "\\|")


def _mib(value) -> str:
    return "" if not value else f"{value / 2**20:,.0f}"


def _markdown(header: Sequence[str], lines: Iterable[Sequence[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
            *("| " + " | ".join(line) + " |" for line in lines)]


def totals_markdown(summary: Sequence[dict]) -> list[str]:
    return _markdown(
        ("experiment", "jobs", "distinct shapes", "hours (NFE at init)", "hours (trained NFE)",
         "max peak MiB / step", "parameter mismatches"),
        ([f"**{row['experiment']}**" if row["experiment"] == "all" else row["experiment"],
          _cell(row["jobs"]), _cell(row["distinct_shapes"]), f"{row['hours']:,.1f}",
          f"{row['hours_trained']:,.1f}", _mib(row["peak_memory_bytes_max"]),
          _cell(row["parameter_mismatches"])] for row in summary))


def to_markdown(rows: Sequence[dict], *, scale: str, device: str,
                preamble: Sequence[str] = ()) -> str:
    """The totals, then every job; memory in MiB."""
    lines = [f"# Cost of the `{scale}` scale, estimated on {device}", "", *preamble, "",
             "## Totals", "", *totals_markdown(totals(rows)), "", "## Jobs", ""]
    lines += _markdown(
        ("experiment", "job", "parameters", "paper", "ok", "steps", "s/step", "hours",
         "NFE-F/B init", "NFE-F/B trained", "s/step trained", "hours trained", "peak MiB",
         "saved MiB", "note"),
        ([row["experiment"], row["job"], _cell(row["parameters"]), _cell(row["paper_parameters"]),
          _cell(row["parameters_ok"]), _cell(row["steps"]), _cell(row["seconds_per_step"]),
          _cell(row["hours"]),
          f"{row['nfe_forward_init']:.0f}/{row['nfe_backward_init']:.0f}",
          "" if row["nfe_forward_trained"] is None
          else f"{row['nfe_forward_trained']:.0f}/{row['nfe_backward_trained']:.0f}",
          _cell(row["seconds_per_step_trained"]), _cell(row["hours_trained"]),
          _mib(row["peak_memory_bytes"]), _mib(row["saved_tensor_bytes"]), _cell(row["note"])]
         for row in rows))
    return "\n".join(lines) + "\n"
