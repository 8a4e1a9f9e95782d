"""Omniglot 28x28 as used by Burda et al. (2016, IWAE), from ``chardata.mat``.

The file holds ``data`` (784 x 24,345) and ``testdata`` (784 x 8,070): one image per column,
grey values in [0, 1], each image stored column-major (MATLAB order, so a column is reshaped
with ``order="F"``), plus the labels ``target``/``testtarget``. As in Berg et al. (2018) and
FFJORD:

* the training columns are shuffled and the LAST 1,345 become the validation split
  (23,000 train / 1,345 validation); the shuffle uses ``numpy.random.RandomState(split_seed)``,
  default :data:`DEFAULT_SPLIT_SEED` = 0 (the reference code shuffled with its run's global
  numpy seed, so its split was not fixed);
* validation and test images are binarized once by Bernoulli sampling with one
  ``numpy.random.RandomState(777)``, validation first, then test;
* training images stay grey and are re-binarized each time a batch is drawn
  (``dynamic_binarization=True``); Bernoulli likelihood.

No copy of ``chardata.mat`` is in ``shared/data``; its only published checksum is an md5.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from replication.data.images import ImageDataset, column_major_images, image_tensor
from replication.data.vae_sources import OMNIGLOT, PublishedDataset

SIDE = 28
VALIDATION_SIZE = 1345
SPLIT_SIZES = {"train": 23_000, "validation": VALIDATION_SIZE, "test": 8070}
DEFAULT_SPLIT_SEED = 0
BINARIZATION_SEED = 777


def read_chardata(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The training and test images of a ``chardata.mat`` file, float32 ``(N, 28, 28)`` in [0, 1]
    (float32 first, as the reference code, so the seeded binarization draws the same samples)."""
    contents = scipy.io.loadmat(path)
    images = []
    for key in ("data", "testdata"):
        if key not in contents:
            raise ValueError(f"{path}: no key {key!r}; found "
                             f"{sorted(k for k in contents if not k.startswith('__'))}")
        columns = np.asarray(contents[key], dtype=np.float32)
        if columns.ndim != 2 or columns.shape[0] != SIDE * SIDE:
            raise ValueError(f"{path}: {key} has shape {columns.shape}, "
                             f"expected ({SIDE * SIDE}, N): one image per column")
        if columns.size and (columns.min() < 0 or columns.max() > 1):
            raise ValueError(f"{path}: {key} holds values outside [0, 1]")
        images.append(column_major_images(columns.T, height=SIDE, width=SIDE))
    return images[0], images[1]


def split_training(images: np.ndarray, *, split_seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Shuffle with ``RandomState(split_seed)``; the last 1,345 images become validation."""
    if len(images) <= VALIDATION_SIZE:
        raise ValueError(f"Omniglot needs more than {VALIDATION_SIZE} training images, "
                         f"got {len(images)}")
    shuffled = images[np.random.RandomState(split_seed).permutation(len(images))]
    return shuffled[:-VALIDATION_SIZE], shuffled[-VALIDATION_SIZE:]


def binarize_once(
    validation: np.ndarray, test: np.ndarray, *, seed: int = BINARIZATION_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli samples of the validation, then the test images, from one ``RandomState(seed)``."""
    rng = np.random.RandomState(seed)
    return rng.binomial(1, validation), rng.binomial(1, test)


def load(
    root: str | Path, *, split_seed: int | None = None, source: PublishedDataset = OMNIGLOT
) -> ImageDataset:
    """Load verified Omniglot from ``root/omniglot``.

    *split_seed* seeds the train/validation shuffle (default 0). *source* names the file and
    checksum (tests pass their own).
    """
    seed = DEFAULT_SPLIT_SEED if split_seed is None else split_seed
    (path,) = source.verified_paths(root)
    train_pool, test = read_chardata(path)
    train, validation = split_training(train_pool, split_seed=seed)
    validation, test = binarize_once(validation, test)
    return ImageDataset(name="omniglot", train=image_tensor(train),
                        validation=image_tensor(validation), test=image_tensor(test),
                        likelihood="bernoulli", dynamic_binarization=True)
