"""What the sandbox user may reach: the probe that checks it, and the changes that close it."""
import os
import pwd
import stat
import sys
import tempfile
from pathlib import Path

from ..errors import UserError
from ..worker import writable_by
from .user import _as_user, _can_run, _own_python, sandbox_gids

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
        mode = stat.S_IMODE(os.stat(folder).st_mode)
        if not mode & 0o007:
            continue  # another job of the same batch closed it meanwhile, and said so
        _notice(sandbox, f"other users' access to {folder}, so that the sandbox user {sandbox.user!r} cannot "
                         f"reach the reference solution, test cases or reports in it "
                         f"(chmod {mode:o} to {mode & ~0o007:o}; `chmod o+rx {folder}` gives it back)")
        os.chmod(folder, mode & ~0o007)
    if opened:  # closing a folder may be all it takes: change nothing inside it that needs no change
        found = _as_user(sandbox, probe)
        exposed = {path for _, path in found["exposed"]}
        if not exposed:
            return found["python"]
    for root in protected_read + protected_write:
        if any(path == root or path.startswith(root + os.sep) for path in exposed):
            _notice(sandbox, f"other users' access to {root} and what it holds, so that the sandbox user "
                             f"{sandbox.user!r} cannot reach the grader's data")
            _remove_other_access(root)
    found = _as_user(sandbox, probe)
    if found["exposed"]:
        raise UserError(_exposed_message(sandbox, found["exposed"]))
    return found["python"]


def _notice(sandbox, access):
    """Say what access is about to be removed (before the change, in case it fails), and keep the
    note for the report."""
    print(f"note: removing {access}", file=sys.stderr, flush=True)
    sandbox.notices.append(f"removed {access}")


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


