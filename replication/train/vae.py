"""One epoch of VAE training and one evaluation pass (−ELBO), with NFE and timing.

The KL warm-up of Berg et al. (2018) multiplies the KL term by β = min(epoch / warmup, 1)
during training; validation and test always use β = 1, the true −ELBO.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from torch import nn

from replication.ode import NFECounter
from replication.train.guards import check_finite
from replication.train.progress import progress_bar
from replication.vae.objective import negative_elbo


def warmup_beta(epoch: int, *, warmup_epochs: int) -> float:
    """β of epoch *epoch* (1-based): linear from 1/warmup to 1, then 1; no warm-up if 0."""
    if warmup_epochs <= 0:
        return 1.0
    return min(epoch / warmup_epochs, 1.0)


@dataclass(frozen=True)
class StepRecord:
    loss: float
    reconstruction: float
    kl: float
    size: int
    nfe_forward: int
    nfe_backward: int
    seconds: float


@dataclass(frozen=True)
class Evaluation:
    neg_elbo: float          # nats per data point, β = 1
    reconstruction: float
    kl: float
    nfe_forward_per_batch: float


def training_step(
    model: nn.Module, optimizer: torch.optim.Optimizer, images: torch.Tensor, *, beta: float,
    counter: NFECounter,
) -> StepRecord:
    """Forward, backward and update on one batch; the loss is the batch mean of the β-ELBO."""
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    counter.start()
    terms = negative_elbo(model, images, beta=beta)
    loss = terms.loss.mean()
    counter.mark_forward()
    loss.backward()
    counter.mark_backward()
    optimizer.step()
    if images.is_cuda:
        torch.cuda.synchronize(images.device)
    return StepRecord(
        loss=loss.item(), reconstruction=terms.reconstruction.mean().item(),
        kl=terms.kl.mean().item(), size=len(images), nfe_forward=counter.forward,
        nfe_backward=counter.backward, seconds=time.perf_counter() - start)


def train_epoch(
    model: nn.Module, optimizer: torch.optim.Optimizer, batches, *, batch_count: int, beta: float,
    device: torch.device, description: str,
) -> list[StepRecord]:
    model.train()
    counter = NFECounter(model)
    records = []
    with progress_bar(batch_count, description) as bar:
        for images in batches:
            record = training_step(model, optimizer, images.to(device), beta=beta, counter=counter)
            check_finite(record.loss, where=f"{description}, batch {len(records) + 1}/{batch_count}")
            records.append(record)
            bar.set_postfix(loss=f"{record.loss:.2f}", nfe_f=record.nfe_forward, refresh=False)
            bar.update()
    return records


@torch.no_grad()
def evaluate(model: nn.Module, batches, *, device: torch.device) -> Evaluation:
    """Mean −ELBO (β = 1), reconstruction and KL terms in nats over *batches*."""
    model.eval()
    counter = NFECounter(model)
    total = 0
    sums = {"loss": 0.0, "reconstruction": 0.0, "kl": 0.0}
    nfe = []
    for images in batches:
        images = images.to(device)
        counter.start()
        terms = negative_elbo(model, images, beta=1.0)
        counter.mark_forward()
        nfe.append(counter.forward)
        for key in sums:
            sums[key] += getattr(terms, key).sum().item()
        total += len(images)
    return Evaluation(neg_elbo=sums["loss"] / total, reconstruction=sums["reconstruction"] / total,
                      kl=sums["kl"] / total, nfe_forward_per_batch=sum(nfe) / len(nfe))
