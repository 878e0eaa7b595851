"""`toolkit examples ...`: the book's listings as commands, printing Keras-style progress and
saving PNG plots of their training histories."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from toolkit.datasets import DatasetError


def _common(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every example takes, and one-line errors for missing or damaged data."""
    @click.option("--out", default="out/examples", show_default=True,
                  type=click.Path(file_okay=False), help="Folder for the PNG plots.")
    @click.option("--backend", default="numpy", show_default=True,
                  type=click.Choice(["numpy", "numba", "cuda"]),
                  help="Kernel backend the network runs on.")
    @click.option("--seed", default=0, show_default=True, type=int,
                  help="Seed for weights, shuffling and splits.")
    @functools.wraps(command)
    def wrapper(**kwargs: Any) -> None:
        try:
            command(**kwargs)
        except DatasetError as error:
            raise click.ClickException(str(error)) from None
    return wrapper


DATA = click.option("--data", type=click.Path(), default=None,
                    help="An aclImdb tarball or folder for the full IMDB (default: the shipped "
                         "subset).")


@click.group()
def examples() -> None:
    """Run the book's listings (imdb, boston, pima, overfitting)."""


@examples.command()
@DATA
@click.option("--epochs", default=4, show_default=True, type=click.IntRange(1),
              help="Epochs of the final model.")
@click.option("--validation-epochs", default=20, show_default=True, type=click.IntRange(0),
              help="Epochs of the validation run that draws the curves (0 skips it).")
@click.option("--batch-size", default=512, show_default=True, type=click.IntRange(1))
@_common
def imdb(**options: Any) -> None:
    """Classify movie reviews: the 16-16-1 network (section 3.4)."""
    from . import imdb as example

    example.run(**options)


@examples.command()
@click.option("--epochs", default=100, show_default=True, type=click.IntRange(1),
              help="Epochs per fold.")
@click.option("--final-epochs", default=80, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=16, show_default=True, type=click.IntRange(1),
              help="The book's K-fold listing used 1.")
@click.option("--k", default=4, show_default=True, type=click.IntRange(2), help="Number of folds.")
@_common
def boston(**options: Any) -> None:
    """Predict house prices: 64-64-1 regression with K-fold validation (section 3.6)."""
    from . import boston as example

    example.run(**options)


@examples.command()
@click.option("--epochs", default=40, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=10, show_default=True, type=click.IntRange(1))
@click.option("--test-split", default=0.2, show_default=True,
              type=click.FloatRange(0, 1, min_open=True, max_open=True))
@_common
def pima(**options: Any) -> None:
    """Predict diabetes: a small classifier against the majority-class baseline."""
    from . import pima as example

    example.run(**options)


@examples.command()
@DATA
@click.option("--epochs", default=20, show_default=True, type=click.IntRange(1))
@click.option("--batch-size", default=512, show_default=True, type=click.IntRange(1))
@click.option("--model", "models", multiple=True,
              type=click.Choice(["original", "smaller", "bigger", "l2", "dropout"]),
              help="Train only these models (repeatable; default: all five).")
@_common
def overfitting(models: tuple[str, ...], **options: Any) -> None:
    """Original, smaller, bigger, L2 and dropout IMDB models: validation loss on one plot (section
    4.4)."""
    from . import overfitting as example

    example.run(models=list(models) or None, **options)
