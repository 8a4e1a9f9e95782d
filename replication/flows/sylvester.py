"""Amortized Sylvester normalizing flows: O-, H- and T-SNF (Berg et al. 2018).

Each of the K steps maps

    z' = z + Q R₁ h(R₂ Qᵀ z + b),        h = tanh,

with Q ∈ R^{D×M} having orthonormal columns (QᵀQ = I_M), R₁, R₂ ∈ R^{M×M} upper triangular and
b ∈ R^M, all computed per sample from the encoder features. The Jacobian is
I_D + Q R₁ diag(h'(a)) R₂ Qᵀ with a = R₂ Qᵀ z + b. By the matrix determinant lemma in its
Sylvester form, det(I_D + A B) = det(I_M + B A) for A ∈ R^{D×M}, B ∈ R^{M×D}:

    det ∂z'/∂z = det(I_M + diag(h'(a)) R₂ QᵀQ R₁) = det(I_M + diag(h'(a)) R₂ R₁),

and diag(h'(a)) R₂ R₁ is upper triangular with diagonal h'(a_i) r₂,ᵢᵢ r₁,ᵢᵢ, so

    log |det ∂z'/∂z| = Σ_i log |1 + r₁,ᵢᵢ r₂,ᵢᵢ h'(a_i)|,    a_i = (R₂ Qᵀ z + b)_i.

(Note a_i is the full i-th pre-activation, not r₂,ᵢᵢ q_iᵀz + b_i.) The diagonals pass through
tanh, so |r₁,ᵢᵢ r₂,ᵢᵢ| < 1, and 0 < h' ≤ 1 makes every factor positive: the step is invertible
(Berg et al. 2018, Thm. 2). As in the reference code, one amortized M×M matrix supplies both
off-diagonal parts: its strict upper triangle is R₁'s, the transpose of its strict lower
triangle is R₂'s (its diagonal outputs are unused); the diagonals have their own heads.

The variants differ only in Q:
  * O-SNF: Q (D×M, M ≤ D) amortized and orthonormalised by Björck iterations;
  * H-SNF: Q = H_H ⋯ H₂ H₁, a product of H Householder reflections (M = D), each later
    reflection multiplying on the left, as in Berg et al.'s code (spec §7);
  * T-SNF: Q alternates the identity and the reversal permutation between steps (M = D).
"""
from __future__ import annotations

import torch
from torch import nn


def bjorck_orthonormalize(q: torch.Tensor, *, tolerance: float, max_steps: int, eps: float = 1e-12) -> torch.Tensor:
    """Orthonormalise the columns of each (D, M) matrix in ``q`` (shape (N, D, M)), M ≤ D.

    Starts from Q / ‖Q‖_F (all singular values in (0, 1]) and iterates
    Q ← Q (I + ½ (I − QᵀQ)) (Björck & Bowie 1971), which maps each singular value
    σ ↦ σ(3 − σ²)/2, increasing it monotonically to 1. It stops when the worst
    ‖QᵀQ − I‖_F in the batch is below ``tolerance``, when that error stops decreasing (the
    round-off floor, e.g. ≈1e-6 in float32 for M = 64), or after ``max_steps`` iterations.
    """
    eye = torch.eye(q.shape[-1], dtype=q.dtype, device=q.device)
    q = q / q.flatten(1).norm(dim=1).clamp_min(eps)[:, None, None]
    gram = q.transpose(-1, -2) @ q
    previous_error = float("inf")
    for _ in range(max_steps):
        error = (gram - eye).flatten(1).norm(dim=1).max().item()
        if error < tolerance or error >= previous_error:
            break
        previous_error = error
        q = q @ (eye + 0.5 * (eye - gram))
        gram = q.transpose(-1, -2) @ q
    return q


class _SylvesterFlow(nn.Module):
    """Shared parts: the R₁, R₂, b heads and the K steps; subclasses say how Q acts."""

    def __init__(self, *, latent_dim: int, context_dim: int, num_flows: int, num_vecs: int, eps: float) -> None:
        super().__init__()
        self.latent_dim = latent_dim
        self.context_dim = context_dim
        self.num_flows = num_flows
        self.num_vecs = num_vecs
        self.eps = eps
        m = num_vecs
        self.amortize_r = nn.Linear(context_dim, num_flows * m * m)
        self.amortize_diag1 = nn.Linear(context_dim, num_flows * m)
        self.amortize_diag2 = nn.Linear(context_dim, num_flows * m)
        self.amortize_b = nn.Linear(context_dim, num_flows * m)

    def amortize_triangular(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-sample R₁, R₂ (B, K, M, M), upper triangular with tanh diagonals, and b (B, K, M)."""
        shape = (context.shape[0], self.num_flows, self.num_vecs)
        full = self.amortize_r(context).view(*shape, self.num_vecs)
        diag1 = torch.tanh(self.amortize_diag1(context).view(shape))
        diag2 = torch.tanh(self.amortize_diag2(context).view(shape))
        r1 = torch.triu(full, diagonal=1) + torch.diag_embed(diag1)
        r2 = torch.triu(full.transpose(-1, -2), diagonal=1) + torch.diag_embed(diag2)
        return r1, r2, self.amortize_b(context).view(shape)

    def amortize_q(self, context: torch.Tensor) -> torch.Tensor | None:
        """Per-sample parameters of Q (what ``_project``/``_expand`` use), or None where Q is fixed."""
        raise NotImplementedError

    def _project(self, k: int, q: torch.Tensor | None, z: torch.Tensor) -> torch.Tensor:
        """Qᵀ z for step k: (B, D) → (B, M)."""
        return torch.einsum("bdm,bd->bm", q[:, k], z)

    def _expand(self, k: int, q: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
        """Q y for step k: (B, M) → (B, D)."""
        return torch.einsum("bdm,bm->bd", q[:, k], y)

    def forward(self, z: torch.Tensor, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r1, r2, b = self.amortize_triangular(context)
        q = self.amortize_q(context)
        diag_products = torch.diagonal(r1, dim1=-2, dim2=-1) * torch.diagonal(r2, dim1=-2, dim2=-1)
        log_det = z.new_zeros(z.shape[0])
        for k in range(self.num_flows):
            pre = torch.einsum("bij,bj->bi", r2[:, k], self._project(k, q, z)) + b[:, k]
            h = torch.tanh(pre)
            factors = 1.0 + diag_products[:, k] * (1.0 - h**2)
            log_det = log_det + factors.abs().clamp_min(self.eps).log().sum(-1)
            z = z + self._expand(k, q, torch.einsum("bij,bj->bi", r1[:, k], h))
        return z, log_det


class OrthogonalSylvesterFlow(_SylvesterFlow):
    """O-SNF: Q ∈ R^{D×M} amortized, then orthonormalised by Björck iterations."""

    def __init__(
        self,
        *,
        latent_dim: int,
        context_dim: int,
        num_flows: int = 4,
        num_ortho_vecs: int = 8,
        ortho_tolerance: float = 1e-6,
        ortho_max_steps: int = 100,
        eps: float = 1e-12,
    ) -> None:
        if not 1 <= num_ortho_vecs <= latent_dim:
            raise ValueError(f"num_ortho_vecs must be in [1, latent_dim={latent_dim}], got {num_ortho_vecs}")
        super().__init__(
            latent_dim=latent_dim, context_dim=context_dim, num_flows=num_flows, num_vecs=num_ortho_vecs, eps=eps
        )
        self.ortho_tolerance = ortho_tolerance
        self.ortho_max_steps = ortho_max_steps
        self.amortize_q_raw = nn.Linear(context_dim, num_flows * latent_dim * num_ortho_vecs)

    def amortize_q(self, context: torch.Tensor) -> torch.Tensor:
        shape = (context.shape[0], self.num_flows, self.latent_dim, self.num_vecs)
        raw = self.amortize_q_raw(context).view(-1, self.latent_dim, self.num_vecs)
        q = bjorck_orthonormalize(raw, tolerance=self.ortho_tolerance, max_steps=self.ortho_max_steps, eps=self.eps)
        return q.view(shape)

    def q_matrix(self, context: torch.Tensor) -> torch.Tensor:
        """The orthonormalised Q of every step, (B, K, D, M)."""
        return self.amortize_q(context)


class HouseholderSylvesterFlow(_SylvesterFlow):
    """H-SNF: Q = H_H ⋯ H₂ H₁ with amortized reflections H_j = I − 2 v_j v_jᵀ / ‖v_j‖² (M = D).

    Order (Berg et al.'s reference, spec §7): the amortized output of one step is split into
    v₁ … v_H in that order, and each later reflection multiplies on the left, so
    Q = H_H ⋯ H₂ H₁. Q is never formed: Q y = H_H(⋯(H₁ y)) applies H₁ first, and
    Qᵀz = H₁(⋯(H_H z)) applies H_H first (each H_j is symmetric), each reflection costing
    O(D) per sample. ``q_matrix`` builds Q explicitly for inspection.
    """

    def __init__(
        self, *, latent_dim: int, context_dim: int, num_flows: int = 4, num_householder: int = 8, eps: float = 1e-12
    ) -> None:
        if num_householder < 1:
            raise ValueError(f"num_householder must be at least 1, got {num_householder}")
        super().__init__(
            latent_dim=latent_dim, context_dim=context_dim, num_flows=num_flows, num_vecs=latent_dim, eps=eps
        )
        self.num_householder = num_householder
        self.amortize_v = nn.Linear(context_dim, num_flows * num_householder * latent_dim)

    def amortize_q(self, context: torch.Tensor) -> torch.Tensor:
        """Unit reflection vectors v_j / ‖v_j‖ of shape (B, K, H, D)."""
        v = self.amortize_v(context).view(context.shape[0], self.num_flows, self.num_householder, self.latent_dim)
        return v / v.norm(dim=-1, keepdim=True).clamp_min(self.eps)

    @staticmethod
    def _reflect(x: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        """(I − 2 v vᵀ) x for unit v (B, D) and x (B, ..., D)."""
        v = v.view(v.shape[0], *([1] * (x.dim() - 2)), v.shape[-1])
        return x - 2.0 * (x * v).sum(-1, keepdim=True) * v

    def _project(self, k: int, q: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Qᵀz = H₁ H₂ ⋯ H_H z: the last reflection first."""
        for j in reversed(range(self.num_householder)):
            z = self._reflect(z, q[:, k, j])
        return z

    def _expand(self, k: int, q: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Q y = H_H ⋯ H₂ H₁ y: the first reflection first."""
        for j in range(self.num_householder):
            y = self._reflect(y, q[:, k, j])
        return y

    def q_matrix(self, context: torch.Tensor) -> torch.Tensor:
        """The explicit orthogonal Q of every step, (B, K, D, D), built with ``_expand``."""
        q = self.amortize_q(context)
        basis = torch.eye(self.latent_dim, dtype=q.dtype, device=q.device).expand(q.shape[0], -1, -1)
        # Row j of _expand(basis) is Q e_j, i.e. column j of Q.
        return torch.stack([self._expand(k, q, basis).transpose(-1, -2) for k in range(self.num_flows)], dim=1)


class TriangularSylvesterFlow(_SylvesterFlow):
    """T-SNF: Q = I on even steps and the reversal permutation on odd steps (M = D)."""

    def __init__(self, *, latent_dim: int, context_dim: int, num_flows: int = 4, eps: float = 1e-12) -> None:
        super().__init__(
            latent_dim=latent_dim, context_dim=context_dim, num_flows=num_flows, num_vecs=latent_dim, eps=eps
        )

    def amortize_q(self, context: torch.Tensor) -> None:
        return None

    def _project(self, k: int, q: None, z: torch.Tensor) -> torch.Tensor:
        return z.flip(-1) if k % 2 == 1 else z

    # The reversal permutation is symmetric (Pᵀ = P), so Q y is the same operation as Qᵀ z.
    _expand = _project
