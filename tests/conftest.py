"""Suite-wide settings: without a GPU, the cuda backend runs under Numba's CUDA simulator."""

import os

import matplotlib

matplotlib.use("Agg")

if not os.path.exists("/dev/nvidiactl"):
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
