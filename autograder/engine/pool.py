"""Grading many submissions in parallel: one grader process per worker, each with its own warm
zygote, results handed back to the caller (who records them) as they finish.

No process outlives the grader: a pool process watches its parent's pipe and, when the grader dies
by any signal, kills its zygote (bubblewrap's --die-with-parent and the zygote's parent-death
signal take the sandbox with it), empties its cgroup and exits.
"""

from __future__ import annotations

import atexit
import contextlib
import multiprocessing
import multiprocessing.connection
import multiprocessing.util
import os
import tempfile
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

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
    import IPython.core.inputtransformer2  # magics in cells; slow to import
    import IPython.lib.pretty  # noqa: F401  (partial credit reads values as IPython shows them)

    import autograder.asserts
    import autograder.engine.pipeline

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
    assert _worker is not None
    return grade_job(job, _worker)


def grade_job(job: Job, worker: Worker) -> dict:
    """Grade one job on ``worker``, as a plain dict; the grader's own failure on it is recorded
    as a failed result, and the run goes on."""
    from autograder.engine.pipeline import grade_submission

    try:
        result = grade_submission(job.assignment, job.student, job.source_dir,
                                  job.submission_dir, worker, job.release_dir, job.seed,
                                  job.forbidden)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - whatever went wrong (a SystemExit too) is
        result = failed(job, f"{type(error).__name__}: {error}")  # this submission's result
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


class LocalPool:
    """Grader processes on this machine, each with its own warm zygote (one: in this process).
    A context manager whose ``submit(job)`` returns a ``concurrent.futures.Future`` of the result
    as a dict; ``autograder.engine.cluster.DaskPool`` has the same shape."""

    def __init__(self, workers: int, limits: Limits | None = None, mode: str | None = None) -> None:
        self.workers, self.limits, self.mode = workers, limits or Limits(), mode
        self._stack = contextlib.ExitStack()
        self._pool: ProcessPoolExecutor | None = None
        self._started = False

    def __enter__(self) -> "LocalPool":
        if self.workers > 1:
            references = self._stack.enter_context(
                tempfile.TemporaryDirectory(prefix="autograder-references-"))
            self._pool = self._stack.enter_context(ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
                initializer=_init, initargs=(self.limits, self.mode, references)))
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def capacity(self) -> int:
        """How many jobs to have submitted at once: each worker busy and one more waiting (one
        when this process grades, as ``submit`` then grades before it returns)."""
        return 2 * self.workers if self._pool is not None else 1

    def submit(self, job: Job) -> Future:
        if self._pool is not None:
            return self._pool.submit(_grade, job)
        if not self._started:  # this process grades: its worker starts with the first job
            _init(self.limits, self.mode)
            self._stack.callback(_worker.close)
            self._started = True
        future: Future = Future()
        future.set_result(_grade(job))
        return future


def grade_all(jobs: Iterable[Job], workers: int = 1, limits: Limits | None = None,
              mode: str | None = None,
              on_result: Callable[[Job, SubmissionResult], None] = lambda job, result: None,
              pool: Any = None) -> None:
    """Grade ``jobs`` on ``pool`` (entered by the caller; default: a ``LocalPool`` of ``workers``
    warm zygotes, for this call); ``on_result`` runs here, in this process, once per job as it
    finishes (in completion order). Jobs go to the pool a few at a time, so a run stopped midway
    has little in flight."""
    jobs = list(jobs)
    if pool is None:
        with LocalPool(workers if len(jobs) > 1 else 1, limits, mode) as own:
            return grade_all(jobs, on_result=on_result, pool=own)
    waiting = jobs[::-1]  # popped from the end: in the given order
    pending: dict[Future, Job] = {}
    while waiting or pending:
        while waiting and len(pending) < pool.capacity():  # a few ahead, not all at once
            job = waiting.pop()
            pending[pool.submit(job)] = job
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            job = pending.pop(future)
            try:
                result = SubmissionResult.from_dict(future.result())
            except (Exception, SystemExit) as error:  # noqa: BLE001 - a grader process died
                result = failed(job, f"grader process failed: {error}")
            on_result(job, result)
