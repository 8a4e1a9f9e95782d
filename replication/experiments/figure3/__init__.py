"""Neural ODE Figure 3: what the solver tolerance trades on a trained ODE-Net.

One job (:mod:`.run`): the trained ODE-Net of Table 1 (seed ``seed`` of the scale), its ODE block
solved at each tolerance against a float64 reference (NFE, error, time, test error; no
retraining). :mod:`.plot` draws the four panels from that sweep and the ODE-Net's per-batch
NFE of training.
"""
from replication.experiments.base import declare


def _jobs(config: dict) -> list[dict]:
    scale = config["scale"]
    section = config["scales"][scale]
    settings = section["figure3"]
    return [{**settings, "experiment": "figure3", "scale": scale,
             "device": section["classify"]["device"],
             "weights": f"{_odenet_run(settings)}/model.pt"}]


def _odenet_run(settings: dict) -> str:
    return f"classify/odenet/seed{settings['seed']}"


def _figure_inputs(config: dict) -> list[str]:
    settings = config["scales"][config["scale"]]["figure3"]
    return ["figure3/tolerance_sweep.csv", f"{_odenet_run(settings)}/batches.csv"]


EXPERIMENT = declare(
    __name__,
    name="figure3",
    title="Neural ODE Figure 3: statistics of a trained ODE-Net",
    section="figure3",
    jobs=_jobs,
    job_dir=lambda spec: "figure3",
    # the sweep rebuilds the ODE-Net from its saved spec: it depends on the model's code
    code=lambda spec: ("replication.models.odenet",),
    figure=f"{__name__}.plot",
    figure_inputs=_figure_inputs,
    figures=tuple(f"figure3{suffix}" for suffix in
                  (".png", ".pdf", "a.csv", "b.csv", "c.csv", "d.csv")),
)
