"""A submission's first worker compiles its modules as a plain import does and sends the code
back; a later worker (the hidden cases') runs that code instead of compiling the same files
again. The grader never compiles or reads the code: it passes it on. Everything the student's
code and its feedback can see is a plain import's."""
import marshal
import sys

import numpy as np
import pytest

from grader import session as session_module
from grader import worker
from grader.engine import grade
from helpers import CASES, cases_with_settings, edit_submission, write_solution

# What a module sees of its own import, printed when it is imported.
LOADER_PROBE = ("print('loaded by', type(__loader__).__name__, __spec__.origin == __file__,\n"
                "      __spec__.loader is __loader__, __name__, __file__.endswith('layers.py'))\n")
# Printed by a function when it is called: whether its module runs code an earlier worker compiled.
RELAY_PROBE = "    print('relayed', getattr(__loader__, '_source', None) is not None)\n"


def probing(folder):
    submission = write_solution(folder)
    edit_submission(submission, "layers.py", "import numpy as np\n", LOADER_PROBE + "import numpy as np\n")
    edit_submission(submission, "layers.py", "def relu_backward(dout, cache):\n",
                    "def relu_backward(dout, cache):\n" + RELAY_PROBE)
    return submission


def everything_seen(result):
    """Each case's outcome, with its error's frames (file, line, function, the line's text)."""
    return {c.case.id: (c.status, c.score, c.summary, c.output, c.error) for c in result.cases}


@pytest.mark.parametrize("local", [True, False], ids=["local", "sandbox"])
def test_the_hidden_cases_worker_runs_the_code_the_first_worker_compiled(tmp_path, local):
    result = grade(probing(tmp_path / "s"), CASES, local=local)
    assert result.import_output == "loaded by SubmissionLoader True True layers True\n"
    relu = {c.case.id: (c.case.hidden, c.output) for c in result.cases if c.case.function == "relu_backward"}
    assert {hidden for hidden, _ in relu.values()} == {True, False}
    assert relu == {case: (hidden, f"relayed {hidden}\n") for case, (hidden, _) in relu.items()}
    assert result.score == result.possible


@pytest.mark.parametrize("local", [True, False], ids=["local", "sandbox"])
def test_a_grade_with_the_code_passed_on_is_the_grade_of_plain_imports(tmp_path, local, monkeypatch):
    """Errors with their tracebacks' files and lines (in the hidden cases too), printed output,
    timeouts and crashes, compared with the same grade where each worker compiles the files."""
    cases = cases_with_settings(tmp_path, case_timeout=1.0)
    submission = write_solution(tmp_path / "s")
    edit_submission(submission, "layers.py", "    out = np.where(x > 0, x, 0.0)",
                    "    print('relu sees', x.shape)\n    out = np.where(x > 0, x, 0.0)")
    edit_submission(submission, "layers.py", "def affine_backward(dout, cache):\n",  # (hidden cases too)
                    "def affine_backward(dout, cache):\n    raise ValueError('not yet: ' + str(dout.shape))\n")
    edit_submission(submission, "layers.py", "def affine_forward(x, w, b):\n",
                    "def affine_forward(x, w, b):\n    if x.ndim == 4:\n        import os\n        os._exit(3)\n")
    edit_submission(submission, "layers.py", "def leaky_relu_forward(x, negative_slope=0.01):\n",
                    "def leaky_relu_forward(x, negative_slope=0.01):\n    while True:\n        pass\n")
    relayed = grade(submission, cases, local=local)
    monkeypatch.setattr(session_module, "MAX_RELAYED_CODE", 0)  # the grader keeps none: each worker compiles
    plain = grade(submission, cases, local=local)
    assert {k: v for k, v in everything_seen(relayed).items() if v[0] != "timeout"} == \
        {k: v for k, v in everything_seen(plain).items() if v[0] != "timeout"}
    assert [c.status for c in relayed.cases] == [c.status for c in plain.cases]
    raised = [c for c in relayed.cases if c.case.function == "affine_backward"]
    assert {c.case.hidden for c in raised} == {True, False}
    line = next(number for number, text in enumerate((submission / "layers.py").read_text().splitlines(), 1)
                if "not yet" in text)
    assert {(c.error["type"], tuple(c.error["frames"][-1])) for c in raised} == \
        {("ValueError", ("layers.py", line, "affine_backward", "raise ValueError('not yet: ' + str(dout.shape))"))}
    assert relayed.score == plain.score


def test_a_file_that_warns_when_compiled_shows_the_warning_as_a_plain_import_does(tmp_path):
    submission = probing(tmp_path / "s")
    edit_submission(submission, "layers.py", "import numpy as np\n", "import numpy as np\nchecked = 1 is 1\n")
    result = grade(submission, CASES, local=True)
    line = next(number for number, text in enumerate((submission / "layers.py").read_text().splitlines(), 1)
                if text == "checked = 1 is 1")
    assert result.import_output == (f'layers.py:{line}: SyntaxWarning: "is" with a literal. Did you mean "=="?\n'
                                    f"  checked = 1 is 1\nloaded by SubmissionLoader True True layers True\n")
    assert result.score == result.possible


def test_a_file_changed_before_its_import_runs_as_it_is_then(tmp_path):
    """layers.py rewrites fc_net.py when it is imported (its folder is its own in a local run):
    fc_net is imported as the file is by then, in the first worker and in the hidden cases'."""
    submission = write_solution(tmp_path / "s")
    rewrite = ("import pathlib as _pathlib\n"
               "_other = _pathlib.Path(__file__).with_name('fc_net.py')\n"
               "_other.write_text(\"print('rewritten')\\n\" + _other.read_text())\n")
    edit_submission(submission, "layers.py", "import numpy as np\n", rewrite + "import numpy as np\n")
    result = grade(submission, CASES, local=True)
    assert result.import_output == "rewritten\n"
    assert result.score == result.possible


@pytest.fixture
def meta_path():
    saved = list(sys.meta_path)
    yield sys.meta_path
    sys.meta_path[:] = saved


def test_a_worker_takes_only_code_of_its_own_bytecode_version(meta_path):
    from importlib.machinery import PathFinder
    from importlib.util import MAGIC_NUMBER
    arrays = {"layers.source": np.frombuffer(b"x = 1\n", np.uint8), "layers.code": np.frombuffer(b"", np.uint8)}
    before = list(meta_path)
    other = {"type": "import", "modules": ["layers"], "compiled": {"layers": {"path": "/w/layers.py", "magic": "0d0d0d0a"}}}
    assert worker._submission_finder((other, arrays)) is None
    assert meta_path == before
    assert worker._submission_finder((dict(other, compiled={"layers": {"path": "/w/layers.py",
                                                                        "magic": MAGIC_NUMBER.hex()}}), {})) is None
    finder = worker._submission_finder((dict(other, compiled={"layers": {"path": "/w/layers.py",
                                                                          "magic": MAGIC_NUMBER.hex()}}), arrays))
    assert finder.compiled == {"layers": ("/w/layers.py", b"x = 1\n", b"")} and finder.record == set()
    at = before.index(PathFinder)
    assert meta_path == before[:at] + [finder] + before[at:]


def test_code_compiled_in_another_folder_names_the_file_where_it_runs():
    code = compile("def f():\n    def g():\n        return 1\n    return g\nclass C:\n    def m(self): pass\n",
                   "/first/layers.py", "exec")
    moved = worker._moved(marshal.loads(marshal.dumps(code)), "/second/layers.py")
    names = []

    def walk(item):
        names.append(item.co_filename)
        for const in item.co_consts:
            if isinstance(const, type(item)):
                walk(const)
    walk(moved)
    assert names == ["/second/layers.py"] * 5


def test_the_grader_keeps_no_more_code_than_its_limit_and_only_for_its_own_files(tmp_path):
    from types import SimpleNamespace
    session = session_module.Session(SimpleNamespace(workdir=tmp_path), ["layers", "fc_net"])
    session.share_code({"layers": ("layers.py", b"x = 1\n"), "fc_net": ("fc_net.py", b"y = 2\n")})
    code = np.frombuffer(b"\x01" * 100, np.uint8)
    session._keep_compiled({"layers": {"path": str(tmp_path / "layers.py"), "magic": "aa"},
                            "fc_net": {"path": "/elsewhere/fc_net.py", "magic": "aa"},
                            "other": {"path": str(tmp_path / "other.py"), "magic": "aa"}},
                           {"layers.code": code, "fc_net.code": code, "other.code": code})
    assert session._relayed == {"layers": (str(tmp_path / "layers.py"), "aa", b"\x01" * 100)}
    session.share_code({"layers": ("layers.py", b"x = 1\n")})
    session._keep_compiled({"layers": {"path": str(tmp_path / "layers.py"), "magic": "aa"}},
                           {"layers.code": np.zeros(session_module.MAX_RELAYED_CODE + 1, np.uint8)})
    assert session._relayed == {}
