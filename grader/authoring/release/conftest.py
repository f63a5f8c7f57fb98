"""How `pytest` grades your files on the public test cases.

The grading itself is done once per session by grader/, the same engine,
comparisons and diagnoses that Gradescope runs: the files you submit are copied to
a fresh folder, exactly what you would upload, and graded there, each case in a
separate process with Gradescope's time limit per case, so that a crash or a loop
that never ends costs that case only. It is your own code on your own computer, so
it runs without Gradescope's sandbox, on macOS, Windows and Linux alike. A case that
runs long is named on the terminal every few seconds. Each test in
test_public_cases.py then reports one case's result, with the message Gradescope
would show. At the end, a table gives your points on the public cases per function.

    pytest                      grade everything
    pytest -k NAME              only the tests of the functions whose names hold NAME
    pytest --report             also write the HTML feedback to reports/report.html
"""
import json
import shutil
import sys
import traceback
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
CASES = HERE / "test_cases"
REPORTS = HERE / "reports"
_session = {}                             # "result": the GradeResult, "report": report.html's path


def pytest_addoption(parser):
    group = parser.getgroup("assignment")
    group.addoption("--report", action="store_true",
                    help="also write the HTML feedback (report.html, and Gradescope's results.json) "
                         "to reports/")


@pytest.fixture(scope="session")
def graded(request, tmp_path_factory):
    """The GradeResult of this folder's files on the public cases."""
    submission = tmp_path_factory.mktemp("submission")
    for name in _submitted():
        if (HERE / name).is_file():
            shutil.copyfile(HERE / name, submission / name)
    try:
        from grader.engine import grade
        from grader.errors import UserError
    except ImportError as exc:
        pytest.exit(f"the grader cannot be imported ({exc}); run `pip install -r requirements.txt` "
                    f"in this folder first", returncode=3)
    try:
        result = grade(submission, CASES, local=True, slow=_terminal(request.config))
    except UserError as exc:
        pytest.exit(f"the tests could not run: {exc}\nIf you changed anything under test_cases/ or "
                    f"grader/, unzip a fresh copy of them from the release.", returncode=3)
    except Exception:
        pytest.exit("the grader itself failed, before grading any case; this is not a problem with "
                    "your code. Please send this to your instructor:\n" + traceback.format_exc(),
                    returncode=3)
    result.submission = HERE.name
    _session["result"] = result
    if request.config.getoption("report"):
        from grader.outputs import write_outputs
        _, _session["report"] = write_outputs(result, REPORTS)
    return result


def _terminal(config):
    """say(text): a line on the terminal now, while pytest holds back the output of the
    fixture that is grading (it shows that output only if the fixture fails)."""
    capture = config.pluginmanager.getplugin("capturemanager")

    def write(text):
        sys.stderr.write(f"\n{text}\n")
        sys.stderr.flush()

    def say(text):
        if capture is None:  # (pytest -p no:capture)
            write(text)
            return
        with capture.global_and_fixture_disabled():
            write(text)
    return say


def _submitted():
    """The files students upload to Gradescope, and all that is graded."""
    try:
        manifest = json.loads((CASES / "manifest.json").read_text(encoding="utf-8"))
        return [module["file"] for module in manifest["modules"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def _total_points():
    try:
        return float(json.loads((CASES / "manifest.json").read_text(encoding="utf-8"))["assignment"]["total_points"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def pytest_report_teststatus(report, config):
    """PASSED (1.8/1.8 points) or FAILED (0/1.8 points) beside each case's test in -v output.

    A plain word, not a (word, markup) pair, which pytest 7 prints raw in its summary.
    """
    points = dict(report.user_properties).get("points")
    if report.when != "call" or points is None:
        return None
    score, possible = points
    text = f"({score:g}/{possible:g} points)"
    if report.passed:
        return "passed", ".", f"PASSED {text}"
    if report.failed:
        return "failed", "F", f"FAILED {text}"
    return None


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    result = _session.get("result")
    if result is None:
        return
    from grader.outputs import summary_table
    write = terminalreporter.write_line
    terminalreporter.section("points on the public test cases")
    for problem in result.problems:
        write(f"problem: {problem}")
    for note in result.notes:
        write(f"note: {note}")
    if result.problems or result.notes:
        write("")
    for line in summary_table(result):
        write(line)
    write("")
    total = _total_points()
    if total > result.possible:
        write(f"These cases carry {result.possible:g} of the assignment's {total:g} points. Gradescope "
              f"grades them with the same grader, and grades the rest with cases that are not in "
              f"this folder.")
    if "report" in _session:
        write(f"HTML feedback: {_session['report']}")
    else:
        write("For the HTML feedback, run `pytest --report` and open reports/report.html.")
