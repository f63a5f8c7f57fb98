"""Walking a folder a student made, whatever its shape.

os.walk and Path.rglob recurse in Python: a folder 1,100 levels deep makes them raise
RecursionError on Python 3.10 and 3.11. This walk keeps a stack instead, never follows a
link, stops going down past max_depth, and refuses a tree of more than max_folders folders.
"""
import os

from .errors import UserError

MAX_DEPTH = 32
MAX_FOLDERS = 10_000


def walk(root, max_depth=MAX_DEPTH, max_folders=MAX_FOLDERS):
    """Like os.walk(root) top-down (the caller may prune the folder list), without recursion."""
    stack, folders = [(os.fspath(root), 0)], 0
    while stack:
        directory, depth = stack.pop()
        folders += 1
        if folders > max_folders:
            raise UserError(f"{root}: more than {max_folders} folders; submit only layers.py and fc_net.py "
                            f"(and any helper modules they import)")
        dirs, files = [], []
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    try:
                        (dirs if entry.is_dir(follow_symlinks=False) else files).append(entry.name)
                    except OSError:
                        continue
        except OSError:
            continue
        yield directory, dirs, files
        if depth < max_depth:
            stack.extend((os.path.join(directory, name), depth + 1) for name in reversed(dirs))


def files_under(root):
    """Every file below root, as paths, sorted (deeper than MAX_DEPTH is left out)."""
    found = []
    for directory, _, files in walk(root):
        found += [os.path.join(directory, name) for name in files]
    return sorted(found)
