"""Discrete VAE posterior flows: exact log-determinants, orthogonality, masks, counts, registry."""
import pytest
import torch

from replication.flows import FLOWS, build_flow

D, C, B = 5, 7, 4  # small latent and context sizes, several samples

# The discrete flows tested here; "ffjord" (the CNF) shares the registry but has its own tests.
DISCRETE = {"none", "planar", "iaf", "sylvester_o", "sylvester_h", "sylvester_t"}
EXPECTED_NAMES = DISCRETE | {"ffjord"}

# Options for the exactness check. O-SNF's log-det formula assumes QᵀQ = I exactly; with the default
# Björck tolerance (1e-6) it is exact only to ~1e-6, so the float64 check asks for a tight tolerance.
# num_ortho_vecs < D exercises the rectangular Q; num_flows = 3 mixes both T-SNF permutations.
EXACTNESS_OPTIONS = {
    "none": {},
    "planar": {"num_flows": 3},
    "iaf": {"num_flows": 3, "hidden": 15},  # a multiple of D = 5 (block masks)
    "sylvester_o": {"num_flows": 3, "num_ortho_vecs": 3, "ortho_tolerance": 1e-13},
    "sylvester_h": {"num_flows": 3, "num_householder": 3},
    "sylvester_t": {"num_flows": 3},
}


def _flow(name, dtype=torch.float64, **options):
    if name == "sylvester_o":
        options.setdefault("num_ortho_vecs", 3)  # the default M = 8 exceeds D = 5
    torch.manual_seed(0)
    return build_flow(name, latent_dim=D, context_dim=C, **options).to(dtype)


def _inputs(dtype=torch.float64, scale=1.0):
    generator = torch.Generator().manual_seed(1)
    z = torch.randn(B, D, generator=generator, dtype=dtype)
    context = scale * torch.randn(B, C, generator=generator, dtype=dtype)
    return z, context


def _jacobians(flow, z, context):
    """Per-sample Jacobians ∂z_K/∂z_0, (B, D, D), with the context held fixed."""
    return torch.stack(
        [
            torch.autograd.functional.jacobian(lambda x: flow(x[None], context[i : i + 1])[0][0], z[i])
            for i in range(z.shape[0])
        ]
    )


def test_registry_lists_exactly_the_expected_flows():
    assert set(FLOWS) == EXPECTED_NAMES
    assert set(PARAMETER_COUNTS) == DISCRETE


def test_unknown_flow_names_the_known_ones():
    with pytest.raises(KeyError, match=r"unknown flow 'radial'.*iaf.*none.*planar.*sylvester_h"):
        build_flow("radial", latent_dim=D, context_dim=C)


@pytest.mark.parametrize("name", sorted(DISCRETE - {"none"}))
def test_hyperparameters_are_keyword_only(name):
    with pytest.raises(TypeError):
        FLOWS[name](D, C)


@pytest.mark.parametrize("name", sorted(DISCRETE))
def test_log_det_equals_slogdet_of_the_autograd_jacobian(name):
    flow = _flow(name, **EXACTNESS_OPTIONS[name])
    # Context scaled up so that amortized parameters are far from their near-zero initial values.
    z, context = _inputs(scale=3.0)
    _, log_det = flow(z, context)
    sign, expected = torch.linalg.slogdet(_jacobians(flow, z, context))
    assert (sign > 0).all()  # every flow here is orientation-preserving
    torch.testing.assert_close(log_det, expected, rtol=0, atol=1e-8)
    if name != "none":
        assert expected.abs().min() > 1e-3  # the check is not vacuous


@pytest.mark.parametrize("name", sorted(DISCRETE))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_shapes_and_dtypes(name, dtype):
    flow = _flow(name, dtype=dtype)
    z, context = _inputs(dtype=dtype)
    z_k, log_det = flow(z, context)
    assert z_k.shape == (B, D) and z_k.dtype == dtype
    assert log_det.shape == (B,) and log_det.dtype == dtype
    assert torch.isfinite(z_k).all() and torch.isfinite(log_det).all()


@pytest.mark.parametrize("name", sorted(DISCRETE - {"none"}))
def test_gradients_reach_the_context_and_every_head(name):
    flow = _flow(name)
    z, context = _inputs()
    context.requires_grad_(True)
    z_k, log_det = flow(z, context)
    (z_k.square().sum() - log_det.sum()).backward()
    assert context.grad is not None and context.grad.abs().sum() > 0
    for parameter_name, parameter in flow.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, parameter_name


def test_orthogonal_sylvester_q_is_orthonormal():
    flow = _flow("sylvester_o", num_ortho_vecs=3)
    _, context = _inputs(scale=3.0)
    q = flow.q_matrix(context)
    assert q.shape == (B, 4, D, 3)
    gram = q.transpose(-1, -2) @ q
    torch.testing.assert_close(gram, torch.eye(3, dtype=q.dtype).expand_as(gram), rtol=0, atol=1e-6)


def test_orthogonal_sylvester_q_is_orthonormal_in_float32_at_full_size():
    torch.manual_seed(0)
    flow = build_flow("sylvester_o", latent_dim=64, context_dim=32, num_ortho_vecs=8)
    q = flow.q_matrix(torch.randn(16, 32))
    gram = q.transpose(-1, -2) @ q
    torch.testing.assert_close(gram, torch.eye(8).expand_as(gram), rtol=0, atol=1e-6)


def test_num_ortho_vecs_cannot_exceed_the_latent_dimension():
    with pytest.raises(ValueError, match="num_ortho_vecs"):
        build_flow("sylvester_o", latent_dim=D, context_dim=C, num_ortho_vecs=D + 1)


def test_householder_sylvester_q_is_orthogonal():
    flow = _flow("sylvester_h")
    _, context = _inputs(scale=3.0)
    q = flow.q_matrix(context)
    assert q.shape == (B, 4, D, D)
    eye = torch.eye(D, dtype=q.dtype).expand_as(q)
    torch.testing.assert_close(q.transpose(-1, -2) @ q, eye, rtol=0, atol=1e-10)
    torch.testing.assert_close(q @ q.transpose(-1, -2), eye, rtol=0, atol=1e-10)
    assert (q - eye).abs().max() > 0.1  # a genuine rotation/reflection, not the identity


def test_planar_invertibility_condition_holds_for_random_amortized_parameters():
    flow = _flow("planar", num_flows=6)
    with torch.no_grad():
        for parameter in flow.parameters():
            parameter.normal_(0.0, 2.0)  # push wᵀu far from the constraint in both directions
    _, context = _inputs(scale=3.0)
    u_hat, w, _ = flow.amortize(context)
    w_u_hat = (w * u_hat).sum(-1)
    assert (w_u_hat < -0.99).any() and (w_u_hat > 1).any()  # both sides of the constraint were hit
    # wᵀû = −1 + softplus(wᵀu) > −1 exactly; when softplus underflows, rounding may land a few ulps below.
    assert (w_u_hat >= -1 - 1e-12).all()
    _, log_det = flow(*_inputs(scale=3.0))
    assert torch.isfinite(log_det).all()


@pytest.mark.parametrize("dim", [1, 2, 5])
def test_iaf_steps_are_autoregressive(dim):
    torch.manual_seed(0)
    flow = build_flow("iaf", latent_dim=dim, context_dim=C, num_flows=2, hidden=5 * dim).double()
    z = torch.randn(dim, dtype=torch.float64)
    context_hidden = flow.context_layer(torch.randn(1, C, dtype=torch.float64))
    for step in flow.steps:
        jacobian = torch.autograd.functional.jacobian(lambda x: step(x[None], context_hidden)[0][0], z)
        # Each step, in the order it sees z (odd steps see it reversed, before the step),
        # makes z'_i depend on z_{≤i} only: lower triangular.
        torch.testing.assert_close(jacobian, torch.tril(jacobian), rtol=0, atol=0)
        diagonal = torch.diagonal(jacobian)
        assert ((diagonal > 0) & (diagonal < 1)).all()  # σ(s) on the diagonal
        if dim > 1:
            off_diagonal = jacobian - torch.diag(diagonal)
            assert off_diagonal.abs().sum() > 0  # the masks do let earlier variables through


def test_iaf_gates_start_towards_one():
    torch.manual_seed(0)
    flow = build_flow("iaf", latent_dim=64, context_dim=C)
    _, log_det = flow(torch.randn(32, 64), torch.randn(32, C))
    mean_log_gate = log_det / (4 * 64)
    assert (mean_log_gate > torch.nn.functional.logsigmoid(torch.tensor(0.0))).all()  # mean σ(s) > 1/2


# Parameter counts at D = 64, C = 256 with the default hyperparameters (K = 4 steps everywhere).
# A Linear(a → b) has a·b + b parameters.
PARAMETER_COUNTS = {
    "none": 0,
    # u: 256·(4·64) + 256 = 65,792; w: the same, 65,792; b: 256·4 + 4 = 1,028.
    "planar": 65_792 + 65_792 + 1_028,  # = 132,612
    # context Linear(256 → 320): 256·320 + 320 = 82,240; per step (hidden = 320, masks not counted):
    # MADE in 64·320 + 320 = 20,800; hidden→hidden 320·320 + 320 = 102,720; mean out
    # 320·64 + 64 = 20,544; gate out 20,544 → 164,608 × 4 (Berg et al.'s num_hidden = 1).
    "iaf": 82_240 + 4 * (20_800 + 102_720 + 20_544 + 20_544),  # = 740,672
    # M = 8: R matrix Linear(256 → 4·8·8 = 256): 65,792; diag1, diag2, b: Linear(256 → 32) = 8,224 each;
    # Q: Linear(256 → 4·64·8 = 2,048): 524,288 + 2,048 = 526,336.
    "sylvester_o": 65_792 + 3 * 8_224 + 526_336,  # = 616,800
    # M = D = 64: R matrix Linear(256 → 4·64·64 = 16,384): 4,194,304 + 16,384 = 4,210,688;
    # diag1, diag2, b: Linear(256 → 256) = 65,792 each; H = 8 vectors: Linear(256 → 4·8·64 = 2,048) = 526,336.
    "sylvester_h": 4_210_688 + 3 * 65_792 + 526_336,  # = 4,934,400
    # as H-SNF without the reflection vectors.
    "sylvester_t": 4_210_688 + 3 * 65_792,  # = 4,408,064
}


@pytest.mark.parametrize("name", sorted(DISCRETE))
def test_parameter_counts_at_full_width(name):
    flow = build_flow(name, latent_dim=64, context_dim=256)
    assert sum(p.numel() for p in flow.parameters()) == PARAMETER_COUNTS[name]
