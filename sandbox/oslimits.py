"""OS isolation layers for sandbox worker processes, and the probe behind ``vlmcar doctor``.

This module is trusted code. A worker process (spawned, never forked from the trainer) calls
:func:`set_parent_death_signal` first, then :func:`apply_isolation` once, after it has attached what
it needs from its parent (its socket, the frame buffer) and imported trusted code, and *before*
anything derived from checker source is compiled; after its JIT kernels are built it calls
:func:`seal`. Every layer is irreversible for that process. Stage 1, in the order of
:data:`LAYERS`:

``thread_pinning``
    ``OMP_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``NUMBA_NUM_THREADS``,
    ``NUMEXPR_NUM_THREADS`` and ``MALLOC_ARENA_MAX`` set to ``"1"`` (plus
    ``mallopt(M_ARENA_MAX, 1)``). Native libraries read them when they are *loaded*, so the pool
    must also put :func:`pinned_thread_env` into the child's environment before it starts.
``netns``
    ``unshare(CLONE_NEWNET)``: a private network namespace holding only a loopback interface
    that is down, so nothing, not even ``127.0.0.1``, can be reached. Unprivileged users fall back
    to ``CLONE_NEWUSER | CLONE_NEWNET``. Sockets and pipes opened before the call keep working.
``ipcns``
    ``unshare(CLONE_NEWIPC)``: SysV shared memory, semaphores, message queues and POSIX message
    queues created from now on live in a namespace that dies with the worker (the seccomp layer
    denies creating them anyway). POSIX shared memory is a file in ``/dev/shm``: Landlock's job.
``landlock``
    :func:`sandbox.landlock.restrict`: read only beneath ``read_paths`` (by default
    :func:`default_read_paths`: the Python installation, the packages, the shared libraries),
    read and write beneath ``write_paths`` (the checker's kernel directory), nothing else: no
    ``/proc``, ``/dev/shm``, ``/etc``, ``/tmp``; no TCP; no signals or abstract sockets out.
``privileges``
    :func:`sandbox.privileges.drop_privileges`: every capability dropped (bounding, ambient,
    effective, permitted, inheritable), securebits locked, and uid/gid 65534 when that uid can
    still read the read paths (judged from mode bits); otherwise uid 0 without capabilities.
``no_new_privs``
    ``prctl(PR_SET_NO_NEW_PRIVS, 1)``: no set-uid/file-capability gain through ``execve``.
``rlimits``
    ``RLIMIT_AS``, ``RLIMIT_CPU`` (soft, then hard = soft + 1 so ``SIGXCPU`` comes before
    ``SIGKILL``), ``RLIMIT_FSIZE`` (with ``SIGXFSZ`` ignored so an oversize write raises ``OSError``
    ``EFBIG`` instead of killing the worker), ``RLIMIT_NOFILE``, ``RLIMIT_CORE = 0``, and
    ``RLIMIT_NPROC`` / ``RLIMIT_STACK`` when set; plus :func:`sys.setrecursionlimit`.
``seccomp``
    :func:`sandbox.seccomp_policy.install_worker_filter`: an allow-list, default ``ENOSYS``;
    threads yes, processes, programs, sockets, namespaces, IPC objects no (see that module).
    Executable mappings stay allowed, for Numba; file writes only beneath the write paths, and
    only when Landlock confines them.

Stage 2, :func:`seal`: a second seccomp filter stacked on the first, and a second Landlock domain:
no new executable memory, no ``memfd_create``, no file writes at all.

:func:`probe` reports which layers (and the seal) this machine supports by trying them in a
short-lived child process, so the caller is never changed; :func:`required_layers` says which of
them ``strict`` must have here. Everything is Linux-specific and fails soft elsewhere (the layers
are reported unavailable).

Example:
    >>> names = [report.name for report in probe()]
    >>> names == [*LAYERS, "seal"]
    True
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import math
import os
import signal
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sandbox import landlock as _landlock
from sandbox import privileges as _privileges
from sandbox import seccomp_policy
from sandbox._linux import errno_text, libc, thread_count
from sandbox.landlock import default_read_paths

__all__ = [
    "LAYERS",
    "LayerReport",
    "Limits",
    "apply_isolation",
    "default_read_paths",
    "pinned_thread_env",
    "probe",
    "required_layers",
    "seal",
    "set_parent_death_signal",
]

_MiB: Final = 1 << 20
_GiB: Final = 1 << 30
_RLIM_CEILING: Final = (1 << 63) - 1

#: The stage-1 isolation layers, in the order :func:`apply_isolation` applies them (the recursion
#: limit is part of ``rlimits``). These names are what :func:`probe` reports (followed by
#: ``"seal"``) and what ``required`` accepts. Namespaces come first (they need the capabilities
#: the ``privileges`` layer drops), Landlock before ``privileges`` (as root it needs no
#: ``no_new_privs``), seccomp last (it denies the syscalls the other layers make).
LAYERS: Final[tuple[str, ...]] = (
    "thread_pinning",
    "netns",
    "ipcns",
    "landlock",
    "privileges",
    "no_new_privs",
    "rlimits",
    "seccomp",
)
#: Layers ``strict`` needs on every machine; the others only where the kernel supports them.
_ALWAYS_REQUIRED: Final = frozenset({"netns", "no_new_privs", "rlimits", "seccomp"})
_REQUIRED_WHERE_SUPPORTED: Final = frozenset({"ipcns", "landlock", "privileges"})

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

# --- Linux constants (uapi headers: sched.h, prctl.h) ---------------------------------------------
_CLONE_NEWIPC: Final = 0x08000000
_CLONE_NEWUSER: Final = 0x10000000
_CLONE_NEWNET: Final = 0x40000000
_PR_SET_PDEATHSIG: Final = 1
_PR_SET_NO_NEW_PRIVS: Final = 38
_PR_GET_NO_NEW_PRIVS: Final = 39


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
        name: the layer, one of :data:`LAYERS` or ``"seal"``.
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
    reserving 64 MiB of address space per thread, which would count against ``RLIMIT_AS``. One
    thread also matters to Landlock and to the capability drop, which act on the calling thread.

    Returns:
        A new dict mapping each variable name to ``"1"``.
    """
    return dict.fromkeys(_THREAD_VARS, "1")


# -------------------------------------------------------------------------------------------------
# The layers that live here (the others: sandbox.landlock, sandbox.privileges, seccomp_policy)
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


def _unshare(flag: int, label: str, effect: str) -> str:
    """Move the calling process into a new namespace of kind ``flag``.

    Args:
        flag: ``CLONE_NEWNET`` or ``CLONE_NEWIPC``.
        label: its name in messages.
        effect: what the new namespace means, for the report.

    Returns:
        Which flags worked, and ``effect``.

    Raises:
        OSError: neither ``flag`` nor ``CLONE_NEWUSER | flag`` was permitted.
    """
    lib = libc()
    if lib.unshare(flag) == 0:
        return f"unshare({label}): {effect}"
    first = ctypes.get_errno()
    if lib.unshare(_CLONE_NEWUSER | flag) == 0:
        return f"unshare(CLONE_NEWUSER|{label}) (unprivileged): {effect}"
    second = ctypes.get_errno()
    raise OSError(
        first,
        f"unshare({label}): {errno_text(first)}; "
        f"unshare(CLONE_NEWUSER|{label}): {errno_text(second)}",
    )


def _unshare_network() -> str:
    return _unshare(_CLONE_NEWNET, "CLONE_NEWNET", "private network namespace, loopback down")


def _unshare_ipc() -> str:
    return _unshare(
        _CLONE_NEWIPC,
        "CLONE_NEWIPC",
        "private SysV IPC and POSIX message queues, gone with the worker",
    )


def _set_no_new_privs() -> str:
    """Set ``PR_SET_NO_NEW_PRIVS`` and check it reads back."""
    lib = libc()
    if lib.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_NO_NEW_PRIVS): {errno_text(err)}")
    if lib.prctl(_PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1:
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


def _apply_rlimits(limits: Limits, highest_fd: int) -> str:
    """Lower the process's resource limits and ignore ``SIGXFSZ``.

    Args:
        limits: the limits.
        highest_fd: the highest descriptor held (listed before Landlock hid ``/proc``).

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
    nofile = max(limits.open_files, highest_fd + 1)
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


def set_parent_death_signal(expected_ppid: int) -> str:
    """Make the kernel SIGKILL this process when its parent dies; exit now if it already has.

    Call first thing in a worker, with the pid the parent passed on the command line. Between the
    parent starting the worker and this call the parent may already have died (the worker is then
    a child of init or a subreaper): ``os.getppid()`` no longer matches and the worker exits at
    once with status 1, before doing anything else. The signal survives ``apply_isolation`` (the
    ``privileges`` layer arms it again after a uid change, which the kernel would clear it on).

    Args:
        expected_ppid: the parent's pid.

    Returns:
        What was set, e.g. ``"PR_SET_PDEATHSIG(SIGKILL); parent 1234"``.

    Raises:
        OSError: ``prctl`` failed (not Linux, say).
    """
    lib = libc()
    if lib.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_PDEATHSIG, SIGKILL): {errno_text(err)}")
    if os.getppid() != expected_ppid:
        os._exit(1)  # the parent is gone already: the signal will never come
    return f"PR_SET_PDEATHSIG(SIGKILL); parent {expected_ppid}"


# -------------------------------------------------------------------------------------------------
# apply_isolation and seal
# -------------------------------------------------------------------------------------------------


def _check_request(required: Sequence[str], requested: set[str]) -> None:
    """Raise ``ValueError`` for unknown or not requested layers in ``required``."""
    unknown = sorted(set(required) - set(LAYERS))
    if unknown:
        raise ValueError(f"required: unknown layer(s) {unknown}; the layers are {list(LAYERS)}")
    not_requested = [name for name in required if name not in requested]
    if not_requested:
        raise ValueError(
            f"required layer(s) {not_requested} not requested (netns needs network=True, "
            "seccomp needs seccomp=True, landlock landlock=True, privileges privileges=True, "
            "ipcns ipc=True)"
        )


def apply_isolation(
    *,
    limits: Limits,
    network: bool,
    seccomp: bool,
    required: Sequence[str] = (),
    deny_file_writes: bool = True,
    level: str = "os",
    read_paths: Sequence[str] | None = None,
    write_paths: Sequence[str] = (),
    landlock: bool = True,
    privileges: bool = True,
    ipc: bool = True,
) -> tuple[LayerReport, ...]:
    """Isolate the calling worker process (stage 1); irreversible.

    Call once, from the worker's main thread while it is the only thread, after the worker has
    attached its frame buffer and received its socket and before anything derived from checker
    source is compiled. The layers are applied in the order of :data:`LAYERS`, each only when
    requested (``thread_pinning``, ``no_new_privs`` and ``rlimits`` always are). A layer that fails
    is reported and the others are still applied; only then, if a failed layer is in ``required``,
    :class:`~sandbox.errors.IsolationUnavailable` is raised (the worker must then exit: it is
    half-isolated).

    Afterwards the process can still map executable memory (Numba compiles kernels now) and write
    beneath ``write_paths`` (Numba's cache), until :func:`seal`. With ``seccomp`` it cannot start
    processes or programs, create sockets or IPC objects, enter namespaces, signal other processes
    or raise its limits (it may lower them once the ``privileges`` layer left it no capability:
    the kernel then refuses every raise of a hard limit; otherwise the filter refuses any change);
    with ``deny_file_writes`` it cannot open a file for writing or change the
    file system, except beneath ``write_paths`` when Landlock confines writes there (without
    Landlock, writes are denied everywhere: fail closed). Nor can it attach *new* shared memory
    (``/dev/shm`` is neither readable nor writable): attach every block before calling this.
    Descriptors and mappings that already exist keep working.

    Args:
        limits: the resource limits.
        network: ``True`` to cut the network off with a new, empty network namespace.
        seccomp: ``True`` to install the seccomp allow-list.
        required: layers (names from :data:`LAYERS`) that must be applied; each must be requested.
        deny_file_writes: with ``seccomp``, deny write opens and file changes (except beneath
            ``write_paths`` under Landlock). ``False`` leaves file syscalls unfiltered.
        level: the isolation level's name, used in the error.
        read_paths: what stays readable under Landlock; ``None`` means
            :func:`default_read_paths`.
        write_paths: existing directories that stay readable and writable under Landlock.
        landlock: ``True`` to apply the Landlock layer.
        privileges: ``True`` to drop capabilities (and the uid, where possible).
        ipc: ``True`` to move into a new IPC namespace.

    Returns:
        One report per layer attempted, in the order applied; ``available`` says whether it worked.

    Raises:
        ValueError: ``required`` names an unknown layer or one that was not requested.
        IsolationUnavailable: a required layer could not be applied.
    """
    requested = {"thread_pinning", "no_new_privs", "rlimits"}
    for name, wanted in (
        ("netns", network),
        ("ipcns", ipc),
        ("landlock", landlock),
        ("privileges", privileges),
        ("seccomp", seccomp),
    ):
        if wanted:
            requested.add(name)
    _check_request(required, requested)
    reads = list(default_read_paths() if read_paths is None else read_paths)
    writes = [str(p) for p in write_paths]
    highest_fd = _highest_fd()  # before Landlock hides /proc/self/fd and /proc/self/task
    threads = thread_count()

    def install_filter() -> str:
        # Without capabilities the kernel lets a process lower its limits only.
        settable = done.get("privileges", False)
        if not deny_file_writes:
            return seccomp_policy.install_worker_filter(writes="any", limits_settable=settable)
        confined = bool(writes) and done.get("landlock", False)
        detail = seccomp_policy.install_worker_filter(
            writes="confined" if confined else "none", limits_settable=settable
        )
        if writes and not confined:
            detail += "; write paths asked for but Landlock does not confine them: none writable"
        return detail

    steps: dict[str, Callable[[], str]] = {
        "thread_pinning": _pin_threads,
        "netns": _unshare_network,
        "ipcns": _unshare_ipc,
        "landlock": lambda: _landlock.restrict(read_paths=reads, write_paths=writes),
        "privileges": lambda: _privileges.drop_privileges(
            read_paths=reads, write_paths=writes, threads=threads
        ),
        "no_new_privs": _set_no_new_privs,
        "rlimits": lambda: _apply_rlimits(limits, highest_fd),
        "seccomp": install_filter,
    }
    sys.setrecursionlimit(limits.recursion_limit)
    reports: list[LayerReport] = []
    done: dict[str, bool] = {}
    for name in LAYERS:
        if name not in requested:
            continue
        try:
            report = LayerReport(name, True, steps[name]())
        except Exception as exc:  # every failure is reported; required ones raise below
            report = LayerReport(name, False, f"{type(exc).__name__}: {exc}")
        done[name] = report.available
        reports.append(report)

    missing = [f"{r.name}: {r.detail}" for r in reports if not r.available and r.name in required]
    if missing:
        from sandbox.errors import IsolationUnavailable

        raise IsolationUnavailable(level, missing)
    return tuple(reports)


def seal(*, level: str = "strict") -> LayerReport:
    """Stage 2: no new executable memory and no file writes from now on; irreversible.

    Call after the worker's kernels are built and before any checker code runs. Stacks a Landlock
    domain that grants no write right anywhere (where Landlock exists and the process has one
    thread), then a second seccomp filter: ``mmap``/``mprotect``/``pkey_mprotect`` with
    ``PROT_EXEC``, ``memfd_create``, write opens and file changes fail. Code compiled before
    keeps running: Numba's kernels are mapped already, and Python's ``compile()`` (RestrictedPython
    included) makes no executable memory. Nothing may be JIT-compiled afterwards, including a new
    signature of an already compiled function: LLVM does not survive the refused executable
    mapping and the process dies with ``SIGSEGV`` (which fails closed, but loses the worker).

    Args:
        level: the isolation level's name, used in the error.

    Returns:
        The ``"seal"`` report (``available`` is always ``True``: a seal that fails raises).

    Raises:
        IsolationUnavailable: the seccomp part could not be loaded (the worker must exit).
    """
    try:
        fence = _landlock.deny_writes()
    except OSError as exc:
        fence = f"no Landlock domain stacked ({exc}); the filter alone stops writes"
    try:
        detail = seccomp_policy.install_seal_filter()
    except OSError as exc:
        from sandbox.errors import IsolationUnavailable

        raise IsolationUnavailable(level, [f"seal: {type(exc).__name__}: {exc}"]) from exc
    return LayerReport("seal", True, f"{detail}; {fence}")


def required_layers(reports: Sequence[LayerReport]) -> tuple[str, ...]:
    """Return the layers ``strict`` requires on this machine, in the order of :data:`LAYERS`.

    ``netns``, ``no_new_privs``, ``rlimits`` and ``seccomp`` always (``strict`` is refused where
    one is missing); ``ipcns``, ``landlock`` and ``privileges`` when ``reports`` (from
    :func:`probe`) say this kernel supports them, so an older kernel still gets ``strict`` with
    what it has, and a kernel that has them never runs a ``strict`` worker without them.

    Args:
        reports: the probe's reports.

    Returns:
        Layer names.

    Example:
        >>> required_layers([LayerReport("landlock", False, "ENOSYS")])
        ('netns', 'no_new_privs', 'rlimits', 'seccomp')
    """
    supported = {r.name for r in reports if r.available}
    return tuple(
        name
        for name in LAYERS
        if name in _ALWAYS_REQUIRED or (name in _REQUIRED_WHERE_SUPPORTED and name in supported)
    )


# -------------------------------------------------------------------------------------------------
# probe
# -------------------------------------------------------------------------------------------------

_PROBE_TIMEOUT_S: Final = 10.0

# Runs in a fresh interpreter (-I: no site-packages of the user, no PYTHON* variables, no script
# directory on sys.path). An empty stand-in for the package lets `sandbox.oslimits` and its
# sibling modules load without the package's __init__ (which imports numpy and RestrictedPython).
_PROBE_BOOT: Final = (
    "import sys, types\n"
    "package = types.ModuleType('sandbox')\n"
    "package.__path__ = [sys.argv[1]]\n"
    "sys.modules['sandbox'] = package\n"
    "from sandbox.oslimits import _probe_child\n"
    "_probe_child()\n"
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


def _probe_netns() -> str:
    import socket

    detail = _unshare_network()
    names = sorted(name for _, name in socket.if_nameindex())
    return f"{detail}; interfaces now {names}"


def _probe_ipcns() -> str:
    before = os.readlink("/proc/self/ns/ipc")
    detail = _unshare_ipc()
    if os.readlink("/proc/self/ns/ipc") == before:
        raise OSError(errno.EINVAL, f"{detail}, but /proc/self/ns/ipc did not change")
    return detail


def _expect_denied(what: str, call: Callable[[], object], detail: str) -> None:
    """Raise unless ``call`` fails with ``PermissionError``."""
    try:
        call()
    except PermissionError:
        return
    raise OSError(errno.EINVAL, f"{detail}, but {what} still works")


def _probe_landlock() -> str:
    detail = _landlock.restrict(read_paths=default_read_paths())
    _expect_denied(
        "reading /proc/self/status", lambda: Path("/proc/self/status").read_bytes(), detail
    )
    Path(os.__file__).read_bytes()  # the standard library stays readable
    return f"{detail}; checked: /proc unreadable, the standard library readable"


def _probe_privileges() -> str:
    return _privileges.drop_privileges(read_paths=default_read_paths())


def _probe_seccomp() -> str:
    import socket

    detail = seccomp_policy.install_worker_filter(writes="none")
    _expect_denied("fork", _fork_and_reap, detail)
    _expect_denied(
        "socket()", lambda: socket.socket(socket.AF_INET, socket.SOCK_STREAM).close(), detail
    )
    box: list[int] = []
    worker = threading.Thread(target=box.append, args=(1,))
    worker.start()
    worker.join(5)
    if box != [1]:
        raise OSError(errno.EINVAL, f"filter loaded ({detail}) but threads no longer start")
    return f"{detail}; checked: fork and socket denied, threads start"


def _fork_and_reap() -> None:
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)


def _probe_seal() -> str:
    import mmap

    detail = seal().detail
    _expect_denied(
        "mmap(PROT_EXEC)", lambda: mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_EXEC), detail
    )
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE).close()
    return f"{detail}; checked: PROT_EXEC mapping denied, plain mappings work"


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
    attempt("netns", _probe_netns)
    attempt("ipcns", _probe_ipcns)
    attempt("landlock", _probe_landlock)
    attempt("privileges", _probe_privileges)
    attempt("no_new_privs", _set_no_new_privs)
    attempt("rlimits", _probe_rlimits)
    attempt("seccomp", _probe_seccomp)
    attempt("seal", _probe_seal)


_PROBED: Final = (*LAYERS, "seal")


def _unavailable(reason: str) -> tuple[LayerReport, ...]:
    """Reports for a probe that could not run: pinning still works, the rest is unavailable."""
    return tuple(
        LayerReport(name, True, f"{', '.join(_THREAD_VARS)}=1 (environment variables)")
        if name == "thread_pinning"
        else LayerReport(name, False, reason)
        for name in _PROBED
    )


_PROBED_ONCE: dict[str, tuple[LayerReport, ...]] = {}


def probe(*, fresh: bool = False) -> tuple[LayerReport, ...]:
    """Report which isolation layers this machine supports, without changing the calling process.

    Every layer, and then the seal, is tried in one short-lived child interpreter
    (``sys.executable``), which applies it for real and checks the effect (that ``/proc`` is
    unreadable under Landlock, that ``fork`` and ``socket`` are denied after the seccomp filter
    while threads still start, that an executable mapping fails after the seal). Takes a fraction
    of a second; never raises.

    A probe whose child reported every layer is kept for the life of this process (what the kernel
    supports does not change under it; every ``Sandbox`` asks); one that lost a report (a child
    killed or timed out on a loaded machine) is not kept, so the next call probes again. The kept
    answer only picks the level: a strict worker still checks each layer it applies and refuses
    to run if one fails.

    Args:
        fresh: probe again even if an answer is kept.

    Returns:
        One report per layer, in the order of :data:`LAYERS`, then the ``"seal"`` report.
    """
    kept = None if fresh else _PROBED_ONCE.get(sys.executable)
    if kept is not None:
        return kept
    reports, complete = _run_probe()
    if complete:
        _PROBED_ONCE[sys.executable] = reports
    return reports


def _run_probe() -> tuple[tuple[LayerReport, ...], bool]:
    """Run the probe child: its reports, and whether it reported every layer."""
    if not sys.platform.startswith("linux"):
        return _unavailable(f"isolation layers need Linux, this is {sys.platform}"), True
    env = {**os.environ, **pinned_thread_env()}
    try:
        done = subprocess.run(
            [sys.executable, "-I", "-c", _PROBE_BOOT, str(Path(__file__).resolve().parent)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_PROBE_TIMEOUT_S,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return _unavailable(f"probe process failed: {type(exc).__name__}: {exc}"), False
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
    reports = tuple(found.get(name) or LayerReport(name, False, lost) for name in _PROBED)
    return reports, all(name in found for name in _PROBED)
