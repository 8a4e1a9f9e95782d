"""IAF as Berg et al. built it (issue #14 B.9; spec papers.md §7): counts, masks and ordering."""
from __future__ import annotations

import torch

from replication.flows import build_flow
from replication.flows.iaf import IAF, block_mask
from replication.models import count_parameters
from replication.vae.model import VAE


def test_whole_vae_parameter_counts_equal_the_reference():
    """z = 64, K = 4, MADE width 320, one hidden→hidden layer, width 1."""
    options = {"num_flows": 4, "hidden": 320}
    mnist = VAE(image_shape=(1, 28, 28), likelihood="bernoulli", latent_dim=64, flow="iaf",
                flow_options=options)
    frey = VAE(image_shape=(1, 28, 20), likelihood="categorical256", latent_dim=64, flow="iaf",
               flow_options=options)
    assert count_parameters(mnist) == 3_807_777
    assert count_parameters(frey) == 3_505_152


def test_block_masks_by_hand_and_their_connection_counts():
    # D = 2 → H = 4 (k = 2): output j sees input i iff i ≤ ⌊j/2⌋.
    assert block_mask(2, 4, strict=False).tolist() == [[1, 0], [1, 0], [1, 1], [1, 1]]
    # H = 4 → D = 2, strict (k = 2): output j sees hidden i iff ⌊i/2⌋ < j.
    assert block_mask(4, 2, strict=True).tolist() == [[0, 0, 0, 0], [1, 1, 0, 0]]
    # H → H (k = 1): lower triangular with the diagonal.
    assert torch.equal(block_mask(3, 3, strict=False), torch.tril(torch.ones(3, 3)))
    # §7: connections at D = 64, H = 320: input→hidden 10,400, hidden→output 10,080.
    assert int(block_mask(64, 320, strict=False).sum()) == 10_400
    assert int(block_mask(320, 64, strict=True).sum()) == 10_080


def test_orders_are_original_reversed_reversed_original():
    """With the weights zeroed, step k scales z by its gates σ(b_k + 1) in the order it sees:
    z_i ← z_i · g0[i] · g1[D−1−i] · g2[D−1−i] · g3[i] when odd steps reverse z before them and
    never reverse back (flipping back after each odd step would give g2[i] instead)."""
    D = 4
    flow = build_flow("iaf", latent_dim=D, context_dim=3, num_flows=4, hidden=2 * D).double()
    assert [IAF.reverses_before(k) for k in range(4)] == [False, True, False, True]
    gates = []
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.zero_()
        for k, step in enumerate(flow.steps):
            bias = torch.linspace(-1.0, 1.0, D, dtype=torch.float64) * (k + 1)
            step.gate_layer.bias.copy_(bias)
            gates.append(torch.sigmoid(bias + 1.0))
    z = torch.arange(1.0, D + 1, dtype=torch.float64)[None]
    out, log_det = flow(z, torch.zeros(1, 3, dtype=torch.float64))
    i = torch.arange(D)
    expected = z[0] * gates[0][i] * gates[1][D - 1 - i] * gates[2][D - 1 - i] * gates[3][i]
    torch.testing.assert_close(out[0], expected, rtol=1e-15, atol=0)
    torch.testing.assert_close(log_det[0], sum(g.log().sum() for g in gates))


def test_context_is_added_after_the_elu_and_init_is_kaiming_with_zero_biases():
    torch.manual_seed(0)
    flow = build_flow("iaf", latent_dim=2, context_dim=1, num_flows=1, hidden=4).double()
    step = flow.steps[0]
    for layer in [step.input_layer, *step.hidden_layers, step.mean_layer, step.gate_layer]:
        assert torch.all(layer.bias == 0)
    captured = {}
    step.hidden_layers[0].register_forward_pre_hook(lambda m, a: captured.update(h=a[0]))
    z = torch.tensor([[-3.0, -3.0]], dtype=torch.float64)
    context = flow.context_layer(torch.ones(1, 1, dtype=torch.float64))
    step(z, context)
    expected = torch.nn.functional.elu(step.input_layer(z)) + context
    torch.testing.assert_close(captured["h"], expected, rtol=0, atol=0)
