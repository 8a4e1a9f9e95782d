"""One epoch of classifier training and one evaluation pass, with NFE and timing."""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from replication.ode import NFECounter
from replication.train.guards import check_finite
from replication.train.progress import progress_bar


@dataclass(frozen=True)
class StepRecord:
    loss: float
    errors: int
    size: int
    nfe_forward: int
    nfe_backward: int
    seconds: float


@dataclass(frozen=True)
class Evaluation:
    error: float
    loss: float
    nfe_forward_per_batch: float


def training_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor,
    labels: torch.Tensor, counter: NFECounter,
) -> StepRecord:
    """Forward, backward and update on one batch; NFE split into forward and backward."""
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    counter.start()
    logits = model(images)
    loss = F.cross_entropy(logits, labels)
    counter.mark_forward()
    loss.backward()
    counter.mark_backward()
    optimizer.step()
    if images.is_cuda:
        torch.cuda.synchronize(images.device)
    return StepRecord(
        loss=loss.item(), errors=int((logits.argmax(1) != labels).sum()), size=len(labels),
        nfe_forward=counter.forward, nfe_backward=counter.backward,
        seconds=time.perf_counter() - start,
    )


def train_epoch(
    model: nn.Module, optimizer: torch.optim.Optimizer, batches, *, batch_count: int,
    device: torch.device, description: str,
) -> list[StepRecord]:
    """Train one epoch; *description* names the run and epoch (it also names a NaN/inf loss)."""
    model.train()
    counter = NFECounter(model)
    records = []
    with progress_bar(batch_count, description) as bar:
        for images, labels in batches:
            record = training_step(model, optimizer, images.to(device), labels.to(device), counter)
            check_finite(record.loss, where=f"{description}, batch {len(records) + 1}/{batch_count}")
            records.append(record)
            bar.set_postfix(loss=f"{record.loss:.3f}", nfe_f=record.nfe_forward,
                            nfe_b=record.nfe_backward, refresh=False)
            bar.update()
    return records


@torch.no_grad()
def evaluate(model: nn.Module, batches, *, device: torch.device) -> Evaluation:
    """Error rate, mean cross-entropy and mean forward NFE per batch over *batches*."""
    model.eval()
    counter = NFECounter(model)
    errors = total = 0
    loss_sum = 0.0
    nfe = []
    for images, labels in batches:
        images, labels = images.to(device), labels.to(device)
        counter.start()
        logits = model(images)
        counter.mark_forward()
        nfe.append(counter.forward)
        loss_sum += F.cross_entropy(logits, labels, reduction="sum").item()
        errors += int((logits.argmax(1) != labels).sum())
        total += len(labels)
    return Evaluation(error=errors / total, loss=loss_sum / total,
                      nfe_forward_per_batch=sum(nfe) / len(nfe))
