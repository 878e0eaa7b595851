"""Grading on a Dask cluster: the same per-test results as the local pool, a worker killed
mid-submission, a client killed and resumed, an unreachable scheduler, TLS.

Harmless if anything survives: the submissions' extra cells only sleep a few seconds.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.engine.pool import Job, LocalPool, grade_all
from autograder.gradebook import FILENAME, Gradebook
from tests.helpers import notebooks as nbs

distributed = pytest.importorskip("distributed")
from autograder.engine.cluster import DaskPool  # noqa: E402  (needs distributed)

pytestmark = pytest.mark.slow
NAP = "import time\ntime.sleep(3)\n"


def jobs_of(course: Path, students) -> list[Job]:
    return [Job(nbs.ASSIGNMENT, s, course / "source" / nbs.ASSIGNMENT,
                course / "submitted" / s / nbs.ASSIGNMENT)
            for s in students]


def verdicts(result) -> tuple:
    return tuple((t.name, t.points, t.passed, t.message) for t in result.tests)


def grade(jobs, pool) -> dict:
    found: dict[str, list] = {}
    grade_all(jobs, on_result=lambda job, result: found.setdefault(job.student, []).append(result),
              pool=pool)
    return found


def test_the_same_per_test_results_as_the_local_pool(tmp_path):
    course = nbs.course(tmp_path, {"amy": nbs.CORRECT, "bob": nbs.PARTLY, "cat": nbs.STUB})
    jobs = jobs_of(course, ["amy", "bob", "cat"])
    with LocalPool(2) as pool:
        local = grade(jobs, pool)
    with DaskPool(local=2) as pool:
        assert pool.workers() == 2
        remote = grade(jobs, pool)
    assert {s: [verdicts(r) for r in rs] for s, rs in remote.items()} == \
        {s: [verdicts(r) for r in rs] for s, rs in local.items()}
    assert {s: rs[0].score for s, rs in remote.items()} == {"amy": 7.0, "bob": 3.0, "cat": 0.0}
    amy = remote["amy"][0]
    assert amy.host == socket.gethostname() and amy.limits["isolation"] in ("bubblewrap", "rlimits")


def test_workers_of_another_environment_grade_nothing(tmp_path):
    """Workers whose NumPy (say) is not the client's: every job comes back a grader error, never a
    grade, and the cluster check refuses them by name."""
    from autograder.engine.cluster import ClusterError
    from autograder.engine.environment import grading_environment

    course = nbs.course(tmp_path, {"amy": nbs.CORRECT})
    here = grading_environment()["numpy"]
    with DaskPool(local=2) as pool:
        pool.client.run(lambda: grading_environment().update(numpy="1.26.4"))
        found = grade(jobs_of(course, ["amy"]), pool)
        assert [r.status for r in found["amy"]] == ["error"], found
        assert f"numpy 1.26.4 there, {here} here" in found["amy"][0].error
        with pytest.raises(ClusterError, match=f"2 of 2 Dask worker.*numpy 1.26.4 there, "
                                               f"{here} here"):
            pool.check_workers()


def test_a_worker_killed_mid_submission_is_graded_again_and_recorded_once(tmp_path):
    students = [f"s{i}" for i in range(4)]
    course = nbs.course(tmp_path, {s: nbs.with_extra(nbs.CORRECT, 1, NAP) for s in students})
    with DaskPool(local=2) as pool:
        killed = []

        def kill_a_busy_worker() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and not killed:
                busy = [address for address, keys in pool.client.processing().items() if keys]
                if busy:
                    pid = pool.client.run(os.getpid, workers=busy[:1])[busy[0]]
                    time.sleep(1)  # inside the submission's nap
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                time.sleep(0.1)

        killer = threading.Thread(target=kill_a_busy_worker)
        killer.start()
        found = grade(jobs_of(course, students), pool)
        killer.join()
    assert killed, "no worker was busy to kill"
    assert sorted(found) == students and all(len(results) == 1 for results in found.values())
    assert all(results[0].score == 7.0 and results[0].status == "graded"
               for results in found.values()), found


def descendants(pid: int) -> set[int]:
    from autograder.engine.procfs import children

    found, stack = set(), [pid]
    while stack:
        for child in children(stack.pop()):
            found.add(child)
            stack.append(child)
    return found


def test_a_killed_client_resumes_and_leaves_no_process_behind(tmp_path):
    students = [f"s{i}" for i in range(4)]
    course = nbs.course(tmp_path, {s: nbs.with_extra(nbs.CORRECT, 1, NAP) for s in students})
    command = [sys.executable, "-m", "autograder.cli", "grade", nbs.ASSIGNMENT,
               "--course", str(course), "--cluster", "local:2"]
    client = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tree: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            tree |= descendants(client.pid)
            if (course / FILENAME).exists():
                with Gradebook(course / FILENAME) as book:
                    if book.results(nbs.ASSIGNMENT):
                        break
            time.sleep(0.2)
    finally:
        os.kill(client.pid, signal.SIGKILL)
        client.wait()
    with Gradebook(course / FILENAME) as book:
        first = {r.student for r in book.results(nbs.ASSIGNMENT)}
    assert 0 < len(first) < len(students)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in tree):
        time.sleep(0.2)
    assert not [pid for pid in tree if Path(f"/proc/{pid}").exists()], \
        "processes outlived the killed client"
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert f"{len(first)} already graded; {len(students) - len(first)} to grade" in again.stderr
    with Gradebook(course / FILENAME) as book:
        assert sorted(r.student for r in book.results(nbs.ASSIGNMENT)) == students
        assert book.history(nbs.ASSIGNMENT) == []  # none graded twice


def test_an_unreachable_scheduler_is_a_quick_clear_error_and_writes_nothing(tmp_path):
    course = nbs.course(tmp_path, {"amy": nbs.CORRECT})
    started = time.monotonic()
    result = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course),
                                       "--scheduler", "tcp://127.0.0.1:9"])
    assert time.monotonic() - started < 20
    assert (result.exit_code == 1
            and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in result.output)
    assert "not encrypted" in result.output and "Traceback" not in result.output
    assert not (course / FILENAME).exists()


def test_without_distributed_the_error_says_how_to_install_it(tmp_path):
    course = nbs.course(tmp_path, {"amy": nbs.CORRECT})
    code = ("import sys; sys.modules['distributed'] = None\nfrom autograder.cli import main\n"
            f"main(['grade', {nbs.ASSIGNMENT!r}, '--course', {str(course)!r}, '--scheduler', "
            "'tcp://127.0.0.1:9'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "pip install 'dlcourse-toolkit[cluster]'" in done.stderr
    # the encryption note, then the one-line error
    assert len(done.stderr.strip().splitlines()) <= 2


@pytest.mark.skipif(not Path("/usr/bin/openssl").exists(),
                    reason="openssl makes the test's certificates")
def test_grading_over_tls(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    files = {f"tls_{role}_{kind}": str(path) for role in ("scheduler", "worker", "client")
             for kind, path in (("cert", cert), ("key", key))}
    security = distributed.security.Security(tls_ca_file=str(cert),
                                             require_encryption=True, **files)
    course = nbs.course(tmp_path / "course", {"amy": nbs.CORRECT})
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  protocol="tls://", security=security,
                                  dashboard_address=":0") as cluster:
        address = cluster.scheduler_address
        assert address.startswith("tls://")
        result = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course),
                                           "--scheduler", address,
                                           "--tls-ca-file", str(cert), "--tls-cert", str(cert),
                                           "--tls-key", str(key)])
        plain = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course),
                                          "--force", "--scheduler",
                                          address.replace("tls://", "tcp://")])
    assert result.exit_code == 0, result.output
    assert ("amy" in result.output and "7/7" in result.output
            and "not encrypted" not in result.output)
    assert plain.exit_code == 1 and "cannot reach the Dask scheduler" in plain.output
    half = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course),
                                     "--scheduler", address, "--tls-cert", str(cert)])
    assert (half.exit_code == 1
            and "TLS needs all three files: add --tls-ca-file, --tls-key" in half.output)
