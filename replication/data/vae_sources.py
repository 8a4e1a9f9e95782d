"""Where the files of the four VAE datasets come from, and their checksums.

Pure data, no heavy imports: the Snakefile reads it (through ``catalog``) at parse time.
Checksums are of the canonical, uncompressed files (a mirror may hold ``<file>.gz``);
the sha256 values were checked against the copies in ``shared/data`` (see its MANIFEST.tsv
for provenance). Omniglot's ``chardata.mat`` has only a published md5.
The mirror layout is ``<mirror>/<folder>/<file>``, as for MNIST (``replication.data.sources``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from replication.data.checksums import Checksum, md5, sha256, verify_checksum
from replication.data.sources import SourceFile


@dataclass(frozen=True, kw_only=True)
class PublishedFile:
    """One file of a dataset as published: its name, checksum and download URLs."""

    name: str
    checksum: Checksum
    urls: tuple[str, ...]

    @classmethod
    def from_source_file(cls, file: SourceFile) -> "PublishedFile":
        """The same file described by MNIST's sha256-only :class:`SourceFile`."""
        return cls(name=file.name, checksum=sha256(file.sha256), urls=file.urls)


@dataclass(frozen=True, kw_only=True)
class PublishedDataset:
    """The files of a dataset and the folder (in the data directory and mirror) that holds them."""

    name: str
    folder: str
    files: tuple[PublishedFile, ...]
    citation: str

    def paths(self, root: str | Path) -> list[Path]:
        """Where the dataset's files live under the data directory *root*."""
        return [Path(root) / self.folder / f.name for f in self.files]

    def verified_paths(self, root: str | Path) -> list[Path]:
        """:meth:`paths`, after checking each file's checksum (``DataIntegrityError`` if bad)."""
        paths = self.paths(root)
        for file, path in zip(self.files, paths):
            verify_checksum(path, file.checksum,
                            origin=f"the data directory (run the fetch step for {self.name!r})")
        return paths


_LAROCHELLE = "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist"

BINARIZED_MNIST = PublishedDataset(
    name="binarized_mnist",
    folder="binarized_mnist",
    citation="Larochelle & Murray (2011), static binarization of MNIST "
             "(Salakhutdinov & Murray 2008); 50,000 train / 10,000 validation / 10,000 test",
    files=tuple(
        PublishedFile(name=f"binarized_mnist_{split}.amat", checksum=sha256(digest),
                      urls=(f"{_LAROCHELLE}/binarized_mnist_{split}.amat",))
        for split, digest in (
            ("train", "ad693b29f94c14277b095f5238ddefbbdaaae0939789dd2f4f0205278cee3e4d"),
            ("valid", "1de3d397c40fe8eeb33dafd4099a1f665ec01e96d9be234aaeeac8a34930e2e2"),
            ("test", "e6687bfea3f820c174f33b7865140b2a2dd2930ef786f35d45795fc193b5ab2c"),
        )
    ),
)

OMNIGLOT = PublishedDataset(
    name="omniglot",
    folder="omniglot",
    citation="Lake et al. (2015); the 28x28 version of Burda et al. (2016, IWAE), chardata.mat",
    files=(
        PublishedFile(
            name="chardata.mat",
            checksum=md5("21ecaf34373511aa7691cf2e0802aa3d"),  # the only published checksum
            urls=("https://github.com/yburda/iwae/raw/master/datasets/OMNIGLOT/chardata.mat",),
        ),
    ),
)

FREYFACES = PublishedDataset(
    name="freyfaces",
    folder="freyfaces",
    citation="Frey faces (B. Frey, via S. Roweis), 1965 images of 28x20; freyfaces.pkl as "
             "loaded by Berg et al. (2018, Sylvester flows) and FFJORD",
    files=(
        PublishedFile(
            name="freyfaces.pkl",
            checksum=sha256("3b69410c6a5fd6e03f09012905168be3712373a094a776f7e58fcd0670d2138a"),
            urls=("https://github.com/riannevdberg/sylvester-flows/raw/master/data/"
                  "Freyfaces/freyfaces.pkl",),
        ),
    ),
)

CALTECH101_SILHOUETTES = PublishedDataset(
    name="caltech101_silhouettes",
    folder="caltech101_silhouettes",
    citation="Marlin et al. (2010), Caltech 101 Silhouettes 28x28, split 1: "
             "4,100 train / 2,264 validation / 2,307 test",
    files=(
        PublishedFile(
            name="caltech101_silhouettes_28_split1.mat",
            checksum=sha256("eb6735e8d84b1850fabc5590124aab1755e90c9fd28123585324398405e1e42a"),
            urls=("https://people.cs.umass.edu/~marlin/data/caltech101_silhouettes_28_split1.mat",),
        ),
    ),
)

VAE_SOURCES: dict[str, PublishedDataset] = {
    source.name: source
    for source in (BINARIZED_MNIST, OMNIGLOT, FREYFACES, CALTECH101_SILHOUETTES)
}
