"""Where dataset files live, how their integrity is checked, and the errors a bad file raises.

Shipped files sit in ``toolkit/datasets/data`` (package data) and are checked against the
SHA-256 sums below on every load, so a truncated or edited copy is reported, never half-read.
Downloads and tokenized caches go to the user's cache folder: ``$TOOLKIT_CACHE`` when set,
else ``~/.cache/toolkit``.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO

import numpy as np

from toolkit.files import atomic_file

#: The folder of the files the package ships.
DATA_DIR = Path(__file__).resolve().parent / "data"

#: SHA-256 of each shipped file (``python -m toolkit.datasets.make_imdb_subset`` writes the IMDB
#: ones).
SHIPPED = {
    "boston_housing.csv": "2682ca02e83b89467d7d0cdcbde7c0cc4d2566119be8ce8d84dad4f0fa20859a",
    "pima-indians-diabetes.csv": "6bfe5d0f379d17a0e0819b996407e3c09bf80febd4287f2ed212190dfff154af",
    "digits.csv.gz": "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22",
    "imdb_subset.npz": "4b0da2cb8e5fa126b1639de0eecd8853598ec9dc30abba090e9725b5ba683fc2",
}

#: How a user gets each dataset back when its file is missing or damaged.
HOW_TO_GET = {
    "package": "reinstall the package (pip install --force-reinstall dlcourse-toolkit) or pass "
               "path= to your own copy",
    "imdb": "download it with `toolkit datasets fetch imdb` (or from "
            "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz) and pass its path",
}


class DatasetError(ValueError):
    """A dataset file is missing, damaged or not what the loader expects; the message names the
    file and how to get a good copy."""


class DatasetNotFoundError(DatasetError, FileNotFoundError):
    """A dataset file does not exist at the path given or shipped."""


def cache_dir(*parts: str) -> Path:
    """The user's cache folder for toolkit data (``$TOOLKIT_CACHE`` or ``~/.cache/toolkit``),
    created on demand, with ``parts`` appended."""
    root = os.environ.get("TOOLKIT_CACHE") or os.path.join(os.path.expanduser("~"),
                                                           ".cache", "toolkit")
    folder = Path(root, *parts)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sha256(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The hex SHA-256 digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def shipped(name: str) -> Path:
    """The path of the shipped file ``name``, after checking it exists and its checksum."""
    path = DATA_DIR / name
    if not path.is_file():
        raise DatasetNotFoundError(f"shipped data file {path} is missing; {HOW_TO_GET['package']}")
    expected = SHIPPED[name]
    if expected and sha256(path) != expected:
        raise DatasetError(
            f"shipped data file {path} is damaged (its SHA-256 does not match); "
            f"{HOW_TO_GET['package']}"
        )
    return path


def user_file(path: str | os.PathLike, dataset: str, how_to_get: str) -> Path:
    """``path`` as a Path, or DatasetNotFoundError naming it and how to get the ``dataset``."""
    resolved = Path(path).expanduser()
    if not resolved.exists():
        raise DatasetNotFoundError(f"{dataset}: {resolved} does not exist; {how_to_get}")
    return resolved


def download(url: str, dest: str | os.PathLike, sha256_hex: str | None = None,
             opener: Callable[[str], IO[bytes]] | None = None,
             progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Download ``url`` to ``dest`` atomically, checking its SHA-256 when given.

    The file appears at ``dest`` only once complete and verified; a network failure or a wrong
    checksum raises DatasetError and leaves nothing behind. ``progress(done, total)`` is called
    after each chunk (total is None when the server does not say).
    """
    dest = Path(dest)
    opener = opener or (lambda u: urllib.request.urlopen(u, timeout=60))
    with atomic_file(dest, "wb") as out:
        digest = hashlib.sha256()
        try:
            with opener(url) as response:
                length = getattr(response, "headers", {}).get("Content-Length")
                total = int(length) if length else None
                done = 0
                while block := response.read(1 << 20):
                    out.write(block)
                    digest.update(block)
                    done += len(block)
                    if progress:
                        progress(done, total)
        except (urllib.error.URLError, OSError, ValueError) as error:
            reason = getattr(error, "reason", error)
            raise DatasetError(
                f"could not download {url}: {reason}; check your internet connection, or "
                f"download the file with a browser and pass its path"
            ) from error
        if sha256_hex and digest.hexdigest() != sha256_hex:
            raise DatasetError(
                f"the download from {url} is damaged: SHA-256 {digest.hexdigest()} instead of "
                f"{sha256_hex}; try again"
            )
    return dest


def read_csv(path: Path, dataset: str, columns: int, how_to_get: str) -> np.ndarray:
    """A headerless numeric CSV (plain or .gz) as a float64 array, checked to have ``columns``
    columns; DatasetError naming the file otherwise."""
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    except (ValueError, OSError, EOFError) as error:
        raise DatasetError(f"{dataset}: cannot read {path} as a numeric CSV ({error}); "
                           f"{how_to_get}") from error
    if table.shape[1] != columns or len(table) == 0:
        raise DatasetError(
            f"{dataset}: {path} has shape {table.shape}, expected rows of {columns} columns; "
            f"{how_to_get}"
        )
    return table
