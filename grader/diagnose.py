"""Naming the mistake behind a wrong output.

First the case's stored outputs of the mistake catalog: if the student's output
matches one (within the case's tolerance, NaN for NaN), that mistake is named with
its hint. Otherwise a few patterns that need no catalog: a transposed result, a
flipped sign, a constant factor, all zeros.
"""
import numpy as np

from .compare import compare_array, init_std, is_zeros
from .results import Diagnosis

GENERIC = {
    "transposed": ("transposed", "Your {name} is the transpose of the expected array: check the order "
                                 "of the factors in your product (A.T @ B versus B.T @ A)."),
    "sign-flipped": ("sign flipped", "Your {name} has the right magnitude but the opposite sign "
                                     "everywhere: check the direction of a subtraction."),
    "scaled": ("off by a constant factor", "Your {name} is the expected array times {factor:.4g}: a "
                                           "missing or extra factor (a count, an average, a slope)."),
    "all-zeros": ("all zeros", "Your {name} is all zeros: the gradient never reaches it. Check that "
                               "you assign into the array you return, and that you return it."),
}


def catalog_matches(case, data, name, got, manifest, floor):
    """Mistakes of the catalog whose stored `name` output equals `got`."""
    matches = []
    for slug in case.mistakes:
        variant = data.mistakes.get(slug, {}).get(name)
        if variant is None or got is None:
            continue
        if compare_array(variant, got, case.tolerance, floor).ok:
            matches.append(slug)
    return matches


def init_matches(case, data, name, got, tolerance, zeros=("b",)):
    """Mistakes of a random initialisation whose weights have the standard deviation the student's have."""
    if got is None or is_zeros(name, zeros) or not got.size:
        return []
    std = float(np.asarray(got, dtype=np.float64).std())
    matches = []
    for slug in case.mistakes:
        variant = data.mistakes.get(slug, {}).get(name)
        if variant is None:
            continue
        variant_std = init_std({name: variant}, zeros).get(name)
        if variant_std and abs(std - variant_std) <= tolerance * variant_std:
            matches.append(slug)
    return matches


def generic_pattern(expected, got, name):
    """A Diagnosis for a recognisable wrong answer that the catalog does not name, or None."""
    expected = np.asarray(expected, dtype=np.float64)
    if got is None or got.dtype.kind not in "biuf" or expected.size <= 1:
        return None  # (any two numbers differ by some factor: saying so of a single one says nothing)
    got = got.astype(np.float64)
    if not np.all(np.isfinite(got)):
        return None
    scale = max(np.abs(expected).max(), 1e-12)

    def close(a, b):
        return a.shape == b.shape and np.abs(a - b).max() <= 1e-6 * scale

    found = None
    if expected.ndim == 2 and expected.shape[0] != expected.shape[1] and close(got, expected.T):
        found = ("transposed", {})
    elif got.shape == expected.shape:
        if np.abs(got).max(initial=0.0) <= 1e-12 * scale and np.any(expected):
            found = ("all-zeros", {})   # (zero to rounding: 1e-17 times the expected is no factor)
        elif close(got, -expected):
            found = ("sign-flipped", {})
        else:
            mask = np.abs(expected) > 1e-9 * scale
            if mask.any():
                ratios = got[mask] / expected[mask]
                factor = float(np.median(ratios))
                if abs(factor - 1) > 1e-6 and factor != 0 and close(got, factor * expected):
                    found = ("scaled", {"factor": factor})
    if found is None:
        return None
    key, values = found
    title, hint = GENERIC[key]
    return Diagnosis(f"generic/{key}", title, hint.format(name=name, **values), [name])
