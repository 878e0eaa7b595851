"""The gradebook: graded submissions in SQLite, one row per (course, assignment, student).

Each result is written in its own transaction, replacing any earlier one for the same student and
assignment, so re-grading never duplicates and a run killed at any point loses at most the
submission it was grading. The result it replaces moves to the history table in the same
transaction: a re-grade that changed a score can always be seen, and undone by hand. A fingerprint
of what was graded (the submission's and the source's notebooks) lets a restarted run skip what is
already done. The gradebook belongs to one course: opening it for another raises ValueError.
A file that cannot be opened or written raises ``GradebookError``, which says why (not a gradebook,
a full disk, no permission, another command holding it) and leaves what the file holds as it was.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from autograder.results import SubmissionResult
from toolkit.files import disk_full, free_bytes

#: The gradebook's file name inside a course directory.
FILENAME = "autograder.sqlite"

#: The columns of a result; the history table has them too, and when the result was replaced.
_COLUMNS = """
    course TEXT NOT NULL,
    assignment TEXT NOT NULL,
    student TEXT NOT NULL,
    fingerprint TEXT NOT NULL DEFAULT '',
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    status TEXT NOT NULL,
    graded_at TEXT NOT NULL,
    result TEXT NOT NULL"""
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results ({_COLUMNS},
    PRIMARY KEY (course, assignment, student)
);
CREATE TABLE IF NOT EXISTS history ({_COLUMNS},
    replaced_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS history_by_student ON history (course, assignment, student);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class GradebookError(ValueError):
    """The gradebook file cannot be opened or written; the message says why and what to do."""


#: Free bytes under which SQLite's "disk I/O error" is taken for a full disk (making its
#: -shm file fails so).
LOW_DISK = 1 << 20


def _explain(path: Path, error: sqlite3.Error) -> str:
    """Why SQLite failed on the gradebook at ``path``, and what to do, from its error code."""
    name = getattr(error, "sqlite_errorname", None) or ""
    free = free_bytes(path.parent)
    if name == "SQLITE_FULL" or (name.startswith("SQLITE_IOERR") and free is not None
                                 and free < LOW_DISK):
        return disk_full(path)
    if name == "SQLITE_NOTADB" or name.startswith("SQLITE_CORRUPT"):
        return (f"it is not an autograder gradebook ({error}); pass the course's own, or move "
                "this file aside to start an empty one")
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        return (f"it or its folder {path.parent} is not writable by you ({error}); run as the "
                "user who owns the course, or change the permissions")
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return (f"another command has held it for a minute ({error}); run this one again when "
                "that one is done")
    return str(error)


def course_id(course_dir: str | Path) -> str:
    """A course's identity: nbgrader's ``CourseDirectory.course_id`` from its nbgrader_config.py
    when set there, else the directory's name."""
    course_dir = Path(course_dir).resolve()
    config = course_dir / "nbgrader_config.py"
    if config.is_file():
        import re

        found = re.search(r"course_id\s*=\s*['\"]([^'\"]+)['\"]",
                          config.read_text(errors="replace"))
        if found:
            return found.group(1)
    return course_dir.name


class Gradebook:
    """Results of one course. ``course`` (its id) is stored on first use and checked after."""

    def __init__(self, path: str | Path, course: str | None = None) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            self.path = self.path / FILENAME
        if not self.path.parent.is_dir():
            raise ValueError(f"cannot create the gradebook {self.path}: folder {self.path.parent} "
                             "does not exist")
        self._db: sqlite3.Connection | None = None
        self._new = not self.path.exists()
        with self._sqlite("open"):
            self._db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._check_course(course)

    @contextlib.contextmanager
    def _sqlite(self, doing: str) -> Iterator[None]:
        """SQLite's errors while ``doing`` something to the file as one ``GradebookError``. One
        at opening closes the connection, and removes the file if this opening created it."""
        try:
            yield
        except sqlite3.Error as error:
            why = _explain(self.path, error)
            if doing == "open":
                self._abandon()
            kept = "it was not created" if doing == "open" and self._new else \
                "what it holds is unchanged"
            raise GradebookError(f"cannot {doing} the gradebook {self.path}: {why}; {kept}"
                                 ) from None

    def _abandon(self) -> None:
        """Close a connection that failed to open, and remove the files it created."""
        if self._db is not None:
            self._db.close()
        if self._new:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def _check_course(self, course: str | None) -> None:
        """Store ``course`` on first use; refuse another course's gradebook."""
        row = self._db.execute("SELECT value FROM meta WHERE key='course'").fetchone()
        if row is None:
            self._db.execute("INSERT OR IGNORE INTO meta VALUES ('course', ?)", (course or "",))
            row = self._db.execute("SELECT value FROM meta WHERE key='course'").fetchone()
        stored = row[0]
        if course is not None and stored and stored != course:
            self._db.close()
            raise ValueError(f"{self.path} is the gradebook of course {stored!r}, not {course!r}; "
                             f"pass that course's directory or its own gradebook")
        if course and not stored:
            self._db.execute("UPDATE meta SET value=? WHERE key='course'", (course,))
        self.course = course or stored

    @classmethod
    def for_course(cls, course_dir: str | Path) -> "Gradebook":
        """The gradebook inside ``course_dir``, created empty when missing."""
        return cls(Path(course_dir) / FILENAME, course_id(course_dir))

    def record(self, result: SubmissionResult, fingerprint: str = "") -> SubmissionResult | None:
        """Store ``result``, replacing an earlier one of the same assignment and student, which
        moves to the history; one transaction. Returns the result it replaced, if any. A
        grader error is not a grade and is refused (ValueError)."""
        if result.status == "error":
            raise ValueError(f"{result.student}: a grader error is not a grade and is not "
                             f"recorded ({result.error})")
        key = (self.course, result.assignment, result.student)
        with self._sqlite("write a result to"), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT * FROM results WHERE course=? AND assignment=? "
                                   "AND student=?", key).fetchone()
            if row is not None:
                self._db.execute("INSERT INTO history VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                                 (*row, _now()))
            self._db.execute(
                "INSERT OR REPLACE INTO results VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (*key, fingerprint, result.score, result.max_score, result.status, result.graded_at,
                 json.dumps(result.to_dict())))
        return SubmissionResult.from_dict(json.loads(row[-1])) if row is not None else None

    def history(self, assignment: str, student: str | None = None) -> list[SubmissionResult]:
        """Results that later gradings replaced, oldest first (of one student, or all)."""
        query = "SELECT result FROM history WHERE course=? AND assignment=?"
        args: tuple = (self.course, assignment)
        if student is not None:
            query += " AND student=?"
            args += (student,)
        rows = self._db.execute(query + " ORDER BY student, rowid", args).fetchall()
        return [SubmissionResult.from_dict(json.loads(r[0])) for r in rows]

    def get(self, assignment: str, student: str) -> SubmissionResult | None:
        """The result of one student's assignment, or None if it was not graded."""
        row = self._db.execute("SELECT result FROM results WHERE course=? AND assignment=? "
                               "AND student=?", (self.course, assignment, student)).fetchone()
        return SubmissionResult.from_dict(json.loads(row[0])) if row else None

    def results(self, assignment: str | None = None) -> list[SubmissionResult]:
        """All results (of one assignment), by assignment and student."""
        query = "SELECT result FROM results WHERE course=?"
        args: tuple = (self.course,)
        if assignment is not None:
            query += " AND assignment=?"
            args += (assignment,)
        rows = self._db.execute(query + " ORDER BY assignment, student", args).fetchall()
        return [SubmissionResult.from_dict(json.loads(r[0])) for r in rows]

    def fingerprints(self, assignment: str) -> dict[str, str]:
        """student -> fingerprint of what was graded, for one assignment."""
        rows = self._db.execute("SELECT student, fingerprint FROM results WHERE course=? "
                                "AND assignment=?", (self.course, assignment)).fetchall()
        return dict(rows)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
