"""`toolkit ...`: the kernel speed comparison, the book's examples and the datasets."""

from __future__ import annotations

import importlib

import click

#: Subcommands and the modules that define them, imported only when the subcommand runs.
COMMANDS = {
    "bench": ("toolkit.bench.cli", "bench", "Time the kernels on each backend against the machine's limits."),
    "examples": ("toolkit.examples.cli", "examples", "Run the book's listings (imdb, boston, pima, overfitting)."),
    "datasets": ("toolkit.datasets.cli", "datasets", "Fetch and inspect the datasets."),
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use, so `toolkit --help` is fast."""

    def list_commands(self, ctx):
        return sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name not in COMMANDS:
            return None
        module, attr, _ = COMMANDS[name]
        try:
            return getattr(importlib.import_module(module), attr)
        except ModuleNotFoundError as error:
            if error.name and error.name.startswith("toolkit"):
                return None
            raise


@click.group(cls=LazyGroup)
@click.version_option(package_name="dlcourse-toolkit")
def main() -> None:
    """A deep-learning course in a box: kernels on four backends, a Keras-like network library."""


if __name__ == "__main__":
    main()
