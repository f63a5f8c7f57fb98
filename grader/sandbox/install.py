"""Putting a submission's files into the sandbox, as root, without ever following a link.

The worker's folder is root's until every file is in it: no code of any sandbox user
can plant a link there first (a link `layers.py -> /etc/passwd` would turn root's
write into a write anywhere). Every folder and file is created relative to its
folder's descriptor, with O_NOFOLLOW and O_EXCL, and only then handed to the sandbox
user. A write the disk cannot take is the grader's failure, never the student's.
"""
import errno
import os
from pathlib import PurePosixPath

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class InstallError(Exception):
    """The grader could not put the submission's files in place (a full disk, say): its own failure."""


def install_files(box, files):
    """Write {relative path: bytes} into box.workdir, then give the folder to the sandbox user.
    Returns notes on files that could not be placed beside the others (a zip holding both a
    file `x` and a folder `x/`); raises InstallError on anything else."""
    notes, opened = [], {}
    root = os.open(box.workdir, _DIRECTORY)
    owned = [root]
    try:
        for relative, content in files.items():
            parts = PurePosixPath(relative).parts
            try:
                folder = _folder(root, parts[:-1], opened, owned)
                owned.append(_write(folder, parts[-1], content))
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
                notes.append(f"{relative} was left out: it could not be placed beside the other files "
                             f"({exc.strerror or exc})")
            except OSError as exc:
                raise InstallError(f"could not copy {relative} into the sandbox: "
                                   f"{exc.strerror or exc}") from None
        if box.switches_user:
            for fd in owned:  # descriptors, not paths: nothing can be swapped in meanwhile
                os.fchown(fd, box.uid, box.gid)
    finally:
        for fd in set(owned) | set(opened.values()):
            try:
                os.close(fd)
            except OSError:
                pass
    return notes


def _folder(root, parts, opened, owned):
    fd = root
    for depth in range(1, len(parts) + 1):
        key = parts[:depth]
        if key not in opened:
            try:
                os.mkdir(parts[depth - 1], 0o700, dir_fd=fd)
            except FileExistsError:
                pass  # made for an earlier file, or a file of that name is there: the open says which
            try:
                opened[key] = os.open(parts[depth - 1], _DIRECTORY, dir_fd=fd)
            except NotADirectoryError:  # a file of that name came first
                raise FileExistsError(errno.EEXIST, "File exists") from None
            owned.append(opened[key])
        fd = opened[key]
    return fd


def _write(folder, name, content):
    fd = os.open(name, _CREATE, 0o600, dir_fd=folder)
    try:
        view = memoryview(content)
        while view:
            written = os.write(fd, view)
            if written <= 0:
                raise OSError(errno.ENOSPC, "the disk took no more")
            view = view[written:]
        if os.fstat(fd).st_size != len(content):
            raise OSError(errno.EIO, "the file's size differs from what was written")
        return fd
    except BaseException:
        os.close(fd)
        raise
