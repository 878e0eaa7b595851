"""ARCHITECTURE.md and CONTRIBUTING.md stay true: every file or folder they name exists."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
#: A path in backquotes: starts at a top-level folder of the repository, ends in a file or a slash.
NAMED = re.compile(r"`((?:toolkit|autograder|assignments|tests|benchmarks)/[\w./<>-]*)`")


@pytest.mark.parametrize("document", ["ARCHITECTURE.md", "CONTRIBUTING.md"])
def test_every_path_the_map_names_exists(document):
    text = (REPO / document).read_text(encoding="utf-8")
    named = {m.group(1) for m in NAMED.finditer(text) if "<" not in m.group(1)}
    assert len(named) > 5 or document == "CONTRIBUTING.md", "the map names almost nothing"
    missing = sorted(p for p in named if not (REPO / p).exists())
    assert not missing, f"{document} names paths that no longer exist: {missing}"


def test_every_engine_module_is_on_the_map():
    """A new module of the grading engine gets its line in the map."""
    text = (REPO / "ARCHITECTURE.md").read_text(encoding="utf-8")
    engine = REPO / "autograder" / "engine"
    modules = sorted(p.relative_to(REPO).as_posix() for p in engine.glob("*.py")
                     if p.name != "__init__.py")
    assert [m for m in modules if f"`{m}`" not in text] == []
