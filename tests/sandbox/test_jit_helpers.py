"""The JIT's twins of numpy functions give numpy's answers, bit for bit, or defer.

Float64 sum, mean, std and var add in numpy's order; np.unique (of values and of rows), np.isin
and indexing by 2-D masks give numpy's arrays, dtype and shape included.

numpy's order of additions (pairwise within a run, chunked through its 8192-element buffer for
views that are not C-contiguous) was measured, not read from its source; these tests hold the twins
to numpy on views of every kind the twins accept, with values spread over 16 orders of magnitude
so that any other order shows, and check that the layouts they do not model defer.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numba
import numpy as np
import pytest

from sandbox import jit_helpers
from sandbox.errors import JitDeferred

ROOT = Path(__file__).resolve().parents[2]


def kernel_calling(twin: Any) -> Any:
    """A compiled function that calls ``twin``: numba then types the twin's overload."""

    @numba.njit
    def call(array: Any) -> Any:
        return twin(array)

    return call


TWINS: dict[str, tuple[Any, Any]] = {
    name: (kernel_calling(getattr(jit_helpers, f"vlmcar_{name}")), getattr(np, name))
    for name in ("sum", "mean", "std", "var")
}


def spread(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Floats whose sum depends on the order of additions (magnitudes 1e-8 to 1e8)."""
    return rng.standard_normal(shape) * 10.0 ** rng.integers(-8, 9, shape)


def views(seed: int, count: int) -> list[np.ndarray]:
    """C-ordered views of 1-4 dimensions: offsets, steps, a channel picked out, sizes past 8192."""
    rng = np.random.default_rng(seed)
    out = []
    for k in range(count):
        ndim = 1 + k % 4
        shape = [int(rng.integers(1, 10 if ndim > 2 else 200)) for _ in range(ndim)]
        base = spread(rng, tuple(shape))
        cut = []
        for n in shape:
            start = int(rng.integers(0, max(1, n // 2)))
            cut.append(
                slice(start, int(rng.integers(start + 1, n + 1)), int(rng.choice([1, 2, 3])))
            )
        out.append(base[tuple(cut)])
    big = spread(rng, (300, 250, 3))
    out += [big, big[1:, 2:], big[::2, ::3, 1], big[10:20, :, 0], spread(rng, (20_001,))]
    return out


def gapped_c_order(view: np.ndarray) -> bool:
    """Each axis (of length > 1) steps past the whole of the axes after it: the modelled layouts."""
    axes = [(n, s) for n, s in zip(view.shape, view.strides, strict=True) if n > 1]
    return all(s > 0 for _, s in axes) and all(
        axes[k][1] >= axes[k + 1][0] * axes[k + 1][1] for k in range(len(axes) - 1)
    )


@pytest.mark.parametrize("name", sorted(TWINS))
def test_float_reductions_equal_numpy_bit_for_bit(name: str) -> None:
    twin, numpy_fn = TWINS[name]
    compared = 0
    for view in views(seed=sorted(TWINS).index(name), count=160):
        if view.size == 0:
            continue
        try:
            got = twin(view)
        except JitDeferred:
            # only a view whose rows overlap in address order is outside the model
            assert not gapped_c_order(view), (view.shape, view.strides)
            continue
        want = numpy_fn(view)
        assert got == want or (np.isnan(got) and np.isnan(want)), (view.shape, view.strides)
        compared += 1
    assert compared > 100


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64, np.bool_])
def test_integer_std_and_var_equal_numpy(dtype: type) -> None:
    rng = np.random.default_rng(5)
    for k in range(40):
        frame: np.ndarray = rng.integers(0, 256, (int(rng.integers(1, 30)), 17, 3)).astype(dtype)
        view = frame[:: 1 + k % 2, 1:]
        for name in ("std", "var", "mean"):
            twin, numpy_fn = TWINS[name]
            assert twin(view) == numpy_fn(view), (name, view.shape)


@pytest.mark.parametrize(
    "view",
    [
        pytest.param(np.arange(40.0)[::-1], id="negative-stride"),
        pytest.param(np.arange(40.0).reshape(5, 8).T, id="transposed"),
        pytest.param(np.zeros((3, 9000))[:, 1:], id="rows-past-the-buffer"),
        pytest.param(np.zeros((190, 250, 3))[:, :, 0], id="one-even-run-past-the-buffer"),
        pytest.param(np.zeros(0), id="empty"),
    ],
)
def test_layouts_outside_the_model_defer_to_the_interpreter(view: np.ndarray) -> None:
    for name in ("mean", "std", "var"):
        with pytest.raises(JitDeferred):
            TWINS[name][0](view)


def test_nan_and_infinity_propagate_as_numpy_does() -> None:
    x = np.array([1.0, np.inf, -np.inf, 2.0] * 5)
    for twin, numpy_fn in TWINS.values():
        assert np.isnan(twin(x)) and np.isnan(numpy_fn(x))
    y = np.array([1e308, 1e308, -1e308] * 3)  # overflows in one order of additions only
    for twin, numpy_fn in TWINS.values():
        got, want = twin(y), numpy_fn(y)
        assert got == want or (np.isnan(got) and np.isnan(want))


def test_float32_stays_refused_at_typing() -> None:
    with pytest.raises(numba.core.errors.TypingError, match="summation order"):
        TWINS["std"][0](np.zeros(4, np.float32))


RELOAD = """
import sys
import numpy as np
from pathlib import Path
from sandbox.jit import Kernel, build_kernel
source = "import numpy as np\\ndef check(frame):\\n    return (frame * 0.1).std() > 10.0\\n"
kernel = build_kernel(source, cache_dir=Path(sys.argv[1]))
assert isinstance(kernel, Kernel), kernel
frames = np.random.default_rng(0).integers(0, 256, (2, 40, 40, 3), dtype=np.uint8)
frames[1] //= 8
frames.setflags(write=False)
out = np.zeros(2, np.bool_)
kernel.run(frames, frames, out)
print(out.tolist() == [bool((f * 0.1).std() > 10.0) for f in frames], kernel.cached)
"""


@pytest.mark.long  # 12 s: make test-long (test_jit checks a fresh process hits the cache)
def test_a_cached_float_reduction_kernel_reloads_in_a_fresh_process(tmp_path: Path) -> None:
    # A recursive helper made Numba's cache unloadable: LLVM aborted the second process.
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for cached in (False, True):
        done = subprocess.run(
            [sys.executable, "-c", RELOAD, str(tmp_path)],
            capture_output=True, text=True, timeout=300, env=env, check=False
        )  # fmt: skip
        assert done.returncode == 0, done.stderr[-2000:]
        assert done.stdout.split() == ["True", str(cached)]


def _two(twin: Any) -> Any:
    @numba.njit
    def call(a: Any, b: Any) -> Any:
        return twin(a, b)

    return call


UNIQUE = kernel_calling(jit_helpers.vlmcar_unique)
UNIQUE_ROWS = kernel_calling(jit_helpers.vlmcar_unique_rows)
ISIN = _two(jit_helpers.vlmcar_isin)
MASKED = _two(jit_helpers.vlmcar_masked)
INTEGER_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint32, np.int64, np.uint64)


def same_array(got: Any, expected: np.ndarray) -> bool:
    return bool(
        got.dtype == expected.dtype and got.shape == expected.shape and (got == expected).all()
    )


#: Each dtype compiles the twins afresh (~5 s): int8 (signed order, the packing's offset) runs in
#: `make test`, the other types under `make test-long`.
UNIQUE_DTYPES = [
    d if d is np.int8 else pytest.param(d, marks=pytest.mark.long) for d in INTEGER_DTYPES
]


@pytest.mark.parametrize("dtype", UNIQUE_DTYPES, ids=lambda d: np.dtype(d).name)
def test_unique_of_values_and_rows_is_numpys(dtype: Any) -> None:
    """Sorted, distinct, numpy's dtype; rows in numpy's order (signed types compare signed)."""
    info = np.iinfo(dtype)
    rng = np.random.default_rng(int(info.bits) + int(info.min < 0))
    checked = 0
    for trial in range(24):
        wide = trial % 2 == 1  # the type's whole range, else few values (many duplicates)
        lo, hi = (int(info.min), int(info.max)) if wide else (0, 4)
        for width in (1, 2, 3, 8):
            if width * info.bits > 64:
                continue
            a = rng.integers(lo, hi, (int(rng.integers(0, 50)), width), dtype=dtype, endpoint=True)
            if trial % 3 == 0:
                a = a[::2]  # a strided view
            assert same_array(UNIQUE_ROWS(a), np.unique(a, axis=0)), (a.dtype, a.shape)
            assert same_array(UNIQUE(a), np.unique(a)), (a.dtype, a.shape)
            checked += 1
    assert checked >= 24


def test_unique_rows_too_wide_to_pack_defer() -> None:
    with pytest.raises(JitDeferred):
        UNIQUE_ROWS(np.zeros((3, 9), np.uint8))  # 72 bits
    with pytest.raises(JitDeferred):
        UNIQUE_ROWS(np.zeros((3, 0), np.int32))


def test_unique_and_isin_refuse_floats_and_bools_at_typing() -> None:
    for twin in (UNIQUE, UNIQUE_ROWS):
        for a in (np.zeros((2, 2)), np.zeros((2, 2), np.bool_)):
            with pytest.raises(numba.core.errors.TypingError):
                twin(a)
    with pytest.raises(numba.core.errors.TypingError):
        ISIN(np.zeros(3), np.zeros(2))
    with pytest.raises(numba.core.errors.TypingError):
        ISIN(np.zeros(3, np.uint64), np.zeros(2, np.int64))  # no exact common type


def test_isin_is_numpys_across_integer_types() -> None:
    rng = np.random.default_rng(3)
    for left, right in ((np.uint8, np.uint8), (np.int16, np.int64), (np.int64, np.uint8)):
        for _ in range(4):  # wrapped, negative and out-of-range values; empty tables
            a = rng.integers(-300 if np.iinfo(left).min < 0 else 0, 256, (7, 5)).astype(left)
            b = rng.integers(-5, 260, int(rng.integers(0, 9))).astype(right)
            assert same_array(ISIN(a, b), np.isin(a, b)), (left, right, b)
    big = np.array([2**63 + 5, 7], np.uint64)
    assert same_array(ISIN(big, np.array([2**63 + 5], np.uint64)), np.array([True, False]))


@pytest.mark.long
def test_masked_selection_of_views_is_numpys() -> None:
    rng = np.random.default_rng(5)
    frame = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    view = frame[::2, 1:, 1]
    assert same_array(MASKED(view, view > 99), view[view > 99])
    assert same_array(MASKED(frame[:, :, 0], np.zeros((6, 7), np.bool_)), frame[:0, 0, 0])


def test_masked_selection_is_numpys() -> None:
    rng = np.random.default_rng(4)
    frame = rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
    mask = frame[:, :, 0] > 128
    assert same_array(MASKED(frame, mask), frame[mask])  # (n, 3) rows
    assert same_array(MASKED(frame, frame > 50), frame[frame > 50])  # elements, C order
    with pytest.raises(IndexError):
        MASKED(frame, mask[:5])  # numpy raises too
    with pytest.raises(IndexError):
        MASKED(frame[:, :, 0], mask[:, :6])
    # anything else is numba's own indexing, bounds-checked inside the overload
    assert MASKED(frame[:, 0, 0], 2) == frame[2, 0, 0]
    with pytest.raises(IndexError):
        MASKED(frame[:, 0, 0], 6)


HYPOT = jit_helpers.vlmcar_math_hypot
DIST = _two(jit_helpers.vlmcar_math_dist)


def _same_float(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def test_hypot_and_dist_are_cpythons_bit_for_bit() -> None:
    """CPython's vector_norm, not C's hypot (which differed in the last bit on 335 of 200,000
    random pairs): magnitudes from subnormal to 1e308, equal points, inf, NaN, signed zeros."""
    rng = np.random.default_rng(11)
    specials = [math.inf, -math.inf, math.nan, 0.0, -0.0, 5e-324, 1e308]
    for i in range(20_000):
        exponents = rng.integers(-320, 308, 4) if i % 5 == 0 else rng.integers(-3, 4, 4)
        a, b, c, d = (rng.standard_normal(4) * 10.0**exponents).tolist()
        if i % 13 == 0:
            c = a
        if i % 11 == 0:
            a, b = float(rng.choice(specials)), float(rng.choice(specials))
        assert _same_float(HYPOT(a, b), math.hypot(a, b)), (a, b)
        assert _same_float(DIST((a, b), (c, d)), math.dist((a, b), (c, d))), (a, b, c, d)
    for n in range(1, 6):
        p, q = rng.standard_normal(n) * 50, rng.integers(-9, 9, n)
        assert _same_float(DIST(p, q), math.dist(p.tolist(), q.tolist()))
    with pytest.raises(ValueError, match="same number of dimensions"):
        DIST((1.0, 2.0), (1.0, 2.0, 3.0))


def test_a_kernels_lists_and_dicts_defer_past_the_container_cap() -> None:
    """Past the cap the interpreter answers (its memory budget decides, not a native one)."""
    cap = jit_helpers.CONTAINER_CAP
    jit_helpers.vlmcar_list_cap([0] * cap)  # at the cap: fine
    with pytest.raises(JitDeferred):
        jit_helpers.vlmcar_list_cap([0] * (cap + 1))
    entries = numba.typed.Dict.empty(numba.types.int64, numba.types.int64)
    for k in range(cap + 1):
        entries[k] = k
    with pytest.raises(JitDeferred):
        jit_helpers.vlmcar_dict_cap(entries)


def test_twins_are_compiled_with_bounds_checks() -> None:
    """An overload does not inherit the kernel's boundscheck; the module's ``overload`` sets it,
    so a twin's wrong index is an IndexError (the interpreter answers), not a stray write."""

    def peek(a: Any, i: Any) -> Any:
        return a[i]  # pragma: no cover - only called in compiled code

    @jit_helpers.overload(peek)
    def _peek(a: Any, i: Any) -> Any:
        def impl(a: Any, i: Any) -> Any:
            return a[i]

        return impl

    @numba.njit(cache=False)
    def call(a: Any, i: Any) -> Any:
        return peek(a, i)

    assert call(np.arange(3), 2) == 2
    with pytest.raises(IndexError):
        call(np.arange(3), 5)
