"""`python -m grader generate`: test_cases/ and student_template/ from an assignment folder.

Steps, in order:
1. load the assignment (see assignment.py): assignment.toml, checked against the
   functions spec/functions.py declares; the cases and the mistake catalog of the
   functions [points] grades; the reference, with the config's `# config:` values;
2. render the student template, leaving out what is not graded (the recorded
   interface is read from it);
3. for every case: draw its values with the case's seed, run the reference on them
   through the same call path the worker uses, and run every catalog mistake of the
   function, keeping the outputs of those that differ;
4. write one .npz per case and a manifest with every file's SHA-256; the tables of
   the assignment's README.md that restate the config are rewritten too.

NumPy's exp, log and BLAS kernels round differently from one machine to the next,
in the last bits. A case file on disk whose arrays equal the fresh ones to within
a few units in the last place (see same_arrays) is kept as it is, so regenerating
on any machine leaves the committed bytes alone unless something really changed;
`--check` compares the files with what `generate` would write, byte for byte, and
load_manifest's SHA-256 check catches a file changed by hand.
"""
import hashlib
import io
import json
import types
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import __version__
from ..cases import FORMAT, MANIFEST, CaseData, case_arrays, file_stem, load_case_data, manifest_bytes, npz_bytes
from ..compare import init_problems, outputs_match
from ..config import split_points
from ..errors import UserError
from ..worker import perform
from . import docs, spec, template
from .assignment import CASES_DIR, REFERENCE_DIR, TEMPLATE_DIR, load_assignment, selector_names
from .calls import build_call, resolve

# How far apart two stored floats may be and still be the same vector: this fraction of the
# array's largest magnitude (about 2**16 units in its last place). What a reference computes
# differs between machines by a few units at most; any real change differs by far more.
SAME_WITHIN = 2.0 ** -36


@dataclass
class Generated:
    files: dict          # path relative to the assignment folder -> bytes
    case_count: int
    mistake_count: int
    assignment: object = None   # the loaded Assignment


def generate(folder=".", config_path=None, reuse=True):
    """Render every generated file in memory: {relative path: bytes}.

    reuse: keep a case file on disk whose arrays are the same to within rounding (see
    the module's docstring), so that its bytes do not change from machine to machine.
    """
    folder = Path(folder)
    assignment = load_assignment(folder, config_path)
    config = assignment.config
    graded = assignment.graded
    files = {}
    student_files = assignment.student_files
    drop = {file: [f.name for f in assignment.functions if f.file == file and f.name not in config.points]
            for file in student_files}
    template_files = template.render_template(folder / REFERENCE_DIR, student_files, assignment.copied,
                                              config=config, drop=drop)
    for name, text in template_files.items():
        files[f"{TEMPLATE_DIR}/{name}"] = text.encode("utf-8")

    declarations = {f.name: f for f in assignment.functions}
    cases, mistake_table, functions = [], {}, []
    for f_index, function in enumerate(graded, start=1):
        function_cases = [c for c in assignment.cases if c.function == function.name]
        if not function_cases:
            raise UserError(f"{folder / 'spec' / 'cases.py'}: {function.name} has points in assignment.toml but "
                            f"no cases; add cases for it, or remove it from [points]")
        points = split_points(config.points[function.name], [1] * len(function_cases))
        function_mistakes = [m for m in assignment.catalog if m.function == function.name]
        for m in function_mistakes:
            mistake_table[f"{m.function}/{m.slug}"] = {"function": m.function, "title": m.title,
                                                       "hint": m.hint, "tie_rule": m.tie_rule}
        functions.append({"name": function.name, "module": function.module, "points": config.points[function.name],
                          "number": str(f_index), "outputs": config.output_weights[function.name],
                          "check": _check(function.check)})
        caught = set()  # the mistakes that change (or break) the answer of a public case
        for c_index, (case_spec, case_points) in enumerate(zip(function_cases, points), start=1):
            case, arrays, changed = _build_case(assignment, function, declarations, case_spec, case_points,
                                                f"{f_index}.{c_index}", function_mistakes)
            files[f"{CASES_DIR}/{case['file']}"] = npz_bytes(arrays)
            cases.append(case)
            if case["visibility"] == "public":
                caught |= changed
        missed = [m for m in function_mistakes if m.confusion and m.slug not in caught]
        if missed:
            raise UserError(f"{folder / 'spec' / 'mistakes.py'}: {function.name}: no public case catches the "
                            f"confusion {missed[0].title!r} (its answer is the right one on every public case); "
                            f"add a public case where it differs, or make one public in assignment.toml, so that "
                            f"students see it in their own tests too")
    if reuse:
        _keep_equivalent(files, folder)

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
            "modified_inputs": config.cases.modified_inputs,
        },
        "modules": [{"name": file[:-3], "file": file, "imports": imports}
                    for file, imports in zip(student_files, template.module_imports(template_files, student_files)
                                             .values())],
        "interface": template.signatures(template_files, student_files),
        "functions": functions,
        "mistakes": mistake_table,
        "tags": {tag: phrase for tag, phrase in assignment.tags.items()
                 if any(tag in case["tags"] for case in cases)},
        "cases": cases,
    }
    manifest["files"] = {path[len(CASES_DIR) + 1:]: hashlib.sha256(data).hexdigest()
                         for path, data in sorted(files.items()) if path.startswith(CASES_DIR + "/")}
    files[f"{CASES_DIR}/{MANIFEST}"] = manifest_bytes(manifest)
    readme = folder / "README.md"
    if readme.is_file():
        text = readme.read_text(encoding="utf-8")
        updated = docs.update_readme(text, assignment, manifest, mistake_table)
        if updated != text:
            files["README.md"] = updated.encode("utf-8")
        else:
            files["README.md"] = text.encode("utf-8")
    return Generated(files, len(cases), sum(len(c["mistakes"]) for c in cases), assignment)


def _seed(base, case_id):
    return (base * 1_000_003 + zlib.crc32(case_id.encode("utf-8"))) % (2**32)


def _check(check):
    """How a function's outputs are judged, as the manifest records it (None: by their values)."""
    if isinstance(check, spec.RandomInit):
        return {"kind": "random-init", "scale": check.scale, "zeros": list(check.zeros)}
    return None


def _build_case(assignment, function, declarations, case_spec, points, number, function_mistakes):
    config = assignment.config
    rng = np.random.RandomState(_seed(config.assignment.seed, case_spec.id))
    values = case_spec.build(rng)
    if not isinstance(values, dict):
        raise UserError(f"case {case_spec.id}: build(rng) must return a dict of named values; got "
                        f"{type(values).__name__}")
    call, arrays, plain, mutable = build_call(function, case_spec, values, declarations)
    try:
        expected = {name: _stored(value) for name, value in perform(call, arrays, assignment.reference, [])}
    except Exception as exc:
        raise UserError(f"case {case_spec.id}: the reference's {function.name} raised {type(exc).__name__}: "
                        f"{exc}") from None
    if not expected:
        raise UserError(f"case {case_spec.id}: {function.name} grades no output; give it `returns` or `after`")
    tolerance = config.tolerance_for(function.name)
    check = _check(function.check)

    stored, changed = {}, set()
    for mistake in function_mistakes:
        variant = _variant_modules(assignment.reference, function, mistake)
        try:
            with np.errstate(all="ignore"):
                outputs = {k: _stored(v) for k, v in perform(call, arrays, variant, [])}
        except Exception:
            changed.add(mistake.slug)  # (code with this mistake fails the case; there is nothing to store)
            continue
        if _differs(check, expected, outputs, tolerance, plain, config):
            stored[mistake.slug] = outputs
            changed.add(mistake.slug)

    outputs = assignment.outputs(function)
    weights = config.output_weights[function.name]
    groups = [group for group in outputs if any(output_group(name) == group for name in expected)]
    group_points = dict(zip(groups, split_points(points, [weights[g] for g in groups])))
    output_points = {}
    for group in groups:
        members = [name for name in expected if output_group(name) == group]
        output_points.update(zip(members, split_points(group_points[group], [1] * len(members))))

    visibility = "hidden" if case_spec.id in config.cases.hidden else "public"
    case = {
        "id": case_spec.id,
        "function": function.name,
        "label": case_spec.label,
        "description": case_spec.description,
        "tags": [function.name, *case_spec.tags],
        "visibility": visibility,
        "points": points,
        "outputs": output_points,
        "tolerance": tolerance,
        "file": f"{visibility}/{file_stem(case_spec.id)}.npz",
        "call": call,
        "mistakes": sorted(stored),
        "number": number,
        "values": plain,
    }
    if function.windows is not None:
        case["windows"] = _windows(function.windows, values, arrays, case_spec.id)
    if mutable:
        case["mutable"] = mutable
    if case_spec.edge:
        case["edge"] = True
    return case, case_arrays(CaseData(arrays, expected, stored)), changed


def output_group(output):
    """The configured output an output belongs to: 'grads.W1' -> 'grads'."""
    return output.split(".", 1)[0]


def _windows(windows, values, arrays, case_id):
    """The pooling geometry of a case, as numbers: {input, size, stride, padding: [h, w], ties}."""
    if windows.input not in arrays:
        raise UserError(f"case {case_id}: its windows are over {windows.input!r}, which is not an array of the case")

    def pair(spec_value, what):
        if isinstance(spec_value, tuple) and len(spec_value) == 2 and all(isinstance(v, str) for v in spec_value):
            value = tuple(resolve(v, values) for v in spec_value)
        else:
            value = resolve(spec_value, values) if isinstance(spec_value, str) else spec_value
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            value = (value, value)
        if not (isinstance(value, (tuple, list)) and len(value) == 2
                and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value)):
            raise UserError(f"case {case_id}: the windows' {what} is {value!r}; expected an integer or a pair")
        return [int(v) for v in value]
    return {"input": windows.input, "size": pair(windows.size, "size"), "stride": pair(windows.stride, "stride"),
            "padding": pair(windows.padding, "padding"), "ties": bool(windows.ties)}


def _stored(value):
    """An output as stored: a plain array, with every NaN the same NaN (its sign and payload
    depend on the processor that made it)."""
    array = np.asarray(value)
    if array.dtype.kind in "fc" and np.isnan(array).any():
        array = np.where(np.isnan(array), np.nan, array).astype(array.dtype)
    return array


def _variant_modules(reference, function, mistake):
    """The reference's modules with the function (or, for a method, its class) replaced by the mistake."""
    modules = dict(reference)
    module = types.SimpleNamespace(**vars(reference[function.module]))
    setattr(module, function.cls if isinstance(function, spec.Method) else function.name, mistake.variant)
    modules[function.module] = module
    return modules


def _differs(check, expected, outputs, tolerance, values, config):
    if check is not None and check["kind"] == "random-init":
        return bool(init_problems(outputs, expected, values[check["scale"]], config.tolerance.init_std,
                                  check["zeros"]))
    return not outputs_match(expected, outputs, tolerance, config.tolerance.floor)


# Keeping what has not changed ---------------------------------------------------------

def same_arrays(first, second):
    """Whether two case files hold the same arrays: the same names, dtypes and shapes, equal
    integers, and floats that differ by at most SAME_WITHIN of the array's largest magnitude,
    with NaN and infinities in the same places."""
    a, b = (case_arrays(load_case_data(io.BytesIO(data))) for data in (first, second))
    if sorted(a) != sorted(b):
        return False
    for name in a:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if x.dtype != y.dtype or x.shape != y.shape:
            return False
        if x.dtype.kind not in "fc":
            if not np.array_equal(x, y):
                return False
            continue
        finite = np.isfinite(x)
        if not np.array_equal(finite, np.isfinite(y)) or not np.array_equal(x[~finite], y[~finite], equal_nan=True):
            return False
        if finite.any():
            scale = float(np.abs(x[finite]).max())
            if float(np.abs(x[finite].astype(np.float64) - y[finite]).max()) > SAME_WITHIN * scale:
                return False
    return True


def _keep_equivalent(files, folder):
    """Put back the bytes of each case file on disk that holds the same arrays as the fresh one
    (see same_arrays) and that the manifest on disk vouches for: a file changed by hand since
    it was generated is never kept."""
    try:
        recorded = json.loads((folder / CASES_DIR / MANIFEST).read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return
    for relative, data in files.items():
        name = relative[len(CASES_DIR) + 1:]
        if not relative.endswith(".npz") or not isinstance(recorded, dict) or name not in recorded:
            continue
        try:
            disk = (folder / relative).read_bytes()
        except OSError:
            continue
        if disk != data and hashlib.sha256(disk).hexdigest() == recorded[name]:
            try:
                if same_arrays(disk, data):
                    files[relative] = disk
            except Exception:
                pass  # an unreadable file on disk is simply replaced


# Writing and checking -----------------------------------------------------------------

def write(generated, folder="."):
    """Write the generated files and remove the generated-looking files no longer generated
    (a case moved from public to hidden, a function no longer graded); returns (changed, removed)."""
    folder = Path(folder)
    changed = []
    for relative, data in sorted(generated.files.items()):
        path = folder / relative
        if path.is_file() and path.read_bytes() == data:
            continue
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror or exc}") from None
        changed.append(relative)
    removed = _stale_files(generated, folder)
    for relative in removed:
        (folder / relative).unlink()
    return changed, removed


def require_up_to_date(folder, what):
    """Raise UserError unless the generated files on disk are what a fresh generation writes."""
    problems = check(generate(folder), folder)
    if not problems:
        return
    absent = [name for name in (TEMPLATE_DIR, CASES_DIR) if not (Path(folder) / name).is_dir()]
    missing = [f"{name}/" for name in absent] + [path for path, problem in problems if problem == "missing"
                                                 and path.split("/")[0] not in absent]
    state, paths = (f"missing from {folder}", missing) if missing else ("out of date", [p for p, _ in problems])
    listed = ", ".join(paths[:3]) + (", ..." if len(paths) > 3 else "")
    command = "python -m grader generate"
    if Path(folder).resolve() != Path.cwd().resolve():
        command += f" --assignment {folder}"
    raise UserError(f"the generated files are {state} ({listed}); run `{command}` first, so that {what} "
                    f"grades with what assignment.toml says")


def check(generated, folder="."):
    """Differences between the files on disk and a fresh generation: [(path, problem)]."""
    folder = Path(folder)
    problems = []
    for relative, data in sorted(generated.files.items()):
        path = folder / relative
        if not path.is_file():
            problems.append((relative, "missing"))
        elif path.read_bytes() != data:
            problems.append((relative, "differs from a fresh generation"))
    problems += [(relative, "not produced by the generator") for relative in _stale_files(generated, folder)]
    return problems


def _stale_files(generated, folder):
    """Generated-looking files on disk that the generator no longer writes."""
    stale = []
    for name, patterns in ((CASES_DIR, ("*.npz", "*.json")), (TEMPLATE_DIR, ("*.py",))):
        for pattern in patterns:
            for path in (folder / name).rglob(pattern):
                relative = path.relative_to(folder).as_posix()
                if relative not in generated.files:
                    stale.append(relative)
    return sorted(stale)


def listing(folder=".", config_path=None):
    """(case id, label, hidden) of every declared case of the graded functions."""
    assignment = load_assignment(folder, config_path)
    hidden = set(assignment.config.cases.hidden)
    return [(case.id, case.label, case.id in hidden) for case in assignment.cases]


__all__ = ["Generated", "generate", "write", "check", "require_up_to_date", "listing", "same_arrays",
           "selector_names", "output_group"]
