"""L2 run-time guards: the functions RestrictedPython's rewritten code calls, and guarded builtins.

Provides:
    make_namespace: the globals for one checker module: ``__builtins__`` (guarded builtins, the
        allowed exception classes, the vision helpers and a controlled ``__import__``) and the guard
        hooks ``_getattr_``, ``_getitem_``, ``_getiter_``, ``_write_``, ``_inplacevar_``,
        ``_binop_``, ``_compare_``, ``_tick_``, ``_enter_``, ``_freeze_``, ``_print_``,
        ``_unpack_sequence_`` and ``_iter_unpack_sequence_``.
    classify: the allow-list category of an object (``ndarray``, ``generic``, ``dtype``, ``list``...).

The guards consult the same tables as the static audit (:mod:`sandbox.surface`), so an attribute is
allowed by exactly one rule. Writes go only to arrays the checker made (writeable ones; frames are
read-only) and to lists, dicts and sets (which can only have been made during the call: module-level
constants are frozen at load time). Every iteration is counted, integers stay within 64 bits, and
refusals raise :class:`~sandbox.errors.Denied`, which checker code cannot catch.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable, Iterable, Iterator
from types import MappingProxyType
from typing import Any

import numpy as np
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from sandbox.budgets import Meter, check_int
from sandbox.errors import BudgetExceeded, Denied
from sandbox.facade import REAL_TYPE, Facade, call_checked, real_type
from sandbox.surface import ATTRIBUTES, EXCEPTION_NAMES, IMPORTABLE

__all__ = ["classify", "freeze", "make_namespace"]

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
}
_SEQUENCES = (str, bytes, list, tuple)
_GROWING_METHODS = frozenset({"extend", "update", "union", "intersection", "difference"})
_MAX_ROUND_DIGITS = 30
_TOLIST_BYTES_PER_ITEM = 32  # a Python int/float object plus its list slot


def _strong(value: Any) -> Any:
    """A Python number next to an array, typed as the JIT path types it (int64 / float64).

    numpy 2 treats Python scalars as "weak" (``uint8_array + 100`` stays uint8 and wraps); numba
    types them as int64 / float64, so the result is int64 (355, not 99). Making them strong here
    makes both paths compute the same thing.
    """
    t = type(value)
    if t is int:
        return np.int64(value)
    if t is float:
        return np.float64(value)
    return value


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


def _is_array(value: Any) -> bool:
    return type(value) is np.ndarray and value.ndim > 0


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


class _DiscardPrint:
    """What RestrictedPython's ``print`` rewriting calls: a checker's prints go nowhere."""

    def __init__(self, _getattr_: Any = None) -> None:
        pass

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        return None

    def __call__(self) -> str:
        return ""


def make_namespace(
    meter: Meter, np_facade: Facade, math_facade: Facade, helpers: dict[str, Any]
) -> dict[str, Any]:
    """Build the globals dict for one checker module.

    Args:
        meter: the checker's budget meter (guards count into it).
        np_facade: what ``import numpy as np`` binds.
        math_facade: what ``import math`` binds.
        helpers: the vision helpers, bound as builtins.

    Returns:
        A fresh dict, to be used as the checker module's globals (never shared between checkers).
    """
    max_iterations = meter.budgets.max_iterations

    def counted(iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            meter.iterations += 1
            if meter.iterations > max_iterations:
                raise BudgetExceeded("iterations", max_iterations)
            if not meter.iterations & 255:
                meter.checkpoint()
            yield item

    def getiter(obj: Any) -> Iterator[Any]:
        if type(obj) not in _ITERABLE_TYPES:
            raise Denied(f"iterating over {type(obj).__name__} is not allowed")
        return counted(obj)

    def consume(fn_name: str, obj: Any) -> Iterator[Any]:
        if _is_array(obj):
            raise Denied(
                f"{fn_name}() does not take numpy arrays (it would loop over them element by "
                f"element in C, outside the budgets); convert first with arr.tolist(), or use the "
                "numpy function (np.sum, np.max, np.sort, np.nonzero, ...)"
            )
        return getiter(obj)

    def getattr_(obj: Any, name: str, *default: Any) -> Any:
        if type(name) is not str or name.startswith("_"):
            raise Denied(f"attribute {name!r} is not allowed")
        if type(obj) is Facade:
            return obj.lookup(name)
        kind = classify(obj)
        if kind is None or name not in ATTRIBUTES[kind]:
            raise Denied(
                f"attribute {name!r} of {kind or type(obj).__name__} is not available to checkers"
            )
        value = getattr(obj, name)
        if kind in ("ndarray", "generic") and callable(value):
            label = f"ndarray.{name}"
            if name == "tolist":
                meter.allocate(int(np.size(obj)) * _TOLIST_BYTES_PER_ITEM)

            def method(*args: Any, **kwargs: Any) -> Any:
                return call_checked(label, value, meter, args, kwargs)

            return method
        if kind in ("list", "set", "dict") and name in _GROWING_METHODS:
            return growing(obj, name, value)
        return value

    def growing(container: Any, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        """``list.extend``, ``set.update``, ``dict.update``: bounded growth, counted iteration."""

        def grow(*args: Any, **kwargs: Any) -> Any:
            extra = 0
            checked = []
            for arg in args:
                source = arg.items() if type(arg) is dict and type(container) is dict else arg
                items = builtins.list(consume(f"{type(container).__name__}.{name}", source))
                extra += len(items)
                checked.append(items)
            meter.sequence(len(container) + extra + len(kwargs))
            return method(*checked, **kwargs)

        return grow

    def getitem(obj: Any, key: Any) -> Any:
        t = type(obj)
        if t is np.ndarray or isinstance(obj, np.generic):
            if type(key) is np.ndarray and key.dtype.kind not in "biu":
                raise Denied(f"indexing with an array of dtype {key.dtype}")
            if type(key) is tuple:
                index_shapes = [
                    k.shape for k in key if type(k) is np.ndarray and k.dtype.kind in "iu"
                ]
                if len(index_shapes) > 1:
                    try:
                        out = np.broadcast_shapes(*index_shapes)
                    except ValueError:
                        out = ()
                    n = 1
                    for d in out:
                        n *= d
                    meter.allocate(n * obj.itemsize)
            result = obj[key]
            if type(result) is np.ndarray:
                if result.base is None:
                    meter.allocate(result.nbytes)  # fancy indexing copies
                return result
            # One pixel is a Python number: 200 + 200 is 400, as in the JIT path, not 144.
            return result.item() if isinstance(result, np.generic) else result
        if t in (list, tuple, str, dict, range, MappingProxyType):
            return obj[key]
        raise Denied(f"indexing into {t.__name__} is not allowed")

    def write(obj: Any) -> Any:
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

    def broadcast_charge(a: Any, b: Any) -> tuple[Any, Any]:
        """Charge the output of an elementwise operation involving an array, before it runs."""
        ta, tb = type(a), type(b)
        if ta is np.ndarray and tb in (list, tuple):
            meter.allocate(_nested_len(b) * 8)
            b = np.asarray(b)
            tb = np.ndarray
        elif tb is np.ndarray and ta in (list, tuple):
            meter.allocate(_nested_len(a) * 8)
            a = np.asarray(a)
            ta = np.ndarray
        if ta is np.ndarray and tb is np.ndarray:
            if a.dtype.kind not in "biuf" or b.dtype.kind not in "biuf":
                raise Denied("arrays must be numeric")
            if a.shape != b.shape:
                try:
                    out = np.broadcast_shapes(a.shape, b.shape)
                except ValueError:
                    return a, b  # numpy raises its own clear error
                n = 1
                for d in out:
                    n *= d
                meter.allocate(n * max(a.itemsize, b.itemsize))
        return a, b

    def arithmetic(op: str, fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
        ta, tb = type(a), type(b)
        if ta is np.ndarray or tb is np.ndarray:
            a, b = broadcast_charge(a, b)
            if not op.endswith("="):  # in place, the array keeps its dtype either way
                a, b = _strong(a), _strong(b)
            return fn(a, b)
        if ta is int and tb is int:
            if op in ("**", "**=") and b > 0 and a not in (0, 1, -1) and a.bit_length() * b > 64:
                raise BudgetExceeded("int64", 64, a.bit_length() * b)
            if op in ("<<", "<<=") and b > 64:
                raise BudgetExceeded("int64", 64, b)
            return check_int(fn(a, b))
        if op in ("%", "%=") and ta in (str, bytes):
            raise Denied("string formatting with % is not allowed")
        if op in ("*", "*=") and (ta in _SEQUENCES or tb in _SEQUENCES):
            seq, times = (a, b) if ta in _SEQUENCES else (b, a)
            if isinstance(times, int | np.integer):
                meter.sequence(len(seq) * max(0, operator.index(times)))
        elif op in ("+", "+=") and ta in _SEQUENCES and tb in _SEQUENCES:
            meter.sequence(len(a) + len(b))
        result = fn(a, b)
        if type(result) is int:
            check_int(result)
        return result

    def binop(op: str, a: Any, b: Any) -> Any:
        return arithmetic(op, _BINARY[op], a, b)

    def inplacevar(op: str, a: Any, b: Any) -> Any:
        if op not in _INPLACE:
            raise Denied(f"operator {op} is not allowed")
        return arithmetic(op, _INPLACE[op], a, b)

    def compare(op: str, a: Any, b: Any) -> Any:
        if type(a) is np.ndarray or type(b) is np.ndarray:
            a, b = broadcast_charge(a, b)
            a, b = _strong(a), _strong(b)
        return _COMPARE[op](a, b)

    def tick() -> None:
        meter.iterations += 1
        if meter.iterations > max_iterations:
            raise BudgetExceeded("iterations", max_iterations)
        if not meter.iterations & 255:
            meter.checkpoint()

    def enter() -> None:
        meter.call()

    def refuse_apply(*args: Any, **kwargs: Any) -> Any:
        raise Denied("calls with *args/**kwargs are not allowed")

    def import_(
        name: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level: int = 0
    ) -> Facade:
        if level != 0 or name not in IMPORTABLE:
            raise Denied(f"import of {name!r} is not allowed")
        return np_facade if name == "numpy" else math_facade

    # -- guarded builtins ----------------------------------------------------------------------

    def g_sum(iterable: Any, start: Any = 0) -> Any:
        if not isinstance(start, int | float | np.number) or isinstance(start, bool):
            raise Denied("sum() takes a numeric start value; join lists with list.extend")
        result = builtins.sum(consume("sum", iterable), start)
        return check_int(result) if type(result) is int else result

    def g_min(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            return builtins.min(consume("min", args[0]), **kwargs)
        return builtins.min(*args, **kwargs)

    def g_max(*args: Any, **kwargs: Any) -> Any:
        if len(args) == 1:
            return builtins.max(consume("max", args[0]), **kwargs)
        return builtins.max(*args, **kwargs)

    def g_any(iterable: Any) -> bool:
        return builtins.any(consume("any", iterable))

    def g_all(iterable: Any) -> bool:
        return builtins.all(consume("all", iterable))

    def g_sorted(iterable: Any, *, key: Any = None, reverse: bool = False) -> list[Any]:
        return builtins.sorted(consume("sorted", iterable), key=key, reverse=reverse)

    def g_list(iterable: Any = ()) -> list[Any]:
        return builtins.list(consume("list", iterable))

    def g_tuple(iterable: Any = ()) -> tuple[Any, ...]:
        return builtins.tuple(consume("tuple", iterable))

    def g_set(iterable: Any = ()) -> set[Any]:
        return builtins.set(consume("set", iterable))

    def g_dict(iterable: Any = (), **kwargs: Any) -> dict[Any, Any]:
        if type(iterable) in (dict, MappingProxyType):
            iterable = iterable.items()
        return builtins.dict(consume("dict", iterable), **kwargs)

    def g_zip(*iterables: Any) -> Iterator[tuple[Any, ...]]:
        return builtins.zip(*(consume("zip", i) for i in iterables), strict=False)

    def g_enumerate(iterable: Any, start: int = 0) -> Iterator[tuple[int, Any]]:
        return builtins.enumerate(consume("enumerate", iterable), start)

    def g_reversed(seq: Any) -> Iterator[Any]:
        if _is_array(seq):
            consume("reversed", seq)
        return counted(builtins.reversed(seq))

    def g_int(x: Any = 0) -> int:
        return check_int(builtins.int(x))

    def g_round(x: Any, ndigits: int | None = None) -> Any:
        if (
            ndigits is not None
            and not -_MAX_ROUND_DIGITS <= operator.index(ndigits) <= _MAX_ROUND_DIGITS
        ):
            raise Denied(f"round() takes ndigits in -{_MAX_ROUND_DIGITS}..{_MAX_ROUND_DIGITS}")
        result = builtins.round(x, ndigits)
        return check_int(result) if type(result) is int else result

    def g_divmod(a: Any, b: Any) -> tuple[Any, Any]:
        return binop("//", a, b), binop("%", a, b)

    def g_range(*args: int) -> range:
        for a in args:
            if not isinstance(a, int | np.integer) or isinstance(a, bool):
                raise Denied(f"range() takes integers, got {type(a).__name__}")
        return builtins.range(*(builtins.int(a) for a in args))

    def g_isinstance(obj: Any, types: Any) -> bool:
        kinds = tuple(real_type(t) for t in types) if type(types) is tuple else real_type(types)
        if not all(isinstance(k, type) for k in (kinds if type(kinds) is tuple else (kinds,))):
            raise Denied("isinstance() takes a type or a tuple of types")
        return builtins.isinstance(obj, kinds)

    for guarded, real in (
        (g_int, int),
        (g_list, list),
        (g_tuple, tuple),
        (g_set, set),
        (g_dict, dict),
    ):
        setattr(guarded, REAL_TYPE, real)

    safe_builtins: dict[str, Any] = {
        "abs": builtins.abs,
        "all": g_all,
        "any": g_any,
        "bool": builtins.bool,
        "dict": g_dict,
        "divmod": g_divmod,
        "enumerate": g_enumerate,
        "float": builtins.float,
        "int": g_int,
        "isinstance": g_isinstance,
        "len": builtins.len,
        "list": g_list,
        "max": g_max,
        "min": g_min,
        "range": g_range,
        "reversed": g_reversed,
        "round": g_round,
        "set": g_set,
        "slice": builtins.slice,
        "sorted": g_sorted,
        "sum": g_sum,
        "tuple": g_tuple,
        "zip": g_zip,
        "__import__": import_,
    }
    safe_builtins.update({name: getattr(builtins, name) for name in EXCEPTION_NAMES})
    safe_builtins.update(helpers)

    return {
        "__builtins__": safe_builtins,
        "__name__": "checker",
        "_getattr_": getattr_,
        "_getitem_": getitem,
        "_getiter_": getiter,
        "_write_": write,
        "_inplacevar_": inplacevar,
        "_binop_": binop,
        "_compare_": compare,
        "_tick_": tick,
        "_enter_": enter,
        "_freeze_": freeze,
        "_print_": _DiscardPrint,
        "_apply_": refuse_apply,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    }
