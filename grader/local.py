"""A student's own run: their code in a plain child process, on macOS, Windows or Linux.

The release's pytest grades with it (engine.grade(local=True)): the same engine,
comparisons and diagnoses as Gradescope; only the way the worker runs differs. A
student runs their own code on their own computer, so there is no sandbox: no
other user, no namespaces, no resource limits, nothing read from /proc. What stays
is what makes the grade the same: a separate process, so that a crash, a loop that
never ends or os._exit costs one case; the per-case timeout and the run's budget; a
fresh folder holding a copy of the submitted files; the forbidden-import blocker.
Gradescope also caps memory, which a local run does not.

Only portable standard-library calls: subprocess.Popen with pipes on the worker's
stdin and stdout and a log file for its stderr (Windows cannot pass other
descriptors), a thread that reads the answers into a queue (select and poll do not
wait on Windows pipes), and Popen.kill. Nothing here imports the sandbox, which
the release does not ship.
"""
import os
import platform
import queue
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path, PurePosixPath

from . import worker
from .session import MAX_ANSWER_BYTES, Session, bounded_output, dropped_note, exit_text
from .text import clean_text

ISOLATION = "a separate process, without a sandbox (a local run)"


class LocalBox:
    """The private folder of a local run: the worker's working folder, and its output logs."""

    isolation = ISOLATION
    notices = ()

    def __init__(self):
        self.base = Path(tempfile.mkdtemp(prefix="bpgrader-"))
        self.workdir = self.base / "work"
        self.workdir.mkdir()
        self.python = sys.executable
        self._renewals = 0

    def install(self, files):
        """Write {relative path: bytes} into the working folder; returns notes on files that
        could not be placed beside the others (a zip holding both a file `x` and a folder `x/`)."""
        notes = []
        for relative, content in files.items():
            path = self.workdir.joinpath(*PurePosixPath(relative).parts)
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with open(path, "xb") as handle:
                    handle.write(content)
            except (FileExistsError, NotADirectoryError, IsADirectoryError) as exc:
                notes.append(f"{relative} was left out: it could not be placed beside the other files "
                             f"({exc.strerror or exc})")
        return notes

    def renew_workdir(self):
        """Before the hidden cases: a new, empty folder (the files must be installed again)."""
        self._renewals += 1
        old, self.workdir = self.workdir, self.base / f"work-{self._renewals}"
        self.workdir.mkdir()
        shutil.rmtree(old, ignore_errors=True)
        return True

    def describe(self):
        """Which Python and NumPy ran the code: this process's own."""
        numpy = sys.modules.get("numpy")
        return f"{self.python} (Python {platform.python_version()}, NumPy {getattr(numpy, '__version__', '?')})"

    def close(self):
        shutil.rmtree(self.base, ignore_errors=True)


class LocalSession(Session):
    """The worker as a plain child process: requests on its stdin, answers on its stdout.

    Each worker writes what the student's code prints to a log of its own; a call's
    output is what the log gained during the call. A timeout or a crash kills the
    worker, and the next call starts a fresh one.
    """

    def __init__(self, box, modules=(), output_limit=10 * 1024, import_timeout=20.0, blocked_imports=()):
        super().__init__(box, modules, output_limit, import_timeout, blocked_imports)
        self._answers = None    # the running worker's messages, as its reader thread puts them
        self._log = None        # its log, open for reading
        self._logs = 0
        self._output_from = 0   # where the current call's output starts in the log

    def launch(self):
        """Start a worker that loads NumPy, then waits for begin()."""
        self.stop()
        self._logs += 1
        path = self.box.base / f"output-{self._logs}.log"
        command = [self.box.python, "-I", "-S", "-B", "-u", "-X", "utf8", worker.__file__, "--local",
                   str(self.box.workdir), ",".join(self.blocked_imports)]
        options = {"start_new_session": True} if os.name == "posix" else {}  # (its group dies with it)
        with open(path, "wb") as log:  # the worker keeps its own handle
            self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
                                            cwd=str(self.box.workdir), env=dict(os.environ, **worker.ONE_THREAD),
                                            **options)
        self._log = open(path, "rb")
        self._output_from = 0
        self._answers = queue.Queue()
        threading.Thread(target=_read_answers, args=(self.process.stdout, self._answers), daemon=True).start()

    def _write(self, data, deadline=None):
        """Write a request. With no deadline: the worker reads each request whole before
        it runs anything of the student's, so a live worker always takes it."""
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (OSError, ValueError):  # the worker is gone (Windows says EINVAL where POSIX says EPIPE)
            raise BrokenPipeError from None

    def _read(self, deadline):
        try:
            kind, value = self._answers.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError from None
        if kind == "error":
            raise value
        return value

    def _fresh_output(self):
        self._output_from = os.fstat(self._log.fileno()).st_size

    def _read_output(self, dropped=0):
        if self._log is None:
            return ""
        size = os.fstat(self._log.fileno()).st_size - self._output_from

        def read(offset, count):
            self._log.seek(self._output_from + offset)
            return self._log.read(count)
        return clean_text(self._relative(bounded_output(read, size, self.output_limit)) + dropped_note(dropped))

    def _ended(self):
        if self.process is None:
            return "not started"
        try:
            return exit_text(self.process.wait(timeout=2))
        except subprocess.TimeoutExpired:
            return "running"

    def _check_forbidden(self):
        """Nothing: a process's memory cannot be read portably. The static check and the
        import blocker still refuse a forbidden package."""

    def watch_forbidden(self, names):
        pass

    def end(self):
        """No more calls: the worker is killed now, and reaped by close()."""
        self._kill()

    def stop(self):
        """Kill the worker, and everything it started where the system allows; close its pipe."""
        if self.process is None:
            return
        self._kill()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        try:
            self.process.stdin.close()
        except OSError:
            pass
        self.process = None

    def close(self):
        self.stop()
        if self._log is not None:
            self._log.close()
            self._log = None

    def _kill(self):
        if self.process is None or self.process.returncode is not None:
            return  # (a reaped worker's pid may belong to another process by now)
        if hasattr(os, "killpg"):  # POSIX: its whole group, which start_new_session made
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            self.process.kill()
        except OSError:
            pass


def _read_answers(stream, answers):
    """A worker's messages, read as they come, into the queue: ("message", (header, arrays)),
    ("message", None) at its end, or ("error", ProtocolError) and no more."""
    try:
        while True:
            try:
                message = worker.read_message(stream.fileno(), None, MAX_ANSWER_BYTES)
            except OSError:  # (the pipe closed under it: the worker is gone)
                message = None
            except Exception as exc:  # a malformed message: nothing after it can be trusted
                answers.put(("error", exc if isinstance(exc, worker.ProtocolError) else worker.ProtocolError(str(exc))))
                return
            answers.put(("message", message))
            if message is None:
                return
    finally:
        stream.close()
