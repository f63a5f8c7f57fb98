"""Batch throughput with --jobs 1 against --jobs 2. Target: at least 1.7x on 2 cores.

The two settings run alternately, three times each, and the ratio is taken between
the medians, so that a slow spell of the machine does not fall on one setting only.
The class has 96 submissions, nearer the hundreds a course grades than a handful:
each run also pays once for its start (the interpreter, the grader's imports, one
zygote per job, the class overview), which a small class would let dominate.

It also measures how busy the cores are during each setting's runs (from /proc/stat,
so the whole machine: run nothing else meanwhile). If a submission took the same CPU
time in both settings, the speed-up would be the ratio of the two: --jobs 1 already
keeps more than one core busy, since its grading process scores one case while the
worker computes the next, and no setting keeps two cores busy all the time, since a
run starts and ends with work for one.
"""
import os
import statistics
import sys
import tempfile
from pathlib import Path

from common import class_of, machine, wall


def busy_jiffies():
    """(busy, total) clock ticks of every core since boot, or None where there is no /proc/stat."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(v) for v in stat.readline().split()[1:9]]  # to steal: guest time is in user
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return sum(fields) - idle, sum(fields)


def timed(command, busy):
    """Wall time of command; appends the number of cores busy meanwhile to `busy`."""
    before = busy_jiffies()
    seconds = wall(command)
    after = busy_jiffies()
    if before and after and after[1] > before[1]:
        busy.append((after[0] - before[0]) / (after[1] - before[1]) * (os.cpu_count() or 1))
    return seconds


def main(count=96, rounds=3):
    with tempfile.TemporaryDirectory() as tmp:
        submissions = class_of(Path(tmp) / "class", count)
        seconds = {1: [], 2: []}
        busy = {1: [], 2: []}
        for _ in range(rounds):
            for jobs in (1, 2):
                out = Path(tmp) / f"out{jobs}"
                seconds[jobs].append(timed([sys.executable, "-m", "grader", "batch", str(submissions),
                                            "--out", str(out), "--jobs", str(jobs), "--force"], busy[jobs]))
        rates = {jobs: count / statistics.median(times) * 60 for jobs, times in seconds.items()}
    print(f"machine: {machine()}")
    for jobs, rate in rates.items():
        spread = ", ".join(f"{count / t * 60:.0f}" for t in seconds[jobs])
        cores = f"; {statistics.median(busy[jobs]):.2f} cores busy" if busy[jobs] else ""
        print(f"--jobs {jobs}: {rate:.0f} submissions per minute ({count} submissions; median of {rounds} "
              f"runs: {spread}{cores})")
    if busy[1] and busy[2]:
        cores = statistics.median(busy[2]) / statistics.median(busy[1])
        print(f"ratio of the cores kept busy: {cores:.2f}x (the speed-up if a submission took the same CPU "
              f"time in both settings)")
    print(f"speed-up of --jobs 2 over --jobs 1: {rates[2] / rates[1]:.2f}x   (target: at least 1.7x)")
    return rates[2] / rates[1]


if __name__ == "__main__":
    main()
