"""The static checks' scans of imports: the text shortcut never hides an import the syntax tree shows."""
import ast

import pytest

from grader import static

FORBIDDEN = ["torch", "tensorflow", "jax", "scipy", "sklearn"]
INTERFACE = {"relu_forward": [{"name": "x", "default": False}]}
FULLWIDTH_SCIPY = "\uff53\uff43\uff49\uff50\uff59"  # Python reads these letters as "scipy"

SOURCES = {
    "plain": "import numpy as np\n\ndef relu_forward(x):\n    return np.maximum(x, 0)\n",
    "named in a comment only": "# scipy would do this in one line\ndef relu_forward(x):\n    return x\n",
    "import": "import numpy as np\nimport scipy.signal\ndef relu_forward(x):\n    return x\n",
    "import inside a function": "def relu_forward(x):\n    from torch import nn\n    return x\n",
    "full-width letters": f"import {FULLWIDTH_SCIPY}\ndef relu_forward(x):\n    return x\n",
    "full-width in a comment only": f"# {FULLWIDTH_SCIPY}\ndef relu_forward(x):\n    return x\n",
    "escaped string": 'def relu_forward(x):\n    m = __import__("\\x73klearn")\n    return x\n',
    "import_module": "import importlib\ndef relu_forward(x):\n    importlib.import_module('\\x6aax.numpy')\n    return x\n",
    "relative import": "from .scipy import thing\ndef relu_forward(x):\n    return x\n",
}


def full_scan(source, filename):
    """What the scan finds when it walks the whole tree, with no shortcut."""
    return static.forbidden_imports(ast.parse(source, filename), filename, FORBIDDEN)


@pytest.mark.parametrize("name", SOURCES)
def test_the_module_scan_finds_exactly_what_a_walk_of_the_whole_tree_finds(name):
    source = SOURCES[name]
    check = static.check_module("layers", "layers.py", source.encode(), INTERFACE, {}, FORBIDDEN)
    assert check.forbidden == full_scan(source, "layers.py")


@pytest.mark.parametrize("name", SOURCES)
def test_a_helper_file_is_scanned_exactly_as_a_whole_tree_walk_would(name):
    source = SOURCES[name]
    check = static.check_module("layers", "layers.py", SOURCES["plain"].encode(), INTERFACE,
                                {"helpers.py": source.encode()}, FORBIDDEN)
    assert check.forbidden == full_scan(source, "helpers.py")


def test_what_the_scans_find_in_the_tricky_sources():
    found = {name: static.check_module("layers", "layers.py", source.encode(), INTERFACE, {}, FORBIDDEN).forbidden
             for name, source in SOURCES.items()}
    assert found == {
        "plain": [], "named in a comment only": [], "import": [("scipy", "layers.py", 2)],
        "import inside a function": [("torch", "layers.py", 2)],
        "full-width letters": [("scipy", "layers.py", 1)], "full-width in a comment only": [],
        "escaped string": [("sklearn", "layers.py", 2)], "import_module": [("jax", "layers.py", 3)],
        "relative import": [],
    }


def test_may_import_is_false_only_for_ascii_text_that_names_nothing_it_looks_for():
    assert not static.may_import("import numpy as np\n", FORBIDDEN)
    assert not static.may_import(b"import numpy as np\n", FORBIDDEN)
    assert static.may_import("x = 'sklearn'\n", FORBIDDEN)
    assert static.may_import(b"m = __import__(name)\n", FORBIDDEN)
    assert static.may_import("# caf\u00e9\n", FORBIDDEN)  # not ASCII: always scanned
    assert static.may_import("# caf\u00e9\n".encode(), FORBIDDEN)


def test_the_names_a_file_takes_from_the_other_student_files_are_read_from_it():
    source = ("from layers import affine_forward, relu_forward\nimport layers\n"
              "def loss(x):\n    return layers.softmax_loss(affine_forward(x))\n")
    fc_net = static.check_module("fc_net", "fc_net.py", source.encode(), {}, {}, FORBIDDEN, ["layers"])
    assert fc_net.uses == {"layers": ["affine_forward", "relu_forward", "softmax_loss"]}
    assert static.check_module("fc_net", "fc_net.py", source.encode(), {}, {}, FORBIDDEN, ["other"]).uses == {}
    assert static.check_module("layers", "layers.py", source.encode(), {}, {}, FORBIDDEN).uses == {}


@pytest.mark.parametrize("source, ok", [
    ("class Base:\n    def loss(self, X, y=None):\n        pass\nclass Net(Base):\n    pass\n", True),
    ("class Base:\n    def loss(self, X):\n        pass\nclass Net(Base):\n    pass\n", False),
    ("from elsewhere import Base\nclass Net(Base):\n    pass\n", True),
    ("import elsewhere\nclass Net(elsewhere.Base):\n    pass\n", True),
    ("class Net:\n    pass\n", False),
    ("class A(B):\n    pass\nclass B(A):\n    pass\nclass Net(A):\n    pass\n", False),
])
def test_a_method_inherited_from_a_base_class_counts_as_defined(source, ok):
    import ast
    params = [{"name": "self", "default": False}, {"name": "X", "default": False}, {"name": "y", "default": True}]
    check = static.check_signature(ast.parse(source), "Net.loss", params, "fc_net.py")
    assert check.ok == ok
