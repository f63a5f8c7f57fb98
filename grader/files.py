"""Writing the grader's own output files so that nothing planted beforehand is followed."""
import os
import tempfile
from pathlib import Path

from .errors import UserError


def _as_root():
    """Whether this process runs as root (never on Windows, which has no geteuid)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0


def replace_file(path, text, mode=None):
    """Write text to a new file beside `path`, then rename it over `path`.

    Whatever was at `path` before (a file, or a symbolic link a submission planted
    there) is replaced, never followed, merged or appended to.
    """
    path = Path(path)
    if mode is None:  # as root, a report (the hidden cases' scores too) is for root alone: student
        mode = 0o600 if _as_root() else 0o644  # code graded later runs as another user
    handle, temporary = tempfile.mkstemp(prefix=f".{path.stem}-", suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8", errors="backslashreplace", newline="") as stream:
            stream.write(text)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise
    return path


def prepare_output_dir(out_dir):
    """Create the output folder (before grading, so that it exists when the sandbox checks it)."""
    out_dir = Path(out_dir)
    try:
        created = not out_dir.exists()
        out_dir.mkdir(parents=True, exist_ok=True)
        if created and _as_root():
            os.chmod(out_dir, 0o700)  # as root: no later student's code may read what is written here
    except OSError as exc:
        raise UserError(f"cannot create the output folder {out_dir}: {why_not_created(out_dir, exc)}") from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise UserError(f"cannot write into the output folder {out_dir}: permission denied")
    return out_dir


def why_not_created(path, exc):
    """Why a folder could not be made at path: a file in the way is named (mkdir says only "File
    exists" or "Not a directory"), else the system's reason."""
    for above in [Path(path), *Path(path).parents]:
        if above.exists() or above.is_symlink():
            if not above.is_dir():
                return f"{above} is a file, not a folder"
            break
    return exc.strerror or str(exc)
