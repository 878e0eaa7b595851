"""The MNIST reader on tiny IDX files written here, byte by byte, from the format's spec."""

from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from toolkit.datasets import DatasetError, DatasetNotFoundError, mnist


def write_idx(path, array, compress=False):
    header = (struct.pack(">BBBB", 0, 0, 0x08, array.ndim)
              + struct.pack(f">{array.ndim}I", *array.shape))
    data = header + array.astype(np.uint8).tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


@pytest.fixture
def tiny(tmp_path):
    rng = np.random.RandomState(0)
    arrays = {"x_train": rng.randint(0, 256, (5, 28, 28)), "y_train": rng.randint(0, 10, 5),
              "x_test": rng.randint(0, 256, (3, 28, 28)), "y_test": rng.randint(0, 10, 3)}
    for i, (key, name) in enumerate(mnist.FILES.items()):
        gz = i % 2 == 0  # a mix of plain and gzipped files
        write_idx(tmp_path / (name + (".gz" if gz else "")), arrays[key], compress=gz)
    return tmp_path, arrays


def test_reads_idx_files_plain_and_gzipped(tiny):
    folder, arrays = tiny
    (x_train, y_train), (x_test, y_test) = mnist.load_data(folder)
    assert x_train.dtype == np.uint8 and x_train.shape == (5, 28, 28)
    for got, key in ((x_train, "x_train"), (y_train, "y_train"), (x_test, "x_test"),
                     (y_test, "y_test")):
        np.testing.assert_array_equal(got, arrays[key])


def test_reads_keras_npz(tmp_path, tiny):
    _, arrays = tiny
    np.savez(tmp_path / "mnist.npz", **{k: v.astype(np.uint8) for k, v in arrays.items()})
    (x_train, _), (_, y_test) = mnist.load_data(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(x_train, arrays["x_train"])
    np.testing.assert_array_equal(y_test, arrays["y_test"])


def test_missing_files_name_the_path_and_how_to_get_them(tmp_path, tiny):
    folder, _ = tiny
    (folder / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DatasetNotFoundError,
                       match=r"t10k-labels-idx1-ubyte\(.gz\) does not exist; download"):
        mnist.load_data(folder)
    with pytest.raises(DatasetNotFoundError, match="elsewhere does not exist"):
        mnist.load_data(tmp_path / "elsewhere")
    with pytest.raises(DatasetNotFoundError, match="no path given"):
        mnist.load_data(None)


def test_damaged_files_are_reported(tiny):
    folder, _ = tiny
    path = folder / "train-labels-idx1-ubyte"
    data = path.read_bytes()
    path.write_bytes(data[:-2])
    with pytest.raises(DatasetError, match="truncated"):
        mnist.load_data(folder)
    path.write_bytes(b"\x1f\x8b" + data[2:])
    with pytest.raises(DatasetError, match="not an IDX file"):
        mnist.load_data(folder)
