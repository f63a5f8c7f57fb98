"""What this assignment may grade: every function and method, and how the grader calls it.

A function is graded when assignment.toml's [points] gives it points; the others
are available to an instructor who adds them there (batchnorm and dropout are,
by default). Each declaration names the student file the function lives in, the
case values its arguments are made of, and which of its results are graded. The
human-readable contract (shapes, caches, formulas) is in the docstrings of
reference/layers.py and reference/fc_net.py, which the student template keeps.
"""
from grader.authoring.spec import Cache, Entries, Function, Method, RandomInit, Windows

# Files of reference/ that students get as they are, ungraded.
COPIED_FILES = ("gradient_check.py",)

POOL_WINDOWS = dict(input="x", size=("pool_param['pool_height']", "pool_param['pool_width']"),
                    stride="pool_param['stride']")
# Every argument of the network's constructor a case may give, by keyword.
NET_ARGUMENTS = ("input_dim", "hidden_dims", "num_classes", "weight_scale", "reg", "dtype")

FUNCTIONS = (
    Function("affine_forward", "layers.py", args=("x", "w", "b"), returns=["out", None]),
    Function("affine_backward", "layers.py", args=("dout", ("x", "w", "b")), returns=["dx", "dw", "db"]),
    Function("relu_forward", "layers.py", args=("x",), returns=["out", None]),
    Function("relu_backward", "layers.py", args=("dout", "x"), returns="dx"),
    Function("leaky_relu_forward", "layers.py", args=("x",), kwargs=("negative_slope",), returns=["out", None]),
    Function("leaky_relu_backward", "layers.py", args=("dout", ("x", "negative_slope")), returns="dx"),
    Function("softmax_loss", "layers.py", args=("x", "y"), returns=["loss", "dx"]),
    Function("conv_forward", "layers.py", args=("x", "w", "b", "conv_param"), returns=["out", None]),
    Function("conv_backward", "layers.py", args=("dout", ("x", "w", "b", "conv_param")),
             returns=["dx", "dw", "db"]),
    Function("max_pool_forward", "layers.py", args=("x", "pool_param"), returns=["out", None],
             windows=Windows(**POOL_WINDOWS)),
    Function("max_pool_backward", "layers.py", args=("dout", ("x", "pool_param")), returns="dx",
             windows=Windows(**POOL_WINDOWS, ties=True)),
    Function("avg_pool_forward", "layers.py", args=("x", "pool_param"), returns=["out", None],
             windows=Windows(**POOL_WINDOWS)),
    Function("avg_pool_backward", "layers.py", args=("dout", ("x", "pool_param")), returns="dx",
             windows=Windows(**POOL_WINDOWS)),
    # Batch normalization updates the running statistics in bn_param, which are graded too.
    Function("batchnorm_forward", "layers.py", args=("x", "gamma", "beta", "bn_param"), returns=["out", None],
             after={"running_mean": "bn_param['running_mean']", "running_var": "bn_param['running_var']"}),
    # Its cache is the student's own design: it comes from the student's batchnorm_forward.
    Function("batchnorm_backward", "layers.py", args=("dout", Cache("batchnorm_forward")),
             returns=["dx", "dgamma", "dbeta"]),
    Function("dropout_forward", "layers.py", args=("x", "dropout_param"), returns=["out", None]),
    Function("dropout_backward", "layers.py", args=("dout", ("dropout_param", "mask")), returns="dx"),
    Method("FullyConnectedNet", "__init__", "fc_net.py", init_kwargs=NET_ARGUMENTS, seed="seed",
           after={"params": "self.params"}, check=RandomInit(scale="weight_scale", zeros=("b",))),
    Method("FullyConnectedNet", "loss", "fc_net.py", init_kwargs=NET_ARGUMENTS, attributes={"params": "params"},
           args=("X", "y"), returns=["loss", Entries("grads")]),
)
