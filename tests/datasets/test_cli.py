"""`toolkit datasets fetch` and `info` with a local file:// URL instead of the internet."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner

from toolkit.cli import main
from toolkit.datasets import cli


@pytest.fixture
def archive(tmp_path, monkeypatch):
    monkeypatch.setenv("TOOLKIT_CACHE", str(tmp_path / "cache"))
    source = tmp_path / "source.tar.gz"
    source.write_bytes(b"pretend archive " * 1000)
    digest = hashlib.sha256(source.read_bytes()).hexdigest()
    monkeypatch.setitem(cli.FETCHABLE, "imdb", (source.as_uri(), digest, "aclImdb_v1.tar.gz"))
    return source


def test_fetch_downloads_and_checks_the_checksum(archive, tmp_path):
    result = CliRunner().invoke(main, ["datasets", "fetch", "imdb"])
    assert result.exit_code == 0, result.output
    saved = tmp_path / "cache" / "aclImdb_v1.tar.gz"
    assert saved.read_bytes() == archive.read_bytes()
    assert "SHA-256 checked" in result.output
    again = CliRunner().invoke(main, ["datasets", "fetch", "imdb"])
    assert "already here" in again.output


def test_fetch_refuses_a_damaged_download_and_leaves_nothing(archive, tmp_path):
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(b"not it")
    dest = tmp_path / "out" / "imdb.tar.gz"
    result = CliRunner().invoke(main, ["datasets", "fetch", "imdb", "--url", wrong.as_uri(),
                                       "--dest", str(dest)])
    assert result.exit_code == 1
    assert "is damaged: SHA-256" in result.output and "Traceback" not in result.output
    assert not dest.exists() and list(dest.parent.iterdir()) == []


def test_fetch_network_failure_is_one_clear_line(archive, tmp_path):
    result = CliRunner().invoke(main, ["datasets", "fetch", "imdb", "--url", "http://127.0.0.1:9/none",
                                       "--dest", str(tmp_path / "x.tar.gz")])
    assert result.exit_code == 1
    assert "could not download http://127.0.0.1:9/none" in result.output
    assert "check your internet connection" in result.output and "Traceback" not in result.output


def test_info_lists_shipped_files(archive):
    result = CliRunner().invoke(main, ["datasets", "info"])
    assert result.exit_code == 0
    assert "imdb_subset.npz" in result.output and "DAMAGED" not in result.output
    assert "not fetched" in result.output
