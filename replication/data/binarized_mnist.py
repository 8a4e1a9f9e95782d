"""Statically binarized MNIST (Larochelle & Murray 2011) from its three ``.amat`` text files.

Each line of ``binarized_mnist_{train,valid,test}.amat`` is one 28x28 image, row-major, as 784
space-separated ``0``/``1`` values; the files hold 50,000 / 10,000 / 10,000 images, used as the
train / validation / test splits as published. The binarization is fixed (no resampling);
the likelihood is Bernoulli.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from replication.data.images import ImageDataset, image_tensor
from replication.data.vae_sources import BINARIZED_MNIST, PublishedDataset

SIDE = 28
PIXELS = SIDE * SIDE
SPLIT_SIZES = {"train": 50_000, "validation": 10_000, "test": 10_000}

_SPACE, _NEWLINE, _ZERO = ord(" "), ord("\n"), ord("0")


def read_amat(path: Path, *, pixels: int = PIXELS) -> np.ndarray:
    """Read a binary ``.amat`` file into a uint8 ``(rows, pixels)`` array of 0/1.

    Every non-empty line must hold exactly *pixels* ``0``/``1`` tokens separated by whitespace
    (any bytes up to and including the ASCII space).
    """
    raw = np.frombuffer(path.read_bytes(), dtype=np.uint8)
    if not (raw > _SPACE).any():
        raise ValueError(f"{path}: holds no images")
    values = _published_layout(raw, pixels)
    if values is None:
        values = _any_layout(raw, pixels, path=path)
    if values.max() > 1:  # bytes other than '0' and '1' wrapped around to values > 1
        raise ValueError(f"{path}: holds tokens other than single 0/1 digits")
    return values


def _published_layout(raw: np.ndarray, pixels: int) -> np.ndarray | None:
    """Fast path for the published layout: values joined by single spaces, one line each."""
    width = 2 * pixels
    if len(raw) % width:
        return None
    grid = raw.reshape(-1, width)
    if not ((grid[:, 1:-1:2] == _SPACE).all() and (grid[:, -1] == _NEWLINE).all()):
        return None
    values = grid[:, 0::2].copy()
    values -= np.uint8(_ZERO)
    return values


def _any_layout(raw: np.ndarray, pixels: int, *, path: Path) -> np.ndarray:
    """Any whitespace between values, blank lines allowed; each line must hold *pixels* values."""
    token = raw > _SPACE
    if (token[1:] & token[:-1]).any():
        raise ValueError(f"{path}: holds tokens other than single 0/1 digits")
    line_starts = np.concatenate(([0], np.flatnonzero(raw[:-1] == _NEWLINE) + 1))
    if np.diff(line_starts, append=len(raw)).max() > np.iinfo(np.uint16).max:
        raise ValueError(f"{path}: has a line of over 65,535 bytes; not a binary .amat file")
    per_line = np.add.reduceat(token.astype(np.uint16), line_starts, dtype=np.uint16)
    per_line = per_line[per_line > 0]  # blank lines (e.g. after the final newline)
    if (per_line != pixels).any():
        bad = int(np.argmax(per_line != pixels))
        raise ValueError(f"{path}: image {bad} (counting from 0, blank lines skipped) has "
                         f"{int(per_line[bad])} values, expected {pixels}")
    values = raw[token]
    values -= np.uint8(_ZERO)
    return values.reshape(-1, pixels)


def load(
    root: str | Path, *, split_seed: int | None = None, source: PublishedDataset = BINARIZED_MNIST
) -> ImageDataset:
    """Load verified binarized MNIST from ``root/binarized_mnist``.

    The split is the one the files define, so *split_seed* must be None. *source* names the
    files and checksums (tests pass their own).
    """
    if split_seed is not None:
        raise ValueError("binarized_mnist has a fixed train/valid/test split (one file each); "
                         f"split_seed must be None, got {split_seed}")
    train, valid, test = (image_tensor(read_amat(path).reshape(-1, SIDE, SIDE))
                          for path in source.verified_paths(root))
    return ImageDataset(name="binarized_mnist", train=train, validation=valid, test=test,
                        likelihood="bernoulli", dynamic_binarization=False)
