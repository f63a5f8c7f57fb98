"""Batch time for 50, 100 and 200 submissions: it should grow linearly."""
import sys
import tempfile
from pathlib import Path

from common import class_of, machine, wall


def main(sizes=(50, 100, 200)):
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        submissions = class_of(Path(tmp) / "class", max(sizes))
        for size in sizes:
            subset = Path(tmp) / f"class{size}"
            subset.mkdir()
            for index, child in enumerate(sorted(submissions.iterdir())):
                if index < size:
                    (subset / child.name).symlink_to(child)
            seconds = wall([sys.executable, "-m", "grader", "batch", str(subset), "--out",
                            str(Path(tmp) / f"out{size}"), "--force"])
            results[size] = seconds
    print(f"machine: {machine()}")
    base = min(sizes)
    for size, seconds in results.items():
        print(f"{size:4d} submissions: {seconds:7.1f} s  ({seconds / size * 1000:.0f} ms each; "
              f"{seconds / results[base]:.2f}x the time of {base}, {size / base:.2f}x the work)")
    return results


if __name__ == "__main__":
    main()
