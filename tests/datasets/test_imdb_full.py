"""The full IMDB tarball in ../shared/datasets: sizes, Keras's options, and the shipped subset
rebuilt from it by the committed script."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from toolkit.datasets import imdb
from toolkit.datasets.make_imdb_subset import subset

TARBALL = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "aclImdb_labeled.tar.gz"
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not TARBALL.is_file(), reason=f"{TARBALL} is not on this machine")]


@pytest.fixture(scope="module")
def full():
    """The tokenized tarball, through the user's cache: only the first run ever pays the ~15 s of
    tokenizing (the cache is keyed by the tarball's SHA-256 and the format version)."""
    return imdb._corpus(TARBALL)


def test_full_data_sizes_and_labels(full):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(TARBALL, num_words=10000)
    assert len(x_train) == len(x_test) == 24_996  # 25,000 each less the 4 dropped files per split
    assert np.bincount(y_train).tolist() == [12_498, 12_498]
    assert np.bincount(y_test).tolist() == [12_500, 12_496]  # the README: 4 test/pos files dropped
    assert max(max(x) for x in x_train) == 9_999 and min(min(x) for x in x_train) == 1
    lengths = np.array([len(x) for x in x_train])
    assert 200 < lengths.mean() < 280  # Keras's sequences average about 239 words


def test_second_load_comes_from_the_cache(full, monkeypatch):
    monkeypatch.setattr(imdb, "tokenize", lambda *a: pytest.fail("the cache was not used"))
    again = imdb._corpus(TARBALL)
    np.testing.assert_array_equal(again.ranks["test"], full.ranks["test"])


def test_shipped_subset_is_rebuilt_by_the_script(full):
    corpus = full
    rebuilt = subset(corpus)
    shipped = imdb._shipped_corpus()
    assert rebuilt.words == shipped.words
    for split in ("train", "test"):
        np.testing.assert_array_equal(rebuilt.ranks[split], shipped.ranks[split])
        np.testing.assert_array_equal(rebuilt.offsets[split], shipped.offsets[split])
        np.testing.assert_array_equal(rebuilt.labels[split], shipped.labels[split])
    assert imdb.get_word_index() == imdb.get_word_index(TARBALL)
