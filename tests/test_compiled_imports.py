"""The submission's modules run the code the grader compiled, once a grade, instead of each
worker compiling them: the import is a plain import's in everything the student's code and its
feedback can see, and where the grader's code cannot stand for the file, the worker compiles
the file itself."""
import marshal
import sys

import pytest

from grader import session as session_module
from grader import worker
from grader.engine import grade
from helpers import CASES, cases_with_settings, edit_submission, write_solution

# What a module sees of its own import, printed when it is imported.
LOADER_PROBE = ("print('loaded by', type(__loader__).__name__, __spec__.origin == __file__,\n"
                "      __spec__.loader is __loader__, __name__, __file__.endswith('layers.py'))\n")


def probing(folder):
    submission = write_solution(folder)
    edit_submission(submission, "layers.py", "import numpy as np\n", LOADER_PROBE + "import numpy as np\n")
    return submission


def everything_seen(result):
    """Each case's outcome, with its error's frames (file, line, function, the line's text)."""
    return {c.case.id: (c.status, c.score, c.summary, c.output, c.error) for c in result.cases}


@pytest.mark.parametrize("local", [True, False], ids=["local", "sandbox"])
def test_the_modules_run_the_graders_code_and_look_as_a_plain_import_makes_them(tmp_path, local):
    result = grade(probing(tmp_path / "s"), CASES, local=local)
    assert result.import_output == "loaded by CompiledLoader True True layers True\n"
    assert result.score == result.possible


@pytest.mark.parametrize("local", [True, False], ids=["local", "sandbox"])
def test_a_grade_with_the_graders_code_is_the_grade_of_a_plain_import(tmp_path, local, monkeypatch):
    """Errors with their tracebacks' lines, printed output, timeouts and crashes, compared with
    the same grade where each worker compiles the files itself."""
    cases = cases_with_settings(tmp_path, case_timeout=1.0)
    submission = probing(tmp_path / "s")
    edit_submission(submission, "layers.py", "    out = np.where(x > 0, x, 0.0)",
                    "    print('relu sees', x.shape)\n    out = np.where(x > 0, x, 0.0)")
    edit_submission(submission, "layers.py", "def affine_backward(dout, cache):\n",
                    "def affine_backward(dout, cache):\n    raise ValueError('not yet: ' + str(dout.shape))\n")
    edit_submission(submission, "layers.py", "def affine_forward(x, w, b):\n",
                    "def affine_forward(x, w, b):\n    if x.ndim == 4:\n        import os\n        os._exit(3)\n")
    edit_submission(submission, "layers.py", "def leaky_relu_forward(x, negative_slope=0.01):\n",
                    "def leaky_relu_forward(x, negative_slope=0.01):\n    while True:\n        pass\n")
    compiled = grade(submission, cases, local=local)
    monkeypatch.setattr(session_module, "compile_for_worker", lambda source, path: None)
    plain = grade(submission, cases, local=local)
    assert compiled.import_output == "loaded by CompiledLoader True True layers True\n"
    assert plain.import_output == "loaded by SourceFileLoader True True layers True\n"
    assert {k: v for k, v in everything_seen(compiled).items() if v[0] != "timeout"} == \
        {k: v for k, v in everything_seen(plain).items() if v[0] != "timeout"}
    assert [c.status for c in compiled.cases] == [c.status for c in plain.cases]
    raised = next(c for c in compiled.cases if c.case.function == "affine_backward")
    assert raised.error["type"] == "ValueError"
    assert raised.error["frames"][-1][0] == "layers.py"
    assert raised.error["frames"][-1][2:] == ["affine_backward", "raise ValueError('not yet: ' + str(dout.shape))"]
    assert compiled.score == plain.score


def test_a_file_that_warns_when_compiled_is_compiled_by_the_worker_which_shows_the_warning(tmp_path):
    submission = probing(tmp_path / "s")
    edit_submission(submission, "layers.py", "import numpy as np\n", "import numpy as np\nchecked = 1 is 1\n")
    result = grade(submission, CASES, local=True)
    line = next(number for number, text in enumerate((submission / "layers.py").read_text().splitlines(), 1)
                if text == "checked = 1 is 1")
    assert result.import_output == (f'layers.py:{line}: SyntaxWarning: "is" with a literal. Did you mean "=="?\n'
                                    f"  checked = 1 is 1\nloaded by SourceFileLoader True True layers True\n")
    assert result.score == result.possible


def test_a_file_changed_before_its_import_runs_as_it_is_then(tmp_path):
    """layers.py rewrites fc_net.py when it is imported (its folder is its own in a local run):
    fc_net is imported as the file is by then, not as the grader compiled it."""
    submission = write_solution(tmp_path / "s")
    rewrite = ("import pathlib as _pathlib\n"
               "_other = _pathlib.Path(__file__).with_name('fc_net.py')\n"
               "_other.write_text(\"print('rewritten')\\n\" + _other.read_text())\n")
    edit_submission(submission, "layers.py", "import numpy as np\n", rewrite + "import numpy as np\n")
    result = grade(submission, CASES, local=True)
    assert result.import_output == "rewritten\n"


def test_compile_for_worker_compiles_as_an_import_does_or_leaves_it_to_the_worker():
    path = "/work/layers.py"
    code = marshal.loads(session_module.compile_for_worker(b"x = 2 + 3\n", path))
    assert code.co_filename == path
    space = {}
    exec(code, space)
    assert space["x"] == 5
    # The file's own encoding line counts, as in an import of the file.
    latin = marshal.loads(session_module.compile_for_worker("# -*- coding: latin-1 -*-\ns = 'é'\n".encode("latin-1"),
                                                            path))
    exec(latin, space)
    assert space["s"] == "é"
    # No future flag of the grader's own leaks in: a plain import has none.
    annotations = {}
    exec(marshal.loads(session_module.compile_for_worker(b"def f(a: int): pass\n", path)), annotations)
    assert annotations["f"].__annotations__ == {"a": int}
    assert session_module.compile_for_worker(b"def f(:\n", path) is None          # a syntax error
    assert session_module.compile_for_worker(b"x = 1 is 1\n", path) is None       # a warning
    assert session_module.compile_for_worker(b"x = 1\x00\n", path) is None        # a null byte
    assert session_module.compile_for_worker(b"(" * 300 + b")" * 300, path) is None  # nested too deeply
    assert session_module.compile_for_worker(b"#" * (session_module.COMPILE_AT_MOST + 1), path) is None


@pytest.fixture
def meta_path():
    saved = list(sys.meta_path)
    yield sys.meta_path
    sys.meta_path[:] = saved


def test_a_worker_whose_python_reads_other_bytecode_compiles_the_files_itself(meta_path):
    import numpy as np
    from importlib.machinery import PathFinder
    from importlib.util import MAGIC_NUMBER
    arrays = {"layers.source": np.frombuffer(b"x = 1\n", np.uint8), "layers.code": np.frombuffer(b"", np.uint8)}
    before = list(meta_path)
    worker._use_compiled({"magic": "0d0d0d0a", "paths": {"layers": "/work/layers.py"}}, arrays)
    assert meta_path == before
    worker._use_compiled({"magic": MAGIC_NUMBER.hex(), "paths": {"layers": "/work/layers.py"}}, {})  # no arrays
    assert meta_path == before
    worker._use_compiled({"magic": MAGIC_NUMBER.hex(), "paths": {"layers": "/work/layers.py"}}, arrays)
    assert [type(finder).__name__ for finder in meta_path] == \
        [type(finder).__name__ for finder in before[:before.index(PathFinder)]] + ["CompiledFinder"] + \
        [type(finder).__name__ for finder in before[before.index(PathFinder):]]
