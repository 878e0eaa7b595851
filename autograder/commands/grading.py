"""`autograder grade` (an assignment of an nbgrader course, in parallel, into the gradebook) and
`autograder validate` (a student's own notebook against its visible tests)."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
from pathlib import Path

import click

from autograder.commands import options
from autograder.commands.options import COURSE_OPTION
from autograder.course import find_course
from autograder.engine.notebook import NotebookError

#: The grader's packages whose code decides a verdict: the engine and the checks test cells call.
_ENGINE_PACKAGES = ("engine", "asserts")


def _fingerprint(folders: list[Path], seed: int, limits) -> str:
    """What a grade depends on, so that a change to any of it grades again: the files of
    ``folders`` (the source notebooks, the released files, the submission), the seed, the limits
    (the course's autograder.toml and nbgrader timeout, as in effect) and the engine's code."""
    settings = {"seed": seed, "limits": limits.to_dict(), "engine": _engine_digest()}
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for folder in folders:
        digest.update(b"\0folder\0")
        if folder.is_dir():
            _hash_files(digest, folder)
    return digest.hexdigest()


def submission_fingerprint(course: Path, assignment: str, student: str, seed: int,
                           limits) -> str:
    """The fingerprint of ``student``'s submission of ``assignment`` graded with ``seed`` under
    ``limits``: what `autograder grade` records with its result and compares to skip it, and what
    `status` and `export` compare to tell a grade the submission (or anything else it depends on)
    has changed since."""
    return _fingerprint([course / "source" / assignment, course / "release" / assignment,
                         course / "submitted" / student / assignment], seed, limits)


def _hash_files(digest, folder: Path, pattern: str = "*") -> None:
    """Add each file under ``folder`` that matches ``pattern`` (its relative path and contents)
    to ``digest``."""
    for path in sorted(folder.rglob(pattern)):
        if path.is_file() and not path.is_symlink() and ".ipynb_checkpoints" not in path.parts:
            digest.update(str(path.relative_to(folder)).encode() + b"\0")
            digest.update(hashlib.sha256(path.read_bytes()).digest())


@functools.lru_cache(maxsize=1)
def _engine_digest() -> str:
    """The autograder's version and a hash of its engine's sources (``_ENGINE_PACKAGES``)."""
    import autograder

    digest = hashlib.sha256(autograder.__version__.encode())
    for package in _ENGINE_PACKAGES:
        _hash_files(digest, Path(autograder.__file__).parent / package, "*.py")
    return digest.hexdigest()


def find_jobs(course: Path, assignment: str, student: str | None, seed: int, limits) -> list:
    """The submissions of ``assignment`` in an nbgrader course directory, as pool jobs graded
    under ``limits``."""
    from autograder.deadlines import read_timestamp
    from autograder.engine.pool import Job
    from autograder.gradebook import FILENAME
    from autograder.settings import exchange_timezone

    source_dir = course / "source" / assignment
    if not any(source_dir.glob("*.ipynb")):
        known = (sorted(p.name for p in (course / "source").iterdir() if p.is_dir())
                 if (course / "source").is_dir() else [])
        raise click.ClickException(
            f"no source notebooks in {source_dir}; assignments in this course: "
            f"{', '.join(known) or 'none'} (pass the course directory with --course)")
    release = course / "release" / assignment
    submitted = course / "submitted"
    students = sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())
    if student is not None:
        if student not in students:
            raise click.ClickException(f"{student} has no submission of {assignment} in "
                                       f"{submitted}")
        students = [student]
    forbidden = (str(course.resolve()), str(source_dir.resolve()), FILENAME, "gradebook.db")
    zone = exchange_timezone(course)
    jobs = []
    for s in students:
        stamp = submitted / s / assignment / "timestamp.txt"
        try:
            when = read_timestamp(stamp, zone).isoformat() if stamp.is_file() else ""
        except ValueError as error:
            raise click.ClickException(f"{error}; nothing was graded") from None
        jobs.append(Job(assignment, s, source_dir, submitted / s / assignment,
                        release if release.is_dir() else None, seed, forbidden,
                        submission_fingerprint(course, assignment, s, seed, limits), when))
    return jobs


@click.command()
@click.argument("assignment")
@COURSE_OPTION
@click.option("--student", default=None, help="Grade only this student's submission.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Submissions graded in parallel here [default: the number of CPU cores, or "
                   "fewer where the available memory holds fewer at the memory cap].")
@click.option("--force", is_flag=True, help="Re-grade submissions already graded unchanged.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of random and NumPy's global RNG.")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="Grade on the Dask cluster of this scheduler (tcp://HOST:8786, or "
                   "tls://HOST:8786 with the --tls-* files).")
@click.option("--cluster", metavar="local:N", default=None,
              help="Grade on a Dask LocalCluster of N worker processes started for this run.")
@click.option("--tls-ca-file", type=click.Path(dir_okay=False), default=None,
              help="TLS: the CA certificate.")
@click.option("--tls-cert", type=click.Path(dir_okay=False), default=None,
              help="TLS: this client's certificate.")
@click.option("--tls-key", type=click.Path(dir_okay=False), default=None,
              help="TLS: this client's private key.")
def grade(assignment: str, course_path: str | None, student: str | None, workers: int | None,
          force: bool, seed: int, scheduler: str | None, cluster: str | None,
          tls_ca_file: str | None, tls_cert: str | None, tls_key: str | None) -> None:
    """Grade every submission of ASSIGNMENT (student code sandboxed, tests from the source
    notebooks) into the course's gradebook. Unchanged submissions already graded are skipped, so
    a run that was stopped picks up where it was."""
    from autograder.deadlines import load_deadlines, with_late_penalty
    from autograder.engine.pool import RETRIES, grade_all
    from autograder.gradebook import Gradebook, GradebookError, course_id
    from autograder.settings import load_limits

    course = options.course(course_path)
    try:
        limits = load_limits(course)
        deadlines = load_deadlines(course)   # to show each late score as the exports will
    except ValueError as error:
        options.fail(error)
    jobs = find_jobs(course, assignment, student, seed, limits)
    with _pool(limits, workers, len(jobs), scheduler, cluster,
               (tls_ca_file, tls_cert, tls_key)) as (pool, where):
        try:  # opened only once the pool is up: an unreachable scheduler leaves nothing written
            book = Gradebook.for_course(course)
        except ValueError as error:
            options.fail(error)
        done = {} if force else book.fingerprints(assignment)
        todo = [j for j in jobs if done.get(j.student) != j.fingerprint]
        click.echo(f"{course_id(course)}: {assignment}, {len(jobs)} submissions, "
                   f"{len(jobs) - len(todo)} already graded; {len(todo)} to grade {where}",
                   err=True)
        results, previous = [], {}
        with click.progressbar(length=len(todo), label="grading", file=sys.stderr) as bar:
            def record(job, result):
                if result.status != "error":  # the grader's failure is no grade: not stored
                    replaced = book.record(result, job.fingerprint)
                    if replaced is not None:
                        previous[result.student] = replaced
                results.append(result)
                bar.update(1)

            try:
                grade_all(todo, on_result=record, pool=pool)
            except GradebookError as error:
                kept = sum(r.status != "error" for r in results)
                raise click.ClickException(
                    f"{error}. This run recorded {kept} of {len(todo)} result(s) before it "
                    f"stopped; `autograder grade {assignment}` grades the rest") from None
    for result in sorted(results, key=lambda r: r.student):
        if result.status == "error":
            click.echo(f"{result.student:<20} not graded  ({result.error})")
            continue
        flags = f"  flags: {', '.join(result.flags)}" if result.flags else ""
        error = f"  ({result.error})" if result.error else ""
        late = with_late_penalty(result, deadlines)
        penalty = (f" ({late.score:g} after the late penalty)" if late.late_penalty else "")
        click.echo(f"{result.student:<20} {result.score:g}/{result.max_score:g}{penalty}  "
                   f"{result.status}{flags}{error}")
    _report_changes(results, previous)
    book.close()
    errors = sorted(r.student for r in results if r.status == "error")
    if errors:
        raise click.ClickException(
            f"{len(errors)} submission(s) not graded, as the grader failed on them "
            f"{1 + RETRIES} times ({', '.join(errors)}); nothing was recorded for them. Run "
            f"`autograder grade {assignment}` again to grade just those")


#: Memory a local worker takes besides its submission's cap: its grader process and its zygote.
WORKER_OVERHEAD_MB = 384


def memory_fits(limits) -> int | None:
    """How many local workers the memory available here holds, each at its submission's memory
    cap and ``WORKER_OVERHEAD_MB`` (at least 1), or None where that is unknown."""
    from autograder.engine import cgroups, procfs

    known = [b for b in (procfs.available_memory(), cgroups.own_memory_headroom()) if b is not None]
    if not known:
        return None
    return max(1, min(known) // ((limits.memory_mb + WORKER_OVERHEAD_MB) * 2**20))


@contextlib.contextmanager
def _pool(limits, workers: int | None, jobs: int, scheduler: str | None, cluster: str | None,
          tls: tuple[str | None, ...]):
    """The pool that grades (local processes, or a Dask cluster), entered, and where it grades."""
    from autograder.engine import sandbox
    from autograder.engine.pool import LocalPool

    if scheduler and cluster:
        raise click.UsageError("give --scheduler or --cluster, not both")
    if not (scheduler or cluster):
        if any(tls):
            raise click.UsageError("the --tls-* files are for --scheduler")
        fits = memory_fits(limits)
        if workers is not None and fits is not None and workers > fits:
            click.echo(f"note: {workers} workers at a memory cap of {limits.memory_mb} MB each "
                       f"need more memory than this machine has available (enough for {fits}): "
                       "a submission within its cap may be killed for the machine's shortage and "
                       "graded again, or not graded; fewer --workers avoids it", err=True)
        workers = min(workers or min(os.cpu_count() or 1, fits or jobs), max(1, jobs))
        mode = sandbox.isolation()
        with LocalPool(workers, limits, mode) as pool:
            yield pool, f"on {workers} workers (isolation: {mode})"
        return
    from autograder.engine.cluster import ClusterError, DaskPool, security

    try:
        if cluster:
            kind, _, count = cluster.partition(":")
            if kind != "local" or not count.isdigit() or int(count) < 1:
                raise click.BadParameter(f"{cluster!r}: use local:N, N worker processes",
                                         param_hint="--cluster")
            pool = DaskPool(limits, local=int(count))
        else:
            if "://" not in scheduler or scheduler.startswith("tcp://"):
                click.echo(f"note: the connection to {scheduler} is not encrypted: student code "
                           "and grades cross the network in the clear (use tls:// and "
                           "--tls-ca-file/--tls-cert/--tls-key)", err=True)
            pool = DaskPool(limits, scheduler=scheduler, security=security(*tls))
        with pool:
            yield pool, f"on {pool.workers()} Dask workers ({cluster or scheduler})"
    except ClusterError as error:
        options.fail(error)


def _report_changes(results: list, previous: dict) -> None:
    """After a re-grade: the students whose score changed, per test old -> new."""
    from autograder.results import describe_changes

    if not previous:
        return
    changed = [(r, previous[r.student]) for r in sorted(results, key=lambda r: r.student)
               if r.student in previous and describe_changes(previous[r.student], r)]
    click.echo(f"re-graded {len(previous)} submission(s) graded before: "
               f"{len(changed) or 'no'} score(s) changed" + (":" if changed else ""))
    for new, old in changed:
        click.echo(f"  {new.student:<20} {old.score:g} -> {new.score:g}/{new.max_score:g}  "
                   f"({describe_changes(old, new)})")


@click.command()
@click.argument("notebook", type=click.Path(dir_okay=False, path_type=Path))
@COURSE_OPTION
def validate(notebook: Path, course_path: str | None) -> None:
    """Check NOTEBOOK against its own visible tests, with the grader's engine, before you submit
    (with the course's limits where a course directory is given or found)."""
    from autograder.engine.pipeline import validate_notebook
    from autograder.engine.session import MachineFault
    from autograder.engine.worker import Worker
    from autograder.settings import load_limits

    try:
        found = find_course(course_path)
    except ValueError as error:
        if course_path:
            options.fail(error)
        found = None
    try:
        worker = Worker(load_limits(found) if found else None, execution="validate")
    except ValueError as error:
        options.fail(error)
    try:
        tests, notes = validate_notebook(notebook, worker)
    except NotebookError as error:
        options.fail(error)
    except MachineFault as error:
        raise click.ClickException(f"{error}: the machine's fault, not your notebook's; run "
                                   "it again") from error
    finally:
        worker.close()
    for test in tests:
        mark = "PASS" if test.passed else "FAIL"
        click.echo(f"{mark}  {test.name}  {test.points:g}/{test.max_points:g}")
        if test.message:
            click.echo("      " + test.message.replace("\n", "\n      "))
    for note in notes:
        click.echo(f"note: {note}")
    earned, total = sum(t.points for t in tests), sum(t.max_points for t in tests)
    click.echo(f"visible tests: {earned:g}/{total:g} points"
               + ("; hidden tests are graded after you submit" if any(t.hidden for t in tests)
                  else ""))
    if earned < total:
        raise SystemExit(1)
