"""MNIST from its four idx files, with a validation split held out of the training set."""
from __future__ import annotations

import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from replication.data.fetch import verify
from replication.data.sources import MNIST

_IDX_TYPES = {0x08: np.uint8}


def read_idx(path: Path) -> np.ndarray:
    """Read a (gzipped) idx file into an array of its declared shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        raw = handle.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise ValueError(f"{path}: not an idx file of unsigned bytes (bad magic number)")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    offset = 4 + 4 * ndim
    expected = int(np.prod(shape))
    if len(raw) - offset != expected:
        raise ValueError(f"{path}: header declares {expected} values, file holds {len(raw) - offset}")
    return np.frombuffer(raw, dtype=np.uint8, offset=offset).reshape(shape)


@dataclass(frozen=True)
class Split:
    """Images as uint8 ``(N, 1, 28, 28)`` and labels as int64 ``(N,)``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def head(self, count: int | None) -> "Split":
        return self if count is None else Split(self.images[:count], self.labels[:count])


@dataclass(frozen=True)
class MNISTSplits:
    train: Split
    validation: Split
    test: Split


def load_mnist(
    root: str | Path, *, validation_size: int, train_subset: int | None = None,
    test_subset: int | None = None,
) -> MNISTSplits:
    """Load verified MNIST files from ``root/mnist``.

    The last ``validation_size`` of the 60,000 training images form the validation
    split (fixed, independent of the run's seed); the test split is never used for
    model selection. ``train_subset``/``test_subset`` keep the first N (smoke scale).
    """
    paths = MNIST.paths(root)
    for file, path in zip(MNIST.files, paths):
        verify(path, file.sha256, origin="the data directory (run the fetch step)")
    train_x, train_y, test_x, test_y = (read_idx(p) for p in paths)
    if not 0 < validation_size < len(train_y):
        raise ValueError(f"validation_size must be in (0, {len(train_y)}), got {validation_size}")

    def split(images: np.ndarray, labels: np.ndarray) -> Split:
        return Split(torch.from_numpy(images.copy()).unsqueeze(1),
                     torch.from_numpy(labels.astype(np.int64)))

    cut = len(train_y) - validation_size
    return MNISTSplits(
        train=split(train_x[:cut], train_y[:cut]).head(train_subset),
        validation=split(train_x[cut:], train_y[cut:]),
        test=split(test_x, test_y).head(test_subset),
    )


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0, 255] → float32 [0, 1] (no mean/std normalisation, as in the reference)."""
    return images.float().div_(255.0)


def random_crop(images: torch.Tensor, *, padding: int, generator: torch.Generator) -> torch.Tensor:
    """Zero-pad by ``padding`` and crop back to the original size at a random offset per image."""
    n, c, h, w = images.shape
    padded = torch.nn.functional.pad(images, (padding,) * 4)
    dy = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    dx = torch.randint(0, 2 * padding + 1, (n,), generator=generator)
    rows = (dy[:, None] + torch.arange(h))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w))[:, None, None, :]
    batch = torch.arange(n)[:, None, None, None]
    channel = torch.arange(c)[None, :, None, None]
    return padded[batch, channel, rows, cols]


def training_batches(
    split: Split, *, batch_size: int, generator: torch.Generator, augment: bool
):
    """Yield shuffled ``(images, labels)`` float batches; the last partial batch is dropped."""
    order = torch.randperm(len(split), generator=generator)
    for start in range(0, len(order) - batch_size + 1, batch_size):
        index = order[start:start + batch_size]
        images = to_float(split.images[index])
        if augment:
            images = random_crop(images, padding=4, generator=generator)
        yield images, split.labels[index]


def evaluation_batches(split: Split, *, batch_size: int):
    """Yield ``(images, labels)`` float batches in order, keeping the last partial one."""
    for start in range(0, len(split), batch_size):
        yield to_float(split.images[start:start + batch_size]), split.labels[start:start + batch_size]
