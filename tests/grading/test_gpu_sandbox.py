"""A grading machine's GPUs are opened to the sandbox where a memory cgroup caps it: the driver's
device nodes appear under /dev, /sys is readable, and the child has no address-space limit (CUDA
maps far more address space than it uses). Without a cgroup, or with ``gpu = false``, the
submission gets no device and the CUDA simulator grades it.

No GPU is needed: stand-in character devices (made with mknod, as root) take the driver's nodes'
place, and the submission only looks at what it was given.
"""

from __future__ import annotations

import ast
import os
import stat
from pathlib import Path

import pytest

from autograder.engine import sandbox
from autograder.engine.pipeline import grade_submission
from autograder.engine.sandbox import Limits
from autograder.engine.worker import Worker
from tests.helpers import notebooks as nbs

#: A student cell that records what it can see of a GPU, and a test cell that prints it.
LOOK = """import os, resource
seen = {"nodes": sorted(n for n in os.listdir("/dev") if n.startswith("nvidia")),
        "sys": os.path.isdir("/sys/devices"),
        "unlimited": resource.getrlimit(resource.RLIMIT_AS)[0] == resource.RLIM_INFINITY}
"""
SHOW = "print('seen', seen)\n"


def stand_in_devices(folder: Path, names: tuple[str, ...]) -> list[str]:
    """Character devices named like the driver's (the null device's numbers), or skip."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for name in names:
        try:
            os.mknod(folder / name, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
        except PermissionError:
            pytest.skip("making device nodes needs root")
        made.append(str(folder / name))
    return made


def look(worker: Worker, course: Path) -> tuple[dict, object]:
    cells = [nbs.cell(LOOK, "solution", solution=True), nbs.cell(SHOW, "test_look", points=1)]
    nbs.write(course / "source" / "ps" / "ps.ipynb", cells)
    nbs.write(course / "submitted" / "s" / "ps" / "ps.ipynb", cells)
    result = grade_submission("ps", "s", course / "source" / "ps",
                              course / "submitted" / "s" / "ps", worker)
    output = result.tests[0].output
    return ast.literal_eval(output[output.index("{"):output.rindex("}") + 1]), result


def test_the_gpu_devices_are_the_drivers_character_nodes(tmp_path):
    stand_in_devices(tmp_path, ("nvidia0", "nvidiactl", "nvidia-uvm"))
    (tmp_path / "nvidia-notes").write_text("a file, not a device")
    (tmp_path / "nvidia-caps").mkdir()
    (tmp_path / "null-ish").write_text("")
    assert sandbox.gpu_devices(str(tmp_path)) == [
        str(tmp_path / n) for n in ("nvidia-uvm", "nvidia0", "nvidiactl")]


def test_bubblewrap_binds_each_device_under_dev_and_sys_read_only():
    argv = sandbox.bwrap_command(["true"], devices=["/somewhere/nvidia0", "/somewhere/nvidiactl"])
    at = [i for i, a in enumerate(argv) if a == "--dev-bind"]
    assert [argv[i + 1:i + 3] for i in at] == [["/somewhere/nvidia0", "/dev/nvidia0"],
                                               ["/somewhere/nvidiactl", "/dev/nvidiactl"]]
    assert min(at) > argv.index("--dev")  # on top of the sandbox's own /dev
    assert argv[argv.index("/sys") - 1] == "--ro-bind"
    plain = sandbox.bwrap_command(["true"])
    assert "--dev-bind" not in plain and "/sys" not in plain


def test_course_settings_turn_the_gpu_off_in_words(tmp_path):
    from autograder.settings import load_limits

    (tmp_path / "autograder.toml").write_text("[limits]\ngpu = false\n")
    assert load_limits(tmp_path) == Limits(gpu=False)
    (tmp_path / "autograder.toml").write_text("[limits]\ngpu = 0\n")
    with pytest.raises(ValueError, match="gpu = 0 must be true or false"):
        load_limits(tmp_path)


@pytest.mark.skipif(sandbox.isolation() != "bubblewrap", reason="needs bubblewrap")
def test_a_sandbox_with_a_gpu_sees_its_nodes_and_no_address_space_limit(tmp_path, monkeypatch):
    nodes = stand_in_devices(tmp_path / "dev", ("nvidia0", "nvidiactl"))
    monkeypatch.setattr(sandbox, "gpu_devices", lambda: nodes)
    worker = Worker(Limits())
    try:
        if worker.cgroup is None:
            pytest.skip("this grader may not create cgroups here")
        assert worker.gpus == nodes
        seen, result = look(worker, tmp_path / "with")
        assert seen == {"nodes": ["nvidia0", "nvidiactl"], "sys": True, "unlimited": True}
        assert result.limits["gpu_devices"] == 2 and result.limits["gpu"] is True
    finally:
        worker.close()
    worker = Worker(Limits(gpu=False))
    try:
        seen, result = look(worker, tmp_path / "without")
        assert seen == {"nodes": [], "sys": False, "unlimited": False}
        assert result.limits["gpu_devices"] == 0
    finally:
        worker.close()
