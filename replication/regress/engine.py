"""The comparison engine of the accuracy gate: tidy baselines, tidy comparison, drifts.

Baselines are CSV files under ``results/baselines/<scale>/``, one per gated table, one row per
value: ``table, source, row, metric, baseline, kind, tolerance, reason``. ``row`` identifies the
result row by its key columns (``model=odenet``; ``variant=adjoint, depth=4``).

:func:`compare` produces one tidy row per (table, row, metric) with the baseline, the new value,
the tolerance and a verdict. Every baselined value must be found again: a missing table, row or
metric is a failure, never skipped. Rows in the results that have no baseline are reported as
``new row`` (not a failure); a gated table that has results but no baselines at all fails with
the command that creates them.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from replication.measure.provenance import git_state
from replication.regress.spec import GATES, TOLERANCE_KINDS, Table

BASELINE_COLUMNS = ["table", "source", "row", "metric", "baseline", "kind", "tolerance", "reason"]
COMPARISON_COLUMNS = ["table", "row", "metric", "baseline", "new", "kind", "tolerance",
                      "allowed", "deviation", "verdict", "reason", "source"]
FAILING = ("drift", "missing table", "missing row", "missing metric", "no baselines",
           "duplicate row")
PROVENANCE_FILE = "provenance.json"
UPDATE_COMMAND = "python -m replication baselines update"
SINGLE_ROW = "(single row)"


class BaselineError(ValueError):
    """Results or baselines that cannot be compared (bad file, missing column, duplicate key)."""


# -- row keys and value formatting ----------------------------------------------------------------

def _key_value(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def row_keys(frame: pd.DataFrame, keys: tuple[str, ...]) -> pd.Series:
    """The ``row`` identifier of every result row: ``k1=v1, k2=v2``."""
    if not keys:
        return pd.Series([SINGLE_ROW] * len(frame), index=frame.index, dtype=object)
    return frame[list(keys)].apply(
        lambda r: ", ".join(f"{k}={_key_value(r[k])}" for k in keys), axis=1).astype(object)


def format_value(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "missing"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.6g}"


def tolerance_text(kind: str, tolerance: float) -> str:
    if kind == "exact":
        return "exact"
    if kind == "absolute":
        return f"±{tolerance:g} absolute"
    return f"±{tolerance * 100:.3g} % relative"


def allowed_deviation(kind: str, tolerance: float, baseline: float) -> float:
    if kind == "exact":
        return 0.0
    if kind == "absolute":
        return tolerance
    if kind == "relative":
        return tolerance * abs(baseline)
    raise BaselineError(f"unknown tolerance kind {kind!r}; known: {TOLERANCE_KINDS}")


def within(kind: str, tolerance: float, baseline: float, new: float) -> bool:
    """Whether *new* is within the tolerance of *baseline* (NaN matches only NaN)."""
    if math.isnan(baseline) or math.isnan(new):
        return math.isnan(baseline) and math.isnan(new)
    # A hair of float slack so that e.g. 0.1 + 0.2 vs 0.3 is not a drift of a tolerance.
    slack = 1e-12 * max(1.0, abs(baseline))
    return abs(new - baseline) <= allowed_deviation(kind, tolerance, baseline) + slack


# -- reading results ----------------------------------------------------------------------------

def read_results(table: Table, results_root: Path, scale: str) -> pd.DataFrame | None:
    """The table's result CSV with a ``row`` column, or None when the file does not exist."""
    path = Path(results_root) / table.result_path(scale)
    if not path.is_file():
        return None
    frame = pd.read_csv(path)
    needed = [*table.keys, *table.metric_names]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise BaselineError(
            f"{table.name}: {path} has no column(s) {absent} named in the gate spec "
            f"(its columns: {list(frame.columns)}); fix the spec entry or the table")
    for column in table.metric_names:
        numeric = pd.to_numeric(frame[column], errors="coerce")
        bad = frame[column].notna() & numeric.isna()
        if bad.any():
            raise BaselineError(f"{table.name}: {path} column {column} is not numeric "
                                f"(e.g. {frame.loc[bad, column].iloc[0]!r})")
        frame[column] = numeric.astype(float)
    frame = frame.assign(row=row_keys(frame, table.keys))
    if not table.keys and len(frame) != 1:
        raise BaselineError(f"{table.name}: {path} should have exactly one row, has {len(frame)}")
    return frame


def tidy_values(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """One row per (row, metric) of a result table: ``row, metric, new``."""
    long = frame.melt(id_vars=["row"], value_vars=list(table.metric_names),
                      var_name="metric", value_name="new")
    return long[["row", "metric", "new"]]


# -- writing baselines ---------------------------------------------------------------------------

def baseline_rows(table: Table, frame: pd.DataFrame, scale: str) -> pd.DataFrame:
    duplicated = frame["row"][frame["row"].duplicated()]
    if not duplicated.empty:
        raise BaselineError(f"{table.name}: rows {sorted(set(duplicated))} appear more than "
                            f"once; the key columns {list(table.keys)} must identify a row")
    values = tidy_values(table, frame).rename(columns={"new": "baseline"})
    metrics = {m.column: m for m in table.metrics}
    values["kind"] = values["metric"].map(lambda c: metrics[c].kind)
    values["tolerance"] = values["metric"].map(lambda c: metrics[c].tolerance)
    values["reason"] = values["metric"].map(lambda c: metrics[c].reason)
    values.insert(0, "source", table.result_path(scale))
    values.insert(0, "table", table.name)
    return values[BASELINE_COLUMNS]


def _results_provenance(results_root: Path, scale: str) -> dict:
    """Software and hardware of the results (from a classifier run's provenance.json)."""
    classify = Path(results_root) / "results" / scale / "classify"
    runs = sorted(classify.glob("*/seed*/provenance.json"))
    if not runs:
        return {}
    record = json.loads(runs[0].read_text())
    keep = ("git_sha", "git_dirty", "cpu_model", "cpu_count", "torch_threads", "torch_build",
            "cpu_capability", "onednn_max_cpu_isa", "aten_cpu_capability", "platform", "packages",
            "finished")
    return {k: record.get(k) for k in keep}


def update(results_root: Path = Path("."), baselines_dir: Path | None = None, *,
           scale: str = "smoke", gates: tuple[Table, ...] = GATES) -> list[Path]:
    """(Re)write the baselines of every gated table from the results under *results_root*.

    A table that has committed baselines must have results (run the whole workflow first: a
    partial results folder never drops baselines); a table with neither is not produced at
    this scale and is left out. Returns the written files.
    """
    results_root = Path(results_root)
    baselines_dir = Path(baselines_dir or results_root / "results" / "baselines" / scale)
    frames, absent = {}, []
    for table in gates:
        frame = read_results(table, results_root, scale)
        if frame is None:
            if (baselines_dir / f"{table.name}.csv").is_file():
                raise BaselineError(
                    f"{table.name}: baselines exist ({baselines_dir / f'{table.name}.csv'}) but "
                    f"{results_root / table.result_path(scale)} does not; run the whole {scale} "
                    f"workflow before updating baselines")
            absent.append(table.name)
            continue
        frames[table.name] = baseline_rows(table, frame, scale)
    if not frames:
        raise BaselineError(f"no gated results under {results_root} at scale {scale}")
    baselines_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, rows in frames.items():
        path = baselines_dir / f"{name}.csv"
        rows.to_csv(path, index=False)
        written.append(path)
    provenance = {
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "scale": scale,
        "command": UPDATE_COMMAND,
        "tables": sorted(frames),
        "not_produced_at_this_scale": absent,
        "results": _results_provenance(results_root, scale),
        "repository": git_state(),  # the checkout that wrote these baselines
    }
    path = baselines_dir / PROVENANCE_FILE
    path.write_text(json.dumps(provenance, indent=2, sort_keys=True) + "\n")
    written.append(path)
    return written


def read_baselines(baselines_dir: Path) -> pd.DataFrame:
    if not Path(baselines_dir).is_dir():
        raise BaselineError(f"no baselines folder {baselines_dir}; create it after a complete run "
                            f"with `{UPDATE_COMMAND}`")
    files = sorted(Path(baselines_dir).glob("*.csv"))
    if not files:
        return pd.DataFrame(columns=BASELINE_COLUMNS)
    frames = []
    for path in files:
        frame = pd.read_csv(path, dtype={"row": str, "table": str, "metric": str, "kind": str},
                            keep_default_na=False, na_values={"baseline": ["", "NaN", "nan"]})
        absent = [c for c in BASELINE_COLUMNS if c not in frame.columns]
        if absent:
            raise BaselineError(f"{path}: not a baselines file (no column(s) {absent})")
        bad = sorted(set(frame["kind"]) - set(TOLERANCE_KINDS))
        if bad:
            raise BaselineError(f"{path}: unknown tolerance kind(s) {bad}")
        frames.append(frame[BASELINE_COLUMNS])
    baselines = pd.concat(frames, ignore_index=True)
    baselines["baseline"] = baselines["baseline"].astype(float)
    baselines["tolerance"] = baselines["tolerance"].astype(float)
    return baselines


# -- comparing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Drift:
    """One failing comparison, with a message naming table, row, metric, values and tolerance."""

    table: str
    row: str
    metric: str
    verdict: str
    message: str


@dataclass
class Report:
    """The tidy comparison (``frame``), its failures (``drifts``) and what else to know."""

    frame: pd.DataFrame
    drifts: list[Drift] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.drifts

    def summary(self) -> str:
        counts = self.frame["verdict"].value_counts()
        checked = int(counts.get("ok", 0) + counts.get("drift", 0))
        return (f"{checked} baselined values compared in {self.frame['table'].nunique()} tables: "
                f"{len(self.drifts)} failure(s), {int(counts.get('new row', 0))} new value(s)")


def _message(r) -> str:
    where = f"{r.table} [{r.row}] {r.metric}"
    if r.verdict == "drift":
        return (f"{where}: new {format_value(r.new)}, baseline {format_value(r.baseline)}, "
                f"tolerance {tolerance_text(r.kind, r.tolerance)} (|Δ| = "
                f"{format_value(r.deviation)} > allowed {format_value(r.allowed)}) — {r.reason}")
    if r.verdict == "missing row":
        return (f"{where}: missing row — baseline {format_value(r.baseline)}, tolerance "
                f"{tolerance_text(r.kind, r.tolerance)}, but {r.source} has no row {r.row}")
    if r.verdict == "missing metric":
        return (f"{where}: missing metric — baseline {format_value(r.baseline)}, tolerance "
                f"{tolerance_text(r.kind, r.tolerance)}, but {r.source} has no column {r.metric}")
    if r.verdict == "missing table":
        return (f"{where}: missing table — baseline {format_value(r.baseline)}, tolerance "
                f"{tolerance_text(r.kind, r.tolerance)}, but {r.source} does not exist")
    if r.verdict == "no baselines":
        what = r.table if r.metric == "*" else f"{r.table} {r.metric}"
        return (f"{what}: gated (results in {r.source}) but not in the baselines; create them "
                f"with `{UPDATE_COMMAND}`")
    if r.verdict == "duplicate row":
        return f"{where}: row {r.row} appears more than once in {r.source}"
    if r.verdict == "new row":
        return (f"{where}: new value {format_value(r.new)} (no baseline; `{UPDATE_COMMAND}` "
                f"adds it)")
    return f"{where}: ok"


def _compare_table(name: str, baselines: pd.DataFrame, table: Table | None, results_root: Path,
                   scale: str) -> pd.DataFrame:
    """The tidy comparison rows of one table that has baselines."""
    source = table.result_path(scale) if table is not None else baselines["source"].iloc[0]
    path = Path(results_root) / source
    rows = baselines.assign(source=source)
    rows["new"] = math.nan
    if not path.is_file():
        rows["verdict"] = "missing table"
        return rows
    frame = pd.read_csv(path)
    keys = table.keys if table is not None else None
    if keys is None:  # a table no longer in the spec: recover its keys from the row strings
        first = str(rows["row"].iloc[0])
        keys = () if first == SINGLE_ROW else tuple(p.split("=", 1)[0] for p in first.split(", "))
    absent_keys = [k for k in keys if k not in frame.columns]
    if absent_keys:
        raise BaselineError(f"{name}: {path} has no key column(s) {absent_keys}")
    frame = frame.assign(row=row_keys(frame, keys))
    duplicates = set(frame["row"][frame["row"].duplicated()])
    present_metrics = [m for m in rows["metric"].unique() if m in frame.columns]
    for metric in present_metrics:
        frame[metric] = pd.to_numeric(frame[metric], errors="coerce").astype(float)
    new = (frame.drop_duplicates("row").melt(id_vars=["row"], value_vars=present_metrics,
                                             var_name="metric", value_name="found")
           if present_metrics else pd.DataFrame(columns=["row", "metric", "found"]))
    rows = rows.merge(new, on=["row", "metric"], how="left")
    rows["new"] = rows["found"].astype(float)
    rows = rows.drop(columns="found")
    has_row = rows["row"].isin(set(frame["row"]))
    has_metric = rows["metric"].isin(set(frame.columns))
    rows["verdict"] = [
        "duplicate row" if row in duplicates else
        "missing row" if not row_ok else
        "missing metric" if not metric_ok else
        ("ok" if within(kind, tol, base, value) else "drift")
        for row, row_ok, metric_ok, kind, tol, base, value in zip(
            rows["row"], has_row, has_metric, rows["kind"], rows["tolerance"], rows["baseline"],
            rows["new"])
    ]
    # rows of the results that were never baselined: reported, not failed
    extra = frame[~frame["row"].isin(set(baselines["row"]))]
    if not extra.empty and present_metrics:
        terms = baselines.drop_duplicates("metric").set_index("metric")
        added = extra.melt(id_vars=["row"], value_vars=present_metrics, var_name="metric",
                           value_name="new")
        added = added.assign(table=name, source=source, baseline=math.nan, verdict="new row",
                             kind=added["metric"].map(terms["kind"]),
                             tolerance=added["metric"].map(terms["tolerance"]),
                             reason=added["metric"].map(terms["reason"]))
        rows = pd.concat([rows, added[rows.columns]], ignore_index=True)
    # metrics the spec gates but the baselines do not hold yet: the baselines are out of date
    if table is not None:
        for metric in table.metrics:
            if metric.column not in set(baselines["metric"]):
                rows.loc[len(rows)] = {
                    "table": name, "source": source, "row": "*", "metric": metric.column,
                    "baseline": math.nan, "kind": metric.kind, "tolerance": metric.tolerance,
                    "reason": metric.reason, "new": math.nan, "verdict": "no baselines"}
    return rows


def compare(results_root: Path = Path("."), baselines_dir: Path | None = None, *,
            scale: str = "smoke", gates: tuple[Table, ...] = GATES) -> pd.DataFrame:
    """One tidy row per (table, row, metric): baseline, new value, tolerance, verdict."""
    results_root = Path(results_root)
    baselines_dir = Path(baselines_dir or results_root / "results" / "baselines" / scale)
    baselines = read_baselines(baselines_dir)
    spec = {t.name: t for t in gates}
    parts = []
    for name, group in baselines.groupby("table", sort=False):
        parts.append(_compare_table(name, group.reset_index(drop=True), spec.get(name),
                                    results_root, scale))
    baselined = set(baselines["table"])
    for table in gates:
        if table.name in baselined:
            continue
        frame = read_results(table, results_root, scale)
        if frame is not None:  # gated, produced, never baselined: fail with the fix
            parts.append(pd.DataFrame([{
                "table": table.name, "source": table.result_path(scale), "row": "*",
                "metric": "*", "baseline": math.nan, "kind": "exact", "tolerance": 0.0,
                "reason": table.description, "new": math.nan, "verdict": "no baselines"}]))
    if not parts:
        raise BaselineError(f"nothing to compare: no baselines in {baselines_dir} and no gated "
                            f"results under {results_root} at scale {scale}")
    frame = pd.concat(parts, ignore_index=True)
    deviation = (frame["new"] - frame["baseline"]).abs()
    frame["deviation"] = deviation
    frame["allowed"] = [
        allowed_deviation(k, t, b) if not math.isnan(b) else math.nan
        for k, t, b in zip(frame["kind"], frame["tolerance"], frame["baseline"])]
    return frame[COMPARISON_COLUMNS]


def _shown(value) -> str:
    return "unset" if value is None else str(value)


def _environment_note(results_root: Path, baselines_dir: Path, scale: str) -> list[str]:
    path = baselines_dir / PROVENANCE_FILE
    if not path.is_file():
        return []
    recorded = json.loads(path.read_text()).get("results", {})
    current = _results_provenance(results_root, scale)
    notes = []
    for key, label in (("cpu_model", "CPU"), ("cpu_capability", "torch CPU capability"),
                       ("onednn_max_cpu_isa", "ONEDNN_MAX_CPU_ISA"),
                       ("aten_cpu_capability", "ATEN_CPU_CAPABILITY"), ("torch_build", "torch"),
                       ("torch_threads", "torch threads")):
        if key in recorded and key in current and recorded[key] != current[key]:
            notes.append(f"note: baselines were made with {label} {_shown(recorded[key])}, these "
                         f"results with {_shown(current[key])}: drifts may come from that (see "
                         f"README, 'Regression gates')")
    return notes


def check(results_root: Path = Path("."), baselines_dir: Path | None = None, *,
          scale: str = "smoke", gates: tuple[Table, ...] = GATES) -> Report:
    """Compare fresh results with the baselines; ``report.drifts`` lists every failure."""
    results_root = Path(results_root)
    baselines_dir = Path(baselines_dir or results_root / "results" / "baselines" / scale)
    frame = compare(results_root, baselines_dir, scale=scale, gates=gates)
    frame["message"] = [_message(r) for r in frame.itertuples(index=False)]
    failing = frame[frame["verdict"].isin(FAILING) & (frame["verdict"] != "missing table")]
    drifts = [Drift(r.table, r.row, r.metric, r.verdict, r.message)
              for r in failing.itertuples(index=False)]
    for name, group in frame[frame["verdict"] == "missing table"].groupby("table", sort=False):
        drifts.append(Drift(name, "*", "*", "missing table", (
            f"{name}: missing table — {group['source'].iloc[0]} does not exist; its {len(group)} "
            f"baselined values ({group['row'].nunique()} rows × {group['metric'].nunique()} "
            f"metrics: {', '.join(group['metric'].unique())}) cannot be checked")))
    notes = [f"note: {m}" for m in frame.loc[frame["verdict"] == "new row", "message"]]
    notes += _environment_note(results_root, baselines_dir, scale)
    return Report(frame=frame, drifts=drifts, notes=notes)


def perturb(results_root: Path, table: Table, metric: str, *, scale: str = "smoke",
            add: float = 0.0, factor: float = 1.0, row: str | None = None) -> None:
    """Change one metric of a result table in place (``value * factor + add``), for gate tests."""
    path = Path(results_root) / table.result_path(scale)
    frame = pd.read_csv(path)
    target = row_keys(frame, table.keys) == row if row is not None else slice(None)
    frame[metric] = frame[metric].astype(float)
    frame.loc[target, metric] = frame.loc[target, metric] * factor + add
    frame.to_csv(path, index=False)
