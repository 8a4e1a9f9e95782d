"""Image datasets for the VAE experiments: three float splits and how to batch them.

Every VAE dataset (binarized MNIST, Omniglot, Frey Faces, Caltech 101 Silhouettes) loads into
an :class:`ImageDataset` of float32 ``(N, 1, H, W)`` tensors in [0, 1]. Training batches are
shuffled and, for dynamically binarized datasets (Omniglot), re-binarized by Bernoulli sampling
each time they are drawn, as in the reference code (Berg et al. 2018, FFJORD's ``vae_lib``).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch

LIKELIHOODS = ("bernoulli", "categorical256")
"""``bernoulli``: binary pixels; ``categorical256``: a 256-way categorical per pixel whose
targets are ``round(x * 255)`` (Frey Faces)."""


@dataclass(frozen=True, kw_only=True, eq=False)
class ImageDataset:
    """Train, validation and test images of one dataset, float32 ``(N, 1, H, W)`` in [0, 1].

    Compared by identity (``eq=False``): comparing tensors field by field is ambiguous.
    """

    name: str
    train: torch.Tensor
    validation: torch.Tensor
    test: torch.Tensor
    likelihood: str
    dynamic_binarization: bool
    """Training batches are re-binarized (Bernoulli sampling) each time they are drawn."""

    def __post_init__(self) -> None:
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"{self.name}: likelihood must be one of {LIKELIHOODS}, "
                             f"got {self.likelihood!r}")
        shapes = {}
        for split in ("train", "validation", "test"):
            images = getattr(self, split)
            if images.dtype != torch.float32 or images.dim() != 4 or images.shape[1] != 1:
                raise ValueError(f"{self.name}: {split} must be float32 (N, 1, H, W), got "
                                 f"{images.dtype} {tuple(images.shape)}")
            shapes[split] = tuple(images.shape[1:])
        if len(set(shapes.values())) != 1:
            raise ValueError(f"{self.name}: the splits' image shapes differ: {shapes}")

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)``, e.g. ``(1, 28, 28)``; ``(1, 28, 20)`` for Frey Faces."""
        return tuple(self.train.shape[1:])

    def subset(
        self, *, train: int | None = None, validation: int | None = None, test: int | None = None
    ) -> "ImageDataset":
        """The same dataset keeping the first N images of each split given (smoke scale)."""
        counts = {"train": train, "validation": validation, "test": test}
        changes = {}
        for split, count in counts.items():
            if count is None:
                continue
            available = len(getattr(self, split))
            if not 0 < count <= available:
                raise ValueError(
                    f"{self.name}: {split} subset must be in [1, {available}], got {count}")
            changes[split] = getattr(self, split)[:count]
        return dataclasses.replace(self, **changes)


def training_batches(
    dataset: ImageDataset, *, batch_size: int, generator: torch.Generator
) -> Iterator[torch.Tensor]:
    """Yield float batches of the training split in an order shuffled with *generator*.

    The last partial batch is dropped. With ``dataset.dynamic_binarization`` each batch is
    binarized by Bernoulli sampling with the same *generator*, anew every time it is drawn.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    images = dataset.train
    order = torch.randperm(len(images), generator=generator)
    for start in range(0, len(order) - batch_size + 1, batch_size):
        batch = images[order[start:start + batch_size]]
        if dataset.dynamic_binarization:
            batch = torch.bernoulli(batch, generator=generator)
        yield batch


def evaluation_batches(images: torch.Tensor, *, batch_size: int) -> Iterator[torch.Tensor]:
    """Yield *images* in order in batches of *batch_size*, keeping the last partial batch."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    for start in range(0, len(images), batch_size):
        yield images[start:start + batch_size]


def image_tensor(pixels: np.ndarray) -> torch.Tensor:
    """A float32 ``(N, 1, H, W)`` tensor from an ``(N, H, W)`` array of values in [0, 1]."""
    array = np.ascontiguousarray(pixels, dtype=np.float32)
    if array.ndim != 3:
        raise ValueError(f"expected (N, H, W) pixels, got shape {array.shape}")
    return torch.from_numpy(array).unsqueeze(1)


def column_major_images(rows: np.ndarray, *, height: int, width: int) -> np.ndarray:
    """``(N, height*width)`` rows, each an image stored column-major (MATLAB order), as
    row-major ``(N, height, width)`` images: each row reshaped with ``order="F"``."""
    return rows.reshape(-1, width, height).transpose(0, 2, 1)
