"""The configuration: the shipped config is valid; bad configs name the bad key; the cpu and
smoke scales, written as deltas onto paper, merge into exactly the sections they had in full."""
import copy
import json
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from replication.config import PATCH, ConfigError, load_config, materialize_scales, validate_config
from replication.experiments.table1 import jobs as classify_runs
from replication.experiments.vae_table import jobs as vae_runs

REPO_ROOT = Path(__file__).resolve().parents[1]
SNAPSHOT = REPO_ROOT / "tests" / "data" / "resolved_scales.json"
SCALES = ("smoke", "cpu", "paper")


@pytest.fixture()
def config(repo_root):
    return materialize_scales(yaml.safe_load((repo_root / "config" / "config.yaml").read_text()))


@pytest.fixture(scope="module")
def snapshot():
    return json.loads(SNAPSHOT.read_text())


def resolved(scale: str) -> dict:
    """What code sees of *scale*: its merged section and the runs resolved from it."""
    config = load_config(overrides={"scale": scale})
    return {"section": config["scales"][scale], "classify_runs": classify_runs(config),
            "vae_runs": vae_runs(config)}


def canonical(value) -> str:
    """JSON text: equal only if the values are, types included (1 and 1.0 differ, as in a hash)."""
    return json.dumps(value, sort_keys=True)


# ---- the shipped scales: exactly what they were when each was written in full ---------------

# Config sections added after the snapshot was taken, each with the experiment that reads it:
# they may appear in a scale; every section the snapshot holds must stay exactly as it was.
ADDED_SECTIONS = {"table2": "Neural ODE Table 2 (issue #15)"}


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("part", ["section", "classify_runs", "vae_runs"])
def test_merged_scales_equal_the_snapshot_of_the_full_sections(snapshot, scale, part):
    """tests/data/resolved_scales.json was taken at commit 5dc1202, before cpu and smoke became
    deltas. A deliberate config change fails here too: then rewrite the file (json.dump of
    {scale: resolved(scale)}, sort_keys=True) in the commit that changes the config. Sections
    added since (ADDED_SECTIONS) are not in it: they are left out of the comparison."""
    current = resolved(scale)[part]
    if part == "section":
        added = set(current) - set(snapshot[scale][part])
        assert added <= set(ADDED_SECTIONS), f"sections neither in the snapshot nor added: {added}"
        current = {key: value for key, value in current.items() if key not in ADDED_SECTIONS}
    assert canonical(current) == canonical(snapshot[scale][part])


def test_deltas_write_only_what_differs_from_paper(repo_root):
    """A delta key restating paper's value is noise (and hides what the scale changes)."""
    scales = yaml.safe_load((repo_root / "config" / "config.yaml").read_text())["scales"]

    def restated(base, delta, path):
        for key, value in delta.items():
            if key == PATCH or (isinstance(value, dict) and PATCH in value):
                continue  # given in full or deleted: compared as a whole by the snapshot test
            if isinstance(value, dict) and isinstance(base[key], dict):
                yield from restated(base[key], value, f"{path}.{key}")
            elif canonical(value) == canonical(base[key]):
                yield f"{path}.{key}"

    found = [key for scale in ("cpu", "smoke")
             for key in restated(scales["paper"], scales[scale], f"scales.{scale}")]
    assert not found, f"these delta keys restate scales.paper's value: {found}"


# ---- materialize_scales: how a delta merges onto paper ---------------------------------------

def _config(**deltas) -> dict:
    paper = {"classify": {"device": "cuda", "seeds": [0, 1, 2],
                          "training": {"epochs": 160, "lr": 0.1, "lr_milestones": [60, 100]},
                          "models": {"mlp": {"training": {"augment": False}}, "odenet": {}}},
             "figure3": {"seed": 0}}
    return {"scale": "paper", "scales": {"paper": paper, **deltas}}


def test_a_delta_merges_mappings_recursively_and_replaces_lists_and_values():
    config = _config(cpu={"classify": {"seeds": [0], "training": {"epochs": 2,
                                                                  "lr_milestones": [1]}}})
    before = copy.deepcopy(config)
    cpu = materialize_scales(config)["scales"]["cpu"]
    assert cpu == {"classify": {"device": "cuda", "seeds": [0],
                                "training": {"epochs": 2, "lr": 0.1, "lr_milestones": [1]},
                                "models": {"mlp": {"training": {"augment": False}},
                                           "odenet": {}}},
                   "figure3": {"seed": 0}}
    assert list(cpu["classify"]["training"]) == ["epochs", "lr", "lr_milestones"]  # paper's order
    assert config == before  # the input is left unchanged


def test_merged_scales_share_no_objects_with_paper_or_the_delta():
    delta = {"classify": {"seeds": [0]}}
    config = _config(cpu=delta)
    merged = materialize_scales(config)
    merged["scales"]["cpu"]["classify"]["training"]["lr"] = 9.0
    merged["scales"]["cpu"]["classify"]["seeds"].append(5)
    assert config["scales"]["paper"]["classify"]["training"]["lr"] == 0.1
    assert merged["scales"]["paper"]["classify"]["training"]["lr"] == 0.1
    assert delta == {"classify": {"seeds": [0]}}


def test_an_empty_delta_is_paper():
    merged = materialize_scales(_config(smoke={}))
    assert merged["scales"]["smoke"] == merged["scales"]["paper"]


@pytest.mark.parametrize(("delta", "key"), [
    ({"classify": {"trainig": {"epochs": 2}}}, "scales.cpu.classify.trainig"),
    ({"classify": {"models": {"vgg": {}}}}, "scales.cpu.classify.models.vgg"),
    ({"figure3": {"seed": 0, "images": 16}}, "scales.cpu.figure3.images"),
    ({"memory_depth": {"depths": [1]}}, "scales.cpu.memory_depth"),
])
def test_a_delta_key_that_paper_lacks_is_named_with_its_scale(delta, key):
    with pytest.raises(ConfigError) as raised:
        materialize_scales(_config(cpu=delta))
    message = str(raised.value)
    assert f"config key {key}: scales.paper has no such key" in message
    assert "check its spelling" in message and f"{PATCH}: replace" in message


def test_patch_delete_removes_papers_key():
    merged = materialize_scales(_config(
        smoke={"classify": {"models": {"mlp": {PATCH: "delete"}}, "device": "cpu"}}))
    assert merged["scales"]["smoke"]["classify"]["models"] == {"odenet": {}}
    assert merged["scales"]["smoke"]["classify"]["device"] == "cpu"
    assert "mlp" in merged["scales"]["paper"]["classify"]["models"]


@pytest.mark.parametrize(("delta", "says"), [
    ({"classify": {"models": {"vgg": {PATCH: "delete"}}}},
     "scales.smoke.classify.models.vgg: `$patch: delete` of a key that scales.paper does not have"),
    ({"classify": {"models": {"mlp": {PATCH: "delete", "training": {}}}}},
     "scales.smoke.classify.models.mlp: `$patch: delete` takes no other keys, got ['training']"),
    ({"classify": {"training": {PATCH: "merge"}}},
     "scales.smoke.classify.training: unknown `$patch` directive 'merge'"),
    ({"classify": {"training": {PATCH: "replace", "epochs": {PATCH: "delete"}}}},
     "scales.smoke.classify.training.epochs: `$patch` inside a value given with `$patch: replace`"),
])
def test_misused_patch_directives_are_named(delta, says):
    with pytest.raises(ConfigError) as raised:
        materialize_scales(_config(smoke=delta))
    assert says in str(raised.value)


def test_patch_replace_gives_a_mapping_in_full_and_may_add_keys_paper_lacks():
    merged = materialize_scales(_config(cpu={
        "classify": {"training": {PATCH: "replace", "epochs": 2}},
        "flow_overrides": {PATCH: "replace", "ffjord": {"evaluation": {"is_test_subset": 100}}}}))
    cpu = merged["scales"]["cpu"]
    assert cpu["classify"]["training"] == {"epochs": 2}
    assert cpu["flow_overrides"] == {"ffjord": {"evaluation": {"is_test_subset": 100}}}
    assert PATCH not in json.dumps(merged)


def test_paper_holds_no_directives():
    config = _config()
    config["scales"]["paper"]["classify"]["training"] = {PATCH: "replace", "epochs": 2}
    with pytest.raises(ConfigError, match=r"config key scales\.paper\.classify\.training: "
                                          r"`\$patch` in the full section"):
        materialize_scales(config)


def test_a_config_without_paper_is_left_for_the_schema_to_name(config):
    broken = {**config, "scales": {"cpu": config["scales"]["cpu"]}}
    assert materialize_scales(broken) == broken
    with pytest.raises(ConfigError, match="'paper' is a required property"):
        validate_config(materialize_scales(broken))


def test_load_config_merges_before_it_validates(tmp_path):
    raw = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    raw["scales"]["smoke"]["classify"]["training"]["epochs"] = -1
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"scales\.smoke\.classify\.training\.epochs: -1 is less"):
        load_config(path)
    raw["scales"]["smoke"]["classify"]["training"] = {"epoch": 1}
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"scales\.smoke\.classify\.training\.epoch: "
                                          r"scales\.paper has no such key"):
        load_config(path)


def test_the_schema_checks_every_merged_scale_in_full(tmp_path):
    """A delta that deletes a required key leaves its scale incomplete: the schema says so."""
    raw = yaml.safe_load((REPO_ROOT / "config" / "config.yaml").read_text())
    raw["scales"]["cpu"]["classify"]["training"]["momentum"] = {PATCH: "delete"}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"config key scales\.cpu\.classify\.training: "
                                          r"'momentum' is a required property"):
        load_config(path)


# ---- the Snakefile merges once, the same way ---------------------------------------------------

def _snakemake(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", "--dry-run", "--cores", "1", *args],
                          capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)


@pytest.mark.parametrize("scale", SCALES)
def test_the_snakefile_plans_the_snapshots_runs(snapshot, scale):
    """Every training job the dry run plans carries a spec of the snapshot, and each one once."""
    done = _snakemake("--printshellcmds", "--forceall", "--config", f"scale={scale}")
    assert done.returncode == 0, done.stderr
    specs = {"classify": [], "vae": []}
    for line in (done.stdout + done.stderr).splitlines():  # "Shell command: python -m ..."
        for command in ("python -m replication run table1 ",
                        "python -m replication run vae_table "):
            if command in line:
                words = shlex.split(line[line.index(command):])
                spec = json.loads(words[words.index("--spec") + 1])
                specs[spec["experiment"]].append(spec)
    for experiment in specs:
        expected = sorted(map(canonical, snapshot[scale][f"{experiment}_runs"]))
        assert expected and sorted(map(canonical, specs[experiment])) == expected


def test_the_snakefile_names_a_misspelt_delta_key(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("scales:\n  cpu:\n    classify:\n      trainig: {epochs: 1}\n")
    done = _snakemake("--configfile", str(overlay), "--config", "scale=cpu")
    output = done.stdout + done.stderr
    assert done.returncode != 0 and "Traceback" not in output
    assert "error: config key scales.cpu.classify.trainig: scales.paper has no such key" in output


# ---- the schema, on the merged config ----------------------------------------------------------


def test_shipped_config_is_valid_and_defaults_to_paper(config):
    validate_config(config)
    assert config["scale"] == "paper"


@pytest.mark.parametrize("scale", ["smoke", "cpu", "paper"])
def test_every_scale_resolves_to_all_models(config, scale):
    runs = classify_runs({**config, "scale": scale})
    models = {run["model"] for run in runs}
    assert models == {"mlp", "resnet", "rknet", "odenet", "stem", "resnet1"}
    assert all(run["scale"] == scale for run in runs)


def test_paper_scale_follows_the_reference_protocol(config):
    runs = {run["model"]: run for run in classify_runs({**config, "scale": "paper"}) if run["seed"] == 0}
    training = runs["odenet"]["training"]
    assert training["epochs"] == 160 and training["batch_size"] == 128 and training["lr"] == 0.1
    assert training["lr_milestones"] == [60, 100, 140] and training["momentum"] == 0.9
    assert training["augment"] is True
    assert runs["odenet"]["architecture"]["rtol"] == runs["odenet"]["architecture"]["atol"] == 1e-3


def test_per_model_training_overrides_single_keys(config):
    runs = {run["model"]: run for run in classify_runs({**config, "scale": "cpu"})}
    assert runs["mlp"]["training"]["augment"] is False
    assert runs["mlp"]["training"]["epochs"] == runs["resnet"]["training"]["epochs"]


@pytest.mark.parametrize(
    ("edit", "key", "reason"),
    [
        (lambda c: c.update(scale="huge"), "config key scale", "is not one of"),
        (lambda c: c["scales"]["cpu"]["classify"]["models"].update(vgg={}),
         "config key scales.cpu.classify.models", "'vgg' was unexpected"),
        (lambda c: c["scales"]["cpu"]["classify"]["training"].update(epochs=-3),
         "config key scales.cpu.classify.training.epochs", "-3 is less than the minimum of 1"),
        (lambda c: c["scales"]["smoke"]["classify"]["models"]["odenet"]["architecture"].update(
            rtol="tight"), "config key scales.smoke.classify.models.odenet.architecture.rtol",
         "is not of type"),
        (lambda c: c["scales"].pop("paper"), "config key scales", "'paper' is a required property"),
    ],
)
def test_invalid_config_names_the_key(config, edit, key, reason):
    bad = copy.deepcopy(config)
    edit(bad)
    with pytest.raises(ConfigError) as raised:
        validate_config(bad)
    assert key in str(raised.value) and reason in str(raised.value)


def test_load_config_applies_overrides(repo_root):
    assert load_config(repo_root / "config" / "config.yaml", overrides={"scale": "smoke"})["scale"] == "smoke"
    with pytest.raises(ConfigError, match="config key scale"):
        load_config(repo_root / "config" / "config.yaml", overrides={"scale": "tiny"})


def test_figure3_must_analyse_a_trained_seed(config):
    bad = copy.deepcopy(config)
    bad["scales"]["cpu"]["figure3"]["seed"] = 5
    with pytest.raises(ConfigError, match=r"config key scales\.cpu\.figure3\.seed: 5 is not one of"):
        validate_config(bad)


def test_figure3_needs_the_odenet(config):
    bad = copy.deepcopy(config)
    del bad["scales"]["smoke"]["classify"]["models"]["odenet"]
    with pytest.raises(ConfigError, match=r"scales\.smoke\.classify\.models: Figure 3 analyses"):
        validate_config(bad)
