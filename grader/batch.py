"""`python -m grader batch`: a whole class, graded locally, with a class overview.

Steps, in order:
1. find the submissions: one subfolder or .zip per student, or Gradescope's
   "Export Submissions" zip (or that zip unpacked), whose submission_metadata.yml
   names the students;
2. skip the submissions graded before whose files, cases and grader are unchanged
   (unless --force);
3. grade the rest in parallel, one grading process per job, each with the same
   engine and isolation as `grade`; a crash, a timeout or a hostile submission
   costs only that submission;
4. write each student's report.html and results.json, then grades.csv and the
   class overview index.html.
"""
import csv
import datetime
import hashlib
import io
import json
import math
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
import traceback
import zipfile
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import List

from . import __version__
from .cases import sha256_file
from .errors import UserError
from .submission import UNREADABLE_ZIP

STATE = "state.json"
METADATA = "submission_metadata.yml"
IGNORED = {"__MACOSX", "__pycache__", ".git"}
MAX_EXPORT_BYTES = 2 << 30   # what an export may unpack to; a larger one is unpacked by hand
START_METHOD = None          # how the pool starts its grading processes; None: the platform's default


@dataclass
class Entry:
    key: str                       # folder name under the output's students/: unique, stable across runs
    name: str                      # who submitted: names from the metadata, or the folder name
    path: str                      # folder or .zip to grade
    emails: List[str] = field(default_factory=list)
    students: List[str] = field(default_factory=list)   # one per submitter (group submissions)


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
        source = _unpack_export(source, Path(work_dir))
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
            entries.append(Entry(_safe_key(name), name, str(child), students=[name]))
    return entries


def _export_root(folder):
    """The folder holding submission_metadata.yml: the folder itself, or its only subfolder."""
    if (folder / METADATA).is_file():
        return folder
    children = [c for c in folder.iterdir() if c.is_dir() and c.name not in IGNORED and not c.name.startswith(".")]
    if len(children) == 1 and (children[0] / METADATA).is_file():
        return children[0]
    return None


def _unpack_export(zip_path, work_dir):
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
        _extract_private(zip_path, partial)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    partial.rename(target)
    return target


def _extract_private(zip_path, target):
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
            except OSError as exc:  # e.g. a file and a folder of the same name
                raise UserError(f"{zip_path}: cannot unpack {info.filename} ({exc.strerror or exc})") from None
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
             f"(grades.csv will have no student names or emails)")
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
        names = [str(s.get(":name") or s.get(":email") or "?") for s in submitters]
        emails = [str(s[":email"]) for s in submitters if s.get(":email")]
        entries.append(Entry(_safe_key(folder), ", ".join(names) or folder, str(root / folder), emails,
                             names or [folder]))
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
    print(f"warning: {message}", file=sys.stderr, flush=True)


def parse_export_metadata(text, source=METADATA):
    """Parse Gradescope's submission_metadata.yml; raises UserError naming source and the line.

    It is YAML with Ruby-symbol keys:

        submission_123:
          :submitters:
          - :name: Ada Lovelace
            :sid: '1815'
            :email: ada@example.edu
          :created_at: 2024-04-01 12:00:00.000000000 -07:00
          :score: 10.0

    This reads that shape (nested mappings, lists of mappings, plain and quoted
    scalars) without needing a YAML library.
    """
    # (indent, content, raw line, line number)
    lines = [(len(raw) - len(raw.lstrip(" ")), raw.strip(), raw, number)
             for number, raw in enumerate(text.splitlines(), start=1)
             if raw.strip() and not raw.lstrip().startswith("#") and raw.strip() != "---"]
    if not lines:
        return {}
    try:
        value, end = _block(lines, 0, lines[0][0])
        if end != len(lines) or not isinstance(value, dict):
            raise _BadLine(lines[min(end, len(lines) - 1)], "")
    except _BadLine as bad:
        _, _, raw, number = bad.line
        reason = f" ({bad.reason})" if bad.reason else ""
        raise UserError(f"{source}, line {number}: cannot read {raw.strip()!r}{reason}") from None
    except RecursionError:
        raise UserError(f"{source}: nested too deeply to be Gradescope's metadata") from None
    return value


class _BadLine(Exception):
    def __init__(self, line, reason):
        super().__init__(reason)
        self.line, self.reason = line, reason


def _block(lines, i, indent):
    """Parse the mapping or list starting at lines[i], whose lines sit at `indent`."""
    if lines[i][1].startswith("- "):
        items = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            # "- key: value" opens a mapping whose keys sit two columns further in.
            lines[i] = (indent + 2, lines[i][1][2:].strip(), *lines[i][2:])
            item, i = _block(lines, i, indent + 2)
            items.append(item)
        return items, i
    mapping = {}
    while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
        key, value = _split_pair(lines[i])
        i += 1
        if value:
            mapping[key] = _scalar(value)
        elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("- "))):
            mapping[key], i = _block(lines, i, lines[i][0])
        else:
            mapping[key] = None
    return mapping, i


def _split_pair(entry):
    """(key, value text) of a "key: value" line; the value text is empty when a block follows."""
    line = entry[1]
    if line[0] in "'\"":
        end = line.find(line[0], 1)
        if end < 0:
            raise _BadLine(entry, "unterminated quote")
        rest = line[end + 1:]
        if rest != ":" and not rest.startswith(": "):
            raise _BadLine(entry, "expected ': ' after the quoted key")
        return line[1:end], rest[1:].strip()
    start = 1 if line.startswith(":") else 0   # Ruby symbols start with ':'
    position = line.find(": ", start)
    if position < 0:
        if line.endswith(":"):
            return line[:-1], ""
        raise _BadLine(entry, "expected 'key: value'")
    return line[:position], line[position + 2:].strip()


def _scalar(value):
    if value.startswith("'") and value.endswith("'") and len(value) >= 2:
        return value[1:-1].replace("''", "'")
    if value.startswith('"') and value.endswith('"') and len(value) >= 2:
        try:
            return json.loads(value)
        except ValueError:
            return value[1:-1]
    if value in ("~", "null"):
        return None
    return value


# Grading ------------------------------------------------------------------------------

@dataclass
class Outcome:
    key: str
    name: str
    status: str                    # graded, error
    score: float = 0.0
    possible: float = 0.0
    functions: dict = field(default_factory=dict)
    cases: dict = field(default_factory=dict)           # case id -> passed
    mistakes: list = field(default_factory=list)        # diagnosis keys, once per submission
    error: str = ""
    seconds: float = 0.0
    fingerprint: str = ""
    reused: bool = False
    emails: list = field(default_factory=list)
    students: list = field(default_factory=list)


def fingerprint(entry, manifest_sha, grader_sha):
    """Changes when the submission's files, key or names, the cases or the grader change.

    The names are in the report, and the key says where the previous outputs are.
    """
    digest = hashlib.sha256("\0".join([grader_sha, manifest_sha, entry.key, entry.name, Path(entry.path).name, ""])
                            .encode())
    path = Path(entry.path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else file.name).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def grader_sha(package=Path(__file__).parent):
    """SHA-256 of the grader's version, code and report templates: a new grader regrades everyone.

    A changed grader may grade differently even when its version number is the same.
    """
    digest = hashlib.sha256(f"{__version__}\0".encode())
    files = sorted(p for p in package.rglob("*") if p.is_file() and "__pycache__" not in p.parts
                   and (p.suffix == ".py" or p.parent == package / "report" / "templates"))
    for file in files:
        digest.update(file.relative_to(package).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


_adopted = {}  # in a pool process: the cases folder, as run_batch names it -> the batch's Manifest


def _adopt(cases, manifest, cores=None, counter=None):
    """Run by each pool process as it starts: the cases as run_batch read and checked them,
    and the core this process keeps to, if run_batch gave it cores (see pinned_cores)."""
    _adopted[cases] = manifest
    if cores:
        with counter.get_lock():
            index = counter.value
            counter.value += 1
        try:
            os.sched_setaffinity(0, {cores[index % len(cores)]})
        except OSError:
            pass  # (a core taken offline meanwhile): the process runs where the system puts it


def available_cores():
    """The CPUs this process may run on (fewer than the machine's under taskset or a cpuset)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # not Linux
        return list(range(os.cpu_count() or 1))


def pinned_cores(jobs):
    """The cores to keep the grading processes to, one each, when the batch takes every core it
    may use (as it does by default); None to let the system place them.

    A grade is a conversation: the grading process sends a case, the worker computes it and
    answers while the grading process waits, about 60 times per submission. With one job per
    core and each job's processes (its grading process, zygote and workers) kept to that core,
    every hand-over stays on one core, whose caches hold both sides, instead of waking a
    process on another core and leaving its own core idle meanwhile: two jobs on two cores
    kept 1.94 cores busy instead of 1.83, and graded 5% to 10% faster. One job is not pinned:
    it is faster with its worker free to use a second core while the grading process scores
    the previous answer. Fewer jobs than cores are not pinned either: pinned to the first
    cores, they could not move away from other work there (another batch's, say) to the
    cores left free.
    """
    cores = available_cores() if hasattr(os, "sched_setaffinity") else []
    return cores if 2 <= jobs == len(cores) else None


def grade_one(entry, cases, out, config, digest, source=None):
    """Grade one submission and write its outputs. Runs in a pool process; never raises.

    In root mode the sandbox user is kept out of the output folder and out of the
    class's submissions (source), so that one student's code cannot read another's.
    In run_batch's pool, every submission is graded from the cases as the batch read and
    checked them when it began, which its fingerprint records, even if the files change
    meanwhile; called on its own, it reads them.
    """
    from .engine import grade
    from .outputs import write_outputs
    started = time.monotonic()
    folder = _private_dir(Path(out) / "students") / entry.key
    outcome = Outcome(entry.key, entry.name, "error", fingerprint=digest,
                      emails=entry.emails, students=entry.students)
    try:
        private = [Path(source)] if source else []
        result = grade(entry.path, cases, config_path=config, results_dir=folder,
                       seal=[Path(out)] + [p for p in private if p.is_dir()],
                       protect=[p for p in private if p.is_file()], zygote=True, manifest=_adopted.get(cases))
        result.submission = entry.name
        write_outputs(result, folder)
        outcome.status = "graded"
        outcome.score, outcome.possible = result.score, result.possible
        outcome.functions = {s.name: s.score for s in result.by_function()}
        outcome.cases = {c.case.id: c.passed for c in result.cases}
        outcome.mistakes = sorted({d.key for c in result.cases for d in c.diagnoses
                                   if not d.key.startswith("generic/")})
    except Exception as exc:  # the grader's own failure on this submission: the batch goes on
        outcome.error = f"{type(exc).__name__}: {exc}"
        (folder).mkdir(parents=True, exist_ok=True)
        (folder / "error.txt").write_text(traceback.format_exc(), encoding="utf-8")
    outcome.seconds = time.monotonic() - started
    (folder / STATE).parent.mkdir(parents=True, exist_ok=True)
    (folder / STATE).write_text(json.dumps(asdict(outcome), indent=1), encoding="utf-8")
    return outcome


def _previous(out, entry, digest):
    state = Path(out) / "students" / entry.key / STATE
    try:
        data = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("fingerprint") != digest or data.get("status") != "graded":
        return None
    if not (state.parent / "results.json").is_file():
        return None
    outcome = Outcome(**{k: v for k, v in data.items() if k in Outcome.__dataclass_fields__})
    outcome.reused = True
    outcome.name, outcome.emails, outcome.students = entry.name, entry.emails, entry.students
    return outcome


def run_batch(source, out, cases="test_cases", jobs=None, force=False, config=None, progress=None):
    """Grade every submission under source into out. Returns (outcomes, manifest).

    Everything under out that holds a student's work (students/, .unpacked/) is
    readable by this user only: in root mode each student's code runs as the
    sandbox user, which must not read the others'.
    """
    from .cases import load_manifest
    from .engine import check_config
    folder, target = Path(source).resolve(), Path(out).resolve()
    if folder.is_dir() and (target == folder or folder in target.parents):
        raise UserError(f"the output folder {out} is inside {source}, where it would be graded as a "
                        f"submission; choose an output folder outside {source}")
    manifest = load_manifest(cases)  # what every submission is graded from, whatever changes meanwhile
    check_config(manifest, config)
    manifest_sha = manifest.sha256
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _private_dir(out / "students")
    warnings = []

    def warn(message):
        warnings.append(message)
        _print_warning(message)
    entries = discover(source, out, warn)
    jobs = max(1, jobs or len(available_cores()))
    code_sha = grader_sha()
    outcomes, todo = {}, []
    for entry in entries:
        digest = fingerprint(entry, manifest_sha, code_sha)
        previous = None if force else _previous(out, entry, digest)
        if previous is not None:
            outcomes[entry.key] = previous
        else:
            todo.append((entry, digest))
    if progress:
        progress.start(len(entries), len(entries) - len(todo))
    remaining = list(todo)
    context = multiprocessing.get_context(START_METHOD)
    while remaining:
        retry = []
        workers = min(jobs, len(remaining))
        cores = pinned_cores(workers)
        with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_adopt,
                                 initargs=(str(cases), manifest, cores,
                                           context.Value("i", 0) if cores else None)) as pool:
            futures = {pool.submit(grade_one, entry, str(cases), str(out), str(config) if config else None,
                                   fp, str(source)): (entry, fp) for entry, fp in remaining}
            try:
                for future in as_completed(futures):
                    entry, fp = futures[future]
                    outcome = future.result()
                    outcomes[entry.key] = outcome
                    if progress:
                        progress.advance(outcome)
            except BrokenProcessPool:
                retry = [(entry, fp) for entry, fp in remaining if entry.key not in outcomes]
        if retry and len(retry) == len(remaining):
            for entry, fp in retry:  # the pool keeps dying: record, do not loop forever
                outcomes[entry.key] = Outcome(entry.key, entry.name, "error", error="the grading process died",
                                              fingerprint=fp, emails=entry.emails, students=entry.students)
            retry = []
        remaining = retry
    ordered = [outcomes[entry.key] for entry in entries]
    write_grades_csv(out / "grades.csv", ordered, manifest)
    write_overview(out / "index.html", ordered, manifest)
    if todo:  # again, below the progress lines
        for message in warnings:
            _print_warning(message)
    return ordered, manifest


# Outputs ------------------------------------------------------------------------------

def write_grades_csv(path, outcomes, manifest):
    """One row per student (a group submission gives each member a row); readable by this user only."""
    functions = [f["name"] for f in manifest.functions]
    text = io.StringIO(newline="")
    writer = csv.writer(text)
    writer.writerow(["student", "total", *functions, "email", "submission", "status"])
    for outcome in outcomes:
        emails = outcome.emails or []
        for index, student in enumerate(outcome.students or [outcome.name]):
            email = emails[index] if index < len(emails) else ""
            writer.writerow([student, _number(outcome.score),
                             *(_number(outcome.functions.get(f, 0.0)) for f in functions),
                             email, outcome.key, outcome.status])
    _write_private(path, text.getvalue())


def _number(value):
    return f"{value:g}"


def overview_context(outcomes, manifest):
    graded = [o for o in outcomes if o.status == "graded"]
    possible = round(sum(c.points for c in manifest.cases), 2)  # rounded as a grade's own total is
    scores = [o.score for o in graded]
    bins = 10
    histogram = [{"low": possible * index / bins, "high": possible * (index + 1) / bins, "count": 0}
                 for index in range(bins)]
    for score in scores:  # each in the bin its share of the points falls in; full marks in the last
        share = score / possible if possible > 0 else 0.0
        histogram[min(bins - 1, max(0, math.floor(share * bins + 1e-9)))]["count"] += 1
    functions = []
    for function in manifest.functions:
        values = [o.functions.get(function["name"], 0.0) for o in graded]
        full = round(function["points"], 2)
        functions.append({"name": function["name"], "possible": function["points"],
                          "mean": statistics.mean(values) if values else 0.0,
                          "full_marks_rate": (sum(1 for v in values if v >= full) / len(values))
                          if values else 0.0})
    cases = []
    for case in manifest.cases:
        results = [o.cases.get(case.id) for o in graded if case.id in o.cases]
        cases.append({"id": case.id, "function": case.function, "label": case.label, "hidden": case.hidden,
                      "pass_rate": (sum(1 for r in results if r) / len(results)) if results else 0.0})
    counts = {}
    for outcome in graded:
        for key in outcome.mistakes:
            counts[key] = counts.get(key, 0) + 1
    mistakes = []
    for key, count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        function, slug = key.rsplit("/", 1)
        entry = manifest.raw["mistakes"].get(key, {})
        mistakes.append({"key": key, "function": function, "title": entry.get("title", slug), "count": count})
    students = []
    for outcome in outcomes:
        report = f"students/{outcome.key}/report.html" if outcome.status == "graded" else ""
        students.append({"name": outcome.name, "report": report, "score": outcome.score,
                         "possible": outcome.possible or possible, "status": outcome.status,
                         "error": outcome.error, "functions": outcome.functions})
    return {
        "title": manifest.title,
        "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"),
        "count": len(outcomes), "graded": len(graded), "failed_to_grade": len(outcomes) - len(graded),
        "mean": statistics.mean(scores) if scores else 0.0,
        "median": statistics.median(scores) if scores else 0.0,
        "possible": possible, "histogram": histogram, "functions": functions, "cases": cases,
        "mistakes": mistakes, "students": students,
    }


def write_overview(path, outcomes, manifest):
    from .report import render_class_overview
    _write_private(path, render_class_overview(overview_context(outcomes, manifest)))


class Progress:
    """One line per finished submission on stderr, with an estimate of the time left."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.total = self.done = 0
        self.started = time.monotonic()

    def start(self, total, reused):
        self.total, self.done = total, reused
        self.started = time.monotonic()
        self._fresh_done = 0
        if reused:
            print(f"{reused} of {total} submissions unchanged since the last run: kept their grades "
                  f"(--force regrades them)", file=self.stream)

    def advance(self, outcome):
        self.done += 1
        self._fresh_done += 1
        elapsed = time.monotonic() - self.started
        left = self.total - self.done
        eta = elapsed / self._fresh_done * left
        score = f"{outcome.score:g}/{outcome.possible:g}" if outcome.status == "graded" else "ERROR"
        width = len(str(self.total))
        print(f"[{self.done:>{width}}/{self.total}] {outcome.name[:40]:<40} {score:>12}  "
              f"elapsed {_clock(elapsed)}, about {_clock(eta)} left", file=self.stream, flush=True)


def _clock(seconds):
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"
