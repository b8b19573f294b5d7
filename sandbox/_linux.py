"""Linux plumbing shared by the isolation layers: libc through :mod:`ctypes`, raw syscalls, errno text.

Provides:
    libc: the C library, loaded once by soname with ``errno`` capture.
    syscall: call a syscall by number; ``OSError`` (with the errno) when it returns -1.
    errno_text: ``"EPERM (Operation not permitted)"`` for an errno value.
    thread_count: how many threads the calling process has (``/proc/self/task``).

Nothing here changes the process; the layers in :mod:`sandbox.oslimits`, :mod:`sandbox.landlock`,
:mod:`sandbox.privileges` and :mod:`sandbox.seccomp_policy` do.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import sys
import threading

__all__ = ["errno_text", "libc", "syscall", "thread_count"]


@functools.cache
def libc() -> ctypes.CDLL:
    """Return libc with ``errno`` capture.

    Loaded by soname: :func:`ctypes.util.find_library` would start ``ldconfig``/``gcc`` and write
    temporary files, which an isolated worker may not.

    Raises:
        OSError: not Linux, or there is no ``libc.so.6`` (musl, say).
    """
    if not sys.platform.startswith("linux"):
        raise OSError(errno.ENOSYS, f"isolation layers need Linux, this is {sys.platform}")
    lib = ctypes.CDLL("libc.so.6", use_errno=True)
    lib.syscall.restype = ctypes.c_long
    lib.unshare.argtypes = [ctypes.c_int]
    lib.unshare.restype = ctypes.c_int
    lib.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    lib.prctl.restype = ctypes.c_int
    return lib


def errno_text(err: int) -> str:
    """Return ``"EPERM (Operation not permitted)"`` for an errno value."""
    return f"{errno.errorcode.get(err, str(err))} ({os.strerror(err)})"


def syscall(number: int, *args: object, what: str) -> int:
    """Make a raw syscall and return its (non-negative) result.

    Args:
        number: the syscall number of this architecture.
        *args: integers (passed as ``long``), ``None`` (NULL) or ctypes pointers (``byref``).
        what: how to name the call in the error, e.g. ``"landlock_add_rule(/usr/lib)"``.

    Returns:
        The syscall's return value.

    Raises:
        OSError: the syscall returned -1; ``errno`` is the kernel's, the message names ``what``.
    """
    lib = libc()
    passed = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    ctypes.set_errno(0)
    rc = int(lib.syscall(ctypes.c_long(number), *passed))
    if rc == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {errno_text(err)}")
    return rc


def thread_count() -> int:
    """Return the number of threads of this process (native ones included, not only Python's).

    Reads ``/proc/self/task``; falls back to :func:`threading.active_count` (Python threads only)
    when ``/proc`` cannot be read (not mounted, or Landlock already forbids it).
    """
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()
