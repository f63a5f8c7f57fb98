"""Where and as whom student code runs, and making sure none of it outlives grading.

Two modes:
- As root (Gradescope, or an instructor grading as root), the worker runs as an
  unprivileged sandbox user. Before any student code runs, a probe running as
  that user checks that it can read none of the protected files (the test cases,
  the config) and write none of the protected directories (the results). Access
  it has is removed, and every change is reported; if access remains, grading
  refuses to start.
- As a normal user, the worker runs as that user, with the same process and
  resource isolation but no user switch. It cannot be kept from the user's files.

In both modes the worker gets a private working directory, resource limits, a
session of its own, and the grader becomes a subreaper, so that every process
the student's code starts can be found and killed when grading ends.
"""
import ctypes
import json
import os
import pwd
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from .errors import UserError
from .worker import writable_by

DEFAULT_USER = "bpgrader"
# A worker's environment, but for its folder (HOME and TMPDIR): a fixed locale, one
# thread for the BLAS libraries (set before NumPy loads), and no display for Matplotlib.
WORKER_ENVIRONMENT = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MPLBACKEND": "Agg",
}
OUTPUT_FILE_LIMIT = 8 << 20   # bytes a worker may write to its output file
MAX_PROCESSES = 64            # processes and threads of the sandbox user (root mode)
_PR_SET_CHILD_SUBREAPER = 36


@dataclass
class Sandbox:
    base: Path                  # private directory, removed by close()
    workdir: Path               # the worker's writable working directory
    python: str                 # interpreter for the worker
    memory_mb: int
    cpu_seconds: int
    uid: Optional[int] = None   # sandbox user, in root mode
    gid: Optional[int] = None
    user: Optional[str] = None
    notices: List[str] = field(default_factory=list)
    lock: Optional[int] = None  # held for as long as this run owns the sandbox user

    @property
    def switches_user(self):
        return self.uid is not None

    def environment(self):
        return dict(WORKER_ENVIRONMENT, HOME=str(self.workdir), TMPDIR=str(self.workdir))

    def limits(self):
        """The resource limits the worker sets on itself before any student code runs.

        Soft and hard limits are equal, and an unprivileged process can never raise a
        hard limit again. Setting them in the worker rather than in a preexec_fn keeps
        process start-up safe in a threaded parent, and fast.
        """
        cpu = max(1, int(self.cpu_seconds))
        # The process limit counts every process of the user: a sandbox user has none of
        # its own; a normal user keeps what it runs now, plus room for the worker's threads.
        processes = MAX_PROCESSES if self.switches_user else _user_process_count() + MAX_PROCESSES
        return {"RLIMIT_AS": [self.memory_mb << 20] * 2, "RLIMIT_CPU": [cpu, cpu + 5],
                "RLIMIT_FSIZE": [OUTPUT_FILE_LIMIT] * 2, "RLIMIT_CORE": [0, 0],
                "RLIMIT_NPROC": [processes] * 2}

    def popen_options(self):
        """Keyword arguments for subprocess.Popen that start a process inside the sandbox."""
        options = {"cwd": str(self.workdir), "env": self.environment(), "start_new_session": True,
                   "close_fds": True, "umask": 0o077}
        if self.switches_user:
            options.update(user=self.uid, group=self.gid, extra_groups=[])
        return options

    def close(self):
        kill_user_processes(self)
        shutil.rmtree(self.base, ignore_errors=True)
        if self.lock is not None:
            os.close(self.lock)  # releases the user for the next run
            self.lock = None


def open_sandbox(protected_read=(), protected_write=(), memory_mb=512, cpu_seconds=600,
                 fix_permissions=True, python=None, sealed=()):
    """Prepare a sandbox. In root mode, make sure the sandbox user can reach no protected path.

    protected_read: files and directories the worker must not read (expected values, config).
    protected_write: directories the worker must not write (results).
    sealed: directories the worker must not even enter or list (the instructor's project
    folder, with the reference solution and any built package; a class's output folder).
    """
    become_subreaper()
    base = Path(tempfile.mkdtemp(prefix="bpgrader-"))
    try:
        workdir = base / "work"
        workdir.mkdir()
        if os.geteuid() != 0:
            return Sandbox(base, workdir, python or sys.executable, memory_mb, cpu_seconds)
        user, lock = _claim_user()
        try:
            uid, gid = ensure_user(user)
        except BaseException:
            os.close(lock)
            raise
        os.chmod(base, 0o711)   # the worker may pass through to its workdir, not list it
        os.chown(workdir, uid, gid)
        os.chmod(workdir, 0o700)
        sandbox = Sandbox(base, workdir, "", memory_mb, cpu_seconds, uid, gid, user, lock=lock)
        kill_user_processes(sandbox)  # anything a crashed earlier run of this user left behind
        uids = sandbox_uids()
        sandbox.notices += drop_unsafe_import_paths(uids)
        own_python = secure(sandbox, protected_read, protected_write, sealed, fix_permissions, uids)
        sandbox.python = python or worker_python(sandbox, own_python)
        return sandbox
    except BaseException:
        shutil.rmtree(base, ignore_errors=True)
        raise


# The sandbox user ------------------------------------------------------------------

LOCK_DIR = "/run/lock/bpgrader"
MAX_SLOTS = 64


def _claim_user():
    """(user name, lock fd): a sandbox user no other grading run on this machine is using.

    Cleanup kills every process of the sandbox user, so two runs at once (a batch,
    or two instructors' commands) must never share one. Each run holds an exclusive
    lock on its user's slot until it closes its sandbox; slot 0 is the user that
    setup.sh creates on Gradescope, and the others are created when first needed.
    """
    import fcntl
    base = os.environ.get("BPGRADER_USER", DEFAULT_USER)
    os.makedirs(LOCK_DIR, mode=0o700, exist_ok=True)
    for slot in range(MAX_SLOTS):
        fd = os.open(os.path.join(LOCK_DIR, f"slot-{slot}.lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return (base if slot == 0 else f"{base}{slot}"), fd
    raise UserError(f"{MAX_SLOTS} grading runs are already using sandbox users on this machine; "
                    f"wait for some to finish")

def ensure_user(name):
    """(uid, gid) of the sandbox user, creating it (no home, no login) if needed."""
    try:
        entry = pwd.getpwnam(name)
        return entry.pw_uid, entry.pw_gid
    except KeyError:
        pass
    commands = [
        ["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", "--user-group", name],
        ["adduser", "--system", "--no-create-home", "--group", "--disabled-password", name],
    ]
    errors = []
    for command in commands:
        if shutil.which(command[0]) is None:
            continue
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0 or "already exists" in result.stderr:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        errors.append(f"{command[0]}: {result.stderr.strip()}")
    raise UserError(f"cannot create the sandbox user {name!r} that student code runs as "
                    f"({'; '.join(errors) or 'neither useradd nor adduser is installed'}). "
                    f"Create it with `useradd --system --no-create-home {name}`.")


def _as_user(sandbox, function):
    """Run function() in a forked child that has become the sandbox user; return its JSON result."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop to the sandbox user, answer, exit without cleanup
        try:
            os.close(read_fd)
            os.setgroups([])
            os.setgid(sandbox.gid)
            os.setuid(sandbox.uid)
            data = json.dumps(function()).encode()
            os.write(write_fd, data)
        finally:
            os._exit(0)
    os.close(write_fd)
    chunks = []
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read_fd)
    os.waitpid(pid, 0)
    return json.loads(b"".join(chunks) or b"null")


def _reachable(read_paths, write_paths):
    """As the current (sandbox) user: which of the given paths it can read and which write.

    The lists are made by the parent, as root: a directory the sandbox user cannot
    list may still hold files it can open by name.
    """
    found = [["read", path] for path in read_paths if os.access(path, os.R_OK)]
    found += [["write", path] for path in write_paths if os.access(path, os.W_OK)]
    return found


def _walk(root):
    root = str(root)
    yield root
    if os.path.isdir(root) and not os.path.islink(root):
        for directory, dirs, files in os.walk(root):
            for name in dirs + files:
                yield os.path.join(directory, name)


def secure(sandbox, protected_read, protected_write, sealed, fix_permissions, sandbox_uids):
    """Make sure the sandbox user can reach nothing of the grader's; True if it can run our Python.

    sandbox_uids: every sandbox user's uid (see sandbox_uids()).

    protected_read: paths it must not read. Every file under them is checked, since
    a directory it cannot list may still hold files it can open by name.
    protected_write: folders it must neither write nor redirect (the output folder, the cases).
    sealed: folders it must not enter, list or write. Only each folder itself is
    checked and changed, so nothing inside needs walking, however large it is.

    Everything is checked in one probe that runs as the sandbox user; more probes
    run only if access had to be taken away (one after closing the sealed folders,
    one after any change inside).
    """
    temporary = os.path.realpath(tempfile.gettempdir())
    sealed = [str(Path(f).resolve()) for f in sealed if Path(f).is_dir()]
    for folder in sealed:
        if folder == os.sep or temporary == folder or temporary.startswith(folder + os.sep):
            raise UserError(f"refusing to grade: the project folder {folder} would have to be closed to "
                            f"other users, but it holds the system's temporary folder; keep the test "
                            f"cases and the reference in a folder of their own")
    outputs = [Path(p).resolve() for p in protected_write if Path(p).is_dir()]
    above = _check_output_owners(outputs, sandbox_uids)
    protected_read = [str(Path(p).resolve()) for p in protected_read if Path(p).exists()]
    protected_write = [str(p) for p in outputs]
    read_paths = [path for root in protected_read for path in _walk(root)]
    write_paths = [path for root in protected_write for path in _walk(root)]
    own = _own_python()

    def probe():
        return {"exposed": ([["enter", f] for f in sealed if _enterable(f)]
                            + _reachable(read_paths, write_paths)),
                "rename": [p for p in above if os.access(p, os.W_OK)],
                "python": _can_run(*own)}
    found = _as_user(sandbox, probe)
    for path in found["rename"]:
        if not os.stat(path).st_mode & stat.S_ISVTX:
            folder = next(o for o in protected_write if o.startswith(path.rstrip(os.sep) + os.sep))
            raise UserError(f"refusing to grade into {folder}: the sandbox user {sandbox.user!r} may rename "
                            f"entries in {path}, and so swap the folder; use folders that only you can change")
    if not found["exposed"]:
        return found["python"]
    if not fix_permissions:
        raise UserError(_exposed_message(sandbox, found["exposed"]))
    exposed = {path for _, path in found["exposed"]}
    opened = [folder for folder in sealed if folder in exposed]
    for folder in opened:
        os.chmod(folder, stat.S_IMODE(os.stat(folder).st_mode) & ~0o007)
        _notice(sandbox, f"removed other users' access to {folder}, so that the sandbox user "
                         f"{sandbox.user!r} cannot reach the reference solution, test cases or "
                         f"reports in it")
    if opened:  # closing a folder may be all it takes: change nothing inside it that needs no change
        found = _as_user(sandbox, probe)
        exposed = {path for _, path in found["exposed"]}
        if not exposed:
            return found["python"]
    for root in protected_read + protected_write:
        if any(path == root or path.startswith(root + os.sep) for path in exposed):
            changed = _remove_other_access(root)
            if changed:
                _notice(sandbox, f"removed other users' access to {root} ({changed} path(s)), so that the "
                                 f"sandbox user {sandbox.user!r} cannot reach the grader's data")
    found = _as_user(sandbox, probe)
    if found["exposed"]:
        raise UserError(_exposed_message(sandbox, found["exposed"]))
    return found["python"]


def _notice(sandbox, notice):
    sandbox.notices.append(notice)
    print(f"note: {notice}", file=sys.stderr)  # now, in case a later step fails


def _enterable(folder):
    return any(os.access(folder, how) for how in (os.R_OK, os.W_OK, os.X_OK))


def _check_output_owners(outputs, uids):
    """Refuse output folders that the sandbox user could swap for a link while grading.

    Results are written by root. If a sandbox user owns an output folder or one
    of the folders above it, its code could redirect those writes to any file on
    the machine. Returns the folders above the outputs: the probe checks that the
    sandbox user may not rename entries in them either (sticky ones like /tmp aside).
    """
    above = []
    for folder in outputs:
        for path in [folder, *folder.parents]:
            info = os.lstat(path)
            if info.st_uid in uids:
                raise UserError(f"refusing to grade into {folder}: {path} belongs to the sandbox user "
                                f"{pwd.getpwuid(info.st_uid).pw_name!r}, whose code could redirect the "
                                f"grader's writes; use folders that only you can change")
        above += [str(p) for p in folder.parents if str(p) not in above]
    return above


def drop_unsafe_import_paths(uids):
    """Root mode: forget the entries of Python's import path that a sandbox user could add to.

    `python -m grader` run from a folder like /tmp puts that folder first on the
    path, and a sandbox user could leave a `jinja2` package there for root to run:
    in a later grade, or in `batch`, where one job loads modules while another
    job's student code runs.
    Returns a note for each entry dropped.
    """
    gids = sandbox_gids(uids)
    kept, notes = [], []
    for entry in sys.path:
        if not isinstance(entry, str) or (entry and not os.path.isabs(entry) and not os.path.exists(entry)):
            kept.append(entry)  # not a folder: a path hook's marker, like an editable install's
            continue
        if writable_by(os.path.abspath(entry or os.curdir), uids, gids):
            notes.append(f"ignored {entry or os.getcwd()} on Python's import path: the sandbox user "
                         f"could put modules there")
        else:
            kept.append(entry)
    sys.path[:] = kept
    return notes


def sandbox_gids(uids):
    """The primary groups of the users with these uids."""
    return {pwd.getpwuid(uid).pw_gid for uid in uids}


def sandbox_uids():
    """The uids of every sandbox user on this machine (bpgrader, bpgrader1, ...)."""
    base = os.environ.get("BPGRADER_USER", DEFAULT_USER)
    uids = set()
    for entry in pwd.getpwall():
        suffix = entry.pw_name[len(base):]
        if entry.pw_name.startswith(base) and (suffix == "" or suffix.isdigit()):
            uids.add(entry.pw_uid)
    return uids


def _remove_other_access(root):
    changed = 0
    for path in _walk(root):
        if os.path.islink(path):
            continue
        mode = os.stat(path).st_mode
        if mode & 0o007:
            os.chmod(path, stat.S_IMODE(mode) & ~0o007)
            changed += 1
    return changed


def _exposed_message(sandbox, found):
    sample = ", ".join(f"{how} {path}" for how, path in found[:3])
    return (f"refusing to run student code: the sandbox user {sandbox.user!r} can {sample}"
            f"{' and more' if len(found) > 3 else ''}. Remove that access (for example "
            f"`chmod -R o-rwx` on it, and make sure the user is in none of its groups).")


def worker_python(sandbox, own_usable):
    """An interpreter with NumPy that the sandbox user can run.

    own_usable: whether the sandbox user can run the grader's own Python, as
    secure()'s probe found. Other candidates are tried by running them as that
    user, and the answer is remembered in the root-only lock folder until the
    interpreter changes.
    """
    if own_usable:
        return sys.executable
    candidates = [os.environ.get("BPGRADER_WORKER_PYTHON"), "/usr/bin/python3", "/usr/local/bin/python3"]
    tried = [sys.executable]
    cache = _probe_cache()
    for python in candidates:
        if not python or python in tried or not os.path.exists(python):
            continue
        tried.append(python)
        real = os.path.realpath(python)
        key = f"{real}:{sandbox.uid}:{os.stat(real).st_mtime_ns}"
        if key not in cache:
            try:
                result = subprocess.run([python, "-I", "-c", "import numpy"], capture_output=True,
                                        timeout=60, **_probe_options(sandbox))
                cache[key] = result.returncode == 0
            except (OSError, subprocess.SubprocessError):
                cache[key] = False
            _save_probe_cache(cache)
        if cache[key]:
            return python
    raise UserError(f"no Python with NumPy can be run by the sandbox user {sandbox.user!r} "
                    f"(tried {', '.join(tried)}). Install Python and NumPy system-wide, as "
                    f"Gradescope's setup.sh does, or set BPGRADER_WORKER_PYTHON to an interpreter "
                    f"outside /root that has NumPy.")


def _own_python():
    """(interpreter, NumPy's folder) of the grader's own Python, for _can_run as the sandbox user."""
    import importlib.util
    spec = importlib.util.find_spec("numpy")
    numpy_dir = os.path.dirname(os.path.realpath(spec.origin)) if spec and spec.origin else "/nonexistent"
    return os.path.realpath(sys.executable), numpy_dir


def _can_run(python, numpy_dir):
    return (os.access(python, os.X_OK) and os.access(numpy_dir, os.R_OK | os.X_OK)
            and os.access(os.path.join(numpy_dir, "__init__.py"), os.R_OK))


def _probe_cache():
    try:
        with open(os.path.join(LOCK_DIR, "interpreters.json")) as handle:
            data = json.load(handle)
        return {str(k): bool(v) for k, v in data.items()}
    except (OSError, ValueError, AttributeError):
        return {}


def _save_probe_cache(cache):
    path = os.path.join(LOCK_DIR, "interpreters.json")
    temporary = f"{path}.{os.getpid()}"
    try:
        with open(temporary, "w") as handle:
            json.dump(cache, handle)
        os.replace(temporary, path)
    except OSError:
        pass


def _probe_options(sandbox):
    return {"cwd": str(sandbox.workdir), "env": sandbox.environment(), "user": sandbox.uid,
            "group": sandbox.gid, "extra_groups": []}


# Ending every process ------------------------------------------------------------

def _user_process_count():
    """What counts against this user's RLIMIT_NPROC now: on Linux every thread of its
    processes, roughly (read in one pass over /proc); elsewhere its processes."""
    uid = os.getuid()
    if not os.path.isdir("/proc/self/task"):
        return sum(1 for _, owner, _ in _process_table().values() if owner == uid)
    threads = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    threads += len(os.listdir(f"/proc/{entry}/task"))
            except OSError:
                continue
    return threads


def become_subreaper():
    """Orphaned descendants of the worker become our children instead of init's (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def _process_table(owners=True):
    """{pid: (ppid, uid, zombie)} from /proc, or from ps where there is no /proc (macOS).
    owners=False leaves uid None on Linux, for a caller that needs only the tree."""
    if not os.path.isdir("/proc/self"):
        return _ps_table()
    table = {}
    uid = None
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:  # plain descriptors: this runs on every process of the machine, several times a grade
            fd = os.open(f"/proc/{entry}/stat", os.O_RDONLY)
            try:
                stat_line = os.read(fd, 4096)
            finally:
                os.close(fd)
            # The folder's owner, not the file's: a process that makes itself non-dumpable
            # turns its files over to root, but /proc/PID still shows its own user.
            if owners:
                uid = os.stat(f"/proc/{entry}").st_uid
        except OSError:
            continue
        # "pid (command) state ppid ...": the command may itself hold spaces and parentheses.
        fields = stat_line[stat_line.rfind(b")") + 2:].split()
        if len(fields) >= 2:
            table[int(entry)] = (int(fields[1]), uid, fields[0] == b"Z")
    return table


def _ps_table():
    try:
        listing = subprocess.run(["ps", "-A", "-o", "pid=,ppid=,uid=,stat="], capture_output=True,
                                 text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return {}
    table = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[0].isdigit() and fields[1].isdigit():
            try:
                table[int(fields[0])] = (int(fields[1]), int(fields[2]), fields[3].startswith("Z"))
            except ValueError:
                continue
    return table


def direct_children():
    me = os.getpid()
    return {pid for pid, (ppid, _, _) in _process_table(owners=False).items() if ppid == me}


def descendants(root_pid, table):
    children = {}
    for pid, (ppid, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found, stack = [], list(children.get(root_pid, []))
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def kill_tree(roots, keep=frozenset(), rounds=50):
    """Stop, then kill, `roots`, everything below them, and every orphan re-parented to us.

    Orphans are our direct children that are not in `keep` (the children we had
    before the worker started): as a subreaper, we inherit whatever the worker's
    descendants leave behind, even after they start sessions of their own.
    Stopping first keeps a fork loop from outrunning the kill.
    """
    me = os.getpid()
    for _ in range(rounds):
        table = _process_table(owners=False)
        tops = [pid for pid in roots if pid in table]
        tops += [pid for pid, (ppid, _, _) in table.items() if ppid == me and pid not in keep]
        targets = set(tops)
        for pid in tops:
            targets.update(descendants(pid, table))
        targets.discard(me)
        alive = {pid for pid in targets if not table[pid][2]}
        _reap(pid for pid in targets if table[pid][0] == me)
        if not alive:
            return
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in alive:
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        time.sleep(0.005)
        _reap(pid for pid in targets if table[pid][0] == me)


def _reap(pids):
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def kill_user_processes(sandbox):
    """Root mode: kill every process of the sandbox user, whoever its parent is now."""
    if not sandbox.switches_user:
        return
    for _ in range(20):
        alive = [pid for pid, (_, uid, zombie) in _process_table().items()
                 if uid == sandbox.uid and not zombie]
        if not alive:
            return
        pid = os.fork()
        if pid == 0:
            try:
                os.setgroups([])
                os.setgid(sandbox.gid)
                os.setuid(sandbox.uid)
                os.kill(-1, signal.SIGKILL)  # every process this user may signal: all of its own
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.02)
        me = os.getpid()
        _reap(pid for pid, (ppid, uid, _) in _process_table().items() if ppid == me and uid == sandbox.uid)
