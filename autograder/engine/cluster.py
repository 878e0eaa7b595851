"""Grading past one machine, on a Dask cluster (``distributed``): ``autograder grade --scheduler
ADDRESS`` or ``--cluster local:N``.

``DaskPool`` has ``LocalPool``'s shape (a context manager whose ``submit(job)`` returns a
``concurrent.futures.Future`` of the result), so ``pool.grade_all`` drives either. Each Dask worker
process keeps one warm engine worker (``dask_worker.EnginePlugin``) and grades in the same sandbox
as the local pool. A job travels as a ``Bundle``: the source notebooks' bytes, and the released
and submitted files (symlinks as links, never followed), so a worker needs no shared file system
and sees no other student's files. Results come back to the client, which alone writes the
gradebook. When a Dask worker dies mid-submission, the scheduler runs the task again on another
worker. Only workers whose grading environment (``engine.environment``) is the client's grade: a
cluster with others is refused, and a worker that joins later refuses each bundle, which then goes
back in line as a grader error.
"""

from __future__ import annotations

import os
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from autograder.engine.environment import differences, grading_environment
from autograder.engine.pool import Job
from autograder.engine.protocol import folder_entries, write_entries
from autograder.engine.sandbox import Limits
from autograder.engine.worker import MAX_STAGED

#: How to get what this module needs.
INSTALL = "pip install 'dlcourse-toolkit[cluster]'"
#: Seconds to wait for a scheduler before giving up.
CONNECT_TIMEOUT = 5


class ClusterError(Exception):
    """The cluster cannot be used (not installed, not reachable); the message says what to do."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ClusterError("grading on a Dask cluster needs the distributed package: "
                           f"{INSTALL}") from None
    return distributed


@dataclass(frozen=True)
class Bundle:
    """What a worker on another machine needs to grade one submission."""

    job: Job
    sources: dict[str, bytes]
    release: tuple[list[list[Any]], list[bytes]] | None
    submission: tuple[list[list[Any]], list[bytes]]
    environment: dict[str, str]   # the client's grading environment, which the worker must have

    @classmethod
    def of(cls, job: Job) -> "Bundle":
        """Read ``job``'s files here, on the client."""
        sources = {p.name: p.read_bytes() for p in sorted(Path(job.source_dir).glob("*.ipynb"))}
        release = folder_entries([Path(job.release_dir)], MAX_STAGED) if job.release_dir else None
        return cls(job, sources, release, folder_entries([Path(job.submission_dir)], MAX_STAGED),
                   grading_environment())

    def unpack(self, folder: Path) -> Job:
        """Write the files under ``folder`` (on the worker) and return the job that grades them."""
        (folder / "source").mkdir(parents=True)
        for name, data in self.sources.items():
            (folder / "source" / Path(name).name).write_bytes(data)
        write_entries(str(folder / "submission"), *self.submission)
        (folder / "submission").mkdir(exist_ok=True)
        release = None
        if self.release is not None:
            write_entries(str(folder / "release"), *self.release)
            release = folder / "release"
        return Job(self.job.assignment, self.job.student, folder / "source",
                   folder / "submission", release, self.job.seed, self.job.forbidden,
                   self.job.fingerprint)


class DaskPool:
    """Grading on a Dask cluster: an existing scheduler's, or a LocalCluster of ``local`` worker
    processes started for the run."""

    def __init__(self, limits: Limits | None = None, scheduler: str | None = None,
                 local: int | None = None, security: Any = None) -> None:
        self.limits, self.scheduler = limits or Limits(), scheduler
        self.local, self.security = local, security
        self.client: Any = None
        self._cluster: Any = None

    def __enter__(self) -> "DaskPool":
        distributed = _distributed()
        _configure(distributed)
        if self.local is not None:
            self._cluster = distributed.LocalCluster(n_workers=self.local, threads_per_worker=1,
                                                     processes=True, dashboard_address=":0")
            address = self._cluster
        else:
            address = self.scheduler
        try:
            self.client = distributed.Client(address, timeout=CONNECT_TIMEOUT,
                                             security=self.security)
        except (OSError, TimeoutError, ValueError) as error:
            self.__exit__()
            raise ClusterError(f"cannot reach the Dask scheduler at {self.scheduler} within "
                               f"{CONNECT_TIMEOUT} s ({error}); is `dask scheduler` running there, "
                               "and the address right?") from None
        from autograder.engine.dask_worker import EnginePlugin

        if self.local is not None:
            self.client.wait_for_workers(self.local)
        self.check_workers()
        self.client.register_plugin(EnginePlugin(self.limits, uuid.uuid4().hex),
                                    name=EnginePlugin.name)
        self._executor = self.client.get_executor(pure=False)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            self.client.close()
        if self._cluster is not None:
            self._cluster.close()
        self.client = self._cluster = None

    def check_workers(self) -> None:
        """Refuse (ClusterError, the client closed) a cluster with workers whose grading
        environment is not this machine's: the same submission could get another grade there."""
        mine = grading_environment()
        found = self.client.run(grading_environment)
        off = {address: differences(theirs, mine) for address, theirs in found.items()}
        off = {address: phrases for address, phrases in off.items() if phrases}
        if off:
            self.__exit__()
            listed = "; ".join(f"{address}: {', '.join(phrases)}"
                               for address, phrases in sorted(off.items()))
            raise ClusterError(
                f"{len(off)} of {len(found)} Dask worker(s) would grade with another environment "
                f"than this machine's, so a submission could get another grade there ({listed}). "
                "Install the same versions on them, or grade without them")

    def submit(self, job: Job) -> Future:
        from autograder.engine.dask_worker import grade_bundle

        return self._executor.submit(grade_bundle, Bundle.of(job))

    def workers(self) -> int:
        """How many Dask workers the scheduler has now."""
        return len(self.client.scheduler_info()["workers"])

    def capacity(self) -> int:
        """How many jobs to have submitted at once: two per Dask worker, so none waits for work
        and the client holds few bundles in memory."""
        return max(2, 2 * self.workers())


#: Dask settings for the processes of a grading run: its own news only when it is a warning; no
#: statistical profiler sampling the grading thread every 10 ms; its event loops' bookkeeping
#: (ticks every 20 ms, system and memory monitors) seldom, so the cores go to grading.
DASK_SETTINGS = {
    "logging.distributed": "warning",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "500ms",
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.worker.memory.monitor-interval": "1s",
}


def _configure(distributed: Any) -> None:
    """``DASK_SETTINGS`` here and, through the environment, in the worker processes a LocalCluster
    starts (a remote cluster's workers keep their own configuration)."""
    import logging

    import dask

    dask.config.set(DASK_SETTINGS)
    for key, value in DASK_SETTINGS.items():
        os.environ.setdefault("DASK_" + key.replace(".", "__").replace("-", "_").upper(),
                              str(value))
    logging.getLogger(distributed.__name__).setLevel(logging.WARNING)


def security(ca_file: str | None, cert: str | None, key: str | None) -> Any:
    """Dask's TLS settings from certificate files, or from Dask's configuration when none is given
    (``distributed.comm.tls.*``)."""
    _distributed()
    from distributed.security import Security

    if not (ca_file or cert or key):
        return Security()
    missing = [name for name, value in (("--tls-ca-file", ca_file), ("--tls-cert", cert),
                                        ("--tls-key", key))
               if not value]
    if missing:
        raise ClusterError(f"TLS needs all three files: add {', '.join(missing)}")
    for path in (ca_file, cert, key):
        if not os.path.isfile(path):
            raise ClusterError(f"TLS file {path} does not exist")
    return Security(tls_ca_file=ca_file, tls_client_cert=cert, tls_client_key=key,
                    require_encryption=True)
