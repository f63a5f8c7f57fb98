"""The README's tables that restate the config: written by `generate`, checked by `generate --check`.

A block sits between `<!-- BEGIN GENERATED: name -->` and `<!-- END GENERATED: name -->`
lines; everything else in the README is left exactly as it is.
"""
import re

from ..config import describe_keys


def update_readme(text, assignment, manifest, mistakes):
    """The README's text with its generated blocks rewritten (a block it lacks is left out)."""
    config = assignment.config
    blocks = {"points": points_table(config, manifest), "config-keys": config_keys_table(),
              "mistakes": mistakes_table(mistakes)}
    for name, body in blocks.items():
        pattern = re.compile(rf"(<!-- BEGIN GENERATED: {name} -->\n).*?(<!-- END GENERATED: {name} -->)", re.S)
        text = pattern.sub(lambda m: m.group(1) + body + m.group(2), text)
    return text


def points_table(config, manifest):
    counts = {}
    for case in manifest["cases"]:
        public, hidden = counts.get(case["function"], (0, 0))
        counts[case["function"]] = (public + (case["visibility"] == "public"), hidden + (case["visibility"] == "hidden"))
    lines = ["| function | points | split across outputs | cases (public + hidden) |",
             "|---|---:|---|---|"]
    for function in manifest["functions"]:
        name = function["name"]
        weights = config.output_weights[name]
        split = ", ".join(f"{k} {v:g}" for k, v in weights.items()) if len(weights) > 1 else ""
        public, hidden = counts.get(name, (0, 0))
        lines.append(f"| `{name}` | {function['points']:g} | {split} | {public} + {hidden} |")
    lines.append(f"| **total** | **{config.assignment.total_points:g}** | | "
                 f"{sum(c[0] for c in counts.values())} + {sum(c[1] for c in counts.values())} |")
    return "\n".join(lines) + "\n"


def config_keys_table():
    lines = ["| key | default | what it decides |", "|---|---|---|"]
    for key, default, description in describe_keys():
        shown = ", ".join(default) if isinstance(default, tuple) else default
        shown = "{}" if isinstance(default, dict) and not default else shown
        lines.append(f"| `{key}` | `{shown}` | {description.replace('|', chr(92) + '|')} |")
    return "\n".join(lines) + "\n"


def mistakes_table(mistakes):
    lines = ["| function | mistake the feedback names |", "|---|---|"]
    for entry in mistakes.values():
        lines.append(f"| `{entry['function']}` | {entry['title']} |")
    return "\n".join(lines) + "\n"
