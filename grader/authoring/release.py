"""`python -m grader release`: the zip students get.

Its top level holds the student template (layers.py, fc_net.py, gradient_check.py),
a README, requirements.txt, and a pytest suite (conftest.py, test_public_cases.py,
pytest.ini) that grades the student's files on the public cases with the grader
runtime vendored beside it: the same engine, comparisons and diagnoses as on
Gradescope, never a second copy of them. test_cases/ holds the public cases only,
with a manifest filtered to them, so that nothing names a hidden case: not its id,
label, file, hash, nor a mistake only hidden cases use. The zip never holds
reference/, assignment.toml (which lists the hidden cases) or grader/authoring/.
Its bytes depend only on its contents.
"""
import ast
import json
from pathlib import Path

import jinja2

from ..cases import MANIFEST, manifest_bytes
from ..errors import UserError
from . import generate
from .package import runtime_files, write_zip, zip_bytes

RELEASE = Path(__file__).resolve().parent / "release"
TEMPLATE_FILES = ("layers.py", "fc_net.py", "gradient_check.py")   # from student_template/
SUPPORT_FILES = ("conftest.py", "test_public_cases.py", "pytest.ini", "requirements.txt")
README_TEMPLATE = "README.md.jinja"

# The manifest keys students may see, once the cases are filtered. A key added to the
# manifest later is left out until someone decides it says nothing about hidden cases.
PUBLIC_KEYS = ("format", "generator", "assignment", "settings", "interface", "functions", "mistakes",
               "cases", "files")


def build_release(project=".", out=None):
    """Write the student release zip; returns (its path, {path in the zip: bytes}).

    Refuses when the generated files are out of date, so that the release grades
    with what assignment.toml says.
    """
    project = Path(project)
    generate.require_up_to_date(project, "the release")
    cases_dir = project / generate.CASES_DIR
    manifest = public_manifest(json.loads((cases_dir / MANIFEST).read_text(encoding="utf-8")))

    files = {name: (project / generate.TEMPLATE_DIR / name).read_bytes() for name in TEMPLATE_FILES}
    files.update({name: (RELEASE / name).read_bytes() for name in SUPPORT_FILES})
    files["requirements.txt"] = pin_numpy(files["requirements.txt"])  # issue 18: NumPy as on Gradescope
    files["README.md"] = render_readme(manifest, files["layers.py"].decode("utf-8")).encode("utf-8")
    files.update(runtime_files())
    files[f"test_cases/{MANIFEST}"] = manifest_bytes(manifest)
    for name in manifest["files"]:
        files[f"test_cases/{name}"] = (cases_dir / name).read_bytes()

    out = Path(out) if out else project / "dist" / "release.zip"
    write_zip(out, zip_bytes(files))
    return out, files


def pin_numpy(requirements):
    """The release's requirements with NumPy pinned to the version the Gradescope package installs,
    so that a student's code meets the same NumPy locally as when it is graded."""
    import re
    from .package import SCRIPTS
    pin = re.search(r"^numpy==\S+$", (SCRIPTS / "requirements.txt").read_text(encoding="utf-8"), re.M)
    return re.sub(rb"^numpy\b.*$", pin.group().encode(), requirements, count=1, flags=re.M)


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


def render_readme(manifest, layers_source):
    """The students' README.md, from README.md.jinja and the public manifest."""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(RELEASE)), autoescape=False,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["points"] = lambda value: f"{value:g}"
    functions = []
    for function in manifest["functions"]:
        cases = [case for case in manifest["cases"] if case["function"] == function["name"]]
        functions.append({"name": function["name"], "file": function["module"] + ".py",
                          "points": function["points"], "cases": len(cases),
                          "public_points": round(sum(case["points"] for case in cases), 2)})
    assignment = manifest["assignment"]
    return env.get_template(README_TEMPLATE).render(
        title=assignment["title"], tie_rule=assignment["tie_rule"], tie_text=tie_rule_text(layers_source),
        functions=functions, total_points=assignment["total_points"],
        public_points=round(sum(case["points"] for case in manifest["cases"]), 2),
        public_cases=len(manifest["cases"]))


def tie_rule_text(layers_source):
    """The tie-rule paragraphs of the template's max_pool_backward docstring, as written there.

    The template states the configured rule in the words students read in their
    code; the README quotes it rather than saying it a second way.
    """
    tree = ast.parse(layers_source)
    docstring = next((ast.get_docstring(node) for node in tree.body
                      if isinstance(node, ast.FunctionDef) and node.name == "max_pool_backward"), None)
    paragraphs = (docstring or "").split("\n\n")
    start = next((i for i, p in enumerate(paragraphs) if p.startswith("Ties.")), None)
    if start is None:
        raise UserError("student_template/layers.py: max_pool_backward's docstring has no paragraph "
                        "starting 'Ties.', which the release README quotes for the tie rule")
    end = next((i for i in range(start, len(paragraphs)) if paragraphs[i].startswith("Inputs:")),
               len(paragraphs))
    return "\n\n".join(paragraphs[start:end])
