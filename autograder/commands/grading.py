"""`autograder grade` (an assignment of an nbgrader course, in parallel, into the gradebook) and
`autograder validate` (a student's own notebook against its visible tests)."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import click

from autograder.engine.notebook import NotebookError


def _fingerprint(source_dir: Path, submission_dir: Path, seed: int) -> str:
    """What a grade depends on: the source notebooks, the submission's files and the seed."""
    digest = hashlib.sha256(str(seed).encode())
    for folder in (source_dir, submission_dir):
        for path in sorted(folder.rglob("*")):
            if path.is_file() and not path.is_symlink() and ".ipynb_checkpoints" not in path.parts:
                digest.update(str(path.relative_to(folder)).encode() + b"\0")
                digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def find_jobs(course: Path, assignment: str, student: str | None, seed: int) -> list:
    """The submissions of ``assignment`` in an nbgrader course directory, as pool jobs."""
    from autograder.engine.pool import Job
    from autograder.gradebook import FILENAME

    source_dir = course / "source" / assignment
    if not any(source_dir.glob("*.ipynb")):
        known = sorted(p.name for p in (course / "source").iterdir() if p.is_dir()) if (course / "source").is_dir() else []
        raise click.ClickException(
            f"no source notebooks in {source_dir}; assignments in this course: {', '.join(known) or 'none'} "
            f"(pass the course directory with --course)")
    release = course / "release" / assignment
    submitted = course / "submitted"
    students = sorted(p.parent.name for p in submitted.glob(f"*/{assignment}") if p.is_dir())
    if student is not None:
        if student not in students:
            raise click.ClickException(f"{student} has no submission of {assignment} in {submitted}")
        students = [student]
    forbidden = (str(course.resolve()), str(source_dir.resolve()), FILENAME, "gradebook.db")
    return [Job(assignment, s, source_dir, submitted / s / assignment,
                release if release.is_dir() else None, seed, forbidden,
                _fingerprint(source_dir, submitted / s / assignment, seed)) for s in students]


@click.command()
@click.argument("assignment")
@click.option("--course", type=click.Path(file_okay=False, path_type=Path), default=Path("."),
              show_default=True, help="The nbgrader course directory (source/, submitted/).")
@click.option("--student", default=None, help="Grade only this student's submission.")
@click.option("--workers", type=click.IntRange(min=1), default=None,
              help="Submissions graded in parallel [default: the number of CPU cores].")
@click.option("--force", is_flag=True, help="Re-grade submissions already graded unchanged.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of random and NumPy's global RNG.")
def grade(assignment: str, course: Path, student: str | None, workers: int | None, force: bool, seed: int) -> None:
    """Grade every submission of ASSIGNMENT (student code sandboxed, tests from the source
    notebooks) into the course's gradebook. Unchanged submissions already graded are skipped, so
    a run that was stopped picks up where it was."""
    from autograder.engine import sandbox
    from autograder.engine.pool import grade_all
    from autograder.gradebook import Gradebook, course_id
    from autograder.settings import load_limits

    if not course.is_dir():
        raise click.ClickException(f"course directory {course} does not exist")
    try:
        limits = load_limits(course)
        book = Gradebook.for_course(course)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    jobs = find_jobs(course, assignment, student, seed)
    done = {} if force else book.fingerprints(assignment)
    todo = [j for j in jobs if done.get(j.student) != j.fingerprint]
    workers = min(workers or os.cpu_count() or 1, max(1, len(todo)))
    mode = sandbox.isolation()
    click.echo(f"{course_id(course)}: {assignment}, {len(jobs)} submissions, {len(jobs) - len(todo)} already "
               f"graded; {len(todo)} to grade on {workers} workers (isolation: {mode})", err=True)
    results, previous = [], {}
    with click.progressbar(length=len(todo), label="grading", file=sys.stderr) as bar:
        def record(job, result):
            replaced = book.record(result, job.fingerprint)
            if replaced is not None:
                previous[result.student] = replaced
            results.append(result)
            bar.update(1)

        grade_all(todo, workers, limits=limits, mode=mode, on_result=record)
    for result in sorted(results, key=lambda r: r.student):
        flags = f"  flags: {', '.join(result.flags)}" if result.flags else ""
        error = f"  ({result.error})" if result.error else ""
        click.echo(f"{result.student:<20} {result.score:g}/{result.max_score:g}  {result.status}{flags}{error}")
    _report_changes(results, previous)
    book.close()


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
def validate(notebook: Path) -> None:
    """Check NOTEBOOK against its own visible tests, with the grader's engine, before you submit."""
    from autograder.engine.pipeline import validate_notebook
    from autograder.engine.worker import Worker

    worker = Worker()
    try:
        tests, notes = validate_notebook(notebook, worker)
    except NotebookError as error:
        raise click.ClickException(str(error)) from None
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
               + ("; hidden tests are graded after you submit" if any(t.hidden for t in tests) else ""))
    if earned < total:
        raise SystemExit(1)
