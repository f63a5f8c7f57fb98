"""The packaged autograder on Python 3.10 with its pinned requirements, as on Gradescope's image."""
import glob
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from helpers import autograder_tree, build_package, load_results, run_autograder

ROOT = Path(__file__).resolve().parents[1]


def find_python310():
    for candidate in [shutil.which("python3.10"), *sorted(glob.glob("/root/.pyenv/versions/3.10*/bin/python3.10")),
                      "/usr/bin/python3.10", "/usr/local/bin/python3.10"]:
        if candidate and os.path.exists(candidate):
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                   capture_output=True, text=True)
            if probe.returncode == 0 and probe.stdout.strip() == "(3, 10)":
                return candidate
    return None


PYTHON310 = find_python310()


@pytest.mark.slow
@pytest.mark.skipif(PYTHON310 is None, reason="no Python 3.10 interpreter on this machine")
def test_the_package_grades_on_python_3_10_with_its_pinned_requirements(tmp_path):
    venv = tmp_path / "py310"
    subprocess.run([PYTHON310, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    requirements = ROOT / "grader" / "authoring" / "gradescope" / "requirements.txt"
    subprocess.run([python, "-m", "pip", "install", "-q", "-r", str(requirements)], check=True)
    package = build_package(tmp_path)
    root = autograder_tree(package, ROOT / "examples" / "submission")
    try:
        # setup.sh compiles the grader once, as Gradescope builds the image.
        assert "python3 -m compileall -q grader" in (root / "source" / "setup.sh").read_text()
        subprocess.run([python, "-m", "compileall", "-q", "grader"], cwd=root / "source", check=True)
        assert (root / "source" / "grader" / "__pycache__" / "engine.cpython-310.pyc").is_file()
        finished = run_autograder(root, python=python)
        assert finished.returncode == 0, finished.stderr
        data = load_results(root / "results" / "results.json")
        assert data["score"] == 89.5
        assert data["tests"][0]["name"] == "affine_forward: 2-D input"
    finally:
        shutil.rmtree(root)
