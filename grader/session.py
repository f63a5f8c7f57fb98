"""The grader's side of the worker protocol, whatever runs the worker.

A session sends the worker the modules to import, then one call at a time, and
turns each answer into a CallOutcome: the named outputs as plain arrays, the
student's exception, a timeout or a crash, and the output the call printed. What
the worker sends is not trusted: every field is checked and bounded. How the
worker is started, reached and stopped is the subclass's: runner.WorkerSession
runs it in the sandbox (Linux; Gradescope, `grade`, `batch`), local.LocalSession
as a plain child process on a student's own computer (the release's `pytest`).
"""
import os
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

from .text import clean_text
from .worker import OUTPUT_FILE_LIMIT, ProtocolError, encode_message

MAX_ANSWER_BYTES = 32 << 20


# At most this much compiled code is taken from a worker, for the next.
MAX_RELAYED_CODE = 4 << 20


def _bytes_array(data):
    import numpy as np
    return np.frombuffer(data, dtype=np.uint8)


@dataclass
class ImportStatus:
    module: str
    ok: bool
    error: Optional[dict] = None
    seconds: float = 0.0
    ended: Optional[str] = None     # how the process ended, if importing ended it


@dataclass
class _Pending:
    id: int
    started: float
    deadline: float


@dataclass
class CallOutcome:
    status: str                     # ok, error, bad-return, timeout, crashed, protocol
    outputs: Dict[str, tuple] = field(default_factory=dict)   # name -> (meta, ndarray or None)
    error: Optional[dict] = None
    seconds: float = 0.0
    output: str = ""                # captured stdout and stderr, bounded
    modified: List[str] = field(default_factory=list)
    ended: Optional[str] = None     # how the process ended, for crashes
    dropped: int = 0                # bytes of output dropped past the output file's cap


class Session:
    """One submission's worker, restarted as needed. Use as a context manager.

    A subclass starts and stops the worker and moves the bytes: launch(), stop(),
    _write(data, deadline), _read(deadline) (one message, None at the end, TimeoutError
    at the deadline), _fresh_output() (before a call: what it prints is kept apart),
    _read_output(dropped), _ended() and _check_forbidden().
    """

    def __init__(self, box, modules=(), output_limit=10 * 1024, import_timeout=20.0, blocked_imports=()):
        self.box = box              # its workdir is where the worker runs
        self.modules = list(modules)
        self.output_limit = output_limit
        self.import_timeout = import_timeout
        self.blocked_imports = list(blocked_imports)
        self.process = None
        self.imports: Dict[str, ImportStatus] = {}
        self.import_output = ""
        self.forbidden = []         # forbidden packages found in a worker's memory (where it can be read)
        self._calls = 0
        self._sources, self._relayed = {}, {}   # see share_code()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # Starting -----------------------------------------------------------------

    def start(self, deadline=None):
        """Start a worker and import the modules. Returns {module: ImportStatus} of this start."""
        self.launch()
        self.begin()
        return self.wait_ready(deadline)

    def begin(self, modules=None):
        """Tell the worker launched last to import the modules (these, or the session's own).

        The first worker of a submission compiles its modules as a plain import does, and
        sends the code back with its "ready"; a later worker (the hidden cases', or one after a
        crash) gets that code with the sources given to share_code(), and runs it instead
        of compiling the same files again (see worker.SubmissionFinder). The grader never reads
        that code: it passes it on, bounded, as bytes.
        """
        if modules is not None:
            self.modules = list(modules)
        self._began = time.monotonic()
        header, arrays = {"type": "import", "modules": self.modules}, []
        compiled = {}
        for name in self.modules:
            file, source = self._sources.get(name, (None, None))
            relayed = self._relayed.get(name)
            if relayed is not None:
                compiled[name] = {"path": relayed[0], "magic": relayed[1]}
                arrays += [(f"{name}.source", _bytes_array(source)), (f"{name}.code", _bytes_array(relayed[2]))]
            elif file is not None:
                header["record"] = True
        if compiled:
            header["compiled"] = compiled
        try:
            self._write(encode_message(header, arrays))
        except OSError:
            pass  # the worker is gone already: wait_ready() reports how it ended

    def share_code(self, sources):
        """{module: (its file in the worker's folder, the bytes installed there)}: the modules
        whose code a worker may pass on to the next (see begin())."""
        self._sources = dict(sources)
        self._relayed = {}

    def _keep_compiled(self, compiled, arrays):
        """Keep the code a worker sent with its "ready" for the modules of share_code(),
        where it says it compiled the file where this session installed it; never more than
        MAX_RELAYED_CODE bytes. What it sends is the student's to choose, like the
        source, and runs only in a later worker of the same submission."""
        if not isinstance(compiled, dict) or not self._sources:
            return
        total = 0
        for name, (file, _) in self._sources.items():
            entry = compiled.get(name)
            code = arrays.get(f"{name}.code")
            path = os.path.join(str(self.box.workdir), file)
            if not isinstance(entry, dict) or entry.get("path") != path or code is None:
                continue
            magic = entry.get("magic")
            if not isinstance(magic, str) or len(magic) > 64 or code.dtype.str != "|u1" or code.ndim != 1:
                continue
            total += code.size
            if total > MAX_RELAYED_CODE:
                return
            self._relayed[name] = (path, magic, code.tobytes())

    def wait_ready(self, deadline=None):
        """Read the import reports of the worker launched last; {module: ImportStatus}."""
        limit = self._began + self.import_timeout
        deadline = min(limit, deadline) if deadline else limit
        statuses = {}
        pending = list(self.modules)
        self._dropped_at_import = 0
        try:
            while True:
                message = self._read(deadline)
                if message is None:
                    ended = self._ended()
                    if pending:
                        statuses[pending[0]] = ImportStatus(pending[0], False, ended=ended)
                        for later in pending[1:]:
                            statuses[later] = ImportStatus(later, False, ended=f"{pending[0]}.py was "
                                                                                f"imported first and ended the process ({ended})")
                    break
                header, arrays = message
                if header.get("type") == "ready":
                    self._dropped_at_import = _count(header.get("dropped"))
                    self._keep_compiled(header.get("compiled"), arrays)
                    break
                if header.get("type") != "import" or header.get("module") not in pending:
                    raise ProtocolError("unexpected message while importing")
                name = header["module"]
                try:
                    status = ImportStatus(name, header.get("ok") is True, _clean_error(header.get("error")),
                                          float(header.get("seconds", 0.0)))
                except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
                    raise ProtocolError(f"malformed import report: {exc}") from None
                pending.remove(name)
                statuses[name] = status
        except TimeoutError:
            if pending:
                statuses[pending[0]] = ImportStatus(pending[0], False, ended="timeout")
                for later in pending[1:]:
                    statuses[later] = ImportStatus(later, False, ended=f"{pending[0]}.py was imported "
                                                                       f"first and did not finish")
            self.stop()
        except ProtocolError as exc:
            if pending:
                statuses[pending[0]] = ImportStatus(pending[0], False, ended=f"protocol: {exc}")
                for later in pending[1:]:
                    statuses[later] = ImportStatus(later, False, ended=f"{pending[0]}.py was imported "
                                                                       f"first and broke the worker")
            self.stop()
        self.import_output = self._read_output(self._dropped_at_import)
        self._check_forbidden()
        if not self.imports:
            # The first start decides: a module that failed is never imported again,
            # so that one broken file cannot take the other's cases down with it.
            self.imports = dict(statuses)
            self.modules = [m for m in self.modules if statuses.get(m) and statuses[m].ok]
        if self.process is not None and self.process.poll() is not None:
            self.stop()
        return statuses

    @property
    def alive(self):
        return self.process is not None and self.process.poll() is None

    # Calling --------------------------------------------------------------------

    def call(self, call, arrays, timeout, budget_deadline=None):
        """Run one call in the worker and wait for its outcome."""
        return self.receive(self.send(call, arrays, timeout, budget_deadline))

    def send(self, call, arrays, timeout, budget_deadline=None):
        """Start one call; returns what receive() needs. Restarts the worker first if a
        previous call ended it. The worker gets this call's inputs only, so the caller
        may score the previous call meanwhile but can never have two calls out at once."""
        if not self.alive:
            statuses = self.start(budget_deadline)
            broken = [s for s in statuses.values() if not s.ok]
            if broken or not self.alive:
                status = broken[0] if broken else None
                ended = status.ended if status and status.ended else self._ended()
                return CallOutcome("crashed", ended=f"the worker could not restart ({ended})",
                                   output=self.import_output,
                                   error=status.error if status else None)
        self._fresh_output()
        self._calls += 1
        started = time.monotonic()
        deadline = started + timeout
        if budget_deadline is not None:
            deadline = min(deadline, budget_deadline)
        try:
            self._write(encode_message({"type": "call", "id": self._calls, "call": call},
                                       sorted(arrays.items())), deadline)
        except TimeoutError:  # the worker stopped taking its inputs: the case's time runs meanwhile
            return self._unanswered("timeout", time.monotonic() - started)
        except BrokenPipeError:
            return self._unanswered("crashed", time.monotonic() - started, crashed=True)
        return _Pending(self._calls, started, deadline)

    def receive(self, pending):
        """The outcome of the call send() started: an answer, a timeout or a crash.

        An answer that arrived by the deadline counts even if it is read later."""
        if isinstance(pending, CallOutcome):
            return pending  # send() could not start the call
        started, deadline = pending.started, pending.deadline
        try:
            message = self._read(deadline)
        except TimeoutError:
            return self._unanswered("timeout", time.monotonic() - started)
        except ProtocolError as exc:
            return self._unanswered("protocol", time.monotonic() - started, problem=str(exc))
        elapsed = time.monotonic() - started
        if message is None:
            return self._unanswered("crashed", elapsed, crashed=True)
        header, blobs = message
        try:
            outcome = self._outcome(header, blobs, elapsed, pending.id)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            return self._unanswered("protocol", elapsed, problem=f"malformed answer: {exc}")
        outcome.output = self._read_output(outcome.dropped)
        self._check_forbidden()
        if outcome.error is not None:
            outcome.error["message"] = self._relative(outcome.error["message"])
        return outcome

    def _unanswered(self, status, elapsed, crashed=False, problem=None):
        """The outcome of a call that got no usable answer; the worker is stopped.

        crashed: say how the process ended, asked before stop() leaves no process to ask.
        problem: what was wrong with the answer, for status "protocol".
        """
        ended = self._ended() if crashed else None
        self.stop()
        error = {"type": "ProtocolError", "message": problem, "frames": []} if problem else None
        return CallOutcome(status, seconds=elapsed, output=self._read_output(), error=error, ended=ended)

    def _outcome(self, header, blobs, elapsed, call_id):
        if header.get("type") != "result" or header.get("id") != call_id:
            raise ValueError("an answer to a different request")
        status = header["status"]
        if status not in ("ok", "error", "bad-return"):
            raise ValueError(f"unknown status {status!r}")
        outputs = {}
        for meta in header.get("outputs", []) if status == "ok" else []:
            name = str(meta["name"])
            outputs[name] = (_clean_meta(meta), blobs.get(name))
        error = _clean_error(header.get("error"))
        modified = [clean_text(str(name)[:100]) for name in header.get("modified", [])][:20]
        return CallOutcome(status, outputs, error, elapsed, modified=modified, dropped=_count(header.get("dropped")))

    def _relative(self, text):
        """Paths inside the private working folder, as the student knows them: layers.py:12."""
        return text.replace(str(self.box.workdir) + os.sep, "")


def _clean_error(error):
    """The worker's report of an exception, with only the expected fields and bounded text.
    The worker is not trusted: a malformed frame is left out, never an error of the grader's."""
    if not isinstance(error, dict):
        return None
    frames = []
    for frame in list(error.get("frames", []) or [])[:20] if isinstance(error.get("frames"), list) else []:
        try:
            file, line, function, text = frame
            frames.append([clean_text(str(file)[:200]), int(line), clean_text(str(function)[:200]),
                           clean_text(str(text)[:300])])
        except (TypeError, ValueError, OverflowError):
            continue
    clean = {"type": clean_text(str(error.get("type", "Exception"))[:200]),
             "message": clean_text(str(error.get("message", ""))[:2000]), "frames": frames}
    if error.get("during"):  # the student's function that raised while making this call's arguments
        clean["during"] = clean_text(str(error["during"])[:200])
    return clean


def _clean_meta(meta):
    """Only the expected fields, with bounded text: the worker is not trusted."""
    kind = meta.get("kind")
    if kind not in ("ndarray", "scalar", "none", "other"):
        kind = "other"
    return {"kind": kind, "type": clean_text(str(meta.get("type", "?"))[:120]),
            "subclass": bool(meta.get("subclass", False)), "repr": clean_text(str(meta.get("repr", ""))[:200])}


def _count(value):
    """A byte count the worker reported (untrusted): a whole number of 0 or more."""
    return value if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 62 else 0


def exit_text(code):
    """How a worker ended, from its Popen returncode: 'exit status 3', 'signal SIGKILL'."""
    import signal
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


def dropped_note(dropped):
    """What a call's output says of the bytes the worker dropped past its cap ('' for none)."""
    if not dropped:
        return ""
    return f"\n[... and {dropped} more bytes were dropped: output stops at {OUTPUT_FILE_LIMIT >> 20} MB per case ...]"


def bounded_output(read, size, limit):
    """The text of `size` bytes of a call's output, its head and tail if there is more than
    `limit`; read(offset, count) gives the bytes."""
    if size <= limit:
        return read(0, size).decode("utf-8", errors="replace")
    head = read(0, limit // 5).decode("utf-8", errors="replace")
    tail_size = limit - limit // 5
    tail = read(size - tail_size, tail_size).decode("utf-8", errors="replace")
    return f"{head}\n[... {size - limit} bytes of output omitted ...]\n{tail}"
