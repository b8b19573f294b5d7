"""Landlock: the worker's read wall and write wall, through raw syscalls (Linux 5.13 and later).

Provides:
    abi_version: the Landlock ABI of the running kernel (``OSError`` when there is none).
    restrict: confine the calling process to reading beneath some paths and writing beneath others.
    deny_writes: stack a second domain with no write right anywhere (used by ``seal``).
    default_read_paths: what a worker must still be able to read (the Python installation,
        the installed packages, the shared libraries, Numba's cache).

Landlock is an unprivileged, stackable Linux security module: a process builds a *ruleset* that
names the access rights it wants governed ("handled"), adds one rule per directory or file with
the rights allowed beneath it, and restricts itself. Every handled right that no rule grants is
denied for the rest of the process's life, to it and to every thread it starts later. Rights that
the kernel's ABI does not know are masked off (a 5.13 kernel knows neither REFER nor TRUNCATE),
so the same code runs, with a weaker wall, on every kernel since Landlock exists.

What :func:`restrict` handles, and grants:

- file system (ABI 1-5): every right the ABI knows. Beneath ``read_paths``: ``READ_FILE`` and
  ``READ_DIR`` only (no ``EXECUTE``: ``dlopen`` maps a library with ``mmap``, which Landlock does
  not govern, after an ordinary read open; ``execve`` is never needed). Beneath ``write_paths``:
  those plus ``WRITE_FILE``, ``TRUNCATE``, ``MAKE_REG``, ``MAKE_DIR``, ``REMOVE_FILE``,
  ``REMOVE_DIR`` and ``REFER`` (rename within the directory), which Numba's on-disk cache needs
  (a ``__pycache__`` directory, temporary files renamed into place). Never granted anywhere:
  devices, FIFOs, sockets and symlinks (``MAKE_CHAR``, ``MAKE_BLOCK``, ``MAKE_FIFO``,
  ``MAKE_SOCK``, ``MAKE_SYM``), ``IOCTL_DEV``. ``/dev/null`` and ``/dev/urandom`` are always
  readable. Nothing else is: not ``/proc`` (so not the parent's ``environ`` or ``mem``), not
  ``/dev/shm``, ``/etc``, ``/tmp`` or home directories unless a path names them.
- network (ABI 4): TCP ``bind`` and ``connect`` handled with no rule, so both are denied.
- scopes (ABI 6): abstract UNIX sockets and signals are confined to the domain: nothing outside
  it can be reached through an abstract socket name, nor signalled.

Files opened before :func:`restrict` (the worker's socket, its frame buffer, its stdio) keep the
access they were opened with. ``landlock_restrict_self`` confines the calling *thread* only (and
the threads it starts afterwards), so :func:`restrict` refuses to run while other threads exist.
"""

from __future__ import annotations

import ctypes
import errno
import os
import platform
import stat
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Final

from sandbox._linux import errno_text, libc, syscall, thread_count

__all__ = ["abi_version", "default_read_paths", "deny_writes", "restrict"]

# --- uapi <linux/landlock.h> ----------------------------------------------------------------------
# Same numbers on every architecture with the unified syscall table (x86_64, aarch64, ...).
_SYSCALLS: Final = {"x86_64": (444, 445, 446), "aarch64": (444, 445, 446)}
_CREATE_RULESET_VERSION: Final = 1 << 0
_RULE_PATH_BENEATH: Final = 1
_PR_SET_NO_NEW_PRIVS: Final = 38

EXECUTE: Final = 1 << 0
WRITE_FILE: Final = 1 << 1
READ_FILE: Final = 1 << 2
READ_DIR: Final = 1 << 3
REMOVE_DIR: Final = 1 << 4
REMOVE_FILE: Final = 1 << 5
MAKE_CHAR: Final = 1 << 6
MAKE_DIR: Final = 1 << 7
MAKE_REG: Final = 1 << 8
MAKE_SOCK: Final = 1 << 9
MAKE_FIFO: Final = 1 << 10
MAKE_BLOCK: Final = 1 << 11
MAKE_SYM: Final = 1 << 12
REFER: Final = 1 << 13  # ABI 2
TRUNCATE: Final = 1 << 14  # ABI 3
IOCTL_DEV: Final = 1 << 15  # ABI 5
NET_BIND_TCP: Final = 1 << 0  # ABI 4
NET_CONNECT_TCP: Final = 1 << 1  # ABI 4
SCOPE_ABSTRACT_UNIX_SOCKET: Final = 1 << 0  # ABI 6
SCOPE_SIGNAL: Final = 1 << 1  # ABI 6

#: Rights that may be granted on a regular file (the others are about directories).
_FILE_RIGHTS: Final = EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
_READ: Final = READ_FILE | READ_DIR
_WRITE: Final = (
    _READ | WRITE_FILE | TRUNCATE | MAKE_REG | MAKE_DIR | REMOVE_FILE | REMOVE_DIR | REFER
)
#: Device files every worker may read (opened by libraries that want entropy or a sink).
_ALWAYS_READABLE: Final = ("/dev/null", "/dev/urandom")
#: Where shared libraries live (dlopen after isolation: numpy's and llvmlite's dependencies).
_LIBRARY_DIRS: Final = ("/usr/lib", "/lib", "/lib64", "/usr/lib64", "/usr/local/lib")


class _RulesetAttr(ctypes.Structure):
    """``struct landlock_ruleset_attr`` (the kernel is told how much of it this ABI knows)."""

    _fields_ = (
        ("handled_access_fs", ctypes.c_uint64),
        ("handled_access_net", ctypes.c_uint64),  # ABI 4
        ("scoped", ctypes.c_uint64),  # ABI 6
    )


class _PathBeneathAttr(ctypes.Structure):
    """``struct landlock_path_beneath_attr``, packed as in the uapi header."""

    _pack_ = 1
    _fields_ = (("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32))


def _numbers() -> tuple[int, int, int]:
    """Return the numbers of ``landlock_create_ruleset``, ``_add_rule`` and ``_restrict_self``."""
    machine = platform.machine()
    if not sys.platform.startswith("linux") or machine not in _SYSCALLS:
        raise OSError(
            errno.ENOSYS,
            f"Landlock support here covers Linux on x86_64/aarch64, not {sys.platform}/{machine}",
        )
    return _SYSCALLS[machine]


def abi_version() -> int:
    """Return the Landlock ABI version of the running kernel (1 for 5.13, 7 for 6.15 and later).

    Raises:
        OSError: not Linux on x86_64/aarch64 (``ENOSYS``), a kernel without Landlock (``ENOSYS``)
            or with Landlock disabled at boot (``EOPNOTSUPP``; add ``landlock`` to ``lsm=``).
    """
    create, _, _ = _numbers()
    return syscall(
        create, None, 0, _CREATE_RULESET_VERSION, what="landlock_create_ruleset(VERSION)"
    )


def _fs_rights(abi: int) -> int:
    """Every file-system right ABI ``abi`` knows."""
    rights = (MAKE_SYM << 1) - 1  # ABI 1: EXECUTE .. MAKE_SYM
    if abi >= 2:
        rights |= REFER
    if abi >= 3:
        rights |= TRUNCATE
    if abi >= 5:
        rights |= IOCTL_DEV
    return rights


def _create(handled_fs: int, handled_net: int, scoped: int, abi: int) -> int:
    """Create a ruleset; return its fd. Only the part of the struct this ABI knows is passed."""
    create, _, _ = _numbers()
    attr = _RulesetAttr(handled_fs, handled_net, scoped)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    return syscall(create, ctypes.byref(attr), size, 0, what="landlock_create_ruleset")


def _add_path(ruleset: int, path: str, rights: int) -> None:
    """Allow ``rights`` beneath ``path`` (only the file rights when it is not a directory)."""
    _, add_rule, _ = _numbers()
    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    try:
        if not stat.S_ISDIR(os.fstat(fd).st_mode):
            rights &= _FILE_RIGHTS
        attr = _PathBeneathAttr(rights, fd)
        syscall(
            add_rule,
            ruleset,
            _RULE_PATH_BENEATH,
            ctypes.byref(attr),
            0,
            what=f"landlock_add_rule({path})",
        )
    finally:
        os.close(fd)


def _restrict_self(ruleset: int) -> str:
    """Enforce the ruleset on the calling thread; set ``no_new_privs`` first if the kernel asks.

    Without ``CAP_SYS_ADMIN`` the kernel requires ``no_new_privs`` (which isolation sets anyway).

    Returns:
        ``""``, or a note that ``no_new_privs`` had to be set here.
    """
    _, _, restrict_self = _numbers()
    try:
        syscall(restrict_self, ruleset, 0, what="landlock_restrict_self")
    except PermissionError:
        lib = libc()
        if lib.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(
                err, f"prctl(PR_SET_NO_NEW_PRIVS) for Landlock: {errno_text(err)}"
            ) from None
        syscall(restrict_self, ruleset, 0, what="landlock_restrict_self")
        return "; no_new_privs set for it (no CAP_SYS_ADMIN)"
    return ""


def _single_thread(what: str) -> None:
    """Raise unless the process has one thread: Landlock confines only the calling thread."""
    threads = thread_count()
    if threads != 1:
        raise OSError(
            errno.EBUSY,
            f"{what}: the process has {threads} threads and landlock_restrict_self confines only "
            "the calling one; apply isolation before any thread starts (pin thread pools with "
            "sandbox.oslimits.pinned_thread_env)",
        )


def _unique(paths: Iterable[str]) -> list[str]:
    """Resolve symlinks, drop duplicates, keep the order."""
    seen: dict[str, None] = {}
    for path in paths:
        seen.setdefault(os.path.realpath(path))
    return list(seen)


def restrict(*, read_paths: Sequence[str], write_paths: Sequence[str] = ()) -> str:
    """Confine the calling process to reading beneath ``read_paths``, writing beneath ``write_paths``.

    Irreversible. See the module docstring for the rights handled and granted.

    Args:
        read_paths: directories or files whose contents stay readable; missing ones are skipped
            (and counted in the returned text).
        write_paths: directories (or files) that stay readable and writable; each must exist.

    Returns:
        A one-line description of the domain, e.g. ``"Landlock ABI 7: read beneath 9 paths, ..."``.

    Raises:
        OSError: Landlock is unavailable (see :func:`abi_version`), another thread exists, a write
            path is missing, or a syscall failed; nothing is enforced then.
    """
    abi = abi_version()
    _single_thread("Landlock")
    handled_net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    fs = _fs_rights(abi)
    writes = _unique(write_paths)
    for path in writes:
        if not os.path.exists(path):
            raise OSError(
                errno.ENOENT,
                f"Landlock: write path {path} does not exist; create it before isolation",
            )
    reads = [p for p in _unique(read_paths) if p not in writes]
    missing = [p for p in reads if not os.path.exists(p)]
    ruleset = _create(fs, handled_net, scoped, abi)
    try:
        for path in writes:
            _add_path(ruleset, path, _WRITE & fs)
        for path in reads:
            if path not in missing:
                _add_path(ruleset, path, _READ & fs)
        for path in _ALWAYS_READABLE:
            if os.path.exists(path):
                _add_path(ruleset, path, READ_FILE)
        note = _restrict_self(ruleset)
    finally:
        os.close(ruleset)
    parts = [f"Landlock ABI {abi}: read beneath {len(reads) - len(missing)} paths"]
    if missing:
        parts[0] += f" ({len(missing)} missing, skipped)"
    parts.append(f"read+write beneath {', '.join(writes)}" if writes else "no writes anywhere")
    parts.append("nothing else (no /proc, /dev/shm, /etc, /tmp; no execute)")
    if handled_net:
        parts.append("TCP bind/connect denied")
    if scoped:
        parts.append("abstract UNIX sockets and signals scoped to the domain")
    return "; ".join(parts) + note


def deny_writes() -> str:
    """Stack a Landlock domain that grants no write right anywhere (stage 2, ``seal``).

    Irreversible. Reads stay governed by the domain :func:`restrict` set (if any).

    Returns:
        What was enforced.

    Raises:
        OSError: Landlock is unavailable, another thread exists, or a syscall failed.
    """
    abi = abi_version()
    _single_thread("Landlock (seal)")
    ruleset = _create(_fs_rights(abi) & ~_READ, 0, 0, abi)
    try:
        note = _restrict_self(ruleset)
    finally:
        os.close(ruleset)
    return f"Landlock ABI {abi}: a second domain with no write right anywhere{note}"


def default_read_paths() -> tuple[str, ...]:
    """Return the paths a worker must still read after isolation, symlinks resolved.

    - ``sys.prefix``, ``sys.exec_prefix`` (the virtual environment, its ``site-packages``) and
      ``sys.base_prefix``, ``sys.base_exec_prefix`` (the interpreter's installation: the
      standard library, ``lib-dynload``, ``libpython``): modules imported lazily after isolation
      (``numba`` imports parts of itself during its first compile) and source lines for tracebacks.
      A venv's ``python`` is a symlink (here into ``/root/.pyenv``), hence the resolution.
    - every existing absolute :data:`sys.path` entry (directories and zip files): the project
      root when it is on the path, ``.pth``-added directories.
    - the directory of this ``sandbox`` package (an editable install finds it through an import
      hook, not :data:`sys.path`): its vision kernels' Numba cache (``__pycache__``).
    - the shared-library directories that exist (``/usr/lib``, ``/lib``, ``/lib64``,
      ``/usr/lib64``, ``/usr/local/lib``) and ``/etc/ld.so.cache``: ``dlopen`` of a library that
      was not loaded before isolation (llvmlite and numpy load some on first use).
    - ``NUMBA_CACHE_DIR`` (or ``numba.config.CACHE_DIR`` when numba is imported), when set:
      where Numba keeps the cache of functions whose own directory is not writable.

    Returns:
        Unique absolute paths, in that order; only paths that exist.
    """
    candidates: list[str] = [sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix]
    candidates += [p for p in sys.path if p and os.path.isabs(p)]
    candidates.append(str(Path(__file__).resolve().parent))
    candidates += list(_LIBRARY_DIRS)
    candidates.append("/etc/ld.so.cache")
    numba_cache = os.environ.get("NUMBA_CACHE_DIR", "")
    config = getattr(sys.modules.get("numba.core.config"), "CACHE_DIR", "")
    candidates += [d for d in (numba_cache, config) if isinstance(d, str) and d]
    return tuple(p for p in _unique(candidates) if os.path.exists(p))
