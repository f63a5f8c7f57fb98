"""What the command line says when a file it needs is missing: one line naming it, exit status 2."""
import json
import shutil
from argparse import Namespace

import pytest

from grader.cli import _cases_and_config, main
from helpers import CASES, FIXTURE, FIXTURE_CONFIG, ROOT, write_solution


def run(capsys, *argv):
    """(exit status, stderr lines) of `python -m grader ARGV`, run in this process."""
    status = main([str(arg) for arg in argv])
    return status, capsys.readouterr().err.strip().splitlines()


@pytest.fixture
def project(tmp_path):
    """An assignment with a config, the reference and its spec, but nothing generated yet."""
    root = tmp_path / "project"
    for name in ("reference", "spec"):
        shutil.copytree(ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(FIXTURE_CONFIG, root / "assignment.toml")
    return root


@pytest.mark.parametrize("folder", ["reference", "spec"])
def test_generate_without_a_reference_or_spec_folder_names_the_missing_folder(capsys, project, folder):
    shutil.rmtree(project / folder)
    assert run(capsys, "generate", "--check", "--assignment", project) == (2, [
        f"error: {project / folder}: no such folder; an assignment folder holds assignment.toml, reference/ "
        f"(the solution) and spec/ (functions.py, cases.py, mistakes.py)"])


def test_generate_without_reference_layers_names_the_missing_file(capsys, project):
    (project / "reference" / "layers.py").unlink()
    assert run(capsys, "generate", "--assignment", project) == (2, [
        f"error: {project / 'reference' / 'layers.py'}: no such file; {project / 'spec' / 'functions.py'} declares "
        f"functions in layers.py, and the reference must implement them there"])


def test_generate_without_assignment_toml_names_the_missing_config(capsys, project):
    (project / "assignment.toml").unlink()
    status, err = run(capsys, "generate", "--check", "--assignment", project)
    assert (status, err[0].split(". ")[0]) == (2, f"error: {project / 'assignment.toml'}: no such file")


def test_generate_for_an_assignment_folder_that_does_not_exist_says_so(capsys, tmp_path):
    assert run(capsys, "generate", "--assignment", tmp_path / "nowhere") == (2, [
        f"error: {tmp_path / 'nowhere'}: no such folder; give --assignment the folder that holds assignment.toml, "
        f"reference/ and spec/"])


def test_the_earlier_name_of_the_assignment_option_still_works(capsys, project):
    assert main(["generate", "--project", str(project)]) == 0
    assert (project / "test_cases" / "manifest.json").is_file()


def test_grading_outside_an_assignment_folder_says_where_it_looked_and_how_to_point_elsewhere(
        capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    submission = write_solution(tmp_path / "s")
    assert run(capsys, "grade", submission, "--out", tmp_path / "out") == (2, [
        f"error: {tmp_path} holds no assignment (no assignment.toml, no test_cases/); run this from an "
        f"assignment's folder, or give --assignment DIR"])


def test_generate_reads_the_reference_of_the_project_it_is_given(capsys, project):
    layers = project / "reference" / "layers.py"
    layers.write_text(layers.read_text().replace("    out = x.reshape(x.shape[0], -1) @ w + b",
                                                 "    out = x.reshape(x.shape[0], -1) @ w + 2 * b", 1))
    assert "+ 2 * b" in layers.read_text()
    from grader.authoring.generate import generate
    original = project.parent / "original"
    shutil.copytree(project, original, ignore=shutil.ignore_patterns("__pycache__"))
    (original / "reference" / "layers.py").write_text((ROOT / "reference" / "layers.py").read_text())
    ours, theirs = generate(original).files, generate(project).files
    affine = "test_cases/public/affine_forward--two-dim-input.npz"
    assert affine in ours and ours[affine] != theirs[affine]


@pytest.mark.parametrize("command", ["package", "release"])
def test_package_and_release_without_generated_files_say_to_generate_first(capsys, project, command):
    what = {"package": "the package", "release": "the release"}[command]
    assert run(capsys, command, "--assignment", project, "--out", project / "out.zip") == (2, [
        f"error: the generated files are missing from {project} (student_template/, test_cases/); run "
        f"`python -m grader generate --assignment {project}` first, so that {what} grades with what "
        f"assignment.toml says"])


def test_a_release_without_test_cases_names_the_missing_folder(capsys, project):
    assert main(["generate", "--assignment", str(project)]) == 0
    shutil.rmtree(project / "test_cases")
    capsys.readouterr()
    status, err = run(capsys, "release", "--assignment", project, "--out", project / "out.zip")
    assert status == 2
    assert err[0].startswith(f"error: the generated files are missing from {project} (test_cases/); run")


def test_package_into_a_folder_asks_for_the_zip_path(capsys, project, tmp_path):
    assert main(["generate", "--assignment", str(project)]) == 0
    capsys.readouterr()
    assert run(capsys, "package", "--assignment", project, "--out", tmp_path) == (2, [
        f"error: {tmp_path}: is a folder; give --out the path of the .zip to write"])


def test_an_explicit_config_that_does_not_exist_is_an_error(capsys, tmp_path):
    submission = write_solution(tmp_path / "s")
    assert run(capsys, "grade", submission, "--assignment", FIXTURE, "--config", tmp_path / "nonexistent.toml",
               "--out", tmp_path / "out", "--quiet") == (2, [
        f"error: config file {tmp_path / 'nonexistent.toml'} not found; give --config an assignment.toml, or "
        f"leave it out to use the one beside the cases"])
    assert not (tmp_path / "out").exists()


def test_an_explicit_config_that_is_a_folder_is_an_error(capsys, tmp_path):
    status, err = run(capsys, "batch", tmp_path, "--assignment", FIXTURE, "--config", tmp_path, "--out",
                      tmp_path / "out")
    assert (status, err[0].split(";")[0]) == (2, f"error: config file {tmp_path} is not a file")


def test_the_implicit_config_beside_the_cases_stays_optional(tmp_path):
    args = Namespace(config=None, cases=str(tmp_path / "test_cases"), assignment=".")
    (tmp_path / "test_cases").mkdir()
    assert _cases_and_config(args) == (tmp_path / "test_cases", None)
    (tmp_path / "assignment.toml").write_text("")
    assert _cases_and_config(args) == (tmp_path / "test_cases", tmp_path / "assignment.toml")
    by_folder = Namespace(config=None, cases=None, assignment=str(tmp_path))
    assert _cases_and_config(by_folder) == (tmp_path / "test_cases", tmp_path / "assignment.toml")


def _damage(manifest, change):
    data = json.loads(manifest.read_text())
    change(data)
    manifest.write_text(json.dumps(data))


@pytest.mark.parametrize("change, problem", [
    (lambda m: m.pop("settings"), "settings is missing"),
    (lambda m: m["settings"].pop("case_timeout"), "settings.case_timeout is missing"),
    (lambda m: m["settings"].update(case_timeout="10"), "settings.case_timeout is not a number"),
    (lambda m: m["assignment"].pop("tie_rule"), "assignment.tie_rule is missing"),
    (lambda m: m.update(files=[]), "files is not an object"),
    (lambda m: m["functions"].append(1), "functions[15] is not an object"),
    (lambda m: m["interface"].pop("fc_net"), "interface.fc_net is missing"),
    (lambda m: m["modules"].pop(), "modules has no entry for fc_net"),
    (lambda m: m["modules"][0].pop("imports"), "modules[0].imports is missing"),
    (lambda m: m["cases"][2].pop("points"), "cases[2].points is missing"),
    (lambda m: m["cases"][2].update(tags=None), "cases[2].tags is not an array"),
    (lambda m: m["cases"][2].update(weight=1), "cases[2].weight is not a field of a case"),
])
def test_a_damaged_manifest_is_one_line_naming_what_is_wrong(capsys, tmp_path, change, problem):
    cases = tmp_path / "test_cases"
    shutil.copytree(CASES, cases)
    _damage(cases / "manifest.json", change)
    status, err = run(capsys, "grade", ROOT / "examples" / "submission", "--cases", cases, "--out", tmp_path / "out")
    assert (status, err) == (2, [f"error: {cases / 'manifest.json'}: not a manifest this grader can read ({problem}); "
                                 f"regenerate it with `python -m grader generate`."])
    assert not (tmp_path / "out").exists()


def test_a_manifest_or_case_file_that_cannot_be_read_is_one_line_naming_it(capsys, tmp_path):
    cases = tmp_path / "test_cases"
    cases.mkdir()
    (cases / "manifest.json").mkdir()
    status, err = run(capsys, "batch", ROOT / "examples", "--cases", cases, "--out", tmp_path / "out")
    assert (status, err) == (2, [f"error: {cases / 'manifest.json'}: cannot read it (Is a directory)."])
    shutil.rmtree(cases)
    shutil.copytree(CASES, cases)
    case = next(iter(sorted(json.loads((cases / "manifest.json").read_text())["files"])))
    (cases / case).unlink()
    status, err = run(capsys, "grade", ROOT / "examples" / "submission", "--cases", cases, "--out", tmp_path / "o")
    assert (status, err) == (2, [f"error: {cases / case}: listed in the manifest but missing."])
    (cases / case).mkdir()
    status, err = run(capsys, "grade", ROOT / "examples" / "submission", "--cases", cases, "--out", tmp_path / "o")
    assert (status, err) == (2, [f"error: {cases / case}: listed in the manifest, but not a file."])


@pytest.mark.parametrize("jobs", ["0", "-2", "two"])
def test_batch_refuses_a_number_of_jobs_that_is_not_a_positive_whole_number(capsys, tmp_path, jobs):
    with pytest.raises(SystemExit) as exited:
        main(["batch", str(tmp_path), "--jobs", jobs, "--out", str(tmp_path / "out")])
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1] == (
        f"python -m grader batch: error: argument --jobs: {jobs!r} is not a whole number of 1 or more")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("inside", ["graded", "."])
def test_batch_refuses_an_output_folder_inside_the_submissions(capsys, tmp_path, inside):
    write_solution(tmp_path / "class" / "alice")
    out = tmp_path / "class" / inside
    status, err = run(capsys, "batch", tmp_path / "class", "--assignment", FIXTURE, "--out", out)
    assert (status, err) == (2, [f"error: the output folder {out} is inside {tmp_path / 'class'}, where it would "
                                 f"be graded as a submission; choose an output folder outside {tmp_path / 'class'}"])
    assert sorted(p.name for p in (tmp_path / "class").iterdir()) == ["alice"]


@pytest.mark.parametrize("command", ["grade", "batch", "package", "release"])
def test_every_command_says_in_one_line_that_it_cannot_create_its_output(capsys, tmp_path, command):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    submissions = tmp_path / "class"
    write_solution(submissions / "alice")
    argv = {"grade": ["grade", submissions / "alice", "--cases", CASES, "--out", blocker / "out"],
            "batch": ["batch", submissions, "--cases", CASES, "--out", blocker / "out"],
            "package": ["package", "--assignment", FIXTURE, "--out", blocker / "autograder.zip"],
            "release": ["release", "--assignment", FIXTURE, "--out", blocker / "release.zip"]}[command]
    in_the_way = f"{blocker} is a file, not a folder"
    expected = {"grade": f"error: cannot create the output folder {blocker / 'out'}: {in_the_way}",
                "batch": f"error: cannot create the output folder {blocker / 'out'}: {in_the_way}",
                "package": f"error: {blocker / 'autograder.zip'}: cannot write the zip ({in_the_way})",
                "release": f"error: {blocker / 'release.zip'}: cannot write the zip ({in_the_way})"}[command]
    assert run(capsys, *argv) == (2, [expected])
    assert blocker.read_text() == "not a folder"


@pytest.mark.parametrize("root", [True, False])
def test_grade_and_batch_warn_once_that_student_code_runs_as_you_unless_run_as_root(capsys, monkeypatch, tmp_path,
                                                                                    root):
    import grader.cli
    monkeypatch.setattr(grader.cli, "geteuid", lambda: 0 if root else 4242)
    monkeypatch.setattr("getpass.getuser", lambda: "ta")
    submissions = tmp_path / "class"
    for name in ("alice", "bob"):
        write_solution(submissions / name)
    warning = ("warning: not running as root, so the submissions' code runs as you (ta), with your access to your "
               "files and the network, under time and memory limits only; grade code you do not trust as root (it "
               "then runs as a sandbox user that can reach nothing of yours) or in a VM")
    for argv in (["grade", submissions / "alice", "--cases", CASES, "--out", tmp_path / "one"],
                 ["batch", submissions, "--cases", CASES, "--out", tmp_path / "all", "--jobs", "2"]):
        status, lines = run(capsys, *argv)
        assert status == 0
        assert [line for line in lines if line.startswith("warning:")] == ([] if root else [warning])


@pytest.mark.slow
def test_grade_names_a_case_while_it_runs_long(capsys, tmp_path):
    from helpers import cases_with_settings, edit_submission
    cases = cases_with_settings(tmp_path / "limits", case_timeout=3.5)
    submission = write_solution(tmp_path / "looper")
    edit_submission(submission, "layers.py", "    out = np.where(x > 0, x, negative_slope * x)\n",
                    "    while True:\n        pass\n")
    assert main(["grade", str(submission), "--cases", str(cases), "--out", str(tmp_path / "out")]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "still running" in line]
    assert said == ["  still running after 3 s: leaky_relu_forward [default slope] (the limit per case is 3.5 s)",
                    "  still running after 3 s: leaky_relu_forward [slope 0.25] (the limit per case is 3.5 s)"]
