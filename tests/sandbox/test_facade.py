"""The numpy and math facades on their own: what each entry is, converts, refuses and charges."""

from __future__ import annotations

import math
import types
from typing import Any

import numpy as np
import pytest

from sandbox import Budgets
from sandbox.budgets import INT_MIN, Meter, wrap_int
from sandbox.errors import BudgetExceeded, Denied
from sandbox.facade import (
    MAX_DOT_PRODUCTS,
    Facade,
    FacadeType,
    check_dtype,
    make_math_facade,
    make_numpy_facade,
    python_number,
    real_type,
    strong_scalar,
)
from sandbox.surface import NUMPY_CONSTANTS, NUMPY_DTYPES, NUMPY_FUNCTIONS, NUMPY_TYPES


def np_(**limits: Any) -> Facade:
    meter = Meter(Budgets(**limits))
    meter.reset()
    return make_numpy_facade(meter)


def call(facade: Facade, name: str, *args: Any, **kwargs: Any) -> Any:
    return facade.lookup(name)(*args, **kwargs)


# -- what the facade holds -------------------------------------------------------------------------


def test_facade_holds_no_numpy_object_a_checker_could_walk() -> None:
    f = np_()
    for name in f.names():
        value = f.lookup(name)
        assert not isinstance(value, types.ModuleType), name
        assert not isinstance(value, np.ufunc | type | types.BuiltinFunctionType), name
        if isinstance(value, Facade):  # np.linalg, np.logical_and (with its reduce)
            for member in value.names():
                assert not isinstance(value.lookup(member), np.ufunc | types.BuiltinFunctionType)
    assert f.names() == NUMPY_FUNCTIONS | NUMPY_DTYPES | NUMPY_CONSTANTS | NUMPY_TYPES | {"linalg"}
    linalg = f.lookup("linalg")
    assert type(linalg) is Facade and linalg.names() == {"norm"}
    with pytest.raises(Denied, match=r"np\.linalg\.svd is not available"):
        linalg.lookup("svd")


# -- numbers -----------------------------------------------------------------------------------------


def test_python_number_wraps_integers_and_keeps_the_rest() -> None:
    assert python_number(np.uint64(2**64 - 1)) == -1
    assert python_number(np.uint64(2**63)) == INT_MIN
    assert type(python_number(np.float32(0.5))) is float
    assert python_number(np.bool_(True)) is True
    frame = np.zeros(1)
    assert python_number(frame) is frame and python_number("x") == "x"


def test_strong_scalars_are_int64_and_float64() -> None:
    assert type(strong_scalar(3)) is np.int64 and type(strong_scalar(0.5)) is np.float64
    assert strong_scalar(True) is True


def test_integer_results_wrap_instead_of_failing() -> None:
    f = np_()
    full = np.full(8, 255, np.uint8)
    assert call(f, "prod", full) == wrap_int(255**8)  # a wrapped uint64 in numpy: same 64 bits
    assert type(call(f, "sum", full)) is int
    assert call(f, "max", np.array([2**64 - 1], np.uint64)) == -1


# -- scalar types --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("uint8", 300, 44),
        ("uint8", -1, 255),
        ("int8", 200, -56),
        ("uint64", -1, -1),
        ("int64", 3.7, 3),
        ("bool_", 2, True),
        ("float64", 1, 1.0),
    ],
)
def test_scalar_types_cast_like_native_code(name: str, value: Any, expected: Any) -> None:
    result = call(np_(), name, value)
    assert result == expected and type(result) is type(expected)


def test_scalar_types_still_name_dtypes() -> None:
    f = np_()
    uint8 = f.lookup("uint8")
    assert real_type(uint8) is np.uint8
    assert call(f, "zeros", 2, dtype=uint8).dtype == np.uint8
    assert call(f, "array", [1, 2], uint8).dtype == np.uint8
    check_dtype(uint8)


def test_scalar_types_convert_arrays_charged_and_refuse_strings() -> None:
    f = np_(max_array_bytes=1000)
    with pytest.raises(BudgetExceeded):
        call(f, "int64", np.zeros(1000, np.uint8))  # 8000 bytes
    with pytest.raises(Denied, match="option"):
        call(np_(), "int64", "5")


def test_float32_values_come_back_as_floats() -> None:
    assert call(np_(), "float32", 0.1) == float(np.float32(0.1))


# -- np.ndarray: isinstance only -----------------------------------------------------------------------


def test_ndarray_is_for_isinstance_only() -> None:
    f = np_()
    nd = f.lookup("ndarray")
    assert type(nd) is FacadeType and real_type(nd) is np.ndarray
    assert isinstance(np.zeros(1), real_type(nd)) and not isinstance(3, real_type(nd))
    with pytest.raises(Denied, match="cannot be called"):
        nd((3,))
    with pytest.raises(Denied, match="dtype=ndarray"):
        check_dtype(nd)
    with pytest.raises(Denied, match="dtype=ndarray"):
        call(f, "zeros", 3, dtype=nd)
    with pytest.raises(Denied, match="dtype=ndarray"):
        call(f, "array", [1], nd)


# -- np.dot ---------------------------------------------------------------------------------------------


def test_dot_of_frame_and_vector_is_the_numpy_answer() -> None:
    frame = np.arange(2 * 3 * 3, dtype=np.float64).reshape(2, 3, 3)
    weights = [0.299, 0.587, 0.114]
    np.testing.assert_array_equal(call(np_(), "dot", frame, weights), np.dot(frame, weights))
    assert call(np_(), "dot", [1, 2], [3, 4]) == 11
    a = np.ones((50, 40))
    np.testing.assert_array_equal(call(np_(), "dot", a, a.T), np.dot(a, a.T))


def test_dot_refuses_large_matrix_products_before_running() -> None:
    side = round(MAX_DOT_PRODUCTS ** (1 / 3)) + 16
    a = np.ones((side, side))
    with pytest.raises(Denied, match="multiply-adds"):
        call(np_(), "dot", a, a)


def test_dot_takes_exactly_two_operands() -> None:
    a = np.ones(3)
    with pytest.raises(Denied, match="exactly two"):
        call(np_(), "dot", a, a, np.zeros(()))  # numpy's third positional is out=
    with pytest.raises(Denied, match="out="):
        call(np_(), "dot", a, a, out=np.zeros(()))
    with pytest.raises(Denied, match="dtype object"):
        call(np_(), "dot", np.array([None]), np.array([None]))


def test_dot_output_is_charged_before_it_exists() -> None:
    f = np_(max_array_bytes=100_000)
    with pytest.raises(BudgetExceeded):
        call(f, "dot", np.ones((200, 1)), np.ones((1, 200)))  # 320,000 bytes, 40,000 products


# -- np.linalg.norm -------------------------------------------------------------------------------------


def test_norm_computes_one_pass_norms() -> None:
    norm = np_().lookup("linalg").lookup("norm")
    x = np.array([[3.0, 4.0], [6.0, 8.0]])
    np.testing.assert_array_equal(norm(x, axis=1), [5.0, 10.0])
    assert norm(x) == np.linalg.norm(x) and type(norm(x)) is float
    assert norm(x[0], ord=math.inf) == 4.0 and norm(x, ord=1) == 12.0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ord": 2}, "of a matrix"),
        ({"ord": -2}, "of a matrix"),
        ({"ord": 2, "axis": (0, 1)}, "of a matrix"),
        ({"ord": 3, "axis": 1}, "of a vector"),
        ({"ord": "fro"}, "option 'fro'"),
        ({"ord": "nuc"}, "option 'nuc'"),
        ({"ord": True, "axis": 1}, "of a vector"),
    ],
)
def test_norm_refuses_what_needs_singular_values(kwargs: dict[str, Any], message: str) -> None:
    norm = np_().lookup("linalg").lookup("norm")
    with pytest.raises(Denied, match=message):
        norm(np.ones((4, 4)), **kwargs)


def test_norm_takes_options_by_name_and_is_charged() -> None:
    norm = np_().lookup("linalg").lookup("norm")
    with pytest.raises(Denied, match="by name"):
        norm(np.ones(3), 2)
    norm = np_(max_array_bytes=10_000).lookup("linalg").lookup("norm")
    with pytest.raises(BudgetExceeded):
        norm(np.ones(1000))  # a squared float copy: 16,000 bytes


# -- math ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc"])
def test_math_integer_functions_refuse_what_does_not_fit(name: str) -> None:
    fn = make_math_facade().lookup(name)
    assert fn(-2.5) == getattr(math, name)(-2.5)
    assert fn(-(2.0**63)) == INT_MIN
    with pytest.raises(OverflowError, match="64-bit"):
        fn(2.0**63)
    with pytest.raises(OverflowError):
        fn(math.inf)
    with pytest.raises(ValueError):
        fn(math.nan)


# -- ufunc methods ------------------------------------------------------------------------------------


def test_logical_reductions_work_and_are_charged() -> None:
    f = np_()
    masks = [np.array([True, True, False]), np.array([True, False, False])]
    np.testing.assert_array_equal(f.lookup("logical_and").lookup("reduce")(masks), [1, 0, 0])
    np.testing.assert_array_equal(f.lookup("logical_or").lookup("reduce")(masks), [1, 1, 0])
    np.testing.assert_array_equal(call(f, "logical_and", masks[0], masks[1]), [1, 0, 0])
    with pytest.raises(Denied, match=r"np\.logical_and\.accumulate is not available"):
        f.lookup("logical_and").lookup("accumulate")
    big = np_(max_array_bytes=10**6)
    with pytest.raises(BudgetExceeded):  # the list is stacked into one array first
        big.lookup("logical_and").lookup("reduce")([np.zeros(100_000, bool)] * 20)
    with pytest.raises(Denied, match="out="):
        f.lookup("logical_or").lookup("reduce")(masks, out=np.zeros(3, bool))


# -- numpy functions that loop in Python over an argument --------------------------------------


def test_diff_with_a_huge_order_is_charged_and_finishes() -> None:
    x = np.arange(64, dtype=np.int64)
    with pytest.raises(BudgetExceeded, match="array_bytes"):
        call(np_(), "diff", np.zeros(200_000, np.uint8), n=10**12)
    # capped at the axis length: the same (empty) answer numpy gives after n passes
    for n in (63, 64, 65, 10**12):
        got = call(np_(), "diff", x, n)
        assert got.shape == np.diff(x, n=min(n, 64)).shape == (0,) or n == 63
    np.testing.assert_array_equal(call(np_(), "diff", x, 3), np.diff(x, 3))
    np.testing.assert_array_equal(
        call(np_(), "diff", x.reshape(8, 8), n=2, axis=0), np.diff(x.reshape(8, 8), n=2, axis=0)
    )


@pytest.mark.parametrize(
    ("name", "args"),
    [
        ("array", ([range(10**8), range(10**8)],)),
        ("sum", (range(10**9),)),
        ("bincount", (np.array([1]), None, 2**27)),
        ("ones_like", (np.zeros(1), None, "C", True, (30000, 30000))),
        ("histogram", (np.zeros(4), range(10**8))),
    ],
    ids=["list-of-ranges", "range", "positional-minlength", "positional-shape", "range-bins"],
)
def test_sizes_given_by_ranges_or_positionally_are_charged_first(name: str, args: tuple) -> None:
    with pytest.raises(BudgetExceeded, match="array_bytes"):
        call(np_(), name, *args)
