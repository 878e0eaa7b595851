"""MNIST handwritten digits (LeCun, Cortes & Burges), from the standard IDX files at a path you
give: 60,000 training and 10,000 test images of 28x28 grey levels 0..255. Not shipped (11 MB
compressed); on a machine without internet, copy the four files there first.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np

from ._files import DatasetError, DatasetNotFoundError, user_file

#: The four files, as published (each may also be gzipped, with ``.gz`` appended).
FILES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
HOW_TO_GET = ("download train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
              "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (e.g. from "
              "https://ossci-datasets.s3.amazonaws.com/mnist/) into one folder and pass that "
              "folder, or pass Keras's mnist.npz")
_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
           0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def load_data(path: str | os.PathLike
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x_train, y_train), (x_test, y_test)) as ``keras.datasets.mnist``: x uint8 (n, 28, 28),
    y uint8 (n,).

    ``path`` is a folder holding the four IDX files (plain or ``.gz``), or Keras's ``mnist.npz``.
    A missing or damaged file raises DatasetError naming it and how to get the data.
    """
    if path is None:
        raise DatasetNotFoundError(f"mnist: no path given; {HOW_TO_GET}")
    source = user_file(path, "mnist", HOW_TO_GET)
    if source.is_file():
        arrays = _read_npz(source)
    else:
        arrays = {key: read_idx(_find(source, name)) for key, name in FILES.items()}
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise DatasetError(f"mnist: the {split} images {x.shape} and labels {y.shape} at "
                               f"{source} do not match; {HOW_TO_GET}")
    return ((arrays["x_train"].astype(np.uint8), arrays["y_train"].astype(np.uint8)),
            (arrays["x_test"].astype(np.uint8), arrays["y_test"].astype(np.uint8)))


def read_idx(path: Path) -> np.ndarray:
    """One IDX file (plain or gzipped) as an array of its declared type and shape."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as error:
        raise DatasetError(f"mnist: cannot read {path} ({error}); {HOW_TO_GET}") from error
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DatasetError(f"mnist: {path} is not an IDX file (bad magic number); {HOW_TO_GET}")
    dtype, ndim = np.dtype(_DTYPES[data[2]]), data[3]
    header = 4 + 4 * ndim
    shape = (tuple(int(d) for d in np.frombuffer(data[4:header], dtype=">u4"))
             if len(data) >= header else None)
    if shape is None or len(data) != header + dtype.itemsize * int(np.prod(shape)):
        raise DatasetError(f"mnist: {path} is truncated or has extra bytes (its header says shape "
                           f"{shape}); {HOW_TO_GET}")
    return np.frombuffer(data, dtype=dtype, offset=header).reshape(shape)


def _find(folder: Path, name: str) -> Path:
    """``name`` or ``name.gz`` in ``folder`` (also the ``train-images.idx3-ubyte`` spelling)."""
    dotted = name.replace("-idx", ".idx")
    for candidate in (name, name + ".gz", dotted, dotted + ".gz"):
        if (folder / candidate).is_file():
            return folder / candidate
    raise DatasetNotFoundError(f"mnist: {folder / name}(.gz) does not exist; {HOW_TO_GET}")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as f:
            return {key: f[key] for key in FILES}
    except (OSError, KeyError, ValueError, EOFError) as error:
        raise DatasetError(f"mnist: {path} is not a readable mnist.npz with x_train, y_train, "
                           f"x_test, y_test ({error}); {HOW_TO_GET}") from error
