"""L7, the Numba path: compile checkers of a strict numeric subset to one native batch call.

Provides:
    JIT_NUMPY: the numpy names the subset admits (numba is the final judge of each call).
    JitLimits: size limits of the subset (nodes, allocation size).
    Kernel: a compiled batch function ``kernel(frames, firsts, out)`` plus how it was built.
    jit_refusal: why a checker's audited tree falls outside the subset (None when it fits).
    kernel_source: the kernel module's text, rebuilt from allow-listed nodes and folded constants.
    kernel_dir: the content-addressed directory a checker's kernel and Numba cache live in.
    build_kernel: audited source -> :class:`Kernel`, or a reason string when it cannot be jitted.

**Where this runs.** Building a kernel compiles code derived from checker source, so it happens only
inside an isolated worker, after every isolation layer is applied (``sandbox.worker``); the parent
only computes :func:`kernel_dir` (a hash) and creates that directory, which is the one place the
worker may write. :func:`build_kernel` in the calling process is for trusted sources only.

**What reaches Numba.** Never the checker's text and never ``ast.unparse`` of its module: a
:class:`_Rebuild` pass constructs a *new* tree from the audited one, node by node, copying only the
fields each allow-listed node type needs (a function's name, positional parameter names and body; an
assignment's targets and value ...). Annotations, decorators, defaults, docstrings, imports and
every node type not on the list are dropped or refused. Module constants are not statements of the
kernel either: their values come from :func:`sandbox.constants.fold_constants` and are written into
the kernel module as literals. numpy and math are reached through fixed private aliases, so a
checker's own names cannot shadow the engine's.

**The subset.** Numeric code over frames: assignments, ``if``, ``for`` over ``range`` (and
``reversed(range(a, b))``), ``while``, arithmetic, comparisons, indexing and slicing, tuples of
numbers, ``np.array`` of a tuple or list display, allow-listed numpy and math functions, the vision
helpers (their jitted twins in :mod:`sandbox.jit_helpers`), the checker's own non-recursive helper
functions, nested functions defined in a function's own body (hoisted beside it; the enclosing
names they read are passed at each call, which is when Python's closure reads them), and
``sum/any/all/max/min`` of a generator expression or list comprehension over ``range`` (each a
generated loop function), and ``try``/``except`` as its path where nothing raises (the body, then
``else``): where that path raises, so does the kernel, and the interpreter answers the batch,
running the handler. No strings, other lists, dicts, lambdas, ``finally``, ``is``, ``in``,
float32/float16, variable exponents or shift counts, ``round`` with digits.

**Budgets.** A kernel has no iteration counter (the parent's deadline kills a runaway one), but
recursion is refused (native stack overflow would crash the worker), the subset is capped in size
(a 5,000-line straight-line function would take minutes to compile), and every allocation whose size
comes from arguments (``np.zeros``, ``np.ones``, ``np.full``, ``np.arange``) is checked against the
byte budget before it happens.

**Agreement.** Both paths use one integer semantics: 64-bit two's complement, wrapping on overflow
(the interpreter's guards wrap Python ints the same way; in kernels, :mod:`sandbox.jit_helpers` has
Numba lower signed ``+ - *`` without LLVM's ``nsw`` flag, which would otherwise let LLVM assume that
overflow never happens and fold ``a * a < 0`` to False, and :func:`build_kernel` refuses every kernel
when a probe shows that arithmetic does not wrap); ``//`` and ``%`` follow Python's floor rules
on both (``INT64_MIN // -1`` wraps to ``INT64_MIN``); ``int()`` and one-argument ``round()`` of NaN,
infinity or a float outside the 64-bit range raise on both. Pixels and numpy scalar results are
Python numbers on the interpreter path and int64/float64 in the kernel. Array arithmetic keeps
numpy's result dtypes: in kernels, :mod:`sandbox.jit_helpers` lets Numba's array-expression
rewrite fuse only operations that give bools (it computed ``uint8 + uint8`` in int64 inside
``a < a + a``). What the construction cannot
prove, :meth:`sandbox.Checker.attach_kernel` checks: the kernel is enabled only after both paths
agree on diverse and adversarial probe frames.
"""

from __future__ import annotations

import ast
import contextlib
import copy
import dataclasses
import fcntl
import functools
import hashlib
import importlib.util
import operator
import os
import sys
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.constants import ConstantError, constant_source, fold_constants
from sandbox.fusion import (
    FUSED_COUNT_PREFIX,
    FUSED_PREFIX,
    HELPERS_ALIAS,
    NUMPY_ALIAS,
    Fuser,
    is_frame_view,
    logical_reduce_op,
)
from sandbox.surface import MATH_NAMES, VISION_NAMES

__all__ = [
    "JIT_NUMPY",
    "JitLimits",
    "Kernel",
    "build_kernel",
    "default_cache_dir",
    "jit_refusal",
    "kernel_dir",
    "kernel_source",
]

#: numpy names admitted into the subset (whether numba types a given call is checked on compile).
JIT_NUMPY = frozenset(
    """
    abs absolute all amax amin any arange arccos arcsin arctan arctan2 argmax argmin argwhere bincount ceil
    clip cos count_nonzero cumsum deg2rad diff exp flatnonzero floor full hypot isfinite isinf isnan
    log log10 log1p log2 logical_and logical_not logical_or logical_xor max maximum mean median min
    minimum nonzero ones ones_like prod ptp rad2deg round sign sin sqrt square std sum tan var where
    zeros zeros_like
    bool_ float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 e inf nan pi
    """.split()
)
_ARRAY_ATTRIBUTES = frozenset(
    "all any argmax argmin astype copy cumsum flatten max mean min ndim nonzero prod ravel reshape "
    "shape size std sum T transpose var".split()
)
_BUILTINS = frozenset(
    {"abs", "bool", "float", "int", "len", "max", "min", "range", "round", "sorted"}
)
#: Builtins that take a generator expression or list comprehension (over ranges, enumerate or
#: sequences, as loops do): the
#: comprehension becomes a generated helper function with a loop (:meth:`_Rebuild.fold`).
_FOLDS = frozenset({"all", "any", "max", "min", "sum"})
#: ``np.array(<display>, dtype=np.X)``: the dtypes a literal display may name, with the range of
#: ints each holds (None: no int literal; floats only for float64).
_ARRAY_DTYPES: Mapping[str, tuple[int, int] | None] = {
    "bool_": None,
    "float64": None,
    **{f"int{b}": (-(2 ** (b - 1)), 2 ** (b - 1) - 1) for b in (8, 16, 32, 64)},
    **{f"uint{b}": (0, 2**b - 1) for b in (8, 16, 32, 64)},
}
#: Builtin types as numpy reads them in ``.astype(int)`` or ``dtype=float`` (int is int64 on
#: every platform numpy 2 supports).
_BUILTIN_DTYPES = {"int": "int64", "float": "float64", "bool": "bool_"}
#: Builtins replaced by twins with the interpreter's semantics (see :mod:`sandbox.jit_helpers`).
_BUILTIN_TWINS = {"int": "vlmcar_int", "round": "vlmcar_round", "sorted": "vlmcar_sorted"}
#: ``math`` functions that return ints in Python: twins with Python's errors.
_MATH_INT_TWINS = {"floor": "vlmcar_floor", "ceil": "vlmcar_ceil", "trunc": "vlmcar_trunc"}
#: ``math`` functions whose C versions return NaN/infinity where CPython raises: checked twins.
_MATH_CHECKED = frozenset(
    "acos asin atan atan2 copysign cos degrees exp fabs hypot log log10 log2 radians sin sqrt "
    "tan".split()
)
#: ``math`` functions that cannot fail, called directly.
_MATH_PLAIN = frozenset({"isfinite", "isinf", "isnan"})
#: Whole-array reductions with exact twins: integer and bool arrays, and for sum, mean, std and
#: var float64 arrays too, added in numpy's order (other dtypes are refused at typing).
_REDUCTION_TWINS = {
    "sum": "vlmcar_sum",
    "mean": "vlmcar_mean",
    "prod": "vlmcar_prod",
    "std": "vlmcar_std",
    "var": "vlmcar_var",
}
#: Reductions along one axis (2-D and 3-D arrays; float max/min/sum/mean refused at typing).
_AXIS_TWINS = {
    "all": "vlmcar_all_axis",
    "any": "vlmcar_any_axis",
    "max": "vlmcar_max_axis",
    "amax": "vlmcar_max_axis",
    "min": "vlmcar_min_axis",
    "amin": "vlmcar_min_axis",
    "sum": "vlmcar_sum_axis",
    "mean": "vlmcar_mean_axis",
}
#: numpy functions computed in float16/float32 for narrow integer arrays (float64 in numba):
#: their array arguments are checked at typing (``vlmcar_float_arg``).
_FLOAT_UFUNCS = frozenset(
    "arccos arcsin arctan arctan2 cos deg2rad exp hypot log log10 log1p log2 rad2deg sin sqrt "
    "tan".split()
)
#: numpy calls whose result size comes from their arguments: checked before allocating.
_SIZED_ALLOCATIONS = frozenset({"zeros", "ones", "full"})
_NP = NUMPY_ALIAS
_MATH = "_vlmcar_math"
_PYNUM = "vlmcar_pynum"
_FLOORDIV = "vlmcar_floordiv"
_SUB = "vlmcar_sub"
_SETITEM = "vlmcar_setitem"
_SLICE = "vlmcar_slice"
_NEG = "vlmcar_neg"
_SHAPE = "vlmcar_checked_shape"
_ARANGE = "vlmcar_checked_arange"
_HELPERS = HELPERS_ALIAS
#: Operators with a twin for a module tuple constant against an array (``vlmcar_tuple_<name>``).
_TUPLE_OPS: Mapping[type[ast.AST], str] = {
    ast.Eq: "eq",
    ast.NotEq: "ne",
    ast.Lt: "lt",
    ast.LtE: "le",
    ast.Gt: "gt",
    ast.GtE: "ge",
    ast.Add: "add",
    ast.Sub: "sub",
    ast.Mult: "mul",
    ast.Div: "truediv",
    ast.FloorDiv: "floordiv",
    ast.Mod: "mod",
}
_MAX_SHIFT = 63
_MAX_LITERAL_POWER = 64


@dataclass(frozen=True)
class JitLimits:
    """Size limits of the JIT subset.

    Attributes:
        max_nodes: most AST nodes in the rebuilt module; larger checkers stay on the interpreter
            (compile time grows faster than linearly with function size).
        max_alloc_bytes: largest array a kernel may allocate with ``np.zeros/ones/full/arange``
            (checked at run time before allocating; the kernel raises ``MemoryError`` past it).
        max_tuple_values: most values in the module's tuple constants together, shared parts
            counted each time they appear; Numba types every element of a tuple constant, so
            compile time grows steeply with it (4,096 values: 15 s, against 0.5 s for an array
            of 65,536). Larger tables keep the checker on the interpreter; ``np.array`` is fast.
        fuse: lower reductions of per-pixel expressions to one pass (:mod:`sandbox.fusion`);
            off only to measure what fusion gains (a kernel directory holds one variant: give
            the unfused one its own ``cache_dir``).
    """

    max_nodes: int = 4_000
    max_alloc_bytes: int = 64 * 2**20
    max_tuple_values: int = 1_024
    fuse: bool = True


@dataclass(frozen=True)
class Kernel:
    """A compiled batch kernel for one checker.

    Attributes:
        run: ``run(frames, firsts, out)``: frames and firsts (N, H, W, 3) read-only C-contiguous
            uint8, out (N,) bool; one native call for the whole batch, single-threaded.
        path: the generated module's file (in the checker's :func:`kernel_dir`).
        seconds: time to build (compile, or load from Numba's cache).
        cached: whether Numba's cache had the compiled code already.
    """

    run: Callable[[Any, Any, Any], None]
    path: Path
    seconds: float
    cached: bool


def default_cache_dir() -> Path:
    """Where generated kernels and Numba's cache live (``$VLMCAR_CACHE_DIR`` or ~/.cache)."""
    root = os.environ.get("VLMCAR_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vlm-car"
    )
    return Path(root) / "jit"


def kernel_dir(source: str, *, entry: str = "check", cache_dir: Path | None = None) -> Path:
    """The directory a checker's kernel module and Numba cache live in (not created here).

    Content-addressed by the checker's text, its entry name and the code the kernel is built from
    (this module, the JIT helpers, the vision kernels, the constant folder), so the parent can name
    it by hashing alone, before anything of the checker is compiled, and hand it to the worker as
    the only directory it may write. Checkers never share a directory: none can write another's
    cache.
    """
    digest = hashlib.sha256()
    for part in (source, "\0", entry, "\0", _engine_digest()):
        digest.update(part.encode("utf-8", "surrogatepass"))
    return (cache_dir or default_cache_dir()) / f"k{digest.hexdigest()[:32]}"


def _engine_digest() -> str:
    """Hash of the trusted code a kernel is generated from or inlines."""
    from sandbox import constants, jit_helpers, surface, vision

    digest = hashlib.sha256()
    for module in (sys.modules[__name__], constants, jit_helpers, surface, vision):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


# --- the rebuild ---------------------------------------------------------------------------------


class _Refused(Exception):
    """The checker leaves the subset here (``line``: where, ``why``: what)."""

    def __init__(self, node: ast.AST | None, why: str) -> None:
        self.line = getattr(node, "lineno", None)
        self.why = why
        super().__init__(f"line {self.line if self.line is not None else '?'}: {why}")


_OPERATORS: Mapping[type[ast.AST], Callable[[], ast.operator]] = {
    ast.Add: ast.Add,
    ast.Sub: ast.Sub,
    ast.Mult: ast.Mult,
    ast.Div: ast.Div,
    ast.FloorDiv: ast.FloorDiv,
    ast.Mod: ast.Mod,
    ast.Pow: ast.Pow,
    ast.LShift: ast.LShift,
    ast.RShift: ast.RShift,
    ast.BitOr: ast.BitOr,
    ast.BitXor: ast.BitXor,
    ast.BitAnd: ast.BitAnd,
}
_UNARY: Mapping[type[ast.AST], Callable[[], ast.unaryop]] = {
    ast.Not: ast.Not,
    ast.Invert: ast.Invert,
    ast.UAdd: ast.UAdd,
    ast.USub: ast.USub,
}
_COMPARE: Mapping[type[ast.AST], Callable[[], ast.cmpop]] = {
    ast.Eq: ast.Eq,
    ast.NotEq: ast.NotEq,
    ast.Lt: ast.Lt,
    ast.LtE: ast.LtE,
    ast.Gt: ast.Gt,
    ast.GtE: ast.GtE,
}
_SHOWN_COMPARE: Mapping[type[ast.AST], str] = {
    ast.Is: "is",
    ast.IsNot: "is",
    ast.In: "in",
    ast.NotIn: "in",
}
_BOOLOPS: Mapping[type[ast.AST], Callable[[], ast.boolop]] = {ast.And: ast.And, ast.Or: ast.Or}
#: numpy functions (and methods) whose float versions differ from numba's on signed zeros or NaN
#: (their float arguments are refused at typing: ``vlmcar_no_float``)
_SIGNED_ZERO_FUNCS = frozenset(
    {"maximum", "minimum", "fmax", "fmin", "clip", "sign", "cumsum", "median", "nanmax", "nanmin"}
)


def _may_be_unsigned(node: ast.Call) -> bool:
    """Whether ``x.astype(D)`` may cast to uint32 or uint64.

    numpy wraps a float out of range there and numba saturates; a dtype not named here counts.
    """
    if len(node.args) != 1 or node.keywords:
        return True
    d = node.args[0]
    if isinstance(d, ast.Attribute):
        return d.attr in ("uint32", "uint64", "uint", "uintp", "ulonglong")
    if isinstance(d, ast.Name):
        return d.id not in _BUILTIN_DTYPES
    return True


#: the nodes of an expression that only reads (no binding, no call but of a pure builtin):
#: divmod's arguments
_PURE_READS = (ast.Name, ast.Constant, ast.Attribute, ast.Subscript, ast.Slice, ast.Tuple,
               ast.BinOp, ast.UnaryOp, ast.Load, ast.operator, ast.unaryop)  # fmt: skip
_PURE_CALLS = frozenset({"int", "float", "len", "abs"})


def _pure_read(node: ast.AST) -> bool:
    """Whether ``node`` is part of an expression that only reads (see ``_PURE_READS``)."""
    if isinstance(node, ast.Call):
        return isinstance(node.func, ast.Name) and node.func.id in _PURE_CALLS and not node.keywords
    return isinstance(node, _PURE_READS)


class _Rebuild:
    """Build a fresh kernel tree from an audited module, copying allow-listed nodes only."""

    def __init__(
        self, tree: ast.Module, constants: Mapping[str, Any], limits: JitLimits, entry: str = ""
    ) -> None:
        self.entry = entry if limits.fuse else ""
        #: per function, its parameters that always hold a frame (the fuser's leaves)
        self.frame_params = _frame_params(tree, entry) if limits.fuse else {}
        #: the entry function's fused reductions (sandbox.fusion) while it is rebuilt, else None
        self.fuser: Fuser | None = None
        # Elements of at most 8 bytes each: the check runs before the dtype is known.
        self.max_elements = max(1, limits.max_alloc_bytes // 8)
        self.max_tuple_values = limits.max_tuple_values
        self.tuple_sizes: dict[str, int] = {}
        self.numpy = _aliases(tree, "numpy")
        self.math = _aliases(tree, "math")
        self.functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        #: the module's functions, for the fuser to inline helpers that build masks
        self.function_defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
        #: the module functions' parameters: calls pass every argument by position
        self.signatures = {n.name: n.args for n in tree.body if isinstance(n, ast.FunctionDef)}
        #: whether the checker writes any array element (then reshape keeps numba's own rules:
        #: a copy and numpy's view differ once something is written through one of them)
        bound: dict[str, set[bool]] = {}  # name -> whether each binding is a dict display
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
                bound.setdefault(n.id, set())
        for n in ast.walk(tree):
            if isinstance(n, ast.Assign):
                for t in n.targets:
                    if isinstance(t, ast.Name):
                        bound.setdefault(t.id, set()).add(isinstance(n.value, ast.Dict))
        dicts = {name for name, kinds in bound.items() if kinds == {True}}
        self.local_dicts = dicts
        #: (a store into a local dict, bound only to dict displays, writes no array)
        self.writes = any(
            isinstance(n, ast.Subscript)
            and not isinstance(n.ctx, ast.Load)
            and not (isinstance(n.value, ast.Name) and n.value.id in dicts)
            for n in ast.walk(tree)
        )
        self.constants = dict(constants)
        #: module dict constants: read only as NAME[<literal>], NAME.items()/keys()/values(),
        #: len(NAME) and ``for k in NAME`` (each a tuple constant of the kernel module)
        self.dicts = {name for name, value in constants.items() if isinstance(value, Mapping)}
        #: whether some value may be None (a ``None`` constant or a bare ``return``): then names
        #: read where numba needs the value itself go through ``vlmcar_some``
        self.optional = any(
            (isinstance(n, ast.Constant) and n.value is None)
            or (isinstance(n, ast.Return) and n.value is None)
            for n in ast.walk(tree)
        )
        #: names bound only as the targets of ``for NAME in range(...)`` loops and comprehensions
        #: (always ints: an index of them needs no mask check)
        range_targets = {
            id(n.target)
            for n in ast.walk(tree)
            if isinstance(n, ast.For | ast.comprehension)
            and isinstance(n.target, ast.Name)
            and _is_range(n.iter)
        }
        stored: dict[str, bool] = {}
        for n in ast.walk(tree):
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load):
                stored[n.id] = stored.get(n.id, True) and id(n) in range_targets
            elif isinstance(n, ast.arg):
                stored[n.arg] = False
        self.range_names = {name for name, only in stored.items() if only}
        self.calls: dict[str, set[str]] = {name: set() for name in self.functions}
        self.current = ""
        self.loops = 0  # loops over sequences so far (their index names are numbered)
        #: generated helper functions (folded comprehensions, hoisted nested functions)
        self.extra: list[ast.FunctionDef] = []
        #: the current function's nested functions: name -> (hoisted name, captured names)
        self.nested: dict[str, tuple[str, tuple[str, ...]]] = {}
        # flat tuples of numbers of one kind: numpy turns them into arrays against an array
        self.tuple_operands = {name for name, value in constants.items() if _numeric_tuple(value)}
        # and local names bound to a display of numbers (``yellow = (255, 255, 0)`` in a
        # function, read there or by a nested function): the twins decide by type at typing
        self.tuple_operands |= {
            t.id
            for n in ast.walk(tree)
            if isinstance(n, ast.Assign) and isinstance(n.value, ast.Tuple | ast.List)
            and n.value.elts and all(_number_literal(e) is not None for e in n.value.elts)
            for t in n.targets
            if isinstance(t, ast.Name)
        }  # fmt: skip

    # statements ------------------------------------------------------------------------------

    def function(
        self,
        node: ast.FunctionDef,
        *,
        name: str,
        key: str = "",
        captured: Sequence[str] = (),
        frames: Sequence[str] = (),
        literals: Mapping[str, ast.expr] | None = None,
    ) -> ast.FunctionDef:
        """Rebuild one function (its nested functions hoisted beside it).

        ``key`` names it in the call graph; ``captured`` are the enclosing function's names a
        hoisted nested function reads (its extra last parameters); ``frames`` and ``literals``
        those of them that are frames and literals in the enclosing function (for fusion).
        """
        args = node.args
        if args.kwonlyargs or args.kw_defaults or args.vararg or args.kwarg:
            raise _Refused(node, "*args and keyword-only parameters are outside the subset")
        if args.defaults and key:
            raise _Refused(node, "defaults of nested functions are outside the subset")
        for default in args.defaults:  # module functions: filled in at each call
            if not self._constant_default(default):
                raise _Refused(
                    default,
                    "a default other than a literal or a module constant is outside the subset",
                )
        outer = (self.current, self.nested)
        self.current = key or node.name
        self.calls.setdefault(self.current, set())
        self.nested = {}
        for a in args.posonlyargs + args.args:
            self._not_shadowing(node, a.arg)
        names = [a.arg for a in args.posonlyargs + args.args] + list(captured)
        params = [ast.arg(arg=_local(n)) for n in names]
        statements = [_as_def(stmt) for stmt in _without_docstring(node.body)]
        grown = _appended_list_problem(node)
        if grown is not None:
            raise _Refused(*grown)
        unbound = _unbound_read(node)
        if unbound is not None:
            raise _Refused(
                unbound,
                f"{unbound.id!r} may be read before it is assigned (Python raises there; a kernel "
                "would read whatever its slot holds): outside the JIT subset",
            )
        self._check_nested(statements, names)
        outer_fuser = self.fuser
        self.fuser = None
        if node.name in self.frame_params and not key:
            frames = self.frame_params[node.name]
        if frames:
            self.fuser = Fuser(
                node, frames, self.constants, self.numpy, self._hidden(), outer=literals,
                functions=self.function_defs,
            )  # fmt: skip
        body = self._body(statements, names)
        self.fuser = outer_fuser
        self.current, self.nested = outer
        return ast.FunctionDef(
            name=name,
            args=ast.arguments(
                posonlyargs=[], args=params, vararg=None, kwonlyargs=[], kw_defaults=[],
                kwarg=None, defaults=[],
            ),
            body=body or [ast.Pass()],
            decorator_list=[],
            returns=None,
            type_comment=None,
        )  # fmt: skip

    def _body(self, statements: Sequence[ast.stmt], names: Sequence[str]) -> list[ast.stmt]:
        """The rebuilt statements; with a fuser, its reductions fused and its masks dropped.

        Should a dropped name still be read in the rebuilt code (a position the fuser counted as
        fused that the rebuild reached another way), the body is rebuilt without fusion.
        """
        fuser = self.fuser
        first_extra = len(self.extra)
        body: list[ast.stmt] = []
        for stmt in statements:
            if isinstance(stmt, ast.FunctionDef):
                self.hoist(stmt, statements, names)
            elif fuser is None or not fuser.dropped(stmt):
                body += self.statement(stmt)
        if fuser is not None and fuser.dropped_names:
            made = [*body, *self.extra[first_extra:]]
            read = {n.id for s in made for n in ast.walk(s) if isinstance(n, ast.Name)}
            if read & fuser.dropped_names:
                self.fuser = None
                self.nested = {}
                return self._body(statements, names)
        return body

    def _hidden(self) -> set[str]:
        """Names a local may not take: those the rebuild resolves itself."""
        hidden = set(self.constants) | self.functions | self.numpy | self.math
        return hidden | _BUILTINS | _FOLDS | VISION_NAMES | {"reversed", "enumerate"}

    def _view(self, name: str, slices: list[ast.Slice] | None) -> ast.expr:
        """A fused helper's argument: a frame (or view) name, sliced by its spatial slices."""
        base = ast.Name(_local(name), ast.Load())
        if slices is None:
            return base
        parts: list[ast.expr] = [self.index(s) for s in slices]
        return ast.Subscript(value=base, slice=ast.Tuple(parts, ast.Load()), ctx=ast.Load())

    def _check_nested(self, statements: Sequence[ast.stmt], params: Sequence[str]) -> None:
        """Refuse nested functions that hoisting could not keep exact.

        A nested function is hoisted only when it is a statement of the function's own body (not
        inside an ``if`` or loop), defined once, never assigned, and not named before its
        ``def`` (Python would raise there).
        """
        defs = [(i, s) for i, s in enumerate(statements) if isinstance(s, ast.FunctionDef)]
        names = [s.name for _, s in defs]
        for i, stmt in defs:
            if names.count(stmt.name) > 1 or stmt.name in params:
                raise _Refused(stmt, f"the nested function {stmt.name}() is defined twice")
            for j, other in enumerate(statements):
                used = {n.id for n in ast.walk(other) if isinstance(n, ast.Name)}
                if stmt.name in used and (j < i or _stores(other, stmt.name)):
                    raise _Refused(
                        other,
                        f"the nested function {stmt.name}() is named before its def or rebound",
                    )

    def hoist(
        self, node: ast.FunctionDef, statements: Sequence[ast.stmt], params: Sequence[str]
    ) -> None:
        """A nested function as a module-level kernel function (lambda lifting).

        The enclosing function's names it reads become extra parameters, passed at each call:
        a call then reads their values at call time, which is what Python's closure does.
        Nested functions it would read (a function cannot be a kernel argument) are refused.
        """
        if node.decorator_list:  # pragma: no cover - the audit refuses decorators
            raise _Refused(node, "decorators are outside the JIT subset")
        enclosing = set(params).union(
            *(_names(s, ast.Store) for s in statements if not isinstance(s, ast.FunctionDef))
        )
        functions = {s.name for s in statements if isinstance(s, ast.FunctionDef)}
        free = _free_names(node)
        if free & functions:
            shown = sorted(free & functions)[0]
            raise _Refused(
                node,
                f"the nested function {node.name}() calls the nested function {shown}(), "
                "which is outside the JIT subset",
            )
        captured = tuple(sorted(free & enclosing))
        hoisted = f"_vlmcar_h{len(self.extra)}_{node.name}"  # numbered: no two can collide
        fuser = self.fuser  # the enclosing function's: its frames and literals, passed on (none
        # when fusion is off)
        frames = [c for c in captured if fuser is not None and c in fuser.frames]
        literals = fuser.literals(captured) if fuser is not None else {}
        self.extra.append(
            self.function(
                node, name=hoisted, key=hoisted, captured=captured, frames=frames,
                literals=literals,
            )
        )  # fmt: skip
        self.nested[node.name] = (hoisted, captured)

    def block(self, body: Sequence[ast.stmt]) -> list[ast.stmt]:
        out: list[ast.stmt] = []
        for stmt in body:
            out += self.statement(stmt)
        return out

    def statement(self, node: ast.stmt) -> list[ast.stmt]:
        if isinstance(node, ast.Return):
            return [ast.Return(value=None if node.value is None else self.expr(node.value))]
        if isinstance(node, ast.Assign):
            for t in node.targets:  # names bound to tuples: their sizes count where they nest
                if isinstance(t, ast.Name):
                    self.tuple_sizes[t.id] = max(
                        self.tuple_sizes.get(t.id, 1), self._tuple_values(node.value)
                    )
            for t in node.targets:
                if isinstance(t, ast.Tuple) and any(
                    isinstance(e, ast.Subscript | ast.Starred) for e in ast.walk(t)
                ):
                    raise _Refused(
                        t, "element stores inside a tuple target are outside the JIT subset"
                    )
            only = node.targets[0]
            if (
                len(node.targets) == 1
                and isinstance(only, ast.Subscript)
                and isinstance(only.value, ast.Name)
                and only.value.id in self.local_dicts
            ):
                # d[k] = v into a local dict: numba infers the dict's types from this store
                # itself, then the cap is checked (the kernel defers past it)
                store = ast.Assign(targets=[self.target(only)], value=self.expr(node.value))
                cap = _helper_call("vlmcar_dict_cap", [_as_load(self.target(only.value))])
                return [store, ast.Expr(value=cap)]
            targets = [self.target(t) for t in node.targets]
            unpacks = any(isinstance(t, ast.Tuple) for t in node.targets)
            value = self.some(node.value) if unpacks else self.expr(node.value)
            if len(targets) > 1:  # a = b[0] = v: one value, each store on its own (setitem twin)
                self.loops += 1
                keep = f"_vlmcar_t{self.loops}"
                first = _store([ast.Name(keep, ast.Store())], value)
                return [first, *(_store([t], ast.Name(keep, ast.Load())) for t in targets)]
            return [_store(targets, value)]
        if isinstance(node, ast.AnnAssign):
            if node.value is None:
                return []  # a bare annotation binds nothing
            target = self.target(node.target)
            return [_store([target], self.expr(node.value))]
        if isinstance(node, ast.AugAssign):
            target = self.target(node.target)
            value = self.binop(node.op, _as_load(target), node.value, node)
            return [_store([target], value)]
        if isinstance(node, ast.If):
            return [ast.If(test=self.expr(node.test), body=self.block(node.body) or [ast.Pass()],
                           orelse=self.block(node.orelse))]  # fmt: skip
        if isinstance(node, ast.For):
            if node.orelse:
                raise _Refused(node, "for/else is outside the JIT subset")
            return self.sequence_loop(node)
        if isinstance(node, ast.While):
            if node.orelse:
                raise _Refused(node, "while/else is outside the JIT subset")
            return [ast.While(test=self.expr(node.test), body=self.block(node.body) or [ast.Pass()],
                              orelse=[])]  # fmt: skip
        if isinstance(node, ast.Break):
            return [ast.Break()]
        if isinstance(node, ast.Continue):
            return [ast.Continue()]
        if isinstance(node, ast.Pass):
            return [ast.Pass()]
        if isinstance(node, ast.FunctionDef):
            raise _Refused(node, f"the nested function {node.name}() is outside the JIT subset")
        if isinstance(node, ast.Expr):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return []  # a string statement (a docstring or a comment-like string)
            value = node.value
            if (
                isinstance(value, ast.Call)
                and isinstance(value.func, ast.Attribute)
                and value.func.attr == "append"
            ):
                # the one call made for its effect: numba infers the list's type from it
                if (
                    not isinstance(value.func.value, ast.Name)
                    or len(value.args) != 1
                    or value.keywords
                    or isinstance(value.args[0], ast.Starred)
                ):
                    raise _Refused(node, "only NAME.append(value) is in the JIT subset")
                grow = ast.Call(
                    func=ast.Attribute(
                        value=self.name(value.func.value), attr="append", ctx=ast.Load()
                    ),
                    args=[self.expr(value.args[0])],
                    keywords=[],
                )
                cap = _helper_call("vlmcar_list_cap", [self.name(value.func.value)])
                return [ast.Expr(value=grow), ast.Expr(value=cap)]
            raise _Refused(
                node, "expression statements (calls for their effect) are outside the subset"
            )
        if isinstance(node, ast.Try):
            raise _Refused(node, "try/finally is outside the JIT subset")
        raise _Refused(node, f"{type(node).__name__} statements are outside the JIT subset")

    def _dtype_keyword(self, node: ast.Call) -> str | None:
        """``X`` of a call's only keyword ``dtype=np.X`` (or ``dtype=int``...), else None."""
        if len(node.keywords) != 1 or node.keywords[0].arg != "dtype":
            return None
        return self._dtype_name(node.keywords[0].value)

    def _dtype_name(self, v: ast.expr) -> str | None:
        """The numpy type a dtype expression names (``np.uint8``; ``int`` is int64), or None."""
        if isinstance(v, ast.Name) and v.id in _BUILTIN_DTYPES:
            return _BUILTIN_DTYPES[v.id]
        if (
            isinstance(v, ast.Attribute)
            and isinstance(v.value, ast.Name)
            and v.value.id in self.numpy
            and v.attr in _ARRAY_DTYPES
        ):
            return v.attr
        return None

    def _constant_default(self, node: ast.expr) -> bool:
        """Whether a default is the same value at every call: a literal, a module constant."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            node = node.operand
            return isinstance(node, ast.Constant) and type(node.value) in (int, float)
        if isinstance(node, ast.Constant):
            return node.value is None or type(node.value) in (int, float, bool, str)
        if isinstance(node, ast.Tuple):
            return all(self._constant_default(e) for e in node.elts)
        return isinstance(node, ast.Name) and node.id in self.constants

    def own_arguments(self, node: ast.Call, name: str) -> list[ast.expr]:
        """The arguments of a call of the module function ``name``, every one by position.

        Python binds keywords to parameters and fills in defaults (evaluated once, when the
        ``def`` ran: literals and frozen module constants are the same value at every call);
        the kernel's functions have neither, so the call passes everything in order. A call
        Python would refuse (an unknown or repeated keyword, a missing or extra argument) is
        refused.
        """
        sig = self.signatures[name]
        params = [a.arg for a in sig.posonlyargs + sig.args]
        defaults = dict(zip(params[len(params) - len(sig.defaults) :], sig.defaults, strict=True))
        if len(node.args) > len(params):
            raise _Refused(
                node, f"{name}() given more arguments than it takes: outside the JIT subset"
            )
        keywords = {k.arg: k.value for k in node.keywords}
        if len(keywords) != len(node.keywords) or None in keywords:
            raise _Refused(
                node, f"a repeated or ** keyword in a call of {name}() is outside the JIT subset"
            )
        positional_only = {a.arg for a in sig.posonlyargs}
        order = [params.index(k.arg) for k in node.keywords if k.arg in params]
        if order != sorted(order) and any(
            isinstance(sub, ast.Call | ast.NamedExpr)
            for k in node.keywords
            for sub in ast.walk(k.value)
        ):
            # Python evaluates keywords as written, the kernel's call in parameter order: a
            # call with effects (a helper writing a captured array) would see the swap
            raise _Refused(
                node,
                f"keywords out of {name}()'s parameter order that call functions are "
                "outside the JIT subset",
            )
        out = [self.expr(a) for a in node.args]
        for param in params[len(node.args) :]:
            if param in keywords and param not in positional_only:
                out.append(self.expr(keywords.pop(param)))
            elif param in defaults:
                out.append(self.expr(defaults[param]))
            else:
                raise _Refused(
                    node,
                    f"{name}() called without its argument {param!r} (Python raises TypeError "
                    "there): outside the JIT subset",
                )
        if keywords:
            shown = sorted(k for k in keywords if k is not None)[0]
            raise _Refused(
                node,
                f"{name}() got the keyword {shown!r} it cannot take there (Python raises "
                "TypeError): outside the JIT subset",
            )
        return out

    def _not_shadowing(self, node: ast.AST, name: str) -> None:
        """Refuse a local (parameter or assigned name) that hides a name the rebuild resolves.

        The rebuild reads module constants, the checker's functions, ``np``/``math`` and the
        builtins and vision helpers by name; a local of the same name would hide them in Python
        but not in the kernel.
        """
        if name in self._hidden():
            raise _Refused(
                node,
                f"a local named {name!r} hides the module-level or provided name; rename it "
                "(outside the JIT subset)",
            )

    def range_iter(self, it: ast.expr) -> tuple[list[ast.stmt], ast.Call]:
        """The ``range(...)`` a loop or comprehension iterates: bound statements and the call.

        The bounds are evaluated once, in order, into locals, and ``vlmcar_range_check`` defers
        to the interpreter where the range's length does not fit an int64 (numba would compute
        a wrapped length and skip the loop; Python iterates). ``reversed`` ranges are countdowns
        instead (:meth:`reversed_loop`).
        """
        if not (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and it.func.id == "range"
            and not it.keywords
            and 1 <= len(it.args) <= 3
        ):
            raise _Refused(
                it,
                "only `for ... in range(...)` (or `reversed(range(a, b))`) loops are in the "
                "JIT subset",
            )
        self.loops += 1
        names = [f"_vlmcar_r{self.loops}_{i}" for i in range(len(it.args))]
        bounds: list[ast.stmt] = [  # ints only, as the interpreter's range takes them
            _store([ast.Name(n, ast.Store())], _helper_call("vlmcar_range_arg", [self.expr(a)]))
            for n, a in zip(names, it.args, strict=True)
        ]
        loads: list[ast.expr] = [ast.Name(n, ast.Load()) for n in names]
        full = loads if len(loads) == 3 else [ast.Constant(0), *loads] if len(loads) == 1 else loads
        if len(full) == 2:
            full = [*full, ast.Constant(1)]
        bounds.append(ast.Expr(value=_helper_call("vlmcar_range_check", full)))
        return bounds, ast.Call(func=ast.Name("range", ast.Load()), args=loads, keywords=[])

    def sequence_loop(self, node: ast.For) -> list[ast.stmt]:
        """``for x in seq`` and ``for i, x in enumerate(seq[, start])`` as loops over indices.

        ``seq`` (a tuple, a module tuple constant, an array: anything with ``len`` and integer
        indexing) is evaluated once, as Python does, and ``x = seq[k]`` is read at the top of
        each pass, so a loop that changes an array it walks sees the change where Python's
        iterator would. ``enumerate(range(...))`` counts beside the range. numba decides at
        typing whether ``seq`` can be indexed that way (a tuple of mixed types cannot).
        """
        return self.loop(node.target, node.iter, self.block(node.body))

    def loop(self, target: ast.expr, it: ast.expr, body: list[ast.stmt]) -> list[ast.stmt]:
        """The statements of ``for target in it: body`` (``body`` already rebuilt)."""
        named = it.func.id if isinstance(it, ast.Call) and isinstance(it.func, ast.Name) else None
        if any(isinstance(e, ast.Subscript | ast.Attribute) for e in ast.walk(target)):
            raise _Refused(target, "loop targets other than names are outside the JIT subset")
        if named == "reversed":
            return self.reversed_loop(target, it, body)
        if named == "range":
            bounds, call = self.range_iter(it)
            return [*bounds, ast.For(target=self.target(target), iter=call,
                                     body=body or [ast.Pass()], orelse=[], type_comment=None)]  # fmt: skip
        counter: ast.expr | None = None
        index_target: ast.expr | None = None
        if named == "enumerate":
            assert isinstance(it, ast.Call)
            if it.keywords or not 1 <= len(it.args) <= 2:
                raise _Refused(it, "enumerate() takes a sequence and a start here")
            if not (isinstance(target, ast.Tuple) and len(target.elts) == 2):
                raise _Refused(it, "enumerate() loops must unpack (index, value) here")
            counter = self.expr(it.args[1]) if len(it.args) == 2 else ast.Constant(0)
            index_target, target, it = target.elts[0], target.elts[1], it.args[0]
        elif named is not None and named != "sorted":  # sorted(): a new list, walked
            raise _Refused(
                it,
                f"loops over {named}() are outside the JIT subset (range, reversed(range), "
                "enumerate and sequences are in it)",
            )
        k = self.loops = self.loops + 1
        seq, index = f"_vlmcar_s{k}", f"_vlmcar_i{k}"

        head: list[ast.stmt] = []
        if _is_range(it):  # enumerate(range(...)): the range's own values, a count beside them
            head, loop_iter = self.range_iter(it)
            value_target = self.target(target)
            loop_var = value_target
        else:
            part = f"_vlmcar_p{k}"
            if isinstance(it, ast.Name) and it.id in self.dicts:  # for k in NAME: its keys
                seq_value: ast.expr = ast.Name(_dict_part(it.id, "keys"), ast.Load())
            else:
                seq_value = self.expr(it)
            head = [
                _store([ast.Name(seq, ast.Store())], seq_value),
                _store([ast.Name(part, ast.Store())],
                       _helper_call("vlmcar_iter_chunk", [_load(seq), ast.Constant(0)])),
            ]  # fmt: skip
            size = ast.Call(func=ast.Name("len", ast.Load()), args=[_load(seq)], keywords=[])
            loop_iter = ast.Call(func=ast.Name("range", ast.Load()), args=[size], keywords=[])
            loop_var = ast.Name(index, ast.Store())
            # a 1-D array is read in copied chunks, as the interpreter's guard iterates it
            chunk = ast.Attribute(value=_load(_HELPERS), attr="ITER_CHUNK", ctx=ast.Load())
            at_chunk = ast.BoolOp(op=ast.And(), values=[
                ast.Compare(left=_load(index), ops=[ast.Gt()], comparators=[ast.Constant(0)]),
                ast.Compare(left=ast.BinOp(_load(index), ast.Mod(), chunk),
                            ops=[ast.Eq()], comparators=[ast.Constant(0)]),
            ])  # fmt: skip
            refresh = ast.If(test=at_chunk, body=[_store([ast.Name(part, ast.Store())],
                             _helper_call("vlmcar_iter_chunk", [_load(seq), _load(index)]))],
                             orelse=[])  # fmt: skip
            got = _helper_call("vlmcar_iter_get", [_load(seq), _load(part), _load(index)])
            item = _helper_call(_PYNUM, [got])
            body = [refresh, _store([self.target(target)], item), *body]
        if counter is not None and index_target is not None:
            count = f"_vlmcar_n{k}"
            head.append(_store([ast.Name(count, ast.Store())],
                               ast.BinOp(left=counter, op=ast.Sub(), right=ast.Constant(1))))  # fmt: skip
            step = ast.BinOp(left=_load(count), op=ast.Add(), right=ast.Constant(1))
            body = [_store([ast.Name(count, ast.Store())], step),
                    _store([self.target(index_target)], _load(count)), *body]  # fmt: skip
        loop = ast.For(target=loop_var, iter=loop_iter, body=body or [ast.Pass()], orelse=[],
                       type_comment=None)  # fmt: skip
        return [*head, loop]

    def reversed_loop(self, target: ast.expr, it: ast.expr, body: list[ast.stmt]) -> list[ast.stmt]:
        """``for t in reversed(range(a, b))`` as a countdown that never leaves ``a..b``.

        ``a`` then ``b`` are evaluated once, in that order; ``k`` starts at ``b`` and steps down
        while ``k > a``, so no bound is ever passed by one (``range(b - 1, a - 1, -1)`` would wrap
        at the int64 limits). The target is assigned from ``k`` at the top of each pass, so the
        body rebinding it does not change the iteration. With a step, :meth:`reversed_step_loop`.
        """
        inner = it.args[0] if isinstance(it, ast.Call) and len(it.args) == 1 else None
        if not (
            isinstance(inner, ast.Call)
            and isinstance(inner.func, ast.Name)
            and inner.func.id == "range"
            and not inner.keywords
            and not it.keywords  # type: ignore[attr-defined]
            and 1 <= len(inner.args) <= 3
        ):
            raise _Refused(it, "only `reversed(range(...))` is in the JIT subset")
        if len(inner.args) == 3:
            return self.reversed_step_loop(target, inner, body)
        self.loops += 1
        low, k = f"_vlmcar_lo{self.loops}", f"_vlmcar_k{self.loops}"
        start = (
            ast.Constant(0)
            if len(inner.args) == 1
            else _helper_call("vlmcar_range_arg", [self.expr(inner.args[0])])
        )
        stop = _helper_call("vlmcar_range_arg", [self.expr(inner.args[-1])])

        head = [
            _store([ast.Name(low, ast.Store())], start),
            _store([ast.Name(k, ast.Store())], stop),
        ]
        step = _store([ast.Name(k, ast.Store())], ast.BinOp(_load(k), ast.Sub(), ast.Constant(1)))
        loop = ast.While(
            test=ast.Compare(left=_load(k), ops=[ast.Gt()], comparators=[_load(low)]),
            body=[step, _store([self.target(target)], _load(k)), *body],
            orelse=[],
        )
        return [*head, loop]

    def reversed_step_loop(
        self, target: ast.expr, inner: ast.Call, body: list[ast.stmt]
    ) -> list[ast.stmt]:
        """``for t in reversed(range(a, b, s))``: the range's elements, last first.

        ``a``, ``b``, ``s`` are evaluated once, in order, and checked as a forward range is
        (``vlmcar_range_check``: a zero step raises, an over-long range defers); with its length
        ``n``, pass ``i`` binds ``t = a + (n - 1 - i) * s``, which never leaves the range's
        elements, so nothing overflows.
        """
        bounds, call = self.range_iter(inner)
        names = [n.id for n in call.args if isinstance(n, ast.Name)]  # the bounds' locals
        lo, step = names[0], names[2]
        k = self.loops
        count, i = f"_vlmcar_rn{k}", f"_vlmcar_ri{k}"
        size = _helper_call("vlmcar_range_len", [_load(n) for n in names])
        left = ast.BinOp(ast.BinOp(_load(count), ast.Sub(), ast.Constant(1)), ast.Sub(), _load(i))
        value = ast.BinOp(_load(lo), ast.Add(), ast.BinOp(left, ast.Mult(), _load(step)))
        loop = ast.For(
            target=ast.Name(i, ast.Store()),
            iter=ast.Call(func=ast.Name("range", ast.Load()), args=[_load(count)], keywords=[]),
            body=[_store([self.target(target)], value), *body],
            orelse=[],
            type_comment=None,
        )
        return [*bounds, _store([ast.Name(count, ast.Store())], size), loop]

    def fold(self, kind: str, node: ast.Call | ast.ListComp) -> ast.expr:
        """``sum/any/all/max/min(<comprehension>)`` as a call of a generated loop.

        The comprehension becomes a module-level helper whose parameters are the enclosing
        function's names it reads, so its loop variables stay its own as in Python 3. A
        generator stops where the builtin stops (``any`` at the first true element); a list
        comprehension computes every element first, as Python builds the list first. ``sum``
        starts from int 0 and adds in order; its elements must be ints or bools
        (``vlmcar_fold_int`` refuses floats at typing: since Python 3.12 ``sum`` of floats is
        compensated, a loop would round differently). ``max``/``min`` keep the first of equal
        elements and raise ``ValueError`` on an empty sequence, as the builtins do.
        """
        if isinstance(node, ast.ListComp):  # a list bound to a name, indexed or measured later
            comp: ast.GeneratorExp | ast.ListComp = node
        else:
            first_arg = node.args[0]
            assert isinstance(first_arg, ast.GeneratorExp | ast.ListComp)
            comp = first_arg
            if node.keywords or len(node.args) != 1:
                raise _Refused(node, f"{kind}() of a comprehension takes no other arguments here")
        bound: set[str] = set()
        for sub in ast.walk(comp):
            if isinstance(sub, ast.NamedExpr):
                raise _Refused(sub, "a walrus inside a comprehension is outside the JIT subset")
            if isinstance(sub, ast.GeneratorExp | ast.ListComp | ast.SetComp | ast.DictComp):
                for gen in sub.generators:
                    bound |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        for gen in comp.generators:
            if gen.is_async:  # pragma: no cover - the audit refuses async
                raise _Refused(node, "async comprehensions are outside the JIT subset")
        first = {n.id for n in ast.walk(comp.generators[0].iter) if isinstance(n, ast.Name)}
        if first & bound:
            raise _Refused(
                node, "a comprehension variable also read by its first range is outside the subset"
            )
        outside = set(self.constants) | self.functions | self.numpy | self.math
        outside |= _BUILTINS | _FOLDS | VISION_NAMES | {"reversed"} | set(self.nested)
        reads = {
            n.id for n in ast.walk(comp) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)
        }
        # a nested function called in the comprehension reads its captured names there too
        lifted = {c for f in reads & set(self.nested) for c in self.nested[f][1]}
        free = sorted(((reads - bound) | lifted) - outside)
        acc, value = ast.Name("_vlmcar_acc", ast.Load()), ast.Name("_vlmcar_v", ast.Load())
        seen = ast.Name("_vlmcar_n", ast.Load())

        def assign(name: str, v: ast.expr) -> ast.stmt:
            return ast.Assign(targets=[ast.Name(name, ast.Store())], value=v, type_comment=None)

        def when(
            test: ast.expr, body: list[ast.stmt], orelse: list[ast.stmt] | None = None
        ) -> ast.If:
            return ast.If(test=test, body=body, orelse=orelse or [])

        def ret(v: ast.expr) -> ast.Return:
            return ast.Return(value=v)

        true, false = ast.Constant(True), ast.Constant(False)
        lazy = isinstance(comp, ast.GeneratorExp)
        elt = self.expr(comp.elt)
        init: list[ast.stmt]
        step: list[ast.stmt]
        end: list[ast.stmt]
        if kind == "list":  # a reflected list, appended in order (numba types it from them)
            init = [assign("_vlmcar_acc", ast.List(elts=[], ctx=ast.Load()))]
            append = ast.Attribute(value=acc, attr="append", ctx=ast.Load())
            step = [ast.Expr(value=ast.Call(func=append, args=[elt], keywords=[]))]
            end = [ret(acc)]
        elif kind == "sum":
            item = _helper_call("vlmcar_fold_int", [elt])
            init = [assign("_vlmcar_acc", ast.Constant(0))]
            step = [assign("_vlmcar_acc", ast.BinOp(left=acc, op=ast.Add(), right=item))]
            end = [ret(acc)]
        elif kind in ("any", "all"):
            hit = elt if kind == "any" else ast.UnaryOp(op=ast.Not(), operand=elt)
            answer = true if kind == "any" else false
            if lazy:
                init, step, end = (
                    [],
                    [when(hit, [ret(answer)])],
                    [ret(ast.UnaryOp(ast.Not(), answer))],
                )
            else:  # the list is built whole; truth is asked only up to the answer, as any() does
                hit = value if kind == "any" else ast.UnaryOp(op=ast.Not(), operand=value)
                init = [assign("_vlmcar_n", false)]
                mark = when(hit, [assign("_vlmcar_n", true)])
                step = [assign("_vlmcar_v", elt), when(ast.UnaryOp(ast.Not(), seen), [mark])]
                end = [ret(seen if kind == "any" else ast.UnaryOp(ast.Not(), seen))]
        else:  # max / min: the builtins' comparisons, first of equals kept
            better = ast.Compare(left=value, ops=[ast.Gt() if kind == "max" else ast.Lt()],
                                 comparators=[acc])  # fmt: skip
            init = [assign("_vlmcar_n", false)]
            keep = [assign("_vlmcar_acc", value), assign("_vlmcar_n", true)]
            replace: list[ast.stmt] = [when(better, [assign("_vlmcar_acc", value)])]
            step = [assign("_vlmcar_v", elt), when(ast.UnaryOp(ast.Not(), seen), keep, replace)]
            empty = ast.Raise(
                exc=ast.Call(func=ast.Name("ValueError", ast.Load()),
                             args=[ast.Constant(f"{kind}() arg is an empty sequence")],
                             keywords=[]),
                cause=None,
            )  # fmt: skip
            end = [when(ast.UnaryOp(ast.Not(), seen), [empty]), ret(acc)]
        body = step
        for gen in reversed(comp.generators):
            for cond in reversed(gen.ifs):
                body = [when(self.expr(cond), body)]
            body = self.loop(gen.target, gen.iter, body)
        name = f"_vlmcar_g{len(self.extra)}"
        helper = ast.FunctionDef(
            name=name,
            args=ast.arguments(posonlyargs=[], args=[ast.arg(arg=_local(n)) for n in free],
                               vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
            body=[*init, *body, *end],
            decorator_list=[],
            returns=None,
            type_comment=None,
        )  # fmt: skip
        self.extra.append(helper)
        call = ast.Call(func=ast.Name(name, ast.Load()),
                        args=[ast.Name(_local(n), ast.Load()) for n in free], keywords=[])  # fmt: skip
        return _helper_call(_PYNUM, [call])

    def array_display(self, node: ast.Call) -> ast.expr:
        """``np.array(<tuple or list display>[, dtype=np.X])`` inside a function.

        The display (nested displays make 2-D and 3-D arrays) becomes a tuple, which numba
        turns into an array with numpy's result dtype (ints int64, any float float64, all of
        one numpy integer type that type). With ``dtype=`` every element must be a number
        literal the dtype holds (numpy raises where numba would wrap a value that does not fit).
        """
        if len(node.args) == 1 and isinstance(node.args[0], ast.Name):
            # np.array(KEY) of a module tuple constant: as if its display were written there
            literal = constant_source(self.constants.get(node.args[0].id), numpy_name=_NP)
            if isinstance(self.constants.get(node.args[0].id), tuple) and literal is not None:
                shown = ast.parse(literal, mode="eval").body
                node = ast.Call(func=node.func, args=[shown], keywords=node.keywords)
            elif isinstance(node.args[0], ast.Name) and node.args[0].id not in self.constants:
                # a local name: a tuple of numbers or an array, decided at typing
                value = self.some(node.args[0])
                if not node.keywords:
                    return _helper_call("vlmcar_array_of", [value])
                wanted = self._dtype_keyword(node)
                if wanted is not None and wanted != "bool_":  # np.array(rgb, dtype=np.int16)
                    typed = ast.Attribute(ast.Name(_NP, ast.Load()), wanted, ast.Load())
                    return _helper_call("vlmcar_array_of_typed", [value, typed])
        if len(node.args) != 1 or not isinstance(node.args[0], ast.Tuple | ast.List):
            raise _Refused(
                node,
                "np.array() of anything but a tuple or list display (or a module tuple "
                "constant) is outside the subset",
            )
        dtype: str | None = None
        for k in node.keywords:
            dtype = self._dtype_name(k.value) if k.arg == "dtype" else None
            if dtype is None:
                raise _Refused(
                    node, "np.array() takes only dtype=np.<int, uint, float64 or bool_ type> here"
                )

        leaves: list[ast.expr] = []

        def display(d: ast.expr) -> ast.expr:
            if isinstance(d, ast.Tuple | ast.List):
                if not d.elts:
                    raise _Refused(d, "np.array() of an empty display is outside the subset")
                return ast.Tuple([display(e) for e in d.elts], ast.Load())
            if isinstance(d, ast.Starred):
                raise _Refused(d, "star-arguments are outside the JIT subset")
            leaves.append(d)
            return self.expr(d)

        values = display(node.args[0])
        if len(leaves) > self.max_tuple_values:
            raise _Refused(
                node,
                f"np.array() of more than {self.max_tuple_values:,} values is outside the subset",
            )
        keywords = []
        if dtype is not None:
            bounds = _ARRAY_DTYPES[dtype]
            for leaf in leaves:
                number = leaf.value if isinstance(leaf, ast.Constant) else _number_literal(leaf)
                fits = (
                    isinstance(number, bool)
                    if dtype == "bool_"
                    else isinstance(number, int | float) and not isinstance(number, bool)
                    if bounds is None
                    else isinstance(number, int)
                    and not isinstance(number, bool)
                    and bounds[0] <= number <= bounds[1]
                )
                if not fits:
                    raise _Refused(
                        leaf,
                        f"np.array(..., dtype=np.{dtype}) is in the subset only for number "
                        "literals the dtype holds",
                    )
            np_dtype = ast.Attribute(value=ast.Name(_NP, ast.Load()), attr=dtype, ctx=ast.Load())
            keywords = [ast.keyword(arg="dtype", value=np_dtype)]
        array = ast.Attribute(value=ast.Name(_NP, ast.Load()), attr="array", ctx=ast.Load())
        return _helper_call(_PYNUM, [ast.Call(func=array, args=[values], keywords=keywords)])

    def target(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Name):
            if node.id in self.constants or node.id in self.functions:
                raise _Refused(node, f"assigning to module name {node.id!r} is outside the subset")
            self._not_shadowing(node, node.id)
            return ast.Name(_local(node.id), ast.Store())
        if isinstance(node, ast.Tuple):
            return ast.Tuple([self.target(e) for e in node.elts], ast.Store())
        if isinstance(node, ast.Subscript):
            return ast.Subscript(value=self.expr(node.value), slice=self.index(node.slice),
                                 ctx=ast.Store())  # fmt: skip
        raise _Refused(node, f"{type(node).__name__} targets are outside the JIT subset")

    # expressions -----------------------------------------------------------------------------

    def expr(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Constant):
            value = node.value
            if value is None or (isinstance(value, bool | int | float | str)
                                 and not isinstance(value, complex)):  # fmt: skip
                return ast.Constant(value)
            raise _Refused(node, f"{type(value).__name__} constants are outside the JIT subset")
        if isinstance(node, ast.Name):
            return self.name(node)
        if isinstance(node, ast.BinOp):
            folded = _literal_int(node)
            if folded is not None and not _INT64_MIN <= folded <= _INT64_MAX:
                raise _Refused(
                    node,
                    "arithmetic of int literals leaving 64 bits: Python folds it into one constant "
                    "that numba types as uint64, where the interpreter wraps each step",
                )
            return self.binop(node.op, self.expr(node.left), node.right, node)
        if isinstance(node, ast.UnaryOp):
            op = _UNARY.get(type(node.op))
            if op is None:  # pragma: no cover - every unary operator is listed
                raise _Refused(node, f"{type(node.op).__name__} is outside the JIT subset")
            operand = self.expr(node.operand)
            if isinstance(node.op, ast.USub) and _number_literal(node.operand) is None:
                return _helper_call(_NEG, [operand])  # numpy refuses -bool_array; numba would not
            if isinstance(node.op, ast.Invert):
                return _helper_call("vlmcar_invert", [operand])  # ~True: -2 or False
            return ast.UnaryOp(op=op(), operand=operand)
        if isinstance(node, ast.BoolOp):
            return ast.BoolOp(
                op=_BOOLOPS[type(node.op)](), values=[self.expr(v) for v in node.values]
            )
        if isinstance(node, ast.Compare):
            identity = self.none_test(node)
            if identity is not None:
                return identity
            if any(isinstance(op, ast.In | ast.NotIn) for op in node.ops):
                if len(node.ops) != 1:
                    raise _Refused(node, "a chain of comparisons with `in` is outside the subset")
                found = _helper_call(
                    "vlmcar_contains", [self.some(node.comparators[0]), self.expr(node.left)]
                )
                return (
                    ast.UnaryOp(ast.Not(), found) if isinstance(node.ops[0], ast.NotIn) else found
                )
            if any(
                isinstance(c, ast.Constant) and c.value is None
                for c in [node.left, *node.comparators]
            ):  # Python answers `x == None`; numba raises for an optional holding a value
                raise _Refused(node, "comparisons with None other than `is` are outside the subset")
            ops: list[ast.cmpop] = []
            for cmp in node.ops:
                make = _COMPARE.get(type(cmp))
                if make is None:
                    shown = _SHOWN_COMPARE.get(type(cmp), type(cmp).__name__)
                    raise _Refused(node, f"`{shown}` comparisons are outside the JIT subset")
                ops.append(make())
            left = self.expr(node.left)
            comparators = [self.expr(c) for c in node.comparators]
            if len(comparators) == 1:
                twin = self.tuple_operation(
                    node.ops[0], node.left, left, node.comparators[0], comparators[0]
                )
                if twin is not None:
                    return twin
            return ast.Compare(left=left, ops=ops, comparators=comparators)
        if isinstance(node, ast.IfExp):
            return ast.IfExp(test=self.expr(node.test), body=self.expr(node.body),
                             orelse=self.expr(node.orelse))  # fmt: skip
        if isinstance(node, ast.Tuple):
            if self._tuple_values(node) > self.max_tuple_values:
                raise _Refused(
                    node,
                    f"a tuple of more than {self.max_tuple_values:,} values (counting nested "
                    "tuples whole) is slow to compile; build an array instead",
                )
            return ast.Tuple([self.expr(e) for e in node.elts], ast.Load())
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id in self.dicts
        ):
            return self.dict_item(node.value.id, node)
        if isinstance(node, ast.Subscript):
            index = self.checked_index(node.slice)
            if index is not None:
                # an index that may be a mask (or a bool): vlmcar_masked checks what numba
                # does not, bounds-checked; slices and literals alone are numba's own
                masked = _helper_call("vlmcar_masked", [self.some(node.value), index])
                return _helper_call(_PYNUM, [masked])
            read = ast.Subscript(value=self.some(node.value), slice=self.index(node.slice),
                                 ctx=ast.Load())  # fmt: skip
            return _helper_call(_PYNUM, [read])
        if isinstance(node, ast.Attribute):
            return self.attribute(node)
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.ListComp):
            return self.fold("list", node)
        if isinstance(node, ast.List):
            if any(isinstance(e, ast.Starred) for e in node.elts):
                raise _Refused(node, "star-arguments are outside the JIT subset")
            if len(node.elts) > self.max_tuple_values:
                raise _Refused(node, "a list display this long is outside the JIT subset")
            return ast.List([self.expr(e) for e in node.elts], ast.Load())
        if isinstance(node, ast.Dict):
            if any(k is None for k in node.keys) or len(node.keys) > self.max_tuple_values:
                raise _Refused(node, "`**` in a dict display (or a long one) is outside the subset")
            keys = [self.expr(k) for k in node.keys if k is not None]
            return ast.Dict(keys=list(keys), values=[self.expr(v) for v in node.values])
        if isinstance(node, ast.NamedExpr):
            target = ast.Name(_local(node.target.id), ast.Store())
            return ast.NamedExpr(target=target, value=self.expr(node.value))
        raise _Refused(node, f"{type(node).__name__} is outside the JIT subset")

    def index(self, node: ast.expr) -> ast.expr:
        if isinstance(node, ast.Slice):
            parts = [
                None if p is None else self.expr(p) for p in (node.lower, node.upper, node.step)
            ]
            return ast.Slice(lower=parts[0], upper=parts[1], step=parts[2])
        if isinstance(node, ast.Tuple):
            return ast.Tuple([self.index(e) for e in node.elts], ast.Load())
        if isinstance(node, ast.Constant) and node.value is Ellipsis:
            return ast.Constant(Ellipsis)
        return self.expr(node)

    def name(self, node: ast.Name) -> ast.expr:
        name = node.id
        if name in self.nested:
            raise _Refused(node, f"functions as values ({name!r}) are outside the JIT subset")
        if name in self.dicts:
            raise _Refused(
                node,
                f"the dict constant {name!r} as a value is outside the JIT subset (read it as "
                f"{name}[<literal key>], {name}.items(), .keys(), .values() or len({name}))",
            )
        if name in self.constants:
            return ast.Name(_constant(name), ast.Load())
        if name in self.functions:
            raise _Refused(node, f"functions as values ({name!r}) are outside the JIT subset")
        if name in self.numpy or name in self.math:
            raise _Refused(node, f"the module {name!r} as a value is outside the JIT subset")
        if name in _BUILTINS or name in VISION_NAMES:
            raise _Refused(node, f"{name!r} as a value (not called) is outside the JIT subset")
        return ast.Name(_local(name), ast.Load())

    def _tuple_values(self, node: ast.expr) -> int:
        """Values in a tuple display, nested tuples (and names bound to them) counted whole."""
        if isinstance(node, ast.Tuple):
            total = 0
            for e in node.elts:
                total += self._tuple_values(e)
                if total > self.max_tuple_values:
                    break
            return total
        if isinstance(node, ast.Name):
            return self.tuple_sizes.get(node.id, 1)
        return 1

    def binop(
        self, op: ast.operator, left: ast.expr, right_node: ast.expr, node: ast.AST
    ) -> ast.expr:
        make = _OPERATORS.get(type(op))
        if make is None:
            raise _Refused(node, f"operator {type(op).__name__} is outside the JIT subset")
        right = self.expr(right_node)
        if isinstance(op, ast.LShift | ast.RShift) and not (
            _int_literal(right_node) is not None
            and 0 <= (_int_literal(right_node) or 0) <= _MAX_SHIFT
        ):
            raise _Refused(node, "shifts are in the subset only by a literal count 0..63")
        if isinstance(op, ast.Pow):
            exponent = _number_literal(right_node)
            if exponent is None or (
                isinstance(exponent, int) and not 0 <= exponent <= _MAX_LITERAL_POWER
            ):
                raise _Refused(
                    node,
                    "powers are in the subset only with a literal exponent (int 0..64 or float)",
                )
        if isinstance(node, ast.BinOp):
            twin = self.tuple_operation(op, node.left, left, right_node, right)
            if twin is not None:
                return twin
        if isinstance(op, ast.FloorDiv):
            return _helper_call(_FLOORDIV, [left, right])
        if isinstance(op, ast.Mod):  # numpy's MIN % -1 is 0; numba's integer ufunc traps
            return _helper_call("vlmcar_mod", [left, right])
        if isinstance(op, ast.Sub):
            return _helper_call(_SUB, [left, right])  # numpy refuses bool - bool arrays
        if isinstance(op, ast.Div):  # numpy's float64 for small ints; Python's int rounding
            return _helper_call("vlmcar_truediv", [left, right])
        return ast.BinOp(left=left, op=make(), right=right)

    def tuple_operation(
        self,
        op: ast.AST,
        left_node: ast.expr,
        left: ast.expr,
        right_node: ast.expr,
        right: ast.expr,
    ) -> ast.expr | None:
        """``frame == KEY``, ``x - OFFSET`` where one operand is a module tuple constant.

        numpy makes the tuple an array when the other operand is one; numba refuses the mix. The
        ``vlmcar_tuple_*`` twins do what numpy does, decided at typing. None: not such a case.
        """
        on_left = isinstance(left_node, ast.Name) and left_node.id in self.tuple_operands
        on_right = isinstance(right_node, ast.Name) and right_node.id in self.tuple_operands
        twin = _TUPLE_OPS.get(type(op))
        if on_left == on_right or twin is None:
            return None
        return _helper_call(f"vlmcar_tuple_{twin}", [left, right])

    def attribute(self, node: ast.Attribute) -> ast.expr:
        base = node.value
        if isinstance(base, ast.Name) and base.id in self.numpy:
            if node.attr not in JIT_NUMPY:
                raise _Refused(node, f"np.{node.attr} is outside the JIT subset")
            return ast.Attribute(value=ast.Name(_NP, ast.Load()), attr=node.attr, ctx=ast.Load())
        if isinstance(base, ast.Name) and base.id in self.math:
            if node.attr not in MATH_NAMES:
                raise _Refused(node, f"math.{node.attr} is outside the JIT subset")
            return ast.Attribute(value=ast.Name(_MATH, ast.Load()), attr=node.attr, ctx=ast.Load())
        if node.attr not in _ARRAY_ATTRIBUTES:
            raise _Refused(node, f"attribute {node.attr!r} is outside the JIT subset")
        return ast.Attribute(value=self.some(base), attr=node.attr, ctx=ast.Load())

    def dict_item(self, name: str, node: ast.Subscript) -> ast.expr:
        """``NAME[<literal key>]`` of a module dict constant: that entry of its values tuple."""
        key = node.slice
        mapping = self.constants[name]
        if not isinstance(key, ast.Constant) or isinstance(key.value, bool | float | complex):
            raise _Refused(
                node, f"{name}[...] with a key that is not a literal is outside the JIT subset"
            )
        keys = list(mapping)
        if key.value not in keys or type(keys[keys.index(key.value)]) is not type(key.value):
            raise _Refused(node, f"{name}[{key.value!r}]: no such key (Python raises KeyError)")
        values = ast.Name(_dict_part(name, "values"), ast.Load())
        index = ast.Constant(keys.index(key.value))
        return _helper_call(_PYNUM, [ast.Subscript(values, index, ast.Load())])

    def dict_call(self, node: ast.Call) -> ast.expr | None:
        """``NAME.items()``, ``.keys()``, ``.values()`` and ``len(NAME)`` of a dict constant."""
        func = node.func
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in self.dicts
        ):
            if func.attr not in ("items", "keys", "values") or node.args or node.keywords:
                raise _Refused(
                    node, f"{func.value.id}.{func.attr}(...) of a dict is outside the JIT subset"
                )
            return ast.Name(_dict_part(func.value.id, func.attr), ast.Load())
        if (
            isinstance(func, ast.Name)
            and func.id == "len"
            and len(node.args) == 1
            and not node.keywords
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id in self.dicts
        ):
            return ast.Constant(len(self.constants[node.args[0].id]))
        return None

    def checked_index(self, node: ast.expr) -> ast.expr | None:
        """A subscript's index rebuilt as a call argument where it holds a computed value.

        A name, a call or an expression may be a mask or a bool at typing, which numba reads
        differently from numpy (see ``vlmcar_masked``); such an index (alone or in a tuple, its
        slices as ``slice(...)``) goes to the twin. None: only slices and literals, numba's own.
        """
        parts = node.elts if isinstance(node, ast.Tuple) else [node]
        computed = [p for p in parts if _value_index(p) and not self.int_like(p)]
        if not computed or any(_is_ellipsis(p) for p in parts):
            return None
        rebuilt: list[ast.expr] = []
        for p in parts:
            if isinstance(p, ast.Slice):
                bounds = [None if b is None else self.expr(b) for b in (p.lower, p.upper, p.step)]
                rebuilt.append(_slice_call(ast.Slice(*bounds)))
            else:
                rebuilt.append(self.expr(p))
        return ast.Tuple(rebuilt, ast.Load()) if isinstance(node, ast.Tuple) else rebuilt[0]

    def int_like(self, node: ast.expr) -> bool:
        """Whether ``node`` is always an int (``frame[r * TILE + 2, x]``).

        Range-loop names, int literals and int module constants, and ``+ - * // %`` of them.
        """
        if _int_literal(node) is not None:
            return True
        if isinstance(node, ast.Name):
            value = self.constants.get(node.id)
            constant = isinstance(value, int) and not isinstance(value, bool)
            return node.id in self.range_names or (constant and node.id not in self.dicts)
        if isinstance(node, ast.BinOp) and isinstance(
            node.op, ast.Add | ast.Sub | ast.Mult | ast.FloorDiv | ast.Mod
        ):
            return self.int_like(node.left) and self.int_like(node.right)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return self.int_like(node.operand)
        return False

    def numpy_function(self, node: ast.expr) -> str | None:
        """The name of the numpy function ``node`` calls (``np.isin(...)``: "isin"), or None."""
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id in self.numpy
        ):
            return node.func.attr
        return None

    def some(self, node: ast.expr) -> ast.expr:
        """``node`` rebuilt, through ``vlmcar_some`` where it is a name that may hold None."""
        rebuilt = self.expr(node)
        if not self.optional:
            return rebuilt
        local = isinstance(node, ast.Name) and isinstance(rebuilt, ast.Name)
        own = (  # a call of one of the checker's functions: it may return None
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and (node.func.id in self.functions or node.func.id in self.nested)
        )
        return _helper_call("vlmcar_some", [rebuilt]) if local or own else rebuilt

    def none_test(self, node: ast.Compare) -> ast.expr | None:
        """``x is None`` / ``x is not None`` rebuilt; None where no ``is`` is compared.

        ``is`` is in the subset only against the ``None`` constant, where numba and Python agree
        (a value of any other type is not None; an optional one is tested at run time).
        """
        if not any(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
            return None
        if len(node.ops) != 1:
            raise _Refused(node, "a chain of comparisons with `is` is outside the JIT subset")
        left, right = node.left, node.comparators[0]
        if isinstance(left, ast.Constant) and left.value is None:
            left, right = right, left
        if not (isinstance(right, ast.Constant) and right.value is None):
            raise _Refused(node, "`is` comparisons other than with None are outside the JIT subset")
        op: ast.cmpop = ast.Is() if isinstance(node.ops[0], ast.Is) else ast.IsNot()
        return ast.Compare(left=self.expr(left), ops=[op], comparators=[ast.Constant(None)])

    def call(self, node: ast.Call) -> ast.expr:
        if self.fuser is not None:
            lowered = self.fuser.lower(node, self._view, len(self.extra))
            if lowered is not None:
                self.extra.append(lowered.helper)
                return _helper_call(_PYNUM, [lowered.call])
        func = node.func
        if any(isinstance(a, ast.Starred) for a in node.args) or any(
            k.arg is None for k in node.keywords
        ):
            raise _Refused(node, "star-arguments are outside the JIT subset")
        read = self.dict_call(node)
        if read is not None:
            return read
        if isinstance(func, ast.Attribute) and func.attr == "append":
            raise _Refused(node, "NAME.append(value) is in the JIT subset only as a statement")
        if (
            isinstance(func, ast.Name)
            and func.id in _FOLDS
            and node.args
            and isinstance(node.args[0], ast.GeneratorExp | ast.ListComp)
        ):
            return self.fold(func.id, node)
        if (
            isinstance(func, ast.Name)
            and func.id == "sorted"
            and len(node.args) == 1
            and not node.keywords
            and isinstance(node.args[0], ast.GeneratorExp)
        ):  # sorted(x for x in xs): the list the generator yields, sorted
            gen = node.args[0]
            listed = ast.copy_location(ast.ListComp(gen.elt, gen.generators), gen)
            return _helper_call("vlmcar_sorted", [self.fold("list", listed)])
        numpy_function = self.numpy_function(node)
        if numpy_function == "array":
            return self.array_display(node)
        reduced = self.logical_reduce(node)
        if reduced is not None:
            return reduced
        if numpy_function == "unique":
            return self.unique(node)
        if numpy_function == "isin":
            if len(node.args) != 2 or node.keywords:
                raise _Refused(node, "np.isin() takes two arrays (and nothing else) here")
            args = [self.some(a) for a in node.args]
            return _helper_call(_PYNUM, [_helper_call("vlmcar_isin", args)])
        if isinstance(func, ast.Name) and func.id in self.nested:
            hoisted, captured = self.nested[func.id]
            if node.keywords:
                raise _Refused(node, "keyword arguments to nested functions are outside the subset")
            self.calls[self.current].add(hoisted)
            args = [self.expr(a) for a in node.args]  # a None argument is Python's to pass
            args += [ast.Name(_local(n), ast.Load()) for n in captured]
            return _helper_call(_PYNUM, [ast.Call(ast.Name(hoisted, ast.Load()), args, [])])
        if isinstance(func, ast.Name) and func.id == "divmod" and func.id not in self.functions:
            # divmod(a, b) is (a // b, a % b) for Python's numbers and numpy's alike; of reads,
            # arithmetic and int/float/len/abs, so reading each twice changes nothing (a first
            # read that raises raises first, as Python's one read would)
            if (
                node.keywords
                or len(node.args) != 2
                or not all(_pure_read(n) for a in node.args for n in ast.walk(a))
            ):
                raise _Refused(
                    node,
                    "divmod() of anything but names, literals, reads and arithmetic (a method "
                    "call, a numpy call) is outside the JIT subset",
                )
            a, b = node.args
            pair = ast.Tuple(
                [ast.BinOp(a, ast.FloorDiv(), b), ast.BinOp(a, ast.Mod(), b)], ast.Load()
            )
            return self.expr(ast.copy_location(pair, node))
        if isinstance(func, ast.Name) and func.id not in (
            _BUILTINS | VISION_NAMES | self.functions
        ):
            raise _Refused(node, f"calls to {func.id}() are outside the JIT subset")
        if isinstance(func, ast.Attribute):
            self.attribute(func)  # refuses a function outside the subset before its arguments
            if func.attr == "reshape" and not self.writes and node.args and not node.keywords:
                # not np.reshape (outside the subset): an array's method, for any layout
                shape = node.args[0] if len(node.args) == 1 else ast.Tuple(node.args, ast.Load())
                return _helper_call("vlmcar_reshape", [self.expr(func.value), self.expr(shape)])
        # an optional argument of the checker's own function stays optional there (it may test
        # it); any other function needs the value
        own = isinstance(func, ast.Name) and func.id in self.functions
        plain: Callable[[ast.expr], ast.expr] = self.expr if own else self.some
        method = isinstance(func, ast.Attribute)

        def pass_on(a: ast.expr) -> ast.expr:
            if method and isinstance(a, ast.Name) and a.id in _BUILTIN_DTYPES:
                # `.astype(int)`, `np.zeros(n, dtype=float)`: the type numpy reads them as
                return ast.Attribute(ast.Name(_NP, ast.Load()), _BUILTIN_DTYPES[a.id], ast.Load())
            return plain(a)

        if own:
            assert isinstance(func, ast.Name)
            args, keywords = self.own_arguments(node, func.id), []
        else:
            args = [pass_on(a) for a in node.args]
            keywords = [ast.keyword(arg=k.arg, value=pass_on(k.value)) for k in node.keywords]
        if (
            isinstance(func, ast.Attribute)
            and isinstance(func.value, ast.Name)
            and func.value.id in self.numpy
            and _ARRAY_DTYPES.get(func.attr) is not None
        ):
            args = [_helper_call("vlmcar_int_dtype_arg", [a]) for a in args]
        if isinstance(func, ast.Name):
            name = func.id
            if name == "round" and (len(node.args) != 1 or node.keywords):
                raise _Refused(node, "round() with digits is outside the JIT subset")
            if name in _BUILTIN_TWINS:
                if keywords or len(node.args) != 1:
                    raise _Refused(node, f"{name}() takes one argument in the JIT subset")
                return _helper_call(_BUILTIN_TWINS[name], args)
            if name in self.functions:
                self.calls[self.current].add(name)
                target: ast.expr = ast.Name(_function(name), ast.Load())
            elif name in _BUILTINS:
                target = ast.Name(name, ast.Load())
            elif name in VISION_NAMES:
                target = ast.Attribute(
                    value=ast.Name(_HELPERS, ast.Load()), attr=name, ctx=ast.Load()
                )
            else:
                raise _Refused(node, f"calls to {name}() are outside the JIT subset")
            call = ast.Call(func=target, args=args, keywords=keywords)
            return call if name == "range" else _helper_call(_PYNUM, [call])
        if not isinstance(func, ast.Attribute):
            raise _Refused(node, "only calls of named functions are in the JIT subset")
        if isinstance(func.value, ast.Name) and func.value.id in self.math:
            if keywords:
                raise _Refused(node, "keyword arguments to math functions are outside the subset")
            if func.attr in _MATH_INT_TWINS:
                if len(args) != 1:
                    raise _Refused(node, f"math.{func.attr}() takes one argument in the subset")
                return _helper_call(_MATH_INT_TWINS[func.attr], args)
            if func.attr in _MATH_CHECKED:
                return _helper_call(f"vlmcar_math_{func.attr}", args)
            if func.attr == "dist":  # CPython's own algorithm (sandbox.jit_helpers)
                if len(args) != 2:
                    raise _Refused(node, "math.dist() takes two points")
                return _helper_call(_PYNUM, [_helper_call("vlmcar_math_dist", args)])
            if func.attr not in _MATH_PLAIN:
                raise _Refused(node, f"math.{func.attr}() is outside the JIT subset")
        if isinstance(func.value, ast.Name) and func.value.id in self.numpy:
            if func.attr == "round" and (len(args) != 1 or keywords):
                raise _Refused(node, "np.round() with decimals is outside the JIT subset")
            limit = ast.Constant(self.max_elements)
            if func.attr in _SIZED_ALLOCATIONS and args:
                args[0] = _helper_call(_SHAPE, [limit, args[0]])
            if func.attr == "full":  # numpy range-checks an int fill, numba would wrap it
                dtype_arg = [k.value for k in keywords if k.arg == "dtype"] + args[2:3]
                if len(args) < 2 or len(dtype_arg) != 1 or len(args) + len(keywords) != 3:
                    raise _Refused(node, "np.full() takes (shape, fill, dtype=...) here")
                call = _helper_call("vlmcar_full", [args[0], args[1], dtype_arg[0]])
                return _helper_call(_PYNUM, [call])
            if func.attr == "arange":
                if keywords or not 1 <= len(args) <= 3:
                    raise _Refused(node, "np.arange() takes 1-3 positional arguments in the subset")
                return _helper_call(_PYNUM, [_helper_call(_ARANGE, [limit, *args])])
            if func.attr == "bincount":
                minlength = [k.value for k in keywords if k.arg == "minlength"]
                if len(args) != 1 or len(minlength) != len(keywords):
                    raise _Refused(
                        node,
                        "np.bincount() with weights (or minlength by position) is outside the "
                        "JIT subset",
                    )
                count = [limit, args[0], minlength[0] if minlength else ast.Constant(0)]
                return _helper_call("vlmcar_bincount", count)
        reduction = func.attr
        is_numpy = isinstance(func.value, ast.Name) and func.value.id in self.numpy
        if reduction in _AXIS_TWINS:
            axis_call = self._axis_reduction(func, reduction, is_numpy, args, keywords)
            if axis_call is not None:
                return axis_call
        if reduction in _REDUCTION_TWINS:
            subject = args[0] if is_numpy and args else None if is_numpy else self.expr(func.value)
            rest = args[1:] if is_numpy else args
            if subject is None or rest or keywords:
                raise _Refused(
                    node, f"{reduction}() with axis or other arguments is outside the JIT subset"
                )
            return _helper_call(_PYNUM, [_helper_call(_REDUCTION_TWINS[reduction], [subject])])
        if reduction in ("max", "amax", "min", "amin") and (args or not is_numpy):
            subject = args[0] if is_numpy else self.expr(func.value)
            if (args[1:] if is_numpy else args) or keywords:
                raise _Refused(node, f"{reduction}() with other arguments is outside the subset")
            largest = ast.Constant(reduction in ("max", "amax"))
            return _helper_call(_PYNUM, [_helper_call("vlmcar_extreme", [subject, largest])])
        if is_numpy and func.attr == "ptp":
            if len(args) != 1 or keywords:
                raise _Refused(node, "np.ptp() with axis or other arguments is outside the subset")
            return _helper_call(_PYNUM, [_helper_call("vlmcar_ptp", args)])
        if is_numpy and func.attr in ("maximum", "minimum"):
            if len(args) != 2 or keywords:
                raise _Refused(node, f"np.{func.attr}() takes two arguments in the JIT subset")
            largest = ast.Constant(func.attr == "maximum")
            return _helper_call(_PYNUM, [_helper_call("vlmcar_pairwise", [*args, largest])])
        if is_numpy and func.attr in _SIGNED_ZERO_FUNCS:
            args = [_helper_call("vlmcar_no_float", [a]) for a in args]
            keywords = [
                ast.keyword(arg=k.arg, value=_helper_call("vlmcar_no_float", [k.value]))
                for k in keywords
            ]
        if is_numpy and func.attr in _FLOAT_UFUNCS:
            args = [_helper_call("vlmcar_float_arg", [a]) for a in args]
        if is_numpy and func.attr in ("floor", "ceil", "trunc"):
            args = [_helper_call("vlmcar_int_array_refused", [a]) for a in args]
        target = self.attribute(func)
        if (
            not is_numpy
            and isinstance(target, ast.Attribute)
            and (
                func.attr in _SIGNED_ZERO_FUNCS
                or (func.attr == "astype" and _may_be_unsigned(node))
            )
        ):  # the receiver: ``x.cumsum()``, ``x.clip(0, 1)``, ``x.astype(np.uint32)``
            target.value = _helper_call("vlmcar_no_float", [target.value])
        return _helper_call(_PYNUM, [ast.Call(func=target, args=args, keywords=keywords)])

    def unique(self, node: ast.Call) -> ast.expr:
        """``np.unique(a[, axis=0][, return_counts=True])`` of integer arrays: their twins."""
        axis: int | None = None
        counts = False
        for k in node.keywords:
            value = _int_literal(k.value)
            none = isinstance(k.value, ast.Constant) and k.value.value is None
            flag = isinstance(k.value, ast.Constant) and type(k.value.value) is bool
            if k.arg == "axis" and (none or value == 0):
                axis = None if none else 0
            elif k.arg == "return_counts" and flag:
                counts = bool(k.value.value)  # type: ignore[attr-defined]
            else:
                raise _Refused(
                    node,
                    "np.unique() with arguments other than axis=0 or axis=None and "
                    "return_counts=True/False is outside the JIT subset",
                )
        if len(node.args) != 1:
            raise _Refused(node, "np.unique() takes one array here (and axis=0)")
        twin = "vlmcar_unique" if axis is None else "vlmcar_unique_rows"
        call = _helper_call(twin + ("_counts" if counts else ""), [self.some(node.args[0])])
        return call if counts else _helper_call(_PYNUM, [call])  # a tuple of two arrays

    def logical_reduce(self, node: ast.Call) -> ast.expr | None:
        """``np.logical_and.reduce([a, b, ...])`` (or ``logical_or``) of a display: its twin."""
        op = logical_reduce_op(node, self.numpy)
        if op is None:
            return None
        display = node.args[0] if len(node.args) == 1 else None
        if (
            node.keywords
            or not isinstance(display, ast.List | ast.Tuple)
            or len(display.elts) < 2
            or any(isinstance(e, ast.Starred) for e in display.elts)
        ):
            raise _Refused(
                node,
                f"np.logical_{op}.reduce of anything but a display of two or more arrays "
                "is outside the JIT subset",
            )
        items = ast.Tuple([self.expr(e) for e in display.elts], ast.Load())
        return _helper_call(f"vlmcar_logical_{op}_reduce", [items])

    def _axis_reduction(
        self,
        func: ast.Attribute,
        reduction: str,
        is_numpy: bool,
        args: list[ast.expr],
        keywords: list[ast.keyword],
    ) -> ast.expr | None:
        """``np.all(x, axis=k)``, ``x.max(k)`` ... as its twin (None when it is not one).

        Only a subject and one axis (positional or ``axis=``) qualify; anything else is left to
        the generic call (and to numba's typing).
        """
        subject = (args[0] if args else None) if is_numpy else self.expr(func.value)
        rest = args[1:] if is_numpy else args
        if subject is None:
            return None
        if len(rest) == 1 and not keywords:
            axis = rest[0]
        elif not rest and len(keywords) == 1 and keywords[0].arg == "axis":
            axis = keywords[0].value
        else:
            return None
        return _helper_call(_PYNUM, [_helper_call(_AXIS_TWINS[reduction], [subject, axis])])


def _frame_params(tree: ast.Module, entry: str) -> dict[str, list[str]]:
    """Per module function, the parameters that hold one of the kernel's frames at every call.

    The entry's parameters are the frames. A helper's parameter is one when every call of the
    helper passes, at that position, a name that is such a parameter of the caller and that the
    caller never assigns, or a spatial view of one (``frame[a:b, c:d]``, no step: still an
    (h, w, 3) uint8 array); a greatest fixpoint over the call graph, which has no cycles:
    recursion is refused. Those parameters all have the frame's type, so the fuser may read them.
    Views of two regions can differ in shape, where the fuser assumes one shape for all frame
    parameters of a function: a helper that is passed a view keeps at most one.
    """
    defs = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    if entry not in defs:
        return {}

    def params(fn: ast.FunctionDef) -> list[str]:
        return [a.arg for a in fn.args.posonlyargs + fn.args.args]

    def stores(fn: ast.FunctionDef) -> set[str]:
        """Names ``fn`` binds: assignments anywhere and nested scopes' parameters.

        Parameters are told apart by node: a nested function's parameter named like one of
        ``fn``'s hides it there.
        """
        own = {id(a) for a in fn.args.posonlyargs + fn.args.args}
        names = {
            n.id
            for n in ast.walk(fn)
            if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
        }
        return names | {a.arg for a in ast.walk(fn) if isinstance(a, ast.arg) and id(a) not in own}

    stored = {name: stores(fn) for name, fn in defs.items()}  # fmt: skip
    frames = {name: set(params(fn)) for name, fn in defs.items()}
    frames[entry] = set(params(defs[entry])) - stored[entry]
    changed = True
    while changed:
        changed = False
        for name, fn in defs.items():
            if name == entry:
                continue
            ok = set(frames[name])
            called = viewed = False
            for caller, other in defs.items():
                for node in ast.walk(other):
                    if not (isinstance(node, ast.Name) and node.id == name):
                        continue
                    call = _calls_of(other, node)
                    if call is None or call.keywords or len(call.args) != len(params(fn)):
                        ok = set()
                        continue
                    called = True
                    for p, arg in zip(params(fn), call.args, strict=True):
                        if is_frame_view(arg, frames[caller]):
                            viewed = True
                        elif not (isinstance(arg, ast.Name) and arg.id in frames[caller]):
                            ok.discard(p)
            ok = ok - stored[name] if called else set()
            if viewed and len(ok) > 1:
                ok = set()
            if ok != frames[name]:
                frames[name], changed = ok, True
    return {name: sorted(f) for name, f in frames.items() if f}


def _calls_of(fn: ast.FunctionDef, name: ast.Name) -> ast.Call | None:
    """The call whose function ``name`` is, inside ``fn`` (None: the name is not called)."""
    for node in ast.walk(fn):
        if isinstance(node, ast.Call) and node.func is name:
            return node
    return None


_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1
_LITERAL_OPS: Mapping[type[ast.AST], Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
}


def _literal_int(node: ast.expr) -> int | None:
    """The exact value of an int expression of literals only (None: not one, or not computed).

    Powers and shifts are computed only for the small exponents the subset admits.
    """
    if isinstance(node, ast.Constant):
        return node.value if type(node.value) is int else None
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd | ast.Invert):
        v = _literal_int(node.operand)
        if v is None:
            return None
        return -v if isinstance(node.op, ast.USub) else ~v if isinstance(node.op, ast.Invert) else v
    if not isinstance(node, ast.BinOp):
        return None
    a, b = _literal_int(node.left), _literal_int(node.right)
    if a is None or b is None:
        return None
    if isinstance(node.op, ast.Pow):
        return a**b if 0 <= b <= _MAX_LITERAL_POWER and abs(a) < 2**64 else None
    if isinstance(node.op, ast.LShift | ast.RShift):
        if not 0 <= b <= _MAX_SHIFT:
            return None
        return a << b if isinstance(node.op, ast.LShift) else a >> b
    fn = _LITERAL_OPS.get(type(node.op))
    if fn is None or (b == 0 and isinstance(node.op, ast.FloorDiv | ast.Mod)):
        return None
    return fn(a, b)


def _numeric_tuple(value: Any) -> bool:
    """A non-empty flat tuple of ints only or floats only (bools excluded)."""
    if not isinstance(value, tuple) or not value:
        return False
    kinds = {type(v) for v in value}
    return kinds in ({int}, {float})


def _aliases(tree: ast.Module, module: str) -> set[str]:
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == module
    }


def _local(name: str) -> str:
    return name  # the audit refuses underscore names, so no local can collide with _vlmcar_*


def _function(name: str) -> str:
    return f"_vlmcar_f_{name}"


def _constant(name: str) -> str:
    return f"_vlmcar_c_{name}"


def _dict_part(name: str, part: str) -> str:
    """The kernel module's tuple of a dict constant's ``items``, ``keys`` or ``values``."""
    return f"_vlmcar_d_{name}_{part}"  # parts have no underscore: no two names collide


def _as_load(target: ast.expr) -> ast.expr:
    if isinstance(target, ast.Name):
        return ast.Name(target.id, ast.Load())
    if isinstance(target, ast.Subscript):
        return _helper_call(
            _PYNUM, [ast.Subscript(value=target.value, slice=target.slice, ctx=ast.Load())]
        )
    raise _Refused(target, "augmented assignment to a tuple")


def _store(targets: list[ast.expr], value: ast.expr) -> ast.stmt:
    """``targets = value``; an element store ``a[i] = v`` goes through the setitem twin.

    numpy refuses to store NaN or an out-of-range Python int into an integer array where Numba
    casts; the twin raises as numpy does, for element stores and stores through slices alike
    (``a[1:3] = 300``; a slice becomes a ``slice(...)`` argument). A store through ``...`` is
    refused: numba cannot take ``...`` as a call argument, and a native store would wrap where
    numpy raises.
    """
    if len(targets) == 1 and isinstance(targets[0], ast.Subscript):
        index = targets[0].slice
        parts = index.elts if isinstance(index, ast.Tuple) else [index]
        if any(_is_ellipsis(p) for p in parts):
            raise _Refused(targets[0], "stores through `...` are outside the JIT subset")
        args = [_slice_call(p) if isinstance(p, ast.Slice) else p for p in parts]
        index = ast.Tuple(elts=args, ctx=ast.Load()) if isinstance(index, ast.Tuple) else args[0]
        call = _helper_call(_SETITEM, [targets[0].value, index, value])
        return ast.Expr(value=call)
    return ast.Assign(targets=targets, value=value, type_comment=None)


def _value_index(node: ast.expr) -> bool:
    """Whether a subscript's index part is a computed value (a name, a call, an expression).

    Not a slice, a literal or a tuple (whose parts are asked one by one).
    """
    return not (
        isinstance(node, ast.Slice | ast.Constant | ast.Tuple) or _number_literal(node) is not None
    )


def _appended_list_problem(fn: ast.FunctionDef) -> tuple[ast.AST, str] | None:
    """Why a list ``fn`` appends to is outside the subset, or None.

    A kernel loops over a sequence by index up to the length it had when the loop began (numba
    has no live iterator), so a list that grows while something walks it would part ways with
    Python. A list appended to must therefore be made in the function itself (a display or a
    comprehension, not a parameter or another name) and be used there only to append to, to
    index, to measure, to test with ``in``, to return and to loop over where the loop's body can
    neither append to it nor call a function of the checker's own (which could, through a
    closure); nothing else can see it grow.
    """
    appended = {
        n.func.value.id
        for n in ast.walk(fn)
        if isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "append"
        and isinstance(n.func.value, ast.Name)
    }
    if not appended:
        return None
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args}
    # names bound in fn (nested functions, lambdas bound to a name): a call of one inside a loop
    # over a list could append to it through a closure
    local = {d.name for d in ast.walk(fn) if isinstance(d, ast.FunctionDef) and d is not fn}
    local |= {
        t.id for t in ast.walk(fn) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)
    }

    def walked(it: ast.expr, body: Sequence[ast.AST]) -> ast.Name | None:
        """The appended list a loop walks, where nothing in its body can make it grow.

        ``NAME`` or ``enumerate(NAME[, start])``; None where the body appends to it or calls a
        function of fn's own.
        """
        if (
            isinstance(it, ast.Call)
            and isinstance(it.func, ast.Name)
            and it.func.id == "enumerate"
            and it.args
        ):
            it = it.args[0]
        if not (isinstance(it, ast.Name) and it.id in appended):
            return None
        for part in body:
            for sub in ast.walk(part):
                if not isinstance(sub, ast.Call):
                    continue
                if isinstance(sub.func, ast.Name) and sub.func.id in local:
                    return None
                if (
                    isinstance(sub.func, ast.Attribute)
                    and sub.func.attr == "append"
                    and isinstance(sub.func.value, ast.Name)
                    and sub.func.value.id == it.id
                ):
                    return None
        return it

    own_returns: set[int] = set()  # fn's own return statements, not those of nested functions
    pending: list[ast.AST] = list(fn.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.Return):
            own_returns.add(id(node))
        pending.extend(ast.iter_child_nodes(node))
    allowed: set[int] = set()  # ids of Name nodes in an allowed place
    for n in ast.walk(fn):
        loop: ast.Name | None = None
        if isinstance(n, ast.For):
            loop = walked(n.iter, n.body)
        elif isinstance(n, ast.GeneratorExp | ast.ListComp | ast.SetComp | ast.DictComp):
            parts: list[ast.AST] = [n.key, n.value] if isinstance(n, ast.DictComp) else [n.elt]
            for gen in n.generators:
                parts += [gen.target, gen.iter, *gen.ifs]
            for gen in n.generators:
                loop = walked(gen.iter, parts) or loop
                if loop is not None:
                    allowed.add(id(loop))
                    loop = None
        if loop is not None:
            allowed.add(id(loop))
        if (
            isinstance(n, ast.Call)
            and isinstance(n.func, ast.Attribute)
            and n.func.attr == "append"
        ):
            allowed.add(id(n.func.value))
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "len":
            allowed.update(id(a) for a in n.args)
        elif isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Load):
            allowed.add(id(n.value))
        elif isinstance(n, ast.Compare) and isinstance(n.ops[0], ast.In | ast.NotIn):
            allowed.update(id(c) for c in n.comparators)
        elif isinstance(n, ast.Return) and n.value is not None and id(n) in own_returns:
            allowed.add(id(n.value))  # to fn's caller (a nested function's return is an alias)
        elif (
            isinstance(n, ast.Assign)
            and isinstance(n.value, ast.List | ast.ListComp)
            and len(n.targets) == 1  # `xs = ys = []` binds two names to one list: an alias
            and isinstance(n.targets[0], ast.Name)
        ):
            allowed.add(id(n.targets[0]))
    for n in ast.walk(fn):
        if not (isinstance(n, ast.Name) and n.id in appended):
            continue
        if n.id in params:
            return n, f"appending to the parameter {n.id!r} is outside the JIT subset"
        if id(n) not in allowed:
            return n, (
                f"the list {n.id!r} is appended to and also used otherwise (looped over, passed, "
                "rebound): outside the JIT subset (a kernel's loops do not see a list grow)"
            )
    return None


def _unbound_read(fn: ast.FunctionDef) -> ast.Name | None:
    """A local of ``fn`` that some path reads before binding it, or None (conservative).

    Python raises ``UnboundLocalError`` there; a kernel would read whatever the slot holds. A
    forward pass over the body tracks the names bound on every path so far: both branches of an
    ``if`` must bind a name for it to count after it, and a loop body may not run at all (its
    target and its assignments do not count after the loop). Calls of a nested function read the
    enclosing names it captures.
    """
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args}
    body = [_as_def(s) for s in _without_docstring(fn.body)]
    nested = {s.name: s for s in body if isinstance(s, ast.FunctionDef)}
    local = (set(params) | set(nested)).union(
        *(_names(s, ast.Store) for s in body if not isinstance(s, ast.FunctionDef))
    )

    def captured(d: ast.FunctionDef) -> set[str]:
        return _free_names(d) & local

    def reads(node: ast.AST) -> list[ast.Name]:
        bound: set[str] = set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.GeneratorExp | ast.ListComp | ast.SetComp | ast.DictComp):
                for gen in sub.generators:
                    bound |= {n.id for n in ast.walk(gen.target) if isinstance(n, ast.Name)}
        out = [
            n
            for n in ast.walk(node)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load) and n.id not in bound
        ]
        for call in ast.walk(node):
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Name)
                and call.func.id in nested
            ):
                out += [
                    ast.copy_location(ast.Name(c, ast.Load()), call)
                    for c in captured(nested[call.func.id])
                ]
        return out

    def check(node: ast.AST, bound: set[str]) -> ast.Name | None:
        # a walrus binds within its expression, left to right (counted as bound throughout)
        walrus = {n.target.id for n in ast.walk(node) if isinstance(n, ast.NamedExpr)}
        return next((n for n in reads(node) if n.id in local and n.id not in bound | walrus), None)

    stores = functools.partial(_names, ctx=ast.Store)

    class Found(Exception):
        def __init__(self, name: ast.Name) -> None:
            self.name = name

    def block(stmts: Sequence[ast.stmt], bound: set[str]) -> set[str] | None:
        """Names bound after ``stmts`` on every path that falls through (None: none does)."""
        current: set[str] | None = set(bound)
        for stmt in stmts:
            if current is None:
                return None  # unreachable code after return/break/continue
            if isinstance(stmt, ast.FunctionDef):
                current.add(stmt.name)
                continue
            if isinstance(stmt, ast.If):
                if (hit := check(stmt.test, current)) is not None:
                    raise Found(hit)
                current |= stores(stmt.test)  # walrus targets
                a = block(stmt.body, current)
                b = block(stmt.orelse, current)
                current = b if a is None else a if b is None else a & b
                continue
            if isinstance(stmt, ast.For | ast.While):
                head = stmt.iter if isinstance(stmt, ast.For) else stmt.test
                if (hit := check(head, current)) is not None:
                    raise Found(hit)
                current |= stores(head)  # walrus targets
                inside = current | (stores(stmt.target) if isinstance(stmt, ast.For) else set())
                block(stmt.body, inside)
                block(stmt.orelse, current)
                continue
            target = getattr(stmt, "target", None)
            if (
                isinstance(stmt, ast.AugAssign)
                and isinstance(target, ast.Name)
                and target.id in local
                and target.id not in current
            ):
                raise Found(target)
            value = getattr(stmt, "value", None)
            parts = [
                p
                for p in (value, *getattr(stmt, "targets", ()), getattr(stmt, "target", None))
                if p is not None
            ]
            for part in parts:
                if (hit := check(part, current)) is not None:
                    raise Found(hit)
            if isinstance(stmt, ast.Return | ast.Break | ast.Continue | ast.Raise):
                return None
            current |= stores(stmt)
        return current

    try:
        block(body, params)
    except Found as found:
        return found.name
    return None


def _as_def(stmt: ast.stmt) -> ast.stmt:
    """``name = lambda args: expr`` as the nested ``def name(args): return expr`` it means.

    Anything else is returned as it is. The lambda's parameters must be plain positional ones
    (defaults and the like are refused where the def is rebuilt).
    """
    if not (
        isinstance(stmt, ast.Assign)
        and len(stmt.targets) == 1
        and isinstance(stmt.targets[0], ast.Name)
        and isinstance(stmt.value, ast.Lambda)
    ):
        return stmt
    body: list[ast.stmt] = [ast.Return(value=stmt.value.body)]
    node = ast.FunctionDef(name=stmt.targets[0].id, args=stmt.value.args, body=body,
                           decorator_list=[], returns=None, type_comment=None)  # fmt: skip
    return ast.copy_location(node, stmt)


def _is_range(it: ast.expr) -> bool:
    """``range(...)`` or ``reversed(...)`` (of a range, checked where it is rebuilt)."""
    return (
        isinstance(it, ast.Call)
        and isinstance(it.func, ast.Name)
        and it.func.id in ("range", "reversed")
    )


def _names(node: ast.AST, ctx: type[ast.expr_context]) -> set[str]:
    """The names ``node`` stores (``ast.Store``) or reads (``ast.Load``), nested scopes included."""
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ctx)}


def _free_names(fn: ast.FunctionDef) -> set[str]:
    """Names a function reads but neither takes as a parameter nor binds itself."""
    params = {a.arg for a in fn.args.posonlyargs + fn.args.args}
    return _names(fn, ast.Load) - params - _names(fn, ast.Store)


def _load(name: str) -> ast.Name:
    return ast.Name(name, ast.Load())


def _stores(node: ast.AST, name: str) -> bool:
    """Whether ``node`` binds ``name`` (an assignment, loop or comprehension target)."""
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Store)
        for n in ast.walk(node)
    )


def _slice_call(node: ast.Slice) -> ast.Call:
    """``lo:hi:step`` as the builtin ``slice(lo, hi, step)`` (a checker cannot rebind it there)."""
    none = ast.Constant(value=None)
    return _helper_call(_SLICE, [node.lower or none, node.upper or none, node.step or none])


def _is_ellipsis(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is Ellipsis


def _helper_call(name: str, args: list[ast.expr]) -> ast.Call:
    func = ast.Attribute(value=ast.Name(_HELPERS, ast.Load()), attr=name, ctx=ast.Load())
    return ast.Call(func=func, args=args, keywords=[])


def _without_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        return body[1:]
    return body


def _int_literal(node: ast.expr) -> int | None:
    value = _number_literal(node)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _number_literal(node: ast.expr) -> int | float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and isinstance(node.operand.value, int | float)
    ):
        return -node.operand.value
    return None


def _recursion(calls: Mapping[str, set[str]]) -> str | None:
    """The name of a function that can reach itself through calls, or None."""
    for start in calls:
        stack, seen = list(calls[start]), set()
        while stack:
            name = stack.pop()
            if name == start:
                return start
            if name not in seen:
                seen.add(name)
                stack.extend(calls.get(name, ()))
    return None


# --- generation -----------------------------------------------------------------------------------


def _recast_parameters(tree: ast.Module) -> None:
    """``img = img.astype(T)`` as a function's first statement binds a new name, in place.

    Model-written helpers often start by casting their frame parameter. The parameter is then
    stored, so it is no longer known to hold a frame (:func:`_frame_params`) and nothing that
    reads it can be fused. When that statement is the function's first (after a docstring), is
    the parameter's only store, and no nested scope binds the same name, every later read of the
    parameter reads the cast: the statement binds ``<name>_cast`` instead and those reads name
    it. Reads inside the cast itself keep the parameter. Python's semantics are unchanged: the
    first statement runs before any other, and the name never changes again.
    """
    used: set[str] = set()  # every name the module binds or reads, import aliases included
    for n in ast.walk(tree):
        if isinstance(n, ast.Name):
            used.add(n.id)
        elif isinstance(n, ast.arg):
            used.add(n.arg)
        elif isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef):
            used.add(n.name)
        elif isinstance(n, ast.alias):
            used.add((n.asname or n.name).split(".")[0])
    for fn in tree.body:
        if not isinstance(fn, ast.FunctionDef) or not fn.body:
            continue
        body = _without_docstring(fn.body)
        if not body:
            continue
        first = body[0]
        if not (
            isinstance(first, ast.Assign)
            and len(first.targets) == 1
            and isinstance(first.targets[0], ast.Name)
            and isinstance(first.value, ast.Call)
            and isinstance(first.value.func, ast.Attribute)
            and first.value.func.attr == "astype"
            and isinstance(first.value.func.value, ast.Name)
            and first.value.func.value.id == first.targets[0].id
            and len(first.value.args) == 1
            and not first.value.keywords
        ):
            continue
        name = first.targets[0].id
        own = [a for a in fn.args.posonlyargs + fn.args.args if a.arg == name]
        if not own:
            continue
        stores = [
            n for n in ast.walk(fn) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)
        ]
        others = [a for a in ast.walk(fn) if isinstance(a, ast.arg) and a.arg == name]
        scoped = any(isinstance(n, ast.Global | ast.Nonlocal) for n in ast.walk(fn))
        if scoped or len(others) != 1 or [n.id for n in stores].count(name) != 1:
            continue
        new = f"{name}_cast"
        while new in used:
            new += "_"
        used.add(new)
        inside = {id(n) for n in ast.walk(first.value)}
        for node in ast.walk(fn):
            if isinstance(node, ast.Name) and node.id == name and id(node) not in inside:
                node.id = new


class _TryBodies(ast.NodeTransformer):
    """Each ``try``/``except`` (without ``finally``) as the path where nothing raises.

    That is its body, then its ``else``. A kernel follows that path only: where something in it
    raises, the kernel raises, and :class:`sandbox.Checker` hands the batch to the interpreter,
    which runs the ``except`` clause that matches (or fails as Python would). The analyses that
    follow (unbound names, frame parameters, fusion) see the same path the kernel runs.
    """

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.FunctionDef:
        before = _binders(node)
        self.generic_visit(node)
        # a name bound only in a dropped handler is still a local of the function in Python
        # (``except E as NAME``, a ``def NAME`` there): reading it elsewhere raises there
        lost = before - _binders(node)
        read = next(
            (n for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in lost),
            None,
        )
        if read is not None:
            raise _Refused(
                read,
                f"{read.id!r} is assigned only in an except clause, which a kernel leaves out "
                "(the interpreter runs it): outside the JIT subset",
            )
        return node

    def visit_Try(self, node: ast.Try) -> ast.AST | list[ast.stmt]:
        self.generic_visit(node)
        if node.finalbody or not node.handlers:
            return node  # a finally clause runs on both paths: refused where it is rebuilt
        return [*node.body, *node.orelse]


def _binders(node: ast.AST) -> set[str]:
    """Every name a statement tree binds: stores, handler names, defs and classes, imports."""
    names: set[str] = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.Name) and not isinstance(sub.ctx, ast.Load):
            names.add(sub.id)
        elif isinstance(
            sub, ast.ExceptHandler | ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
        ):
            names.add(sub.name or "")
        elif isinstance(sub, ast.alias):
            names.add((sub.asname or sub.name).split(".")[0])
    return names


@dataclass(frozen=True)
class _Generated:
    source: str
    arity: int


def _generate(
    tree: ast.Module, entry: str, constants: Mapping[str, Any], limits: JitLimits
) -> _Generated:
    """Kernel module source from the rebuilt tree and the folded constants (raises _Refused)."""
    tree = _TryBodies().visit(copy.deepcopy(tree))
    _recast_parameters(tree)
    rebuild = _Rebuild(tree, constants, limits, entry)
    lines = [
        "# Generated by vlm-car from an audited checker, rebuilt from allow-listed nodes; do not edit.",
        f"# engine {_engine_digest()}",
        f"import math as {_MATH}",
        "import numba as _vlmcar_numba",
        f"import numpy as {_NP}",
        f"import sandbox.jit_helpers as {_HELPERS}",
    ]
    in_tuples = sum(_tuple_values(value, limits.max_tuple_values) for value in constants.values())
    if in_tuples > limits.max_tuple_values:
        raise _Refused(
            None,
            f"module tuple constants hold more than {limits.max_tuple_values:,} values (slow to "
            "compile); write large tables as np.array(..., dtype=...)",
        )
    for name, value in constants.items():
        if isinstance(value, Mapping):
            lines += _dict_lines(name, value)
            continue
        literal = constant_source(value, numpy_name=_NP)
        if literal is None:
            raise _Refused(
                None, f"module constant {name!r} ({type(value).__name__}) is outside the JIT subset"
            )
        lines.append(f"{_constant(name)} = {literal}")
    functions: list[ast.FunctionDef] = []
    entry_def: ast.FunctionDef | None = None
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            rebuilt = rebuild.function(node, name=_function(node.name))
            functions.append(rebuilt)
            if node.name == entry:
                entry_def = node
        elif isinstance(node, ast.Import | ast.ImportFrom | ast.Assign | ast.AnnAssign):
            continue  # imports: fixed aliases above; constants: folded above
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # module docstring
        else:
            raise _Refused(node, f"{type(node).__name__} at module level is outside the JIT subset")
    if entry_def is None:
        raise _Refused(None, f"no function {entry!r}")
    functions += rebuild.extra  # the folded comprehensions' loops
    cycle = _recursion(rebuild.calls)
    if cycle is not None:
        raise _Refused(None, f"{cycle}() is recursive (native recursion has no budget)")
    module = ast.fix_missing_locations(ast.Module(body=list(functions), type_ignores=[]))
    nodes = sum(1 for _ in ast.walk(module))
    if nodes > limits.max_nodes and any(f.name.startswith(FUSED_PREFIX) for f in functions):
        # the fused helpers' loops are what made it too large: the kernel without them
        return _generate(tree, entry, constants, dataclasses.replace(limits, fuse=False))
    if nodes > limits.max_nodes:
        raise _Refused(
            None, f"{nodes:,} syntax nodes: larger than the JIT limit of {limits.max_nodes:,}"
        )
    jit = "_vlmcar_numba.njit(cache=True, nogil=True, boundscheck=True)"
    # a fused helper indexes only by its own loop counters over the shape it checked first
    fused = "_vlmcar_numba.njit(cache=True, nogil=True, boundscheck=False)"
    for function in functions:
        if function.name.startswith(FUSED_PREFIX):
            lines.append(f"@{fused}\n" + ast.unparse(function))
        elif function.name != _function(entry):
            lines.append(f"@{jit}\n" + ast.unparse(function))
        else:
            lines.append(ast.unparse(function))
    arity = len(entry_def.args.posonlyargs) + len(entry_def.args.args)
    signature = "(_FRAME,)" if arity == 1 else "(_FRAME, _FRAME)"
    call = "_vlmcar_entry(frames[i])" if arity == 1 else "_vlmcar_entry(frames[i], firsts[i])"
    lines.append(
        "_FRAME = _vlmcar_numba.types.Array(_vlmcar_numba.types.uint8, 3, 'C', readonly=True)\n"
        "_BATCH = _vlmcar_numba.types.Array(_vlmcar_numba.types.uint8, 4, 'C', readonly=True)\n"
        "_OUT = _vlmcar_numba.types.Array(_vlmcar_numba.types.boolean, 1, 'C')\n"
        f"_vlmcar_entry = _vlmcar_numba.njit({signature}, cache=True, nogil=True, "
        f"boundscheck=True)({_function(entry)})\n"
        "@_vlmcar_numba.njit((_BATCH, _BATCH, _OUT), cache=True, nogil=True, boundscheck=True)\n"
        "def vlmcar_batch(frames, firsts, out):\n"
        "    for i in range(frames.shape[0]):\n"
        f"        out[i] = {call}\n"
    )
    return _Generated("\n\n".join(lines) + "\n", arity)


def _dict_lines(name: str, mapping: Mapping[Any, Any]) -> list[str]:
    """A dict constant as three tuple constants: its items, keys and values, in its order.

    Keys must be ints or strings (of one kind) and values JIT constants; a dict whose values
    differ in type can still be read by literal key, and numba refuses it at typing where a loop
    needs one element type.
    """
    if not mapping:
        raise _Refused(None, f"the empty dict constant {name!r} is outside the JIT subset")
    kinds = {type(k) for k in mapping}
    if kinds not in ({int}, {str}):
        raise _Refused(
            None, f"dict constant {name!r}: only keys that are all ints or all strings are jitted"
        )
    keys = [constant_source(k, numpy_name=_NP) for k in mapping]
    values = [constant_source(v, numpy_name=_NP) for v in mapping.values()]
    if any(v is None for v in values) or any(k is None for k in keys):
        raise _Refused(None, f"dict constant {name!r} holds values outside the JIT subset")
    items = [f"({k}, {v})" for k, v in zip(keys, values, strict=True)]
    return [
        f"{_dict_part(name, part)} = ({', '.join(str(p) for p in parts)},)"
        for part, parts in (("items", items), ("keys", keys), ("values", values))
    ]


def _tuple_values(value: Any, cap: int) -> int:
    """Scalars inside tuple and dict constants (arrays not counted); stops past ``cap``."""
    if isinstance(value, Mapping):
        value = tuple(value.items())
    if not isinstance(value, tuple):
        return 0
    total, stack = 0, list(value)
    while stack and total <= cap:
        item = stack.pop()
        if isinstance(item, tuple):
            stack.extend(item)
        else:
            total += 1
    return total


def jit_refusal(tree: ast.Module, constants: Mapping[str, Any] | None = None) -> str | None:
    """Return why an audited module is outside the JIT subset, or None when it fits.

    Args:
        tree: the audited module.
        constants: its folded module constants; by default they are folded here, which
            evaluates checker arithmetic (bounded): only for trusted sources or inside a worker.

    Example:
        >>> jit_refusal(ast.parse("def check(frame):\\n    return frame.mean() > 3\\n")) is None
        True
        >>> jit_refusal(ast.parse("def check(frame):\\n    return len({1}) > 0\\n"))
        'line 2: Set is outside the JIT subset'
    """
    try:
        values = fold_constants(tree) if constants is None else constants
        _generate(
            tree, "check" if _has(tree, "check") else _first_function(tree), values, JitLimits()
        )
    except _Refused as refused:
        return str(refused) if refused.line is not None else refused.why
    except ConstantError as err:
        return str(err)
    return None


def _has(tree: ast.Module, name: str) -> bool:
    return any(isinstance(n, ast.FunctionDef) and n.name == name for n in tree.body)


def _first_function(tree: ast.Module) -> str:
    return next((n.name for n in tree.body if isinstance(n, ast.FunctionDef)), "check")


def kernel_source(source: str, *, entry: str = "check", limits: JitLimits | None = None) -> str:
    """The kernel module's text for an audited checker (raises ``ValueError`` when it cannot be).

    Folds the module constants (bounded evaluation): only for trusted sources or inside a worker.
    """
    from sandbox.audit import public_names, strip_bom

    tree = ast.parse(public_names(strip_bom(source)))
    try:
        return _generate(tree, entry, fold_constants(tree), limits or JitLimits()).source
    except (_Refused, ConstantError) as err:
        raise ValueError(str(err)) from None


#: Integers a float64 holds exactly: a 64-bit int variable that Numba widens to float64 can hold
#: more (and wraps where float64 does not), so the kernel and the interpreter could disagree.
#: Largest int constant that may stay widened: below it, comparing the float64 with any int64
#: (which float64 rounds only past 2**53) gives the exact answer.
_WIDENED_LIMIT = 2**52
_TYPED_OK = "typed IR checked: no int value computed as float64"
#: A load from Numba's cache with no verdict beside it (a build killed between saving the cache
#: and writing the verdict, or a cache written outside the build lock): build_kernel compiles
#: afresh.
_NO_RECORD = "a kernel from Numba's cache whose type check left no record"
#: Twins that hand their argument's value back (a widened value stays widened through them).
_PASS_TWINS = frozenset(
    {"as_python_number", "vlmcar_int", "vlmcar_round", "vlmcar_fold_int", "vlmcar_some"}
)
#: Twins that compute with two operands, like ``a - b`` (a widened value needs a float partner).
_ARITH_TWINS = frozenset({"vlmcar_floordiv", "vlmcar_sub"})
_COMPARISONS = frozenset(
    {operator.lt, operator.le, operator.gt, operator.ge, operator.eq, operator.ne}
)


def _widened_ints(module: Any, stamp: Path, unsafe: str | None = None) -> str | None:
    """Why the kernel is refused because Numba turned an int into a float64, or None.

    Numba gives each variable one type, so a variable that is an int in one assignment and a
    float in another (the arms of an ``if``, a loop-carried value, ``n = 0`` then ``n = 0.5``) is
    float64 everywhere; the interpreter keeps the int (exact, wrapping at 64 bits). Past 2**53,
    at a wrap, or for ``-0`` against ``-0.0``, the paths then answer differently, on content the
    agreement probe and the sampled audit may never see. The typed IR of every function compiled
    from the checker is read here, in the worker, right after compilation (Numba keeps it only
    then), as a small type-flow analysis:

    - *refused outright*: an int wider than 32 bits (or an int constant beyond 2**53) moved into
      a float variable (it may already be inexact); an int turned into a float at a function's
      ``return`` (helpers whose returns unify); tuples whose int elements become float elements;
      ``np.median`` of an integer array (Numba adds the two middle values as ints);
    - *widened*: a float variable that may hold an exact int in the interpreter (an int constant
      within 2**53, an int of 32 bits or less, a bool), a copy of one, and ``min``/``max`` of ints
      and floats (Python returns the int object). A widened value may meet genuine floats (the
      interpreter converts the int exactly, as the kernel did: ``total = 0`` then
      ``total += frame.mean()`` keeps the JIT), may be tested for truth or stored, and may go to
      numpy and math functions (whose float results are genuine); anything else refuses the kernel:
      arithmetic or a comparison with an int, ``-x``, ``isinstance``, or an argument to the
      checker's own functions.

    ``stamp`` records the verdict for loads from Numba's cache, which keep no typed IR.
    ``unsafe`` is a ``NumbaTypeSafetyWarning`` the compilation gave (an unsafe cast numba made
    on its own, such as int64 into bool): that alone refuses the kernel, whatever the checks
    below find (a catch-all behind them).
    """
    from numba.core import ir, types
    from numba.core.dispatcher import Dispatcher

    results = [
        result
        for obj in vars(module).values()
        if isinstance(obj, Dispatcher) and getattr(obj.py_func, "__module__", "") == module.__name__
        for result in obj.overloads.values()
    ]
    annotations = [getattr(r, "type_annotation", None) for r in results]
    if any(getattr(a, "typemap", None) is None for a in annotations):
        # loaded from Numba's cache: what the check said when this kernel was compiled (by this
        # engine: see kernel_dir). The build lock is held, so no other process is writing it.
        with contextlib.suppress(OSError):
            said = stamp.read_text(encoding="utf-8").strip()
            if said:
                return None if said == _TYPED_OK else said
        return _NO_RECORD
    why = None
    if unsafe is not None:
        why = f"numba converts a value unsafely ({unsafe.splitlines()[0][:120]}): it stays on the interpreter"
    for annotation in [] if why else annotations:
        why = (
            _flow_problem(annotation, module.__name__, ir, types)
            or _string_problem(annotation, ir, types)
            or _container_problem(annotation, ir, types)
        )
        if why is not None:
            break
    with contextlib.suppress(OSError):  # whole or not at all: a reader never sees half of it
        partial = stamp.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text((why or _TYPED_OK) + "\n", encoding="utf-8")
        os.replace(partial, stamp)
    return why


#: Operators that build a new string from strings (comparisons only read them).
_STRING_BUILDERS = frozenset(
    {operator.add, operator.iadd, operator.mul, operator.imul, operator.mod, operator.imod}
)


def _container_problem(annotation: Any, ir: Any, types: Any) -> str | None:
    """Why a kernel whose lists or dicts convert what goes into them is refused, or None.

    numba types a dict from its first store and converts every later key and value to those
    types: after ``d[True] = 5``, ``d[5]`` reads ``d[True]``, and after ``d[0] = False`` a
    running count ``d[0] + 1`` is stored as True (a ``NumbaTypeSafetyWarning`` at build time,
    found by a red-team helper). A list unifies its elements instead: ``[True, 5]`` holds 1
    where Python keeps True (``a[xs[0]]`` then differs), ``[1, 0.5]`` holds 1.0 (inexact past
    2**53). Python keeps each object as it is. Every key stored, read or looked up and every
    value stored or appended must already have the container's type (an int of fewer bits into
    int64 is exact and allowed).
    """
    typemap: dict[str, Any] = annotation.typemap

    from sandbox.jit_helpers import exact_conversion as same

    why = "a value converted to its list's or dict's type stays on the interpreter"
    for block in annotation.blocks.values():
        for stmt in block.body:
            if isinstance(stmt, ir.SetItem | ir.StaticSetItem):
                d = typemap.get(stmt.target.name)
                if isinstance(d, types.DictType):
                    index = getattr(stmt, "index_var", None) or stmt.index
                    key_ok = same(typemap.get(index.name), d.key_type)
                    if not (key_ok and same(typemap.get(stmt.value.name), d.value_type)):
                        return why
            elif isinstance(stmt, ir.Assign) and isinstance(stmt.value, ir.Expr):
                value = stmt.value
                made = typemap.get(stmt.target.name)
                if (
                    value.op == "build_list"
                    and isinstance(made, types.List)
                    and not all(same(typemap.get(v.name), made.dtype) for v in value.items)
                ):
                    return why
                if value.op == "call":
                    bound = typemap.get(value.func.name)
                    this = getattr(bound, "this", None)
                    if (
                        isinstance(bound, types.BoundFunction)
                        and isinstance(this, types.List)
                        and not all(same(typemap.get(a.name), this.dtype) for a in value.args)
                    ):
                        return why
                if value.op in ("getitem", "static_getitem"):
                    d = typemap.get(value.value.name)
                    if isinstance(d, types.DictType):
                        # an ir.Expr raises KeyError for an attribute its op lacks
                        static = value.op == "static_getitem"
                        index = (value.index_var if static else None) or value.index
                        if isinstance(index, ir.Var):
                            if not same(typemap.get(index.name), d.key_type):
                                return why
                        elif not same(types.typeof(index), d.key_type):
                            return why
    return None


def _string_problem(annotation: Any, ir: Any, types: Any) -> str | None:
    """Why a kernel that computes with strings is refused, or None.

    Strings are in the subset as labels: constants, dict keys, compared, returned and passed on.
    ``s + t`` and ``s * n`` build new strings in native memory that no byte budget counts (the
    interpreter's does), and ``str(x)`` and other calls that make a string from a value may
    spell it differently (numba's float formatting is not CPython's ``repr``).
    """
    typemap: dict[str, Any] = annotation.typemap

    def text(var: Any) -> bool:
        return isinstance(
            typemap.get(var.name), types.UnicodeType | types.StringLiteral | types.List
        )

    for block in annotation.blocks.values():
        for stmt in block.body:
            if not isinstance(stmt, ir.Assign) or not isinstance(stmt.value, ir.Expr):
                continue
            value = stmt.value
            builds = value.op in ("binop", "inplace_binop") and value.fn in _STRING_BUILDERS
            if builds and (text(value.lhs) or text(value.rhs)):
                return "arithmetic on strings or lists (`+`, `*`) stays on the interpreter"
            if value.op == "call" and text(stmt.target):
                fn = getattr(typemap.get(value.func.name), "typing_key", None)
                if not (
                    isinstance(typemap.get(value.func.name), types.Dispatcher)
                    or getattr(fn, "__module__", "") == "sandbox.jit_helpers"
                ):
                    return "a call that makes a string stays on the interpreter"
    return None


def _flow_problem(annotation: Any, own_module: str, ir: Any, types: Any) -> str | None:
    """:func:`_widened_ints` for one compiled function."""
    import numpy

    typemap: dict[str, Any] = annotation.typemap
    assigns = [
        stmt
        for block in annotation.blocks.values()
        for stmt in block.body
        if isinstance(stmt, ir.Assign)
    ]

    def is_int(t: Any) -> bool:
        return isinstance(t, types.Integer | types.Boolean)

    # sizes: array dimensions, sizes and lengths are far below 2**52 (memory bounds them)
    shapes: set[str] = set()
    sizes: set[str] = set()
    for stmt in assigns:
        value = stmt.value
        if isinstance(value, ir.Expr) and value.op == "getattr":
            (
                shapes
                if value.attr == "shape"
                else sizes
                if value.attr in ("size", "ndim")
                else set()
            ).add(stmt.target.name)
        elif isinstance(value, ir.Expr) and value.op in ("static_getitem", "getitem"):
            if value.value.name in shapes:
                sizes.add(stmt.target.name)
        elif isinstance(value, ir.Expr) and value.op == "call":
            ftype = typemap.get(value.func.name)
            fn = getattr(ftype, "typing_key", None)
            passes = getattr(fn, "__name__", "") in _PASS_TWINS
            fused = isinstance(
                ftype, types.Dispatcher
            ) and ftype.dispatcher.py_func.__name__.startswith(
                FUSED_COUNT_PREFIX
            )  # a fused count: at most the pixels of its views
            counts = fn is numpy.count_nonzero or fused  # at most the array's size
            if fn is len or counts or (passes and value.args and value.args[0].name in sizes):
                sizes.add(stmt.target.name)
        elif isinstance(value, ir.Var) and value.name in sizes:
            sizes.add(stmt.target.name)

    def exact_var(var: Any) -> bool:
        return var.name in sizes or exact(typemap.get(var.name))

    def exact(t: Any) -> bool:
        if isinstance(t, types.BooleanLiteral | types.Boolean):
            return True
        if isinstance(t, types.IntegerLiteral):
            return abs(int(t.literal_value)) <= _WIDENED_LIMIT
        return getattr(t, "bitwidth", 64) <= 32

    def named(var: Any) -> str:
        label = str(var.name)
        # Numba's temporaries ($648call.5) name nothing the checker's author wrote
        return "" if label.startswith("$") else f"`{label.split('.', 1)[0]}`: "

    def refuse(var: Any, what: str) -> str:
        return (
            f"{named(var)}{what}; Numba computes it in float64 where the interpreter keeps an int, "
            "so the checker stays on the interpreter"
        )

    def callee(expr: Any) -> Any:
        return typemap.get(expr.func.name)

    def key(t: Any) -> Any:
        if isinstance(t, types.Dispatcher):
            return t.dispatcher.py_func
        return getattr(t, "typing_key", None)

    def tuple_widens(source: Any, target: Any) -> bool:
        """A tuple type whose int element becomes a float element of ``target``."""
        if not (isinstance(source, types.BaseTuple) and isinstance(target, types.BaseTuple)):
            return False
        pairs = zip(getattr(source, "types", ()), getattr(target, "types", ()), strict=False)
        return any(is_int(a) and isinstance(b, types.Float) for a, b in pairs)

    def twin(t: Any) -> str:
        fn = key(t)
        if getattr(fn, "__module__", "") != "sandbox.jit_helpers":
            return ""
        return str(getattr(fn, "__name__", ""))

    widened: set[str] = set()
    changed = True
    while changed:  # sources and copies, to a fixed point
        changed = False
        for stmt in assigns:
            target, value = stmt.target, stmt.value
            t_target = typemap.get(target.name)
            if target.name in widened or not isinstance(t_target, types.Float):
                continue
            if isinstance(value, ir.Var):
                t_value = typemap.get(value.name)
                if is_int(t_value) and not exact_var(value):
                    return refuse(target, "a 64-bit int is moved into a float variable")
                hit = is_int(t_value) or value.name in widened
            elif isinstance(value, ir.Expr) and value.op == "call":
                args = [typemap.get(a.name) for a in value.args]
                fn = callee(value)
                if key(fn) in (min, max):
                    for a in value.args:
                        if is_int(typemap.get(a.name)) and not exact_var(a):
                            return refuse(target, "min/max hands back a 64-bit int as a float")
                hit = (key(fn) in (min, max) and any(is_int(a) for a in args)) or (
                    # min/max hand back one argument (an int object in Python); the
                    # interpreter-semantics wrapper and int()/round() twins pass values through
                    (key(fn) in (min, max) or twin(fn) in _PASS_TWINS)
                    and any(a.name in widened for a in value.args)
                )
            else:
                hit = False
            if hit:
                widened.add(target.name)
                changed = True

    for stmt in assigns:
        target, value = stmt.target, stmt.value
        t_target = typemap.get(target.name)
        if isinstance(value, ir.Var):
            t_value = typemap.get(value.name)
            if tuple_widens(t_value, t_target):
                return refuse(target, "a tuple's int element becomes a float element")
            if isinstance(t_value, types.Boolean) and isinstance(t_target, types.Integer):
                return (
                    f"{named(target)}a bool is moved into an int variable; Numba makes it an "
                    "int where the interpreter keeps a bool (`range(True)`, `a[True]`, `~True` "
                    "differ), so the checker stays on the interpreter"
                )
            continue
        if not isinstance(value, ir.Expr):
            continue
        if value.op == "cast":
            t_value = typemap.get(value.value.name)
            if isinstance(t_value, types.Boolean) and isinstance(t_target, types.Integer):
                return (  # found by a red-team helper: `return True` beside `return 0`
                    "a function returns a bool on one path and an int on another; Numba makes "
                    "the bool an int where the interpreter keeps it a bool, so the checker stays "
                    "on the interpreter"
                )
            if is_int(t_value) and isinstance(t_target, types.Float):
                return refuse(
                    target, "a function returns an int on one path and a float on another"
                )
            if tuple_widens(t_value, t_target):
                return refuse(target, "a function returns tuples of ints and of floats")
            continue
        if value.op == "call":
            fn = callee(value)
            if key(fn) in (min, max):
                bools = any(isinstance(typemap.get(a.name), types.Boolean) for a in value.args)
                if bools and any(
                    isinstance(typemap.get(a.name), types.Integer) for a in value.args
                ):
                    return (
                        "min/max of a bool and an int (Python hands back the bool itself, Numba "
                        "an int), so the checker stays on the interpreter"
                    )
            if key(fn) is numpy.median and value.args:
                t_arg = typemap.get(value.args[0].name)
                if isinstance(t_arg, types.Array) and is_int(t_arg.dtype):
                    return refuse(target, "np.median of an integer array")
            used = [a for a in value.args if a.name in widened]
            if not used:
                continue
            own = getattr(key(fn), "__module__", "") == own_module
            if own or key(fn) in (isinstance, type, str, repr, hash, divmod):
                return refuse(used[0], "a value that may be an int goes to a call that can tell")
            if twin(fn) in _ARITH_TWINS and not any(
                isinstance(typemap.get(a.name), types.Float) and a.name not in widened
                for a in value.args
            ):
                return refuse(used[0], "a value that may be an int meets no float in an operation")
            if twin(fn) == "vlmcar_neg":
                return refuse(used[0], "a value that may be an int is negated")
            continue
        if value.op in ("binop", "inplace_binop"):
            operands = [value.lhs, value.rhs]
            mine = [v for v in operands if v.name in widened]
            if not mine:
                continue
            if value.fn in _COMPARISONS:
                continue  # a widened value is exact and below 2**52: it compares as its int
            others = [v for v in operands if v.name not in widened]
            if any(isinstance(typemap.get(v.name), types.Float) for v in others):
                continue  # int op float: Python converts the int exactly, as the kernel did
            if value.fn is operator.truediv and all(exact_var(v) for v in others):
                continue  # exact / exact: one correctly rounded quotient on both paths
            return refuse(mine[0], "a value that may be an int meets no float in an operation")
        if (
            value.op == "unary"
            and value.value.name in widened
            and value.fn not in (operator.not_, operator.pos, operator.truth)
        ):
            return refuse(value.value, "a value that may be an int is negated or inverted")
    return None


def _numba_reason(err: BaseException) -> str:
    """The informative line of a numba error (its first lines are a generic banner)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    for line in lines:  # the engine's own refusals (raised while typing a twin) first
        if "stays on the interpreter" in line:
            return line[line.find("Unsupported") if "Unsupported" in line else 0 :][:200]
    for line in lines:
        if line.startswith(
            (
                "No implementation",
                "Unknown attribute",
                "Invalid use",
                "Cannot ",
                "Use of unsupported",
                "Untyped global",
                "Unsupported",
                "NameError",
                "non-precise type",
                "Can't unify",
            )
        ):
            return line[:200]
    return (lines[0] if lines else type(err).__name__)[:200]


def build_kernel(
    source: str,
    *,
    entry: str = "check",
    cache_dir: Path | None = None,
    directory: Path | None = None,
    limits: JitLimits | None = None,
) -> Kernel | str:
    """Compile an *audited* checker to a batch kernel, or say why it cannot be jitted.

    This compiles and loads code derived from the checker: call it only inside an isolated worker
    (which :class:`sandbox.Sandbox` does) or for trusted sources.

    Args:
        source: checker source that :func:`sandbox.audit` accepted.
        entry: the entry function's name.
        cache_dir: root of the kernel cache (default :func:`default_cache_dir`).
        directory: the checker's own kernel directory (default :func:`kernel_dir` under
            ``cache_dir``); the generated module and Numba's cache files are written there only.
        limits: the JIT subset's size limits.

    Returns:
        A :class:`Kernel`, or a string giving the reason the checker stays on the interpreter path.
    """
    from sandbox.audit import audit

    report = audit(source, entry=entry)
    if not report.ok:
        return "the audit rejects this source"
    source = report.source  # what the audit saw: BOM stripped, private names renamed
    tree = ast.parse(source)
    try:
        generated = _generate(tree, entry, fold_constants(tree), limits or JitLimits())
    except _Refused as refused:
        return str(refused) if refused.line is not None else refused.why
    except ConstantError as err:
        return str(err)
    from sandbox import jit_helpers

    if not jit_helpers.arithmetic_wraps():
        return (
            "this Numba's signed integer arithmetic does not wrap at 64 bits as the interpreter's "
            "does (sandbox.jit_helpers could not patch it): checkers stay on the interpreter"
        )
    directory = directory or kernel_dir(source, entry=entry, cache_dir=cache_dir)
    name = f"vlmcar_jit_{hashlib.sha256(generated.source.encode()).hexdigest()[:24]}"
    path = directory / f"{name}.py"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != generated.source:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(generated.source, encoding="utf-8")
            os.replace(tmp, path)
    except OSError as err:
        return f"cannot write the kernel module in {directory}: {err.strerror or err}"
    try:
        lock = os.open(directory / f"{name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        return f"cannot open the kernel's build lock in {directory}: {err.strerror or err}"
    try:
        # one build of a kernel at a time: workers of the same checker (several per run, several
        # runs on one machine) would otherwise load each other's half-written cache
        fcntl.flock(lock, fcntl.LOCK_EX)
        built = _import_kernel(name, path, directory)
        if built == _NO_RECORD:
            for stale in (directory / "__pycache__").glob(f"{name}*"):
                with contextlib.suppress(OSError):
                    stale.unlink()
            built = _import_kernel(name, path, directory)
    finally:
        os.close(lock)  # releases the lock
    if isinstance(built, str):
        return built
    module, seconds, cached = built
    return Kernel(run=module.vlmcar_batch, path=path, seconds=seconds, cached=cached)


def _import_kernel(name: str, path: Path, directory: Path) -> tuple[Any, float, bool] | str:
    """Import (compile, or load from Numba's cache) a kernel module and type-check it.

    Returns (module, seconds, whether the cache had it), or why it cannot be used; the caller
    holds the kernel's build lock.
    """
    cached = any((directory / "__pycache__").glob(f"{name}*.nbi"))
    t0 = time.perf_counter()
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            return f"cannot load generated module {path}"
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        from numba.core.errors import NumbaTypeSafetyWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", NumbaTypeSafetyWarning)
            spec.loader.exec_module(module)
        unsafe = next(
            (str(w.message) for w in caught if issubclass(w.category, NumbaTypeSafetyWarning)),
            None,
        )
    except Exception as err:  # numba TypingError and friends: stay on the interpreter path
        sys.modules.pop(name, None)
        return f"numba cannot compile it ({type(err).__name__}: {_numba_reason(err)})"
    from numba.core import types

    signature = module._vlmcar_entry.nopython_signatures[0]
    # `return True` alone types as Literal[bool](True): still a bool.
    if str(types.unliteral(signature.return_type)) != "bool":  # type: ignore[no-untyped-call]
        return f"the entry returns {signature.return_type}, not bool"
    widened = _widened_ints(module, directory / f"{name}.typed", unsafe)
    if widened is not None:
        sys.modules.pop(name, None)
        return widened
    return module, time.perf_counter() - t0, cached
