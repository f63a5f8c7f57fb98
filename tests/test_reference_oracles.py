"""The reference solution checked against independent oracles, never against itself.

Three kinds of oracle:
- centred-difference numerical gradients (float64, random upstream gradients, inputs kept
  away from kinks and ties), for every backward pass and for FullyConnectedNet.loss;
- brute-force implementations written below with plain Python loops, straight from the
  definitions in /work/shared/INTERFACE.md, for conv, max pool (all three tie rules) and
  avg pool, forward and backward, over many geometries;
- values worked out by hand (softmax at scores around +-1000, ReLU kinks).

Plus: clear ValueErrors for bad parameters, FullyConnectedNet initialisation, and no
function modifying its inputs.
"""
import math
import re

import numpy as np
import pytest

from oracles import brute_max_pool_backward, window_positions
from reference.fc_net import FullyConnectedNet
from reference.gradient_check import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from reference.layers import (
    affine_backward,
    affine_forward,
    avg_pool_backward,
    avg_pool_forward,
    conv_backward,
    conv_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    max_pool_backward,
    max_pool_forward,
    relu_backward,
    relu_forward,
    softmax_loss,
)

TIE_RULES = ("all", "split", "first")

# Observed relative errors of these numerical checks are 1e-12 to 3e-9 (largest: conv dw and
# softmax); the bound leaves a margin of 30x or more, while a real bug shows up as an error of
# order 1e-2 or more.
GRAD_BOUND = 1e-7


# --------------------------------------------------------------------------------------
# Brute-force oracles: plain loops, one definition per line of INTERFACE.md
# --------------------------------------------------------------------------------------

def conv_out_size(size, kernel, stride, pad):
    return 1 + (size + 2 * pad - kernel) // stride


def pool_out_size(size, window, stride):
    return 1 + (size - window) // stride


def padded_value(x, n, c, r, s, pad):
    """x[n, c] zero-padded by `pad` on every side, read at padded position (r, s)."""
    r, s = r - pad, s - pad
    if 0 <= r < x.shape[2] and 0 <= s < x.shape[3]:
        return float(x[n, c, r, s])
    return 0.0


def brute_conv_forward(x, w, b, stride, pad):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    H_out, W_out = conv_out_size(H, HH, stride, pad), conv_out_size(W, WW, stride, pad)
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    total = float(b[f])
                    for c in range(C):
                        for a in range(HH):
                            for e in range(WW):
                                total += padded_value(x, n, c, i * stride + a, j * stride + e, pad) * w[f, c, a, e]
                    out[n, f, i, j] = total
    return out


def brute_conv_backward(dout, x, w, stride, pad):
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    dx = np.zeros(x.shape)
    dw = np.zeros(w.shape)
    db = np.zeros(F)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    g = dout[n, f, i, j]
                    db[f] += g
                    for c in range(C):
                        for a in range(HH):
                            for e in range(WW):
                                r, s = i * stride + a - pad, j * stride + e - pad
                                dw[f, c, a, e] += g * padded_value(x, n, c, i * stride + a, j * stride + e, pad)
                                if 0 <= r < H and 0 <= s < W:  # gradient that lands on padding is dropped
                                    dx[n, c, r, s] += g * w[f, c, a, e]
    return dx, dw, db


def brute_max_pool_forward(x, ph, pw, stride):
    N, C, H, W = x.shape
    out = np.zeros((N, C, pool_out_size(H, ph, stride), pool_out_size(W, pw, stride)))
    for n in range(N):
        for c in range(C):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    out[n, c, i, j] = max(x[n, c, r, s] for r, s in window_positions(i, j, ph, pw, stride))
    return out


def brute_avg_pool_forward(x, ph, pw, stride):
    N, C, H, W = x.shape
    out = np.zeros((N, C, pool_out_size(H, ph, stride), pool_out_size(W, pw, stride)))
    for n in range(N):
        for c in range(C):
            for i in range(out.shape[2]):
                for j in range(out.shape[3]):
                    values = [x[n, c, r, s] for r, s in window_positions(i, j, ph, pw, stride)]
                    out[n, c, i, j] = sum(values) / len(values)
    return out


def brute_avg_pool_backward(dout, x, ph, pw, stride):
    dx = np.zeros(x.shape)
    N, C, H_out, W_out = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    for r, s in window_positions(i, j, ph, pw, stride):
                        dx[n, c, r, s] += dout[n, c, i, j] / (ph * pw)
    return dx


def brute_softmax_loss(x, y):
    """Mean cross-entropy and its gradient, one row at a time with the math module."""
    N, C = x.shape
    loss = 0.0
    dx = np.zeros((N, C))
    for i in range(N):
        row = [float(v) for v in x[i]]
        top = max(row)
        log_sum_exp = top + math.log(math.fsum(math.exp(v - top) for v in row))
        loss += (log_sum_exp - row[y[i]]) / N
        for j in range(C):
            dx[i, j] = (math.exp(row[j] - log_sum_exp) - (1.0 if j == y[i] else 0.0)) / N
    return loss, dx


# --------------------------------------------------------------------------------------
# Geometries
# --------------------------------------------------------------------------------------

# (N, C, H, W, F, HH, WW, stride, pad)
CONV_GEOMETRIES = [
    pytest.param((2, 3, 5, 5, 2, 3, 3, 1, 0), id="stride1-pad0-3x3"),
    pytest.param((2, 3, 5, 5, 2, 3, 3, 1, 1), id="stride1-pad1-same-size"),
    pytest.param((2, 2, 7, 7, 3, 3, 3, 2, 1), id="stride2-pad1"),
    pytest.param((1, 2, 8, 7, 2, 3, 3, 3, 2), id="stride3-pad2-uneven"),
    pytest.param((2, 2, 6, 9, 2, 2, 4, 1, 1), id="non-square-kernel-H-ne-W"),
    pytest.param((1, 1, 5, 4, 1, 3, 2, 1, 0), id="N1-C1-F1"),
    pytest.param((2, 2, 6, 8, 2, 3, 3, 2, 0), id="stride2-leaves-last-row-and-col-unreached"),
    pytest.param((1, 2, 7, 7, 2, 2, 2, 3, 0), id="stride-larger-than-kernel-leaves-gaps"),
    pytest.param((2, 2, 3, 4, 2, 5, 6, 1, 1), id="kernel-equals-padded-input"),
    pytest.param((1, 2, 4, 5, 3, 1, 1, 2, 2), id="1x1-kernel-stride2-pad2"),
]

# (N, C, H, W, pool_height, pool_width, stride)
POOL_GEOMETRIES = [
    pytest.param((2, 3, 4, 4, 2, 2, 2), id="2x2-stride2-tiling"),
    pytest.param((2, 2, 5, 5, 3, 3, 2), id="3x3-stride2-overlapping"),
    pytest.param((2, 2, 4, 5, 2, 2, 1), id="2x2-stride1-overlapping"),
    pytest.param((1, 2, 5, 6, 3, 2, 1), id="3x2-stride1-non-square-overlapping"),
    pytest.param((2, 1, 7, 8, 2, 2, 3), id="2x2-stride3-gaps"),
    pytest.param((2, 2, 5, 7, 2, 2, 2), id="2x2-stride2-uneven-last-row-col-unreached"),
    pytest.param((1, 1, 6, 4, 2, 3, 1), id="N1-C1-2x3-stride1"),
    pytest.param((2, 2, 3, 4, 3, 4, 1), id="window-equals-input"),
    pytest.param((1, 2, 9, 7, 4, 3, 2), id="4x3-stride2-overlap-and-uneven"),
]


def tie_free(rng, shape, spacing=0.1):
    """Distinct values (a shuffled arithmetic sequence, centred on 0): no ties, gaps >> h."""
    size = int(np.prod(shape))
    return (rng.permutation(size) - size / 2.0).reshape(shape) * spacing


def away_from_zero(rng, shape, low=0.1):
    """Random values with |v| >= low, so that no centred difference crosses a ReLU kink."""
    return rng.uniform(low, 2.0, size=shape) * rng.choice([-1.0, 1.0], size=shape)


# --------------------------------------------------------------------------------------
# Numerical gradients
# --------------------------------------------------------------------------------------

def test_affine_backward_matches_numerical_gradient_for_multi_dimensional_x():
    rng = np.random.RandomState(0)
    x = rng.randn(3, 2, 4, 2)
    w = rng.randn(16, 5)
    b = rng.randn(5)
    dout = rng.randn(3, 5)

    dx, dw, db = affine_backward(dout, affine_forward(x, w, b)[1])

    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    assert rel_error(dx, eval_numerical_gradient_array(lambda v: affine_forward(v, w, b)[0], x, dout)) < GRAD_BOUND
    assert rel_error(dw, eval_numerical_gradient_array(lambda v: affine_forward(x, v, b)[0], w, dout)) < GRAD_BOUND
    assert rel_error(db, eval_numerical_gradient_array(lambda v: affine_forward(x, w, v)[0], b, dout)) < GRAD_BOUND


def test_affine_forward_matches_row_by_row_dot_products():
    rng = np.random.RandomState(1)
    x = rng.randn(3, 2, 3)
    w = rng.randn(6, 4)
    b = rng.randn(4)
    expected = np.zeros((3, 4))
    for n in range(3):
        row = [x[n, i, j] for i in range(2) for j in range(3)]  # row-major flattening
        for m in range(4):
            expected[n, m] = b[m] + sum(row[d] * w[d, m] for d in range(6))

    np.testing.assert_allclose(affine_forward(x, w, b)[0], expected, rtol=1e-12, atol=1e-13)


def test_relu_backward_matches_numerical_gradient_away_from_the_kink():
    rng = np.random.RandomState(2)
    x = away_from_zero(rng, (4, 3, 5))
    dout = rng.randn(4, 3, 5)

    dx = relu_backward(dout, relu_forward(x)[1])

    assert rel_error(dx, eval_numerical_gradient_array(lambda v: relu_forward(v)[0], x, dout)) < GRAD_BOUND


def test_relu_gradient_at_exactly_zero_is_zero():
    x = np.array([[-1.5, 0.0, 2.0], [0.0, 3.0, -0.0]])
    dout = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    out, cache = relu_forward(x)

    np.testing.assert_array_equal(out, [[0.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    np.testing.assert_array_equal(relu_backward(dout, cache), [[0.0, 0.0, 3.0], [0.0, 5.0, 0.0]])


def test_leaky_relu_backward_with_non_default_slope_matches_numerical_gradient():
    rng = np.random.RandomState(3)
    x = away_from_zero(rng, (3, 4, 2))
    dout = rng.randn(3, 4, 2)
    slope = 0.2

    dx = leaky_relu_backward(dout, leaky_relu_forward(x, negative_slope=slope)[1])

    dx_num = eval_numerical_gradient_array(lambda v: leaky_relu_forward(v, negative_slope=slope)[0], x, dout)
    assert rel_error(dx, dx_num) < GRAD_BOUND
    # The slope really is used: on the negative side dx is exactly 0.2 * dout.
    np.testing.assert_allclose(dx[x < 0], slope * dout[x < 0], rtol=1e-15)


def test_leaky_relu_uses_the_slope_at_exactly_zero_and_for_negatives():
    x = np.array([-2.0, 0.0, 3.0])
    dout = np.array([10.0, 20.0, 30.0])

    out, cache = leaky_relu_forward(x, negative_slope=0.25)

    np.testing.assert_array_equal(out, [-0.5, 0.0, 3.0])
    np.testing.assert_array_equal(leaky_relu_backward(dout, cache), [2.5, 5.0, 30.0])


def test_softmax_loss_dx_matches_numerical_gradient():
    rng = np.random.RandomState(4)
    x = rng.randn(6, 5)
    y = rng.randint(5, size=6)

    loss, dx = softmax_loss(x, y)

    assert rel_error(dx, eval_numerical_gradient(lambda v: softmax_loss(v, y)[0], x)) < GRAD_BOUND
    assert isinstance(loss, float)


@pytest.mark.parametrize("geometry", CONV_GEOMETRIES)
def test_conv_backward_matches_numerical_gradient(geometry):
    N, C, H, W, F, HH, WW, stride, pad = geometry
    rng = np.random.RandomState(5)
    x = rng.randn(N, C, H, W)
    w = rng.randn(F, C, HH, WW)
    b = rng.randn(F)
    conv_param = {"stride": stride, "pad": pad}
    out, cache = conv_forward(x, w, b, conv_param)
    dout = rng.randn(*out.shape)

    dx, dw, db = conv_backward(dout, cache)

    dx_num = eval_numerical_gradient_array(lambda v: conv_forward(v, w, b, conv_param)[0], x, dout)
    dw_num = eval_numerical_gradient_array(lambda v: conv_forward(x, v, b, conv_param)[0], w, dout)
    db_num = eval_numerical_gradient_array(lambda v: conv_forward(x, w, v, conv_param)[0], b, dout)
    assert rel_error(dx, dx_num) < GRAD_BOUND
    assert rel_error(dw, dw_num) < GRAD_BOUND
    assert rel_error(db, db_num) < GRAD_BOUND


@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
def test_max_pool_backward_matches_numerical_gradient_on_tie_free_input(geometry):
    N, C, H, W, ph, pw, stride = geometry
    rng = np.random.RandomState(6)
    x = tie_free(rng, (N, C, H, W))
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = max_pool_forward(x, pool_param)
    dout = rng.randn(*out.shape)

    dx_num = eval_numerical_gradient_array(lambda v: max_pool_forward(v, pool_param)[0], x, dout)

    # Without ties the three rules coincide, and all agree with the numerical gradient.
    for ties in TIE_RULES:
        assert rel_error(max_pool_backward(dout, cache, ties=ties), dx_num) < GRAD_BOUND, ties


@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
def test_avg_pool_backward_matches_numerical_gradient(geometry):
    N, C, H, W, ph, pw, stride = geometry
    rng = np.random.RandomState(7)
    x = rng.randn(N, C, H, W)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = avg_pool_forward(x, pool_param)
    dout = rng.randn(*out.shape)

    dx = avg_pool_backward(dout, cache)

    assert rel_error(dx, eval_numerical_gradient_array(lambda v: avg_pool_forward(v, pool_param)[0], x, dout)) < GRAD_BOUND


def _fc_net_with_kink_free_activations(seed):
    """A 3-layer net (two hidden layers, multi-dimensional X, reg > 0, non-zero biases)
    whose hidden pre-activations all satisfy |a| > 1e-3, checked, so centred differences are valid."""
    rng = np.random.RandomState(seed)
    X = rng.randn(4, 3, 2)
    y = np.array([0, 3, 1, 3])
    np.random.seed(seed)
    model = FullyConnectedNet(input_dim=6, hidden_dims=[7, 5], num_classes=4, weight_scale=0.4, reg=0.3)
    for name in ("b1", "b2", "b3"):
        model.params[name] = rng.randn(*model.params[name].shape) * 0.3
    # Independent forward pass in plain numpy, used as the oracle for the kink check and the loss.
    a1 = X.reshape(4, 6) @ model.params["W1"] + model.params["b1"]
    a2 = np.maximum(a1, 0) @ model.params["W2"] + model.params["b2"]
    return model, X, y, (a1, a2)


def test_fully_connected_net_loss_gradients_match_numerical_gradient_for_every_parameter():
    model, X, y, (a1, a2) = _fc_net_with_kink_free_activations(seed=11)
    assert np.abs(a1).min() > 1e-3 and np.abs(a2).min() > 1e-3  # precondition: no ReLU kink in reach
    assert (a1 < 0).any() and (a2 < 0).any()                    # and some units are really switched off

    loss, grads = model.loss(X, y)

    assert sorted(grads) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    for name, param in model.params.items():
        grad_num = eval_numerical_gradient(lambda _: model.loss(X, y)[0], param)
        assert grads[name].shape == param.shape, name
        assert rel_error(grads[name], grad_num) < GRAD_BOUND, name


def test_fully_connected_net_scores_and_loss_match_a_plain_numpy_forward_pass():
    model, X, y, (a1, a2) = _fc_net_with_kink_free_activations(seed=11)
    p = model.params
    scores = np.maximum(a2, 0) @ p["W3"] + p["b3"]
    data_loss, _ = brute_softmax_loss(scores, y)
    reg_loss = 0.5 * model.reg * sum(float(np.sum(p[k] ** 2)) for k in ("W1", "W2", "W3"))

    np.testing.assert_allclose(model.loss(X), scores, rtol=1e-12)
    loss, _ = model.loss(X, y)
    assert loss == pytest.approx(data_loss + reg_loss, rel=1e-12)
    assert reg_loss > 0.1 * loss  # the regularisation term is a real part of what is checked


# --------------------------------------------------------------------------------------
# Brute-force loops
# --------------------------------------------------------------------------------------

@pytest.mark.parametrize("geometry", CONV_GEOMETRIES)
def test_conv_forward_matches_brute_force_loops(geometry):
    N, C, H, W, F, HH, WW, stride, pad = geometry
    rng = np.random.RandomState(10)
    x = rng.randn(N, C, H, W)
    w = rng.randn(F, C, HH, WW)
    b = rng.randn(F)

    out, cache = conv_forward(x, w, b, {"stride": stride, "pad": pad})

    expected = brute_conv_forward(x, w, b, stride, pad)
    assert out.shape == (N, F, conv_out_size(H, HH, stride, pad), conv_out_size(W, WW, stride, pad))
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("geometry", CONV_GEOMETRIES)
def test_conv_backward_matches_brute_force_loops(geometry):
    N, C, H, W, F, HH, WW, stride, pad = geometry
    rng = np.random.RandomState(11)
    x = rng.randn(N, C, H, W)
    w = rng.randn(F, C, HH, WW)
    b = rng.randn(F)
    out, cache = conv_forward(x, w, b, {"stride": stride, "pad": pad})
    dout = rng.randn(*out.shape)

    dx, dw, db = conv_backward(dout, cache)

    dx_exp, dw_exp, db_exp = brute_conv_backward(dout, x, w, stride, pad)
    assert dx.shape == x.shape and dw.shape == w.shape and db.shape == b.shape
    np.testing.assert_allclose(dx, dx_exp, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dw, dw_exp, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(db, db_exp, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("geometry", CONV_GEOMETRIES)
def test_conv_matches_brute_force_loops_exactly_on_integer_values(geometry):
    N, C, H, W, F, HH, WW, stride, pad = geometry
    rng = np.random.RandomState(12)
    x = rng.randint(-4, 5, size=(N, C, H, W)).astype(float)
    w = rng.randint(-3, 4, size=(F, C, HH, WW)).astype(float)
    b = rng.randint(-5, 6, size=F).astype(float)
    out, cache = conv_forward(x, w, b, {"stride": stride, "pad": pad})
    dout = rng.randint(-3, 4, size=out.shape).astype(float)

    dx, dw, db = conv_backward(dout, cache)

    np.testing.assert_array_equal(out, brute_conv_forward(x, w, b, stride, pad))
    for got, expected in zip((dx, dw, db), brute_conv_backward(dout, x, w, stride, pad)):
        np.testing.assert_array_equal(got, expected)


def test_conv_backward_gives_exactly_zero_gradient_to_rows_and_columns_no_window_reaches():
    # H = 6, HH = 3, stride 2: windows cover rows 0-2 and 2-4, so row 5 is never read.
    # W = 8, WW = 3, stride 2: windows cover columns 0-2, 2-4, 4-6, so column 7 is never read.
    rng = np.random.RandomState(13)
    x = rng.randn(2, 2, 6, 8)
    w = rng.randn(3, 2, 3, 3)
    out, cache = conv_forward(x, w, rng.randn(3), {"stride": 2, "pad": 0})
    assert out.shape == (2, 3, 2, 3)

    dx, _, _ = conv_backward(rng.randn(*out.shape), cache)

    assert np.all(dx[:, :, 5, :] == 0.0)
    assert np.all(dx[:, :, :, 7] == 0.0)
    assert np.all(dx[:, :, :5, :7] != 0.0)


def test_conv_is_cross_correlation_not_convolution():
    # One 2x2 kernel [[1, 2], [3, 4]] on [[1, 0], [0, 0]] reads x[0, 0] * w[0, 0] = 1 (a flipped
    # kernel would give 4).
    x = np.array([[[[1.0, 0.0], [0.0, 0.0]]]])
    w = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])

    out, _ = conv_forward(x, w, np.zeros(1), {"stride": 1, "pad": 0})

    np.testing.assert_array_equal(out, [[[[1.0]]]])


@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
def test_max_pool_forward_matches_brute_force_loops(geometry):
    N, C, H, W, ph, pw, stride = geometry
    rng = np.random.RandomState(14)
    x = rng.randn(N, C, H, W)

    out, _ = max_pool_forward(x, {"pool_height": ph, "pool_width": pw, "stride": stride})

    assert out.shape == (N, C, pool_out_size(H, ph, stride), pool_out_size(W, pw, stride))
    np.testing.assert_array_equal(out, brute_max_pool_forward(x, ph, pw, stride))


@pytest.mark.parametrize("ties", TIE_RULES)
@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
def test_max_pool_backward_matches_brute_force_loops_for_every_tie_rule(geometry, ties):
    N, C, H, W, ph, pw, stride = geometry
    rng = np.random.RandomState(15)
    # Values from {0, 1, 2, 3}: plenty of ties, of every multiplicity.
    x = rng.randint(0, 4, size=(N, C, H, W)).astype(float)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}
    out, cache = max_pool_forward(x, pool_param)
    dout = rng.randn(*out.shape)

    dx = max_pool_backward(dout, cache, ties=ties)

    np.testing.assert_allclose(dx, brute_max_pool_backward(dout, x, ph, pw, stride, ties), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
def test_avg_pool_forward_and_backward_match_brute_force_loops(geometry):
    N, C, H, W, ph, pw, stride = geometry
    rng = np.random.RandomState(16)
    x = rng.randn(N, C, H, W)
    pool_param = {"pool_height": ph, "pool_width": pw, "stride": stride}

    out, cache = avg_pool_forward(x, pool_param)
    dout = rng.randn(*out.shape)
    dx = avg_pool_backward(dout, cache)

    assert out.shape == (N, C, pool_out_size(H, ph, stride), pool_out_size(W, pw, stride))
    np.testing.assert_allclose(out, brute_avg_pool_forward(x, ph, pw, stride), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, brute_avg_pool_backward(dout, x, ph, pw, stride), rtol=1e-12, atol=1e-14)


def test_overlapping_avg_pool_windows_add_their_gradients():
    # 3x3 input, 2x2 windows, stride 1: the centre is in all four windows, edges in two,
    # corners in one. With dout = [[4, 8], [12, 16]] each window hands out dout / 4.
    x = np.arange(9.0).reshape(1, 1, 3, 3)
    dout = np.array([[[[4.0, 8.0], [12.0, 16.0]]]])

    _, cache = avg_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 1})

    np.testing.assert_array_equal(avg_pool_backward(dout, cache),
                                  [[[[1.0, 3.0, 2.0],
                                     [4.0, 10.0, 6.0],
                                     [3.0, 7.0, 4.0]]]])


@pytest.mark.parametrize("pool", ["max", "avg"])
def test_pool_backward_gives_zero_gradient_to_rows_and_columns_no_window_reaches(pool):
    # H = 5, W = 7, 2x2 windows, stride 2: row 4 and column 6 are never read,
    # even though they hold the largest values of the input.
    rng = np.random.RandomState(17)
    x = tie_free(rng, (2, 2, 5, 7))
    x[:, :, 4, :] += 100.0
    x[:, :, :, 6] += 100.0
    pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}
    forward, backward = (max_pool_forward, max_pool_backward) if pool == "max" else (avg_pool_forward, avg_pool_backward)
    out, cache = forward(x, pool_param)
    assert out.shape == (2, 2, 2, 3)

    dx = backward(rng.randn(*out.shape) + 10.0, cache)

    assert np.all(dx[:, :, 4, :] == 0.0)
    assert np.all(dx[:, :, :, 6] == 0.0)
    assert np.count_nonzero(dx[:, :, :4, :6]) == (2 * 2 * 6 if pool == "max" else 2 * 2 * 24)


# --------------------------------------------------------------------------------------
# softmax_loss at large scores
# --------------------------------------------------------------------------------------

def test_softmax_loss_is_exact_for_scores_of_plus_and_minus_a_thousand_worked_by_hand():
    # Row 0, label 2: loss = -log(e^999 / (e^1000 + e^-1000 + e^999)) = log(1 + e + e^-1999)
    #   = log(1 + e) = 1.3132616875182228;
    #   p = [e / (1 + e), e^-2000 / (1 + e) (underflows to 0), 1 / (1 + e)], e / (1 + e) = 0.7310585786300049.
    # Row 1, label 0, three equal scores of -1000: loss = log 3 = 1.0986122886681098, p = 1/3 each.
    # Mean over N = 2: loss = 1.2059369880931663, dx = (p - onehot(y)) / 2.
    x = np.array([[1000.0, -1000.0, 999.0],
                  [-1000.0, -1000.0, -1000.0]])
    y = np.array([2, 0])

    loss, dx = softmax_loss(x, y)

    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert loss == pytest.approx(1.2059369880931663, rel=1e-14)
    np.testing.assert_allclose(dx, [[0.36552928931500245, 0.0, -0.36552928931500245],
                                    [-1.0 / 3.0, 1.0 / 6.0, 1.0 / 6.0]], rtol=1e-14, atol=0)


def test_softmax_loss_of_a_single_row_1000_minus1000_999_with_label_2_is_log_of_1_plus_e():
    loss, dx = softmax_loss(np.array([[1000.0, -1000.0, 999.0]]), np.array([2]))

    assert loss == pytest.approx(1.3132616875182228, rel=1e-14)
    np.testing.assert_allclose(dx, [[0.7310585786300049, 0.0, -0.7310585786300049]], rtol=1e-14, atol=0)


@pytest.mark.parametrize("scale", [1.0, 1e3, 1e5], ids=["scores-around-1", "scores-around-1e3", "scores-around-1e5"])
def test_softmax_loss_matches_a_hand_written_log_sum_exp_and_stays_finite(scale):
    rng = np.random.RandomState(18)
    x = rng.uniform(-1.0, 1.0, size=(7, 5)) * scale
    y = rng.randint(5, size=7)

    loss, dx = softmax_loss(x, y)

    loss_exp, dx_exp = brute_softmax_loss(x, y)
    assert np.isfinite(loss) and np.all(np.isfinite(dx))
    assert loss == pytest.approx(loss_exp, rel=1e-12)
    np.testing.assert_allclose(dx, dx_exp, rtol=1e-10, atol=1e-15)


# --------------------------------------------------------------------------------------
# Bad parameters
# --------------------------------------------------------------------------------------

def _conv_inputs(C_x=2, C_w=2, H=5, W=5, HH=3, WW=3):
    return np.zeros((1, C_x, H, W)), np.zeros((2, C_w, HH, WW)), np.zeros(2)


@pytest.mark.parametrize("conv_param, message", [
    pytest.param({"stride": -1, "pad": 0}, "conv: stride must be an integer >= 1; got -1", id="negative-stride"),
    pytest.param({"stride": 0, "pad": 0}, "conv: stride must be an integer >= 1; got 0", id="zero-stride"),
    pytest.param({"stride": 1.5, "pad": 0}, "conv: stride must be an integer >= 1; got 1.5", id="fractional-stride"),
    pytest.param({"stride": 1, "pad": -1}, "conv: pad must be an integer >= 0; got -1", id="negative-pad"),
])
def test_conv_rejects_bad_stride_and_pad_with_a_clear_message(conv_param, message):
    x, w, b = _conv_inputs()
    with pytest.raises(ValueError, match=re.escape(message)):
        conv_forward(x, w, b, conv_param)


def test_conv_backward_rejects_a_bad_stride_too():
    x, w, b = _conv_inputs()
    with pytest.raises(ValueError, match=re.escape("stride must be an integer >= 1; got 0")):
        conv_backward(np.zeros((1, 2, 3, 3)), (x, w, b, {"stride": 0, "pad": 0}))


@pytest.mark.parametrize("shapes, pad, message", [
    pytest.param(dict(H=4, W=5, HH=7, WW=3), 1, "kernel 7x3 is larger than the padded input 6x7", id="too-tall"),
    pytest.param(dict(H=5, W=2, HH=3, WW=3), 0, "kernel 3x3 is larger than the padded input 5x2", id="too-wide"),
])
def test_conv_rejects_a_kernel_larger_than_the_padded_input(shapes, pad, message):
    x, w, b = _conv_inputs(**shapes)
    with pytest.raises(ValueError, match=re.escape(message)):
        conv_forward(x, w, b, {"stride": 1, "pad": pad})


def test_conv_rejects_mismatched_channel_counts():
    x, w, b = _conv_inputs(C_x=3, C_w=2)
    with pytest.raises(ValueError, match=re.escape("x has 3 channels but w expects 2")):
        conv_forward(x, w, b, {"stride": 1, "pad": 0})


@pytest.mark.parametrize("y, message", [
    pytest.param([0, -1, 2], "labels must satisfy 0 <= y[i] < 3; got values from -1 to 2", id="negative-label"),
    pytest.param([0, 3, 2], "labels must satisfy 0 <= y[i] < 3; got values from 0 to 3", id="label-equal-to-C"),
    pytest.param([7, 1, 1], "labels must satisfy 0 <= y[i] < 3; got values from 1 to 7", id="label-above-C"),
])
def test_softmax_loss_rejects_labels_out_of_range(y, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        softmax_loss(np.zeros((3, 3)), np.array(y))


@pytest.mark.parametrize("ties", ["max", "ALL", "", None])
def test_max_pool_backward_rejects_an_unknown_tie_rule(ties):
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    _, cache = max_pool_forward(x, {"pool_height": 2, "pool_width": 2, "stride": 2})
    with pytest.raises(ValueError, match=re.escape(f"ties must be one of 'all', 'split', 'first'; got {ties!r}")):
        max_pool_backward(np.ones((1, 1, 2, 2)), cache, ties=ties)


@pytest.mark.parametrize("pool_param, message", [
    pytest.param({"pool_height": 2, "pool_width": 2, "stride": 0}, "pool: stride must be an integer >= 1; got 0", id="zero-stride"),
    pytest.param({"pool_height": 2, "pool_width": 2, "stride": -2}, "pool: stride must be an integer >= 1; got -2", id="negative-stride"),
    pytest.param({"pool_height": 0, "pool_width": 2, "stride": 1}, "pool: pool_height must be an integer >= 1; got 0", id="zero-height"),
    pytest.param({"pool_height": 5, "pool_width": 2, "stride": 1}, "pool: window 5x2 is larger than the input 4x4", id="window-too-tall"),
])
def test_pooling_rejects_bad_parameters_with_a_clear_message(pool_param, message):
    x = np.zeros((1, 1, 4, 4))
    for forward in (max_pool_forward, avg_pool_forward):
        with pytest.raises(ValueError, match=re.escape(message)):
            forward(x, pool_param)


# --------------------------------------------------------------------------------------
# FullyConnectedNet initialisation
# --------------------------------------------------------------------------------------

def test_fully_connected_net_init_has_the_right_keys_shapes_zero_biases_and_weight_scale():
    np.random.seed(0)
    model = FullyConnectedNet(input_dim=50, hidden_dims=[40, 30], num_classes=10, weight_scale=0.05)

    assert sorted(model.params) == ["W1", "W2", "W3", "b1", "b2", "b3"]
    shapes = {name: p.shape for name, p in model.params.items()}
    assert shapes == {"W1": (50, 40), "b1": (40,), "W2": (40, 30), "b2": (30,), "W3": (30, 10), "b3": (10,)}
    for name in ("b1", "b2", "b3"):
        assert np.all(model.params[name] == 0.0), name
    for name in ("W1", "W2"):  # 2000 and 1200 entries: the sample std is within a few % of the truth
        W = model.params[name]
        assert W.size >= 1000
        assert abs(W.std() - 0.05) < 0.1 * 0.05, name
        assert abs(W.mean()) < 0.15 * 0.05, name
    assert all(p.dtype == np.float64 for p in model.params.values())


def test_fully_connected_net_init_draws_from_the_global_numpy_seed():
    np.random.seed(123)
    first = FullyConnectedNet(input_dim=8, hidden_dims=[6], num_classes=3)
    np.random.seed(123)
    second = FullyConnectedNet(input_dim=8, hidden_dims=[6], num_classes=3)
    np.random.seed(124)
    third = FullyConnectedNet(input_dim=8, hidden_dims=[6], num_classes=3)

    for name in first.params:
        np.testing.assert_array_equal(first.params[name], second.params[name])
    assert not np.array_equal(first.params["W1"], third.params["W1"])


def test_fully_connected_net_init_with_float32_casts_every_parameter():
    np.random.seed(1)
    model = FullyConnectedNet(input_dim=40, hidden_dims=[30], num_classes=5, weight_scale=1e-1, dtype=np.float32)

    assert {name: p.dtype for name, p in model.params.items()} == {name: np.dtype(np.float32) for name in model.params}
    assert abs(model.params["W1"].std() - 0.1) < 0.01  # 1200 entries
    assert model.loss(np.ones((2, 40))).dtype == np.float32


def test_fully_connected_net_with_no_hidden_layer_is_a_single_affine_layer():
    np.random.seed(2)
    model = FullyConnectedNet(input_dim=4, hidden_dims=[], num_classes=3)
    X = np.arange(8.0).reshape(2, 4)

    assert sorted(model.params) == ["W1", "b1"]
    assert model.params["W1"].shape == (4, 3)
    np.testing.assert_allclose(model.loss(X), X @ model.params["W1"], rtol=1e-14)


# --------------------------------------------------------------------------------------
# No function modifies its inputs
# --------------------------------------------------------------------------------------

def _snapshot(*arrays):
    return [np.array(a, copy=True) for a in arrays]


def _unchanged(before, *arrays):
    return all(np.array_equal(b, a) for b, a in zip(before, arrays)) and len(before) == len(arrays)


def test_affine_relu_and_softmax_do_not_modify_their_inputs():
    rng = np.random.RandomState(20)
    x, w, b = rng.randn(3, 2, 2), rng.randn(4, 5), rng.randn(5)
    dout = rng.randn(3, 5)
    before = _snapshot(x, w, b, dout)
    _, cache = affine_forward(x, w, b)
    affine_backward(dout, cache)
    assert _unchanged(before, x, w, b, dout)

    x, dout = rng.randn(4, 3), rng.randn(4, 3)
    before = _snapshot(x, dout)
    relu_backward(dout, relu_forward(x)[1])
    leaky_relu_backward(dout, leaky_relu_forward(x, 0.3)[1])
    assert _unchanged(before, x, dout)

    scores, y = rng.randn(4, 6) * 100, rng.randint(6, size=4)
    before = _snapshot(scores, y)
    softmax_loss(scores, y)
    assert _unchanged(before, scores, y)


def test_conv_does_not_modify_its_inputs_or_conv_param():
    rng = np.random.RandomState(21)
    x, w, b = rng.randn(2, 2, 5, 5), rng.randn(3, 2, 3, 3), rng.randn(3)
    conv_param = {"stride": 2, "pad": 1}
    before = _snapshot(x, w, b)

    out, cache = conv_forward(x, w, b, conv_param)
    dout = rng.randn(*out.shape)
    dout_before = dout.copy()
    conv_backward(dout, cache)

    assert _unchanged(before, x, w, b)
    assert np.array_equal(dout, dout_before)
    assert conv_param == {"stride": 2, "pad": 1}


@pytest.mark.parametrize("ties", TIE_RULES)
def test_pooling_does_not_modify_its_inputs(ties):
    rng = np.random.RandomState(22)
    x = rng.randint(0, 3, size=(2, 2, 5, 5)).astype(float)
    pool_param = {"pool_height": 3, "pool_width": 2, "stride": 1}
    x_before = x.copy()

    out, cache = max_pool_forward(x, pool_param)
    dout = rng.randn(*out.shape)
    dout_before = dout.copy()
    max_pool_backward(dout, cache, ties=ties)
    _, avg_cache = avg_pool_forward(x, pool_param)
    avg_pool_backward(dout, avg_cache)

    assert np.array_equal(x, x_before)
    assert np.array_equal(dout, dout_before)
    assert pool_param == {"pool_height": 3, "pool_width": 2, "stride": 1}


def test_fully_connected_net_loss_does_not_modify_x_y_or_its_parameters():
    model, X, y, _ = _fc_net_with_kink_free_activations(seed=11)
    params_before = {name: p.copy() for name, p in model.params.items()}
    X_before, y_before = X.copy(), y.copy()

    model.loss(X, y)
    model.loss(X)

    assert np.array_equal(X, X_before) and np.array_equal(y, y_before)
    for name, p in model.params.items():
        assert np.array_equal(p, params_before[name]), name


@pytest.mark.parametrize("call, message", [
    (lambda: max_pool_backward(np.ones((1, 1, 1, 1)), (np.ones((1, 1, 4, 4)),
                                                       {"pool_height": 2, "pool_width": 2, "stride": 2})),
     "max_pool_backward: dout has shape (1, 1, 1, 1); the forward pass's output has shape (1, 1, 2, 2)"),
    (lambda: avg_pool_backward(np.ones((1, 1, 3, 3)), (np.ones((1, 1, 4, 4)),
                                                       {"pool_height": 2, "pool_width": 2, "stride": 2})),
     "avg_pool_backward: dout has shape (1, 1, 3, 3); the forward pass's output has shape (1, 1, 2, 2)"),
    (lambda: conv_backward(np.ones((1, 1, 1, 1)), (np.ones((1, 1, 4, 4)), np.ones((2, 1, 3, 3)), np.ones(2),
                                                   {"stride": 1, "pad": 1})),
     "conv_backward: dout has shape (1, 1, 1, 1); the forward pass's output has shape (1, 2, 4, 4)"),
    (lambda: affine_backward(np.ones((3, 2)), (np.ones((3, 4)), np.ones((4, 5)), np.ones(5))),
     "affine_backward: dout has shape (3, 2); the forward pass's output has shape (3, 5)"),
    (lambda: softmax_loss(np.ones((0, 3)), np.zeros(0, dtype=int)),
     "softmax_loss: the batch is empty (N = 0); the mean loss is undefined"),
])
def test_a_dout_of_the_wrong_shape_or_an_empty_batch_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        call()
