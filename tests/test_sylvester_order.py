"""Sylvester H: the Householder product in the reference's order (issue #14 B.11; §7)."""
from __future__ import annotations

import torch

from replication.flows import build_flow


def test_q_is_the_later_reflections_times_the_earlier():
    """Q = H_M ⋯ H₂ H₁ with v₁ … v_M cut from the amortized output in that order."""
    torch.manual_seed(0)
    D, M = 3, 2
    flow = build_flow("sylvester_h", latent_dim=D, context_dim=4, num_flows=1,
                      num_householder=M).double()
    context = torch.randn(1, 4, dtype=torch.float64)
    raw = flow.amortize_v(context).view(M, D)  # v₁, v₂ in the head's output order
    eye = torch.eye(D, dtype=torch.float64)
    H1, H2 = (eye - 2 * torch.outer(v, v) / v.dot(v) for v in raw)
    expected = H2 @ H1
    assert not torch.allclose(expected, H1 @ H2)  # the order matters for these vectors
    torch.testing.assert_close(flow.q_matrix(context)[0, 0], expected)
    # the flow itself uses Qᵀz and Q y of that Q
    q = flow.amortize_q(context)
    z = torch.randn(1, D, dtype=torch.float64)
    torch.testing.assert_close(flow._project(0, q, z)[0], expected.T @ z[0])
    torch.testing.assert_close(flow._expand(0, q, z)[0], expected @ z[0])
