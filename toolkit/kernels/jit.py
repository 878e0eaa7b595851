"""How the numba kernels are compiled: the options every CPU kernel takes, and a disk cache (the
CPU's and numba-cuda's) that notices an edit anywhere in toolkit.kernels.

Numba checks a cached kernel only against its own source file (numba#1833): a kernel that
compiles in functions from other files of this package (the SIMD intrinsics, vmath, the GEMM's
packing) would go on loading its old machine code after one of those files changed. The
locators installed here add a hash of all the package's sources to the stamp of each of its
kernels, so that an edit anywhere in it recompiles them on their next use; functions elsewhere
(a student's notebook) keep Numba's own locators. Importing this module installs them for the
CPU, and the kernels take their options from it, so no kernel is cached before they are in
place; cuda_runtime installs them in numba-cuda's cache (which has its own locator classes),
whose kernels bake in the op codes of backend.py.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from numba.core import caching, config

#: The package whose sources stamp its kernels.
ROOT = Path(__file__).resolve().parent


@functools.cache
def sources_stamp(root: Path = ROOT) -> str:
    """A hash of the names and contents of every Python source under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _stamped(base: type) -> type:
    """Numba's locator ``base``, taking only this package's functions, each stamped with
    sources_stamp() beside its own file's stamp."""

    class PackageLocator(base):
        @classmethod
        def from_function(cls, py_func, py_file):
            if not Path(py_file).resolve().is_relative_to(ROOT):
                return None
            return super().from_function(py_func, py_file)

        def get_source_stamp(self):
            return super().get_source_stamp(), sources_stamp()

    PackageLocator.__qualname__ = PackageLocator.__name__ = "Package" + base.__name__.lstrip("_")
    return PackageLocator


def install(module=caching) -> None:
    """Put the stamped locators ahead of the caching ``module``'s own (Numba's, or
    numba-cuda's), for the cache directories it would choose (NUMBA_CACHE_DIR, beside the
    sources, the user's cache); nothing where NUMBA_CACHE_LOCATOR_CLASSES names the locators,
    or where this version keeps them elsewhere."""
    impl = getattr(module, "CacheImpl", None) or getattr(module, "_CacheImpl", None)
    classes = getattr(impl, "_locator_classes", None)
    if (not isinstance(classes, list) or getattr(config, "CACHE_LOCATOR_CLASSES", None)
            or any(c.__name__.startswith("Package") for c in classes)):
        return
    bases = [getattr(module, name, None) or getattr(module, "_" + name, None)
             for name in ("UserProvidedCacheLocator", "InTreeCacheLocator",
                          "UserWideCacheLocator")]
    classes[:0] = [_stamped(base) for base in bases if base is not None]


install()

#: Every kernel: cached on disk, with NumPy's error model (no check for division by zero).
#: Serial kernels release the GIL; parallel ones keep it, because Numba's default (workqueue)
#: thread pool must not be entered by two Python threads at once.
JIT = dict(cache=True, error_model="numpy")
SERIAL = dict(JIT, nogil=True)
PARALLEL = dict(JIT, parallel=True)
