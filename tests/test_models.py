"""Architectures against the parameter counts derived by hand in spec §1.4."""
import pytest
import torch

from replication.models import MODELS, build_model, count_parameters

PAPER_COUNTS = {
    # (model, downsampling): parameters
    ("mlp", None): 238_510,           # 784-300-10, LeCun et al.'s MLP (paper: 0.24 M)
    ("resnet", "res"): 601_482,       # matches the paper's 0.60 M exactly
    ("resnet", "conv"): 576_778,
    ("odenet", "conv"): 208_266,      # torchdiffeq issue #32
    ("odenet", "res"): 232_970,
    ("rknet", "res"): 232_970,        # same architecture as the ODE-Net
    ("rknet", "conv"): 208_266,
    ("stem", "conv"): 132_874,        # downsampling + head only, torchdiffeq issue #32
    ("stem", "res"): 156_800 + 778,
    ("resnet1", "res"): 156_800 + 73_984 + 778,
}


@pytest.mark.parametrize(("name", "downsampling"), sorted(PAPER_COUNTS, key=str))
def test_parameter_counts(name, downsampling):
    options = {} if downsampling is None else {"downsampling": downsampling}
    assert count_parameters(build_model(name, **options)) == PAPER_COUNTS[(name, downsampling)]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_map_images_to_logits(name):
    torch.manual_seed(0)
    logits = build_model(name)(torch.rand(3, 1, 28, 28))
    assert logits.shape == (3, 10)
    assert torch.isfinite(logits).all()


def test_hyperparameters_are_keyword_only():
    with pytest.raises(TypeError):
        MODELS["resnet"](6)


def test_unknown_model_names_the_known_ones():
    with pytest.raises(KeyError, match="unknown model 'resnet50'.*odenet"):
        build_model("resnet50")


def test_schema_lists_exactly_the_registered_models(repo_root):
    import yaml

    schema = yaml.safe_load((repo_root / "config" / "schema.yaml").read_text())
    assert set(schema["$defs"]["classify"]["properties"]["models"]["properties"]) == set(MODELS)
