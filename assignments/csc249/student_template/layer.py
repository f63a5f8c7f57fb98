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
        # ******************************************************************************
        # TODO: a matrix product and a sum.
        # ******************************************************************************
        raise NotImplementedError("FullyConnected.forward is not implemented yet")
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
        # ******************************************************************************
        # TODO: each derivative has the shape of what it is the derivative with respect
        #       to.
        # ******************************************************************************
        raise NotImplementedError("FullyConnected.backward is not implemented yet")
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
        # ******************************************************************************
        # TODO: pad x with zeros, then multiply each window by each filter and add its
        #       bias; windows start every s_h rows and s_w columns.
        # ******************************************************************************
        raise NotImplementedError("Conv2D.forward is not implemented yet")
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
        # ******************************************************************************
        # TODO: every window sends dv_y[f, i, j] * W[f] back to x_pad, and dv_y[f, i, j]
        #       * window to W; mind the strides, add up where windows overlap, and
        #       remove the padding at the end.
        # ******************************************************************************
        raise NotImplementedError("Conv2D.backward is not implemented yet")
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
        # ******************************************************************************
        # TODO: pad with minus infinity, then take the maximum of every window.
        # ******************************************************************************
        raise NotImplementedError("MaxPool2D.forward is not implemented yet")
        return y

    def backward(self, x, dv_y):
        """Compute the derivative of the loss with respect to x.

        Each window sends its dv_y[c, i, j] to the input that holds its maximum.

        Ties. When several inputs of one window share its maximum value, the tie
        rule decides who receives that window's gradient.
        This assignment's rule is "all": every tied maximum receives the
        window's full gradient (the course's rule: "assign the gradient to
        multiple activations which achieve the same maximum value").

        Worked example: one 2x2 window [[3, 1], [3, 0]] with gradient 6.
        dv_x = [[6, 0], [6, 0]]

        Inputs:
        - x: the input forward got, of shape (C, H, W)
        - dv_y: the derivative with respect to y, of shape (C, H', W')

        Returns:
        - dv_x: with respect to x, of shape (C, H, W); where windows overlap, the
          gradients of every window an input is the maximum of add up
        """
        dv_x = None
        # ******************************************************************************
        # TODO: find the maximum of every window (padding never wins), route dv_y there
        #       with the tie rule above, add up overlapping windows, and drop the
        #       padding.
        # ******************************************************************************
        raise NotImplementedError("MaxPool2D.backward is not implemented yet")
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
