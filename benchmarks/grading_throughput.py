"""Grading throughput: genuine `nbgrader autograde` against this project's engine, side by side.

Builds a throwaway nbgrader course holding one assignment (default: the vectorization assignment,
assignments/source/01_*) and N copies of it (default 40) with varied correctness (every solution
region kept or replaced by nbgrader's stub, in a pattern that differs per student), grades them
all with `nbgrader autograde` and with the engine (`--workers`, default 2), and prints each one's
submissions per second, their ratio, how many per-cell scores agree, and where an engine
submission spends its time (sandbox start, student cells, Numba compilation, each test cell,
reference timings: means over the submissions, and over the first submission of each worker).

    .venv/bin/python benchmarks/grading_throughput.py [--submissions 40] [--workers 2]
                                                      [--assignment PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SOLUTION = re.compile(r"([ \t]*)### BEGIN SOLUTION.*?### END SOLUTION[^\n]*", re.DOTALL)


def variant(source: Path, dest: Path, student: int) -> int:
    """Write a copy of ``source`` whose solution regions are stubbed in a per-student pattern;
    returns how many regions were stubbed."""
    nb = json.loads(source.read_text())
    stubbed = 0
    regions = 0
    for cell in nb["cells"]:
        text = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] != "code" or "### BEGIN SOLUTION" not in text:
            continue
        regions += 1
        if student % 4 == 0 or (student % 4 != 1 and (student + regions) % (student % 4 + 1) == 0):
            text = SOLUTION.sub(lambda m: f"{m.group(1)}raise NotImplementedError()", text)
            stubbed += 1
        else:
            text = re.sub(r"[ \t]*### (BEGIN|END) SOLUTION[^\n]*\n?", "", text)
        cell["source"] = text
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(nb, indent=1))
    return stubbed


def build(course: Path, assignment_dir: Path, n: int) -> str:
    name = assignment_dir.name
    shutil.copytree(assignment_dir, course / "source" / name)
    config = REPO / "assignments" / "nbgrader_config.py"
    shutil.copy(config, course / "nbgrader_config.py")
    notebook = next((course / "source" / name).glob("*.ipynb"))
    for i in range(n):
        variant(notebook, course / "submitted" / f"student{i:02d}" / name / notebook.name, i)
    return name


def nbgrader(course: Path, *args: str) -> float:
    env = {**os.environ,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"nbgrader {args[0]} failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


def nbgrader_scores(course: Path, name: str, students: list[str]) -> dict[str, dict[str, float]]:
    from nbgrader.api import Gradebook

    notebook = next((course / "source" / name).glob("*.ipynb")).stem
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {s: {g.name: g.score for g in gb.find_submission_notebook(notebook, name, s).grades
                    if g.cell.cell_type == "code"} for s in students}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--assignment", type=Path, default=None,
                        help="an assignment folder with a source notebook [default: "
                             "assignments/source/01_*]")
    args = parser.parse_args()
    assignment = args.assignment or next(iter(sorted((REPO / "assignments" / "source")
                                                     .glob("01_*"))), None)
    if assignment is None or not any(Path(assignment).glob("*.ipynb")):
        sys.exit("no assignment found: pass --assignment PATH (a folder with an nbgrader source "
                 "notebook)")
    from autograder.engine import sandbox
    from autograder.engine.pool import Job, grade_all

    with tempfile.TemporaryDirectory(prefix="grading-throughput-") as tmp:
        course = Path(tmp)
        name = build(course, Path(assignment), args.submissions)
        students = sorted(p.name for p in (course / "submitted").iterdir())
        print(f"{args.submissions} submissions of {name}; machine: {os.cpu_count()} cores",
              flush=True)
        nbgrader(course, "generate_assignment", name, "--force")

        elapsed_nb = nbgrader(course, "autograde", name, "--force")
        print(f"nbgrader autograde: {elapsed_nb:.1f} s, {len(students) / elapsed_nb:.3f} "
              "submissions/s", flush=True)

        ours: dict[str, dict[str, float]] = {}
        results = []
        jobs = [Job(name, s, course / "source" / name, course / "submitted" / s / name,
                    course / "release" / name)
                for s in students]

        def record(job, result):
            ours[job.student] = {t.name: t.points for t in result.tests}
            results.append(result)

        start = time.perf_counter()
        grade_all(jobs, args.workers, on_result=record)
        elapsed_ours = time.perf_counter() - start
        print(f"engine ({args.workers} workers, isolation {sandbox.isolation()}): "
              f"{elapsed_ours:.1f} s, {len(students) / elapsed_ours:.3f} submissions/s", flush=True)
        print(f"throughput ratio (engine / nbgrader): {elapsed_nb / elapsed_ours:.1f}x")

        theirs = nbgrader_scores(course, name, students)
        cells = [(s, c) for s in students for c in theirs[s]]
        differ = [(s, c, theirs[s][c], ours.get(s, {}).get(c)) for s, c in cells
                  if ours.get(s, {}).get(c) != theirs[s][c]]
        totals = sum(sum(theirs[s].values()) == sum(ours.get(s, {}).values()) for s in students)
        print(f"per-cell scores equal: {len(cells) - len(differ)}/{len(cells)}; totals equal: "
              f"{totals}/{len(students)}")
        for s, c, t, o in differ[:20]:
            print(f"  differs: {s} {c}: nbgrader {t}, engine {o}")
        breakdown(results, args.workers)


def breakdown(results: list, workers: int) -> None:
    """Where an engine submission's time went: each phase and each test cell, the mean over all
    submissions and over the first ``workers`` to finish (which start the zygotes and time the
    references)."""
    import statistics

    first = results[:workers]
    labels = {"start_s": "sandbox start", "cells_s": "student cells", "tests_s": "test cells",
              "compile_s": "  of which Numba compiles",
              "reference_s": "  of which reference timing"}
    print(f"where an engine submission spends its time (seconds; mean of all {len(results)} / "
          f"mean of the first {len(first)}); Numba compiles in cells and tests:")
    rows = [("total", [r.duration_s for r in results], [r.duration_s for r in first])]
    rows += [(label, [r.timings.get(phase, 0.0) for r in results],
              [r.timings.get(phase, 0.0) for r in first])
             for phase, label in labels.items()]
    tests = [t.name for t in results[0].tests] if results else []
    rows += [(f"  test {name}", [t.duration_s for r in results for t in r.tests if t.name == name],
              [t.duration_s for r in first for t in r.tests if t.name == name]) for name in tests]
    for label, values, firsts in rows:
        print(f"  {label:<28} {statistics.fmean(values):8.3f}  "
              f"{statistics.fmean(firsts) if firsts else 0:8.3f}")


if __name__ == "__main__":
    main()
