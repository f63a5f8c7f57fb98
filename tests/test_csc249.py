"""The class-based assignment (assignments/csc249): layer classes, one example at a time.

Graded with its own fixture config (tests/fixtures/csc249.toml), so the tests pass
whatever an instructor sets in assignments/csc249/assignment.toml.
"""
import json
import shutil
import zipfile

import pytest

from grader.authoring.check import check_assignment
from grader.engine import grade
from grader.report.render import report_context
from helpers import CSC249_SOURCE, ROOT, csc249_fixture, make_assignment, write_csc249_solution

CSC249 = csc249_fixture()
CASES = CSC249 / "test_cases"
MANIFEST = json.loads((CASES / "manifest.json").read_text())
LOOPS = ROOT / "tests" / "fixtures" / "csc249" / "loops"
CLASSES = ("FullyConnected", "Conv2D", "MaxPool2D")


def points_by_class(result):
    points = {}
    for summary in result.by_function():
        cls = summary.name.split(".")[0]
        points[cls] = points.get(cls, 0) + summary.score
    return points


def test_check_passes_on_the_class_based_assignment():
    report = check_assignment(CSC249)
    assert [(step.name, step.ok) for step in report.steps] == [
        ("config", True), ("in sync", True), ("reference scores full marks", True),
        ("template scores 0 without a crash", True), ("every mistake is detected and named", True)]
    assert report.steps[2].details[0] == "70 / 70 points"


def test_the_course_points_are_graded_by_class_and_relu_ships_complete():
    assert {f["name"]: f["points"] for f in MANIFEST["functions"]} == {
        "FullyConnected.forward": 4, "FullyConnected.backward": 6, "Conv2D.forward": 15, "Conv2D.backward": 25,
        "MaxPool2D.forward": 8, "MaxPool2D.backward": 12}
    assert MANIFEST["assignment"]["tie_rule"] == "all"
    template = (CSC249 / "student_template" / "layer.py").read_text()
    assert 'raise NotImplementedError("Conv2D.backward is not implemented yet")' in template
    relu = template.split("class ReLU:", 1)[1]
    assert "return np.where(x > 0, dv_y, 0.0)" in relu and "NotImplementedError" not in relu
    assert "def backward(self, x, dv_y):" in template and "ties=" not in template


@pytest.mark.parametrize("solution", ["vectorized", "loops"])
def test_a_correct_solution_scores_70(tmp_path, solution):
    folder = write_csc249_solution(tmp_path / "s") if solution == "vectorized" else LOOPS
    result = grade(folder, CASES)
    assert result.score == result.possible == 70, [c.summary for c in result.cases if not c.passed]
    assert not [w for c in result.cases for w in c.warnings]


# Each mistake costs points on its own class only, and is named ------------------------------

SOLUTION_MISTAKES = {
    "FullyConnected.forward/bias-dropped": [("        y = self.W @ x + self.b\n", "        y = self.W @ x\n")],
    "FullyConnected.backward/flat-bias-gradient": [("        dv_b = dv_y.copy()\n", "        dv_b = dv_y.ravel()\n")],
    "FullyConnected.backward/dw-transposed": [("        dv_W = dv_y @ x.T\n", "        dv_W = x @ dv_y.T\n")],
    "Conv2D.forward/kernel-flipped": [('        y = np.einsum("chwij,fcij->fhw", windows, self.W)',
                                       '        y = np.einsum("chwij,fcij->fhw", windows, self.W[:, :, ::-1, ::-1])')],
    "Conv2D.backward/flat-bias-gradient": [("        dv_b = dv_y.sum(axis=(1, 2)).reshape(-1, 1)\n",
                                            "        dv_b = dv_y.sum(axis=(1, 2))\n")],
    "Conv2D.backward/padding-kept": [("        dv_x = dv_x_pad[:, p_h:p_h + x.shape[1], p_w:p_w + x.shape[2]]\n",
                                      "        dv_x = dv_x_pad\n")],
    "Conv2D.backward/stride-ignored": [("dv_x_pad[:, i:i + s_h * H_out:s_h, j:j + s_w * W_out:s_w] +=",
                                        "dv_x_pad[:, i:i + H_out, j:j + W_out] +=")],
    "MaxPool2D.backward/ties-first": [("TIE_RULE = 'all'\n", "TIE_RULE = 'first'\n")],
    "MaxPool2D.backward/ties-split": [("TIE_RULE = 'all'\n", "TIE_RULE = 'split'\n")],
    "MaxPool2D.backward/overlap-assigned": [(
        "        dv_x = _scatter_windows(share * dv_y[..., None, None], x.shape, self.strides, self.padding)\n",
        "        (ph, pw), (s_h, s_w), (p_h, p_w) = self.pool_size, self.strides, self.padding\n"
        "        dv_pad = np.zeros((x.shape[0], x.shape[1] + 2 * p_h, x.shape[2] + 2 * p_w))\n"
        "        for i in range(dv_y.shape[1]):\n"
        "            for j in range(dv_y.shape[2]):\n"
        "                dv_pad[:, i * s_h:i * s_h + ph, j * s_w:j * s_w + pw] = share[:, i, j] * dv_y[:, i, j, None, None]\n"
        "        dv_x = dv_pad[:, p_h:p_h + x.shape[1], p_w:p_w + x.shape[2]]\n")],
    "MaxPool2D.forward/zero-padding": [("constant_values=-np.inf", "constant_values=0")],
}


@pytest.fixture(scope="module")
def mistaken(tmp_path_factory):
    """{mistake key: GradeResult} of the vectorized solution with that mistake's edits."""
    base = tmp_path_factory.mktemp("mistakes")
    grades = {}
    for key, edits in SOLUTION_MISTAKES.items():
        folder = write_csc249_solution(base / key.replace("/", "--"))
        path = folder / "layer.py"
        text = path.read_text()
        for old, new in edits:
            assert text.count(old) == 1, (key, old)
            text = text.replace(old, new)
        path.write_text(text)
        grades[key] = grade(folder, CASES)
    return grades


@pytest.mark.parametrize("key", sorted(SOLUTION_MISTAKES))
def test_a_mistake_costs_points_on_its_own_class_only_and_its_feedback_names_it(mistaken, key):
    result = mistaken[key]
    cls = key.split(".")[0]
    points = points_by_class(result)
    full = {name: sum(f["points"] for f in MANIFEST["functions"] if f["name"].startswith(name + "."))
            for name in CLASSES}
    assert points[cls] < full[cls]
    assert {name: points[name] for name in CLASSES if name != cls} == {
        name: full[name] for name in CLASSES if name != cls}
    title = MANIFEST["mistakes"][key]["title"]
    named = {d.title for c in result.cases if not c.case.hidden for d in c.diagnoses}
    assert title in named


def test_the_relu_gradient_at_zero_is_named_once_relu_is_graded(tmp_path):
    text = (ROOT / "tests" / "fixtures" / "csc249.toml").read_text().replace(
        "total_points = 70", "total_points = 74").replace('[points]\n',
                                                          '[points]\n"ReLU.forward" = 2\n"ReLU.backward" = 2\n')
    folder = make_assignment(tmp_path / "with-relu", text, source=CSC249_SOURCE)
    solution = write_csc249_solution(tmp_path / "s")
    path = solution / "layer.py"
    path.write_text(path.read_text().replace("return np.where(x > 0, dv_y, 0.0)", "return np.where(x >= 0, dv_y, 0.0)"))
    result = grade(solution, folder / "test_cases")
    assert points_by_class(result)["ReLU"] == 2 and result.score == 72
    relu = [c for c in result.cases if c.case.function == "ReLU.backward"]
    assert [d.title for d in relu[0].diagnoses] == ["gradient passed at x == 0"]


# Static checks, in plain words --------------------------------------------------------------

@pytest.mark.parametrize("old, new, function, message", [
    ("class MaxPool2D:", "class MaxPool:", "MaxPool2D.forward", "class MaxPool2D is missing: layer.py must define it"),
    ('    def __init__(self, filter_size, strides, padding, weights_init=None, bias_init=None, name="Conv2D"):',
     '    def __init__(self, filter_size, stride, padding, weights_init=None, bias_init=None, name="Conv2D"):',
     "Conv2D.forward", "Conv2D must accept (filter_size, strides, padding, weights_init, bias_init, name); yours "
                       "takes (filter_size, stride, padding, weights_init, bias_init, name)"),
    ("    def backward(self, x, dv_y):\n        \"\"\"Compute the derivatives of the loss with respect to x, W and b.\n\n"
     "        Inputs:\n        - x: the input forward got, of shape (C, H, W)",
     "    def backward(self, x):\n        \"\"\"Compute the derivatives of the loss with respect to x, W and b.\n\n"
     "        Inputs:\n        - x: the input forward got, of shape (C, H, W)",
     "Conv2D.backward", "Conv2D.backward must accept (x, dv_y); yours takes (x)"),
])
def test_a_missing_class_a_changed_constructor_or_method_is_named_before_any_code_runs(tmp_path, old, new,
                                                                                      function, message):
    folder = tmp_path / "s"
    shutil.copytree(LOOPS, folder)
    path = folder / "layer.py"
    assert path.read_text().count(old) == 1
    path.write_text(path.read_text().replace(old, new))
    result = grade(folder, CASES)
    failing = [c for c in result.cases if c.case.function == function]
    assert {(c.status, c.summary) for c in failing} == {("interface", message)}
    cls = function.split(".")[0]
    assert all(c.passed for c in result.cases if not c.case.function.startswith(cls + "."))


def test_the_zip_the_course_s_collect_submission_makes_is_found_and_graded(tmp_path):
    upload = tmp_path / "hw2_submission.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        archive.write(LOOPS / "layer.py", "code/layer.py")
        archive.writestr("code/nn_utils.py", "import numpy as np\n")
        archive.writestr("hw2.ipynb", "{}")
    result = grade(upload, CASES)
    assert result.score == 70
    assert result.notes == ["the files were found inside the folder code/"]


# Feedback on (C, H, W) maps and column vectors ---------------------------------------------

def test_the_report_draws_channel_slices_with_pool_windows_and_tied_maxima(mistaken):
    result = mistaken["MaxPool2D.backward/ties-first"]
    context = report_context(result)
    case = next(c for f in context["functions"] for c in f["cases"] if c["id"] == "MaxPool2D.backward/two-tied-maxima")
    heatmap = case["outputs"][0]["heatmap"]
    assert heatmap.slice_label == "dv_x[i]"
    assert [panel.label for panel in heatmap.panels] == ["dv_x[0]", "dv_x[1]"]
    assert heatmap.tie_count == 4 and heatmap.windows
    assert sum(cell.tied for panel in heatmap.panels for cell in panel.cells) == 4
    assert case["diagnoses"][0]["title"] == "tie rule 'first' instead of 'all'"


def test_a_column_vector_output_is_compared_and_shown_as_a_column(mistaken):
    result = mistaken["FullyConnected.backward/flat-bias-gradient"]
    case = next(c for c in result.cases if c.case.id == "FullyConnected.backward/four-by-seven")
    dv_b = next(o for o in case.outputs if o.name == "dv_b")
    assert dv_b.message == "dv_b has shape (4,); expected (4, 1)"
    assert [d.title for d in case.diagnoses] == ["dv_b of shape (out,), not (out, 1)"]
