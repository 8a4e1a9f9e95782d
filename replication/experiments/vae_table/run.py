"""One job of FFJORD's VAE table: one VAE for one (dataset, flow, seed).

:func:`run` follows the protocol of Berg et al. (2018), which FFJORD's VAE experiment
"exactly mirrors": minibatches of 100, KL warm-up β = min(epoch / warmup, 1), model
selection on the validation −ELBO, early stopping once the validation −ELBO has not
improved for ``patience`` epochs after the warm-up. Where the FFJORD paper and the
authors' code disagree (optimizer, learning rate, patience) the config names the choice.
The selected model's test −ELBO and importance-sampled negative log-likelihood are
reported, in nats (and bits per dimension for Frey Faces).

Every epoch is checkpointed outside the declared outputs (``job.checkpoint()``), with the
random number generator's state, so a killed job resumes where it stopped and ends with the
same numbers as an uninterrupted one; only the same spec and code fingerprint resume a
checkpoint, and the job contract (:func:`replication.experiments.base.run_job`) deletes it once
the job is complete.
"""
from __future__ import annotations

import copy
import statistics
import time
from dataclasses import dataclass

import torch

from replication.data.catalog import load_image_dataset
from replication.data.images import evaluation_batches, training_batches
from replication.measure.memory import peak_memory
from replication.measure.provenance import config_hash
from replication.models import count_parameters
from replication.ode import NFECounter
from replication.results import write_csv
from replication.train.progress import report
from replication.train.seeding import epoch_generator
from replication.train.vae import evaluate, train_epoch, training_step, warmup_beta
from replication.vae.importance import importance_sampled_nll
from replication.vae.model import VAE
from replication.vae.objective import bits_per_dim

OUTPUT_FILES = ("history.csv",)  # besides provenance.json and metrics.json


@dataclass(frozen=True, kw_only=True)
class Training:
    optimizer: str
    lr: float
    eps: float
    batch_size: int
    max_epochs: int
    warmup_epochs: int
    patience: int
    eval_batch_size: int


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    is_samples: int
    is_chunk: int
    is_test_subset: int | None


OPTIMIZERS = {"adamax": torch.optim.Adamax, "adam": torch.optim.Adam}
# Importance sampling decodes (test images per pass) × is_chunk samples at once; about this many.
IS_IMAGES_PER_PASS = 2000


def build_vae(spec: dict, image_shape: tuple[int, int, int], likelihood: str) -> VAE:
    model = spec["model"]
    return VAE(image_shape=image_shape, likelihood=likelihood, latent_dim=model["latent_dim"],
               width=model["width"], flow=spec["flow"], flow_options=model["flow_options"])


def run(spec: dict, job) -> dict:
    """Train, select, evaluate and measure one VAE; write ``OUTPUT_FILES`` to ``job.out_dir``."""
    training = Training(**spec["training"])
    evaluation = Evaluation(**spec["evaluation"])
    device = torch.device(spec["device"])
    seed = spec["seed"]

    data_options = spec["data"]
    data = load_image_dataset(spec["dataset"], job.data_dir, split_seed=data_options["split_seed"])
    data = data.subset(train=data_options["train_subset"],
                       validation=data_options["validation_subset"],
                       test=data_options["test_subset"])
    model = build_vae(spec, data.image_shape, data.likelihood).to(device)
    try:
        optimizer_class = OPTIMIZERS[training.optimizer]
    except KeyError:
        raise ValueError(f"unknown optimizer {training.optimizer!r}; "
                         f"known: {', '.join(OPTIMIZERS)}") from None
    optimizer = optimizer_class(model.parameters(), lr=training.lr, eps=training.eps)

    checkpoint = job.checkpoint()
    state = checkpoint.load()
    if state is None:
        state = {"epoch": 0, "history": [], "best": None, "epochs_without_improvement": 0}
    else:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        report(f"resuming {job.name} after epoch {state['epoch']} from {checkpoint.path}")

    batch_count = len(data.train) // training.batch_size
    if batch_count == 0:
        raise ValueError(f"{spec['dataset']}: {len(data.train)} training images do not fill one "
                         f"batch of {training.batch_size}; lower batch_size or the subset")
    name = f"{spec['dataset']}/{spec['flow']} s{seed}"
    while state["epoch"] < training.max_epochs and not _stopped(state, training):
        epoch = state["epoch"] + 1
        beta = warmup_beta(epoch, warmup_epochs=training.warmup_epochs)
        batches = training_batches(data, batch_size=training.batch_size,
                                   generator=epoch_generator(seed, epoch))
        records = train_epoch(model, optimizer, batches, batch_count=batch_count, beta=beta,
                              device=device, description=f"{name} epoch {epoch}")
        validation = evaluate(model, evaluation_batches(
            data.validation, batch_size=training.eval_batch_size), device=device)
        row = _epoch_row(epoch, beta, records, validation)
        state["history"].append(row)
        if state["best"] is None or validation.neg_elbo < state["best"]["validation_neg_elbo"]:
            state["best"] = {"epoch": epoch, "validation_neg_elbo": validation.neg_elbo,
                             "model": copy.deepcopy(model.state_dict())}
            state["epochs_without_improvement"] = 0
        elif epoch > training.warmup_epochs:  # Berg et al.: patience counts after the warm-up
            state["epochs_without_improvement"] += 1
        state.update(epoch=epoch, model=model.state_dict(), optimizer=optimizer.state_dict(),
                     rng=torch.get_rng_state())
        checkpoint.save(state)
        report(f"{name} epoch {epoch}/{training.max_epochs} beta {beta:.3g} "
               f"train loss {row['train_loss']:.3f} val -ELBO {validation.neg_elbo:.3f} "
               f"NFE-F {row['nfe_forward_per_batch']:.1f} NFE-B {row['nfe_backward_per_batch']:.1f}"
               f" {row['epoch_seconds']:.1f}s")

    metrics = _final_metrics(spec, model, optimizer, data, state, training, evaluation, device)
    write_csv(job.out_dir / "history.csv", state["history"])
    return metrics


def _stopped(state: dict, training: Training) -> bool:
    return state["epochs_without_improvement"] >= training.patience


def _epoch_row(epoch: int, beta: float, records, validation) -> dict:
    seconds = sum(r.seconds for r in records)
    images = sum(r.size for r in records)
    return {
        "epoch": epoch,
        "beta": beta,
        "train_loss": sum(r.loss * r.size for r in records) / images,
        "train_reconstruction": sum(r.reconstruction * r.size for r in records) / images,
        "train_kl": sum(r.kl * r.size for r in records) / images,
        "validation_neg_elbo": validation.neg_elbo,
        "validation_reconstruction": validation.reconstruction,
        "validation_kl": validation.kl,
        "nfe_forward_per_batch": statistics.fmean(r.nfe_forward for r in records),
        "nfe_backward_per_batch": statistics.fmean(r.nfe_backward for r in records),
        "nfe_forward_per_epoch": sum(r.nfe_forward for r in records),
        "nfe_backward_per_epoch": sum(r.nfe_backward for r in records),
        "validation_nfe_forward_per_batch": validation.nfe_forward_per_batch,
        "epoch_seconds": seconds,
        "step_seconds": seconds / len(records),
    }


def _final_metrics(spec, model, optimizer, data, state, training: Training,
                   evaluation: Evaluation, device) -> dict:
    history = state["history"]
    selected = copy.deepcopy(model)
    selected.load_state_dict(state["best"]["model"])
    test = evaluate(selected, evaluation_batches(data.test, batch_size=training.eval_batch_size),
                    device=device)
    nll, nll_seconds, nll_images = _importance_sampled_nll(selected, data, evaluation, device)
    # the −ELBO on the images the NLL is estimated on, so the table can set the two side by side
    is_test = evaluate(selected, evaluation_batches(data.test[:nll_images],
                                                    batch_size=training.eval_batch_size),
                       device=device)
    memory = _training_step_memory(model, optimizer, data, training, device)
    unit = "bits/dim" if data.likelihood == "categorical256" else "nats"
    report_value = (lambda nats: bits_per_dim(nats, image_shape=data.image_shape)) if (
        unit == "bits/dim") else (lambda nats: nats)
    return {
        "experiment": "vae",
        "scale": spec["scale"],
        "dataset": spec["dataset"],
        "flow": spec["flow"],
        "seed": spec["seed"],
        "device": str(device),
        "unit": unit,
        # the table's values, in the table's unit (nats; bits/dim for Frey Faces)
        "neg_elbo": report_value(test.neg_elbo),
        "nll": report_value(nll),
        # always in nats per data point, for every dataset
        "neg_elbo_nats": test.neg_elbo,
        "nll_nats": nll,
        "test_reconstruction_nats": test.reconstruction,
        "test_kl_nats": test.kl,
        "validation_neg_elbo_nats": state["best"]["validation_neg_elbo"],
        "selected_epoch": state["best"]["epoch"],
        "epochs": len(history),
        "stopped_early": _stopped(state, training),
        "is_samples": evaluation.is_samples,
        "is_test_images": nll_images,
        "is_neg_elbo": report_value(is_test.neg_elbo),
        "is_seconds": nll_seconds,
        "parameters": count_parameters(model),
        "flow_parameters": count_parameters(model.flow),
        "peak_memory_bytes": memory.bytes,
        "memory_method": memory.method,
        "saved_tensor_bytes": memory.saved_bytes,
        "epoch_seconds": statistics.fmean(h["epoch_seconds"] for h in history),
        "step_seconds": statistics.fmean(h["step_seconds"] for h in history),
        "nfe_forward_per_batch": history[-1]["nfe_forward_per_batch"],
        "nfe_backward_per_batch": history[-1]["nfe_backward_per_batch"],
        "test_nfe_forward_per_batch": test.nfe_forward_per_batch,
        "train_size": len(data.train),
        "validation_size": len(data.validation),
        "test_size": len(data.test),
        "batch_size": training.batch_size,
        "config_hash": config_hash(spec),
    }


def _importance_sampled_nll(model, data, evaluation: Evaluation, device) -> tuple[float, float, int]:
    """Mean IS estimate of −log p(x) in nats over the (first ``is_test_subset``) test images."""
    images = data.test if evaluation.is_test_subset is None else data.test[:evaluation.is_test_subset]
    generator = torch.Generator(device=device).manual_seed(0)
    model.eval()  # FFJORD: the exact trace, not Hutchinson's estimate
    start = time.perf_counter()
    total = 0.0
    batch_size = max(1, IS_IMAGES_PER_PASS // evaluation.is_chunk)
    batches = list(evaluation_batches(images, batch_size=batch_size))
    for index, batch in enumerate(batches, start=1):
        total += importance_sampled_nll(model, batch.to(device), samples=evaluation.is_samples,
                                        chunk=evaluation.is_chunk, generator=generator).sum().item()
        if index % max(1, len(batches) // 10) == 0 or index == len(batches):
            report(f"IS-NLL: {index}/{len(batches)} batches, {time.perf_counter() - start:.0f}s")
    return total / len(images), time.perf_counter() - start, len(images)


def _training_step_memory(model, optimizer, data, training: Training, device):
    """Peak memory of one training step (β = 1) on a copy; the first step allocates state."""
    trial = copy.deepcopy(model)
    trial_optimizer = type(optimizer)(trial.parameters(), **optimizer.defaults)
    images = next(training_batches(data, batch_size=training.batch_size,
                                   generator=epoch_generator(0, 0))).to(device)
    counter = NFECounter(trial)
    trial.train()
    training_step(trial, trial_optimizer, images, beta=1.0, counter=counter)
    return peak_memory(lambda: training_step(trial, trial_optimizer, images, beta=1.0,
                                             counter=counter), device=device)


__all__ = ["OUTPUT_FILES", "build_vae", "run"]
