"""A student's function that overwrites the test's input arrays in place must not pass.

In a notebook (and in the grading engine, which mirrors it) a function that changes its argument
arrays changes the test's own arrays. A test that computes its expected values, or runs later
checks, from arrays it has already passed to the student's code can then be made to expect
whatever the student's function returns: overwrite the inputs with a chosen pattern and return
the answer for that pattern, a wrong answer for the test's real inputs. The test cells give the
student copies (or compute their expected values first), so each such cheat below scores 0 on the
test cell it targets. Before, each scored full marks on its cell, in nbgrader and in the engine
(but vectorize_sequences's, which empties a list: the engine sends lists by value, so only
nbgrader's test saw it). The cheats stay honest elsewhere (on the literal inputs with NaN, empty
arrays, the inputs a test checks for being unchanged) so that only the overwriting is graded.

A function that changes its input in place without gaming anything (dropout's `x *= keep; x /=
1 - rate; return x`) returns the right values to the tests that pass copies: test_dropout also
passes one of its own arrays and checks that it stayed as it was, so only that cell scores 0.

The same submissions are graded by genuine nbgrader in test_nbgrader.py (``OVERWRITE``,
``overwrite_submission``, ``OVERWRITE_TESTS``, ``IN_PLACE`` and ``in_place_submission`` are
shared).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from tests.assignments.conftest import grade_notebook, source_notebook

pytestmark = pytest.mark.slow

#: A student cell added after the first given cell: what the cheats use to pick the tests' random
#: inputs (finite, non-empty, with a non-integer entry) and to overwrite them with a pattern.
HELPERS = '''\
import numpy as np
from numba import njit


def _random_one(a):
    return (isinstance(a, np.ndarray) and a.size > 0 and bool(np.all(np.isfinite(a)))
            and bool(np.any(np.floor(a) != a)))


def _looks_random(a, b=None):  # no loops, no map: the tests read the helpers too
    return _random_one(a) and (b is None or _random_one(b))


def _fill(a, values):
    a[...] = np.resize(np.asarray(values, dtype=a.dtype), a.shape)


def _overwrite(a, b=None, values=(-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 3.5)):
    _fill(a, values)
    if b is not None:
        _fill(b, values)


PROBABILITIES = (0.2, 0.35, 0.5, 0.65, 0.8, 0.3, 0.7)


@njit
def _looks_random_nb(a):
    return a.size > 0 and np.all(np.isfinite(a)) and np.any(np.floor(a) != a)
'''

#: Per assignment, (function, lines put first in its solution, the test cells it games).
OVERWRITE: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "01_tensors_vectorization": [
        # the visible test checks that x stays as it was: only the hidden float32 x is overwritten
        ("naive_relu", "if x.dtype == np.float32 and _looks_random(x):\n    _overwrite(x)",
         ("test_naive_relu",)),
        # the hidden test checks x: y alone is overwritten
        ("naive_add", "if _looks_random(y):\n    _overwrite(y)", ("test_naive_add",)),
        ("naive_dot", "if _looks_random(x, y):\n    _overwrite(x, y)", ("test_naive_dot",)),
        ("relu", "if _looks_random(x):\n    _overwrite(x)", ("test_relu",)),
        ("add", "if _looks_random(x, y):\n    _overwrite(x, y)", ("test_add",)),
        ("dot", "if _looks_random(x, y):\n    _overwrite(x, y)", ("test_dot",)),
        ("relu_numba", "if _looks_random_nb(x):\n    x[:] = -1.5", ("test_relu_numba",)),
        ("add_numba", "if _looks_random_nb(x) and _looks_random_nb(y):\n    x[:] = 1.5\n"
         "    y[:] = 0.5", ("test_add_numba",)),
        ("dot_numba", "if _looks_random_nb(x) and _looks_random_nb(y):\n    x[:] = 0.5\n"
         "    y[:] = 1.5", ("test_dot_numba",)),
    ],
    "02_data_preparation": [
        # lists: nbgrader's test sees them emptied; the engine sends lists by value
        ("vectorize_sequences", "if isinstance(sequences, list) and len(sequences) > 30:\n"
         "    sequences[:] = [[] for _ in sequences]", ("test_vectorize_sequences",)),
        ("to_categorical", "if isinstance(labels, np.ndarray) and labels.size > 2 "
         "and labels.min() >= 0:\n    labels[...] = labels.max()", ("test_to_categorical",)),
        # the inputs become the training data's statistics, and the answers zeros: the tests
        # computed their statistics first (standardize's test data is left alone, so that its
        # own std, in the leak check, is not 0/0; and its hidden inputs, checked for changes)
        ("standardize", "if x_train.dtype == np.float64 and len(x_train) != 50 "
         "and _looks_random(x_train, x_test):\n"
         "    mean, std = x_train.mean(axis=0), x_train.std(axis=0)\n"
         "    x_train[...] = mean\n"
         "    return np.zeros(x_train.shape), (x_test - mean) / np.where(std == 0, 1.0, std)",
         ("test_standardize",)),
        ("min_max_scale", "if _looks_random(x_train, x_test):\n"
         "    low = x_train.min(axis=0)\n    x_train[...] = low\n    x_test[...] = low\n"
         "    return np.zeros(x_train.shape), np.zeros(x_test.shape)", ("test_min_max_scale",)),
        ("mean_normalize", "if _looks_random(x_train, x_test):\n"
         "    mean = x_train.mean(axis=0)\n    x_train[...] = mean\n    x_test[...] = mean\n"
         "    return np.zeros(x_train.shape), np.zeros(x_test.shape)", ("test_mean_normalize",)),
    ],
    "03_losses_activations": [
        ("relu", "if _looks_random(x):\n    _overwrite(x)", ("test_relu",)),
        ("sigmoid", "if _looks_random(x):\n    _overwrite(x)", ("test_sigmoid",)),
        ("tanh", "if _looks_random(x):\n    _overwrite(x)", ("test_tanh",)),
        ("sigmoid_grad", "if _looks_random(x):\n    _overwrite(x)", ("test_activation_grads",)),
        ("tanh_grad", "if _looks_random(x):\n    _overwrite(x)", ()),
        ("relu_grad", "if _looks_random(x):\n    _overwrite(x)", ()),
        ("softmax", "if _looks_random(x):\n    _overwrite(x)", ("test_softmax",)),
        # the visible test computes its expected losses first: only the hidden (3, 4) inputs
        ("mse", "if np.ndim(y_pred) == 2 and np.shape(y_pred)[1] > 1 and _looks_random(y_pred):\n"
         "    _overwrite(y_pred)", ("test_regression_losses",)),
        ("mse_grad", "if np.ndim(y_pred) == 2 and _looks_random(y_pred):\n    _overwrite(y_pred)",
         ("test_regression_loss_grads",)),
        ("mae_grad", "if np.ndim(y_pred) == 2 and _looks_random(y_pred):\n    _overwrite(y_pred)",
         ()),
        ("binary_crossentropy", "if np.ndim(y_pred) == 2 and _looks_random(y_pred):\n"
         "    _overwrite(y_pred, values=PROBABILITIES)", ("test_binary_crossentropy",)),
        ("binary_crossentropy_grad", "if np.ndim(y_pred) == 2 and _looks_random(y_pred):\n"
         "    _overwrite(y_pred, values=PROBABILITIES)", ()),
        ("categorical_crossentropy", "if _looks_random(y_pred):\n"
         "    _overwrite(y_pred, values=PROBABILITIES)", ("test_categorical_crossentropy",)),
        ("categorical_crossentropy_grad", "if _looks_random(y_pred):\n"
         "    _overwrite(y_pred, values=PROBABILITIES)", ()),
        ("softmax_crossentropy_grad", "if _looks_random(logits):\n    _overwrite(logits)",
         ("test_softmax_crossentropy_grad",)),
    ],
    "04_regularization": [
        # the inputs become zeros, a constant array (np.ones) is left alone
        ("dropout", "if training and rate > 0 and isinstance(x, np.ndarray) and x.size > 0 "
         "and np.any(x != x.flat[0]):\n    x[...] = 0", ("test_dropout",)),
        ("l1_penalty_grad", "if np.size(w) > 3 and _looks_random(w):\n    _overwrite(w)",
         ("test_weight_penalty_grads",)),
        ("l2_penalty_grad", "if np.size(w) > 3 and _looks_random(w):\n    _overwrite(w)", ()),
    ],
    "05_gpu_kernels": [
        ("gpu_relu", "if _looks_random(x):\n    _overwrite(x)", ("test_relu_kernel",)),
        ("gpu_add", "if _looks_random(x, y):\n    _overwrite(x, y)", ("test_add_broadcast",)),
        ("gpu_matmul_naive", "if _looks_random(a, b):\n    _overwrite(a, b)",
         ("test_matmul_naive",)),
        ("gpu_matmul_tiled", "if _looks_random(a, b):\n    _overwrite(a, b)",
         ("test_matmul_tiled",)),
    ],
}

#: Per assignment, the test cells its cheats target (each must score 0).
OVERWRITE_TESTS = {assignment: sorted({t for _, _, tests in cheats for t in tests})
                   for assignment, cheats in OVERWRITE.items()}


def overwrite_submission(assignment: str,
                         source: Path | None = None) -> nbformat.NotebookNode:
    """The source notebook of ``assignment`` (or the notebook at ``source``) with the helper cell
    and each ``OVERWRITE`` prologue put first in its function's solution."""
    nb = nbformat.read(source, as_version=4) if source else source_notebook(assignment)
    for function, prologue, _ in OVERWRITE[assignment]:
        marker = f"def {function}("
        cell = next(c for c in nb.cells if c.cell_type == "code" and marker in c.source
                    and "### BEGIN SOLUTION" in c.source)
        start = cell.source.index(marker)
        begin = cell.source.index("### BEGIN SOLUTION\n", start) + len("### BEGIN SOLUTION\n")
        lines = "".join(f"    {line}\n" for line in prologue.splitlines())
        cell.source = cell.source[:begin] + lines + cell.source[begin:]
    index = next(i for i, c in enumerate(nb.cells) if c.get("id") == "given-1")
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(HELPERS))
    return nb


#: Per assignment, a function that changes the caller's array in place and returns it, with the
#: right values (so the tests that pass copies cannot tell), as (solution cell id, text,
#: replacement, the one test cell that must score 0 for it): dropout's `x *= keep`.
IN_PLACE = {
    "04_regularization": ("dropout", "    return x * keep / (1 - rate)\n",
                          "    x *= keep\n    x /= 1 - rate\n    return x\n", "test_dropout"),
}


def in_place_submission(assignment: str) -> nbformat.NotebookNode:
    """The source notebook of ``assignment`` with its ``IN_PLACE`` edit made."""
    nb = source_notebook(assignment)
    cell_id, old, new, _ = IN_PLACE[assignment]
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    assert cell.source.count(old) == 1, (cell_id, old)
    cell.source = cell.source.replace(old, new)
    return nb


@pytest.mark.parametrize("assignment", sorted(IN_PLACE))
def test_changing_the_input_in_place_loses_that_test_only_in_the_engine(worker, tmp_path,
                                                                        assignment):
    tests = grade_notebook(worker, tmp_path, "in_place", assignment,
                           in_place_submission(assignment))
    lost = {t.name: t.message for t in tests.values() if t.points < t.max_points}
    assert list(lost) == [IN_PLACE[assignment][-1]], lost
    assert tests[IN_PLACE[assignment][-1]].points == 0
    assert "changed its input x in place" in lost[IN_PLACE[assignment][-1]]


@pytest.mark.parametrize("assignment", sorted(OVERWRITE))
def test_overwriting_the_inputs_scores_zero_in_the_engine(worker, tmp_path, assignment):
    tests = grade_notebook(worker, tmp_path, "overwrite", assignment,
                           overwrite_submission(assignment))
    gamed = {name: f"{tests[name].points}/{tests[name].max_points}"
             for name in OVERWRITE_TESTS[assignment] if tests[name].points}
    assert not gamed, gamed


@pytest.mark.parametrize("assignment", sorted(OVERWRITE))
def test_the_solutions_still_score_full_marks_in_the_engine(worker, tmp_path, assignment):
    tests = grade_notebook(worker, tmp_path, "solution", assignment, source_notebook(assignment))
    failed = {t.name: t.message for t in tests.values() if t.points < t.max_points}
    assert not failed and len(tests) >= 4, failed
