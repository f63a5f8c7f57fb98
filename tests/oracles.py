"""Brute-force oracles: plain loops, one element or window at a time.

brute_max_pool_backward serves the reference's tests; the functions below it are oracles of the
whole locked interface, which the student corpus (tests/test_student_corpus.py) is judged by.
"""
import math

import numpy as np


def window_positions(i, j, ph, pw, stride):
    """The input positions of pooling window (i, j), in row-major order."""
    return [(i * stride + a, j * stride + e) for a in range(ph) for e in range(pw)]


def brute_max_pool_backward(dout, x, ph, pw, stride, ties):
    """Each tie rule as stated in INTERFACE.md, one window at a time, with plain loops."""
    dx = np.zeros(x.shape)
    N, C, H_out, W_out = dout.shape
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    positions = window_positions(i, j, ph, pw, stride)
                    top = max(x[n, c, r, s] for r, s in positions)
                    winners = [(r, s) for r, s in positions if x[n, c, r, s] == top]
                    g = dout[n, c, i, j]
                    if ties == "all":
                        for r, s in winners:
                            dx[n, c, r, s] += g
                    elif ties == "split":
                        for r, s in winners:
                            dx[n, c, r, s] += g / len(winners)
                    elif ties == "first":
                        r, s = winners[0]
                        dx[n, c, r, s] += g
                    else:
                        raise AssertionError(ties)
    return dx


# Plain-loop oracles of the whole locked interface ---------------------------------------------
#
# Written from the interface (shared/INTERFACE.md), one element at a time, without reference/:
# the student corpus (tests/test_student_corpus.py) judges every student function against these.
# Each takes the interface's arguments and returns the interface's structure.

def _flat_rows(x):
    """x (N, d_1, ..., d_k) as N rows of D = d_1 * ... * d_k values, in C order."""
    N = x.shape[0]
    D = 1
    for size in x.shape[1:]:
        D *= size
    return x.reshape(N, D)


def affine_forward(x, w, b):
    rows = _flat_rows(x)
    N, (D, M) = rows.shape[0], w.shape
    out = np.zeros((N, M))
    for n in range(N):
        for m in range(M):
            total = float(b[m])
            for d in range(D):
                total += rows[n, d] * w[d, m]
            out[n, m] = total
    return out, (x, w, b)


def affine_backward(dout, cache):
    x, w, b = cache
    rows = _flat_rows(x)
    N, (D, M) = rows.shape[0], w.shape
    drows, dw, db = np.zeros((N, D)), np.zeros((D, M)), np.zeros(M)
    for n in range(N):
        for m in range(M):
            g = dout[n, m]
            db[m] += g
            for d in range(D):
                dw[d, m] += rows[n, d] * g
                drows[n, d] += w[d, m] * g
    return drows.reshape(x.shape), dw, db


def relu_forward(x):
    out = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        out[index] = x[index] if x[index] > 0 else 0.0
    return out, x


def relu_backward(dout, cache):
    x = cache
    dx = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        dx[index] = dout[index] if x[index] > 0 else 0.0  # the gradient at 0 is 0
    return dx


def leaky_relu_forward(x, negative_slope=0.01):
    out = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        out[index] = x[index] if x[index] > 0 else negative_slope * x[index]
    return out, (x, negative_slope)


def leaky_relu_backward(dout, cache):
    x, negative_slope = cache
    dx = np.zeros(x.shape)
    for index in np.ndindex(x.shape):
        dx[index] = dout[index] if x[index] > 0 else negative_slope * dout[index]
    return dx


def softmax_loss(x, y):
    """Mean cross-entropy through a log-sum-exp shifted by each row's maximum, and its gradient."""
    N, C = x.shape
    loss, dx = 0.0, np.zeros((N, C))
    for n in range(N):
        top = max(x[n])
        log_norm = top + math.log(sum(math.exp(v - top) for v in x[n]))
        loss += log_norm - x[n, y[n]]
        for c in range(C):
            dx[n, c] = (math.exp(x[n, c] - log_norm) - (1.0 if c == y[n] else 0.0)) / N
    return loss / N, dx


def _conv_geometry(x, w, conv_param):
    s, p = conv_param["stride"], conv_param["pad"]
    (N, C, H, W), (F, _, HH, WW) = x.shape, w.shape
    return N, C, H, W, F, HH, WW, s, p, 1 + (H + 2 * p - HH) // s, 1 + (W + 2 * p - WW) // s


def conv_forward(x, w, b, conv_param):
    """Cross-correlation over the zero-padded input, window (i, j) at (i * s - p, j * s - p)."""
    N, C, H, W, F, HH, WW, s, p, H_out, W_out = _conv_geometry(x, w, conv_param)
    out = np.zeros((N, F, H_out, W_out))
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    total = float(b[f])
                    for c in range(C):
                        for a in range(HH):
                            for e in range(WW):
                                r, q = i * s + a - p, j * s + e - p
                                if 0 <= r < H and 0 <= q < W:  # (padding contributes 0)
                                    total += x[n, c, r, q] * w[f, c, a, e]
                    out[n, f, i, j] = total
    return out, (x, w, b, conv_param)


def conv_backward(dout, cache):
    x, w, b, conv_param = cache
    N, C, H, W, F, HH, WW, s, p, H_out, W_out = _conv_geometry(x, w, conv_param)
    dx, dw, db = np.zeros(x.shape), np.zeros(w.shape), np.zeros(b.shape)
    for n in range(N):
        for f in range(F):
            for i in range(H_out):
                for j in range(W_out):
                    g = dout[n, f, i, j]
                    db[f] += g
                    for c in range(C):
                        for a in range(HH):
                            for e in range(WW):
                                r, q = i * s + a - p, j * s + e - p
                                if 0 <= r < H and 0 <= q < W:
                                    dw[f, c, a, e] += x[n, c, r, q] * g
                                    dx[n, c, r, q] += w[f, c, a, e] * g
    return dx, dw, db


def _pool_geometry(x, pool_param):
    ph, pw, s = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    N, C, H, W = x.shape
    return N, C, ph, pw, s, 1 + (H - ph) // s, 1 + (W - pw) // s


def max_pool_forward(x, pool_param):
    N, C, ph, pw, s, H_out, W_out = _pool_geometry(x, pool_param)
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = max(x[n, c, r, q] for r, q in window_positions(i, j, ph, pw, s))
    return out, (x, pool_param)


def max_pool_backward(dout, cache, ties="all"):
    x, pool_param = cache
    return brute_max_pool_backward(dout, x, pool_param["pool_height"], pool_param["pool_width"],
                                   pool_param["stride"], ties)


def avg_pool_forward(x, pool_param):
    N, C, ph, pw, s, H_out, W_out = _pool_geometry(x, pool_param)
    out = np.zeros((N, C, H_out, W_out))
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    out[n, c, i, j] = sum(x[n, c, r, q] for r, q in window_positions(i, j, ph, pw, s)) / (ph * pw)
    return out, (x, pool_param)


def avg_pool_backward(dout, cache):
    x, pool_param = cache
    N, C, ph, pw, s, H_out, W_out = _pool_geometry(x, pool_param)
    dx = np.zeros(x.shape)
    for n in range(N):
        for c in range(C):
            for i in range(H_out):
                for j in range(W_out):
                    for r, q in window_positions(i, j, ph, pw, s):
                        dx[n, c, r, q] += dout[n, c, i, j] / (ph * pw)  # overlapping windows add up
    return dx


LAYERS = {name: globals()[name] for name in (
    "affine_forward", "affine_backward", "relu_forward", "relu_backward", "leaky_relu_forward",
    "leaky_relu_backward", "softmax_loss", "conv_forward", "conv_backward", "max_pool_forward",
    "max_pool_backward", "avg_pool_forward", "avg_pool_backward")}


def fc_net_loss(params, X, y=None, reg=0.0, layers=None):
    """FullyConnectedNet.loss as the interface states it: {affine - ReLU} x (L - 1), affine, softmax,
    plus 0.5 * reg * sum_l ||W_l||^2. `layers` may replace the layer functions it calls (by name).

    Returns the scores when y is None, else (loss, grads)."""
    op = dict(LAYERS, **(layers or {}))
    L = sum(1 for key in params if key.startswith("W"))
    hidden, caches = X, []
    for l in range(1, L):
        a, affine_cache = op["affine_forward"](hidden, params[f"W{l}"], params[f"b{l}"])
        hidden, relu_cache = op["relu_forward"](a)
        caches.append((affine_cache, relu_cache))
    scores, last_cache = op["affine_forward"](hidden, params[f"W{L}"], params[f"b{L}"])
    if y is None:
        return scores
    loss, dscores = op["softmax_loss"](scores, y)
    grads = {}
    dhidden, grads[f"W{L}"], grads[f"b{L}"] = op["affine_backward"](dscores, last_cache)
    for l in range(L - 1, 0, -1):
        affine_cache, relu_cache = caches[l - 1]
        da = op["relu_backward"](dhidden, relu_cache)
        dhidden, grads[f"W{l}"], grads[f"b{l}"] = op["affine_backward"](da, affine_cache)
    for l in range(1, L + 1):
        W = params[f"W{l}"]
        loss += 0.5 * reg * float(np.sum(W * W))
        grads[f"W{l}"] = grads[f"W{l}"] + reg * W
    return loss, grads


def fc_net_init_problems(params, input_dim, hidden_dims, num_classes, weight_scale, dtype, tolerance):
    """What breaks the interface's rules for a new FullyConnectedNet's params, as a list of words:
    keys W1..WL and b1..bL, W_l of shape (in, out) drawn from N(0, weight_scale^2) (standard deviation
    within `tolerance`, relative, and mean within 4 standard errors of 0), b_l zeros of shape (out,),
    all of `dtype`."""
    dims = [input_dim, *hidden_dims, num_classes]
    wanted = {f"{kind}{l}" for l in range(1, len(dims)) for kind in "Wb"}
    problems = []
    if not isinstance(params, dict) or set(params) != wanted:
        return [f"keys {sorted(params) if isinstance(params, dict) else params!r}, not {sorted(wanted)}"]
    for l in range(1, len(dims)):
        W, b = np.asarray(params[f"W{l}"]), np.asarray(params[f"b{l}"])
        if W.shape != (dims[l - 1], dims[l]) or b.shape != (dims[l],):
            problems.append(f"layer {l}: shapes {W.shape} and {b.shape}")
            continue
        if W.dtype != dtype or b.dtype != dtype:
            problems.append(f"layer {l}: dtypes {W.dtype} and {b.dtype}, not {np.dtype(dtype)}")
        if np.any(b != 0):
            problems.append(f"b{l} is not all zeros")
        values = W.astype(np.float64)
        if abs(values.std() - weight_scale) > tolerance * weight_scale:
            problems.append(f"W{l} has standard deviation {values.std():.3g}, not {weight_scale}")
        if abs(values.mean()) > 4 * weight_scale / math.sqrt(values.size):
            problems.append(f"W{l} has mean {values.mean():.3g}")
    return problems
