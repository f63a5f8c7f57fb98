"""The data behind the report's pictures and number tables: heatmaps, tie markers, windows.

Only numbers, colours and positions are computed here; the SVG and table markup
lives in the templates. A heatmap shows one cell per element of an output, one
panel per 2-D slice, coloured by how wrong the element is. For pooling cases the
windows are outlined and, for max-pool, the inputs that tie for a window's maximum
are marked, so a student can see where the tie rule sends (or fails to send) the
gradient.
"""
import math
from dataclasses import dataclass, field
from typing import List, Optional, Tuple

import numpy as np

MAX_PANELS = 8
MAX_SIDE = 40           # cells per row or column drawn; larger outputs are cropped
CELL = 22               # px, the pitch of the heatmap grid
MAX_WINDOWS = 3         # failing pooling windows shown in numbers
NONFINITE_COLOR = "#5c0f08"
RIGHT_COLOR = "#e4f2e4"


@dataclass
class Cell:
    row: int
    col: int
    index: str          # the element's full index, "0,1,2,3"
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
    windows: List[Tuple[int, int, int, int]] = field(default_factory=list)   # x, y, w, h in px


@dataclass
class Heatmap:
    output: str
    panels: List[Panel]
    wrong: int
    total: int
    tie_count: int = 0
    cropped: bool = False
    more_panels: int = 0
    legend: List[tuple] = field(default_factory=list)     # (colour, text)
    nonfinite: bool = False
    windows: bool = False
    slice_label: str = ""      # how a panel is named: "dx[i, j]" for a 4-D output, "" for 2-D


@dataclass
class Pooling:
    """The pooling geometry of a case, over the last two axes of its input, and which inputs tie.

    size, stride and padding are (height, width) pairs; a window may start in the padding,
    which never wins it."""
    size: Tuple[int, int]
    stride: Tuple[int, int]
    padding: Tuple[int, int]
    shape: Tuple[int, ...]             # the shape of the input
    ties: Optional[np.ndarray]         # bool, the input's shape; None unless max pooling

    @property
    def height(self):
        return self.size[0]

    @property
    def width(self):
        return self.size[1]

    @property
    def overlapping(self):
        return self.stride[0] < self.size[0] or self.stride[1] < self.size[1]

    def out_size(self, shape):
        return tuple(1 + (shape[axis - 2] + 2 * self.padding[axis] - self.size[axis]) // self.stride[axis]
                     for axis in (0, 1))

    def windows(self, shape):
        """(top, left) of every window over the last two axes of an array of `shape`, in its own
        coordinates: negative where a window starts in the padding."""
        rows, cols = self.out_size(shape)
        return [(i * self.stride[0] - self.padding[0], j * self.stride[1] - self.padding[1])
                for i in range(rows) for j in range(cols)]

    def region(self, shape, top, left):
        """The slices of a window over the last two axes, cut to the array."""
        return (slice(max(top, 0), min(top + self.height, shape[-2])),
                slice(max(left, 0), min(left + self.width, shape[-1])))


@dataclass
class GridCell:
    text: str
    wrong: bool = False
    tied: bool = False
    edge: str = ""      # "l", "t" or "lt": a pooling window starts left of / above this cell


@dataclass
class Grid:
    label: str
    rows: List[List[GridCell]]
    columns: int = 0


def severity_color(rel, tolerance):
    """Pale green when right; from light to deep red as the error grows past the tolerance."""
    if not math.isfinite(rel):
        return NONFINITE_COLOR
    if rel <= tolerance:
        return RIGHT_COLOR
    level = min(1.0, math.log10(rel / tolerance) / 6.0)  # 1e6 times the tolerance is the deepest
    light, deep = (248, 196, 188), (176, 36, 24)
    r, g, b = (round(a + (c - a) * level) for a, c in zip(light, deep))
    return f"#{r:02x}{g:02x}{b:02x}"


def tie_mask(x, pooling):
    """Boolean mask of the inputs that tie with another input for some window's maximum."""
    x = np.asarray(x, dtype=np.float64)
    mask = np.zeros(x.shape, dtype=bool)
    for top, left in pooling.windows(x.shape):
        region = (Ellipsis,) + pooling.region(x.shape, top, left)
        window = x[region]
        if not window.size:
            continue
        is_max = window == window.max(axis=(-2, -1), keepdims=True)
        mask[region] |= is_max & (is_max.sum(axis=(-2, -1), keepdims=True) > 1)
    return mask


def case_pooling(result) -> Optional[Pooling]:
    """The pooling geometry of a visible case whose function declares windows, else None."""
    windows = result.case.windows
    if not windows or windows.get("input") not in result.inputs:
        return None
    x = result.inputs[windows["input"]]
    if np.ndim(x) < 2:
        return None
    pooling = Pooling(tuple(windows["size"]), tuple(windows["stride"]), tuple(windows["padding"]),
                      tuple(np.shape(x)), None)
    if windows.get("ties"):
        pooling.ties = tie_mask(x, pooling)
    return pooling


def _slices(shape, name):
    """(leading index, label) of each 2-D slice over the last two axes: "dx[0, 1]"."""
    if len(shape) <= 2:
        return [((), "")]
    return [(index, f"{name}[{', '.join(map(str, index))}]") for index in np.ndindex(*shape[:-2])]


def heatmap(output, tolerance, pooling=None) -> Optional[Heatmap]:
    """A Heatmap for a failing output of 2 to 4 dimensions whose shape is right, else None."""
    comparison = output.comparison
    if comparison is None or comparison.error is None or output.expected is None or output.got is None:
        return None
    error = np.asarray(comparison.error)
    if error.ndim not in (2, 3, 4) or output.got.shape != error.shape:
        return None
    expected, got = np.asarray(output.expected), np.asarray(output.got)
    over_x = pooling is not None and pooling.shape == error.shape     # dx of a pooling layer
    ties = pooling.ties if over_x else None
    outline = over_x and not pooling.overlapping
    slices = _slices(error.shape, output.name)
    panels = []
    cropped = False
    for lead, label in slices[:MAX_PANELS]:
        err, exp, mine = error[lead], expected[lead], got[lead]
        tied = ties[lead] if ties is not None else None
        rows, cols = min(err.shape[0], MAX_SIDE), min(err.shape[1], MAX_SIDE)
        cropped = cropped or rows < err.shape[0] or cols < err.shape[1]
        cells = []
        for r in range(rows):
            for c in range(cols):
                rel = float(err[r, c])
                index = lead + (r, c)
                is_tied = bool(tied[r, c]) if tied is not None else False
                cells.append(Cell(r, c, ",".join(map(str, index)), severity_color(rel, tolerance),
                                  rel > tolerance, is_tied,
                                  f"[{', '.join(map(str, index))}] expected {float(exp[r, c]):.6g}, "
                                  f"yours {float(mine[r, c]):.6g}" + (" (tied maximum)" if is_tied else "")))
        windows = []
        if outline:
            for top, left in pooling.windows(error.shape):
                rows_cut, cols_cut = pooling.region((rows, cols), top, left)
                if rows_cut.stop > rows_cut.start and cols_cut.stop > cols_cut.start:
                    windows.append((cols_cut.start * CELL, rows_cut.start * CELL,
                                    (cols_cut.stop - cols_cut.start) * CELL, (rows_cut.stop - rows_cut.start) * CELL))
        panels.append(Panel(label, rows, cols, cells, cols * CELL, rows * CELL, windows))
    nonfinite = bool(np.isinf(error).any())
    legend = [(RIGHT_COLOR, "right (within tolerance)"),
              (severity_color(tolerance * 10, tolerance), "a little off"),
              (severity_color(tolerance * 1e6, tolerance), "far off")]
    if nonfinite:
        legend.append((NONFINITE_COLOR, "NaN or inf"))
    tie_count = int(ties.sum()) if ties is not None else 0
    lead = ", ".join("ijk"[:error.ndim - 2])
    return Heatmap(output.name, panels, comparison.wrong, comparison.total, tie_count, cropped,
                   max(0, len(slices) - MAX_PANELS), legend, nonfinite, bool(outline),
                   f"{output.name}[{lead}]" if lead else "")


def grid(array, wrong=None, tied=None, pooling=None, name="") -> List[Grid]:
    """An array as small tables of numbers, one per 2-D slice; wrong and tied cells flagged."""
    array = np.asarray(array)
    if array.ndim == 0:
        return [Grid("", [[GridCell(_number(array), bool(wrong) if wrong is not None else False)]], 1)]
    shape = array.shape
    if array.ndim == 1:
        array = array[None, :]
    flat = array.reshape(-1, *array.shape[-2:])
    flat_wrong = None if wrong is None else np.asarray(wrong).reshape(flat.shape)
    flat_tied = None if tied is None or np.shape(tied) != shape else np.asarray(tied).reshape(flat.shape)
    edges = _window_edges(flat.shape[-2:], pooling) if pooling is not None and pooling.shape == shape else None
    labels = [label for _, label in _slices(array.shape, name)] if array.ndim > 2 else [""]
    tables = []
    for k, label in enumerate(labels):
        rows = []
        for r in range(flat.shape[1]):
            rows.append([GridCell(_number(flat[k, r, c]),
                                  bool(flat_wrong[k, r, c]) if flat_wrong is not None else False,
                                  bool(flat_tied[k, r, c]) if flat_tied is not None else False,
                                  edges[r][c] if edges is not None else "")
                         for c in range(flat.shape[2])])
        tables.append(Grid(label, rows, flat.shape[2]))
    return tables


def _window_edges(shape, pooling):
    """Per cell, where a non-overlapping pooling window's border runs: "l", "t", "lt" or ""."""
    rows, cols = shape
    if pooling is None or pooling.overlapping:
        return None
    out_rows, out_cols = pooling.out_size(shape)

    def window_of(i, axis, count):
        k = (i + pooling.padding[axis]) // pooling.stride[axis]
        inside = i + pooling.padding[axis] - k * pooling.stride[axis] < pooling.size[axis]
        return k if k < count and inside else None

    row_window = [window_of(r, 0, out_rows) for r in range(rows)]
    col_window = [window_of(c, 1, out_cols) for c in range(cols)]
    return [[("l" if c and col_window[c] != col_window[c - 1] else "")
             + ("t" if r and row_window[r] != row_window[r - 1] else "") for c in range(cols)]
            for r in range(rows)]


def failing_windows(x, expected, got, wrong, pooling, limit=MAX_WINDOWS):
    """The first pooling windows holding a wrong element of dx: x, expected and got inside each.

    Returns (windows, total) where each window is a dict with a label and three Grids.
    """
    found, total = [], 0
    for lead in np.ndindex(*x.shape[:-2]):
        for top, left in pooling.windows(x.shape):
            rows, cols = pooling.region(x.shape, top, left)
            region = lead + (rows, cols)
            if not wrong[region].any():
                continue
            total += 1
            if len(found) >= limit:
                continue
            ties = pooling.ties[region] if pooling.ties is not None else None
            where = f"x[{''.join(f'{i}, ' for i in lead)}{rows.start}:{rows.stop}, {cols.start}:{cols.stop}]"
            found.append({"label": where,
                          "x": grid(x[region], None, ties),
                          "expected": grid(expected[region], wrong[region]),
                          "got": grid(got[region], wrong[region])})
    return found, total


def _number(value):
    return f"{float(value):.6g}"
