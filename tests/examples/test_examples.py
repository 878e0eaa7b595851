"""Each example run tiny through the CLI (1-2 epochs on the shipped data): progress printed, PNG
plots written, results returned; plus the helpers they rely on."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from toolkit.cli import main
from toolkit.datasets import pima_indians_diabetes
from toolkit.examples import boston, pima


def invoke(*args):
    result = CliRunner().invoke(main, ["examples", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def assert_pngs(folder, *names):
    for name in names:
        data = (folder / name).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5000, name


@pytest.mark.slow
def test_imdb_example_tiny(tmp_path):
    output = invoke("imdb", "--epochs", "1", "--validation-epochs", "2", "--out", str(tmp_path))
    assert "5000 training and 5000 test reviews" in output and "shipped subset" in output
    assert "Epoch 2/2" in output and "val_loss" in output  # Keras-style progress lines
    assert "test accuracy" in output
    assert_pngs(tmp_path, "imdb_loss.png", "imdb_accuracy.png")


@pytest.mark.slow
def test_overfitting_example_tiny(tmp_path):
    output = invoke("overfitting", "--epochs", "1", "--model", "smaller", "--model", "dropout",
                    "--out", str(tmp_path))
    assert "smaller (4-4-1)" in output and "dropout (16-16-1, 0.5)" in output
    assert_pngs(tmp_path, "overfitting_val_loss.png", "overfitting_train_loss.png")


def test_boston_example_tiny(tmp_path):
    output = invoke("boston", "--epochs", "2", "--final-epochs", "1", "--k", "2",
                    "--out", str(tmp_path))
    assert "processing fold #1: 202 training, 202 validation rows" in output
    assert "mean validation MAE" in output and "test MAE" in output
    assert_pngs(tmp_path, "boston_val_mae.png")


def test_pima_example_tiny(tmp_path):
    output = invoke("pima", "--epochs", "2", "--out", str(tmp_path))
    assert "split 614 training / 154 test" in output and "the splits are disjoint" in output
    assert "vs majority-class baseline" in output
    assert_pngs(tmp_path, "pima_loss.png", "pima_accuracy.png")


def test_pima_baseline_is_the_majority_share_of_the_test_split(tmp_path):
    result = pima.run(epochs=1, out=tmp_path, verbose=0, seed=5)
    from toolkit.data import hold_out_split

    x, y = pima_indians_diabetes.load_data()
    (_, y_train), (_, y_test) = hold_out_split(x, y, validation_split=0.2, seed=5)
    majority = np.bincount(y_train).argmax()
    assert result["baseline"] == pytest.approx(np.mean(y_test == majority))
    assert 0 <= result["test_accuracy"] <= 1


def test_pima_imputes_with_training_medians_only():
    train = np.ones((4, 8), np.float32)
    train[:, 4] = [0, 10, 20, 100]  # Insulin: one missing, median of measured = 20
    other = np.full((2, 8), 5, np.float32)
    other[0, 4] = 0                 # missing in the other split: filled with 20, not its own
    filled_train, filled_other = pima.impute_missing(train, other)
    assert filled_train[0, 4] == 20 and filled_other[0, 4] == 20 and filled_other[1, 4] == 5
    assert filled_train[0, 0] == 1          # Pregnancies: zero is a real value, left alone


def test_smooth_curve_is_the_books_moving_average():
    points = [10.0, 0.0, 0.0]
    assert boston.smooth_curve(points) == pytest.approx([10.0, 9.0, 8.1])


def test_missing_data_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(main, ["examples", "imdb", "--data", str(tmp_path / "none.tar.gz")])
    assert result.exit_code == 1
    assert ("none.tar.gz does not exist; download it with `toolkit datasets fetch "
            "imdb`" in result.output)
    assert "Traceback" not in result.output
