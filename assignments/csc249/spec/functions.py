"""What this assignment may grade: the methods of the layer classes in layer.py.

The grader constructs each object with the case's constructor arguments, by position
(no initializers: weights_init and bias_init stay None), sets W and b to the case's
arrays where the class has them, and calls the method. backward gets the forward
pass's input again, so it is graded on its own, on a fresh object.
"""
from grader.authoring.spec import Method, Windows

COPIED_FILES = ()

FULLY_CONNECTED = dict(init_args=("shape",), attributes={"W": "W", "b": "b"})
CONV = dict(init_args=("filter_size", "strides", "padding"), attributes={"W": "W", "b": "b"})
POOL = dict(init_args=("pool_size", "strides", "padding"))
POOL_WINDOWS = dict(input="x", size="pool_size", stride="strides", padding="padding")

FUNCTIONS = (
    Method("FullyConnected", "forward", "layer.py", **FULLY_CONNECTED, args=("x",), returns="y"),
    Method("FullyConnected", "backward", "layer.py", **FULLY_CONNECTED, args=("x", "dv_y"),
           returns=["dv_x", "dv_W", "dv_b"]),
    Method("Conv2D", "forward", "layer.py", **CONV, args=("x",), returns="y"),
    Method("Conv2D", "backward", "layer.py", **CONV, args=("x", "dv_y"), returns=["dv_x", "dv_W", "dv_b"]),
    Method("MaxPool2D", "forward", "layer.py", **POOL, args=("x",), returns="y", windows=Windows(**POOL_WINDOWS)),
    Method("MaxPool2D", "backward", "layer.py", **POOL, args=("x", "dv_y"), returns="dv_x",
           windows=Windows(**POOL_WINDOWS, ties=True)),
    # ReLU ships complete in the template, as in the course's framework: not graded by default.
    Method("ReLU", "forward", "layer.py", args=("x",), returns="y"),
    Method("ReLU", "backward", "layer.py", args=("x", "dv_y"), returns="dv_x"),
)
