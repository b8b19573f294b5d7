"""The audit's rule table: every rule the static audit can report, documented in one place.

Provides:
    Rule: one rule (code, name, summary, why it matters, a flagged example, what to write instead).
    RULES: the frozen table, code -> Rule, in code order.
    rules_markdown: the rule table rendered as Markdown (``docs/rules.md`` is generated from it).

Codes are a family letter plus three digits and are never reused: ``S`` source text, ``M`` module
structure, ``I`` imports, ``N`` statements and expressions, ``A`` names and attributes, ``K`` constants.
Names read as "allow <name>" and name the flagged pattern (ruff's convention).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["RULES", "Rule", "rules_markdown"]


@dataclass(frozen=True)
class Rule:
    """One audit rule.

    Attributes:
        code: stable identifier, e.g. ``A502``.
        name: kebab-case name of the flagged pattern, e.g. ``unknown-name``.
        summary: what it flags, one line.
        why: why that is dangerous or wrong in a reward checker.
        example: a flagged snippet.
        instead: what to write instead.
        added: the package version that introduced the rule.
    """

    code: str
    name: str
    summary: str
    why: str
    example: str
    instead: str
    added: str = "0.1.0"


_RULES = (
    # --- S: source text ---------------------------------------------------------------------
    Rule(
        "S101",
        "syntax-error",
        "The source does not parse as Python 3.11.",
        "Nothing can be checked or run; the parser's message says where it failed.",
        "def check(frame) return True",
        "Fix the syntax; the message gives the line.",
    ),
    Rule(
        "S102",
        "oversize-source",
        "The source is longer than the audit's size limit.",
        "Checkers are short predicates; very large sources hide payloads and cost audit time.",
        "<60 KB of generated code>",
        "Keep a checker under the limit; use the vision helpers.",
    ),
    Rule(
        "S103",
        "bidi-character",
        "A bidirectional-control code point appears in the source.",
        "Bidi controls make code render differently from how it parses (Trojan Source, "
        "CVE-2021-42574), so a reviewer reads a different program than the one that runs.",
        "x = 1  # \\u202e } \\u2066",
        "Delete the control character.",
    ),
    Rule(
        "S104",
        "invisible-character",
        "An invisible or control code point appears in the source.",
        "Zero-width and control characters hide differences between identifiers and strings.",
        "cheсk\u200b = 1",
        "Delete the character; checkers are plain ASCII code.",
    ),
    Rule(
        "S105",
        "non-ascii-identifier",
        "An identifier contains non-ASCII characters.",
        "Python NFKC-normalises identifiers, so fullwidth or mathematical letters spell dunders "
        "and builtins that text filters never see, and Cyrillic look-alikes (сheck vs check) "
        "deceive reviewers.",
        "def check(frame):\n    return 𝐨𝐩𝐞𝐧('/etc/hostname')",
        "Use ASCII identifiers only.",
    ),
    Rule(
        "S106",
        "deep-nesting",
        "Blocks or expressions are nested deeper than the limit.",
        "Deep nesting exhausts the parser, compiler or C stack and has no use in a checker.",
        "((((((((((...))))))))))",
        "Flatten the expression; use helper functions.",
    ),
    Rule(
        "S107",
        "untokenizable",
        "The source parses, but Python's tokenize module cannot read it.",
        "The audit reads identifiers as written from tokens, before the parser folds them "
        "(S105) and to rename private names; a text the parser accepts and tokenize does not (a "
        "backslash continuation at the very end, before a CR LF) would hide them.",
        "def check(frame):\n    return True\n\\",
        "Remove the trailing backslash; write the checker as plain lines.",
        added="0.2.0",
    ),
    # --- M: module structure ----------------------------------------------------------------
    Rule(
        "M201",
        "module-statement",
        "A module-level statement other than def, import or constant.",
        "Module code runs once when the checker loads; anything but definitions is a place to "
        "hide side effects or state.",
        "print('loaded')\ndef check(frame): ...",
        "Move the code into a function.",
    ),
    Rule(
        "M202",
        "missing-entry",
        "The entry function (``check``) is not defined.",
        "The engine has nothing to call.",
        "def is_done(frame): ...",
        "Define `def check(frame):` or `def check(frame, first):`.",
    ),
    Rule(
        "M203",
        "entry-signature",
        "The entry function does not take (frame) or (frame, first).",
        "The engine calls the entry with one frame, or with the frame and the episode's first "
        "frame; defaults, *args and keyword-only parameters would carry hidden inputs or state.",
        "def check(frame, cache={}): ...",
        "def check(frame): ...  or  def check(frame, first): ...",
    ),
    Rule(
        "M204",
        "mutable-global",
        "A module-level name is bound to something other than a constant.",
        "Module-level lists, dicts and objects survive between calls: the checker's answer could "
        "depend on call history (time bombs, counters) instead of the frame.",
        "seen = []  # or: LIMIT = compute()",
        "Use constants at module level: literals, tuples/lists/dicts/sets of them (frozen), "
        "arithmetic on earlier constants, `H, W = 64, 64`, `COLORS = dict(key=(255, 255, 0))`, "
        "`KEY = np.array([255, 255, 0], dtype=np.uint8)` (a read-only array).",
    ),
    Rule(
        "M205",
        "redefined-name",
        "A module-level name is defined twice or shadows a provided name.",
        "A second `check`, or a rebound `np`/`len`, makes the code a reviewer reads differ from "
        "the code the engine calls.",
        "def check(frame): ...\ndef check(frame): return True",
        "Give each function one name.",
    ),
    # --- I: imports --------------------------------------------------------------------------
    Rule(
        "I301",
        "import-not-allowed",
        "An import other than `import numpy as np` or `import math`.",
        "Every other module (os, time, random, re, operator, importlib, string, ...) reaches the "
        "host, a clock, a random source or a C routine that bypasses the guards.",
        "import time",
        "Use the numpy facade `np`, `math` and the vision helpers.",
    ),
    Rule(
        "I302",
        "relative-import",
        "A relative import (`from . import x`).",
        "Relative imports resolve against the host's package and load the engine's own modules.",
        "from . import config",
        "Checkers import nothing but numpy and math.",
    ),
    Rule(
        "I303",
        "import-in-function",
        "An import statement inside a function.",
        "Imports belong at module level where the audit binds them to the facades.",
        "def check(frame):\n    import numpy as np",
        "Put `import numpy as np` at the top.",
    ),
    # --- N: statements and expressions -------------------------------------------------------
    Rule(
        "N401",
        "unknown-node",
        "A syntax element the audit has not reviewed.",
        "The audit is deny-by-default: constructs are allowed only once someone has reviewed "
        "what they can do.",
        "async with x: ...",
        "Use plain functions, loops and expressions.",
    ),
    Rule(
        "N402",
        "class-definition",
        "A class definition.",
        "Classes can define __del__, __eq__, __repr__ or metaclasses that run later in the host, "
        "outside every limit (time bombs, hooked ndarray subclasses).",
        "class Bomb:\n    def __del__(self): ...",
        "Use functions and tuples.",
    ),
    Rule(
        "N403",
        "generator-function",
        "A function uses `yield` or `yield from`.",
        "A generator function returns a generator object, which is always truthy: the reward "
        "would always fire.",
        "def check(frame):\n    yield True",
        "Return a bool.",
    ),
    Rule(
        "N404",
        "async-code",
        "async def, await, async for or async with.",
        "Coroutines are always truthy and run outside the call that created them.",
        "async def check(frame): ...",
        "Use plain functions.",
    ),
    Rule(
        "N405",
        "global-statement",
        "A `global` or `nonlocal` statement.",
        "Rebinding outer names keeps state across calls or mutates enclosing scopes.",
        "def check(frame):\n    global n\n    n += 1",
        "Keep all state local to the call.",
    ),
    Rule(
        "N406",
        "match-statement",
        "A `match` statement.",
        "Capture patterns bind names (including guard names) outside the audit's name checks.",
        "match x:\n    case _getattr_: ...",
        "Use if/elif.",
    ),
    Rule(
        "N407",
        "exception-group",
        "`try/except*` (exception groups).",
        "except* has a CPython type-confusion bug (gh-128049, CVE-2025-22153) that crashes or "
        "escapes on 3.11.",
        "try: ...\nexcept* ValueError: ...",
        "Use a plain try/except.",
    ),
    Rule(
        "N408",
        "broad-except",
        "A bare `except:` or a handler for an exception type not provided.",
        "A catch-all handler swallows the engine's budget and timeout signals and keeps an "
        "infinite loop alive.",
        "try: ...\nexcept: pass",
        "Catch specific exceptions: `except (ValueError, IndexError):`.",
    ),
    Rule(
        "N409",
        "decorator",
        "A decorator on a function.",
        "Decorators run arbitrary callables at definition time and replace the function.",
        "@cache\ndef check(frame): ...",
        "Remove the decorator.",
    ),
    Rule(
        "N410",
        "star-arguments",
        "`*args` / `**kwargs` in a call or a definition.",
        "Star-calls pass unchecked argument lists to callables (`np.load(*args, **kw)`), and "
        "variadic definitions hide inputs.",
        "np.load(*args, **kwargs)",
        "Pass arguments by name.",
    ),
    Rule(
        "N411",
        "default-argument",
        "A default value on a function or lambda parameter.",
        "Defaults are evaluated once; a mutable default is state kept across calls.",
        "def f(x, seen=[]): ...",
        "Pass every value explicitly.",
    ),
    Rule(
        "N412",
        "with-statement",
        "A `with` statement.",
        "Context managers run enter/exit hooks; checkers have nothing to manage.",
        "with open(p) as f: ...",
        "Remove it.",
    ),
    Rule(
        "N413",
        "delete-statement",
        "A `del` statement.",
        "Deleting names or items is never needed in a predicate and can unbind guards.",
        "del frame",
        "Remove it.",
    ),
    Rule(
        "N414",
        "attribute-store",
        "Assignment to an attribute (`obj.x = v`, `obj.x += v`).",
        "Attribute writes store state on functions, modules or arrays (`check.memory = ...`, "
        "`arr.shape = ...`).",
        "check.calls = 1",
        "Use local variables.",
    ),
    Rule(
        "N415",
        "string-formatting",
        "f-strings, t-strings or `%`/`.format` string formatting.",
        "Format specs allocate unbounded padding (`f'{1:>{10**9}}'`) and format fields traverse "
        "attributes in C.",
        "f'{x:>{w}}'",
        "Checkers return bools; they need no strings.",
    ),
    Rule(
        "N416",
        "infinite-loop",
        "`while` with a constant true condition and no `break`.",
        "The loop never ends; the engine would have to kill the worker.",
        "while True:\n    pass",
        "Loop over a range, or add a reachable break.",
    ),
    Rule(
        "N418",
        "matmul-operator",
        "The `@` (matrix multiplication) operator.",
        "Matrix products of frame-sized arrays cost O(n^3) time in one uninterruptible C call.",
        "a @ b",
        "Use elementwise operations or the vision helpers.",
    ),
    Rule(
        "N419",
        "finally-control-flow",
        "`return`, `break` or `continue` inside a `finally` block.",
        "Leaving a `finally` block that way silently discards the exception in flight, including "
        "the engine's budget and capability signals, so a runaway loop could report a normal "
        "result (PEP 765 makes it a warning in Python 3.14).",
        "try:\n    spin()\nfinally:\n    return True",
        "Return after the try statement.",
    ),
    Rule(
        "N420",
        "annotation-expression",
        "An annotation that is not a plain type expression (a call, an operator, a lambda ...).",
        "Annotations are evaluated by Python at definition time unless they are stripped; the "
        "engine strips them on every path, but an annotation that is an arbitrary expression is a "
        "payload waiting for one code path that forgets to (an earlier JIT build evaluated "
        "module-level annotations before the worker isolated itself).",
        "LIMIT: __import__('os').system('id') = 3",
        "Annotate with type names only (`LIMIT: int = 3`, `def check(frame: np.ndarray) -> bool`), "
        "or leave annotations out.",
        added="0.2.0",
    ),
    # --- A: names and attributes -------------------------------------------------------------
    Rule(
        "A501",
        "underscore-name",
        "An identifier or attribute that starts with an underscore.",
        "Dunders reach the interpreter's internals (__class__, __globals__, __subclasses__) and "
        "underscore names are the engine's guards (_getattr_, _write_). A private name of the "
        "checker's own (one underscore and no trailing one, not an attribute: `_mask`, "
        "`_has_key`) is not refused: every path renames it `private_mask` before the audit, "
        "keeping its line.",
        "frame.__class__",
        "Use public names only.",
    ),
    Rule(
        "A502",
        "unknown-name",
        "A name that is neither defined in the checker nor provided.",
        "Only the listed builtins, `np`, `math` and the vision helpers exist; open, eval, exec, "
        "getattr, type, id, hash, help, compile, memoryview, str ... do not.",
        "open('/etc/hostname')",
        "Use the provided builtins and helpers (`vlmcar audit --rules`).",
    ),
    Rule(
        "A503",
        "attribute-not-allowed",
        "An attribute outside every type's allow-list.",
        "Public attributes reach far: `dtype.type.mro()` finds `object`, `arr.base` owns the "
        "frame, `arr.ctypes` gives raw pointers, `gen.gi_frame` gives interpreter frames.",
        "frame.base.setflags(write=True)",
        "Use the documented ndarray methods.",
    ),
    Rule(
        "A504",
        "numpy-name-not-allowed",
        "`np.X`, `np.linalg.X`, `np.logical_and.X` or `math.X` where X is not in the facade.",
        "numpy's public graph reaches builtins, os, subprocess and ctypes "
        "(np.ma.core.builtins, np.f2py.os, np.ctypeslib), and its I/O reads and writes files.",
        "np.f2py.subprocess.run(['id'])",
        "Use the allow-listed numpy functions (`np.linalg.norm` and `np.logical_and.reduce` "
        "included; `np.ndarray` only in `isinstance`).",
    ),
    Rule(
        "A505",
        "reserved-name",
        "Assignment to a provided or reserved name (np, math, builtins, helpers, print, exec).",
        "Rebinding a provided name changes what later code (and a reviewer) believes it calls.",
        "len = 3",
        "Choose another variable name.",
    ),
    # --- K: constants ------------------------------------------------------------------------
    Rule(
        "K601",
        "huge-constant",
        "An integer beyond 64 bits or a string/bytes literal over the limit.",
        "Checker integers are 64-bit so the interpreter and the JIT agree; huge literals are "
        "memory and CPU bombs.",
        "x = 1 << 100  # or a 1 MB string",
        "Use small constants.",
    ),
    Rule(
        "K602",
        "impossible-pixel-comparison",
        "A raw uint8 pixel value is compared with a constant outside 0..255.",
        "Such a comparison is constant (uint8 never exceeds 255): the predicate is degenerate "
        "and rewards always or never.",
        "(frame[..., 0] > 300).any()",
        "Compare with 0..255, or cast first (`frame.astype(np.int32)`).",
    ),
)

#: Every rule by code, in code order.
RULES: Mapping[str, Rule] = MappingProxyType({r.code: r for r in _RULES})


def rules_markdown() -> str:
    """Render the rule table (what ``docs/rules.md`` holds) as Markdown.

    Returns:
        A Markdown document: one summary table, then one section per rule.

    Example:
        >>> "A502" in rules_markdown()
        True
    """
    out = [
        "# Audit rules",
        "",
        "Generated from `sandbox/rules.py` by `vlmcar audit --rules`; do not edit by hand.",
        "",
        "| code | name | flags |",
        "| --- | --- | --- |",
    ]
    out += [f"| [{r.code}](#{r.code.lower()}) | `{r.name}` | {r.summary} |" for r in RULES.values()]
    for r in RULES.values():
        example = "\n".join(r.example.splitlines())
        instead = "\n".join(r.instead.splitlines())
        out += [
            "",
            f"## {r.code}",
            "",
            f"**{r.name}** (added in {r.added})",
            "",
            f"**What it does.** {r.summary}",
            "",
            f"**Why is this bad?** {r.why}",
            "",
            "**Example**",
            "",
            "```python",
            example,
            "```",
            "",
            "**Use instead**",
            "",
            "```python",
            instead,
            "```",
        ]
    return "\n".join(out) + "\n"
