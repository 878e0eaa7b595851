"""nbgrader settings for the course directory (this folder): run nbgrader commands from here."""

c = get_config()  # noqa: F821 (nbgrader provides get_config when it loads this file)

c.CourseDirectory.course_id = "dlcourse"
# The vectorization notebook compiles Numba functions and times Python loops: allow slow cells.
c.Execute.timeout = 120
# Stubs students see in place of the solution regions.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
