"""The book's datasets, offline, with Keras's loaders' names and shapes.

>>> from toolkit.datasets import imdb, boston_housing, pima_indians_diabetes, digits, mnist
>>> (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=10000)

Small sets (Boston Housing, Pima, digits) and an IMDB subset ship with the package; the full IMDB
and MNIST are read from a path you give (``toolkit datasets fetch imdb`` downloads IMDB).
Missing or damaged files raise :class:`DatasetError` naming the file and how to get it.
"""

from ._files import DatasetError, DatasetNotFoundError, cache_dir

__all__ = ["DatasetError", "DatasetNotFoundError", "cache_dir",
           "imdb", "boston_housing", "pima_indians_diabetes", "digits", "mnist"]
