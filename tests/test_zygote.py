"""Workers forked by the zygote (batch): graded exactly as fresh workers, started as clean."""
import json
import os
import re
import signal
import tempfile
import time

import pytest

from grader import runner, worker
from grader.engine import grade
from helpers import (cases_with_settings, count_zygote_spawns, edit_submission, forget_zygotes, ready_zygote,
                     write_solution)

ROOT_ONLY = pytest.mark.skipif(os.geteuid() != 0, reason="only a root grader switches to a sandbox user")

FACTS = '''
import ctypes as _ctypes, json as _json, os as _os, resource as _resource, signal as _signal, stat as _stat
import sys as _sys
import numpy as _np
_here = _os.getcwd()
def _plain(text):
    return str(text).replace(_here, "<work>")
print("FACTS", _json.dumps({
    "ids": [_os.getuid(), _os.geteuid(), _os.getgid(), _os.getegid(), sorted(_os.getgroups())],
    "leader": [_os.getsid(0) == _os.getpid(), _os.getpgid(0) == _os.getpid()],
    "descriptors": len(_os.listdir("/proc/self/fd")),
    "stdin": _os.path.realpath("/proc/self/fd/0"),
    "cwd": _plain(_here),
    "environment": {key: _plain(value) for key, value in _os.environ.items()},
    "umask": _os.umask(0o077),
    "limits": {name: _resource.getrlimit(getattr(_resource, name))
               for name in ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_FSIZE", "RLIMIT_CORE", "RLIMIT_NPROC")},
    "flags": [_sys.flags.isolated, _sys.flags.no_site, _sys.flags.dont_write_bytecode, _sys.flags.utf8_mode],
    "path": [_plain(entry) for entry in _sys.path],
    "handlers": [str(_signal.getsignal(number)) for number in
                 (_signal.SIGINT, _signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGCHLD, _signal.SIGTERM)],
    "dumpable": _ctypes.CDLL(None).prctl(3, 0, 0, 0, 0),
    "argv": [_sys.argv[0]] + ["pipe" if _stat.S_ISFIFO(_os.fstat(int(a)).st_mode) else a for a in _sys.argv[1:3]]
            + [_plain(a) for a in _sys.argv[3:]],
    "numpy": _np.__version__,
    "modules": sorted(name for name in _sys.modules if not name.startswith("_np") and name != "_here"),
    "random": int(_np.random.randint(1 << 30)),
}))
'''


@pytest.fixture(scope="module")
def cases(tmp_path_factory):
    return cases_with_settings(tmp_path_factory.mktemp("cases"), case_timeout=1.0, import_timeout=4.0)


@pytest.fixture()
def zygote(cases, tmp_path, monkeypatch):
    """This process's zygote, started by a first grade and loaded; spawns are counted."""
    forget_zygotes()
    started = ready_zygote(cases, tmp_path)
    yield started, count_zygote_spawns(monkeypatch)
    forget_zygotes()


def with_code_at_import(directory, code):
    """A correct submission whose layers.py ends with `code`, which runs when it is imported."""
    submission = write_solution(directory)
    with open(submission / "layers.py", "a") as handle:
        handle.write(code)
    return submission


def facts(result):
    found = re.search(r"^FACTS (.*)$", result.import_output, re.M)
    assert found, result.import_output
    return json.loads(found.group(1))


def outcome(result):
    return [(c.case.id, c.status, c.score, c.summary, [o.message for o in c.outputs],
             [d.key for d in c.diagnoses]) for c in result.cases]


def test_a_forked_worker_starts_exactly_as_a_fresh_one_but_for_its_random_state(zygote, cases, tmp_path):
    process, spawned = zygote
    submission = with_code_at_import(tmp_path / "facts", FACTS)
    fresh = facts(grade(submission, cases))
    assert spawned == []
    forked = [facts(grade(submission, cases, zygote=True)) for _ in range(2)]
    assert len(spawned) == 4 and process.process.poll() is None  # (each grade: visible, then hidden cases)
    assert forked[0]["random"] != forked[1]["random"]  # each child reseeds: no shared stream
    for found in forked:
        found.pop("random")
    fresh.pop("random")
    assert forked[0] == fresh and forked[1] == fresh
    if os.geteuid() == 0:
        assert fresh["ids"][0] != 0 and fresh["ids"][0] == fresh["ids"][1] and fresh["ids"][4] == []
    assert fresh["leader"] == [True, True] and fresh["stdin"] == "/dev/null" and fresh["dumpable"] == 1


def test_forked_workers_grade_every_kind_of_submission_exactly_as_fresh_ones(zygote, cases, tmp_path):
    _, spawned = zygote
    submissions = [write_solution(tmp_path / "correct"), write_solution(tmp_path / "ties-first", tie_rule="first")]
    exits = write_solution(tmp_path / "exits")
    edit_submission(exits, "layers.py", "    stride, pad = _check_conv(x, w, b, conv_param)\n",
                    "    stride, pad = _check_conv(x, w, b, conv_param)\n    import os; os._exit(3)\n")
    segfaults = write_solution(tmp_path / "segfaults")
    edit_submission(segfaults, "layers.py", "    stride, pad = _check_conv(x, w, b, conv_param)\n",
                    "    stride, pad = _check_conv(x, w, b, conv_param)\n"
                    "    import os, signal; os.kill(os.getpid(), signal.SIGSEGV)\n")
    submissions += [exits, segfaults]
    for submission in submissions:
        fresh = outcome(grade(submission, cases))
        assert outcome(grade(submission, cases, zygote=True)) == fresh
    assert len(spawned) >= len(submissions)  # (a crash restarts the worker: more spawns)
    summaries = " ".join(c[3] for c in outcome(grade(exits, cases, zygote=True)))
    assert "exit status 3" in summaries
    summaries = " ".join(c[3] for c in outcome(grade(segfaults, cases, zygote=True)))
    assert "signal SIGSEGV" in summaries


def test_a_worker_that_loops_is_killed_and_the_zygote_serves_the_next_submission(zygote, cases, tmp_path):
    process, spawned = zygote
    looper = write_solution(tmp_path / "looper")
    edit_submission(looper, "layers.py", "    stride, pad = _check_conv(x, w, b, conv_param)\n",
                    "    stride, pad = _check_conv(x, w, b, conv_param)\n    while True:\n        pass\n")
    looped = grade(looper, cases, zygote=True)
    statuses = {c.status for c in looped.cases if c.case.function == "conv_forward"}
    assert statuses == {"timeout", "not-run"}
    before = len(spawned)
    assert grade(write_solution(tmp_path / "next"), cases, zygote=True).score == 100.0
    assert len(spawned) == before + 2 and process.process.poll() is None


@ROOT_ONLY
def test_student_code_cannot_signal_the_root_zygote_that_forked_it(zygote, cases, tmp_path):
    process, spawned = zygote
    submission = with_code_at_import(tmp_path / "signals", (
        "import os as _os, signal as _signal\n"
        "print('PARENT', _os.getppid())\n"
        "for _number in (_signal.SIGKILL, _signal.SIGSTOP):\n"
        "    try:\n"
        "        _os.kill(_os.getppid(), _number)\n"
        "        print('SIGNALLED')\n"
        "    except PermissionError:\n"
        "        print('REFUSED')\n"))
    result = grade(submission, cases, zygote=True)
    # (in namespaces the worker sees the zygote as pid 2 of their PID namespace, after bwrap's reaper)
    assert f"PARENT {2 if process.prefix else process.process.pid}" in result.import_output
    assert result.import_output.count("REFUSED") == 2 and "SIGNALLED" not in result.import_output
    assert result.score == 100.0 and process.process.poll() is None
    assert grade(submission, cases, zygote=True).score == 100.0 and len(spawned) == 4


def test_when_the_zygote_is_gone_the_worker_starts_as_usual(zygote, cases, tmp_path):
    process, spawned = zygote
    os.kill(process.process.pid, signal.SIGKILL)
    process.process.wait()
    assert grade(write_solution(tmp_path / "after"), cases, zygote=True).score == 100.0
    assert spawned == [] and list(runner._zygotes.values()) == [None]


@ROOT_ONLY
def test_the_zygote_refuses_an_import_path_that_a_sandbox_user_could_write_to():
    from grader.sandbox.user import sandbox_gids, sandbox_uids
    uids = sorted(sandbox_uids())
    if not uids:
        pytest.skip("no sandbox user on this machine yet")
    gids = sorted(sandbox_gids(uids))
    folder = tempfile.mkdtemp()
    try:
        os.chmod(folder, 0o755)
        worker._refuse_writable([folder], uids, gids)  # root's own folder: fine
        os.chown(folder, uids[0], gids[0])
        with pytest.raises(PermissionError, match=re.escape(folder)):
            worker._refuse_writable([folder], uids, gids)
        os.chown(folder, 0, 0)
        os.chmod(folder, 0o777)
        with pytest.raises(PermissionError):
            worker._refuse_writable([os.path.join(folder, "site-packages")], uids, gids)
    finally:
        os.rmdir(folder)


def test_a_forked_worker_that_cannot_set_itself_up_is_replaced_by_a_fresh_one(zygote, cases, tmp_path,
                                                                               monkeypatch):
    process, spawned = zygote
    original = runner.Zygote.spawn

    def into_a_missing_folder(self, request, fds):
        return original(self, dict(request, workdir=str(tmp_path / "missing")), fds)
    monkeypatch.setattr(runner.Zygote, "spawn", into_a_missing_folder)
    result = grade(write_solution(tmp_path / "fine"), cases, zygote=True)
    assert result.score == 100.0 and result.problems == []  # not blamed on the student's import
    assert runner._zygotes[(process.python, process.prefix)] is process and process.process.poll() is None


def test_a_finished_forked_worker_keeps_its_pid_until_the_session_has_swept_its_tree(zygote, tmp_path):
    from grader.sandbox import open_sandbox
    process, spawned = zygote
    box = open_sandbox(python=process.python)
    try:
        session = runner.WorkerSession(box, [], zygote=True)
        session.launch()
        session.begin([])
        session.wait_ready(time.monotonic() + 30)
        child = session.process
        assert isinstance(child, runner.ZygoteChild) and spawned == [child.pid]
        session.end()
        assert child.wait(timeout=5) == -signal.SIGKILL
        with open(f"/proc/{child.pid}/stat") as handle:
            assert handle.read().rsplit(")", 1)[1].split()[0] == "Z"  # ended, reported, not reaped
        session.close()
        deadline = time.monotonic() + 5
        while os.path.exists(f"/proc/{child.pid}") and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not os.path.exists(f"/proc/{child.pid}")  # reaped once released
    finally:
        box.close()


def test_grading_with_the_zygote_leaves_no_descriptor_or_exit_record_behind(zygote, cases, tmp_path):
    process, spawned = zygote
    submission = write_solution(tmp_path / "fine")
    grade(submission, cases, zygote=True)
    before = sorted(os.listdir("/proc/self/fd"))
    for _ in range(3):
        grade(submission, cases, zygote=True)
    assert sorted(os.listdir("/proc/self/fd")) == before and process.exits == {} and len(spawned) == 8


def test_a_forked_copy_of_the_grader_starts_its_own_zygote_instead_of_sharing_one(zygote):
    process, _ = zygote
    pid = os.fork()
    if pid == 0:
        os._exit(0 if runner._zygotes == {} else 1)
    assert os.waitpid(pid, 0)[1] == 0
    assert runner._zygotes[(process.python, process.prefix)] is process and process.ready()


def test_a_forbidden_package_the_zygote_loaded_for_itself_is_refused_as_in_a_fresh_worker(zygote, tmp_path):
    strict = cases_with_settings(tmp_path / "strict", case_timeout=1.0, import_timeout=4.0,
                                 forbidden_imports=["socket", "fcntl"], on_forbidden="fail")
    submission = with_code_at_import(tmp_path / "sneaky", (
        "for _name in ('sock' + 'et', 'fcn' + 'tl'):\n"
        "    try:\n"
        "        __import__(_name)\n"
        "        print('LOADED', _name)\n"
        "    except ImportError as _error:\n"
        "        print('BLOCKED', _error)\n"))
    for use_zygote in (False, True):
        result = grade(submission, strict, zygote=use_zygote)
        assert "BLOCKED socket may not be used" in result.import_output, result.import_output
        assert "BLOCKED fcntl may not be used" in result.import_output
        assert "LOADED" not in result.import_output


def test_a_late_exit_notice_for_a_released_worker_is_ignored_since_its_pid_may_be_reused(zygote):
    import socket
    process, _ = zygote
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    saved, process.control = process.control, ours
    try:
        theirs.send(json.dumps({"type": "exit", "pid": 4242, "code": -9}).encode())
        assert process.exit_code(4242, time.monotonic() + 0.2) is None and process.exits == {}
        process.live.add(4242)  # as if a new worker had that pid now: its own notice counts
        theirs.send(json.dumps({"type": "exit", "pid": 4242, "code": 3}).encode())
        assert process.exit_code(4242, time.monotonic() + 5) == 3
    finally:
        process.live.discard(4242)
        process.control = saved
        ours.close()
        theirs.close()


def test_where_there_are_no_pidfds_batch_grades_with_fresh_workers(cases, tmp_path, monkeypatch):
    monkeypatch.delattr(os, "pidfd_open")
    monkeypatch.setattr(runner, "_zygotes", {})
    submission = write_solution(tmp_path / "fine")
    assert [grade(submission, cases, zygote=True).score for _ in range(2)] == [100.0, 100.0]
    assert list(runner._zygotes.values()) == [None]


def test_a_single_grade_forks_its_hidden_cases_worker_from_a_zygote_that_loaded_beside_the_first(
        cases, tmp_path, monkeypatch):
    """grade and Gradescope (zygote="hidden"): the first worker is an interpreter of its own, and the
    zygote started beside it serves the hidden cases' fresh worker, instead of a second interpreter."""
    forget_zygotes()
    spawned = count_zygote_spawns(monkeypatch)
    try:
        result = grade(write_solution(tmp_path / "s"), cases, zygote="hidden")
        assert result.score == 100 and any(c.case.hidden for c in result.cases)
        assert len(spawned) == 1
    finally:
        forget_zygotes()
