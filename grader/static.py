"""Checks made before any student code runs: syntax, the locked interface, imports.

The interface is compared with the signatures recorded in the manifest, so no
reference code is needed. A missing function, a renamed or removed parameter, a
new parameter without a default, or a lost default fails that function's cases
with a message that names both signatures. Extra parameters with defaults are fine.
"""
import ast
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple


@dataclass
class FunctionCheck:
    name: str
    ok: bool
    message: str = ""


@dataclass
class ModuleCheck:
    module: str
    filename: str
    syntax_error: Optional[dict] = None                        # {line, column, message, text}
    forbidden: List[Tuple[str, str, int]] = field(default_factory=list)  # (package, file, line)
    functions: Dict[str, FunctionCheck] = field(default_factory=dict)
    uses: Dict[str, List[str]] = field(default_factory=dict)    # other student module -> names it takes

    @property
    def ok(self):
        return self.syntax_error is None


def check_module(module, filename, source, interface, helper_sources=None, forbidden=(), others=()):
    """Check one student file against its recorded interface.

    interface: {function name: [{"name", "default"}...]} as recorded by the generator.
    helper_sources: {filename: bytes} of the submission's other .py files, whose
    imports are checked too, since the module may import them.
    others: the assignment's other student modules: what the file takes from each is noted.
    """
    check = ModuleCheck(module, filename)
    try:
        text = source.decode("utf-8") if isinstance(source, bytes) else source
        tree = ast.parse(text, filename)
    except SyntaxError as exc:
        check.syntax_error = {"line": exc.lineno or 0, "column": exc.offset or 0,
                              "message": exc.msg, "text": (exc.text or "").rstrip("\n")[:300]}
        return check
    except (UnicodeDecodeError, ValueError) as exc:
        check.syntax_error = {"line": 0, "column": 0, "message": f"cannot read the file as text: {exc}",
                              "text": ""}
        return check
    except (RecursionError, MemoryError):
        check.syntax_error = {"line": 0, "column": 0, "text": "",
                              "message": "Python cannot parse this file: an expression in it is nested too "
                                         "deeply or is too long"}
        return check
    scan = may_import(text, forbidden)
    takes = [other for other in others if other in text]
    nodes = list(ast.walk(tree)) if scan or takes else []  # walked once for both scans
    check.forbidden = forbidden_imports(tree, filename, forbidden, nodes) if scan else []
    for name, other in (helper_sources or {}).items():
        try:
            if may_import(other, forbidden):
                check.forbidden += forbidden_imports(ast.parse(other, name), name, forbidden)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass
    for name, params in interface.items():
        check.functions[name] = check_signature(tree, name, params, filename)
    if takes:
        check.uses = names_used(nodes, takes)
    return check


def may_import(source, forbidden):
    """False if source (text or bytes) certainly imports none of the forbidden packages.

    In ASCII source every name reaches the syntax tree exactly as written, so an
    import of a forbidden package, or a call of __import__ or import_module, shows in
    the text; other source (whose names Python normalises) is always scanned.
    """
    if not source.isascii():
        return True
    words = (*forbidden, "__import__", "import_module")
    if isinstance(source, bytes):
        return any(word.encode("ascii", "replace") in source for word in words)
    return any(word in source for word in words)


def check_signature(tree, qualname, expected, filename):
    """Compare the definition of `qualname` ('f' or 'Class.method') with the recorded params."""
    node, bound_otherwise = _find(tree, qualname)
    if node is None:
        if bound_otherwise:
            return FunctionCheck(qualname, True)  # bound by an import or assignment: checked when it runs
        if "." in qualname and not any(isinstance(n, ast.ClassDef) and n.name == qualname.split(".")[0]
                                       for n in tree.body):
            return FunctionCheck(qualname, False, f"class {qualname.split('.')[0]} is missing: {filename} must "
                                                  f"define it")
        where = f"class {qualname.split('.')[0]} in {filename}" if "." in qualname else filename
        return FunctionCheck(qualname, False, f"{qualname} is missing: {where} must define it")
    args = node.args
    positional = args.posonlyargs + args.args
    first_default = len(positional) - len(args.defaults)
    theirs = [(a.arg, i >= first_default) for i, a in enumerate(positional)]
    wanted = [(p["name"], p["default"]) for p in expected if not p.get("keyword_only")]
    show_wanted = _show(p["name"] for p in expected if p["name"] != "self")
    show_theirs = _show([a.arg for a in positional if a.arg != "self"]
                        + (["*" + args.vararg.arg] if args.vararg else [])
                        + [a.arg for a in args.kwonlyargs]
                        + (["**" + args.kwarg.arg] if args.kwarg else []))
    short = qualname.split(".")[-1] if qualname.endswith("__init__") else qualname
    problem = None
    for index, (name, has_default) in enumerate(wanted):
        if index >= len(theirs) or theirs[index][0] != name:
            problem = "changed"
            break
        if has_default and not theirs[index][1]:
            problem = f"{name} lost its default value"
            break
    if problem is None:
        extra_required = [name for name, has_default in theirs[len(wanted):] if not has_default]
        extra_required += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is None]
        if extra_required:
            problem = f"the new parameter{'s' if len(extra_required) > 1 else ''} " \
                      f"{', '.join(extra_required)} need{'' if len(extra_required) > 1 else 's'} a default value"
    if problem is None:
        return FunctionCheck(qualname, True)
    owner = qualname.replace(".__init__", "") if qualname.endswith(".__init__") else short
    message = f"{owner} must accept {show_wanted}; yours takes {show_theirs}"
    if problem != "changed":
        message += f" ({problem})"
    return FunctionCheck(qualname, False, message)


def _show(names):
    return "(" + ", ".join(names) + ")"


def _find(tree, qualname):
    """The last definition of qualname, and whether the name is bound some other way instead.

    A method a class does not define itself is looked for in its bases in the same file; a
    base from elsewhere (an import) may define it, which only running the code can tell."""
    parts = qualname.split(".")
    body = tree.body
    if len(parts) == 2:
        classes = [n for n in body if isinstance(n, ast.ClassDef) and n.name == parts[0]]
        if not classes:
            return None, _bound(body, parts[0])
        return _find_method(body, classes[-1], parts[1], set())
    name = parts[-1]
    defs = [n for n in body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name]
    if defs:
        return defs[-1], False
    return None, _bound(body, name)


def _find_method(module_body, cls, name, seen):
    defs = [n for n in cls.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == name]
    if defs:
        return defs[-1], False
    if _bound(cls.body, name):
        return None, True
    seen.add(cls.name)
    for base in cls.bases:
        if not isinstance(base, ast.Name) or base.id in ("object",):
            if isinstance(base, ast.Name):
                continue
            return None, True  # a base named some other way (module.Base): it may define the method
        classes = [n for n in module_body if isinstance(n, ast.ClassDef) and n.name == base.id]
        if not classes:
            return None, True  # an imported base: it may define the method
        if base.id in seen:
            continue
        found, bound = _find_method(module_body, classes[-1], name, seen)
        if found is not None or bound:
            return found, bound
    return None, False


def _bound(body, name):
    """Whether a module or class body binds `name` by assignment or import."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if any((alias.asname or alias.name.split(".")[0]) == name or alias.name == "*"
                   for alias in node.names):
                return True
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                return True
    return False


def forbidden_imports(tree, filename, forbidden, nodes=None):
    """[(package, file, line)] for every import of a forbidden top-level package."""
    forbidden = set(forbidden)
    found = []
    for node in nodes if nodes is not None else ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names = [node.module]
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant) \
                and isinstance(node.args[0].value, str):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if called in ("__import__", "import_module"):
                names = [node.args[0].value]
        for name in names:
            top = name.split(".")[0]
            if top in forbidden:
                found.append((top, filename, node.lineno))
    return found


def names_used(nodes, modules):
    """{module: names} the file takes from the other student modules: `from layers import x`
    and `layers.x` (nodes: its AST, walked); `from layers import *` takes '*'."""
    used = {}
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module in modules and not node.level:
            used.setdefault(node.module, set()).update(alias.name for alias in node.names)
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            used.setdefault(node.value.id, set()).add(node.attr)
    return {module: sorted(names) for module, names in used.items()}
