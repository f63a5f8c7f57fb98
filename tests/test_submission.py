"""Finding a student's files: folders, zips, nesting, junk, and uploads that cannot be graded."""
import subprocess
import sys
import zipfile

import pytest

from grader.errors import UserError
from grader.submission import MAX_FILES, load_submission
from helpers import write_solution


def test_virtual_environments_and_tool_folders_are_not_part_of_a_submission(tmp_path):
    folder = write_solution(tmp_path / "mine")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder / "anyname")], check=True)
    for junk in ("reports/old/results.json", ".pytest_cache/v/x", "__pycache__/layers.cpython-311.pyc",
                 ".venv/lib/x.py"):
        (folder / junk).parent.mkdir(parents=True, exist_ok=True)
        (folder / junk).write_text("x")
    (folder / "helpers.py").write_text("X = 1\n")
    assert sorted(load_submission(folder).files) == ["fc_net.py", "helpers.py", "layers.py"]


def test_two_candidate_files_at_the_same_depth_are_a_named_problem(tmp_path):
    write_solution(tmp_path / "a")
    write_solution(tmp_path / "b")
    submission = load_submission(tmp_path)
    assert submission.problems["layers"] == "found 2 files named layers.py: a/layers.py, b/layers.py; submit exactly one"


def test_zip_entries_that_point_outside_the_submission_are_ignored(tmp_path):
    solution = write_solution(tmp_path / "s")
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        archive.write(solution / "layers.py", "layers.py")
        archive.write(solution / "fc_net.py", "fc_net.py")
        archive.writestr("../../evil.py", "boom")
        archive.writestr("/etc/evil.py", "boom")
    assert sorted(load_submission(upload).files) == ["fc_net.py", "layers.py"]


def test_an_upload_with_too_many_files_is_refused_with_a_reason(tmp_path):
    upload = tmp_path / "upload.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        for index in range(MAX_FILES + 1):
            archive.writestr(f"data/{index}.txt", "x")
    with pytest.raises(UserError, match=f"more than {MAX_FILES} files"):
        load_submission(upload)


def test_a_file_that_is_neither_a_folder_nor_a_zip_is_refused(tmp_path):
    (tmp_path / "layers.py").write_text("x = 1\n")
    with pytest.raises(UserError, match="not a folder or a .zip file"):
        load_submission(tmp_path / "layers.py")
