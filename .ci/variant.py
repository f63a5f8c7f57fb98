"""Edit an assignment.toml as the README's "How an assignment is made" tells an instructor to.

    python .ci/variant.py ASSIGNMENT_TOML CHANGE [CHANGE ...]

Changes: tie-split, tie-first, seed-999, drop-avg-pool (its two functions leave [points],
and total_points shrinks by their points), add-batchnorm-dropout (four functions join
[points], and total_points grows by theirs). CI applies them to a copy of the checkout,
then runs `generate`, `check` and the whole test suite there: the project's tests must
not depend on what an instructor chooses.
"""
import re
import sys
from pathlib import Path

ADDED = {"batchnorm_forward": 4, "batchnorm_backward": 6, "dropout_forward": 3, "dropout_backward": 2}
DROPPED = ("avg_pool_forward", "avg_pool_backward")


def change_total(text, delta):
    def replace(match):
        return f"total_points = {float(match.group(1)) + delta:g}"
    return re.sub(r"(?m)^total_points = ([0-9.]+)", replace, text, count=1)


def apply(text, change):
    if change in ("tie-split", "tie-first"):
        return re.sub(r'(?m)^tie_rule = "\w+"', f'tie_rule = "{change[4:]}"', text, count=1)
    if change == "seed-999":
        return re.sub(r"(?m)^seed = [0-9]+", "seed = 999", text, count=1)
    if change == "drop-avg-pool":
        removed = 0.0
        for name in DROPPED:
            match = re.search(rf"(?m)^{name} = ([0-9.]+)\n", text)
            if match:
                removed += float(match.group(1))
                text = text.replace(match.group(0), "", 1)
        return change_total(text, -removed)
    if change == "add-batchnorm-dropout":
        lines = "".join(f"{name} = {points}\n" for name, points in ADDED.items())
        text = re.sub(r"(?m)^\[points\]\n", lambda m: m.group(0) + lines, text, count=1)
        return change_total(text, sum(ADDED.values()))
    raise SystemExit(f"unknown change {change!r}")


def main(argv):
    path = Path(argv[1])
    text = path.read_text()
    for change in argv[2:]:
        changed = apply(text, change)
        if changed == text:
            raise SystemExit(f"{path}: {change} changed nothing")
        text = changed
    path.write_text(text)


if __name__ == "__main__":
    main(sys.argv)
