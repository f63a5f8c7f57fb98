"""The fast readers on the grading path: answer pipes, .npy payloads and case archives.

Each is checked against the slow, general reader it stands in for, and against
the inputs it must refuse or hand back to that reader.
"""
import io
import os
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from grader.cases import _stored_members, _zip_members, load_case_data, load_manifest
from grader.worker import encode_message, load_npy, npy_bytes, read_message, write_all
from helpers import CASES


@pytest.fixture
def pipe():
    """(read end, write end) of a fresh pipe, closed after the test."""
    ends = os.pipe()
    yield ends
    for fd in ends:
        os.close(fd)


def npy(array):
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def test_an_answer_that_arrived_by_the_deadline_is_read_after_it(pipe):
    read_fd, write_fd = pipe
    os.write(write_fd, encode_message({"type": "result", "id": 3}, [("out", np.arange(4.0))]))
    header, arrays = read_message(read_fd, deadline=time.monotonic() - 1.0)
    assert header["id"] == 3
    assert arrays["out"].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_a_pipe_with_nothing_in_it_times_out_at_the_deadline(pipe):
    read_fd, write_fd = pipe
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        read_message(read_fd, deadline=started + 0.2)
    assert time.monotonic() - started >= 0.2
    os.write(write_fd, encode_message({"type": "result"})[:6])  # a header cut off mid-way
    with pytest.raises(TimeoutError):
        read_message(read_fd, deadline=time.monotonic() + 0.1)


def test_a_write_to_a_pipe_nobody_reads_times_out_at_the_deadline(pipe):
    read_fd, write_fd = pipe
    os.set_blocking(write_fd, False)
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        write_all(write_fd, b"x" * (1 << 20), deadline=started + 0.2)  # more than the pipe holds
    assert time.monotonic() - started >= 0.2
    assert len(os.read(read_fd, 1 << 20)) > 0  # what fitted was written


def test_a_write_without_a_deadline_waits_for_the_reader_of_a_non_blocking_pipe(pipe):
    import threading
    read_fd, write_fd = pipe
    received = []

    def reader():
        time.sleep(0.1)
        while sum(map(len, received)) < 300_000:
            received.append(os.read(read_fd, 1 << 16))

    thread = threading.Thread(target=reader)
    thread.start()
    os.set_blocking(write_fd, False)
    write_all(write_fd, b"y" * 300_000)
    thread.join(10)
    assert b"".join(received) == b"y" * 300_000


@pytest.mark.parametrize("array", [
    np.arange(12.0).reshape(3, 4),
    np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    np.float64(2.5),
    np.array(True),
    np.zeros((0, 3)),
    np.arange(5, dtype=">i4"),
    np.arange(3) + 1j,
    np.zeros((2, 1, 1, 3), dtype=np.uint8),
    np.array(["text"]),
], ids=["2-d", "fortran", "0-d", "bool", "empty", "big-endian", "complex", "4-d", "unicode"])
def test_npy_payloads_read_exactly_as_numpy_reads_them(array):
    got = load_npy(npy(array))
    want = np.load(io.BytesIO(npy(array)))
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes(order="A") == want.tobytes(order="A")
    assert got.flags.f_contiguous == want.flags.f_contiguous and got.flags.c_contiguous == want.flags.c_contiguous
    assert got.flags.writeable



@pytest.mark.parametrize("array", [
    np.arange(12.0).reshape(3, 4),
    np.asfortranarray(np.arange(6.0).reshape(2, 3)),
    np.arange(24.0).reshape(2, 3, 4)[:, ::2, 1:],  # neither C nor Fortran order
    np.float64(2.5), np.array(-3, dtype=np.int16), np.array(True),
    np.zeros((0, 3)), np.zeros((4, 0), order="F"),
    np.arange(5, dtype=">i4"), np.arange(5, dtype="<u8"), np.arange(3) + 1j,
    np.arange(6, dtype=np.float32).reshape(1, 6), np.zeros((2, 1, 1, 3), dtype=np.uint8),
    np.zeros((1,) * 32), np.array(["text"]), np.zeros(2, dtype=[("a", "<f8")]),
], ids=["2-d", "fortran", "strided", "0-d", "int16", "bool", "empty", "empty-fortran", "big-endian",
        "uint64", "complex", "float32", "4-d", "32-d", "unicode", "structured"])
def test_npy_bytes_are_read_back_by_numpy_and_by_load_npy_as_the_array_they_hold(array):
    payload = npy_bytes(np.asarray(array))
    header_length = int.from_bytes(payload[8:10], "little")
    assert (10 + header_length) % 64 == 0 and payload[9 + header_length:10 + header_length] == b"\n"
    for got in (np.load(io.BytesIO(payload)), load_npy(payload)):
        assert got.dtype == array.dtype and got.shape == np.shape(array)
        assert np.array_equal(got, array)
    # the header says what np.save's says
    read_header = np.lib.format.read_array_header_1_0
    assert read_header(io.BytesIO(payload[8:])) == read_header(io.BytesIO(npy(np.asarray(array))[8:]))

def npy_with_header(header, data):
    text = header + " " * (63 - (len(header) + 10) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + len(text).to_bytes(2, "little") + text.encode() + data


@pytest.mark.parametrize("header", [
    "{'descr': '<f8', 'fortran_order': False, 'shape': (03,), }",
    "{'descr': '<f8', 'fortran_order': False, 'shape': (2), }",
    "{'descr': '<i3', 'fortran_order': False, 'shape': (2,), }",
    "{'descr': '|O', 'fortran_order': False, 'shape': (2,), }",
])
def test_npy_headers_numpy_itself_refuses_are_refused(header):
    with pytest.raises(ValueError):
        load_npy(npy_with_header(header, bytes(16)))


def test_npy_payloads_holding_objects_or_too_few_bytes_are_refused():
    with pytest.raises(ValueError, match="allow_pickle"):
        load_npy(npy(np.array([{"a": 1}], dtype=object)))
    short = npy(np.arange(10.0))[:-8]
    with pytest.raises(ValueError):
        load_npy(short)


def test_every_case_archive_read_directly_holds_what_zipfile_reads():
    manifest = load_manifest(CASES)
    for case in manifest.cases:
        raw = (manifest.root / case.file).read_bytes()
        assert _stored_members(raw) == _zip_members(raw), case.id
        data = load_case_data(io.BytesIO(raw))
        with np.load(io.BytesIO(raw)) as archive:
            for name in archive.files:
                kind, _, rest = name.partition(":")
                if kind == "mistake":
                    slug, _, output = rest.partition(":")
                    got = data.mistakes[slug][output]
                else:
                    got = (data.inputs if kind == "input" else data.expected)[rest]
                assert got.tobytes() == archive[name].tobytes() and got.shape == archive[name].shape


def archive(compression=zipfile.ZIP_STORED, comment=b""):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as handle:
        handle.writestr("input:x.npy", b"abc" * 50)
        handle.writestr("expected:out.npy", b"defg")
        handle.comment = comment
    return buffer.getvalue()


def test_archives_laid_out_otherwise_go_to_zipfile():
    assert _stored_members(archive()) == [("input:x.npy", b"abc" * 50), ("expected:out.npy", b"defg")]
    assert _stored_members(archive(zipfile.ZIP_DEFLATED)) is None
    assert _stored_members(archive(comment=b"note")) is None
    assert _stored_members(archive()[:-30]) is None
    assert _stored_members(b"not an archive") is None
    data = load_case_data(io.BytesIO(archive(zipfile.ZIP_DEFLATED)))
    assert data.raw_inputs == {"x": b"abc" * 50}


def test_the_worker_started_without_site_still_finds_a_virtual_environments_packages(tmp_path):
    """The worker runs with -S and adds package folders itself; in a virtual environment
    it must see that environment's packages (and here, through it, the system's NumPy)."""
    import subprocess
    import venv

    from grader import worker
    env_dir = tmp_path / "env"
    venv.EnvBuilder(system_site_packages=True, with_pip=False, symlinks=True).create(env_dir)
    python = env_dir / "bin" / "python"
    packages = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    (Path(packages) / "marker_of_this_env.py").write_text("WHERE = 'the virtual environment'\n")
    probe = (f"namespace = {{'__name__': 'worker'}}; exec(open({worker.__file__!r}).read(), namespace); "
             f"namespace['_add_site_packages'](); import marker_of_this_env, numpy; "
             f"print(marker_of_this_env.WHERE, callable(exit))")
    finished = subprocess.run([str(python), "-I", "-S", "-c", probe], capture_output=True, text=True)
    assert finished.stdout.strip() == "the virtual environment True", finished.stderr
