"""What a student reads about one case, as Markdown or plain text.

Gradescope shows each test's output as Markdown; the student's local pytest run
prints the plain-text form. Both come from here, so they say the same thing.
Student-controlled text (exception messages, printed output, file names) only
ever appears inside code fences longer than any backtick run it contains.
Hidden cases say only whether they passed.
"""
import numpy as np

from .compare import FIRST_WRONG

SMALL_ARRAY = 36        # arrays with at most this many elements are shown in full
MAX_OUTPUT_CHARS = 2000


def case_feedback(result, markdown=True):
    """The full feedback for one case."""
    case = result.case
    lines = []
    if case.hidden:
        state = "passed" if result.passed else "failed"
        return f"Hidden test: {state} ({_points(result.score)}/{_points(case.points)} points)."
    lines.append(_bold(case.description, markdown))
    lines.append("")
    lines.append(f"Result: {result.status_text}, {_points(result.score)}/{_points(case.points)} points.")
    if result.summary and not result.passed:
        lines.append("")
        lines.append(_escape_line(result.summary, markdown))
    for diagnosis in result.diagnoses:
        lines.append("")
        lines.append(_bold(f"Likely mistake: {diagnosis.title}", markdown))
        lines.append(_escape_line(diagnosis.hint, markdown))
    for note in result.notes:
        lines.append("")
        lines.append(_escape_line(note, markdown))
    if result.warnings:
        lines.append("")
        for warning in result.warnings:
            lines.append(("- " if markdown else "Warning: ") + _escape_line(warning, markdown))
    if result.error and result.error.get("frames"):
        lines.append("")
        lines.append("Where it happened:")
        lines += _block(traceback_text(result.error), markdown)
    lines += _arrays(result, markdown)
    if result.output.strip():
        lines.append("")
        lines.append("Your code printed:")
        lines += _block(bounded(result.output), markdown)
    return "\n".join(lines).strip() + "\n"


def traceback_text(error):
    """The traceback, cut to the student's own files, then the exception."""
    lines = []
    for file, line, function, text in error.get("frames", []):
        lines.append(f'  File "{file}", line {line}, in {function}')
        if text:
            lines.append(f"    {text.strip()}")
    lines.append(f"{error.get('type', 'Exception')}: {error.get('message', '')}".rstrip(": "))
    return "\n".join(lines)


def bounded(text, limit=MAX_OUTPUT_CHARS):
    if len(text) <= limit:
        return text
    return text[:limit // 4] + f"\n[... {len(text) - limit} characters omitted ...]\n" + text[-(limit * 3 // 4):]


def format_array(array):
    array = np.asarray(array)
    if array.ndim == 0:
        return f"{float(array):.10g}"
    return np.array2string(array, precision=5, suppress_small=True, max_line_width=100, threshold=200,
                           floatmode="maxprec")


def _arrays(result, markdown):
    """Expected against got for the failing outputs: in full when small, else a summary."""
    lines = []
    for output in result.outputs:
        if not output.message or output.expected is None:
            continue
        expected, got = output.expected, output.got
        lines.append("")
        name = output.name
        if got is None or expected.size > SMALL_ARRAY or got.shape != expected.shape:
            comparison = output.comparison
            summary = [f"{name}: expected shape {expected.shape}"
                       + (f", got shape {got.shape}" if got is not None else "")]
            if comparison is not None and comparison.problem in ("values", "nonfinite"):
                summary.append(f"max absolute error {comparison.max_abs:.3g}, max relative error "
                               f"{comparison.max_rel:.3g}, {comparison.wrong} of {comparison.total} "
                               f"elements wrong")
                summary.append("first wrong elements: " + ", ".join(
                    f"{name}[{', '.join(map(str, index))}] expected {expected[index]:.6g}, got "
                    f"{float(got[index]):.6g}" for index in comparison.first_wrong[:FIRST_WRONG]))
            lines += _block("\n".join(summary), markdown)
            continue
        lines.append(f"{name}, expected:" if not markdown else f"`{name}`, expected:")
        lines += _block(format_array(expected), markdown)
        lines.append(f"{name}, yours:" if not markdown else f"`{name}`, yours:")
        lines += _block(format_array(got), markdown)
    return lines


def _block(text, markdown):
    if not markdown:
        return ["    " + line for line in text.splitlines()] or ["    "]
    fence = "```"
    while fence in text:
        fence += "`"
    return [fence + "text", text, fence]


def _bold(text, markdown):
    return f"**{_escape_md(text)}**" if markdown else text


def _escape_line(text, markdown):
    return _escape_md(text) if markdown else text


def _escape_md(text):
    """Neutralise Markdown and HTML in prose, kept on one line (a line break would let a line of
    the text start a heading, a list, a code block or a link definition)."""
    out = []
    for ch in " ".join(text.splitlines()):
        if ch in "\\`*_[]<>#|~!":
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def _points(value):
    return f"{value:g}"
