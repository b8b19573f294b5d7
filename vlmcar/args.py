"""Command-line argument validation, done by ``argparse`` before a command does any work.

Provides:
    UsageError: a usage problem found after parsing (exit code 2, no traceback).
    positive_int, non_negative_int, positive_float: number types for ``add_argument(type=...)``.
    identifier: a Python identifier (an entry function's name).
    existing_file, existing_dir: input paths that must exist and be of that kind.
    program_dir: a reward-program (bundle) directory, the one holding ``program.json``.
    output_dir, output_file: output paths that must not be blocked by something of the other kind.
    unknown_choice: the message for a name that is not among the choices, with close matches.

Every validator is an ``argparse`` ``type=``: it gets the raw string and returns the converted value or
raises :class:`argparse.ArgumentTypeError`, which ``argparse`` prints as
``vlmcar CMD: error: argument --NAME: MESSAGE`` and turns into exit code 2. So a bad value is refused
before anything is loaded, rendered or trained, never after minutes of work. Validators only look at
the file system (``stat``); reading files is left to the command (:mod:`sandbox.safeio`).

Example:
    >>> import argparse
    >>> parser = argparse.ArgumentParser(prog="demo", exit_on_error=False)
    >>> _ = parser.add_argument("--examples", type=positive_int, default=100)
    >>> parser.parse_args(["--examples", "5"]).examples
    5
    >>> positive_int("0")
    Traceback (most recent call last):
    ...
    argparse.ArgumentTypeError: must be an integer >= 1, got '0'
"""

from __future__ import annotations

import argparse
import difflib
import math
import os
import stat
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "UsageError",
    "existing_dir",
    "existing_file",
    "identifier",
    "non_negative_int",
    "output_dir",
    "output_file",
    "output_png",
    "positive_float",
    "positive_int",
    "program_dir",
    "unknown_choice",
]


class UsageError(Exception):
    """A usage problem that ``argparse`` cannot see (it depends on several arguments or a file).

    ``vlmcar`` prints ``vlmcar CMD: error: MESSAGE`` and exits 2, without a traceback.

    Attributes:
        message: what is wrong and what to do.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        value = None
    if value is None or value < minimum:
        raise argparse.ArgumentTypeError(f"must be an integer >= {minimum}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """An integer >= 1 (counts: examples, rounds, rollouts, steps).

    Example:
        >>> positive_int("12")
        12
    """
    return _integer(text, 1)


def non_negative_int(text: str) -> int:
    """An integer >= 0 (seeds, counts that may be zero).

    Example:
        >>> non_negative_int("0")
        0
    """
    return _integer(text, 0)


def positive_float(text: str) -> float:
    """A finite number > 0 (seconds, rates).

    Example:
        >>> positive_float("0.5")
        0.5
        >>> positive_float("nan")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a finite number > 0, got 'nan'
    """
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def identifier(text: str) -> str:
    """A Python identifier, e.g. the name of a checker's entry function.

    Example:
        >>> identifier("check")
        'check'
        >>> identifier("my check")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: must be a Python function name such as check, got 'my check'
    """
    if not text.isidentifier():
        raise argparse.ArgumentTypeError(
            f"must be a Python function name such as check, got {text!r}"
        )
    return text


def _stat(text: str) -> os.stat_result | None:
    try:
        return os.stat(text)
    except FileNotFoundError:
        return None
    except NotADirectoryError:
        raise argparse.ArgumentTypeError(
            f"{text}: a part of this path is a file, not a directory"
        ) from None
    except OSError as err:
        raise argparse.ArgumentTypeError(f"{text}: cannot inspect: {err.strerror}") from None


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def existing_file(text: str) -> str:
    """A path to an existing regular file (not a directory, pipe or device); returned unchanged.

    Example:
        >>> existing_file("/")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: /: is a directory, not a file
    """
    st = _stat(text)
    if st is None:
        raise argparse.ArgumentTypeError(f"{text}: no such file")
    if not stat.S_ISREG(st.st_mode):
        raise argparse.ArgumentTypeError(f"{text}: is {_kind(st.st_mode)}, not a file")
    return text


def existing_dir(text: str) -> str:
    """A path to an existing directory; returned unchanged."""
    st = _stat(text)
    if st is None:
        raise argparse.ArgumentTypeError(f"{text}: no such directory")
    if not stat.S_ISDIR(st.st_mode):
        raise argparse.ArgumentTypeError(f"{text}: is a file, not a directory")
    return text


def program_dir(text: str) -> str:
    """A reward-program or bundle directory: one that holds ``program.json``; unchanged.

    Example:
        >>> program_dir("/")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: /: holds no program.json; give a bundle or reward-program directory
    """
    st = _stat(text)
    if st is None:
        raise argparse.ArgumentTypeError(f"{text}: no such directory")
    if not stat.S_ISDIR(st.st_mode):
        parent = Path(text).parent
        hint = (
            f"give the directory that holds it: {parent}"
            if Path(text).name == "program.json"
            else "give a bundle or reward-program directory"
        )
        raise argparse.ArgumentTypeError(f"{text}: is a file, not a directory; {hint}")
    if not (Path(text) / "program.json").exists():
        raise argparse.ArgumentTypeError(
            f"{text}: holds no program.json; give a bundle or reward-program directory"
        )
    return text


def _creatable(path: Path, text: str) -> None:
    """Refuse ``path`` when its nearest existing ancestor is not a directory."""
    for parent in path.absolute().parents:
        st = _stat(str(parent))
        if st is None:
            continue
        if not stat.S_ISDIR(st.st_mode):
            raise argparse.ArgumentTypeError(
                f"{text}: cannot be created: {parent} is a file, not a directory"
            )
        return


def output_dir(text: str) -> str:
    """A directory to write into: existing, or creatable (never an existing file); unchanged.

    Example:
        >>> output_dir("/dev/null")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: /dev/null: exists and is not a directory; ...
    """
    st = _stat(text)
    if st is not None and not stat.S_ISDIR(st.st_mode):
        what = "is an existing file" if stat.S_ISREG(st.st_mode) else "exists"
        raise argparse.ArgumentTypeError(
            f"{text}: {what} and is not a directory; choose a directory (it is created if missing)"
        )
    if st is None:
        _creatable(Path(text), text)
    return text


def output_file(text: str) -> str:
    """A file to write: an existing regular file (replaced) or a new one; never a directory.

    Example:
        >>> output_file("/")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: /: is a directory; give a file name, e.g. /results.json
    """
    return _output_file(text, "results.json")


def output_png(text: str) -> str:
    """:func:`output_file` for an image (a directory is refused with a ``.png`` example).

    Example:
        >>> output_png("/")
        Traceback (most recent call last):
        ...
        argparse.ArgumentTypeError: /: is a directory; give a file name, e.g. /sheet.png
    """
    return _output_file(text, "sheet.png")


def _output_file(text: str, example_name: str) -> str:
    st = _stat(text)
    if st is not None:
        if stat.S_ISDIR(st.st_mode):
            example = str(Path(text) / example_name)
            raise argparse.ArgumentTypeError(
                f"{text}: is a directory; give a file name, e.g. {example}"
            )
        if not stat.S_ISREG(st.st_mode):
            raise argparse.ArgumentTypeError(f"{text}: is {_kind(st.st_mode)}, not a file")
        return text
    _creatable(Path(text), text)
    return text


def unknown_choice(what: str, value: str, choices: Iterable[str]) -> str:
    """The message for ``value`` not being one of ``choices``: close matches first, then all.

    Example:
        >>> ids = ["MiniGrid-DoorKey-5x5-v0", "CartPole-v1"]
        >>> print(unknown_choice("environment", "DoorKey-5x5", ids))  # doctest: +ELLIPSIS
        unknown environment 'DoorKey-5x5' (did you mean MiniGrid-DoorKey-5x5-v0?); choose one of: ...
    """
    options = list(choices)
    close = difflib.get_close_matches(value, options, n=3, cutoff=0.5)
    if not close:
        lowered = value.lower()
        close = [c for c in options if lowered and lowered in c.lower()][:3]
    hint = f" (did you mean {' or '.join(close)}?)" if close else ""
    return f"unknown {what} {value!r}{hint}; choose one of: {', '.join(options)}"
