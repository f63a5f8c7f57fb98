"""assignment.toml: every key typed and described; every mistake named with the key and the fix."""
import re

import pytest

from grader.authoring.assignment import load_declared
from grader.config import ConfigError, describe_keys, load_config as read_config, split_points
from helpers import FIXTURE, FIXTURE_CONFIG, ROOT

DEFAULT = FIXTURE_CONFIG.read_text()
DECLARED = load_declared(ROOT)


def load_config(path):
    """The config at path, checked against the functions the bundled assignment declares."""
    return read_config(path, DECLARED)


def config_with(tmp_path, old, new):
    assert old in DEFAULT, old
    path = tmp_path / "assignment.toml"
    path.write_text(DEFAULT.replace(old, new, 1))
    return path


def refusal(tmp_path, old, new):
    """The error the default config with `old` replaced by `new` is refused with, after the file's path."""
    path = config_with(tmp_path, old, new)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: ")
    return str(raised.value)[len(f"{path}: "):]


def test_the_default_is_a_100_point_assignment_weighted_on_the_three_hard_backward_passes():
    config = load_config(FIXTURE_CONFIG)
    assert sum(config.points.values()) == config.assignment.total_points == 100
    focus = config.points["affine_backward"] + config.points["conv_backward"] + config.points["max_pool_backward"]
    assert focus == 50 and all(focus / 3 > points for name, points in config.points.items()
                               if name not in ("affine_backward", "conv_backward", "max_pool_backward"))
    assert config.assignment.tie_rule == "all"
    assert config.imports.forbidden == ("torch", "tensorflow", "jax", "scipy", "sklearn")


@pytest.mark.parametrize("old, new, message", [
    ('tie_rule = "all"', 'tie_rule = "last"',
     "assignment.tie_rule must be one of 'all', 'split', 'first'; got 'last'"),
    ("case_timeout = 10 ", "case_timout = 10 ",
     "unknown key limits.case_timout; the keys of [limits] are case_timeout, import_timeout, output_limit_kb, "
     "total_budget, worker_memory_mb"),
    ("[imports]", "[import]", "unknown section [import]"),
    ("conv_backward = 18", "conv_backward = 19", "[points] add up to 101, but assignment.total_points is 100"),
    ("conv_backward = 18", "conv_backward = \"18\"", "points.conv_backward must be a number >= 0; got '18'"),
    ("avg_pool_forward = 2\n", "", "[points] add up to 98, but assignment.total_points is 100"),
    ("conv_backward = 18", "conv_bakward = 18",
     f"points.conv_bakward names unknown function 'conv_bakward': {DECLARED.where} does not declare it; it "
     f"declares affine_forward, affine_backward, relu_forward"),
    ("softmax_loss = { loss = 1, dx = 1 }", "softmax_loss = { loss = 1, dscores = 1 }",
     "output_weights.softmax_loss.dscores is not an output of softmax_loss; its outputs are loss, dx"),
    ("default = 1e-6", "default = -1.0", "tolerance.default must be at least 0; got -1.0"),
    ("worker_memory_mb = 512", "worker_memory_mb = 64", "limits.worker_memory_mb must be at least 192; got 64"),
    ("on_forbidden = \"fail\"", "on_forbidden = true", "imports.on_forbidden must be a string; got True"),
    ("hidden_visibility = \"after_published\"", "hidden_visibility = \"later\"",
     "cases.hidden_visibility must be one of 'hidden', 'after_due_date', 'after_published', 'visible'; got 'later'"),
    ("[tolerance]\n", "[tolerance]\nfunctions = { conv_fwd = 1e-5 }\n",
     f"tolerance.functions names unknown function 'conv_fwd': {DECLARED.where} does not declare it"),
])
def test_a_bad_config_is_refused_with_the_key_and_the_allowed_values(tmp_path, old, new, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_config(config_with(tmp_path, old, new))


def test_invalid_toml_and_a_missing_file_are_clear_errors(tmp_path):
    broken = tmp_path / "assignment.toml"
    broken.write_text("[assignment\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(broken)
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml")


def test_an_unknown_hidden_case_is_refused_when_generating(tmp_path):
    from grader.authoring.generate import generate
    path = config_with(tmp_path, '"affine_forward/single-example",', '"affine_forward/single-exampel",')
    with pytest.raises(ConfigError, match="cases.hidden names unknown case 'affine_forward/single-exampel'"):
        generate(FIXTURE, path)


def test_every_key_has_a_one_line_description():
    keys = list(describe_keys())
    assert len(keys) >= 15
    assert all(description and "\n" not in description for _, _, description in keys)


def test_points_are_split_in_hundredths_and_always_add_up():
    assert split_points(10, [1, 1, 1]) == [3.34, 3.33, 3.33]
    assert split_points(18, [2, 2, 1]) == [7.2, 7.2, 3.6]
    assert sum(split_points(9, [1] * 7)) == pytest.approx(9)


def test_the_bad_config_error_reaches_the_command_line_as_one_line(tmp_path):
    import shutil
    import subprocess
    import sys
    project = tmp_path / "project"
    shutil.copytree(ROOT / "reference", project / "reference")
    shutil.copytree(ROOT / "spec", project / "spec")
    (project / "assignment.toml").write_text(DEFAULT.replace('tie_rule = "all"', 'tie_rule = "most"'))
    finished = subprocess.run([sys.executable, "-m", "grader", "generate", "--check", "--assignment", str(project)],
                              cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        f"error: {project / 'assignment.toml'}: assignment.tie_rule must be one of 'all', 'split', 'first'; "
        f"got 'most'"]


TOLERANCE_TOO_LOOSE = ("must be less than 1: the relative error |a - b| / max(floor, |a| + |b|) is never more "
                       "than 1, so a tolerance of 1 or more passes every answer of the right shape")


@pytest.mark.parametrize("old, new, message", [
    ("[tolerance]\n", "[tolerance]\nfunctions = { conv_backward = nan }\n",
     "tolerance.functions.conv_backward must be a finite number; got nan"),
    ("[tolerance]\n", "[tolerance]\nfunctions = { conv_backward = inf }\n",
     "tolerance.functions.conv_backward must be a finite number; got inf"),
    ("default = 1e-6", "default = nan", "tolerance.default must be a finite number; got nan"),
    ("floor = 1e-8", "floor = inf", "tolerance.floor must be a finite number; got inf"),
    ("init_std = 0.15", "init_std = -inf", "tolerance.init_std must be a finite number; got -inf"),
    ("conv_backward = { dx = 2,", "conv_backward = { dx = nan,",
     "output_weights.conv_backward.dx must be a finite number; got nan"),
    ("conv_backward = { dx = 2,", "conv_backward = { dx = inf,",
     "output_weights.conv_backward.dx must be a finite number; got inf"),
    ("conv_backward = 18", "conv_backward = nan", "points.conv_backward must be a finite number; got nan"),
    ("conv_backward = 18", "conv_backward = inf", "points.conv_backward must be a finite number; got inf"),
    ("total_points = 100", "total_points = inf", "assignment.total_points must be a finite number; got inf"),
    ("case_timeout = 10 ", "case_timeout = nan ", "limits.case_timeout must be a finite number; got nan"),
    ("total_budget = 480 ", "total_budget = inf ", "limits.total_budget must be a finite number; got inf"),
    ("worker_memory_mb = 512", "worker_memory_mb = inf", "limits.worker_memory_mb must be an integer; got inf"),
    ("output_limit_kb = 10 ", "output_limit_kb = nan ", "limits.output_limit_kb must be an integer; got nan"),
])
def test_nan_and_infinity_are_refused_wherever_the_config_reads_a_number(tmp_path, old, new, message):
    assert refusal(tmp_path, old, new) == message


@pytest.mark.parametrize("old, new, key, value", [
    ("default = 1e-6", "default = 5.0", "tolerance.default", "5.0"),
    ("default = 1e-6", "default = 1", "tolerance.default", "1.0"),
    ("[tolerance]\n", "[tolerance]\nfunctions = { conv_backward = 1.5 }\n", "tolerance.functions.conv_backward",
     "1.5"),
])
def test_a_tolerance_that_cannot_reject_any_answer_is_refused_with_the_bound(tmp_path, old, new, key, value):
    assert refusal(tmp_path, old, new) == f"{key} {TOLERANCE_TOO_LOOSE}; got {value}"


def test_the_tolerance_bound_is_the_largest_relative_error_the_grader_can_measure():
    import numpy as np

    from grader.compare import compare_array
    expected = np.array([[1.5, -2.0], [0.0, 3e-12]])
    garbage = np.array([[-1e9, 7.0], [4.0, -5e-12]])  # wrong signs, a zero, values under the floor
    assert compare_array(expected, garbage, tolerance=1.0).ok
    assert not compare_array(expected, garbage, tolerance=0.999).ok
    assert load_config(FIXTURE_CONFIG).tolerance.default < 1


@pytest.mark.parametrize("old, new, message", [
    ("floor = 1e-8", "floor = 1.0", "tolerance.floor must be at most 0.001; got 1.0"),
    ("init_std = 0.15", "init_std = 1.0", "tolerance.init_std must be less than 1: a deviation of 100% or more "
                                          "passes weights that are all zero; got 1.0"),
])
def test_a_floor_or_init_tolerance_that_would_pass_wrong_answers_is_refused(tmp_path, old, new, message):
    assert refusal(tmp_path, old, new) == message


def test_the_floor_and_init_bounds_are_where_wrong_answers_start_to_pass():
    import numpy as np

    from grader.compare import compare_array, init_problems
    expected, wrong = np.array([0.02, -0.03]), np.array([0.021, -0.031])  # 5% off, small values
    assert not compare_array(expected, wrong, tolerance=1e-6, floor=1e-3).ok
    assert compare_array(expected, wrong, tolerance=1e-6, floor=1e4).ok
    zeros = {"W1": np.zeros((30, 20)), "b1": np.zeros(20)}
    assert init_problems(zeros, zeros, weight_scale=0.01, tolerance=1.0) == []
    assert init_problems(zeros, zeros, weight_scale=0.01, tolerance=0.99) == [
        "W1 has standard deviation 0; expected weight_scale = 0.01 (within 99%)"]


def test_a_tolerance_just_under_the_bound_is_accepted(tmp_path):
    path = config_with(tmp_path, "[tolerance]\n", "[tolerance]\nfunctions = { conv_backward = 0.5 }\n")
    config = load_config(path)
    assert config.tolerance_for("conv_backward") == 0.5


@pytest.mark.parametrize("old, new, message", [
    ("case_timeout = 10 ", "case_timeout = 1e300 ", "limits.case_timeout must be at most 86400; got 1e+300"),
    ("import_timeout = 20 ", "import_timeout = 1e20 ", "limits.import_timeout must be at most 86400; got 1e+20"),
    ("worker_memory_mb = 512", "worker_memory_mb = 9000000000000000",
     "limits.worker_memory_mb must be at most 1048576; got 9000000000000000"),
    ("total_points = 100", "total_points = 1e307", "assignment.total_points must be at most 1000000; got 1e+307"),
])
def test_limits_too_large_for_the_operating_system_are_refused(tmp_path, old, new, message):
    assert refusal(tmp_path, old, new) == message


def test_a_nan_tolerance_is_refused_by_generate_before_it_can_pass_wrong_answers(tmp_path):
    from grader.authoring.generate import generate
    path = config_with(tmp_path, "[tolerance]\n", "[tolerance]\nfunctions = { conv_backward = nan }\n")
    with pytest.raises(ConfigError, match=re.escape("tolerance.functions.conv_backward must be a finite number")):
        generate(FIXTURE, path)


def test_a_nan_output_weight_is_a_config_error_from_generate_not_a_crash(tmp_path):
    from grader.authoring.generate import generate
    path = config_with(tmp_path, "conv_backward = { dx = 2,", "conv_backward = { dx = nan,")
    with pytest.raises(ConfigError, match=re.escape(f"{path}: output_weights.conv_backward.dx must be a finite")):
        generate(FIXTURE, path)


def test_output_weights_near_the_float_limit_still_split_the_points_in_proportion():
    assert split_points(18, [1e308, 1e308, 1e308]) == [6.0, 6.0, 6.0]
    assert split_points(18, [1e307]) == [18.0]
