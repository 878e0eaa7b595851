"""Results are written whole, with the permissions any new file gets, parents created."""

from __future__ import annotations

import json
import os
import stat

import pytest

from toolkit.bench.files import write_json, write_text


def test_json_is_written_whole_with_ordinary_permissions(tmp_path):
    path = write_json(tmp_path / "a" / "b" / "bench.json", {"rows": [1, 2], "gpu": None})
    assert json.loads(path.read_text()) == {"rows": [1, 2], "gpu": None}
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask
    assert [p.name for p in path.parent.iterdir()] == ["bench.json"]  # no temporary left


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_text(tmp_path / "bench.json", "old\n")
    with pytest.raises(ValueError):
        write_json(path, {"rate": float("nan")})  # strict JSON refuses NaN
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["bench.json"]
