"""One job of Neural ODE Table 1: train and evaluate one MNIST classifier for one seed.

:func:`run` trains one model from a resolved specification under the job contract
(:func:`replication.experiments.base.run_job`: seed, provenance, metrics last), checkpointing
every epoch outside the declared outputs so a killed job resumes where it stopped and ends with
the same metrics as an uninterrupted one; a checkpoint made by another spec or other code is
never resumed.
A NaN/inf loss stops the run without metrics; a finite run whose loss exploded is
marked ``"diverged": true`` (criterion: :mod:`replication.train.guards`). It
selects the epoch with the lowest *validation* error and reports that model's
test error (the test set never takes part in selection).
"""
from __future__ import annotations

import copy
import json
import statistics
from dataclasses import asdict, dataclass

import torch

from replication.data.mnist import evaluation_batches, load_mnist, training_batches
from replication.measure.memory import peak_memory
from replication.measure.provenance import config_hash
from replication.models import build_model, count_parameters
from replication.ode import NFECounter
from replication.results import write_csv
from replication.train.checkpoint import save_atomic
from replication.train.classifier import StepRecord, evaluate, train_epoch, training_step
from replication.train.guards import check_finite, diverged, divergence_criterion
from replication.train.progress import report
from replication.train.seeding import epoch_generator

OUTPUT_FILES = ("history.csv", "batches.csv", "model.pt")  # besides provenance and metrics
CLASSES = 10  # MNIST


@dataclass(frozen=True, kw_only=True)
class Training:
    epochs: int
    batch_size: int
    lr: float
    momentum: float
    weight_decay: float
    lr_milestones: tuple[int, ...]
    lr_gamma: float
    augment: bool
    eval_batch_size: int


def run(spec: dict, job) -> dict:
    """Train, evaluate and measure one classifier; write ``OUTPUT_FILES`` to ``job.out_dir``."""
    training = Training(**{**spec["training"], "lr_milestones": tuple(spec["training"]["lr_milestones"])})
    device = torch.device(spec["device"])
    seed = spec["seed"]

    data = load_mnist(job.data_dir, **spec["data"])
    model = build_model(spec["model"], **spec["architecture"]).to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=training.lr, momentum=training.momentum,
                                weight_decay=training.weight_decay)
    schedule = torch.optim.lr_scheduler.MultiStepLR(
        optimizer, milestones=list(training.lr_milestones), gamma=training.lr_gamma)

    checkpoint = job.checkpoint()
    state = checkpoint.load()
    if state is None:
        state = {"epoch": 0, "history": [], "batches": [], "best": None}
    else:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        schedule.load_state_dict(state["schedule"])
        report(f"resuming {job.name} after epoch {state['epoch']} from {checkpoint.path}")
    name = f"run {spec['model']}/seed{seed}"

    batch_count = len(data.train) // training.batch_size
    for epoch in range(state["epoch"] + 1, training.epochs + 1):
        lr = optimizer.param_groups[0]["lr"]
        batches = training_batches(data.train, batch_size=training.batch_size,
                                   generator=epoch_generator(seed, epoch), augment=training.augment)
        records = train_epoch(model, optimizer, batches, batch_count=batch_count, device=device,
                              description=f"{name} epoch {epoch}/{training.epochs}")
        schedule.step()
        validation = evaluate(model, evaluation_batches(data.validation,
                              batch_size=training.eval_batch_size), device=device)
        check_finite(validation.loss, where=f"{name} epoch {epoch}/{training.epochs}, validation")
        row = _epoch_row(epoch, lr, records, validation)
        state["history"].append(row)
        state["batches"].extend(
            {"epoch": epoch, "batch": i + 1, **asdict(r)} for i, r in enumerate(records))
        if state["best"] is None or validation.error < state["best"]["validation_error"]:
            state["best"] = {"epoch": epoch, "validation_error": validation.error,
                             "model": copy.deepcopy(model.state_dict())}
        state.update(epoch=epoch, model=model.state_dict(), optimizer=optimizer.state_dict(),
                     schedule=schedule.state_dict())
        checkpoint.save(state)
        report(
            f"epoch {epoch}/{training.epochs} lr {lr:.4g} train loss {row['train_loss']:.4f} "
            f"train err {row['train_error']:.4f} val err {validation.error:.4f} "
            f"NFE-F {row['nfe_forward_per_batch']:.1f} NFE-B {row['nfe_backward_per_batch']:.1f} "
            f"{row['epoch_seconds']:.1f}s"
        )

    metrics = _final_metrics(spec, model, optimizer, data, state, training, device)
    out_dir = job.out_dir
    write_csv(out_dir / "history.csv", state["history"])
    write_csv(out_dir / "batches.csv", state["batches"])
    # The selected (lowest validation error) weights, for analyses that must not retrain.
    # The spec as JSON text: model.pt holds only tensors and plain data (loaded weights_only).
    save_atomic({"spec": json.dumps(spec, sort_keys=True), "epoch": state["best"]["epoch"],
                 "model": state["best"]["model"]}, out_dir / "model.pt")
    return metrics


def _epoch_row(epoch: int, lr: float, records: list[StepRecord], validation) -> dict:
    seconds = sum(r.seconds for r in records)
    images = sum(r.size for r in records)
    return {
        "epoch": epoch,
        "lr": lr,
        "train_loss": sum(r.loss * r.size for r in records) / images,
        "train_error": sum(r.errors for r in records) / images,
        "validation_error": validation.error,
        "validation_loss": validation.loss,
        "nfe_forward_per_batch": statistics.fmean(r.nfe_forward for r in records),
        "nfe_backward_per_batch": statistics.fmean(r.nfe_backward for r in records),
        "nfe_forward_per_epoch": sum(r.nfe_forward for r in records),
        "nfe_backward_per_epoch": sum(r.nfe_backward for r in records),
        "validation_nfe_forward_per_batch": validation.nfe_forward_per_batch,
        "epoch_seconds": seconds,
        "step_seconds": seconds / len(records),
        "images_per_second": images / seconds,
    }


def _final_metrics(spec, model, optimizer, data, state, training: Training, device) -> dict:
    history = state["history"]
    last = history[-1]
    test_last = evaluate(model, evaluation_batches(data.test, batch_size=training.eval_batch_size),
                         device=device)
    check_finite(test_last.loss, where=f"run {spec['model']}/seed{spec['seed']}, test")
    best = state["best"]
    if best["epoch"] == last["epoch"]:
        test_best = test_last
    else:
        selected = copy.deepcopy(model)
        selected.load_state_dict(best["model"])
        test_best = evaluate(selected, evaluation_batches(
            data.test, batch_size=training.eval_batch_size), device=device)
        check_finite(test_best.loss, where=f"run {spec['model']}/seed{spec['seed']}, test "
                     f"(selected epoch {best['epoch']})")
    memory = _training_step_memory(model, optimizer, data, training, device)
    return {
        "experiment": "classify",
        "scale": spec["scale"],
        "model": spec["model"],
        "seed": spec["seed"],
        "device": str(device),
        "epochs": len(history),
        "selected_epoch": best["epoch"],
        "test_error": test_best.error,
        "test_error_last_epoch": test_last.error,
        "validation_error": best["validation_error"],
        "test_nfe_forward_per_batch": test_best.nfe_forward_per_batch,
        "parameters": count_parameters(model),
        "peak_memory_bytes": memory.bytes,
        "memory_method": memory.method,
        "saved_tensor_bytes": memory.saved_bytes,
        "epoch_seconds": statistics.fmean(h["epoch_seconds"] for h in history),
        "step_seconds": statistics.fmean(h["step_seconds"] for h in history),
        "images_per_second": statistics.fmean(h["images_per_second"] for h in history),
        "nfe_forward_per_batch": last["nfe_forward_per_batch"],
        "nfe_backward_per_batch": last["nfe_backward_per_batch"],
        "nfe_forward_per_epoch": last["nfe_forward_per_epoch"],
        "nfe_backward_per_epoch": last["nfe_backward_per_epoch"],
        "train_size": len(data.train),
        "validation_size": len(data.validation),
        "test_size": len(data.test),
        "batch_size": training.batch_size,
        "config_hash": config_hash(spec),
        # True: the loss exploded (finite); consumers show the run as diverged, not as a number
        "diverged": diverged(last["train_loss"], classes=CLASSES),
        "divergence_criterion": divergence_criterion(CLASSES),
    }


def _training_step_memory(model, optimizer, data, training: Training, device):
    """Peak memory of one training step of the trained model, on a copy (training state untouched).

    A first step on the copy allocates the optimizer's momentum buffers; the second is measured.
    """
    trial = copy.deepcopy(model)
    trial_optimizer = type(optimizer)(trial.parameters(), **optimizer.defaults)
    images, labels = next(training_batches(
        data.train, batch_size=training.batch_size, generator=epoch_generator(0, 0), augment=False))
    images, labels = images.to(device), labels.to(device)
    counter = NFECounter(trial)
    trial.train()
    training_step(trial, trial_optimizer, images, labels, counter)
    return peak_memory(lambda: training_step(trial, trial_optimizer, images, labels, counter),
                       device=device)
