"""Finding a student's files in a folder or a .zip, however the upload arrived.

Students upload the assignment's files (such as `layers.py` and `fc_net.py`) at the
top level, or a zip whose files sit inside a folder (often one named after the
assignment), or two (macOS unzips the release into a folder of its own, and a
student zips the folder that holds it), sometimes with macOS's `__MACOSX/` and `._*`
shadows, `__pycache__/` and `.pyc` files. The grader takes the shallowest copy of
each required file at most two folders down, and copies the folder holding the
first one. Ambiguity and absence become
problems the feedback names; everything that can still be graded is. A zip that
cannot be read (not a zip, damaged, encrypted) is a UserError.
"""
import os
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
MAX_FOLDERS = 2   # how far below the top of the submission the required files are looked for
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


def _listed(files):
    """'a.py', 'a.py and b.py', 'a.py, b.py and c.py'."""
    files = list(files)
    return files[0] if len(files) == 1 else ", ".join(files[:-1]) + " and " + files[-1]


def locate(name, entries, required):
    """Pick the folder holding the required files out of {relative posix path: bytes}."""
    required = tuple(required)
    entries = {p: data for p, data in entries.items() if not _ignored(p)}
    found = {}
    problems, notes = {}, []
    too_deep = {}
    for needed in required:
        named = sorted(p for p in entries if PurePosixPath(p).name == needed)
        candidates = [p for p in named if len(PurePosixPath(p).parts) <= MAX_FOLDERS + 1]
        if not candidates:
            too_deep[needed] = named
            continue
        depth = min(len(PurePosixPath(p).parts) for p in candidates)
        shallowest = sorted(p for p in candidates if len(PurePosixPath(p).parts) == depth)
        if len(shallowest) > 1:
            problems[needed[:-3]] = (f"found {len(shallowest)} files named {needed}: "
                                     f"{', '.join(shallowest)}; submit exactly one")
            continue
        found[needed] = shallowest[0]
    roots = {str(PurePosixPath(p).parent) for p in found.values()}
    first = next((found[needed] for needed in required if needed in found), "x")
    root = str(PurePosixPath(first).parent)
    anchor = next((needed for needed in required if needed in found), required[0])
    files = {}
    for p, data in entries.items():
        relative = _relative(p, root)
        if relative is not None:
            files[relative] = data
    modules = {}
    for needed in required:
        module = needed[:-3]
        if needed in found:
            relative = _relative(found[needed], root)
            if relative is None:  # it lives in another folder than the first file
                relative = needed
                files[needed] = entries[found[needed]]
                notes.append(f"{found[needed]} is not in the same folder as {anchor}; graded "
                             f"next to it, since the files import each other")
            modules[module] = relative
        else:
            modules[module] = None
            problems.setdefault(module, _missing(needed, too_deep.get(needed)))
    if root not in (".", "") and found:
        notes.append(f"the files were found inside the folder {root}/")
    if len(roots) > 1 and not notes:
        notes.append(f"{_listed(list(found))} were found in different folders")
    return Submission(name, files, modules, problems, notes)


def _missing(required, too_deep):
    if not too_deep:
        return f"{required} is missing from the submission"
    return (f"{required} is missing from the submission: {too_deep[0]} is more than {MAX_FOLDERS} folders "
            f"down, deeper than the grader looks; put {required} at the top of the submission, or at most "
            f"{MAX_FOLDERS} folders down")


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
