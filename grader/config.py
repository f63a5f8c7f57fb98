"""Typed loader for assignment.toml: every choice an instructor makes, in one file.

Each key is declared once below, with its type, its default and a one-line
description. An unknown key, a value of the wrong type or outside its allowed
values (NaN and infinity are never allowed), or points that do not add up raise
ConfigError naming the key and the file.

[points] selects what is graded: a function is part of the assignment exactly when
it has points there. Names in [points], [output_weights] and tolerance.functions
must be functions the assignment declares (spec/functions.py); a Declared says which.
"""
import dataclasses
import hashlib
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Tuple

from .errors import UserError
from .ties import TIE_RULES

if sys.version_info >= (3, 11):
    import tomllib
else:  # Gradescope's image runs Python 3.10
    import tomli as tomllib

VISIBILITIES = ("hidden", "after_due_date", "after_published", "visible")
# compare.py's relative error |a - b| / max(floor, |a| + |b|) is never more than 1, since
# |a - b| <= |a| + |b|. A tolerance of 1 or more would pass every finite answer of the right shape.
TOLERANCE_BELOW = 1.0
DAY = 86400


class ConfigError(UserError):
    """assignment.toml is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class Declared:
    """The functions an assignment declares, for checking the names the config uses.

    outputs: {function name: its graded outputs' names, in order}, in declaration order.
    where: the file that declares them, named in errors.
    """
    outputs: Dict[str, Tuple[str, ...]]
    where: str = "spec/functions.py"


# Why a value at or above `below` is refused, unless a key says otherwise.
TOLERANCE_WHY = ("the relative error |a - b| / max(floor, |a| + |b|) is never more than 1, so a tolerance "
                 "of 1 or more passes every answer of the right shape")


def _key(description, default=dataclasses.MISSING, factory=None, choices=None, minimum=None, maximum=None,
         below=None, why=TOLERANCE_WHY):
    meta = {"description": description, "choices": choices, "minimum": minimum, "maximum": maximum,
            "below": below, "why": why}
    if factory is not None:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class AssignmentSection:
    title: str = _key("Title shown at the top of every report and on Gradescope.",
                      "Backprop by hand: fully-connected, convolutional and pooling layers")
    tie_rule: str = _key("Who receives a max-pool window's gradient when several inputs tie for its maximum.",
                         "all", choices=TIE_RULES)
    total_points: float = _key("Points for the whole assignment; [points] must add up to it.", 100, minimum=0,
                               maximum=1_000_000)
    seed: int = _key("Base seed of every test vector; change it to draw a fresh set of cases.", 231, minimum=0)


@dataclass(frozen=True)
class LimitsSection:
    # The maximums only keep values inside what select() and setrlimit() accept.
    case_timeout: float = _key("Seconds one case may run before the worker is killed.", 10.0, minimum=0.1,
                               maximum=DAY)
    import_timeout: float = _key("Seconds the submission's files may take to import.", 20.0, minimum=0.1,
                                 maximum=DAY)
    total_budget: float = _key("Seconds for a whole grading run; must stay inside Gradescope's timeout.",
                               480.0, minimum=1, maximum=DAY)
    worker_memory_mb: int = _key("Address-space limit of the process that runs student code, in MB.",
                                 512, minimum=192, maximum=1 << 20)
    output_limit_kb: int = _key("Kilobytes of a case's printed output kept for the feedback.", 10, minimum=1)


@dataclass(frozen=True)
class ToleranceSection:
    default: float = _key("Largest relative error |a - b| / max(floor, |a| + |b|) that still passes.",
                          1e-6, minimum=0, below=TOLERANCE_BELOW)
    floor: float = _key("Denominator floor of the relative error, for values near zero; at most 0.001, "
                        "since a larger floor passes wrong answers whose values are small.", 1e-8, minimum=0,
                        maximum=1e-3)
    init_std: float = _key("Allowed relative deviation of a weight matrix's standard deviation from its "
                           "scale in the cases that check a random initialisation; less than 1, since a "
                           "deviation of 100% passes weights that are all zero.", 0.15, minimum=0, below=1.0,
                           why="a deviation of 100% or more passes weights that are all zero")
    functions: Dict[str, float] = _key("Per-function overrides of the default tolerance.", factory=dict,
                                       minimum=0, below=TOLERANCE_BELOW)


@dataclass(frozen=True)
class CasesSection:
    hidden: Tuple[str, ...] = _key("Ids of the cases students never see inputs or expected values of.",
                                   factory=tuple)
    hidden_visibility: str = _key("Gradescope visibility of the hidden cases' results.", "after_published",
                                  choices=VISIBILITIES)
    modified_inputs: str = _key("What a function that changes its input arrays in place gets: 'warn' keeps its "
                                "points with a warning; 'fail' fails the case.", "warn", choices=("warn", "fail"))


@dataclass(frozen=True)
class ImportsSection:
    forbidden: Tuple[str, ...] = _key("Top-level packages a submission may not import.",
                                      factory=lambda: ("torch", "tensorflow", "jax", "scipy", "sklearn"))
    on_forbidden: str = _key("'fail' fails every case of the module that imports one; 'warn' only warns.",
                             "fail", choices=("fail", "warn"))


@dataclass(frozen=True)
class Config:
    assignment: AssignmentSection
    points: Dict[str, float]
    output_weights: Dict[str, Dict[str, float]]
    tolerance: ToleranceSection
    limits: LimitsSection
    cases: CasesSection
    imports: ImportsSection
    path: str = ""
    sha256: str = ""

    def tolerance_for(self, function):
        return self.tolerance.functions.get(function, self.tolerance.default)


SECTIONS = {
    "assignment": AssignmentSection,
    "tolerance": ToleranceSection,
    "limits": LimitsSection,
    "cases": CasesSection,
    "imports": ImportsSection,
}

def load_config(path="assignment.toml", declared=None):
    """Read and validate assignment.toml. Raises ConfigError naming the bad key.

    declared: the assignment's Declared functions; without it the function names in
    the config are not checked (and every output of a function weighs as configured)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file. Every assignment needs one; "
                          f"copy the assignment.toml at the root of the project and edit it.") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    config = parse_config(data, where=str(path), declared=declared)
    return dataclasses.replace(config, path=str(path), sha256=hashlib.sha256(raw).hexdigest())


def parse_config(data, where="assignment.toml", declared=None):
    known = set(SECTIONS) | {"points", "output_weights"}
    for name in data:
        if name not in known:
            raise ConfigError(f"{where}: unknown section [{name}]; the sections are "
                              f"{', '.join('[' + k + ']' for k in sorted(known))}")
    sections = {name: _section(cls, data.get(name, {}), name, where) for name, cls in SECTIONS.items()}
    points = _points(data.get("points"), sections["assignment"].total_points, where, declared)
    weights = _output_weights(data.get("output_weights", {}), where, declared, points)
    for function in sections["tolerance"].functions:
        _check_function(function, "tolerance.functions", where, declared)
    config = Config(points=points, output_weights=weights, **sections)
    return config


def describe_keys():
    """Yield (key, default, description) for every key, for docs and --help."""
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
            yield f"{section}.{f.name}", default, f.metadata["description"]


def _section(cls, values, name, where):
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: [{name}] must be a table")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        if key not in fields:
            raise ConfigError(f"{where}: unknown key {name}.{key}; the keys of [{name}] are "
                              f"{', '.join(sorted(fields))}")
        kwargs[key] = _coerce(fields[key], value, f"{name}.{key}", where)
    return cls(**kwargs)


def _coerce(f, value, key, where):
    meta = f.metadata
    kind = f.type if isinstance(f.type, type) else getattr(f.type, "__origin__", None)
    if isinstance(value, bool):  # TOML true/false is never a valid value here
        raise ConfigError(f"{where}: {key} must be a {_type_name(f.type)}; got {value!r}")
    if kind is float:
        value = _number(value, key, where, "a number")
    elif kind is int:
        if not isinstance(value, int):
            raise ConfigError(f"{where}: {key} must be an integer; got {value!r}")
    elif kind is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {key} must be a string; got {value!r}")
    elif kind is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: {key} must be a list of strings; got {value!r}")
        value = tuple(value)
    elif kind is dict:  # tolerance.functions: each value is checked as the key itself would be
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: {key} must be a table")
        return {sub: _in_range(_number(number, f"{key}.{sub}", where, "a number"), meta, f"{key}.{sub}", where)
                for sub, number in value.items()}
    if meta["choices"] is not None and value not in meta["choices"]:
        raise ConfigError(f"{where}: {key} must be one of {', '.join(map(repr, meta['choices']))}; "
                          f"got {value!r}")
    return _in_range(value, meta, key, where)


def _number(value, key, where, kind):
    """value as a float; raises ConfigError unless it is a finite number (not a bool, NaN or inf)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}: {key} must be {kind}; got {value!r}")
    if not math.isfinite(value):
        raise ConfigError(f"{where}: {key} must be a finite number; got {value!r}")
    return float(value)


def _in_range(value, meta, key, where):
    if meta["minimum"] is not None and value < meta["minimum"]:
        raise ConfigError(f"{where}: {key} must be at least {meta['minimum']}; got {value!r}")
    if meta["maximum"] is not None and value > meta["maximum"]:
        raise ConfigError(f"{where}: {key} must be at most {meta['maximum']}; got {value!r}")
    if meta["below"] is not None and value >= meta["below"]:
        raise ConfigError(f"{where}: {key} must be less than {meta['below']:g}: {meta['why']}; got {value!r}")
    return value


def _type_name(tp):
    return {float: "number", int: "integer", str: "string"}.get(tp, "value")


def _check_function(name, key, where, declared):
    if declared is not None and name not in declared.outputs:
        raise ConfigError(f"{where}: {key} names unknown function {name!r}: {declared.where} does not declare "
                          f"it; it declares {', '.join(declared.outputs)}")


def _points(table, total, where, declared):
    """{function: points} for the functions the assignment grades, in declaration order."""
    if table is None:
        raise ConfigError(f"{where}: missing [points]: give the points of every function the assignment grades")
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [points] must be a table of function = points")
    if not table:
        raise ConfigError(f"{where}: [points] is empty: give the points of every function the assignment grades")
    points = {}
    for name, value in table.items():
        _check_function(name, f"points.{name}", where, declared)
        number = _number(value, f"points.{name}", where, "a number >= 0")
        if number < 0:
            raise ConfigError(f"{where}: points.{name} must be a number >= 0; got {value!r}")
        points[name] = number
    if not math.isclose(sum(points.values()), total, abs_tol=1e-9):
        raise ConfigError(f"{where}: [points] add up to {sum(points.values()):g}, but "
                          f"assignment.total_points is {total:g}")
    order = list(declared.outputs) if declared is not None else list(points)
    return {name: points[name] for name in order if name in points}


def _output_weights(table, where, declared, points):
    """{function: {output: weight}} for the graded functions; 1 where the table says nothing."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: [output_weights] must be a table")
    for name in table:
        _check_function(name, f"output_weights.{name}", where, declared)
    weights = {}
    for name in points:
        given = table.get(name, {})
        outputs = declared.outputs[name] if declared is not None else tuple(given) if isinstance(given, dict) else ()
        if not isinstance(given, dict):
            raise ConfigError(f"{where}: output_weights.{name} must be a table such as "
                              f"{{ {', '.join(o + ' = 1' for o in outputs)} }}")
        for output, value in given.items():
            if output not in outputs:
                raise ConfigError(f"{where}: output_weights.{name}.{output} is not an output of {name}; "
                                  f"its outputs are {', '.join(outputs)}")
            if _number(value, f"output_weights.{name}.{output}", where, "a number > 0") <= 0:
                raise ConfigError(f"{where}: output_weights.{name}.{output} must be a number > 0; "
                                  f"got {value!r}")
        weights[name] = {output: float(given.get(output, 1.0)) for output in outputs}
    return weights


def split_points(total, weights):
    """Split `total` points in proportion to `weights`, in hundredths, summing exactly.

    Largest-remainder rounding: [10, [1, 1, 1]] -> [3.34, 3.33, 3.33].
    """
    cents = round(total * 100)
    weight_sum = sum(weights)
    if weight_sum == 0:
        return [0.0 for _ in weights]
    exact = [cents * w / weight_sum for w in weights]
    if not all(math.isfinite(e) for e in exact):  # weights near the float limit: same ratios, scaled down
        return split_points(total, [w / max(weights) for w in weights])
    floors = [math.floor(e) for e in exact]
    order = sorted(range(len(weights)), key=lambda i: (floors[i] - exact[i], i))
    for i in order[:cents - sum(floors)]:
        floors[i] += 1
    return [c / 100 for c in floors]
