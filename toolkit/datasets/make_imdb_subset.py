"""Rebuild the IMDB subset the package ships (``data/imdb_subset.npz``) from the full tarball.

    python -m toolkit.datasets.make_imdb_subset /path/to/aclImdb_labeled.tar.gz [--per-class N]

The subset keeps N reviews per class and split, drawn with a fixed seed, in the corpus's order,
with the word ranks and word index of the *full* training split, so a word has the same index in
the subset as in the full data. It prints the SHA-256 to put in ``_files.SHIPPED``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from ._files import DATA_DIR, sha256
from .imdb import SUBSET, Corpus, _corpus, _ranges

#: Reviews per class and split in the shipped subset, and the seed that picks them.
PER_CLASS = 2500
SEED = 20170905


def subset(corpus: Corpus, per_class: int = PER_CLASS, seed: int = SEED) -> Corpus:
    """``per_class`` reviews of each label from each split of ``corpus``, drawn without
    replacement with ``seed``, kept in the corpus's order."""
    rng = np.random.RandomState(seed)
    ranks, offsets, labels = {}, {}, {}
    for split in ("train", "test"):
        chosen = np.sort(np.concatenate([
            rng.choice(np.flatnonzero(corpus.labels[split] == label), per_class, replace=False)
            for label in (0, 1)
        ]))
        starts, ends = corpus.offsets[split][chosen], corpus.offsets[split][chosen + 1]
        ranks[split] = corpus.ranks[split][_ranges(starts, ends - starts)]
        offsets[split] = np.concatenate([[0], np.cumsum(ends - starts)])
        labels[split] = corpus.labels[split][chosen]
    return Corpus(corpus.words, ranks, offsets, labels)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="an aclImdb tarball or folder")
    parser.add_argument("--per-class", type=int, default=PER_CLASS)
    parser.add_argument("--out", type=Path, default=DATA_DIR / SUBSET)
    args = parser.parse_args(argv)
    small = subset(_corpus(args.source), args.per_class)
    small.save(args.out, compress=True)
    size = args.out.stat().st_size
    print(f"{args.out}: {size / 1e6:.2f} MB, sha256 {sha256(args.out)}")


if __name__ == "__main__":
    main()
