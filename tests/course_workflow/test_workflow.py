"""The instructor's whole workflow on a small course, as `make demo` runs it: generate, sample
submissions as a Canvas download, collect, grade with the engine, status, export."""

from __future__ import annotations

import csv
import json
import zipfile

import nbformat
import pytest
from click.testing import CliRunner
from nbgrader.utils import compute_checksum

from autograder.cli import main
from autograder.samples import HOSTILE_CELL
from autograder.samples import main as samples_main

from .conftest import ASSIGNMENT

NB = f"{ASSIGNMENT}.ipynb"


def run(command, *args: str):
    result = CliRunner().invoke(command, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_generate_samples_collect_grade_export(course, tmp_path):
    c = str(course)
    generated = run(main, "generate", ASSIGNMENT, "--course", c)
    assert "2 graded test cells (1 with hidden tests), 3 points" in generated
    release = nbformat.read(course / "release" / ASSIGNMENT / NB, as_version=4)
    text = "\n".join(cell.source for cell in release.cells)
    assert ("BEGIN SOLUTION" not in text and "relu(-2)" not in text
            and "raise NotImplementedError" in text)
    manifest = json.loads((course / "manifests" / f"{ASSIGNMENT}.json").read_text())
    tests = {cell["grade_id"]: cell for nb in manifest["notebooks"].values() for cell in nb["cells"]
             if cell["kind"] == "tests"}
    assert {k: (v["points"], v["hidden"]) for k, v in tests.items()} == {
        "test_relu": (2.0, True), "test_relu_zero": (1.0, False)}
    assert manifest["max_score"] == 3.0 and manifest["course_id"] == "dlcourse"
    # the release checksums are those nbgrader stored in the released cells, and recomputes
    stored = {cell.metadata.nbgrader["grade_id"]: cell for cell in release.cells
              if "nbgrader" in cell.metadata}
    for grade_id, entry in tests.items():
        assert entry["release_checksum"] == stored[grade_id].metadata.nbgrader["checksum"]
        assert entry["release_checksum"] == compute_checksum(stored[grade_id])
    # the hidden part
    assert tests["test_relu"]["source_checksum"] != tests["test_relu"]["release_checksum"]

    times = str(tmp_path / "submissions.json")
    run(samples_main, ASSIGNMENT, "--course", c, "--zip", str(tmp_path / "canvas.zip"),
        "--roster", str(course / "roster.csv"), "--times", times)
    with zipfile.ZipFile(tmp_path / "canvas.zip") as zf:
        names = sorted(zf.namelist())
        hostile = nbformat.reads(zf.read(next(n for n in names if "hostile" in n)).decode(),
                                 as_version=4)
        right = nbformat.reads(zf.read(next(n for n in names if "right" in n)).decode(),
                               as_version=4)
    assert len(names) == 4 and sum("_LATE_" in n for n in names) == 1
    assert any(cell.source == HOSTILE_CELL for cell in hostile.cells)
    assert "return x" in hostile.cells[1].source and "return max(x, 0)" in right.cells[1].source
    assert "BEGIN SOLUTION" not in right.cells[1].source

    refused = CliRunner().invoke(main, ["collect", str(tmp_path / "canvas.zip"), "--course", c])
    assert refused.exit_code == 1 and "Canvas marks the work of sample-late LATE" in refused.output
    collected = run(main, "collect", str(tmp_path / "canvas.zip"), "--times", times, "--course", c)
    assert "from 4 student(s)" in collected and "late: sample-late" in collected
    assert "2 day(s) late" in collected
    assert "no submission from 1 student(s): sample-absent" in collected
    run(main, "grade", ASSIGNMENT, "--course", c, "--workers", "2")
    status = run(main, "status", ASSIGNMENT, "--course", c)
    assert "4 submitted, 4 graded, 1 no submission" in status
    run(main, "export", ASSIGNMENT, "--course", c, "--to", "csv,html", "--out",
        str(tmp_path / "out"))
    rows = {r["student_id"]: r
            for r in csv.DictReader((tmp_path / "out" / f"{ASSIGNMENT}_grades.csv").open())}
    # relu(1) == 1 and relu(0) == 0 hold for `return x`; only the hidden relu(-2) == 0 catches it.
    assert rows["sample-right"]["raw_score"] == "3.0" and rows["sample-right"]["score"] == "3.0"
    assert rows["sample-late"]["raw_score"] == "3.0"
    assert rows["sample-late"]["late_submission_penalty"] == "0.6"  # 2 started days x 10% x 3
    assert rows["sample-partial"]["raw_score"] == "3.0"             # its one solution is filled in
    assert rows["sample-hostile"]["raw_score"] == "1.0"             # its visible part looks honest
    assert rows["sample-absent"]["timestamp"] == "" and rows["sample-absent"]["score"] == "0.0"
    page = (tmp_path / "out" / "feedback" / ASSIGNMENT / "students"
            / "sample-hostile.html").read_text()
    assert "Flagged for review" in page and "monkeypatch:numpy.allclose" in page

    # sample-hostile hands in sample-right's notebook after grading: its 1.0 is stale until graded
    submitted = course / "submitted"
    (submitted / "sample-hostile" / ASSIGNMENT / NB).write_bytes(
        (submitted / "sample-right" / ASSIGNMENT / NB).read_bytes())
    refused = CliRunner().invoke(main, ["export", ASSIGNMENT, "--course", c, "--to", "csv",
                                        "--out", str(tmp_path / "stale")])
    assert refused.exit_code == 1 and "are stale: for sample-hostile," in refused.output
    assert not (tmp_path / "stale").exists()
    status = run(main, "status", ASSIGNMENT, "--course", c)
    assert "4 submitted, 3 graded, 1 stale, 1 no submission" in status
    assert "3 already graded; 1 to grade" in run(main, "grade", ASSIGNMENT, "--course", c)
    status = run(main, "status", ASSIGNMENT, "--course", c)
    assert "4 submitted, 4 graded, 1 no submission" in status
    run(main, "export", ASSIGNMENT, "--course", c, "--to", "csv", "--out", str(tmp_path / "new"))
    rows = {r["student_id"]: r
            for r in csv.DictReader((tmp_path / "new" / f"{ASSIGNMENT}_grades.csv").open())}
    assert rows["sample-hostile"]["raw_score"] == "3.0"
