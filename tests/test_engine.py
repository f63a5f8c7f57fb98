"""Engine behaviours: forbidden imports, in-place changes, the time budget, return values, our own bugs."""
import json

import pytest

from grader.engine import grade
from helpers import CASES, FIXTURE, ROOT, cases_with_settings, edit_submission, points_of, write_solution



def by_function(result, function):
    return [c for c in result.cases if c.case.function == function]


def test_a_forbidden_import_fails_the_module_that_imports_it_and_names_the_line(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "import numpy as np\n", "import numpy as np\nimport scipy.signal\n")
    result = grade(submission, CASES)
    assert result.problems[0] == ("layers.py: imports scipy (layers.py:9): these packages may not be used in "
                                  "this assignment; use NumPy alone")
    assert result.score == 0  # fc_net imports layers, so it cannot be graded either
    assert {c.status for c in result.cases} == {"import"}


def test_with_on_forbidden_warn_a_forbidden_import_is_only_a_note(tmp_path):
    cases = cases_with_settings(tmp_path, on_forbidden="warn")
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "fc_net.py", "import numpy as np\n", "import numpy as np\n"
                    "try:\n    import torch\nexcept ImportError:\n    pass\n")
    result = grade(submission, cases)
    assert result.score == 100
    assert result.notes == ["fc_net.py: imports torch (fc_net.py:4): these packages should not be used in this "
                            "assignment; use NumPy alone"]


def test_an_import_hidden_from_the_static_check_is_still_refused_at_run_time(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    out = np.where(x > 0, x, 0.0)",
                    "    exec('imp' + 'ort sk' + 'learn')\n    out = np.where(x > 0, x, 0.0)")
    result = grade(submission, CASES)
    relu = by_function(result, "relu_forward")
    assert all(c.status == "error" and "sklearn may not be used in this assignment" in c.summary for c in relu)


def test_modifying_an_input_in_place_is_a_warning_not_a_penalty(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    dx = np.where(x > 0, dout, 0.0)",
                    "    dx = np.where(x > 0, dout, 0.0)\n    dout *= 0")
    result = grade(submission, CASES)
    relu = by_function(result, "relu_backward")
    assert all(c.passed for c in relu)
    assert relu[0].warnings == ["relu_backward changed its input dout in place. A function must not modify its "
                                "inputs: the caller may still need them. Work on a copy (x.copy()) or build "
                                "new arrays."]


def test_cases_left_when_the_time_budget_runs_out_are_recorded_as_not_run(tmp_path):
    cases = cases_with_settings(tmp_path, total_budget=1.0, case_timeout=5.0)
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    out = np.where(x > 0, x, 0.0)",
                    "    import time; time.sleep(3)\n    out = np.where(x > 0, x, 0.0)")
    result = grade(submission, cases)
    statuses = [c.status for c in result.cases]
    first_relu = statuses.index("timeout")
    assert result.cases[first_relu].case.function == "relu_forward"
    assert set(statuses[first_relu + 1:]) == {"not-run"}
    assert result.budget_exhausted
    assert result.cases[-1].summary.startswith("not run: the time budget for the whole submission ran out")


@pytest.mark.parametrize("body, summary", [
    ("return [[0.0]], x", "out is a list ([[0.0]]); expected a NumPy array"),
    ("return np.array([object()] * 18).reshape(x.shape), x", "out is an array of dtype object; expected a NumPy array"),
    ("return np.zeros_like(x)", "relu_forward's return value must be a tuple (out, cache); got ndarray"),
    ("return np.zeros_like(x), x, 1",
     "relu_forward's return value must be a tuple (out, cache); got a tuple of length 3"),
    ("return np.zeros(3), x", "out has shape (3,); expected (3, 6)"),
    ("return None, x", "out is None"),
    ("return np.zeros_like(x) + 1j, x", "out has complex dtype complex128; expected real float64 values"),
    ("return np.full_like(x, np.nan), x", "out contains NaN in 18 of 18 elements"),
])
def test_a_return_value_of_the_wrong_kind_gets_a_specific_message(tmp_path, body, summary):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    out = np.where(x > 0, x, 0.0)\n    cache = x\n    return out, cache",
                    f"    {body}")
    result = grade(submission, CASES)
    first = by_function(result, "relu_forward")[0]
    assert first.score == 0 and first.summary == summary


def test_float32_answers_that_are_right_pass_with_a_warning(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    out = np.where(x > 0, x, 0.0)",
                    "    out = np.where(x > 0, x, 0.0).astype(np.float32)")
    result = grade(submission, CASES)
    relu = by_function(result, "relu_forward")
    assert all(c.passed for c in relu)
    assert relu[0].warnings == ["out has dtype float32; the interface uses float64"]


def test_a_loss_returned_as_a_one_element_array_passes_with_a_warning(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    loss = float(-log_probs[np.arange(N), y].mean())",
                    "    loss = np.array([-log_probs[np.arange(N), y].mean()])")
    result = grade(submission, CASES)
    softmax = by_function(result, "softmax_loss")
    assert all(c.passed for c in softmax)
    assert "loss is an array of shape (1,); return a float" in softmax[0].warnings


def test_a_bug_in_the_grader_on_one_case_is_a_visible_autograder_error_with_a_hidden_traceback(tmp_path, monkeypatch):
    from grader import evaluate
    from grader.gradescope import build_results
    from helpers import validate_results
    original = evaluate.evaluate

    def broken(case, *args, **kwargs):
        if case.id == "relu_forward/with-exact-zeros":
            raise RuntimeError("simulated grader bug")
        return original(case, *args, **kwargs)

    monkeypatch.setattr(evaluate, "evaluate", broken)
    result = grade(write_solution(tmp_path / "s"), CASES)
    case = next(c for c in result.cases if c.case.id == "relu_forward/with-exact-zeros")
    assert case.status == "internal" and "bug in the grader, not in your code" in case.summary
    assert "RuntimeError: simulated grader bug" in case.internal
    data = validate_results(build_results(result))
    visible = next(t for t in data["tests"] if t["name"].startswith("Autograder error: relu_forward"))
    assert visible["status"] == "failed" and "RuntimeError" not in visible.get("output", "")
    hidden = data["tests"][-1]
    assert hidden["visibility"] == "hidden" and "simulated grader bug" in hidden["output"]
    assert result.score == 100 - next(c.possible for c in result.cases if c.case.id == case.case.id)


def test_a_bug_in_the_graders_pipe_handling_costs_only_that_case_and_the_worker_starts_afresh(tmp_path, monkeypatch):
    from grader.runner import WorkerSession
    original = WorkerSession.receive
    failed = []

    def broken(self, pending):
        if not failed:
            failed.append(True)
            raise OSError("simulated failure reading the answer pipe")
        return original(self, pending)

    monkeypatch.setattr(WorkerSession, "receive", broken)
    result = grade(write_solution(tmp_path / "s"), CASES)
    first = result.cases[0]
    assert first.status == "internal" and "OSError: simulated failure" in first.internal
    assert [c.status for c in result.cases[1:]] == ["passed"] * (len(result.cases) - 1)
    assert result.score == 100 - first.possible


def test_every_mistake_of_the_catalog_differs_from_the_answer_on_a_case_of_its_function():
    manifest = json.loads((CASES / "manifest.json").read_text())
    detected = {f"{case['function']}/{slug}" for case in manifest["cases"] for slug in case["mistakes"]}
    assert sorted(detected) == sorted(manifest["mistakes"])
    from grader.authoring.assignment import load_assignment
    assert len(manifest["mistakes"]) == len(load_assignment(FIXTURE).catalog)


def test_a_segfault_costs_only_the_case_it_happens_in(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    out = np.where(x > 0, x, negative_slope * x)",
                    "    import ctypes; ctypes.string_at(0)\n    out = np.where(x > 0, x, negative_slope * x)")
    result = grade(submission, CASES)
    leaky = by_function(result, "leaky_relu_forward")
    assert all(c.status == "crashed" and "SIGSEGV" in c.summary and "segmentation fault" in c.summary
               for c in leaky)
    assert result.score == 100 - points_of("leaky_relu_forward")


def test_a_forged_import_report_costs_the_module_and_not_the_grade(tmp_path):
    submission = write_solution(tmp_path / "s")
    forger = (
        "import json as _json, os as _os, struct as _struct, sys as _sys\n"
        "_body = _json.dumps({'type': 'import', 'module': 'layers', 'ok': True, 'seconds': 'soon',\n"
        "                     'blobs': []}).encode()\n"
        "_os.write(int(_sys.argv[2]), _struct.pack('>I', len(_body)) + _body)\n")
    edit_submission(submission, "layers.py", "import numpy as np\n", "import numpy as np\n" + forger)
    result = grade(submission, CASES)
    assert result.problems[0].startswith("layers.py: importing it ended the process (protocol: malformed "
                                         "import report")
    assert result.score == 0
    assert {c.status for c in result.cases} == {"import"}


def test_a_file_too_deeply_nested_to_parse_is_reported_like_a_syntax_error(tmp_path):
    submission = write_solution(tmp_path / "s")
    (submission / "layers.py").write_text("x = " + "+".join(["1"] * 100000) + "\n")
    result = grade(submission, CASES)
    assert result.problems == [
        "layers.py: syntax error: Python cannot parse this file: an expression in it is nested too deeply "
        "or is too long"]
    assert result.score == 0


def test_a_zip_holding_a_file_and_a_folder_of_the_same_name_loses_only_that_file(tmp_path):
    import zipfile
    solution = write_solution(tmp_path / "s")
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        for name in ("layers.py", "fc_net.py"):
            archive.write(solution / name, name)
        archive.writestr("helper", "x")
        archive.writestr("helper/util.py", "y = 1\n")
    result = grade(upload, CASES)
    assert result.score == 100
    assert [note for note in result.notes if "left out" in note] == [
        "helper/util.py was left out: it could not be placed beside the other files (File exists)"]


def test_outputs_replace_links_planted_in_the_output_folder_instead_of_following_them(tmp_path):
    from grader.outputs import write_outputs
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    out.mkdir()
    for name in ("report.html", "results.json"):
        (out / name).symlink_to(victim)
    write_outputs(grade(write_solution(tmp_path / "s"), CASES), out)
    assert victim.read_text() == "precious"
    for name in ("report.html", "results.json"):
        assert not (out / name).is_symlink()
    assert json.loads((out / "results.json").read_text())["score"] == 100


def test_an_output_folder_that_cannot_be_created_is_a_one_line_error(tmp_path):
    import subprocess
    import sys
    blocker = tmp_path / "file"
    blocker.write_text("")
    finished = subprocess.run([sys.executable, "-m", "grader", "grade", "--assignment", str(FIXTURE),
                               str(write_solution(tmp_path / "s")),
                               "--out", str(blocker / "out")], cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 2
    assert finished.stderr == (f"error: cannot create the output folder {blocker / 'out'}: {blocker} is a file, "
                               f"not a folder\n")


def test_python_m_grader_prints_its_whole_summary_through_a_pipe_before_it_exits(tmp_path):
    # `python -m grader` leaves with os._exit, skipping the interpreter's teardown: what
    # print() buffered for a pipe must still arrive, and the exit status must pass through.
    import os
    import subprocess
    import sys
    out = tmp_path / "out"
    buffered = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    finished = subprocess.run([sys.executable, "-m", "grader", "grade", "--assignment", str(FIXTURE),
                               str(write_solution(tmp_path / "s")),
                               "--out", str(out)], cwd=ROOT, capture_output=True, text=True, env=buffered)
    assert finished.returncode == 0, finished.stderr
    lines = finished.stdout.splitlines()
    assert lines[-4:] == ["total".ljust(len("FullyConnectedNet.__init__")) + "  100 / 100", "",
                          f"report:  {out / 'report.html'}", f"results: {out / 'results.json'}"]
    assert json.loads((out / "results.json").read_text())["score"] == 100
    assert (out / "report.html").read_text(encoding="utf-8").rstrip().endswith("</html>")


def test_cases_are_graded_from_the_bytes_whose_hash_was_checked_not_read_again(tmp_path):
    import shutil

    from grader.cases import load_manifest
    shutil.copytree(CASES, tmp_path / "test_cases")
    manifest = load_manifest(tmp_path / "test_cases")
    case = manifest.cases[0]
    checked = (CASES / case.file).read_bytes()
    (tmp_path / "test_cases" / case.file).write_bytes(b"changed after the check")
    assert manifest.case_bytes(case) == checked
    assert manifest.load(case).inputs.keys() == load_manifest(CASES).load(case).inputs.keys()



def test_a_checked_case_is_parsed_once_per_process_into_read_only_arrays(tmp_path):
    import shutil

    import numpy as np

    from grader.cases import load_manifest
    manifest = load_manifest(CASES)
    case = manifest.cases[0]
    data = manifest.load(case)
    assert manifest.load(case) is data  # a batch's later grades reuse it
    name = next(iter(data.inputs))
    with pytest.raises(ValueError, match="read-only"):
        data.inputs[name][...] = 0
    assert np.array_equal(data.inputs[name], load_manifest(CASES).load(case).inputs[name])
    shutil.copytree(CASES, tmp_path / "test_cases")
    unchecked = load_manifest(tmp_path / "test_cases", verify=False)
    assert not unchecked.checked and unchecked.load(case) is not unchecked.load(case)
    with pytest.raises(ValueError, match="without reading and checking its cases"):
        grade(write_solution(tmp_path / "s"), tmp_path / "test_cases", manifest=unchecked)

def test_a_config_changed_since_the_cases_were_generated_stops_grading_with_advice(tmp_path):
    import shutil
    import subprocess
    import sys
    shutil.copytree(CASES, tmp_path / "test_cases")
    config = tmp_path / "assignment.toml"
    config.write_text((FIXTURE / "assignment.toml").read_text().replace('tie_rule = "all"', 'tie_rule = "first"'))
    finished = subprocess.run([sys.executable, "-m", "grader", "grade", "--assignment", str(FIXTURE),
                               str(write_solution(tmp_path / "s")),
                               "--cases", str(tmp_path / "test_cases"), "--out", str(tmp_path / "out")],
                              cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 2
    assert finished.stderr == (f"error: {config} has changed since {tmp_path / 'test_cases'} was generated; "
                               f"run `python -m grader generate` so that the cases follow it\n")
    assert not (tmp_path / "out" / "results.json").exists()


@pytest.mark.parametrize("body, problem", [
    ("'[' * 200000", "layers.py: importing it ended the process (protocol: unreadable header"),
    ("'{\"type\": \"import\", \"module\": 7, \"ok\": false, \"blobs\": []}'",
     "layers.py: importing it ended the process (protocol: unexpected message while importing"),
    # A frame that is not (file, line, function, text) is left out, not an error of the grader's.
    ("'{\"type\": \"import\", \"module\": \"layers\", \"ok\": false, \"blobs\": [], '"
     " '\"error\": {\"type\": \"E\", \"message\": \"m\", \"frames\": [[\"a\", Infinity, \"b\", \"c\"], [], 5]}}'",
     "layers.py: importing it raised E: m"),
])
def test_garbage_on_the_answer_pipe_at_import_costs_the_module_and_not_the_grade(tmp_path, body, problem):
    submission = write_solution(tmp_path / "s")
    forger = ("import os as _os, struct as _struct, sys as _sys\n"
              f"_body = ({body}).encode()\n"
              "_os.write(int(_sys.argv[2]), _struct.pack('>I', len(_body)) + _body)\n")
    edit_submission(submission, "layers.py", "import numpy as np\n", "import numpy as np\n" + forger)
    result = grade(submission, CASES)
    assert result.problems[0].startswith(problem)
    assert result.score == 0


def test_the_worker_is_killed_as_soon_as_the_last_answer_is_in_and_reaped_before_grade_returns(tmp_path, monkeypatch):
    import os

    from grader.runner import WorkerSession
    events = []
    for name in ("receive", "end", "close"):
        original = getattr(WorkerSession, name)

        def spy(self, *args, _original=original, _name=name):
            if _name != "receive":
                events.append((_name, None if self.process is None else self.process.pid))
            else:
                events.append((_name, None))
            return _original(self, *args)

        monkeypatch.setattr(WorkerSession, name, spy)
    result = grade(write_solution(tmp_path / "s"), CASES)
    assert result.score == 100
    receives = [e for e in events if e[0] == "receive"]
    assert len(receives) == len(result.cases)
    last = max(index for index, (name, _) in enumerate(events) if name == "receive")
    assert [name for name, _ in events[last + 1:]] == ["end", "close"]  # (and an "end" after the visible cases)
    (_, pid), (_, pid_at_close) = events[-2:]
    assert pid is not None and pid_at_close == pid
    with pytest.raises(ChildProcessError):  # reaped by close(): no longer a child of ours
        os.waitpid(pid, os.WNOHANG)


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
def test_a_killed_process_is_waited_for_and_reaped_with_or_without_a_pidfd(pidfd, monkeypatch):
    import os
    import signal
    import subprocess
    import sys

    from grader.runner import _wait_for_exit
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    elif not hasattr(os, "pidfd_open"):
        pytest.skip("this system has no pidfd_open")
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    process.send_signal(signal.SIGKILL)
    _wait_for_exit(process, 30)
    assert process.returncode == -signal.SIGKILL
    _wait_for_exit(process, 30)  # already reaped: nothing to wait for, and no error
    assert process.returncode == -signal.SIGKILL
