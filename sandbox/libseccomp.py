"""A minimal :mod:`ctypes` binding of ``libseccomp.so.2``, written from its C API man pages.

Provides:
    LibSeccomp: load the library; build, load and release a filter.
    Cmp: one argument comparison of a rule (``struct scmp_arg_cmp``).
    SCMP_ACT_ALLOW, SCMP_ACT_KILL_PROCESS, SCMP_ACT_ERRNO: filter actions.
    CMP_NE, CMP_EQ, CMP_MASKED_EQ: comparison operators.

No Python binding of libseccomp is needed (Debian's ``python3-seccomp`` is not in a venv); the
library itself is on every distribution that runs containers. The policy lives in
:mod:`sandbox.seccomp_policy`.
"""

from __future__ import annotations

import ctypes
import errno
import sys
from dataclasses import dataclass
from typing import Final

from sandbox._linux import errno_text

__all__ = [
    "CMP_EQ",
    "CMP_MASKED_EQ",
    "CMP_NE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_KILL_PROCESS",
    "Cmp",
    "LibSeccomp",
]

# seccomp.h of libseccomp 2.x
SCMP_ACT_KILL_PROCESS: Final = 0x80000000
SCMP_ACT_ALLOW: Final = 0x7FFF0000
CMP_NE: Final = 1
CMP_EQ: Final = 4
CMP_MASKED_EQ: Final = 7
FLTATR_ACT_BADARCH: Final = 2
FLTATR_CTL_NNP: Final = 3
FLTATR_CTL_TSYNC: Final = 4


def SCMP_ACT_ERRNO(err: int) -> int:
    """Return the libseccomp action that makes a syscall fail with ``err``.

    Args:
        err: the errno value the denied syscall returns (``errno.EPERM``, ...).

    Returns:
        ``0x00050000 | err``, as ``SCMP_ACT_ERRNO(err)`` in ``seccomp.h``.

    Example:
        >>> hex(SCMP_ACT_ERRNO(1))
        '0x50001'
    """
    return 0x00050000 | (err & 0xFFFF)


@dataclass(frozen=True)
class Cmp:
    """One argument comparison of a seccomp rule (see ``seccomp_rule_add(3)``).

    Attributes:
        arg: the argument's index, 0 to 5.
        op: :data:`CMP_EQ`, :data:`CMP_NE` or :data:`CMP_MASKED_EQ`.
        datum_a: the value (``EQ``, ``NE``) or the mask (``MASKED_EQ``).
        datum_b: the value the masked argument must equal (``MASKED_EQ`` only).
    """

    arg: int
    op: int
    datum_a: int
    datum_b: int = 0


class _ScmpArgCmp(ctypes.Structure):
    """``struct scmp_arg_cmp``."""

    _fields_ = (
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),  # enum scmp_compare
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    )


class _ScmpVersion(ctypes.Structure):
    """``struct scmp_version`` returned by ``seccomp_version()``."""

    _fields_ = (("major", ctypes.c_uint), ("minor", ctypes.c_uint), ("micro", ctypes.c_uint))


class LibSeccomp:
    """``seccomp_init``, ``_attr_set``, ``_syscall_resolve_name``, ``_rule_add``, ``_load``, ``_release``.

    ``seccomp_rule_add`` is called through ``seccomp_rule_add_array``, because ctypes cannot pass
    structs through C varargs. Functions that return a negative errno raise ``OSError``.
    """

    def __init__(self) -> None:
        """Load the shared library.

        Raises:
            OSError: not Linux, or ``libseccomp.so.2`` cannot be loaded (install ``libseccomp2``).
        """
        if not sys.platform.startswith("linux"):
            raise OSError(errno.ENOSYS, f"not Linux ({sys.platform})")
        name = "libseccomp.so.2"  # by soname: find_library would start ldconfig
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
            default_action: ``SCMP_ACT_ALLOW``, ``SCMP_ACT_ERRNO(...)``, ...

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

    def seccomp_rule_add(self, ctx: int, action: int, syscall: int, *cmps: Cmp) -> None:
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
            raise OSError(-rc, f"{what}: {errno_text(-rc)}")
