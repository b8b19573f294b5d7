"""The worker's seccomp policy: an allow-list (stage 1) and the seal on top of it (stage 2).

Provides:
    Rule: one rule, a syscall, an action and argument comparisons.
    Writes: how file writes are treated (``"none"``, ``"confined"``, ``"any"``).
    worker_rules: the stage-1 allow-list for a worker with pid ``pid``.
    seal_rules: the stage-2 filter (no new executable memory, no memfd, no file writes).
    install_worker_filter / install_seal_filter: build and load them.

**Stage 1** (:func:`worker_rules`, loaded by ``apply_isolation``) allows only what CPython 3.11,
numpy 2, Numba/llvmlite (compiling kernels and running them) and RestrictedPython need in a worker
that already holds its socket and frame buffer; it was found by tracing a worker (``strace -f``)
through warm-up, a Numba build with its on-disk cache, RestrictedPython compilation, batches on a
fresh thread and exit, and then widened to the harmless neighbours of what was seen (``preadv`` next
to ``pread64``, ``ppoll`` next to ``poll``), so that a different code path in the same libraries
does not fail. Groups, each in :data:`ALLOWED`:

- memory: ``mmap``, ``mprotect`` (executable mappings included: LLVM emits kernels after
  isolation), ``munmap``, ``mremap``, ``madvise``, ``brk``, NUMA policy of its own memory;
- threads: ``clone`` *only* with ``CLONE_THREAD`` and no namespace flag (``clone3`` answers
  ``ENOSYS`` because its flags sit in memory the filter cannot read, so glibc falls back to
  ``clone``), ``futex``, ``rseq``, ``set_robust_list``, ``exit``;
- time, sleeping, scheduling queries, signal handling, signals to itself only (``kill`` and
  ``tgkill`` with its own pid);
- descriptors it holds: read/write/seek/stat/poll, ``recv*``/``send*`` on its socket, ``dup``,
  ``close``, ``fcntl`` with everyday commands (not ``F_SETOWN``/``F_SETSIG``, which would aim
  ``SIGIO`` at another process), ``ioctl`` with ``TCGETS``, ``TIOCGWINSZ``, ``FIONREAD``,
  ``FIONBIO``, ``FIOCLEX``/``FIONCLEX`` only;
- ``openat`` without write flags (read opens are confined by Landlock); with write paths (Landlock
  present) also write opens, ``mkdir``, ``rename``, ``unlink``, ``rmdir``, ``truncate``, which
  Landlock confines to those paths; ``chmod``/``chown``/``utime``/``xattr``/``link``/``symlink``/
  ``mknod`` stay denied (Landlock does not govern the first four, nothing needs the others);
- reads of its own identity and limits (``prlimit64`` with a NULL new limit, for itself only);
  setting its own limits too once the process holds no capability (``limits_settable``): without
  ``CAP_SYS_RESOURCE`` the kernel refuses to raise a hard limit, so the worker can only lower
  them (the worker lowers ``RLIMIT_FSIZE`` again after Numba has written its cache);
- ``getrandom``; ``seccomp`` and the Landlock syscalls, which can only add restrictions (the seal).

Everything else fails with **ENOSYS**, the kernel's own answer for a syscall that does not exist.
That is the answer libraries are written to survive: glibc falls back from ``clone3``,
``faccessat2``, ``close_range``, ``statx`` and friends only on ``ENOSYS``, CPython probes optional
syscalls the same way, and container runtimes moved their default from ``EPERM`` to ``ENOSYS`` for
exactly this reason. Killing on the default would end a worker whose Python or Numba merely
probes a feature. Syscalls that are *known* to be dangerous fail with **EPERM**, so the error says
what happened: exec, fork, sockets, namespaces, mounts, ptrace, other processes' memory, kernel
modules, BPF, io_uring, keys, credentials, scheduling and limits, SysV IPC and POSIX message
queues (:data:`DENIED`), and file changes with **EACCES** (:data:`CONFINED_CHANGES`,
:data:`UNCONFINED_CHANGES`). A syscall through another ABI (x32, i386 on x86_64) kills the process.

**Stage 2** (:func:`seal_rules`) is a second filter, stacked: the kernel applies the stricter
answer of both. From then on ``mmap``, ``mprotect`` and ``pkey_mprotect`` with ``PROT_EXEC`` in
their ``prot`` argument fail (``EPERM``), as do ``memfd_create`` and every write open or path
change (``EACCES``). Python's ``compile()`` makes no executable memory, so RestrictedPython code and
the kernels compiled before the seal keep running.
"""

from __future__ import annotations

import contextlib
import errno
import os
import platform
from dataclasses import dataclass
from typing import Final, Literal

from sandbox.libseccomp import (
    CMP_EQ,
    CMP_MASKED_EQ,
    CMP_NE,
    FLTATR_ACT_BADARCH,
    FLTATR_CTL_NNP,
    FLTATR_CTL_TSYNC,
    SCMP_ACT_ALLOW,
    SCMP_ACT_ERRNO,
    SCMP_ACT_KILL_PROCESS,
    Cmp,
    LibSeccomp,
)

__all__ = [
    "ALLOWED",
    "CONFINED_CHANGES",
    "DENIED",
    "UNCONFINED_CHANGES",
    "Rule",
    "Writes",
    "install_seal_filter",
    "install_worker_filter",
    "seal_rules",
    "worker_rules",
]

#: ``"none"``: no write open, no file change; ``"confined"``: write opens and the changes
#: Landlock governs (Landlock then confines them to the write paths); ``"any"``: no file rule.
Writes = Literal["none", "confined", "any"]

# --- Linux constants (uapi: sched.h, fcntl.h, mman.h, ioctls.h, prctl.h) --------------------------
_CLONE_THREAD: Final = 0x00010000
_CLONE_NEWNS: Final = 0x00020000
_CLONE_NEWCGROUP: Final = 0x02000000
_CLONE_NEWUTS: Final = 0x04000000
_CLONE_NEWIPC: Final = 0x08000000
_CLONE_NEWUSER: Final = 0x10000000
_CLONE_NEWPID: Final = 0x20000000
_CLONE_NEWNET: Final = 0x40000000
_CLONE_NEWTIME: Final = 0x00000080
_NAMESPACE_FLAGS: Final = (
    _CLONE_NEWNS,
    _CLONE_NEWCGROUP,
    _CLONE_NEWUTS,
    _CLONE_NEWIPC,
    _CLONE_NEWUSER,
    _CLONE_NEWPID,
    _CLONE_NEWNET,
    _CLONE_NEWTIME,
)
_O_WRONLY: Final = 0o1
_O_RDWR: Final = 0o2
_O_CREAT: Final = 0o100
_O_TRUNC: Final = 0o1000
_O_APPEND: Final = 0o2000
_WRITE_FLAGS: Final = (_O_WRONLY, _O_RDWR, _O_CREAT, _O_TRUNC, _O_APPEND)  # O_TMPFILE needs W/RDWR
_PROT_EXEC: Final = 0x4
_LOW32: Final = 0xFFFFFFFF  # ioctl's and fcntl's cmd are 32-bit: compare the low half only

#: ioctl commands a worker may use: isatty() (TCGETS), terminal size, bytes readable, blocking
#: mode, close-on-exec. Terminal injection (TIOCSTI, TIOCLINUX) is denied explicitly.
_IOCTLS: Final = {"TCGETS": 0x5401, "TIOCGWINSZ": 0x5413, "FIONREAD": 0x541B, "FIONBIO": 0x5421,
                  "FIONCLEX": 0x5450, "FIOCLEX": 0x5451}  # fmt: skip
_IOCTLS_DENIED: Final = {"TIOCSTI": 0x5412, "TIOCLINUX": 0x541C}
#: fcntl commands: dup, fd and status flags, record locks, pipe size, memfd seals.
_FCNTLS: Final = {"F_DUPFD": 0, "F_GETFD": 1, "F_SETFD": 2, "F_GETFL": 3, "F_SETFL": 4,
                  "F_GETLK": 5, "F_SETLK": 6, "F_SETLKW": 7, "F_OFD_GETLK": 36, "F_OFD_SETLK": 37,
                  "F_OFD_SETLKW": 38, "F_DUPFD_CLOEXEC": 1030, "F_GETPIPE_SZ": 1032,
                  "F_ADD_SEALS": 1033, "F_GET_SEALS": 1034}  # fmt: skip
#: fcntl commands that reach other processes (SIGIO/lease/notify signals to a chosen owner).
_FCNTLS_DENIED: Final = {"F_SETOWN": 8, "F_SETSIG": 10, "F_SETOWN_EX": 15, "F_SETLEASE": 1024,
                         "F_NOTIFY": 1026}  # fmt: skip
#: prctl options: names, dumpable/pdeathsig/seccomp/securebits/no_new_privs queries, setting
#: no_new_privs and seccomp (restrictions only), naming anonymous mappings (glibc).
_PRCTLS: Final = {"PR_GET_PDEATHSIG": 2, "PR_GET_DUMPABLE": 3, "PR_SET_NAME": 15,
                  "PR_GET_NAME": 16, "PR_GET_SECCOMP": 21, "PR_SET_SECCOMP": 22,
                  "PR_CAPBSET_READ": 23, "PR_GET_SECUREBITS": 27, "PR_SET_NO_NEW_PRIVS": 38,
                  "PR_GET_NO_NEW_PRIVS": 39, "PR_SET_VMA": 0x53564D41}  # fmt: skip

#: Allowed unconditionally (names absent on an architecture, e.g. ``open`` on aarch64, are
#: skipped). Conditional ones (clone, kill, tgkill, prlimit64, setrlimit, ioctl, fcntl, prctl,
#: open*) are
#: added by :func:`worker_rules`.
ALLOWED: Final[tuple[str, ...]] = (
    # memory (executable mappings allowed until the seal: LLVM writes kernels after isolation)
    "brk", "mmap", "munmap", "mprotect", "madvise", "mremap", "msync", "mincore",
    "get_mempolicy", "mbind",
    # threads and synchronisation
    "futex", "set_robust_list", "rseq", "set_tid_address", "gettid", "exit", "exit_group",
    "restart_syscall",
    # time and scheduling queries
    "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
    "sched_yield", "sched_getaffinity", "getcpu",
    # signal handling (sending is conditional: to itself only)
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigsuspend", "rt_sigpending",
    "rt_sigtimedwait", "sigaltstack",
    # descriptors it holds, and reading the file system Landlock lets it read
    "read", "readv", "pread64", "preadv", "preadv2", "write", "writev", "pwrite64", "pwritev",
    "pwritev2", "lseek", "close", "close_range", "dup", "dup2", "dup3", "fstat", "newfstatat",
    "stat", "lstat", "statx", "fstatfs", "statfs", "getdents", "getdents64", "readlink",
    "readlinkat", "access", "faccessat", "faccessat2", "getcwd", "fsync", "fdatasync",
    "fadvise64", "flock", "pipe", "pipe2", "eventfd2",
    # waiting on descriptors
    "poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait",
    "epoll_pwait", "epoll_pwait2",
    # the socket it holds (and local socket pairs; new sockets are denied)
    "recvfrom", "recvmsg", "recvmmsg", "sendto", "sendmsg", "sendmmsg", "shutdown",
    "getsockopt", "getsockname", "getpeername", "socketpair",
    # its own identity, usage and limits (reading)
    "getpid", "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid",
    "getresgid", "getpgrp", "getpgid", "getsid", "getrusage", "getrlimit", "times", "uname",
    "sysinfo", "capget",
    "getrandom",
    # more restrictions only: the seal's filter and Landlock domain
    "seccomp", "landlock_create_ruleset", "landlock_add_rule", "landlock_restrict_self",
)  # fmt: skip

#: Denied with EPERM, so that the failure names itself (the default would say ENOSYS).
DENIED: Final[tuple[str, ...]] = (
    # programs and processes
    "execve", "execveat", "fork", "vfork",
    # networking (socketpair stays: it only makes a connected local pair)
    "socket", "connect", "bind", "listen", "accept", "accept4",
    # namespaces, mounts, roots
    "unshare", "setns", "mount", "umount2", "chroot", "pivot_root",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    # other processes' memory and handles
    "ptrace", "process_vm_readv", "process_vm_writev", "process_madvise", "process_mrelease",
    "kcmp", "pidfd_open", "pidfd_getfd", "pidfd_send_signal",
    "tkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo", "get_robust_list",
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
    # scheduling (root could starve the machine with SCHED_FIFO) and limits
    "sched_setscheduler", "sched_setparam", "sched_setattr", "setpriority", "sched_setaffinity",
    "migrate_pages", "move_pages", "set_mempolicy",
    # SysV IPC and POSIX message queues: objects that would outlive the worker
    "shmget", "shmat", "shmctl", "shmdt", "msgget", "msgsnd", "msgrcv", "msgctl",
    "semget", "semop", "semtimedop", "semctl",
    "mq_open", "mq_unlink", "mq_timedsend", "mq_timedreceive", "mq_notify", "mq_getsetattr",
    # anonymous files that could be mapped executable (nothing in a worker needs them)
    "memfd_create", "memfd_secret",
)  # fmt: skip

#: File changes Landlock confines to the write paths: allowed in stage 1 when there are write
#: paths and Landlock is on (``writes="confined"``), EACCES otherwise and after the seal.
CONFINED_CHANGES: Final[tuple[str, ...]] = (
    "creat", "truncate", "ftruncate", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat",
    "rename", "renameat", "renameat2",
)  # fmt: skip
#: File changes Landlock does not govern (metadata) or that no worker needs (links, nodes):
#: EACCES unless ``writes="any"``.
UNCONFINED_CHANGES: Final[tuple[str, ...]] = (
    "chmod", "fchmod", "fchmodat", "fchmodat2", "chown", "fchown", "lchown", "fchownat",
    "utime", "utimes", "utimensat", "futimesat",
    "setxattr", "lsetxattr", "fsetxattr", "removexattr", "lremovexattr", "fremovexattr",
    "link", "linkat", "symlink", "symlinkat", "mknod", "mknodat",
)  # fmt: skip


@dataclass(frozen=True)
class Rule:
    """``syscall`` takes ``action`` when every comparison in ``cmps`` holds.

    Attributes:
        syscall: the syscall's name (resolved for the native architecture when loaded).
        action: :data:`~sandbox.libseccomp.SCMP_ACT_ALLOW` or ``SCMP_ACT_ERRNO(...)``.
        cmps: argument comparisons (all must hold); none for an unconditional rule.
    """

    syscall: str
    action: int
    cmps: tuple[Cmp, ...] = ()


def _clone_flags_arg() -> int:
    """Return which argument of ``clone`` holds the flags on this architecture."""
    return 1 if platform.machine().startswith(("s390", "cris")) else 0


def _open_rules(*, denied_action: int) -> list[Rule]:
    """``open``/``openat`` with any write flag get ``denied_action``."""
    rules = [Rule("open", denied_action, (Cmp(1, CMP_MASKED_EQ, f, f),)) for f in _WRITE_FLAGS]
    rules += [Rule("openat", denied_action, (Cmp(2, CMP_MASKED_EQ, f, f),)) for f in _WRITE_FLAGS]
    return rules


def worker_rules(*, pid: int, writes: Writes, limits_settable: bool = False) -> list[Rule]:
    """Return the stage-1 policy (default ``ENOSYS``) for the worker whose pid is ``pid``.

    Args:
        pid: the worker's own pid: signals and limit queries may name it only.
        writes: how file writes are treated (see :data:`Writes`).
        limits_settable: let the worker set its own resource limits; pass ``True`` only when it
            holds no capability (``CAP_SYS_RESOURCE`` would let it raise them).

    Returns:
        The rules, in the order they are added. The ``ALLOW`` and ``ERRNO`` rules of one syscall
        never overlap, so libseccomp need not choose between them.
    """
    allow, eperm, eacces = SCMP_ACT_ALLOW, SCMP_ACT_ERRNO(errno.EPERM), SCMP_ACT_ERRNO(errno.EACCES)
    rules = [Rule(name, allow) for name in ALLOWED]
    rules += [Rule(name, eperm) for name in DENIED]
    flags = _clone_flags_arg()
    namespaces = 0
    for f in _NAMESPACE_FLAGS:
        namespaces |= f
    # clone: a thread (CLONE_THREAD, no namespace flag) is allowed; a process or namespace is not.
    rules.append(
        Rule(
            "clone", allow, (Cmp(flags, CMP_MASKED_EQ, _CLONE_THREAD | namespaces, _CLONE_THREAD),)
        )
    )
    rules.append(Rule("clone", eperm, (Cmp(flags, CMP_MASKED_EQ, _CLONE_THREAD, 0),)))
    rules += [Rule("clone", eperm, (Cmp(flags, CMP_MASKED_EQ, f, f),)) for f in _NAMESPACE_FLAGS]
    # clone3 passes its flags in a struct the filter cannot read: ENOSYS makes glibc use clone.
    rules.append(Rule("clone3", SCMP_ACT_ERRNO(errno.ENOSYS)))
    # signals only to the worker itself (as root, kill(-1, SIGKILL) would reach every process).
    for name in ("kill", "tgkill"):
        rules.append(Rule(name, allow, (Cmp(0, CMP_EQ, pid),)))
        rules.append(Rule(name, eperm, (Cmp(0, CMP_NE, pid),)))
    if limits_settable:
        # Its own limits only; the kernel keeps a process without CAP_SYS_RESOURCE from raising
        # a hard limit, so this can only lower them.
        rules += [Rule("prlimit64", allow, (Cmp(0, CMP_EQ, target),)) for target in (0, pid)]
        rules.append(Rule("setrlimit", allow))
    else:
        # prlimit64 may read its own limits (new_limit == NULL) but set none.
        for target in (0, pid):
            rules.append(Rule("prlimit64", allow, (Cmp(0, CMP_EQ, target), Cmp(2, CMP_EQ, 0))))
        rules.append(Rule("prlimit64", eperm, (Cmp(2, CMP_NE, 0),)))
        rules.append(Rule("setrlimit", eperm))
    for syscall, arg, allowed, denied in (
        ("ioctl", 1, _IOCTLS, _IOCTLS_DENIED),
        ("fcntl", 1, _FCNTLS, _FCNTLS_DENIED),
        ("prctl", 0, _PRCTLS, {}),
    ):
        rules += [
            Rule(syscall, allow, (Cmp(arg, CMP_MASKED_EQ, _LOW32, c),)) for c in allowed.values()
        ]
        rules += [
            Rule(syscall, eperm, (Cmp(arg, CMP_MASKED_EQ, _LOW32, c),)) for c in denied.values()
        ]
    # openat2 keeps its flags in a struct: ENOSYS sends callers back to openat.
    rules.append(Rule("openat2", SCMP_ACT_ERRNO(errno.ENOSYS)))
    if writes == "none":
        for name, arg in (("open", 1), ("openat", 2)):
            mask = sum(_WRITE_FLAGS)
            rules.append(Rule(name, allow, (Cmp(arg, CMP_MASKED_EQ, mask, 0),)))
        rules += _open_rules(denied_action=eacces)
        rules += [Rule(name, eacces) for name in (*CONFINED_CHANGES, *UNCONFINED_CHANGES)]
    else:
        rules += [Rule("open", allow), Rule("openat", allow)]
        rules += [Rule(name, allow) for name in CONFINED_CHANGES]
        action = allow if writes == "any" else eacces
        rules += [Rule(name, action) for name in UNCONFINED_CHANGES]
    return rules


def seal_rules() -> list[Rule]:
    """Return the stage-2 policy (default ``ALLOW``, stacked on the stage-1 filter).

    Returns:
        Rules that deny new executable memory, ``memfd_create`` and every file write.
    """
    eperm, eacces = SCMP_ACT_ERRNO(errno.EPERM), SCMP_ACT_ERRNO(errno.EACCES)
    rules = [
        Rule(name, eperm, (Cmp(2, CMP_MASKED_EQ, _PROT_EXEC, _PROT_EXEC),))
        for name in ("mmap", "mprotect", "pkey_mprotect")
    ]
    rules += [Rule("memfd_create", eperm), Rule("openat2", SCMP_ACT_ERRNO(errno.ENOSYS))]
    rules += _open_rules(denied_action=eacces)
    rules += [Rule(name, eacces) for name in (*CONFINED_CHANGES, *UNCONFINED_CHANGES)]
    return rules


def _load(rules: list[Rule], default: int) -> tuple[LibSeccomp, list[Rule]]:
    """Load a filter made of ``rules`` for every thread of the process.

    Returns:
        The library, and the rules that were added (those naming a syscall this architecture
        has and an action other than the default).

    Raises:
        OSError: libseccomp is missing or refused the filter; nothing was loaded then.
    """
    lib = LibSeccomp()
    ctx = lib.seccomp_init(default)
    added: list[Rule] = []
    try:
        # Apply to every thread that already exists (a BLAS pool started before isolation, say).
        lib.seccomp_attr_set(ctx, FLTATR_CTL_TSYNC, 1)
        lib.seccomp_attr_set(ctx, FLTATR_CTL_NNP, 1)
        # A syscall made through another ABI (int 0x80, x32 on x86_64) ends the process.
        # (On an old kernel or libseccomp the default, kill the thread, still stops it.)
        with contextlib.suppress(OSError):
            lib.seccomp_attr_set(ctx, FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS)
        for rule in rules:
            number = lib.seccomp_syscall_resolve_name(rule.syscall)
            if number < 0 or rule.action == default:
                continue  # absent here, or repeats the default (which libseccomp refuses)
            lib.seccomp_rule_add(ctx, rule.action, number, *rule.cmps)
            added.append(rule)
        lib.seccomp_load(ctx)
    finally:
        lib.seccomp_release(ctx)
    return lib, added


def install_worker_filter(*, writes: Writes, limits_settable: bool = False) -> str:
    """Load the stage-1 allow-list (see :func:`worker_rules`) into the calling process.

    Args:
        writes: how file writes are treated.
        limits_settable: see :func:`worker_rules`.

    Returns:
        A one-line description of what was loaded.

    Raises:
        OSError: libseccomp is missing or refused the filter; nothing was loaded then.
    """
    rules = worker_rules(pid=os.getpid(), writes=writes, limits_settable=limits_settable)
    lib, added = _load(rules, SCMP_ACT_ERRNO(errno.ENOSYS))
    allowed = {r.syscall for r in added if r.action == SCMP_ACT_ALLOW}
    denied = {r.syscall for r in added} - allowed
    what = {
        "none": "no write opens or file changes",
        "confined": "write opens and file changes left to Landlock",
        "any": "file writes not filtered",
    }[writes]
    return (
        f"libseccomp {lib.version()} via ctypes; allow-list of {len(allowed)} syscalls (some "
        f"only with checked arguments), default ENOSYS, {len(denied)} more denied by name "
        "(EPERM, file changes EACCES); clone only with CLONE_THREAD, clone3 -> ENOSYS, signals "
        f"to itself only; {what}; "
        + ("own limits may be lowered (no CAP_SYS_RESOURCE)" if limits_settable else "limits fixed")
    )


def install_seal_filter() -> str:
    """Stack the stage-2 filter (see :func:`seal_rules`) on the calling process.

    Returns:
        A one-line description of what was loaded.

    Raises:
        OSError: libseccomp is missing or refused the filter; nothing was loaded then.
    """
    _, added = _load(seal_rules(), SCMP_ACT_ALLOW)
    return (
        f"seccomp: a second filter ({len({r.syscall for r in added})} syscalls): no PROT_EXEC "
        "mmap/mprotect/pkey_mprotect, no memfd_create, no write opens or file changes"
    )
