"""L3, the capability surface: numpy and math facades, and argument/result screening.

Provides:
    Facade: an object whose only reachable attributes are the functions and constants it was given.
    FacadeFunction: a checked numpy function with a table of its own methods (``np.logical_and``
        and its ``reduce``).
    FacadeType: a stand-in for a numpy type that only ``isinstance`` can use (``np.ndarray``).
    make_numpy_facade: the ``np`` a checker sees (allow-listed, wrapped numpy functions, the
        scalar types as checked converters, ``np.linalg.norm``).
    make_math_facade: the ``math`` a checker sees.
    check_dtype: accept a numeric dtype spec, refuse ``object``, strings, structured dtypes.
    call_checked: call a numpy callable with screened arguments and a checked, charged result.
    python_number: a numpy scalar as the Python number both paths compute with.
    real_type: a guarded builtin or facade type back to the type it stands for.
    strong_scalar: a Python number next to an array, typed as the JIT path types it.
    REAL_TYPE: the attribute guarded builtins carry to name the type they stand for.

Checkers never see the numpy module: ``np.ma.core.builtins``, ``np.f2py.os``, ``np.ctypeslib`` and
numpy's file I/O are simply not there. Every wrapped call is screened before numpy runs:

* no callables (numpy would call them from C), no object/string arrays, no ``like=`` dispatch;
* every string argument must be a known-safe option (a numeric dtype name, a sort kind, an
  interpolation method, ...) and every type or dtype argument a numeric dtype — positional or not,
  so ``a.sum(None, "O")`` is refused like ``dtype=object``;
* no ``where=`` (numpy leaves masked-out elements uninitialised: state across calls) and no
  ``out=``;
* outputs whose size follows from the arguments (shapes, ``arange``, ``linspace``, broadcasting of
  several arrays, nested lists, ``percentile`` q-arrays, joins, ``dot`` products) are charged
  *before* numpy allocates; every returned array is charged after;
* work that grows faster than the inputs is refused past a limit: ``np.dot`` of two matrices does
  at most :data:`MAX_DOT_PRODUCTS` multiply-adds, and ``np.linalg.norm`` computes only the norms that
  take one pass over the data (no singular values: ``ord=2`` of a matrix is refused);
* scalar results come back as Python numbers: integers as int64 two's complement
  (``uint64`` wraps, as in the JIT path), floats as floats. The scalar types (``np.uint8(300)``) are
  converters with C-cast semantics that return Python numbers too.

``np.ndarray`` is a :class:`FacadeType`: ``isinstance(x, np.ndarray)`` works, but it cannot be called
(``np.ndarray(shape)`` would hand out uninitialised memory) or passed to numpy.

The worker's address-space limit remains the wall for what no estimate can see.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

import numpy as np

from sandbox.budgets import INT_MAX, INT_MIN, Meter, wrap_int
from sandbox.errors import Denied
from sandbox.surface import (
    MATH_NAMES,
    NUMPY_CONSTANTS,
    NUMPY_DTYPES,
    NUMPY_FUNCTIONS,
    NUMPY_LINALG,
    NUMPY_TYPES,
    NUMPY_UFUNC_METHODS,
)

__all__ = [
    "MAX_DOT_PRODUCTS",
    "REAL_TYPE",
    "Facade",
    "FacadeFunction",
    "FacadeType",
    "call_checked",
    "check_dtype",
    "make_math_facade",
    "make_numpy_facade",
    "python_number",
    "real_type",
    "strong_scalar",
]

#: Guarded builtins (``int``, ``list``...) carry the real type under this attribute, so that
#: ``frame.astype(int)`` and ``isinstance(x, list)`` still mean what they say.
REAL_TYPE = "vlmcar_real_type"

_NUMERIC_KINDS = frozenset("biuf")
_DTYPE_NAMES = frozenset(
    NUMPY_DTYPES
    | {"bool", "int", "float", "uint", "intp", "uintp", "double", "single", "half"}
    | {"i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f2", "f4", "f8", "b1", "?"}
)
#: Strings numpy functions take as options (not dtypes); anything else is refused.
_SAFE_OPTIONS = frozenset(
    {
        "C",
        "F",
        "A",
        "K",
        "left",
        "right",
        "quicksort",
        "mergesort",
        "heapsort",
        "stable",
        "linear",
        "lower",
        "higher",
        "midpoint",
        "nearest",
        "inverted_cdf",
        "averaged_inverted_cdf",
        "closest_observation",
        "interpolated_inverted_cdf",
        "hazen",
        "weibull",
        "median_unbiased",
        "normal_unbiased",
        "no",
        "equiv",
        "safe",
        "same_kind",
        "unsafe",
        "raise",
        "clip",
        "wrap",
    }
)
_SCALAR_TYPES: frozenset[type] = frozenset(
    {bool, int, float, *(getattr(np, n) for n in NUMPY_DTYPES)}
)
_REFUSED_KEYWORDS = {
    "out": "use the returned array",
    "where": "numpy leaves masked-out elements uninitialised; use np.where(cond, x, y) instead",
    "like": "array-function dispatch is not available",
}
_JOINS = frozenset({"concatenate", "stack", "vstack", "hstack"})
_MAX_SCREENED = 10_000
_MAX_DIMS = 32
#: Most multiply-adds one ``np.dot`` may do (a 400 x 400 by 400 x 400 product is 64 million).
MAX_DOT_PRODUCTS = 2**26
#: ``ord=`` values of ``np.linalg.norm`` that take one pass over the data, for vectors and matrices.
_VECTOR_ORDS = (None, 0, 1, 2, -1, -2, math.inf, -math.inf)
_MATRIX_ORDS = (None, 1, -1, math.inf, -math.inf)


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
            Denied: when ``attr`` is not in the table.
        """
        try:
            return self._table[attr]
        except KeyError:
            raise Denied(f"{self._name}.{attr} is not available to checkers") from None

    def names(self) -> frozenset[str]:
        """Every attribute name of the facade."""
        return frozenset(self._table)

    def __repr__(self) -> str:
        return f"<facade {self._name}: {len(self._table)} names>"


class FacadeFunction(Facade):
    """A checked numpy function that also has methods (``np.logical_and.reduce``).

    Calling it calls the checked function; its methods are reached, like a facade's attributes,
    only through :meth:`Facade.lookup`.

    Example:
        >>> f = FacadeFunction("twice", lambda x: 2 * x, {"half": lambda x: x / 2})
        >>> f(3), f.lookup("half")(3)
        (6, 1.5)
    """

    __slots__ = ("_function",)

    def __init__(self, name: str, function: Callable[..., Any], methods: Mapping[str, Any]) -> None:
        super().__init__(name, methods)
        self._function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Call the checked function."""
        return self._function(*args, **kwargs)


class FacadeType:
    """A numpy type a checker may name in ``isinstance`` and nowhere else.

    Calling it is refused (``np.ndarray((n,))`` would allocate uninitialised memory), and so is
    passing it to numpy as a dtype; :func:`real_type` gives the type for ``isinstance``.

    Example:
        >>> nd = FacadeType("np.ndarray", np.ndarray)
        >>> isinstance(np.zeros(1), real_type(nd))
        True
    """

    __slots__ = ("_name", "vlmcar_real_type")

    def __init__(self, name: str, real: type) -> None:
        self._name = name
        self.vlmcar_real_type = real

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Refuse: a facade type only answers ``isinstance``."""
        raise Denied(
            f"{self._name} cannot be called; make arrays with np.array, np.zeros or np.full"
        )

    def __repr__(self) -> str:
        return f"<facade type {self._name}>"


def real_type(value: Any) -> Any:
    """Map a guarded builtin (``int``, ``list``...) or facade type back to the type it stands for."""
    return getattr(value, REAL_TYPE, value) if callable(value) else value


def python_number(value: Any) -> Any:
    """A numpy scalar as a Python number; integers wrap to int64 (``uint64`` included).

    Anything else is returned as it is.

    Example:
        >>> python_number(np.uint64(2**64 - 1)), python_number(np.float32(0.5)), python_number("x")
        (-1, 0.5, 'x')
    """
    if isinstance(value, np.generic) and value.dtype.kind in "biuf":
        item = value.item()
        return wrap_int(item) if type(item) is int else item
    return value


def strong_scalar(value: Any) -> Any:
    """A Python number next to an array, typed as the JIT path types it (int64 / float64).

    numpy 2 treats Python scalars as "weak" (``uint8_array + 100`` stays uint8 and wraps); numba
    types them as int64 / float64, so the result is int64 (355, not 99). Making them strong makes
    both paths compute the same thing.

    Example:
        >>> (np.full(1, 255, np.uint8) + strong_scalar(100)).tolist()
        [355]
    """
    t = type(value)
    if t is int:
        return np.int64(value)
    if t is float:
        return np.float64(value)
    return value


def check_dtype(spec: Any) -> None:
    """Accept numeric dtype specifications only.

    Args:
        spec: what a checker passed as a dtype (a facade scalar type, ``int``/``float``/``bool``,
            a dtype name such as ``"uint8"``, or a numeric ``numpy.dtype``).

    Raises:
        Denied: for ``object``, strings, structured, datetime or unknown dtypes.

    Example:
        >>> check_dtype(np.int16)
        >>> check_dtype(object)
        Traceback (most recent call last):
        ...
        sandbox.errors.Denied: dtype=object (type=type) is not allowed; use a numeric dtype such as np.int32 or np.float32
    """  # noqa: E501
    if spec is None:
        return
    spec = real_type(spec)
    ok = False
    if isinstance(spec, type):
        ok = spec in _SCALAR_TYPES
    elif isinstance(spec, str):
        ok = spec in _DTYPE_NAMES
    elif isinstance(spec, np.dtype):
        ok = spec.kind in _NUMERIC_KINDS and spec.fields is None and spec.subdtype is None
    if not ok:
        shown = spec.__name__ if isinstance(spec, type) else repr(spec)[:40]
        raise Denied(
            f"dtype={shown} (type={type(spec).__name__}) is not allowed; use a numeric dtype such "
            "as np.int32 or np.float32"
        )


class _Screen:
    """Walk arguments once: refuse what numpy must not see, estimate nested-list sizes."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.visited = 0

    def value(self, value: Any) -> int:
        """Screen one argument; return the element count a nested list would become (else 0)."""
        self.visited += 1
        if self.visited > _MAX_SCREENED:
            raise Denied(f"{self.where}: arguments are nested too deeply or too widely")
        t = type(value)
        if t is np.ndarray:
            if value.dtype.kind not in _NUMERIC_KINDS:
                raise Denied(f"{self.where}: arrays of dtype {value.dtype} are not allowed")
            return 0
        if t is str:
            if value not in _DTYPE_NAMES and value not in _SAFE_OPTIONS:
                raise Denied(f"{self.where}: the option {value[:40]!r} is not allowed")
            return 0
        if t is range:
            return len(value)  # becomes an array of that many int64
        if t is list or t is tuple:
            if not value:
                return 0
            # Shared references make nests cheap to build and expensive to walk: follow the
            # first element for the size, and look at only a few siblings for content.
            inner = self.value(value[0])
            if type(value[0]) is np.ndarray:
                inner = int(value[0].size)  # arrays in a list are stacked into a new array
            for item in value[1:4]:
                self.value(item)
            return len(value) * max(1, inner)
        if isinstance(value, np.dtype | type) or hasattr(value, REAL_TYPE):
            check_dtype(value)
            return 0
        if callable(value):
            raise Denied(f"{self.where}: passing a function to numpy is not allowed")
        return 0


def _screen_call(name: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> list[int]:
    sizes = []
    screen = _Screen(f"{name}()")
    for i, a in enumerate(args):
        screen.where = f"{name}() argument {i + 1}"
        sizes.append(screen.value(a))
    for k, v in kwargs.items():
        if k in _REFUSED_KEYWORDS:
            raise Denied(f"{name}({k}=...) is not allowed: {_REFUSED_KEYWORDS[k]}")
        screen.where = f"{name}({k}=...)"
        sizes.append(screen.value(v))
    return sizes


def _shape_count(shape: Any, where: str) -> int:
    if isinstance(shape, int | np.integer):
        dims: tuple[Any, ...] = (shape,)
    elif type(shape) in (tuple, list) and len(shape) <= _MAX_DIMS:
        dims = tuple(shape)
    else:
        raise Denied(f"{where}: a shape is an int or a tuple of at most {_MAX_DIMS} ints")
    n = 1
    for d in dims:
        if not isinstance(d, int | np.integer):
            raise Denied(f"{where}: shape entries must be ints, got {type(d).__name__}")
        n *= max(0, int(d))
    return n


def _itemsize(dtype: Any, default: int = 8) -> int:
    return default if dtype is None else int(np.dtype(real_type(dtype)).itemsize)


def _arg(
    args: tuple[Any, ...], kwargs: Mapping[str, Any], index: int, key: str, default: Any = None
) -> Any:
    if key in kwargs:
        return kwargs[key]
    return args[index] if len(args) > index else default


def _size(value: Any, sizes: list[int], index: int) -> int:
    """Elements of an argument: an array's size, or the estimate the screen made for a list."""
    if type(value) is np.ndarray:
        return int(value.size)
    return sizes[index] if 0 <= index < len(sizes) else 0


def _precheck(
    name: str, meter: Meter, args: tuple[Any, ...], kwargs: Mapping[str, Any], sizes: list[int]
) -> None:
    """Charge outputs whose size follows from the arguments, before numpy allocates them."""
    where = f"{name}()"
    if name in ("zeros", "ones"):
        n = _shape_count(_arg(args, kwargs, 0, "shape", 0), where)
        meter.allocate(n * _itemsize(_arg(args, kwargs, 1, "dtype")))
    elif name == "full":
        n = _shape_count(_arg(args, kwargs, 0, "shape", 0), where)
        meter.allocate(n * _itemsize(_arg(args, kwargs, 2, "dtype")))
    elif name.endswith("_like"):
        # (a, dtype, order, subok, shape); full_like has fill_value before dtype
        shape = _arg(args, kwargs, 5 if name == "full_like" else 4, "shape")
        if shape is not None:
            meter.allocate(_shape_count(shape, where) * 8)
    elif name == "arange":
        bounds = [_arg(args, kwargs, i, k) for i, k in enumerate(("start", "stop", "step"))]
        start, stop, step = bounds
        if stop is None:
            start, stop = 0, start
        lo, hi = float(start or 0), float(stop or 0)
        inc = float(step) if step is not None else 1.0
        n = 0 if inc == 0 else max(0, math.ceil((hi - lo) / inc))
        meter.allocate(n * 8)
    elif name == "linspace":
        num = int(_arg(args, kwargs, 2, "num", 50))
        ends = [
            _size(_arg(args, kwargs, i, k, 0), sizes, i) for i, k in ((0, "start"), (1, "stop"))
        ]
        meter.allocate(max(0, num) * 8 * max(1, *ends))
    elif name == "histogram":
        bins = _arg(args, kwargs, 1, "bins", 10)
        if isinstance(bins, int | np.integer):
            meter.allocate(int(bins) * 16)
        elif type(bins) is range:
            meter.allocate(len(bins) * 16)
        elif isinstance(bins, str):
            raise Denied(f"{where}: bins={bins!r} is not allowed; give a number of bins or edges")
    elif name == "bincount" and args:
        x = np.asarray(args[0])
        top = int(x.max()) + 1 if x.size else 0
        meter.allocate(max(top, int(_arg(args, kwargs, 2, "minlength", 0) or 0)) * 8)
    elif name in ("percentile", "quantile"):
        q = _arg(args, kwargs, 1, "q", 0)
        q_size = q.size if type(q) is np.ndarray else max(1, sizes[1] if len(sizes) > 1 else 1)
        data = _size(args[0], sizes, 0) if args else 0
        meter.allocate(max(1, q_size) * max(1, data) * 8)
    elif name in _JOINS and args and type(args[0]) in (list, tuple):
        meter.allocate(sum(_size(a, [], -1) for a in args[0][:1000]) * 8)
    elif name == "dot":
        _precheck_dot(meter, args, kwargs)
    elif name == "linalg.norm":
        _precheck_norm(meter, args, kwargs, sizes)
    # Broadcasting of several arrays (np.where(c, x, y), np.maximum(a, b), ...): the output can
    # be far larger than any input.
    shapes = [a.shape for a in args if type(a) is np.ndarray and a.ndim]
    if len(shapes) > 1 and any(s != shapes[0] for s in shapes):
        try:
            out = np.broadcast_shapes(*shapes)
        except ValueError:
            return
        meter.allocate(_shape_count(out, where) * 8)
    # Nested lists become arrays: charge their element count.
    for size in sizes:
        if size > 1:
            meter.allocate(size * 8)


def _operand_shape(value: Any) -> tuple[int, ...]:
    """The shape numpy will give an operand (lists are measured by their first elements)."""
    if type(value) is np.ndarray:
        return tuple(value.shape)
    dims: list[int] = []
    while type(value) in (list, tuple) and len(dims) < _MAX_DIMS:
        dims.append(len(value))
        if not value:
            break
        value = value[0]
    return tuple(dims)


def _precheck_dot(meter: Meter, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """``np.dot(a, b)``: two operands, a bounded number of multiply-adds, output charged first."""
    if len(args) != 2 or kwargs:
        raise Denied("np.dot() takes exactly two arrays (no out=); use a * b for scalars")
    a, b = (_operand_shape(v) for v in args)
    if not a or not b:
        n = max(math.prod(a), math.prod(b))
        products, out = n, n
    else:
        k = a[-1]
        rest_b = b[:-2] + b[-1:] if len(b) > 1 else ()
        out = math.prod(a[:-1]) * math.prod(rest_b)
        products = out * max(1, k)
    if products > MAX_DOT_PRODUCTS:
        raise Denied(
            f"np.dot() of shapes {a} and {b} needs {products:,} multiply-adds, more than the "
            f"limit of {MAX_DOT_PRODUCTS:,}; multiply by a vector, or sum an elementwise product"
        )
    meter.allocate(out * 8)


def _precheck_norm(
    meter: Meter, args: tuple[Any, ...], kwargs: Mapping[str, Any], sizes: list[int]
) -> None:
    """``np.linalg.norm``: one-pass norms only (no singular values); its temporaries charged."""
    if len(args) > 1 or set(kwargs) - {"ord", "axis", "keepdims"}:
        raise Denied("np.linalg.norm() takes the array, then ord=, axis= and keepdims= by name")
    x = args[0] if args else kwargs.get("x")
    order, axis = kwargs.get("ord"), kwargs.get("axis")
    ndim = len(_operand_shape(x))
    matrix = (axis is None and ndim == 2 and order is not None) or (
        type(axis) is tuple and len(axis) == 2
    )
    allowed = _MATRIX_ORDS if matrix else _VECTOR_ORDS
    if order is not None and (type(order) not in (int, float) or order not in allowed):
        kind = "matrix" if matrix else "vector"
        raise Denied(
            f"np.linalg.norm(ord={order!r}) of a {kind} is not available; "
            f"use ord= one of {', '.join(map(str, allowed))}"
        )
    n = _size(x, sizes, 0) if x is not None else 0
    meter.allocate(2 * n * 8)  # numpy squares (or takes abs of) a float copy of the input


def _postcheck(name: str, meter: Meter, result: Any) -> Any:
    t = type(result)
    if t is np.ndarray:
        if result.dtype.kind not in _NUMERIC_KINDS:
            raise Denied(f"{name}() produced an array of dtype {result.dtype}")
        meter.allocate(result.nbytes)
    elif t is tuple or t is list:
        for item in result[:64]:
            _postcheck(name, meter, item)
    elif t is int:
        return wrap_int(result)
    elif isinstance(result, np.generic):
        # Scalars come back as Python numbers: integers as int64 two's complement, as the JIT
        # path computes them (``frame.prod()`` is a wrapped uint64 in numpy, a wrapped int64
        # natively: the same 64 bits), not numpy's uint8/uint64 scalars.
        if result.dtype.kind not in _NUMERIC_KINDS:
            raise Denied(f"{name}() produced a scalar of dtype {result.dtype}")
        return python_number(result)
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
        Denied: for refused arguments or results.
        BudgetExceeded: when an output would exceed the byte budgets.
    """
    sizes = _screen_call(name, args, kwargs)
    args = tuple(real_type(a) for a in args)
    kwargs = {k: real_type(v) for k, v in kwargs.items()}
    _precheck(name, meter, args, kwargs, sizes)
    if name == "diff":
        args, kwargs = _bounded_diff(meter, args, kwargs)
    meter.checkpoint()
    return _postcheck(name, meter, fn(*args, **kwargs))


def _bounded_diff(
    meter: Meter, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Charge ``np.diff(a, n)``'s ``n`` passes (each a new array) and cap ``n`` at the axis length.

    Past the axis length every answer is the same empty array, after ``n`` passes in Python.
    """
    a = args[0] if args else kwargs.get("a")
    n = _arg(args, kwargs, 1, "n", 1)
    axis = _arg(args, kwargs, 2, "axis", -1)
    if type(a) is not np.ndarray or not a.ndim or type(n) is not int or type(axis) is not int:
        return args, kwargs
    if not -a.ndim <= axis < a.ndim:
        return args, kwargs  # numpy raises its own AxisError
    n = min(n, a.shape[axis])
    meter.allocate(max(0, n) * a.size * 8)
    if len(args) > 1:
        args = (args[0], n, *args[2:])
    else:
        kwargs = {**kwargs, "n": n}
    return args, kwargs


#: Functions whose Python-number arguments numba types as int64 / float64 (not numpy 2's weak
#: scalars): ``np.maximum(uint8_array, 300)`` is int64 in the JIT path.
_STRONG_SCALARS = frozenset(
    "maximum minimum where hypot arctan2 logical_and logical_or logical_xor".split()
)


def _wrap(name: str, fn: Callable[..., Any], meter: Meter) -> Callable[..., Any]:
    strong = name in _STRONG_SCALARS

    def facade_function(*args: Any, **kwargs: Any) -> Any:
        if strong and any(type(a) is np.ndarray for a in args):
            args = tuple(strong_scalar(a) for a in args)
        return call_checked(name, fn, meter, args, kwargs)

    facade_function.__name__ = facade_function.__qualname__ = name.rpartition(".")[2]
    facade_function.__doc__ = f"Checked numpy.{name}."
    return facade_function


def _scalar_type(name: str, meter: Meter) -> Callable[..., Any]:
    """``np.uint8`` and friends: convert with C-cast semantics, return a Python number.

    A Python integer is cast as a native cast does (``np.uint8(300)`` is 44, ``np.uint64(-1)``
    is -1 after the int64 wrap), as in the JIT path, where numpy 2 would raise; arrays are
    converted like ``astype`` (charged). The type itself is still what ``dtype=np.uint8`` and
    ``isinstance`` see (through :data:`REAL_TYPE`).
    """
    scalar = getattr(np, name)
    integer = np.dtype(scalar).kind in "iu"

    def convert(value: Any = 0, /) -> Any:
        if integer and type(value) in (int, bool):
            value = np.int64(value)  # checker integers are already within 64 bits
            return python_number(value.astype(scalar))
        return call_checked(name, scalar, meter, (value,), {})

    convert.__name__ = convert.__qualname__ = name
    convert.__doc__ = f"Checked numpy.{name}()."
    setattr(convert, REAL_TYPE, scalar)
    return convert


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
    for n, methods in NUMPY_UFUNC_METHODS.items():
        checked = {m: _wrap(f"{n}.{m}", getattr(getattr(np, n), m), meter) for m in methods}
        table[n] = FacadeFunction(f"np.{n}", table[n], checked)
    table.update({n: _scalar_type(n, meter) for n in NUMPY_DTYPES})
    table.update({n: getattr(np, n) for n in NUMPY_CONSTANTS})
    table.update({n: FacadeType(f"np.{n}", getattr(np, n)) for n in NUMPY_TYPES})
    linalg = {n: _wrap(f"linalg.{n}", getattr(np.linalg, n), meter) for n in NUMPY_LINALG}
    table["linalg"] = Facade("np.linalg", linalg)
    return Facade("np", table)


def _int_result(fn: Callable[[float], int]) -> Callable[[float], int]:
    """``math.floor`` and friends: an int, refused (OverflowError) outside 64 bits, as natively."""

    def checked(x: float) -> int:
        result = fn(x)
        if not INT_MIN <= result <= INT_MAX:
            raise OverflowError(f"math.{fn.__name__}() of a float outside the 64-bit range")
        return result

    checked.__name__ = checked.__qualname__ = fn.__name__
    return checked


def make_math_facade() -> Facade:
    """Build the ``math`` facade (pure float functions; integer results within 64 bits).

    Example:
        >>> make_math_facade().lookup("sqrt")(9.0)
        3.0
    """
    table: dict[str, Any] = {n: getattr(math, n) for n in MATH_NAMES}
    for n in ("floor", "ceil", "trunc"):
        table[n] = _int_result(getattr(math, n))
    return Facade("math", table)
