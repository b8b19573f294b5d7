"""L1, the static audit: deny-by-default review of a checker's source before anything runs.

Provides:
    AuditLimits: the audit's size limits (source length, nesting depth, constant sizes).
    audit: source text -> :class:`~sandbox.diagnostics.AuditReport` (never raises on bad input).

The audit parses with :mod:`ast` and walks every node with a visitor that has one method per reviewed
node type; :meth:`_Auditor.generic_visit` reports every other node type (rule N401), so a construct
added to Python later is rejected until someone reviews it. Raw-text checks (bidi and invisible code
points, non-ASCII identifiers) run on the text itself because the parser NFKC-normalises identifiers
(``_＿class＿＿`` parses as ``__class__``). Rules are documented in :mod:`sandbox.rules`.
"""

from __future__ import annotations

import ast
import io
import itertools
import re
import tokenize
import unicodedata
import warnings
from collections.abc import Iterator
from dataclasses import dataclass

from sandbox.constants import constant_refusal
from sandbox.diagnostics import AuditReport, Finding, char_column
from sandbox.rules import RULES
from sandbox.surface import (
    ALL_ATTRIBUTES,
    EXCEPTION_NAMES,
    INERT_IMPORTS,
    MATH_NAMES,
    NUMPY_MEMBERS,
    NUMPY_NAMES,
    PROVIDED_NAMES,
    RESERVED_NAMES,
)

__all__ = ["PRIVATE_PREFIX", "AuditLimits", "audit", "public_names", "strip_bom"]

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_ALLOWED_CONTROL = frozenset("\t\n\r\f")
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class AuditLimits:
    """Size limits the audit enforces.

    Attributes:
        max_chars: longest accepted source, in characters (S102).
        max_lines: most lines accepted (S102).
        max_depth: deepest AST nesting accepted (S106).
        max_str_len: longest string or bytes literal (K601).
    """

    max_chars: int = 50_000
    max_lines: int = 1_000
    max_depth: int = 48
    max_str_len: int = 10_000


def audit(
    source: str, *, path: str = "<checker>", entry: str = "check", limits: AuditLimits | None = None
) -> AuditReport:
    r"""Audit a checker's source against the checker contract and the allow-lists.

    Never raises on bad input: a syntax error, an oversize source or a parser crash is a finding.

    Args:
        source: the module text.
        path: where it came from, used in findings.
        entry: the name of the entry function the engine will call.
        limits: size limits; defaults to :class:`AuditLimits()`.

    Returns:
        The report; ``report.ok`` is True when the checker may be compiled.

    Example:
        >>> audit("def check(frame):\n    return bool(frame.mean() > 10)\n").ok
        True
        >>> audit("import os\ndef check(frame):\n    return True\n").codes
        ('I301',)
    """
    limits = limits or AuditLimits()
    if not isinstance(source, str):  # callers without type checking
        return _single(path, "S101", f"source must be str, got {type(source).__name__}")  # type: ignore[unreachable]
    source = strip_bom(source)
    findings: list[Finding] = []
    lines = source.splitlines()
    if len(source) > limits.max_chars or len(lines) > limits.max_lines:
        return _single(
            path,
            "S102",
            f"source is {len(source):,} characters / {len(lines):,} lines; the limit is "
            f"{limits.max_chars:,} / {limits.max_lines:,}",
            source=source,
        )
    findings += _scan_characters(source, path)  # the text as written
    tokens = _tokens(source)  # None: the text does not tokenize (S107 once it parses)
    tokenizes = tokens is not None
    findings += _scan_identifiers(tokens or [], path)
    source = public_names(source)  # `_mask` -> `private_mask`: what every path compiles
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SyntaxWarnings belong in findings, not on stderr
            tree = ast.parse(source, filename=path, type_comments=False)
    except SyntaxError as err:
        findings.append(_at(path, err.lineno or 1, err.offset or 1, "S101", f"{err.msg}"))
        return AuditReport(path, tuple(sorted(findings)), source)
    except (RecursionError, MemoryError, ValueError) as err:
        msg = f"the parser gave up ({type(err).__name__}): nesting is too deep or the input invalid"
        findings.append(_at(path, 1, 1, "S106" if not isinstance(err, ValueError) else "S101", msg))
        return AuditReport(path, tuple(sorted(findings)), source)
    if not tokenizes:
        findings.append(
            _at(
                path,
                1,
                1,
                "S107",
                "the source parses but Python's tokenize module cannot read it (e.g. a "
                "backslash continuation at the very end), so its identifiers cannot be checked",
            )
        )
    depth = _depth(tree)
    if depth > limits.max_depth:
        findings.append(
            _at(
                path, 1, 1, "S106", f"nesting depth {depth} exceeds the limit of {limits.max_depth}"
            )
        )
        return AuditReport(path, tuple(sorted(findings)), source)
    auditor = _Auditor(path, lines, entry, limits)
    auditor.run(tree)
    findings += auditor.findings
    return AuditReport(path, tuple(sorted(set(findings))), source)


def strip_bom(source: str) -> str:
    """Drop a leading UTF-8 byte-order mark (editors add it; the parser refuses it in a str)."""
    return source[1:] if source.startswith("\ufeff") else source


#: One leading underscore, then a letter or digit, and no trailing underscore: a "private" name
#: models write for helpers (``_mask``, ``_has_key``). Dunders and ``_name_`` (the engine's guard
#: names are all of that form) are not.
_PRIVATE = re.compile(r"_[A-Za-z0-9](?:\w*[A-Za-z0-9])?", re.ASCII)
#: What a private name becomes: ``_mask`` -> ``private_mask``.
PRIVATE_PREFIX = "private"


def public_names(source: str) -> str:
    r"""``source`` with each private identifier (``_mask``) renamed ``private_mask``.

    Names only: an attribute (``x._y``) keeps its underscore and stays refused (A501), and so do
    dunders and ``_name_``. The rename is consistent over the module (definitions, uses, keyword
    arguments) and keeps every line and statement where it was, so findings and tracebacks point
    at the same lines. Where ``private_mask`` is already a name in the source, a number is added.
    Source that does not tokenize is returned as it is (the audit reports the syntax error).
    Idempotent: the result has no private names.

    Example:
        >>> public_names("def _mask(f):\n    return f._x\n")
        'def private_mask(f):\n    return f._x\n'
    """
    if "_" not in source:
        return source
    # The parser reads "\r\n" and a lone "\r" as "\n" and nothing else as a line break (not
    # "\f", "\v", "\x1c", "\u2028" ..., which str.splitlines would split at): rows and columns
    # are those of that text.
    text = source.replace("\r\n", "\n").replace("\r", "\n")
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return source
    # as the parser sees them: it folds identifiers to NFKC (`ｐrivate_mask` is `private_mask`)
    taken = {unicodedata.normalize("NFKC", t.string) for t in tokens if t.type == tokenize.NAME}
    renamed: dict[str, str] = {}
    edits: list[tuple[int, int, int, str]] = []  # (row, col, length, new)
    previous: tokenize.TokenInfo | None = None
    skip = {tokenize.NL, tokenize.COMMENT, tokenize.INDENT, tokenize.DEDENT}
    for tok in tokens:
        if tok.type in skip:
            continue
        attribute = previous is not None and previous.type == tokenize.OP and previous.string == "."
        if tok.type == tokenize.NAME and not attribute and _PRIVATE.fullmatch(tok.string):
            new = renamed.get(tok.string)
            if new is None:
                new = base = f"{PRIVATE_PREFIX}{tok.string}"
                k = 1
                while new in taken:
                    k += 1
                    new = f"{base}{k}"
                taken.add(new)
                renamed[tok.string] = new
            edits.append((tok.start[0], tok.start[1], len(tok.string), new))
        previous = tok
    if not edits:
        return source
    lines = io.StringIO(text).readlines()  # split at "\n" only, as tokenize read them
    for row, col, length, new in reversed(edits):  # right to left keeps earlier columns valid
        line = lines[row - 1] if row <= len(lines) else ""
        if not _PRIVATE.fullmatch(line[col : col + length]):  # not where tokenize said: keep
            return source  # the text as it is (its private names are then refused, A501)
        lines[row - 1] = line[:col] + new + line[col + length :]
    return "".join(lines)


def _single(path: str, code: str, message: str, *, source: str = "") -> AuditReport:
    return AuditReport(path, (_at(path, 1, 1, code, message),), source)


def _at(
    path: str, line: int, col: int, code: str, message: str, hint: str | None = None
) -> Finding:
    rule = RULES[code]
    return Finding(
        path=path,
        line=line,
        col=col,
        code=code,
        name=rule.name,
        message=message,
        hint=rule.instead if hint is None else hint,
        end_line=line,
        end_col=col + 1,
    )


def _scan_characters(source: str, path: str) -> Iterator[Finding]:
    """Flag bidi controls (S103) and invisible or control code points (S104), anywhere."""
    for lineno, text in enumerate(source.split("\n"), start=1):
        if text.isascii() and text.isprintable():
            continue
        for i, ch in enumerate(text):
            if ch in _BIDI:
                yield _at(path, lineno, i + 1, "S103", f"bidirectional control U+{ord(ch):04X}")
            elif ch in _ALLOWED_CONTROL or (ch.isascii() and ch.isprintable()):
                continue
            elif unicodedata.category(ch) in {"Cc", "Cf", "Co", "Cn", "Zl", "Zp", "Zs"}:
                yield _at(
                    path,
                    lineno,
                    i + 1,
                    "S104",
                    f"invisible or control character U+{ord(ch):04X} "
                    f"({unicodedata.name(ch, 'unnamed')})",
                )


def _tokens(source: str) -> list[tokenize.TokenInfo] | None:
    """The source's tokens as written, or None where tokenize cannot read it."""
    try:
        return list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):  # IndentationError is a SyntaxError
        return None


def _scan_identifiers(tokens: list[tokenize.TokenInfo], path: str) -> Iterator[Finding]:
    """Flag identifiers with non-ASCII characters (S105), before the parser normalises them."""
    for tok in tokens:
        if tok.type == tokenize.NAME and not tok.string.isascii():
            (line, col) = tok.start
            yield _at(
                path,
                line,
                col + 1,
                "S105",
                f"identifier {tok.string!r} contains non-ASCII characters (it parses as "
                f"{unicodedata.normalize('NFKC', tok.string)!r})",
            )
        elif tok.type == tokenize.ERRORTOKEN and not tok.string.isascii():
            (line, col) = tok.start
            yield _at(path, line, col + 1, "S105", f"non-ASCII character {tok.string!r} in code")


def _depth(tree: ast.AST) -> int:
    deepest = 0
    stack: list[tuple[ast.AST, int]] = [(tree, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        stack.extend((child, d + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _bound_names(tree: ast.AST) -> set[str]:
    """Every name the checker binds anywhere (parameters, targets, defs, handlers, imports)."""
    names: set[str] = set()
    for node in ast.walk(tree):
        name: str | None = None
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            name = node.id
        elif isinstance(node, ast.arg):
            name = node.arg
        elif isinstance(
            node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.ExceptHandler
        ):
            name = node.name
        elif isinstance(node, ast.Import | ast.ImportFrom):
            module = node.module if isinstance(node, ast.ImportFrom) else None
            for alias in node.names:
                if module not in INERT_IMPORTS and alias.name not in INERT_IMPORTS:
                    names.add(alias.asname or alias.name.split(".")[0])
        if name is not None:
            names.add(name)
    return names


def _walk_same_scope(node: ast.AST) -> Iterator[ast.AST]:
    """Walk ``node`` without entering nested functions, lambdas or (but for returns) loops."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        for child in ast.iter_child_nodes(current):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            if isinstance(current, ast.For | ast.While) and isinstance(child, ast.stmt):
                stack.extend(n for n in ast.walk(child) if isinstance(n, ast.Return))
                continue
            stack.append(child)


def _module_aliases(tree: ast.Module, module: str) -> set[str]:
    """Names the module binds to ``module`` with top-level ``import module [as name]``."""
    return {
        alias.asname or alias.name
        for node in tree.body
        if isinstance(node, ast.Import)
        for alias in node.names
        if alias.name == module
    }


def _target_names(target: ast.expr) -> list[str] | None:
    """The names a module-level target binds (a name or a flat tuple of names), else None."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List) and all(
        isinstance(e, ast.Name) for e in target.elts
    ):
        return [e.id for e in target.elts if isinstance(e, ast.Name)]
    return None


def _unpack_refusal(target: ast.expr, value: ast.expr) -> str | None:
    """Why ``target = value`` at module level cannot unpack, when the literal shows it, else None.

    Only what the source shows is judged: a tuple or list display, a number, ``None`` or a string
    on the right of a tuple target. A name or an expression on the right is left to the constant
    folder, which refuses a wrong arity when the checker loads.
    """
    if not isinstance(target, ast.Tuple | ast.List):
        return None
    want = len(target.elts)
    if isinstance(value, ast.Tuple | ast.List):
        if any(isinstance(e, ast.Starred) for e in value.elts):
            return None
        have = len(value.elts)
    elif isinstance(value, ast.Constant):
        if not isinstance(value.value, str | bytes):
            return f"cannot unpack {type(value.value).__name__} {value.value!r} into {want} names"
        have = len(value.value)
    else:
        return None
    if have != want:
        return f"{want} names on the left, {have} values on the right"
    return None


def _annotation_refusal(node: ast.expr) -> ast.expr | None:
    """The first node of an annotation that is not part of a type expression, or None.

    Type expressions are names, dotted names, subscripts of them (``tuple[int, int]``,
    ``Callable[[int], bool]``), string and ``None``/``...`` constants, and ``X | Y``. Annotations
    are stripped before compiling on every path, so they never run; the audit still keeps them to
    this shape so that no expression hides there.
    """
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.Name):
            continue
        if isinstance(current, ast.Constant) and (
            current.value is None or current.value is Ellipsis or isinstance(current.value, str)
        ):
            continue
        if isinstance(current, ast.Attribute):
            stack.append(current.value)
        elif isinstance(current, ast.Subscript):
            stack += [current.value, current.slice]
        elif isinstance(current, ast.Tuple | ast.List):
            stack += current.elts
        elif isinstance(current, ast.BinOp) and isinstance(current.op, ast.BitOr):
            stack += [current.left, current.right]
        else:
            return current
    return None


def _constant_truth(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and bool(node.value)


def _has_exit(body: list[ast.stmt]) -> bool:
    """True when a loop body contains a ``break`` for this loop, or a ``return``."""
    stack: list[ast.AST] = list(body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Break | ast.Return):
            return True
        if isinstance(node, ast.FunctionDef | ast.Lambda):
            continue
        if isinstance(node, ast.For | ast.While):
            # A break in a nested loop ends that loop; a return still ends ours.
            stack.extend(n for n in ast.walk(node) if isinstance(n, ast.Return))
            continue
        stack.extend(ast.iter_child_nodes(node))
    return False


class _Auditor(ast.NodeVisitor):
    """One visit method per reviewed node type; anything else is N401."""

    def __init__(self, path: str, lines: list[str], entry: str, limits: AuditLimits) -> None:
        self.path = path
        self.lines = lines
        self.entry = entry
        self.limits = limits
        self.findings: list[Finding] = []
        self.numpy_aliases: set[str] = set()
        self.math_aliases: set[str] = set()
        self.bound: set[str] = set()
        self.function_depth = 0
        self.pixel_names: list[set[str]] = []
        self.frame_params: list[set[str]] = []
        self.module_constants: set[str] = set()

    # -- reporting ---------------------------------------------------------------------------

    def error(self, node: ast.AST, code: str, message: str, hint: str | None = None) -> None:
        """Record one finding at ``node``'s position (columns converted to 1-based characters)."""
        line = getattr(node, "lineno", 1) or 1
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        col = char_column(text, getattr(node, "col_offset", 0) or 0)
        end_line = getattr(node, "end_lineno", None) or line
        end_text = self.lines[end_line - 1] if 0 < end_line <= len(self.lines) else ""
        end_col = char_column(end_text, getattr(node, "end_col_offset", 0) or 0)
        rule = RULES[code]
        self.findings.append(
            Finding(
                path=self.path,
                line=line,
                col=col,
                code=code,
                name=rule.name,
                message=message,
                hint=rule.instead if hint is None else hint,
                end_line=end_line,
                end_col=end_col if (end_line, end_col) > (line, col) else col + 1,
            )
        )

    # -- entry point ---------------------------------------------------------------------------

    def run(self, tree: ast.Module) -> None:
        """Audit a whole module: structure first, then every node."""
        self.bound = _bound_names(tree)
        self._check_module_structure(tree)
        self.visit(tree)

    def _check_module_structure(self, tree: ast.Module) -> None:
        defined: dict[str, ast.stmt] = {}
        numpy_aliases, math_aliases = _module_aliases(tree, "numpy"), _module_aliases(tree, "math")
        for i, stmt in enumerate(tree.body):
            names: list[str] = []
            if isinstance(stmt, ast.FunctionDef):
                names = [stmt.name]
            elif isinstance(stmt, ast.Import):
                self._check_import(stmt)
                names = [a.asname or a.name.split(".")[0] for a in stmt.names]
            elif isinstance(stmt, ast.Assign | ast.AnnAssign):
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                bound = [_target_names(t) for t in targets]
                names = [name for group in bound for name in group or ()]
                shown = ", ".join(names)
                reason = (
                    None
                    if stmt.value is None
                    else constant_refusal(
                        stmt.value,
                        known=self.module_constants,
                        numpy_aliases=numpy_aliases,
                        math_aliases=math_aliases,
                    )
                )
                if not all(bound):
                    self.error(
                        stmt, "M204", "module-level assignment must bind names or tuples of names"
                    )
                elif stmt.value is None:
                    self.error(stmt, "M204", f"module-level annotation of {shown!r} binds no value")
                elif reason is not None:
                    self.error(
                        stmt,
                        "M204",
                        f"module-level name {shown!r} is bound to a non-constant value ({reason});"
                        " only literals, earlier constants, arithmetic on them, tuples, lists, "
                        "dicts and sets of them, and np.array(<literal>, dtype=...) may live at "
                        "module level (all frozen at load)",
                    )
                else:
                    unpack = [_unpack_refusal(t, stmt.value) for t in targets]
                    wrong = next((u for u in unpack if u is not None), None)
                    if wrong is not None:
                        self.error(
                            stmt,
                            "M204",
                            f"module-level assignment to {shown!r} does not unpack ({wrong}); "
                            "give one value per name",
                        )
                self.module_constants.update(names)
            elif (
                i == 0
                and isinstance(stmt, ast.Expr)
                and isinstance(stmt.value, ast.Constant)
                and isinstance(stmt.value.value, str)
            ):
                continue  # module docstring
            elif isinstance(stmt, ast.ImportFrom):
                continue  # reported by visit_ImportFrom
            else:
                self.error(
                    stmt,
                    "M201",
                    f"{type(stmt).__name__} statement at module level; only function definitions, "
                    "imports and constants may appear there",
                )
            for name in names:
                if name in defined:
                    self.error(
                        stmt,
                        "M205",
                        f"{name!r} is defined again at module level (first on line "
                        f"{defined[name].lineno})",
                    )
                elif name in PROVIDED_NAMES:
                    self.error(stmt, "M205", f"{name!r} shadows a provided name")
                defined[name] = stmt
        entry = defined.get(self.entry)
        if entry is None:
            self.error(
                tree.body[0] if tree.body else tree,
                "M202",
                f"no function named {self.entry!r} at module level",
            )
        elif not isinstance(entry, ast.FunctionDef):
            self.error(entry, "M202", f"{self.entry!r} must be a function")
        else:
            a = entry.args
            n = len(a.posonlyargs) + len(a.args)
            if (
                a.vararg
                or a.kwarg
                or a.kwonlyargs
                or a.defaults
                or a.kw_defaults
                or n not in (1, 2)
            ):
                self.error(
                    entry,
                    "M203",
                    f"{self.entry}() must take exactly (frame) or (frame, first): no defaults, "
                    "*args, **kwargs or keyword-only parameters",
                )

    def _is_immutable_constant(self, node: ast.expr, *, containers: bool = False) -> bool:
        """Constants, and (with ``containers``) list/dict/set displays of them, which are frozen.

        Arithmetic on constants and names of earlier module constants count as constants too.
        """
        if isinstance(node, ast.Constant):
            return True
        if isinstance(node, ast.Name):
            return node.id in self.module_constants
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
            return self._is_immutable_constant(node.operand, containers=containers)
        if isinstance(node, ast.BinOp) and not isinstance(node.op, ast.MatMult):
            return self._is_immutable_constant(
                node.left, containers=containers
            ) and self._is_immutable_constant(node.right, containers=containers)
        if isinstance(node, ast.Tuple) or (containers and isinstance(node, ast.List | ast.Set)):
            return all(self._is_immutable_constant(e, containers=containers) for e in node.elts)
        if containers and isinstance(node, ast.Dict):
            return all(
                k is not None and self._is_immutable_constant(k, containers=containers)
                for k in node.keys
            ) and all(self._is_immutable_constant(v, containers=containers) for v in node.values)
        return False

    def _check_import(self, node: ast.Import) -> None:
        for alias in node.names:
            bound = alias.asname or alias.name
            if alias.name == "numpy":
                self.numpy_aliases.add(bound)
            elif alias.name == "math":
                self.math_aliases.add(bound)
            elif alias.name in INERT_IMPORTS:
                continue  # annotation-only; dropped before compiling
            else:
                self.error(
                    node,
                    "I301",
                    f"import of {alias.name!r} is not allowed; checkers may import only numpy "
                    "(as np) and math",
                )

    # -- the deny-by-default core ------------------------------------------------------------

    def generic_visit(self, node: ast.AST) -> None:
        """Reject any node type without a visit method: it has not been reviewed."""
        self.error(node, "N401", f"{type(node).__name__} is not allowed in checkers")

    def visit_children(self, node: ast.AST) -> None:
        """Visit every child of an allowed node."""
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    # Nodes that are allowed as they are; their children are still audited.
    visit_Module = visit_children
    visit_Return = visit_children
    visit_If = visit_children
    visit_Break = visit_children
    visit_Continue = visit_children
    visit_Pass = visit_children
    visit_Expr = visit_children
    visit_Raise = visit_children
    visit_Assert = visit_children
    visit_BoolOp = visit_children
    visit_UnaryOp = visit_children
    visit_IfExp = visit_children
    visit_Dict = visit_children
    visit_Set = visit_children
    visit_List = visit_children
    visit_Tuple = visit_children
    visit_Slice = visit_children
    visit_ListComp = visit_children
    visit_SetComp = visit_children
    visit_DictComp = visit_children
    visit_GeneratorExp = visit_children
    visit_comprehension = visit_children
    visit_Load = visit_children
    visit_Store = visit_children

    def visit_operator(self, node: ast.AST) -> None:
        """Operators, comparison operators and boolean operators carry no children."""

    for _op in (
        "Add Sub Mult Div FloorDiv Mod Pow LShift RShift BitOr BitXor BitAnd And Or Eq NotEq Lt "
        "LtE Gt GtE Is IsNot In NotIn Not Invert UAdd USub MatMult"
    ).split():
        locals()[f"visit_{_op}"] = visit_operator
    del _op

    # -- definitions ---------------------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        """Functions: no decorators, defaults or star-parameters; annotations are ignored."""
        self._check_identifier(node, node.name)
        if node.decorator_list:
            self.error(node.decorator_list[0], "N409", f"decorator on function {node.name!r}")
        self._check_arguments(node.args, node.name)
        self._check_annotation(node.returns)
        is_entry = self.function_depth == 0 and node.name == self.entry
        params = {a.arg for a in node.args.posonlyargs + node.args.args}
        self.frame_params.append(params if is_entry else set())
        self.pixel_names.append(self._pixel_names(node) if is_entry else set())
        self.function_depth += 1
        for stmt in node.body:
            self.visit(stmt)
        self.function_depth -= 1
        self.frame_params.pop()
        self.pixel_names.pop()

    def visit_Lambda(self, node: ast.Lambda) -> None:
        """Lambdas: allowed without defaults or star-parameters."""
        self._check_arguments(node.args, "lambda")
        self.visit(node.body)

    def _check_arguments(self, args: ast.arguments, owner: str) -> None:
        for default in [*args.defaults, *(d for d in args.kw_defaults if d is not None)]:
            if not self._is_immutable_constant(default):
                self.error(
                    default,
                    "N411",
                    f"default parameter value in {owner!r} is not a constant (numbers, strings, "
                    "None, tuples of them)",
                )
        for star in (args.vararg, args.kwarg):
            if star is not None:
                self.error(star, "N410", f"variadic parameter {star.arg!r} in {owner!r}")
        for a in args.posonlyargs + args.args + args.kwonlyargs:
            self._check_identifier(a, a.arg)
            self._check_annotation(a.annotation)
        for star in (args.vararg, args.kwarg):
            if star is not None:
                self._check_annotation(star.annotation)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        """Classes are refused (N402)."""
        self.error(node, "N402", f"class definition {node.name!r}")

    def visit_AsyncFunctionDef(self, node: ast.AsyncFunctionDef) -> None:
        """Coroutines are refused (N404)."""
        self.error(node, "N404", f"async function {node.name!r}")

    def visit_Await(self, node: ast.AST) -> None:
        """``await``, ``async for`` and ``async with`` are refused (N404)."""
        self.error(node, "N404", f"{type(node).__name__} is not allowed")

    visit_AsyncFor = visit_AsyncWith = visit_Await

    def visit_Yield(self, node: ast.Yield | ast.YieldFrom) -> None:
        """``yield`` makes a generator function (N403)."""
        self.error(node, "N403", "yield makes this function a generator; return a bool instead")

    visit_YieldFrom = visit_Yield

    # -- statements ----------------------------------------------------------------------------

    def visit_Import(self, node: ast.Import) -> None:
        """Imports are checked at module level; inside a function they are refused (I303)."""
        if self.function_depth:
            self.error(node, "I303", "import inside a function")
            self._check_import(node)
        for alias in node.names:
            if alias.asname:
                self._check_identifier(node, alias.asname)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        """``from x import y`` is refused (I302 when relative, I301 otherwise)."""
        if node.level:
            self.error(node, "I302", "relative import")
        elif node.module in INERT_IMPORTS:
            if self.function_depth:
                self.error(node, "I303", "import inside a function")
        else:
            self.error(
                node,
                "I301",
                f"'from {node.module} import ...' is not allowed; use `import numpy "
                "as np` / `import math` and qualified names",
            )

    def visit_Assign(self, node: ast.Assign) -> None:
        """Assignments: targets are checked for attribute stores and reserved names."""
        self.visit_children(node)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        """Annotated assignment: the annotation must be a type expression (N420); it never runs."""
        self._check_annotation(node.annotation)
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)

    def _check_annotation(self, node: ast.expr | None) -> None:
        """Annotations are stripped before compiling; they must still be plain type expressions."""
        if node is None:
            return
        bad = _annotation_refusal(node)
        if bad is not None:
            self.error(
                bad,
                "N420",
                f"{type(bad).__name__} in an annotation; annotations may only name types "
                "(`int`, `np.ndarray`, `tuple[int, int]`, `float | None`, a string)",
            )
            return
        for inner in ast.walk(node):
            if isinstance(inner, ast.Name):
                self._check_identifier(inner, inner.id)
            elif isinstance(inner, ast.Attribute):
                self._check_identifier(inner, inner.attr)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        """``x op= v``: attribute targets are N414; ``@=`` is N418."""
        if isinstance(node.op, ast.MatMult):
            self.error(node, "N418", "matrix multiplication operator `@=`")
        self.visit_children(node)

    def visit_For(self, node: ast.For) -> None:
        """``for`` loops: allowed; iteration is budgeted at run time."""
        self.visit_children(node)

    def visit_While(self, node: ast.While) -> None:
        """``while`` loops: allowed, budgeted at run time; constant-true loops need an exit."""
        if _constant_truth(node.test) and not _has_exit(node.body):
            self.error(node, "N416", "`while` with a constant true condition and no break/return")
        self.visit_children(node)

    def visit_Try(self, node: ast.Try) -> None:
        """``try``: handlers name provided exceptions (N408); ``finally`` does not leave (N419)."""
        for stmt in node.finalbody:
            for inner in _walk_same_scope(stmt):
                if isinstance(inner, ast.Return | ast.Break | ast.Continue):
                    self.error(
                        inner,
                        "N419",
                        f"`{type(inner).__name__.lower()}` inside `finally` discards the "
                        "exception in flight, including the engine's budget signals",
                    )
        self.visit_children(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        """Handlers must name exception classes from the provided list."""
        if node.type is None:
            self.error(node, "N408", "bare `except:` catches the engine's own signals")
        else:
            kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type]
            for kind in kinds:
                if not (isinstance(kind, ast.Name) and kind.id in EXCEPTION_NAMES):
                    shown = kind.id if isinstance(kind, ast.Name) else type(kind).__name__
                    self.error(
                        kind,
                        "N408",
                        f"handler for {shown!r}; handlers may name only "
                        f"{', '.join(sorted(EXCEPTION_NAMES))}",
                    )
        if node.name:
            self._check_identifier(node, node.name)
            if node.name in PROVIDED_NAMES or node.name in self.numpy_aliases | self.math_aliases:
                self.error(node, "A505", f"`except ... as {node.name}` rebinds a provided name")
        for stmt in node.body:
            self.visit(stmt)

    def visit_TryStar(self, node: ast.AST) -> None:
        """``try/except*`` is refused (N407)."""
        self.error(node, "N407", "try/except* (exception groups)")

    def visit_Global(self, node: ast.Global | ast.Nonlocal) -> None:
        """``global``/``nonlocal`` are refused (N405)."""
        kind = "global" if isinstance(node, ast.Global) else "nonlocal"
        self.error(node, "N405", f"`{kind} {', '.join(node.names)}`")

    visit_Nonlocal = visit_Global

    def visit_Match(self, node: ast.AST) -> None:
        """``match`` is refused (N406)."""
        self.error(node, "N406", "match statement")

    def visit_With(self, node: ast.With) -> None:
        """``with`` is refused (N412)."""
        self.error(node, "N412", "with statement")

    def visit_Delete(self, node: ast.Delete) -> None:
        """``del`` is refused (N413)."""
        self.error(node, "N413", "del statement")

    # -- expressions ---------------------------------------------------------------------------

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        """Walrus on plain local names only (the target is checked like any other store)."""
        self.visit_children(node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        """Binary operators; ``@`` is refused (N418), ``str % x`` formatting is N415."""
        if isinstance(node.op, ast.MatMult):
            self.error(node, "N418", "matrix multiplication operator `@`")
        elif (
            isinstance(node.op, ast.Mod)
            and isinstance(node.left, ast.Constant)
            and isinstance(node.left.value, str | bytes)
        ):
            self.error(node, "N415", "%-formatting of a string")
        self.visit(node.left)
        self.visit(node.right)

    def visit_Compare(self, node: ast.Compare) -> None:
        """Comparisons; flags raw uint8 pixel values compared with impossible constants (K602)."""
        operands = [node.left, *node.comparators]
        for (left, right), op in zip(itertools.pairwise(operands), node.ops, strict=True):
            self._check_pixel_compare(left, op, right)
        self.visit_children(node)

    def visit_Call(self, node: ast.Call) -> None:
        """Calls: no ``*args``/``**kwargs`` (N410); keyword names must be public."""
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.error(arg, "N410", "star-argument `*` in a call")
        for kw in node.keywords:
            if kw.arg is None:
                self.error(kw.value, "N410", "keyword splat `**` in a call")
            else:
                self._check_identifier(kw.value, kw.arg)
        self.visit(node.func)
        for arg in node.args:
            self.visit(arg.value if isinstance(arg, ast.Starred) else arg)
        for kw in node.keywords:
            self.visit(kw.value)

    def visit_Starred(self, node: ast.Starred) -> None:
        """Starred targets unpack through the guarded unpacker; starred values are N410.

        ``h, w, *_ = frame.shape`` is fine; ``[*xs]`` and ``f(*xs)`` iterate in C outside the
        iteration guard.
        """
        if isinstance(node.ctx, ast.Store):
            self.visit(node.value)
            return
        self.error(node, "N410", "starred expression `*x`")

    def visit_JoinedStr(self, node: ast.AST) -> None:
        """f-strings are refused (N415)."""
        self.error(node, "N415", "f-string")

    visit_TemplateStr = visit_JoinedStr

    def visit_Constant(self, node: ast.Constant) -> None:
        """Constants: integers must fit in 64 bits, strings/bytes must be short (K601)."""
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool):
            if not _INT64_MIN <= value <= _INT64_MAX:
                self.error(node, "K601", f"integer constant with {value.bit_length()} bits")
        elif isinstance(value, str | bytes) and len(value) > self.limits.max_str_len:
            self.error(node, "K601", f"{type(value).__name__} constant of {len(value):,} items")

    def visit_Name(self, node: ast.Name) -> None:
        """Names: public, ASCII, and either defined by the checker or provided (A502/A505)."""
        self._check_identifier(node, node.id, binding=not isinstance(node.ctx, ast.Load))
        if isinstance(node.ctx, ast.Load):
            known = node.id in self.bound or node.id in PROVIDED_NAMES
            if not known:
                self.error(node, "A502", f"name {node.id!r} is not available to checkers")
        elif (
            isinstance(node.ctx, ast.Store)
            and (node.id in PROVIDED_NAMES or node.id in self.numpy_aliases | self.math_aliases)
            and self.function_depth
        ):
            self.error(node, "A505", f"assignment to provided name {node.id!r}")

    def visit_Del(self, node: ast.Del) -> None:
        """Deletion contexts appear only under ``del``, which is refused already."""

    def visit_Attribute(self, node: ast.Attribute) -> None:
        """Attributes: public, never stored to, and on some type's allow-list (A503/A504)."""
        value = node.value
        node = _attribute_name_span(node)
        if isinstance(node.ctx, ast.Store | ast.Del):
            self.error(node, "N414", f"assignment to attribute {node.attr!r}")
        if node.attr.startswith("_"):
            self.error(node, "A501", f"attribute {node.attr!r} starts with an underscore")
        elif isinstance(node.value, ast.Name) and node.value.id in self.numpy_aliases:
            if node.attr not in NUMPY_NAMES:
                self.error(node, "A504", f"np.{node.attr} is not part of the numpy facade")
        elif (member := self._numpy_member(node.value)) is not None:
            if node.attr not in NUMPY_MEMBERS[member]:
                self.error(node, "A504", f"np.{member}.{node.attr} is not part of the numpy facade")
        elif isinstance(node.value, ast.Name) and node.value.id in self.math_aliases:
            if node.attr not in MATH_NAMES:
                self.error(node, "A504", f"math.{node.attr} is not part of the math facade")
        elif node.attr in ("format", "format_map") and node.attr not in ALL_ATTRIBUTES:
            self.error(node, "N415", f"str.{node.attr} string formatting")
        elif node.attr not in ALL_ATTRIBUTES:
            self.error(node, "A503", f"attribute {node.attr!r} is not on any allow-list")
        self.visit(value)

    def _numpy_member(self, node: ast.expr) -> str | None:
        """``linalg`` when ``node`` is ``np.linalg`` (``logical_and`` ...), else None."""
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in self.numpy_aliases
            and node.attr in NUMPY_MEMBERS
        ):
            return node.attr
        return None

    def visit_Subscript(self, node: ast.Subscript) -> None:
        """Subscripts: checked at run time by the item guard."""
        self.visit(node.value)
        self.visit(node.slice)

    def visit_keyword(self, node: ast.keyword) -> None:
        """Keywords are handled by :meth:`visit_Call`."""
        self.visit(node.value)

    # -- helpers -------------------------------------------------------------------------------

    def _check_identifier(self, node: ast.AST, name: str, *, binding: bool = True) -> None:
        if name.startswith("_") and name != "_":
            self.error(
                node,
                "A501",
                f"identifier {name!r} starts with an underscore",
                hint=f"rename it without the leading underscore (e.g. {name.lstrip('_') or 'x'!r})",
            )
        elif binding and (name in RESERVED_NAMES or name.endswith("__roles__")):
            self.error(node, "A505", f"{name!r} is a reserved name and cannot be defined")

    def _pixel_names(self, fn: ast.FunctionDef) -> set[str]:
        """Local names bound directly to a subscript of a frame parameter (raw uint8 pixels)."""
        params = {a.arg for a in fn.args.posonlyargs + fn.args.args}
        names: set[str] = set()
        for stmt in ast.walk(fn):
            if (
                isinstance(stmt, ast.Assign)
                and len(stmt.targets) == 1
                and isinstance(stmt.targets[0], ast.Name)
                and _is_raw_pixels(stmt.value, params)
            ):
                names.add(stmt.targets[0].id)
        return names

    def _check_pixel_compare(self, left: ast.expr, op: ast.cmpop, right: ast.expr) -> None:
        if not self.frame_params or not self.frame_params[-1]:
            return
        params, pixels = self.frame_params[-1], self.pixel_names[-1]

        def raw(e: ast.expr) -> bool:
            return _is_raw_pixels(e, params) or (isinstance(e, ast.Name) and e.id in pixels)

        for a, b, flipped in ((left, right, False), (right, left, True)):
            c = _int_constant(b)
            if c is None or not raw(a):
                continue
            kind = _flip(op) if flipped else type(op)
            impossible = (
                c > 255
                or c < 0
                or (c == 255 and kind in (ast.Gt, ast.LtE))
                or (c == 0 and kind in (ast.Lt, ast.GtE))
            )
            if impossible and kind in (ast.Gt, ast.GtE, ast.Lt, ast.LtE, ast.Eq, ast.NotEq):
                self.error(
                    b,
                    "K602",
                    f"uint8 pixel values compared with {c}: the result is the same for every frame",
                )


def _attribute_name_span(node: ast.Attribute) -> ast.Attribute:
    """A copy of ``node`` positioned on the attribute's name (``.name``) rather than the chain."""
    span = ast.Attribute(value=node.value, attr=node.attr, ctx=node.ctx)
    end_line = node.end_lineno or node.lineno
    end_col = node.end_col_offset or 0
    span.lineno = span.end_lineno = end_line
    span.col_offset = max(0, end_col - len(node.attr.encode("utf-8")))
    span.end_col_offset = end_col
    return span


def _flip(op: ast.cmpop) -> type[ast.cmpop]:
    flips: dict[type[ast.cmpop], type[ast.cmpop]] = {
        ast.Gt: ast.Lt,
        ast.Lt: ast.Gt,
        ast.GtE: ast.LtE,
        ast.LtE: ast.GtE,
    }
    return flips.get(type(op), type(op))


def _int_constant(node: ast.expr) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if (
        isinstance(node, ast.UnaryOp)
        and isinstance(node.op, ast.USub)
        and isinstance(node.operand, ast.Constant)
        and type(node.operand.value) is int
    ):
        return -node.operand.value
    return None


def _is_raw_pixels(node: ast.expr, params: set[str]) -> bool:
    """``frame[...]``, ``frame[y, x, c]``, ``frame[a][b]``: uint8 values straight from a frame."""
    while isinstance(node, ast.Subscript):
        node = node.value
    return isinstance(node, ast.Name) and node.id in params and params != set()
