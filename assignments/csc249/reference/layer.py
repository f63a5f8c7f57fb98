"""The layers of a small convolutional network, as classes that work on one example at a time.

Feature maps have shape (C, H, W): channels, height, width. Vectors are columns, of
shape (n, 1). Every layer has forward(x), which returns the output y, and
backward(x, dv_y), which gets the same input x again with the derivative of the loss
with respect to y, and returns the derivatives with respect to x (and to the layer's
parameters, if it has any). backward must not rely on anything forward stored: it may
be called on a layer whose forward was never called. No method modifies its inputs.
All arrays are float64.

A stride or a padding is an int, or an (h, w) pair for the height and the width.
"""
import numpy as np

# BEGIN SOLUTION
from numpy.lib.stride_tricks import sliding_window_view

TIE_RULES = ("all", "split", "first")
TIE_RULE = "all"  # config: assignment.tie_rule
# END SOLUTION


def _pair(value):
    """An int or an (h, w) pair, as an (h, w) tuple of ints."""
    if isinstance(value, (tuple, list)):
        height, width = value
        return int(height), int(width)
    return int(value), int(value)


def _initial(init, shape):
    """The initializer's values for the shape, or zeros without an initializer."""
    return np.zeros(shape) if init is None else init.initialize(shape)


class FullyConnected:
    """A fully-connected layer: y = W @ x + b, for one example x, a column vector.

    Attributes:
    - W: weights, of shape (out_size, in_size)
    - b: biases, of shape (out_size, 1)
    """

    def __init__(self, shape, weights_init=None, bias_init=None, name="FullyConnected"):
        """shape: (out_size, in_size). weights_init and bias_init: objects with an
        initialize(shape) method, or None for zeros."""
        out_size, in_size = shape
        self.shape = (int(out_size), int(in_size))
        self.name = name
        self.W = _initial(weights_init, self.shape)
        self.b = _initial(bias_init, (self.shape[0], 1))

    def forward(self, x):
        """Compute the layer's output.

        Inputs:
        - x: the input, a column vector of shape (in_size, 1)

        Returns:
        - y: the output, of shape (out_size, 1), equal to W @ x + b
        """
        y = None
        # BEGIN SOLUTION hint: a matrix product and a sum.
        y = self.W @ x + self.b
        # END SOLUTION
        return y

    def backward(self, x, dv_y):
        """Compute the derivatives of the loss with respect to x, W and b.

        Inputs:
        - x: the input forward got, of shape (in_size, 1)
        - dv_y: the derivative with respect to y, of shape (out_size, 1)

        Returns a tuple of:
        - dv_x: with respect to x, of shape (in_size, 1)
        - dv_W: with respect to W, of shape (out_size, in_size)
        - dv_b: with respect to b, of shape (out_size, 1): the shape of b, not (out_size,)
        """
        dv_x, dv_W, dv_b = None, None, None
        # BEGIN SOLUTION hint: each derivative has the shape of what it is the derivative with respect to.
        dv_x = self.W.T @ dv_y
        dv_W = dv_y @ x.T
        dv_b = dv_y.copy()
        # END SOLUTION
        return dv_x, dv_W, dv_b


class Conv2D:
    """A convolutional layer: F filters, each spanning all C channels of the input.

    The layer computes a cross-correlation (the kernel is not flipped) of the input,
    padded with zeros, and adds each filter's bias:

        y[f, i, j] = sum over c, k, l of W[f, c, k, l] * x_pad[c, i * s_h + k, j * s_w + l] + b[f]

    with H' = (H + 2 * p_h - HH) // s_h + 1 and W' = (W + 2 * p_w - WW) // s_w + 1 (floor
    division: rows and columns that no window reaches are left out).

    Attributes:
    - W: filters, of shape (F, C, HH, WW)
    - b: biases, of shape (F, 1)
    - strides: (s_h, s_w); padding: (p_h, p_w)
    """

    def __init__(self, filter_size, strides, padding, weights_init=None, bias_init=None, name="Conv2D"):
        """filter_size: (F, C, HH, WW); strides and padding: an int, or an (h, w) pair."""
        self.filter_size = tuple(int(n) for n in filter_size)
        self.strides = _pair(strides)
        self.padding = _pair(padding)
        self.name = name
        self.W = _initial(weights_init, self.filter_size)
        self.b = _initial(bias_init, (self.filter_size[0], 1))

    def forward(self, x):
        """Compute the layer's output.

        Inputs:
        - x: the input feature map, of shape (C, H, W)

        Returns:
        - y: the output, of shape (F, H', W')
        """
        y = None
        # BEGIN SOLUTION hint: pad x with zeros, then multiply each window by each filter and add its bias; windows start every s_h rows and s_w columns.
        windows = _conv_windows(x, self.W.shape, self.strides, self.padding)  # (C, H', W', HH, WW)
        y = np.einsum("chwij,fcij->fhw", windows, self.W) + self.b[:, :, None]
        # END SOLUTION
        return y

    def backward(self, x, dv_y):
        """Compute the derivatives of the loss with respect to x, W and b.

        Inputs:
        - x: the input forward got, of shape (C, H, W)
        - dv_y: the derivative with respect to y, of shape (F, H', W')

        Returns a tuple of:
        - dv_x: with respect to x, of shape (C, H, W), without the padding; rows and
          columns that no window reaches get zero
        - dv_W: with respect to W, of shape (F, C, HH, WW)
        - dv_b: with respect to b, of shape (F, 1)
        """
        dv_x, dv_W, dv_b = None, None, None
        # BEGIN SOLUTION hint: every window sends dv_y[f, i, j] * W[f] back to x_pad, and dv_y[f, i, j] * window to W; mind the strides, add up where windows overlap, and remove the padding at the end.
        (s_h, s_w), (p_h, p_w) = self.strides, self.padding
        HH, WW = self.W.shape[2:]
        windows = _conv_windows(x, self.W.shape, self.strides, self.padding)
        H_out, W_out = windows.shape[1:3]
        dv_W = np.einsum("chwij,fhw->fcij", windows, dv_y)
        dv_b = dv_y.sum(axis=(1, 2)).reshape(-1, 1)
        dv_x_pad = np.zeros((x.shape[0], x.shape[1] + 2 * p_h, x.shape[2] + 2 * p_w))
        for i in range(HH):  # one pass per kernel offset, for every window at once
            for j in range(WW):
                dv_x_pad[:, i:i + s_h * H_out:s_h, j:j + s_w * W_out:s_w] += np.einsum(
                    "fhw,fc->chw", dv_y, self.W[:, :, i, j])
        dv_x = dv_x_pad[:, p_h:p_h + x.shape[1], p_w:p_w + x.shape[2]]
        # END SOLUTION
        return dv_x, dv_W, dv_b


class MaxPool2D:
    """A max-pooling layer: each output is the maximum of its window, in each channel.

    The padding counts as minus infinity: a padded cell never wins a window. With
    H' = (H + 2 * p_h - ph) // s_h + 1 and W' likewise. Windows may overlap; then an
    input that is the maximum of several windows receives the sum of their gradients.
    """

    def __init__(self, pool_size, strides, padding=0, name="MaxPool2D"):
        """pool_size, strides and padding: an int, or an (h, w) pair each. The padding is at
        most half the pool size on each axis, so that no window is made of padding alone."""
        self.pool_size = _pair(pool_size)
        self.strides = _pair(strides)
        self.padding = _pair(padding)
        self.name = name

    def forward(self, x):
        """Compute the layer's output.

        Inputs:
        - x: the input feature map, of shape (C, H, W)

        Returns:
        - y: the output, of shape (C, H', W')
        """
        y = None
        # BEGIN SOLUTION hint: pad with minus infinity, then take the maximum of every window.
        y = _pool_windows(x, self.pool_size, self.strides, self.padding).max(axis=(-2, -1))
        # END SOLUTION
        return y

    def backward(self, x, dv_y, ties=TIE_RULE):  # template: def backward(self, x, dv_y):
        """Compute the derivative of the loss with respect to x.

        Each window sends its dv_y[c, i, j] to the input that holds its maximum.

        Ties. When several inputs of one window share its maximum value, the tie
        rule decides who receives that window's gradient.
        [ties=all]   This assignment's rule is "all": every tied maximum receives the
        [ties=all]   window's full gradient (the course's rule: "assign the gradient to
        [ties=all]   multiple activations which achieve the same maximum value").
        [ties=split] This assignment's rule is "split": the k tied maxima share the
        [ties=split] window's gradient equally, each receiving dv_y / k.
        [ties=first] This assignment's rule is "first": only the first tied maximum, in
        [ties=first] row-major order within the window, receives it.

        Worked example: one 2x2 window [[3, 1], [3, 0]] with gradient 6.
        [ties=all]   dv_x = [[6, 0], [6, 0]]
        [ties=split] dv_x = [[3, 0], [3, 0]]
        [ties=first] dv_x = [[6, 0], [0, 0]]

        Inputs:
        - x: the input forward got, of shape (C, H, W)
        - dv_y: the derivative with respect to y, of shape (C, H', W')
        [reference] - ties: the tie rule, by default the one of assignment.toml

        Returns:
        - dv_x: with respect to x, of shape (C, H, W); where windows overlap, the
          gradients of every window an input is the maximum of add up
        """
        dv_x = None
        # BEGIN SOLUTION hint: find the maximum of every window (padding never wins), route dv_y there with the tie rule above, add up overlapping windows, and drop the padding.
        if ties not in TIE_RULES:
            raise ValueError(f"ties must be one of {', '.join(map(repr, TIE_RULES))}; got {ties!r}")
        windows = _pool_windows(x, self.pool_size, self.strides, self.padding)  # (C, H', W', ph, pw)
        is_max = windows == windows.max(axis=(-2, -1), keepdims=True)
        if ties == "split":
            share = is_max / is_max.sum(axis=(-2, -1), keepdims=True)
        elif ties == "first":
            flat = is_max.reshape(*is_max.shape[:3], -1)
            share = np.zeros(flat.shape)
            np.put_along_axis(share, flat.argmax(axis=-1)[..., None], 1.0, axis=-1)
            share = share.reshape(is_max.shape)
        else:
            share = is_max.astype(float)
        dv_x = _scatter_windows(share * dv_y[..., None, None], x.shape, self.strides, self.padding)
        # END SOLUTION
        return dv_x


class ReLU:
    """Rectified linear units: y = max(x, 0), elementwise, for an input of any shape."""

    def __init__(self, name="ReLU"):
        self.name = name

    def forward(self, x):
        """y = max(x, 0), of the shape of x."""
        return np.maximum(x, 0.0)

    def backward(self, x, dv_y):
        """dv_x: dv_y where x > 0, else 0 (the derivative at x == 0 is taken to be 0)."""
        return np.where(x > 0, dv_y, 0.0)


# BEGIN SOLUTION
def _conv_windows(x, w_shape, strides, padding):
    """Read-only view of every receptive field of the zero-padded input: (C, H', W', HH, WW)."""
    (s_h, s_w), (p_h, p_w) = strides, padding
    HH, WW = w_shape[2:]
    x_pad = np.pad(x, ((0, 0), (p_h, p_h), (p_w, p_w)))
    H_out, W_out = (x_pad.shape[1] - HH) // s_h + 1, (x_pad.shape[2] - WW) // s_w + 1
    windows = sliding_window_view(x_pad, (HH, WW), axis=(1, 2))
    return windows[:, ::s_h, ::s_w][:, :H_out, :W_out]


def _pool_windows(x, pool_size, strides, padding):
    """Read-only view of every pooling window of the input padded with -inf: (C, H', W', ph, pw)."""
    (ph, pw), (s_h, s_w), (p_h, p_w) = pool_size, strides, padding
    x_pad = np.pad(x, ((0, 0), (p_h, p_h), (p_w, p_w)), constant_values=-np.inf)
    H_out, W_out = (x_pad.shape[1] - ph) // s_h + 1, (x_pad.shape[2] - pw) // s_w + 1
    windows = sliding_window_view(x_pad, (ph, pw), axis=(1, 2))
    return windows[:, ::s_h, ::s_w][:, :H_out, :W_out]


def _scatter_windows(per_input, x_shape, strides, padding):
    """Add per-window gradients (C, H', W', ph, pw) into the padded input's shape, then crop."""
    (s_h, s_w), (p_h, p_w) = strides, padding
    H_out, W_out, ph, pw = per_input.shape[1:]
    dv_pad = np.zeros((x_shape[0], x_shape[1] + 2 * p_h, x_shape[2] + 2 * p_w))
    for i in range(ph):  # one pass per window offset: overlapping windows add up
        for j in range(pw):
            dv_pad[:, i:i + s_h * H_out:s_h, j:j + s_w * W_out:s_w] += per_input[..., i, j]
    return dv_pad[:, p_h:p_h + x_shape[1], p_w:p_w + x_shape[2]]
# END SOLUTION
