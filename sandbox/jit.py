"""L7, the Numba path: compile checkers of a strict numeric subset to one native batch call.

Provides:
    JIT_NUMPY: the numpy names the subset admits (numba is the final judge of each call).
    Kernel: a compiled batch function ``kernel(frames, firsts, out)`` plus how it was built.
    jit_refusal: why a checker's audited tree falls outside the subset (None when it fits).
    build_kernel: audited source -> :class:`Kernel`, or a reason string when it cannot be jitted.

The subset is numeric code over frames: assignments, ``if``, ``for`` over ``range``, ``while``,
arithmetic, comparisons, indexing and slicing, tuples of numbers, allow-listed numpy and math
functions, the vision helpers (their jitted twins in :mod:`sandbox.jit_helpers`) and the checker's
own helper functions. No strings, lists, dicts, comprehensions, lambdas, ``try`` or ``is``.

The kernel is compiled from the *validated tree* (``ast.unparse`` of the audited module, never the
raw text) into a module written to a content-addressed file, so Numba's on-disk cache works and a
second run loads in a fraction of the first compile. Every function gets
``njit(nogil=True, boundscheck=True)``: an out-of-range index raises ``IndexError`` instead of reading
foreign memory. Checker code never sees numba. Compilation is eager (explicit signatures), so no
checker code runs while compiling; the kernel must return ``bool`` or it is refused.

Integer semantics: numba computes scalar integer arithmetic in 64 bits, numpy arrays wrap in their
dtype. The interpreter path matches this (pixels read one at a time are Python ints, and Python ints
are kept within 64 bits), and :meth:`sandbox.Checker.attach_kernel` enables a kernel only after
both paths agree on a set of diverse frames.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sandbox.surface import MATH_NAMES, VISION_NAMES

__all__ = ["JIT_NUMPY", "Kernel", "build_kernel", "default_cache_dir", "jit_refusal"]

#: numpy names admitted into the subset (whether numba types a given call is checked on compile).
JIT_NUMPY = frozenset(
    """
    abs absolute all amax amin any arange arccos arcsin arctan arctan2 argmax argmin argwhere ceil
    clip cos count_nonzero cumsum deg2rad diff exp flatnonzero floor full hypot isfinite isinf isnan
    log log10 log1p log2 logical_and logical_not logical_or logical_xor max maximum mean median min
    minimum nonzero ones ones_like prod rad2deg round sign sin sqrt square std sum tan var where
    zeros zeros_like
    bool_ float32 float64 int8 int16 int32 int64 uint8 uint16 uint32 uint64 e inf nan pi
    """.split()
)
_ARRAY_ATTRIBUTES = frozenset(
    "all any argmax argmin astype copy cumsum flatten max mean min ndim nonzero prod ravel reshape "
    "shape size std sum T transpose var".split()
)
_BUILTINS = frozenset({"abs", "bool", "float", "int", "len", "max", "min", "range", "round"})
_SCALAR_CONSTANT = (bool, int, float)


@dataclass(frozen=True)
class Kernel:
    """A compiled batch kernel for one checker.

    Attributes:
        run: ``run(frames, firsts, out)``: frames and firsts (N, H, W, 3) read-only C-contiguous
            uint8, out (N,) bool; one native call for the whole batch, single-threaded (the
            per-step path: no thread-pool wake-ups, no oversubscription next to the learner).
        run_parallel: the same over all cores (``numba.prange``), for large offline batches such
            as verification; compiled on first use.
        path: the generated module's file (content-addressed by the generated source's hash).
        seconds: time to build (compile, or load from Numba's cache).
        cached: whether Numba's cache had the compiled code already.
    """

    run: Callable[[Any, Any, Any], None]
    run_parallel: Callable[[Any, Any, Any], None]
    path: Path
    seconds: float
    cached: bool


def default_cache_dir() -> Path:
    """Where generated kernels and Numba's cache live (``$VLMCAR_CACHE_DIR`` or ~/.cache)."""
    root = os.environ.get("VLMCAR_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "vlm-car"
    )
    return Path(root) / "jit"


class _Subset(ast.NodeVisitor):
    """Collects the first reason a tree falls outside the JIT subset."""

    def __init__(
        self, numpy_aliases: set[str], math_aliases: set[str], functions: set[str]
    ) -> None:
        self.numpy = numpy_aliases
        self.math = math_aliases
        self.functions = functions
        self.reason: str | None = None

    def refuse(self, node: ast.AST, why: str) -> None:
        if self.reason is None:
            self.reason = f"line {getattr(node, 'lineno', '?')}: {why}"

    def generic_visit(self, node: ast.AST) -> None:
        self.refuse(node, f"{type(node).__name__} is outside the JIT subset")

    def children(self, node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    visit_Module = visit_Return = visit_If = visit_Break = visit_Continue = visit_Pass = children
    visit_BoolOp = visit_UnaryOp = visit_IfExp = visit_Slice = children
    visit_Load = visit_Store = visit_arguments = visit_arg = visit_keyword = children
    visit_While = visit_NamedExpr = visit_BinOp = children

    def visit_operator(self, node: ast.AST) -> None:
        """Operators carry no children."""

    for _op in (
        "Add Sub Mult Div FloorDiv Mod Pow LShift RShift BitOr BitXor BitAnd And Or Eq NotEq Lt "
        "LtE Gt GtE In NotIn Not Invert UAdd USub"
    ).split():
        locals()[f"visit_{_op}"] = visit_operator
    del _op

    def visit_Compare(self, node: ast.Compare) -> None:
        if any(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
            self.refuse(node, "`is` comparisons are outside the JIT subset")
        self.children(node)

    def visit_Is(self, node: ast.AST) -> None:
        """Reported by :meth:`visit_Compare`, which knows the line."""

    visit_IsNot = visit_Is

    def visit_Import(self, node: ast.Import) -> None:
        """Imports were checked by the audit (numpy and math only)."""

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        """Annotation-only imports are dropped."""

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        if node.args.kwonlyargs or node.args.defaults:
            self.refuse(node, "defaults and keyword-only parameters are outside the JIT subset")
        for stmt in node.body:
            if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
                continue  # docstring
            self.visit(stmt)

    def visit_Expr(self, node: ast.Expr) -> None:
        if not (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)):
            self.refuse(
                node, "expression statements (calls for their effect) are outside the subset"
            )

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if not isinstance(target, ast.Name | ast.Tuple | ast.Subscript):
                self.refuse(target, "only names, tuples of names and items can be assigned")
        self.children(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.children(node)

    def visit_For(self, node: ast.For) -> None:
        it = node.iter
        if not (
            isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "range"
        ):
            self.refuse(node, "only `for ... in range(...)` loops are in the JIT subset")
        if node.orelse:
            self.refuse(node, "for/else is outside the JIT subset")
        self.children(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if node.value is not Ellipsis and not isinstance(node.value, _SCALAR_CONSTANT):
            self.refuse(node, f"{type(node.value).__name__} constants are outside the JIT subset")

    def visit_Tuple(self, node: ast.Tuple) -> None:
        self.children(node)

    def visit_Name(self, node: ast.Name) -> None:
        """Names resolve to locals, module constants, functions or allow-listed builtins."""

    def visit_Subscript(self, node: ast.Subscript) -> None:
        self.children(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        base = node.value
        if isinstance(base, ast.Name) and base.id in self.numpy:
            if node.attr not in JIT_NUMPY:
                self.refuse(node, f"np.{node.attr} is outside the JIT subset")
            return
        if isinstance(base, ast.Name) and base.id in self.math:
            if node.attr not in MATH_NAMES:
                self.refuse(node, f"math.{node.attr} is outside the JIT subset")
            return
        if node.attr not in _ARRAY_ATTRIBUTES:
            self.refuse(node, f"attribute {node.attr!r} is outside the JIT subset")
        self.visit(base)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name):
            if func.id not in _BUILTINS | VISION_NAMES | self.functions:
                self.refuse(node, f"calls to {func.id}() are outside the JIT subset")
        elif not isinstance(func, ast.Attribute):
            self.refuse(node, "only calls of named functions are in the JIT subset")
        self.children(node)


def _aliases(tree: ast.Module, module: str) -> set[str]:
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == module
    }


def jit_refusal(tree: ast.Module) -> str | None:
    """Return why an audited module is outside the JIT subset, or None when it fits.

    Example:
        >>> jit_refusal(ast.parse("def check(frame):\\n    return frame.mean() > 3\\n")) is None
        True
        >>> jit_refusal(ast.parse("def check(frame):\\n    return len([1]) > 0\\n"))
        'line 2: List is outside the JIT subset'
    """
    functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
    for node in tree.body:
        if isinstance(node, ast.Assign) and not _numeric_constant(node.value):
            return f"line {node.lineno}: module constants must be numbers or tuples of numbers"
    subset = _Subset(_aliases(tree, "numpy"), _aliases(tree, "math"), functions)
    subset.visit(tree)
    return subset.reason


def _numeric_constant(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return isinstance(node.value, _SCALAR_CONSTANT)
    if isinstance(node, ast.UnaryOp):
        return _numeric_constant(node.operand)
    if isinstance(node, ast.BinOp):
        return _numeric_constant(node.left) and _numeric_constant(node.right)
    if isinstance(node, ast.Tuple):
        return all(_numeric_constant(e) for e in node.elts)
    return False


class _PythonNumbers(ast.NodeTransformer):
    """Wrap every item read and every call in ``as_python_number(...)``.

    The interpreter hands checkers pixels and numpy scalar results as Python ``int``/``float``;
    numba would keep them as ``uint8``/``uint64``, and unsigned scalar arithmetic wraps there
    (``frame[y, x, 0] - frame[y, x, 1]`` is ~1.8e19 when green is brighter). Arrays pass through.
    """

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        if not isinstance(node.ctx, ast.Load):
            return node
        return ast.copy_location(_wrap_number(node), node)

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if isinstance(node.func, ast.Name) and node.func.id == "range":
            return node
        return ast.copy_location(_wrap_number(node), node)


def _wrap_number(node: ast.expr) -> ast.Call:
    return ast.Call(ast.Name("as_python_number", ast.Load()), [node], [])


def _generate(tree: ast.Module, entry: str, arity: int) -> str:
    """Module source for the kernel, from the validated tree only."""
    tree = ast.fix_missing_locations(_PythonNumbers().visit(tree))
    body: list[str] = [
        "# Generated by vlm-car from an audited checker; do not edit.",
        f"# helpers {_helpers_digest()}",
        "import numba as _vlmcar_numba",
        "from sandbox.jit_helpers import as_python_number",
        "from sandbox.jit_helpers import " + ", ".join(sorted(VISION_NAMES)),
        "_JIT = _vlmcar_numba.njit(cache=True, nogil=True, boundscheck=True)",
    ]
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            continue  # annotation-only
        if isinstance(node, ast.FunctionDef):
            if node.name == entry:
                continue
            body.append("@_JIT\n" + ast.unparse(_strip_annotations(node)))
        elif isinstance(node, ast.Expr):
            continue  # docstring
        else:
            body.append(ast.unparse(node))
    entry_def = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry)
    body.append(
        "def _vlmcar_entry_py" + ast.unparse(_strip_annotations(entry_def))[len(f"def {entry}") :]
    )
    call = "_vlmcar_entry(frames[i])" if arity == 1 else "_vlmcar_entry(frames[i], firsts[i])"
    body.append(
        "_FRAME = _vlmcar_numba.types.Array(_vlmcar_numba.types.uint8, 3, 'C', readonly=True)\n"
        "_BATCH = _vlmcar_numba.types.Array(_vlmcar_numba.types.uint8, 4, 'C', readonly=True)\n"
        "_OUT = _vlmcar_numba.types.Array(_vlmcar_numba.types.boolean, 1, 'C')\n"
        f"_vlmcar_entry = _vlmcar_numba.njit(({'_FRAME,' if arity == 1 else '_FRAME, _FRAME'}), "
        "cache=True, nogil=True, boundscheck=True)(_vlmcar_entry_py)\n"
        "@_vlmcar_numba.njit((_BATCH, _BATCH, _OUT), cache=True, nogil=True, boundscheck=True)\n"
        "def vlmcar_batch(frames, firsts, out):\n"
        "    for i in range(frames.shape[0]):\n"
        f"        out[i] = {call}\n"
        "\n\n"
        "# Multi-threaded twin for large offline batches; compiled on first use only.\n"
        "@_vlmcar_numba.njit(parallel=True, cache=True, nogil=True, boundscheck=True)\n"
        "def vlmcar_batch_parallel(frames, firsts, out):\n"
        "    for i in _vlmcar_numba.prange(frames.shape[0]):\n"
        f"        out[i] = {call}\n"
    )
    return "\n\n".join(body) + "\n"


def _helpers_digest() -> str:
    """Hash of the code a kernel inlines (the vision kernels and the jit helpers).

    It is part of the generated module's text, so a changed helper gives a new module file and a
    fresh Numba cache entry (Numba's own cache does not track callees).
    """
    from sandbox import jit_helpers, vision

    digest = hashlib.sha256()
    for module in (vision, jit_helpers):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


def _strip_annotations(node: ast.FunctionDef) -> ast.FunctionDef:
    for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
        a.annotation = None
    node.returns = None
    return node


def _numba_reason(err: BaseException) -> str:
    """The informative line of a numba error (its first lines are a generic banner)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
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
    source: str, *, entry: str = "check", cache_dir: Path | None = None
) -> Kernel | str:
    """Compile an *audited* checker to a batch kernel, or say why it cannot be jitted.

    Args:
        source: checker source that :func:`sandbox.audit` accepted.
        entry: the entry function's name.
        cache_dir: where generated modules and Numba's cache go (default
            :func:`default_cache_dir`).

    Returns:
        A :class:`Kernel`, or a string giving the reason the checker stays on the interpreter path.
    """
    from sandbox.audit import audit, strip_bom

    source = strip_bom(source)
    if not audit(source, entry=entry).ok:
        return "the audit rejects this source"
    tree = ast.parse(source)
    reason = jit_refusal(tree)
    if reason is not None:
        return reason
    entry_def = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == entry)
    arity = len(entry_def.args.posonlyargs) + len(entry_def.args.args)
    generated = _generate(tree, entry, arity)
    digest = hashlib.sha256(generated.encode()).hexdigest()[:24]
    directory = cache_dir or default_cache_dir()
    path = directory / f"vlmcar_jit_{digest}.py"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text(encoding="utf-8") != generated:
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(generated, encoding="utf-8")
            os.replace(tmp, path)
    except OSError as err:
        return f"cannot write the kernel cache in {directory}: {err.strerror or err}"
    numba_cache = os.environ.get("NUMBA_CACHE_DIR")
    cache_roots = [directory / "__pycache__"] + ([Path(numba_cache)] if numba_cache else [])
    cache_files = [f for root in cache_roots for f in root.rglob(f"vlmcar_jit_{digest}*.nbi")]
    t0 = time.perf_counter()
    name = f"vlmcar_jit_{digest}"
    try:
        spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            return f"cannot load generated module {path}"
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    except Exception as err:  # numba TypingError and friends: stay on the interpreter path
        sys.modules.pop(name, None)
        return f"numba cannot compile it ({type(err).__name__}: {_numba_reason(err)})"
    signature = module._vlmcar_entry.nopython_signatures[0]
    if str(signature.return_type) != "bool":
        return f"the entry returns {signature.return_type}, not bool"
    return Kernel(
        run=module.vlmcar_batch,
        run_parallel=module.vlmcar_batch_parallel,
        path=path,
        seconds=time.perf_counter() - t0,
        cached=bool(cache_files),
    )
