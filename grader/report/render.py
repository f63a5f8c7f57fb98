"""Turning results into HTML: the templates do the markup, this module the data.

The environment autoescapes everything, so student-controlled text (exception
messages, printed output, file names) can never become markup. Templates are
loaded and compiled once per process and never re-read. Every view built here
is plain data; a hidden case's view holds only its name, points and status.
"""
import datetime
import urllib.parse
from functools import lru_cache
from pathlib import Path

import jinja2
import numpy as np

from .. import __version__
from ..ties import TIE_RULE_TEXT
from ..feedback import SMALL_ARRAY, bounded
from . import figures

TEMPLATES = Path(__file__).with_name("templates")
MAX_INPUT_SHOWN = 200          # elements; larger inputs are listed by shape only
MAX_FIX_CASES = 3              # undiagnosed failing cases listed per function under "what to fix first"
GATHERED = {                   # whole functions failing for one reason are listed together under it
    "import": "Not run until the problems with your files above are fixed",
    "not-implemented": "Not implemented yet",
}
HIDDEN_SHOWN = {               # when Gradescope shows hidden tests, by their visibility setting
    "after_due_date": "after the due date",
    "after_published": "when your instructor publishes the grades",
    "hidden": "only to your instructor",
}


@lru_cache(maxsize=1)
def environment():
    # The sources are read into memory now, and never re-read: nothing that happens to the
    # files later (a student's code, in a mode where it could touch them) reaches a report.
    sources = {path.name: path.read_text(encoding="utf-8") for path in sorted(TEMPLATES.glob("*.html"))}
    env = jinja2.Environment(loader=jinja2.DictLoader(sources), auto_reload=False,
                             bytecode_cache=_bytecode_cache(),
                             autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["points"] = _points
    env.filters["percent"] = lambda part, whole: 0 if not whole else round(100 * part / whole)
    env.filters["plural"] = lambda count, word, many=None: word if count == 1 else (many or word + "s")
    env.globals["tie_rule_text"] = TIE_RULE_TEXT
    return env


def _bytecode_cache():
    """Compiled templates, cached across runs in a folder only this user can write.

    Compiling the templates costs a third of a second; loading them from the cache,
    milliseconds. The cache is keyed by each template's source, so an edited
    template is recompiled. It is used only if the folder is ours and private:
    whoever can write it decides what code the grader runs.
    """
    import os
    if not hasattr(os, "geteuid"):  # Windows: no owner to check, so no cache
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = os.path.join(base, "backprop-autograder", f"templates-{__version__}-{jinja2.__version__}")
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
        info = os.stat(folder)
        if info.st_uid != os.geteuid() or info.st_mode & 0o077 or not _only_ours_above(folder):
            return None
        return jinja2.FileSystemBytecodeCache(folder)
    except OSError:
        return None


def _only_ours_above(folder):
    """True if no other user can rename or replace `folder` through a folder above it."""
    import os
    import stat
    parent = os.path.dirname(os.path.realpath(folder))
    while True:
        info = os.stat(parent)
        shared = info.st_mode & 0o022 and not info.st_mode & stat.S_ISVTX
        if info.st_uid not in (0, os.geteuid()) or shared:
            return False
        if parent == os.path.dirname(parent):
            return True
        parent = os.path.dirname(parent)


def preload():
    """Compile every template now, so grading never needs the template files later."""
    env = environment()
    for name in env.list_templates():
        env.get_template(name)


def _points(value):
    return f"{round(float(value), 2):g}"


def _anchor(text):
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").lower()


def _state(status):
    """The colour family of a status: passed, partial or failed."""
    return status if status in ("passed", "partial") else "failed"


# One case ---------------------------------------------------------------------------

def case_view(result):
    """What the report shows of one case; hidden cases carry only name, points and status."""
    case = result.case
    view = {"id": case.id, "anchor": _anchor(case.id), "label": case.label, "function": case.function,
            "number": case.number, "points": case.points, "score": result.score, "status": result.status,
            "status_text": result.status_text, "passed": result.passed, "hidden": case.hidden,
            "state": _state(result.status)}
    if case.hidden:
        return view
    view.update({"description": case.description, "tags": [t for t in case.tags if t != case.function],
                 "warnings": result.warnings,
                 "printed": bounded(result.output) if result.output.strip() else ""})
    if result.passed:
        return view
    pooling = figures.case_pooling(result)
    view.update({
        "summary": result.summary, "diagnoses": result.diagnoses, "notes": result.notes,
        "call": call_text(case.call), "exception": exception_view(result.error),
        "outputs": [o for o in (output_view(output, result, pooling) for output in result.outputs) if o],
        "inputs": inputs_view(result.inputs),
        "tie_count": int(pooling.ties.sum()) if pooling is not None and pooling.ties is not None else 0,
    })
    return view


def output_view(output, result, pooling):
    """Expected against got for one failing output with arrays to show, else None."""
    if output.passed or output.expected is None:
        return None
    case = result.case
    comparison = output.comparison
    expected, got = np.asarray(output.expected), output.got
    numeric = got is not None and np.asarray(got).dtype.kind in "biuf"
    same_shape = numeric and np.shape(got) == expected.shape
    wrong = comparison.error > case.tolerance if same_shape and comparison is not None \
        and comparison.error is not None else None
    over_x = same_shape and pooling is not None and pooling.shape == expected.shape     # dx of a pooling layer
    view = {"name": output.name, "points": output.points, "score": output.score, "message": output.message,
            "heatmap": figures.heatmap(output, case.tolerance, pooling), "columns": [], "stats": None,
            "first_wrong": [], "windows": [], "windows_total": 0, "shape": _shape(expected.shape)}
    if numeric and expected.size <= SMALL_ARRAY and np.size(got) <= SMALL_ARRAY:
        # small: both in full, side by side, even when the shapes differ (a transposed result shows)
        if over_x:
            ties = pooling.ties
            x_name = case.windows["input"]
            view["columns"].append({"title": f"input {x_name}", "kind": "input",
                                    "note": "outlined: tied maxima" if ties is not None and ties.any() else "",
                                    "grids": figures.grid(result.inputs[x_name], None, ties, pooling, x_name)})
        shown_pooling = pooling if over_x else None
        view["columns"] += [
            {"title": f"expected {output.name}", "kind": "expected", "note": f"shape {_shape(expected.shape)}"
             if not same_shape else "", "grids": figures.grid(expected, wrong, None, shown_pooling, output.name)},
            {"title": f"your {output.name}", "kind": "got", "note": f"shape {_shape(np.shape(got))}"
             if not same_shape else "", "grids": figures.grid(got, wrong, None, shown_pooling, output.name)}]
    elif same_shape and comparison is not None and comparison.problem in ("values", "nonfinite"):
        view["stats"] = comparison
        view["first_wrong"] = [
            {"index": ", ".join(map(str, index)), "expected": f"{float(expected[index]):.6g}",
             "got": f"{float(got[index]):.6g}"} for index in comparison.first_wrong]
        if over_x and wrong is not None:
            view["windows"], view["windows_total"] = figures.failing_windows(
                np.asarray(result.inputs[case.windows["input"]]), expected, got, wrong, pooling)
    return view


def _shape(shape):
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def exception_view(error):
    """The exception's type, message and the frames in the student's files, or None."""
    if not error:
        return None
    # "<string>" and other "<...>" names are code compiled from strings, never a student's file
    frames = [{"file": file, "line": line, "function": function, "text": (text or "").strip()}
              for file, line, function, text in error.get("frames", []) if not str(file).startswith("<")]
    return {"type": error.get("type", "Exception"), "message": error.get("message", ""), "frames": frames}


def inputs_view(inputs):
    """The case's inputs: name, shape and, when small enough, the values as Python to paste."""
    shown = []
    for name, value in inputs.items():
        value = np.asarray(value)
        shape = _shape(value.shape)
        text = ""
        if value.size <= MAX_INPUT_SHOWN and value.dtype.kind in "biuf":
            dtype = "" if value.dtype == np.float64 else f", dtype=np.{value.dtype}"
            text = f"{name} = np.array({array_text(value, len(name) + 13)}{dtype})"
        shown.append({"name": name, "shape": shape, "dtype": str(value.dtype), "text": text})
    return shown


def array_text(array, indent=0):
    """Nested lists of exact (round-tripping) numbers, one innermost row per line."""
    if array.ndim == 0:
        return repr(array.item())
    if array.ndim == 1:
        return "[" + ", ".join(repr(v) for v in array.tolist()) + "]"
    separator = "," + "\n" * (array.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(array_text(sub, indent + 1) for sub in array) + "]"


def call_text(call):
    """How the case calls the student's code, as Python, or "" if unknown."""
    try:
        args = [_arg_text(a) for a in call.get("args", [])]
        args += [f"{k}={_arg_text(v)}" for k, v in call.get("kwargs", {}).items()]
        seed = [f"np.random.seed({call['seed']})"] if call.get("seed") is not None else []
        if call.get("class"):
            init = call.get("init") or {}
            made = [_arg_text(a) for a in init.get("args", [])]
            made += [f"{k}={_arg_text(v)}" for k, v in init.get("kwargs", {}).items()]
            lines = seed + [f"obj = {call['class']}({', '.join(made)})"]
            for attribute, tree in (call.get("attributes") or {}).items():
                if "d" in tree:
                    lines.append(f"obj.{attribute}.update({_arg_text(tree)})")
                else:
                    lines.append(f"obj.{attribute} = {_arg_text(tree)}")
            if call["method"] != "__init__":
                lines.append(f"obj.{call['method']}({', '.join(args)})")
            return "\n".join(lines)
        return "\n".join(seed + [f"{call['function']}({', '.join(args)})"])
    except (KeyError, TypeError, AttributeError):
        return ""


def _arg_text(arg):
    if isinstance(arg, dict):
        if "a" in arg:
            return str(arg["a"])
        if "v" in arg:
            return repr(arg["v"])
        if "t" in arg:
            items = [_arg_text(a) for a in arg["t"]]
            return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
        if "l" in arg:
            return "[" + ", ".join(_arg_text(a) for a in arg["l"]) + "]"
        if "d" in arg:
            return "{" + ", ".join(f"{k!r}: {_arg_text(v)}" for k, v in arg["d"].items()) + "}"
        if "dtype" in arg:
            return f"np.{arg['dtype']}"
        if "call" in arg:
            inner = call_text(arg["call"]).splitlines()
            return f"{inner[-1]}[{arg['take']}]" if inner else "..."
    return repr(arg)


# The whole submission ------------------------------------------------------------------

def function_view(summary, results):
    cases = [case_view(c) for c in results]
    _mark_repeated_diagnoses(cases)
    failing = [c for c in cases if not c["passed"]]
    return {"name": summary.name, "anchor": _anchor(summary.name), "module": summary.module,
            "score": summary.score, "possible": summary.possible, "passed": summary.passed,
            "count": summary.cases, "cases": cases, "failing": failing,
            "passing": [c for c in cases if c["passed"]], "state": "passed" if not failing else
            "partial" if summary.score > 0 else "failed"}


def _mark_repeated_diagnoses(cases):
    """Give each named mistake's hint in full once per function; later cases name it only."""
    seen = set()
    for case in cases:
        if case["hidden"] or case["passed"]:
            continue
        case["diagnoses"] = [{"key": d.key, "title": d.title, "hint": d.hint, "repeated": d.key in seen}
                             for d in case["diagnoses"]]
        seen.update(d["key"] for d in case["diagnoses"])


def fix_first(functions, later=()):
    """What to fix, per function with failures or warnings: its named mistakes, other failures,
    notes and warnings (a function that changes its inputs in place keeps its points, and is
    listed all the same).

    Functions whose every case fails for one reason of GATHERED (not implemented,
    files that do not import) are listed together at the end, in interface order.
    The others come first, the most points lost first, with the functions of the files
    in `later` last: those files call the student's other files (a network calls the
    layers), whose mistakes show up in them again. Failing cases
    with the same summary are listed together.
    """
    items, gathered = [], {}
    for order, f in enumerate(functions):
        warnings = []
        for case in f["cases"]:
            warnings += [w for w in case.get("warnings", []) if w not in warnings]
        if not f["failing"]:
            if warnings:  # full points, but something to fix all the same (an input changed in place)
                items.append({"function": f, "lost": 0, "order": order, "mistakes": [], "groups": [], "more": 0,
                              "notes": [], "warnings": warnings, "hidden": []})
            continue
        statuses = {c["status"] for c in f["failing"]}
        if len(statuses) == 1 and f["score"] == 0 and next(iter(statuses)) in GATHERED:
            gathered.setdefault(next(iter(statuses)), []).append(f)
            continue
        mistakes, groups, notes = {}, {}, []
        for case in f["failing"]:
            if case["hidden"]:
                continue
            for diagnosis in case["diagnoses"]:
                mistakes.setdefault(diagnosis["key"], {"diagnosis": diagnosis, "cases": []})["cases"].append(case)
            if not case["diagnoses"]:
                groups.setdefault(case["summary"], []).append(case)
            notes += [n for n in case["notes"] if n not in notes]
        groups = [{"summary": summary, "cases": cases} for summary, cases in groups.items()]
        items.append({"function": f, "lost": round(f["possible"] - f["score"], 2), "order": order,
                      "mistakes": list(mistakes.values()), "groups": groups[:MAX_FIX_CASES],
                      "more": sum(len(g["cases"]) for g in groups[MAX_FIX_CASES:]), "notes": notes,
                      "warnings": warnings, "hidden": [c for c in f["failing"] if c["hidden"]]})
    items.sort(key=lambda item: (item["function"]["module"] in later, -item["lost"],
                                 item["order"]))
    return {"items": items, "hidden": any(item["hidden"] for item in items),
            "gathered": [{"text": GATHERED[status], "functions": gathered[status],
                          "points": round(sum(f["possible"] for f in gathered[status]), 2)}
                         for status in GATHERED if status in gathered]}


def report_context(grade):
    by_function = {}
    for result in grade.cases:
        by_function.setdefault(result.case.function, []).append(result)
    functions = [function_view(summary, by_function[summary.name]) for summary in grade.by_function()]
    cases = [c for f in functions for c in f["cases"]]
    return {"grade": grade, "functions": functions, "version": __version__,
            "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
            "fixes": fix_first(functions, {m["name"] for m in grade.modules if m["imports"]}), "case_count": len(cases),
            "passed_count": sum(c["passed"] for c in cases),
            "visible_failing": [c for c in cases if not c["passed"] and not c["hidden"]],
            "hidden_failing": [c for c in cases if not c["passed"] and c["hidden"]]}


def render_report(grade, context=None):
    """report.html; context: report_context(grade), if the caller has it already."""
    return environment().get_template("report.html").render(**(context or report_context(grade)))


def gradescope_context(grade, context=None):
    """The report's context, plus what Gradescope may show before the hidden tests are released.

    Gradescope hides the total score while any test is hidden, so unless hidden tests
    are "visible" the summary counts the visible tests only and names no hidden one.
    """
    context = dict(context or report_context(grade))
    hidden = [c for c in grade.cases if c.case.hidden]
    withhold = bool(hidden) and grade.hidden_visibility != "visible"
    rows = []
    for f in context["functions"]:
        cases = [c for c in f["cases"] if not (withhold and c["hidden"])]
        if not cases:
            continue
        rows.append({"name": f["name"], "score": round(sum(c["score"] for c in cases), 2),
                     "possible": round(sum(c["points"] for c in cases), 2),
                     "passed": sum(c["passed"] for c in cases), "count": len(cases)})
    gathered = {f["name"] for group in context["fixes"]["gathered"] for f in group["functions"]}
    context.update({
        "withhold_hidden": withhold, "rows": rows,
        "gathered": [{"text": group["text"], "functions": [
            {"name": f["name"], "count": len([c for c in f["cases"] if not (withhold and c["hidden"])]),
             "points": round(sum(c["points"] for c in f["cases"] if not (withhold and c["hidden"])), 2)}
            for f in group["functions"]]} for group in context["fixes"]["gathered"]],
        "visible_failing": [c for c in context["visible_failing"] if c["function"] not in gathered],
        "shown_score": round(sum(r["score"] for r in rows), 2),
        "shown_possible": round(sum(r["possible"] for r in rows), 2),
        "shown_passed": sum(r["passed"] for r in rows), "shown_count": sum(r["count"] for r in rows),
        "hidden_count": len(hidden), "hidden_points": round(sum(c.case.points for c in hidden), 2),
        "hidden_shown": HIDDEN_SHOWN.get(grade.hidden_visibility, "later"),
    })
    return context


def render_gradescope_summary(grade, context=None):
    """The HTML summary at the top of Gradescope's results; context as for render_report."""
    return environment().get_template("gradescope_summary.html").render(**gradescope_context(grade, context))


# The class overview -----------------------------------------------------------------

HISTOGRAM_HEIGHT = 120     # px of the tallest bar


def class_overview_context(context):
    """The batch grader's numbers plus what the template needs to draw them."""
    bins = context.get("histogram", [])
    tallest = max([b["count"] for b in bins] + [1])
    histogram = [dict(b, height=round(HISTOGRAM_HEIGHT * b["count"] / tallest, 1)) for b in bins]
    functions = context.get("functions", [])
    students = []
    for student in context.get("students", []):
        scores = student.get("functions", {})
        cells = [{"score": scores.get(f["name"]),
                  "full": scores.get(f["name"]) is not None and scores[f["name"]] >= f["possible"]}
                 for f in functions]
        students.append(dict(student, report=report_link(student.get("report", "")), cells=cells))
    not_graded = [dict(student, report=report_link(student.get("report", "")))
                  for student in context.get("not_graded", [])]
    graded = context.get("graded", 0)
    mistakes = [dict(m, rate=m["count"] / graded if graded else 0.0) for m in context.get("mistakes", [])]
    return dict(context, histogram=histogram, histogram_height=HISTOGRAM_HEIGHT, students=students,
                not_graded=not_graded, mistakes=mistakes, function_names=[f["name"] for f in functions])


def report_link(path):
    """A student's report as a relative link, or "" for an absolute path.

    Everything but "/" and existing %-escapes is encoded, so a ":" can never start
    a scheme (javascript:, http:) and "#", "?" or spaces in a folder name still work.
    """
    path = str(path or "").replace("\\", "/")
    if not path or path.startswith("/"):
        return ""
    return urllib.parse.quote(path, safe="/%")


def render_class_overview(context):
    return environment().get_template("class_overview.html").render(
        version=__version__, **class_overview_context(context))
