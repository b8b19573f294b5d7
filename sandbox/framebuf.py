"""The frame buffer shared with workers: anonymous memory, read-only for them, never in /dev/shm.

Provides:
    FrameBuffer: a memfd the parent writes frames into and workers map read-only.

The parent creates the buffer with ``memfd_create`` (an anonymous file: it has no name in any file
system, so nothing can be left behind in ``/dev/shm`` when a worker or the parent is killed, and no
other process can open it by path), sizes it and seals its size. Workers receive a second
descriptor, opened *read-only* on the same file, through ``pass_fds``: a mapping made from it can
never become writable (``mprotect`` to ``PROT_WRITE`` of a shared mapping needs a descriptor opened
for writing), so one checker cannot change the frames another checker reads. The memory is freed
by the kernel when the last descriptor and mapping are gone, on every exit path.

Where ``memfd_create`` is missing (not Linux), an unlinked temporary file serves the same purpose.
"""

from __future__ import annotations

import contextlib
import fcntl
import mmap
import os
import tempfile

import numpy as np
from numpy.typing import NDArray

from sandbox.errors import SandboxError

__all__ = ["FrameBuffer"]


class FrameBuffer:
    """Anonymous shared memory for frame batches.

    Example:
        >>> buf = FrameBuffer(1024)
        >>> buf.view(16)[:4] = 7
        >>> os.pread(buf.reader_fd, 4, 0)
        b'\\x07\\x07\\x07\\x07'
        >>> buf.close()

    Args:
        size: bytes; at least 1.

    Attributes:
        size: the buffer's size in bytes.
        reader_fd: a read-only descriptor for workers (pass it with ``pass_fds``; inheritable).
        kind: ``"memfd"`` or ``"tempfile"``.
    """

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError(f"FrameBuffer size must be at least 1 byte, got {size}")
        self.size = size
        self._fd = -1
        self.reader_fd = -1
        try:
            self._fd, self.kind = _anonymous_file()
            os.ftruncate(self._fd, size)
            with contextlib.suppress(AttributeError, OSError):  # sealing needs memfd + Linux
                fcntl.fcntl(
                    self._fd,
                    fcntl.F_ADD_SEALS,
                    fcntl.F_SEAL_SHRINK | fcntl.F_SEAL_GROW | fcntl.F_SEAL_SEAL,
                )
            self._map: mmap.mmap | None = mmap.mmap(
                self._fd, size, prot=mmap.PROT_READ | mmap.PROT_WRITE
            )
            self.reader_fd = _reopen_read_only(self._fd)
        except OSError as err:
            self.close()
            raise SandboxError(f"cannot create a {size:,}-byte frame buffer: {err}") from None
        os.set_inheritable(self.reader_fd, True)
        self._closed = False

    def view(self, nbytes: int) -> NDArray[np.uint8]:
        """A writable uint8 view of the first ``nbytes`` bytes (the parent's side only)."""
        if self._map is None:
            raise SandboxError("this FrameBuffer is closed")
        if not 0 <= nbytes <= self.size:
            raise ValueError(f"view of {nbytes:,} bytes exceeds the buffer's {self.size:,}")
        return np.frombuffer(self._map, np.uint8, count=nbytes)

    def close(self) -> None:
        """Release the parent's mapping and descriptors. Idempotent."""
        mapping = getattr(self, "_map", None)
        if mapping is not None:
            with contextlib.suppress(BufferError):  # a live view keeps it; the GC frees it later
                mapping.close()
            self._map = None
        for name in ("_fd", "reader_fd"):
            fd = getattr(self, name, -1)
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
                setattr(self, name, -1)
        self._closed = True

    def __del__(self) -> None:
        if not getattr(self, "_closed", True):
            self.close()


def _anonymous_file() -> tuple[int, str]:
    if hasattr(os, "memfd_create"):
        flags = os.MFD_CLOEXEC | getattr(os, "MFD_ALLOW_SEALING", 0)
        return os.memfd_create("vlmcar-frames", flags), "memfd"
    handle = tempfile.TemporaryFile()  # unlinked at once: no name to leak  # noqa: SIM115
    fd = os.dup(handle.fileno())
    handle.close()
    return fd, "tempfile"


def _reopen_read_only(fd: int) -> int:
    """A new, read-only open file description of the same file (not a dup: its mode differs)."""
    for path in (f"/proc/self/fd/{fd}", f"/dev/fd/{fd}"):
        try:
            return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
    raise OSError(f"cannot reopen the frame buffer read-only (no /proc/self/fd); fd {fd}")
