"""The instructor's commands around grading: generate, collect, status and export."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import click

from autograder import course as coursedir
from autograder.commands import options
from autograder.commands.options import COURSE_OPTION, GRADEBOOK_OPTION, ROSTER_OPTION
from autograder.deadlines import load_deadlines


@click.command()
@click.argument("assignment")
@COURSE_OPTION
def generate(assignment: str, course_path: str | None) -> None:
    """Make the release version of ASSIGNMENT with nbgrader, and its grading manifest."""
    import json

    from toolkit.files import atomic_file

    course = options.course(course_path)
    try:
        coursedir.check_assignment(course, assignment)
    except ValueError as error:
        options.fail(error)
    # Genuine nbgrader makes the release; --no-db keeps nbgrader's own database out of the course.
    proc = subprocess.run([sys.executable, "-m", "nbgrader", "generate_assignment", assignment,
                           "--force", "--no-db"], cwd=course, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        raise click.ClickException(f"nbgrader generate_assignment {assignment} failed:\n{tail}")
    manifest = coursedir.build_manifest(course, assignment)
    path = coursedir.manifest_path(course, assignment)
    with atomic_file(path, encoding="utf-8") as fh:
        json.dump(manifest, fh, indent=2)
    release = course / "release" / assignment
    tests = [c for nb in manifest["notebooks"].values() for c in nb["cells"]
             if c["kind"] == "tests"]
    click.echo(f"released {assignment}: {release}")
    for name in manifest["notebooks"]:
        click.echo(f"  {name}")
    click.echo(f"{len(tests)} graded test cells ({sum(c['hidden'] for c in tests)} with hidden "
               f"tests), {manifest['max_score']:g} points; manifest: {path}")


@click.command()
@click.argument("path", type=click.Path(exists=True))
@click.option("--assignment", "-a", help="the assignment (default: the one whose notebooks match).")
@click.option("--times", "times_path", type=click.Path(exists=True, dir_okay=False), default=None,
              help="when each student submitted, for a Canvas download (whose files carry the "
                   "time the zip was made): the Canvas API's submissions list saved as JSON, or "
                   "a CSV of canvas_id and submitted_at.")
@click.option("--groups", "groups_path", type=click.Path(exists=True, dir_okay=False),
              default=None,
              help="for a group assignment (Canvas downloads one member's file per group): a "
                   "CSV of group and id (or canvas_id), or Canvas's groups export (People > "
                   "Groups > Export); each member without a submission of their own gets a copy "
                   "of the group's.")
@ROSTER_OPTION
@COURSE_OPTION
def collect(path: str, assignment: str | None, times_path: str | None, groups_path: str | None,
            roster_path: str | None, course_path: str | None) -> None:
    """Collect submissions from PATH (a Canvas download .zip or a folder) into the course."""
    from autograder.collect import collect as collect_submissions
    from autograder.collect import read_times
    from autograder.groups import read_groups

    course = options.course(course_path)
    try:
        if assignment is None:
            assignment = _guess_assignment(course, Path(path))
        coursedir.check_assignment(course, assignment)
        roster = options.roster(course, roster_path, required=times_path is not None)
        deadline = load_deadlines(course).get(assignment)
        times = read_times(times_path, roster) if times_path else None
        groups = read_groups(groups_path, roster) if groups_path else None
        report = collect_submissions(path, course, assignment, roster=roster, deadline=deadline,
                                     times=times, groups=groups)
    except ValueError as error:
        options.fail(error)
    click.echo(f"collected {len(report.collected)} notebook(s) of {assignment} from "
               f"{len(report.students)} student(s) into {course / 'submitted'}")
    for kept, dropped in report.duplicates:
        click.echo(f"duplicate: {kept.student} {kept.notebook}: kept {kept.source}, ignored "
                   f"{dropped.source}")
    for group, source, members in report.shared:
        click.echo(f"group {group}: {source}'s submission copied to {', '.join(members)}")
    for found, days in report.late:
        how = f"{days} day(s) late" if days else "marked LATE"
        click.echo(f"late: {found.student} ({found.source}): {how}")
    for name, why in report.skipped:
        click.echo(f"skipped: {name}: {why}")
    for warning in report.warnings:
        click.echo(f"warning: {warning}")
    if roster is not None:
        missing = sorted(set(roster.students) - set(report.students))
        if missing:
            click.echo(f"no submission from {len(missing)} student(s): {', '.join(missing)}")


def _guess_assignment(course: Path, path: Path) -> str:
    """The one assignment whose notebook names appear in `path`'s file names."""
    import zipfile

    names = zipfile.ZipFile(path).namelist() if path.is_file() and zipfile.is_zipfile(path) else [
        p.name for p in path.rglob("*.ipynb")]
    matches = [a for a in coursedir.assignments(course)
               if any(n.removesuffix(".ipynb") in name for name in names
                      for n in (p.name for p in (course / "source" / a).glob("*.ipynb")))]
    if len(matches) != 1:
        which = "candidates: " + ", ".join(matches) if matches else "no notebook names match"
        raise ValueError(f"cannot tell which assignment {path} holds ({which}): "
                         "pass --assignment NAME")
    return matches[0]


def _submissions(course: Path, assignment: str) -> dict[str, datetime | None]:
    """Submitted students of `assignment` and the time their timestamp.txt holds (None where
    there is none)."""
    from autograder.deadlines import read_timestamp
    from autograder.settings import exchange_timezone

    zone = exchange_timezone(course)
    found = {}
    for folder in sorted((course / "submitted").glob(f"*/{assignment}")):
        if folder.is_dir() and any(folder.glob("*.ipynb")):
            stamp = folder / "timestamp.txt"
            found[folder.parent.name] = read_timestamp(stamp, zone) if stamp.exists() else None
    return found


def _changed_since_graded(course: Path, assignment: str, results: list,
                          fingerprints: dict[str, str]) -> tuple[list[str], list[str]]:
    """(stale, gone) among the students with a result in the gradebook: stale, those whose
    submission, or anything else their grade depends on (the assignment's source and release
    files, the course's limits, the grader), changed since it was graded, told by the
    fingerprint `autograder grade` records and compares (``submission_fingerprint``, with the
    result's own seed and the course's limits as they are now); gone, those whose submission
    folder is no longer there. A result recorded without a fingerprint (through the API, never
    by `grade`) cannot be checked and is neither."""
    from autograder.commands.grading import submission_fingerprint
    from autograder.settings import load_limits

    stale, gone, limits = [], [], None
    for result in sorted(results, key=lambda r: r.student):
        if not (course / "submitted" / result.student / assignment).is_dir():
            gone.append(result.student)
            continue
        recorded = fingerprints.get(result.student)
        if not recorded:
            continue
        limits = limits or load_limits(course)
        if recorded != submission_fingerprint(course, assignment, result.student, result.seed,
                                              limits):
            stale.append(result.student)
    return stale, gone


#: What changes a graded submission's fingerprint, for the messages that name stale grades.
_WHAT_CHANGED = ("their submission (or the assignment's source or release files, the course's "
                 "limits or the grader) changed since they were graded")


@click.command()
@click.argument("assignment")
@click.option("--history", is_flag=True, help="also list earlier gradings that re-grades replaced.")
@ROSTER_OPTION
@GRADEBOOK_OPTION
@COURSE_OPTION
def status(assignment: str, history: bool, roster_path: str | None, gradebook_path: str | None,
           course_path: str | None) -> None:
    """Who submitted ASSIGNMENT, who was graded, whose notebook could not be graded."""
    from autograder.deadlines import check_extensions, with_late_penalty

    course = options.course(course_path)
    try:
        coursedir.check_assignment(course, assignment)
        roster = options.roster(course, roster_path)
        deadlines = load_deadlines(course)
        if roster is not None:
            check_extensions(deadlines, roster.students)
        submitted = _submissions(course, assignment)
        graded, earlier, fingerprints = [], [], {}
        try:
            book = options.gradebook(course, gradebook_path)
        except ValueError as error:
            if "no gradebook" not in str(error):
                raise
        else:
            graded, earlier = book.results(assignment), book.history(assignment) if history else []
            fingerprints = book.fingerprints(assignment)
            book.close()
        stale, gone = _changed_since_graded(course, assignment, graded, fingerprints)
        results = {r.student: with_late_penalty(r, deadlines) for r in graded}
    except ValueError as error:
        options.fail(error)
    students = sorted(set(submitted) | set(results) | set(roster.students if roster else ()))
    deadline = deadlines.get(assignment)
    counts = {"submitted": 0, "graded": 0, "stale": 0, "failed": 0, "not graded": 0,
              "no submission": 0, "submission gone": 0}
    rows = []
    for student in students:
        stamp, result = submitted.get(student), results.get(student)
        when, late = "-", ""
        if student in submitted:
            counts["submitted"] += 1
            when = "(no time)" if stamp is None else stamp.strftime("%Y-%m-%d %H:%M")
            days = (deadline.for_student(student).days_late(stamp)
                    if deadline is not None and stamp else 0)
            late = f"{days}d" if days else ""
        if student not in submitted and result is None:
            state, score = "no submission", ""
        elif result is None:
            state, score = "not graded", ""
        else:
            state = result.status
            score = (f"{result.score:g} / {result.max_score:g}" if result.status == "graded"
                     else result.error[:70])
            if result.flags:
                shown = ", ".join(result.flags[:2]) + (f" (+{len(result.flags) - 2} more)"
                                                       if len(result.flags) > 2 else "")
                score += f"  flagged: {shown}"
            if student in stale:  # the score is of what was handed in before: not this one's
                state = "stale"
                score = f"was {score}" if result.status == "graded" else \
                    f"was {result.status}: {score}"
        counts[state] = counts.get(state, 0) + 1
        if student in gone:
            state += ", submission gone"
            counts["submission gone"] += 1
        rows.append((student, when, late, state, score))
    width = max([len(s) for s in students] + [7])
    states = max([len(row[3]) for row in rows] + [13])
    click.echo(f"{'student':<{width}}  {'submitted (UTC)':<16}  {'late':>4}  "
               f"{'grading':<{states}}  score")
    for student, when, late, state, score in rows:
        click.echo(f"{student:<{width}}  {when:<16}  {late:>4}  {state:<{states}}  {score}")
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()
                         if n or what in ("submitted", "graded")))
    if stale:
        click.echo(f"stale: {', '.join(stale)}: {_WHAT_CHANGED}; `autograder grade "
                   f"{assignment}` grades them again")
    if gone:
        click.echo(f"submission gone: {', '.join(gone)}: graded, but submitted/<student>/"
                   f"{assignment} is no longer there; the recorded grade stands")
    if history:
        _show_history(earlier, {r.student: r for r in graded})


def _show_history(earlier: list, current: dict) -> None:
    """Each re-graded student's gradings, oldest first (before late penalties), with the tests
    that changed between them."""
    from autograder.results import describe_changes

    click.echo(f"history: {len(earlier)} earlier grading(s)"
               + (", oldest first:" if earlier else ""))
    chains: dict[str, list] = {}
    for result in earlier:
        chains.setdefault(result.student, []).append(result)
    for student, chain in chains.items():
        if student in current:
            chain = chain + [current[student]]
        click.echo(f"  {student}")
        for before, after in zip([None] + chain[:-1], chain):
            changed = describe_changes(before, after) if before is not None else ""
            click.echo(f"    {after.graded_at or '(no time)':<25}  "
                       f"{after.score:g}/{after.max_score:g}"
                       + (f"  {changed}" if changed else ""))


@click.command()
@click.argument("assignment")
@click.option("--to", "formats", required=True, multiple=True,
              help="csv (nbgrader's grades CSV), canvas, gradescope or html; repeat or "
                   "comma-separate.")
@click.option("--out", "out", required=True, type=click.Path(file_okay=False),
              help="folder to write to.")
@click.option("--canvas-column", metavar="TEXT", default=None,
              help="header of the assignment's column in the Canvas CSV, as Canvas names the "
                   "assignment: 'Title (id)', e.g. 'HW1 Tensors (12345)' [default: the "
                   "assignment's folder name].")
@ROSTER_OPTION
@GRADEBOOK_OPTION
@COURSE_OPTION
def export(assignment: str, formats: tuple[str, ...], out: str, canvas_column: str | None,
           roster_path: str | None, gradebook_path: str | None, course_path: str | None) -> None:
    """Export the grades of ASSIGNMENT from the gradebook to --out DIR. Refused, writing nothing,
    while a handed-in submission is not graded or a grade is stale (the submission, or the
    assignment, changed since it was graded)."""
    from autograder.export import export as write_export
    from autograder.export import grades_for

    course = options.course(course_path)
    wanted = [f.strip() for spec in formats for f in spec.split(",") if f.strip()]
    if canvas_column is not None:
        canvas_column = canvas_column.strip()
        if "canvas" not in wanted or not canvas_column or "\n" in canvas_column:
            raise click.UsageError("--canvas-column takes a one-line header, for --to canvas")
    try:
        coursedir.check_assignment(course, assignment)
        roster = options.roster(course, roster_path, required="canvas" in wanted)
        book = options.gradebook(course, gradebook_path)
        results = book.results(assignment)
        if not results:
            raise ValueError(f"the gradebook has no results for {assignment!r}: run "
                             f"`autograder grade {assignment}` first")
        ungraded = sorted(set(_submissions(course, assignment)) - {r.student for r in results})
        if ungraded:  # exported, each would read as 0 points for work handed in
            raise ValueError(f"{len(ungraded)} submission(s) of {assignment} are not graded yet "
                             f"({', '.join(ungraded)}); nothing was exported. Run `autograder "
                             f"grade {assignment}` first: it grades just those (to export the "
                             f"others without them, move their submitted/<student>/{assignment} "
                             "folders aside)")
        stale, gone = _changed_since_graded(course, assignment, results,
                                            book.fingerprints(assignment))
        if stale:  # exported, each would carry the grade of what was handed in before
            raise ValueError(f"{len(stale)} grade(s) of {assignment} are stale: for "
                             f"{', '.join(stale)}, {_WHAT_CHANGED}; nothing was exported. Run "
                             f"`autograder grade {assignment}` first: it grades just those")
        manifest = coursedir.read_manifest(course, assignment)
        grades = grades_for(assignment, results, roster=roster, deadlines=load_deadlines(course),
                            max_score=manifest["max_score"] if manifest else None)
        written = write_export(wanted, grades, out,
                               settings={"canvas": {"column": canvas_column or assignment}})
    except ValueError as error:
        options.fail(error)
    click.echo(f"exported {len(grades.results)} result(s) of {assignment} to {out}:")
    for fmt, paths in written.items():
        if fmt == "gradescope":
            where = (f"{Path(out) / 'gradescope' / assignment}/<student>/results.json "
                     f"({len(paths)} files)")
        elif fmt == "html":
            where = (f"{paths[0]} (class summary) + {len(paths) - 1} feedback page(s) in "
                     f"{paths[0].parent / 'students'}")
        elif fmt == "canvas":
            where = (f'{paths[0]} (column header "{canvas_column or assignment}"; Canvas '
                     'matches a column to its assignment by "Title (id)" or the exact title, '
                     "else it creates a new assignment: --canvas-column sets the header)")
        else:
            where = str(paths[0])
        click.echo(f"  {fmt:<10}  {where}")
    if gone:
        click.echo(f"note: the submission of {', '.join(gone)} is no longer in submitted/; "
                   "exported the grade recorded when it was graded")
