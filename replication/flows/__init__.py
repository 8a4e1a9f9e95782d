"""Normalizing flows used as VAE posteriors, by name (Berg et al. 2018; FFJORD §4.3).

Every flow is an ``nn.Module`` built by ``build_flow(name, latent_dim=..., context_dim=...,
**hyperparameters)`` whose ``forward(z, context)`` maps samples ``z`` of shape ``(B, D)``
drawn from the base posterior to ``(z_K, log_det)``: the transformed samples ``(B, D)`` and
``log |det ∂z_K/∂z|`` per sample ``(B,)``. Flow parameters are *amortized*: computed from
the encoder's features ``context`` of shape ``(B, C)`` by the flow's own linear heads.
"""
from replication.registry import Registry

FLOWS = Registry(
    "flow",
    {
        "none": "replication.flows.identity:IdentityFlow",
        "planar": "replication.flows.planar:PlanarFlow",
        "iaf": "replication.flows.iaf:IAF",
        "sylvester_o": "replication.flows.sylvester:OrthogonalSylvesterFlow",
        "sylvester_h": "replication.flows.sylvester:HouseholderSylvesterFlow",
        "sylvester_t": "replication.flows.sylvester:TriangularSylvesterFlow",
        "ffjord": "replication.flows.ffjord:FFJORDFlow",
    },
)


def build_flow(name: str, *, latent_dim: int, context_dim: int, **hyperparameters):
    """Build the registered flow *name* for ``latent_dim``-dimensional samples."""
    return FLOWS[name](latent_dim=latent_dim, context_dim=context_dim, **hyperparameters)


__all__ = ["FLOWS", "build_flow"]
