"""Kernel isolation: namespaces through bubblewrap (bwrap), where the machine allows them.

Where it runs, each worker gets a private mount namespace (the whole file system
read-only, fresh size-capped nosuid,nodev tmpfs on /tmp, /var/tmp and /dev/shm, a
private /proc and a minimal /dev), no network, and a PID namespace of its own. The
grader probes once per process whether bwrap can do this here: in a container without
the capability it cannot, and the sandbox user alone isolates the worker (see box.py).
BPGRADER_ISOLATION=user forces that fallback; =namespaces makes its absence an error.
"""
import os
import shutil
import subprocess

from ..errors import UserError

ISOLATION_SETTING = "BPGRADER_ISOLATION"   # auto (the default), namespaces, or user
NAMESPACES = "namespaces"                  # the Sandbox.isolation values
USER_ONLY = "sandbox user"
PROCESS_ONLY = "none"
TEMPORARY_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")   # each a fresh tmpfs of TMPFS_BYTES per worker
TMPFS_BYTES = 64 << 20
# Linux's unshare(2) and mount(2) flags, for the zygote's children (see worker._private_temporary_folders).
CLONE_NEWNS = 0x00020000

_probed = {}   # bwrap's path -> None if namespaces work here, else why not


def isolation_setting():
    setting = os.environ.get(ISOLATION_SETTING, "auto")
    if setting not in ("auto", NAMESPACES, "user"):
        raise UserError(f"{ISOLATION_SETTING}={setting!r}: use auto, namespaces or user")
    return setting


def namespaces_refused():
    """None if workers can run in namespaces here (root mode); otherwise why not, in a few words."""
    setting = isolation_setting()
    if setting == "user":
        return f"{ISOLATION_SETTING}=user"
    bwrap, setpriv = shutil.which("bwrap"), shutil.which("setpriv")
    if bwrap is None or setpriv is None:
        reason = "bubblewrap (bwrap) is not installed" if bwrap is None else "setpriv is not installed"
    else:
        if bwrap not in _probed:
            _probed[bwrap] = _probe(bwrap, setpriv)
        reason = _probed[bwrap]
    if reason and setting == NAMESPACES:
        raise UserError(f"{ISOLATION_SETTING}=namespaces, but {reason}")
    return reason


def _probe(bwrap, setpriv):
    command = worker_prefix(65534, 65534, "/", bwrap, setpriv) + ["true"]
    try:
        finished = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"bwrap could not run ({exc})"
    if finished.returncode != 0:
        said = finished.stderr.decode("utf-8", "replace").strip().splitlines()
        return f"the kernel or container refused namespaces ({said[-1] if said else finished.returncode})"
    return None


def _namespace_options(workdir, bwrap):
    options = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
               "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev", "--die-with-parent",
               "--chdir", str(workdir)]
    return options


def worker_prefix(uid, gid, workdir, bwrap=None, setpriv=None):
    """The command that starts a fresh worker in namespaces, as the sandbox user, in workdir.

    bwrap (as root) makes the namespaces and mounts, keeping only the capabilities to
    change user; setpriv then becomes the sandbox user for good, with no groups and no
    capabilities left, before the worker's interpreter starts. bwrap also sets
    no_new_privs, so no set-user-ID file runs with its owner's rights.
    """
    bwrap = bwrap or shutil.which("bwrap")
    setpriv = setpriv or shutil.which("setpriv")
    options = _namespace_options(workdir, bwrap)
    for folder in TEMPORARY_FOLDERS:
        options += ["--perms", "1777", "--size", str(TMPFS_BYTES), "--tmpfs", folder]
    return options + ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--",
                      setpriv, f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--bounding-set=-all",
                      "--inh-caps=-all", "--"]


def zygote_prefix():
    """The command that starts `batch`'s zygote in namespaces: root, with the capabilities it needs
    to fork workers that become the sandbox user in fresh temporary folders of their own."""
    options = _namespace_options("/", shutil.which("bwrap"))
    return options + ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SYS_ADMIN", "--"]


def exit_status(code):
    """A worker's status as Popen gives it, from bwrap's, which reports death by signal N as 128 + N."""
    return -(code - 128) if code is not None and 128 < code < 128 + 65 else code
