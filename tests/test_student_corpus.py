"""The grader against a corpus of realistic student submissions (tests/fixtures/students/).

Each student folder holds a layers.py and an fc_net.py written the way students write them
(nested loops, vectorized, im2col, np.add.at, argmax pooling), with real-world bugs; each file's
docstring names its bugs, function by function. An independent oracle (tests/oracles.py: plain
loops written from the interface) judges every student function in this process, on every case
of the fixture assignment, public and hidden:

- a function is *correct* when its outputs equal the oracle's within the case's tolerance on
  every case. FullyConnectedNet.loss runs on the student's own layers, as the grader runs it, and
  is compared with the oracle's network on the oracle's layers; whether the network's own code is
  right is judged apart, on the oracle's layers. FullyConnectedNet.__init__ is judged by the
  interface's rules (keys, shapes, dtype, zero biases, weights of standard deviation weight_scale).
- a layer is *wrong on ordinary inputs* when it differs from the oracle's on some call the oracle's
  network makes on the network cases.

Then, for every student:
- points agree with the oracle: full marks for a function exactly when the oracle says correct;
- the feedback a student sees for a wrong function (the case feedback of its cases) names the real
  cause: CAUSES holds, per wrong function, the words that name it; the share named is printed and
  must be at least 80%;
- never misleading: every diagnosis of a wrong function is in ALLOWED for its bug, a correct function
  has none, and a note "X uses your Y, which fails its own tests" names only layers that are wrong on
  ordinary inputs;
- a function that changes its inputs in place keeps its points (modified_inputs = "warn") with a
  warning in its feedback and under "What to fix first".

Where today's grader falls short, the entry is marked xfail(strict=True) with what it says and what
it should say.
"""
import copy
import functools
import importlib.util
import sys
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

import oracles
from grader.cases import load_manifest
from grader.engine import grade
from grader.feedback import case_feedback
from helpers import CASES, ROOT

STUDENTS_DIR = ROOT / "tests" / "fixtures" / "students"
STUDENTS = sorted(p.name for p in STUDENTS_DIR.iterdir() if (p / "layers.py").is_file())
MANIFEST = load_manifest(CASES)
FUNCTIONS = [f["name"] for f in MANIFEST.functions]
POINTS = {f["name"]: f["points"] for f in MANIFEST.functions}
FLOOR = MANIFEST.settings["tolerance_floor"]
NET_LAYERS = ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss")
COLLATERAL = " uses your "  # the grader's note that names a layer at fault: "X uses your Y, which fails ..."


# Running a case in this process ---------------------------------------------------------------

def _materialize(tree, inputs):
    """A call argument from the manifest's description of it (grader/worker.py's format)."""
    if "a" in tree:
        return np.array(inputs[tree["a"]], copy=True)
    if "v" in tree:
        return copy.deepcopy(tree["v"])
    if "t" in tree:
        return tuple(_materialize(item, inputs) for item in tree["t"])
    if "l" in tree:
        return [_materialize(item, inputs) for item in tree["l"]]
    if "d" in tree:
        return {key: _materialize(item, inputs) for key, item in tree["d"].items()}
    if "dtype" in tree:
        return np.dtype(tree["dtype"]).type
    raise AssertionError(f"an argument this test cannot build: {tree}")


def _arrays_in(value):
    if isinstance(value, np.ndarray):
        return [value]
    if isinstance(value, (tuple, list)):
        return [a for item in value for a in _arrays_in(item)]
    if isinstance(value, dict):
        return [a for item in value.values() for a in _arrays_in(item)]
    return []


def _outputs(result, returns):
    """{output name: value} of a return value, by the manifest's `returns` (['out', None], 'dx',
    ['loss', {'dict': 'grads'}])."""
    if isinstance(returns, str):
        return {returns: result}
    if isinstance(returns, dict):
        if not isinstance(result, dict):
            return {}
        return {f"{returns['dict']}.{key}": value for key, value in result.items()}
    if not isinstance(result, tuple) or len(result) != len(returns):
        return {}
    found = {}
    for item, spec in zip(result, returns):
        if spec is not None:
            found.update(_outputs(item, spec))
    return found


@dataclass
class Run:
    outputs: dict = field(default_factory=dict)
    modified: list = field(default_factory=list)   # input arrays changed in place
    error: str = ""
    params: object = None                           # a constructor's self.params


def run_case(case, layers, net_class):
    """Call the case's function (layers: a module or a dict of functions) as the grader would."""
    data = MANIFEST.load(case)
    call = case.call
    args = [_materialize(a, data.inputs) for a in call["args"]]
    kwargs = {k: _materialize(v, data.inputs) for k, v in call["kwargs"].items()}
    given = [(a, a.copy()) for a in _arrays_in((args, kwargs))]
    run = Run()
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if "class" in call:
                init = call["init"]
                if call.get("seed") is not None:
                    np.random.seed(call["seed"])
                net = net_class(*[_materialize(a, data.inputs) for a in init["args"]],
                                **{k: _materialize(v, data.inputs) for k, v in init["kwargs"].items()})
                for attribute, tree in call["attributes"].items():
                    setattr(net, attribute, _materialize(tree, data.inputs))
                if call["method"] == "__init__":
                    run.params = getattr(net, "params", None)
                    return run
                result = getattr(net, call["method"])(*args, **kwargs)
            else:
                function = layers[call["function"]] if isinstance(layers, dict) else getattr(layers, call["function"])
                result = function(*args, **kwargs)
        except Exception as exc:  # a student's exception: the function is wrong on this case
            run.error = f"{type(exc).__name__}: {exc}"
            return run
    run.outputs = _outputs(result, call["returns"])
    names = [a["a"] for a in _walk_args(call) if "a" in a]
    run.modified = sorted({name for name, (now, before) in zip(names, given)
                           if now.shape != before.shape or not np.array_equal(now, before, equal_nan=True)})
    return run


def _walk_args(call):
    """The argument trees of a call in the order _arrays_in meets their arrays."""
    found = []

    def walk(tree):
        if "a" in tree:
            found.append(tree)
        for key in ("t", "l"):
            for item in tree.get(key, ()):
                walk(item)
        if "d" in tree:
            for item in tree["d"].values():
                walk(item)
    for tree in call["args"]:
        walk(tree)
    for tree in call["kwargs"].values():
        walk(tree)
    return found


def same(expected, got, tolerance):
    """Whether got equals expected within the relative error CS231n uses (a number may be a 0-d or
    one-element array)."""
    try:
        got = np.asarray(got)
    except Exception:
        return False
    if got.dtype.kind not in "biuf":
        return False
    expected = np.asarray(expected, dtype=np.float64)
    if expected.shape == () and got.size == 1:
        got = got.reshape(())
    if got.shape != expected.shape:
        return False
    got = got.astype(np.float64)
    if not np.all(np.isfinite(got)):
        return False
    rel = np.abs(expected - got) / np.maximum(FLOOR, np.abs(expected) + np.abs(got))
    return bool(rel.size == 0 or rel.max() <= tolerance)


# The oracle's answers ---------------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def expected_outputs(case_id):
    """The oracle's outputs for a case: its own functions, and its own network on its own layers."""
    case = _case(case_id)
    call = case.call
    data = MANIFEST.load(case)
    if "class" in call:
        if call["method"] == "__init__":
            return None  # judged by the interface's rules, not by values
        params = _materialize(call["attributes"]["params"], data.inputs)
        args = [_materialize(a, data.inputs) for a in call["args"]]
        reg = call["init"]["kwargs"].get("reg", {"v": 0.0})["v"]
        return _outputs(oracles.fc_net_loss(params, *args, reg=reg), call["returns"])
    layers = dict(oracles.LAYERS, max_pool_backward=functools.partial(oracles.max_pool_backward,
                                                                      ties=MANIFEST.tie_rule))
    return run_case(case, layers, None).outputs


def _case(case_id):
    return next(c for c in MANIFEST.cases if c.id == case_id)


def case_correct(case, run):
    """Whether a student's run of a case is what the oracle says."""
    if run.error:
        return False
    if case.call.get("method") == "__init__":
        values = {k: _materialize(v, {}) for k, v in case.call["init"]["kwargs"].items()}
        return not oracles.fc_net_init_problems(run.params, values["input_dim"], values["hidden_dims"],
                                                values["num_classes"], values["weight_scale"],
                                                values["dtype"], MANIFEST.settings["init_std_tolerance"])
    expected = expected_outputs(case.id)
    return set(run.outputs) == set(expected) and all(
        same(expected[name], run.outputs[name], case.tolerance) for name in expected)


# A student, loaded in this process -----------------------------------------------------------------

_loaded = 0


def _module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_student(name, replace=None):
    """(layers, fc_net) of a student; `replace` sets layer functions before fc_net imports them."""
    global _loaded
    _loaded += 1
    folder = STUDENTS_DIR / name
    layers = _module(f"corpus_{name}_{_loaded}_layers", folder / "layers.py")
    for function, value in (replace or {}).items():
        setattr(layers, function, value)
    saved = sys.modules.get("layers")
    sys.modules["layers"] = layers
    try:
        fc_net = _module(f"corpus_{name}_{_loaded}_fc_net", folder / "fc_net.py")
    finally:
        if saved is None:
            del sys.modules["layers"]
        else:
            sys.modules["layers"] = saved
    return layers, fc_net


@dataclass
class Verdict:
    wrong: dict        # function -> ids of the cases where the student differs from the oracle
    modified: dict     # function -> input arrays it changed in place
    net_code_wrong: bool  # the student's network is wrong even on the oracle's layers
    ordinary: set      # layers that differ from the oracle's on the inputs the network gives them


# What of each layer's return value the network passes on (a forward pass's cache is the student's own).
PASSED_ON = {"affine_forward": (0,), "relu_forward": (0,), "affine_backward": (0, 1, 2), "relu_backward": None,
             "softmax_loss": (0, 1)}


def _probe(name, student_function, mismatches):
    """The oracle's layer, which also runs the student's on the same inputs and notes a difference."""
    def probe(*args):
        expected = oracles.LAYERS[name](*args)
        try:
            with np.errstate(all="ignore"):
                got = student_function(*copy.deepcopy(args))
            parts = PASSED_ON[name]
            if parts is None:
                agree = same(expected, got, 1e-6)
            else:
                agree = isinstance(got, tuple) and len(got) == len(expected) and all(
                    same(expected[i], got[i], 1e-6) for i in parts)
        except Exception:
            agree = False
        if not agree:
            mismatches.add(name)
        return expected
    return probe


@functools.lru_cache(maxsize=None)
def verdict(name):
    layers, fc_net = load_student(name)
    _, net_on_oracle = load_student(name, replace=oracles.LAYERS)
    wrong, modified, net_code_wrong = {}, {}, False
    for case in MANIFEST.cases:
        run = run_case(case, layers, getattr(fc_net, "FullyConnectedNet", None))
        if not case_correct(case, run):
            wrong.setdefault(case.function, []).append(case.id)
        if run.modified:
            modified.setdefault(case.function, set()).update(run.modified)
        if case.function == "FullyConnectedNet.loss":
            alone = run_case(case, oracles.LAYERS, getattr(net_on_oracle, "FullyConnectedNet", None))
            net_code_wrong |= not case_correct(case, alone)
    ordinary = set()
    for case in MANIFEST.cases:
        if case.function == "FullyConnectedNet.loss":
            data = MANIFEST.load(case)
            params = _materialize(case.call["attributes"]["params"], data.inputs)
            args = [_materialize(a, data.inputs) for a in case.call["args"]]
            reg = case.call["init"]["kwargs"].get("reg", {"v": 0.0})["v"]
            probes = {n: _probe(n, getattr(layers, n), ordinary) for n in NET_LAYERS}
            oracles.fc_net_loss(params, *args, reg=reg, layers=probes)
    return Verdict(wrong, modified, net_code_wrong, ordinary)


@functools.lru_cache(maxsize=None)
def graded(name):
    return grade(STUDENTS_DIR / name, CASES)


def full_marks(result, function):
    summary = next(s for s in result.by_function() if s.name == function)
    return summary.score == summary.possible


def feedback_of(result, function):
    """Everything a student is shown about a function: the feedback of each of its cases."""
    return "\n".join(case_feedback(c, markdown=False) for c in result.cases if c.case.function == function)


# The oracle itself -------------------------------------------------------------------------------

@pytest.mark.parametrize("case_id", [c.id for c in MANIFEST.cases if c.call.get("method") != "__init__"])
def test_the_oracle_agrees_with_every_stored_expected_output(case_id):
    case = _case(case_id)
    data = MANIFEST.load(case)
    mine = expected_outputs(case_id)
    assert set(mine) == set(data.expected)
    assert all(same(data.expected[name], mine[name], case.tolerance) for name in mine), case_id


# What each student got wrong, and what the feedback must say -----------------------------------

@dataclass(frozen=True)
class Bug:
    """One wrong function of one student.

    names: words of the feedback that name the real cause (a diagnosis title, a summary, a note).
    allowed: the diagnosis titles that describe this bug (the real cause or an equivalent); any other
    diagnosis on the function's cases, hidden ones included, is misleading.
    collateral: the function's own code is right; it fails through a wrong layer it calls.
    unnamed, misleading: why today's grader fails that check (then it is an expected failure)."""
    student: str
    function: str
    names: str
    allowed: frozenset = frozenset()
    collateral: bool = False
    unnamed: str = ""
    misleading: str = ""


def bug(student, function, names, allowed=(), **kwargs):
    return Bug(student, function, names, frozenset(allowed), **kwargs)


def named(title):
    """A bug whose feedback names it by this diagnosis title, the only diagnosis allowed."""
    return {"names": title, "allowed": (title,)}


TIES_FIRST, TIES_SPLIT = "tie rule 'first' instead of 'all'", "tie rule 'split' instead of 'all'"
OVERLAP = "overlapping windows assigned, not added"
FLOAT_SIZE = "'float' object cannot be interpreted as an integer"

BUGS = (
    bug("chen_padslice", "conv_backward", **named("dx sliced [pad:-pad], empty when pad is 0")),
    bug("chen_padslice", "max_pool_backward", **named(TIES_FIRST)),
    bug("dana_crop", "leaky_relu_backward", **named("slope hard-coded")),
    bug("dana_crop", "conv_backward", **named("padding cropped as [1:-1] whatever pad is")),
    bug("dana_crop", "max_pool_forward", **named("the output's width computed from pool_height")),
    bug("emeka_logprobs", "softmax_loss", **named("log of the probabilities (underflows)")),
    bug("emeka_logprobs", "FullyConnectedNet.loss", **named("the last layer left out of the regularization")),
    bug("farah_sumw", "relu_backward", **named("gradient passed at x == 0")),
    bug("farah_sumw", "FullyConnectedNet.loss", **named("sum of W instead of W squared")),
    bug("hiro_inplace", "affine_backward", **named("db summed over the wrong axis")),
    bug("hiro_inplace", "FullyConnectedNet.loss", "FullyConnectedNet uses your affine_backward", collateral=True),
    bug("ines_assign", "conv_forward", **named("bias dropped")),
    bug("ines_assign", "max_pool_backward", **named(OVERLAP)),
    bug("ines_assign", "avg_pool_backward", OVERLAP, [OVERLAP, "only the cases with overlapping windows fail"]),
    bug("jamal_noshift", "leaky_relu_backward", **named("slope not applied at x == 0")),
    bug("jamal_noshift", "softmax_loss", **named("no max-shift (overflows)")),
    bug("jamal_noshift", "FullyConnectedNet.__init__", "params['b1'] has shape (1, 50); expected (50,)"),
    bug("kim_stride", "affine_backward", **named("dx not reshaped back")),
    bug("kim_stride", "conv_backward", **named("stride ignored")),
    bug("kim_stride", "max_pool_forward", **named("stride taken as the pool size")),
    bug("lena_transpose", "affine_backward", **named("dw transposed")),
    bug("lena_transpose", "conv_forward", **named("the output's width computed from the height")),
    bug("lena_transpose", "avg_pool_backward", "divided by pool_height squared",
        ["divided by pool_height squared", "off by a constant factor",
         "only the cases with non-square windows or inputs fail"]),
    bug("lena_transpose", "FullyConnectedNet.loss", "FullyConnectedNet uses your affine_backward", collateral=True),
    bug("marco_im2col", "max_pool_backward", **named(TIES_FIRST)),
    bug("marco_im2col", "FullyConnectedNet.loss", **named("regularization without the 0.5")),
    bug("nadia_py2", "leaky_relu_forward", **named("slope hard-coded")),
    bug("nadia_py2", "conv_forward", FLOAT_SIZE),
    bug("nadia_py2", "max_pool_forward", FLOAT_SIZE),
    bug("nadia_py2", "FullyConnectedNet.__init__", **named("weight_scale ignored")),
    bug("omar_dtype", "FullyConnectedNet.__init__", "has dtype float64; expected float32",
        ["only the cases with a dtype other than float64 fail"]),
    bug("omar_dtype", "FullyConnectedNet.loss", **named("ReLU applied to the scores")),
    bug("priya_globalmax", "softmax_loss", "max-shift by the batch's maximum",
        ["max-shift by the batch's maximum", "only the cases with scores near 1000 fail"]),
    bug("priya_globalmax", "max_pool_forward", **named("output size missing the 1 +")),
    bug("priya_globalmax", "max_pool_backward", **named(TIES_SPLIT)),
)

# Functions that change their inputs in place, with the right values: full points (modified_inputs is
# "warn" in the fixture), and a warning that names the input.
IN_PLACE = {
    ("gita_inherit", "relu_forward"): "relu_forward changed its input x in place",
    ("hiro_inplace", "relu_backward"): "relu_backward changed its input dout in place",
    ("hiro_inplace", "softmax_loss"): "softmax_loss changed its input x in place",
}

# Notes "FullyConnectedNet uses your Y, which fails its own tests" that name a Y which is right on every
# input the network gives it, which today's grader still gives (expected failures): none.
MISLEADING_NOTES = {}


def _xfail(reason):
    return [pytest.mark.xfail(strict=True, reason=reason)] if reason else []


def _bugs(student):
    return [b for b in BUGS if b.student == student]


def _params(entries, reason):
    return [pytest.param(e, id=f"{e.student}-{e.function}", marks=_xfail(reason(e))) for e in entries]


# The corpus is what its files say ----------------------------------------------------------------

@pytest.mark.parametrize("student", STUDENTS)
def test_the_oracle_finds_exactly_the_bugs_the_table_lists(student):
    listed = sorted(b.function for b in _bugs(student))
    assert sorted(verdict(student).wrong) == listed


@pytest.mark.parametrize("student", STUDENTS)
def test_every_bug_is_named_in_the_docstring_of_its_file(student):
    docstrings = {}
    for file in ("layers.py", "fc_net.py"):
        text = (STUDENTS_DIR / student / file).read_text()
        docstrings[file] = text.split('"""')[1]
    for entry in _bugs(student):
        file = "fc_net.py" if entry.function.startswith("FullyConnectedNet") else "layers.py"
        if entry.collateral:
            assert "Bugs: none" in docstrings[file]
            assert not verdict(student).net_code_wrong
        else:
            assert f"- {entry.function}:" in docstrings[file], (student, entry.function)
    for (name, function), _ in IN_PLACE.items():
        if name == student:
            assert f"- {function}:" in docstrings["layers.py"] and "in place" in docstrings["layers.py"]
    clean = not _bugs(student) and not any(name == student for name, _ in IN_PLACE)
    assert clean == all("Bugs: none" in text for text in docstrings.values())


def test_the_in_place_table_lists_every_function_that_changes_its_inputs():
    found = {(s, f) for s in STUDENTS for f in verdict(s).modified}
    assert found == set(IN_PLACE)


def test_the_network_fails_through_a_layer_exactly_where_the_table_says_so():
    for entry in BUGS:
        if entry.function == "FullyConnectedNet.loss":
            assert verdict(entry.student).net_code_wrong == (not entry.collateral), entry.student
            if entry.collateral:
                assert "affine_backward" in verdict(entry.student).ordinary


# Points ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("student, function", [(s, f) for s in STUDENTS for f in FUNCTIONS],
                         ids=[f"{s}-{f}" for s in STUDENTS for f in FUNCTIONS])
def test_a_function_has_full_marks_exactly_when_the_oracle_says_it_is_correct(student, function):
    correct = function not in verdict(student).wrong
    assert full_marks(graded(student), function) == correct


def test_the_graded_totals_of_the_fully_correct_students_are_full():
    for student in STUDENTS:
        if not _bugs(student):
            assert graded(student).score == graded(student).possible, student


# Feedback ----------------------------------------------------------------------------------------

def names_the_cause(entry):
    return entry.names in feedback_of(graded(entry.student), entry.function)


@pytest.mark.parametrize("entry", _params(BUGS, lambda e: e.unnamed))
def test_the_feedback_of_a_wrong_function_names_its_real_cause(entry):
    assert entry.names in feedback_of(graded(entry.student), entry.function)


def test_at_least_80_percent_of_the_wrong_functions_get_feedback_that_names_the_cause():
    named_now = [e for e in BUGS if names_the_cause(e)]
    share = len(named_now) / len(BUGS)
    print(f"\nfeedback names the real cause for {len(named_now)} of {len(BUGS)} wrong functions ({share:.0%})")
    assert {(e.student, e.function) for e in BUGS if not e.unnamed} == {(e.student, e.function) for e in named_now}
    assert share >= 0.8


@pytest.mark.parametrize("entry", _params(BUGS, lambda e: e.misleading))
def test_every_diagnosis_of_a_wrong_function_describes_its_bug(entry):
    given = {d.title for c in graded(entry.student).cases if c.case.function == entry.function
             for d in c.diagnoses}
    assert given <= entry.allowed


def _notes_naming_layers(result):
    """(function, layer) for every note that blames one of the student's layers."""
    found = set()
    for case_result in result.cases:
        for note in case_result.notes:
            if COLLATERAL in note:
                blamed = note.split(COLLATERAL, 1)[1].split(", which")[0]
                found.update((case_result.case.function, name.strip()) for name in blamed.split(","))
    return found


@pytest.mark.parametrize("student", [pytest.param(s, marks=_xfail(MISLEADING_NOTES.get(s))) for s in STUDENTS])
def test_a_note_blames_a_layer_only_when_that_layer_is_wrong_on_the_networks_inputs(student):
    blamed = _notes_naming_layers(graded(student))
    assert {layer for _, layer in blamed} <= verdict(student).ordinary
    assert {function for function, _ in blamed} <= {"FullyConnectedNet.loss"}


def test_a_network_that_fails_only_through_a_layer_is_told_which_layer():
    for entry in BUGS:
        if entry.collateral:
            blamed = _notes_naming_layers(graded(entry.student))
            assert blamed == {("FullyConnectedNet.loss", "affine_backward")}, entry.student


# Inputs changed in place -------------------------------------------------------------------------

@pytest.mark.parametrize("student, function", sorted(IN_PLACE), ids=[f"{s}-{f}" for s, f in sorted(IN_PLACE)])
def test_a_function_that_changes_its_inputs_keeps_its_points_with_a_warning_under_what_to_fix_first(student, function):
    from grader.report.render import report_context
    result = graded(student)
    warning = IN_PLACE[(student, function)]
    assert full_marks(result, function)
    visible = [c for c in result.cases if c.case.function == function and not c.case.hidden]
    assert all(any(warning in w for w in c.warnings) for c in visible)
    assert warning in feedback_of(result, function)
    items = report_context(result)["fixes"]["items"]
    listed = [item for item in items if item["function"]["name"] == function]
    assert listed and any(warning in w for w in listed[0]["warnings"])
