"""Fuzz the audit itself (issue 10, item 10): whatever it accepts runs only inside the namespace.

Programs come from a small grammar of the checker subset (module constants, helpers, loops,
``try``, numpy and vision calls, the idioms models write) and from *mutations* of those programs:
a hostile construct of a known class spliced into a random statement (dunder walks, reflective
builtins, imports, numpy's file/pointer/pickle surface, annotations, decorators and default values
that would run at definition time ...) or characters inserted at random (quotes, brackets, BOMs,
bidi controls, full-width letters that NFKC-normalise to ASCII).

Three properties, each on every generated program:

1. the audit is total: it returns a report for any text, never raises;
2. every hostile construct is refused (each class is listed with the reason it must be);
3. a program the audit *accepts* is compiled and run on frames in this process under a
   ``sys.addaudithook`` hook and a ``sys.setprofile`` tracer: while it runs, no audit event of the
   dangerous kinds fires (``open``, ``os.*``, ``subprocess.*``, ``import``, ``exec``, ``compile``,
   ``ctypes.*``, ``socket.*``, ``sys._getframe``, ``object.__setattr__`` ...), every Python frame of
   checker code has the restricted namespace as its globals, and no function of a module outside
   the engine, numpy and the interpreter's own helpers is entered. Its answer is a bool, or it fails
   with one of the project's checker errors.

The programs are generated here, by the test: running them in the test process is running trusted
code under observation, not running a model's checker outside the wall. Examples are derandomised
(a failure reproduces); set ``VLMCAR_FUZZ_EXAMPLES`` to explore more.
"""

from __future__ import annotations

import ast
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

import numba
import numpy as np
import pytest
import RestrictedPython
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sandbox
from sandbox import audit, compile_checker
from sandbox.constants import ConstantError, fold_constants
from sandbox.errors import CheckerRuntimeError, SandboxError

EXAMPLES = int(os.environ.get("VLMCAR_FUZZ_EXAMPLES", "60"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# --- the grammar of ordinary checkers ---------------------------------------------------------

COLOURS = ["(255, 0, 0)", "(0, 255, 0)", "(255, 255, 0)", "(100, 100, 100)", "COLOR"]
_small = st.integers(0, 7).map(str)
_byte = st.integers(1, 254).map(str)  # 0 and 255 make some comparisons impossible (K602)


def _arrays(two: bool) -> st.SearchStrategy[str]:
    base = [
        st.just("frame"),
        st.integers(0, 2).map(lambda c: f"frame[..., {c}]"),
        st.tuples(_small, _small).map(lambda t: f"frame[{t[0]}:{t[1]}, :, 0]"),
        st.sampled_from(COLOURS).map(lambda c: f"color_mask(frame, {c}, 10)"),
        st.sampled_from(COLOURS).map(lambda c: f"np.all(frame == np.array({c}), axis=-1)"),
        _byte.map(lambda b: f"(frame[..., 0] > {b}) & (frame[..., 1] < {b})"),
        st.just("frame.mean(axis=2)"),
        st.just("frame.astype(np.int64)"),
        _byte.map(lambda b: f"np.where(frame[..., 2] > {b}, 1, 0)"),
        st.just("KEY_MASK"),
    ]
    if two:
        base.append(st.just("np.abs(frame.astype(np.int64) - first.astype(np.int64))"))
    return st.one_of(base)


def _numbers(two: bool) -> st.SearchStrategy[str]:
    arr = _arrays(two)
    atoms = st.one_of(
        _byte,
        st.sampled_from(["n", "K", "H", "W", "len(frame)", "frame.shape[0]"]),
        st.tuples(_small, _small, st.integers(0, 2)).map(
            lambda t: f"int(frame[{t[0]}, {t[1]}, {t[2]}])"
        ),
        arr.map(lambda a: f"int(np.count_nonzero({a}))"),
        arr.map(lambda a: f"float({a}.sum())"),
        st.sampled_from(COLOURS).map(lambda c: f"count_color(frame, {c}, 10)"),
        st.just("helper(frame)"),
        st.just("len(np.argwhere(frame[..., 0] > 128))"),
    )
    return st.one_of(
        atoms,
        st.tuples(atoms, st.sampled_from(["+", "-", "*", "//", "%"]), atoms).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(atoms, atoms).map(lambda t: f"max({t[0]}, {t[1]})"),
    )


def _conditions(two: bool) -> st.SearchStrategy[str]:
    num = _numbers(two)
    cmp = st.tuples(num, st.sampled_from(["<", "<=", ">", ">=", "==", "!="]), num).map(
        lambda t: f"{t[0]} {t[1]} {t[2]}"
    )
    return st.one_of(
        cmp,
        _arrays(two).map(lambda a: f"bool(np.any({a}))"),
        st.tuples(cmp, st.sampled_from(["and", "or"]), cmp).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        cmp.map(lambda c: f"not ({c})"),
    )


def _statements(two: bool) -> st.SearchStrategy[list[str]]:
    num, cond = _numbers(two), _conditions(two)
    one = st.one_of(
        num.map(lambda e: [f"n = {e}"]),
        cond.map(lambda c: ["if " + c + ":", "    return True"]),
        num.map(lambda e: ["for i in range(3):", f"    n = n + {e} % 5"]),
        num.map(
            lambda e: [
                "try:",
                f"    n = {e}",
                "except (ValueError, ZeroDivisionError):",
                "    return False",
            ]
        ),
        st.just(["for row in frame[:2]:", "    n = n + int(row[0, 0])"]),
        st.just(["h, w, *_ = frame.shape", "n = n + h - w"]),
        st.just(["print(frame.shape, n)"]),  # collected by RestrictedPython, never written out
        st.just(["for y, row in enumerate(frame[:2]):", "    n = n + y + len(row)"]),
    )
    return st.lists(one, min_size=1, max_size=4).map(lambda blocks: [s for b in blocks for s in b])


@st.composite
def programs(draw: st.DrawFn) -> tuple[str, list[str]]:
    """A checker in the subset: its source and its ``check`` body (lines, for mutation)."""
    two = draw(st.booleans())
    head = [
        "import numpy as np",
        "",
        "K = 3",
        "H, W = 8, 8",
        f"COLOR = {draw(st.sampled_from(COLOURS[:-1]))}",
        "KEY_MASK = np.array([[True, False], [False, True]])",
        "",
        "",
        "def helper(frame):",
        f"    return int(np.count_nonzero(frame[..., {draw(st.integers(0, 2))}] > 100))",
        "",
        "",
    ]
    body = ["n = 0", *draw(_statements(two)), f"return {draw(_conditions(two))}"]
    signature = "def check(frame, first):" if two else "def check(frame):"
    return "\n".join([*head, signature, *("    " + s for s in body)]) + "\n", body


# --- hostile constructs, by class -------------------------------------------------------------

DUNDERS = [
    "__class__", "__globals__", "__builtins__", "__subclasses__", "__code__", "__dict__",
    "__mro__", "__bases__", "__base__", "__getattribute__", "__reduce_ex__", "__init__",
    "__self__", "__func__", "__closure__", "__traceback__", "__loader__", "__spec__", "__module__",
    "__array_interface__", "__array_struct__", "__setstate__", "__weakref__", "__defaults__",
]  # fmt: skip
CARRIERS = ["frame", "np", "count_color", "helper", "()", "''", "(1)", "np.zeros(1)", "check", "K"]
#: builtins and names that reflect, import, execute, do I/O or reach the interpreter
REFLECTIVE = [
    "getattr(frame, 'shape')", "setattr(frame, 'x', 1)", "vars(frame)", "dir(frame)", "globals()",
    "locals()", "type(frame)", "object", "__import__('os')", "open('/etc/passwd')", "eval('1')",
    "exec('1')", "compile('1', 'x', 'eval')", "breakpoint()", "input()", "memoryview(b'x')",
    "bytearray(8)", "super()", "help", "id(frame)", "hash(frame)", "iter(frame)", "next",
    "classmethod", "staticmethod", "property", "frozenset", "callable(frame)", "hasattr(frame, 'T')",
    "delattr", "format(frame, '')", "chr(65)", "ord('A')", "bytes(3)", "issubclass", "aiter",
]  # fmt: skip
#: numpy members that read or write files, expose memory or call Python back
NUMPY_HOSTILE = [
    "np.lib", "np.ctypeslib", "frame.ctypes", "frame.tofile('/tmp/vlmcar_fuzz')", "frame.data",
    "np.save('/tmp/vlmcar_fuzz', frame)", "np.load('/tmp/vlmcar_fuzz.npy', allow_pickle=True)",
    "frame.base", "np.frombuffer(b'1234', np.uint8)", "np.vectorize(len)",
    "np.frompyfunc(len, 1, 1)", "np.fromfile('/etc/passwd')", "np.loadtxt('/etc/passwd')",
    "np.genfromtxt('/etc/passwd')", "np.memmap", "np.testing", "np.f2py", "np.ma", "np.char",
    "np.rec", "np.random", "np.seterr(all='ignore')", "np.set_printoptions(threshold=1)",
    "np.core", "np.DataSource", "np.emath", "np.add.at(frame, 0, 1)", "frame.view(np.int64)",
    "np.ndarray.__new__", "frame.dumps()", "frame.tolist", "np.fft", "np.polynomial",
    "frame.setflags(write=True)", "np.copyto(frame, 0)", "np.asarray(frame).resize(1)",
    "np.array(frame, dtype=object)", "np.dtype('O')", "np.lib.stride_tricks.as_strided(frame)",
]  # fmt: skip
#: statements that import, define classes, leave the function, or run code at definition time
STATEMENTS = [
    "import os", "from os import system", "import numpy.ctypeslib", "from numpy import lib",
    "import sys", "import builtins", "from math import *", "global K", "class A: pass",
    "del frame", "with np.errstate(): pass", "x: __import__('os').getcwd() = 1",
    "x: type(frame) = 1", "yield 1", "raise SystemExit", "lambda: __import__('os')",
    "n = [c for c in ().__class__.__base__.__subclasses__()]", "n = f'{frame.__class__}'",
    "n = '{0.__class__}'.format(frame)", "n = '%s' % frame", "async def g(): pass",
    "match n:\n        case _: pass", "assert False, frame.__class__",
    "try:\n        pass\n    except Exception as e:\n        n = e.__traceback__",
    "nonlocal n", "n = frame.__reduce_ex__(2)",
]  # fmt: skip
HOSTILE_EXPRESSIONS = [
    *(f"{c}.{d}" for c in CARRIERS for d in DUNDERS),
    *(f"getattr({c}, '{d}')" for c in CARRIERS[:3] for d in DUNDERS[:8]),
    *REFLECTIVE,
    *NUMPY_HOSTILE,
]
_DEFINITION_TIME = [
    "@np.vectorize\ndef g(x):\n    return x\n",
    "def g(x=__import__('os')):\n    return x\n",
    "def g(x: __import__('os').getcwd()) -> open('/tmp/vlmcar_fuzz', 'w'):\n    return x\n",
    "Z: __import__('os').system('true') = 1\n",
    "Z = [__import__('os')]\n",
    "Z = (lambda: 0)()\n",
    "Z = 10 ** 10 ** 10\n",
    "Z = 'a' * 10 ** 9\n",
    "Z = ((((((((((((((1,),),),),),),),),),),),),) * 10 ** 6\n",
    "if True:\n    import os\n",
    "try:\n    import os\nexcept Exception:\n    pass\n",
]


@st.composite
def hostile(draw: st.DrawFn) -> str:
    """An ordinary program with one hostile construct spliced in (inside ``check`` or at module level)."""
    source, body = draw(programs())
    where = draw(st.sampled_from(["expression", "statement", "module"]))
    lines = source.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("def check"))
    at = start + 1 + draw(st.integers(0, len(body) - 1))
    indent = lines[at][: len(lines[at]) - len(lines[at].lstrip())]
    if where == "expression":
        snippet = draw(st.sampled_from(HOSTILE_EXPRESSIONS))
        lines.insert(at, f"{indent}n = {snippet}")
    elif where == "statement":
        snippet = draw(st.sampled_from(STATEMENTS))
        lines.insert(at, f"{indent}{snippet}")
    else:
        snippet = draw(st.sampled_from(_DEFINITION_TIME))
        lines.insert(start, snippet)
    return "\n".join(lines) + "\n"


NOISE = ["_", ".", "(", ")", "'", '"', ":", "\n", " ", "[", "]", "@", "\\", "\ufeff", "\u202e",
         "\u200b", "ｃ", "＿", "#", "*", "=", "lambda ", "__", "yield "]  # fmt: skip


@st.composite
def scrambled(draw: st.DrawFn) -> str:
    """An ordinary or hostile program with characters inserted and deleted at random places."""
    source = draw(st.one_of(programs().map(lambda p: p[0]), hostile()))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(source)))
        if draw(st.booleans()):
            source = source[:at] + draw(st.sampled_from(NOISE)) + source[at:]
        else:
            source = source[:at] + source[at + draw(st.integers(1, 3)) :]
    return source


# --- observing a run -------------------------------------------------------------------------

#: audit events no checker may cause (prefixes)
FORBIDDEN_EVENTS = (
    "open", "os.", "subprocess.", "shutil.", "socket.", "ctypes.", "import", "exec", "compile",
    "sys._getframe", "sys.settrace", "sys.setprofile", "object.__setattr__", "object.__delattr__",
    "function.__new__", "code.__new__", "marshal.", "pickle.", "builtins.input", "glob.", "mmap.",
    "urllib.", "http.", "sqlite3.", "webbrowser.", "winreg.", "posix", "syslog.", "fcntl.",
    "resource.", "signal.", "cpython.run_", "sys.addaudithook", "sys.excepthook",
)  # fmt: skip
#: where a checker's calls may lead: the engine (guards, facade, helpers), numpy, RestrictedPython,
#: and numba (the vision helpers' compiled kernels are the engine's own)
_TRUSTED = tuple(
    Path(module.__file__).resolve().parent
    for module in (sandbox, np, RestrictedPython, numba)
    if module.__file__ is not None
)
_STATE = threading.local()


def _hook(event: str, args: tuple[Any, ...]) -> None:
    """Record a forbidden event while checker code is on the stack (the engine's own error
    reporting after a checker failed, e.g. ``linecache`` opening engine sources, is not)."""
    seen = getattr(_STATE, "events", None)
    if seen is not None and _STATE.depth > 0 and event.startswith(FORBIDDEN_EVENTS):
        seen.append(f"{event}{args!r}"[:160])


sys.addaudithook(_hook)  # audit hooks stay for the process; this one is inert outside `observed`


@contextmanager
def observed(namespace: dict[str, Any], path: str) -> Iterator[list[str]]:
    """Record forbidden audit events under checker code, checker frames with other globals, and Python functions of
    modules outside the engine, numpy, RestrictedPython and numba that checker code calls directly
    (a C builtin in between has no frame, so ``map(f, ...)`` counts as a direct call of ``f``)."""
    problems: list[str] = []

    def profile(frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "return" and code.co_filename == path:
            _STATE.depth -= 1
        if event != "call":
            return
        if code.co_filename == path:
            _STATE.depth += 1
            if frame.f_globals is not namespace:
                problems.append(f"checker code {code.co_name} ran with foreign globals")
            return
        filename = code.co_filename
        if filename == __file__ and code.co_name == "observed":
            return  # this harness leaving its own context
        caller = frame.f_back
        if caller is None or caller.f_code.co_filename != path:
            return  # the engine's own calls (error reporting, ...) are its business, not the checker's
        resolved = Path(filename).resolve()
        if any(resolved.is_relative_to(root) for root in _TRUSTED):
            return
        problems.append(f"checker code called {filename}:{code.co_name}")

    sys.setprofile(profile)
    _STATE.depth = 0
    _STATE.events = problems
    try:
        yield problems
    finally:
        _STATE.events = None
        sys.setprofile(None)


FRAMES = [
    np.zeros((8, 8, 3), np.uint8),
    np.full((8, 8, 3), 255, np.uint8),
    np.random.default_rng(0).integers(0, 256, (8, 8, 3), dtype=np.uint8),
]


_WARM = (
    "def check(frame):\n"
    "    return bool(color_mask(frame, (1, 2, 3), 10).sum() + count_color(frame, (1, 2, 3), 10))\n"
)
_warmed: list[bool] = []


def run_contained(source: str) -> list[str]:
    """Compile an accepted source and run it on FRAMES under observation; return the problems."""
    path = "<fuzzed checker>"
    if not _warmed:  # the vision helpers' kernels compile (and import) on their first call
        compile_checker(_WARM)(FRAMES[0])
        _warmed.append(True)
    try:
        checker = compile_checker(source, path=path)
    except SandboxError:  # accepted by the audit, refused by the folder or loader: contained
        return []
    namespace = checker._function.__globals__
    problems: list[str] = []
    for frame in FRAMES:
        with observed(namespace, path) as seen:
            try:
                answer: object = checker(frame, FRAMES[0]) if checker.arity == 2 else checker(frame)
            except CheckerRuntimeError:
                answer = False
        problems += seen
        if not isinstance(answer, bool):
            problems.append(f"answered {type(answer).__name__}, not bool")
    return problems


def refused(source: str) -> bool:
    """The audit refuses it, or the bounded constant folder does (structure passed, size did not).

    Folding evaluates literal arithmetic only, with size limits, and happens inside the worker;
    ``10 ** 10 ** 10`` or ``'a' * 10 ** 9`` at module level end there in microseconds.
    """
    if not audit(source).ok:
        return True
    try:
        fold_constants(ast.parse(source))
    except ConstantError:
        return True
    return False


# --- the properties --------------------------------------------------------------------------


@FUZZ
@given(programs())
def test_ordinary_programs_are_accepted_and_contained(program: tuple[str, list[str]]) -> None:
    source, _ = program
    report = audit(source)
    assert report.ok, (source, [str(f) for f in report.findings])
    assert run_contained(source) == [], source


@FUZZ
@given(hostile())
def test_every_hostile_construct_is_refused(source: str) -> None:
    assert refused(source), f"the audit accepts:\n{source}"


@settings(FUZZ, max_examples=EXAMPLES * 2)
@given(scrambled())
def test_the_audit_is_total_and_what_it_accepts_stays_inside(source: str) -> None:
    report = audit(source)  # property 1: never raises
    if report.ok:
        assert run_contained(source) == [], source


@pytest.mark.parametrize("snippet", _DEFINITION_TIME)
def test_definition_time_code_is_refused_before_anything_runs(snippet: str) -> None:
    source = snippet + "\n\ndef check(frame):\n    return True\n"
    assert refused(source), source


def test_the_observer_sees_what_it_must() -> None:
    """The harness itself: foreign globals, a forbidden event and a foreign module are reported."""
    harness: dict[str, Any] = {"os": os, "Path": Path}
    leaky_source = (
        "def leaky():\n    with open(os.devnull):\n        pass\n    Path(os.devnull).exists()\n"
    )
    exec(compile(leaky_source, "<leaky>", "exec"), harness)  # trusted test code, not a checker
    with observed({}, "<leaky>") as seen:
        harness["leaky"]()
    assert any("foreign globals" in p for p in seen), seen
    assert any(p.startswith("open(") for p in seen), seen
    assert any("pathlib" in p and "checker code called" in p for p in seen), seen
    with observed(harness, "<leaky>") as quiet:
        os.getcwd()  # not under checker code
    assert quiet == [], quiet
