"""Jobs for the article's claims A1–A4: one job = one (experiment, seed), from a JSON-able spec.

Under the job contract (:func:`replication.experiments.base.run_job`: ``provenance.json`` and,
last, ``metrics.json``), every job writes into its folder:

* A1 — ``params.npz`` (the trained NumPy network, input of A2) and ``history.csv`` (online
  accuracy and loss per 1,000 training images).
* A2 — ``rows.csv``: accuracy and time of A1's network at other (n, dt), without retraining.
* A3, A4 — ``batches.csv``: loss, errors, NFE-F, NFE-B and seconds of every training batch.

A spec holds every key of the experiment's ``*_KEYS`` (their values come from the config; a
missing or unknown key is an error) plus ``experiment``, ``seed`` and optionally ``scale``.
The spec is recorded in ``provenance.json`` and ``metrics.json``.
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from replication.measure.provenance import config_hash
from replication.results import write_csv
from replication.train.progress import report

# The keys of each experiment's spec. Their values, the article's protocol at scale paper, are
# in config/config.yaml (scales.<scale>.article): no value is written here. ``None`` subsets mean
# the full split; ``max_steps: None`` the full run.
A1_KEYS = ("steps", "dt", "lr", "epochs", "update", "train_subset", "test_subset", "log_every")
A2_KEYS = ("settings", "test_subset", "params")
A3_KEYS = ("epochs", "batch_size", "train_subset", "test_subset", "max_steps", "eval_batch_size",
           "log_every", "device")
A4_KEYS = (*A3_KEYS, "readout", "solver", "check_solvers", "check_batch_size")
KEYS = {"a1": A1_KEYS, "a2": A2_KEYS, "a3": A3_KEYS, "a4": A4_KEYS}
COSINE_IMAGES = 100  # test images on which A1's update is compared with the exact gradient


def resolve(spec: dict, experiment: str) -> dict:
    """The spec, checked: every key of the experiment and a seed, nothing unknown (``ValueError``
    naming the keys and where their values come from)."""
    if spec.get("experiment", experiment) != experiment:
        raise ValueError(f"spec is for experiment {spec['experiment']!r}, not {experiment!r}")
    keys = set(KEYS[experiment]) | {"seed"}
    unknown = set(spec) - keys - {"experiment", "scale"}
    if unknown:
        raise ValueError(f"unknown keys in the {experiment} spec: {sorted(unknown)}")
    missing = keys - set(spec)
    if missing:
        raise ValueError(f"the {experiment} spec lacks {sorted(missing)}: take the job's spec from "
                         f"`python -m replication plan article --scale <scale>` (config "
                         f"scales.<scale>.article.{experiment})")
    return {**spec, "experiment": experiment}


def _finish(spec: dict, metrics: dict) -> dict:
    """The job's metrics, with what identifies it (the job contract writes them last)."""
    return {**metrics, "experiment": spec["experiment"], "scale": spec.get("scale"),
            "seed": spec["seed"], "config_hash": config_hash(spec), "spec": spec}


def run_a1(spec: dict, *, data_dir: Path, out_dir: Path) -> dict:
    """A1: train the NumPy network for one seed; test accuracy after each pass."""
    from replication.experiments.article import numpy_net as net
    from replication.experiments.article.data import load_article_mnist, normalise_numpy

    spec = resolve(spec, "a1")
    out_dir = Path(out_dir)
    data = load_article_mnist(data_dir, train_subset=spec["train_subset"],
                              test_subset=spec["test_subset"])
    train_x, train_y = normalise_numpy(data.train.images), data.train.labels.numpy()
    test_x, test_y = normalise_numpy(data.test.images), data.test.labels.numpy()
    params = net.init_params(spec["seed"])
    settings = {"steps": spec["steps"], "dt": spec["dt"]}
    history, epoch_seconds, test_accuracies = [], [], []
    for epoch in range(1, spec["epochs"] + 1):
        order = net.epoch_order(spec["seed"], len(train_y), epoch)

        def progress(done: int, total: int, row: dict, epoch: int = epoch) -> None:
            if done % (10 * spec["log_every"]) == 0 or done == total:
                report(f"a1 seed {spec['seed']} epoch {epoch}: {done}/{total} images, "
                       f"{row['seconds']:.0f}s, window accuracy {row['window_accuracy']:.3f}")

        start = time.perf_counter()
        rows = net.train_one_epoch(params, train_x[order], train_y[order], lr=spec["lr"],
                                   update=spec["update"], log_every=spec["log_every"],
                                   progress=progress, **settings)
        epoch_seconds.append(time.perf_counter() - start)
        test_accuracies.append(net.accuracy(params, test_x, test_y, **settings))
        history.extend({"epoch": epoch, **row} for row in rows)
        report(f"a1 seed {spec['seed']} epoch {epoch}: test accuracy {test_accuracies[-1]:.4f}, "
               f"{epoch_seconds[-1]:.0f}s")
    start = time.perf_counter()
    test_accuracy = net.accuracy(params, test_x, test_y, **settings)
    eval_seconds = time.perf_counter() - start
    finite = all(bool(np.isfinite(params[k]).all()) for k in net.DRAW_ORDER)
    # Is the article's backward pass a discrete approximation of the adjoint? Its update vs
    # the exact gradient, on the first COSINE_IMAGES test images, at the trained parameters.
    cosines = net.update_cosines(params, test_x[:COSINE_IMAGES], test_y[:COSINE_IMAGES],
                                 lr=spec["lr"], update=spec["update"], **settings)
    out_dir.mkdir(parents=True, exist_ok=True)
    net.save_params(out_dir / "params.npz", params)
    write_csv(out_dir / "history.csv", history)
    return _finish(spec, {
        "test_accuracy": test_accuracy,
        "test_error": 1.0 - test_accuracy,
        "test_accuracy_per_epoch": test_accuracies,
        "train_accuracy": net.accuracy(params, train_x, train_y, **settings),
        "epoch_seconds": float(np.mean(epoch_seconds)),
        "seconds_per_image": float(np.mean(epoch_seconds)) / max(len(train_y), 1),
        "eval_seconds": eval_seconds,
        "train_size": len(train_y),
        "test_size": len(test_y),
        "parameters": int(sum(params[k].size for k in ("w1", "b1", "w2", "b2", "w3", "b3"))),
        "params_finite": finite,
        "params_aliased": net.is_aliased(params),
        "final_window_accuracy": history[-1]["window_accuracy"],
        "adjoint_update_cosine": cosines,
        "adjoint_update_cosine_images": min(COSINE_IMAGES, len(test_y)),
        "T": spec["steps"] * spec["dt"],
    })


def run_a2(spec: dict, *, params_path: Path, data_dir: Path, out_dir: Path) -> dict:
    """A2: evaluate A1's trained network (``params.npz``) at other (n, dt) settings."""
    from replication.experiments.article import numpy_net as net
    from replication.experiments.article.data import load_article_mnist, normalise_numpy

    spec = resolve(spec, "a2")
    out_dir = Path(out_dir)
    data = load_article_mnist(data_dir, test_subset=spec["test_subset"], train_subset=1)
    params = net.load_params(params_path)
    rows = net.evaluate_step_settings(params, normalise_numpy(data.test.images),
                                      data.test.labels.numpy(), spec["settings"])
    for row in rows:
        report(f"a2 n={row['n']} dt={row['dt']} T={row['T']:.4g}: accuracy "
               f"{row['accuracy']:.4f} ({row['seconds']:.2f}s)")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "rows.csv", rows)
    accuracies = [r["accuracy"] for r in rows]
    return _finish(spec, {
        "rows": rows, "params": str(params_path), "test_size": len(data.test),
        "accuracy_min": min(accuracies), "accuracy_max": max(accuracies),
    })


def _step_reporter(name: str, spec: dict):
    def progress(record) -> None:
        if record.batch % spec["log_every"] == 0 or record.batch == 1:
            report(f"{name} seed {spec['seed']} epoch {record.epoch} batch {record.batch}: "
                   f"loss {record.loss:.4f} NFE-F {record.nfe_forward} NFE-B "
                   f"{record.nfe_backward} {record.seconds:.3f}s")
    return progress


def _write_torch_run(out_dir: Path, spec: dict, result: dict) -> dict:
    out_dir = Path(out_dir)
    records = result.pop("records")
    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "batches.csv", records)
    return _finish(spec, result)


def _solver(settings: dict) -> dict:
    """A spec's solver ``{method, rtol?, atol?, step_size?}`` → keyword arguments of the model."""
    settings = dict(settings)
    step_size = settings.pop("step_size", None)
    unknown = set(settings) - {"method", "rtol", "atol"}
    if unknown:
        raise ValueError(f"unknown solver settings: {sorted(unknown)}")
    return {"method": settings["method"], "rtol": settings.get("rtol", 1e-7),
            "atol": settings.get("atol", 1e-9),
            "options": None if step_size is None else {"step_size": step_size}}


def run_a3(spec: dict, *, data_dir: Path, out_dir: Path) -> dict:
    """A3: the article's "CNF" classifier for one seed."""
    from replication.experiments.article.data import load_article_mnist
    from replication.experiments.article.torch_snippets import train_cnf_classifier

    spec = resolve(spec, "a3")
    data = load_article_mnist(data_dir, train_subset=spec["train_subset"],
                              test_subset=spec["test_subset"])
    result = train_cnf_classifier(
        train=data.train, test=data.test, epochs=spec["epochs"], batch_size=spec["batch_size"],
        seed=spec["seed"], max_steps=spec["max_steps"], eval_batch_size=spec["eval_batch_size"],
        device=spec["device"], progress=_step_reporter("a3", spec))
    report(f"a3 seed {spec['seed']}: test accuracy {result['test_accuracy']:.4f} after "
           f"{result['steps']} steps, {result['step_seconds']:.4f}s/step")
    return _write_torch_run(out_dir, spec, result)


def run_a4(spec: dict, *, data_dir: Path, out_dir: Path) -> dict:
    """A4: the article's "FFJORD" classifier for one seed, with the log-density check."""
    from replication.experiments.article.data import load_article_mnist
    from replication.experiments.article.torch_snippets import train_ffjord_classifier

    spec = resolve(spec, "a4")
    data = load_article_mnist(data_dir, train_subset=spec["train_subset"],
                              test_subset=spec["test_subset"])
    result = train_ffjord_classifier(
        train=data.train, test=data.test, epochs=spec["epochs"], batch_size=spec["batch_size"],
        seed=spec["seed"], max_steps=spec["max_steps"], eval_batch_size=spec["eval_batch_size"],
        readout=spec["readout"], solver=_solver(spec["solver"]),
        check_solvers={k: _solver(v) for k, v in spec["check_solvers"].items()},
        check_batch_size=spec["check_batch_size"], device=spec["device"],
        progress=_step_reporter("a4", spec))
    report(f"a4 seed {spec['seed']} readout {spec['readout']}: test accuracy "
           f"{result['test_accuracy']:.4f} after {result['steps']} steps, "
           f"{result['step_seconds']:.3f}s/step, NFE-F {result['nfe_forward_per_batch']:.1f} "
           f"NFE-B {result['nfe_backward_per_batch']:.1f}")
    return _write_torch_run(out_dir, spec, result)


def run(spec: dict, job) -> dict:
    """One article job under the job contract: A1–A4 by ``spec['experiment']``."""
    experiment = spec["experiment"]
    if experiment == "a2":
        return run_a2(spec, params_path=job.upstream("params"), data_dir=job.data_dir,
                      out_dir=job.out_dir)
    runners = {"a1": run_a1, "a3": run_a3, "a4": run_a4}
    if experiment not in runners:
        raise ValueError(f"unknown article experiment {experiment!r}; known: a1, a2, a3, a4")
    return runners[experiment](spec, data_dir=job.data_dir, out_dir=job.out_dir)
