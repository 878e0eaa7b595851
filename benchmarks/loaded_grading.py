"""The same verdicts alone and under load: each assignment's sample submissions graded once on a
quiet machine, then again beside CPU spinners and a memory sweeper, compared test by test.

For each assignment this builds a course as `make demo` does (generate, the four sample
submissions of `autograder.samples`, collect), runs `autograder grade --force` alone, then
``--rounds`` more times while ``--spinners`` processes burn CPU and one more sweeps
``--sweep-mb`` MB of memory (evicting the caches). It reads every per-test verdict (name, points,
passed, max points) and each submission's status and flags from the gradebook, prints a line per
submission, and exits 1 if any loaded round differs from the quiet one. Speed tests are the
verdicts load threatens most; the spinners outnumber the cores so the grader shares every one.

    .venv/bin/python benchmarks/loaded_grading.py [--assignment NAME ...] [--rounds 3]
                                                  [--spinners 4] [--sweep-mb 600]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.gradebook import Gradebook

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
SPIN = "while True: pass"
SWEEP = """import sys
block = bytearray(int(sys.argv[1]) * 2**20)
while True:
    for i in range(0, len(block), 4096):
        block[i] = (block[i] + 1) & 255
"""


def build(root: Path, assignment: str) -> Path:
    """A course holding ``assignment`` released with its sample submissions collected."""
    course = root / assignment
    (course / "source").mkdir(parents=True)
    shutil.copy(REPO / "assignments" / "nbgrader_config.py", course)
    shutil.copytree(REPO / "assignments" / "source" / assignment, course / "source" / assignment)
    run(BIN / "autograder", "generate", assignment, "--course", course)
    times = root / f"{assignment}_submissions.json"
    run(sys.executable, "-m", "autograder.samples", assignment, "--course", course,
        "--zip", root / f"{assignment}.zip", "--roster", course / "roster.csv", "--times", times)
    run(BIN / "autograder", "collect", root / f"{assignment}.zip", "--times", times,
        "--course", course)
    return course


def run(*args) -> None:
    done = subprocess.run([str(a) for a in args], capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(map(str, args))} failed:\n{done.stdout}{done.stderr}")


def grade(course: Path, assignment: str) -> tuple[float, dict]:
    """Grade every submission again; the seconds it took and each student's verdicts."""
    start = time.perf_counter()
    run(BIN / "autograder", "grade", assignment, "--course", course, "--force")
    seconds = time.perf_counter() - start
    with Gradebook.for_course(course) as book:
        return seconds, {r.student: verdicts(r) for r in book.results(assignment)}


def verdicts(result) -> tuple:
    """What must not change between gradings: status, flags and each test's outcome."""
    tests = tuple((t.name, t.points, t.passed, t.max_points) for t in result.tests)
    return result.status, tuple(sorted(result.flags)), tests


@contextlib.contextmanager
def load(spinners: int, sweep_mb: int):
    """CPU spinners and a memory sweeper running for the length of the block."""
    procs = [subprocess.Popen([sys.executable, "-c", SPIN]) for _ in range(spinners)]
    if sweep_mb:
        procs.append(subprocess.Popen([sys.executable, "-c", SWEEP, str(sweep_mb)]))
    try:
        yield
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()


def score(entry: tuple) -> str:
    status, flags, tests = entry
    got = sum(t[1] for t in tests)
    total = sum(t[3] for t in tests)
    return f"{got:g}/{total:g}" + (" flagged" if flags else "") + ("" if status == "graded"
                                                                  else f" {status}")


def difference(alone: tuple, loaded: tuple | None) -> str:
    """How a loaded grading differs from the quiet one, in words ("" where it does not)."""
    if loaded is None:
        return "not graded"
    parts = [f"{what} {a} -> {b}" for what, a, b in (("status", alone[0], loaded[0]),
                                                      ("flags", alone[1], loaded[1])) if a != b]
    before = {t[0]: t[1:] for t in alone[2]}
    after = {t[0]: t[1:] for t in loaded[2]}
    parts += [f"{name} {before.get(name, '-')} -> {after.get(name, '-')}"
              for name in sorted(set(before) | set(after)) if before.get(name) != after.get(name)]
    return "; ".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--assignment", action="append", dest="assignments",
                        help="an assignment of assignments/source (default: all of them)")
    parser.add_argument("--rounds", type=int, default=3, help="loaded gradings per assignment")
    parser.add_argument("--spinners", type=int, default=2 * (os.cpu_count() or 1),
                        help="processes that burn CPU (default: twice the cores)")
    parser.add_argument("--sweep-mb", type=int, default=600, help="memory the sweeper touches")
    args = parser.parse_args(argv)
    assignments = args.assignments or sorted(p.name for p in (REPO / "assignments" / "source")
                                             .iterdir() if p.is_dir())
    print(f"{os.cpu_count()} cores; load: {args.spinners} spinners and a {args.sweep_mb} MB "
          f"sweeper; {args.rounds} loaded rounds per assignment\n")
    differ = 0
    with tempfile.TemporaryDirectory(prefix="loaded-grading-") as tmp:
        for assignment in assignments:
            course = build(Path(tmp), assignment)
            alone_s, alone = grade(course, assignment)
            times, changes = [], {student: [] for student in alone}
            with load(args.spinners, args.sweep_mb):
                for _ in range(args.rounds):
                    seconds, loaded = grade(course, assignment)
                    times.append(seconds)
                    for student, entry in alone.items():
                        if change := difference(entry, loaded.get(student)):
                            changes[student].append(change)
                load_avg = os.getloadavg()[0]
            print(f"{assignment}: alone {alone_s:.1f} s, loaded "
                  f"{', '.join(f'{t:.1f}' for t in times)} s (load average {load_avg:.1f})")
            for student, entry in sorted(alone.items()):
                same = args.rounds - len(changes[student])
                print(f"  {student:<16} {score(entry):<14} identical in "
                      f"{same}/{args.rounds} loaded rounds")
                for change in changes[student]:
                    print(f"    differs: {change}")
                differ += len(changes[student])
    print("\nall loaded verdicts identical to the quiet ones" if not differ
          else f"\n{differ} loaded gradings differ from the quiet ones")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
