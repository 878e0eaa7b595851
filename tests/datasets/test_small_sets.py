"""Boston Housing, Pima and digits against published facts about these datasets."""

from __future__ import annotations

import numpy as np
import pytest

from toolkit.datasets import (
    DatasetError,
    DatasetNotFoundError,
    _files,
    boston_housing,
    digits,
    pima_indians_diabetes,
)


def test_boston_matches_keras_split():
    (x_train, y_train), (x_test, y_test) = boston_housing.load_data()
    assert x_train.shape == (404, 13) and x_test.shape == (102, 13)
    assert y_train.shape == (404,) and y_test.shape == (102,)
    # the book prints train_targets starting 15.2, 42.3, 50., 21.1, 17.7, 18.5, 11.3, 15.6, 15.6
    np.testing.assert_allclose(y_train[:9], [15.2, 42.3, 50.0, 21.1, 17.7, 18.5, 11.3, 15.6, 15.6])
    # and Keras's x_train[0] is the suburb with CRIM 1.23247
    np.testing.assert_allclose(x_train[0], [1.23247, 0.0, 8.14, 0.0, 0.538, 6.142, 91.7, 3.9769,
                                            4.0, 307.0, 21.0, 396.9, 18.72])


def test_boston_split_options_and_doc():
    (x_train, _), (x_test, _) = boston_housing.load_data(test_split=0.5, seed=0)
    assert len(x_train) == 253 and len(x_test) == 253
    assert "feature ``B``" in boston_housing.__doc__ and "racist" in boston_housing.__doc__
    with pytest.raises(ValueError, match="test_split"):
        boston_housing.load_data(test_split=1.5)


def test_pima_shapes_and_known_counts():
    x, y = pima_indians_diabetes.load_data()
    assert x.shape == (768, 8) and x.dtype == np.float32 and y.shape == (768,)
    assert np.bincount(y).tolist() == [500, 268]  # the majority-class baseline is 500/768 = 0.651
    # zeros standing for missing values, as documented for this dataset
    missing = pima_indians_diabetes.missing_mask(x).sum(axis=0)
    assert missing.tolist() == [0, 5, 35, 227, 374, 11, 0, 0]


def test_digits_shapes_and_known_class_counts():
    x, y = digits.load_data()
    assert x.shape == (1797, 8, 8) and x.dtype == np.uint8 and x.max() == 16
    assert np.bincount(y).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]


def test_bad_user_files_get_clear_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match=r"boston_housing: .*nope.csv does not exist"):
        boston_housing.load_data(path=tmp_path / "nope.csv")
    short = tmp_path / "short.csv"
    short.write_text("1,2,3\n4,5,6\n")
    with pytest.raises(DatasetError,
                       match=r"short.csv has shape \(2, 3\), expected rows of 9 columns"):
        pima_indians_diabetes.load_data(path=short)
    text = tmp_path / "text.csv"
    text.write_text("a,b\n")
    with pytest.raises(DatasetError, match="cannot read .*text.csv as a numeric CSV"):
        digits.load_data(path=text)


def test_damaged_shipped_file_is_reported(tmp_path, monkeypatch):
    damaged = tmp_path / "boston_housing.csv"
    damaged.write_bytes((_files.DATA_DIR / "boston_housing.csv").read_bytes()[:-100])
    monkeypatch.setattr(_files, "DATA_DIR", tmp_path)
    with pytest.raises(DatasetError, match=r"boston_housing.csv is damaged.*reinstall"):
        boston_housing.load_data()
    with pytest.raises(DatasetNotFoundError, match=r"digits.csv.gz is missing"):
        digits.load_data()


def test_shipped_data_stays_small():
    total = sum((_files.DATA_DIR / name).stat().st_size for name in _files.SHIPPED)
    assert total < 5_000_000
