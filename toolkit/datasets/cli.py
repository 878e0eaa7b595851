"""`toolkit datasets ...`: download the full IMDB, and see what data is at hand."""

from __future__ import annotations

import os
import sys

import click

from . import imdb
from ._files import DATA_DIR, SHIPPED, DatasetError, cache_dir, download, sha256

#: Datasets ``fetch`` knows: URL, SHA-256 and file name in the cache.
FETCHABLE = {"imdb": (imdb.URL, imdb.SHA256, "aclImdb_v1.tar.gz")}


@click.group()
def datasets() -> None:
    """Fetch and inspect the datasets."""


@datasets.command()
@click.argument("name", type=click.Choice(sorted(FETCHABLE)))
@click.option("--url",
              help="Download from this URL instead (a mirror, or file:// for a local copy).")
@click.option("--dest", type=click.Path(dir_okay=False),
              help="Where to save it (default: the cache folder).")
def fetch(name: str, url: str | None, dest: str | None) -> None:
    """Download a dataset's original archive and check its SHA-256."""
    default_url, digest, filename = FETCHABLE[name]
    target = click.format_filename(dest) if dest else str(cache_dir() / filename)
    if os.path.isfile(target) and sha256(target) == digest:
        click.echo(f"{name}: {target} is already here and its checksum matches")
    else:
        with click.progressbar(length=1, label=f"downloading {name}", file=sys.stderr) as bar:
            def progress(done: int, total: int | None) -> None:
                bar.length = total or max(done, 1)
                bar.update(done - bar.pos)

            try:
                download(url or default_url, target, digest, progress=progress)
            except DatasetError as error:
                raise click.ClickException(str(error)) from None
        click.echo(f"{name}: saved {target} (SHA-256 checked)")
    click.echo(f"use it with {name}.load_data(path={target!r}) or `toolkit examples {name} --data "
               f"{target}`")


@datasets.command()
def info() -> None:
    """List the shipped data files with their size and integrity, and the cache folder."""
    for filename, expected in SHIPPED.items():
        path = DATA_DIR / filename
        if not path.is_file():
            state, size = "MISSING", "-"
        else:
            state = "ok" if sha256(path) == expected else "DAMAGED (checksum differs)"
            size = f"{path.stat().st_size / 1e6:.2f} MB"
        click.echo(f"{filename:28s} {size:>9s}  {state}")
    folder = cache_dir()
    click.echo(f"cache folder: {folder} (set TOOLKIT_CACHE to move it)")
    for name, (_, _, filename) in FETCHABLE.items():
        there = (folder / filename).is_file()
        state = ("fetched: " + str(folder / filename) if there
                 else "not fetched (toolkit datasets fetch " + name + ")")
        click.echo(f"{name}: full data {state}")
