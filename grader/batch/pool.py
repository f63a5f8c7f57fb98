"""Grading a class in parallel: the pool of grading processes, their cores, and what each submission gave."""
import hashlib
import json
import multiprocessing
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import UserError
from ..files import prepare_output_dir
from ..walk import files_under
from .submissions import _print_warning, _private_dir, discover
from .report import write_canvas_csv, write_grades_csv, write_overview

STATE = "state.json"

START_METHOD = None          # how the pool starts its grading processes; None: the platform's default


# Grading ------------------------------------------------------------------------------

@dataclass
class Outcome:
    key: str
    name: str
    status: str                    # graded; not graded (nothing could run: see NOT_GRADABLE); error (the grader failed)
    score: float = 0.0
    possible: float = 0.0
    functions: dict = field(default_factory=dict)
    cases: dict = field(default_factory=dict)           # case id -> passed
    mistakes: list = field(default_factory=list)        # diagnosis keys, once per submission
    error: str = ""                # why it was not graded
    seconds: float = 0.0
    fingerprint: str = ""
    reused: bool = False
    emails: list = field(default_factory=list)
    students: list = field(default_factory=list)
    sids: list = field(default_factory=list)


# A submission none of whose cases could run for these reasons could not be graded: its files are
# missing, do not compile or import, or break every function's interface. Its zero is not a grade
# (the class statistics leave it out, grades.csv says why), unlike a submission of untouched stubs.
NOT_GRADABLE = {"import", "interface"}


def gradable(result):
    """"" if the grade result is a grade, else why the submission could not be graded."""
    if not result.cases or any(c.status not in NOT_GRADABLE for c in result.cases):
        return ""
    reasons = list(dict.fromkeys(result.problems)) or list(dict.fromkeys(c.summary for c in result.cases))
    return "; ".join(reasons) or "no function could be run"


def fingerprint(entry, manifest_sha, grader_sha):
    """Changes when the submission's files, key or names, the cases or the grader change.

    The names are in the report, and the key says where the previous outputs are.
    """
    digest = hashlib.sha256("\0".join([grader_sha, manifest_sha, entry.key, entry.name, Path(entry.path).name, ""])
                            .encode())
    path = Path(entry.path)
    try:
        files = [path] if path.is_file() else [Path(p) for p in files_under(path) if os.path.isfile(p)]
    except UserError:  # too many folders to be a submission: graded (and refused) every time
        files, digest = [], hashlib.sha256(os.urandom(16))
    for file in files:  # (fsencode: a name need not be UTF-8)
        digest.update(os.fsencode(file.relative_to(path) if file != path else file.name) + b"\0")
        try:
            digest.update(file.read_bytes())
        except OSError:
            digest.update(os.urandom(16))  # unreadable now: graded again next time
    return digest.hexdigest()


def grader_sha(package=Path(__file__).parents[1]):
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
    from ..engine import grade
    from ..outputs import write_outputs
    started = time.monotonic()
    folder = _private_dir(Path(out) / "students") / entry.key
    outcome = Outcome(entry.key, entry.name, "error", fingerprint=digest,
                      emails=entry.emails, students=entry.students, sids=entry.sids)
    try:
        private = [Path(source)] if source else []
        result = grade(entry.path, cases, config_path=config, results_dir=folder,
                       seal=[Path(out)] + [p for p in private if p.is_dir()],
                       protect=[p for p in private if p.is_file()], zygote=True, manifest=_adopted.get(cases))
        result.submission = entry.name
        write_outputs(result, folder)
        outcome.error = gradable(result)
        outcome.status = "not graded" if outcome.error else "graded"
        outcome.score, outcome.possible = result.score, result.possible
        outcome.functions = {s.name: s.score for s in result.by_function()}
        outcome.cases = {c.case.id: c.passed for c in result.cases}
        outcome.mistakes = sorted({d.key for c in result.cases for d in c.diagnoses
                                   if not d.key.startswith("generic/")})
    except Exception as exc:  # the grader's own failure on this submission: the batch goes on
        from ..failure import grader_failed
        from ..text import clean_text
        outcome.error = clean_text(f"{type(exc).__name__}: {exc}")
        (folder).mkdir(parents=True, exist_ok=True)
        (folder / "error.txt").write_text(clean_text(traceback.format_exc()), encoding="utf-8")
        grader_failed(folder / "results.json", exc, Path(cases))
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
    if data.get("fingerprint") != digest or data.get("status") not in ("graded", "not graded"):
        return None
    if not (state.parent / "results.json").is_file():
        return None
    outcome = Outcome(**{k: v for k, v in data.items() if k in Outcome.__dataclass_fields__})
    outcome.reused = True
    outcome.name, outcome.emails, outcome.students, outcome.sids = entry.name, entry.emails, entry.students, entry.sids
    return outcome


def _load_everything():
    """Every module this process needs after the grading processes start, loaded now: student
    code runs meanwhile, and nothing may be imported once it has (see grader/importpath.py)."""
    import csv, datetime, io, platform, statistics  # noqa: E401,F401
    import numpy  # noqa: F401
    from ..engine import _load_reporting, _load_scoring
    from ..report.render import render_class_overview  # noqa: F401
    from ..failure import grader_failed  # noqa: F401
    _load_scoring()
    _load_reporting()


def run_batch(source, out, cases="test_cases", jobs=None, force=False, config=None, progress=None,
              canvas_column=None):
    """Grade every submission under source into out. Returns (outcomes, manifest).

    Everything under out that holds a student's work (students/, .unpacked/) is
    readable by this user only: in root mode each student's code runs as the
    sandbox user, which must not read the others'.
    """
    from ..cases import load_manifest
    from ..engine import check_config
    folder, target = Path(source).resolve(), Path(out).resolve()
    if folder.is_dir() and (target == folder or folder in target.parents):
        raise UserError(f"the output folder {out} is inside {source}, where it would be graded as a "
                        f"submission; choose an output folder outside {source}")
    manifest = load_manifest(cases)  # what every submission is graded from, whatever changes meanwhile
    check_config(manifest, config)
    manifest_sha = manifest.sha256
    out = prepare_output_dir(out)
    try:
        _private_dir(out / "students")
    except OSError as exc:
        raise UserError(f"cannot create {out / 'students'}: {exc.strerror or exc}") from None
    warnings = []

    def warn(message):
        warnings.append(message)
        _print_warning(message)
    entries = discover(source, out, warn)
    _load_everything()
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
                                              fingerprint=fp, emails=entry.emails, students=entry.students,
                                              sids=entry.sids)
            retry = []
        remaining = retry
    ordered = [outcomes[entry.key] for entry in entries]
    write_grades_csv(out / "grades.csv", ordered, manifest)
    write_canvas_csv(out / "canvas.csv", ordered, manifest, canvas_column)
    write_overview(out / "index.html", ordered, manifest)
    if todo:  # again, below the progress lines
        for message in warnings:
            _print_warning(message)
    return ordered, manifest


