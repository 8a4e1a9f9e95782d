"""What makes a training run's numbers unpublishable: a non-finite loss, or divergence.

* A non-finite (NaN or ±inf) training or evaluation loss stops the run with
  :class:`NonFiniteLossError`, naming the run, the epoch and the batch; no metrics are written.
* A classifier whose loss stays finite but grows without bound is *diverged*. The criterion is
  fixed here, before any run it judges: the mean training loss of the final epoch exceeds
  ``DIVERGENCE_FACTOR`` × ln(classes), i.e. ten times the cross-entropy of the constant uniform
  predictor (ln 10 = 2.30 nats on MNIST, so 23.0 nats). A model that learned nothing sits near
  ln(classes); only exploding weights push the average ten times above it. Such a run still
  writes its metrics, with ``"diverged": true``, and every consumer must show it as diverged,
  not as a plain number.
"""
from __future__ import annotations

import math

DIVERGENCE_FACTOR = 10.0


class NonFiniteLossError(FloatingPointError):
    """A loss became NaN or infinite; the run publishes nothing."""


def check_finite(loss: float, *, where: str) -> None:
    """Raise :class:`NonFiniteLossError` unless *loss* is finite; *where* names run/epoch/batch."""
    if not math.isfinite(loss):
        raise NonFiniteLossError(
            f"{where}: the loss became {loss}; the run stops and writes no metrics.json. "
            "Lower the learning rate (or check the data), then rerun.")


def divergence_threshold(classes: int) -> float:
    return DIVERGENCE_FACTOR * math.log(classes)


def divergence_criterion(classes: int) -> str:
    return (f"final-epoch mean train loss > {DIVERGENCE_FACTOR:g} x ln({classes}) = "
            f"{divergence_threshold(classes):.2f} nats")


def diverged(final_train_loss: float, *, classes: int) -> bool:
    """Whether a finite classifier run diverged (see the module docstring)."""
    return final_train_loss > divergence_threshold(classes)
