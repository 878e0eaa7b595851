#!/usr/bin/env bash
# Every GPU check the open issues ask for, in ONE call on the device machine (15 minutes of
# device time a session, the machine's start included):
#   1. assignment 05_gpu_kernels graded on the GPU (gpu_grading_check.py: solution, stub, racing);
#   2. the cuda backend's figures against the device's ceilings (device_check.py);
#   3. the cuda tests on the real GPU, for what time is left.
#
# Here first, from the project root (the device has no nbgrader, no IPython, and a NumPy that
# its numba-cuda does not import with):
#   bash ../shared/device/prepare-wheels.sh $(.venv/bin/python benchmarks/gpu_grading_check.py wheels)
#   .venv/bin/python benchmarks/gpu_grading_check.py prepare .gpu_course
# then the device tool's run with carry [".whl", ".gpu_course"], timeout_s 560 and the command
#   bash benchmarks/device_run.sh
# Its logs and JSON come back from $OUT. Exit code: 0 when both checks passed.
set -uo pipefail
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 3
export PYTHONPATH=/tmp/site:$PWD PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/device_out}
mkdir -p "$OUT"
nvidia-smi -L
rc=0
timeout 150 python3 benchmarks/gpu_grading_check.py grade .gpu_course \
    --json "$OUT/gpu_grading.json" 2>&1 | tee "$OUT/gpu_grading.log" || rc=1
timeout 240 python3 benchmarks/device_check.py --json "$OUT/device_check.json" 2>&1 \
    | tee "$OUT/device_check.log" || rc=1
timeout 120 python3 -m pytest tests/kernels -k cuda -q -x -p no:cacheprovider 2>&1 \
    | tee "$OUT/pytest_cuda.log" | tail -8
exit $rc
