"""Grading many submissions in parallel: one grader process per worker, each with its own warm
zygote, results handed back to the caller (who records them) as they finish.

No process outlives the grader: a pool process watches its parent's pipe and, when the grader dies
by any signal, kills its zygote (bubblewrap's --die-with-parent and the zygote's parent-death
signal take the sandbox with it), empties its cgroup and exits.
"""

from __future__ import annotations

import atexit
import multiprocessing
import multiprocessing.connection
import multiprocessing.util
import os
import tempfile
import threading
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from autograder.engine.sandbox import Limits
from autograder.engine.worker import Worker
from autograder.results import SubmissionResult, TestResult


@dataclass(frozen=True)
class Job:
    """One submission to grade."""

    assignment: str
    student: str
    source_dir: Path
    submission_dir: Path
    release_dir: Path | None = None
    seed: int = 0
    forbidden: tuple[str, ...] = ()
    fingerprint: str = ""


_worker: Worker | None = None


def _init(limits: Limits, mode: str | None, references: str | None = None) -> None:
    """Start this grader process's worker, and import what grading needs here up front;
    ``references`` is the folder where the run's processes share reference timings."""
    global _worker
    _worker = Worker(limits, mode)
    _die_with_parent()
    _worker.launch()  # it warms up while this process imports the rest
    atexit.register(_worker.close)
    # a pool process ends through multiprocessing, which skips atexit but runs its finalizers
    multiprocessing.util.Finalize(None, _worker.close, exitpriority=10)
    import IPython.core.inputtransformer2  # noqa: F401  (magics in cells; slow to import)
    import IPython.lib.pretty  # noqa: F401  (partial credit reads values as IPython shows them)

    import autograder.asserts
    import autograder.engine.pipeline  # noqa: F401

    autograder.asserts.share_reference_times(references)


def _die_with_parent() -> None:
    """In a pool process: when the grader that started it ends, close this process's worker
    (zygote, sandbox, cgroup) and exit."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        if _worker is not None:
            _worker.close()
        os._exit(1)

    threading.Thread(target=watch, name="watch-the-grader", daemon=True).start()


def _grade(job: Job) -> dict:
    from autograder.engine.pipeline import grade_submission

    assert _worker is not None
    try:
        result = grade_submission(job.assignment, job.student, job.source_dir, job.submission_dir, _worker,
                                  job.release_dir, job.seed, job.forbidden)
    except Exception as error:  # the grader's own failure on this one: recorded, the run goes on
        result = failed(job, f"{type(error).__name__}: {error}")
    return result.to_dict()


def failed(job: Job, error: str) -> SubmissionResult:
    """A result for a submission that could not be graded: every test cell at 0 points."""
    from autograder.engine.notebook import NotebookError, read_notebook, test_cells

    tests: list[TestResult] = []
    for path in sorted(Path(job.source_dir).glob("*.ipynb")):
        try:
            tests += [TestResult(t.grade_id, 0.0, t.points, False, error, t.hidden)
                      for t in test_cells(read_notebook(path))]
        except NotebookError:
            pass
    return SubmissionResult(job.assignment, job.student, tuple(tests), status="failed", error=error,
                            seed=job.seed)


def grade_all(jobs: Iterable[Job], workers: int, limits: Limits | None = None, mode: str | None = None,
              on_result: Callable[[Job, SubmissionResult], None] = lambda job, result: None) -> None:
    """Grade ``jobs`` on ``workers`` warm zygotes; ``on_result`` runs here, in this process, once
    per job as it finishes (in completion order)."""
    jobs = list(jobs)
    limits = limits or Limits()
    if workers <= 1 or len(jobs) <= 1:
        _init(limits, mode)
        try:
            for job in jobs:
                on_result(job, SubmissionResult.from_dict(_grade(job)))
        finally:
            _worker.close()
        return
    context = multiprocessing.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="autograder-references-") as references, \
            ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_init,
                                initargs=(limits, mode, references)) as pool:
        pending = {pool.submit(_grade, job): job for job in jobs}
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                job = pending.pop(future)
                try:
                    result = SubmissionResult.from_dict(future.result())
                except Exception as error:  # a grader process died: record it, keep going
                    result = failed(job, f"grader process failed: {error}")
                on_result(job, result)

