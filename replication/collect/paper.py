"""The papers' published numbers, for placing beside ours (spec §1.1, §5).

One source: every number here is read from the claims registry
(``replication/claims/claims.yaml``), the claims that state it (``node.table1.<model>.error``
and ``.params``, ``node.table2.<row>.n<n>``, ``ffjord.vae.<flow>.<dataset>``), so a table and
the verdict on it can never show two different paper values. Only the paper's asymptotic memory and time columns (words,
no claim compares them as numbers) are written here.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

CLAIMS_FILE = Path(__file__).resolve().parents[1] / "claims" / "claims.yaml"


@lru_cache(maxsize=1)
def _claims() -> dict[str, dict]:
    return {c["id"]: c for c in yaml.safe_load(CLAIMS_FILE.read_text())["claims"]}


def claim(claim_id: str) -> dict:
    """The registered claim *claim_id* (e.g. for the threshold its verdict uses)."""
    try:
        return _claims()[claim_id]
    except KeyError:
        raise KeyError(f"{CLAIMS_FILE} has no claim {claim_id!r}") from None


def memory_constant_fraction() -> float:
    """The one memory rule: the adjoint's memory is constant in depth when its fitted slope is
    at most this fraction of the RK-Net's (claim node.memory.constant)."""
    return float(claim("node.memory.constant")["comparison"]["tolerance"]["rel"])


def claimed(claim_id: str) -> float:
    """The value the paper prints, as the claim *claim_id* registers it."""
    try:
        return _claims()[claim_id]["claimed"]
    except KeyError:
        raise KeyError(f"{CLAIMS_FILE} has no claim {claim_id!r}: the tables read the paper's "
                       "numbers from there") from None


def _claimed_std(claim_id: str) -> float:
    return _claims()[claim_id]["claimed_std"]


@dataclass(frozen=True)
class PaperRow:
    label: str
    test_error: float | None      # percent
    parameters: str | None        # as printed in the paper
    memory: str                   # asymptotic only: the paper measured nothing
    time: str
    source: str


# Neural ODE Table 1 (Chen et al. 2018, §3); L = ResNet layers, L̃ = NFE per forward pass.
def _paper_row(model: str, label: str, memory: str, time: str, source: str) -> PaperRow:
    params = claimed(f"node.table1.{model}.params")
    return PaperRow(label, claimed(f"node.table1.{model}.error"), f"{params:.2f} M", memory,
                    time, source)


TABLE1 = {
    "mlp": _paper_row("mlp", "1-Layer MLP", "–", "–", "NODE Table 1 (from LeCun et al. 1998)"),
    "resnet": _paper_row("resnet", "ResNet", "O(L)", "O(L)", "NODE Table 1"),
    "rknet": _paper_row("rknet", "RK-Net", "O(L̃)", "O(L̃)", "NODE Table 1"),
    "odenet": _paper_row("odenet", "ODE-Net", "O(1)", "O(L̃)", "NODE Table 1"),
    # Ablations users asked for (torchdiffeq issues #25, #32): not in the paper, so no paper
    # cell of theirs shows a value.
    "stem": PaperRow("Stem only (ablation)", None, None, "–", "–", "torchdiffeq issue #32: < 0.6 %"),
    "resnet1": PaperRow("ResNet, 1 block (ablation)", None, None, "–", "–",
                        "torchdiffeq issue #25: ≈ ResNet"),
}


# Neural ODE Table 2 (predictive RMSE on spirals; one number per cell): our models -> the claim
# ids' rows (node.table2.<row>.n<n>). The paper's RNN row stands beside both our RNN versions.
_TABLE2_ROWS = {"latent_ode": "latent_ode", "rnn": "rnn", "rnn_dt": "rnn"}


def table2_paper_rmse(model: str, n: int) -> float | None:
    """The paper's Table 2 RMSE for our *model* at *n* observations, or None where the paper
    has no such cell (a model or an n it did not run)."""
    claim_id = f"node.table2.{_TABLE2_ROWS.get(model, model)}.n{n}"
    return claimed(claim_id) if model in _TABLE2_ROWS and claim_id in _claims() else None


@dataclass(frozen=True)
class PaperCell:
    mean: float
    std: float


# FFJORD Table 3 (VAE −ELBO; Frey Faces in bits/dim, the rest in nats; mean ± std of 3 runs).
# The baseline rows are Berg et al.'s (2018); "Sylvester" is their best variant per dataset, so
# each of our Sylvester variants (orthogonal, Householder, triangular) is shown beside it.
VAE_DATASETS = {
    "binarized_mnist": "MNIST",
    "omniglot": "Omniglot",
    "freyfaces": "Frey Faces",
    "caltech101_silhouettes": "Caltech Silhouettes",
}
VAE_FLOWS = {
    "none": "No flow",
    "planar": "Planar",
    "iaf": "IAF",
    "sylvester_o": "Sylvester (orthogonal)",
    "sylvester_h": "Sylvester (Householder)",
    "sylvester_t": "Sylvester (triangular)",
    "ffjord": "FFJORD",
}
# Our flow and dataset names -> the claim ids' parts (ffjord.vae.<flow>.<dataset>).
_CLAIM_FLOWS = {"none": "no_flow", "planar": "planar", "iaf": "iaf", "sylvester_o": "sylvester",
                "sylvester_h": "sylvester", "sylvester_t": "sylvester", "ffjord": "ffjord"}
_CLAIM_DATASETS = {"binarized_mnist": "mnist", "omniglot": "omniglot", "freyfaces": "freyfaces",
                   "caltech101_silhouettes": "caltech"}


def vae_paper_cell(flow: str, dataset: str) -> PaperCell | None:
    """The paper's −ELBO for *flow* on *dataset*, or None where the paper has no such row."""
    if flow not in _CLAIM_FLOWS:
        return None
    claim_id = f"ffjord.vae.{_CLAIM_FLOWS[flow]}.{_CLAIM_DATASETS[dataset]}"
    return PaperCell(claimed(claim_id), _claimed_std(claim_id))
