"""Numerical gradient checks for your layers.

Compare the gradient your backward pass returns with a centred-difference
estimate:

    x = np.random.randn(3, 4)
    dout = np.random.randn(3, 4)            # a random upstream gradient, not all ones
    dx_num = eval_numerical_gradient_array(lambda x: relu_forward(x)[0], x, dout)
    dx = relu_backward(dout, x)
    print(rel_error(dx, dx_num))            # around 1e-9 or less when dx is right

Use a random upstream gradient: with all ones, a backward pass that ignores
dout, or sums it in the wrong direction, can still pass.

A numerical check cannot verify what happens at ties. Where several inputs of a
max-pooling window share the maximum, moving one of them by +h makes it the
unique maximum while moving it by -h hands the maximum to the others, so the
centred difference gives each of the k tied inputs half the upstream gradient,
0.5 * dout, whatever k is and whatever the tie rule says. Check tie behaviour
with small hand-worked examples instead, and run numerical checks on inputs
without ties, such as np.random.randn data.
"""
import numpy as np


def eval_numerical_gradient_array(f, x, dout, h=1e-5):
    """Centred-difference gradient of sum(f(x) * dout) with respect to x.

    Inputs:
    - f: A function of one array argument that returns an array
    - x: The point at which to evaluate the gradient, an array of any shape;
      it is restored to its original values before returning
    - dout: The upstream gradient, of the shape of f(x)
    - h: The step size

    Returns:
    - grad: The numerical gradient, of the shape of x
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old - h
        neg = np.array(f(x), dtype=np.float64, copy=True)
        x[ix] = old
        grad[ix] = np.sum((pos - neg) * dout) / (2 * h)
        it.iternext()
    return grad


def eval_numerical_gradient(f, x, h=1e-5):
    """Centred-difference gradient of a scalar function f with respect to x.

    Inputs:
    - f: A function of one array argument that returns a float
    - x: The point at which to evaluate the gradient; restored before returning
    - h: The step size

    Returns:
    - grad: The numerical gradient, of the shape of x
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"], op_flags=["readwrite"])
    while not it.finished:
        ix = it.multi_index
        old = x[ix]
        x[ix] = old + h
        pos = float(f(x))
        x[ix] = old - h
        neg = float(f(x))
        x[ix] = old
        grad[ix] = (pos - neg) / (2 * h)
        it.iternext()
    return grad


def rel_error(x, y):
    """Largest relative error between two arrays: max |x - y| / max(1e-8, |x| + |y|)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))
