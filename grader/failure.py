"""results.json when the grader itself fails: written on every path (grade, batch, Gradescope)."""
import json
import traceback
from pathlib import Path

from .gradescope import error_results, write_results
from .text import clean_text


def grader_failed(results_file, exc, cases=None, seconds=0.0):
    """Write an "Autograder error" results.json for exc (the traceback in a hidden test); its path,
    or None if even that cannot be written."""
    total = 0.0
    try:
        manifest = json.loads((Path(cases) / "manifest.json").read_text(encoding="utf-8"))
        total = float(manifest["assignment"]["total_points"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    message = clean_text(f"{type(exc).__name__}: {exc}")
    try:
        return write_results(results_file, error_results(message, clean_text(traceback.format_exc()), total,
                                                         seconds))
    except (OSError, ValueError):
        return None
