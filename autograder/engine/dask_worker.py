"""What runs on a Dask worker (``engine.cluster`` is the client's side): a plugin that keeps one
warm engine worker per Dask worker process, and the task that grades a bundle on it."""

from __future__ import annotations

import shutil
import uuid
from typing import TYPE_CHECKING, Any

from distributed import WorkerPlugin, get_worker

from autograder.engine.pool import grade_job
from autograder.engine.sandbox import Limits

if TYPE_CHECKING:
    from autograder.engine.cluster import Bundle


class EnginePlugin(WorkerPlugin):
    """One warm engine worker per Dask worker process: started when the worker joins (so it
    warms up before the first job), closed when it leaves."""

    name = "autograder-engine"

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def setup(self, worker: Any) -> None:
        from autograder.engine.worker import Worker

        engine = Worker(self.limits)
        engine.launch()
        worker.autograder_engine = engine

    def teardown(self, worker: Any) -> None:
        engine = getattr(worker, "autograder_engine", None)
        if engine is not None:
            engine.close()


def grade_bundle(bundle: "Bundle") -> dict:
    """Grade ``bundle`` on this Dask worker process's warm engine worker; the files live in the
    engine's private folder while it is graded."""
    engine = get_worker().autograder_engine
    folder = engine.root / "jobs" / uuid.uuid4().hex
    try:
        return grade_job(bundle.unpack(folder), engine)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
