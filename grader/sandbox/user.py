"""The sandbox user: claimed per grading run, created on demand, and the interpreter it runs."""
import json
import os
import pwd
import shutil
import subprocess
import sys

from ..errors import UserError

DEFAULT_USER = "bpgrader"

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
    announced = False
    for command in commands:
        if shutil.which(command[0]) is None:
            continue
        if not announced:  # before the change, in case it fails
            print(f"note: creating the system user {name!r} (no home folder, no login) that student code runs "
                  f"as; later runs reuse it (`userdel {name}` removes it)", file=sys.stderr, flush=True)
            announced = True
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode == 0 or "already exists" in result.stderr:
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
        errors.append(f"{command[0]}: {result.stderr.strip()}")
    raise UserError(f"cannot create the sandbox user {name!r} that student code runs as "
                    f"({'; '.join(errors) or 'neither useradd nor adduser is installed'}). "
                    f"Create it with `useradd --system --no-create-home {name}`.")


def _as_user(sandbox, function):
    """Run function() as the sandbox user, with no groups but its own; return its JSON result.

    On Linux, when the user has no process running, it runs in a thread of its own that becomes
    the user alone: the kernel keeps a user per thread, and glibc makes a change of user apply
    to every thread only through its wrappers, which the thread bypasses. The thread can never
    become root again, and its identity ends with it. Otherwise it runs in a forked child, which
    costs a copy of this process (a batch's grading process would pay for that per submission).
    """
    from .processes import _live_processes_of
    # While the thread has the user's identity, a process of that user could reach it (and,
    # through it, limits that are the whole process's): none may run then. The sweep before
    # the probe ended them all; if any is left, the probe runs in a child of its own.
    if not _live_processes_of(sandbox.uid):
        result = _in_thread_as(sandbox.uid, sandbox.gid, function)
        if result is not _NO_THREAD:
            return result
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


# The system calls that change one thread's identity (setgroups, setresgid, setresuid), by
# architecture: glibc's functions of the same names change every thread's.
_SET_IDENTITY = {"x86_64": (116, 119, 117), "aarch64": (159, 149, 147)}
_NO_THREAD = object()


def _in_thread_as(uid, gid, function):
    """function()'s result through JSON, computed in a new thread that has become uid and gid
    (real, effective and saved) with no supplementary groups; _NO_THREAD where a thread
    cannot change its identity alone (not Linux, another architecture, or refused)."""
    numbers = _SET_IDENTITY.get(os.uname().machine) if sys.platform.startswith("linux") else None
    if numbers is None or uid is None or gid is None:
        return _NO_THREAD
    import ctypes
    import threading
    setgroups, setresgid, setresuid = numbers
    outcome = {}

    def become_and_run():
        libc = ctypes.CDLL(None, use_errno=True)
        call = libc.syscall
        call.restype = ctypes.c_long
        if (call(ctypes.c_long(setgroups), ctypes.c_long(0), None) != 0
                or call(ctypes.c_long(setresgid), *[ctypes.c_long(gid)] * 3) != 0
                or call(ctypes.c_long(setresuid), *[ctypes.c_long(uid)] * 3) != 0):
            return
        # (os.getresuid and friends ask the kernel about this thread)
        if os.getresuid() != (uid, uid, uid) or os.getresgid() != (gid, gid, gid) or os.getgroups() not in ([], [gid]):
            return
        outcome["json"] = json.dumps(function())

    thread = threading.Thread(target=become_and_run, name="as the sandbox user")
    thread.start()
    thread.join()
    if "json" not in outcome:
        return _NO_THREAD
    return json.loads(outcome["json"])


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



def worker_python(sandbox, own_usable, chosen=None):
    """(interpreter, its description or "") for the worker: one with NumPy that the sandbox user can run.

    The rule is fixed, and its outcome is reported with every grade: the interpreter
    given (`chosen`, or BPGRADER_WORKER_PYTHON), else the grader's own Python if the
    sandbox user can run it (secure()'s probe says so in own_usable), else the first of
    /usr/bin/python3 and /usr/local/bin/python3 that can import NumPy as that user. Another
    interpreter may have another NumPy than the grader's: its versions are asked as that
    user, and remembered in the root-only lock folder until the interpreter changes.
    """
    if chosen:
        return chosen, ""
    setting = os.environ.get("BPGRADER_WORKER_PYTHON")
    if own_usable and not setting:
        return sys.executable, ""
    candidates = [setting] if setting else ["/usr/bin/python3", "/usr/local/bin/python3"]
    tried = [] if setting else [sys.executable]
    cache = _probe_cache()
    for python in candidates:
        if not python or python in tried or not os.path.exists(python):
            continue
        tried.append(python)
        real = os.path.realpath(python)
        key = f"{real}:{sandbox.uid}:{os.stat(real).st_mtime_ns}"
        if key not in cache:
            try:
                result = subprocess.run([python, "-I", "-c", "import platform, numpy; "
                                         "print(platform.python_version(), numpy.__version__)"],
                                        capture_output=True, text=True, timeout=60, **_probe_options(sandbox))
                versions = result.stdout.split()
                cache[key] = (f"{python} (Python {versions[0]}, NumPy {versions[1]})"
                              if result.returncode == 0 and len(versions) == 2 else "")
            except (OSError, subprocess.SubprocessError):
                cache[key] = ""
            _save_probe_cache(cache)
        if cache[key]:
            return python, cache[key]
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
        return {str(k): v for k, v in data.items() if isinstance(v, str)}
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
    return {"cwd": "/", "env": sandbox.environment(), "user": sandbox.uid,
            "group": sandbox.gid, "extra_groups": []}


