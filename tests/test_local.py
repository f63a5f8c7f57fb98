"""A student's own run (grade(local=True)): the same grade as the sandbox's, from a plain child
process, and word of a case that runs long."""
import threading
import time

import pytest

from grader.cases import load_manifest
from grader.engine import still_running, _Watch, grade
from grader.local import ISOLATION
from helpers import CASES, cases_with_settings, edit_submission, write_solution


def mixed_submission(folder):
    """A submission with one of each kind of outcome: a tie-rule bug, a print, an input() call,
    os._exit on 4-D inputs only, and a loop that never ends."""
    submission = write_solution(folder, tie_rule="first")
    edit_submission(submission, "layers.py", "    out = np.where(x > 0, x, 0.0)",
                    "    print('relu sees', x.shape)\n    out = np.where(x > 0, x, 0.0)")
    edit_submission(submission, "layers.py", "    dx = np.where(x > 0, dout, 0.0)",
                    "    input()\n    dx = np.where(x > 0, dout, 0.0)")
    edit_submission(submission, "layers.py", "def affine_forward(x, w, b):\n",
                    "def affine_forward(x, w, b):\n    if x.ndim == 4:\n        import os\n        os._exit(3)\n")
    edit_submission(submission, "layers.py", "def leaky_relu_forward(x, negative_slope=0.01):\n",
                    "def leaky_relu_forward(x, negative_slope=0.01):\n    while True:\n        pass\n")
    return submission


def outcomes(result):
    """{case id: (status, score, summary)}; a timeout's summary holds its measured seconds, left out."""
    return {c.case.id: (c.status, c.score, "" if c.status == "timeout" else c.summary) for c in result.cases}


def test_a_local_run_grades_every_case_as_the_sandbox_does(tmp_path):
    cases = cases_with_settings(tmp_path, case_timeout=1.0)
    submission = mixed_submission(tmp_path / "s")
    local = grade(submission, cases, local=True)
    sandboxed = grade(submission, cases)
    assert outcomes(local) == outcomes(sandboxed)
    assert local.score == sandboxed.score
    statuses = {c.case.id: c.status for c in local.cases}
    assert statuses["affine_forward/multi-dim-input"] == "crashed"
    assert statuses["affine_forward/two-dim-input"] == "passed"
    assert [statuses[f"leaky_relu_forward/{label}"] for label in ("default-slope", "slope-0.25", "steep-slope")] \
        == ["timeout", "timeout", "not-run"]
    assert statuses["relu_backward/with-exact-zeros"] == "error"  # input() met the end of an empty stdin
    assert statuses["max_pool_backward/two-tied-maxima"] == "failed"
    assert local.isolation == ISOLATION


def test_a_local_run_keeps_each_cases_printed_output_with_that_case(tmp_path):
    submission = mixed_submission(tmp_path / "s")
    edit_submission(submission, "layers.py", "    while True:\n        pass\n", "    pass\n")
    result = grade(submission, CASES, local=True)
    relu = {c.case.id: c.output for c in result.cases if c.case.function == "relu_forward"}
    shapes = {c.case.id: c.inputs["x"].shape for c in result.cases if c.case.function == "relu_forward"}
    assert relu == {case: f"relu sees {shapes[case]}\n" for case in relu}
    assert next(c for c in result.cases if c.case.id == "affine_forward/two-dim-input").output == ""


def test_still_running_names_the_case_how_long_it_has_run_and_its_limit():
    manifest = load_manifest(CASES)
    public = next(c for c in manifest.cases if c.id == "conv_backward/stride-2-pad-1")
    hidden = next(c for c in manifest.cases if c.hidden and c.function == "conv_backward")
    assert still_running(public, 6, 10.0) == ("still running after 6 s: conv_backward [stride 2, pad 1] "
                                              "(the limit per case is 10 s)")
    assert still_running(hidden, 3) == "still running after 3 s: a hidden case of conv_backward"


def test_the_watch_names_a_running_case_at_each_mark_and_falls_silent_when_it_ends():
    manifest = load_manifest(CASES)
    case = next(c for c in manifest.cases if c.id == "conv_backward/stride-2-pad-1")
    said, first = [], threading.Event()

    def say(text):
        said.append(text)
        first.set()
    watch = _Watch(say, 10.0, every=0.05)
    try:
        watch.running(case)
        assert first.wait(30)
        watch.idle()
        heard = len(said)
        time.sleep(0.3)
        assert len(said) == heard
    finally:
        watch.close()
    assert said == [f"still running after {0.05 * mark:g} s: conv_backward [stride 2, pad 1] (the limit per case "
                    f"is 10 s)" for mark in range(1, heard + 1)]


def test_a_grade_tells_its_slow_callback_which_case_runs_long(tmp_path):
    cases = cases_with_settings(tmp_path, case_timeout=4.5)
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "def leaky_relu_forward(x, negative_slope=0.01):\n",
                    "def leaky_relu_forward(x, negative_slope=0.01):\n    while True:\n        pass\n")
    said = []
    result = grade(submission, cases, local=True, slow=said.append)
    assert said == ["still running after 3 s: leaky_relu_forward [default slope] (the limit per case is 4.5 s)",
                    "still running after 3 s: leaky_relu_forward [slope 0.25] (the limit per case is 4.5 s)"]
    assert result.score == pytest.approx(100 - 2)


def test_a_local_run_keeps_at_most_8_mb_of_a_cases_output_as_the_sandbox_does(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    out = np.where(x > 0, x, 0.0)",
                    "    import sys\n    sys.stdout.write('x' * (9 << 20))\n    out = np.where(x > 0, x, 0.0)")
    local = grade(submission, CASES, local=True)
    sandboxed = grade(submission, CASES)
    note = "\n[... and 1048576 more bytes were dropped: output stops at 8 MB per case ...]"
    for result in (local, sandboxed):
        relu = [c for c in result.cases if c.case.function == "relu_forward"]
        assert [c.output.endswith("x" * 100 + note) for c in relu] == [True] * len(relu)
        assert all(c.passed for c in relu)
