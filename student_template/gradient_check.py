"""Numerical gradient checks for your layers.

check_gradient compares the gradient your backward pass returns with a
centred-difference estimate, and says what the difference means:

    x = np.random.randn(2, 3, 7, 7)
    w = np.random.randn(4, 3, 3, 3)
    b = np.random.randn(4)
    conv_param = {"stride": 1, "pad": 1}
    out, cache = conv_forward(x, w, b, conv_param)
    dout = np.random.randn(*out.shape)      # a random upstream gradient, not all ones
    dx, dw, db = conv_backward(dout, cache)
    check_gradient("dx", lambda x: conv_forward(x, w, b, conv_param)[0], x, dx, dout)
    # dx: correct (relative error 3.7e-9; a correct gradient stays below 1e-6)

For a loss (a function that returns one number), leave out dout:

    loss, grads = model.loss(X, y)
    check_gradient("W1", lambda W1: model.loss(X, y)[0], model.params["W1"], grads["W1"])

What the relative error means. It is measured element by element, each element
against the larger of its own size and 1/1000 of the gradient's largest element
(the centred difference has rounding errors of about 1e-11 of the function's
value, which swamp elements much smaller than the rest). In float64, at the step
h = 1e-5 used here:

- below 1e-6 (CORRECT_BELOW): correct. Correct affine, ReLU, softmax,
  convolution (any stride and padding), max and average pooling and network
  gradients stay below 1e-7.
- from 1e-6 to 1e-3 (WRONG_ABOVE): imprecise. Too large for rounding: look for
  float32 arrays, or a small term left out (such as part of the regularization).
- above 1e-3: wrong.

A numerical gradient cannot be trusted next to a kink, where the function's
slope jumps: a ReLU input within h of 0, or pooling windows whose two largest
inputs are within h of each other. check_gradient finds such elements (their
one-sided differences disagree), leaves them out and says how many it left out.

Use a random upstream gradient: with all ones, a backward pass that ignores
dout, or sums it in the wrong direction, can still pass.

A numerical check cannot verify what happens at ties. Where several inputs of a
max-pooling window share the maximum, moving one of them by +h makes it the
unique maximum while moving it by -h hands the maximum to the others, so the
centred difference gives each of the k tied inputs half the upstream gradient,
0.5 * dout, whatever k is and whatever the tie rule says. Check tie behaviour
with small hand-worked examples instead, and run numerical checks on inputs
without ties, such as np.random.randn data.

eval_numerical_gradient_array, eval_numerical_gradient and rel_error are the
plain tools check_gradient is built from, as in CS231n's notebooks.
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
        pos = _number(f(x))
        x[ix] = old - h
        neg = _number(f(x))
        x[ix] = old
        grad[ix] = (pos - neg) / (2 * h)
        it.iternext()
    return grad


def rel_error(x, y):
    """Largest relative error between two arrays: max |x - y| / max(1e-8, |x| + |y|)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    return float(np.max(np.abs(x - y) / np.maximum(1e-8, np.abs(x) + np.abs(y))))


CORRECT_BELOW = 1e-6   # a correct float64 gradient, checked with h = 1e-5, stays below this
WRONG_ABOVE = 1e-3     # a wrong one is above this; between the two it is imprecise


def gradient_error(analytic, numeric, size=0.0, h=1e-5):
    """Per-element relative errors of numeric against analytic.

    Each element's difference is divided by the largest of: the two values' sizes, 1/1000 of the
    gradient's largest element, and the size below which rounding in the centred difference
    dominates (1e7 times the float64 epsilon, times the function's size, over h: the difference
    of two values of f computed with relative rounding errors, divided by 2h).
    size: the function's size, sum(|f(x) * dout|), or |loss|.
    """
    analytic = np.asarray(analytic, dtype=np.float64)
    numeric = np.asarray(numeric, dtype=np.float64)
    largest = max(np.abs(analytic).max(initial=0.0), np.abs(numeric).max(initial=0.0))
    floor = max(1e-3 * largest, 1e7 * np.finfo(np.float64).eps * size / h, 1e-8)
    return np.abs(analytic - numeric) / np.maximum(np.abs(analytic) + np.abs(numeric), floor)


def check_gradient(name, f, x, analytic, dout=None, h=1e-5, verbose=True):
    """Compare your gradient of f at x with a numerical one; print and return the verdict.

    Inputs:
    - name: What to call the gradient in the message, such as "dx"
    - f: A function of one array argument: returns an array (then give dout)
      or a single number (a loss; leave dout out)
    - x: The point to check at; restored before returning
    - analytic: Your gradient with respect to x, of the shape of x
    - dout: The upstream gradient, of the shape of f(x), or None for a loss
    - h: The step of the centred difference
    - verbose: Print the verdict

    Returns:
    - verdict: "correct", "imprecise" or "wrong"

    Raises ValueError when the check cannot be trusted: x not a float64 array (a step of
    h = 1e-5 is lost in float32 and in integers), f computing in float32, or f returning
    more than one number without a dout.
    """
    if not isinstance(x, np.ndarray) or x.dtype != np.float64:
        raise ValueError(f"{name}: check_gradient needs x as a float64 array, not "
                         f"{getattr(x, 'dtype', type(x).__name__)}: a step of h = {h:g} is lost in float32 and "
                         f"in integers. Pass x.astype(np.float64), and make the other arrays f uses float64 too")
    value = np.asarray(f(x))
    if value.dtype.kind == "f" and value.dtype.itemsize < 8:
        raise ValueError(f"{name}: f returns {value.dtype} values: a step of h = {h:g} is lost in them. Make "
                         f"every array f uses float64")
    if dout is None and value.size != 1:
        raise ValueError(f"{name}: f returns an array of shape {value.shape}: without dout, f must return one "
                         f"number (a loss); for an array, give dout, the upstream gradient")
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != np.shape(x):
        return _say(verbose, "wrong", f"{name}: wrong: it has shape {analytic.shape}; expected {np.shape(x)}, "
                                      f"the shape of the input")
    if dout is None:
        numeric = eval_numerical_gradient(f, x, h)
        total = lambda: _number(f(x))
        # (rounding comes from the numbers the loss is computed from, such as large scores, too)
        size = max(abs(_number(value)), float(np.abs(x).max(initial=0.0)))
    else:
        numeric = eval_numerical_gradient_array(f, x, dout, h)
        total = lambda: float(np.sum(np.array(f(x), dtype=np.float64) * dout))
        size = float(np.sum(np.abs(value.astype(np.float64) * dout)))
    errors = gradient_error(analytic, numeric, size, h)
    largest = max(np.abs(numeric).max(initial=0.0), np.abs(analytic).max(initial=0.0))
    kinks = [ix for ix in np.ndindex(errors.shape)
             if errors[ix] > CORRECT_BELOW and _at_kink(total, x, ix, h, analytic[ix], largest)]
    for ix in kinks:
        errors[ix] = 0.0
    note = (f"; {len(kinks)} of {errors.size} elements were left out: they sit within h of a kink (a ReLU "
            f"input near 0, two near-equal maxima of a window), where no numerical gradient can be trusted"
            if kinks else "")
    worst = np.unravel_index(int(np.argmax(errors)), errors.shape) if errors.size else ()
    error = float(errors[worst]) if errors.size else 0.0
    if error < CORRECT_BELOW:
        return _say(verbose, "correct", f"{name}: correct (relative error {error:.1e}; a correct gradient "
                                        f"stays below {CORRECT_BELOW:.0e}){note}")
    where = (f"at index {tuple(int(i) for i in worst)}: yours {analytic[worst]:.6g}, numerical "
             f"{numeric[worst]:.6g}")
    off = int(np.sum(errors > CORRECT_BELOW))
    if error < WRONG_ABOVE:
        return _say(verbose, "imprecise", f"{name}: imprecise (relative error {error:.1e} {where}; {off} of "
                                          f"{errors.size} elements are off): too large for rounding in float64. "
                                          f"Look for float32 arrays, or a small term left out{note}")
    return _say(verbose, "wrong", f"{name}: wrong (relative error {error:.1e} {where}; {off} of {errors.size} "
                                  f"elements disagree){note}")


def _at_kink(total, x, ix, h, yours, largest):
    """Whether x[ix] sits within h of a kink that explains your value there: the slopes of
    total() just above and just below x[ix] differ (by more than h times any curvature a smooth
    function has here, 1e-4 of the gradient's largest element), and yours lies between them."""
    old = x[ix]
    middle = total()
    x[ix] = old + h
    up = (total() - middle) / h
    x[ix] = old - h
    down = (middle - total()) / h
    x[ix] = old
    jump = abs(up - down)
    margin = 1e-2 * jump
    return jump > 1e-4 * largest and min(up, down) - margin <= yours <= max(up, down) + margin


def _number(value):
    """One number, whether f returned a float, a 0-d array or an array of one element."""
    return float(np.asarray(value, dtype=np.float64).reshape(()))


def _say(verbose, verdict, message):
    if verbose:
        print(message.replace("e-0", "e-"))   # 1e-6, as the docstring writes it, not 1e-06
    return verdict
