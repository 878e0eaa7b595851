"""What a grade depends on besides the submission and the course: the grader's own code, Python, and
the libraries that the student's code and the test cells run on. Two machines that differ in any
of them can grade the same submission differently (a NumPy release that rounds a sum otherwise,
an engine fix on one and not the other), so a cluster grades only on workers whose environment is
the client's: ``DaskPool`` refuses a cluster with others, and a worker that joins later refuses
each job, which the pool then grades elsewhere."""

from __future__ import annotations

import functools
import importlib.metadata
import platform
from pathlib import Path

import autograder
import toolkit
from toolkit.kernels.jit import sources_stamp

#: The distributions a grade depends on: the student's arrays and kernels, the test cells' checks
#: and partial credit (IPython's pretty printer), the notebooks' reading, plots.
LIBRARIES = ("numpy", "numba", "llvmlite", "numba-cuda", "scipy", "ipython", "nbformat",
             "matplotlib")
#: The packages whose sources (every .py file, hashed) grade.
PACKAGES = (autograder, toolkit)


@functools.cache
def grading_environment() -> dict[str, str]:
    """This machine's grading environment: Python's version, each of ``LIBRARIES``' versions, and
    a hash of the sources of ``PACKAGES``."""
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    for package in PACKAGES:
        found[f"{package.__name__} sources"] = sources_stamp(Path(package.__file__).parent)[:12]
    return found


def differences(theirs: dict[str, str], mine: dict[str, str]) -> list[str]:
    """How another machine's grading environment differs from this one's, one phrase each
    ("numpy 2.3.1 there, 2.4.0 here")."""
    return [f"{key} {theirs.get(key, 'unknown')} there, {mine.get(key, 'unknown')} here"
            for key in sorted(set(theirs) | set(mine)) if theirs.get(key) != mine.get(key)]
