"""Differential tests: the JIT kernel and the interpreter path give the same answers.

For every checker of :data:`sandbox.library.LIBRARY` that gets a kernel, and every public benign
checker that does, Hypothesis compares ``checker.batch`` with the kernel attached against the
interpreter (``compile_checker(source)``) on (a) frames of real MiniGrid rollouts and (b) composed
scenes: a palette background, 1-6 palette rectangles, optional noise, random sizes. Both paths must
give the same bool, or both must fail.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

import gymnasium as gym
import minigrid  # noqa: F401  (registers the MiniGrid environments)
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from minigrid.core.constants import COLORS

from sandbox import Checker, CheckerRuntimeError, audit, compile_checker
from sandbox.checker import probe_frames
from sandbox.frames import readonly_batch
from sandbox.jit import Kernel, build_kernel
from sandbox.library import LIBRARY, NOT_JITTABLE
from tests.sandbox.conftest import BENIGN

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: MiniGrid's colours plus black, white and a mid grey.
PALETTE: tuple[tuple[int, int, int], ...] = (
    *(tuple(int(v) for v in rgb) for rgb in COLORS.values()),
    (0, 0, 0),
    (255, 255, 255),
    (128, 128, 128),
)

PUBLIC = {f"public:{a['id']}": a["code"] for a in BENIGN}
SOURCES = MappingProxyType({**LIBRARY, **PUBLIC})
EXPECT_KERNEL = sorted(set(LIBRARY) - NOT_JITTABLE)

# -- known bugs of the JIT path (see the reasons); remove a mark once its bug is fixed ---------

UNSIGNED_WRAP = (
    "JIT bug: numba types arithmetic on unsigned scalars as uint64 (frame[y, x, 0] - "
    "frame[y, x, 1] wraps to ~1.8e19, int(pixel) stays uint64, -pixel wraps, and "
    "arr.sum() - arr2.sum() wraps), while the interpreter's pixel scalars and facade results are "
    "exact Python ints; the generated kernel must convert scalar reads and call results to int64"
)
#: Differ on composed scenes (jittered greys such as (95, 100, 100)); MiniGrid's colours are exact.
KNOWN_DIFFERENT_ON_SCENES: dict[str, str] = {}
KNOWN_NO_KERNEL: dict[str, str] = {}


def _param(name: str, known: dict[str, str]) -> Any:
    if name in known:
        return pytest.param(name, marks=pytest.mark.xfail(strict=True, reason=known[name]))
    return name


# -- frames ------------------------------------------------------------------------------------

MINIGRID_SEEDS = (0, 1, 2, 3, 4, 5)
MINIGRID_STEPS = 48


@dataclass(frozen=True)
class Rollouts:
    """Frames of random MiniGrid rollouts and, for each, its episode's first frame."""

    frames: np.ndarray
    firsts: np.ndarray


@pytest.fixture(scope="module")
def rollouts() -> Rollouts:
    env = gym.make("MiniGrid-DoorKey-8x8-v0")
    frames: list[np.ndarray] = []
    firsts: list[np.ndarray] = []
    try:
        for seed in MINIGRID_SEEDS:
            env.reset(seed=seed)
            rng = np.random.default_rng(seed)
            first = env.unwrapped.get_frame(highlight=False, tile_size=8)
            for _ in range(MINIGRID_STEPS):
                frames.append(env.unwrapped.get_frame(highlight=False, tile_size=8))
                firsts.append(first)
                # forward more often than not, so the agent gets around (and to the key)
                action = 2 if rng.random() < 0.4 else int(rng.integers(0, 6))
                _, _, terminated, truncated, _ = env.step(action)
                if terminated or truncated:
                    break
    finally:
        env.close()
    return Rollouts(np.stack(frames), np.stack(firsts))


def _paint(draw: st.DrawFn, frame: np.ndarray, n: int) -> None:
    h, w = frame.shape[:2]
    for _ in range(n):
        y0 = draw(st.integers(0, h - 1))
        x0 = draw(st.integers(0, w - 1))
        y1 = draw(st.integers(y0 + 1, min(h, y0 + max(2, h // 2))))
        x1 = draw(st.integers(x0 + 1, min(w, x0 + max(2, w // 2))))
        frame[y0:y1, x0:x1] = draw(st.sampled_from(PALETTE))


def _noise(draw: st.DrawFn, frame: np.ndarray) -> None:
    kind = draw(st.sampled_from(["none", "none", "jitter", "patch", "uniform"]))
    if kind == "none":
        return
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    h, w = frame.shape[:2]
    if kind == "jitter":  # palette colours, slightly off: exercises tolerances and differences
        k = draw(st.integers(1, 24))
        noisy = frame.astype(np.int16) + rng.integers(-k, k + 1, frame.shape, dtype=np.int16)
        frame[...] = np.clip(noisy, 0, 255).astype(np.uint8)
    elif kind == "patch":
        y0, x0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        patch = frame[y0:, x0:]
        patch[...] = rng.integers(0, 256, patch.shape, dtype=np.uint8)
    else:
        frame[...] = rng.integers(0, 256, frame.shape, dtype=np.uint8)


@st.composite
def scene_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    """A composed (frame, first): palette background, 1-6 rectangles, optional noise."""
    h, w = draw(st.integers(16, 96)), draw(st.integers(16, 96))
    first = np.empty((h, w, 3), np.uint8)
    first[...] = draw(st.sampled_from(PALETTE))
    _paint(draw, first, draw(st.integers(1, 6)))
    how = draw(st.sampled_from(["same", "painted", "independent"]))
    frame = first.copy()
    if how == "independent":
        frame[...] = draw(st.sampled_from(PALETTE))
        _paint(draw, frame, draw(st.integers(1, 6)))
    elif how == "painted":
        _paint(draw, frame, draw(st.integers(1, 3)))
    _noise(draw, frame)
    return frame, first


def minigrid_pairs(rollouts: Rollouts) -> st.SearchStrategy[tuple[np.ndarray, np.ndarray]]:
    """A rollout frame and its first frame, sometimes with a few tiles recoloured."""

    @st.composite
    def pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
        i = draw(st.integers(0, len(rollouts.frames) - 1))
        frame = rollouts.frames[i].copy()
        tiles = frame.shape[0] // 8, frame.shape[1] // 8
        for _ in range(draw(st.integers(0, 2))):  # e.g. the agent's red next to the goal
            ty, tx = draw(st.integers(0, tiles[0] - 1)), draw(st.integers(0, tiles[1] - 1))
            frame[ty * 8 + 1 : ty * 8 + 7, tx * 8 + 1 : tx * 8 + 7] = draw(st.sampled_from(PALETTE))
        return frame, rollouts.firsts[i]

    return pairs()


# -- the two paths -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Paths:
    jit: Checker
    interpreter: Checker


@pytest.fixture(scope="module")
def paths() -> Callable[[str], Paths]:
    """Compile each checker once per module (lazily), both ways."""

    @functools.cache
    def get(name: str) -> Paths:
        source = SOURCES[name]
        return Paths(compile_checker(source, jit=True), compile_checker(source))

    return get


Outcome = bool | str


def outcomes(checker: Checker, frames: np.ndarray, firsts: np.ndarray) -> list[Outcome]:
    """Each frame's answer, or "fail" where the checker fails on it."""
    try:
        return [bool(v) for v in checker.batch(frames, firsts)]
    except CheckerRuntimeError:
        if len(frames) == 1:
            return ["fail"]
    return [outcomes(checker, frames[i : i + 1], firsts[i : i + 1])[0] for i in range(len(frames))]


def assert_same(p: Paths, frame: np.ndarray, first: np.ndarray) -> None:
    jit = outcomes(p.jit, frame[None], first[None])
    interpreted = outcomes(p.interpreter, frame[None], first[None])
    assert jit == interpreted, f"JIT {jit} != interpreter {interpreted}"


#: Public benign checkers that numba cannot compile (axis= reductions, 3-D boolean-mask
#: assignment, walrus in an if, list comprehensions) or that the subset refuses: they stay on the
#: interpreter path, and there is nothing to compare. Any other entry without a kernel fails the
#: test.
BENIGN_WITHOUT_KERNEL = frozenset(
    {
        "benign-local-array-write",
        "benign-walrus-count",
        "benign-sorted-zip-enumerate",
        "benign-argwhere-bbox",
        "benign-edge-density",
        "benign-small-channel-loop",
    }
)


def jitted(paths: Callable[[str], Paths], name: str) -> Paths | None:
    p = paths(name)
    if p.jit.kernel is None:
        assert name.removeprefix("public:") in BENIGN_WITHOUT_KERNEL, f"{name}: {p.jit.jit_reason}"
        return None
    return p


# -- the library -------------------------------------------------------------------------------


def test_library_shape() -> None:
    assert isinstance(LIBRARY, MappingProxyType)
    assert len(LIBRARY) >= 24
    assert len(NOT_JITTABLE) >= 3
    assert NOT_JITTABLE.issubset(LIBRARY)
    for name, source in LIBRARY.items():
        report = audit(source, path=name)
        assert report.ok, (name, report.findings)


def _diverse_pairs(rollouts: Rollouts) -> list[tuple[np.ndarray, np.ndarray]]:
    pairs = list(zip(rollouts.frames[::3], rollouts.firsts[::3], strict=True))
    for seed, size in enumerate([(16, 16), (48, 64), (96, 40), (17, 90)]):
        probes = probe_frames(36, size, seed=seed)
        pairs += list(zip(probes, probes[::-1], strict=True))
        pairs += [(p, p) for p in probes[:6]]
    return pairs


@pytest.mark.parametrize("name", sorted(LIBRARY))
def test_library_entry_answers_a_bool_and_is_not_constant(
    name: str, paths: Callable[[str], Paths], rollouts: Rollouts
) -> None:
    checker = paths(name).interpreter
    answers = set()
    for frame, first in _diverse_pairs(rollouts):
        answer = checker(frame, first) if checker.arity == 2 else checker(frame)
        assert type(answer) is bool
        answers.add(answer)
    assert answers == {True, False}, f"{name} is constant ({answers}) over diverse frames"


@pytest.mark.parametrize("name", [_param(n, KNOWN_NO_KERNEL) for n in EXPECT_KERNEL])
def test_library_entry_gets_a_kernel(name: str, paths: Callable[[str], Paths]) -> None:
    checker = paths(name).jit
    assert checker.kernel is not None, checker.jit_reason


@pytest.mark.parametrize("name", sorted(NOT_JITTABLE))
def test_not_jittable_entries_stay_on_the_interpreter(
    name: str, paths: Callable[[str], Paths]
) -> None:
    checker = paths(name).jit
    assert checker.kernel is None
    assert "outside the JIT subset" in checker.jit_reason


# -- differential tests ------------------------------------------------------------------------

DIFFERENTIAL = EXPECT_KERNEL + sorted(PUBLIC)


@pytest.mark.parametrize("name", DIFFERENTIAL)
def test_jit_matches_interpreter_on_all_rollout_frames(
    name: str, paths: Callable[[str], Paths], rollouts: Rollouts
) -> None:
    p = jitted(paths, name)
    if p is None:
        return
    jit = outcomes(p.jit, rollouts.frames, rollouts.firsts)
    interpreted = outcomes(p.interpreter, rollouts.frames, rollouts.firsts)
    bad = [i for i, (a, b) in enumerate(zip(jit, interpreted, strict=True)) if a != b]
    assert not bad, f"differ on rollout frames {bad[:10]}"


@pytest.mark.parametrize("name", DIFFERENTIAL)
def test_jit_matches_interpreter_on_minigrid_frames(
    name: str, paths: Callable[[str], Paths], rollouts: Rollouts
) -> None:
    p = jitted(paths, name)
    if p is None:
        return

    @SETTINGS
    @given(pair=minigrid_pairs(rollouts))
    def differential(pair: tuple[np.ndarray, np.ndarray]) -> None:
        assert_same(p, *pair)

    differential()


@pytest.mark.parametrize("name", [_param(n, KNOWN_DIFFERENT_ON_SCENES) for n in DIFFERENTIAL])
def test_jit_matches_interpreter_on_composed_scenes(
    name: str, paths: Callable[[str], Paths]
) -> None:
    p = jitted(paths, name)
    if p is None:
        return

    @SETTINGS
    @given(pair=scene_pairs())
    def differential(pair: tuple[np.ndarray, np.ndarray]) -> None:
        assert_same(p, *pair)

    differential()


# -- known divergences, frame by frame ---------------------------------------------------------


def _pixel_frame(*pixels: tuple[int, int, int]) -> np.ndarray:
    frame = np.zeros((16, 16, 3), np.uint8)
    for i, rgb in enumerate(pixels):
        frame[0, i] = rgb
    return frame


UNSIGNED_CASES = [
    ("r - g", "def check(frame):\n    return frame[0, 0, 0] - frame[0, 0, 1] > 50\n", (10, 200, 0)),
    (
        "int(r) - int(g)",
        "def check(frame):\n    return int(frame[0, 0, 0]) - int(frame[0, 0, 1]) > 50\n",
        (10, 200, 0),
    ),
    (
        "abs(r - g)",
        "def check(frame):\n    return abs(frame[0, 0, 0] - frame[0, 0, 1]) < 12\n",
        (95, 100, 100),
    ),
    ("-r", "def check(frame):\n    return -frame[0, 0, 0] < -5\n", (10, 0, 0)),
    (
        "sum - sum",
        "def check(frame):\n    return frame[..., 0].sum() - frame[..., 1].sum() > 0\n",
        (0, 9, 0),
    ),
    (
        "max - max",
        "def check(frame):\n    return frame[..., 0].max() - frame[..., 1].max() > 0\n",
        (0, 9, 0),
    ),
]


@pytest.mark.parametrize(
    ("source", "pixel"), [c[1:] for c in UNSIGNED_CASES], ids=[c[0] for c in UNSIGNED_CASES]
)
def test_unsigned_scalar_arithmetic_matches_the_interpreter(
    source: str, pixel: tuple[int, int, int]
) -> None:
    kernel = build_kernel(source)
    assert isinstance(kernel, Kernel), kernel
    frame = _pixel_frame(pixel)
    ro = readonly_batch(frame[None])
    out = np.zeros(1, np.bool_)
    kernel.run(ro, ro, out)
    assert bool(out[0]) is compile_checker(source)(frame)


def test_attached_kernel_matches_on_a_tinted_grey_frame(paths: Callable[[str], Paths]) -> None:
    """The probes miss it, so the kernel is attached; a slightly green grey then flips it."""
    p = paths("grey_cells_loop")
    assert p.jit.kernel is not None, p.jit.jit_reason
    frame = np.empty((16, 16, 3), np.uint8)
    frame[...] = (98, 100, 100)  # r - g is -2 for the interpreter, 2**64 - 2 in the kernel
    assert p.interpreter(frame) is True
    assert_same(p, frame, frame)


ARRAY_SCALAR = (
    "JIT bug: numba types an integer array combined with a Python int as int64 (frame[..., 0] + "
    "100 gives 355 for 255) where numpy, hence the interpreter, keeps uint8 and wraps (99); "
    "likewise np.maximum(u8, 300) and np.where(mask, u8, 300)"
)

ARRAY_SCALAR_CASES = [
    (
        "u8 + 100",
        "def check(frame):\n    return (frame[..., 0] + 100).max() > 300\n",
        (255, 0, 0),
    ),
    (
        "abs(u8 - 255)",
        "import numpy as np\n\ndef check(frame):\n    return np.abs(frame[..., 0] - 255).min() > 5\n",
        (0, 0, 0),
    ),
    ("u8 * 2", "def check(frame):\n    return (frame[..., 1] * 2).max() > 300\n", (0, 200, 0)),
]


@pytest.mark.parametrize(
    ("source", "pixel"),
    [c[1:] for c in ARRAY_SCALAR_CASES],
    ids=[c[0] for c in ARRAY_SCALAR_CASES],
)
def test_array_scalar_arithmetic_matches_the_interpreter(
    source: str, pixel: tuple[int, int, int]
) -> None:
    kernel = build_kernel(source)
    assert isinstance(kernel, Kernel), kernel
    frame = np.empty((16, 16, 3), np.uint8)
    frame[...] = pixel
    ro = readonly_batch(frame[None])
    out = np.zeros(1, np.bool_)
    kernel.run(ro, ro, out)
    assert bool(out[0]) is compile_checker(source)(frame)


def test_twins_of_one_argument_type_compile_apart() -> None:
    # numba reused a compiled overload implementation across twins whose closures share code:
    # compiled first in a process, bright_grey_mean_axis's mean(axis=2) of a uint8 frame answered
    # for saturated_max_min_axis's max(axis=2), and the second kernel disagreed with the
    # interpreter (so it was refused). Each twin now has code of its own.
    frames = probe_frames()
    for name in ("bright_grey_mean_axis", "saturated_max_min_axis", "tuple_eq_and_sub_one_array"):
        jit, interpreted = compile_checker(LIBRARY[name], jit=True), compile_checker(LIBRARY[name])
        assert jit.kernel is not None, f"{name}: {jit.jit_reason}"
        assert jit.batch(frames).tolist() == interpreted.batch(frames).tolist(), name


# -- compound array arithmetic on the unfused path ---------------------------------------------

#: Leaves of the generated expressions: the three uint8 channels, casts to other small integer
#: dtypes (so operands of two dtypes meet), and Python ints (int64 on both paths).
_LEAVES = (
    "r",
    "g",
    "b",
    "r.astype(np.int16)",
    "g.astype(np.int8)",
    "b.astype(np.uint16)",
    "3",
    "200",
)


def _call(parts: tuple[str, str, str]) -> str:
    name, a, b = parts
    if name == "-":
        return f"(-{a})"
    return f"np.abs({a})" if name == "np.abs" else f"{name}({a}, {b})"


def _array_expressions() -> st.SearchStrategy[str]:
    def grow(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        binary = st.tuples(inner, st.sampled_from(("+", "-", "*")), inner).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        )
        names = st.sampled_from(("-", "np.abs", "np.maximum", "np.minimum"))
        return binary | st.tuples(names, inner, inner).map(_call)

    return st.recursive(st.sampled_from(_LEAVES), grow, max_leaves=5)


@st.composite
def selected_masks(draw: st.DrawFn) -> str:
    """A checker that picks one of six compound array comparisons by a pixel, then reads it."""

    def comparison() -> str:
        left, right = draw(_array_expressions()), draw(_array_expressions())
        return f"({left} {draw(st.sampled_from(('<', '>', '==', '!=')))} {right})"

    branches = []
    for k in range(6):
        mask = comparison()
        for _ in range(draw(st.integers(0, 2))):  # bool logic over comparisons: numba fuses it
            joined = draw(st.sampled_from(("&", "|", "^")))
            mask = f"({mask} {joined} {draw(st.sampled_from(('', '~')))}{comparison()})"
        keyword = "if" if k == 0 else "elif"
        branches.append(f"    {keyword} sel == {k}:\n        m = {mask}\n")
    return (
        "import numpy as np\n\ndef check(frame):\n"
        "    r = frame[..., 0]\n    g = frame[..., 1]\n    b = frame[..., 2]\n"
        "    sel = int(frame[0, 0, 2]) % 6\n" + "".join(branches) + "    else:\n"
        "        m = r > g\n    return bool(m[1, 2])\n"
    )


@settings(SETTINGS, max_examples=2)  # each example builds a kernel of six branches
@given(source=selected_masks(), seed=st.integers(0, 2**16))
def test_compound_small_integer_arithmetic_matches_the_interpreter(source: str, seed: int) -> None:
    # numba's array-expression rewrite typed the inner operations of `a < a + a` as scalars, so
    # uint8 + uint8 was computed in int64 (400 where numpy's 144): kernels now keep numpy's dtypes
    # (sandbox.jit_helpers.SCOPED_PREFIXES). Compared here without the agreement probes.
    kernel = build_kernel(source)
    if not isinstance(kernel, Kernel):
        return  # outside the subset: the interpreter answers, nothing to compare
    interpreter = compile_checker(source)
    rng = np.random.default_rng(seed)
    frames = rng.integers(0, 256, (24, 4, 5, 3), dtype=np.uint8)
    frames[:, 0, 0, 2] = np.arange(24)  # every branch, four times
    for frame in frames:
        ro = readonly_batch(frame[None])
        try:
            expected: Outcome = interpreter(frame)
        except CheckerRuntimeError:
            expected = "fail"
        out = np.zeros(1, np.bool_)
        try:
            kernel.run(ro, ro, out)
            got: Outcome = bool(out[0])
        except Exception:
            got = "fail"
        assert got == expected, f"branch {frame[0, 0, 2] % 6}: JIT {got} != {expected}\n{source}"
