"""L2, the restricted compile: RestrictedPython with the engine's stricter rewriting policy.

Provides:
    CheckerPolicy: a ``RestrictingNodeTransformer`` subclass used for every checker.
    restricted_compile: AST of an audited module -> code object (raises SandboxError on refusal).

On top of RestrictedPython's rewriting (attribute, item, iteration and write guards), the policy
routes every binary operator through ``_binop_`` (64-bit integers, bounded sequence repetition, no
``%`` formatting, broadcast size checks), the unary ``-``, ``+`` and ``~`` of anything but a literal
through ``_unaryop_`` (int64 wrap, charged arrays), single comparisons (``in`` and ``not in``
included) through ``_compare_`` (broadcast size, membership in arrays and ranges) and chained ones
through ``_compare_chain_`` (later operands still evaluated only when needed), counts ``while``
iterations with ``_tick_`` and calls of functions *and lambdas* with ``_enter_``, freezes
module-level constants with ``_freeze_``, rewrites ``a[k] op= v`` into guarded reads and writes that
evaluate ``a`` and ``k`` once, strips annotations (they would otherwise run at definition time) and
drops the annotation-only imports (``typing``, ``__future__``).
"""

from __future__ import annotations

import ast
import copy
from types import CodeType

from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.transformer import IOPERATOR_TO_STR, RestrictingNodeTransformer

from sandbox.errors import SandboxError
from sandbox.surface import INERT_IMPORTS

__all__ = ["CheckerPolicy", "restricted_compile"]

_BINOP_TO_STR = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
}
_CMPOP_TO_STR = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
}
_UNARYOP_TO_STR = {ast.USub: "-", ast.UAdd: "+", ast.Invert: "~"}


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    return ast.fix_missing_locations(ast.copy_location(node, like))


def _statement(name: str, like: ast.AST) -> ast.Expr:
    node = ast.Expr(_call(name, [], like))
    ast.copy_location(node, like)
    return ast.fix_missing_locations(node)


def _as_expression(node: ast.expr) -> ast.expr:
    """A subscript key as an expression that can be stored in a variable (slices become calls)."""
    if isinstance(node, ast.Slice):
        parts: list[ast.expr] = [
            p if p is not None else ast.Constant(None) for p in (node.lower, node.upper, node.step)
        ]
        return ast.fix_missing_locations(
            ast.copy_location(ast.Call(ast.Name("slice", ast.Load()), parts, []), node)
        )
    if isinstance(node, ast.Tuple):
        return ast.copy_location(
            ast.Tuple([_as_expression(e) for e in node.elts], ast.Load()), node
        )
    return node


def _no_arguments() -> ast.arguments:
    return ast.arguments(
        posonlyargs=[], args=[], vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]
    )


def _inert_import(node: ast.stmt) -> bool:
    if isinstance(node, ast.ImportFrom):
        return node.level == 0 and node.module in INERT_IMPORTS
    if isinstance(node, ast.Import):
        return all(alias.name in INERT_IMPORTS for alias in node.names)
    return False


class CheckerPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus the engine's operator, loop, call and constant guards."""

    def visit_Module(self, node: ast.Module) -> ast.AST:
        """Drop annotation-only imports; freeze module-level constants."""
        node.body = [stmt for stmt in node.body if not _inert_import(stmt)]
        result = self.node_contents_visit(node)
        if not isinstance(result, ast.Module):  # pragma: no cover - RestrictedPython's shape
            raise SandboxError("unexpected module rewrite")
        for stmt in result.body:  # after visiting: the guard name itself is not user code
            if isinstance(stmt, ast.Assign):
                stmt.value = _call("_freeze_", [stmt.value], stmt.value)
        return result

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        """Rewrite ``a op b`` into ``_binop_("op", a, b)``."""
        node = self.node_contents_visit(node)
        op = _BINOP_TO_STR.get(type(node.op))
        if op is None:
            self.error(node, f"operator {type(node.op).__name__} is not allowed.")
            return node
        return _call("_binop_", [ast.Constant(op), node.left, node.right], node)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        """Rewrite ``-x``, ``+x``, ``~x`` into ``_unaryop_("-", x)``; literals and ``not`` stay."""
        node = self.node_contents_visit(node)
        op = _UNARYOP_TO_STR.get(type(node.op))
        if op is None or isinstance(node.operand, ast.Constant):
            return node  # `not x` allocates nothing; -3 is a constant within 64 bits (audited)
        return _call("_unaryop_", [ast.Constant(op), node.operand], node)

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        """Rewrite ``a < b`` into ``_compare_("<", a, b)``, chains into ``_compare_chain_``.

        ``a < b < c`` becomes ``_compare_chain_(("<", "<"), a, b, lambda: c)``: the guard compares
        pair by pair and calls for ``c`` only when ``a < b`` held, as Python does.
        """
        node = self.node_contents_visit(node)
        ops = [_CMPOP_TO_STR.get(type(op)) for op in node.ops]
        if None in ops:  # pragma: no cover - every comparison operator is listed
            self.error(node, "comparison operator is not allowed.")
            return node
        if len(ops) == 1:
            if ops[0] in ("is", "is not"):
                return node  # identity tests allocate nothing
            return _call("_compare_", [ast.Constant(ops[0]), node.left, node.comparators[0]], node)
        later = [
            ast.copy_location(ast.Lambda(args=_no_arguments(), body=operand), operand)
            for operand in node.comparators[1:]
        ]
        names = ast.Tuple([ast.Constant(op) for op in ops], ast.Load())
        return _call("_compare_chain_", [names, node.left, node.comparators[0], *later], node)

    def visit_While(self, node: ast.While) -> ast.AST:
        """Count every ``while`` iteration with ``_tick_()``."""
        node = self.node_contents_visit(node)
        node.body.insert(0, _statement("_tick_", node))
        return node

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        """Count every call with ``_enter_()``; drop annotations."""
        for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs:
            a.annotation = None
        node.returns = None
        result = super().visit_FunctionDef(node)
        if not isinstance(result, ast.FunctionDef):  # pragma: no cover - RestrictedPython's shape
            raise SandboxError("unexpected function rewrite")
        result.body.insert(0, _statement("_enter_", result))
        return result

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        """Count every call of a lambda: ``lambda x: _enter_() or body``."""
        result = super().visit_Lambda(node)
        if not isinstance(result, ast.Lambda):  # pragma: no cover - RestrictedPython's shape
            raise SandboxError("unexpected lambda rewrite")
        body = ast.BoolOp(op=ast.Or(), values=[_call("_enter_", [], result), result.body])
        result.body = ast.fix_missing_locations(ast.copy_location(body, result.body))
        return result

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        """``x: T = v`` becomes ``x = v``; a bare ``x: T`` disappears."""
        if node.value is None:
            return None
        assign = ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)
        result: ast.AST = self.visit(ast.fix_missing_locations(assign))
        return result

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST | list[ast.stmt]:
        """``c[k] op= v`` becomes ``t = c; u = k; t[u] = _inplacevar_(op, t[u], v)``.

        The container and key are evaluated once, as Python does; reads and writes go through
        the item and write guards.
        """
        target = node.target
        if not isinstance(target, ast.Subscript):
            rewritten = super().visit_AugAssign(node)
            if not isinstance(rewritten, ast.AST):  # pragma: no cover
                raise SandboxError("unexpected augmented-assignment rewrite")
            return rewritten
        container = self.visit(target.value)
        key = self.visit(_as_expression(copy.deepcopy(target.slice)))
        operand = self.visit(node.value)
        c_name, k_name = self.gen_tmp_name(), self.gen_tmp_name()
        load = ast.Name
        read = _call("_getitem_", [load(c_name, ast.Load()), load(k_name, ast.Load())], node)
        value = _call(
            "_inplacevar_", [ast.Constant(IOPERATOR_TO_STR[type(node.op)]), read, operand], node
        )
        store = ast.Subscript(
            value=_call("_write_", [load(c_name, ast.Load())], node),
            slice=load(k_name, ast.Load()),
            ctx=ast.Store(),
        )
        statements: list[ast.stmt] = [
            ast.Assign(targets=[load(c_name, ast.Store())], value=container),
            ast.Assign(targets=[load(k_name, ast.Store())], value=key),
            ast.Assign(targets=[store], value=value),
        ]
        for stmt in statements:
            ast.copy_location(stmt, node)
            ast.fix_missing_locations(stmt)
        return statements


def restricted_compile(tree: ast.Module, filename: str) -> CodeType:
    """Compile an audited module under :class:`CheckerPolicy`.

    Args:
        tree: the parsed module (it is transformed in place).
        filename: the name compiled into the code object (shown in tracebacks).

    Returns:
        The module's code object.

    Raises:
        SandboxError: when RestrictedPython's policy refuses something the audit let through, or
            compiling fails for any other reason.
    """
    try:
        result = compile_restricted_exec(tree, filename=filename, policy=CheckerPolicy)
    except (SyntaxError, ValueError, TypeError, RecursionError, MemoryError) as err:
        raise SandboxError(f"{filename}: compiling the checker failed: {err!r}") from None
    if result.errors or result.code is None:
        raise SandboxError(
            f"{filename}: the restricted compiler refused the checker: " + "; ".join(result.errors)
        )
    return result.code
