"""Forward and backward passes of the layers of a small neural network.

Every function follows the same contract: a forward pass returns ``(out, cache)``
and the matching backward pass takes ``(dout, cache)`` and returns the gradient
with respect to each input, each with the shape of that input. All arrays are
float64 unless stated. No function modifies its inputs.
"""
import numpy as np

# BEGIN SOLUTION
TIE_RULES = ("all", "split", "first")
TIE_RULE = "all"  # config: assignment.tie_rule
# END SOLUTION


def affine_forward(x, w, b):
    """Compute the forward pass of an affine (fully-connected) layer.

    The input x has shape (N, d_1, ..., d_k): a minibatch of N examples, each of
    which is reshaped into a row of D = d_1 * ... * d_k values before the product.

    Inputs:
    - x: A numpy array of shape (N, d_1, ..., d_k)
    - w: A numpy array of weights, of shape (D, M)
    - b: A numpy array of biases, of shape (M,)

    Returns a tuple of:
    - out: output, of shape (N, M), equal to x.reshape(N, D) @ w + b
    - cache: (x, w, b)
    """
    out = None
    # BEGIN SOLUTION hint: reshape x into rows of D values, then multiply by w and add b.
    _check_affine(x, w, b)
    out = x.reshape(x.shape[0], -1) @ w + b
    # END SOLUTION
    cache = (x, w, b)
    return out, cache


def affine_backward(dout, cache):
    """Compute the backward pass of an affine (fully-connected) layer.

    Inputs:
    - dout: Upstream derivative, of shape (N, M)
    - cache: Tuple of:
      - x: Input data, of shape (N, d_1, ..., d_k)
      - w: Weights, of shape (D, M)
      - b: Biases, of shape (M,)

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, d_1, ..., d_k)
    - dw: Gradient with respect to w, of shape (D, M)
    - db: Gradient with respect to b, of shape (M,)
    """
    x, w, b = cache
    dx, dw, db = None, None, None
    # BEGIN SOLUTION hint: use the reshaped x for dw, sum dout over the batch for db, and reshape dx back to x's shape.
    _check_dout(dout, (x.shape[0], w.shape[1]), "affine_backward")
    x_rows = x.reshape(x.shape[0], -1)  # (N, D)
    dx = (dout @ w.T).reshape(x.shape)
    dw = x_rows.T @ dout
    db = dout.sum(axis=0)
    # END SOLUTION
    return dx, dw, db


def relu_forward(x):
    """Compute the forward pass of a layer of rectified linear units (ReLUs).

    Inputs:
    - x: Inputs, of any shape

    Returns a tuple of:
    - out: Output, of the same shape as x, equal to max(x, 0)
    - cache: x
    """
    out = None
    # BEGIN SOLUTION hint: keep the positive entries of x and set the rest to zero.
    out = np.where(x > 0, x, 0.0)
    # END SOLUTION
    cache = x
    return out, cache


def relu_backward(dout, cache):
    """Compute the backward pass of a layer of rectified linear units (ReLUs).

    The derivative of max(x, 0) is taken to be 0 at x == 0.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: Input x, of the same shape as dout

    Returns:
    - dx: Gradient with respect to x, of the same shape as x
    """
    x = cache
    dx = None
    # BEGIN SOLUTION hint: pass dout through where x > 0 and block it elsewhere, including at x == 0.
    dx = np.where(x > 0, dout, 0.0)
    # END SOLUTION
    return dx


def leaky_relu_forward(x, negative_slope=0.01):
    """Compute the forward pass of a layer of leaky ReLUs.

    Inputs:
    - x: Inputs, of any shape
    - negative_slope: The slope used where x <= 0 (a float)

    Returns a tuple of:
    - out: Output, of the same shape as x: x where x > 0, else negative_slope * x
    - cache: (x, negative_slope)
    """
    out = None
    # BEGIN SOLUTION hint: use negative_slope, not a fixed number, for the entries where x <= 0.
    out = np.where(x > 0, x, negative_slope * x)
    # END SOLUTION
    cache = (x, negative_slope)
    return out, cache


def leaky_relu_backward(dout, cache):
    """Compute the backward pass of a layer of leaky ReLUs.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: Tuple of:
      - x: Input, of the same shape as dout
      - negative_slope: The slope used where x <= 0

    Returns:
    - dx: Gradient with respect to x: dout where x > 0, else negative_slope * dout
    """
    x, negative_slope = cache
    dx = None
    # BEGIN SOLUTION hint: the local derivative is 1 where x > 0 and negative_slope where x <= 0.
    dx = np.where(x > 0, dout, negative_slope * dout)
    # END SOLUTION
    return dx


def softmax_loss(x, y):
    """Compute the loss and gradient of softmax classification.

    The loss is the mean over the N examples of the cross-entropy
    -log(softmax(x[i])[y[i]]). It must stay finite for scores of any size, so
    subtract each row's maximum before exponentiating.

    Inputs:
    - x: Input data, of shape (N, C), where x[i, j] is the score of class j for
      the i-th input
    - y: Vector of integer labels, of shape (N,), where 0 <= y[i] < C

    Returns a tuple of:
    - loss: Scalar giving the loss (a float)
    - dx: Gradient of the loss with respect to x, of shape (N, C)
    """
    loss, dx = None, None
    # BEGIN SOLUTION hint: shift each row by its maximum, average the loss and the gradient over N, and subtract 1 at each label.
    N = _check_labels(x, y)
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = float(-log_probs[np.arange(N), y].mean())
    dx = np.exp(log_probs)
    dx[np.arange(N), y] -= 1
    dx /= N
    # END SOLUTION
    return loss, dx


def conv_forward(x, w, b, conv_param):
    """Compute the forward pass of a convolutional layer.

    The input consists of N data points, each with C channels, height H and
    width W. Each of the F filters spans all C channels and has height HH and
    width WW. The layer computes a cross-correlation: the kernel is not flipped.

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - w: Filter weights, of shape (F, C, HH, WW)
    - b: Biases, of shape (F,)
    - conv_param: A dictionary with the keys:
      - 'stride': The number of pixels between adjacent receptive fields in the
        horizontal and vertical directions (an int >= 1).
      - 'pad': The number of pixels of zeros added on each side of the input,
        along the height and width axes (an int >= 0).

    Returns a tuple of:
    - out: Output data, of shape (N, F, H', W'), where
        H' = 1 + (H + 2 * pad - HH) // stride
        W' = 1 + (W + 2 * pad - WW) // stride
      Rows and columns of the padded input that no window reaches are ignored.
    - cache: (x, w, b, conv_param)
    """
    out = None
    # BEGIN SOLUTION hint: pad x, then for every output position take the sum of the window times each filter, plus its bias.
    stride, pad = _check_conv(x, w, b, conv_param)
    windows = _conv_windows(x, w.shape, stride, pad)  # (N, C, H', W', HH, WW)
    out = np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]
    # END SOLUTION
    cache = (x, w, b, conv_param)
    return out, cache


def conv_backward(dout, cache):
    """Compute the backward pass of a convolutional layer.

    Inputs:
    - dout: Upstream derivatives, of shape (N, F, H', W')
    - cache: Tuple of (x, w, b, conv_param) as in conv_forward

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, C, H, W); the padding is
      removed, and rows and columns that no window reached get zero gradient
    - dw: Gradient with respect to w, of shape (F, C, HH, WW)
    - db: Gradient with respect to b, of shape (F,)
    """
    x, w, b, conv_param = cache
    dx, dw, db = None, None, None
    # BEGIN SOLUTION hint: every window that produced out[n, f, i, j] sends dout[n, f, i, j] * w[f] back to x and dout * window to w; mind the stride and remove the padding at the end.
    stride, pad = _check_conv(x, w, b, conv_param)
    HH, WW = w.shape[2:]
    windows = _conv_windows(x, w.shape, stride, pad)  # (N, C, H', W', HH, WW)
    _check_dout(dout, (x.shape[0], w.shape[0], *windows.shape[2:4]), "conv_backward")
    N, F, H_out, W_out = dout.shape
    dw = np.einsum("nchwij,nfhw->fcij", windows, dout)
    db = dout.sum(axis=(0, 2, 3))
    dx_pad = np.zeros((x.shape[0], x.shape[1], x.shape[2] + 2 * pad, x.shape[3] + 2 * pad))
    # One pass per kernel offset (i, j): that offset of every window, at once.
    for i in range(HH):
        for j in range(WW):
            rows = slice(i, i + stride * H_out, stride)
            cols = slice(j, j + stride * W_out, stride)
            dx_pad[:, :, rows, cols] += np.einsum("nfhw,fc->nchw", dout, w[:, :, i, j])
    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    # END SOLUTION
    return dx, dw, db


def max_pool_forward(x, pool_param):
    """Compute the forward pass of a max-pooling layer.

    Pooling has no padding. Windows may overlap (stride < pool size).

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - pool_param: A dictionary with the keys:
      - 'pool_height': The height of each pooling window
      - 'pool_width': The width of each pooling window
      - 'stride': The distance between adjacent pooling windows

    Returns a tuple of:
    - out: Output data, of shape (N, C, H', W'), where
        H' = 1 + (H - pool_height) // stride
        W' = 1 + (W - pool_width) // stride
    - cache: (x, pool_param)
    """
    out = None
    # BEGIN SOLUTION hint: each output is the maximum of its pool_height x pool_width window; windows start every stride pixels.
    ph, pw, stride = _check_pool(x, pool_param)
    out = _pool_windows(x, ph, pw, stride).max(axis=(-2, -1))
    # END SOLUTION
    cache = (x, pool_param)
    return out, cache


def max_pool_backward(dout, cache, ties=TIE_RULE):  # template: def max_pool_backward(dout, cache):
    """Compute the backward pass of a max-pooling layer.

    Each window sends its upstream gradient dout[n, c, i, j] to the input that
    holds its maximum. Where windows overlap, an input that is the maximum of
    several windows receives the sum of their gradients. Inputs that are the
    maximum of no window get zero gradient.

    Ties. When several inputs of one window share its maximum value, the tie
    rule decides who receives that window's upstream gradient.
    [ties=all]   This assignment's rule is "all": every tied maximum receives the
    [ties=all]   full upstream gradient of that window.
    [ties=split] This assignment's rule is "split": the k tied maxima share the
    [ties=split] upstream gradient of that window equally, each receiving dout / k.
    [ties=first] This assignment's rule is "first": only the first tied maximum,
    [ties=first] in row-major order within the window, receives it.

    Worked example: one 2x2 window [[3, 1], [3, 0]] with upstream gradient 6.
    [ties=all]   dx = [[6, 0], [6, 0]]
    [ties=split] dx = [[3, 0], [3, 0]]
    [ties=first] dx = [[6, 0], [0, 0]]

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H', W')
    - cache: A tuple of (x, pool_param) as in max_pool_forward
    [reference] - ties: The tie rule: "all", "split" or "first"; by default the rule
    [reference]   of assignment.toml. The lines tagged [ties=...] above describe each;
    [reference]   the student template keeps only those of the configured rule.

    Returns:
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    """
    x, pool_param = cache
    dx = None
    # BEGIN SOLUTION hint: find the maximum of every window and route dout there, applying the tie rule above; add up the gradients of overlapping windows.
    if ties not in TIE_RULES:
        raise ValueError(f"ties must be one of {', '.join(map(repr, TIE_RULES))}; got {ties!r}")
    ph, pw, stride = _check_pool(x, pool_param)
    windows = _pool_windows(x, ph, pw, stride)  # (N, C, H', W', ph, pw)
    _check_dout(dout, windows.shape[:4], "max_pool_backward")
    is_max = windows == windows.max(axis=(-2, -1), keepdims=True)
    if ties == "split":
        share = is_max / is_max.sum(axis=(-2, -1), keepdims=True)
    elif ties == "first":
        flat = is_max.reshape(*is_max.shape[:4], ph * pw)
        share = np.zeros(flat.shape)
        np.put_along_axis(share, flat.argmax(axis=-1)[..., None], 1.0, axis=-1)
        share = share.reshape(is_max.shape)
    else:
        share = is_max.astype(float)
    dx = _scatter_windows(share * dout[..., None, None], x.shape, stride)
    # END SOLUTION
    return dx


def avg_pool_forward(x, pool_param):
    """Compute the forward pass of an average-pooling layer.

    Pooling has no padding. Windows may overlap (stride < pool size).

    Inputs:
    - x: Input data, of shape (N, C, H, W)
    - pool_param: A dictionary with the keys 'pool_height', 'pool_width' and
      'stride', as in max_pool_forward

    Returns a tuple of:
    - out: Output data, of shape (N, C, H', W'), each the mean of its window, where
        H' = 1 + (H - pool_height) // stride
        W' = 1 + (W - pool_width) // stride
    - cache: (x, pool_param)
    """
    out = None
    # BEGIN SOLUTION hint: each output is the mean of its pool_height x pool_width window.
    ph, pw, stride = _check_pool(x, pool_param)
    out = _pool_windows(x, ph, pw, stride).mean(axis=(-2, -1))
    # END SOLUTION
    cache = (x, pool_param)
    return out, cache


def avg_pool_backward(dout, cache):
    """Compute the backward pass of an average-pooling layer.

    Each window spreads its upstream gradient evenly over its
    pool_height * pool_width inputs. Where windows overlap, the contributions add up.

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H', W')
    - cache: A tuple of (x, pool_param) as in avg_pool_forward

    Returns:
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    """
    x, pool_param = cache
    dx = None
    # BEGIN SOLUTION hint: every input of a window receives dout / (pool_height * pool_width); add up overlapping windows.
    ph, pw, stride = _check_pool(x, pool_param)
    _check_dout(dout, _pool_windows(x, ph, pw, stride).shape[:4], "avg_pool_backward")
    per_input = np.broadcast_to(dout[..., None, None] / (ph * pw), (*dout.shape, ph, pw))
    dx = _scatter_windows(per_input, x.shape, stride)
    # END SOLUTION
    return dx



def batchnorm_forward(x, gamma, beta, bn_param):
    """Compute the forward pass of batch normalization.

    In training mode, each feature is normalized with the mean and the (biased,
    divide-by-N) variance of the minibatch, then scaled by gamma and shifted by
    beta. The running averages of the mean and variance, which test mode uses
    instead, are updated in bn_param:

        running_mean = momentum * running_mean + (1 - momentum) * sample_mean
        running_var = momentum * running_var + (1 - momentum) * sample_var

    In test mode, the features are normalized with running_mean and running_var,
    which stay as they are.

    Inputs:
    - x: Data, of shape (N, D)
    - gamma: Scale parameter, of shape (D,)
    - beta: Shift parameter, of shape (D,)
    - bn_param: A dictionary with the keys:
      - 'mode': 'train' or 'test'
      - 'eps': Constant added to the variance inside the square root, for stability
      - 'momentum': Constant of the running averages
      - 'running_mean': Array of shape (D,), the running mean of the features
      - 'running_var': Array of shape (D,), the running variance of the features

    Returns a tuple of:
    - out: Output, of shape (N, D): gamma * (x - mean) / sqrt(var + eps) + beta
    - cache: Whatever your batchnorm_backward needs (its format is yours to choose);
      the grader passes your batchnorm_backward the cache your batchnorm_forward returns.
    On return, bn_param['running_mean'] and bn_param['running_var'] hold the updated
    running averages (in training mode).
    """
    mode = bn_param["mode"]
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    N, D = x.shape
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))
    out, cache = None, None
    if mode == "train":
        # BEGIN SOLUTION hint: normalize with the batch's mean and variance (np.var, which divides by N), scale and shift, cache what the backward pass needs, and update the running averages.
        mean = x.mean(axis=0)
        var = x.var(axis=0)
        std = np.sqrt(var + eps)
        x_hat = (x - mean) / std
        out = gamma * x_hat + beta
        cache = (x_hat, gamma, std)
        running_mean = momentum * running_mean + (1 - momentum) * mean
        running_var = momentum * running_var + (1 - momentum) * var
        # END SOLUTION
    elif mode == "test":
        # BEGIN SOLUTION hint: normalize with running_mean and running_var instead of the batch's statistics.
        out = gamma * (x - running_mean) / np.sqrt(running_var + eps) + beta
        # END SOLUTION
    else:
        raise ValueError(f"batchnorm_forward: mode must be 'train' or 'test'; got {mode!r}")
    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Compute the backward pass of batch normalization (training mode).

    Inputs:
    - dout: Upstream derivatives, of shape (N, D)
    - cache: The cache your batchnorm_forward returned in training mode

    Returns a tuple of:
    - dx: Gradient with respect to x, of shape (N, D); remember that the mean and
      the variance depend on every example of the batch
    - dgamma: Gradient with respect to gamma, of shape (D,)
    - dbeta: Gradient with respect to beta, of shape (D,)
    """
    dx, dgamma, dbeta = None, None, None
    # BEGIN SOLUTION hint: dbeta sums dout over the batch, dgamma sums dout times the normalized input; dx goes back through the normalization, mean and variance included.
    x_hat, gamma, std = cache
    dbeta = dout.sum(axis=0)
    dgamma = (dout * x_hat).sum(axis=0)
    dx_hat = dout * gamma
    dx = (dx_hat - dx_hat.mean(axis=0) - x_hat * (dx_hat * x_hat).mean(axis=0)) / std
    # END SOLUTION
    return dx, dgamma, dbeta


def dropout_forward(x, dropout_param):
    """Compute the forward pass of (inverted) dropout.

    In training mode each input is kept with probability p and dropped (set to 0)
    otherwise; the kept inputs are divided by p, so that the expected output equals
    the input and test mode needs no scaling. In test mode the input passes as it is.

    So that the grader can reproduce your mask, draw it with exactly one call,
    after the seeding done for you below:

        mask = (np.random.rand(*x.shape) < p) / p

    Inputs:
    - x: Input data, of any shape
    - dropout_param: A dictionary with the keys:
      - 'p': The probability of keeping each input
      - 'mode': 'train' or 'test'
      - 'seed': Seed for np.random, so that the mask is reproducible

    Returns a tuple of:
    - out: Array of the same shape as x
    - cache: (dropout_param, mask); mask is the array x was multiplied by in training
      mode, and None in test mode
    """
    p, mode = dropout_param["p"], dropout_param["mode"]
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask, out = None, None
    if mode == "train":
        # BEGIN SOLUTION hint: draw the mask as the docstring shows, then multiply x by it.
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
        # END SOLUTION
    elif mode == "test":
        # BEGIN SOLUTION hint: in test mode the input passes unchanged.
        out = x.copy()
        # END SOLUTION
    else:
        raise ValueError(f"dropout_forward: mode must be 'train' or 'test'; got {mode!r}")
    cache = (dropout_param, mask)
    return out, cache


def dropout_backward(dout, cache):
    """Compute the backward pass of (inverted) dropout.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: (dropout_param, mask) from dropout_forward

    Returns:
    - dx: Gradient with respect to x, of the shape of dout
    """
    dropout_param, mask = cache
    dx = None
    # BEGIN SOLUTION hint: in training mode the gradient flows through the mask; in test mode it passes unchanged.
    if dropout_param["mode"] == "train":
        dx = dout * mask
    else:
        dx = dout.copy()
    # END SOLUTION
    return dx

# BEGIN SOLUTION
from numpy.lib.stride_tricks import sliding_window_view  # noqa: E402


def _conv_windows(x, w_shape, stride, pad):
    """Read-only view of every receptive field: (N, C, H', W', HH, WW)."""
    HH, WW = w_shape[2:]
    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    H_out = 1 + (x_pad.shape[2] - HH) // stride
    W_out = 1 + (x_pad.shape[3] - WW) // stride
    windows = sliding_window_view(x_pad, (HH, WW), axis=(2, 3))
    return windows[:, :, ::stride, ::stride][:, :, :H_out, :W_out]


def _pool_windows(x, ph, pw, stride):
    """Read-only view of every pooling window: (N, C, H', W', ph, pw)."""
    H_out = 1 + (x.shape[2] - ph) // stride
    W_out = 1 + (x.shape[3] - pw) // stride
    windows = sliding_window_view(x, (ph, pw), axis=(2, 3))
    return windows[:, :, ::stride, ::stride][:, :, :H_out, :W_out]


def _scatter_windows(per_input, x_shape, stride):
    """Add per-window input gradients (N, C, H', W', ph, pw) back into x's shape."""
    H_out, W_out, ph, pw = per_input.shape[2:]
    dx = np.zeros(x_shape)
    # One pass per window offset (i, j): overlapping windows accumulate.
    for i in range(ph):
        for j in range(pw):
            dx[:, :, i:i + stride * H_out:stride, j:j + stride * W_out:stride] += per_input[..., i, j]
    return dx


def _check_dout(dout, shape, function):
    if dout.shape != tuple(shape):
        raise ValueError(f"{function}: dout has shape {dout.shape}; the forward pass's output has shape "
                         f"{tuple(shape)}")


def _check_affine(x, w, b):
    D = int(np.prod(x.shape[1:]))
    if w.ndim != 2 or w.shape[0] != D:
        raise ValueError(f"affine: x has {D} values per example but w has shape {w.shape}; expected ({D}, M)")
    if b.shape != (w.shape[1],):
        raise ValueError(f"affine: b has shape {b.shape}; expected ({w.shape[1]},) to match w")


def _check_labels(x, y):
    if x.ndim != 2:
        raise ValueError(f"softmax_loss: scores must have shape (N, C); got {x.shape}")
    N, C = x.shape
    y = np.asarray(y)
    if y.shape != (N,) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"softmax_loss: y must be {N} integer labels; got shape {y.shape}, dtype {y.dtype}")
    if N == 0:
        raise ValueError("softmax_loss: the batch is empty (N = 0); the mean loss is undefined")
    if y.min() < 0 or y.max() >= C:
        raise ValueError(f"softmax_loss: labels must satisfy 0 <= y[i] < {C}; got values from {y.min()} to {y.max()}")
    return N


def _check_conv(x, w, b, conv_param):
    stride, pad = conv_param["stride"], conv_param["pad"]
    if int(stride) != stride or stride < 1:
        raise ValueError(f"conv: stride must be an integer >= 1; got {stride!r}")
    if int(pad) != pad or pad < 0:
        raise ValueError(f"conv: pad must be an integer >= 0; got {pad!r}")
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"conv: x and w must be 4-D; got shapes {x.shape} and {w.shape}")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"conv: x has {x.shape[1]} channels but w expects {w.shape[1]}")
    if b.shape != (w.shape[0],):
        raise ValueError(f"conv: b has shape {b.shape}; expected ({w.shape[0]},), one bias per filter")
    if w.shape[2] > x.shape[2] + 2 * pad or w.shape[3] > x.shape[3] + 2 * pad:
        raise ValueError(f"conv: kernel {w.shape[2]}x{w.shape[3]} is larger than the padded input "
                         f"{x.shape[2] + 2 * pad}x{x.shape[3] + 2 * pad}")
    return int(stride), int(pad)


def _check_pool(x, pool_param):
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    for name, value in (("pool_height", ph), ("pool_width", pw), ("stride", stride)):
        if int(value) != value or value < 1:
            raise ValueError(f"pool: {name} must be an integer >= 1; got {value!r}")
    if x.ndim != 4:
        raise ValueError(f"pool: x must have shape (N, C, H, W); got {x.shape}")
    if ph > x.shape[2] or pw > x.shape[3]:
        raise ValueError(f"pool: window {ph}x{pw} is larger than the input {x.shape[2]}x{x.shape[3]}")
    return int(ph), int(pw), int(stride)
# END SOLUTION
