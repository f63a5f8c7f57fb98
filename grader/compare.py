"""Comparing an output with its expected value: the one place that decides "right".

Outputs are compared element by element with the relative error CS231n uses,

    rel = |expected - got| / max(floor, |expected| + |got|),

and an output passes when its largest relative error is at most the case's
tolerance. Before values are compared, the type, shape, dtype and finiteness of
what came back are checked, so that every failure has a specific reason.
Everything here works on plain float64 ndarrays built by the grader itself.
"""
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

FIRST_WRONG = 5


@dataclass
class Comparison:
    ok: bool
    problem: Optional[str] = None     # None, "missing", "type", "shape", "dtype", "nonfinite", "values"
    message: str = ""
    max_abs: float = 0.0
    max_rel: float = 0.0
    wrong: int = 0
    total: int = 0
    first_wrong: List[Tuple[int, ...]] = field(default_factory=list)
    error: Optional[np.ndarray] = None  # per-element relative error, when shapes agree


def relative_error(expected, got, floor):
    """Per-element relative error of two float64 arrays of the same shape, and the absolute one.

    Matching infinities and NaNs count as equal, so that stored outputs of the
    mistake catalog (which may overflow) can be recognised.
    """
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(expected - got)
        rel = diff / np.maximum(floor, np.abs(expected) + np.abs(got))
    if np.isfinite(rel).all():  # then every value is finite (|e - g| <= |e| + |g|): nothing to patch
        return rel, diff
    same = (expected == got) | (np.isnan(expected) & np.isnan(got))
    rel = np.where(same, 0.0, rel)
    return np.where(np.isnan(rel), np.inf, rel), np.where(same, 0.0, np.where(np.isnan(diff), np.inf, diff))


def compare_array(expected, got, tolerance, floor=1e-8, name="output"):
    """Compare one returned array with its expected value."""
    expected = np.asarray(expected, dtype=np.float64)
    if got is None:
        return Comparison(False, "missing", f"{name} is missing")
    if got.dtype.kind not in "biuf":
        return Comparison(False, "dtype", f"{name} has dtype {got.dtype}; expected a real float64 array")
    if got.shape != expected.shape:
        return Comparison(False, "shape", f"{name} has shape {_shape(got.shape)}; expected "
                                          f"{_shape(expected.shape)}", total=expected.size)
    values = got if got.dtype == np.float64 else got.astype(np.float64)
    total = expected.size
    rel, diff = relative_error(expected, values, floor)
    max_rel = float(rel.max()) if total else 0.0
    max_abs = float(diff.max()) if total else 0.0
    if max_rel <= tolerance and max_rel != np.inf:  # a NaN or inf returned makes max_rel inf
        return Comparison(True, None, "", max_abs, max_rel, 0, total, [], rel)
    nonfinite = ~np.isfinite(values) & np.isfinite(expected)
    wrong = rel > tolerance
    n_wrong = int(np.count_nonzero(wrong))
    first = [tuple(int(i) for i in index) for index in np.argwhere(wrong)[:FIRST_WRONG]]
    if nonfinite.any():
        kinds = sorted({"NaN" if np.isnan(v) else "inf" for v in values[nonfinite].ravel()[:100]})
        return Comparison(False, "nonfinite", f"{name} contains {' and '.join(kinds)} in "
                                              f"{int(nonfinite.sum())} of {total} elements",
                          max_abs, max_rel, n_wrong, total, first, rel)
    if n_wrong:
        return Comparison(False, "values", f"{name}: {n_wrong} of {total} elements are wrong "
                                           f"(max relative error {max_rel:.2g})",
                          max_abs, max_rel, n_wrong, total, first, rel)
    return Comparison(True, None, "", max_abs, max_rel, 0, total, [], rel)


def outputs_match(expected, got, tolerance, floor=1e-8):
    """Whether two {output: array} dicts hold the same outputs with the same values."""
    if set(expected) != set(got):
        return False
    for name, value in expected.items():
        other = np.asarray(got[name])
        if other.dtype.kind not in "biuf" or np.asarray(value).dtype.kind not in "biuf":
            return False
        if other.shape != np.shape(value):
            return False
        rel, _ = relative_error(np.asarray(value, dtype=np.float64), other.astype(np.float64), floor)
        if rel.size and rel.max() > tolerance:
            return False
    return True


def init_problems(got, expected, weight_scale, tolerance, zeros=("b",)):
    """What is wrong with randomly initialised parameters, as a list of messages.

    Shapes, dtypes and the arrays that must be zeros (whose key starts with one of
    `zeros`) are exact. Any other array passes when its mean is within 4 standard
    errors of 0 and its standard deviation within `tolerance` (relative) of weight_scale.
    """
    problems = []
    expected_keys = sorted(expected, key=_param_order)
    got_keys = sorted(got, key=_param_order)
    missing = [k for k in expected_keys if k not in got]
    extra = [k for k in got_keys if k not in expected]
    if missing:
        problems.append(f"params is missing {', '.join(missing)}")
    if extra:
        problems.append(f"params has unexpected keys {', '.join(extra)}")
    for key in expected_keys:
        if key not in got:
            continue
        value, want = got[key], expected[key]
        if value.shape != want.shape:
            problems.append(f"{key} has shape {_shape(value.shape)}; expected {_shape(want.shape)}")
            continue
        if value.dtype != want.dtype:
            problems.append(f"{key} has dtype {value.dtype}; expected {want.dtype}")
        data = value.astype(np.float64)
        if not np.all(np.isfinite(data)):
            problems.append(f"{key} contains NaN or inf")
            continue
        if is_zeros(key, zeros):
            if np.any(data != 0):
                problems.append(f"{key} should be all zeros; {int(np.count_nonzero(data))} entries are not")
        else:
            std = float(data.std())
            mean = float(data.mean())
            if abs(std - weight_scale) > tolerance * weight_scale:
                problems.append(f"{key} has standard deviation {std:.4g}; expected weight_scale = "
                                f"{weight_scale:g} (within {tolerance:.0%})")
            elif abs(mean) > 4 * weight_scale / np.sqrt(data.size):
                problems.append(f"{key} has mean {mean:.3g}; weights should be centred on 0")
    return problems


def is_zeros(key, zeros):
    """Whether a parameter ('params.b1' or 'b1') is one of those initialised to zeros."""
    return key.split(".")[-1].startswith(tuple(zeros))


def init_std(params, zeros=("b",)):
    """{key: standard deviation} of the randomly drawn (not zero-initialised) arrays in params."""
    return {k: float(np.asarray(v, dtype=np.float64).std()) for k, v in params.items()
            if not is_zeros(k, zeros) and np.size(v)}


def _param_order(key):
    name = key.split(".")[-1]
    digits = "".join(ch for ch in name if ch.isdigit())
    return (int(digits) if digits else 0, name)


def _shape(shape):
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
