"""A full disk, and a file that is not a gradebook: each command stops with one line that says what
to do, and what the gradebook, the submissions and the exports held is kept. The full disk is
real: a 1 MiB tmpfs mounted in a user and mount namespace of the test's own (``unshare``), skipped
where the kernel allows none; SQLite's own "database or disk is full" comes from a page limit on
its connection."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from autograder.cli import main
from autograder.gradebook import FILENAME, Gradebook, GradebookError
from tests.helpers import notebooks as nbs

from .conftest import ASSIGNMENT

#: Run inside the namespaces with the graded course, the tmpfs, the assignment and a scratch folder:
#: copies the course onto the tmpfs (one without its gradebook), fills the tmpfs, runs the commands
#: (collect, of a download of new notebooks, into the copy without a gradebook), frees it, and
#: prints what each gave as JSON.
ON_FULL_DISK = '''
import json, shutil, sys
from pathlib import Path
from click.testing import CliRunner
from autograder.cli import main
from autograder.gradebook import Gradebook, GradebookError

graded, disk, assignment = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
course = shutil.copytree(graded, disk / "course")
fresh = shutil.copytree(graded, disk / "fresh", ignore=shutil.ignore_patterns("autograder.*"))
filler = disk / "filler"
with open(filler, "wb", buffering=0) as f:
    try:
        while True:
            f.write(bytes(4096))
    except OSError:
        pass

def run(*args):
    done = CliRunner().invoke(main, [str(a) for a in args])
    return [done.exit_code, done.output]

download = shutil.copytree(graded / "submitted", Path(sys.argv[4]) / "download")
for student in download.iterdir():  # <student>/<notebook>: a folder collect reads
    (student / assignment / "timestamp.txt").unlink()
    for notebook in (student / assignment).iterdir():
        notebook.write_text('{"cells": [], "new": true}')
        notebook.rename(student / notebook.name)
seen = {"collect": run("collect", download, "--course", fresh),
        "status": run("status", assignment, "--course", course),
        "export": run("export", assignment, "--course", graded, "--to", "csv,html",
                      "--out", disk / "exports")}
try:
    Gradebook.for_course(fresh).close()
except GradebookError as error:
    seen["new gradebook"] = str(error)
seen["left in fresh"] = sorted(p.name for p in fresh.iterdir() if p.name.startswith("autograder"))
seen["submitted"] = sorted(str(p.relative_to(fresh)) for p in (fresh / "submitted").rglob("*")
                           if p.is_file() and "new" not in p.read_text())
seen["exports"] = sorted(str(p) for p in (disk / "exports").rglob("*")) \\
    if (disk / "exports").exists() else []
filler.unlink()
seen["status after"] = run("status", assignment, "--course", course)
print(json.dumps(seen))
'''


def one_line_error(output: str, *words: str) -> bool:
    lines = output.strip().splitlines()
    return (len(lines) == 1 and lines[0].startswith("Error: ") and "Traceback" not in output
            and all(w in lines[0] for w in words))


def on_full_disk(graded, tmp_path) -> dict:
    """What the commands of ``ON_FULL_DISK`` gave with the course on a full disk."""
    unshare = shutil.which("unshare")
    namespaces = [unshare, "--user", "--map-root-user", "--mount"] if unshare else []
    if not namespaces or subprocess.run([*namespaces, "true"], capture_output=True).returncode:
        pytest.skip("needs util-linux's unshare and user namespaces, to mount a small tmpfs")
    disk = tmp_path / "disk"
    disk.mkdir()
    mount = 'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"'
    done = subprocess.run([*namespaces, "sh", "-c", mount, str(disk), sys.executable, "-c",
                           ON_FULL_DISK, str(graded), str(disk), ASSIGNMENT, str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_full_disk_stops_each_command_with_one_line_and_loses_nothing(graded, tmp_path):
    seen = on_full_disk(graded, tmp_path)
    code, output = seen["collect"]
    assert code == 1 and one_line_error(output, "cannot collect alice's submission", "is full",
                                        "0 of 3 student(s) were collected before it")
    assert seen["submitted"] == sorted(  # each submission as it was, no half-written one
        f"submitted/{s}/{ASSIGNMENT}/{name}" for s in ("alice", "bob", "carol")
        for name in (f"{ASSIGNMENT}.ipynb", "timestamp.txt"))
    code, output = seen["status"]
    assert code == 1 and one_line_error(output, "cannot open the gradebook", "is full",
                                        "free some space", "what it holds is unchanged")
    code, output = seen["export"]
    assert code == 1 and one_line_error(output, "cannot write the csv export", "is full",
                                        "Written whole before it: none",
                                        "not written: csv, html")
    assert seen["exports"] == []  # no half-written file, no temporary one left
    assert "is full" in seen["new gradebook"] and "it was not created" in seen["new gradebook"]
    assert seen["left in fresh"] == []
    code, output = seen["status after"]  # space freed: every result is still there
    assert code == 0 and "3 submitted, 2 graded, 1 failed" in output, output


def cannot_grow(book: Gradebook, result):
    """``result`` with 64 KiB of output, which needs new pages, and ``book`` capped at the pages
    it has: SQLite's "database or disk is full"."""
    pages = book._db.execute("PRAGMA page_count").fetchone()[0]
    book._db.execute(f"PRAGMA max_page_count = {pages}")
    return dataclasses.replace(result, error="printed " * 8192)


def test_a_gradebook_that_cannot_grow_keeps_its_results(graded):
    with Gradebook(graded / FILENAME, "dlcourse") as book:
        before = book.results(ASSIGNMENT)
        with pytest.raises(GradebookError, match="cannot write a result to the gradebook .* is "
                                                 "full .* what it holds is unchanged"):
            book.record(cannot_grow(book, before[0]))
    with Gradebook(graded / FILENAME, "dlcourse") as book:
        assert book.results(ASSIGNMENT) == before and book.history(ASSIGNMENT) == []


def test_a_file_that_is_not_a_gradebook_is_left_as_it_was(tmp_path):
    path = tmp_path / "notes.sqlite"
    path.write_bytes(b"my own notes, not SQLite " * 200)
    with pytest.raises(GradebookError, match="not an autograder gradebook .* move this file aside"):
        Gradebook(path, "dlcourse")
    assert path.read_bytes() == b"my own notes, not SQLite " * 200
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.sqlite"]


def test_grade_stops_with_one_line_when_the_gradebook_cannot_grow(tmp_path, monkeypatch):
    course = nbs.course(tmp_path / "c", {"amy": nbs.CORRECT, "bob": nbs.PARTLY})
    record = Gradebook.record

    def full(book, result, *args):
        return record(book, cannot_grow(book, result), *args)

    monkeypatch.setattr(Gradebook, "record", full)
    result = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course),
                                       "--workers", "1"])
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert len(error) == 1 and "Traceback" not in result.output, result.output
    assert "is full" in error[0] and "This run recorded 0 of 2 result(s)" in error[0]
    monkeypatch.setattr(Gradebook, "record", record)
    again = CliRunner().invoke(main, ["grade", nbs.ASSIGNMENT, "--course", str(course),
                                      "--workers", "1"])
    assert again.exit_code == 0 and "0 already graded; 2 to grade" in again.output, again.output
