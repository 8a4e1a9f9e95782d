"""The suite's configuration: loading, validation against the JSON schema, and
resolution of the selected scale into one specification per training run.

Pure Python (no torch): the Snakefile imports it at parse time.
"""
from __future__ import annotations

import copy
from pathlib import Path

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIG_PATH = REPO_ROOT / "config" / "config.yaml"
SCHEMA_PATH = REPO_ROOT / "config" / "schema.yaml"


class ConfigError(ValueError):
    """The configuration does not match config/schema.yaml."""


def _key_path(path) -> str:
    return ".".join(str(part) for part in path) or "<top level>"


def validate_config(config: dict, *, schema_path: Path = SCHEMA_PATH) -> None:
    """Raise :class:`ConfigError` naming every offending key, or return silently."""
    import jsonschema

    schema = yaml.safe_load(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    problems = [(_key_path(e.absolute_path), e.message) for e in errors]
    problems = problems or _cross_key_problems(config)  # these assume the schema holds
    if problems:
        raise ConfigError(
            f"invalid configuration ({len(problems)} problem{'s' if len(problems) > 1 else ''}):\n"
            + "\n".join(f"  config key {key}: {message}" for key, message in problems)
            + f"\nSee {schema_path} for what each key accepts."
        )


def _cross_key_problems(config: dict) -> list[tuple[str, str]]:
    """What a JSON schema cannot say: keys whose valid values depend on other keys."""
    problems = []
    for scale, section in config["scales"].items():
        classify = section["classify"]
        if section["figure3"]["seed"] not in classify["seeds"]:
            problems.append((f"scales.{scale}.figure3.seed",
                             f"{section['figure3']['seed']} is not one of the trained seeds "
                             f"scales.{scale}.classify.seeds = {classify['seeds']}"))
        if "odenet" not in classify["models"]:
            problems.append((f"scales.{scale}.classify.models",
                             "Figure 3 analyses the trained 'odenet', which is missing"))
        frey = section["vae"]["datasets"].get("freyfaces")
        if frey is not None and "split_seeds" not in frey:
            problems.append((f"scales.{scale}.vae.datasets.freyfaces",
                             "Frey Faces is split by a seeded shuffle: give split_seeds "
                             "(the papers use [123, 321, 231])"))
    return problems


OVERLAY_ADVICE = (
    "`--config` sets top-level keys only (scale, data_dir, data_mirror, checkpoint_dir, "
    "exclude_datasets, ode_max_num_steps). To change a nested value, write just that branch in "
    "a YAML file, e.g. overlay.yaml:\n"
    "    scales:\n      smoke:\n        classify:\n          training:\n            lr: 0.05\n"
    "and run `snakemake --configfile overlay.yaml` (it is merged into config/config.yaml); "
    "see README, \"Fault guarantees\".")


def check_command_line_overrides(overrides) -> None:
    """Refuse nested ``--config`` values (``scales={...}``, ``a.b=c``): point to an overlay file.

    Snakemake parses ``--config scales={smoke: {...}}`` into strings and merges it into the
    config; the result is a type error far from what the user meant. *overrides* is
    Snakemake's ``workflow.config_settings.config``.
    """
    nested = sorted(str(key) for key, value in dict(overrides or {}).items()
                    if isinstance(value, dict) or "." in str(key))
    if nested:
        raise ConfigError(f"nested --config override of {', '.join(nested)}: {OVERLAY_ADVICE}")


def load_config(path: str | Path = CONFIG_PATH, *, overrides: dict | None = None) -> dict:
    """Read a config file, apply top-level *overrides* (like ``--config k=v``), validate.

    A missing, empty or non-mapping file raises :class:`ConfigError` saying so.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; pass an existing file with --config "
                          f"(the suite's is {CONFIG_PATH})")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if not isinstance(config, dict):
        what = "empty" if config is None else f"a {type(config).__name__}, not a mapping of keys"
        raise ConfigError(f"config file {path} is {what}; it must hold the suite's configuration "
                          f"(see {CONFIG_PATH} and {SCHEMA_PATH})")
    config.update(overrides or {})
    validate_config(config)
    return config


def classify_runs(config: dict) -> list[dict]:
    """One resolved specification per (model, seed) of the selected scale.

    A specification holds everything that determines a run's numbers, and nothing
    else (no paths): its hash names the run's checkpoints and sits in its provenance.
    """
    scale = config["scale"]
    section = config["scales"][scale]["classify"]
    runs = []
    for model, options in section["models"].items():
        for seed in section["seeds"]:
            runs.append({
                "experiment": "classify",
                "scale": scale,
                "model": model,
                "seed": seed,
                "device": section["device"],
                "data": copy.deepcopy(section["data"]),
                "training": {**section["training"], **options.get("training", {})},
                "architecture": dict(options.get("architecture", {})),
            })
    return runs


def vae_runs(config: dict) -> list[dict]:
    """One resolved specification per (dataset, flow, seed) of the selected scale's VAE table.

    Datasets named in ``exclude_datasets`` are left out (the table marks them); a dataset's
    own ``training``/``evaluation`` entries override single keys of the scale's, and a flow's
    entries in ``flow_overrides`` override single keys of both (e.g. a cheaper importance-sampled
    NLL for the FFJORD row at the cpu scale, whose exact trace costs D vjps per evaluation).
    """
    scale = config["scale"]
    section = config["scales"][scale]["vae"]
    excluded = set(config.get("exclude_datasets") or [])
    runs = []
    for dataset, options in section["datasets"].items():
        if dataset in excluded:
            continue
        split_seeds = options.get("split_seeds")
        for flow, flow_options in section["flows"].items():
            flow_options = {**flow_options, **options.get("flow_options", {}).get(flow, {})}
            overrides = section.get("flow_overrides", {}).get(flow, {})
            for index, seed in enumerate(section["seeds"]):
                runs.append({
                    "experiment": "vae",
                    "scale": scale,
                    "dataset": dataset,
                    "flow": flow,
                    "seed": seed,
                    "device": section["device"],
                    "data": {**options["data"],
                             "split_seed": split_seeds[index % len(split_seeds)]
                             if split_seeds else None},
                    "model": {**section["model"], "flow_options": dict(flow_options)},
                    "training": {**section["training"], **options.get("training", {}),
                                 **overrides.get("training", {})},
                    "evaluation": {**section["evaluation"], **options.get("evaluation", {}),
                                   **overrides.get("evaluation", {})},
                })
    return runs
