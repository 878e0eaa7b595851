"""Writing a run's results (JSON record, table text): parents created, written whole or not at
all, through a temporary file renamed into place, so a crash never leaves half a file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from toolkit.files import atomic_file


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    with atomic_file(path, encoding="utf-8") as out:
        out.write(text)
    return Path(path)


def write_json(path: str | Path, record: dict[str, Any]) -> Path:
    """Write ``record`` as indented JSON (no NaN or infinity: strict JSON) atomically."""
    return write_text(path, json.dumps(record, indent=2, allow_nan=False) + "\n")
