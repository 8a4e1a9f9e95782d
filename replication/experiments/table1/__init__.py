"""Neural ODE Table 1: MNIST test error of six classifiers (MLP, ResNet, RK-Net, ODE-Net, ...).

One job per (model, seed): train, select the epoch of lowest validation error, report its test
error, parameter count, NFE and training-step memory (:mod:`.run`); :mod:`.table` collects the
jobs into the paper's table beside the paper's numbers (read from the claims registry).
"""
import copy

from replication.experiments.base import Option, declare
from replication.models import MODELS


def jobs(config: dict) -> list[dict]:
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


EXPERIMENT = declare(
    __name__,
    name="table1",
    title="Neural ODE Table 1 (MNIST)",
    section="classify",
    jobs=jobs,
    job_dir=lambda spec: f"classify/{spec['model']}/seed{spec['seed']}",
    # the job builds one model: its fingerprint depends on that model's module only
    code=lambda spec: (MODELS.module_of(spec["model"]),),
    options=(Option(key="model", help=f"one of: {', '.join(MODELS)}"),
             Option(key="seed", help="a seed of the scale's list", type=int)),
    collect=f"{__name__}.table",
    tables=("table1.csv", "table1.md", "table1.tex", "classify/runs.csv"),
)
