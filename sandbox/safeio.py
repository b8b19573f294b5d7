"""Read user-supplied files without hanging, exhausting memory or crashing on hostile content.

Provides:
    FileKind: the kinds of file this module knows a size limit for.
    MAX_BYTES: the largest file accepted per kind, checked with ``fstat`` before anything is read.
    JSON_MAX_DEPTH, JSON_MAX_INT_DIGITS, JSON_MAX_NUMBER_CHARS: the default JSON parse limits.
    FRAME_DTYPES: the dtypes a frames ``.npy`` file may hold (``uint8``).
    open_regular: open a path read-only, refusing FIFOs, devices, sockets and directories.
    read_bytes / read_text: a regular file's bytes / UTF-8 text, at most its kind's size limit.
    parse_json / load_json: JSON with bounded depth and numbers, no NaN, no duplicate keys.
    load_npy: a ``.npy`` array whose header is checked against the file before any data is read.

Every refusal is a :class:`sandbox.errors.FileRefused` naming the file, what was wrong and what to
do; command-line tools turn it into exit code 2. The checks, and why each is there:

* **Regular files only.** A FIFO opened for reading blocks until a writer appears (forever, if none
  does) and a character device such as ``/dev/zero`` never ends. The path is ``stat``-ed first, so
  a device is never even opened; it is then opened with ``O_NONBLOCK`` (a FIFO swapped in between
  cannot block the ``open``) and ``O_NOCTTY``, and ``fstat`` of the open descriptor must show the
  same regular file, so a path swapped between the two calls is refused too.
* **Size before reading.** ``fstat``'s size is compared with the limit before the first byte is
  read; reading then stops at the limit plus one byte, so a file that grows (or a ``/proc`` file
  that reports size 0) cannot make it read more.
* **Bounded JSON.** Python's ``json`` accepts ``NaN``, ``Infinity`` and ``1e999`` (as ``inf``),
  recurses once per nesting level (``RecursionError`` on deep input) and converts integers of any
  length (``ValueError`` past ``sys.get_int_max_str_digits()``, 4300 digits, and quadratic time
  before that). Here integers longer than :data:`JSON_MAX_INT_DIGITS` digits and number literals
  longer than :data:`JSON_MAX_NUMBER_CHARS` are refused before they are converted, non-finite
  numbers and duplicate keys are refused, and nesting deeper than :data:`JSON_MAX_DEPTH` is refused.
* **Checked ``.npy`` headers.** ``numpy.load`` trusts the header's shape: a 100-byte file claiming
  a 1 TiB array fails deep inside numpy (or allocates). Here the header is read with numpy's public
  header readers (bounded size, literal parsing only), the dtype must be on an allow-list (never
  ``object``, never structured), and ``prod(shape) * itemsize`` plus the header must equal the
  file's size exactly before the data is read into a fresh array. The data is read, not
  memory-mapped: a mapped file truncated by someone else would kill the process with ``SIGBUS``.

Example:
    >>> parse_json('{"a": [1, 2.5, null]}')
    {'a': [1, 2.5, None]}
    >>> parse_json('{"bonus": NaN}')
    Traceback (most recent call last):
    ...
    sandbox.errors.FileRefused: <json>: holds NaN, which is not a number here; ...
"""

from __future__ import annotations

import errno
import json
import math
import os
import stat
from collections.abc import Iterable
from types import MappingProxyType
from typing import Any, Literal

import numpy as np
from numpy.typing import DTypeLike

from sandbox.errors import FileRefused

__all__ = [
    "FRAME_DTYPES",
    "JSON_MAX_DEPTH",
    "JSON_MAX_INT_DIGITS",
    "JSON_MAX_NUMBER_CHARS",
    "MAX_BYTES",
    "FileKind",
    "load_json",
    "load_npy",
    "open_regular",
    "parse_json",
    "read_bytes",
    "read_text",
]

#: What a file is for; each kind has a size limit in :data:`MAX_BYTES`.
FileKind = Literal["checker", "frames", "json", "key"]

#: Largest file accepted per kind, in bytes, checked before anything is read.
#:
#: * ``checker``: 1 MiB. The audit itself accepts at most 50,000 characters (S102, at most 200 KB
#:   of UTF-8), so anything the audit could report on is read and gets its finding; only files far
#:   beyond that are refused unread.
#: * ``frames``: 1 GiB of ``.npy`` (about 5,400 frames of 256×256×3 uint8).
#: * ``json``: 64 MiB: reward-program manifests (which hold the full synthesis transcript), replay
#:   stores and scripts. The recorded demo replay is 76 KB.
#: * ``key``: 4 KiB, a bundle signing key file.
MAX_BYTES = MappingProxyType(
    {"checker": 1 << 20, "frames": 1 << 30, "json": 64 << 20, "key": 4 << 10}
)

#: Deepest JSON nesting accepted by default (manifests and replay stores nest about 6 deep).
JSON_MAX_DEPTH = 64
#: Most digits in a JSON integer by default: 20 holds every 64-bit value, signed or not.
JSON_MAX_INT_DIGITS = 20
#: Longest JSON number literal (integer or float) by default; ``repr`` of a float is at most 24.
JSON_MAX_NUMBER_CHARS = 100
#: The dtypes :func:`load_npy` accepts by default: frames are RGB ``uint8``.
FRAME_DTYPES: tuple[np.dtype[Any], ...] = (np.dtype(np.uint8),)

_NPY_MAX_HEADER = 10_000  # numpy's own default bound on a header's length
_CHUNK = 1 << 20


def _name(path: str | os.PathLike[str]) -> str:
    return os.fspath(path)


def _what_it_is(mode: int) -> str | None:
    """Describe a non-regular file type, or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def open_regular(
    path: str | os.PathLike[str], *, label: str = "", follow_symlinks: bool = True
) -> int:
    """Open ``path`` read-only and return the descriptor, refusing anything but a regular file.

    The path is ``stat``-ed before it is opened, so a FIFO or device is never opened at all; the
    open uses ``O_NONBLOCK | O_NOCTTY | O_CLOEXEC`` (plus ``O_NOFOLLOW`` when symbolic links are
    not followed) and ``fstat`` of the descriptor must show the same regular file.

    Args:
        path: the file.
        label: the argument or role the file has, used in messages (``--frames``, ``checker``).
        follow_symlinks: False refuses a symbolic link as the last component of ``path``.

    Returns:
        A blocking, read-only file descriptor; the caller closes it.

    Raises:
        FileRefused: no such file, no permission, not a regular file, or a symbolic link that is
            not followed.
    """
    name = _name(path)
    advice = "give the path of a regular file"
    try:
        before = os.stat(path, follow_symlinks=follow_symlinks)
    except FileNotFoundError:
        raise FileRefused(name, "no such file", "check the path", label=label) from None
    except OSError as err:
        raise FileRefused(name, f"cannot stat: {err.strerror}", advice, label=label) from None
    if stat.S_ISLNK(before.st_mode):  # only seen when links are not followed
        raise FileRefused(
            name,
            "is a symbolic link, and links are not followed here",
            "put the file itself there, not a link",
            label=label,
        )
    kind = _what_it_is(before.st_mode)
    if kind is not None:
        raise FileRefused(
            name,
            f"is {kind}, not a regular file",
            f"{advice} (a FIFO or device can block forever or never end, so none is read)",
            label=label,
        )
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
    if not follow_symlinks:
        flags |= os.O_NOFOLLOW
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if err.errno == errno.ELOOP and not follow_symlinks:
            problem = "is a symbolic link, and links are not followed here"
        else:
            problem = f"cannot open: {err.strerror}"
        raise FileRefused(name, problem, advice, label=label) from None
    try:
        after = os.fstat(fd)
        if not stat.S_ISREG(after.st_mode) or (after.st_dev, after.st_ino) != (
            before.st_dev,
            before.st_ino,
        ):
            raise FileRefused(
                name,
                "was replaced by another file while it was being opened",
                f"{advice} that nothing else changes",
                label=label,
            )
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _limit(kind: FileKind, max_bytes: int | None) -> int:
    return MAX_BYTES[kind] if max_bytes is None else max_bytes


def _too_big(name: str, size: int, limit: int, kind: FileKind, label: str) -> FileRefused:
    return FileRefused(
        name,
        f"is {size:,} bytes, more than the {limit:,} allowed for a {kind} file",
        "pass a smaller file (the limits are sandbox.safeio.MAX_BYTES; API callers can pass "
        "max_bytes=)",
        label=label,
    )


def read_bytes(
    path: str | os.PathLike[str],
    *,
    kind: FileKind,
    max_bytes: int | None = None,
    label: str = "",
    follow_symlinks: bool = True,
) -> bytes:
    """Read a regular file whole, refusing it unread when it is larger than its kind allows.

    Args:
        path: the file.
        kind: what the file is for; chooses the size limit in :data:`MAX_BYTES`.
        max_bytes: a different size limit, in bytes.
        label: the argument or role the file has, used in messages.
        follow_symlinks: False refuses a symbolic link as the last component of ``path``.

    Returns:
        The file's bytes.

    Raises:
        FileRefused: the file is not a regular file, cannot be opened, or is too large.
    """
    name = _name(path)
    limit = _limit(kind, max_bytes)
    fd = open_regular(path, label=label, follow_symlinks=follow_symlinks)
    try:
        size = os.fstat(fd).st_size
        if size > limit:
            raise _too_big(name, size, limit, kind, label)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            try:
                chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            except OSError as err:
                raise FileRefused(
                    name, f"cannot read: {err.strerror}", "check the file", label=label
                ) from None
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:
            raise _too_big(name, total, limit, kind, label)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(
    path: str | os.PathLike[str],
    *,
    kind: FileKind,
    max_bytes: int | None = None,
    label: str = "",
    follow_symlinks: bool = True,
) -> str:
    """Read a regular file as UTF-8 text, with :func:`read_bytes`'s checks.

    Raises:
        FileRefused: as :func:`read_bytes`, or the bytes are not UTF-8.
    """
    data = read_bytes(
        path, kind=kind, max_bytes=max_bytes, label=label, follow_symlinks=follow_symlinks
    )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise FileRefused(
            _name(path),
            f"is not UTF-8 text (byte {err.start:,}: {err.reason})",
            "save it as UTF-8",
            label=label,
        ) from None


class _Refusal(Exception):
    """Raised inside the JSON hooks; :func:`parse_json` turns it into :class:`FileRefused`."""

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem


def _depth(value: Any) -> int:
    """Nesting depth of parsed JSON (a scalar is 0, ``[]`` is 1), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Iterable[Any] = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest


def parse_json(
    text: str | bytes,
    *,
    source: str = "<json>",
    label: str = "",
    max_depth: int = JSON_MAX_DEPTH,
    max_int_digits: int = JSON_MAX_INT_DIGITS,
    allow_nan: bool = False,
) -> Any:
    """Parse JSON with bounded nesting and numbers.

    Args:
        text: the JSON text (bytes are decoded as UTF-8).
        source: where the text came from, used in messages (a path).
        label: the argument or role of the file, used in messages.
        max_depth: deepest nesting of arrays and objects accepted.
        max_int_digits: most digits in an integer; longer ones are refused before conversion.
        allow_nan: accept ``NaN``, ``Infinity`` and numbers too large for a float (as ``inf``).

    Returns:
        The parsed value (objects are dicts, arrays lists).

    Raises:
        FileRefused: invalid JSON, nesting deeper than ``max_depth``, an integer longer than
            ``max_int_digits`` digits, a number literal longer than
            :data:`JSON_MAX_NUMBER_CHARS`, a non-finite number (unless ``allow_nan``), or a
            duplicate key in one object.

    Example:
        >>> parse_json("[[[1]]]", max_depth=2)
        Traceback (most recent call last):
        ...
        sandbox.errors.FileRefused: <json>: is nested 3 levels deep, more than the 2 allowed; ...
    """
    advice = "fix or regenerate the file (vlm-car writes its files within these limits)"

    def refuse(problem: str) -> FileRefused:
        return FileRefused(source, problem, advice, label=label)

    def parse_int(literal: str) -> int:
        digits = len(literal) - literal.startswith("-")
        if digits > max_int_digits:
            raise _Refusal(f"holds an integer of {digits:,} digits (at most {max_int_digits})")
        return int(literal)

    def parse_float(literal: str) -> float:
        if len(literal) > JSON_MAX_NUMBER_CHARS:
            raise _Refusal(
                f"holds a number literal of {len(literal):,} characters "
                f"(at most {JSON_MAX_NUMBER_CHARS})"
            )
        value = float(literal)
        if not (allow_nan or math.isfinite(value)):
            raise _Refusal(f"holds the number {literal}, which is too large for a float")
        return value

    def parse_constant(name: str) -> float:
        if not allow_nan:
            raise _Refusal(f"holds {name}, which is not a number here")
        return float(name)

    def make_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise _Refusal(f"has the key {key[:80]!r} twice in one object")
            out[key] = value
        return out

    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as err:
            raise refuse(f"is not UTF-8 text (byte {err.start:,}: {err.reason})") from None
    try:
        value = json.loads(
            text,
            parse_int=parse_int,
            parse_float=parse_float,
            parse_constant=parse_constant,
            object_pairs_hook=make_object,
        )
    except _Refusal as err:
        raise refuse(err.problem) from None
    except RecursionError:
        raise refuse(f"is nested more than {max_depth} levels deep") from None
    except json.JSONDecodeError as err:
        raise refuse(
            f"is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}"
        ) from None
    except ValueError as err:  # anything else json or int() refuses
        raise refuse(f"is not valid JSON: {err}") from None
    depth = _depth(value)
    if depth > max_depth:
        raise refuse(f"is nested {depth} levels deep, more than the {max_depth} allowed")
    return value


def load_json(
    path: str | os.PathLike[str],
    *,
    max_bytes: int | None = None,
    label: str = "",
    follow_symlinks: bool = True,
    max_depth: int = JSON_MAX_DEPTH,
    max_int_digits: int = JSON_MAX_INT_DIGITS,
    allow_nan: bool = False,
) -> Any:
    """Read a regular JSON file (:func:`read_bytes` checks) and parse it (:func:`parse_json`).

    Raises:
        FileRefused: as :func:`read_bytes` and :func:`parse_json`.
    """
    data = read_bytes(
        path, kind="json", max_bytes=max_bytes, label=label, follow_symlinks=follow_symlinks
    )
    return parse_json(
        data,
        source=_name(path),
        label=label,
        max_depth=max_depth,
        max_int_digits=max_int_digits,
        allow_nan=allow_nan,
    )


def load_npy(
    path: str | os.PathLike[str],
    *,
    dtypes: Iterable[DTypeLike] = FRAME_DTYPES,
    max_bytes: int | None = None,
    label: str = "",
    follow_symlinks: bool = True,
) -> np.ndarray[Any, Any]:
    """Load a ``.npy`` array after checking its header against the file.

    The header must be format 1.0 or 2.0 (what :func:`numpy.save` writes), its dtype one of
    ``dtypes`` (never ``object`` or structured, so no pickle is ever involved), and the data its
    shape and dtype describe must fill the rest of the file exactly. Only then is the data read,
    into a new array (not a memory map).

    Args:
        path: the ``.npy`` file.
        dtypes: the dtypes accepted (default :data:`FRAME_DTYPES`, ``uint8``).
        max_bytes: a different size limit than ``MAX_BYTES["frames"]``, in bytes.
        label: the argument or role of the file, used in messages (``--frames``).
        follow_symlinks: False refuses a symbolic link as the last component of ``path``.

    Returns:
        The array, with the shape and dtype of its header.

    Raises:
        FileRefused: not a regular file, too large, not a ``.npy`` file, a malformed header, a
            dtype not in ``dtypes``, or a header that does not match the file's size.
    """
    name = _name(path)
    limit = _limit("frames", max_bytes)
    allowed = [np.dtype(d) for d in dtypes]
    fix = "save the array with numpy.save(path, np.asarray(x, dtype=np.uint8))"

    def refuse(problem: str, advice: str = fix) -> FileRefused:
        return FileRefused(name, problem, advice, label=label)

    fd = open_regular(path, label=label, follow_symlinks=follow_symlinks)
    with os.fdopen(fd, "rb") as fh:
        size = os.fstat(fd).st_size
        if size > limit:
            raise _too_big(name, size, limit, "frames", label)
        try:
            version = np.lib.format.read_magic(fh)
        except ValueError:
            raise refuse("is not a .npy file (it does not start with the .npy magic)") from None
        if version not in ((1, 0), (2, 0)):
            raise refuse(f"uses .npy format version {version[0]}.{version[1]} (1.0 or 2.0 only)")
        read_header = (
            np.lib.format.read_array_header_1_0
            if version == (1, 0)
            else np.lib.format.read_array_header_2_0
        )
        try:
            header = read_header(fh, max_header_size=_NPY_MAX_HEADER)
        except (ValueError, SyntaxError, TypeError, OverflowError, MemoryError) as err:
            raise refuse(f"has a malformed .npy header: {str(err)[:200]}") from None
        shape, fortran_order, dtype = header
        if dtype.hasobject:
            raise refuse("holds Python objects (dtype object); pickles are never loaded")
        if dtype.fields is not None or dtype.subdtype is not None:
            raise refuse(f"has the structured dtype {dtype}; plain arrays only")
        if not any(dtype == ok for ok in allowed):
            names = ", ".join(str(ok) for ok in allowed)
            raise refuse(f"has dtype {dtype} (allowed: {names})")
        count = math.prod(shape)
        data_bytes = count * dtype.itemsize
        offset = fh.tell()
        if offset + data_bytes != size:
            raise refuse(
                f"has a header claiming shape {tuple(shape)} of {dtype} ({data_bytes:,} bytes of "
                f"data), but the file holds {size - offset:,} bytes after the header"
            )
        array = np.empty(count, dtype=dtype)
        view = array.data.cast("B")
        filled = 0
        while filled < data_bytes:
            n = fh.readinto(view[filled:])
            if not n:
                raise refuse("became shorter while it was being read", "do not change it meanwhile")
            filled += n
    return array.reshape(shape, order="F" if fortran_order else "C")
