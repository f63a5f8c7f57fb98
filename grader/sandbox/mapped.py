"""A check of forbidden packages that the student's process cannot tamper with.

The worker's import blocker runs in the student's own process, which can remove it.
So the grader, from outside, reads the worker's memory map (/proc/PID/maps): a
package's compiled extension modules and libraries are mapped there once loaded, and
cannot be unloaded. A package of pure Python maps no file and is not found this way;
SECURITY.md says so.
"""
import functools
import os
import re


def forbidden_mapped(pid, names):
    """The forbidden packages (names) with a file mapped in process pid or its descendants: sorted."""
    pattern = _pattern(tuple(names))
    found = set()
    for process in _tree(pid):
        try:
            with open(f"/proc/{process}/maps", "rb") as handle:
                maps = handle.read()
        except OSError:
            continue
        for path in set(_MAPPED_PATH.findall(maps)):  # a file is mapped in several pieces
            found.update((match.group(1) or match.group(2)).decode("ascii") for match in pattern.finditer(path))
    return sorted(found)


_MAPPED_PATH = re.compile(rb" (/[^\n]*)$", re.M)


@functools.lru_cache(maxsize=8)
def _pattern(names):
    """Where a path shows one of the packages: a folder named after it (torch/, jaxlib/,
    scipy.libs/, torch-2.1.dist-info/), or a single-file extension module (_name.cpython-*.so
    is not one of them: the file's name must start with the package's and a dot). A file whose
    name only starts with a package's name (NumPy's own libscipy_openblas) is not."""
    alternatives = b"|".join(re.escape(name.encode("ascii", "replace")) for name in names)
    return re.compile(rb"/(" + alternatives + rb")(?:lib)?(?:[.-][^/]*)?/|/(" + alternatives + rb")\.[^/]*$")


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
