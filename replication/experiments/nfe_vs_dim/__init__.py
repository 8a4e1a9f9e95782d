"""FFJORD Figure 5: the solver's cost (NFE) during training of FFJORD VAEs of latent size D.

One job per latent size (:mod:`.run`: one FFJORD VAE on binarized MNIST, NFE of every batch);
:mod:`.table` gathers the histories into one table, :mod:`.plot` draws NFE-F and NFE-B per epoch.
"""
from replication.data.catalog import IMAGE_DATASETS
from replication.experiments.base import Option, declare, section_spec
from replication.flows import FLOWS

SECTION = "nfe_vs_dim"


def _jobs(config: dict) -> list[dict]:
    dims = config["scales"][config["scale"]][SECTION]["latent_dims"]
    return [section_spec(config, SECTION, latent_dim=dim) for dim in dims]


EXPERIMENT = declare(
    __name__,
    name="nfe_vs_dim",
    title="FFJORD Figure 5: NFE vs latent dimension",
    section=SECTION,
    jobs=_jobs,
    job_dir=lambda spec: f"ffjord/nfe_vs_dim/d{spec['latent_dim']}",
    code=lambda spec: (FLOWS.module_of("ffjord"), IMAGE_DATASETS.module_of(spec["dataset"])),
    options=(Option(key="latent_dim", help="a latent size of the scale's list", type=int),),
    collect=f"{__name__}.table",
    collect_inputs=lambda config: [f"{EXPERIMENT.job_dir(spec)}/history.csv"
                                   for spec in _jobs(config)],
    tables=("ffjord/nfe_vs_dim.csv",),
    figure=f"{__name__}.plot",
    figure_inputs=lambda config: ["ffjord/nfe_vs_dim.csv"],
    figures=tuple(f"ffjord_nfe_vs_dim{s}" for s in (".png", ".pdf", ".csv", "_summary.csv")),
)
