"""The class's outputs: grades.csv, canvas.csv, the overview page, and the progress lines."""
import csv
import datetime
import io
import math
import statistics
import sys
import time

from ..text import terminal_text
from .submissions import _write_private

# Outputs ------------------------------------------------------------------------------

GRADES_COLUMNS = ["Name", "SID", "Email", "Total Score", "Max Points", "Status"]
CANVAS_COLUMNS = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]


def _rows(outcomes):
    """(outcome, name, sid, email) per student: a group submission gives each member a row."""
    for outcome in outcomes:
        names = outcome.students or [outcome.name]
        for index, name in enumerate(names):
            yield (outcome, name, _at(outcome.sids, index), _at(outcome.emails, index))


def _at(values, index):
    return values[index] if values and index < len(values) else ""


def _status(outcome):
    return "graded" if outcome.status == "graded" else f"not graded: {outcome.error or 'the grader failed'}"


def write_grades_csv(path, outcomes, manifest):
    """One row per student: who (name, SID, email), the total of the max points and the status, then
    the points per function and the submission's folder under students/. A submission that could not
    be graded has no total or points: the status says why. Readable by this user only."""
    functions = manifest.functions
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([*GRADES_COLUMNS, *(f"{f['name']} ({_number(f['points'])} pts)" for f in functions),
                     "Submission"])
    possible = _possible(manifest)
    for outcome, name, sid, email in _rows(outcomes):
        graded = outcome.status == "graded"
        writer.writerow([name, sid, email, _number(outcome.score) if graded else "", _number(possible),
                         _status(outcome),
                         *((_number(outcome.functions.get(f["name"], 0.0)) if graded else "") for f in functions),
                         outcome.key])
    _write_private(path, text.getvalue())


def write_canvas_csv(path, outcomes, manifest, column=None):
    """The totals as Canvas's gradebook import reads them: its five identity columns, one column for
    the assignment (column, or the assignment's title: a name Canvas does not know makes a new
    assignment), a "Points Possible" row, and one row per student. Students are matched by SIS User
    ID (the SID in Gradescope's export), or by name where there is none. A submission that could not
    be graded has an empty cell, which Canvas leaves as it was. Readable by this user only."""
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow([*CANVAS_COLUMNS, column or manifest.title])
    writer.writerow(["Points Possible", "", "", "", "", _number(_possible(manifest))])
    for outcome, name, sid, _ in _rows(outcomes):
        writer.writerow([name, "", sid, "", "", _number(outcome.score) if outcome.status == "graded" else ""])
    _write_private(path, text.getvalue())


def _possible(manifest):
    return round(sum(c.points for c in manifest.cases), 2)  # rounded as a grade's own total is


def _number(value):
    return f"{value:g}"


def overview_context(outcomes, manifest):
    graded = [o for o in outcomes if o.status == "graded"]
    possible = _possible(manifest)
    scores = [o.score for o in graded]
    bins = 10
    histogram = [{"low": possible * index / bins, "high": possible * (index + 1) / bins, "count": 0}
                 for index in range(bins)]
    for score in scores:  # each in the bin its share of the points falls in; full marks in the last
        share = score / possible if possible > 0 else 0.0
        histogram[min(bins - 1, max(0, math.floor(share * bins + 1e-9)))]["count"] += 1
    functions = []
    for function in manifest.functions:
        values = [o.functions.get(function["name"], 0.0) for o in graded]
        full = round(function["points"], 2)
        functions.append({"name": function["name"], "possible": function["points"],
                          "mean": statistics.mean(values) if values else 0.0,
                          "full_marks_rate": (sum(1 for v in values if v >= full) / len(values))
                          if values else 0.0})
    cases = []
    for case in manifest.cases:
        results = [o.cases.get(case.id) for o in graded if case.id in o.cases]
        cases.append({"id": case.id, "function": case.function, "label": case.label, "hidden": case.hidden,
                      "pass_rate": (sum(1 for r in results if r) / len(results)) if results else 0.0})
    counts = {}
    for outcome in graded:
        for key in outcome.mistakes:
            counts[key] = counts.get(key, 0) + 1
    mistakes = []
    for key, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        function, slug = key.rsplit("/", 1)
        entry = manifest.raw["mistakes"].get(key, {})
        mistakes.append({"key": key, "function": function, "title": entry.get("title", slug), "count": count})
    students, not_graded = [], []
    for outcome in outcomes:
        report = f"students/{outcome.key}/report.html" if outcome.status != "error" else ""
        row = {"name": outcome.name, "report": report, "score": outcome.score,
               "possible": outcome.possible or possible, "status": outcome.status,
               "error": outcome.error or "the grader failed", "functions": outcome.functions}
        (students if outcome.status == "graded" else not_graded).append(row)
    return {
        "title": manifest.title,
        "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "count": len(outcomes), "graded": len(graded), "failed_to_grade": len(outcomes) - len(graded),
        "mean": statistics.mean(scores) if scores else 0.0,
        "median": statistics.median(scores) if scores else 0.0,
        "possible": possible, "histogram": histogram, "functions": functions, "cases": cases,
        "mistakes": mistakes, "students": students, "not_graded": not_graded,
    }


def write_overview(path, outcomes, manifest):
    from ..report import render_class_overview
    _write_private(path, render_class_overview(overview_context(outcomes, manifest)))


class Progress:
    """One line per finished submission on stderr, with an estimate of the time left."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.total = self.done = 0
        self.started = time.monotonic()

    def start(self, total, reused):
        self.total, self.done = total, reused
        self.started = time.monotonic()
        self._fresh_done = 0
        if reused:
            print(f"{reused} of {total} submissions unchanged since the last run: kept their grades "
                  f"(--force regrades them)", file=self.stream)

    def advance(self, outcome):
        self.done += 1
        self._fresh_done += 1
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        eta = elapsed / self._fresh_done * left
        score = {"graded": f"{outcome.score:g}/{outcome.possible:g}", "not graded": "NOT GRADED"}.get(
            outcome.status, "ERROR")
        width = len(str(self.total))
        print(f"[{self.done:>{width}}/{self.total}] {terminal_text(outcome.name)[:40]:<40} {score:>12}  "
              f"elapsed {_clock(elapsed)}, about {_clock(eta)} left", file=self.stream, flush=True)


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"

