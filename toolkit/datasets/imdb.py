"""IMDB movie reviews (Maas et al., ACL 2011), Keras-compatible: each review a list of word
indices, labels 1 (positive) and 0 (negative).

``load_data()`` reads a subset shipped with the package (a few thousand reviews per split, enough
to try every listing offline); ``load_data(path=...)`` reads the full Large Movie Review Dataset
from the original ``aclImdb_v1.tar.gz``, any tarball or folder with the same
``aclImdb/{train,test}/{pos,neg}/<id>_<rating>.txt`` layout (``toolkit datasets fetch imdb``
downloads it). The reviews are tokenized as ``keras.datasets.imdb``'s were made: lowercase,
``<br />`` removed, words (letters and digits, inner apostrophes kept: "don't", "boy's") ranked by
their frequency in the training split, ties broken alphabetically; rank 1 is the most frequent.
A sequence holds ``rank + index_from``; 0 is padding, 1 the start of a review, 2 an out-of-
vocabulary word. Words that occur only in the test split have no rank and always read as OOV.

Reviews are kept in a fixed order (negatives then positives, by file id) before ``load_data``
shuffles them with ``seed`` as Keras does. Tokenizing the full tarball takes a few seconds; the
result is cached in ``$TOOLKIT_CACHE`` (default ``~/.cache/toolkit``) under the file's SHA-256, so
later loads take well under a second.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import tarfile
import warnings
import zlib
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from toolkit.files import atomic_file

from ._files import HOW_TO_GET, DatasetError, cache_dir, sha256, shipped, user_file

#: Where ``toolkit datasets fetch imdb`` downloads from, and the archive's published checksum.
URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
SHA256 = "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe"
#: The file name of the shipped subset.
SUBSET = "imdb_subset.npz"

_MEMBER = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)*")
_SPLITS = ("train", "test")
_FORMAT = 2  # bump when the tokenization changes, so stale caches are rebuilt


@dataclass
class Corpus:
    """The tokenized reviews, before ``load_data``'s options: per split, the ranks of all reviews
    back to back (0 for a word with no rank), the offsets where each review starts (one more
    than there are reviews) and the 0/1 labels; ``words[r - 1]`` is the word of rank ``r``."""

    words: list[str]
    ranks: dict[str, np.ndarray]
    offsets: dict[str, np.ndarray]
    labels: dict[str, np.ndarray]

    def save(self, path: Path, compress: bool = False) -> None:
        """Write the corpus as one .npz file, atomically (a temporary file, then a rename)."""
        arrays = {"format": np.array(_FORMAT),
                  "words": np.frombuffer("\n".join(self.words).encode("utf-8"), dtype=np.uint8)}
        for split in _SPLITS:
            # int32 ranks as four byte planes: zlib compresses the mostly-zero high bytes away
            ranks = np.ascontiguousarray(self.ranks[split], dtype="<i4")
            arrays[f"{split}_ranks"] = ranks.view(np.uint8).reshape(-1, 4).T.copy()
            arrays[f"{split}_offsets"] = self.offsets[split].astype(np.int64)
            arrays[f"{split}_labels"] = self.labels[split].astype(np.int8)
        with atomic_file(path, "wb") as f:
            (np.savez_compressed if compress else np.savez)(f, **arrays)

    @classmethod
    def load(cls, path: Path) -> Corpus:
        """Read a corpus written by ``save``; DatasetError if it is not one."""
        try:
            with np.load(path, allow_pickle=False) as f:
                if int(f["format"]) != _FORMAT:
                    raise DatasetError(f"imdb: {path} was written by another version of the "
                                       "toolkit")
                words = bytes(f["words"]).decode("utf-8").split("\n")
                ranks = {s: np.ascontiguousarray(f[f"{s}_ranks"].T).view("<i4").ravel()
                         for s in _SPLITS}
                offsets = {s: f[f"{s}_offsets"] for s in _SPLITS}
                labels = {s: f[f"{s}_labels"].astype(np.int64) for s in _SPLITS}
        except (OSError, KeyError, ValueError, zlib.error, EOFError) as error:
            raise DatasetError(f"imdb: cannot read {path} ({error})") from error
        for s in _SPLITS:
            if offsets[s][-1] != len(ranks[s]) or len(labels[s]) != len(offsets[s]) - 1:
                raise DatasetError(f"imdb: {path} is inconsistent (offsets do not match the "
                                   "reviews)")
        return cls(words, ranks, offsets, labels)


def load_data(path: str | os.PathLike | None = None, num_words: int | None = None,
              skip_top: int = 0, maxlen: int | None = None, seed: int = 113,
              start_char: int | None = 1, oov_char: int | None = 2, index_from: int = 3,
              ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """((x_train, y_train), (x_test, y_test)) as ``keras.datasets.imdb.load_data`` returns them.

    x are object arrays of lists of int, y int64 arrays of 0/1. ``path`` None reads the shipped
    subset, else an aclImdb tarball (.tar.gz) or extracted folder (the full 25,000 + 25,000).
    Keras's options, with Keras's defaults: ``num_words`` keeps indices below it (others become
    ``oov_char``, or are dropped when ``oov_char`` is None), ``skip_top`` makes the most frequent
    words OOV, ``maxlen`` drops reviews whose sequence is not shorter than it, ``seed`` shuffles
    each split, ``start_char`` starts every review, word indices start at ``index_from + 1``.
    One deliberate difference: with ``num_words=None`` every word is kept (Keras turned the single
    highest index into OOV).
    """
    for name, value in (("num_words", num_words), ("maxlen", maxlen)):
        if value is not None and (not isinstance(value, (int, np.integer)) or value < 1):
            raise ValueError(f"imdb.load_data: {name} must be a positive int or None, got "
                             f"{value!r}")
    corpus = _corpus(path)
    rng = np.random.RandomState(seed)
    xs, ys = {}, {}
    for split in _SPLITS:
        indices = np.arange(len(corpus.labels[split]))
        rng.shuffle(indices)
        xs[split], ys[split] = _index_sequences(corpus, split, indices, start_char,
                                                index_from, maxlen)
        if maxlen is not None and len(ys[split]) == 0:
            raise ValueError(f"imdb.load_data: no {split} review is shorter than maxlen={maxlen}; "
                             "increase maxlen")
    if num_words is None:
        num_words = 1 + max((int(flat.max()) for flat, _ in xs.values() if flat.size), default=0)
    out = []
    for split in _SPLITS:
        flat, offsets = xs[split]
        keep = (flat >= skip_top) & (flat < num_words)
        if oov_char is not None:
            flat = np.where(keep, flat, oov_char)
        else:
            flat, offsets = flat[keep], _kept_offsets(offsets, keep)
        out.append((_to_lists(flat, offsets), ys[split]))
    return out[0], out[1]


def get_word_index(path: str | os.PathLike | None = None) -> dict[str, int]:
    """The word index: each word of the training split and its frequency rank (1 = most frequent).

    ``path`` None gives the index of the full training split (shipped with the subset); an aclImdb
    tarball or folder gives that data's index. Add ``index_from`` (3) to a rank to get the index
    used in the sequences.
    """
    words = _corpus(path).words if path is not None else _shipped_words()
    return {word: rank for rank, word in enumerate(words, start=1)}


def decode_review(sequence: Sequence[int], word_index: dict[str, int] | None = None,
                  index_from: int = 3) -> str:
    """The words of an index sequence joined by spaces, '?' for padding, start and OOV markers,
    as the book decodes ``train_data[0]``."""
    if word_index is None:
        reverse = _shipped_reverse_index()
    else:
        reverse = {rank: word for word, rank in word_index.items()}
    return " ".join(reverse.get(int(i) - index_from, "?") for i in sequence)


# ----------------------------------------------------------------------------------------------

def _index_sequences(corpus: Corpus, split: str, order: np.ndarray, start_char: int | None,
                     index_from: int, maxlen: int | None
                     ) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """The reviews of ``split`` in ``order`` as (flat indices, offsets) with the start character
    and ``index_from`` applied (unranked words as -1, below any num_words), and their labels."""
    ranks, offsets = corpus.ranks[split], corpus.offsets[split]
    lengths = np.diff(offsets)[order]
    gather = _ranges(offsets[:-1][order], lengths)
    values = ranks[gather].astype(np.int64)
    values = np.where(values > 0, values + index_from, -1)
    labels = corpus.labels[split][order]
    if start_char is not None:
        new_offsets = np.concatenate([[0], np.cumsum(lengths + 1)])
        with_start = np.empty(len(values) + len(lengths), dtype=np.int64)
        with_start[new_offsets[:-1]] = start_char
        mask = np.ones(len(with_start), dtype=bool)
        mask[new_offsets[:-1]] = False
        with_start[mask] = values
        values, lengths = with_start, lengths + 1
    if maxlen is not None:
        short = lengths < maxlen
        values = values[np.repeat(short, lengths)]
        lengths, labels = lengths[short], labels[short]
    return (values, np.concatenate([[0], np.cumsum(lengths)])), labels


def _ranges(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The concatenation of ``arange(s, s + n)`` for each start s and length n, vectorized."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lengths)
    shift = np.repeat(starts - (ends - lengths), lengths)
    return np.arange(total, dtype=np.int64) + shift


def _kept_offsets(offsets: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Offsets after dropping the flat elements where ``keep`` is False."""
    kept_before = np.concatenate([[0], np.cumsum(keep)])
    return kept_before[offsets]


def _to_lists(flat: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """An object array of Python int lists, one per review, as Keras returns."""
    values = flat.tolist()
    out = np.empty(len(offsets) - 1, dtype=object)
    for i, (a, b) in enumerate(zip(offsets[:-1].tolist(), offsets[1:].tolist())):
        out[i] = values[a:b]
    return out


def _corpus(path: str | os.PathLike | None) -> Corpus:
    """The shipped subset, or the full data at ``path`` (from the cache when it is there)."""
    if path is None:
        return _shipped_corpus()
    source = user_file(path, "imdb", HOW_TO_GET["imdb"])
    key = _fingerprint(source)
    try:
        cached = cache_dir("imdb") / f"{key}.npz"
        if cached.is_file():
            try:
                return Corpus.load(cached)
            except DatasetError:
                cached.unlink(missing_ok=True)  # a stale or damaged cache is rebuilt, never trusted
    except OSError as error:
        cached, problem = None, error
    print(f"imdb: tokenizing {source} (once; cached in {cached.parent if cached else 'nowhere'})",
          file=sys.stderr)
    corpus = tokenize(read_reviews(source), str(source))
    if cached is not None:
        try:
            corpus.save(cached)
            return corpus
        except OSError as error:
            problem = error
    warnings.warn(f"imdb: cannot cache the tokenized reviews ({problem}); every load will tokenize "
                  f"again: set TOOLKIT_CACHE to a writable folder", RuntimeWarning, stacklevel=3)
    return corpus


@lru_cache(maxsize=1)
def _shipped_corpus() -> Corpus:
    return Corpus.load(shipped(SUBSET))


@lru_cache(maxsize=1)
def _shipped_words() -> tuple[str, ...]:
    return tuple(_shipped_corpus().words)


@lru_cache(maxsize=1)
def _shipped_reverse_index() -> dict[int, str]:
    return dict(enumerate(_shipped_words(), start=1))


def _fingerprint(source: Path) -> str:
    """The cache key of a tarball (its SHA-256) or a folder (its review files' names, sizes and
    modification times)."""
    if source.is_file():
        return f"{sha256(source)}-v{_FORMAT}"
    digest = hashlib.sha256()
    for name, size, mtime in sorted(_folder_listing(source)):
        digest.update(f"{name}\0{size}\0{mtime}\n".encode())
    return f"dir-{digest.hexdigest()}-v{_FORMAT}"


def _folder_listing(source: Path) -> Iterator[tuple[str, int, int]]:
    for entry_dir, _, files in os.walk(source):
        for name in files:
            full = os.path.join(entry_dir, name)
            rel = os.path.relpath(full, source)
            if _MEMBER.search(rel.replace(os.sep, "/")):
                st = os.stat(full)
                yield rel, st.st_size, st.st_mtime_ns


def read_reviews(source: Path) -> Iterator[tuple[str, int, int, str]]:
    """Each labeled review at ``source`` (a tarball read sequentially, or a folder) as
    (split, label, file id, text); DatasetError for a damaged or foreign archive."""
    if source.is_dir():
        for rel, _, _ in _folder_listing(source):
            split, label, ident = _parse_name(rel.replace(os.sep, "/"))
            with open(source / rel, "rb") as f:
                yield split, label, ident, f.read().decode("utf-8", errors="replace")
        return
    try:
        with tarfile.open(source, mode="r|*") as tar:
            for member in tar:
                if member.isfile() and _MEMBER.search(member.name):
                    split, label, ident = _parse_name(member.name)
                    data = tar.extractfile(member).read()
                    yield split, label, ident, data.decode("utf-8", errors="replace")
    except (tarfile.TarError, EOFError, zlib.error, OSError) as error:
        raise DatasetError(
            f"imdb: {source} is not a readable aclImdb tarball, or it is truncated ({error}); "
            f"{HOW_TO_GET['imdb']}"
        ) from error


def _parse_name(name: str) -> tuple[str, int, int]:
    split, polarity, ident, _ = _MEMBER.search(name).groups()
    return split, int(polarity == "pos"), int(ident)


def tokenize_text(text: str) -> list[str]:
    """A review's words: lowercase, ``<br />`` removed, runs of letters and digits with inner
    apostrophes."""
    return _TOKEN.findall(text.lower().replace("<br />", " "))


def tokenize(reviews: Iterator[tuple[str, int, int, str]], where: str) -> Corpus:
    """Tokenize (split, label, id, text) reviews into a Corpus whose word ranks count the
    training split only."""
    docs: dict[str, list[tuple[int, int, str]]] = {s: [] for s in _SPLITS}
    for split, label, ident, text in reviews:
        docs[split].append((label, ident, text))
    for split in _SPLITS:
        if not docs[split]:
            raise DatasetError(f"imdb: {where} holds no {split}/pos or {split}/neg reviews "
                               f"(is it an aclImdb archive?); {HOW_TO_GET['imdb']}")
        docs[split].sort(key=lambda d: (d[0], d[1]))
    ids = defaultdict()
    ids.default_factory = ids.__len__  # a new word gets the next id
    flat: dict[str, np.ndarray] = {}
    offsets: dict[str, np.ndarray] = {}
    for split in _SPLITS:
        lookup = ids.__getitem__ if split == "train" else (lambda w: ids.get(w, -1))
        chunks = [np.fromiter(map(lookup, tokenize_text(text)), dtype=np.int64)
                  for _, _, text in docs[split]]
        offsets[split] = np.concatenate([[0], np.cumsum([len(c) for c in chunks])]).astype(np.int64)
        flat[split] = np.concatenate(chunks) if chunks else np.zeros(0, np.int64)
    words = list(ids)
    counts = np.bincount(flat["train"], minlength=len(words))
    order = sorted(range(len(words)), key=lambda i: (-counts[i], words[i]))
    rank_of = np.empty(len(words) + 1, dtype=np.int32)  # index -1 (test-only word) -> rank 0
    rank_of[np.array(order, dtype=np.int64)] = np.arange(1, len(words) + 1, dtype=np.int32)
    rank_of[-1] = 0
    return Corpus(
        words=[words[i] for i in order],
        ranks={s: rank_of[flat[s]] for s in _SPLITS},
        offsets=offsets,
        labels={s: np.array([d[0] for d in docs[s]], dtype=np.int64) for s in _SPLITS},
    )
