"""Late penalties: none, zero, a fraction per started day; the deadlines.toml file."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder.deadlines import (
    Deadline,
    check_extensions,
    load_deadlines,
    parse_time,
    with_late_penalty,
)
from autograder.results import SubmissionResult
from autograder.results import TestResult as Cell

DUE = parse_time("2026-12-01T23:59:00Z")


def test_per_day_counts_started_days():
    d = Deadline(DUE, "per_day", 0.25)
    assert d.penalty("2026-12-01T23:59:00Z", 8, 10) == 0
    assert d.penalty("2026-12-02T00:00:00Z", 8, 10) == 2.5       # one minute late: one day
    assert d.penalty("2026-12-03T23:59:00Z", 8, 10) == 5.0       # exactly two days
    assert d.penalty("2026-12-10T00:00:00Z", 8, 10) == 8         # never more than the raw score
    assert d.penalty(None, 8, 10) == 0 and d.penalty("", 8, 10) == 0


def test_zero_none_and_grace():
    assert Deadline(DUE, "zero").penalty("2026-12-02T00:00:01Z", 7, 10) == 7
    assert Deadline(DUE, "none").penalty("2027-01-01T00:00:00Z", 7, 10) == 0
    grace = Deadline(DUE, "zero", grace=timedelta(minutes=10))
    assert grace.penalty("2026-12-02T00:08:00Z", 7, 10) == 0
    assert grace.penalty("2026-12-02T00:10:00Z", 7, 10) == 7


def test_grace_forgives_a_few_minutes_and_days_count_from_the_due_date():
    grace = Deadline(DUE, "per_day", 0.1, grace=timedelta(minutes=10))
    assert grace.days_late(DUE + timedelta(minutes=10)) == 0
    assert grace.days_late(DUE + timedelta(minutes=11)) == 1
    assert grace.days_late(DUE + timedelta(hours=24, minutes=5)) == 2    # the second day started
    with pytest.raises(ValueError, match="grace_minutes = -5 cannot be negative"):
        Deadline(DUE, "zero", grace=timedelta(minutes=-5))


def test_times_in_other_zones_and_nbgrader_format():
    d = Deadline(DUE, "zero")
    assert d.days_late(parse_time("2026-12-02T00:30:00+01:00")) == 0       # 23:30 UTC
    assert d.days_late(parse_time("2026-12-02 00:30:00.000000 UTC")) == 1  # timestamp.txt's format
    assert d.days_late(parse_time("2026-12-01 23:00:00")) == 0             # naive means UTC


@given(raw=st.floats(0, 100), extra=st.floats(0, 100), minutes=st.integers(-10_000, 60 * 24 * 30),
       later=st.integers(0, 60 * 24 * 30), per_day=st.floats(0.01, 1))
def test_penalty_bounded_and_monotone(raw, extra, minutes, later, per_day):
    d = Deadline(DUE, "per_day", per_day)
    maximum = raw + extra
    first = d.penalty(DUE + timedelta(minutes=minutes), raw, maximum)
    second = d.penalty(DUE + timedelta(minutes=minutes + later), raw, maximum)
    assert 0 <= first <= second <= raw + 1e-9
    result = SubmissionResult("a", "s", (Cell("t", raw, maximum, False),),
                              submitted_at=(DUE + timedelta(minutes=minutes)).isoformat())
    assert with_late_penalty(result, {"a": d}).score == pytest.approx(max(0.0, raw - first))


def test_load_deadlines(tmp_path):
    assert load_deadlines(tmp_path) == {}
    (tmp_path / "deadlines.toml").write_text(
        '[vectorization]\ndue = 2026-12-01T23:59:00Z\npolicy = "per_day"\nper_day = 0.1\n'
        'grace_minutes = 5\n\n[losses]\ndue = "2026-12-08T12:00:00+01:00"\npolicy = "zero"\n')
    d = load_deadlines(tmp_path)
    assert d["vectorization"] == Deadline(DUE, "per_day", 0.1, timedelta(minutes=5))
    assert d["losses"].due == parse_time("2026-12-08T11:00:00Z") and d["losses"].policy == "zero"


@pytest.mark.parametrize("text, message", [
    ('[a]\npolicy = "zero"\n', "needs a 'due' date"),
    ('[a]\ndue = 2026-12-01\npolicy = "halve"\n', "late policy 'halve' is unknown"),
    ('[a]\ndue = 5\n', "cannot read the time 5"),
    ('[a]\ndue = 2026-12-01T00:00:00Z\npolicy = "per_day"\n', "per_day = 0.0 must be a fraction"),
    ('[a]\ndue = 2026-12-01T00:00:00Z\ndue_date = 1\n', "unknown key"),
    ('[a]\ndue = "yesterday"\n', "cannot read the time 'yesterday'"),
    ("[a\n", "not valid TOML"),
])
def test_bad_deadlines_file(tmp_path, text, message):
    (tmp_path / "deadlines.toml").write_text(text)
    with pytest.raises(ValueError, match=message):
        load_deadlines(tmp_path)


def test_a_date_alone_is_the_end_of_that_day(tmp_path):
    (tmp_path / "deadlines.toml").write_text('[a]\ndue = 2026-12-01\npolicy = "zero"\n')
    assert load_deadlines(tmp_path)["a"].due == parse_time("2026-12-01T23:59:59Z")


def test_an_extension_moves_the_due_date_of_its_student_only(tmp_path):
    (tmp_path / "deadlines.toml").write_text(
        '[a]\ndue = 2026-12-01T23:59:00Z\npolicy = "zero"\n\n'
        '[a.extensions]\nalice = 2026-12-04T23:59:00Z\n')
    d = load_deadlines(tmp_path)["a"]
    assert d.extensions == {"alice": parse_time("2026-12-04T23:59:00Z")}
    late = SubmissionResult("a", "alice", (Cell("t", 7, 10, True),),
                            submitted_at="2026-12-03T12:00:00+00:00")
    assert with_late_penalty(late, {"a": d}).score == 7                    # within her extension
    bob = SubmissionResult("a", "bob", late.tests, submitted_at=late.submitted_at)
    assert with_late_penalty(bob, {"a": d}).score == 0
    assert d.for_student("alice").due == parse_time("2026-12-04T23:59:00Z")
    assert d.for_student("bob") is d
    check_extensions({"a": d}, ["alice", "bob"])
    with pytest.raises(ValueError, match=r"\[a\.extensions\] names alice, not on the roster"):
        check_extensions({"a": d}, ["alicia", "bob"])


@pytest.mark.parametrize("text, message", [
    ('[a]\ndue = 2026-12-01T23:59:00Z\n[a.extensions]\nalice = 2025-12-04T23:59:00Z\n',
     r"the extension of alice to 2025-12-04T23:59:00\+00:00 is before the due date"),
    ('[a]\ndue = 2026-12-01T23:59:00Z\nextensions = "alice"\n', "extensions must be a table"),
    ('[a]\ndue = 2026-12-01T23:59:00Z\n[a.extensions]\nalice = "soon"\n',
     "cannot read the time 'soon'"),
])
def test_bad_extensions(tmp_path, text, message):
    (tmp_path / "deadlines.toml").write_text(text)
    with pytest.raises(ValueError, match=message):
        load_deadlines(tmp_path)
