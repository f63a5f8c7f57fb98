"""The data behind the report's pictures: error heatmaps and tie markers.

Only numbers and colours are computed here; the SVG markup lives in the
templates. A heatmap shows one cell per element of a 2-D output, or one small
panel per (n, c) slice of a 4-D output, coloured by how wrong the element is.
For max-pool cases the inputs that tie for a window's maximum are marked, so a
student can see where the tie rule sends (or fails to send) the gradient.
"""
import math
from dataclasses import dataclass, field
from typing import List, Optional

import numpy as np

MAX_PANELS = 8
MAX_SIDE = 40           # cells per row or column drawn; larger outputs are cropped
CELL = 22               # px


@dataclass
class Cell:
    row: int
    col: int
    color: str
    wrong: bool
    tied: bool
    title: str


@dataclass
class Panel:
    label: str
    rows: int
    cols: int
    cells: List[Cell]
    width: int = 0
    height: int = 0


@dataclass
class Heatmap:
    output: str
    panels: List[Panel]
    wrong: int
    total: int
    tie_count: int = 0
    cropped: bool = False
    more_panels: int = 0
    legend: List[tuple] = field(default_factory=list)


def severity_color(rel, tolerance):
    """Pale green when right; from light to deep red as the error grows past the tolerance."""
    if not math.isfinite(rel):
        return "#7b1d13"
    if rel <= tolerance:
        return "#e4f2e4"
    level = min(1.0, math.log10(rel / tolerance) / 6.0)  # 1e6 times the tolerance is the deepest
    light, deep = (248, 196, 188), (176, 36, 24)
    r, g, b = (round(a + (c - a) * level) for a, c in zip(light, deep))
    return f"#{r:02x}{g:02x}{b:02x}"


def tie_mask(x, pool_param):
    """Boolean mask of the inputs that tie with another input for some window's maximum."""
    x = np.asarray(x, dtype=np.float64)
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out, W_out = 1 + (x.shape[2] - ph) // stride, 1 + (x.shape[3] - pw) // stride
    mask = np.zeros(x.shape, dtype=bool)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            is_max = window == window.max(axis=(2, 3), keepdims=True)
            tied = is_max & (is_max.sum(axis=(2, 3), keepdims=True) > 1)
            mask[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw] |= tied
    return mask


def heatmap(output, tolerance, ties=None) -> Optional[Heatmap]:
    """A Heatmap for a failing 2-D or 4-D output whose shape is right, else None."""
    comparison = output.comparison
    if comparison is None or comparison.error is None or output.expected is None:
        return None
    error = np.asarray(comparison.error)
    expected, got = np.asarray(output.expected), np.asarray(output.got)
    if error.ndim == 2:
        slices = [((), "")]
    elif error.ndim == 4:
        slices = [((n, c), f"n={n}, c={c}") for n in range(error.shape[0]) for c in range(error.shape[1])]
    else:
        return None
    panels = []
    cropped = False
    for index, label in slices[:MAX_PANELS]:
        err, exp, mine = error[index], expected[index], got[index]
        tied = ties[index] if ties is not None and ties.shape == error.shape else np.zeros(err.shape, bool)
        rows, cols = min(err.shape[0], MAX_SIDE), min(err.shape[1], MAX_SIDE)
        cropped = cropped or rows < err.shape[0] or cols < err.shape[1]
        cells = []
        for r in range(rows):
            for c in range(cols):
                rel = float(err[r, c])
                cells.append(Cell(r, c, severity_color(rel, tolerance), rel > tolerance, bool(tied[r, c]),
                                  f"[{r}, {c}] expected {exp[r, c]:.6g}, got {float(mine[r, c]):.6g}"))
        panels.append(Panel(label, rows, cols, cells, cols * CELL, rows * CELL))
    tie_count = int(ties.sum()) if ties is not None and ties.shape == error.shape else 0
    return Heatmap(output.name, panels, comparison.wrong, comparison.total, tie_count, cropped,
                   max(0, len(slices) - MAX_PANELS),
                   [(severity_color(0, tolerance), "right"),
                    (severity_color(tolerance * 10, tolerance), "slightly off"),
                    (severity_color(tolerance * 1e6, tolerance), "far off")])


def case_ties(result):
    """The tie mask of a max-pool case's input x, or None."""
    case = result.case
    if not case.function.startswith("max_pool") or "x" not in result.inputs:
        return None
    pool_param = _find_pool_param(case.call.get("args", []))
    if pool_param is None:
        return None
    return tie_mask(result.inputs["x"], pool_param)


def _find_pool_param(tree):
    if isinstance(tree, list):
        for item in tree:
            found = _find_pool_param(item)
            if found:
                return found
        return None
    if isinstance(tree, dict):
        if "v" in tree and isinstance(tree["v"], dict) and "pool_height" in tree["v"]:
            return tree["v"]
        if "t" in tree:
            return _find_pool_param(tree["t"])
    return None


def grid(array, wrong=None):
    """Rows of (text, wrong) for showing a small array as a table; 4-D arrays as (n, c) slices."""
    array = np.asarray(array)
    if array.ndim == 0:
        return [("", [[(f"{float(array):.6g}", bool(wrong) if wrong is not None else False)]])]
    if array.ndim == 1:
        array = array[None, :]
        wrong = None if wrong is None else np.asarray(wrong)[None, :]
    if array.ndim == 2:
        slices = [("", array, wrong)]
    else:
        flat = array.reshape(-1, *array.shape[-2:])
        flat_wrong = None if wrong is None else np.asarray(wrong).reshape(flat.shape)
        lead = list(np.ndindex(*array.shape[:-2]))
        slices = [(f"[{', '.join(map(str, index))}, :, :]", flat[k], None if flat_wrong is None else flat_wrong[k])
                  for k, index in enumerate(lead)]
    tables = []
    for label, matrix, bad in slices:
        rows = [[(f"{float(v):.6g}", bool(bad[r, c]) if bad is not None else False)
                 for c, v in enumerate(row)] for r, row in enumerate(matrix)]
        tables.append((label, rows))
    return tables
