"""Generated files are exactly what the generator writes, and the runtime stays Python 3.10-clean."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from grader import cases
from grader.authoring import generate
from helpers import CASES, FIXTURE, ROOT, copy_assignment


def test_committed_test_cases_and_template_match_a_fresh_generation():
    problems = generate.check(generate.generate(ROOT), ROOT)
    assert problems == []


def test_the_class_based_assignment_s_committed_files_match_a_fresh_generation():
    folder = ROOT / "assignments" / "csc249"
    assert generate.check(generate.generate(folder), folder) == []


def test_generation_is_byte_identical_when_repeated():
    first = generate.generate(ROOT).files
    second = generate.generate(ROOT).files
    assert first == second


def test_the_manifest_holds_every_section_setting_and_field_the_grader_checks_for():
    manifest = json.loads((CASES / "manifest.json").read_text())
    assert sorted(manifest) == sorted([*cases.SECTIONS, "config_sha256", "format", "generator"])
    assert sorted(manifest["settings"]) == sorted(cases.SETTINGS)
    assert sorted(manifest["assignment"]) == sorted([*cases.ASSIGNMENT, "total_points"])
    assert all(set(cases.FUNCTION) <= set(function) for function in manifest["functions"])
    assert all(set(cases.MODULE) == set(module) for module in manifest["modules"])
    assert {key for case in manifest["cases"] for key in case} == set(cases.CASE_FIELDS) - {"mutable"}
    assert cases.load_manifest(CASES).cases  # and every value has the type it should


def test_generate_check_command_passes_on_the_committed_files():
    result = subprocess.run([sys.executable, "-m", "grader", "generate", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_generate_check_fails_and_names_a_changed_case_file(tmp_path):
    project = copy_assignment(tmp_path)
    victim = project / "test_cases" / "public" / "max_pool_backward--flat-window.npz"
    victim.write_bytes(victim.read_bytes() + b"\0")
    result = subprocess.run([sys.executable, "-m", "grader", "generate", "--check", "--assignment", str(project)],
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
    result = _vermin("grader", "reference", "spec", "student_template")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_version_check_rejects_an_unguarded_python_3_11_module(tmp_path):
    (tmp_path / "uses_311.py").write_text("import tomllib\n")
    result = _vermin(tmp_path / "uses_311.py")
    assert result.returncode != 0
    assert "tomllib" in result.stdout


def _dispatched_cpu_features():
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # NumPy 1
        from numpy.core import _multiarray_umath as umath
    return [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]


def _other_code_paths():
    """The environment of a process whose NumPy, OpenBLAS and C library take their oldest code
    paths on this processor, as on an older machine; None where there are none to switch to."""
    import os
    import platform
    env = dict(os.environ)
    features = _dispatched_cpu_features()
    if features:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(features)
    if platform.machine().lower() in ("x86_64", "amd64"):
        env["OPENBLAS_CORETYPE"] = "Prescott"  # OpenBLAS's oldest x86-64 kernels
        env["GLIBC_TUNABLES"] = "glibc.cpu.hwcaps=-AVX2,-FMA,-FMA4,-AVX512F"  # glibc's log without FMA
    return env if env != dict(os.environ) else None


def test_the_vectors_pass_generate_check_on_a_machine_whose_numpy_blas_and_libm_round_differently():
    """exp, log and BLAS's products take other code paths with newer instructions switched off: the
    last bits of some vectors change, and the committed files still count as up to date."""
    env = _other_code_paths()
    if env is None:
        pytest.skip("no other code paths to switch to here")
    result = subprocess.run([sys.executable, "-m", "grader", "generate", "--check", "--assignment", str(FIXTURE)],
                            cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_case_files_that_differ_only_in_their_last_bits_hold_the_same_arrays():
    import numpy as np

    from grader.cases import npz_bytes
    loss = np.array(1.2345678901234567)
    near = np.nextafter(loss, 2.0)
    arrays = {"expected:loss": loss, "expected:dx": np.array([[0.25, -1e-12], [np.inf, 3.0]])}
    assert generate.same_arrays(npz_bytes(arrays), npz_bytes(dict(arrays, **{"expected:loss": near})))
    off = dict(arrays, **{"expected:loss": loss * (1 + 1e-9)})
    assert not generate.same_arrays(npz_bytes(arrays), npz_bytes(off))
    flipped = dict(arrays, **{"expected:dx": np.array([[0.25, -1e-12], [-np.inf, 3.0]])})
    assert not generate.same_arrays(npz_bytes(arrays), npz_bytes(flipped))
    renamed = {"expected:loss": loss, "expected:dy": arrays["expected:dx"]}
    assert not generate.same_arrays(npz_bytes(arrays), npz_bytes(renamed))


def test_regenerating_keeps_a_case_file_that_differs_in_its_last_bits_and_replaces_a_changed_one(tmp_path):
    import hashlib

    import numpy as np

    from grader.cases import case_arrays, load_case_data, npz_bytes
    project = copy_assignment(tmp_path)
    name = "public/softmax_loss--large-scores.npz"
    path = project / "test_cases" / name
    arrays = {k: np.asarray(v) for k, v in case_arrays(load_case_data(path)).items()}
    arrays["expected:loss"] = np.nextafter(arrays["expected:loss"], np.inf)   # as another machine rounds
    other_machine = npz_bytes(arrays)
    path.write_bytes(other_machine)
    manifest = json.loads((project / "test_cases" / "manifest.json").read_text())
    manifest["files"][name] = hashlib.sha256(other_machine).hexdigest()
    (project / "test_cases" / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    generated = generate.generate(project)
    assert generated.files[f"test_cases/{name}"] == other_machine
    arrays["expected:loss"] = arrays["expected:loss"] * 1.5     # a reference that changed since
    changed = npz_bytes(arrays)
    path.write_bytes(changed)
    manifest["files"][name] = hashlib.sha256(changed).hexdigest()
    (project / "test_cases" / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    fresh = generate.generate(project).files[f"test_cases/{name}"]
    assert fresh != changed and fresh != other_machine
