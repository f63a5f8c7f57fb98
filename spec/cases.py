"""The cases: what every test checks, its values drawn with fixed seeds, and its story.

A case is a function's name, a slug, a short label (the test's name a student
sees), a one-sentence description, tags, and build(rng), which draws the case's
named values from a seeded numpy RandomState (whose stream numpy keeps fixed across
versions). spec/functions.py says which names become which arguments.

Random values are rounded to multiples of 1/64 (see grader.authoring.spec.q), so
that most sums and products in the expected values are exact in float64.
"""
import numpy as np

from grader.authoring.spec import Case, distinct, q, randn


# What the cases with a tag have in common: when a function fails exactly the cases with
# one of these, the feedback says so ("only the cases with regularization (reg > 0) fail").
TAGS = {
    "reg": "regularization (reg > 0)",
    "large-scores": "scores near 1000",
    "ties": "tied maxima",
    "overlap": "overlapping windows",
    "stride": "a stride of its own (not 1, nor the window's size)",
    "pad": "padding",
    "uneven-geometry": "a stride that does not divide the input's size",
    "non-square": "non-square windows or inputs",
    "batch-of-one": "a batch of one",
    "multi-dim": "inputs of more than two dimensions",
    "zeros": "inputs that are exactly 0",
    "slope": "a slope other than the default",
    "dtype": "a dtype other than float64",
    "train": "training mode",
    "test": "test mode",
    "eps": "a large eps",
}


# Builders, one family per function ---------------------------------------------

def affine_forward(x_shape, M):
    def build(rng):
        D = int(np.prod(x_shape[1:]))
        return {"x": randn(rng, *x_shape), "w": randn(rng, D, M), "b": randn(rng, M)}
    return build


def affine_backward(x_shape, M):
    def build(rng):
        D = int(np.prod(x_shape[1:]))
        return {"x": randn(rng, *x_shape), "w": randn(rng, D, M), "b": randn(rng, M),
                "dout": randn(rng, x_shape[0], M)}
    return build


def with_zeros(rng, shape, fraction=0.25):
    x = randn(rng, *shape)
    x[rng.rand(*shape) < fraction] = 0.0
    return x


def relu_forward(shape, zeros=True, sign=0):
    def build(rng):
        x = with_zeros(rng, shape) if zeros else randn(rng, *shape)
        if sign:
            x = sign * np.abs(x)
        return {"x": x}
    return build


def relu_backward(shape, zeros=True):
    def build(rng):
        x = with_zeros(rng, shape) if zeros else randn(rng, *shape)
        if not zeros:
            x[x == 0] = 0.25   # (an input rounded to 0) so that no input is exactly 0
        return {"x": x, "dout": randn(rng, *shape)}
    return build


def leaky_forward(shape, slope=None):
    def build(rng):
        values = {"x": with_zeros(rng, shape)}
        if slope is not None:
            values["negative_slope"] = slope
        return values
    return build


def leaky_backward(shape, slope):
    def build(rng):
        return {"x": with_zeros(rng, shape), "dout": randn(rng, *shape), "negative_slope": slope}
    return build


def softmax(N, C, scale=1.0, offset=0.0):
    def build(rng):
        x = randn(rng, N, C, scale=scale) + offset
        return {"x": x, "y": rng.randint(0, C, size=N).astype(np.int64)}
    return build


def conv(x_shape, w_shape, stride, pad, backward):
    def build(rng):
        N = x_shape[0]
        H, W = x_shape[2:]
        F, _, HH, WW = w_shape
        values = {"x": randn(rng, *x_shape), "w": randn(rng, *w_shape), "b": randn(rng, F),
                  "conv_param": {"stride": stride, "pad": pad}}
        if backward:
            H_out, W_out = 1 + (H + 2 * pad - HH) // stride, 1 + (W + 2 * pad - WW) // stride
            values["dout"] = randn(rng, N, F, H_out, W_out)
        return values
    return build


def pool(x, ph, pw, stride, backward):
    """`x` is an array or a function rng -> array."""
    def build(rng):
        data = x(rng) if callable(x) else np.asarray(x, dtype=np.float64)
        values = {"x": data, "pool_param": {"pool_height": ph, "pool_width": pw, "stride": stride}}
        if backward:
            H_out, W_out = 1 + (data.shape[2] - ph) // stride, 1 + (data.shape[3] - pw) // stride
            # Positive, distinct upstream values make every misrouted gradient visible.
            dout = q(1 + rng.permutation(np.arange(int(np.prod(data.shape[:2]) * H_out * W_out))) / 4)
            values["dout"] = dout.reshape(data.shape[0], data.shape[1], H_out, W_out)
        return values
    return build


def integers(*shape, high=3):
    return lambda rng: rng.randint(0, high, size=shape).astype(np.float64)


def tie_free(*shape):
    return lambda rng: distinct(rng, *shape)


def batchnorm(N, D, mode, momentum=0.9, eps=1e-5, backward=False, shift=0.0):
    """Values for batch normalization: features of different means and spreads, a scale
    gamma in [1, 2), and running statistics that differ from the batch's."""
    def build(rng):
        x = randn(rng, N, D, scale=2.0) + shift
        values = {"x": x, "gamma": q(1 + rng.rand(D)), "beta": randn(rng, D),
                  "bn_param": {"mode": mode, "eps": eps, "momentum": momentum,
                               "running_mean": randn(rng, D, scale=0.5),
                               "running_var": q(0.5 + rng.rand(D))}}
        if backward:
            values["dout"] = randn(rng, N, D)
        return values
    return build


def dropout(shape, p, mode, backward=False):
    def build(rng):
        seed = int(rng.randint(0, 2**31 - 1))
        param = {"mode": mode, "p": p, "seed": seed}
        if not backward:
            return {"x": randn(rng, *shape), "dropout_param": param}
        # The mask dropout_forward draws with this seed: kept inputs scaled by 1 / p.
        mask = (np.random.RandomState(seed).rand(*shape) < p) / p if mode == "train" else None
        return {"dout": randn(rng, *shape), "dropout_param": param, "mask": mask}
    return build


def fcnet_init(input_dim, hidden_dims, num_classes, weight_scale, dtype=np.float64):
    def build(rng):
        return {"input_dim": input_dim, "hidden_dims": list(hidden_dims), "num_classes": num_classes,
                "weight_scale": weight_scale, "dtype": dtype, "seed": int(rng.randint(0, 2**31 - 1))}
    return build


def fcnet_loss(N, input_dim, hidden_dims, num_classes, reg, with_labels=True):
    def build(rng):
        dims = [input_dim, *hidden_dims, num_classes]
        values = {"X": randn(rng, N, input_dim), "input_dim": input_dim, "hidden_dims": list(hidden_dims),
                  "num_classes": num_classes, "weight_scale": 1e-2, "reg": reg}
        params = {}
        for layer in range(1, len(dims)):
            params[f"W{layer}"] = randn(rng, dims[layer - 1], dims[layer], scale=0.5)
            params[f"b{layer}"] = randn(rng, dims[layer], scale=0.25)
        values["params"] = params
        if with_labels:
            values["y"] = rng.randint(0, num_classes, size=N).astype(np.int64)
        return values
    return build


# The cases ----------------------------------------------------------------------

def _max_pool_flat(rng):
    return np.full((1, 1, 2, 2), 1.5)


def _max_pool_diagonal(rng):
    x = q(rng.uniform(-1, 0.5, size=(1, 2, 4, 4)))
    x[0, 0, 0, 0] = x[0, 0, 1, 1] = 2.0   # top-left window: tie on the main diagonal
    x[0, 1, 2, 3] = x[0, 1, 3, 2] = 1.25  # bottom-right window: tie on the anti-diagonal
    return x


def _max_pool_four_way(rng):
    x = q(rng.uniform(-1, 0.5, size=(1, 1, 3, 3)))
    for r, c in ((0, 0), (0, 2), (2, 0), (2, 2)):
        x[0, 0, r, c] = 3.0
    return x


def _max_pool_shared(rng):
    x = distinct(rng, 2, 1, 5, 5) - 10   # all negative ...
    x[0, 0, 2, 2] = 5.0                   # ... except one maximum shared by 3x3 windows
    x[1, 0, 1, 3] = 5.0
    return x


def _max_pool_overlap_ties(rng):
    x = q(rng.uniform(-1, 0, size=(1, 2, 5, 5)))
    x[0, 0, 1, 1] = x[0, 0, 1, 3] = x[0, 0, 3, 1] = 2.0
    x[0, 1, 2, 2] = x[0, 1, 2, 3] = 1.0
    return x


CASES = (
    # affine_forward
    Case("affine_forward", "two-dim-input", "2-D input",
             "Computes x @ w + b for a small batch of row vectors.",
             affine_forward((4, 5), 3)),
    Case("affine_forward", "multi-dim-input", "4-D input reshaped into rows",
             "Reshapes each example of a 4-D x into a row of D values before the product.",
             affine_forward((2, 3, 2, 2), 5), ("multi-dim",)),
    Case("affine_forward", "single-example", "a batch of one",
             "Handles a batch with a single example, N = 1.",
             affine_forward((1, 2, 3), 4), ("batch-of-one",)),
    # affine_backward
    Case("affine_backward", "two-dim-input", "2-D input",
             "Computes dx, dw and db for a small batch of row vectors, with a random upstream gradient.",
             affine_backward((4, 5), 3)),
    Case("affine_backward", "multi-dim-input", "4-D input reshaped into rows",
             "Returns dx in the 4-D shape of x, and dw for the flattened rows.",
             affine_backward((3, 2, 2, 3), 4), ("multi-dim",)),
    Case("affine_backward", "more-outputs-than-inputs", "more outputs than inputs",
             "Keeps dw in w's (D, M) shape when M > D.",
             affine_backward((5, 3), 7)),
    Case("affine_backward", "single-example", "a batch of one",
             "Handles a batch with a single example, N = 1, where db equals dout's only row.",
             affine_backward((1, 3, 2), 4), ("batch-of-one",)),
    # relu
    Case("relu_forward", "with-exact-zeros", "input with exact zeros",
             "Keeps positive inputs and zeroes the rest, including inputs that are exactly 0.",
             relu_forward((3, 6)), ("zeros",)),
    Case("relu_forward", "all-negative", "all-negative 3-D input",
             "Returns all zeros when every input is negative or zero.",
             relu_forward((2, 3, 4), sign=-1), ("zeros",)),
    Case("relu_backward", "no-zeros", "input without zeros",
             "Passes dout where x > 0 and blocks it where x < 0.",
             relu_backward((3, 4), zeros=False)),
    Case("relu_backward", "with-exact-zeros", "input with exact zeros",
             "Passes dout where x > 0 and blocks it where x <= 0, including at x == 0.",
             relu_backward((4, 5)), ("zeros",), edge=True),
    Case("relu_backward", "four-dim", "4-D input",
             "Works elementwise on a 4-D input that contains exact zeros.",
             relu_backward((2, 2, 3, 3)), ("zeros",), edge=True),
    # leaky relu
    Case("leaky_relu_forward", "default-slope", "default slope",
             "Uses negative_slope = 0.01 when the argument is not given.",
             leaky_forward((3, 5)), ("zeros",)),
    Case("leaky_relu_forward", "slope-0.25", "slope 0.25",
             "Multiplies the inputs <= 0 by the given negative_slope of 0.25.",
             leaky_forward((4, 4), 0.25), ("slope",)),
    Case("leaky_relu_forward", "steep-slope", "slope 0.5 on a 3-D input",
             "Uses a negative_slope of 0.5 on a 3-D input with exact zeros.",
             leaky_forward((2, 3, 3), 0.5), ("slope", "zeros")),
    Case("leaky_relu_backward", "default-slope", "slope 0.01 from the cache",
             "Scales dout by 0.01 where x <= 0 when the cache holds the default slope.",
             leaky_backward((3, 5), 0.01), ("zeros",)),
    Case("leaky_relu_backward", "slope-0.25", "slope 0.25 from the cache",
             "Reads negative_slope = 0.25 from the cache and scales dout by it where x <= 0.",
             leaky_backward((4, 4), 0.25), ("slope", "zeros")),
    Case("leaky_relu_backward", "steep-slope-with-zeros", "slope 0.5 with exact zeros",
             "Treats x == 0 as the negative side, with negative_slope = 0.5 from the cache.",
             leaky_backward((2, 3, 4), 0.5), ("slope", "zeros")),
    # softmax
    Case("softmax_loss", "small-scores", "small scores",
             "Computes the mean cross-entropy and its gradient for a batch of small scores.",
             softmax(5, 4)),
    Case("softmax_loss", "large-scores", "scores around 1000",
             "Stays finite and exact when the scores are around +-1000, where exp overflows.",
             softmax(4, 5, scale=400.0, offset=600.0), ("large-scores",), edge=True),
    Case("softmax_loss", "single-example", "a batch of one",
             "Handles N = 1, where the mean is over a single example.",
             softmax(1, 6), ("batch-of-one",)),
    Case("softmax_loss", "many-classes", "many classes",
             "Handles 20 classes for a batch of 8 examples.",
             softmax(8, 20, scale=3.0)),
    # conv_forward
    Case("conv_forward", "stride-1-pad-1", "3x3 kernel, stride 1, pad 1",
             "Cross-correlates a 3x3 kernel with stride 1 and one pixel of zero padding.",
             conv((2, 3, 5, 5), (4, 3, 3, 3), 1, 1, False), ("pad",)),
    Case("conv_forward", "stride-2-pad-1", "stride 2, pad 1",
             "Moves the windows two pixels at a time, on a padded input with H != W.",
             conv((2, 2, 6, 7), (3, 2, 3, 3), 2, 1, False), ("stride", "pad")),
    Case("conv_forward", "stride-3-pad-2-uneven", "stride 3 that does not divide evenly",
             "Uses stride 3 and pad 2 where the stride does not divide the padded size; the last "
             "rows and columns are never reached.",
             conv((2, 2, 7, 8), (2, 2, 3, 2), 3, 2, False), ("stride", "pad", "uneven-geometry")),
    Case("conv_forward", "non-square-kernel", "2x4 kernel, no padding",
             "Uses a non-square 2x4 kernel without padding on a 5x6 input.",
             conv((1, 3, 5, 6), (2, 3, 2, 4), 1, 0, False), ("non-square",)),
    Case("conv_forward", "pad-2-non-square", "3x2 kernel, pad 2, on a 4x6 input",
         "Pads by two pixels on each side, with a non-square kernel, more filters than channels and a "
         "non-square input.",
         conv((2, 2, 4, 6), (3, 2, 3, 2), 1, 2, False), ("pad", "non-square")),
    # conv_backward
    Case("conv_backward", "stride-1-pad-1", "3x3 kernel, stride 1, pad 1",
             "Computes dx, dw and db for stride 1 and one pixel of padding, with a random upstream "
             "gradient.",
             conv((2, 3, 5, 5), (4, 3, 3, 3), 1, 1, True), ("pad",)),
    Case("conv_backward", "stride-1-pad-0", "stride 1, no padding",
             "Computes the gradients of a 3x3 kernel with stride 1 and no padding.",
             conv((2, 2, 5, 6), (3, 2, 3, 3), 1, 0, True)),
    Case("conv_backward", "stride-2-pad-1", "stride 2, pad 1",
             "Places each window's gradient two pixels apart, then removes the padding from dx.",
             conv((2, 2, 6, 7), (3, 2, 3, 3), 2, 1, True), ("stride", "pad")),
    Case("conv_backward", "stride-3-pad-2-uneven", "stride 3 that does not divide evenly",
             "Gives zero gradient to the rows and columns no window reaches, with stride 3 and pad 2.",
             conv((2, 2, 7, 8), (2, 2, 3, 2), 3, 2, True), ("stride", "pad", "uneven-geometry")),
    Case("conv_backward", "non-square-kernel", "2x4 kernel on a non-square input",
             "Handles a non-square 2x4 kernel, stride 2, on a 5x7 input.",
             conv((2, 3, 5, 7), (2, 3, 2, 4), 2, 0, True), ("non-square", "stride")),
    Case("conv_backward", "single-channel-single-example", "one example, one channel",
             "Handles N = 1 and C = 1 with one pixel of padding.",
             conv((1, 1, 4, 4), (2, 1, 3, 3), 1, 1, True), ("batch-of-one", "pad")),
    Case("conv_backward", "one-by-one-kernel", "1x1 kernel, pad 2",
             "Uses a 1x1 kernel with pad 2, where many padded windows see only zeros.",
             conv((2, 3, 3, 4), (2, 3, 1, 1), 1, 2, True), ("pad",)),
    # max_pool_forward
    Case("max_pool_forward", "two-by-two-stride-2", "2x2 windows, stride 2",
             "Takes the maximum of each non-overlapping 2x2 window.",
             pool(tie_free(2, 2, 4, 6), 2, 2, 2, False)),
    Case("max_pool_forward", "overlapping-windows", "overlapping 3x3 windows",
             "Takes the maximum of 3x3 windows that start every pixel and overlap.",
             pool(tie_free(1, 2, 5, 5), 3, 3, 1, False), ("overlap",)),
    Case("max_pool_forward", "stride-differs-from-pool", "2x2 windows, stride 3",
             "Starts a window every 3 pixels although the window is 2x2.",
             pool(tie_free(1, 2, 8, 8), 2, 2, 3, False), ("stride",)),
    Case("max_pool_forward", "uneven-geometry", "3x2 windows, stride 2, uneven",
             "Uses a non-square 3x2 window where the stride does not divide the input size.",
             pool(tie_free(2, 1, 6, 7), 3, 2, 2, False), ("non-square", "uneven-geometry")),
    Case("max_pool_forward", "wide-window", "2x4 windows on a 5x8 input",
         "Uses a window wider than it is tall, where taking the pool height for the width gives another "
         "output width.",
         pool(tie_free(2, 3, 5, 8), 2, 4, 2, False), ("non-square",)),
    # max_pool_backward: mostly ties
    Case("max_pool_backward", "flat-window", "a window whose inputs are all equal",
             "Applies the tie rule to a 2x2 window in which all four inputs are equal.",
             pool(_max_pool_flat, 2, 2, 2, True), ("ties",)),
    Case("max_pool_backward", "two-tied-maxima", "two tied maxima in one window",
             "Applies the tie rule to windows with two tied maxima on a diagonal.",
             pool(_max_pool_diagonal, 2, 2, 2, True), ("ties",)),
    Case("max_pool_backward", "four-way-tie", "four tied maxima in one window",
             "Applies the tie rule to a 3x3 window whose four corners share the maximum.",
             pool(_max_pool_four_way, 3, 3, 3, True), ("ties",)),
    Case("max_pool_backward", "shared-maximum-overlap", "one input is the maximum of several windows",
             "Adds up the gradients of every overlapping window whose maximum is the same input.",
             pool(_max_pool_shared, 3, 3, 1, True), ("overlap",)),
    Case("max_pool_backward", "overlap-with-ties", "ties inside overlapping windows",
             "Applies the tie rule in overlapping windows and adds up the gradients they share.",
             pool(_max_pool_overlap_ties, 3, 3, 2, True), ("ties", "overlap")),
    Case("max_pool_backward", "integer-valued-many-ties", "integer inputs full of ties",
             "Applies the tie rule to inputs drawn from {0, 1, 2}, where most windows tie.",
             pool(integers(2, 2, 6, 6), 2, 2, 2, True), ("ties",)),
    Case("max_pool_backward", "tie-free", "2x2 windows without ties",
             "Routes each window's gradient to its single maximum.",
             pool(tie_free(2, 2, 4, 4), 2, 2, 2, True)),
    Case("max_pool_backward", "tie-free-overlap", "overlapping windows without ties",
             "Adds the gradients of overlapping 3x3 windows, stride 2, at their maxima.",
             pool(tie_free(1, 2, 7, 7), 3, 3, 2, True), ("overlap",)),
    Case("max_pool_backward", "stride-differs-from-pool", "2x2 windows, stride 3",
             "Starts a window every 3 pixels although the window is 2x2; inputs between windows "
             "get zero gradient.",
             pool(tie_free(1, 2, 8, 8), 2, 2, 3, True), ("stride",)),
    Case("max_pool_backward", "uneven-geometry", "3x2 windows, stride 2, uneven",
             "Uses a non-square window where the stride does not divide the input size; the last "
             "row is never reached.",
             pool(tie_free(2, 1, 6, 7), 3, 2, 2, True), ("non-square", "uneven-geometry")),
    # avg pool
    Case("avg_pool_forward", "two-by-two-stride-2", "2x2 windows, stride 2",
             "Takes the mean of each non-overlapping 2x2 window.",
             pool(tie_free(2, 2, 4, 4), 2, 2, 2, False)),
    Case("avg_pool_forward", "overlapping-windows", "overlapping 3x3 windows, stride 2",
             "Takes the mean of overlapping 3x3 windows that start every 2 pixels.",
             pool(tie_free(1, 2, 7, 7), 3, 3, 2, False), ("overlap",)),
    Case("avg_pool_backward", "two-by-two-stride-2", "2x2 windows, stride 2",
             "Spreads each window's gradient evenly over its four inputs.",
             pool(tie_free(2, 2, 4, 4), 2, 2, 2, True)),
    Case("avg_pool_backward", "overlapping-windows", "overlapping 3x3 windows, stride 2",
             "Adds up the shares of every overlapping window an input belongs to.",
             pool(tie_free(1, 2, 7, 7), 3, 3, 2, True), ("overlap",)),
    Case("avg_pool_backward", "non-square-windows", "2x3 windows, stride 1",
             "Divides each window's gradient by its area, pool_height * pool_width, when the window is "
             "not square.",
             pool(tie_free(1, 2, 4, 5), 2, 3, 1, True), ("non-square", "overlap")),
    Case("avg_pool_backward", "uneven-geometry", "2x3 windows, stride 2, uneven",
             "Uses a non-square window where the stride does not divide the input size.",
             pool(tie_free(2, 1, 7, 6), 2, 3, 2, True), ("non-square", "uneven-geometry")),
    # FullyConnectedNet
    Case("FullyConnectedNet.__init__", "two-hidden-layers", "two hidden layers",
             "Creates W1..W3 and b1..b3 with the right shapes, zero biases and weights whose "
             "standard deviation is weight_scale.",
             fcnet_init(40, [50, 30], 10, 5e-2)),
    Case("FullyConnectedNet.__init__", "one-hidden-layer-float32", "one hidden layer, float32",
             "Casts every parameter to the dtype argument, here float32.",
             fcnet_init(60, [40], 20, 1e-1, np.float32), ("dtype",)),
    Case("FullyConnectedNet.loss", "scores", "scores without labels",
             "Returns the scores of a two-hidden-layer network when y is None.",
             fcnet_loss(4, 6, [5, 4], 3, 0.0, with_labels=False), returns="scores"),
    Case("FullyConnectedNet.loss", "loss-no-reg", "loss and gradients, reg = 0",
             "Computes the softmax loss and the gradient of every parameter without regularization.",
             fcnet_loss(5, 6, [5, 4], 3, 0.0)),
    Case("FullyConnectedNet.loss", "loss-with-reg", "loss and gradients, reg = 0.75",
             "Adds 0.5 * reg * sum of ||W||^2 to the loss and reg * W to every weight gradient.",
             fcnet_loss(5, 6, [5, 4], 3, 0.75), ("reg",)),
    Case("FullyConnectedNet.loss", "three-hidden-layers-reg", "three hidden layers, reg = 1.5",
             "Backpropagates through three hidden layers with regularization.",
             fcnet_loss(4, 5, [6, 4, 5], 4, 1.5), ("reg",)),
    # batch normalization (graded when assignment.toml gives it points)
    Case("batchnorm_forward", "train", "training mode",
         "Normalizes each feature with the batch's mean and variance, then scales and shifts it; "
         "updates the running mean and variance with momentum 0.9.",
         batchnorm(6, 4, "train", shift=1.5), ("train",)),
    Case("batchnorm_forward", "train-large-eps", "training mode, eps 0.25, momentum 0.5",
         "Adds eps inside the square root, and weighs the running averages with momentum 0.5.",
         batchnorm(5, 3, "train", momentum=0.5, eps=0.25), ("train", "eps")),
    Case("batchnorm_forward", "test", "test mode",
         "Normalizes with the running mean and variance, and leaves them as they are.",
         batchnorm(4, 5, "test"), ("test",)),
    Case("batchnorm_backward", "train", "training mode",
         "Backpropagates through the normalization, with the cache of your batchnorm_forward.",
         batchnorm(6, 4, "train", backward=True, shift=-1.0), ("train",)),
    Case("batchnorm_backward", "train-large-eps", "training mode, eps 0.25",
         "Backpropagates through a normalization whose eps is large enough to matter.",
         batchnorm(5, 3, "train", eps=0.25, backward=True), ("train", "eps")),
    # dropout (graded when assignment.toml gives it points)
    Case("dropout_forward", "train-keep-0.75", "training mode, p = 0.75",
         "Keeps each input with probability 0.75, with the mask drawn from the seed, and divides "
         "the kept inputs by 0.75.",
         dropout((4, 6), 0.75, "train"), ("train",)),
    Case("dropout_forward", "train-keep-0.5-three-dim", "training mode, p = 0.5, 3-D input",
         "Works on a 3-D input, keeping each input with probability 0.5.",
         dropout((2, 3, 4), 0.5, "train"), ("train",)),
    Case("dropout_forward", "test", "test mode",
         "Passes the input through unchanged in test mode.",
         dropout((3, 5), 0.75, "test"), ("test",)),
    Case("dropout_backward", "train", "training mode",
         "Sends the upstream gradient through the mask of the cache.",
         dropout((4, 6), 0.75, "train", backward=True), ("train",)),
    Case("dropout_backward", "test", "test mode",
         "Passes the upstream gradient through unchanged in test mode.",
         dropout((3, 5), 0.75, "test", backward=True), ("test",)),
)
