"""The papers' published numbers, for placing beside ours (spec §1.1, §5)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PaperRow:
    label: str
    test_error: float | None      # percent
    parameters: str | None        # as printed in the paper
    memory: str                   # asymptotic only: the paper measured nothing
    time: str
    source: str


# Neural ODE Table 1 (Chen et al. 2018, §3); L = ResNet layers, L̃ = NFE per forward pass.
TABLE1 = {
    "mlp": PaperRow("1-Layer MLP", 1.60, "0.24 M", "–", "–", "NODE Table 1 (from LeCun et al. 1998)"),
    "resnet": PaperRow("ResNet", 0.41, "0.60 M", "O(L)", "O(L)", "NODE Table 1"),
    "rknet": PaperRow("RK-Net", 0.47, "0.22 M", "O(L̃)", "O(L̃)", "NODE Table 1"),
    "odenet": PaperRow("ODE-Net", 0.42, "0.22 M", "O(1)", "O(L̃)", "NODE Table 1"),
    # Ablations users asked for (torchdiffeq issues #25, #32): not in the paper.
    "stem": PaperRow("Stem only (ablation)", None, None, "–", "–", "torchdiffeq issue #32: < 0.6 %"),
    "resnet1": PaperRow("ResNet, 1 block (ablation)", None, None, "O(1)", "O(1)",
                        "torchdiffeq issue #25: ≈ ResNet"),
}


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
_PAPER_ROWS = {
    "none": ((86.55, 0.06), (104.28, 0.39), (4.53, 0.02), (110.80, 0.46)),
    "planar": ((86.06, 0.31), (102.65, 0.42), (4.40, 0.06), (109.66, 0.42)),
    "iaf": ((84.20, 0.17), (102.41, 0.04), (4.47, 0.05), (111.58, 0.38)),
    "sylvester": ((83.32, 0.06), (99.00, 0.04), (4.45, 0.04), (104.62, 0.29)),
    "ffjord": ((82.82, 0.01), (98.33, 0.09), (4.39, 0.01), (104.03, 0.43)),
}


def vae_paper_cell(flow: str, dataset: str) -> PaperCell | None:
    """The paper's −ELBO for *flow* on *dataset*, or None where the paper has no such row."""
    row = _PAPER_ROWS.get("sylvester" if flow.startswith("sylvester") else flow)
    if row is None:
        return None
    return PaperCell(*row[list(VAE_DATASETS).index(dataset)])
