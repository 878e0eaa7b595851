"""A click group whose subcommands are imported on first use, so `--help` and each command start
without importing every other command's dependencies (Numba, nbgrader, matplotlib)."""

from __future__ import annotations

import importlib

import click


class LazyGroup(click.Group):
    """``commands`` maps each subcommand's name to ``"module:attribute"``, the click command."""

    def __init__(self, *args, commands: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = commands

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self.lazy_commands)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in self.lazy_commands:
            return None
        module, attribute = self.lazy_commands[name].split(":")
        return getattr(importlib.import_module(module), attribute)
