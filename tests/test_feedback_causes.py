"""Feedback that names the real cause of a wrong answer, and never a misleading one."""
import json

import numpy as np
import pytest

from grader.engine import grade
from grader.outputs import write_outputs
from grader.report import render_gradescope_summary
from grader.report.render import fix_first, report_context
from helpers import CASES, FIXTURE_CONFIG, MANIFEST, edit_submission, make_assignment, write_solution


def by_function(result, function):
    return [c for c in result.cases if c.case.function == function]


def titles(cases):
    return sorted({d.title for c in cases for d in c.diagnoses})


def test_a_loss_that_is_inf_near_1000_is_named_as_the_log_of_probabilities_and_nothing_else(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py",
                    "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
                    "    loss = float(-log_probs[np.arange(N), y].mean())\n"
                    "    dx = np.exp(log_probs)\n",
                    "    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)\n"
                    "    loss = float(-np.log(probs[np.arange(N), y]).mean())\n"
                    "    dx = probs.copy()\n")
    result = grade(submission, CASES)
    softmax = by_function(result, "softmax_loss")
    large = next(c for c in softmax if c.case.id == "softmax_loss/large-scores")
    assert [d.title for d in large.diagnoses] == ["log of the probabilities (underflows)"]
    assert large.summary == "loss contains inf in 1 of 1 elements"
    assert [c.case.id for c in softmax if not c.passed] == ["softmax_loss/large-scores"]


def test_a_single_number_is_never_said_to_be_off_by_a_constant_factor(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    loss = float(-log_probs[np.arange(N), y].mean())\n",
                    "    loss = float(-log_probs[np.arange(N), y].mean()) * 1.5\n")
    result = grade(submission, CASES)
    failing = [c for c in by_function(result, "softmax_loss") if not c.passed]
    assert failing and not [d for c in failing for d in c.diagnoses if d.key == "generic/scaled"]


def test_a_network_that_fails_only_with_regularization_is_told_the_regularization_is_wrong(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "fc_net.py", "            loss += 0.5 * self.reg * np.sum(W * W)\n",
                    "            loss += 0.5 * self.reg * np.sum(W * W) + 0.01 * self.reg\n")
    result = grade(submission, CASES)
    net = [c for c in by_function(result, "FullyConnectedNet.loss") if not c.case.hidden]
    failing = [c for c in net if not c.passed]
    assert [c.case.id for c in failing] == ["FullyConnectedNet.loss/loss-with-reg"]
    assert [(d.title, d.hint) for d in failing[0].diagnoses] == [(
        "only the cases with regularization (reg > 0) fail",
        "Your FullyConnectedNet.loss passes every case without regularization (reg > 0) and fails every one "
        "with it: the mistake is in how it handles regularization (reg > 0).")]
    assert failing[0].notes == []  # its layers are right: nothing blames them


def test_a_layer_that_fails_only_on_scores_near_1000_is_not_blamed_for_the_network(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    shifted = x - x.max(axis=1, keepdims=True)\n",
                    "    shifted = x\n")  # no max-shift: right on small scores, inf near 1000
    edit_submission(submission, "fc_net.py", "            loss += 0.5 * self.reg * np.sum(W * W)\n",
                    "            loss += self.reg * np.sum(W * W)\n")
    result = grade(submission, CASES)
    assert [c.case.id for c in by_function(result, "softmax_loss") if not c.passed] == ["softmax_loss/large-scores"]
    net = [c for c in by_function(result, "FullyConnectedNet.loss") if not c.passed]
    assert net and not [note for c in net for note in c.notes]
    assert "regularization without the 0.5" in titles(net)


def test_the_network_is_blamed_on_a_layer_that_fails_on_ordinary_inputs(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    db = dout.sum(axis=0)\n", "    db = dout.sum(axis=0) * 2\n")
    result = grade(submission, CASES)
    net = [c for c in by_function(result, "FullyConnectedNet.loss") if not c.passed and not c.case.hidden]
    assert net and {note for c in net for note in c.notes} == {
        "FullyConnectedNet uses your affine_backward, which fails its own tests: fix that first."}


def test_a_method_inherited_from_a_base_class_in_the_same_file_is_graded(tmp_path):
    submission = write_solution(tmp_path / "s")
    path = submission / "fc_net.py"
    text = path.read_text()
    body = text[text.index("    def loss(self, X, y=None):"):]
    text = text.replace(body, "")
    base = "class _Base:\n" + body + "\n\n"
    path.write_text(text.replace("class FullyConnectedNet:", base + "class FullyConnectedNet(_Base):"))
    result = grade(submission, CASES)
    assert all(c.passed for c in by_function(result, "FullyConnectedNet.loss"))
    assert result.score == 100


@pytest.mark.parametrize("setting", ["warn", "fail"])
def test_an_input_changed_in_place_warns_or_fails_as_the_config_says_and_shows_under_what_to_fix(tmp_path,
                                                                                                    setting):
    text = FIXTURE_CONFIG.read_text().replace('hidden_visibility = "after_published"',
                                              f'hidden_visibility = "after_published"\nmodified_inputs = "{setting}"')
    folder = make_assignment(tmp_path / "assignment", text)
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    dx = np.where(x > 0, dout, 0.0)\n",
                    "    dout[x <= 0] = 0.0\n    dx = dout\n")
    result = grade(submission, folder / "test_cases")
    relu = [c for c in by_function(result, "relu_backward") if not c.case.hidden]
    warning = ("relu_backward changed its input dout in place. A function must not modify its inputs: the caller "
               "may still need them. Work on a copy (x.copy()) or build new arrays.")
    fixes = fix_first(report_context(result)["functions"])
    item = next(i for i in fixes["items"] if i["function"]["name"] == "relu_backward")
    if setting == "warn":
        assert [c.passed for c in relu] == [True, True] and [c.warnings for c in relu] == [[warning], [warning]]
        assert item["warnings"] == [warning] and item["lost"] == 0
    else:
        assert [(c.status, c.score, c.summary) for c in relu] == [("failed", 0.0, warning)] * 2
        assert item["lost"] == sum(c.case.points for c in by_function(result, "relu_backward"))


def test_gradescope_lists_an_unfinished_function_once_not_once_per_test(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    out = np.where(x > 0, x, negative_slope * x)\n",
                    "    raise NotImplementedError\n")
    result = grade(submission, CASES)
    summary = render_gradescope_summary(result)
    cases = [c for c in MANIFEST["cases"] if c["function"] == "leaky_relu_forward"]
    assert summary.count("leaky_relu_forward") == 2  # its row under the points, and one line under what to fix
    assert (f"<li><code>leaky_relu_forward</code> ({len(cases)} tests, "
            f"{sum(c['points'] for c in cases):g} points)</li>") in summary


def test_the_new_diagnoses_reach_results_json(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]\n",
                    "    dx = dx_pad[:, :, pad:-pad, pad:-pad]\n")
    results, _ = write_outputs(grade(submission, CASES), tmp_path / "out")
    data = json.loads(results.read_text())
    test = next(t for t in data["tests"] if t["name"] == "conv_backward: stride 1, no padding")
    assert "Likely mistake: dx sliced \\[pad:-pad\\], empty when pad is 0" in test["output"]
    assert "dx has shape (2, 2, 0, 0); expected (2, 2, 5, 6)" in test["output"]


def test_an_output_that_is_zero_to_rounding_is_all_zeros_not_a_constant_factor():
    from grader.diagnose import generic_pattern
    expected = np.array([0.5, -1.25, 2.0, 0.75])
    pattern = generic_pattern(expected, expected * 1.21e-17, "db")
    assert (pattern.key, pattern.outputs) == ("generic/all-zeros", ["db"])
    assert generic_pattern(expected, expected * 3.0, "db").key == "generic/scaled"


def test_no_generic_pattern_where_a_layer_at_fault_explains_the_network_failing(tmp_path):
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    db = dout.sum(axis=0)\n", "    db = 2 * dout.sum(axis=0)\n")
    result = grade(submission, CASES)
    network = [c for c in by_function(result, "FullyConnectedNet.loss") if not c.passed]
    assert network and all(c.notes == ["FullyConnectedNet uses your affine_backward, which fails its own tests: fix "
                                       "that first."] for c in network)
    assert [d.key for c in network for d in c.diagnoses] == []
    affine = [c for c in by_function(result, "affine_backward") if not c.passed]
    assert {d.key for c in affine for d in c.diagnoses} == {"generic/scaled"}   # its own failure keeps its pattern
