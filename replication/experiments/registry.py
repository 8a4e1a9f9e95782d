"""Every experiment of the suite, by name: the one list to edit when adding one.

Declarations import no torch and no pandas: the Snakefile and the command line's ``--help`` read
them. An experiment's code is imported only when one of its jobs runs.
"""
from __future__ import annotations

import importlib

from replication.experiments.base import Experiment

NAMES = (
    "table1",  # Neural ODE Table 1
    "figure3",  # Neural ODE Figure 3: tolerance sweep on the trained ODE-Net
    "memory_depth",  # Neural ODE §3: constant memory of the adjoint vs depth
    "table2",  # Neural ODE Table 2: latent ODE vs RNN on spirals
    "vae_table",  # FFJORD's VAE table
    "nfe_vs_dim",  # FFJORD Figure 5: NFE vs latent dimension
    "toy_density",  # FFJORD Figure 2: 2-D toy densities
    "trace_cost",  # FFJORD §3.1: Hutchinson vs exact trace
    "article",  # the seed article's own experiments A1–A4
)


class UnknownExperimentError(KeyError):
    def __str__(self) -> str:
        return str(self.args[0])


def experiment(name: str) -> Experiment:
    """The declaration of experiment *name*; an unknown name lists the known ones."""
    if name not in NAMES:
        raise UnknownExperimentError(f"unknown experiment {name!r}; the experiments are: {', '.join(NAMES)}")
    return importlib.import_module(f"replication.experiments.{name}").EXPERIMENT


def experiments() -> list[Experiment]:
    return [experiment(name) for name in NAMES]
