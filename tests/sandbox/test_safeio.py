"""Hostile user-supplied files (sandbox/safeio.py) and the CLI commands that read checkers and frames.

Each hostile file is refused with :class:`FileRefused` (or exit code 2 and a message naming the
problem), never with a hang, a traceback or a read of the whole file. FIFOs are tried through the
real CLI in a subprocess with a timeout: a regression hangs there and fails the test instead of
hanging the suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sandbox import (
    FileRefused,
    load_json,
    load_npy,
    open_regular,
    parse_json,
    read_bytes,
    read_text,
)
from sandbox.safeio import JSON_MAX_INT_DIGITS, MAX_BYTES
from vlmcar.cli import main

REPO = Path(__file__).resolve().parents[2]
GOOD = "def check(frame):\n    return bool(frame.mean() > 10)\n"
HUGE = 3 << 30  # a sparse 3 GB file: st_size says so, no disk is used


def _npy_with_header(path: Path, header: dict[str, object], data: bytes) -> Path:
    with path.open("wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        fh.write(data)
    return path


# --------------------------------------------------------------------------------------------
# Hostile files, each built in a fresh directory: name -> (builder, fragment of the refusal)
# --------------------------------------------------------------------------------------------


def fifo(d: Path) -> Path:
    os.mkfifo(d / "pipe")
    return d / "pipe"


def sparse_huge(d: Path) -> Path:
    path = d / "huge"
    with path.open("wb") as fh:
        fh.truncate(HUGE)
    return path


def directory(d: Path) -> Path:
    (d / "dir").mkdir()
    return d / "dir"


def dev_zero(_: Path) -> Path:
    return Path("/dev/zero")


def missing(d: Path) -> Path:
    return d / "missing"


READ_HOSTILE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "fifo": (fifo, "named pipe"),
    "sparse_3gb": (sparse_huge, "3,221,225,472 bytes"),
    "directory": (directory, "is a directory"),
    "char_device": (dev_zero, "device"),
    "missing": (missing, "no such file"),
}


@pytest.mark.parametrize("case", sorted(READ_HOSTILE))
def test_read_bytes_refuses_hostile_files_unread(case: str, tmp_path: Path) -> None:
    build, fragment = READ_HOSTILE[case]
    with pytest.raises(FileRefused, match=fragment) as info:
        read_bytes(build(tmp_path), kind="checker", label="checker")
    assert info.value.label == "checker" and info.value.advice
    assert str(info.value).startswith("checker ")


def test_read_bytes_limit_is_checked_before_reading_and_while_reading(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 101)
    with pytest.raises(FileRefused, match="101 bytes, more than the 100"):
        read_bytes(path, kind="json", max_bytes=100)
    assert read_bytes(path, kind="json", max_bytes=101) == b"x" * 101
    # /proc files report st_size 0: the read itself stops at the limit.
    with pytest.raises(FileRefused, match="more than the 10 allowed"):
        read_bytes("/proc/self/maps", kind="json", max_bytes=10)


def test_symbolic_links_are_followed_only_when_asked(tmp_path: Path) -> None:
    target = tmp_path / "real.py"
    target.write_text(GOOD, encoding="utf-8")
    link = tmp_path / "link.py"
    link.symlink_to(target)
    assert read_text(link, kind="checker") == GOOD
    with pytest.raises(FileRefused, match="symbolic link"):
        read_text(link, kind="checker", follow_symlinks=False)
    with pytest.raises(FileRefused, match="named pipe"):  # a link to a FIFO is still a FIFO
        fifo_link = tmp_path / "fifo_link"
        fifo_link.symlink_to(fifo(tmp_path))
        read_bytes(fifo_link, kind="checker")


def test_open_regular_returns_a_blocking_descriptor(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    fd = open_regular(path)
    try:
        assert os.get_blocking(fd) and os.read(fd, 10) == b"abc"
    finally:
        os.close(fd)


def test_read_text_refuses_non_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.py"
    path.write_bytes("# caf\xe9\n".encode("latin-1"))
    with pytest.raises(FileRefused, match="not UTF-8 text"):
        read_text(path, kind="checker")


def test_default_limits_are_documented_per_kind() -> None:
    assert set(MAX_BYTES) == {"checker", "frames", "json", "key"}
    assert MAX_BYTES["checker"] >= 4 * 50_000  # the audit's own S102 limit stays reachable


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------

JSON_HOSTILE: dict[str, tuple[str, str]] = {
    "deep_beyond_the_parser": ("[" * 100_000 + "]" * 100_000, "nested more than 64"),
    "deep_beyond_the_limit": ("[" * 65 + "]" * 65, "nested 65 levels deep"),
    "huge_int": ('{"schema": ' + "9" * 5000 + "}", "integer of 5,000 digits"),
    "huge_negative_int": ("[-" + "1" * 21 + "]", "integer of 21 digits"),
    "nan": ('{"bonus": NaN}', "NaN"),
    "infinity": ('{"bonus": -Infinity}', "-Infinity"),
    "overflowing_float": ('{"bonus": 1e999}', "too large for a float"),
    "long_float_literal": ("[0." + "1" * 200 + "]", "number literal of 202 characters"),
    "duplicate_key": ('{"sha256": "a", "sha256": "b"}', "'sha256' twice"),
    "invalid": ("{not json", "not valid JSON"),
}


@pytest.mark.parametrize("case", sorted(JSON_HOSTILE))
def test_parse_json_refuses_hostile_json(case: str) -> None:
    text, fragment = JSON_HOSTILE[case]
    with pytest.raises(FileRefused, match=fragment):
        parse_json(text, source="m.json")


def test_parse_json_accepts_what_vlmcar_writes() -> None:
    big = 2**64 - 1
    assert len(str(big)) == JSON_MAX_INT_DIGITS
    value = {"a": [big, -(2**63), 0.1, 1e308, None, True, "x" * 1000], "b": {"c": [[[]]]}}
    assert parse_json(json.dumps(value)) == value
    assert parse_json("[" * 64 + "]" * 64) is not None
    assert parse_json('{"x": NaN}', allow_nan=True)["x"] != 0  # NaN where explicitly allowed


def test_load_json_reads_a_file_with_the_json_limits(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"a": 1}', encoding="utf-8")
    assert load_json(path) == {"a": 1}
    with pytest.raises(FileRefused, match="named pipe"):
        load_json(fifo(tmp_path))


# --------------------------------------------------------------------------------------------
# .npy
# --------------------------------------------------------------------------------------------


def lying_header(d: Path) -> Path:  # claims 1 TiB of uint8, holds 10 bytes
    header = {"descr": "|u1", "fortran_order": False, "shape": (1 << 40,)}
    return _npy_with_header(d / "lie.npy", header, b"\0" * 10)


def trailing_data(d: Path) -> Path:
    header = {"descr": "|u1", "fortran_order": False, "shape": (4,)}
    return _npy_with_header(d / "trail.npy", header, b"\0" * 8)


def object_array(d: Path) -> Path:
    np.save(d / "obj.npy", np.array([1, None], dtype=object), allow_pickle=True)
    return d / "obj.npy"


def float_frames(d: Path) -> Path:
    np.save(d / "f64.npy", np.zeros((2, 4, 4, 3)))
    return d / "f64.npy"


def structured(d: Path) -> Path:
    np.save(d / "rec.npy", np.zeros(3, dtype=[("a", "u1"), ("b", "u1")]))
    return d / "rec.npy"


def not_npy(d: Path) -> Path:
    (d / "x.npy").write_bytes(b"PK\x03\x04 this is a zip, not an npy")
    return d / "x.npy"


def bad_header(d: Path) -> Path:
    body = b"{'descr': __import__('os'), 'fortran_order': False, 'shape': (1,)}"
    body += b" " * (118 - len(body)) + b"\n"
    (d / "evil.npy").write_bytes(b"\x93NUMPY\x01\x00" + len(body).to_bytes(2, "little") + body)
    return d / "evil.npy"


NPY_HOSTILE: dict[str, tuple[Callable[[Path], Path], str]] = {
    "lying_header_1tib": (lying_header, r"1,099,511,627,776 bytes of data"),
    "trailing_data": (trailing_data, "holds 8 bytes after the header"),
    "object_dtype": (object_array, "Python objects"),
    "float_dtype": (float_frames, r"dtype float64 \(allowed: uint8\)"),
    "structured_dtype": (structured, "structured dtype"),
    "not_npy": (not_npy, "not a .npy file"),
    "code_in_header": (bad_header, "malformed .npy header"),
    "fifo": (fifo, "named pipe"),
    "sparse_3gb": (sparse_huge, "more than the 1,073,741,824 allowed"),
}


@pytest.mark.parametrize("case", sorted(NPY_HOSTILE))
def test_load_npy_refuses_hostile_arrays_before_reading_data(case: str, tmp_path: Path) -> None:
    build, fragment = NPY_HOSTILE[case]
    with pytest.raises(FileRefused, match=fragment):
        load_npy(build(tmp_path), label="--frames")


def test_load_npy_round_trips_what_numpy_saves(tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 256, (3, 5, 7, 3), dtype=np.uint8)
    np.save(tmp_path / "c.npy", frames)
    np.save(tmp_path / "f.npy", np.asfortranarray(frames))
    np.save(tmp_path / "e.npy", frames[:0])
    for name in ("c", "f"):
        loaded = load_npy(tmp_path / f"{name}.npy")
        assert loaded.dtype == np.uint8 and np.array_equal(loaded, frames)
        assert loaded.flags.writeable
    assert load_npy(tmp_path / "e.npy").shape == (0, 5, 7, 3)
    np.save(tmp_path / "d.npy", np.linspace(0, 1, 6))
    assert (
        load_npy(tmp_path / "d.npy", dtypes=("u1", "f8")).tolist() == np.linspace(0, 1, 6).tolist()
    )


# --------------------------------------------------------------------------------------------
# The CLI commands that read checker and frame files: exit 2 and the problem, no traceback
# --------------------------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    good = tmp_path / "good.py"
    good.write_text(GOOD, encoding="utf-8")
    frames = tmp_path / "frames.npy"
    np.save(frames, np.zeros((2, 8, 8, 3), dtype=np.uint8))
    return {"good": good, "frames": frames}


CHECKER_HOSTILE = {k: READ_HOSTILE[k] for k in ("sparse_3gb", "directory", "char_device")}
CHECKER_COMMANDS: dict[str, Callable[[str, dict[str, Path]], list[str]]] = {
    "audit": lambda p, f: ["audit", p],
    "check": lambda p, f: ["check", p, "--frames", str(f["frames"]), "--isolation", "process"],
    "fuzz": lambda p, f: ["fuzz", p, "--examples", "5", "--isolation", "process"],
}
FRAMES_HOSTILE = {
    k: NPY_HOSTILE[k] for k in ("lying_header_1tib", "object_dtype", "sparse_3gb", "not_npy")
}
FRAMES_COMMANDS: dict[str, Callable[[str, dict[str, Path]], list[str]]] = {
    "check --frames": lambda p, f: ["check", str(f["good"]), "--frames", p],
    "check --first": lambda p, f: [
        "check",
        str(f["good"]),
        "--frames",
        str(f["frames"]),
        "--first",
        p,
    ],
    "fuzz --frames": lambda p, f: ["fuzz", str(f["good"]), "--frames", p, "--examples", "5"],
}


@pytest.mark.parametrize("command", sorted(CHECKER_COMMANDS))
@pytest.mark.parametrize("case", sorted(CHECKER_HOSTILE))
def test_cli_refuses_hostile_checker_files(
    command: str,
    case: str,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    build, fragment = CHECKER_HOSTILE[case]
    argv = CHECKER_COMMANDS[command](str(build(tmp_path)), files)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


@pytest.mark.parametrize("command", sorted(FRAMES_COMMANDS))
@pytest.mark.parametrize("case", sorted(FRAMES_HOSTILE))
def test_cli_refuses_hostile_frame_files(
    command: str,
    case: str,
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    build, fragment = FRAMES_HOSTILE[case]
    argv = FRAMES_COMMANDS[command](str(build(tmp_path)), files)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert re.search(fragment, err), err
    assert "Traceback" not in err


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``vlmcar`` in a child; a hang fails the test at ``timeout`` instead of hanging it."""
    try:
        return subprocess.run(
            [
                sys.executable,
                "-c",
                "import sys; from vlmcar.cli import main; sys.exit(main())",
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
            cwd=REPO,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"vlmcar {' '.join(args)} hung (no answer within {timeout} s)")


@pytest.mark.slow
@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "{fifo}"],
        ["check", "{fifo}", "--frames", "{frames}"],
        ["check", "{good}", "--frames", "{fifo}"],
        ["fuzz", "{fifo}", "--examples", "5"],
        ["fuzz", "{good}", "--frames", "{fifo}", "--examples", "5"],
    ],
    ids=" ".join,
)
def test_cli_does_not_hang_on_a_fifo(
    argv: list[str], files: dict[str, Path], tmp_path: Path
) -> None:
    names = {
        "fifo": str(fifo(tmp_path)),
        "good": str(files["good"]),
        "frames": str(files["frames"]),
    }
    done = run_cli(*(a.format(**names) for a in argv))
    assert done.returncode == 2, done.stderr
    assert "named pipe" in done.stderr and "Traceback" not in done.stderr
