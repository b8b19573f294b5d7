"""Least privilege for a worker process: no capabilities, and an unprivileged uid where it can work.

Provides:
    NOBODY: the uid and gid a worker drops to (65534, ``nobody``/``nogroup``).
    uid_drop_blocker: why uid 65534 could not read (or write) what a worker needs, or ``None``.
    drop_privileges: drop every capability and, when possible, become uid/gid 65534.

A worker started by root holds every capability: it could read any file regardless of its mode
(``CAP_DAC_OVERRIDE``), signal or trace any process, load kernel modules... The seccomp filter and
Landlock already deny most of that, but each layer should hold on its own. :func:`drop_privileges`:

1. locks the securebits ``NOROOT``, ``NO_SETUID_FIXUP``, ``KEEP_CAPS`` (off) and
   ``NO_CAP_AMBIENT_RAISE``, so uid 0 confers no capability again, not even through ``execve``
   (needs ``CAP_SETPCAP``);
2. drops every capability up to the kernel's last one from the bounding set
   (``PR_CAPBSET_DROP``, needs ``CAP_SETPCAP``) and clears the ambient set;
3. when root and uid 65534 can still read every read path (and write every write path), calls
   ``setgroups([])``, ``setresgid`` and ``setresuid`` to 65534. That is decided from the mode bits
   of every path component (not :func:`os.access`, which answers for the *current* uid). Python in
   ``/root`` (mode 0700) cannot be read by uid 65534: uid 0 is then kept, without capabilities,
   which still removes root's power over files it does not own (no ``CAP_DAC_*``, ``CAP_FOWNER``);
4. sets the effective, permitted and inheritable sets to empty (``capset``) and checks that
   ``capget`` reads them back empty.

Capabilities and securebits belong to a thread, not a process, so :func:`drop_privileges` refuses
to run while the process has more than one thread.
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
from collections.abc import Sequence
from typing import Final

from sandbox._linux import errno_text, libc, thread_count

__all__ = ["NOBODY", "drop_privileges", "uid_drop_blocker"]

#: uid and gid of ``nobody`` / ``nogroup``: owns nothing, belongs to no group.
NOBODY: Final = 65534

# <linux/prctl.h>, <linux/securebits.h>, <linux/capability.h>
_PR_SET_PDEATHSIG: Final = 1
_PR_GET_PDEATHSIG: Final = 2
_PR_CAPBSET_READ: Final = 23
_PR_CAPBSET_DROP: Final = 24
_PR_GET_SECUREBITS: Final = 27
_PR_SET_SECUREBITS: Final = 28
_PR_CAP_AMBIENT: Final = 47
_PR_CAP_AMBIENT_CLEAR_ALL: Final = 4
_SECBIT_NOROOT: Final = 1 << 0
_SECBIT_NOROOT_LOCKED: Final = 1 << 1
_SECBIT_NO_SETUID_FIXUP: Final = 1 << 2
_SECBIT_NO_SETUID_FIXUP_LOCKED: Final = 1 << 3
_SECBIT_KEEP_CAPS_LOCKED: Final = 1 << 5
_SECBIT_NO_CAP_AMBIENT_RAISE: Final = 1 << 6
_SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: Final = 1 << 7
_SECUREBITS: Final = (
    _SECBIT_NOROOT
    | _SECBIT_NOROOT_LOCKED
    | _SECBIT_NO_SETUID_FIXUP
    | _SECBIT_NO_SETUID_FIXUP_LOCKED
    | _SECBIT_KEEP_CAPS_LOCKED  # KEEP_CAPS itself stays off
    | _SECBIT_NO_CAP_AMBIENT_RAISE
    | _SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED
)
_CAP_SETPCAP: Final = 8
_CAPABILITY_VERSION_3: Final = 0x20080522
_CAP_WORDS: Final = 2  # version 3: two 32-bit words per set


class _CapHeader(ctypes.Structure):
    """``struct __user_cap_header_struct``."""

    _fields_ = (("version", ctypes.c_uint32), ("pid", ctypes.c_int))


class _CapData(ctypes.Structure):
    """``struct __user_cap_data_struct`` (one 32-bit word of each set)."""

    _fields_ = (
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    )


def _capget() -> tuple[int, int, int]:
    """Return this thread's (effective, permitted, inheritable) capability sets as bit masks."""
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * _CAP_WORDS)()
    lib = libc()
    if lib.capget(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capget: {errno_text(err)}")
    words = [(d.effective, d.permitted, d.inheritable) for d in data]
    eff, prm, inh = ((words[1][i] << 32) | words[0][i] for i in range(3))
    return eff, prm, inh


def _capset_empty() -> None:
    """Empty the effective, permitted and inheritable sets of this thread (always permitted)."""
    header = _CapHeader(_CAPABILITY_VERSION_3, 0)
    data = (_CapData * _CAP_WORDS)()
    if libc().capset(ctypes.byref(header), data) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"capset(0, 0, 0): {errno_text(err)}")


def _bounding_set() -> list[int]:
    """Return the capabilities left in the bounding set (``PR_CAPBSET_READ`` up to the last).

    The last capability the kernel knows is found by asking until ``EINVAL`` (what
    ``/proc/sys/kernel/cap_last_cap`` says, without reading ``/proc``, which Landlock forbids).
    """
    lib, held = libc(), []
    for cap in range(64):
        answer = lib.prctl(_PR_CAPBSET_READ, cap, 0, 0, 0)
        if answer < 0:
            break
        if answer == 1:
            held.append(cap)
    return held


def _last_cap() -> int:
    lib = libc()
    return next(c for c in range(64) if lib.prctl(_PR_CAPBSET_READ, c + 1, 0, 0, 0) < 0)


def _allows(info: os.stat_result, uid: int, gid: int, bits: str) -> bool:
    """Whether the mode bits of ``info`` grant ``bits`` (some of ``"rwx"``) to ``uid``/``gid``."""
    shift = 6 if info.st_uid == uid else 3 if info.st_gid == gid else 0
    need = sum({"r": 4, "w": 2, "x": 1}[b] for b in bits) << shift
    return info.st_mode & need == need


def _path_blocker(path: str, uid: int, gid: int, *, write: bool) -> str | None:
    """Why ``uid``/``gid`` (no other groups) could not reach ``path``, from mode bits only."""
    real = os.path.realpath(path)
    try:
        info = os.stat(real)
    except OSError:
        return None  # missing paths are skipped by Landlock too
    what = "writable" if write else "readable"
    parts = real.split(os.sep)[1:]
    for i in range(len(parts)):
        parent = os.sep + os.sep.join(parts[:i])
        here = os.stat(parent)
        if not _allows(here, uid, gid, "x"):
            mode = stat.S_IMODE(here.st_mode)
            return f"{real} is not {what} by uid {uid} ({parent} is mode {mode:04o}, owner {here.st_uid})"
    is_dir = stat.S_ISDIR(info.st_mode)
    bits = ("rwx" if is_dir else "rw") if write else ("rx" if is_dir else "r")
    if not _allows(info, uid, gid, bits):
        mode = stat.S_IMODE(info.st_mode)
        return f"{real} is not {what} by uid {uid} (mode {mode:04o}, owner {info.st_uid})"
    return None


def uid_drop_blocker(
    read_paths: Sequence[str], write_paths: Sequence[str] = (), *, uid: int = NOBODY
) -> str | None:
    """Say why ``uid`` (gid ``uid``, no supplementary groups) could not use the worker's paths.

    Every path component must be searchable, each read path readable and each write path writable
    by that uid according to its mode bits (ACLs are not consulted; the contents beneath a path
    are not walked, only the path itself).

    Args:
        read_paths: what the worker reads after isolation.
        write_paths: what it writes.
        uid: the uid (and gid) to check for.

    Returns:
        ``None`` when the uid can use them all, else the first obstacle, e.g.
        ``"/root/.pyenv/versions/3.11.7 is not readable by uid 65534 (/root is mode 0700,
        owner 0)"``.
    """
    for path in write_paths:
        if (why := _path_blocker(path, uid, uid, write=True)) is not None:
            return why
    for path in read_paths:
        if (why := _path_blocker(path, uid, uid, write=False)) is not None:
            return why
    return None


def _become_nobody() -> None:
    """``setgroups([])``, ``setresgid`` and ``setresuid`` to :data:`NOBODY`, keeping the pdeathsig.

    The kernel clears the parent-death signal when the uid changes: it is armed again, and if the
    parent died in between, the process kills itself as the signal would have.
    """
    lib = libc()
    armed = ctypes.c_int(0)
    lib.prctl(_PR_GET_PDEATHSIG, ctypes.addressof(armed), 0, 0, 0)
    parent = os.getppid()
    os.setgroups([])
    os.setresgid(NOBODY, NOBODY, NOBODY)
    os.setresuid(NOBODY, NOBODY, NOBODY)
    if armed.value:
        lib.prctl(_PR_SET_PDEATHSIG, armed.value, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), armed.value)


def drop_privileges(
    *, read_paths: Sequence[str], write_paths: Sequence[str] = (), threads: int | None = None
) -> str:
    """Drop every capability and, as root, become uid/gid 65534 when the paths allow it.

    Irreversible. See the module docstring for the steps.

    Args:
        read_paths: what the worker still reads (decides whether uid 65534 can work).
        write_paths: what it still writes (likewise).
        threads: the thread count the caller saw before Landlock hid ``/proc`` (after it, only
            Python's threads can be counted here).

    Returns:
        What was dropped and why the uid was kept, if it was.

    Raises:
        OSError: another thread exists, a capability could not be dropped, or ``capget`` does
            not read back empty sets.
    """
    threads = max(thread_count(), threads or 1)
    if threads != 1:
        raise OSError(
            errno.EBUSY,
            f"the process has {threads} threads and capabilities belong to each thread; drop "
            "them before any thread starts",
        )
    lib = libc()
    euid = os.geteuid()
    eff, _, _ = _capget()
    notes: list[str] = []
    if eff >> _CAP_SETPCAP & 1:
        if lib.prctl(_PR_SET_SECUREBITS, _SECUREBITS, 0, 0, 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"prctl(PR_SET_SECUREBITS): {errno_text(err)}")
        notes.append(
            "securebits NOROOT, NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE set, KEEP_CAPS "
            "off, all locked"
        )
        for cap in _bounding_set():
            if lib.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                err = ctypes.get_errno()
                raise OSError(err, f"prctl(PR_CAPBSET_DROP, {cap}): {errno_text(err)}")
    if lib.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        if err != errno.EINVAL:  # EINVAL: a kernel without ambient capabilities (< 4.3)
            raise OSError(err, f"prctl(PR_CAP_AMBIENT_CLEAR_ALL): {errno_text(err)}")
    left = _bounding_set()
    if euid == 0:
        blocker = uid_drop_blocker(read_paths, write_paths)
        if blocker is None:
            _become_nobody()
            uid_note = f"uid/gid {NOBODY}, no supplementary groups"
        else:
            uid_note = f"uid 0 kept: {blocker}"
    else:
        uid_note = f"not root (uid {euid}): nothing to drop but capabilities"
    _capset_empty()
    if _capget() != (0, 0, 0):
        raise OSError(errno.EPERM, "capset: capget does not read back empty sets")
    if left and euid == 0:
        raise OSError(errno.EPERM, f"bounding set still holds capabilities {left} (no CAP_SETPCAP)")
    bounding = (
        f"bounding set empty (0-{_last_cap()})"
        if not left
        else f"bounding set kept ({len(left)} capabilities; dropping needs CAP_SETPCAP)"
    )
    parts = ["all capabilities dropped (effective, permitted, inheritable, ambient)", bounding]
    return "; ".join([*parts, *notes, uid_note])
