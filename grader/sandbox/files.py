"""Files of the sandbox: root's private folders, and deleting whatever the sandbox user left.

Every walk here is iterative and works through directory descriptors: it never
follows a link, never recurses in Python (a folder 1,100 levels deep is no problem),
and never builds a path longer than one name.
"""
import os
import stat

# Where a sandbox user can write on a usual Linux machine: the temporary folders, the
# lock folder, POSIX message queues. Anything it could write elsewhere is found too if it
# is under one of these; see delete_user_files.
WRITABLE_PLACES = ("/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/var/lock", "/dev/mqueue", "/var/crash")
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


def private_folder(path):
    """A new folder at path, root's (or this user's) and closed to everyone else."""
    os.mkdir(path, 0o700)
    os.chmod(path, 0o700)
    return path


def remove_tree(path):
    """Delete path and everything below it, however deep, following no link; errors are ignored."""
    path = os.fspath(path)
    parent, name = os.path.split(path.rstrip(os.sep)) if path != os.sep else (None, None)
    if not name:
        return
    try:
        parent_fd = os.open(parent or os.curdir, _DIRECTORY)
    except OSError:
        return
    try:
        _remove_entry(parent_fd, name)
    finally:
        os.close(parent_fd)


def _remove_entry(parent_fd, name):
    """Delete one entry of the folder parent_fd: a file at once, a folder depth-first with a stack."""
    try:
        os.unlink(name, dir_fd=parent_fd)
        return
    except IsADirectoryError:
        pass
    except OSError as exc:
        if exc.errno not in (1, 21):  # EPERM is what unlink says of a folder on some systems
            return
    stack = []   # (descriptor of a folder, its name in the folder below on the stack)
    try:
        stack.append((os.open(name, _DIRECTORY, dir_fd=parent_fd), name))
    except OSError:
        return
    while stack:
        fd = stack[-1][0]
        descended = False
        try:
            with os.scandir(fd) as entries:
                names = [(entry.name, entry.is_dir(follow_symlinks=False)) for entry in entries]
        except OSError:
            names = []
        for child, is_dir in names:
            if is_dir:
                try:
                    stack.append((os.open(child, _DIRECTORY, dir_fd=fd), child))
                    descended = True
                    break
                except OSError:
                    continue
            try:
                os.unlink(child, dir_fd=fd)
            except OSError:
                pass
        if descended:
            continue
        fd, emptied = stack.pop()
        os.close(fd)
        try:
            os.rmdir(emptied, dir_fd=stack[-1][0] if stack else parent_fd)
        except OSError:  # an entry that would not go: leave the rest rather than loop on it
            while stack:
                os.close(stack.pop()[0])
            return


def delete_user_files(uid, gid, places=WRITABLE_PLACES, skip=()):
    """Delete every file, folder, link, socket and pipe owned by uid under the places it
    could write; returns how many were deleted.

    The sandbox user can only create entries in folders it can pass through, so the walk
    goes into exactly those (its own, and those open to others or to its group): it never
    enters a private folder such as another program's, and costs little where nothing is.
    skip: folders not to enter (the sandbox's own, removed whole).
    """
    deleted = 0
    seen = set()
    for place in places:
        try:
            fd = os.open(place, _DIRECTORY)
        except OSError:
            continue
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) in seen:  # /var/lock is often /run/lock
            os.close(fd)
            continue
        seen.add((info.st_dev, info.st_ino))
        stack = [(fd, place)]
        while stack:
            fd, where = stack.pop()
            try:
                with os.scandir(fd) as entries:
                    listing = [(entry.name, entry.stat(follow_symlinks=False)) for entry in entries]
            except OSError:
                listing = []
            for name, entry in listing:
                if entry.st_uid == uid:
                    _remove_entry(fd, name)
                    deleted += 1
                elif stat.S_ISDIR(entry.st_mode) and _passable(entry, uid, gid) \
                        and os.path.join(where, name) not in skip:
                    try:
                        stack.append((os.open(name, _DIRECTORY, dir_fd=fd), os.path.join(where, name)))
                    except OSError:
                        pass
            os.close(fd)
    return deleted


def _passable(info, uid, gid):
    mode = info.st_mode
    return bool(mode & 0o001 or (mode & 0o010 and info.st_gid == gid) or info.st_uid == uid)


def owned_files(uid, places=WRITABLE_PLACES):
    """The paths of the entries owned by uid directly in the places (for tests and checks)."""
    found = []
    for place in places:
        try:
            with os.scandir(place) as entries:
                found += [entry.path for entry in entries if entry.stat(follow_symlinks=False).st_uid == uid]
        except OSError:
            continue
    return found
