"""The catalog of common mistakes: each one a small, wrong variant of the reference.

The generator runs every variant on every case of its function and stores the
variant's outputs next to the case. When a submission's output is wrong, the
grader compares it with those stored outputs; a match names the mistake and shows
its hint. No instructor code ever runs at grading time.

A variant takes the same arguments as the function it imitates and returns the
same structure. Variants of FullyConnectedNet are subclasses.
"""
import numpy as np

from grader.authoring.spec import TIE_RULE_TEXT, Mistake

from ..reference import layers as ref
from ..reference.fc_net import FullyConnectedNet
from ..reference.layers import _conv_windows, _pool_windows, _scatter_windows


# affine -----------------------------------------------------------------------

def _affine_dw_transposed(dout, cache):
    dx, dw, db = ref.affine_backward(dout, cache)
    return dx, dw.T, db


def _affine_db_not_summed(dout, cache):
    dx, dw, _ = ref.affine_backward(dout, cache)
    return dx, dw, dout.copy()


def _affine_db_wrong_axis(dout, cache):
    dx, dw, _ = ref.affine_backward(dout, cache)
    return dx, dw, dout.sum(axis=1)


def _affine_dx_not_reshaped(dout, cache):
    dx, dw, db = ref.affine_backward(dout, cache)
    return dx.reshape(dx.shape[0], -1), dw, db


def _affine_forward_no_bias(x, w, b):
    return x.reshape(x.shape[0], -1) @ w, (x, w, b)


# ReLU and leaky ReLU ------------------------------------------------------------

def _relu_backward_passes_zero(dout, cache):
    return np.where(cache >= 0, dout, 0.0)


def _leaky_forward_fixed_slope(x, negative_slope=0.01):
    return ref.leaky_relu_forward(x, 0.01)


def _leaky_backward_fixed_slope(dout, cache):
    x, _ = cache
    return ref.leaky_relu_backward(dout, (x, 0.01))


def _leaky_backward_passes_zero(dout, cache):
    x, negative_slope = cache
    return np.where(x >= 0, dout, negative_slope * dout)


# softmax ----------------------------------------------------------------------

def _softmax_not_averaged(x, y):
    loss, dx = ref.softmax_loss(x, y)
    return loss * x.shape[0], dx * x.shape[0]


def _softmax_no_max_shift(x, y):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        exp = np.exp(x)
        probs = exp / exp.sum(axis=1, keepdims=True)
        N = x.shape[0]
        loss = float(-np.log(probs[np.arange(N), y]).mean())
        dx = probs.copy()
    dx[np.arange(N), y] -= 1
    return loss, dx / N


def _softmax_log_of_probabilities(x, y):
    """Takes the log of the probabilities, which underflow to 0 for scores far below the maximum."""
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    with np.errstate(divide="ignore"):
        probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        loss = float(-np.log(probs[np.arange(N), y]).mean())
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    return loss, dx / N


def _softmax_batch_max_shift(x, y):
    """Shifts every score by the batch's one maximum: rows far below it underflow to 0 / 0."""
    N = x.shape[0]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"):
        exp = np.exp(x - np.max(x))
        probs = exp / exp.sum(axis=1, keepdims=True)
        loss = float(-np.log(probs[np.arange(N), y]).mean())
    dx = probs.copy()
    dx[np.arange(N), y] -= 1
    return loss, dx / N


def _softmax_label_set_to_one(x, y):
    N = x.shape[0]
    shifted = x - x.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = float(-np.log(probs[np.arange(N), y]).mean())
    dx = probs.copy()
    dx[np.arange(N), y] = 1
    return loss, dx / N


# convolution ------------------------------------------------------------------

def _flip(w):
    return w[:, :, ::-1, ::-1]


def _conv_forward_flipped(x, w, b, conv_param):
    out, _ = ref.conv_forward(x, _flip(w), b, conv_param)
    return out, (x, w, b, conv_param)


def _conv_forward_no_bias(x, w, b, conv_param):
    out, _ = ref.conv_forward(x, w, np.zeros_like(b), conv_param)
    return out, (x, w, b, conv_param)


def _conv_backward_flipped(dout, cache):
    x, w, b, conv_param = cache
    dx, dw, db = ref.conv_backward(dout, (x, _flip(w), b, conv_param))
    return dx, _flip(dw), db


def _conv_backward_stride_ignored(dout, cache):
    """Windows taken one pixel apart, whatever the stride."""
    x, w, b, conv_param = cache
    pad = conv_param["pad"]
    N, F, H_out, W_out = dout.shape
    HH, WW = w.shape[2:]
    windows = _conv_windows(x, w.shape, 1, pad)[:, :, :H_out, :W_out]
    dw = np.einsum("nchwij,nfhw->fcij", windows, dout)
    dx_pad = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * pad, x.shape[3] + 2 * pad))
    for i in range(HH):
        for j in range(WW):
            dx_pad[:, :, i:i + H_out, j:j + W_out] += np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    return dx, dw, dout.sum(axis=(0, 2, 3))


def _conv_backward_padding_kept(dout, cache):
    """Returns dx_pad itself: the gradient of the padded input, border included."""
    x, w, b, conv_param = cache
    pad = conv_param["pad"]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    dx_pad, dw, db = ref.conv_backward(dout, (x_pad, w, b, {"stride": conv_param["stride"], "pad": 0}))
    return dx_pad, dw, db


def _conv_backward_first_sample(dout, cache):
    x, w, b, conv_param = cache
    dx, _, _ = ref.conv_backward(dout, cache)
    _, dw, db = ref.conv_backward(dout[:1], (x[:1], w, b, conv_param))
    return dx, dw, db


def _conv_backward_empty_slice(dout, cache):
    """Crops the padding with dx_pad[:, :, pad:-pad, pad:-pad], which is empty when pad is 0."""
    x, w, b, conv_param = cache
    dx_pad, dw, db = _conv_backward_padding_kept(dout, cache)
    pad = conv_param["pad"]
    return dx_pad[:, :, pad:-pad, pad:-pad], dw, db


def _conv_backward_crop_one(dout, cache):
    """Crops one pixel off every side of dx_pad, whatever the padding."""
    dx_pad, dw, db = _conv_backward_padding_kept(dout, cache)
    return dx_pad[:, :, 1:-1, 1:-1], dw, db


def _conv_forward_width_from_height(x, w, b, conv_param):
    """Computes the output's width from the input's height: W' = 1 + (H + 2 * pad - WW) // stride."""
    pad, stride = conv_param["pad"], conv_param["stride"]
    out, cache = ref.conv_forward(x, w, b, conv_param)
    width = 1 + (x.shape[2] + 2 * pad - w.shape[3]) // stride
    if width > out.shape[3]:  # the windows past the input's edge do not fit the kernel: the product fails
        raise ValueError("operands could not be broadcast together")
    return out[..., :width], cache


# pooling ----------------------------------------------------------------------

def _max_pool_backward_rule(rule):
    def variant(dout, cache):
        return ref.max_pool_backward(dout, cache, ties=rule)
    return variant


def _max_pool_backward_overlap_assigned(rule):
    """Window by window, assigns the whole window's gradient instead of adding it."""
    def variant(dout, cache):
        x, pool_param = cache
        ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
        dx = np.zeros_like(x)
        N, C, H_out, W_out = dout.shape
        for i in range(H_out):
            for j in range(W_out):
                rows = slice(i * stride, i * stride + ph)
                cols = slice(j * stride, j * stride + pw)
                window_dout = dout[:, :, i:i + 1, j:j + 1]
                single = (x[:, :, rows, cols], {"pool_height": ph, "pool_width": pw, "stride": 1})
                dx[:, :, rows, cols] = ref.max_pool_backward(window_dout, single, ties=rule)
        return dx
    return variant


def _max_pool_backward_stride_is_pool(rule):
    """Windows start every pool_height rows and pool_width columns, whatever the stride."""
    def variant(dout, cache):
        x, pool_param = cache
        ph, pw = pool_param["pool_height"], pool_param["pool_width"]
        dx = np.zeros_like(x)
        N, C, H_out, W_out = dout.shape
        for i in range(H_out):
            for j in range(W_out):
                window = x[:, :, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw]
                if window.shape[2] < ph or window.shape[3] < pw:
                    continue  # this window would run off the input
                single = (window, {"pool_height": ph, "pool_width": pw, "stride": 1})
                dx[:, :, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw] += ref.max_pool_backward(
                    dout[:, :, i:i + 1, j:j + 1], single, ties=rule)
        return dx
    return variant


def _max_pool_forward_stride_is_pool(x, pool_param):
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    H_out = 1 + (x.shape[2] - ph) // pool_param["stride"]
    W_out = 1 + (x.shape[3] - pw) // pool_param["stride"]
    out = np.zeros((x.shape[0], x.shape[1], H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw]
            if window.shape[2] and window.shape[3]:
                out[:, :, i, j] = window.max(axis=(2, 3))
    return out, (x, pool_param)


def _max_pool_forward_width_from_pool_height(x, pool_param):
    """Computes the output's width from pool_height: W' = 1 + (W - pool_height) // stride."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out, W_out = 1 + (x.shape[2] - ph) // stride, 1 + (x.shape[3] - ph) // stride
    out = np.zeros((x.shape[0], x.shape[1], H_out, W_out))
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            if window.shape[3] == 0:
                raise ValueError("zero-size array to reduction operation maximum which has no identity")
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out, (x, pool_param)


def _max_pool_forward_size_without_one(x, pool_param):
    """Output size (H - pool_height) // stride, without the 1 +: the last row and column of windows left out."""
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    full, cache = ref.max_pool_forward(x, pool_param)
    return full[:, :, :(x.shape[2] - ph) // stride, :(x.shape[3] - pw) // stride].copy(), cache


def _avg_pool_forward_not_divided(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    return _pool_windows(x, ph, pw, stride).sum(axis=(-2, -1)), (x, pool_param)


def _avg_pool_backward_not_divided(dout, cache):
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    per_input = np.broadcast_to(dout[..., None, None], (*dout.shape, ph, pw))
    return _scatter_windows(per_input, x.shape, stride)


def _avg_pool_backward_overlap_assigned(dout, cache):
    """Window by window, assigns each window's share instead of adding it to what earlier windows gave."""
    x, pool_param = cache
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    dx = np.zeros_like(x)
    for i in range(dout.shape[2]):
        for j in range(dout.shape[3]):
            share = dout[:, :, i, j][:, :, None, None] / (ph * pw)
            dx[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] = share
    return dx


def _avg_pool_backward_area_from_pool_height(dout, cache):
    """Divides by pool_height * pool_height, the area of a square window."""
    x, pool_param = cache
    ph, pw = pool_param["pool_height"], pool_param["pool_width"]
    return ref.avg_pool_backward(dout, cache) * (ph * pw) / (ph * ph)


# batch normalization and dropout -------------------------------------------------

def _batchnorm_forward_variant(ddof=0, momentum_swapped=False, eps_outside=False, update=True):
    """batchnorm_forward with one thing done differently: the variance's divisor (N - ddof), the
    momentum the wrong way round, eps outside the square root, or the running averages kept."""
    def variant(x, gamma, beta, bn_param):
        eps = bn_param.get("eps", 1e-5)
        momentum = bn_param.get("momentum", 0.9)
        running_mean, running_var = bn_param["running_mean"], bn_param["running_var"]
        if bn_param["mode"] == "test":
            if not eps_outside:
                return ref.batchnorm_forward(x, gamma, beta, bn_param)
            return gamma * (x - running_mean) / (np.sqrt(running_var) + eps) + beta, None
        mean, var = x.mean(axis=0), x.var(axis=0, ddof=ddof)
        std = np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps)
        x_hat = (x - mean) / std
        if update:
            weight = 1 - momentum if momentum_swapped else momentum
            bn_param["running_mean"] = weight * running_mean + (1 - weight) * mean
            bn_param["running_var"] = weight * running_var + (1 - weight) * var
        return gamma * x_hat + beta, (x_hat, gamma, std)
    return variant


def _batchnorm_backward_dgamma_without_xhat(dout, cache):
    dx, _, dbeta = ref.batchnorm_backward(dout, cache)
    return dx, dout.sum(axis=0), dbeta


def _batchnorm_backward_through_scale_only(dout, cache):
    """dx as if the mean and variance were constants: dout * gamma / std."""
    x_hat, gamma, std = cache
    _, dgamma, dbeta = ref.batchnorm_backward(dout, cache)
    return dout * gamma / std, dgamma, dbeta


def _dropout_not_scaled(x, dropout_param):
    out, (param, mask) = ref.dropout_forward(x, dropout_param)
    if dropout_param["mode"] == "train":
        out = out * dropout_param["p"]
    return out, (param, mask)


def _dropout_drops_with_p(x, dropout_param):
    """Keeps each input with probability 1 - p: p taken as the probability of dropping."""
    if dropout_param["mode"] != "train":
        return ref.dropout_forward(x, dropout_param)
    p = dropout_param["p"]
    np.random.seed(dropout_param["seed"])
    mask = (np.random.rand(*x.shape) >= p) / (1 - p)
    return x * mask, (dropout_param, mask)


def _dropout_in_test_mode(x, dropout_param):
    return ref.dropout_forward(x, dict(dropout_param, mode="train"))


def _dropout_backward_mask_ignored(dout, cache):
    return dout.copy()


# FullyConnectedNet ------------------------------------------------------------

class _WeightScaleIgnored(FullyConnectedNet):
    def __init__(self, input_dim, hidden_dims, num_classes=10, weight_scale=1e-2, reg=0.0,
                 dtype=np.float64):
        super().__init__(input_dim, hidden_dims, num_classes, 1.0, reg, dtype)


class _RegMistake(FullyConnectedNet):
    """Recomputes the regularization of the reference's answer in a wrong way."""
    loss_factor = 0.5
    grad_factor = 1.0      # times reg * W
    grad_unscaled = False  # adds W instead of reg * W

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is None:
            return result
        loss, grads = result
        for layer in range(1, self.num_layers + 1):
            W = self.params[f"W{layer}"]
            loss += (self.loss_factor - 0.5) * self.reg * np.sum(W * W)
            extra = W if self.grad_unscaled else self.grad_factor * self.reg * W
            grads[f"W{layer}"] = grads[f"W{layer}"] - self.reg * W + extra
        return loss, grads


class _RegWithoutHalf(_RegMistake):
    loss_factor = 1.0
    grad_factor = 2.0


class _RegGradUnscaled(_RegMistake):
    grad_unscaled = True


class _RegMissingFromLoss(_RegMistake):
    loss_factor = 0.0


class _RegSumOfWeights(FullyConnectedNet):
    """Regularizes with reg * sum(W) instead of 0.5 * reg * sum(W * W)."""

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is None:
            return result
        loss, grads = result
        for layer in range(1, self.num_layers + 1):
            W = self.params[f"W{layer}"]
            loss += self.reg * np.sum(W) - 0.5 * self.reg * np.sum(W * W)
        return loss, grads


class _RegLastLayerLeftOut(FullyConnectedNet):
    """Regularizes every weight matrix but the last one."""

    def loss(self, X, y=None):
        result = super().loss(X, y)
        if y is None:
            return result
        loss, grads = result
        W = self.params[f"W{self.num_layers}"]
        loss -= 0.5 * self.reg * np.sum(W * W)
        grads[f"W{self.num_layers}"] = grads[f"W{self.num_layers}"] - self.reg * W
        return loss, grads


class _ReluOnScores(FullyConnectedNet):
    def loss(self, X, y=None):
        original = FullyConnectedNet.loss
        scores = original(self, X)
        last = self.num_layers
        relu_scores = np.maximum(scores, 0)
        if y is None:
            return relu_scores
        loss, dscores = ref.softmax_loss(relu_scores, y)
        dscores = np.where(scores > 0, dscores, 0.0)
        # Rerun the backward pass from the rectified scores' gradient.
        hidden, caches = X.astype(self.dtype), []
        for layer in range(1, last):
            hidden, a = ref.affine_forward(hidden, self.params[f"W{layer}"], self.params[f"b{layer}"])
            hidden, r = ref.relu_forward(hidden)
            caches.append((a, r))
        _, last_cache = ref.affine_forward(hidden, self.params[f"W{last}"], self.params[f"b{last}"])
        grads = {}
        dh, grads[f"W{last}"], grads[f"b{last}"] = ref.affine_backward(dscores, last_cache)
        for layer in range(last - 1, 0, -1):
            a, r = caches[layer - 1]
            dh, grads[f"W{layer}"], grads[f"b{layer}"] = ref.affine_backward(ref.relu_backward(dh, r), a)
        for layer in range(1, last + 1):
            W = self.params[f"W{layer}"]
            loss += 0.5 * self.reg * np.sum(W * W)
            grads[f"W{layer}"] = grads[f"W{layer}"] + self.reg * W
        return loss, grads


MISTAKES = (
    Mistake("affine_forward", "bias-dropped", "bias dropped",
            "Your affine_forward leaves out the bias: out must be x.reshape(N, D) @ w + b.",
            _affine_forward_no_bias),
    Mistake("affine_backward", "dw-transposed", "dw transposed",
            "Your dw is transposed: it has shape (M, D), but dw must have w's shape (D, M). "
            "Compute it as x_rows.T @ dout, where x_rows = x.reshape(N, D).",
            _affine_dw_transposed, confusion=True),
    Mistake("affine_backward", "db-not-summed", "db not summed over the batch",
            "Your db keeps one row per example. Each example adds its gradient to the same bias, "
            "so db = dout.sum(axis=0), of shape (M,).",
            _affine_db_not_summed),
    Mistake("affine_backward", "db-wrong-axis", "db summed over the wrong axis",
            "Your db sums dout over axis 1, the outputs, and so has one entry per example. The bias is "
            "shared by the examples of the batch: db = dout.sum(axis=0), of shape (M,).",
            _affine_db_wrong_axis),
    Mistake("affine_backward", "dx-not-reshaped", "dx not reshaped back",
            "Your dx has shape (N, D), but it must have the shape of x, (N, d_1, ..., d_k). "
            "Reshape it with dx.reshape(x.shape).",
            _affine_dx_not_reshaped),
    Mistake("relu_backward", "gradient-at-zero", "gradient passed at x == 0",
            "Your relu_backward lets the gradient through where x == 0. The interface takes the "
            "derivative of max(x, 0) at 0 to be 0: use x > 0, not x >= 0.",
            _relu_backward_passes_zero),
    Mistake("leaky_relu_forward", "slope-hard-coded", "slope hard-coded",
            "Your leaky_relu_forward uses the slope 0.01 whatever negative_slope is. "
            "Use the negative_slope argument.",
            _leaky_forward_fixed_slope),
    Mistake("leaky_relu_backward", "slope-hard-coded", "slope hard-coded",
            "Your leaky_relu_backward uses the slope 0.01 whatever the cache says. "
            "Unpack negative_slope from the cache, (x, negative_slope), and use it.",
            _leaky_backward_fixed_slope),
    Mistake("leaky_relu_backward", "gradient-at-zero", "slope not applied at x == 0",
            "Your leaky_relu_backward passes dout unchanged where x == 0. The forward pass puts x == 0 "
            "on the negative side (x > 0 keeps x, the rest is multiplied by negative_slope), so there the "
            "gradient is negative_slope * dout: use x > 0, not x >= 0.",
            _leaky_backward_passes_zero),
    Mistake("softmax_loss", "not-averaged", "not averaged over N",
            "Your loss and dx are sums over the N examples. The loss is the mean cross-entropy, "
            "so divide both the loss and dx by N.",
            _softmax_not_averaged),
    Mistake("softmax_loss", "no-max-shift", "no max-shift (overflows)",
            "Your softmax overflows on large scores: np.exp(1000) is inf, and inf / inf is nan. "
            "Subtract each row's maximum from the scores before exponentiating; the "
            "probabilities do not change.",
            _softmax_no_max_shift),
    Mistake("softmax_loss", "batch-max-shift", "max-shift by the batch's maximum",
            "You shift the scores by the largest score of the whole batch, np.max(x). A row whose scores "
            "are all far below it underflows to 0 / 0, which is nan. Shift each row by its own maximum: "
            "x - np.max(x, axis=1, keepdims=True).",
            _softmax_batch_max_shift),
    Mistake("softmax_loss", "label-set-to-one", "= 1 instead of -= 1 at the label",
            "At each example's label your dx is set to 1 instead of having 1 subtracted. "
            "The gradient is probs - onehot(y): use dx[np.arange(N), y] -= 1.",
            _softmax_label_set_to_one),
    Mistake("softmax_loss", "log-of-probabilities", "log of the probabilities (underflows)",
            "Your loss is inf for scores near 1000: the probabilities underflowed to 0 before the log. "
            "Take the log-sum-exp form instead: log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, "
            "keepdims=True)), and the loss is the mean of -log_probs at the labels.",
            _softmax_log_of_probabilities),
    Mistake("conv_forward", "kernel-flipped", "kernel flipped (true convolution)",
            "Your conv_forward flips the kernel, as a textbook convolution does. This layer computes "
            "a cross-correlation: multiply each window by w[f] as it is, without flipping it.",
            _conv_forward_flipped),
    Mistake("conv_forward", "width-from-height", "the output's width computed from the height",
            "Your conv_forward's output has the wrong width: W' must come from the input's width, "
            "W' = 1 + (W + 2 * pad - WW) // stride, and H' from its height.",
            _conv_forward_width_from_height, confusion=True),
    Mistake("conv_forward", "bias-dropped", "bias dropped",
            "Your conv_forward leaves out the bias: add b[f] to every output of filter f.",
            _conv_forward_no_bias),
    Mistake("conv_backward", "kernel-flipped", "kernel flipped (true convolution)",
            "Your conv_backward treats the layer as a true convolution with a flipped kernel. The "
            "forward pass is a cross-correlation, so dx adds dout * w[f] unflipped into each window, "
            "and dw adds dout * window unflipped.",
            _conv_backward_flipped),
    Mistake("conv_backward", "stride-ignored", "stride ignored",
            "Your conv_backward places window (i, j) at row i and column j of the padded input, as if "
            "the stride were 1. Window (i, j) starts at row i * stride and column j * stride.",
            _conv_backward_stride_ignored, confusion=True),
    Mistake("conv_backward", "padding-kept", "dx returned with the padding",
            "Your dx still has the padding on: it has shape (N, C, H + 2 * pad, W + 2 * pad). "
            "Return dx_pad[:, :, pad:-pad, pad:-pad] (or all of it when pad is 0).",
            _conv_backward_padding_kept),
    Mistake("conv_backward", "empty-slice-at-pad-0", "dx sliced [pad:-pad], empty when pad is 0",
            "Your dx has height 0 when pad == 0: slicing [pad:-pad] with pad == 0 gives an empty array, "
            "since -0 is 0. Slice dx_pad[:, :, pad:pad + H, pad:pad + W] instead.",
            _conv_backward_empty_slice, confusion=True),
    Mistake("conv_backward", "hard-coded-crop", "padding cropped as [1:-1] whatever pad is",
            "Your dx crops one pixel off every side, which is right only when pad == 1. Crop pad pixels: "
            "dx_pad[:, :, pad:pad + H, pad:pad + W].",
            _conv_backward_crop_one, confusion=True),
    Mistake("conv_backward", "first-sample-only", "dw and db from the first sample only",
            "Your dw and db use only the first example of the batch. Every example in the batch "
            "adds to the gradient of the shared weights and biases: sum over n.",
            _conv_backward_first_sample),
    Mistake("max_pool_forward", "stride-as-pool-size", "stride taken as the pool size",
            "Your max_pool_forward starts windows every pool_height rows and pool_width columns. "
            "Windows start every stride pixels: window (i, j) starts at row i * stride.",
            _max_pool_forward_stride_is_pool, confusion=True),
    Mistake("max_pool_forward", "width-from-pool-height", "the output's width computed from pool_height",
            "Your max_pool_forward's output has the wrong width: W' comes from pool_width, "
            "W' = 1 + (W - pool_width) // stride, and H' from pool_height.",
            _max_pool_forward_width_from_pool_height, confusion=True),
    Mistake("max_pool_forward", "size-without-one", "output size missing the 1 +",
            "Your output is one row and one column of windows short: the number of windows is "
            "H' = 1 + (H - pool_height) // stride, counting the first window, and likewise for W'.",
            _max_pool_forward_size_without_one),
    Mistake("avg_pool_forward", "not-divided", "not divided by the window area",
            "Your avg_pool_forward returns each window's sum. Divide it by pool_height * pool_width.",
            _avg_pool_forward_not_divided),
    Mistake("avg_pool_backward", "not-divided", "not divided by the window area",
            "Your avg_pool_backward gives each input the window's whole gradient. Each of the "
            "pool_height * pool_width inputs receives dout / (pool_height * pool_width).",
            _avg_pool_backward_not_divided),
    Mistake("avg_pool_backward", "overlap-assigned", "overlapping windows assigned, not added",
            "Where pooling windows overlap, your avg_pool_backward overwrites the share an earlier window "
            "gave an input. Add each window's share with +=: an input in several windows receives the sum "
            "of their shares.",
            _avg_pool_backward_overlap_assigned, confusion=True),
    Mistake("avg_pool_backward", "area-from-pool-height", "divided by pool_height squared",
            "Your avg_pool_backward divides by pool_height * pool_height, which is the window's area only "
            "when it is square. Divide by pool_height * pool_width.",
            _avg_pool_backward_area_from_pool_height, confusion=True),
    Mistake("batchnorm_forward", "unbiased-variance", "variance divided by N - 1",
            "Your batchnorm_forward normalizes with the unbiased variance (divided by N - 1). Batch "
            "normalization uses the batch's own variance, divided by N: np.var(x, axis=0).",
            _batchnorm_forward_variant(ddof=1)),
    Mistake("batchnorm_forward", "running-not-updated", "running averages not updated",
            "Your batchnorm_forward leaves running_mean and running_var as they were in training mode. "
            "Update them with the momentum and store them back in bn_param.",
            _batchnorm_forward_variant(update=False)),
    Mistake("batchnorm_forward", "momentum-swapped", "momentum applied to the new statistics",
            "Your running averages weigh the batch's statistics by momentum and the old averages by "
            "1 - momentum. It is the other way round: momentum * running + (1 - momentum) * batch.",
            _batchnorm_forward_variant(momentum_swapped=True)),
    Mistake("batchnorm_forward", "eps-outside-sqrt", "eps added outside the square root",
            "Your batchnorm_forward divides by sqrt(var) + eps. eps belongs inside the square root: "
            "divide by np.sqrt(var + eps).",
            _batchnorm_forward_variant(eps_outside=True)),
    Mistake("batchnorm_backward", "dgamma-without-xhat", "dgamma without the normalized input",
            "Your dgamma sums dout alone. out = gamma * x_hat + beta, so dgamma sums dout * x_hat over "
            "the batch.",
            _batchnorm_backward_dgamma_without_xhat),
    Mistake("batchnorm_backward", "mean-and-variance-as-constants", "mean and variance treated as constants",
            "Your dx is dout * gamma / std, as if the batch's mean and variance did not depend on x. "
            "They do: subtract the mean of dx_hat and the mean of dx_hat * x_hat times x_hat before dividing "
            "by std.",
            _batchnorm_backward_through_scale_only),
    Mistake("dropout_forward", "not-scaled", "kept inputs not divided by p",
            "Your dropout_forward keeps inputs without dividing them by p. Inverted dropout scales the kept "
            "inputs by 1 / p during training, so that test mode needs no scaling.",
            _dropout_not_scaled),
    Mistake("dropout_forward", "p-as-drop-probability", "p taken as the probability of dropping",
            "Your dropout_forward drops each input with probability p. Here p is the probability of "
            "keeping it: mask = (np.random.rand(*x.shape) < p) / p.",
            _dropout_drops_with_p),
    Mistake("dropout_forward", "drops-in-test-mode", "dropout applied in test mode",
            "Your dropout_forward drops inputs in test mode too. In test mode the input passes unchanged.",
            _dropout_in_test_mode),
    Mistake("dropout_backward", "mask-ignored", "mask ignored in training mode",
            "Your dropout_backward passes dout through unchanged in training mode. The gradient flows "
            "only through the kept inputs, scaled as they were: dx = dout * mask.",
            _dropout_backward_mask_ignored),
    Mistake("FullyConnectedNet.__init__", "weight-scale-ignored", "weight_scale ignored",
            "Your weights have a standard deviation near 1: weight_scale is ignored. Draw them as "
            "weight_scale * np.random.randn(fan_in, fan_out).",
            _WeightScaleIgnored),
    Mistake("FullyConnectedNet.loss", "reg-grad-unscaled", "W added instead of reg * W",
            "Your weight gradients add W itself. The gradient of 0.5 * reg * ||W||^2 is reg * W.",
            _RegGradUnscaled),
    Mistake("FullyConnectedNet.loss", "reg-without-half", "regularization without the 0.5",
            "Your regularization is twice too strong: the loss adds reg * ||W||^2 and the gradient "
            "2 * reg * W. This network uses 0.5 * reg * ||W||^2, whose gradient is reg * W.",
            _RegWithoutHalf),
    Mistake("FullyConnectedNet.loss", "reg-missing-from-loss", "regularization missing from the loss",
            "Your loss leaves out the regularization term. Add 0.5 * reg * sum(W * W) for every "
            "weight matrix W1, ..., WL.",
            _RegMissingFromLoss),
    Mistake("FullyConnectedNet.loss", "reg-sum-of-weights", "sum of W instead of W squared",
            "Your loss adds reg * sum(W), the sum of the weights themselves. L2 regularization adds "
            "0.5 * reg * np.sum(W * W) for every weight matrix.",
            _RegSumOfWeights),
    Mistake("FullyConnectedNet.loss", "last-layer-not-regularized", "the last layer left out of the regularization",
            "Your loss differs from the expected one by 0.5 * reg * ||WL||^2 and your gradient of the last "
            "weights lacks reg * WL: the last layer's weights are not regularized. Loop over every layer, "
            "1 to L inclusive.",
            _RegLastLayerLeftOut),
    Mistake("FullyConnectedNet.loss", "relu-on-scores", "ReLU applied to the scores",
            "Your network applies a ReLU after the last affine layer. The scores are the last affine "
            "layer's raw output: {affine - ReLU} x (L - 1), then affine, then softmax.",
            _ReluOnScores),
)

_RULE_NAMES = {rule: f"'{rule}': {text}" for rule, text in TIE_RULE_TEXT.items()}
_RULE_BEHAVIOUR = {
    "all": "gives the full gradient to every one of several tied maxima (Theano's rule)",
    "split": "splits the gradient equally between tied maxima (the rule of TensorFlow's reduce_max)",
    "first": "gives the gradient only to the first of several tied maxima (PyTorch's rule)",
}


def catalog(tie_rule):
    """The mistakes for an assignment whose max-pool tie rule is `tie_rule`."""
    tie_mistakes = []
    for rule in ("all", "split", "first"):
        if rule == tie_rule:
            continue
        tie_mistakes.append(Mistake(
            "max_pool_backward", f"ties-{rule}", f"tie rule '{rule}' instead of '{tie_rule}'",
            f"Your max_pool_backward {_RULE_BEHAVIOUR[rule]}. This assignment's rule is "
            f"{_RULE_NAMES[tie_rule]}.",
            _max_pool_backward_rule(rule), tie_rule=rule, confusion=True))
    tie_mistakes += [
        Mistake("max_pool_backward", "overlap-assigned", "overlapping windows assigned, not added",
                "Where pooling windows overlap, your max_pool_backward overwrites the gradient an "
                "earlier window gave an input. Add each window's gradient with +=: an input that is "
                "the maximum of several windows receives the sum of their gradients.",
                _max_pool_backward_overlap_assigned(tie_rule), confusion=True),
        Mistake("max_pool_backward", "stride-as-pool-size", "stride taken as the pool size",
                "Your max_pool_backward starts windows every pool_height rows and pool_width columns. "
                "Windows start every stride pixels: window (i, j) starts at row i * stride.",
                _max_pool_backward_stride_is_pool(tie_rule), confusion=True),
    ]
    return MISTAKES + tuple(tie_mistakes)
