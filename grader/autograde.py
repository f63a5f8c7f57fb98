"""Grading inside Gradescope's container: /autograder/submission in, results/results.json out.

`run_autograder` (written by `python -m grader package`) removes every other
user's access to the source and results directories, then calls this. Whatever
happens, a results.json is written at the end: the graded one, or, if the grader
itself failed, a visible "Autograder error" test plus a hidden traceback.
"""
import json
import time
import traceback
from pathlib import Path

from .gradescope import error_results, write_results

DEFAULT_ROOT = "/autograder"


def run(root=DEFAULT_ROOT):
    """Grade the submission under root and write root/results/results.json. Returns the score."""
    root = Path(root)
    started = time.monotonic()
    source, results = root / "source", root / "results"
    results_file = results / "results.json"
    total = _total_points(source / "test_cases")
    try:
        results.mkdir(parents=True, exist_ok=True)
        if results_file.exists() or results_file.is_symlink():
            results_file.unlink()  # nothing but this run's own grading may stand there
        from .engine import grade
        from .outputs import write_outputs
        config = source / "assignment.toml"
        result = grade(root / "submission", source / "test_cases",
                       config_path=config if config.is_file() else None, results_dir=results,
                       protect=[source], zygote="hidden")
        name = _student_name(root / "submission_metadata.json")
        if name:
            result.submission = name
        write_outputs(result, results)
        return result.score
    except BaseException as exc:  # the grader's own failure: still leave a results.json
        from .text import clean_text
        details = clean_text(traceback.format_exc())
        message = clean_text(f"{type(exc).__name__}: {exc}")
        write_results(results_file, error_results(message, details, total, time.monotonic() - started))
        if isinstance(exc, KeyboardInterrupt):
            raise
        return 0.0


def _total_points(cases):
    try:
        manifest = json.loads((cases / "manifest.json").read_text(encoding="utf-8"))
        return float(manifest["assignment"]["total_points"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0.0


def _student_name(metadata_path):
    """The submitters' names from Gradescope's submission_metadata.json, if present."""
    try:
        metadata = json.loads(Path(metadata_path).read_text(encoding="utf-8"))
        names = [user.get("name") for user in metadata.get("users", []) if user.get("name")]
        return ", ".join(names)
    except (OSError, ValueError, AttributeError):
        return ""
