"""Optical recognition of handwritten digits (UCI, as scikit-learn ships it, BSD-3): 1,797 8x8
grey-level images with values 0..16 and their labels 0..9. A small real image set for offline
work, shaped like ``keras.datasets.mnist`` so the same code runs on both.
"""

from __future__ import annotations

import os

import numpy as np

from ._files import HOW_TO_GET, DatasetError, read_csv, shipped, user_file


def load_data(path: str | os.PathLike | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(x, y): x uint8 of shape (1797, 8, 8) with values 0..16 (not 0..255: divide by 16 to
    scale to [0, 1]), y uint8 of shape (1797,).

    Images are kept 2-D as MNIST's are; ``x.reshape(len(x), 64)`` gives the flat vectors a Dense
    layer takes. No split is made. ``path`` is a headerless CSV (plain or .gz) of 64 pixel columns
    then the label; None reads the shipped copy.
    """
    source = (shipped("digits.csv.gz") if path is None
              else user_file(path, "digits", HOW_TO_GET["package"]))
    table = read_csv(source, "digits", 65, HOW_TO_GET["package"])
    if table.min() < 0 or table[:, :64].max() > 16 or table[:, 64].max() > 9 or np.any(table % 1):
        raise DatasetError(f"digits: {source} has values outside 0..16 / labels outside 0..9; "
                           f"{HOW_TO_GET['package']}")
    return table[:, :64].astype(np.uint8).reshape(-1, 8, 8), table[:, 64].astype(np.uint8)
