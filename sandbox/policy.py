"""L2, the restricted compile: RestrictedPython with the engine's stricter rewriting policy.

Provides:
    CheckerPolicy: a ``RestrictingNodeTransformer`` subclass used for every checker.
    restricted_compile: AST of an audited module -> code object (raises on policy errors).

On top of RestrictedPython's rewriting (attribute, item, iteration and write guards), the policy
routes every binary operator through ``_binop_`` (64-bit integers, bounded sequence repetition, no
``%`` formatting, broadcast size checks), counts ``while`` iterations with ``_tick_`` and function
calls with ``_enter_``, rewrites simple ``a[k] op= v`` into guarded reads and writes, and strips
annotations (they would otherwise run at definition time).
"""

from __future__ import annotations

import ast
from types import CodeType

from RestrictedPython.compile import compile_restricted_exec
from RestrictedPython.transformer import IOPERATOR_TO_STR, RestrictingNodeTransformer

from sandbox.errors import SandboxError

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


def _call(name: str, args: list[ast.expr], like: ast.AST) -> ast.Call:
    node = ast.Call(func=ast.Name(name, ast.Load()), args=args, keywords=[])
    return ast.copy_location(node, like)


def _statement(name: str, like: ast.AST) -> ast.Expr:
    node = ast.Expr(_call(name, [], like))
    ast.copy_location(node, like)
    ast.fix_missing_locations(node)
    return node


class CheckerPolicy(RestrictingNodeTransformer):
    """RestrictedPython's policy plus the engine's operator, loop and call guards."""

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        """Rewrite ``a op b`` into ``_binop_("op", a, b)``."""
        node = self.node_contents_visit(node)
        op = _BINOP_TO_STR.get(type(node.op))
        if op is None:
            self.error(node, f"operator {type(node.op).__name__} is not allowed.")
            return node
        return ast.fix_missing_locations(
            _call("_binop_", [ast.Constant(op), node.left, node.right], node)
        )

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
        assert isinstance(result, ast.FunctionDef)
        result.body.insert(0, _statement("_enter_", result))
        return result

    def visit_AnnAssign(self, node: ast.AnnAssign) -> ast.AST | None:
        """``x: T = v`` becomes ``x = v``; a bare ``x: T`` disappears."""
        if node.value is None:
            return None
        assign = ast.copy_location(ast.Assign(targets=[node.target], value=node.value), node)
        result: ast.AST = self.visit(ast.fix_missing_locations(assign))
        return result

    def visit_AugAssign(self, node: ast.AugAssign) -> ast.AST:
        """``a[k] op= v`` (plain name and key) becomes ``a[k] = _inplacevar_(op, a[k], v)``."""
        target = node.target
        if isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name):
            load = ast.copy_location(
                ast.Subscript(
                    value=ast.Name(target.value.id, ast.Load()),
                    slice=_reload(target.slice),
                    ctx=ast.Load(),
                ),
                target,
            )
            ast.fix_missing_locations(load)
            # Visit the parts first: the guard call itself must not be checked as user code.
            store = self.visit(target)
            loaded = self.visit(load)
            operand = self.visit(node.value)
            value = _call(
                "_inplacevar_",
                [ast.Constant(IOPERATOR_TO_STR[type(node.op)]), loaded, operand],
                node,
            )
            assign = ast.copy_location(ast.Assign(targets=[store], value=value), node)
            return ast.fix_missing_locations(assign)
        rewritten = super().visit_AugAssign(node)
        assert isinstance(rewritten, ast.AST)  # RestrictedPython returns one node
        return rewritten


def _reload(node: ast.expr) -> ast.expr:
    """A copy of a (simple) subscript key for a second, loading use."""
    copied = ast.parse(ast.unparse(node), mode="eval").body
    return ast.copy_location(copied, node)


def restricted_compile(tree: ast.Module, filename: str) -> CodeType:
    """Compile an audited module under :class:`CheckerPolicy`.

    Args:
        tree: the parsed module (it is transformed in place).
        filename: the name compiled into the code object (shown in tracebacks).

    Returns:
        The module's code object.

    Raises:
        SandboxError: when RestrictedPython's policy refuses something the audit let through.
    """
    result = compile_restricted_exec(tree, filename=filename, policy=CheckerPolicy)
    if result.errors or result.code is None:
        raise SandboxError(
            f"{filename}: the restricted compiler refused the checker: " + "; ".join(result.errors)
        )
    return result.code
