"""Frames as checkers receive them: validated, copied once, and read-only for good.

Provides:
    Frame, FrameBatch: type aliases for H×W×3 and N×H×W×3 uint8 arrays.
    MAX_SIDE: the largest accepted frame side, in pixels.
    validate_frame, validate_batch: check type, dtype and shape, raising :class:`FrameError`.
    readonly_batch: one copy of a batch into immutable memory, as a read-only N×H×W×3 array.

A read-only flag alone is not enough: ``setflags(write=True)`` turns it back on for an array that owns
its memory. Frames handed to checkers are views of a ``bytes`` object, which cannot be made writeable
(numpy refuses), and the checker cannot reach ``.base``.
"""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
from numpy.typing import NDArray

from sandbox.errors import FrameError

__all__ = ["MAX_SIDE", "Frame", "FrameBatch", "readonly_batch", "validate_batch", "validate_frame"]

Frame: TypeAlias = NDArray[np.uint8]
"""One RGB frame, shape (H, W, 3), dtype uint8."""
FrameBatch: TypeAlias = NDArray[np.uint8]
"""A batch of RGB frames, shape (N, H, W, 3), dtype uint8."""

MAX_SIDE = 4096


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"got ndarray of dtype {x.dtype} and shape {x.shape}"
    return f"got {type(x).__name__}"


def validate_frame(frame: Any, what: str = "frame") -> Frame:
    """Check that ``frame`` is an (H, W, 3) uint8 array and return it.

    Raises:
        FrameError: naming ``what``, the received type, dtype and shape.

    Example:
        >>> validate_frame(np.zeros((4, 5, 3), np.uint8)).shape
        (4, 5, 3)
    """
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        raise FrameError(what, f"expected a uint8 numpy array, {_describe(frame)}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise FrameError(what, f"expected shape (H, W, 3), {_describe(frame)}")
    _check_sides(what, frame.shape[0], frame.shape[1], frame)
    return frame


def validate_batch(frames: Any, what: str = "frames") -> FrameBatch:
    """Check that ``frames`` is an (N, H, W, 3) uint8 array (N may be 0) and return it.

    Raises:
        FrameError: naming ``what``, the received type, dtype and shape.
    """
    if not isinstance(frames, np.ndarray) or frames.dtype != np.uint8:
        raise FrameError(what, f"expected a uint8 numpy array, {_describe(frames)}")
    if frames.ndim != 4 or frames.shape[3] != 3:
        raise FrameError(what, f"expected shape (N, H, W, 3), {_describe(frames)}")
    _check_sides(what, frames.shape[1], frames.shape[2], frames)
    return frames


def _check_sides(what: str, h: int, w: int, x: Any) -> None:
    if not (0 < h <= MAX_SIDE and 0 < w <= MAX_SIDE):
        raise FrameError(what, f"height and width must be in 1..{MAX_SIDE}, {_describe(x)}")


def readonly_batch(frames: FrameBatch) -> FrameBatch:
    """Copy a validated batch once into immutable memory and return a read-only view of it.

    Example:
        >>> ro = readonly_batch(np.zeros((2, 4, 4, 3), np.uint8))
        >>> ro[0].setflags(write=True)
        Traceback (most recent call last):
        ...
        ValueError: cannot set WRITEABLE flag to True of this array
    """
    data = np.ascontiguousarray(frames).tobytes()
    return np.frombuffer(data, dtype=np.uint8).reshape(frames.shape)
