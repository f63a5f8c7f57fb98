"""Generate the student template from the reference, nbgrader-style.

Markers in reference/*.py:
- `# BEGIN SOLUTION [hint: text]` ... `# END SOLUTION`: inside a function, the
  region becomes a TODO banner with the hint and a NotImplementedError that names
  the function; at module level (helpers), it is removed.
- `[ties=RULE]` at the start of a docstring line: kept, without the tag, only when
  RULE is the assignment's tie rule. `[reference]` lines are dropped.
- `# template: LINE` at the end of a line: the template has LINE instead.
- `NAME = VALUE  # config: SECTION.KEY` (a whole line): VALUE becomes the config's
  value of that key, wherever the reference runs (the generator, the reference laid
  out as a submission) and in the template, where the comment is dropped.
- `from .X import` and `from reference.X import` become `from X import`.
Functions and methods the config does not grade are left out of the template.
"""
import ast
import re
import textwrap
from pathlib import Path

from ..errors import UserError
from ..ties import TIE_RULES

_BEGIN = re.compile(r"^(\s*)# BEGIN SOLUTION(?:\s+hint:\s*(.*?))?\s*$")
_END = re.compile(r"^(\s*)# END SOLUTION\s*$")
_TIES = re.compile(r"^(\s*)\[ties=([^\]]*)\]\s?\s*(.*)$")
_REFERENCE = re.compile(r"^\s*\[reference\]")
_DIRECTIVE = re.compile(r"^(\s*).*?\s+# template: (.*)$")
_IMPORT = re.compile(r"^from (?:\.|reference\.)(\w+) import ")
_CONFIG = re.compile(r"^(\s*)([A-Za-z_]\w*)\s*=\s*.*?\s+# config: ([\w.]+)\s*$")


class MarkerError(UserError):
    """A solution marker or tag in the reference is malformed."""


def student_version(source, filename, tie_rule, config=None, drop=()):
    """Return the template text for one reference file.

    config: the assignment's Config, for `# config:` lines; drop: the functions and
    methods ('Class.method') to leave out, which the assignment does not grade."""
    if tie_rule not in TIE_RULES:
        raise MarkerError(f"unknown tie rule {tie_rule!r}; expected one of {', '.join(TIE_RULES)}")
    source = without_definitions(source, filename, drop)
    if config is not None:
        source = apply_config(source, config, filename, comments=False)
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


def solution_version(source, filename, tie_rule, config=None):
    """The reference as a correct student submission: markers gone, imports rewritten,
    `# config:` lines set to the config's values (the tie rule's, without a config)."""
    source = apply_config(source, config, filename, comments=False, tie_rule=tie_rule)
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
        out.append(_IMPORT.sub(r"from \1 import ", line))
    return "\n".join(out).rstrip("\n") + "\n"


def apply_config(source, config, filename, comments=True, tie_rule=None):
    """source with every `NAME = VALUE  # config: SECTION.KEY` line set to the config's value.

    comments: keep the `# config:` comment. Without a config, only assignment.tie_rule
    is known (as tie_rule, if given)."""
    lines = source.splitlines(keepends=True)
    for number, line in enumerate(lines, start=1):
        match = _CONFIG.match(line.rstrip("\r\n"))
        if not match:
            continue
        key = match.group(3)
        value = _config_value(config, key, tie_rule, f"{filename}:{number}")
        ending = line[len(line.rstrip("\r\n")):]
        comment = f"  # config: {key}" if comments else ""
        lines[number - 1] = f"{match.group(1)}{match.group(2)} = {value!r}{comment}{ending}"
    return "".join(lines)


def _config_value(config, key, tie_rule, where):
    if config is None:
        if key == "assignment.tie_rule" and tie_rule is not None:
            return tie_rule
        raise MarkerError(f"{where}: `# config: {key}` needs the assignment's config")
    section, _, name = key.partition(".")
    try:
        return getattr(getattr(config, section), name)
    except AttributeError:
        raise MarkerError(f"{where}: `# config: {key}` names no key of assignment.toml; keys are written "
                          f"as section.key, such as assignment.tie_rule") from None


def without_definitions(source, filename, names):
    """source without the definitions of the named functions and methods ('Class.method') that
    hold a solution region: those students would write. One without a region is code the
    template gives students complete (a layer of the course's framework), and stays."""
    if not names:
        return source
    try:
        tree = ast.parse(source, filename)
    except SyntaxError as exc:
        raise MarkerError(f"{filename}:{exc.lineno}: the reference does not parse: {exc.msg}") from None
    spans = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in names:
            spans.append(node)
        elif isinstance(node, ast.ClassDef):
            spans += [item for item in node.body if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef))
                      and f"{node.name}.{item.name}" in names]
    lines = source.splitlines(keepends=True)
    spans = [node for node in spans if any(_BEGIN.match(line) for line in lines[node.lineno - 1:node.end_lineno])]
    drop = set()
    for node in spans:
        first = min([node.lineno] + [d.lineno for d in node.decorator_list])
        last = node.end_lineno
        while last < len(lines) and not lines[last].strip():  # the blank lines after it
            last += 1
        drop.update(range(first, last + 1))
    return "".join(line for number, line in enumerate(lines, start=1) if number not in drop)


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


def render_template(reference_dir, files, copied=(), tie_rule="all", config=None, drop=None):
    """{file name: text} for every file of the student template.

    files: the student files, made from the reference's files of the same names;
    copied: files of the reference that students get as they are; config: for `# config:`
    lines (and then its tie rule is the one used); drop: {file: names of the functions and
    methods to leave out}."""
    reference_dir = Path(reference_dir)
    if config is not None:
        tie_rule = config.assignment.tie_rule
    templates = {}
    for name in files:
        source = (reference_dir / name).read_text(encoding="utf-8")
        check_markers(source, f"reference/{name}")
        templates[name] = student_version(source, f"reference/{name}", tie_rule, config,
                                          (drop or {}).get(name, ()))
    for name in copied:
        templates[name] = (reference_dir / name).read_text(encoding="utf-8")
    return templates


def signatures(template_files, files):
    """The locked interface as the template declares it: {module: {function: [params]}}.

    Each parameter is {"name": ..., "default": bool}; methods include `self`.
    """
    interface = {}
    for name in files:
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


def module_imports(template_files, files):
    """{module: {other student module: [names it takes from it]}}, as the template imports them.

    `from layers import a, b` takes a and b; `import layers` or `from layers import *`
    takes '*' (everything).
    """
    modules = {name[:-3] for name in files}
    imports = {}
    for name in files:
        used = {}
        for node in ast.walk(ast.parse(template_files[name])):
            if isinstance(node, ast.ImportFrom) and node.module in modules and not node.level:
                used.setdefault(node.module, []).extend(alias.name for alias in node.names)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules:
                        used.setdefault(alias.name, []).append("*")
        imports[name[:-3]] = {module: sorted(set(names)) for module, names in used.items() if module != name[:-3]}
    return imports


def _params(node):
    args = node.args
    positional = args.posonlyargs + args.args
    first_default = len(positional) - len(args.defaults)
    params = [{"name": a.arg, "default": i >= first_default} for i, a in enumerate(positional)]
    params += [{"name": a.arg, "default": d is not None, "keyword_only": True}
               for a, d in zip(args.kwonlyargs, args.kw_defaults)]
    return params
