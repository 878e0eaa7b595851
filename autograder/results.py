"""What grading produces: one record per graded test cell and per submission.

The engine writes these to the gradebook; the exports (CSV, Canvas, Gradescope, HTML) read them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class TestResult:
    """One graded test cell of a submission."""

    name: str                 # the nbgrader grade_id of the test cell
    points: float             # points earned
    max_points: float         # points the cell is worth
    passed: bool
    message: str = ""         # the assertion message or error the student sees
    hidden: bool = False      # the cell has hidden tests: name it, never show its code
    output: str = ""          # captured output, size-capped
    duration_s: float = 0.0   # wall-clock seconds the test cell took


@dataclass(frozen=True)
class SubmissionResult:
    """A whole submission, graded once."""

    assignment: str
    student: str
    tests: tuple[TestResult, ...]
    # graded | failed (the notebook could not be graded) | missing | error (the grader failed on
    # it: not a grade, never recorded; graded again on the next run)
    status: str = "graded"
    error: str = ""           # why it failed, when it did
    flags: tuple[str, ...] = ()   # what it attacked: "monkeypatch:numpy.allclose", "fork-bomb", ...
    seed: int = 0
    graded_at: str = ""       # ISO 8601, UTC
    submitted_at: str = ""    # ISO 8601, from the submission's timestamp where nbgrader has one
    duration_s: float = 0.0
    versions: dict[str, str] = field(default_factory=dict)  # python, numpy, numba, toolkit, ...
    limits: dict[str, Any] = field(default_factory=dict)    # memory_mb, cpu_s, nproc, fsize_mb, ...
    late_penalty: float = 0.0  # points taken off for lateness (set by the instructor's workflow)
    # seconds per phase (engine.pipeline.PHASES)
    timings: dict[str, float] = field(default_factory=dict)
    host: str = ""            # the machine it was graded on

    @property
    def score(self) -> float:
        """Points earned, less any late penalty, never below 0."""
        return max(0.0, sum(t.points for t in self.tests) - self.late_penalty)

    @property
    def max_score(self) -> float:
        return sum(t.max_points for t in self.tests)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (the gradebook's and the exports' wire format)."""
        d = asdict(self)
        d["score"], d["max_score"] = self.score, self.max_score
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "SubmissionResult":
        d = {k: v for k, v in d.items() if k not in ("score", "max_score")}
        d["tests"] = tuple(TestResult(**t) for t in d.get("tests", ()))
        d["flags"] = tuple(d.get("flags", ()))
        return cls(**d)


def changes(before: SubmissionResult,
            after: SubmissionResult) -> list[tuple[str, float | None, float | None]]:
    """The tests whose points differ between two gradings of a submission: (name, points
    before, points after), None where a test is in only one of them."""
    old = {t.name: t.points for t in before.tests}
    new = {t.name: t.points for t in after.tests}
    names = list(old) + [n for n in new if n not in old]
    return [(n, old.get(n), new.get(n)) for n in names if old.get(n) != new.get(n)]


def describe_changes(before: SubmissionResult, after: SubmissionResult) -> str:
    """``changes`` as text: "test_relu 0 -> 1, test_dot - -> 2" (- where a test was absent)."""
    def shown(points: float | None) -> str:
        return "-" if points is None else f"{points:g}"

    return ", ".join(f"{name} {shown(a)} -> {shown(b)}" for name, a, b in changes(before, after))
