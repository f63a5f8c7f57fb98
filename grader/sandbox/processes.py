"""Ending every process: the process table, the subreaper, and the sweeps that kill what student code left."""
import ctypes
import os
import signal
import subprocess
import time

_PR_SET_CHILD_SUBREAPER = 36

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


def _live_processes_of(uid):
    """The pids of the user's processes that have not ended. Only those owned by the user are
    read further (for zombies): a sweep runs twice a grade, on every process of the machine."""
    if not os.path.isdir("/proc/self"):
        return [pid for pid, (_, owner, zombie) in _ps_table().items() if owner == uid and not zombie]
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:  # (the folder's owner, as in _process_table)
            if os.stat(f"/proc/{entry}").st_uid != uid:
                continue
            fd = os.open(f"/proc/{entry}/stat", os.O_RDONLY)
            try:
                stat_line = os.read(fd, 4096)
            finally:
                os.close(fd)
        except OSError:
            continue
        if stat_line[stat_line.rfind(b")") + 2:][:1] != b"Z":
            alive.append(int(entry))
    return alive


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


def _children(pid):
    """pid's children, from the kernel's list for each of its threads; None where Linux keeps
    no such lists (then the caller reads the whole process table)."""
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None if not os.path.isfile("/proc/self/task/%d/children" % os.getpid()) else []
    found = []
    for tid in threads:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as handle:
                found += [int(child) for child in handle.read().split()]
        except (OSError, ValueError):
            continue
    return found


def _tree_table(pids):
    """The process table of these processes and all their descendants only, {pid: (ppid, None,
    zombie)}, read through the kernel's lists of children: a few files, where the whole table is
    one file per process of the machine. None where there are no such lists."""
    if _children(os.getpid()) is None:
        return None
    table, stack = {}, list(pids)
    while stack:
        pid = stack.pop()
        if pid in table:
            continue
        try:
            with open(f"/proc/{pid}/stat", "rb") as handle:
                stat_line = handle.read()
        except OSError:
            continue
        fields = stat_line[stat_line.rfind(b")") + 2:].split()
        if len(fields) < 2:
            continue
        table[pid] = (int(fields[1]), None, fields[0] == b"Z")
        stack += _children(pid) or []
    return table


def _family_table(roots):
    """{pid: (ppid, None, zombie)} for this process's descendants and the roots' (which as a
    subreaper is everything they started, re-parented or not): from the kernel's lists of
    children where there are, else from the whole process table."""
    table = _tree_table([os.getpid(), *roots])
    return table if table is not None else _process_table(owners=False)


def direct_children():
    me = os.getpid()
    return {pid for pid, (ppid, _, _) in _family_table([]).items() if ppid == me}


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
        table = _family_table(roots)
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
        alive = _live_processes_of(sandbox.uid)
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

