"""`python -m grader`: a thin command line over the library's functions.

Each subcommand parses its arguments, calls one library function, and prints.
Errors the user can fix (a bad config, a missing file, stale test cases) are
printed as one line and exit with status 2; they are never a traceback.
"""
import argparse
import os
import sys

from .errors import UserError

# Single-threaded BLAS: the grader runs many small products, Gradescope gives half
# a CPU, and results must not depend on thread scheduling. Set before NumPy loads.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

def cmd_generate(args):
    from .authoring import casespecs, generate as gen
    if args.list:
        for spec in casespecs.CASES:
            print(f"{spec.id:55} {spec.label}")
        return 0
    generated = gen.generate(args.project, args.config)
    if args.check:
        problems = gen.check(generated, args.project)
        if problems:
            for path, problem in problems:
                print(f"{path}: {problem}")
            print(f"error: {len(problems)} generated file(s) are out of date; "
                  f"run `python -m grader generate` and commit the result", file=sys.stderr)
            return 1
        print(f"generated files are up to date: {generated.case_count} cases, "
              f"{generated.mistake_count} stored mistake outputs, student template")
        return 0
    changed, stale = gen.write(generated, args.project, prune=args.prune)
    print(f"wrote {len(changed)} changed file(s) of {len(generated.files)}: "
          f"{generated.case_count} cases, {generated.mistake_count} stored mistake outputs")
    for path in changed:
        print(f"  {path}")
    if stale:
        verb = "removed" if args.prune else "no longer generated (remove them, or rerun with --prune)"
        print(f"{len(stale)} file(s) {verb}:")
        for path in stale:
            print(f"  {path}")
    return 0


def cmd_grade(args):
    from pathlib import Path

    from .engine import grade
    from .failure import grader_failed
    from .text import terminal_text
    submission = Path(args.submission)
    out = Path(args.out) if args.out else Path("reports") / _report_name(submission)
    try:
        result = grade(submission, Path(args.cases), config_path=_config_beside(args), results_dir=out)
        from .outputs import summary_table, write_outputs  # (loaded by grade() already)
        results, report = write_outputs(result, out)
    except (UserError, KeyboardInterrupt):
        raise
    except Exception as exc:  # the grader's own failure: still a results.json, and one line
        written = grader_failed(out / "results.json", exc, Path(args.cases))
        print(f"error: the grader failed on {terminal_text(submission)}: {terminal_text(type(exc).__name__)}: "
              f"{terminal_text(exc)}" + (f" (details in {written})" if written else ""), file=sys.stderr)
        return 1
    if not args.quiet:
        print(f"{terminal_text(result.title)}: {terminal_text(result.submission)}")
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
    outcomes, manifest = run_batch(args.submissions, args.out, Path(args.cases), args.jobs, args.force,
                                   _config_beside(args), Progress())
    graded = [o for o in outcomes if o.status == "graded"]
    failed = [o for o in outcomes if o.status != "graded"]
    print(f"graded {len(graded)} of {len(outcomes)} submissions into {args.out}/")
    if graded:
        mean = sum(o.score for o in graded) / len(graded)
        print(f"mean score {mean:.1f} / {graded[0].possible:g}")
    from .text import terminal_text
    for outcome in failed:
        print(f"  could not grade {terminal_text(outcome.name)}: {terminal_text(outcome.error)}")
    print(f"class overview: {Path(args.out) / 'index.html'}")
    print(f"grades:         {Path(args.out) / 'grades.csv'}")
    return 0


def cmd_package(args):
    from .authoring.package import build_package
    out, files = build_package(args.project, args.out)
    cases = sum(1 for name in files if name.endswith(".npz"))
    print(f"wrote {out}: {len(files)} files ({cases} test cases, public and hidden)")
    print("upload it as the autograder of a Gradescope programming assignment (Ubuntu 22.04 base image)")
    return 0


def cmd_release(args):
    from .authoring.release import build_release
    out, files = build_release(args.project, args.out)
    cases = sum(1 for name in files if name.endswith(".npz"))
    print(f"wrote {out}: {len(files)} files, {cases} public test cases")
    print("give it to students: they unzip it, run `pip install -r requirements.txt`, then `pytest`")
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


def _add_case_options(parser):
    parser.add_argument("--cases", default="test_cases", help="test cases folder (default: test_cases)")
    parser.add_argument("--config", help="assignment config to check the cases against "
                                         "(default: assignment.toml beside the cases, if present)")


def _config_beside(args):
    """The --config file, which must exist, or else assignment.toml beside the cases, if there is one."""
    from pathlib import Path
    if args.config:
        config = Path(args.config)
        if not config.is_file():
            problem = "not found" if not config.exists() else "is not a file"
            raise UserError(f"config file {config} {problem}; give --config an assignment.toml, or leave "
                            f"it out to use the one beside the cases")
        return config
    config = Path(args.cases).parent / "assignment.toml"
    return config if config.is_file() else None


def build_parser():
    parser = argparse.ArgumentParser(
        prog="python -m grader",
        description="Autograder for the NumPy backprop assignment (fully-connected, convolutional "
                    "and pooling layers).")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("generate", help="write test_cases/ and student_template/ from reference/ and "
                                        "assignment.toml",
                       description="Generate the test vectors and the student template from the "
                                   "reference solution and assignment.toml, with fixed seeds.")
    p.add_argument("--check", action="store_true",
                   help="compare the files on disk with a fresh generation, byte for byte; exit 1 if "
                        "any differs (for CI)")
    p.add_argument("--list", action="store_true", help="list every case id and label, then exit")
    p.add_argument("--prune", action="store_true",
                   help="also delete files under test_cases/ and student_template/ that are no longer "
                        "generated")
    p.add_argument("--project", default=".", help="project root holding reference/ (default: .)")
    p.add_argument("--config", default=None, help="assignment config (default: PROJECT/assignment.toml)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("grade", help="grade one submission (a folder or a .zip)",
                       description="Grade a submission folder or .zip against the test cases. Writes "
                                   "results.json (Gradescope's format) and report.html, and prints a "
                                   "summary. Exits 0 whenever grading completed, whatever the score.")
    p.add_argument("submission", help="folder or .zip holding layers.py and fc_net.py (may be nested "
                                      "at most two folders deep)")
    p.add_argument("--out", help="where to write results.json and report.html "
                                 "(default: reports/<submission name>/)")
    _add_case_options(p)
    p.add_argument("--quiet", action="store_true", help="print nothing but errors")
    p.set_defaults(func=cmd_grade)

    p = sub.add_parser("batch", help="grade a whole class: a folder of submissions or a Gradescope export",
                       description="Grade every submission in SUBMISSIONS: a folder with one subfolder or "
                                   ".zip per student, or Gradescope's Export Submissions zip (or that zip "
                                   "unpacked). Writes each student's report and results.json, grades.csv "
                                   "and the class overview index.html. Re-running skips submissions whose "
                                   "files, cases and grader have not changed.")
    p.add_argument("submissions", help="folder of submissions, or Gradescope's export .zip")
    p.add_argument("--out", default="reports/batch", help="output folder (default: reports/batch)")
    p.add_argument("--jobs", type=_positive_count, default=None,
                   help="submissions graded at once (default: the number of CPU cores)")
    p.add_argument("--force", action="store_true", help="regrade every submission, even unchanged ones")
    _add_case_options(p)
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("package", help="build the Gradescope autograder zip",
                       description="Build the autograder zip to upload to Gradescope: setup.sh and "
                                   "run_autograder at its root, the grader runtime, every test case and "
                                   "the config. It holds no reference code.")
    p.add_argument("--out", help="zip to write (default: dist/autograder.zip)")
    p.add_argument("--project", default=".", help="project root (default: .)")
    p.set_defaults(func=cmd_package)

    p = sub.add_parser("release", help="build the zip students get: template, public cases, local tests",
                       description="Build the student release: the template files, the public test "
                                   "cases only, a pytest suite that grades them with the same engine "
                                   "as Gradescope, requirements.txt and a README for students.")
    p.add_argument("--out", help="zip to write (default: dist/release.zip)")
    p.add_argument("--project", default=".", help="project root (default: .)")
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
