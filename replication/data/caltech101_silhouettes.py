"""Caltech 101 Silhouettes 28x28 (Marlin et al. 2010), split 1, from its MATLAB file.

``caltech101_silhouettes_28_split1.mat`` holds ``train_data`` (4100 x 784), ``val_data``
(2264 x 784) and ``test_data`` (2307 x 784), uint8 0/1, plus ``*_labels`` (N x 1, classes
1..101) and ``classnames``; the split is the file's. Each row is one image stored
column-major (MATLAB order), so it is reshaped with ``order="F"``. The file stores the
silhouette as 0 on a background of 1; as in the reference code (Berg et al. 2018, FFJORD) the
pixels are inverted (``1 - x``), so the silhouette is 1 and the background 0. Binary images,
Bernoulli likelihood, no resampling.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from replication.data.images import ImageDataset, column_major_images, image_tensor
from replication.data.vae_sources import CALTECH101_SILHOUETTES, PublishedDataset

SIDE = 28
SPLIT_KEYS = {"train": "train_data", "validation": "val_data", "test": "test_data"}
SPLIT_SIZES = {"train": 4100, "validation": 2264, "test": 2307}


def read_splits(path: Path) -> dict[str, np.ndarray]:
    """The three splits of the split-1 file as ``(N, 28, 28)`` arrays of 0/1 (not yet inverted)."""
    contents = scipy.io.loadmat(path)
    missing = [key for key in SPLIT_KEYS.values() if key not in contents]
    if missing:
        raise ValueError(f"{path}: missing keys {missing}; found "
                         f"{sorted(k for k in contents if not k.startswith('__'))}")
    splits = {}
    for split, key in SPLIT_KEYS.items():
        rows = contents[key]
        if rows.ndim != 2 or rows.shape[1] != SIDE * SIDE:
            raise ValueError(f"{path}: {key} has shape {rows.shape}, expected (N, {SIDE * SIDE})")
        if not np.isin(rows, (0, 1)).all():
            raise ValueError(f"{path}: {key} holds values other than 0 and 1")
        splits[split] = column_major_images(rows, height=SIDE, width=SIDE)
    return splits


def load(
    root: str | Path, *, split_seed: int | None = None,
    source: PublishedDataset = CALTECH101_SILHOUETTES,
) -> ImageDataset:
    """Load verified Caltech 101 Silhouettes from ``root/caltech101_silhouettes``.

    The split is the file's, so *split_seed* must be None. *source* names the file and
    checksum (tests pass their own).
    """
    if split_seed is not None:
        raise ValueError("caltech101_silhouettes has a fixed split (split 1 of Marlin et al.); "
                         f"split_seed must be None, got {split_seed}")
    (path,) = source.verified_paths(root)
    splits = {name: image_tensor(1.0 - images) for name, images in read_splits(path).items()}
    return ImageDataset(name="caltech101_silhouettes", **splits,
                        likelihood="bernoulli", dynamic_binarization=False)
