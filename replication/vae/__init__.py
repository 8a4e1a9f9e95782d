"""The convolutional VAE of Berg et al. (2018), as used for FFJORD's VAE table (spec §3.2–3.3).

- :mod:`~replication.vae.layers`: gated (transposed) convolutions.
- :mod:`~replication.vae.model`: :class:`VAE` (gated-conv encoder/decoder, flow posterior).
- :mod:`~replication.vae.objective`: likelihoods, the (β-weighted) negative ELBO, bits/dim.
- :mod:`~replication.vae.importance`: the importance-sampled NLL estimate of −log p(x).
"""
from replication.vae.importance import LatentVariableModel, importance_sampled_nll
from replication.vae.model import VAE, VAEOutput
from replication.vae.objective import (
    LIKELIHOODS,
    ElboTerms,
    bits_per_dim,
    log_likelihood,
    log_normal_diag,
    log_standard_normal,
    negative_elbo,
    sample_diag_normal,
)

__all__ = [
    "LIKELIHOODS",
    "VAE",
    "ElboTerms",
    "LatentVariableModel",
    "VAEOutput",
    "bits_per_dim",
    "importance_sampled_nll",
    "log_likelihood",
    "log_normal_diag",
    "log_standard_normal",
    "negative_elbo",
    "sample_diag_normal",
]
