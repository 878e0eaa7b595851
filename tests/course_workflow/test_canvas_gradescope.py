"""Canvas's gradebook CSV layout and Gradescope's results.json schema."""

from __future__ import annotations

import csv
import json

import jsonschema
import pytest

from autograder.export import export, grades_for
from autograder.results import SubmissionResult
from autograder.roster import Roster, Student

from .conftest import ASSIGNMENT, XSS

#: Gradescope's autograder output specification (results.json), the parts this export uses.
VISIBILITY = {"enum": ["hidden", "after_due_date", "after_published", "visible"]}
GRADESCOPE_SCHEMA = {
    "type": "object",
    "required": ["score", "tests"],
    "additionalProperties": False,
    "properties": {
        "score": {"type": "number"}, "execution_time": {"type": "number"},
        "output": {"type": "string"}, "visibility": VISIBILITY, "stdout_visibility": VISIBILITY,
        "tests": {"type": "array", "items": {
            "type": "object",
            "required": ["score", "max_score", "name", "output", "visibility"],
            "additionalProperties": False,
            "properties": {"score": {"type": "number"}, "max_score": {"type": "number"},
                           "status": {"enum": ["passed", "failed"]}, "name": {"type": "string"},
                           "number": {"type": "string"}, "output": {"type": "string"},
                           "visibility": VISIBILITY}}},
    },
}


def test_canvas_csv_layout(tmp_path, results, roster, deadlines):
    grades = grades_for(ASSIGNMENT, results, roster=roster, deadlines=deadlines)
    [path] = export("canvas", grades, tmp_path)["canvas"]
    with path.open(newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", ASSIGNMENT]
    assert table[1] == ["    Points Possible", "", "", "", "", "6.00"]
    body = {row[1]: row for row in table[2:]}
    assert body["1001"] == ["Liddell, Alice", "1001", "S1", "aliddell", "A", "5.40"]   # 6 less 10%
    assert body["1002"][-1] == "3.50"
    assert body["1003"][-1] == "0.00"          # handed in, could not be graded
    # no submission: empty, so that the import keeps Canvas's grade (an "EX", one entered by hand)
    assert body["1004"][0] == "Bowman, Dave" and body["1004"][-1] == ""
    assert len(table) == 2 + len(roster)


def test_canvas_leaves_a_missing_notebook_empty_and_takes_a_column_header(tmp_path, results,
                                                                          roster):
    """A result whose notebook was missing is no grade either; `column` heads the assignment's
    column, for Canvas to match it to its assignment by "Title (id)"."""
    missing = SubmissionResult(ASSIGNMENT, "dave", (), status="missing", error="no notebook")
    grades = grades_for(ASSIGNMENT, results + [missing], roster=roster)
    [path] = export("canvas", grades, tmp_path,
                    settings={"canvas": {"column": "HW1 Tensors, part 1 (12345)"}})["canvas"]
    with path.open(newline="") as fh:
        table = list(csv.reader(fh))
    assert table[0][-1] == "HW1 Tensors, part 1 (12345)"
    assert {row[1]: row[-1] for row in table[2:]}["1004"] == ""


def test_canvas_needs_canvas_ids_and_writes_nothing_without(tmp_path, results):
    roster = Roster([Student("alice", canvas_id="1"), Student("bob", canvas_id="2"),
                     Student("carol")])
    grades = grades_for(ASSIGNMENT, results, roster=roster)
    with pytest.raises(ValueError, match="carol"):
        export(["csv", "canvas"], grades, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ValueError, match="roster"):
        export("canvas", grades_for(ASSIGNMENT, results), tmp_path / "out")


def test_gradescope_results_json_schema(tmp_path, results, roster, deadlines):
    grades = grades_for(ASSIGNMENT, results, roster=roster, deadlines=deadlines)
    paths = export("gradescope", grades, tmp_path)["gradescope"]
    assert sorted(p.parent.name for p in paths) == ["alice", "bob", "carol"]
    data = {p.parent.name: json.loads(p.read_text()) for p in paths}
    for d in data.values():
        jsonschema.validate(d, GRADESCOPE_SCHEMA)
    alice = data["alice"]
    assert alice["score"] == pytest.approx(5.4)
    assert sum(t["score"] for t in alice["tests"]) == 6.0
    assert [t["max_score"] for t in alice["tests"]] == [2.0, 1.0, 3.0]
    assert "Late penalty" in alice["output"]
    hidden = [t for t in data["bob"]["tests"] if t["name"] == "test_relu"]
    assert hidden[0]["visibility"] == "after_published" and hidden[0]["status"] == "failed"
    assert "SECRET" not in json.dumps(data)       # a hidden test's captured output never leaves
    visible = next(t for t in data["bob"]["tests"] if t["name"] == "test_dot")
    assert visible["visibility"] == "visible" and "printed by the test cell" in visible["output"]
    assert data["carol"]["score"] == 0 and "not valid JSON" in data["carol"]["output"]
    # JSON carries text as it is; Gradescope escapes
    assert XSS in data["bob"]["tests"][0]["output"]


def test_export_rerun_replaces_the_folder(tmp_path, results):
    export("gradescope", grades_for(ASSIGNMENT, results), tmp_path)
    export("gradescope", grades_for(ASSIGNMENT, results[:1]), tmp_path)
    assert sorted(p.name for p in (tmp_path / "gradescope" / ASSIGNMENT).iterdir()) == ["alice"]
    assert [p.name for p in (tmp_path / "gradescope").iterdir()] == [ASSIGNMENT]   # no temp left


def test_grades_for_rejects_bad_input(results, roster):
    with pytest.raises(ValueError, match="roster is missing 1 student.*carol"):
        grades_for(ASSIGNMENT, results, roster=Roster([s for s in roster if s.id != "carol"]))
    with pytest.raises(ValueError, match="other"):
        grades_for("other", results)
    with pytest.raises(ValueError, match="more than one result.*alice"):
        grades_for(ASSIGNMENT, results + results[:1])
    with pytest.raises(ValueError, match="unknown export format"):
        from autograder.export import export as export_
        export_("pdf", grades_for(ASSIGNMENT, results), "/nonexistent")
