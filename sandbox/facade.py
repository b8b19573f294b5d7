"""L3, the capability surface: numpy and math facades, and argument/result screening.

Provides:
    Facade: an object whose only reachable attributes are the functions and constants it was given.
    make_numpy_facade: the ``np`` a checker sees (allow-listed, wrapped numpy functions).
    make_math_facade: the ``math`` a checker sees.
    check_dtype: accept a numeric dtype spec, refuse ``object``, strings, structured dtypes.
    call_checked: call a numpy callable with screened arguments and a checked result.

Checkers never see the numpy module: ``np.ma.core.builtins``, ``np.f2py.os``, ``np.ctypeslib`` and
numpy's file I/O are simply not there. Each wrapped function refuses callables and object arrays as
arguments, refuses ``out=`` (writes into foreign arrays), checks the output size of functions that take
a shape *before* allocating, and charges every array it returns to the call's byte budget.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from sandbox.budgets import Meter, check_int
from sandbox.errors import CapabilityViolation
from sandbox.surface import MATH_NAMES, NUMPY_CONSTANTS, NUMPY_DTYPES, NUMPY_FUNCTIONS

__all__ = ["Facade", "call_checked", "check_dtype", "make_math_facade", "make_numpy_facade"]

_NUMERIC_KINDS = frozenset("biuf")
_DTYPE_NAMES = frozenset(NUMPY_DTYPES | {"bool", "int", "float", "uint", "intp"})
_SCALAR_TYPES: frozenset[type] = frozenset(
    {bool, int, float, *(getattr(np, n) for n in NUMPY_DTYPES)}
)
_SHAPE_FUNCTIONS = frozenset({"zeros", "ones", "full"})


class Facade:
    """A namespace whose attributes are exactly the entries of a frozen table.

    Checker code reaches attributes only through the attribute guard, which asks :meth:`lookup`;
    the facade has no other public surface.

    Example:
        >>> f = Facade("demo", {"pi": 3.14})
        >>> f.lookup("pi")
        3.14
    """

    __slots__ = ("_name", "_table")

    def __init__(self, name: str, table: Mapping[str, Any]) -> None:
        self._name = name
        self._table = MappingProxyType(dict(table))

    def lookup(self, attr: str) -> Any:
        """Return the entry ``attr``.

        Raises:
            CapabilityViolation: when ``attr`` is not in the table.
        """
        try:
            return self._table[attr]
        except KeyError:
            raise CapabilityViolation(f"{self._name}.{attr} is not available to checkers") from None

    def names(self) -> frozenset[str]:
        """Every attribute name of the facade."""
        return frozenset(self._table)

    def __repr__(self) -> str:
        return f"<facade {self._name}: {len(self._table)} names>"


def check_dtype(spec: Any) -> None:
    """Accept numeric dtype specifications only.

    Args:
        spec: what a checker passed as ``dtype`` (a facade scalar type, ``int``/``float``/``bool``,
            a dtype name such as ``"uint8"``, or a numeric ``numpy.dtype``).

    Raises:
        CapabilityViolation: for ``object``, strings, structured, datetime or unknown dtypes.

    Example:
        >>> check_dtype(np.int16)
        >>> check_dtype(object)
        Traceback (most recent call last):
        ...
        sandbox.errors.CapabilityViolation: <checker>: violation: dtype=object (type=type) is not allowed; use a numeric dtype such as np.int32 or np.float32
    """  # noqa: E501
    if spec is None:
        return
    ok = False
    if isinstance(spec, type):
        ok = spec in _SCALAR_TYPES
    elif isinstance(spec, str):
        ok = spec in _DTYPE_NAMES
    elif isinstance(spec, np.dtype):
        ok = spec.kind in _NUMERIC_KINDS and spec.fields is None and spec.subdtype is None
    if not ok:
        shown = spec.__name__ if isinstance(spec, type) else repr(spec)[:40]
        raise CapabilityViolation(
            f"dtype={shown} (type={type(spec).__name__}) is not allowed; use a numeric dtype such "
            "as np.int32 or np.float32"
        )


def _screen(value: Any, where: str) -> None:
    """Refuse arguments that let numpy call back into Python or carry arbitrary objects."""
    t = type(value)
    if t is np.ndarray:
        if value.dtype.kind not in _NUMERIC_KINDS:
            raise CapabilityViolation(f"{where}: arrays of dtype {value.dtype} are not allowed")
    elif callable(value) and value not in _SCALAR_TYPES:
        raise CapabilityViolation(f"{where}: passing a function to numpy is not allowed")
    elif t is list or t is tuple:
        for item in value[:64]:
            _screen(item, where)


def _screen_call(name: str, args: Iterable[Any], kwargs: Mapping[str, Any]) -> None:
    for i, a in enumerate(args):
        _screen(a, f"{name}() argument {i + 1}")
    for k, v in kwargs.items():
        if k == "out":
            raise CapabilityViolation(f"{name}(out=...) is not allowed; use the returned array")
        if k == "dtype":
            check_dtype(v)
        else:
            _screen(v, f"{name}({k}=...)")


def _count(shape: Any) -> int:
    dims = (shape,) if isinstance(shape, int | np.integer) else tuple(shape)
    n = 1
    for d in dims:
        n *= max(0, int(d))
    return n


def _itemsize(dtype: Any, default: int = 8) -> int:
    return default if dtype is None else int(np.dtype(dtype).itemsize)


def _precheck(name: str, meter: Meter, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """Check the size of outputs that are specified by arguments, before numpy allocates them."""
    if name in _SHAPE_FUNCTIONS and args:
        dtype = kwargs.get("dtype", args[2] if name == "full" and len(args) > 2 else None)
        if name != "full" and len(args) > 1:
            dtype = args[1]
        check_dtype(dtype)
        meter.allocate(_count(args[0]) * _itemsize(dtype))
    elif name == "arange" and args:
        bounds = [float(a) for a in args[:3]]
        start, stop, step = (0.0, bounds[0], 1.0) if len(bounds) == 1 else (*bounds[:2], 1.0)
        if len(bounds) == 3:
            step = bounds[2]
        n = 0 if step == 0 else max(0, math.ceil((stop - start) / step))
        meter.allocate(n * 8)
    elif name == "linspace":
        num = kwargs.get("num", args[2] if len(args) > 2 else 50)
        meter.allocate(int(num) * 8)
    elif name == "histogram":
        bins = kwargs.get("bins", args[1] if len(args) > 1 else 10)
        if isinstance(bins, int | np.integer):
            meter.allocate(int(bins) * 16)
    elif name == "bincount" and args:
        x = np.asarray(args[0])
        top = int(x.max()) + 1 if x.size else 0
        minlength = int(kwargs.get("minlength", 0) or 0)
        meter.allocate(max(top, minlength) * 8)


def _postcheck(name: str, meter: Meter, result: Any) -> Any:
    t = type(result)
    if t is np.ndarray:
        if result.dtype.kind not in _NUMERIC_KINDS:
            raise CapabilityViolation(f"{name}() produced an array of dtype {result.dtype}")
        meter.allocate(result.nbytes)
    elif t is tuple or t is list:
        for item in result:
            _postcheck(name, meter, item)
    elif t is int:
        check_int(result)
    return result


def call_checked(
    name: str, fn: Callable[..., Any], meter: Meter, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call ``fn(*args, **kwargs)`` with screened arguments and a checked, charged result.

    Args:
        name: the name shown in errors (``sum``, ``ndarray.astype``).
        fn: the numpy function or bound ndarray method.
        meter: the calling checker's budget meter.
        args: positional arguments.
        kwargs: keyword arguments.

    Returns:
        What ``fn`` returned.

    Raises:
        CapabilityViolation: for refused arguments or results.
        BudgetExceeded: when an output would exceed the byte budgets.
    """
    _screen_call(name, args, kwargs)
    _precheck(name, meter, args, kwargs)
    return _postcheck(name, meter, fn(*args, **kwargs))


def _wrap(name: str, fn: Callable[..., Any], meter: Meter) -> Callable[..., Any]:
    def facade_function(*args: Any, **kwargs: Any) -> Any:
        return call_checked(name, fn, meter, args, kwargs)

    facade_function.__name__ = facade_function.__qualname__ = name
    facade_function.__doc__ = f"Checked numpy.{name}."
    return facade_function


def make_numpy_facade(meter: Meter) -> Facade:
    """Build the ``np`` facade for one checker.

    Args:
        meter: the checker's budget meter, charged by every wrapped function.

    Returns:
        A :class:`Facade` with the allow-listed functions, scalar types and constants.

    Example:
        >>> from sandbox.budgets import Budgets
        >>> np_ = make_numpy_facade(Meter(Budgets()))
        >>> int(np_.lookup("sum")([1, 2, 3]))
        6
    """
    table: dict[str, Any] = {n: _wrap(n, getattr(np, n), meter) for n in NUMPY_FUNCTIONS}
    table.update({n: getattr(np, n) for n in NUMPY_DTYPES})
    table.update({n: getattr(np, n) for n in NUMPY_CONSTANTS})
    return Facade("np", table)


def _int_result(fn: Callable[[float], int]) -> Callable[[float], int]:
    def checked(x: float) -> int:
        return check_int(fn(x))

    checked.__name__ = checked.__qualname__ = fn.__name__
    return checked


def make_math_facade() -> Facade:
    """Build the ``math`` facade (pure float functions; integer results checked to 64 bits).

    Example:
        >>> make_math_facade().lookup("sqrt")(9.0)
        3.0
    """
    table: dict[str, Any] = {n: getattr(math, n) for n in MATH_NAMES}
    for n in ("floor", "ceil", "trunc"):
        table[n] = _int_result(getattr(math, n))
    return Facade("math", table)
