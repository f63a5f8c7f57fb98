"""Scoring one case: from what the worker sent back to a CaseResult with its reasons.

Every output is checked for type, shape, dtype and finiteness before its values
are compared; each passing output earns its share of the case's points; each
failing one gets a specific message and, where possible, a named mistake.
"""
import numpy as np

from . import diagnose
from .compare import compare_array, init_problems
from .results import CaseResult, Diagnosis, OutputResult


def evaluate(case, data, outcome, manifest, memory_mb):
    """CaseResult for a finished call (any status the runner reports)."""
    floor = manifest.settings["tolerance_floor"]
    result = CaseResult(case, "failed", 0.0, seconds=outcome.seconds, output=outcome.output)
    result.inputs = data.inputs  # parsed only if the report shows them
    modified = [name for name in outcome.modified if name not in case.mutable]
    if modified:
        result.warnings.append(
            f"{case.function} changed its input{'s' if len(modified) > 1 else ''} "
            f"{', '.join(modified)} in place. A function must not modify its inputs: the "
            f"caller may still need them. Work on a copy (x.copy()) or build new arrays.")
    if outcome.status == "ok" and modified and manifest.settings.get("modified_inputs") == "fail":
        result.outputs = [OutputResult(name, points, 0.0, "not graded: the inputs were changed in place")
                          for name, points in case.outputs.items()]
        result.summary = result.warnings.pop()  # (said once, as the reason it failed)
        return result
    if outcome.status == "ok":
        _score_outputs(result, case, data, outcome, manifest, floor)
        return result
    result.outputs = [OutputResult(name, points, 0.0, "not computed") for name, points in case.outputs.items()]
    result.error = outcome.error
    if outcome.status == "timeout":
        result.status = "timeout"
        limit = manifest.settings["case_timeout"]
        result.summary = (f"took longer than the time allowed ({outcome.seconds:.1f} s; the limit per "
                          f"case is {limit:g} s). Look for a loop that never ends.")
    elif outcome.status == "crashed":
        result.status = "crashed"
        result.summary = crash_text(outcome.ended, memory_mb)
    elif outcome.status == "protocol":
        result.status = "crashed"
        result.summary = ("the answer could not be read: your code wrote to the grader's private "
                          "channel or returned something that is not plain data")
    elif outcome.status == "bad-return":
        result.status = "failed"
        result.summary = outcome.error["message"]
        result.error = None
    else:
        error = outcome.error or {"type": "Exception", "message": ""}
        kind = error["type"]
        if error.get("during"):
            result.status = "error"
            result.summary = (f"your {error['during']}, which {case.function} takes its cache from, raised "
                              f"{kind}: {error['message']}".rstrip(": ")
                              + (f"; implement {error['during']} first" if kind == "NotImplementedError" else ""))
        elif kind == "NotImplementedError":
            result.status = "not-implemented"
            result.summary = f"{case.function} is not implemented yet"
            result.error = None
        elif kind == "SystemExit":
            result.status = "error"
            result.summary = (f"your code called sys.exit() ({error['message'] or 'no status'}) during "
                              f"the call; a layer must return its result instead")
        elif kind == "MemoryError":
            result.status = "error"
            result.summary = (f"ran out of memory: your code may use at most {memory_mb} MB. Look for "
                              f"an array far larger than the inputs")
        elif "File too large" in error["message"]:
            result.status = "error"
            result.summary = "printed too much output (megabytes of it); remove the prints in loops"
        else:
            result.status = "error"
            result.summary = f"raised {kind}: {error['message']}".rstrip(": ")
    return result


def crash_text(ended, memory_mb):
    if not ended:
        return "the process running your code stopped unexpectedly"
    if ended.startswith("exit status"):
        return (f"the process running your code ended during the call ({ended}): does your code call "
                f"os._exit() or exit the interpreter?")
    if "SIGSEGV" in ended or "SIGBUS" in ended:
        return f"the process running your code crashed ({ended}, a segmentation fault)"
    if "SIGKILL" in ended:
        return (f"the process running your code was killed ({ended}); it may have used more than the "
                f"{memory_mb} MB of memory allowed")
    if "SIGXCPU" in ended:
        return f"the process running your code used up its CPU time ({ended})"
    return f"the process running your code ended during the call ({ended})"


def _score_outputs(result, case, data, outcome, manifest, floor):
    check = manifest.function(case.function).get("check")
    init = check is not None and check["kind"] == "random-init"
    tolerance = manifest.settings["init_std_tolerance"] if init else case.tolerance
    returned = outcome.outputs
    for name, points in case.outputs.items():
        expected = data.expected[name]
        meta, got = returned.get(name, (None, None))
        message, got = _check_type(name, meta, got, expected, result)
        comparison = None
        if not message:
            if init:
                problems = init_problems({name: got}, {name: expected}, case.values[check["scale"]],
                                         tolerance, check["zeros"])
                message = "; ".join(p.replace(f"{name} ", f"{_label(name)} ", 1) for p in problems)
            else:
                comparison = compare_array(expected, got, case.tolerance, floor, _label(name))
                message = comparison.message
                if comparison.ok and got.dtype != expected.dtype and got.dtype.kind == "f":
                    result.warnings.append(f"{_label(name)} has dtype {got.dtype}; the interface uses "
                                           f"{expected.dtype}")
        score = 0.0 if message else points
        result.outputs.append(OutputResult(name, points, score, message, comparison, expected, got))
    _extra_outputs(result, case, returned)
    earned = sum(o.score for o in result.outputs)
    result.score = round(earned, 2)
    failing = [o for o in result.outputs if o.message]
    if not failing:
        result.status = "passed"
        return
    result.status = "partial" if earned > 0 else "failed"
    result.summary = "; ".join(o.message for o in failing[:3]) + ("; ..." if len(failing) > 3 else "")
    _diagnose(result, case, data, manifest, floor, tolerance, check if init else None)


def strip_hidden(result):
    """Drop a hidden case's arrays once it is scored: nothing downstream may show them."""
    if result.case.hidden:
        result.inputs = {}
        for output in result.outputs:
            output.expected = output.got = None
            if output.comparison is not None:
                output.comparison.error = None
    return result


def _check_type(name, meta, got, expected, result):
    """A message if the returned value cannot be compared, else ''; and the array to compare."""
    label = _label(name)
    if meta is None:
        if "." in name:
            group, key = name.split(".", 1)
            return f"{group} has no entry {key!r}", None
        return f"{label} is missing from the return value", None
    if meta["kind"] == "none":
        result.notes.append(f"{label} is None. Is the stub's `{name.split('.')[-1]} = None` still in "
                            f"place, or does the function return before computing it?")
        return f"{label} is None", None
    if meta["kind"] == "other" or got is None:
        kind = meta["type"].rsplit(".", 1)[-1]
        shown = f" ({meta['repr']})" if meta["repr"] and not meta["repr"].startswith("an array") else ""
        what = meta["repr"] if meta["repr"].startswith("an array") else f"a {kind}{shown}"
        return f"{label} is {what}; expected a NumPy array", None
    if meta["subclass"]:
        result.warnings.append(f"{label} is a {meta['type']}, a subclass of numpy.ndarray; it was "
                               f"graded as a plain array")
    if expected.shape == ():  # a single number, such as a loss: a float or a 0-d array
        if got.size == 1 and got.shape != ():
            result.warnings.append(f"{label} is an array of shape {got.shape}; return a float")
            got = got.reshape(())
    elif meta["kind"] == "scalar":
        return f"{label} is a single number; expected an array of shape {expected.shape}", None
    if got.dtype.kind == "c":
        return f"{label} has complex dtype {got.dtype}; expected real float64 values", None
    return "", got


def _extra_outputs(result, case, returned):
    groups = {name.split(".")[0] for name in case.outputs if "." in name}
    extra = [name for name in returned if "." in name and name.split(".")[0] in groups
             and name not in case.outputs]
    if extra:
        group = extra[0].split(".")[0]
        keys = ", ".join(repr(name.split(".", 1)[1]) for name in extra)
        result.warnings.append(f"{group} has entries the interface does not use: {keys}")


def _diagnose(result, case, data, manifest, floor, tolerance, init=None):
    """Name the mistakes behind the failing outputs; init: the random-init check, if it is one."""
    found = {}
    for output in result.outputs:
        got = output.got
        if not output.message or got is None:
            continue
        if init:
            slugs = diagnose.init_matches(case, data, output.name, got, tolerance, init["zeros"])
        else:
            slugs = diagnose.catalog_matches(case, data, output.name, got, manifest, floor)
        for slug in slugs:
            found.setdefault(slug, []).append(_label(output.name))
    if any(_nonfinite(output.got) for output in result.outputs):
        # inf and NaN say little on their own (many mistakes overflow): a mistake is named then
        # only if every graded output agrees with its stored ones, non-finite places included.
        found = {slug: outputs for slug, outputs in found.items()
                 if _agrees_everywhere(result, case, data, slug, floor, init)}
    for slug, outputs in found.items():
        entry = manifest.mistake(case.function, slug)
        result.diagnoses.append(Diagnosis(f"{case.function}/{slug}", entry["title"], entry["hint"], outputs))
    if not found:
        for output in result.outputs:
            if output.message and output.got is not None and not init:
                pattern = diagnose.generic_pattern(output.expected, output.got, _label(output.name))
                if pattern:
                    result.diagnoses.append(pattern)


def _nonfinite(got):
    return got is not None and got.dtype.kind in "fc" and not np.isfinite(got).all()


def _agrees_everywhere(result, case, data, slug, floor, init):
    stored = data.mistakes.get(slug, {})
    for output in result.outputs:
        variant = stored.get(output.name)
        if variant is None or output.got is None:
            return False
        if not init and not compare_array(variant, output.got, case.tolerance, floor).ok:
            return False
    return True


def _label(name):
    """'grads.W1' -> "grads['W1']"; 'dx' -> 'dx'."""
    if "." in name:
        group, key = name.split(".", 1)
        return f"{group}[{key!r}]"
    return name
