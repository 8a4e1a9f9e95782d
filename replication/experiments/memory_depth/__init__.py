"""Neural ODE §3, the constant-memory claim: peak memory and time of a training step vs depth.

One job (:mod:`.run`) on fresh models: ResNet blocks, RK-Net (backprop through the solver) and
the adjoint ODE-Net at each depth; :mod:`.plot` fits memory per step and draws both panels.
"""
from replication.experiments.base import declare


def _jobs(config: dict) -> list[dict]:
    scale = config["scale"]
    return [{**config["scales"][scale]["memory_depth"], "experiment": "memory_depth",
             "scale": scale}]


EXPERIMENT = declare(
    __name__,
    name="memory_depth",
    title="Memory and time of a training step vs depth",
    section="memory_depth",
    jobs=_jobs,
    job_dir=lambda spec: "memory_depth",
    code=lambda spec: (),
    figure=f"{__name__}.plot",
    figure_inputs=lambda config: ["memory_depth/points.csv"],
    figures=("memory_depth.png", "memory_depth.pdf", "memory_depth.csv", "memory_depth_fits.csv"),
)
