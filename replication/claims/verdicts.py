"""Claim-by-claim verdicts: load the claims registry, judge every claim on one scale's results.

- :func:`load_claims` reads ``claims.yaml`` and validates it against ``schema.yaml`` plus the
  rules a schema cannot state (unique ids, known measure/check names and arguments). Every
  problem is reported as ``claim '<id>', key '<key>': <what is wrong>; accepted: <what is>``.
- :func:`evaluate_claims` judges each claim on ``results/<scale>`` and ``figures/<scale>`` and
  returns one tidy row per claim; :func:`write_claims_csv` writes ``claims.csv``.

Verdicts (:data:`VERDICTS`), one per claim; a claim can pass only on evidence that could have
failed it:

- **reproduced** — the comparison holds at a scale listed in the claim's ``meaningful_at``, on
  results made by the current code;
- **consistent, inconclusive at this scale** — it holds, but at a scale the claim cannot be
  judged at (e.g. 2 of 160 epochs): counted apart from "reproduced";
- **not reproduced** — it fails at a scale listed in ``meaningful_at``;
- **inconclusive** — it fails at another scale, or the results decide neither way (a check
  returned None, e.g. its precondition failed: no training happened), or the evidence is stale
  (a result under the claim's inputs was made by older code, :mod:`replication.staleness`:
  such evidence never makes a claim "reproduced");
- **documented fact** — a textual claim that its cited source confirms: two constants typed in
  the registry, not a reproduction;
- **not run** — an input is missing (the reason names it): claims whose experiment is not built
  yet are "not run", never passed.

A claim registered with ``same_as: <id>`` repeats another claim's measurement: it is judged and
shown, but :func:`verdict_counts` counts it once (under the claim it repeats).

Comparison kinds: ``le`` / ``ge`` (measured ≤ / ≥ claimed, within an optional tolerance),
``approx`` (|measured − claimed| ≤ tolerance: ``abs``, ``rel`` × |claimed|, widened to ``k_std`` ×
the combined std of ours and the claim's), ``ratio_approx`` (a measured ratio near ``target``),
``slope_zero`` (a fitted slope within ``rel`` × a reference variant's slope, or ``abs``),
``monotonic`` (the correlation of a series with its x in ``direction`` ≥ ``min_correlation``, and
optionally a relative change ≥ ``min_rel_change`` from the first to the last point),
``qualitative`` (a named function of :mod:`replication.claims.checks` decides) and ``textual``.

**Textual claims** check a document against the document it cites, so they need no run: the
claimed value (what the article prints) is compared with ``reference.value`` (what the cited
paper prints). "reproduced" means the source says the same; "not reproduced" means the source
itself contradicts the claim (e.g. the article's ODE-Net error 1.40 % vs the paper's 0.42 %); when
the source confirms it, the verdict is "documented fact", never "reproduced". The verdict is the
same at every scale, and the measured column shows the reference and its source.
"""

from __future__ import annotations

import inspect
import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import yaml

from replication.claims import sources as S
from replication.claims.checks import CHECK_ARG_CHOICES, CHECKS, CheckResult
from replication.staleness import STALE_NOTE
from replication.claims.measures import (
    ARG_CHOICES,
    MEASURES,
    Context,
    MalformedInput,
    Measurement,
    NotRun,
    _fmt,
)


PACKAGE_DIR = Path(__file__).resolve().parent
CLAIMS_FILE = PACKAGE_DIR / "claims.yaml"
SCHEMA_FILE = PACKAGE_DIR / "schema.yaml"

REPRODUCED = "reproduced"
CONSISTENT = "consistent, inconclusive at this scale"
NOT_REPRODUCED = "not reproduced"
INCONCLUSIVE = "inconclusive"
DOCUMENTED = "documented fact"
NOT_RUN = "not run"
VERDICTS = (REPRODUCED, CONSISTENT, NOT_REPRODUCED, INCONCLUSIVE, DOCUMENTED, NOT_RUN)

GROUPS = {
    "node-table1": "Neural ODE · Table 1",
    "node-text": "Neural ODE · §3 text",
    "node-figure3": "Neural ODE · Figure 3",
    "node-memory": "Neural ODE · memory and time vs depth",
    "node-table2": "Neural ODE · Table 2 (latent ODE vs RNN on spirals)",
    "ffjord-vae": "FFJORD · VAE table",
    "ffjord-nfe": "FFJORD · NFE",
    "ffjord-method": "FFJORD · trace estimator and normalized densities",
    "article": "Article (A1–A6)",
}
DOCUMENTS = {
    "NODE": "Chen et al. 2018",
    "FFJORD": "Grathwohl et al. 2019",
    "ARTICLE": "the article",
}

COLUMNS = [
    "id",
    "group",
    "document",
    "location",
    "statement",
    "metric",
    "unit",
    "comparison",
    "claimed",
    "measured",
    "measured_mean",
    "measured_std",
    "n_seeds",
    "verdict",
    "reason",
    "scale",
    "meaningful_at",
    "inputs",
    "deviations",
    "stale_evidence",
    "same_as",
]


class ClaimsError(ValueError):
    """The claims registry is malformed; the message lists every problem, one per line."""


# --- loading and validation ----------------------------------------------------------------------


def load_claims(
    path: Path | str = CLAIMS_FILE, schema_path: Path | str = SCHEMA_FILE
) -> list[dict]:
    """The validated claims of a registry file (raises :class:`ClaimsError`)."""
    try:
        registry = yaml.safe_load(Path(path).read_text())
    except yaml.YAMLError as error:
        raise ClaimsError(f"{path}: not valid YAML: {error}") from None
    validate_registry(registry, schema_path, name=str(path))
    return registry["claims"]


def _schema(schema_path: Path | str = SCHEMA_FILE) -> dict:
    return yaml.safe_load(Path(schema_path).read_text())


def _claim_label(registry, index: int) -> str:
    try:
        claim_id = registry["claims"][index].get("id")
    except (AttributeError, IndexError, KeyError, TypeError):
        claim_id = None
    return (
        f"claim {claim_id!r}" if isinstance(claim_id, str) else f"claim #{index + 1} (no valid id)"
    )


def _accepted(error) -> str:
    """What the failing key accepts, in words, from the schema's descriptions."""
    schema = error.schema if isinstance(error.schema, dict) else {}
    path = [p for p in list(error.absolute_path)[2:] if not isinstance(p, int)]
    if error.validator == "required":
        owner = path[-1] if path else ""
        found = _SCHEMA_INDEX.get((owner, _quoted(error.message)))
        return found or "see replication/claims/schema.yaml"
    if error.validator == "additionalProperties":
        return "keys " + ", ".join(sorted(schema.get("properties", {})))
    if error.validator == "enum":
        return "one of " + ", ".join(map(str, error.validator_value))
    if "description" in schema:
        return schema["description"]
    owner, key = (path[-2] if len(path) > 1 else ""), (path[-1] if path else "")
    return _SCHEMA_INDEX.get((owner, key), "see replication/claims/schema.yaml")


# (owning key, key) -> description, over the whole schema; the claim itself owns ''.
_SCHEMA_INDEX: dict[tuple[str, str], str] = {}


def _index_schema(schema: dict) -> None:
    defs = schema.get("$defs", {})

    def describe(node: dict) -> str | None:
        if "description" in node:
            return node["description"]
        if "$ref" in node:
            return defs.get(node["$ref"].rsplit("/", 1)[-1], {}).get("description")
        return None

    def walk(node, owner: str) -> None:
        if not isinstance(node, dict):
            return
        for name, sub in node.get("properties", {}).items():
            found = describe(sub) if isinstance(sub, dict) else None
            if found:
                _SCHEMA_INDEX.setdefault((owner, name), found)
            walk(sub, name)
        for name, sub in node.get("$defs", {}).items():
            walk(sub, "" if name == "claim" else name)
        for key in ("items", "if", "then", "else", "not"):
            walk(node.get(key), owner)
        for key in ("allOf", "anyOf", "oneOf"):
            for sub in node.get(key, []):
                walk(sub, owner)

    _SCHEMA_INDEX.clear()
    walk(schema, "")


def _quoted(message: str) -> str:
    found = re.match(r"'([^']+)'", message)
    return found.group(1) if found else ""


def _key_of(error) -> str:
    path = [str(p) for p in list(error.absolute_path)[2:]]
    if error.validator == "required":
        path.append(_quoted(error.message))
    elif error.validator == "additionalProperties":
        unexpected = re.findall(r"'([^']+)'", error.message.split("(")[-1])
        path.append(",".join(unexpected) or "?")
    return ".".join(path) or "(the claim itself)"


def _flatten(errors):
    """Leaf errors: for anyOf/oneOf failures, the sub-errors say which key is wrong (except
    'one of these keys is required', which stays one error)."""
    for error in errors:
        alternatives_required = error.context and all(
            e.validator == "required" for e in error.context
        )
        if error.context and error.validator in ("anyOf", "oneOf") and not alternatives_required:
            yield from _flatten(error.context)
        else:
            yield error


def _forbidden_keys(error) -> list[str]:
    """The keys present in the instance that a failed ``not: {required/anyOf required}`` forbids."""
    forbidden = set(error.validator_value.get("required", []))
    for alternative in error.validator_value.get("anyOf", []):
        forbidden |= set(alternative.get("required", []))
    return sorted(k for k in forbidden if isinstance(error.instance, dict) and k in error.instance)


def validate_registry(
    registry, schema_path: Path | str = SCHEMA_FILE, *, name: str = "claims"
) -> None:
    """Raise :class:`ClaimsError` listing every problem of *registry* (a parsed claims.yaml)."""
    import jsonschema

    schema = _schema(schema_path)
    _index_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    problems = []
    for error in sorted(
        _flatten(validator.iter_errors(registry)), key=lambda e: list(map(str, e.absolute_path))
    ):
        path = list(error.absolute_path)
        if len(path) >= 2 and path[0] == "claims" and isinstance(path[1], int):
            where = f"{_claim_label(registry, path[1])}, key {_key_of(error)!r}"
        else:
            where = f"registry key {'.'.join(map(str, path)) or '(top level)'!r}"
            if error.validator == "required":
                where = f"registry key {_quoted(error.message)!r}"
        message = error.message
        if error.validator == "not":
            keys = _forbidden_keys(error)
            message = (
                f"{', '.join(map(repr, keys))} not allowed here" if keys else "not allowed here"
            )
            if keys and where.endswith("'(the claim itself)'"):
                where = where.replace("(the claim itself)", ",".join(keys))
        elif error.validator in ("anyOf", "oneOf") and error.context:
            names = [_quoted(e.message) for e in error.context]
            message = f"needs at least one of {', '.join(map(repr, names))}"
        problems.append(f"{where}: {message}; accepted: {_accepted(error)}")
    if not problems:
        problems = _semantic_problems(registry["claims"])
    if problems:
        raise ClaimsError(
            f"{name}: {len(problems)} problem(s) in the claims registry:\n  "
            + "\n  ".join(dict.fromkeys(problems))
        )


def _semantic_problems(claims: list[dict]) -> list[str]:
    problems, seen = [], set()
    ids = {claim["id"] for claim in claims}
    for claim in claims:
        if "same_as" in claim and (claim["same_as"] not in ids or claim["same_as"] == claim["id"]):
            problems.append(
                f"claim {claim['id']!r}, key 'same_as': {claim['same_as']!r} is not another "
                "claim's id; accepted: the id of the claim that makes the same measurement"
            )
        label = f"claim {claim['id']!r}"
        if claim["id"] in seen:
            problems.append(
                f"{label}, key 'id': duplicate id; accepted: an id used by no other claim"
            )
        seen.add(claim["id"])
        comparison = claim["comparison"]
        if "measure" in claim:
            problems += _call_problems(
                label,
                "measure.function",
                "measure.args",
                claim["measure"]["function"],
                claim["measure"].get("args", {}),
                MEASURES,
                ARG_CHOICES,
                "replication.claims.measures",
            )
        if comparison["kind"] == "qualitative":
            problems += _call_problems(
                label,
                "comparison.check",
                "comparison.args",
                comparison["check"],
                comparison.get("args", {}),
                CHECKS,
                CHECK_ARG_CHOICES,
                "replication.claims.checks",
            )
        elif "check" in comparison or "args" in comparison:
            problems.append(
                f"{label}, key 'comparison.check': only qualitative claims name a check; "
                "accepted: kind 'qualitative', or no check"
            )
        if comparison["kind"] in ("le", "ge", "approx") and not isinstance(
            claim["claimed"], (int, float)
        ):
            problems.append(
                f"{label}, key 'claimed': {claim['claimed']!r} is not a number; accepted: "
                f"a number for kind {comparison['kind']!r}"
            )
        if (
            comparison["kind"] == "slope_zero"
            and "rel" in comparison["tolerance"]
            and not (claim.get("measure", {}).get("args", {}).get("reference"))
        ):
            problems.append(
                f"{label}, key 'measure.args.reference': a relative slope tolerance needs "
                "a reference variant; accepted: measure memory_slope with reference"
            )
    return problems


def _call_problems(label, function_key, args_key, function_name, args, registry, choices, module):
    if function_name not in registry:
        return [
            f"{label}, key {function_key!r}: unknown function {function_name!r}; accepted: one of "
            f"{', '.join(sorted(registry))} (in {module})"
        ]
    if not isinstance(args, dict):
        return [f"{label}, key {args_key!r}: not a mapping; accepted: keyword arguments"]
    signature = inspect.signature(registry[function_name])
    try:
        signature.bind(None, **args)
    except TypeError as error:
        accepted = [p for p in list(signature.parameters)[1:]]
        return [f"{label}, key {args_key!r}: {error}; accepted: {', '.join(accepted)}"]
    problems = []
    for arg, allowed in choices.get(function_name, {}).items():
        if arg in args and args[arg] not in allowed:
            problems.append(
                f"{label}, key '{args_key}.{arg}': {args[arg]!r} is not accepted; "
                f"accepted: one of {', '.join(allowed)}"
            )
    return problems


# --- comparisons ---------------------------------------------------------------------------------


@dataclass
class Outcome:
    passed: bool | None
    measured: str
    reason: str
    mean: float | None = None
    std: float | None = None
    n: int | None = None


def _unit(claim: dict) -> str:
    unit = claim["metric"].get("unit", "")
    return f" {unit}" if unit else ""


def _num(claim: dict, value) -> str:
    """A value as the claim's metric shows it: its decimals, else 3 significant digits."""
    decimals = claim["metric"].get("decimals")
    if isinstance(value, str) or decimals is None or value is None:
        return value if isinstance(value, str) else _fmt(value)
    return f"{value:,.{decimals}f}"


def _show(claim: dict, value, std=None) -> str:
    if isinstance(value, str):
        return value
    text = _num(claim, value)
    if std is not None:
        text += f" ± {_num(claim, std)}"
    return f"{text}{_unit(claim)}"


def claimed_text(claim: dict) -> str:
    return _show(claim, claim["claimed"], claim.get("claimed_std"))


def measured_text(claim: dict, m: Measurement) -> str:
    if m.text is not None:
        return m.text
    text = _show(claim, m.value, m.std)
    return text + (f" (n={m.n})" if m.n else "")


def tolerance_of(claim: dict, m: Measurement | None = None, base: float | None = None) -> float:
    """The tolerance of a comparison: max(abs, rel × |base|, k_std × combined std)."""
    tolerance = claim["comparison"].get("tolerance", {})
    base = claim["claimed"] if base is None else base
    candidates = [tolerance.get("abs", 0.0)]
    if "rel" in tolerance and isinstance(base, (int, float)):
        candidates.append(tolerance["rel"] * abs(base))
    if tolerance.get("k_std") and m is not None:
        stds = [s for s in (m.std, claim.get("claimed_std")) if s is not None]
        if stds:
            candidates.append(tolerance["k_std"] * math.sqrt(sum(s * s for s in stds)))
    return max(candidates)


def comparison_text(claim: dict) -> str:
    """The comparison in a few symbols, for the table."""
    comparison = claim["comparison"]
    kind = comparison["kind"]
    tolerance = comparison.get("tolerance", {})
    parts = []
    if "abs" in tolerance:
        parts.append(f"±{tolerance['abs']:g}{_unit(claim)}")
    if "rel" in tolerance:
        parts.append(f"±{tolerance['rel']:.0%}")
    if tolerance.get("k_std"):
        parts.append(f"or {tolerance['k_std']:g}σ")
    tol = " ".join(parts)
    if kind == "le":
        return "≤" + (f" (tolerance {tol})" if tol else "")
    if kind == "ge":
        return "≥" + (f" (tolerance {tol})" if tol else "")
    if kind == "approx":
        return f"≈ ({tol})"
    if kind == "ratio_approx":
        return f"ratio ≈ {comparison['target']:g} ({tol})"
    if kind == "slope_zero":
        reference = claim.get("measure", {}).get("args", {}).get("reference")
        return (
            f"slope ≈ 0 (≤ {tolerance['rel']:.0%} of {reference}'s)"
            if "rel" in tolerance
            else f"slope ≈ 0 ({tol})"
        )
    if kind == "monotonic":
        statistic = comparison.get("statistic", "spearman")
        text = (
            f"{comparison['direction']} ({statistic} ≥ "
            f"{comparison.get('min_correlation', DEFAULT_MIN_CORRELATION):g}"
        )
        if "min_rel_change" in comparison:
            text += f", change ≥ {comparison['min_rel_change']:.0%}"
        return text + ")"
    if kind == "qualitative":
        return comparison["relation"]
    return f"= {comparison['reference']['source']} (textual)"


DEFAULT_MIN_CORRELATION = 0.9


def _numeric(claim: dict, m: Measurement) -> Outcome:
    kind = claim["comparison"]["kind"]
    claimed = claim["claimed"]
    value = m.value
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return Outcome(None, measured_text(claim, m), "no measured value", n=m.n)
    show = lambda v: _show(claim, v)  # noqa: E731
    if kind == "ratio_approx":
        target = claim["comparison"]["target"]
        tolerance = tolerance_of(claim, m, base=target)
        passed = abs(value - target) <= tolerance
        reason = f"ratio {value:.2f} vs {target:g} (tolerance ±{_fmt(tolerance)})"
    else:
        tolerance = tolerance_of(claim, m) if "tolerance" in claim["comparison"] else 0.0
        if kind == "approx":
            passed = abs(value - claimed) <= tolerance
            delta = " points" if claim["metric"].get("unit") == "%" else _unit(claim)
            reason = (
                f"{_fmt(value)}{_unit(claim)} is {value - claimed:+.3g}{delta} from "
                f"{show(claimed)} (tolerance ±{_fmt(tolerance)}{delta})"
            )
        elif kind == "le":
            passed = value <= claimed + tolerance
            bound = show(claimed) + (f" + {_fmt(tolerance)}" if tolerance else "")
            reason = f"{_fmt(value)}{_unit(claim)} {'≤' if passed else '>'} {bound}"
        else:  # ge
            passed = value >= claimed - tolerance
            bound = show(claimed) + (f" − {_fmt(tolerance)}" if tolerance else "")
            reason = f"{_fmt(value)}{_unit(claim)} {'≥' if passed else '<'} {bound}"
    return Outcome(passed, measured_text(claim, m), reason, m.value, m.std, m.n)


def _slope_zero(claim: dict, m: Measurement) -> Outcome:
    tolerance = claim["comparison"]["tolerance"]
    if "rel" in tolerance:
        if m.reference is None or m.reference <= 0:
            return Outcome(
                None,
                measured_text(claim, m),
                f"the reference slope ({m.reference_label}) is not positive, so the "
                "measurement cannot tell constant from growing memory",
                m.value,
            )
        fraction = abs(m.value) / m.reference
        passed = fraction <= tolerance["rel"]
        reason = (
            f"slope is {fraction:.1%} of {m.reference_label}'s (≤ {tolerance['rel']:.0%} "
            "counts as constant)"
        )
    else:
        passed = abs(m.value) <= tolerance["abs"]
        reason = f"|slope| {_fmt(abs(m.value))} {'≤' if passed else '>'} {tolerance['abs']:g}"
    return Outcome(passed, measured_text(claim, m), reason, m.value)


def _monotonic(claim: dict, m: Measurement) -> Outcome:
    from replication.claims.checks import correlation

    comparison = claim["comparison"]
    statistic = comparison.get("statistic", "spearman")
    needed = comparison.get("min_correlation", DEFAULT_MIN_CORRELATION)
    sign = 1 if comparison["direction"] == "increasing" else -1
    rho = correlation(m.x, m.y, statistic) * sign
    passed = rho >= needed
    reason = (
        f"{statistic.capitalize()} correlation {rho:+.2f} in the {comparison['direction']} "
        f"direction (needs ≥ {needed:g})"
    )
    if "min_rel_change" in comparison:
        first, last = m.y[0], m.y[-1]
        change = sign * (last - first) / abs(first) if first else float("inf")
        enough = change >= comparison["min_rel_change"]
        passed = passed and enough
        reason += f"; first→last {change:+.1%} (needs ≥ {comparison['min_rel_change']:.0%})"
    return Outcome(passed, measured_text(claim, m), reason, rho, n=m.n)


def _textual(claim: dict) -> Outcome:
    reference = claim["comparison"]["reference"]
    claimed, value = claim["claimed"], reference["value"]
    if isinstance(claimed, (int, float)) and isinstance(value, (int, float)):
        same = math.isclose(claimed, value, rel_tol=1e-9, abs_tol=1e-12)
    else:
        same = _normal(claimed) == _normal(value)
    measured = f"{_show(claim, value)} ({reference['source']})"
    reason = (
        f"the source says the same ({reference['source']})"
        if same
        else f"{_show(claim, claimed)} is not the source's {_show(claim, value)}"
        + (f": {reference['note']}" if reference.get("note") else "")
    )
    return Outcome(same, measured, reason)


def _normal(value) -> str:
    return re.sub(r"\s+", " ", str(value)).strip().lower()


# --- evaluation ----------------------------------------------------------------------------------


def evidence_folders(claim: dict) -> list[str]:
    """The result folders (relative to results/<scale>) whose runs a claim's inputs come from."""
    folders = []
    for template in claim.get("inputs", []):
        relative = template.split("}/", 1)[-1]
        folders += list(S.EVIDENCE_FOLDERS.get(relative, (relative,)))
    return list(dict.fromkeys(folders))


def _stale_evidence(claim: dict, ctx: Context) -> list[str]:
    from replication.staleness import stale_under

    folders = evidence_folders(claim)
    return stale_under(ctx.results, folders) if folders else []


def evaluate_claim(claim: dict, ctx: Context) -> dict:
    """One row of claims.csv for *claim* on the results of ``ctx.scale``."""
    kind = claim["comparison"]["kind"]
    row = {
        "id": claim["id"],
        "group": claim["group"],
        "document": claim["source"]["document"],
        "location": claim["source"]["location"],
        "statement": claim["statement"],
        "metric": claim["metric"]["name"],
        "unit": claim["metric"].get("unit", ""),
        "comparison": comparison_text(claim),
        "claimed": claimed_text(claim),
        "measured": "",
        "measured_mean": None,
        "measured_std": None,
        "n_seeds": None,
        "scale": ctx.scale,
        "meaningful_at": ", ".join(claim["meaningful_at"]),
        "inputs": "; ".join(claim.get("inputs", [])),
        "deviations": " | ".join(claim.get("deviations", [])),
        "stale_evidence": "",
        "same_as": claim.get("same_as", ""),
    }
    try:
        outcome = _outcome(claim, ctx)
    except NotRun as missing:
        experiment = claim.get("experiment")
        stale = _stale_evidence(claim, ctx) if kind != "textual" else []
        row.update(
            verdict=NOT_RUN,
            measured="–",
            reason=f"not run: {missing}" + (f" — from {experiment}" if experiment else "")
            + (f" ({STALE_NOTE}: {len(stale)} of its records)" if stale else ""),
            malformed=isinstance(missing, MalformedInput),
            stale_evidence="; ".join(stale),
        )
        return row
    row.update(
        measured=outcome.measured,
        measured_mean=outcome.mean,
        measured_std=outcome.std,
        n_seeds=outcome.n,
    )
    if kind == "textual":
        verdict = DOCUMENTED if outcome.passed else NOT_REPRODUCED
        row.update(verdict=verdict, reason=outcome.reason)
        return row
    stale = _stale_evidence(claim, ctx)
    meaningful = ctx.scale in claim["meaningful_at"]
    judged_at = ", ".join(claim["meaningful_at"])
    if stale:
        shown = ", ".join(stale[:3]) + (f" and {len(stale) - 3} more" if len(stale) > 3 else "")
        verdict = INCONCLUSIVE
        reason = (
            f"{STALE_NOTE} ({shown}): rerun it before this claim is judged; on the stale "
            f"results: {outcome.reason}"
        )
        row["stale_evidence"] = "; ".join(stale)
    elif outcome.passed is True and meaningful:
        verdict, reason = REPRODUCED, outcome.reason
    elif outcome.passed is True:
        verdict = CONSISTENT
        reason = f"{outcome.reason}; consistent, but at scale {ctx.scale} this does not decide " \
                 f"(judged at {judged_at})"
    elif outcome.passed is False and meaningful:
        verdict, reason = NOT_REPRODUCED, outcome.reason
    elif outcome.passed is False:
        verdict = INCONCLUSIVE
        reason = (
            f"{outcome.reason}; at scale {ctx.scale} this does not decide (judged at {judged_at})"
        )
    else:
        verdict, reason = INCONCLUSIVE, outcome.reason
    row.update(verdict=verdict, reason=reason)
    return row


def _outcome(claim: dict, ctx: Context) -> Outcome:
    kind = claim["comparison"]["kind"]
    if kind == "textual":
        return _textual(claim)
    for template in claim.get("inputs", []):
        path = ctx.resolve(template)
        if not path.exists():
            raise NotRun(f"{path} is missing")
    if kind == "qualitative":
        comparison = claim["comparison"]
        result: CheckResult = CHECKS[comparison["check"]](ctx, **comparison.get("args", {}))
        return Outcome(result.passed, result.measured, result.reason, result.value, n=result.n)
    measure = claim["measure"]
    m = MEASURES[measure["function"]](ctx, **measure.get("args", {}))
    if kind == "slope_zero":
        outcome = _slope_zero(claim, m)
    elif kind == "monotonic":
        outcome = _monotonic(claim, m)
    else:
        outcome = _numeric(claim, m)
    if m.detail:
        outcome.reason += f"; {m.detail}"
    return outcome


def evaluate_claims(
    claims: list[dict], *, results: Path | str, figures: Path | str, scale: str
) -> pd.DataFrame:
    """One row per claim (columns :data:`COLUMNS`, plus ``malformed`` for inputs that exist but do
    not match :mod:`replication.claims.sources`)."""
    ctx = Context(results=Path(results), figures=Path(figures), scale=scale)
    rows = [evaluate_claim(claim, ctx) for claim in claims]
    table = pd.DataFrame(rows)
    if "malformed" not in table:
        table["malformed"] = False
    table["malformed"] = table["malformed"].fillna(False).astype(bool)
    return table[COLUMNS + ["malformed"]]


def write_claims_csv(table: pd.DataFrame, path: Path | str) -> Path:
    from replication.results import write_text

    path = Path(path)
    write_text(path, table[COLUMNS].to_csv(index=False))
    return path


def verdict_counts(table: pd.DataFrame) -> dict[str, int]:
    """Claims per verdict, each measurement once: rows with ``same_as`` are not counted."""
    if "same_as" in table:
        table = table[table["same_as"].fillna("").astype(str) == ""]
    counts = table["verdict"].value_counts()
    return {verdict: int(counts.get(verdict, 0)) for verdict in VERDICTS}
