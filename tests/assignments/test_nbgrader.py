"""Genuine nbgrader on the course: generate_assignment releases every assignment, autograde grades
the source notebooks submitted as they are (full marks), the released stubs (0, failing only with
the stubs' NotImplementedError), honest variants of the solutions (full marks), functions that
overwrite the tests' input arrays in place (0 on the cells they target), a dropout that changes
its input in place (0 on test_dropout only) and partly correct submissions: one that also imports
the toolkit's softmax (nbgrader's partial marks, and the toolkit check's message), and GPU kernels
whose tiled product races without cuda.syncthreads() (which the grading engine scores the same).

nbgrader runs in this process through its Python API (one import of the Jupyter stack), once per
assignment and student, and executes each notebook in a fresh kernel of this virtual environment.
"""

from __future__ import annotations

import os
import shutil
import sys
import time
from pathlib import Path

import nbformat
import pytest

from autograder.engine.pipeline import grade_submission
from autograder.engine.worker import Worker

from .conftest import COURSE, SOURCE, source_notebook
from .test_honest_work import HONEST, honest_submission
from .test_input_overwrite import (
    IN_PLACE,
    OVERWRITE,
    OVERWRITE_TESTS,
    in_place_submission,
    overwrite_submission,
)

pytestmark = [pytest.mark.slow,
              pytest.mark.filterwarnings("ignore:Object of type .* not in session")]

ASSIGNMENTS = sorted(p.name for p in SOURCE.iterdir() if p.is_dir())
PARTIAL = "03_losses_activations"
#: The partial submission: cells taken from the solution, and the points nbgrader should give.
PARTIAL_FROM_SOLUTION = ("activations", "regression_losses")
PARTIAL_SCORES = {
    "test_relu": 1, "test_sigmoid": 2, "test_tanh": 1, "test_activation_grads": 0,
    "test_softmax": 0,
    "test_regression_losses": 2, "test_regression_loss_grads": 2, "test_binary_crossentropy": 0,
    "test_categorical_crossentropy": 2,
    # its own code is right, but it calls the submission's softmax, which is the toolkit's
    "test_softmax_crossentropy_grad": 0,
}
GPU = "05_gpu_kernels"
#: The racing submission's points: everything right but the tiled kernel's two barriers.
GPU_PARTIAL_SCORES = {"test_blocks_for": 1, "test_relu_kernel": 2, "test_add_broadcast": 2,
                      "test_matmul_naive": 2, "test_matmul_tiled": 0}
TOOLKIT_SOFTMAX = '''from toolkit.kernels import get_backend


def softmax(x):
    """exp(x) / sum(exp(x)) over the last axis."""
    return get_backend("numpy").softmax(x)
'''


def cells_by_id(nb):
    return {cell.get("id"): cell for cell in nb.cells}


def partial_submission(source, release):
    """The released notebook with two parts solved, softmax taken from the toolkit, and the
    cross-entropy part solved except that binary cross-entropy forgets to clip."""
    nb = nbformat.from_dict(release)
    solved = cells_by_id(source)
    for cell in nb.cells:
        if cell.get("id") in PARTIAL_FROM_SOLUTION:
            cell.source = solved[cell.id].source
        elif cell.get("id") == "softmax":
            cell.source = TOOLKIT_SOFTMAX
        elif cell.get("id") == "crossentropy":
            clipped = "p = np.clip(y_pred, EPSILON, 1 - EPSILON)\n    return float(np.mean(-(y_true"
            assert solved[cell.id].source.count(clipped) == 1
            cell.source = solved[cell.id].source.replace(
                clipped, "p = y_pred\n    return float(np.mean(-(y_true")
    return nb


def racing_submission(source, release):
    """The released notebook with every part solved, but the tiled kernel without its
    cuda.syncthreads() barriers: a race that need not show in the results."""
    nb = nbformat.from_dict(release)
    solved = cells_by_id(source)
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("solution"):
            cell.source = solved[cell.id].source
        if cell.get("id") == "matmul_tiled":
            lines = cell.source.splitlines()
            kept = [line for line in lines if "cuda.syncthreads()" not in line]
            assert len(kept) == len(lines) - 2
            cell.source = "\n".join(kept)
    return nb


#: The partly correct submission of an assignment, made from its source and released notebooks.
PARTIALS = {PARTIAL: partial_submission, GPU: racing_submission}


def kernel_python() -> str:
    """sys.executable as seen from inside a fresh "python3" kernel."""
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3",
                                                           "display_name": "Python 3",
                                                           "language": "python"}})
    nb.cells.append(nbformat.v4.new_code_cell("import sys; print(sys.executable, end='')"))
    NotebookClient(nb, timeout=60, kernel_name="python3").execute()
    return nb.cells[0].outputs[0].text


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """{assignment: {student: {"scores": {grade_id: (score, max)},
    "errors": {cell id: (ename, evalue)}, "seconds": autograde time}}} from one nbgrader run over
    the whole course (in "course")."""
    pytest.importorskip("nbgrader")
    from ipykernel.kernelspec import install as install_kernel_spec
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    course = tmp_path_factory.mktemp("course")
    shutil.copy(COURSE / "nbgrader_config.py", course)
    shutil.copytree(SOURCE, course / "source")
    results: dict = {"course": course}
    with pytest.MonkeyPatch.context() as mp:
        # nbgrader runs alembic (a console script of this environment) to set up its database.
        mp.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep
                  + os.environ.get("PATH", ""))
        # The notebooks' kernel "python3" is this interpreter: a kernel spec found first on
        # JUPYTER_PATH, so that no user-wide spec of another Python can shadow it.
        kernels = tmp_path_factory.mktemp("jupyter")
        install_kernel_spec(prefix=str(kernels), kernel_name="python3")
        mp.setenv("JUPYTER_PATH", str(kernels / "share" / "jupyter"))
        results["kernel_python"] = kernel_python()
        mp.chdir(course)
        config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config()
        api = NbGraderAPI(coursedir=CourseDirectory(config=config, root=str(course)), config=config)
        for assignment in ASSIGNMENTS:
            outcome = api.generate_assignment(assignment)
            assert outcome["success"], outcome.get("error", "") + outcome.get("log", "")
            name = f"{assignment}.ipynb"
            source = nbformat.read(course / "source" / assignment / name, as_version=4)
            release = nbformat.read(course / "release" / assignment / name, as_version=4)
            results[f"release:{assignment}"] = release
            submissions = {"solution": source, "stub": release}
            if assignment in PARTIALS:
                submissions["partial"] = PARTIALS[assignment](source, release)
            if assignment in HONEST:
                submissions["honest"] = honest_submission(assignment)
            if assignment in OVERWRITE:
                submissions["overwrite"] = overwrite_submission(assignment)
            if assignment in IN_PLACE:
                submissions["in_place"] = in_place_submission(assignment)
            results[assignment] = {}
            for student, nb in submissions.items():
                folder = course / "submitted" / student / assignment
                folder.mkdir(parents=True)
                nbformat.write(nb, folder / name)
                start = time.perf_counter()
                outcome = api.autograde(assignment, student)
                seconds = time.perf_counter() - start
                assert outcome["success"], outcome.get("error", "") + outcome.get("log", "")
                graded_nb = nbformat.read(course / "autograded" / student / assignment / name,
                                          as_version=4)
                errors = {cell.get("id"): (out.ename, out.evalue) for cell in graded_nb.cells
                          for out in cell.get("outputs", []) if out.output_type == "error"}
                with Gradebook(api.coursedir.db_url) as gradebook:
                    notebook = gradebook.find_submission_notebook(name[:-6], assignment, student)
                    scores = {g.name: (g.score, g.max_score) for g in notebook.grades}
                results[assignment][student] = {"scores": scores, "errors": errors,
                                                "seconds": seconds}
                print(f"{assignment} {student}: {sum(s for s, _ in scores.values()):g}/"
                      f"{sum(m for _, m in scores.values()):g} points, autograde {seconds:.1f} s")
    return results


def test_notebooks_run_in_this_environments_python(graded):
    assert os.path.realpath(graded["kernel_python"]) == os.path.realpath(sys.executable)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solutions_score_full_marks(graded, assignment):
    result = graded[assignment]["solution"]
    assert result["errors"] == {}
    assert len(result["scores"]) >= 4
    for grade_id, (score, max_score) in result["scores"].items():
        assert score == max_score > 0, grade_id


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_stubs_score_zero_failing_only_with_not_implemented(graded, assignment):
    result = graded[assignment]["stub"]
    assert all(score == 0 for score, _ in result["scores"].values())
    assert result["errors"], "the stubs raise NotImplementedError"
    assert {ename for ename, _ in result["errors"].values()} == {"NotImplementedError"}
    assert set(result["scores"]) <= set(result["errors"]), "every test cell fails on the stubs"


def region_lines(nb, begin: str, end: str) -> set[str]:
    """The distinctive lines (over 25 characters) between ``begin`` and ``end`` markers."""
    lines = set()
    for cell in nb.cells:
        for region in cell.source.split(begin)[1:]:
            lines |= {line.strip() for line in region.split(end)[0].splitlines()
                      if len(line.strip()) > 25}
    return lines


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_released_notebooks_hide_solutions_and_hidden_tests(graded, assignment):
    release = graded[f"release:{assignment}"]
    source = source_notebook(assignment)
    text = nbformat.writes(release)
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    secret = (region_lines(source, "### BEGIN SOLUTION", "### END SOLUTION")
              | region_lines(source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"))
    visible = {line.strip() for cell in source.cells if cell.cell_type == "code"
               for line in cell.source.split("### BEGIN HIDDEN TESTS")[0]
                                      .split("### BEGIN SOLUTION")[0].splitlines()}
    released = {line.strip() for cell in release.cells for line in cell.source.splitlines()}
    assert not (secret - visible) & released


@pytest.mark.parametrize("assignment", sorted(HONEST))
def test_honest_variants_of_the_solutions_score_full_marks(graded, assignment):
    """Correct work in other forms than the solution's (test_honest_work.py): no test cell fails
    it, nor writes to stderr, which nbgrader scores 0."""
    result = graded[assignment]["honest"]
    assert result["errors"] == {}
    assert all(score == max_score for score, max_score in result["scores"].values()), \
        result["scores"]


@pytest.mark.parametrize("assignment", sorted(OVERWRITE))
def test_overwriting_the_test_inputs_scores_zero(graded, assignment):
    """Functions that overwrite the test's arrays in place and return the answer for what they
    wrote there (test_input_overwrite.py): the test cells they target give them copies."""
    scores = graded[assignment]["overwrite"]["scores"]
    gamed = {name: scores[name] for name in OVERWRITE_TESTS[assignment] if scores[name][0]}
    assert not gamed, gamed


@pytest.mark.parametrize("assignment", sorted(IN_PLACE))
def test_changing_the_input_in_place_loses_that_test_only(graded, assignment):
    """A function that changes the caller's array in place and returns it (test_input_overwrite.py):
    the test cell that checks its own array scores 0, the others full marks."""
    result = graded[assignment]["in_place"]
    target = IN_PLACE[assignment][-1]
    assert {name for name, (score, top) in result["scores"].items() if score < top} == {target}
    assert result["scores"][target][0] == 0
    ename, message = result["errors"][target]
    assert ename == "AssertionError" and "changed its input x in place" in message


def test_partly_correct_submission_gets_nbgrader_partial_marks(graded):
    result = graded[PARTIAL]["partial"]
    assert {k: s for k, (s, _) in result["scores"].items()} == PARTIAL_SCORES
    errors = result["errors"]
    assert errors["test_activation_grads"][0] == "NotImplementedError"
    ename, message = errors["test_binary_crossentropy"]
    assert ename == "AssertionError" and "clip first" in message


def test_toolkit_implementation_does_not_pass(graded):
    ename, message = graded[PARTIAL]["partial"]["errors"]["test_softmax"]
    assert ename == "AssertionError"
    assert "softmax uses the course toolkit's own implementation" in message
    assert "`get_backend` is toolkit.kernels" in message
    ename, message = graded[PARTIAL]["partial"]["errors"]["test_softmax_crossentropy_grad"]
    assert (ename == "AssertionError"
            and "softmax_crossentropy_grad uses the course toolkit's" in message)


def test_racing_tiled_kernel_loses_only_the_tiled_points(graded):
    result = graded[GPU]["partial"]
    assert {k: s for k, (s, _) in result["scores"].items()} == GPU_PARTIAL_SCORES
    ename, message = result["errors"]["test_matmul_tiled"]
    assert ename == "AssertionError"
    assert ("matmul_tiled_kernel reads a shared tile that other threads may not have finished "
            "writing" in message)


def test_gpu_kernels_score_the_same_in_the_grading_engine(graded):
    """The engine grades the submissions nbgrader graded, in its sandbox (on the simulator too),
    and gives every test cell the same points."""
    course = graded["course"]
    worker = Worker()
    try:
        for student in ("solution", "stub", "partial"):
            start = time.perf_counter()
            result = grade_submission(GPU, student, course / "source" / GPU,
                                      course / "submitted" / student / GPU,
                                      worker, course / "release" / GPU)
            seconds = time.perf_counter() - start
            ours = {t.name: t.points for t in result.tests}
            assert ours == {k: s for k, (s, _) in graded[GPU][student]["scores"].items()}, student
            print(f"{GPU} {student}: the engine gives {sum(ours.values()):g} points in "
                  f"{seconds:.1f} s (nbgrader autograde: {graded[GPU][student]['seconds']:.1f} s)")
    finally:
        worker.close()
