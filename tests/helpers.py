"""Shared helpers for the project's tests: the fixture assignment, submissions built from the
reference, schema checks.

The tests grade with FIXTURE: the bundled assignment's code (reference/ and spec/) with the
fixed config tests/fixtures/cs231n.toml, generated into a temporary folder once per test
process. So they pass whatever an instructor sets in the bundled assignment.toml.
"""
import atexit
import json
import os
import struct
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURE_CONFIG = ROOT / "tests" / "fixtures" / "cs231n.toml"
# Gradescope's results.json schema: the one in ../shared (beside the checkout, as CI lays it
# out), or the copy in tests/fixtures, which a test keeps identical to it.
SHARED_SCHEMA = ROOT.parent / "shared" / "gradescope" / "results.schema.json"
SCHEMA = SHARED_SCHEMA if SHARED_SCHEMA.is_file() else ROOT / "tests" / "fixtures" / "results.schema.json"


def make_assignment(folder, config_text, source=ROOT):
    """An assignment folder with source's reference/ and spec/ and this config, generated."""
    from grader.authoring import generate
    folder = Path(folder)
    for name in ("reference", "spec"):
        shutil.copytree(source / name, folder / name, ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "assignment.toml").write_text(config_text)
    generate.write(generate.generate(folder), folder)
    return folder


def _fixture():
    folder = Path(tempfile.mkdtemp(prefix="bp-fixture-"))
    atexit.register(shutil.rmtree, folder, True)
    return make_assignment(folder / "cs231n", FIXTURE_CONFIG.read_text())


FIXTURE = _fixture()
CASES = FIXTURE / "test_cases"
MANIFEST = json.loads((CASES / "manifest.json").read_text(encoding="utf-8"))
CSC249_SOURCE = ROOT / "assignments" / "csc249"
_generated = {}


def csc249_fixture():
    """The class-based assignment (assignments/csc249's code) with the fixed config
    tests/fixtures/csc249.toml, generated once per test process when first asked for."""
    if "csc249" not in _generated:
        folder = Path(tempfile.mkdtemp(prefix="bp-fixture-"))
        atexit.register(shutil.rmtree, folder, True)
        _generated["csc249"] = make_assignment(folder / "csc249", (ROOT / "tests" / "fixtures" / "csc249.toml")
                                               .read_text(), source=CSC249_SOURCE)
    return _generated["csc249"]


def write_csc249_solution(directory, tie_rule="all"):
    """A correct, vectorized layer.py in student form, made from the class-based assignment's reference."""
    from grader.authoring.template import solution_version
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    source = (CSC249_SOURCE / "reference" / "layer.py").read_text()
    (directory / "layer.py").write_text(solution_version(source, "layer.py", tie_rule))
    return directory


def write_solution(directory, tie_rule="all"):
    """A correct submission in student form (top-level modules), made from the reference."""
    from grader.authoring.template import solution_version
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("layers.py", "fc_net.py"):
        source = (ROOT / "reference" / name).read_text()
        (directory / name).write_text(solution_version(source, name, tie_rule))
    return directory


def edit_submission(directory, filename, old, new):
    path = Path(directory) / filename
    text = path.read_text()
    assert old in text, f"{old!r} not found in {path}"
    path.write_text(text.replace(old, new, 1))


def validate_results(data):
    """Validate a results.json dict against Gradescope's schema (shared/gradescope)."""
    import jsonschema
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(data, schema)
    return data


def load_results(path):
    return validate_results(json.loads(Path(path).read_text()))


def build_package(out_dir, assignment=None):
    """The Gradescope package of an assignment (the fixture's, by default)."""
    from grader.authoring.package import build_package as build
    out, _ = build(assignment or FIXTURE, Path(out_dir) / "autograder.zip")
    return out


def autograder_tree(package_zip, submission_dir, metadata=None):
    """An /autograder-shaped tree in a world-traversable temporary folder, as Gradescope lays it out.

    The folder is 0755 on purpose: only run_autograder's own permission changes may
    keep the sandbox user out of source/ and results/.
    """
    root = Path(tempfile.mkdtemp(prefix="autograder-", dir="/tmp"))
    os.chmod(root, 0o755)
    (root / "source").mkdir()
    with zipfile.ZipFile(package_zip) as archive:
        archive.extractall(root / "source")
    for name in ("run_autograder", "setup.sh"):
        os.chmod(root / "source" / name, 0o755)
    shutil.copy(root / "source" / "run_autograder", root / "run_autograder")
    shutil.copytree(submission_dir, root / "submission")
    if metadata is not None:
        (root / "submission_metadata.json").write_text(json.dumps(metadata))
    return root


def run_autograder(root, python=None, timeout=600):
    env = dict(os.environ, AUTOGRADER_ROOT=str(root), AUTOGRADER_PYTHON=python or sys.executable)
    return subprocess.run(["bash", str(root / "run_autograder")], env=env, capture_output=True, text=True,
                          timeout=timeout)


def cases_with_settings(directory, **settings):
    """A copy of test_cases/ whose manifest has other limits (timeouts, budget).

    The manifest's hashes cover the .npz files only, so the copy stays valid.
    """
    target = Path(directory) / "test_cases"
    shutil.copytree(CASES, target)
    manifest = json.loads((target / "manifest.json").read_text())
    unknown = set(settings) - set(manifest["settings"])
    assert not unknown, f"unknown settings {unknown}"
    manifest["settings"].update(settings)
    (target / "manifest.json").write_text(json.dumps(manifest, indent=1, sort_keys=True))
    return target


def points_of(*functions):
    return sum(f["points"] for f in MANIFEST["functions"] if f["name"] in functions)


def processes_with(marker):
    """PIDs whose command line contains marker."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    if marker.encode() in cmdline.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def copy_assignment(directory, source=None):
    """A copy of an assignment folder (the fixture's, by default), generated files and all."""
    project = Path(directory) / "project"
    shutil.copytree(source or FIXTURE, project, ignore=shutil.ignore_patterns("__pycache__", "dist", "reports"))
    return project


def stale_project(directory):
    """A copy of the fixture assignment whose assignment.toml changed after its files were generated."""
    project = copy_assignment(directory)
    text = (project / "assignment.toml").read_text().replace('tie_rule = "all"', 'tie_rule = "split"')
    (project / "assignment.toml").write_text(text)
    return project


def overwrite_member_data(zip_path, member, change):
    """Replace the stored (compressed) bytes of one member of a .zip by change(bytes)."""
    with zipfile.ZipFile(zip_path) as archive:
        info = archive.getinfo(member)
    data = bytearray(zip_path.read_bytes())
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26:info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    data[start:start + info.compress_size] = change(bytes(data[start:start + info.compress_size]))
    zip_path.write_bytes(bytes(data))


def solution_zip(path, solution, layers="layers.py", fc_net="fc_net.py", extra=()):
    """A .zip of the solution's two files at the given names, plus extra (name, text) entries."""
    with zipfile.ZipFile(path, "w") as archive:
        archive.write(solution / "layers.py", layers)
        archive.write(solution / "fc_net.py", fc_net)
        for name, text in extra:
            archive.writestr(name, text)
    return path


def ready_zygote(cases, folder):
    """This process's zygote, loaded: started by a first grade (of a solution written into
    folder) unless a live one is there already."""
    import time
    from grader import runner
    from grader.engine import grade
    from grader.sandbox import kernel
    wanted = () if os.geteuid() != 0 or kernel.namespaces_refused() else tuple(kernel.zygote_prefix())
    for key, zygote in list(runner._zygotes.items()):
        # Gone: one that failed, one a submission ended, one for the other isolation (see test_hostile).
        if zygote is None or zygote.process.poll() is not None or key[1] != wanted:
            runner.discard_zygote(key)
            del runner._zygotes[key]
    if not any(runner._zygotes.values()):
        grade(write_solution(Path(folder) / "warm-up"), cases, zygote=True)
    started = [z for z in runner._zygotes.values() if z is not None]
    assert len(started) == 1 and started[0].ready(time.monotonic() + 60), started and started[0].refused
    return started[0]


def count_zygote_spawns(monkeypatch):
    """The pids of the workers this process's zygotes fork from now on, as a list that grows."""
    from grader import runner
    spawned = []
    original = runner.Zygote.spawn

    def counting(self, request, fds):
        child = original(self, request, fds)
        spawned.append(child.pid)
        return child
    monkeypatch.setattr(runner.Zygote, "spawn", counting)
    return spawned


def forget_zygotes():
    """End this process's zygotes, so that the next grade with zygote=True starts one."""
    from grader import runner
    for python in list(runner._zygotes):
        runner.discard_zygote(python)
    runner._zygotes.clear()
