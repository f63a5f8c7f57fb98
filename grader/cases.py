"""The test cases on disk: test_cases/manifest.json and one .npz file per case.

The manifest is generated from the assignment folder (assignment.toml, reference/,
spec/) by `python -m grader generate`. It holds everything the grader needs at
grading time, so the grader never imports instructor code: the student files and
what each imports from the others, the recorded interface, points, tolerances,
limits, each case's call, the mistake catalog's hints, and every file's SHA-256.
Arrays are stored without pickles, and read with allow_pickle=False.
"""
import hashlib
import io
import json
import struct
import zipfile
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Dict, Optional, Tuple

from .errors import UserError

MANIFEST = "manifest.json"
FORMAT = 2
# What the grader reads from a manifest besides its files and cases, with the JSON type of
# each (the generator writes all of it, and a test checks that it does).
NUMBER, TEXT, OBJECT, ARRAY, BOOLEAN = "a number", "a string", "an object", "an array", "true or false"
SECTIONS = {"assignment": OBJECT, "settings": OBJECT, "modules": ARRAY, "interface": OBJECT, "functions": ARRAY,
            "mistakes": OBJECT, "tags": OBJECT, "files": OBJECT, "cases": ARRAY}
ASSIGNMENT = {"title": TEXT, "tie_rule": TEXT}
SETTINGS = {"case_timeout": NUMBER, "import_timeout": NUMBER, "total_budget": NUMBER, "worker_memory_mb": NUMBER,
            "output_limit_kb": NUMBER, "tolerance_floor": NUMBER, "init_std_tolerance": NUMBER,
            "forbidden_imports": ARRAY, "on_forbidden": TEXT, "hidden_visibility": TEXT, "modified_inputs": TEXT}
FUNCTION = {"name": TEXT, "module": TEXT, "points": NUMBER, "number": TEXT}
MODULE = {"name": TEXT, "file": TEXT, "imports": OBJECT}
_PYTHON = {NUMBER: (int, float), TEXT: str, OBJECT: dict, ARRAY: list, BOOLEAN: bool}
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


class CaseError(UserError):
    """The test cases are missing, corrupt or out of date."""


@dataclass(frozen=True)
class Case:
    id: str
    function: str
    label: str
    description: str
    tags: Tuple[str, ...]
    visibility: str                 # "public" or "hidden"
    points: float
    outputs: Dict[str, float]       # graded output -> points
    tolerance: float
    file: str
    call: dict
    mistakes: Tuple[str, ...]
    number: str
    values: dict = field(default_factory=dict)     # the case's values that are not arrays, by name
    windows: dict = field(default_factory=dict)    # pooling geometry: {input, size, stride, padding, ties}
    mutable: Tuple[str, ...] = ()                  # inputs the function may change in place (they are graded)
    edge: bool = False                             # inputs beyond what the assignment's other functions pass

    @property
    def hidden(self):
        return self.visibility == "hidden"


@dataclass
class CaseData:
    inputs: Mapping       # name -> ndarray
    expected: Mapping     # output -> ndarray
    mistakes: Mapping     # mistake slug -> output -> ndarray
    raw_inputs: Optional[dict] = None   # name -> .npy bytes, as stored: sent to the worker as they are

    def wire_inputs(self):
        return self.raw_inputs if self.raw_inputs is not None else self.inputs


class LazyArrays(Mapping):
    """Arrays kept as their .npy bytes and parsed the first time they are used.

    The bytes are read before any student code runs; only the parsing waits, so
    a case whose inputs are never shown costs nothing to parse.
    """

    def __init__(self, raw):
        self._raw = raw
        self._parsed = {}

    def __getitem__(self, name):
        if name not in self._parsed:
            from .worker import load_npy
            array = load_npy(self._raw[name])
            array.flags.writeable = False  # shared by every grade that uses the case
            self._parsed[name] = array
        return self._parsed[name]

    def __iter__(self):
        return iter(self._raw)

    def __len__(self):
        return len(self._raw)


@dataclass(frozen=True)
class Manifest:
    root: Path
    raw: dict
    cases: Tuple[Case, ...]
    verified: dict = field(default_factory=dict, repr=False)  # {file: the bytes whose hash was checked}
    sha256: str = ""  # of manifest.json's bytes, as read
    parsed: dict = field(default_factory=dict, repr=False, compare=False)  # {case id: CaseData}: see load()

    @property
    def title(self):
        return self.raw["assignment"]["title"]

    @property
    def tie_rule(self):
        return self.raw["assignment"]["tie_rule"]

    @property
    def settings(self):
        return self.raw["settings"]

    @property
    def functions(self):
        """[{name, module, points, number, outputs, check}] in declaration order."""
        return self.raw["functions"]

    @property
    def modules(self):
        """[{name, file, imports}]: the student files, with what each imports from the others."""
        return self.raw["modules"]

    def function(self, name):
        return next(f for f in self.functions if f["name"] == name)

    @property
    def interface(self):
        return self.raw["interface"]

    @property
    def tags(self):
        """{tag: what the cases with it have that the others do not ("regularization (reg > 0)")}."""
        return self.raw["tags"]

    def mistake(self, function, slug):
        return self.raw["mistakes"][f"{function}/{slug}"]

    def load(self, case):
        """The case's arrays, read-only. Those of a checked file are parsed once and kept,
        for every later grade in this process (a batch's grading processes grade many)."""
        if case.file not in self.verified:
            return load_case_data(io.BytesIO(self.case_bytes(case)))
        if case.id not in self.parsed:
            self.parsed[case.id] = load_case_data(io.BytesIO(self.verified[case.file]))
        return self.parsed[case.id]

    @property
    def checked(self):
        """Whether every case's bytes were read, and their hashes checked, by load_manifest."""
        return all(case.file in self.verified for case in self.cases)

    def case_bytes(self, case):
        """The bytes of the case's file: those whose hash load_manifest checked, if it did."""
        if case.file in self.verified:
            return self.verified[case.file]
        return (self.root / case.file).read_bytes()


def load_manifest(root="test_cases", verify=True):
    """Read the manifest under `root` and, by default, check every file's hash."""
    root = Path(root)
    path = root / MANIFEST
    try:
        data = path.read_bytes()
        raw = json.loads(data.decode("utf-8"))
    except FileNotFoundError:
        raise CaseError(f"{path}: no such file. Generate the test cases with "
                        f"`python -m grader generate`.") from None
    except OSError as exc:
        raise CaseError(f"{path}: cannot read it ({exc.strerror or exc}).") from None
    except ValueError as exc:
        raise CaseError(f"{path}: not valid JSON ({exc}); regenerate it with "
                        f"`python -m grader generate`.") from None
    if not isinstance(raw, dict) or raw.get("format") != FORMAT:
        found = raw.get("format") if isinstance(raw, dict) else None
        raise CaseError(f"{path}: format {found!r}, but this grader reads format {FORMAT}; "
                        f"regenerate the cases with `python -m grader generate`.")
    try:
        cases = _structure(raw)
    except ValueError as exc:
        raise CaseError(f"{path}: not a manifest this grader can read ({exc}); regenerate it with "
                        f"`python -m grader generate`.") from None
    verified = {}
    if verify:
        for name, digest in raw["files"].items():
            file = root / name
            if not file.is_file():
                raise CaseError(f"{file}: listed in the manifest" + (", but not a file." if file.exists()
                                                                     else " but missing."))
            try:
                verified[name] = file.read_bytes()  # graded from these bytes: no second read to race
            except OSError as exc:
                raise CaseError(f"{file}: cannot read it ({exc.strerror or exc}).") from None
            if hashlib.sha256(verified[name]).hexdigest() != digest:
                raise CaseError(f"{file}: its SHA-256 differs from the manifest's; the file was changed "
                                f"by hand or is corrupt. Regenerate with `python -m grader generate`.")
    return Manifest(root, raw, cases, verified, hashlib.sha256(data).hexdigest())


def _structure(raw):
    """The manifest's cases, once its sections hold what the grader reads; raises ValueError
    naming the first thing that does not, by its place in the JSON (settings.case_timeout)."""
    _expect_fields(raw, SECTIONS, "")
    _expect_fields(raw["assignment"], ASSIGNMENT, "assignment")
    _expect_fields(raw["settings"], SETTINGS, "settings")
    modules = set()
    for index, module in enumerate(raw["modules"]):
        _expect_fields(module, MODULE, f"modules[{index}]")
        modules.add(module["name"])
    for index, function in enumerate(raw["functions"]):
        _expect_fields(function, FUNCTION, f"functions[{index}]")
        if function["module"] not in raw["interface"]:
            raise ValueError(f"interface.{function['module']} is missing")
        if function["module"] not in modules:
            raise ValueError(f"modules has no entry for {function['module']}")
        _expect(raw["interface"][function["module"]], OBJECT, f"interface.{function['module']}")
    for key, mistake in raw["mistakes"].items():
        _expect(mistake, OBJECT, f"mistakes.{key}")
    cases = []
    for index, entry in enumerate(raw["cases"]):
        name = f"cases[{index}]"
        _expect_fields(entry, CASE_REQUIRED, name)
        for key, value in entry.items():
            if key not in CASE_FIELDS:
                raise ValueError(f"{name}.{key} is not a field of a case")
            _expect(value, CASE_FIELDS[key], f"{name}.{key}")
        cases.append(Case(tags=tuple(entry["tags"]), mistakes=tuple(entry["mistakes"]),
                          mutable=tuple(entry.get("mutable", ())), **{
                              k: v for k, v in entry.items() if k not in ("tags", "mistakes", "mutable")}))
    return tuple(cases)


def _expect_fields(value, expected, name):
    _expect(value, OBJECT, name or "the manifest")
    prefix = f"{name}." if name else ""
    for key, kind in expected.items():
        if key not in value:
            raise ValueError(f"{prefix}{key} is missing")
        _expect(value[key], kind, prefix + key)


def _expect(value, kind, name):
    if not isinstance(value, _PYTHON[kind]) or (isinstance(value, bool) and kind != BOOLEAN):
        raise ValueError(f"{name} is not {kind}")


def _json_kind(annotation):
    origin = getattr(annotation, "__origin__", None) or annotation
    return {str: TEXT, float: NUMBER, tuple: ARRAY, dict: OBJECT, bool: BOOLEAN}[origin]


CASE_FIELDS = {f.name: _json_kind(f.type) for f in fields(Case)}  # name -> JSON type
CASE_REQUIRED = {f.name: CASE_FIELDS[f.name] for f in fields(Case)
                 if f.default is MISSING and f.default_factory is MISSING}


def load_case_data(source):
    """A case's arrays from its .npz file (a path, or its bytes in a BytesIO), parsed lazily."""
    raw = source.getvalue() if isinstance(source, io.BytesIO) else Path(source).read_bytes()
    members = {"input": {}, "expected": {}, "mistake": {}}
    for filename, data in _stored_members(raw) or _zip_members(raw):
        kind, _, rest = filename[:-len(".npy")].partition(":")
        if kind in members and filename.endswith(".npy"):
            members[kind][rest] = data
    mistakes = {}
    for key, data in members["mistake"].items():
        slug, _, output = key.partition(":")
        mistakes.setdefault(slug, {})[output] = data
    return CaseData(LazyArrays(members["input"]), LazyArrays(members["expected"]),
                    {slug: LazyArrays(outputs) for slug, outputs in mistakes.items()},
                    raw_inputs=members["input"])


def _zip_members(raw):
    with zipfile.ZipFile(io.BytesIO(raw)) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


_END = struct.Struct("<IHHHHIIH")                # end of central directory, with no comment
_ENTRY = struct.Struct("<IHHHHHHIIIHHHHHII")     # central directory entry
_LOCAL = struct.Struct("<IHHHHHIIIHH")           # local file header


def _stored_members(raw):
    """[(name, bytes)] of an archive laid out as the generator writes it, or None.

    The generator stores members uncompressed and adds no comment, and the
    manifest's hash has vouched for every byte. Reading such an archive directly
    costs a tenth of zipfile's reader; any other layout returns None, for zipfile.
    """
    if len(raw) < _END.size:
        return None
    signature, _, _, _, count, size, offset, comment = _END.unpack_from(raw, len(raw) - _END.size)
    if signature != 0x06054B50 or comment or offset + size != len(raw) - _END.size:
        return None
    members, position = [], offset
    for _ in range(count):
        if position + _ENTRY.size > len(raw):
            return None
        (signature, _, _, flags, method, _, _, _, packed, unpacked, name_length, extra_length,
         comment_length, _, _, _, local) = _ENTRY.unpack_from(raw, position)
        if signature != 0x02014B50 or method != zipfile.ZIP_STORED or flags & 1 or packed != unpacked \
                or local + _LOCAL.size > offset:
            return None
        name = raw[position + _ENTRY.size:position + _ENTRY.size + name_length]
        position += _ENTRY.size + name_length + extra_length + comment_length
        header = _LOCAL.unpack_from(raw, local)
        start = local + _LOCAL.size + header[-2] + header[-1]
        if header[0] != 0x04034B50 or start + unpacked > offset:
            return None
        members.append((name.decode("utf-8" if flags & 0x800 else "cp437"), raw[start:start + unpacked]))
    return members if position == offset + size else None


def case_arrays(data):
    """The arrays of a case as stored: input:x, expected:dx, mistake:slug:dx."""
    arrays = {f"input:{k}": v for k, v in data.inputs.items()}
    arrays.update({f"expected:{k}": v for k, v in data.expected.items()})
    for slug, outputs in data.mistakes.items():
        arrays.update({f"mistake:{slug}:{k}": v for k, v in outputs.items()})
    return arrays


def npz_bytes(arrays):
    """An .npz archive whose bytes depend only on the arrays: sorted, stored, fixed dates."""
    import numpy as np
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name in sorted(arrays):
            payload = io.BytesIO()
            array = np.asarray(arrays[name])
            if not array.flags.c_contiguous:  # (np.ascontiguousarray would make 0-d arrays 1-d)
                array = array.copy(order="C")
            np.lib.format.write_array(payload, array, allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=_ZIP_EPOCH)
            info.external_attr = 0o644 << 16
            archive.writestr(info, payload.getvalue())
    return buffer.getvalue()


def manifest_bytes(raw):
    return (json.dumps(raw, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def sha256_file(path):
    """The file's SHA-256, read in pieces: a class's export may be gigabytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for piece in iter(lambda: handle.read(1 << 20), b""):
            digest.update(piece)
    return digest.hexdigest()


def file_stem(case_id):
    """'Net.__init__/two-hidden-layers' -> 'Net.init--two-hidden-layers'."""
    return case_id.replace("__init__", "init").replace("/", "--")
