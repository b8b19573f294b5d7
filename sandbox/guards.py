"""L2 run-time guards: the functions RestrictedPython's rewritten code calls, and guarded builtins.

Provides:
    make_namespace: the globals for one checker module — ``__builtins__`` (guarded builtins, the
        allowed exception classes, the vision helpers and a controlled ``__import__``) and the guard
        hooks ``_getattr_``, ``_getitem_``, ``_getiter_``, ``_write_``, ``_inplacevar_``,
        ``_binop_``, ``_tick_``, ``_enter_``, ``_unpack_sequence_``, ``_iter_unpack_sequence_``.
    classify: the allow-list category of an object (``ndarray``, ``generic``, ``dtype``, ``list``...).

The guards consult the same tables as the static audit (:mod:`sandbox.surface`), so an attribute is
allowed by exactly one rule. Writes go only to arrays the checker made (writeable ones; frames are
read-only) and to lists, dicts and sets (which can only have been made during the call, because module
level holds constants only). Every iteration is counted; integers stay within 64 bits.
"""

from __future__ import annotations

import builtins
import operator
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
from RestrictedPython.Guards import guarded_iter_unpack_sequence, guarded_unpack_sequence

from sandbox.budgets import Meter, check_int
from sandbox.errors import BudgetExceeded, CapabilityViolation
from sandbox.facade import Facade, call_checked
from sandbox.surface import ATTRIBUTES, EXCEPTION_NAMES, IMPORTABLE

__all__ = ["classify", "make_namespace"]

_PLAIN_KINDS: dict[type, str] = {
    list: "list",
    dict: "dict",
    set: "set",
    tuple: "tuple",
    str: "str",
    float: "float",
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
_SEQUENCES = (str, list, tuple)
_GROWING_METHODS = frozenset({"extend", "update", "union", "intersection", "difference"})


def kind_name(obj: Any) -> str:
    """The type name used in error messages."""
    return type(obj).__name__


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
            yield item

    def getiter(obj: Any) -> Iterator[Any]:
        if type(obj) not in _ITERABLE_TYPES:
            raise CapabilityViolation(f"iterating over {type(obj).__name__} is not allowed")
        return counted(obj)

    def consume(fn_name: str, obj: Any) -> Iterator[Any]:
        if _is_array(obj):
            raise CapabilityViolation(
                f"{fn_name}() over a numpy array loops element by element in Python; use the numpy "
                f"equivalent (np.{fn_name} / np.sort / arr.tolist())"
            )
        return getiter(obj)

    def getattr_(obj: Any, name: str, *default: Any) -> Any:
        if type(name) is not str or name.startswith("_"):
            raise CapabilityViolation(f"attribute {name!r} is not allowed")
        if type(obj) is Facade:
            return obj.lookup(name)
        kind = classify(obj)
        if kind is None or name not in ATTRIBUTES[kind]:
            raise CapabilityViolation(
                f"attribute {name!r} of {kind or type(obj).__name__} is not available to checkers"
            )
        value = getattr(obj, name)
        if kind in ("ndarray", "generic") and callable(value):
            label = f"ndarray.{name}"

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
                items = builtins.list(consume(f"{kind_name(container)}.{name}", source))
                extra += len(items)
                checked.append(items)
            meter.sequence(len(container) + extra + len(kwargs))
            return method(*checked, **kwargs)

        return grow

    def getitem(obj: Any, key: Any) -> Any:
        t = type(obj)
        if t is np.ndarray or isinstance(obj, np.generic):
            if type(key) is np.ndarray and key.dtype.kind not in "biu":
                raise CapabilityViolation(f"indexing with an array of dtype {key.dtype}")
            result = obj[key]
            if type(result) is np.ndarray and result.base is None:
                meter.allocate(result.nbytes)  # fancy indexing copies
            return result
        if t in (list, tuple, str, dict, range):
            return obj[key]
        raise CapabilityViolation(f"indexing into {t.__name__} is not allowed")

    def write(obj: Any) -> Any:
        t = type(obj)
        if t is np.ndarray:
            if not obj.flags.writeable:
                raise CapabilityViolation(
                    "frames are read-only; make a copy to modify it (frame.copy() or "
                    "frame.astype(np.int16))"
                )
            return obj
        if t in (list, dict, set):
            return obj
        raise CapabilityViolation(f"writing into {t.__name__} is not allowed")

    def arithmetic(op: str, fn: Callable[[Any, Any], Any], a: Any, b: Any) -> Any:
        ta, tb = type(a), type(b)
        if ta is np.ndarray or tb is np.ndarray:
            if ta is np.ndarray and tb is np.ndarray and a.shape != b.shape:
                n = 1
                for x, y in zip(a.shape[::-1], b.shape[::-1], strict=False):
                    n *= max(x, y)
                for extra in (a.shape, b.shape):
                    for d in extra[: max(0, len(extra) - min(a.ndim, b.ndim))]:
                        n *= d
                meter.allocate(n * max(a.itemsize, b.itemsize))
            return fn(a, b)
        if ta is int and tb is int:
            if op in ("**", "**=") and b > 0 and a not in (0, 1, -1) and a.bit_length() * b > 64:
                raise BudgetExceeded("int64", 64, a.bit_length() * b)
            if op in ("<<", "<<=") and b > 64:
                raise BudgetExceeded("int64", 64, b)
            return check_int(fn(a, b))
        if op in ("%", "%=") and ta is str:
            raise CapabilityViolation("string formatting with % is not allowed")
        if op in ("*", "*=") and (ta in _SEQUENCES or tb in _SEQUENCES):
            seq, times = (a, b) if ta in _SEQUENCES else (b, a)
            if type(times) is int:
                meter.sequence(len(seq) * max(0, times))
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
            raise CapabilityViolation(f"operator {op} is not allowed")
        return arithmetic(op, _INPLACE[op], a, b)

    def tick() -> None:
        meter.iterations += 1
        if meter.iterations > max_iterations:
            raise BudgetExceeded("iterations", max_iterations)

    def enter() -> None:
        meter.call()

    def refuse_apply(*args: Any, **kwargs: Any) -> Any:
        raise CapabilityViolation("calls with *args/**kwargs are not allowed")

    def import_(
        name: str, globals_: Any = None, locals_: Any = None, fromlist: Any = (), level: int = 0
    ) -> Facade:
        if level != 0 or name not in IMPORTABLE:
            raise CapabilityViolation(f"import of {name!r} is not allowed")
        return np_facade if name == "numpy" else math_facade

    # -- guarded builtins ----------------------------------------------------------------------

    def g_sum(iterable: Any, start: Any = 0) -> Any:
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
        result = builtins.round(x, ndigits)
        return check_int(result) if type(result) is int else result

    def g_range(*args: int) -> range:
        for a in args:
            if not isinstance(a, int | np.integer):
                raise CapabilityViolation(f"range() takes integers, got {type(a).__name__}")
        return builtins.range(*(builtins.int(a) for a in args))

    safe_builtins: dict[str, Any] = {
        "abs": builtins.abs,
        "all": g_all,
        "any": g_any,
        "bool": builtins.bool,
        "dict": g_dict,
        "enumerate": g_enumerate,
        "float": builtins.float,
        "int": g_int,
        "isinstance": builtins.isinstance,
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
        "_tick_": tick,
        "_enter_": enter,
        "_apply_": refuse_apply,
        "_unpack_sequence_": guarded_unpack_sequence,
        "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    }
