"""Every dataset of the suite by name: its files, how to fetch them, and (VAE datasets) a loader.

Importing this module is cheap and torch-free (the Snakefile imports it at parse time); the
loaders in :data:`IMAGE_DATASETS` are imported only when used, so a job's code fingerprint
depends on the one dataset module it loads.

* ``mnist``: the classifier experiments' MNIST; fetched by :mod:`replication.data.fetch`
  and loaded by :mod:`replication.data.mnist` (not an image dataset of this catalog).
* ``binarized_mnist``, ``omniglot``, ``freyfaces``, ``caltech101_silhouettes``: the VAE
  datasets (:mod:`replication.data.vae_sources`), fetched by
  :mod:`replication.data.staged_fetch` and loaded into an
  :class:`~replication.data.images.ImageDataset`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from replication.data.fetch import fetch_dataset
from replication.data.sources import MNIST
from replication.data.staged_fetch import fetch_published_dataset
from replication.data.vae_sources import VAE_SOURCES, PublishedDataset, PublishedFile
from replication.registry import Registry

if TYPE_CHECKING:
    from replication.data.images import ImageDataset

VAE_DATASET_NAMES: tuple[str, ...] = tuple(VAE_SOURCES)
DATASET_NAMES: tuple[str, ...] = (MNIST.name, *VAE_DATASET_NAMES)

IMAGE_DATASETS = Registry("dataset", {
    "binarized_mnist": "replication.data.binarized_mnist:load",
    "omniglot": "replication.data.omniglot:load",
    "freyfaces": "replication.data.freyfaces:load",
    "caltech101_silhouettes": "replication.data.caltech101_silhouettes:load",
})
"""VAE dataset name → ``load(root, *, split_seed=None, source=...) -> ImageDataset``."""


class UnknownDatasetError(KeyError):
    """A dataset name the catalog does not know."""

    def __str__(self) -> str:  # KeyError's own str() is the repr of its argument
        return str(self.args[0])


def _unknown(name: str) -> KeyError:
    return UnknownDatasetError(f"unknown dataset {name!r}; known datasets: "
                               f"{', '.join(DATASET_NAMES)}")


def check_dataset_names(names) -> None:
    """Raise :class:`UnknownDatasetError` naming every unknown name in *names*."""
    unknown = [name for name in names if name not in DATASET_NAMES]
    if unknown:
        raise UnknownDatasetError(
            f"unknown dataset{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(repr(name) for name in unknown)}; known datasets: "
            f"{', '.join(DATASET_NAMES)}")


def write_manifest(name: str, paths: list[Path], manifest: Path) -> None:
    """Record that the files of dataset *name* are in place and verified (atomically).

    The manifest is what the workflow's fetch jobs declare as output, so Snakemake never owns
    (and so never deletes) the data files themselves.
    """
    import json

    files = published_dataset(name).files
    record = {"dataset": name,
              "files": [{"path": str(path), "checksum": str(file.checksum)}
                        for file, path in zip(files, paths)]}
    manifest.parent.mkdir(parents=True, exist_ok=True)
    staged = manifest.with_name(f".{manifest.name}.partial")
    staged.write_text(json.dumps(record, indent=2) + "\n")
    os.replace(staged, manifest)


def published_dataset(name: str) -> PublishedDataset:
    """The files, checksums and URLs of dataset *name* (MNIST's sha256 list included)."""
    if name == MNIST.name:
        return PublishedDataset(name=MNIST.name, folder=MNIST.folder, citation=MNIST.citation,
                                files=tuple(PublishedFile.from_source_file(f) for f in MNIST.files))
    try:
        return VAE_SOURCES[name]
    except KeyError:
        raise _unknown(name) from None


def dataset_paths(name: str, data_dir: str | os.PathLike) -> list[Path]:
    """Where the verified files of dataset *name* live under *data_dir* (no I/O)."""
    return published_dataset(name).paths(data_dir)


def fetch(
    name: str, *, data_dir: str | os.PathLike, mirror: str | os.PathLike | None = None
) -> list[Path]:
    """Fetch and verify every file of dataset *name* into ``data_dir/<folder>``.

    *mirror* (default ``$REPLICATION_DATA_MIRROR``) is a folder laid out as
    ``<folder>/<file>`` (or ``<file>.gz`` for the VAE datasets); without one, files are
    downloaded from their canonical URLs. Raises ``DataIntegrityError`` naming the file,
    where it was looked for, its URL and checksum when no verified copy can be had.
    """
    if name == MNIST.name:
        return fetch_dataset(name, data_dir=data_dir, mirror=mirror)
    if name not in VAE_SOURCES:
        raise _unknown(name)
    return fetch_published_dataset(VAE_SOURCES[name], data_dir=data_dir, mirror=mirror)


def load_image_dataset(name: str, root: str | os.PathLike, **options: Any) -> "ImageDataset":
    """Load VAE dataset *name* from the data directory *root*.

    *options* are the loader's keyword options, e.g. ``split_seed`` (Frey Faces: 123, 321 or
    231; Omniglot: the train/validation shuffle; must be None for the fixed-split datasets).
    """
    if name == MNIST.name:
        raise KeyError("'mnist' is the classifiers' dataset, not a VAE image dataset: load it with "
                       "replication.data.mnist.load_mnist (the VAE MNIST is 'binarized_mnist')")
    return IMAGE_DATASETS[name](Path(root), **options)
