"""Finding a class's submissions: folders, .zip files, and Gradescope's export with its metadata."""
import functools
import os
import shutil
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import List

from ..cases import sha256_file
from ..errors import UserError
from ..submission import UNREADABLE_ZIP

METADATA = "submission_metadata.yml"
IGNORED = {"__MACOSX", "__pycache__", ".git"}
MAX_EXPORT_BYTES = 2 << 30   # what an export may unpack to; a larger one is unpacked by hand


@dataclass
class Entry:
    key: str                       # folder name under the output's students/: unique, stable across runs
    name: str                      # who submitted: names from the metadata, or the folder name
    path: str                      # folder or .zip to grade
    emails: List[str] = field(default_factory=list)     # one per submitter, "" if unknown
    students: List[str] = field(default_factory=list)   # one per submitter (group submissions)
    sids: List[str] = field(default_factory=list)       # one per submitter, "" if unknown


# Finding the submissions ------------------------------------------------------------------

def discover(source, work_dir, warn=None):
    """[Entry] for every submission under source (a folder or an export .zip), each with its own key.

    warn: called with each problem that costs no grade (default: printed on stderr).
    """
    warn = warn or _print_warning
    source = Path(source)
    if not source.exists():
        raise UserError(f"{source}: no such file or folder")
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise UserError(f"{source}: not a folder or a .zip of submissions")
        source = _unpack_export(source, Path(work_dir), warn)
    export = _export_root(source)
    entries = _export_entries(export, warn) if export is not None else _folder_entries(source)
    if not entries:
        raise UserError(f"{source}: no submissions found; expected one subfolder or .zip per student, "
                        f"or Gradescope's export (with {METADATA})")
    return _unique_keys(entries)


def _folder_entries(folder):
    """One Entry per subfolder or .zip, named after it."""
    entries = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith(".") or child.name in IGNORED:
            continue
        if child.is_dir() or (child.is_file() and child.suffix == ".zip"):
            name = child.stem if child.is_file() else child.name
            entries.append(Entry(_safe_key(name), name, str(child), [""], [name], [""]))
    return entries


def _export_root(folder):
    """The folder holding submission_metadata.yml: the folder itself, or its only subfolder."""
    if (folder / METADATA).is_file():
        return folder
    children = [c for c in folder.iterdir() if c.is_dir() and c.name not in IGNORED and not c.name.startswith(".")]
    if len(children) == 1 and (children[0] / METADATA).is_file():
        return children[0]
    return None


def _unpack_export(zip_path, work_dir, warn=None):
    """Unpack an export into work_dir/.unpacked, where only this user can read it.

    In root mode the students' code runs as the sandbox user, which must not read
    classmates' submissions: every folder is 0700 and every file 0600.
    """
    digest = sha256_file(zip_path)[:16]
    unpacked = _private_dir(work_dir / ".unpacked")
    target = unpacked / f"{zip_path.stem}-{digest}"
    if target.is_dir():
        return target
    partial = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=unpacked))  # 0700, and renamed in place
    try:
        _extract_private(zip_path, partial, warn or _print_warning)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(target)
    return target


def _extract_private(zip_path, target, warn):
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise UserError(f"{zip_path}: cannot open the .zip ({exc}); download the export again") from None
    with archive:
        total = sum(info.file_size for info in archive.infolist())
        if total > MAX_EXPORT_BYTES:
            raise UserError(f"{zip_path}: unpacks to {total / (1 << 30):.1f} GB, more than the "
                            f"{MAX_EXPORT_BYTES >> 30} GB batch unpacks by itself; unzip it yourself "
                            f"and pass the folder")
        for info in archive.infolist():
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            if info.is_dir() or not parts or info.filename.startswith("/") or ".." in parts:
                continue
            folder = target
            try:
                for part in parts[:-1]:
                    folder = folder / part
                    folder.mkdir(mode=0o700, exist_ok=True)
                with archive.open(info) as member:  # in pieces: one student's huge file is not read whole
                    _write_private(folder / parts[-1], member)
            except (NotImplementedError, RuntimeError) as exc:  # an unknown compression, a password
                raise UserError(f"{zip_path}: cannot unpack {info.filename} ({exc})") from None
            except OSError as exc:  # a file and a folder of the same name, a name too long: one file, not the batch
                name = info.filename if len(info.filename) <= 120 else info.filename[:117] + "..."
                warn(f"{zip_path}: left out {name}, which cannot be unpacked here ({exc.strerror or exc}); "
                     f"the rest of its submission is graded")
            except UNREADABLE_ZIP as exc:  # what submission.py finds in damaged zips, less the two above
                raise UserError(f"{zip_path}: {info.filename} is corrupt in the .zip ({exc}); "
                                f"download the export again") from None


def _private_dir(path):
    """path, created if missing, readable by this user only whatever the umask."""
    os.makedirs(path, mode=0o700, exist_ok=True)
    os.chmod(path, 0o700)
    return path


def _write_private(path, data):
    """Write bytes, text or a binary file's contents to path, readable by this user only
    (also when path existed before)."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "wb") as handle:
        os.fchmod(handle.fileno(), 0o600)
        if hasattr(data, "read"):
            shutil.copyfileobj(data, handle, 1 << 20)
        else:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)


def _export_entries(root, warn):
    """Entries named from the export's metadata; a folder it does not name is graded under its folder name.

    Metadata that cannot be read costs only the names: every folder is graded, and warn says why
    grades.csv has folder names in place of students.
    """
    path = root / METADATA
    try:
        metadata = parse_export_metadata(_read_utf8(path), path)
    except UserError as exc:
        warn(f"{exc}; grading every submission folder under its folder name instead "
             f"(grades.csv will have no student names, SIDs or emails)")
        return _folder_entries(root)
    folders = {Path(e.path).name: e for e in _folder_entries(root)}
    entries = []
    for folder, info in sorted(metadata.items()):
        if folder not in folders:
            warn(f"{path} lists {folder!r}, but the export has no such submission folder: not graded")
            continue
        folders.pop(folder)
        submitters = info.get(":submitters") if isinstance(info, dict) else None
        submitters = [s for s in submitters if isinstance(s, dict)] if isinstance(submitters, list) else []
        emails = [_text(s.get(":email")) for s in submitters]
        sids = [_text(s.get(":sid")) for s in submitters]
        names = [_text(s.get(":name")) or email or "?" for s, email in zip(submitters, emails)]
        entries.append(Entry(_safe_key(folder), ", ".join(names) or folder, str(root / folder),
                             emails or [""], names or [folder], sids or [""]))
    for folder, entry in sorted(folders.items()):
        warn(f"{path} does not list {folder!r}: graded under its folder name")
        entries.append(entry)
    return sorted(entries, key=lambda e: Path(e.path).name)


def _read_utf8(path):
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise UserError(f"{path}, line {line}: not UTF-8 text (byte {raw[exc.start]:#04x})") from None


def _safe_key(name):
    key = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip("._")
    return key or "submission"


def _unique_keys(entries):
    """Give each entry its own key: of the names that make the same key, the first in sorted order
    keeps it and the others get -2, -3, ... Keys differing only in case count as the same, for
    case-insensitive file systems. Returns entries, in their order."""
    taken = {entry.key.casefold() for entry in entries}   # a suffixed key never takes another's own key
    used = set()
    for entry in sorted(entries, key=lambda e: Path(e.path).name):
        key, number = entry.key, 1
        while key.casefold() in used or (number > 1 and key.casefold() in taken):
            number += 1
            key = f"{entry.key}-{number}"
        used.add(key.casefold())
        entry.key = key
    return entries


def _print_warning(message):
    from ..text import terminal_text
    print(f"warning: {terminal_text(message)}", file=sys.stderr, flush=True)


def _text(value):
    """A metadata value as text: "" for none, and a number (an unquoted SID) as written."""
    return "" if value is None else str(value).strip()


def parse_export_metadata(text, source=METADATA):
    """Gradescope's submission_metadata.yml as a dict; raises UserError naming source and the line.

    It is YAML as Ruby writes it, with symbols for keys:

        submission_123:
          :submitters:
          - :name: Ada Lovelace
            :sid: '1815'
            :email: ada@example.edu
          :created_at: 2024-04-01 12:00:00.000000000 -07:00
          :score: 10.0

    Read with PyYAML's safe loader, which builds plain values only; a Ruby type tag
    (!ruby/object:..., !ruby/hash:...) is read as the mapping, list or text it tags.
    """
    import yaml
    try:
        value = yaml.load(text, Loader=_metadata_loader())
    except yaml.MarkedYAMLError as exc:  # "while scanning a quoted scalar" (line 3), "found unexpected end" (line 4)
        start, mark = exc.context_mark, exc.problem_mark
        where = f", line {(start or mark).line + 1}" if (start or mark) else ""
        reason = "; ".join(filter(None, [exc.context, exc.problem]))
        if start and mark and mark.line != start.line:
            reason += f" at line {mark.line + 1}"
        raise UserError(f"{source}{where}: cannot read it as YAML ({reason})") from None
    except yaml.YAMLError as exc:
        raise UserError(f"{source}: not YAML that can be read ({exc})") from None
    except RecursionError:
        raise UserError(f"{source}: nested too deeply to be Gradescope's metadata") from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UserError(f"{source}: expected one entry per submission folder, found {type(value).__name__}")
    return {str(key): item for key, item in value.items()}


@functools.lru_cache(maxsize=None)
def _metadata_loader():
    import yaml

    class Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
        pass

    def untagged(loader, suffix, node):
        if isinstance(node, yaml.MappingNode):
            return loader.construct_mapping(node, deep=True)
        if isinstance(node, yaml.SequenceNode):
            return loader.construct_sequence(node, deep=True)
        return loader.construct_scalar(node)
    Loader.add_multi_constructor("!", untagged)
    # Timestamps stay text: nothing here needs them as dates, and Ruby writes nanoseconds.
    Loader.yaml_implicit_resolvers = {first: [(tag, pattern) for tag, pattern in resolvers
                                              if tag != "tag:yaml.org,2002:timestamp"]
                                      for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
    return Loader
