"""A submission's process allowance is its own: without bubblewrap the grader's user may run other
processes and threads (RLIMIT_NPROC counts them all), and the grade must not depend on them."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder.engine import sandbox

REPO = Path(__file__).resolve().parents[2]

#: Run as a user that RLIMIT_NPROC applies to: holds 70 threads of that user, then grades a
#: notebook whose cell starts a process, under an allowance of 16 (argv: the folder, and
#: "cgroup" to let the worker cap the tasks with a cgroup where it may, else RLIMIT_NPROC only).
GRADE_WHILE_BUSY = """
import json, sys, threading
from pathlib import Path
from autograder.engine import cgroups
from autograder.engine.pipeline import grade_submission
from autograder.engine.sandbox import Limits
from autograder.engine.worker import Worker
from tests.helpers import notebooks as nbs

if sys.argv[2] != "cgroup":
    cgroups.create = lambda *args, **kwargs: None
starts = "import subprocess\\nstarted = subprocess.run(['true']).returncode == 0\\n"
needs = "def add(a, b):\\n    return a + b if started else 0\\n"
course = nbs.course(Path(sys.argv[1]), {"busy": nbs.with_cell(nbs.with_extra(
    nbs.CORRECT, 3, starts), 4, needs)})
stop = threading.Event()
held = [threading.Thread(target=stop.wait) for _ in range(70)]
for thread in held:
    thread.start()
worker = Worker(Limits(nproc=16), mode="rlimits")
try:
    result = grade_submission(nbs.ASSIGNMENT, "busy", course / "source" / nbs.ASSIGNMENT,
                              course / "submitted" / "busy" / nbs.ASSIGNMENT, worker)
finally:
    stop.set()
    worker.close()
print(json.dumps({"points": {t.name: t.points for t in result.tests},
                  "flags": list(result.flags)}))
"""


def _status(uid: int, threads: int) -> str:
    return f"Name:\tx\nUid:\t{uid}\t0\t0\t0\nGid:\t0\t0\t0\t0\nThreads:\t{threads}\n"


def test_user_tasks_adds_up_the_threads_of_the_users_processes(tmp_path):
    for pid, uid, threads in ((1, 1000, 3), (2, 1001, 5), (30, 1000, 1)):
        (tmp_path / str(pid)).mkdir()
        (tmp_path / str(pid) / "status").write_text(_status(uid, threads))
    (tmp_path / "41").mkdir()  # ended between the listing and the read
    (tmp_path / "self").mkdir()
    assert sandbox.user_tasks(1000, proc=str(tmp_path)) == 4
    assert sandbox.user_tasks(1001, proc=str(tmp_path)) == 5


@pytest.mark.parametrize("capped, expected", [(False, "[80, 80]"), (True, "unchanged")])
def test_rlimit_nproc_is_what_the_user_runs_plus_the_allowance(capped, expected):
    """Where a pids cgroup caps the child's tasks, RLIMIT_NPROC is left as it was."""
    probe = ("import resource\nfrom autograder.engine import sandbox\n"
             "sandbox.user_tasks = lambda: 70\nbefore = resource.getrlimit(resource.RLIMIT_NPROC)\n"
             f"sandbox.apply_rlimits(sandbox.Limits(nproc=10, cpu_s=60), tasks_capped={capped})\n"
             "after = resource.getrlimit(resource.RLIMIT_NPROC)\n"
             "print('unchanged' if after == before else list(after))\n")
    soft, hard = resource.getrlimit(resource.RLIMIT_NPROC)
    if hard != resource.RLIM_INFINITY and hard < 80:
        pytest.skip(f"this user's hard process limit is {hard}")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          cwd=REPO, timeout=60)
    assert done.stdout.strip() == expected, done.stderr


def _as_limited_user() -> list[str]:
    """A command prefix under which RLIMIT_NPROC applies: as root, a real user of no one's
    (12345) with no capabilities (the effective user stays root, so the files stay readable)."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("root, and no setpriv to run as a user that RLIMIT_NPROC applies to")
    return ["setpriv", "--ruid=12345", "--bounding-set=-all", "--inh-caps=-all"]


@pytest.mark.parametrize("cgroup", ["cgroup", "rlimits"])
def test_threads_the_user_holds_elsewhere_do_not_spend_the_allowance(tmp_path, cgroup):
    """The audit's case: 70 threads of the grader's user elsewhere, an allowance of 16; the
    submission's subprocess still starts (with a pids cgroup where the worker may make one, and
    with RLIMIT_NPROC alone)."""
    env = {**sandbox.sandbox_env(), "PYTHONPATH": str(REPO), "HOME": str(tmp_path),
           "MPLCONFIGDIR": str(tmp_path / "mpl")}
    done = subprocess.run([*_as_limited_user(), sys.executable, "-c", GRADE_WHILE_BUSY,
                           str(tmp_path / "course"), cgroup],
                          capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found == {"points": {"test_relu": 2.0, "test_add": 3.0, "test_mean": 2.0},
                     "flags": []}, done.stderr[-3000:]
