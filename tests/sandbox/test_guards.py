"""Each run-time guard on its own: what it allows, what it refuses (and says), what it counts/charges.

The guards are plain functions of :mod:`sandbox.guards` (``meter`` first where they count or charge),
so these tests call them directly, with budgets small enough that a missing charge or count shows.
The last section runs checkers through the real :class:`~sandbox.Sandbox`: every allocation path the
L4 meter must see, driven past the byte budget inside a worker, fails with the ``budget`` status.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest

from sandbox import Budgets, compile_checker
from sandbox.budgets import INT_MAX, INT_MIN, Meter, wrap_int
from sandbox.errors import BudgetExceeded, Denied
from sandbox.facade import Facade, make_math_facade, make_numpy_facade
from sandbox.guards import (
    array_items,
    counted,
    guarded_abs,
    guarded_all,
    guarded_any,
    guarded_compare,
    guarded_compare_chain,
    guarded_dict,
    guarded_divmod,
    guarded_enter,
    guarded_enumerate,
    guarded_getattr,
    guarded_getitem,
    guarded_helper,
    guarded_import,
    guarded_inplacevar,
    guarded_int,
    guarded_isinstance,
    guarded_iter,
    guarded_list,
    guarded_map,
    guarded_max,
    guarded_min,
    guarded_range,
    guarded_reversed,
    guarded_round,
    guarded_set,
    guarded_sorted,
    guarded_sum,
    guarded_tick,
    guarded_tuple,
    guarded_unaryop,
    guarded_write,
    guarded_zip,
    make_namespace,
    refuse_apply,
)
from sandbox.pool import Sandbox
from sandbox.surface import BUILTIN_NAMES, EXCEPTION_NAMES, RESERVED_NAMES
from sandbox.vision import VISION_HELPERS
from tests.sandbox.conftest import scene


def fresh(**limits: Any) -> Meter:
    meter = Meter(Budgets(**limits))
    meter.reset()
    return meter


@pytest.fixture
def meter() -> Meter:
    return fresh()


def drain(items: Iterator[Any]) -> list[Any]:
    return list(items)


FRAME = np.zeros((4, 5, 3), np.uint8)
FRAME[1, 2] = (255, 255, 0)
FRAME.flags.writeable = False


# -- counted iteration ---------------------------------------------------------------------------


def test_counted_counts_every_item_and_stops_at_the_budget() -> None:
    m = fresh(max_iterations=5)
    assert drain(counted(m, range(5))) == [0, 1, 2, 3, 4]
    assert m.iterations == 5
    with pytest.raises(BudgetExceeded) as info:
        drain(counted(m, "x"))
    assert info.value.budget == "iterations"


def test_array_items_gives_python_numbers_for_vectors(meter: Meter) -> None:
    pixel = FRAME[1, 2]
    items = drain(array_items(meter, pixel))
    assert items == [255, 255, 0] and all(type(v) is int for v in items)
    assert items[0] + 100 == 355  # not a wrapping uint8
    assert drain(array_items(meter, np.array([0.5, 1.5], np.float32))) == [0.5, 1.5]
    assert drain(array_items(meter, np.array([True, False]))) == [True, False]


def test_array_items_wraps_uint64_like_every_integer(meter: Meter) -> None:
    big = np.array([2**64 - 1, 2**63], np.uint64)
    assert drain(array_items(meter, big)) == [-1, INT_MIN]


def test_array_items_gives_read_only_rows_of_a_frame(meter: Meter) -> None:
    rows = drain(array_items(meter, FRAME))
    assert len(rows) == 4 and rows[1].shape == (5, 3)
    assert not rows[1].flags.writeable
    with pytest.raises(Denied, match="read-only"):
        guarded_write(rows[1])


def test_array_items_are_counted_per_element() -> None:
    m = fresh(max_iterations=100)
    with pytest.raises(BudgetExceeded):
        drain(array_items(m, np.zeros(1000)))


def test_array_items_refuses_zero_dimensional_arrays(meter: Meter) -> None:
    with pytest.raises(TypeError, match="0-d"):
        drain(array_items(meter, np.array(3)))


def test_guarded_iter_refuses_non_containers_with_the_type(meter: Meter) -> None:
    with pytest.raises(Denied, match="iterating over int"):
        guarded_iter(meter, 3)
    with pytest.raises(Denied, match="iterating over builtin_function_or_method"):
        guarded_iter(meter, len)
    assert drain(guarded_iter(meter, {"a": 1})) == ["a"]


# -- attributes -----------------------------------------------------------------------------------


def test_getattr_refuses_underscores_and_unlisted_attributes(meter: Meter) -> None:
    with pytest.raises(Denied, match="'__class__' is not allowed"):
        guarded_getattr(meter, FRAME, "__class__")
    with pytest.raises(Denied, match="'base' of ndarray"):
        guarded_getattr(meter, FRAME, "base")
    with pytest.raises(Denied, match="'gi_frame' of tuple_iterator"):
        guarded_getattr(meter, iter(()), "gi_frame")
    with pytest.raises(Denied, match="attribute 3"):
        guarded_getattr(meter, FRAME, 3)  # type: ignore[arg-type]


def test_getattr_answers_facades_from_their_tables(meter: Meter) -> None:
    facade = Facade("demo", {"pi": 3.0})
    assert guarded_getattr(meter, facade, "pi") == 3.0
    with pytest.raises(Denied, match=r"demo\.os is not available"):
        guarded_getattr(meter, facade, "os")


def test_array_methods_are_screened_and_charged() -> None:
    m = fresh(max_array_bytes=1000)
    with pytest.raises(Denied, match="option 'O' is not allowed"):
        guarded_getattr(m, FRAME, "astype")("O")
    with pytest.raises(BudgetExceeded) as info:
        guarded_getattr(m, np.zeros(1000), "copy")()  # 8000 bytes
    assert info.value.budget == "array_bytes"


def test_tolist_is_charged_before_it_runs_and_wraps_uint64() -> None:
    m = fresh(max_array_bytes=10_000)
    with pytest.raises(BudgetExceeded):
        guarded_getattr(m, np.zeros(1000), "tolist")
    m = fresh()
    assert guarded_getattr(m, np.array([2**64 - 1], np.uint64), "tolist")() == [-1]


def test_array_scalar_results_are_wrapped_python_numbers(meter: Meter) -> None:
    prod = guarded_getattr(meter, np.full(8, 255, np.uint8), "prod")()
    assert type(prod) is int and prod == wrap_int(255**8)
    assert type(guarded_getattr(meter, FRAME, "size")) is int


def test_consuming_methods_count_their_argument() -> None:
    m = fresh(max_iterations=1000)
    with pytest.raises(BudgetExceeded):
        guarded_getattr(m, frozenset({1}), "issubset")(range(10**12))
    m = fresh(max_iterations=1000)
    with pytest.raises(BudgetExceeded):
        guarded_getattr(m, {1}, "union")(range(10**12))
    m = fresh(max_sequence_len=10)
    with pytest.raises(BudgetExceeded) as info:
        guarded_getattr(m, [0] * 8, "extend")([1, 2, 3])
    assert info.value.budget == "sequence_len"


def test_consuming_methods_keep_their_meaning(meter: Meter) -> None:
    xs = [1]
    guarded_getattr(meter, xs, "extend")(np.array([2, 3], np.uint8))
    assert xs == [1, 2, 3] and all(type(v) is int for v in xs)
    d = {"a": 1}
    guarded_getattr(meter, d, "update")({"b": 2}, c=3)
    assert d == {"a": 1, "b": 2, "c": 3}
    assert guarded_getattr(meter, {1, 2}, "union")([3]) == {1, 2, 3}
    assert guarded_getattr(meter, frozenset({1, 2}), "issuperset")(range(1, 3)) is True


@pytest.mark.parametrize(
    ("obj", "name"),
    [([0] * 1000, "copy"), ({i: i for i in range(200)}, "copy"), ("x" * 10_000, "upper")],
)
def test_copies_and_string_methods_are_charged(obj: Any, name: str) -> None:
    m = fresh(max_total_bytes=5000)
    with pytest.raises(BudgetExceeded) as info:
        guarded_getattr(m, obj, name)()
    assert info.value.budget == "total_bytes"


# -- items ------------------------------------------------------------------------------------------


def test_getitem_gives_pixels_as_python_numbers(meter: Meter) -> None:
    assert guarded_getitem(meter, FRAME, (1, 2, 0)) + 1 == 256
    assert guarded_getitem(meter, np.array([2**64 - 1], np.uint64), 0) == -1
    row = guarded_getitem(meter, FRAME, 1)
    assert row.shape == (5, 3) and not row.flags.writeable


def test_getitem_refuses_float_index_arrays_and_other_containers(meter: Meter) -> None:
    with pytest.raises(Denied, match="dtype float64"):
        guarded_getitem(meter, FRAME, np.array([0.0]))
    with pytest.raises(Denied, match="dtype float64"):
        guarded_getitem(meter, FRAME, (np.array([0.0]), 0))
    with pytest.raises(Denied, match="indexing into bytes"):
        guarded_getitem(meter, b"abc", 0)


def test_getitem_charges_fancy_index_outputs_before_they_exist() -> None:
    m = fresh(max_array_bytes=10_000)
    index = np.zeros(200, np.int64)
    with pytest.raises(BudgetExceeded):
        guarded_getitem(m, np.zeros((4, 4)), (index[:, None], index[None, :]))  # 200x200x8


@pytest.mark.parametrize("obj", [[0] * 2000, tuple(range(2000)), "y" * 20_000])
def test_getitem_charges_slices_of_sequences(obj: Any) -> None:
    m = fresh(max_total_bytes=10_000)
    with pytest.raises(BudgetExceeded):
        guarded_getitem(m, obj, slice(None, None, -1))
    assert guarded_getitem(fresh(), obj, 3) == obj[3]


def test_write_allows_only_containers_the_checker_made() -> None:
    mine = np.zeros(3)
    assert guarded_write(mine) is mine
    assert guarded_write([]) == []
    with pytest.raises(Denied, match="read-only"):
        guarded_write(FRAME)
    with pytest.raises(Denied, match="writing into tuple"):
        guarded_write((1, 2))
    with pytest.raises(Denied, match="writing into mappingproxy"):
        guarded_write(MappingProxyType({}))


# -- integer semantics (the JIT path's) -----------------------------------------------------------

INT_CASES = [
    ("+", 2**62, 2**62, INT_MIN),
    ("-", INT_MIN, 1, INT_MAX),
    ("*", INT_MIN, -1, INT_MIN),
    ("*", 2**40, 2**40, 0),
    ("//", INT_MIN, -1, INT_MIN),
    ("%", INT_MIN, -1, 0),
    ("//", -7, 2, -4),
    ("%", -7, 2, 1),
    ("**", 3, 64, wrap_int(3**64)),
    ("**", 10, 10**10, wrap_int(pow(10, 10**10, 2**64))),
    ("**", 2, -1, 0.5),
    ("<<", 1, 63, INT_MIN),
    ("<<", 1, 64, 0),
    ("<<", 3, 10**12, 0),
    (">>", INT_MIN, 10**12, -1),
    ("/", 2**62 + 1, 3, float(2**62 + 1) / 3.0),
    ("&", True, False, False),
    ("+", True, True, 2),
]


@pytest.mark.parametrize(("op", "a", "b", "expected"), INT_CASES)
def test_integer_operators_wrap_to_int64(
    meter: Meter, op: str, a: Any, b: Any, expected: Any
) -> None:
    from sandbox.guards import guarded_binop

    result = guarded_binop(meter, op, a, b)
    assert result == expected and type(result) is type(expected)
    assert guarded_inplacevar(meter, op + "=", a, b) == expected


def test_integer_errors_are_pythons(meter: Meter) -> None:
    from sandbox.guards import guarded_binop

    with pytest.raises(ValueError, match="negative shift"):
        guarded_binop(meter, "<<", 1, -1)
    with pytest.raises(ZeroDivisionError):
        guarded_binop(meter, "//", 1, 0)
    with pytest.raises(ZeroDivisionError):
        guarded_binop(meter, "/", 1, 0)


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [("-", INT_MIN, INT_MIN), ("~", INT_MAX, INT_MIN), ("-", True, -1), ("+", True, 1)],
)
def test_unary_operators_wrap(meter: Meter, op: str, value: Any, expected: int) -> None:
    result = guarded_unaryop(meter, op, value)
    assert result == expected and type(result) is int


def test_abs_wraps_at_the_minimum(meter: Meter) -> None:
    assert guarded_abs(meter, INT_MIN) == INT_MIN
    assert guarded_abs(meter, -3) == 3 and guarded_abs(meter, -2.5) == 2.5


def test_float_powers_follow_c_pow(meter: Meter) -> None:
    from sandbox.guards import guarded_binop

    assert math.isnan(guarded_binop(meter, "**", -8.0, 0.5))  # Python: a complex number
    assert guarded_binop(meter, "**", 1e300, 2.0) == math.inf  # Python: OverflowError
    assert guarded_binop(meter, "**", 0.0, -1.0) == math.inf  # Python: ZeroDivisionError
    assert guarded_binop(meter, "**", 2, 0.5) == math.sqrt(2)


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (math.nan, ValueError),
        (math.inf, OverflowError),
        (1e19, OverflowError),
        (2.0**63, OverflowError),
    ],
)
def test_int_and_round_refuse_what_does_not_fit(meter: Meter, value: float, error: type) -> None:
    with pytest.raises(error):
        guarded_int(value)
    with pytest.raises(error):
        guarded_round(meter, value)


def test_int_and_round_convert_what_fits(meter: Meter) -> None:
    assert guarded_int(-(2.0**63)) == INT_MIN
    assert guarded_int(-2.7) == -2 and guarded_int(True) == 1 and guarded_int() == 0
    assert guarded_int(np.array([[2**64 - 1]], np.uint64)) == -1
    assert guarded_round(meter, 2.5) == 2 and guarded_round(meter, 3.5) == 4
    assert guarded_round(meter, 3.14159, 2) == 3.14
    assert guarded_round(meter, INT_MAX, -1) == wrap_int(round(INT_MAX, -1))
    with pytest.raises(OverflowError):
        guarded_int("9" * 30)
    with pytest.raises(TypeError, match="length-1"):
        guarded_int(np.zeros(2))
    with pytest.raises(Denied, match="ndigits"):
        guarded_round(meter, 1.0, 10**6)


def test_divmod_uses_the_guarded_operators(meter: Meter) -> None:
    assert guarded_divmod(meter, INT_MIN, -1) == (INT_MIN, 0)
    assert guarded_divmod(meter, 7.5, 2) == (3.0, 1.5)


# -- arrays through operators -----------------------------------------------------------------------


def test_elementwise_results_are_charged() -> None:
    from sandbox.guards import guarded_binop

    m = fresh(max_total_bytes=100_000)
    a = np.zeros(10_000, np.uint8)
    guarded_binop(m, "+", a, 1)  # int64 result: 80,000 bytes
    with pytest.raises(BudgetExceeded):
        guarded_binop(m, "+", a, 1)
    m = fresh(max_total_bytes=100_000)
    guarded_unaryop(m, "-", a.astype(np.int64))
    with pytest.raises(BudgetExceeded):
        guarded_abs(m, a.astype(np.int64))


def test_augmented_assignment_on_arrays_rebinds_as_the_jit_does() -> None:
    # `g += 100` is `g = g + 100` on both paths: a new (charged) array, Python numbers as int64.
    m = fresh()
    g = np.full(4, 200, np.uint8)
    out = guarded_inplacevar(m, "+=", g, 100)
    assert out is not g and g.tolist() == [200] * 4  # an alias of g is left as it was
    assert out.dtype == np.int64 and out.tolist() == [300] * 4 and m.bytes >= out.nbytes
    with pytest.raises(BudgetExceeded):
        guarded_inplacevar(fresh(max_total_bytes=1000), "+=", np.zeros(10_000, np.int64), 1)


def test_broadcasts_are_charged_before_they_happen() -> None:
    from sandbox.guards import guarded_binop

    m = fresh(max_array_bytes=10**6)
    col, row = np.zeros((2000, 1)), np.zeros((1, 2000))
    with pytest.raises(BudgetExceeded):
        guarded_binop(m, "-", col, row)
    with pytest.raises(BudgetExceeded):
        guarded_compare(m, "<", col, row)


def test_python_numbers_next_to_arrays_are_int64(meter: Meter) -> None:
    from sandbox.guards import guarded_binop

    out = guarded_binop(meter, "+", np.full(2, 255, np.uint8), 100)
    assert out.tolist() == [355, 355]


def test_sequence_growth_is_bounded_and_charged() -> None:
    from sandbox.guards import guarded_binop

    m = fresh(max_sequence_len=100)
    with pytest.raises(BudgetExceeded) as info:
        guarded_binop(m, "*", [0], 101)
    assert info.value.budget == "sequence_len"
    m = fresh(max_total_bytes=1000)
    with pytest.raises(BudgetExceeded) as info:
        guarded_binop(m, "+", "a" * 600, "b" * 600)
    assert info.value.budget == "total_bytes"
    with pytest.raises(Denied, match="formatting"):
        guarded_binop(fresh(), "%", "%s", 1)


def test_set_operators_are_charged() -> None:
    from sandbox.guards import guarded_binop

    m = fresh(max_total_bytes=10_000)
    a, b = set(range(100)), set(range(100, 200))
    with pytest.raises(BudgetExceeded):
        guarded_binop(m, "|", a, b)


def test_list_plus_equals_counts_the_right_side() -> None:
    m = fresh(max_iterations=1000)
    with pytest.raises(BudgetExceeded):
        guarded_inplacevar(m, "+=", [], range(10**12))
    xs: list[Any] = [0]
    assert guarded_inplacevar(fresh(), "+=", xs, np.array([7], np.uint8)) is xs and xs == [0, 7]
    with pytest.raises(Denied, match="operator @="):
        guarded_inplacevar(fresh(), "@=", xs, xs)


# -- comparisons ----------------------------------------------------------------------------------


def test_ints_and_floats_compare_as_floats(meter: Meter) -> None:
    assert guarded_compare(meter, "==", 2**53 + 1, 2.0**53) is True  # Python says False
    assert guarded_compare(meter, "<", 2.0**53, 2**53 + 1) is False
    assert guarded_compare(meter, "<", 1, 2) is True


def test_membership_in_arrays_is_charged() -> None:
    m = fresh(max_array_bytes=10**6)
    col, row = np.zeros((2000, 1)), np.zeros((1, 2000))
    with pytest.raises(BudgetExceeded):
        guarded_compare(m, "in", col, row)
    assert guarded_compare(fresh(), "in", 255, FRAME) is True
    assert guarded_compare(fresh(), "not in", 7, FRAME) is True


def test_membership_in_ranges_never_walks_them_in_c() -> None:
    m = fresh(max_iterations=100)
    assert guarded_compare(m, "in", 0.5, range(10**18)) is False
    assert guarded_compare(m, "in", 5.0, range(10**18)) is True
    assert m.iterations == 0
    with pytest.raises(BudgetExceeded):
        guarded_compare(m, "in", (1,), range(10**18))  # compared element by element, counted


def test_compare_chain_is_lazy_and_pairwise(meter: Meter) -> None:
    calls: list[int] = []

    def later() -> int:
        calls.append(1)
        return 10

    assert guarded_compare_chain(meter, ("<", "<"), 5, 1, later) is False and not calls
    assert guarded_compare_chain(meter, ("<", "<"), 0, 5, later) is True and calls == [1]
    assert guarded_compare_chain(meter, ("<", "in"), 0, 5, lambda: range(6)) is True


def test_compare_chain_charges_each_comparison() -> None:
    m = fresh(max_array_bytes=10**6)
    col, row = np.zeros((2000, 1)), np.zeros((1, 2000))
    with pytest.raises(BudgetExceeded):
        guarded_compare_chain(m, ("<", "<"), col, row, lambda: 1.0)


# -- ticks, calls, imports --------------------------------------------------------------------------


def test_tick_and_enter_count_against_their_budgets() -> None:
    m = fresh(max_iterations=2, max_calls=2)
    guarded_tick(m)
    guarded_tick(m)
    with pytest.raises(BudgetExceeded, match="iterations"):
        guarded_tick(m)
    guarded_enter(m)
    guarded_enter(m)
    with pytest.raises(BudgetExceeded, match="calls"):
        guarded_enter(m)


def test_import_gives_facades_only(meter: Meter) -> None:
    np_facade, math_facade = make_numpy_facade(meter), make_math_facade()
    assert guarded_import(np_facade, math_facade, "numpy") is np_facade
    assert guarded_import(np_facade, math_facade, "math") is math_facade
    with pytest.raises(Denied, match="'os'"):
        guarded_import(np_facade, math_facade, "os")
    with pytest.raises(Denied):
        guarded_import(np_facade, math_facade, "numpy", level=1)
    with pytest.raises(Denied, match="args"):
        refuse_apply(len, [1])


# -- guarded builtins -------------------------------------------------------------------------------


def test_sum_wraps_counts_and_refuses_list_starts() -> None:
    assert guarded_sum(fresh(), [INT_MAX, 1]) == INT_MIN
    assert guarded_sum(fresh(), FRAME[1, 2]) == 510
    assert guarded_sum(fresh(), [0.5, 0.25], 1) == 1.75
    with pytest.raises(BudgetExceeded):
        guarded_sum(fresh(max_iterations=10), np.zeros(100))
    with pytest.raises(Denied, match="numeric start"):
        guarded_sum(fresh(), [[1]], [])
    with pytest.raises(Denied, match="sum\\(\\) cannot iterate over int"):
        guarded_sum(fresh(), 5)


def test_sum_of_arrays_charges_each_partial_sum() -> None:
    m = fresh(max_total_bytes=100_000)
    with pytest.raises(BudgetExceeded):
        guarded_sum(m, np.zeros((10, 10_000)))  # each row added: 80,000-byte results


def test_min_and_max_compare_through_the_guard(meter: Meter) -> None:
    assert guarded_max(meter, FRAME.reshape(-1)) == 255
    assert (
        guarded_min(meter, 3, 2.5) == 2.5 and guarded_max(meter, [1, 3, 2], key=lambda v: -v) == 1
    )
    assert guarded_max(meter, [], default=None) is None
    with pytest.raises(ValueError, match="empty"):
        guarded_min(meter, [])
    with pytest.raises(ValueError, match="truth value"):
        guarded_max(meter, np.zeros(3), np.ones(3))
    with pytest.raises(TypeError, match="at least 1"):
        guarded_max(meter)
    with pytest.raises(BudgetExceeded):
        guarded_max(fresh(max_iterations=10), range(100))


def test_any_and_all_are_counted() -> None:
    assert guarded_any(fresh(), FRAME[1, 2]) is True and guarded_all(fresh(), FRAME[1, 2]) is False
    with pytest.raises(BudgetExceeded):
        guarded_all(fresh(max_iterations=10), np.ones(100))


@pytest.mark.parametrize("build", [guarded_list, guarded_tuple, guarded_sorted, guarded_set])
def test_materialising_builtins_are_counted_and_charged(build: Any) -> None:
    with pytest.raises(BudgetExceeded) as info:
        build(fresh(max_iterations=50), range(100))
    assert info.value.budget == "iterations"
    with pytest.raises(BudgetExceeded) as info:
        build(fresh(max_total_bytes=3000), np.arange(100))  # 100 numbers made from an array
    assert info.value.budget == "total_bytes"
    assert sorted(build(fresh(), FRAME[1, 2])) == [0, 255, 255] or build is guarded_set


def test_dict_builds_from_pairs_and_mappings() -> None:
    assert guarded_dict(fresh(), [("a", 1)], b=2) == {"a": 1, "b": 2}
    assert guarded_dict(fresh(), {"a": 1}) == {"a": 1}
    with pytest.raises(BudgetExceeded):
        guarded_dict(fresh(max_total_bytes=1000), ((i, i) for i in range(100)))


def test_zip_enumerate_reversed_map_iterate_counted_items() -> None:
    m = fresh()
    assert list(guarded_zip(m, FRAME[1, 2], (1, 2, 3))) == [(255, 1), (255, 2), (0, 3)]
    assert list(guarded_enumerate(m, FRAME[1, 2], 1)) == [(1, 255), (2, 255), (3, 0)]
    assert list(guarded_reversed(m, FRAME[1, 2])) == [0, 255, 255]
    assert list(guarded_map(m, lambda p: p // 2, FRAME[1, 2])) == [127, 127, 0]
    for make in (
        lambda mm: guarded_zip(mm, range(100)),
        lambda mm: guarded_enumerate(mm, range(100)),
        lambda mm: guarded_reversed(mm, range(100)),
        lambda mm: guarded_map(mm, abs, range(100)),
    ):
        with pytest.raises(BudgetExceeded):
            drain(make(fresh(max_iterations=10)))


def test_enumerate_index_wraps_and_start_must_be_an_int(meter: Meter) -> None:
    assert list(guarded_enumerate(meter, "ab", INT_MAX)) == [(INT_MAX, "a"), (INT_MIN, "b")]
    with pytest.raises(Denied, match="integer start"):
        guarded_enumerate(meter, "ab", 1.5)


def test_map_needs_an_iterable(meter: Meter) -> None:
    with pytest.raises(TypeError, match="at least two"):
        guarded_map(meter, abs)


def test_range_takes_integers_only() -> None:
    assert guarded_range(np.int64(3)) == range(3)
    with pytest.raises(Denied, match="range\\(\\) takes integers, got float"):
        guarded_range(2.0)
    with pytest.raises(Denied, match="got bool"):
        guarded_range(True)


def test_isinstance_maps_guarded_builtins_and_facade_types(meter: Meter) -> None:
    np_facade = make_numpy_facade(meter)
    ns = make_namespace(meter, np_facade, make_math_facade(), {})
    list_, int_ = ns["__builtins__"]["list"], ns["__builtins__"]["int"]
    assert guarded_isinstance([], list_) and guarded_isinstance(3, (int_, float))
    assert guarded_isinstance(FRAME, np_facade.lookup("ndarray"))
    assert guarded_isinstance(3, np_facade.lookup("uint8")) is False
    with pytest.raises(Denied, match="type or a tuple"):
        guarded_isinstance(3, 3)


def test_helpers_outputs_and_strided_inputs_are_charged() -> None:
    frame = np.zeros((64, 64, 3), np.uint8)
    m = fresh(max_total_bytes=10_000)
    guarded_helper(m, VISION_HELPERS["color_mask"], frame, (0, 0, 0), 0)  # a 4096-byte mask
    guarded_helper(m, VISION_HELPERS["color_mask"], frame, (0, 0, 0), 0)
    with pytest.raises(BudgetExceeded):
        guarded_helper(m, VISION_HELPERS["color_mask"], frame, (0, 0, 0), 0)
    m = fresh(max_total_bytes=10_000)
    with pytest.raises(BudgetExceeded):
        guarded_helper(m, VISION_HELPERS["count_color"], frame[:, ::-1], (0, 0, 0), 0)  # a copy
    assert guarded_helper(fresh(), VISION_HELPERS["count_color"], frame, (0, 0, 0)) == 4096


# -- the namespace ----------------------------------------------------------------------------------


def test_namespace_binds_every_builtin_and_hook_to_its_meter() -> None:
    m = fresh(max_iterations=3)
    ns = make_namespace(m, make_numpy_facade(m), make_math_facade(), dict(VISION_HELPERS))
    names = set(ns["__builtins__"]) - {"__import__"} - set(VISION_HELPERS)
    assert names == (BUILTIN_NAMES - RESERVED_NAMES) | EXCEPTION_NAMES
    for hook in ("_getattr_", "_getitem_", "_getiter_", "_binop_", "_unaryop_", "_compare_"):
        assert hook in ns
    with pytest.raises(BudgetExceeded):
        drain(ns["_getiter_"](range(10)))
    other = fresh(max_iterations=3)
    ns2 = make_namespace(other, make_numpy_facade(other), make_math_facade(), {})
    assert ns2["__builtins__"]["sum"] is not ns["__builtins__"]["sum"]


# -- every allocation path, through a real worker ---------------------------------------------------

#: A checker per path the L4 meter must see: each makes 8 MB or more through that path alone, over
#: the 4 MB budget below and far below the worker's address-space limit, so only the meter can stop
#: it, and it must do so with the ``budget`` status (a byte budget, not the sequence length).
BLIND_SPOTS = {
    "list-repetition": "keep = [[0] * 100000 for i in range(40)]",
    "list-concatenation": "a = [0] * 50000\nkeep = [a + a for i in range(40)]",
    "list-slice": "a = [0] * 100000\nkeep = [a[::-1] for i in range(40)]",
    "list-copy": "a = [0] * 100000\nkeep = [a.copy() for i in range(40)]",
    "tuple-builtin": "a = list(range(100000))\nkeep = [tuple(a) for i in range(40)]",
    "sorted-builtin": "a = list(range(100000))\nkeep = [sorted(a) for i in range(40)]",
    "list-builtin-of-array": "a = np.zeros(100000)\nkeep = [list(a) for i in range(10)]",
    "set-builtin": "keep = [set(range(30000)) for i in range(20)]",
    "dict-copy": "d = dict(zip(range(30000), range(30000)))\nkeep = [d.copy() for i in range(20)]",
    "set-union-operator": "a = set(range(30000))\nb = {-1}\nkeep = [a | b for i in range(20)]",
    "string-repetition": "keep = ['ab' * 500000 for i in range(40)]",
    "string-concatenation": "s = 'a' * 500000\nkeep = [s + s for i in range(40)]",
    "string-method": "s = 'a' * 1000000\nkeep = [s.upper() for i in range(40)]",
    "string-slice": "s = 'a' * 1000000\nkeep = [s[::-1] for i in range(40)]",
    "plus-equals-range": "keep = []\nfor i in range(40):\n    keep += range(50000)",
    "plus-equals-array": "a = np.zeros(100000)\nkeep = []\nfor i in range(20):\n    keep += a",
    "list-extend": "keep = []\nfor i in range(40):\n    keep.extend(range(50000))",
    "elementwise-array-result": "keep = [frame + 1 for i in range(300)]",
    "array-comparison-result": "f = frame.astype(np.int64)\nkeep = [f == 7 for i in range(800)]",
    "unary-minus-array": "f = frame.astype(np.int64)\nkeep = [-f for i in range(300)]",
    "abs-of-array": "f = frame.astype(np.int64)\nkeep = [abs(f) for i in range(300)]",
    "scalar-type-on-array": "keep = [np.int64(frame) for i in range(300)]",
    "vision-helper-output": "keep = [color_mask(frame, (0, 0, 0), 0) for i in range(5000)]",
    "vision-helper-labels": (
        "m = frame[..., 0] == 0\nkeep = [connected_components(m)[0] for i in range(2000)]"
    ),
    "in-on-arrays": "a = np.zeros((3000, 1))\nb = np.zeros((1, 3000))\nreturn a in b",
    "chained-comparison": "a = np.zeros((3000, 1))\nb = np.zeros((1, 3000))\nreturn bool(a < b < 1)",
}
LIMITS = Budgets(max_iterations=50_000_000, max_array_bytes=4 * 2**20, max_total_bytes=4 * 2**20)
WITHIN = "keep = [[0] * 1000 for i in range(10)]"  # the control: the same idiom, small


def blind_spot_source(code: str) -> str:
    if "return" not in code:
        code += "\nreturn len(keep) < 0"
    lines = "\n".join("    " + line for line in code.splitlines())
    return f"import numpy as np\n\ndef check(frame):\n{lines}\n"


@pytest.fixture(scope="module")
def blind_spot_results() -> dict[str, tuple[str, str]]:
    names = [*BLIND_SPOTS, "within-budget"]
    sources = [blind_spot_source(c) for c in (*BLIND_SPOTS.values(), WITHIN)]
    frames = scene(64, 64, rects=[(2, 2, 9, 9, (255, 255, 0))])[None]
    # ~30 workers start at once on 2 cores (next to the other test worker): give them time.
    with Sandbox(
        sources,
        names=names,
        budgets=LIMITS,
        spare=False,
        jit=False,
        timeout=60,
        max_failures=99,
        start_timeout=300,
    ) as box:
        result = box.evaluate(frames)
    return {n: (s, d) for n, s, d in zip(names, result.statuses, result.details, strict=True)}


def test_blind_spot_control_stays_within_the_budget(
    blind_spot_results: dict[str, tuple[str, str]],
) -> None:
    assert blind_spot_results["within-budget"][0] == "ok"


@pytest.mark.slow
@pytest.mark.parametrize("path", sorted(BLIND_SPOTS))
def test_allocation_path_is_charged_in_a_worker(
    path: str, blind_spot_results: dict[str, tuple[str, str]]
) -> None:
    status, detail = blind_spot_results[path]
    assert status == "budget", (status, detail)
    assert "bytes" in detail, detail


def test_blind_spot_checkers_pass_the_audit() -> None:
    from sandbox import audit

    for code in (*BLIND_SPOTS.values(), WITHIN):
        assert audit(blind_spot_source(code)).ok, code


def test_in_process_checker_sees_the_same_budget_error() -> None:
    from sandbox import BudgetError

    checker = compile_checker(blind_spot_source(BLIND_SPOTS["plus-equals-range"]), budgets=LIMITS)
    with pytest.raises(BudgetError, match="total_bytes"):
        checker(scene(64, 64))


def test_ranges_and_fancy_copies_are_charged_before_numpy_allocates() -> None:
    from sandbox.guards import guarded_binop, guarded_getitem

    with pytest.raises(BudgetExceeded, match="array_bytes"):
        guarded_binop(fresh(), "+", np.zeros(1), range(90_000_000))
    frame = np.zeros((64, 64, 3), np.uint8)
    idx = np.zeros(300_000, np.int64)
    m = fresh(max_total_bytes=200 * 2**20)
    kept = [guarded_getitem(m, frame, (slice(None), idx)) for _ in range(3)]  # 57.6 MB each
    assert m.bytes >= 3 * kept[0].nbytes  # charged although numpy calls the copy a view
    with pytest.raises(BudgetExceeded):
        guarded_getitem(m, frame, (slice(None), idx))
    assert guarded_getitem(fresh(), frame, (slice(None), slice(0, 2))).base is frame  # views free
