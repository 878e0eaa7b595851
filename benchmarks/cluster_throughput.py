"""Grading on Dask against the local pool, side by side: the same submissions graded by the local
pool (`--workers`, default 2), a LocalCluster of 1 worker process and a LocalCluster of 2, in one
run, each `--rounds` times in alternating order (the best counts); then what a job costs on a
cluster (bytes shipped, the scheduler's overhead per task), for the scaling to N machines.

    .venv/bin/python benchmarks/cluster_throughput.py [--submissions 80] [--workers 2] [--rounds 2]
"""

from __future__ import annotations

import argparse
import os
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from grading_throughput import REPO, build, nbgrader


def timed_run(jobs: list, pool) -> tuple[float, dict]:
    from autograder.engine.pool import grade_all

    scores: dict = {}
    with pool:
        started = time.perf_counter()  # the pool is up: its start is not counted
        grade_all(jobs, on_result=lambda job, r: scores.__setitem__(
            job.student, {t.name: t.points for t in r.tests}), pool=pool)
        return time.perf_counter() - started, scores


def overhead_per_task(tasks: int = 200) -> float:
    """Seconds the scheduler adds to a task that does nothing (a LocalCluster of 1 worker)."""
    import distributed

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  dashboard_address=":0") as cluster, \
            distributed.Client(cluster) as client:
        client.submit(int, 0, pure=False).result()
        started = time.perf_counter()
        client.gather([client.submit(int, i, pure=False) for i in range(tasks)])
        return (time.perf_counter() - started) / tasks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=80)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2,
                        help="each pool graded this many times, in alternating order")
    args = parser.parse_args()
    from autograder.engine.cluster import Bundle, DaskPool
    from autograder.engine.pool import Job, LocalPool

    assignment = next(iter(sorted((REPO / "assignments" / "source").glob("01_*"))))
    with tempfile.TemporaryDirectory(prefix="cluster-throughput-") as tmp:
        course = Path(tmp)
        name = build(course, assignment, args.submissions)
        nbgrader(course, "generate_assignment", name, "--force")
        jobs = [Job(name, s, course / "source" / name, course / "submitted" / s / name,
                    course / "release" / name)
                for s in sorted(p.name for p in (course / "submitted").iterdir())]
        print(f"{len(jobs)} submissions of {name}; machine: {os.cpu_count()} cores; times exclude "
              "each pool's start",
              flush=True)
        pools = {f"local pool ({args.workers} workers)": lambda: LocalPool(args.workers),
                 "LocalCluster(1)": lambda: DaskPool(local=1),
                 "LocalCluster(2)": lambda: DaskPool(local=2)}
        order = list(pools)
        runs: dict[str, list] = {label: [] for label in pools}
        # A B C, then C B A: a drift in the machine's speed evens out
        for round_ in range(args.rounds):
            for label in order if round_ % 2 == 0 else order[::-1]:
                seconds, scores = timed_run(jobs, pools[label]())
                runs[label].append((seconds, scores))
                print(f"{label:<24} {seconds:7.1f} s  {len(jobs) / seconds:.2f} submissions/s",
                      flush=True)
        local, one, two = (min(s for s, _ in runs[label]) for label in order)
        print(f"best of {args.rounds}: "
              + ", ".join(f"{label} {min(s for s, _ in runs[label]):.1f} s" for label in order))
        first = runs[order[0]][0][1]
        same = all(scores == first for label in order for _, scores in runs[label])
        print(f"LocalCluster(2) / LocalCluster(1) speed-up: {one / two:.2f}x; LocalCluster(2) "
              f"against the local pool: {two / local:.2f}x its time; per-test scores identical in "
              f"all three: {same}")
        sizes = [len(pickle.dumps(Bundle.of(job))) for job in jobs]
        print(f"bytes shipped per job: median {statistics.median(sizes) / 1024:.0f} KiB (max "
              f"{max(sizes) / 1024:.0f} KiB); scheduler overhead per task: "
              f"{overhead_per_task() * 1e3:.2f} ms; per submission on one worker: "
              f"{one / len(jobs):.2f} s")


if __name__ == "__main__":
    main()
