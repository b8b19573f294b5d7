"""Numba-compiled twins of the vision helpers, with the same signatures, for jitted checkers.

Provides one ``@njit`` function per name in :data:`sandbox.surface.VISION_NAMES`. Each validates what
the kernel does not (colour range, tolerance, connectivity) and raises ``ValueError`` with a fixed
message, as the interpreter-path wrapper would, then calls the kernel of :mod:`sandbox.vision`.
Generated JIT modules import these names, so a jitted checker calls ``count_color(frame, RGB, 10)``
exactly as its source says.
"""

from __future__ import annotations

from typing import Any

import numba  # untyped: decorated functions are Any
import numpy as np
from numba.core import types
from numba.extending import overload

from sandbox.vision import VISION_KERNELS

__all__ = [
    "as_python_number",
    "bbox",
    "centroid",
    "changed_fraction",
    "color_mask",
    "component_sizes",
    "connected_components",
    "count_color",
    "largest_component",
    "mean_color",
    "pixel_count",
    "region_change",
    "region_mean",
    "vlmcar_checked_arange",
    "vlmcar_checked_shape",
    "vlmcar_floordiv",
    "vlmcar_int",
    "vlmcar_pynum",
    "vlmcar_round",
]

# Not cached on disk: Numba's cache does not notice when a *callee* (a vision kernel) changes, so
# a cached shim could keep inlining an old kernel. Shims are tiny and compile on first use; the
# generated kernel modules that call them carry a hash of this file and of sandbox/vision.py.
_jit = numba.njit(cache=False, nogil=True, boundscheck=True)
_color_mask = VISION_KERNELS["color_mask"]
_count_color = VISION_KERNELS["count_color"]
_pixel_count = VISION_KERNELS["pixel_count"]
_bbox = VISION_KERNELS["bbox"]
_centroid = VISION_KERNELS["centroid"]
_connected_components = VISION_KERNELS["connected_components"]
_component_sizes = VISION_KERNELS["component_sizes"]
_largest_component = VISION_KERNELS["largest_component"]
_mean_color = VISION_KERNELS["mean_color"]
_changed_fraction = VISION_KERNELS["changed_fraction"]
_region_change = VISION_KERNELS["region_change"]
_region_mean = VISION_KERNELS["region_mean"]


@_jit
def _rgb_ok(rgb: Any) -> bool:
    if len(rgb) != 3:
        return False
    return bool(0 <= rgb[0] <= 255 and 0 <= rgb[1] <= 255 and 0 <= rgb[2] <= 255)


@_jit
def _connectivity(connectivity: Any) -> Any:
    if connectivity != 4 and connectivity != 8:  # noqa: PLR1714 - numba types no set literal
        raise ValueError("connectivity must be 4 or 8")
    return connectivity


@_jit
def color_mask(frame: Any, rgb: Any, tol: Any = 0) -> Any:
    """Jitted :func:`sandbox.vision.color_mask`."""
    if not _rgb_ok(rgb) or tol < 0 or tol > 255:
        raise ValueError("color_mask: rgb channels and tol must be ints in 0..255")
    return _color_mask(frame, rgb[0], rgb[1], rgb[2], tol)


@_jit
def count_color(frame: Any, rgb: Any, tol: Any = 0) -> Any:
    """Jitted :func:`sandbox.vision.count_color`."""
    if not _rgb_ok(rgb) or tol < 0 or tol > 255:
        raise ValueError("count_color: rgb channels and tol must be ints in 0..255")
    return _count_color(frame, rgb[0], rgb[1], rgb[2], tol)


@_jit
def pixel_count(mask: Any) -> Any:
    """Jitted :func:`sandbox.vision.pixel_count`."""
    return _pixel_count(mask)


@_jit
def bbox(mask: Any) -> Any:
    """Jitted :func:`sandbox.vision.bbox`."""
    return _bbox(mask)


@_jit
def centroid(mask: Any) -> Any:
    """Jitted :func:`sandbox.vision.centroid`."""
    return _centroid(mask)


@_jit
def connected_components(mask: Any, connectivity: Any = 4) -> Any:
    """Jitted :func:`sandbox.vision.connected_components`."""
    return _connected_components(mask, _connectivity(connectivity))


@_jit
def component_sizes(mask: Any, connectivity: Any = 4) -> Any:
    """Jitted :func:`sandbox.vision.component_sizes`."""
    return _component_sizes(mask, _connectivity(connectivity))


@_jit
def largest_component(mask: Any, connectivity: Any = 4) -> Any:
    """Jitted :func:`sandbox.vision.largest_component`."""
    return _largest_component(mask, _connectivity(connectivity))


@_jit
def mean_color(frame: Any, mask: Any) -> Any:
    """Jitted :func:`sandbox.vision.mean_color`."""
    return _mean_color(frame, mask)


@_jit
def changed_fraction(frame: Any, first: Any, tol: Any = 0) -> Any:
    """Jitted :func:`sandbox.vision.changed_fraction`."""
    if tol < 0 or tol > 255:
        raise ValueError("changed_fraction: tol must be an int in 0..255")
    return _changed_fraction(frame, first, tol)


@_jit
def region_change(frame: Any, first: Any, y0: Any, x0: Any, y1: Any, x1: Any, tol: Any = 0) -> Any:
    """Jitted :func:`sandbox.vision.region_change`."""
    if tol < 0 or tol > 255:
        raise ValueError("region_change: tol must be an int in 0..255")
    return _region_change(frame, first, y0, x0, y1, x1, tol)


@_jit
def region_mean(frame: Any, y0: Any, x0: Any, y1: Any, x1: Any) -> Any:
    """Jitted :func:`sandbox.vision.region_mean`."""
    return _region_mean(frame, y0, x0, y1, x1)


def as_python_number(value: Any) -> Any:
    """Scalars as the interpreter sees them: integers as int64, floats as float64; else as is."""
    return value


#: The name generated kernel modules call (``vlmcar_``: no checker name can collide with it).
vlmcar_pynum = as_python_number

_INT64_LIMIT = 9.223372036854775808e18  # 2.0 ** 63


def vlmcar_int(value: Any) -> Any:
    """``int(x)`` with the interpreter's semantics (see :func:`_vlmcar_int`)."""
    return int(value)


def vlmcar_round(value: Any) -> Any:
    """One-argument ``round(x)`` with the interpreter's semantics (see :func:`_vlmcar_round`)."""
    return round(value)


def vlmcar_floordiv(left: Any, right: Any) -> Any:
    """``a // b``; for two integers ``INT64_MIN // -1`` wraps to ``INT64_MIN`` as in the guards."""
    return left // right


def vlmcar_checked_shape(limit: int, shape: Any) -> Any:
    """Return ``shape`` after checking that an array of it has at most ``limit`` elements."""
    return shape


def vlmcar_checked_arange(limit: int, *args: Any) -> Any:
    """``np.arange(*args)`` after checking that the result has at most ``limit`` elements."""
    return np.arange(*args)


@overload(vlmcar_int)
def _vlmcar_int(value: Any) -> Any:
    # Python's int() truncates towards zero and refuses NaN and infinity; a float that does not
    # fit in 64 bits is refused too (the interpreter keeps every integer within 64 bits). Numba's
    # own int() gives INT64_MIN for all of those.
    if isinstance(value, types.Boolean | types.Integer):

        def from_int(value: Any) -> Any:
            return np.int64(value)

        return from_int
    if isinstance(value, types.Float):

        def from_float(value: Any) -> Any:
            if np.isnan(value):
                raise ValueError("cannot convert float NaN to integer")
            if np.isinf(value):
                raise OverflowError("cannot convert float infinity to integer")
            if not -_INT64_LIMIT <= value < _INT64_LIMIT:
                raise OverflowError("int() of a float outside the 64-bit range")
            return np.int64(value)

        return from_float
    return None


@overload(vlmcar_round)
def _vlmcar_round(value: Any) -> Any:
    # round(x) rounds half to even on the exact binary value, as np.rint does, then converts
    # like int(); round of an integer is the integer.
    if isinstance(value, types.Boolean | types.Integer):

        def from_int(value: Any) -> Any:
            return np.int64(value)

        return from_int
    if isinstance(value, types.Float):

        def from_float(value: Any) -> Any:
            if np.isnan(value):
                raise ValueError("cannot convert float NaN to integer")
            if np.isinf(value):
                raise OverflowError("cannot convert float infinity to integer")
            rounded = np.rint(value)
            if not -_INT64_LIMIT <= rounded < _INT64_LIMIT:
                raise OverflowError("round() of a float outside the 64-bit range")
            return np.int64(rounded)

        return from_float
    return None


@overload(vlmcar_floordiv)
def _vlmcar_floordiv(left: Any, right: Any) -> Any:
    if isinstance(left, types.Integer) and isinstance(right, types.Integer):

        def ints(left: Any, right: Any) -> Any:
            a, b = np.int64(left), np.int64(right)
            if b == -1:
                return -a  # wraps at INT64_MIN like the interpreter; numba's // would give 0
            return a // b

        return ints

    def other(left: Any, right: Any) -> Any:
        return left // right

    return other


@overload(vlmcar_checked_shape)
def _vlmcar_checked_shape(limit: Any, shape: Any) -> Any:
    if isinstance(shape, types.Integer):

        def one(limit: Any, shape: Any) -> Any:
            if shape > limit:
                raise MemoryError("array allocation exceeds the kernel's allocation budget")
            return shape

        return one
    if isinstance(shape, types.BaseTuple):

        def many(limit: Any, shape: Any) -> Any:
            total = 1
            for n in shape:
                if n > 0:
                    if n > limit or total > limit // n:
                        raise MemoryError("array allocation exceeds the kernel's allocation budget")
                    total *= n
            return shape

        return many
    return None


@overload(vlmcar_checked_arange)
def _vlmcar_checked_arange(limit: Any, *args: Any) -> Any:
    def check(limit: Any, *args: Any) -> Any:
        if len(args) == 1:
            lo, hi, step = 0.0, float(args[0]), 1.0
        elif len(args) == 2:
            lo, hi, step = float(args[0]), float(args[1]), 1.0
        else:
            lo, hi, step = float(args[0]), float(args[1]), float(args[2])
        if step != 0 and np.isfinite(lo) and np.isfinite(hi):
            count = np.ceil((hi - lo) / step)
            if count > limit:
                raise MemoryError("np.arange() exceeds the kernel's allocation budget")
        return np.arange(*args)

    return check


@overload(as_python_number)
def _as_python_number(value: Any) -> Any:
    # The implementations carry the stub's annotation: numba compares the two signatures.
    if isinstance(value, types.Boolean):

        def same(value: Any) -> Any:
            return value

        return same
    if isinstance(value, types.Integer):

        def to_int64(value: Any) -> Any:
            return np.int64(value)

        return to_int64
    if isinstance(value, types.Float):

        def to_float64(value: Any) -> Any:
            return np.float64(value)

        return to_float64

    def other(value: Any) -> Any:
        return value

    return other
