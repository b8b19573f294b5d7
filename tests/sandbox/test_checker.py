"""Tests for sandbox/checker.py and the layers it assembles (guards, facade, budgets, contract)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox import (
    AuditError,
    BudgetError,
    Budgets,
    CapabilityViolation,
    CheckerFailed,
    ContractViolation,
    FrameError,
    compile_checker,
)
from tests.sandbox.conftest import scene


def body(code: str, *, imports: str = "import numpy as np\nimport math\n") -> str:
    """A checker whose body is ``code`` (indented for you)."""
    lines = "\n".join("    " + line for line in code.strip("\n").splitlines())
    return f"{imports}\ndef check(frame):\n{lines}\n"


FRAME = scene(rects=[(2, 3, 6, 9, (255, 255, 0)), (10, 10, 12, 12, (255, 0, 0))])


# --- the happy path -------------------------------------------------------------------------


def test_call_and_batch_agree() -> None:
    c = compile_checker(body("return bool(count_color(frame, (255, 255, 0), 0) > 10)"))
    frames = np.stack([FRAME, np.zeros_like(FRAME), FRAME])
    assert c(FRAME) is True
    out = c.batch(frames)
    assert out.dtype == np.bool_ and out.tolist() == [True, False, True]


def test_two_argument_checker_receives_first_frame() -> None:
    src = "def check(frame, first):\n    return changed_fraction(frame, first, 10) > 0.01\n"
    c = compile_checker(src)
    assert c.arity == 2
    assert c(FRAME, np.zeros_like(FRAME)) is True
    assert c(FRAME) is False  # first defaults to the frame itself
    firsts = np.stack([FRAME, np.zeros_like(FRAME)])
    assert c.batch(np.stack([FRAME, FRAME]), firsts).tolist() == [False, True]


def test_numpy_bool_results_become_python_bool() -> None:
    c = compile_checker(body("return frame.mean() > 1"))
    assert c(FRAME) is True


def test_checker_owned_arrays_are_writable() -> None:
    c = compile_checker(
        body("g = frame.astype(np.int16)\ng[g < 50] = 0\ng[0, 0, 0] += 1\nreturn bool(g.sum() > 0)")
    )
    assert c(FRAME) is True


def test_lists_dicts_and_augmented_items_work() -> None:
    src = body(
        """
counts = {}
seen = []
for c in range(3):
    counts[c] = 0
    counts[c] += int(frame[..., c].sum() > 0)
    seen.append(c)
return sum(counts.values()) == 2 and len(seen) == 3
"""
    )
    assert compile_checker(src)(FRAME) is True


def test_helper_functions_lambdas_and_comprehensions() -> None:
    src = """
import numpy as np

def channel_means(frame):
    return [float(frame[..., c].mean()) for c in range(3)]

def check(frame):
    means = channel_means(frame)
    best = max(range(3), key=lambda c: means[c])
    return best == 0 and all(m >= 0 for m in means)
"""
    assert compile_checker(src)(FRAME) is True


# --- frames are never changed and cannot be made writable -----------------------------------


WRITE_ATTEMPTS = [
    "frame[0, 0, 0] = 1\nreturn True",
    "v = frame.reshape(-1)\nv[0] = 1\nreturn True",
    "frame.sort()\nreturn True",
    "np.clip(frame, 0, 1, out=frame)\nreturn True",
]


@pytest.mark.parametrize("attempt", WRITE_ATTEMPTS)
def test_frame_cannot_be_written(attempt: str) -> None:
    frame = FRAME.copy()
    c = compile_checker(body(attempt))
    with pytest.raises((CapabilityViolation, CheckerFailed)):
        c(frame)
    np.testing.assert_array_equal(frame, FRAME)


def test_augmented_assignment_on_the_frame_rebinds_and_leaves_it_alone() -> None:
    frame = FRAME.copy()
    c = compile_checker(body("x = frame\nx += 1\nreturn bool(x[0, 0, 0] == frame[0, 0, 0] + 1)"))
    assert c(frame) is True
    np.testing.assert_array_equal(frame, FRAME)


def test_frame_view_refuses_setflags() -> None:
    from sandbox.frames import readonly_batch

    ro = readonly_batch(FRAME[None])
    with pytest.raises(ValueError, match="WRITEABLE"):
        ro[0].setflags(write=True)


@settings(max_examples=40, deadline=None, database=None)
@given(
    st.sampled_from(
        [
            "return bool(frame.mean() > 50)",
            "g = frame.astype(np.int16)\ng[g < 50] = 0\nreturn bool(g.mean() > 1)",
            "m = color_mask(frame, (255, 255, 0), 20)\nreturn pixel_count(m) > 3",
            "return bool(np.sort(frame.reshape(-1))[-1] > 10)",
            "c = frame.copy()\nc[...] = 0\nreturn bool(c.sum() == 0)",
        ]
    ),
    st.integers(0, 255),
    st.integers(0, 28),
)
def test_frame_is_unchanged_after_any_call(code: str, value: int, offset: int) -> None:
    frame = scene(
        background=(value, 255 - value, value // 2),
        rects=[(offset, offset, offset + 4, offset + 4, (255, 255, 0))],
    )
    before = frame.copy()
    compile_checker(body(code))(frame)
    np.testing.assert_array_equal(frame, before)


# --- capability surface ------------------------------------------------------------------------


VIOLATIONS = [
    "return bool(np.zeros(3, dtype='O').size)",
    "return bool(frame.astype('object').size)",
    "return bool(np.array([check]).size)",
    "return bool(np.where(frame > 1, check, 0).size)",
    "return bool(np.sum(frame, dtype='O'))",
    "return bool(frame.dtype.type)",
    "return 'x' % 3 == 'x'",
    "x = [1]\nreturn bool(x.sort(key=frame.mean) is None and frame.data)",
]


@pytest.mark.parametrize("code", VIOLATIONS)
def test_capability_violations_are_refused(code: str) -> None:
    try:
        checker = compile_checker(body(code))
    except AuditError:
        return  # refused even earlier, by the audit
    with pytest.raises(CapabilityViolation):
        checker(FRAME)


def test_violation_names_checker_and_line() -> None:
    checker = compile_checker(body("x = 1\nreturn bool(np.zeros(2, dtype='O'))"), path="v.py")
    with pytest.raises(CapabilityViolation) as info:
        checker(FRAME)
    assert info.value.checker == "v.py" and info.value.line == 6
    assert str(info.value).startswith("v.py:6: violation:")


# --- budgets -------------------------------------------------------------------------------


BUDGET_BREAKERS = [
    "n = 0\nfor i in range(10 ** 8):\n    n += 1\nreturn n > 0",
    "n = 0\nwhile n >= 0:\n    n += 1\nreturn True",
    "return len([i for i in range(10 ** 9)]) > 0",
    "return len('ab' * 10 ** 8) > 0",
    "return len([0] * 10 ** 8) > 0",
    "return bool(np.zeros((10 ** 5, 10 ** 5)).size)",
    "return bool(np.arange(10 ** 12).size)",
    "return bool(np.ones(10 ** 9, dtype=np.uint8).size)",
    "a = np.zeros(40000)\nreturn bool((a.reshape(-1, 1) - a.reshape(1, -1)).size)",
]
# Integer overflow wraps to int64 and out-of-range conversions raise OverflowError (the JIT path's
# semantics): see tests/sandbox/test_guards.py. Iterating arrays in builtins is counted, not refused.


@pytest.mark.parametrize("code", BUDGET_BREAKERS)
def test_budgets_stop_runaway_checkers(code: str) -> None:
    checker = compile_checker(body(code))
    with pytest.raises(BudgetError):
        checker(FRAME)


def test_budget_cannot_be_swallowed_by_except_exception() -> None:
    src = body(
        """
n = 0
for i in range(10 ** 8):
    try:
        n += 1
    except Exception:
        n = 0
return n > 0
"""
    )
    with pytest.raises(BudgetError):
        compile_checker(src, budgets=Budgets(max_iterations=1000))(FRAME)


def test_recursion_is_stopped() -> None:
    src = "def down(n):\n    return down(n + 1)\n\ndef check(frame):\n    return down(0)\n"
    with pytest.raises(BudgetError):
        compile_checker(src)(FRAME)


def test_budgets_reset_between_calls() -> None:
    c = compile_checker(
        body("n = 0\nfor i in range(600):\n    n += 1\nreturn n > 0"),
        budgets=Budgets(max_iterations=1000),
    )
    assert all(c(FRAME) for _ in range(5))


@pytest.mark.parametrize("bad", [0, -1, 1.5, "10", None])
def test_budgets_validate(bad: object) -> None:
    with pytest.raises(ValueError, match="max_iterations"):
        Budgets(max_iterations=bad)  # type: ignore[arg-type]


# --- result contract ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "ret",
    [
        "float('nan')",
        "frame.mean()",
        "frame > 1",
        "1",
        "None",
        "[True]",
        "(x for x in [1])",
        "np.float64(1)",
        "np.int64(0)",
        "frame[0, 0, 0]",
    ],
)
def test_result_contract(ret: str) -> None:
    checker = compile_checker(body(f"return {ret}"))
    with pytest.raises(ContractViolation) as info:
        checker(FRAME)
    assert info.value.status == "contract"


# --- ordinary failures and bad frames -------------------------------------------------------


def test_checker_exception_is_reported_with_type_and_line() -> None:
    checker = compile_checker(body("x = [1]\nreturn x[5] > 0"), path="e.py")
    with pytest.raises(CheckerFailed, match="IndexError") as info:
        checker(FRAME)
    assert info.value.line == 6 and info.value.status == "error"


BAD_FRAMES = [
    (np.zeros((4, 4, 3), np.float32), "uint8"),
    (np.zeros((4, 4), np.uint8), "shape"),
    (np.zeros((4, 4, 4), np.uint8), "shape"),
    (np.zeros((0, 4, 3), np.uint8), "height"),
    ([[[0, 0, 0]]], "list"),
    (None, "NoneType"),
]


@pytest.mark.parametrize(("frame", "problem"), BAD_FRAMES)
def test_bad_frames_are_refused_with_a_clear_error(frame: object, problem: str) -> None:
    checker = compile_checker(body("return True"))
    with pytest.raises(FrameError, match=problem):
        checker(frame)  # type: ignore[arg-type]


def test_bad_batches_are_refused() -> None:
    checker = compile_checker(body("return True"))
    with pytest.raises(FrameError, match="frames"):
        checker.batch(FRAME)
    with pytest.raises(FrameError, match="firsts"):
        checker.batch(FRAME[None], np.zeros((1, 8, 8, 3), np.uint8))
    assert checker.batch(np.zeros((0, 4, 4, 3), np.uint8)).shape == (0,)


def test_audit_error_carries_findings() -> None:
    with pytest.raises(AuditError) as info:
        compile_checker("import os\ndef check(frame):\n    return True\n", path="bad.py")
    assert [f.code for f in info.value.findings] == ["I301"]
    assert "bad.py" in str(info.value)


def test_checkers_do_not_share_state() -> None:
    a = compile_checker(body("return True"))
    b = compile_checker(body("return False"))
    assert a(FRAME) is True and b(FRAME) is False
    assert a.sha256 != b.sha256


def test_container_growth_methods_are_bounded() -> None:
    doubling = body("x = [0]\nfor i in range(40):\n    x.extend(x)\nreturn len(x) > 0")
    with pytest.raises(BudgetError):
        compile_checker(doubling)(FRAME)
    fine = body(
        "x = [1, 2]\nx.extend((3, 4))\ns = set()\ns.update([1, 2])\nd = {}\nd.update({1: 2})\nreturn len(x) + len(s) + len(d) == 7"
    )
    assert compile_checker(fine)(FRAME) is True


def test_numpy_error_paths_inside_a_checker_are_errors_not_violations() -> None:
    # numpy's C code imports numpy._core._dtype to format this OverflowError, through the
    # checker's own __import__: that must not turn into an "import not allowed" violation.
    source = (
        "import numpy as np\n\ndef check(frame):\n    g = np.zeros(4, np.uint8)\n"
        "    g[0] = int(frame[0, 0, 0]) + 300\n    return True\n"
    )
    with pytest.raises(CheckerFailed, match="OverflowError"):
        compile_checker(source)(FRAME)
    caught = source.replace(
        "    g[0] = int(frame[0, 0, 0]) + 300\n",
        "    try:\n        g[0] = int(frame[0, 0, 0]) + 300\n    except OverflowError:\n"
        "        return False\n",
    )
    assert compile_checker(caught)(FRAME) is False


def test_checker_imports_of_numpy_internals_stay_refused() -> None:
    from sandbox.errors import Denied
    from sandbox.guards import guarded_import

    for fromlist in (None, ("x",), ["x"]):
        with pytest.raises(Denied, match="not allowed"):
            guarded_import(None, None, "numpy._core._dtype", {}, {}, fromlist, 0)  # type: ignore[arg-type]
    with pytest.raises(Denied):
        guarded_import(None, None, "os", {}, {}, [], 0)  # type: ignore[arg-type]
