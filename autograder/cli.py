"""`autograder ...`: generate, collect, grade, validate and export an nbgrader course's
assignments."""

from __future__ import annotations

import click

from toolkit.lazy_group import LazyGroup

#: Subcommands and the click commands that define them, imported only when the subcommand runs.
COMMANDS = {
    "grade": "autograder.commands.grading:grade",
    "validate": "autograder.commands.grading:validate",
    "generate": "autograder.commands.course:generate",
    "collect": "autograder.commands.course:collect",
    "status": "autograder.commands.course:status",
    "export": "autograder.commands.course:export",
}


@click.group(cls=LazyGroup, commands=COMMANDS)
@click.version_option(package_name="dlcourse-toolkit")
def main() -> None:
    """Grade nbgrader notebooks fast and safely: student code runs sandboxed, tests run trusted."""


if __name__ == "__main__":
    main()
