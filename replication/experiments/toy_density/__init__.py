"""FFJORD Figure 2: maximum-likelihood CNF densities of 2-D toy data, with the exact trace.

One job per toy distribution (:mod:`.run`: train, then test log-likelihood, density on a grid
and its mass); :mod:`.plot` draws data, model samples and density side by side.
"""
from replication.experiments.base import Option, declare, section_spec

SECTION = "toy_density"


def _datasets(config: dict) -> list[str]:
    return list(config["scales"][config["scale"]][SECTION]["datasets"])


EXPERIMENT = declare(
    __name__,
    name="toy_density",
    title="FFJORD Figure 2: learned densities of 2-D toy data",
    section=SECTION,
    jobs=lambda config: [section_spec(config, SECTION, dataset=name)
                         for name in _datasets(config)],
    job_dir=lambda spec: f"ffjord/toy/{spec['dataset']}",
    code=lambda spec: (),
    options=(Option(key="dataset", help="a toy distribution of the scale's list"),),
    figure=f"{__name__}.plot",
    figure_inputs=lambda config: [f"ffjord/toy/{name}/metrics.json" for name in _datasets(config)],
    figures=tuple(f"ffjord_toy_densities{s}" for s in (".png", ".pdf", ".csv", "_density.csv")),
)
