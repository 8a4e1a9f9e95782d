"""The configuration schema: the shipped config is valid; bad configs name the bad key."""
import copy

import pytest
import yaml

from replication.config import ConfigError, classify_runs, load_config, validate_config


@pytest.fixture()
def config(repo_root):
    return yaml.safe_load((repo_root / "config" / "config.yaml").read_text())


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
