"""assignment.toml: every key typed and described; every mistake named with the key and the fix."""
import re

import pytest

from grader.config import ConfigError, describe_keys, load_config, split_points
from helpers import ROOT

DEFAULT = (ROOT / "assignment.toml").read_text()


def config_with(tmp_path, old, new):
    assert old in DEFAULT, old
    path = tmp_path / "assignment.toml"
    path.write_text(DEFAULT.replace(old, new, 1))
    return path


def test_the_default_is_a_100_point_assignment_weighted_on_the_three_hard_backward_passes():
    config = load_config(ROOT / "assignment.toml")
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
    ("avg_pool_forward = 2\n", "", "[points] gives no points for avg_pool_forward"),
    ("softmax_loss = { loss = 1, dx = 1 }", "softmax_loss = { loss = 1, dscores = 1 }",
     "output_weights.softmax_loss.dscores is not an output of softmax_loss; its outputs are loss, dx"),
    ("default = 1e-6", "default = -1.0", "tolerance.default must be at least 0; got -1.0"),
    ("worker_memory_mb = 512", "worker_memory_mb = 64", "limits.worker_memory_mb must be at least 192; got 64"),
    ("on_forbidden = \"fail\"", "on_forbidden = true", "imports.on_forbidden must be a string; got True"),
    ("hidden_visibility = \"after_published\"", "hidden_visibility = \"later\"",
     "cases.hidden_visibility must be one of 'hidden', 'after_due_date', 'after_published', 'visible'; got 'later'"),
    ("[tolerance]\n", "[tolerance]\nfunctions = { conv_fwd = 1e-5 }\n",
     "tolerance.functions names unknown function 'conv_fwd'"),
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
        generate(ROOT, path)


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
    (project / "assignment.toml").write_text(DEFAULT.replace('tie_rule = "all"', 'tie_rule = "most"'))
    finished = subprocess.run([sys.executable, "-m", "grader", "generate", "--check", "--project", str(project)],
                              cwd=ROOT, capture_output=True, text=True)
    assert finished.returncode == 2
    assert finished.stderr.strip().splitlines() == [
        f"error: {project / 'assignment.toml'}: assignment.tie_rule must be one of 'all', 'split', 'first'; "
        f"got 'most'"]
