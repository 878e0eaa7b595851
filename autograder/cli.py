"""`autograder ...`: generate, collect, grade, validate and export an nbgrader course's assignments."""

from __future__ import annotations

import importlib

import click

#: Subcommands and the modules that define them, imported only when the subcommand runs.
COMMANDS = {
    "grade": "autograder.commands.grading",
    "validate": "autograder.commands.grading",
    "generate": "autograder.commands.course",
    "collect": "autograder.commands.course",
    "status": "autograder.commands.course",
    "export": "autograder.commands.course",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        try:
            return getattr(importlib.import_module(COMMANDS[name]), name)
        except (ModuleNotFoundError, AttributeError) as error:
            if isinstance(error, AttributeError) or (error.name or "").startswith("autograder"):
                return None
            raise


@click.group(cls=LazyGroup)
@click.version_option(package_name="dlcourse-toolkit")
def main() -> None:
    """Grade nbgrader notebooks fast and safely: student code runs sandboxed, tests run trusted."""


if __name__ == "__main__":
    main()
