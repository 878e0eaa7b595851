"""Temporary folders that outlive no process: a grader killed with SIGKILL cannot remove what it
made in /tmp, so each folder names the processes it belongs to, and the next grader on the
machine removes the folders whose processes are all gone."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

#: The mark that each process sharing a folder leaves in it: this, then its process id.
OWNER_MARK = ".owner-"


def _alive(pid: str) -> bool:
    return pid.isdigit() and Path(f"/proc/{pid}").exists()


def owned_folder(prefix: str) -> Path:
    """A new temporary folder named ``prefix``, this process's id and a random part; first,
    those of the same prefix whose process is gone are removed."""
    for folder in Path(tempfile.gettempdir()).glob(prefix + "*"):
        owner, _, rest = folder.name[len(prefix):].partition("-")
        if owner.isdigit() and rest and not _alive(owner):
            shutil.rmtree(folder, ignore_errors=True)
    return Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-"))


def shared_folder(prefix: str, key: str) -> Path:
    """The temporary folder ``prefix`` + ``key`` that the processes of one run share (a run's
    Dask workers on one machine), marked as this process's too; first, the folders of other runs
    of the same prefix whose marked processes are all gone are removed."""
    for folder in Path(tempfile.gettempdir()).glob(prefix + "*"):
        owners = [mark.name[len(OWNER_MARK):] for mark in folder.glob(OWNER_MARK + "*")]
        if folder.name != prefix + key and owners and not any(map(_alive, owners)):
            shutil.rmtree(folder, ignore_errors=True)
    folder = Path(tempfile.gettempdir()) / f"{prefix}{key}"
    folder.mkdir(mode=0o700, exist_ok=True)
    (folder / f"{OWNER_MARK}{os.getpid()}").touch()
    return folder


def leave_shared_folder(folder: Path) -> None:
    """This process no longer shares ``folder``: removed with the last of its processes."""
    (folder / f"{OWNER_MARK}{os.getpid()}").unlink(missing_ok=True)
    if not any(_alive(mark.name[len(OWNER_MARK):]) for mark in folder.glob(OWNER_MARK + "*")):
        shutil.rmtree(folder, ignore_errors=True)
