"""Differential fuzzing over *generated programs*: the JIT and the interpreter agree, or no kernel.

Hypothesis writes small checkers in the JIT subset from a grammar of the numeric idioms where the
two paths could part ways (64-bit extremes, unsigned pixels, wrap-around, floor division and modulo
of negatives, shifts, ``int()``/``round()`` of floats, NaN and infinity, array casts and
reductions), compiles each for both paths and compares them on adversarial frames (all 0, all
255, ramps of every value, checkerboards, noise). Each frame must give the same answer on both
paths, or fail on both in the same way (an ordinary error on both, or the allocation budget on
both: the interpreter's byte budget is the kernel's ``MemoryError``). A program the JIT subset
refuses is fine (it stays on the interpreter); a program that gets a kernel and answers differently
anywhere is a bug. No difference is tolerated.
"""

from __future__ import annotations

import io
import sys
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sandbox import Checker, CheckerRuntimeError, audit, compile_checker
from sandbox.errors import JitDeferred
from sandbox.frames import readonly_batch
from sandbox.jit import Kernel, build_kernel

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT_LITERALS = (
    0,
    1,
    -1,
    2,
    3,
    7,
    -7,
    255,
    256,
    -256,
    2**31,
    2**62,
    INT64_MAX,
    INT64_MIN + 1,
    10**18,
)
FLOAT_LITERALS = ("0.5", "-0.0", "2.5", "-2.5", "1e300", "1e-300", "3.0000000001", "0.1")


def adversarial_frames(size: int = 8) -> np.ndarray:
    """All 0, all 255, a ramp of all 256 values, checkerboards of the extremes, noise."""
    rng = np.random.default_rng(7)
    frames = [np.zeros((size, size, 3), np.uint8), np.full((size, size, 3), 255, np.uint8)]
    ramp = np.arange(size * size * 3, dtype=np.int64).reshape(size, size, 3) * 37 % 256
    frames.append(ramp.astype(np.uint8))
    board = (np.indices((size, size)).sum(axis=0) % 2 * 255).astype(np.uint8)
    frames.append(np.repeat(board[:, :, None], 3, axis=2))
    frames.append(255 - frames[-1])
    for _ in range(3):
        frames.append(rng.integers(0, 256, (size, size, 3), dtype=np.uint8))
    single = np.zeros((size, size, 3), np.uint8)
    single[size - 1, size - 1] = (255, 1, 128)
    frames.append(single)
    return np.stack(frames)


FRAMES = adversarial_frames()
SIZE = FRAMES.shape[1]


@st.composite
def pixel(draw: st.DrawFn) -> str:
    y, x = draw(st.integers(-SIZE, SIZE - 1)), draw(st.integers(-SIZE, SIZE - 1))
    return f"frame[{y}, {x}, {draw(st.integers(0, 2))}]"


def ints(depth: int = 2, *, names: bool = True) -> st.SearchStrategy[str]:
    atoms = st.one_of(
        pixel(),
        st.sampled_from(INT_LITERALS).map(lambda v: f"({v})"),
        st.sampled_from(["a", "len(frame)", "frame.shape[1]"] if names else ["len(frame)"]),
    )
    if depth == 0:
        return atoms
    sub = ints(depth - 1, names=names)
    fl = floats(depth - 1, names=names)
    arr = arrays(depth - 1)
    return st.one_of(
        atoms,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "//", "%", "&", "|", "^"]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(sub, st.sampled_from(["<<", ">>"]), st.integers(0, 63)).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(sub, st.integers(0, 5)).map(lambda t: f"({t[0]} ** {t[1]})"),
        sub.map(lambda s: f"(-{s})"),
        sub.map(lambda s: f"abs({s})"),
        sub.map(lambda s: f"(~{s})"),
        st.tuples(sub, sub).map(lambda t: f"min({t[0]}, {t[1]})"),
        st.tuples(sub, sub).map(lambda t: f"max({t[0]}, {t[1]})"),
        fl.map(lambda s: f"int({s})"),
        fl.map(lambda s: f"round({s})"),
        arr.map(lambda s: f"int({s}.sum())"),
        arr.map(lambda s: f"int({s}.max())"),
        arr.map(lambda s: f"int({s}.min())"),
        arr.map(lambda s: f"int(np.count_nonzero({s}))"),
        arr.map(lambda s: f"int({s}.argmax())"),
    )


def floats(depth: int = 2, *, names: bool = True) -> st.SearchStrategy[str]:
    named = ["b"] if names else []
    atoms = st.one_of(
        st.sampled_from(FLOAT_LITERALS).map(lambda v: f"({v})"),
        st.sampled_from([*named, "math.inf", "(-math.inf)", "math.nan", "math.pi"]),
    )
    if depth == 0:
        return atoms
    sub = floats(depth - 1, names=names)
    it = ints(depth - 1, names=names)
    arr = arrays(depth - 1)
    return st.one_of(
        atoms,
        st.tuples(sub, st.sampled_from(["+", "-", "*", "/", "//", "%"]), sub).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(it, st.sampled_from(["/"]), it).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        it.map(lambda s: f"float({s})"),
        st.tuples(
            st.sampled_from(["sqrt", "log", "log2", "exp", "cos", "sin", "atan", "fabs"]), sub
        ).map(lambda t: f"math.{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["hypot", "atan2", "copysign"]), sub, sub).map(
            lambda t: f"math.{t[0]}({t[1]}, {t[2]})"
        ),
        st.tuples(st.sampled_from(["floor", "ceil", "trunc"]), sub).map(
            lambda t: f"float(math.{t[0]}({t[1]}))"
        ),
        st.tuples(sub, st.sampled_from(["0.5", "2.0", "2"])).map(lambda t: f"({t[0]} ** {t[1]})"),
        arr.map(lambda s: f"float({s}.mean())"),
        arr.map(lambda s: f"float({s}.astype(np.float64).sum())"),
        arr.map(lambda s: f"float({s}.std())"),
        arr.map(lambda s: f"float({s}.max())"),
        arr.map(lambda s: f"float(np.median({s}))"),
        arr.map(lambda s: f"float({s}.prod())"),
        arr.map(lambda s: f"float(np.sum({s}))"),
    )


def arrays(depth: int = 1) -> st.SearchStrategy[str]:
    channel = st.integers(0, 2).map(lambda c: f"frame[..., {c}]")
    window = st.tuples(st.integers(0, SIZE - 1), st.integers(1, SIZE), st.integers(0, 2)).map(
        lambda t: f"frame[{t[0]}:{t[1]}, :, {t[2]}]"
    )
    atoms = st.one_of(channel, window, st.just("frame"))
    if depth == 0:
        return atoms
    sub = arrays(depth - 1)
    return st.one_of(
        atoms,
        st.tuples(sub, st.sampled_from(["np.int64", "np.int16", "np.uint8", "np.float64"])).map(
            lambda t: f"{t[0]}.astype({t[1]})"
        ),
        st.tuples(sub, st.sampled_from(["+", "-", "*", "//"]), st.sampled_from(INT_LITERALS)).map(
            lambda t: f"({t[0]} {t[1]} ({t[2]}))"
        ),
        st.tuples(channel, st.sampled_from(["+", "-", "*"]), channel).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        st.tuples(sub, st.sampled_from(["* 0.1", "/ 7.0", "/ 0.0"])).map(
            lambda t: f"({t[0]}.astype(np.float64) {t[1]})"
        ),
        st.tuples(sub, st.sampled_from([">", "<", "==", ">="]), st.integers(0, 255)).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        sub.map(lambda s: f"np.abs({s})"),
        st.tuples(sub, st.integers(0, 100), st.integers(100, 300)).map(
            lambda t: f"np.clip({t[0]}, {t[1]}, {t[2]})"
        ),
    )


@st.composite
def programs(draw: st.DrawFn) -> str:
    a = draw(ints(1, names=False))
    b = draw(floats(1, names=False))
    left, right = draw(ints(2)), draw(ints(2))
    fleft = draw(floats(2))
    op = draw(st.sampled_from(["<", "<=", "==", "!=", ">", ">="]))
    fop = draw(st.sampled_from(["<", "==", ">", "!="]))
    joiner = draw(st.sampled_from(["and", "or"]))
    return (
        "import math\nimport numpy as np\n\n"
        "def check(frame):\n"
        f"    a = {a}\n"
        f"    b = {b}\n"
        f"    return ({left} {op} {right}) {joiner} ({fleft} {fop} b)\n"
    )


#: How a failure shows on each path: the interpreter's byte budgets are the kernel's MemoryError.
FAILURE_KIND = {"error": "error", "budget": "memory", "memory": "memory"}


def interpreter_answers(source: str) -> list[object]:
    return checker_answers(compile_checker(source))


def checker_answers(checker: Checker) -> list[object]:
    ro = readonly_batch(FRAMES)
    out: list[object] = []
    for i in range(len(FRAMES)):
        try:
            out.append(bool(checker.batch_immutable(ro[i : i + 1], ro[i : i + 1])[0]))
        except CheckerRuntimeError as err:
            out.append(f"fails ({FAILURE_KIND.get(err.status, err.status)})")
    return out


def kernel_answers(kernel: Kernel) -> list[object]:
    ro = readonly_batch(FRAMES)
    out: list[object] = []
    for i in range(len(FRAMES)):
        buf = np.zeros(1, np.bool_)
        try:
            kernel.run(ro[i : i + 1], ro[i : i + 1], buf)
            out.append(bool(buf[0]))
        except JitDeferred:
            out.append(DEFERRED)
        except MemoryError:
            out.append("fails (memory)")
        except Exception:
            out.append("fails (error)")
    return out


#: The kernel handed the frame to the interpreter (an empty or inexact mean): what the engine
#: does then is the interpreter's answer, so there is nothing to compare on that frame.
DEFERRED = "deferred to the interpreter"


def differences(expected: list[object], got: list[object]) -> list[tuple[int, object, object]]:
    pairs = enumerate(zip(expected, got, strict=True))
    return [(i, e, g) for i, (e, g) in pairs if e != g and g != DEFERRED]


def _agree_on_both_paths(source: str, tmp_path_factory: pytest.TempPathFactory) -> None:
    assume(audit(source).ok)  # e.g. `pixel < 0` is refused (K602): it never runs on either path
    kernel = build_kernel(source, cache_dir=tmp_path_factory.getbasetemp() / "jit")
    if not isinstance(kernel, Kernel):
        return  # outside the subset or untypable: the checker stays on the interpreter
    diffs = differences(interpreter_answers(source), kernel_answers(kernel))
    assert not diffs, f"JIT and interpreter disagree on frames {diffs}:\n{source}"


_PROGRAM_SETTINGS = {
    "deadline": None,
    "database": None,
    "derandomize": True,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
}


@pytest.mark.slow
@settings(max_examples=10, **_PROGRAM_SETTINGS)  # type: ignore[arg-type]
@given(source=programs())
def test_generated_programs_agree_on_both_paths(
    source: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Each example compiles a kernel (~1 s); the agreement cases below pin the classes found."""
    _agree_on_both_paths(source, tmp_path_factory)


@pytest.mark.long
@settings(max_examples=60, **_PROGRAM_SETTINGS)  # type: ignore[arg-type]
@given(source=programs())
def test_more_generated_programs_agree_on_both_paths(
    source: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same property over more programs (``make test-long``)."""
    _agree_on_both_paths(source, tmp_path_factory)


# Each case was a disagreement between the two paths (found by the fuzzer above or listed by the
# second red-team round). "kernel": it must get a kernel that answers exactly as the interpreter on
# every adversarial frame (and pass the probe); "interpreter": the JIT subset must refuse it.
AGREEMENT_CASES = {
    "uint8 + uint8 inside a comparison wraps (no array expression)": (
        "def check(frame):\n    r = frame[:, :, 0]\n    m = r < r + r\n    return bool(m[1, 2])\n",
        "kernel",
    ),
    "uint8 * uint8 - uint8 inside a comparison wraps": (
        "def check(frame):\n    r, g = frame[:, :, 0], frame[:, :, 1]\n"
        "    m = (r * g - r) > g\n    return bool(m[0, 3]) or bool(m[2, 1])\n",
        "kernel",
    ),
    "float max/min along an axis (saturation)": (
        "def check(frame):\n    img = frame.astype(float) / 255.0\n"
        "    mx = img.max(axis=2)\n    mn = img.min(axis=2)\n"
        "    sat = (mx - mn) / (mx + 1e-6)\n    return bool(sat[1, 1] > 0.5)\n",
        "kernel",
    ),
    "float max along an axis between zeros of both signs": (
        "import numpy as np\ndef check(frame):\n    img = -(frame.astype(float) - frame[0, 0, 0])\n"
        "    mx = np.max(img, axis=2)\n    return bool(np.arctan2(mx[0, 0], -1.0) < 0)\n",
        "kernel",
    ),
    "float min along axis 0 over NaN": (
        "import numpy as np\ndef check(frame):\n    img = frame.astype(float) / frame.astype(float)\n"
        "    return bool(np.isnan(img.min(axis=0)[0, 0]))\n",
        "kernel",
    ),
    "np.ptp of uint8, int16 and float means": (
        "import numpy as np\ndef check(frame):\n    d = frame[:, :, 0].astype(np.int16) - frame[:, :, 1]\n"
        "    m = frame.reshape(-1, 3).mean(axis=0)\n"
        "    return np.ptp(frame[:, :, 2]) > 100 and np.ptp(d) > 300 or np.ptp(m) < 20.5\n",
        "kernel",
    ),
    "np.unique with return_counts of colours and of values": (
        "import numpy as np\ndef check(frame):\n"
        "    colors, counts = np.unique(frame.reshape(-1, 3), axis=0, return_counts=True)\n"
        "    v, c = np.unique(frame[:, :, 0] // 64, return_counts=True)\n"
        "    top = colors[np.argmax(counts)]\n"
        "    return bool(top[0] > 100) or (c[0] > 9 and v[-1] == 3 and len(colors) > 4)\n",
        "kernel",
    ),
    "np.unique with return_inverse": (
        "import numpy as np\ndef check(frame):\n"
        "    v, inv = np.unique(frame[:, :, 0], return_inverse=True)\n    return bool(inv[0, 0] > 2)\n",
        "interpreter",
    ),
    "np.ptp of int8 and int16 arrays wraps in their dtype": (
        "import numpy as np\ndef check(frame):\n    r = frame[:, :, 0].astype(np.int8)\n"
        "    x = (frame.astype(np.int64) * 200 - 25000).astype(np.int16)\n"
        "    return np.ptp(r) > 200 or np.ptp(x) < 0\n",
        "kernel",
    ),
    "MIN // -1 and MIN % -1 of int8 and int64 arrays (numba's ufunc gave 0 and trapped)": (
        "import numpy as np\ndef check(frame):\n    r = frame[:, :, 0].astype(np.int8)\n"
        "    m1 = (frame[:, :, 1] * 0 - 1).astype(np.int8)\n    q = r // m1\n    s = r % m1\n"
        "    x = frame[:, :, 0].astype(np.int64) - 9223372036854775807 - 1\n"
        "    return bool(q[0, 0] == -128) or int((x // -1)[0, 1]) < 0 and int((x % -1)[1, 0]) == 0"
        " and int(s[0, 1]) == 0\n",
        "kernel",
    ),
    "// and % of int16 arrays by arrays holding 0 and -1, and of two shapes": (
        "import numpy as np\ndef check(frame):\n    a = frame[:, :, 0].astype(np.int16) - 128\n"
        "    b = frame[:, :, 1].astype(np.int16) % 3 - 1\n    q = a // b\n    m = a % b\n"
        "    row = b[:1, :]\n    w = a // row\n"
        "    return bool(q[1, 1] < m[2, 2]) or int(w[0, 0]) > 5\n",
        "kernel",
    ),
    "np.bincount of colour codes, with minlength, of bools and of an empty array": (
        "import numpy as np\ndef check(frame):\n"
        "    codes = (frame[:, :, 0] // 64 * 16 + frame[:, :, 1] // 64 * 4 + frame[:, :, 2] // 64)\n"
        "    hist = np.bincount(codes.ravel(), minlength=64)\n"
        "    bright = np.bincount((frame[:, :, 0] > 128).ravel())\n"
        "    none = np.bincount(codes.ravel()[:0], minlength=3)\n"
        "    return int(np.argmax(hist)) > 20 and len(bright) == 2 or len(none) == 3 and hist[63] > 2\n",
        "kernel",
    ),
    "np.bincount of negative values raises on both paths": (
        "import numpy as np\ndef check(frame):\n"
        "    d = frame[:, :, 0].astype(np.int16) - frame[:, :, 1]\n"
        "    return int(np.bincount(d.ravel()).max()) > 3\n",
        "kernel",
    ),
    "np.bincount with weights": (
        "import numpy as np\ndef check(frame):\n"
        "    w = np.bincount(frame[:, :, 0].ravel() // 64, frame[:, :, 1].ravel())\n"
        "    return bool(w[0] > 10)\n",
        "interpreter",
    ),
    "np.ptp along an axis": (
        "import numpy as np\ndef check(frame):\n    return bool(np.ptp(frame, axis=2)[0, 0] > 9)\n",
        "interpreter",
    ),
    "INT64_MIN // -1 wraps": (
        "def check(frame):\n    a = -9223372036854775807 - 1 + frame[0, 0, 0] // 256\n    return a // -1 < 0\n",
        "kernel",
    ),
    "INT64_MIN % -1 is 0": (
        "def check(frame):\n    a = -9223372036854775807 - 1 + frame[0, 0, 0] // 256\n    return a % -1 == 0\n",
        "kernel",
    ),
    "negation at INT64_MIN": (
        "def check(frame):\n    a = -9223372036854775807 - 1 + frame[0, 0, 0] // 256\n    return -a < 0\n",
        "kernel",
    ),
    "abs at INT64_MIN": (
        "def check(frame):\n    a = -9223372036854775807 - 1 + frame[0, 0, 0] // 256\n    return abs(a) < 0\n",
        "kernel",
    ),
    "invert at INT64_MAX": (
        "def check(frame):\n    a = 9223372036854775807 - frame[0, 0, 0] // 256\n    return ~a < 0\n",
        "kernel",
    ),
    "2**62 + 2**62 wraps": (
        "def check(frame):\n    a = 4611686018427387904 + frame[0, 0, 0]\n    return a + a < 0\n",
        "kernel",
    ),
    "product wraps": (
        "def check(frame):\n    a = 3037000500 + frame[0, 0, 0]\n    return a * a < 0\n",
        "kernel",
    ),
    "shift into the sign bit": (
        "def check(frame):\n    return (frame[0, 0, 0] + 1) << 63 < 0\n",
        "kernel",
    ),
    "literal power wraps": (
        "def check(frame):\n    return (frame[0, 0, 0] + 3) ** 41 < 0\n",
        "kernel",
    ),
    "true division of big ints": (
        "def check(frame):\n    a = 4611686018427387905 + frame[0, 0, 0]\n    return a / 3 == 1537228672809129301.0\n",
        "kernel",
    ),
    "int compared with float past 2**53": (
        "def check(frame):\n    a = 9007199254740993 + frame[0, 0, 0] // 256\n    return a == 9007199254740992.0\n",
        "kernel",
    ),
    "uint8 pixel difference": (
        "def check(frame):\n    return frame[0, 0, 0] - frame[1, 1, 1] < 0\n",
        "kernel",
    ),
    "uint8 cast of an int": (
        "import numpy as np\ndef check(frame):\n    return np.uint8(frame[0, 0, 0] + 200) < 100\n",
        "kernel",
    ),
    "uint64 cast of -1": (
        "import numpy as np\ndef check(frame):\n    return np.uint64(frame[0, 0, 0] // 256 - 1) < 0\n",
        "kernel",
    ),
    "int() of NaN": (
        "import math\ndef check(frame):\n    return int(math.nan * frame[0, 0, 0]) > 0\n",
        "kernel",
    ),
    "int() of a huge float": (
        "def check(frame):\n    return int(1e30 + frame[0, 0, 0]) > 0\n",
        "kernel",
    ),
    "int() at 2**63": (
        "def check(frame):\n    return int(9.223372036854775807e18 + frame[0, 0, 0]) > 0\n",
        "kernel",
    ),
    "round() half to even": (
        "def check(frame):\n    return round(2.5 + frame[0, 0, 0] // 256) == 2\n",
        "kernel",
    ),
    "round() of a huge float": (
        "def check(frame):\n    return round(1e19 + frame[0, 0, 0]) > 0\n",
        "kernel",
    ),
    "math.floor(inf)": (
        "import math\ndef check(frame):\n    return math.floor(math.inf * (frame[0, 0, 0] + 1)) > 0\n",
        "kernel",
    ),
    "math.floor of a huge float": (
        "import math\ndef check(frame):\n    return math.floor(1e300 + frame[0, 0, 0]) > 0\n",
        "kernel",
    ),
    "math.sqrt(-1)": (
        "import math\ndef check(frame):\n    return math.sqrt(-1.0 - frame[0, 0, 0]) > 0\n",
        "kernel",
    ),
    "math.exp overflow": (
        "import math\ndef check(frame):\n    return math.exp(1000.0 + frame[0, 0, 0]) > 0\n",
        "kernel",
    ),
    "math.cos(inf)": (
        "import math\ndef check(frame):\n    return math.cos(math.inf + frame[0, 0, 0]) > 0\n",
        "kernel",
    ),
    "float power of a negative base": (
        "def check(frame):\n    x = (-8.0 - frame[0, 0, 0]) ** 0.5\n    return x == x\n",
        "kernel",
    ),
    "float power overflow": (
        "def check(frame):\n    return (1e300 + frame[0, 0, 0]) ** 2.0 > 1e308\n",
        "kernel",
    ),
    "mean of an empty slice": (
        "def check(frame):\n    return not frame[5:2, :, 0].mean() > 0\n",
        "kernel",
    ),
    "mean past 2**53": (
        "import numpy as np\ndef check(frame):\n    return frame.astype(np.int64).mean() * 0 == 0 and (frame.astype(np.int64) * 10 ** 15).mean() > 1e17\n",
        "kernel",
    ),
    "uint64 sum of a frame": ("def check(frame):\n    return frame.sum() > 10000\n", "kernel"),
    "uint64 product wraps": ("def check(frame):\n    return frame.prod() != 0\n", "kernel"),
    "product of a bright frame wraps": (
        "import numpy as np\ndef check(frame):\n    return np.prod(frame[0] // 2 + 1) < 0\n",
        "kernel",
    ),
    "float of a wrapped uint8 product": (
        "def check(frame):\n    return 0.5 < float(frame[..., 0].prod())\n",
        "kernel",
    ),
    "array sum wraps before max": (
        "def check(frame):\n    return (frame[..., 0] + 9223372036854775807).max() < 0\n",
        "kernel",
    ),
    # a float sum: the kernel adds in numpy's order (pairwise, buffered chunks), bit for bit
    "float sum order": (
        "import numpy as np\ndef check(frame):\n    return (frame * 0.1).sum() == 1.0\n",
        "kernel",
    ),
    "float std of a channel view": (
        "import numpy as np\ndef check(frame):\n"
        "    return (frame[1:, :, 0] * 0.1).std() * 3 == (frame[:, 2:, 1] / 7.0).mean()\n",
        "kernel",
    ),
    # None: a helper's "not found" (numba types it optional); `is None` is tested at run time
    "a helper's optional tuple tested with `is None`": (
        "import numpy as np\ndef centre(mask):\n    ys, xs = np.nonzero(mask)\n"
        "    if len(ys) == 0:\n        return None\n    return float(np.mean(ys)), float(np.mean(xs))\n"
        "def check(frame):\n    c = centre(frame[:, :, 0] == 255)\n    if c is None:\n"
        "        return False\n    y, x = c\n    return c[0] + x > 6.5\n",
        "kernel",
    ),
    "an optional int used without a test fails on both paths": (
        "def pick(frame):\n    if frame[0, 0, 2] == 255:\n        return\n    return frame[1, 1, 0]\n"
        "def check(frame):\n    return pick(frame) + 1 > 3\n",
        "kernel",
    ),
    "an optional int from a loop, `is not None`": (
        "def check(frame):\n    best = None\n    for y in range(frame.shape[0]):\n"
        "        if frame[y, 0, 1] > 200:\n            best = y\n"
        "    return None is not best and best > 3\n",
        "kernel",
    ),
    "an optional passed on to a helper that tests it": (
        "def pick(frame):\n    return None if frame[0, 0, 0] > 100 else frame[0, 0, 1]\n"
        "def big(v):\n    if v is None:\n        return False\n    return v > 100\n"
        "def check(frame):\n    return big(pick(frame))\n",
        "kernel",
    ),
    "`== None` (Python answers False, numba raises for a value)": (
        "def check(frame):\n    v = None if frame[0, 0, 0] > 9 else 1\n    return v == None\n",
        "interpreter",
    ),
    "`is` between two values": (
        "def check(frame):\n    a = frame[0, 0, 0]\n    return a is a\n",
        "interpreter",
    ),
    # dict constants: tuples of their items, keys and values in the kernel module; strings
    # as labels only
    "a dict constant of colours looped with .items(), a label skipped": (
        "import numpy as np\nPALETTE = {'red': (255, 0, 0), 'grey': (100, 100, 100), "
        "'white': (255, 255, 255)}\n"
        "def check(frame):\n    best, best_n = None, 0\n"
        "    for name, rgb in PALETTE.items():\n        if name == 'grey':\n            continue\n"
        "        n = np.count_nonzero((frame[:, :, 0] == rgb[0]) & (frame[:, :, 2] == rgb[2]))\n"
        "        if n > best_n:\n            best, best_n = name, n\n"
        "    return best is not None and best >= 'white' and PALETTE['white'][1] + len(PALETTE) == 258\n",
        "kernel",
    ),
    "a dict constant with int keys: for k in D, D.values()": (
        "LIMITS = {0: 200, 2: 10}\n"
        "def check(frame):\n    hits = 0\n    for c in LIMITS:\n"
        "        if frame[0, 0, c] > LIMITS[2] * c:\n            hits += 1\n"
        "    return hits + sum(v for v in LIMITS.values()) > 211\n",
        "kernel",
    ),
    "string labels returned by helpers and compared": (
        "def label(v):\n    if v > 200:\n        return 'bright'\n    if v > 50:\n        return 'mid'\n"
        "    return 'dark'\n"
        "def check(frame):\n    a, b = label(frame[0, 0, 0]), label(frame[1, 1, 1])\n"
        "    return a == b or (a != 'dark' and a < b)\n",
        "kernel",
    ),
    "string concatenation (no byte budget in native code)": (
        "def check(frame):\n    s = 'a'\n    for _ in range(frame[0, 0, 0] % 4):\n        s = s + s\n"
        "    return s == 'aa'\n",
        "interpreter",
    ),
    "string repetition": (
        "def check(frame):\n    s = 'ab' * int(frame[0, 0, 0] % 3)\n    return s == 'abab'\n",
        "interpreter",
    ),
    # np.unique, np.isin and 2-D masks: twins (numba has none of them for these arrays)
    "np.unique of colour rows against a tuple constant made an array": (
        "import numpy as np\nDOOR = (255, 0, 128)\ndef check(frame):\n"
        "    colours = np.unique(frame.reshape(-1, 3), axis=0).astype(np.int32)\n"
        "    d = np.abs(colours - np.array(DOOR)).max(axis=1)\n"
        "    return colours.shape[0] > 2 and bool(np.any(d <= 120))\n",
        "kernel",
    ),
    "np.unique of int8 rows (signed order) and of uint16 pairs": (
        "import numpy as np\ndef check(frame):\n"
        "    a = np.unique(frame[:, :, :2].reshape(-1, 2).astype(np.int8), axis=0)\n"
        "    b = np.unique(frame[::2, :, 1:].reshape(-1, 2).astype(np.uint16) * 300, axis=0)\n"
        "    return a[0, 0] < 0 and a[-1, 1] > 100 or b.shape[0] > 3\n",
        "kernel",
    ),
    "np.unique of values outside a background, np.isin, a 2-D mask": (
        "import numpy as np\ndef check(frame):\n"
        "    v = frame[:, :, 0].astype(np.int32) * 256 + frame[:, :, 1]\n"
        "    bg = np.array([0, 255 * 257])\n    fg = np.unique(v[~np.isin(v, bg)])\n"
        "    if fg.size == 0:\n        return False\n"
        "    return np.count_nonzero(np.isin(v, fg)) > 20 and fg[0] < 300\n",
        "kernel",
    ),
    "frame[mask]: the pixels a 2-D mask picks": (
        "import numpy as np\ndef check(frame):\n"
        "    m = (frame[:, :, 0] > 100) & (frame[:, :, 2] < 200)\n    px = frame[m]\n"
        "    return px.shape[0] > 3 and int(px.sum()) % 7 > 2\n",
        "kernel",
    ),
    "a mask of another shape fails on both paths": (
        "def check(frame):\n    return frame[:4, :4, 0][frame[:, :, 0] > 3].size > 2\n",
        "kernel",
    ),
    # found by a red-team helper: numba takes a 1-D mask of any length (numpy raises)
    "a shorter 1-D mask fails on both paths": (
        "def check(frame):\n    return frame[0, :, 1][frame[0, :4, 0] > 3].size > 1\n",
        "kernel",
    ),
    "a longer named 1-D mask fails on both paths; one of the right length answers": (
        "def check(frame):\n    m = frame[0, :, 0] > 3\n    n = frame[1, :, 2][m].size\n"
        "    return frame[0, :4, 1][m].size > 1 if n > 6 else n > 2\n",
        "kernel",
    ),
    "rows of a 2-D array by a 1-D mask, gated on content": (
        "def check(frame):\n    k = 8 if frame[0, 0, 0] == 255 else 4\n"
        "    return frame[:, :, 0][frame[:k, 0, 0] > 3].shape[0] > 1\n",
        "kernel",
    ),
    "a mask inside a tuple index": (
        "def check(frame):\n    m = frame[:, 0, 0] > 3\n    return frame[m, 0].size > 2\n",
        "interpreter",
    ),
    "a bool as an index (numpy: a new axis)": (
        "def check(frame):\n    b = frame[0, 0, 0] > 3\n    return frame[0, 0][b].size > 2\n",
        "interpreter",
    ),
    "a store through a mask": (
        "def check(frame):\n    a = frame[0, :, 0].copy()\n    a[frame[1, :4, 0] > 3] = 0\n"
        "    return a.sum() > 9\n",
        "interpreter",
    ),
    # found by a second red-team round: numba types a dict from its first store and converts
    # later keys and values (after d[True] = 5, d[5] read d[True]; a count stored as True)
    "a dict keyed by a bool, read with an int": (
        "def check(frame):\n    d = {}\n    d[True] = 5\n    d[False] = 7\n"
        "    k = int(frame[0, 0, 0]) // 50\n    return d[k] == 5\n",
        "interpreter",
    ),
    "a dict keyed by a bool, an int looked up with `in`": (
        "def check(frame):\n    d = {}\n    d[True] = 1\n    return (int(frame[0, 0, 0]) + 1) in d\n",
        "interpreter",
    ),
    "a dict keyed by a bool, an int key stored": (
        "def check(frame):\n    d = {}\n    d[False] = 5\n    d[2] = 1\n"
        "    d[int(frame[0, 0, 0]) + 3] = 1\n    return len(d) == 3\n",
        "interpreter",
    ),
    "a count stored into a dict of bools": (
        "def check(frame):\n    d = {}\n    d[0] = False\n    for x in range(frame.shape[1]):\n"
        "        d[0] = d[0] + int(frame[0, x, 0] > 100)\n    return d[0] > 1\n",
        "interpreter",
    ),
    "a dict counting in ints, uint8 keys and `in`": (
        "def check(frame):\n    d = {}\n    d[0] = 0\n    for x in range(frame.shape[1]):\n"
        "        d[0] = d[0] + int(frame[0, x, 0] > 100)\n        d[frame[1, x, 1]] = x\n"
        "    return d[0] > 1 and frame[1, 0, 1] in d and len(d) > 2\n",
        "kernel",
    ),
    "a list of a bool and an int (numba unifies it to ints: a[xs[0]] would differ)": (
        "def check(frame):\n    xs = [True]\n    xs.append(int(frame[0, 0, 0]))\n    return xs[1] == 255\n",
        "interpreter",
    ),
    "a list of an int and a float (numba makes the int a float)": (
        "def check(frame):\n    xs = [frame[0, 0, 0] * 36028797018963968 + 1]\n"
        "    xs.append(0.5)\n    return xs[0] % 2 == 1\n",
        "interpreter",
    ),
    "np.unique with return_counts": (
        "import numpy as np\ndef check(frame):\n"
        "    v, n = np.unique(frame[:, :, 0], return_counts=True)\n    return n.max() > 3\n",
        "kernel",
    ),
    "np.unique of a float array (numpy merges NaNs)": (
        "import numpy as np\ndef check(frame):\n"
        "    return np.unique(frame[:, :, 0] / 0.0).size > 1\n",
        "interpreter",
    ),
    # float64 axis sums and means: exact (any order) where every value is a small integer,
    # deferred otherwise; two axes of a 3-D array for sum and mean
    "mean over two axes of a float64 tile": (
        "import numpy as np\ndef check(frame):\n"
        "    cell = frame[1:6, 2:7].astype(np.float64)\n    m = cell.mean(axis=(0, 1))\n"
        "    return m.max() > 40 and np.std(m) > 15\n",
        "kernel",
    ),
    "sums over axes (0, 2) and (-1, 0) of a uint8 frame": (
        "import numpy as np\ndef check(frame):\n"
        "    a = frame.sum(axis=(0, 2))\n    b = np.sum(frame[:, ::2], axis=(-1, 0))\n"
        "    return int(a[1]) + int(b[0]) > 900 and a.shape[0] == 8\n",
        "kernel",
    ),
    "float axis sum and mean of fractions and of NaN (deferred)": (
        "import numpy as np\ndef check(frame):\n"
        "    x = frame[:, :, 0] * 0.1\n    y = (x - x[0, 0]) / (x - x[0, 0])\n"
        "    return x.sum(axis=0)[2] > 20 or bool(np.isnan(y.mean(axis=1)).any())\n",
        "kernel",
    ),
    "a float axis mean of integers past 2**53 (deferred)": (
        "import numpy as np\ndef check(frame):\n"
        "    x = frame[:, :, 1] * 1e15\n    return x.mean(axis=1)[0] > 1e16\n",
        "kernel",
    ),
    "a duplicate axis fails on both paths": (
        "def check(frame):\n    return frame.mean(axis=(1, -2))[0] > 3\n",
        "kernel",
    ),
    "max over two axes": (
        "def check(frame):\n    return frame.max(axis=(0, 1))[0] > 3\n",
        "interpreter",
    ),
    "a float32 axis mean": (
        "import numpy as np\ndef check(frame):\n"
        "    return frame.astype(np.float32).mean(axis=2)[0, 0] > 3\n",
        "interpreter",
    ),
    # numba divides arrays of 8- and 16-bit ints (and bools) in float32; numpy in float64
    "uint8 arrays divided (numpy gives float64)": (
        "def check(frame):\n    q = (frame[:, :, 0] / frame[:, :, 1]).sum()\n"
        "    return (q * 1e6) % 2 > 1\n",
        "kernel",
    ),
    "a bool array over a uint8 array, a uint8 scalar over a bool array": (
        "def check(frame):\n    r = ((frame[:, :, 2] > 9) / frame[:, :, 1]).sum()\n"
        "    t = (frame[1, 1, 1] / (frame[0, :, 2] > 3)).sum()\n"
        "    return (r * 1e6) % 2 > 1 or (t * 1e7) % 2 > 1\n",
        "kernel",
    ),
    "an int division past 2**53 (deferred: Python rounds the exact quotient once)": (
        "def check(frame):\n    a = frame[0, 0, 0] * 35184372088832 + 1\n"
        "    return a / 3 == 3002399751580331.0\n",
        "kernel",
    ),
    # math.hypot and math.dist: CPython's vector_norm (C's hypot differs in the last bit)
    "math.hypot and math.dist of centroids, against a threshold and exactly": (
        "import math\nimport numpy as np\ndef centre(mask):\n    ys, xs = np.nonzero(mask)\n"
        "    if len(ys) == 0:\n        return None\n    return float(np.mean(ys)), float(np.mean(xs))\n"
        "def check(frame):\n    a = centre(frame[:, :, 0] > 128)\n    b = centre(frame[:, :, 2] < 64)\n"
        "    if a is None or b is None:\n        return False\n"
        "    d = math.dist(a, b)\n    h = math.hypot(a[0] - b[0], a[1] - b[1])\n"
        "    return d < 1.5 or (d * 1e15) % 2 > 1 or h == d + 1e-12\n",
        "kernel",
    ),
    # local lists and dicts, `in`: a list grows only where nothing walks it; past a cap the
    # kernel defers; `in` only over ints, bools and strings (Python's `in` tests identity first)
    "tile labels in a list, counts in a local dict, `in`": (
        "import numpy as np\nCOLOURS = {'red': (255, 0, 0), 'dark': (0, 0, 0)}\n"
        "def label(tile):\n    px = tile.reshape(-1, 3).astype(np.int32)\n    counts = {}\n"
        "    for name, rgb in COLOURS.items():\n"
        "        counts[name] = int(np.sum(np.abs(px - np.array(rgb)).max(axis=1) <= 40))\n"
        "    if counts['red'] > 2:\n        return 'red'\n"
        "    return 'dark' if counts['dark'] > 8 else 'other'\n"
        "def check(frame):\n    labels = []\n    for r in range(0, 8, 4):\n"
        "        for c in range(0, 8, 4):\n            labels.append(label(frame[r : r + 4, c : c + 4]))\n"
        "    return 'dark' in labels and len(labels) == 4 and labels[0] not in ('red',)\n",
        "kernel",
    ),
    "np.array of a loop variable holding a tuple, `in` over ints": (
        "import numpy as np\nKEYS = ((255, 0, 0), (0, 255, 0))\ndef check(frame):\n"
        "    n = 0\n    for k in KEYS:\n        n += int(np.count_nonzero(np.all(frame == np.array(k), axis=2)))\n"
        "    return n in [0] and frame[0, 0, 0] in (7, 255)\n",
        "kernel",
    ),
    "np.array of a tuple mixing ints and floats": (
        "import numpy as np\ndef check(frame):\n    t = (frame[0, 0, 0], 0.5)\n"
        "    return np.array(t).sum() > 3\n",
        "interpreter",
    ),
    "`in` over a list of floats (Python tests identity first: nan in [nan])": (
        "def check(frame):\n    x = frame[0, 0, 0] / 0.0\n    return x in [x, 1.0]\n",
        "interpreter",
    ),
    "a loop over a local dict (a kernel loops by index: d[0] is not its first key)": (
        "def check(frame):\n    d = {}\n    d[5] = 1\n    d[0] = 7\n    n = 0\n"
        "    for k in d:\n        n += k\n    return n + frame[0, 0, 0] > 6\n",
        "interpreter",
    ),
    "list repetition (no byte budget in native code)": (
        "def check(frame):\n    a = [frame[0, 0, 0]] * int(frame[0, 0, 1])\n    return len(a) > 3\n",
        "interpreter",
    ),
    # an int64 variable that is a float elsewhere: Numba types it float64 everywhere, which is
    # exact only up to 2**53 and never wraps; gated on content, so only the typed IR shows it
    "int64 widened to float64 across an if": (
        "def check(frame):\n    n = frame[0, 0, 0] * 70368744177664 + 1\n"
        "    if frame[0, 0, 1] == 255:\n        n = 0.5\n    return n % 2 == 1\n",
        "interpreter",
    ),
    "int64 widened to float64 through a loop": (
        "import numpy as np\ndef check(frame):\n    n = np.count_nonzero(frame) * 4398046511104 + 1\n"
        "    for _ in range(int(frame[0, 0, 1] == 255)):\n        n = n / 2\n    return n % 2 == 1\n",
        "interpreter",
    ),
    # numpy refuses an out-of-range Python int stored through a slice too; Numba wrapped it
    "slice store of an out-of-range int": (
        "def check(frame):\n    a = frame[0, :4, 0].copy()\n    if frame[0, 0, 1] == 255:\n"
        "        a[1:3] = 300\n    return a[1] == 44\n",
        "kernel",
    ),
    "2-D slice store of a negative int, open-ended slices": (
        "def check(frame):\n    a = frame[:4, :4, 0].copy()\n    if frame[1, 1, 2] > 200:\n"
        "        a[1:, ::2] = -1\n    return a[1, 0] == 255\n",
        "kernel",
    ),
    "slice store of NaN into an int array": (
        "import numpy as np\ndef check(frame):\n    a = frame[0, :4, 0].copy()\n    v = 0.0\n"
        "    if frame[0, 0, 0] == 255:\n"
        "        v = np.nan\n    a[:2] = v\n    return a[0] == 0\n",
        "kernel",
    ),
    # held-out round 6: the other routes by which Numba computes an int as float64
    "int returned on one path and a float on another": (
        "def val(frame):\n    if frame[0, 0, 1] == 255:\n        return 0.5\n    return frame[0, 0, 0] * 36028797018963968 + 1\n\ndef check(frame):\n    return val(frame) % 2 == 1\n",
        "interpreter",
    ),
    "max of an int and a float": (
        "def check(frame):\n    m = max(frame[0, 0, 0] * 36028797018963968 + 1, 0.5)\n    return m % 2 == 1\n",
        "interpreter",
    ),
    "tuple of ints unified with a tuple of floats": (
        "def check(frame):\n    t = (frame[0, 0, 0] * 36028797018963968 + 1,)\n    if frame[0, 0, 1] == 255:\n        t = (0.5,)\n    return t[0] % 2 == 1\n",
        "interpreter",
    ),
    "int constant widened, then int arithmetic": (
        "def check(frame):\n    n = 0\n    if frame[0, 0, 1] == 255:\n        n = 0.5\n    n = n + frame[0, 0, 0] * 36028797018963968 + 1\n    return n % 2 == 1\n",
        "interpreter",
    ),
    "int constant widened, then negated (-0 vs -0.0)": (
        "import math\n\ndef check(frame):\n    n = 0\n    if frame[0, 0, 1] == 255:\n        n = 0.5\n    m = -n\n    if frame[0, 0, 0] == 7:\n        return math.copysign(1.0, m) > 0\n    return False\n",
        "interpreter",
    ),
    "bool widened, then int arithmetic": (
        "def check(frame):\n    n = frame[0, 0, 2] == 0\n    if frame[0, 0, 1] == 255:\n        n = 0.5\n    n = n + frame[0, 0, 0] * 36028797018963968\n    return n % 2 == 1\n",
        "interpreter",
    ),
    "np.median of an int64 array": (
        "import numpy as np\n\ndef check(frame):\n    v = frame[0, 0:2, 0].astype(np.int64) * 4611686018427387904\n    return np.median(v) > 0\n",
        "interpreter",
    ),
    # held-out round 7: min/max handing back an inexact 64-bit int
    "min/max of an inexact int64, then compared": (
        "def check(frame):\n    return max((frame[0, 0, 0] * 36028797018963968 + 1), 0.5) == (frame[0, 0, 0] * 36028797018963968 + 1) - 1\n",
        "interpreter",
    ),
    "min/max of an inexact int64, stored into an int array": (
        "import numpy as np\n\ndef check(frame):\n    a = np.zeros(1, np.int64)\n    a[0] = max((frame[0, 0, 0] * 36028797018963968 + 1), 0.5)\n    return a[0] % 2 == 1\n",
        "interpreter",
    ),
    # held-out set 1 (19, 23): sorted(), a list walked after its appends, tuples tested with `in`
    "sorted() of pixel values: unpacked, indexed, looped over": (
        "def check(frame):\n    lo, hi = sorted((int(frame[0, 0, 0]), int(frame[0, 1, 0])))\n"
        "    row = sorted([int(v) for v in frame[1, :, 1]])\n    t = 0\n"
        "    for v in sorted((frame[0, 0, 2], frame[0, 1, 2], frame[1, 0, 2])):\n"
        "        t = t * 3 + v\n    return hi - lo > row[len(row) // 2] or t % 7 == 1\n",
        "kernel",
    ),
    "sorted() of floats (unstable order of -0.0 and 0.0, NaN)": (
        "def check(frame):\n    return sorted((frame[0, 0, 0] / 2.0, 0.5))[0] > 1\n",
        "interpreter",
    ),
    "lists walked after their appends, tuples tested with `in`": (
        "def check(frame):\n    reds = []\n    greens = []\n    for i in range(frame.shape[0]):\n"
        "        for j in range(frame.shape[1]):\n            if frame[i, j, 0] > 128:\n"
        "                reds.append((i, j))\n            if frame[i, j, 1] > 128:\n"
        "                greens.append((i, j))\n    n = 0\n    for k, p in enumerate(reds):\n"
        "        if p in greens:\n            n += k\n"
        "    return n > 4 or sum(i for i, j in reds) > 9\n",
        "kernel",
    ),
    "a list that grows while a loop walks it": (
        "def check(frame):\n    xs = [0]\n    for x in xs:\n"
        "        if len(xs) < int(frame[0, 0, 0]) // 10:\n            xs.append(x + 1)\n"
        "    return len(xs) > 10\n",
        "interpreter",
    ),
    "a loop whose nested function appends to the list it walks": (
        "def check(frame):\n    xs = [0]\n\n    def grow(v):\n        if len(xs) < 20:\n"
        "            xs.append(v)\n\n    for x in xs:\n        grow(x + int(frame[0, 0, 0] > 100))\n"
        "    return len(xs) > 10\n",
        "interpreter",
    ),
    "tuples of another length tested with `in`": (
        "def check(frame):\n    seen = [(1, 2, 3)]\n    return (int(frame[0, 0, 0]), 2) in seen\n",
        "interpreter",
    ),
    # held-out set 2: `.astype(int)`, helper defaults and keywords, np.array(name, dtype=...)
    "astype(int) differences, a helper with defaults called by keyword": (
        "import numpy as np\nTOL = 40\n\ndef near(frame, rgb, tol=TOL, scale=1):\n"
        "    diff = np.abs(frame.astype(int) - np.array(rgb, dtype=np.int16))\n"
        "    return np.all(diff * scale <= tol, axis=-1)\n\ndef check(frame, first):\n"
        "    moved = np.abs(frame.astype(int) - first.astype(int)).sum(axis=2)\n"
        "    cols = np.nonzero(moved[0] > 30)[0]\n    xs = sorted(int(x) for x in cols if x > 0)\n"
        "    hits = near(frame, (200, 100, 50), scale=2).sum() + near(frame, (0, 0, 0), tol=90).sum()\n"
        "    return bool(hits > 2) or (len(xs) > 1 and xs[0] < 3) or frame.astype(float).mean() > 200\n",
        "kernel",
    ),
    "astype(int) and a helper default": (
        "import numpy as np\n\ndef far(a, b, tol=30):\n    return np.abs(a - b) > tol\n\n"
        "def check(frame):\n    return bool(far(frame[..., 0].astype(int), frame[..., 1].astype(int)).sum() > 3)\n",
        "kernel",
    ),
    "np.array(name, dtype=np.uint8) of an int out of range (numpy raises)": (
        "import numpy as np\n\ndef check(frame):\n    rgb = (int(frame[0, 0, 0]) - 100, 1, 2)\n"
        "    return np.array(rgb, dtype=np.uint8)[0] > 5\n",
        "kernel",
    ),
    "a helper called without an argument it has no default for": (
        "def f(a, b):\n    return a - b\n\ndef check(frame):\n    if frame[0, 0, 0] > 250:\n"
        "        return f(1) > 0\n    return True\n",
        "interpreter",
    ),
    "a nested helper with a default": (
        "def check(frame):\n    def g(x, y=2):\n        return x * y\n\n    return g(frame[0, 0, 0]) > 100\n",
        "interpreter",
    ),
    # red-team round 3 (2026-12-07), against the additions above
    "two names for one appended list (`xs = ys = []`)": (
        "def check(frame):\n    xs = ys = [0]\n    n = 0\n    for v in xs:\n        n += 1\n"
        "        if frame[0, 0, 0] == 137 and len(ys) < 3:\n            ys.append(v)\n    return n == 1\n",
        "interpreter",
    ),
    "a nested function hands back the appended list": (
        "def check(frame):\n    xs = [int(frame[0, 0, 0])]\n\n    def get():\n        return xs\n\n"
        "    n = 0\n    for v in get():\n        n += 1\n        if len(xs) < 4:\n            xs.append(v)\n"
        "    return n == 4\n",
        "interpreter",
    ),
    "keywords out of parameter order whose values call functions": (
        "import numpy as np\n\ndef f(a, b):\n    return a - b\n\ndef check(frame):\n"
        "    c = np.zeros(1, dtype=int)\n\n    def bump():\n        c[0] += 1\n        return c[0]\n\n"
        "    return f(b=bump(), a=bump()) > 0\n",
        "interpreter",
    ),
    "np.full of an int fill out of the dtype's range (numpy raises)": (
        "import numpy as np\n\ndef check(frame):\n    v = 300 if frame[0, 0, 0] == 137 else 5\n"
        "    return bool(np.full(3, v, dtype=np.uint8)[0] > 10) or frame[0, 0, 1] > 100\n",
        "kernel",
    ),
    "np.full of a float into an integer dtype (an unsafe C cast)": (
        "import numpy as np\n\ndef check(frame):\n"
        "    a = np.full(1, np.nan if frame[0, 0, 0] == 137 else 1.0, dtype=int)\n    return bool(a[0] > 0)\n",
        "interpreter",
    ),
    "a float past an int array's range stored into it (numpy raises)": (
        "import numpy as np\n\ndef check(frame):\n    a = np.zeros(2, dtype=int)\n"
        "    a[0] = (int(frame[0, 0, 0]) - 136) * 1e19\n    b = np.zeros(2, dtype=np.int8)\n"
        "    b[0] = int(frame[0, 0, 1]) - 9.5\n    return bool(a[0] > 0) or bool(b[0] > 0)\n",
        "kernel",
    ),
    "a helper that returns True on one path and 0 on another": (
        "import numpy as np\n\ndef f(x):\n    if x == 137:\n        return True\n    return 0\n\n"
        "def check(frame):\n    v = f(int(frame[0, 0, 0]))\n    a = np.array([v]) + np.array([v])\n"
        "    return bool(a.sum() == 2)\n",
        "interpreter",
    ),
    "min of an int and a bool": (
        "import numpy as np\n\ndef check(frame):\n    v = min(int(frame[0, 0, 0]), True)\n"
        "    a = np.array([v]) + np.array([v])\n    return bool(a.sum() == 2)\n",
        "interpreter",
    ),
    "int literal beyond 2**53 widened": (
        "def check(frame):\n    x = 9007199254740993\n    if frame[0, 0, 0] == 255:\n"
        "        x = 0.5\n    return x - 9007199254740992 == 1\n",
        "interpreter",
    ),
}


#: numba marks signed integer arithmetic ``nsw`` (overflow undefined), so LLVM would fold
#: ``a * a < 0`` to False although the product wraps; sandbox.jit_helpers lowers it without the flag.
#: The "product wraps", "literal power wraps" and the two array cases above pin that.


def test_compiled_signed_arithmetic_wraps() -> None:
    from sandbox import jit_helpers

    assert jit_helpers.JIT_WRAPS and jit_helpers.arithmetic_wraps()


def _lowered_arithmetic(module: str) -> list[str]:
    """The add and mul instructions of a two-line function compiled as if defined in ``module``."""
    import types

    import numba

    from sandbox import jit_helpers  # noqa: F401 - its import installs the scoped flags

    def affine(a: int, b: int) -> int:
        return a * b + 1

    fn = types.FunctionType(affine.__code__, {}, "affine")
    fn.__module__ = module
    compiled = numba.njit(cache=False)(fn)
    assert compiled(3, 4) == 13
    text = compiled.inspect_llvm(compiled.signatures[0])
    return [
        line.split("=", 1)[1].split()[0:2]
        for line in text.splitlines()
        if " mul " in line or " add " in line
    ]


def test_nsw_is_kept_only_in_the_trusted_vision_kernels() -> None:
    """Kernels, twins and numba's own implementations wrap; sandbox.vision keeps ``nsw``."""
    from sandbox.jit_helpers import NSW_MODULES

    assert {"sandbox.vision"} == NSW_MODULES
    for module in (
        "sandbox.jit_helpers",
        "vlmcar_jit_0123456789abcdef01234567",
        "numba.np.arraymath",
        __name__,
    ):
        assert all(op[1] != "nsw" for op in _lowered_arithmetic(module)), module
    assert [op[1] for op in _lowered_arithmetic("sandbox.vision")] == ["nsw", "nsw"]


def test_kernels_fuse_only_array_expressions_that_keep_numpys_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """numba's array-expression rewrite computed ``uint8 + uint8`` in int64 inside ``a < a + a``;
    in kernels and twins it keeps only operations that give bools (the mask idiom stays one
    pass), and a user's own numba code keeps all of it (the registry entry is a scoped subclass
    of numba's rewrite)."""
    import types

    import numba
    from numba.core.rewrites.registry import rewrite_registry
    from numba.np.ufunc.array_exprs import RewriteArrayExprs

    from sandbox import jit_helpers

    after = rewrite_registry.rewrites["after-inference"]
    scoped = [c for c in after if getattr(c, "vlmcar_scoped", False)]
    assert len(scoped) == 1 and issubclass(scoped[0], RewriteArrayExprs)
    assert RewriteArrayExprs not in after

    def compound(a: np.ndarray) -> bool:
        return bool((a < a + a)[0])

    def mask(a: np.ndarray) -> bool:
        return bool(((a > 100) & (a < 250) | ~(a == 7))[0])

    def annotated(dispatcher: Any) -> str:
        text = io.StringIO()
        dispatcher.inspect_types(file=text)
        return text.getvalue()

    def compiled(function: Any, module: str) -> Any:
        fn = types.FunctionType(function.__code__, {}, function.__name__)
        fn.__module__ = module
        return numba.njit(cache=False)(fn)

    kernel_module = "vlmcar_jit_0123456789abcdef01234567"  # build_kernel registers its module
    monkeypatch.setitem(sys.modules, kernel_module, types.ModuleType(kernel_module))
    pixels = np.full(1, 200, np.uint8)
    for module in (kernel_module, jit_helpers.__name__):
        kept = compiled(compound, module)
        assert kept(pixels) is False, module
        fused_lines = [line for line in annotated(kept).splitlines() if "arrayexpr" in line]
        assert fused_lines and not any("function add" in line for line in fused_lines)
        fused = compiled(mask, module)
        assert fused(pixels) is True
        assert "arrayexpr" in annotated(fused)


#: Cases whose kernels are slow to build and whose twins the unit tests of test_jit_helpers
#: hold to numpy already: ``make test-long`` runs them.
LONG_CASES = frozenset(
    {
        "np.unique of int8 rows (signed order) and of uint16 pairs",
        "sums over axes (0, 2) and (-1, 0) of a uint8 frame",
        "a bool array over a uint8 array, a uint8 scalar over a bool array",
        "astype(int) differences, a helper with defaults called by keyword",
        "uint8 * uint8 - uint8 inside a comparison wraps",
        "float max/min along an axis (saturation)",
        "np.bincount of negative values raises on both paths",
        "tile labels in a list, counts in a local dict, `in`",
        "sorted() of pixel values: unpacked, indexed, looped over",
        "float axis sum and mean of fractions and of NaN (deferred)",
        "np.unique of values outside a background, np.isin, a 2-D mask",
        "np.unique of colour rows against a tuple constant made an array",
        "mean over two axes of a float64 tile",
        "// and % of int16 arrays by arrays holding 0 and -1, and of two shapes",
    }
)


@pytest.mark.parametrize(
    ("source", "expect"),
    [
        pytest.param(source, expect, marks=[pytest.mark.long] if name in LONG_CASES else [])
        for name, (source, expect) in AGREEMENT_CASES.items()
    ],
    ids=list(AGREEMENT_CASES),
)
def test_known_divergences_agree_or_stay_on_the_interpreter(
    source: str, expect: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    assert audit(source).ok, audit(source).findings
    kernel = build_kernel(source, cache_dir=tmp_path_factory.getbasetemp() / "jit")
    if expect == "interpreter":
        assert isinstance(kernel, str), "the JIT subset must refuse this checker"
        assert "stays on the interpreter" in kernel or "outside" in kernel, kernel
        return
    assert isinstance(kernel, Kernel), kernel
    assert differences(interpreter_answers(source), kernel_answers(kernel)) == []
    checker = compile_checker(source)
    assert checker.attach_kernel(kernel) is None, checker.jit_reason
    assert checker_answers(checker) == interpreter_answers(source)


def test_an_optional_indexed_without_a_test_gets_the_interpreters_failure(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """``centre(mask)[1]`` where ``centre`` found nothing: the kernel raises (``vlmcar_some``)
    and hands the batch to the interpreter, whose guard refuses indexing None (a violation)."""
    source = (
        "import numpy as np\ndef centre(mask):\n    ys, xs = np.nonzero(mask)\n"
        "    if len(ys) == 0:\n        return None\n    return ys[0], xs[0]\n"
        "def check(frame):\n    return centre(frame[:, :, 2] == 255)[1] > 3\n"
    )
    kernel = build_kernel(source, cache_dir=tmp_path_factory.getbasetemp() / "jit")
    assert isinstance(kernel, Kernel), kernel
    expected = interpreter_answers(source)
    assert "fails (violation)" in expected and any(isinstance(a, bool) for a in expected)
    assert kernel_answers(kernel).count("fails (error)") == expected.count("fails (violation)")
    checker = compile_checker(source)
    assert checker.attach_kernel(kernel) is None, checker.jit_reason
    assert checker_answers(checker) == expected


def test_uint8_arrays_divide_in_float64_as_numpy_does(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """numba divides 8-bit arrays in float32: 1 / 10 came out 0.100000001 (found this stop; the
    agreement probe caught it only where a probed frame showed it)."""
    source = (
        "def check(frame):\n    q = frame[:, :, 0] / frame[:, :, 1]\n    return q[0, 0] == 0.1\n"
    )
    kernel = build_kernel(source, cache_dir=tmp_path_factory.getbasetemp() / "jit")
    assert isinstance(kernel, Kernel), kernel
    frames = np.ones((1, 8, 8, 3), np.uint8)
    frames[0, 0, 0] = (1, 10, 0)
    out = np.zeros(1, np.bool_)
    ro = readonly_batch(frames)
    kernel.run(ro, ro, out)
    assert out.tolist() == [True] == compile_checker(source).batch(frames).tolist()


#: Red-team round 18: the float path of ``//`` and ``%`` on arrays, and np.bincount at INT64_MAX.
#: Each case: a checker and the constant pixel its frame holds (pixel (0, 0) set apart when a
#: fourth value is given).
DIVISION_CASES = {
    "1.0 // 0.1 is 9.0 (numba's ufunc said 10.0)": (
        "def check(frame):\n    x = frame[..., 0].astype(np.float64)\n"
        "    return bool((x // 0.1)[0, 0] == 10.0)\n",
        (1, 0, 0),
    ),
    "-100.0 // inf is -1.0": (
        "def check(frame):\n    x = frame[..., 0].astype(np.float64) - 100.0\n"
        "    return bool((x // np.inf)[0, 0] == -1.0)\n",
        (0, 0, 0),
    ),
    "uint64 // -1 is float64": (
        "def check(frame):\n    a = frame[..., 0].astype(np.uint64)\n"
        "    return bool((a // -1)[0, 0] == -1.0)\n",
        (1, 0, 0),
    ),
    "a zero remainder takes the divisor's sign": (
        "def check(frame):\n    x = frame[..., 0].astype(np.float64)\n    r = x % -2.0\n"
        "    return bool(np.arctan2(r, -1.0)[0, 0] < 0)\n",
        (4, 0, 0),
    ),
    "divmod of a float array, gated by a pixel": (
        "def check(frame):\n    if frame[0, 0, 0] == 201:\n"
        "        q, r = divmod(frame[..., 1].astype(np.float64), 0.1)\n"
        "        return bool(q[1, 1] == 10.0)\n    return False\n",
        (0, 1, 0, 201),
    ),
    "np.bincount of INT64_MAX (the length wrapped; the write went before the buffer)": (
        "def check(frame):\n    x = (frame[..., 0].ravel() == 127) * 9223372036854775807\n"
        "    return int(np.bincount(x).size) > 0\n",
        (127, 0, 0),
    ),
}


@pytest.mark.parametrize(
    ("source", "pixel"), list(DIVISION_CASES.values()), ids=list(DIVISION_CASES)
)
def test_array_division_and_bincount_edges_agree(
    source: str, pixel: tuple[int, ...], tmp_path_factory: pytest.TempPathFactory
) -> None:
    source = "import numpy as np\n" + source
    kernel = build_kernel(source, cache_dir=tmp_path_factory.getbasetemp() / "jit")
    if isinstance(kernel, str):  # refused: the interpreter answers, nothing can differ
        assert "outside" in kernel or "stays on the interpreter" in kernel, kernel
        return
    for shape in ((4, 5, 3), (64, 64, 3)):
        frame = np.zeros(shape, np.uint8)
        frame[...] = pixel[:3]
        if len(pixel) > 3:
            frame[0, 0, 0] = pixel[3]
            frame[0, 0, 1] = 7
        try:
            expected: object = compile_checker(source)(frame)
        except CheckerRuntimeError as err:
            expected = err.status
        out = np.zeros(1, np.bool_)
        ro = readonly_batch(frame[None])
        try:
            kernel.run(ro, ro, out)
            got: object = bool(out[0])
        except Exception:  # deferred or raised: the interpreter answers this frame
            got = expected
        assert got == expected, f"{shape}: kernel {got!r}, interpreter {expected!r}"
