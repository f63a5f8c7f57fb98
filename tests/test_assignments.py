"""Assignments are data: the engine names no layer, and an assignment folder says everything.

What an instructor does with an assignment folder, end to end: select functions with
[points], add a layer to the reference and spec/, and `python -m grader check` it.
"""
import ast
import io
import json
import re
import subprocess
import sys
import tokenize
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.authoring import generate
from grader.authoring.assignment import load_assignment, load_declared
from grader.authoring.check import check_assignment
from grader.engine import grade
from grader.errors import UserError
from helpers import FIXTURE, FIXTURE_CONFIG, MANIFEST, ROOT, copy_assignment, make_assignment, write_solution

ENGINE = ROOT / "grader"


# The engine names no layer ------------------------------------------------------------

def _code_words(path):
    """The names and string literals of a Python file, without its comments and docstrings."""
    source = path.read_text(encoding="utf-8")
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                docstrings.update(range(first.lineno, first.end_lineno + 1))
    words = []
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT or token.start[0] in docstrings:
            continue
        if token.type in (tokenize.NAME, tokenize.STRING) or token.type not in (tokenize.OP, tokenize.NL,
                                                                                 tokenize.NEWLINE):
            words.append((token.start[0], token.string))
    return words


def _layer_names():
    names = set()
    for name in load_declared(ROOT).outputs:
        names.update(name.split("."))
    return {name for name in names if not name.startswith("__")}


def test_the_engine_names_no_function_of_the_bundled_assignment_outside_docstrings_and_comments():
    names = _layer_names()
    assert {"affine_forward", "conv_backward", "max_pool_backward", "FullyConnectedNet", "batchnorm_forward"} <= names
    pattern = re.compile(r"\b(" + "|".join(sorted(map(re.escape, names))) + r")\b")
    found = []
    for path in sorted(ENGINE.rglob("*.py")):
        for line, word in _code_words(path):
            if pattern.search(word):
                found.append(f"{path.relative_to(ROOT)}:{line}: {word}")
    for path in sorted(ENGINE.rglob("*.html")) + sorted(ENGINE.rglob("*.jinja")):
        text = re.sub(r"\{#.*?#\}", "", path.read_text(encoding="utf-8"), flags=re.S)
        found += [f"{path.relative_to(ROOT)}: {match.group(0)}" for match in pattern.finditer(text)]
    assert found == []


def test_the_name_scan_finds_a_layer_named_in_code_but_not_in_a_docstring_or_comment(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('"""Calls affine_forward."""\n# conv_backward here\ndef f():\n    """max_pool_backward"""\n'
                     '    return "FullyConnectedNet"\n')
    words = " ".join(word for _, word in _code_words(probe))
    assert "FullyConnectedNet" in words
    assert not any(name in words for name in ("affine_forward", "conv_backward", "max_pool_backward"))


# Selection: a function is graded exactly when [points] gives it points --------------------

@pytest.fixture(scope="module")
def without_avg_pool(tmp_path_factory):
    text = FIXTURE_CONFIG.read_text().replace("avg_pool_forward = 2\n", "").replace(
        "avg_pool_backward = 4\n", "").replace("total_points = 100", "total_points = 94")
    return make_assignment(tmp_path_factory.mktemp("no-avg") / "assignment", text)


def test_dropping_a_function_from_points_drops_its_stubs_cases_rows_and_tables(without_avg_pool, tmp_path):
    folder = without_avg_pool
    manifest = json.loads((folder / "test_cases" / "manifest.json").read_text())
    assert not [f for f in manifest["functions"] if f["name"].startswith("avg_pool")]
    assert not [c for c in manifest["cases"] if c["function"].startswith("avg_pool")]
    assert not list((folder / "test_cases").rglob("avg_pool*"))
    assert "def avg_pool_forward" not in (folder / "student_template" / "layers.py").read_text()
    assert "def max_pool_forward" in (folder / "student_template" / "layers.py").read_text()
    result = grade(write_solution(tmp_path / "s"), folder / "test_cases")
    assert result.score == result.possible == 94
    assert [s.name for s in result.by_function() if s.name.startswith("avg")] == []
    from grader.authoring.release import build_release
    _, files = build_release(folder, tmp_path / "release.zip")
    assert "avg_pool" not in files["README.md"].decode() and "avg_pool" not in files["layers.py"].decode()


def test_regenerating_after_a_function_is_dropped_removes_its_files_and_says_so(tmp_path):
    folder = copy_assignment(tmp_path)
    config = folder / "assignment.toml"
    config.write_text(config.read_text().replace("avg_pool_forward = 2\n", "").replace(
        "total_points = 100", "total_points = 98"))
    changed, removed = generate.write(generate.generate(folder), folder)
    assert removed == ["test_cases/public/avg_pool_forward--overlapping-windows.npz",
                       "test_cases/public/avg_pool_forward--two-by-two-stride-2.npz"]
    assert "test_cases/manifest.json" in changed and not list((folder / "test_cases").rglob("avg_pool_forward*"))


def test_a_function_with_points_but_no_case_is_refused(tmp_path):
    folder = copy_assignment(tmp_path)
    cases = folder / "spec" / "cases.py"
    cases.write_text(cases.read_text() + "\nCASES = tuple(c for c in CASES if c.function != 'relu_forward')\n")
    with pytest.raises(UserError, match=r"relu_forward has points in assignment.toml but no cases"):
        generate.generate(folder)


@pytest.mark.parametrize("edit, message", [
    (("spec/functions.py", "FUNCTIONS = (", "OTHER = ("), "spec/functions.py: defines no FUNCTIONS"),
    (("spec/cases.py", 'Case("relu_forward", "all-negative"', 'Case("relu_fwd", "all-negative"'),
     "spec/cases.py: case relu_fwd/all-negative is of 'relu_fwd', which spec/functions.py does not declare"),
    (("reference/layers.py", "def leaky_relu_forward(x,", "def leaky_relu_forward_(x,"),
     "reference/layers.py: defines no function leaky_relu_forward, which assignment.toml grades; implement it "
     "there, or remove it from [points]"),
    (("reference/layers.py", "def relu_forward(x):", "def relu_forward_(x):"),
     "reference/fc_net.py:4: importing it raised ImportError: cannot import name 'relu_forward'"),
    (("reference/fc_net.py", "    def loss(self, X, y=None):", "    def loss_(self, X, y=None):"),
     "reference/fc_net.py: class FullyConnectedNet has no method loss, which assignment.toml grades"),
    (("spec/mistakes.py", 'Mistake("affine_forward", "bias-dropped"', 'Mistake("affine_fwd", "bias-dropped"'),
     "spec/mistakes.py: mistake 'bias-dropped' imitates 'affine_fwd', which spec/functions.py does not declare"),
])
def test_a_broken_declaration_or_reference_is_one_error_naming_its_file(tmp_path, edit, message):
    folder = copy_assignment(tmp_path)
    name, old, new = edit
    path = folder / name
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, new, 1))
    with pytest.raises(UserError) as raised:
        generate.generate(folder)
    assert message in str(raised.value) and str(folder) in str(raised.value)


def test_a_function_that_is_declared_but_not_graded_may_be_missing_from_the_reference(tmp_path):
    folder = copy_assignment(tmp_path)
    layers = folder / "reference" / "layers.py"
    layers.write_text(layers.read_text().replace("def dropout_backward(", "def _not_dropout_backward("))
    assert generate.generate(folder).case_count == len(MANIFEST["cases"])


# Adding a layer touches only the assignment folder ------------------------------------------

TANH = '''

def tanh_forward(x):
    """Compute the forward pass of a layer of tanh units.

    Inputs:
    - x: Inputs, of any shape

    Returns a tuple of:
    - out: Output, of the same shape as x, equal to tanh(x)
    - cache: out
    """
    out = None
    # BEGIN SOLUTION hint: use np.tanh.
    out = np.tanh(x)
    # END SOLUTION
    cache = out
    return out, cache


def tanh_backward(dout, cache):
    """Compute the backward pass of a layer of tanh units.

    Inputs:
    - dout: Upstream derivatives, of any shape
    - cache: out, the forward pass's output

    Returns:
    - dx: Gradient with respect to x: dout * (1 - out ** 2)
    """
    out = cache
    dx = None
    # BEGIN SOLUTION hint: the derivative of tanh is 1 - tanh ** 2.
    dx = dout * (1 - out ** 2)
    # END SOLUTION
    return dx
'''

TANH_SPEC = '''
FUNCTIONS = FUNCTIONS + (
    Function("tanh_forward", "layers.py", args=("x",), returns=["out", None]),
    Function("tanh_backward", "layers.py", args=("dout", "out"), returns="dx"),
)
'''

TANH_CASES = '''

def _tanh(shape, backward):
    def build(rng):
        x = randn(rng, *shape)
        if not backward:
            return {"x": x}
        return {"dout": randn(rng, *shape), "out": np.tanh(x)}
    return build


CASES = CASES + (
    Case("tanh_forward", "matrix", "a 3x4 input", "Applies tanh elementwise.", _tanh((3, 4), False)),
    Case("tanh_backward", "matrix", "a 3x4 input", "Multiplies dout by 1 - out ** 2.", _tanh((3, 4), True)),
)
'''

TANH_MISTAKES = '''

def _tanh_backward_from_x(dout, cache):
    return dout * (1 - np.tanh(cache) ** 2)


MISTAKES_BEFORE = catalog


def catalog(tie_rule):
    return MISTAKES_BEFORE(tie_rule) + (
        Mistake("tanh_backward", "tanh-of-the-output", "tanh applied to the cached output again",
                "Your tanh_backward takes tanh of the cache, which already holds tanh(x): use 1 - out ** 2.",
                _tanh_backward_from_x),
    )
'''


@pytest.fixture(scope="module")
def with_tanh(tmp_path_factory):
    """The fixture assignment with a tanh layer added, in the assignment folder only."""
    folder = copy_assignment(tmp_path_factory.mktemp("tanh"))
    for name, text in (("reference/layers.py", TANH), ("spec/functions.py", TANH_SPEC),
                       ("spec/cases.py", TANH_CASES), ("spec/mistakes.py", TANH_MISTAKES)):
        path = folder / name
        path.write_text(path.read_text() + text)
    config = folder / "assignment.toml"
    config.write_text(config.read_text().replace("total_points = 100", "total_points = 105").replace(
        "[points]\n", "[points]\ntanh_forward = 2\ntanh_backward = 3\n"))
    generate.write(generate.generate(folder), folder)
    return folder


def test_a_layer_added_in_the_assignment_folder_alone_passes_check_even_with_np_tanh(with_tanh):
    report = check_assignment(with_tanh)
    assert [(step.name, step.ok) for step in report.steps] == [
        ("config", True), ("in sync", True), ("reference scores full marks", True),
        ("template scores 0 without a crash", True), ("every mistake is detected and named", True)]
    assert report.steps[2].details[0] == "105 / 105 points"
    template = (with_tanh / "student_template" / "layers.py").read_text()
    assert 'raise NotImplementedError("tanh_backward is not implemented yet")' in template


def test_the_added_layers_mistake_is_named_when_a_student_makes_it(with_tanh, tmp_path):
    submission = write_solution(tmp_path / "s")
    (submission / "layers.py").write_text((submission / "layers.py").read_text() + TANH.replace(
        "dx = dout * (1 - out ** 2)", "dx = dout * (1 - np.tanh(out) ** 2)").replace("# BEGIN SOLUTION", "#").replace(
        "# END SOLUTION", "#"))
    result = grade(submission, with_tanh / "test_cases")
    tanh = [c for c in result.cases if c.case.function == "tanh_backward"]
    assert [c.status for c in tanh] == ["failed"]
    assert [d.title for d in tanh[0].diagnoses] == ["tanh applied to the cached output again"]
    assert result.score == 102


# check ---------------------------------------------------------------------------------

def test_check_passes_on_the_fixture_assignment_and_says_so_on_the_command_line():
    finished = subprocess.run([sys.executable, "-m", "grader", "check", "--assignment", str(FIXTURE)], cwd=ROOT,
                              capture_output=True, text=True)
    assert finished.returncode == 0, finished.stdout + finished.stderr
    assert finished.stdout.splitlines()[-1] == f"the assignment in {FIXTURE} is ready"
    assert "ok    every mistake is detected and named" in finished.stdout
    assert "      100 / 100 points" in finished.stdout and "      0 / 100 points" in finished.stdout


def test_check_fails_when_the_generated_files_are_stale_and_says_what_to_run(tmp_path):
    folder = copy_assignment(tmp_path)
    config = folder / "assignment.toml"
    config.write_text(config.read_text().replace('tie_rule = "all"', 'tie_rule = "split"'))
    finished = subprocess.run([sys.executable, "-m", "grader", "check", "--assignment", str(folder)], cwd=ROOT,
                              capture_output=True, text=True)
    assert finished.returncode == 1
    assert "FAIL  in sync" in finished.stdout
    assert f"run `python -m grader generate --assignment {folder}`" in finished.stdout
    assert finished.stderr.strip() == f"error: the assignment in {folder} is not ready: in sync"


def test_check_fails_when_a_mistake_is_caught_by_no_case(tmp_path):
    folder = copy_assignment(tmp_path)
    mistakes = folder / "spec" / "mistakes.py"
    mistakes.write_text(mistakes.read_text() + '''

def _relu_forward_same(x):
    return ref.relu_forward(x)


MISTAKES_BEFORE = catalog


def catalog(tie_rule):
    return MISTAKES_BEFORE(tie_rule) + (Mistake("relu_forward", "same", "the right answer", "none",
                                                _relu_forward_same),)
''')
    generate.write(generate.generate(folder), folder)
    report = check_assignment(folder)
    step = report.steps[-1]
    assert not report.ok and step.name == "every mistake is detected and named" and not step.ok
    known = len(MANIFEST["mistakes"])
    assert step.details == [f"{known} of {known + 1} mistakes detected and named",
                            "relu_forward/same (the right answer): no case tells it apart from the right answer; "
                            "add a case on which it gives a different result"]


def test_check_fails_when_the_reference_loses_points(tmp_path):
    folder = copy_assignment(tmp_path)
    # The cases say what the reference said when they were generated; a reference edited since,
    # and cases regenerated by hand from the old one, no longer agree.
    layers = folder / "reference" / "layers.py"
    text = layers.read_text()
    generated = generate.generate(folder)
    layers.write_text(text.replace("    dx = np.where(x > 0, dout, 0.0)", "    dx = np.where(x >= 0, dout, 0.0)", 1))
    report = check_assignment_on(folder, generated)
    step = report.steps[2]
    assert step.name == "reference scores full marks" and not step.ok
    assert step.details == [
        "98 / 100 points",
        "relu_backward/with-exact-zeros: wrong answer: dx: 7 of 20 elements are wrong (max relative error 1)",
        "relu_backward/four-dim: wrong answer: dx: 6 of 36 elements are wrong (max relative error 1)"]


def check_assignment_on(folder, generated):
    """check_assignment, with generate() giving `generated` (the files the cases were made from)."""
    import grader.authoring.check as check_module
    original = check_module.generate.generate
    check_module.generate.generate = lambda *args, **kwargs: generated
    try:
        return check_assignment(folder)
    finally:
        check_module.generate.generate = original


# Batchnorm and dropout: available, not graded by default, full marks once added ------------------

def test_batchnorm_and_dropout_are_declared_but_not_graded_by_default():
    assignment = load_assignment(FIXTURE)
    declared = {f.name for f in assignment.functions}
    graded = {f.name for f in assignment.graded}
    extra = {"batchnorm_forward", "batchnorm_backward", "dropout_forward", "dropout_backward"}
    assert extra <= declared and not extra & graded
    assert "def batchnorm_forward" not in (FIXTURE / "student_template" / "layers.py").read_text()


def test_batchnorm_grades_its_running_statistics_and_takes_its_cache_from_the_students_forward(tmp_path):
    text = FIXTURE_CONFIG.read_text().replace("total_points = 100", "total_points = 115").replace(
        "[points]\n", "[points]\nbatchnorm_forward = 4\nbatchnorm_backward = 6\ndropout_forward = 3\n"
                      "dropout_backward = 2\n")
    folder = make_assignment(tmp_path / "bn", text)
    manifest = json.loads((folder / "test_cases" / "manifest.json").read_text())
    train = next(c for c in manifest["cases"] if c["id"] == "batchnorm_forward/train")
    assert sorted(train["outputs"]) == ["out", "running_mean", "running_var"]
    assert train["mutable"] == ["running_mean", "running_var"]
    backward = next(c for c in manifest["cases"] if c["id"] == "batchnorm_backward/train")
    assert backward["call"]["args"][1]["call"]["function"] == "batchnorm_forward"
    submission = write_solution(tmp_path / "s")
    assert grade(submission, folder / "test_cases").score == 115
    layers = submission / "layers.py"
    # In place, the running mean is still right: no warning, no points lost.
    layers.write_text(layers.read_text().replace(
        "        running_mean = momentum * running_mean + (1 - momentum) * mean\n",
        "        running_mean *= momentum\n        running_mean += (1 - momentum) * mean\n"))
    result = grade(submission, folder / "test_cases")
    assert result.score == 115 and not [w for c in result.cases for w in c.warnings]
    layers.write_text(layers.read_text().replace("        cache = (x_hat, gamma, std)\n",
                                                 "        raise RuntimeError('no cache today')\n"))
    result = grade(submission, folder / "test_cases")
    backward = [c for c in result.cases if c.case.function == "batchnorm_backward"]
    assert {c.summary for c in backward} == {
        "your batchnorm_forward, which batchnorm_backward takes its cache from, raised RuntimeError: no cache today"}


# The worker's one call, generically ---------------------------------------------------------

class _Net:
    def __init__(self, width, scale=1.0):
        self.params = {"W": np.zeros(width), "kept": np.ones(1)}
        self.scale = scale
        self.drawn = np.random.rand()

    def forward(self, x):
        return self.scale * x + self.params["W"], "cache"


def test_the_worker_constructs_sets_attributes_seeds_calls_and_reads_outputs_after_the_call():
    from grader.worker import perform
    module = type(sys)("net")
    module.Net = _Net

    def update(stats, x):
        stats["mean"] = stats["mean"] + x.sum()
        return x * 2
    module.update = update
    arrays = {"x": np.array([1.0, 2.0]), "W": np.array([0.5, 0.5]), "mean": np.array(1.0)}
    call = {"op": "call", "module": "net", "class": "Net", "method": "forward", "seed": 3,
            "init": {"args": [{"v": 2}], "kwargs": {"scale": {"v": 3.0}}},
            "attributes": {"params": {"d": {"W": {"a": "W"}}}}, "args": [{"a": "x"}], "kwargs": {},
            "returns": ["y", None], "after": {"params": {"path": [{"self": True}, {"attr": "params"}]},
                                              "drawn": {"path": [{"self": True}, {"attr": "drawn"}]}}}
    fresh = []
    outputs = dict(perform(call, arrays, {"net": module}, fresh))
    assert outputs["y"].tolist() == [3.5, 6.5]
    assert outputs["params.W"].tolist() == [0.5, 0.5] and outputs["params.kept"].tolist() == [1.0]
    assert outputs["drawn"] == np.random.RandomState(3).rand()
    call = {"op": "call", "module": "net", "function": "update", "args": [{"d": {"mean": {"a": "mean"}}}, {"a": "x"}],
            "kwargs": {}, "returns": "doubled",
            "after": {"mean": {"path": [{"arg": 0}, {"key": "mean"}], "text": "stats['mean']"}}}
    outputs = dict(perform(call, arrays, {"net": module}, []))
    assert outputs["doubled"].tolist() == [2.0, 4.0] and float(outputs["mean"]) == 4.0


def test_a_cache_from_the_students_forward_pass_that_raises_is_reported_as_that_function():
    from grader.worker import EarlierCallError, materialize

    def forward(x):
        raise ValueError("broken forward")
    module = type(sys)("layers")
    module.forward = forward
    tree = {"call": {"op": "call", "module": "layers", "function": "forward", "args": [{"a": "x"}], "kwargs": {}},
            "take": 1, "function": "forward"}
    with pytest.raises(EarlierCallError) as raised:
        materialize(tree, {"x": np.zeros(2)}, [], {"layers": module})
    assert raised.value.function == "forward" and str(raised.value.error) == "broken forward"


# Packaging ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_wheel_holds_the_grader_and_no_assignment_code(tmp_path):
    finished = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                               "-w", str(tmp_path), str(ROOT)], capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-2000:]
    wheel = next(tmp_path.glob("*.whl"))
    tops = {Path(name).parts[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert "grader" in tops and not {"reference", "spec", "test_cases", "student_template"} & tops


def test_a_case_made_hidden_leaves_no_stale_public_file_and_is_listed_as_hidden(tmp_path, capsys):
    from grader.cli import main
    folder = copy_assignment(tmp_path)
    config = folder / "assignment.toml"
    config.write_text(config.read_text().replace('hidden = [\n', 'hidden = [\n    "conv_forward/stride-1-pad-1",\n', 1))
    public = folder / "test_cases" / "public" / "conv_forward--stride-1-pad-1.npz"
    assert public.is_file()
    assert main(["generate", "--assignment", str(folder)]) == 0
    out = capsys.readouterr().out
    assert ("removed 1 file(s) the assignment no longer generates:\n"
            "  test_cases/public/conv_forward--stride-1-pad-1.npz\n") in out
    assert not public.exists() and (folder / "test_cases" / "hidden" / "conv_forward--stride-1-pad-1.npz").is_file()
    assert main(["generate", "--check", "--assignment", str(folder)]) == 0
    assert main(["package", "--assignment", str(folder), "--out", str(tmp_path / "autograder.zip")]) == 0
    capsys.readouterr()
    assert main(["generate", "--list", "--assignment", str(folder)]) == 0
    listed = {line.split()[0]: line.rstrip().endswith("(hidden)") for line in capsys.readouterr().out.splitlines()}
    assert listed["conv_forward/stride-1-pad-1"] is True and listed["conv_forward/stride-2-pad-1"] is False
