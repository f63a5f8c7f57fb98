"""The cases: one example at a time, (C, H, W) feature maps and column vectors.

Every geometry is non-square, with F != C, so that confusing height with width,
filters with channels or strides with pool sizes gives a different answer. Values are
rounded to multiples of 1/64 (see grader.authoring.spec.q), so that sums and products
are exact; pooling inputs are drawn without ties, except where a case is about ties.
"""
import numpy as np

from grader.authoring.spec import Case, distinct, q, randn


def _pair(value):
    return value if isinstance(value, tuple) else (value, value)


# What the cases with a tag have in common, for the feedback when a method fails exactly those.
TAGS = {
    "padding": "padding",
    "tuple": "a stride or padding of its own for each axis",
    "stride": "a stride above 1",
    "non-square": "non-square windows or kernels",
    "overlap": "overlapping windows",
    "ties": "tied maxima",
    "uneven-geometry": "a stride that does not divide the input's size",
    "single-output": "a single output",
    "zeros": "inputs that are exactly 0",
}


# Builders -------------------------------------------------------------------------------

def fully_connected(out_size, in_size, backward):
    def build(rng):
        values = {"shape": (out_size, in_size), "W": randn(rng, out_size, in_size),
                  "b": randn(rng, out_size, 1), "x": randn(rng, in_size, 1)}
        if backward:
            values["dv_y"] = randn(rng, out_size, 1)
        return values
    return build


def conv(x_shape, filter_size, strides, padding, backward):
    def build(rng):
        (s_h, s_w), (p_h, p_w) = _pair(strides), _pair(padding)
        C, H, W = x_shape
        F, _, HH, WW = filter_size
        values = {"filter_size": filter_size, "strides": strides, "padding": padding,
                  "W": randn(rng, *filter_size), "b": randn(rng, F, 1), "x": randn(rng, *x_shape)}
        if backward:
            values["dv_y"] = randn(rng, F, (H + 2 * p_h - HH) // s_h + 1, (W + 2 * p_w - WW) // s_w + 1)
        return values
    return build


def pool(x, pool_size, strides, padding, backward):
    """`x` is an array or a function rng -> array."""
    def build(rng):
        data = x(rng) if callable(x) else np.asarray(x, dtype=np.float64)
        values = {"pool_size": pool_size, "strides": strides, "padding": padding, "x": data}
        if backward:
            (ph, pw), (s_h, s_w), (p_h, p_w) = _pair(pool_size), _pair(strides), _pair(padding)
            shape = (data.shape[0], (data.shape[1] + 2 * p_h - ph) // s_h + 1,
                     (data.shape[2] + 2 * p_w - pw) // s_w + 1)
            # Positive, distinct gradients make every misrouted one visible.
            values["dv_y"] = q(1 + rng.permutation(np.arange(int(np.prod(shape)))) / 4).reshape(shape)
        return values
    return build


def relu(shape, backward):
    def build(rng):
        x = randn(rng, *shape)
        x[rng.rand(*shape) < 0.25] = 0.0
        values = {"x": x}
        if backward:
            values["dv_y"] = randn(rng, *shape)
        return values
    return build


def tie_free(*shape):
    return lambda rng: distinct(rng, *shape)


def negative(*shape):
    """All negative, without ties: zero padding would win the border windows; -inf never does."""
    return lambda rng: distinct(rng, *shape) - np.prod(shape) / 8.0 - 1


def _flat(rng):
    return np.full((1, 2, 2), 1.5)


def _diagonal(rng):
    x = q(rng.uniform(-1, 0.5, size=(2, 4, 6)))
    x[0, 0, 0] = x[0, 1, 1] = 2.0    # a tie on the main diagonal
    x[1, 2, 5] = x[1, 3, 4] = 1.25   # and on the anti-diagonal
    return x


def _four_way(rng):
    x = q(rng.uniform(-1, 0.5, size=(1, 3, 4)))
    for r, c in ((0, 0), (0, 2), (2, 0), (2, 2)):
        x[0, r, c] = 3.0
    return x


def _shared(rng):
    x = distinct(rng, 2, 5, 6) - 10   # all negative ...
    x[0, 2, 2] = 5.0                   # ... but for one maximum that several windows share
    x[1, 1, 3] = 5.0
    return x


def _overlap_ties(rng):
    x = q(rng.uniform(-1, 0, size=(2, 5, 6)))
    x[0, 1, 1] = x[0, 1, 3] = x[0, 3, 1] = 2.0
    x[1, 2, 2] = x[1, 2, 3] = 1.0
    return x


CASES = (
    # FullyConnected
    Case("FullyConnected.forward", "four-by-seven", "4 outputs, 7 inputs",
         "Computes W @ x + b for a column vector x of 7 values and 4 outputs.",
         fully_connected(4, 7, False)),
    Case("FullyConnected.forward", "single-output", "a single output",
         "Handles a layer with one output, where y has shape (1, 1).",
         fully_connected(1, 5, False), ("single-output",)),
    Case("FullyConnected.forward", "wide", "9 outputs, 3 inputs",
         "Handles more outputs than inputs.",
         fully_connected(9, 3, False)),
    Case("FullyConnected.backward", "four-by-seven", "4 outputs, 7 inputs",
         "Computes dv_x, dv_W and dv_b, each in the shape of what it is the derivative with respect to.",
         fully_connected(4, 7, True)),
    Case("FullyConnected.backward", "single-output", "a single output",
         "Keeps dv_b a column, (1, 1), for a layer with one output.",
         fully_connected(1, 5, True), ("single-output",)),
    Case("FullyConnected.backward", "wide", "9 outputs, 3 inputs",
         "Keeps dv_W in W's (9, 3) shape when there are more outputs than inputs.",
         fully_connected(9, 3, True)),
    # Conv2D
    Case("Conv2D.forward", "three-by-three-pad-1", "3x3 kernel, stride 1, padding 1",
         "Cross-correlates three 3x3 filters with a 2-channel 5x6 input padded by one pixel.",
         conv((2, 5, 6), (3, 2, 3, 3), 1, 1, False), ("padding",)),
    Case("Conv2D.forward", "tuple-strides-and-padding", "2x3 kernel, strides (2, 1), padding (1, 2)",
         "Uses a stride and a padding of their own for the height and the width.",
         conv((3, 6, 7), (2, 3, 2, 3), (2, 1), (1, 2), False), ("tuple", "padding", "non-square")),
    Case("Conv2D.forward", "stride-2-no-padding", "3x2 kernel, stride 2, no padding",
         "Starts a window every 2 pixels of an input without padding, with a non-square kernel.",
         conv((1, 6, 5), (4, 1, 3, 2), 2, 0, False), ("stride", "non-square")),
    Case("Conv2D.forward", "stride-3-pad-2-uneven", "stride 3 that does not divide, padding 2",
         "Uses stride 3 and padding 2, where the stride does not divide the padded size; the last rows "
         "and columns are never reached.",
         conv((2, 7, 8), (2, 2, 3, 2), 3, 2, False), ("stride", "padding", "uneven-geometry")),
    Case("Conv2D.backward", "three-by-three-pad-1", "3x3 kernel, stride 1, padding 1",
         "Computes dv_x, dv_W and dv_b for stride 1 and one pixel of padding.",
         conv((2, 5, 6), (3, 2, 3, 3), 1, 1, True), ("padding",)),
    Case("Conv2D.backward", "tuple-strides-and-padding", "2x3 kernel, strides (2, 1), padding (1, 2)",
         "Places each window's gradient s_h rows and s_w columns apart, then removes the padding.",
         conv((3, 6, 7), (2, 3, 2, 3), (2, 1), (1, 2), True), ("tuple", "padding", "non-square")),
    Case("Conv2D.backward", "stride-2-no-padding", "3x2 kernel, stride 2, no padding",
         "Computes the gradients of a non-square kernel with stride 2 and no padding.",
         conv((1, 6, 5), (4, 1, 3, 2), 2, 0, True), ("stride", "non-square")),
    Case("Conv2D.backward", "stride-3-pad-2-uneven", "stride 3 that does not divide, padding 2",
         "Gives zero gradient to the rows and columns no window reaches, with stride 3 and padding 2.",
         conv((2, 7, 8), (2, 2, 3, 2), 3, 2, True), ("stride", "padding", "uneven-geometry")),
    Case("Conv2D.backward", "one-by-one-pad-2", "1x1 kernel, padding 2",
         "Uses a 1x1 kernel with padding 2, where many windows see only padding.",
         conv((3, 3, 4), (2, 3, 1, 1), 1, 2, True), ("padding",)),
    # MaxPool2D
    Case("MaxPool2D.forward", "two-by-two-stride-2", "2x2 windows, stride 2",
         "Takes the maximum of each non-overlapping 2x2 window.",
         pool(tie_free(2, 4, 6), 2, 2, 0, False)),
    Case("MaxPool2D.forward", "tuple-strides", "3x2 windows, strides (2, 1)",
         "Uses a non-square window and a stride of its own for each axis; windows overlap along the width.",
         pool(tie_free(2, 7, 5), (3, 2), (2, 1), 0, False), ("tuple", "non-square", "overlap")),
    Case("MaxPool2D.forward", "overlapping-windows", "overlapping 3x3 windows, stride 1",
         "Takes the maximum of 3x3 windows that start every pixel and overlap.",
         pool(tie_free(1, 5, 6), 3, 1, 0, False), ("overlap",)),
    Case("MaxPool2D.forward", "negative-input-padding-1", "an all-negative input, padding 1",
         "Pads with minus infinity: on an all-negative input, zero padding would win the border windows.",
         pool(negative(2, 5, 4), 2, 2, 1, False), ("padding",)),
    Case("MaxPool2D.forward", "uneven-geometry", "3x2 windows, stride 2, uneven",
         "Uses a non-square window where the stride does not divide the input size.",
         pool(tie_free(1, 7, 6), (3, 2), 2, 0, False), ("non-square", "uneven-geometry")),
    Case("MaxPool2D.backward", "flat-window", "a window whose inputs are all equal",
         "Applies the tie rule to a 2x2 window in which all four inputs are equal.",
         pool(_flat, 2, 2, 0, True), ("ties",)),
    Case("MaxPool2D.backward", "two-tied-maxima", "two tied maxima in one window",
         "Applies the tie rule to windows with two tied maxima on a diagonal.",
         pool(_diagonal, 2, 2, 0, True), ("ties",)),
    Case("MaxPool2D.backward", "four-way-tie", "four tied maxima in one window",
         "Applies the tie rule to a 3x3 window whose four corners share the maximum.",
         pool(_four_way, 3, 3, 0, True), ("ties",)),
    Case("MaxPool2D.backward", "shared-maximum-overlap", "one input is the maximum of several windows",
         "Adds up the gradients of every overlapping window whose maximum is the same input.",
         pool(_shared, 3, 1, 0, True), ("overlap",)),
    Case("MaxPool2D.backward", "overlap-with-ties", "ties inside overlapping windows",
         "Applies the tie rule in overlapping windows and adds up the gradients they share.",
         pool(_overlap_ties, 3, 2, 0, True), ("ties", "overlap")),
    Case("MaxPool2D.backward", "negative-input-padding-1", "an all-negative input, padding 1",
         "Sends every window's gradient to an input, never to the padding, on an all-negative input.",
         pool(negative(2, 5, 4), 2, 2, 1, True), ("padding",)),
    Case("MaxPool2D.backward", "tuple-strides", "3x2 windows, strides (2, 1)",
         "Routes each window's gradient with a stride of its own for each axis, adding where windows "
         "overlap along the width.",
         pool(tie_free(2, 7, 5), (3, 2), (2, 1), 0, True), ("tuple", "non-square", "overlap")),
    Case("MaxPool2D.backward", "uneven-geometry", "3x2 windows, stride 2, uneven",
         "Gives zero gradient to the rows no window reaches.",
         pool(tie_free(1, 7, 6), (3, 2), 2, 0, True), ("non-square", "uneven-geometry")),
    # ReLU (graded when assignment.toml gives it points)
    Case("ReLU.forward", "with-exact-zeros", "input with exact zeros",
         "Keeps positive inputs and zeroes the rest, including inputs that are exactly 0.",
         relu((2, 4, 3), False), ("zeros",)),
    Case("ReLU.backward", "with-exact-zeros", "input with exact zeros",
         "Passes dv_y where x > 0 and blocks it where x <= 0, including at x == 0.",
         relu((2, 4, 3), True), ("zeros",)),
)
