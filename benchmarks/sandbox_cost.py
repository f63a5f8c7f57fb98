"""What the sandbox round costs `batch`: its throughput against the grader before that round.
Target: at most 10% slower.

The sandbox round put each worker in namespaces, runs the hidden cases in a fresh worker of
their own, and sweeps the sandbox user's processes and files between the phases. This
benchmark builds the grader as it was before (BEFORE, a commit of this checkout's history)
in a temporary folder, and grades the same class of 96 with each, `--jobs 2`, alternately,
so that a slow spell of the machine falls on both. Each grades with its own test cases:
the current ones hold the cases added since, which cost a little time of their own.

Run as root to measure what a class graded as root costs (the sandbox user, namespaces
where the machine allows them); as a normal user it measures that mode.
"""
import io
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from common import ROOT, class_of, machine, wall

BEFORE = "14daf24"   # the last commit before the sandbox round


def tree_at(commit, folder):
    """The project's files as they were at commit, in folder; None without that history."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit], capture_output=True)
    if archive.returncode != 0:
        return None
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(folder)
    return Path(folder)


def main(count=96, rounds=5, jobs=2):
    with tempfile.TemporaryDirectory() as tmp:
        before = tree_at(BEFORE, Path(tmp) / "before")
        if before is None:
            print(f"skipped: this needs the project's git history, with commit {BEFORE} "
                  f"(a shallow clone lacks it: `git fetch --unshallow`)")
            return None
        submissions = class_of(Path(tmp) / "class", count)
        trees = {"before": before, "now": ROOT}
        seconds = {name: [] for name in trees}
        for _ in range(rounds):
            for name, tree in trees.items():
                out = Path(tmp) / f"out-{name}"
                seconds[name].append(wall([sys.executable, "-m", "grader", "batch", str(submissions), "--out",
                                           str(out), "--jobs", str(jobs), "--force"], cwd=tree))
    medians = {name: statistics.median(times) for name, times in seconds.items()}
    print(f"machine: {machine()}")
    for name, times in seconds.items():
        label = f"before the sandbox round ({BEFORE})" if name == "before" else "now"
        print(f"{label}: {count / medians[name] * 60:.0f} submissions per minute with --jobs {jobs} "
              f"(median of {rounds}: {', '.join(f'{t:.2f}' for t in times)} s)")
    ratio = medians["now"] / medians["before"]
    print(f"time now / before: {ratio:.2f}x   (target: at most 1.10x)")
    return ratio


if __name__ == "__main__":
    main()
