"""Grading one submission, start to finish.

Steps, in order:
1. load the manifest, with the bytes of every case's file, whose hashes it checks;
   open the sandbox (in root mode: close the project folder, the cases and the
   config to the sandbox user) and start the worker, which loads NumPy meanwhile
   and runs nothing of the student's yet;
2. check the config's hash, find the submission's files, and check them
   statically: syntax, the locked interface, forbidden imports;
3. copy the files into the worker's private folder, and load NumPy and the code
   that scores answers, all before any student code runs;
4. let the worker import the modules that passed the static checks; meanwhile a
   thread loads the report templates and the code that writes the results;
5. run every case, one call at a time, within its timeout and the run's total
   budget; each case is scored while the worker computes the next one, and a
   timeout or crash costs that case only;
6. add advice that spans cases (a function that uses another file's failing function);
7. end every process the student's code started, and remove the sandbox.

A student's own run (grade(local=True), which the release's pytest asks for) takes the
same steps with a plain child process for the worker (local.py) in place of the sandbox.
"""
import os
import time
import traceback
from pathlib import Path

from . import static
from .cases import CaseError, load_manifest
from .errors import UserError
from .files import prepare_output_dir
from .local import LocalBox, LocalSession
from .results import CaseResult, GradeResult, OutputResult
from .submission import Submission, load_submission

TIMEOUTS_BEFORE_SKIP = 2


def grade(submission_path, cases_root="test_cases", config_path=None, results_dir=None,
          protect=(), progress=None, fix_permissions=True, seal=(), zygote=False, manifest=None,
          local=False, slow=None):
    """Grade a submission folder or .zip. Returns a GradeResult; raises only UserError/CaseError.

    results_dir: where the caller will write the results; created now, so that in
    root mode the sandbox can check that student code cannot write or redirect it.
    protect: more paths the worker must not read (the grader's own code on Gradescope).
    seal: more folders the worker must not enter (a class's output folder).
    progress: called as progress(done, total, case_result) after each case.
    slow: called with a line of text (still_running's) when a case has run SLOW_CASE_SECONDS,
    and again every SLOW_CASE_SECONDS until it ends; from a thread of its own.
    zygote: fork the worker from a process that loaded NumPy once (see runner.Zygote), as
    `batch` does; it is kept for this process's later grades. "hidden": only if there are
    hidden cases, whose fresh worker is then forked from a zygote that loaded beside the
    first worker, instead of being a second interpreter (`grade` and Gradescope do this).
    manifest: the cases under cases_root as load_manifest read them, with the config checked
    against them by check_config already (batch does both once, not once per submission);
    None reads and checks them now.
    local: a student's own run (grader/local.py), as the release's pytest asks for it: the
    worker is a plain child process, with no sandbox, on any system; the sandbox is not even
    imported. Never guessed: `grade`, `batch` and Gradescope always use the sandbox.
    """
    started = time.monotonic()
    checked = manifest is not None
    if manifest is None:
        manifest = load_manifest(cases_root)
    elif Path(cases_root).resolve() != Path(manifest.root).resolve():
        raise ValueError(f"the manifest given was read from {manifest.root}, not {cases_root}")
    if not manifest.checked:  # (load_manifest checks them by default)
        raise ValueError("the manifest given was read without reading and checking its cases")
    if results_dir is not None:
        prepare_output_dir(results_dir)
    settings = manifest.settings
    budget_deadline = started + settings["total_budget"]
    box = None
    session = None
    reporting = None
    watch = _Watch(slow, settings["case_timeout"]) if slow else None
    try:
        if Path(submission_path).exists():
            # Start the worker first: it loads NumPy while this process checks the
            # submission. It runs nothing of the student's before session.begin().
            blocked_imports = settings["forbidden_imports"] if settings["on_forbidden"] == "fail" else []
            if local:
                box = LocalBox()
                session = LocalSession(box, (), settings["output_limit_kb"] * 1024, settings["import_timeout"],
                                       blocked_imports)
            else:
                from .runner import WorkerSession
                from .sandbox import open_sandbox
                protected = [manifest.root] + ([config_path] if config_path else []) + list(protect)
                writable = [p for p in (results_dir, manifest.root) if p]
                box = open_sandbox(protected, writable, settings["worker_memory_mb"],
                                   cpu_seconds=settings["total_budget"] + 30,
                                   fix_permissions=fix_permissions,
                                   sealed=project_folders(manifest.root, config_path) + list(seal))
                session = WorkerSession(box, (), settings["output_limit_kb"] * 1024,
                                        settings["import_timeout"], blocked_imports,
                                        zygote=zygote is True or (zygote == "hidden"
                                                                  and any(c.hidden for c in manifest.cases)))
            session.watch_forbidden(settings["forbidden_imports"])
            session.launch()

        # Everything the grade depends on is read before any student code runs.
        if not checked:
            check_config(manifest, config_path)
        submission = _read_submission(submission_path, [m["file"] for m in manifest.modules])
        result = GradeResult(manifest.title, manifest.tie_rule, submission.name, [], manifest.functions,
                             notes=list(submission.notes), hidden_visibility=settings["hidden_visibility"],
                             modules=manifest.modules)
        _describe_isolation(result, box)
        checks = _static_checks(submission, manifest, result)
        blocked = _blocked_modules(submission, checks, settings, result, manifest.modules)
        runnable = [m["name"] for m in manifest.modules if m["name"] not in blocked]

        if runnable and session is not None:
            result.notices += box.notices
            result.notes += _install(box, submission.files)
            _load_scoring()  # the parent's NumPy and scoring code, before any student code runs
            session.share_code({m["name"]: (m["file"], submission.files[m["file"]])
                                     for m in manifest.modules if m["name"] in runnable and m["file"] in submission.files})
            session.begin(runnable)
            reporting = _Loader(_load_reporting)  # loads while the worker imports and computes
            session.wait_ready(budget_deadline)
            result.import_output = session.import_output
            for module, status in session.imports.items():
                if not status.ok:
                    blocked[module] = _import_problem(module, status, session.import_output)
                    result.problems.append(blocked[module])
        else:
            _load_scoring()
            _load_reporting()
        seen_visible = _run_cases(manifest, checks, blocked, session, budget_deadline, result, progress,
                                  lambda: _fresh_worker(session, box, submission, budget_deadline), watch)
        _forbidden_found(session, settings, result, seen_visible)
        if reporting is not None:
            reporting.join()
    finally:
        if watch is not None:
            watch.close()
        if reporting is not None:
            reporting.wait()
        try:
            if session is not None:
                session.close()
        finally:
            if box is not None:
                box.close()  # in root mode: kills every process left to the sandbox user
    _layer_at_fault(result, checks, manifest)
    _tag_contrasts(result, manifest)
    result.seconds = time.monotonic() - started
    return result


# Cases that run long ------------------------------------------------------------------

SLOW_CASE_SECONDS = 3   # a case still running this long is named, and again every as long after


def still_running(case, seconds, limit=None):
    """What to say while a case runs long, so that a loop that never ends is not silence:
    'still running after 6 s: conv_backward [stride 2, pad 1] (the limit per case is 10 s)'.
    A hidden case is named by its function alone."""
    what = f"a hidden case of {case.function}" if case.hidden else f"{case.function} [{case.label}]"
    return f"still running after {seconds:g} s: {what}" + (f" (the limit per case is {limit:g} s)" if limit else "")


class _Watch:
    """Says still_running() through say(text) while a case runs long: SLOW_CASE_SECONDS after
    it starts, then every SLOW_CASE_SECONDS, with the time due, from a thread of its own
    while the grading thread waits on the worker."""

    def __init__(self, say, limit, every=SLOW_CASE_SECONDS):
        import threading
        self.say, self.limit, self.every = say, limit, every
        self._case, self._since, self._closed = None, 0.0, False
        self._changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="slow-case watch", daemon=True)
        self._thread.start()

    def running(self, case):
        with self._changed:
            self._case, self._since = case, time.monotonic()
            self._changed.notify()

    def idle(self):
        with self._changed:
            self._case = None
            self._changed.notify()

    def close(self):
        with self._changed:
            self._closed = True
            self._changed.notify()
        self._thread.join()

    def _run(self):
        with self._changed:
            while not self._closed:
                if self._case is None:
                    self._changed.wait()
                    continue
                case, since = self._case, self._since
                marks = int((time.monotonic() - since) // self.every) + 1
                self._changed.wait(since + marks * self.every - time.monotonic())
                if self._case is case and self._since == since and not self._closed \
                        and time.monotonic() >= since + marks * self.every:
                    text = still_running(case, marks * self.every, self.limit)
                    self._changed.release()  # (the grading thread may go on meanwhile)
                    try:
                        self.say(text)
                    except Exception:
                        pass  # a message that cannot be shown must not stop the grading
                    finally:
                        self._changed.acquire()


def project_folders(cases_root, config_path=None):
    """The instructor's project folders beside the cases: the folders holding the cases
    or the config that also hold the reference or assignment.toml. Student code must
    not enter them: besides the cases they hold the reference solution, built
    packages with the hidden cases, and other students' reports."""
    candidates = [Path(cases_root).resolve().parent]
    if config_path:
        candidates.append(Path(config_path).resolve().parent)
    found = []
    for folder in candidates:
        if folder not in found and ((folder / "reference").is_dir() or (folder / "spec").is_dir()
                                    or (folder / "assignment.toml").is_file()):
            found.append(folder)
    return found


def _load_scoring():
    """Everything that scores an answer: loaded before any student code runs."""
    from . import evaluate  # noqa: F401  (with NumPy, compare and diagnose)


def _load_reporting():
    """Everything that writes the results: the templates, compiled, and the output code.

    It is loaded while the worker computes, for speed. In root mode the worker cannot
    change any of it: the grader dropped every import-path entry a sandbox user could
    write, the templates and the grader belong to root, and a compiled-template cache
    is used only if it is private."""
    from .report.render import preload
    preload()
    from . import outputs  # noqa: F401


class _Loader:
    """Runs a loading function in a thread, mostly while the main thread waits on the worker.

    While it loads, the interpreter switches threads every half millisecond instead of
    every five, so that an answer from the worker is read and scored as soon as it
    arrives. If no thread can be started, the function runs at once.
    """

    SWITCH_INTERVAL = 0.0005

    def __init__(self, function):
        import sys
        import threading
        self.error = None
        self.thread = None
        self._interval = sys.getswitchinterval()
        sys.setswitchinterval(min(self._interval, self.SWITCH_INTERVAL))
        try:
            self.thread = threading.Thread(target=self._run, args=(function,), daemon=True)
            self.thread.start()
        except RuntimeError:
            self.thread = None
            self._run(function)

    def _run(self, function):
        import sys
        try:
            function()
        except BaseException as exc:  # re-raised in the main thread by join()
            self.error = exc
        finally:
            sys.setswitchinterval(self._interval)

    def wait(self):
        """Wait for the loading to end; returns the error it raised, if any."""
        if self.thread is not None:
            self.thread.join()
            self.thread = None
        return self.error

    def join(self):
        if self.wait() is not None:
            raise self.error


def check_config(manifest, config_path):
    """Raise CaseError unless the cases were generated from the config's current bytes."""
    if not config_path or not Path(config_path).is_file():
        return
    import hashlib  # the manifest records the hash of the config's bytes: no need to parse it here
    try:
        digest = hashlib.sha256(Path(config_path).read_bytes()).hexdigest()
    except OSError as exc:
        raise UserError(f"cannot read {config_path}: {exc.strerror or exc}") from None
    if digest != manifest.raw.get("config_sha256"):
        raise CaseError(f"{config_path} has changed since {manifest.root} was generated; run "
                        f"`python -m grader generate` so that the cases follow it")


def _read_submission(path, files):
    try:
        return load_submission(path, files)
    except UserError as exc:
        if not Path(path).exists():
            raise
        name = Path(path).stem
        problem = f"the submission could not be read: {exc}"
        modules = [file[:-3] for file in files]
        return Submission(name, {}, dict.fromkeys(modules), dict.fromkeys(modules, problem))


def _static_checks(submission, manifest, result):
    checks = {}
    forbidden = manifest.settings["forbidden_imports"]
    helpers = {path: data for path, data in submission.files.items()
               if path.endswith(".py") and path not in submission.modules.values()}
    student_modules = [m["name"] for m in manifest.modules]
    for module, relative in submission.modules.items():
        if relative is None:
            continue
        checks[module] = static.check_module(module, relative, submission.files[relative],
                                             manifest.interface[module], helpers, forbidden,
                                             [m for m in student_modules if m != module])
    return checks


def _blocked_modules(submission, checks, settings, result, modules):
    """{module: reason} for the modules that cannot run at all; each reason names its file.

    A module that imports another student file that cannot run cannot run either."""
    blocked = {}
    for module in (m["name"] for m in modules):
        if module in submission.problems:
            blocked[module] = submission.problems[module]
            continue
        check = checks[module]
        if check.syntax_error:
            error = check.syntax_error
            where = f"{check.filename}:{error['line']}" if error["line"] else check.filename
            text = f": {error['text'].strip()}" if error["text"].strip() else ""
            blocked[module] = f"{where}: syntax error: {error['message']}{text}"
        elif check.forbidden and settings["on_forbidden"] == "fail":
            blocked[module] = f"{check.filename}: " + _forbidden_text(check.forbidden, "may not be used")
        elif check.forbidden:
            result.notes.append(f"{check.filename}: " + _forbidden_text(check.forbidden, "should not be used"))
    result.problems += blocked.values()
    for module in modules:  # (in file order: a file imports the files declared before it)
        broken = [other for other in module["imports"] if other in blocked]
        if broken and module["name"] not in blocked:
            blocked[module["name"]] = (f"{module['file']} imports {broken[0]}.py, which cannot be graded: "
                                       f"{blocked[broken[0]]}")
    return blocked


def _forbidden_text(found, verb):
    places = ", ".join(f"{package} ({file}:{line})" for package, file, line in found[:5])
    return f"imports {places}: these packages {verb} in this assignment; use NumPy alone"


def _describe_isolation(result, box):
    """Which isolation and which interpreter run the student's code, for the report and results.json."""
    if isinstance(box, LocalBox):
        result.isolation, result.interpreter = box.isolation, box.describe()
        return
    from .sandbox import describe_interpreter, kernel
    result.isolation = box.isolation if box is not None else kernel.PROCESS_ONLY
    result.interpreter = describe_interpreter(box) if box is not None else ""


def _fresh_worker(session, box, submission, budget_deadline):
    """Before the hidden cases: a new worker, in a new folder, with nothing left of the visible
    cases' worker (its processes, and in the fallback every file its user left)."""
    session.stop()
    if box.renew_workdir():
        _install(box, submission.files)
    if session.modules:
        session.launch()
        session.begin()
        session.wait_ready(budget_deadline)


def _install(box, files):
    """Copy the submission's files into the worker's folder: plainly for a local run, else
    as root without following a link (sandbox/install.py)."""
    if isinstance(box, LocalBox):
        return box.install(files)
    from .sandbox.install import install_files
    return install_files(box, files)


def _forbidden_found(session, settings, result, seen_visible):
    """A forbidden package found in the worker's memory, where the import blocker could not stop it.

    One found only while the hidden cases ran fails those cases alone, and says nothing
    where a student can see it: a visible word of it would tell what the hidden inputs are."""
    if session is None or not session.forbidden:
        return
    hidden_only = not seen_visible
    names = ", ".join(session.forbidden)
    message = (f"your code loaded {names} while it ran (found in the memory of the process running it): "
               f"these packages may not be used in this assignment; use NumPy alone")
    if settings["on_forbidden"] != "fail":
        if not hidden_only:
            result.notes.append(message)
        return
    if not hidden_only:
        result.problems.append(message)
    for case_result in result.cases:
        if (case_result.score > 0 or case_result.passed) and (case_result.case.hidden or not hidden_only):
            case_result.score = 0.0
            case_result.status = "failed"
            case_result.summary = message
            for output in case_result.outputs:
                output.score = 0.0
                output.message = output.message or "not counted"


def _import_problem(module, status, output):
    if status.ended and " was imported first " in status.ended:
        return f"{module}.py: not imported, because {status.ended}"
    if status.ended == "timeout":
        return f"{module}.py: importing it took too long; is there code at the top level of the file " \
               f"that loops or waits?"
    if status.ended:
        return f"{module}.py: importing it ended the process ({status.ended}); remove code at the top " \
               f"level that exits or crashes"
    error = status.error or {}
    where = ""
    if error.get("frames"):
        file, line, _, text = error["frames"][-1]
        where = f" at {file}:{line} ({text.strip()})" if text else f" at {file}:{line}"
    return f"{module}.py: importing it raised {error.get('type', 'an error')}: " \
           f"{error.get('message', '')}{where}".rstrip()


def _run_cases(manifest, checks, blocked, session, budget_deadline, result, progress, fresh_worker=None,
               watch=None):
    """Run the visible cases, then the hidden ones in a fresh worker (fresh_worker() makes it):
    nothing of a hidden case can reach a visible case's output. Results keep the manifest's order."""
    order = {id(case): index for index, case in enumerate(manifest.cases)}
    visible = [case for case in manifest.cases if not case.hidden]
    hidden = [case for case in manifest.cases if case.hidden]
    timeouts = {}  # by function, over both phases
    done = _run_phase(manifest, visible, checks, blocked, session, budget_deadline, result, progress, 0, timeouts,
                      watch)
    seen_visible = list(session.forbidden) if session is not None else []
    if hidden:
        if session is not None and fresh_worker is not None:
            fresh_worker()
        _run_phase(manifest, hidden, checks, blocked, session, budget_deadline, result, progress, done, timeouts,
                   watch)
    result.cases.sort(key=lambda case_result: order[id(case_result.case)])
    return seen_visible


def _run_phase(manifest, cases, checks, blocked, session, budget_deadline, result, progress, done, timeouts,
               watch=None):
    """Run these cases in order, one call at a time, scoring each while the next one runs.

    The worker holds one case's inputs at a time: case k+1 is sent only after case k's
    answer came back, and case k is scored while the worker computes case k+1. The
    cases' bytes were read with the manifest, before any student code ran; each is
    parsed the first time this process needs it (see Manifest.load). Returns how many
    cases have run, with the `done` before.
    """
    from . import evaluate
    case_data = manifest.load

    def finish(index, case, outcome):
        if isinstance(outcome, CaseResult):
            case_result = outcome
        else:
            case_result = _score(case, case_data, outcome, manifest)
        result.cases.append(evaluate.strip_hidden(case_result))
        if progress:
            progress(index, len(manifest.cases), case_result)

    previous = None
    module_of = {f["name"]: f["module"] for f in manifest.functions}
    for index, case in enumerate(cases, start=done + 1):
        outcome = _skip(case, module_of[case.function], checks, blocked, timeouts, budget_deadline, result)
        if outcome is None:
            if watch is not None:
                watch.running(case)
            try:
                pending = session.send(case.call, case_data(case).wire_inputs(),
                                       manifest.settings["case_timeout"], budget_deadline)
            except Exception:
                session.stop()
                outcome = _internal(case)
        if previous is not None:
            finish(*previous)  # while the worker computes this case
        if index - done < len(cases):
            try:
                case_data(cases[index - done])  # parsed now, while the worker computes
            except Exception:
                pass  # and reported as the grader's own error when that case is scored
        if outcome is None:
            try:
                outcome = session.receive(pending)
            except Exception:
                session.stop()
                outcome = _internal(case)
        if watch is not None:
            watch.idle()
        if not isinstance(outcome, CaseResult) and outcome.status == "timeout":
            timeouts[case.function] = timeouts.get(case.function, 0) + 1
            if budget_deadline - time.monotonic() <= 0.05:
                result.budget_exhausted = True
        previous = (index, case, outcome)
    if session is not None:
        session.end()  # the last answer is in: the worker is torn down while it is scored
    if previous is not None:
        finish(*previous)
    return done + len(cases)


def _skip(case, module, checks, blocked, timeouts, budget_deadline, result):
    """The result of a case that is not run, or None if it runs."""
    if module in blocked:
        return _unrunnable(case, "import", blocked[module])
    for name in _interface_of(case):
        check = checks[module].functions.get(name)
        if check is not None and not check.ok:
            return _unrunnable(case, "interface", check.message)
    if timeouts.get(case.function, 0) >= TIMEOUTS_BEFORE_SKIP:
        return _unrunnable(case, "not-run", f"not run: {TIMEOUTS_BEFORE_SKIP} earlier cases of "
                                            f"{case.function} timed out")
    if budget_deadline - time.monotonic() <= 0.05:
        result.budget_exhausted = True
        return _unrunnable(case, "not-run", "not run: the time budget for the whole submission ran "
                                            "out before this case; make the slow functions faster")
    return None


def _score(case, case_data, outcome, manifest):
    from . import evaluate
    try:
        return evaluate.evaluate(case, case_data(case), outcome, manifest, manifest.settings["worker_memory_mb"])
    except Exception:
        return _internal(case)


def _tag_contrasts(result, manifest):
    """Name what a function's failing cases have in common where the catalog names nothing:
    a described tag (spec/cases.py's TAGS) that every failing case has and no passing one has."""
    from .results import Diagnosis
    by_function = {}
    for case_result in result.cases:
        if not case_result.case.hidden:  # (what the visible feedback says must not hint at hidden results)
            by_function.setdefault(case_result.case.function, []).append(case_result)
    for function, results in by_function.items():
        failing = [c for c in results if not c.passed and c.status in ("failed", "partial", "error")]
        passing = [c for c in results if c.passed]
        if not failing or not passing or any(c.diagnoses for c in failing):
            continue
        for tag, phrase in manifest.tags.items():
            if all(tag in c.case.tags for c in failing) and not any(tag in c.case.tags for c in passing):
                diagnosis = Diagnosis(f"generic/only-{tag}", f"only the cases with {phrase} fail",
                                      f"Your {function} passes every case without {phrase} and fails every "
                                      f"one with it: the mistake is in how it handles {phrase}.", [])
                for case_result in failing:
                    case_result.diagnoses.append(diagnosis)
                break


def _interface_of(case):
    """What of the locked interface a case calls: the function, and the constructor of an object
    the case builds ('Conv2D.__init__' for 'Conv2D.backward'), which must be intact first."""
    names = [case.function]
    if case.call.get("class") and case.call.get("method") != "__init__":
        names.insert(0, f"{case.call['class']}.__init__")
    return names


def _internal(case):
    """The result of a case the grader itself failed on, with the traceback for the instructor."""
    return CaseResult(case, "internal", 0.0, summary=(
        "the autograder failed on this case: this is a bug in the grader, not in your code. "
        "Your instructor can see the details."), internal=traceback.format_exc())


def _unrunnable(case, status, message):
    outputs = [OutputResult(name, points, 0.0, "not computed") for name, points in case.outputs.items()]
    return CaseResult(case, status, 0.0, summary=message, outputs=outputs)


def _layer_at_fault(result, checks, manifest):
    """Point the failures of a file's functions at the student's own failing functions it uses
    from another student file ("FullyConnectedNet uses your affine_backward, which fails its
    own tests: fix that first")."""
    # A function at fault fails a case of the ordinary kind: one that fails only on edge inputs
    # (scores near 1000) says nothing of what the functions that call it give it.
    # Only visible cases count: a note on a visible case must say nothing of the hidden ones.
    failing = {c.case.function for c in result.cases if not c.passed and not c.case.edge and not c.case.hidden}
    if not failing:
        return
    module_of = {f["name"]: f["module"] for f in manifest.functions}
    for module in manifest.modules:
        culprits = []
        for other, taken in module["imports"].items():
            check = checks.get(module["name"])
            used = check.uses.get(other) if check is not None else None
            if not used or "*" in used:  # the student's file says nothing more precise: what the template takes
                used = taken
            culprits += [f["name"] for f in manifest.functions if f["module"] == other and f["name"] in failing
                         and ("*" in used or f["name"].split(".")[0] in used)]
        if not culprits:
            continue
        names = ", ".join(culprits)
        one = len(culprits) == 1
        for case_result in result.cases:
            if module_of[case_result.case.function] == module["name"] and not case_result.passed \
                    and case_result.status not in ("interface", "import", "not-implemented"):
                owner = case_result.case.function.split(".")[0]
                case_result.notes.append(f"{owner} uses your {names}, which {'fails' if one else 'fail'} "
                                         f"{'its' if one else 'their'} own tests: fix "
                                         f"{'that' if one else 'those'} first.")
                # A generic pattern ("off by a constant factor") of what the wrong layer gave it would
                # point away from the layer; a catalog mistake of the function's own code stays.
                case_result.diagnoses = [d for d in case_result.diagnoses if not d.key.startswith("generic/")]
