"""The student template: generated from the reference's markers, for the configured tie rule."""
import ast
import re

import pytest

from grader.authoring.template import MarkerError, render_template, signatures, student_version
from helpers import ROOT

LAYERS = (ROOT / "reference" / "layers.py").read_text()
FILES = ("layers.py", "fc_net.py")


def render(rule="all", **options):
    return render_template(ROOT / "reference", FILES, ("gradient_check.py",), rule, **options)


@pytest.mark.parametrize("rule, kept, dropped", [
    ("all", 'This assignment\'s rule is "all"', ['rule is "split"', 'rule is "first"']),
    ("split", 'This assignment\'s rule is "split"', ['rule is "all"', 'rule is "first"']),
    ("first", 'This assignment\'s rule is "first"', ['rule is "all"', 'rule is "split"']),
])
def test_the_max_pool_docstring_states_only_the_chosen_tie_rule_with_its_worked_example(rule, kept, dropped):
    text = student_version(LAYERS, "layers.py", rule)
    doc = ast.get_docstring(next(n for n in ast.parse(text).body
                                 if isinstance(n, ast.FunctionDef) and n.name == "max_pool_backward"))
    assert kept in doc
    assert not any(other in doc for other in dropped)
    example = {"all": "dx = [[6, 0], [6, 0]]", "split": "dx = [[3, 0], [3, 0]]", "first": "dx = [[6, 0], [0, 0]]"}
    assert example[rule] in doc and sum(e in doc for e in example.values()) == 1
    assert "[ties=" not in text and "[reference]" not in text and "ties=" not in doc


def test_every_solution_region_becomes_a_todo_that_names_its_function():
    files = render()
    for name in FILES:
        tree = ast.parse(files[name])
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                raises = [n for n in ast.walk(node) if isinstance(n, ast.Raise)]
                assert raises, node.name
                owner = node.name if name == "layers.py" else f"FullyConnectedNet.{node.name}"
                assert raises[0].exc.args[0].value == f"{owner} is not implemented yet"
    assert "BEGIN SOLUTION" not in files["layers.py"] and "_conv_windows" not in files["layers.py"]
    assert "from layers import affine_backward" in files["fc_net.py"]
    assert "cache = (x, w, b, conv_param)" in files["layers.py"]


def test_the_recorded_interface_is_the_locked_one():
    interface = signatures(render(), FILES)
    names = lambda params: [p["name"] for p in params]
    assert names(interface["layers"]["max_pool_backward"]) == ["dout", "cache"]
    assert names(interface["layers"]["conv_forward"]) == ["x", "w", "b", "conv_param"]
    assert interface["layers"]["leaky_relu_forward"][1] == {"name": "negative_slope", "default": True}
    assert names(interface["fc_net"]["FullyConnectedNet.__init__"]) == [
        "self", "input_dim", "hidden_dims", "num_classes", "weight_scale", "reg", "dtype"]


@pytest.mark.parametrize("source, message", [
    ("def f():\n    # BEGIN SOLUTION\n    x = 1\n", "layers.py:2: BEGIN SOLUTION is never closed by END SOLUTION"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n    x = 1\n    # END SOLUTION\n",
     "layers.py:3: BEGIN SOLUTION inside the region opened at line 2; regions cannot nest"),
    ("def f():\n    x = 1\n    # END SOLUTION\n", "layers.py:3: END SOLUTION without a BEGIN SOLUTION"),
    ("def f():\n    \"\"\"\n    [ties=most] text\n    \"\"\"\n",
     "layers.py:3: unknown tie rule tag [ties=most]; expected one of all, split, first"),
])
def test_malformed_markers_are_errors_that_name_file_and_line(source, message):
    with pytest.raises(MarkerError, match=re.escape(message)):
        student_version(source, "layers.py", "all")


def test_a_reference_file_without_markers_is_refused(tmp_path):
    for name in ("layers.py", "fc_net.py", "gradient_check.py"):
        (tmp_path / name).write_text((ROOT / "reference" / name).read_text())
    (tmp_path / "fc_net.py").write_text("class FullyConnectedNet:\n    pass\n")
    with pytest.raises(MarkerError, match=r"reference/fc_net.py: no # BEGIN SOLUTION markers"):
        render_template(tmp_path, FILES, ("gradient_check.py",))


def test_the_template_ships_a_gradient_checker_that_explains_ties():
    text = render()["gradient_check.py"]
    assert "A numerical check cannot verify what happens at ties" in text
    assert "def eval_numerical_gradient_array(f, x, dout, h=1e-5)" in text


def test_functions_the_assignment_does_not_grade_are_left_out_of_the_template():
    files = render(drop={"layers.py": ["avg_pool_forward", "avg_pool_backward"],
                         "fc_net.py": ["FullyConnectedNet.loss"]})
    layers = {n.name for n in ast.parse(files["layers.py"]).body if isinstance(n, ast.FunctionDef)}
    assert "avg_pool_forward" not in layers and "avg_pool_backward" not in layers
    assert {"max_pool_forward", "max_pool_backward", "batchnorm_forward"} <= layers
    net = next(n for n in ast.parse(files["fc_net.py"]).body if isinstance(n, ast.ClassDef))
    assert [n.name for n in net.body if isinstance(n, ast.FunctionDef)] == ["__init__"]
    assert "\n\n\n\n" not in files["layers.py"]


@pytest.mark.parametrize("rule", ["all", "split", "first"])
def test_a_config_line_takes_the_configured_value_in_the_reference_laid_out_as_a_submission(rule):
    from grader.authoring.template import solution_version
    text = solution_version(LAYERS, "layers.py", rule)
    assert f'TIE_RULE = {rule!r}\n' in text and "# config:" not in text
    assert "def max_pool_backward(dout, cache, ties=TIE_RULE):" in text


def test_a_config_line_naming_no_key_is_an_error_with_file_and_line():
    from grader.authoring.template import apply_config
    from grader.config import parse_config
    config = parse_config({"points": {"f": 1}, "assignment": {"total_points": 1}})
    source = "import numpy\nRULE = 'all'  # config: assignment.tie_rul\n"
    with pytest.raises(MarkerError, match=re.escape("layers.py:2: `# config: assignment.tie_rul` names no key")):
        apply_config(source, config, "layers.py")
    assert apply_config(source.replace("tie_rul", "tie_rule"), config, "x.py") == \
        "import numpy\nRULE = 'all'  # config: assignment.tie_rule\n"
