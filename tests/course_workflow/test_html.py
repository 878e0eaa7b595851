"""HTML feedback and the class summary: escaping, hidden tests, plots, and a real browser's
rendering."""

from __future__ import annotations

import base64
import io
import shutil
import subprocess
from html.parser import HTMLParser

import matplotlib.image
import pytest

from autograder.export import export, grades_for

from .conftest import ASSIGNMENT, XSS


class Elements(HTMLParser):
    """Every start tag with its attributes, and the page's text."""

    def __init__(self, page: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


@pytest.fixture
def pages(tmp_path, results, roster, deadlines):
    grades = grades_for(ASSIGNMENT, results, roster=roster, deadlines=deadlines)
    export("html", grades, tmp_path)
    folder = tmp_path / "feedback" / ASSIGNMENT
    return folder, {p.stem: p.read_text() for p in (folder / "students").glob("*.html")}


def test_feedback_escapes_what_students_control(pages):
    _, by_student = pages
    page = Elements(by_student["bob"])
    assert not [t for t, _ in page.tags if t == "script"]
    assert not [a for _, a in page.tags if any(k.startswith("on") for k in a)]
    assert not [a for t, a in page.tags if t == "img"]      # the injected <img> stayed text
    text = "".join(page.text)
    assert f"expected {XSS}" in text                        # shown to the student as plain text
    assert "Builder, Bob" in text and "monkeypatch:numpy.allclose" in text


def test_feedback_lists_every_test_and_hides_hidden_output(pages):
    _, by_student = pages
    text = "".join(Elements(by_student["alice"]).text)
    for name in ("test_naive_relu", "test_relu", "test_dot"):
        assert name in text
    assert "Score: 5.4 / 6" in text and "Late penalty" in text
    assert "hidden tests" in text and "SECRET" not in by_student["alice"] + by_student["bob"]
    assert "printed by the test cell" in by_student["bob"]    # a visible test's output is there
    assert "could not be graded" in "".join(Elements(by_student["carol"]).text)
    assert "passed" in text and "failed" in "".join(Elements(by_student["bob"]).text)


def test_summary_embeds_both_plots(pages):
    folder, _ = pages
    page = Elements((folder / "index.html").read_text())
    images = {a["id"]: a["src"] for t, a in page.tags if t == "img"}
    assert set(images) == {"score-distribution", "pass-rates"}
    for src in images.values():
        assert src.startswith("data:image/png;base64,")
        pixels = matplotlib.image.imread(io.BytesIO(base64.b64decode(src.split(",", 1)[1])),
                                         format="png")
        assert pixels.shape[0] > 100 and pixels.shape[1] > 100
        assert (pixels[..., :3] < 0.9).any()                  # something is drawn
    text = "".join(page.text)
    assert "2 graded, 1 could not be graded" in text
    assert "1 student(s) without a submission" in text and "dave" in text
    links = {a["href"] for t, a in page.tags if t == "a"}
    assert links == {"students/alice.html", "students/bob.html", "students/carol.html"}
    assert "50%" in text and "0%" in text                     # pass rates: test_relu 0 of 2


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if path := shutil.which(name):
            return path
    pytest.skip("Chromium is not installed (Debian: apt-get install -y chromium): "
                "the browser rendering check cannot run")


def _run_chromium(binary, tmp_path, *args) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_feedback_page_renders_in_chromium(pages, tmp_path):
    binary = _chromium()
    folder, _ = pages
    url = (folder / "students" / "bob.html").as_uri()
    shot = tmp_path / "bob.png"
    proc = _run_chromium(binary, tmp_path, f"--screenshot={shot}", "--window-size=1100,800", url)
    if not shot.exists():
        pytest.skip(f"Chromium could not take a screenshot here: {proc.stderr.strip()[-300:]}")
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (800, 1100)
    ink = (pixels.min(axis=2) < 0.85).mean()      # text, table borders, the coloured result cells
    assert 0.01 < ink < 0.6, f"the screenshot looks blank or broken ({ink:.1%} non-white)"
    red = (pixels[..., 0] > 0.9) & (pixels[..., 1] < 0.92) & (pixels[..., 2] < 0.92)
    green = (pixels[..., 1] > 0.9) & (pixels[..., 0] < 0.92) & (pixels[..., 2] < 0.92)
    assert red.sum() > 500 and green.sum() > 500   # "failed" and "passed" cells are coloured
    dom = _run_chromium(binary, tmp_path, "--dump-dom", url).stdout
    assert ("feedback for Builder, Bob" in dom and "test_naive_relu" in dom
            and "Score: 3.5 / 6" in dom)
    assert "<title>vectorization: feedback for Builder, Bob</title>" in dom   # the script never ran
    assert "&lt;script&gt;document.title" in dom and "<script>document" not in dom
