"""What runs on a Dask worker (``engine.cluster`` is the client's side): a plugin that keeps one
warm engine worker per Dask worker process, and the task that grades a bundle on it."""

from __future__ import annotations

import shutil
import uuid
from typing import TYPE_CHECKING, Any

from distributed import WorkerPlugin, get_worker

from autograder.engine.environment import differences, grading_environment
from autograder.engine.folders import leave_shared_folder, shared_folder
from autograder.engine.pool import grade_job, grader_error
from autograder.engine.sandbox import Limits

if TYPE_CHECKING:
    from autograder.engine.cluster import Bundle


class EnginePlugin(WorkerPlugin):
    """One warm engine worker per Dask worker process: started when the worker joins (so it
    warms up before the first job), closed when it leaves. The worker processes of one run on
    one machine share their reference timings (``asserts.share_reference_times``)."""

    name = "autograder-engine"

    def __init__(self, limits: Limits, run: str) -> None:
        self.limits, self.run = limits, run

    def setup(self, worker: Any) -> None:
        from autograder import asserts
        from autograder.engine.worker import Worker

        engine = Worker(self.limits)
        engine.launch()
        worker.autograder_engine = engine
        self.references = shared_folder("autograder-references-run-", self.run)
        asserts.share_reference_times(self.references)

    def teardown(self, worker: Any) -> None:
        engine = getattr(worker, "autograder_engine", None)
        if engine is not None:
            engine.close()
        if getattr(self, "references", None) is not None:
            leave_shared_folder(self.references)


def grade_bundle(bundle: "Bundle") -> dict:
    """Grade ``bundle`` on this Dask worker process's warm engine worker; the files live in the
    engine's private folder while it is graded. A worker whose grading environment is not the
    client's grades nothing: a grader error, which the pool hands to another worker."""
    worker = get_worker()
    off = differences(grading_environment(), bundle.environment)
    if off:
        return grader_error(bundle.job, f"the Dask worker {worker.address} grades with another "
                                        f"environment than the client ({', '.join(off)}); "
                                        "install the same versions there").to_dict()
    engine = worker.autograder_engine
    folder = engine.root / "jobs" / uuid.uuid4().hex
    try:
        return grade_job(bundle.unpack(folder), engine)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
