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
    assert submission.problems["layers"] == "found 2 files named layers.py: a/layers.py, b/layers.py; submit exactly one"


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


def test_files_two_folders_down_are_found_as_the_readme_says(tmp_path):
    upload = solution_zip(tmp_path / "upload.zip", write_solution(tmp_path / "s"), "hw3/release/layers.py",
                          "hw3/release/fc_net.py", extra=[(f"__MACOSX/hw3/release/._{name}", "junk")
                                                          for name in ("layers.py", "fc_net.py")])
    submission = load_submission(upload, FILES)
    assert submission.modules == {"layers": "layers.py", "fc_net": "fc_net.py"} and not submission.problems
    assert submission.notes == ["the files were found inside the folder hw3/release/"]
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert MAX_FOLDERS == 2 and "at the top or at most two folders down" in readme


def test_files_deeper_than_two_folders_are_a_problem_that_names_where_they_are(tmp_path):
    upload = solution_zip(tmp_path / "upload.zip", write_solution(tmp_path / "s"), "a/b/c/layers.py", "a/fc_net.py")
    submission = load_submission(upload, FILES)
    assert submission.modules["layers"] is None
    assert submission.problems == {"layers": "layers.py is missing from the submission: a/b/c/layers.py is more "
                                             "than 2 folders down, deeper than the grader looks; put layers.py at "
                                             "the top of the submission, or at most 2 folders down"}
