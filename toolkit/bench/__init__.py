"""Speed comparisons of the kernels (`toolkit bench`): each op on each backend over a sweep of
sizes, set against the machine's limits measured in the same run.

One concept a module: ``workloads`` (sizes, bytes moved, flops), ``timing`` (warm-up apart, median
of repeats), ``ceilings`` (copy bandwidth, BLAS: the roofs), ``gpu`` (the device's roofs, guarded
imports), ``machine`` (CPU, BLAS, versions), ``runner`` (the sweep, naive budget, speedups),
``table``, ``files`` (JSON), ``plot`` and ``cli``.
"""
