"""Wrong work that once scored full marks, found by a mutation audit of the solutions (one small
change to a solution cell, graded by the engine and by genuine nbgrader): each mutant below breaks
a behaviour the assignment's text asks for, and now loses the points of exactly the test cell that
covers that behaviour, and no others. A few mutants the tests always caught stand beside them, so
that a test made too lax shows here as well.
"""

from __future__ import annotations

import pytest

from tests.assignments.conftest import grade_notebook, source_notebook

pytestmark = pytest.mark.slow

#: name: (assignment, solution cell id, text, replacement, the test cells that must fail).
MUTANTS = {
    # "returning that float64 matrix" (02, Part 1)
    "vectorize_sequences_float32": (
        "02_data_preparation", "vectorize_sequences",
        "np.zeros((len(sequences), dimension))",
        "np.zeros((len(sequences), dimension), dtype=np.float32)",
        {"test_vectorize_sequences"}),
    # "The losses return a Python float; shape mismatches raise ValueError as in Part 4" (03)
    "categorical_crossentropy_unchecked_shapes": (
        "03_losses_activations", "crossentropy",
        "    _check_pair(y_true, y_pred)\n    p = np.clip(y_pred, EPSILON, 1 - EPSILON)\n"
        "    return float(np.mean(-np.sum(",
        "    p = np.clip(y_pred, EPSILON, 1 - EPSILON)\n    return float(np.mean(-np.sum(",
        {"test_categorical_crossentropy"}),
    # "Raise a ValueError for a negative factor" (04, Part 2): 0 is allowed, for the gradients too
    "l2_penalty_grad_refuses_zero": (
        "04_regularization", "weight_penalties",
        "    if l2 < 0:\n        raise ValueError(f\"the L2 factor must be >= 0, got {l2}\")\n"
        "    return 2 * l2 * w",
        "    if l2 <= 0:\n        raise ValueError(f\"the L2 factor must be >= 0, got {l2}\")\n"
        "    return 2 * l2 * w",
        {"test_weight_penalty_grads"}),
    "l1_penalty_grad_takes_negative_factors": (
        "04_regularization", "weight_penalties",
        "    if l1 < 0:\n        raise ValueError(f\"the L1 factor must be >= 0, got {l1}\")\n"
        "    return l1 * np.sign(w)",
        "    return l1 * np.sign(w)",
        {"test_weight_penalty_grads"}),
    "l2_penalty_refuses_zero": (
        "04_regularization", "weight_penalties",
        "    if l2 < 0:\n        raise ValueError(f\"the L2 factor must be >= 0, got {l2}\")\n"
        "    return float(",
        "    if l2 <= 0:\n        raise ValueError(f\"the L2 factor must be >= 0, got {l2}\")\n"
        "    return float(",
        {"test_weight_penalties"}),
    # "launch one thread per element of c in blocks of shape block" (05, Part 4): a grid counted
    # with block[0] on both axes covers c only for square blocks
    "matmul_naive_grid_from_square_blocks": (
        "05_gpu_kernels", "matmul_naive",
        "blocks_for(c.shape[1], block[1])", "blocks_for(c.shape[1], block[0])",
        {"test_matmul_naive"}),
    # caught from the start
    "k_fold_last_fold_one_short": (
        "02_data_preparation", "k_fold_indices",
        "validation = indices[bounds[i]:bounds[i + 1]]",
        "validation = indices[bounds[i]:bounds[i + 1] - 1]",
        {"test_k_fold_indices"}),
    "softmax_without_keepdims": (
        "03_losses_activations", "softmax",
        "return e / np.sum(e, axis=-1, keepdims=True)", "return e / np.sum(e, axis=-1)",
        {"test_softmax", "test_softmax_crossentropy_grad"}),
    "dropout_keeps_rate_one": (
        "04_regularization", "dropout", "if not 0 <= rate < 1:", "if not 0 <= rate <= 1:",
        {"test_dropout"}),
}


@pytest.mark.parametrize("name", sorted(MUTANTS))
def test_mutant_loses_exactly_the_covering_test(worker, tmp_path, name):
    assignment, cell_id, old, new, failing = MUTANTS[name]
    nb = source_notebook(assignment)
    cell = next(c for c in nb.cells if c.get("id") == cell_id)
    assert cell.source.count(old) == 1, (cell_id, old)
    cell.source = cell.source.replace(old, new)
    tests = grade_notebook(worker, tmp_path, name, assignment, nb)
    lost = {t.name for t in tests.values() if t.points < t.max_points}
    assert lost == failing, {t.name: t.message for t in tests.values() if t.name in lost}
    assert all(tests[t].points == 0 for t in failing)
