"""Parts of the sandbox checked on their own: the memory-map check's reading of paths, and the
process family the sweeps find."""
import os
import subprocess
import sys
import time

import pytest

from grader.sandbox import mapped, processes

FORBIDDEN = ("torch", "tensorflow", "jax", "scipy", "sklearn")


@pytest.mark.parametrize("path, found", [
    ("/usr/lib/python3/dist-packages/torch/lib/libtorch_cpu.so", ["torch"]),
    ("/venv/lib/python3.11/site-packages/scipy.libs/libgfortran-040039e1.so.5.0.0", ["scipy"]),
    ("/venv/lib/python3.11/site-packages/jaxlib/xla_extension.so", ["jax"]),
    ("/venv/lib/python3.11/site-packages/torch-2.1.0.dist-info/RECORD", ["torch"]),
    ("/venv/lib/python3.11/site-packages/sklearn.cpython-311-x86_64-linux-gnu.so", ["sklearn"]),
    ("/venv/lib/python3.11/site-packages/numpy.libs/libscipy_openblas64_-ff651d7f.so", []),
    ("/venv/lib/python3.11/site-packages/torchvision/_C.so", []),
    ("/usr/lib/python3.11/lib-dynload/_decimal.cpython-311-x86_64-linux-gnu.so", []),
])
def test_a_mapped_file_names_a_forbidden_package_by_its_folder_or_module_file_only(path, found):
    pattern = mapped._pattern(FORBIDDEN)
    assert [(m.group(1) or m.group(2)).decode() for m in pattern.finditer(path.encode())] == found


def test_the_memory_map_of_a_process_that_loaded_a_package_names_it(tmp_path):
    package = tmp_path / "scipy"
    package.mkdir()
    (package / "__init__.py").write_text("")
    library = package / "lib.so"
    library.write_bytes(open("/proc/self/exe", "rb").read(65536))  # any file mmap can map
    child = subprocess.Popen([sys.executable, "-c", f"import mmap, time\nf = open({str(library)!r}, 'rb')\n"
                              "m = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)\nprint('up', flush=True)\n"
                              "time.sleep(30)"], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"up\n"
        assert mapped.forbidden_mapped(child.pid, FORBIDDEN) == ["scipy"]
        assert mapped.forbidden_mapped(os.getpid(), ("tensorflow",)) == []
    finally:
        child.kill()
        child.wait()


def test_the_family_the_sweeps_read_holds_every_descendant_the_whole_table_shows():
    # A child with a grandchild, and a grandchild left behind when its parent exits.
    script = ("import os, subprocess, sys, time\n"
              "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
              "if os.fork() == 0:\n"
              "    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
              "    os._exit(0)\n"
              "print('up', flush=True)\ntime.sleep(30)\n")
    processes.become_subreaper()
    before = processes.direct_children()
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline() == b"up\n"
        time.sleep(0.2)
        whole = processes._process_table(owners=False)
        family = processes._family_table([child.pid])
        ours = {pid for pid in whole if pid == child.pid or pid in processes.descendants(child.pid, whole)
                or whole[pid][0] == os.getpid()}
        assert len(processes.descendants(child.pid, whole)) >= 1
        assert ours <= set(family)
        assert {pid: whole[pid][0] for pid in ours} == {pid: family[pid][0] for pid in ours}
    finally:
        processes.kill_tree([child.pid], keep=before)
        child.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="creates a system user")
def test_the_sandbox_user_is_announced_before_it_is_created_and_only_then(capfd):
    import pwd
    from grader.sandbox.user import ensure_user
    name = f"bpgtest{os.getpid() % 100000}"
    try:
        uid, _ = ensure_user(name)
        assert pwd.getpwnam(name).pw_uid == uid
        assert capfd.readouterr().err == (f"note: creating the system user {name!r} (no home folder, no login) that "
                                          f"student code runs as; later runs reuse it (`userdel {name}` removes it)\n")
        assert ensure_user(name)[0] == uid
        assert capfd.readouterr().err == ""   # it exists now: nothing to announce
    finally:
        subprocess.run(["userdel", name], capture_output=True)


@pytest.fixture
def probe_user():
    """(uid, gid) of a sandbox-like user of this test's own, and a folder it may enter that holds
    a file it may read and one only root may."""
    import shutil
    import tempfile
    from grader.sandbox.user import ensure_user
    if os.geteuid() != 0:
        pytest.skip("only root can take on another user's identity")
    name = f"bpgprobe{os.getpid() % 100000}"
    folder = tempfile.mkdtemp(prefix="bpg-probe-")
    os.chmod(folder, 0o755)
    for file, mode in (("public", 0o644), ("secret", 0o600)):
        with open(os.path.join(folder, file), "w") as handle:
            handle.write(file)
        os.chmod(os.path.join(folder, file), mode)
    try:
        yield ensure_user(name), folder
    finally:
        shutil.rmtree(folder)
        subprocess.run(["userdel", name], capture_output=True)


def _what_the_user_sees(folder):
    return {"ids": [list(os.getresuid()), list(os.getresgid()), os.getgroups()],
            "public": os.access(os.path.join(folder, "public"), os.R_OK),
            "secret": os.access(os.path.join(folder, "secret"), os.R_OK),
            "write": os.access(folder, os.W_OK)}


@pytest.mark.parametrize("way", ["thread", "fork"])
def test_the_access_probe_sees_what_the_sandbox_user_sees_and_the_grader_stays_root(probe_user, way, monkeypatch):
    from types import SimpleNamespace
    from grader.sandbox import user
    (uid, gid), folder = probe_user
    if way == "fork":  # as on a platform where a thread cannot change its user alone
        monkeypatch.setattr(user, "_SET_IDENTITY", {})
    elif os.uname().machine not in user._SET_IDENTITY:
        pytest.skip("no per-thread identity calls known for this architecture")
    groups = os.getgroups()
    found = user._as_user(SimpleNamespace(uid=uid, gid=gid), lambda: _what_the_user_sees(folder))
    assert found == {"ids": [[uid] * 3, [gid] * 3, []], "public": True, "secret": False, "write": False}
    assert (os.getresuid(), os.getresgid(), os.getgroups()) == ((0, 0, 0), (0, 0, 0), groups)
    assert os.access(os.path.join(folder, "secret"), os.R_OK)


def test_the_probe_thread_takes_on_the_user_alone(probe_user):
    """The thread's identity is the thread's: not the grader's other threads'."""
    import threading
    from grader.sandbox import user
    (uid, gid), folder = probe_user
    if os.uname().machine not in user._SET_IDENTITY:
        pytest.skip("no per-thread identity calls known for this architecture")
    seen, go, done = [], threading.Event(), threading.Event()

    def other_thread():
        go.wait(10)
        seen.append(os.getresuid())  # asked while the probe runs as the sandbox user
        done.set()
    bystander = threading.Thread(target=other_thread)
    bystander.start()

    def probe():
        go.set()
        done.wait(10)
        return list(os.getresuid())
    assert user._in_thread_as(uid, gid, probe) == [uid] * 3
    bystander.join()
    assert seen == [(0, 0, 0)]


def test_the_sweep_finds_a_users_live_processes_and_not_its_ended_ones(probe_user):
    (uid, gid), _ = probe_user
    options = {"user": uid, "group": gid, "extra_groups": []}
    live = subprocess.Popen(["sleep", "30"], **options)
    ended = subprocess.Popen(["true"], **options)  # a zombie until waited for
    try:
        deadline = time.monotonic() + 10
        while processes._process_table()[ended.pid][2] is False and time.monotonic() < deadline:
            time.sleep(0.01)
        assert processes._process_table()[ended.pid] == (os.getpid(), uid, True)
        assert processes._live_processes_of(uid) == [live.pid]
    finally:
        live.kill()
        live.wait()
        ended.wait()
    assert processes._live_processes_of(uid) == []


def test_while_a_process_of_the_user_runs_the_probe_is_a_child_not_a_thread_of_the_grader(probe_user, monkeypatch):
    """A process of the user could reach a thread with its identity (limits, signals): the probe
    then runs in a forked child, which sees the same."""
    from types import SimpleNamespace
    from grader.sandbox import user
    (uid, gid), folder = probe_user
    threads = []
    monkeypatch.setattr(user, "_in_thread_as", lambda *args: threads.append(args) or user._NO_THREAD)
    running = subprocess.Popen(["sleep", "30"], user=uid, group=gid, extra_groups=[])
    try:
        found = user._as_user(SimpleNamespace(uid=uid, gid=gid), lambda: _what_the_user_sees(folder))
    finally:
        running.kill()
        running.wait()
    assert found == {"ids": [[uid] * 3, [gid] * 3, []], "public": True, "secret": False, "write": False}
    assert threads == []
    user._as_user(SimpleNamespace(uid=uid, gid=gid), lambda: _what_the_user_sees(folder))
    assert len(threads) == 1   # with none running, the thread is tried
