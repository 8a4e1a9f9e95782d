"""MNIST as the article's snippets load it: all 60,000 training images, the 10,000 test images.

The snippets use ``torchvision.datasets.MNIST`` with ``ToTensor()`` (uint8 → float32 / 255) and
``Normalize((0.1307,), (0.3081,))`` (float32 ``(x - mean) / std``). There is no validation split:
the article trains on the whole training set and reports test accuracy. The same arithmetic is
reproduced here in float32 from the verified idx files, without torchvision.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from replication.data.fetch import verify
from replication.data.mnist import Split, read_idx
from replication.data.sources import MNIST

MEAN = 0.1307
STD = 0.3081


@dataclass(frozen=True)
class ArticleMNIST:
    """``train`` (60,000 unless subset) and ``test`` (10,000 unless subset) as uint8 splits."""

    train: Split
    test: Split


def load_article_mnist(
    root: str | Path, *, train_subset: int | None = None, test_subset: int | None = None,
) -> ArticleMNIST:
    """Load verified MNIST from ``root/mnist``; a subset keeps the first N images of a split."""
    paths = MNIST.paths(root)
    for file, path in zip(MNIST.files, paths):
        verify(path, file.sha256, origin="the data directory (run the fetch step)")
    train_x, train_y, test_x, test_y = (read_idx(p) for p in paths)

    def split(images: np.ndarray, labels: np.ndarray) -> Split:
        return Split(torch.from_numpy(images.copy()).unsqueeze(1),
                     torch.from_numpy(labels.astype(np.int64)))

    return ArticleMNIST(train=split(train_x, train_y).head(train_subset),
                        test=split(test_x, test_y).head(test_subset))


def normalise_torch(images: torch.Tensor) -> torch.Tensor:
    """uint8 images → float32, as ``ToTensor()`` then ``Normalize((0.1307,), (0.3081,))``."""
    mean = torch.tensor(MEAN, dtype=torch.float32)
    std = torch.tensor(STD, dtype=torch.float32)
    return images.float().div(255).sub_(mean).div_(std)


def normalise_numpy(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """uint8 images → flat float32 ``(N, 784)`` rows: what ``image.view(-1).numpy()`` gives."""
    if isinstance(images, np.ndarray):
        images = torch.from_numpy(images)
    return normalise_torch(images).reshape(len(images), -1).numpy()
