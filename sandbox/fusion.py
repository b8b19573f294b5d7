"""Fusion for the JIT path: a reduction of a per-pixel expression becomes one pass over the frame.

Provides:
    Fuser: per entry function, finds the reductions it can fuse and lowers each to a loop helper.
    is_frame_view: whether an expression is a spatial view of a frame (``frame[a:b, c:d]``).
    logical_reduce_op: ``"and"``/``"or"`` for ``np.logical_and/or.reduce(...)`` calls.
    FUSED_PREFIX: the name prefix of the generated helpers (they need no bounds checks).

Model-written checkers build masks from whole-array numpy: ``mask = (frame[..., 0] > 200) &
(frame[..., 1] < 60)``, ``np.all(frame == KEY, axis=-1)``, ``frame.mean(axis=2)``,
``np.abs(frame.astype(int) - KEY).sum(axis=-1) < 30``, ``np.maximum(r, b)``,
``np.logical_and.reduce([...])`` ... and then reduce them (``np.count_nonzero``,
``.sum()``, ``.any()``, ``np.mean`` ...). numpy and a naive kernel compute every temporary in full
(ten operations, ten passes over the frame). Here the reduction of such an expression is lowered to a
generated helper with one loop over the pixels that reads each channel once, computes the
expression on scalars and reduces on the fly: no temporary arrays at all.

**Exactness.** A lowering is made only where the scalar loop provably computes numpy's answer:

- values are tracked with the interpreter path's dtype and an interval. That path is numpy, except
  that a Python number next to an array is an int64 or float64 (the guards make it strong, as the
  JIT types it: ``frame[..., 0] + 100`` is int64); a tuple or an array constant is an array of its
  dtype. Integer arithmetic is done in int64 and reduced to the result dtype's width exactly where
  numpy wraps (``frame[..., 0] - frame[..., 1]`` on uint8);
- float arithmetic is one IEEE operation per numpy operation, in the same order (numpy's
  element-wise loops round each operation the same way); an interval proves no overflow, no
  division by zero and no square root of a negative, so neither path can warn or produce NaN;
  NaN and infinity appear only as comparison operands;
- whole-array sums and means of floats are lowered only when every term is an exact integer (then
  every summation order gives the same total); a sum over the 3 channels is lowered as numpy
  computes it, in order; float max/min stay with numpy;
- every expression lowered here cannot raise on a valid (H, W, 3) uint8 frame, so a mask whose only
  uses are fused reductions is not computed at all (its assignment is dropped).

The vision helpers take part as well: ``color_mask(image, RGB, tol)`` of an (h, w, 3) uint8
expression and constants the helper accepts is a per-pixel leaf (every channel within ``tol``, in
int64 differences, as ``sandbox.vision`` computes it), and ``pixel_count``, ``bbox`` and ``centroid``
of a per-pixel bool expression are reductions computed as their kernels compute them. Arguments the
helpers would refuse (a channel past 255, a float tolerance, an int16 image, a 3-D mask) are not
lowered, so the helper runs and raises as it would.

Helpers take part too. A module helper whose body is assignments of names bound once and a
``return`` (``def cube_mask(frame): img = frame.astype(np.int32); r, g, b = ...; return (g -
np.maximum(r, b)) > 60``) is inlined where it is called: its call is its expression with the
arguments put in place, provided every argument and local lowers as well (Python computes them
even where the expression does not read them). A helper's parameter is a leaf of its own when
every call passes a frame or a spatial view of one (``sandbox.jit._frame_params``).

``ys, xs = np.nonzero(mask)`` (or ``np.where(mask)``) at a function's top level, each name read
only by ``len``, ``mean``, ``min``, ``max`` or ``sum``, is not computed: each read is a fused loop
over the mask's true pixels, the row or column counter reduced (numpy's mean of int coordinates is
an exact float64 total divided by the count; a mean or extreme of no pixel defers).

Frame parameters (never reassigned) are the fused leaves, sliced spatially by
int literals or module int constants; module number constants, number tuples and 3-element numeric
arrays, and locals bound once to a literal, are the constants. Whatever falls outside this stays on
the regular kernel path, and :meth:`sandbox.Checker.attach_kernel` still compares both paths on
probe frames before any kernel answers.
"""

from __future__ import annotations

import ast
import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

__all__ = [
    "FUSED_COUNT_PREFIX",
    "FUSED_PREFIX",
    "HELPERS_ALIAS",
    "NUMPY_ALIAS",
    "Fuser",
    "is_frame_view",
    "logical_reduce_op",
]

#: the kernel module's fixed aliases (sandbox.jit uses the same)
NUMPY_ALIAS = "_vlmcar_np"
HELPERS_ALIAS = "_vlmcar_h"
#: generated fused helpers are named ``_vlmcar_fz<k>``: their indices are the engine's own loop
#: counters over the checked shape, so they are compiled without bounds checks
FUSED_PREFIX = "_vlmcar_fz"
#: helpers that count (true pixels, ``len(np.argwhere(...))``): their results are sizes, far
#: below 2**52, which the JIT's type-flow check lets become floats
FUSED_COUNT_PREFIX = "_vlmcar_fzc"

_CHANNELS = 3
#: floats hold every integer below this exactly
_EXACT_FLOAT = 2**53
#: a float interval past this could overflow in a later operation: not lowered
_FLOAT_LIMIT = 1e300
_INT64 = (-(2**63), 2**63 - 1)
_INT_DTYPES = {
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
}
_CASTS: Mapping[str, Any] = {**_INT_DTYPES, "int_": np.int64, "float64": np.float64}
_BUILTIN_CASTS: Mapping[str, Any] = {"int": np.int64, "float": np.float64}
#: full reductions: the call's name -> the lowered reduction
_REDUCTIONS = {
    "count_nonzero": "count",
    "sum": "sum",
    "any": "any",
    "all": "all",
    "mean": "mean",
    "max": "max",
    "amax": "max",
    "min": "min",
    "amin": "min",
}
#: vision helpers that reduce a 2-D bool mask: the helper's name -> the lowered reduction
#: (``sandbox.vision``'s kernels, computed the same way on the fly)
_MASK_HELPERS = {"pixel_count": "pixels", "bbox": "bbox", "centroid": "centroid"}
_METHOD_REDUCTIONS = frozenset({"sum", "any", "all", "mean", "max", "min"})
_AXIS_REDUCTIONS = frozenset({"all", "any", "sum", "mean", "max", "min", "amax", "amin"})
#: reductions of ``np.nonzero``'s coordinate arrays: the call's (or method's) name -> the op
_NONZERO_REDUCTIONS = {"mean": "mean", "min": "min", "amin": "min", "max": "max", "amax": "max",
                       "sum": "sum"}  # fmt: skip
#: nodes that open a scope or bind a name in an expression: a helper holding one is not inlined
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.GeneratorExp, ast.ListComp,
           ast.SetComp, ast.DictComp, ast.ClassDef, ast.NamedExpr, ast.Global, ast.Nonlocal,
           ast.Yield, ast.YieldFrom, ast.Await)  # fmt: skip
#: builtins and vision helpers an inlined helper may call (the fuser lowers some of them; the
#: rest leave the call as it is)
_GLOBAL_CALLS = frozenset({"abs", "int", "float", "color_mask", "pixel_count", "bbox", "centroid"})
#: the most nodes an inlined helper's expression may have (locals read many times multiply)
_INLINE_NODES = 2000
_COMPARE: Mapping[type[ast.cmpop], Callable[[], ast.cmpop]] = {
    ast.Eq: ast.Eq,
    ast.NotEq: ast.NotEq,
    ast.Lt: ast.Lt,
    ast.LtE: ast.LtE,
    ast.Gt: ast.Gt,
    ast.GtE: ast.GtE,
}


@dataclass(frozen=True)
class _Num:
    """One scalar of the lowered expression (a pixel's value, or a constant).

    ``kind``: "b" bool, "i" int (exact, computed in int64), "f" float64. ``dtype``: numpy's dtype of
    the array this scalar is an element of (None: a Python number). ``lo``/``hi``: an
    interval holding every value; ``integral``: a float known to be an exact integer.
    """

    kind: str
    dtype: np.dtype[Any] | None
    lo: float
    hi: float
    expr: ast.expr
    pixel: bool
    integral: bool = True


@dataclass(frozen=True)
class _Val:
    """A lowered array: one part (an (h, w) array) or three (the channel axis, last).

    ``sequence``: a Python tuple or list constant (numpy makes it an array next to an array, but
    on its own it has no ``-``, ``+`` or methods).
    """

    parts: tuple[_Num, ...]
    sequence: bool = False

    @property
    def vector(self) -> bool:
        return len(self.parts) == _CHANNELS

    @property
    def pixel(self) -> bool:
        return any(p.pixel for p in self.parts)


@dataclass
class _Ctx:
    """What one fused expression reads: its frame views, each a helper argument.

    ``views[i]``: the name and the spatial slices (None: the whole array) of argument ``i``.
    ``depth``: how many inlined definitions deep the analysis is; slices with bounds other than
    literals, and names of views that may be rebound, are read only at depth 0 (directly in the
    reduction), where they are evaluated exactly when numpy would evaluate them.
    """

    bases: dict[str, int] = field(default_factory=dict)
    views: list[tuple[str, list[ast.Slice] | None]] = field(default_factory=list)
    depth: int = 0


@dataclass(frozen=True)
class Lowered:
    """A fused reduction: the helper to add to the kernel module and the call that replaces it."""

    helper: ast.FunctionDef
    call: ast.Call


class _No(Exception):
    """This expression is not lowered (it stays on the regular kernel path)."""


def _np(attr: str) -> ast.expr:
    return ast.Attribute(value=ast.Name(NUMPY_ALIAS, ast.Load()), attr=attr, ctx=ast.Load())


def _call(func: ast.expr, *args: ast.expr) -> ast.Call:
    return ast.Call(func=func, args=list(args), keywords=[])


def _float_literal(value: float) -> ast.expr:
    if math.isnan(value):
        return _np("nan")
    if math.isinf(value):
        return _np("inf") if value > 0 else ast.UnaryOp(op=ast.USub(), operand=_np("inf"))
    return ast.Constant(value)


def _as_float(n: _Num) -> ast.expr:
    if n.kind == "f":
        return n.expr
    if max(abs(n.lo), abs(n.hi)) >= _EXACT_FLOAT:
        raise _No
    return _call(_np("float64"), n.expr)


def _truth(n: _Num) -> ast.expr:
    if n.kind == "b":
        return n.expr
    zero = ast.Constant(0.0 if n.kind == "f" else 0)
    return ast.Compare(left=n.expr, ops=[ast.NotEq()], comparators=[zero])


def _dtype_range(dtype: np.dtype[Any]) -> tuple[int, int]:
    info = np.iinfo(dtype)
    return int(info.min), int(info.max)


def _wrap(expr: ast.expr, lo: int, hi: int, dtype: np.dtype[Any]) -> tuple[ast.expr, int, int]:
    """An int64 expression reduced to ``dtype``'s width where its interval leaves the range."""
    dmin, dmax = _dtype_range(dtype)
    if hi > _INT64[1]:
        raise _No  # uint64 values past 2**63 cannot be held in the kernel's int64
    if dmin <= lo and hi <= dmax:
        return expr, lo, hi
    bits = dtype.itemsize * 8
    if bits == 64:
        if dtype.kind == "u":
            raise _No  # values past 2**63 cannot be held in int64
        return expr, dmin, dmax  # int64 arithmetic in kernels wraps (no nsw)
    mask = ast.Constant(2**bits - 1)
    masked = ast.BinOp(left=expr, op=ast.BitAnd(), right=mask)
    if dtype.kind == "u":
        return masked, dmin, dmax
    half = ast.Constant(2 ** (bits - 1))
    shifted = ast.BinOp(left=ast.BinOp(left=expr, op=ast.Add(), right=half), op=ast.BitAnd(),
                        right=mask)  # fmt: skip
    return ast.BinOp(left=shifted, op=ast.Sub(), right=half), dmin, dmax


def _py_int(value: int) -> _Num:
    if not _INT64[0] <= value <= _INT64[1]:
        raise _No
    return _Num("i", None, value, value, ast.Constant(value), pixel=False)


def _py_float(value: float) -> _Num:
    return _Num("f", None, value, value, _float_literal(value), pixel=False,
                integral=math.isfinite(value) and value == int(value))  # fmt: skip


def _number(value: Any) -> _Num:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _No
    return _py_int(value) if isinstance(value, int) else _py_float(value)


def _strong_vector(values: Sequence[Any], dtype: np.dtype[Any], sequence: bool = False) -> _Val:
    """A 3-element numeric constant (a tuple or an array) as a strong array."""
    if dtype.kind not in "iuf" or (dtype.kind == "f" and dtype != np.float64):
        raise _No
    parts = []
    for v in values:
        if dtype.kind == "f":
            parts.append(replace(_py_float(float(v)), dtype=dtype))
        else:
            parts.append(replace(_py_int(int(v)), dtype=dtype))
    return _Val(tuple(parts), sequence=sequence)


def _result_dtype(a: _Num, b: _Num) -> np.dtype[Any]:
    """The result dtype of ``a op b`` for + - * on the interpreter path, or _No.

    A Python number next to an array is an int64 or a float64 there (the guards make it strong:
    :func:`sandbox.facade.strong_scalar`, the JIT's own typing), so ``uint8_array + 100`` is an
    int64 array (355, not numpy 2's wrapped 99); an array with an array follows numpy.
    """
    if a.dtype is None and b.dtype is None:
        raise _No  # constant arithmetic is left to the regular path
    da = a.dtype if a.dtype is not None else np.dtype(np.float64 if a.kind == "f" else np.int64)
    db = b.dtype if b.dtype is not None else np.dtype(np.float64 if b.kind == "f" else np.int64)
    result = np.result_type(da, db)
    if result.kind == "f" and (result != np.float64 or (a.kind != "f" and b.kind != "f")):
        raise _No  # int64 with uint64 gives float64 in numpy: not lowered
    return result


def _float_num(lo: float, hi: float, expr: ast.expr, integral: bool) -> _Num:
    if not (math.isfinite(lo) and math.isfinite(hi)) or max(abs(lo), abs(hi)) > _FLOAT_LIMIT:
        raise _No
    integral = integral and max(abs(lo), abs(hi)) < _EXACT_FLOAT
    if not integral:  # bounds computed in rounded arithmetic: widened (integers are exact)
        slack = 1e-9 * max(abs(lo), abs(hi), 1.0)
        lo, hi = lo - slack, hi + slack
    return _Num("f", np.dtype(np.float64), lo, hi, expr, True, integral)


def _square(a: _Num) -> _Num:
    """``a ** 2``: the 2 is a Python int, so an int64 next to the array (uint8 ** 2 is int64).

    The product is of ``a`` with itself, in that dtype; its interval starts at 0 when ``a``'s
    holds 0.
    """
    if a.kind == "b" or not a.pixel:
        raise _No
    dtype = _result_dtype(a, _py_int(2))
    if dtype.kind == "f" and a.kind != "f":
        raise _No  # uint64 ** 2 is float64 in numpy: not lowered
    lo = 0 if a.lo <= 0 <= a.hi else min(a.lo * a.lo, a.hi * a.hi)
    hi = max(a.lo * a.lo, a.hi * a.hi)
    if a.kind == "f":
        product = ast.BinOp(left=a.expr, op=ast.Mult(), right=a.expr)
        return _float_num(float(lo), float(hi), product, a.integral)
    product = ast.BinOp(left=a.expr, op=ast.Mult(), right=a.expr)
    wrapped, ilo, ihi = _wrap(product, int(lo), int(hi), dtype)
    return _Num("i", dtype, ilo, ihi, wrapped, True)


def _arith(op: ast.operator, a: _Num, b: _Num) -> _Num:
    """``a op b`` for + - * / (``**2`` arrives as a product)."""
    if a.kind == "b" or b.kind == "b" or not (a.pixel or b.pixel):
        raise _No  # numpy refuses bool - bool; bool + int is rare enough to leave
    if isinstance(op, ast.Div):
        if a.dtype is not None and b.dtype is not None:
            _result_dtype(a, b)
        if b.lo <= 0 <= b.hi:
            raise _No  # a zero divisor warns (and gives inf or NaN)
        corners = [x / y for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        expr = ast.BinOp(left=_as_float(a), op=ast.Div(), right=_as_float(b))
        return _float_num(min(corners), max(corners), expr, integral=False)
    dtype = _result_dtype(a, b)
    if isinstance(op, ast.Add):
        lo, hi = a.lo + b.lo, a.hi + b.hi
    elif isinstance(op, ast.Sub):
        lo, hi = a.lo - b.hi, a.hi - b.lo
    elif isinstance(op, ast.Mult):
        corners = [x * y for x in (a.lo, a.hi) for y in (b.lo, b.hi)]
        lo, hi = min(corners), max(corners)
    else:
        raise _No
    if dtype.kind == "f":
        product = ast.BinOp(left=_as_float(a), op=op, right=_as_float(b))
        return _float_num(lo, hi, product, a.integral and b.integral)
    wrapped, ilo, ihi = _wrap(ast.BinOp(left=a.expr, op=op, right=b.expr), int(lo), int(hi), dtype)
    return _Num("i", dtype, ilo, ihi, wrapped, True)


def _negate(a: _Num) -> _Num:
    if a.kind == "b" or not a.pixel:
        raise _No  # numpy refuses -bool arrays
    if a.kind == "f":
        return _float_num(-a.hi, -a.lo, ast.UnaryOp(op=ast.USub(), operand=a.expr), a.integral)
    assert a.dtype is not None
    expr, lo, hi = _wrap(
        ast.UnaryOp(op=ast.USub(), operand=a.expr), int(-a.hi), int(-a.lo), a.dtype
    )
    return _Num("i", a.dtype, lo, hi, expr, True)


def _absolute(a: _Num) -> _Num:
    if a.kind == "b" or not a.pixel:
        raise _No
    lo = 0 if a.lo <= 0 <= a.hi else min(abs(a.lo), abs(a.hi))
    hi = max(abs(a.lo), abs(a.hi))
    if a.kind == "f":
        return _float_num(lo, hi, _call(ast.Name("abs", ast.Load()), a.expr), a.integral)
    assert a.dtype is not None
    if a.dtype.kind == "u":
        return a
    if a.lo <= _INT64[0]:
        raise _No  # abs of the int64 minimum: left to numpy (a native abs need not wrap)
    expr, ilo, ihi = _wrap(_call(ast.Name("abs", ast.Load()), a.expr), int(lo), int(hi), a.dtype)
    return _Num("i", a.dtype, ilo, ihi, expr, True)


def _compare(op: ast.cmpop, a: _Num, b: _Num) -> _Num:
    if not (a.pixel or b.pixel):
        raise _No
    make = _COMPARE.get(type(op))
    if make is None:
        raise _No
    if a.kind == "f" or b.kind == "f":
        left, right = _as_float(a), _as_float(b)
    else:  # bools compare as 0/1 with ints, as numpy does
        left, right = a.expr, b.expr
    expr = ast.Compare(left=left, ops=[make()], comparators=[right])
    return _Num("b", np.dtype(np.bool_), 0, 1, expr, True)


def _extreme(which: str, a: _Num, b: _Num) -> _Num:
    """``np.maximum(a, b)`` or ``np.minimum(a, b)`` of two integer arrays, element by element.

    Both must be arrays (a frame's values or an array or tuple constant; a Python number would be
    weak in numpy's promotion), of
    integer dtypes whose common dtype is an integer one; the larger (smaller) of two values of
    their dtypes is held exactly by that dtype, so nothing wraps.
    """
    if a.kind != "i" or b.kind != "i" or not (a.pixel or b.pixel):
        raise _No  # floats: numpy propagates NaN, a native max does not
    if a.dtype is None or b.dtype is None:
        raise _No  # a Python number: weak in numpy's promotion here
    dtype = _result_dtype(a, b)
    if dtype.kind not in "iu":
        raise _No  # int64 with uint64 is float64 in numpy
    pick = max if which == "max" else min
    expr = _call(ast.Name(which, ast.Load()), a.expr, b.expr)
    return _Num("i", dtype, pick(a.lo, b.lo), pick(a.hi, b.hi), expr, True)


def _logical(op: str, values: Sequence[_Num]) -> _Num:
    truths = [_truth(v) for v in values]
    if op == "not":
        expr: ast.expr = ast.UnaryOp(op=ast.Not(), operand=truths[0])
    elif op == "xor":
        expr = ast.Compare(left=truths[0], ops=[ast.NotEq()], comparators=[truths[1]])
    else:
        expr = ast.BoolOp(op=ast.And() if op == "and" else ast.Or(), values=truths)
    return _Num("b", np.dtype(np.bool_), 0, 1, expr, any(v.pixel for v in values))


def _cast(a: _Num, dtype: np.dtype[Any]) -> _Num:
    """``.astype(dtype)``: exact widening, or numpy's wrap for a narrower int type."""
    if not a.pixel:
        raise _No  # a tuple has no astype; an array constant's cast is left to numpy
    if a.kind == "f":
        if dtype != np.float64:
            raise _No  # float -> int truncates and is undefined for NaN and infinities
        return a
    if a.kind == "b":
        if dtype.kind == "f":
            return _float_num(0.0, 1.0, _as_float(a), integral=True)
        return _Num("i", dtype, 0, 1, _call(ast.Name("int", ast.Load()), a.expr), a.pixel)
    if dtype.kind == "f":
        return _float_num(a.lo, a.hi, _as_float(a), integral=True)
    expr, lo, hi = _wrap(a.expr, int(a.lo), int(a.hi), dtype)
    return _Num("i", dtype, lo, hi, expr, a.pixel)


def _sum_dtype(a: _Num) -> np.dtype[Any]:
    """Numpy's dtype of a sum of ``a``'s elements (small ints widen to the platform int)."""
    if a.kind == "b":
        return np.dtype(np.int64)
    assert a.dtype is not None
    if a.kind == "f":
        return a.dtype
    return np.dtype(np.uint64 if a.dtype.kind == "u" else np.int64)


def _channel_sum(parts: Sequence[_Num]) -> _Num:
    """``v.sum(axis=-1)``: the three channels added in order.

    numpy adds a length-3 last axis in order, ``(a0 + a1) + a2`` (checked bit for bit on 10**6
    random floats of mixed magnitudes in tests/sandbox/test_fusion.py), so float channel sums are
    exact too; whole-array float sums are not lowered.
    """
    dtype = _sum_dtype(parts[0])
    lo = sum(p.lo for p in parts)
    hi = sum(p.hi for p in parts)
    if parts[0].kind == "f":
        expr: ast.expr = parts[0].expr
        for p in parts[1:]:
            expr = ast.BinOp(left=expr, op=ast.Add(), right=p.expr)
        return _float_num(lo, hi, expr, integral=all(p.integral for p in parts))
    if max(abs(lo), abs(hi)) >= 2**62:
        raise _No
    ints = [p.expr if p.kind == "i" else _call(ast.Name("int", ast.Load()), p.expr) for p in parts]
    expr = ints[0]
    for e in ints[1:]:
        expr = ast.BinOp(left=expr, op=ast.Add(), right=e)
    return _Num("i", dtype, int(lo), int(hi), expr, True)


class Fuser:
    """The fusable reductions of one entry function (see the module docstring).

    Args:
        fn: the entry function (audited).
        frames: its frame parameters (the kernel passes (H, W, 3) uint8 arrays).
        constants: the module's folded constants.
        numpy: the module's names for numpy; ``hidden``: names a local may not shadow.
    """

    def __init__(
        self,
        fn: ast.FunctionDef,
        frames: Sequence[str],
        constants: Mapping[str, Any],
        numpy: set[str],
        hidden: set[str],
        outer: Mapping[str, ast.expr] | None = None,
        functions: Mapping[str, ast.FunctionDef] | None = None,
    ) -> None:
        self.constants = constants
        self.numpy = numpy
        self.name = fn.name
        #: the module's functions: a call of one whose body is a per-pixel expression is inlined
        self.functions = dict(functions or {})
        stores: dict[str, int] = {}
        own = {id(a) for a in fn.args.posonlyargs + fn.args.args}
        own_names = {a.arg for a in fn.args.posonlyargs + fn.args.args}
        for node in ast.walk(fn):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store | ast.Del):
                stores[node.id] = stores.get(node.id, 0) + 1
            elif isinstance(node, ast.arg) and id(node) not in own:
                stores[node.arg] = stores.get(node.arg, 0) + 1  # a nested scope's parameter
        self.frames = {f for f in frames if f not in stores}
        #: every name this function binds (an inlined helper's free names must not be one)
        self.bound = own_names | set(stores)
        # names every store of which binds a spatial view of a frame: ``patch = frame[a:b, c:d]``
        view_stores: dict[str, int] = {}
        for node in ast.walk(fn):
            if (
                isinstance(node, ast.Assign)
                and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)
                and is_frame_view(node.value, self.frames)
            ):
                view_stores[node.targets[0].id] = view_stores.get(node.targets[0].id, 0) + 1
        self.view_names = {
            n for n, k in view_stores.items() if stores.get(n) == k and n not in hidden
        }
        # names assigned once, by a top-level statement: name -> value node
        self.defs: dict[str, ast.expr] = {}
        self.statements: dict[int, set[str]] = {}
        for stmt in fn.body:
            if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
                continue
            pairs = _assigned_pairs(stmt)
            if pairs is None:
                continue
            names = [t.id for t, _ in pairs if isinstance(t, ast.Name)]
            if len(names) != len(pairs) or len(set(names)) != len(names):
                continue
            if any(stores.get(n) != 1 or n in hidden or n in own_names for n in names):
                continue
            for t, v in pairs:
                assert isinstance(t, ast.Name)
                self.defs[t.id] = v
            self.statements[id(stmt)] = set(names)
        # ``ys, xs = np.nonzero(mask)`` (or ``np.where(mask)``) at the top level, each name bound
        # once: name -> (the mask, its axis). Reads like ``len(ys)``, ``ys.mean()``, ``xs.min()``
        # are reductions of the mask over pixel coordinates (``_NONZERO_REDUCTIONS``).
        self.nonzero: dict[str, tuple[ast.expr, int]] = {}
        self.nonzero_statements: dict[int, tuple[set[str], ast.expr]] = {}
        for stmt in fn.body:
            if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
                continue
            target, value = stmt.targets[0], stmt.value
            if not (
                isinstance(target, ast.Tuple)
                and len(target.elts) == 2
                and all(isinstance(e, ast.Name) for e in target.elts)
                and isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and isinstance(value.func.value, ast.Name)
                and value.func.value.id in numpy
                and value.func.attr in ("nonzero", "where")
                and len(value.args) == 1
                and not value.keywords
            ):
                continue
            pair = [e.id for e in target.elts if isinstance(e, ast.Name)]
            if len(set(pair)) != 2 or any(
                stores.get(n) != 1 or n in hidden or n in own_names for n in pair
            ):
                continue
            for axis, n in enumerate(pair):
                self.nonzero[n] = (value.args[0], axis)
            self.nonzero_statements[id(stmt)] = (set(pair), value.args[0])
        if self.nonzero:  # ``ys.size`` is ``len(ys)`` for these 1-D arrays: one fused read
            _SizeAsLen(set(self.nonzero)).visit(fn)
        #: the nonzero names whose every read is fused (their statement is not compiled)
        self.nonzero_inline: set[str] = set()
        # a view is read by its name (cheap to bind, so never dropped); one bound once at the top
        # level never changes, so inlined definitions may read it too
        self.stable_views = {n for n in self.view_names if n in self.defs}
        for n in self.view_names:
            self.defs.pop(n, None)
        self.statements = {k: v for k, v in self.statements.items() if not v & self.view_names}
        # an enclosing function's locals bound once to a literal, read by this nested function
        self.outer = {
            n: v for n, v in (outer or {}).items() if n not in stores and n not in self.defs
        }
        self.inline = self._settle(fn)

    # which names are inlined ----------------------------------------------------------------

    def _settle(self, fn: ast.FunctionDef) -> set[str]:
        """The names whose every read is inside a fused reduction or another inlined definition.

        A greatest fixpoint: start from every candidate, drop one that has a read elsewhere (or
        whose definition is not a per-pixel expression), repeat until nothing changes.
        """
        self.inline = set(self.defs)
        outside: list[ast.AST] = []  # reads in nested scopes never count as fused positions
        for node in ast.walk(fn):
            if node is not fn and isinstance(
                node, ast.FunctionDef | ast.Lambda | ast.GeneratorExp | ast.ListComp | ast.SetComp
                | ast.DictComp
            ):  # fmt: skip
                outside.append(node)
        hidden_ids = {id(n) for scope in outside for n in ast.walk(scope)}
        self.nonzero_inline = set(self.nonzero)
        while True:
            allowed: set[int] = set()
            for node in ast.walk(fn):
                if isinstance(node, ast.Call) and id(node) not in hidden_ids:
                    subject = self._subject(node)
                    if subject is not None and self._build(node, FUSED_PREFIX) is not None:
                        # slice bounds are read again where the view is built: not fused
                        bounds = {
                            id(n) for sl in ast.walk(subject[1]) if isinstance(sl, ast.Slice)
                            for n in ast.walk(sl)
                        }  # fmt: skip
                        allowed |= {id(n) for n in ast.walk(subject[1])} - bounds
                        if subject[0].startswith("nz"):  # the read of ``ys`` itself
                            allowed |= {
                                id(n) for n in ast.walk(node)
                                if isinstance(n, ast.Name) and n.id in self.nonzero
                            }  # fmt: skip
            for names, mask in self.nonzero_statements.values():
                if names <= self.nonzero_inline:  # not computed: the mask's reads there are fused
                    allowed |= {id(n) for n in ast.walk(mask)}
            per_pixel = {n for n in self.inline if self._pixels(self.defs[n], depth=1) is not None}
            for name in per_pixel:
                allowed |= {id(n) for n in ast.walk(self.defs[name])}
            keep = set()
            for name in self.inline:
                if name not in per_pixel and not self._is_literal(name):
                    continue
                if not self._one_shape(self.defs[name]):
                    continue
                reads = [
                    n
                    for n in ast.walk(fn)
                    if isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load)
                ]
                if reads and all(id(n) in allowed for n in reads):
                    keep.add(name)
            nonzero_keep: set[str] = set()
            for names, mask in self.nonzero_statements.values():
                value = self._pixels(mask, depth=1)
                if value is None or value.vector or not self._one_shape(mask):
                    continue  # numpy could raise there, or unpack other than two arrays
                if names <= self.nonzero_inline and all(
                    id(n) in allowed
                    for n in ast.walk(fn)
                    if isinstance(n, ast.Name) and n.id in names and isinstance(n.ctx, ast.Load)
                ):
                    nonzero_keep |= names
            if keep == self.inline and nonzero_keep == self.nonzero_inline:
                return keep
            self.inline, self.nonzero_inline = keep, nonzero_keep

    def _one_shape(self, node: ast.expr) -> bool:
        """Whether every array ``node`` reads has one shape, so computing it cannot raise.

        Frames have one shape (validated); the same slices of frames give one shape; a view name
        alone has one. Anything else could be a broadcast error in numpy, which a dropped
        statement would never raise: such a definition is computed as written.
        """
        ctx = _Ctx(depth=1)
        try:
            self._value(node, ctx)
        except _No:
            return True  # a literal
        return len(self._shapes(ctx)) <= 1

    def _shapes(self, ctx: _Ctx) -> set[tuple[str, tuple[str, ...] | None]]:
        """One key per distinct shape the views ``ctx`` read may have (frames share one)."""
        return {
            (name, None) if name in self.view_names
            else ("", None if slices is None else tuple(ast.dump(s) for s in slices))
            for name, slices in ctx.views
        }  # fmt: skip

    def _is_literal(self, name: str) -> bool:
        try:
            self._scalar_or_vector(self.defs[name], _Ctx())
        except _No:
            return False
        return True

    def literals(self, names: Sequence[str]) -> dict[str, ast.expr]:
        """Of ``names``, the locals bound once to a literal (a nested function may read them)."""
        return {n: self.defs[n] for n in names if n in self.defs and self._is_literal(n)}

    def dropped(self, stmt: ast.stmt) -> bool:
        """Whether this top-level statement only binds inlined names (it is not compiled)."""
        nonzero = self.nonzero_statements.get(id(stmt))
        if nonzero is not None:
            return nonzero[0] <= self.nonzero_inline
        names = self.statements.get(id(stmt))
        return names is not None and names <= self.inline

    @property
    def dropped_names(self) -> set[str]:
        """Every name whose binding statement is not compiled (none may be read)."""
        return self.inline | self.nonzero_inline

    # lowering -------------------------------------------------------------------------------

    def lower(
        self,
        node: ast.Call,
        view: Callable[[str, list[ast.Slice] | None], ast.expr],
        number: int,
    ) -> Lowered | None:
        """The fused helper and its call for a reduction call, or None when it is not fused.

        ``view(name, slices)`` builds a helper argument: the (rebuilt) name sliced by the
        (audited, to be rebuilt) spatial slices, or the name alone. ``number`` makes the
        helper's name unique in the kernel module (``_vlmcar_fz<number>``).
        """
        built = self._build(node, f"{FUSED_PREFIX}{number}")
        if built is None:
            return None
        helper, ctx = built
        args = [view(name, slices) for name, slices in ctx.views]
        return Lowered(helper, _call(ast.Name(helper.name, ast.Load()), *args))

    def _build(self, node: ast.Call, name: str) -> tuple[ast.FunctionDef, _Ctx] | None:
        found = self._subject(node)
        if found is None:
            return None
        kind, subject = found
        ctx = _Ctx(depth=1) if kind.startswith("nz") else _Ctx()
        try:
            value = self._value(subject, ctx)
            if not value.pixel:
                return None
            return self._helper(kind, value, ctx, name), ctx
        except _No:
            return None

    def _pixels(self, node: ast.expr, depth: int = 0) -> _Val | None:
        try:
            value = self._value(node, _Ctx(depth=depth))
        except _No:
            return None
        return value if value.pixel else None

    def _subject(self, node: ast.Call) -> tuple[str, ast.expr] | None:
        """``(reduction, subject)`` when ``node`` has the form of a full reduction, else None.

        Only the form is checked here; whether the subject lowers is :meth:`_build`'s question.
        """
        func = node.func
        if node.keywords:
            return None
        read = self._nonzero_read(node)
        if read is not None:
            return read
        kind: str | None = None
        subject: ast.expr | None = None
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in self.numpy
        ):
            if func.attr in _REDUCTIONS and len(node.args) == 1:
                kind, subject = _REDUCTIONS[func.attr], node.args[0]
        elif isinstance(func, ast.Attribute) and func.attr in _METHOD_REDUCTIONS and not node.args:
            kind, subject = func.attr, func.value
        elif isinstance(func, ast.Name) and func.id in _MASK_HELPERS and len(node.args) == 1:
            kind, subject = _MASK_HELPERS[func.id], node.args[0]
        elif (
            isinstance(func, ast.Name)
            and func.id == "len"
            and len(node.args) == 1
            and isinstance(node.args[0], ast.Call)
        ):
            inner = node.args[0]
            f = inner.func
            if (
                isinstance(f, ast.Attribute)
                and f.attr in ("argwhere", "flatnonzero")
                and isinstance(f.value, ast.Name)
                and f.value.id in self.numpy
                and len(inner.args) == 1
                and not inner.keywords
            ):
                kind, subject = "count1", inner.args[0]  # rows of argwhere: one per true pixel
        if kind is None or subject is None:
            return None
        return kind, subject

    def _nonzero_read(self, node: ast.Call) -> tuple[str, ast.expr] | None:
        """``len(ys)``, ``ys.mean()``, ``np.min(xs)`` ... of ``ys, xs = np.nonzero(mask)``.

        The reduction's kind names the coordinate (``nzmean0``: the mean row of the true
        pixels); its subject is the mask, lowered at depth 1 (it is read where it is bound).
        """
        func, args = node.func, node.args
        name: str | None = None
        op: str | None = None
        if isinstance(func, ast.Name) and func.id == "len" and len(args) == 1:
            target, op = args[0], "count"
        elif (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in self.numpy
            and len(args) == 1
        ):
            target, op = args[0], _NONZERO_REDUCTIONS.get(func.attr)
        elif isinstance(func, ast.Attribute) and not args:
            target, op = func.value, _NONZERO_REDUCTIONS.get(func.attr)
        else:
            return None
        if isinstance(target, ast.Name):
            name = target.id
        if op is None or name is None or name not in self.nonzero:
            return None
        mask, axis = self.nonzero[name]
        return (f"nz{op}" if op == "count" else f"nz{op}{axis}"), mask

    def _scalar_or_vector(self, node: ast.expr, ctx: _Ctx) -> _Val:
        """A constant operand: a number, a 3-number tuple or a 3-element numeric array."""
        value: Any
        if isinstance(node, ast.Constant):
            return _Val((_number(node.value),))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            inner = self._scalar_or_vector(node.operand, ctx)
            if inner.sequence:
                raise _No  # -KEY of a tuple raises TypeError in Python
            return inner if isinstance(node.op, ast.UAdd) else self._neg_const(inner)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in self.numpy and node.attr in ("nan", "inf", "pi", "e"):
                return _Val((_py_float(float(getattr(np, node.attr))),))
            raise _No
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id in self.constants
        ):  # KEY[0]: an element of a tuple or an array constant, a Python number
            table = self.constants[node.value.id]
            k = self._bound(node.slice)
            if k is None:
                raise _No
            if isinstance(table, tuple) and -len(table) <= k < len(table):
                return _Val((_number(table[k]),))
            if (
                isinstance(table, np.ndarray)
                and table.ndim == 1
                and table.dtype.kind in "iuf"
                and -len(table) <= k < len(table)
            ):  # an element read is a Python number on the interpreter path
                return _Val((_number(table[k].item()),))
            raise _No
        if isinstance(node, ast.Tuple | ast.List):
            values = [self._scalar_or_vector(e, ctx) for e in node.elts]
            if len(values) != _CHANNELS or any(v.vector for v in values):
                raise _No
            numbers = [float(v.parts[0].lo) if v.parts[0].kind == "f" else int(v.parts[0].lo)
                       for v in values]  # fmt: skip
            return _strong_vector(numbers, np.asarray(numbers).dtype, sequence=True)
        if isinstance(node, ast.Name):
            if node.id in self.constants:
                value = self.constants[node.id]
            elif node.id in self.defs:  # a local bound once; a per-pixel one raises _No here
                return self._scalar_or_vector(self.defs[node.id], ctx)
            elif node.id in self.outer:
                return self._scalar_or_vector(self.outer[node.id], ctx)
            else:
                raise _No
            if isinstance(value, bool):
                raise _No
            if isinstance(value, int | float):
                return _Val((_number(value),))
            if isinstance(value, tuple) and len(value) == _CHANNELS:
                if any(isinstance(v, bool) or not isinstance(v, int | float) for v in value):
                    raise _No
                return _strong_vector(value, np.asarray(value).dtype, sequence=True)
            if isinstance(value, np.ndarray) and value.shape == (_CHANNELS,):
                return _strong_vector(value.tolist(), value.dtype)
        raise _No

    @staticmethod
    def _neg_const(v: _Val) -> _Val:
        """``-C`` of a constant, as numpy negates it.

        A Python number is negated; an array element wraps into its dtype (``-np.int8(-128)`` is
        -128, ``-np.uint8(5)`` is 251).
        """
        parts = []
        for p in v.parts:
            if p.kind == "f":
                parts.append(replace(_py_float(-float(p.lo)), dtype=p.dtype))
                continue
            value = -int(p.lo)
            if p.dtype is not None:
                dmin, dmax = _dtype_range(p.dtype)
                value = (value - dmin) % (dmax - dmin + 1) + dmin
            parts.append(replace(_py_int(value), dtype=p.dtype))
        return _Val(tuple(parts))

    def _base(self, name: str, slices: list[ast.Slice] | None, ctx: _Ctx) -> _Val:
        """A frame (or a view of one) read pixel by pixel: argument ``i`` of the helper.

        Views of different regions may meet in one expression: the helper checks at run time
        that all its arguments have one shape and defers otherwise (numpy would broadcast or
        raise), so the pixel loop is numpy's element-wise operation.
        """
        key = name if slices is None else f"{name}[{', '.join(ast.dump(s) for s in slices)}]"
        if key not in ctx.bases:
            ctx.bases[key] = len(ctx.views)
            ctx.views.append((name, slices))
        index = ctx.bases[key]
        parts = []
        for c in range(_CHANNELS):
            read = ast.Name(f"_vlmcar_q{index}_{c}", ast.Load())
            parts.append(_Num("i", np.dtype(np.uint8), 0, 255, read, True))
        return _Val(tuple(parts))

    def _bound(self, node: ast.expr | None) -> int | None:
        if node is None:
            return None
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return node.value
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and type(node.operand.value) is int
        ):
            return -node.operand.value
        if isinstance(node, ast.Name) and type(self.constants.get(node.id)) is int:
            return int(self.constants[node.id])
        raise _No

    def _spatial(self, node: ast.expr, ctx: _Ctx) -> ast.Slice:
        """A spatial slice, no step: bounds that are literals or constants, or arithmetic of locals.

        Bounds of locals are read only at depth 0, at the reduction, where numpy reads them.
        """
        if not isinstance(node, ast.Slice) or node.step is not None:
            raise _No
        for bound in (node.lower, node.upper):
            if bound is None:
                continue
            try:
                self._bound(bound)
            except _No:
                if ctx.depth or not _plain_int_expr(bound):
                    raise
        return node

    def _read(self, node: ast.Subscript, ctx: _Ctx) -> _Val:
        """``frame[..., k]``, ``frame[:, :, k]``, ``frame[a:b, c:d]``, ``frame[a:b, c:d, k]``."""
        if isinstance(node.value, ast.Name) and node.value.id in self.constants:
            return self._scalar_or_vector(node, ctx)
        if not (isinstance(node.value, ast.Name) and node.value.id in self.frames):
            inner = self._value(node.value, ctx)
            if not inner.pixel:
                raise _No
            items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if inner.vector and len(items) == 2 and _is_ellipsis(items[0]):
                return _Val((inner.parts[self._channel(items[1])],))
            if inner.vector and len(items) == 3 and all(_full(i) for i in items[:2]):
                return _Val((inner.parts[self._channel(items[2])],))
            raise _No
        name = node.value.id
        items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if items and _is_ellipsis(items[0]):
            if len(items) != 2:
                raise _No
            return _Val((self._base(name, None, ctx).parts[self._channel(items[1])],))
        if len(items) > 3:
            raise _No
        spatial = [self._spatial(i, ctx) for i in items[:2]]
        whole = all(_full(s) for s in spatial)
        base = self._base(name, None if whole else spatial, ctx)
        if len(items) == 3:
            return _Val((base.parts[self._channel(items[2])],))
        return base

    def _channel(self, node: ast.expr) -> int:
        k = self._bound(node)
        if k is None or not -_CHANNELS <= k < _CHANNELS:
            raise _No
        return k % _CHANNELS

    def _value(self, node: ast.expr, ctx: _Ctx) -> _Val:
        """Lower one array expression (raises _No where it is not a per-pixel expression)."""
        if isinstance(node, ast.Name):
            if node.id in self.frames:
                return self._base(node.id, None, ctx)
            if node.id in self.view_names and (not ctx.depth or node.id in self.stable_views):
                return self._base(node.id, None, ctx)
            if node.id in self.inline:
                ctx.depth += 1
                try:
                    return self._value(self.defs[node.id], ctx)
                except _No:
                    pass
                finally:
                    ctx.depth -= 1
            return self._scalar_or_vector(node, ctx)
        if isinstance(node, ast.Constant | ast.Tuple | ast.List):
            return self._scalar_or_vector(node, ctx)
        if isinstance(node, ast.Attribute):
            return self._scalar_or_vector(node, ctx)
        if isinstance(node, ast.Subscript):
            return self._read(node, ctx)
        if isinstance(node, ast.UnaryOp):
            inner = self._value(node.operand, ctx)
            if not inner.pixel:  # a constant: a tuple has no unary operators
                if inner.sequence or not isinstance(node.op, ast.USub | ast.UAdd):
                    raise _No
                return inner if isinstance(node.op, ast.UAdd) else self._neg_const(inner)
            if isinstance(node.op, ast.USub):
                return _Val(tuple(_negate(p) for p in inner.parts))
            if isinstance(node.op, ast.Invert):
                if any(p.kind != "b" for p in inner.parts):
                    raise _No  # ~ of ints is bitwise
                return _Val(tuple(_logical("not", [p]) for p in inner.parts))
            if isinstance(node.op, ast.UAdd):
                return inner
            raise _No  # `not array` raises in numpy
        if isinstance(node, ast.BinOp):
            left = self._value(node.left, ctx)
            op = node.op
            if isinstance(op, ast.Pow):
                if not (isinstance(node.right, ast.Constant) and type(node.right.value) is int
                        and node.right.value == 2):  # fmt: skip
                    raise _No
                return _Val(tuple(_square(p) for p in left.parts))
            right = self._value(node.right, ctx)
            if isinstance(op, ast.BitAnd | ast.BitOr | ast.BitXor):
                which = {ast.BitAnd: "and", ast.BitOr: "or", ast.BitXor: "xor"}[type(op)]

                def logic(a: _Num, b: _Num) -> _Num:
                    if a.kind != "b" or b.kind != "b":
                        raise _No  # & of ints is bitwise
                    return _logical(which, [a, b])

                return self._elementwise(logic, left, right)
            if isinstance(op, ast.Add | ast.Sub | ast.Mult | ast.Div):
                return self._elementwise(lambda a, b: _arith(op, a, b), left, right)
            raise _No
        if isinstance(node, ast.Compare):
            if len(node.ops) != 1:
                raise _No  # a chained comparison of arrays raises in numpy
            left, right = self._value(node.left, ctx), self._value(node.comparators[0], ctx)
            cmp = node.ops[0]
            return self._elementwise(lambda a, b: _compare(cmp, a, b), left, right)
        if isinstance(node, ast.Call):
            return self._call_value(node, ctx)
        raise _No

    def _elementwise(self, fn: Callable[[_Num, _Num], _Num], left: _Val, right: _Val) -> _Val:
        """Broadcast over the channel axis: 3 with 3, 3 with a scalar, 1 with 1 or a scalar."""
        if len(left.parts) == len(right.parts):
            return _Val(tuple(fn(a, b) for a, b in zip(left.parts, right.parts, strict=True)))
        if len(right.parts) == 1 and not right.pixel:
            return _Val(tuple(fn(a, right.parts[0]) for a in left.parts))
        if len(left.parts) == 1 and not left.pixel:
            return _Val(tuple(fn(left.parts[0], b) for b in right.parts))
        raise _No  # (h, w, 3) with (h, w) does not broadcast the way a pixel loop would

    def _call_value(self, node: ast.Call, ctx: _Ctx) -> _Val:
        func = node.func
        is_np = (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in self.numpy
        )
        if isinstance(func, ast.Attribute) and not is_np and func.attr == "astype":
            if len(node.args) != 1 or node.keywords:
                raise _No
            dtype = self._dtype(node.args[0])
            inner = self._value(func.value, ctx)
            return _Val(tuple(_cast(p, dtype) for p in inner.parts))
        reduce_op = logical_reduce_op(node, self.numpy)
        if reduce_op is not None:
            return self._logical_reduce(node, reduce_op, ctx)
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
        if name is None:
            raise _No
        if is_np and name in ("maximum", "minimum"):
            if len(node.args) != 2 or node.keywords:
                raise _No
            a, b = (self._value(arg, ctx) for arg in node.args)
            which = name[:3]
            return self._elementwise(lambda x, y: _extreme(which, x, y), a, b)
        if (is_np or isinstance(func, ast.Name)) and name in ("abs", "absolute"):
            if (name == "absolute" and not is_np) or len(node.args) != 1 or node.keywords:
                raise _No
            inner = self._value(node.args[0], ctx)
            return _Val(tuple(_absolute(p) for p in inner.parts))
        if is_np and name == "sqrt" and len(node.args) == 1 and not node.keywords:
            inner = self._value(node.args[0], ctx)
            out = []
            for p in inner.parts:
                if p.kind == "b" or p.lo < 0 or not p.pixel:
                    raise _No  # sqrt of a negative warns and gives NaN
                if p.dtype is None or (p.dtype.kind in "iu" and p.dtype.itemsize < 4):
                    raise _No  # numpy's sqrt of (u)int8 is float16, of (u)int16 float32
                expr = _call(_np("sqrt"), _as_float(p))
                out.append(_float_num(math.sqrt(p.lo), math.sqrt(p.hi), expr, integral=False))
            return _Val(tuple(out))
        if is_np and name in ("logical_and", "logical_or", "logical_xor", "logical_not"):
            if node.keywords:
                raise _No
            arity = 1 if name == "logical_not" else 2
            if len(node.args) != arity:
                raise _No
            values = [self._value(a, ctx) for a in node.args]
            op = name.removeprefix("logical_")
            if arity == 1:
                return _Val(tuple(_logical("not", [p]) for p in values[0].parts))
            return self._elementwise(lambda a, b: _logical(op, [a, b]), values[0], values[1])
        if is_np and name in ("array", "asarray") and len(node.args) == 1:
            return self._array_constant(node, ctx)
        if isinstance(func, ast.Name) and name == "color_mask":
            return self._color_mask(node, ctx)
        if isinstance(func, ast.Name) and name in self.functions and name != self.name:
            inlined, parts = self._inline(node, self.functions[name])
            for part in parts:  # Python computes each; the expression may not read them all
                self._cannot_raise(part, ctx.depth + 1)
            ctx.depth += 1
            try:
                return self._value(inlined, ctx)
            finally:
                ctx.depth -= 1
        if name in _AXIS_REDUCTIONS and isinstance(func, ast.Attribute):
            return self._axis_reduction(node, name, is_np, ctx)
        raise _No

    def _cannot_raise(self, node: ast.expr, depth: int) -> None:
        """_No unless ``node`` lowers and reads views of one shape (so numpy cannot raise on it).

        For the parts of an inlined call its expression may not read: an argument or a local
        Python computes all the same, whose error would otherwise be lost.
        """
        ctx = _Ctx(depth=depth)
        self._value(node, ctx)
        if len(self._shapes(ctx)) > 1:
            raise _No

    def _inline(self, node: ast.Call, fn: ast.FunctionDef) -> tuple[ast.expr, list[ast.expr]]:
        """A module helper's call as one expression: its return value, its names substituted.

        Model-written checkers put their masks in helpers (``def cube_mask(frame): img =
        frame.astype(np.int32); r, g, b = img[..., 0], ...; return (g - np.maximum(r, b)) > 60``).
        A helper whose body is only assignments of names bound once and a final ``return`` (a
        docstring aside, no nested scopes) computes a pure expression of its parameters: the
        call is that expression with each parameter replaced by its argument and each local by
        its definition. Its other names must be module-level (constants, numpy, helpers) and not
        bound in the caller, where the substituted expression is lowered (at one depth more, as an
        inlined local is). Returned with it: every argument and local definition (substituted),
        each of which must lower too (Python computes them even where the expression does not
        read them). Whatever does not lower raises _No: the call stays a call.
        """
        args = fn.args
        if (
            node.keywords
            or len(node.args) != len(args.posonlyargs + args.args)
            or args.vararg or args.kwarg or args.kwonlyargs or args.defaults
            or fn.decorator_list
            or any(isinstance(a, ast.Starred) for a in node.args)
        ):  # fmt: skip
            raise _No
        body = fn.body
        if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
            body = body[1:]  # a docstring
        if not body or not isinstance(body[-1], ast.Return) or body[-1].value is None:
            raise _No
        params = [a.arg for a in args.posonlyargs + args.args]
        env: dict[str, ast.expr] = dict(zip(params, node.args, strict=True))
        for stmt in body[:-1]:
            if not isinstance(stmt, ast.Assign) or len(stmt.targets) != 1:
                raise _No
            pairs = _assigned_pairs(stmt)
            if pairs is None:
                raise _No
            for _, v in pairs:
                self._free_names_ok(v, env)
            # Python evaluates every value before it binds any name
            values: list[ast.expr] = [_Rename(env).visit(copy_node(v)) for _, v in pairs]
            for (t, _), v in zip(pairs, values, strict=True):
                if not isinstance(t, ast.Name) or t.id in env or t.id in params:
                    raise _No  # each name bound once, never a parameter
                env[t.id] = v
        if any(isinstance(n, _SCOPES) for n in ast.walk(fn) if n is not fn):
            raise _No
        self._free_names_ok(body[-1].value, env)
        result: ast.expr = _Rename(env).visit(copy_node(body[-1].value))
        if sum(1 for _ in ast.walk(result)) > _INLINE_NODES:
            raise _No
        return result, list(env.values())

    def _free_names_ok(self, node: ast.expr, env: Mapping[str, ast.expr]) -> None:
        """Every name ``node`` reads is substituted (bound before it) or module-level (else _No).

        A module-level name must not be bound in the caller, where the expression ends up.
        """
        module = set(self.constants) | self.numpy | set(self.functions) | _GLOBAL_CALLS
        for n in ast.walk(node):
            if (
                isinstance(n, ast.Name)
                and n.id not in env
                and (not isinstance(n.ctx, ast.Load) or n.id in self.bound or n.id not in module)
            ):
                raise _No

    def _logical_reduce(self, node: ast.Call, op: str, ctx: _Ctx) -> _Val:
        """``np.logical_and.reduce([m1, m2, ...])`` (or ``logical_or``) of bool masks.

        numpy stacks the list into one array and reduces its first axis: element by element, the
        masks joined by ``and`` (``or``). Only a list or tuple of two or more bool pixel values
        with the same channel count is lowered (anything else may stack differently or raise).
        """
        if (
            len(node.args) != 1
            or node.keywords
            or not isinstance(node.args[0], ast.List | ast.Tuple)
        ):
            raise _No
        items = [self._value(e, ctx) for e in node.args[0].elts]
        if len(items) < 2 or len({len(v.parts) for v in items}) != 1:
            raise _No
        if any(not p.pixel or p.kind != "b" for v in items for p in v.parts):
            raise _No
        return _Val(
            tuple(
                _logical(op, list(parts)) for parts in zip(*(v.parts for v in items), strict=True)
            )
        )

    def _color_mask(self, node: ast.Call, ctx: _Ctx) -> _Val:
        """``color_mask(image, RGB, tol)``: per pixel, every channel within ``tol`` of ``RGB``.

        As ``sandbox.vision._pixel_matches`` computes it (int64 differences), for an (h, w, 3)
        uint8 image and constants the helper accepts (three ints and a tolerance in 0..255);
        anything it would refuse is not lowered, so a dropped mask could not have raised.
        """
        bound: dict[str, ast.expr] = dict(zip(("frame", "rgb", "tol"), node.args, strict=False))
        if len(node.args) > 3:
            raise _No
        for keyword in node.keywords:
            if keyword.arg not in ("frame", "rgb", "tol") or keyword.arg in bound:
                raise _No
            bound[keyword.arg] = keyword.value
        if "frame" not in bound or "rgb" not in bound:
            raise _No
        image = self._value(bound["frame"], ctx)
        if not image.vector or any(
            p.kind != "i" or p.dtype != np.dtype(np.uint8) for p in image.parts
        ):
            raise _No
        colour = bound["rgb"]
        rgb = (
            self._value(colour, ctx)  # np.array((...), dtype=...): a constant
            if isinstance(colour, ast.Call)
            else self._scalar_or_vector(colour, ctx)
        )
        tol = self._scalar_or_vector(bound["tol"], ctx) if "tol" in bound else _Val((_py_int(0),))
        constants = []
        for p in (*rgb.parts, *tol.parts):
            if p.kind != "i" or p.pixel or p.lo != p.hi or not 0 <= p.lo <= 255:
                raise _No
            constants.append(int(p.lo))
        if not rgb.vector or len(tol.parts) != 1:
            raise _No
        limit = _py_int(constants[3])
        near = [
            _compare(ast.LtE(), _absolute(_arith(ast.Sub(), p, _py_int(c))), limit)
            for p, c in zip(image.parts, constants[:3], strict=True)
        ]
        return _Val((_logical("and", near),))

    def _array_constant(self, node: ast.Call, ctx: _Ctx) -> _Val:
        """``np.array(GOAL)``, ``np.array((255, 0, 0), dtype=np.int16)``: a 3-element constant."""
        value = self._scalar_or_vector(node.args[0], ctx)
        if not value.vector or any(p.pixel for p in value.parts):
            raise _No
        numbers = [p.lo if p.kind == "f" else int(p.lo) for p in value.parts]
        if not node.keywords:  # a tuple's dtype is numpy's for its numbers; an array keeps its own
            return replace(value, sequence=False)
        if len(node.keywords) != 1 or node.keywords[0].arg != "dtype":
            raise _No
        dtype = self._dtype(node.keywords[0].value)
        if dtype.kind in "iu":
            lo, hi = _dtype_range(dtype)
            if any(not isinstance(v, int) or not lo <= v <= hi for v in numbers):
                raise _No  # numpy raises for an int out of the dtype's range
        return _strong_vector(numbers, dtype)

    def _dtype(self, node: ast.expr) -> np.dtype[Any]:
        if isinstance(node, ast.Name) and node.id in _BUILTIN_CASTS:
            dtype: np.dtype[Any] = np.dtype(_BUILTIN_CASTS[node.id])
            return dtype
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in self.numpy
            and node.attr in _CASTS
        ):
            cast: np.dtype[Any] = np.dtype(_CASTS[node.attr])
            return cast
        raise _No

    def _axis_reduction(self, node: ast.Call, name: str, is_np: bool, ctx: _Ctx) -> _Val:
        """``np.all(v, axis=-1)``, ``v.sum(2)``, ``v.mean(axis=-1)`` ... over the channel axis."""
        func = node.func
        assert isinstance(func, ast.Attribute)
        args = list(node.args)
        if is_np:
            if not args:
                raise _No
            subject = args.pop(0)
        else:
            subject = func.value
        if len(args) == 1 and not node.keywords:
            axis_node = args[0]
        elif not args and len(node.keywords) == 1 and node.keywords[0].arg == "axis":
            axis_node = node.keywords[0].value
        else:
            raise _No
        axis = self._bound(axis_node)
        if axis not in (-1, 2):
            raise _No
        inner = self._value(subject, ctx)
        if not inner.vector or not all(p.pixel for p in inner.parts):
            raise _No  # over a constant (a tuple has no methods): left to the regular path
        parts = inner.parts
        if name in ("all", "any"):
            return _Val((_logical("and" if name == "all" else "or", list(parts)),))
        if any(p.kind == "b" for p in parts) and name not in ("sum", "mean"):
            raise _No
        if name == "sum":
            return _Val((_channel_sum(parts),))
        if name == "mean":
            total = _channel_sum(parts)
            expr = ast.BinOp(left=_as_float(total), op=ast.Div(), right=ast.Constant(3.0))
            return _Val((_float_num(total.lo / 3, total.hi / 3, expr, integral=False),))
        if any(p.kind != "i" for p in parts):
            raise _No  # float max/min: NaN and signed-zero rules are left to numpy
        pick = "max" if name in ("max", "amax") else "min"
        dtype = np.result_type(*[p.dtype for p in parts if p.dtype is not None])
        picked = _call(ast.Name(pick, ast.Load()), *[p.expr for p in parts])
        lo = (max if pick == "max" else min)(p.lo for p in parts)
        hi = (max if pick == "max" else min)(p.hi for p in parts)
        return _Val((_Num("i", dtype, lo, hi, picked, True),))

    # the generated helper ---------------------------------------------------------------------

    def _helper(self, kind: str, value: _Val, ctx: _Ctx, name: str) -> ast.FunctionDef:
        """One loop over the pixels of the views, reducing ``value``'s parts on the fly."""
        parts = value.parts
        if not ctx.views or not all(p.pixel for p in parts):
            raise _No  # nothing read per pixel
        if len({p.kind for p in parts}) != 1:
            raise _No
        if kind == "count1" and value.vector:
            raise _No  # argwhere of an (h, w, 3) array has one row per true element: rare
        if kind in _MASK_HELPERS.values() and (value.vector or parts[0].kind != "b"):
            raise _No  # the helpers take (h, w) bool masks only; anything else raises there
        reads = _channels_read(parts)
        a0 = "_vlmcar_a0"
        params = [f"_vlmcar_a{i}" for i in range(len(ctx.bases))]
        pre: list[str] = [f"{HELPERS_ALIAS}.vlmcar_fused_shape({a0})"]
        pre += [f"{HELPERS_ALIAS}.vlmcar_fused_same({a0}, {p})" for p in params[1:]]
        pre += [f"_vlmcar_hh = {a0}.shape[0]", f"_vlmcar_ww = {a0}.shape[1]"]
        n_values = f"_vlmcar_hh * _vlmcar_ww * {len(parts)}"
        loads = [
            f"_vlmcar_q{b}_{c} = {NUMPY_ALIAS}.int64(_vlmcar_a{b}[_vlmcar_y, _vlmcar_x, {c}])"
            for b, c in sorted(reads)
        ]
        step: list[str]
        end: list[str]
        if kind.startswith("nz"):  # np.nonzero's coordinates of a 2-D mask, reduced
            if value.vector:
                raise _No
            op, axis = kind[2:].rstrip("01"), kind[-1]
            coord = "_vlmcar_y" if axis == "0" else "_vlmcar_x"
            if op == "count":
                name = name.replace(FUSED_PREFIX, FUSED_COUNT_PREFIX, 1)
                init, step, end = (
                    ["_vlmcar_acc = 0"],
                    ["if _VLMCAR_T0:\n    _vlmcar_acc += 1"],
                    ["return _vlmcar_acc"],
                )
            elif op == "sum":
                name = name.replace(FUSED_PREFIX, FUSED_COUNT_PREFIX, 1)
                init = ["_vlmcar_acc = 0"]
                step = [f"if _VLMCAR_T0:\n    _vlmcar_acc += {coord}"]
                end = ["return _vlmcar_acc"]
            elif op == "mean":  # numpy: an exact float64 total of ints, divided by the count
                init = ["_vlmcar_n = 0", "_vlmcar_acc = 0"]
                step = [f"if _VLMCAR_T0:\n    _vlmcar_n += 1\n    _vlmcar_acc += {coord}"]
                end = [
                    f"if _vlmcar_n == 0:\n    {HELPERS_ALIAS}.vlmcar_fused_defer()",
                    f"return {NUMPY_ALIAS}.float64(_vlmcar_acc) / {NUMPY_ALIAS}.float64(_vlmcar_n)",
                ]
            elif op in ("min", "max"):  # numpy raises on no true pixel: the interpreter answers
                name = name.replace(FUSED_PREFIX, FUSED_COUNT_PREFIX, 1)
                better = "<" if op == "min" else ">"
                init = ["_vlmcar_n = 0", "_vlmcar_acc = 0"]
                step = [
                    f"if _VLMCAR_T0:\n    if _vlmcar_n == 0 or {coord} {better} _vlmcar_acc:\n"
                    f"        _vlmcar_acc = {coord}\n    _vlmcar_n += 1"
                ]
                end = [
                    f"if _vlmcar_n == 0:\n    {HELPERS_ALIAS}.vlmcar_fused_defer()",
                    "return _vlmcar_acc",
                ]
            else:  # pragma: no cover - _NONZERO_REDUCTIONS names only these
                raise _No
        elif kind == "bbox":  # as sandbox.vision._bbox_kernel
            init = ["_vlmcar_y0 = _vlmcar_hh", "_vlmcar_x0 = _vlmcar_ww", "_vlmcar_y1 = -1",
                    "_vlmcar_x1 = -1"]  # fmt: skip
            step = [
                "if _VLMCAR_T0:\n    _vlmcar_y0 = min(_vlmcar_y0, _vlmcar_y)\n"
                "    _vlmcar_y1 = max(_vlmcar_y1, _vlmcar_y)\n"
                "    _vlmcar_x0 = min(_vlmcar_x0, _vlmcar_x)\n"
                "    _vlmcar_x1 = max(_vlmcar_x1, _vlmcar_x)"
            ]
            end = [
                "if _vlmcar_y1 < 0:\n    return -1, -1, -1, -1",
                "return _vlmcar_y0, _vlmcar_x0, _vlmcar_y1, _vlmcar_x1",
            ]
        elif kind == "centroid":  # as sandbox.vision._centroid_kernel
            init = ["_vlmcar_n = 0", "_vlmcar_sy = 0", "_vlmcar_sx = 0"]
            step = [
                "if _VLMCAR_T0:\n    _vlmcar_n += 1\n    _vlmcar_sy += _vlmcar_y\n"
                "    _vlmcar_sx += _vlmcar_x"
            ]
            end = [
                "if _vlmcar_n == 0:\n    return -1.0, -1.0",
                "return _vlmcar_sy / _vlmcar_n, _vlmcar_sx / _vlmcar_n",
            ]
        elif kind in ("count", "count1", "pixels") or (kind == "sum" and parts[0].kind == "b"):
            name = name.replace(FUSED_PREFIX, FUSED_COUNT_PREFIX, 1)
            init = ["_vlmcar_acc = 0"]
            step = [f"if _VLMCAR_T{i}:\n    _vlmcar_acc += 1" for i in range(len(parts))]
            end = ["return _vlmcar_acc"]
        elif kind in ("sum", "mean"):
            if any(p.kind == "f" and not p.integral for p in parts) or (
                any(p.kind == "b" for p in parts) and kind == "sum"
            ):
                raise _No
            bound = max(max(abs(p.lo), abs(p.hi)) for p in parts)
            floats = any(p.kind == "f" for p in parts)
            limit = _EXACT_FLOAT if (floats or kind == "mean") else 2**62
            # the most values whose exact total stays below the limit, computed here (a product
            # in the kernel's int64 could wrap)
            most = limit // ((math.ceil(bound) + 1) * len(parts))
            pre.append(
                f"if _vlmcar_hh * _vlmcar_ww > {most}:\n    {HELPERS_ALIAS}.vlmcar_fused_defer()"
            )
            if kind == "mean":
                pre.append(f"if {n_values} == 0:\n    {HELPERS_ALIAS}.vlmcar_fused_defer()")
            init = ["_vlmcar_acc = 0.0" if floats else "_vlmcar_acc = 0"]
            step = [f"_vlmcar_acc += _VLMCAR_V{i}" for i in range(len(parts))]
            if kind == "mean":
                end = [f"return {NUMPY_ALIAS}.float64(_vlmcar_acc) / ({n_values})"]
            else:
                end = ["return _vlmcar_acc"]
        elif kind in ("any", "all"):
            init = []
            if kind == "any":
                step = [f"if _VLMCAR_T{i}:\n    return True" for i in range(len(parts))]
                end = ["return False"]
            else:
                step = [f"if not _VLMCAR_T{i}:\n    return False" for i in range(len(parts))]
                end = ["return True"]
        elif kind in ("max", "min"):
            if any(p.kind != "i" for p in parts):
                raise _No
            pre.append(f"if {n_values} == 0:\n    {HELPERS_ALIAS}.vlmcar_fused_defer()")
            start = (
                int(min(p.lo for p in parts)) if kind == "max" else int(max(p.hi for p in parts))
            )
            init = [f"_vlmcar_acc = {start}"]
            better = ">" if kind == "max" else "<"
            step = [
                f"if _VLMCAR_V{i} {better} _vlmcar_acc:\n    _vlmcar_acc = _VLMCAR_V{i}"
                for i in range(len(parts))
            ]
            end = ["return _vlmcar_acc"]
        else:  # pragma: no cover - every kind is handled above
            raise _No
        body = "\n".join(loads + step)
        inner = "\n".join("            " + line for line in body.splitlines())
        text = (
            f"def {name}({', '.join(params)}):\n"
            + "".join(f"    {line}\n" for s in pre + init for line in s.splitlines())
            + "    for _vlmcar_y in range(_vlmcar_hh):\n"
            + "        for _vlmcar_x in range(_vlmcar_ww):\n"
            + inner
            + "\n"
            + "".join(f"    {line}\n" for s in end for line in s.splitlines())
        )
        helper = ast.parse(text).body[0]  # engine text: names and numbers of the engine's own
        assert isinstance(helper, ast.FunctionDef)
        values: dict[str, ast.expr] = {}
        for i, p in enumerate(parts):
            values[f"_VLMCAR_T{i}"] = _truth(p)
            values[f"_VLMCAR_V{i}"] = (
                _call(ast.Name("int", ast.Load()), p.expr) if p.kind == "b" else p.expr
            )
        filled = _Substitute(values).visit(helper)
        assert isinstance(filled, ast.FunctionDef)
        return filled


def _assigned_pairs(stmt: ast.Assign) -> list[tuple[ast.expr, ast.expr]] | None:
    """``(target, value)`` of ``x = v`` or ``a, b = u, v`` (one target), else None."""
    target = stmt.targets[0]
    if isinstance(target, ast.Name):
        return [(target, stmt.value)]
    if (
        isinstance(target, ast.Tuple)
        and isinstance(stmt.value, ast.Tuple)
        and len(target.elts) == len(stmt.value.elts)
    ):
        return list(zip(target.elts, stmt.value.elts, strict=True))
    return None


def logical_reduce_op(node: ast.Call, numpy: set[str]) -> str | None:
    """``"and"``/``"or"`` for ``np.logical_and.reduce(...)``/``np.logical_or.reduce(...)``."""
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and func.attr == "reduce"
        and isinstance(func.value, ast.Attribute)
        and func.value.attr in ("logical_and", "logical_or")
        and isinstance(func.value.value, ast.Name)
        and func.value.value.id in numpy
    ):
        return func.value.attr.removeprefix("logical_")
    return None


def copy_node(node: ast.expr) -> ast.expr:
    """A deep copy of an expression (substitution never shares nodes between sites)."""
    return copy.deepcopy(node)


class _Rename(ast.NodeTransformer):
    """Replace each read of a name in ``env`` with a copy of its expression."""

    def __init__(self, env: Mapping[str, ast.expr]) -> None:
        self.env = env

    def visit_Name(self, node: ast.Name) -> ast.expr:
        if isinstance(node.ctx, ast.Load) and node.id in self.env:
            return copy_node(self.env[node.id])
        return node


class _SizeAsLen(ast.NodeTransformer):
    """``ys.size`` as ``len(ys)`` for names bound to a 1-D ``np.nonzero`` coordinate array."""

    def __init__(self, names: set[str]) -> None:
        self.names = names

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        self.generic_visit(node)
        value = node.value
        if (
            node.attr == "size"
            and isinstance(node.ctx, ast.Load)
            and isinstance(value, ast.Name)
            and value.id in self.names
        ):
            call = ast.Call(func=ast.Name("len", ast.Load()), args=[value], keywords=[])
            return ast.copy_location(call, node)
        return node


class _Substitute(ast.NodeTransformer):
    """Put the lowered expressions where the helper's template names them."""

    def __init__(self, values: Mapping[str, ast.expr]) -> None:
        self.values = values

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self.values.get(node.id, node)


def _channels_read(parts: Sequence[_Num]) -> set[tuple[int, int]]:
    out: set[tuple[int, int]] = set()
    for p in parts:
        for n in ast.walk(p.expr):
            if isinstance(n, ast.Name) and n.id.startswith("_vlmcar_q"):
                b, c = n.id.removeprefix("_vlmcar_q").split("_")
                out.add((int(b), int(c)))
    return out


def _plain_int_expr(node: ast.expr) -> bool:
    """Arithmetic of names and int literals (a slice bound read where numpy reads it)."""
    if isinstance(node, ast.Name):
        return True
    if isinstance(node, ast.Constant):
        return type(node.value) is int
    if isinstance(node, ast.BinOp) and isinstance(
        node.op, ast.Add | ast.Sub | ast.Mult | ast.FloorDiv
    ):
        return _plain_int_expr(node.left) and _plain_int_expr(node.right)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return _plain_int_expr(node.operand)
    return False


def is_frame_view(node: ast.expr, frames: set[str]) -> bool:
    """``frame[a:b]`` or ``frame[a:b, c:d]`` of a frame parameter, with plain bounds, no step."""
    if not (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)):
        return False
    if node.value.id not in frames:
        return False
    items = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    return 1 <= len(items) <= 2 and all(
        isinstance(i, ast.Slice)
        and i.step is None
        and all(b is None or _plain_int_expr(b) for b in (i.lower, i.upper))
        for i in items
    )


def _full(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Slice)
        and node.lower is None
        and node.upper is None
        and (node.step is None)
    )


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis
