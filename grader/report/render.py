"""Turning results into HTML: the templates do the markup, this module the data.

The environment autoescapes everything, so student-controlled text (exception
messages, printed output, file names) can never become markup. Templates are
loaded and compiled once, before any student code runs.
"""
import datetime
from functools import lru_cache
from pathlib import Path

import jinja2

from .. import __version__
from ..feedback import SMALL_ARRAY, traceback_text
from ..results import STATUS_TEXT
from . import figures

TEMPLATES = Path(__file__).with_name("templates")


@lru_cache(maxsize=1)
def environment():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["points"] = lambda value: f"{value:g}"
    env.filters["percent"] = lambda part, whole: 0 if not whole else round(100 * part / whole)
    env.globals["status_text"] = STATUS_TEXT
    return env


def preload():
    """Compile every template now, so grading never needs the template files later."""
    env = environment()
    for name in env.list_templates():
        env.get_template(name)


def _anchor(text):
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").lower()


def case_view(result):
    """What the report shows of one case; hidden cases carry only name, points and status."""
    case = result.case
    view = {"id": case.id, "anchor": _anchor(case.id), "label": case.label, "function": case.function,
            "number": case.number, "points": case.points, "score": result.score, "status": result.status,
            "status_text": result.status_text, "passed": result.passed, "hidden": case.hidden}
    if case.hidden:
        return view
    ties = figures.case_ties(result)
    outputs = []
    for output in result.outputs:
        entry = {"name": output.name, "points": output.points, "score": output.score,
                 "message": output.message, "passed": not output.message, "heatmap": None,
                 "expected_grid": None, "got_grid": None, "stats": None, "first_wrong": [], "shapes": None}
        if output.message and output.expected is not None:
            comparison = output.comparison
            entry["heatmap"] = figures.heatmap(output, case.tolerance, ties)
            small = output.got is not None and output.got.shape == output.expected.shape \
                and output.expected.size <= SMALL_ARRAY
            wrong = comparison.error > case.tolerance if comparison is not None and comparison.error is not None else None
            entry["expected_grid"] = figures.grid(output.expected, wrong) if small else None
            entry["got_grid"] = figures.grid(output.got, wrong) if small else None
            entry["stats"] = comparison if comparison is not None and comparison.problem in ("values", "nonfinite") else None
            entry["first_wrong"] = [
                {"index": ", ".join(map(str, index)), "expected": f"{float(output.expected[index]):.6g}",
                 "got": f"{float(output.got[index]):.6g}"}
                for index in (comparison.first_wrong if entry["stats"] else [])]
            entry["shapes"] = (tuple(output.expected.shape), None if output.got is None else tuple(output.got.shape))
        outputs.append(entry)
    view.update({
        "description": case.description, "tags": [t for t in case.tags if t != case.function],
        "summary": result.summary, "diagnoses": result.diagnoses, "notes": result.notes,
        "warnings": result.warnings, "outputs": outputs,
        "traceback": traceback_text(result.error) if result.error else "",
        "printed": result.output, "seconds": result.seconds, "tie_count": int(ties.sum()) if ties is not None else 0,
    })
    return view


def report_context(grade):
    functions = []
    for summary in grade.by_function():
        cases = [case_view(c) for c in grade.cases if c.case.function == summary.name]
        functions.append({"name": summary.name, "anchor": _anchor(summary.name), "module": summary.module,
                          "score": summary.score, "possible": summary.possible, "passed": summary.passed,
                          "cases": cases, "count": summary.cases,
                          "failing": [c for c in cases if not c["passed"]]})
    return {"grade": grade, "functions": functions, "version": __version__,
            "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "mistakes": _mistake_list(grade)}


def _mistake_list(grade):
    seen = {}
    for result in grade.cases:
        if result.case.hidden:
            continue
        for diagnosis in result.diagnoses:
            seen.setdefault(diagnosis.key, (result.case.function, diagnosis))
    return list(seen.values())


def render_report(grade):
    return environment().get_template("report.html").render(**report_context(grade))


def render_gradescope_summary(grade):
    return environment().get_template("gradescope_summary.html").render(**report_context(grade))


def render_class_overview(context):
    return environment().get_template("class_overview.html").render(version=__version__, **context)
