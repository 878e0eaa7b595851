"""Submission times stamped in the course's exchange time zone. nbgrader writes timestamp.txt as
"2026-12-01 23:30:00.000000 IST" in ``c.Exchange.timezone``, and an abbreviation alone does not
say which zone it is: read as UTC (or by whatever zone the grading machine is in), an on-time
submission in India was a day late. Each reader (collect, grade, status) reads it in the
course's zone, or refuses it naming the file and the setting."""

from __future__ import annotations

import csv
from datetime import datetime, timezone

import pytest
from click.testing import CliRunner
from dateutil.tz import gettz
from hypothesis import given
from hypothesis import strategies as st
from nbgrader.exchange.default.submit import ExchangeSubmit

from autograder.cli import main
from autograder.collect import collect
from autograder.deadlines import Deadline, parse_time
from autograder.settings import exchange_timezone

from .conftest import ASSIGNMENT

NB = f"{ASSIGNMENT}.ipynb"
#: Zones with summer time, half and quarter hours, negative offsets, abbreviations that are
#: numbers ("+0545", "-03") and a summer time named as Ireland's (IST, with GMT in winter).
ZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Europe/Dublin", "Europe/Berlin",
         "Australia/Lord_Howe", "America/St_Johns", "Asia/Kathmandu", "America/Sao_Paulo",
         "Asia/Tokyo", "Pacific/Chatham"]


def nbgrader_stamp(when: datetime, zone: str) -> str:
    """timestamp.txt as nbgrader's exchange writes it (ExchangeSubmit.set_timestamp)."""
    return when.astimezone(gettz(zone)).strftime(ExchangeSubmit.timestamp_format.default_value)


@given(seconds=st.integers(int(datetime(2020, 1, 1, tzinfo=timezone.utc).timestamp()),
                           int(datetime(2030, 1, 1, tzinfo=timezone.utc).timestamp())),
       zone=st.sampled_from(ZONES))
def test_nbgrader_stamps_read_back_as_the_instant_they_stamp(seconds, zone):
    when = datetime.fromtimestamp(seconds, timezone.utc)
    assert parse_time(nbgrader_stamp(when, zone), zone) == when


def test_the_hour_clocks_go_back_is_told_apart_by_its_abbreviation():
    assert parse_time("2026-11-01 01:30:00.000000 PDT", "America/Los_Angeles") == \
        datetime(2026, 11, 1, 8, 30, tzinfo=timezone.utc)
    assert parse_time("2026-11-01 01:30:00.000000 PST", "America/Los_Angeles") == \
        datetime(2026, 11, 1, 9, 30, tzinfo=timezone.utc)


def test_offsets_names_and_utc_need_no_zone():
    utc = datetime(2026, 12, 1, 18, tzinfo=timezone.utc)
    assert parse_time("2026-12-01 23:30:00 +0530") == utc          # nbgrader's "%z" format
    assert parse_time("2026-12-01 19:00:00.000000 CET", "Asia/Tokyo") == utc
    assert parse_time("2026-12-01 18:00:00.000000 UTC", "Asia/Kolkata") == utc
    assert parse_time("2026-12-01 23:30:00", "Asia/Kolkata") == utc  # no zone: the course's


def test_an_abbreviation_of_another_zone_is_refused_naming_the_setting():
    with pytest.raises(ValueError, match=r"'IST'.*c\.Exchange\.timezone"):
        parse_time("2026-12-01 23:30:00.000000 IST")
    with pytest.raises(ValueError, match="'Nowhere/Land' is not a time zone"):
        parse_time("2026-12-01 23:30:00.000000 IST", "Nowhere/Land")


def set_exchange_zone(course, zone: str) -> None:
    with (course / "nbgrader_config.py").open("a") as config:
        config.write(f'c.Exchange.timezone = "{zone}"\n')


def test_the_courses_zone_as_nbgrader_reads_it(course):
    assert exchange_timezone(course) == "UTC"
    set_exchange_zone(course, "Asia/Kolkata")
    assert exchange_timezone(course) == "Asia/Kolkata"


def test_collect_reads_stamps_in_the_exchanges_zone(course, tmp_path):
    inbox = tmp_path / "inbox"
    (inbox / "alice").mkdir(parents=True)
    (inbox / "alice" / NB).write_text("{}")
    (inbox / "alice" / "timestamp.txt").write_text("2026-12-01 23:30:00.000000 IST\n")
    due = Deadline(parse_time("2026-12-01T23:59:00+05:30"), "zero")
    with pytest.raises(ValueError, match=r"alice/timestamp\.txt.*'IST'.*c\.Exchange\.timezone"):
        collect(inbox, course, ASSIGNMENT, deadline=due)
    assert not (course / "submitted").exists()
    set_exchange_zone(course, "Asia/Kolkata")
    report = collect(inbox, course, ASSIGNMENT, deadline=due)
    assert report.students == ["alice"] and report.late == []
    written = (course / "submitted" / "alice" / ASSIGNMENT / "timestamp.txt").read_text()
    assert parse_time(written.strip()) == datetime(2026, 12, 1, 18, tzinfo=timezone.utc)


def test_grade_records_on_time_work_as_on_time(course, tmp_path):
    """Due 23:59 in India; alice submits at 23:30 there, bob at 00:30 the next day."""
    set_exchange_zone(course, "Asia/Kolkata")
    (course / "deadlines.toml").write_text(
        f'[{ASSIGNMENT}]\ndue = "2026-12-01T23:59:00+05:30"\npolicy = "per_day"\nper_day = 0.5\n')
    source = (course / "source" / ASSIGNMENT / NB).read_text()
    for student, stamp in (("alice", "2026-12-01 23:30:00.000000 IST"),
                           ("bob", "2026-12-02 00:30:00.000000 IST")):
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        (folder / NB).write_text(source)
        (folder / "timestamp.txt").write_text(stamp)
    c = str(course)
    graded = CliRunner().invoke(main, ["grade", ASSIGNMENT, "--course", c, "--workers", "1"])
    assert graded.exit_code == 0, graded.output
    assert "alice                3/3  graded" in graded.output
    assert "bob                  3/3 (1.5 after the late penalty)  graded" in graded.output
    status = CliRunner().invoke(main, ["status", ASSIGNMENT, "--course", c])
    lines = {line.split()[0]: line for line in status.output.splitlines()[1:-1]}
    assert "2026-12-01 18:00" in lines["alice"] and "1d" not in lines["alice"]
    assert "2026-12-01 19:00" in lines["bob"] and " 1d " in lines["bob"]
    out = tmp_path / "out"
    exported = CliRunner().invoke(main, ["export", ASSIGNMENT, "--course", c, "--to", "csv",
                                         "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    rows = {r["student_id"]: r for r in csv.DictReader((out / f"{ASSIGNMENT}_grades.csv").open())}
    assert (rows["alice"]["score"], rows["bob"]["score"]) == ("3.0", "1.5")

    (course / "submitted" / "bob" / ASSIGNMENT / "timestamp.txt").write_text("yesterday noon")
    refused = CliRunner().invoke(main, ["grade", ASSIGNMENT, "--course", c, "--force"])
    assert refused.exit_code == 1
    assert "bob/vectorization/timestamp.txt: cannot read the time 'yesterday noon'" in \
        refused.output and "nothing was graded" in refused.output
