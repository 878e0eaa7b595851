"""A course's grading settings, in ``autograder.toml`` next to nbgrader_config.py::

    [limits]             # what one submission may use; any key left out keeps its default
    memory_mb = 2048     # address space per process, and with cgroups the whole tree's memory
    tmp_mb = 256         # its private /tmp, a tmpfs (bubblewrap)
    shm_mb = 64          # its /dev/shm
    work_mb = 256        # its work folder
    nproc = 1100         # processes and threads (the CUDA simulator: one per GPU thread)
    thread_stack_kb = 1024   # each thread's stack
    cpu_s = 3600         # CPU seconds per process (default: its wall-clock budget on every core)
    submission_s = 1800  # wall-clock seconds for the whole submission (default: each cell its
                         # timeout, nbgrader's only bound on a notebook)
    cell_timeout_s = 120 # ... for one student cell; call_timeout_s for one test cell
    gpu = true           # open the machine's NVIDIA GPUs to it where a memory cgroup caps it

The keys are the fields of ``engine.sandbox.Limits`` (their comments say what each caps). A file
with an unknown key or a value of the wrong kind is refused with a message naming it.

The timeouts follow nbgrader's unless the file sets them: a cell that runs past nbgrader's
``Execute.timeout`` is interrupted there, and in the engine (``load_limits``). nbgrader bounds a
notebook by nothing else, so by default neither does the engine: the submission's budget is each
cell's timeout, and its CPU seconds what that budget gives on every core. A course that sets
``submission_s`` or ``cpu_s`` lower can end honest work that nbgrader would grade in full.
"""

from __future__ import annotations

import dataclasses
import tomllib
from pathlib import Path

from autograder.engine.sandbox import Limits

#: The file name, relative to the course directory.
FILENAME = "autograder.toml"
#: nbgrader's configuration file in the course directory.
CONFIG = "nbgrader_config.py"
#: Limits with a floor above zero: threading.stack_size refuses less than 32 KiB, and a thread
#: that runs Python needs more.
MINIMUM = {"thread_stack_kb": 64}
#: A cell's timeout where nbgrader has none and ``autograder.toml`` sets no ``submission_s``.
UNTIMED_CELL_S = 600.0


def load_limits(course_dir: str | Path) -> Limits:
    """The course's limits; ValueError for a file that cannot be read or a key or value that is
    wrong. Each limit is, first to last: what ``autograder.toml`` sets; for ``cell_timeout_s``
    and ``call_timeout_s``, nbgrader's timeout for the course's cells (``nbgrader_timeout``;
    where it has none, ``submission_s`` or UNTIMED_CELL_S); ``Limits()``'s default."""
    values = _toml_limits(Path(course_dir) / FILENAME)
    timeout = nbgrader_timeout(course_dir)
    if timeout is None:
        timeout = values.get("submission_s", UNTIMED_CELL_S)
    return dataclasses.replace(Limits(), **{"cell_timeout_s": timeout,
                                            "call_timeout_s": timeout, **values})


def nbgrader_timeout(course_dir: str | Path) -> float | None:
    """Seconds a cell may run before nbgrader interrupts it, as it reads the course's
    nbgrader_config.py (``c.Execute.timeout``, or a class it inherits from, else nbgrader's
    default); None where it has no timeout (None, 0 or less)."""
    from nbgrader.preprocessors import Execute

    timeout = Execute(config=_nbgrader_config(course_dir)).timeout
    return float(timeout) if timeout is not None and timeout > 0 else None


def exchange_timezone(course_dir: str | Path) -> str:
    """The time zone nbgrader's exchange writes a submission's timestamp.txt in, as it reads the
    course's nbgrader_config.py (``c.Exchange.timezone`` or ``c.ExchangeSubmit.timezone``, else
    nbgrader's "UTC"): the zone whose abbreviations (PST, IST) those timestamps end with."""
    from nbgrader.exchange.default.submit import ExchangeSubmit

    return ExchangeSubmit(config=_nbgrader_config(course_dir)).timezone


def _nbgrader_config(course_dir: str | Path):
    """The course's nbgrader_config.py as nbgrader loads it (empty without the file)."""
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    path = Path(course_dir) / CONFIG
    try:
        return (PyFileConfigLoader(path.name, path=str(path.parent)).load_config()
                if path.is_file() else Config())
    except Exception as error:  # noqa: BLE001 - the course's Python file may raise anything
        raise ValueError(f"cannot read {path}: {error}") from None


def _toml_limits(path: Path) -> dict[str, int | float | bool]:
    """The limits ``autograder.toml`` at ``path`` sets, checked (none without the file)."""
    if not path.exists():
        return {}
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
        kind = float if str(fields[key].type).startswith("float") else int
        if (type(value) not in (int, float) or (kind is int and type(value) is not int)
                or not value > 0):
            example = 256 if kind is int else 60.0
            raise ValueError(f"{path}: {key} = {value!r} must be a positive "
                             f"{'whole number' if kind is int else 'number'}, e.g. {key} = "
                             f"{example}")
        if value < MINIMUM.get(key, 0):
            raise ValueError(f"{path}: {key} = {value!r} is too small for Python to start a "
                             f"thread; give at least {key} = {MINIMUM[key]}")
        values[key] = kind(value)
    return values
