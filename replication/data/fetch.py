"""Fetch dataset files from a local mirror or their canonical URLs, verified by sha256.

A file is only ever moved into place after its hash has been checked, so a bad
download or a corrupted mirror copy never replaces a good file.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
from pathlib import Path

from replication.data.sources import DATASETS, DatasetSource, SourceFile

log = logging.getLogger(__name__)

MIRROR_ENV = "REPLICATION_DATA_MIRROR"


class DataIntegrityError(RuntimeError):
    """A dataset file is missing, truncated or corrupted."""


def sha256_of(path: Path, *, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def resolve_mirror(mirror: str | os.PathLike | None) -> Path | None:
    """The mirror folder: the explicit argument, else ``$REPLICATION_DATA_MIRROR``, else none."""
    chosen = mirror if mirror else os.environ.get(MIRROR_ENV) or None
    return Path(chosen).expanduser().resolve() if chosen else None


def verify(path: Path, expected_sha256: str, *, origin: str) -> None:
    """Raise :class:`DataIntegrityError` unless *path* exists with the expected hash."""
    if not path.is_file():
        raise DataIntegrityError(f"{path.name}: not found at {path} ({origin}).")
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise DataIntegrityError(
            f"{path.name} from {origin} is corrupted or truncated "
            f"({path.stat().st_size} bytes): expected sha256 {expected_sha256}, got {actual}. "
            "Replace it with a verified copy (see the dataset's canonical URL) and fetch again; "
            "the existing file in the data directory, if any, was left untouched."
        )


def fetch_file(file: SourceFile, target: Path, *, mirror_dir: Path | None) -> Path:
    """Place a verified copy of *file* at *target* (no-op when a good copy is there)."""
    if target.is_file() and sha256_of(target) == file.sha256:
        log.info("%s: already present and verified", target)
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent, prefix=f".{target.name}.") as tmp:
        staged = Path(tmp) / file.name
        if mirror_dir is not None:
            source = mirror_dir / file.name
            if not source.is_file():
                raise DataIntegrityError(
                    f"{file.name}: not found in the data mirror at {source}. Put the verified "
                    f"file there (sha256 {file.sha256}) or unset the mirror "
                    f"(config key data_mirror / ${MIRROR_ENV}) to download it from {file.urls[0]}."
                )
            shutil.copyfile(source, staged)
            verify(staged, file.sha256, origin=f"the mirror ({source})")
        else:
            _download(file, staged)
        os.replace(staged, target)
    log.info("%s: fetched and verified (sha256 %s)", target, file.sha256)
    return target


def _download(file: SourceFile, staged: Path) -> None:
    import pooch  # only needed when there is no mirror

    failures = []
    for url in file.urls:
        try:
            pooch.retrieve(url, known_hash=f"sha256:{file.sha256}", fname=staged.name,
                           path=staged.parent, progressbar=False)
            return
        except ValueError as error:  # pooch: hash mismatch
            failures.append(f"{url}: {error}")
        except Exception as error:  # network errors differ by backend
            failures.append(f"{url}: {type(error).__name__}: {error}")
    raise DataIntegrityError(
        f"{file.name}: could not download a verified copy (sha256 {file.sha256}).\n  "
        + "\n  ".join(failures)
        + f"\nWithout internet, point the data mirror (config key data_mirror or ${MIRROR_ENV}) "
        "at a folder holding <dataset>/<file>, e.g. shared/data."
    )


def fetch_dataset(
    name: str, *, data_dir: str | os.PathLike, mirror: str | os.PathLike | None = None
) -> list[Path]:
    """Fetch every file of dataset *name* into ``data_dir/<folder>``; return their paths."""
    try:
        source: DatasetSource = DATASETS[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None
    mirror_root = resolve_mirror(mirror)
    mirror_dir = mirror_root / source.folder if mirror_root else None
    return [
        fetch_file(file, path, mirror_dir=mirror_dir)
        for file, path in zip(source.files, source.paths(data_dir))
    ]
