"""`python -m grader package`: the Gradescope autograder zip.

Its root holds setup.sh and run_autograder, as Gradescope requires, plus the
grader runtime, every test case (public and hidden), the config and the pinned
requirements. It never holds reference/ or the code that builds the mistake
catalog (grader/authoring/): the grader needs neither at grading time.
The zip's bytes depend only on its contents.
"""
import io
import zipfile
from pathlib import Path

from ..errors import UserError
from ..files import why_not_created
from . import generate

HERE = Path(__file__).resolve().parent
GRADER = HERE.parent
SCRIPTS = HERE / "gradescope"
_EPOCH = (1980, 1, 1, 0, 0, 0)
EXCLUDED_PARTS = {"authoring", "__pycache__"}


def runtime_files():
    """{path in the zip: bytes} of the grader package as it runs on Gradescope."""
    files = {}
    for path in sorted(GRADER.rglob("*")):
        relative = path.relative_to(GRADER)
        if path.is_dir() or EXCLUDED_PARTS & set(relative.parts) or path.suffix in (".pyc", ".pyo"):
            continue
        files[f"grader/{relative.as_posix()}"] = path.read_bytes()
    return files


def case_files(cases_dir):
    cases_dir = Path(cases_dir)
    files = {}
    for path in sorted(cases_dir.rglob("*")):
        if path.is_file():
            files[f"test_cases/{path.relative_to(cases_dir).as_posix()}"] = path.read_bytes()
    return files


def build_package(folder=".", out=None):
    """Write the autograder zip of the assignment in folder; refuses when its generated files are
    out of date."""
    folder = Path(folder)
    generate.require_up_to_date(folder, "the package")
    files = {"setup.sh": (SCRIPTS / "setup.sh").read_bytes(),
             "run_autograder": (SCRIPTS / "run_autograder").read_bytes(),
             "requirements.txt": (SCRIPTS / "requirements.txt").read_bytes(),
             "assignment.toml": (folder / "assignment.toml").read_bytes()}
    files.update(runtime_files())
    files.update(case_files(folder / "test_cases"))
    out = Path(out) if out else folder / "dist" / "autograder.zip"
    write_zip(out, zip_bytes(files, executable={"setup.sh", "run_autograder"}))
    return out, files


def write_zip(out, data):
    """Write a built zip, creating its folder; a path that cannot be written is a UserError."""
    out = Path(out)
    if out.is_dir():
        raise UserError(f"{out}: is a folder; give --out the path of the .zip to write")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(data)
    except OSError as exc:
        raise UserError(f"{out}: cannot write the zip ({why_not_created(out.parent, exc)})") from None


def zip_bytes(files, executable=()):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = (0o755 if name in executable else 0o644) << 16
            archive.writestr(info, files[name])
    return buffer.getvalue()
