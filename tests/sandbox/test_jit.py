"""Unit tests for sandbox/jit.py: the JIT subset, kernel generation and caching, attach rules."""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sandbox import CheckerFailed, CheckerRuntimeError, audit, compile_checker
from sandbox.errors import AuditError
from sandbox.frames import readonly_batch
from sandbox.jit import (
    JIT_NUMPY,
    Kernel,
    build_kernel,
    default_cache_dir,
    jit_refusal,
    kernel_dir,
    kernel_source,
)
from sandbox.jit_helpers import JitDeferred
from sandbox.surface import NUMPY_CONSTANTS, NUMPY_DTYPES, NUMPY_FUNCTIONS
from tests.sandbox.conftest import load_attacks, scene

ROOT = Path(__file__).resolve().parents[2]


def src(code: str) -> str:
    return textwrap.dedent(code).lstrip("\n")


def run_kernel(kernel: Kernel, frames: np.ndarray, firsts: np.ndarray | None = None) -> list[bool]:
    ro = readonly_batch(np.ascontiguousarray(frames))
    ro_first = ro if firsts is None else readonly_batch(np.ascontiguousarray(firsts))
    out = np.zeros(len(frames), np.bool_)
    kernel.run(ro, ro_first, out)
    return out.tolist()


def build(source: str, cache_dir: Path) -> Kernel:
    kernel = build_kernel(source, cache_dir=cache_dir)
    assert isinstance(kernel, Kernel), kernel
    return kernel


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One kernel cache for the module: each kernel compiles once."""
    return tmp_path_factory.mktemp("jit-cache")


# --- the subset -----------------------------------------------------------------------------

REFUSED = [
    ("list method", "def check(frame):\n    xs = [1, 2]\n    return xs.pop() > 1\n", "'pop'"),
    (
        "set comprehension",
        "def check(frame):\n    xs = {c for c in range(3)}\n    return len(xs) > 1\n",
        "SetComp",
    ),
    ("dict method", "def check(frame):\n    d = {1: 2}\n    return d.get(1) > 0\n", "'get'"),
    ("set", "def check(frame):\n    s = {1, 2}\n    return len(s) > 0\n", "Set"),
    (
        "sum() of a comprehension and a start",
        "def check(frame):\n    return sum((c for c in range(3)), 1) > 1\n",
        "sum() of a comprehension takes no other arguments",
    ),
    (
        "comprehension over zip()",
        "def check(frame):\n    return any(a > b for a, b in zip(range(3), range(3)))\n",
        "loops over zip()",
    ),
    (
        "walrus in a comprehension",
        "def check(frame):\n    return any((v := frame[0, x, 0]) > 3 for x in range(3))\n",
        "walrus inside a comprehension",
    ),
    (
        "comprehension variable in its first range",
        "def check(frame):\n    x = 3\n    return any(x > 1 for x in range(x))\n",
        "also read by its first range",
    ),
    (
        "string method",
        "def check(frame):\n    mode = 'any'\n    return mode.upper() == 'ANY'\n",
        "attribute 'upper'",
    ),
    (
        "set module constant",
        "MODES = {'any', 'all'}\n\ndef check(frame):\n    return frame.mean() > 3\n",
        "module constant 'MODES' (frozenset) is outside the JIT subset",
    ),
    (
        "dict constant as a value",
        "D = {'a': 1}\n\ndef check(frame):\n    return D is not None\n",
        "the dict constant 'D' as a value",
    ),
    (
        "dict constant read with a variable key",
        "D = {'a': 1}\n\ndef check(frame):\n    k = 'a'\n    return D[k] > 0\n",
        "key that is not a literal",
    ),
    (
        "dict constant read with a missing key",
        "D = {'a': 1}\n\ndef check(frame):\n    return D['b'] > 0\n",
        "no such key",
    ),
    (
        "dict constant method",
        "D = {'a': 1}\n\ndef check(frame):\n    return D.get('a') > 0\n",
        "D.get(...) of a dict",
    ),
    (
        "dict constant with mixed keys",
        "D = {'a': 1, 2: 3}\n\ndef check(frame):\n    return D['a'] > 0\n",
        "all ints or all strings",
    ),
    (
        "try/finally",
        "def check(frame):\n    try:\n        x = frame[0, 0, 0]\n    finally:\n"
        "        x = 0\n    return x > 3\n",
        "try/finally",
    ),
    ("is", "def check(frame):\n    return frame is frame\n", "other than with None"),
    ("is not", "def check(frame):\n    return frame is not frame\n", "other than with None"),
    (
        "a chain with is",
        "def check(frame):\n    return frame is not None is not frame\n",
        "a chain of comparisons with `is`",
    ),
    ("== None", "def check(frame):\n    return frame[0, 0, 0] == None\n", "with None other"),
    (
        "lambda not bound to a name",
        "def check(frame):\n    return (lambda v: v + 1)(frame[0, 0, 0]) > 3\n",
        "only calls of named functions",
    ),
    (
        "lambda inside a loop",
        "def check(frame):\n    f = 0\n    for i in range(2):\n        f = lambda v: v + i\n"
        "    return f(frame[0, 0, 0]) > 3\n",
        "Lambda",
    ),
    (
        "enumerate without unpacking",
        "def check(frame):\n    n = 0\n    for p in enumerate((1, 2)):\n        n += 1\n    return n > 3\n",
        "must unpack (index, value)",
    ),
    (
        "for/else",
        "def check(frame):\n    for i in range(3):\n        pass\n    else:\n        return True\n"
        "    return False\n",
        "for/else",
    ),
    (
        "appending to a list while looping over it",
        "def check(frame):\n    a = [1]\n    for v in a:\n        if v < 3:\n            a.append(v + 1)\n"
        "    return len(a) > 2\n",
        "appended to and also used otherwise",
    ),
    (
        "appending to a parameter",
        "def grow(a):\n    a.append(1)\n    return len(a)\n\ndef check(frame):\n"
        "    return grow([frame[0, 0, 0]]) > 1\n",
        "appending to the parameter 'a'",
    ),
    (
        "appending to a list that is passed on",
        "def n(a):\n    return len(a)\n\ndef check(frame):\n    a = []\n    a.append(2)\n"
        "    return n(a) > 1\n",
        "appended to and also used otherwise",
    ),
    (
        "append used as a value",
        "def check(frame):\n    a = []\n    return a.append(1) is None\n",
        "only as a statement",
    ),
    ("a chain with in", "def check(frame):\n    return 1 in (1,) in ((1,),)\n", "`in`"),
    (
        "sorted(reverse=True)",
        "def check(frame):\n    return sorted((3, 1), reverse=True)[0] == 1\n",
        "sorted() takes one argument",
    ),
    ("isinstance()", "def check(frame):\n    return isinstance(frame, tuple)\n", "isinstance()"),
    ("list()", "def check(frame):\n    return len(list(range(3))) > 1\n", "list()"),
    (
        "zip() loop",
        "def check(frame):\n    n = 0\n    for a, b in zip(range(3), range(3)):\n        n += a\n"
        "    return n > 1\n",
        "loops over zip()",
    ),
    (
        "numpy outside the subset",
        "import numpy as np\n\ndef check(frame):\n    return np.sort(frame[0, :, 0])[0] > 3\n",
        "np.sort",
    ),
    (
        "np.array of a name with a dtype",
        "import numpy as np\n\ndef check(frame):\n    t = (1, 300)\n"
        "    return np.array(t, dtype=np.bool_).sum() > 1\n",
        "np.array() of anything but a tuple or list display",
    ),
    (
        "np.array with a dtype its literal overflows",
        "import numpy as np\n\ndef check(frame):\n"
        "    return np.array((1, 300), dtype=np.uint8).sum() > 1\n",
        "literals the dtype holds",
    ),
    (
        "np.array with a dtype and a computed value",
        "import numpy as np\n\ndef check(frame):\n"
        "    return np.array((1, frame[0, 0, 0]), dtype=np.uint8).sum() > 1\n",
        "literals the dtype holds",
    ),
    ("tolist()", "def check(frame):\n    return len(frame.tolist()) > 3\n", "'tolist'"),
    ("item()", "def check(frame):\n    return frame[0, 0, 0].item() > 3\n", "'item'"),
    (
        "dtype attribute",
        "def check(frame):\n    return frame.dtype.itemsize == 1\n",
        "'itemsize'",
    ),
    (
        "default parameter of a nested function",
        "def check(frame):\n    def helper(a, b=2):\n        return a > b\n\n"
        "    return helper(frame[0, 0, 0], 3)\n",
        "defaults",
    ),
    (
        "keyword-only parameter",
        "def helper(a, *, b):\n    return a > b\n\ndef check(frame):\n"
        "    return helper(frame[0, 0, 0], b=3)\n",
        "keyword-only",
    ),
    (
        "call for its effect",
        "def check(frame):\n    a = frame.copy()\n    a.sort()\n    return True\n",
        "expression statements",
    ),
    (
        "raise",
        "def check(frame):\n    if frame[0, 0, 0] > 3:\n        raise ValueError('x')\n    return True\n",
        "Raise",
    ),
    ("assert", "def check(frame):\n    assert frame[0, 0, 0] > 3\n    return True\n", "Assert"),
    ("bytes", "def check(frame):\n    return len(b'ab') > 1\n", "bytes constants"),
    (
        "nested function inside an if",
        "def check(frame):\n    if frame[0, 0, 0] > 1:\n        def inner(v):\n"
        "            return v > 3\n        return inner(frame[0, 0, 1])\n    return False\n",
        "inner()",
    ),
    (
        "nested function named before its def",
        "def check(frame):\n    x = inner(2)\n    def inner(v):\n        return v > 3\n"
        "    return x\n",
        "may be read before it is assigned",
    ),
    (
        "recursive nested function",
        "def check(frame):\n    def inner(v):\n        return v > 3 or inner(v + 1)\n"
        "    return inner(frame[0, 0, 0])\n",
        "calls the nested function inner()",
    ),
    (
        "nested function as a value",
        "def check(frame):\n    def inner(v):\n        return v > 3\n    f = inner\n"
        "    return f(frame[0, 0, 0])\n",
        "functions as values",
    ),
]


@pytest.mark.parametrize(("what", "source", "construct"), REFUSED, ids=[r[0] for r in REFUSED])
def test_subset_refuses(what: str, source: str, construct: str, cache: Path) -> None:
    assert audit(source).ok, f"{what}: the audit should accept this (the JIT subset refuses it)"
    reason = jit_refusal(ast.parse(source))
    assert reason is not None and construct in reason, reason
    # build_kernel gives the same reason and writes nothing.
    before = set(cache.glob("*.py"))
    assert build_kernel(source, cache_dir=cache) == reason
    assert set(cache.glob("*.py")) == before
    checker = compile_checker(source, jit=True)
    assert checker.kernel is None and checker.jit_reason == reason


ACCEPTED = [
    "def check(frame):\n    return frame.mean() > 3\n",
    "import numpy as np\nimport math\nT = (1, 2.5, -3)\nK = 2 ** 4\n\n"
    "def helper(a, b):\n    return math.hypot(a, b)\n\n"
    "def check(frame, first):\n    '''Doc.'''\n    n = 0\n    y = 0\n"
    "    while y < frame.shape[0]:\n        for x in range(0, frame.shape[1], 2):\n"
    "            if frame[y, x, 0] > K and not first[y, x, 1] < T[0]:\n                n += 1\n"
    "            elif x > 3:\n                continue\n            else:\n                break\n"
    "        y += 1\n    return helper(n, 1) > T[1] and np.count_nonzero(frame) >= 0\n",
    "def check(frame):\n    if (n := count_color(frame, (1, 2, 3), 4)) > 0:\n        return n > 1\n    return False\n",
    "def check(frame) -> bool:\n    x: int = 3\n    return frame[0, 0, 0] > x\n",
]


@pytest.mark.parametrize("source", ACCEPTED)
def test_subset_accepts_numeric_code(source: str) -> None:
    assert audit(source).ok
    assert jit_refusal(ast.parse(source)) is None


def test_jit_numpy_is_within_the_checker_surface() -> None:
    assert JIT_NUMPY <= NUMPY_FUNCTIONS | NUMPY_DTYPES | NUMPY_CONSTANTS
    assert "empty" not in JIT_NUMPY  # uninitialised memory would leak across calls


def test_numba_typing_errors_are_reasons_not_exceptions(cache: Path) -> None:
    source = "import numpy as np\n\ndef check(frame):\n    return np.median(frame[..., 0], axis=0).max() > 3\n"
    assert jit_refusal(ast.parse(source)) is None  # in the subset, but numba cannot type it
    reason = build_kernel(source, cache_dir=cache)
    assert isinstance(reason, str) and reason.startswith("numba cannot compile it")


def test_audit_rejection_is_a_reason(cache: Path) -> None:
    assert build_kernel("import os\ndef check(frame):\n    return True\n", cache_dir=cache) == (
        "the audit rejects this source"
    )


# --- generated modules: from the validated tree, content-addressed, cached ----------------------

SIMPLE = src(
    """
    import numpy as np

    RED = (255, 0, 0)


    def check(frame):
        # a comment that must not reach the generated module
        return count_color(frame, RED, 30) > 4
    """
)


def test_generated_module_is_content_addressed(cache: Path) -> None:
    a = build(SIMPLE, cache)
    b = build(SIMPLE, cache)
    assert a.path == b.path and a.path.parent == kernel_dir(SIMPLE, cache_dir=cache)
    assert a.path.exists()
    text = a.path.read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    assert a.path.name == f"vlmcar_jit_{digest}.py"
    # Rebuilt from allow-listed nodes, never the raw text: comments and layout do not survive, so
    # two sources that differ only in them generate the same module text ...
    assert "a comment" not in text
    relaid = SIMPLE.replace("# a comment that must not reach the generated module", "").replace(
        "RED = (255, 0, 0)", "RED = (255,  0, 0)  # red"
    )
    again = build(relaid, cache)
    assert again.path.read_text(encoding="utf-8") == text and again.path.name == a.path.name
    # ... but each checker source has a directory of its own: no checker can write (or
    # poison) the cache another checker loads.
    assert again.path.parent != a.path.parent
    other = build(SIMPLE.replace("> 4", "> 5"), cache)
    assert other.path.name != a.path.name
    assert len(list(cache.glob("k*/vlmcar_jit_*.py"))) >= 3


def test_every_function_is_jitted_with_boundscheck(cache: Path) -> None:
    source = src(
        """
        def helper(frame):
            return frame[0, 0, 0] > 3


        def check(frame):
            return helper(frame)
        """
    )
    text = build(source, cache).path.read_text(encoding="utf-8")
    assert (
        "@_vlmcar_numba.njit(cache=True, nogil=True, boundscheck=True)\ndef _vlmcar_f_helper(frame):"
        in text
    )
    assert text.count("boundscheck=True") >= 3  # helpers, the entry and the batch loop
    assert "objmode" not in text and "boundscheck=False" not in text


def test_cache_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VLMCAR_CACHE_DIR", str(tmp_path))
    assert default_cache_dir() == tmp_path / "jit"
    kernel = build_kernel(SIMPLE)
    assert isinstance(kernel, Kernel)
    assert kernel.path.parent.parent == tmp_path / "jit"
    assert kernel.path.parent == kernel_dir(SIMPLE)


_BUILD_SCRIPT = """
import json, sys
from pathlib import Path
from sandbox.jit import build_kernel
k = build_kernel(sys.stdin.read(), cache_dir=Path(sys.argv[1]))
print(json.dumps({"cached": k.cached, "seconds": k.seconds, "path": str(k.path)}))
"""


def _build_in_fresh_process(source: str, cache_dir: Path) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    proc = subprocess.run(
        [sys.executable, "-c", _BUILD_SCRIPT, str(cache_dir)],
        input=source,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
        check=True,
    )
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


@pytest.mark.slow
def test_second_build_in_a_fresh_process_hits_the_cache(tmp_path: Path) -> None:
    source = src(
        """
        import math


        def check(frame, first):
            mask = color_mask(frame, (0, 255, 0), 20)
            y, x = centroid(mask)
            return changed_fraction(frame, first, 5) > 0.1 and math.hypot(y, x) > 3.0
        """
    )
    first = _build_in_fresh_process(source, tmp_path)
    second = _build_in_fresh_process(source, tmp_path)
    assert first["path"] == second["path"]
    assert first["cached"] is False
    assert second["cached"] is True
    assert isinstance(first["seconds"], float) and isinstance(second["seconds"], float)
    assert second["seconds"] < first["seconds"]
    assert list(Path(str(first["path"])).parent.glob("__pycache__/vlmcar_jit_*.nbi"))


def _helper_source(k: int) -> str:
    # several functions, so a build compiles several dispatchers (each with its own cache entry)
    return src(
        f"""
        def count(frame, c):
            n = 0
            for y in range(frame.shape[0]):
                for x in range(frame.shape[1]):
                    if frame[y, x, c] > {k}:
                        n += 1
            return n


        def check(frame):
            return count(frame, 0) > count(frame, 1)
        """
    )


@pytest.mark.slow
def test_a_cache_without_its_verdict_is_compiled_afresh(tmp_path: Path) -> None:
    # a build killed between Numba saving its cache and the type check writing its verdict left
    # a cache that every later load refused (the checker stayed on the interpreter for good)
    source = _helper_source(100)
    first = _build_in_fresh_process(source, tmp_path)
    stamp = Path(str(first["path"])).with_suffix(".typed")
    assert stamp.read_text(encoding="utf-8").strip().startswith("typed IR checked")
    stamp.unlink()
    assert list(stamp.parent.glob("__pycache__/*.nbi"))  # the cache stays, without a verdict
    again = _build_in_fresh_process(source, tmp_path)  # used to refuse the kernel here
    assert again["cached"] is False  # compiled again ...
    assert stamp.exists()  # ... with its verdict written this time
    third = _build_in_fresh_process(source, tmp_path)
    assert third["cached"] is True


@pytest.mark.long  # three cold builds in fresh processes; the verdict test above runs in make test
def test_concurrent_builds_of_one_kernel_all_get_it(tmp_path: Path) -> None:
    # workers of one checker start together (two per run, several runs on a machine): they used
    # to load each other's half-written cache and refuse it, leaving no verdict behind
    source = _helper_source(50)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_")}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _BUILD_SCRIPT, str(tmp_path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            env=env,
        )
        for _ in range(3)
    ]
    results = [p.communicate(source, timeout=300) for p in procs]
    for (out, err), p in zip(results, procs, strict=True):
        assert p.returncode == 0, err
        assert json.loads(out.strip().splitlines()[-1])["path"]
    built = [json.loads(out.strip().splitlines()[-1]) for out, _ in results]
    assert sorted(b["cached"] for b in built) == [False, True, True]  # one compiled, two loaded


# --- results --------------------------------------------------------------------------------

HAND_BUILT = np.stack(
    [
        scene(),
        scene(background=(255, 255, 255)),
        scene(rects=[(2, 2, 8, 8, (255, 0, 0)), (20, 20, 26, 26, (0, 255, 0))]),
        scene(rects=[(2, 2, 8, 8, (255, 0, 0)), (6, 6, 12, 12, (0, 255, 0))]),
        scene(background=(100, 100, 100), rects=[(10, 0, 12, 32, (255, 255, 0))]),
        scene(rects=[(0, 0, 32, 16, (200, 40, 40)), (16, 16, 32, 32, (0, 0, 255))]),
        np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8),
    ]
)

SAME_AS_INTERPRETER = [
    "def check(frame):\n    return count_color(frame, (255, 0, 0), 20) > 10\n",
    src(
        """
        import math


        def check(frame):
            a = color_mask(frame, (255, 0, 0), 10)
            g = color_mask(frame, (0, 255, 0), 10)
            if pixel_count(a) == 0 or pixel_count(g) == 0:
                return False
            ay, ax = centroid(a)
            gy, gx = centroid(g)
            return math.hypot(ay - gy, ax - gx) < 10
        """
    ),
    src(
        """
        def check(frame):
            n = 0
            for y in range(0, frame.shape[0], 2):
                for x in range(0, frame.shape[1], 2):
                    if frame[y, x, 0] + frame[y, x, 1] > 300:
                        n += 1
            return n > 3
        """
    ),
    src(
        """
        import numpy as np


        def check(frame):
            r = frame[..., 0].astype(np.int32)
            return np.abs(r - frame[..., 2].astype(np.int32)).max() > 150 and r.mean() > 20
        """
    ),
    "def check(frame, first):\n    return changed_fraction(frame, first, 0) > 0.2\n",
]

#: The lowered idioms: comprehensions folded by sum/any/all/max/min, reversed ranges, np.array
#: displays, hoisted nested functions (their closures read at call time, as Python's do), loops
#: over sequences. One of each family runs in ``make test``; the rest (each a cold kernel build of
#: several seconds) under ``make test-long``.
LOWERED = [
    "def check(frame):\n    return sum(1 for y in range(frame.shape[0]) if frame[y, 0, 0] > 100) > 3\n",
    "def check(frame):\n    return any(frame[y, y, 1] > 200 for y in range(10))\n",
    "def check(frame):\n    return all([frame[y, 3, 2] < 50 for y in range(5)])\n",
    src(
        """
        def check(frame):
            t = 40
            return max(
                int(frame[y, x, 0]) - t for y in range(4) for x in range(0, 8, 2) if x != y
            ) > 100
        """
    ),
    "def check(frame):\n    return min(frame[y, 1, 0] for y in reversed(range(2, 9))) < 30\n",
    src(
        """
        import numpy as np


        def check(frame):
            key = np.array((255, 0, 0))
            wide = np.array([[1, 2], [3, 4]], dtype=np.uint8)
            return bool(np.all(frame[3, 3] == key)) or frame[0, 0, 0] > wide.sum() * 20
        """
    ),
    src(
        """
        def check(frame):
            n = 0
            for y in reversed(range(frame.shape[0])):
                if frame[y, 0, 0] > 100:
                    n = y
                    break
            return n > 10
        """
    ),
    src(
        """
        def check(frame):
            t = 10

            def brighter(y, x):
                return frame[y, x, 0] > t

            t = 150  # read at call time
            return sum(1 for y in range(8) if brighter(y, y)) > 2
        """
    ),
    # loops over sequences: tuple constants, displays, array rows, enumerate
    src(
        """
        import math
        import numpy as np


        def check(frame):
            yellow = (255, 255, 0)  # a local tuple against an array: made an array as numpy does
            dist = lambda p, q: math.sqrt((p[0] - q[0]) ** 2 + (p[1] - q[1]) ** 2)
            red = color_mask(frame, (255, 0, 0), 10)
            if np.all(frame[4:8, 4:8] == yellow, axis=-1).mean() > 0.5:
                return True
            return pixel_count(red) > 0 and dist(centroid(red), (0.0, 0.0)) > 5
        """
    ),
    src(
        """
        import numpy as np


        def dominant(frame, channel):
            img = frame.astype(np.int32)
            others = [c for c in range(3) if c != channel]  # a list, indexed below
            return (img[..., channel] - np.maximum(img[..., others[0]], img[..., others[1]])) > 60


        def check(frame):
            vals = [int(frame[y, 0, 1]) for y in range(0, frame.shape[0], 4)]
            return dominant(frame, 0).sum() > 5 or (len(vals) > 3 and vals[-1] > 200)
        """
    ),
    src(
        """
        COLORS = ((255, 0, 0), (0, 255, 0))
        STEPS = ((0, 1), (1, 0))


        def check(frame):
            if any(count_color(frame, c, 10) > 20 for c in COLORS):
                return True
            return max(int(frame[5 + dy, 5 + dx, 0]) for dy, dx in STEPS) > 100 and all(
                v < 250 for v in frame[0, :, 2]
            )
        """
    ),
    src(
        """
        COLORS = ((255, 0, 0), (0, 255, 0))


        def check(frame):
            n = 0
            for c in COLORS:
                n += count_color(frame, c, 10)
            return n > 5
        """
    ),
    src(
        """
        def check(frame):
            n = 0
            for i, c in enumerate((3, 6, 9, 12)):
                if c == 6:
                    continue
                for dy, dx in ((0, 1), (1, 0)):
                    n += frame[c + dy, i + dx, 0]
            return n > 100
        """
    ),
    src(
        """
        def check(frame):
            n = 0
            for i, v in enumerate(range(3, 9), 1):
                if frame[v, i, 0] > 100:
                    n += i
            for row in frame[:, :, 0]:
                if row.max() > 200:
                    n += 1
            return n > 5
        """
    ),
]


LOWERED.append(  # reversed ranges with a step: positive, negative, empty
    src(
        """
        def check(frame):
            seen = []
            for j in reversed(range(10, -3, -4)):
                seen.append(j)
            for k in reversed(range(5, 5, 2)):
                seen.append(k)
            if seen[0] != -2 or len(seen) != 4:
                return False
            for y in reversed(range(1, frame.shape[0], 3)):
                if frame[y, y % frame.shape[1], 0] > 100:
                    return y % 2 == 0
            return False
        """
    )
)
LOWERED.append(  # divmod of names and literals: (a // b, a % b), ints and floats
    src(
        """
        import numpy as np


        def check(frame):
            flat = int(np.argmax(frame[..., 0]))
            y, x = divmod(int(flat), frame.shape[1])
            q, r = divmod(-7, 2)
            f, g = divmod(7.5, -2)
            return y > x and q == -4 and r == 1 and f == -4.0 and g == -0.5
        """
    )
)
_LOWERED_IN_MAKE_TEST = {3, 5, 7, 9, 12, len(LOWERED) - 2, len(LOWERED) - 1}  # + reversed, divmod


@pytest.mark.parametrize(
    "source",
    [
        *SAME_AS_INTERPRETER,
        *(
            src if i in _LOWERED_IN_MAKE_TEST else pytest.param(src, marks=pytest.mark.long)
            for i, src in enumerate(LOWERED)
        ),
    ],
)
def test_kernel_matches_interpreter_on_hand_built_frames(source: str, cache: Path) -> None:
    kernel = build(source, cache)
    interpreter = compile_checker(source)
    firsts = np.ascontiguousarray(HAND_BUILT[::-1])
    expected = interpreter.batch(HAND_BUILT, firsts).tolist()
    assert run_kernel(kernel, HAND_BUILT, firsts) == expected
    assert len(set(expected)) == 2, "the frames should tell True from False"
    checker = compile_checker(source, jit=True)
    assert checker.kernel is not None, checker.jit_reason
    assert checker.batch(HAND_BUILT, firsts).tolist() == expected


def test_one_native_call_per_batch() -> None:
    checker = compile_checker(SAME_AS_INTERPRETER[0], jit=True)
    assert checker.kernel is not None
    calls: list[int] = []
    run = checker.kernel.run

    def counted(frames: np.ndarray, firsts: np.ndarray, out: np.ndarray) -> None:
        calls.append(len(frames))
        run(frames, firsts, out)

    frames = np.repeat(HAND_BUILT, 20, axis=0)
    checker.batch(frames[:1])  # the first batch of a new shape is also audited frame by frame
    checker.kernel = dataclasses.replace(checker.kernel, run=counted)
    out = checker.batch(frames)
    assert calls == [len(frames)]
    assert out.dtype == np.bool_ and out.shape == (len(frames),)
    assert out.tolist() == compile_checker(SAME_AS_INTERPRETER[0]).batch(frames).tolist()
    assert checker.batch(frames[:0]).shape == (0,)


@pytest.mark.parametrize(
    ("body", "returned"),
    [("frame.mean()", "float64"), ("count_color(frame, (0, 0, 0), 0)", "int64")],
)
def test_non_bool_entry_is_refused(body: str, returned: str, cache: Path) -> None:
    source = f"def check(frame):\n    return {body}\n"
    reason = build_kernel(source, cache_dir=cache)
    assert reason == f"the entry returns {returned}, not bool"
    checker = compile_checker(source, jit=True)
    assert checker.kernel is None and "not bool" in checker.jit_reason


@pytest.mark.parametrize("answer", [True, False])
def test_a_constant_answer_is_a_bool_kernel(answer: bool, cache: Path) -> None:
    # numba types `return True` as Literal[bool](True): a bool all the same
    source = f"def check(frame):\n    return {answer}\n"
    kernel = build_kernel(source, cache_dir=cache)
    assert not isinstance(kernel, str), kernel
    checker = compile_checker(source)
    assert checker.attach_kernel(kernel) is None
    frames = np.repeat(HAND_BUILT, 3, axis=0)
    assert checker.batch(frames).tolist() == [answer] * len(frames)


# --- bounds checking ------------------------------------------------------------------------

OUT_OF_RANGE = [
    # the column index is a pixel value: in range on dark frames, far out of range on bright ones
    "def check(frame):\n    i = frame[0, 0, 0]\n    return frame[0, i, 0] > 3\n",
    # a write into an array the checker made
    src(
        """
        import numpy as np


        def check(frame):
            a = np.zeros(8, dtype=np.int64)
            a[frame[0, 0, 0]] = 1
            return a.sum() > 0
        """
    ),
    # a negative index that wraps once and still points before the buffer
    src(
        """
        def check(frame):
            flat = frame.reshape(-1)
            k = frame[0, 0, 0]
            return flat[-flat.size * k - 1] > 0
        """
    ),
]


@pytest.mark.parametrize("source", OUT_OF_RANGE)
def test_out_of_range_index_raises_instead_of_reading_memory(source: str, cache: Path) -> None:
    dark = scene(background=(0, 0, 0))
    bright = scene(background=(200, 200, 200))
    kernel = build(source, cache)
    with pytest.raises(IndexError):
        run_kernel(kernel, bright[None])
    checker = compile_checker(source, jit=True)
    assert checker.kernel is not None, checker.jit_reason  # both paths fail on the same probes
    dark_answer = compile_checker(source).batch(dark[None]).tolist()
    assert checker.batch(dark[None]).tolist() == dark_answer
    # the kernel raises, so the interpreter answers the batch: with the checker's own error
    with pytest.raises(CheckerFailed, match=r"IndexError") as info:
        checker.batch(np.stack([dark, bright]))
    assert "JIT path" not in str(info.value)


# --- np.logical_and/or.reduce of a display ---------------------------------------------------

LOGICAL_REDUCE = src(
    """
    import numpy as np


    def check(frame):
        img = frame.astype(np.int32)
        r, g, b = img[:, :, 0], img[:, :, 1], img[:, :, 2]
        red = np.logical_and.reduce([r > 150, g < 80, b < 80])
        any_hi = np.logical_or.reduce((r > 250, g > 250, b > 250, r + g < 0))
        return int(red.sum()) > 3 and int(np.logical_not(any_hi).sum()) > 10
    """
)


def test_logical_reduce_of_a_display_is_jitted_and_agrees(cache: Path) -> None:
    checker = compile_checker(LOGICAL_REDUCE, jit=True)
    assert checker.kernel is not None, checker.jit_reason
    reference = compile_checker(LOGICAL_REDUCE)
    rng = np.random.default_rng(3)
    frames = np.stack(
        [
            scene(rects=[(2, 2, 6, 6, (200, 10, 10))]),
            scene(background=(255, 255, 255)),
            scene(rects=[(0, 0, 2, 2, (151, 79, 79))]),
            *rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8),
        ]
    )
    assert checker.batch(frames).tolist() == reference.batch(frames).tolist()
    assert any(reference.batch(frames).tolist())


@pytest.mark.parametrize(
    ("expression", "jitted"),
    [
        ("np.logical_and.reduce([frame[:, :, 0] > 1, frame[:-1, :, 1] > 1])", True),  # shapes
        ("np.logical_and.reduce([frame[:, :, 0] > 1, frame[:, :, 1]])", False),  # two dtypes
        ("np.logical_or.reduce([frame[0, 0, 0] > 1, frame[0, 0, 1] > 1])", False),  # scalars
    ],
)
def test_logical_reduce_keeps_numpys_errors(expression: str, jitted: bool) -> None:
    source = f"import numpy as np\n\n\ndef check(frame):\n    return bool({expression}.all())\n"
    if "[0, 0, 0]" in source:
        source = source.replace(".all()", "")
    checker = compile_checker(source, jit=True)
    assert (checker.kernel is not None) is jitted, checker.jit_reason
    frame = scene()[None]
    reference = compile_checker(source)
    try:
        expected: object = reference.batch(frame).tolist()
    except CheckerFailed as err:
        expected = type(err)
    try:
        got: object = checker.batch(frame).tolist()
    except CheckerFailed as err:
        got = type(err)
    assert got == expected
    if jitted:
        assert expected is CheckerFailed  # numpy cannot stack arrays of two shapes


def test_logical_reduce_needs_a_display_of_two_or_more() -> None:
    for arg in ("[frame[:, :, 0] > 1]", "masks"):
        source = (
            "import numpy as np\n\n\ndef check(frame):\n    masks = frame > 1\n"
            f"    return bool(np.logical_and.reduce({arg}).all())\n"
        )
        why = jit_refusal(ast.parse(source))
        assert why is not None and "np.logical_and.reduce" in why


# --- reshape of views (numba reshapes contiguous arrays only) ---------------------------------

RESHAPES = src(
    """
    import numpy as np


    def check(frame):
        tile = frame[2:10, 3:11]
        pixels = tile.reshape(-1, 3).astype(np.int32)
        rows = frame[1:5, 1:5, 0].reshape((2, -1))
        flat = frame[::2, ::3, 1].reshape(-1)
        return int(pixels.sum(axis=1).max()) > 300 and rows.shape[1] == 8 and flat.size > 10
    """
)


def test_reshape_of_a_strided_view_is_jitted_and_agrees(cache: Path) -> None:
    checker = compile_checker(RESHAPES, jit=True)
    assert checker.kernel is not None, checker.jit_reason
    reference = compile_checker(RESHAPES)
    rng = np.random.default_rng(5)
    frames = np.stack(
        [
            scene(),
            scene(rects=[(2, 3, 6, 8, (255, 255, 0))]),
            *rng.integers(0, 256, (4, 32, 32, 3), dtype=np.uint8),
        ]
    )
    assert checker.batch(frames).tolist() == reference.batch(frames).tolist()
    bad = RESHAPES.replace("reshape((2, -1))", "reshape((3, 5))")  # 16 values: numpy raises
    broken = compile_checker(bad, jit=True)
    with pytest.raises(CheckerFailed, match="reshape"):
        broken.batch(frames[:1])


def test_reshape_keeps_numbas_rule_where_the_checker_writes_elements() -> None:
    # a copy and numpy's view can be told apart by writing through one of them
    from sandbox.jit import kernel_source

    writing = RESHAPES.replace("    return", "    pixels[0, 0] = 1\n    return", 1)
    assert "vlmcar_reshape" in kernel_source(RESHAPES)
    assert "vlmcar_reshape" not in kernel_source(writing)


# --- try/except: the kernel runs the path where nothing raises, the interpreter the rest -------

TRY_BBOX = src(
    """
    import numpy as np


    def check(frame):
        try:
            pts = np.nonzero(frame[:, :, 1] > 200)  # unpacked from a name: not fused
            ys, xs = pts[0], pts[1]
            top = ys.min()  # raises ValueError on a frame without green
            return bool(frame[top, xs.max(), 0] > 100)
        except ValueError:
            return True
        else:
            return False
    """
)


def test_try_compiles_to_its_body_and_the_interpreter_runs_the_handler(cache: Path) -> None:
    assert jit_refusal(ast.parse(TRY_BBOX)) is None
    green = scene(rects=[(4, 4, 9, 9, (0, 255, 0))])
    yellow = scene(rects=[(4, 4, 9, 9, (255, 255, 0))])
    plain = scene()
    kernel = build(TRY_BBOX, cache)
    assert run_kernel(kernel, green[None]) == [False]
    with pytest.raises(ValueError):
        run_kernel(kernel, plain[None])  # the kernel has no handler: it raises
    checker = compile_checker(TRY_BBOX, jit=True)
    assert checker.kernel is not None, checker.jit_reason
    reference = compile_checker(TRY_BBOX)
    for batch in (np.stack([green, yellow]), np.stack([green, plain, yellow, plain])):
        assert checker.batch(batch).tolist() == reference.batch(batch).tolist()
    assert checker.batch(plain[None]).tolist() == [True]  # the handler's answer
    assert checker.kernel is not None  # a few raising batches keep the kernel


def test_an_exception_the_handler_does_not_catch_fails_as_in_python(cache: Path) -> None:
    source = TRY_BBOX.replace("except ValueError", "except ZeroDivisionError")
    checker = compile_checker(source, jit=True)
    assert checker.kernel is not None, checker.jit_reason
    with pytest.raises(CheckerFailed, match="ValueError"):
        checker.batch(scene()[None])


def test_a_kernel_that_keeps_raising_is_detached(cache: Path) -> None:
    from sandbox.checker import KERNEL_RAISES

    checker = compile_checker(TRY_BBOX, jit=True)
    assert checker.kernel is not None, checker.jit_reason
    plain = scene()[None]
    for _ in range(KERNEL_RAISES):
        assert checker.batch(plain).tolist() == [True]
    assert checker.kernel is None
    assert checker.jit_reason.startswith("kernel detached: it raised on")
    assert checker.batch(plain).tolist() == [True]


#: A float axis mean the kernel computes only where every value is an integer (then any order of
#: additions is exact); ``frame / 255.0`` never is, so the kernel defers every such batch.
FRACTION_MEAN = (
    "import numpy as np\ndef check(frame, first):\n"
    "    scale = 1.0 if first[0, 0, 0] == 0 else 255.0\n"
    "    return (frame / scale).mean(axis=2).max() > 0.5\n"
)


def test_a_kernel_that_keeps_deferring_is_detached(cache: Path) -> None:
    from sandbox.checker import KERNEL_DEFERS_IN_A_ROW

    checker = compile_checker(FRACTION_MEAN, jit=True)
    reference = compile_checker(FRACTION_MEAN)
    assert checker.kernel is not None, checker.jit_reason
    whole = np.zeros((2, 8, 8, 3), np.uint8)  # first[0, 0, 0] == 0: integers, the kernel answers
    whole[1, 3, 3] = 7
    fraction = whole.copy()
    fraction[:, 0, 0, 0] = 9  # a scale of 255: fractions, every batch deferred
    for _ in range(3):  # deferred batches between answered ones keep the kernel
        for batch in (fraction, fraction, whole):
            expected = reference.batch(batch, batch).tolist()
            assert checker.batch(batch, batch).tolist() == expected
    assert checker.kernel is not None, checker.jit_reason
    for _ in range(KERNEL_DEFERS_IN_A_ROW):
        assert (
            checker.batch(fraction, fraction).tolist()
            == reference.batch(fraction, fraction).tolist()
        )
    assert checker.kernel is None
    assert checker.jit_reason.startswith("kernel detached: it deferred")
    assert checker.batch(whole, whole).tolist() == [False, True]


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("    try:\n        v = 1\n    finally:\n        v = 2\n    return v > 1\n", "finally"),
        (
            "    try:\n        pass\n    except ValueError:\n        v = 2\n    return v > 1\n",
            "'v' is assigned only in an except clause",
        ),
    ],
)
def test_try_forms_a_kernel_cannot_follow_are_refused(body: str, reason: str) -> None:
    why = jit_refusal(ast.parse("def check(frame):\n" + body))
    assert why is not None and reason in why


def test_public_numba_attacks_never_give_a_normal_result() -> None:
    wanted = {"numba-oob-write-loop", "numba-negative-index-wrap"}
    attacks = {a["id"]: a for a in load_attacks() if a["id"] in wanted}
    assert set(attacks) == wanted
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (6, 32, 32, 3), dtype=np.uint8)
    for _, attack in sorted(attacks.items()):
        try:
            checker = compile_checker(attack["code"], jit=True)
        except AuditError:
            continue  # refused before it could run at all
        with pytest.raises(CheckerRuntimeError):
            checker.batch(noise)
        with pytest.raises(CheckerRuntimeError):
            checker.batch(noise, np.ascontiguousarray(noise[::-1]))


def test_interpreter_and_jit_wrap_the_same_overflow(cache: Path) -> None:
    """Both paths wrap 2**62 + 2**62 to INT64_MIN: the kernel is used and answers as the guards do."""
    (attack,) = [a for a in load_attacks() if a["id"] == "evasion-interpreter-vs-jit"]
    kernel = build(attack["code"], cache)
    frames = np.stack([scene(background=(255, 255, 255)), scene(background=(0, 0, 0))])
    assert run_kernel(kernel, frames) == [False, False]  # the wrapped sum is < 0
    checker = compile_checker(attack["code"], jit=True)
    assert checker.kernel is not None, checker.jit_reason
    assert checker.batch(frames).tolist() == compile_checker(attack["code"]).batch(frames).tolist()


# --- checker code never sees numba ------------------------------------------------------------

NUMBA_NAMES = [
    "import numba\n\ndef check(frame):\n    return True\n",
    "from numba import objmode\n\ndef check(frame):\n    return True\n",
    "from numba import njit\n\ndef check(frame):\n    return True\n",
    "def check(frame):\n    return numba.objmode is None\n",
    "def check(frame):\n    with objmode(x='int64'):\n        x = 1\n    return True\n",
    "def check(frame):\n    return objmode is None\n",
    "import numpy as np\n\ndef check(frame):\n    return np.numba is None\n",
    "import numpy as numba\n\ndef check(frame):\n    return numba.njit is None\n",
    "import numpy as numba\n\ndef check(frame):\n    return numba.objmode is None\n",
]


@pytest.mark.parametrize("source", NUMBA_NAMES)
def test_sources_naming_numba_are_rejected_by_the_audit(source: str, cache: Path) -> None:
    assert not audit(source).ok
    with pytest.raises(AuditError):
        compile_checker(source, jit=True)
    assert build_kernel(source, cache_dir=cache) == "the audit rejects this source"


def test_numpy_aliased_as_numba_is_only_numpy() -> None:
    """A checker may alias numpy as ``numba``: it still gets the numpy facade, never numba."""
    source = "import numpy as numba\n\ndef check(frame):\n    return numba.sum(frame) > 0\n"
    assert audit(source).ok
    frames = np.stack([scene(), scene(background=(1, 2, 3))])
    checker = compile_checker(source, jit=True)
    assert checker.batch(frames).tolist() == [False, True]
    assert compile_checker(source).batch(frames).tolist() == [False, True]


# --- native code has no budgets ---------------------------------------------------------------

_ATTACH_SCRIPT = """
from sandbox import Budgets, compile_checker
source = "def check(frame):\\n    n = 1\\n    while n > 0:\\n        n = n * 1\\n    return n > 3\\n"
checker = compile_checker(source, budgets=Budgets(max_iterations=1000), jit=True)
print(checker.kernel is None, checker.jit_reason)
"""


@pytest.mark.slow
def test_attach_does_not_run_a_kernel_past_the_interpreters_budget(tmp_path: Path) -> None:
    env = {**os.environ, "VLMCAR_CACHE_DIR": str(tmp_path)}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", _ATTACH_SCRIPT],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=15,
            check=True,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("compile_checker(jit=True) hung running the kernel of an endless loop")
    assert proc.stdout.startswith("True")


def test_unwritable_cache_is_a_reason_not_a_crash(tmp_path: Path) -> None:
    from sandbox.jit import build_kernel

    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    reason = build_kernel(
        "def check(frame):\n    return frame.mean() > 3\n", cache_dir=blocker / "jit"
    )
    assert isinstance(reason, str) and "cannot write the kernel module" in reason


# --- agreement where probe frames cannot stand in for real ones -------------------------------

# Numba gives a variable one type: float in one branch and a large int in the other become
# float64 and lose the low bits, where Python keeps the int. Gated on the frame's size, the
# start-up probe (48x48 frames) never reaches it. The typed-IR check now keeps such a checker off
# the JIT (sandbox.jit._widened_ints); the audit tests below pair its interpreter with a kernel
# that answers as the widened one did (False on every frame), standing in for any divergence the
# JIT does not prevent.
SHAPE_GATED = (
    "def check(frame):\n"
    "    p = frame[0, 0, 0] + 1\n"
    "    v = 0.5\n"
    "    if frame.shape[0] != 48:\n"
    "        v = p * 36028797018963968 + 1\n"
    "    return v - p * 36028797018963968 == 1\n"
)
# ... and gated on content: only frames whose corner pixel is 77 reach it.
CONTENT_GATED = SHAPE_GATED.replace("frame.shape[0] != 48", "frame[0, 0, 0] == 77")
# what the widened kernel answered on every frame
WIDENED_KERNEL = "def check(frame):\n    return frame.shape[0] < 0\n"


def test_a_kernel_that_disagrees_on_a_new_frame_shape_is_detached(cache: Path) -> None:
    from sandbox.checker import compile_checker

    checker = compile_checker(SHAPE_GATED)
    assert checker.attach_kernel(build(WIDENED_KERNEL, cache)) is None  # the probe agrees
    frames = readonly_batch(np.full((2, 64, 64, 3), 20, np.uint8))
    assert run_kernel(checker.kernel, frames) == [False, False]  # what the kernel would say
    assert checker.batch_immutable(frames, frames).tolist() == [True, True]  # the interpreter
    assert checker.kernel is None and "kernel detached" in checker.jit_reason
    assert "64x64" in checker.jit_reason


def test_real_frames_are_audited_on_the_interpreter_every_so_often(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sandbox.checker as checker_module

    monkeypatch.setattr(checker_module, "AUDIT_EVERY", 4)
    checker = checker_module.compile_checker(CONTENT_GATED)
    assert checker.attach_kernel(build(WIDENED_KERNEL, cache)) is None
    plain = readonly_batch(np.full((3, 48, 48, 3), 20, np.uint8))
    for _ in range(3):  # batches 1-3: not audited; the kernel answers
        assert checker.batch_immutable(plain, plain).tolist() == [False] * 3
    marked = np.full((3, 48, 48, 3), 20, np.uint8)
    marked[:, 0, 0, 0] = 77  # every frame: whichever the audit picks reaches the divergent line
    marked = readonly_batch(marked)
    assert run_kernel(checker.kernel, marked) == [False] * 3  # what the kernel would say
    assert checker.batch_immutable(marked, marked).tolist() == [True] * 3  # the interpreter
    assert checker.kernel is None and "batch 4" in checker.jit_reason


def test_a_widening_checker_stays_on_the_interpreter_in_the_sandbox() -> None:
    from sandbox import Sandbox

    with Sandbox([SHAPE_GATED], isolation="process", spare=False) as box:
        mode, why = box.jit_modes[0]
        assert mode == "interpreter" and "computes it in float64" in why, why
        result = box.evaluate(np.full((2, 64, 64, 3), 20, np.uint8))
        assert result.ok and result.results.tolist() == [[True, True]]  # the int stays exact


# A scalar stored through a slice: numpy refuses 300 for a uint8 array (Numba alone wraps it to
# 44; the kernel's store goes through the checked twin, so both raise).
SLICE_STORE = (
    "def check(frame):\n    a = frame[0, :4, 0].copy()\n    if frame.shape[0] != 48:\n"
    "        a[1:3] = 300\n    return a[1] == 44\n"
)


def test_the_sandbox_answers_what_the_interpreter_answers_on_real_frames() -> None:
    from sandbox import Sandbox
    from sandbox.checker import compile_checker

    with pytest.raises(Exception, match="out of bounds for uint8"):
        compile_checker(SLICE_STORE)(np.full((64, 64, 3), 20, np.uint8))
    with Sandbox([SLICE_STORE], isolation="process", spare=False) as box:
        assert box.jit_modes[0][0] == "jit"  # attached at start: the 48x48 probe agreed
        result = box.evaluate(np.full((2, 64, 64, 3), 20, np.uint8))
        # both paths raise as numpy does on the first 64x64 batch (audited on the interpreter)
        assert result.statuses == ("error",) and "out of bounds" in result.details[0]


def test_after_a_detach_the_batch_gets_the_interpreters_answers(cache: Path) -> None:
    from sandbox.checker import compile_checker

    # A kernel from other source stands for any divergence: it agrees on the 48x48 probe
    # frames (both say True) and not on 64x64 frames.
    checker = compile_checker("def check(frame):\n    return frame.shape[0] == 48\n")
    other = "def check(frame):\n    return frame.shape[0] > 0\n"
    assert checker.attach_kernel(build(other, cache)) is None
    frames = readonly_batch(np.zeros((3, 64, 64, 3), np.uint8))
    assert checker.batch_immutable(frames, frames).tolist() == [False, False, False]
    assert checker.jit_reason.startswith("kernel detached: JIT and interpreter disagree")


@pytest.mark.parametrize(
    "expression",
    ["m - m", "-m", "m - True", "True - m", "m - (frame[:, :, 1] > 10)"],
)
def test_boolean_array_subtraction_fails_on_both_paths(expression: str, cache: Path) -> None:
    source = f"def check(frame):\n    m = frame[:, :, 0] > 10\n    d = {expression}\n    return d.sum() == 0\n"
    kernel = build(source, cache)
    frames = readonly_batch(np.full((1, 8, 8, 3), 20, np.uint8))
    with pytest.raises(TypeError, match="boolean"):
        kernel.run(frames, frames, np.zeros(1, np.bool_))
    with pytest.raises(CheckerFailed, match="TypeError"):
        compile_checker(source).batch(frames)
    # and what numpy allows stays allowed
    ok = "def check(frame):\n    m = frame[:, :, 0] > 10\n    return (m - 1).sum() < 0 and -frame.sum() < 0\n"
    assert run_kernel(build(ok, cache), frames) == compile_checker(ok).batch(frames).tolist()


def test_tuples_built_from_tuples_are_sized_before_numba_sees_them() -> None:
    # 2**24 leaves in 24 lines: cheap for Python, a minute of Numba typing (red-team round 5).
    lines = ["    t0 = (frame, frame)"] + [f"    t{i} = (t{i - 1}, t{i - 1})" for i in range(1, 24)]
    source = "def check(frame):\n" + "\n".join(lines) + "\n    return frame.mean() > 3\n"
    why = jit_refusal(ast.parse(source))
    assert why is not None and "tuple of more than 1,024 values" in why
    small = (
        "def check(frame):\n    a = (1, 2)\n    b = (a, a)\n    return frame[0, 0, 0] > b[1][0]\n"
    )
    assert jit_refusal(ast.parse(small)) is None


@pytest.mark.parametrize(
    ("store", "error"),
    [
        ("g[0] = int(frame[0, 0, 0]) + 300", OverflowError),
        ("g[0] = -1", OverflowError),
        ("g[1] = np.nan", ValueError),
        ("g[2] = np.inf", OverflowError),
    ],
)
def test_element_stores_numpy_refuses_fail_on_the_kernel_too(
    store: str, error: type[Exception], cache: Path
) -> None:
    source = (
        "import numpy as np\n\ndef check(frame):\n    g = np.zeros(4, np.uint8)\n"
        f"    {store}\n    return g.sum() > 0\n"
    )
    frames = readonly_batch(np.full((1, 8, 8, 3), 20, np.uint8))
    with pytest.raises(CheckerFailed, match=error.__name__):
        compile_checker(source).batch(frames)
    with pytest.raises(error):
        build(source, cache).run(frames, frames, np.zeros(1, np.bool_))
    fine = source.replace(store, "g[3] = 7.9\n    g[0] = 255")  # truncation and the top: allowed
    assert run_kernel(build(fine, cache), frames) == compile_checker(fine).batch(frames).tolist()


# --- red-team round on the lowering (tests/sandbox/data/jit_divergences) ----------------------

DIVERGENCES = sorted((ROOT / "tests" / "sandbox" / "data" / "jit_divergences").glob("case_*.py"))


def _trigger_frames() -> np.ndarray:
    """The round's frames: random, black, white, and three whose pixel [0, 0] is the trigger."""
    frames = np.random.default_rng(0).integers(0, 256, (6, 48, 48, 3), dtype=np.uint8)
    frames[1], frames[2] = 0, 255
    frames[3:, 0, 0] = (37, 38, 39)  # every case diverged only on frames with this pixel
    return frames


@pytest.mark.long  # 20 cold kernel builds; the fixes' own unit tests run in make test
@pytest.mark.parametrize("path", DIVERGENCES, ids=[p.stem for p in DIVERGENCES])
def test_red_team_divergences_agree_or_stay_on_the_interpreter(path: Path) -> None:
    # A helper wrote these against the lowering: each gave a kernel that passed the probe and
    # answered differently from the interpreter on the trigger frames. Now each is refused (a
    # reason) or its kernel answers as the interpreter does, failures included.
    source = path.read_text("utf-8")
    assert audit(source).ok
    jit, interpreter = compile_checker(source, jit=True), compile_checker(source)
    if jit.kernel is None:
        assert jit.jit_reason, path.name
        return
    frames = _trigger_frames()
    firsts = np.ascontiguousarray(frames[::-1])

    def answer(checker: Any, i: int) -> object:
        try:
            return bool(checker.batch(frames[i : i + 1], firsts[i : i + 1])[0])
        except CheckerRuntimeError:
            return "error"

    for i in range(len(frames)):
        assert answer(jit, i) == answer(interpreter, i), (path.name, i)


# --- red-team round on try/except and scalar types (tests/sandbox/data/try_divergences) --------

TRY_DIVERGENCES = sorted(
    (ROOT / "tests" / "sandbox" / "data" / "try_divergences").glob("[0-9][0-9]*_*.py")
)


@pytest.mark.parametrize("path", TRY_DIVERGENCES, ids=[p.stem for p in TRY_DIVERGENCES])
def test_try_red_team_cases_are_refused_or_agree(path: Path) -> None:
    # Each answered differently from the interpreter on a frame whose pixel [0, 0] is 37: a name
    # bound only by a dropped handler (`except E as NAME`, a def there), or np.<int type>() of a
    # float (numpy raises out of range and on NaN; a native cast does not). Now the audit or
    # the JIT refuses each, or both paths answer alike.
    source = path.read_text("utf-8")
    if not audit(source).ok:
        return  # `except ... as np`: a provided name rebound (A505)
    jit, interpreter = compile_checker(source, jit=True), compile_checker(source)
    frames = np.zeros((3, 3, 3, 3), np.uint8)
    frames[1, 0, 0] = 37
    frames[2, 0, 0, 0] = 37

    def answer(checker: Any, i: int) -> object:
        try:
            return bool(checker.batch(frames[i : i + 1])[0])
        except CheckerRuntimeError:
            return "error"

    for i in range(len(frames)):
        assert answer(jit, i) == answer(interpreter, i), (path.name, i, jit.jit_reason)


def test_an_unsafe_cast_numba_warns_about_refuses_the_kernel(cache: Path) -> None:
    """The catch-all: a ``NumbaTypeSafetyWarning`` while compiling (here a count stored into a
    dict numba typed as bool-valued) refuses the kernel whatever the other checks say."""
    source = (
        "def check(frame):\n    d = {}\n    d[0] = False\n    for x in range(frame.shape[1]):\n"
        "        d[0] = d[0] + int(frame[0, x, 0] > 100)\n    return d[0] > 1\n"
    )
    reason = build_kernel(source, cache_dir=cache)
    assert isinstance(reason, str) and "numba converts a value unsafely" in reason, reason
    assert build_kernel(source, cache_dir=cache) == reason  # the cached verdict says the same


def test_the_typed_ir_check_refuses_dict_conversions_on_its_own() -> None:
    import warnings

    import numba
    from numba.core import ir, types

    from sandbox.jit import _container_problem

    def read_py(k: Any) -> Any:
        d: Any = {}
        d[True] = 5
        return d[k]

    def fine_py(k: Any) -> Any:
        d: Any = {}
        d[1] = 5
        return d[k]

    read: Any = numba.njit(read_py)
    fine: Any = numba.njit(fine_py)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        read(3)
        fine(1)
    for function, refused in ((read, True), (fine, False)):
        annotation = next(iter(function.overloads.values())).type_annotation
        assert (_container_problem(annotation, ir, types) is not None) is refused


#: Calls the vision wrappers refuse for their argument's type (a ValueError on the interpreter
#: path) that a kernel would have cast or read as they are (red-team round 14).
VISION_TYPE_REFUSALS = [
    "color_mask(frame, (255.0, 0, 0), 0).any()",
    "color_mask(frame, (True, False, True), 0).any()",
    "count_color(frame, (255, 0, 0), 5.0) > 0",
    "count_color(frame, (255, 0, 0), True) > 0",
    "changed_fraction(frame, frame, np.nan) > 0.5",
    "color_mask(frame, frame[0, 0] / 2, 3).any()",
    "pixel_count(frame[..., 0]) > 0",
    "region_mean(frame, 0.5, 0, 2, 2)[0] > 0",
    "region_change(frame, frame, True, 0, 2, 2) > 0",
    "largest_component(frame[..., 0] > 3, 8.0) > 0",
    "centroid((frame[..., 0] > 3).astype(np.float64))[0] > 0",
    "count_color(frame.astype(np.int16), (1, 2, 3), 3) > 0",
]


@pytest.mark.parametrize("call", VISION_TYPE_REFUSALS)
def test_vision_arguments_of_refused_types_refuse_the_kernel(call: str, cache: Path) -> None:
    source = f"import numpy as np\n\n\ndef check(frame):\n    return {call}\n"
    reason = build_kernel(source, cache_dir=cache)
    assert isinstance(reason, str) and "vision helper's" in reason, reason
    frames = np.zeros((2, 4, 4, 3), np.uint8)
    with pytest.raises(CheckerRuntimeError):  # and the interpreter raises, as the helper does
        compile_checker(source, jit=True).batch(frames)


def test_the_recast_name_avoids_import_aliases(cache: Path) -> None:
    source = (
        "import numpy as img_cast\n\n\ndef area(img):\n    img = img.astype(img_cast.int16)\n"
        "    return int(img_cast.count_nonzero(img[..., 0] > 3))\n\n\n"
        "def check(frame):\n    return area(frame) > 2\n"
    )
    assert not isinstance(build_kernel(source, cache_dir=cache), str)
    assert "img_cast_ =" in kernel_source(source) or "_vlmcar_fz" in kernel_source(source)


# --- red-team round 15: signed zeros, NaN, unsigned casts, empty shapes -----------------------

#: Float arguments numba treats apart from numpy (signed zeros, NaN, an out-of-range cast to
#: uint32/uint64): the kernel is refused and the interpreter answers.
SIGNED_ZERO_REFUSALS = [
    "np.maximum(x, 0.0)[0, 0] == 0",
    "np.minimum(x, y)[0, 0] < 1",
    "np.sign(x)[0, 0] == 0",
    "np.cumsum(x)[0] == 0",
    "x.cumsum()[0] == 0",
    "np.median(x) > 1",
    "np.clip(x, 0.0, 1.0)[0, 0] == 0",
    "int(x.astype(np.uint32)[0, 0]) == 4294967295",
    "int(x.astype(np.uint64)[0, 0]) > 0",
]


@pytest.mark.parametrize("expr", SIGNED_ZERO_REFUSALS)
def test_float_arguments_numba_treats_apart_refuse_the_kernel(expr: str, cache: Path) -> None:
    source = (
        "import numpy as np\n\n\ndef check(frame):\n"
        "    x = (frame[..., 0].astype(np.float64) - 37.0) * -1.0\n"
        "    y = frame[..., 1].astype(np.float64) * 0.0\n"
        f"    return bool({expr})\n"
    )
    reason = build_kernel(source, cache_dir=cache)
    assert isinstance(reason, str) and "stays on the interpreter" in reason, reason


@pytest.mark.parametrize(
    "expr",
    [
        "np.maximum(frame[..., 0], frame[..., 1]).sum() > 10",
        "np.sign(frame[..., 0].astype(np.int16) - 100)[0, 0] > 0",
        "int(frame.astype(np.uint32).sum()) > 10",
        "np.clip(frame[..., 0].astype(np.int32) - 100, 0, 50).max() > 10",
    ],
)
def test_the_same_calls_of_integers_stay_on_the_kernel(expr: str, cache: Path) -> None:
    source = f"import numpy as np\n\n\ndef check(frame):\n    return bool({expr})\n"
    kernel = build(source, cache)
    assert run_kernel(kernel, HAND_BUILT) == compile_checker(source).batch(HAND_BUILT).tolist()


def test_a_float_max_between_zeros_of_both_signs_is_the_interpreters(cache: Path) -> None:
    """numpy's max of ``[-0.0, 0.0]`` is 0.0 and of ``[0.0, -0.0]`` -0.0: the kernel defers."""
    source = src(
        """
        import math
        import numpy as np


        def check(frame):
            z = (frame[..., 1].astype(np.float64) - 0.5) * 0.0  # -0.0 where green is 0
            return math.copysign(1.0, float(z.max())) > 0 and math.copysign(1.0, float(np.min(z))) > 0
        """
    )
    frames = np.zeros((4, 4, 4, 3), np.uint8)
    frames[0, :2, :, 1] = 9  # +0.0 first, then -0.0
    frames[1, 2:, :, 1] = 9  # -0.0 first, then +0.0
    frames[2, :, :, 1] = 9  # +0.0 only
    kernel = build(source, cache)
    expected = compile_checker(source).batch(frames).tolist()
    with pytest.raises(JitDeferred):
        run_kernel(kernel, frames[:1])
    assert run_kernel(kernel, frames[2:]) == expected[2:]
    assert compile_checker(source, jit=True).batch(frames).tolist() == expected


def test_a_shape_without_elements_is_no_allocation(cache: Path) -> None:
    source = (
        "import numpy as np\n\n\ndef check(frame):\n"
        "    empty = np.ones((frame.shape[0] * 100000000, 0))\n"
        "    return empty.size == 0 and frame[0, 0, 0] > 3\n"
    )
    kernel = build(source, cache)
    assert run_kernel(kernel, HAND_BUILT) == compile_checker(source).batch(HAND_BUILT).tolist()


def test_maximum_of_two_numbers_keeps_numpys_choice_of_zero(cache: Path) -> None:
    source = src(
        """
        import math
        import numpy as np


        def check(frame):
            neg = -0.0 * float(frame[0, 0, 1] + 1)  # -0.0
            a = math.copysign(1.0, float(np.maximum(neg, 0.0)))  # numpy: 0.0
            b = math.copysign(1.0, float(np.minimum(0.0, neg)))  # numpy: -0.0
            c = np.maximum(float(frame[0, 0, 0]), np.nan)
            return a > 0 and b < 0 and math.isnan(c) and frame[1, 1, 0] > 3
        """
    )
    kernel = build(source, cache)
    expected = compile_checker(source).batch(HAND_BUILT).tolist()
    assert run_kernel(kernel, HAND_BUILT) == expected and any(expected)


@pytest.mark.parametrize(
    "loop",
    [
        "for t in reversed(range(0, 5, s)):",
        "for t in range(0, 5, s):",
        "for t in reversed(range(s, 5)):",
        "for t in range(s):",
    ],
)
def test_a_range_argument_that_may_be_a_float_refuses_the_kernel(loop: str, cache: Path) -> None:
    """The interpreter's range takes ints only; numba would iterate in floats (round 16)."""
    source = (
        "def check(frame):\n"
        "    s = 1.0 if frame[0, 0, 0] == 77 else 1\n"
        "    n = 0\n"
        f"    {loop}\n"
        "        n += t\n"
        "    return n > 3\n"
    )
    reason = build_kernel(source, cache_dir=cache)
    assert isinstance(reason, str) and "range() argument" in reason, reason


def test_a_fused_nonzero_minimum_of_no_pixel_defers_to_the_handler(cache: Path) -> None:
    """``ys.min()`` of ``np.nonzero`` fused: no true pixel defers, and the interpreter's handler
    answers as Python's would."""
    source = TRY_BBOX.replace(
        "pts = np.nonzero(frame[:, :, 1] > 200)  # unpacked from a name: not fused\n"
        "        ys, xs = pts[0], pts[1]",
        "ys, xs = np.nonzero(frame[:, :, 1] > 200)",
    )
    assert "nonzero" not in kernel_source(source)
    kernel = build(source, cache)
    green, plain = scene(rects=[(4, 4, 9, 9, (0, 255, 0))]), scene()
    assert run_kernel(kernel, green[None]) == [False]
    with pytest.raises(JitDeferred):
        run_kernel(kernel, plain[None])
    checker = compile_checker(source, jit=True)
    assert checker.batch(np.stack([green, plain])).tolist() == [False, True]
