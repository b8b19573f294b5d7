"""Numba-compiled twins of the vision helpers, with the same signatures, for jitted checkers.

Provides one ``@njit`` function per name in :data:`sandbox.surface.VISION_NAMES` (``VISION_TWINS``,
each also bound here under its name), generated from the helper's one declaration in
:data:`sandbox.surface.VISION_SIGNATURES`. Each validates what the kernel does not (colour range,
tolerance, connectivity) and raises ``ValueError`` with a fixed message, as the interpreter-path
wrapper would, then calls the kernel of :mod:`sandbox.vision`. Generated JIT modules import these
names, so a jitted checker calls ``count_color(frame, RGB, 10)`` exactly as its source says.
"""

from __future__ import annotations

import importlib
import math
import operator
import threading
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, NoReturn

import numba  # untyped: decorated functions are Any
import numpy as np
from numba.core import types
from numba.extending import overload as _numba_overload

from sandbox.errors import JitDeferred
from sandbox.guards import ARRAY_ITER_CHUNK
from sandbox.surface import VISION_PARAMETERS
from sandbox.vision import VISION_KERNELS

__all__ = [
    "CONTAINER_CAP",
    "ITER_CHUNK",
    "JIT_WRAPS",
    "MATH_TWINS",
    "VISION_TWINS",
    "JitDeferred",
    "arithmetic_wraps",
    "as_python_number",
    "exact_conversion",
    "vlmcar_all_axis",
    "vlmcar_any_axis",
    "vlmcar_array_of",
    "vlmcar_array_of_typed",
    "vlmcar_bincount",
    "vlmcar_ceil",
    "vlmcar_checked_arange",
    "vlmcar_checked_shape",
    "vlmcar_contains",
    "vlmcar_dict_cap",
    "vlmcar_extreme",
    "vlmcar_float_arg",
    "vlmcar_floor",
    "vlmcar_floordiv",
    "vlmcar_full",
    "vlmcar_fused_defer",
    "vlmcar_fused_same",
    "vlmcar_fused_shape",
    "vlmcar_int",
    "vlmcar_int_array_refused",
    "vlmcar_int_dtype_arg",
    "vlmcar_invert",
    "vlmcar_isin",
    "vlmcar_iter_chunk",
    "vlmcar_iter_get",
    "vlmcar_list_cap",
    "vlmcar_logical_and_reduce",
    "vlmcar_logical_or_reduce",
    "vlmcar_masked",
    "vlmcar_math_dist",
    "vlmcar_max_axis",
    "vlmcar_mean",
    "vlmcar_mean_axis",
    "vlmcar_min_axis",
    "vlmcar_mod",
    "vlmcar_neg",
    "vlmcar_no_float",
    "vlmcar_pairwise",
    "vlmcar_prod",
    "vlmcar_ptp",
    "vlmcar_pynum",
    "vlmcar_range_arg",
    "vlmcar_range_check",
    "vlmcar_range_len",
    "vlmcar_reshape",
    "vlmcar_round",
    "vlmcar_setitem",
    "vlmcar_slice",
    "vlmcar_some",
    "vlmcar_sorted",
    "vlmcar_std",
    "vlmcar_sub",
    "vlmcar_sum",
    "vlmcar_sum_axis",
    "vlmcar_truediv",
    "vlmcar_trunc",
    "vlmcar_tuple_add",
    "vlmcar_tuple_eq",
    "vlmcar_tuple_floordiv",
    "vlmcar_tuple_ge",
    "vlmcar_tuple_gt",
    "vlmcar_tuple_le",
    "vlmcar_tuple_lt",
    "vlmcar_tuple_mod",
    "vlmcar_tuple_mul",
    "vlmcar_tuple_ne",
    "vlmcar_tuple_sub",
    "vlmcar_tuple_truediv",
    "vlmcar_unique",
    "vlmcar_unique_counts",
    "vlmcar_unique_rows",
    "vlmcar_unique_rows_counts",
    "vlmcar_var",
]


def overload(func: Any, **options: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Numba's ``overload``, its implementations compiled with bounds checks.

    An overload does not inherit the kernel's ``boundscheck``, and the twins index arrays by
    values a checker controls: a twin's bug (a length that wraps) would otherwise be a write
    outside an array in the worker, where now it is an IndexError, which the interpreter answers.
    """
    jit_options = {"boundscheck": True, **options.pop("jit_options", {})}
    decorate: Callable[[Callable[..., Any]], Callable[..., Any]] = _numba_overload(
        func,
        jit_options=jit_options,  # type: ignore[arg-type]  # numba types only its own keys
        **options,
    )
    return decorate


#: Modules whose compiled functions keep LLVM's ``nsw`` flag: trusted kernels whose integer
#: arithmetic stays in range by construction (pixel indices and counts bounded by the frame size,
#: colours and tolerances checked to 0..255 before the call). Without the flag, LLVM cannot prove
#: ``flat[3 * p + 1]`` monotonic and does not vectorise the hot loops (``count_color``'s kernel ran
#: 6x slower). Everything else, generated kernels and these twins included, wraps.
NSW_MODULES = frozenset({"sandbox.vision"})
_LOWERING = threading.local()


def _lowering_modules() -> list[str]:
    stack: list[str] | None = getattr(_LOWERING, "modules", None)
    if stack is None:
        stack = _LOWERING.modules = []
    return stack


def _wrapping_integer_arithmetic() -> bool:
    """Make Numba lower signed ``+ - *`` without LLVM's ``nsw`` flag, so they wrap as documented.

    Numba marks signed integer arithmetic ``nsw`` ("no signed wrap": overflow is undefined) to help
    index optimisations. LLVM then folds ``a * a < 0`` to False and treats the product of
    non-negative pixels as non-negative, although the machine result wraps: the kernel and the
    interpreter (whose guards wrap at 64 bits) would answer differently. Every integer operation in a
    kernel (scalars, array expressions, reductions, powers, helpers) is lowered through
    ``_int_arith_flags``, so returning no flags makes them all plain two's-complement arithmetic.

    The flag is dropped for every function except those of :data:`NSW_MODULES`: Numba's
    ``BaseLower.lower`` is wrapped to keep, per thread, the module of the function being lowered
    (a stack: lowering can nest), and the flags follow the innermost one. Code inlined into a
    function is lowered as part of it, so a trusted body inlined into a kernel wraps too.

    The patch is applied when this module is imported, before any kernel compiles; a Numba whose
    internals differ is detected (``JIT_WRAPS`` false) and kernels then stay off
    (:func:`sandbox.jit.build_kernel` refuses). Returns whether the patch is in place.
    """
    from numba.core import lowering

    lower = getattr(lowering.BaseLower, "lower", None)
    if lower is None:
        return False
    if not getattr(lower, "vlmcar_scoped", False):

        def scoped_lower(self: Any) -> Any:
            stack = _lowering_modules()
            stack.append(str(getattr(self.fndesc, "modname", "")))
            try:
                return lower(self)
            finally:
                stack.pop()

        scoped_lower.vlmcar_scoped = True  # type: ignore[attr-defined]
        lowering.BaseLower.lower = scoped_lower  # type: ignore[method-assign]

    def scoped_flags(rettype: Any) -> list[str]:
        stack = _lowering_modules()
        if stack and stack[-1] in NSW_MODULES and getattr(rettype, "signed", False):
            return ["nsw"]
        return []

    scoped_flags.vlmcar_wrapping = True  # type: ignore[attr-defined]
    patched = 0
    for name in ("numba.cpython.numbers", "numba.np.math.numbers"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        flags = getattr(module, "_int_arith_flags", None)
        if flags is None:
            continue
        if not getattr(flags, "vlmcar_wrapping", False):
            module._int_arith_flags = scoped_flags  # type: ignore[attr-defined]
        patched += 1
    return patched > 0


#: Module-name prefixes whose functions Numba rewrites into array expressions only where the
#: fused loop computes what the ufuncs would: the generated kernels (``sandbox.jit`` names them
#: ``vlmcar_jit_<hash>``) and these twins.
SCOPED_PREFIXES = ("vlmcar_jit_", __name__)
_COMPARISONS = frozenset(
    {operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne}
)
_BOOL_BINARY = frozenset({operator.and_, operator.or_, operator.xor})
_BOOL_UFUNCS = frozenset({np.logical_and, np.logical_or, np.logical_xor, np.logical_not})
_FLOAT_TESTS = frozenset({np.isnan, np.isinf, np.isfinite})


def _element_type(value: Any) -> Any:
    return value.dtype if isinstance(value, types.Array) else value


def _fuses_exactly(instr: Any, typemap: Any) -> bool:
    """Whether an array operation gives the same values computed on scalars in a fused loop.

    True for comparisons (of anything but uint64, which scalar and ufunc typing compare
    differently), ``& | ^ ~`` and the logical ufuncs of bools, and ``isnan/isinf/isfinite`` of
    float64: the result is bool either way and no intermediate value can wrap.
    """
    expr = instr.value
    if expr.op == "call":
        key = typemap[expr.func.name].typing_key
        operands = [_element_type(typemap[v.name]) for v in expr.args]
        if key in _BOOL_UFUNCS:
            return all(t == types.boolean for t in operands)
        return key in _FLOAT_TESTS and all(t == types.float64 for t in operands)
    operands = [_element_type(typemap[v.name]) for v in expr.list_vars()]
    if expr.op == "binop" and expr.fn in _COMPARISONS:
        return all(
            isinstance(t, types.Integer | types.Float | types.Boolean) for t in operands
        ) and (types.uint64 not in operands)
    if expr.op == "binop" and expr.fn in _BOOL_BINARY:
        return all(t == types.boolean for t in operands)
    if expr.op == "unary" and expr.fn is operator.invert:
        return all(t == types.boolean for t in operands)
    return False


def _exact_array_expressions_in_kernels() -> bool:
    """Let Numba fuse only the array expressions whose fused loop computes numpy's values.

    Numba rewrites a compound array expression (``a < a + a``) into one loop over scalars and
    types the inner operations as *scalar* arithmetic, where ``uint8 + uint8`` is int64: the
    sum of two pixels of 200 is 400 there and 144 in numpy (and in Numba's own ufunc for the same
    ``a + a`` alone). Kernels and the interpreter would then answer differently, on exactly the
    frames where a small-integer operation wraps, which a checker can make rare. In kernels the
    rewrite keeps only operations that give bools whatever their operands' types
    (:func:`_fuses_exactly`): the mask idiom ``(r > 200) & (g < 60) & (b < 60)`` is still one
    pass; arithmetic runs as Numba's ufuncs, one temporary each, with numpy's result types. The
    engine's own fusion (:mod:`sandbox.fusion`) lowers the reductions it can prove to per-pixel
    loops with numpy's dtypes.

    The rewrite is unchanged for every other module (a user's own Numba code): the registered
    class is replaced by a subclass that filters its matches in functions of
    :data:`SCOPED_PREFIXES`. Returns whether the replacement is in place.
    """
    try:
        from numba.core.rewrites.registry import rewrite_registry
        from numba.np.ufunc.array_exprs import RewriteArrayExprs
    except ImportError:
        return False
    after = rewrite_registry.rewrites.get("after-inference")
    if after is None:
        return False
    for i, cls in enumerate(after):
        if getattr(cls, "vlmcar_scoped", False):
            return True
        if cls is RewriteArrayExprs:

            class ScopedArrayExprs(RewriteArrayExprs):
                vlmcar_scoped = True

                def match(self, func_ir: Any, block: Any, typemap: Any, calltypes: Any) -> Any:
                    found = super().match(func_ir, block, typemap, calltypes)  # type: ignore[no-untyped-call]
                    modname = str(getattr(func_ir.func_id, "modname", ""))
                    if not found or not modname.startswith(SCOPED_PREFIXES):
                        return found
                    kept = {
                        name: instr
                        for name, instr in self.array_assigns.items()
                        if _fuses_exactly(instr, typemap)
                    }
                    self.array_assigns.clear()
                    self.array_assigns.update(kept)
                    return bool(kept)

            after[i] = ScopedArrayExprs
            return True
    return False


#: True once signed integer arithmetic in kernels is patched to wrap (see
#: :func:`_wrapping_integer_arithmetic`) and array expressions keep numpy's dtypes (see
#: :func:`_exact_array_expressions_in_kernels`); :func:`arithmetic_wraps` checks that both hold.
JIT_WRAPS = _wrapping_integer_arithmetic() and _exact_array_expressions_in_kernels()
_WRAPS_CHECKED: list[bool] = []


def arithmetic_wraps() -> bool:
    """Whether compiled arithmetic wraps here as the interpreter's does (two small probes, once)."""
    if not _WRAPS_CHECKED:
        ok = JIT_WRAPS
        if ok:

            @numba.njit(cache=False)
            def probe(a: Any, b: Any) -> Any:
                return (a * a < 0) and (a + b < 0) and (-a - b > 0)

            @numba.njit(cache=False)
            def compound(a: Any) -> Any:
                return (a < a + a)[0]  # 200 < 144 in uint8; an array expression says 200 < 400

            big = 3037000500  # big * big > INT64_MAX; big + INT64_MAX wraps too
            ok = bool(probe(np.int64(big), np.int64(9223372036854775807)))
            ok = ok and not bool(compound(np.full(1, 200, np.uint8)))
        _WRAPS_CHECKED.append(ok)
    return _WRAPS_CHECKED[0]


# Not cached on disk: Numba's cache does not notice when a *callee* (a vision kernel) changes, so
# a cached shim could keep inlining an old kernel. Shims are tiny and compile on first use; the
# generated kernel modules that call them carry a hash of this file and of sandbox/vision.py.
_jit = numba.njit(cache=False, nogil=True, boundscheck=True)


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


def _typing_gate(name: str, refuse: Any, doc: str) -> Any:
    """A kernel-only identity function whose argument numba types can be refused at typing.

    ``refuse(numba_type)`` returns why the argument is refused (the kernel build fails with
    ``Unsupported: <why>`` and the checker stays on the interpreter), or ``None`` to pass it
    through unchanged. The rebuild wraps an argument in the gate where numpy and the kernel
    would compute it differently.
    """

    def gate(value: Any) -> Any:
        return value

    gate.__name__ = gate.__qualname__ = name
    gate.__doc__ = doc

    @overload(gate)
    def _typed(value: Any) -> Any:
        reason = refuse(value)
        if reason is not None:
            from numba.core.errors import TypingError

            raise TypingError(f"Unsupported: {reason}")

        def impl(value: Any) -> Any:
            return value

        return impl

    return gate


def _refuse_vision_arg(kind: str) -> Any:
    """The typing check of one vision parameter kind: what the wrapper's type checks refuse.

    The wrappers of :mod:`sandbox.vision` raise ``ValueError`` for a float, bool or NaN where an
    int is wanted, a frame that is not uint8, a mask that is not a 2-D bool array; a kernel would
    cast or read them as they are. Such a call is refused when the kernel is compiled, so the
    interpreter answers (and raises) as the helper does. Ranges and lengths are checked at run
    time by the twin.
    """

    def integer(t: Any) -> bool:
        return isinstance(types.unliteral(t), types.Integer)  # type: ignore[no-untyped-call]

    def refuse(t: Any) -> str | None:
        ok: bool
        if kind in ("frame", "first"):
            ok = isinstance(t, types.Array) and t.ndim == 3 and t.dtype == types.uint8
        elif kind == "mask":
            ok = isinstance(t, types.Array) and t.ndim == 2 and isinstance(t.dtype, types.Boolean)
        elif kind == "rgb":
            if isinstance(t, types.BaseTuple):
                ok = all(integer(e) for e in getattr(t, "types", ()))
            elif isinstance(t, types.Array | types.List):
                ok = (getattr(t, "ndim", 1) == 1) and integer(t.dtype)
            else:
                ok = False
        else:  # tol, connectivity, box corners: ints, not bools, floats or 0-d arrays
            ok = integer(t)
        if ok:
            return None
        return (
            f"a vision helper's {kind} argument typed {t} (the helper raises ValueError for it); "
            "the checker stays on the interpreter"
        )

    return refuse


#: parameter kind -> the typing gate every twin passes that argument through
_VISION_GATES: Mapping[str, Any] = MappingProxyType(
    {
        kind: _typing_gate(
            f"vlmcar_vision_{kind}",
            _refuse_vision_arg(kind),
            f"A vision helper's ``{kind}`` argument in a kernel: types the helper refuses are "
            "refused at typing.",
        )
        for kind in ("frame", "first", "mask", "rgb", "tol", "connectivity", "y0", "x0", "y1", "x1")
    }
)


def _twin_source(name: str, params: tuple[tuple[str, int | None], ...]) -> str:
    """The text of ``name``'s twin: the declared parameters, checked as the wrapper checks them.

    Built from :data:`sandbox.surface.VISION_PARAMETERS` only (engine data: identifiers from a
    closed set of kinds and int defaults, never checker text). ``rgb`` and ``tol`` are range-
    checked, ``connectivity`` must be 4 or 8, ``rgb`` reaches the kernel as three scalars;
    frames, masks and box corners pass as they are (kernels check shapes and clip boxes).
    """
    if not name.isidentifier():  # pragma: no cover - surface names are identifiers
        raise ValueError(f"vision helper name {name!r}")
    args, checks, call = [], [], []
    for kind, default in params:
        args.append(kind if default is None else f"{kind}={int(default)}")
        checks.append(f"    {kind} = _gate_{kind}({kind})")
        if kind in ("frame", "first"):
            checks.append(
                f"    if {kind}.shape[2] != 3:\n        raise ValueError('{name}: {kind} must be "
                "shaped (H, W, 3)')"
            )
        if kind == "rgb":
            checks.append(
                f"    if not _rgb_ok(rgb):\n        raise ValueError('{name}: rgb channels must "
                "be ints in 0..255')"
            )
            call += ["rgb[0]", "rgb[1]", "rgb[2]"]
        elif kind == "tol":
            checks.append(
                f"    if tol < 0 or tol > 255:\n        raise ValueError('{name}: tol must be an "
                "int in 0..255')"
            )
            call.append("tol")
        elif kind == "connectivity":
            call.append("_connectivity(connectivity)")
        else:
            call.append(kind)
    body = [*checks, f"    return _kernel({', '.join(call)})"]
    return f"def {name}({', '.join(args)}):\n" + "\n".join(body) + "\n"


def _make_twin(name: str) -> Any:
    """The jitted twin of vision helper ``name``, from its declaration (see :func:`_twin_source`)."""
    namespace: dict[str, Any] = {
        "_rgb_ok": _rgb_ok,
        "_connectivity": _connectivity,
        "_kernel": VISION_KERNELS[name],
        "ValueError": ValueError,
        **{f"_gate_{kind}": gate for kind, gate in _VISION_GATES.items()},
    }
    exec(compile(_twin_source(name, VISION_PARAMETERS[name]), f"<twin {name}>", "exec"), namespace)
    fn = namespace[name]
    fn.__module__ = __name__
    fn.__doc__ = f"Jitted :func:`sandbox.vision.{name}`."
    return _jit(fn)


#: Vision helper name -> its jitted twin (also bound as this module's attribute of that name,
#: which is what generated kernel modules call).
VISION_TWINS: Mapping[str, Any] = MappingProxyType(
    {name: _make_twin(name) for name in sorted(VISION_PARAMETERS)}
)
globals().update(VISION_TWINS)


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


def vlmcar_sorted(values: Any) -> Any:
    """``sorted(seq)`` of a tuple or list of ints or bools in a kernel: a new list.

    Equal ints and bools are indistinguishable, so any correct sort gives Python's list. Floats
    are refused at typing (numba's sort is not stable, so ``-0.0`` and ``0.0`` may swap, and
    Python's order around NaN depends on where the NaN stands), and so are strings, arrays
    (whose elements are numpy scalars in Python) and tuples of mixed types.
    """
    return sorted(values)  # pragma: no cover - only called in kernels


def vlmcar_floordiv(left: Any, right: Any) -> Any:
    """``a // b``; for two integers ``INT64_MIN // -1`` wraps to ``INT64_MIN`` as in the guards."""
    return left // right


def vlmcar_mod(left: Any, right: Any) -> Any:
    """``a % b``; of integer and float arrays as numpy computes it (``MIN % -1`` is 0, no trap)."""
    return left % right


def vlmcar_sub(left: Any, right: Any) -> Any:
    """``a - b``; refused (TypeError) where numpy refuses it: boolean arrays."""
    return left - right


def _numeric_unituple(value: Any) -> bool:
    return isinstance(value, types.UniTuple) and (
        isinstance(value.dtype, types.Integer | types.Float)
        and not isinstance(value.dtype, types.Boolean)
    )


def _tuple_twin(name: str, operation: Any) -> Any:
    """``operation(a, b)``, one operand perhaps a tuple of numbers.

    Against an array, numpy first makes the tuple an (int64 or float64) array; anywhere else it
    stays a tuple.
    """

    def twin(left: Any, right: Any) -> Any:
        return operation(left, right)

    twin.__name__ = twin.__qualname__ = f"vlmcar_tuple_{name}"
    twin.__doc__ = f"``{name}`` of two operands, a tuple constant made an array as numpy does."

    @overload(twin)
    def _typed(left: Any, right: Any) -> Any:
        if isinstance(left, types.Array) and _numeric_unituple(right):

            def right_array(left: Any, right: Any) -> Any:
                return operation(left, np.asarray(right))

            return _renamed(right_array, name)
        if _numeric_unituple(left) and isinstance(right, types.Array):

            def left_array(left: Any, right: Any) -> Any:
                return operation(np.asarray(left), right)

            return _renamed(left_array, name)

        def as_written(left: Any, right: Any) -> Any:
            return operation(left, right)

        return _renamed(as_written, name)

    return twin


def _refuse_fold(value: Any) -> str | None:
    if isinstance(value, types.Integer | types.Boolean):
        return None
    return (
        f"sum() of {value} elements: the builtin sums floats in its own order (compensated "
        "since Python 3.12); only ints and bools are summed in the kernel"
    )


def _narrow(t: Any) -> bool:
    """Bools and ints of at most 16 bits, or arrays of them (numpy's float math: float16/32)."""
    dtype = t.dtype if isinstance(t, types.Array) else t
    return isinstance(dtype, types.Boolean) or (
        isinstance(dtype, types.Integer) and getattr(dtype, "bitwidth", 64) <= 16
    )


def exact_conversion(given: Any, wanted: Any) -> bool:
    """Whether numba's conversion of a ``given``-typed value to ``wanted`` keeps it as it is.

    The same type, or an int of fewer bits (or a signed int64) into int64. Containers convert
    what goes into them (a dict to its first key and value types, a list to its unified element
    type), so a kernel may only put values in that need no other conversion.
    """
    given = types.unliteral(given)  # type: ignore[no-untyped-call]
    return bool(
        given == wanted
        or (
            wanted == types.int64
            and isinstance(given, types.Integer)
            and (getattr(given, "signed", False) or getattr(given, "bitwidth", 64) < 64)
        )
    )


def _refuse_narrow_float(value: Any) -> str | None:
    if isinstance(value, types.Array) and _narrow(value):
        return (
            f"a float function of a {value.dtype} array (numpy computes it in float16/float32, "
            "the kernel in float64)"
        )
    return None


def _refuse_float_to_int(value: Any) -> str | None:
    dtype = value.dtype if isinstance(value, types.Array) else value
    if isinstance(dtype, types.Integer | types.Boolean):
        return None
    return (
        f"an integer type called on {value} (numpy raises out of range or on NaN, a native cast "
        "does not); it stays on the interpreter"
    )


def _refuse_int_array(value: Any) -> str | None:
    if isinstance(value, types.Array) and isinstance(value.dtype, types.Integer | types.Boolean):
        return (
            f"np.floor/ceil/trunc of a {value.dtype} array (numpy keeps the integer dtype, the "
            "kernel gives float64)"
        )
    return None


vlmcar_fold_int = _typing_gate(
    "vlmcar_fold_int",
    _refuse_fold,
    "An element of ``sum(<comprehension>)`` in a kernel: ints and bools only.",
)
vlmcar_float_arg = _typing_gate(
    "vlmcar_float_arg",
    _refuse_narrow_float,
    """An argument of a float ufunc (``np.sqrt``, ``np.exp``, ``np.sin`` ...) in a kernel.

    numpy computes those in float16 for (u)int8 and bool arrays and in float32 for (u)int16
    arrays; numba computes float64, so the answers can differ (``np.sqrt(frame[..., 0])`` at 128).
    Such an argument is refused at typing; scalars and wider arrays pass unchanged.
    """,
)
vlmcar_int_dtype_arg = _typing_gate(
    "vlmcar_int_dtype_arg",
    _refuse_float_to_int,
    """The argument of ``np.uint8(x)``, ``np.int64(x)`` ... in a kernel: floats refused at typing.

    numpy raises for a float out of the type's range (``OverflowError``) or NaN (``ValueError``);
    numba casts natively, which never raises and is undefined out of range. Ints and bools (cast
    C-style on both paths) pass unchanged.
    """,
)


def _refuse_float_value(value: Any) -> str | None:
    kind = value.dtype if isinstance(value, types.Array) else value
    if isinstance(kind, types.Float | types.Complex):
        return (  # kept short: the reason is cut at 200 characters
            f"a {kind} argument where numpy and numba differ (signed zeros, NaN; uint32/uint64 "
            "casts out of range); it stays on the interpreter"
        )
    return None


def _refuse_range_arg(value: Any) -> str | None:
    if isinstance(value, types.Boolean | types.Float | types.Complex):
        return (
            f"a range() argument of type {value} (the interpreter's range takes ints only and "
            "raises there; numba would iterate in floats); it stays on the interpreter"
        )
    return None


vlmcar_range_arg = _typing_gate(
    "vlmcar_range_arg",
    _refuse_range_arg,
    """An argument of ``range(...)`` in a kernel: bools, floats and complex refused at typing.""",
)
vlmcar_no_float = _typing_gate(
    "vlmcar_no_float",
    _refuse_float_value,
    """An argument of ``np.maximum/minimum/fmax/fmin/clip/sign/cumsum/median`` ... in a kernel.

    For floats numba's versions pick the other of two equal zeros (``np.maximum(-0.0, 0.0)``),
    or lose a NaN (``np.median``), where numpy does not; a later division or ``copysign`` tells
    them apart. Float arguments are refused at typing; ints and bools pass unchanged.
    """,
)
vlmcar_int_array_refused = _typing_gate(
    "vlmcar_int_array_refused",
    _refuse_int_array,
    """An argument of ``np.floor/ceil/trunc`` in a kernel: integer arrays refused at typing.

    numpy returns an integer array unchanged (uint8 stays uint8, and wraps later); numba
    returns float64.
    """,
)


def vlmcar_some(value: Any) -> Any:
    """A value read where it may be ``None`` (``center[0]``, ``f(best)``) in a kernel.

    numba types a function that returns ``None`` on one path and a value on another as an
    optional; indexing an optional tuple then fails inside numba's typing. This twin matches no
    optional type, so numba unwraps the argument first, with a run-time check that raises where
    it is ``None`` (the kernel hands the batch to the interpreter, which raises or handles it as
    Python does). Any other value passes unchanged.
    """
    return value


@overload(vlmcar_some)
def _vlmcar_some(value: Any) -> Any:
    if isinstance(value, types.Optional):
        return None  # numba then tries the unwrapped type

    def impl(value: Any) -> Any:
        return value

    return impl


def _unique_dtype(a: Any, what: str) -> None:
    if not (isinstance(a, types.Array) and isinstance(a.dtype, types.Integer)):
        from numba.core.errors import TypingError

        raise TypingError(
            f"Unsupported: {what} of {a} (only integer arrays: numpy merges NaNs, and sorts "
            "bools and floats in ways this twin does not repeat); it stays on the interpreter"
        )


@_jit
def _distinct_counted(values: Any) -> Any:
    """The distinct values of a 1-D array, sorted, and how often each occurs (int64)."""
    ordered = np.sort(values)
    out = np.empty_like(ordered)
    counts = np.zeros(ordered.size, np.int64)
    count = 0
    for i in range(ordered.size):
        if i == 0 or ordered[i] != ordered[i - 1]:
            out[count] = ordered[i]
            count += 1
        counts[count - 1] += 1
    return out[:count].copy(), counts[:count].copy()


@_jit
def _sorted_distinct(values: Any) -> Any:
    return _distinct_counted(values)[0]


def vlmcar_unique(a: Any) -> Any:
    """``np.unique(a)`` of an integer array in a kernel: its distinct values, sorted, 1-D."""
    return np.unique(a)  # pragma: no cover - only called in kernels


@overload(vlmcar_unique)
def _vlmcar_unique(a: Any) -> Any:
    _unique_dtype(a, "np.unique")

    def impl(a: Any) -> Any:
        return _sorted_distinct(a.ravel())

    return impl


def vlmcar_unique_counts(a: Any) -> Any:
    """``np.unique(a, return_counts=True)`` of an integer array: (values, int64 counts)."""
    return np.unique(a, return_counts=True)  # pragma: no cover - only called in kernels


@overload(vlmcar_unique_counts)
def _vlmcar_unique_counts(a: Any) -> Any:
    _unique_dtype(a, "np.unique")

    def impl(a: Any) -> Any:
        return _distinct_counted(a.ravel())

    return impl


def vlmcar_unique_rows(a: Any) -> Any:
    """``np.unique(a, axis=0)`` of a 2-D integer array in a kernel: its distinct rows, sorted.

    numpy sorts the rows as records of their elements, compared element by element (signed
    where the dtype is). The twin packs each row into one uint64 key in the same order (each
    element offset to unsigned, most significant first), sorts the keys and unpacks the
    distinct ones. A row too wide to pack (more than 64 bits: nine uint8 columns, two int64)
    or with no columns defers to the interpreter at run time.
    """
    return np.unique(a, axis=0)  # pragma: no cover - only called in kernels


def vlmcar_unique_rows_counts(a: Any) -> Any:
    """``np.unique(a, axis=0, return_counts=True)``: the distinct rows and how often each occurs."""
    return np.unique(a, axis=0, return_counts=True)  # pragma: no cover - only called in kernels


def _unique_rows(a: Any, counted: bool) -> Any:
    """The implementation of :func:`vlmcar_unique_rows` (with the counts when ``counted``)."""
    _unique_dtype(a, "np.unique(..., axis=0)")
    if a.ndim != 2:
        from numba.core.errors import TypingError

        raise TypingError("Unsupported: np.unique(..., axis=0) of an array that is not 2-D")
    bits = a.dtype.bitwidth
    offset = 1 << (bits - 1) if a.dtype.signed else 0
    mask = (1 << bits) - 1
    dtype = a.dtype

    def impl(a: Any) -> Any:
        n, width = a.shape
        if width == 0 or width * bits > 64:
            raise JitDeferred("np.unique(..., axis=0) of rows too wide to pack")
        keys = np.empty(n, np.uint64)
        for i in range(n):
            key = np.uint64(0)
            for j in range(width):
                part = (
                    np.uint64((np.int64(a[i, j]) + offset) & mask) if offset else np.uint64(a[i, j])
                )
                key = (key << np.uint64(bits)) | part if bits < 64 else part
            keys[i] = key
        distinct, counts = _distinct_counted(keys)
        out = np.empty((distinct.size, width), dtype)
        for i in range(distinct.size):
            key = distinct[i]
            for j in range(width - 1, -1, -1):
                part = key & np.uint64(mask)
                out[i, j] = np.int64(part) - offset if offset else part
                key = key >> np.uint64(bits) if bits < 64 else np.uint64(0)
        if counted:
            return out, counts
        return out

    # code objects of their own: numba would reuse one variant's implementation for the other
    return _renamed(impl, "counted" if counted else "rows")


@overload(vlmcar_unique_rows)
def _vlmcar_unique_rows(a: Any) -> Any:
    return _unique_rows(a, False)


@overload(vlmcar_unique_rows_counts)
def _vlmcar_unique_rows_counts(a: Any) -> Any:
    return _unique_rows(a, True)


def vlmcar_isin(element: Any, test_elements: Any) -> Any:
    """``np.isin(element, test_elements)`` of integer arrays in a kernel.

    Each element is looked up in the sorted test values by binary search, compared as int64
    (exact for every integer type but uint64, which is refused beside a signed type at typing).
    The result has the shape of ``element``, as numpy's.
    """
    return np.isin(element, test_elements)  # pragma: no cover - only called in kernels


@overload(vlmcar_isin)
def _vlmcar_isin(element: Any, test_elements: Any) -> Any:
    from numba.core.errors import TypingError

    for a in (element, test_elements):
        if not (isinstance(a, types.Array) and isinstance(a.dtype, types.Integer)):
            raise TypingError(
                f"Unsupported: np.isin of {a} (only integer arrays); it stays on the interpreter"
            )
    unsigned64 = [a.dtype == types.uint64 for a in (element, test_elements)]
    if any(unsigned64) and not all(unsigned64):
        raise TypingError("Unsupported: np.isin of uint64 beside another integer type")
    wide = types.uint64 if all(unsigned64) else types.int64

    def impl(element: Any, test_elements: Any) -> Any:
        table = np.sort(test_elements.ravel().astype(wide))
        flat = element.ravel()
        out = np.empty(flat.size, np.bool_)
        for i in range(flat.size):
            v = wide(flat[i])
            k = np.searchsorted(table, v)
            out[i] = k < table.size and table[k] == v
        return out.reshape(element.shape)

    return impl


def vlmcar_masked(a: Any, index: Any) -> Any:
    """``a[mask]`` in a kernel, where ``mask`` is a boolean array of two or more dimensions.

    numba indexes with 1-D masks only. A mask of ``a``'s shape selects elements (a 1-D array in
    C order); a 2-D mask of a 3-D array's first two dimensions selects its rows (``frame[mask]``:
    ``(n, channels)``); a shape that does not match raises ``IndexError`` as numpy does. Any
    other index is numba's own ``a[index]``, bounds-checked.
    """
    return a[index]  # pragma: no cover - only called in kernels


# the index can be anything: the bounds checks every overload here has matter most (overload)
@overload(vlmcar_masked)
def _vlmcar_masked(a: Any, index: Any) -> Any:
    if isinstance(a, types.DictType) and not _dict_key_fits(a, index):
        from numba.core.errors import TypingError

        raise TypingError(
            f"Unsupported: a {a} read with a {index} key (numba converts it); it stays on the "
            "interpreter"
        )
    mask = (
        isinstance(a, types.Array)
        and isinstance(index, types.Array)
        and index.dtype == types.boolean
    )
    if mask and index.ndim == a.ndim and a.ndim >= 2:

        def elements(a: Any, index: Any) -> Any:
            if a.shape != index.shape:
                raise IndexError("boolean index did not match indexed array")
            values = np.ascontiguousarray(a).ravel()
            picks = np.ascontiguousarray(index).ravel()
            out = np.empty(np.count_nonzero(picks), a.dtype)
            k = 0
            for i in range(picks.size):
                if picks[i]:
                    out[k] = values[i]
                    k += 1
            return out

        return elements
    if mask and index.ndim == 2 and a.ndim == 3:

        def rows(a: Any, index: Any) -> Any:
            if a.shape[0] != index.shape[0] or a.shape[1] != index.shape[1]:
                raise IndexError("boolean index did not match indexed array")
            out = np.empty((np.count_nonzero(index), a.shape[2]), a.dtype)
            k = 0
            for y in range(a.shape[0]):
                for x in range(a.shape[1]):
                    if index[y, x]:
                        out[k] = a[y, x]
                        k += 1
            return out

        return rows

    if mask and index.ndim == 1:  # numba takes a 1-D mask of any length (numpy: the axis's)

        def one_axis(a: Any, index: Any) -> Any:
            if index.shape[0] != a.shape[0]:
                raise IndexError("boolean index did not match indexed array along axis 0")
            return a[index]

        return one_axis
    _refuse_boolean_index(index)

    def native(a: Any, index: Any) -> Any:
        return a[index]

    return native


def _boolean_index(index: Any) -> bool:
    """A bool scalar, a bool array, or a tuple holding either (numba's checks differ there)."""
    if isinstance(index, types.BaseTuple):
        return any(_boolean_index(t) for t in getattr(index, "types", ()))
    if isinstance(index, types.Array):
        return isinstance(index.dtype, types.Boolean)
    return isinstance(index, types.Boolean)


def _refuse_boolean_index(index: Any) -> None:
    """Refuse at typing an index numba would read differently from numpy.

    numpy takes ``a[True]`` as a new axis (numba as element 1), checks a mask inside a tuple
    index against its own axis (numba does not), and refuses a mask of another length; the
    cases :func:`vlmcar_masked` does not check itself stay on the interpreter.
    """
    if _boolean_index(index):
        from numba.core.errors import TypingError

        raise TypingError(
            f"Unsupported: indexing by {index} (a bool, or a mask inside a tuple index); it "
            "stays on the interpreter"
        )


def vlmcar_truediv(left: Any, right: Any) -> Any:
    """``left / right`` in a kernel, with numpy's and Python's result types and roundings.

    numpy divides arrays of small integers (8 and 16 bits, bools) in float64; numba picks its
    float32 loop for them (``frame[..., 0] / frame[..., 1]`` at 1 and 10 gave 0.100000001 where
    numpy gives 0.1), so such operands are made float64 first. Python divides two ints with one
    rounding of the exact quotient; converting an int beyond 2**53 to float first rounds twice,
    so such a division defers to the interpreter. Anything else is numba's own ``/``.
    """
    return left / right  # pragma: no cover - only called in kernels


def _past_exact_float(value: Any) -> Any:
    """Whether an int is beyond 2**53 in magnitude (float64 would round it)."""
    raise NotImplementedError  # pragma: no cover - only called in kernels


@overload(_past_exact_float)
def _overload_past_exact_float(value: Any) -> Any:
    # compared as ints of the value's own signedness: numba compares uint64 with int64 as floats
    if isinstance(value, types.Boolean):

        def never(value: Any) -> Any:
            return False

        return never
    if isinstance(value, types.Integer) and not getattr(value, "signed", True):

        def unsigned(value: Any) -> Any:
            return value > np.uint64(2**53)

        return unsigned

    def signed(value: Any) -> Any:
        return value > np.int64(2**53) or value < np.int64(-(2**53))

    return signed


@overload(vlmcar_truediv)
def _vlmcar_truediv(left: Any, right: Any) -> Any:
    left_array, right_array = isinstance(left, types.Array), isinstance(right, types.Array)
    if (left_array or right_array) and _narrow(left) and _narrow(right):
        if left_array and right_array:

            def arrays(left: Any, right: Any) -> Any:
                return left.astype(np.float64) / right.astype(np.float64)

            return arrays
        if left_array:

            def array_by_scalar(left: Any, right: Any) -> Any:
                return left.astype(np.float64) / np.float64(right)

            return array_by_scalar

        def scalar_by_array(left: Any, right: Any) -> Any:
            return np.float64(left) / right.astype(np.float64)

        return scalar_by_array
    scalar_ints = all(isinstance(t, types.Integer | types.Boolean) for t in (left, right))
    if scalar_ints:

        def ints(left: Any, right: Any) -> Any:
            if _past_exact_float(left) or _past_exact_float(right):
                raise JitDeferred("an int division past 2**53 (Python rounds it once)")
            return float(left) / float(right)

        return ints

    def native(left: Any, right: Any) -> Any:
        return left / right

    return native


#: Elements a kernel's list or dict may grow to; past it the kernel defers to the interpreter,
#: whose memory budget then decides (the two paths never part ways over a budget).
CONTAINER_CAP = 1 << 16


@_jit
def vlmcar_list_cap(items: Any) -> None:
    """After ``items.append(v)`` in a kernel: defer past :data:`CONTAINER_CAP` elements."""
    if len(items) > CONTAINER_CAP:
        raise JitDeferred("a list past the kernel's container cap")


@_jit
def vlmcar_dict_cap(entries: Any) -> None:
    """After ``d[k] = v`` into a kernel's own dict: defer past :data:`CONTAINER_CAP` entries."""
    if len(entries) > CONTAINER_CAP:
        raise JitDeferred("a dict past the kernel's container cap")


def vlmcar_contains(container: Any, value: Any) -> Any:
    """``value in container`` in a kernel: lists, tuples and dicts of ints, bools or strings.

    A list or tuple of tuples of those is searched for a tuple of the very same type.

    Python's ``in`` tests identity before equality, so ``nan in [x]`` is True where ``x`` is that
    NaN object; a kernel has no object identity, so containers of floats are refused at typing
    (and arrays, whose ``in`` numpy defines). A substring test of two strings is allowed.
    """
    return value in container  # pragma: no cover - only called in kernels


def _dict_key_fits(entries: Any, key: Any) -> bool:
    """Whether numba looks ``key`` up as itself (keyed by bools, ``d[5]`` reads ``d[True]``)."""
    return exact_conversion(key, entries.key_type)


def _exact_key(t: Any) -> bool:
    return isinstance(t, types.Integer | types.Boolean | types.UnicodeType | types.StringLiteral)


def _exact_tuple(t: Any) -> bool:
    """A tuple of ints, bools and strings (tuples of them too): ``==`` is Python's."""
    return isinstance(t, types.BaseTuple) and all(
        _exact_key(e) or _exact_tuple(e) for e in getattr(t, "types", ())
    )


@overload(vlmcar_contains)
def _vlmcar_contains(container: Any, value: Any) -> Any:
    from numba.core.errors import TypingError

    text = (types.UnicodeType, types.StringLiteral)
    if isinstance(container, types.List | types.UniTuple):
        element = container.dtype
        ok = (_exact_key(element) and _exact_key(value)) or (
            # tuples of the very same type (a tuple of another length or kind is not compared)
            _exact_tuple(element) and types.unliteral(value) == element  # type: ignore[no-untyped-call]
        )
    elif isinstance(container, types.DictType):
        ok = _exact_key(container.key_type) and _dict_key_fits(container, value)
    else:
        ok = isinstance(container, text) and isinstance(value, text)
    if not ok:
        raise TypingError(
            f"Unsupported: `in` with {container} (lists, tuples and dicts of ints, bools or "
            "strings only); it stays on the interpreter"
        )

    def impl(container: Any, value: Any) -> Any:
        return value in container

    return impl


def vlmcar_array_of(value: Any) -> Any:
    """``np.array(name)`` in a kernel: a tuple of numbers (nested for 2-D) or an array's copy.

    The interpreter sees scalars as Python numbers (ints, floats, bools), as the kernel's int64,
    float64 and bool values are, so numpy picks the same dtype; a tuple mixing them (numpy
    promotes, numba cannot index it) is refused at typing.
    """
    return np.array(value)  # pragma: no cover - only called in kernels


@overload(vlmcar_array_of)
def _vlmcar_array_of(value: Any) -> Any:
    from numba.core.errors import TypingError

    def leaf(t: Any) -> bool:
        return t in (types.int64, types.float64, types.boolean)

    inner = value.dtype if isinstance(value, types.UniTuple) else None
    nested = isinstance(inner, types.UniTuple) and leaf(inner.dtype)
    if isinstance(value, types.Array):

        def copied(value: Any) -> Any:
            return value.copy()

        return copied
    if inner is not None and (leaf(inner) or nested):

        def display(value: Any) -> Any:
            return np.array(value)

        return display
    raise TypingError(
        f"Unsupported: np.array() of {value} (tuples of int64, float64 or bools, or arrays); "
        "it stays on the interpreter"
    )


def vlmcar_full(shape: Any, fill: Any, dtype: Any) -> Any:
    """``np.full(shape, fill, dtype)`` in a kernel, with numpy's checks of the fill.

    numpy raises ``OverflowError`` for an int fill outside an integer dtype (numba would wrap
    it); a float fill into an integer dtype is numpy's unsafe C cast (undefined past the range,
    NaN gives INT64_MIN), so it is refused at typing, as is a fill that is not a number.
    """
    return np.full(shape, fill, dtype)  # pragma: no cover - only called in kernels


@overload(vlmcar_full)
def _vlmcar_full(shape: Any, fill: Any, dtype: Any) -> Any:
    from numba.core.errors import TypingError

    target = getattr(dtype, "dtype", None)  # a NumberClass: np.uint8 -> uint8
    number = isinstance(fill, types.Integer | types.Float | types.Boolean)
    if not (number and isinstance(target, types.Integer | types.Float | types.Boolean)):
        raise TypingError(
            f"Unsupported: np.full() of {fill} as {dtype}; it stays on the interpreter"
        )
    int_target = isinstance(target, types.Integer) and not isinstance(target, types.Boolean)
    if int_target and isinstance(fill, types.Float):
        raise TypingError(
            "Unsupported: np.full() of a float into an integer type (numpy's unsafe cast); it "
            "stays on the interpreter"
        )
    np_type: Any = np.dtype(str(target)) if str(target) != "bool" else np.dtype(np.bool_)
    if int_target and not isinstance(fill, types.Boolean):
        info = np.iinfo(np_type)
        lo, hi = int(info.min), int(info.max)
        wide = lo <= -(2**63)  # int64 holds every int64 fill
        unsigned_64 = hi >= 2**63

        def checked(shape: Any, fill: Any, dtype: Any) -> Any:
            if not wide and (fill < lo or (not unsigned_64 and fill > hi)):
                raise OverflowError("np.full(): the fill is out of the dtype's range")
            return np.full(shape, fill, np_type)

        return checked

    def plain(shape: Any, fill: Any, dtype: Any) -> Any:
        return np.full(shape, fill, np_type)

    return plain


def vlmcar_array_of_typed(value: Any, dtype: Any) -> Any:
    """``np.array(name, dtype=np.X)`` in a kernel, for a tuple of ints (an RGB colour, say).

    numpy converts each Python int and raises ``OverflowError`` where one does not fit ``X``; a
    native cast would wrap, so a value out of range defers the batch to the interpreter, which
    raises as numpy does. Into float64 an int rounds to nearest, as numpy's conversion does.
    Tuples of floats or bools and arrays are refused at typing (numpy truncates floats into ints
    and casts arrays without a range check).
    """
    return np.array(value, dtype=dtype)  # pragma: no cover - only called in kernels


@overload(vlmcar_array_of_typed)
def _vlmcar_array_of_typed(value: Any, dtype: Any) -> Any:
    from numba.core.errors import TypingError

    target = getattr(dtype, "dtype", None)  # a NumberClass: np.int16 -> int16
    if not (
        isinstance(value, types.UniTuple)
        and value.dtype == types.int64
        and isinstance(target, types.Integer | types.Float)
        and (isinstance(target, types.Integer) or target == types.float64)
    ):
        raise TypingError(
            f"Unsupported: np.array({value}, dtype={dtype}) (a tuple of ints into an integer "
            "type or float64 only); it stays on the interpreter"
        )
    np_type = np.dtype(str(target))
    if isinstance(target, types.Integer):
        info = np.iinfo(np_type)
        lo, hi = int(info.min), int(info.max)
        unsigned_64 = target == types.uint64

        def ints(value: Any, dtype: Any) -> Any:
            out = np.empty(len(value), np_type)
            for i in range(len(value)):
                v = value[i]
                if v < lo or (not unsigned_64 and v > hi):
                    raise JitDeferred("np.array(..., dtype=...) of an int out of its range")
                out[i] = v
            return out

        return ints

    def floats(value: Any, dtype: Any) -> Any:
        out = np.empty(len(value), np.float64)
        for i in range(len(value)):
            out[i] = value[i]
        return out

    return floats


def _logical_reduce(name: str, pair: Any) -> Any:
    """``np.<name>.reduce([a, b, ...])`` over a display of arrays, as one function of a tuple.

    numpy stacks the display into one array (so every element must have the same shape: numpy
    raises otherwise, and so does this) and reduces along the new axis, element by element: the
    same truth values as applying ``pair`` left to right. Only a tuple of arrays of one type
    types (a mixed display, or scalars, is refused at typing: the checker stays on the
    interpreter).
    """

    def stub(arrays: Any) -> Any:
        raise NotImplementedError  # pragma: no cover - only called in kernels

    stub.__name__ = stub.__qualname__ = f"vlmcar_{name}_reduce"

    @overload(stub)
    def _typed(arrays: Any) -> Any:
        if not (isinstance(arrays, types.UniTuple) and isinstance(arrays.dtype, types.Array)):
            from numba.core.errors import TypingError

            raise TypingError(
                f"Unsupported: np.{name}.reduce of anything but arrays of one type; it stays on "
                "the interpreter"
            )

        def impl(arrays: Any) -> Any:
            shape = arrays[0].shape
            for k in range(1, len(arrays)):
                if arrays[k].shape != shape:
                    raise ValueError(f"np.{name}.reduce: the arrays differ in shape")
            out = pair(arrays[0], arrays[1])
            for k in range(2, len(arrays)):
                out = pair(out, arrays[k])
            return out

        return impl

    return stub


vlmcar_logical_and_reduce = _logical_reduce("logical_and", np.logical_and)
vlmcar_logical_or_reduce = _logical_reduce("logical_or", np.logical_or)


def vlmcar_reshape(a: Any, shape: Any) -> Any:
    """``a.reshape(shape)`` in a kernel, for any layout (numba reshapes contiguous arrays only).

    numpy returns a view where the strides allow one and a copy otherwise; this twin copies a
    non-contiguous array first. The two can be told apart only by writing through one and
    reading the other, so the rebuild uses it only in modules that write no array element.
    """
    return a.reshape(shape)  # pragma: no cover - only called in kernels


@overload(vlmcar_reshape)
def _vlmcar_reshape(a: Any, shape: Any) -> Any:
    if not isinstance(a, types.Array) or not isinstance(shape, types.Integer | types.BaseTuple):
        return None
    if a.layout == "C":

        def contiguous(a: Any, shape: Any) -> Any:
            return a.reshape(shape)

        return contiguous

    def strided(a: Any, shape: Any) -> Any:
        return np.ascontiguousarray(a).reshape(shape)

    return strided


#: Elements the interpreter copies at a time when it iterates a 1-D array (sandbox.guards).
ITER_CHUNK: int = ARRAY_ITER_CHUNK


def vlmcar_iter_chunk(seq: Any, start: Any) -> Any:
    """The part of ``seq`` a loop over it reads from, from element ``start`` on.

    A 1-D array is iterated as the interpreter's guard does: a copy of the next
    :data:`ITER_CHUNK` elements is taken when the loop reaches them, so a store into the array
    inside the loop is seen only in a later chunk, exactly where the guard would see it. Deeper
    arrays yield views and tuples their items (no copy), so ``seq`` itself is handed back.
    """
    return seq


@overload(vlmcar_iter_chunk)
def _vlmcar_iter_chunk(seq: Any, start: Any) -> Any:
    if isinstance(seq, types.DictType):  # a kernel loops by index: d[0], d[1] are not its keys
        from numba.core.errors import TypingError

        raise TypingError("Unsupported: a loop over a dict; it stays on the interpreter")
    if isinstance(seq, types.Array) and seq.ndim == 1:

        def chunk(seq: Any, start: Any) -> Any:
            return seq[start : start + ITER_CHUNK].copy()

        return chunk

    def whole(seq: Any, start: Any) -> Any:
        return seq

    return whole


def vlmcar_iter_get(seq: Any, part: Any, i: Any) -> Any:
    """Item ``i`` of a loop over ``seq``, read from ``part`` (see :func:`vlmcar_iter_chunk`)."""
    return seq[i]


@overload(vlmcar_iter_get)
def _vlmcar_iter_get(seq: Any, part: Any, i: Any) -> Any:
    if isinstance(seq, types.Array) and seq.ndim == 1:

        def from_chunk(seq: Any, part: Any, i: Any) -> Any:
            return part[i % ITER_CHUNK]

        return from_chunk

    def direct(seq: Any, part: Any, i: Any) -> Any:
        return seq[i]

    return direct


@_jit
def vlmcar_fused_defer() -> None:
    """Hand a frame to the interpreter from a fused helper (a case it does not compute)."""
    raise JitDeferred("a fused reduction's bound check")


@_jit
def vlmcar_fused_shape(view: Any) -> None:
    """A fused helper reads three channels: defer any other shape (frames are validated)."""
    if view.shape[2] != 3:
        raise JitDeferred("a fused reduction over a frame without 3 channels")


@_jit
def vlmcar_fused_same(view: Any, other: Any) -> None:
    """Two views read pixel by pixel must match in shape (numpy would broadcast or raise)."""
    if view.shape != other.shape:
        raise JitDeferred("a fused reduction over views of different shapes")


@_jit
def vlmcar_range_check(start: Any, stop: Any, step: Any) -> None:
    """Defer to the interpreter where ``range(start, stop, step)`` has more than 2**63 - 1 items.

    numba computes the length in int64 and would wrap it (an empty loop); Python's range has no
    such limit. A zero step raises ``ValueError`` as Python's does.
    """
    if step == 0:
        raise ValueError("range() arg 3 must not be zero")
    if step > 0 and stop > start and stop - start < 0:
        raise JitDeferred("range longer than the int64 range")
    if step < 0 and start > stop and start - stop < 0:
        raise JitDeferred("range longer than the int64 range")


@_jit
def vlmcar_range_len(start: Any, stop: Any, step: Any) -> Any:
    """``len(range(start, stop, step))`` after :func:`vlmcar_range_check` has passed.

    Computed without overflow: the span ``stop - start`` fits (the check defers otherwise), one
    less than it divided by the step's size is below it, and a step of -2**63 (whose negation
    wraps) is larger than any span that fits, so such a range has one element.
    """
    if step > 0:
        return (stop - start - 1) // step + 1 if stop > start else 0
    if start <= stop:
        return 0
    if step == -9223372036854775807 - 1:
        return 1
    return (start - stop - 1) // (-step) + 1


def vlmcar_invert(value: Any) -> Any:
    """``~x``; refused for a bool scalar (a Python bool inverts to -2, numpy's to False)."""
    return ~value


@overload(vlmcar_invert)
def _vlmcar_invert(value: Any) -> Any:
    if isinstance(value, types.Boolean):
        from numba.core.errors import TypingError

        raise TypingError(
            "Unsupported: ~ of a bool: a Python bool inverts to -2 and a numpy bool to False, "
            "and the kernel cannot tell which the interpreter holds"
        )

    def impl(value: Any) -> Any:
        return ~value

    return impl


def vlmcar_neg(value: Any) -> Any:
    """``-x``; refused (TypeError) for a boolean array, as numpy refuses it."""
    return -value


def vlmcar_setitem(array: Any, index: Any, value: Any) -> None:
    """``array[index] = value``; NaN or an out-of-range int into an integer array raises."""
    array[index] = value


#: The builtin ``slice``, under a name a checker cannot rebind: the rebuild turns ``a[1:3] = v``
#: into ``vlmcar_setitem(a, vlmcar_slice(1, 3, None), v)``.
vlmcar_slice = slice


def vlmcar_checked_shape(limit: int, shape: Any) -> Any:
    """Return ``shape`` after checking that an array of it has at most ``limit`` elements."""
    return shape


def vlmcar_bincount(limit: int, x: Any, minlength: Any) -> Any:
    """``np.bincount(x, minlength=minlength)`` of a 1-D integer or bool array, as numpy counts.

    numpy refuses negative values and ``minlength``, and types it cannot cast to int64 safely
    (uint64, floats: refused at typing here); an output of more than ``limit`` elements raises
    MemoryError, so the interpreter, budgets first, answers the batch.
    """
    return np.bincount(x, minlength=minlength)


@overload(vlmcar_bincount)
def _vlmcar_bincount(limit: Any, x: Any, minlength: Any) -> Any:
    from numba.core.errors import TypingError

    if not (
        isinstance(x, types.Array)
        and x.ndim == 1
        and isinstance(x.dtype, types.Integer | types.Boolean)
        and x.dtype != types.uint64
        and isinstance(minlength, types.Integer)
    ):
        raise TypingError(
            f"Unsupported: np.bincount() of {x} (1-D integer or bool arrays only, no uint64 or "
            "weights); it stays on the interpreter"
        )

    def impl(limit: Any, x: Any, minlength: Any) -> Any:
        if minlength < 0:
            raise ValueError("'minlength' must not be negative")
        top = np.int64(0)
        for v in x:
            if v < 0:
                raise ValueError("'list' argument must have no negative elements")
            if np.int64(v) >= limit:  # before adding 1, which wraps at INT64_MAX
                raise MemoryError("array allocation exceeds the kernel's allocation budget")
            top = max(top, np.int64(v) + 1)
        n = max(top, np.int64(minlength))
        if n > limit:
            raise MemoryError("array allocation exceeds the kernel's allocation budget")
        out = np.zeros(n, np.int64)
        for v in x:
            out[np.int64(v)] += 1
        return out

    return impl


def vlmcar_checked_arange(limit: int, *args: Any) -> Any:
    """``np.arange(*args)`` after checking that the result has at most ``limit`` elements."""
    return np.arange(*args)


def _domain_checked_1(fn: Any) -> Any:
    """A jitted ``math`` function of one float that raises where CPython's ``math`` raises.

    CPython refuses a NaN result from a non-NaN argument (``sqrt(-1)``, ``cos(inf)``: "math domain
    error") and an infinite result from a finite argument (``exp(1000)``); C's libm, which Numba
    calls, returns NaN or infinity instead. Both paths must fail alike.
    """

    @_jit
    def checked(x: Any) -> Any:
        r = fn(x)
        if math.isnan(r) and not math.isnan(x):
            raise ValueError("math domain error")
        if math.isinf(r) and math.isfinite(x):
            raise ValueError("math range error")
        return r

    return checked


def _domain_checked_2(fn: Any) -> Any:
    """:func:`_domain_checked_1` for functions of two floats (``hypot``, ``atan2``, ``copysign``)."""

    @_jit
    def checked(x: Any, y: Any) -> Any:
        r = fn(x, y)
        if math.isnan(r) and not (math.isnan(x) or math.isnan(y)):
            raise ValueError("math domain error")
        if math.isinf(r) and math.isfinite(x) and math.isfinite(y):
            raise ValueError("math range error")
        return r

    return checked


#: ``math`` functions of floats, with CPython's errors (see :func:`_domain_checked_1`).
MATH_TWINS: dict[str, Any] = {
    name: _domain_checked_1(getattr(math, name))
    for name in "acos asin atan cos degrees exp fabs log log10 log2 radians sin sqrt tan".split()
}
MATH_TWINS.update({name: _domain_checked_2(getattr(math, name)) for name in ("atan2", "copysign")})

#: 2**27 + 1: Veltkamp's constant, splitting a float64 into two halves of 26 bits.
_SPLITTER = 134217729.0
#: The smallest normal float64 (C's DBL_MIN).
_DBL_MIN = 2.2250738585072014e-308


@_jit
def _product_error(x: Any, y: Any, product: Any) -> Any:
    """The exact ``x * y - product`` for ``product = x * y`` (Dekker's two-product, no FMA)."""
    t = _SPLITTER * x
    xh = t - (t - x)
    xl = x - xh
    t = _SPLITTER * y
    yh = t - (t - y)
    yl = y - yh
    return ((xh * yh - product) + xh * yl + xl * yh) + xl * yl


@_jit
def _vector_norm(values: Any, biggest: Any, nan: Any) -> Any:
    """CPython's ``vector_norm`` (Modules/mathmodule.c, 3.10 on): the sqrt of a sum of squares.

    ``values`` are the absolute coordinates, ``biggest`` their maximum. The squares are taken
    exactly (a double-length product) after scaling by a power of two that brings the largest
    below 1, summed with compensation from 1.0, square-rooted, then corrected once by the
    residual. Implemented here from the published algorithm (not from its C text) and held to
    ``math.hypot`` / ``math.dist`` bit for bit by the tests.
    """
    if math.isinf(biggest):
        return biggest
    if nan:
        return math.nan
    n = values.size
    if biggest == 0.0 or n <= 1:
        return biggest
    factor = 1.0
    if math.frexp(biggest)[1] < -1022:  # a subnormal maximum: made normal first
        values = values / _DBL_MIN
        biggest = biggest / _DBL_MIN
        factor = _DBL_MIN
    scale = math.ldexp(1.0, -math.frexp(biggest)[1])
    csum, frac1, frac2 = 1.0, 0.0, 0.0
    for i in range(n):
        x = values[i] * scale
        hi = x * x
        lo = _product_error(x, x, hi)
        total = csum + hi
        frac2 += (csum - total) + hi
        csum = total
        frac1 += lo
    h = math.sqrt(csum - 1.0 + (frac1 + frac2))
    hi = -h * h
    lo = _product_error(-h, h, hi)
    total = csum + hi
    frac2 += (csum - total) + hi
    csum = total
    frac1 += lo
    x = csum - 1.0 + (frac1 + frac2)
    h += x / (2.0 * h)
    return factor * (h / scale)


@_jit
def _norm_of(values: Any) -> Any:
    """:func:`_vector_norm` of absolute values, with CPython's maximum (NaNs left out of it)."""
    biggest, nan = 0.0, False
    for d in values:
        nan = nan or math.isnan(d)
        if d > biggest:  # noqa: PLR1730 - max() need not skip a NaN as this comparison does
            biggest = d
    return _vector_norm(values, biggest, nan)


@_jit
def vlmcar_math_hypot(x: Any, y: Any) -> Any:
    """``math.hypot(x, y)`` as CPython computes it.

    numba's is C's ``hypot``, which differed from CPython's in the last bit on 335 of 200,000
    random pairs.
    """
    return _norm_of(np.array((abs(float(x)), abs(float(y)))))


def vlmcar_math_dist(p: Any, q: Any) -> Any:
    """``math.dist(p, q)`` of two tuples or 1-D arrays of numbers, as CPython computes it."""
    return math.dist(p, q)  # pragma: no cover - only called in kernels


@overload(vlmcar_math_dist)
def _vlmcar_math_dist(p: Any, q: Any) -> Any:
    from numba.core.errors import TypingError

    for point in (p, q):
        numeric = (
            isinstance(point, types.UniTuple)
            and isinstance(point.dtype, types.Integer | types.Float | types.Boolean)
        ) or (
            isinstance(point, types.Array)
            and point.ndim == 1
            and isinstance(point.dtype, types.Integer | types.Float | types.Boolean)
        )
        if not numeric:
            raise TypingError(
                f"Unsupported: math.dist() of {point} (tuples or 1-D arrays of numbers of one "
                "type); it stays on the interpreter"
            )

    def impl(p: Any, q: Any) -> Any:
        n = len(p)
        if len(q) != n:
            raise ValueError("both points must have the same number of dimensions")
        values = np.empty(n, np.float64)
        for i in range(n):
            values[i] = abs(float(p[i]) - float(q[i]))
        return _norm_of(values)

    return impl


MATH_TWINS["hypot"] = vlmcar_math_hypot
for _name, _twin in MATH_TWINS.items():
    globals()[f"vlmcar_math_{_name}"] = _twin
del _name, _twin


_EXACT_FLOAT_INTEGERS = 2.0**53


def vlmcar_sum(array: Any) -> Any:
    """``array.sum()`` for integer and bool arrays (exact, wrapping like the interpreter)."""
    return np.sum(array)


def vlmcar_mean(array: Any) -> Any:
    """``array.mean()`` for integer and bool arrays, bit for bit as numpy computes it."""
    return np.mean(array)


def vlmcar_prod(array: Any) -> Any:
    """``array.prod()`` for integer and bool arrays (wrapping like the interpreter)."""
    return np.prod(array)


def _integer_array(array: Any) -> bool:
    return isinstance(array, types.Array) and isinstance(array.dtype, types.Integer | types.Boolean)


def _no_float_reduction(name: str) -> NoReturn:
    from numba.core.errors import TypingError

    if name in ("max", "min"):
        raise TypingError(
            f"Unsupported: {name}() along an axis of a float array: numpy's choice between "
            "equal zeros of both signs (and its NaN handling) differs from a native loop; it "
            "stays on the interpreter"
        )
    raise TypingError(
        f"Unsupported: {name}() of a float array: its result depends on the summation order, "
        "which differs between numpy and a native loop; it stays on the interpreter"
    )


def vlmcar_pairwise(a: Any, b: Any, largest: bool) -> Any:
    """``np.maximum(a, b)`` (``largest``) or ``np.minimum(a, b)`` as numpy computes them.

    Of two numbers: numpy keeps ``a`` where it is larger (smaller) or NaN, else ``b`` (so
    ``np.maximum(-0.0, 0.0)`` is 0.0 and ``np.maximum(0.0, -0.0)`` -0.0), computed here the same
    way. Of integer or bool arrays: numba's. Float arrays are refused at typing (the checker
    stays on the interpreter): numba picks the other of two equal zeros.
    """
    return np.maximum(a, b) if largest else np.minimum(a, b)


@overload(vlmcar_pairwise)
def _vlmcar_pairwise(a: Any, b: Any, largest: Any) -> Any:
    numbers = isinstance(a, types.Number) and isinstance(b, types.Number)
    if numbers and (isinstance(a, types.Float) or isinstance(b, types.Float)):

        def scalar(a: Any, b: Any, largest: Any) -> Any:
            x, y = np.float64(a), np.float64(b)
            if largest:
                return x if (x > y or np.isnan(x)) else y
            return x if (x < y or np.isnan(x)) else y

        return scalar
    for value in (a, b):
        reason = _refuse_float_value(value)
        if reason is not None:
            from numba.core.errors import TypingError

            raise TypingError(f"Unsupported: {reason}")

    def arrays(a: Any, b: Any, largest: Any) -> Any:
        return np.maximum(a, b) if largest else np.minimum(a, b)

    return arrays


def vlmcar_extreme(array: Any, largest: bool) -> Any:
    """``np.max(array)`` (``largest``) or ``np.min(array)`` of a whole array, as numpy answers.

    For floats numba keeps the first of equal elements and numpy need not (``np.max`` of
    ``[-0.0, 0.0]`` is 0.0, of ``[0.0, -0.0]`` -0.0, and vectorised loops pick by lane): where
    the answer is a zero and zeros of both signs occur, the kernel defers to the interpreter.
    """
    return np.max(array) if largest else np.min(array)


@overload(vlmcar_extreme)
def _vlmcar_extreme(array: Any, largest: Any) -> Any:
    floats = isinstance(array, types.Array) and isinstance(array.dtype, types.Float)

    def impl(array: Any, largest: Any) -> Any:
        r = np.max(array) if largest else np.min(array)
        if floats and r == 0:
            positive = negative = False
            for v in array.flat:
                if v == 0:
                    if np.signbit(v):
                        negative = True
                    else:
                        positive = True
            if positive and negative:
                raise JitDeferred("a float max/min between zeros of both signs")
        return r

    return impl


def vlmcar_ptp(array: Any) -> Any:
    """``np.ptp(array)`` of a whole integer or float array: its max minus its min, as numpy.

    Both extremes come from :func:`vlmcar_extreme` (which defers where numpy's choice between
    zeros of both signs decides the answer); integers are subtracted in the array's dtype (an
    int8 ptp wraps, as numpy's does); bool arrays are refused, as numpy refuses them.
    """
    return np.ptp(array)


@overload(vlmcar_ptp)
def _vlmcar_ptp(array: Any) -> Any:
    if not isinstance(array, types.Array) or not isinstance(
        array.dtype, types.Integer | types.Float
    ):
        from numba.core.errors import TypingError

        raise TypingError("Unsupported: np.ptp() of anything but an integer or float array")
    if isinstance(array.dtype, types.Integer):
        from numba.np.numpy_support import as_dtype

        cast = as_dtype(array.dtype).type

        def ints(array: Any) -> Any:
            # numpy subtracts in the array's dtype: int8 from -128 to 127 spans -1
            return cast(vlmcar_extreme(array, True) - vlmcar_extreme(array, False))

        return ints

    def floats(array: Any) -> Any:
        return vlmcar_extreme(array, True) - vlmcar_extreme(array, False)

    return floats


def vlmcar_std(array: Any) -> Any:
    """``array.std()`` (whole array, ``ddof=0``), bit for bit as numpy computes it."""
    return np.std(array)


def vlmcar_var(array: Any) -> Any:
    """``array.var()`` (whole array, ``ddof=0``), bit for bit as numpy computes it."""
    return np.var(array)


# --- float64 sums in numpy's order ----------------------------------------------------------
#
# A float sum depends on the order of its additions. numpy 2.4 adds a float64 array as follows
# (measured: 3,945 random views of 1-4 dimensions, sliced with steps, with values spread over 16
# orders of magnitude, every one equal bit for bit, see tests/sandbox/test_jit_helpers.py):
#
# * a C-contiguous array is one run: ``0.0 + pairwise(all n elements)``;
# * any other array is copied, in C order, through the reduction's 8192-element buffer in chunks
#   of whole "core" runs (the trailing axes that stride evenly, multiplied out), and the chunks'
#   pairwise sums are added in turn: ``((0.0 + pairwise(c0)) + pairwise(c1)) + ...``.
#
# ``pairwise(n)`` is numpy's: a plain loop below 8 elements; up to 128, eight running sums over
# the elements modulo 8, combined as ((r0+r1)+(r2+r3))+((r4+r5)+(r6+r7)), then the remainder in
# turn; above 128, the halves (the first a multiple of 8) summed apart and added. Layouts outside
# what was measured (negative or non-C-ordered strides, a core run over 8192 elements, float32)
# are not guessed at: the kernel defers to the interpreter, or the checker is refused at typing.

_NP_BUFSIZE = 8192  # numpy's default ufunc buffer size, in elements (np.getbufsize())


@_jit
def _pairwise_block(a: Any, lo: Any, n: Any) -> Any:
    """The sum numpy computes of ``a[lo:lo + n]`` for ``n <= 128``: the leaves of :func:`_pairwise`."""
    if n < 8:
        res = 0.0
        for i in range(lo, lo + n):
            res += a[i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    whole = n - n % 8
    while i < whole:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@_jit
def _pairwise(a: Any, lo: Any, n: Any) -> Any:
    """The pairwise sum numpy computes of ``a[lo:lo + n]``: halves (the first a multiple of 8) above 128.

    Written as a loop over an explicit stack, not as recursion: Numba's cache cannot reload a
    kernel that calls a recursive function (LLVM aborts the process on the unresolved symbol).
    """
    if n <= 128:
        return _pairwise_block(a, lo, n)
    starts = np.empty(130, np.int64)  # the depth is below 64 for any int64 n
    sizes = np.empty(130, np.int64)
    stages = np.empty(130, np.int64)
    values = np.empty(130, np.float64)
    top, held = 1, 0
    starts[0], sizes[0], stages[0] = lo, n, 0
    while top > 0:
        k = top - 1
        size = sizes[k]
        if size <= 128:
            values[held] = _pairwise_block(a, starts[k], size)
            held += 1
            top -= 1
            continue
        half = size // 2
        half -= half % 8
        if stages[k] == 0:
            stages[k] = 1
            starts[top], sizes[top], stages[top] = starts[k], half, 0
            top += 1
        elif stages[k] == 1:
            stages[k] = 2
            starts[top], sizes[top], stages[top] = starts[k] + half, size - half, 0
            top += 1
        else:
            held -= 1
            values[held - 1] = values[held - 1] + values[held]
            top -= 1
    return values[0]


@_jit
def _float_chunk(array: Any) -> Any:
    """0 for one run over the whole (C-contiguous) array, else numpy's buffer chunk in elements."""
    if array.flags.c_contiguous:
        return 0
    inner = array.itemsize  # the stride an axis needs to continue the one after it evenly
    core = 1
    even = True
    for k in range(array.ndim - 1, -1, -1):
        n = array.shape[k]
        if n == 1:
            continue
        stride = array.strides[k]
        if stride <= 0 or stride < inner:
            raise JitDeferred("a float sum over a view with negative or reordered strides")
        if even and (core == 1 or stride == inner):
            core *= n
        else:
            even = False
        inner = stride * n
    if core > _NP_BUFSIZE:
        raise JitDeferred("a float sum over a view whose rows are longer than numpy's buffer")
    return (_NP_BUFSIZE // core) * core


@_jit
def _float_sum(array: Any) -> Any:
    """``np.sum`` of a float64 array, with numpy's order of additions."""
    chunk = _float_chunk(array)
    flat = np.ascontiguousarray(array).reshape(array.size)
    if chunk == 0:
        return 0.0 + _pairwise(flat, 0, flat.size)
    total = 0.0
    for lo in range(0, flat.size, chunk):
        total += _pairwise(flat, lo, min(chunk, flat.size - lo))
    return total


@_jit
def _exact_integer_sum(array: Any) -> Any:
    """The float64 sum numpy computes for an integer array, where every order gives it."""
    biggest = 0.0
    total = np.int64(0)
    for v in array.flat:
        x = np.int64(v)
        biggest = max(biggest, abs(float(x)))
        total += x
    if biggest * array.size >= _EXACT_FLOAT_INTEGERS:
        raise JitDeferred("a sum outside the exactly reproducible range")
    return float(total)


def _float64_array(array: Any) -> bool:
    return isinstance(array, types.Array) and array.dtype == types.float64


@_jit
def _squared_deviations(array: Any, mean: Any) -> Any:
    out = np.empty(array.size, np.float64)
    for i, v in enumerate(array.flat):
        d = np.float64(v) - mean
        out[i] = d * d
    return out


def _variance_impl(integer: bool, root: bool, kind: str) -> Any:
    def impl(array: Any) -> Any:
        n = array.size
        if n == 0:
            raise JitDeferred("std or var of an empty array")
        total = _exact_integer_sum(array) if integer else _float_sum(array)
        squares = _squared_deviations(array, total / n)
        variance = (0.0 + _pairwise(squares, 0, n)) / n
        return math.sqrt(variance) if root else variance

    return _renamed(impl, kind)


@overload(vlmcar_std)
def _vlmcar_std(array: Any) -> Any:
    if not (_integer_array(array) or _float64_array(array)):
        _no_float_reduction("std")
    integer = _integer_array(array)
    return _variance_impl(integer, True, "std_int" if integer else "std_float")


@overload(vlmcar_var)
def _vlmcar_var(array: Any) -> Any:
    if not (_integer_array(array) or _float64_array(array)):
        _no_float_reduction("var")
    integer = _integer_array(array)
    return _variance_impl(integer, False, "var_int" if integer else "var_float")


@overload(vlmcar_sum)
def _vlmcar_sum(array: Any) -> Any:
    if _float64_array(array):

        def float_impl(array: Any) -> Any:
            return _float_sum(array)

        return float_impl
    if not _integer_array(array):
        _no_float_reduction("sum")

    def impl(array: Any) -> Any:
        total = np.int64(0)
        for v in array.flat:
            total += np.int64(v)
        return total

    return impl


@overload(vlmcar_prod)
def _vlmcar_prod(array: Any) -> Any:
    if not _integer_array(array):
        _no_float_reduction("prod")

    def impl(array: Any) -> Any:
        total = np.int64(1)
        for v in array.flat:
            total *= np.int64(v)
        return total

    return impl


@overload(vlmcar_mean)
def _vlmcar_mean(array: Any) -> Any:
    # numpy converts every element to float64 and sums pairwise. That is exact, and so equal to
    # the exact integer sum divided by n, when every partial sum is an integer below 2**53;
    # otherwise the kernel defers to the interpreter (and an empty array's NaN comes from there).
    if _float64_array(array):

        def float_impl(array: Any) -> Any:
            if array.size == 0:
                raise JitDeferred("mean of an empty array")
            return _float_sum(array) / array.size

        return float_impl
    if not _integer_array(array):
        _no_float_reduction("mean")

    def impl(array: Any) -> Any:
        n = array.size
        if n == 0:
            raise JitDeferred("mean of an empty array")
        return _exact_integer_sum(array) / n

    return impl


# --- reductions along one axis (``np.all(frame == c, axis=-1)``, ``img.max(axis=2)``) ----------
#
# numba types none of numpy's reductions with ``axis`` except ``sum``. These twins reduce one axis
# of a 2-D or 3-D array, the axis an int (negative counts from the end, as numpy), and return what
# numpy returns: ``all``/``any`` bool, ``max``/``min`` the array's dtype, ``sum`` int64 (uint64 for
# unsigned input), ``mean`` float64. Only what is exact on both paths: ``max``/``min``/``sum``/
# ``mean`` of integer and bool arrays (a float reduction depends on the order of operations, or on
# NaN handling, and stays on the interpreter); ``mean`` defers when a sum could be inexact.


def vlmcar_all_axis(array: Any, axis: Any) -> Any:
    """``np.all(array, axis=axis)`` for a 2-D or 3-D array."""
    return np.all(array, axis=axis)


def vlmcar_any_axis(array: Any, axis: Any) -> Any:
    """``np.any(array, axis=axis)`` for a 2-D or 3-D array."""
    return np.any(array, axis=axis)


def vlmcar_max_axis(array: Any, axis: Any) -> Any:
    """``np.max(array, axis=axis)`` for a 2-D or 3-D integer, bool or float64 array."""
    return np.max(array, axis=axis)


def vlmcar_min_axis(array: Any, axis: Any) -> Any:
    """``np.min(array, axis=axis)`` for a 2-D or 3-D integer, bool or float64 array."""
    return np.min(array, axis=axis)


def vlmcar_sum_axis(array: Any, axis: Any) -> Any:
    """``np.sum(array, axis=axis)`` for a 2-D or 3-D integer or bool array."""
    return np.sum(array, axis=axis)


def vlmcar_mean_axis(array: Any, axis: Any) -> Any:
    """``np.mean(array, axis=axis)`` for a 2-D or 3-D integer or bool array."""
    return np.mean(array, axis=axis)


@_jit
def _axis(axis: Any, ndim: Any) -> Any:
    ax = axis + ndim if axis < 0 else axis
    if ax < 0 or ax >= ndim:
        raise ValueError("axis is out of bounds for the array")
    return ax


@_jit
def _row_all(row: Any) -> Any:
    for v in row:  # noqa: SIM110 - numba compiles no generator expressions
        if not v:
            return False
    return True


@_jit
def _row_any(row: Any) -> Any:
    for v in row:  # noqa: SIM110 - numba compiles no generator expressions
        if v:
            return True
    return False


@_jit
def _row_max(row: Any) -> Any:
    if row.size == 0:
        raise ValueError("zero-size array to reduction operation maximum which has no identity")
    best = row[0]
    for v in row:
        best = max(best, v)
    return best


@_jit
def _row_min(row: Any) -> Any:
    if row.size == 0:
        raise ValueError("zero-size array to reduction operation minimum which has no identity")
    best = row[0]
    for v in row:
        best = min(best, v)
    return best


@_jit
def _row_extreme_float(row: Any, largest: Any) -> Any:
    """The max (``largest``) or min of float64 values, where every order gives numpy's answer.

    numpy's vectorised loops choose between equal zeros of both signs by lane, and between NaNs
    by position: a row whose answer is a zero while zeros of both signs occur, or that holds a
    NaN, defers to the interpreter. Every other answer is the one value that is largest
    (smallest), whatever the order.
    """
    if row.size == 0:
        if largest:
            raise ValueError("zero-size array to reduction operation maximum which has no identity")
        raise ValueError("zero-size array to reduction operation minimum which has no identity")
    best = row.flat[0]
    positive = negative = False
    for v in row.flat:
        if np.isnan(v):
            raise JitDeferred("a float max/min along an axis over a NaN")
        if v == 0:
            if np.signbit(v):
                negative = True
            else:
                positive = True
        if (v > best) if largest else (v < best):
            best = v
    if best == 0 and positive and negative:
        raise JitDeferred("a float max/min along an axis between zeros of both signs")
    return best


@_jit
def _row_max_float(row: Any) -> Any:
    return _row_extreme_float(row, True)


@_jit
def _row_min_float(row: Any) -> Any:
    return _row_extreme_float(row, False)


@_jit
def _row_sum_signed(row: Any) -> Any:
    total = np.int64(0)
    for v in row.flat:  # .flat: a row may be 2-D (a reduction over two axes)
        total += np.int64(v)
    return total


@_jit
def _row_sum_float(row: Any) -> Any:
    """The sum of float64 values that are all small integers, which every order gives exactly.

    numpy adds a reduced axis in an order of its own (sequential along kept inner axes,
    pairwise along a contiguous reduced one); where every value is an integer and the total
    stays below 2**53 no addition rounds, so any order gives numpy's sum. Any other row (a
    fraction, NaN, infinity, a total past 2**53) defers to the interpreter.
    """
    biggest = 0.0
    total = 0.0
    for v in row.flat:
        if not (np.isfinite(v) and v == np.floor(v)):
            raise JitDeferred("a float axis reduction of values that are not all integers")
        biggest = max(biggest, abs(v))
        total += v
    if biggest * row.size >= _EXACT_FLOAT_INTEGERS:
        raise JitDeferred("a float axis reduction outside the exactly reproducible range")
    return total


@_jit
def _row_mean_float(row: Any) -> Any:
    if row.size == 0:
        raise JitDeferred("mean of an empty axis")
    return _row_sum_float(row) / row.size


@_jit
def _row_sum_unsigned(row: Any) -> Any:
    total = np.uint64(0)
    for v in row.flat:
        total += np.uint64(v)
    return total


@_jit
def _row_mean(row: Any) -> Any:
    if row.size == 0:
        raise JitDeferred("mean of an empty axis")
    return _exact_integer_sum(row) / row.size


def _axis_reduction(array: Any, axis: Any, row: Any, dtype: Any, kind: str) -> Any:
    """The implementation reducing one axis of a 2-D or 3-D array with ``row``.

    Each reduction gets implementations with code objects of their own (``kind`` in their
    names): numba reuses a compiled overload implementation for a closure with the same code and
    argument types whatever its free variables hold (or one whose freed closure's id() a new one
    reuses), so ``mean(axis=2)`` of a uint8 frame, compiled first, answered for a later
    ``max(axis=2)`` of one. Found by the library's differential tests in CI, where the kernel
    then failed the agreement probe and was refused; not reproduced since.
    """
    from numba.core.errors import TypingError

    if not isinstance(array, types.Array) or array.ndim not in (2, 3):
        raise TypingError("Unsupported: a reduction with axis of anything but a 2-D or 3-D array")
    pair = (
        isinstance(axis, types.UniTuple)
        and axis.count == 2
        and isinstance(axis.dtype, types.Integer)
        and array.ndim == 3
    )
    if pair and kind in _MULTI_AXIS:

        def impl_pair(array: Any, axis: Any) -> Any:
            a, b = _axis(axis[0], 3), _axis(axis[1], 3)
            if a == b:
                raise ValueError("duplicate value in 'axis'")
            keep = 3 - a - b
            if keep == 0:
                v = array.transpose((0, 1, 2))
            elif keep == 1:
                v = array.transpose((1, 0, 2))
            else:
                v = array.transpose((2, 0, 1))
            out = np.empty(v.shape[0], dtype)
            for i in range(v.shape[0]):
                out[i] = row(v[i])
            return out

        return _renamed(impl_pair, kind)
    if not isinstance(axis, types.Integer):
        raise TypingError(
            "Unsupported: a reduction whose axis is not an int (or, for sum and mean of a 3-D "
            "array, two ints); it stays on the interpreter"
        )
    if array.ndim == 2:

        def impl2(array: Any, axis: Any) -> Any:
            b = array.transpose((1, 0)) if _axis(axis, 2) == 0 else array.transpose((0, 1))
            out = np.empty(b.shape[0], dtype)
            for i in range(b.shape[0]):
                out[i] = row(b[i])
            return out

        return _renamed(impl2, kind)

    def impl3(array: Any, axis: Any) -> Any:
        ax = _axis(axis, 3)
        if ax == 0:
            b = array.transpose((1, 2, 0))
        elif ax == 1:
            b = array.transpose((0, 2, 1))
        else:
            b = array.transpose((0, 1, 2))
        out = np.empty((b.shape[0], b.shape[1]), dtype)
        for i in range(b.shape[0]):
            for j in range(b.shape[1]):
                out[i, j] = row(b[i, j])
        return out

    return _renamed(impl3, kind)


#: Reductions whose row functions take a 2-D row too (``axis=(0, 1)`` of a 3-D array): sums
#: and means, where the order of additions does not change the exact results they give.
_MULTI_AXIS = frozenset({"sum_signed", "sum_unsigned", "sum_float", "mean", "mean_float"})

#: Every implementation handed to numba, kept alive: numba's caches hold some of them by
#: identity, and a freed one's id() could be reused by the next (see :func:`_axis_reduction`).
_IMPLEMENTATIONS: list[Any] = []


def _renamed(function: Any, kind: str) -> Any:
    """``function`` with a code object (and name) of its own, ``<name>_<kind>``, kept alive."""
    name = f"{function.__name__}_{kind}"
    function.__code__ = function.__code__.replace(co_name=name, co_qualname=name)
    function.__name__ = function.__qualname__ = name
    _IMPLEMENTATIONS.append(function)
    return function


def _exact_only(name: str, array: Any) -> None:
    if isinstance(array, types.Array) and not _integer_array(array):
        _no_float_reduction(name)


@overload(vlmcar_all_axis)
def _vlmcar_all_axis(array: Any, axis: Any) -> Any:
    return _axis_reduction(array, axis, _row_all, np.bool_, "all")


@overload(vlmcar_any_axis)
def _vlmcar_any_axis(array: Any, axis: Any) -> Any:
    return _axis_reduction(array, axis, _row_any, np.bool_, "any")


@overload(vlmcar_max_axis)
def _vlmcar_max_axis(array: Any, axis: Any) -> Any:
    from numba.np.numpy_support import as_dtype

    if isinstance(array, types.Array) and array.dtype == types.float64:
        return _axis_reduction(array, axis, _row_max_float, np.float64, "max_float")
    _exact_only("max", array)
    return _axis_reduction(array, axis, _row_max, as_dtype(array.dtype), "max")


@overload(vlmcar_min_axis)
def _vlmcar_min_axis(array: Any, axis: Any) -> Any:
    from numba.np.numpy_support import as_dtype

    if isinstance(array, types.Array) and array.dtype == types.float64:
        return _axis_reduction(array, axis, _row_min_float, np.float64, "min_float")
    _exact_only("min", array)
    return _axis_reduction(array, axis, _row_min, as_dtype(array.dtype), "min")


def _float64_or_exact(name: str, array: Any) -> bool:
    """Whether ``array`` is float64 (summed exactly or deferred); other floats are refused."""
    if isinstance(array, types.Array) and array.dtype == types.float64:
        return True
    _exact_only(name, array)
    return False


@overload(vlmcar_sum_axis)
def _vlmcar_sum_axis(array: Any, axis: Any) -> Any:
    if _float64_or_exact("sum", array):
        return _axis_reduction(array, axis, _row_sum_float, np.float64, "sum_float")
    unsigned = isinstance(array.dtype, types.Integer) and not getattr(array.dtype, "signed", True)
    if unsigned:
        return _axis_reduction(array, axis, _row_sum_unsigned, np.uint64, "sum_unsigned")
    return _axis_reduction(array, axis, _row_sum_signed, np.int64, "sum_signed")


@overload(vlmcar_mean_axis)
def _vlmcar_mean_axis(array: Any, axis: Any) -> Any:
    if _float64_or_exact("mean", array):
        return _axis_reduction(array, axis, _row_mean_float, np.float64, "mean_float")
    return _axis_reduction(array, axis, _row_mean, np.float64, "mean")


def vlmcar_floor(value: Any) -> Any:
    """``math.floor(x)`` with CPython's semantics (an int; NaN and infinity refused)."""
    return math.floor(value)


def vlmcar_ceil(value: Any) -> Any:
    """``math.ceil(x)`` with CPython's semantics (an int; NaN and infinity refused)."""
    return math.ceil(value)


def vlmcar_trunc(value: Any) -> Any:
    """``math.trunc(x)`` with CPython's semantics (an int; NaN and infinity refused)."""
    return math.trunc(value)


def _float_to_int(rounding: Any) -> Any:
    """An overload body: ints pass through; floats are rounded, range-checked, then converted."""

    def impl(value: Any) -> Any:
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
                r = rounding(value)
                if not -_INT64_LIMIT <= r < _INT64_LIMIT:
                    raise OverflowError("a float outside the 64-bit range")
                return np.int64(r)

            return from_float
        return None

    return impl


overload(vlmcar_floor)(_float_to_int(np.floor))
overload(vlmcar_ceil)(_float_to_int(np.ceil))
overload(vlmcar_trunc)(_float_to_int(np.trunc))


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


@overload(vlmcar_sorted)
def _vlmcar_sorted(values: Any) -> Any:
    from numba.core.errors import TypingError

    exact = isinstance(values, types.UniTuple | types.List) and isinstance(
        values.dtype, types.Integer | types.Boolean
    )
    if not exact:
        raise TypingError(
            f"Unsupported: sorted() of {values} (tuples and lists of ints or bools only); it "
            "stays on the interpreter"
        )

    def impl(values: Any) -> Any:
        out = list(values)
        out.sort()
        return out

    return impl


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


@_jit
def _floordiv_one(a: Any, b: Any) -> Any:
    if b == 0:
        return 0  # numpy's answer (with a warning the interpreter silences)
    if b == -1:
        return -a  # wraps where it is stored: numpy's MIN // -1 is MIN, numba's ufunc gives 0
    return a // b


@_jit
def _mod_one(a: Any, b: Any) -> Any:
    if b == 0 or b == -1:  # noqa: PLR1714 - two compares, no tuple built in a kernel
        return 0  # the CPU traps on MIN % -1 (SIGFPE): numba's ufunc would kill the worker
    return a % b


@_jit
def _float_floordiv_one(a: Any, b: Any) -> Any:
    return a // b  # numba's scalar rule is numpy's (CPython's divmod); 0 raises: interpreter's


@_jit
def _float_mod_one(a: Any, b: Any) -> Any:
    return a % b  # a zero remainder takes the divisor's sign, as numpy's


def _array_division(left: Any, right: Any, mod: bool) -> Any:
    """``//`` or ``%`` of an array with a signed integer or float64 result, or None.

    numba's integer ufuncs answer ``MIN // -1`` with 0 and trap on ``MIN % -1`` (the process
    dies of SIGFPE), where numpy gives MIN and 0; its float ufuncs compute ``floor(a / b)``
    (``1.0 // 0.1`` is 10.0, numpy's 9.0) and give a zero remainder the wrong sign. The twin
    computes each element in the result dtype numpy picks (uint64 with a signed int is float64),
    by numpy's rules: for integers, 0 for a divisor of 0 and numpy's answers for -1; for floats,
    numba's scalar ``//`` and ``%``, which are numpy's (a zero divisor raises, and the
    interpreter answers). Arrays of two different shapes (broadcasting) defer to the interpreter.
    """
    from numba.np.numpy_support import as_dtype

    arrays = [isinstance(t, types.Array) for t in (left, right)]
    kinds = [t.dtype if isinstance(t, types.Array) else t for t in (left, right)]
    if not any(arrays) or not all(isinstance(k, types.Integer | types.Float) for k in kinds):
        return None
    result = np.result_type(*(as_dtype(k) for k in kinds))
    if result.kind == "i":
        one = _mod_one if mod else _floordiv_one
    elif result == np.float64:
        one = _float_mod_one if mod else _float_floordiv_one
    else:
        return None
    cast = result.type
    kind = ("mod" if mod else "floordiv") + result.kind
    if all(arrays):

        def both(left: Any, right: Any) -> Any:
            if left.shape != right.shape:
                raise JitDeferred("// or % of integer arrays of two shapes (broadcast)")
            out = np.empty(left.shape, cast)
            a, b, flat = left.ravel(), right.ravel(), out.reshape(-1)
            for i in range(flat.size):
                flat[i] = one(cast(a[i]), cast(b[i]))
            return out

        return _renamed(both, f"{kind}_both")
    if arrays[0]:

        def array_left(left: Any, right: Any) -> Any:
            out = np.empty(left.shape, cast)
            a, b, flat = left.ravel(), cast(right), out.reshape(-1)
            for i in range(flat.size):
                flat[i] = one(cast(a[i]), b)
            return out

        return _renamed(array_left, f"{kind}_left")

    def array_right(left: Any, right: Any) -> Any:
        out = np.empty(right.shape, cast)
        a, b, flat = cast(left), right.ravel(), out.reshape(-1)
        for i in range(flat.size):
            flat[i] = one(a, cast(b[i]))
        return out

    return _renamed(array_right, f"{kind}_right")


@overload(vlmcar_mod)
def _vlmcar_mod(left: Any, right: Any) -> Any:
    signed = _array_division(left, right, True)
    if signed is not None:
        return signed

    def other(left: Any, right: Any) -> Any:
        return left % right

    return other


@overload(vlmcar_floordiv)
def _vlmcar_floordiv(left: Any, right: Any) -> Any:
    signed = _array_division(left, right, False)
    if signed is not None:
        return signed
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


def _boolean(value: Any) -> bool:
    """A boolean array or scalar type (numba types)."""
    if isinstance(value, types.Array):
        return isinstance(value.dtype, types.Boolean)
    return isinstance(value, types.Boolean)


@overload(vlmcar_sub)
def _vlmcar_sub(left: Any, right: Any) -> Any:
    arrays = isinstance(left, types.Array) or isinstance(right, types.Array)
    if arrays and _boolean(left) and _boolean(right):

        def refused(left: Any, right: Any) -> Any:
            out = np.logical_xor(left, right)  # gives the call a type; never returned
            if out.size >= 0:
                raise TypeError("numpy boolean subtract, the `-` operator, is not supported")
            return out

        return refused

    def subtract(left: Any, right: Any) -> Any:
        return left - right

    return subtract


@overload(vlmcar_neg)
def _vlmcar_neg(value: Any) -> Any:
    if isinstance(value, types.Array) and _boolean(value):

        def refused(value: Any) -> Any:
            out = np.logical_not(value)  # gives the call a type; never returned
            if out.size >= 0:
                raise TypeError("the numpy boolean negative, the `-` operator, is not supported")
            return out

        return refused

    def negate(value: Any) -> Any:
        return -value

    return negate


# the index can be anything: the bounds checks every overload here has matter most (overload)
@overload(vlmcar_setitem)
def _vlmcar_setitem(array: Any, index: Any, value: Any) -> Any:
    if isinstance(array, types.Array):
        _refuse_boolean_index(index)  # a mask store: numba checks no mask's length
    if isinstance(array, types.DictType):

        def entry(array: Any, index: Any, value: Any) -> None:
            if len(array) >= CONTAINER_CAP and index not in array:
                raise JitDeferred("a dict past the kernel's container cap")
            array[index] = value

        return entry
    if not (isinstance(array, types.Array) and isinstance(array.dtype, types.Integer)):

        def plain(array: Any, index: Any, value: Any) -> None:
            array[index] = value

        return plain
    info = np.iinfo(str(array.dtype))
    lo, hi = int(info.min), int(info.max)
    if isinstance(value, types.Float):
        # numpy stores int(value) after a range check: 300.7 into uint8 raises OverflowError,
        # 255.9 stores 255 (a native cast of an out-of-range float is undefined). int(value)
        # fits exactly when lo - 1 < value < hi + 1; hi + 1 is a power of two or a small int, an
        # exact float, and so is lo - 1 except for int64, where no float lies strictly between
        # -2**63 - 1 and -2**63 (then value >= -2**63 is the same test). No trunc in the test:
        # numba's math.trunc returns an int64, itself undefined out of range (red-team finding).
        upper = float(hi + 1)
        below = float(lo - 1)
        strict = int(below) == lo - 1

        def from_float(array: Any, index: Any, value: Any) -> None:
            if math.isnan(value):
                raise ValueError("cannot convert float NaN to integer")
            if math.isinf(value):
                raise OverflowError("cannot convert float infinity to integer")
            low_ok = value > below if strict else value >= below
            if not (low_ok and value < upper):
                raise OverflowError("a float out of the array's integer range")
            array[index] = value

        return from_float
    if isinstance(value, types.Integer) and not isinstance(value, types.Boolean):
        if lo <= -(2**63):  # int64: every int64 value fits

            def wide(array: Any, index: Any, value: Any) -> None:
                array[index] = value

            return wide
        if hi >= 2**63:  # uint64: only negative values do not fit

            def unsigned(array: Any, index: Any, value: Any) -> None:
                if value < 0:
                    raise OverflowError("Python integer out of bounds for uint64")
                array[index] = value

            return unsigned

        def from_int(array: Any, index: Any, value: Any) -> None:
            if value < lo or value > hi:
                raise OverflowError("Python integer out of bounds for the array's dtype")
            array[index] = value

        return from_int

    def other(array: Any, index: Any, value: Any) -> None:
        array[index] = value

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
            empty = False
            for n in shape:
                if n == 0:
                    empty = True
            if empty:  # no elements: numpy allocates nothing, but refuses a product past intp
                wide = 1
                for n in shape:
                    if n > 0:
                        if wide > 1152921504606846975 // n:  # (2**63 - 1) // 8 bytes an element
                            raise JitDeferred("a shape whose other sides overflow")
                        wide *= n
                return shape
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


# --- operators with a module tuple constant (``frame == KEY``, ``x - OFFSET``) ------------------

vlmcar_tuple_eq = _tuple_twin("eq", operator.eq)
vlmcar_tuple_ne = _tuple_twin("ne", operator.ne)
vlmcar_tuple_lt = _tuple_twin("lt", operator.lt)
vlmcar_tuple_le = _tuple_twin("le", operator.le)
vlmcar_tuple_gt = _tuple_twin("gt", operator.gt)
vlmcar_tuple_ge = _tuple_twin("ge", operator.ge)
vlmcar_tuple_add = _tuple_twin("add", operator.add)
vlmcar_tuple_sub = _tuple_twin("sub", vlmcar_sub)
vlmcar_tuple_mul = _tuple_twin("mul", operator.mul)
vlmcar_tuple_truediv = _tuple_twin("truediv", operator.truediv)
vlmcar_tuple_floordiv = _tuple_twin("floordiv", vlmcar_floordiv)
vlmcar_tuple_mod = _tuple_twin("mod", operator.mod)
