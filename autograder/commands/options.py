"""What every `autograder` command shares: the --course, --roster and --gradebook options, the one
course finder, and the rule that an expected mistake ends a command with one line, no traceback."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import click

from autograder import course as coursedir
from autograder.roster import Roster, read_roster

COURSE_OPTION = click.option("--course", "course_path", type=click.Path(file_okay=False),
                             envvar="AUTOGRADER_COURSE",
                             help="nbgrader course directory (default: $AUTOGRADER_COURSE, . or "
                                  "./assignments).")
ROSTER_OPTION = click.option("--roster", "roster_path", type=click.Path(dir_okay=False),
                             help="roster CSV with an id column, or Canvas's gradebook export "
                             "(default: <course>/roster.csv where it exists).")
GRADEBOOK_OPTION = click.option("--gradebook", "gradebook_path", type=click.Path(dir_okay=False),
                                help="gradebook file (default: the course's).")


def fail(error: Exception) -> NoReturn:
    """Expected mistakes end the command with one line and exit status 1, no traceback."""
    raise click.ClickException(str(error)) from error


def course(course_path: str | None) -> Path:
    """The course directory (``coursedir.find_course``), or a one-line error."""
    try:
        return coursedir.find_course(course_path)
    except ValueError as error:
        fail(error)


def roster(course_dir: Path, roster_path: str | None, required: bool = False) -> Roster | None:
    """The roster given, else the course's roster.csv where it exists."""
    path = Path(roster_path) if roster_path else course_dir / "roster.csv"
    if roster_path or path.exists():
        return read_roster(path)
    if required:
        raise ValueError(f"no roster: pass --roster roster.csv (or put one at {path})")
    return None


def gradebook(course_dir: Path, gradebook_path: str | None):
    """The course's gradebook; ValueError when there is none or it belongs to another course."""
    from autograder.gradebook import FILENAME, Gradebook

    path = Path(gradebook_path) if gradebook_path else course_dir / FILENAME
    if not path.is_file():
        raise ValueError(f"no gradebook at {path}: run `autograder grade ASSIGNMENT --course "
                         f"{course_dir}` first")
    return Gradebook(path, coursedir.course_id(course_dir))
