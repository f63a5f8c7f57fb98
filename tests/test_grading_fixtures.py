"""Whole submissions through grade(): what each kind of submission must score, and why.

Every submission here is built from a known-correct one, either the naive loop
solution in tests/fixtures/naive/ or the reference turned into student form by
solution_version(), changed by a small textual edit that does what a student
would do: one mistake of the catalog, a broken file, a changed signature, code
that loops, exits, hogs memory or tries to cheat. Each test states the outcome
the grader must reach, and every grade's results.json is checked against
Gradescope's schema.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import pytest

from grader.authoring.template import solution_version
from grader.engine import grade
from grader.outputs import write_outputs
from helpers import CASES, FIXTURE, cases_with_settings, load_results

ROOT = Path(__file__).resolve().parents[1]
NAIVE = ROOT / "tests" / "fixtures" / "naive"
MANIFEST = json.loads((CASES / "manifest.json").read_text(encoding="utf-8"))
FUNCTIONS = [f["name"] for f in MANIFEST["functions"]]
LAYER_FUNCTIONS = [f["name"] for f in MANIFEST["functions"] if f["module"] == "layers"]
FC_FUNCTIONS = [f["name"] for f in MANIFEST["functions"] if f["module"] == "fc_net"]
FC_LAYERS = ("affine_forward", "affine_backward", "relu_forward", "relu_backward", "softmax_loss")
POINTS = {f["name"]: f["points"] for f in MANIFEST["functions"]}


# Building and grading submissions ----------------------------------------------------

def solution_files():
    """{file name: text} of the reference as a correct student submission (tie rule "all")."""
    return {name: solution_version((ROOT / "reference" / name).read_text(encoding="utf-8"), name, "all")
            for name in ("layers.py", "fc_net.py")}


def apply_edits(files, edits):
    """Apply [(file, old, new)] to {file name: text}; each old text must occur exactly once."""
    files = dict(files)
    for name, old, new in edits:
        count = files[name].count(old)
        assert count == 1, f"{name}: expected the text to edit exactly once, found it {count} times:\n{old}"
        files[name] = files[name].replace(old, new)
    return files


def write_submission(folder, files):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def graded(submission, results_dir, cases=CASES):
    """grade() the submission, write its results.json and report, and check the schema."""
    result = grade(submission, cases)
    assert_valid_results(result, results_dir)
    return result


def assert_valid_results(result, out_dir):
    results_path, _ = write_outputs(result, out_dir)
    data = load_results(results_path)
    assert data["score"] == result.score
    return data


def points_by_function(result):
    return {s.name: (s.score, s.possible) for s in result.by_function()}


def cases_of(result, function):
    return [c for c in result.cases if c.case.function == function]


def assert_full_marks_except(result, functions):
    """Every function not in `functions` keeps all its points."""
    lost = {name: points for name, points in points_by_function(result).items()
            if name not in functions and points[0] != points[1]}
    assert lost == {}


# The mistake catalog, reproduced by editing the correct solution -------------------------

SCATTER = "    dx = _scatter_windows(share * dout[..., None, None], x.shape, stride)\n"

# mistake key -> [(file, old text, new text)]: what a student who makes the mistake writes.
MISTAKE_EDITS = {
    "affine_forward/bias-dropped": [(
        "layers.py",
        "    out = x.reshape(x.shape[0], -1) @ w + b\n",
        "    out = x.reshape(x.shape[0], -1) @ w\n")],
    "affine_backward/dw-transposed": [(
        "layers.py",
        "    dw = x_rows.T @ dout\n",
        "    dw = dout.T @ x_rows\n")],
    "affine_backward/db-not-summed": [(
        "layers.py",
        "    db = dout.sum(axis=0)\n",
        "    db = dout.copy()\n")],
    "affine_backward/db-wrong-axis": [(
        "layers.py",
        "    db = dout.sum(axis=0)\n",
        "    db = dout.sum(axis=1)\n")],
    "affine_backward/dx-not-reshaped": [(
        "layers.py",
        "    dx = (dout @ w.T).reshape(x.shape)\n",
        "    dx = dout @ w.T\n")],
    "relu_backward/gradient-at-zero": [(
        "layers.py",
        "    dx = np.where(x > 0, dout, 0.0)\n",
        "    dx = np.where(x >= 0, dout, 0.0)\n")],
    "leaky_relu_forward/slope-hard-coded": [(
        "layers.py",
        "    out = np.where(x > 0, x, negative_slope * x)\n",
        "    out = np.where(x > 0, x, 0.01 * x)\n")],
    "leaky_relu_backward/slope-hard-coded": [(
        "layers.py",
        "    dx = np.where(x > 0, dout, negative_slope * dout)\n",
        "    dx = np.where(x > 0, dout, 0.01 * dout)\n")],
    "leaky_relu_backward/gradient-at-zero": [(
        "layers.py",
        "    dx = np.where(x > 0, dout, negative_slope * dout)\n",
        "    dx = np.where(x >= 0, dout, negative_slope * dout)\n")],
    "softmax_loss/not-averaged": [
        ("layers.py",
         "    loss = float(-log_probs[np.arange(N), y].mean())\n",
         "    loss = float(-log_probs[np.arange(N), y].sum())\n"),
        ("layers.py", "    dx /= N\n", "")],
    "softmax_loss/no-max-shift": [(
        "layers.py",
        "    shifted = x - x.max(axis=1, keepdims=True)\n"
        "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
        "    loss = float(-log_probs[np.arange(N), y].mean())\n"
        "    dx = np.exp(log_probs)\n",
        "    probs = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)\n"
        "    loss = float(-np.log(probs[np.arange(N), y]).mean())\n"
        "    dx = probs.copy()\n")],
    "softmax_loss/batch-max-shift": [(
        "layers.py",
        "    shifted = x - x.max(axis=1, keepdims=True)\n"
        "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
        "    loss = float(-log_probs[np.arange(N), y].mean())\n"
        "    dx = np.exp(log_probs)\n",
        "    e = np.exp(x - np.max(x))\n"
        "    probs = e / e.sum(axis=1, keepdims=True)\n"
        "    loss = float(-np.log(probs[np.arange(N), y]).mean())\n"
        "    dx = probs.copy()\n")],
    "softmax_loss/label-set-to-one": [(
        "layers.py",
        "    dx[np.arange(N), y] -= 1\n",
        "    dx[np.arange(N), y] = 1\n")],
    "softmax_loss/log-of-probabilities": [(
        "layers.py",
        "    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))\n"
        "    loss = float(-log_probs[np.arange(N), y].mean())\n"
        "    dx = np.exp(log_probs)\n",
        "    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)\n"
        "    loss = float(-np.log(probs[np.arange(N), y]).mean())\n"
        "    dx = probs.copy()\n")],
    "conv_forward/kernel-flipped": [(
        "layers.py",
        '    out = np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]\n',
        '    out = np.einsum("nchwij,fcij->nfhw", windows, w[:, :, ::-1, ::-1]) + b[None, :, None, None]\n')],
    "conv_forward/bias-dropped": [(
        "layers.py",
        '    out = np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]\n',
        '    out = np.einsum("nchwij,fcij->nfhw", windows, w)\n')],
    "conv_backward/kernel-flipped": [
        ("layers.py",
         "    HH, WW = w.shape[2:]\n"
         "    windows = _conv_windows(x, w.shape, stride, pad)  # (N, C, H', W', HH, WW)\n",
         "    HH, WW = w.shape[2:]\n"
         "    w = w[:, :, ::-1, ::-1]  # a convolution flips its kernel\n"
         "    windows = _conv_windows(x, w.shape, stride, pad)  # (N, C, H', W', HH, WW)\n"),
        ("layers.py",
         '    dw = np.einsum("nchwij,nfhw->fcij", windows, dout)\n',
         '    dw = np.einsum("nchwij,nfhw->fcij", windows, dout)[:, :, ::-1, ::-1]\n')],
    "conv_backward/stride-ignored": [
        ("layers.py",
         "    windows = _conv_windows(x, w.shape, stride, pad)  # (N, C, H', W', HH, WW)\n"
         '    _check_dout(dout, (x.shape[0], w.shape[0], *windows.shape[2:4]), "conv_backward")\n'
         "    N, F, H_out, W_out = dout.shape\n",
         "    N, F, H_out, W_out = dout.shape\n"
         "    windows = _conv_windows(x, w.shape, 1, pad)[:, :, :H_out, :W_out]\n"),
        ("layers.py",
         "            rows = slice(i, i + stride * H_out, stride)\n"
         "            cols = slice(j, j + stride * W_out, stride)\n",
         "            rows = slice(i, i + H_out)\n"
         "            cols = slice(j, j + W_out)\n")],
    "conv_backward/padding-kept": [(
        "layers.py",
        "    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]\n",
        "    dx = dx_pad\n")],
    "conv_backward/empty-slice-at-pad-0": [(
        "layers.py",
        "    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]\n",
        "    dx = dx_pad[:, :, pad:-pad, pad:-pad]\n")],
    "conv_backward/hard-coded-crop": [(
        "layers.py",
        "    dx = dx_pad[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]\n",
        "    dx = dx_pad[:, :, 1:-1, 1:-1]\n")],
    "conv_forward/width-from-height": [(
        "layers.py",
        "    windows = _conv_windows(x, w.shape, stride, pad)  # (N, C, H', W', HH, WW)\n"
        '    out = np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]\n',
        "    N, C, H, W = x.shape\n"
        "    F, _, HH, WW = w.shape\n"
        "    x_pad = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))\n"
        "    H_out = 1 + (H + 2 * pad - HH) // stride\n"
        "    W_out = 1 + (H + 2 * pad - WW) // stride\n"
        "    out = np.zeros((N, F, H_out, W_out))\n"
        "    for i in range(H_out):\n"
        "        for j in range(W_out):\n"
        "            window = x_pad[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]\n"
        '            out[:, :, i, j] = np.einsum("ncij,fcij->nf", window, w) + b\n')],
    "conv_backward/first-sample-only": [(
        "layers.py",
        '    dw = np.einsum("nchwij,nfhw->fcij", windows, dout)\n'
        "    db = dout.sum(axis=(0, 2, 3))\n",
        '    dw = np.einsum("chwij,fhw->fcij", windows[0], dout[0])\n'
        "    db = dout[0].sum(axis=(1, 2))\n")],
    "max_pool_forward/width-from-pool-height": [(
        "layers.py",
        "    out = _pool_windows(x, ph, pw, stride).max(axis=(-2, -1))\n",
        "    H_out = 1 + (x.shape[2] - ph) // stride\n"
        "    W_out = 1 + (x.shape[3] - ph) // stride\n"
        "    out = np.zeros((x.shape[0], x.shape[1], H_out, W_out))\n"
        "    for i in range(H_out):\n"
        "        for j in range(W_out):\n"
        "            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]\n"
        "            out[:, :, i, j] = window.max(axis=(2, 3))\n")],
    "max_pool_forward/size-without-one": [(
        "layers.py",
        "    out = _pool_windows(x, ph, pw, stride).max(axis=(-2, -1))\n",
        "    H_out = (x.shape[2] - ph) // stride\n"
        "    W_out = (x.shape[3] - pw) // stride\n"
        "    out = np.zeros((x.shape[0], x.shape[1], H_out, W_out))\n"
        "    for i in range(H_out):\n"
        "        for j in range(W_out):\n"
        "            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]\n"
        "            out[:, :, i, j] = window.max(axis=(2, 3))\n")],
    "max_pool_forward/stride-as-pool-size": [(
        "layers.py",
        "    out = _pool_windows(x, ph, pw, stride).max(axis=(-2, -1))\n",
        "    H_out = 1 + (x.shape[2] - ph) // stride\n"
        "    W_out = 1 + (x.shape[3] - pw) // stride\n"
        "    out = np.zeros((x.shape[0], x.shape[1], H_out, W_out))\n"
        "    for i in range(H_out):\n"
        "        for j in range(W_out):\n"
        "            out[:, :, i, j] = x[:, :, i * ph:(i + 1) * ph, j * pw:(j + 1) * pw].max(axis=(2, 3))\n")],
    "max_pool_backward/ties-first": [(
        "layers.py",
        "TIE_RULE = 'all'\n",
        "TIE_RULE = 'first'\n")],
    "max_pool_backward/ties-split": [(
        "layers.py",
        "TIE_RULE = 'all'\n",
        "TIE_RULE = 'split'\n")],
    "max_pool_backward/overlap-assigned": [(
        "layers.py",
        SCATTER,
        "    per_window = share * dout[..., None, None]\n"
        "    dx = np.zeros(x.shape)\n"
        "    for i in range(dout.shape[2]):\n"
        "        for j in range(dout.shape[3]):\n"
        "            rows = slice(i * stride, i * stride + ph)\n"
        "            cols = slice(j * stride, j * stride + pw)\n"
        "            dx[:, :, rows, cols] = per_window[:, :, i, j]\n")],
    "max_pool_backward/stride-as-pool-size": [(
        "layers.py",
        SCATTER,
        "    dx = np.zeros(x.shape)\n"
        "    for i in range(dout.shape[2]):\n"
        "        for j in range(dout.shape[3]):\n"
        "            rows = slice(i * ph, (i + 1) * ph)\n"
        "            cols = slice(j * pw, (j + 1) * pw)\n"
        "            window = x[:, :, rows, cols]\n"
        "            is_max = window == window.max(axis=(2, 3), keepdims=True)\n"
        "            dx[:, :, rows, cols] += is_max * dout[:, :, i:i + 1, j:j + 1]\n")],
    "avg_pool_forward/not-divided": [(
        "layers.py",
        "    out = _pool_windows(x, ph, pw, stride).mean(axis=(-2, -1))\n",
        "    out = _pool_windows(x, ph, pw, stride).sum(axis=(-2, -1))\n")],
    "avg_pool_backward/not-divided": [(
        "layers.py",
        "    per_input = np.broadcast_to(dout[..., None, None] / (ph * pw), (*dout.shape, ph, pw))\n",
        "    per_input = np.broadcast_to(dout[..., None, None], (*dout.shape, ph, pw))\n")],
    "avg_pool_backward/overlap-assigned": [(
        "layers.py",
        "    dx = _scatter_windows(per_input, x.shape, stride)\n",
        "    dx = np.zeros(x.shape)\n"
        "    for i in range(dout.shape[2]):\n"
        "        for j in range(dout.shape[3]):\n"
        "            dx[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] = per_input[:, :, i, j]\n")],
    "avg_pool_backward/area-from-pool-height": [(
        "layers.py",
        "    per_input = np.broadcast_to(dout[..., None, None] / (ph * pw), (*dout.shape, ph, pw))\n",
        "    per_input = np.broadcast_to(dout[..., None, None] / (ph * ph), (*dout.shape, ph, pw))\n")],
    "FullyConnectedNet.__init__/weight-scale-ignored": [(
        "fc_net.py",
        '            self.params[f"W{layer}"] = weight_scale * np.random.randn(fan_in, fan_out)\n',
        '            self.params[f"W{layer}"] = np.random.randn(fan_in, fan_out)\n')],
    "FullyConnectedNet.loss/reg-grad-unscaled": [(
        "fc_net.py",
        '            grads[f"W{layer}"] = grads[f"W{layer}"] + self.reg * W\n',
        '            grads[f"W{layer}"] = grads[f"W{layer}"] + W\n')],
    "FullyConnectedNet.loss/reg-without-half": [(
        "fc_net.py",
        "            loss += 0.5 * self.reg * np.sum(W * W)\n"
        '            grads[f"W{layer}"] = grads[f"W{layer}"] + self.reg * W\n',
        "            loss += self.reg * np.sum(W * W)\n"
        '            grads[f"W{layer}"] = grads[f"W{layer}"] + 2 * self.reg * W\n')],
    "FullyConnectedNet.loss/reg-missing-from-loss": [(
        "fc_net.py",
        "            loss += 0.5 * self.reg * np.sum(W * W)\n",
        "")],
    "FullyConnectedNet.loss/reg-sum-of-weights": [(
        "fc_net.py",
        "            loss += 0.5 * self.reg * np.sum(W * W)\n",
        "            loss += self.reg * np.sum(W)\n")],
    "FullyConnectedNet.loss/last-layer-not-regularized": [(
        "fc_net.py",
        "        for layer in range(1, self.num_layers + 1):\n            W = self.params[f\"W{layer}\"]\n",
        "        for layer in range(1, self.num_layers):\n            W = self.params[f\"W{layer}\"]\n")],
    "FullyConnectedNet.loss/relu-on-scores": [
        ("fc_net.py",
         '        scores, last_cache = affine_forward(hidden, self.params[f"W{last}"], self.params[f"b{last}"])\n',
         '        scores, last_cache = affine_forward(hidden, self.params[f"W{last}"], self.params[f"b{last}"])\n'
         "        scores, scores_relu_cache = relu_forward(scores)\n"),
        ("fc_net.py",
         "        loss, dscores = softmax_loss(scores, y)\n",
         "        loss, dscores = softmax_loss(scores, y)\n"
         "        dscores = relu_backward(dscores, scores_relu_cache)\n")],
}

# The natural way to make this mistake is not what the catalog stores (see the report below).
@pytest.fixture(scope="module")
def mutant_grades(tmp_path_factory):
    """{mistake key: GradeResult} for the solution with that mistake's edit applied."""
    base = tmp_path_factory.mktemp("mutants")
    correct = solution_files()
    grades = {}
    for key, edits in MISTAKE_EDITS.items():
        folder = write_submission(base / key.replace("/", "--"), apply_edits(correct, edits))
        grades[key] = graded(folder, base / (key.replace("/", "--") + "-out"))
    return grades


def test_the_edit_table_covers_every_mistake_of_the_manifest():
    assert sorted(MISTAKE_EDITS) == sorted(MANIFEST["mistakes"])


@pytest.mark.parametrize("key", sorted(MANIFEST["mistakes"]))
def test_a_mistake_costs_points_only_in_its_own_function(mutant_grades, key):
    result = mutant_grades[key]
    function = MANIFEST["mistakes"][key]["function"]
    score, possible = points_by_function(result)[function]
    assert score < possible
    fc_may_fail = function in FC_LAYERS
    assert_full_marks_except(result, {function, *(FC_FUNCTIONS if fc_may_fail else ())})
    if fc_may_fail:
        note = f"FullyConnectedNet uses your {function}, which fails its own tests: fix that first."
        for case_result in result.cases:
            if case_result.case.function in FC_FUNCTIONS and not case_result.passed:
                assert note in case_result.notes, case_result.case.id


@pytest.mark.parametrize("key", sorted(MANIFEST["mistakes"]))
def test_a_mistake_is_named_with_the_manifest_hint(mutant_grades, key):
    result = mutant_grades[key]
    entry = MANIFEST["mistakes"][key]
    named = [(d.key, d.hint) for c in cases_of(result, entry["function"]) for d in c.diagnoses
             if d.key == key]
    assert named, [(c.case.id, [d.key for d in c.diagnoses]) for c in cases_of(result, entry["function"])]
    assert set(named) == {(key, entry["hint"])}


# Correct submissions --------------------------------------------------------------------

def test_the_naive_loop_solution_gets_full_marks(tmp_path):
    result = graded(NAIVE, tmp_path / "out")
    assert (result.score, result.possible) == (100, 100)
    assert [c.case.id for c in result.cases if c.warnings] == []
    assert result.problems == []


def test_the_vectorized_solution_gets_full_marks(tmp_path):
    folder = write_submission(tmp_path / "sub", solution_files())
    result = graded(folder, tmp_path / "out")
    assert (result.score, result.possible) == (100, 100)
    assert result.problems == []


def test_an_extra_parameter_with_a_default_keeps_full_marks(tmp_path):
    files = apply_edits(solution_files(), [("layers.py", "def relu_forward(x):\n",
                                            "def relu_forward(x, inplace=False):\n")])
    result = graded(write_submission(tmp_path / "sub", files), tmp_path / "out")
    assert (result.score, result.possible) == (100, 100)


# Unfinished and broken files ---------------------------------------------------------------

def test_the_untouched_template_scores_zero_with_every_case_not_implemented(tmp_path):
    result = graded(FIXTURE / "student_template", tmp_path / "out")
    assert result.score == 0
    assert result.problems == []
    assert {c.status for c in result.cases} == {"not-implemented"}
    assert [c.summary for c in result.cases] == [f"{c.case.function} is not implemented yet"
                                                 for c in result.cases]


def test_a_syntax_error_in_layers_names_the_line_and_blocks_both_modules(tmp_path):
    files = solution_files()
    good = "    dw = x_rows.T @ dout\n"
    bad = "    dw = x_rows.T @ dout)\n"
    line = files["layers.py"][:files["layers.py"].index(good)].count("\n") + 1
    files = apply_edits(files, [("layers.py", good, bad)])
    result = graded(write_submission(tmp_path / "sub", files), tmp_path / "out")
    syntax = [p for p in result.problems if p.startswith(f"layers.py:{line}: syntax error")]
    assert len(syntax) == 1 and syntax[0].endswith(": " + bad.strip())
    assert result.score == 0
    assert {c.status for c in result.cases} == {"import"}
    assert {c.case.function for c in result.cases} == set(FUNCTIONS)


def test_a_changed_signature_fails_only_that_function_with_both_signatures_named(tmp_path):
    files = apply_edits(solution_files(), [
        ("layers.py", "def conv_forward(x, w, b, conv_param):\n",
         "def conv_forward(x, w, b, stride, pad):\n"),
        ("layers.py", "    out = None\n    stride, pad = _check_conv(x, w, b, conv_param)\n",
         "    out = None\n    conv_param = {'stride': stride, 'pad': pad}\n"
         "    stride, pad = _check_conv(x, w, b, conv_param)\n")])
    result = graded(write_submission(tmp_path / "sub", files), tmp_path / "out")
    conv = cases_of(result, "conv_forward")
    assert {c.status for c in conv} == {"interface"}
    assert {c.summary for c in conv} == {
        "conv_forward must accept (x, w, b, conv_param); yours takes (x, w, b, stride, pad)"}
    assert_full_marks_except(result, {"conv_forward"})
    assert result.score == 100 - POINTS["conv_forward"]


def test_a_missing_fc_net_is_a_problem_and_the_layers_are_still_graded(tmp_path):
    files = solution_files()
    del files["fc_net.py"]
    result = graded(write_submission(tmp_path / "sub", files), tmp_path / "out")
    assert "fc_net.py is missing from the submission" in result.problems
    assert_full_marks_except(result, set(FC_FUNCTIONS))
    assert {c.status for c in result.cases if c.case.function in FC_FUNCTIONS} == {"import"}
    assert result.score == 100 - sum(POINTS[f] for f in FC_FUNCTIONS)


def test_a_zip_with_the_files_in_a_folder_and_macos_junk_gets_full_marks(tmp_path):
    upload = tmp_path / "hw2.zip"
    with zipfile.ZipFile(upload, "w") as archive:
        for name, text in solution_files().items():
            archive.writestr(f"hw2/{name}", text)
            archive.writestr(f"__MACOSX/hw2/._{name}", b"\x00\x05\x16\x07 junk")
        archive.writestr("hw2/__pycache__/x.pyc", b"\x6f\x0d\x0d\x0a not python")
    result = graded(upload, tmp_path / "out")
    assert (result.score, result.possible) == (100, 100)
    assert "the files were found inside the folder hw2/" in result.notes
    assert result.problems == []


# Code that loops, exits, crashes or runs out of memory ---------------------------------------

@pytest.fixture
def fast_timeout_cases(tmp_path):
    """A copy of test_cases whose case_timeout is 1 s (the hashes cover only the .npz files)."""
    cases = tmp_path / "test_cases"
    shutil.copytree(CASES, cases)
    manifest = json.loads((cases / "manifest.json").read_text(encoding="utf-8"))
    assert "manifest.json" not in manifest["files"]
    manifest["settings"]["case_timeout"] = 1.0
    (cases / "manifest.json").write_text(json.dumps(manifest, indent=1), encoding="utf-8")
    return cases


def test_an_infinite_loop_times_out_its_function_and_nothing_else(tmp_path, fast_timeout_cases):
    files = apply_edits(solution_files(), [(
        "layers.py",
        "    out = _pool_windows(x, ph, pw, stride).max(axis=(-2, -1))\n",
        "    i = 0\n"
        "    while i < x.shape[2]:  # forgot i += 1\n"
        "        out = _pool_windows(x, ph, pw, stride).max(axis=(-2, -1))\n")])
    result = graded(write_submission(tmp_path / "sub", files), tmp_path / "out", cases=fast_timeout_cases)
    pool = cases_of(result, "max_pool_forward")
    # After two timeouts the function's remaining cases are not run at all.
    assert [c.status for c in pool] == ["timeout", "timeout"] + ["not-run"] * (len(pool) - 2)
    assert all("Look for a loop that never ends" in c.summary for c in pool[:2])
    assert_full_marks_except(result, {"max_pool_forward"})


def test_os_exit_in_the_middle_of_a_call_crashes_that_case_and_the_worker_restarts(tmp_path):
    files = apply_edits(solution_files(), [
        ("layers.py", "import numpy as np\n", "import os\n\nimport numpy as np\n"),
        ("layers.py", "    db = dout.sum(axis=(0, 2, 3))\n",
         "    db = dout.sum(axis=(0, 2, 3))\n    os._exit(0)\n")])
    result = graded(write_submission(tmp_path / "sub", files), tmp_path / "out")
    conv = cases_of(result, "conv_backward")
    assert {c.status for c in conv} == {"crashed"}
    assert all("exit status 0" in c.summary and "os._exit()" in c.summary for c in conv)
    assert_full_marks_except(result, {"conv_backward"})


def test_a_memory_hog_is_an_error_that_mentions_memory(tmp_path):
    files = apply_edits(solution_files(), [(
        "layers.py",
        "    out = _pool_windows(x, ph, pw, stride).mean(axis=(-2, -1))\n",
        "    scratch = np.ones((10**5, 10**5))  # 80 GB\n"
        "    out = _pool_windows(x, ph, pw, stride).mean(axis=(-2, -1))\n")])
    result = graded(write_submission(tmp_path / "sub", files), tmp_path / "out")
    pool = cases_of(result, "avg_pool_forward")
    assert {c.status for c in pool} == {"error"}
    assert {c.summary for c in pool} == {"ran out of memory: your code may use at most 512 MB. Look for an "
                                         "array far larger than the inputs"}
    assert_full_marks_except(result, {"avg_pool_forward"})


def test_sys_exit_at_import_blocks_every_case_and_names_layers_py(tmp_path):
    files = apply_edits(solution_files(), [
        ("layers.py", "import numpy as np\n", "import sys\n\nimport numpy as np\n\nsys.exit(0)\n")])
    line = files["layers.py"].splitlines().index("sys.exit(0)") + 1
    result = graded(write_submission(tmp_path / "sub", files), tmp_path / "out")
    assert result.score == 0
    assert {c.status for c in result.cases} == {"import"}
    assert result.problems == [
        f"layers.py: importing it raised SystemExit: 0 at layers.py:{line} (sys.exit(0))",
        f"fc_net.py: importing it raised SystemExit: 0 at layers.py:{line} (sys.exit(0))"]


# Attempts to cheat -------------------------------------------------------------------------

PLANT_RESULTS = '''
import json as _json
import os as _os


def _plant_results():
    """Write a perfect results.json wherever this process can: up from the cwd, and --out."""
    fake = {"score": 100.0, "tests": [{"name": "everything", "score": 100.0, "max_score": 100.0}]}
    targets, folder = [], _os.getcwd()
    while True:
        targets.append(folder)
        if _os.path.dirname(folder) == folder:
            break
        folder = _os.path.dirname(folder)
    try:
        with open(f"/proc/{_os.getppid()}/cmdline", "rb") as handle:
            argv = handle.read().decode().split("\\0")
        for flag in ("--out", "--cases"):
            if flag in argv:
                targets.append(argv[argv.index(flag) + 1])
    except OSError:
        pass
    for folder in targets:
        if folder in ("/", "/tmp"):  # (the fixture leaves the machine's shared folders alone)
            continue
        for name in ("results.json", "PLANTED"):
            try:
                with open(_os.path.join(folder, name), "w") as handle:
                    _json.dump(fake, handle)
            except OSError:
                pass


_plant_results()
'''


def test_a_results_json_written_by_student_code_is_replaced_by_the_graders(tmp_path):
    wrong = apply_edits(solution_files(), MISTAKE_EDITS["avg_pool_forward/not-divided"])
    honest = graded(write_submission(tmp_path / "honest", wrong), tmp_path / "honest-out")
    assert honest.score == 100 - POINTS["avg_pool_forward"]
    cheat = dict(wrong, **{"layers.py": wrong["layers.py"] + PLANT_RESULTS})
    submission = write_submission(tmp_path / "cheat", cheat)
    # An --out folder the sandbox user could write, were the grader not to close it.
    shared = Path(tempfile.mkdtemp(prefix="fixture-out-"))
    try:
        os.chmod(shared, 0o755)
        out = shared / "out"
        out.mkdir()
        os.chmod(out, 0o777)
        # A copy of the cases: as a normal user, the planting code could write into them.
        cases = cases_with_settings(shared / "copy")
        run = subprocess.run([sys.executable, "-m", "grader", "grade", "--assignment", str(FIXTURE), str(submission),
                              "--out", str(out),
                              "--cases", str(cases), "--quiet"], cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
        assert run.returncode == 0, run.stderr
        if os.geteuid() == 0:  # the sandbox user could not write there: nothing was planted
            assert f"note: removing other users' access to {out}" in run.stderr
            assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.json"]
        # As a normal user the planted files stay (SECURITY.md), but results.json is the grader's.
        data = load_results(out / "results.json")
        assert data["score"] == honest.score
        assert sum(t["max_score"] for t in data["tests"]) == pytest.approx(100)
    finally:
        shutil.rmtree(shared)


def test_patching_numpy_comparisons_in_the_student_process_changes_nothing(tmp_path):
    files = apply_edits(solution_files(), [
        ("layers.py",
         '    out = np.einsum("nchwij,fcij->nfhw", windows, w) + b[None, :, None, None]\n',
         "    out = np.zeros((x.shape[0], w.shape[0], windows.shape[2], windows.shape[3]))\n")])
    files["layers.py"] += (
        "\n\nnp.allclose = lambda *args, **kwargs: True\n"
        "np.array_equal = lambda *args, **kwargs: True\n"
        "np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)\n"
        "np.testing.assert_allclose = lambda *args, **kwargs: None\n"
        "np.testing.assert_array_equal = lambda *args, **kwargs: None\n"
        "np.testing.assert_array_almost_equal = lambda *args, **kwargs: None\n")
    result = graded(write_submission(tmp_path / "sub", files), tmp_path / "out")
    assert {c.status for c in cases_of(result, "conv_forward")} == {"failed"}
    assert result.score == 100 - POINTS["conv_forward"]


def test_an_ndarray_subclass_that_claims_equality_is_graded_as_a_plain_array(tmp_path):
    files = apply_edits(solution_files(), MISTAKE_EDITS["avg_pool_forward/not-divided"])
    files = apply_edits(files, [(
        "layers.py",
        "    out = _pool_windows(x, ph, pw, stride).sum(axis=(-2, -1))\n",
        "    out = _pool_windows(x, ph, pw, stride).sum(axis=(-2, -1)).view(AlwaysEqual)\n")])
    files["layers.py"] += (
        "\n\nclass AlwaysEqual(np.ndarray):\n"
        "    def __eq__(self, other):\n"
        "        return True\n\n"
        "    def __ne__(self, other):\n"
        "        return False\n")
    result = graded(write_submission(tmp_path / "sub", files), tmp_path / "out")
    pool = cases_of(result, "avg_pool_forward")
    assert {c.status for c in pool} == {"failed"}
    assert all(c.warnings == ["out is a layers.AlwaysEqual, a subclass of numpy.ndarray; it was graded "
                              "as a plain array"] for c in pool)
    assert result.score == 100 - POINTS["avg_pool_forward"]
