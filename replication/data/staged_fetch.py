"""Fetch a dataset's files into the data directory, verified, from a mirror or the network.

A mirror folder ``<mirror>/<folder>/`` may hold each file as published (``<file>``) or a
gzipped copy (``<file>.gz``). Either is copied or decompressed into a staging file next to
the target, its canonical bytes are checked against the published checksum, and only then is
it moved into ``<data_dir>/<folder>/<file>`` with an atomic rename. A corrupted, truncated or
missing copy therefore never replaces a good file, and no staging file is left behind.
Without a mirror, files are downloaded with pooch (imported only then), checked the same way.

Pure standard library at import time (the Snakefile imports the catalog at parse time).
"""
from __future__ import annotations

import gzip
import logging
import os
import shutil
import tempfile
import zlib
from pathlib import Path

from replication.data.checksums import matches, verify_checksum
from replication.data.fetch import MIRROR_ENV, DataIntegrityError, resolve_mirror
from replication.data.vae_sources import PublishedDataset, PublishedFile

log = logging.getLogger(__name__)

GZIP_SUFFIX = ".gz"


def mirror_candidates(file: PublishedFile, mirror_dir: Path) -> list[Path]:
    """The copies of *file* a mirror folder may hold, in the order they are tried."""
    return [mirror_dir / file.name, mirror_dir / f"{file.name}{GZIP_SUFFIX}"]


def fetch_published_file(
    file: PublishedFile, target: Path, *, mirror_dir: Path | None, dataset: str
) -> Path:
    """Place a verified copy of *file* at *target* (a no-op when a good copy is already there)."""
    if matches(target, file.checksum):
        log.info("%s: already present and verified", target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        staged = Path(tmp) / file.name
        if mirror_dir is not None:
            _stage_from_mirror(file, staged, mirror_dir=mirror_dir, dataset=dataset)
        else:
            _download(file, staged, dataset=dataset)
        os.replace(staged, target)
    log.info("%s: fetched and verified (%s)", target, file.checksum)
    return target


def fetch_published_dataset(
    source: PublishedDataset, *, data_dir: str | os.PathLike,
    mirror: str | os.PathLike | None = None,
) -> list[Path]:
    """Fetch every file of *source* into ``data_dir/<folder>``; return their paths.

    *mirror* defaults to ``$REPLICATION_DATA_MIRROR``; with neither, files are downloaded.
    """
    mirror_root = resolve_mirror(mirror)
    mirror_dir = mirror_root / source.folder if mirror_root else None
    return [
        fetch_published_file(file, path, mirror_dir=mirror_dir, dataset=source.name)
        for file, path in zip(source.files, source.paths(data_dir))
    ]


def _stage_from_mirror(
    file: PublishedFile, staged: Path, *, mirror_dir: Path, dataset: str
) -> None:
    candidates = [path for path in mirror_candidates(file, mirror_dir) if path.is_file()]
    if not candidates:
        searched = " and ".join(str(path) for path in mirror_candidates(file, mirror_dir))
        raise DataIntegrityError(
            f"{file.name} (dataset {dataset!r}): not found in the data mirror; "
            f"looked for {searched}. "
            f"Put a verified copy of {file.name} (or of {file.name}{GZIP_SUFFIX}) in {mirror_dir} "
            f"({file.checksum} of the uncompressed file; canonical URL {file.urls[0]}), "
            f"or unset the mirror (config key data_mirror / ${MIRROR_ENV}) to download it, "
            f"or run with the dataset {dataset!r} excluded "
            f"(snakemake --config exclude_datasets='[{dataset}]')."
        )
    failures: list[str] = []
    for candidate in candidates:
        try:
            _copy_canonical_bytes(candidate, staged)
            verify_checksum(staged, file.checksum, origin=f"the mirror ({candidate})")
            return
        except DataIntegrityError as error:
            failures.append(str(error))
    raise DataIntegrityError("\n".join(failures))


def _copy_canonical_bytes(source: Path, staged: Path) -> None:
    """Copy *source* to *staged*, decompressing it first when it is a ``.gz`` copy."""
    if source.name.endswith(GZIP_SUFFIX):
        try:
            with gzip.open(source, "rb") as compressed, open(staged, "wb") as out:
                shutil.copyfileobj(compressed, out, length=1 << 20)
        except (OSError, EOFError, zlib.error) as error:
            raise DataIntegrityError(
                f"{source.name} from the mirror ({source}) is not a readable gzip file "
                f"({type(error).__name__}: {error}): it is corrupted or truncated. Replace it with "
                "a verified copy and fetch again; the existing file in the data directory, "
                "if any, was left untouched."
            ) from None
    else:
        shutil.copyfile(source, staged)


def _download(file: PublishedFile, staged: Path, *, dataset: str) -> None:
    import pooch  # only needed when there is no mirror

    failures = []
    for url in file.urls:
        try:
            pooch.retrieve(url, known_hash=file.checksum.pooch_hash, fname=staged.name,
                           path=staged.parent, progressbar=False)
            return
        except ValueError as error:  # pooch: hash mismatch
            failures.append(f"{url}: {error}")
        except Exception as error:  # network errors differ by backend
            failures.append(f"{url}: {type(error).__name__}: {error}")
    raise DataIntegrityError(
        f"{file.name} (dataset {dataset!r}): could not download a verified copy "
        f"({file.checksum}).\n  "
        + "\n  ".join(failures)
        + f"\nWithout internet, point the data mirror (config key data_mirror or ${MIRROR_ENV}) "
        f"at a folder holding <dataset>/<file> or <dataset>/<file>{GZIP_SUFFIX}, e.g. shared/data, "
        f"or run with the dataset {dataset!r} excluded (snakemake --config "
        f"exclude_datasets='[{dataset}]')."
    )
