"""The locked student interface, as the grader needs it.

The human-readable contract (signatures, shapes, cache formats) is written in the
docstrings of reference/layers.py and reference/fc_net.py. This module holds the
machine-readable part the grader needs to call a function and read its answer:
which file it lives in, how a backward pass receives its cache, and which of the
returned values are graded.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

TIE_RULES = ("all", "split", "first")
TIE_RULE_TEXT = {
    "all": "every tied maximum receives the full upstream gradient",
    "split": "the k tied maxima share the upstream gradient, each receiving dout / k",
    "first": "only the first tied maximum in row-major order receives it",
}


@dataclass(frozen=True)
class FunctionSpec:
    name: str                 # "conv_backward" or "FullyConnectedNet.loss"
    module: str               # the student file, without ".py"
    returns: object           # selector: how the return value maps to named outputs
    outputs: Tuple[str, ...]  # graded outputs, in the order they are reported
    forward: Optional[str] = None  # the forward pass whose cache a backward pass takes


# Selectors: a name is a graded output, None an ignored value (a cache), a list a
# tuple of that length, and {"dict": name} a dictionary of arrays graded key by key.
FUNCTIONS = (
    FunctionSpec("affine_forward", "layers", ["out", None], ("out",)),
    FunctionSpec("affine_backward", "layers", ["dx", "dw", "db"], ("dx", "dw", "db"), "affine_forward"),
    FunctionSpec("relu_forward", "layers", ["out", None], ("out",)),
    FunctionSpec("relu_backward", "layers", "dx", ("dx",), "relu_forward"),
    FunctionSpec("leaky_relu_forward", "layers", ["out", None], ("out",)),
    FunctionSpec("leaky_relu_backward", "layers", "dx", ("dx",), "leaky_relu_forward"),
    FunctionSpec("softmax_loss", "layers", ["loss", "dx"], ("loss", "dx")),
    FunctionSpec("conv_forward", "layers", ["out", None], ("out",)),
    FunctionSpec("conv_backward", "layers", ["dx", "dw", "db"], ("dx", "dw", "db"), "conv_forward"),
    FunctionSpec("max_pool_forward", "layers", ["out", None], ("out",)),
    FunctionSpec("max_pool_backward", "layers", "dx", ("dx",), "max_pool_forward"),
    FunctionSpec("avg_pool_forward", "layers", ["out", None], ("out",)),
    FunctionSpec("avg_pool_backward", "layers", "dx", ("dx",), "avg_pool_forward"),
    FunctionSpec("FullyConnectedNet.__init__", "fc_net", {"dict": "params"}, ("params",)),
    FunctionSpec("FullyConnectedNet.loss", "fc_net", None, ("scores", "loss", "grads")),
)

BY_NAME = {spec.name: spec for spec in FUNCTIONS}
FUNCTION_NAMES = tuple(spec.name for spec in FUNCTIONS)


def output_group(output):
    """The configured output an output belongs to: 'grads.W1' -> 'grads'."""
    return output.split(".", 1)[0]
