"""The grading engine: reading a notebook into a plan, the sandboxed child and its limits, the
proxies and the wire between them, results and the gradebook, `autograder grade` and `validate`,
and grading on a Dask cluster."""
