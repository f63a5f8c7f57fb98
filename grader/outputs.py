"""Writing what grading produced: results.json, report.html, and the terminal summary.

results.json is written last, by gradescope.write_results, after every process of
the student's has ended.
"""
from .files import prepare_output_dir, replace_file
from .gradescope import build_results, write_results
from .report import render_gradescope_summary, render_report
from .report.render import report_context


def write_outputs(grade, out_dir):
    """Write report.html and then results.json into out_dir; returns their paths."""
    out_dir = prepare_output_dir(out_dir)
    context = report_context(grade)  # the same views of the cases for both pages
    report = replace_file(out_dir / "report.html", render_report(grade, context))
    summary = render_gradescope_summary(grade, context)
    results = write_results(out_dir / "results.json", build_results(grade, summary))
    return results, report


def summary_table(grade):
    """Lines of the terminal summary: one row per function, then the total."""
    rows = [(s.name, f"{s.score:g} / {s.possible:g}", f"{s.passed}/{s.cases}") for s in grade.by_function()]
    width = max(len(name) for name, _, _ in rows + [("function", "", "")])
    points_width = max(len(points) for _, points, _ in rows + [("", "points", "")])
    lines = [f"{'function':<{width}}  {'points':>{points_width}}  cases passed",
             f"{'-' * width}  {'-' * points_width}  ------------"]
    for name, points, passed in rows:
        lines.append(f"{name:<{width}}  {points:>{points_width}}  {passed}")
    lines.append(f"{'-' * width}  {'-' * points_width}")
    lines.append(f"{'total':<{width}}  {f'{grade.score:g} / {grade.possible:g}':>{points_width}}")
    return lines
