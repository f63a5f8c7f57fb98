"""compare_array against its definition, worked out one element at a time in plain Python."""
import math

import numpy as np
import pytest

from grader.compare import FIRST_WRONG, compare_array


def element_errors(e, g, floor):
    """(relative, absolute) error of one element, as the module docstring defines them."""
    if e == g or (math.isnan(e) and math.isnan(g)):
        return 0.0, 0.0
    diff = abs(e - g)  # inf - inf is nan in Python floats too
    denominator = abs(e) + abs(g)
    if denominator < floor:
        denominator = floor
    rel = diff / denominator
    return (math.inf if math.isnan(rel) else rel), (math.inf if math.isnan(diff) else diff)


def oracle(expected, got, tolerance, floor):
    expected = np.asarray(expected, dtype=np.float64)
    values = got.astype(np.float64)
    errors = [element_errors(float(e), float(g), floor) for e, g in zip(expected.ravel(), values.ravel())]
    rel = np.array([r for r, _ in errors]).reshape(expected.shape)
    wrong = [index for index in np.ndindex(expected.shape) if rel[index] > tolerance]
    nonfinite = [index for index in np.ndindex(expected.shape)
                 if not math.isfinite(values[index]) and math.isfinite(expected[index])]
    problem = "nonfinite" if nonfinite else "values" if wrong else None
    return {"ok": problem is None, "problem": problem, "wrong": len(wrong), "first": wrong[:FIRST_WRONG],
            "max_rel": max((r for r, _ in errors), default=0.0),
            "max_abs": max((a for _, a in errors), default=0.0), "rel": rel}


INF, NAN = math.inf, math.nan
PAIRS = {
    "identical": ([1.5, -2.0, 0.0], [1.5, -2.0, 0.0]),
    "negative zero": ([0.0, -0.0], [-0.0, 0.0]),
    "within tolerance": ([1.0, 2.0, 3.0], [1.0 + 1e-9, 2.0, 3.0 - 1e-9]),
    "one wrong": ([1.0, 2.0, 3.0], [1.0, 2.5, 3.0]),
    "sign flipped": ([[1.0, -2.0], [3.0, 4.0]], [[-1.0, 2.0], [-3.0, -4.0]]),
    "tiny values under the floor": ([1e-12, 0.0], [3e-12, 1e-13]),
    "NaN returned": ([1.0, 2.0], [NAN, 2.0]),
    "inf returned": ([1.0, 2.0], [1.0, -INF]),
    "matching infinities and NaNs": ([INF, -INF, NAN, 1.0], [INF, -INF, NAN, 1.0]),
    "expected inf, finite returned": ([INF, 1.0], [5.0, 1.0]),
    "overflow in the difference": ([1e308, 1.0], [-1e308, 1.0]),
    "empty": (np.zeros((0, 3)), np.zeros((0, 3))),
    "many wrong": (np.arange(12.0).reshape(3, 4), np.arange(12.0).reshape(3, 4) + 1.0),
}


@pytest.mark.parametrize("name", PAIRS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_compare_array_agrees_with_the_element_by_element_definition(name, dtype):
    expected, got = (np.array(values, dtype=np.float64) for values in PAIRS[name])
    with np.errstate(over="ignore"):  # 1e308 is inf in float32
        got = got.astype(dtype)
    want = oracle(expected, got, 1e-7, 1e-8)
    result = compare_array(expected, got, 1e-7, 1e-8, "dx")
    assert (result.ok, result.problem, result.wrong, result.total) == \
        (want["ok"], want["problem"], want["wrong"], expected.size)
    assert result.first_wrong == want["first"]
    assert result.max_rel == want["max_rel"] and result.max_abs == want["max_abs"]
    assert result.error.tobytes() == want["rel"].tobytes()


def test_random_arrays_with_planted_mistakes_agree_with_the_definition():
    rng = np.random.default_rng(7)
    for trial in range(200):
        expected = rng.standard_normal(rng.integers(1, 30)) * 10.0 ** rng.integers(-10, 10)
        got = expected * (1 + rng.choice([0.0, 1e-9, 1e-5], size=expected.size))
        planted = rng.integers(0, expected.size, size=rng.integers(0, 3))
        got[planted] = rng.choice([NAN, INF, -INF, 0.0, 1e300], size=planted.size)
        for tolerance in (1e-7, 1e-3):
            want = oracle(expected, got, tolerance, 1e-8)
            result = compare_array(expected, got, tolerance, 1e-8)
            assert (result.ok, result.problem, result.wrong, result.first_wrong) == \
                (want["ok"], want["problem"], want["wrong"], want["first"]), trial
            assert (result.max_rel, result.max_abs) == (want["max_rel"], want["max_abs"]), trial
            assert result.error.tobytes() == want["rel"].tobytes(), trial


def test_the_messages_name_what_is_wrong():
    expected = np.array([1.0, 2.0, 3.0, 4.0])
    assert compare_array(expected, np.array([1.0, 2.5, 3.0, 4.0]), 1e-7, name="dx").message == \
        "dx: 1 of 4 elements are wrong (max relative error 0.11)"
    assert compare_array(expected, np.array([NAN, 2.0, INF, 4.0]), 1e-7, name="dx").message == \
        "dx contains NaN and inf in 2 of 4 elements"
    assert compare_array(expected, np.array([1.0, 2.0]), 1e-7, name="dx").message == \
        "dx has shape (2,); expected (4,)"
    assert compare_array(expected, np.array(["a", "b", "c", "d"]), 1e-7, name="dx").message == \
        "dx has dtype <U1; expected a real float64 array"
    assert compare_array(expected, expected.astype(np.int64), 1e-7, name="dx").ok
