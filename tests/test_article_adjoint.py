"""Article A1's backward pass against the exact gradient (issue #14 A.8)."""
from __future__ import annotations

import json

import numpy as np

from replication.claims.verdicts import NOT_REPRODUCED, REPRODUCED, evaluate_claims, load_claims
from replication.experiments.article import numpy_net as net


def test_update_cosines_are_one_where_the_rule_is_the_gradient_up_to_scale():
    params = net.init_params(0)
    rng = np.random.default_rng(1)
    images, labels = rng.normal(size=(8, 784)), rng.integers(0, 10, 8)
    for x, label in zip(images[:3], labels[:3]):  # past the first image: W2, b2 aliased
        net.train_step(params, x, int(label), lr=0.7, steps=5, dt=0.002)
    before = {k: params[k].copy() for k in net.DRAW_ORDER}
    cosines = net.update_cosines(params, images[3:], labels[3:], lr=0.7, steps=5, dt=0.002)
    # W3's update is e·outer(z, E) and −∂L/∂W3 = 0.05·outer(z, E): the same direction
    assert abs(cosines["w3"] - 1) < 1e-12 and abs(cosines["b3"] - 1) < 1e-12
    assert all(-1 <= v <= 1 for v in cosines.values())
    for k in net.DRAW_ORDER:  # measured on copies: the trained parameters are untouched
        assert np.array_equal(params[k], before[k])


def test_the_claim_reads_every_runs_cosines(tmp_path):
    claim = next(c for c in load_claims() if c["id"] == "article.a1.discrete_adjoint")
    for seed, w2 in ((0, 0.95), (1, 0.7)):
        run = tmp_path / "results" / "article" / "a1" / f"seed{seed}"
        run.mkdir(parents=True)
        cosines = {"w1": 0.99, "b1": 0.99, "w2": w2, "b2": 0.95, "w3": 1.0, "b3": 1.0}
        (run / "metrics.json").write_text(json.dumps({"adjoint_update_cosine": cosines}))
    row = evaluate_claims([claim], results=tmp_path / "results", figures=tmp_path,
                          scale="cpu").iloc[0]
    assert row["verdict"] == NOT_REPRODUCED and "w2 +0.70" in row["measured"]
    (tmp_path / "results" / "article" / "a1" / "seed1" / "metrics.json").write_text(json.dumps(
        {"adjoint_update_cosine": {"w1": 0.99, "b1": 0.99, "w2": 0.93, "b2": 0.95}}))
    row = evaluate_claims([claim], results=tmp_path / "results", figures=tmp_path,
                          scale="cpu").iloc[0]
    assert row["verdict"] == REPRODUCED
