"""The parent side of the worker: start it, send calls, enforce time, read answers.

The worker gets only a case's inputs. Its answers arrive on a dedicated pipe as
framed .npy bytes and are parsed with allow_pickle=False. Its stdout and stderr go
to a file the parent owns and truncates before each call, so output is kept per
case, bounded, and can never corrupt the protocol. A timeout, a crash or a
garbled answer kills the worker's whole process tree; the next call starts a
fresh worker.
"""
import json
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

from . import sandbox as sandboxing
from . import worker as worker_module
from .worker import ProtocolError, encode_message, read_message, write_all

# Read once, before any student code runs: the worker is started from this text,
# never from the file, which a worker might change.
WORKER_SOURCE = Path(worker_module.__file__).read_text(encoding="utf-8")
MAX_ANSWER_BYTES = 32 << 20


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


class WorkerSession:
    """One submission's worker, restarted as needed. Use as a context manager."""

    def __init__(self, box, modules=(), output_limit=10 * 1024, import_timeout=20.0,
                 blocked_imports=()):
        self.box = box
        self.modules = list(modules)
        self.output_limit = output_limit
        self.import_timeout = import_timeout
        self.blocked_imports = list(blocked_imports)
        self.process = None
        self.imports: Dict[str, ImportStatus] = {}
        self.import_output = ""
        self._calls = 0
        self._keep = sandboxing.direct_children()
        self._log_path = box.base / "output.log"
        self._log = os.open(self._log_path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)

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

    def launch(self):
        """Start a worker that loads NumPy, then waits for begin(): the caller can work meanwhile.

        Nothing of the submission runs before begin(), so the caller may still read
        files that student code must not be able to change first.
        """
        self.stop()
        request_r, request_w = os.pipe()
        answer_r, answer_w = os.pipe()
        child_log = os.open(self._log_path, os.O_WRONLY | os.O_APPEND)
        os.ftruncate(self._log, 0)
        argv = [self.box.python, "-I", "-S", "-B", "-u", "-X", "utf8", "-c", WORKER_SOURCE,
                str(request_r), str(answer_w), str(self.box.workdir),
                ",".join(self.blocked_imports), json.dumps(self.box.limits())]
        try:
            self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=child_log,
                                            stderr=child_log, pass_fds=(request_r, answer_w),
                                            **self.box.popen_options())
        finally:
            for fd in (request_r, answer_w, child_log):
                os.close(fd)
        self._request, self._answer = request_w, answer_r
        os.set_blocking(request_w, False)  # a worker that stops reading cannot block the grader

    def begin(self, modules=None):
        """Tell the worker launched last to import the modules (these, or the session's own)."""
        if modules is not None:
            self.modules = list(modules)
        self._began = time.monotonic()
        try:
            write_all(self._request, encode_message({"type": "import", "modules": self.modules}))
        except OSError:
            pass  # the worker is gone already: wait_ready() reports how it ended

    def wait_ready(self, deadline=None):
        """Read the import reports of the worker launched last; {module: ImportStatus}."""
        limit = self._began + self.import_timeout
        deadline = min(limit, deadline) if deadline else limit
        statuses = {}
        pending = list(self.modules)
        try:
            while True:
                message = read_message(self._answer, deadline, MAX_ANSWER_BYTES)
                if message is None:
                    ended = self._ended()
                    if pending:
                        statuses[pending[0]] = ImportStatus(pending[0], False, ended=ended)
                        for later in pending[1:]:
                            statuses[later] = ImportStatus(later, False, ended=f"{pending[0]}.py was "
                                                                                f"imported first and ended the process ({ended})")
                    break
                header, _ = message
                if header.get("type") == "ready":
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
        self.import_output = self._read_output()
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
        os.ftruncate(self._log, 0)
        self._calls += 1
        started = time.monotonic()
        deadline = started + timeout
        if budget_deadline is not None:
            deadline = min(deadline, budget_deadline)
        try:
            write_all(self._request, encode_message({"type": "call", "id": self._calls, "call": call},
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
            message = read_message(self._answer, deadline, MAX_ANSWER_BYTES)
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
        outcome.output = self._read_output()
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
        modified = [str(name)[:100] for name in header.get("modified", [])][:20]
        return CallOutcome(status, outputs, error, elapsed, modified=modified)

    # Ending -----------------------------------------------------------------------

    def _ended(self):
        """How the worker ended: 'exit status 0', 'signal SIGKILL', or 'running'."""
        if self.process is None:
            return "not started"
        try:
            code = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return "running"
        if code < 0:
            try:
                return f"signal {signal.Signals(-code).name}"
            except ValueError:
                return f"signal {-code}"
        return f"exit status {code}"

    def end(self):
        """No more calls: kill the worker now, without waiting, so that the system tears it
        down while the grader scores the last answer. close() still waits for it and
        for everything it started."""
        if self.process is None or self.process.returncode is not None:
            return  # (a reaped worker's pid may belong to another process by now)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except OSError:
            pass

    def stop(self):
        """Kill the worker, everything it started, and close the pipes."""
        if self.process is None:
            return
        pid = self.process.pid
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.process.kill()
        except OSError:
            pass
        _wait_for_exit(self.process, 5)
        sandboxing.kill_tree([pid], keep=self._keep)
        for fd in (self._request, self._answer):
            try:
                os.close(fd)
            except OSError:
                pass
        self.process = None

    def close(self):
        """End the worker and everything it started. (In root mode the sandbox's own close()
        then kills whatever else runs as the sandbox user.)"""
        swept = self.process is not None
        self.stop()  # which sweeps the worker's tree and every orphan left to the grader
        if not swept or not self.box.switches_user:
            # Once more where nothing else backs the sweep up: in root mode the sandbox
            # kills every process of its user, however it escaped the tree.
            sandboxing.kill_tree([], keep=self._keep)
        try:
            os.close(self._log)
        except OSError:
            pass

    def _read_output(self):
        """The output written since the last truncation: head and tail if it is long."""
        size = os.fstat(self._log).st_size
        limit = self.output_limit
        if size <= limit:
            data = os.pread(self._log, size, 0)
            return self._relative(data.decode("utf-8", errors="replace"))
        head = os.pread(self._log, limit // 5, 0).decode("utf-8", errors="replace")
        tail_size = limit - limit // 5
        tail = os.pread(self._log, tail_size, size - tail_size).decode("utf-8", errors="replace")
        return self._relative(f"{head}\n[... {size - limit} bytes of output omitted ...]\n{tail}")

    def _relative(self, text):
        """Paths inside the private working folder, as the student knows them: layers.py:12."""
        return text.replace(str(self.box.workdir) + os.sep, "")


def _wait_for_exit(process, timeout):
    """Wait for a killed process to end and reap it. On Linux a pidfd wakes the grader
    the moment the process is gone, where Popen.wait(timeout) would poll and sleep."""
    if process.returncode is not None:
        return  # reaped already: its pid may belong to another process by now
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):  # no pidfd here, or the process was reaped already
        pidfd = None
    if pidfd is not None:
        try:
            waiting = select.poll()  # not select(): a busy batch may hold descriptors past 1024
            waiting.register(pidfd, select.POLLIN)  # readable once the process has ended
            waiting.poll(timeout * 1000)
        except OSError:
            pass
        finally:
            os.close(pidfd)
    try:
        process.wait(timeout=timeout if pidfd is None else 0.1)
    except subprocess.TimeoutExpired:
        pass


def _clean_error(error):
    """The worker's report of an exception, with only the expected fields and bounded text."""
    if error is None:
        return None
    return {"type": str(error.get("type", "Exception"))[:200],
            "message": str(error.get("message", ""))[:2000],
            "frames": [[str(f[0])[:200], int(f[1]), str(f[2])[:200], str(f[3])[:300]]
                       for f in list(error.get("frames", []))[:20]]}


def _clean_meta(meta):
    """Only the expected fields, with bounded text: the worker is not trusted."""
    kind = meta.get("kind")
    if kind not in ("ndarray", "scalar", "none", "other"):
        kind = "other"
    return {"kind": kind, "type": str(meta.get("type", "?"))[:120],
            "subclass": bool(meta.get("subclass", False)), "repr": str(meta.get("repr", ""))[:200]}
