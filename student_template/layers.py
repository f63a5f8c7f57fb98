"""Forward and backward passes of the layers of a small neural network.

Every function follows the same contract: a forward pass returns ``(out, cache)``
and the matching backward pass takes ``(dout, cache)`` and returns the gradient
with respect to each input, each with the shape of that input. All arrays are
float64 unless stated. No function modifies its inputs.
"""
import numpy as np


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
    # **********************************************************************************
    # TODO: reshape x into rows of D values, then multiply by w and add b.
    # **********************************************************************************
    raise NotImplementedError("affine_forward is not implemented yet")
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
    # **********************************************************************************
    # TODO: use the reshaped x for dw, sum dout over the batch for db, and reshape dx
    #       back to x's shape.
    # **********************************************************************************
    raise NotImplementedError("affine_backward is not implemented yet")
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
    # **********************************************************************************
    # TODO: keep the positive entries of x and set the rest to zero.
    # **********************************************************************************
    raise NotImplementedError("relu_forward is not implemented yet")
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
    # **********************************************************************************
    # TODO: pass dout through where x > 0 and block it elsewhere, including at x == 0.
    # **********************************************************************************
    raise NotImplementedError("relu_backward is not implemented yet")
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
    # **********************************************************************************
    # TODO: use negative_slope, not a fixed number, for the entries where x <= 0.
    # **********************************************************************************
    raise NotImplementedError("leaky_relu_forward is not implemented yet")
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
    # **********************************************************************************
    # TODO: the local derivative is 1 where x > 0 and negative_slope where x <= 0.
    # **********************************************************************************
    raise NotImplementedError("leaky_relu_backward is not implemented yet")
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
    # **********************************************************************************
    # TODO: shift each row by its maximum, average the loss and the gradient over N, and
    #       subtract 1 at each label.
    # **********************************************************************************
    raise NotImplementedError("softmax_loss is not implemented yet")
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
    # **********************************************************************************
    # TODO: pad x, then for every output position take the sum of the window times each
    #       filter, plus its bias.
    # **********************************************************************************
    raise NotImplementedError("conv_forward is not implemented yet")
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
    # **********************************************************************************
    # TODO: every window that produced out[n, f, i, j] sends dout[n, f, i, j] * w[f]
    #       back to x and dout * window to w; mind the stride and remove the padding at
    #       the end.
    # **********************************************************************************
    raise NotImplementedError("conv_backward is not implemented yet")
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
    # **********************************************************************************
    # TODO: each output is the maximum of its pool_height x pool_width window; windows
    #       start every stride pixels.
    # **********************************************************************************
    raise NotImplementedError("max_pool_forward is not implemented yet")
    cache = (x, pool_param)
    return out, cache


def max_pool_backward(dout, cache):
    """Compute the backward pass of a max-pooling layer.

    Each window sends its upstream gradient dout[n, c, i, j] to the input that
    holds its maximum. Where windows overlap, an input that is the maximum of
    several windows receives the sum of their gradients. Inputs that are the
    maximum of no window get zero gradient.

    Ties. When several inputs of one window share its maximum value, the tie
    rule decides who receives that window's upstream gradient.
    This assignment's rule is "all": every tied maximum receives the
    full upstream gradient of that window.

    Worked example: one 2x2 window [[3, 1], [3, 0]] with upstream gradient 6.
    dx = [[6, 0], [6, 0]]

    Inputs:
    - dout: Upstream derivatives, of shape (N, C, H', W')
    - cache: A tuple of (x, pool_param) as in max_pool_forward

    Returns:
    - dx: Gradient with respect to x, of shape (N, C, H, W)
    """
    x, pool_param = cache
    dx = None
    # **********************************************************************************
    # TODO: find the maximum of every window and route dout there, applying the tie rule
    #       above; add up the gradients of overlapping windows.
    # **********************************************************************************
    raise NotImplementedError("max_pool_backward is not implemented yet")
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
    # **********************************************************************************
    # TODO: each output is the mean of its pool_height x pool_width window.
    # **********************************************************************************
    raise NotImplementedError("avg_pool_forward is not implemented yet")
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
    # **********************************************************************************
    # TODO: every input of a window receives dout / (pool_height * pool_width); add up
    #       overlapping windows.
    # **********************************************************************************
    raise NotImplementedError("avg_pool_backward is not implemented yet")
    return dx
