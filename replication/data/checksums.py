"""Checksums of dataset files: sha256 where one is known, md5 where only md5 was published.

Pure standard library (the Snakefile imports the catalog, which imports this at parse time).
sha256 checks reuse :func:`replication.data.fetch.verify`, so the messages match MNIST's.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from replication.data.fetch import DataIntegrityError, sha256_of, verify

ALGORITHMS = ("sha256", "md5")


@dataclass(frozen=True)
class Checksum:
    """The expected digest of a file's canonical (uncompressed) bytes."""

    algorithm: str
    hexdigest: str

    def __post_init__(self) -> None:
        if self.algorithm not in ALGORITHMS:
            raise ValueError(
                f"checksum algorithm must be one of {ALGORITHMS}, got {self.algorithm!r}")
        width = hashlib.new(self.algorithm).digest_size * 2
        if len(self.hexdigest) != width or any(c not in "0123456789abcdef" for c in self.hexdigest):
            raise ValueError(f"{self.algorithm} checksum must be {width} lowercase hex digits, "
                             f"got {self.hexdigest!r}")

    def __str__(self) -> str:
        return f"{self.algorithm} {self.hexdigest}"

    @property
    def pooch_hash(self) -> str:
        """The ``known_hash`` string pooch expects, e.g. ``"md5:21ec..."``."""
        return f"{self.algorithm}:{self.hexdigest}"


def sha256(hexdigest: str) -> Checksum:
    return Checksum("sha256", hexdigest)


def md5(hexdigest: str) -> Checksum:
    return Checksum("md5", hexdigest)


def digest_of(path: Path, algorithm: str, *, chunk: int = 1 << 20) -> str:
    """The hex digest of the file at *path* with *algorithm* (``"sha256"`` or ``"md5"``)."""
    if algorithm == "sha256":
        return sha256_of(path, chunk=chunk)
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def matches(path: Path, checksum: Checksum) -> bool:
    """Whether *path* is a file whose digest is *checksum* (no exception either way)."""
    return path.is_file() and digest_of(path, checksum.algorithm) == checksum.hexdigest


def verify_checksum(path: Path, checksum: Checksum, *, origin: str) -> None:
    """Raise :class:`DataIntegrityError` unless *path* exists with the expected digest."""
    if checksum.algorithm == "sha256":
        verify(path, checksum.hexdigest, origin=origin)
        return
    if not path.is_file():
        raise DataIntegrityError(f"{path.name}: not found at {path} ({origin}).")
    actual = digest_of(path, checksum.algorithm)
    if actual != checksum.hexdigest:
        raise DataIntegrityError(
            f"{path.name} from {origin} is corrupted or truncated "
            f"({path.stat().st_size} bytes): expected {checksum.algorithm} {checksum.hexdigest}, "
            f"got {actual}. Replace it with a verified copy (see the dataset's canonical URL) and "
            "fetch again; the existing file in the data directory, if any, was left untouched."
        )
