"""Grading a class: mixed submissions, resuming, Gradescope exports, grades.csv and the overview."""
import csv
import hashlib
import html
import json
import multiprocessing
import os
import re
import shutil
import stat
import statistics
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ProcessPoolExecutor

import pytest

import grader.batch.pool as batch_module
from grader.batch import (discover, grade_one, grader_sha, overview_context, parse_export_metadata, run_batch,
                          Entry)
from grader.cases import load_manifest
from grader.errors import UserError
from helpers import (CASES, FIXTURE, ROOT, cases_with_settings, edit_submission, load_results, overwrite_member_data,
                     points_of, write_solution)

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
    assert {n: o.status for n, o in outcomes.items() if o.status != "graded"} == {"dave": "not graded"}
    assert outcomes["dave"].error == ("layers.py: importing it ended the process (exit status 1); remove code at "
                                      "the top level that exits or crashes; fc_net.py: not imported, because "
                                      "layers.py was imported first and ended the process (exit status 1)")
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
    rows = list(csv.reader(open(out / "grades.csv")))
    manifest = json.loads((CASES / "manifest.json").read_text())
    assert rows[0] == ["Name", "SID", "Email", "Total Score", "Max Points", "Status",
                       *(f"{f['name']} ({f['points']:g} pts)" for f in manifest["functions"]), "Submission"]
    by_student = {row["Name"]: row for row in csv.DictReader(open(out / "grades.csv"))}
    assert by_student["carol"]["Total Score"] == "91" and by_student["carol"]["max_pool_backward (18 pts)"] == "9"
    assert by_student["erin"]["conv_forward (8 pts)"] == "0" and by_student["erin"]["conv_backward (18 pts)"] == "18"
    assert [(r["Name"], r["SID"], r["Email"], r["Max Points"], r["Status"]) for r in by_student.values()
            if r["Name"] != "dave"] == [(name, "", "", "100", "graded") for name in ("alice", "bob", "carol", "erin",
                                                                                    "frank")]
    dave = by_student["dave"]   # could not be graded: no points at all, and the reason
    assert dave["Status"] == "not graded: " + outcomes["dave"].error
    assert dave["Total Score"] == "" and all(dave[f"{f['name']} ({f['points']:g} pts)"] == ""
                                             for f in manifest["functions"])


def test_the_class_overview_links_every_report_and_counts_the_mistakes(batch):
    out, outcomes = batch
    overview = (out / "index.html").read_text()
    for outcome in outcomes.values():
        assert f'href="students/{outcome.key}/report.html"' in overview
    assert "tie rule &#39;first&#39; instead of &#39;all&#39;" in overview or "tie rule 'first' instead of 'all'" in overview
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", overview)  # nothing fetched
    apart = overview[overview.index('<section id="not-graded">'):]
    assert re.findall(r'<tr class="not-graded">\s*<td><a href="([^"]+)">([^<]+)</a></td>\s*<td class="small">([^<]+)<',
                      apart) == [("students/dave/report.html", "dave", html.escape(outcomes["dave"].error))]
    students = overview[overview.index('<section id="students">'):overview.index('<section id="not-graded">')]
    assert "dave" not in students


def test_the_overview_histogram_counts_every_student_once_full_marks_in_the_top_bin(batch, cases):
    out, outcomes = batch
    context = overview_context(list(outcomes.values()), load_manifest(cases))
    # frank 88; carol 91, erin 92, alice and bob 100 (the case points sum to 99.99999999999997);
    # dave, who could not be graded, is left out
    assert [b["count"] for b in context["histogram"]] == [0, 0, 0, 0, 0, 0, 0, 0, 1, 4]
    assert [(b["low"], b["high"]) for b in context["histogram"]][-1] == (90.0, 100.0)
    counts = re.findall(r'<text class="count"[^>]*>(\d+)</text>', (out / "index.html").read_text())
    assert counts == ["0", "0", "0", "0", "0", "0", "0", "0", "1", "4"]
    assert context["mean"] == statistics.mean([outcomes[n].score for n in ("alice", "bob", "carol", "erin", "frank")])
    assert [s["name"] for s in context["students"]] == ["alice", "bob", "carol", "erin", "frank"]
    assert [(s["name"], s["error"]) for s in context["not_graded"]] == [("dave", outcomes["dave"].error)]


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


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_every_submission_is_graded_from_the_cases_read_when_the_batch_began(klass, tmp_path, monkeypatch,
                                                                             start_method):
    """Cases regenerated or damaged, or the config edited, during a batch change no grade:
    every submission is graded from the cases read and checked at the start, which the
    fingerprints record, however the pool starts its processes."""
    cases = cases_with_settings(tmp_path / "project")  # a copy that may be damaged, its config beside it
    config = shutil.copy(FIXTURE / "assignment.toml", cases.parent / "assignment.toml")
    small = tmp_path / "small"
    small.mkdir()
    for name in ("alice", "bob", "carol.zip"):
        (shutil.copytree if (klass / name).is_dir() else shutil.copy)(klass / name, small / name)
    monkeypatch.setattr(batch_module, "START_METHOD", start_method)

    class ChangeEverything:  # called after the cases were read, before the pool starts
        def start(self, total, reused):
            for file in cases.rglob("*.npz"):
                file.write_bytes(b"damaged")
            with open(config, "a") as handle:
                handle.write("\n# edited\n")

        def advance(self, outcome):
            pass

    outcomes, manifest = run_batch(small, tmp_path / "out", cases, jobs=2, config=config,
                                   progress=ChangeEverything())
    assert manifest.sha256 == hashlib.sha256((cases / "manifest.json").read_bytes()).hexdigest()
    assert [(o.name, o.status, o.score) for o in outcomes] == [
        ("alice", "graded", 100), ("bob", "graded", 100), ("carol", "graded", 100 - points_of("max_pool_backward") / 2)]
    assert b"damaged" == next(cases.rglob("*.npz")).read_bytes()
    with pytest.raises(UserError, match="differs from the manifest's"):  # a new batch reads them again
        run_batch(small, tmp_path / "out", cases, jobs=1, config=config)


def test_a_config_edited_since_the_cases_were_generated_stops_the_batch_before_any_grade(klass, tmp_path):
    cases = cases_with_settings(tmp_path / "project")
    config = shutil.copy(FIXTURE / "assignment.toml", cases.parent / "assignment.toml")
    with open(config, "a") as handle:
        handle.write("\n# edited\n")
    with pytest.raises(UserError, match=r"assignment.toml has changed since .* was generated"):
        run_batch(klass, tmp_path / "out", cases, jobs=1, config=config)
    assert not (tmp_path / "out").exists()


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
    assert [(r["Name"], r["SID"], r["Email"], r["Total Score"], r["Submission"]) for r in rows] == [
        ("Ada Lovelace", "1815", "ada@example.edu", "100", "submission_101"),
        ("Grace Hopper", "1906", "grace@example.edu", "100", "submission_102"),
        ("Conan O'Brien", "1963", "conan@example.edu", "100", "submission_102")]
    assert list(csv.reader(open(out / "canvas.csv"))) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", load_manifest(cases).title],
        ["Points Possible", "", "", "", "", "100"],
        ["Ada Lovelace", "", "1815", "", "", "100"],
        ["Grace Hopper", "", "1906", "", "", "100"],
        ["Conan O'Brien", "", "1963", "", "", "100"]]
    report = (out / "students" / "submission_102" / "report.html").read_text()
    assert "Grace Hopper, Conan O&#39;Brien" in report


def test_an_unpacked_export_folder_works_the_same(tmp_path):
    root = tmp_path / "assignment_77_export"
    write_solution(root / "submission_101")
    write_solution(root / "submission_102")
    (root / "submission_metadata.yml").write_text(EXPORT_METADATA)
    entries = discover(tmp_path, tmp_path / "out")
    assert [(e.key, e.students, e.emails, e.sids) for e in entries] == [
        ("submission_101", ["Ada Lovelace"], ["ada@example.edu"], ["1815"]),
        ("submission_102", ["Grace Hopper", "Conan O'Brien"], ["grace@example.edu", "conan@example.edu"],
         ["1906", "1963"])]


def test_the_export_metadata_parser_reads_gradescope_s_yaml():
    data = parse_export_metadata(EXPORT_METADATA)
    assert data["submission_101"][":submitters"] == [
        {":name": "Ada Lovelace", ":sid": "1815", ":email": "ada@example.edu"}]
    assert data["submission_102"][":submitters"][1][":name"] == "Conan O'Brien"
    assert data["submission_102"][":score"] is None
    assert data["submission_101"][":created_at"] == "2024-04-01 12:00:00.000000000 -07:00"


def test_the_metadata_reads_every_shape_ruby_writes_a_name_in(tmp_path):
    """Names Ruby's YAML writer quotes, escapes or folds, a SID written as a number, a missing email,
    a comment, and a Ruby type tag: each read as the student's own text."""
    data = parse_export_metadata(
        "# exported\n"
        "submission_1: !ruby/hash:ActiveSupport::HashWithIndifferentAccess\n"
        "  :submitters:\n"
        "  - :name: 'Smith: John # Jr.'\n"
        "    :sid: 20231234\n"
        "  - :name: \"Ren\\xE9e \\\"Ren\\\" N\\u00fa\\u00f1ez\"\n"
        "    :sid: '007'\n"
        "    :email: renee@example.edu\n"
        "  - :name: \"A very long name that Ruby folds\n"
        "      onto a second line\"\n"
        "    :email: long@example.edu\n")
    submitters = data["submission_1"][":submitters"]
    assert [s[":name"] for s in submitters] == ["Smith: John # Jr.", 'Ren\u00e9e "Ren" N\u00fa\u00f1ez',
                                                 "A very long name that Ruby folds onto a second line"]
    (tmp_path / "export" / "submission_1").mkdir(parents=True)
    (tmp_path / "export" / "submission_metadata.yml").write_text(
        "submission_1:\n  :submitters:\n  - :name: 'Smith: John'\n    :sid: 20231234\n  - :name: Ana\n"
        "    :email: ana@example.edu\n", encoding="utf-8")
    [entry] = discover(tmp_path / "export", tmp_path / "out")
    assert (entry.name, entry.students, entry.sids, entry.emails) == (
        "Smith: John, Ana", ["Smith: John", "Ana"], ["20231234", ""], ["", "ana@example.edu"])


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
    finished = subprocess.run([sys.executable, "-m", "grader", "batch", "--assignment", str(FIXTURE), str(small),
                               "--out", str(tmp_path / "out"),
                               "--jobs", "2", "--cases", str(cases)], cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert "[1/2]" in finished.stderr and "[2/2]" in finished.stderr and "left" in finished.stderr
    assert "graded 2 of 2 submissions" in finished.stdout


def _cores_seen_by_student_code(tmp_path, cases, jobs, count=4):
    """The CPUs each submission's code may run on, as it printed them at import, by submission."""
    klass = tmp_path / "class"
    for index in range(count):
        solution = write_solution(klass / f"s{index}")
        (solution / "layers.py").write_text("import os\nprint('cores:', sorted(os.sched_getaffinity(0)))\n"
                                            + (solution / "layers.py").read_text())
    run_batch(klass, tmp_path / "out", cases, jobs=jobs)
    seen = {}
    for index in range(count):
        report = (tmp_path / "out" / "students" / f"s{index}" / "report.html").read_text()
        seen[f"s{index}"] = json.loads(re.search(r"cores: (\[[0-9, ]*\])", report)[1])
    return seen


@pytest.mark.skipif(not 2 <= len(batch_module.available_cores()) <= 4 or not hasattr(os, "sched_setaffinity"),
                    reason="needs two to four cores and CPU affinity")
def test_with_a_job_per_core_the_code_each_job_runs_keeps_to_its_core(tmp_path, cases):
    cores = batch_module.available_cores()
    seen = _cores_seen_by_student_code(tmp_path, cases, jobs=len(cores))
    assert all(len(found) == 1 and found[0] in cores for found in seen.values()), seen


@pytest.mark.skipif(not hasattr(os, "sched_getaffinity"), reason="needs CPU affinity")
def test_with_one_job_the_code_it_runs_may_use_every_core(tmp_path, cases):
    seen = _cores_seen_by_student_code(tmp_path, cases, jobs=1, count=2)
    assert seen == {"s0": batch_module.available_cores(), "s1": batch_module.available_cores()}


def test_pinning_takes_one_core_per_job_only_when_the_jobs_take_every_core(monkeypatch):
    monkeypatch.setattr(batch_module, "available_cores", lambda: [0, 2, 5])
    assert [batch_module.pinned_cores(jobs) for jobs in (1, 2, 3, 4)] == [None, None, [0, 2, 5], None]
    monkeypatch.setattr(batch_module, "available_cores", lambda: [3])
    assert batch_module.pinned_cores(1) is None


def _pid_and_cores(seconds):
    time.sleep(seconds)  # long enough that the other pool process takes the next task
    return os.getpid(), sorted(os.sched_getaffinity(0))


@pytest.mark.skipif(len(batch_module.available_cores()) < 2 or not hasattr(os, "sched_setaffinity"),
                    reason="needs two cores and CPU affinity")
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_each_grading_process_keeps_to_a_core_no_other_has(cases, start_method):
    cores = batch_module.available_cores()[:2]
    context = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(2, mp_context=context, initializer=batch_module._adopt,
                             initargs=(str(cases), load_manifest(cases), cores, context.Value("i", 0))) as pool:
        seen = dict(pool.map(_pid_and_cores, [0.5, 0.5]))
    assert sorted(seen.values()) == [[cores[0]], [cores[1]]]


def test_no_submissions_is_a_clear_error(tmp_path):
    finished = subprocess.run([sys.executable, "-m", "grader", "batch", "--assignment", str(FIXTURE), str(tmp_path)],
                              cwd=ROOT,
                              capture_output=True, text=True)
    assert finished.returncode == 2
    assert "no submissions found" in finished.stderr


def export_zip(path, solution, compression=zipfile.ZIP_STORED, metadata=EXPORT_METADATA):
    """Gradescope's export of submission_101 and submission_102, both the given solution."""
    with zipfile.ZipFile(path, "w", compression) as archive:
        archive.writestr("assignment_77_export/submission_metadata.yml", metadata)
        for submission in ("submission_101", "submission_102"):
            for name in ("layers.py", "fc_net.py"):
                archive.write(solution / name, f"assignment_77_export/{submission}/{name}")
    return path


def test_students_whose_names_make_the_same_folder_name_keep_their_own_grades(tmp_path, cases):
    subs = tmp_path / "subs"
    write_solution(subs / "a b")
    (write_solution(subs / "a_b") / "fc_net.py").write_text("def oops(:\n")
    out = tmp_path / "out"
    without_net = 100 - points_of("FullyConnectedNet.__init__", "FullyConnectedNet.loss")
    run_batch(subs, out, cases, jobs=2)
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [(r["Name"], float(r["Total Score"]), r["Submission"]) for r in rows] == [
        ("a b", 100.0, "a_b"), ("a_b", without_net, "a_b-2")]
    assert [load_results(out / "students" / key / "results.json")["score"] for key in ("a_b", "a_b-2")] == [
        100.0, without_net]
    again, _ = run_batch(subs, out, cases, jobs=2)
    assert [(o.key, o.score, o.reused) for o in again] == [("a_b", 100.0, True), ("a_b-2", without_net, True)]


def test_names_that_make_the_same_key_get_numbered_in_sorted_order(tmp_path):
    subs = tmp_path / "subs"
    for name in ("alice", "a b", "a_b", "a_b-2", "Bob", "bob"):
        (subs / name).mkdir(parents=True)
    with zipfile.ZipFile(subs / "alice.zip", "w") as archive:
        archive.writestr("layers.py", "")
    entries = discover(subs, tmp_path / "out")
    assert [(e.name, e.key) for e in entries] == [
        ("Bob", "Bob"), ("a b", "a_b"), ("a_b", "a_b-3"), ("a_b-2", "a_b-2"),
        ("alice", "alice"), ("alice", "alice-2"), ("bob", "bob-2")]


def test_a_rerun_never_reuses_another_student_s_outputs_when_keys_move(tmp_path, cases):
    subs, out = tmp_path / "subs", tmp_path / "out"
    write_solution(subs / "a_b")
    run_batch(subs, out, cases, jobs=1)
    shutil.copytree(subs / "a_b", subs / "a b")   # sorts first, so it now takes the key a_b
    outcomes, _ = run_batch(subs, out, cases, jobs=1)
    assert [(o.name, o.key, o.reused) for o in outcomes] == [("a b", "a_b", False), ("a_b", "a_b-2", False)]


@pytest.mark.parametrize("compression, change, problem", [
    (zipfile.ZIP_DEFLATED, lambda data: b"\xff" * len(data), "Error -3 while decompressing data"),
    (zipfile.ZIP_STORED, lambda data: bytes([data[0] ^ 1]) + data[1:], "Bad CRC-32"),
    (zipfile.ZIP_LZMA, lambda data: data[:20] + b"\xff" * (len(data) - 20), "Corrupt input data"),
], ids=["corrupt deflate data", "bad CRC", "corrupt lzma data"])
def test_a_damaged_export_zip_is_a_one_line_error_naming_the_zip_and_the_file(tmp_path, compression, change,
                                                                                problem):
    export = export_zip(tmp_path / "export.zip", write_solution(tmp_path / "solution"), compression)
    member = "assignment_77_export/submission_101/layers.py"
    overwrite_member_data(export, member, change)
    finished = subprocess.run([sys.executable, "-m", "grader", "batch", "--assignment", str(FIXTURE), str(export),
                               "--out", str(tmp_path / "out")],
                              cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 2
    assert finished.stderr.startswith(f"error: {export}: {member} is corrupt in the .zip ({problem}")
    assert finished.stderr.endswith("; download the export again\n") and finished.stderr.count("\n") == 1
    assert list((tmp_path / "out" / ".unpacked").iterdir()) == []   # nothing half-unpacked is kept


def test_an_export_that_unpacks_to_more_than_the_limit_is_refused_before_anything_is_written(
        tmp_path, cases, monkeypatch):
    from grader.batch import submissions as batch
    export = export_zip(tmp_path / "export.zip", write_solution(tmp_path / "solution"))
    with zipfile.ZipFile(export) as archive:
        total = sum(info.file_size for info in archive.infolist())
    monkeypatch.setattr(batch, "MAX_EXPORT_BYTES", total - 1)
    out = tmp_path / "out"
    with pytest.raises(UserError) as caught:
        run_batch(export, out, cases, jobs=1)
    assert str(caught.value) == (f"{export}: unpacks to 0.0 GB, more than the 0 GB batch unpacks by itself; "
                                 f"unzip it yourself and pass the folder")
    assert list((out / ".unpacked").iterdir()) == []
    monkeypatch.setattr(batch, "MAX_EXPORT_BYTES", total)
    outcomes, _ = run_batch(export, out, cases, jobs=1)
    assert [o.score for o in outcomes] == [100.0, 100.0]


def test_the_metadata_parser_names_the_line_it_cannot_read():
    with pytest.raises(UserError) as raised:
        parse_export_metadata("submission_1:\n  :submitters:\n  'submission_2:\n", "export/meta.yml")
    assert str(raised.value) == ("export/meta.yml, line 3: cannot read it as YAML (while scanning a quoted scalar; "
                                 "found unexpected end of stream at line 4)")


@pytest.mark.parametrize("metadata, problem", [
    (EXPORT_METADATA.replace("submission_102:", '"submission_102:'),
     "line 9: cannot read it as YAML (while scanning a simple key; could not find expected ':' at line 11)"),
    (EXPORT_METADATA.replace("Ada", "Ad\u00e0").encode("latin-1"), "line 4: not UTF-8 text (byte 0xe0)"),
], ids=["unterminated quote", "not UTF-8"])
def test_unreadable_metadata_costs_the_names_only_and_says_so(tmp_path, metadata, problem):
    root = tmp_path / "assignment_77_export"
    write_solution(root / "submission_101")
    write_solution(root / "submission_102")
    path = root / "submission_metadata.yml"
    path.write_bytes(metadata if isinstance(metadata, bytes) else metadata.encode())
    warnings = []
    entries = discover(tmp_path, tmp_path / "out", warnings.append)
    assert [(e.key, e.name, e.students, e.emails, e.sids) for e in entries] == [
        ("submission_101", "submission_101", ["submission_101"], [""], [""]),
        ("submission_102", "submission_102", ["submission_102"], [""], [""])]
    assert warnings == [f"{path}, {problem}; grading every submission folder under its folder name instead "
                        f"(grades.csv will have no student names, SIDs or emails)"]


def test_the_batch_command_warns_about_unreadable_metadata_and_grades_everyone(tmp_path, cases):
    metadata = EXPORT_METADATA.replace("Ada", "Ad\u00e0").encode("latin-1")
    export = export_zip(tmp_path / "export.zip", write_solution(tmp_path / "solution"), metadata=metadata)
    out = tmp_path / "out"
    finished = subprocess.run([sys.executable, "-m", "grader", "batch", "--assignment", str(FIXTURE), str(export),
                               "--out", str(out),
                               "--cases", str(cases)], cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert finished.stderr.count("submission_metadata.yml, line 4: not UTF-8 text (byte 0xe0); grading every "
                                 "submission folder under its folder name instead") == 2   # before and after
    rows = list(csv.DictReader(open(out / "grades.csv")))
    assert [(r["Name"], r["Total Score"]) for r in rows] == [("submission_101", "100"), ("submission_102", "100")]


def test_folders_the_metadata_does_not_list_are_graded_and_missing_ones_reported(tmp_path):
    root = tmp_path / "assignment_77_export"
    write_solution(root / "submission_101")
    write_solution(root / "submission_103")      # not in the metadata; submission_102 is, without a folder
    path = root / "submission_metadata.yml"
    path.write_text(EXPORT_METADATA)
    warnings = []
    entries = discover(tmp_path, tmp_path / "out", warnings.append)
    assert [(e.key, e.name) for e in entries] == [("submission_101", "Ada Lovelace"),
                                                  ("submission_103", "submission_103")]
    assert warnings == [f"{path} lists 'submission_102', but the export has no such submission folder: not graded",
                        f"{path} does not list 'submission_103': graded under its folder name"]


def test_the_grader_fingerprint_covers_its_code_and_its_templates(tmp_path):
    package = tmp_path / "grader"
    shutil.copytree(ROOT / "grader", package, ignore=shutil.ignore_patterns("__pycache__"))
    before = grader_sha(package)
    (package / "__pycache__").mkdir()
    (package / "__pycache__" / "batch.cpython-311.pyc").write_bytes(b"compiled")
    assert grader_sha(package) == before
    edit_submission(package / "report" / "templates", "base.html", "<", "<!-- changed -->\n<")
    after_template = grader_sha(package)
    edit_submission(package, "compare.py", "import", "# changed\nimport")
    assert len({before, after_template, grader_sha(package)}) == 3


def test_a_changed_grader_regrades_even_with_the_same_version(tmp_path, cases, monkeypatch):
    subs, out = tmp_path / "subs", tmp_path / "out"
    write_solution(subs / "alice")
    run_batch(subs, out, cases, jobs=1)
    assert [o.reused for o in run_batch(subs, out, cases, jobs=1)[0]] == [True]
    monkeypatch.setattr("grader.batch.pool.grader_sha", lambda: "the grader's code changed")
    assert [o.reused for o in run_batch(subs, out, cases, jobs=1)[0]] == [False]


def test_students_work_in_the_output_is_readable_by_the_user_running_the_batch_only(tmp_path, cases):
    export = export_zip(tmp_path / "export.zip", write_solution(tmp_path / "solution"))
    out = tmp_path / "out"
    for folder in (".unpacked", "students"):   # as an earlier version left them
        (out / folder).mkdir(parents=True)
        os.chmod(out / folder, 0o755)
    umask = os.umask(0o022)
    try:
        run_batch(export, out, cases, jobs=2)
    finally:
        os.umask(umask)
    modes = {name: stat.S_IMODE((out / name).stat().st_mode)
             for name in (".unpacked", "students", "grades.csv", "index.html")}
    assert modes == {".unpacked": 0o700, "students": 0o700, "grades.csv": 0o600, "index.html": 0o600}
    unpacked = list((out / ".unpacked").rglob("*"))
    assert len(unpacked) == 9   # the export's folder, its metadata, two submissions of two files each
    assert [p for p in unpacked if p.stat().st_mode & 0o077] == []


PEEKER = r'''
import os as _os
_SEEN = []
for _path in (CLASS, CLASS + "/alice/layers.py", OUT, OUT + "/grades.csv", OUT + "/students"):
    try:
        if _os.path.isdir(_path):
            _SEEN.append((_path, sorted(_os.listdir(_path))))
        else:
            with open(_path) as _f:
                _SEEN.append((_path, len(_f.read())))
    except OSError:
        pass
print("SEEN", _SEEN)
'''


@pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader runs student code as another user")
def test_in_root_mode_one_student_s_code_cannot_see_the_class_or_its_grades(cases, tmp_path):
    import tempfile
    base = tempfile.mkdtemp(prefix="bpg-class-", dir="/tmp")   # readable to anyone, as folders often are
    os.chmod(base, 0o755)
    try:
        klass, out = os.path.join(base, "class"), os.path.join(base, "out")
        write_solution(os.path.join(klass, "alice"))
        os.makedirs(out)
        run_batch(klass, out, cases, jobs=1)  # a first run: grades.csv and reports exist
        mallory = shutil.copytree(FIXTURE / "student_template", os.path.join(klass, "mallory"))
        with open(os.path.join(mallory, "layers.py"), "a") as handle:
            handle.write(PEEKER.replace("CLASS", repr(klass)).replace("OUT", repr(out)))
        outcomes = {o.name: o for o in run_batch(klass, out, cases, jobs=1)[0]}
        assert outcomes["mallory"].status == "graded" and outcomes["mallory"].score == 0
        report = open(os.path.join(out, "students", "mallory", "report.html")).read()
        assert "SEEN []" in report
        assert os.stat(klass).st_mode & 0o007 == 0 and os.stat(out).st_mode & 0o007 == 0
    finally:
        shutil.rmtree(base)


def test_a_file_of_the_export_that_cannot_be_unpacked_costs_that_file_and_not_the_batch(tmp_path, cases):
    export = export_zip(tmp_path / "export.zip", write_solution(tmp_path / "solution"))
    long_name = "x" * 300 + ".txt"
    with zipfile.ZipFile(export, "a") as archive:
        archive.writestr(f"assignment_77_export/submission_102/{long_name}", "a name longer than the disk allows")
    warnings = []
    entries = discover(export, tmp_path / "out", warnings.append)
    assert [e.key for e in entries] == ["submission_101", "submission_102"]
    member = f"assignment_77_export/submission_102/{long_name}"
    assert [w.split(", which")[0] for w in warnings] == [f"{export}: left out {member[:117]}..."]
    outcomes, _ = run_batch(export, tmp_path / "out", cases, jobs=1)
    assert [o.score for o in outcomes] == [100.0, 100.0]


def test_a_mixed_class_gives_a_gradebook_that_imports(tmp_path, cases):
    """Issue 20's class: correct work, a tie bug, a syntax error, an empty folder, a zip, code three
    folders deep and FC_net.py. grades.csv leads with who, the total, the max points and the status;
    the two that could not be graded say why and count in no statistic; canvas.csv is Canvas's."""
    from grader.cli import main
    klass = tmp_path / "class"
    write_solution(klass / "ada")
    write_solution(klass / "ben", tie_rule="first")
    cy = write_solution(klass / "cy")
    (cy / "layers.py").write_text("def affine_forward(x, w, b:\n")
    (cy / "fc_net.py").write_text("class FullyConnectedNet(:\n")
    (klass / "dee").mkdir()
    solution = write_solution(tmp_path / "solution")
    with zipfile.ZipFile(klass / "eve.zip", "w") as archive:
        for name in ("layers.py", "fc_net.py"):
            archive.write(solution / name, f"hw/{name}")
    write_solution(klass / "fay" / "one" / "two" / "three")
    (write_solution(klass / "gus") / "fc_net.py").rename(klass / "gus" / "FC_net.py")
    out = tmp_path / "out"
    assert main(["batch", str(klass), "--cases", str(cases), "--out", str(out), "--jobs", "2"]) == 0
    rows = list(csv.reader(open(out / "grades.csv")))
    assert rows[0][:6] == ["Name", "SID", "Email", "Total Score", "Max Points", "Status"]
    by_name = {row[0]: row[:6] for row in rows[1:]}
    ties = 100 - points_of("max_pool_backward") / 2
    syntax = ("layers.py:1: syntax error: '(' was never closed: def affine_forward(x, w, b:; "
              "fc_net.py:1: syntax error: invalid syntax: class FullyConnectedNet(:")
    assert by_name == {
        "ada": ["ada", "", "", "100", "100", "graded"],
        "ben": ["ben", "", "", f"{ties:g}", "100", "graded"],
        "cy": ["cy", "", "", "", "100", f"not graded: {syntax}"],
        "dee": ["dee", "", "", "", "100", "not graded: layers.py is missing from the submission; fc_net.py is "
                                          "missing from the submission"],
        "eve": ["eve", "", "", "100", "100", "graded"],
        "fay": ["fay", "", "", "100", "100", "graded"],
        "gus": ["gus", "", "", "100", "100", "graded"]}
    context = overview_context(run_batch(klass, out, cases, jobs=1)[0], load_manifest(cases))
    assert context["graded"] == 5 and context["failed_to_grade"] == 2
    assert context["mean"] == (400 + ties) / 5
    assert [s["name"] for s in context["not_graded"]] == ["cy", "dee"]
    canvas = list(csv.reader(open(out / "canvas.csv")))
    assert canvas[:2] == [["Student", "ID", "SIS User ID", "SIS Login ID", "Section", load_manifest(cases).title],
                          ["Points Possible", "", "", "", "", "100"]]
    assert {row[0]: row[5] for row in canvas[2:]} == {"ada": "100", "ben": f"{ties:g}", "cy": "", "dee": "",
                                                      "eve": "100", "fay": "100", "gus": "100"}
    gus = load_results(out / "students" / "gus" / "results.json")["output"]
    assert "graded FC_net.py as fc_net.py" in gus
