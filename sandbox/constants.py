"""Module constants: a checker's module-level values, folded from literals without running its code.

Provides:
    ConstantLimits: size limits for folded values (elements, string length, integer width).
    ConstantError: a module-level value cannot be folded (which name, which line, why).
    constant_refusal: static check of one module-level value expression (no evaluation).
    fold_constants: audited module -> ``{name: frozen value}`` (evaluation; inside the wall only).
    constant_source: a folded value as Python source text (for the JIT kernel module).

Checker modules may bind names to constants at module level (``TOL = 30``, ``H, W = 64, 64``,
``KEY = np.array([255, 255, 0], dtype=np.uint8)``, ``COLORS = {"red": (255, 0, 0)}``). Neither the
interpreter path nor the JIT path executes those statements: :func:`fold_constants` computes their
values with a tiny evaluator over literals, names of earlier constants, numpy/math constants,
arithmetic and displays, checking every result's size *before* computing it, so ``10 ** 10 ** 10`` or a
billion-element repetition fails at once with a clear message instead of hanging. Both paths then see
the same frozen values: lists become tuples, sets frozensets, dicts read-only mapping proxies, and
``np.array(...)`` a read-only array over immutable memory (its write flag cannot be turned back on).

The audit (which runs before any isolation) only calls :func:`constant_refusal`, a purely structural
check; evaluation happens inside a worker after its isolation layers are applied.

Integer semantics: module constants must fit in 64 bits (a value outside ``[-2**63, 2**63)`` is
refused, not wrapped), so the JIT and the interpreter start from identical numbers.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import numpy as np

from sandbox.errors import SandboxError

__all__ = [
    "ConstantError",
    "ConstantLimits",
    "constant_refusal",
    "constant_source",
    "fold_constants",
]

_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_WIDE_MIN, _WIDE_MAX = -(2**127), 2**127 - 1

#: Numeric dtypes an array constant may have (no object, string, datetime or complex dtypes).
ARRAY_DTYPES = frozenset(
    "bool_ float16 float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64".split()
)
_NUMPY_VALUES: Mapping[str, float] = MappingProxyType(
    {"pi": math.pi, "e": math.e, "inf": math.inf, "nan": math.nan}
)
_MATH_VALUES: Mapping[str, float] = MappingProxyType(
    {"pi": math.pi, "e": math.e, "tau": math.tau, "inf": math.inf, "nan": math.nan}
)
_ARRAY_CALLS = frozenset({"array", "asarray"})
_BINOPS: Mapping[type[ast.operator], Callable[[Any, Any], Any]] = MappingProxyType(
    {
        ast.Add: operator.add,
        ast.Sub: operator.sub,
        ast.Mult: operator.mul,
        ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv,
        ast.Mod: operator.mod,
        ast.Pow: operator.pow,
        ast.LShift: operator.lshift,
        ast.RShift: operator.rshift,
        ast.BitAnd: operator.and_,
        ast.BitOr: operator.or_,
        ast.BitXor: operator.xor,
    }
)


@dataclass(frozen=True)
class ConstantLimits:
    """Size limits for module constants.

    Attributes:
        max_elements: most scalars in one constant (nested displays and arrays counted whole),
            and in all constants of a module together.
        max_str_len: longest string a constant may hold or build.
    """

    max_elements: int = 65_536
    max_str_len: int = 10_000


class ConstantError(SandboxError):
    """A module-level value cannot be folded into a constant.

    Attributes:
        name: the name being bound (``""`` when unknown).
        line: 1-based line of the statement.
        reason: what is wrong.
    """

    def __init__(self, reason: str, *, name: str = "", line: int | None = None) -> None:
        self.name, self.line, self.reason = name, line, reason
        super().__init__(reason)

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line else ""
        what = f"module constant {self.name!r}: " if self.name else "module constant: "
        return (
            f"{where}{what}{self.reason} (module-level values must be literals, earlier constants, "
            "arithmetic on them, displays, or np.array(<literal>, dtype=...))"
        )


# --- static structure (the audit) --------------------------------------------------------------


def constant_refusal(
    node: ast.expr,
    *,
    known: frozenset[str] | set[str],
    numpy_aliases: frozenset[str] | set[str] = frozenset({"np", "numpy"}),
    math_aliases: frozenset[str] | set[str] = frozenset({"math"}),
) -> str | None:
    """Say why ``node`` is not a module-constant expression, or return None when it is one.

    Purely structural: nothing is evaluated (the audit runs before any isolation layer).

    Args:
        node: the value of a module-level assignment.
        known: names of constants bound earlier in the module.
        numpy_aliases: names the module binds to numpy (``import numpy as np``).
        math_aliases: names the module binds to math.

    Returns:
        None when the expression may be folded, else a short reason.

    Example:
        >>> constant_refusal(ast.parse("(1, 2) * 3", mode="eval").body, known=set()) is None
        True
        >>> constant_refusal(ast.parse("f(3)", mode="eval").body, known=set())
        'calls other than np.array(<literal>, dtype=...) are not constants'
    """
    return _Structure(set(known), set(numpy_aliases), set(math_aliases)).reason(node)


def _keyword_dict(node: ast.Call, known: Collection[str]) -> ast.Dict | None:
    """``dict(red=(255, 0, 0), ...)`` as the dict literal it spells, else None.

    Only keyword arguments (names as string keys), and only while the module has not bound
    ``dict`` itself.
    """
    if not (
        isinstance(node.func, ast.Name)
        and node.func.id == "dict"
        and "dict" not in known
        and not node.args
        and all(k.arg is not None for k in node.keywords)
    ):
        return None
    keys: list[ast.expr | None] = [ast.Constant(k.arg) for k in node.keywords]
    return ast.Dict(keys=keys, values=[k.value for k in node.keywords])


@dataclass
class _Structure:
    known: set[str]
    numpy: set[str]
    math: set[str]

    def reason(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Constant):
            if node.value is None or isinstance(node.value, bool | int | float | str):
                return None
            return f"{type(node.value).__name__} literals are not constants here"
        if isinstance(node, ast.Name):
            return None if node.id in self.known else f"{node.id!r} is not an earlier constant"
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            base = node.value.id
            if base in self.numpy and (node.attr in _NUMPY_VALUES or node.attr in ARRAY_DTYPES):
                return None
            if base in self.math and node.attr in _MATH_VALUES:
                return None
            return f"{base}.{node.attr} is not a constant"
        if isinstance(node, ast.UnaryOp):
            return self.reason(node.operand)
        if isinstance(node, ast.BinOp):
            if type(node.op) not in _BINOPS:
                return f"operator {type(node.op).__name__} is not allowed in constants"
            return self.reason(node.left) or self.reason(node.right)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return next((r for e in node.elts if (r := self._element(e))), None)
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if key is None:
                    return "dict unpacking (**) is not allowed in constants"
                if reason := self.reason(key) or self.reason(value):
                    return reason
            return None
        if isinstance(node, ast.Call):
            as_dict = _keyword_dict(node, self.known)
            return self.reason(as_dict) if as_dict is not None else self._array_call(node)
        return f"{type(node).__name__} is not a constant expression"

    def _element(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Starred):
            return "starred elements are not allowed in constants"
        return self.reason(node)

    def _array_call(self, node: ast.Call) -> str | None:
        func = node.func
        if not (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in self.numpy
            and func.attr in _ARRAY_CALLS
        ):
            return "calls other than np.array(<literal>, dtype=...) are not constants"
        if not 1 <= len(node.args) <= 2 or any(isinstance(a, ast.Starred) for a in node.args):
            return "np.array() takes a literal and optionally a dtype"
        if any(k.arg != "dtype" for k in node.keywords) or len(node.args) + len(node.keywords) > 2:
            return "np.array() constants take only a `dtype=` keyword"
        dtype = (
            node.args[1] if len(node.args) == 2 else next((k.value for k in node.keywords), None)
        )
        if dtype is not None and _dtype_name(dtype, self.numpy) is None:
            return "the dtype of an array constant must be np.<numeric type> or its name"
        return self.reason(node.args[0])


def _dtype_name(node: ast.expr, numpy_aliases: set[str]) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        name = node.value if node.value != "bool" else "bool_"
        return name if name in ARRAY_DTYPES else None
    if (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id in numpy_aliases
        and node.attr in ARRAY_DTYPES
    ):
        return node.attr
    if isinstance(node, ast.Name) and node.id in {"int", "float", "bool"}:
        return {"int": "int64", "float": "float64", "bool": "bool_"}[node.id]
    return None


# --- evaluation (inside the wall) ---------------------------------------------------------------


@dataclass(frozen=True)
class _DType:
    """A numpy dtype named in a constant (``KIND = np.uint8``): usable as ``dtype=`` only."""

    name: str


def fold_constants(tree: ast.Module, *, limits: ConstantLimits | None = None) -> dict[str, Any]:
    """Compute the frozen values of an audited module's module-level constants.

    Only call this where checker-derived evaluation is allowed (inside an isolated worker, or in
    a process that trusts the source): it evaluates arithmetic written by the checker, although
    every step is bounded before it is computed.

    Args:
        tree: the parsed, audited module.
        limits: size limits (default :class:`ConstantLimits()`).

    Returns:
        Name -> value, in binding order. Values are ``bool``, ``int`` (64-bit), ``float``,
        ``str``, ``None``, tuples, frozensets, read-only mapping proxies of those, and read-only
        numpy arrays.

    Raises:
        ConstantError: a value is not a constant expression, or exceeds a limit.

    Example:
        >>> tree = ast.parse("import numpy as np\\nH, W = 8, 4\\nN = H * W\\nK = np.array([1, 2])")
        >>> values = fold_constants(tree)
        >>> values["N"], values["K"].flags.writeable
        (32, False)
    """
    folder = _Folder(limits or ConstantLimits(), _aliases(tree, "numpy"), _aliases(tree, "math"))
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                folder.bind(target, stmt.value, stmt.lineno)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            folder.bind(stmt.target, stmt.value, stmt.lineno)
    return {name: value for name, value in folder.values.items() if not isinstance(value, _DType)}


def _aliases(tree: ast.Module, module: str) -> set[str]:
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == module
    }


class _Folder:
    def __init__(self, limits: ConstantLimits, numpy_aliases: set[str], math_aliases: set[str]):
        self.limits = limits
        self.numpy = numpy_aliases
        self.math = math_aliases
        self.values: dict[str, Any] = {}
        self.total = 0
        self.name = ""
        self.line: int | None = None

    def fail(self, reason: str) -> ConstantError:
        return ConstantError(reason, name=self.name, line=self.line)

    def bind(self, target: ast.expr, value_node: ast.expr, line: int) -> None:
        names = _target_names(target)
        self.name, self.line = ", ".join(names or ()), line
        if not names:
            raise self.fail("targets must be names or tuples of names")
        value = self.fits(self.eval(value_node))
        if isinstance(target, ast.Name):
            pairs = [(target.id, value)]
        else:
            if not isinstance(value, tuple):
                raise self.fail(f"cannot unpack {_kind(value)} into {len(names)} names")
            if len(value) != len(names):
                raise self.fail(f"{len(value)} values for {len(names)} names")
            pairs = list(zip(names, value, strict=True))
        self.total += _size(value, self.limits.max_elements)
        if self.total > self.limits.max_elements:
            raise self.fail(
                f"module constants hold more than {self.limits.max_elements:,} values together"
            )
        for name, item in pairs:
            self.values[name] = item

    # The evaluator. Every operation checks the size of its result before computing it.
    def eval(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, str) and len(value) > self.limits.max_str_len:
                raise self.fail(f"string of {len(value):,} characters is too long")
            if value is None or isinstance(value, bool | int | float | str):
                return self.number(value)
            raise self.fail(f"{type(value).__name__} literals are not constants")
        if isinstance(node, ast.Name):
            if node.id not in self.values:
                raise self.fail(f"{node.id!r} is not an earlier constant")
            return self.values[node.id]
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.value.id in self.numpy:
                if node.attr in _NUMPY_VALUES:
                    return _NUMPY_VALUES[node.attr]
                if node.attr in ARRAY_DTYPES:
                    return _DType(node.attr)
            if node.value.id in self.math and node.attr in _MATH_VALUES:
                return _MATH_VALUES[node.attr]
            raise self.fail(f"{node.value.id}.{node.attr} is not a constant")
        if isinstance(node, ast.UnaryOp):
            return self.unary(node.op, self.eval(node.operand))
        if isinstance(node, ast.BinOp):
            return self.binary(node.op, self.eval(node.left), self.eval(node.right))
        if isinstance(node, ast.Tuple | ast.List):
            return self.sized(tuple(self.element(e) for e in node.elts))
        if isinstance(node, ast.Set):
            items = [self.element(e) for e in node.elts]
            try:
                return self.sized(frozenset(items))
            except TypeError as err:
                raise self.fail(f"set elements must be hashable ({err})") from None
        if isinstance(node, ast.Dict):
            out: dict[Any, Any] = {}
            for key_node, value_node in zip(node.keys, node.values, strict=True):
                if key_node is None:
                    raise self.fail("dict unpacking (**) is not allowed")
                key, value = self.fits(self.eval(key_node)), self.fits(self.eval(value_node))
                if isinstance(key, np.ndarray | MappingProxyType):
                    raise self.fail("dict keys must be numbers, strings or tuples of them")
                try:
                    out[key] = value
                except TypeError as err:
                    raise self.fail(f"dict keys must be hashable ({err})") from None
            self.sized(tuple(out.items()))
            return MappingProxyType(out)
        if isinstance(node, ast.Call):
            as_dict = _keyword_dict(node, self.values)
            return self.eval(as_dict) if as_dict is not None else self.array(node)
        raise self.fail(f"{type(node).__name__} is not a constant expression")

    def element(self, node: ast.expr) -> Any:
        if isinstance(node, ast.Starred):
            raise self.fail("starred elements are not allowed")
        value = self.fits(self.eval(node))
        if isinstance(value, _DType):
            raise self.fail("dtypes can only be used as dtype= of np.array")
        return value

    def number(self, value: Any) -> Any:
        """An intermediate value: integers up to 128 bits (``2**63 - 1`` passes through 2**63)."""
        if _is_count(value) and not _WIDE_MIN <= value <= _WIDE_MAX:
            raise self.fail(
                f"integer {_short(value)} is too large (arithmetic on constants stays within "
                "128 bits, and every constant within 64)"
            )
        return value

    def fits(self, value: Any) -> Any:
        """A value that is stored (a constant, an element, a key): integers fit in 64 bits."""
        if _is_count(value) and not _INT64_MIN <= value <= _INT64_MAX:
            raise self.fail(f"integer {_short(value)} does not fit in 64 bits")
        return value

    def sized(self, value: Any) -> Any:
        if _size(value, self.limits.max_elements) > self.limits.max_elements:
            raise self.fail(f"more than {self.limits.max_elements:,} values")
        return value

    def unary(self, op: ast.unaryop, value: Any) -> Any:
        if isinstance(op, ast.Not):
            if not isinstance(value, bool | int | float):
                raise self.fail(f"`not` of {_kind(value)}")
            return not value
        if not _is_number(value):
            raise self.fail(f"unary {type(op).__name__} of {_kind(value)}")
        if isinstance(op, ast.USub):
            return self.number(-value)
        if isinstance(op, ast.UAdd):
            return self.number(+value)
        if isinstance(op, ast.Invert) and isinstance(value, int):
            return self.number(~value)
        raise self.fail(f"unary {type(op).__name__} of {_kind(value)}")

    def binary(self, op: ast.operator, left: Any, right: Any) -> Any:
        fn = _BINOPS.get(type(op))
        if fn is None:
            raise self.fail(f"operator {type(op).__name__} is not allowed")
        if _is_number(left) and _is_number(right):
            self.check_numeric(op, left, right)
            try:
                return self.number(fn(left, right))
            except (ZeroDivisionError, OverflowError, ValueError) as err:
                raise self.fail(f"{type(err).__name__}: {err}") from None
        if isinstance(op, ast.Add) and type(left) is type(right) and isinstance(left, tuple | str):
            return self.limited(left, len(left) + len(right), lambda: left + right)
        if isinstance(op, ast.Mult):
            seq, count = (left, right) if _is_count(right) else (right, left)
            if isinstance(seq, tuple | str) and _is_count(count):
                return self.limited(seq, len(seq) * max(count, 0), lambda: seq * count)
        raise self.fail(f"{_kind(left)} {type(op).__name__} {_kind(right)} is not allowed")

    def limited(self, like: Any, length: int, build: Callable[[], Any]) -> Any:
        cap = self.limits.max_str_len if isinstance(like, str) else self.limits.max_elements
        if length > cap:
            raise self.fail(f"the result would have {length:,} items (limit {cap:,})")
        return self.sized(build())

    def check_numeric(self, op: ast.operator, left: Any, right: Any) -> None:
        """Refuse integer operations whose result cannot fit in 128 bits, before computing them."""
        if not (isinstance(left, int) and isinstance(right, int)):
            if isinstance(op, ast.LShift | ast.RShift | ast.BitAnd | ast.BitOr | ast.BitXor):
                raise self.fail("bit operations need integers")
            if isinstance(op, ast.Pow) and abs(left) > 1 and abs(right) > 4096:
                raise self.fail(f"exponent {right!r} is too large")
            return
        if isinstance(op, ast.Pow):
            if right < 0:
                return
            if abs(left) > 1 and (right > 127 or (abs(left).bit_length() - 1) * right > 127):
                raise self.fail(f"{_short(left)} ** {_short(right)} does not fit in 128 bits")
        elif isinstance(op, ast.LShift):
            if right < 0:
                raise self.fail("negative shift count")
            if left and left.bit_length() + right > 127:
                raise self.fail(f"{_short(left)} << {right} does not fit in 128 bits")
        elif isinstance(op, ast.RShift) and right < 0:
            raise self.fail("negative shift count")

    def array(self, node: ast.Call) -> np.ndarray[Any, Any]:
        func = node.func
        if not (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in self.numpy
            and func.attr in _ARRAY_CALLS
            and 1 <= len(node.args) <= 2
            and all(k.arg == "dtype" for k in node.keywords)
            and len(node.args) + len(node.keywords) <= 2
        ):
            raise self.fail("calls other than np.array(<literal>, dtype=...) are not constants")
        data = self.eval(node.args[0])
        dtype_node = node.args[1] if len(node.args) == 2 else None
        if node.keywords:
            dtype_node = node.keywords[0].value
        dtype: str | None = None
        if dtype_node is not None:
            found = self.eval(dtype_node) if not isinstance(dtype_node, ast.Name) else None
            dtype = found.name if isinstance(found, _DType) else _dtype_name(dtype_node, self.numpy)
            if dtype is None:
                raise self.fail("the dtype of an array constant must be a numeric numpy type")
        if not _numeric_nest(data):
            raise self.fail("np.array() constants need numbers or (nested) tuples of numbers")
        self.sized(data)
        try:
            with np.errstate(all="raise"):
                array = np.array(data, dtype=dtype)
        except (ValueError, TypeError, OverflowError, FloatingPointError) as err:
            raise self.fail(f"np.array() failed: {err}") from None
        if array.dtype.kind not in "biuf":
            raise self.fail(f"arrays of dtype {array.dtype} are not allowed")
        # Over immutable bytes: the write flag of such an array can never be turned back on.
        return np.frombuffer(array.tobytes(), dtype=array.dtype).reshape(array.shape)


def _target_names(target: ast.expr) -> list[str] | None:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List) and all(
        isinstance(e, ast.Name) for e in target.elts
    ):
        return [e.id for e in target.elts if isinstance(e, ast.Name)]
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, bool | int | float)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _numeric_nest(value: Any) -> bool:
    if _is_number(value):
        return True
    return isinstance(value, tuple) and all(_numeric_nest(v) for v in value)


def _size(value: Any, cap: int = 1 << 62) -> int:
    """Values in a constant, counting shared parts each time they appear (as the JIT sees them).

    The walk stops as soon as the count passes ``cap``, so ``(A,) * 60000`` of a 60,000-tuple
    costs ``cap`` steps, not the 3.6e9 its expansion holds.
    """
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        total += 1
        if total > cap:
            return total
        if isinstance(item, np.ndarray):
            total += int(item.size) - 1
        elif isinstance(item, tuple | frozenset):
            stack.extend(item)
        elif isinstance(item, MappingProxyType):
            for k, v in item.items():
                stack.append(k)
                stack.append(v)
        elif isinstance(item, str):
            total += len(item) // 64
    return total


def _kind(value: Any) -> str:
    return type(value).__name__


def _short(value: int) -> str:
    text = str(value) if value.bit_length() < 200 else f"<{value.bit_length()}-bit integer>"
    return text


# --- source text for the JIT module -----------------------------------------------------------


def constant_source(value: Any, *, numpy_name: str = "_vlmcar_np") -> str | None:
    """Python source that rebuilds a folded value from literals, or None if the JIT cannot use it.

    Only numbers, strings, (nested) tuples of them and numeric arrays are JIT constants (dicts
    are written by :mod:`sandbox.jit` as tuples of these); None, sets and frozen arrays of other
    dtypes keep a checker on the interpreter path.

    Example:
        >>> constant_source((1, 2.5, True))
        '(1, 2.5, True)'
        >>> constant_source(float("inf"))
        "float('inf')"
    """
    if isinstance(value, bool | int | str):
        return repr(value)  # a str's repr is a literal of the same text
    if isinstance(value, float):
        if math.isnan(value):
            return "float('nan')"
        if math.isinf(value):
            return "float('inf')" if value > 0 else "float('-inf')"
        return repr(value)
    if isinstance(value, tuple):
        parts = [constant_source(v, numpy_name=numpy_name) for v in value]
        if any(p is None for p in parts) or not parts:
            return None
        return (
            "("
            + ", ".join(p for p in parts if p is not None)
            + ("," if len(parts) == 1 else "")
            + ")"
        )
    if isinstance(value, np.ndarray):
        if value.dtype.kind not in "biuf" or value.dtype.name == "float16":
            return None
        if value.dtype.kind == "f":
            flat = [constant_source(float(v)) for v in value.ravel()]
            items = ", ".join(p for p in flat if p is not None)
        else:
            items = ", ".join(repr(v) for v in value.ravel().tolist())
        dtype = "bool_" if value.dtype.kind == "b" else value.dtype.name
        return f"{numpy_name}.array([{items}], dtype={numpy_name}.{dtype}).reshape({value.shape!r})"
    return None
