"""The registry of dataset files: canonical URLs, sha256 and location in a mirror.

Pure data, no heavy imports: the Snakefile reads it to declare the fetch outputs.
The mirror layout is ``<mirror>/<folder>/<file>``, the layout of ``shared/data``.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class SourceFile:
    """One file of a dataset, as published."""

    name: str
    sha256: str
    urls: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class DatasetSource:
    """The files that make up a dataset and the folder that holds them."""

    name: str
    folder: str
    files: tuple[SourceFile, ...]
    citation: str

    def paths(self, root: str | Path) -> list[Path]:
        """Where the dataset's files live under the data directory *root*."""
        return [Path(root) / self.folder / f.name for f in self.files]


def _mnist_file(name: str, sha256: str) -> SourceFile:
    return SourceFile(
        name=name,
        sha256=sha256,
        urls=(
            f"http://yann.lecun.com/exdb/mnist/{name}",
            f"https://ossci-datasets.s3.amazonaws.com/mnist/{name}",
        ),
    )


MNIST = DatasetSource(
    name="mnist",
    folder="mnist",
    citation="LeCun, Bottou, Bengio, Haffner (1998); the four canonical idx files",
    files=(
        _mnist_file("train-images-idx3-ubyte.gz",
                    "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"),
        _mnist_file("train-labels-idx1-ubyte.gz",
                    "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"),
        _mnist_file("t10k-images-idx3-ubyte.gz",
                    "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"),
        _mnist_file("t10k-labels-idx1-ubyte.gz",
                    "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"),
    ),
)

DATASETS: dict[str, DatasetSource] = {source.name: source for source in (MNIST,)}
