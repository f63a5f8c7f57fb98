"""Finding a student's files: folders, zips, nesting, junk, and uploads that cannot be graded."""
import subprocess
import sys
import zipfile
import zlib

import pytest

from grader.errors import UserError
from grader.submission import MAX_FILES, MAX_FOLDERS, load_submission
from helpers import FIXTURE, ROOT, overwrite_member_data, solution_zip, write_solution

FILES = ("layers.py", "fc_net.py")


def test_virtual_environments_and_tool_folders_are_not_part_of_a_submission(tmp_path):
    folder = write_solution(tmp_path / "mine")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "anyname")], check=True)
    for junk in ("reports/old/results.json", ".pytest_cache/v/x", "__pycache__/layers.cpython-311.pyc",
                 ".venv/lib/x.py"):
        (folder / junk).parent.mkdir(parents=True, exist_ok=True)
        (folder / junk).write_text("x")
    (folder / "helpers.py").write_text("X = 1\n")
    assert sorted(load_submission(folder, FILES).files) == ["fc_net.py", "helpers.py", "layers.py"]


def test_two_candidate_files_at_the_same_depth_are_a_named_problem(tmp_path):
    write_solution(tmp_path / "a")
    write_solution(tmp_path / "b")
    submission = load_submission(tmp_path, FILES)
    assert submission.problems["layers"] == ("found 2 files named a/layers.py or b/layers.py, which could each be "
                                             "layers.py; submit exactly one")


def test_zip_entries_that_point_outside_the_submission_are_ignored(tmp_path):
    upload = solution_zip(tmp_path / "upload.zip", write_solution(tmp_path / "s"),
                          extra=[("../../evil.py", "boom"), ("/etc/evil.py", "boom")])
    assert sorted(load_submission(upload, FILES).files) == ["fc_net.py", "layers.py"]


def test_an_upload_with_too_many_files_is_refused_with_a_reason(tmp_path):
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        for index in range(MAX_FILES + 1):
            archive.writestr(f"data/{index}.txt", "x")
    with pytest.raises(UserError, match=f"more than {MAX_FILES} files"):
        load_submission(upload, FILES)


def test_a_file_that_is_neither_a_folder_nor_a_zip_is_refused(tmp_path):
    (tmp_path / "layers.py").write_text("x = 1\n")
    with pytest.raises(UserError, match="not a folder or a .zip file"):
        load_submission(tmp_path / "layers.py", FILES)


def zip_with_damaged_deflate_data(path):
    """A zip whose sub/layers.py has bytes overwritten in the middle of its deflate stream."""
    text = "".join(f"def f{i}(x):\n    return x * {i} + {i * i % 7}\n" for i in range(400)).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("sub/layers.py", text)
        archive.writestr("sub/fc_net.py", "X = 1\n")
    overwrite_member_data(path, "sub/layers.py",
                          lambda data: data[:len(data) // 2] + b"\xff" * 16 + data[len(data) // 2 + 16:])
    return path


def test_a_zip_with_damaged_compressed_data_cannot_be_read_and_says_which_file(tmp_path):
    upload = zip_with_damaged_deflate_data(tmp_path / "upload.zip")
    with zipfile.ZipFile(upload) as archive, pytest.raises(zlib.error):
        archive.read("sub/layers.py")  # what zipfile itself raises: not a BadZipFile
    with pytest.raises(UserError) as raised:
        load_submission(upload, FILES)
    assert str(raised.value).startswith(f"{upload}: cannot read the zip file (sub/layers.py is damaged or cannot "
                                        f"be unpacked: Error -3 while decompressing data: ")
    assert str(raised.value).endswith("); make the zip again")


def test_grading_a_damaged_zip_reports_that_the_submission_could_not_be_read(tmp_path, capsys):
    from grader.cli import main
    upload = zip_with_damaged_deflate_data(tmp_path / "upload.zip")
    assert main(["grade", str(upload), "--assignment", str(FIXTURE), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert (f"  problem: the submission could not be read: {upload}: cannot read the zip file "
            f"(sub/layers.py is damaged or cannot be unpacked: Error -3 while decompressing data") in out
    assert "total                       0 / 100" in out


def test_an_encrypted_zip_is_refused_with_the_fix(tmp_path):
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        archive.writestr("layers.py", "x = 1\n")
    data = bytearray(upload.read_bytes())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local and central headers
        data[data.index(signature) + flags_at] |= 0x1  # the flag a password-protected member carries
    upload.write_bytes(bytes(data))
    with pytest.raises(UserError) as raised:
        load_submission(upload, FILES)
    assert str(raised.value) == (f"{upload}: cannot read the zip file (layers.py is encrypted); make the zip "
                                 f"again without a password")


def test_files_five_folders_down_are_found_as_the_readme_says(tmp_path):
    upload = solution_zip(tmp_path / "upload.zip", write_solution(tmp_path / "s"), "a/b/c/hw3/release/layers.py",
                          "a/b/c/hw3/release/fc_net.py", extra=[(f"__MACOSX/a/b/c/hw3/release/._{name}", "junk")
                                                                for name in ("layers.py", "fc_net.py")])
    submission = load_submission(upload, FILES)
    assert submission.modules == {"layers": "layers.py", "fc_net": "fc_net.py"} and not submission.problems
    assert submission.notes == ["the files were found inside the folder a/b/c/hw3/release/"]
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert MAX_FOLDERS == 5 and "at the top or at most five folders down" in readme


def test_files_deeper_than_five_folders_are_a_problem_that_names_where_they_are(tmp_path):
    upload = solution_zip(tmp_path / "upload.zip", write_solution(tmp_path / "s"), "a/b/c/d/e/f/layers.py",
                          "a/fc_net.py")
    submission = load_submission(upload, FILES)
    assert submission.modules["layers"] is None
    assert submission.problems == {"layers": "layers.py is missing from the submission: a/b/c/d/e/f/layers.py is "
                                             "more than 5 folders down, deeper than the grader looks; put layers.py "
                                             "at the top of the submission, or at most 5 folders down"}


CASE_NOTE = ("graded {path} as {needed}: no file is named exactly {needed}, and this name differs from it only in "
             "upper and lower case (Python imports need the exact name)")
COPY_NOTE = ("graded {path} as {needed}: no file is named {needed}, and this name is {needed} with the suffix a "
             "browser or operating system adds to a copy")


@pytest.mark.parametrize("layers_name, layers_note, fc_net_name, fc_net_note", [
    ("Layers.py", CASE_NOTE, "FC_net.py", CASE_NOTE),
    ("layers (1).py", COPY_NOTE, "fc_net-2.py", COPY_NOTE),
    ("layers copy.py", COPY_NOTE, "fc_net_3.py", COPY_NOTE),
    ("layers - Copy.py", COPY_NOTE, "fc_net copy 2.py", COPY_NOTE),
    ("LAYERS (12).PY", COPY_NOTE, "Fc_Net - Copy (2).py", COPY_NOTE)])
def test_a_file_under_a_name_its_system_changed_is_graded_and_the_note_says_which_and_why(
        tmp_path, layers_name, layers_note, fc_net_name, fc_net_note):
    solution = write_solution(tmp_path / "s")
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        archive.writestr(f"hw/{layers_name}", (solution / "layers.py").read_bytes())
        archive.writestr(f"hw/{fc_net_name}", (solution / "fc_net.py").read_bytes())
    submission = load_submission(upload, FILES)
    assert not submission.problems
    assert submission.modules == {"layers": "layers.py", "fc_net": "fc_net.py"}
    assert sorted(submission.files) == ["fc_net.py", "layers.py"]   # under the names Python imports
    assert submission.files["layers.py"] == (solution / "layers.py").read_bytes()
    assert submission.notes == [layers_note.format(path=f"hw/{layers_name}", needed="layers.py"),
                                fc_net_note.format(path=f"hw/{fc_net_name}", needed="fc_net.py"),
                                "the files were found inside the folder hw/"]


def test_the_exact_name_wins_over_a_copy_and_another_required_name_is_never_a_copy(tmp_path):
    write_solution(tmp_path)
    (tmp_path / "layers (1).py").write_text("broken(")
    (tmp_path / "Layers.py").write_text("broken(")
    submission = load_submission(tmp_path, FILES)
    assert submission.files["layers.py"] == (tmp_path / "layers.py").read_bytes()
    assert not submission.problems
    assert submission.notes == ["graded layers.py, not Layers.py or layers (1).py beside it: rename the one you "
                                "mean to layers.py and remove the others"]
    # "layers_2.py" is not a copy of layers.py when the assignment requires a file of that name
    (tmp_path / "layers.py").unlink()
    (tmp_path / "Layers.py").unlink()
    (tmp_path / "layers (1).py").unlink()
    (tmp_path / "layers_2.py").write_text("x = 2\n")
    submission = load_submission(tmp_path, ("layers.py", "layers_2.py"))
    assert submission.modules == {"layers": None, "layers_2": "layers_2.py"}


def test_two_copies_that_could_each_be_the_file_are_a_named_problem(tmp_path):
    write_solution(tmp_path)
    (tmp_path / "layers.py").rename(tmp_path / "layers (1).py")
    (tmp_path / "layers (2).py").write_text("x = 1\n")
    submission = load_submission(tmp_path, FILES)
    assert submission.problems == {"layers": "found 2 files named layers (1).py or layers (2).py, which could each "
                                             "be layers.py; submit exactly one"}


def test_a_missing_file_names_the_closest_file_the_submission_has(tmp_path):
    write_solution(tmp_path)
    (tmp_path / "fc_net.py").rename(tmp_path / "fcnet.py")
    (tmp_path / "layers.py").rename(tmp_path / "my_layers_final.py")
    submission = load_submission(tmp_path, FILES)
    assert submission.problems == {
        "layers": "layers.py is missing from the submission",
        "fc_net": "fc_net.py is missing from the submission; it has fcnet.py, which is not the same name: if that "
                  "is your fc_net.py, rename it to fc_net.py"}


def test_grade_scores_renamed_files_in_full_and_says_on_the_terminal_which_it_used(tmp_path, capsys):
    from grader.cli import main
    folder = write_solution(tmp_path / "mine" / "a" / "b" / "c" / "hw")
    (folder / "layers.py").rename(folder / "layers (1).py")
    (folder / "fc_net.py").rename(folder / "FC_net.py")
    assert main(["grade", str(tmp_path / "mine"), "--assignment", str(FIXTURE), "--out", str(tmp_path / "out")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1:4] == [
        "  note: " + COPY_NOTE.format(path="a/b/c/hw/layers (1).py", needed="layers.py"),
        "  note: " + CASE_NOTE.format(path="a/b/c/hw/FC_net.py", needed="fc_net.py"),
        "  note: the files were found inside the folder a/b/c/hw/"]
    assert lines[-4] == "total                       100 / 100"


def test_the_folder_holding_every_required_file_is_graded_not_an_old_copy_above_it(tmp_path):
    """A course folder zipped whole: an old template at the top, the work two folders down."""
    write_solution(tmp_path / "cs231n" / "assignment2")
    (tmp_path / "cs231n" / "layers.py").write_text((ROOT / "student_template" / "layers.py").read_text())
    (tmp_path / "fc_net.py").write_text("raise SystemExit('old')\n")
    submission = load_submission(tmp_path, FILES)
    assert not submission.problems
    assert submission.modules == {"layers": "layers.py", "fc_net": "fc_net.py"}
    assert submission.files["layers.py"] == (tmp_path / "cs231n" / "assignment2" / "layers.py").read_bytes()
    assert submission.files["fc_net.py"] == (tmp_path / "cs231n" / "assignment2" / "fc_net.py").read_bytes()
    assert submission.notes == ["the files were found inside the folder cs231n/assignment2/"]


def test_a_required_file_below_the_others_is_graded_beside_them_where_it_can_be_imported(tmp_path, capsys):
    from grader.cli import main
    folder = write_solution(tmp_path / "mine")
    (folder / "hw").mkdir()
    (folder / "fc_net.py").rename(folder / "hw" / "fc_net.py")
    submission = load_submission(folder, FILES)
    assert submission.modules == {"layers": "layers.py", "fc_net": "fc_net.py"}
    assert submission.notes == ["hw/fc_net.py is not in the same folder as layers.py; graded next to it, since "
                                "the files import each other"]
    assert main(["grade", str(folder), "--assignment", str(FIXTURE), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.splitlines()[-4] == "total                       100 / 100"


@pytest.mark.parametrize("name", ["layerscopy.py", "layers_v2.py", "layers_utils.py", "mylayers.py"])
def test_names_that_are_not_a_copy_of_a_required_file_do_not_stand_in_for_it(tmp_path, name):
    write_solution(tmp_path)
    (tmp_path / "layers.py").rename(tmp_path / name)
    assert load_submission(tmp_path, FILES).modules["layers"] is None
