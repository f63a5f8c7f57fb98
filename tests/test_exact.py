"""Exact arithmetic for the test vectors: correctly rounded results, the same on every machine."""
import decimal
import math
import os
import platform
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from grader.authoring.exact import ExactArray, exact, exact_normal_draws, plain

ROOT = Path(__file__).resolve().parents[1]


def exact_dot(row, column):
    """The correctly rounded value of sum(row * column), from exact rationals."""
    return float(sum(Fraction(a) * Fraction(b) for a, b in zip(row, column)))


def correctly_rounded(value, digits):
    """True if the float `value` is within half an ulp of the 60-digit decimal `digits`."""
    return abs(decimal.Decimal(value) - digits) <= decimal.Decimal(math.ulp(value)) / 2


def test_a_sum_is_the_correctly_rounded_sum_where_numpy_rounds_on_the_way():
    cancelling = np.array([1e16, 1.0, -1e16])
    assert np.sum(cancelling) == 0.0  # NumPy rounds each partial sum: 1e16 + 1 is 1e16
    assert float(exact(cancelling).sum()) == math.fsum(cancelling) == 1.0
    tenths = np.full(10, 0.1)
    assert float(exact(tenths).sum()) == math.fsum(tenths)
    rows = np.array([[0.1] * 10, [1e16, 1.0, -1e16] + [0.0] * 7])
    assert plain(exact(rows).sum(axis=1)).tolist() == [1.0, 1.0]
    assert plain(exact(rows).sum(axis=1, keepdims=True)).shape == (2, 1)
    assert float(exact(rows).mean()) == math.fsum(rows.ravel()) / 20


def test_a_matrix_product_is_the_correctly_rounded_sum_of_exact_products():
    a = np.array([[1e16, 1.0, -1e16], [1 / 3, 1 / 7, 1 / 11]])
    b = np.array([[1.0, 0.1], [1.0, 0.2], [1.0, 0.3]])
    product = plain(exact(a) @ b)
    expected = [[exact_dot(row, column) for column in b.T] for row in a]
    assert product.tolist() == expected
    assert product[0, 0] == 1.0 and (a @ b)[0, 0] == 0.0  # where a float product loses the 1


def test_einsum_is_exact_like_the_matrix_product():
    a = np.array([[1e16, 1.0, -1e16], [1 / 3, 1 / 7, 1 / 11]])
    b = np.array([[1.0, 0.1], [1.0, 0.2], [1.0, 0.3]])
    assert plain(np.einsum("ik,kj->ij", exact(a), b)).tolist() == plain(exact(a) @ b).tolist()
    windows = np.arange(24.0).reshape(2, 3, 4) / 3
    assert plain(np.einsum("nci,ci->n", exact(windows), windows[0])).tolist() == \
        [exact_dot(windows[n].ravel(), windows[0].ravel()) for n in range(2)]


def test_exp_and_log_are_correctly_rounded():
    points = [1.0, -0.5, 3.140625, 20.015625, -700.25, 1e-10]
    exps = plain(np.exp(exact(np.array(points))))
    logs = plain(np.log(exact(np.array([p for p in points if p > 0]))))
    high = decimal.Context(prec=60)
    assert exps[0] == 2.718281828459045
    assert all(correctly_rounded(r, decimal.Decimal(p).exp(high)) for p, r in zip(points, exps))
    assert all(correctly_rounded(r, decimal.Decimal(p).ln(high)) for p, r in zip([p for p in points if p > 0], logs))


def test_exp_and_log_of_special_values_are_numpys():
    exps = plain(np.exp(exact(np.array([-np.inf, np.inf, np.nan, 1000.0, -1000.0]))))
    logs = plain(np.log(exact(np.array([0.0, -1.0, np.inf, np.nan]))))
    np.testing.assert_array_equal(exps, [0.0, np.inf, np.nan, np.inf, 0.0])
    np.testing.assert_array_equal(logs, [-np.inf, np.nan, np.inf, np.nan])


def test_an_infinite_operand_gives_numpys_inf_or_nan_only_where_it_reaches():
    a = np.array([[np.inf, 0.0, 0.0], [1e16, 1.0, -1e16]])
    product = plain(exact(a) @ np.ones((3, 1)))
    sums = plain(exact(a).sum(axis=1))
    with np.errstate(all="ignore"):
        overflowing = plain(np.exp(exact(np.array([[1000.0, 0.0]]))))
        probabilities = plain(exact(overflowing) / exact(overflowing).sum(axis=1, keepdims=True))
    assert product.ravel().tolist() == [np.inf, 1.0]
    assert sums.tolist() == [np.inf, 1.0]
    np.testing.assert_array_equal(probabilities, [[np.nan, 0.0]])


def test_results_stay_exact_arrays_through_indexing_reshapes_and_array_functions():
    x = exact(np.arange(6.0).reshape(2, 3))
    derived = [x.reshape(-1), x.T, x[:, 1:], np.where(x > 1, x, 0), np.pad(x, 1), np.zeros_like(x),
               x.max(axis=1), x.sum(), x * 2, np.maximum(x, 1)]
    assert [type(value).__name__ for value in derived] == ["ExactArray"] * len(derived)
    assert type(plain(x)) is np.ndarray and type(plain({"a": [x]})["a"][0]) is np.ndarray


def test_in_place_updates_write_into_the_array_and_keep_it_exact():
    dx = exact(np.zeros((2, 2)))
    dx += np.ones((2, 2))
    dx[0] += (exact(np.array([[1e16, 1.0, -1e16]])) @ np.ones((3, 2)))[0]
    np.add.at(dx, ([1, 1], [0, 0]), 0.5)
    assert type(dx) is ExactArray
    assert plain(dx).tolist() == [[2.0, 2.0], [2.0, 1.0]]


def test_float32_stays_float32_and_integers_are_left_to_numpy():
    single = exact(np.array([0.1, 0.2], dtype=np.float32))
    assert single.sum().dtype == np.float32 and np.exp(single).dtype == np.float32
    assert exact(np.arange(3)).dtype.kind == "i" and type(exact(np.arange(3))) is np.ndarray
    assert int(np.add.reduce(exact(np.ones(3)) > 0)) == 3


@pytest.mark.parametrize("operation", [
    lambda x: np.tanh(x), lambda x: x ** 3, lambda x: np.dot(x, x.T), lambda x: x.dot(x.T.reshape(3, 2, 1)),
    lambda x: np.linalg.norm(x), lambda x: np.cumsum(x), lambda x: np.trace(x), lambda x: x.prod(),
], ids=["tanh", "power", "np.dot", "3-D dot", "linalg", "cumsum", "trace", "prod"])
def test_an_operation_with_no_exact_version_is_refused_with_the_place_to_add_one(operation):
    with pytest.raises(TypeError, match="exact"):
        operation(exact(np.arange(6.0).reshape(2, 3)))


def test_exp_with_options_it_cannot_honour_exactly_is_refused_and_with_out_writes_there():
    x = exact(np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="where has no exact version"):
        np.exp(x, where=np.array([True, False]))
    out = exact(np.zeros(2))
    assert np.exp(x, out=out) is out and plain(out).tolist() == [1.0, 2.718281828459045]


def test_scalars_integers_and_outputs_cannot_carry_an_operation_out_of_exact_arithmetic():
    x = exact(np.array([[0.5, 1.25], [2.0, -3.0]]))
    high = decimal.Context(prec=60)
    scalar = np.exp(x[0, 1])  # a scalar taken out by indexing is a 0-d ExactArray
    assert type(x[0, 1]) is ExactArray and correctly_rounded(float(scalar), decimal.Decimal(1.25).exp(high))
    integers = x.astype(np.int64)
    assert type(np.exp(integers)) is ExactArray and float(np.exp(integers)[1, 0]) == float(np.exp(exact(np.array(2.0))))
    with pytest.raises(TypeError, match="tanh"):
        np.tanh(integers)  # no float input, but a float result
    out = exact(np.zeros(2))
    np.log(np.arange(1, 3), out=out)
    assert correctly_rounded(float(out[1]), decimal.Decimal(2).ln(high))
    with pytest.raises(TypeError, match="complex"):
        x + 1j
    assert type(x > 1) is ExactArray and type((x > 1).astype(float)) is ExactArray


def test_a_maximum_or_minimum_between_signed_zeros_is_plus_zero_whichever_comes_first():
    zeros = [np.maximum(exact(np.array([0.0])), -0.0), np.maximum(exact(np.array([-0.0])), 0.0),
             np.minimum(exact(np.array([0.0])), -0.0), exact(np.array([-0.0, 0.0])).max(),
             exact(np.array([0.0, -0.0])).min(), np.fmax.reduce(exact(np.array([-0.0, -0.0])))]
    assert [bool(np.signbit(plain(z)).any()) for z in zeros] == [False] * 6
    assert plain(np.maximum(exact(np.array([-2.0, 3.0])), -1.0)).tolist() == [-1.0, 3.0]


def test_an_infinite_operand_does_not_change_how_finite_results_that_overflow_are_found():
    big = 1e308
    rows = np.array([[np.inf, 0.0, 0.0], [big, big, -big], [big, -big, big]])
    assert plain(exact(rows) @ np.ones(3)).tolist() == [np.inf, big, big]
    assert plain(exact(rows).sum(axis=1)).tolist() == [np.inf, big, big]


def test_squares_and_2_d_dots_are_allowed_as_the_exact_operations_they_are():
    x = np.array([[1 / 3, 1e16], [1.0, -1e16]])
    assert plain(exact(x) ** 2).tolist() == (x * x).tolist()
    assert plain(exact(x).dot(np.array([1.0, 1.0]))).tolist() == [exact_dot(r, [1.0, 1.0]) for r in x]


def test_exact_normal_draws_follow_numpys_legacy_generator_with_a_correctly_rounded_log():
    originals = (np.random.seed, np.random.randn, np.random.standard_normal, np.random.normal)
    np.random.seed(5)
    numpys = np.random.randn(2000)
    with exact_normal_draws():
        np.random.seed(5)
        draws = np.random.randn(2000)
        np.random.seed(5)
        again = [np.random.standard_normal(), *np.random.normal(0.0, 1.0, size=3)]
    assert (np.random.seed, np.random.randn, np.random.standard_normal, np.random.normal) == originals
    differing = draws != numpys
    assert differing.sum() <= 20  # the same draws; NumPy's log is off by an ulp now and then
    assert np.all(np.abs(draws - numpys)[differing] <= 2 * np.spacing(np.abs(numpys[differing])))
    assert again == draws[:4].tolist()  # seeding forgets the spare normal, as NumPy's does


def _dispatched_cpu_features():
    try:
        from numpy._core import _multiarray_umath as umath
    except ImportError:  # NumPy 1
        from numpy.core import _multiarray_umath as umath
    return [name for name in umath.__cpu_dispatch__ if umath.__cpu_features__.get(name)]


def _other_code_paths():
    """The environment of a process whose NumPy, OpenBLAS and C library take their oldest code
    paths on this processor; None where there are none to switch to."""
    env = dict(os.environ)
    features = _dispatched_cpu_features()
    if features:
        env["NPY_DISABLE_CPU_FEATURES"] = " ".join(features)
    if platform.machine().lower() in ("x86_64", "amd64"):
        env["OPENBLAS_CORETYPE"] = "Prescott"  # OpenBLAS's oldest x86-64 kernels
        env["GLIBC_TUNABLES"] = "glibc.cpu.hwcaps=-AVX2,-FMA,-FMA4,-AVX512F"  # glibc's log without FMA
    return env if env != dict(os.environ) else None


HASH_GENERATION = """
import hashlib, re, sys
from pathlib import Path
from grader.authoring.generate import generate
root, folder = Path(sys.argv[1]), Path(sys.argv[2])
for seed in sys.argv[3:]:
    config = folder / f"seed{seed}.toml"
    text = (root / "assignment.toml").read_text()
    config.write_text(re.sub(r"(?m)^seed = [0-9]+", f"seed = {seed}", text, count=1))
    files = generate(root, config).files
    digest = hashlib.sha256(b"".join(k.encode() + v for k, v in sorted(files.items()) if k.startswith("test_cases")))
    print(seed, digest.hexdigest())
"""


def test_generation_writes_the_same_bytes_with_other_simd_code_blas_kernels_and_libm():
    """NumPy's exp and log, BLAS's products and the C library's log take other code paths
    when the processor's newer instructions are switched off: the vectors must not change."""
    env = _other_code_paths()
    if env is None:
        pytest.skip("no other code paths to switch to here")
    result = subprocess.run([sys.executable, "-m", "grader", "generate", "--check"], cwd=ROOT, env=env,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "up to date" in result.stdout


def test_other_seeds_generate_the_same_bytes_with_the_oldest_code_paths_too(tmp_path):
    """Seeds 11, 16 and 26 drew initial weights whose NumPy log differs without FMA."""
    env = _other_code_paths()
    if env is None:
        pytest.skip("no other code paths to switch to here")
    command = [sys.executable, "-c", HASH_GENERATION, str(ROOT), str(tmp_path), "11", "16", "26"]
    usual = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    oldest = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert usual.returncode == 0 and oldest.returncode == 0, usual.stderr + oldest.stderr
    assert len(usual.stdout.split()) == 6 and oldest.stdout == usual.stdout
