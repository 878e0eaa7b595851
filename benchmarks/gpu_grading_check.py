"""Assignment 05_gpu_kernels graded on a GPU by the grading engine (issue 14's device check): the
solution, the released stub and a submission whose tiled kernel races without cuda.syncthreads(),
each graded in the engine's sandbox, the solution twice; per-test verdicts against the expected
ones, the line of feedback that names the device the kernels ran on, and the tiled kernel's speed
test (graded only on a GPU).

Two steps, because the device machine has no nbgrader (nor nbformat); its engine needs IPython:

1. here, where the course's virtual environment is: genuine nbgrader releases the assignment and
   the three submissions are written as plain notebooks into a folder git ignores::

       .venv/bin/python benchmarks/gpu_grading_check.py prepare .gpu_course

2. on the device machine, the folder carried with the tree (carry [".whl", ".gpu_course"]; the
   wheels: ``bash ../shared/device/prepare-wheels.sh`` with the IPython wheels this script's
   ``wheels`` command prints)::

       python3 benchmarks/gpu_grading_check.py grade .gpu_course --json $OUT/gpu_grading.json

Exit code of ``grade``: 0 when every verdict is the expected one, 1 when one is not. Where the
kernels did not run on a GPU (the sandbox could not be given one: it needs a memory cgroup, as
CUDA cannot run under an address-space limit), the feedback says so and the run says why.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = "05_gpu_kernels"
NOTEBOOK = f"{ASSIGNMENT}.ipynb"
#: Each submission's expected points per test cell.
FULL = {"test_blocks_for": 1, "test_relu_kernel": 2, "test_add_broadcast": 2,
        "test_matmul_naive": 2, "test_matmul_tiled": 3}
EXPECTED = {"solution": FULL, "stub": dict.fromkeys(FULL, 0),
            "racing": dict(FULL, test_matmul_tiled=0)}
#: What the engine needs on the device machine beyond its image: IPython and what it requires
#: (the versions of this virtual environment, by the ``wheels`` step).
WHEELS = ("ipython", "ipython-pygments-lexers", "traitlets", "jedi", "parso", "matplotlib-inline",
          "prompt-toolkit", "wcwidth", "pexpect", "ptyprocess", "stack-data", "executing",
          "asttokens", "pure-eval")


def prepare(folder: Path) -> None:
    """The assignment's source, nbgrader's release of it, and the three submissions under
    ``folder`` (submitted/<name>/05_gpu_kernels/05_gpu_kernels.ipynb)."""
    import nbformat

    sys.path.insert(0, str(ROOT))
    from tests.assignments.test_nbgrader import racing_submission

    shutil.rmtree(folder, ignore_errors=True)
    course = folder / "course"
    (course / "source").mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / "nbgrader_config.py", course)
    shutil.copytree(ROOT / "assignments" / "source" / ASSIGNMENT, course / "source" / ASSIGNMENT)
    done = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT,
                           "--force", "--no-db"], cwd=course, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"nbgrader generate_assignment failed:\n{done.stdout}{done.stderr}")
    source = nbformat.read(course / "source" / ASSIGNMENT / NOTEBOOK, as_version=4)
    release = nbformat.read(course / "release" / ASSIGNMENT / NOTEBOOK, as_version=4)
    for name, nb in (("solution", source), ("stub", release),
                     ("racing", racing_submission(source, release))):
        target = folder / "submitted" / name / ASSIGNMENT
        target.mkdir(parents=True)
        nbformat.write(nb, target / NOTEBOOK)
    print(f"prepared {folder}: {', '.join(EXPECTED)}")


def grade(folder: Path, json_path: Path | None) -> int:
    """Grade the prepared submissions in the engine's sandbox; print and check the verdicts."""
    sys.path.insert(0, str(ROOT))
    from autograder.engine import sandbox
    from autograder.engine.pipeline import grade_submission
    from autograder.engine.worker import Worker

    worker = Worker()
    report = {"sandbox": {"mode": worker.mode, "cgroup": worker.cgroup is not None,
                          "gpu_devices": worker.gpus, "limits": sandbox.describe(
                              worker.limits, worker.mode, gpus=len(worker.gpus))},
              "runs": []}
    print(f"sandbox: {worker.mode}, memory cgroup: {worker.cgroup is not None}, GPU device "
          f"nodes opened to it: {worker.gpus or 'none'}", flush=True)
    failures = 0
    try:
        for name in ("solution", "stub", "racing", "solution"):
            started = time.perf_counter()
            result = grade_submission(ASSIGNMENT, name, folder / "course" / "source" / ASSIGNMENT,
                                      folder / "submitted" / name / ASSIGNMENT, worker)
            wall = time.perf_counter() - started
            points = {t.name: t.points for t in result.tests}
            right = points == EXPECTED[name]
            failures += not right
            first = next((t.output for t in result.tests if t.name == "test_blocks_for"), "")
            tiled = next((t for t in result.tests if t.name == "test_matmul_tiled"), None)
            print(f"\n{name}: {result.score:g}/{result.max_score:g} in {wall:.1f} s "
                  f"({'as expected' if right else f'EXPECTED {EXPECTED[name]}'})"
                  f"{', flags: ' + ', '.join(result.flags) if result.flags else ''}")
            print(f"  device line: {first.splitlines()[0] if first else '(none)'}")
            for t in result.tests:
                print(f"  {t.name}: {t.points:g}/{t.max_points:g} {t.duration_s:.2f} s"
                      + (f"  {t.message.splitlines()[0][:150]}" if t.message else ""))
            if tiled is not None:
                print(f"  tiled test output: {tiled.output.strip()[:400]}")
            report["runs"].append({"submission": name, "wall_s": round(wall, 2),
                                   "expected": right, "result": result.to_dict()})
    finally:
        worker.close()
    solutions = [r["result"] for r in report["runs"] if r["submission"] == "solution"]
    same = [(t["name"], t["points"], t["passed"]) for t in solutions[0]["tests"]] == \
        [(t["name"], t["points"], t["passed"]) for t in solutions[1]["tests"]]
    failures += not same
    print(f"\nthe solution's two gradings: {'the same verdicts' if same else 'DIFFERENT verdicts'}")
    if json_path:
        json_path.write_text(json.dumps(report, indent=1, default=str))
    return 1 if failures else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    steps = parser.add_subparsers(dest="step", required=True)
    steps.add_parser("prepare").add_argument("folder", type=Path)
    run = steps.add_parser("grade")
    run.add_argument("folder", type=Path)
    run.add_argument("--json", type=Path)
    steps.add_parser("wheels")
    args = parser.parse_args()
    if args.step == "prepare":
        prepare(args.folder)
    elif args.step == "grade":
        sys.exit(grade(args.folder, args.json))
    else:
        from importlib.metadata import version
        print(" ".join(f"{name}=={version(name)}" for name in WHEELS))


if __name__ == "__main__":
    main()
