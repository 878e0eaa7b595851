"""Grading many submissions in parallel: one grader process per worker, each with its own warm
zygote, results handed back to the caller (who records them) as they finish.

The grader's own failure is never a grade. A submission it could not grade because of itself or the
machine (a grader process killed, say by the kernel's OOM killer on a busy machine; a sandbox that
could not start) is graded again on fresh processes, up to ``RETRIES`` times, and if it still fails
comes back with status "error", which the caller does not record: the next run grades it.

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
import shutil
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

from autograder.engine.folders import owned_folder
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
    submitted_at: str = ""        # ISO 8601 UTC, from its timestamp.txt ("" where there is none)


#: How many more times a submission is graded after the grader failed on it.
RETRIES = 2

_worker: Worker | None = None


def _init(limits: Limits, mode: str | None, references: Path | None = None) -> None:
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
    """Grade one job on ``worker``, as a plain dict; the grader's own failure on it (the
    pipeline never raises for what a submission does) comes back as a ``grader_error``."""
    from autograder.engine.pipeline import grade_submission

    try:
        result = grade_submission(job.assignment, job.student, job.source_dir,
                                  job.submission_dir, worker, job.release_dir, job.seed,
                                  job.forbidden, job.submitted_at)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # noqa: BLE001 - whatever went wrong (a SystemExit too) is
        result = grader_error(job, f"{type(error).__name__}: {error}")
    return result.to_dict()


def grader_error(job: Job, error: str) -> SubmissionResult:
    """What the grader reports for a submission it failed on: status "error", not a grade (its
    test cells listed at 0 points, for the record; the caller does not store it)."""
    from autograder.engine.notebook import NotebookError, read_notebook, test_cells

    tests: list[TestResult] = []
    for path in sorted(Path(job.source_dir).glob("*.ipynb")):
        try:
            tests += [TestResult(t.grade_id, 0.0, t.points, False, error, t.hidden)
                      for t in test_cells(read_notebook(path))]
        except NotebookError:
            pass
    return SubmissionResult(job.assignment, job.student, tuple(tests), status="error",
                            error=f"the grader failed on it, not the submission: {error}",
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
            self._references = owned_folder("autograder-references-")
            self._stack.callback(shutil.rmtree, self._references, ignore_errors=True)
            self._stack.callback(lambda: self._pool.shutdown())
            self._start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    def _start(self) -> None:
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"),
            initializer=_init, initargs=(self.limits, self.mode, self._references))

    def capacity(self) -> int:
        """How many jobs to have submitted at once: each worker busy and one more waiting (one
        when this process grades, as ``submit`` then grades before it returns)."""
        return 2 * self.workers if self._pool is not None else 1

    def submit(self, job: Job) -> Future:
        if self._pool is not None:
            try:
                return self._pool.submit(_grade, job)
            except BrokenProcessPool:  # a grader process died, and the pool's others with it
                self._pool.shutdown()
                self._start()
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
    has little in flight. A job the grader fails on goes back in line, ``RETRIES`` times at
    most, before its "error" result is handed over."""
    jobs = list(jobs)
    if pool is None:
        with LocalPool(workers if len(jobs) > 1 else 1, limits, mode) as own:
            return grade_all(jobs, on_result=on_result, pool=own)
    waiting = list(range(len(jobs)))[::-1]  # indices, popped from the end: in the given order
    pending: dict[Future, int] = {}
    retries = [0] * len(jobs)
    while waiting or pending:
        while waiting and len(pending) < pool.capacity():  # a few ahead, not all at once
            index = waiting.pop()
            pending[pool.submit(jobs[index])] = index
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            index = pending.pop(future)
            job = jobs[index]
            try:
                result = SubmissionResult.from_dict(future.result())
            except (Exception, SystemExit) as error:  # noqa: BLE001 - a grader process died
                result = grader_error(job, f"its grader process ended: {error}")
            if result.status == "error" and retries[index] < RETRIES:
                retries[index] += 1
                waiting.append(index)  # next in line, on a fresh process where one died
                continue
            on_result(job, result)
