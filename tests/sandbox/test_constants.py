"""The module-constant folder: exact arithmetic, 64-bit results, bounded work.

Trusted sources only are folded here (the tests' own): in production the folder runs inside an
isolated worker.
"""

from __future__ import annotations

import ast
import time

import pytest

from sandbox.constants import ConstantError, fold_constants


def fold(source: str) -> dict[str, object]:
    return fold_constants(ast.parse(source))


def test_int64_sentinels_written_as_arithmetic_fold() -> None:
    # 2**63 does not fit in 64 bits, but -(2**63) and 2**63 - 1 do: the usual way to write them.
    values = fold("LOWEST = -(2**63)\nHIGHEST = 2**63 - 1\nMASK = (1 << 64) - 1 >> 1\n")
    assert values == {"LOWEST": -(2**63), "HIGHEST": 2**63 - 1, "MASK": 2**63 - 1}


@pytest.mark.parametrize(
    "source",
    [
        "X = 2**63\n",
        "X = (2**63,)\n",
        "X = {'a': 2**64 - 1}\n",
        "X = {2**63: 1}\n",
        "A = 2**62\nX = A * 4\n",
    ],
)
def test_every_stored_integer_fits_in_64_bits(source: str) -> None:
    with pytest.raises(ConstantError, match="does not fit in 64 bits"):
        fold(source)


@pytest.mark.parametrize("source", ["X = 2**200 - 2**200\n", "X = (1 << 300) >> 299\n"])
def test_intermediate_values_are_bounded_too(source: str) -> None:
    with pytest.raises(ConstantError, match="128 bits"):
        fold(source)


def test_shared_parts_are_counted_expanded_and_quickly() -> None:
    t0 = time.monotonic()
    with pytest.raises(ConstantError, match="65,536 values"):
        fold("A = (0,) * 60000\nB = (A,) * 60000\n")
    assert time.monotonic() - t0 < 5  # the walk stops at the limit (3.6e9 values expanded)
    assert len(fold("A = (0,) * 100\nB = (A,) * 100\n")["B"]) == 100  # 10,100 values: fine


def test_dict_of_keywords_is_the_dict_literal_it_spells() -> None:
    values = fold("COLORS = dict(key=(255, 255, 0), door=(200, 120, 10))\n")
    assert dict(values["COLORS"]) == {"key": (255, 255, 0), "door": (200, 120, 10)}  # type: ignore[call-overload]
    with pytest.raises(TypeError):  # frozen like a literal dict
        values["COLORS"]["key"] = (0, 0, 0)  # type: ignore[index]


@pytest.mark.parametrize(
    "source",
    [
        "X = dict([('a', 1)])\n",  # positional: an iterable of pairs is not folded
        "Y = {'a': 1}\nX = dict(**Y)\n",  # unpacking
        "X = dict(a=[f(1)])\n",  # a value that is not a constant
    ],
)
def test_other_dict_calls_are_not_constants(source: str) -> None:
    with pytest.raises(ConstantError):
        fold(source)
