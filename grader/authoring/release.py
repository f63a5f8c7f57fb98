"""`python -m grader release`: the zip students get.

It unpacks into one folder, named after the assignment's title (release_folder). The
folder holds the student template (the files students write, and the files of the
reference they get as they are), a README, requirements.txt, and a pytest suite
(conftest.py, test_public_cases.py, pytest.ini) that grades the student's files on
the public cases with the grader runtime vendored beside it: the same engine,
comparisons and diagnoses as on Gradescope, never a second copy of them, run as a
student's own run (engine.grade(local=True)), which needs no sandbox and runs on
macOS, Windows and Linux. Of grader/ it holds only what that run loads: never the
sandbox, `batch`, the command line or grader/authoring/. test_cases/ holds the public
cases only, with a manifest filtered to them, so that nothing names a hidden case: not
its id, label, file, hash, nor a mistake only hidden cases use. The zip never holds
reference/ or assignment.toml (which lists the hidden cases). Its bytes depend only on
its contents.
"""
import ast
import json
import re
from pathlib import Path

import jinja2

from ..cases import MANIFEST, manifest_bytes
from . import generate
from .assignment import CASES_DIR, TEMPLATE_DIR
from .package import SCRIPTS, runtime_files, write_zip, zip_bytes

RELEASE = Path(__file__).resolve().parent / "release"
SUPPORT_FILES = ("conftest.py", "test_public_cases.py", "pytest.ini", "requirements.txt")
README_TEMPLATE = "README.md.jinja"

# The manifest keys students may see, once the cases are filtered. A key added to the
# manifest later is left out until someone decides it says nothing about hidden cases.
PUBLIC_KEYS = ("format", "generator", "assignment", "settings", "modules", "interface", "functions", "mistakes", "tags",
               "cases", "files")

# What of grader/ a student's local run never loads: the sandbox and the Linux process
# machinery that runs it, `batch`, the authoring verbs, the command line, the config
# reader and Gradescope's entry points. tests/test_release.py checks that what is left
# is what a local run loads.
NOT_SHIPPED = ("grader/authoring/", "grader/batch/", "grader/sandbox/", "grader/runner.py", "grader/cli.py",
               "grader/__main__.py", "grader/config.py", "grader/autograde.py", "grader/failure.py",
               "grader/importpath.py")


def build_release(folder=".", out=None):
    """Write the student release zip; returns (its path, {path in the release folder: bytes}).
    The zip holds each file under the folder release_folder(title).

    Refuses when the generated files are out of date, so that the release grades
    with what assignment.toml says.
    """
    folder = Path(folder)
    generate.require_up_to_date(folder, "the release")
    cases_dir = folder / CASES_DIR
    manifest = public_manifest(json.loads((cases_dir / MANIFEST).read_text(encoding="utf-8")))

    template_dir = folder / TEMPLATE_DIR
    files = {path.name: path.read_bytes() for path in sorted(template_dir.iterdir()) if path.is_file()}
    templates = {name: data.decode("utf-8") for name, data in files.items() if name.endswith(".py")}
    files.update({name: (RELEASE / name).read_bytes() for name in SUPPORT_FILES})
    files["requirements.txt"] = pin_requirements(files["requirements.txt"])  # as Gradescope's package installs them
    files["README.md"] = render_readme(manifest, templates).encode("utf-8")
    files.update({name: data for name, data in runtime_files().items() if not name.startswith(NOT_SHIPPED)})
    files[f"test_cases/{MANIFEST}"] = manifest_bytes(manifest)
    for name in manifest["files"]:
        files[f"test_cases/{name}"] = (cases_dir / name).read_bytes()

    out = Path(out) if out else folder / "dist" / "release.zip"
    top = release_folder(manifest["assignment"]["title"])
    write_zip(out, zip_bytes({f"{top}/{name}": data for name, data in files.items()}))
    return out, files


def release_folder(title):
    """The folder the release unpacks into, from the assignment's title: its part before a
    colon, in lower case, words joined by '-'. 'Backprop by hand: ...' -> 'backprop-by-hand'."""
    words = re.findall(r"[a-z0-9]+", title.split(":", 1)[0].lower())
    name = ""
    for word in words:  # (whole words, up to 40 characters)
        if len(name) + len(word) + 1 > 40:
            break
        name = f"{name}-{word}" if name else word
    return name or "release"


def pin_requirements(requirements):
    """The release's requirements with every package the Gradescope package pins pinned to the
    same version (a package the release's list lacks is added), keeping each line's environment
    marker; the others (pytest) stay minimum versions. So a student's code meets locally the
    NumPy it is graded with, and the grader runs on the libraries it runs on there."""
    pins = gradescope_pins()
    lines, seen = [], set()
    for line in requirements.decode("utf-8").splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)[^;]*(;.*)?$", line)
        if match and not line.startswith("#") and _normal(match[1]) in pins:
            name, version = pins[_normal(match[1])]
            seen.add(_normal(name))
            line = f"{name}=={version}" + (f"{match[2]}" if match[2] else "")
        lines.append(line)
    lines += [f"{name}=={version}" for key, (name, version) in pins.items() if key not in seen]
    return ("\n".join(lines) + "\n").encode("utf-8")


def gradescope_pins():
    """{normalized name: (name, version)} of the packages the Gradescope package pins."""
    text = (SCRIPTS / "requirements.txt").read_text(encoding="utf-8")
    return {_normal(name): (name, version) for name, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)\s*$", text, re.M)}


def _normal(name):
    """A package name as pip compares them: 'MarkupSafe' and 'markupsafe', 'gradescope_utils' and 'gradescope-utils'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def public_manifest(raw):
    """The manifest of the public cases alone, keeping only the mistakes they use."""
    cases = [case for case in raw["cases"] if case["visibility"] == "public"]
    used = {f"{case['function']}/{slug}" for case in cases for slug in case["mistakes"]}
    files = {case["file"] for case in cases}
    public = {key: raw[key] for key in PUBLIC_KEYS if key in raw}
    public["cases"] = cases
    public["mistakes"] = {key: entry for key, entry in raw["mistakes"].items() if key in used}
    public["files"] = {name: digest for name, digest in raw["files"].items() if name in files}
    return public


def render_readme(manifest, templates):
    """The students' README.md, from README.md.jinja, the public manifest and the template's files."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(RELEASE)), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["points"] = lambda value: f"{value:g}"
    module_files = {module["name"]: module["file"] for module in manifest["modules"]}
    functions = []
    for function in manifest["functions"]:
        cases = [case for case in manifest["cases"] if case["function"] == function["name"]]
        functions.append({"name": function["name"], "file": module_files[function["module"]],
                          "points": function["points"], "cases": len(cases),
                          "public_points": round(sum(case["points"] for case in cases), 2)})
    student_files = [module["file"] for module in manifest["modules"]]
    uses = [{"file": module["file"], "others": _listed([module_files[other] for other in module["imports"]])}
            for module in manifest["modules"] if module["imports"]]
    extra = [name for name in templates if name not in student_files]
    ties = any(case.get("windows", {}).get("ties") for case in manifest["cases"])
    assignment = manifest["assignment"]
    example = next((case for case in manifest["cases"] if case["visibility"] == "public"), None)
    from ..engine import SLOW_CASE_SECONDS
    return env.get_template(README_TEMPLATE).render(
        folder=release_folder(assignment["title"]), numpy_version=gradescope_pins()["numpy"][1],
        case_timeout=manifest["settings"]["case_timeout"], memory_mb=manifest["settings"]["worker_memory_mb"],
        slow_seconds=SLOW_CASE_SECONDS,
        title=assignment["title"], tie_rule=assignment["tie_rule"],
        tie_text=tie_rule_text(templates) if ties else "", functions=functions,
        student_files=student_files, student_files_text=_listed(student_files), extra_files=_listed(extra),
        extra_count=len(extra), uses=uses, total_points=assignment["total_points"],
        **_gradient_checker(templates, extra),
        example_test=(f"{_test_name(example['function'])}[{example['label']}]" if example else ""),
        example_k=_test_name(example["function"])[len("test_"):] if example else "",
        public_points=round(sum(case["points"] for case in manifest["cases"]), 2),
        public_cases=len(manifest["cases"]))


def _listed(files):
    """'`a.py`', '`a.py` and `b.py`', '`a.py`, `b.py` and `c.py`'; '' for none."""
    names = [f"`{name}`" for name in files]
    return " and ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " and " + names[-1]


def _test_name(function):
    """As test_public_cases.py names a function's test: 'Net.__init__' -> 'test_Net_init'."""
    return "test_" + function.replace(".__init__", ".init").replace(".", "_")


def _gradient_checker(templates, extra):
    """The file of the template with check_gradient, and its bands, as the README states them."""
    import re
    for name in extra:
        bands = dict(re.findall(r"^(CORRECT_BELOW|WRONG_ABOVE) = (\S+)", templates[name], re.MULTILINE))
        if "def check_gradient(" in templates[name] and len(bands) == 2:
            return {"gradient_checker": name, "correct_below": bands["CORRECT_BELOW"],
                    "wrong_above": bands["WRONG_ABOVE"]}
    return {"gradient_checker": ""}


def tie_rule_text(templates):
    """The tie-rule paragraphs of the template's docstrings, as written there.

    The paragraphs from one starting 'Ties.' up to the next 'Inputs:' (or the end) of the
    first docstring that has one: the template states the configured rule in the words
    students read in their code, and the README quotes it rather than saying it a second way.
    """
    for source in templates.values():
        for node in ast.walk(ast.parse(source)):
            if not isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                continue
            paragraphs = (ast.get_docstring(node) or "").split("\n\n")
            start = next((i for i, p in enumerate(paragraphs) if p.startswith("Ties.")), None)
            if start is not None:
                end = next((i for i in range(start, len(paragraphs)) if paragraphs[i].startswith("Inputs:")),
                           len(paragraphs))
                return "\n\n".join(paragraphs[start:end])
    return ""
