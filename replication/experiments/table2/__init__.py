"""Neural ODE Table 2: latent ODE vs RNN on irregularly sampled spirals (§5.1; spec §8.1).

One job per (model, n, seed): generate the spirals from the seed, observe n of the 100 window
points of each, train one model (the latent ODE, the plain RNN or the RNN with Δt), report its
test RMSE of reconstruction and of extrapolation (:mod:`.run`); :mod:`.table` gathers the jobs
into the paper's table beside its numbers, :mod:`.plot` draws Figure 8 from the n = 30 jobs.
"""
import copy

from replication.experiments.base import Option, declare

SECTION = "table2"
# The model module each job builds (its fingerprint follows it and run.py's imports).
MODEL_MODULES = {
    "latent_ode": "replication.models.latent_ode",
    "rnn": "replication.models.rnn_baseline",
    "rnn_dt": "replication.models.rnn_baseline",
}
FIGURE_N = 30  # Figure 8 shows the models at 30 irregular points


def jobs(config: dict) -> list[dict]:
    """One resolved specification per (model, n, seed) of the selected scale."""
    scale = config["scale"]
    section = config["scales"][scale][SECTION]
    runs = []
    for model, architecture in section["models"].items():
        for n in section["n_observed"]:
            for seed in section["seeds"]:
                runs.append({
                    "experiment": SECTION,
                    "scale": scale,
                    "model": model,
                    "n_observed": n,
                    "seed": seed,
                    "device": section["device"],
                    "data": copy.deepcopy(section["data"]),
                    "architecture": copy.deepcopy(architecture),
                    "training": copy.deepcopy(section["training"]),
                    "evaluation": copy.deepcopy(section["evaluation"]),
                })
    return runs


def job_dir(spec: dict) -> str:
    return f"spirals/{spec['model']}/n{spec['n_observed']}/seed{spec['seed']}"


def figure_jobs(config: dict) -> list[dict]:
    """Figure 8's jobs: every model at n = 30 (else the scale's smallest n), the first seed."""
    section = config["scales"][config["scale"]][SECTION]
    n = FIGURE_N if FIGURE_N in section["n_observed"] else min(section["n_observed"])
    seed = section["seeds"][0]
    return [spec for spec in jobs(config) if spec["n_observed"] == n and spec["seed"] == seed]


def _figure_inputs(config: dict) -> list[str]:
    paths = []
    for spec in figure_jobs(config):
        paths.append(f"{job_dir(spec)}/predictions.csv")
        if spec["model"] == "latent_ode":
            paths.append(f"{job_dir(spec)}/latent.csv")
    return paths


EXPERIMENT = declare(
    __name__,
    name="table2",
    title="Neural ODE Table 2 (latent ODE vs RNN on spirals)",
    section=SECTION,
    jobs=jobs,
    job_dir=job_dir,
    code=lambda spec: (MODEL_MODULES[spec["model"]],),
    options=(Option(key="model", help=f"one of: {', '.join(MODEL_MODULES)}"),
             Option(key="n_observed", help="observed points per spiral, of the scale's list",
                    type=int),
             Option(key="seed", help="a seed of the scale's list", type=int)),
    collect=f"{__name__}.table",
    tables=("table2.csv", "table2.md", "table2.tex", "spirals/runs.csv"),
    figure=f"{__name__}.plot",
    figure_title="Neural ODE Figure 8: latent ODE vs RNN on spirals (reconstruction, "
    "extrapolation, latent paths)",
    figure_inputs=_figure_inputs,
    figures=tuple(f"table2_figure8{s}" for s in (".png", ".pdf", "_predictions.csv",
                                                  "_latent.csv")),
)
