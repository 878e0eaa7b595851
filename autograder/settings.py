"""A course's grading settings, in ``autograder.toml`` next to nbgrader_config.py::

    [limits]             # what one submission may use; any key left out keeps its default
    memory_mb = 2048     # address space per process, and with cgroups the whole tree's memory
    tmp_mb = 256         # its private /tmp, a tmpfs (bubblewrap)
    shm_mb = 64          # its /dev/shm
    work_mb = 256        # its work folder
    nproc = 64           # processes (threads too, with cgroups)
    submission_s = 300   # wall-clock seconds for the whole submission
    cell_timeout_s = 60  # ... for one student cell; call_timeout_s for one call from a test
    gpu = true           # open the machine's NVIDIA GPUs to it where a memory cgroup caps it

The keys are the fields of ``engine.sandbox.Limits`` (their comments say what each caps). A file
with an unknown key or a value of the wrong kind is refused with a message naming it.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from autograder.engine.sandbox import Limits

#: The file name, relative to the course directory.
FILENAME = "autograder.toml"


def load_limits(course_dir: str | Path) -> Limits:
    """The course's limits: ``Limits()`` with what ``autograder.toml`` sets; ValueError for a
    file that cannot be read or a key or value that is wrong."""
    path = Path(course_dir) / FILENAME
    if not path.exists():
        return Limits()
    try:
        table = tomllib.loads(path.read_text(encoding="utf-8")).get("limits", {})
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ValueError(f"cannot read {path}: {error}") from None
    if not isinstance(table, dict):
        raise ValueError(f"{path}: [limits] must be a table of keys, e.g. tmp_mb = 256")
    fields = {f.name: f for f in dataclasses.fields(Limits)}
    values = {}
    for key, value in table.items():
        if key not in fields:
            raise ValueError(f"{path}: unknown limit {key!r}; known: {', '.join(fields)}")
        if fields[key].type in ("bool", bool):
            if type(value) is not bool:
                raise ValueError(f"{path}: {key} = {value!r} must be true or false, e.g. "
                                 f"{key} = false")
            values[key] = value
            continue
        kind = float if fields[key].type in ("float", float) else int
        if (type(value) not in (int, float) or (kind is int and type(value) is not int)
                or not value > 0):
            example = 256 if kind is int else 60.0
            raise ValueError(f"{path}: {key} = {value!r} must be a positive "
                             f"{'whole number' if kind is int else 'number'}, e.g. {key} = "
                             f"{example}")
        values[key] = kind(value)
    return dataclasses.replace(Limits(), **values)
