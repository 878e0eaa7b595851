"""Files written whole or not at all: a temporary file (or folder) beside the target, renamed
onto it only when the writing succeeded, so a crash or an error never leaves half a file."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_file(path: str | Path, mode: str = "w", **kwargs) -> Iterator:
    """Open a temporary file beside `path`; rename it onto `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, mode, **kwargs) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `path`; it replaces `path` only if the block
    succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.replace(path, old / "previous")
    os.replace(tmp, path)
    _fsync_dir(path.parent)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


#: Errors of a disk with no room left, and of a place one may not write to.
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
NOT_WRITABLE = (errno.EACCES, errno.EPERM, errno.EROFS)


def free_bytes(where: str | Path) -> int | None:
    """Bytes free for this user on the disk holding ``where`` (or its nearest existing folder)."""
    place = Path(where).absolute()
    while not place.exists() and place != place.parent:
        place = place.parent
    try:
        return shutil.disk_usage(place).free
    except OSError:
        return None


def why_not_written(error: OSError, where: str | Path) -> str:
    """What an ``OSError`` from writing under ``where`` means, and what to do about it."""
    if error.errno in DISK_FULL:
        return disk_full(where)
    if error.errno in NOT_WRITABLE:
        return (f"{where} is not writable ({os.strerror(error.errno)}): write somewhere you may, "
                "or change its permissions")
    return f"{error.strerror or error} ({where})"


def disk_full(where: str | Path) -> str:
    """That the disk holding ``where`` is full, how full, and what to do."""
    free = free_bytes(where)
    room = "" if free is None else f" ({free // 1024} KiB free)"
    return (f"the disk holding {where} is full{room}: free some space there, then run the "
            "command again")
