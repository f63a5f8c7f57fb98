"""The student release: what the zip holds, and its pytest suite run as a student runs it.

A fresh virtual environment gets the release's requirements.txt, once for the
module; the release's own `pytest` then grades the untouched template, a correct
solution, a solution with a tie-rule bug and one with interface problems, and, with
Linux's own facilities made unavailable, a correct solution and one that loops and
crashes.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader.authoring.package import runtime_files
from grader.authoring.release import NOT_SHIPPED, build_release, release_folder
from grader.engine import grade
from helpers import (CASES, FIXTURE, ROOT, autograder_tree, build_package, edit_submission, load_results,
                     run_autograder,
                     stale_project, write_solution)

MANIFEST = json.loads((CASES / "manifest.json").read_text(encoding="utf-8"))
PUBLIC = [case for case in MANIFEST["cases"] if case["visibility"] == "public"]
HIDDEN = [case for case in MANIFEST["cases"] if case["visibility"] == "hidden"]
TEMPLATE_FILES = ("layers.py", "fc_net.py", "gradient_check.py")
TOP = "backprop-by-hand"  # the folder the release unpacks into, from the fixture's title
SUMMARY_ROW = re.compile(r"^(\S+)\s+([\d.]+) / ([\d.]+)\s+(\d+)/(\d+)$", re.M)


# Helpers ---------------------------------------------------------------------------

def unpack(zip_path, folder):
    """Unzip the release into folder, as a student does; the one folder it makes."""
    folder.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(folder)
    made = list(folder.iterdir())
    assert len(made) == 1 and made[0].is_dir(), made
    return made[0]


def case_test_id(case):
    """The pytest id a student sees for a case: test_max_pool_backward[two tied maxima in one window]."""
    name = case["function"].replace(".__init__", ".init").replace(".", "_")
    return f"test_{name}[{case['label']}]"


def student_env():
    """The environment of a student's shell: nothing of this project's own test session."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST_", "PYTHON", "VIRTUAL_ENV"))}
    env["NO_COLOR"] = "1"
    return env


def run_student(venv, folder, *args, prefix=()):
    """`pytest ARGS` in the unpacked release, with the student's venv (under the prefix's command)."""
    command = [*prefix, str(venv / "bin" / "pytest"), *args]
    return subprocess.run(command, cwd=folder, env=student_env(), capture_output=True, text=True, timeout=300)


def outcome_lines(output):
    """{test id: PASSED or FAILED} from the -v lines of a run."""
    return dict(re.findall(r"^test_public_cases\.py::(\S+(?:\[[^\]]*\])?) (PASSED|FAILED)", output, re.M))


def summary_rows(output):
    """{function: (score, possible)} from the points table at the end of a run."""
    section = output.split("points on the public test cases", 1)[1]
    return {name: (float(score), float(possible)) for name, score, possible, _, _ in SUMMARY_ROW.findall(section)}


def failures_section(output):
    """The FAILURES section of a run: the text between its header and the next one. (Not the short
    summary after it, whose lines pytest prints whole, messages and all, where $CI is set.)"""
    after = output.split("= FAILURES =", 1)[1]
    return re.split(r"^={5,} .+ ={5,}$", after, maxsplit=1, flags=re.M)[0]


def assert_no_internal_errors(run):
    text = run.stdout + run.stderr
    assert "INTERNALERROR" not in text
    assert not re.search(r"^ERROR ", run.stdout, re.M), "errors in collection or fixtures"
    assert not re.search(r"\d+ errors?\b", run.stdout.strip().splitlines()[-1])
    assert "Traceback" not in text


# Fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out, files = build_release(FIXTURE, tmp_path_factory.mktemp("release") / "release.zip")
    return out, files


@pytest.fixture(scope="module")
def venv(release, tmp_path_factory):
    """A fresh virtual environment with the release's requirements installed, as a student makes it."""
    venv = tmp_path_factory.mktemp("venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    folder = unpack(release[0], tmp_path_factory.mktemp("requirements"))
    installed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet",
                                "--disable-pip-version-check", "-r", "requirements.txt"],
                               cwd=folder, env=student_env(), capture_output=True, text=True, timeout=900)
    assert installed.returncode == 0, installed.stdout[-3000:] + installed.stderr[-3000:]
    return venv


@pytest.fixture(scope="module")
def template_run(release, venv, tmp_path_factory):
    folder = unpack(release[0], tmp_path_factory.mktemp("template"))
    return run_student(venv, folder)


@pytest.fixture(scope="module")
def tie_bug(release, venv, tmp_path_factory):
    """A release folder holding a solution that gives ties' gradient to the first maximum only."""
    folder = unpack(release[0], tmp_path_factory.mktemp("tie-bug"))
    write_solution(folder, tie_rule="first")
    return folder, run_student(venv, folder, "--report")


# What the zip holds -------------------------------------------------------------------

def test_release_unpacks_into_one_folder_named_after_the_assignment(release):
    out, files = release
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == sorted(f"{TOP}/{name}" for name in files)
    assert release_folder(MANIFEST["assignment"]["title"]) == TOP
    assert release_folder("Homework 2: layers of a convolutional network (CSC 249/449)") == "homework-2"
    assert release_folder("  ") == "release"


def test_release_folder_holds_the_template_the_tests_and_only_the_grader_a_local_run_needs(release):
    _, files = release
    for name in TEMPLATE_FILES:
        assert files[name] == (FIXTURE / "student_template" / name).read_bytes()
    top = {name for name in files if "/" not in name}
    assert top == set(TEMPLATE_FILES) | {"README.md", "requirements.txt", "conftest.py", "test_public_cases.py",
                                         "pytest.ini"}
    assert {name.split("/")[0] for name in files if "/" in name} == {"grader", "test_cases"}
    grader = {name: data for name, data in files.items() if name.startswith("grader/")}
    assert grader == {name: data for name, data in runtime_files().items() if not name.startswith(NOT_SHIPPED)}
    assert {name.split("/")[1] for name in grader} == {
        "__init__.py", "cases.py", "compare.py", "diagnose.py", "engine.py", "errors.py", "evaluate.py", "feedback.py",
        "files.py", "gradescope.py", "local.py", "outputs.py", "report", "results.py", "session.py", "static.py",
        "submission.py", "text.py", "ties.py", "walk.py", "worker.py"}
    assert "assignment.toml" not in files and not [name for name in files if name.startswith("reference/")]


# A local run in the unpacked release, with the test's own interpreter: every grader module it
# loads, from where, and its score.
LOCAL_RUN = """
import json, shutil, sys
sys.path.insert(0, ".")
import grader
from grader.engine import grade
from grader.feedback import case_feedback
from grader.outputs import summary_table, write_outputs
result = grade("submission", "test_cases", local=True)
write_outputs(result, "reports")
[case_feedback(c, markdown=False) for c in result.cases]
summary_table(result)
print(json.dumps({"modules": sorted(m.__file__ for n, m in sys.modules.items() if n.split(".")[0] == "grader"),
                  "score": result.score, "possible": result.possible}))
"""


def test_a_local_run_loads_every_grader_module_the_release_ships_and_nothing_it_leaves_out(release, tmp_path):
    folder = unpack(release[0], tmp_path / "release")
    write_solution(folder / "submission")
    run = subprocess.run([sys.executable, "-c", LOCAL_RUN], cwd=folder, env=student_env(), capture_output=True,
                         text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    loaded = json.loads(run.stdout.splitlines()[-1])
    modules = {Path(path).relative_to(folder).as_posix() for path in loaded["modules"]}
    assert modules == {name for name in release[1] if name.startswith("grader/") and name.endswith(".py")}
    assert loaded["score"] == loaded["possible"] == pytest.approx(sum(case["points"] for case in PUBLIC))


def test_release_manifest_lists_the_public_cases_and_only_the_mistakes_they_use(release):
    _, files = release
    manifest = json.loads(files["test_cases/manifest.json"])
    assert [case["id"] for case in manifest["cases"]] == [case["id"] for case in PUBLIC]
    assert set(manifest["files"]) == {case["file"] for case in PUBLIC}
    assert {name for name in files if name.endswith(".npz")} == {f"test_cases/{case['file']}" for case in PUBLIC}
    assert set(manifest["mistakes"]) == {f"{case['function']}/{slug}" for case in PUBLIC for slug in case["mistakes"]}


def test_no_hidden_case_is_named_anywhere_in_the_release(release):
    _, files = release
    blob = b"\n".join(files.values())
    public_text = "\n".join(case["label"] + "\n" + case["description"] for case in PUBLIC)
    public_mistakes = {f"{case['function']}/{slug}" for case in PUBLIC for slug in case["mistakes"]}
    secrets = []
    for case in HIDDEN:
        secrets += [case["id"], case["file"], Path(case["file"]).stem, MANIFEST["files"][case["file"]]]
        # A hidden case may share a public case's wording ("a batch of one"): that names nothing hidden.
        secrets += [text for text in (case["label"], case["description"]) if text not in public_text]
        secrets += [f"{case['function']}/{slug}" for slug in case["mistakes"]
                    if f"{case['function']}/{slug}" not in public_mistakes]
    assert len(secrets) > 5 * len(HIDDEN)
    leaked = [secret for secret in secrets if secret.encode("utf-8") in blob]
    assert leaked == []
    assert not [name for name in files if name.startswith("test_cases/hidden/")]


def test_public_manifest_drops_mistakes_only_hidden_cases_use_and_keys_it_does_not_know():
    from grader.authoring.release import public_manifest
    case = {"function": "f", "mistakes": ["shared"], "visibility": "public", "file": "public/f--a.npz"}
    secret = {"function": "f", "mistakes": ["shared", "only-hidden"], "visibility": "hidden",
              "file": "hidden/f--b.npz"}
    raw = {"format": 1, "cases": [case, secret], "hidden_ids": ["f/b"],
           "mistakes": {"f/shared": {}, "f/only-hidden": {}},
           "files": {"public/f--a.npz": "aa", "hidden/f--b.npz": "bb"}}
    assert public_manifest(raw) == {"format": 1, "cases": [case], "mistakes": {"f/shared": {}},
                                    "files": {"public/f--a.npz": "aa"}}


def test_release_bytes_are_reproducible(release, tmp_path):
    out, _ = build_release(FIXTURE, tmp_path / "again.zip")
    assert out.read_bytes() == release[0].read_bytes()


def test_release_refuses_stale_generated_files(tmp_path):
    from grader.errors import UserError
    with pytest.raises(UserError, match="out of date"):
        build_release(stale_project(tmp_path), tmp_path / "release.zip")
    assert not (tmp_path / "release.zip").exists()


def test_release_command_writes_the_zip(tmp_path):
    out = tmp_path / "students.zip"
    result = subprocess.run([sys.executable, "-m", "grader", "release", "--assignment", str(FIXTURE), "--out",
                             str(out)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"{len(PUBLIC)} public test cases" in result.stdout
    assert zipfile.is_zipfile(out)


def test_requirements_pin_what_the_gradescope_package_installs_and_pytest_as_a_minimum(release):
    _, files = release
    lines = [line for line in files["requirements.txt"].decode().splitlines() if line and not line.startswith("#")]
    assert lines == ["numpy==2.2.6", "jinja2==3.1.6", "MarkupSafe==3.0.3", "gradescope-utils==0.5.0", "pytest>=7.0",
                     'tomli==2.3.0; python_version < "3.11"']
    gradescope = (ROOT / "grader" / "authoring" / "gradescope" / "requirements.txt").read_text().splitlines()
    pinned = {line for line in gradescope if line and not line.startswith("#")}
    assert {line.split(";")[0] for line in lines} - {"pytest>=7.0"} == pinned


def test_readme_says_how_to_run_the_tests_on_macos_windows_and_linux(release):
    _, files = release
    readme = files["README.md"].decode()
    running = readme.split("## Running the tests", 1)[1].split("\n## ", 1)[0]
    assert f"gives the folder\n`{TOP}/`" in running
    assert "On **macOS** and **Linux**, in a terminal:" in running and "On **Windows**, in PowerShell:" in running
    unix, windows = re.findall(r"```(?:bash|powershell)\n(.*?)```", running, re.S)[:2]
    assert unix == (f"cd {TOP}\npython3 -m venv .venv\nsource .venv/bin/activate\n"
                    f"pip install -r requirements.txt\npytest\n")
    assert windows == (f"cd {TOP}\npy -m venv .venv\n.venv\\Scripts\\Activate.ps1\n"
                       f"pip install -r requirements.txt\npytest\n")
    assert "Gradescope's time limit per case\n(10 s)" in running
    assert "A case still running after 3 seconds is named on the terminal" in running


def test_readme_says_what_to_implement_how_to_test_what_to_submit_and_the_tie_rule(release):
    _, files = release
    readme = files["README.md"].decode()
    assert "{{" not in readme and "{%" not in readme
    for function in MANIFEST["functions"]:
        assert f"`{function['name']}`" in readme
    assert "pip install -r requirements.txt" in readme and "\npytest\n" in readme
    assert "pytest --report" in readme and "reports/report.html" in readme
    assert "python -m grader" not in readme and "WSL" not in readme  # (the release has no command line)
    submit = readme.split("## What to submit", 1)[1]
    assert "`layers.py` and `fc_net.py`" in submit
    assert f"rule is **{MANIFEST['assignment']['tie_rule']}**" in readme
    assert 'This assignment\'s rule is "all": every tied maximum receives the' in readme


def test_readme_states_the_gradient_checkers_bands_as_gradient_check_defines_them(release):
    from reference.gradient_check import CORRECT_BELOW, WRONG_ABOVE
    _, files = release
    checking = files["README.md"].decode().split("## Checking your gradients", 1)[1].split("\n## ", 1)[0]
    assert "from gradient_check import check_gradient" in checking
    bands = " ".join(checking.split())
    assert (f"stays below a relative error of {CORRECT_BELOW:.0e}, a wrong one is above {WRONG_ABOVE:.0e}"
            .replace("e-0", "e-")) in bands


# The student's pytest run ---------------------------------------------------------------

@pytest.mark.slow
def test_untouched_template_fails_every_case_as_not_implemented(template_run):
    assert template_run.returncode == 1, template_run.stdout[-3000:] + template_run.stderr
    assert_no_internal_errors(template_run)
    outcomes = outcome_lines(template_run.stdout)
    assert outcomes == {"test_interface": "PASSED", **{case_test_id(case): "FAILED" for case in PUBLIC}}
    # Count in the failure reports only: the short summary repeats each message when pytest runs under CI.
    failures = template_run.stdout.split("short test summary info", 1)[0]
    assert failures.count("Result: not implemented yet") == len(PUBLIC)
    assert "affine_forward is not implemented yet" in template_run.stdout
    assert f"{len(PUBLIC)} failed, 1 passed" in template_run.stdout.splitlines()[-1]


@pytest.mark.slow
def test_each_case_test_shows_its_points_and_the_run_ends_with_points_per_function(template_run):
    case = next(c for c in PUBLIC if c["id"] == "max_pool_backward/two-tied-maxima")
    assert f"test_public_cases.py::{case_test_id(case)} FAILED (0/{case['points']:g} points)" in template_run.stdout
    rows = summary_rows(template_run.stdout)
    assert list(rows) == [f["name"] for f in MANIFEST["functions"]]
    assert all(score == 0 for score, _ in rows.values())
    assert sum(possible for _, possible in rows.values()) == pytest.approx(sum(c["points"] for c in PUBLIC))


@pytest.mark.slow
def test_correct_solution_passes_every_case(release, venv, tmp_path):
    folder = unpack(release[0], tmp_path / "release")
    write_solution(folder)
    run = run_student(venv, folder)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert_no_internal_errors(run)
    assert set(outcome_lines(run.stdout).values()) == {"PASSED"}
    assert f"{len(PUBLIC) + 1} passed" in run.stdout.splitlines()[-1]
    assert all(score == possible for score, possible in summary_rows(run.stdout).values())


@pytest.mark.slow
def test_tie_rule_bug_fails_only_max_pool_backward_and_names_the_rule(tie_bug):
    _, run = tie_bug
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr
    assert_no_internal_errors(run)
    failed = [name for name, outcome in outcome_lines(run.stdout).items() if outcome == "FAILED"]
    assert failed and all(name.startswith("test_max_pool_backward[") for name in failed)
    assert "test_max_pool_backward[two tied maxima in one window]" in failed
    assert "Likely mistake: tie rule 'first' instead of 'all'" in run.stdout
    assert "This assignment's rule is 'all'" in run.stdout


@pytest.mark.slow
def test_student_points_equal_grade_and_gradescope_on_the_public_cases(tie_bug, venv, tmp_path):
    folder, run = tie_bug
    submission = tmp_path / "submission"
    submission.mkdir()
    for name in ("layers.py", "fc_net.py"):
        shutil.copy(folder / name, submission / name)

    def public_scores(results):
        return {test["name"]: test["score"] for test in results["tests"] if test.get("visibility") == "visible"}

    local = public_scores(load_results(folder / "reports" / "results.json"))    # written by `pytest --report`
    graded = grade(submission, CASES)
    expected = {f"{c.case.function}: {c.case.label}": c.score for c in graded.cases if not c.case.hidden}
    assert local == expected
    assert sum(local.values()) < sum(c["points"] for c in PUBLIC), "the tie bug costs points"

    root = autograder_tree(build_package(tmp_path / "package"), submission)
    try:
        finished = run_autograder(root)
        assert finished.returncode == 0, finished.stderr
        assert public_scores(load_results(root / "results" / "results.json")) == expected
    finally:
        shutil.rmtree(root)

    public_table = {}
    for c in graded.cases:
        if not c.case.hidden:
            score, possible = public_table.get(c.case.function, (0.0, 0.0))
            public_table[c.case.function] = (score + c.score, possible + c.case.points)
    rows = summary_rows(run.stdout)
    assert list(rows) == list(public_table)
    for name, (score, possible) in rows.items():
        assert (score, possible) == pytest.approx(public_table[name], abs=0.006), name
    assert (folder / "reports" / "report.html").is_file()


@pytest.mark.slow
def test_interface_problems_come_first_and_name_the_fix(release, venv, tmp_path):
    folder = unpack(release[0], tmp_path / "release")
    write_solution(folder)
    edit_submission(folder, "layers.py", "def conv_forward(x, w, b, conv_param):",
                    "def conv_forward(x, w, b, stride, pad):")
    edit_submission(folder, "fc_net.py", "def loss(self, X, y=None):", "def loss(self, X, y=None)")
    run = run_student(venv, folder)
    assert run.returncode == 1
    assert_no_internal_errors(run)
    outcomes = outcome_lines(run.stdout)
    assert next(iter(outcomes.items())) == ("test_interface", "FAILED")
    failures = failures_section(run.stdout)
    interface = failures.split("_ test_interface _", 1)[1].split("\n_", 1)[0]
    assert "conv_forward must accept (x, w, b, conv_param); yours takes (x, w, b, stride, pad)" in interface
    assert "fc_net.py:" in interface and "syntax error" in interface
    assert {name for name, outcome in outcomes.items() if outcome == "FAILED"} == \
        {"test_interface"} | {case_test_id(c) for c in PUBLIC
                              if c["function"] == "conv_forward" or c["function"].startswith("FullyConnectedNet")}


@pytest.mark.slow
def test_with_batchnorm_added_a_correct_implementation_scores_full_marks_in_pytest_grade_and_gradescope(
        venv, tmp_path):
    from helpers import FIXTURE_CONFIG, make_assignment
    text = FIXTURE_CONFIG.read_text().replace("total_points = 100", "total_points = 110").replace(
        "[points]\n", "[points]\nbatchnorm_forward = 4\nbatchnorm_backward = 6\n")
    assignment = make_assignment(tmp_path / "with-batchnorm", text)
    out, files = build_release(assignment, tmp_path / "release.zip")
    template = files["layers.py"].decode()
    assert 'raise NotImplementedError("batchnorm_forward is not implemented yet")' in template
    assert 'raise NotImplementedError("batchnorm_backward is not implemented yet")' in template
    assert "`batchnorm_backward` | `layers.py` | 6 |" in files["README.md"].decode()
    folder = unpack(out, tmp_path / "release")
    write_solution(folder)
    run = run_student(venv, folder)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    outcomes = outcome_lines(run.stdout)
    assert "test_batchnorm_backward[training mode]" in outcomes and set(outcomes.values()) == {"PASSED"}
    rows = summary_rows(run.stdout)
    assert rows["batchnorm_forward"][0] == rows["batchnorm_forward"][1] > 0
    assert grade(folder, assignment / "test_cases").score == 110
    root = autograder_tree(build_package(tmp_path / "package", assignment), write_solution(tmp_path / "upload"))
    try:
        finished = run_autograder(root)
        assert finished.returncode == 0, finished.stderr
        results = load_results(root / "results" / "results.json")
        assert results["score"] == 110
        assert sum(t["score"] for t in results["tests"] if t["name"].startswith("batchnorm")) == 10
    finally:
        shutil.rmtree(root)


@pytest.mark.slow
@pytest.mark.parametrize("solution", ["vectorized", "loops"])
def test_the_class_based_assignment_gives_a_correct_layer_py_70_in_pytest_grade_and_gradescope(
        venv, tmp_path, solution):
    from helpers import csc249_fixture, write_csc249_solution
    assignment = csc249_fixture()
    out, files = build_release(assignment, tmp_path / "release.zip")
    assert {name for name in files if "/" not in name} == {"layer.py", "README.md", "requirements.txt",
                                                           "conftest.py", "test_public_cases.py", "pytest.ini"}
    readme = files["README.md"].decode()
    assert "Upload **`layer.py`**" in readme and 'This assignment\'s rule is "all"' in readme
    folder = unpack(out, tmp_path / "release")
    upload = tmp_path / "upload"
    if solution == "vectorized":
        write_csc249_solution(folder)
        write_csc249_solution(upload)
    else:
        for target in (folder, upload):
            target.mkdir(exist_ok=True)
            shutil.copy(ROOT / "tests" / "fixtures" / "csc249" / "loops" / "layer.py", target / "layer.py")
    run = run_student(venv, folder)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    outcomes = outcome_lines(run.stdout)
    assert outcomes["test_Conv2D_backward[2x3 kernel, strides (2, 1), padding (1, 2)]"] == "PASSED"
    assert set(outcomes.values()) == {"PASSED"}
    assert all(score == possible for score, possible in summary_rows(run.stdout).values())
    assert grade(upload, assignment / "test_cases").score == 70
    root = autograder_tree(build_package(tmp_path / "package", assignment), upload)
    try:
        finished = run_autograder(root)
        assert finished.returncode == 0, finished.stderr
        assert load_results(root / "results" / "results.json")["score"] == 70
    finally:
        shutil.rmtree(root)


# Without Linux's own facilities ------------------------------------------------------------

# Loaded by every interpreter of the student's venv, the worker's too (python -I -S, which then
# runs site for a venv): Linux's own facilities, gone as on Windows.
NOT_LINUX = """
import os, select, signal, sys


class _Refused:
    def find_spec(self, name, path=None, target=None):
        if name in ("resource", "fcntl"):
            raise ModuleNotFoundError(f"No module named {name!r} (made unavailable)", name=name)


sys.meta_path.insert(0, _Refused())
for _name in ("resource", "fcntl"):
    sys.modules.pop(_name, None)
for _module, _names in ((os, ("fork", "forkpty", "register_at_fork", "pidfd_open", "geteuid", "getsid", "setsid",
                              "killpg", "pread")), (select, ("poll",)), (signal, ("pidfd_send_signal",))):
    for _name in _names:
        if hasattr(_module, _name):
            delattr(_module, _name)
"""
GONE = {"import resource": False, "import fcntl": False, "os.fork": False, "os.pidfd_open": False,
        "select.poll": False, "os.geteuid": False, "os.killpg": False}
PROBE = """
import json, os, select
found = {}
for name in ("resource", "fcntl"):
    try:
        __import__(name)
        found[f"import {name}"] = True
    except ImportError:
        found[f"import {name}"] = False
for owner, name in ((os, "fork"), (os, "pidfd_open"), (select, "poll"), (os, "geteuid"), (os, "killpg")):
    found[f"{owner.__name__}.{name}"] = hasattr(owner, name)
found["/proc"] = len(os.listdir("/proc"))
print(json.dumps(found))
"""
# Prepended to the student's layers.py: it fails to import, and test_interface fails, unless the
# worker too runs without them.
WORKER_CHECK = ("import os as _os, select as _select\n"
                "assert not hasattr(_os, 'fork') and not hasattr(_select, 'poll'), 'Linux facilities in the worker'\n")


@pytest.fixture
def not_linux(venv):
    """The student's venv with Linux's own facilities gone (see NOT_LINUX), and the command prefix
    that also hides /proc (an empty tmpfs over it in a mount namespace of its own; as root,
    where unshare can: [] elsewhere). Restored afterwards."""
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    (site_packages / "sitecustomize.py").write_text(NOT_LINUX)
    prefix = []
    if os.geteuid() == 0 and shutil.which("unshare"):
        prefix = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                  'mount -t tmpfs none /proc && exec "$0" "$@"']
        if subprocess.run(prefix + ["true"], capture_output=True, timeout=60).returncode != 0:
            prefix = []
    try:
        yield prefix
    finally:
        (site_packages / "sitecustomize.py").unlink()


@pytest.mark.slow
def test_without_linux_own_facilities_a_correct_solution_passes_every_public_case(release, venv, not_linux,
                                                                                 tmp_path):
    probe = subprocess.run([*not_linux, str(venv / "bin" / "python"), "-c", PROBE], env=student_env(),
                           capture_output=True, text=True, timeout=60)
    assert probe.returncode == 0, probe.stderr
    found = json.loads(probe.stdout)
    assert {name: there for name, there in found.items() if name != "/proc"} == GONE
    assert found["/proc"] == 0 or not not_linux
    folder = unpack(release[0], tmp_path / "release")
    write_solution(folder)
    edit_submission(folder, "layers.py", "import numpy as np\n", WORKER_CHECK + "import numpy as np\n")
    run = run_student(venv, folder, "--report", prefix=not_linux)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr
    assert_no_internal_errors(run)
    assert outcome_lines(run.stdout) == {"test_interface": "PASSED",
                                         **{case_test_id(case): "PASSED" for case in PUBLIC}}
    assert (folder / "reports" / "report.html").is_file()


@pytest.mark.slow
def test_without_linux_own_facilities_a_loop_costs_its_functions_cases_and_a_crash_its_case_alone(
        release, venv, not_linux, tmp_path):
    folder = unpack(release[0], tmp_path / "release")
    write_solution(folder)
    edit_submission(folder, "layers.py", "import numpy as np\n", WORKER_CHECK + "import numpy as np\n")
    edit_submission(folder, "layers.py", "def leaky_relu_forward(x, negative_slope=0.01):\n",
                    "def leaky_relu_forward(x, negative_slope=0.01):\n    while True:\n        pass\n")
    edit_submission(folder, "layers.py", "def affine_forward(x, w, b):\n",
                    "def affine_forward(x, w, b):\n    if x.ndim == 4:\n        _os._exit(3)\n")
    manifest = json.loads((folder / "test_cases" / "manifest.json").read_text())
    manifest["settings"]["case_timeout"] = 5.0  # (not 10 s: the loop costs two cases' time)
    (folder / "test_cases" / "manifest.json").write_text(json.dumps(manifest))
    run = run_student(venv, folder, prefix=not_linux)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr
    assert_no_internal_errors(run)
    failed = {name for name, outcome in outcome_lines(run.stdout).items() if outcome == "FAILED"}
    loop = [case for case in PUBLIC if case["function"] == "leaky_relu_forward"]
    assert failed == {case_test_id(case) for case in loop} | {"test_affine_forward[4-D input reshaped into rows]"}
    failures = failures_section(run.stdout)
    assert failures.count("Look for a loop that never ends.") == 2
    assert "not run: 2 earlier cases of leaky_relu_forward timed out" in failures
    assert failures.count("ended during the call (exit status 3)") == 1
    assert [line for line in run.stderr.splitlines() if line.startswith("still running")] == [
        f"still running after 3 s: leaky_relu_forward [{case['label']}] (the limit per case is 5 s)" for case in loop[:2]]

