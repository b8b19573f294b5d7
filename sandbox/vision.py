"""Trusted vision helpers that reward checkers may call on RGB frames.

Provides:
    color_mask: boolean H x W mask of the pixels within ``tol`` of a colour (per channel).
    count_color: number of pixels within ``tol`` of a colour, in one pass, without a mask.
    pixel_count: number of True pixels of a 2-D boolean mask.
    bbox: inclusive ``(y0, x0, y1, x1)`` bounding box of a mask, ``(-1, -1, -1, -1)`` if empty.
    centroid: ``(cy, cx)`` mean row and column of a mask, ``(-1.0, -1.0)`` if empty.
    connected_components: int32 label image (labels in raster order) and the component count.
    component_sizes: int64 sizes of components ``1..n``.
    largest_component: size of the largest component, 0 if there is none.
    mean_color: mean RGB of a frame over a mask, ``(-1.0, -1.0, -1.0)`` if the mask is empty.
    changed_fraction: fraction of pixels whose largest channel difference to ``first`` exceeds tol.
    region_change: :func:`changed_fraction` restricted to a half-open box (clipped to the frame).
    region_mean: mean RGB over a half-open box (clipped), ``(-1.0, -1.0, -1.0)`` if empty.
    MAX_PIXELS: the largest number of pixels (H * W) a frame or mask may have (4096 * 4096).
    VISION_HELPERS: read-only mapping of helper name to public function (what checkers see).
    VISION_KERNELS: read-only mapping of helper name to its Numba kernel (for jitted checkers).

**One declaration per helper.** A helper's parameters are declared once, in
:data:`sandbox.surface.VISION_SIGNATURES` (the audit's name table, the prompt's surface text and
the JIT's twin are all read from there). This module implements it: a kernel and a checked wrapper
registered with ``@_implements(kernel)``, which refuses a wrapper whose parameters differ from the
declaration. ``VISION_HELPERS``, ``VISION_KERNELS`` and :func:`warm_up` are derived from the
registrations, and :mod:`sandbox.jit_helpers` generates the jitted twin from the declaration. Adding
a helper means writing its kernel and wrapper here and its signature line there.

Every helper is a thin Python wrapper around a private kernel compiled with
``numba.njit(cache=True, nogil=True, boundscheck=True)``. The wrapper validates its arguments and
raises :class:`ValueError` naming the argument, what it got and what it expects; it never writes
to its inputs and always returns fresh arrays or plain Python scalars and tuples. Pixel arithmetic
is done in 64-bit integers, so differences of uint8 values never wrap around.

Before calling a kernel, the wrappers pass arrays as read-only C-contiguous views, so each
kernel is compiled once for the types the wrappers use (and cached on disk).

The kernels take plain arrays and scalars; their signatures, for code compiled with Numba:

* ``color_mask(frame, r, g, b, tol) -> bool[:, :]``
* ``count_color(frame, r, g, b, tol) -> int``
* ``pixel_count(mask) -> int``
* ``bbox(mask) -> (int, int, int, int)``
* ``centroid(mask) -> (float, float)``
* ``connected_components(mask, connectivity) -> (int32[:, :], int)``
* ``component_sizes(mask, connectivity) -> int64[:]``
* ``largest_component(mask, connectivity) -> int``
* ``mean_color(frame, mask) -> (float, float, float)``
* ``changed_fraction(frame, first, tol) -> float``
* ``region_change(frame, first, y0, x0, y1, x1, tol) -> float``
* ``region_mean(frame, y0, x0, y1, x1) -> (float, float, float)``

Kernels clip boxes themselves and raise ``ValueError`` (with a fixed message) when ``first`` or
``mask`` does not match the frame's shape; they do not check dtypes, colour ranges, tolerance or
connectivity (any connectivity other than 8 is treated as 4).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any, TypeGuard, TypeVar

import numba  # untyped: its decorated kernels are Any
import numpy as np
import numpy.typing as npt

from sandbox.describe import describe
from sandbox.surface import VISION_NAMES, VISION_PARAMETERS

__all__ = [
    "MAX_PIXELS",
    "VISION_HELPERS",
    "VISION_KERNELS",
    "bbox",
    "centroid",
    "changed_fraction",
    "color_mask",
    "component_sizes",
    "connected_components",
    "count_color",
    "largest_component",
    "mean_color",
    "memory_only_cache",
    "pixel_count",
    "region_change",
    "region_mean",
    "warm_up",
]

#: Largest number of pixels (H * W) of a frame or mask the helpers accept.
MAX_PIXELS = 4096 * 4096

_UINT8 = np.dtype(np.uint8)
_BOOL = np.dtype(np.bool_)
_FrameArray = npt.NDArray[np.uint8]
_MaskArray = npt.NDArray[np.bool_]
#: What the helpers accept as an integer: a Python int or a numpy integer scalar (never a bool).
_Int = int | np.integer[Any]
#: What the helpers accept as a colour: three integers (tuple, list or a 1-D array such as a pixel).
_RGB = Sequence[_Int] | npt.NDArray[np.integer[Any]]


# --------------------------------------------------------------------------------------------
# Kernels (plain arrays and scalars only; compiled lazily, cached on disk)
# --------------------------------------------------------------------------------------------


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _pixel_matches(frame: Any, y: Any, x: Any, r: Any, g: Any, b: Any, tol: Any) -> Any:
    """Return whether pixel (y, x) is within ``tol`` of (r, g, b) in every channel."""
    # Branch-free on purpose: a short-circuit ``and`` chain measured about 8x slower.
    d0 = abs(np.int64(frame[y, x, 0]) - np.int64(r))
    d1 = abs(np.int64(frame[y, x, 1]) - np.int64(g))
    d2 = abs(np.int64(frame[y, x, 2]) - np.int64(b))
    return max(d0, d1, d2) <= np.int64(tol)


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _pixel_changed(frame: Any, first: Any, y: Any, x: Any, tol: Any) -> Any:
    """Return whether max over channels of |frame[y, x] - first[y, x]| exceeds ``tol``."""
    d0 = abs(np.int64(frame[y, x, 0]) - np.int64(first[y, x, 0]))
    d1 = abs(np.int64(frame[y, x, 1]) - np.int64(first[y, x, 1]))
    d2 = abs(np.int64(frame[y, x, 2]) - np.int64(first[y, x, 2]))
    return max(d0, d1, d2) > np.int64(tol)


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _clip_box(h: Any, w: Any, y0: Any, x0: Any, y1: Any, x1: Any) -> Any:
    """Clip the half-open box to ``[0, h) x [0, w)``; return it, empty boxes as all zeros."""
    cy0 = min(max(np.int64(y0), 0), h)
    cx0 = min(max(np.int64(x0), 0), w)
    cy1 = min(max(np.int64(y1), 0), h)
    cx1 = min(max(np.int64(x1), 0), w)
    if cy1 <= cy0 or cx1 <= cx0:
        return np.int64(0), np.int64(0), np.int64(0), np.int64(0)
    return cy0, cx0, cy1, cx1


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _color_mask_kernel(frame: Any, r: Any, g: Any, b: Any, tol: Any) -> Any:
    h, w = frame.shape[0], frame.shape[1]
    out = np.zeros((h, w), dtype=np.bool_)
    for y in range(h):
        for x in range(w):
            if _pixel_matches(frame, y, x, r, g, b, tol):
                out[y, x] = True
    return out


# Trusted code whose indices stay in range by construction (3p + 2 < size): bounds checks off,
# which lets LLVM vectorise the loop (~10x faster than with them). It also needs LLVM's ``nsw`` on
# ``3 * p + 1``: this module is in sandbox.jit_helpers.NSW_MODULES, the one place kernels keep it.
@numba.njit(cache=True, nogil=True, boundscheck=False)
def _count_color_kernel(frame: Any, r: Any, g: Any, b: Any, tol: Any) -> Any:
    # The hottest helper: one pass over the flat buffer, int32 differences, branch-free; LLVM
    # vectorises it (~1.3 us for an 84x84 frame, about 3x the per-pixel-indexing form).
    flat = np.ascontiguousarray(frame).reshape(-1)
    r32, g32, b32, t32 = np.int32(r), np.int32(g), np.int32(b), np.int32(tol)
    n = 0
    for p in range(flat.size // 3):
        i = 3 * p
        n += (  # type: ignore[assignment]
            (abs(np.int32(flat[i]) - r32) <= t32)
            & (abs(np.int32(flat[i + 1]) - g32) <= t32)
            & (abs(np.int32(flat[i + 2]) - b32) <= t32)
        )
    return n


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _pixel_count_kernel(mask: Any) -> Any:
    h, w = mask.shape
    n = 0
    for y in range(h):
        for x in range(w):
            if mask[y, x]:
                n += 1
    return n


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _bbox_kernel(mask: Any) -> Any:
    h, w = mask.shape
    y0, x0, y1, x1 = h, w, -1, -1
    for y in range(h):
        for x in range(w):
            if mask[y, x]:
                y0 = min(y0, y)
                y1 = max(y1, y)
                x0 = min(x0, x)
                x1 = max(x1, x)
    if y1 < 0:
        return -1, -1, -1, -1
    return y0, x0, y1, x1


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _centroid_kernel(mask: Any) -> Any:
    h, w = mask.shape
    n = 0
    sy = 0
    sx = 0
    for y in range(h):
        for x in range(w):
            if mask[y, x]:
                n += 1
                sy += y
                sx += x
    if n == 0:
        return -1.0, -1.0
    return sy / n, sx / n


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _connected_components_kernel(mask: Any, connectivity: Any) -> Any:
    # Flood fill with an explicit stack; a pixel is labelled when pushed, so it is pushed once
    # and the stack never holds more than h * w entries. Scanning in raster order makes the
    # labels follow the raster order of each component's first pixel.
    h, w = mask.shape
    labels = np.zeros((h, w), dtype=np.int32)
    stack = np.empty(h * w, dtype=np.int64)
    eight = connectivity == 8
    n = 0
    for y in range(h):
        for x in range(w):
            if not mask[y, x] or labels[y, x] != 0:
                continue
            n += 1
            labels[y, x] = n
            stack[0] = y * w + x
            top = 1
            while top > 0:
                top -= 1
                p = stack[top]
                py = p // w
                px = p - py * w
                for dy in range(-1, 2):
                    ny = py + dy
                    if ny < 0 or ny >= h:
                        continue
                    for dx in range(-1, 2):
                        if dy == 0 and dx == 0:
                            continue
                        if not eight and dy != 0 and dx != 0:
                            continue
                        nx = px + dx
                        if nx < 0 or nx >= w:
                            continue
                        if mask[ny, nx] and labels[ny, nx] == 0:
                            labels[ny, nx] = n
                            stack[top] = ny * w + nx
                            top += 1
    return labels, n


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _component_sizes_kernel(mask: Any, connectivity: Any) -> Any:
    labels, n = _connected_components_kernel(mask, connectivity)
    sizes = np.zeros(n, dtype=np.int64)
    h, w = labels.shape
    for y in range(h):
        for x in range(w):
            label = labels[y, x]
            if label > 0:
                sizes[label - 1] += 1
    return sizes


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _largest_component_kernel(mask: Any, connectivity: Any) -> Any:
    sizes = _component_sizes_kernel(mask, connectivity)
    best = 0
    for i in range(sizes.shape[0]):
        best = max(best, sizes[i])
    return best


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _mean_color_kernel(frame: Any, mask: Any) -> Any:
    h, w = frame.shape[0], frame.shape[1]
    if mask.shape[0] != h or mask.shape[1] != w:
        raise ValueError("mean_color: mask shape must equal the frame's height and width")
    n = 0
    sr = np.int64(0)
    sg = np.int64(0)
    sb = np.int64(0)
    for y in range(h):
        for x in range(w):
            if mask[y, x]:
                n += 1
                sr += np.int64(frame[y, x, 0])
                sg += np.int64(frame[y, x, 1])
                sb += np.int64(frame[y, x, 2])
    if n == 0:
        return -1.0, -1.0, -1.0
    return sr / n, sg / n, sb / n


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _region_change_kernel(
    frame: Any, first: Any, y0: Any, x0: Any, y1: Any, x1: Any, tol: Any
) -> Any:
    h, w = frame.shape[0], frame.shape[1]
    if first.shape[0] != h or first.shape[1] != w:
        raise ValueError("region_change: first must have the frame's shape")
    cy0, cx0, cy1, cx1 = _clip_box(h, w, y0, x0, y1, x1)
    area = (cy1 - cy0) * (cx1 - cx0)
    if area == 0:
        return 0.0
    n = 0
    for y in range(cy0, cy1):
        for x in range(cx0, cx1):
            if _pixel_changed(frame, first, y, x, tol):
                n += 1
    return n / area


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _changed_fraction_kernel(frame: Any, first: Any, tol: Any) -> Any:
    if first.shape[0] != frame.shape[0] or first.shape[1] != frame.shape[1]:
        raise ValueError("changed_fraction: first must have the frame's shape")
    return _region_change_kernel(frame, first, 0, 0, frame.shape[0], frame.shape[1], tol)


@numba.njit(cache=True, nogil=True, boundscheck=True)
def _region_mean_kernel(frame: Any, y0: Any, x0: Any, y1: Any, x1: Any) -> Any:
    h, w = frame.shape[0], frame.shape[1]
    cy0, cx0, cy1, cx1 = _clip_box(h, w, y0, x0, y1, x1)
    area = (cy1 - cy0) * (cx1 - cx0)
    if area == 0:
        return -1.0, -1.0, -1.0
    sr = np.int64(0)
    sg = np.int64(0)
    sb = np.int64(0)
    for y in range(cy0, cy1):
        for x in range(cx0, cx1):
            sr += np.int64(frame[y, x, 0])
            sg += np.int64(frame[y, x, 1])
            sb += np.int64(frame[y, x, 2])
    return sr / area, sg / area, sb / area


# --------------------------------------------------------------------------------------------
# Argument validation
# --------------------------------------------------------------------------------------------


def _describe(value: object) -> str:
    """Describe ``value`` for an error message without calling any of its own methods."""
    return describe(value)


def _fail(fn: str, name: str, value: object, problem: str) -> ValueError:
    return ValueError(f"{fn}({name}={_describe(value)}): {problem}")


def _is_int(value: object) -> TypeGuard[int | np.integer[Any]]:
    """Return whether ``value`` is a Python or numpy integer (bools excluded)."""
    return (isinstance(value, int) and not isinstance(value, bool)) or isinstance(value, np.integer)


def _readonly(array: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """Return a read-only C-contiguous view (or copy) of ``array``, never writing to it."""
    view = np.ascontiguousarray(array).view()
    view.flags.writeable = False
    return view


def _check_pixels(fn: str, name: str, value: npt.NDArray[Any]) -> None:
    pixels = int(value.shape[0]) * int(value.shape[1])
    if pixels > MAX_PIXELS:
        raise _fail(
            fn, name, value, f"has {pixels} pixels, more than the limit of 4096x4096 = {MAX_PIXELS}"
        )


def _frame(fn: str, name: str, value: object) -> _FrameArray:
    """Validate an H x W x 3 uint8 frame and return a read-only contiguous view of it."""
    expected = "must be a numpy uint8 array shaped (H, W, 3)"
    if not isinstance(value, np.ndarray):
        raise _fail(fn, name, value, f"{expected}, got {type(value).__name__}")
    if value.dtype != _UINT8:
        raise _fail(fn, name, value, f"{expected}, got dtype {value.dtype}")
    if value.ndim != 3 or value.shape[2] != 3:
        raise _fail(fn, name, value, f"{expected}, got shape {value.shape}")
    _check_pixels(fn, name, value)
    return _readonly(value)


def _first(fn: str, value: object, frame: _FrameArray) -> _FrameArray:
    first = _frame(fn, "first", value)
    if first.shape != frame.shape:
        raise _fail(fn, "first", value, f"shape must equal the frame's shape {frame.shape}")
    return first


def _mask(fn: str, value: object) -> _MaskArray:
    """Validate a 2-D bool mask and return a read-only contiguous view of it."""
    expected = "must be a numpy bool array shaped (H, W)"
    if not isinstance(value, np.ndarray):
        raise _fail(fn, "mask", value, f"{expected}, got {type(value).__name__}")
    if value.dtype != _BOOL:
        raise _fail(
            fn, "mask", value, f"{expected}, got dtype {value.dtype} (use e.g. `mask != 0`)"
        )
    if value.ndim != 2:
        raise _fail(fn, "mask", value, f"{expected}, got shape {value.shape}")
    _check_pixels(fn, "mask", value)
    return _readonly(value)


def _rgb(fn: str, value: object) -> tuple[int, int, int]:
    problem = "must be 3 ints (a tuple, list or 1-D array) with each channel an int in 0..255"
    if isinstance(value, np.ndarray):
        if value.shape != (3,):
            raise _fail(fn, "rgb", value, problem)
        items: list[object] = list(value.tolist())
    elif isinstance(value, (tuple, list)):
        if len(value) != 3:
            raise _fail(fn, "rgb", value, problem)
        items = list(value)
    else:
        raise _fail(fn, "rgb", value, problem)
    channels: list[int] = []
    for item in items:
        if not _is_int(item) or not 0 <= int(item) <= 255:
            raise _fail(fn, "rgb", value, "each channel must be an int in 0..255")
        channels.append(int(item))
    r, g, b = channels
    return r, g, b


def _tol(fn: str, value: object) -> int:
    if not _is_int(value) or not 0 <= int(value) <= 255:
        raise _fail(fn, "tol", value, "must be an int in 0..255")
    return int(value)


def _connectivity(fn: str, value: object) -> int:
    if not _is_int(value) or int(value) not in (4, 8):
        raise _fail(fn, "connectivity", value, "must be the int 4 or 8")
    return int(value)


def _coord(fn: str, name: str, value: object, size: int) -> int:
    """Validate a box coordinate and clip it to ``0..size``."""
    if not _is_int(value):
        raise _fail(fn, name, value, "must be an int (box coordinates are clipped to the frame)")
    return min(max(int(value), 0), size)


# --------------------------------------------------------------------------------------------
# Public helpers
# --------------------------------------------------------------------------------------------

#: name -> (checked wrapper, kernel), filled by :func:`_implements` in this module only
_IMPLEMENTED: dict[str, tuple[Callable[..., Any], Any]] = {}
_F = TypeVar("_F", bound=Callable[..., Any])


def _implements(kernel: Any) -> Callable[[_F], _F]:
    """Register the decorated wrapper and ``kernel`` as the helper its name declares.

    The declaration is :data:`sandbox.surface.VISION_SIGNATURES`: the wrapper's parameters must
    be exactly the declared ones (names and defaults), so the facade entry, the JIT twin and the
    warm-up, all derived from that table, cannot drift from the implementation.
    """

    def register(fn: _F) -> _F:
        name = fn.__name__
        declared = VISION_PARAMETERS.get(name)
        params = tuple(
            (p.name, None if p.default is inspect.Parameter.empty else p.default)
            for p in inspect.signature(fn).parameters.values()
        )
        if declared is None or params != declared or name in _IMPLEMENTED:
            raise RuntimeError(
                f"sandbox.vision.{name}: parameters {params} do not match "
                f"sandbox.surface.VISION_SIGNATURES ({declared})"
            )
        _IMPLEMENTED[name] = (fn, kernel)
        return fn

    return register


@_implements(_color_mask_kernel)
def color_mask(frame: _FrameArray, rgb: _RGB, tol: _Int = 0) -> _MaskArray:
    """Mark the pixels whose colour is within ``tol`` of ``rgb`` in every channel.

    Args:
        frame: H x W x 3 uint8 RGB frame.
        rgb: the colour, three ints in 0..255 (a tuple, list or 1-D array such as a pixel).
        tol: largest allowed absolute difference per channel, an int in 0..255.

    Returns:
        A new H x W bool array, True where ``|frame[y, x, c] - rgb[c]| <= tol`` for every c.

    Raises:
        ValueError: if an argument has the wrong type, dtype, shape or range.

    Example:
        >>> frame = np.zeros((2, 3, 3), dtype=np.uint8)
        >>> frame[0, 1] = (250, 250, 5)
        >>> color_mask(frame, (255, 255, 0), tol=5).astype(int)
        array([[0, 1, 0],
               [0, 0, 0]])
    """
    f = _frame("color_mask", "frame", frame)
    r, g, b = _rgb("color_mask", rgb)
    t = _tol("color_mask", tol)
    out: _MaskArray = _color_mask_kernel(f, r, g, b, t)
    return out


@_implements(_count_color_kernel)
def count_color(frame: _FrameArray, rgb: _RGB, tol: _Int = 0) -> int:
    """Count the pixels :func:`color_mask` would mark, in one pass and without building a mask.

    Args:
        frame: H x W x 3 uint8 RGB frame.
        rgb: the colour, three ints in 0..255 (a tuple, list or 1-D array such as a pixel).
        tol: largest allowed absolute difference per channel, an int in 0..255.

    Returns:
        The number of pixels within ``tol`` of ``rgb`` in every channel.

    Raises:
        ValueError: if an argument has the wrong type, dtype, shape or range.

    Example:
        >>> frame = np.zeros((4, 4, 3), dtype=np.uint8)
        >>> frame[1:3, 1:3] = (255, 0, 0)
        >>> count_color(frame, (255, 0, 0))
        4
        >>> count_color(frame, (250, 0, 0), tol=4)
        0
    """
    f = _frame("count_color", "frame", frame)
    r, g, b = _rgb("count_color", rgb)
    t = _tol("count_color", tol)
    return int(_count_color_kernel(f, r, g, b, t))


@_implements(_pixel_count_kernel)
def pixel_count(mask: _MaskArray) -> int:
    """Count the True pixels of a mask.

    Args:
        mask: H x W bool array.

    Returns:
        The number of True pixels.

    Raises:
        ValueError: if ``mask`` is not a 2-D bool array (or is too large).

    Example:
        >>> pixel_count(np.array([[True, False], [True, True]]))
        3
    """
    return int(_pixel_count_kernel(_mask("pixel_count", mask)))


@_implements(_bbox_kernel)
def bbox(mask: _MaskArray) -> tuple[int, int, int, int]:
    """Return the inclusive bounding box of the True pixels of a mask.

    Args:
        mask: H x W bool array.

    Returns:
        ``(y0, x0, y1, x1)``: the smallest and largest row and column holding a True pixel
        (inclusive), or ``(-1, -1, -1, -1)`` when the mask has no True pixel.

    Raises:
        ValueError: if ``mask`` is not a 2-D bool array (or is too large).

    Example:
        >>> mask = np.zeros((5, 6), dtype=bool)
        >>> mask[1:3, 2:5] = True
        >>> bbox(mask)
        (1, 2, 2, 4)
        >>> bbox(np.zeros((5, 6), dtype=bool))
        (-1, -1, -1, -1)
    """
    y0, x0, y1, x1 = _bbox_kernel(_mask("bbox", mask))
    return int(y0), int(x0), int(y1), int(x1)


@_implements(_centroid_kernel)
def centroid(mask: _MaskArray) -> tuple[float, float]:
    """Return the mean row and column of the True pixels of a mask.

    Args:
        mask: H x W bool array.

    Returns:
        ``(cy, cx)``, or ``(-1.0, -1.0)`` when the mask has no True pixel.

    Raises:
        ValueError: if ``mask`` is not a 2-D bool array (or is too large).

    Example:
        >>> mask = np.zeros((4, 4), dtype=bool)
        >>> mask[1, 1] = mask[2, 2] = mask[2, 3] = True
        >>> centroid(mask)
        (1.6666666666666667, 2.0)
    """
    cy, cx = _centroid_kernel(_mask("centroid", mask))
    return float(cy), float(cx)


@_implements(_connected_components_kernel)
def connected_components(
    mask: _MaskArray, connectivity: _Int = 4
) -> tuple[npt.NDArray[np.int32], int]:
    """Label the connected components of the True pixels of a mask.

    Args:
        mask: H x W bool array.
        connectivity: 4 (edge neighbours) or 8 (edge and corner neighbours).

    Returns:
        ``(labels, n)``: a new H x W int32 array with 0 for background and ``1..n`` for the
        components, numbered in the raster order (row by row) of each component's first pixel,
        and the number of components ``n``.

    Raises:
        ValueError: if ``mask`` is not a 2-D bool array (or is too large) or ``connectivity``
            is not 4 or 8.

    Example:
        >>> mask = np.array([[1, 0, 1], [0, 1, 0]], dtype=bool)
        >>> labels, n = connected_components(mask)
        >>> n
        3
        >>> labels
        array([[1, 0, 2],
               [0, 3, 0]], dtype=int32)
        >>> connected_components(mask, connectivity=8)[1]
        1
    """
    m = _mask("connected_components", mask)
    c = _connectivity("connected_components", connectivity)
    labels: npt.NDArray[np.int32]
    labels, n = _connected_components_kernel(m, c)
    return labels, int(n)


@_implements(_component_sizes_kernel)
def component_sizes(mask: _MaskArray, connectivity: _Int = 4) -> npt.NDArray[np.int64]:
    """Return the sizes of the connected components of a mask.

    Args:
        mask: H x W bool array.
        connectivity: 4 (edge neighbours) or 8 (edge and corner neighbours).

    Returns:
        A new int64 array of length n: element ``i`` is the pixel count of the component
        labelled ``i + 1`` by :func:`connected_components`.

    Raises:
        ValueError: if ``mask`` is not a 2-D bool array (or is too large) or ``connectivity``
            is not 4 or 8.

    Example:
        >>> mask = np.array([[1, 1, 0, 0], [0, 0, 0, 1]], dtype=bool)
        >>> component_sizes(mask)
        array([2, 1])
    """
    m = _mask("component_sizes", mask)
    c = _connectivity("component_sizes", connectivity)
    sizes: npt.NDArray[np.int64] = _component_sizes_kernel(m, c)
    return sizes


@_implements(_largest_component_kernel)
def largest_component(mask: _MaskArray, connectivity: _Int = 4) -> int:
    """Return the size of the largest connected component of a mask.

    Args:
        mask: H x W bool array.
        connectivity: 4 (edge neighbours) or 8 (edge and corner neighbours).

    Returns:
        The pixel count of the largest component, or 0 when the mask has no True pixel.

    Raises:
        ValueError: if ``mask`` is not a 2-D bool array (or is too large) or ``connectivity``
            is not 4 or 8.

    Example:
        >>> mask = np.array([[1, 0, 0], [0, 1, 1]], dtype=bool)
        >>> largest_component(mask)
        2
        >>> largest_component(mask, connectivity=8)
        3
    """
    m = _mask("largest_component", mask)
    c = _connectivity("largest_component", connectivity)
    return int(_largest_component_kernel(m, c))


@_implements(_mean_color_kernel)
def mean_color(frame: _FrameArray, mask: _MaskArray) -> tuple[float, float, float]:
    """Return the mean RGB colour of the frame over the True pixels of a mask.

    Args:
        frame: H x W x 3 uint8 RGB frame.
        mask: H x W bool array (the frame's height and width).

    Returns:
        ``(r, g, b)`` means, or ``(-1.0, -1.0, -1.0)`` when the mask has no True pixel.

    Raises:
        ValueError: if an argument has the wrong type, dtype or shape.

    Example:
        >>> frame = np.zeros((2, 2, 3), dtype=np.uint8)
        >>> frame[0, 0] = (255, 0, 10)
        >>> mean_color(frame, np.array([[True, True], [False, False]]))
        (127.5, 0.0, 5.0)
    """
    f = _frame("mean_color", "frame", frame)
    m = _mask("mean_color", mask)
    if m.shape != f.shape[:2]:
        raise _fail(
            "mean_color",
            "mask",
            mask,
            f"shape must equal the frame's height and width {f.shape[:2]}",
        )
    r, g, b = _mean_color_kernel(f, m)
    return float(r), float(g), float(b)


@_implements(_changed_fraction_kernel)
def changed_fraction(frame: _FrameArray, first: _FrameArray, tol: _Int = 0) -> float:
    """Return the fraction of pixels that changed by more than ``tol`` since ``first``.

    Args:
        frame: H x W x 3 uint8 RGB frame.
        first: the episode's first frame, same shape as ``frame``.
        tol: a pixel counts as changed when its largest absolute channel difference exceeds
            this int in 0..255.

    Returns:
        The changed fraction in 0.0..1.0 (0.0 for a frame without pixels).

    Raises:
        ValueError: if an argument has the wrong type, dtype, shape or range.

    Example:
        >>> first = np.zeros((2, 2, 3), dtype=np.uint8)
        >>> frame = first.copy()
        >>> frame[0, 0] = (0, 9, 0)
        >>> frame[1, 1] = (0, 0, 3)
        >>> changed_fraction(frame, first)
        0.5
        >>> changed_fraction(frame, first, tol=5)
        0.25
    """
    f = _frame("changed_fraction", "frame", frame)
    s = _first("changed_fraction", first, f)
    t = _tol("changed_fraction", tol)
    return float(_changed_fraction_kernel(f, s, t))


@_implements(_region_change_kernel)
def region_change(
    frame: _FrameArray,
    first: _FrameArray,
    y0: _Int,
    x0: _Int,
    y1: _Int,
    x1: _Int,
    tol: _Int = 0,
) -> float:
    """Return the changed fraction (see :func:`changed_fraction`) inside a box.

    The box is half-open, rows ``y0..y1-1`` and columns ``x0..x1-1``, and is clipped to the
    frame (negative coordinates mean 0, not "from the end").

    Args:
        frame: H x W x 3 uint8 RGB frame.
        first: the episode's first frame, same shape as ``frame``.
        y0: first row of the box.
        x0: first column of the box.
        y1: one past the last row of the box.
        x1: one past the last column of the box.
        tol: a pixel counts as changed when its largest absolute channel difference exceeds
            this int in 0..255.

    Returns:
        The changed fraction of the clipped box in 0.0..1.0, or 0.0 when the box is empty.

    Raises:
        ValueError: if an argument has the wrong type, dtype, shape or range.

    Example:
        >>> first = np.zeros((4, 4, 3), dtype=np.uint8)
        >>> frame = first.copy()
        >>> frame[0, 0] = (200, 0, 0)
        >>> region_change(frame, first, 0, 0, 2, 2)
        0.25
        >>> region_change(frame, first, 2, 2, 10, 10)
        0.0
    """
    fn = "region_change"
    f = _frame(fn, "frame", frame)
    s = _first(fn, first, f)
    h, w = f.shape[0], f.shape[1]
    box = (
        _coord(fn, "y0", y0, h),
        _coord(fn, "x0", x0, w),
        _coord(fn, "y1", y1, h),
        _coord(fn, "x1", x1, w),
    )
    t = _tol(fn, tol)
    return float(_region_change_kernel(f, s, *box, t))


@_implements(_region_mean_kernel)
def region_mean(
    frame: _FrameArray, y0: _Int, x0: _Int, y1: _Int, x1: _Int
) -> tuple[float, float, float]:
    """Return the mean RGB colour inside a box.

    The box is half-open, rows ``y0..y1-1`` and columns ``x0..x1-1``, and is clipped to the
    frame (negative coordinates mean 0, not "from the end").

    Args:
        frame: H x W x 3 uint8 RGB frame.
        y0: first row of the box.
        x0: first column of the box.
        y1: one past the last row of the box.
        x1: one past the last column of the box.

    Returns:
        ``(r, g, b)`` means over the clipped box, or ``(-1.0, -1.0, -1.0)`` when it is empty.

    Raises:
        ValueError: if an argument has the wrong type, dtype or shape.

    Example:
        >>> frame = np.zeros((4, 4, 3), dtype=np.uint8)
        >>> frame[0, :2] = (100, 50, 1)
        >>> region_mean(frame, -3, 0, 1, 2)
        (100.0, 50.0, 1.0)
        >>> region_mean(frame, 3, 3, 3, 4)
        (-1.0, -1.0, -1.0)
    """
    fn = "region_mean"
    f = _frame(fn, "frame", frame)
    h, w = f.shape[0], f.shape[1]
    r, g, b = _region_mean_kernel(
        f,
        _coord(fn, "y0", y0, h),
        _coord(fn, "x0", x0, w),
        _coord(fn, "y1", y1, h),
        _coord(fn, "x1", x1, w),
    )
    return float(r), float(g), float(b)


if set(_IMPLEMENTED) != VISION_NAMES:  # pragma: no cover - a helper declared but not written
    raise RuntimeError(
        "sandbox.vision: helpers declared in sandbox.surface.VISION_SIGNATURES but not implemented "
        f"here: {sorted(VISION_NAMES - set(_IMPLEMENTED))}"
    )

#: Helper name -> public function; the facade exposes these to checkers.
VISION_HELPERS: Mapping[str, Callable[..., Any]] = MappingProxyType(
    {name: _IMPLEMENTED[name][0] for name in sorted(_IMPLEMENTED)}
)

#: Helper name -> Numba kernel (signatures in the module docstring), for jitted checkers.
VISION_KERNELS: Mapping[str, Any] = MappingProxyType(
    {name: _IMPLEMENTED[name][1] for name in sorted(_IMPLEMENTED)}
)


def memory_only_cache() -> int:
    """Stop every vision kernel from writing to Numba's on-disk cache; return how many.

    Kernels already compiled or loaded stay. A specialisation first needed later (a JIT kernel
    calling a helper with a read-only or strided array, say) is then compiled in memory instead
    of being saved beside this module, which an isolated worker may not write (Numba raises
    ``PermissionError`` there rather than skipping the save). Workers call this after
    :func:`warm_up` and before they isolate themselves.

    Example:
        >>> memory_only_cache() >= 10
        True
    """
    from numba.core.caching import NullCache
    from numba.core.dispatcher import Dispatcher

    dispatchers = [obj for obj in globals().values() if isinstance(obj, Dispatcher)]
    for dispatcher in dispatchers:
        setattr(dispatcher, "_cache", NullCache())  # noqa: B010 - private in numba's stubs
    return len(dispatchers)


def warm_up() -> None:
    """Compile (or load from Numba's cache) every kernel by calling each helper once.

    Sandbox workers call this before they isolate themselves, so that no compilation or cache
    write happens once file writes are denied.

    Example:
        >>> warm_up()
    """
    frame = np.zeros((4, 4, 3), np.uint8)
    sample: dict[str, object] = {
        "frame": frame,
        "first": frame,
        "mask": np.zeros((4, 4), np.bool_),
        "rgb": (0, 0, 0),
        "tol": 0,
        "connectivity": 4,
        "y0": 0,
        "x0": 0,
        "y1": 2,
        "x1": 2,
    }
    for name, fn in VISION_HELPERS.items():  # declared defaults left out, as checkers mostly call
        fn(*(sample[kind] for kind, default in VISION_PARAMETERS[name] if default is None))
