"""FFJORD's smaller experiments: 2-D toy densities, trace estimator cost, NFE vs latent size."""
