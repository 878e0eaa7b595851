"""The nbgrader course directory: where it is, its course id, its assignments and their manifests.

Layout (nbgrader's, plus the manifest this tool writes)::

    <course>/nbgrader_config.py            c.CourseDirectory.course_id = "..."
    <course>/deadlines.toml                due dates and late policies (autograder.deadlines)
    <course>/roster.csv                    the default roster (autograder.roster)
    <course>/source/<assignment>/*.ipynb   the source of truth
    <course>/release/<assignment>/*.ipynb  what students get (nbgrader generate_assignment)
    <course>/submitted/<student>/<assignment>/*.ipynb
    <course>/manifests/<assignment>.json   graded cells, points and checksums (autograder generate)
    <course>/autograder.sqlite             the gradebook (autograder.gradebook)

The course id is the gradebook's (autograder.gradebook.course_id): nbgrader_config.py's
c.CourseDirectory.course_id, else the folder's name.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import nbformat
from nbgrader.utils import compute_checksum, is_grade, is_locked, is_solution

from autograder.gradebook import course_id

CONFIG = "nbgrader_config.py"


def find_course(path: str | Path | None = None) -> Path:
    """The course directory: `path`, else $AUTOGRADER_COURSE, else the current folder or
    ./assignments."""
    candidates = [Path(path)] if path else (
        [Path(os.environ["AUTOGRADER_COURSE"])] if os.environ.get("AUTOGRADER_COURSE")
        else [Path.cwd(), Path.cwd() / "assignments"])
    for folder in candidates:
        if (folder / CONFIG).is_file():
            return folder.resolve()
    raise ValueError(f"no nbgrader course directory at {', '.join(map(str, candidates))} (none has "
                     f"{CONFIG}): pass --course DIR")


def assignments(course_dir: str | Path) -> list[str]:
    """The assignments in the course's source folder."""
    source = Path(course_dir) / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) \
        if source.is_dir() else []


def check_assignment(course_dir: str | Path, assignment: str) -> None:
    """Raise ValueError naming the known assignments when `assignment` is not one of them."""
    known = assignments(course_dir)
    if assignment not in known:
        raise ValueError(f"unknown assignment {assignment!r} in {course_dir}: the course has "
                         f"{', '.join(known) or 'no assignments under source/'}")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_manifest(course_dir: str | Path, assignment: str) -> dict[str, Any]:
    """Graded cells (grade_id, points, hidden tests) with nbgrader's checksums, and file hashes.

    ``source_checksum`` is nbgrader's checksum of the source cell; ``release_checksum`` the one
    `nbgrader generate_assignment` stored in the released cell, which a submission's unedited
    read-only cells still carry.
    """
    course_dir = Path(course_dir)
    notebooks = {}
    for path in sorted((course_dir / "source" / assignment).glob("*.ipynb")):
        release = course_dir / "release" / assignment / path.name
        released = {}
        if release.exists():
            for cell in nbformat.read(release, as_version=4).cells:
                meta = cell.get("metadata", {}).get("nbgrader", {})
                if "grade_id" in meta:
                    released[meta["grade_id"]] = meta.get("checksum", "")
        cells = []
        for cell in nbformat.read(path, as_version=4).cells:
            meta = cell.get("metadata", {}).get("nbgrader")
            if not meta or not (is_grade(cell) or is_solution(cell) or is_locked(cell)):
                continue
            cells.append({"grade_id": meta["grade_id"],
                          "kind": "tests" if is_grade(cell) and not is_solution(cell)
                          else "solution" if is_solution(cell) else "locked",
                          "points": float(meta.get("points", 0)) if is_grade(cell) else 0.0,
                          "hidden": "BEGIN HIDDEN TESTS" in cell.source,
                          "source_checksum": compute_checksum(cell),
                          "release_checksum": released.get(meta["grade_id"], "")})
        notebooks[path.name] = {
            "source_sha256": _sha256(path),
            "release_sha256": _sha256(release) if release.exists() else "",
            "cells": cells,
            "max_score": sum(c["points"] for c in cells if c["kind"] == "tests"),
        }
    return {"course_id": course_id(course_dir), "assignment": assignment,
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "max_score": sum(n["max_score"] for n in notebooks.values()), "notebooks": notebooks}


def manifest_path(course_dir: str | Path, assignment: str) -> Path:
    """Where `autograder generate` writes the manifest of `assignment`."""
    return Path(course_dir) / "manifests" / f"{assignment}.json"


def read_manifest(course_dir: str | Path, assignment: str) -> dict[str, Any] | None:
    """The manifest `autograder generate` wrote, or None before it ran."""
    path = manifest_path(course_dir, assignment)
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None
