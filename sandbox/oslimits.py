"""OS isolation layers for sandbox worker processes, and the probe behind ``vlmcar doctor``.

This module is trusted code. A worker process (spawned, never forked from the trainer) calls
:func:`apply_isolation` once at start-up, after it has attached what it needs from its parent (the
result pipe, the shared-memory frame buffers) and *before* any untrusted checker code is loaded.
Every layer is irreversible for that process:

``thread_pinning``
    ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``NUMBA_NUM_THREADS``,
    ``NUMEXPR_NUM_THREADS`` and ``MALLOC_ARENA_MAX`` set to ``"1"`` (plus
    ``mallopt(M_ARENA_MAX, 1)``). Native libraries read them when they are *loaded*, so the pool
    must also put :func:`pinned_thread_env` into the child's environment before it starts.
``netns``
    ``unshare(CLONE_NEWNET)``: the process gets a private network namespace that holds only a
    loopback interface which is down, so nothing, not even ``127.0.0.1``, can be reached.
    Unprivileged users fall back to ``CLONE_NEWUSER | CLONE_NEWNET``. Sockets and pipes opened before
    the call keep working.
``no_new_privs``
    ``prctl(PR_SET_NO_NEW_PRIVS, 1)``: no set-uid/file-capability gain through ``execve``.
``rlimits``
    ``RLIMIT_AS``, ``RLIMIT_CPU`` (soft, then hard = soft + 1 so ``SIGXCPU`` comes before
    ``SIGKILL``), ``RLIMIT_FSIZE`` (with ``SIGXFSZ`` ignored so an oversize write raises ``OSError``
    ``EFBIG`` instead of killing the worker), ``RLIMIT_NOFILE``, ``RLIMIT_CORE = 0``, and
    ``RLIMIT_NPROC`` / ``RLIMIT_STACK`` when set; plus :func:`sys.setrecursionlimit`.
``seccomp``
    A libseccomp filter (through :mod:`ctypes`, no Python binding needed) whose default is *allow*
    and which makes process creation, program execution, new sockets, namespaces, mounts, tracing,
    kernel modules, BPF, io_uring, credential changes, signals to other processes and raising
    resource limits fail with ``EPERM``; optionally every path-based file write fails with
    ``EACCES``. Threads keep working: ``clone`` is allowed only with ``CLONE_THREAD``, ``clone3``
    answers ``ENOSYS`` so glibc falls back to ``clone``, whose flags the filter can inspect.

:func:`probe` reports which layers this machine supports by trying them in a short-lived child
process, so the caller is never changed. Everything is Linux-specific and fails soft elsewhere (the
layers are reported unavailable).

Example:
    >>> names = [report.name for report in probe()]
    >>> names == list(LAYERS)
    True
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import math
import os
import platform
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

__all__ = [
    "LAYERS",
    "LayerReport",
    "Limits",
    "apply_isolation",
    "pinned_thread_env",
    "probe",
]

_MiB: Final = 1 << 20
_GiB: Final = 1 << 30
_RLIM_CEILING: Final = (1 << 63) - 1

#: The isolation layers, in the order :func:`apply_isolation` applies them (the recursion limit is
#: part of ``rlimits``). These names are what :func:`probe` reports and what ``required`` accepts.
LAYERS: Final[tuple[str, ...]] = ("thread_pinning", "netns", "no_new_privs", "rlimits", "seccomp")

#: Environment variables that size the thread pools of OpenMP, OpenBLAS, MKL, numba and numexpr, and
#: glibc's malloc arenas (each arena reserves 64 MiB of address space, which ``RLIMIT_AS`` counts).
_THREAD_VARS: Final = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "MALLOC_ARENA_MAX",
)
_M_ARENA_MAX: Final = -8  # mallopt(3)

# --- Linux constants (uapi headers: sched.h, prctl.h, fcntl.h, asm-generic/ioctls.h) --------------
_CLONE_THREAD: Final = 0x00010000
_CLONE_NEWNS: Final = 0x00020000
_CLONE_NEWCGROUP: Final = 0x02000000
_CLONE_NEWUTS: Final = 0x04000000
_CLONE_NEWIPC: Final = 0x08000000
_CLONE_NEWUSER: Final = 0x10000000
_CLONE_NEWPID: Final = 0x20000000
_CLONE_NEWNET: Final = 0x40000000
_PR_SET_NO_NEW_PRIVS: Final = 38
_PR_GET_NO_NEW_PRIVS: Final = 39
_O_WRONLY: Final = 0o1
_O_RDWR: Final = 0o2
_O_CREAT: Final = 0o100
_O_TRUNC: Final = 0o1000
_O_APPEND: Final = 0o2000
_TIOCSTI: Final = 0x5412
_TIOCLINUX: Final = 0x541C

# --- libseccomp constants (seccomp.h of libseccomp 2.x) -------------------------------------------
SCMP_ACT_KILL_PROCESS: Final = 0x80000000
SCMP_ACT_ALLOW: Final = 0x7FFF0000
_SCMP_CMP_NE: Final = 1
_SCMP_CMP_EQ: Final = 4
_SCMP_CMP_MASKED_EQ: Final = 7
_SCMP_FLTATR_ACT_BADARCH: Final = 2
_SCMP_FLTATR_CTL_NNP: Final = 3
_SCMP_FLTATR_CTL_TSYNC: Final = 4


def SCMP_ACT_ERRNO(err: int) -> int:
    """Return the libseccomp action that makes a syscall fail with ``err``.

    Args:
        err: the errno value the denied syscall returns (``errno.EPERM``, ...).

    Returns:
        ``0x00050000 | err``, as ``SCMP_ACT_ERRNO(err)`` in ``seccomp.h``.
    """
    return 0x00050000 | (err & 0xFFFF)


# -------------------------------------------------------------------------------------------------
# Public data types
# -------------------------------------------------------------------------------------------------


def _check_int(name: str, value: object, *, low: int, high: int = _RLIM_CEILING) -> None:
    """Raise ``ValueError`` unless ``value`` is an ``int`` (not ``bool``) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"Limits.{name} must be an int, got {value!r} ({type(value).__name__})")
    if not low <= value <= high:
        raise ValueError(f"Limits.{name} must be between {low:,} and {high:,}, got {value:,}")


@dataclass(frozen=True)
class Limits:
    """Resource limits for one worker process.

    Attributes:
        address_space_bytes: ``RLIMIT_AS``, virtual memory of the whole process (every thread's
            stack and malloc arena, every mapped library, the numpy heap). At least 64 MiB; Python
            with numpy maps about 140 MiB, with numba about 320 MiB, before any checker runs.
        cpu_seconds: CPU seconds the worker may still use from the moment isolation is applied
            (``RLIMIT_CPU`` counts from process start, so the CPU already used is added, rounded
            up). At the soft limit the kernel sends ``SIGXCPU`` (which ends the worker), one second
            later ``SIGKILL``. It is a lifetime budget for the worker, not a per-call deadline.
        open_files: ``RLIMIT_NOFILE``. Raised, if need be, above the highest descriptor the worker
            already holds (the report says so).
        file_size_bytes: ``RLIMIT_FSIZE``: the largest regular file the worker may write. The
            default 0 makes every write to a regular file fail with ``EFBIG`` (``SIGXFSZ`` is
            ignored), including the worker's stdout/stderr if those are files rather than pipes.
        processes: ``RLIMIT_NPROC`` or ``None`` to leave it alone. The limit counts the processes of
            the *user* and does not apply to root at all; what stops new processes is the seccomp
            filter, not this.
        recursion_limit: :func:`sys.setrecursionlimit` value, 50 to 100,000.
        stack_bytes: ``RLIMIT_STACK`` (main thread) or ``None`` to leave it; at least 1 MiB.

    Raises:
        ValueError: a field has the wrong type or is out of range; the message names the field
            and the value.
    """

    address_space_bytes: int = 2 * _GiB
    cpu_seconds: int = 60
    open_files: int = 64
    file_size_bytes: int = 0
    processes: int | None = None
    recursion_limit: int = 400
    stack_bytes: int | None = None

    def __post_init__(self) -> None:
        _check_int("address_space_bytes", self.address_space_bytes, low=64 * _MiB)
        _check_int("cpu_seconds", self.cpu_seconds, low=1, high=10**9)
        _check_int("open_files", self.open_files, low=16, high=1 << 20)
        _check_int("file_size_bytes", self.file_size_bytes, low=0)
        if self.processes is not None:
            _check_int("processes", self.processes, low=1, high=1 << 22)
        _check_int("recursion_limit", self.recursion_limit, low=50, high=100_000)
        if self.stack_bytes is not None:
            _check_int("stack_bytes", self.stack_bytes, low=_MiB)


@dataclass(frozen=True)
class LayerReport:
    """Whether an isolation layer is available (:func:`probe`) or applied (:func:`apply_isolation`).

    Attributes:
        name: the layer, one of :data:`LAYERS`.
        available: ``True`` when the layer works here / was applied.
        detail: how (``"libseccomp 2.5.4 via ctypes; ..."``) or why not.
    """

    name: str
    available: bool
    detail: str


def pinned_thread_env() -> dict[str, str]:
    """Return the environment variables that pin native thread pools to one thread.

    The pool merges these into the environment of every worker it starts: OpenBLAS, MKL, OpenMP,
    numba and numexpr read them when they are loaded, which is before :func:`apply_isolation` runs
    if numpy is imported by the worker's start-up code. ``MALLOC_ARENA_MAX=1`` keeps glibc from
    reserving 64 MiB of address space per thread, which would count against ``RLIMIT_AS``.

    Returns:
        A new dict mapping each variable name to ``"1"``.
    """
    return dict.fromkeys(_THREAD_VARS, "1")


# -------------------------------------------------------------------------------------------------
# ctypes bindings: libc (unshare, prctl) and libseccomp
# -------------------------------------------------------------------------------------------------


def _load_libc() -> ctypes.CDLL:
    """Return libc with ``errno`` capture, or raise ``OSError`` when there is none (not Linux)."""
    if not sys.platform.startswith("linux"):
        raise OSError(errno.ENOSYS, f"not Linux ({sys.platform})")
    # Loaded by soname: ctypes.util.find_library would start ldconfig/gcc and write temp files.
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.unshare.argtypes = [ctypes.c_int]
    libc.unshare.restype = ctypes.c_int
    libc.prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
    libc.prctl.restype = ctypes.c_int
    return libc


def _errno_text(err: int) -> str:
    """Return ``"EPERM (Operation not permitted)"`` for an errno value."""
    return f"{errno.errorcode.get(err, str(err))} ({os.strerror(err)})"


class _ScmpArgCmp(ctypes.Structure):
    """``struct scmp_arg_cmp``: compare syscall argument ``arg`` with ``op`` against the datums."""

    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),  # enum scmp_compare
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


class _ScmpVersion(ctypes.Structure):
    """``struct scmp_version`` returned by ``seccomp_version()``."""

    _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint))


@dataclass(frozen=True)
class _Cmp:
    """One argument comparison of a seccomp rule (see ``seccomp_rule_add(3)``)."""

    arg: int
    op: int
    datum_a: int
    datum_b: int = 0


@dataclass(frozen=True)
class _Rule:
    """Deny ``syscall`` with ``err`` (when every comparison in ``cmps`` holds)."""

    syscall: str
    err: int
    cmps: tuple[_Cmp, ...] = ()


class _LibSeccomp:
    """Minimal binding of ``libseccomp.so.2``, written from the libseccomp C API man pages.

    Only what the worker filter needs: ``seccomp_init``, ``seccomp_attr_set``,
    ``seccomp_syscall_resolve_name``, ``seccomp_rule_add`` (through ``seccomp_rule_add_array``,
    because ctypes cannot pass structs through C varargs), ``seccomp_load`` and ``seccomp_release``.
    Functions that return a negative errno are turned into ``OSError``.
    """

    def __init__(self) -> None:
        """Load the shared library.

        Raises:
            OSError: not Linux, or ``libseccomp.so.2`` cannot be loaded.
        """
        if not sys.platform.startswith("linux"):
            raise OSError(errno.ENOSYS, f"not Linux ({sys.platform})")
        name = "libseccomp.so.2"  # by soname, see _load_libc
        lib = ctypes.CDLL(name)
        lib.seccomp_init.argtypes = [ctypes.c_uint32]
        lib.seccomp_init.restype = ctypes.c_void_p
        lib.seccomp_release.argtypes = [ctypes.c_void_p]
        lib.seccomp_release.restype = None
        lib.seccomp_attr_set.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]
        lib.seccomp_attr_set.restype = ctypes.c_int
        lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
        lib.seccomp_syscall_resolve_name.restype = ctypes.c_int
        lib.seccomp_rule_add_array.argtypes = [
            ctypes.c_void_p,
            ctypes.c_uint32,
            ctypes.c_int,
            ctypes.c_uint,
            ctypes.POINTER(_ScmpArgCmp),
        ]
        lib.seccomp_rule_add_array.restype = ctypes.c_int
        lib.seccomp_load.argtypes = [ctypes.c_void_p]
        lib.seccomp_load.restype = ctypes.c_int
        lib.seccomp_version.argtypes = []
        lib.seccomp_version.restype = ctypes.POINTER(_ScmpVersion)
        self._lib = lib
        self.name = name

    def version(self) -> str:
        """Return the library version, e.g. ``"2.5.4"``."""
        v = self._lib.seccomp_version().contents
        return f"{v.major}.{v.minor}.{v.micro}"

    def seccomp_init(self, default_action: int) -> int:
        """Create a filter context whose default action is ``default_action``.

        Args:
            default_action: ``SCMP_ACT_ALLOW`` or another action.

        Returns:
            The opaque context pointer.

        Raises:
            OSError: libseccomp could not allocate the context.
        """
        ctx = self._lib.seccomp_init(default_action)
        if not ctx:
            raise OSError(errno.ENOMEM, "seccomp_init failed")
        return int(ctx)

    def seccomp_attr_set(self, ctx: int, attr: int, value: int) -> None:
        """Set a filter attribute (``SCMP_FLTATR_*``).

        Args:
            ctx: the filter context.
            attr: the attribute number.
            value: its new value.

        Raises:
            OSError: libseccomp refused the attribute.
        """
        self._check(self._lib.seccomp_attr_set(ctx, attr, value), f"seccomp_attr_set({attr})")

    def seccomp_syscall_resolve_name(self, name: str) -> int:
        """Return the native syscall number of ``name``; negative when this architecture has none."""
        return int(self._lib.seccomp_syscall_resolve_name(name.encode()))

    def seccomp_rule_add(self, ctx: int, action: int, syscall: int, *cmps: _Cmp) -> None:
        """Add a rule: ``syscall`` takes ``action`` when all comparisons hold.

        Args:
            ctx: the filter context.
            action: e.g. ``SCMP_ACT_ERRNO(errno.EPERM)``.
            syscall: the number from :meth:`seccomp_syscall_resolve_name`.
            *cmps: argument comparisons, at most one per argument.

        Raises:
            OSError: libseccomp rejected the rule.
        """
        array = (_ScmpArgCmp * max(1, len(cmps)))()
        for slot, cmp in zip(array, cmps, strict=False):
            slot.arg, slot.op = cmp.arg, cmp.op
            slot.datum_a, slot.datum_b = cmp.datum_a, cmp.datum_b
        rc = self._lib.seccomp_rule_add_array(ctx, action, syscall, len(cmps), array)
        self._check(rc, f"seccomp_rule_add(syscall {syscall})")

    def seccomp_load(self, ctx: int) -> None:
        """Compile the filter and load it into the kernel for the calling process.

        Raises:
            OSError: the kernel refused the filter.
        """
        self._check(self._lib.seccomp_load(ctx), "seccomp_load")

    def seccomp_release(self, ctx: int) -> None:
        """Free a filter context (the loaded filter stays in the kernel)."""
        self._lib.seccomp_release(ctx)

    @staticmethod
    def _check(rc: int, what: str) -> None:
        if rc < 0:
            raise OSError(-rc, f"{what}: {_errno_text(-rc)}")


def _clone_flags_arg() -> int:
    """Return which argument of ``clone`` holds the flags on this architecture."""
    return 1 if platform.machine().startswith(("s390", "cris")) else 0


_DENY_ALWAYS: Final = (
    # programs and processes
    "execve", "execveat", "fork", "vfork",
    # networking (socketpair stays: it only makes a connected local pair)
    "socket", "connect", "bind", "listen", "accept", "accept4",
    # namespaces, mounts, roots
    "unshare", "setns", "mount", "umount2", "chroot", "pivot_root",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # other processes' memory and handles
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp",
    "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
    "tkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo",
    # kernel
    "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module", "bpf",
    "perf_event_open", "userfaultfd", "personality", "reboot", "swapon", "swapoff", "syslog",
    "iopl", "ioperm", "acct", "quotactl", "uselib", "lookup_dcookie", "vhangup", "fanotify_init",
    "open_by_handle_at", "name_to_handle_at",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    # io_uring runs opens, connects, ... without going through this filter
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    # keys
    "keyctl", "add_key", "request_key",
    # credentials
    "setuid", "setgid", "setreuid", "setregid", "setresuid", "setresgid", "setfsuid", "setfsgid",
    "setgroups", "capset",
    # scheduling (root could starve the machine with SCHED_FIFO) and limits (root could raise them)
    "sched_setscheduler", "sched_setparam", "sched_setattr", "setpriority",
    "setrlimit", "migrate_pages", "move_pages",
)  # fmt: skip

_DENY_WRITES: Final = (
    "creat", "truncate", "ftruncate", "unlink", "unlinkat", "rename", "renameat", "renameat2",
    "mkdir", "mkdirat", "rmdir", "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat",
    "chmod", "fchmod", "fchmodat", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "utimensat", "futimesat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
)  # fmt: skip

_WRITE_FLAGS: Final = (_O_WRONLY, _O_RDWR, _O_CREAT, _O_TRUNC, _O_APPEND)
_NAMESPACE_FLAGS: Final = (
    _CLONE_NEWNS,
    _CLONE_NEWCGROUP,
    _CLONE_NEWUTS,
    _CLONE_NEWIPC,
    _CLONE_NEWUSER,
    _CLONE_NEWPID,
    _CLONE_NEWNET,
)


def _seccomp_rules(*, pid: int, deny_file_writes: bool) -> list[_Rule]:
    """Return the worker's seccomp policy: the rules that deny, everything else is allowed.

    Args:
        pid: the worker's own pid (signals may go to it only).
        deny_file_writes: also deny opening files for writing and every path-based file change.

    Returns:
        The rules, in the order they are added.
    """
    eperm, eacces = errno.EPERM, errno.EACCES
    rules = [_Rule(name, eperm) for name in _DENY_ALWAYS]
    flags = _clone_flags_arg()
    # clone: threads (CLONE_THREAD set) are allowed; new processes and new namespaces are not.
    rules.append(_Rule("clone", eperm, (_Cmp(flags, _SCMP_CMP_MASKED_EQ, _CLONE_THREAD, 0),)))
    rules += [
        _Rule("clone", eperm, (_Cmp(flags, _SCMP_CMP_MASKED_EQ, f, f),)) for f in _NAMESPACE_FLAGS
    ]
    # clone3 passes its flags in a struct the filter cannot read: ENOSYS makes glibc use clone.
    rules.append(_Rule("clone3", errno.ENOSYS))
    # signals only to the worker itself (as root, kill(-1, SIGKILL) would reach every process).
    rules.append(_Rule("kill", eperm, (_Cmp(0, _SCMP_CMP_NE, pid),)))
    rules.append(_Rule("tgkill", eperm, (_Cmp(0, _SCMP_CMP_NE, pid),)))
    # prlimit64 may read limits (new_limit == NULL) but not set them.
    rules.append(_Rule("prlimit64", eperm, (_Cmp(2, _SCMP_CMP_NE, 0),)))
    # terminal input injection; ioctl's cmd is 32-bit, so compare the low 32 bits only.
    rules += [
        _Rule("ioctl", eperm, (_Cmp(1, _SCMP_CMP_MASKED_EQ, 0xFFFFFFFF, cmd),))
        for cmd in (_TIOCSTI, _TIOCLINUX)
    ]
    if deny_file_writes:
        rules += [
            _Rule("open", eacces, (_Cmp(1, _SCMP_CMP_MASKED_EQ, f, f),)) for f in _WRITE_FLAGS
        ]
        rules += [
            _Rule("openat", eacces, (_Cmp(2, _SCMP_CMP_MASKED_EQ, f, f),)) for f in _WRITE_FLAGS
        ]
        # openat2 keeps its flags in a struct: ENOSYS sends callers back to openat.
        rules.append(_Rule("openat2", errno.ENOSYS))
        rules += [_Rule(name, eacces) for name in _DENY_WRITES]
    return rules


def _install_seccomp(*, deny_file_writes: bool) -> str:
    """Build and load the worker filter into the calling process (all its threads).

    Args:
        deny_file_writes: see :func:`_seccomp_rules`.

    Returns:
        A one-line description of what was loaded.

    Raises:
        OSError: libseccomp is missing or refused the filter; nothing was loaded then.
    """
    lib = _LibSeccomp()
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    try:
        # Apply to every thread that already exists (a BLAS pool started before isolation, say).
        lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_TSYNC, 1)
        lib.seccomp_attr_set(ctx, _SCMP_FLTATR_CTL_NNP, 1)
        # A syscall made through another ABI (int 0x80 on x86_64) ends the process.
        # (On an old kernel or libseccomp the default, kill the thread, still stops it.)
        with contextlib.suppress(OSError):
            lib.seccomp_attr_set(ctx, _SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)
        rules = _seccomp_rules(pid=os.getpid(), deny_file_writes=deny_file_writes)
        absent: list[str] = []
        for rule in rules:
            number = lib.seccomp_syscall_resolve_name(rule.syscall)
            if number < 0:
                absent.append(rule.syscall)
                continue
            lib.seccomp_rule_add(ctx, SCMP_ACT_ERRNO(rule.err), number, *rule.cmps)
        lib.seccomp_load(ctx)
    finally:
        lib.seccomp_release(ctx)
    denied = len({r.syscall for r in rules} - set(absent))
    writes = "file writes denied" if deny_file_writes else "file writes allowed"
    return (
        f"libseccomp {lib.version()} via ctypes; {denied} syscalls filtered "
        f"(clone only with CLONE_THREAD, clone3 -> ENOSYS); {writes}"
    )


# -------------------------------------------------------------------------------------------------
# The layers
# -------------------------------------------------------------------------------------------------


def _pin_threads() -> str:
    """Set the thread-pool variables to 1 in ``os.environ`` and cap glibc's malloc arenas at one.

    Returns:
        What was set, and a warning when a native library was already loaded (its pool size then
        follows the environment the process started with).
    """
    os.environ.update(pinned_thread_env())
    detail = f"{', '.join(_THREAD_VARS)}=1"
    try:
        # glibc reads MALLOC_ARENA_MAX at start-up only; mallopt caps the arenas of threads to come.
        if sys.platform.startswith("linux") and ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, 1):
            detail += ", mallopt(M_ARENA_MAX, 1)"
    except (OSError, AttributeError):
        pass  # not glibc: the environment variable is all there is
    late = [m for m in ("numpy", "numba", "numexpr") if m in sys.modules]
    if late:
        detail += (
            f"; {', '.join(late)} already imported, so their thread pools follow the environment "
            "the process started with (see pinned_thread_env)"
        )
    return detail


def _unshare_network(libc: ctypes.CDLL) -> str:
    """Move the calling process into a new, empty network namespace.

    Returns:
        Which flags worked.

    Raises:
        OSError: neither ``CLONE_NEWNET`` nor ``CLONE_NEWUSER | CLONE_NEWNET`` was permitted.
    """
    if libc.unshare(_CLONE_NEWNET) == 0:
        return "unshare(CLONE_NEWNET): private network namespace, loopback down"
    first = ctypes.get_errno()
    if libc.unshare(_CLONE_NEWUSER | _CLONE_NEWNET) == 0:
        return "unshare(CLONE_NEWUSER|CLONE_NEWNET) (unprivileged): private network namespace"
    second = ctypes.get_errno()
    raise OSError(
        first,
        f"unshare(CLONE_NEWNET): {_errno_text(first)}; "
        f"unshare(CLONE_NEWUSER|CLONE_NEWNET): {_errno_text(second)}",
    )


def _set_no_new_privs(libc: ctypes.CDLL) -> str:
    """Set ``PR_SET_NO_NEW_PRIVS`` and check it reads back."""
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {_errno_text(err)}")
    if libc.prctl(_PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1:
        raise OSError(errno.EINVAL, "PR_GET_NO_NEW_PRIVS does not read back 1")
    return "prctl(PR_SET_NO_NEW_PRIVS, 1)"


def _highest_fd() -> int:
    """Return the highest open file descriptor of this process (-1 when none can be listed)."""
    for where in ("/proc/self/fd", "/dev/fd"):
        try:
            return max((int(n) for n in os.listdir(where) if n.isdigit()), default=-1)
        except OSError:
            continue
    return -1


def _apply_rlimits(limits: Limits) -> str:
    """Lower the process's resource limits and ignore ``SIGXFSZ``.

    Returns:
        The limits in effect, in words.

    Raises:
        OSError: ``setrlimit`` failed, or the :mod:`resource` module is missing (not Unix).
    """
    try:
        import resource
    except ImportError as exc:  # pragma: no cover - not Unix
        raise OSError(errno.ENOSYS, f"no resource module: {exc}") from exc

    infinity = resource.RLIM_INFINITY
    notes: list[str] = []

    def lower(which: int, label: str, soft: int, hard: int) -> None:
        _, cur_hard = resource.getrlimit(which)
        if cur_hard != infinity:  # never ask to raise a hard limit (that needs CAP_SYS_RESOURCE)
            hard = min(hard, cur_hard)
        soft = min(soft, hard)
        try:
            resource.setrlimit(which, (soft, hard))
        except (OSError, ValueError) as exc:  # resource reports EPERM/EINVAL as ValueError
            done = ", ".join(notes) or "nothing"
            raise OSError(
                errno.EPERM, f"setrlimit({label}, {soft}/{hard}) failed: {exc}; applied: {done}"
            ) from exc
        notes.append(f"{label}={soft}" if soft == hard else f"{label}={soft}/{hard}")

    usage = resource.getrusage(resource.RUSAGE_SELF)
    used = math.ceil(usage.ru_utime + usage.ru_stime)
    nofile = max(limits.open_files, _highest_fd() + 1)
    if nofile != limits.open_files:
        notes.append(f"open_files raised to {nofile} (descriptors already open)")
    # SIGXFSZ would kill the worker on an oversize write; ignored, the write fails with EFBIG.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    else:
        notes.append("SIGXFSZ not ignored (not the main thread)")

    # Writes to a regular file past RLIMIT_FSIZE fail: a worker whose stdout or stderr is a file
    # (not a pipe or /dev/null) would lose its output and tracebacks.
    for fd, label in ((1, "stdout"), (2, "stderr")):
        try:
            info = os.fstat(fd)
        except OSError:
            continue
        if stat.S_ISREG(info.st_mode) and info.st_size >= limits.file_size_bytes:
            notes.append(f"{label} is a regular file: writes to it now fail with EFBIG")
    lower(resource.RLIMIT_AS, "AS", limits.address_space_bytes, limits.address_space_bytes)
    cpu = used + limits.cpu_seconds
    lower(resource.RLIMIT_CPU, "CPU", cpu, cpu + 1)
    lower(resource.RLIMIT_FSIZE, "FSIZE", limits.file_size_bytes, limits.file_size_bytes)
    lower(resource.RLIMIT_NOFILE, "NOFILE", nofile, nofile)
    lower(resource.RLIMIT_CORE, "CORE", 0, 0)
    if limits.processes is not None:
        lower(resource.RLIMIT_NPROC, "NPROC", limits.processes, limits.processes)
    if limits.stack_bytes is not None:
        lower(resource.RLIMIT_STACK, "STACK", limits.stack_bytes, limits.stack_bytes)
    return "setrlimit " + ", ".join(notes) + f"; recursion limit {limits.recursion_limit}"


# -------------------------------------------------------------------------------------------------
# apply_isolation
# -------------------------------------------------------------------------------------------------


def apply_isolation(
    *,
    limits: Limits,
    network: bool,
    seccomp: bool,
    required: Sequence[str] = (),
    deny_file_writes: bool = True,
    level: str = "os",
) -> tuple[LayerReport, ...]:
    """Isolate the calling worker process; irreversible.

    Call once, from the worker's main thread, after the worker has attached its shared memory and
    received its pipe from the parent and before any untrusted code is loaded. The layers are
    applied in this order: ``thread_pinning`` (and :func:`sys.setrecursionlimit`), ``netns`` (when
    ``network``), ``no_new_privs``, ``rlimits``, ``seccomp`` (when ``seccomp``). A layer that fails
    is reported and the others are still applied; only then, if a failed layer is in ``required``,
    :class:`~sandbox.errors.IsolationUnavailable` is raised (the worker must then exit: it is
    half-isolated).

    After the seccomp layer the process cannot start processes or programs, create sockets, enter
    namespaces, signal other processes or raise its limits; with ``deny_file_writes`` it cannot open
    a file for writing or change the file system by path either (``EACCES``; Python's own ``.pyc``
    writes fail silently). Nor can it attach *new* shared memory (``shm_open`` is an ``open`` with
    ``O_RDWR``): attach every block before calling this. Pipes, socketpairs and mappings that
    already exist keep working.

    Args:
        limits: the resource limits.
        network: ``True`` to cut the network off with a new, empty network namespace.
        seccomp: ``True`` to install the seccomp filter.
        required: layers (names from :data:`LAYERS`) that must be applied; each must be requested
            (``netns`` needs ``network``, ``seccomp`` needs ``seccomp``).
        deny_file_writes: with ``seccomp``, also deny write opens and path-based file changes.
        level: the isolation level's name, used in the error.

    Returns:
        One report per layer attempted, in the order applied; ``available`` says whether it worked.

    Raises:
        ValueError: ``required`` names an unknown layer or one that was not requested.
        IsolationUnavailable: a required layer could not be applied.
    """
    unknown = sorted(set(required) - set(LAYERS))
    if unknown:
        raise ValueError(f"required: unknown layer(s) {unknown}; the layers are {list(LAYERS)}")
    requested = {"thread_pinning", "no_new_privs", "rlimits"}
    if network:
        requested.add("netns")
    if seccomp:
        requested.add("seccomp")
    not_requested = [name for name in required if name not in requested]
    if not_requested:
        raise ValueError(
            f"required layer(s) {not_requested} not requested (netns needs network=True, "
            "seccomp needs seccomp=True)"
        )

    try:
        libc: ctypes.CDLL | None = _load_libc()
        libc_error = ""
    except OSError as exc:
        libc, libc_error = None, f"libc unavailable: {exc}"

    def with_libc(step: Callable[[ctypes.CDLL], str]) -> Callable[[], str]:
        def run() -> str:
            if libc is None:
                raise OSError(errno.ENOSYS, libc_error)
            return step(libc)

        return run

    steps: list[tuple[str, Callable[[], str]]] = [("thread_pinning", _pin_threads)]
    if network:
        steps.append(("netns", with_libc(_unshare_network)))
    steps.append(("no_new_privs", with_libc(_set_no_new_privs)))
    steps.append(("rlimits", lambda: _apply_rlimits(limits)))
    if seccomp:
        steps.append(("seccomp", lambda: _install_seccomp(deny_file_writes=deny_file_writes)))

    sys.setrecursionlimit(limits.recursion_limit)
    reports: list[LayerReport] = []
    for name, step in steps:
        try:
            reports.append(LayerReport(name, True, step()))
        except Exception as exc:  # every failure is reported; required ones raise below
            reports.append(LayerReport(name, False, f"{type(exc).__name__}: {exc}"))

    missing = [f"{r.name}: {r.detail}" for r in reports if not r.available and r.name in required]
    if missing:
        from sandbox.errors import IsolationUnavailable

        raise IsolationUnavailable(level, missing)
    return tuple(reports)


# -------------------------------------------------------------------------------------------------
# probe
# -------------------------------------------------------------------------------------------------

_PROBE_TIMEOUT_S: Final = 10.0

# Runs in a fresh interpreter (-I: no site-packages of the user, no PYTHON* variables, no script
# directory on sys.path). It loads this file by path, so no package __init__ is imported.
_PROBE_BOOT: Final = (
    "import importlib.util, sys\n"
    "spec = importlib.util.spec_from_file_location('_vlmcar_oslimits_probe', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules[spec.name] = module\n"
    "spec.loader.exec_module(module)\n"
    "module._probe_child()\n"
)


def _probe_rlimits() -> str:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(256, soft) if soft != resource.RLIM_INFINITY else 256
    resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] != target:
        raise OSError(errno.EINVAL, "RLIMIT_NOFILE does not read back")
    return "setrlimit works (AS, CPU, FSIZE, NOFILE, CORE; NPROC does not bind root)"


def _probe_netns(libc: ctypes.CDLL) -> str:
    import socket

    detail = _unshare_network(libc)
    names = sorted(name for _, name in socket.if_nameindex())
    return f"{detail}; interfaces now {names}"


def _probe_seccomp() -> str:
    import socket

    detail = _install_seccomp(deny_file_writes=True)
    try:
        pid = os.fork()
    except PermissionError:
        pass
    else:  # the filter did not stop fork: report it unavailable
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        raise OSError(errno.EINVAL, f"filter loaded ({detail}) but fork still works")
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM).close()
    except PermissionError:
        pass
    else:
        raise OSError(errno.EINVAL, f"filter loaded ({detail}) but socket() still works")
    box: list[int] = []
    worker = threading.Thread(target=box.append, args=(1,))
    worker.start()
    worker.join(5)
    if box != [1]:
        raise OSError(errno.EINVAL, f"filter loaded ({detail}) but threads no longer start")
    return f"{detail}; checked: fork and socket denied, threads start"


def _probe_child() -> None:
    """Try every layer in this (throw-away) process; print one JSON line per layer as it is done."""

    def attempt(name: str, step: Callable[[], str]) -> None:
        try:
            row = [name, True, step()]
        except Exception as exc:  # a failing probe is a report, never an error
            row = [name, False, f"{type(exc).__name__}: {exc}"]
        sys.stdout.write(json.dumps(row) + "\n")
        sys.stdout.flush()

    attempt("thread_pinning", _pin_threads)
    try:
        libc: ctypes.CDLL | None = _load_libc()
        libc_error = ""
    except OSError as exc:
        libc, libc_error = None, f"libc unavailable: {exc}"

    def need_libc(step: Callable[[ctypes.CDLL], str]) -> Callable[[], str]:
        def run() -> str:
            if libc is None:
                raise OSError(errno.ENOSYS, libc_error)
            return step(libc)

        return run

    attempt("netns", need_libc(_probe_netns))
    attempt("no_new_privs", need_libc(_set_no_new_privs))
    attempt("rlimits", _probe_rlimits)
    attempt("seccomp", _probe_seccomp)


def _unavailable(reason: str) -> tuple[LayerReport, ...]:
    """Reports for a probe that could not run: pinning still works, the rest is unavailable."""
    return tuple(
        LayerReport(name, True, f"{', '.join(_THREAD_VARS)}=1 (environment variables)")
        if name == "thread_pinning"
        else LayerReport(name, False, reason)
        for name in LAYERS
    )


def probe() -> tuple[LayerReport, ...]:
    """Report which isolation layers this machine supports, without changing the calling process.

    Every layer is tried in one short-lived child interpreter (``sys.executable``), which applies it
    for real and checks the effect (e.g. that ``fork`` and ``socket`` are denied after the seccomp
    filter while threads still start). Takes a fraction of a second; never raises.

    Returns:
        One report per layer, in the order of :data:`LAYERS`.
    """
    if not sys.platform.startswith("linux"):
        return _unavailable(f"isolation layers need Linux, this is {sys.platform}")
    env = {**os.environ, **pinned_thread_env()}
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _PROBE_BOOT, os.path.abspath(__file__)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return _unavailable(f"probe process failed: {type(exc).__name__}: {exc}")
    found: dict[str, LayerReport] = {}
    for line in done.stdout.splitlines():
        try:
            name, ok, detail = json.loads(line)
        except (ValueError, TypeError):
            continue  # not a report line
        found[str(name)] = LayerReport(str(name), ok is True, str(detail))
    ended = f"exit status {done.returncode}"
    if done.returncode < 0:
        with contextlib.suppress(ValueError):
            ended = f"killed by {signal.Signals(-done.returncode).name}"
    last = (done.stderr.strip().splitlines() or [""])[-1][:200]
    lost = f"the probe process ended ({ended}) before reporting this layer {last}".rstrip()
    return tuple(found.get(name) or LayerReport(name, False, lost) for name in LAYERS)
