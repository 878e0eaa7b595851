"""`toolkit ...`: the kernel speed comparison, the book's examples and the datasets."""

from __future__ import annotations

import click

from toolkit.lazy_group import LazyGroup

#: Subcommands and the click commands that define them, imported only when the subcommand runs.
COMMANDS = {
    "bench": "toolkit.bench.cli:bench",
    "examples": "toolkit.examples.cli:examples",
    "datasets": "toolkit.datasets.cli:datasets",
}


@click.group(cls=LazyGroup, commands=COMMANDS)
@click.version_option(package_name="dlcourse-toolkit")
def main() -> None:
    """A deep-learning course in a box: kernels on four backends, a Keras-like network library."""


if __name__ == "__main__":
    main()
