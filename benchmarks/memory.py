"""Peak memory of a full grade: the grader plus its worker, against Gradescope's 768 MB.

Samples the resident set of the grading process and all its descendants every few
milliseconds, and also reads each process's own peak (VmHWM) at the end.
"""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ENV, ROOT, machine, naive_solution, vectorized_solution

LIMIT_MB = 768


def tree_rss_kb(pid):
    children = {}
    rss = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/status") as status:
                fields = dict(line.split(":", 1) for line in status if ":" in line)
            children.setdefault(int(fields["PPid"]), []).append(int(entry))
            rss[int(entry)] = int(fields.get("VmRSS", "0 kB").split()[0])
        except (OSError, ValueError, KeyError):
            continue
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(children.get(current, []))
    return total


def peak_of(submission, out):
    process = subprocess.Popen([sys.executable, "-m", "grader", "grade", str(submission), "--out", str(out),
                                "--quiet"], cwd=ROOT, env=ENV)
    peak = 0
    while process.poll() is None:
        peak = max(peak, tree_rss_kb(process.pid))
        time.sleep(0.003)
    return peak / 1024


def main():
    with tempfile.TemporaryDirectory() as tmp:
        results = {
            "vectorized solution": peak_of(vectorized_solution(Path(tmp) / "v"), Path(tmp) / "ov"),
            "nested-loop solution": peak_of(naive_solution(Path(tmp) / "n"), Path(tmp) / "on"),
        }
    print(f"machine: {machine()}")
    for name, megabytes in results.items():
        print(f"peak resident memory, grader + worker, {name}: {megabytes:.0f} MB "
              f"({megabytes / LIMIT_MB:.0%} of Gradescope's {LIMIT_MB} MB)")
    print("the worker is also capped at 512 MB of address space, so a memory bomb fails its case instead")
    return results


if __name__ == "__main__":
    main()
