"""MNIST classifiers of Neural ODE Table 1, by name.

Every factory takes keyword-only hyperparameters and returns an ``nn.Module``
mapping images ``(N, 1, 28, 28)`` in [0, 1] to logits ``(N, 10)``.
"""
from replication.registry import Registry

MODELS = Registry(
    "model",
    {
        "mlp": "replication.models.mlp:mlp",
        "stem": "replication.models.resnet:stem",
        "resnet1": "replication.models.resnet:resnet1",
        "resnet": "replication.models.resnet:resnet",
        "rknet": "replication.models.odenet:rknet",
        "odenet": "replication.models.odenet:odenet",
    },
)


def build_model(name: str, **hyperparameters):
    """Build the registered model *name* with its keyword-only hyperparameters."""
    return MODELS[name](**hyperparameters)


def count_parameters(model) -> int:
    """Number of trainable scalars."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["MODELS", "build_model", "count_parameters"]
