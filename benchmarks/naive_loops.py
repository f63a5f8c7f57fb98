"""`grade` on a correct solution written with nested Python loops. Target: under 10 s."""
import sys
import tempfile
from pathlib import Path

from common import machine, naive_solution, wall


def main(repeat=3):
    with tempfile.TemporaryDirectory() as tmp:
        submission = naive_solution(Path(tmp) / "naive")
        out = Path(tmp) / "out"
        seconds = wall([sys.executable, "-m", "grader", "grade", str(submission), "--out", str(out), "--quiet"],
                       repeat)
    print(f"machine: {machine()}")
    print(f"python -m grader grade on the nested-loop solution: {seconds:.2f} s (median of {repeat})")
    print(f"ratio to the 10 s target: {seconds / 10:.2f}   (target: below 1)")
    return seconds


if __name__ == "__main__":
    main()
