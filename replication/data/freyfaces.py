"""Frey Faces: 1,965 grey images of 28x20 from ``freyfaces.pkl``, split by a seeded shuffle.

The pickle (protocol 0, written by Python 2) holds a list with one uint8 array of shape
(1965, 560), values 8..238; it is read with a restricted unpickler (numpy arrays only) and
``encoding="latin1"``. Images are ``value / 255`` reshaped to (1, 28, 20), row-major.

As in Berg et al. (2018) and FFJORD, the images are shuffled with
``numpy.random.RandomState(split_seed)`` (the papers' three runs use seeds 123, 321 and 231;
default 123), then the first 1,565 are training, the next 200 validation and the last 200
test images, so the test set differs between seeds. The likelihood is a 256-way categorical
per pixel whose targets are ``round(x * 255)``.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from replication.data.images import ImageDataset, image_tensor
from replication.data.restricted_pickle import load_arrays
from replication.data.vae_sources import FREYFACES, PublishedDataset

HEIGHT, WIDTH = 28, 20
SPLIT_SIZES = {"train": 1565, "validation": 200, "test": 200}
IMAGES = sum(SPLIT_SIZES.values())  # 1965
PAPER_SPLIT_SEEDS = (123, 321, 231)
DEFAULT_SPLIT_SEED = PAPER_SPLIT_SEEDS[0]


def read_faces(path: Path) -> np.ndarray:
    """The uint8 ``(N, 560)`` face array of a ``freyfaces.pkl`` file."""
    value = load_arrays(path, encoding="latin1")
    if isinstance(value, (list, tuple)) and len(value) == 1:
        value = value[0]  # the published file holds [array]
    if not (isinstance(value, np.ndarray) and value.dtype == np.uint8 and value.ndim == 2
            and value.shape[1] == HEIGHT * WIDTH):
        described = (f"{value.dtype} array of shape {value.shape}" if isinstance(value, np.ndarray)
                     else type(value).__name__)
        raise ValueError(f"{path}: expected a uint8 array of shape (N, {HEIGHT * WIDTH}) "
                         f"(or a list holding one), got {described}")
    return value


def split_indices(count: int, *, split_seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train, validation and test indices: a ``RandomState(split_seed)`` permutation of
    ``range(count)`` cut into 1,565 / 200 / the rest (200 for the 1,965 faces)."""
    train, validation = SPLIT_SIZES["train"], SPLIT_SIZES["validation"]
    if count <= train + validation:
        raise ValueError(f"Frey Faces needs more than {train + validation} images, got {count}")
    order = np.random.RandomState(split_seed).permutation(count)
    return order[:train], order[train:train + validation], order[train + validation:]


def load(
    root: str | Path, *, split_seed: int | None = None, source: PublishedDataset = FREYFACES
) -> ImageDataset:
    """Load verified Frey Faces from ``root/freyfaces``, split with *split_seed* (default 123).

    *source* names the file and checksum (tests pass their own).
    """
    seed = DEFAULT_SPLIT_SEED if split_seed is None else split_seed
    (path,) = source.verified_paths(root)
    faces = read_faces(path)
    if len(faces) != IMAGES:
        raise ValueError(f"{path}: expected {IMAGES} faces, found {len(faces)}")
    images = faces.reshape(-1, HEIGHT, WIDTH) / 255.0
    train, validation, test = (image_tensor(images[index])
                               for index in split_indices(len(images), split_seed=seed))
    return ImageDataset(name="freyfaces", train=train, validation=validation, test=test,
                        likelihood="categorical256", dynamic_binarization=False)
