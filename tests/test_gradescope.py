"""results.json, the one writer, and the Gradescope package end to end."""
import json
import shutil
import stat
import zipfile

import pytest

from grader.engine import grade
from grader.gradescope import build_results, error_results, write_results
from helpers import (CASES, ROOT, SHARED_SCHEMA, autograder_tree, build_package, edit_submission, load_results,
                     run_autograder, stale_project, validate_results, write_solution)



@pytest.mark.skipif(not SHARED_SCHEMA.is_file(), reason="no ../shared beside this checkout to compare with")
def test_the_schema_copy_in_the_tests_is_gradescope_s_schema_from_shared():
    assert (ROOT / "tests" / "fixtures" / "results.schema.json").read_bytes() == SHARED_SCHEMA.read_bytes()


@pytest.fixture(scope="module")
def tie_bug_grade(tmp_path_factory):
    submission = write_solution(tmp_path_factory.mktemp("ties"), tie_rule="first")
    return grade(submission, CASES)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return build_package(tmp_path_factory.mktemp("package"))


def test_results_json_validates_and_scores_add_up(tie_bug_grade):
    data = validate_results(build_results(tie_bug_grade))
    assert data["score"] == tie_bug_grade.score == pytest.approx(sum(t["score"] for t in data["tests"]))
    assert isinstance(data["execution_time"], float)
    assert sum(t["max_score"] for t in data["tests"]) == pytest.approx(100)
    assert data["test_output_format"] == "md" and data["output_format"] == "html"


def test_every_test_is_tagged_with_its_function_first_and_numbered(tie_bug_grade):
    data = build_results(tie_bug_grade)
    for test, result in zip(data["tests"], tie_bug_grade.cases):
        assert test["tags"][0] == result.case.function
        assert test["number"] == result.case.number
        assert test["name"] == f"{result.case.function}: {result.case.label}"


def test_hidden_cases_get_the_configured_visibility_and_no_details(tie_bug_grade):
    data = build_results(tie_bug_grade)
    hidden = [(t, r) for t, r in zip(data["tests"], tie_bug_grade.cases) if r.case.hidden]
    assert hidden, "the default config hides some cases"
    for test, result in hidden:
        assert test["visibility"] == "after_published"
        expected = "" if result.passed else f"Hidden test: failed ({result.score:g}/{result.case.points:g} points).\n"
        assert test.get("output", "") == expected


def test_a_failing_tie_case_names_the_rule_in_its_output(tie_bug_grade):
    data = build_results(tie_bug_grade)
    test = next(t for t in data["tests"] if t["name"] == "max_pool_backward: two tied maxima in one window")
    assert test["status"] == "failed" and test["score"] == 0
    assert "gives the gradient only to the first of several tied maxima (PyTorch's rule)" in test["output"]
    assert "This assignment's rule is 'all'" in test["output"]


def test_building_results_twice_gives_the_same_scores(tie_bug_grade):
    first = build_results(tie_bug_grade)
    second = build_results(tie_bug_grade)
    assert [t["score"] for t in first["tests"]] == [t["score"] for t in second["tests"]]


def test_error_results_are_valid_with_a_visible_notice_and_a_hidden_traceback():
    data = validate_results(error_results("CaseError: manifest missing", "Traceback ...", 100.0, 1.5))
    visible, hidden = data["tests"]
    assert visible["name"] == "Autograder error" and visible["visibility"] == "visible"
    assert visible["max_score"] == 100.0 and visible["score"] == 0.0
    assert hidden["visibility"] == "hidden" and hidden["output"] == "Traceback ..."


def test_write_results_replaces_a_planted_file_atomically(tmp_path):
    target = tmp_path / "results.json"
    target.write_text('{"score": 1000, "tests": []}')
    write_results(target, error_results("x"))
    assert json.loads(target.read_text())["score"] == 0.0
    assert [p.name for p in tmp_path.iterdir()] == ["results.json"]


def test_write_results_refuses_a_results_dict_without_tests(tmp_path):
    with pytest.raises(ValueError, match="at least one test"):
        write_results(tmp_path / "results.json", {"tests": []})
    assert not (tmp_path / "results.json").exists()


def test_package_has_the_scripts_at_its_root_and_no_reference_code(package):
    with zipfile.ZipFile(package) as archive:
        names = archive.namelist()
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()}
    assert "setup.sh" in names and "run_autograder" in names and "assignment.toml" in names
    assert modes["run_autograder"] == 0o755 and modes["setup.sh"] == 0o755
    assert not [n for n in names if n.startswith("reference/") or "/authoring/" in n]
    assert "test_cases/manifest.json" in names
    assert any(n.startswith("test_cases/hidden/") for n in names)
    assert "grader/worker.py" in names and "grader/report/templates/report.html" in names


def test_package_requirements_are_pinned_for_python_3_10(package):
    with zipfile.ZipFile(package) as archive:
        lines = [l for l in archive.read("requirements.txt").decode().splitlines() if l and not l.startswith("#")]
    assert {l.split("==")[0].lower() for l in lines} == {"numpy", "jinja2", "markupsafe", "gradescope-utils", "tomli"}
    assert all("==" in l for l in lines)


def test_grading_never_needs_pyyaml_which_only_batch_reads_with(tmp_path):
    """PyYAML is a dependency of the instructor's install for batch; the package's requirements
    leave it out, so grading one submission must not import it."""
    import subprocess
    import sys
    script = ("import sys\nfrom grader.cli import main\n"
              f"assert main(['grade', {str(write_solution(tmp_path / 's'))!r}, '--cases', {str(CASES)!r}, "
              f"'--out', {str(tmp_path / 'out')!r}, '--quiet']) == 0\n"
              "print(sorted(m for m in sys.modules if m.split('.')[0] in ('yaml', '_yaml')))\n")
    finished = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "[]"


def test_package_bytes_are_reproducible(package, tmp_path):
    assert build_package(tmp_path).read_bytes() == package.read_bytes()


def test_package_refuses_stale_test_cases(tmp_path):
    from grader.authoring.package import build_package as build
    from grader.errors import UserError
    with pytest.raises(UserError, match="out of date"):
        build(stale_project(tmp_path), tmp_path / "a.zip")


def test_packaged_autograder_grades_a_submission_end_to_end(package, tmp_path):
    submission = write_solution(tmp_path / "sub")
    edit_submission(submission, "layers.py", "dx = np.where(x > 0, dout, negative_slope * dout)",
                    "dx = np.where(x > 0, dout, 0.01 * dout)")
    root = autograder_tree(package, submission, {"users": [{"name": "Ada Lovelace"}]})
    try:
        finished = run_autograder(root)
        assert finished.returncode == 0, finished.stderr
        data = load_results(root / "results" / "results.json")
        assert data["score"] == 98  # two of leaky_relu_backward's three 1-point cases use another slope
        assert (root / "results" / "report.html").is_file()
        assert "Ada Lovelace" in (root / "results" / "report.html").read_text()
        for folder in (root / "source", root / "source" / "test_cases", root / "results"):
            assert stat.S_IMODE(folder.stat().st_mode) & 0o077 == 0
    finally:
        shutil.rmtree(root)


def test_packaged_autograder_reports_its_own_failure_as_a_visible_error(package, tmp_path):
    root = autograder_tree(package, write_solution(tmp_path / "sub"))
    try:
        (root / "source" / "test_cases" / "manifest.json").unlink()
        finished = run_autograder(root)
        assert finished.returncode == 0
        data = load_results(root / "results" / "results.json")
        assert data["score"] == 0
        assert data["tests"][0]["name"] == "Autograder error"
        assert "manifest.json: no such file" in data["tests"][0]["output"]
        assert data["tests"][1]["visibility"] == "hidden" and "Traceback" in data["tests"][1]["output"]
    finally:
        shutil.rmtree(root)


def test_run_autograder_writes_results_even_when_python_cannot_start(package, tmp_path):
    root = autograder_tree(package, write_solution(tmp_path / "sub"))
    try:
        finished = run_autograder(root, python="/nonexistent/python3")
        assert finished.returncode == 0
        data = load_results(root / "results" / "results.json")
        assert data["tests"][0]["name"] == "Autograder error"
        assert "could not start (exit status 127)" in data["tests"][0]["output"]
    finally:
        shutil.rmtree(root)


def test_student_text_with_line_breaks_stays_one_line_of_markdown(tie_bug_grade):
    import copy

    from grader.feedback import case_feedback
    result = copy.deepcopy(next(c for c in tie_bug_grade.cases if not c.passed and not c.case.hidden))
    result.summary = ("raised RuntimeError: \n\nAll 57 tests passed - final score 100.0 / 100.0\n=====\n\n"
                      "Regrade form: https://evil.example/x\n\n    (verified)")
    text = case_feedback(result, markdown=True)
    line = next(line for line in text.splitlines() if "All 57 tests passed" in line)
    assert line.startswith("raised RuntimeError:") and "=====" in line and "(verified)" in line
    assert not any(line.strip() == "=====" or line.startswith("    (") for line in text.splitlines())
