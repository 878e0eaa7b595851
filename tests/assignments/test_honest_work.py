"""Honest, correct work that the test cells once scored 0, graded by the grading engine:

- a sigmoid and softmax in the tests' own reference form (NumPy warns on stderr about their NaN
  inputs), under the student's ``np.seterr(all="raise")`` (the underflow of exp(-1000) to 0
  raised in the tests' overflow checks and references);
- a naive relu that builds a float64 result, a relu_numba compiled with parallel=True and no
  prange (Numba warns on stderr that nothing ran in parallel);
- a shape check that loops over np.shape(y_true) and one that loops over (y_true, y_pred);
- a dropout helper named `keep`, an early-stopping helper named `check` and scaling helpers named
  `_spread` and `_mean`: names test cells once bound at their top level, replacing the student's
  own in nbgrader, which runs the test cells in the student's namespace (each test cell's code now
  runs in a function of its own);
- early stopping's pair as a named tuple (the engine once sent a proxy for it) and dropout under
  an ``@np.errstate`` decorator (the engine once read the decorator's code);
- a scratch variable named ``list`` (the tests' own ``list(...)`` called it: each test now imports
  the builtins it uses).

Each scores full marks. test_nbgrader.py grades the same submissions with genuine nbgrader
(``HONEST`` and ``honest_submission`` are shared).
"""

from __future__ import annotations

import nbformat
import pytest

from tests.assignments.conftest import grade_notebook, source_notebook

pytestmark = pytest.mark.slow

#: Per assignment, the edits (solution cell id, text, replacement) that make a source notebook an
#: honest variant of its solution.
HONEST = {
    "01_tensors_vectorization": [
        ("naive_operations",
         "    x = x.copy()\n    for i in range(x.shape[0]):\n        for j in range(x.shape[1]):\n"
         "            x[i, j] = max(x[i, j], 0)\n    return x\n",
         "    z = np.zeros(x.shape)\n    for i in range(x.shape[0]):\n"
         "        for j in range(x.shape[1]):\n            z[i, j] = max(x[i, j], 0)\n"
         "    return z\n"),
        ("vectorized_operations", "    return np.maximum(x, 0)\n",
         "    return np.clip(x, 0, None)\n"),
        ("numba_operations", "@njit\ndef relu_numba(x):",
         "@njit(parallel=True)\ndef relu_numba(x):"),
    ],
    "03_losses_activations": [
        # a debugging habit: the stable sigmoid's exp(-1000) underflows to 0, which is right, and
        # which the tests' references and their overflow checks once raised on
        ("activations", "def relu(x):",
         "np.seterr(all=\"raise\")  # stop where a NaN or an inf is made\n\n\ndef relu(x):"),
        ("activations", "    return np.maximum(x, 0)\n", "    return np.clip(x, 0, None)\n"),
        ("activations",
         "    e = np.exp(-np.abs(x))\n    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))\n",
         "    return np.exp(-np.logaddexp(0, -x))\n"),
        ("activations",
         "    e = np.expm1(-2 * np.abs(x))\n    return np.sign(x) * (-e / (2 + e))\n",
         "    return 2 * sigmoid(2 * x) - 1\n"),
        ("softmax",
         "    shifted = x - np.max(x, axis=-1, keepdims=True)\n    e = np.exp(shifted)\n"
         "    return e / np.sum(e, axis=-1, keepdims=True)\n",
         "    return np.exp(x - np.logaddexp.reduce(x, axis=-1, keepdims=True))\n"),
        ("regression_losses", "    if np.size(y_true) == 0:\n",
         "    if any(n == 0 for n in np.shape(y_true)):\n"),
        ("regression_losses", "    if np.shape(y_true) != np.shape(y_pred):\n",
         "    for a in (y_true, y_pred):\n        if a is None:\n"
         "            raise ValueError(\"a loss needs both y_true and y_pred\")\n"
         "    if np.shape(y_true) != np.shape(y_pred):\n"),
    ],
    "04_regularization": [
        # helpers named as a test cell's names once were: nbgrader runs the test cells in the
        # student's namespace, and the tests' `keep = ...` and `def check(...)` replaced them
        ("dropout", "def dropout(x, rate, training, seed=None):",
         "def keep(shape, rate, seed=None):\n    \"\"\"Which entries survive dropout.\"\"\"\n"
         "    return np.random.default_rng(seed).random(shape) >= rate\n\n\n"
         "def dropout(x, rate, training, seed=None):"),
        ("dropout",
         "    keep = np.random.default_rng(seed).random(x.shape) >= rate\n"
         "    return x * keep / (1 - rate)\n",
         "    return x * keep(x.shape, rate, seed) / (1 - rate)\n"),
        ("early_stopping", "def early_stopping(val_losses, patience=0, min_delta=0.0):",
         "def check(loss, best, min_delta):\n"
         "    \"\"\"Whether loss improves on best by more than min_delta.\"\"\"\n"
         "    return loss < best - min_delta\n\n\n"
         "def early_stopping(val_losses, patience=0, min_delta=0.0):"),
        ("early_stopping", "        if loss < best - min_delta:\n",
         "        if check(loss, best, min_delta):\n"),
        # the pair as a named tuple, and a decorated function (whose own source is read)
        ("early_stopping", "def early_stopping(val_losses, patience=0, min_delta=0.0):",
         "import collections\n\nStopResult = collections.namedtuple(\"StopResult\", "
         "[\"stopped_epoch\", \"best_epoch\"])\n\n\n"
         "def early_stopping(val_losses, patience=0, min_delta=0.0):"),
        ("early_stopping", "            return epoch, best_epoch\n    return None, best_epoch\n",
         "            return StopResult(epoch, best_epoch)\n"
         "    return StopResult(None, best_epoch)\n"),
        ("dropout", "def dropout(x, rate, training, seed=None):",
         "@np.errstate(over=\"raise\")\ndef dropout(x, rate, training, seed=None):"),
    ],
    "02_data_preparation": [
        # a scratch name that Python's builtins had: the tests' own list(...) once called it
        ("vectorize_sequences", "        results[i, list(sequence)] = 1.0\n",
         "        results[i, sequence] = 1.0\n"),
        ("vectorize_sequences", "    ### END SOLUTION",
         "    ### END SOLUTION\n\n\nlist = [1, 14, 22]  # the word indices of a short review\n"
         "print(vectorize_sequences([list], dimension=30).sum())"),
        ("normalization", "def min_max_scale(x_train, x_test):",
         "def _spread(x):\n    \"\"\"max - min per column, 1 where they are equal.\"\"\"\n"
         "    s = x.max(axis=0) - x.min(axis=0)\n    return np.where(s == 0, 1.0, s)\n\n\n"
         "def _mean(x):\n    return x.mean(axis=0)\n\n\n"
         "def min_max_scale(x_train, x_test):"),
        ("normalization",
         "    low, high = x_train.min(axis=0), x_train.max(axis=0)\n"
         "    spread = np.where(high == low, 1.0, high - low)\n"
         "    return (x_train - low) / spread, (x_test - low) / spread\n",
         "    low = x_train.min(axis=0)\n"
         "    return (x_train - low) / _spread(x_train), (x_test - low) / _spread(x_train)\n"),
        ("normalization",
         "    mean, spread = x_train.mean(axis=0), x_train.max(axis=0) - x_train.min(axis=0)\n"
         "    spread = np.where(spread == 0, 1.0, spread)\n"
         "    return (x_train - mean) / spread, (x_test - mean) / spread\n",
         "    return ((x_train - _mean(x_train)) / _spread(x_train),\n"
         "            (x_test - _mean(x_train)) / _spread(x_train))\n"),
    ],
    "05_gpu_kernels": [
        ("relu_kernel", "blocks = min(blocks_for(x.size, threads), MAX_BLOCKS)",
         "blocks = int(min(np.ceil(x.size / threads), MAX_BLOCKS))"),
        ("relu_kernel", "return out.copy_to_host().reshape(x.shape)",
         "return np.reshape(out.copy_to_host(), x.shape)"),
        ("add_kernel", "cuda.to_device(x.ravel()), cuda.to_device(y.ravel())",
         "cuda.to_device(np.ravel(x)), cuda.to_device(np.ravel(y))"),
    ],
}


def honest_submission(assignment: str) -> nbformat.NotebookNode:
    """The source notebook of ``assignment`` with its ``HONEST`` edits made."""
    nb = source_notebook(assignment)
    cells = {cell.get("id"): cell for cell in nb.cells}
    for cell_id, old, new in HONEST[assignment]:
        assert cells[cell_id].source.count(old) == 1, (cell_id, old)
        cells[cell_id].source = cells[cell_id].source.replace(old, new)
    return nb


@pytest.mark.parametrize("assignment", ["01_tensors_vectorization", "02_data_preparation",
                                        "03_losses_activations", "04_regularization"])
def test_honest_work_scores_full_marks_in_the_engine(worker, tmp_path, assignment):
    tests = grade_notebook(worker, tmp_path, "honest", assignment,
                           honest_submission(assignment))
    failed = {t.name: t.message for t in tests.values() if t.points < t.max_points}
    assert not failed and len(tests) >= 4, failed
