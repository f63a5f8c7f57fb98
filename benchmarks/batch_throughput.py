"""Batch throughput with --jobs 1 against --jobs 2. Target: at least 1.7x on 2 cores."""
import sys
import tempfile
from pathlib import Path

from common import class_of, machine, wall


def main(count=24):
    with tempfile.TemporaryDirectory() as tmp:
        submissions = class_of(Path(tmp) / "class", count)
        rates = {}
        for jobs in (1, 2):
            out = Path(tmp) / f"out{jobs}"
            seconds = wall([sys.executable, "-m", "grader", "batch", str(submissions), "--out", str(out),
                            "--jobs", str(jobs), "--force"])
            rates[jobs] = count / seconds * 60
    print(f"machine: {machine()}")
    for jobs, rate in rates.items():
        print(f"--jobs {jobs}: {rate:.0f} submissions per minute ({count} submissions)")
    print(f"speed-up of --jobs 2 over --jobs 1: {rates[2] / rates[1]:.2f}x   (target: at least 1.7x)")
    return rates[2] / rates[1]


if __name__ == "__main__":
    main()
