"""The JIT's float64 sum, mean, std and var twins add in numpy's order, bit for bit, or defer.

numpy's order of additions (pairwise within a run, chunked through its 8192-element buffer for
views that are not C-contiguous) was measured, not read from its source; these tests hold the twins
to numpy on views of every kind the twins accept, with values spread over 16 orders of magnitude
so that any other order shows, and check that the layouts they do not model defer.
"""

from __future__ import annotations

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
