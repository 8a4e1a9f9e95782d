"""The seed article's own experiments (spec §4.1, claims A1–A4), implemented as it describes them.

* :mod:`.numpy_net` — A1/A2: the NumPy MNIST network with Euler steps and the article's
  hand-written "adjoint" updates.
* :mod:`.torch_snippets` — A3/A4: the article's "CNF" and "FFJORD" classifiers.
* :mod:`.run` — one job per (experiment, seed) (A4: per readout too).

The article's tables are every ``.md`` file under results/<scale>/article/<id>/ (written by the
claims measurements); :data:`REPORT_SECTIONS` gives each its title and caption.
"""
from replication.experiments.base import Option, declare

_NOT_IN_SPEC = ("seeds", "threads", "readouts")


def _settings(section: dict) -> dict:
    return {k: v for k, v in section.items() if k not in _NOT_IN_SPEC}


def article_jobs(section: dict, *, scale: str) -> list[dict]:
    """One job specification per run from a scale's ``article`` config section (pure Python).

    A1 and A3: one per seed. A2: one per A1 seed (it evaluates that seed's ``params.npz``).
    A4: one per (readout, seed); an entry of ``readouts`` may override any A4 key, ``seeds``
    included. ``threads`` is a command-line setting, not part of a specification.
    """
    jobs = []
    a1 = section["a1"]
    for seed in a1["seeds"]:
        jobs.append({"experiment": "a1", "scale": scale, "seed": seed, **_settings(a1)})
    for seed in a1["seeds"]:
        jobs.append({"experiment": "a2", "scale": scale, "seed": seed, **_settings(section["a2"])})
    a3 = section["a3"]
    for seed in a3["seeds"]:
        jobs.append({"experiment": "a3", "scale": scale, "seed": seed, **_settings(a3)})
    a4 = section["a4"]
    for readout, overrides in a4["readouts"].items():
        overrides = overrides or {}
        for seed in overrides.get("seeds", a4["seeds"]):
            jobs.append({"experiment": "a4", "scale": scale, "seed": seed, **_settings(a4),
                         **_settings(overrides), "readout": readout})
    for job in jobs:
        if job["experiment"] == "a2":  # A2 evaluates the trained network of A1's same seed
            job["params"] = f"article/a1/seed{job['seed']}/params.npz"
    return jobs


def job_dir(spec: dict) -> str:
    """Where a job writes, under results/<scale>: ``article/<id>[/<readout>]/seed<seed>``."""
    variant = f"/{spec['readout']}" if spec["experiment"] == "a4" else ""
    return f"article/{spec['experiment']}{variant}/seed{spec['seed']}"


# (folder under results/<scale>, title, caption) of each article experiment's report section
REPORT_SECTIONS = (
    ("article/a1", "Article A1: the NumPy Neural ODE on MNIST",
     "The article's NumPy example implemented as described (20 Euler steps, hand-written "
     "adjoint, one epoch); it claims 92–93 % test accuracy."),
    ("article/a2", "Article A2: Euler steps and step size at test time",
     "The trained A1 model evaluated at other n and dt without retraining."),
    ("article/a3", "Article A3: the 'CNF' classifier snippet",
     "The article's CNF snippet as printed (9 Euler steps of an MLP, Adam, 5 epochs)."),
    ("article/a4", "Article A4: the 'FFJORD' classifier snippet",
     "The article's FFJORD snippet as printed (adjoint dopri5 with a Hutchinson trace term "
     "that the loss never uses)."),
)

EXPERIMENT = declare(
    __name__,
    name="article",
    title="The seed article's own experiments (A1–A4)",
    section="article",
    jobs=lambda config: article_jobs(config["scales"][config["scale"]]["article"],
                                     scale=config["scale"]),
    job_dir=job_dir,
    code=lambda spec: (),
    options=(Option(key="experiment", help="a1, a2, a3 or a4"),
             Option(key="readout", help="A4 only: a readout of the scale's list"),
             Option(key="seed", help="a seed of the scale's list", type=int)),
)
