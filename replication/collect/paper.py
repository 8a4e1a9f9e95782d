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
