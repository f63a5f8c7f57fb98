"""The catalog of common mistakes: each one a subclass of a reference layer that gets one thing wrong.

The generator runs every variant on every case of its method and stores the outputs
of those that differ from the reference's; a student's wrong output that matches
them names the mistake and shows its hint.
"""
import numpy as np

from grader.authoring.spec import TIE_RULE_TEXT, Mistake

from ..reference import layer as ref
from ..reference.layer import Conv2D, FullyConnected, MaxPool2D, ReLU


# FullyConnected ---------------------------------------------------------------------

class _FullyConnectedFlatBias(FullyConnected):
    def backward(self, x, dv_y):
        dv_x, dv_W, dv_b = super().backward(x, dv_y)
        return dv_x, dv_W, dv_b.ravel()


class _FullyConnectedTransposed(FullyConnected):
    def backward(self, x, dv_y):
        dv_x, dv_W, dv_b = super().backward(x, dv_y)
        return dv_x, dv_W.T, dv_b


class _FullyConnectedNoBias(FullyConnected):
    def forward(self, x):
        return self.W @ x


# Conv2D ---------------------------------------------------------------------------------

def _flipped(W):
    return W[:, :, ::-1, ::-1]


class _ConvFlipped(Conv2D):
    """A true convolution: the kernel flipped."""

    def forward(self, x):
        flipped = Conv2D(self.W.shape, self.strides, self.padding)
        flipped.W, flipped.b = _flipped(self.W), self.b
        return Conv2D.forward(flipped, x)

    def backward(self, x, dv_y):
        flipped = Conv2D(self.W.shape, self.strides, self.padding)
        flipped.W, flipped.b = _flipped(self.W), self.b
        dv_x, dv_W, dv_b = Conv2D.backward(flipped, x, dv_y)
        return dv_x, _flipped(dv_W), dv_b


class _ConvFlatBias(Conv2D):
    def backward(self, x, dv_y):
        dv_x, dv_W, dv_b = super().backward(x, dv_y)
        return dv_x, dv_W, dv_b.ravel()


class _ConvPaddingKept(Conv2D):
    """Returns the gradient of the padded input, border and all."""

    def backward(self, x, dv_y):
        (p_h, p_w) = self.padding
        x_pad = np.pad(x, ((0, 0), (p_h, p_h), (p_w, p_w)))
        unpadded = Conv2D(self.W.shape, self.strides, 0)
        unpadded.W, unpadded.b = self.W, self.b
        return Conv2D.backward(unpadded, x_pad, dv_y)


class _ConvStrideIgnored(Conv2D):
    """Places window (i, j) at row i and column j of the padded input, as if the stride were 1."""

    def backward(self, x, dv_y):
        one = Conv2D(self.W.shape, 1, self.padding)
        one.W, one.b = self.W, self.b
        F, H_out, W_out = dv_y.shape
        (p_h, p_w) = self.padding
        full = (x.shape[1] + 2 * p_h - self.W.shape[2] + 1, x.shape[2] + 2 * p_w - self.W.shape[3] + 1)
        spread = np.zeros((F, *full))
        spread[:, :H_out, :W_out] = dv_y
        return Conv2D.backward(one, x, spread)


class _ConvStridesSwapped(Conv2D):
    """Takes the height's stride and padding for the width's and the other way round."""

    def _swapped(self):
        swapped = Conv2D(self.W.shape, self.strides[::-1], self.padding[::-1])
        swapped.W, swapped.b = self.W, self.b
        return swapped

    def forward(self, x):
        return Conv2D.forward(self._swapped(), x)


class _ConvNoBias(Conv2D):
    def forward(self, x):
        return super().forward(x) - self.b[:, :, None]


class _ConvEmptySlice(Conv2D):
    """Crops the padding with dv_x_pad[:, p:-p, p:-p], which is empty when the padding is 0."""

    def backward(self, x, dv_y):
        dv_x_pad, dv_W, dv_b = _ConvPaddingKept.backward(self, x, dv_y)
        (p_h, p_w) = self.padding
        return dv_x_pad[:, p_h:-p_h, p_w:-p_w], dv_W, dv_b


# MaxPool2D ------------------------------------------------------------------------------

class _PoolZeroPadding(MaxPool2D):
    """Pads with zeros instead of minus infinity."""

    def _zero_padded(self, x):
        (p_h, p_w) = self.padding
        return np.pad(x, ((0, 0), (p_h, p_h), (p_w, p_w))), MaxPool2D(self.pool_size, self.strides, 0)

    def forward(self, x):
        padded, unpadded = self._zero_padded(x)
        return MaxPool2D.forward(unpadded, padded)

    def backward(self, x, dv_y, ties=ref.TIE_RULE):
        padded, unpadded = self._zero_padded(x)
        (p_h, p_w) = self.padding
        return MaxPool2D.backward(unpadded, padded, dv_y, ties)[:, p_h:p_h + x.shape[1], p_w:p_w + x.shape[2]]


class _PoolStrideIsPool(MaxPool2D):
    """Starts windows every pool height and pool width, whatever the strides."""

    def _wrong(self):
        return MaxPool2D(self.pool_size, self.pool_size, self.padding)

    def forward(self, x):
        return _resized(MaxPool2D.forward(self._wrong(), x), MaxPool2D.forward(self, x).shape)

    def backward(self, x, dv_y, ties=ref.TIE_RULE):
        wrong = self._wrong()
        return MaxPool2D.backward(wrong, x, _resized(dv_y, MaxPool2D.forward(wrong, x).shape), ties)


def _resized(array, shape):
    """array cut or zero-padded to shape (the windows a wrong stride makes are not the right ones)."""
    out = np.zeros(shape)
    rows, cols = min(shape[1], array.shape[1]), min(shape[2], array.shape[2])
    out[:, :rows, :cols] = array[:, :rows, :cols]
    return out


def _pool_tie_rule(rule):
    class PoolTies(MaxPool2D):
        def backward(self, x, dv_y, ties=rule):
            return super().backward(x, dv_y, ties=rule)
    return PoolTies


def _pool_overlap_assigned(rule):
    class PoolAssigned(MaxPool2D):
        """Window by window, sets the gradient of the window's inputs instead of adding to it."""

        def backward(self, x, dv_y, ties=rule):
            (ph, pw), (s_h, s_w), (p_h, p_w) = self.pool_size, self.strides, self.padding
            x_pad = np.pad(x, ((0, 0), (p_h, p_h), (p_w, p_w)), constant_values=-np.inf)
            dv_pad = np.zeros(x_pad.shape)
            single = MaxPool2D((ph, pw), 1, 0)
            for i in range(dv_y.shape[1]):
                for j in range(dv_y.shape[2]):
                    rows, cols = slice(i * s_h, i * s_h + ph), slice(j * s_w, j * s_w + pw)
                    dv_pad[:, rows, cols] = MaxPool2D.backward(single, x_pad[:, rows, cols],
                                                               dv_y[:, i:i + 1, j:j + 1], rule)
            return dv_pad[:, p_h:p_h + x.shape[1], p_w:p_w + x.shape[2]]
    return PoolAssigned


# ReLU -----------------------------------------------------------------------------------

class _ReluGradientAtZero(ReLU):
    def backward(self, x, dv_y):
        return np.where(x >= 0, dv_y, 0.0)


_RULE_BEHAVIOUR = {
    "all": "gives the full gradient to every one of several tied maxima",
    "split": "splits the gradient equally between tied maxima",
    "first": "gives the gradient only to the first of several tied maxima (PyTorch's rule)",
}

MISTAKES = (
    Mistake("FullyConnected.forward", "bias-dropped", "bias dropped",
            "Your FullyConnected.forward leaves out the bias: y = W @ x + b.", _FullyConnectedNoBias),
    Mistake("FullyConnected.backward", "flat-bias-gradient", "dv_b of shape (out,), not (out, 1)",
            "Your dv_b is a flat array. b is a column of shape (out_size, 1), and its gradient has its "
            "shape: keep dv_b a column (dv_y itself, or reshape(-1, 1)).", _FullyConnectedFlatBias, confusion=True),
    Mistake("FullyConnected.backward", "dw-transposed", "dv_W transposed",
            "Your dv_W has shape (in_size, out_size); W is (out_size, in_size). dv_W = dv_y @ x.T.",
            _FullyConnectedTransposed, confusion=True),
    Mistake("Conv2D.forward", "kernel-flipped", "kernel flipped (true convolution)",
            "Your Conv2D.forward flips the kernel, as a textbook convolution does. This layer computes a "
            "cross-correlation: multiply each window by W[f] as it is.", _ConvFlipped, confusion=True),
    Mistake("Conv2D.forward", "strides-swapped", "height and width strides or padding swapped",
            "Your Conv2D.forward uses the height's stride or padding along the width. strides and padding "
            "are (height, width) pairs: s_h and p_h go with the rows, s_w and p_w with the columns.",
            _ConvStridesSwapped, confusion=True),
    Mistake("Conv2D.forward", "bias-dropped", "bias dropped",
            "Your Conv2D.forward leaves out the bias: add b[f] to every output of filter f.", _ConvNoBias),
    Mistake("Conv2D.backward", "kernel-flipped", "kernel flipped (true convolution)",
            "Your Conv2D.backward treats the layer as a true convolution with a flipped kernel. The forward "
            "pass is a cross-correlation, so dv_x adds dv_y * W[f] unflipped into each window, and dv_W adds "
            "dv_y * window unflipped.", _ConvFlipped),
    Mistake("Conv2D.backward", "flat-bias-gradient", "dv_b of shape (F,), not (F, 1)",
            "Your dv_b is a flat array. b is a column of shape (F, 1), and its gradient has its shape: "
            "dv_y.sum(axis=(1, 2)).reshape(-1, 1).", _ConvFlatBias, confusion=True),
    Mistake("Conv2D.backward", "stride-ignored", "stride ignored",
            "Your Conv2D.backward places window (i, j) at row i and column j of the padded input, as if "
            "the stride were 1. Window (i, j) starts at row i * s_h and column j * s_w.", _ConvStrideIgnored, confusion=True),
    Mistake("Conv2D.backward", "padding-kept", "dv_x returned with the padding",
            "Your dv_x still has the padding on: it has shape (C, H + 2 * p_h, W + 2 * p_w). Cut it to "
            "x's shape: dv_x_pad[:, p_h:p_h + H, p_w:p_w + W].", _ConvPaddingKept, confusion=True),
    Mistake("Conv2D.backward", "empty-slice-at-padding-0", "dv_x sliced [p:-p], empty when the padding is 0",
            "Your dv_x has height 0 when the padding is 0: slicing [p:-p] with p == 0 gives an empty array, "
            "since -0 is 0. Slice dv_x_pad[:, p_h:p_h + H, p_w:p_w + W] instead.", _ConvEmptySlice,
            confusion=True),
    Mistake("MaxPool2D.forward", "zero-padding", "padded with zeros, not minus infinity",
            "Your MaxPool2D pads with zeros, so on negative inputs the padding wins the border windows. "
            "Padding counts as minus infinity: np.pad(..., constant_values=-np.inf).", _PoolZeroPadding, confusion=True),
    Mistake("MaxPool2D.forward", "stride-as-pool-size", "stride taken as the pool size",
            "Your MaxPool2D.forward starts windows every pool height and pool width. Windows start every "
            "stride: window (i, j) starts at row i * s_h and column j * s_w.", _PoolStrideIsPool, confusion=True),
    Mistake("MaxPool2D.backward", "zero-padding", "padded with zeros, not minus infinity",
            "Your MaxPool2D.backward pads with zeros, so on negative inputs the padding wins the border "
            "windows and their gradient is lost. Padding counts as minus infinity: it never wins a window.",
            _PoolZeroPadding, confusion=True),
    Mistake("MaxPool2D.backward", "stride-as-pool-size", "stride taken as the pool size",
            "Your MaxPool2D.backward starts windows every pool height and pool width. Windows start every "
            "stride: window (i, j) starts at row i * s_h and column j * s_w.", _PoolStrideIsPool, confusion=True),
    Mistake("ReLU.backward", "gradient-at-zero", "gradient passed at x == 0",
            "Your ReLU.backward lets the gradient through where x == 0. The derivative of max(x, 0) is "
            "taken to be 0 there: use x > 0, not x >= 0.", _ReluGradientAtZero),
)


def catalog(tie_rule):
    """The mistakes for an assignment whose tie rule is `tie_rule`."""
    tie_mistakes = tuple(
        Mistake("MaxPool2D.backward", f"ties-{rule}", f"tie rule '{rule}' instead of '{tie_rule}'",
                f"Your MaxPool2D.backward {_RULE_BEHAVIOUR[rule]}. This assignment's rule is '{tie_rule}': "
                f"{TIE_RULE_TEXT[tie_rule]}.", _pool_tie_rule(rule), tie_rule=rule, confusion=True)
        for rule in ("all", "split", "first") if rule != tie_rule)
    return MISTAKES + tie_mistakes + (
        Mistake("MaxPool2D.backward", "overlap-assigned", "overlapping windows assigned, not added",
                "Where pooling windows overlap, your MaxPool2D.backward overwrites the gradient an earlier "
                "window gave an input. Add each window's gradient with +=: an input that is the maximum of "
                "several windows receives the sum of their gradients.", _pool_overlap_assigned(tie_rule),
                confusion=True),
    )
