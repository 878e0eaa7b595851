"""The IMDB loader: Keras's load_data algorithm, the word index, the shipped subset, tarballs and
folders, the cache, and clear errors for bad files."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from toolkit.datasets import DatasetError, DatasetNotFoundError, imdb


def keras_load_data(corpus, num_words=None, skip_top=0, maxlen=None, seed=113, start_char=1,
                    oov_char=2, index_from=3):
    """keras.datasets.imdb.load_data (Keras 2.x), line by line on lists, from a Corpus; unranked
    words (rank 0) are OOV, and num_words=None keeps every word (the toolkit's documented
    choice)."""
    def docs(split):
        ranks, off = corpus.ranks[split].tolist(), corpus.offsets[split].tolist()
        return [ranks[a:b] for a, b in zip(off[:-1], off[1:])], corpus.labels[split]
    (x_train, labels_train), (x_test, labels_test) = docs("train"), docs("test")
    rng = np.random.RandomState(seed)
    indices = np.arange(len(x_train))
    rng.shuffle(indices)
    x_train = [x_train[i] for i in indices]
    labels_train = labels_train[indices]
    indices = np.arange(len(x_test))
    rng.shuffle(indices)
    x_test = [x_test[i] for i in indices]
    labels_test = labels_test[indices]
    unknown = -1
    shift = lambda x: [w + index_from if w else unknown for w in x]  # noqa: E731
    if start_char is not None:
        x_train = [[start_char] + shift(x) for x in x_train]
        x_test = [[start_char] + shift(x) for x in x_test]
    else:
        x_train = [shift(x) for x in x_train]
        x_test = [shift(x) for x in x_test]
    if maxlen:
        keep = [i for i, x in enumerate(x_train) if len(x) < maxlen]
        x_train, labels_train = [x_train[i] for i in keep], labels_train[keep]
        keep = [i for i, x in enumerate(x_test) if len(x) < maxlen]
        x_test, labels_test = [x_test[i] for i in keep], labels_test[keep]
    xs = x_train + x_test
    if not num_words:
        num_words = max(max(x) for x in xs if x) + 1
    if oov_char is not None:
        xs = [[w if (skip_top <= w < num_words) else oov_char for w in x] for x in xs]
    else:
        xs = [[w for w in x if skip_top <= w < num_words] for x in xs]
    idx = len(x_train)
    return (xs[:idx], labels_train), (xs[idx:], labels_test)


def random_corpus(rng, n_train=7, n_test=5, vocab=12):
    def split(n):
        lengths = rng.randint(0, 9, n)
        return (rng.randint(0, vocab + 1, lengths.sum()).astype(np.int32),
                np.concatenate([[0], np.cumsum(lengths)]), rng.randint(0, 2, n))
    (rt, ot, lt), (rs, os_, ls) = split(n_train), split(n_test)
    words = [f"w{i}" for i in range(1, vocab + 1)]
    return imdb.Corpus(words, {"train": rt, "test": rs}, {"train": ot, "test": os_},
                       {"train": lt, "test": ls})


@given(seed=st.integers(0, 10_000), num_words=st.one_of(st.none(), st.integers(1, 20)),
       skip_top=st.integers(0, 6), maxlen=st.one_of(st.none(), st.integers(3, 12)),
       start_char=st.sampled_from([None, 1]), oov_char=st.sampled_from([None, 2]),
       index_from=st.integers(0, 3))
@settings(max_examples=60, deadline=None)
def test_load_data_follows_keras_algorithm(seed, num_words, skip_top, maxlen, start_char, oov_char,
                                           index_from):
    corpus = random_corpus(np.random.RandomState(seed))
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(imdb, "_corpus", lambda path: corpus)
        check_against_keras(corpus, num_words=num_words, skip_top=skip_top, maxlen=maxlen,
                            seed=seed, start_char=start_char, oov_char=oov_char,
                            index_from=index_from)


def check_against_keras(corpus, **options):
    try:
        expected = keras_load_data(corpus, **options)
    except ValueError:  # max() of nothing: no review left
        return
    if options["maxlen"] and (not expected[0][0] or not expected[1][0]):
        with pytest.raises(ValueError, match="maxlen"):
            imdb.load_data(**options)
        return
    got = imdb.load_data(**options)
    for (x, y), (x_ref, y_ref) in zip(got, expected):
        assert x.dtype == object and list(x) == x_ref
        np.testing.assert_array_equal(y, y_ref)


def test_shipped_subset_matches_the_keras_algorithm():
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)
    assert len(x_train) == len(x_test) == 5000
    assert y_train.mean() == y_test.mean() == 0.5 and y_train.dtype == np.int64
    (x_ref, y_ref), _ = keras_load_data(imdb._shipped_corpus(), num_words=10000)
    assert list(x_train) == x_ref
    np.testing.assert_array_equal(y_train, y_ref)
    assert max(max(x) for x in x_train) == 9999 and all(x[0] == 1 for x in x_train)


def test_word_index_is_ranked_like_keras():
    word_index = imdb.get_word_index()
    # Keras's published index starts the, and, a, of, to, is, br, in, it, i, this, that, was, as,
    # for, with, movie, but, film, on, not, you, are, his, have, he, be, one; "br" came from the
    # <br /> tags Keras kept, which this loader removes, so every later word moves up by one
    keras_top = ["the", "and", "a", "of", "to", "is", "br", "in", "it", "i", "this", "that", "was",
                 "as", "for", "with", "movie", "but", "film", "on", "not", "you", "are", "his",
                 "have", "he", "be", "one"]
    ours = sorted(word_index, key=word_index.get)[:27]
    assert ours == [w for w in keras_top if w != "br"]
    assert (len(word_index) > 80_000
            and sorted(word_index.values()) == list(range(1, len(word_index) + 1)))


def test_decode_review_like_the_book():
    word_index = {"this": 11, "film": 19, "was": 13, "just": 40, "brilliant": 527}
    # Keras's train_data[0] starts [1, 14, 22, 16, 43, 530]; the book decodes it to
    # "? this film ..."
    assert (imdb.decode_review([1, 14, 22, 16, 43, 530, 2], word_index)
            == "? this film was just brilliant ?")
    (x_train, _), _ = imdb.load_data(num_words=10000)
    text = imdb.decode_review(x_train[0])
    assert text.startswith("? ") and len(text.split()) == len(x_train[0])


def test_num_words_must_be_positive():
    with pytest.raises(ValueError, match="num_words"):
        imdb.load_data(num_words=0)


# -- tarballs and folders -------------------------------------------------------------------------

REVIEWS = {
    "train/pos/0_9.txt": "A great, GREAT film.<br /><br />Don't miss it!",
    "train/pos/1_8.txt": "great acting; great film",
    "train/neg/0_2.txt": "A dull film. Dull, dull, dull.",
    "train/neg/5_1.txt": "The boy's dog was dull",
    "test/pos/0_10.txt": "Great! A zyzzyva film",
    "test/neg/3_3.txt": "dull dull boring",
}


def make_tarball(path, reviews=REVIEWS, prefix="aclImdb/"):
    with tarfile.open(path, "w:gz") as tar:
        for name, text in reviews.items():
            data = text.encode()
            info = tarfile.TarInfo(prefix + name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        extra = tarfile.TarInfo(prefix + "README")
        extra.size = 2
        tar.addfile(extra, io.BytesIO(b"hi"))
    return path


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_tarball_tokenization_and_ranks(tmp_path, cache):
    tarball = make_tarball(tmp_path / "tiny.tar.gz")
    word_index = imdb.get_word_index(tarball)
    # training counts: dull 5, film 3 / great 4 ... ties broken alphabetically
    assert list(word_index)[:4] == ["dull", "great", "film", "a"]
    assert "don't" in word_index and "boy's" in word_index and "br" not in word_index
    assert "zyzzyva" not in word_index and "boring" not in word_index  # test-only words
    (x_train, y_train), (x_test, y_test) = imdb.load_data(tarball, seed=0)
    decoded = {imdb.decode_review(x, word_index) for x in x_train}
    assert "? a great great film don't miss it" in decoded
    assert sorted(y_train.tolist()) == [0, 0, 1, 1]
    test_words = sorted(imdb.decode_review(x, word_index) for x in x_test)
    assert test_words == ["? dull dull ?", "? great a ? film"]
    assert any(2 in x for x in x_test)  # unranked test words are OOV


def test_folder_reads_like_the_tarball_and_loads_are_cached(tmp_path, cache, monkeypatch):
    tarball = make_tarball(tmp_path / "tiny.tar.gz")
    root = tmp_path / "extracted"
    with tarfile.open(tarball) as tar:
        tar.extractall(root, filter="data")
    from_tar = imdb.load_data(tarball)
    for folder in (root, root / "aclImdb"):
        from_dir = imdb.load_data(folder)
        for (a, ya), (b, yb) in zip(from_tar, from_dir):
            assert list(a) == list(b) and ya.tolist() == yb.tolist()
    assert len(list(cache.glob("imdb/*.npz"))) == 3
    monkeypatch.setattr(imdb, "tokenize", lambda *a: pytest.fail("the cache was not used"))
    assert list(imdb.load_data(tarball)[0][0]) == list(from_tar[0][0])


def test_damaged_cache_is_rebuilt(tmp_path, cache):
    tarball = make_tarball(tmp_path / "tiny.tar.gz")
    first = imdb.load_data(tarball)
    (cached,) = cache.glob("imdb/*.npz")
    cached.write_bytes(b"garbage")
    assert list(imdb.load_data(tarball)[0][0]) == list(first[0][0])


def test_bad_tarballs_get_clear_errors(tmp_path, cache):
    with pytest.raises(DatasetNotFoundError, match=r"missing.tar.gz does not exist; download it "
                                                   r"with `toolkit datasets fetch imdb`"):
        imdb.load_data(tmp_path / "missing.tar.gz")
    data = make_tarball(tmp_path / "tiny.tar.gz").read_bytes()
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(data[: len(data) // 2])
    with pytest.raises(DatasetError, match=r"truncated.tar.gz is not a readable aclImdb tarball, "
                                           r"or it is truncated"):
        imdb.load_data(truncated)
    foreign = make_tarball(tmp_path / "foreign.tar.gz", {"notes/a.txt": "hello"})
    with pytest.raises(DatasetError, match="holds no train/pos or train/neg reviews"):
        imdb.load_data(foreign)
    assert not list(cache.glob("imdb/*.npz"))  # nothing half-written


def test_damaged_shipped_subset_is_reported(tmp_path, monkeypatch):
    from toolkit.datasets import _files

    (tmp_path / imdb.SUBSET).write_bytes((_files.DATA_DIR / imdb.SUBSET).read_bytes()[:1000])
    monkeypatch.setattr(_files, "DATA_DIR", tmp_path)
    imdb._shipped_corpus.cache_clear()
    try:
        with pytest.raises(DatasetError, match="imdb_subset.npz is damaged"):
            imdb.load_data()
    finally:
        imdb._shipped_corpus.cache_clear()


def test_unwritable_cache_warns_and_still_loads(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TOOLKIT_CACHE", str(blocker / "cache"))  # cannot be created
    tarball = make_tarball(tmp_path / "tiny.tar.gz")
    with pytest.warns(RuntimeWarning, match="cannot cache the tokenized reviews.*TOOLKIT_CACHE"):
        (x_train, _), _ = imdb.load_data(tarball)
    assert len(x_train) == 4
