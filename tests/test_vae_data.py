"""VAE datasets: sources and catalog, verified fetch (gz mirrors, md5), loaders and batching."""
from __future__ import annotations

import dataclasses
import gzip
import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch

from replication.data import binarized_mnist, caltech101_silhouettes, freyfaces, omniglot
from replication.data.catalog import (
    DATASET_NAMES, IMAGE_DATASETS, dataset_paths, fetch, load_image_dataset, published_dataset,
)
from replication.data.checksums import Checksum, digest_of, md5, sha256
from replication.data.fetch import DataIntegrityError, sha256_of
from replication.data.images import ImageDataset, evaluation_batches, training_batches
from replication.data.restricted_pickle import load_arrays
from replication.data.staged_fetch import fetch_published_dataset
from replication.data.vae_sources import OMNIGLOT, VAE_SOURCES

IN_MIRROR = ("binarized_mnist", "freyfaces", "caltech101_silhouettes")


@pytest.fixture(scope="module")
def vae_root(tmp_path_factory, mirror):
    """A data directory holding the VAE datasets that the mirror has, fetched and verified."""
    root = tmp_path_factory.mktemp("vae_data")
    for name in IN_MIRROR:
        fetch(name, data_dir=root, mirror=mirror)
    return root


@pytest.fixture(scope="module")
def binarized(vae_root):
    return load_image_dataset("binarized_mnist", vae_root)


def _binary(images: torch.Tensor) -> bool:
    """Only 0 and 1, and both of them."""
    zeros, ones = int((images == 0).sum()), int((images == 1).sum())
    return zeros + ones == images.numel() and zeros > 0 and ones > 0


def _copy_to(source, target):
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    target.chmod(0o644)
    return target


# --- catalog --------------------------------------------------------------------------------

def test_catalog_names_paths_and_no_torch_at_import(tmp_path, repo_root):
    assert DATASET_NAMES == ("mnist", "binarized_mnist", "omniglot", "freyfaces",
                             "caltech101_silhouettes")
    assert set(IMAGE_DATASETS) == set(DATASET_NAMES) - {"mnist"}
    for module in (binarized_mnist, omniglot, freyfaces, caltech101_silhouettes):
        assert IMAGE_DATASETS[module.__name__.rsplit(".", 1)[1]] is module.load
    with pytest.raises(KeyError, match="load_mnist"):
        load_image_dataset("mnist", tmp_path)
    assert dataset_paths("omniglot", "d") == [Path("d", "omniglot", "chardata.mat")]
    assert [p.name for p in dataset_paths("binarized_mnist", "d")] == [
        f"binarized_mnist_{s}.amat" for s in ("train", "valid", "test")]
    assert dataset_paths("mnist", "d")[0].parts == ("d", "mnist", "train-images-idx3-ubyte.gz")
    assert published_dataset("mnist").files[0].checksum.algorithm == "sha256"
    with pytest.raises(KeyError, match="unknown dataset 'cifar'"):
        dataset_paths("cifar", "d")
    with pytest.raises(KeyError, match="unknown dataset 'cifar'"):
        fetch("cifar", data_dir=tmp_path)
    script = ("import sys, replication.data.catalog; "
              "assert not {'torch', 'numpy', 'scipy'} & set(sys.modules), sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=repo_root)


def test_checksums_of_the_mirror_files_match_the_sources(vae_root):
    for name in IN_MIRROR:
        for file, path in zip(VAE_SOURCES[name].files, dataset_paths(name, vae_root)):
            assert digest_of(path, file.checksum.algorithm) == file.checksum.hexdigest
    assert OMNIGLOT.files[0].checksum == md5("21ecaf34373511aa7691cf2e0802aa3d")
    with pytest.raises(ValueError, match="64 lowercase hex digits"):
        sha256("abc")
    with pytest.raises(ValueError, match="one of"):
        Checksum("crc32", "0" * 8)


# --- fetch ----------------------------------------------------------------------------------

def test_gz_mirror_copies_are_decompressed_and_verified(vae_root, mirror):
    assert (mirror / "freyfaces" / "freyfaces.pkl.gz").is_file()
    path = vae_root / "freyfaces" / "freyfaces.pkl"
    assert path.is_file() and path.read_bytes()[:2] != b"\x1f\x8b"  # stored uncompressed
    assert sha256_of(path) == VAE_SOURCES["freyfaces"].files[0].checksum.hexdigest
    assert not list((vae_root / "freyfaces").glob(".*")), "no staging files are left behind"


def test_mnist_is_fetched_through_the_existing_fetch(mirror, tmp_path):
    paths = fetch("mnist", data_dir=tmp_path, mirror=mirror)
    assert paths == dataset_paths("mnist", tmp_path)
    assert all(p.is_file() for p in paths)


@pytest.mark.parametrize("copy", ["plain", "gz", "truncated gz"])
def test_corrupted_mirror_copy_is_rejected_and_never_replaces_a_file(vae_root, tmp_path, copy):
    name, file_name = "caltech101_silhouettes", "caltech101_silhouettes_28_split1.mat"
    good = (vae_root / name / file_name).read_bytes()
    flipped = good[:1000] + bytes([good[1000] ^ 0xFF]) + good[1001:]
    bad_mirror = tmp_path / "mirror" / name
    bad_mirror.mkdir(parents=True)
    if copy == "plain":
        (bad_mirror / file_name).write_bytes(flipped)
    elif copy == "gz":
        (bad_mirror / f"{file_name}.gz").write_bytes(gzip.compress(flipped))
    else:
        (bad_mirror / f"{file_name}.gz").write_bytes(gzip.compress(good)[:5000])

    data = tmp_path / "data"
    target = _copy_to(vae_root / name / file_name, data / name / file_name)
    assert fetch(name, data_dir=data, mirror=bad_mirror.parent) == [target]  # good copy: no-op
    assert target.read_bytes() == good

    target.write_bytes(b"stale")  # force a re-fetch of the file
    with pytest.raises(DataIntegrityError) as raised:
        fetch(name, data_dir=data, mirror=bad_mirror.parent)
    message = str(raised.value)
    assert file_name in message and "Replace it" in message
    if copy == "truncated gz":
        assert "not a readable gzip file" in message
    else:
        assert VAE_SOURCES[name].files[0].checksum.hexdigest in message
    assert target.read_bytes() == b"stale", "the bad copy did not replace what was there"
    assert not list((data / name).glob(".*")), "no staging files are left behind"


def test_missing_file_error_names_file_path_url_checksum_and_remedy(mirror, tmp_path):
    with pytest.raises(DataIntegrityError) as raised:
        fetch("omniglot", data_dir=tmp_path / "data", mirror=mirror)  # not in shared/data
    message = str(raised.value)
    searched = mirror.resolve() / "omniglot"  # the fetch names the mirror's resolved path
    for fact in ("chardata.mat", str(searched / "chardata.mat"), str(searched / "chardata.mat.gz"),
                 "https://github.com/yburda/iwae/raw/master/datasets/OMNIGLOT/chardata.mat",
                 "md5 21ecaf34373511aa7691cf2e0802aa3d", "Put a verified copy",
                 "run with the dataset 'omniglot' excluded",
                 "--config exclude_datasets='[omniglot]'"):
        assert fact in message, fact
    assert not (tmp_path / "data" / "omniglot" / "chardata.mat").exists()


def test_loader_verifies_the_files_it_reads(vae_root, tmp_path):
    target = _copy_to(vae_root / "freyfaces" / "freyfaces.pkl",
                      tmp_path / "freyfaces" / "freyfaces.pkl")
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(DataIntegrityError, match="freyfaces.pkl.*expected sha256.*"):
        load_image_dataset("freyfaces", tmp_path)
    with pytest.raises(DataIntegrityError, match="binarized_mnist_train.amat: not found"):
        load_image_dataset("binarized_mnist", tmp_path)


# --- loaders on the real files --------------------------------------------------------------

def test_binarized_mnist(binarized):
    assert binarized.image_shape == (1, 28, 28)
    assert (len(binarized.train), len(binarized.validation), len(binarized.test)) == (
        50_000, 10_000, 10_000)
    assert binarized.likelihood == "bernoulli" and not binarized.dynamic_binarization
    for images in (binarized.train, binarized.validation, binarized.test):
        assert images.dtype == torch.float32 and _binary(images)
    assert 0.10 < binarized.train.mean().item() < 0.16  # MNIST's ink fraction
    with pytest.raises(ValueError, match="fixed train/valid/test split"):
        binarized_mnist.load("unused", split_seed=1)


def test_read_amat_checks_its_format(tmp_path):
    path = tmp_path / "x.amat"
    for layout in (b"0 1 1\n1 0 0\n", b"0 1 1\r\n1\t0  0 \n\n", b"0 1 1\n1 0 0"):
        path.write_bytes(layout)
        np.testing.assert_array_equal(binarized_mnist.read_amat(path, pixels=3),
                                      [[0, 1, 1], [1, 0, 0]])
    path.write_bytes(b"\n")
    with pytest.raises(ValueError, match="holds no images"):
        binarized_mnist.read_amat(path, pixels=3)
    path.write_bytes(b"0 1 1\n1 0\n")
    with pytest.raises(ValueError, match=r"image 1 \(counting from 0.*\) has 2 values, expected 3"):
        binarized_mnist.read_amat(path, pixels=3)
    path.write_bytes(b"0 1 1\n1 0 2\n")
    with pytest.raises(ValueError, match="other than single 0/1"):
        binarized_mnist.read_amat(path, pixels=3)
    path.write_bytes(b"0 1 1\n1 01\n")
    with pytest.raises(ValueError, match="other than single 0/1"):
        binarized_mnist.read_amat(path, pixels=3)


def test_freyfaces_split_depends_on_seed_and_partitions_the_faces(vae_root):
    faces = freyfaces.read_faces(vae_root / "freyfaces" / "freyfaces.pkl")
    assert faces.shape == (1965, 560) and faces.dtype == np.uint8
    assert (faces.min(), faces.max()) == (8, 238)

    data = load_image_dataset("freyfaces", vae_root)  # default seed 123
    assert data.image_shape == (1, 28, 20)
    assert (len(data.train), len(data.validation), len(data.test)) == (1565, 200, 200)
    assert data.likelihood == "categorical256" and not data.dynamic_binarization
    everything = torch.cat([data.train, data.validation, data.test])
    targets = (everything * 255).round()  # the categorical likelihood's targets
    assert torch.equal(targets / 255, everything)  # exactly k / 255
    assert (targets.min().item(), targets.max().item()) == (8, 238)

    # the reference's recipe: RandomState(seed).shuffle the faces, then cut 1565 / 200 / 200
    shuffled = faces.copy()
    np.random.RandomState(123).shuffle(shuffled)
    expected = torch.from_numpy(shuffled.reshape(-1, 1, 28, 20) / 255.0).float()
    assert torch.equal(everything, expected)

    for seed in freyfaces.PAPER_SPLIT_SEEDS:
        parts = freyfaces.split_indices(1965, split_seed=seed)
        assert [len(p) for p in parts] == [1565, 200, 200]
        assert sorted(np.concatenate(parts).tolist()) == list(range(1965))  # disjoint partition
    other = load_image_dataset("freyfaces", vae_root, split_seed=321)
    assert not torch.equal(other.test, data.test)
    assert torch.equal(load_image_dataset("freyfaces", vae_root, split_seed=123).test, data.test)


def test_caltech101_silhouettes(vae_root):
    data = caltech101_silhouettes.load(vae_root)
    assert data.image_shape == (1, 28, 28)
    assert (len(data.train), len(data.validation), len(data.test)) == (4100, 2264, 2307)
    assert data.likelihood == "bernoulli" and not data.dynamic_binarization
    raw = scipy.io.loadmat(dataset_paths("caltech101_silhouettes", vae_root)[0])
    for split, key in (("train", "train_data"), ("validation", "val_data"), ("test", "test_data")):
        images = getattr(data, split)
        assert _binary(images)
        for i in (0, len(images) - 1):  # each row is a column-major image, inverted
            expected = 1.0 - raw[key][i].reshape(28, 28, order="F")
            np.testing.assert_array_equal(images[i, 0].numpy(), expected)
    assert data.train[:, 0, 0, :].mean() < 0.1  # background (0 after inversion) at the border


# --- Omniglot on a small file in the real layout --------------------------------------------

TRAIN_COLUMNS, TEST_COLUMNS = 1400, 30


def _omniglot_image(index: int) -> np.ndarray:
    """An asymmetric 28x28 image: a full top row, ``index`` in binary along row 5, grey row 10."""
    image = np.zeros((28, 28), dtype=np.float64)
    image[0, :] = 1.0
    image[5, :11] = [(index >> bit) & 1 for bit in range(11)]
    image[10, :] = 0.5
    return image


def _decode(images: torch.Tensor) -> list[int]:
    bits = images[:, 0, 5, :11].round().long()
    return (bits * (2 ** torch.arange(11))).sum(dim=1).tolist()


@pytest.fixture(scope="module")
def omniglot_files(tmp_path_factory):
    """A data directory with a small chardata.mat (784 x N columns, column-major images)."""
    root = tmp_path_factory.mktemp("omniglot_data")
    train = np.stack([_omniglot_image(i) for i in range(TRAIN_COLUMNS)])
    test = np.stack([_omniglot_image(i) for i in range(TEST_COLUMNS)])
    path = root / "omniglot" / "chardata.mat"
    path.parent.mkdir()
    scipy.io.savemat(path, {
        "data": np.stack([im.flatten(order="F") for im in train], axis=1),  # 784 x N
        "testdata": np.stack([im.flatten(order="F") for im in test], axis=1),
        "target": np.eye(50)[np.arange(TRAIN_COLUMNS) % 50].T,
        "testtarget": np.eye(50)[np.arange(TEST_COLUMNS) % 50].T,
    })
    file = dataclasses.replace(OMNIGLOT.files[0], checksum=md5(digest_of(path, "md5")))
    source = dataclasses.replace(OMNIGLOT, files=(file,))
    return root, source


def test_omniglot_loader_layout_split_and_binarization(omniglot_files):
    root, source = omniglot_files
    data = omniglot.load(root, source=source)
    assert data.image_shape == (1, 28, 28)
    assert (len(data.train), len(data.validation), len(data.test)) == (
        TRAIN_COLUMNS - 1345, 1345, TEST_COLUMNS)
    assert data.likelihood == "bernoulli" and data.dynamic_binarization

    # column-major storage read the right way round: the full row is the top row
    for images in (data.train, data.validation, data.test):
        assert bool((images[:, 0, 0, :] == 1).all())
        assert bool((images[:, 0, 1:5, :] == 0).all()) and bool((images[:, 0, 11:, :] == 0).all())
    # shuffled with the default seed (the reference's in-place shuffle); the LAST 1,345 validate
    order = np.arange(TRAIN_COLUMNS)
    np.random.RandomState(omniglot.DEFAULT_SPLIT_SEED).shuffle(order)
    assert _decode(data.train) == order[:-1345].tolist()
    assert _decode(data.validation) == order[-1345:].tolist()
    assert _decode(data.test) == list(range(TEST_COLUMNS))
    # training stays grey (binarized per batch); validation and test are binarized once, seed 777
    assert bool((data.train[:, 0, 10, :] == 0.5).all())
    rng = np.random.RandomState(777)
    validation = rng.binomial(1, np.stack([_omniglot_image(i) for i in order[-1345:]]))
    test = rng.binomial(1, np.stack([_omniglot_image(i) for i in range(TEST_COLUMNS)]))
    np.testing.assert_array_equal(data.validation[:, 0].numpy(), validation)
    np.testing.assert_array_equal(data.test[:, 0].numpy(), test)
    assert 0.3 < data.validation[:, 0, 10, :].mean().item() < 0.7

    reshuffled = omniglot.load(root, source=source, split_seed=1)
    assert _decode(reshuffled.validation) != _decode(data.validation)


def test_omniglot_checksum_is_md5_and_checked(omniglot_files, tmp_path):
    root, source = omniglot_files
    with pytest.raises(DataIntegrityError, match="expected md5 21ecaf34373511aa7691cf2e0802aa3d"):
        omniglot.load(root)  # the published md5 is not that of the small test file
    # fetch from a mirror holding a gzipped copy, verified by md5
    mirror = tmp_path / "mirror"
    (mirror / "omniglot").mkdir(parents=True)
    (mirror / "omniglot" / "chardata.mat.gz").write_bytes(
        gzip.compress((root / "omniglot" / "chardata.mat").read_bytes()))
    (path,) = fetch_published_dataset(source, data_dir=tmp_path / "data", mirror=mirror)
    assert digest_of(path, "md5") == source.files[0].checksum.hexdigest


# --- batching -------------------------------------------------------------------------------

def _grey_dataset(*, dynamic: bool, train: int = 10) -> ImageDataset:
    grey = torch.linspace(0.05, 0.95, train * 4).reshape(train, 1, 2, 2)
    return ImageDataset(name="toy", train=grey, validation=grey[:3], test=grey[:5],
                        likelihood="bernoulli", dynamic_binarization=dynamic)


def test_dynamic_binarization_resamples_each_batch(omniglot_files):
    root, source = omniglot_files
    data = omniglot.load(root, source=source)

    def batches(seed):
        generator = torch.Generator().manual_seed(seed)
        return list(training_batches(data, batch_size=16, generator=generator))

    first, again, other = batches(0), batches(0), batches(1)
    assert len(first) == (TRAIN_COLUMNS - 1345) // 16  # the last partial batch is dropped
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    for batch in first + other:
        assert batch.shape == (16, 1, 28, 28) and _binary(batch)
    assert not torch.equal(torch.cat(first), torch.cat(other))

    # same order, different Bernoulli draws: binarization happens anew each time
    toy = _grey_dataset(dynamic=True, train=64)
    draws = [next(training_batches(toy, batch_size=64, generator=torch.Generator().manual_seed(s)))
             for s in (0, 1)]
    assert not torch.equal(draws[0], draws[1])
    static = _grey_dataset(dynamic=False)
    drawn = torch.cat(list(training_batches(static, batch_size=4, generator=torch.Generator())))
    assert len(drawn) == 8  # 10 images: two full batches, the partial one dropped
    assert set(drawn.flatten().tolist()) < set(static.train.flatten().tolist())  # grey, unchanged


def test_evaluation_batches_keep_order_and_the_partial_batch():
    images = torch.arange(10, dtype=torch.float32).reshape(10, 1, 1, 1)
    batches = list(evaluation_batches(images, batch_size=4))
    assert [len(b) for b in batches] == [4, 4, 2]
    assert torch.equal(torch.cat(batches), images)


def test_subset_and_validation_of_image_datasets():
    data = _grey_dataset(dynamic=False)
    small = data.subset(train=4, test=2)
    assert (len(small.train), len(small.validation), len(small.test)) == (4, 3, 2)
    assert torch.equal(small.train, data.train[:4])
    with pytest.raises(ValueError, match=r"train subset must be in \[1, 10\]"):
        data.subset(train=11)
    with pytest.raises(ValueError, match="likelihood must be one of"):
        dataclasses.replace(data, likelihood="gaussian")
    with pytest.raises(ValueError, match="must be float32"):
        dataclasses.replace(data, test=data.test.double())


# --- restricted unpickling ------------------------------------------------------------------

def test_restricted_unpickler_loads_arrays_and_refuses_other_globals(tmp_path):
    path = tmp_path / "x.pkl"
    arrays = [np.arange(6, dtype=np.uint8).reshape(2, 3)]
    for protocol in (0, 2, 5):
        path.write_bytes(pickle.dumps(arrays, protocol=protocol))
        np.testing.assert_array_equal(load_arrays(path)[0], arrays[0])
    path.write_bytes(pickle.dumps(os.getcwd))
    with pytest.raises(pickle.UnpicklingError, match="refusing to load global"):
        load_arrays(path)
    path.write_bytes(pickle.dumps(np.array([1, "a"], dtype=object)))
    with pytest.raises(pickle.UnpicklingError):
        load_arrays(path)
