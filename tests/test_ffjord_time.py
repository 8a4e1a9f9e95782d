"""FFJORD's solver sees the reference's time t ∈ [0, T] (issue #14 B.10; spec papers.md §7)."""
from __future__ import annotations

import pytest
import torch
from torchdiffeq import odeint

from replication.flows.ffjord import FFJORDFlow
from replication.ode.trace import exact_trace


def _flow(num_blocks: int, T: float, seed: int) -> FFJORDFlow:
    torch.manual_seed(seed)
    flow = FFJORDFlow(latent_dim=6, context_dim=5, hidden_dims=(16, 16), rank=2,
                      num_blocks=num_blocks, T=T, rtol=1e-5, atol=1e-5).double()
    with torch.no_grad():  # amortized weights away from zero, so the dynamics are not trivial
        for head in flow.heads:
            head.weight.normal_(0, 0.3, generator=torch.Generator().manual_seed(seed))
    return flow.eval()


def _plain_nfe(flow: FFJORDFlow, z: torch.Tensor, context: torch.Tensor, T: float) -> int:
    """dopri5 at the flow's tolerance on the same augmented dynamics (f, tr ∂f/∂z), over [0, T],
    block after block: the number of evaluations it needs."""
    calls = 0
    for head, block in zip(flow.heads, flow.blocks):
        net = block.odefunc.dynamics.dynamics
        extra = net.split(head(context))

        def f(t, state):
            nonlocal calls
            calls += 1
            with torch.enable_grad():
                x = state[0].detach().requires_grad_(True)
                dz = net(t, x, *extra)
                return dz.detach(), exact_trace(dz, x, create_graph=False).detach()

        zs, _ = odeint(f, (z, z.new_zeros(z.shape[0])), torch.tensor([0.0, T], dtype=z.dtype),
                       method="dopri5", rtol=1e-5, atol=1e-5)
        z = zs[-1]
    return calls


# Seeds where integrating s ∈ [0, 1] with T·f (the old way) takes other steps: 56 vs 62 NFE
# for (1, 0.5, 1), 190 vs 172 for (1, 2.0, 0).
@pytest.mark.parametrize("num_blocks,T,seed", [(1, 0.5, 1), (2, 0.5, 1), (1, 2.0, 0)])
def test_flow_nfe_equals_a_plain_odeint_over_zero_to_T(num_blocks, T, seed):
    flow = _flow(num_blocks, T, seed)
    z = torch.randn(7, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    context = torch.randn(7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        before = flow.calls
        flow(z, context)
        nfe = flow.calls - before
        assert nfe == _plain_nfe(flow, z, context, T)


def test_a_trained_T_gets_the_same_gradient_from_the_adjoint_and_backprop():
    from replication.experiments.toy_density.run import ToyODENet
    from replication.flows.ffjord import CNF

    grads = []
    for gradient in ("adjoint", "backprop"):
        torch.manual_seed(0)
        cnf = CNF(ToyODENet(dim=2, hidden_dims=(8,)), T=0.5, train_T=True, gradient=gradient,
                  trace="exact", rtol=1e-8, atol=1e-8).double()
        z_T, log_det = cnf(torch.randn(5, 2, dtype=torch.float64))
        (z_T.sum() + log_det.sum()).backward()
        grads.append(cnf.odefunc.dynamics.log_T.grad)
    assert grads[0] != 0
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-5, atol=1e-8)
