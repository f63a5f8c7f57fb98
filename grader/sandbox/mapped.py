"""A check of forbidden packages that the student's process cannot tamper with.

The worker's import blocker runs in the student's own process, which can remove it.
So the grader, from outside, reads the worker's memory map (/proc/PID/maps): a
package's compiled extension modules and libraries are mapped there once loaded, and
cannot be unloaded. A package of pure Python maps no file and is not found this way;
SECURITY.md says so.
"""
import os


def forbidden_mapped(pid, names):
    """The forbidden packages (names) with a file mapped in process pid or its descendants: sorted."""
    found = set()
    for process in _tree(pid):
        try:
            with open(f"/proc/{process}/maps", "rb") as handle:
                maps = handle.read()
        except OSError:
            continue
        for line in maps.splitlines():
            path = line.partition(b" /")[2]
            if path:
                found.update(_packages("/" + path.decode("utf-8", "replace"), names))
    return sorted(found)


def _packages(path, names):
    parts = path.split("/")
    for name in names:
        # torch/, scipy.libs/, jaxlib/: never a file whose name only starts so (NumPy's own
        # libscipy_openblas is NumPy's).
        if any(part in (name, name + "lib") or part.startswith((name + ".", name + "-")) for part in parts[:-1]) \
                or parts[-1].startswith(name + "."):  # a single-file extension module: _decimal.cpython-*.so
            yield name


def address_space(pid):
    """The process's virtual size in pages, from /proc/PID/statm (a few bytes): 0 if gone."""
    try:
        with open(f"/proc/{pid}/statm", "rb") as handle:
            return int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _tree(pid):
    """pid and its descendants, from the kernel's lists of children (no scan of /proc)."""
    found, stack = [], [pid]
    while stack and len(found) < 256:
        process = stack.pop()
        found.append(process)
        try:
            with open(f"/proc/{process}/task/{process}/children", "rb") as handle:
                stack.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError):
            continue
    return found
