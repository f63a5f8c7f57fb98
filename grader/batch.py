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
import json
import os
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
from .errors import UserError

STATE = "state.json"
METADATA = "submission_metadata.yml"
IGNORED = {"__MACOSX", "__pycache__", ".git"}


@dataclass
class Entry:
    key: str                       # folder name under the output's students/, stable across runs
    name: str                      # who submitted: names from the metadata, or the folder name
    path: str                      # folder or .zip to grade
    emails: List[str] = field(default_factory=list)
    students: List[str] = field(default_factory=list)   # one per submitter (group submissions)


# Finding the submissions ------------------------------------------------------------------

def discover(source, work_dir):
    """[Entry] for every submission under source (a folder or an export .zip)."""
    source = Path(source)
    if not source.exists():
        raise UserError(f"{source}: no such file or folder")
    if source.is_file():
        if not zipfile.is_zipfile(source):
            raise UserError(f"{source}: not a folder or a .zip of submissions")
        source = _unpack_export(source, Path(work_dir))
    export = _export_root(source)
    if export is not None:
        return _export_entries(export)
    entries = []
    for child in sorted(source.iterdir()):
        if child.name.startswith(".") or child.name in IGNORED:
            continue
        if child.is_dir() or (child.is_file() and child.suffix == ".zip"):
            key = child.stem if child.is_file() else child.name
            entries.append(Entry(_safe_key(key), key, str(child), students=[key]))
    if not entries:
        raise UserError(f"{source}: no submissions found; expected one subfolder or .zip per student, "
                        f"or Gradescope's export (with {METADATA})")
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
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()[:16]
    target = work_dir / ".unpacked" / f"{zip_path.stem}-{digest}"
    if target.is_dir():
        return target
    partial = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=work_dir))
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            parts = PurePosixPath(info.filename.replace("\\", "/")).parts
            if info.is_dir() or not parts or info.filename.startswith("/") or ".." in parts:
                continue
            destination = partial.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            destination.write_bytes(archive.read(info))
    target.parent.mkdir(parents=True, exist_ok=True)
    partial.rename(target)
    return target


def _export_entries(root):
    metadata = parse_export_metadata((root / METADATA).read_text(encoding="utf-8"))
    entries = []
    for folder, info in sorted(metadata.items()):
        path = root / folder
        if not path.exists():
            continue
        submitters = info.get(":submitters") or []
        names = [str(s.get(":name") or s.get(":email") or "?") for s in submitters if isinstance(s, dict)]
        emails = [str(s[":email"]) for s in submitters if isinstance(s, dict) and s.get(":email")]
        entries.append(Entry(_safe_key(folder), ", ".join(names) or folder, str(path), emails, names or [folder]))
    if not entries:
        raise UserError(f"{root / METADATA}: lists no submission folder that exists next to it")
    return entries


def _safe_key(name):
    key = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name).strip("._")
    return key or "submission"


def parse_export_metadata(text):
    """Parse Gradescope's submission_metadata.yml.

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
    lines = [(len(raw) - len(raw.lstrip(" ")), raw.strip(), raw) for raw in text.splitlines()
             if raw.strip() and not raw.lstrip().startswith("#") and raw.strip() != "---"]
    if not lines:
        return {}
    value, end = _block(lines, 0, lines[0][0])
    if end != len(lines) or not isinstance(value, dict):
        raise UserError(f"{METADATA}: cannot read line {lines[min(end, len(lines) - 1)][2]!r}")
    return value


def _block(lines, i, indent):
    """Parse the mapping or list starting at lines[i], whose lines sit at `indent`."""
    if lines[i][1].startswith("- "):
        items = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            # "- key: value" opens a mapping whose keys sit two columns further in.
            lines[i] = (indent + 2, lines[i][1][2:].strip(), lines[i][2])
            item, i = _block(lines, i, indent + 2)
            items.append(item)
        return items, i
    mapping = {}
    while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
        key, value = _split_pair(lines[i][1], lines[i][2])
        i += 1
        if value:
            mapping[key] = _scalar(value)
        elif i < len(lines) and (lines[i][0] > indent or (lines[i][0] == indent and lines[i][1].startswith("- "))):
            mapping[key], i = _block(lines, i, lines[i][0])
        else:
            mapping[key] = None
    return mapping, i


def _split_pair(line, raw):
    start = 1 if line.startswith(":") else 0   # Ruby symbols start with ':'
    if line[0] in "'\"":
        end = line.index(line[0], 1)
        return line[1:end], line[end + 2:].strip()
    position = line.find(": ", start)
    if position < 0:
        if line.endswith(":"):
            return line[:-1], ""
        raise UserError(f"{METADATA}: cannot read line {raw!r}")
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


def fingerprint(entry, manifest_sha):
    """Changes when the submission's files, the cases or the grader change."""
    digest = hashlib.sha256(f"{__version__}\0{manifest_sha}\0".encode())
    path = Path(entry.path)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else file.name).encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def grade_one(entry, cases, out, config, digest):
    """Grade one submission and write its outputs. Runs in a pool process; never raises."""
    from .engine import grade
    from .outputs import write_outputs
    started = time.monotonic()
    folder = Path(out) / "students" / entry.key
    outcome = Outcome(entry.key, entry.name, "error", fingerprint=digest,
                      emails=entry.emails, students=entry.students)
    try:
        result = grade(entry.path, cases, config_path=config, results_dir=folder)
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
    """Grade every submission under source into out. Returns (outcomes, manifest)."""
    from .cases import load_manifest
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = load_manifest(cases)
    manifest_sha = hashlib.sha256((Path(cases) / "manifest.json").read_bytes()).hexdigest()
    entries = discover(source, out)
    jobs = max(1, jobs or os.cpu_count() or 1)
    outcomes, todo = {}, []
    for entry in entries:
        digest = fingerprint(entry, manifest_sha)
        previous = None if force else _previous(out, entry, digest)
        if previous is not None:
            outcomes[entry.key] = previous
        else:
            todo.append((entry, digest))
    if progress:
        progress.start(len(entries), len(entries) - len(todo))
    remaining = list(todo)
    while remaining:
        retry = []
        with ProcessPoolExecutor(max_workers=min(jobs, len(remaining))) as pool:
            futures = {pool.submit(grade_one, entry, str(cases), str(out),
                                   str(config) if config else None, fp): (entry, fp) for entry, fp in remaining}
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
    return ordered, manifest


# Outputs ------------------------------------------------------------------------------

def write_grades_csv(path, outcomes, manifest):
    """One row per student (a group submission gives each member a row)."""
    functions = [f["name"] for f in manifest.functions]
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student", "total", *functions, "email", "submission", "status"])
        for outcome in outcomes:
            emails = outcome.emails or []
            for index, student in enumerate(outcome.students or [outcome.name]):
                email = emails[index] if index < len(emails) else ""
                writer.writerow([student, _number(outcome.score),
                                 *(_number(outcome.functions.get(f, 0.0)) for f in functions),
                                 email, outcome.key, outcome.status])


def _number(value):
    return f"{value:g}"


def overview_context(outcomes, manifest):
    graded = [o for o in outcomes if o.status == "graded"]
    possible = float(sum(c.points for c in manifest.cases))
    scores = [o.score for o in graded]
    bins = 10
    histogram = []
    for index in range(bins):
        low, high = possible * index / bins, possible * (index + 1) / bins
        count = sum(1 for s in scores if low <= s < high or (index == bins - 1 and s == high))
        histogram.append({"low": low, "high": high, "count": count})
    functions = []
    for function in manifest.functions:
        values = [o.functions.get(function["name"], 0.0) for o in graded]
        functions.append({"name": function["name"], "possible": function["points"],
                          "mean": statistics.mean(values) if values else 0.0,
                          "full_marks_rate": (sum(1 for v in values if v >= function["points"]) / len(values))
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
    Path(path).write_text(render_class_overview(overview_context(outcomes, manifest)), encoding="utf-8")


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
