"""HTML reports, rendered from jinja2 templates with autoescaping on."""
from .render import render_class_overview, render_gradescope_summary, render_report

__all__ = ["render_report", "render_gradescope_summary", "render_class_overview"]
