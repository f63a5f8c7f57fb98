"""The class's outputs: grades.csv, the overview page, and the progress lines."""
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

def write_grades_csv(path, outcomes, manifest):
    """One row per student (a group submission gives each member a row); readable by this user only."""
    functions = [f["name"] for f in manifest.functions]
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["student", "total", *functions, "email", "submission", "status"])
    for outcome in outcomes:
        emails = outcome.emails or []
        for index, student in enumerate(outcome.students or [outcome.name]):
            email = emails[index] if index < len(emails) else ""
            writer.writerow([student, _number(outcome.score),
                             *(_number(outcome.functions.get(f, 0.0)) for f in functions),
                             email, outcome.key, outcome.status])
    _write_private(path, text.getvalue())


def _number(value):
    return f"{value:g}"


def overview_context(outcomes, manifest):
    graded = [o for o in outcomes if o.status == "graded"]
    possible = round(sum(c.points for c in manifest.cases), 2)  # rounded as a grade's own total is
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
    students = []
    for outcome in outcomes:
        report = f"students/{outcome.key}/report.html" if outcome.status == "graded" else ""
        students.append({"name": outcome.name, "report": report, "score": outcome.score,
                         "possible": outcome.possible or possible, "status": outcome.status,
                         "error": outcome.error, "functions": outcome.functions})
    return {
        "title": manifest.title,
        "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "count": len(outcomes), "graded": len(graded), "failed_to_grade": len(outcomes) - len(graded),
        "mean": statistics.mean(scores) if scores else 0.0,
        "median": statistics.median(scores) if scores else 0.0,
        "possible": possible, "histogram": histogram, "functions": functions, "cases": cases,
        "mistakes": mistakes, "students": students,
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
        score = f"{outcome.score:g}/{outcome.possible:g}" if outcome.status == "graded" else "ERROR"
        width = len(str(self.total))
        print(f"[{self.done:>{width}}/{self.total}] {terminal_text(outcome.name)[:40]:<40} {score:>12}  "
              f"elapsed {_clock(elapsed)}, about {_clock(eta)} left", file=self.stream, flush=True)


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"

