"""Generated files are exactly what the generator writes, and the runtime stays Python 3.10-clean."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import cases
from grader.authoring import generate

ROOT = Path(__file__).resolve().parents[1]


def test_committed_test_cases_and_template_match_a_fresh_generation():
    problems = generate.check(generate.generate(ROOT), ROOT)
    assert problems == []


def test_generation_is_byte_identical_when_repeated():
    first = generate.generate(ROOT).files
    second = generate.generate(ROOT).files
    assert first == second


def test_the_manifest_holds_every_section_setting_and_field_the_grader_checks_for():
    manifest = json.loads((ROOT / "test_cases" / "manifest.json").read_text())
    assert sorted(manifest) == sorted([*cases.SECTIONS, "config_sha256", "format", "generator"])
    assert sorted(manifest["settings"]) == sorted(cases.SETTINGS)
    assert sorted(manifest["assignment"]) == sorted([*cases.ASSIGNMENT, "total_points"])
    assert all(set(cases.FUNCTION) <= set(function) for function in manifest["functions"])
    assert {key for case in manifest["cases"] for key in case} == set(cases.CASE_FIELDS)
    assert cases.load_manifest(ROOT / "test_cases").cases  # and every value has the type it should


def test_generate_check_command_passes_on_the_committed_files():
    result = subprocess.run([sys.executable, "-m", "grader", "generate", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_generate_check_fails_and_names_a_changed_case_file(tmp_path):
    project = tmp_path / "project"
    for name in ("reference", "test_cases", "student_template"):
        shutil.copytree(ROOT / name, project / name)
    shutil.copy(ROOT / "assignment.toml", project)
    victim = project / "test_cases" / "public" / "max_pool_backward--flat-window.npz"
    victim.write_bytes(victim.read_bytes() + b"\0")
    result = subprocess.run([sys.executable, "-m", "grader", "generate", "--check", "--project", str(project)],
                            cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 1
    assert "test_cases/public/max_pool_backward--flat-window.npz: differs from a fresh generation" in result.stdout


def _vermin(*paths, cwd=ROOT):
    vermin = shutil.which("vermin")
    if vermin is None:
        pytest.skip("vermin is not installed (pip install -e '.[test]')")
    return subprocess.run([vermin, "--no-tips", "--target=3.10-", "--violations", "--eval-annotations",
                           *map(str, paths)], cwd=cwd, capture_output=True, text=True)


def test_runtime_code_needs_no_python_newer_than_3_10():
    result = _vermin("grader", "reference", "student_template")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_version_check_rejects_an_unguarded_python_3_11_module(tmp_path):
    (tmp_path / "uses_311.py").write_text("import tomllib\n")
    result = _vermin(tmp_path / "uses_311.py")
    assert result.returncode != 0
    assert "tomllib" in result.stdout
