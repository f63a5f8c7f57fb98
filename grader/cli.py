"""`python -m grader`: a thin command line over the library's functions.

Each subcommand parses its arguments, calls one library function, and prints.
Errors the user can fix (a bad config, a missing file, stale test cases) are
printed as one line and exit with status 2; they are never a traceback.
"""
import argparse
import os
import sys
from os import geteuid

from .errors import UserError

# Single-threaded BLAS: the grader runs many small products, Gradescope gives half
# a CPU, and results must not depend on thread scheduling. Set before NumPy loads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")


def warn_who_runs_student_code():
    """Once per command: as a normal user there is no sandbox user, and student code runs as you."""
    if geteuid() == 0:
        return
    import getpass
    try:
        me = getpass.getuser()
    except Exception:  # no name for this uid
        me = f"uid {geteuid()}"
    print(f"warning: not running as root, so the submissions' code runs as you ({me}), with your access to "
          f"your files and the network, under time and memory limits only; grade code you do not trust as "
          f"root (it then runs as a sandbox user that can reach nothing of yours) or in a VM",
          file=sys.stderr, flush=True)


def cmd_generate(args):
    from .authoring import generate as gen
    if args.list:
        for case_id, label, hidden in gen.listing(args.assignment, args.config):
            print(f"{case_id:55} {label}{'  (hidden)' if hidden else ''}")
        return 0
    generated = gen.generate(args.assignment, args.config)
    if args.check:
        problems = gen.check(generated, args.assignment)
        if problems:
            for path, problem in problems:
                print(f"{path}: {problem}")
            print(f"error: {len(problems)} generated file(s) are out of date; "
                  f"run `{_command('generate', args.assignment)}` and commit the result", file=sys.stderr)
            return 1
        print(f"generated files are up to date: {generated.case_count} cases, "
              f"{generated.mistake_count} stored mistake outputs, student template")
        return 0
    changed, removed = gen.write(generated, args.assignment)
    print(f"wrote {len(changed)} changed file(s) of {len(generated.files)}: "
          f"{generated.case_count} cases, {generated.mistake_count} stored mistake outputs")
    for path in changed:
        print(f"  {path}")
    if removed:
        print(f"removed {len(removed)} file(s) the assignment no longer generates:")
        for path in removed:
            print(f"  {path}")
    return 0


def cmd_check(args):
    from .authoring.check import check_assignment

    def show(step):
        print(f"{'ok  ' if step.ok else 'FAIL'}  {step.name}")
        for line in step.details:
            print(f"      {line}")
    report = check_assignment(args.assignment, show)
    if report.ok:
        print(f"the assignment in {args.assignment} is ready")
        return 0
    print(f"error: the assignment in {args.assignment} is not ready: "
          f"{', '.join(step.name for step in report.steps if not step.ok)}", file=sys.stderr)
    return 1


def cmd_grade(args):
    from pathlib import Path

    from .engine import grade
    from .failure import grader_failed
    from .text import terminal_text
    submission = Path(args.submission)
    cases, config = _cases_and_config(args)
    out = Path(args.out) if args.out else Path("reports") / _report_name(submission)
    slow = None
    if not args.quiet:
        warn_who_runs_student_code()
        slow = lambda text: print(f"  {terminal_text(text)}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        result = grade(submission, cases, config_path=config, results_dir=out, slow=slow, zygote="hidden")
        from .outputs import summary_table, write_outputs  # (loaded by grade() already)
        results, report = write_outputs(result, out)
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as exc:  # the grader's own failure: still a results.json, and one line
        written = grader_failed(out / "results.json", exc, cases)
        print(f"error: the grader failed on {terminal_text(submission)}: {terminal_text(type(exc).__name__)}: "
              f"{terminal_text(exc)}" + (f" (details in {written})" if written else ""), file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"{terminal_text(result.title)}: {terminal_text(result.submission)}")
        for note in result.notes:
            print(f"  note: {terminal_text(note)}")
        for problem in result.problems:
            print(f"  problem: {terminal_text(problem)}")
        print()
        print("\n".join(summary_table(result)))
        print()
        print(f"report:  {report}")
        print(f"results: {results}")
    return 0


def cmd_batch(args):
    from pathlib import Path

    from .batch import Progress, run_batch
    cases, config = _cases_and_config(args)
    warn_who_runs_student_code()
    outcomes, manifest = run_batch(args.submissions, args.out, cases, args.jobs, args.force, config, Progress(),
                                   canvas_column=args.canvas_column)
    graded = [o for o in outcomes if o.status == "graded"]
    failed = [o for o in outcomes if o.status != "graded"]
    print(f"graded {len(graded)} of {len(outcomes)} submissions into {args.out}/")
    if graded:
        mean = sum(o.score for o in graded) / len(graded)
        print(f"mean score {mean:.1f} / {graded[0].possible:g} (of the graded submissions)")
    from .text import terminal_text
    for outcome in failed:
        print(f"  could not grade {terminal_text(outcome.name)}: {terminal_text(outcome.error)}")
    print(f"class overview: {Path(args.out) / 'index.html'}")
    print(f"grades:         {Path(args.out) / 'grades.csv'}")
    print(f"for Canvas:     {Path(args.out) / 'canvas.csv'}")
    return 0


def cmd_package(args):
    from .authoring.package import build_package
    out, files = build_package(args.assignment, args.out)
    cases = sum(1 for name in files if name.endswith(".npz"))
    print(f"wrote {out}: {len(files)} files ({cases} test cases, public and hidden)")
    print("upload it as the autograder of a Gradescope programming assignment (Ubuntu 22.04 base image)")
    return 0


def cmd_release(args):
    from .authoring.release import build_release
    out, files = build_release(args.assignment, args.out)
    cases = sum(1 for name in files if name.endswith(".npz"))
    print(f"wrote {out}: {len(files)} files, {cases} public test cases")
    import zipfile
    with zipfile.ZipFile(out) as archive:
        folder = archive.namelist()[0].split("/")[0]
    print(f"give it to students: they unzip it, and in the folder it makes, {folder}/, run "
          f"`pip install -r requirements.txt`, then `pytest`")
    return 0


def cmd_autograde(args):
    from .autograde import run
    run(args.root)
    return 0


def _report_name(submission):
    name = submission.resolve().name
    return name[:-4] if name.endswith(".zip") else name or "submission"


def _positive_count(text):
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of 1 or more")
    return value


def _command(verb, assignment):
    """The command line that runs `verb` on the assignment, as a user would type it."""
    from pathlib import Path
    same = Path(assignment).resolve() == Path.cwd().resolve()
    return f"python -m grader {verb}" + ("" if same else f" --assignment {assignment}")


def _add_assignment_option(parser):
    parser.add_argument("--assignment", default=".", metavar="DIR",
                        help="the assignment's folder, holding assignment.toml, reference/, spec/ and the "
                             "generated test_cases/ (default: the current folder)")
    parser.add_argument("--project", dest="assignment", help=argparse.SUPPRESS)  # its earlier name


def _add_case_options(parser):
    _add_assignment_option(parser)
    parser.add_argument("--cases", help="test cases folder (default: DIR/test_cases)")
    parser.add_argument("--config", help="assignment config to check the cases against "
                                         "(default: assignment.toml beside the cases, if present)")


def _cases_and_config(args):
    """The test cases folder and the config (or None) that grade and batch use."""
    from pathlib import Path
    cases = Path(args.cases) if args.cases else Path(args.assignment) / "test_cases"
    if not (cases / "manifest.json").is_file() and not args.cases:
        folder = Path(args.assignment)
        if not (folder / "assignment.toml").is_file():
            raise UserError(f"{folder.resolve()} holds no assignment (no assignment.toml, no test_cases/); run "
                            f"this from an assignment's folder, or give --assignment DIR")
    if args.config:
        config = Path(args.config)
        if not config.is_file():
            problem = "not found" if not config.exists() else "is not a file"
            raise UserError(f"config file {config} {problem}; give --config an assignment.toml, or leave "
                            f"it out to use the one beside the cases")
        return cases, config
    config = cases.parent / "assignment.toml"
    return cases, (config if config.is_file() else None)


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description="Autograder for NumPy backprop assignments: generates the test vectors and the student "
                    "template from a reference solution, and grades submissions locally and on Gradescope.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("generate", help="write test_cases/ and student_template/ from reference/, spec/ and "
                                        "assignment.toml",
                       description="Generate the test vectors and the student template of an assignment from "
                                   "its reference solution, its spec/ and assignment.toml, with fixed seeds. "
                                   "Files it no longer generates (a function dropped from [points], a case "
                                   "made hidden) are removed.")
    p.add_argument("--check", action="store_true",
                   help="compare the files on disk with a fresh generation; exit 1 if any differs (for CI)")
    p.add_argument("--list", action="store_true", help="list every case id and label (hidden ones marked), then exit")
    p.add_argument("--prune", action="store_true", help=argparse.SUPPRESS)  # stale files are always removed now
    _add_assignment_option(p)
    p.add_argument("--config", default=None, help="assignment config (default: DIR/assignment.toml)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("check", help="check that an assignment is sound: config, generated files, full marks "
                                     "for the reference, 0 for the template, every mistake named",
                       description="Check an assignment in seconds: its config is valid; test_cases/ and "
                                   "student_template/ are in sync; the reference, laid out as a student would "
                                   "submit it, scores full marks; the untouched template scores 0 without a "
                                   "crash; every catalogued mistake is detected and named. Exits 1 with the "
                                   "reasons if anything fails.")
    _add_assignment_option(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("grade", help="grade one submission (a folder or a .zip)",
                       description="Grade a submission folder or .zip against the test cases. Writes "
                                   "results.json (Gradescope's format) and report.html, and prints a "
                                   "summary. Exits 0 whenever grading completed, whatever the score.")
    p.add_argument("submission", help="folder or .zip holding the assignment's files (may be nested at most "
                                      "five folders deep)")
    p.add_argument("--out", help="where to write results.json and report.html "
                                 "(default: reports/<submission name>/)")
    _add_case_options(p)
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("batch", help="grade a whole class: a folder of submissions or a Gradescope export",
                       description="Grade every submission in SUBMISSIONS: a folder with one subfolder or "
                                   ".zip per student, or Gradescope's Export Submissions zip (or that zip "
                                   "unpacked). Writes each student's report and results.json, grades.csv, "
                                   "canvas.csv (for Canvas's gradebook import) and the class overview "
                                   "index.html. Re-running skips submissions whose files, cases and grader "
                                   "have not changed.")
    p.add_argument("submissions", help="folder of submissions, or Gradescope's export .zip")
    p.add_argument("--out", default="reports/batch", help="output folder (default: reports/batch)")
    p.add_argument("--jobs", type=_positive_count, default=None,
                   help="submissions graded at once (default: the number of CPU cores)")
    p.add_argument("--force", action="store_true", help="regrade every submission, even unchanged ones")
    p.add_argument("--canvas-column", metavar="HEADER",
                   help="canvas.csv's column for the scores: an assignment's header from a Canvas gradebook "
                        "export, such as 'HW3 (123456)', to fill that assignment (default: the assignment's "
                        "title, which Canvas imports as a new assignment)")
    _add_case_options(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("package", help="build the Gradescope autograder zip",
                       description="Build the autograder zip to upload to Gradescope: setup.sh and "
                                   "run_autograder at its root, the grader runtime, every test case and "
                                   "the config. It holds no reference code.")
    p.add_argument("--out", help="zip to write (default: DIR/dist/autograder.zip)")
    _add_assignment_option(p)
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("release", help="build the zip students get: template, public cases, local tests",
                       description="Build the student release: the template files, the public test "
                                   "cases only, a pytest suite that grades them with the same engine "
                                   "as Gradescope, requirements.txt and a README for students.")
    p.add_argument("--out", help="zip to write (default: DIR/dist/release.zip)")
    _add_assignment_option(p)
    p.set_defaults(func=cmd_release)

    p = sub.add_parser("autograde", help="grade inside Gradescope's container (run_autograder calls this)",
                       description="Grade ROOT/submission with ROOT/source/test_cases and write "
                                   "ROOT/results/results.json and report.html. Always writes a "
                                   "results.json, and always exits 0.")
    p.add_argument("--root", default="/autograder", help="Gradescope's root folder (default: /autograder)")
    p.set_defaults(func=cmd_autograde)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): nothing more to say to it
        try:
            sys.stdout = open(os.devnull, "w")  # so that flushing at exit does not fail again
        except OSError:
            pass
        return 141
