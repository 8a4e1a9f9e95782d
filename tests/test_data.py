"""Dataset fetching, verification and MNIST splits."""
import gzip
import hashlib
import shutil

import numpy as np
import pytest
import torch

from replication.data import DATASETS
from replication.data.fetch import DataIntegrityError, fetch_dataset, sha256_of
from replication.data.mnist import load_mnist, random_crop, read_idx, training_batches


def _copy_mirror(mirror, tmp_path):
    copy = tmp_path / "mirror"
    shutil.copytree(mirror / "mnist", copy / "mnist")
    for path in (copy / "mnist").iterdir():
        path.chmod(0o644)
    return copy


def test_fetch_from_mirror_verifies_every_file(mirror, tmp_path):
    paths = fetch_dataset("mnist", data_dir=tmp_path / "data", mirror=mirror)
    assert [p.name for p in paths] == [f.name for f in DATASETS["mnist"].files]
    for path, file in zip(paths, DATASETS["mnist"].files):
        assert sha256_of(path) == file.sha256


def test_corrupted_mirror_file_is_rejected_and_good_file_kept(mirror, tmp_path):
    data = tmp_path / "data"
    fetch_dataset("mnist", data_dir=data, mirror=mirror)
    good = data / "mnist" / "t10k-labels-idx1-ubyte.gz"
    good_bytes = good.read_bytes()

    bad_mirror = _copy_mirror(mirror, tmp_path)
    corrupted = bad_mirror / "mnist" / "t10k-labels-idx1-ubyte.gz"
    corrupted.write_bytes(good_bytes[:-1] + bytes([good_bytes[-1] ^ 0xFF]))
    good.write_bytes(b"stale")  # force a re-fetch of this one file
    expected = DATASETS["mnist"].files[3].sha256
    with pytest.raises(DataIntegrityError) as raised:
        fetch_dataset("mnist", data_dir=data, mirror=bad_mirror)
    message = str(raised.value)
    assert "t10k-labels-idx1-ubyte.gz" in message
    assert expected in message and sha256_of(corrupted) in message
    assert "Replace it" in message
    assert good.read_bytes() == b"stale"  # the bad copy did not replace what was there
    assert not list((data / "mnist").glob(".*")), "no staging files are left behind"


def test_truncated_mirror_file_never_replaces_a_good_file(mirror, tmp_path):
    data = tmp_path / "data"
    fetch_dataset("mnist", data_dir=data, mirror=mirror)
    bad_mirror = _copy_mirror(mirror, tmp_path)
    truncated = bad_mirror / "mnist" / "train-labels-idx1-ubyte.gz"
    truncated.write_bytes(truncated.read_bytes()[:1000])
    good = data / "mnist" / "train-labels-idx1-ubyte.gz"
    before = good.read_bytes()
    fetch_dataset("mnist", data_dir=data, mirror=bad_mirror)  # good copy present: nothing to do
    assert good.read_bytes() == before


def test_missing_mirror_file_says_where_it_was_expected(tmp_path):
    (tmp_path / "empty" / "mnist").mkdir(parents=True)
    with pytest.raises(DataIntegrityError, match="not found in the data mirror.*train-images"):
        fetch_dataset("mnist", data_dir=tmp_path / "data", mirror=tmp_path / "empty")


def test_loader_rejects_a_corrupted_data_directory(mnist_root, tmp_path):
    data = tmp_path / "data"
    shutil.copytree(mnist_root / "mnist", data / "mnist")
    target = data / "mnist" / "t10k-images-idx3-ubyte.gz"
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(DataIntegrityError, match="t10k-images-idx3-ubyte.gz.*expected sha256"):
        load_mnist(data, validation_size=5000)


def test_unknown_dataset():
    with pytest.raises(KeyError, match="unknown dataset 'cifar'"):
        fetch_dataset("cifar", data_dir="unused")


def test_read_idx_round_trip_and_bad_magic(tmp_path):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    path = tmp_path / "x-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(header + array.tobytes()))
    np.testing.assert_array_equal(read_idx(path), array)
    path.write_bytes(gzip.compress(b"\x01\x02" + header[2:] + array.tobytes()))
    with pytest.raises(ValueError, match="bad magic"):
        read_idx(path)
    path.write_bytes(gzip.compress(header + array.tobytes()[:-1]))
    with pytest.raises(ValueError, match="declares 24 values"):
        read_idx(path)


def test_mnist_splits_hold_out_validation_from_training(mnist_root):
    splits = load_mnist(mnist_root, validation_size=5000)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (55_000, 5_000, 10_000)
    assert splits.train.images.shape == (55_000, 1, 28, 28)
    assert splits.train.images.dtype == torch.uint8 and int(splits.train.images.max()) == 255
    assert splits.train.labels.unique().tolist() == list(range(10))
    # the validation images are the last 5,000 of the official training file, not test images
    train_file = read_idx(mnist_root / "mnist" / "train-images-idx3-ubyte.gz")
    np.testing.assert_array_equal(splits.validation.images[:, 0].numpy(), train_file[-5000:])
    digest = hashlib.sha256(splits.test.images.numpy().tobytes()).hexdigest()
    assert digest != hashlib.sha256(splits.validation.images.numpy().tobytes()).hexdigest()


def test_random_crop_is_a_shift_of_the_zero_padded_image():
    images = torch.rand(16, 1, 28, 28)
    generator = torch.Generator().manual_seed(0)
    cropped = random_crop(images, padding=4, generator=generator)
    assert cropped.shape == images.shape
    padded = torch.nn.functional.pad(images, (4, 4, 4, 4))
    for i in range(16):
        matches = [
            (dy, dx) for dy in range(9) for dx in range(9)
            if torch.equal(padded[i, :, dy:dy + 28, dx:dx + 28], cropped[i])
        ]
        assert matches, f"image {i} is not a crop of its padded original"


def test_training_batches_are_reproducible_per_generator_seed(mnist_root):
    split = load_mnist(mnist_root, validation_size=5000, train_subset=300).train

    def first_batch(seed):
        generator = torch.Generator().manual_seed(seed)
        return next(training_batches(split, batch_size=64, generator=generator, augment=True))

    torch.testing.assert_close(first_batch(3), first_batch(3))
    assert not torch.equal(first_batch(3)[0], first_batch(4)[0])
    batches = list(training_batches(split, batch_size=64, generator=torch.Generator(), augment=False))
    assert len(batches) == 300 // 64  # the partial batch is dropped, as in the reference
