"""Due dates and late penalties, one entry per assignment, in the course's ``deadlines.toml``.

The file sits next to nbgrader_config.py in the course directory::

    [vectorization]
    due = 2026-12-01T23:59:00Z   # a TOML date-time or ISO 8601 string; no zone means UTC; a date
                                 # alone means 23:59:59 UTC that day
    policy = "per_day"           # "none": late work keeps its score; "zero": late work scores 0;
                                 # "per_day": `per_day` of the maximum score off per started day
    per_day = 0.1                # fraction of the maximum score, 0 < per_day <= 1
    grace_minutes = 10           # optional: up to this many minutes late is on time (days
                                 # late still count from the due date)

    [vectorization.extensions]   # optional: students given a later due date, by student id
    alice = 2026-12-04T23:59:00Z

An assignment without an entry has no due date: nothing is late. The penalty is recorded in points
(SubmissionResult.late_penalty); the score never drops below 0. An extension replaces the due date
for its student only; one earlier than the due date, or for a student not on the course's roster,
is refused as a likely typo.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dateutil.tz import gettz

from autograder.results import SubmissionResult

#: The file name, relative to the course directory.
FILENAME = "deadlines.toml"
POLICIES = ("none", "zero", "per_day")
#: A time as nbgrader's timestamp.txt holds it ("%Y-%m-%d %H:%M:%S.%f %Z"): the date and time,
#: a space, and the zone's abbreviation, name or offset.
_STAMP = re.compile(r"(?P<when>\d{4}-\d\d-\d\d[ T][\d:.]+) +(?P<zone>\S+)")
_OFFSET = re.compile(r"(?P<sign>[+-])(?P<hours>\d\d):?(?P<minutes>\d\d)")


def parse_time(value: str | datetime | date, zone: str = "UTC") -> datetime:
    """An aware UTC datetime from ISO 8601 or nbgrader's timestamp.txt format.

    ``zone`` is the zone of a time that names none, and the zone whose abbreviations are read:
    nbgrader stamps a submission "2026-12-01 23:30:00.000000 IST" in its exchange's time zone
    (``c.Exchange.timezone``), and the abbreviation alone does not say which zone that is (IST
    is India's, Ireland's and Israel's). A date alone (TOML's ``due = 2026-12-01``) means the end
    of that day, 23:59:59.
    """
    local = gettz(zone)
    if local is None:
        raise ValueError(f"{zone!r} is not a time zone: give an IANA name such as "
                         "'America/Los_Angeles' or 'UTC'")
    if isinstance(value, datetime):
        ts = value
    elif isinstance(value, date):
        ts = datetime.combine(value, time(23, 59, 59))
    elif not isinstance(value, str):
        raise ValueError(f"cannot read the time {value!r}: use ISO 8601, e.g. 2026-12-01T23:59:00Z")
    else:
        ts = _read_text(value.strip(), local)
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=local)
    return ts.astimezone(timezone.utc)


def _read_text(text: str, local: tzinfo) -> datetime:
    """``text`` in ISO 8601, or as a date and time followed by a zone: an offset, an
    abbreviation ``local`` uses at that time, or the name of a zone."""
    unreadable = ValueError(f"cannot read the time {text!r}: use ISO 8601, e.g. "
                            "2026-12-01T23:59:00Z")
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        stamp = _STAMP.fullmatch(text)
        if stamp is None:
            raise unreadable from None
    try:
        when = datetime.fromisoformat(stamp["when"])
    except ValueError:
        raise unreadable from None
    token = stamp["zone"]
    offset = _OFFSET.fullmatch(token)
    if offset is not None:
        minutes = 60 * int(offset["hours"]) + int(offset["minutes"])
        return when.replace(tzinfo=timezone(timedelta(minutes=-minutes if offset["sign"] == "-"
                                                              else minutes)))
    for fold in (0, 1):   # 01:30 PDT and 01:30 PST, the night clocks go back, differ by the name
        ts = when.replace(tzinfo=local, fold=fold)
        if ts.tzname() == token:
            return ts
    try:
        return when.replace(tzinfo=ZoneInfo(token))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"cannot tell which time zone {token!r} is, in the time {text!r}: write a time with "
            "its offset from UTC (2026-12-01T23:59:00-08:00); for nbgrader's timestamp.txt, which "
            "carries the abbreviation of its exchange's zone, set that zone in the course's "
            "nbgrader_config.py, e.g. c.Exchange.timezone = 'America/Los_Angeles'"
        ) from None


def read_timestamp(path: Path, zone: str, text: str | None = None) -> datetime:
    """The time a submission's timestamp.txt at ``path`` holds (``text``, where it was read
    already, as from a zip), stamped in ``zone`` (the course's ``exchange_timezone``);
    ValueError naming the file where it cannot be read."""
    if text is None:
        text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return parse_time(text.strip(), zone)
    except ValueError as error:
        raise ValueError(f"{path}: {error}; correct or delete that file") from None


@dataclass(frozen=True)
class Deadline:
    """When an assignment is due and what lateness costs."""

    due: datetime
    policy: str = "none"
    per_day: float = 0.0
    grace: timedelta = timedelta(0)
    extensions: Mapping[str, datetime] = field(default_factory=dict)   # student id -> due date

    def __post_init__(self) -> None:
        if self.policy not in POLICIES:
            raise ValueError(f"late policy {self.policy!r} is unknown: use one of "
                             f"{', '.join(POLICIES)}")
        if self.grace < timedelta(0):
            raise ValueError(f"grace_minutes = {self.grace / timedelta(minutes=1):g} cannot be "
                             "negative")
        if self.policy == "per_day" and not 0 < self.per_day <= 1:
            raise ValueError(f"per_day = {self.per_day} must be a fraction of the maximum score "
                             "in (0, 1], e.g. 0.1 for 10% per day")
        for student, due in self.extensions.items():
            if due < self.due:
                raise ValueError(f"the extension of {student} to {due.isoformat()} is before the "
                                 f"due date {self.due.isoformat()}: give a later date")

    def for_student(self, student: str) -> Deadline:
        """The deadline ``student`` has: their extension's due date where they have one."""
        due = self.extensions.get(student)
        return self if due is None else dataclasses.replace(self, due=due, extensions={})

    def days_late(self, submitted_at: datetime) -> int:
        """Started days past the due date; 0 when on time or late by no more than the grace
        period."""
        late = parse_time(submitted_at) - self.due
        if late <= self.grace:
            return 0
        return math.ceil(late / timedelta(days=1))

    def penalty(self, submitted_at: datetime | str | None, raw_score: float,
                max_score: float) -> float:
        """Points to take off a submission with `raw_score` of `max_score` handed in at
        `submitted_at`."""
        if submitted_at in (None, ""):
            return 0.0
        days = self.days_late(parse_time(submitted_at))
        if days == 0 or self.policy == "none":
            return 0.0
        if self.policy == "zero":
            return float(raw_score)
        return min(float(raw_score), round(days * self.per_day * max_score, 6))


def load_deadlines(course_dir: str | Path) -> dict[str, Deadline]:
    """The course's deadlines by assignment; empty when the course has no deadlines.toml."""
    path = Path(course_dir) / FILENAME
    if not path.exists():
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path} is not valid TOML: {error}") from error
    deadlines = {}
    for assignment, entry in data.items():
        if not isinstance(entry, dict) or "due" not in entry:
            raise ValueError(f"{path}: [{assignment}] needs a 'due' date, e.g. due = "
                             "2026-12-01T23:59:00Z")
        unknown = set(entry) - {"due", "policy", "per_day", "grace_minutes", "extensions"}
        if unknown:
            raise ValueError(f"{path}: [{assignment}] has unknown key(s) "
                             f"{', '.join(sorted(unknown))}; allowed: due, policy, per_day, "
                             "grace_minutes, extensions")
        extensions = entry.get("extensions", {})
        if not isinstance(extensions, dict):
            raise ValueError(f"{path}: [{assignment}] extensions must be a table of student ids "
                             f"and due dates: [{assignment}.extensions] then alice = "
                             "2026-12-04T23:59:00Z")
        try:
            deadlines[assignment] = Deadline(
                due=parse_time(entry["due"]), policy=entry.get("policy", "none"),
                per_day=float(entry.get("per_day", 0.0)),
                grace=timedelta(minutes=float(entry.get("grace_minutes", 0))),
                extensions={str(s): parse_time(d) for s, d in extensions.items()})
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path}: [{assignment}]: {error}") from error
    return deadlines


def check_extensions(deadlines: dict[str, Deadline], students: Iterable[str]) -> None:
    """ValueError naming the extensions given to students not among ``students`` (the
    roster): a misspelt id would leave its student's work late."""
    known = set(students)
    for assignment, deadline in deadlines.items():
        strangers = sorted(set(deadline.extensions) - known)
        if strangers:
            raise ValueError(f"{FILENAME}: [{assignment}.extensions] names {', '.join(strangers)}, "
                             "not on the roster: use the roster's student ids")


def with_late_penalty(result: SubmissionResult, deadlines: dict[str, Deadline]) -> SubmissionResult:
    """`result` with its late_penalty set by its assignment's deadline (unchanged without one)."""
    deadline = deadlines.get(result.assignment)
    if deadline is None:
        return result
    raw = sum(t.points for t in result.tests)
    penalty = deadline.for_student(result.student).penalty(result.submitted_at or None, raw,
                                                           result.max_score)
    return dataclasses.replace(result, late_penalty=penalty)
