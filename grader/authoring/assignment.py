"""An assignment folder, loaded for generation: its config, declarations, cases, catalog and reference.

    assignment.toml       the instructor's choices; [points] selects what is graded
    reference/            the solution, with solution markers (one file per student file)
    spec/functions.py     FUNCTIONS (Function and Method declarations), COPIED_FILES
    spec/cases.py         CASES
    spec/mistakes.py      catalog(tie_rule) or MISTAKES
    test_cases/, student_template/    generated from the above

reference/ and spec/ are imported afresh on every load, by path, as subpackages of a
private package, so that spec/mistakes.py can import the reference as `..reference`
whatever else Python can import, and so that lines marked `# config: KEY` in them
take the config's value (see template.apply_config).
"""
import hashlib
import importlib
import importlib.abc
import importlib.util
import sys
from dataclasses import dataclass
from pathlib import Path

from ..config import ConfigError, Declared, load_config
from ..errors import UserError
from . import spec as vocabulary
from .template import apply_config

SPEC_DIR = "spec"
REFERENCE_DIR = "reference"
CONFIG_FILE = "assignment.toml"
TEMPLATE_DIR = "student_template"
CASES_DIR = "test_cases"


@dataclass
class Assignment:
    folder: Path
    config: object            # Config
    functions: tuple          # every declared Function and Method, in declaration order
    cases: tuple              # the Case objects of the graded functions, in declaration order
    catalog: tuple            # the Mistake objects of the graded functions
    reference: dict           # student module name -> the reference's module
    copied: tuple             # files of reference/ that students get as they are
    tags: dict                # spec/cases.py's TAGS: {tag: what the cases with it have}

    @property
    def graded(self):
        """The functions [points] selects, in declaration order."""
        return tuple(f for f in self.functions if f.name in self.config.points)

    @property
    def student_files(self):
        """The files students write, in the order their functions are declared."""
        return tuple(dict.fromkeys(f.file for f in self.graded))

    def function(self, name):
        return next(f for f in self.functions if f.name == name)

    def outputs(self, function):
        return declared_outputs(function, [c for c in self.cases if c.function == function.name])


def load_assignment(folder=".", config_path=None):
    """Load the assignment in `folder`; raises UserError (ConfigError) naming what is wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UserError(f"{folder}: no such folder; give --assignment the folder that holds "
                        f"{CONFIG_FILE}, {REFERENCE_DIR}/ and {SPEC_DIR}/")
    for needed in (SPEC_DIR, REFERENCE_DIR):
        if not (folder / needed).is_dir():
            raise UserError(f"{folder / needed}: no such folder; an assignment folder holds {CONFIG_FILE}, "
                            f"{REFERENCE_DIR}/ (the solution) and {SPEC_DIR}/ (functions.py, cases.py, "
                            f"mistakes.py)")
    package = _Package(folder)
    functions_module, functions, cases, declared = _declared(package, folder)
    tags = getattr(sys.modules.get(f"{package.name}.{SPEC_DIR}.cases"), "TAGS", {})
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise UserError(f"{folder / SPEC_DIR / 'cases.py'}: TAGS must be a dict of tag -> text")
    config = load_config(config_path or folder / CONFIG_FILE, declared)
    package.config = config
    graded = [f for f in functions if f.name in config.points]
    files = dict.fromkeys(f.file for f in graded)
    reference = {}
    for file in files:
        if not (folder / REFERENCE_DIR / file).is_file():
            raise UserError(f"{folder / REFERENCE_DIR / file}: no such file; {declared.where} declares "
                            f"functions in {file}, and the reference must implement them there")
        reference[file[:-3]] = package.load(f"{REFERENCE_DIR}.{file[:-3]}")
    for function in graded:
        _check_implemented(function, reference[function.module], folder)
    copied = tuple(getattr(functions_module, "COPIED_FILES", ()))
    for name in copied:
        if not (folder / REFERENCE_DIR / name).is_file():
            raise UserError(f"{folder / REFERENCE_DIR / name}: no such file; {declared.where} lists it "
                            f"in COPIED_FILES")
    selected = {f.name for f in graded}
    hidden_unknown = [case_id for case_id in config.cases.hidden
                      if case_id not in {c.id for c in cases}]
    if hidden_unknown:
        raise ConfigError(f"{config.path}: cases.hidden names unknown case {hidden_unknown[0]!r}; the "
                          f"cases are listed by `python -m grader generate --list`")
    catalog = _catalog(package.load(f"{SPEC_DIR}.mistakes") if (folder / SPEC_DIR / "mistakes.py").is_file()
                       else None, config.assignment.tie_rule, functions, folder)
    return Assignment(folder, config, tuple(functions),
                      tuple(c for c in cases if c.function in selected),
                      tuple(m for m in catalog if m.function in selected), reference, copied, tags)


def load_declared(folder="."):
    """The functions the assignment in folder declares, as load_config checks names against them."""
    folder = Path(folder)
    return _declared(_Package(folder), folder)[3]


def _declared(package, folder):
    """(spec.functions module, its FUNCTIONS, the CASES, Declared) of the assignment."""
    module = package.load(f"{SPEC_DIR}.functions")
    functions = _declarations(module, folder)
    cases = _cases(package.load(f"{SPEC_DIR}.cases"), functions, folder)
    declared = Declared({f.name: declared_outputs(f, [c for c in cases if c.function == f.name])
                         for f in functions}, str(folder / SPEC_DIR / "functions.py"))
    return module, functions, cases, declared


def declared_outputs(function, cases=()):
    """The names of a function's graded outputs, in the order its cases first return them."""
    names = []
    selectors = [c.returns if c.returns is not None else function.returns for c in cases] or [function.returns]
    for selector in selectors:
        for name in selector_names(selector):
            if name not in names:
                names.append(name)
    for name in function.after:
        if name not in names:
            names.append(name)
    return tuple(names)


def selector_names(selector):
    """The output names a `returns` selector grades, in order."""
    if selector is None:
        return []
    if isinstance(selector, str):
        return [selector]
    if isinstance(selector, vocabulary.Entries):
        return [selector.name]
    if isinstance(selector, (list, tuple)):
        return [name for item in selector for name in selector_names(item)]
    raise TypeError(f"not a returns selector: {selector!r}")


# Loading and checking the declarations -----------------------------------------------

def _declarations(module, folder):
    where = folder / SPEC_DIR / "functions.py"
    functions = getattr(module, "FUNCTIONS", None)
    if not isinstance(functions, (tuple, list)) or not functions:
        raise UserError(f"{where}: defines no FUNCTIONS; it must list the assignment's Function and Method "
                        f"declarations")
    seen = set()
    for function in functions:
        if not isinstance(function, (vocabulary.Function, vocabulary.Method)):
            raise UserError(f"{where}: FUNCTIONS holds {function!r}, which is not a Function or a Method")
        if function.name in seen:
            raise UserError(f"{where}: {function.name} is declared twice")
        seen.add(function.name)
        if not function.file.endswith(".py") or "/" in function.file or not function.module.isidentifier():
            raise UserError(f"{where}: {function.name}'s file {function.file!r} must be a Python file name "
                            f"such as layers.py")
        try:
            selector_names(function.returns)
        except TypeError as exc:
            raise UserError(f"{where}: {function.name}: {exc}") from None
    return list(functions)


def _cases(module, functions, folder):
    where = folder / SPEC_DIR / "cases.py"
    cases = getattr(module, "CASES", None)
    if not isinstance(cases, (tuple, list)):
        raise UserError(f"{where}: defines no CASES; it must list the assignment's Case objects")
    names = {f.name for f in functions}
    ids = set()
    for case in cases:
        if not isinstance(case, vocabulary.Case):
            raise UserError(f"{where}: CASES holds {case!r}, which is not a Case")
        if case.function not in names:
            raise UserError(f"{where}: case {case.id} is of {case.function!r}, which spec/functions.py does "
                            f"not declare")
        if case.id in ids:
            raise UserError(f"{where}: case {case.id} is declared twice")
        ids.add(case.id)
    order = {f.name: index for index, f in enumerate(functions)}
    return sorted(cases, key=lambda c: order[c.function])  # (stable: each function's cases keep their order)


def _catalog(module, tie_rule, functions, folder):
    if module is None:
        return ()
    where = folder / SPEC_DIR / "mistakes.py"
    if callable(getattr(module, "catalog", None)):
        mistakes = tuple(module.catalog(tie_rule))
    else:
        mistakes = tuple(getattr(module, "MISTAKES", ()))
    names = {f.name for f in functions}
    keys = set()
    for mistake in mistakes:
        if not isinstance(mistake, vocabulary.Mistake):
            raise UserError(f"{where}: the catalog holds {mistake!r}, which is not a Mistake")
        if mistake.function not in names:
            raise UserError(f"{where}: mistake {mistake.slug!r} imitates {mistake.function!r}, which "
                            f"spec/functions.py does not declare")
        key = f"{mistake.function}/{mistake.slug}"
        if key in keys:
            raise UserError(f"{where}: mistake {key} is in the catalog twice")
        keys.add(key)
    return mistakes


def _check_implemented(function, module, folder):
    path = folder / REFERENCE_DIR / function.file
    if isinstance(function, vocabulary.Method):
        cls = getattr(module, function.cls, None)
        if not isinstance(cls, type):
            raise UserError(f"{path}: defines no class {function.cls}, whose {function.method} "
                            f"assignment.toml grades")
        if not callable(getattr(cls, function.method, None)):
            raise UserError(f"{path}: class {function.cls} has no method {function.method}, which "
                            f"assignment.toml grades")
    elif not callable(getattr(module, function.name, None)):
        raise UserError(f"{path}: defines no function {function.name}, which assignment.toml grades; "
                        f"implement it there, or remove it from [points]")


# A private package for the folder's code ------------------------------------------------

class _Package(importlib.abc.MetaPathFinder):
    """Imports FOLDER/x/y.py as a private package's x.y, with config directives applied.

    Loading the same folder again forgets everything imported from it before, so that
    edited files are read afresh.
    """

    def __init__(self, folder):
        self.folder = Path(folder).resolve()
        self.name = "_assignment_" + hashlib.sha256(str(self.folder).encode()).hexdigest()[:12]
        self.config = None
        for finder in [f for f in sys.meta_path if isinstance(f, _Package) and f.name == self.name]:
            sys.meta_path.remove(finder)
        for module in [m for m in sys.modules if m == self.name or m.startswith(self.name + ".")]:
            del sys.modules[module]
        sys.meta_path.insert(0, self)
        importlib.invalidate_caches()

    def load(self, dotted):
        try:
            return importlib.import_module(f"{self.name}.{dotted}")
        except UserError:
            raise
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(self.name):
                missing = exc.name[len(self.name) + 1:].replace(".", "/")
                raise UserError(f"{self.folder / missing}.py: no such file") from None
            raise UserError(f"{self.folder / dotted.replace('.', '/')}.py: {exc}") from None
        except SyntaxError as exc:
            raise UserError(f"{exc.filename}:{exc.lineno}: syntax error: {exc.msg}") from None
        except Exception as exc:  # the folder's own code failed as it was imported
            raise UserError(f"{_where(exc, self.folder) or self.folder / dotted.replace('.', '/')}: importing it "
                            f"raised {type(exc).__name__}: {exc}") from None

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name and not fullname.startswith(self.name + "."):
            return None
        parts = fullname.split(".")[1:]
        location = self.folder.joinpath(*parts)
        if location.is_dir():
            init = location / "__init__.py"
            loader = _SourceLoader(self, init if init.is_file() else None)
            spec = importlib.util.spec_from_loader(fullname, loader, origin=str(init) if init.is_file() else None,
                                                   is_package=True)
            spec.submodule_search_locations = [str(location)]
            return spec
        source = location.with_suffix(".py")
        if source.is_file():
            return importlib.util.spec_from_file_location(fullname, source, loader=_SourceLoader(self, source))
        return None


def _where(exc, folder):
    """'file:line' of the last traceback frame of exc in the assignment folder, or ''."""
    import traceback
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename.startswith(str(folder))]
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else ""


class _SourceLoader(importlib.abc.SourceLoader):
    """Source with the config's values on `# config:` lines; never writes bytecode."""

    def __init__(self, package, path):
        self.package, self.path = package, path

    def get_filename(self, fullname):
        return str(self.path) if self.path else "<namespace>"

    def get_data(self, path):
        if self.path is None:
            return b""
        source = Path(path).read_text(encoding="utf-8")
        if self.package.config is not None:
            source = apply_config(source, self.package.config, str(path))
        return source.encode("utf-8")

    def is_package(self, fullname):
        return self.path is None or Path(self.path).name == "__init__.py"
