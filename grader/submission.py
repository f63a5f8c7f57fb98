"""Finding a student's files in a folder or a .zip, however the upload arrived.

Students upload the assignment's files (such as `layers.py` and `fc_net.py`) at the
top level, or a zip whose files sit inside a folder (often one named after the
assignment), or several (macOS unzips the release into a folder of its own, and a
student zips the folder that holds it, or the course's folder above it), sometimes
with macOS's `__MACOSX/` and `._*` shadows, `__pycache__/` and `.pyc` files, and
sometimes under a name their system changed: `FC_net.py`, `layers (1).py` from a second
download, `layers copy.py` or `layers - Copy.py` from a copy.

For each required file the grader takes, at most MAX_FOLDERS folders down, the file of
that exact name; failing that, one whose name differs only in case; failing that, one
with a copy's suffix (see COPY_SUFFIX); the shallowest of these, and a note says which
file stood in for which and why. It copies the folder holding the first required file.
Ambiguity and absence become problems the feedback names (with the closest name
when a file is missing); everything that can still be graded is. A zip that cannot be
read (not a zip, damaged, encrypted) is a UserError.
"""
import difflib
import os
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Dict, List, Optional

from .errors import UserError
from .walk import walk

try:
    from lzma import LZMAError
except ImportError:  # a Python without lzma: zipfile then refuses lzma members with a RuntimeError
    LZMAError = RuntimeError

# Folders that are never part of a submission: editors' and tools' litter, virtual
# environments, and what the grader itself writes (a student may grade their folder with
# `python -m grader grade .`).
IGNORED_DIRS = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints", ".idea", ".vscode", ".venv", "venv",
                "env", ".env", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules",
                "reports", "site-packages"}
MAX_FILES = 1000
MAX_BYTES = 50 << 20
MAX_FOLDERS = 5   # how far below the top of the submission the required files are looked for
# What systems and browsers add to a file's name when a copy of it is made: "layers (1).py" (browsers,
# Windows), "layers-2.py", "layers_2.py", "layers 2.py", "layers copy.py" and "layers copy 2.py" (macOS),
# "layers - Copy.py" and "layers - Copy (2).py" (Windows).
COPY_SUFFIX = re.compile(r"(?:\s*\(\d+\)|[-_ ]\d+|(?:[\s_]+|\s*-\s*)copy(?:\s*\(?\d+\)?)?)", re.IGNORECASE)
EXACT, OTHER_CASE, COPY = range(3)   # how a file's name matches a required one, best first
# What reading a damaged or unsupported zip raises, besides BadZipFile (which covers bad CRCs):
# a damaged deflate, bzip2 or lzma stream, data that ends early, offsets that point nowhere,
# encryption and unsupported compression methods (RuntimeError, NotImplementedError).
UNREADABLE_ZIP = (zipfile.BadZipFile, zlib.error, LZMAError, EOFError, OSError, RuntimeError, ValueError,
                  struct.error, OverflowError)


@dataclass
class Submission:
    name: str
    files: Dict[str, bytes]                  # path relative to the copied folder -> content
    modules: Dict[str, Optional[str]]        # "layers" -> "layers.py" (relative), or None
    problems: Dict[str, str] = field(default_factory=dict)   # module -> what is wrong
    notes: List[str] = field(default_factory=list)

    def source(self, module):
        path = self.modules.get(module)
        return None if path is None else self.files[path]


def load_submission(path, required):
    """Read a submission folder or .zip holding the `required` files (["layers.py", ...]).
    Raises UserError if the path cannot be read at all."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"{path}: no such file or folder")
    if path.is_dir():
        entries = _folder_entries(path)
        name = path.resolve().name
    elif zipfile.is_zipfile(path):
        entries = _zip_entries(path)
        name = path.stem
    else:
        raise UserError(f"{path}: not a folder or a .zip file; give the folder that holds "
                        f"{_listed(required)}, or a .zip of it")
    return locate(name, entries, required)


def _listed(files, conjunction="and"):
    """'a.py', 'a.py and b.py', 'a.py, b.py and c.py'."""
    files = list(files)
    return files[0] if len(files) == 1 else ", ".join(files[:-1]) + f" {conjunction} " + files[-1]


def locate(name, entries, required):
    """Pick the folder holding the required files out of {relative posix path: bytes}.

    The folder is the one holding the most of them (then the best names, then the shallowest):
    a course folder zipped whole, with an old template above the real work, grades the work.
    A required file found only elsewhere is graded beside the others, since they import each other.
    """
    required = tuple(required)
    entries = {p: data for p, data in entries.items() if not _ignored(p)}
    problems, notes = {}, []
    candidates = {}   # needed -> [(match, depth, path)] within reach
    for needed in required:
        named = [(match, len(PurePosixPath(p).parts), p) for p in entries
                 if (match := _match(PurePosixPath(p).name, needed, required)) is not None]
        candidates[needed] = [c for c in named if c[1] <= MAX_FOLDERS + 1]
        if not candidates[needed]:
            problems[needed[:-3]] = _missing(needed, sorted(p for _, _, p in named), entries)
    root, found = _pick_folder(required, candidates, problems)
    how = {needed: next(m for m, _, p in candidates[needed] if p == path) for needed, path in found.items()}
    anchor = next((needed for needed in required if needed in found and _parent(found[needed]) == root),
                  required[0])
    files = {}
    for p, data in entries.items():
        relative = _relative(p, root)
        if relative is not None and p not in found.values():
            files[relative] = data
    modules = {}
    for needed in required:
        module = needed[:-3]
        if needed not in found:
            modules[module] = None
            continue
        path = found[needed]
        if _parent(path) != root:
            notes.append(f"{path} is not in the same folder as {anchor}; graded "
                         f"next to it, since the files import each other")
        files[needed] = entries[path]
        modules[module] = needed
        if how[needed] == OTHER_CASE:
            notes.append(f"graded {path} as {needed}: no file is named exactly {needed}, and this "
                         f"name differs from it only in upper and lower case (Python imports need the exact name)")
        elif how[needed] == COPY:
            notes.append(f"graded {path} as {needed}: no file is named {needed}, and this name is "
                         f"{needed} with the suffix a browser or operating system adds to a copy")
        others = sorted(p for _, _, p in candidates[needed] if p != path and _parent(p) == _parent(path))
        if others:
            notes.append(f"graded {path}, not {_listed(others, 'or')} beside it: rename the one you mean to "
                         f"{needed} and remove the others")
    if root not in (".", "") and found:
        notes.append(f"the files were found inside the folder {root}/")
    return Submission(name, files, modules, problems, notes)


def _parent(path):
    return str(PurePosixPath(path).parent)


def _pick_folder(required, candidates, problems):
    """(the folder to grade, {needed: the path graded as it}); ambiguities go into problems."""
    folders = {_parent(p) for found in candidates.values() for _, _, p in found}

    def rank(folder):
        tiers = [min((m for m, _, p in candidates[n] if _parent(p) == folder), default=None) for n in required]
        present = [t for t in tiers if t is not None]
        return -len(present), sum(present), 0 if folder == "." else len(PurePosixPath(folder).parts)
    ranks = {folder: rank(folder) for folder in folders}
    ranked = sorted(folders, key=lambda folder: (ranks[folder], folder))
    best = [folder for folder in ranked if ranks[folder] == ranks[ranked[0]]]
    found = {}
    for needed in required:
        pool = candidates[needed]
        if len(best) == 1:
            inside = [c for c in pool if _parent(c[2]) == best[0]]
            pool = inside or pool
        if not pool:
            continue
        top = min(pool)[:2]
        tied = sorted(p for match, depth, p in pool if (match, depth) == top)
        if len(tied) > 1:
            problems[needed[:-3]] = (f"found {len(tied)} files named {_listed(tied, 'or')}, which could each "
                                     f"be {needed}; submit exactly one")
            continue
        found[needed] = tied[0]
    if len(best) == 1:
        return best[0], found
    first = next((found[needed] for needed in required if needed in found), None)
    return (_parent(first) if first else "."), found


def _match(filename, needed, required):
    """EXACT, OTHER_CASE or COPY: how filename can stand for the required file `needed`; None if it cannot.

    A name that another required file has exactly stands only for that file.
    """
    if filename == needed:
        return EXACT
    if filename in required:
        return None
    stem, dot, extension = filename.rpartition(".")
    if not dot or extension.lower() != "py":
        return None
    wanted = needed[:-3]
    if stem.lower() == wanted.lower():
        return OTHER_CASE
    if stem.lower().startswith(wanted.lower()) and COPY_SUFFIX.fullmatch(stem[len(wanted):]):
        return COPY
    return None


def _missing(required, too_deep, entries):
    if too_deep:
        return (f"{required} is missing from the submission: {too_deep[0]} is more than {MAX_FOLDERS} folders "
                f"down, deeper than the grader looks; put {required} at the top of the submission, or at most "
                f"{MAX_FOLDERS} folders down")
    names = sorted({PurePosixPath(p).name for p in entries if p.lower().endswith(".py")})
    close = difflib.get_close_matches(required.lower(), [n.lower() for n in names], n=1, cutoff=0.75)
    if close:
        near = next(n for n in names if n.lower() == close[0])
        return (f"{required} is missing from the submission; it has {near}, which is not the same name: "
                f"if that is your {required}, rename it to {required}")
    return f"{required} is missing from the submission"


def _relative(path, root):
    if root in (".", ""):
        return path
    prefix = root + "/"
    return path[len(prefix):] if path.startswith(prefix) else None


def _ignored(path):
    parts = PurePosixPath(path).parts
    return (any(part in IGNORED_DIRS for part in parts[:-1]) or parts[-1].startswith("._")
            or parts[-1].endswith((".pyc", ".pyo")) or parts[-1] == ".DS_Store")


def _folder_entries(root):
    entries, total = {}, 0
    for directory, dirs, files in walk(root):  # (not os.walk: it recurses)
        # Prune ignored folders and virtual environments (whatever their name) before descending.
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS
                         and not os.path.isfile(os.path.join(directory, d, "pyvenv.cfg")))
        for name in sorted(files):
            file = Path(directory) / name
            if file.is_symlink() or not file.is_file():
                continue
            relative = file.relative_to(root).as_posix()
            if _ignored(relative):
                continue
            try:
                total += file.stat().st_size
                _check_size(root, len(entries) + 1, total)
                entries[relative] = file.read_bytes()
            except OSError as exc:
                raise UserError(f"{file}: cannot read it ({exc.strerror or exc})") from None
    return entries


def _zip_entries(path):
    entries, total = {}, 0
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                name = info.filename.replace("\\", "/")
                parts = PurePosixPath(name).parts
                if info.is_dir() or name.startswith("/") or ".." in parts or _ignored(name):
                    continue
                total += info.file_size
                _check_size(path, len(entries) + 1, total)
                if info.flag_bits & 0x1:
                    raise UserError(f"{path}: cannot read the zip file ({name} is encrypted); make the zip "
                                    f"again without a password")
                try:
                    entries[str(PurePosixPath(*parts))] = archive.read(info)
                except UNREADABLE_ZIP as exc:
                    raise UserError(f"{path}: cannot read the zip file ({name} is damaged or cannot be "
                                    f"unpacked: {_reason(exc)}); make the zip again") from None
    except UNREADABLE_ZIP as exc:
        raise UserError(f"{path}: cannot read the zip file ({_reason(exc)})") from None
    return entries


def _reason(exc):
    return str(exc) or {EOFError: "the compressed data ends early"}.get(type(exc), type(exc).__name__)


def _check_size(where, count, total):
    if count > MAX_FILES:
        raise UserError(f"{where}: more than {MAX_FILES} files; submit only the assignment's files "
                        f"(and any helper modules they import)")
    if total > MAX_BYTES:
        raise UserError(f"{where}: more than {MAX_BYTES >> 20} MB of files; submit only the assignment's "
                        f"files (and any helper modules they import)")
