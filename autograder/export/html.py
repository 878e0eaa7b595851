"""HTML feedback: one page per student and a class summary page with plots.

Each feedback page lists every test cell with its points, passed or failed, and the message the
engine recorded; hidden tests are named, their captured output is never shown. Everything a student
controls (messages, output, ids) goes through Jinja2's autoescaping. The summary embeds two
matplotlib PNGs (score distribution, pass rate per test) so the folder is self-contained.
"""

from __future__ import annotations

import base64
import io
import math
import statistics

import jinja2
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from autograder.deadlines import parse_time
from autograder.export import Grades
from autograder.results import SubmissionResult

#: The folder this export owns and replaces as a whole.
FOLDER = "feedback/{assignment}"

_ENV = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                          loader=jinja2.PackageLoader("autograder.export", "templates"))


def _when(value) -> str:
    """A time as 'YYYY-MM-DD HH:MM UTC'; text that is not a time is shown as it is."""
    try:
        return parse_time(value).strftime("%Y-%m-%d %H:%M UTC")
    except ValueError:
        return str(value)


_ENV.filters["when"] = _when


def _png(fig: Figure) -> str:
    """The figure as a data: URI."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def score_histogram(grades: Grades) -> str:
    """Histogram of the graded scores, as a data: URI."""
    scores = [r.score for r in grades.results if r.status == "graded"]
    fig = Figure(figsize=(6, 3.2))
    ax = fig.add_subplot()
    top = max(grades.max_score, max(scores, default=0.0), 1.0)
    bins = math.ceil(top) if top <= 20 else 20      # one bar per point on small assignments
    ax.hist(scores, bins=bins, range=(0, bins if top <= 20 else top), color="#3b6ea5",
            edgecolor="white")
    ax.set_xlabel(f"score (of {grades.max_score:g})")
    ax.set_ylabel("submissions")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{grades.assignment}: score distribution (n = {len(scores)})")
    return _png(fig)


def pass_rates(grades: Grades) -> list[tuple[str, float, int]]:
    """(test name, fraction of graded submissions passing it, submissions) in notebook order."""
    counts: dict[str, list[int]] = {}
    for r in grades.results:
        if r.status != "graded":
            continue
        for t in r.tests:
            c = counts.setdefault(t.name, [0, 0])
            c[0] += bool(t.passed)
            c[1] += 1
    return [(name, passed / n, n) for name, (passed, n) in counts.items()]


def pass_rate_plot(rates: list[tuple[str, float, int]], assignment: str) -> str:
    """Horizontal bar chart of the pass rate per test, as a data: URI."""
    fig = Figure(figsize=(6, 0.45 * max(len(rates), 2) + 1.2))
    ax = fig.add_subplot()
    names = [name for name, _, _ in rates][::-1]
    values = [100 * rate for _, rate, _ in rates][::-1]
    ax.barh(names, values, color="#4c9a5b")
    ax.set_xlim(0, 100)
    ax.set_xlabel("submissions passing (%)")
    ax.set_title(f"{assignment}: pass rate per test")
    return _png(fig)


def feedback_page(result: SubmissionResult, grades: Grades) -> str:
    """One student's feedback page."""
    student = grades.roster.get(result.student) if grades.roster is not None else None
    return _ENV.get_template("feedback.html.j2").render(
        r=result, name=student.sortable_name if student else result.student,
        due=grades.deadline.for_student(result.student).due if grades.deadline else "")


def summary_page(grades: Grades) -> str:
    """The class summary page: counts, statistics, both plots, and a table linking each feedback
    page."""
    graded = [r for r in grades.results if r.status == "graded"]
    scores = [r.score for r in graded]
    rates = pass_rates(grades)
    submitted = {r.student for r in grades.results if r.status != "missing"}
    return _ENV.get_template("summary.html.j2").render(
        g=grades, graded=len(graded), failed=sum(r.status == "failed" for r in grades.results),
        not_submitted=[s for s in grades.student_ids() if s not in submitted],
        mean=statistics.fmean(scores) if scores else None,
        median=statistics.median(scores) if scores else None,
        histogram=score_histogram(grades),
        rates=rates, rate_plot=pass_rate_plot(rates, grades.assignment) if rates else "",
        flagged=[r for r in grades.results if r.flags])


def render(grades: Grades) -> dict[str, str]:
    """feedback/<assignment>/index.html (the class summary) and students/<student>.html."""
    folder = FOLDER.format(assignment=grades.assignment)
    pages = {f"{folder}/index.html": summary_page(grades)}
    for r in grades.results:
        pages[f"{folder}/students/{r.student}.html"] = feedback_page(r, grades)
    return pages
