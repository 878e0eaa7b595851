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
    args = sandbox.bwrap_command(["true"], "/tmp/work")
    tmpfs = [i for i, a in enumerate(args) if a == "--tmpfs" and args[i + 1] == "/tmp"]
    bind = args.index("/tmp/checkout/.venv")
    assert len(tmpfs) == 1 and tmpfs[0] < bind


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_a_package_root_under_tmp_is_readable_inside(monkeypatch):
    with tempfile.TemporaryDirectory(dir="/tmp") as root, tempfile.TemporaryDirectory() as work:
        (Path(root) / "marker.txt").write_text("seen")
        monkeypatch.setattr(sandbox, "_package_roots", lambda: [root])
        probe = subprocess.run(sandbox.bwrap_command(["/bin/true"], work), capture_output=True)
        if probe.returncode != 0:
            pytest.skip(f"bubblewrap cannot create its namespaces here: {probe.stderr.decode()[-200:]}")
        done = subprocess.run(sandbox.bwrap_command(["/bin/cat", f"{root}/marker.txt"], work),
                              capture_output=True, text=True)
        assert done.returncode == 0 and done.stdout == "seen", done.stderr
