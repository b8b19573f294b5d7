"""L2 run-time guards: the functions RestrictedPython's rewritten code calls, and guarded builtins.

Provides:
    make_namespace: the globals for one checker module: ``__builtins__`` (guarded builtins, the
        allowed exception classes, the charged vision helpers and a controlled ``__import__``) and
        the guard hooks below, each bound to the checker's meter.
    classify: the allow-list category of an object (``ndarray``, ``generic``, ``dtype``, ``list``...).
    freeze: a module-level constant made immutable.
    counted, array_items: counted iteration, the only way guarded code walks a container.
    One named function per hook, in the style of RestrictedPython's ``Guards.py``, each testable on
    its own (``meter`` first where the guard counts or charges):

    ==========================  ===========================================================
    ``_getattr_``               :func:`guarded_getattr` (per-type allow-lists, facades)
    ``_getitem_``               :func:`guarded_getitem` (index arrays, charged copies)
    ``_getiter_``               :func:`guarded_iter` (counted; arrays yield Python numbers)
    ``_write_``                 :func:`guarded_write` (frames and module constants refused)
    ``_binop_``                 :func:`guarded_binop` (int64 wrap, charged results)
    ``_inplacevar_``            :func:`guarded_inplacevar` (``+=`` on lists extends, counted)
    ``_unaryop_``               :func:`guarded_unaryop` (``-x``, ``+x``, ``~x``)
    ``_compare_``               :func:`guarded_compare` (``in`` on arrays and ranges included)
    ``_compare_chain_``         :func:`guarded_compare_chain` (``a < b < c``, lazily)
    ``_tick_`` / ``_enter_``    :func:`guarded_tick` / :func:`guarded_enter`
    ``__import__``              :func:`guarded_import` (numpy and math facades only)
    builtins                    ``guarded_<name>`` for abs, all, any, dict, divmod, enumerate, int,
                                isinstance, list, map, max, min, range, reversed, round, set,
                                sorted, sum, tuple, zip; :func:`guarded_helper` for vision helpers
    ==========================  ===========================================================

The guards consult the same tables as the static audit (:mod:`sandbox.surface`), so an attribute is
allowed by exactly one rule. Writes go only to arrays the checker made (writeable ones; frames are
read-only) and to lists, dicts and sets (which can only have been made during the call: module-level
constants are frozen at load time). Refusals raise :class:`~sandbox.errors.Denied` and budget
overruns :class:`~sandbox.errors.BudgetExceeded`, which checker code cannot catch.

**Integer semantics** (the JIT path, :mod:`sandbox.jit`, computes the same):

* Every Python integer a checker sees is within int64. ``+ - * // % ** <<``, unary ``-`` and ``~``
  and ``abs()`` of integers wrap to int64 two's complement as native code does:
  ``2**62 + 2**62 == -2**63``, ``INT64_MIN // -1 == INT64_MIN``, ``-INT64_MIN == abs(INT64_MIN) ==
  INT64_MIN``. ``x ** n`` (``n >= 0``) is computed modulo 2**64, never as a big integer; ``x << n``
  is 0 for ``n >= 64``. ``//`` and ``%`` keep Python's floor rules. A zero divisor raises
  ``ZeroDivisionError`` and a negative shift count ``ValueError``, as in Python.
* ``int / int`` is ``float(a) / float(b)``, and an int compared with a float by an operator,
  ``min`` or ``max`` is compared as ``float(int)`` (numba's promotion; ``sorted`` and ``in`` on a
  list, outside the JIT subset, still compare as Python does). ``float ** float`` follows C's
  ``pow`` (NaN for a negative base with a fractional exponent, inf on overflow and for
  ``0.0 ** -1``), where Python would return a complex number or raise.
* Integers coming out of numpy wrap too: a ``uint64`` pixel or ``frame.prod()`` (a wrapped uint64
  in numpy, a wrapped int64 natively: the same 64 bits), ``np.uint64(-1) == -1``. Pixels, array
  elements met by iteration and numpy scalar results are Python numbers.
* Conversions do not wrap, they raise: ``int()``, one-argument ``round()`` and
  ``math.floor/ceil/trunc`` of NaN raise ``ValueError``, of an infinity or of a float outside
  ``[-2**63, 2**63)`` ``OverflowError``.

**Allocation.** What a checker can make in one step is charged to the meter's byte budget before
(when the size follows from the operands) or right after it is made: array results of operators
and of ``in`` on arrays, numpy and vision-helper outputs (and the contiguous copies helpers take),
sequence repetition and concatenation, slices and ``.copy()`` of lists, tuples and strings, string
methods, set and dict operators, ``list(...)``, ``tuple(...)``, ``sorted(...)``, ``set(...)``,
``dict(...)``, ``list.extend``, ``+=`` on lists. Items added one per counted iteration (``append``,
comprehensions) are bounded by the iteration budget instead.
"""

from __future__ import annotations

import builtins
import math
import operator
import sys
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from types import MappingProxyType, MethodType
from typing import Any

import numpy as np
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from sandbox.budgets import INT_MAX, INT_MIN, Meter, wrap_int
from sandbox.errors import BudgetExceeded, Denied
from sandbox.facade import (
    REAL_TYPE,
    Facade,
    FacadeFunction,
    call_checked,
    python_number,
    real_type,
    strong_scalar,
)
from sandbox.surface import ATTRIBUTES, EXCEPTION_NAMES, IMPORTABLE

__all__ = [
    "ARRAY_ITER_CHUNK",
    "array_items",
    "classify",
    "counted",
    "freeze",
    "guarded_abs",
    "guarded_all",
    "guarded_any",
    "guarded_compare",
    "guarded_compare_chain",
    "guarded_dict",
    "guarded_divmod",
    "guarded_enter",
    "guarded_enumerate",
    "guarded_getattr",
    "guarded_getitem",
    "guarded_helper",
    "guarded_import",
    "guarded_inplacevar",
    "guarded_int",
    "guarded_isinstance",
    "guarded_iter",
    "guarded_list",
    "guarded_map",
    "guarded_max",
    "guarded_min",
    "guarded_range",
    "guarded_reversed",
    "guarded_round",
    "guarded_set",
    "guarded_sorted",
    "guarded_sum",
    "guarded_tick",
    "guarded_tuple",
    "guarded_unaryop",
    "guarded_write",
    "guarded_zip",
    "make_namespace",
    "refuse_apply",
]

_PLAIN_KINDS: dict[type, str] = {
    list: "list",
    dict: "dict",
    set: "set",
    tuple: "tuple",
    str: "str",
    float: "float",
    MappingProxyType: "mappingproxy",
    frozenset: "frozenset",
}

_ITERABLE_TYPES: frozenset[type] = frozenset(
    {
        list,
        tuple,
        dict,
        set,
        frozenset,
        str,
        range,
        np.ndarray,
        MappingProxyType,
        type(_ for _ in ()),
        type({}.keys()),
        type({}.values()),
        type({}.items()),
        zip,
        enumerate,
        reversed,
        type(iter([])),
        type(reversed([])),
    }
)

_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
    "<<": operator.lshift,
    ">>": operator.rshift,
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
}
_INPLACE: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
}
_COMPARE: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "is": operator.is_,
    "is not": operator.is_not,
}
_UNARY: dict[str, Callable[[Any], Any]] = {
    "-": operator.neg,
    "+": operator.pos,
    "~": operator.invert,
}
_SEQUENCES = (str, bytes, list, tuple)
_HASHED = (set, frozenset, dict)
#: Integer operators whose result is not just the exact result wrapped.
_INT_SPECIAL = frozenset({"**", "**=", "<<", "<<=", "/", "/="})
#: Methods that take iterables and consume them in C: they get counted items instead.
_CONSUMING_METHODS = frozenset(
    {"extend", "update", "union", "intersection", "difference", "issubset", "issuperset"}
)
_COPYING_METHODS = frozenset({"copy"})
_STRING_COPIES = frozenset({"lower", "upper", "strip"})
_MAX_ROUND_DIGITS = 30
_INT64_LIMIT = 2.0**63
#: 1-D arrays are iterated in copied chunks of this many elements (kernels copy alike)
ARRAY_ITER_CHUNK = _CHUNK = 1024
#: Bytes charged per element: a list or tuple slot, a set or dict entry (hash slot, key and value
#: references), and a Python number made from an array element (``tolist()``, iteration).
_SLOT_BYTES = 8
_HASHED_BYTES = 64
_NUMBER_BYTES = 32
_MISSING = object()


# -- classification and constants ---------------------------------------------------------------


def classify(obj: Any) -> str | None:
    """Return the allow-list category of ``obj`` or None when no attribute of it is allowed.

    Exact types only (no subclasses), so an ndarray subclass or a str subclass gets nothing.

    Example:
        >>> classify(np.zeros(2)), classify(np.float32(1)), classify([]), classify(len)
        ('ndarray', 'generic', 'list', None)
    """
    t = type(obj)
    if t is np.ndarray:
        return "ndarray"
    if isinstance(obj, np.generic):
        return "generic"
    if isinstance(obj, np.dtype):
        return "dtype"
    return _PLAIN_KINDS.get(t)


def freeze(value: Any) -> Any:
    """Make a module-level constant immutable: lists become tuples, dicts read-only mappings.

    Example:
        >>> freeze({"red": [255, 0, 0]})["red"]
        (255, 0, 0)
    """
    t = type(value)
    if t in (list, tuple):
        return tuple(freeze(v) for v in value)
    if t is dict:
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if t in (set, frozenset):
        return frozenset(value)
    return value


def _is_array(value: Any) -> bool:
    return type(value) is np.ndarray and value.ndim > 0


def _fancy_elements(obj: np.ndarray, key: Any) -> int:
    """Elements of ``obj[key]`` when ``key`` holds integer index arrays (0: no fancy indexing).

    The index arrays broadcast together; each replaces the axis it indexes, the other axes
    (slices, or the axes after the key) are kept whole: an upper bound for slices.
    """
    keys = key if type(key) is tuple else (key,)
    arrays = [k for k in keys if type(k) is np.ndarray and k.dtype.kind in "iu"]
    if not arrays:
        return 0
    try:
        index = math.prod(np.broadcast_shapes(*(k.shape for k in arrays)))
    except ValueError:
        return 0  # numpy raises its own clear error
    indexed = [i for i, k in enumerate(keys) if type(k) is np.ndarray and k.dtype.kind in "iu"]
    kept = [d for i, d in enumerate(obj.shape) if i not in indexed]
    return int(index * math.prod(kept))


def _nested_len(value: Any) -> int:
    """Elements a nested list/tuple would become as an array (follows the first element)."""
    n = 1
    depth = 0
    while type(value) in (list, tuple) and depth < 32:
        if not value:
            return 0
        n *= len(value)
        value = value[0]
        depth += 1
    return n


def _sequence_bytes(value: Any) -> int:
    """Bytes one item of a list, tuple, str or bytes takes (1 or 4 for str)."""
    t = type(value)
    if t is str:
        return 1 if value.isascii() else 4
    if t is bytes:
        return 1
    return _SLOT_BYTES


# -- iteration ----------------------------------------------------------------------------------


def counted(meter: Meter, iterable: Iterable[Any]) -> Iterator[Any]:
    """Yield the items of ``iterable``, counting each against the iteration budget.

    Raises:
        BudgetExceeded: when the iteration or time budget is spent.

    Example:
        >>> from sandbox.budgets import Budgets
        >>> list(counted(Meter(Budgets(max_iterations=3)), "abc"))
        ['a', 'b', 'c']
    """
    limit = meter.budgets.max_iterations
    for item in iterable:
        meter.iterations += 1
        if meter.iterations > limit:
            raise BudgetExceeded("iterations", limit)
        if not meter.iterations & 255:
            meter.checkpoint()
        yield item


def array_items(meter: Meter, array: np.ndarray) -> Iterator[Any]:
    """Iterate an array as checker code sees it: counted, elements as Python numbers.

    A 1-D array yields Python ints, floats and bools (``uint64`` wrapped to int64, like a pixel
    read with ``a[i]``); a deeper array yields its sub-arrays (views: read-only when the array is).

    Raises:
        TypeError: for a 0-d array (as numpy does).
        BudgetExceeded: when the iteration or time budget is spent.

    Example:
        >>> from sandbox.budgets import Budgets
        >>> list(array_items(Meter(Budgets()), np.array([250, 5], np.uint8)))
        [250, 5]
    """
    if array.ndim == 0:
        raise TypeError("iteration over a 0-d array")
    if array.ndim > 1:
        return counted(meter, array)
    if array.dtype == np.uint64:
        array = array.view(np.int64)
    return counted(meter, _numbers(array))


def _numbers(array: np.ndarray) -> Iterator[Any]:
    for start in range(0, array.shape[0], _CHUNK):
        yield from array[start : start + _CHUNK].tolist()


def guarded_iter(meter: Meter, obj: Any) -> Iterator[Any]:
    """``_getiter_``: iterate an allowed container, counted (arrays through :func:`array_items`).

    Raises:
        Denied: for objects that are not containers a checker may walk.
    """
    t = type(obj)
    if t is np.ndarray:
        return array_items(meter, obj)
    if t not in _ITERABLE_TYPES:
        raise Denied(
            f"iterating over {t.__name__} is not allowed; iterate over lists, tuples, dicts, sets, "
            "strings, ranges and arrays"
        )
    return counted(meter, obj)


def _items(meter: Meter, where: str, obj: Any) -> Iterator[Any]:
    """The counted items a guarded builtin or method consumes (with ``where`` in refusals)."""
    t = type(obj)
    if t is np.ndarray:
        return array_items(meter, obj)
    if t not in _ITERABLE_TYPES:
        raise Denied(f"{where}() cannot iterate over {t.__name__}")
    return counted(meter, obj)


def _element_bytes(source: Any, per_slot: int) -> int:
    """Bytes charged per element built from ``source`` (array elements become new numbers)."""
    return per_slot + (_NUMBER_BYTES if type(source) is np.ndarray else 0)


# -- hooks ----------------------------------------------------------------------------------------


def guarded_getattr(meter: Meter, obj: Any, name: str) -> Any:
    """``_getattr_``: an attribute on its type's allow-list; methods that allocate are charged.

    Facades answer from their tables; array methods run through
    :func:`~sandbox.facade.call_checked`; list, set and dict methods that consume iterables get
    counted items; copies and string methods are charged.

    Raises:
        Denied: for underscore names and attributes outside the allow-lists.
    """
    if type(name) is not str or name.startswith("_"):
        raise Denied(f"attribute {name!r} is not allowed")
    if type(obj) is Facade or type(obj) is FacadeFunction:
        return obj.lookup(name)
    kind = classify(obj)
    if kind is None or name not in ATTRIBUTES[kind]:
        raise Denied(
            f"attribute {name!r} of {kind or type(obj).__name__} is not available to checkers"
        )
    if kind in ("ndarray", "generic"):
        if name == "tolist" and obj.dtype == np.uint64:
            obj = obj.view(np.int64)  # the same bits as int64: wrapped, like every integer
        value = getattr(obj, name)
        if not callable(value):
            return python_number(value)
        if name == "tolist":
            meter.allocate(int(np.size(obj)) * _NUMBER_BYTES)
        return partial(_array_method, meter, f"ndarray.{name}", value)
    value = getattr(obj, name)
    if name in _CONSUMING_METHODS and kind in ("list", "set", "dict", "frozenset"):
        return partial(_consuming_method, meter, obj, name, value)
    if name in _COPYING_METHODS:
        per = _SLOT_BYTES if kind == "list" else _HASHED_BYTES
        return partial(_charged_call, meter, len(obj) * per, value)
    if kind == "str" and name in _STRING_COPIES:
        return partial(_charged_call, meter, len(obj) * _sequence_bytes(obj), value)
    return value


def _array_method(
    meter: Meter, label: str, method: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Any:
    return call_checked(label, method, meter, args, kwargs)


def _charged_call(meter: Meter, nbytes: int, method: Callable[..., Any], *args: Any) -> Any:
    meter.charge(nbytes)
    return method(*args)


def _consuming_method(
    meter: Meter, container: Any, name: str, method: Callable[..., Any], *args: Any, **kwargs: Any
) -> Any:
    """``list.extend``, ``set.update``, ``dict.update``, ``set.union`` ...: counted, bounded."""
    where = f"{type(container).__name__}.{name}"
    extra = 0
    checked = []
    charged = 0
    for arg in args:
        source = arg.items() if type(arg) in (dict, MappingProxyType) else arg
        items = builtins.list(_items(meter, where, source))
        extra += len(items)
        charged += len(items) * _element_bytes(source, _SLOT_BYTES)
        checked.append(items)
    meter.sequence(len(container) + extra + len(kwargs))
    meter.charge(charged)  # the items, and the slots a list grows by
    before = len(container)
    result = method(*checked, **kwargs)
    if type(result) in _HASHED:
        meter.charge(len(result) * _HASHED_BYTES)  # a new set (union, intersection, difference)
    elif type(container) is not list:
        meter.charge(max(0, len(container) - before) * _HASHED_BYTES)
    return result


def guarded_getitem(meter: Meter, obj: Any, key: Any) -> Any:
    """``_getitem_``: index arrays (integer or bool index arrays only), lists, strings, dicts.

    Fancy-index results and slices of lists, tuples and strings are copies: charged. A single
    array element is a Python number (``uint64`` wrapped to int64).

    Raises:
        Denied: for float index arrays and for containers checkers may not index.
    """
    t = type(obj)
    if t is np.ndarray or isinstance(obj, np.generic):
        tk = type(key)
        if tk is np.ndarray and key.dtype.kind not in "biu":
            raise Denied(f"indexing with an array of dtype {key.dtype}")
        if tk is tuple and np.ndarray in map(type, key):
            for k in key:
                if type(k) is np.ndarray and k.dtype.kind not in "biu":
                    raise Denied(f"indexing with an array of dtype {k.dtype}")
        fancy = _fancy_elements(obj, key) if t is np.ndarray else 0
        if fancy:
            meter.allocate(fancy * obj.itemsize)  # before numpy allocates the copy
        result = obj[key]
        if type(result) is np.ndarray:
            # A copy (fancy indexing) is charged, whatever its .base says: numpy can hand a
            # fresh buffer back as a view of it (frame[:, idx]).
            if not fancy and not np.may_share_memory(result, obj):
                meter.allocate(result.nbytes)
            return result
        # One pixel is a Python number: 200 + 200 is 400, as in the JIT path, not 144.
        item = result.item()
        if type(item) is int and not INT_MIN <= item <= INT_MAX:
            return wrap_int(item)  # a uint64 element
        return item
    if t in (list, tuple, str):
        result = obj[key]
        if type(key) is slice:
            meter.charge(len(result) * _sequence_bytes(obj))
        return result
    if t in (dict, range, MappingProxyType):
        return obj[key]
    raise Denied(f"indexing into {t.__name__} is not allowed")


def guarded_write(obj: Any) -> Any:
    """``_write_``: the container of an item assignment must be one the checker made.

    Raises:
        Denied: for read-only arrays (frames), tuples, strings and frozen module constants.
    """
    t = type(obj)
    if t is np.ndarray:
        if not obj.flags.writeable:
            raise Denied(
                "frames are read-only; make a copy to modify it (frame.copy() or "
                "frame.astype(np.int16))"
            )
        return obj
    if t in (list, dict, set):
        return obj
    raise Denied(f"writing into {t.__name__} is not allowed (module constants are frozen)")


def _charge_operands(meter: Meter, a: Any, b: Any) -> tuple[Any, Any, bool]:
    """Before an elementwise operation with an array: charge list operands and broadcast outputs.

    Returns the operands (lists converted to arrays) and whether the output was charged already.

    Raises:
        Denied: for non-numeric arrays.
    """
    ta, tb = type(a), type(b)
    if ta is np.ndarray and tb in (list, tuple, range):
        meter.allocate((len(b) if tb is range else _nested_len(b)) * 8)
        b, tb = np.asarray(b), np.ndarray
    elif tb is np.ndarray and ta in (list, tuple, range):
        meter.allocate((len(a) if ta is range else _nested_len(a)) * 8)
        a, ta = np.asarray(a), np.ndarray
    if ta is np.ndarray and tb is np.ndarray:
        if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
            raise Denied("arrays must be numeric")
        if a.shape != b.shape:
            try:
                out = np.broadcast_shapes(a.shape, b.shape)
            except ValueError:
                return a, b, False  # numpy raises its own clear error
            meter.allocate(math.prod(out) * max(a.itemsize, b.itemsize))
            return a, b, True
    return a, b, False


def _charge_result(meter: Meter, result: Any, *, charged: bool = False, inplace: Any = None) -> Any:
    """An operator's result as checker code gets it: arrays charged, numpy scalars as numbers."""
    if type(result) is np.ndarray:
        if not charged and result is not inplace:
            meter.allocate(result.nbytes)
        return result
    return python_number(result)


def _int_arithmetic(op: str, fn: Callable[[Any, Any], Any], a: int, b: int) -> Any:
    """Two integers (bools included): int64 two's complement, never a big-integer computation."""
    if op not in _INT_SPECIAL:
        result = fn(a, b)  # bool & bool stays a bool
        return result if INT_MIN <= result <= INT_MAX else wrap_int(result)
    base = op[:-1] if op.endswith("=") else op
    if base == "**":
        if b < 0:
            return fn(a, b)  # a float (or ZeroDivisionError), as in Python
        return wrap_int(pow(a, b, 2**64))
    if base == "<<":
        if b < 0:
            raise ValueError("negative shift count")
        return 0 if b >= 64 else wrap_int(a << b)
    return float(a) / float(b)


def _float_pow(a: Any, b: Any) -> float:
    """``a ** b`` with a float involved, as C's ``pow`` computes it (NaN and inf, not errors)."""
    try:
        result = a**b
    except (OverflowError, ZeroDivisionError):
        result = None
    if type(result) is float:
        return result
    with np.errstate(all="ignore"):
        return float(np.power(np.float64(a), np.float64(b)))


def _arithmetic(meter: Meter, op: str, fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is np.ndarray or tb is np.ndarray:
        a, b, charged = _charge_operands(meter, a, b)
        inplace = op.endswith("=")
        if not inplace:  # in place, the array keeps its dtype either way
            a, b = strong_scalar(a), strong_scalar(b)
        return _charge_result(meter, fn(a, b), charged=charged, inplace=a if inplace else None)
    if (ta is int or ta is bool) and (tb is int or tb is bool):
        return _int_arithmetic(op, fn, a, b)
    if op in ("**", "**=") and ta in (int, bool, float) and tb in (int, bool, float):
        return _float_pow(a, b)
    if op in ("%", "%=") and ta in (str, bytes):
        raise Denied("string formatting with % is not allowed")
    before = len(a) if ta in _HASHED else 0
    if op in ("*", "*=") and (ta in _SEQUENCES or tb in _SEQUENCES):
        seq, times = (a, b) if ta in _SEQUENCES else (b, a)
        if isinstance(times, int | np.integer):
            n = len(seq) * max(0, operator.index(times))
            meter.sequence(n)
            meter.charge(n * _sequence_bytes(seq))
    elif op in ("+", "+=") and ta in _SEQUENCES and tb in _SEQUENCES:
        meter.sequence(len(a) + len(b))
        meter.charge((len(a) + len(b)) * _sequence_bytes(a))
    result = fn(a, b)
    t = type(result)
    if t is int:
        return wrap_int(result)
    if t in _HASHED:
        grown = len(result) - before if result is a else len(result)
        meter.charge(max(0, grown) * _HASHED_BYTES)
        return result
    return python_number(result)


def guarded_binop(meter: Meter, op: str, a: Any, b: Any) -> Any:
    """``_binop_``: ``a op b`` with the integer semantics above and charged results.

    Raises:
        Denied: for ``%`` string formatting and non-numeric arrays.
        BudgetExceeded: when a result would exceed the sequence or byte budgets.

    Example:
        >>> from sandbox.budgets import Budgets
        >>> guarded_binop(Meter(Budgets()), "+", 2**62, 2**62)
        -9223372036854775808
    """
    ta, tb = type(a), type(b)
    if (ta is int or ta is bool) and (tb is int or tb is bool):
        return _int_arithmetic(op, _BINARY[op], a, b)
    return _arithmetic(meter, op, _BINARY[op], a, b)


def guarded_inplacevar(meter: Meter, op: str, a: Any, b: Any) -> Any:
    """``_inplacevar_``: ``a op= b``; ``list += iterable`` extends with counted, charged items.

    On arrays it is not in place: ``a`` is rebound to ``a op b`` (the JIT path's semantics).

    Raises:
        Denied: for operators outside the table, and as :func:`guarded_binop`.
    """
    if op not in _INPLACE:
        raise Denied(f"operator {op} is not allowed")
    ta, tb = type(a), type(b)
    if (ta is int or ta is bool) and (tb is int or tb is bool):
        return _int_arithmetic(op, _INPLACE[op], a, b)
    if ta is np.ndarray:
        # Arrays: `a op= b` rebinds `a` to `a op b`, exactly as the JIT path computes it (its
        # rebuilt tree writes `a = a op b`, with Python numbers as int64/float64): `h = g;
        # g += 1` leaves `h` as it was, and `uint8 += 100` gives int64, on both paths.
        return _arithmetic(meter, op[:-1], _BINARY[op[:-1]], a, b)
    if op == "+=" and ta is list:
        items = builtins.list(_items(meter, "list +=", b))
        meter.sequence(len(a) + len(items))
        meter.charge(len(items) * _element_bytes(b, _SLOT_BYTES))
        a.extend(items)
        return a
    return _arithmetic(meter, op, _INPLACE[op], a, b)


def guarded_unaryop(meter: Meter, op: str, value: Any) -> Any:
    """``_unaryop_``: ``-x``, ``+x``, ``~x``; integers wrap (``-INT64_MIN == INT64_MIN``).

    Example:
        >>> from sandbox.budgets import Budgets
        >>> guarded_unaryop(Meter(Budgets()), "-", -(2**63))
        -9223372036854775808
    """
    t = type(value)
    if t is int or t is bool:
        result = _UNARY[op](value)
        return result if INT_MIN <= result <= INT_MAX else wrap_int(result)
    return _charge_result(meter, _UNARY[op](value))


def _contains(meter: Meter, container: Any, item: Any) -> bool:
    """``item in container`` with the work and memory it takes charged."""
    t = type(container)
    if t is np.ndarray:
        # numpy answers with (container == item).any(): a broadcast bool array first.
        if type(item) in (list, tuple):
            meter.allocate(_nested_len(item) * 8)
            item = np.asarray(item)
        shape = item.shape if type(item) is np.ndarray else ()
        try:
            out = np.broadcast_shapes(container.shape, shape)
        except ValueError:
            out = ()
        meter.allocate(math.prod(out))
        return bool(operator.contains(container, strong_scalar(item)))
    if t is range:
        ti = type(item)
        if ti is int or ti is bool:
            return item in container
        if ti is float:  # Python would compare every element, in C
            return item.is_integer() and int(item) in container
        return any(bool(guarded_compare(meter, "==", v, item)) for v in counted(meter, container))
    return item in container


def guarded_compare(meter: Meter, op: str, a: Any, b: Any) -> Any:
    """``_compare_``: ``a op b``; array results charged, ``in`` on arrays and ranges bounded.

    An int compared with a float is compared as ``float(int)``, as native code does.

    Example:
        >>> from sandbox.budgets import Budgets
        >>> guarded_compare(Meter(Budgets()), "==", 2**53 + 1, 2.0**53)
        True
    """
    fn = _COMPARE.get(op)
    if fn is None:
        if op == "in":
            return _contains(meter, b, a)
        if op == "not in":
            return not _contains(meter, b, a)
        raise Denied(f"comparison {op!r} is not allowed")
    ta, tb = type(a), type(b)
    if ta is tb and ta is not np.ndarray:
        return fn(a, b)  # nothing to convert or charge
    if ta is np.ndarray or tb is np.ndarray:
        a, b, charged = _charge_operands(meter, a, b)
        return _charge_result(meter, fn(strong_scalar(a), strong_scalar(b)), charged=charged)
    if ta is float and (tb is int or tb is bool):
        b = float(b)
    elif tb is float and (ta is int or ta is bool):
        a = float(a)
    return fn(a, b)


def guarded_compare_chain(
    meter: Meter, ops: tuple[str, ...], left: Any, right: Any, *later: Callable[[], Any]
) -> Any:
    """``_compare_chain_``: ``a < b < c`` pair by pair; ``later`` operands are called when needed.

    Example:
        >>> from sandbox.budgets import Budgets
        >>> guarded_compare_chain(Meter(Budgets()), ("<", "<"), 0, 5, lambda: 10)
        True
    """
    result = guarded_compare(meter, ops[0], left, right)
    for op, operand in zip(ops[1:], later, strict=True):
        if not result:
            return result
        left, right = right, operand()
        result = guarded_compare(meter, op, left, right)
    return result


def guarded_tick(meter: Meter) -> None:
    """``_tick_``: count one ``while`` iteration."""
    meter.iterate()


def guarded_enter(meter: Meter) -> None:
    """``_enter_``: count one call of a checker-defined function or lambda."""
    meter.call()


def refuse_apply(*args: Any, **kwargs: Any) -> Any:
    """``_apply_``: calls with ``*args``/``**kwargs`` (refused by the audit too).

    Raises:
        Denied: always.
    """
    raise Denied("calls with *args/**kwargs are not allowed")


def guarded_import(
    np_facade: Facade,
    math_facade: Facade,
    name: str,
    globals_: Any = None,
    locals_: Any = None,
    fromlist: Any = (),
    level: int = 0,
) -> Facade:
    """``__import__``: ``numpy`` and ``math`` bind their facades; nothing else imports.

    Raises:
        Denied: for any other module and for relative imports.
    """
    if level != 0 or name not in IMPORTABLE:
        if _numpy_internal(name, fromlist):
            return sys.modules[name]  # type: ignore[return-value]
        raise Denied(f"import of {name!r} is not allowed")
    return np_facade if name == "numpy" else math_facade


def _numpy_internal(name: str, fromlist: Any) -> bool:
    """Whether this is numpy's C code importing one of its own, already loaded, modules.

    C code imports with ``PyImport_ImportModule``, which calls the ``__import__`` of the running
    frame's builtins, the checker's, with an empty *list* as ``fromlist`` (formatting an
    ``OverflowError`` imports ``numpy._core._dtype``, for one). A checker's import statements
    pass ``None`` or a tuple (and the audit refuses every import but ``numpy`` and ``math``); the
    module goes back to numpy's C code, not to the checker, and nothing new is imported.
    """
    return (
        type(fromlist) is list
        and not fromlist
        and name.startswith("numpy.")
        and name in sys.modules
    )


class _DiscardPrint:
    """What RestrictedPython's ``print`` rewriting calls: a checker's prints go nowhere."""

    def __init__(self, _getattr_: Any = None) -> None:
        pass

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        return None

    def __call__(self) -> str:
        return ""


# -- guarded builtins -----------------------------------------------------------------------------


def guarded_sum(meter: Meter, iterable: Any, /, start: Any = 0) -> Any:
    """``sum()``: counted items added with :func:`guarded_binop` (wrapping, charged).

    Raises:
        Denied: for a non-numeric ``start`` (join lists with ``list.extend``) or a non-container.
    """
    if not isinstance(start, int | float | np.number) or isinstance(start, bool):
        raise Denied("sum() takes a numeric start value; join lists with list.extend")
    total = python_number(start)
    for item in _items(meter, "sum", iterable):
        total = _arithmetic(meter, "+", operator.add, total, item)
    return total


def _extreme(
    meter: Meter, name: str, op: str, args: tuple[Any, ...], key: Any, default: Any
) -> Any:
    if not args:
        raise TypeError(f"{name} expected at least 1 argument, got 0")
    if len(args) > 1 and default is not _MISSING:
        raise TypeError(f"Cannot specify a default for {name}() with multiple positional arguments")
    items = _items(meter, name, args[0]) if len(args) == 1 else iter(args)
    best = best_key = _MISSING
    for item in items:
        k = item if key is None else key(item)
        if best is _MISSING or guarded_compare(meter, op, k, best_key):
            best, best_key = item, k
    if best is _MISSING:
        if default is _MISSING:
            raise ValueError(f"{name}() arg is an empty sequence")
        return default
    return best


def guarded_max(meter: Meter, /, *args: Any, key: Any = None, default: Any = _MISSING) -> Any:
    """``max()``: counted, every comparison through :func:`guarded_compare`."""
    return _extreme(meter, "max", ">", args, key, default)


def guarded_min(meter: Meter, /, *args: Any, key: Any = None, default: Any = _MISSING) -> Any:
    """``min()``: counted, every comparison through :func:`guarded_compare`."""
    return _extreme(meter, "min", "<", args, key, default)


def guarded_any(meter: Meter, iterable: Any, /) -> bool:
    """``any()`` over counted items."""
    return builtins.any(_items(meter, "any", iterable))


def guarded_all(meter: Meter, iterable: Any, /) -> bool:
    """``all()`` over counted items."""
    return builtins.all(_items(meter, "all", iterable))


def guarded_sorted(
    meter: Meter, iterable: Any, /, *, key: Any = None, reverse: bool = False
) -> Any:
    """``sorted()`` of counted items; the new list is charged."""
    out = builtins.sorted(_items(meter, "sorted", iterable), key=key, reverse=reverse)
    meter.charge(len(out) * _element_bytes(iterable, _SLOT_BYTES))
    return out


def guarded_list(meter: Meter, iterable: Any = (), /) -> list[Any]:
    """``list()`` of counted items; the new list is charged."""
    out = builtins.list(_items(meter, "list", iterable))
    meter.charge(len(out) * _element_bytes(iterable, _SLOT_BYTES))
    return out


def guarded_tuple(meter: Meter, iterable: Any = (), /) -> tuple[Any, ...]:
    """``tuple()`` of counted items; the new tuple is charged."""
    out = builtins.tuple(_items(meter, "tuple", iterable))
    meter.charge(len(out) * _element_bytes(iterable, _SLOT_BYTES))
    return out


def guarded_set(meter: Meter, iterable: Any = (), /) -> set[Any]:
    """``set()`` of counted items; the new set is charged."""
    out = builtins.set(_items(meter, "set", iterable))
    meter.charge(len(out) * _element_bytes(iterable, _HASHED_BYTES))
    return out


def guarded_dict(meter: Meter, iterable: Any = (), /, **kwargs: Any) -> dict[Any, Any]:
    """``dict()`` of counted pairs (or of a mapping's items); the new dict is charged."""
    if type(iterable) in (dict, MappingProxyType):
        iterable = iterable.items()
    out = builtins.dict(_items(meter, "dict", iterable), **kwargs)
    meter.charge(len(out) * _HASHED_BYTES)
    return out


def guarded_zip(
    meter: Meter, /, *iterables: Any, strict: bool = False
) -> Iterator[tuple[Any, ...]]:
    """``zip()`` of counted items."""
    return builtins.zip(*(_items(meter, "zip", i) for i in iterables), strict=bool(strict))


def guarded_enumerate(meter: Meter, iterable: Any, /, start: Any = 0) -> Iterator[tuple[int, Any]]:
    """``enumerate()`` of counted items; the index is an int64 that wraps like every integer.

    Raises:
        Denied: for a start that is not an integer.
    """
    if not isinstance(start, int | np.integer) or isinstance(start, bool):
        raise Denied(f"enumerate() takes an integer start, got {type(start).__name__}")
    start = wrap_int(int(start))
    items = _items(meter, "enumerate", iterable)
    if start <= INT_MAX - meter.budgets.max_iterations:
        return builtins.enumerate(items, start)
    return _wrapping_enumerate(items, start)


def _wrapping_enumerate(items: Iterator[Any], index: int) -> Iterator[tuple[int, Any]]:
    for item in items:
        yield index, item
        index = index + 1 if index != INT_MAX else INT_MIN


def guarded_reversed(meter: Meter, seq: Any, /) -> Iterator[Any]:
    """``reversed()``, counted (an array through :func:`array_items` of a reversed view)."""
    if _is_array(seq):
        return array_items(meter, seq[::-1])
    return counted(meter, builtins.reversed(seq))


def guarded_map(meter: Meter, function: Any, /, *iterables: Any) -> Iterator[Any]:
    """``map()``: ``function`` called on counted items (its own calls are guarded as usual).

    Raises:
        TypeError: without an iterable, as Python does.
    """
    if not iterables:
        raise TypeError("map() must have at least two arguments.")
    sources = [_items(meter, "map", i) for i in iterables]
    return (function(*args) for args in builtins.zip(*sources, strict=False))


def _float_to_int(fn: str, value: float, rounded: Any) -> int:
    """A float converted to an int, refused where the JIT path's twin refuses it.

    NaN and infinity are refused as Python refuses them, and so is a float outside the 64-bit
    range (OverflowError).
    """
    if math.isnan(value):
        raise ValueError("cannot convert float NaN to integer")
    if math.isinf(value):
        raise OverflowError("cannot convert float infinity to integer")
    result = rounded(value)
    if not -_INT64_LIMIT <= result < _INT64_LIMIT:
        raise OverflowError(f"{fn}() of a float outside the 64-bit range")
    return builtins.int(result)


def guarded_int(x: Any = 0, /) -> int:
    """``int(x)``: ints as they are; floats truncated, refused outside 64 bits.

    Raises:
        ValueError: for NaN (and unparsable strings).
        OverflowError: for infinities and values outside ``[-2**63, 2**63)``.
    """
    if type(x) is np.ndarray:
        if x.size != 1:
            raise TypeError("only length-1 arrays can be converted to Python scalars")
        x = python_number(x.reshape(-1)[0])
    else:
        x = python_number(x)
    if type(x) is float:
        return _float_to_int("int", x, math.trunc)
    result = builtins.int(x)
    if not INT_MIN <= result <= INT_MAX:
        raise OverflowError("int() of a value outside the 64-bit range")
    return result


def guarded_round(meter: Meter, x: Any, /, ndigits: Any = None) -> Any:
    """``round(x[, ndigits])``; ``round(float)`` is refused outside 64 bits like ``int()``.

    Raises:
        Denied: for ``ndigits`` outside -30..30.
        ValueError, OverflowError: as :func:`guarded_int` for one-argument ``round`` of a float.
    """
    if ndigits is not None and not (
        -_MAX_ROUND_DIGITS <= operator.index(ndigits) <= _MAX_ROUND_DIGITS
    ):
        raise Denied(f"round() takes ndigits in -{_MAX_ROUND_DIGITS}..{_MAX_ROUND_DIGITS}")
    x = python_number(x)
    if ndigits is None and type(x) is float:
        return _float_to_int("round", x, builtins.round)
    result = builtins.round(x, ndigits)
    if type(result) is int:
        return wrap_int(result)
    return _charge_result(meter, result)


def guarded_abs(meter: Meter, x: Any, /) -> Any:
    """``abs(x)``: integers wrap (``abs(INT64_MIN) == INT64_MIN``); arrays are charged."""
    t = type(x)
    if t is int or t is bool:
        return wrap_int(builtins.abs(x))
    return _charge_result(meter, builtins.abs(x))


def guarded_divmod(meter: Meter, a: Any, b: Any, /) -> tuple[Any, Any]:
    """``divmod(a, b)`` as ``(a // b, a % b)`` through :func:`guarded_binop`."""
    return guarded_binop(meter, "//", a, b), guarded_binop(meter, "%", a, b)


def guarded_range(*args: Any) -> range:
    """``range()`` of integers (Python or numpy).

    Raises:
        Denied: for non-integer arguments.
    """
    for a in args:
        if not isinstance(a, int | np.integer) or isinstance(a, bool):
            raise Denied(f"range() takes integers, got {type(a).__name__}")
    return builtins.range(*(builtins.int(a) for a in args))


def guarded_isinstance(obj: Any, types: Any, /) -> bool:
    """``isinstance`` with guarded builtins and facade types mapped to the types they stand for.

    Raises:
        Denied: when ``types`` is not a type or a tuple of types.
    """
    kinds = tuple(real_type(t) for t in types) if type(types) is tuple else real_type(types)
    if not all(isinstance(k, type) for k in (kinds if type(kinds) is tuple else (kinds,))):
        raise Denied("isinstance() takes a type or a tuple of types")
    return builtins.isinstance(obj, kinds)


def guarded_helper(meter: Meter, helper: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
    """A vision helper: the contiguous copy it takes of a strided array and its output charged."""
    for value in (*args, *kwargs.values()):
        if type(value) is np.ndarray and not value.flags.c_contiguous:
            meter.allocate(value.nbytes)
    result = helper(*args, **kwargs)
    if type(result) is tuple:
        for item in result:
            if type(item) is np.ndarray:
                meter.allocate(item.nbytes)
        return result
    return _charge_result(meter, result)


for _guard, _real in (
    (guarded_int, int),
    (guarded_list, list),
    (guarded_tuple, tuple),
    (guarded_set, set),
    (guarded_dict, dict),
):
    setattr(_guard, REAL_TYPE, _real)
del _guard, _real


def make_namespace(
    meter: Meter, np_facade: Facade, math_facade: Facade, helpers: dict[str, Any]
) -> dict[str, Any]:
    """Build the globals dict for one checker module.

    Args:
        meter: the checker's budget meter (guards count into it).
        np_facade: what ``import numpy as np`` binds.
        math_facade: what ``import math`` binds.
        helpers: the vision helpers, bound as builtins (charged through :func:`guarded_helper`).

    Returns:
        A fresh dict, to be used as the checker module's globals (never shared between checkers).
    """

    def bound(guard: Callable[..., Any]) -> Callable[..., Any]:
        # A bound method: as fast to call as a closure; it forwards REAL_TYPE to the function.
        return MethodType(guard, meter)

    safe_builtins: dict[str, Any] = {
        "abs": bound(guarded_abs),
        "all": bound(guarded_all),
        "any": bound(guarded_any),
        "bool": builtins.bool,
        "dict": bound(guarded_dict),
        "divmod": bound(guarded_divmod),
        "enumerate": bound(guarded_enumerate),
        "float": builtins.float,
        "int": guarded_int,
        "isinstance": guarded_isinstance,
        "len": builtins.len,
        "list": bound(guarded_list),
        "map": bound(guarded_map),
        "max": bound(guarded_max),
        "min": bound(guarded_min),
        "range": guarded_range,
        "reversed": bound(guarded_reversed),
        "round": bound(guarded_round),
        "set": bound(guarded_set),
        "slice": builtins.slice,
        "sorted": bound(guarded_sorted),
        "sum": bound(guarded_sum),
        "tuple": bound(guarded_tuple),
        "zip": bound(guarded_zip),
        "__import__": partial(guarded_import, np_facade, math_facade),
    }
    safe_builtins.update({name: getattr(builtins, name) for name in EXCEPTION_NAMES})
    safe_builtins.update({name: partial(guarded_helper, meter, fn) for name, fn in helpers.items()})

    return {
        "__builtins__": safe_builtins,
        "__name__": "checker",
        "_getattr_": bound(guarded_getattr),
        "_getitem_": bound(guarded_getitem),
        "_getiter_": bound(guarded_iter),
        "_write_": guarded_write,
        "_inplacevar_": bound(guarded_inplacevar),
        "_binop_": bound(guarded_binop),
        "_unaryop_": bound(guarded_unaryop),
        "_compare_": bound(guarded_compare),
        "_compare_chain_": bound(guarded_compare_chain),
        "_tick_": bound(guarded_tick),
        "_enter_": bound(guarded_enter),
        "_freeze_": freeze,
        "_print_": _DiscardPrint,
        "_apply_": refuse_apply,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    }
