"""The bubblewrap command line: what the sandboxed child can see."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from autograder.engine import sandbox


def test_private_tmp_is_mounted_before_package_roots_under_tmp(monkeypatch):
    """A checkout under /tmp (CI clones anywhere) must not be hidden by the sandbox's own /tmp."""
    monkeypatch.setattr(sandbox, "_package_roots", lambda: ["/tmp/checkout/.venv"])
    args = sandbox.bwrap_command(["true"])
    tmpfs = [i for i, a in enumerate(args) if a == "--tmpfs" and args[i + 1] == "/tmp"]
    bind = args.index("/tmp/checkout/.venv")
    assert len(tmpfs) == 1 and tmpfs[0] < bind


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_package_root_under_tmp_is_readable_inside(monkeypatch):
    with tempfile.TemporaryDirectory(dir="/tmp") as root:
        (Path(root) / "marker.txt").write_text("seen")
        monkeypatch.setattr(sandbox, "_package_roots", lambda: [root])
        probe = subprocess.run(sandbox.bwrap_command(["/bin/true"]), capture_output=True)
        if probe.returncode != 0:
            pytest.skip("bubblewrap cannot create its namespaces here: "
                        f"{probe.stderr.decode()[-200:]}")
        done = subprocess.run(sandbox.bwrap_command(["/bin/cat", f"{root}/marker.txt"]),
                              capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout == "seen", done.stderr


def test_every_writable_place_is_a_tmpfs_of_the_course_size():
    limits = sandbox.Limits(tmp_mb=7, shm_mb=5, work_mb=3)
    args = sandbox.bwrap_command(["true"], limits)
    sizes = {args[i + 3]: int(args[i + 1]) >> 20 for i, a in enumerate(args) if a == "--size"}
    assert sizes == {"/tmp": 7, "/dev/shm": 5, sandbox.WORKDIR: 3}
    assert [args[i + 1] for i, a in enumerate(args) if a == "--bind"] == []  # nothing of the host's


WRITER = """
import errno, os
written = 0
try:
    with open(os.path.join({folder!r}, "fill"), "wb") as f:
        for _ in range(64):
            f.write(b"x" * 2**20)
            f.flush()
            written += 1
except OSError as error:
    print(written, errno.errorcode[error.errno])
else:
    print(written, "no error")
"""


@pytest.mark.skipif(sandbox.isolation() != "bubblewrap", reason="bubblewrap is not usable here")
@pytest.mark.parametrize("folder", ["/tmp", "/dev/shm", sandbox.WORKDIR])
def test_writes_past_a_tmpfs_cap_fail_with_no_space(folder):
    """64 MB written into a place capped at 4 MB stops at the cap (harmless without bubblewrap:
    the test is skipped, and the writer never goes past 64 MB)."""
    limits = sandbox.Limits(tmp_mb=4, shm_mb=4, work_mb=4)
    done = subprocess.run(sandbox.bwrap_command([sys.executable, "-c",
                                                 WRITER.format(folder=folder)], limits),
                          capture_output=True, text=True, env=sandbox.sandbox_env(), timeout=60)
    written, error = done.stdout.split()
    assert error == "ENOSPC" and int(written) <= 4, done.stdout + done.stderr
