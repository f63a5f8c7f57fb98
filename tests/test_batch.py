"""Grading a class: mixed submissions, resuming, Gradescope exports, grades.csv and the overview."""
import csv
import json
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from grader.batch import discover, grade_one, parse_export_metadata, run_batch, Entry
from helpers import ROOT, cases_with_settings, edit_submission, load_results, points_of, write_solution

EXPORT_METADATA = """\
---
submission_101:
  :submitters:
  - :name: Ada Lovelace
    :sid: '1815'
    :email: ada@example.edu
  :created_at: 2024-04-01 12:00:00.000000000 -07:00
  :score: 10.0
submission_102:
  :submitters:
  - :name: "Grace Hopper"
    :sid: '1906'
    :email: grace@example.edu
  - :name: 'Conan O''Brien'
    :sid: '1963'
    :email: conan@example.edu
  :created_at: 2024-04-02 09:30:00.000000000 -07:00
  :score:
"""


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return cases_with_settings(tmp_path_factory.mktemp("cases"), case_timeout=1.0, import_timeout=4.0)


@pytest.fixture(scope="module")
def klass(tmp_path_factory):
    """A small class: two correct, one common mistake, a crasher, an infinite loop, a syntax error."""
    root = tmp_path_factory.mktemp("class")
    write_solution(root / "alice")
    shutil.copytree(ROOT / "tests" / "fixtures" / "naive", root / "bob")
    ties = write_solution(root / "tmp-carol", tie_rule="first")
    with zipfile.ZipFile(root / "carol.zip", "w") as archive:  # a zip upload, files inside a folder
        for name in ("layers.py", "fc_net.py"):
            archive.write(ties / name, f"hw2/{name}")
    shutil.rmtree(ties)
    crasher = write_solution(root / "dave")
    (crasher / "layers.py").write_text("import os\nos._exit(1)\n" + (crasher / "layers.py").read_text())
    looper = write_solution(root / "erin")
    edit_submission(looper, "layers.py", "    stride, pad = _check_conv(x, w, b, conv_param)\n    windows",
                    "    while True:\n        pass\n    windows")
    broken = write_solution(root / "frank")
    (broken / "fc_net.py").write_text("def oops(:\n")
    return root


@pytest.fixture(scope="module")
def batch(klass, cases, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    outcomes, manifest = run_batch(klass, out, cases, jobs=2)
    return out, {o.name: o for o in outcomes}


def test_every_submission_is_graded_whatever_it_does(batch):
    out, outcomes = batch
    assert sorted(outcomes) == ["alice", "bob", "carol", "dave", "erin", "frank"]
    assert {o.status for o in outcomes.values()} == {"graded"}
    assert outcomes["alice"].score == outcomes["bob"].score == 100
    assert outcomes["carol"].score == 100 - points_of("max_pool_backward") / 2  # 5 of 10 cases tie
    assert outcomes["dave"].score == 0
    assert outcomes["erin"].score == 100 - points_of("conv_forward")
    assert outcomes["frank"].score == 100 - points_of("FullyConnectedNet.__init__", "FullyConnectedNet.loss")


def test_each_student_gets_a_report_and_a_valid_results_json(batch):
    out, outcomes = batch
    for outcome in outcomes.values():
        folder = out / "students" / outcome.key
        assert load_results(folder / "results.json")["score"] == outcome.score
        assert (folder / "report.html").is_file()


def test_grades_csv_has_a_row_per_student_with_a_column_per_function(batch):
    out, outcomes = batch
    rows = list(csv.DictReader(open(out / "grades.csv")))
    manifest = json.loads((ROOT / "test_cases" / "manifest.json").read_text())
    assert list(rows[0])[:2] == ["student", "total"]
    assert list(rows[0])[2:2 + len(manifest["functions"])] == [f["name"] for f in manifest["functions"]]
    by_student = {row["student"]: row for row in rows}
    assert by_student["carol"]["total"] == "91" and by_student["carol"]["max_pool_backward"] == "9"
    assert by_student["erin"]["conv_forward"] == "0" and by_student["erin"]["conv_backward"] == "18"


def test_the_class_overview_links_every_report_and_counts_the_mistakes(batch):
    out, outcomes = batch
    overview = (out / "index.html").read_text()
    for outcome in outcomes.values():
        assert f'href="students/{outcome.key}/report.html"' in overview
    assert "tie rule &#39;first&#39; instead of &#39;all&#39;" in overview or "tie rule 'first' instead of 'all'" in overview
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", overview)  # nothing fetched


def test_a_rerun_skips_unchanged_submissions_and_regrades_changed_ones(klass, cases, tmp_path):
    out = tmp_path / "out"
    small = tmp_path / "small"
    small.mkdir()
    for name in ("alice", "bob"):
        shutil.copytree(klass / name, small / name)
    first, _ = run_batch(small, out, cases, jobs=1)
    assert [o.reused for o in first] == [False, False]
    again, _ = run_batch(small, out, cases, jobs=1)
    assert [o.reused for o in again] == [True, True]
    edit_submission(small / "bob", "layers.py", "import numpy as np", "import numpy as np\n# edited")
    changed, _ = run_batch(small, out, cases, jobs=1)
    assert [o.reused for o in changed] == [True, False]
    forced, _ = run_batch(small, out, cases, jobs=1, force=True)
    assert [o.reused for o in forced] == [False, False]


def test_a_gradescope_export_zip_names_students_from_its_metadata(tmp_path, cases):
    export = tmp_path / "export.zip"
    solution = write_solution(tmp_path / "solution")
    with zipfile.ZipFile(export, "w") as archive:
        archive.writestr("assignment_77_export/submission_metadata.yml", EXPORT_METADATA)
        for submission in ("submission_101", "submission_102"):
            for name in ("layers.py", "fc_net.py"):
                archive.write(solution / name, f"assignment_77_export/{submission}/{name}")
    out = tmp_path / "out"
    outcomes, _ = run_batch(export, out, cases, jobs=2)
    assert [(o.key, o.name, o.score) for o in outcomes] == [
        ("submission_101", "Ada Lovelace", 100.0),
        ("submission_102", "Grace Hopper, Conan O'Brien", 100.0)]
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [(r["student"], r["email"], r["submission"]) for r in rows] == [
        ("Ada Lovelace", "ada@example.edu", "submission_101"),
        ("Grace Hopper", "grace@example.edu", "submission_102"),
        ("Conan O'Brien", "conan@example.edu", "submission_102")]
    report = (out / "students" / "submission_102" / "report.html").read_text()
    assert "Grace Hopper, Conan O&#39;Brien" in report


def test_an_unpacked_export_folder_works_the_same(tmp_path):
    root = tmp_path / "assignment_77_export"
    write_solution(root / "submission_101")
    write_solution(root / "submission_102")
    (root / "submission_metadata.yml").write_text(EXPORT_METADATA)
    entries = discover(tmp_path, tmp_path / "out")
    assert [(e.key, e.students, e.emails) for e in entries] == [
        ("submission_101", ["Ada Lovelace"], ["ada@example.edu"]),
        ("submission_102", ["Grace Hopper", "Conan O'Brien"], ["grace@example.edu", "conan@example.edu"])]


def test_the_export_metadata_parser_reads_gradescope_s_yaml():
    data = parse_export_metadata(EXPORT_METADATA)
    assert data["submission_101"][":submitters"] == [
        {":name": "Ada Lovelace", ":sid": "1815", ":email": "ada@example.edu"}]
    assert data["submission_102"][":submitters"][1][":name"] == "Conan O'Brien"
    assert data["submission_102"][":score"] is None
    assert data["submission_101"][":created_at"] == "2024-04-01 12:00:00.000000000 -07:00"


def test_a_submission_the_grader_cannot_handle_is_recorded_and_the_rest_goes_on(tmp_path, cases):
    entry = Entry("ghost", "ghost", str(tmp_path / "vanished"), students=["ghost"])
    outcome = grade_one(entry, str(cases), str(tmp_path / "out"), None, "fp")
    assert outcome.status == "error" and "no such file or folder" in outcome.error
    state = json.loads((tmp_path / "out" / "students" / "ghost" / "state.json").read_text())
    assert state["status"] == "error"


def test_the_batch_command_shows_progress_and_a_summary(klass, cases, tmp_path):
    small = tmp_path / "small"
    small.mkdir()
    shutil.copytree(klass / "alice", small / "alice")
    shutil.copy(klass / "carol.zip", small / "carol.zip")
    finished = subprocess.run([sys.executable, "-m", "grader", "batch", str(small), "--out", str(tmp_path / "out"),
                               "--jobs", "2", "--cases", str(cases)], cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert "[1/2]" in finished.stderr and "[2/2]" in finished.stderr and "left" in finished.stderr
    assert "graded 2 of 2 submissions" in finished.stdout


def test_no_submissions_is_a_clear_error(tmp_path):
    finished = subprocess.run([sys.executable, "-m", "grader", "batch", str(tmp_path)], cwd=ROOT,
                              capture_output=True, text=True)
    assert finished.returncode == 2
    assert "no submissions found" in finished.stderr
