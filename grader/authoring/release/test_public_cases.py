"""The public test cases of the assignment, one test each, in the order Gradescope lists them.

A test is named after the function it grades and what its case checks, for
example test_conv_backward[stride 2, pad 1]. The grading
happens once, in conftest.py's `graded` fixture, with the same grader as
Gradescope; a test only reports its case's result. A failing test shows the
feedback Gradescope would show for that case, with its points.
"""
import json
import warnings
from pathlib import Path

import pytest

MANIFEST = json.loads((Path(__file__).resolve().parent / "test_cases" / "manifest.json")
                      .read_text(encoding="utf-8"))


def test_interface(graded):
    """Your files exist, parse, import, and define every function with the required signature."""
    problems = list(graded.problems)
    for result in graded.cases:
        if result.status == "interface" and result.summary not in problems:
            problems.append(result.summary)
    if problems:
        one = len(problems) == 1
        pytest.fail(f"Fix {'this problem' if one else 'these problems'} first: the tests "
                    f"{'it affects' if one else 'they affect'} cannot pass until you do.\n\n"
                    + "\n".join(f"- {problem}" for problem in problems), pytrace=False)


def check_case(graded, case_id, node):
    """Pass, or fail with the case's feedback: the text Gradescope shows, in plain form."""
    from grader.feedback import case_feedback
    result = next(r for r in graded.cases if r.case.id == case_id)
    node.user_properties.append(("points", (result.score, result.possible)))
    if result.passed:
        for warning in result.warnings:
            warnings.warn(f"{result.case.function} [{result.case.label}]: {warning}", UserWarning)
        return
    pytest.fail(case_feedback(result, markdown=False), pytrace=False)


def _test_name(function):
    """'conv_backward' -> 'test_conv_backward'; 'Net.__init__' -> 'test_Net_init'."""
    return "test_" + function.replace(".__init__", ".init").replace(".", "_")


def _case_test(function):
    cases = [case for case in MANIFEST["cases"] if case["function"] == function]

    @pytest.mark.parametrize("case_id", [case["id"] for case in cases], ids=[case["label"] for case in cases])
    def test(graded, case_id, request):
        check_case(graded, case_id, request.node)

    test.__name__ = test.__qualname__ = _test_name(function)
    test.__doc__ = f"The public cases of {function}."
    return test


for _function in MANIFEST["functions"]:
    if any(case["function"] == _function["name"] for case in MANIFEST["cases"]):
        globals()[_test_name(_function["name"])] = _case_test(_function["name"])
