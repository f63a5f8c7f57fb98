"""results.json in Gradescope's format, written by exactly one function.

The tests come from gradescope-utils' JSONTestRunner, run on unittest tests built
from the graded cases, so that the same path runs locally and on Gradescope. The
traps of gradescope-utils 0.5.0 are avoided: no subTest, nothing in setUpClass,
a fresh test class (and fresh partial_credit wrappers) for every run, and a
numeric execution_time. Each test only reports a score that was computed
before, outside unittest, in the parent process.
"""
import io
import json
import math
import unittest
from pathlib import Path

from gradescope_utils.autograder_utils.decorators import number, partial_credit, tags, visibility
from gradescope_utils.autograder_utils.json_test_runner import JSONTestRunner

from .feedback import case_feedback
from .files import replace_file
from .text import clean_data

MAX_TEST_OUTPUT = 8000
MAX_TOP_OUTPUT = 60000


def build_results(grade, summary_html=""):
    """The results.json dictionary for a graded submission."""
    hidden_visibility = grade.hidden_visibility
    methods, order = {}, []
    for index, case_result in enumerate(grade.cases):
        name = f"test_{index:04d}"
        methods[name] = _test_method(case_result, hidden_visibility)
        order.append(name)
    internal = [c for c in grade.cases if c.internal]
    test_class = type("GradedCases", (unittest.TestCase,), methods)
    suite = unittest.TestSuite(test_class(name) for name in order)
    captured = {}

    def post_process(data):
        captured.update(data)
        data.clear()  # taken: the runner then prints only {} to its throwaway stream, not 57 tests

    runner = JSONTestRunner(stream=io.StringIO(), visibility="visible", stdout_visibility="hidden",
                            post_processor=post_process, failure_prefix="")
    runner.run(suite)
    data = captured
    data["execution_time"] = round(float(grade.seconds), 3)
    data["score"] = grade.score
    data["output"] = _truncate(summary_html, MAX_TOP_OUTPUT)
    data["output_format"] = "html"
    data["test_output_format"] = "md"
    data["test_name_format"] = "text"
    if not data.get("leaderboard"):
        data.pop("leaderboard", None)
    data["extra_data"] = {"isolation": grade.isolation, "interpreter": grade.interpreter}
    for test in data["tests"]:
        test["output"] = _truncate(test.get("output", ""), MAX_TEST_OUTPUT)
        if not test["output"]:
            del test["output"]
        test["tags"] = list(test.get("tags", []))
    if internal:
        data["tests"].append({
            "name": "Autograder error details (staff only)",
            "score": 0.0, "max_score": 0.0, "status": "failed", "visibility": "hidden",
            "output": _truncate("\n\n".join(f"{c.case.id}:\n{c.internal}" for c in internal), MAX_TEST_OUTPUT),
        })
    return data


def _test_method(case_result, hidden_visibility):
    case = case_result.case
    feedback = case_feedback(case_result, markdown=True)
    failed = not case_result.passed

    def test(self, set_score=None):
        set_score(case_result.score)
        if failed:
            raise AssertionError(feedback)
        if feedback.strip() and case_result.warnings:
            print(feedback, end="")

    test.__doc__ = f"{case.function}: {case.label}"
    if case_result.status == "internal":
        test.__doc__ = f"Autograder error: {case.function}: {case.label}"
    wrapped = partial_credit(case.points)(test)
    wrapped = number(case.number)(wrapped)
    wrapped = tags(*case.tags)(wrapped)
    wrapped = visibility(hidden_visibility if case.hidden else "visible")(wrapped)
    return wrapped


def error_results(message, details="", total_points=0.0, seconds=0.0):
    """results.json for a run in which the grader itself failed: visible notice, hidden traceback."""
    tests = [{
        "name": "Autograder error",
        "score": 0.0,
        "max_score": float(total_points),
        "status": "failed",
        "visibility": "visible",
        "output": ("The autograder could not grade this submission. This is a problem with the grader, "
                   "not necessarily with your code; your instructor has been given the details.\n\n"
                   + message),
    }]
    if details:
        tests.append({"name": "Autograder error details (staff only)", "score": 0.0, "max_score": 0.0,
                      "status": "failed", "visibility": "hidden", "output": _truncate(details, MAX_TEST_OUTPUT)})
    return {"score": 0.0, "execution_time": round(float(seconds), 3), "output": message,
            "output_format": "text", "visibility": "visible", "stdout_visibility": "hidden", "tests": tests}


def write_results(path, data):
    """The one function that writes results.json: checked, then written atomically.

    Writes to a temporary file beside `path` and renames it over `path`, so a
    results.json planted there before is replaced, never merged or appended to.
    """
    _check(data)
    data = clean_data(data)  # student text with lone surrogates: no UTF-8 writer takes them
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return replace_file(path, json.dumps(data, indent=2, allow_nan=False) + "\n")


def _check(data):
    tests = data.get("tests")
    if not isinstance(tests, list) or not tests:
        raise ValueError("results.json needs at least one test")
    for test in tests:
        for key in ("score", "max_score"):
            value = test.get(key)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
                raise ValueError(f"test {test.get('name')!r} has {key} {value!r}")
    if not isinstance(data.get("execution_time", 0), (int, float)):
        raise ValueError("execution_time must be a number")


def _truncate(text, limit):
    if len(text) <= limit:
        return text
    return text[:limit - 60] + f"\n\n[... {len(text) - limit + 60} characters omitted ...]"
