"""Python's import path without the folders other users can write.

`python -m grader` puts the current folder first on the import path. Run from a folder
like /tmp, where a submission's code (as the sandbox user) could leave a `jinja2`
package, the grader would run it as root the first time it imports jinja2. So the
command line drops, first thing, every entry that a user other than root and this one
could add modules to. (Python imports `grader` itself before this runs: SECURITY.md says
not to start the grader from such a folder.)
"""
import os
import stat
import sys


def writable_by_others(path):
    """True if a user other than root and this one could create or replace entries at path:
    it owns the path or a folder above it, or may write to one without a sticky bit
    holding it back (the entry itself counts even with one: new names can be made there)."""
    me = os.geteuid()
    first = True
    while True:
        try:
            info = os.stat(path)
        except OSError:
            info = None
        if info is not None:
            mode = info.st_mode
            others = mode & 0o002 or (mode & 0o020 and info.st_gid != os.getegid())
            if info.st_uid not in (0, me) or (others and (first or not mode & stat.S_ISVTX)):
                return True
            first = False
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent


def clean_import_path():
    """Drop the import path's folders that other users could write; returns those dropped."""
    kept, dropped = [], []
    for entry in sys.path:
        if not isinstance(entry, str) or (entry and not os.path.isabs(entry) and not os.path.exists(entry)):
            kept.append(entry)  # not a folder: a path hook's marker, like an editable install's
            continue
        (dropped if writable_by_others(os.path.abspath(entry or os.curdir)) else kept).append(entry)
    sys.path[:] = kept
    return dropped
