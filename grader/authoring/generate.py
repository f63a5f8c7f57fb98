"""`python -m grader generate`: test_cases/ and student_template/ from reference/ and the config.

Steps, in order:
1. load and validate assignment.toml, and check that its hidden cases exist;
   import the project's reference/ (by path, so that --project means that folder's);
2. render the student template (the recorded interface is read from it);
3. for every case: draw the inputs with the case's seed, run the reference on
   them through the same call path the worker uses, and run every catalog
   mistake of the function, keeping the outputs of those that differ; both run
   in exact arithmetic where NumPy's rounding varies between machines (exp, log,
   matrix products, sums: see exact.py), so that every machine writes the same bytes;
4. write one .npz per case and a manifest with every file's SHA-256.
`--check` does steps 1-3 in memory and compares with the files on disk, byte for byte.
"""
import importlib
import sys
import types
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..cases import FORMAT, MANIFEST, case_arrays, file_stem, manifest_bytes, npz_bytes, CaseData
from ..compare import init_problems, outputs_match
from ..config import ConfigError, load_config, split_points
from ..errors import UserError
from ..interface import BY_NAME, FUNCTIONS, output_group
from ..worker import perform
from . import casespecs, docs, template
from .exact import exact, exact_normal_draws

TEMPLATE_DIR = "student_template"
CASES_DIR = "test_cases"
REFERENCE_DIR = "reference"
REFERENCE_FILES = ("layers.py", "fc_net.py", "mistakes.py", "gradient_check.py")
_REFERENCE_PACKAGE = "_project_reference"


@dataclass
class Generated:
    files: dict          # relative path -> bytes, under the project root
    case_count: int
    mistake_count: int


def generate(project=".", config_path=None):
    """Render every generated file in memory: {relative path: bytes}."""
    project = Path(project)
    if not project.is_dir():
        raise UserError(f"{project}: no such folder; give --project the folder that holds "
                        f"{REFERENCE_DIR}/ and assignment.toml")
    config = load_config(config_path or project / "assignment.toml")
    layers, fc_net, mistakes = load_reference(project)
    specs = casespecs.CASES
    known = {spec.id for spec in specs}
    for case_id in config.cases.hidden:
        if case_id not in known:
            raise ConfigError(f"{config.path}: cases.hidden names unknown case {case_id!r}; "
                              f"the cases are listed by `python -m grader generate --list`")
    files = {}
    template_files = template.render_template(project / REFERENCE_DIR, config.assignment.tie_rule)
    for name, text in template_files.items():
        files[f"{TEMPLATE_DIR}/{name}"] = text.encode("utf-8")

    catalog = mistakes.catalog(config.assignment.tie_rule)
    reference = {"layers": _with_tie_rule(layers, config.assignment.tie_rule), "fc_net": fc_net}
    cases, mistake_table = [], {}
    functions = []
    for f_index, spec in enumerate(FUNCTIONS, start=1):
        function_specs = [s for s in specs if s.function == spec.name]
        points = split_points(config.points[spec.name], [1] * len(function_specs))
        function_mistakes = [m for m in catalog if m.function == spec.name]
        for m in function_mistakes:
            mistake_table[f"{m.function}/{m.slug}"] = {"function": m.function, "title": m.title,
                                                       "hint": m.hint, "tie_rule": m.tie_rule}
        functions.append({"name": spec.name, "module": spec.module, "points": config.points[spec.name],
                          "number": str(f_index), "forward": spec.forward,
                          "outputs": config.output_weights[spec.name]})
        for c_index, (case_spec, case_points) in enumerate(zip(function_specs, points), start=1):
            case, arrays = _build_case(case_spec, case_points, f"{f_index}.{c_index}", config,
                                       reference, function_mistakes, fc_net)
            files[f"{CASES_DIR}/{case['file']}"] = npz_bytes(arrays)
            cases.append(case)

    manifest = {
        "format": FORMAT,
        "generator": f"backprop-autograder {__version__}",
        "config_sha256": config.sha256,
        "assignment": {"title": config.assignment.title, "tie_rule": config.assignment.tie_rule,
                       "total_points": config.assignment.total_points},
        "settings": {
            "case_timeout": config.limits.case_timeout,
            "import_timeout": config.limits.import_timeout,
            "total_budget": config.limits.total_budget,
            "worker_memory_mb": config.limits.worker_memory_mb,
            "output_limit_kb": config.limits.output_limit_kb,
            "tolerance_floor": config.tolerance.floor,
            "init_std_tolerance": config.tolerance.init_std,
            "forbidden_imports": list(config.imports.forbidden),
            "on_forbidden": config.imports.on_forbidden,
            "hidden_visibility": config.cases.hidden_visibility,
        },
        "interface": template.signatures(template_files),
        "functions": functions,
        "mistakes": mistake_table,
        "cases": cases,
    }
    manifest["files"] = {path[len(CASES_DIR) + 1:]: _sha256(data)
                         for path, data in sorted(files.items()) if path.startswith(CASES_DIR + "/")}
    files[f"{CASES_DIR}/{MANIFEST}"] = manifest_bytes(manifest)
    readme = project / "README.md"
    if readme.is_file():
        files["README.md"] = docs.update_readme(readme.read_text(encoding="utf-8"), config, manifest,
                                                mistake_table).encode("utf-8")
    return Generated(files, len(cases), sum(len(c["mistakes"]) for c in cases))


def load_reference(project):
    """PROJECT/reference/ imported afresh: its (layers, fc_net, mistakes) modules.

    Imported by path under a private package name, so that the cases come from the
    same files as the template whatever folder Python runs in and whatever else is
    importable as `reference`. (reference/ is instructor code, never shipped with the
    grader runtime.)
    """
    folder = Path(project) / REFERENCE_DIR
    missing = [name for name in REFERENCE_FILES if not (folder / name).is_file()]
    if missing:
        what = "no such folder" if not folder.is_dir() else f"no {', '.join(missing)}"
        raise UserError(f"{folder}: {what}; generating needs the reference solution there "
                        f"({', '.join(REFERENCE_FILES)})")
    for name in [n for n in sys.modules if n == _REFERENCE_PACKAGE or n.startswith(_REFERENCE_PACKAGE + ".")]:
        del sys.modules[name]  # read the files again: they may have changed since the last generation
    package = types.ModuleType(_REFERENCE_PACKAGE, "The reference solution being generated from.")
    package.__path__ = [str(folder)]
    sys.modules[_REFERENCE_PACKAGE] = package
    importlib.invalidate_caches()
    return tuple(importlib.import_module(f"{_REFERENCE_PACKAGE}.{module}")
                 for module in ("layers", "fc_net", "mistakes"))


def _with_tie_rule(layers, rule):
    """The reference layers, with max_pool_backward bound to the assignment's tie rule."""
    module = types.SimpleNamespace(**{k: getattr(layers, k) for k in dir(layers) if not k.startswith("__")})
    module.max_pool_backward = lambda dout, cache: layers.max_pool_backward(dout, cache, ties=rule)
    return module


def _seed(base, case_id):
    return (base * 1_000_003 + zlib.crc32(case_id.encode("utf-8"))) % (2**32)


def _build_case(case_spec, points, number, config, reference, function_mistakes, fc_net):
    spec = BY_NAME[case_spec.function]
    rng = np.random.RandomState(_seed(config.assignment.seed, case_spec.id))
    inputs = case_spec.build(rng)
    call = dict(inputs.call)
    if call["op"] == "call":
        call["function"] = spec.name
        if call["returns"] is None:
            call["returns"] = spec.returns
    arrays = {name: exact(value) for name, value in inputs.arrays.items()}  # the same bits on every machine
    with exact_normal_draws():
        expected = {name: _stored(value) for name, value in perform(call, arrays, reference, [])}
    tolerance = config.tolerance_for(spec.name)

    stored = {}
    for mistake in function_mistakes:
        variant = _variant_modules(reference, mistake, fc_net)
        try:
            with np.errstate(all="ignore"), exact_normal_draws():
                outputs = {k: _stored(v) for k, v in perform(call, arrays, variant, [])}
        except Exception:
            continue  # a variant that cannot run on this case says nothing about it
        if _differs(spec.name, expected, outputs, tolerance, inputs.extra, config):
            stored[mistake.slug] = outputs

    weights = config.output_weights[spec.name]
    present = [name for name in expected]
    groups = sorted({output_group(name) for name in present}, key=list(spec.outputs).index)
    group_points = dict(zip(groups, split_points(points, [weights[g] for g in groups])))
    output_points = {}
    for group in groups:
        members = [name for name in present if output_group(name) == group]
        output_points.update(zip(members, split_points(group_points[group], [1] * len(members))))

    visibility = "hidden" if case_spec.id in config.cases.hidden else "public"
    case = {
        "id": case_spec.id,
        "function": spec.name,
        "label": case_spec.label,
        "description": case_spec.description,
        "tags": [spec.name, *case_spec.tags],
        "visibility": visibility,
        "points": points,
        "outputs": output_points,
        "tolerance": tolerance,
        "file": f"{visibility}/{file_stem(case_spec.id)}.npz",
        "call": call,
        "mistakes": sorted(stored),
        "number": number,
        "extra": inputs.extra,
    }
    data = CaseData(inputs.arrays, expected, stored)
    return case, case_arrays(data)


def _stored(value):
    """An output as stored: a plain array, with every NaN the same NaN (its sign and payload
    depend on the processor that made it)."""
    array = np.asarray(value)
    if array.dtype.kind in "fc" and np.isnan(array).any():
        array = np.where(np.isnan(array), np.nan, array).astype(array.dtype)
    return array


def _variant_modules(reference, mistake, fc_net):
    if mistake.function.startswith("FullyConnectedNet"):
        return {"layers": reference["layers"], "fc_net": types.SimpleNamespace(FullyConnectedNet=mistake.variant)}
    layers = types.SimpleNamespace(**vars(reference["layers"]))
    setattr(layers, mistake.function, mistake.variant)
    return {"layers": layers, "fc_net": fc_net}


def _differs(function, expected, outputs, tolerance, extra, config):
    if function == "FullyConnectedNet.__init__":
        return bool(init_problems(outputs, expected, extra["weight_scale"], config.tolerance.init_std))
    return not outputs_match(expected, outputs, tolerance, config.tolerance.floor)


def _sha256(data):
    import hashlib
    return hashlib.sha256(data).hexdigest()


def write(generated, project=".", prune=False):
    """Write the generated files; returns (changed paths, stale paths).

    Stale files (generated before, no longer produced) are deleted only with prune.
    """
    project = Path(project)
    changed = []
    for relative, data in sorted(generated.files.items()):
        path = project / relative
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        changed.append(relative)
    stale = _stale_files(generated, project)
    if prune:
        for relative in stale:
            (project / relative).unlink()
    return changed, stale


def require_up_to_date(project, what):
    """Raise UserError unless the generated files on disk are what a fresh generation writes."""
    problems = check(generate(project), project)
    if not problems:
        return
    absent = [folder for folder in (TEMPLATE_DIR, CASES_DIR) if not (Path(project) / folder).is_dir()]
    missing = [f"{folder}/" for folder in absent] + [path for path, problem in problems if problem == "missing"
                                                     and path.split("/")[0] not in absent]
    state, paths = (f"missing from {project}", missing) if missing else ("out of date", [p for p, _ in problems])
    listed = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
    command = "python -m grader generate"
    if Path(project).resolve() != Path.cwd().resolve():
        command += f" --project {project}"
    raise UserError(f"the generated files are {state} ({listed}); run `{command}` first, so that {what} "
                    f"grades with what assignment.toml says")


def check(generated, project="."):
    """Differences between the files on disk and a fresh generation: [(path, problem)]."""
    project = Path(project)
    problems = []
    for relative, data in sorted(generated.files.items()):
        path = project / relative
        if not path.is_file():
            problems.append((relative, "missing"))
        elif path.read_bytes() != data:
            problems.append((relative, "differs from a fresh generation"))
    problems += [(relative, "not produced by the generator") for relative in _stale_files(generated, project)]
    return problems


def _stale_files(generated, project):
    """Generated-looking files on disk that the generator no longer writes."""
    stale = []
    for folder, patterns in ((CASES_DIR, ("*.npz", "*.json")), (TEMPLATE_DIR, ("*.py",))):
        for pattern in patterns:
            for path in (project / folder).rglob(pattern):
                relative = path.relative_to(project).as_posix()
                if relative not in generated.files:
                    stale.append(relative)
    return sorted(stale)
