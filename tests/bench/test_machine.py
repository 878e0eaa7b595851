"""What the run records about the machine: CPU, BLAS and its core type, the variables that steer
it, and whether other processes were busy."""

from __future__ import annotations

import sys

from toolkit.bench import machine


def test_describe_names_the_cpu_the_blas_and_the_versions():
    info = machine.describe()
    assert info["cpu"] and info["cores"] >= 1
    assert info["versions"]["numpy"] and info["versions"]["numba"]
    assert info["blas"] and info["blas"][0]["internal_api"]  # threadpoolctl sees NumPy's BLAS


def test_blas_variables_are_reported_with_the_advice_to_unset_them(monkeypatch):
    monkeypatch.setenv("OPENBLAS_CORETYPE", "Haswell")
    monkeypatch.delenv("OPENBLAS_L2_SIZE", raising=False)
    info = machine.describe()
    assert info["blas_environment"]["OPENBLAS_CORETYPE"] == "Haswell"
    assert "OPENBLAS_L2_SIZE" not in info["blas_environment"]
    summary = machine.blas_summary(info)
    assert "OPENBLAS_CORETYPE=Haswell" in summary and "unset them" in summary


def test_a_busy_machine_is_said_to_be_noisy():
    assert machine.load_warning({"load_average": 1.5, "cores": 2}) is None
    assert "noisy" in machine.load_warning({"load_average": 7.2, "cores": 2})
    assert machine.load_warning({"cores": 2}) is None


def test_without_threadpoolctl_numpy_names_its_blas(monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)
    (library,) = machine.blas()
    assert "openblas" in library["internal_api"].lower()  # what NumPy's wheels bundle
    assert library["version"]
    assert "threadpoolctl" in library["source"]
    assert machine.blas_summary({"blas": [library], "blas_environment": {}}).startswith(
        library["internal_api"])
