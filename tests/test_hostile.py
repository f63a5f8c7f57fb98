"""Hostile and broken submissions: none scores above its honest score, and nothing leaks or lingers.

Every submission here is an honest base (the correct solution, or the untouched
template) plus one trick. For each, the test asserts the exact outcome: the
score (never above the honest score of the base), that the other functions are
still graded, that results.json is schema-valid, and that no process the
submission started is still running.

Tricks that need a different user to be stopped (reading the grader's files,
signalling the grader) are run where the tests run as root, as CI does: the
grader then runs student code as an unprivileged user. As a normal user those
tests are skipped: SECURITY.md explains what that mode cannot protect.
"""
import html
import json
import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from grader.engine import grade
from grader.outputs import write_outputs
from helpers import (CASES, FIXTURE, MANIFEST, ROOT, autograder_tree, build_package, cases_with_settings,
                     count_zygote_spawns,
                     forget_zygotes, load_results, points_of, processes_with, ready_zygote, run_autograder, write_solution)

ROOT_MODE = os.geteuid() == 0
needs_root = pytest.mark.skipif(not ROOT_MODE, reason="only a root grader can run student code as "
                                                      "another user; see SECURITY.md")


@pytest.fixture(scope="module")
def fast_cases(tmp_path_factory):
    """The real cases with short limits, so that hangs cost seconds."""
    return cases_with_settings(tmp_path_factory.mktemp("cases"), case_timeout=1.5, import_timeout=4.0,
                               total_budget=120.0)


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return build_package(tmp_path_factory.mktemp("package"))


def solution(tmp_path, layers_extra="", fc_net_extra="", replace=None):
    """The correct solution plus hostile code (appended, or replacing a function's body line)."""
    directory = write_solution(tmp_path / f"sub-{uuid.uuid4().hex[:8]}")
    for filename, extra in (("layers.py", layers_extra), ("fc_net.py", fc_net_extra)):
        if extra:
            with open(directory / filename, "a") as handle:
                handle.write("\n" + extra)
    for filename, old, new in replace or []:
        path = directory / filename
        text = path.read_text()
        assert old in text, old
        path.write_text(text.replace(old, new, 1))
    return directory


def template(tmp_path, layers_extra=""):
    directory = tmp_path / f"tpl-{uuid.uuid4().hex[:8]}"
    shutil.copytree(FIXTURE / "student_template", directory)
    if layers_extra:
        with open(directory / "layers.py", "a") as handle:
            handle.write("\n" + layers_extra)
    return directory


@pytest.fixture(params=["fresh worker", "forked worker"])
def graded(request, fast_cases, tmp_path_factory, monkeypatch):
    """grade(submission, cases, tmp_path, out=None): grade, write the outputs (into out, or a
    new folder under tmp_path), validate results.json; returns (grade, results dict).

    Each test runs twice: with a worker started as `grade` starts it, and with one forked
    from a zygote as `batch` does (the fixture checks that it was), so that every trick
    meets both ways of starting student code.
    """
    forked = request.param == "forked worker"
    spawned = []
    if forked:
        ready_zygote(fast_cases, tmp_path_factory.mktemp("zygote"))
        spawned = count_zygote_spawns(monkeypatch)

    def run(submission, cases, tmp_path, out=None):
        before = len(spawned)
        result = grade(submission, cases, zygote=forked)
        assert (len(spawned) > before) == forked, "the worker was not forked from the zygote"
        results, report = write_outputs(result, out or tmp_path / f"out-{uuid.uuid4().hex[:8]}")
        return result, load_results(results)
    return run


@pytest.fixture(scope="module", autouse=True)
def _no_zygote_after_the_module():
    yield
    forget_zygotes()


def scores(result):
    by = {}
    for case in result.cases:
        by[case.case.function] = by.get(case.case.function, 0) + case.score
    return {k: round(v, 2) for k, v in by.items()}


def assert_only_lost(result, *functions):
    """Exactly the named functions lose points; every other one keeps all of them."""
    possible = {f["name"]: f["points"] for f in result.functions}
    for function, score in scores(result).items():
        if function in functions:
            assert score < possible[function], f"{function} should lose points"
        else:
            assert score == possible[function], f"{function} lost points: {score}/{possible[function]}"


# Reading the expected values -----------------------------------------------------

THIEF = r'''
import os as _os, numpy as _np
_STOLEN = {}
_OPENED = []
def _steal():
    roots = ["/autograder", TREE]
    seen = 0
    for root in roots:
        for dirpath, dirs, files in _os.walk(root):
            seen += 1
            if seen > 20000:
                return
            for name in files:
                if name.endswith((".npz", ".json", ".toml", ".py")):
                    try:
                        open(_os.path.join(dirpath, name), "rb").close()
                        _OPENED.append(name)
                    except OSError:
                        pass
                if name.endswith(".npz"):
                    try:
                        with _np.load(_os.path.join(dirpath, name)) as npz:
                            if "input:x" in npz.files and "expected:out" in npz.files:
                                _STOLEN[npz["input:x"].tobytes()] = npz["expected:out"]
                    except Exception:
                        pass
_steal()
print("OPENED", len(_OPENED), _OPENED[:5])

def relu_forward(x):
    if x.tobytes() in _STOLEN:
        return _STOLEN[x.tobytes()], x
    raise NotImplementedError("relu_forward is not implemented yet")
'''


@needs_root
def test_code_that_searches_the_disk_for_expected_values_finds_none_on_gradescope(package, tmp_path):
    root = autograder_tree(package, template(tmp_path))
    thief = THIEF.replace("TREE", repr(str(root)))  # it knows exactly where the grader lives
    with open(root / "submission" / "layers.py", "a") as handle:
        handle.write(thief)
    try:
        assert run_autograder(root).returncode == 0
        data = load_results(root / "results" / "results.json")
        assert data["score"] == 0  # the template's honest score: nothing was stolen
        report = (root / "results" / "report.html").read_text()
        # It could open the three files of its own upload, and nothing of the grader's.
        # In namespaces even its own upload's copy (in this test's /tmp) is out of sight.
        found = "OPENED 0 []" if data["extra_data"]["isolation"] == "namespaces" else \
            "OPENED 3 ['layers.py', 'fc_net.py', 'gradient_check.py']"
        assert found in html.unescape(report)
        relu = [t for t in data["tests"] if t["tags"][0] == "relu_forward"]
        assert relu and all(t["score"] == 0 for t in relu)
    finally:
        shutil.rmtree(root)


PROC_READER = r'''
import os as _os
_FOUND = []
_parent = _os.getppid()
for _path in ("environ", "mem", "maps", "fd", "cwd", "root"):
    try:
        if _path == "fd":
            _FOUND.append(("fd", _os.listdir(f"/proc/{_parent}/fd")))
        elif _path == "mem":
            with open(f"/proc/{_parent}/mem", "rb") as _m:
                _FOUND.append(("mem", len(_m.read(16))))
        elif _path in ("cwd", "root"):
            _FOUND.append((_path, _os.listdir(f"/proc/{_parent}/{_path}")))
        else:
            with open(f"/proc/{_parent}/{_path}", "rb") as _f:
                _FOUND.append((_path, len(_f.read())))
    except Exception as _e:
        pass
print("READABLE:", [name for name, _ in _FOUND])
'''


@needs_root
def test_code_that_reads_the_graders_memory_and_environment_through_proc_gets_nothing(graded, fast_cases, tmp_path):
    result, data = graded(template(tmp_path, PROC_READER), fast_cases, tmp_path)
    assert "READABLE: []" in result.import_output
    assert data["score"] == 0


@pytest.fixture
def open_project():
    """A copy of the project (reference, config, cases, a built package) in a folder anyone may read,
    as an instructor's checkout often is."""
    import tempfile
    project = Path(tempfile.mkdtemp(prefix="bpg-project-", dir="/tmp"))
    os.chmod(project, 0o755)
    for name in ("reference", "spec", "test_cases"):
        shutil.copytree(FIXTURE / name, project / name)
    shutil.copy(FIXTURE / "assignment.toml", project)
    build_package(project / "dist")
    for path in [project, *project.rglob("*")]:  # as a fresh checkout has them, whatever this one has
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    try:
        yield project
    finally:
        shutil.rmtree(project)


REFERENCE_THIEF = r'''
import importlib.util as _util, os as _os, zipfile as _zipfile
_FOUND = []
try:
    _spec = _util.spec_from_file_location("_reference", PROJECT + "/reference/layers.py")
    _reference = _util.module_from_spec(_spec)
    _spec.loader.exec_module(_reference)
    relu_forward = _reference.relu_forward
    _FOUND.append("reference")
except Exception:
    pass
try:
    _zipfile.ZipFile(PROJECT + "/dist/autograder.zip").namelist()
    _FOUND.append("package")
except Exception:
    pass
try:
    _FOUND.append(len(_os.listdir(PROJECT)))
except Exception:
    pass
print("FOUND", _FOUND)
'''


@needs_root
def test_code_that_borrows_the_reference_or_reads_a_built_package_in_the_project_folder_gets_nothing(
        open_project, tmp_path):
    assert os.stat(open_project / "reference" / "layers.py").st_mode & 0o004  # readable to anyone, before
    thief = REFERENCE_THIEF.replace("PROJECT", repr(str(open_project)))
    result = grade(template(tmp_path, thief), open_project / "test_cases",
                   config_path=open_project / "assignment.toml", results_dir=tmp_path / "out")
    assert "FOUND []" in result.import_output
    assert result.score == 0  # the template's honest score
    assert os.stat(open_project).st_mode & 0o007 == 0
    assert result.notices == [f"removed other users' access to {open_project}, so that the sandbox user "
                              f"'bpgrader' cannot reach the reference solution, test cases or reports in it "
                              f"(chmod 755 to 750; `chmod o+rx {open_project}` gives it back)"]


@needs_root
def test_code_that_plants_links_in_an_output_folder_it_expects_cannot_redirect_the_graders_writes(tmp_path):
    import tempfile
    base = Path(tempfile.mkdtemp(prefix="bpg-out-", dir="/tmp"))
    os.chmod(base, 0o1777)  # like /tmp: anyone may create entries in it
    victim = base / "victim.txt"
    victim.write_text("precious")
    out = base / "out"  # does not exist yet: the student's code would create it as its own
    planter = f'''
import os as _os
try:
    _os.makedirs({str(out)!r}, exist_ok=True)
    for _name in ("report.html", "results.json"):
        _os.symlink({str(victim)!r}, _os.path.join({str(out)!r}, _name))
    print("PLANTED")
except OSError as _e:
    print("REFUSED", type(_e).__name__)
'''
    try:
        finished = subprocess.run([sys.executable, "-m", "grader", "grade", "--assignment", str(FIXTURE),
                                   str(template(tmp_path, planter)), "--out", str(out), "--quiet"], cwd=ROOT,
                                  capture_output=True, text=True)
        assert finished.returncode == 0, finished.stderr
        assert victim.read_text() == "precious"
        assert os.stat(out).st_uid == 0
        report = (out / "report.html").read_text()
        results = load_results(out / "results.json")
        if results["extra_data"]["isolation"] == "namespaces":
            assert "PLANTED" in report  # in its own fresh /tmp, which the grader never sees
        else:
            assert "REFUSED PermissionError" in report
        assert results["score"] == 0
    finally:
        shutil.rmtree(base)


@needs_root
def test_an_output_folder_owned_by_the_sandbox_user_is_refused(tmp_path):
    from grader.sandbox.user import ensure_user
    uid, gid = ensure_user("bpgrader")
    out = tmp_path / "out"
    out.mkdir()
    os.chown(out, uid, gid)
    finished = subprocess.run([sys.executable, "-m", "grader", "grade", "--assignment", str(FIXTURE),
                               str(template(tmp_path)), "--out",
                               str(out)], cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 2
    assert finished.stderr == (f"error: refusing to grade into {out}: {out} belongs to the sandbox user "
                               f"'bpgrader', whose code could redirect the grader's writes; use folders that "
                               f"only you can change\n")
    assert list(out.iterdir()) == []


# Forging results.json --------------------------------------------------------------

FORGER = r'''
import json as _json, os as _os, atexit as _atexit
_FORGED = {"score": 100, "tests": [{"name": "forged", "score": 100, "max_score": 100}]}
def _forge():
    targets = set()
    for root in ("/autograder", TREE, _os.getcwd(), _os.path.dirname(_os.getcwd())):
        for dirpath, dirs, files in _os.walk(root):
            if "results.json" in files or dirpath.endswith("results") or dirpath.endswith("out"):
                targets.add(_os.path.join(dirpath, "results.json"))
            if len(targets) > 200:
                break
    for target in targets:
        try:
            with open(target, "w") as f:
                _json.dump(_FORGED, f)
        except Exception:
            pass
_forge()
_atexit.register(_forge)
'''


def test_a_results_json_forged_at_import_and_at_exit_is_never_used(package, tmp_path):
    root = autograder_tree(package, template(tmp_path))
    with open(root / "submission" / "layers.py", "a") as handle:  # it knows where the grader lives
        handle.write(FORGER.replace("TREE", repr(str(root))))
    try:
        assert run_autograder(root).returncode == 0
        data = load_results(root / "results" / "results.json")
        assert data["score"] == 0
        assert "forged" not in [t["name"] for t in data["tests"]]
    finally:
        shutil.rmtree(root)


def test_a_results_json_forged_into_the_local_output_folder_is_replaced(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    forger = FORGER.replace('("/autograder", TREE, _os.getcwd(), _os.path.dirname(_os.getcwd()))',
                            f'({str(out)!r},)')
    submission = template(tmp_path, forger)
    finished = subprocess.run([sys.executable, "-m", "grader", "grade", "--assignment", str(FIXTURE),
                               str(submission), "--out", str(out),
                               "--quiet"], cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert load_results(out / "results.json")["score"] == 0


def test_a_forger_that_waits_in_a_detached_process_is_killed_before_results_are_written(graded, fast_cases,
                                                                                         tmp_path):
    marker = f"bpg-delayed-forger-{uuid.uuid4().hex}"
    out = tmp_path / "out"
    out.mkdir(mode=0o777)
    os.chmod(out, 0o777)  # writable to anyone, so only the kill can stop the forger
    daemon = rf'''
import os as _os, subprocess as _sp, sys as _sys
_code = "import time, json; time.sleep(2.5); open({str(out / 'results.json')!r}, 'w').write(json.dumps({{'score': 100}}))"
if _os.fork() == 0:
    _os.setsid()
    if _os.fork() == 0:
        _os.execv(_sys.executable, [_sys.executable, "-c", _code + "  # {marker}"])
    _os._exit(0)
'''
    result, data = graded(template(tmp_path, daemon), fast_cases, tmp_path, out)
    assert processes_with(marker) == []
    assert data["score"] == 0
    import time
    time.sleep(3)
    assert load_results(out / "results.json")["score"] == 0


# Damaging the grader -------------------------------------------------------------------

VANDAL = r'''
import os as _os
_DAMAGED = []
for _root in ("/autograder", "/tmp"):
    for _dirpath, _dirs, _files in _os.walk(_root):
        if "grader" in _dirpath or "test_cases" in _dirpath or "source" in _dirpath:
            for _name in _files:
                _path = _os.path.join(_dirpath, _name)
                try:
                    with open(_path, "w") as _f:
                        _f.write("raise SystemExit('vandalised')")
                    _DAMAGED.append(_path)
                except Exception:
                    pass
                try:
                    _os.unlink(_path)
                    _DAMAGED.append(_path)
                except Exception:
                    pass
print("DAMAGED", len(_DAMAGED))
'''


@needs_root
def test_code_that_deletes_or_overwrites_the_graders_files_cannot_touch_them(package, tmp_path):
    root = autograder_tree(package, solution(tmp_path, VANDAL))
    before = {p: p.read_bytes() for p in (root / "source").rglob("*") if p.is_file()}
    try:
        assert run_autograder(root).returncode == 0
        data = load_results(root / "results" / "results.json")
        assert data["score"] == 100
        after = {p: p.read_bytes() for p in (root / "source").rglob("*") if p.is_file()}
        assert after == before
    finally:
        shutil.rmtree(root)


# Exits ----------------------------------------------------------------------------------

def test_sys_exit_at_import_of_fc_net_costs_only_the_network(graded, fast_cases, tmp_path):
    result, data = graded(solution(tmp_path, fc_net_extra="import sys\nsys.exit(0)\n"), fast_cases, tmp_path)
    assert data["score"] == 100 - points_of("FullyConnectedNet.__init__", "FullyConnectedNet.loss")
    assert any("fc_net.py: importing it raised SystemExit" in p for p in result.problems)


def test_os_exit_at_import_of_fc_net_costs_only_the_network(graded, fast_cases, tmp_path):
    result, data = graded(solution(tmp_path, fc_net_extra="import os\nos._exit(0)\n"), fast_cases, tmp_path)
    assert data["score"] == 100 - points_of("FullyConnectedNet.__init__", "FullyConnectedNet.loss")
    assert any("importing it ended the process (exit status 0)" in p for p in result.problems)


def test_sys_exit_in_a_call_costs_only_that_function(graded, fast_cases, tmp_path):
    submission = solution(tmp_path, replace=[("layers.py", "    out = None\n    stride, pad",
                                              "    import sys; sys.exit(0)\n    out = None\n    stride, pad")])
    result, data = graded(submission, fast_cases, tmp_path)
    assert_only_lost(result, "conv_forward")
    assert data["score"] == 100 - points_of("conv_forward")
    conv = [c for c in result.cases if c.case.function == "conv_forward"]
    assert all(c.summary.startswith("your code called sys.exit()") for c in conv)


def test_os_exit_in_a_call_costs_only_that_function(graded, fast_cases, tmp_path):
    submission = solution(tmp_path, replace=[("layers.py", "    db = dout.sum(axis=(0, 2, 3))",
                                              "    import os; os._exit(3)")])
    result, data = graded(submission, fast_cases, tmp_path)
    assert_only_lost(result, "conv_backward")
    assert all(c.status == "crashed" and "exit status 3" in c.summary
               for c in result.cases if c.case.function == "conv_backward")


# Tampering with comparisons -------------------------------------------------------------

def test_monkeypatching_numpy_and_unittest_does_not_change_any_verdict(graded, fast_cases, tmp_path):
    patcher = r'''
import numpy as _np, unittest as _ut
_np.allclose = lambda *a, **k: True
_np.array_equal = lambda *a, **k: True
_np.isclose = lambda a, b, *x, **k: _np.ones(_np.shape(a), bool)
_np.testing.assert_allclose = lambda *a, **k: None
_ut.TestCase.assertEqual = lambda *a, **k: None
_ut.TestCase.run = lambda self, result=None: None

def leaky_relu_forward(x, negative_slope=0.01):
    return _np.zeros_like(x) + 7.0, (x, negative_slope)
'''
    result, data = graded(solution(tmp_path, patcher), fast_cases, tmp_path)
    assert_only_lost(result, "leaky_relu_forward")
    assert data["score"] == 100 - points_of("leaky_relu_forward")


def test_an_ndarray_subclass_that_claims_equality_is_graded_as_plain_data(graded, fast_cases, tmp_path):
    liar = r'''
class _Liar(np.ndarray):
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array__(self, *a, **k): return np.asarray(self.view(np.ndarray) * 0 + 1)
    def all(self, *a, **k): return True
    def tolist(self): return []

def leaky_relu_forward(x, negative_slope=0.01):
    return (np.zeros_like(x) - 3).view(_Liar), (x, negative_slope)
'''
    result, data = graded(solution(tmp_path, liar), fast_cases, tmp_path)
    assert_only_lost(result, "leaky_relu_forward")
    leaky = [c for c in result.cases if c.case.function == "leaky_relu_forward"]
    assert any("_Liar" in warning and "subclass of numpy.ndarray" in warning for warning in leaky[0].warnings)


def test_an_object_that_lies_in_comparisons_is_not_an_array(graded, fast_cases, tmp_path):
    liar = r'''
class _Everything:
    shape = (4, 3)
    dtype = np.dtype("float64")
    def __eq__(self, other): return True
    def __array__(self, *a, **k): raise TypeError("no")
    def __float__(self): return 0.0

def affine_forward(x, w, b):
    return _Everything(), (x, w, b)
'''
    result, data = graded(solution(tmp_path, liar), fast_cases, tmp_path)
    affine = [c for c in result.cases if c.case.function == "affine_forward"]
    assert all(c.score == 0 and c.summary.startswith("out is a _Everything (") and
               c.summary.endswith("); expected a NumPy array") for c in affine)
    assert data["score"] == 100 - points_of("affine_forward", "FullyConnectedNet.loss") \
        + sum(c.score for c in result.cases if c.case.function == "FullyConnectedNet.loss")


def test_scavenging_the_garbage_collector_finds_no_expected_values(graded, fast_cases, tmp_path):
    scavenger = r'''
import gc as _gc
def relu_forward(x):
    candidates = [o for o in _gc.get_objects() if isinstance(o, np.ndarray) and o.shape == x.shape
                  and o is not x and not np.array_equal(o, x)]
    if candidates:
        return candidates[0], x
    raise NotImplementedError("relu_forward is not implemented yet")
'''
    result, data = graded(template(tmp_path, scavenger), fast_cases, tmp_path)
    assert data["score"] == 0


# Resources ---------------------------------------------------------------------------------

def test_a_memory_bomb_costs_only_its_function(graded, fast_cases, tmp_path):
    submission = solution(tmp_path, replace=[("layers.py", "    out = _pool_windows(x, ph, pw, stride).mean(",
                                              "    hog = np.ones((1 << 17, 1 << 17))\n"
                                              "    out = _pool_windows(x, ph, pw, stride).mean(")])
    result, data = graded(submission, fast_cases, tmp_path)
    assert_only_lost(result, "avg_pool_forward")
    assert all("ran out of memory" in c.summary for c in result.cases if c.case.function == "avg_pool_forward")


def test_a_python_list_that_grows_forever_runs_out_of_memory_not_time(graded, fast_cases, tmp_path):
    submission = solution(tmp_path, replace=[("layers.py", "    out = np.where(x > 0, x, 0.0)",
                                              "    hog = []\n    while True:\n        hog.append(bytearray(1 << 20))")])
    result, data = graded(submission, fast_cases, tmp_path)
    assert_only_lost(result, "relu_forward", "FullyConnectedNet.loss")
    relu = [c for c in result.cases if c.case.function == "relu_forward"]
    assert all(c.status in ("error", "crashed") and "memory" in c.summary for c in relu)


def test_long_lived_children_and_detached_daemons_are_all_killed(graded, fast_cases, tmp_path):
    marker = f"bpg-child-{uuid.uuid4().hex}"
    spawner = rf'''
import os as _os, subprocess as _sp, sys as _sys
try:  # (as the sandbox user, the process limit refuses them: issue 18)
    for _i in range(3):
        _sp.Popen([_sys.executable, "-c", "import time; time.sleep(600)  # {marker}"], start_new_session=True)
    if _os.fork() == 0:
        _os.setsid()
        if _os.fork() == 0:
            _os.execv(_sys.executable, [_sys.executable, "-c", "import time; time.sleep(600)  # {marker}"])
        _os._exit(0)
except OSError:
    pass
'''
    result, data = graded(solution(tmp_path, spawner), fast_cases, tmp_path)
    assert data["score"] == 100
    assert processes_with(marker) == []


def test_a_fork_bomb_is_contained_and_leaves_nothing_running(graded, fast_cases, tmp_path):
    marker = f"bpg-bomb-{uuid.uuid4().hex}"
    bomb = rf'''
    import os, time
    for _ in range(2000):
        try:
            if os.fork() == 0:
                os.execv("/bin/sleep", ["/bin/sleep", "600", "{marker}"])
        except OSError:
            break
    while True:
        time.sleep(1)
'''
    submission = solution(tmp_path, replace=[("layers.py", "    out = np.where(x > 0, x, 0.0)\n",
                                              bomb + "    out = np.where(x > 0, x, 0.0)\n")])
    result, data = graded(submission, fast_cases, tmp_path)
    assert_only_lost(result, "relu_forward", "FullyConnectedNet.loss")
    assert processes_with(marker) == []


# Signals, hangs and floods --------------------------------------------------------------------

@needs_root
def test_signal_tricks_cannot_stop_the_grader_or_the_kill(graded, fast_cases, tmp_path):
    tricks = r'''
import os as _os, signal as _signal
for _sig in (_signal.SIGTERM, _signal.SIGINT, _signal.SIGHUP, _signal.SIGUSR1):
    _signal.signal(_sig, _signal.SIG_IGN)
for _target in (_os.getppid(), -_os.getpgid(0), 1):
    for _sig in (_signal.SIGTERM, _signal.SIGKILL, _signal.SIGSTOP):
        try:
            _os.kill(_target, _sig) if _target > 0 else None
        except Exception:
            pass
'''
    submission = solution(tmp_path, tricks, replace=[("layers.py", "    out = np.where(x > 0, x, negative_slope * x)",
                                                      "    while True:\n        pass")])
    result, data = graded(submission, fast_cases, tmp_path)
    assert_only_lost(result, "leaky_relu_forward")
    assert {c.status for c in result.cases if c.case.function == "leaky_relu_forward"} <= {"timeout", "not-run"}


def test_a_module_that_sleeps_forever_at_import_is_cut_off_and_the_rest_is_graded(graded, fast_cases, tmp_path):
    result, data = graded(solution(tmp_path, fc_net_extra="import time\ntime.sleep(10**6)\n"), fast_cases, tmp_path)
    assert data["score"] == 100 - points_of("FullyConnectedNet.__init__", "FullyConnectedNet.loss")
    assert any("importing it took too long" in p for p in result.problems)
    assert result.seconds < 30


def test_an_infinite_loop_that_ignores_sigterm_is_killed_on_time(graded, fast_cases, tmp_path):
    submission = solution(tmp_path, replace=[("layers.py", "    out = _pool_windows(x, ph, pw, stride).max(",
                                              "    import signal\n    signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                              "    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                                              "    while True:\n        pass\n"
                                              "    out = _pool_windows(x, ph, pw, stride).max(")])
    result, data = graded(submission, fast_cases, tmp_path)
    assert_only_lost(result, "max_pool_forward")
    statuses = [c.status for c in result.cases if c.case.function == "max_pool_forward"]
    assert statuses == ["timeout", "timeout"] + ["not-run"] * (len(statuses) - 2)
    assert result.seconds < 20


PEEKER = r'''
import os as _os, select as _select, stat as _stat, time as _time
_relu_forward = relu_forward
def relu_forward(x):
    _time.sleep(0.05)  # time for a grader that sent the next case early to have sent it
    control_r, control_w = _os.pipe()
    _os.write(control_w, b"x")
    if _select.select([control_r], [], [], 0)[0]:
        print("CONTROL: a pipe holding data is seen")
    _os.close(control_r); _os.close(control_w)
    for fd in range(3, 256):
        try:
            if _stat.S_ISFIFO(_os.fstat(fd).st_mode) and _select.select([fd], [], [], 0)[0]:
                print("PEEKED: pipe", fd, "holds data")
        except OSError:
            pass
    return _relu_forward(x)
'''


def test_while_a_case_runs_no_later_case_is_waiting_in_the_workers_pipes(graded, fast_cases, tmp_path):
    """Each case is scored while the worker computes the next, but the next is sent only
    after this one's answer: a call never sees another case's inputs."""
    result, data = graded(solution(tmp_path, PEEKER), fast_cases, tmp_path)
    relu = [c for c in result.cases if c.case.function == "relu_forward"]
    assert relu and all(c.passed for c in relu)
    for case in relu:
        assert "CONTROL: a pipe holding data is seen" in case.output
        assert "PEEKED" not in case.output


STALLER = r'''
import sys as _sys, fcntl as _fcntl, time as _time, __main__ as _main
_conv_forward = conv_forward
_calls = [0]
def conv_forward(x, w, b, conv_param):
    _calls[0] += 1
    if _calls[0] == VISIBLE:  # the last visible conv_forward case; the next case's inputs are larger than a page
        _fcntl.fcntl(int(_sys.argv[1]), 1031, 4096)  # F_SETPIPE_SZ: the request pipe holds one page
        def _stall(*args, **kwargs):
            while True:
                _time.sleep(3600)
        _main.read_message = _stall  # the worker's loop stops reading requests
    return _conv_forward(x, w, b, conv_param)
'''


def test_a_worker_that_stops_reading_its_requests_costs_the_next_case_a_timeout_not_a_hang(graded, fast_cases,
                                                                                           tmp_path):
    visible = sum(1 for c in MANIFEST["cases"] if c["function"] == "conv_forward" and c["visibility"] == "public")
    result, data = graded(solution(tmp_path, STALLER.replace("VISIBLE", str(visible))), fast_cases, tmp_path)
    conv = [c.case.function for c in result.cases].index("conv_forward")
    stalled = next(c for c in result.cases if c.case.function == "conv_backward" and not c.case.hidden)
    assert conv >= 0 and stalled.status == "timeout"  # (hidden cases run later, in a fresh worker)
    assert [c.status for c in result.cases if c is not stalled] == ["passed"] * (len(result.cases) - 1)
    assert result.seconds < 20


def test_an_output_flood_is_bounded_in_every_output(graded, fast_cases, tmp_path):
    flood = r'''
import sys as _sys
_sys.stdout.write("<flood at import>" * 50000)
'''
    submission = solution(tmp_path, flood, replace=[("layers.py", "    out = np.where(x > 0, x, 0.0)",
                                                     "    for _ in range(200000):\n"
                                                     "        print('flood ' * 20)\n"
                                                     "    out = np.where(x > 0, x, 0.0)")])
    out = tmp_path / "flood-out"
    result, data = graded(submission, fast_cases, tmp_path, out)
    assert (out / "results.json").stat().st_size < 200_000
    assert (out / "report.html").stat().st_size < 1_000_000
    assert len(result.import_output) <= 11 * 1024
    relu = [c for c in result.cases if c.case.function == "relu_forward"]
    # Past the cap, output is dropped and counted: never an error in the student's code (issue 18).
    assert all(c.passed and "more bytes were dropped: output stops at 8 MB" in c.output for c in relu)
    assert all(len(c.output) <= 11 * 1024 for c in result.cases)
    assert data["score"] == 100 - sum(c.possible - c.score for c in result.cases
                                      if c.case.function == "FullyConnectedNet.loss")


def test_garbage_written_to_the_graders_channel_costs_only_that_call(graded, fast_cases, tmp_path):
    writer = r'''
def relu_backward(dout, cache):
    import os
    for fd in map(int, os.listdir("/proc/self/fd")):
        if fd > 2:
            try:
                os.write(fd, b"\xff\xff\xff\xffgarbage")
            except OSError:
                pass
    return np.where(cache > 0, dout, 0.0)
'''
    result, data = graded(solution(tmp_path, writer), fast_cases, tmp_path)
    assert_only_lost(result, "relu_backward", "FullyConnectedNet.loss")
    assert all(c.status == "crashed" for c in result.cases if c.case.function == "relu_backward")


def test_the_process_table_from_ps_agrees_with_proc():
    """The fallback for systems without /proc (macOS) reads the same processes."""
    from grader.sandbox.processes import _process_table, _ps_table
    me = os.getpid()
    proc, ps = _process_table(), _ps_table()
    assert ps[me] == proc[me] == (os.getppid(), os.getuid(), False)
    assert ps[os.getppid()] == proc[os.getppid()]



def test_the_tree_only_process_table_has_the_same_parents():
    from grader.sandbox.processes import _process_table
    me = os.getpid()
    tree = _process_table(owners=False)
    assert tree[me] == (os.getppid(), None, False)
    assert tree[os.getppid()][0] == _process_table()[os.getppid()][0]


@needs_root
def test_the_process_limit_counts_every_thread_of_the_users_processes():
    """Threads count against RLIMIT_NPROC too. Measured in a child that became a user of its
    own, so that no other process of the machine is counted."""
    import threading

    from grader.sandbox.processes import _user_process_count
    pid = os.fork()
    if pid == 0:
        code = 99
        try:
            os.setgid(64999)
            os.setuid(64999)
            release = threading.Event()
            threads = [threading.Thread(target=release.wait) for _ in range(3)]
            alone = _user_process_count()
            for thread in threads:
                thread.start()
            code = 10 * alone + _user_process_count()
            release.set()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 14  # 1 process, then its 4 threads


@needs_root
def test_a_sandbox_user_process_that_makes_itself_non_dumpable_is_still_found_and_killed(tmp_path):
    """Such a process's files in /proc turn over to root; its /proc folder keeps its user."""
    from grader.sandbox import Sandbox
    from grader.sandbox.processes import _process_table, kill_user_processes
    from grader.sandbox.user import ensure_user
    uid, gid = ensure_user("bpgrader")
    as_user = dict(user=uid, group=gid, extra_groups=[], cwd="/")

    def runnable(python):
        try:
            return subprocess.run([python, "-I", "-S", "-c", "pass"], **as_user).returncode == 0
        except OSError:  # e.g. an interpreter under /root
            return False

    python = next((p for p in (sys.executable, "/usr/bin/python3", "/usr/local/bin/python3") if runnable(p)), None)
    if python is None:
        pytest.skip("no Python here that the sandbox user may run")
    hider = subprocess.Popen([python, "-I", "-S", "-c",
                              "import ctypes, sys, time\n"
                              "ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0\n"
                              "print('hidden', flush=True)\n"
                              "time.sleep(60)"],
                             **as_user, stdout=subprocess.PIPE)
    try:
        assert hider.stdout.readline() == b"hidden\n"
        assert os.stat(f"/proc/{hider.pid}/stat").st_uid == 0  # the file no longer names the user
        assert _process_table()[hider.pid][1] == uid
        kill_user_processes(Sandbox(tmp_path, tmp_path, sys.executable, 512, 60, uid, gid, "bpgrader"))
        assert not os.path.exists(f"/proc/{hider.pid}")  # killed, and reaped by the sweep
    finally:
        hider.kill()
        hider.wait()


@needs_root
def test_an_output_folder_inside_a_folder_anyone_may_change_is_refused(tmp_path):
    import tempfile
    base = Path(tempfile.mkdtemp(prefix="bpg-open-", dir="/tmp"))
    os.chmod(base, 0o777)  # not sticky: the sandbox user could rename the output folder away
    try:
        finished = subprocess.run([sys.executable, "-m", "grader", "grade", "--assignment", str(FIXTURE),
                                   str(template(tmp_path)), "--out",
                                   str(base / "out")], cwd=ROOT, capture_output=True, text=True)
        assert finished.returncode == 2
        assert finished.stderr == (f"error: refusing to grade into {base / 'out'}: the sandbox user "
                                   f"'bpgrader' may rename entries in {base}, and so swap the folder; use "
                                   f"folders that only you can change\n")
    finally:
        shutil.rmtree(base)


@needs_root
def test_a_package_left_in_a_shared_working_folder_is_never_imported_by_the_grader(tmp_path):
    import tempfile
    from grader.sandbox.user import ensure_user
    uid, gid = ensure_user("bpgrader")
    shared = Path(tempfile.mkdtemp(prefix="bpg-shared-", dir="/tmp"))
    os.chmod(shared, 0o1777)  # like /tmp, where an earlier submission could leave a package
    marker = shared / "imported"
    planted = shared / "jinja2"
    planted.mkdir()
    (planted / "__init__.py").write_text(f"open({str(marker)!r}, 'w').close()\nraise ImportError('planted')\n")
    for path in (planted, planted / "__init__.py"):
        os.chown(path, uid, gid)
    try:
        finished = subprocess.run([sys.executable, "-m", "grader", "grade", "--assignment", str(FIXTURE),
                                   str(write_solution(tmp_path / "s")),
                                   "--cases", str(CASES), "--out", str(tmp_path / "out")],
                                  cwd=shared, capture_output=True, text=True)
        assert finished.returncode == 0, finished.stderr
        assert not marker.exists()
        assert load_results(tmp_path / "out" / "results.json")["score"] == 100
    finally:
        shutil.rmtree(shared)


@needs_root
def test_a_package_left_in_a_shared_working_folder_is_never_imported_by_batchs_main_process(tmp_path):
    """Finding 3 where the review found it: `batch`, run from a folder like /tmp, where a sandbox
    user left `jinja2`, `markupsafe` and `platform`. In `grade`, open_sandbox also drops such
    folders (a second layer); batch's main process opens no sandbox, so python -m grader's
    clean_import_path alone keeps them out."""
    import tempfile
    from grader.sandbox.user import ensure_user
    uid, gid = ensure_user("bpgrader")
    shared = Path(tempfile.mkdtemp(prefix="bpg-shared-", dir="/tmp"))
    os.chmod(shared, 0o1777)
    marker = shared / "imported"
    planted = [shared / "jinja2" / "__init__.py", shared / "markupsafe" / "__init__.py", shared / "platform.py"]
    for path in planted:
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"open({str(marker)!r}, 'a').write({path.parent.name!r} + ' ')\n"
                        f"raise ImportError('planted')\n")
        for owned in {path, path.parent} - {shared}:
            os.chown(owned, uid, gid)
    klass = tmp_path / "class"
    for name in ("a", "b", "c"):
        write_solution(klass / name)
    try:
        finished = subprocess.run([sys.executable, "-m", "grader", "batch", "--assignment", str(FIXTURE),
                                   str(klass), "--cases", str(CASES), "--out", str(tmp_path / "out"),
                                   "--jobs", "2"], cwd=shared, capture_output=True, text=True)
        assert finished.returncode == 0, finished.stderr
        assert not marker.exists(), marker.read_text()
        for name in ("a", "b", "c"):
            assert load_results(tmp_path / "out" / "students" / name / "results.json")["score"] == 100
    finally:
        shutil.rmtree(shared)


def test_batchs_main_process_imports_nothing_once_student_code_has_run(tmp_path):
    """batch loads every module its main process needs before the first grade starts
    (pool._load_everything): an import after that could find a module a sandbox user left."""
    klass = tmp_path / "class"
    for name in ("a", "b"):
        write_solution(klass / name)
    script = f'''
import sys
from grader.batch import run_batch
snapshot = []
class Progress:
    def start(self, total, reused):
        pass
    def advance(self, outcome):
        if not snapshot:
            snapshot.append(set(sys.modules))
outcomes, _ = run_batch({str(klass)!r}, {str(tmp_path / "out")!r}, {str(CASES)!r}, jobs=2, progress=Progress())
assert [o.score for o in outcomes] == [100, 100], outcomes
print("LATE", sorted(set(sys.modules) - snapshot[0]))
'''
    finished = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.strip() == "LATE []"


# Sandbox, second round (issue 18): one test per class of attack, on both isolation paths ---------

@pytest.fixture(params=["namespaces", "user"])
def isolation(request, monkeypatch):
    """Each test runs with the kernel's namespaces (bwrap) and with the fallback that a container
    without them gets (forced here with BPGRADER_ISOLATION=user)."""
    from grader.sandbox import kernel
    monkeypatch.setenv(kernel.ISOLATION_SETTING, "user" if request.param == "user" else "namespaces")
    if request.param == "namespaces" and ROOT_MODE:
        try:
            kernel.namespaces_refused()
        except Exception as exc:
            pytest.skip(f"no namespaces here: {exc}")
    return request.param


def sandbox_owned(places=("/tmp", "/var/tmp", "/dev/shm")):
    """Entries owned by any sandbox user directly in the shared temporary folders."""
    from grader.sandbox.files import owned_files
    from grader.sandbox.user import sandbox_uids
    return [path for uid in sandbox_uids() for path in owned_files(uid, places)]


@needs_root
def test_a_set_user_id_copy_of_python_neither_works_nor_survives_the_grade(isolation, fast_cases, tmp_path):
    marker = f"bpg-suid-{uuid.uuid4().hex[:8]}"
    copier = rf'''
import os as _os, shutil as _sh, subprocess as _sp, sys as _sys
for _folder in ("/tmp", "/var/tmp", "/dev/shm", _os.getcwd()):
    try:
        _copy = _os.path.join(_folder, "{marker}")
        _sh.copy(_sys.executable, _copy)
        _os.chmod(_copy, 0o4755)
        print("PLANTED", _folder)
    except OSError as _e:
        print("REFUSED", _folder, type(_e).__name__)
'''
    result = grade(solution(tmp_path, copier), fast_cases)
    assert result.isolation == ("namespaces" if isolation == "namespaces" else "sandbox user")
    assert "PLANTED /tmp" in result.import_output  # the attack ran
    assert sandbox_owned() == [] and not any(Path(f, marker).exists() for f in ("/tmp", "/var/tmp", "/dev/shm"))
    assert result.score == 100


@needs_root
def test_a_set_user_id_copy_another_sandbox_user_left_gives_no_one_its_rights(isolation, graded, fast_cases,
                                                                               tmp_path):
    """The other half of "neither works nor survives": a set-user-ID program that a classmate's code
    left (here `id`, marked for the user nobody by this test) runs with the worker's own rights, on
    both isolation paths and both ways of starting a worker. In the fallback only no_new_privs
    (worker.apply_limits) stops it: in a batch, a classmate's copy exists while its grade runs,
    before any sweep can remove it."""
    import tempfile
    source = shutil.which("id")
    if source is None:
        pytest.skip("no `id` program here")
    folder = Path(tempfile.mkdtemp(prefix="bpg-suid-", dir="/run"))  # swept by no one; read-only in bwrap
    os.chmod(folder, 0o755)
    copy = folder / "id"
    shutil.copy(source, copy)
    os.chown(copy, 65534, 65534)
    os.chmod(copy, 0o4755)
    runner = (f"import os as _os\n"
              f"print('EUID BEFORE', _os.geteuid(), flush=True)\n"
              f"_os.execv({str(copy)!r}, [{str(copy)!r}, '-u'])  # (the worker ends here)\n")
    try:
        result, data = graded(solution(tmp_path, fc_net_extra=runner), fast_cases, tmp_path)
        found = re.search(r"EUID BEFORE (\d+)\n(\d+)", result.import_output)
        assert found, result.import_output  # the attack ran: `id -u` printed the uid it ran with
        assert found.group(2) == found.group(1) != "65534"
    finally:
        shutil.rmtree(folder)


def test_root_installs_a_submission_without_following_a_planted_link(tmp_path):
    from grader.sandbox import Sandbox
    from grader.sandbox.install import install_files
    victim = tmp_path / "victim"
    victim.write_text("precious")
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "layers.py").symlink_to(victim)
    box = Sandbox(tmp_path, workdir, sys.executable, 512, 60)
    notes = install_files(box, {"layers.py": b"print('hi')\n", "fc_net.py": b"pass\n"})
    assert victim.read_text() == "precious" and (workdir / "layers.py").is_symlink()
    assert notes == ["layers.py was left out: it could not be placed beside the other files (File exists)"]


@needs_root
def test_the_working_folder_stays_roots_until_the_files_are_in_it(isolation):
    """Issue 18: the private folder is root's (0700) from open_sandbox until install_files has
    written every file, in the first phase and in the hidden phase's new folder, so that no code
    of any sandbox user can plant a link in it first. install_files then hands it over."""
    import stat
    from grader.sandbox import open_sandbox
    from grader.sandbox.install import install_files
    box = open_sandbox()
    try:
        for phase in ("visible", "hidden"):
            info = os.lstat(box.workdir)
            assert (info.st_uid, stat.S_IMODE(info.st_mode)) == (0, 0o700), phase
            install_files(box, {"layers.py": b"x = 1\n", "pkg/helper.py": b"y = 2\n"})
            assert {os.lstat(path).st_uid for path in (box.workdir, box.workdir / "pkg",
                                                       box.workdir / "pkg" / "helper.py")} == {box.uid}
            if not box.renew_workdir():  # (in namespaces the hidden phase keeps the folder)
                break
    finally:
        box.close()


def test_a_write_the_disk_cannot_take_is_the_graders_error_not_a_syntax_error(tmp_path):
    from grader.sandbox import Sandbox
    from grader.sandbox.install import InstallError, install_files
    box = Sandbox(tmp_path, tmp_path, sys.executable, 512, 60)
    pid = os.fork()
    if pid == 0:  # a disk with 100 bytes left, as the file-size limit makes it
        import resource
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))
        try:
            install_files(box, {"layers.py": b"x = (\n" * 1000})
            os._exit(1)
        except InstallError as error:
            os._exit(7 if "could not copy layers.py into the sandbox" in str(error) else 2)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 7


class _FullDisk:
    """The os module, but for a write: the disk takes no more."""

    def __getattr__(self, name):
        return getattr(os, name)

    @staticmethod
    def write(fd, data):
        import errno
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_when_the_files_go_in_is_the_graders_error_in_grade_and_batch(isolation, fast_cases,
                                                                                  tmp_path, monkeypatch):
    """Finding 5, end to end: when root's copy of the files fails, `grade` and `batch` report the
    grader's error ("Autograder error" in a valid results.json), never the student's code. The
    old behaviour gave each student 0/100 with "SyntaxError: '(' was never closed"."""
    from grader.batch import run_batch
    from grader.cli import main
    from grader.sandbox import install
    monkeypatch.setattr(install, "os", _FullDisk())  # (batch's pool processes are forked: they see it too)
    out = tmp_path / "out"
    assert main(["grade", str(write_solution(tmp_path / "class" / "s")), "--cases", str(fast_cases), "--out",
                 str(out), "--quiet"]) == 1
    results = load_results(out / "results.json")
    assert results["score"] == 0 and "could not copy" in results["output"]
    assert "SyntaxError" not in json.dumps(results)
    outcomes, _ = run_batch(tmp_path / "class", tmp_path / "batch", fast_cases, jobs=1)
    assert [(o.status, "could not copy" in (o.error or "")) for o in outcomes] == [("error", True)]
    assert "could not copy" in load_results(tmp_path / "batch" / "students" / "s" / "results.json")["output"]


@needs_root
def test_in_namespaces_a_worker_cannot_write_more_than_its_temporary_folders_hold(graded, fast_cases, tmp_path,
                                                                                   monkeypatch):
    """Finding 5 in namespaces: each of /tmp, /var/tmp and /dev/shm is a tmpfs of its own, capped
    at kernel.TMPFS_BYTES, so 8 MB files (RLIMIT_FSIZE allows each) cannot fill a disk another job
    shares, however many there are. (The fallback has no such cap: SECURITY.md, threat 5.)"""
    from grader.sandbox import kernel
    monkeypatch.setenv(kernel.ISOLATION_SETTING, "namespaces")
    try:
        kernel.namespaces_refused()
    except Exception as exc:
        pytest.skip(f"no namespaces here: {exc}")
    filler = r'''
import os as _os
for _folder in ("/tmp", "/var/tmp", "/dev/shm"):
    for _i in range(12):
        try:
            with open(_os.path.join(_folder, f"bpg-cap-{_i}"), "wb") as _f:
                _f.write(b"x" * (8 << 20))
        except OSError:
            break
    _total = sum(_os.path.getsize(_os.path.join(_folder, _n)) for _n in _os.listdir(_folder)
                 if _n.startswith("bpg-cap-"))
    print("HELD", _folder, _total)
'''
    result, data = graded(solution(tmp_path, filler), fast_cases, tmp_path)
    held = re.findall(r"HELD (\S+) (\d+)", result.import_output)
    assert [folder for folder, _ in held] == ["/tmp", "/var/tmp", "/dev/shm"], result.import_output
    assert all(0 < int(size) <= kernel.TMPFS_BYTES for _, size in held), held
    assert data["score"] == 100 and sandbox_owned() == []


CLASSMATE_ATTACKER = r'''
import os as _os, signal as _signal
_me = _os.getpid()
_killed, _read = 0, 0
for _entry in _os.listdir("/proc"):
    if _entry.isdigit() and int(_entry) != _me:
        try:
            _os.kill(int(_entry), _signal.SIGKILL)
            _killed += 1
        except OSError:
            pass
        try:
            open(f"/proc/{_entry}/cwd/layers.py").read()
            _read += 1
        except OSError:
            pass
print("KILLED", _killed, "READ", _read)
'''


@needs_root
def test_a_submission_cannot_read_or_kill_a_classmates_grade_in_the_same_batch(isolation, fast_cases, tmp_path):
    from grader.batch import run_batch
    klass = tmp_path / "class"
    for name in ("a-honest", "b-honest", "c-honest"):
        write_solution(klass / name)
    attacker = solution(tmp_path, CLASSMATE_ATTACKER.replace("print(", "for _ in range(200):\n    pass\nprint("))
    shutil.copytree(attacker, klass / "b-attacker")
    outcomes, _ = run_batch(klass, tmp_path / "out", fast_cases, jobs=2)
    scores = {o.key: o.score for o in outcomes}
    assert scores == {"a-honest": 100, "b-attacker": 100, "b-honest": 100, "c-honest": 100}
    report = (tmp_path / "out" / "students" / "b-attacker" / "report.html").read_text()
    assert "KILLED 0 READ 0" in report


@needs_root
def test_a_classmates_set_user_id_copy_cannot_be_used_against_her_in_the_same_batch(isolation, fast_cases,
                                                                                     tmp_path):
    """Finding 2 as the review did it: through a set-user-ID program owned by the classmate's
    sandbox user (here `kill`, one per sandbox user, as copies an earlier hostile grade could
    leave), the attacker becomes her user and kills her worker. Each honest classmate, correct but
    slow to import, names her user in a file in /tmp; the attacker waits for one and uses the copy
    of that user (never another run's: only this test's classmates write such a file). In the
    fallback only no_new_privs (worker.apply_limits) stops it; in namespaces the attacker sees no
    classmate at all."""
    import tempfile
    from grader.batch import run_batch
    from grader.sandbox.user import sandbox_uids
    source = shutil.which("kill")
    if source is None:
        pytest.skip("no `kill` program here")
    marker = f"bpg-classmate-{uuid.uuid4().hex[:8]}-"
    folder = Path(tempfile.mkdtemp(prefix="bpg-suid-", dir="/run"))  # swept by no one; read-only in bwrap
    os.chmod(folder, 0o755)
    copies = {}
    for uid in sandbox_uids():
        copies[uid] = str(folder / f"kill-{uid}")
        shutil.copy(source, copies[uid])
        os.chown(copies[uid], uid, 0)
        os.chmod(copies[uid], 0o4755)
    honest = (f"import os as _os, time as _t\n"
              f"open('/tmp/{marker}%d' % _os.getuid(), 'w').close()\n"
              f"_t.sleep(1.5)\n")
    attacker = f'''
import os as _os, time as _time
_COPIES = {copies!r}
_target = None
_until = _time.monotonic() + 3
while _target is None and _time.monotonic() < _until:
    for _name in _os.listdir("/tmp"):
        if _name.startswith({marker!r}) and int(_name[len({marker!r}):]) != _os.getuid():
            _target = int(_name[len({marker!r}):])
    _time.sleep(0.02)
if _target is None:
    print("NO CLASSMATE SEEN", flush=True)
else:
    print("TARGET", _target, flush=True)
    _os.execv(_COPIES[_target], [_COPIES[_target], "-9", "-1"])  # (the worker ends here)
'''
    klass = tmp_path / "class"
    for name in ("a-honest", "b-honest", "c-honest"):
        shutil.copytree(solution(tmp_path, honest), klass / name)
    shutil.copytree(solution(tmp_path, fc_net_extra=attacker), klass / "b-attacker")
    try:
        outcomes, _ = run_batch(klass, tmp_path / "out", fast_cases, jobs=2)
    finally:
        shutil.rmtree(folder)
    report = html.unescape((tmp_path / "out" / "students" / "b-attacker" / "report.html").read_text())
    if isolation == "namespaces":
        assert "NO CLASSMATE SEEN" in report  # a /tmp of its own; and no other grade's process in sight
    else:
        assert "TARGET" in report  # the attack ran
    scores = {o.key: o.score for o in outcomes if o.key != "b-attacker"}
    assert scores == {"a-honest": 100, "b-honest": 100, "c-honest": 100}
    assert sandbox_owned() == []


RECORDER = r'''
import sys as _sys
_SEEN = []
_relu_backward = relu_backward
def relu_backward(dout, cache):
    _SEEN.append(float(abs(dout).sum()))
    print("SEEN", len(_SEEN), _SEEN)
    return _relu_backward(dout, cache)
'''


def test_no_visible_case_ever_shows_anything_of_a_hidden_case(isolation, graded, fast_cases, tmp_path):
    result, data = graded(solution(tmp_path, RECORDER), fast_cases, tmp_path)
    calls = [c for c in result.cases if c.case.function == "relu_backward"]
    visible = [c for c in calls if not c.case.hidden]
    hidden = [c for c in calls if c.case.hidden]
    assert visible and hidden and all(c.passed for c in calls)
    # (FullyConnectedNet.loss calls relu_backward too, in its visible cases)
    public_outputs = " ".join(c.output for c in result.cases if not c.case.hidden)
    for case in hidden:
        found = re.search(r"SEEN (\d+) (\[.*\])", case.output)
        assert found and found.group(1) == "1"  # a fresh worker: the first call it ever saw
        assert found.group(2)[1:-1] not in public_outputs


def test_no_file_the_visible_cases_worker_left_reaches_the_hidden_cases(isolation, graded, fast_cases, tmp_path):
    """Issue 18: the hidden cases' worker is fresh, and so are its files: nothing the visible
    cases' worker wrote (in /tmp, /var/tmp, /dev/shm or its working folder) is there for it.
    (A new process alone is not enough: the engine ends the worker after each phase anyway.)"""
    marker = f"bpg-carry-{uuid.uuid4().hex[:8]}"
    carrier = rf'''
import os as _os
_FIRST = [True]
_relu_backward = relu_backward
def relu_backward(dout, cache):
    if _FIRST[0]:
        _FIRST[0] = False
        for _folder in ("/tmp", "/var/tmp", "/dev/shm", _os.getcwd()):
            _path = _os.path.join(_folder, "{marker}")
            if _os.path.exists(_path):
                print("CARRIED", _folder)
            try:
                open(_path, "w").close()
            except OSError:
                pass
    return _relu_backward(dout, cache)
'''
    result, data = graded(solution(tmp_path, carrier), fast_cases, tmp_path)
    hidden = [c for c in result.cases if c.case.hidden and c.case.function == "relu_backward"]
    assert hidden and all(c.passed for c in hidden)
    assert not any("CARRIED" in c.output for c in result.cases)
    if ROOT_MODE:
        assert sandbox_owned() == []


FILLER = r'''
import os as _os
_made = 0
for _folder in ("/tmp", "/var/tmp", "/dev/shm", _os.getcwd()):
    for _i in range(6):
        try:
            with open(_os.path.join(_folder, f"bpg-fill-{_i}"), "wb") as _f:
                _f.write(b"x" * (8 << 20))
            _made += 1
        except OSError:
            break
    try:
        _deep = _os.path.join(_folder, "bpg-deep")
        for _i in range(1100):
            _os.mkdir(_deep)
            _deep = _os.path.join(_deep, "d")
    except OSError:
        pass
print("MADE", _made)
'''


@needs_root
def test_files_a_submission_leaves_in_shared_folders_are_gone_after_the_grade(isolation, fast_cases, tmp_path):
    result = grade(solution(tmp_path, FILLER), fast_cases)
    assert "MADE" in result.import_output and result.score == 100
    assert sandbox_owned() == []
    assert not any(Path(f, "bpg-fill-0").exists() or Path(f, "bpg-deep").exists()
                   for f in ("/tmp", "/var/tmp", "/dev/shm"))
    assert grade(write_solution(tmp_path / "next"), fast_cases).score == 100


@needs_root
def test_student_code_cannot_fork_so_the_memory_cap_holds_for_everything_it_runs(isolation, graded, fast_cases,
                                                                                  tmp_path):
    forker = r'''
import os as _os
try:
    _pid = _os.fork()
    if _pid == 0:
        _os._exit(0)
    print("FORKED")
except OSError as _e:
    print("FORK REFUSED", type(_e).__name__)
'''
    result, data = graded(solution(tmp_path, forker), fast_cases, tmp_path)  # a fresh worker, and batch's forked one
    assert "FORK REFUSED BlockingIOError" in result.import_output and data["score"] == 100


def deep_submission(directory, depth=1100):
    submission = write_solution(directory)
    fd = os.open(submission, os.O_RDONLY)
    for _ in range(depth):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    return submission


def test_a_folder_1100_levels_deep_is_graded_by_grade_and_batch(isolation, fast_cases, tmp_path):
    from grader.batch import run_batch
    from grader.sandbox.files import remove_tree
    submission = deep_submission(tmp_path / "class" / "deep")
    out = tmp_path / "out"
    try:
        finished = subprocess.run([sys.executable, "-m", "grader", "grade", str(submission), "--cases",
                                   str(fast_cases), "--out", str(out), "--quiet"], cwd=ROOT, capture_output=True,
                                  text=True)
        assert finished.returncode == 0, finished.stderr
        assert load_results(out / "results.json")["score"] == 100
        outcomes, _ = run_batch(tmp_path / "class", tmp_path / "batch", fast_cases, jobs=1)
        assert [(o.status, o.score) for o in outcomes] == [("graded", 100)]
    finally:
        remove_tree(submission / "d")  # (pytest's own clean-up recurses)


def test_a_folder_1100_levels_deep_is_graded_on_gradescope(isolation, package, tmp_path):
    """The third path of finding 8: through the Gradescope package (it showed "Autograder error")."""
    from grader.sandbox.files import remove_tree
    root = autograder_tree(package, write_solution(tmp_path / "s"))
    fd = os.open(root / "submission", os.O_RDONLY)
    for _ in range(1100):  # made in place: copying it in would recurse
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    try:
        assert run_autograder(root).returncode == 0
        data = load_results(root / "results" / "results.json")
        assert data["score"] == 100, data.get("output")
    finally:
        remove_tree(root / "submission" / "d")
        shutil.rmtree(root)


def test_lone_surrogates_and_undecodable_names_reach_every_writer_safely(isolation, graded, fast_cases, tmp_path):
    submission = solution(tmp_path, replace=[("layers.py", "    out = np.where(x > 0, x, 0.0)",
                                              "    print('\\ud800 printed')\n    raise ValueError('bad \\ud800 text')")])
    (submission / os.fsdecode(b"helper-\xff.py")).write_text("x = 1\n")
    # A name that reaches the writers: files found inside a folder are noted with its name.
    nested = tmp_path / f"nested-{uuid.uuid4().hex[:8]}"
    shutil.copytree(submission, nested / os.fsdecode(b"folder-\xff"))
    out = tmp_path / "out"
    result, data = graded(nested, fast_cases, tmp_path, out)
    relu = [c for c in result.cases if c.case.function == "relu_forward"]
    assert relu and all("bad \\ud800 text" in c.summary for c in relu)
    assert any("folder-\udcff" in note for note in result.notes)  # the name came through, undecodable
    report = (out / "report.html").read_text(encoding="utf-8")
    assert "\\ud800" in report and "folder-\\udcff" in report
    assert "folder-\\udcff" in data["output"]


def test_removing_the_import_blocker_does_not_let_a_forbidden_package_score(isolation, graded, tmp_path):
    strict = cases_with_settings(tmp_path / "strict", case_timeout=1.5, import_timeout=4.0,
                                 forbidden_imports=["_decimal"], on_forbidden="fail")
    sneaky = r'''
import sys as _sys
_sys.meta_path[:] = [f for f in _sys.meta_path if type(f).__name__ != "ImportBlocker"]
_m = __import__("_dec" + "imal")
print("LOADED", _m.__name__)
'''
    result, data = graded(solution(tmp_path, sneaky), strict, tmp_path)  # a fresh worker, and batch's forked one
    assert "LOADED decimal" in result.import_output  # the in-process blocker was beaten
    assert result.score == 0 and data["score"] == 0
    assert any("your code loaded _decimal while it ran" in p for p in result.problems)


def test_escape_codes_in_student_text_never_reach_the_terminal(tmp_path):
    painter = "raise ImportError('\\x1b[2J\\x1b[H' + 'total 100 / 100')\n"
    submission = solution(tmp_path, fc_net_extra=painter)
    finished = subprocess.run([sys.executable, "-m", "grader", "grade", str(submission), "--out",
                               str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 0, finished.stderr
    assert "\x1b" not in finished.stdout + finished.stderr
    assert "\\x1b[2J" in finished.stdout


def test_escape_codes_in_student_names_never_reach_batchs_terminal(tmp_path):
    """Finding 11 in `batch`: a submission's folder name (or an export's student name) is printed
    in the progress lines and in "could not grade" lines, escaped."""
    klass = tmp_path / "class"
    write_solution(klass / "painter-\x1b[2J\x1b[H")
    (klass / "broken-\x1b[31m.zip").write_bytes(b"not a zip \x1b[2J")
    finished = subprocess.run([sys.executable, "-m", "grader", "batch", "--assignment", str(FIXTURE), str(klass),
                               "--out", str(tmp_path / "out"), "--jobs", "1"], cwd=ROOT, capture_output=True,
                              text=True)
    assert finished.returncode == 0, finished.stderr
    assert "\x1b" not in finished.stdout + finished.stderr
    assert "painter-\\x1b[2J" in finished.stderr  # (the progress lines)


def test_a_correct_submission_that_prints_10_mb_at_import_loses_nothing(isolation, graded, fast_cases, tmp_path):
    result, data = graded(solution(tmp_path, "print('x' * (10 << 20))\n"), fast_cases, tmp_path)
    assert data["score"] == 100 and result.problems == []
    assert re.search(r"and \d+ more bytes were dropped: output stops at 8 MB", result.import_output)


# Found by a later review: what namespaces and one process do not cover --------------------

KEPT_STATE = r'''
import ctypes as _ct, os as _os
_libc = _ct.CDLL(None, use_errno=True)
_libc.syscall.restype = _ct.c_long
_tries = {"add_key": (248, b"user", b"bpg-kept", b"hidden inputs", 13, -4),
          "keyctl": (250, 0, -4, 0, 0, 0),
          "shmget": (29, 0, 1 << 28, 0o1666),
          "msgget": (68, 0, 0o1666),
          "semget": (64, 0, 1, 0o1666),
          "mq_open": (240, b"bpgq", 0o100 | 2, 0o666, 0),
          "memfd_create": (319, b"bpg", 0)}
for _name, _args in _tries.items():
    _r = _libc.syscall(*_args)
    print("KEPT", _name, "REFUSED" if _r == -1 and _ct.get_errno() == 1 else f"ALLOWED {_r}")
'''


@pytest.mark.skipif(os.uname().machine != "x86_64", reason="the hostile code uses x86_64's system call numbers")
def test_keyrings_shared_memory_queues_and_memory_files_are_refused_to_student_code(isolation, graded, fast_cases,
                                                                                    tmp_path):
    """Keyrings outlive every process and no namespace covers them; shared memory and memory
    files escape the address-space limit and, shared, reach a classmate: all are refused."""
    result, data = graded(solution(tmp_path, KEPT_STATE), fast_cases, tmp_path)
    said = [line for line in result.import_output.splitlines() if line.startswith("KEPT ")]
    assert said == [f"KEPT {name} REFUSED" for name in ("add_key", "keyctl", "shmget", "msgget", "semget",
                                                        "mq_open", "memfd_create")]
    assert result.score == 100


def test_a_failure_only_hidden_cases_show_is_never_named_in_visible_feedback(graded, fast_cases, tmp_path):
    """A layer that fails only its hidden cases, beside a network that fails a visible one: the
    visible feedback must not blame the layer, which would tell the student a hidden result."""
    submission = solution(tmp_path, replace=[
        ("layers.py", "    dx = (dout @ w.T).reshape(x.shape)\n",
         "    dx = (dout @ w.T).reshape(x.shape)\n    if x.shape[0] == 1:\n        dx = dx + 1\n"),
        ("fc_net.py", "        if y is None:\n            return scores\n",
         "        if y is None:\n            return scores + 1\n")])
    result, data = graded(submission, fast_cases, tmp_path)
    hidden_only = [c for c in result.cases if c.case.function == "affine_backward" and not c.passed]
    assert hidden_only and all(c.case.hidden for c in hidden_only)
    visible = [c for c in result.cases if not c.case.hidden]
    assert not any("affine_backward" in note for c in visible for note in c.notes)
    assert "uses your affine_backward" not in json.dumps(data)
    assert any(not c.passed for c in visible if c.case.function == "FullyConnectedNet.loss")


def test_a_forbidden_package_loaded_only_on_hidden_inputs_fails_the_hidden_cases_silently(tmp_path):
    """Found in the memory map during the hidden phase only: the hidden cases fail, and nothing
    visible says so, since that would tell a property of the hidden inputs."""
    package = tmp_path / "sub" / "torch"
    submission = solution(tmp_path, replace=[("layers.py", "    x_rows = x.reshape(x.shape[0], -1)  # (N, D)\n",
                                              "    x_rows = x.reshape(x.shape[0], -1)  # (N, D)\n"
                                              "    if x.shape[0] == 1:\n"
                                              "        import mmap, os\n"
                                              "        _f = open(os.path.join(os.path.dirname(__file__), 'torch', "
                                              "'libtorch.so'), 'rb')\n"
                                              "        _KEEP.append(mmap.mmap(_f.fileno(), 0, prot=mmap.PROT_READ))\n")])
    package = submission / "torch"
    package.mkdir()
    (package / "libtorch.so").write_bytes(b"\0" * 8192)
    with open(submission / "layers.py", "a") as handle:
        handle.write("\n_KEEP = []\n")
    result = grade(submission, CASES)
    hidden = [c for c in result.cases if c.case.hidden]
    assert result.problems == [] and result.notes == []
    assert all(c.passed for c in result.cases if not c.case.hidden)
    assert [c.status for c in hidden] == ["failed"] * len(hidden)


def test_gradescope_s_metadata_with_earlier_results_is_closed_to_student_code(package, tmp_path):
    """Gradescope's submission_metadata.json holds earlier submissions' whole results, hidden tests
    included: run_autograder takes away every other user's access before any student code runs."""
    reader = '''
try:
    print("READ", len(open("METADATA").read()))
except OSError as _e:
    print("REFUSED", type(_e).__name__)
'''
    submission = solution(tmp_path)
    root = autograder_tree(package, submission, metadata={"users": [{"name": "Ada"}], "previous_submissions": [
        {"results": {"tests": [{"name": "hidden", "score": 1.0}]}}]})
    try:
        with open(root / "submission" / "layers.py", "a") as handle:
            handle.write("\n" + reader.replace("METADATA", str(root / "submission_metadata.json")))
        finished = run_autograder(root)
        assert finished.returncode == 0, finished.stderr
        assert os.stat(root / "submission_metadata.json").st_mode & 0o077 == 0
        report = (root / "results" / "report.html").read_text()
        assert "READ" not in report and load_results(root / "results" / "results.json")["score"] == 100
    finally:
        shutil.rmtree(root)


@needs_root
def test_as_root_a_grade_s_outputs_are_for_root_alone(tmp_path):
    reader = f'''
import glob as _glob
print("FOUND", sorted(_glob.glob({str(tmp_path / "out-alice" / "*")!r})))
'''
    grade_to = tmp_path / "out-alice"
    write_outputs(grade(solution(tmp_path), CASES), grade_to)
    assert [oct(os.stat(p).st_mode & 0o777) for p in (grade_to, grade_to / "results.json", grade_to / "report.html")] \
        == ["0o700", "0o600", "0o600"]
    later = grade(solution(tmp_path, reader), CASES)
    assert "FOUND []" in later.import_output
