"""Finding a student's files in a folder or a .zip, however the upload arrived.

Students upload `layers.py` and `fc_net.py` at the top level, or a zip whose
files sit inside a folder (often one named after the assignment), or two (macOS
unzips the release into a folder of its own, and a student zips the folder that
holds it), sometimes with macOS's `__MACOSX/` and `._*` shadows, `__pycache__/` and `.pyc`
files. The grader takes the shallowest `layers.py` (and `fc_net.py`) at most two
folders down, and copies the folder holding it. Ambiguity and absence become
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

REQUIRED = ("layers.py", "fc_net.py")
# Folders that are never part of a submission: editors' and tools' litter, virtual
# environments, and what the grader itself writes (a student may grade their folder with
# `python -m grader grade .`).
IGNORED_DIRS = {"__MACOSX", "__pycache__", ".git", ".ipynb_checkpoints", ".idea", ".vscode", ".venv", "venv",
                "env", ".env", ".tox", ".mypy_cache", ".pytest_cache", ".ruff_cache", "node_modules",
                "reports", "site-packages"}
MAX_FILES = 1000
MAX_BYTES = 50 << 20
MAX_FOLDERS = 2   # how far below the top of the submission layers.py and fc_net.py are looked for
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


def load_submission(path):
    """Read a submission folder or .zip. Raises UserError if the path cannot be read at all."""
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
        raise UserError(f"{path}: not a folder or a .zip file; give the folder that holds layers.py "
                        f"and fc_net.py, or a .zip of it")
    return locate(name, entries)


def locate(name, entries):
    """Pick the folder holding the required files out of {relative posix path: bytes}."""
    entries = {p: data for p, data in entries.items() if not _ignored(p)}
    found = {}
    problems, notes = {}, []
    too_deep = {}
    for required in REQUIRED:
        named = sorted(p for p in entries if PurePosixPath(p).name == required)
        candidates = [p for p in named if len(PurePosixPath(p).parts) <= MAX_FOLDERS + 1]
        if not candidates:
            too_deep[required] = named
            continue
        depth = min(len(PurePosixPath(p).parts) for p in candidates)
        shallowest = sorted(p for p in candidates if len(PurePosixPath(p).parts) == depth)
        if len(shallowest) > 1:
            problems[required[:-3]] = (f"found {len(shallowest)} files named {required}: "
                                       f"{', '.join(shallowest)}; submit exactly one")
            continue
        found[required] = shallowest[0]
    roots = {str(PurePosixPath(p).parent) for p in found.values()}
    root = str(PurePosixPath(found.get("layers.py") or next(iter(found.values()), "x")).parent)
    files = {}
    for p, data in entries.items():
        relative = _relative(p, root)
        if relative is not None:
            files[relative] = data
    modules = {}
    for required in REQUIRED:
        module = required[:-3]
        if required in found:
            relative = _relative(found[required], root)
            if relative is None:  # fc_net.py lives in another folder than layers.py
                relative = required
                files[required] = entries[found[required]]
                notes.append(f"{found[required]} is not in the same folder as layers.py; graded "
                             f"next to it, since it imports from layers")
            modules[module] = relative
        else:
            modules[module] = None
            problems.setdefault(module, _missing(required, too_deep.get(required)))
    if root not in (".", "") and found:
        notes.append(f"the files were found inside the folder {root}/")
    if len(roots) > 1 and not notes:
        notes.append("layers.py and fc_net.py were found in different folders")
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
        raise UserError(f"{where}: more than {MAX_FILES} files; submit only layers.py and fc_net.py "
                        f"(and any helper modules they import)")
    if total > MAX_BYTES:
        raise UserError(f"{where}: more than {MAX_BYTES >> 20} MB of files; submit only layers.py "
                        f"and fc_net.py (and any helper modules they import)")
