"""The sandbox one grade runs in: its private folder, its user, its isolation and its limits.

Three ways to run, chosen when the sandbox opens:
- Root, with namespaces (kernel.py): the worker runs as an unprivileged sandbox user
  inside bubblewrap's namespaces: the file system read-only but for fresh size-capped
  temporary folders, no network, a PID namespace of its own.
- Root, without namespaces (a container that refuses them): the worker runs as the
  sandbox user on the machine's own file system. After every grade, and between the
  visible and the hidden cases, every process of that user is killed and every file it
  owns, wherever it could write, is deleted (files.py).
- A normal user: the worker runs as that user, with the same process and resource
  isolation but no user switch. It cannot be kept from the user's files.

In root mode, before any student code runs, a probe running as the sandbox user checks
that it can read none of the protected files (the test cases, the config) and write none
of the protected folders (the results) (access.py). In every mode the worker gets a
private working folder, resource limits, a session of its own, and the grader becomes a
subreaper, so that every process the student's code starts is found and killed (processes.py).
"""
import os
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import List, Optional

from . import files, kernel
from ..worker import ONE_THREAD, OUTPUT_FILE_LIMIT
from .access import drop_unsafe_import_paths, secure
from .processes import _user_process_count, become_subreaper, kill_user_processes
from .user import _claim_user, ensure_user, sandbox_uids, worker_python

# A worker's environment, but for its folders (HOME and TMPDIR): a fixed locale, one
# thread for the BLAS libraries (set before NumPy loads), and no display for Matplotlib.
WORKER_ENVIRONMENT = {
    "PATH": "/usr/local/bin:/usr/bin:/bin",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    **ONE_THREAD,
    "MPLBACKEND": "Agg",
}
MAX_PROCESSES = 64            # processes and threads a normal user's worker may add
# Root mode: the sandbox user may have this many processes and threads, all told. With
# one, the address-space limit caps the memory of everything student code runs (it can
# neither fork nor start threads; a layer needs neither).
SANDBOX_PROCESSES = 1
WORK_ROOT = "/run/bpgrader"   # root mode: the private folders, outside every temporary folder


@dataclass
class Sandbox:
    base: Path                  # private directory, removed by close()
    workdir: Path               # the worker's working directory: root's until the files are in it
    python: str                 # interpreter for the worker
    memory_mb: int
    cpu_seconds: int
    uid: Optional[int] = None   # sandbox user, in root mode
    gid: Optional[int] = None
    user: Optional[str] = None
    notices: List[str] = field(default_factory=list)
    lock: Optional[int] = None  # held for as long as this run owns the sandbox user
    isolation: str = kernel.PROCESS_ONLY   # see kernel.py: namespaces, sandbox user, none
    interpreter: str = ""       # what runs the student's code, if not the grader's own Python
    _renewals: int = 0

    @property
    def switches_user(self):
        return self.uid is not None

    @property
    def namespaces(self):
        return self.isolation == kernel.NAMESPACES

    def environment(self):
        temporary = "/tmp" if self.namespaces else str(self.workdir)
        return dict(WORKER_ENVIRONMENT, HOME=temporary, TMPDIR=temporary)

    def limits(self):
        """The resource limits the worker sets on itself before any student code runs.

        Soft and hard limits are equal, and an unprivileged process can never raise a
        hard limit again. Setting them in the worker rather than in a preexec_fn keeps
        process start-up safe in a threaded parent, and fast.
        """
        cpu = max(1, int(self.cpu_seconds))
        # The process limit counts every process of the user: a sandbox user has none but the
        # worker; a normal user keeps what it runs now, plus room for the worker's threads.
        processes = SANDBOX_PROCESSES if self.switches_user else _user_process_count() + MAX_PROCESSES
        return {"RLIMIT_AS": [self.memory_mb << 20] * 2, "RLIMIT_CPU": [cpu, cpu + 5],
                "RLIMIT_FSIZE": [OUTPUT_FILE_LIMIT] * 2, "RLIMIT_CORE": [0, 0],
                "RLIMIT_NPROC": [processes] * 2}

    def command_prefix(self):
        """What the worker's command starts with: bwrap and setpriv in namespaces, else nothing."""
        if not self.namespaces:
            return []
        return kernel.worker_prefix(self.uid, self.gid, self.workdir)

    def zygote_prefix(self):
        return kernel.zygote_prefix() if self.namespaces else []

    def popen_options(self):
        """Keyword arguments for subprocess.Popen that start a process inside the sandbox."""
        options = {"cwd": str(self.workdir), "env": self.environment(), "start_new_session": True,
                   "close_fds": True, "umask": 0o077}
        if self.switches_user and not self.namespaces:  # (in namespaces, setpriv switches)
            options.update(user=self.uid, group=self.gid, extra_groups=[])
        return options

    def fork_request(self):
        """What the zygote needs to fork a worker into this sandbox (see worker.zygote)."""
        return {"uid": self.uid, "gid": self.gid, "workdir": str(self.workdir), "env": self.environment(),
                "limits": self.limits(),
                "tmpfs": ({folder: kernel.TMPFS_BYTES for folder in kernel.TEMPORARY_FOLDERS}
                          if self.namespaces else {})}

    def sweep(self):
        """Root mode: end every process of the sandbox user and, without namespaces, delete
        every file it left wherever it could write. Returns how many files were deleted."""
        if not self.switches_user:
            return 0
        kill_user_processes(self)
        if self.namespaces:
            return 0  # its temporary folders went with its mount namespace; the rest is read-only
        return files.delete_user_files(self.uid, self.gid, skip=(str(self.base),))

    def renew_workdir(self):
        """Between the visible and the hidden cases: nothing the first worker left carries over.
        Ends the sandbox user's processes and files, and gives the next worker a new folder;
        returns whether it did (the files must then be installed again).

        In namespaces there is nothing to end or remove: the worker's temporary folders went
        with its mount namespace, the rest of its file system (its working folder too) is
        read-only, and it could start no process (SANDBOX_PROCESSES) that outlives stop()."""
        if self.namespaces:
            return False
        self.sweep()
        old = self.workdir
        self._renewals += 1
        self.workdir = files.private_folder(self.base / f"work-{self._renewals}")
        files.remove_tree(old)
        return True

    def close(self):
        try:
            self.sweep()
        finally:
            files.remove_tree(self.base)
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
    root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="bpgrader-", dir=_work_root() if root else None))
    try:
        workdir = files.private_folder(base / "work")
        if not root:
            return Sandbox(base, workdir, python or sys.executable, memory_mb, cpu_seconds)
        user, lock = _claim_user()
        try:
            uid, gid = ensure_user(user)
        except BaseException:
            os.close(lock)
            raise
        os.chmod(base, 0o711)   # the worker may pass through to its workdir, not list it
        sandbox = Sandbox(base, workdir, "", memory_mb, cpu_seconds, uid, gid, user, lock=lock)
        refused = kernel.namespaces_refused()
        sandbox.isolation = kernel.USER_ONLY if refused else kernel.NAMESPACES
        sandbox.sweep()  # anything a crashed earlier run of this user left behind
        uids = sandbox_uids()
        sandbox.notices += drop_unsafe_import_paths(uids)
        own_python = secure(sandbox, protected_read, protected_write, sealed, fix_permissions, uids)
        sandbox.python, sandbox.interpreter = worker_python(sandbox, own_python, python)
        return sandbox
    except BaseException:
        files.remove_tree(base)
        raise


def _work_root():
    """Root mode: a root-owned folder for the private folders, outside /tmp, /var/tmp and
    /dev/shm (which a worker in namespaces sees as fresh, empty folders of its own)."""
    try:
        os.makedirs(WORK_ROOT, mode=0o711, exist_ok=True)
        info = os.lstat(WORK_ROOT)
        if info.st_uid == 0 and not info.st_mode & 0o022 and os.path.isdir(WORK_ROOT):
            return WORK_ROOT
    except OSError:
        pass
    return None


def describe_interpreter(sandbox):
    """Which Python and NumPy run the student's code: "/usr/bin/python3 (Python 3.10.12, NumPy 2.2.6)".
    Asked once the grader has loaded its own NumPy (the same as the worker's, if the interpreter is)."""
    if sandbox.interpreter:
        return sandbox.interpreter
    import platform
    numpy = sys.modules.get("numpy")
    return f"{sandbox.python} (Python {platform.python_version()}, NumPy {getattr(numpy, '__version__', '?')})"
