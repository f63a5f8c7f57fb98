"""Shared pieces of the benchmarks: submissions to grade, timing, and the machine."""
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def vectorized_solution(directory):
    """The reference, in student form: a correct, vectorized submission."""
    from grader.authoring.template import solution_version
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("layers.py", "fc_net.py"):
        text = (ROOT / "reference" / name).read_text()
        (directory / name).write_text(solution_version(text, name, "all"))
    return directory


def naive_solution(directory):
    """A correct submission written with nested Python loops."""
    shutil.copytree(ROOT / "tests" / "fixtures" / "naive", directory)
    return Path(directory)


def class_of(directory, count):
    """A folder of `count` submissions: mostly correct, some with common mistakes."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    example = ROOT / "examples" / "submission"
    for index in range(count):
        target = directory / f"student{index:04d}"
        if index % 3 == 0:
            shutil.copytree(example, target)
        elif index % 3 == 1:
            naive_solution(target)
        else:
            vectorized_solution(target)
    return directory


# Python caches compiled modules unless told not to; an installed grader has its
# bytecode, so the benchmarks let Python write and use it, as it does by default.
ENV = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}


def wall(command, repeat=1, **kwargs):
    """Median wall time of running command (a list) `repeat` times, in seconds."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        finished = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  cwd=kwargs.get("cwd", ROOT), env=ENV)
        if finished.returncode:  # (the progress lines on stderr are shown only if the run failed)
            sys.exit(f"{' '.join(map(str, command))} failed:\n{finished.stderr.decode(errors='replace')}")
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def wall_pair(first, second, repeat):
    """Median wall times of two commands run alternately, so that a slow spell of a
    shared machine lands on both, and the median of the per-pair ratios."""
    times_first, times_second = [], []
    for _ in range(repeat):
        times_first.append(wall(first))
        times_second.append(wall(second))
    ratios = [b / a for a, b in zip(times_first, times_second)]
    return statistics.median(times_first), statistics.median(times_second), statistics.median(ratios)


def machine():
    cpu = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mode = "root (sandbox user)" if os.geteuid() == 0 else "normal user"
    return (f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()} {platform.release()}, grading as {mode}")
