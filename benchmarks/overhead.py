"""Harness overhead: `grade` on a correct vectorized submission against a bare in-process script.

The bare script imports the same two files and calls each function once per case,
with no comparisons, no worker process, no report. Target: `grade` within 1.5x of
it, worker start included.
"""
import sys
import tempfile
from pathlib import Path

from common import ROOT, machine, vectorized_solution, wall, wall_pair

BARE = r'''
import sys, json
sys.path.insert(0, sys.argv[1])
sys.path.insert(0, sys.argv[2])
import numpy as np
import layers, fc_net
from grader.worker import perform
manifest = json.load(open(sys.argv[3] + "/manifest.json"))
modules = {"layers": layers, "fc_net": fc_net}
for case in manifest["cases"]:
    with np.load(sys.argv[3] + "/" + case["file"]) as npz:
        inputs = {k.split(":", 1)[1]: npz[k] for k in npz.files if k.startswith("input:")}
    perform(case["call"], inputs, modules, [])
'''


def main(repeat=15):
    with tempfile.TemporaryDirectory() as tmp:
        submission = vectorized_solution(Path(tmp) / "submission")
        bare = Path(tmp) / "bare.py"
        bare.write_text(BARE)
        out = Path(tmp) / "out"
        grade_cmd = [sys.executable, "-m", "grader", "grade", str(submission), "--out", str(out), "--quiet"]
        bare_cmd = [sys.executable, str(bare), str(submission), str(ROOT), str(ROOT / "test_cases")]
        wall(grade_cmd)  # warm the file and bytecode caches and create the sandbox user once
        wall(bare_cmd)
        t_bare, t_grade, ratio = wall_pair(bare_cmd, grade_cmd, repeat)
    print(f"machine: {machine()}")
    print(f"bare script (import + one call per case): {t_bare:.3f} s (median of {repeat})")
    print(f"python -m grader grade (everything):       {t_grade:.3f} s (median of {repeat})")
    print(f"ratio grade / bare: {ratio:.2f}x   (median of {repeat} back-to-back pairs; target: at most 1.5x)")
    return ratio


if __name__ == "__main__":
    main()
