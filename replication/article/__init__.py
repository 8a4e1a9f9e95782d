"""The seed article's own experiments (spec §4.1, claims A1–A4), implemented as it describes them.

* :mod:`replication.article.numpy_net` — A1/A2: the NumPy MNIST network with Euler steps and the
  article's hand-written "adjoint" updates.
* :mod:`replication.article.torch_snippets` — A3/A4: the article's "CNF" and "FFJORD" classifiers.
* :mod:`replication.article.run` — one job per (experiment, seed); :mod:`.commands` — the CLI.

Kept free of heavy imports: :mod:`.commands` is imported when the command line is built.
"""
