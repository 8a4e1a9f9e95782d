"""The suite's configuration: loading, merging each scale's delta onto the full paper scale,
validation against the JSON schema, and resolution of the selected scale into one
specification per training run.

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


# The one full scale; the others are written as deltas onto it (materialize_scales).
FULL_SCALE = "paper"
# A delta's directive key: ``{$patch: delete}`` removes paper's key, ``{$patch: replace, ...}``
# gives a value in full instead of merging it into paper's (the only way to add a key paper
# lacks). The name and the two verbs are those of Kubernetes' strategic merge patch.
PATCH = "$patch"
_ABSENT = object()  # paper has no such key (or the delta deleted it)


def _delta_error(scale: str, path: tuple, problem: str) -> ConfigError:
    where = _key_path(("scales", scale, *path))
    layout = (f"scales.{FULL_SCALE} is written in full and every other scale as the keys that "
              f"differ from it" if scale == FULL_SCALE else
              f"scales.{scale} is written as the keys that differ from scales.{FULL_SCALE}, "
              f"merged onto it key by key (lists and values replace paper's)")
    return ConfigError(f"config key {where}: {problem}. {layout}; see the comment above "
                       f"`scales:` in {CONFIG_PATH}")


def _merged(base, delta, *, scale: str, path: tuple):
    """*delta* merged onto *base* (paper's value at *path*, or ``_ABSENT``); both left unchanged."""
    if isinstance(delta, dict) and PATCH in delta:
        directive = delta[PATCH]
        rest = {key: value for key, value in delta.items() if key != PATCH}
        if directive == "replace":
            _refuse_directives(rest, scale=scale, path=path,
                               reason=f"inside a value given with `{PATCH}: replace` (there is "
                                      f"nothing of scales.{FULL_SCALE}'s to patch)")
            return copy.deepcopy(rest)
        if directive == "delete":
            if rest:
                raise _delta_error(scale, path, f"`{PATCH}: delete` takes no other keys, got "
                                                f"{sorted(map(str, rest))}")
            if base is _ABSENT:
                raise _delta_error(scale, path, f"`{PATCH}: delete` of a key that "
                                                f"scales.{FULL_SCALE} does not have")
            return _ABSENT
        raise _delta_error(scale, path, f"unknown `{PATCH}` directive {directive!r}; use "
                                        f"`{PATCH}: replace` or `{PATCH}: delete`")
    if base is _ABSENT:
        raise _delta_error(scale, path, f"scales.{FULL_SCALE} has no such key (check its "
                                        f"spelling; to add a key that paper lacks, give its whole "
                                        f"value with `{PATCH}: replace`)")
    if isinstance(delta, dict) and isinstance(base, dict):
        merged = {}  # paper's keys in paper's order, then any the delta adds, in its order
        for key in [*base, *(key for key in delta if key not in base)]:
            value = (_merged(base.get(key, _ABSENT), delta[key], scale=scale, path=(*path, key))
                     if key in delta else copy.deepcopy(base[key]))
            if value is not _ABSENT:
                merged[key] = value
        return merged
    return copy.deepcopy(delta)


def _refuse_directives(value, *, scale: str, path: tuple, reason: str) -> None:
    """Raise if *value* holds a ``$patch`` key anywhere: a value given in full patches nothing."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == PATCH:
                raise _delta_error(scale, path, f"`{PATCH}` {reason}")
            _refuse_directives(item, scale=scale, path=(*path, key), reason=reason)
    elif isinstance(value, list):
        for item in value:
            _refuse_directives(item, scale=scale, path=path, reason=reason)


def materialize_scales(config: dict) -> dict:
    """A new config whose ``scales`` holds every scale in full; *config* is left unchanged.

    config/config.yaml writes ``scales.paper`` in full and every other scale as a delta: the
    keys whose values differ from paper's. Each delta is merged onto a deep copy of paper:
    mappings merge key by key, recursively; lists and scalars replace paper's. A delta key that
    paper lacks is an error naming it (a misspelt key would otherwise be silently ignored or
    added); ``{$patch: delete}`` removes paper's key, ``{$patch: replace, ...}`` gives a mapping
    in full (it may then add keys paper lacks). Call it once, right after reading the file and
    before validating (the schema checks the merged scales): a second call would merge the
    already full sections again, which fails where a scale replaced or deleted paper's keys.

    A config without a mapping ``scales.paper`` is returned as a copy, unmerged, for
    :func:`validate_config` to name what is missing.
    """
    merged = copy.deepcopy(config)
    scales = config.get("scales")
    if not isinstance(scales, dict) or not isinstance(scales.get(FULL_SCALE), dict):
        return merged
    full = scales[FULL_SCALE]
    _refuse_directives(full, scale=FULL_SCALE, path=(),
                       reason=f"in the full section (scales.{FULL_SCALE} is merged onto nothing)")
    for scale, delta in scales.items():
        if scale == FULL_SCALE or not isinstance(delta, dict):
            continue  # paper as written; a non-mapping is the schema's to name
        section = _merged(full, delta, scale=str(scale), path=())
        if section is _ABSENT:
            del merged["scales"][scale]
        else:
            merged["scales"][scale] = section
    return merged


def load_config(path: str | Path = CONFIG_PATH, *, overrides: dict | None = None) -> dict:
    """Read a config file, apply top-level *overrides* (like ``--config k=v``), merge every
    scale's delta onto paper (:func:`materialize_scales`), validate the merged config.

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
    config = materialize_scales(config)
    validate_config(config)
    return config
