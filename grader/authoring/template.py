"""Generate the student template from the reference, nbgrader-style.

Markers in reference/*.py:
- `# BEGIN SOLUTION [hint: text]` ... `# END SOLUTION`: inside a function, the
  region becomes a TODO banner with the hint and a NotImplementedError that names
  the function; at module level (helpers), it is removed.
- `[ties=RULE]` at the start of a docstring line: kept, without the tag, only when
  RULE is the assignment's tie rule. `[reference]` lines are dropped.
- `# template: LINE` at the end of a line: the template has LINE instead.
- `from .layers import` and `from reference.layers import` become `from layers import`.
"""
import ast
import re
import textwrap
from pathlib import Path

from ..errors import UserError
from ..interface import TIE_RULES

SOURCES = ("layers.py", "fc_net.py")
COPIED = ("gradient_check.py",)

_BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION(?:\s+hint:\s*(.*?))?\s*$")
_END = re.compile(r"^(\s*)# END SOLUTION\s*$")
_TIES = re.compile(r"^(\s*)\[ties=([^\]]*)\]\s?\s*(.*)$")
_REFERENCE = re.compile(r"^\s*\[reference\]")
_DIRECTIVE = re.compile(r"^(\s*).*?\s+# template: (.*)$")
_IMPORT = re.compile(r"^from (?:\.|reference\.)(\w+) import ")


class MarkerError(UserError):
    """A solution marker or tag in the reference is malformed."""


def student_version(source, filename, tie_rule):
    """Return the template text for one reference file."""
    if tie_rule not in TIE_RULES:
        raise MarkerError(f"unknown tie rule {tie_rule!r}; expected one of {', '.join(TIE_RULES)}")
    owners = _function_owners(source, filename)
    lines = source.splitlines()
    out, region, number = [], None, 0
    for number, line in enumerate(lines, start=1):
        begin, end = _BEGIN.match(line), _END.match(line)
        if begin:
            if region:
                raise MarkerError(f"{filename}:{number}: BEGIN SOLUTION inside the region opened "
                                  f"at line {region['line']}; regions cannot nest")
            region = {"line": number, "indent": begin.group(1), "hint": begin.group(2)}
            continue
        if end:
            if not region:
                raise MarkerError(f"{filename}:{number}: END SOLUTION without a BEGIN SOLUTION")
            out += _stub(region, owners.get(region["line"]), filename)
            region = None
            continue
        if region:
            continue
        line = _transform(line, filename, number, tie_rule)
        if line is not None:
            out.append(line)
    if region:
        raise MarkerError(f"{filename}:{region['line']}: BEGIN SOLUTION is never closed by END SOLUTION")
    text = "\n".join(out).rstrip("\n") + "\n"
    return re.sub(r"\n{4,}", "\n\n\n", text)


def solution_version(source, filename, tie_rule):
    """The reference as a correct student submission: markers gone, imports rewritten.

    max_pool_backward keeps its extra `ties` parameter (allowed: it has a default),
    with the assignment's rule as that default.
    """
    out = []
    for number, line in enumerate(source.splitlines(), start=1):
        if _BEGIN.match(line) or _END.match(line) or _REFERENCE.match(line):
            continue
        ties = _TIES.match(line)
        if ties:
            if ties.group(2) == tie_rule:
                out.append(ties.group(1) + ties.group(3))
            continue
        line = re.sub(r"\s+# template: .*$", "", line)
        line = re.sub(r'\bties="\w+"', f'ties="{tie_rule}"', line)
        out.append(_IMPORT.sub(r"from \1 import ", line))
    return "\n".join(out).rstrip("\n") + "\n"


def check_markers(source, filename):
    """Raise MarkerError unless the file has at least one well-formed region."""
    if not any(_BEGIN.match(line) for line in source.splitlines()):
        raise MarkerError(f"{filename}: no # BEGIN SOLUTION markers; every reference file needs the "
                          f"regions a student writes marked")


def _transform(line, filename, number, tie_rule):
    ties = _TIES.match(line)
    if ties:
        rule = ties.group(2)
        if rule not in TIE_RULES:
            raise MarkerError(f"{filename}:{number}: unknown tie rule tag [ties={rule}]; "
                              f"expected one of {', '.join(TIE_RULES)}")
        return ties.group(1) + ties.group(3) if rule == tie_rule else None
    if _REFERENCE.match(line):
        return None
    directive = _DIRECTIVE.match(line)
    if directive:
        return directive.group(1) + directive.group(2).rstrip()
    return _IMPORT.sub(r"from \1 import ", line)


def _stub(region, owner, filename):
    if not region["indent"]:
        return []  # a module-level helper region: the student writes their own
    if owner is None:
        raise MarkerError(f"{filename}:{region['line']}: indented solution region outside any function")
    hint = region["hint"] or f"implement {owner}."
    indent = region["indent"]
    width = max(40, 88 - len(indent))
    banner = textwrap.wrap("TODO: " + hint, width - 2, subsequent_indent="      ")
    return ([f"{indent}# " + "*" * (width - 2)]
            + [f"{indent}# {line}" for line in banner]
            + [f"{indent}# " + "*" * (width - 2),
               f'{indent}raise NotImplementedError("{owner} is not implemented yet")'])


def _function_owners(source, filename):
    """Map each line that opens a solution region to the qualified name of its function."""
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        raise MarkerError(f"{filename}:{exc.lineno}: the reference does not parse: {exc.msg}") from None
    spans = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.ClassDef)):
                name = prefix + child.name
                if isinstance(child, ast.FunctionDef):
                    spans.append((child.lineno, child.end_lineno, name))
                visit(child, name + ".")
    visit(tree, "")
    owners = {}
    for number, line in enumerate(source.splitlines(), start=1):
        if _BEGIN.match(line):
            inside = [span for span in spans if span[0] <= number <= span[1]]
            if inside:
                owners[number] = max(inside)[2]  # the innermost: the latest start
    return owners


def render_template(reference_dir, tie_rule):
    """{file name: text} for every file of the student template."""
    reference_dir = Path(reference_dir)
    files = {}
    for name in SOURCES:
        source = (reference_dir / name).read_text(encoding="utf-8")
        check_markers(source, f"reference/{name}")
        files[name] = student_version(source, f"reference/{name}", tie_rule)
    for name in COPIED:
        files[name] = (reference_dir / name).read_text(encoding="utf-8")
    return files


def signatures(template_files):
    """The locked interface as the template declares it: {module: {function: [params]}}.

    Each parameter is {"name": ..., "default": bool}; methods include `self`.
    """
    interface = {}
    for name in SOURCES:
        module = name[:-3]
        tree = ast.parse(template_files[name])
        functions = {}
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
                functions[node.name] = _params(node)
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.FunctionDef) and (item.name == "__init__"
                                                              or not item.name.startswith("_")):
                        functions[f"{node.name}.{item.name}"] = _params(item)
        interface[module] = functions
    return interface


def _params(node):
    args = node.args
    positional = args.posonlyargs + args.args
    first_default = len(positional) - len(args.defaults)
    params = [{"name": a.arg, "default": i >= first_default} for i, a in enumerate(positional)]
    params += [{"name": a.arg, "default": d is not None, "keyword_only": True}
               for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return params
