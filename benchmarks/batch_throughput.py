"""Batch throughput with --jobs 1 against --jobs 2. Target: at least 1.7x on 2 cores.

The two settings run alternately, three times each, and the ratio is taken between
the medians, so that a slow spell of the machine does not fall on one setting only.
The class has 96 submissions, nearer the hundreds a course grades than a handful:
each run also pays once for its start (the interpreter, the grader's imports, one
zygote per job, the class overview), which a small class would let dominate.
"""
import statistics
import sys
import tempfile
from pathlib import Path

from common import class_of, machine, wall


def main(count=96, rounds=3):
    with tempfile.TemporaryDirectory() as tmp:
        submissions = class_of(Path(tmp) / "class", count)
        seconds = {1: [], 2: []}
        for _ in range(rounds):
            for jobs in (1, 2):
                out = Path(tmp) / f"out{jobs}"
                seconds[jobs].append(wall([sys.executable, "-m", "grader", "batch", str(submissions),
                                           "--out", str(out), "--jobs", str(jobs), "--force"]))
        rates = {jobs: count / statistics.median(times) * 60 for jobs, times in seconds.items()}
    print(f"machine: {machine()}")
    for jobs, rate in rates.items():
        spread = ", ".join(f"{count / t * 60:.0f}" for t in seconds[jobs])
        print(f"--jobs {jobs}: {rate:.0f} submissions per minute ({count} submissions; median of {rounds} "
              f"runs: {spread})")
    print(f"speed-up of --jobs 2 over --jobs 1: {rates[2] / rates[1]:.2f}x   (target: at least 1.7x)")
    return rates[2] / rates[1]


if __name__ == "__main__":
    main()
