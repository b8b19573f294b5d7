"""Reading model replies: the sub-task list (JSON) and a checker (a ```python block).

Provides:
    parse_subtasks: reply text -> ``[(name, description), ...]``, validated.
    extract_checker: reply text -> the checker's source (one ```python block, checked for a
        ``check(frame)`` / ``check(frame, first)`` entry).
    extract_code: like :func:`extract_checker` but returns an :class:`ExtractedCode` that also
        says which block was used and carries a warning when the choice was not clear-cut.
    code_blocks: every fenced block of a reply, with its info string and whether it was closed.

Everything here raises :class:`~synth.errors.ReplyError` for an unusable reply and nothing else,
whatever the text (the tests feed it arbitrary text). The checks are a quick pre-filter with
messages a model can act on; the sandbox's audit remains the gate.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

from synth.errors import ReplyError

__all__ = [
    "MAX_NAME_CHARS",
    "MAX_REPLY_CHARS",
    "MAX_SUBTASKS",
    "CodeBlock",
    "ExtractedCode",
    "code_blocks",
    "decomposition_note",
    "extract_checker",
    "extract_code",
    "parse_subtasks",
]

#: Longest reply parsed at all (characters).
MAX_REPLY_CHARS = 200_000
#: Most sub-tasks a decomposition may have.
MAX_SUBTASKS = 8
#: Longest sub-task name (names become file stems).
MAX_NAME_CHARS = 40

_NAME_RE = re.compile(r"[a-z0-9_]+")
_OPEN_RE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})[ \t]*(?P<info>[^`]*?)[ \t]*$")
_PYTHON_TAGS = frozenset({"", "python", "py", "python3", "py3"})
_JSON_TAGS = frozenset({"", "json", "javascript", "js", "jsonc"})
_MAX_JSON_STARTS = 64
_CODE_HINT_RE = re.compile(r"^\s*(def |import |from \S+ import |return\b|class )", re.MULTILINE)


def _normalise(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _check_size(text: str) -> str:
    text = _normalise(text)
    if not text.strip():
        raise ReplyError("empty", "the reply is empty")
    if len(text) > MAX_REPLY_CHARS:
        raise ReplyError(
            "too_long", f"the reply has {len(text)} characters (limit {MAX_REPLY_CHARS})", text
        )
    return text


@dataclass(frozen=True)
class CodeBlock:
    """One fenced block of a reply.

    Attributes:
        info: the fence's info string, lower-cased first word (``python``, ``json``, "").
        text: the block's content, fence indentation removed, ``\\n`` line endings, no trailing
            blank lines, one trailing newline ("" for an empty block).
        line: 1-based line of the opening fence in the reply.
        closed: False when the reply ended before the closing fence (a truncated reply).
    """

    info: str
    text: str
    line: int
    closed: bool


def _block_text(lines: list[str], indent: int) -> str:
    out = []
    for line in lines:
        strip = 0
        while strip < indent and strip < len(line) and line[strip] in " \t":
            strip += 1
        out.append(line[strip:])
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out) + "\n" if out else ""


def code_blocks(text: str) -> list[CodeBlock]:
    """Every fenced (``` or ~~~) block of ``text``, in order.

    A closing fence is a line of at least as many of the same fence characters and nothing else.
    A block still open at the end of the text is returned with ``closed=False``.

    Example:
        >>> [b.info for b in code_blocks("a\\n```python\\nx = 1\\n```\\n~~~\\ny\\n")]
        ['python', '']
        >>> code_blocks("```py\\nx = 1\\n```")[0].text
        'x = 1\\n'
    """
    lines = _normalise(text).split("\n")
    blocks: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        m = _OPEN_RE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence = m.group("fence")
        info = (m.group("info").split() or [""])[0].lower()
        close = re.compile(rf"^[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*$")
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not close.match(lines[j]):
            body.append(lines[j])
            j += 1
        closed = j < len(lines)
        blocks.append(CodeBlock(info, _block_text(body, len(m.group("indent"))), i + 1, closed))
        i = j + 1
    return blocks


# --------------------------------------------------------------------------------------------
# Sub-tasks
# --------------------------------------------------------------------------------------------


def _json_candidates(text: str) -> list[str]:
    """Texts that may hold the JSON answer, most likely first."""
    out = [b.text for b in code_blocks(text) if b.info in _JSON_TAGS and b.text.strip()]
    out.append(text.strip())
    return out


def _decode(text: str) -> tuple[Any, str]:
    """Return (the JSON answer found in ``text``, "") or (None, why not).

    The answer is the first object with a ``subtasks`` key, else the first non-empty list of
    objects (a bare list of sub-tasks).
    """
    decoder = json.JSONDecoder()
    first_error = ""
    fallback: Any = None
    starts = [m.start() for m in re.finditer(r"[{\[]", text)][:_MAX_JSON_STARTS]
    for start in starts:
        try:
            value, _ = decoder.raw_decode(text, start)
        except ValueError as err:  # JSONDecodeError, or an integer too long to convert
            if isinstance(err, json.JSONDecodeError):
                err_text = f"{err.msg} at line {err.lineno} column {err.colno}"
            else:
                err_text = str(err)
            first_error = first_error or err_text
            continue
        except RecursionError:
            first_error = first_error or "JSON nested too deeply"
            continue
        if isinstance(value, dict) and "subtasks" in value:
            return value, ""
        if (
            fallback is None
            and isinstance(value, list)
            and value
            and all(isinstance(v, dict) for v in value)
        ):
            fallback = value
        first_error = first_error or 'a JSON value without a "subtasks" list'
    if fallback is not None:
        return fallback, ""
    return None, first_error or "no JSON object in the reply"


def decomposition_note(text: str, key: str = "changes") -> str:
    """A string field beside the sub-tasks in a decomposition reply ("" when there is none).

    Example:
        >>> decomposition_note('{"subtasks": [], "changes": "added door_open"}')
        'added door_open'
    """
    try:
        text = _check_size(text)
    except ReplyError:
        return ""
    for candidate in _json_candidates(text):
        value, _ = _decode(candidate)
        if isinstance(value, dict):
            note = value.get(key)
            return " ".join(note.split())[:400] if isinstance(note, str) else ""
    return ""


def parse_subtasks(text: str, *, max_subtasks: int = MAX_SUBTASKS) -> list[tuple[str, str]]:
    """Read the ordered sub-tasks from a decomposition reply.

    Accepts ``{"subtasks": [{"name": ..., "description": ...}, ...]}`` (or the bare list),
    inside a ```json fence or surrounded by prose.

    Args:
        text: the model's reply.
        max_subtasks: the largest number of sub-tasks accepted.

    Returns:
        ``[(name, description), ...]`` in the reply's order; names and descriptions stripped.

    Raises:
        ReplyError: ``empty``/``too_long``; ``invalid_json`` when no JSON object with a
            ``subtasks`` list is found; ``bad_subtasks`` when names are not ``[a-z0-9_]+`` (at
            most 40 characters) or not unique, a description is missing, or the count is not
            1..max_subtasks.

    Example:
        >>> parse_subtasks('Sure! {"subtasks": [{"name": "key_picked", "description": "x"}]}')
        [('key_picked', 'x')]
    """
    text = _check_size(text)
    value: Any = None
    why = ""
    for candidate in _json_candidates(text):
        value, why = _decode(candidate)
        if value is not None:
            break
    if value is None:
        raise ReplyError("invalid_json", f"no usable JSON: {why}", text)
    items = value["subtasks"] if isinstance(value, dict) else value
    if not isinstance(items, list):
        raise ReplyError("bad_subtasks", '"subtasks" must be a list of objects', text)
    if not 1 <= len(items) <= max_subtasks:
        raise ReplyError(
            "bad_subtasks", f"{len(items)} sub-tasks; give between 1 and {max_subtasks}", text
        )
    out: list[tuple[str, str]] = []
    for i, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise ReplyError("bad_subtasks", f"sub-task {i} is not an object", text)
        name, description = item.get("name"), item.get("description")
        if not isinstance(name, str) or not isinstance(description, str):
            raise ReplyError(
                "bad_subtasks", f'sub-task {i} needs string "name" and "description" fields', text
            )
        name, description = name.strip(), description.strip()
        if not _NAME_RE.fullmatch(name) or len(name) > MAX_NAME_CHARS:
            raise ReplyError(
                "bad_subtasks",
                f"sub-task {i} name {name[:60]!r}: use 1-{MAX_NAME_CHARS} lowercase letters, "
                "digits and underscores",
                text,
            )
        if not description:
            raise ReplyError(
                "bad_subtasks", f"sub-task {i} ({name}) has an empty description", text
            )
        if any(name == n for n, _ in out):
            raise ReplyError("bad_subtasks", f"sub-task name {name!r} appears twice", text)
        out.append((name, description))
    return out


# --------------------------------------------------------------------------------------------
# Checkers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ExtractedCode:
    """The checker found in a reply.

    Attributes:
        source: the code, ``\\n`` line endings, one trailing newline.
        line: 1-based line of the block's opening fence in the reply (0: the whole reply).
        blocks: how many python blocks the reply had.
        warning: why the choice was not clear-cut (several blocks, no fence ...), else None.
    """

    source: str
    line: int
    blocks: int
    warning: str | None = None


def _parse(source: str) -> ast.Module | SyntaxError:
    try:
        return ast.parse(source)
    except SyntaxError as err:
        return err
    except (ValueError, RecursionError, MemoryError, OverflowError) as err:
        return SyntaxError(f"{type(err).__name__}: {err}")


def _entry_node(tree: ast.Module, entry: str) -> ast.stmt | None:
    found: ast.stmt | None = None
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            if stmt.name == entry:
                found = stmt
        elif isinstance(stmt, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == entry for t in stmt.targets
        ):
            found = stmt
    return found


def _looks_truncated(err: SyntaxError, source: str) -> bool:
    msg = (err.msg or "").lower()
    if any(s in msg for s in ("unexpected eof", "never closed", "unterminated triple-quoted")):
        return True
    last = len(source.rstrip("\n").split("\n"))
    return err.lineno is not None and err.lineno >= last and "expected an indented block" in msg


def _syntax_error(err: SyntaxError, source: str, block_line: int) -> ReplyError:
    lineno = err.lineno
    lines = source.split("\n")
    shown = lines[lineno - 1] if lineno and 0 < lineno <= len(lines) else source[-300:]
    if _looks_truncated(err, source):
        return ReplyError(
            "truncated",
            f"the code ends in the middle of a statement ({err.msg}); the reply was probably "
            "cut off",
            source[-300:],
            line=lineno,
        )
    where = f" in the block opened on reply line {block_line}" if block_line else ""
    return ReplyError("syntax_error", f"SyntaxError{where}: {err.msg}", shown, line=lineno)


def _check_entry(tree: ast.Module, source: str, entry: str) -> None:
    node = _entry_node(tree, entry)
    if node is None:
        defs = [s.name for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
        nested = any(
            isinstance(n, ast.FunctionDef) and n.name == entry
            for n in ast.walk(tree)
            if n not in tree.body
        )
        got = f"; it defines {', '.join(defs[:8])}" if defs else "; it defines no function"
        where = f" (a {entry}() inside a class or function does not count)" if nested else ""
        raise ReplyError(
            "missing_entry",
            f"the code has no module-level `def {entry}(frame)` or `def {entry}(frame, first)`"
            f"{got}{where}",
            source,
        )
    if not isinstance(node, ast.FunctionDef):
        kind = {
            ast.AsyncFunctionDef: "an async function",
            ast.ClassDef: "a class",
            ast.Assign: "an assignment (lambda?)",
        }.get(type(node), "not a plain function")
        raise ReplyError(
            "wrong_signature",
            f"`{entry}` is {kind}; write a plain `def {entry}(frame):` or "
            f"`def {entry}(frame, first):`",
            ast.get_source_segment(source, node) or "",
            line=node.lineno,
        )
    a = node.args
    n = len(a.posonlyargs) + len(a.args)
    if a.vararg or a.kwarg or a.kwonlyargs or a.defaults or a.kw_defaults or n not in (1, 2):
        params = ast.unparse(a)
        raise ReplyError(
            "wrong_signature",
            f"`def {entry}({params})` must take exactly (frame) or (frame, first): no defaults, "
            "*args, **kwargs or keyword-only parameters",
            source.split("\n")[node.lineno - 1],
            line=node.lineno,
        )


def _defines(tree: ast.Module | SyntaxError, entry: str) -> bool:
    return isinstance(tree, ast.Module) and _entry_node(tree, entry) is not None


def extract_code(text: str, *, entry: str = "check") -> ExtractedCode:
    """Find the checker in a reply and check its entry point (see :func:`extract_checker`).

    Returns:
        The source, where it was found, how many python blocks there were and a warning when
        several blocks were present or the reply had no fence.

    Raises:
        ReplyError: see :func:`extract_checker`.
    """
    text = _check_size(text)
    blocks = code_blocks(text)
    python = [b for b in blocks if b.info in _PYTHON_TAGS]
    closed = [b for b in python if b.closed and b.text.strip()]
    warning: str | None = None
    if not python:
        if blocks:
            tags = ", ".join(sorted({f"```{b.info}" for b in blocks}))
            raise ReplyError(
                "no_code_block", f"the reply has {tags} block(s) but no ```python block", text
            )
        tree = _parse(text)
        if _defines(tree, entry) and isinstance(tree, ast.Module):
            _check_entry(tree, text, entry)
            source = _block_text(text.split("\n"), 0)
            return ExtractedCode(source, 0, 0, "the reply had no code fence; used all of it")
        if _CODE_HINT_RE.search(text):
            raise ReplyError(
                "no_code_block",
                "the reply mixes code and prose without a ```python fence around the code",
                text,
            )
        raise ReplyError("prose_only", "the reply is prose only: no code at all", text)
    if not closed:
        last = python[-1]
        if not last.closed:
            raise ReplyError(
                "truncated",
                f"the ```python block opened on reply line {last.line} is never closed; the "
                "reply was probably cut off",
                text[-300:],
            )
        raise ReplyError("no_code_block", "the ```python block is empty", text)
    parsed = [(b, _parse(b.text)) for b in closed]
    with_entry = [(b, t) for b, t in parsed if _defines(t, entry)]
    if with_entry:
        chosen, tree = max(with_entry, key=lambda bt: len(bt[0].text))
    else:
        good = [(b, t) for b, t in parsed if isinstance(t, ast.Module)]
        chosen, tree = max(good or parsed, key=lambda bt: len(bt[0].text))
    if len(closed) > 1:
        warning = (
            f"the reply has {len(closed)} python blocks; used the longest one "
            f"{'that defines ' + entry + '() ' if with_entry else ''}(reply line {chosen.line})"
        )
    if any(not b.closed for b in python):
        extra = "an unterminated python block was ignored"
        warning = f"{warning}; {extra}" if warning else extra
    if isinstance(tree, SyntaxError):
        raise _syntax_error(tree, chosen.text, chosen.line)
    _check_entry(tree, chosen.text, entry)
    return ExtractedCode(chosen.text, chosen.line, len(python), warning)


def extract_checker(text: str, *, entry: str = "check") -> str:
    """Return the checker's source from a reply.

    Takes the reply's one ```python block (an untagged fence counts too). With several, it uses
    the longest one that defines ``entry`` (:func:`extract_code` says so in its warning). A
    reply that is nothing but valid Python defining ``entry`` is accepted as it is.

    Args:
        text: the model's reply.
        entry: the entry function's name.

    Returns:
        Exactly the block's text: ``\\n`` line endings, fence indentation removed, trailing blank
        lines dropped, one trailing newline.

    Raises:
        ReplyError: ``empty``/``too_long``; ``prose_only`` (no code at all); ``no_code_block``
            (code without a fence, only non-python fences, an empty block); ``truncated`` (a
            fence never closed, or a SyntaxError at the end of the code); ``syntax_error``;
            ``missing_entry`` (no module-level ``entry``); ``wrong_signature`` (not exactly
            ``(frame)`` or ``(frame, first)``, or not a plain function).

    Example:
        >>> extract_checker("Here:\\n```python\\ndef check(frame):\\n    return True\\n```\\nDone.")
        'def check(frame):\\n    return True\\n'
    """
    return extract_code(text, entry=entry).source
