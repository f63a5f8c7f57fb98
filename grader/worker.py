"""The worker: the only grader code that runs in the student's process.

It imports the submission's modules, then answers call requests: it rebuilds the
case's inputs as fresh arrays, calls the student's function, and sends back the
named outputs as raw .npy bytes. It never sees an expected value.

This file is standalone (standard library and NumPy only). The parent starts it
with `python -I -S -c <this file's source>`, so an unprivileged worker needs no
access to the grader's directory; a student's own run (local.py) starts it as
`python -I -S worker.py --local`, on any system, with the messages on stdin and stdout. The parent also imports it, for the message
framing and for the call conventions that the test-case generator shares.

Messages on both pipes: a 4-byte big-endian header length, a JSON header, then the
.npy bytes of every array the header lists in "blobs", back to back.
"""
import io
import json
import math
import os
import re
import struct
import sys
import time
import traceback

MAX_HEADER = 1 << 20
# The worker's BLAS libraries run one thread, as on Gradescope's half a CPU (read when NumPy loads).
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
OUTPUT_FILE_LIMIT = 8 << 20   # bytes a worker may write to its output file, per call
MAX_TEXT = 2000
# The header NumPy writes for a plain numeric array (format 1.0), and nothing else.
_SIZE = r"(?:0|[1-9][0-9]{0,11})"
NPY_HEADER = re.compile(r"\{'descr': '([<>|=]?[biufc][0-9]{1,2})', 'fortran_order': (True|False), "
                        rf"'shape': \((|{_SIZE},|{_SIZE}(?:, {_SIZE}){{1,31}})\), \}} *\n")


# Framing -----------------------------------------------------------------------

class ProtocolError(Exception):
    """A message on a grader pipe is malformed, too large or incomplete."""


def encode_message(header, arrays=()):
    """Frame a header and a list of (name, ndarray or .npy bytes) pairs."""
    blobs, payloads = [], []
    for name, array in arrays:
        payload = array if isinstance(array, bytes) else npy_bytes(array)  # bytes: .npy from a case file
        blobs.append({"name": name, "nbytes": len(payload)})
        payloads.append(payload)
    body = json.dumps(dict(header, blobs=blobs)).encode("utf-8")
    return struct.pack(">I", len(body)) + body + b"".join(payloads)


def write_all(fd, data, deadline=None):
    """Write all of data to fd, blocking or not. Raises TimeoutError at the deadline
    if the reader stops taking it (a worker that stopped reading its requests)."""
    import select
    view = memoryview(data)
    while view:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([], [fd], [], wait)[1]:
                raise TimeoutError
        try:
            written = os.write(fd, view)
        except BlockingIOError:
            if deadline is None:
                select.select([], [fd], [])
            continue
        view = view[written:]


def read_exact(fd, n, deadline=None):
    """Read n bytes from fd; None on end of file. Raises TimeoutError at the deadline."""
    import select
    chunks, remaining = [], n
    while remaining:
        if deadline is not None:  # (bytes that arrived by the deadline are read after it too)
            wait = max(0.0, deadline - time.monotonic())
            if not select.select([fd], [], [], wait)[0]:
                raise TimeoutError
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def wait_readable(fd, milliseconds):
    """Whether fd has something to read, or has ended, within the time (None: without end).
    With poll(), not select(): a busy grader may hold descriptors past 1024."""
    import select
    waiting = select.poll()
    waiting.register(fd, select.POLLIN)
    return bool(waiting.poll(milliseconds))


def read_message(fd, deadline=None, max_bytes=64 << 20):
    """Read one message: (header, {name: ndarray}), or None at end of file.

    Arrays are parsed with allow_pickle=False: no object of the sender's making
    is ever rebuilt here, only plain arrays of plain dtypes.
    """
    import numpy as np
    prefix = read_exact(fd, 4, deadline)
    if prefix is None:
        return None
    (length,) = struct.unpack(">I", prefix)
    if length > MAX_HEADER:
        raise ProtocolError(f"header of {length} bytes")
    body = read_exact(fd, length, deadline)
    if body is None:
        raise ProtocolError("message cut off in its header")
    try:
        header = json.loads(body.decode("utf-8"))
        blobs = header["blobs"]
        sizes = [int(blob["nbytes"]) for blob in blobs]
        names = [str(blob["name"]) for blob in blobs]
    except (ValueError, KeyError, TypeError, RecursionError, OverflowError) as exc:
        raise ProtocolError(f"unreadable header: {exc}") from None
    if not isinstance(header, dict) or any(size < 0 for size in sizes):
        raise ProtocolError("malformed header")
    if sum(sizes) > max_bytes:
        raise ProtocolError(f"{sum(sizes)} bytes of arrays, more than the {max_bytes} allowed")
    arrays = {}
    for name, size in zip(names, sizes):
        payload = read_exact(fd, size, deadline)
        if payload is None:
            raise ProtocolError("message cut off in its arrays")
        try:
            arrays[name] = load_npy(payload)
        except Exception as exc:  # any malformed .npy: the sender is not trusted
            raise ProtocolError(f"array {name!r} is not a plain .npy array: {exc}") from None
    return header, arrays


def npy_bytes(array):
    """The .npy bytes (format 1.0) of an array, as NumPy's reader and load_npy read them.

    A plain numeric array's header is written here directly: np.save formats it through
    its general writer, which costs more than a small array's data. Other arrays go to
    np.save, with allow_pickle=False.
    """
    if array.dtype.kind in "biufc" and array.ndim <= 32:
        fortran = array.flags.f_contiguous and not array.flags.c_contiguous
        header = f"{{'descr': '{array.dtype.str}', 'fortran_order': {fortran}, 'shape': {array.shape!r}, }}"
        header += " " * (63 - (10 + len(header)) % 64) + "\n"  # the data starts 64-byte aligned
        return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode("latin-1") \
            + array.tobytes("F" if fortran else "C")
    import numpy as np
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def load_npy(payload):
    """A plain array from .npy bytes, never unpickling anything.

    The header NumPy writes for a numeric array is read here directly: NumPy's own
    reader evaluates every header as a Python literal, which costs more than the
    rest of a small array's round trip. Any other header goes to NumPy's reader,
    with allow_pickle=False.
    """
    import numpy as np
    if payload[:8] == b"\x93NUMPY\x01\x00" and len(payload) >= 10:
        start = 10 + struct.unpack("<H", payload[8:10])[0]
        match = NPY_HEADER.fullmatch(payload[10:start].decode("latin-1"))
        try:
            dtype = np.dtype(match[1]) if match else None
        except TypeError:  # a kind and size that make no type, such as 'i3': NumPy's reader says so
            dtype = None
        if dtype is not None:
            shape = tuple(int(n) for n in match[3].split(",") if n)
            count = math.prod(shape)
            if len(payload) - start == count * dtype.itemsize:
                flat = np.frombuffer(payload, dtype, count, start)
                return flat.reshape(shape, order="F" if match[2] == "True" else "C").copy(order="K")
    return np.load(io.BytesIO(payload), allow_pickle=False)


# Calls -------------------------------------------------------------------------

def materialize(tree, arrays, fresh, modules=None):
    """Build call arguments from a tree of references.

    {"a": name} is a fresh copy of an input array (recorded in `fresh` so that
    in-place changes can be detected), {"v": value} a JSON value, {"t": [...]} a
    tuple, {"l": [...]} a list, {"d": {...}} a dict, {"dtype": "float32"} a NumPy
    dtype, and {"call": call, "take": i} item i of what another of the student's
    functions returns for its own arguments (a cache made by their forward pass);
    a bare list is a list of arguments.
    """
    import numpy as np
    if isinstance(tree, list):
        return [materialize(item, arrays, fresh, modules) for item in tree]
    if "a" in tree:
        array = np.array(arrays[tree["a"]], copy=True, subok=True)
        fresh.append((tree["a"], array, array.tobytes()))
        return array
    if "v" in tree:
        return json.loads(json.dumps(tree["v"]))  # a private copy of dicts and lists
    if "t" in tree:
        return tuple(materialize(item, arrays, fresh, modules) for item in tree["t"])
    if "l" in tree:
        return [materialize(item, arrays, fresh, modules) for item in tree["l"]]
    if "d" in tree:
        return {key: materialize(item, arrays, fresh, modules) for key, item in tree["d"].items()}
    if "dtype" in tree:
        return np.dtype(tree["dtype"])
    if "call" in tree:
        try:
            value, _, _, _ = _invoke(tree["call"], arrays, fresh, modules)
        except Exception as exc:
            raise EarlierCallError(tree.get("function", "?"), exc) from exc
        if not isinstance(value, (tuple, list)) or len(value) <= tree["take"]:
            raise ReturnShapeError(f"{tree.get('function', '?')} must return a tuple whose item "
                                   f"{tree['take']} is the cache; got {_short_repr(value)[:80]}")
        return value[tree["take"]]
    raise ValueError(f"unknown argument {tree!r}")


class ReturnShapeError(Exception):
    """The function returned a structure other than the interface's."""


class EarlierCallError(Exception):
    """Another of the student's functions, called to make this call's arguments, raised."""

    def __init__(self, function, error):
        super().__init__(f"{function} raised {type(error).__name__}")
        self.function, self.error = function, error


def select_outputs(selector, value, where="the return value"):
    """Map a return value to [(output name, value)] following the selector."""
    if selector is None:
        return []
    if isinstance(selector, str):
        return [(selector, value)]
    if isinstance(selector, dict):
        prefix = selector["dict"]
        if not isinstance(value, dict):
            raise ReturnShapeError(f"{where} must be a dict of arrays; got {type(value).__name__}")
        return [(f"{prefix}.{key}", value[key]) for key in sorted(value, key=str)]
    if not isinstance(value, (tuple, list)) or len(value) != len(selector):
        names = ", ".join(s if isinstance(s, str) else "cache" if s is None else "..." for s in selector)
        got = (f"a {type(value).__name__} of length {len(value)}" if isinstance(value, (tuple, list))
               else type(value).__name__)
        raise ReturnShapeError(f"{where} must be a tuple ({names}); got {got}")
    pairs = []
    for item_selector, item in zip(selector, value):
        pairs += select_outputs(item_selector, item, where)
    return pairs


def perform(call, arrays, modules, fresh):
    """Run one call against `modules` ({student module name: module}); returns [(name, value)].

    The call names a module-level function, or a class to construct, attributes to set
    on the object and the method to call ("__init__": none); what is graded is picked
    out of the return value by call["returns"] and, by call["after"], out of the
    arguments or the object once the call has returned.
    """
    value, args, kwargs, target = _invoke(call, arrays, fresh, modules)
    label = f"{call['class']}.{call['method']}" if call.get("class") else call["function"]
    pairs = select_outputs(call.get("returns"), value, f"{label}'s return value")
    for name, source in (call.get("after") or {}).items():
        found = _follow(source["path"], args, kwargs, target, source.get("text", name), label)
        pairs += select_outputs({"dict": name} if isinstance(found, dict) else name, found, source.get("text", name))
    return pairs


def _invoke(call, arrays, fresh, modules):
    """Make the call: (its return value, args, kwargs, the object it was made on or None)."""
    import numpy as np
    module = modules[call["module"]]
    if call.get("seed") is not None:
        np.random.seed(call["seed"])
    target = None
    if call.get("class"):
        init = call.get("init") or {}
        cls = getattr(module, call["class"])
        target = cls(*materialize(init.get("args", []), arrays, fresh, modules),
                     **{k: materialize(v, arrays, fresh, modules) for k, v in init.get("kwargs", {}).items()})
        for attribute, tree in (call.get("attributes") or {}).items():
            value = materialize(tree, arrays, fresh, modules)
            current = getattr(target, attribute, None)
            if isinstance(value, dict) and isinstance(current, dict):
                current.update(value)  # entry by entry, into the dict the object made for itself
            else:
                setattr(target, attribute, value)
        function = None if call["method"] == "__init__" else getattr(target, call["method"])
    else:
        function = getattr(module, call["function"])
    args = materialize(call.get("args", []), arrays, fresh, modules)
    kwargs = {key: materialize(value, arrays, fresh, modules) for key, value in call.get("kwargs", {}).items()}
    value = function(*args, **kwargs) if function is not None else None
    return value, args, kwargs, target


def _follow(path, args, kwargs, target, text, label):
    """The value an `after` path names once the call has returned: an argument, or the object,
    then keys, indexes and attributes."""
    first, steps = path[0], path[1:]
    value = target if "self" in first else args[first["arg"]] if "arg" in first else kwargs[first["kwarg"]]
    for step in steps:
        try:
            if "attr" in step:
                value = getattr(value, step["attr"])
            else:
                value = value[step["key"] if "key" in step else step["index"]]
        except (AttributeError, KeyError, IndexError, TypeError):
            missing = step.get("attr", step.get("key", step.get("index")))
            raise ReturnShapeError(f"after {label}, {text} cannot be read: there is no {missing!r}") from None
    return value


def describe_output(name, value):
    """(metadata, ndarray or None) for one returned value, keeping only plain data."""
    import numpy as np
    meta = {"name": name, "type": type(value).__module__ + "." + type(value).__qualname__}
    if isinstance(value, np.ndarray):
        meta["kind"] = "ndarray"
        meta["subclass"] = type(value) is not np.ndarray
        data = np.ndarray.__array__(value) if meta["subclass"] else value
    elif isinstance(value, (bool, int, float, np.number, np.bool_)):
        meta["kind"] = "scalar"
        data = value
    elif value is None:
        meta["kind"] = "none"
        return meta, None
    else:
        meta["kind"] = "other"
        meta["repr"] = _short_repr(value)
        return meta, None
    array = np.array(data, copy=True, subok=False)
    if array.dtype.hasobject or array.dtype.kind not in "biufc":
        meta["kind"] = "other"
        meta["repr"] = f"an array of dtype {array.dtype}"
        return meta, None
    return meta, array


def _short_repr(value):
    try:
        text = repr(value)
    except Exception:
        text = f"<unprintable {type(value).__name__}>"
    return text[:200]


def exception_report(exc, roots):
    """Type, message and the traceback frames that lie in the submission's files."""
    frames = []
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.startswith("<"):  # the worker itself runs as "<string>"
            continue
        path = os.path.abspath(frame.filename)
        if any(path.startswith(root + os.sep) for root in roots):
            frames.append([os.path.basename(path), frame.lineno, frame.name, (frame.line or "")[:300]])
    try:
        message = str(exc)
    except Exception:
        message = "<exception message could not be printed>"
    return {"type": type(exc).__name__, "message": message[:MAX_TEXT], "frames": frames[-20:]}


# The worker's main loop ------------------------------------------------------------

def _flush():
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:
            pass


def _import_module(name, directory):
    import importlib
    started = time.monotonic()
    try:
        module = importlib.import_module(name)
        status = {"module": name, "ok": True}
    except BaseException as exc:  # SystemExit and KeyboardInterrupt at import count too
        module = None
        status = {"module": name, "ok": False, "error": exception_report(exc, [directory])}
    status["seconds"] = time.monotonic() - started
    _flush()
    return module, status


def serve(read_fd, write_fd, directory, module_names, finder=None):
    """Import the submission, then answer calls until the parent closes the pipe.
    finder: the SubmissionFinder of the import request, whose recorded code goes with "ready"."""
    sys.path.insert(0, directory)
    modules = {}
    for name in module_names:
        module, status = _import_module(name, directory)
        modules[name] = module
        write_all(write_fd, encode_message({"type": "import", **status}))
    try:  # (the student's code ran meanwhile, and may have changed what the finder holds)
        compiled, arrays = finder.ready_message() if finder is not None else ({}, [])
    except Exception:
        compiled, arrays = {}, []
    write_all(write_fd, encode_message({"type": "ready", "dropped": _take_dropped(), **compiled}, arrays))
    while True:
        message = read_message(read_fd)
        if message is None:
            return
        header, arrays = message
        fresh = []
        reply = {"type": "result", "id": header["id"], "warnings": []}
        outputs = []
        started = time.monotonic()
        try:
            pairs = perform(header["call"], arrays, modules, fresh)
            reply["status"] = "ok"
            reply["outputs"] = []
            for name, value in pairs:
                meta, array = describe_output(name, value)
                if array is not None:
                    outputs.append((name, array))
                reply["outputs"].append(meta)
        except ReturnShapeError as exc:
            reply["status"] = "bad-return"
            reply["error"] = {"type": "ReturnShapeError", "message": str(exc), "frames": []}
        except EarlierCallError as exc:
            reply["status"] = "error"
            reply["error"] = dict(exception_report(exc.error, [directory]), during=exc.function)
        except BaseException as exc:  # the student's exception, exit or interrupt
            reply["status"] = "error"
            reply["error"] = exception_report(exc, [directory])
        reply["seconds"] = time.monotonic() - started
        reply["modified"] = sorted({name for name, array, before in fresh if array.tobytes() != before})
        _flush()
        reply["dropped"] = _take_dropped()
        write_all(write_fd, encode_message(reply, outputs))


# At most this much compiled code is sent back with "ready" (the grader keeps no more).
MAX_RECORDED_CODE = 4 << 20


def _submission_finder(message):
    """The finder for the submission's modules that the import request asks for (see
    SubmissionFinder), placed just before the path finder; None if it asks for none."""
    header, arrays = message
    compiled, record = {}, set()
    magic = _magic()
    entries = header.get("compiled")
    for name, entry in (entries.items() if isinstance(entries, dict) and magic else ()):
        try:
            if isinstance(entry, dict) and bytes.fromhex(str(entry["magic"])) == magic:
                compiled[str(name)] = (str(entry["path"]), arrays[f"{name}.source"].tobytes(),
                                       arrays[f"{name}.code"].tobytes())
        except (KeyError, TypeError, ValueError, AttributeError):
            continue
    if header.get("record") is True and magic:
        record = {str(name) for name in header.get("modules", []) if str(name) not in compiled}
    if not compiled and not record:
        return None
    from importlib.machinery import PathFinder
    finder = SubmissionFinder(compiled, record)
    at = sys.meta_path.index(PathFinder) if PathFinder in sys.meta_path else len(sys.meta_path)
    sys.meta_path.insert(at, finder)
    return finder


def _magic():
    """This Python's bytecode version, or b"" where it cannot be told."""
    try:
        from importlib._bootstrap_external import MAGIC_NUMBER
        return bytes(MAGIC_NUMBER)
    except (ImportError, AttributeError, TypeError):
        return b""


class SubmissionFinder:
    """The submission's modules, found as the path finder finds them, with a loader that
    either records the code it compiles (the first worker of a submission, which sends it
    back with "ready"), or runs the code an earlier worker recorded, when the file still
    holds the bytes it was compiled from (a later worker: the hidden cases'), instead of
    compiling the same file again. The spec, the module's attributes and its tracebacks are a
    plain import's. Anything else (another name, a package, or a file elsewhere that the path
    finder found first) is left to the finders after it."""

    def __init__(self, compiled, record):
        self.compiled = compiled   # module -> (path, source bytes, marshalled code)
        self.record = record       # modules whose code to record
        self.recorded = {}         # module -> (path, marshalled code)

    def find_spec(self, fullname, path=None, target=None):
        if path is not None or (fullname not in self.compiled and fullname not in self.record):
            return None
        from importlib.machinery import PathFinder, SourceFileLoader
        spec = PathFinder.find_spec(fullname, None, target)
        if spec is None or type(spec.loader) is not SourceFileLoader:
            return None
        entry = self.compiled.get(fullname)
        if entry is not None and os.path.basename(spec.origin) == os.path.basename(entry[0]):
            spec.loader = _compiled_loader()(fullname, spec.origin, entry[1], entry[2], None, entry[0])
        elif fullname in self.record:
            spec.loader = _compiled_loader()(fullname, spec.origin, None, None, self.recorded, None)
        else:
            return None
        return spec

    def ready_message(self):
        """The recorded code, for the "ready" message: (header entries, arrays)."""
        import numpy as np
        compiled, arrays, total = {}, [], 0
        magic = _magic().hex()
        for name, (path, code) in self.recorded.items():
            total += len(code)
            if total > MAX_RECORDED_CODE:
                break
            compiled[name] = {"path": path, "magic": magic}
            arrays.append((f"{name}.code", np.frombuffer(code, dtype=np.uint8)))
        return ({"compiled": compiled} if compiled else {}), arrays


def _moved(code, path):
    """The code, and every function's in it, naming `path` as its file (the code was compiled
    from the same bytes in another folder: the first worker's, where the next has its own)."""
    consts = tuple(_moved(item, path) if isinstance(item, type(code)) else item for item in code.co_consts)
    return code.replace(co_filename=path, co_consts=consts)


_loader_class = []


def _compiled_loader():
    """SubmissionFinder's loader class, made on first use: a worker imports importlib.machinery
    only if it needs it."""
    if not _loader_class:
        from importlib.machinery import SourceFileLoader

        class SubmissionLoader(SourceFileLoader):
            """A source file's loader that runs the given code as long as the file holds the
            bytes it was compiled from, else compiles the file; and records what it compiled."""

            def __init__(self, fullname, path, source, code, recorded, compiled_at):
                super().__init__(fullname, path)
                self._source, self._code, self._recorded = source, code, recorded
                self._compiled_at = compiled_at   # the path the code names as its file

            def get_code(self, fullname):
                import marshal
                if fullname == self.name and self._source is not None and self.get_data(self.path) == self._source:
                    code = marshal.loads(self._code)
                    return code if self._compiled_at == self.path else _moved(code, self.path)
                code = super().get_code(fullname)
                if self._recorded is not None and fullname == self.name:
                    try:
                        self._recorded[fullname] = (self.path, marshal.dumps(code))
                    except ValueError:  # nested too deeply to marshal: the next worker compiles it
                        pass
                return code
        _loader_class.append(SubmissionLoader)
    return _loader_class[0]


class ImportBlocker:
    """Refuses the assignment's forbidden packages, however the import is spelled."""

    def __init__(self, names):
        self.names = set(names)

    def find_spec(self, fullname, path=None, target=None):
        if fullname.partition(".")[0] in self.names:
            raise ModuleNotFoundError(f"{fullname} may not be used in this assignment: solve it "
                                      f"with NumPy alone", name=fullname)
        return None


# System calls no layer needs, through which a process could leave data or memory behind
# for a later one, beyond its own address space and past its end: the kernel's keyrings,
# System V shared memory, message queues and semaphores, POSIX message queues, and
# memory-backed files. No namespace covers keyrings, and shared memory escapes the
# address-space limit. By architecture, since the numbers differ.
_DENIED_SYSCALLS = {
    # arch (AUDIT_ARCH_*): add_key, request_key, keyctl; shmget, shmat, shmctl; semget, semop, semctl,
    # semtimedop; msgget, msgsnd, msgrcv, msgctl; mq_open ... mq_getsetattr; memfd_create
    "x86_64": (0xC000003E, (248, 249, 250, 29, 30, 31, 64, 65, 66, 220, 68, 69, 70, 71,
                            240, 241, 242, 243, 244, 245, 319)),
    "aarch64": (0xC00000B7, (217, 218, 219, 194, 196, 195, 190, 193, 191, 192, 186, 189, 188, 187,
                             180, 181, 182, 183, 184, 185, 279)),
}


def deny_syscalls():
    """Install a seccomp filter that fails the calls of _DENIED_SYSCALLS with EPERM, and every
    call made through another architecture's numbers (i386's int 0x80 on x86_64, x32). No
    process this one starts can remove it. Returns whether it was installed (Linux, and an
    architecture listed above); needs no_new_privs, set just before."""
    prepared = _seccomp_program()
    if prepared is None:
        return False
    libc, program = prepared
    return libc.prctl(22, 2, program, 0, 0) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


_seccomp, _libcs = [], []


def _libc():
    """The C library, through ctypes, opened once per process (in the zygote, for its children)."""
    if not _libcs:
        import ctypes
        _libcs.append(ctypes.CDLL(None, use_errno=True))
    return _libcs[0]


def _seccomp_program():
    """(libc, a reference to the filter program) for deny_syscalls, or None where there is no
    filter for this architecture. Built once per process: the zygote builds it before it
    forks, so that no worker pays for ctypes types and a dlopen of its own."""
    if _seccomp:
        return _seccomp[0]
    import ctypes
    arch = _DENIED_SYSCALLS.get(os.uname().machine)
    if arch is None:
        _seccomp.append(None)
        return None
    audit_arch, numbers = arch
    deny, allow = 0x00050000 | 1, 0x7FFF0000  # SECCOMP_RET_ERRNO | EPERM, SECCOMP_RET_ALLOW
    program = [(0x20, 0, 0, 4),                       # load the call's architecture
               (0x15, 1, 0, audit_arch),              # ours: skip the next
               (0x06, 0, 0, deny),
               (0x20, 0, 0, 0)]                       # load the call's number
    if audit_arch == 0xC000003E:
        program += [(0x35, 0, 1, 0x40000000), (0x06, 0, 0, deny)]  # x32's numbers
    for number in numbers:
        program += [(0x15, 0, 1, number), (0x06, 0, 0, deny)]
    program.append((0x06, 0, 0, allow))

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                    ("k", ctypes.c_uint32)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(program))(*[Filter(*instruction) for instruction in program])
    prog = Program(len(program), filters)
    prog._keep = filters   # (the array must live as long as the program that points into it)
    _seccomp.append((_libc(), ctypes.byref(prog)))
    return _seccomp[0]


def apply_limits(limits):
    """Lower this process's resource limits, soft and hard, where the platform has them.

    Also, on Linux, no_new_privs: no program this process or its children run gains
    rights from a set-user-ID bit, so a copy of Python that one sandbox user marked so
    runs as whoever starts it, never as that user.
    """
    import resource
    import signal
    if sys.platform.startswith("linux"):
        _libc().prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS
        deny_syscalls()
    for name, (soft, hard) in limits.items():
        kind = getattr(resource, name, None)
        if kind is None:
            continue  # macOS lacks some
        try:
            current = resource.getrlimit(kind)[1]
            if current != resource.RLIM_INFINITY:
                soft, hard = min(soft, current), min(hard, current)
            resource.setrlimit(kind, (soft, hard))
        except (ValueError, OSError):
            pass      # and refuses others
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the size limit fails instead


class CappedOutput(io.RawIOBase):
    """sys.stdout and sys.stderr's file: what does not fit under the output file's size
    limit is dropped and counted, never raised to the student's print(). Where no size
    limit holds the file (a local run), `room` counts down what this call may still write."""

    dropped = 0
    room = None

    def __init__(self, fd):
        super().__init__()
        self.fd = fd

    def writable(self):
        return True

    def fileno(self):
        return self.fd

    def write(self, data):
        view = memoryview(data).cast("B")
        if CappedOutput.room is not None:
            kept = min(len(view), CappedOutput.room)
            CappedOutput.dropped += len(view) - kept
            CappedOutput.room -= kept
            view = view[:kept]
        while view:
            try:
                written = os.write(self.fd, view)
            except InterruptedError:
                continue
            except OSError:  # EFBIG past the limit (SIGXFSZ is ignored), or anything else
                written = 0
            if written <= 0:
                CappedOutput.dropped += len(view)
                break
            view = view[written:]
        return len(data)


def _capped_streams():
    """Point sys.stdout and sys.stderr at the output file through CappedOutput (unbuffered, UTF-8)."""
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = io.TextIOWrapper(io.BufferedWriter(CappedOutput(fd)), encoding="utf-8",
                                  errors="backslashreplace", line_buffering=True, write_through=True)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)


def _take_dropped():
    """What the call that ended dropped; the next starts with the whole room again."""
    dropped, CappedOutput.dropped = CappedOutput.dropped, 0
    if CappedOutput.room is not None:
        CappedOutput.room = OUTPUT_FILE_LIMIT
    return dropped


def _add_site_packages():
    """Put the interpreter's package folders on sys.path, as site would, but faster.

    The worker starts with -S: processing every .pth file of a large environment can
    cost more than importing NumPy. A virtual environment (whose layout site works
    out from pyvenv.cfg), or a NumPy found only through a .pth file, gets site in full.
    """
    import importlib.util
    import site
    if not sys.flags.no_site:
        return
    home = os.path.dirname(sys.executable)
    if any(os.path.exists(os.path.join(folder, "pyvenv.cfg")) for folder in (home, os.path.dirname(home))):
        site.main()
        return
    for folder in site.getsitepackages():
        if os.path.isdir(folder) and folder not in sys.path:
            sys.path.append(folder)
    if importlib.util.find_spec("numpy") is None:
        site.main()
    for name in ("setquit", "setcopyright", "sethelper"):  # exit(), help(), license() as usual
        getattr(site, name, lambda: None)()


def main(argv):
    """argv: read fd, write fd, working folder, forbidden packages, resource limits (JSON).
    Or: --zygote, control socket fd (see zygote()).

    The worker starts before the parent has checked the submission, so that NumPy
    loads while the parent works. It imports nothing of the student's until the
    first message names the modules to import.
    """
    if argv[1:2] == ["--zygote"]:  # fd, sandbox uids, their gids
        zygote(int(argv[2]), *[[int(n) for n in arg.split(",") if n] for arg in argv[3:5]])
    if argv[1:2] == ["--local"]:  # working folder, forbidden packages
        local(argv[2], argv[3] if len(argv) > 3 else "")
    if os.getsid(0) != os.getpid():  # in namespaces, where bwrap's reaper leads the session
        os.setsid()
    os.environ.pop("PWD", None)  # (which bwrap sets: a worker's environment is the grader's alone)
    if len(argv) > 5:
        apply_limits(json.loads(argv[5]))  # first of all: before NumPy, before any student code
    read_fd, write_fd, directory, blocked = _arguments(argv)
    os.set_inheritable(read_fd, False)
    os.set_inheritable(write_fd, False)
    _add_site_packages()
    import numpy  # noqa: F401  (before the submission's folder is on sys.path: no shadowing)
    _work(read_fd, write_fd, directory, blocked)


def local(directory, blocked):
    """A student's own run (grader/local.py), on any system: no sandbox, no limits but time.

    Requests arrive on stdin and answers leave on a copy of stdout; the standard streams
    the student's code sees are the log the parent made stderr. So input() gets an empty
    stdin and print() never reaches the protocol. Portable calls only: os.dup and dup2 work
    on Windows too, where the copies are set to binary mode.
    """
    read_fd, write_fd = os.dup(0), os.dup(1)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)
    if sys.platform == "win32":
        import msvcrt
        for fd in (read_fd, write_fd):
            msvcrt.setmode(fd, os.O_BINARY)
    CappedOutput.room = OUTPUT_FILE_LIMIT  # (no file-size limit here: a print in a loop must not fill the disk)
    _add_site_packages()
    import numpy  # noqa: F401  (before the submission's folder is on sys.path: no shadowing)
    _work(read_fd, write_fd, os.path.abspath(directory), [name for name in blocked.split(",") if name])


def _arguments(argv):
    """(read fd, write fd, working folder, forbidden packages) from main()'s arguments."""
    blocked = [name for name in argv[4].split(",") if name] if len(argv) > 4 else []
    return int(argv[1]), int(argv[2]), os.path.abspath(argv[3]), blocked


def _work(read_fd, write_fd, directory, blocked):
    """The worker's life once NumPy is loaded: import what the parent names, answer calls, exit."""
    _capped_streams()
    if blocked:
        sys.meta_path.insert(0, ImportBlocker(blocked))
    message = read_message(read_fd)
    if message is None or message[0].get("type") != "import":
        os._exit(0)  # the parent found nothing to run
    module_names = [str(name) for name in message[0].get("modules", [])]
    serve(read_fd, write_fd, directory, module_names, _submission_finder(message))
    _flush()
    os._exit(0)  # skip the student's atexit hooks: nothing runs after the last answer


def writable_by(path, uids, gids):
    """True if a user with a uid in uids (and a gid in gids) could create or replace
    entries at `path`, or make it exist: it owns the path or a folder above it, or may
    write to one where no sticky bit holds it back."""
    import stat
    first = True
    while True:
        try:
            info = os.stat(path)
        except OSError:
            info = None
        if info is not None:
            mode = info.st_mode
            writable = mode & 0o002 or (mode & 0o020 and info.st_gid in gids)
            if info.st_uid in uids or (writable and (first or not mode & stat.S_ISVTX)):
                return True
            first = False
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent


# The zygote -------------------------------------------------------------------------

def zygote(control_fd, uids=(), gids=()):
    """Load NumPy once, then fork one fresh worker per request on the control socket.

    `batch` uses it: without it every submission pays for an interpreter start and
    a NumPy import, most of what grading a correct submission costs. The zygote runs
    as the grader's user and never runs student code. In root mode it is root, so
    before it imports NumPy it makes sure that no sandbox user (uids, gids) could
    write to its interpreter or any folder on its import path; if one could, it
    refuses, and workers start as usual.

    A request is a JSON header (the sandbox user, folder, environment, limits and
    forbidden packages) with three descriptors: the worker's request pipe, its
    answer pipe and its output log. The child gives up everything the zygote had
    before it reads a single byte of the student's: descriptors, session, user,
    groups, folder, environment and random state; then it sets the limits and lives
    as main() would have. The zygote reports each child's pid with a pidfd and,
    when the child ends, its exit status as Popen's returncode would give it; it
    reaps the child only when the parent asks (see _zygote_serve).
    """
    os.set_inheritable(control_fd, False)
    try:
        import site
        _refuse_writable([sys.executable] + sys.path + site.getsitepackages(), uids, gids)
        _add_site_packages()
        _refuse_writable(sys.path, uids, gids)  # and whatever .pth files added
        import numpy  # noqa: F401
        os.close(os.pidfd_open(os.getpid()))  # the parent relies on pidfds: refuse if there are none
    except BaseException as exc:
        reason = f"{type(exc).__name__}: {exc}"[:300]
        os.write(control_fd, json.dumps({"type": "refused", "reason": reason}).encode("utf-8"))
        os._exit(0)
    # A fresh worker has loaded just this much by now. What the zygote loads for its own
    # work is dropped from each child's module cache, so that a forbidden package among
    # it is refused there as it would be in a fresh worker.
    fresh = set(sys.modules)
    import ctypes  # noqa: F401  (used by the children; loaded once, here)
    _seccomp_program()  # (and the children's C library and seccomp filter, made once, here)
    import fcntl  # noqa: F401
    import resource  # noqa: F401
    import signal  # noqa: F401
    import select  # noqa: F401
    import socket
    control = socket.socket(fileno=control_fd)
    own = sorted(set(sys.modules) - fresh)
    send_control(control, {"type": "ready"})
    _zygote_serve(control, own)


def _zygote_serve(control, own):
    """The zygote's loop: fork on request, report exits, reap when the parent says so.

    A child that has ended is reported but left unreaped (a zombie) until the parent
    asks for it to be reaped, after it swept the child's tree: until then its pid
    and process group cannot be reused, so the parent's signals cannot hit anyone else.
    """
    import select
    waiting = select.poll()
    waiting.register(control, select.POLLIN)
    running = {}      # pidfd -> pid
    ended = set()     # pids that ended, were reported, and wait for the parent's "reap"
    released = set()  # pids the parent let go of before they ended: reaped unreported
    pending = set()   # pids whose pidfd fired but that cannot be waited for yet (being traced)
    try:
        while True:
            for fd, _ in waiting.poll(50 if pending else None):
                if fd != control.fileno():
                    waiting.unregister(fd)
                    os.close(fd)
                    pending.add(running.pop(fd))
                    continue
                request, fds = receive_control(control)
                if request is None:  # the grader is gone: so are its workers (in the finally)
                    return
                if request.get("type") == "reap":
                    pid = int(request["pid"])
                    if pid in ended:
                        ended.discard(pid)
                        os.waitpid(pid, 0)
                    else:
                        released.add(pid)
                    continue
                pid, pidfd, problem = _zygote_fork(request, fds, own)
                if pid is not None:
                    running[pidfd] = pid
                    waiting.register(pidfd, select.POLLIN)
                if problem is None:
                    send_control(control, {"type": "spawned", "pid": pid}, [pidfd])
                    continue
                if pid is not None:  # it never got to the student's code: the parent does not know it
                    _kill_pidfd(pidfd)
                    released.add(pid)
                send_control(control, {"type": "failed", "reason": problem})
            for pid in list(pending):
                info = os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                if info is None:
                    continue
                pending.discard(pid)
                if pid in released:
                    released.discard(pid)
                    os.waitpid(pid, 0)
                    continue
                ended.add(pid)
                code = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
                send_control(control, {"type": "exit", "pid": pid, "code": code})
    finally:  # however the loop ends: no worker outlives its zygote
        import signal
        for pidfd, pid in running.items():
            try:
                os.killpg(pid, signal.SIGKILL)  # (a running child is unreaped: its group is its own)
            except OSError:
                pass
            _kill_pidfd(pidfd)
        os._exit(0)


def _zygote_fork(request, fds, own):
    """Fork a worker for the request: (pid, pidfd, problem); problem is None once the
    child has set itself up, and says why not otherwise (pid is None if no fork)."""
    ready_r, ready_w = os.pipe()
    try:
        pid = os.fork()
    except OSError as exc:
        for fd in fds + [ready_r, ready_w]:
            os.close(fd)
        return None, None, f"fork: {exc}"[:300]
    if pid == 0:
        _become_worker(request, fds, ready_w, own)  # never returns
    for fd in fds + [ready_w]:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    said = os.read(ready_r, 2) if wait_readable(ready_r, 10_000) else b""
    os.close(ready_r)
    if said != b"ok":
        return pid, pidfd, "the forked worker could not set itself up"
    return pid, pidfd, None


def _refuse_writable(places, uids, gids):
    for place in places:
        if uids and place and writable_by(os.path.realpath(place), set(uids), set(gids)):
            raise PermissionError(f"a sandbox user could write to {place}, on the zygote's import path")


def send_control(control, header, fds=()):
    """Send one message on the zygote's control socket: a JSON header, with descriptors."""
    import socket
    socket.send_fds(control, [json.dumps(header).encode("utf-8")], list(fds))


def receive_control(control):
    """(header, [fds]) of the next message; (None, []) once the other side has closed."""
    import socket
    try:
        data, fds, _, _ = socket.recv_fds(control, 1 << 20, 8)
    except OSError:
        return None, []
    if not data:
        return None, fds
    return json.loads(data.decode("utf-8")), fds


def _kill_pidfd(pidfd):
    import signal
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except OSError:
        pass


def _private_temporary_folders(sizes):
    """In a child of a zygote that runs in namespaces (see grader/sandbox/kernel.py), still
    root: a mount namespace of its own, with a fresh tmpfs of the given size on each folder
    ({folder: bytes}), nosuid and nodev, so that nothing carries over from one worker to
    the next. bwrap made everything else read-only when the zygote started."""
    import ctypes
    libc = _libc()
    ms_nosuid, ms_nodev, ms_rec, ms_private = 2, 4, 1 << 14, 1 << 18
    if libc.unshare(0x00020000) != 0:  # CLONE_NEWNS
        raise OSError(ctypes.get_errno(), "unshare")
    if libc.mount(b"none", b"/", None, ms_rec | ms_private, None) != 0:
        raise OSError(ctypes.get_errno(), "mount --make-rprivate /")
    for folder, size in sizes.items():
        options = f"size={int(size)},mode=1777".encode()
        if libc.mount(b"tmpfs", folder.encode(), b"tmpfs", ms_nosuid | ms_nodev, options) != 0:
            raise OSError(ctypes.get_errno(), f"mount tmpfs on {folder}")


def _become_worker(request, fds, ready, own):
    """In a child of the zygote: turn into a worker as main() would start one, then work.

    own: the modules the zygote loaded for itself, which a fresh worker has not.

    Once everything is set up, and before any of the student's code is read, it
    writes "ok" to `ready`: a child that fails on the way exits without it, and the
    zygote says so instead of handing over a worker that would look like a crash.
    Signal handlers need no reset: the zygote keeps the ones Python starts with.
    """
    import fcntl
    try:
        # Descriptors first, at fixed places: 0-2 for the standard streams, 3 and 4 for
        # the pipes, 5 for `ready`. Every other descriptor of the zygote is closed.
        request_r, answer_w, log, ready = [fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 64)
                                           for fd in list(fds) + [ready]]
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.dup2(request_r, 3, inheritable=False)
        os.dup2(answer_w, 4, inheritable=False)
        os.dup2(ready, 5, inheritable=False)
        os.closerange(6, max(os.sysconf("SC_OPEN_MAX"), ready + 1))
        os.setsid()
        os.chdir(request["workdir"])  # as root: the folder is root's until the files are in it
        if request.get("tmpfs"):
            _private_temporary_folders(request["tmpfs"])
        if request.get("uid") is not None:
            os.setgroups([])
            os.setgid(int(request["gid"]))
            os.setuid(int(request["uid"]))
        if sys.platform.startswith("linux"):  # dumpable again, as after an exec as this user
            _libc().prctl(4, 1, 0, 0, 0)  # PR_SET_DUMPABLE
        os.umask(0o077)
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        apply_limits(request["limits"])
        if "numpy.random" in sys.modules:  # (NumPy 2 loads it on first use, seeded afresh then)
            sys.modules["numpy.random"].seed()  # not the zygote's state, which every sibling shares
        # The arguments main() would have had, not the zygote's (which name the sandbox users).
        sys.argv[1:] = ["3", "4", request["workdir"], ",".join(map(str, request.get("blocked", []))),
                        json.dumps(request["limits"])]
        arguments = _arguments(sys.argv)
        for name in own:
            sys.modules.pop(name, None)
        os.write(5, b"ok")
        os.close(5)
    except BaseException:
        os._exit(127)
    _work(*arguments)


if __name__ == "__main__":
    main(sys.argv)
